//! PostgreSQL backend: runs `migrations/postgres` and connects the shared SQL store and
//! the session store.

use anyhow::Context;
use sqlx::any::AnyPoolOptions;
use sqlx::postgres::PgPoolOptions;
use tower_sessions_sqlx_store::PostgresStore;

use super::{database, Backend, Database, Sessions};

/// Connects to the PostgreSQL database at `url` and migrates it.
///
/// Errors: the server is unreachable, the credentials are refused, a migration fails.
pub async fn connect(url: &str) -> anyhow::Result<Database> {
    let typed = PgPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await
        .with_context(|| "connecting to PostgreSQL")?;
    sqlx::migrate!("../migrations/postgres")
        .run(&typed)
        .await
        .context("migrating the PostgreSQL database")?;
    let sessions = PostgresStore::new(typed);
    sessions
        .migrate()
        .await
        .context("creating the session table")?;
    let pool = AnyPoolOptions::new()
        .max_connections(16)
        .connect(url)
        .await
        .context("connecting to PostgreSQL")?;
    database(pool, None, Backend::Postgres, Sessions::Postgres(sessions)).await
}
