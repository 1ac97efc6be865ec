//! Deleting what has expired: idempotency keys past their retention, sessions past
//! their end.

use crate::db::{self, Db, idempotency_keys};
use crate::metrics::dedup;
use messaging_core::micros;
use std::time::Duration;

/// How often expired keys and sessions are deleted.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Deletes expired keys and sessions every `every`, for the life of the server.
pub fn spawn_expiry_sweeper(db: Db, every: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            match sweep(&db).await {
                Ok(0) => {}
                Ok(keys) => {
                    metrics::counter!(dedup::EXPIRED_KEYS).increment(keys);
                    tracing::info!(keys, "swept expired idempotency keys");
                }
                Err(error) => tracing::warn!(%error, "sweeping expired keys and sessions failed"),
            }
        }
    });
}

/// Expired keys deleted per transaction: whatever the backlog (after a long stop, say),
/// a sweep holds the one SQLite writer, which every write waits for, only briefly, and
/// each transaction fits PostgreSQL's deadline for work others wait behind.
const SWEPT_PER_TRANSACTION: i64 = 1_000;

/// One sweep, through the one write path (on SQLite, the group commit's writer, so it
/// never races the writers for the file lock); the number of keys it deleted.
async fn sweep(db: &Db) -> Result<u64, db::WriteError> {
    let now = micros::from_time(db::now());
    let mut keys = 0;
    loop {
        let deleted = db
            .in_time(async {
                let mut tx = db.begin_write().await?;
                let deleted =
                    idempotency_keys::delete_expired(&mut *tx, now, SWEPT_PER_TRANSACTION).await?;
                db::commit(tx).await?;
                Ok::<_, db::WriteError>(deleted)
            })
            .await?;
        keys += deleted;
        if deleted < SWEPT_PER_TRANSACTION as u64 {
            break;
        }
    }
    // One row per session: few enough for one statement.
    db.in_time(async {
        let mut tx = db.begin_write().await?;
        db::sessions::delete_expired(&mut *tx, now).await?;
        db::commit(tx).await
    })
    .await?;
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backlog of expired keys larger than a transaction's share is swept in one sweep,
    /// a transaction at a time, and the keys still live stay.
    #[tokio::test]
    async fn a_sweep_deletes_a_backlog_of_expired_keys_in_transactions_of_a_bounded_size() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/sweep.db?mode=rwc", dir.path().display());
        let db = Db::connect(&url, None).await.expect("a database");
        let expired = 2 * SWEPT_PER_TRANSACTION + 10;
        let mut tx = db.begin_write().await.expect("a transaction");
        sqlx::query(
            "INSERT INTO users (id, username, display_name, password_hash, created_at) \
             VALUES ('u', 'u', 'U', 'x', 0)",
        )
        .execute(&mut *tx)
        .await
        .expect("a user");
        for n in 0..expired + 5 {
            let expires_at = if n < expired { 0 } else { i64::MAX };
            sqlx::query(
                "INSERT INTO idempotency_keys (user_id, idempotency_key, endpoint, fingerprint, \
                 response_status, response_body, created_at, expires_at) \
                 VALUES ('u', $1, 'e', 'f', 201, '{}', 0, $2)",
            )
            .bind(format!("key-{n}"))
            .bind(expires_at)
            .execute(&mut *tx)
            .await
            .expect("a key");
        }
        db::commit(tx).await.expect("committed");

        let mut tx = db.begin_write().await.expect("a transaction");
        let share = idempotency_keys::delete_expired(&mut *tx, 1, 3).await;
        db::commit(tx).await.expect("committed");
        assert_eq!(share.expect("deleted"), 3, "no more than asked for");
        assert_eq!(sweep(&db).await.expect("a sweep"), expired as u64 - 3);
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM idempotency_keys")
            .fetch_one(db.pool())
            .await
            .expect("a count");
        assert_eq!(left, 5);
    }
}
