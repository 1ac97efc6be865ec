//! Sign-in sessions, stored by the SHA-256 of their token.

use messaging_core::UserId;
use messaging_core::wire::CurrentUser;
use sqlx::{Any, Executor};

#[tracing::instrument(skip_all)]
pub async fn insert<'e>(
    db: impl Executor<'e, Database = Any>,
    token_hash: &str,
    user: UserId,
    created_at: i64,
    expires_at: i64,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash)
        .bind(user.to_string())
        .bind(created_at)
        .bind(expires_at)
        .execute(db)
        .await?;
    Ok(())
}

/// The user a live session belongs to.
#[tracing::instrument(skip_all)]
pub async fn user_of<'e>(
    db: impl Executor<'e, Database = Any>,
    token_hash: &str,
    now: i64,
) -> sqlx::Result<Option<CurrentUser>> {
    let row = sqlx::query(
        "SELECT u.id, u.username, u.display_name FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(db)
    .await?;
    row.as_ref().map(super::directory::current_user).transpose()
}

#[tracing::instrument(skip_all)]
pub async fn delete<'e>(
    db: impl Executor<'e, Database = Any>,
    token_hash: &str,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(db)
        .await?;
    Ok(())
}

#[tracing::instrument(skip_all)]
pub async fn delete_expired<'e>(
    db: impl Executor<'e, Database = Any>,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// The PostgreSQL `NOTIFY` channel that carries the token hash of each ended session, so
/// every process closes its live streams.
pub const SESSION_ENDED_CHANNEL: &str = "session_ended";

/// Tells every server process that a session ended (PostgreSQL only).
pub async fn announce_end<'e>(
    db: impl Executor<'e, Database = Any>,
    token_hash: &str,
) -> sqlx::Result<()> {
    super::notify(db, SESSION_ENDED_CHANNEL, token_hash).await
}
