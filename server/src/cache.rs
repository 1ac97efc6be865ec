//! In-process caches in front of the reads nearly every request makes: a read through
//! sqlx is a hop to the connection's worker thread and back, and a duplicate send would
//! make three. Each cache says how stale it may be and why that is safe.

use crate::db::{self, Db};
use crate::events::Update;
use messaging_core::wire::{CurrentUser, Message};
use messaging_core::{ConversationId, LocalId, UserId, micros};
use moka::sync::Cache;
use std::hash::Hash;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};

/// How long a session or a participation is believed without asking the store.
pub const TRUST_FOR: Duration = Duration::from_secs(5);

/// How long a stored message or a completed answer is kept after its last use: repeats
/// come within seconds (a retry, a second tab) and the outbox's backoff tops out at 30 s.
/// Past it a repeat costs one read, nothing else; memory stays flat at the rate of new
/// writes times this (`scripts/memory`).
pub const REPEATS_WITHIN: Duration = Duration::from_secs(60);

/// At most this much (by each entry's weight, [`repeats_cache`]) in each cache of repeats.
pub const REPEATS_CAPACITY: u64 = 4 * 1024 * 1024;

#[derive(Clone)]
pub struct Caches {
    /// Session token hash → its user. A sign-out forgets it at once, in every process
    /// (the hub carries it: [`Caches::forget_ended_sessions`]); an expiry is seen within
    /// [`TRUST_FOR`].
    sessions: Cache<String, CurrentUser>,
    /// (conversation, user) pairs known to take part. Removing an agency member takes
    /// effect here within [`TRUST_FOR`].
    participants: Cache<(ConversationId, UserId), ()>,
    /// Stored messages by (conversation, local_id), for [`REPEATS_WITHIN`]. Never stale:
    /// a stored message never changes, so a duplicate send can be answered without the
    /// store.
    messages: Cache<(ConversationId, LocalId), Message>,
}

impl Default for Caches {
    fn default() -> Self {
        Self {
            sessions: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(TRUST_FOR)
                .build(),
            participants: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(TRUST_FOR)
                .build(),
            messages: repeats_cache(bytes_of),
        }
    }
}

/// A cache of repeats (the stored messages here, the completed answers of idempotency
/// keys): each entry kept for [`REPEATS_WITHIN`] after its last use, [`REPEATS_CAPACITY`]
/// in all, weighed as its `bytes` (what a client chose the length of, up to its limit)
/// and 256 for the rest.
pub fn repeats_cache<K, V>(bytes: fn(&V) -> usize) -> Cache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder()
        .weigher(move |_, value: &V| {
            u32::try_from(bytes(value))
                .unwrap_or(u32::MAX)
                .saturating_add(256)
        })
        .max_capacity(REPEATS_CAPACITY)
        .time_to_idle(REPEATS_WITHIN)
        .build()
}

/// The bytes of a stored message's strings.
fn bytes_of(message: &Message) -> usize {
    let strings = [
        message.text.as_str(),
        message.local_id.as_str(),
        message.sender.display_name.as_str(),
        message
            .display_data
            .user_agent
            .as_deref()
            .unwrap_or_default(),
    ];
    strings.iter().map(|s| s.len()).sum()
}

impl Caches {
    /// The user of a live session, by the hash of its token.
    pub async fn session_user(
        &self,
        db: &Db,
        token_hash: &str,
    ) -> sqlx::Result<Option<CurrentUser>> {
        if let Some(user) = self.sessions.get(token_hash) {
            return Ok(Some(user));
        }
        let user =
            db::sessions::user_of(db.pool(), token_hash, micros::from_time(db::now())).await?;
        if let Some(user) = &user {
            self.sessions.insert(token_hash.to_owned(), user.clone());
        }
        Ok(user)
    }

    /// After a sign-out in this process.
    pub fn forget_session(&self, token_hash: &str) {
        self.sessions.invalidate(token_hash);
    }

    /// Forgets each session the hub says ended, in any process, for as long as the hub
    /// runs; a token signed out elsewhere then stops working here at once too. Having
    /// fallen behind (one may have been missed), it forgets them all: they are read again.
    pub fn forget_ended_sessions(&self, mut updates: broadcast::Receiver<Update>) {
        let sessions = self.sessions.clone();
        tokio::spawn(async move {
            loop {
                match updates.recv().await {
                    Ok(Update::SessionEnded(token_hash)) => sessions.invalidate(&*token_hash),
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => sessions.invalidate_all(),
                    Err(RecvError::Closed) => return,
                }
            }
        });
    }

    /// Whether the user takes part in the conversation (its creator or a member of its
    /// agency).
    pub async fn is_participant(
        &self,
        db: &Db,
        conversation: ConversationId,
        user: UserId,
    ) -> sqlx::Result<bool> {
        if self.participants.contains_key(&(conversation, user)) {
            return Ok(true);
        }
        let takes_part = db::conversations::for_participant(db.pool(), conversation, user)
            .await?
            .is_some();
        if takes_part {
            self.note_participant(conversation, user);
        }
        Ok(takes_part)
    }

    /// Remembers that the user takes part, as the store has just said.
    pub fn note_participant(&self, conversation: ConversationId, user: UserId) {
        self.participants.insert((conversation, user), ());
    }

    /// The message stored under this `local_id`, if it is in memory (stored or asked for
    /// lately).
    pub fn remembered_message(
        &self,
        conversation: ConversationId,
        local_id: &LocalId,
    ) -> Option<Message> {
        self.messages.get(&(conversation, local_id.clone()))
    }

    /// The message stored under this `local_id`, if any.
    pub async fn stored_message(
        &self,
        db: &Db,
        conversation: ConversationId,
        local_id: &LocalId,
    ) -> sqlx::Result<Option<Message>> {
        if let Some(message) = self.remembered_message(conversation, local_id) {
            return Ok(Some(message));
        }
        let message = db::messages::by_local_id(db.pool(), conversation, local_id).await?;
        if let Some(message) = &message {
            self.remember_message(message);
        }
        Ok(message)
    }

    /// A message just stored (committed), so its retries are answered from memory.
    pub fn remember_message(&self, message: &Message) {
        self.messages.insert(
            (message.conversation_id, message.local_id.clone()),
            message.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use messaging_core::device::DisplayData;
    use messaging_core::wire::Participant;
    use messaging_core::{DeviceKind, MessageId};

    #[test]
    fn a_message_weighs_every_string_a_client_chose() {
        let message = Message {
            id: MessageId::new_random(),
            conversation_id: ConversationId::new_random(),
            seq: 1,
            local_id: LocalId::parse("local-1").expect("a local id"),
            sender: Participant {
                id: UserId::new_random(),
                display_name: "Alice".into(),
            },
            text: "k".into(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            display_data: DisplayData {
                user_agent: Some("u".repeat(DisplayData::MAX_USER_AGENT_CHARS)),
                device_kind: DeviceKind::Linux,
            },
        };
        let strings = 1 + "local-1".len() + "Alice".len() + DisplayData::MAX_USER_AGENT_CHARS;
        assert_eq!(bytes_of(&message), strings);
    }
}
