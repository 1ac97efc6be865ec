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

pub struct Claim<'a> {
    pub user: UserId,
    pub key: &'a IdempotencyKey,
    pub endpoint: &'a str,
    pub fingerprint: &'a Fingerprint,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Claims the key inside the intent's transaction; `false` when a record exists. The
/// response is filled in by [`complete`] before the same transaction commits.
#[tracing::instrument(skip_all)]
pub async fn claim<'e>(
    db: impl Executor<'e, Database = Any>,
    claim: &Claim<'_>,
) -> sqlx::Result<bool> {
    let fingerprint =
        serde_json::to_string(claim.fingerprint).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let done = sqlx::query(
        "INSERT INTO idempotency_keys \
         (user_id, idempotency_key, endpoint, fingerprint, response_status, response_body, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, 0, '', $5, $6) ON CONFLICT (user_id, idempotency_key) DO NOTHING",
    )
    .bind(claim.user.to_string())
    .bind(claim.key.as_str())
    .bind(claim.endpoint)
    .bind(fingerprint)
    .bind(claim.created_at)
    .bind(claim.expires_at)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[tracing::instrument(skip_all)]
pub async fn complete<'e>(
    db: impl Executor<'e, Database = Any>,
    user: UserId,
    key: &IdempotencyKey,
    status: u16,
    body: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET response_status = $3, response_body = $4 \
         WHERE user_id = $1 AND idempotency_key = $2",
    )
    .bind(user.to_string())
    .bind(key.as_str())
    .bind(i64::from(status))
    .bind(body)
    .execute(db)
    .await?;
    Ok(())
}

/// Forgets one expired key so its next use starts afresh.
#[tracing::instrument(skip_all)]
pub async fn delete_if_expired<'e>(
    db: impl Executor<'e, Database = Any>,
    user: UserId,
    key: &IdempotencyKey,
    now: i64,
) -> sqlx::Result<bool> {
    let done =
        sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND idempotency_key = $2 AND expires_at <= $3")
            .bind(user.to_string())
            .bind(key.as_str())
            .bind(now)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes every expired key; the background sweeper calls this.
#[tracing::instrument(skip_all)]
pub async fn delete_expired<'e>(
    db: impl Executor<'e, Database = Any>,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
        .bind(now)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
