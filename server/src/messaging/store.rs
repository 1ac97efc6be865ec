//! Storing a message exactly once per (conversation, local_id), shared by the first
//! message of a conversation and every chat message after it.

use crate::db::{self, Tx};
use crate::error::ApiError;
use crate::idempotency::refuse_reuse;
use crate::metrics::dedup;
use messaging_core::dedup::RetryVerdict;
use messaging_core::wire::{CurrentUser, Message, Participant};
use messaging_core::{ConversationId, IntentName, LocalId, MessageId, NewMessage, micros};
use std::collections::{BTreeMap, HashMap, HashSet};
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

/// A message to store, where, and who sends it.
pub struct Outgoing<'a> {
    pub conversation_id: ConversationId,
    pub sender: &'a CurrentUser,
    pub message: &'a NewMessage,
}

impl Outgoing<'_> {
    /// What makes a message one: its conversation and `local_id`.
    fn name(&self) -> (ConversationId, &LocalId) {
        (self.conversation_id, &self.message.local_id)
    }
}

/// What became of each message of a batch, in order.
pub type Verdicts = Vec<Result<Stored, ApiError>>;

/// Stores each message unless its `local_id` is stored already in its conversation (or
/// comes earlier in the list); then the stored one must be the same message (same
/// sender and text), or that message alone is refused. The new ones are numbered in the
/// order given, each conversation's from its next number. However many they are (at most
/// [`db::messages::MAX_ROWS_PER_INSERT`]), it takes one statement for the numbers (two
/// on PostgreSQL when they span conversations: the row locks first), then one for the
/// read and one for the insert (which on PostgreSQL also announces them). Returns a
/// verdict per message, in order; an error means the transaction must be rolled back.
pub async fn store_all(tx: &mut Tx, outgoing: &[Outgoing<'_>]) -> Result<Verdicts, ApiError> {
    let mut candidates = first_of_each(outgoing);
    let created_at = db::now();
    let taken = per_conversation(&candidates);
    // Numbers before the read: on PostgreSQL they come with each conversation's row lock,
    // so the read sees every message another transaction stored there meanwhile.
    let mut next_seq =
        db::conversations::take_seqs(tx, &taken, micros::from_time(created_at)).await?;
    let names: Vec<(ConversationId, &LocalId)> = candidates.iter().map(|c| c.name()).collect();
    let mut known: HashMap<(ConversationId, LocalId), Message> =
        db::messages::by_local_ids(&mut **tx, &names)
            .await?
            .into_iter()
            .map(|message| ((message.conversation_id, message.local_id.clone()), message))
            .collect();
    candidates.retain(|c| !known.contains_key(&(c.conversation_id, c.message.local_id.clone())));
    let numbered = number(&candidates, &mut next_seq);
    let Some(inserted) = insert_and_announce(tx, &numbered, created_at).await? else {
        // Never expected: every insert takes its conversation's numbers (and row lock)
        // first, and the read after that saw what was stored. A gap is never committed.
        return Err(anyhow::anyhow!("a message was stored while its number was taken").into());
    };
    let mut new_ids = HashSet::new();
    for message in inserted {
        new_ids.insert(message.id);
        known.insert((message.conversation_id, message.local_id.clone()), message);
    }
    // The numbers taken for messages found stored are the last ones: given back.
    let used = per_conversation(&candidates);
    for (id, count) in taken {
        let stored = used.get(&id).copied().unwrap_or_default();
        if stored < count {
            db::conversations::give_back_seqs(&mut **tx, id, count - stored, stored > 0).await?;
        }
    }
    Ok(verdicts(outgoing, known, new_ids))
}

/// [`store_all`] without its read, for messages expected to be new: a batch of chat
/// messages on SQLite (PostgreSQL's is [`store_all_new_at_once`]), whose repeats stored
/// lately were answered from memory before they came here. The read costs each batch a
/// statement to find what is rare; the insert, which skips a `local_id` already stored,
/// finds it too. Then this returns `None`: the numbers were
/// taken for every message, so the transaction must be rolled back and the messages
/// stored with [`store_all`].
pub async fn store_all_new(
    tx: &mut Tx,
    outgoing: &[Outgoing<'_>],
) -> Result<Option<Verdicts>, ApiError> {
    let candidates = first_of_each(outgoing);
    let created_at = db::now();
    let taken = per_conversation(&candidates);
    let mut next_seq =
        db::conversations::take_seqs(tx, &taken, micros::from_time(created_at)).await?;
    let numbered = number(&candidates, &mut next_seq);
    let Some(inserted) = insert_and_announce(tx, &numbered, created_at).await? else {
        return Ok(None);
    };
    Ok(Some(verdicts_of_new(outgoing, inserted)))
}

/// [`verdicts`] when every message of `inserted` is new.
fn verdicts_of_new(outgoing: &[Outgoing<'_>], inserted: Vec<Message>) -> Verdicts {
    let new_ids = inserted.iter().map(|message| message.id).collect();
    let known = inserted
        .into_iter()
        .map(|message| ((message.conversation_id, message.local_id.clone()), message))
        .collect();
    verdicts(outgoing, known, new_ids)
}

/// [`store_all_new`] on PostgreSQL, in one statement that is its own transaction (one
/// round trip: `db::messages::number_insert_and_announce`). `None` when a message was
/// stored before: nothing is stored then, and the messages go to [`store_all`]. Past
/// [`db::STATEMENT_DEADLINE`], 503: the statement may have committed, and a retry of each
/// message (its `local_id`) then gets the stored one.
pub async fn store_all_new_at_once(
    pool: &sqlx::AnyPool,
    outgoing: &[Outgoing<'_>],
) -> Result<Option<Verdicts>, ApiError> {
    let candidates = first_of_each(outgoing);
    let created_at = db::now();
    let placed = number(&candidates, &mut BTreeMap::new());
    let mut rows = new_rows(&placed, created_at);
    // The statement commits as it ends: the crash tests' points around a commit.
    crate::crash::point("before_commit");
    let mut connection = pool.acquire().await?;
    let numbered = tokio::time::timeout(
        db::STATEMENT_DEADLINE,
        db::messages::number_insert_and_announce(&mut *connection, &rows),
    )
    .await;
    let Ok(numbered) = numbered else {
        // Its answer may still come: the connection is dropped (no goodbye, which could
        // wait on a full socket too), never used again.
        drop(connection.detach());
        tracing::error!("a batch of messages got no answer from PostgreSQL in time");
        return Err(ApiError::store_busy());
    };
    let Some(seqs) = numbered? else {
        return Ok(None);
    };
    crate::crash::point("after_commit");
    for (row, seq) in rows.iter_mut().zip(seqs) {
        row.seq = seq;
    }
    let inserted = stored_messages(&rows, &placed, created_at);
    Ok(Some(verdicts_of_new(outgoing, inserted)))
}

/// Each message once, in the order given: the first of each `local_id` may be new.
fn first_of_each<'a, 'o>(outgoing: &'a [Outgoing<'o>]) -> Vec<&'a Outgoing<'o>> {
    let mut candidates: Vec<&Outgoing<'_>> = Vec::new();
    for o in outgoing {
        if candidates.iter().all(|c| c.name() != o.name()) {
            candidates.push(o);
        }
    }
    candidates
}

/// The next numbers of their conversations, in the order given.
fn number<'a, 'o>(
    candidates: &[&'a Outgoing<'o>],
    next_seq: &mut BTreeMap<ConversationId, u64>,
) -> Vec<(&'a Outgoing<'o>, u64)> {
    candidates
        .iter()
        .map(|c| {
            let next = next_seq.entry(c.conversation_id).or_default();
            *next += 1;
            (*c, *next - 1)
        })
        .collect()
}

/// A verdict per message, in order: the first of a `local_id` inserted now (`new_ids`)
/// is new; any other meets the stored one.
fn verdicts(
    outgoing: &[Outgoing<'_>],
    known: HashMap<(ConversationId, LocalId), Message>,
    mut new_ids: HashSet<MessageId>,
) -> Verdicts {
    outgoing
        .iter()
        .map(|o| {
            let stored = known
                .get(&(o.conversation_id, o.message.local_id.clone()))
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("a message of the batch vanished"))?;
            if new_ids.remove(&stored.id) {
                Ok(Stored::New(stored))
            } else {
                judge_duplicate(stored, o.sender, o.message).map(Stored::Duplicate)
            }
        })
        .collect()
}

/// [`store_all`] for one message.
pub async fn store_once(
    tx: &mut Tx,
    conversation_id: ConversationId,
    sender: &CurrentUser,
    message: &NewMessage,
) -> Result<Stored, ApiError> {
    let outgoing = Outgoing {
        conversation_id,
        sender,
        message,
    };
    store_all(tx, &[outgoing])
        .await?
        .pop()
        .unwrap_or_else(|| Err(anyhow::anyhow!("no verdict for the message").into()))
}

/// How many of the messages go to each conversation, in conversation id order.
fn per_conversation(messages: &[&Outgoing<'_>]) -> BTreeMap<ConversationId, u64> {
    let mut counts = BTreeMap::new();
    for m in messages {
        *counts.entry(m.conversation_id).or_default() += 1;
    }
    counts
}

/// Inserts and announces the messages under their numbers; `None` when one of them was
/// stored already (the insert skipped it).
async fn insert_and_announce(
    tx: &mut Tx,
    numbered: &[(&Outgoing<'_>, u64)],
    created_at: OffsetDateTime,
) -> Result<Option<Vec<Message>>, ApiError> {
    if numbered.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let rows = new_rows(numbered, created_at);
    if db::messages::insert_and_announce(tx, &rows).await? != rows.len() as u64 {
        return Ok(None);
    }
    Ok(Some(stored_messages(&rows, numbered, created_at)))
}

/// The rows that store the messages under their numbers, each with a new id.
fn new_rows<'a>(
    numbered: &[(&'a Outgoing<'_>, u64)],
    created_at: OffsetDateTime,
) -> Vec<db::messages::NewMessageRow<'a>> {
    numbered
        .iter()
        .map(|(o, seq)| db::messages::NewMessageRow {
            id: db::time_ordered_id(),
            conversation_id: o.conversation_id,
            seq: *seq,
            local_id: &o.message.local_id,
            sender_id: o.sender.id,
            text: o.message.text.as_str(),
            display_data: &o.message.display_data,
            created_at: micros::from_time(created_at),
        })
        .collect()
}

/// The messages as stored by `rows`, which [`new_rows`] made from `made_from`.
fn stored_messages(
    rows: &[db::messages::NewMessageRow<'_>],
    made_from: &[(&Outgoing<'_>, u64)],
    created_at: OffsetDateTime,
) -> Vec<Message> {
    rows.iter()
        .zip(made_from)
        .map(|(row, (o, _))| Message {
            id: row.id,
            conversation_id: row.conversation_id,
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
        .collect()
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
