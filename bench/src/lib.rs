//! What the load tools share: agencies and users seeded straight into the product's
//! database.

use sqlx::AnyPool;
use uuid::Uuid;

/// The id of seeded agency `n`: `00000000-0000-4000-8000-<n, 12 digits>`, predictable
/// so a load script can name one without asking the server.
pub fn agency_id(n: u32) -> Uuid {
    format!("00000000-0000-4000-8000-{n:012}")
        .parse()
        .expect("a well-formed UUID")
}

/// Adds `count` agencies (none twice) to a migrated database and returns their ids.
pub async fn seed_agencies(pool: &AnyPool, count: u32) -> sqlx::Result<Vec<Uuid>> {
    let mut tx = pool.begin().await?;
    for n in 0..count {
        sqlx::query(
            "INSERT INTO agencies (id, slug, name, description) VALUES ($1, $2, $3, '') ON CONFLICT DO NOTHING",
        )
        .bind(agency_id(n).to_string())
        .bind(format!("bench-{n}"))
        .bind(format!("Bench agency {n}"))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok((0..count).map(agency_id).collect())
}

/// The id of seeded user `n`: `00000000-0000-4000-9000-<n, 12 digits>`.
pub fn user_id(n: u32) -> Uuid {
    format!("00000000-0000-4000-9000-{n:012}")
        .parse()
        .expect("a well-formed UUID")
}

/// Adds `count` users `bench-user-<n>` (none twice), each with the demo users' password
/// (their hash is copied from `alice`'s, so seeding costs no password hashing).
pub async fn seed_users(pool: &AnyPool, count: u32) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    for n in 0..count {
        sqlx::query(
            "INSERT INTO users (id, username, display_name, password_hash, created_at) \
             SELECT $1, $2, $3, password_hash, created_at FROM users WHERE username = 'alice' \
             ON CONFLICT DO NOTHING",
        )
        .bind(user_id(n).to_string())
        .bind(format!("bench-user-{n}"))
        .bind(format!("Bench user {n}"))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}
