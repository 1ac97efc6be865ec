//! Idempotent POSTs, reusable by any handler in a few lines:
//!
//! ```ignore
//! let begun = messaging.idempotency.begin(&messaging.db, IntentKey { user, key: &key, endpoint, fingerprint }).await?;
//! let mut intent = match begun { Begun::Replay(answer) => return Ok(answer), Begun::Fresh(intent) => intent };
//! /* business writes on intent.tx() */
//! match intent.commit(StatusCode::CREATED, &body).await? {
//!     Committed::Stored(answer) => /* ours: announce it */,
//!     Committed::Superseded(answer) => /* another request's answer; ours rolled back */,
//! }
//! ```
//!
//! A repeat of a completed key costs one read (or none: completed answers are cached).
//! A new key costs one statement: its record, answer included, is inserted in the
//! transaction that writes the business rows, so a crash leaves either nothing (a retry
//! redoes the work) or everything (a retry replays), and the key's unique constraint
//! decides between racing requests. A repeat while the first is running gets 409 at once
//! in this process; in another process it waits on SQLite's write lock or on
//! PostgreSQL's row locks (up to the lock timeout, then 409 for the key's row or 503 for a
//! business row, both with Retry-After), and the one that finds the key taken rolls its
//! writes back and answers with the stored answer instead.

use crate::db::idempotency_keys::{self, StoredResponse};
use crate::db::{self, Db, Tx};
use crate::error::ApiError;
use crate::metrics::dedup;
use anyhow::Context;
use http::StatusCode;
use messaging_core::dedup::{KeyUse, RetryVerdict, judge_key_reuse};
use messaging_core::{Fingerprint, IdempotencyKey, IntentName, UserId, micros};
use moka::sync::Cache;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;

/// One intent: whose, under which key, at which endpoint, with which payload.
pub struct IntentKey<'a> {
    pub user: UserId,
    pub key: &'a IdempotencyKey,
    pub endpoint: &'static str,
    pub fingerprint: Fingerprint,
}

/// A JSON answer with a body of type `T`, exactly as the client gets it: a replay is the
/// stored bytes again, marked `replayed`.
#[derive(Debug)]
pub struct Answer<T> {
    pub status: StatusCode,
    pub json: String,
    pub replayed: bool,
    body: PhantomData<fn() -> T>,
}

impl<T: Serialize> Answer<T> {
    pub fn new(status: StatusCode, body: &T, replayed: bool) -> Result<Self, ApiError> {
        let json = serde_json::to_string(body).context("Failed to serialize an answer")?;
        Ok(Self::from_json(status, json, replayed))
    }
}

impl<T> Answer<T> {
    fn from_json(status: StatusCode, json: String, replayed: bool) -> Self {
        Self {
            status,
            json,
            replayed,
            body: PhantomData,
        }
    }
}

impl<T: DeserializeOwned> Answer<T> {
    /// The body as a value, for callers that act on it rather than send it on.
    pub fn body(&self) -> Result<T, ApiError> {
        Ok(serde_json::from_str(&self.json).context("Failed to read a stored answer")?)
    }
}

pub enum Begun<T> {
    /// The key was used before for the same intent: its stored answer.
    Replay(Answer<T>),
    /// A new intent: write through [`FreshIntent::tx`], then [`FreshIntent::commit`].
    Fresh(FreshIntent<T>),
}

#[derive(Clone)]
pub struct Idempotency {
    retention: Duration,
    in_flight: Arc<Mutex<HashSet<(UserId, IdempotencyKey)>>>,
    /// Completed answers already read once. A stored answer never changes until it
    /// expires (checked on every use), so repeats are answered from memory.
    completed: Cache<(UserId, IdempotencyKey), Arc<StoredResponse>>,
}

impl Idempotency {
    pub fn new(retention: Duration) -> Self {
        Self {
            retention,
            in_flight: Arc::default(),
            completed: crate::cache::repeats_cache(|stored: &Arc<StoredResponse>| {
                stored.body.len()
            }),
        }
    }

    pub async fn begin<T>(&self, db: &Db, intent: IntentKey<'_>) -> Result<Begun<T>, ApiError> {
        let now = db::now();
        // Fast path: a completed key is answered from memory or one read, with no write.
        if let Some(stored) = self.completed(db, &intent, micros::from_time(now)).await? {
            return judge(&intent, &stored).map(Begun::Replay);
        }

        let guard =
            InFlightGuard::enter(&self.in_flight, intent.user, intent.key).ok_or_else(|| {
                metrics::counter!(dedup::IN_FLIGHT).increment(1);
                ApiError::in_flight()
            })?;
        let tx = db.begin_write().await?;
        Ok(Begun::Fresh(FreshIntent {
            tx,
            user: intent.user,
            key: intent.key.clone(),
            endpoint: intent.endpoint,
            fingerprint: intent.fingerprint,
            created_at: now,
            expires_at: now + self.retention,
            _guard: guard,
            answer: PhantomData,
        }))
    }

    /// The key's stored answer, unless there is none or it has expired.
    async fn completed(
        &self,
        db: &Db,
        intent: &IntentKey<'_>,
        now: i64,
    ) -> sqlx::Result<Option<Arc<StoredResponse>>> {
        let key = (intent.user, intent.key.clone());
        let (stored, cached) = match self.completed.get(&key) {
            Some(stored) => (stored, true),
            // Every row is complete: it is written in the transaction that completes it.
            None => match idempotency_keys::find(db.pool(), intent.user, intent.key).await? {
                Some(stored) => (Arc::new(stored), false),
                None => return Ok(None),
            },
        };
        if !stored.is_live_at(now) {
            // Expired: the key may be used afresh.
            self.completed.invalidate(&key);
            return Ok(None);
        }
        if !cached {
            self.completed.insert(key, Arc::clone(&stored));
        }
        Ok(Some(stored))
    }
}

/// Replays a stored answer, or refuses another intent under the same key.
fn judge<T>(intent: &IntentKey<'_>, stored: &StoredResponse) -> Result<Answer<T>, ApiError> {
    let first = KeyUse {
        endpoint: &stored.endpoint,
        fingerprint: &stored.fingerprint,
    };
    let retry = KeyUse {
        endpoint: intent.endpoint,
        fingerprint: &intent.fingerprint,
    };
    match judge_key_reuse(first, retry) {
        RetryVerdict::Replay => {
            metrics::counter!(dedup::REPLAYS, "endpoint" => intent.endpoint).increment(1);
            tracing::info!(user.id = %intent.user, endpoint = intent.endpoint, "idempotent replay");
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
            Ok(Answer::from_json(status, stored.body.clone(), true))
        }
        RetryVerdict::Mismatch { differing_fields } => {
            Err(refuse_reuse(IntentName::IdempotencyKey, differing_fields))
        }
    }
}

/// The 422 for a key or `local_id` reused for another intent, counted and logged.
pub fn refuse_reuse(name: IntentName, differing_fields: Vec<String>) -> ApiError {
    metrics::counter!(dedup::MISMATCHES, "kind" => name.as_str()).increment(1);
    tracing::info!(
        kind = name.as_str(),
        ?differing_fields,
        "reused for another intent"
    );
    ApiError::from(name.reused(differing_fields))
}

pub struct FreshIntent<T> {
    tx: Tx,
    user: UserId,
    key: IdempotencyKey,
    endpoint: &'static str,
    fingerprint: Fingerprint,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    _guard: InFlightGuard,
    answer: PhantomData<fn() -> T>,
}

/// How a fresh intent ended.
pub enum Committed<T> {
    /// Its writes and its answer are stored, together.
    Stored(Answer<T>),
    /// Another request completed the same key first (in another process, or between
    /// this one's first read and its write): this one's writes are rolled back and the
    /// key's stored answer answers instead (a replay, or 422 for another payload).
    Superseded(Answer<T>),
}

impl<T: Serialize> FreshIntent<T> {
    pub fn tx(&mut self) -> &mut Tx {
        &mut self.tx
    }

    /// Until when a retry with this key replays.
    pub fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }

    /// Stores the answer under the key with the business rows and commits them together.
    pub async fn commit(mut self, status: StatusCode, body: &T) -> Result<Committed<T>, ApiError> {
        let answer = Answer::new(status, body, false)?;
        let record = idempotency_keys::NewRecord {
            user: self.user,
            key: &self.key,
            endpoint: self.endpoint,
            fingerprint: &self.fingerprint,
            status: status.as_u16(),
            body: &answer.json,
            created_at: micros::from_time(self.created_at),
            expires_at: micros::from_time(self.expires_at),
        };
        let stored = match idempotency_keys::insert_unless_live(&mut *self.tx, &record).await {
            Ok(stored) => stored,
            // PostgreSQL: another process holds this key past the lock timeout.
            Err(error) if db::is_contention(&error) => {
                metrics::counter!(dedup::IN_FLIGHT).increment(1);
                return Err(ApiError::in_flight());
            }
            Err(error) => return Err(error.into()),
        };
        if stored {
            db::commit(self.tx).await?;
            return Ok(Committed::Stored(answer));
        }
        let existing = idempotency_keys::find(&mut *self.tx, self.user, &self.key).await?;
        self.tx.rollback().await?;
        let existing = existing.context("Idempotency record vanished")?;
        let intent = IntentKey {
            user: self.user,
            key: &self.key,
            endpoint: self.endpoint,
            fingerprint: self.fingerprint,
        };
        judge(&intent, &existing).map(Committed::Superseded)
    }
}

/// Marks (user, key) as being processed in this process until dropped.
struct InFlightGuard {
    set: Arc<Mutex<HashSet<(UserId, IdempotencyKey)>>>,
    entry: (UserId, IdempotencyKey),
}

impl InFlightGuard {
    fn enter(
        set: &Arc<Mutex<HashSet<(UserId, IdempotencyKey)>>>,
        user: UserId,
        key: &IdempotencyKey,
    ) -> Option<Self> {
        let entry = (user, key.clone());
        let inserted = set
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(entry.clone());
        inserted.then(|| Self {
            set: Arc::clone(set),
            entry,
        })
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.entry);
    }
}
