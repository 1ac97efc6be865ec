//! After the storm, the database itself is checked against what the clients were told.

use crate::client::Ledger;
use serde::Serialize;
use sqlx::{AnyPool, Row};
use std::collections::HashMap;

#[derive(Debug, Default, Serialize)]
pub struct Audit {
    pub conversations_stored: i64,
    pub messages_stored: i64,
    /// Rows sharing a natural key (context, creator): must be 0.
    pub duplicate_conversations: i64,
    /// Rows sharing (conversation, local_id): must be 0.
    pub duplicate_messages: i64,
    /// Acknowledged messages missing from the store: must be 0.
    pub lost_acknowledged: u64,
    /// Acknowledged messages stored with another id, text or conversation: must be 0.
    pub altered_acknowledged: u64,
    /// Messages stored for no intent any client was answered about. Every intent is
    /// answered before the audit, so this must be 0 too.
    pub stored_unacknowledged: u64,
    /// Conversations whose row is not the one the clients were told: must be 0.
    pub conversations_not_as_acknowledged: u64,
    /// SQLite's `PRAGMA integrity_check` and `foreign_key_check`: "ok" (none on PostgreSQL).
    pub integrity: Option<String>,
}

/// `user_ids` are the ids of the users the ledger numbers.
pub async fn audit(
    pool: &AnyPool,
    ledger: &Ledger,
    user_ids: &[String],
    sqlite: bool,
) -> anyhow::Result<Audit> {
    let count = |sql: &'static str| async move {
        sqlx::query(sql)
            .fetch_one(pool)
            .await
            .and_then(|row| row.try_get::<i64, _>(0))
    };
    let mut audit = Audit {
        conversations_stored: count("SELECT COUNT(*) FROM conversations").await?,
        messages_stored: count("SELECT COUNT(*) FROM messages").await?,
        duplicate_conversations: count(
            "SELECT COUNT(*) FROM (SELECT 1 FROM conversations GROUP BY context_type, context_id, created_by HAVING COUNT(*) > 1) AS d",
        )
        .await?,
        duplicate_messages: count(
            "SELECT COUNT(*) FROM (SELECT 1 FROM messages GROUP BY conversation_id, local_id HAVING COUNT(*) > 1) AS d",
        )
        .await?,
        ..Audit::default()
    };

    // (conversation, local_id) → (message id, text), for the soak's messages only.
    let mut stored: HashMap<(String, String), (String, String)> = sqlx::query(
        "SELECT conversation_id, local_id, id, body FROM messages WHERE local_id LIKE 'soak-%'",
    )
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| {
        Ok((
            (row.try_get("conversation_id")?, row.try_get("local_id")?),
            (row.try_get("id")?, row.try_get("body")?),
        ))
    })
    .collect::<sqlx::Result<_>>()?;
    for (intent, ack) in &ledger.acked {
        let key = (ack.conversation_id.clone(), intent.local_id().to_owned());
        // Each intent has its own local_id, so each matches one row at most.
        match stored.remove(&key) {
            Some((id, text)) if id == ack.message_id && text == intent.text() => {}
            Some(_) => audit.altered_acknowledged += 1,
            None => audit.lost_acknowledged += 1,
        }
    }
    audit.stored_unacknowledged = stored.len() as u64;

    let by_natural_key: HashMap<(String, String), String> =
        sqlx::query("SELECT id, context_id, created_by FROM conversations")
            .fetch_all(pool)
            .await?
            .iter()
            .map(|row| {
                Ok((
                    (row.try_get("context_id")?, row.try_get("created_by")?),
                    row.try_get("id")?,
                ))
            })
            .collect::<sqlx::Result<_>>()?;
    for ((user, agency), id) in &ledger.conversations {
        let key = (agency.to_string(), user_ids[*user].clone());
        if by_natural_key.get(&key) != Some(id) {
            audit.conversations_not_as_acknowledged += 1;
        }
    }

    audit.integrity = if sqlite {
        let integrity: String = sqlx::query("PRAGMA integrity_check")
            .fetch_one(pool)
            .await?
            .try_get(0)?;
        let orphans = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(pool)
            .await?
            .len();
        Some(if orphans == 0 {
            integrity
        } else {
            format!("{integrity}; {orphans} rows break a foreign key")
        })
    } else {
        None
    };
    Ok(audit)
}

impl Audit {
    pub fn is_clean(&self) -> bool {
        self.duplicate_conversations == 0
            && self.duplicate_messages == 0
            && self.lost_acknowledged == 0
            && self.altered_acknowledged == 0
            && self.stored_unacknowledged == 0
            && self.conversations_not_as_acknowledged == 0
            && self
                .integrity
                .as_deref()
                .is_none_or(|integrity| integrity == "ok")
    }
}
