//! Lists that answer as fast at a million rows as at a hundred: keyset paging along an
//! index per sortable column, counts that stop at a cap, a search that looks its term up
//! in an index instead of reading every row, title typeahead for pickers, and board totals
//! kept by the database. The indexes themselves come from each kind's spec (`indexes.rs`).

use super::*;

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
pub(super) fn like_pattern(term: &str) -> String {
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

/// What a list sorts by: the SQL expression (the same text the sort index is built on, or
/// the index is not used) and how its values are stored.
pub(super) struct SortKey {
    /// `lower(name)` for text people type, the bare column otherwise.
    pub(super) expr: String,
    /// How the expression's values come back.
    pub(super) storage: Storage,
}

/// The sort key for `sort` on `kind`: a field (text fields case-insensitively) or
/// `updated_at` / `created_at`. Errors: `Invalid` naming `sort`.
pub(super) fn sort_key(kind: RecordKind, sort: &str) -> Result<SortKey, DbError> {
    use app::model::FieldKind;
    if matches!(sort, "updated_at" | "created_at") {
        return Ok(SortKey {
            expr: sort.to_string(),
            storage: Storage::Int,
        });
    }
    let def = kind.field(sort).ok_or_else(|| DbError::Invalid {
        field: "sort".into(),
        message: format!("a {} cannot be sorted by {sort}", kind.noun()),
    })?;
    let expr = match def.kind {
        FieldKind::Text { .. } | FieldKind::LongText | FieldKind::Tags => {
            format!("lower({})", def.name)
        }
        _ => def.name.to_string(),
    };
    Ok(SortKey {
        expr,
        storage: def.storage(),
    })
}

/// A keyset cursor: the sort key and id of the row a page starts after (or before). On
/// the wire `"{id}.{tag}{value}"`, tag `n` (no value), `i`, `f` or `t`.
#[derive(Clone, Debug, PartialEq)]
struct Cursor {
    key: Value,
    id: i64,
}

impl Cursor {
    fn encode(&self) -> String {
        match &self.key {
            Value::Null => format!("{}.n", self.id),
            Value::Int(i) => format!("{}.i{i}", self.id),
            Value::Float(f) => format!("{}.f{f}", self.id),
            Value::Text(s) => format!("{}.t{s}", self.id),
        }
    }

    /// Reads a cursor made for a sort key stored as `storage`. Errors: `Invalid` on
    /// `field` (`after` or `before`) for text that is not such a cursor.
    fn decode(text: &str, storage: Storage, field: &str) -> Result<Cursor, DbError> {
        let bad = || DbError::Invalid {
            field: field.into(),
            message: "not a page cursor of this list and sort".into(),
        };
        let (id, rest) = text.split_once('.').ok_or_else(bad)?;
        let id: i64 = id.parse().map_err(|_| bad())?;
        let mut chars = rest.chars();
        let tag = chars.next().ok_or_else(bad)?;
        let value = chars.as_str();
        let key = match (tag, storage) {
            ('n', _) if value.is_empty() => Value::Null,
            ('i', Storage::Int) => Value::Int(value.parse().map_err(|_| bad())?),
            ('f', Storage::Float) => Value::Float(value.parse().map_err(|_| bad())?),
            ('t', Storage::Text) => Value::Text(value.to_string()),
            _ => return Err(bad()),
        };
        Ok(Cursor { key, id })
    }
}

/// Documents counted per trigram when probing which are rare (about 1 ms each).
const RARE_ENOUGH: i64 = 10_000;

/// A list query made ready to run: whose rows, and its search turned into SQL once for
/// the page's queries.
struct Listed<'q> {
    workspace: i64,
    kind: RecordKind,
    query: &'q RecordQuery,
    search: Option<Search>,
    /// The search matches at most [`Page::COUNT_CAP`] rows: the page reads them all from
    /// the search index and sorts them (see [`SqlStore::stretch`]).
    few_matches: bool,
}

/// A list's search: the `LIKE` pattern of its term and, on SQLite, the FTS5 query that
/// narrows the rows first.
struct Search {
    pattern: String,
    index: Option<String>,
}

/// The two stretches of a list's order: rows with a sort value (in the asked direction),
/// then rows without one (by id in the same direction), so empty values come last both
/// ways while each stretch walks one index.
#[derive(Clone, Copy, PartialEq)]
enum Stretch {
    Values,
    Empty,
}

impl SqlStore {
    /// Appends the WHERE clause of a record list: workspace, live, search, filters.
    /// `from_index`: a search's FTS5 lookup drives the query (`+workspace_id` keeps SQLite
    /// from walking a workspace index instead and probing the lookup for every row).
    fn push_list_filters(sql: &mut Sql, q: &Listed<'_>, from_index: bool) -> Result<(), DbError> {
        let (workspace, kind) = (q.workspace, q.kind);
        let driven = from_index && q.search.as_ref().is_some_and(|s| s.index.is_some());
        sql.push(if driven {
            " WHERE +workspace_id = "
        } else {
            " WHERE workspace_id = "
        })
        .bind(workspace)
        .push(" AND deleted_at IS NULL");
        if let Some(search) = &q.search {
            Self::push_search(sql, kind, search);
        }
        for (name, value) in &q.query.filters {
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

    /// How a list searches for `q.search` (see [`Search`]): on SQLite a term of three
    /// characters or more is looked up in the kind's FTS5 trigram index by its rarest
    /// trigram, or its two rarest when neither is rare alone (a phrase of all of them
    /// reads the doclists of trigrams like `000` that a million deal codes share: 30 ms),
    /// and the rows found are checked for the whole term.
    async fn prepare<'q>(
        &self,
        conn: &mut Conn,
        workspace: i64,
        kind: RecordKind,
        q: &'q RecordQuery,
    ) -> Result<Listed<'q>, DbError> {
        let Some(term) = q.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(Listed {
                workspace,
                kind,
                query: q,
                search: None,
                few_matches: false,
            });
        };
        let term = term.to_lowercase();
        let chars: Vec<char> = term.chars().collect();
        let mut trigrams: Vec<String> = chars.windows(3).map(|w| w.iter().collect()).collect();
        trigrams.sort();
        trigrams.dedup();
        let index = if self.sqlite && !trigrams.is_empty() {
            // Rarity probed by counting each trigram's documents up to a cap (the
            // index's own statistics, fts5vocab, count whole doclists: 85 ms), for at
            // most six trigrams spread over the term.
            let step = trigrams.len().div_ceil(6);
            let mut probed = Vec::new();
            for t in trigrams.iter().step_by(step) {
                let quoted = format!("\"{}\"", t.replace('"', "\"\""));
                let mut sql = Sql::new(&format!(
                    "SELECT COUNT(*) AS n FROM (SELECT rowid FROM {0}_search WHERE {0}_search MATCH ",
                    kind.table()
                ));
                sql.bind(quoted.as_str())
                    .push(" LIMIT ")
                    .bind(RARE_ENOUGH)
                    .push(") AS probe");
                let n: i64 = sql.one(&mut *conn).await?.try_get("n")?;
                probed.push((n, quoted));
            }
            probed.sort();
            // A rare trigram narrows enough alone: pairing it with one found in more
            // than RARE_ENOUGH rows (`000` in every deal code) reads that trigram's whole
            // doclist (9 ms against 0.3). Two common ones may still be rare together.
            let pair =
                probed.len() > 1 && (probed[0].0 >= RARE_ENOUGH || probed[1].0 < RARE_ENOUGH);
            let rarest: Vec<String> = probed
                .into_iter()
                .take(if pair { 2 } else { 1 })
                .map(|(_, q)| q)
                .collect();
            Some(rarest.join(" AND "))
        } else {
            None
        };
        Ok(Listed {
            workspace,
            kind,
            query: q,
            search: Some(Search {
                pattern: like_pattern(&term),
                index,
            }),
            few_matches: false,
        })
    }

    /// Appends the search condition: the term as a case-insensitive substring of the
    /// record's folded search text, narrowed first by the FTS5 index where there is one
    /// (on PostgreSQL a pg_trgm GIN index serves the `LIKE` itself; a term shorter than
    /// three characters is read from each row, in the list's order, so a page stops
    /// after its first matches).
    fn push_search(sql: &mut Sql, kind: RecordKind, search: &Search) {
        if let Some(index) = &search.index {
            sql.push(&format!(
                " AND id IN (SELECT rowid FROM {0}_search WHERE {0}_search MATCH ",
                kind.table()
            ))
            .bind(index.as_str())
            .push(")");
        }
        sql.push(" AND search_text LIKE ")
            .bind(search.pattern.as_str())
            .push(" ESCAPE '\\'");
    }

    /// Rows of one stretch of the order, starting after `cursor` when it is in this
    /// stretch, walking `forward` (the list's direction) or backward: at most `limit`.
    async fn stretch(
        conn: &mut Conn,
        q: &Listed<'_>,
        key: &SortKey,
        (stretch, cursor): (Stretch, Option<&Cursor>),
        ascending: bool,
        limit: i64,
    ) -> Result<Vec<(Record, Value)>, DbError> {
        let kind = q.kind;
        let mut sql = if q.few_matches {
            // A search matching few rows: its matches are read through the search index
            // first (a materialized CTE keeps both databases from walking the sort
            // index instead, checking a million rows for a rare term), then sorted.
            let mut sql = Sql::new(&format!(
                "WITH found AS MATERIALIZED (SELECT * FROM {}",
                kind.table()
            ));
            Self::push_list_filters(&mut sql, q, true)?;
            sql.push(&format!(
                ") SELECT {}, {} AS sort_key FROM found WHERE 1 = 1",
                record_columns(kind),
                key.expr
            ));
            sql
        } else {
            let mut sql = Sql::new(&format!(
                "SELECT {}, {} AS sort_key FROM {}",
                record_columns(kind),
                key.expr,
                kind.table()
            ));
            Self::push_list_filters(&mut sql, q, false)?;
            sql
        };
        let (cmp, dir) = if ascending {
            (">", "ASC")
        } else {
            ("<", "DESC")
        };
        match stretch {
            Stretch::Values => {
                sql.push(&format!(" AND {} IS NOT NULL", key.expr));
                if let Some(c) = cursor {
                    // (A cursor without a value starts in the Empty stretch, never here.)
                    let arg = match &c.key {
                        Value::Int(i) => Arg::Int(Some(*i)),
                        Value::Float(f) => Arg::Float(Some(*f)),
                        Value::Text(s) => Arg::Text(Some(s.clone())),
                        Value::Null => Arg::Int(None),
                    };
                    sql.push(&format!(" AND ({}, id) {cmp} (", key.expr))
                        .bind(arg)
                        .push(", ")
                        .bind(c.id)
                        .push(")");
                }
                sql.push(&format!(" ORDER BY {} {dir}, id {dir}", key.expr));
            }
            Stretch::Empty => {
                sql.push(&format!(" AND {} IS NULL", key.expr));
                if let Some(c) = cursor {
                    sql.push(&format!(" AND id {cmp} ")).bind(c.id);
                }
                sql.push(&format!(" ORDER BY id {dir}"));
            }
        }
        sql.push(" LIMIT ").bind(limit);
        sql.all(&mut *conn)
            .await?
            .iter()
            .map(|row| {
                let value = match key.storage {
                    Storage::Text => row
                        .try_get::<Option<String>, _>("sort_key")?
                        .map(Value::Text),
                    Storage::Int => row.try_get::<Option<i64>, _>("sort_key")?.map(Value::Int),
                    Storage::Float => row.try_get::<Option<f64>, _>("sort_key")?.map(Value::Float),
                };
                Ok((record_from_row(kind, row)?, value.unwrap_or(Value::Null)))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// Up to `limit` rows walking the list's order from `cursor` (exclusive), forward or
    /// backward, crossing from one stretch into the next when the first runs out.
    async fn walk(
        conn: &mut Conn,
        q: &Listed<'_>,
        key: &SortKey,
        cursor: Option<&Cursor>,
        forward: bool,
        limit: i64,
    ) -> Result<Vec<(Record, Value)>, DbError> {
        let order = if forward {
            [Stretch::Values, Stretch::Empty]
        } else {
            [Stretch::Empty, Stretch::Values]
        };
        let ascending = (q.query.dir == SortDir::Asc) == forward;
        let start = match cursor {
            Some(c) if c.key.is_null() => Stretch::Empty,
            Some(_) => Stretch::Values,
            None => order[0],
        };
        let mut rows = Vec::new();
        let mut started = false;
        for stretch in order {
            started |= stretch == start;
            if !started || rows.len() as i64 >= limit {
                continue;
            }
            let from = cursor.filter(|_| stretch == start);
            let left = limit - rows.len() as i64;
            let more = Self::stretch(conn, q, key, (stretch, from), ascending, left).await?;
            rows.extend(more);
        }
        Ok(rows)
    }

    /// How many rows match, counting at most [`Page::COUNT_CAP`] + 1 of them (a search's
    /// count starts from the rows its index found).
    async fn capped_count(conn: &mut Conn, q: &Listed<'_>) -> Result<i64, DbError> {
        let mut sql = Sql::new(&format!(
            "SELECT COUNT(*) AS n FROM (SELECT id FROM {}",
            q.kind.table()
        ));
        Self::push_list_filters(&mut sql, q, true)?;
        sql.push(" LIMIT ")
            .bind(Page::<Record>::COUNT_CAP + 1)
            .push(") AS matching");
        Ok(sql.one(&mut *conn).await?.try_get("n")?)
    }

    /// A page of a list in keyset order (see [`RecordStore::list_records`]).
    pub(super) async fn keyset_page(
        &self,
        workspace: i64,
        kind: RecordKind,
        q: &RecordQuery,
    ) -> Result<Page<Record>, DbError> {
        let limit = q.page_size();
        let key = sort_key(kind, q.sort.as_deref().unwrap_or(kind.spec().default_sort))?;
        let (cursor, forward) = match (&q.after, &q.before) {
            (Some(a), _) => (Some(Cursor::decode(a, key.storage, "after")?), true),
            (None, Some(b)) => (Some(Cursor::decode(b, key.storage, "before")?), false),
            (None, None) => (None, true),
        };
        let mut conn = self.pool.acquire().await?;
        let mut listed = self.prepare(&mut conn, workspace, kind, q).await?;
        // Counted first: how many a search matches decides how its page is read.
        let counted = Self::capped_count(&mut conn, &listed).await?;
        listed.few_matches = listed.search.is_some() && counted <= Page::<Record>::COUNT_CAP;
        // One row past the page says whether there is another page that way.
        let mut rows = Self::walk(
            &mut conn,
            &listed,
            &key,
            cursor.as_ref(),
            forward,
            limit + 1,
        )
        .await?;
        let beyond = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        if !forward {
            rows.reverse();
        }
        let cursor_of = |(r, v): &(Record, Value)| {
            Cursor {
                key: v.clone(),
                id: r.id,
            }
            .encode()
        };
        // Coming from a cursor, there are rows on its side (the cursor's row at least).
        let (next, prev) = match (forward, cursor.is_some()) {
            (true, from_cursor) => (
                beyond.then(|| rows.last().map(cursor_of)).flatten(),
                from_cursor.then(|| rows.first().map(cursor_of)).flatten(),
            ),
            (false, _) => (
                rows.last().map(cursor_of),
                beyond.then(|| rows.first().map(cursor_of)).flatten(),
            ),
        };
        let mut items: Vec<Record> = rows.into_iter().map(|(r, _)| r).collect();
        Self::attach_titles(&mut conn, workspace, &mut items).await?;
        Ok(Page {
            position: None,
            items,
            total: counted.min(Page::<Record>::COUNT_CAP),
            total_capped: counted > Page::<Record>::COUNT_CAP,
            next,
            prev,
            limit,
        })
    }

    /// Live records of `kind` whose title contains `term` (case-insensitively), by title,
    /// at most `limit` (see [`RecordStore::choices`]).
    pub(super) async fn title_choices(
        &self,
        workspace: i64,
        kind: RecordKind,
        term: &str,
        limit: i64,
    ) -> Result<Vec<Choice>, DbError> {
        let title = kind.title_field();
        let key = sort_key(kind, title)?;
        let mut sql = Sql::new(&format!(
            "SELECT id, {title} AS title FROM {}",
            kind.table()
        ));
        let term = term.trim();
        let q = RecordQuery {
            search: Some(term.to_string()).filter(|t| !t.is_empty()),
            ..Default::default()
        };
        let mut conn = self.pool.acquire().await?;
        let listed = self.prepare(&mut conn, workspace, kind, &q).await?;
        Self::push_list_filters(&mut sql, &listed, false)?;
        if !term.is_empty() {
            // The search looks in all the search fields; keep the titles that match.
            sql.push(&format!(" AND lower({title}) LIKE "))
                .bind(like_pattern(term))
                .push(" ESCAPE '\\'");
        }
        sql.push(&format!(" ORDER BY {} ASC, id ASC LIMIT ", key.expr))
            .bind(limit.clamp(1, RecordQuery::MAX_LIMIT));
        sql.all(&mut *conn)
            .await?
            .iter()
            .map(|r| {
                Ok(Choice {
                    id: r.try_get("id")?,
                    title: r.try_get("title")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// Each column of `kind`'s board with its count and amount, in the order of the
    /// board field's options (columns nobody is in show zeros).
    pub(super) async fn board_column_totals(
        &self,
        workspace: i64,
        kind: RecordKind,
    ) -> Result<Vec<app::model::BoardTotal>, DbError> {
        use app::model::{BoardTotal, FieldKind};
        let Some(board) = kind.spec().board.as_ref() else {
            return Err(DbError::Invalid {
                field: "kind".into(),
                message: format!("a {} has no board", kind.noun()),
            });
        };
        let mut sql = Sql::new(
            "SELECT board_column, records, amount FROM board_totals WHERE workspace_id = ",
        );
        sql.bind(workspace).push(" AND kind = ").bind(kind.noun());
        let mut stored: HashMap<String, (i64, i64)> = HashMap::new();
        for row in sql.all(&self.pool).await? {
            stored.insert(
                row.try_get("board_column")?,
                (row.try_get("records")?, row.try_get("amount")?),
            );
        }
        let options: &[&str] = match kind.field(board.field).map(|d| d.kind) {
            Some(FieldKind::Choice(options)) => options,
            _ => &[],
        };
        Ok(options
            .iter()
            .map(|o| {
                let (count, amount) = stored.get(*o).copied().unwrap_or_default();
                BoardTotal {
                    column: o.to_string(),
                    count,
                    amount,
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_another_sorts() {
        for (key, storage) in [
            (Value::Text("acme. co".into()), Storage::Text),
            (Value::Int(-42), Storage::Int),
            (Value::Float(1100.04), Storage::Float),
            (Value::Null, Storage::Int),
        ] {
            let c = Cursor { key, id: 7 };
            assert_eq!(Cursor::decode(&c.encode(), storage, "after").ok(), Some(c));
        }
        assert!(Cursor::decode("7.tacme", Storage::Int, "after").is_err());
        assert!(Cursor::decode("x.i5", Storage::Int, "after").is_err());
        assert!(Cursor::decode("7", Storage::Int, "after").is_err());
        assert!(Cursor::decode("7.nx", Storage::Int, "after").is_err());
    }
}
