//! Idempotent POSTs, reusable by any handler in a few lines:
//!
//! ```ignore
//! let begun = state.idempotency.begin(&state.db, IntentKey { user, key: &key, endpoint, fingerprint }).await?;
//! let mut intent = match begun { Begun::Replay(response) => return Ok(response), Begun::Fresh(intent) => intent };
//! /* business writes on intent.tx() */
//! intent.commit(StatusCode::CREATED, &body).await
//! ```
//!
//! The key is claimed inside the transaction that writes the business rows and the
//! response, so a crash leaves either nothing (a retry redoes the work) or everything (a
//! retry replays). A repeat of a completed key costs one read. A repeat while the first is
//! running gets 409 at once in this process; in another process it waits on the row lock
//! (up to PostgreSQL's lock timeout, then 409) or SQLite's write lock, then replays.

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
            return judge(&intent, &stored).map(Begun::Replay);
        }

        let guard =
            InFlightGuard::enter(&self.in_flight, intent.user, intent.key).ok_or_else(|| {
                metrics::counter!(dedup::IN_FLIGHT).increment(1);
                ApiError::in_flight()
            })?;
        let mut tx = db.begin_write().await?;
        let expires_at = now + self.retention;
        let claim = db::idempotency::Claim {
            user: intent.user,
            key: intent.key,
            endpoint: intent.endpoint,
            fingerprint: &intent.fingerprint,
            created_at: db::to_micros(now),
            expires_at: db::to_micros(expires_at),
        };
        let claimed = match db::idempotency::claim(&mut *tx, &claim).await {
            Ok(claimed) => claimed,
            // PostgreSQL: another process holds this key's row past the lock timeout.
            Err(error) if db::is_contention(&error) => {
                metrics::counter!(dedup::IN_FLIGHT).increment(1);
                return Err(ApiError::in_flight());
            }
            Err(error) => return Err(error.into()),
        };
        if !claimed {
            if db::idempotency::delete_if_expired(
                &mut *tx,
                intent.user,
                intent.key,
                claim.created_at,
            )
            .await?
            {
                metrics::counter!(dedup::EXPIRED_KEYS).increment(1);
                if !db::idempotency::claim(&mut *tx, &claim).await? {
                    return Err(
                        anyhow::anyhow!("Could not re-claim an expired idempotency key").into(),
                    );
                }
            } else {
                // Completed by another request since our first read.
                let stored = db::idempotency::find(&mut *tx, intent.user, intent.key).await?;
                tx.rollback().await?;
                let stored =
                    stored.ok_or_else(|| anyhow::anyhow!("Idempotency record vanished"))?;
                return judge(&intent, &stored).map(Begun::Replay);
            }
        }
        Ok(Begun::Fresh(FreshIntent {
            tx,
            user: intent.user,
            key: intent.key.clone(),
            expires_at,
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
            // Expired: the key may have been claimed afresh since.
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
fn judge(intent: &IntentKey<'_>, stored: &StoredResponse) -> Result<Response, ApiError> {
    let verdict = if stored.endpoint == intent.endpoint {
        judge_retry(&stored.fingerprint, &intent.fingerprint)
    } else {
        RetryVerdict::Mismatch {
            differing_fields: vec!["endpoint".to_owned()],
        }
    };
    match verdict {
        RetryVerdict::Replay => {
            metrics::counter!(dedup::REPLAYS, "endpoint" => intent.endpoint).increment(1);
            tracing::info!(user.id = %intent.user, endpoint = intent.endpoint, "idempotent replay");
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
            Ok(json_response(status, stored.body.clone(), true))
        }
        RetryVerdict::Mismatch { differing_fields } => {
            metrics::counter!(dedup::MISMATCHES, "kind" => "idempotency_key").increment(1);
            tracing::info!(user.id = %intent.user, endpoint = intent.endpoint, ?differing_fields, "idempotency key reused");
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
    expires_at: OffsetDateTime,
    _guard: InFlightGuard,
}

impl FreshIntent {
    pub fn tx(&mut self) -> &mut Tx {
        &mut self.tx
    }

    /// Until when a retry with this key replays.
    pub fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }

    /// Stores the response with the business rows and commits them together.
    pub async fn commit<T: Serialize>(
        mut self,
        status: StatusCode,
        body: &T,
    ) -> Result<Response, ApiError> {
        let body = serde_json::to_string(body).map_err(anyhow::Error::from)?;
        db::idempotency::complete(&mut *self.tx, self.user, &self.key, status.as_u16(), &body)
            .await?;
        db::commit(self.tx).await?;
        Ok(json_response(status, body, false))
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
