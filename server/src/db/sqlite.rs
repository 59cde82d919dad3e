//! SQLite backend: creates the database file and its folder, turns on WAL, runs
//! `migrations/sqlite`, and connects the shared SQL store and the session store.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Executor;
use tower_sessions_sqlx_store::SqliteStore;

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
    // The file exists and is in WAL mode (which persists); each pooled connection still
    // needs its own per-connection settings. Readers share a pool; writing transactions
    // take turns on one connection of their own (SQLite has one writer at a time anyway).
    let any_pool = |connections: u32| {
        AnyPoolOptions::new()
            .max_connections(connections)
            .test_before_acquire(false)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000")
                        .await?;
                    Ok(())
                })
            })
            .connect(url)
    };
    let pool = any_pool(8)
        .await
        .with_context(|| format!("opening {url}"))?;
    let writer = any_pool(1)
        .await
        .with_context(|| format!("opening {url}"))?;
    database(
        pool,
        Some(writer),
        Backend::Sqlite,
        Sessions::Sqlite(sessions),
    )
    .await
}
