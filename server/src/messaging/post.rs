//! Posting a chat message, stored once per (conversation, `local_id`).

use super::Messaging;
use super::store::judge_duplicate;
use super::{ChatBatches, Sender, Stored};
use crate::error::ApiError;
use crate::idempotency::Answer;
use http::StatusCode;
use messaging_core::NewChatMessage;
use messaging_core::wire::{ChatRequest, ChatResponse, Message};

/// Stores a chat message once per `local_id`: the one path behind the API and the chat
/// form that works without JavaScript. A repeat is answered from what is stored; a new
/// message's write runs to the end even if the client leaves.
pub async fn post_message(
    messaging: Messaging,
    sender: Sender,
    mut request: ChatRequest,
) -> Result<Answer<ChatResponse>, ApiError> {
    request.user_agent = sender.device(request.user_agent.take());
    answer_repeat_or_store(messaging, sender, request)
        .await
        .map_err(ApiError::in_intent)
}

async fn answer_repeat_or_store(
    messaging: Messaging,
    sender: Sender,
    request: ChatRequest,
) -> Result<Answer<ChatResponse>, ApiError> {
    let intent = NewChatMessage::try_from(request).map_err(ApiError::validation)?;
    let conversation_id = intent.conversation_id;
    super::ensure_participant(&messaging, sender.user.id, conversation_id).await?;

    // A repeat stored lately is answered from memory. Any other message goes to the next
    // batch, whose insert finds an older repeat (the batch is then written again, reading
    // first): a read here first would cost every new message a round trip to spare a rare
    // repeat a write.
    if let Some(existing) = messaging
        .caches
        .remembered_message(conversation_id, &intent.message.local_id)
    {
        let message = judge_duplicate(existing, &sender.user, &intent.message)?;
        return accepted(message, true);
    }
    // The write runs to the end even if the client leaves.
    match ChatBatches::store(&messaging, conversation_id, sender.user, intent.message).await? {
        Stored::New(message) => accepted(message, false),
        Stored::Duplicate(message) => accepted(message, true),
    }
}

/// 202, the same body for every retry of one `local_id`.
fn accepted(message: Message, replayed: bool) -> Result<Answer<ChatResponse>, ApiError> {
    let body = ChatResponse {
        queued: true,
        message,
    };
    Answer::new(StatusCode::ACCEPTED, &body, replayed)
}
