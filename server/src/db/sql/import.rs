//! Import upserts: records by natural key (tombstoned keys reported, never restored) and
//! people by the import's own key (real accounts never changed).

use super::*;

/// The kind's natural key, which an import matches records by.
/// Errors: `Invalid` for a kind without one (it cannot be imported by key).
fn natural_key(kind: RecordKind) -> Result<&'static str, DbError> {
    kind.natural_key().ok_or_else(|| DbError::Invalid {
        field: "kind".into(),
        message: format!("a {} has no natural key to import by", kind.noun()),
    })
}

#[async_trait]
impl ImportStore for SqlStore {
    async fn ids_by_key(
        &self,
        workspace: i64,
        kind: RecordKind,
    ) -> Result<HashMap<String, i64>, DbError> {
        let key = natural_key(kind)?;
        let mut sql = Sql::new(&format!("SELECT id, {key} AS k FROM {}", kind.table()));
        sql.push(" WHERE deleted_at IS NULL AND workspace_id = ")
            .bind(workspace);
        let mut out = HashMap::new();
        for row in sql.all(&self.pool).await? {
            if let Some(k) = row.try_get::<Option<String>, _>("k")? {
                out.insert(k, row.try_get("id")?);
            }
        }
        Ok(out)
    }

    async fn insert_records(
        &self,
        workspace: i64,
        actor: Option<i64>,
        kind: RecordKind,
        rows: &[Fields],
    ) -> Result<usize, DbError> {
        if rows.is_empty() {
            return Ok(0);
        }
        // A few hundred arguments per statement: sqlx's SQLite driver looks each one up by
        // name among all of the statement's, so a statement's cost grows with the square
        // of its arguments (30,000 of them made a million rows take 10 minutes).
        let per_row = 7 + kind.fields().len();
        let per_statement = (500 / per_row).max(1);
        let now = now_ms();
        let mut tx = self.begin().await?;
        for chunk in rows.chunks(per_statement) {
            let mut sql = Sql::new(&format!(
                "INSERT INTO {} (workspace_id, version, created_at, created_by, updated_at, updated_by, search_text",
                kind.table()
            ));
            for def in kind.fields() {
                sql.push(", ").push(def.name);
            }
            sql.push(") VALUES ");
            for (i, fields) in chunk.iter().enumerate() {
                sql.push(if i == 0 { "(" } else { ", (" })
                    .bind(workspace)
                    .push(", 1, ")
                    .bind(now)
                    .push(", ")
                    .bind(actor)
                    .push(", ")
                    .bind(now)
                    .push(", ")
                    .bind(actor)
                    .push(", ")
                    .bind(search_text(kind, fields));
                for def in kind.fields() {
                    sql.push(", ")
                        .bind(field_arg(def, fields.get(def.name).unwrap_or(&Value::Null)));
                }
                sql.push(")");
            }
            sql.query()
                .execute(&mut *tx)
                .await
                .map_err(unique_as(kind.natural_key().unwrap_or("record")))?;
        }
        let bulk = Change::Bulk {
            kind,
            counts: Some(BulkCounts {
                created: rows.len() as u64,
                ..BulkCounts::default()
            }),
            actor,
            at: now_ms(),
        };
        let logged =
            vec![append_change(&mut tx, self.epoch, Room::Workspace(workspace), &bulk).await?];
        self.commit(tx, logged).await?;
        Ok(rows.len())
    }

    async fn upsert_records(
        &self,
        workspace: i64,
        actor: Option<i64>,
        kind: RecordKind,
        rows: Vec<Fields>,
        progress: Progress<'_>,
    ) -> Result<Vec<(i64, Upserted)>, DbError> {
        let key_field = natural_key(kind)?;
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
            let r = record_from_row(kind, &row)?;
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
            let key: Option<String> = row.try_get("k")?;
            if let Some(key) = key {
                tombstones.insert(key, row.try_get("id")?);
            }
        }
        let mut out = Vec::with_capacity(rows.len());
        for fields in rows {
            if (out.len() as u64).is_multiple_of(PROGRESS_EVERY) && !out.is_empty() {
                progress(out.len() as u64);
            }
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
                    out.push((id, Upserted::Deleted));
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
                        titles: BTreeMap::new(),
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
                            &mut tx, workspace, actor, kind, current.id, &changed, &merged,
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
            let count = |o: Upserted| out.iter().filter(|(_, u)| *u == o).count() as u64;
            let bulk = Change::Bulk {
                kind,
                counts: Some(BulkCounts {
                    created: count(Upserted::Created),
                    updated: count(Upserted::Updated),
                    unchanged: count(Upserted::Unchanged),
                    skipped: count(Upserted::Deleted),
                }),
                actor,
                at: now_ms(),
            };
            logged
                .push(append_change(&mut tx, self.epoch, Room::Workspace(workspace), &bulk).await?);
        }
        for (id, _) in out.iter().filter(|(_, o)| *o == Upserted::Updated) {
            let mut r = Self::fetch_record(&mut tx, workspace, kind, *id).await?;
            Self::attach_titles(&mut tx, workspace, std::slice::from_mut(&mut r)).await?;
            let change = Change::updated(&r, r.fields.keys(), actor, now_ms());
            logged
                .push(append_change(&mut tx, self.epoch, Room::Record(kind, *id), &change).await?);
        }
        self.commit(tx, logged).await?;
        Ok(out)
    }

    async fn import_mapping(&self, workspace: i64) -> Result<ImportMapping, DbError> {
        let mut sql = Sql::new("SELECT mapping FROM import_mappings WHERE workspace_id = ");
        sql.bind(workspace);
        let Some(row) = sql.optional(&self.pool).await? else {
            return Ok(ImportMapping::default());
        };
        let json: String = row.try_get("mapping")?;
        serde_json::from_str(&json).map_err(|e| DbError::Other(Box::new(e)))
    }

    async fn save_import_mapping(
        &self,
        workspace: i64,
        mapping: &ImportMapping,
    ) -> Result<(), DbError> {
        let json = serde_json::to_string(mapping).map_err(|e| DbError::Other(Box::new(e)))?;
        let mut sql =
            Sql::new("INSERT INTO import_mappings (workspace_id, mapping, updated_at) VALUES (");
        sql.bind(workspace)
            .push(", ")
            .bind(json)
            .push(", ")
            .bind(now_ms())
            .push(
                ") ON CONFLICT (workspace_id) DO UPDATE SET mapping = excluded.mapping, \
                 updated_at = excluded.updated_at",
            );
        self.write(sql).await?;
        Ok(())
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
            .map_err(DbError::from)
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
            let key: String = row.try_get("import_key")?;
            let role = role_from(&row.try_get::<String, _>("role")?)?;
            let region: Option<String> = row.try_get("region")?;
            let real = row.try_get::<i64, _>("real")? == 1;
            let id = row.try_get("id")?;
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
                    let id: i64 = sql.one(&mut *tx).await?.try_get("id")?;
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
            logged.push(
                log_change(
                    &mut tx,
                    self.epoch,
                    room,
                    member_change(p.user_id, MemberHow::Imported, None),
                )
                .await?,
            );
        }
        self.commit(tx, logged).await?;
        Ok(out)
    }
}
