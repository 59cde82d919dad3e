//! The one SQL implementation of [`Store`], written in the SQL that SQLite and PostgreSQL
//! share and run through sqlx's `Any` driver, so every query exists once. Backend modules
//! (`sqlite.rs`, `postgres.rs`) only connect, migrate and tune.
//!
//! Portable by construction: `$n` placeholders (both drivers accept them), BIGINT/INTEGER
//! ids and Unix-millisecond times as `i64`, no booleans (0/1 cast to BIGINT), no
//! database-specific functions; queries of a workspace's data always filter by its id.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use app::error::FieldConflict;
use app::model::import::ImportMapping;
use app::model::record::merge::merge;
use app::model::record::{Reference, Storage};
use app::model::{
    avatar_color, now_ms, Choice, FieldChange, FieldDef, FieldKind, Fields, Invite, Member,
    Membership, Page, Record, RecordKind, RecordQuery, Role, SortDir, User, Value, Workspace,
};
use app::realtime::protocol::{BulkCounts, Change, MemberHow, Position, Room};
use app::ssr::store::prelude::*;
use app::ssr::store::{
    ChangeSink, DbError, ImportedPerson, LoggedChange, NewInvite, NewUser, PersonUpsert, Progress,
    UpdateOptions, Upserted, UserAuthRow, PROGRESS_EVERY,
};
use async_trait::async_trait;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AnyPool, Row};
use std::sync::{Arc, OnceLock};

mod accounts;
mod activity;
mod calendar;
mod chat;
mod import;
mod indexes;
mod listing;
mod log;
mod notify;
mod query;
mod records;
mod rows;
mod tx;
mod workspaces;

use log::*;
use query::*;
use rows::*;
use tx::WriteTx;
pub use tx::{HeldConnection, Writer, SQLITE_CONNECTION_PRAGMAS};

pub use records::search_text;

/// A [`Store`] over an `Any` pool connected to SQLite or PostgreSQL. Every record
/// write also appends its change to the change log of the rooms it concerns, in the same
/// transaction, and hands the logged changes to the [`ChangeSink`] after commit.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    /// Where writing transactions run: on SQLite one connection held for them, so
    /// writers queue in order for it instead of sleeping in SQLite's busy handler while
    /// another holds the write lock (single writing statements go through it too:
    /// [`Self::write`]); on PostgreSQL the same pool as reads.
    writer: Writer,
    sink: Arc<OnceLock<Arc<dyn ChangeSink>>>,
    /// SQLite takes its write lock when a writing transaction begins (see [`Self::begin`]).
    sqlite: bool,
    /// The database's epoch: the epoch of every room whose log starts in this database
    /// (a restored or new database has another, so old positions resync).
    epoch: i64,
}

/// Which database a [`SqlStore`] talks to, for the few things that differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (one writer at a time).
    Sqlite,
    /// PostgreSQL (row locks).
    Postgres,
}

impl SqlStore {
    /// Wraps a pool whose database has been migrated, with where writing transactions
    /// run (`writer`; `None`: the same pool): reads (or, the first time, sets) the
    /// database's epoch, creates what is missing of the indexes the kinds' lists need
    /// (`indexes.rs`), and fills the folded search column of records that lack it.
    ///
    /// Errors: the database fails.
    pub async fn open(
        pool: AnyPool,
        writer: Option<Writer>,
        backend: Backend,
    ) -> Result<Self, DbError> {
        let mut sql = Sql::new("INSERT INTO store_meta (name, value) VALUES ('epoch', ");
        sql.bind(now_ms()).push(") ON CONFLICT (name) DO NOTHING");
        sql.run(&pool).await?;
        let epoch: i64 = Sql::new("SELECT value FROM store_meta WHERE name = 'epoch'")
            .one(&pool)
            .await?
            .try_get("value")?;
        let store = SqlStore {
            writer: writer.unwrap_or_else(|| Writer::Pool(pool.clone())),
            pool,
            sink: Arc::new(OnceLock::new()),
            sqlite: backend == Backend::Sqlite,
            epoch,
        };
        // Nodes starting at once on PostgreSQL would race in `CREATE INDEX IF NOT
        // EXISTS` (not safe against a concurrent creation of the same index): one at a
        // time, under an advisory lock held on a connection of its own.
        const STARTUP_LOCK: i64 = 0x7461_6e64_656d; // "tandem"
        let lock = if store.sqlite {
            None
        } else {
            let mut conn = store.pool.acquire().await?;
            Sql::new("SELECT pg_advisory_lock(")
                .bind(STARTUP_LOCK)
                .push(")")
                .run(&mut *conn)
                .await?;
            Some(conn)
        };
        let prepared = async {
            store.ensure_list_indexes().await?;
            for kind in RecordKind::ALL {
                store.fill_search_text(kind).await?;
            }
            Ok::<(), DbError>(())
        }
        .await;
        if let Some(mut conn) = lock {
            Sql::new("SELECT pg_advisory_unlock(")
                .bind(STARTUP_LOCK)
                .push(")")
                .run(&mut *conn)
                .await?;
        }
        prepared?;
        Ok(store)
    }

    /// Begins a transaction that may write. On SQLite it is `BEGIN IMMEDIATE`, which takes
    /// the database's write lock at once (waiting up to the busy timeout): a deferred
    /// transaction that reads and then writes fails with "database is locked" when
    /// another writer got there in between, and no busy timeout helps it. PostgreSQL
    /// keeps plain `BEGIN` and its row locks.
    async fn begin(&self) -> Result<WriteTx, DbError> {
        let begin = if self.sqlite {
            "BEGIN IMMEDIATE"
        } else {
            "BEGIN"
        };
        Ok(self.writer.begin(begin).await?)
    }

    /// Runs one writing statement outside a transaction, on the writing connection.
    /// Returns the rows it affected. Errors: the database fails.
    async fn write(&self, sql: Sql) -> Result<u64, DbError> {
        let mut conn = self.writer.acquire().await?;
        sql.run(&mut *conn).await
    }

    /// Begins a read-only transaction that sees one snapshot across its statements: a
    /// room's head and the rows read after it agree, so a row committed in between is in
    /// both or in neither, and a listener resuming from the head gets nothing twice.
    /// SQLite's read transaction holds one snapshot; PostgreSQL's default isolation takes
    /// one per statement, so it asks for `REPEATABLE READ`. The caller lets it drop.
    async fn begin_snapshot(&self) -> Result<sqlx::Transaction<'static, Any>, DbError> {
        if self.sqlite {
            self.pool.begin().await
        } else {
            self.pool
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ")
                .await
        }
        .map_err(DbError::from)
    }

    /// Commits and then hands the logged changes to the sink, on a task of its own: a
    /// request cancelled while committing (its client went away) cannot leave a change
    /// committed but never published. Errors: the commit fails (nothing is published).
    ///
    /// Before committing, the notifications the changes call for are made in the same
    /// transaction (`notify.rs`), so a change and what it tells people commit together.
    async fn commit(&self, tx: WriteTx, logged: Vec<LoggedChange>) -> Result<(), DbError> {
        self.commit_knowing(tx, logged, None).await
    }

    /// [`Self::commit`] when the transaction already holds the changed record as it now
    /// stands (`known`), so the notification rules that look past the change read it from
    /// there instead of asking the database again (one round trip less per update).
    async fn commit_knowing(
        &self,
        mut tx: WriteTx,
        mut logged: Vec<LoggedChange>,
        known: Option<&Record>,
    ) -> Result<(), DbError> {
        if !logged.is_empty() {
            let notices = notify::notify(&mut tx, self.epoch, &logged, known).await?;
            logged.extend(notices);
        }
        let sink = self.sink.get().cloned();
        tokio::spawn(async move {
            tx.commit().await?;
            if let (Some(sink), false) = (sink, logged.is_empty()) {
                sink.publish(&logged);
            }
            Ok::<(), DbError>(())
        })
        .await
        .map_err(|e| DbError::Other(Box::new(e)))?
    }

    /// The pool, for health checks.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// A transaction's connection, for helpers shared by several store methods.
type Conn = AnyConnection;
