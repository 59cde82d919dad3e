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
use app::model::record::{Reference, Storage};
use app::model::{
    avatar_color, now_ms, Choice, FieldChange, FieldDef, Fields, Invite, Member, Membership, Page,
    Record, RecordKind, RecordQuery, Role, SortDir, User, Value, Workspace,
};
use app::realtime::protocol::{Change, Position, Room};
use app::ssr::store::{
    ChangeSink, DbError, ImportedPerson, LoggedChange, NewInvite, NewUser, PersonUpsert, Progress,
    Store, Upserted, UserAuthRow, PROGRESS_EVERY,
};
use async_trait::async_trait;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AnyPool, Row};
use std::sync::{Arc, OnceLock};

mod accounts;
mod import;
mod log;
mod query;
mod records;
mod rows;
mod workspaces;

use log::*;
use query::*;
use rows::*;

pub use records::search_text;

/// A [`Store`] over an `Any` pool connected to SQLite or PostgreSQL. Every record
/// write also appends its change to the change log of the rooms it concerns, in the same
/// transaction, and hands the logged changes to the [`ChangeSink`] after commit.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
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
    /// Wraps a pool whose database has been migrated: reads (or, the first time, sets)
    /// the database's epoch, and fills the folded search column of records that lack it.
    ///
    /// Errors: the database fails.
    pub async fn open(pool: AnyPool, backend: Backend) -> Result<Self, DbError> {
        let mut sql = Sql::new("INSERT INTO store_meta (name, value) VALUES ('epoch', ");
        sql.bind(now_ms()).push(") ON CONFLICT (name) DO NOTHING");
        sql.run(&pool).await?;
        let epoch: i64 = Sql::new("SELECT value FROM store_meta WHERE name = 'epoch'")
            .one(&pool)
            .await?
            .try_get("value")?;
        let store = SqlStore {
            pool,
            sink: Arc::new(OnceLock::new()),
            sqlite: backend == Backend::Sqlite,
            epoch,
        };
        for kind in RecordKind::ALL {
            store.fill_search_text(kind).await?;
        }
        Ok(store)
    }

    /// Begins a transaction that may write. On SQLite it is `BEGIN IMMEDIATE`, which takes
    /// the database's write lock at once (waiting up to the busy timeout): a deferred
    /// transaction that reads and then writes fails with "database is locked" when
    /// another writer got there in between, and no busy timeout helps it. PostgreSQL
    /// keeps plain `BEGIN` and its row locks.
    async fn begin(&self) -> Result<sqlx::Transaction<'static, Any>, DbError> {
        if self.sqlite {
            self.pool.begin_with("BEGIN IMMEDIATE").await
        } else {
            self.pool.begin().await
        }
        .map_err(DbError::from)
    }

    /// Commits and then hands the logged changes to the sink, on a task of its own: a
    /// request cancelled while committing (its client went away) cannot leave a change
    /// committed but never published. Errors: the commit fails (nothing is published).
    async fn commit(
        &self,
        tx: sqlx::Transaction<'static, Any>,
        logged: Vec<LoggedChange>,
    ) -> Result<(), DbError> {
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

#[async_trait]
impl Store for SqlStore {
    async fn create_user(&self, new: NewUser) -> Result<User, DbError> {
        SqlStore::create_user(self, new).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserAuthRow>, DbError> {
        SqlStore::user_by_email(self, email).await
    }

    async fn user(&self, id: i64) -> Result<User, DbError> {
        SqlStore::user(self, id).await
    }

    async fn set_last_workspace(&self, user: i64, workspace: i64) -> Result<(), DbError> {
        SqlStore::set_last_workspace(self, user, workspace).await
    }

    async fn create_workspace(
        &self,
        name: &str,
        slug: &str,
        owner: i64,
    ) -> Result<Workspace, DbError> {
        SqlStore::create_workspace(self, name, slug, owner).await
    }

    async fn workspace(&self, id: i64) -> Result<Workspace, DbError> {
        SqlStore::workspace(self, id).await
    }

    async fn workspace_by_slug(&self, slug: &str) -> Result<Workspace, DbError> {
        SqlStore::workspace_by_slug(self, slug).await
    }

    async fn memberships(&self, user: i64) -> Result<Vec<Membership>, DbError> {
        SqlStore::memberships(self, user).await
    }

    async fn role(&self, workspace: i64, user: i64) -> Result<Option<Role>, DbError> {
        SqlStore::role(self, workspace, user).await
    }

    async fn rename_workspace(&self, workspace: i64, name: &str) -> Result<Workspace, DbError> {
        SqlStore::rename_workspace(self, workspace, name).await
    }

    async fn members(&self, workspace: i64) -> Result<Vec<Member>, DbError> {
        SqlStore::members(self, workspace).await
    }

    async fn add_member(&self, workspace: i64, user: i64, role: Role) -> Result<(), DbError> {
        SqlStore::add_member(self, workspace, user, role).await
    }

    async fn set_role(&self, workspace: i64, user: i64, role: Role) -> Result<(), DbError> {
        SqlStore::set_role(self, workspace, user, role).await
    }

    async fn remove_member(&self, workspace: i64, user: i64) -> Result<(), DbError> {
        SqlStore::remove_member(self, workspace, user).await
    }

    async fn create_invite(&self, new: NewInvite) -> Result<Invite, DbError> {
        SqlStore::create_invite(self, new).await
    }

    async fn invites(&self, workspace: i64) -> Result<Vec<Invite>, DbError> {
        SqlStore::invites(self, workspace).await
    }

    async fn invite_by_token(&self, token: &str) -> Result<Invite, DbError> {
        SqlStore::invite_by_token(self, token).await
    }

    async fn revoke_invite(&self, workspace: i64, id: i64, now: i64) -> Result<(), DbError> {
        SqlStore::revoke_invite(self, workspace, id, now).await
    }

    async fn accept_invite(&self, token: &str, user: i64, now: i64) -> Result<Workspace, DbError> {
        SqlStore::accept_invite(self, token, user, now).await
    }

    async fn claim_invite(
        &self,
        token: &str,
        email: &str,
        password_hash: &str,
        display_name: &str,
        now: i64,
    ) -> Result<(User, Workspace), DbError> {
        SqlStore::claim_invite(self, token, email, password_hash, display_name, now).await
    }

    async fn list_records(
        &self,
        workspace: i64,
        kind: RecordKind,
        q: &RecordQuery,
    ) -> Result<Page<Record>, DbError> {
        SqlStore::list_records(self, workspace, kind, q).await
    }

    async fn record(&self, workspace: i64, kind: RecordKind, id: i64) -> Result<Record, DbError> {
        SqlStore::record(self, workspace, kind, id).await
    }

    async fn create_record(
        &self,
        workspace: i64,
        actor: i64,
        kind: RecordKind,
        fields: Fields,
    ) -> Result<Record, DbError> {
        SqlStore::create_record(self, workspace, actor, kind, fields).await
    }

    async fn update_record(
        &self,
        workspace: i64,
        actor: i64,
        kind: RecordKind,
        id: i64,
        changes: BTreeMap<String, FieldChange>,
    ) -> Result<Record, DbError> {
        SqlStore::update_record(self, workspace, actor, kind, id, changes).await
    }

    async fn delete_record(
        &self,
        workspace: i64,
        actor: i64,
        kind: RecordKind,
        id: i64,
        base_version: i64,
    ) -> Result<(), DbError> {
        SqlStore::delete_record(self, workspace, actor, kind, id, base_version).await
    }

    async fn distinct_values(
        &self,
        workspace: i64,
        kind: RecordKind,
        field: &str,
    ) -> Result<Vec<String>, DbError> {
        SqlStore::distinct_values(self, workspace, kind, field).await
    }

    async fn choices(&self, workspace: i64, kind: RecordKind) -> Result<Vec<Choice>, DbError> {
        SqlStore::choices(self, workspace, kind).await
    }

    async fn ids_by_key(
        &self,
        workspace: i64,
        kind: RecordKind,
    ) -> Result<HashMap<String, i64>, DbError> {
        SqlStore::ids_by_key(self, workspace, kind).await
    }

    async fn upsert_records(
        &self,
        workspace: i64,
        actor: Option<i64>,
        kind: RecordKind,
        rows: Vec<Fields>,
        progress: Progress<'_>,
    ) -> Result<Vec<(i64, Upserted)>, DbError> {
        SqlStore::upsert_records(self, workspace, actor, kind, rows, progress).await
    }

    async fn import_mapping(&self, workspace: i64) -> Result<ImportMapping, DbError> {
        SqlStore::import_mapping(self, workspace).await
    }

    async fn save_import_mapping(
        &self,
        workspace: i64,
        mapping: &ImportMapping,
    ) -> Result<(), DbError> {
        SqlStore::save_import_mapping(self, workspace, mapping).await
    }

    async fn import_keys(&self, workspace: i64) -> Result<HashMap<String, i64>, DbError> {
        SqlStore::import_keys(self, workspace).await
    }

    async fn upsert_people(
        &self,
        workspace: i64,
        people: Vec<ImportedPerson>,
    ) -> Result<Vec<PersonUpsert>, DbError> {
        SqlStore::upsert_people(self, workspace, people).await
    }

    fn set_change_sink(&self, sink: Arc<dyn ChangeSink>) {
        let _ = self.sink.set(sink);
    }

    async fn room_head(&self, room: Room) -> Result<Position, DbError> {
        SqlStore::room_head(self, room).await
    }

    async fn room_heads(&self, rooms: &[Room]) -> Result<Vec<(Room, Position)>, DbError> {
        SqlStore::room_heads(self, rooms).await
    }

    async fn room_changes(
        &self,
        room: Room,
        epoch: i64,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<LoggedChange>, DbError> {
        SqlStore::room_changes(self, room, epoch, after, upto, limit).await
    }

    async fn record_workspace(&self, kind: RecordKind, id: i64) -> Result<i64, DbError> {
        SqlStore::record_workspace(self, kind, id).await
    }
}
