//! Storing a message exactly once per (conversation, local_id), shared by the first
//! message of a conversation and every chat message after it.

use crate::db::{self, Tx};
use crate::error::ApiError;
use crate::idempotency::refuse_reuse;
use crate::metrics::dedup;
use messaging_core::dedup::RetryVerdict;
use messaging_core::wire::{CurrentUser, Message, Participant};
use messaging_core::{ConversationId, IntentName, LocalId, MessageId, NewMessage, micros};
use std::collections::{HashMap, HashSet};
use time::OffsetDateTime;

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

/// A message to store, and who sends it.
pub struct Outgoing<'a> {
    pub sender: &'a CurrentUser,
    pub message: &'a NewMessage,
}

/// Stores each message unless its `local_id` is stored already (or comes earlier in the
/// list); then the stored one must be the same message (same sender and text), or that
/// message alone is refused. The new ones are numbered in the order given, with one
/// statement each for the numbers, the read and the insert however many they are (at
/// most [`db::messages::MAX_ROWS_PER_INSERT`]). Returns a verdict per message, in order;
/// an error means the transaction must be rolled back.
pub async fn store_all(
    tx: &mut Tx,
    conversation_id: ConversationId,
    outgoing: &[Outgoing<'_>],
) -> Result<Vec<Result<Stored, ApiError>>, ApiError> {
    // Each local_id once, in the order given: the first of each may be new.
    let mut candidates: Vec<&Outgoing<'_>> = Vec::new();
    for o in outgoing {
        if candidates
            .iter()
            .all(|c| c.message.local_id != o.message.local_id)
        {
            candidates.push(o);
        }
    }
    let created_at = db::now();
    let at = micros::from_time(created_at);
    // Numbers before the read: on PostgreSQL they come with the conversation's row lock,
    // so the read sees every message another transaction stored in it meanwhile.
    let taken = u64::try_from(candidates.len()).map_err(anyhow::Error::from)?;
    let first = db::conversations::take_seqs(&mut **tx, conversation_id, taken, at).await?;
    let local_ids: Vec<&LocalId> = candidates.iter().map(|c| &c.message.local_id).collect();
    let mut known: HashMap<LocalId, Message> =
        db::messages::by_local_ids(&mut **tx, conversation_id, &local_ids)
            .await?
            .into_iter()
            .map(|message| (message.local_id.clone(), message))
            .collect();
    candidates.retain(|c| !known.contains_key(&c.message.local_id));
    let mut new_ids = HashSet::new();
    for message in insert_numbered(tx, conversation_id, &candidates, first, created_at).await? {
        new_ids.insert(message.id);
        known.insert(message.local_id.clone(), message);
    }
    let unused = taken - new_ids.len() as u64;
    if unused > 0 {
        db::conversations::give_back_seqs(&mut **tx, conversation_id, unused).await?;
    }
    Ok(outgoing
        .iter()
        .map(|o| {
            let stored = known
                .get(&o.message.local_id)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("a message of the batch vanished"))?;
            // The first of a local_id inserted now is new; any other meets a stored one.
            if new_ids.remove(&stored.id) {
                Ok(Stored::New(stored))
            } else {
                judge_duplicate(stored, o.sender, o.message).map(Stored::Duplicate)
            }
        })
        .collect())
}

/// [`store_all`] for one message.
pub async fn store_once(
    tx: &mut Tx,
    conversation_id: ConversationId,
    sender: &CurrentUser,
    message: &NewMessage,
) -> Result<Stored, ApiError> {
    store_all(tx, conversation_id, &[Outgoing { sender, message }])
        .await?
        .pop()
        .unwrap_or_else(|| Err(anyhow::anyhow!("no verdict for the message").into()))
}

/// Inserts and announces the messages (none stored yet), numbered from `first` in order.
async fn insert_numbered(
    tx: &mut Tx,
    conversation_id: ConversationId,
    fresh: &[&Outgoing<'_>],
    first: u64,
    created_at: OffsetDateTime,
) -> Result<Vec<Message>, ApiError> {
    if fresh.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<db::messages::NewMessageRow<'_>> = fresh
        .iter()
        .zip(first..)
        .map(|(o, seq)| db::messages::NewMessageRow {
            id: MessageId::new_random(),
            conversation_id,
            seq,
            local_id: &o.message.local_id,
            sender_id: o.sender.id,
            text: o.message.text.as_str(),
            display_data: &o.message.display_data,
            created_at: micros::from_time(created_at),
        })
        .collect();
    if db::messages::insert_all(&mut **tx, &rows).await? != rows.len() as u64 {
        // Never expected: every insert takes the conversation's numbers (and row lock)
        // first, and the read after that saw what was stored. A gap is never committed.
        return Err(anyhow::anyhow!("a message was stored while its number was taken").into());
    }
    let ids: Vec<MessageId> = rows.iter().map(|row| row.id).collect();
    db::messages::announce(tx, &ids).await?;
    Ok(rows
        .iter()
        .zip(fresh)
        .map(|(row, o)| Message {
            id: row.id,
            conversation_id,
            seq: row.seq,
            local_id: o.message.local_id.clone(),
            sender: Participant {
                id: o.sender.id,
                display_name: o.sender.display_name.clone(),
            },
            text: o.message.text.as_str().to_owned(),
            created_at,
            display_data: o.message.display_data.clone(),
        })
        .collect())
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
