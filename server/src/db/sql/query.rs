//! How the one SQL implementation runs a query through sqlx's `Any` driver: the driver
//! takes `$n` placeholders on both backends but needs each NULL typed, so [`Sql`] builds
//! the text and its typed arguments together, and runs them in one helper per shape
//! (one row, an optional row, all rows, a statement).

use super::*;

/// Maps a sqlx error where one unique constraint can refuse the write: a unique
/// violation (recognised by its error kind, never its text) becomes `Conflict(subject)`.
pub(super) fn unique_as(subject: &str) -> impl Fn(sqlx::Error) -> DbError + '_ {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            DbError::Conflict(subject.to_string())
        }
        _ => DbError::from(e),
    }
}

/// A bind argument with the SQL type its NULL must carry.
#[derive(Clone, Debug)]
pub(super) enum Arg {
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
pub(super) fn field_arg(def: &FieldDef, v: &Value) -> Arg {
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
pub(super) struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub(super) fn new(text: &str) -> Self {
        Sql {
            text: text.to_string(),
            args: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Adds an argument for a placeholder already in the text (a `$n` used more than once).
    pub(super) fn add_arg(&mut self, arg: impl Into<Arg>) -> &mut Self {
        self.args.push(arg.into());
        self
    }

    /// Appends `(a, b, c)`, a placeholder per id: the list of an `IN`.
    pub(super) fn push_ids(&mut self, ids: &[i64]) -> &mut Self {
        self.push("(");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(*id);
        }
        self.push(")")
    }

    /// Appends a `$n` placeholder for `arg`.
    pub(super) fn bind(&mut self, arg: impl Into<Arg>) -> &mut Self {
        self.args.push(arg.into());
        let _ = write!(self.text, "${}", self.args.len());
        self
    }

    /// Runs the query for at most one row.
    pub(super) async fn optional<'c, E: sqlx::Executor<'c, Database = Any>>(
        &self,
        executor: E,
    ) -> Result<Option<AnyRow>, DbError> {
        self.query()
            .fetch_optional(executor)
            .await
            .map_err(DbError::from)
    }

    /// Runs the query for exactly one row. Errors: `NotFound` when there is none.
    pub(super) async fn one<'c, E: sqlx::Executor<'c, Database = Any>>(
        &self,
        executor: E,
    ) -> Result<AnyRow, DbError> {
        self.query()
            .fetch_one(executor)
            .await
            .map_err(DbError::from)
    }

    /// Runs the query for all its rows.
    pub(super) async fn all<'c, E: sqlx::Executor<'c, Database = Any>>(
        &self,
        executor: E,
    ) -> Result<Vec<AnyRow>, DbError> {
        self.query()
            .fetch_all(executor)
            .await
            .map_err(DbError::from)
    }

    /// Runs a statement; returns how many rows it changed.
    pub(super) async fn run<'c, E: sqlx::Executor<'c, Database = Any>>(
        &self,
        executor: E,
    ) -> Result<u64, DbError> {
        Ok(self.query().execute(executor).await?.rows_affected())
    }

    pub(super) fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for a in &self.args {
            q = match a {
                Arg::Text(v) => q.bind(v.clone()),
                Arg::Int(v) => q.bind(*v),
                // sqlx 0.8.6's Any driver swaps the float types of a NULL (a `f64` NULL
                // reaches PostgreSQL as float4, and a statement prepared with it then
                // refuses a real `f64`): bind the NULL as `f32`, which arrives as float8.
                Arg::Float(None) => q.bind(None::<f32>),
                Arg::Float(Some(f)) => q.bind(*f),
            };
        }
        q
    }
}
