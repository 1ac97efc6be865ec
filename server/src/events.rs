//! New messages, fanned out to the live streams of this process.

use messaging_core::ConversationId;
use messaging_core::wire::Message;
use std::sync::Arc;
use tokio::sync::broadcast;

#[derive(Clone)]
pub struct Hub {
    sender: broadcast::Sender<Arc<Message>>,
}

impl Default for Hub {
    fn default() -> Self {
        // A slow stream that falls this far behind is told to reload (it lags), rather
        // than holding memory for ever.
        Self {
            sender: broadcast::channel(1024).0,
        }
    }
}

impl Hub {
    pub fn publish(&self, message: Message) {
        // No subscriber is fine: nobody is watching.
        let _ = self.sender.send(Arc::new(message));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Message>> {
        self.sender.subscribe()
    }
}

pub fn is_for(message: &Message, conversation: ConversationId) -> bool {
    message.conversation_id == conversation
}
