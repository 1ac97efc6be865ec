//! Idempotent POSTs, reusable by any handler in a few lines:
//!
//! ```ignore
//! let begun = state.idempotency.begin(&state.db, IntentKey { user, key: &key, endpoint, fingerprint }).await?;
//! let mut intent = match begun { Begun::Replay(response) => return Ok(response), Begun::Fresh(intent) => intent };
//! /* business writes on intent.tx() */
//! match intent.commit(StatusCode::CREATED, &body).await? {
//!     Committed::Stored(response) => /* ours: announce it */,
//!     Committed::Superseded(response) => /* another request's answer; ours rolled back */,
//! }
//! ```
//!
//! A repeat of a completed key costs one read (or none: completed responses are cached).
//! A new key costs one statement: its record, response included, is inserted in the
//! transaction that writes the business rows, so a crash leaves either nothing (a retry
//! redoes the work) or everything (a retry replays), and the key's unique constraint
//! decides between racing requests. A repeat while the first is running gets 409 at once
//! in this process; in another process it waits on SQLite's write lock or on
//! PostgreSQL's row locks (up to the lock timeout, then 409 for the key's row or 503 for a
//! business row, both with Retry-After), and the one that finds the key taken rolls its
//! writes back and answers with the stored response instead.

use crate::db::idempotency::StoredResponse;
use crate::db::{self, Db, Tx};
use crate::error::ApiError;
use crate::metrics::dedup;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use messaging_core::dedup::{RetryVerdict, judge_retry};
use messaging_core::{
    Fingerprint, IDEMPOTENT_REPLAYED_HEADER, IdempotencyKey, Problem, ProblemCode, UserId,
};
use moka::sync::Cache;
use serde::Serialize;
use std::collections::HashSet;
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

pub enum Begun {
    /// The key was used before for the same intent: its stored response.
    Replay(Response),
    /// A new intent: write through [`FreshIntent::tx`], then [`FreshIntent::commit`].
    Fresh(FreshIntent),
}

#[derive(Clone)]
pub struct Idempotency {
    retention: Duration,
    in_flight: Arc<Mutex<HashSet<(UserId, IdempotencyKey)>>>,
    /// Completed responses already read once. A stored response never changes until it
    /// expires (checked on every use), so repeats are answered from memory.
    completed: Cache<(UserId, IdempotencyKey), Arc<StoredResponse>>,
}

impl Idempotency {
    pub fn new(retention: Duration) -> Self {
        Self {
            retention,
            in_flight: Arc::default(),
            // Weighed by size: at most 16 MiB of stored responses.
            completed: Cache::builder()
                .weigher(|_, stored: &Arc<StoredResponse>| {
                    u32::try_from(stored.body.len())
                        .unwrap_or(u32::MAX)
                        .saturating_add(256)
                })
                .max_capacity(16 * 1024 * 1024)
                .build(),
        }
    }

    pub async fn begin(&self, db: &Db, intent: IntentKey<'_>) -> Result<Begun, ApiError> {
        let now = db::now();
        // Fast path: a completed key is answered from memory or one read, with no write.
        if let Some(stored) = self.completed(db, &intent, db::to_micros(now)).await? {
            return judge(intent.user, intent.endpoint, &intent.fingerprint, &stored)
                .map(Begun::Replay);
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
        }))
    }
}

impl Idempotency {
    /// The key's stored response, unless there is none or it has expired.
    async fn completed(
        &self,
        db: &Db,
        intent: &IntentKey<'_>,
        now: i64,
    ) -> sqlx::Result<Option<Arc<StoredResponse>>> {
        let key = (intent.user, intent.key.clone());
        if let Some(stored) = self.completed.get(&key) {
            if stored.expires_at > now {
                return Ok(Some(stored));
            }
            // Expired: the key may have been used afresh since.
            self.completed.invalidate(&key);
        }
        // Every row is complete: it is written in the transaction that completes it.
        let Some(stored) = db::idempotency::find(db.pool(), intent.user, intent.key).await? else {
            return Ok(None);
        };
        if stored.expires_at <= now {
            return Ok(None);
        }
        let stored = Arc::new(stored);
        self.completed.insert(key, stored.clone());
        Ok(Some(stored))
    }
}

/// Replays a stored response, or refuses a different payload under the same key.
fn judge(
    user: UserId,
    endpoint: &'static str,
    fingerprint: &Fingerprint,
    stored: &StoredResponse,
) -> Result<Response, ApiError> {
    let verdict = if stored.endpoint == endpoint {
        judge_retry(&stored.fingerprint, fingerprint)
    } else {
        RetryVerdict::Mismatch {
            differing_fields: vec!["endpoint".to_owned()],
        }
    };
    match verdict {
        RetryVerdict::Replay => {
            metrics::counter!(dedup::REPLAYS, "endpoint" => endpoint).increment(1);
            tracing::info!(user.id = %user, endpoint, "idempotent replay");
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
            Ok(json_response(status, stored.body.clone(), true))
        }
        RetryVerdict::Mismatch { differing_fields } => {
            metrics::counter!(dedup::MISMATCHES, "kind" => "idempotency_key").increment(1);
            tracing::info!(user.id = %user, endpoint, ?differing_fields, "idempotency key reused");
            let detail = format!(
                "This Idempotency-Key was first used for a different request (differing: {}). Make a new key for a new intent.",
                differing_fields.join(", ")
            );
            Err(ApiError::from(
                Problem::new(ProblemCode::IdempotencyKeyReused, detail)
                    .with_differing_fields(differing_fields),
            ))
        }
    }
}

pub struct FreshIntent {
    tx: Tx,
    user: UserId,
    key: IdempotencyKey,
    endpoint: &'static str,
    fingerprint: Fingerprint,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    _guard: InFlightGuard,
}

/// How a fresh intent ended.
pub enum Committed {
    /// Its writes and its response are stored, together.
    Stored(Response),
    /// Another request completed the same key first (in another process, or between
    /// this one's first read and its write): this one's writes are rolled back and the
    /// key's stored response answers instead (a replay, or 422 for another payload).
    Superseded(Response),
}

impl FreshIntent {
    pub fn tx(&mut self) -> &mut Tx {
        &mut self.tx
    }

    /// Until when a retry with this key replays.
    pub fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }

    /// Stores the response under the key with the business rows and commits them together.
    pub async fn commit<T: Serialize>(
        mut self,
        status: StatusCode,
        body: &T,
    ) -> Result<Committed, ApiError> {
        let body = serde_json::to_string(body).map_err(anyhow::Error::from)?;
        let record = db::idempotency::NewRecord {
            user: self.user,
            key: &self.key,
            endpoint: self.endpoint,
            fingerprint: &self.fingerprint,
            status: status.as_u16(),
            body: &body,
            created_at: db::to_micros(self.created_at),
            expires_at: db::to_micros(self.expires_at),
        };
        let stored = match db::idempotency::insert_unless_live(&mut *self.tx, &record).await {
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
            return Ok(Committed::Stored(json_response(status, body, false)));
        }
        let existing = db::idempotency::find(&mut *self.tx, self.user, &self.key).await?;
        self.tx.rollback().await?;
        let existing = existing.ok_or_else(|| anyhow::anyhow!("Idempotency record vanished"))?;
        judge(self.user, self.endpoint, &self.fingerprint, &existing).map(Committed::Superseded)
    }
}

/// A JSON response; replays carry `Idempotent-Replayed: true` and the stored bytes as is.
pub fn json_response(status: StatusCode, body: String, replayed: bool) -> Response {
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    if replayed {
        // core's constant is the one name for this header; header names are case-blind.
        let name = HeaderName::from_bytes(IDEMPOTENT_REPLAYED_HEADER.as_bytes())
            .expect("a valid header name");
        response
            .headers_mut()
            .insert(name, HeaderValue::from_static("true"));
    }
    response
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

/// Deletes expired keys now and then, for the life of the server.
pub fn spawn_sweeper(db: Db, every: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            let now = db::to_micros(db::now());
            match db::idempotency::delete_expired(db.pool(), now).await {
                Ok(0) => {}
                Ok(n) => {
                    metrics::counter!(dedup::EXPIRED_KEYS).increment(n);
                    tracing::info!(keys = n, "swept expired idempotency keys");
                }
                Err(error) => {
                    tracing::warn!(error = %error, "sweeping expired idempotency keys failed")
                }
            }
            if let Err(error) = db::sessions::delete_expired(db.pool(), now).await {
                tracing::warn!(error = %error, "sweeping expired sessions failed");
            }
        }
    });
}
