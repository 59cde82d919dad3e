//! Database backends: connect to SQLite or PostgreSQL by the scheme of `DATABASE_URL`,
//! run the migrations, and hand out the [`Store`] and the session store.

pub mod postgres;
pub mod sessions;
pub mod sql;
pub mod sqlite;

use std::sync::Arc;

use app::ssr::Store;

pub use sessions::Sessions;
pub use sql::{Backend, SqlStore};

/// A connected, migrated database.
#[derive(Clone)]
pub struct Database {
    /// Every read and write of Tandem's data.
    pub store: Arc<dyn Store>,
    /// The same store's pool, for readiness checks.
    pub sql: SqlStore,
    /// Where tower-sessions keeps sessions (a table in the same database).
    pub sessions: Sessions,
}

/// Connects to `url`: `sqlite://path` (created with its folder if missing, WAL mode) or
/// `postgres://...`; runs the migrations of that backend.
///
/// Errors: an unsupported scheme, a connection or a migration failure.
pub async fn connect(url: &str) -> anyhow::Result<Database> {
    sqlx::any::install_default_drivers();
    if url.starts_with("sqlite:") {
        sqlite::connect(url).await
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        postgres::connect(url).await
    } else {
        anyhow::bail!("DATABASE_URL must start with sqlite:// or postgres://, not {url:?}")
    }
}

/// Wraps a migrated `Any` pool (and the pool for writing transactions, if another) and
/// its session store as a [`Database`].
///
/// Errors: the store cannot read or set the database's epoch.
async fn database(
    pool: sqlx::AnyPool,
    writer: Option<sql::Writer>,
    backend: Backend,
    sessions: Sessions,
) -> anyhow::Result<Database> {
    let sql = SqlStore::open(pool, writer, backend).await?;
    Ok(Database {
        store: Arc::new(sql.clone()),
        sql,
        sessions,
    })
}
