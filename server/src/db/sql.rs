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
use app::model::record::Storage;
use app::model::{
    avatar_color, now_ms, Choice, FieldChange, FieldDef, FieldKind, Fields, Invite, Member,
    Membership, Page, Record, RecordKind, RecordQuery, Role, SortDir, User, Value, Workspace,
};
use app::realtime::protocol::{Change, ChangeOp, Position, Room};
use app::ssr::store::{
    ChangeSink, DbError, ImportedPerson, LoggedChange, NewInvite, NewUser, PersonUpsert, Store,
    Upserted, UserAuthRow,
};
use async_trait::async_trait;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AnyPool, Row};
use std::sync::{Arc, OnceLock};

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
            .try_get("value")
            .map_err(db_error)?;
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
        .map_err(db_error)
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
            tx.commit().await.map_err(db_error)?;
            if let (Some(sink), false) = (sink, logged.is_empty()) {
                sink.publish(&logged);
            }
            Ok::<(), DbError>(())
        })
        .await
        .map_err(|e| DbError::Other(Box::new(e)))?
    }

    /// Computes the folded search text of records that have none (rows from before the
    /// column existed), in pages.
    async fn fill_search_text(&self, kind: RecordKind) -> Result<(), DbError> {
        loop {
            let rows = Sql::new(&format!(
                "SELECT {} FROM {} WHERE search_text IS NULL LIMIT 500",
                record_columns(kind),
                kind.table()
            ))
            .all(&self.pool)
            .await?;
            if rows.is_empty() {
                return Ok(());
            }
            let mut tx = self.begin().await?;
            for row in &rows {
                let r = record_from_row(kind, row).map_err(db_error)?;
                let mut sql = Sql::new(&format!("UPDATE {} SET search_text = ", kind.table()));
                sql.bind(search_text(kind, &r.fields))
                    .push(" WHERE id = ")
                    .bind(r.id);
                sql.run(&mut *tx).await?;
            }
            tx.commit().await.map_err(db_error)?;
        }
    }

    /// The pool, for health checks.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// The lower-cased (Unicode, not only ASCII) text a list's search looks in: the kind's
/// search fields joined by newlines. Kept in each record's `search_text` column, so the
/// search is case-insensitive for every script on SQLite as on PostgreSQL.
pub fn search_text(kind: RecordKind, fields: &Fields) -> String {
    kind.search_fields()
        .iter()
        .filter_map(|f| fields.get(*f).and_then(Value::as_text))
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Maps a sqlx error: no row -> `NotFound`, anything else -> `Other`.
pub fn db_error(e: sqlx::Error) -> DbError {
    match e {
        sqlx::Error::RowNotFound => DbError::NotFound,
        other => DbError::Other(Box::new(other)),
    }
}

/// Maps a sqlx error where one unique constraint can refuse the write: a unique
/// violation (recognised by its error kind, never its text) becomes `Conflict(subject)`.
fn unique_as(subject: &str) -> impl Fn(sqlx::Error) -> DbError + '_ {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            DbError::Conflict(subject.to_string())
        }
        _ => db_error(e),
    }
}

/// A bind argument with the SQL type its NULL must carry.
#[derive(Clone, Debug)]
enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Float(Option<f64>),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(Some(s.to_string()))
    }
}
impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(Some(s))
    }
}
impl From<i64> for Arg {
    fn from(i: i64) -> Self {
        Arg::Int(Some(i))
    }
}
impl From<Option<i64>> for Arg {
    fn from(i: Option<i64>) -> Self {
        Arg::Int(i)
    }
}

/// The argument for a field's value, typed by the field's storage.
fn field_arg(def: &FieldDef, v: &Value) -> Arg {
    match (def.storage(), v) {
        (Storage::Text, Value::Text(s)) => Arg::Text(Some(s.clone())),
        (Storage::Int, Value::Int(i)) => Arg::Int(Some(*i)),
        (Storage::Float, Value::Float(f)) => Arg::Float(Some(*f)),
        (Storage::Float, Value::Int(i)) => Arg::Float(Some(*i as f64)),
        (Storage::Text, _) => Arg::Text(None),
        (Storage::Int, _) => Arg::Int(None),
        (Storage::Float, _) => Arg::Float(None),
    }
}

/// SQL text with numbered placeholders and their arguments, built together so the two
/// can never drift apart.
#[derive(Default)]
struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    fn new(text: &str) -> Self {
        Sql {
            text: text.to_string(),
            args: Vec::new(),
        }
    }

    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a `$n` placeholder for `arg`.
    fn bind(&mut self, arg: impl Into<Arg>) -> &mut Self {
        self.args.push(arg.into());
        let _ = write!(self.text, "${}", self.args.len());
        self
    }

    /// Runs the query for at most one row. Errors: `NotFound` when there is none.
    async fn found<'c, E: sqlx::Executor<'c, Database = Any>>(
        &self,
        executor: E,
    ) -> Result<AnyRow, DbError> {
        self.optional(executor).await?.ok_or(DbError::NotFound)
    }

    /// Runs the query for at most one row.
    async fn optional<'c, E: sqlx::Executor<'c, Database = Any>>(
        &self,
        executor: E,
    ) -> Result<Option<AnyRow>, DbError> {
        self.query()
            .fetch_optional(executor)
            .await
            .map_err(db_error)
    }

    /// Runs the query for exactly one row.
    async fn one<'c, E: sqlx::Executor<'c, Database = Any>>(
        &self,
        executor: E,
    ) -> Result<AnyRow, DbError> {
        self.query().fetch_one(executor).await.map_err(db_error)
    }

    /// Runs the query for all its rows.
    async fn all<'c, E: sqlx::Executor<'c, Database = Any>>(
        &self,
        executor: E,
    ) -> Result<Vec<AnyRow>, DbError> {
        self.query().fetch_all(executor).await.map_err(db_error)
    }

    /// Runs a statement; returns how many rows it changed.
    async fn run<'c, E: sqlx::Executor<'c, Database = Any>>(
        &self,
        executor: E,
    ) -> Result<u64, DbError> {
        Ok(self
            .query()
            .execute(executor)
            .await
            .map_err(db_error)?
            .rows_affected())
    }

    fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for a in &self.args {
            q = match a {
                Arg::Text(v) => q.bind(v.clone()),
                Arg::Int(v) => q.bind(*v),
                Arg::Float(v) => q.bind(*v),
            };
        }
        q
    }
}

const RECORD_BASE_COLUMNS: &str =
    "id, workspace_id, version, created_at, created_by, updated_at, updated_by, deleted_at, deleted_by";

fn record_columns(kind: RecordKind) -> String {
    let mut cols = RECORD_BASE_COLUMNS.to_string();
    for f in kind.fields() {
        cols.push_str(", ");
        cols.push_str(f.name);
    }
    cols
}

fn record_from_row(kind: RecordKind, row: &AnyRow) -> Result<Record, sqlx::Error> {
    let mut fields = Fields::new();
    for def in kind.fields() {
        let v = match def.storage() {
            Storage::Text => row.try_get::<Option<String>, _>(def.name)?.map(Value::Text),
            Storage::Int => row.try_get::<Option<i64>, _>(def.name)?.map(Value::Int),
            Storage::Float => row.try_get::<Option<f64>, _>(def.name)?.map(Value::Float),
        };
        if let Some(v) = v {
            fields.insert(def.name.to_string(), v);
        }
    }
    Ok(Record {
        kind,
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        version: row.try_get("version")?,
        fields,
        labels: BTreeMap::new(),
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
        deleted_at: row.try_get("deleted_at")?,
        deleted_by: row.try_get("deleted_by")?,
    })
}

const USER_COLUMNS: &str = "u.id, u.email, u.display_name, u.last_workspace_id";

fn user_from_row(row: &AnyRow) -> Result<User, sqlx::Error> {
    let id: i64 = row.try_get("id")?;
    Ok(User {
        id,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        color: avatar_color(id),
        last_workspace_id: row.try_get("last_workspace_id")?,
    })
}

fn workspace_from_row(row: &AnyRow) -> Result<Workspace, sqlx::Error> {
    Ok(Workspace {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        slug: row.try_get("slug")?,
    })
}

fn role_from(s: &str) -> Result<Role, sqlx::Error> {
    Role::parse(s).ok_or_else(|| sqlx::Error::Decode(format!("unknown role {s:?}").into()))
}

const INVITE_SELECT: &str =
    "SELECT i.id, i.workspace_id, i.token, i.role, i.expires_at, i.max_uses, \
     i.uses, i.revoked_at, i.for_user, u.display_name AS for_name \
     FROM invites i LEFT JOIN users u ON u.id = i.for_user";

fn invite_from_row(row: &AnyRow) -> Result<Invite, sqlx::Error> {
    Ok(Invite {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        token: row.try_get("token")?,
        role: role_from(&row.try_get::<String, _>("role")?)?,
        expires_at: row.try_get("expires_at")?,
        max_uses: row.try_get("max_uses")?,
        uses: row.try_get("uses")?,
        revoked_at: row.try_get("revoked_at")?,
        for_user: row.try_get("for_user")?,
        for_name: row.try_get("for_name")?,
    })
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
fn like_pattern(term: &str) -> String {
    let mut p = String::from("%");
    for c in term.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Appends the WHERE clause of a record list (workspace, live, search, filters).
fn push_record_filters(
    sql: &mut Sql,
    workspace: i64,
    kind: RecordKind,
    q: &RecordQuery,
) -> Result<(), DbError> {
    sql.push(" WHERE workspace_id = ")
        .bind(workspace)
        .push(" AND deleted_at IS NULL");
    if let Some(term) = q.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        sql.push(" AND search_text LIKE ")
            .bind(like_pattern(term))
            .push(" ESCAPE '\\'");
    }
    for (name, value) in &q.filters {
        let def = kind.field(name).ok_or_else(|| DbError::Invalid {
            field: name.clone(),
            message: format!("a {} cannot be filtered by {name}", kind.noun()),
        })?;
        sql.push(" AND ").push(def.name);
        if value.is_null() {
            sql.push(" IS NULL");
        } else {
            sql.push(" = ").bind(field_arg(def, value));
        }
    }
    Ok(())
}

/// A transaction's connection, for helpers shared by several store methods.
type Conn = AnyConnection;

/// Appends `change` to `room`'s log (creating the room's head, with a new epoch, on its
/// first event) and returns it with its position. Runs in the caller's transaction, so
/// the offset is taken and the event written atomically with the change itself.
///
/// `epoch` is the database's: a room's head is created with it, so the position a reader
/// got for a room never written to (`epoch`, 0) stays valid across its first event.
async fn append_change(
    conn: &mut Conn,
    epoch: i64,
    room: Room,
    change: &Change,
) -> Result<LoggedChange, DbError> {
    let name = room.name();
    let mut sql = Sql::new("INSERT INTO room_heads (room, epoch, last_offset) VALUES (");
    sql.bind(name.clone())
        .push(", ")
        .bind(epoch)
        .push(", 0) ON CONFLICT (room) DO NOTHING");
    sql.run(&mut *conn).await?;
    let mut sql = Sql::new("UPDATE room_heads SET last_offset = last_offset + 1 WHERE room = ");
    sql.bind(name.clone()).push(" RETURNING epoch, last_offset");
    let row = sql.one(&mut *conn).await?;
    let position = Position {
        epoch: row.try_get("epoch").map_err(db_error)?,
        offset: row.try_get("last_offset").map_err(db_error)?,
    };
    let payload = serde_json::to_string(change).map_err(|e| DbError::Other(Box::new(e)))?;
    let mut sql = Sql::new(
        "INSERT INTO room_events (room, epoch, event_offset, payload, created_at) VALUES (",
    );
    sql.bind(name)
        .push(", ")
        .bind(position.epoch)
        .push(", ")
        .bind(position.offset)
        .push(", ");
    sql.bind(payload).push(", ").bind(change.at).push(")");
    sql.run(&mut *conn).await?;
    Ok(LoggedChange {
        room,
        position,
        change: change.clone(),
    })
}

/// Logs a change that is not a record's: `op` on the thing with `id` (a member change in
/// the workspace's room, with the user's id; an invite change in the admins' room, with
/// the invite's id).
async fn log_change(
    conn: &mut Conn,
    epoch: i64,
    room: Room,
    op: ChangeOp,
    id: i64,
) -> Result<LoggedChange, DbError> {
    let change = Change {
        op,
        kind: None,
        id,
        record: None,
        fields: Vec::new(),
        actor: None,
        at: now_ms(),
    };
    append_change(conn, epoch, room, &change).await
}

/// Logs that `user` joined through `invite`: a member change in the workspace's room and
/// the invite's use in the admins' room.
async fn log_joined(
    conn: &mut Conn,
    epoch: i64,
    invite: &Invite,
    user: i64,
) -> Result<Vec<LoggedChange>, DbError> {
    let ws = invite.workspace_id;
    Ok(vec![
        log_change(conn, epoch, Room::Workspace(ws), ChangeOp::Members, user).await?,
        log_change(conn, epoch, Room::Admins(ws), ChangeOp::Invites, invite.id).await?,
    ])
}

/// Logs a record's change in its workspace's room and in its own room.
async fn log_record_change(
    conn: &mut Conn,
    epoch: i64,
    op: ChangeOp,
    record: &Record,
    fields: Vec<String>,
    actor: Option<i64>,
) -> Result<Vec<LoggedChange>, DbError> {
    let change = Change {
        op,
        kind: Some(record.kind),
        id: record.id,
        record: Some(record.clone()),
        fields,
        actor,
        at: now_ms(),
    };
    Ok(vec![
        append_change(conn, epoch, Room::Workspace(record.workspace_id), &change).await?,
        append_change(conn, epoch, Room::Record(record.kind, record.id), &change).await?,
    ])
}

impl SqlStore {
    /// Runs a statement changing one membership and logs the change, in one transaction.
    /// Errors: `NotFound` when no membership matched.
    async fn change_members(
        &self,
        workspace: i64,
        user: i64,
        statement: Sql,
    ) -> Result<(), DbError> {
        let mut tx = self.begin().await?;
        if statement.run(&mut *tx).await? == 0 {
            return Err(DbError::NotFound);
        }
        let logged = [log_change(
            &mut tx,
            self.epoch,
            Room::Workspace(workspace),
            ChangeOp::Members,
            user,
        )
        .await?];
        self.commit(tx, logged.into()).await?;
        Ok(())
    }

    async fn fetch_record(
        conn: &mut Conn,
        workspace: i64,
        kind: RecordKind,
        id: i64,
    ) -> Result<Record, DbError> {
        let mut sql = Sql::new(&format!(
            "SELECT {} FROM {}",
            record_columns(kind),
            kind.table()
        ));
        sql.push(" WHERE workspace_id = ")
            .bind(workspace)
            .push(" AND id = ")
            .bind(id);
        let row = sql.found(&mut *conn).await?;
        record_from_row(kind, &row).map_err(db_error)
    }

    /// Fills `labels` for every reference field of the records (one query per field).
    async fn attach_labels(
        conn: &mut Conn,
        workspace: i64,
        records: &mut [Record],
    ) -> Result<(), DbError> {
        let Some(kind) = records.first().map(|r| r.kind) else {
            return Ok(());
        };
        for def in kind.fields() {
            let mut ids: Vec<i64> = records
                .iter()
                .filter_map(|r| r.get(def.name).as_int())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            if ids.is_empty() {
                continue;
            }
            let mut sql = match def.kind {
                FieldKind::Ref(target) => {
                    let mut s = Sql::new(&format!(
                        "SELECT id, {} AS label FROM {}",
                        target.label_field(),
                        target.table()
                    ));
                    s.push(" WHERE workspace_id = ")
                        .bind(workspace)
                        .push(" AND id IN (");
                    s
                }
                FieldKind::Member => {
                    Sql::new("SELECT id, display_name AS label FROM users WHERE id IN (")
                }
                _ => continue,
            };
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(*id);
            }
            sql.push(")");
            let rows = sql.all(&mut *conn).await?;
            let mut labels = HashMap::with_capacity(rows.len());
            for row in rows {
                let id: i64 = row.try_get("id").map_err(db_error)?;
                let label: String = row.try_get("label").map_err(db_error)?;
                labels.insert(id, label);
            }
            for r in records.iter_mut() {
                if let Some(label) = r.get(def.name).as_int().and_then(|id| labels.get(&id)) {
                    r.labels.insert(def.name.to_string(), label.clone());
                }
            }
        }
        Ok(())
    }

    /// Checks that every reference in `fields` points into the workspace: a live record
    /// of the right kind, or a member. Errors: `Invalid` naming the field.
    async fn check_references(
        conn: &mut Conn,
        workspace: i64,
        kind: RecordKind,
        self_id: Option<i64>,
        fields: &Fields,
    ) -> Result<(), DbError> {
        for (name, value) in fields {
            let (Some(def), Some(id)) = (kind.field(name), value.as_int()) else {
                continue;
            };
            let mut sql = match def.kind {
                FieldKind::Ref(target) => {
                    if target == kind && Some(id) == self_id {
                        return Err(DbError::Invalid {
                            field: name.clone(),
                            message: format!("a {} cannot refer to itself", kind.noun()),
                        });
                    }
                    let mut s = Sql::new(&format!("SELECT COUNT(*) AS n FROM {}", target.table()));
                    s.push(" WHERE deleted_at IS NULL AND id = ").bind(id);
                    s
                }
                FieldKind::Member => {
                    let mut s = Sql::new("SELECT COUNT(*) AS n FROM memberships WHERE user_id = ");
                    s.bind(id);
                    s
                }
                _ => continue,
            };
            sql.push(" AND workspace_id = ").bind(workspace);
            let n: i64 = sql.one(&mut *conn).await?.try_get("n").map_err(db_error)?;
            if n == 0 {
                let what = match def.kind {
                    FieldKind::Ref(target) => target.noun(),
                    _ => "member",
                };
                return Err(DbError::Invalid {
                    field: name.clone(),
                    message: format!("{}: no such {what} in this workspace", def.label),
                });
            }
        }
        Ok(())
    }

    /// Takes the write lock on one record's row before reading it, so the read-merge-write
    /// of an update sees the latest version on both backends (SQLite takes its database
    /// write lock here, PostgreSQL the row lock). Errors: `NotFound`.
    async fn lock_record(
        conn: &mut Conn,
        workspace: i64,
        kind: RecordKind,
        id: i64,
    ) -> Result<Record, DbError> {
        let mut sql = Sql::new(&format!("UPDATE {} SET version = version", kind.table()));
        sql.push(" WHERE workspace_id = ")
            .bind(workspace)
            .push(" AND id = ")
            .bind(id);
        if sql.run(&mut *conn).await? == 0 {
            return Err(DbError::NotFound);
        }
        let current = Self::fetch_record(conn, workspace, kind, id).await?;
        match current.deleted_at {
            Some(at) => Err(Self::deleted(conn, current.deleted_by, at).await),
            None => Ok(current),
        }
    }

    /// The error for a tombstoned record: who deleted it (with their name) and when.
    async fn deleted(conn: &mut Conn, by: Option<i64>, at: i64) -> DbError {
        let by_name = match by {
            Some(id) => Self::user_in(conn, id).await.ok().map(|u| u.display_name),
            None => None,
        };
        DbError::Deleted { by, by_name, at }
    }

    async fn insert_record(
        conn: &mut Conn,
        workspace: i64,
        actor: Option<i64>,
        kind: RecordKind,
        fields: &Fields,
        now: i64,
    ) -> Result<i64, DbError> {
        let mut sql = Sql::new(&format!(
            "INSERT INTO {} (workspace_id, version, created_at, created_by, updated_at, updated_by, search_text",
            kind.table()
        ));
        for def in kind.fields() {
            sql.push(", ").push(def.name);
        }
        sql.push(") VALUES (")
            .bind(workspace)
            .push(", 1, ")
            .bind(now)
            .push(", ")
            .bind(actor);
        sql.push(", ").bind(now).push(", ").bind(actor);
        sql.push(", ").bind(search_text(kind, fields));
        for def in kind.fields() {
            sql.push(", ")
                .bind(field_arg(def, fields.get(def.name).unwrap_or(&Value::Null)));
        }
        sql.push(") RETURNING id");
        let row = sql
            .query()
            .fetch_one(&mut *conn)
            .await
            .map_err(unique_as(kind.label_field()))?;
        row.try_get("id").map_err(db_error)
    }

    /// Sets `fields` of a record and bumps its version; `merged` is every field of the
    /// record after the change (for its folded search text).
    #[allow(clippy::too_many_arguments)]
    async fn apply_fields(
        conn: &mut Conn,
        workspace: i64,
        actor: Option<i64>,
        kind: RecordKind,
        id: i64,
        fields: &Fields,
        merged: &Fields,
        now: i64,
    ) -> Result<(), DbError> {
        let mut sql = Sql::new(&format!(
            "UPDATE {} SET version = version + 1, updated_at = ",
            kind.table()
        ));
        sql.bind(now).push(", updated_by = ").bind(actor);
        sql.push(", search_text = ").bind(search_text(kind, merged));
        for (name, value) in fields {
            let def = kind.field(name).ok_or_else(|| DbError::Invalid {
                field: name.clone(),
                message: format!("a {} has no field {name}", kind.noun()),
            })?;
            sql.push(", ")
                .push(def.name)
                .push(" = ")
                .bind(field_arg(def, value));
        }
        sql.push(" WHERE workspace_id = ")
            .bind(workspace)
            .push(" AND id = ")
            .bind(id);
        sql.query()
            .execute(&mut *conn)
            .await
            .map_err(unique_as(kind.label_field()))?;
        Ok(())
    }

    async fn add_member_in(
        conn: &mut Conn,
        workspace: i64,
        user: i64,
        role: Role,
        now: i64,
    ) -> Result<bool, DbError> {
        let mut sql =
            Sql::new("INSERT INTO memberships (workspace_id, user_id, role, joined_at) VALUES (");
        sql.bind(workspace)
            .push(", ")
            .bind(user)
            .push(", ")
            .bind(role.as_str())
            .push(", ")
            .bind(now);
        sql.push(") ON CONFLICT (workspace_id, user_id) DO NOTHING");
        Ok(sql.run(&mut *conn).await? == 1)
    }

    /// Locks a live invite and uses one acceptance of it. The invite must still be one
    /// its creator could make: they are still an admin of its workspace, and the owner
    /// for an admin invite (an invite with no creator was made by the command line).
    /// Errors: `NotFound`, `InviteGone` (the caller's transaction then rolls back).
    async fn use_invite(conn: &mut Conn, token: &str, now: i64) -> Result<Invite, DbError> {
        let mut sql = Sql::new("UPDATE invites SET uses = uses + 1 WHERE token = ");
        sql.bind(token)
            .push(" AND revoked_at IS NULL AND uses < max_uses AND expires_at > ")
            .bind(now)
            .push(" RETURNING created_by");
        let used = sql.optional(&mut *conn).await?;
        let invite = Self::invite_in(conn, token).await?;
        let Some(used) = used else {
            return Err(DbError::InviteGone);
        };
        if let Some(creator) = used
            .try_get::<Option<i64>, _>("created_by")
            .map_err(db_error)?
        {
            // An admin link (plain or claim) needs the owner, as making an admin does.
            let needed = if invite.role == Role::Admin {
                Role::Owner
            } else {
                Role::Admin
            };
            if Self::role_in(conn, invite.workspace_id, creator)
                .await?
                .is_none_or(|r| r < needed)
            {
                return Err(DbError::InviteGone);
            }
        }
        Ok(invite)
    }

    async fn role_in(conn: &mut Conn, workspace: i64, user: i64) -> Result<Option<Role>, DbError> {
        let mut sql = Sql::new("SELECT role FROM memberships WHERE workspace_id = ");
        sql.bind(workspace).push(" AND user_id = ").bind(user);
        match sql.optional(&mut *conn).await? {
            Some(row) => Ok(Some(
                role_from(&row.try_get::<String, _>("role").map_err(db_error)?)
                    .map_err(db_error)?,
            )),
            None => Ok(None),
        }
    }

    async fn invite_in(conn: &mut Conn, token: &str) -> Result<Invite, DbError> {
        let mut sql = Sql::new(INVITE_SELECT);
        sql.push(" WHERE i.token = ").bind(token);
        let row = sql.found(&mut *conn).await?;
        invite_from_row(&row).map_err(db_error)
    }

    async fn workspace_in(conn: &mut Conn, id: i64) -> Result<Workspace, DbError> {
        let mut sql = Sql::new("SELECT id, name, slug FROM workspaces WHERE id = ");
        sql.bind(id);
        let row = sql.found(&mut *conn).await?;
        workspace_from_row(&row).map_err(db_error)
    }

    async fn user_in(conn: &mut Conn, id: i64) -> Result<User, DbError> {
        let mut sql = Sql::new(&format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = "));
        sql.bind(id);
        let row = sql.found(&mut *conn).await?;
        user_from_row(&row).map_err(db_error)
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn create_user(&self, new: NewUser) -> Result<User, DbError> {
        let mut sql =
            Sql::new("INSERT INTO users (email, password_hash, display_name, created_at) VALUES (");
        sql.bind(Arg::Text(new.email))
            .push(", ")
            .bind(Arg::Text(new.password_hash))
            .push(", ");
        sql.bind(new.display_name)
            .push(", ")
            .bind(now_ms())
            .push(") RETURNING id");
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let id: i64 = sql
            .query()
            .fetch_one(&mut *conn)
            .await
            .map_err(unique_as("email"))?
            .try_get("id")
            .map_err(db_error)?;
        Self::user_in(&mut conn, id).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserAuthRow>, DbError> {
        let mut sql = Sql::new(&format!(
            "SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.email = "
        ));
        sql.bind(email);
        let Some(row) = sql.optional(&self.pool).await? else {
            return Ok(None);
        };
        Ok(Some(UserAuthRow {
            user: user_from_row(&row).map_err(db_error)?,
            password_hash: row.try_get("password_hash").map_err(db_error)?,
        }))
    }

    async fn user(&self, id: i64) -> Result<User, DbError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        Self::user_in(&mut conn, id).await
    }

    async fn set_last_workspace(&self, user: i64, workspace: i64) -> Result<(), DbError> {
        let mut sql = Sql::new("UPDATE users SET last_workspace_id = ");
        sql.bind(workspace).push(" WHERE id = ").bind(user);
        sql.run(&self.pool).await?;
        Ok(())
    }

    async fn create_workspace(
        &self,
        name: &str,
        slug: &str,
        owner: i64,
    ) -> Result<Workspace, DbError> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        let mut sql =
            Sql::new("INSERT INTO workspaces (name, slug, created_at, created_by) VALUES (");
        sql.bind(name)
            .push(", ")
            .bind(slug)
            .push(", ")
            .bind(now)
            .push(", ")
            .bind(owner)
            .push(") RETURNING id");
        let id: i64 = sql
            .query()
            .fetch_one(&mut *tx)
            .await
            .map_err(unique_as("slug"))?
            .try_get("id")
            .map_err(db_error)?;
        Self::add_member_in(&mut tx, id, owner, Role::Owner, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Workspace {
            id,
            name: name.to_string(),
            slug: slug.to_string(),
        })
    }

    async fn workspace(&self, id: i64) -> Result<Workspace, DbError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        Self::workspace_in(&mut conn, id).await
    }

    async fn workspace_by_slug(&self, slug: &str) -> Result<Workspace, DbError> {
        let mut sql = Sql::new("SELECT id, name, slug FROM workspaces WHERE slug = ");
        sql.bind(slug);
        let row = sql.found(&self.pool).await?;
        workspace_from_row(&row).map_err(db_error)
    }

    async fn memberships(&self, user: i64) -> Result<Vec<Membership>, DbError> {
        let mut sql = Sql::new(
            "SELECT w.id, w.name, w.slug, m.role FROM memberships m \
             JOIN workspaces w ON w.id = m.workspace_id WHERE m.user_id = ",
        );
        sql.bind(user).push(" ORDER BY lower(w.name), w.id");
        let rows = sql.all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(Membership {
                    workspace: workspace_from_row(r)?,
                    role: role_from(&r.try_get::<String, _>("role")?)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_error)
    }

    async fn role(&self, workspace: i64, user: i64) -> Result<Option<Role>, DbError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        Self::role_in(&mut conn, workspace, user).await
    }

    async fn rename_workspace(&self, workspace: i64, name: &str) -> Result<Workspace, DbError> {
        let mut sql = Sql::new("UPDATE workspaces SET name = ");
        sql.bind(name).push(" WHERE id = ").bind(workspace);
        if sql.run(&self.pool).await? == 0 {
            return Err(DbError::NotFound);
        }
        self.workspace(workspace).await
    }

    async fn members(&self, workspace: i64) -> Result<Vec<Member>, DbError> {
        let mut sql = Sql::new(&format!(
            "SELECT {USER_COLUMNS}, m.role, m.joined_at, m.region, \
             CAST(CASE WHEN u.password_hash IS NULL THEN 0 ELSE 1 END AS BIGINT) AS joined \
             FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = "
        ));
        sql.bind(workspace)
            .push(" ORDER BY lower(u.display_name), u.id");
        let rows = sql.all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(Member {
                    user: user_from_row(r)?,
                    role: role_from(&r.try_get::<String, _>("role")?)?,
                    joined_at: r.try_get("joined_at")?,
                    joined: r.try_get::<i64, _>("joined")? == 1,
                    region: r.try_get("region")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_error)
    }

    async fn add_member(&self, workspace: i64, user: i64, role: Role) -> Result<(), DbError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        Self::add_member_in(&mut conn, workspace, user, role, now_ms()).await?;
        Ok(())
    }

    async fn set_role(&self, workspace: i64, user: i64, role: Role) -> Result<(), DbError> {
        let mut sql = Sql::new("UPDATE memberships SET role = ");
        sql.bind(role.as_str())
            .push(" WHERE workspace_id = ")
            .bind(workspace)
            .push(" AND user_id = ")
            .bind(user);
        self.change_members(workspace, user, sql).await
    }

    async fn remove_member(&self, workspace: i64, user: i64) -> Result<(), DbError> {
        let mut sql = Sql::new("DELETE FROM memberships WHERE workspace_id = ");
        sql.bind(workspace).push(" AND user_id = ").bind(user);
        self.change_members(workspace, user, sql).await
    }

    async fn create_invite(&self, new: NewInvite) -> Result<Invite, DbError> {
        let mut sql = Sql::new(
            "INSERT INTO invites (workspace_id, token, role, expires_at, max_uses, created_by, created_at, for_user) VALUES (",
        );
        sql.bind(new.workspace_id)
            .push(", ")
            .bind(new.token.clone())
            .push(", ")
            .bind(new.role.as_str());
        sql.push(", ")
            .bind(new.expires_at)
            .push(", ")
            .bind(new.max_uses)
            .push(", ")
            .bind(new.created_by);
        sql.push(", ")
            .bind(now_ms())
            .push(", ")
            .bind(new.for_user)
            .push(") RETURNING id");
        let mut tx = self.begin().await?;
        let id: i64 = sql
            .query()
            .fetch_one(&mut *tx)
            .await
            .map_err(unique_as("token"))?
            .try_get("id")
            .map_err(db_error)?;
        let room = Room::Admins(new.workspace_id);
        let logged = vec![log_change(&mut tx, self.epoch, room, ChangeOp::Invites, id).await?];
        let invite = Self::invite_in(&mut tx, &new.token).await?;
        self.commit(tx, logged).await?;
        Ok(invite)
    }

    async fn invites(&self, workspace: i64) -> Result<Vec<Invite>, DbError> {
        let mut sql = Sql::new(INVITE_SELECT);
        sql.push(" WHERE i.workspace_id = ")
            .bind(workspace)
            .push(" ORDER BY i.id DESC");
        let rows = sql.all(&self.pool).await?;
        rows.iter()
            .map(invite_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_error)
    }

    async fn invite_by_token(&self, token: &str) -> Result<Invite, DbError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        Self::invite_in(&mut conn, token).await
    }

    async fn revoke_invite(&self, workspace: i64, id: i64, now: i64) -> Result<(), DbError> {
        let mut sql = Sql::new("UPDATE invites SET revoked_at = ");
        sql.bind(now)
            .push(" WHERE workspace_id = ")
            .bind(workspace)
            .push(" AND id = ")
            .bind(id);
        let mut tx = self.begin().await?;
        if sql.run(&mut *tx).await? == 0 {
            return Err(DbError::NotFound);
        }
        let room = Room::Admins(workspace);
        let logged = vec![log_change(&mut tx, self.epoch, room, ChangeOp::Invites, id).await?];
        self.commit(tx, logged).await
    }

    async fn accept_invite(&self, token: &str, user: i64, now: i64) -> Result<Workspace, DbError> {
        let mut logged = Vec::new();
        let mut tx = self.begin().await?;
        let invite = Self::invite_in(&mut tx, token).await?;
        if invite.for_user.is_some() {
            return Err(DbError::ClaimNotInvite);
        }
        // The membership first: of two acceptances by one user at once, only the one that
        // inserts it uses the invite (the other waits on the row, then finds it there).
        // Opening a link to a workspace you are already in uses nothing.
        if Self::add_member_in(&mut tx, invite.workspace_id, user, invite.role, now).await? {
            Self::use_invite(&mut tx, token, now).await?;
            logged = log_joined(&mut tx, self.epoch, &invite, user).await?;
        }
        let ws = Self::workspace_in(&mut tx, invite.workspace_id).await?;
        self.commit(tx, logged).await?;
        Ok(ws)
    }

    async fn claim_invite(
        &self,
        token: &str,
        email: &str,
        password_hash: &str,
        display_name: &str,
        now: i64,
    ) -> Result<(User, Workspace), DbError> {
        let mut tx = self.begin().await?;
        let invite = Self::use_invite(&mut tx, token, now).await?;
        let Some(user) = invite.for_user else {
            return Err(DbError::InviteGone);
        };
        let mut sql = Sql::new("UPDATE users SET email = ");
        sql.bind(email)
            .push(", password_hash = ")
            .bind(password_hash)
            .push(", display_name = ")
            .bind(display_name);
        sql.push(" WHERE id = ")
            .bind(user)
            .push(" AND password_hash IS NULL");
        if sql
            .query()
            .execute(&mut *tx)
            .await
            .map_err(unique_as("email"))?
            .rows_affected()
            == 0
        {
            return Err(DbError::InviteGone);
        }
        let ws = invite.workspace_id;
        Self::add_member_in(&mut tx, ws, user, invite.role, now).await?;
        let logged = log_joined(&mut tx, self.epoch, &invite, user).await?;
        let ws = Self::workspace_in(&mut tx, ws).await?;
        let user = Self::user_in(&mut tx, user).await?;
        self.commit(tx, logged).await?;
        Ok((user, ws))
    }

    async fn list_records(
        &self,
        workspace: i64,
        kind: RecordKind,
        q: &RecordQuery,
    ) -> Result<Page<Record>, DbError> {
        let limit = q.page_size();
        let offset = q.offset.max(0);
        let mut count = Sql::new(&format!("SELECT COUNT(*) AS n FROM {}", kind.table()));
        push_record_filters(&mut count, workspace, kind, q)?;
        let mut sql = Sql::new(&format!(
            "SELECT {} FROM {}",
            record_columns(kind),
            kind.table()
        ));
        push_record_filters(&mut sql, workspace, kind, q)?;
        let sort = q.sort.as_deref().unwrap_or(kind.label_field());
        let sort_expr = match (sort, kind.field(sort)) {
            ("updated_at" | "created_at", _) => sort.to_string(),
            (_, Some(def)) if def.storage() == Storage::Text => format!("lower({})", def.name),
            (_, Some(def)) => def.name.to_string(),
            (_, None) => {
                return Err(DbError::Invalid {
                    field: "sort".into(),
                    message: format!("a {} cannot be sorted by {sort}", kind.noun()),
                })
            }
        };
        let dir = match q.dir {
            SortDir::Asc => "ASC",
            SortDir::Desc => "DESC",
        };
        sql.push(&format!(
            " ORDER BY {sort_expr} {dir} NULLS LAST, id {dir} LIMIT "
        ));
        sql.bind(limit).push(" OFFSET ").bind(offset);
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let total: i64 = count
            .one(&mut *conn)
            .await?
            .try_get("n")
            .map_err(db_error)?;
        let rows = sql.all(&mut *conn).await?;
        let mut items = rows
            .iter()
            .map(|r| record_from_row(kind, r))
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_error)?;
        Self::attach_labels(&mut conn, workspace, &mut items).await?;
        Ok(Page {
            position: None,
            items,
            total,
            offset,
            limit,
        })
    }

    async fn record(&self, workspace: i64, kind: RecordKind, id: i64) -> Result<Record, DbError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let mut r = Self::fetch_record(&mut conn, workspace, kind, id).await?;
        if let Some(at) = r.deleted_at {
            return Err(Self::deleted(&mut conn, r.deleted_by, at).await);
        }
        Self::attach_labels(&mut conn, workspace, std::slice::from_mut(&mut r)).await?;
        Ok(r)
    }

    async fn create_record(
        &self,
        workspace: i64,
        actor: i64,
        kind: RecordKind,
        fields: Fields,
    ) -> Result<Record, DbError> {
        let mut tx = self.begin().await?;
        Self::check_references(&mut tx, workspace, kind, None, &fields).await?;
        let id =
            Self::insert_record(&mut tx, workspace, Some(actor), kind, &fields, now_ms()).await?;
        let mut r = Self::fetch_record(&mut tx, workspace, kind, id).await?;
        Self::attach_labels(&mut tx, workspace, std::slice::from_mut(&mut r)).await?;
        let logged = log_record_change(
            &mut tx,
            self.epoch,
            ChangeOp::Created,
            &r,
            Vec::new(),
            Some(actor),
        )
        .await?;
        self.commit(tx, logged).await?;
        Ok(r)
    }

    async fn update_record(
        &self,
        workspace: i64,
        actor: i64,
        kind: RecordKind,
        id: i64,
        changes: BTreeMap<String, FieldChange>,
    ) -> Result<Record, DbError> {
        let mut tx = self.begin().await?;
        let mut current = Self::lock_record(&mut tx, workspace, kind, id).await?;
        // Three-way merge per field: base (what the editor saw), mine, theirs (stored).
        let mut apply = Fields::new();
        let mut conflicts = Vec::new();
        for (field, change) in changes {
            let theirs = current.get(&field).clone();
            if theirs == change.base {
                if theirs != change.value {
                    apply.insert(field, change.value);
                }
            } else if theirs != change.value {
                conflicts.push(FieldConflict {
                    field,
                    base: change.base,
                    mine: change.value,
                    theirs,
                });
            }
        }
        if !conflicts.is_empty() {
            Self::attach_labels(&mut tx, workspace, std::slice::from_mut(&mut current)).await?;
            return Err(DbError::EditConflict {
                current: Box::new(current),
                fields: conflicts,
            });
        }
        if !apply.is_empty() {
            Self::check_references(&mut tx, workspace, kind, Some(id), &apply).await?;
            let mut merged = current.fields.clone();
            merged.extend(apply.clone());
            Self::apply_fields(
                &mut tx,
                workspace,
                Some(actor),
                kind,
                id,
                &apply,
                &merged,
                now_ms(),
            )
            .await?;
            current = Self::fetch_record(&mut tx, workspace, kind, id).await?;
        }
        Self::attach_labels(&mut tx, workspace, std::slice::from_mut(&mut current)).await?;
        let mut logged = Vec::new();
        if !apply.is_empty() {
            let fields = apply.into_keys().collect();
            logged = log_record_change(
                &mut tx,
                self.epoch,
                ChangeOp::Updated,
                &current,
                fields,
                Some(actor),
            )
            .await?;
        }
        self.commit(tx, logged).await?;
        Ok(current)
    }

    async fn delete_record(
        &self,
        workspace: i64,
        actor: i64,
        kind: RecordKind,
        id: i64,
        base_version: i64,
    ) -> Result<(), DbError> {
        let mut tx = self.begin().await?;
        let current = Self::lock_record(&mut tx, workspace, kind, id).await?;
        if current.version != base_version {
            return Err(DbError::EditConflict {
                current: Box::new(current),
                fields: Vec::new(),
            });
        }
        let now = now_ms();
        let mut sql = Sql::new(&format!(
            "UPDATE {} SET version = version + 1, deleted_at = ",
            kind.table()
        ));
        sql.bind(now)
            .push(", deleted_by = ")
            .bind(actor)
            .push(", updated_at = ")
            .bind(now);
        sql.push(", updated_by = ")
            .bind(actor)
            .push(" WHERE workspace_id = ")
            .bind(workspace)
            .push(" AND id = ")
            .bind(id);
        sql.run(&mut *tx).await?;
        let tombstone = Self::fetch_record(&mut tx, workspace, kind, id).await?;
        let logged = log_record_change(
            &mut tx,
            self.epoch,
            ChangeOp::Deleted,
            &tombstone,
            Vec::new(),
            Some(actor),
        )
        .await?;
        self.commit(tx, logged).await?;
        Ok(())
    }

    async fn distinct_values(
        &self,
        workspace: i64,
        kind: RecordKind,
        field: &str,
    ) -> Result<Vec<String>, DbError> {
        let def = kind
            .field(field)
            .filter(|d| d.storage() == Storage::Text)
            .ok_or_else(|| DbError::Invalid {
                field: "field".into(),
                message: format!("{field} is not a text field of a {}", kind.noun()),
            })?;
        let mut sql = Sql::new(&format!(
            "SELECT DISTINCT {0} AS v FROM {1} WHERE {0} IS NOT NULL",
            def.name,
            kind.table()
        ));
        sql.push(" AND deleted_at IS NULL AND workspace_id = ")
            .bind(workspace)
            .push(" ORDER BY v");
        let rows = sql.all(&self.pool).await?;
        rows.iter()
            .map(|r| r.try_get("v"))
            .collect::<Result<_, _>>()
            .map_err(db_error)
    }

    async fn choices(&self, workspace: i64, kind: RecordKind) -> Result<Vec<Choice>, DbError> {
        let label = kind.label_field();
        let mut sql = Sql::new(&format!(
            "SELECT id, {label} AS label FROM {}",
            kind.table()
        ));
        sql.push(" WHERE deleted_at IS NULL AND workspace_id = ")
            .bind(workspace);
        sql.push(&format!(" ORDER BY lower({label}), id"));
        let rows = sql.all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(Choice {
                    id: r.try_get("id")?,
                    label: r.try_get("label")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_error)
    }

    async fn ids_by_key(
        &self,
        workspace: i64,
        kind: RecordKind,
    ) -> Result<HashMap<String, i64>, DbError> {
        Ok(self
            .choices(workspace, kind)
            .await?
            .into_iter()
            .map(|c| (c.label, c.id))
            .collect())
    }

    async fn upsert_records(
        &self,
        workspace: i64,
        actor: Option<i64>,
        kind: RecordKind,
        rows: Vec<Fields>,
    ) -> Result<Vec<(i64, Upserted)>, DbError> {
        let key_field = kind.label_field();
        let now = now_ms();
        let mut tx = self.begin().await?;
        let mut sql = Sql::new(&format!(
            "SELECT {} FROM {}",
            record_columns(kind),
            kind.table()
        ));
        sql.push(" WHERE deleted_at IS NULL AND workspace_id = ")
            .bind(workspace);
        let mut existing: HashMap<String, Record> = HashMap::new();
        for row in sql.all(&mut *tx).await? {
            let r = record_from_row(kind, &row).map_err(db_error)?;
            if let Some(key) = r.get(key_field).as_text() {
                existing.insert(key.to_string(), r);
            }
        }
        // Keys of tombstoned records: a row naming one is reported, never restored or
        // copied (someone here deleted it on purpose).
        let mut sql = Sql::new(&format!(
            "SELECT id, {key_field} AS k FROM {} WHERE deleted_at IS NOT NULL AND workspace_id = ",
            kind.table()
        ));
        sql.bind(workspace);
        let mut tombstones: HashMap<String, i64> = HashMap::new();
        for row in sql.all(&mut *tx).await? {
            let key: Option<String> = row.try_get("k").map_err(db_error)?;
            if let Some(key) = key {
                tombstones.insert(key, row.try_get("id").map_err(db_error)?);
            }
        }
        let mut out = Vec::with_capacity(rows.len());
        for fields in rows {
            let key = fields
                .get(key_field)
                .and_then(Value::as_text)
                .map(str::to_string)
                .ok_or_else(|| DbError::Invalid {
                    field: key_field.into(),
                    message: format!("{key_field} is required"),
                })?;
            match existing.get_mut(&key) {
                None if tombstones.contains_key(&key) => {
                    let id = tombstones[&key];
                    out.push((id, Upserted::Deleted(id)));
                }
                None => {
                    let id =
                        Self::insert_record(&mut tx, workspace, actor, kind, &fields, now).await?;
                    // Kept only to merge a later row with the same key into this record.
                    let r = Record {
                        kind,
                        id,
                        workspace_id: workspace,
                        version: 1,
                        fields,
                        labels: BTreeMap::new(),
                        created_at: now,
                        created_by: actor,
                        updated_at: now,
                        updated_by: actor,
                        deleted_at: None,
                        deleted_by: None,
                    };
                    existing.insert(key, r);
                    out.push((id, Upserted::Created));
                }
                Some(current) => {
                    let changed: Fields = fields
                        .into_iter()
                        .filter(|(k, v)| current.get(k) != v)
                        .collect();
                    if changed.is_empty() {
                        out.push((current.id, Upserted::Unchanged));
                    } else {
                        let mut merged = current.fields.clone();
                        merged.extend(changed.clone());
                        Self::apply_fields(
                            &mut tx, workspace, actor, kind, current.id, &changed, &merged, now,
                        )
                        .await?;
                        current.fields = merged;
                        out.push((current.id, Upserted::Updated));
                    }
                }
            }
        }
        // One bulk event tells lists to reload; a changed record's own room gets its
        // change, so a page open on it updates.
        let mut logged = Vec::new();
        if out
            .iter()
            .any(|(_, o)| matches!(o, Upserted::Created | Upserted::Updated))
        {
            let bulk = Change {
                op: ChangeOp::Bulk,
                kind: Some(kind),
                id: 0,
                record: None,
                fields: Vec::new(),
                actor,
                at: now_ms(),
            };
            logged
                .push(append_change(&mut tx, self.epoch, Room::Workspace(workspace), &bulk).await?);
        }
        for (id, _) in out.iter().filter(|(_, o)| *o == Upserted::Updated) {
            let mut r = Self::fetch_record(&mut tx, workspace, kind, *id).await?;
            Self::attach_labels(&mut tx, workspace, std::slice::from_mut(&mut r)).await?;
            let change = Change {
                op: ChangeOp::Updated,
                kind: Some(kind),
                id: *id,
                record: Some(r),
                fields: Vec::new(),
                actor,
                at: now_ms(),
            };
            logged
                .push(append_change(&mut tx, self.epoch, Room::Record(kind, *id), &change).await?);
        }
        self.commit(tx, logged).await?;
        Ok(out)
    }

    async fn import_keys(&self, workspace: i64) -> Result<HashMap<String, i64>, DbError> {
        let mut sql = Sql::new(
            "SELECT import_key, user_id FROM memberships WHERE import_key IS NOT NULL AND workspace_id = ",
        );
        sql.bind(workspace);
        sql.all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("import_key")?, r.try_get("user_id")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_error)
    }

    async fn upsert_people(
        &self,
        workspace: i64,
        people: Vec<ImportedPerson>,
    ) -> Result<Vec<PersonUpsert>, DbError> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        let mut sql = Sql::new(
            "SELECT u.id, m.import_key, m.role, m.region, \
             CAST(CASE WHEN u.password_hash IS NULL THEN 0 ELSE 1 END AS BIGINT) AS real \
             FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.import_key IS NOT NULL AND m.workspace_id = ",
        );
        sql.bind(workspace);
        // Import key -> (user, role, region, whether the account can sign in).
        let mut members: HashMap<String, (i64, Role, Option<String>, bool)> = HashMap::new();
        for row in sql.all(&mut *tx).await? {
            let key: String = row.try_get("import_key").map_err(db_error)?;
            let role = role_from(&row.try_get::<String, _>("role").map_err(db_error)?)
                .map_err(db_error)?;
            let region: Option<String> = row.try_get("region").map_err(db_error)?;
            let real = row.try_get::<i64, _>("real").map_err(db_error)? == 1;
            let id = row.try_get("id").map_err(db_error)?;
            members.insert(key, (id, role, region, real));
        }
        let mut out = Vec::with_capacity(people.len());
        for person in people {
            let outcome = match members.get(&person.key).cloned() {
                // A real account is its owner's: an import never changes its role or region.
                Some((id, _, _, true)) => (id, Upserted::Unchanged),
                Some((id, role, region, false))
                    if role == person.role && region == person.region =>
                {
                    (id, Upserted::Unchanged)
                }
                Some((id, _, _, false)) => {
                    let mut sql = Sql::new("UPDATE memberships SET role = ");
                    sql.bind(person.role.as_str())
                        .push(", region = ")
                        .bind(Arg::Text(person.region.clone()));
                    sql.push(" WHERE workspace_id = ")
                        .bind(workspace)
                        .push(" AND user_id = ")
                        .bind(id);
                    sql.run(&mut *tx).await?;
                    (id, Upserted::Updated)
                }
                None => {
                    let mut sql = Sql::new("INSERT INTO users (display_name, created_at) VALUES (");
                    sql.bind(person.name.clone())
                        .push(", ")
                        .bind(now)
                        .push(") RETURNING id");
                    let id: i64 = sql.one(&mut *tx).await?.try_get("id").map_err(db_error)?;
                    Self::add_member_in(&mut tx, workspace, id, person.role, now).await?;
                    let mut sql = Sql::new("UPDATE memberships SET region = ");
                    sql.bind(Arg::Text(person.region.clone()))
                        .push(", import_key = ")
                        .bind(person.key.clone());
                    sql.push(" WHERE workspace_id = ")
                        .bind(workspace)
                        .push(" AND user_id = ")
                        .bind(id);
                    sql.run(&mut *tx).await?;
                    (id, Upserted::Created)
                }
            };
            let (id, outcome) = outcome;
            let real = members.get(&person.key).is_some_and(|m| m.3);
            members.insert(person.key, (id, person.role, person.region, real));
            out.push(PersonUpsert {
                user_id: id,
                outcome,
            });
        }
        let mut logged = Vec::new();
        if let Some(p) = out.iter().find(|p| p.outcome != Upserted::Unchanged) {
            let room = Room::Workspace(workspace);
            logged.push(log_change(&mut tx, self.epoch, room, ChangeOp::Members, p.user_id).await?);
        }
        self.commit(tx, logged).await?;
        Ok(out)
    }

    fn set_change_sink(&self, sink: Arc<dyn ChangeSink>) {
        let _ = self.sink.set(sink);
    }

    async fn room_head(&self, room: Room) -> Result<Position, DbError> {
        let mut sql = Sql::new("SELECT epoch, last_offset FROM room_heads WHERE room = ");
        sql.bind(room.name());
        Ok(match sql.optional(&self.pool).await? {
            Some(row) => Position {
                epoch: row.try_get("epoch").map_err(db_error)?,
                offset: row.try_get("last_offset").map_err(db_error)?,
            },
            None => Position {
                epoch: self.epoch,
                offset: 0,
            },
        })
    }

    async fn room_heads(&self, rooms: &[Room]) -> Result<Vec<(Room, Position)>, DbError> {
        let mut out = Vec::with_capacity(rooms.len());
        for chunk in rooms.chunks(500) {
            let by_name: HashMap<String, Room> = chunk.iter().map(|r| (r.name(), *r)).collect();
            let mut sql =
                Sql::new("SELECT room, epoch, last_offset FROM room_heads WHERE room IN (");
            for (i, name) in by_name.keys().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(name.clone());
            }
            sql.push(")");
            for row in sql.all(&self.pool).await? {
                let name: String = row.try_get("room").map_err(db_error)?;
                if let Some(room) = by_name.get(&name) {
                    let position = Position {
                        epoch: row.try_get("epoch").map_err(db_error)?,
                        offset: row.try_get("last_offset").map_err(db_error)?,
                    };
                    out.push((*room, position));
                }
            }
        }
        Ok(out)
    }

    async fn room_changes(
        &self,
        room: Room,
        epoch: i64,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<LoggedChange>, DbError> {
        let mut sql = Sql::new("SELECT event_offset, payload FROM room_events WHERE room = ");
        sql.bind(room.name()).push(" AND epoch = ").bind(epoch);
        sql.push(" AND event_offset > ")
            .bind(after)
            .push(" AND event_offset <= ")
            .bind(upto);
        sql.push(" ORDER BY event_offset LIMIT ").bind(limit.max(1));
        let rows = sql.all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let offset: i64 = r.try_get("event_offset").map_err(db_error)?;
                let payload: String = r.try_get("payload").map_err(db_error)?;
                let change =
                    serde_json::from_str(&payload).map_err(|e| DbError::Other(Box::new(e)))?;
                Ok(LoggedChange {
                    room,
                    position: Position { epoch, offset },
                    change,
                })
            })
            .collect()
    }

    async fn record_workspace(&self, kind: RecordKind, id: i64) -> Result<i64, DbError> {
        let mut sql = Sql::new(&format!(
            "SELECT workspace_id FROM {} WHERE id = ",
            kind.table()
        ));
        sql.bind(id);
        let row = sql.found(&self.pool).await?;
        row.try_get("workspace_id").map_err(db_error)
    }
}
