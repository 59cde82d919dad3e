//! The indexes, search index and board totals every kind needs to stay fast at scale,
//! derived from its spec at start-up rather than written per kind in migrations: a new
//! sortable column, filter, related list or board gets its index by being declared.
//!
//! - a sort index `(workspace_id, key, id)` per sortable column (its list columns, its
//!   default sort, `updated_at` and `created_at`), which keyset paging walks;
//! - a filter index `(workspace_id, field, updated_at, id)` per filter field, reference
//!   that a related list follows, and board field (newest first within a value);
//! - the search index on the folded search text: an FTS5 trigram table kept by triggers
//!   on SQLite, a pg_trgm GIN index on PostgreSQL;
//! - board totals (count and amount per column) kept by triggers in `board_totals`.
//!
//! All indexes are partial (`WHERE deleted_at IS NULL`): lists never show tombstones.

use super::*;

/// Every sort a list of `kind` may ask for.
pub(super) fn sortable(kind: RecordKind) -> Vec<&'static str> {
    let spec = kind.spec();
    let mut out: Vec<&'static str> = spec.list.columns.to_vec();
    out.extend([
        spec.default_sort,
        spec.title_field,
        "updated_at",
        "created_at",
    ]);
    let mut seen = std::collections::HashSet::new();
    out.retain(|s| seen.insert(*s));
    out
}

/// Fields of `kind` that lists filter by: its filters, the references other kinds'
/// related lists follow, and its board field.
pub(super) fn filtered(kind: RecordKind) -> Vec<&'static str> {
    let spec = kind.spec();
    let mut out: Vec<&'static str> = spec.list.filters.to_vec();
    for other in RecordKind::ALL {
        out.extend(
            other
                .spec()
                .related
                .iter()
                .filter(|r| r.kind == kind)
                .map(|r| r.field),
        );
    }
    out.extend(spec.board.as_ref().map(|b| b.field));
    let mut seen = std::collections::HashSet::new();
    out.retain(|s| seen.insert(*s));
    out
}

impl SqlStore {
    /// Creates what is missing of the indexes, search index and board totals of every
    /// kind (see the module's list). Run once at start-up, after the migrations; on a
    /// big database the first run after an upgrade builds the new indexes.
    /// Errors: the database fails.
    pub(super) async fn ensure_list_indexes(&self) -> Result<(), DbError> {
        for kind in RecordKind::ALL {
            let table = kind.table();
            let mut ddl = Vec::new();
            for sort in sortable(kind) {
                let key = listing::sort_key(kind, sort)?;
                ddl.push(format!(
                    "CREATE INDEX IF NOT EXISTS {table}_sort_{sort} ON {table} \
                     (workspace_id, {}, id) WHERE deleted_at IS NULL",
                    key.expr
                ));
            }
            for field in filtered(kind) {
                ddl.push(format!(
                    "CREATE INDEX IF NOT EXISTS {table}_by_{field} ON {table} \
                     (workspace_id, {field}, updated_at, id) WHERE deleted_at IS NULL"
                ));
            }
            if !self.sqlite {
                ddl.push(format!(
                    "CREATE INDEX IF NOT EXISTS {table}_search ON {table} \
                     USING gin (search_text gin_trgm_ops) WHERE deleted_at IS NULL"
                ));
            }
            for statement in ddl {
                self.write(Sql::new(&statement)).await?;
            }
            if self.sqlite {
                self.ensure_fts(kind).await?;
            }
            if kind.spec().board.is_some() {
                self.ensure_board_totals(kind).await?;
            }
        }
        Ok(())
    }

    /// Whether a table, index or trigger called `name` exists.
    async fn schema_has(&self, name: &str) -> Result<bool, DbError> {
        let mut sql = Sql::default();
        if self.sqlite {
            sql.push("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = ")
                .bind(name);
        } else {
            sql.push("SELECT (SELECT COUNT(*) FROM pg_trigger WHERE tgname = ")
                .bind(name)
                .push(") + (SELECT COUNT(*) FROM pg_class WHERE relname = ")
                .bind(name)
                .push(") AS n");
        }
        let n: i64 = sql.one(&self.pool).await?.try_get("n")?;
        Ok(n > 0)
    }

    /// SQLite: the kind's FTS5 trigram table over its folded search text, filled from the
    /// rows already there and kept by triggers on every insert and change of the text.
    /// The table is contentless (it stores only the index); tombstoned rows stay in it
    /// and lists filter them out.
    async fn ensure_fts(&self, kind: RecordKind) -> Result<(), DbError> {
        let table = kind.table();
        if !self.schema_has(&format!("{table}_search_update")).await? {
            self.create_fts(kind).await?;
        }
        Ok(())
    }

    /// Creates the FTS5 table of `ensure_fts`, fills it and its triggers, in one transaction.
    async fn create_fts(&self, kind: RecordKind) -> Result<(), DbError> {
        let table = kind.table();
        let mut tx = self.begin().await?;
        for statement in [
            format!("DROP TABLE IF EXISTS {table}_search"),
            format!(
                "CREATE VIRTUAL TABLE {table}_search USING fts5(search_text, content='', \
                 contentless_delete=1, tokenize='trigram')"
            ),
            format!(
                "INSERT INTO {table}_search (rowid, search_text) \
                 SELECT id, search_text FROM {table} WHERE search_text IS NOT NULL"
            ),
            format!(
                "CREATE TRIGGER {table}_search_insert AFTER INSERT ON {table} BEGIN \
                 INSERT INTO {table}_search (rowid, search_text) VALUES (new.id, new.search_text); END"
            ),
            format!(
                "CREATE TRIGGER {table}_search_update AFTER UPDATE OF search_text ON {table} BEGIN \
                 INSERT OR REPLACE INTO {table}_search (rowid, search_text) VALUES (new.id, new.search_text); END"
            ),
        ] {
            Sql::new(&statement).run(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The triggers that keep `board_totals` for the kind's board (a count and the sum of
    /// its amount per column, over live records), and the totals of the rows already
    /// there. A change that moves a record between columns updates both in one statement,
    /// in column order, so two opposite moves cannot deadlock on PostgreSQL.
    async fn ensure_board_totals(&self, kind: RecordKind) -> Result<(), DbError> {
        let Some(board) = kind.spec().board.as_ref() else {
            return Ok(());
        };
        let (table, noun, field) = (kind.table(), kind.noun(), board.field);
        let trigger = format!("{table}_board_totals");
        if self.schema_has(&trigger).await? {
            return Ok(());
        }
        let amount = |row: &str| match board.amount {
            Some(a) => format!("coalesce({row}.{a}, 0)"),
            None => "0".to_string(),
        };
        let watched = match board.amount {
            Some(a) => format!("{field}, {a}, deleted_at"),
            None => format!("{field}, deleted_at"),
        };
        let upsert = "ON CONFLICT (workspace_id, kind, board_column) DO UPDATE SET \
                      records = board_totals.records + excluded.records, \
                      amount = board_totals.amount + excluded.amount";
        let insert = "INSERT INTO board_totals (workspace_id, kind, board_column, records, amount)";
        let mut statements = Vec::new();
        if self.sqlite {
            statements.push(format!(
                "CREATE TRIGGER {trigger}_insert AFTER INSERT ON {table} WHEN new.deleted_at IS NULL BEGIN \
                 {insert} VALUES (new.workspace_id, '{noun}', coalesce(new.{field}, ''), 1, {}) {upsert}; END",
                amount("new")
            ));
            statements.push(format!(
                "CREATE TRIGGER {trigger} AFTER UPDATE OF {watched} ON {table} BEGIN \
                 {insert} SELECT old.workspace_id, '{noun}', coalesce(old.{field}, ''), -1, -{} \
                 WHERE old.deleted_at IS NULL {upsert}; \
                 {insert} SELECT new.workspace_id, '{noun}', coalesce(new.{field}, ''), 1, {} \
                 WHERE new.deleted_at IS NULL {upsert}; END",
                amount("old"),
                amount("new")
            ));
        } else {
            statements.push(format!(
                "CREATE OR REPLACE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN \
                 {insert} SELECT w, '{noun}', c, CAST(sum(n) AS BIGINT), CAST(sum(a) AS BIGINT) FROM ( \
                   SELECT OLD.workspace_id AS w, coalesce(OLD.{field}, '') AS c, -1 AS n, -{} AS a \
                   WHERE TG_OP = 'UPDATE' AND OLD.deleted_at IS NULL \
                   UNION ALL \
                   SELECT NEW.workspace_id, coalesce(NEW.{field}, ''), 1, {} \
                   WHERE NEW.deleted_at IS NULL) AS d \
                 GROUP BY w, c ORDER BY c {upsert}; \
                 RETURN NULL; END $$",
                amount("OLD"),
                amount("NEW")
            ));
            statements.push(format!(
                "CREATE OR REPLACE TRIGGER {trigger}_insert AFTER INSERT ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION {trigger}()"
            ));
            statements.push(format!(
                "CREATE OR REPLACE TRIGGER {trigger} AFTER UPDATE OF {watched} ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION {trigger}()"
            ));
        }
        // The totals of the rows already there, rebuilt whole in the same transaction (a
        // second node doing the same at once waits for the trigger's lock, then rebuilds
        // the same totals).
        statements.push(format!("DELETE FROM board_totals WHERE kind = '{noun}'"));
        statements.push(format!(
            "{insert} SELECT workspace_id, '{noun}', coalesce({field}, ''), COUNT(*), CAST(SUM({}) AS BIGINT) \
             FROM {table} AS t WHERE deleted_at IS NULL GROUP BY workspace_id, coalesce({field}, '')",
            amount("t")
        ));
        let mut tx = self.begin().await?;
        for statement in statements {
            Sql::new(&statement).run(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
