//! Records of every kind through one mechanism: lists (paged in `listing.rs`),
//! reads, creation, the three-way merge of updates, tombstones, reference checks and the
//! folded search text.

use super::*;

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

/// How many of a record room's newest events a conflict looks through for who last
/// changed each conflicted field (older than that, the record's last editor is named).
const CONFLICT_SCAN: i64 = 200;

/// How long an idempotency key's answer is kept, milliseconds (a day).
const KEY_LIFETIME_MS: i64 = 24 * 60 * 60 * 1000;

/// The first answer to a keyed update, as stored: the merge's outcome.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
enum KeyedAnswer {
    /// The update was applied (or was already there): the record after it.
    Applied { record: Record },
    /// The update clashed: nothing was applied.
    Conflict {
        current: Record,
        fields: Vec<FieldConflict>,
    },
}

/// The stored answer for `user`'s `key`, if it was used within the last day.
async fn keyed_answer(
    conn: &mut Conn,
    user: i64,
    key: &str,
) -> Result<Option<Result<Record, DbError>>, DbError> {
    let mut sql = Sql::new("SELECT answer FROM idempotency_keys WHERE user_id = ");
    sql.bind(user)
        .push(" AND key = ")
        .bind(key.to_string())
        .push(" AND created_at > ")
        .bind(now_ms() - KEY_LIFETIME_MS);
    let Some(row) = sql.optional(&mut *conn).await? else {
        return Ok(None);
    };
    let text: String = row.try_get("answer")?;
    let answer: KeyedAnswer =
        serde_json::from_str(&text).map_err(|e| DbError::Other(Box::new(e)))?;
    Ok(Some(match answer {
        KeyedAnswer::Applied { record } => Ok(record),
        KeyedAnswer::Conflict { current, fields } => Err(DbError::EditConflict {
            current: Box::new(current),
            fields,
        }),
    }))
}

/// Stores `answer` as the first answer for `user`'s `key` (replacing one older than a
/// day), and purges keys older than a day.
async fn remember_answer(
    conn: &mut Conn,
    user: i64,
    key: &str,
    answer: &KeyedAnswer,
) -> Result<(), DbError> {
    let now = now_ms();
    let mut purge = Sql::new("DELETE FROM idempotency_keys WHERE created_at <= ");
    purge.bind(now - KEY_LIFETIME_MS);
    purge.run(&mut *conn).await?;
    let text = serde_json::to_string(answer).map_err(|e| DbError::Other(Box::new(e)))?;
    let mut sql =
        Sql::new("INSERT INTO idempotency_keys (user_id, key, answer, created_at) VALUES (");
    sql.bind(user)
        .push(", ")
        .bind(key.to_string())
        .push(", ")
        .bind(text)
        .push(", ")
        .bind(now)
        .push(")");
    sql.run(&mut *conn).await.map(drop)
}

impl SqlStore {
    pub(super) async fn fetch_record(
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
        let row = sql.one(&mut *conn).await?;
        record_from_row(kind, &row).map_err(DbError::from)
    }

    /// Fills `labels` for every reference field of the records with the titles of what
    /// they point at (members' names joined by ", " for a list of members): one query per
    /// field and target kind.
    pub(super) async fn attach_titles(
        conn: &mut Conn,
        workspace: i64,
        records: &mut [Record],
    ) -> Result<(), DbError> {
        let Some(kind) = records.first().map(|r| r.kind) else {
            return Ok(());
        };
        for def in kind.fields() {
            let mut wanted: BTreeMap<Option<RecordKind>, Vec<i64>> = BTreeMap::new();
            for r in records.iter() {
                for target in def.kind.references(r.get(def.name)) {
                    let (kind, id) = match target {
                        Reference::Record(kind, id) => (Some(kind), id),
                        Reference::Member(id) => (None, id),
                    };
                    wanted.entry(kind).or_default().push(id);
                }
            }
            if wanted.is_empty() {
                continue;
            }
            let mut titles: HashMap<Reference, String> = HashMap::new();
            for (target, mut ids) in wanted {
                ids.sort_unstable();
                ids.dedup();
                let mut sql = match target {
                    Some(target) => {
                        let mut s = Sql::new(&format!(
                            "SELECT id, {} AS title FROM {}",
                            target.title_field(),
                            target.table()
                        ));
                        s.push(" WHERE workspace_id = ")
                            .bind(workspace)
                            .push(" AND id IN (");
                        s
                    }
                    None => Sql::new("SELECT id, display_name AS title FROM users WHERE id IN ("),
                };
                for (i, id) in ids.iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.bind(*id);
                }
                sql.push(")");
                for row in sql.all(&mut *conn).await? {
                    let id: i64 = row.try_get("id")?;
                    let key = match target {
                        Some(kind) => Reference::Record(kind, id),
                        None => Reference::Member(id),
                    };
                    titles.insert(key, row.try_get("title")?);
                }
            }
            for r in records.iter_mut() {
                let found: Vec<&str> = def
                    .kind
                    .references(r.get(def.name))
                    .iter()
                    .filter_map(|t| titles.get(t).map(String::as_str))
                    .collect();
                if !found.is_empty() {
                    r.titles.insert(def.name.to_string(), found.join(", "));
                }
            }
        }
        Ok(())
    }

    /// Checks that every reference in `fields` points into the workspace: a live record
    /// of the right kind (not the record itself), or a member. Errors: `Invalid` naming
    /// the field.
    pub(super) async fn check_references(
        conn: &mut Conn,
        workspace: i64,
        kind: RecordKind,
        self_id: Option<i64>,
        fields: &Fields,
    ) -> Result<(), DbError> {
        for (name, value) in fields {
            let Some(def) = kind.field(name) else {
                continue;
            };
            // Answers name those who gave them: the actor (a member, see
            // `check_own_answer`) and earlier answerers, who may have left since.
            if def.kind == FieldKind::Responses {
                continue;
            }
            for target in def.kind.references(value) {
                let invalid = |message: String| DbError::Invalid {
                    field: name.clone(),
                    message,
                };
                let (mut sql, what) = match target {
                    Reference::Record(target, id) => {
                        if target == kind && Some(id) == self_id {
                            return Err(invalid(format!(
                                "a {} cannot refer to itself",
                                kind.noun()
                            )));
                        }
                        let mut s =
                            Sql::new(&format!("SELECT COUNT(*) AS n FROM {}", target.table()));
                        s.push(" WHERE deleted_at IS NULL AND id = ").bind(id);
                        (s, target.noun())
                    }
                    Reference::Member(id) => {
                        let mut s =
                            Sql::new("SELECT COUNT(*) AS n FROM memberships WHERE user_id = ");
                        s.bind(id);
                        (s, "member")
                    }
                };
                sql.push(" AND workspace_id = ").bind(workspace);
                let n: i64 = sql.one(&mut *conn).await?.try_get("n")?;
                if n == 0 {
                    return Err(invalid(format!(
                        "{}: no such {what} in this workspace",
                        def.caption
                    )));
                }
            }
        }
        Ok(())
    }

    /// Takes the write lock on one record's row before reading it, so the read-merge-write
    /// of an update sees the latest version on both backends (SQLite takes its database
    /// write lock here, PostgreSQL the row lock). Errors: `NotFound`.
    pub(super) async fn lock_record(
        conn: &mut Conn,
        workspace: i64,
        kind: RecordKind,
        id: i64,
    ) -> Result<Record, DbError> {
        // A no-op update takes the row's write lock and reads it back in one statement.
        let mut sql = Sql::new(&format!("UPDATE {} SET version = version", kind.table()));
        sql.push(" WHERE workspace_id = ")
            .bind(workspace)
            .push(" AND id = ")
            .bind(id)
            .push(" RETURNING ")
            .push(&record_columns(kind));
        let Some(row) = sql.optional(&mut *conn).await? else {
            return Err(DbError::NotFound);
        };
        let current = record_from_row(kind, &row)?;
        match current.deleted_at {
            Some(at) => Err(Self::deleted(conn, current.deleted_by, at).await),
            None => Ok(current),
        }
    }

    /// The error for a tombstoned record: who deleted it (with their name) and when.
    pub(super) async fn deleted(conn: &mut Conn, by: Option<i64>, at: i64) -> DbError {
        let by_name = match by {
            Some(id) => Self::user_in(conn, id).await.ok().map(|u| u.display_name),
            None => None,
        };
        DbError::Deleted { by, by_name, at }
    }

    pub(super) async fn insert_record(
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
            .map_err(unique_as(kind.natural_key().unwrap_or("record")))?;
        row.try_get("id").map_err(DbError::from)
    }

    /// Sets `fields` of a record and bumps its version; `merged` is every field of the
    /// record after the change (for its folded search text). Returns the record as
    /// stored (read back by the same statement), without titles.
    pub(super) async fn apply_fields(
        conn: &mut Conn,
        workspace: i64,
        actor: Option<i64>,
        kind: RecordKind,
        id: i64,
        fields: &Fields,
        merged: &Fields,
    ) -> Result<Record, DbError> {
        let mut sql = Sql::new(&format!(
            "UPDATE {} SET version = version + 1, updated_at = ",
            kind.table()
        ));
        sql.bind(now_ms()).push(", updated_by = ").bind(actor);
        // The folded search text only when a searched field changed, so an edit of any
        // other field leaves the search index alone (SQLite's FTS5 trigger fires on
        // `UPDATE OF search_text`; PostgreSQL's trigram index is not touched).
        if kind.search_fields().iter().any(|f| fields.contains_key(*f)) {
            sql.push(", search_text = ").bind(search_text(kind, merged));
        }
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
            .bind(id)
            .push(" RETURNING ")
            .push(&record_columns(kind));
        let row = sql
            .query()
            .fetch_one(&mut *conn)
            .await
            .map_err(unique_as(kind.natural_key().unwrap_or("record")))?;
        record_from_row(kind, &row).map_err(DbError::from)
    }

    /// Computes the folded search text of records that have none (rows from before the
    /// column existed), in pages.
    pub(super) async fn fill_search_text(&self, kind: RecordKind) -> Result<(), DbError> {
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
                let r = record_from_row(kind, row)?;
                let mut sql = Sql::new(&format!("UPDATE {} SET search_text = ", kind.table()));
                sql.bind(search_text(kind, &r.fields))
                    .push(" WHERE id = ")
                    .bind(r.id);
                sql.run(&mut *tx).await?;
            }
            tx.commit().await?;
        }
    }
}

#[async_trait]
impl RecordStore for SqlStore {
    async fn list_records(
        &self,
        workspace: i64,
        kind: RecordKind,
        q: &RecordQuery,
    ) -> Result<Page<Record>, DbError> {
        self.keyset_page(workspace, kind, q).await
    }

    async fn record(&self, workspace: i64, kind: RecordKind, id: i64) -> Result<Record, DbError> {
        let mut conn = self.pool.acquire().await?;
        let mut r = Self::fetch_record(&mut conn, workspace, kind, id).await?;
        if let Some(at) = r.deleted_at {
            return Err(Self::deleted(&mut conn, r.deleted_by, at).await);
        }
        Self::attach_titles(&mut conn, workspace, std::slice::from_mut(&mut r)).await?;
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
        Self::check_own_answer(kind, actor, &Fields::new(), &fields)?;
        Self::check_references(&mut tx, workspace, kind, None, &fields).await?;
        let id =
            Self::insert_record(&mut tx, workspace, Some(actor), kind, &fields, now_ms()).await?;
        let mut r = Self::fetch_record(&mut tx, workspace, kind, id).await?;
        Self::sync_bookings(&mut tx, &r).await?;
        Self::attach_titles(&mut tx, workspace, std::slice::from_mut(&mut r)).await?;
        let logged = log_record_change(
            &mut tx,
            self.epoch,
            Change::Created {
                record: r.clone(),
                actor: Some(actor),
                at: now_ms(),
            },
        )
        .await?;
        self.commit(tx, logged).await?;
        Ok(r)
    }

    async fn update_record_with(
        &self,
        workspace: i64,
        actor: i64,
        kind: RecordKind,
        id: i64,
        changes: BTreeMap<String, FieldChange>,
        options: UpdateOptions,
    ) -> Result<Record, DbError> {
        let mut tx = self.begin().await?;
        // The row lock first: a repeat of a keyed edit running at the same time waits
        // here, then finds the first one's answer.
        let locked = Self::lock_record(&mut tx, workspace, kind, id).await;
        if let Some(key) = &options.idempotency_key {
            if let Some(answer) = keyed_answer(&mut tx, actor, key).await? {
                return answer;
            }
        }
        let mut current = locked?;
        let merged = merge(&current.fields, &changes, &options.overwrite);
        if !merged.conflicts.is_empty() {
            let mut fields = merged.conflicts;
            let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
            let who =
                last_field_changes(&mut tx, Room::Record(kind, id), &names, CONFLICT_SCAN).await?;
            for f in &mut fields {
                let (by, at) = who
                    .get(&f.field)
                    .copied()
                    .unwrap_or((current.updated_by, current.updated_at));
                f.by = by;
                f.at = Some(at);
                f.by_name = match by {
                    Some(u) => Self::user_in(&mut tx, u).await.ok().map(|u| u.display_name),
                    None => None,
                };
            }
            Self::attach_titles(&mut tx, workspace, std::slice::from_mut(&mut current)).await?;
            let answer = KeyedAnswer::Conflict {
                current: current.clone(),
                fields: fields.clone(),
            };
            if let Some(key) = &options.idempotency_key {
                remember_answer(&mut tx, actor, key, &answer).await?;
                self.commit(tx, Vec::new()).await?;
            }
            return Err(DbError::EditConflict {
                current: Box::new(current),
                fields,
            });
        }
        let apply = merged.apply;
        let before: Fields = apply
            .keys()
            .map(|k| (k.clone(), current.get(k).clone()))
            .collect();
        // Whose values an overwrite replaces: the last to change each overwritten field.
        let mut overwrote = Vec::new();
        if !merged.overwritten.is_empty() {
            let names: Vec<&str> = merged.overwritten.iter().map(String::as_str).collect();
            let who =
                last_field_changes(&mut tx, Room::Record(kind, id), &names, CONFLICT_SCAN).await?;
            overwrote = names
                .iter()
                .filter_map(|n| who.get(*n).map(|(by, _)| *by).unwrap_or(current.updated_by))
                .filter(|u| *u != actor)
                .collect();
            overwrote.sort_unstable();
            overwrote.dedup();
        }
        if !apply.is_empty() {
            Self::check_own_answer(kind, actor, &current.fields, &apply)?;
            Self::check_references(&mut tx, workspace, kind, Some(id), &apply).await?;
            let mut all = current.fields.clone();
            all.extend(apply.clone());
            current =
                Self::apply_fields(&mut tx, workspace, Some(actor), kind, id, &apply, &all).await?;
            Self::sync_bookings(&mut tx, &current).await?;
        }
        Self::attach_titles(&mut tx, workspace, std::slice::from_mut(&mut current)).await?;
        let mut logged = Vec::new();
        if !apply.is_empty() {
            let mut change =
                Change::updated(&current, apply.keys(), Some(actor), current.updated_at);
            if let Change::Updated {
                overwritten,
                overwrote: replaced,
                before: was,
                ..
            } = &mut change
            {
                *overwritten = merged.overwritten;
                *replaced = overwrote;
                *was = before;
            }
            logged = log_record_change(&mut tx, self.epoch, change).await?;
        }
        if let Some(key) = &options.idempotency_key {
            let answer = KeyedAnswer::Applied {
                record: current.clone(),
            };
            remember_answer(&mut tx, actor, key, &answer).await?;
        }
        self.commit_knowing(tx, logged, Some(&current)).await?;
        Ok(current)
    }

    async fn restore_record(
        &self,
        workspace: i64,
        actor: i64,
        kind: RecordKind,
        id: i64,
    ) -> Result<Record, DbError> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        let mut sql = Sql::new(&format!(
            "UPDATE {} SET version = version + 1, deleted_at = NULL, deleted_by = NULL, updated_at = ",
            kind.table()
        ));
        sql.bind(now)
            .push(", updated_by = ")
            .bind(actor)
            .push(" WHERE workspace_id = ")
            .bind(workspace)
            .push(" AND id = ")
            .bind(id)
            .push(" AND deleted_at IS NOT NULL RETURNING ")
            .push(&record_columns(kind));
        let Some(row) = sql.optional(&mut *tx).await? else {
            // Live (someone restored it first) or not there at all.
            Self::fetch_record(&mut tx, workspace, kind, id).await?;
            return Err(DbError::Invalid {
                field: "record".into(),
                message: format!("this {} is not deleted", kind.noun()),
            });
        };
        let mut record = record_from_row(kind, &row)?;
        Self::sync_bookings(&mut tx, &record).await?;
        Self::attach_titles(&mut tx, workspace, std::slice::from_mut(&mut record)).await?;
        let change = Change::Restored {
            record: record.clone(),
            actor: Some(actor),
            at: now,
        };
        let logged = log_record_change(&mut tx, self.epoch, change).await?;
        self.commit(tx, logged).await?;
        Ok(record)
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
        Self::sync_bookings(&mut tx, &tombstone).await?;
        let logged = log_record_change(
            &mut tx,
            self.epoch,
            Change::Deleted {
                record: tombstone,
                actor: Some(actor),
                at: now_ms(),
            },
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
        // A loose index scan: one index seek per distinct value (a filter field has an
        // index led by it), instead of reading every row as `SELECT DISTINCT` does on
        // PostgreSQL. Technique: PostgreSQL wiki, "Loose indexscan".
        let (col, table) = (def.name, kind.table());
        let next = |after: &str| {
            format!(
                "SELECT {col} FROM {table} WHERE workspace_id = $1 AND deleted_at IS NULL \
                 AND {col} {after} ORDER BY {col} LIMIT 1"
            )
        };
        let mut sql = Sql::new(&format!(
            "WITH RECURSIVE found (v) AS (SELECT ({}) UNION ALL SELECT ({}) FROM found WHERE v IS NOT NULL) \
             SELECT v FROM found WHERE v IS NOT NULL",
            next("IS NOT NULL"),
            next("> found.v")
        ));
        sql.add_arg(workspace);
        let rows = sql.all(&self.pool).await?;
        rows.iter()
            .map(|r| r.try_get("v"))
            .collect::<Result<_, _>>()
            .map_err(DbError::from)
    }

    async fn choices(
        &self,
        workspace: i64,
        kind: RecordKind,
        term: &str,
        limit: i64,
    ) -> Result<Vec<Choice>, DbError> {
        self.title_choices(workspace, kind, term, limit).await
    }

    async fn board_totals(
        &self,
        workspace: i64,
        kind: RecordKind,
    ) -> Result<Vec<app::model::BoardTotal>, DbError> {
        self.board_column_totals(workspace, kind).await
    }
}
