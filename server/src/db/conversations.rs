//! Conversations, found by id for a participant or by their natural key.

use super::uuid;
use messaging_core::wire::{ContextType, Conversation, ConversationCursor, Participant};
use messaging_core::{AgencyId, ConversationId, UserId, micros};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The columns [`conversation`] reads, with the joins that name the agency and creator.
const SELECT: &str = "SELECT c.id, c.context_type, c.context_id, c.created_at, c.last_message_at, \
    a.name AS agency_name, u.id AS creator_id, u.display_name AS creator_name \
    FROM conversations c JOIN agencies a ON a.id = c.agency_id JOIN users u ON u.id = c.created_by";

/// A participant is the creator or a member of the conversation's agency.
const IS_PARTICIPANT: &str = "(c.created_by = $1 OR EXISTS \
    (SELECT 1 FROM agency_members m WHERE m.agency_id = c.agency_id AND m.user_id = $1))";

fn conversation(row: &AnyRow) -> sqlx::Result<Conversation> {
    let context_type: String = row.try_get("context_type")?;
    Ok(Conversation {
        id: uuid(row, "id")?.into(),
        context_type: ContextType::parse(&context_type).ok_or_else(|| {
            sqlx::Error::ColumnDecode {
                index: "context_type".into(),
                source: format!("unknown context type {context_type:?}").into(),
            }
        })?,
        context_id: uuid(row, "context_id")?,
        title: row.try_get("agency_name")?,
        created_by: Participant {
            id: uuid(row, "creator_id")?.into(),
            display_name: row.try_get("creator_name")?,
        },
        created_at: micros::to_time(row.try_get("created_at")?),
        last_message_at: micros::to_time(row.try_get("last_message_at")?),
    })
}

pub struct NewConversationRow {
    pub id: ConversationId,
    pub context_type: ContextType,
    pub context_id: Uuid,
    pub created_by: UserId,
    pub agency_id: AgencyId,
    pub created_at: i64,
}

/// Inserts unless the natural key exists; `false` when another request got there first.
#[tracing::instrument(skip_all, fields(conversation.id = %row.id))]
pub async fn insert<'e>(
    db: impl Executor<'e, Database = Any>,
    row: &NewConversationRow,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO conversations (id, context_type, context_id, created_by, agency_id, created_at, last_message_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) \
         ON CONFLICT (context_type, context_id, created_by) DO NOTHING",
    )
    .bind(row.id.to_string())
    .bind(row.context_type.as_str())
    .bind(row.context_id.to_string())
    .bind(row.created_by.to_string())
    .bind(row.agency_id.to_string())
    .bind(row.created_at)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[tracing::instrument(skip_all)]
pub async fn by_natural_key<'e>(
    db: impl Executor<'e, Database = Any>,
    context_type: ContextType,
    context_id: Uuid,
    created_by: UserId,
) -> sqlx::Result<Option<Conversation>> {
    let sql =
        format!("{SELECT} WHERE c.context_type = $1 AND c.context_id = $2 AND c.created_by = $3");
    let row = sqlx::query(&sql)
        .bind(context_type.as_str())
        .bind(context_id.to_string())
        .bind(created_by.to_string())
        .fetch_optional(db)
        .await?;
    row.as_ref().map(conversation).transpose()
}

/// The conversation, if `user` takes part in it; others get `None`, as for a missing one.
#[tracing::instrument(skip_all, fields(conversation.id = %id))]
pub async fn for_participant<'e>(
    db: impl Executor<'e, Database = Any>,
    id: ConversationId,
    user: UserId,
) -> sqlx::Result<Option<Conversation>> {
    let sql = format!("{SELECT} WHERE c.id = $2 AND {IS_PARTICIPANT}");
    let row = sqlx::query(&sql)
        .bind(user.to_string())
        .bind(id.to_string())
        .fetch_optional(db)
        .await?;
    row.as_ref().map(conversation).transpose()
}

/// Takes each conversation's next numbers (`counts`: how many each), for messages stored
/// at `at`, and marks the conversations active then; returns the first number of each.
/// PostgreSQL's batches of chat messages take theirs inside their one statement
/// ([`super::messages::number_insert_and_announce`]) by the same rule: a change here is
/// a change there (`sequence.rs` and `batches.rs` check both stores). Unconditional: on PostgreSQL the rows stay locked until the transaction ends, so a
/// conversation's writers take their numbers one after another and commit in that order,
/// and readers never see a gap.
///
/// One statement for all of them (a `VALUES` list joined on the key, padded by
/// [`super::sql::pairs_padded`]), not one each: a batch spread over 32
/// conversations took 32 round trips. That statement locks rows in its plan's order, so
/// on PostgreSQL the rows are first locked in id order, the one order every process
/// takes, or two processes sharing conversations could each wait for the other.
#[tracing::instrument(skip_all, fields(conversations = counts.len()))]
pub async fn take_seqs(
    tx: &mut super::Tx,
    counts: &BTreeMap<ConversationId, u64>,
    at: i64,
) -> sqlx::Result<BTreeMap<ConversationId, u64>> {
    let Some((&last_id, _)) = counts.last_key_value() else {
        return Ok(BTreeMap::new());
    };
    // Padding: a key no conversation has (ids are UUIDs).
    let nobody = format!("{last_id}-");
    if tx.backend() == super::Backend::Postgres && counts.len() > 1 {
        lock_in_id_order(tx, counts, &nobody).await?;
    }
    let (padded, rows) = super::sql::pairs_padded(counts.len(), 2);
    let sql = format!(
        "UPDATE conversations SET last_seq = last_seq + asked.column2, \
         last_message_at = CASE WHEN last_message_at < $1 THEN $1 ELSE last_message_at END \
         FROM (VALUES {rows}) AS asked WHERE conversations.id = asked.column1 \
         RETURNING conversations.id, conversations.last_seq"
    );
    let mut query = sqlx::query(&sql).bind(at);
    for (id, &count) in counts {
        let count = i64::try_from(count).map_err(|e| sqlx::Error::Encode(e.into()))?;
        query = query.bind(id.to_string()).bind(count);
    }
    for _ in counts.len()..padded {
        query = query.bind(nobody.as_str()).bind(0_i64);
    }
    let mut first = BTreeMap::new();
    for row in query.fetch_all(&mut **tx).await? {
        let id: ConversationId = uuid(&row, "id")?.into();
        let last: i64 = row.try_get("last_seq")?;
        let last = u64::try_from(last).map_err(|e| sqlx::Error::Decode(e.into()))?;
        let count = counts.get(&id).copied().unwrap_or_default();
        first.insert(id, last + 1 - count);
    }
    if first.len() != counts.len() {
        return Err(sqlx::Error::RowNotFound);
    }
    Ok(first)
}

/// Locks the conversations' rows in id order, with the lock an UPDATE takes (NO KEY), on
/// PostgreSQL; padded as [`take_seqs`]' statement is.
async fn lock_in_id_order(
    tx: &mut super::Tx,
    counts: &BTreeMap<ConversationId, u64>,
    nobody: &str,
) -> sqlx::Result<()> {
    let padded = counts.len().next_power_of_two();
    let sql = format!(
        "SELECT id FROM conversations WHERE id IN ({}) ORDER BY id FOR NO KEY UPDATE",
        super::sql::placeholders(1, padded)
    );
    let mut lock = sqlx::query(&sql);
    for id in counts.keys() {
        lock = lock.bind(id.to_string());
    }
    for _ in counts.len()..padded {
        lock = lock.bind(nobody);
    }
    lock.execute(&mut **tx).await?;
    Ok(())
}

/// Gives back the last `count` numbers [`take_seqs`] took when fewer messages were stored
/// under them (their `local_id`s were taken). Runs after the insert, under the same row
/// lock. When the batch stored none of its messages in the conversation, the activity
/// time [`take_seqs`] set goes back to the newest message's: the last in sequence, one
/// index lookup however long the conversation (with two processes whose clocks differ,
/// it can be a few milliseconds older than another message's). When it stored some,
/// their time is the right one and stays.
#[tracing::instrument(skip_all, fields(conversation.id = %id))]
pub async fn give_back_seqs<'e>(
    db: impl Executor<'e, Database = Any>,
    id: ConversationId,
    count: u64,
    stored_any: bool,
) -> sqlx::Result<()> {
    let count = i64::try_from(count).map_err(|e| sqlx::Error::Encode(e.into()))?;
    let sql = if stored_any {
        "UPDATE conversations SET last_seq = last_seq - $2 WHERE id = $1"
    } else {
        "UPDATE conversations SET last_seq = last_seq - $2, last_message_at = COALESCE(\
         (SELECT created_at FROM messages WHERE conversation_id = $1 ORDER BY seq DESC LIMIT 1), \
         created_at) \
         WHERE id = $1"
    };
    sqlx::query(sql)
        .bind(id.to_string())
        .bind(count)
        .execute(db)
        .await?;
    Ok(())
}

pub struct ListFilter {
    pub context_type: Option<ContextType>,
    pub context_id: Option<Uuid>,
    pub after: Option<ConversationCursor>,
    pub limit: u32,
}

/// The user's conversations, newest activity first.
#[tracing::instrument(skip_all)]
pub async fn list_for_user<'e>(
    db: impl Executor<'e, Database = Any>,
    user: UserId,
    filter: &ListFilter,
) -> sqlx::Result<Vec<Conversation>> {
    let mut sql = format!("{SELECT} WHERE {IS_PARTICIPANT}");
    let mut n = 1;
    let mut next = || {
        n += 1;
        n
    };
    if filter.context_type.is_some() {
        sql += &format!(" AND c.context_type = ${}", next());
    }
    // With a context this is the "does one exist?" check: it asks about the caller's own
    // conversation (the natural key), not ones the caller sees as an agency member.
    if filter.context_type.is_some() || filter.context_id.is_some() {
        sql += " AND c.created_by = $1";
    }
    if filter.context_id.is_some() {
        sql += &format!(" AND c.context_id = ${}", next());
    }
    if filter.after.is_some() {
        let (a, b) = (next(), next());
        sql += &format!(
            " AND (c.last_message_at < ${a} OR (c.last_message_at = ${a} AND c.id < ${b}))"
        );
    }
    sql += &format!(
        " ORDER BY c.last_message_at DESC, c.id DESC LIMIT ${}",
        next()
    );

    let mut query = sqlx::query(&sql).bind(user.to_string());
    if let Some(context_type) = filter.context_type {
        query = query.bind(context_type.as_str());
    }
    if let Some(context_id) = filter.context_id {
        query = query.bind(context_id.to_string());
    }
    if let Some(after) = filter.after {
        query = query.bind(after.at).bind(after.id.to_string());
    }
    let rows = query.bind(i64::from(filter.limit)).fetch_all(db).await?;
    rows.iter().map(conversation).collect()
}
