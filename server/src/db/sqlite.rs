//! SQLite backend: creates the database file and its folder, turns on WAL, runs
//! `migrations/sqlite`, and connects the shared SQL store and the session store.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::AnyPool;
use sqlx::Executor;
use tower_sessions_sqlx_store::SqliteStore;

use super::sql::{HeldConnection, Writer, SQLITE_CONNECTION_PRAGMAS};
use super::{database, Backend, Database, Sessions};

/// Opens (creating if missing) the SQLite database at `url` (`sqlite://data/tandem.db`).
///
/// Errors: the folder cannot be created, the file cannot be opened, a migration fails.
pub async fn connect(url: &str) -> anyhow::Result<Database> {
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("parsing {url}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    if let Some(dir) = options
        .get_filename()
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // No ping before each use (`test_before_acquire`): a connection to a local file does
    // not drop, and each ping is one more round trip to the connection's worker thread
    // (about a sixth of a one-field update's database time).
    let typed = SqlitePoolOptions::new()
        .max_connections(2)
        .test_before_acquire(false)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(SQLITE_CONNECTION_PRAGMAS).await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .with_context(|| format!("opening {url}"))?;
    sqlx::migrate!("../migrations/sqlite")
        .run(&typed)
        .await
        .context("migrating the SQLite database")?;
    let sessions = SqliteStore::new(typed);
    sessions
        .migrate()
        .await
        .context("creating the session table")?;
    // The file exists and is in WAL mode (which persists); each connection still needs
    // its own per-connection settings. Readers share a pool; writing transactions take
    // turns on one connection held for them (SQLite has one writer at a time anyway).
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .test_before_acquire(false)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(SQLITE_CONNECTION_PRAGMAS).await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .with_context(|| format!("opening {url}"))?;
    let mut writer = HeldConnection::open(url)
        .await
        .with_context(|| format!("opening {url}"))?;
    writer.end_with_store(spawn_checkpointer(pool.clone()).abort_handle());
    database(
        pool,
        Some(Writer::Held(Arc::new(writer))),
        Backend::Sqlite,
        Sessions::Sqlite(sessions),
    )
    .await
}

/// How often the WAL is checkpointed in the background.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Checkpoints the WAL every [`CHECKPOINT_EVERY`] on a reading connection, so the disk
/// flushes of a checkpoint do not hold up the writer: by default SQLite checkpoints in
/// the commit that takes the WAL past 1,000 pages, on the writing connection, and about
/// one write in thirty then waited 1-5 ms for `fsync` (one-subscriber writes: 2,099-2,252
/// a second against 2,058 with it, medians of five, 2026-12-07). PASSIVE: it copies
/// what no reader still needs and never waits for a lock; a WAL with nothing new costs
/// no flush. A failure is logged when it starts and when it ends, not every tick. The
/// caller ends the task with the store.
fn spawn_checkpointer(pool: AnyPool) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            if pool.is_closed() {
                break;
            }
            match pool.execute("PRAGMA wal_checkpoint(PASSIVE)").await {
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "checkpointing the SQLite WAL failed; retrying every 500 ms");
                }
                Ok(_) if failing => {
                    failing = false;
                    tracing::info!("checkpointing the SQLite WAL works again");
                }
                _ => {}
            }
        }
    })
}
