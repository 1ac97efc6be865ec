//! SQLite's one writer, with group commit.
//!
//! SQLite allows one write transaction at a time, and with `synchronous = FULL` each
//! commit waits for an fsync. Here every write transaction is a SAVEPOINT inside one
//! shared `BEGIN IMMEDIATE` transaction: writers take turns on the connection (a fair
//! queue), and a committer commits whatever savepoints were released since the last
//! commit, with one fsync for all of them. The committer queues behind the writers
//! already waiting, so under load a batch holds every request that arrived meanwhile;
//! alone, a writer is committed at once.
//!
//! A writer is answered only after the commit that made its writes durable, so nothing
//! is acknowledged that a crash could lose. A writer that fails (or is dropped) rolls
//! back to its savepoint and leaves the others' writes alone. If that is impossible
//! (SQLite rolled the whole transaction back, say on a full disk), the whole batch is
//! rolled back and every writer in it gets an error: none of them was answered yet.
//!
//! No wait here is unbounded: a writer that cannot get the connection, or whose commit
//! does not come, within [`WAIT_LIMIT`] gives up with [`WriteError::Stalled`] (a 503 with
//! `Retry-After`: its retry replays or redoes it, as the key says). A committer that
//! stopped (it panicked, say) is seen by `/healthz`, so the process gets replaced.

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Executor};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, Notify, OwnedMutexGuard, oneshot};
use tokio::task::AbortHandle;

/// How long a writer waits for the connection, and then for the commit of its writes.
/// Far above a busy moment's wait (milliseconds: one fsync per batch); SQLite's own
/// busy timeout is as long.
pub const WAIT_LIMIT: Duration = Duration::from_secs(10);

type Outcome = Result<(), Arc<sqlx::Error>>;

/// Why a write transaction failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Store(#[from] sqlx::Error),
    /// The shared transaction this write was released into failed to commit (or was
    /// lost): none of its writes are stored.
    #[error("the group commit failed: {0}")]
    BatchFailed(Arc<sqlx::Error>),
    /// The committer is gone; no write can become durable.
    #[error("the committer stopped")]
    CommitterStopped,
    /// The connection or the commit did not come within the wait limit.
    #[error("the writer did not answer in time")]
    Stalled,
}

const ROLLBACK_SAVEPOINT: [&str; 2] = ["ROLLBACK TO write", "RELEASE write"];

#[derive(Clone, Debug)]
pub struct Writer {
    shared: Arc<Mutex<Connection>>,
    released: Arc<Notify>,
    /// Commits made, for the tests.
    #[cfg(test)]
    commits: Arc<AtomicU64>,
    committer: AbortHandle,
    wait_limit: Duration,
}

#[derive(Debug)]
struct Connection {
    conn: PoolConnection<Any>,
    /// A `BEGIN IMMEDIATE` transaction is open.
    in_transaction: bool,
    /// A writer's savepoint is open: set while it writes, still set if it was dropped
    /// without finishing.
    savepoint_open: bool,
    /// Writers whose savepoint was released into the open transaction, waiting for it
    /// to commit.
    waiting: Vec<oneshot::Sender<Outcome>>,
}

impl Writer {
    /// Takes the connection and starts the committer, which lives as long as the writer.
    pub fn new(conn: PoolConnection<Any>) -> Self {
        Self::with_wait_limit(conn, WAIT_LIMIT)
    }

    fn with_wait_limit(conn: PoolConnection<Any>, wait_limit: Duration) -> Self {
        let shared = Arc::new(Mutex::new(Connection {
            conn,
            in_transaction: false,
            savepoint_open: false,
            waiting: Vec::new(),
        }));
        let released = Arc::new(Notify::new());
        let commits: Arc<AtomicU64> = Arc::default();
        let committer = tokio::spawn(commit_released_work(
            Arc::downgrade(&shared),
            Arc::clone(&released),
            Arc::clone(&commits),
        ));
        Self {
            shared,
            released,
            #[cfg(test)]
            commits,
            committer: committer.abort_handle(),
            wait_limit,
        }
    }

    /// Whether the committer still runs.
    pub fn is_committing(&self) -> bool {
        !self.committer.is_finished()
    }

    /// Waits for the connection, then opens this writer's savepoint.
    pub async fn begin(&self) -> Result<WriteTx, WriteError> {
        let waiting = Arc::clone(&self.shared).lock_owned();
        let mut connection = tokio::time::timeout(self.wait_limit, waiting)
            .await
            .map_err(|_| WriteError::Stalled)?;
        connection.settle().await;
        if !connection.in_transaction {
            connection.conn.execute("BEGIN IMMEDIATE").await?;
            connection.in_transaction = true;
        }
        connection.savepoint_open = true;
        if let Err(error) = connection.conn.execute("SAVEPOINT write").await {
            connection.savepoint_open = false;
            return Err(error.into());
        }
        Ok(WriteTx {
            connection: Some(connection),
            released: Arc::clone(&self.released),
            wait_limit: self.wait_limit,
        })
    }

    #[cfg(test)]
    fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }
}

/// One writer's transaction: a savepoint in the shared transaction.
pub struct WriteTx {
    connection: Option<OwnedMutexGuard<Connection>>,
    released: Arc<Notify>,
    wait_limit: Duration,
}

impl WriteTx {
    /// Keeps the writes; returns once they are durable.
    pub async fn commit(self) -> Result<(), WriteError> {
        self.finish(&["RELEASE write"]).await
    }

    /// Drops the writes. Also waits for the commit of the writes it may have read, so a
    /// caller never answers with data that is not durable yet.
    pub async fn rollback(self) -> Result<(), WriteError> {
        self.finish(&ROLLBACK_SAVEPOINT).await
    }

    async fn finish(mut self, statements: &[&str]) -> Result<(), WriteError> {
        let mut connection = self.connection.take().expect("a transaction finishes once");
        for sql in statements {
            if let Err(error) = connection.conn.execute(*sql).await {
                // Left open: the next holder settles it, or rolls the whole batch back.
                drop(connection);
                self.released.notify_one();
                return Err(error.into());
            }
        }
        connection.savepoint_open = false;
        let (sender, committed) = oneshot::channel();
        connection.waiting.push(sender);
        drop(connection);
        self.released.notify_one();
        match tokio::time::timeout(self.wait_limit, committed).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(error))) => Err(WriteError::BatchFailed(error)),
            Ok(Err(_)) => Err(WriteError::CommitterStopped),
            Err(_) => Err(WriteError::Stalled),
        }
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        // Dropped mid-write: its savepoint stays open until the next holder settles it.
        if self.connection.take().is_some() {
            self.released.notify_one();
        }
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self
            .connection
            .as_ref()
            .expect("an unfinished transaction")
            .conn
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self
            .connection
            .as_mut()
            .expect("an unfinished transaction")
            .conn
    }
}

impl Connection {
    /// Rolls back a savepoint its writer left open. If SQLite no longer has it, the
    /// transaction is gone with the batch's writes: roll back and fail the batch.
    async fn settle(&mut self) {
        if !self.savepoint_open {
            return;
        }
        self.savepoint_open = false;
        if let Err(error) = self.rollback_savepoint().await {
            tracing::error!(error = %error, "a write transaction was lost: failing its batch");
            let _ = self.conn.execute("ROLLBACK").await;
            self.in_transaction = false;
            self.answer(Err(Arc::new(error)));
        }
    }

    async fn rollback_savepoint(&mut self) -> sqlx::Result<()> {
        for sql in ROLLBACK_SAVEPOINT {
            self.conn.execute(sql).await?;
        }
        Ok(())
    }

    fn answer(&mut self, outcome: Outcome) {
        for writer in self.waiting.drain(..) {
            let _ = writer.send(outcome.clone());
        }
    }
}

/// The committer: after writers release their savepoints, waits its turn for the
/// connection (behind the writers already queued, who join the batch) and commits.
async fn commit_released_work(
    shared: std::sync::Weak<Mutex<Connection>>,
    released: Arc<Notify>,
    commits: Arc<AtomicU64>,
) {
    loop {
        released.notified().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let mut connection = shared.lock().await;
        connection.settle().await;
        if !connection.in_transaction {
            continue;
        }
        let committed = connection.conn.execute("COMMIT").await;
        connection.in_transaction = false;
        commits.fetch_add(1, Ordering::Relaxed);
        metrics::histogram!("sqlite_group_commit_writers").record(connection.waiting.len() as f64);
        let outcome = match committed {
            Ok(_) => Ok(()),
            Err(error) => {
                tracing::error!(error = %error, "a group commit failed");
                let _ = connection.conn.execute("ROLLBACK").await;
                Err(Arc::new(error))
            }
        };
        connection.answer(outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Db, Tx};
    use std::time::Duration;

    async fn database() -> (Db, Writer, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let url = format!("sqlite://{}/writer.db?mode=rwc", dir.path().display());
        let db = Db::connect(&url, None).await.expect("a database");
        let writer = db.sqlite_writer.clone().expect("SQLite has a writer");
        let mut tx = writer.begin().await.expect("begin");
        tx.execute("CREATE TABLE numbers (n BIGINT PRIMARY KEY)")
            .await
            .expect("a table");
        tx.commit().await.expect("commit");
        (db, writer, dir)
    }

    /// A second writer on the same file that gives up after `limit`.
    async fn impatient_writer(dir: &tempfile::TempDir, limit: Duration) -> Writer {
        use crate::db::{Access, Backend, pool_options};
        let url = format!("sqlite://{}/writer.db", dir.path().display());
        let connection = pool_options(Backend::Sqlite, 1, Access::ReadWrite)
            .connect(&url)
            .await
            .expect("a pool")
            .acquire()
            .await
            .expect("a connection");
        Writer::with_wait_limit(connection, limit)
    }

    async fn insert(tx: &mut WriteTx, n: i64) -> sqlx::Result<()> {
        sqlx::query("INSERT INTO numbers (n) VALUES ($1)")
            .bind(n)
            .execute(&mut **tx)
            .await
            .map(drop)
    }

    /// Whether `n` is visible to another connection, that is, committed.
    async fn committed(db: &Db, n: i64) -> bool {
        let found: Option<i64> = sqlx::query_scalar("SELECT n FROM numbers WHERE n = $1")
            .bind(n)
            .fetch_optional(db.pool())
            .await
            .expect("a read");
        found.is_some()
    }

    async fn count(db: &Db) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM numbers")
            .fetch_one(db.pool())
            .await
            .expect("a count")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_writers_share_commits_and_each_is_committed_when_answered() {
        let (db, writer, _dir) = database().await;
        let writers = (0..64).map(|n| {
            let (db, writer) = (db.clone(), writer.clone());
            tokio::spawn(async move {
                let mut tx = writer.begin().await.expect("begin");
                insert(&mut tx, n).await.expect("insert");
                tx.commit().await.expect("commit");
                // Answered: it must be durable, so visible from another connection.
                assert!(
                    committed(&db, n).await,
                    "{n} was answered before its commit"
                );
            })
        });
        for writer in writers.collect::<Vec<_>>() {
            writer.await.expect("a writer");
        }
        assert_eq!(count(&db).await, 64);
        assert!(
            writer.commits() < 64,
            "{} commits for 64 racing writers: none were grouped",
            writer.commits()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_that_fails_or_is_dropped_loses_only_its_own_writes() {
        let (db, writer, _dir) = database().await;
        let mut first = writer.begin().await.expect("begin");
        insert(&mut first, 1000).await.expect("insert");
        first.commit().await.expect("commit");
        let writers = (0..60).map(|n| {
            let writer = writer.clone();
            tokio::spawn(async move {
                let mut tx = writer.begin().await.expect("begin");
                insert(&mut tx, n).await.expect("insert");
                match n % 3 {
                    0 => tx.commit().await.expect("commit"),
                    // A statement fails (the key exists) and the writer gives up.
                    1 => assert!(insert(&mut tx, 1000).await.is_err()),
                    _ => tx.rollback().await.expect("rollback"),
                }
            })
        });
        for writer in writers.collect::<Vec<_>>() {
            writer.await.expect("a writer");
        }
        assert_eq!(count(&db).await, 1 + 20);
        for n in 0..60 {
            assert_eq!(committed(&db, n).await, n % 3 == 0, "number {n}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_transaction_fails_every_writer_of_its_batch_and_the_next_batch_works() {
        let (db, writer, _dir) = database().await;
        let mut answered = writer.begin().await.expect("begin");
        insert(&mut answered, 1).await.expect("insert");
        // Queued for the connection before the first writer releases it (and before
        // the committer): it ends the shared transaction under the first writer's feet,
        // as SQLite does on some I/O errors.
        let saboteur = tokio::spawn({
            let writer = writer.clone();
            async move {
                let mut tx = writer.begin().await.expect("begin");
                tx.execute("ROLLBACK").await.expect("rollback");
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let outcome = answered.commit().await;
        saboteur.await.expect("the saboteur");
        assert!(
            outcome.is_err(),
            "a writer was told its lost writes were kept"
        );
        assert!(!committed(&db, 1).await);

        let mut next = writer.begin().await.expect("begin after a lost batch");
        insert(&mut next, 2).await.expect("insert");
        next.commit().await.expect("commit");
        assert!(committed(&db, 2).await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn write_transactions_go_through_the_group_commit_on_sqlite() {
        let (db, writer, _dir) = database().await;
        let before = writer.commits();
        let tx = db.begin_write().await.expect("begin");
        assert!(matches!(tx, Tx::Sqlite(_)));
        crate::db::commit(tx).await.expect("commit");
        assert_eq!(writer.commits(), before + 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_pool_only_reads_so_every_write_takes_the_writer() {
        let (db, _writer, _dir) = database().await;
        let written = sqlx::query("INSERT INTO numbers (n) VALUES (1)")
            .execute(db.pool())
            .await;
        assert!(written.is_err(), "a write went around the writer");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stuck_connection_fails_writers_in_bounded_time() {
        const LIMIT: Duration = Duration::from_millis(200);
        let (_db, _writer, dir) = database().await;
        let writer = impatient_writer(&dir, LIMIT).await;
        // Fault: the connection is held, as by a COMMIT whose fsync never returns.
        let stuck = Arc::clone(&writer.shared).lock_owned().await;
        let started = tokio::time::Instant::now();
        let outcome = writer.begin().await;
        assert!(matches!(outcome, Err(WriteError::Stalled)));
        assert!(started.elapsed() < LIMIT * 10, "{:?}", started.elapsed());
        drop(stuck);
        let mut tx = writer.begin().await.expect("begin once it is free");
        insert(&mut tx, 7).await.expect("insert");
        tx.commit().await.expect("commit");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dead_committer_fails_writers_in_bounded_time_and_is_seen() {
        const LIMIT: Duration = Duration::from_millis(200);
        let (db, _writer, dir) = database().await;
        let writer = impatient_writer(&dir, LIMIT).await;
        assert!(writer.is_committing());
        // Fault: the committer task ends, as on a panic.
        writer.committer.abort();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!writer.is_committing());
        let mut tx = writer.begin().await.expect("begin");
        insert(&mut tx, 8).await.expect("insert");
        let started = tokio::time::Instant::now();
        let outcome = tx.commit().await;
        assert!(
            matches!(
                outcome,
                Err(WriteError::Stalled | WriteError::CommitterStopped)
            ),
            "{outcome:?}"
        );
        assert!(started.elapsed() < LIMIT * 10, "{:?}", started.elapsed());
        assert!(!committed(&db, 8).await, "told it failed, and not stored");
    }
}
