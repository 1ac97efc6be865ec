//! New messages, fanned out to the live streams of this process.

use messaging_core::ConversationId;
use messaging_core::wire::Message;
use std::sync::Arc;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct Hub {
    sender: broadcast::Sender<Arc<Message>>,
    /// Cancelled at shutdown so open streams end and graceful shutdown can finish.
    closing: CancellationToken,
}

impl Default for Hub {
    fn default() -> Self {
        // A slow stream that falls this far behind is told to reload (it lags), rather
        // than holding memory for ever.
        Self {
            sender: broadcast::channel(1024).0,
            closing: CancellationToken::new(),
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

    /// Resolves when the server starts shutting down.
    pub fn closing(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.closing.clone().cancelled_owned()
    }

    /// Ends every open stream.
    pub fn close(&self) {
        self.closing.cancel();
    }
}

pub fn is_for(message: &Message, conversation: ConversationId) -> bool {
    message.conversation_id == conversation
}
