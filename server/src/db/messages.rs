//! Messages, unique per (conversation, local_id).

use super::sql::{pairs_padded, placeholders};
use super::uuid;
use messaging_core::device::DisplayData;
use messaging_core::wire::{Message, MessageCursor, Participant};
use messaging_core::{ConversationId, DeviceKind, LocalId, MessageId, UserId, micros};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

const SELECT: &str = "SELECT m.id, m.conversation_id, m.seq, m.local_id, m.sender_id, u.display_name AS sender_name, \
    m.body, m.user_agent, m.device_kind, m.created_at FROM messages m JOIN users u ON u.id = m.sender_id";

fn message(row: &AnyRow) -> sqlx::Result<Message> {
    let decode = |index: &str, source: String| sqlx::Error::ColumnDecode {
        index: index.into(),
        source: source.into(),
    };
    let local_id: String = row.try_get("local_id")?;
    let device_kind: String = row.try_get("device_kind")?;
    let seq: i64 = row.try_get("seq")?;
    Ok(Message {
        id: uuid(row, "id")?.into(),
        conversation_id: uuid(row, "conversation_id")?.into(),
        seq: u64::try_from(seq).map_err(|e| decode("seq", e.to_string()))?,
        local_id: LocalId::parse(&local_id).map_err(|e| decode("local_id", e.to_string()))?,
        sender: Participant {
            id: uuid(row, "sender_id")?.into(),
            display_name: row.try_get("sender_name")?,
        },
        text: row.try_get("body")?,
        created_at: micros::to_time(row.try_get("created_at")?),
        display_data: DisplayData {
            user_agent: row.try_get("user_agent")?,
            device_kind: DeviceKind::parse(&device_kind).unwrap_or(DeviceKind::Unknown),
        },
    })
}

pub struct NewMessageRow<'a> {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    /// Its number, from `conversations::take_seqs` in the same transaction; for
    /// [`number_insert_and_announce`], its place among the rows of its conversation.
    pub seq: u64,
    pub local_id: &'a LocalId,
    pub sender_id: UserId,
    pub text: &'a str,
    pub display_data: &'a DisplayData,
    pub created_at: i64,
}

/// The most rows one statement inserts (and one notification names): 9 parameters each,
/// far below either store's limit, and their ids fit in a `NOTIFY` payload (8,000 bytes).
pub const MAX_ROWS_PER_INSERT: usize = 64;

/// Inserts the rows in one statement, skipping any whose `local_id` is taken in its
/// conversation, and announces them; returns how many were inserted.
///
/// Announcing: on PostgreSQL the same statement sends a `NOTIFY` with the rows' ids (to
/// every server process; delivered only if the transaction commits), so it costs no round
/// trip of its own while the conversations' rows are locked. SQLite has one process and no
/// `NOTIFY`; there the writer publishes after its commit.
#[tracing::instrument(skip_all, fields(rows = rows.len()))]
pub async fn insert_and_announce(
    tx: &mut super::Tx,
    rows: &[NewMessageRow<'_>],
) -> sqlx::Result<u64> {
    assert!(
        rows.len() <= MAX_ROWS_PER_INSERT,
        "at most {MAX_ROWS_PER_INSERT} rows"
    );
    if rows.is_empty() {
        return Ok(0);
    }
    let backend = tx.backend();
    let sql = insert_sql(rows.len(), backend);
    let mut query = sqlx::query(&sql);
    for row in rows {
        query = query
            .bind(row.id.to_string())
            .bind(row.conversation_id.to_string())
            .bind(seq_value(row.seq))
            .bind(row.local_id.as_str())
            .bind(row.sender_id.to_string())
            .bind(row.text)
            .bind(row.display_data.user_agent.as_deref())
            .bind(row.display_data.device_kind.as_str())
            .bind(row.created_at);
    }
    if backend == super::Backend::Sqlite {
        return Ok(query.execute(&mut **tx).await?.rows_affected());
    }
    let ids: Vec<String> = rows.iter().map(|row| row.id.to_string()).collect();
    let inserted: i64 = query
        .bind(NEW_MESSAGE_CHANNEL)
        .bind(ids.join(","))
        .fetch_one(&mut **tx)
        .await?
        .try_get("inserted")?;
    Ok(u64::try_from(inserted).unwrap_or_default())
}

/// The insert of `rows` rows (9 parameters each). On PostgreSQL, a statement that also
/// notifies (its channel and payload the last two parameters) and returns the count of
/// rows inserted. On SQLite the parameters are `?`, bound in order: SQLite finds a named
/// one (`$n`) by a linear search of the statement's names, which for up to 576 of them
/// took 2.5% of the server's CPU under load (perf).
fn insert_sql(rows: usize, backend: super::Backend) -> String {
    let parameters_of_row = |n: usize| match backend {
        super::Backend::Sqlite => ["?"; 9].join(", "),
        super::Backend::Postgres => placeholders(n * 9 + 1, 9),
    };
    let values = (0..rows)
        .map(|n| format!("({})", parameters_of_row(n)))
        .collect::<Vec<_>>()
        .join(", ");
    let insert = format!(
        "INSERT INTO messages (id, conversation_id, seq, local_id, sender_id, body, user_agent, device_kind, created_at) \
         VALUES {values} ON CONFLICT (conversation_id, local_id) DO NOTHING"
    );
    if backend == super::Backend::Sqlite {
        return insert;
    }
    // A data-modifying WITH runs whether or not it is read; `pg_notify` in FROM runs once
    // (it returns `void`, which the Any driver cannot decode as a column).
    let (channel, payload) = (rows * 9 + 1, rows * 9 + 2);
    format!(
        "WITH inserted AS ({insert} RETURNING 1) \
         SELECT (SELECT COUNT(*) FROM inserted) AS inserted FROM pg_notify(${channel}, ${payload})"
    )
}

/// PostgreSQL: numbers, inserts and announces new messages in ONE statement, which is its
/// own transaction: one round trip, where a transaction takes four (BEGIN, the numbers,
/// the insert with its `NOTIFY`, COMMIT) and holds the conversations' rows locked over
/// three of them. Each row's `seq` here is its place among the rows of its conversation
/// (0, 1, …); the statement locks the conversations' rows in id order and takes their
/// numbers by [`super::conversations::take_seqs`]' rule (a change there is a change
/// here), so two processes never deadlock, then inserts. Returns each row's number, in order; `None`
/// when a row's `local_id` is stored already in its conversation: the statement then
/// failed on that constraint, so nothing of it is stored and no number is taken.
#[tracing::instrument(skip_all, fields(rows = rows.len()))]
pub async fn number_insert_and_announce<'e>(
    db: impl Executor<'e, Database = Any>,
    rows: &[NewMessageRow<'_>],
) -> sqlx::Result<Option<Vec<u64>>> {
    let json_rows: Vec<RowAsJson<'_>> = rows.iter().map(RowAsJson::from).collect();
    let json_rows = serde_json::to_string(&json_rows).map_err(|e| sqlx::Error::Encode(e.into()))?;
    let ids: Vec<String> = rows.iter().map(|row| row.id.to_string()).collect();
    let numbered = sqlx::query(NUMBER_INSERT_AND_ANNOUNCE)
        .bind(json_rows)
        .bind(NEW_MESSAGE_CHANNEL)
        .bind(ids.join(","))
        .fetch_all(db)
        .await;
    let numbered = match numbered {
        Ok(numbered) => numbered,
        Err(sqlx::Error::Database(error)) if error.constraint() == Some(LOCAL_ID_CONSTRAINT) => {
            return Ok(None);
        }
        Err(error) => return Err(error),
    };
    let mut seqs = std::collections::HashMap::with_capacity(numbered.len());
    for row in &numbered {
        let id: String = row.try_get("id")?;
        let seq: i64 = row.try_get("seq")?;
        seqs.insert(
            id,
            u64::try_from(seq).map_err(|e| sqlx::Error::Decode(e.into()))?,
        );
    }
    ids.iter()
        .map(|id| seqs.get(id).copied().ok_or(sqlx::Error::RowNotFound))
        .collect::<sqlx::Result<_>>()
        .map(Some)
}

/// The unique constraint on (conversation_id, local_id): a message stored once.
const LOCAL_ID_CONSTRAINT: &str = "messages_local_id";

/// A row of [`number_insert_and_announce`], as `json_to_recordset` reads it: one
/// parameter for the whole batch, so one statement text whatever its size (prepared once
/// per connection).
#[derive(serde::Serialize)]
struct RowAsJson<'a> {
    id: String,
    conversation_id: String,
    place: u64,
    local_id: &'a str,
    sender_id: String,
    body: &'a str,
    user_agent: Option<&'a str>,
    device_kind: &'a str,
    created_at: i64,
}

impl<'a> From<&NewMessageRow<'a>> for RowAsJson<'a> {
    fn from(row: &NewMessageRow<'a>) -> Self {
        Self {
            id: row.id.to_string(),
            conversation_id: row.conversation_id.to_string(),
            place: row.seq,
            local_id: row.local_id.as_str(),
            sender_id: row.sender_id.to_string(),
            body: row.text,
            user_agent: row.display_data.user_agent.as_deref(),
            device_kind: row.display_data.device_kind.as_str(),
            created_at: row.created_at,
        }
    }
}

/// The statement of [`number_insert_and_announce`]. `locked` takes the rows' locks in id
/// order before the UPDATE touches them (it reads them through `locked`). A conversation
/// that is not there leaves its rows' `seq` NULL: the insert fails, nothing is stored.
/// `pg_notify` in FROM runs once (it returns `void`, which the Any driver cannot decode).
const NUMBER_INSERT_AND_ANNOUNCE: &str = "\
WITH batch AS (
    SELECT * FROM json_to_recordset($1::json) AS b(
        id TEXT, conversation_id TEXT, place BIGINT, local_id TEXT, sender_id TEXT,
        body TEXT, user_agent TEXT, device_kind TEXT, created_at BIGINT)
), asked AS (
    SELECT conversation_id, COUNT(*) AS n, MAX(created_at) AS at FROM batch GROUP BY conversation_id
), locked AS (
    SELECT c.id, asked.n, asked.at FROM conversations c JOIN asked ON asked.conversation_id = c.id
    ORDER BY c.id FOR NO KEY UPDATE OF c
), numbered AS (
    UPDATE conversations SET last_seq = last_seq + locked.n,
        last_message_at = GREATEST(last_message_at, locked.at)
    FROM locked WHERE conversations.id = locked.id
    RETURNING conversations.id, conversations.last_seq - locked.n AS before
), inserted AS (
    INSERT INTO messages (id, conversation_id, seq, local_id, sender_id, body, user_agent, device_kind, created_at)
    SELECT batch.id, batch.conversation_id,
        (SELECT numbered.before FROM numbered WHERE numbered.id = batch.conversation_id) + batch.place + 1,
        batch.local_id, batch.sender_id, batch.body, batch.user_agent, batch.device_kind, batch.created_at
    FROM batch
    RETURNING id, seq
)
SELECT inserted.id, inserted.seq FROM inserted, pg_notify($2, $3)";

/// The PostgreSQL `NOTIFY` channel that carries the ids of new messages, comma-separated.
pub const NEW_MESSAGE_CHANNEL: &str = "new_message";

#[tracing::instrument(skip_all, fields(conversation.id = %conversation, message.local_id = %local_id))]
pub async fn by_local_id<'e>(
    db: impl Executor<'e, Database = Any>,
    conversation: ConversationId,
    local_id: &LocalId,
) -> sqlx::Result<Option<Message>> {
    let sql = format!("{SELECT} WHERE m.conversation_id = $1 AND m.local_id = $2");
    let row = sqlx::query(&sql)
        .bind(conversation.to_string())
        .bind(local_id.as_str())
        .fetch_optional(db)
        .await?;
    row.as_ref().map(message).transpose()
}

/// The messages with these ids (at most [`MAX_ROWS_PER_INSERT`], as one `NOTIFY` names),
/// each conversation's in sequence.
#[tracing::instrument(skip_all, fields(ids = ids.len()))]
pub async fn by_ids<'e>(
    db: impl Executor<'e, Database = Any>,
    ids: &[MessageId],
) -> sqlx::Result<Vec<Message>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "{SELECT} WHERE m.id IN ({}) ORDER BY m.conversation_id, m.seq",
        placeholders(1, ids.len())
    );
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(id.to_string());
    }
    let rows = query.fetch_all(db).await?;
    rows.iter().map(message).collect()
}

/// The messages stored under these `(conversation, local_id)` pairs.
///
/// The pairs are a `VALUES` list joined on both columns of the unique index, so each is
/// one index lookup whatever the planner's statistics say. Two lists (`conversation_id IN
/// (…) AND local_id IN (…)`), or `OR`ed pairs of one conversation, let PostgreSQL scan the
/// whole conversation by `messages_by_seq` instead when it underestimates the
/// conversation's size (a busy one, or statistics from when it was small): 5–9 ms a
/// batch after a few thousand messages (auto_explain), and growing with the conversation.
///
/// The list is padded ([`pairs_padded`]) with pairs no message has (an empty `local_id`).
#[tracing::instrument(skip_all, fields(pairs = pairs.len()))]
pub async fn by_local_ids<'e>(
    db: impl Executor<'e, Database = Any>,
    pairs: &[(ConversationId, &LocalId)],
) -> sqlx::Result<Vec<Message>> {
    let Some(&(last_conversation, _)) = pairs.last() else {
        return Ok(Vec::new());
    };
    let (padded, rows) = pairs_padded(pairs.len(), 1);
    let sql = format!(
        "{SELECT} JOIN (VALUES {rows}) AS asked \
         ON m.conversation_id = asked.column1 AND m.local_id = asked.column2"
    );
    let mut query = sqlx::query(&sql);
    for (conversation, local_id) in pairs {
        query = query.bind(conversation.to_string()).bind(local_id.as_str());
    }
    for _ in pairs.len()..padded {
        query = query.bind(last_conversation.to_string()).bind("");
    }
    let rows = query.fetch_all(db).await?;
    rows.iter().map(message).collect()
}

/// A sequence number as the store keeps it (BIGINT).
fn seq_value(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// The newest `limit` messages, in sequence: what a conversation opens on.
#[tracing::instrument(skip_all, fields(conversation.id = %conversation))]
pub async fn latest<'e>(
    db: impl Executor<'e, Database = Any>,
    conversation: ConversationId,
    limit: u32,
) -> sqlx::Result<Vec<Message>> {
    let sql = format!("{SELECT} WHERE m.conversation_id = $1 ORDER BY m.seq DESC LIMIT $2");
    let rows = sqlx::query(&sql)
        .bind(conversation.to_string())
        .bind(i64::from(limit))
        .fetch_all(db)
        .await?;
    rows.iter().rev().map(message).collect()
}

/// The `limit` messages just before `before`, in sequence.
#[tracing::instrument(skip_all, fields(conversation.id = %conversation))]
pub async fn before<'e>(
    db: impl Executor<'e, Database = Any>,
    conversation: ConversationId,
    before: MessageCursor,
    limit: u32,
) -> sqlx::Result<Vec<Message>> {
    let sql = format!(
        "{SELECT} WHERE m.conversation_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3"
    );
    let rows = sqlx::query(&sql)
        .bind(conversation.to_string())
        .bind(seq_value(before.seq))
        .bind(i64::from(limit))
        .fetch_all(db)
        .await?;
    rows.iter().rev().map(message).collect()
}

/// Messages in sequence, after `after` (from the first without it).
#[tracing::instrument(skip_all, fields(conversation.id = %conversation))]
pub async fn page<'e>(
    db: impl Executor<'e, Database = Any>,
    conversation: ConversationId,
    after: Option<MessageCursor>,
    limit: u32,
) -> sqlx::Result<Vec<Message>> {
    let sql =
        format!("{SELECT} WHERE m.conversation_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3");
    let rows = sqlx::query(&sql)
        .bind(conversation.to_string())
        .bind(seq_value(after.map_or(0, |cursor| cursor.seq)))
        .bind(i64::from(limit))
        .fetch_all(db)
        .await?;
    rows.iter().map(message).collect()
}
