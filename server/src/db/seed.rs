//! Demo data for the embedded default: two customers, two agencies with one member each.
//! Every password is `demo-password`.

use super::Db;
use super::directory::{self, NewUser};
use crate::passwords::hash_password;
use anyhow::Context;
use messaging_core::wire::Agency;
use messaging_core::{AgencyId, UserId};

pub const DEMO_PASSWORD: &str = "demo-password";

/// (username, display name, agency slug they belong to)
pub const DEMO_USERS: [(&str, &str, Option<&str>); 4] = [
    ("alice", "Alice Martin", None),
    ("bob", "Bob Chen", None),
    ("carol", "Carol Diaz", Some("northwind")),
    ("dave", "Dave Okafor", Some("blue-harbor")),
];

/// (slug, name, description)
pub const DEMO_AGENCIES: [(&str, &str, &str); 3] = [
    (
        "northwind",
        "Northwind Travel",
        "Tailor-made trips across the Nordics.",
    ),
    (
        "blue-harbor",
        "Blue Harbor Realty",
        "Flats and houses by the sea.",
    ),
    (
        "summit-events",
        "Summit Events",
        "Conferences and weddings in the mountains.",
    ),
];

/// Seeds an empty database; does nothing when any user exists.
pub async fn seed_if_empty(db: &Db) -> anyhow::Result<()> {
    if directory::user_count(db.pool()).await? > 0 {
        return Ok(());
    }
    let password_hash = hash_password(DEMO_PASSWORD.to_owned()).await?;
    let now = messaging_core::micros::from_time(super::now());
    let mut tx = db.begin_write().await?;
    let mut agencies = Vec::new();
    for (slug, name, description) in DEMO_AGENCIES {
        let agency = Agency {
            id: AgencyId::new_random(),
            slug: slug.into(),
            name: name.into(),
            description: description.into(),
        };
        directory::insert_agency(&mut *tx, &agency).await?;
        agencies.push(agency);
    }
    for (username, display_name, member_of) in DEMO_USERS {
        let id = UserId::new_random();
        let user = NewUser {
            id,
            username,
            display_name,
            password_hash: &password_hash,
            created_at: now,
        };
        directory::insert_user(&mut *tx, &user).await?;
        if let Some(agency) = member_of.and_then(|slug| agencies.iter().find(|a| a.slug == slug)) {
            directory::add_member(&mut *tx, agency.id, id).await?;
        }
    }
    super::commit(tx)
        .await
        .context("Failed to commit the demo data")?;
    tracing::info!("seeded demo data: users alice, bob, carol (northwind), dave (blue-harbor)");
    Ok(())
}
