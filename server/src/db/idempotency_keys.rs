//! Idempotency records: one per (user, key), holding the response to replay.

use messaging_core::{Fingerprint, IdempotencyKey, UserId};
use sqlx::{Any, Executor, Row};

/// A completed request, as stored.
pub struct StoredResponse {
    pub endpoint: String,
    pub fingerprint: Fingerprint,
    pub status: u16,
    pub body: String,
    pub expires_at: i64,
}

impl StoredResponse {
    /// Whether the key still replays at `now` (Unix micros). [`insert_unless_live`]
    /// applies the same rule in SQL, where racing requests meet.
    pub fn is_live_at(&self, now: i64) -> bool {
        self.expires_at > now
    }
}

#[tracing::instrument(skip_all)]
pub async fn find<'e>(
    db: impl Executor<'e, Database = Any>,
    user: UserId,
    key: &IdempotencyKey,
) -> sqlx::Result<Option<StoredResponse>> {
    let row = sqlx::query(
        "SELECT endpoint, fingerprint, response_status, response_body, expires_at \
         FROM idempotency_keys WHERE user_id = $1 AND idempotency_key = $2",
    )
    .bind(user.to_string())
    .bind(key.as_str())
    .fetch_optional(db)
    .await?;
    row.map(|row| {
        let fingerprint: String = row.try_get("fingerprint")?;
        let status: i64 = row.try_get("response_status")?;
        Ok(StoredResponse {
            endpoint: row.try_get("endpoint")?,
            fingerprint: serde_json::from_str(&fingerprint).map_err(|e| {
                sqlx::Error::ColumnDecode {
                    index: "fingerprint".into(),
                    source: Box::new(e),
                }
            })?,
            status: u16::try_from(status).unwrap_or(500),
            body: row.try_get("response_body")?,
            expires_at: row.try_get("expires_at")?,
        })
    })
    .transpose()
}

/// A completed request, to be stored under its key.
pub struct NewRecord<'a> {
    pub user: UserId,
    pub key: &'a IdempotencyKey,
    pub endpoint: &'a str,
    pub fingerprint: &'a Fingerprint,
    pub status: u16,
    pub body: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Stores the record in the intent's transaction, replacing an expired one; `false` when
/// a live record holds the key (another request completed it first). One statement: on
/// PostgreSQL it waits for a key that another transaction holds, until the lock timeout.
#[tracing::instrument(skip_all)]
pub async fn insert_unless_live<'e>(
    db: impl Executor<'e, Database = Any>,
    record: &NewRecord<'_>,
) -> sqlx::Result<bool> {
    let fingerprint =
        serde_json::to_string(record.fingerprint).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let done = sqlx::query(
        "INSERT INTO idempotency_keys \
         (user_id, idempotency_key, endpoint, fingerprint, response_status, response_body, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (user_id, idempotency_key) DO UPDATE SET \
         endpoint = excluded.endpoint, fingerprint = excluded.fingerprint, \
         response_status = excluded.response_status, response_body = excluded.response_body, \
         created_at = excluded.created_at, expires_at = excluded.expires_at \
         WHERE idempotency_keys.expires_at <= excluded.created_at",
    )
    .bind(record.user.to_string())
    .bind(record.key.as_str())
    .bind(record.endpoint)
    .bind(fingerprint)
    .bind(i64::from(record.status))
    .bind(record.body)
    .bind(record.created_at)
    .bind(record.expires_at)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes up to `at_most` of the keys expired by `now` (found by the expiry index);
/// how many. The background sweeper calls this until fewer come.
#[tracing::instrument(skip_all)]
pub async fn delete_expired<'e>(
    db: impl Executor<'e, Database = Any>,
    now: i64,
    at_most: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM idempotency_keys WHERE (user_id, idempotency_key) IN \
         (SELECT user_id, idempotency_key FROM idempotency_keys WHERE expires_at <= $1 LIMIT $2)",
    )
    .bind(now)
    .bind(at_most)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
