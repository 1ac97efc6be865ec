//! Users, agencies and who belongs to which agency.

use super::uuid;
use messaging_core::wire::{Agency, CurrentUser};
use messaging_core::{AgencyId, UserId};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

pub struct Credentials {
    pub user_id: UserId,
    pub password_hash: String,
}

#[tracing::instrument(skip_all)]
pub async fn credentials<'e>(
    db: impl Executor<'e, Database = Any>,
    username: &str,
) -> sqlx::Result<Option<Credentials>> {
    // No stored name holds a control character; PostgreSQL would reject a NUL outright.
    if username.chars().any(char::is_control) {
        return Ok(None);
    }
    let row = sqlx::query("SELECT id, password_hash FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(db)
        .await?;
    row.map(|row| {
        Ok(Credentials {
            user_id: uuid(&row, "id")?.into(),
            password_hash: row.try_get("password_hash")?,
        })
    })
    .transpose()
}

#[tracing::instrument(skip_all)]
pub async fn user<'e>(
    db: impl Executor<'e, Database = Any>,
    id: UserId,
) -> sqlx::Result<Option<CurrentUser>> {
    let row = sqlx::query("SELECT id, username, display_name FROM users WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(db)
        .await?;
    row.as_ref().map(current_user).transpose()
}

/// Reads `id`, `username` and `display_name` of a users row.
pub(super) fn current_user(row: &AnyRow) -> sqlx::Result<CurrentUser> {
    Ok(CurrentUser {
        id: uuid(row, "id")?.into(),
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
    })
}

fn agency(row: &AnyRow) -> sqlx::Result<Agency> {
    Ok(Agency {
        id: uuid(row, "id")?.into(),
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
    })
}

#[tracing::instrument(skip_all)]
pub async fn agencies<'e>(db: impl Executor<'e, Database = Any>) -> sqlx::Result<Vec<Agency>> {
    let rows = sqlx::query("SELECT id, slug, name, description FROM agencies ORDER BY name")
        .fetch_all(db)
        .await?;
    rows.iter().map(agency).collect()
}

#[tracing::instrument(skip_all)]
pub async fn agency_by_slug<'e>(
    db: impl Executor<'e, Database = Any>,
    slug: &str,
) -> sqlx::Result<Option<Agency>> {
    if slug.chars().any(char::is_control) {
        return Ok(None);
    }
    let row = sqlx::query("SELECT id, slug, name, description FROM agencies WHERE slug = $1")
        .bind(slug)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(agency).transpose()
}

#[tracing::instrument(skip_all)]
pub async fn agency_by_id<'e>(
    db: impl Executor<'e, Database = Any>,
    id: AgencyId,
) -> sqlx::Result<Option<Agency>> {
    let row = sqlx::query("SELECT id, slug, name, description FROM agencies WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(db)
        .await?;
    row.as_ref().map(agency).transpose()
}

pub struct NewUser<'a> {
    pub id: UserId,
    pub username: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub created_at: i64,
}

#[tracing::instrument(skip_all)]
pub async fn insert_user<'e>(
    db: impl Executor<'e, Database = Any>,
    user: &NewUser<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO users (id, username, display_name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user.id.to_string())
    .bind(user.username)
    .bind(user.display_name)
    .bind(user.password_hash)
    .bind(user.created_at)
    .execute(db)
    .await?;
    Ok(())
}

#[tracing::instrument(skip_all)]
pub async fn insert_agency<'e>(
    db: impl Executor<'e, Database = Any>,
    agency: &Agency,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO agencies (id, slug, name, description) VALUES ($1, $2, $3, $4)")
        .bind(agency.id.to_string())
        .bind(&agency.slug)
        .bind(&agency.name)
        .bind(&agency.description)
        .execute(db)
        .await?;
    Ok(())
}

#[tracing::instrument(skip_all)]
pub async fn add_member<'e>(
    db: impl Executor<'e, Database = Any>,
    agency: AgencyId,
    user: UserId,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO agency_members (agency_id, user_id) VALUES ($1, $2)")
        .bind(agency.to_string())
        .bind(user.to_string())
        .execute(db)
        .await?;
    Ok(())
}

#[tracing::instrument(skip_all)]
pub async fn user_count<'e>(db: impl Executor<'e, Database = Any>) -> sqlx::Result<i64> {
    sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(db)
        .await?
        .try_get("n")
}
