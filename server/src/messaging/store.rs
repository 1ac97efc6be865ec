//! Storing a message exactly once per (conversation, local_id), shared by the first
//! message of a conversation and every chat message after it.

use crate::db::{self, Tx};
use crate::error::ApiError;
use crate::idempotency::refuse_reuse;
use crate::metrics::dedup;
use messaging_core::dedup::RetryVerdict;
use messaging_core::wire::{CurrentUser, Message, Participant};
use messaging_core::{ConversationId, IntentName, MessageId, NewMessage, micros};

pub enum Stored {
    /// Stored now.
    New(Message),
    /// Stored by an earlier attempt with the same `local_id` and the same content.
    Duplicate(Message),
}

impl Stored {
    pub fn message(&self) -> &Message {
        match self {
            Self::New(message) | Self::Duplicate(message) => message,
        }
    }
}

/// Inserts the message unless its `local_id` is stored already; then the stored one
/// must be the same message (same sender and text), or the request is refused.
pub async fn store_once(
    tx: &mut Tx,
    conversation_id: ConversationId,
    sender: &CurrentUser,
    message: &NewMessage,
) -> Result<Stored, ApiError> {
    let created_at = db::now();
    let seq =
        db::conversations::next_seq(&mut **tx, conversation_id, micros::from_time(created_at))
            .await?;
    let row = db::messages::NewMessageRow {
        id: MessageId::new_random(),
        conversation_id,
        seq,
        local_id: &message.local_id,
        sender_id: sender.id,
        text: message.text.as_str(),
        display_data: &message.display_data,
        created_at: micros::from_time(created_at),
    };
    if db::messages::insert(&mut **tx, &row).await? {
        db::messages::announce(tx, row.id).await?;
        return Ok(Stored::New(Message {
            id: row.id,
            conversation_id,
            seq,
            local_id: message.local_id.clone(),
            sender: Participant {
                id: sender.id,
                display_name: sender.display_name.clone(),
            },
            text: message.text.as_str().to_owned(),
            created_at,
            display_data: message.display_data.clone(),
        }));
    }
    db::conversations::give_back_seq(&mut **tx, conversation_id).await?;
    let existing = db::messages::by_local_id(&mut **tx, conversation_id, &message.local_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("Conflicting message vanished"))?;
    judge_duplicate(existing, sender, message).map(Stored::Duplicate)
}

/// A stored message met again under its `local_id`: the same message, or a refusal.
pub(super) fn judge_duplicate(
    existing: Message,
    sender: &CurrentUser,
    message: &NewMessage,
) -> Result<Message, ApiError> {
    match message.judge_as_repeat_of(sender.id, existing.sender.id, &existing.text) {
        RetryVerdict::Replay => {
            metrics::counter!(dedup::LOCAL_ID_DUPLICATES).increment(1);
            tracing::info!(
                conversation.id = %existing.conversation_id,
                message.local_id = %existing.local_id,
                "duplicate message: answered with the stored one"
            );
            Ok(existing)
        }
        RetryVerdict::Mismatch { differing_fields } => {
            Err(refuse_reuse(IntentName::LocalId, differing_fields))
        }
    }
}
