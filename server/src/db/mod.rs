//! The store: one sqlx `Any` pool over SQLite (embedded default) or PostgreSQL, chosen by
//! `DATABASE_URL`. The schema is written so the same SQL runs on both; SQL lives only
//! in this module's children.

pub mod conversations;
pub mod directory;
pub mod idempotency_keys;
pub mod messages;
pub mod seed;
pub mod sessions;
mod sql;
mod writer;

use anyhow::Context;
use messaging_core::micros;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyConnection, AnyPool, Connection, Executor, Transaction};
use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

pub use writer::WriteError;

/// The schema's migrations (`server/migrations/`), compiled into the binary. sqlx's
/// `migrate!` macro would do the same, but its macros crate compiles sqlx and both
/// drivers a second time for the build host: minutes of every cold release build.
#[derive(Debug)]
struct EmbeddedMigrations;

impl MigrationSource<'static> for EmbeddedMigrations {
    fn resolve(
        self,
    ) -> futures_util::future::BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        // Version and description as sqlx reads them from `<version>_<description>.sql`;
        // the checksum is the SQL's, so databases migrated by `migrate!` stay valid.
        let migration = |version, description: &'static str, sql: &'static str| {
            Migration::new(
                version,
                description.into(),
                MigrationType::Simple,
                sql.into(),
                false,
            )
        };
        let migrations = vec![
            migration(
                20261122000001,
                "schema",
                include_str!("../../migrations/20261122000001_schema.sql"),
            ),
            migration(
                20261129000001,
                "message sequence",
                include_str!("../../migrations/20261129000001_message_sequence.sql"),
            ),
        ];
        Box::pin(async move { Ok(migrations) })
    }
}

/// A write transaction; it derefs to the connection its statements run on.
pub enum Tx {
    /// A savepoint in SQLite's shared, group-committed transaction (see [`writer`]).
    Sqlite(writer::WriteTx),
    Postgres(Transaction<'static, sqlx::Any>),
}

impl Tx {
    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    pub async fn rollback(self) -> Result<(), WriteError> {
        match self {
            Self::Sqlite(tx) => tx.rollback().await,
            Self::Postgres(tx) => Ok(tx.rollback().await?),
        }
    }
}

impl Deref for Tx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            Self::Sqlite(tx) => tx,
            Self::Postgres(tx) => tx,
        }
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            Self::Sqlite(tx) => tx,
            Self::Postgres(tx) => tx,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Db {
    /// Reads, and PostgreSQL's write transactions.
    pool: AnyPool,
    /// SQLite's write transactions, on ONE connection: SQLite allows one writer at a
    /// time, and writers that wait in its queue wait in order and wake at once, where
    /// writers racing for the file lock sleep in SQLite's busy handler (naps of 1 to
    /// 100 ms, which make the tail latency). Its commits are grouped: one fsync per batch.
    sqlite_writer: Option<writer::Writer>,
}

/// Set on every PostgreSQL connection of the pool (a batch of messages is one statement
/// outside any transaction, so `SET LOCAL` would not reach it). Migrations run on a
/// connection of their own, without them: another process's may take longer.
/// - `lock_timeout`: how long a statement waits for a lock another transaction holds. On
///   the idempotency key's row (the same key in flight in another process) the wait ends
///   in 409; on any other row it is contention and ends in 503 with Retry-After.
/// - `idle_in_transaction_session_timeout`: a transaction whose client stopped talking
///   (a request given up on a connection that went silent) would keep its row locks, and
///   every process's writes to those rows would end in 503, until PostgreSQL noticed the
///   client gone; it ends the session instead. None of ours pauses that long.
/// - `tcp_keepalives_*`: PostgreSQL's probes find a client gone without a word (its host
///   gone, a NAT that forgot it) within about a minute, not the system's two hours.
/// - `statement_timeout`: a statement still running after 15 s is cancelled (503). One
///   given up at its deadline ([`STATEMENT_DEADLINE`], 10 s) would otherwise run on in
///   PostgreSQL until it answered, and slow statements would pile up there behind a
///   stuck moment. None of ours takes a fraction of that.
const SESSION_SETTINGS: &str = "SET lock_timeout = '2s'; SET statement_timeout = '15s'; \
     SET idle_in_transaction_session_timeout = '10s'; \
     SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3";

impl Db {
    /// Connects, creating the SQLite file and its folder when missing, and runs the
    /// migrations; an error here stops startup. The pool has `pool_size` connections
    /// at most, by default 8 on SQLite (they only read: writes have a connection of
    /// their own) and 16 on PostgreSQL.
    pub async fn connect(url: &str, pool_size: Option<u32>) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres:");
        };
        if backend == Backend::Sqlite {
            create_sqlite_parent_dir(url)?;
        }
        let options = AnyConnectOptions::from_str(url).context("Failed to parse DATABASE_URL")?;
        let pool = match backend {
            Backend::Sqlite => pool_options(backend, pool_size.unwrap_or(8), Access::ReadOnly),
            Backend::Postgres => pool_options(backend, pool_size.unwrap_or(16), Access::ReadWrite),
        }
        .connect_with(options.clone())
        .await
        .context("Failed to connect to the database")?;
        let sqlite_writer = match backend {
            Backend::Sqlite => {
                let mut connection = pool_options(backend, 1, Access::ReadWrite)
                    .connect_with(options)
                    .await
                    .context("Failed to connect the SQLite writer")?
                    .acquire()
                    .await
                    .context("Failed to open the SQLite writer's connection")?;
                migrate(&mut *connection).await?;
                Some(writer::Writer::new(connection))
            }
            Backend::Postgres => {
                let mut connection = AnyConnection::connect_with(&options)
                    .await
                    .context("Failed to connect for the migrations")?;
                migrate(&mut connection).await?;
                connection.close().await?;
                None
            }
        };
        Ok(Self {
            pool,
            sqlite_writer,
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred read that later upgrades gets SQLITE_BUSY without
    /// waiting. On PostgreSQL its lock waits are bounded by the connection's `lock_timeout`.
    pub async fn begin_write(&self) -> Result<Tx, WriteError> {
        match &self.sqlite_writer {
            Some(writer) => Ok(Tx::Sqlite(writer.begin().await?)),
            None => Ok(Tx::Postgres(self.pool.begin().await?)),
        }
    }

    pub fn backend(&self) -> Backend {
        if self.sqlite_writer.is_some() {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }

    /// `work` on the store, within [`STATEMENT_DEADLINE`] on PostgreSQL: for work that
    /// others wait behind, or that holds something (a pool connection, a key in flight)
    /// until it ends. On SQLite as it is: nothing there goes silent, the writer bounds
    /// its own waits, and a write transaction must not be dropped halfway.
    pub async fn in_time<T, E: From<sqlx::Error>>(
        &self,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        if self.backend() == Backend::Sqlite {
            return work.await;
        }
        tokio::time::timeout(STATEMENT_DEADLINE, work)
            .await
            .unwrap_or_else(|_| Err(no_answer_in_time().into()))
    }

    /// Whether the store answers, and (SQLite) the group commit still runs.
    pub async fn is_healthy(&self) -> bool {
        let committing = self
            .sqlite_writer
            .as_ref()
            .is_none_or(writer::Writer::is_committing);
        committing && sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

/// Commits a write transaction. The crash tests' fault points sit on either side of
/// the commit (see `server/src/crash.rs`): the two moments a crash must lose nothing
/// that was acknowledged and double nothing that is retried.
pub async fn commit(tx: Tx) -> Result<(), WriteError> {
    crate::crash::point("before_commit");
    match tx {
        Tx::Sqlite(tx) => tx.commit().await?,
        Tx::Postgres(tx) => tx.commit().await?,
    }
    crate::crash::point("after_commit");
    Ok(())
}

async fn migrate<'a>(target: impl sqlx::Acquire<'a, Database = sqlx::Any>) -> anyhow::Result<()> {
    Migrator::new(EmbeddedMigrations)
        .await
        .context("Failed to read the migrations")?
        .run(target)
        .await
        .context("Failed to run migrations")
}

/// Whether a pool's connections may write. SQLite's shared pool only reads
/// (`query_only`): every write goes through the writer's connection, so none races it
/// for the file lock.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadOnly,
    ReadWrite,
}

/// How long a PostgreSQL connection is used without a check after it was last returned
/// to the pool. sqlx pings each connection as it comes back (so a connection that
/// failed is closed there, never handed out); one that then waits longer may have gone
/// stale meanwhile (a server restart, a proxy's idle timeout), and is pinged before use.
/// HikariCP skips its check the same way for connections used within the last 500 ms
/// (`aliveBypassWindowMs`). A SQLite connection is an open file, which cannot go stale.
const TRUSTED_WHILE_IDLE: Duration = Duration::from_secs(1);

/// How long a PostgreSQL statement, or a short transaction, that others wait behind may
/// take (`Db::in_time`): a batch of messages, an intent run to its end, the live
/// streams' reads. Its lock waits are bounded (2 s each, [`SESSION_SETTINGS`]), but sqlx
/// sets no TCP keep-alive: on a connection whose peer went silent it waits for an answer
/// until the system gives up on the connection (some 15 minutes of retransmissions
/// after a write, never while a peer's TCP still acknowledges, as a stuck proxy's
/// does), and everything behind it with it. Past the deadline the work is dropped, and
/// the pool closes the connection if it does not answer its check.
pub const STATEMENT_DEADLINE: Duration = Duration::from_secs(10);

/// Sends `payload` on a PostgreSQL `NOTIFY` channel, to every process listening (this
/// one's too).
pub async fn notify<'e>(
    db: impl sqlx::Executor<'e, Database = sqlx::Any>,
    channel: &str,
    payload: &str,
) -> sqlx::Result<()> {
    // `pg_notify` in FROM: it returns `void`, a type the Any driver cannot decode.
    sqlx::query("SELECT 1 FROM pg_notify($1, $2)")
        .bind(channel)
        .bind(payload)
        .execute(db)
        .await?;
    Ok(())
}

/// The error of work given up at a deadline: a lost connection (503, retried by clients).
pub fn no_answer_in_time() -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "no answer from PostgreSQL in time",
    ))
}

/// How long a PostgreSQL connection left idle is kept: less than the idle timeouts of
/// the NATs and load balancers between a server and its database (Azure's 4 minutes,
/// AWS NAT Gateway's 350 s), past which they forget a connection without a word and a
/// check on it would wait for an answer that never comes. Older idle ones are closed
/// and replaced, at the cost of a new connection.
const KEPT_WHILE_IDLE: Duration = Duration::from_secs(120);

/// How long an idle PostgreSQL connection has to answer the check before its use (a
/// `Sync`, which an idle server answers within a millisecond). Short, as the request
/// waits on it, and may meet several silent connections in turn within the 10 s it
/// waits for a connection.
const CHECK_BEFORE_USE: Duration = Duration::from_secs(2);

/// How long a PostgreSQL connection has to answer the check as it comes back to the
/// pool, past which the pool drops it. sqlx makes its own check there, with no deadline:
/// after a request gave up on a connection that went silent, it would hold that
/// connection's place in the pool for good. A connection given up mid-statement first
/// finishes that statement (a lock wait takes up to 2 s), so this is longer than the
/// check before use; nobody waits on it unless the pool is full.
const CHECK_ON_RETURN: Duration = Duration::from_secs(5);

/// Pings a PostgreSQL connection within `deadline`; past it, an error, and the pool
/// drops the connection without a goodbye (which could itself wait, if the peer stopped
/// taking bytes while a large statement was being sent: sqlx flushes before it shuts
/// the socket).
async fn check_in_time(conn: &mut AnyConnection, deadline: Duration) -> Result<(), sqlx::Error> {
    tokio::time::timeout(deadline, conn.ping())
        .await
        .unwrap_or_else(|_| Err(no_answer_in_time()))
}

fn pool_options(backend: Backend, size: u32, access: Access) -> AnyPoolOptions {
    let options = AnyPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(Duration::from_secs(10))
        // sqlx's own check before each use is off: it is a ping, a round trip to
        // PostgreSQL on every acquire (for SQLite, a trip to the connection's thread).
        .test_before_acquire(false);
    if backend == Backend::Sqlite {
        return options.after_connect(move |conn, _meta| {
            Box::pin(async move { configure_sqlite(conn, access).await })
        });
    }
    options
        .idle_timeout(KEPT_WHILE_IDLE)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= KEPT_WHILE_IDLE {
                    return Ok(false);
                }
                if meta.idle_for >= TRUSTED_WHILE_IDLE {
                    check_in_time(conn, CHECK_BEFORE_USE).await?;
                }
                Ok(true)
            })
        })
        // sqlx's own check follows, unbounded: it then runs on a connection that has
        // just answered.
        .after_release(|conn, _meta| {
            Box::pin(async move {
                check_in_time(conn, CHECK_ON_RETURN).await?;
                Ok(true)
            })
        })
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(SESSION_SETTINGS).await?;
                Ok(())
            })
        })
}

async fn configure_sqlite(conn: &mut AnyConnection, access: Access) -> Result<(), sqlx::Error> {
    // WAL lets readers run beside the one writer; FULL syncs each commit, so an
    // acknowledged message survives a power cut too. A statement that may fail half-way
    // (a batch's multi-row insert) keeps its undo journal in memory, not in a temporary
    // file: it only lives for the statement, and is no part of durability.
    for pragma in [
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = FULL",
        "PRAGMA temp_store = MEMORY",
        "PRAGMA foreign_keys = ON",
        "PRAGMA busy_timeout = 10000",
    ] {
        conn.execute(pragma).await?;
    }
    if access == Access::ReadOnly {
        conn.execute("PRAGMA query_only = ON").await?;
    }
    Ok(())
}

fn create_sqlite_parent_dir(url: &str) -> anyhow::Result<()> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("Failed to create {}", parent.display()))?;
    }
    Ok(())
}

/// Whether an error means "another transaction holds what we need; try again soon":
/// PostgreSQL's lock or statement timeout, or SQLite still locked after its busy timeout,
/// also when it failed the group commit a write was part of.
pub fn is_write_contention(error: &WriteError) -> bool {
    match error {
        WriteError::Store(error) => is_contention(error),
        WriteError::BatchFailed(error) => is_contention(error),
        WriteError::CommitterStopped | WriteError::Stalled => false,
    }
}

/// Whether the connection to the store broke under a write: PostgreSQL restarted, failed
/// over, or ended the connection (its class 08 and 57P01–57P03 codes, or the socket
/// failed).
pub fn is_connection_lost(error: &WriteError) -> bool {
    match error {
        WriteError::Store(error) => connection_lost(error),
        WriteError::BatchFailed(error) => connection_lost(error),
        WriteError::CommitterStopped | WriteError::Stalled => false,
    }
}

fn connection_lost(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// [`is_write_contention`] for a single statement's error.
pub fn is_contention(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            matches!(
                db.code().as_deref(),
                Some("55P03" | "57014" | "40001" | "40P01" | "5" | "6" | "517")
            ) || db.message().contains("database is locked")
        }
        sqlx::Error::PoolTimedOut => true,
        _ => false,
    }
}

/// A new id for a row kept in a primary-key index: time-ordered (UUIDv7), so each insert
/// lands at the index's end instead of on a random page of it. A batch of messages then
/// changes a page or two of that index, not one per message, and each changed page is
/// written again at the commit (SQLite's WAL, PostgreSQL's full-page writes).
pub fn time_ordered_id<T: From<Uuid>>() -> T {
    Uuid::now_v7().into()
}

/// Now, at the store's precision (times are stored as Unix microseconds), so what is
/// returned equals what a re-read gives.
pub fn now() -> OffsetDateTime {
    micros::to_time(micros::from_time(OffsetDateTime::now_utc()))
}

/// Reads a UUID stored as text.
pub fn uuid(row: &sqlx::any::AnyRow, column: &str) -> sqlx::Result<Uuid> {
    use sqlx::Row;
    let text: String = row.try_get(column)?;
    Uuid::parse_str(&text).map_err(|e| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: Box::new(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The ids are stored as text: made one after another, they sort in that order as
    /// text too (so each lands at the end of the primary-key index).
    #[test]
    fn ids_made_in_turn_sort_in_turn_as_text() {
        let ids: Vec<String> = (0..1_000)
            .map(|_| time_ordered_id::<Uuid>().to_string())
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    /// The embedded list and `server/migrations/` cannot drift apart: a new file that is
    /// not embedded, or an embedded one edited, fails here.
    #[tokio::test]
    async fn every_migration_file_is_embedded_unchanged() {
        let directory = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"));
        let from_files = Migrator::new(directory).await.expect("migration files");
        let embedded = Migrator::new(EmbeddedMigrations).await.expect("embedded");
        let summary = |migrator: &Migrator| {
            migrator
                .iter()
                .map(|m| (m.version, m.description.to_string(), m.checksum.to_vec()))
                .collect::<Vec<_>>()
        };
        assert_eq!(summary(&embedded), summary(&from_files));
    }

    /// Messages stored before sequences existed are numbered by the order they were
    /// listed in (time, then id), and the counters continue from there.
    #[tokio::test]
    async fn the_sequence_migration_numbers_the_messages_already_stored() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/old.db?mode=rwc", dir.path().display());
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .expect("a database");
        // The schema as it was: the first migration only.
        let mut first_only = Migrator::new(EmbeddedMigrations).await.expect("migrations");
        first_only.migrations = first_only.migrations[..1].to_vec().into();
        first_only.run(&pool).await.expect("the first migration");
        for sql in [
            "INSERT INTO users (id, username, display_name, password_hash, created_at) VALUES ('u', 'u', 'U', 'x', 0)",
            "INSERT INTO agencies (id, slug, name, description) VALUES ('a', 'a', 'A', '')",
            "INSERT INTO conversations (id, context_type, context_id, created_by, agency_id, created_at, last_message_at) \
             VALUES ('c1', 'agency_inquiry', 'a', 'u', 'a', 0, 30), ('c2', 'agency_inquiry', 'b', 'u', 'a', 0, 10)",
            // Out of insertion order, and two at the same time (the id decides).
            "INSERT INTO messages (id, conversation_id, local_id, sender_id, body, device_kind, created_at) VALUES \
             ('m3', 'c1', 'l3', 'u', 't', 'unknown', 30), ('m1', 'c1', 'l1', 'u', 't', 'unknown', 10), \
             ('m2b', 'c1', 'l2b', 'u', 't', 'unknown', 20), ('m2a', 'c1', 'l2a', 'u', 't', 'unknown', 20), \
             ('n1', 'c2', 'k1', 'u', 't', 'unknown', 10)",
        ] {
            sqlx::query(sql).execute(&pool).await.expect("old rows");
        }
        pool.close().await;

        let db = Db::connect(&url, None).await.expect("migrated");
        let numbered: Vec<(String, i64)> =
            sqlx::query_as("SELECT id, seq FROM messages ORDER BY conversation_id, seq")
                .fetch_all(db.pool())
                .await
                .expect("messages");
        let expected = [("m1", 1), ("m2a", 2), ("m2b", 3), ("m3", 4), ("n1", 1)];
        let expected: Vec<(String, i64)> = expected
            .iter()
            .map(|(id, seq)| ((*id).to_owned(), *seq))
            .collect();
        assert_eq!(numbered, expected);
        let counters: Vec<(String, i64)> =
            sqlx::query_as("SELECT id, last_seq FROM conversations ORDER BY id")
                .fetch_all(db.pool())
                .await
                .expect("conversations");
        assert_eq!(counters, [("c1".to_owned(), 4), ("c2".to_owned(), 1)]);
    }
}
