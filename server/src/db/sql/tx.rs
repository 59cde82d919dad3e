//! Writing transactions without sqlx's per-transaction hand-offs: on SQLite the one
//! writing connection is held by the store and taken in turn, and `BEGIN`/`COMMIT` are
//! plain statements.
//!
//! Why: sqlx's SQLite driver answers `begin()` and `commit()` through a rendezvous
//! channel (its worker thread waits for the caller's acknowledgement, two more context
//! switches each), and its pool pings every connection it gets back (one more round
//! trip). With everything on one core those hand-offs, not SQL, set the write rate.
//! What sqlx's `Transaction` gave is kept: a [`WriteTx`] dropped without
//! [`WriteTx::commit`] (an error returned with `?`, a cancelled request) is rolled back
//! before its connection is used again.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Where writing transactions run.
#[derive(Clone)]
pub enum Writer {
    /// SQLite: one connection (SQLite has one writer at a time), held here and taken in
    /// turn; reopened when a rollback failed and left it in an unknown state.
    Held(Arc<HeldConnection>),
    /// PostgreSQL: connections of the shared pool (row locks let writers overlap).
    Pool(AnyPool),
}

/// SQLite's writing connection and how to reopen it.
pub struct HeldConnection {
    url: String,
    /// `None` after a failed rollback, until the next writer reopens it.
    conn: Arc<Mutex<Option<AnyConnection>>>,
    /// Background work on the same database that ends with the store (the WAL's
    /// checkpoint, `sqlite.rs`).
    companions: Vec<tokio::task::AbortHandle>,
}

impl Drop for HeldConnection {
    fn drop(&mut self) {
        for task in &self.companions {
            task.abort();
        }
    }
}

impl HeldConnection {
    /// Opens the writing connection to the SQLite database at `url` (which must exist and
    /// be migrated), with the per-connection settings every Tandem connection has.
    ///
    /// Errors: the database cannot be opened.
    pub async fn open(url: &str) -> Result<Self, sqlx::Error> {
        let conn = connect(url).await?;
        Ok(HeldConnection {
            url: url.to_owned(),
            conn: Arc::new(Mutex::new(Some(conn))),
            companions: Vec::new(),
        })
    }

    /// Ends `task` when this connection is dropped, that is with the last clone of its
    /// store, so background work on the database does not outlive it.
    pub fn end_with_store(&mut self, task: tokio::task::AbortHandle) {
        self.companions.push(task);
    }
}

/// The settings each SQLite connection needs (WAL mode persists in the file; these do
/// not): the same for every pool and the writing connection. The WAL is checkpointed
/// in the background (`sqlite.rs`), so a committing connection checkpoints by itself
/// only past 20,000 pages (80 MB; SQLite's default is 1,000), a backstop for when the
/// background checkpoint falls behind; a WAL file grown past 64 MB is truncated back
/// to that when it restarts (SQLite otherwise keeps its largest size).
pub const SQLITE_CONNECTION_PRAGMAS: &str = "PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
     PRAGMA wal_autocheckpoint = 20000; PRAGMA journal_size_limit = 67108864";

async fn connect(url: &str) -> Result<AnyConnection, sqlx::Error> {
    let mut conn = AnyConnection::connect(url).await?;
    conn.execute(SQLITE_CONNECTION_PRAGMAS).await?;
    Ok(conn)
}

/// How long a writer waits for SQLite's writing connection: sqlx's pool default, so a
/// writer stuck behind another fails as it did with a pool of one.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A writing connection taken from a [`Writer`], for one statement or a [`WriteTx`];
/// dereferences to the connection.
pub enum WriteConn {
    /// SQLite's held connection, locked (always `Some` while lent out).
    Held(OwnedMutexGuard<Option<AnyConnection>>),
    /// A pooled PostgreSQL connection.
    Pooled(PoolConnection<Any>),
}

impl Writer {
    /// Takes the writing connection (waiting for the writer before, on SQLite).
    ///
    /// Errors: the SQLite connection had to be reopened and could not be, or no
    /// connection came within 30 s (`PoolTimedOut`, as sqlx's pool answers).
    pub async fn acquire(&self) -> Result<WriteConn, sqlx::Error> {
        match self {
            Writer::Held(held) => {
                let mut guard =
                    tokio::time::timeout(ACQUIRE_TIMEOUT, held.conn.clone().lock_owned())
                        .await
                        .map_err(|_| sqlx::Error::PoolTimedOut)?;
                if guard.is_none() {
                    *guard = Some(connect(&held.url).await?);
                }
                Ok(WriteConn::Held(guard))
            }
            Writer::Pool(pool) => Ok(WriteConn::Pooled(pool.acquire().await?)),
        }
    }

    /// Begins a writing transaction with `begin` (`BEGIN IMMEDIATE` on SQLite, so the
    /// write lock is taken at once; `BEGIN` on PostgreSQL).
    ///
    /// Errors: as [`Self::acquire`], or the `BEGIN` fails (the connection is then
    /// returned as it was).
    pub async fn begin(&self, begin: &'static str) -> Result<WriteTx, sqlx::Error> {
        // Open from before `BEGIN` is sent: a caller cancelled while it runs leaves a
        // transaction that the drop rolls back.
        let mut tx = WriteTx {
            conn: Some(self.acquire().await?),
        };
        if let Err(e) = tx.execute(begin).await {
            // No transaction: the connection goes back as it is.
            drop(tx.conn.take());
            return Err(e);
        }
        Ok(tx)
    }
}

impl WriteConn {
    /// Gives up a connection whose state is unknown: SQLite's is reopened by the next
    /// writer, a pooled one is closed instead of returned.
    fn discard(self) {
        match self {
            WriteConn::Held(mut guard) => *guard = None,
            WriteConn::Pooled(mut conn) => conn.close_on_drop(),
        }
    }
}

impl Deref for WriteConn {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            WriteConn::Held(guard) => guard.as_ref().expect("a held connection is open"),
            WriteConn::Pooled(conn) => conn,
        }
    }
}

impl DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            WriteConn::Held(guard) => guard.as_mut().expect("a held connection is open"),
            WriteConn::Pooled(conn) => conn,
        }
    }
}

/// An open writing transaction; dereferences to its connection, so statements run on
/// `&mut *tx`. [`Self::commit`] ends it; dropped without that, it is rolled back on a
/// task of its own before the connection serves anyone else (sqlx's `Transaction`
/// does the same on drop).
pub struct WriteTx {
    /// `Some` while the transaction may be open: from before `BEGIN` until a `COMMIT`
    /// succeeds (or `BEGIN` failed).
    conn: Option<WriteConn>,
}

impl WriteTx {
    /// Commits.
    ///
    /// Errors: the `COMMIT` fails; the transaction is then rolled back on drop.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let conn = self
            .conn
            .as_mut()
            .expect("an open transaction has its connection");
        conn.execute("COMMIT").await?;
        // Committed: the connection goes back as it is.
        drop(self.conn.take());
        Ok(())
    }
}

/// Discards the connection it still holds when dropped (see [`WriteConn::discard`]).
struct DiscardOnDrop(Option<WriteConn>);

impl Drop for DiscardOnDrop {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            conn.discard();
        }
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        self.conn
            .as_ref()
            .expect("an open transaction has its connection")
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.conn
            .as_mut()
            .expect("an open transaction has its connection")
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        // The connection (and, on SQLite, the writer's turn) goes with the task, so
        // nobody writes on it before the rollback has run. Without a runtime (the process
        // is ending), or if the runtime drops the task before the rollback has run (even
        // unpolled: the guard is made before the task), it is discarded instead, which
        // rolls back too.
        let mut pending = DiscardOnDrop(Some(conn));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let Some(conn) = pending.0.as_mut() else {
                    return;
                };
                match conn.execute("ROLLBACK").await {
                    // Rolled back: the connection goes back as it is.
                    Ok(_) => drop(pending.0.take()),
                    // `pending` discards it. Also when the transaction had already
                    // ended: a `COMMIT` whose caller was cancelled after it ran, or a
                    // `BEGIN` that never ran.
                    Err(e) => tracing::warn!(
                        error = %e,
                        "rolling back a dropped transaction failed (it may have ended \
                         already); reopening its connection"
                    ),
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row;

    async fn count(writer: &Writer) -> i64 {
        let mut conn = writer.acquire().await.expect("acquire");
        sqlx::query("SELECT COUNT(*) AS n FROM tx_probe")
            .fetch_one(&mut *conn)
            .await
            .expect("count")
            .get("n")
    }

    async fn insert(tx: &mut WriteTx, id: i64) {
        sqlx::query("INSERT INTO tx_probe (id) VALUES ($1)")
            .bind(id)
            .execute(&mut **tx)
            .await
            .expect("insert");
    }

    /// What the store relies on: a commit keeps its rows; a transaction dropped without
    /// committing (an error returned with `?`, a cancelled request) keeps none of them
    /// and leaves the connection ready for the next writer, which on SQLite would
    /// otherwise fail with "cannot start a transaction within a transaction"; a
    /// discarded connection is reopened by the next writer.
    async fn contract(writer: Writer, begin: &'static str) {
        {
            let mut conn = writer.acquire().await.expect("acquire");
            conn.execute("DROP TABLE IF EXISTS tx_probe")
                .await
                .expect("drop");
            conn.execute("CREATE TABLE tx_probe (id BIGINT PRIMARY KEY)")
                .await
                .expect("create");
        }
        let mut tx = writer.begin(begin).await.expect("begin");
        insert(&mut tx, 1).await;
        tx.commit().await.expect("commit");
        assert_eq!(count(&writer).await, 1);

        for id in 2..5 {
            let mut tx = writer.begin(begin).await.expect("begin after a drop");
            insert(&mut tx, id).await;
            drop(tx);
        }
        let mut tx = writer.begin(begin).await.expect("begin after drops");
        insert(&mut tx, 9).await;
        tx.commit().await.expect("commit");
        assert_eq!(count(&writer).await, 2, "only the committed rows stay");

        // A duplicate key fails the statement; the transaction is dropped with it.
        let mut tx = writer.begin(begin).await.expect("begin");
        insert(&mut tx, 10).await;
        let duplicate = sqlx::query("INSERT INTO tx_probe (id) VALUES (1)")
            .execute(&mut *tx)
            .await;
        assert!(duplicate.is_err());
        drop(tx);
        assert_eq!(
            count(&writer).await,
            2,
            "the failed transaction left nothing"
        );

        // A request cancelled mid-transaction: its task is aborted while it waits.
        let (inserted, wait) = tokio::sync::oneshot::channel();
        let cancelled = tokio::spawn({
            let writer = writer.clone();
            async move {
                let mut tx = writer.begin(begin).await.expect("begin");
                insert(&mut tx, 11).await;
                let _ = inserted.send(());
                std::future::pending::<()>().await;
            }
        });
        wait.await.expect("the task inserted");
        cancelled.abort();
        assert!(cancelled.await.expect_err("aborted").is_cancelled());
        assert_eq!(
            count(&writer).await,
            2,
            "the cancelled transaction left nothing"
        );

        writer.acquire().await.expect("acquire").discard();
        assert_eq!(
            count(&writer).await,
            2,
            "a discarded connection is replaced"
        );
        let mut conn = writer.acquire().await.expect("acquire");
        conn.execute("DROP TABLE tx_probe").await.expect("drop");
    }

    #[tokio::test]
    async fn sqlite_transactions_commit_roll_back_on_drop_and_recover() {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let held = HeldConnection::open(&url).await.expect("open");
        contract(Writer::Held(Arc::new(held)), "BEGIN IMMEDIATE").await;
    }

    /// A transaction dropped just before its runtime stops: the rollback task never
    /// runs, so the connection must be discarded, not left mid-transaction for the next
    /// writer (on another runtime) to trip over.
    #[test]
    fn a_rollback_that_never_ran_discards_the_connection() {
        let runtime = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
        };
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let writer = runtime().block_on(async {
            let writer = Writer::Held(Arc::new(HeldConnection::open(&url).await.expect("open")));
            let mut conn = writer.acquire().await.expect("acquire");
            conn.execute("CREATE TABLE tx_probe (id BIGINT PRIMARY KEY)")
                .await
                .expect("create");
            drop(conn);
            writer
        });
        // The future ends without yielding after the drop, so the spawned rollback is
        // never polled before the runtime goes.
        let stopping = runtime();
        let mut tx = stopping
            .block_on(writer.begin("BEGIN IMMEDIATE"))
            .expect("begin");
        stopping.block_on(insert(&mut tx, 1));
        stopping.block_on(async move { drop(tx) });
        drop(stopping);
        runtime().block_on(async {
            let mut tx = writer
                .begin("BEGIN IMMEDIATE")
                .await
                .expect("the next writer begins");
            insert(&mut tx, 2).await;
            tx.commit().await.expect("commit");
            assert_eq!(count(&writer).await, 1, "only the committed row stays");
        });
    }

    #[tokio::test]
    async fn postgres_transactions_commit_roll_back_on_drop_and_recover() {
        let Some(url) = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            return;
        };
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .expect("connect");
        contract(Writer::Pool(pool), "BEGIN").await;
    }
}
