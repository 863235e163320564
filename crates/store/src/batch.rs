//! Statements sent to the database together.
//!
//! On SQLite every command to a connection is a round trip to the thread sqlx runs it on: two
//! hand-offs between threads, each waking one, whatever the statement costs. A write transaction
//! of six statements with its `BEGIN` and `COMMIT` was eight such round trips. Statements that do
//! not need one another's results can go together instead: a [`Batch`], sent as one
//! multi-statement command on SQLite (with [`crate::db::Db::begin_with`]'s `BEGIN` or
//! [`crate::db::commit_with`]'s `COMMIT` in the same command), and one after the other on
//! PostgreSQL, where the server runs every statement of a transaction on one connection anyway.
//!
//! The SQL is the store's one set for both databases, numbered `$1`, `$2`… per statement; on
//! SQLite the numbers of each statement after the first are shifted past the values of those
//! before it (`shift_params`), because SQLite reads `$n` as the n-th value of the whole command.

use std::borrow::Cow;

use futures::TryStreamExt;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Arguments, Either, Executor, Row};

use crate::db::DbKind;
use crate::{Conn, StoreError};

/// A value bound to a [`Stmt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param<'q> {
    /// An integer or NULL.
    Int(Option<i64>),
    /// Text or NULL.
    Text(Option<Cow<'q, str>>),
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Self::Int(Some(v))
    }
}

impl From<Option<i64>> for Param<'_> {
    fn from(v: Option<i64>) -> Self {
        Self::Int(v)
    }
}

impl<'q> From<&'q str> for Param<'q> {
    fn from(v: &'q str) -> Self {
        Self::Text(Some(Cow::Borrowed(v)))
    }
}

impl<'q> From<Option<&'q str>> for Param<'q> {
    fn from(v: Option<&'q str>) -> Self {
        Self::Text(v.map(Cow::Borrowed))
    }
}

impl From<String> for Param<'_> {
    fn from(v: String) -> Self {
        Self::Text(Some(Cow::Owned(v)))
    }
}

impl From<Option<String>> for Param<'_> {
    fn from(v: Option<String>) -> Self {
        Self::Text(v.map(Cow::Owned))
    }
}

impl<'q> Param<'q> {
    fn add_to(self, args: &mut AnyArguments<'q>) -> Result<(), StoreError> {
        let added = match self {
            Self::Int(v) => args.add(v),
            Self::Text(Some(Cow::Borrowed(v))) => args.add(v),
            Self::Text(Some(Cow::Owned(v))) => args.add(v),
            Self::Text(None) => args.add(None::<&str>),
        };
        added.map_err(|e| StoreError::Sqlx(sqlx::Error::Encode(e)))
    }
}

/// One statement and its values, `$1` first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stmt<'q> {
    sql: Cow<'q, str>,
    params: Vec<Param<'q>>,
}

impl<'q> Stmt<'q> {
    /// A statement of the store's SQL.
    pub fn new(sql: impl Into<Cow<'q, str>>) -> Self {
        Self { sql: sql.into(), params: Vec::new() }
    }

    /// Binds the next value (`$1`, then `$2`…).
    pub fn bind(mut self, v: impl Into<Param<'q>>) -> Self {
        self.params.push(v.into());
        self
    }

    /// Runs the statement on its own and returns its rows.
    pub async fn fetch_all(self, conn: &mut Conn) -> Result<Vec<AnyRow>, StoreError> {
        let mut args = AnyArguments::default();
        for p in self.params {
            p.add_to(&mut args)?;
        }
        Ok(sqlx::query_with(&self.sql, args).fetch_all(conn).await?)
    }

    /// Runs an insert that returns the new row's id on its own and returns that id; `what` names
    /// the row in the error if none came back.
    pub async fn fetch_id(self, conn: &mut Conn, what: &str) -> Result<i64, StoreError> {
        let rows = self.fetch_all(conn).await?;
        let row = rows.first().ok_or_else(|| StoreError::Corrupt(format!("{what} insert returned no id")))?;
        Ok(row.try_get(0)?)
    }
}

/// Where a statement's rows are in a batch's [`Answers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot(usize);

/// Statements to run in order, none needing another's result, sent together where the database
/// allows it (see the module's documentation).
#[derive(Debug, Default)]
pub struct Batch<'q> {
    stmts: Vec<Stmt<'q>>,
}

impl<'q> Batch<'q> {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a statement; its rows will be at the returned slot.
    pub fn push(&mut self, s: Stmt<'q>) -> Slot {
        self.stmts.push(s);
        Slot(self.stmts.len() - 1)
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.stmts.is_empty()
    }

    /// Runs the statements one after another on `conn`, each a command of its own.
    pub async fn run_each(self, conn: &mut Conn) -> Result<Answers, StoreError> {
        let mut rows = Vec::with_capacity(self.stmts.len());
        for s in self.stmts {
            rows.push(s.fetch_all(conn).await?);
        }
        Ok(Answers { rows })
    }
}

/// The rows each statement of a batch returned.
#[derive(Default)]
pub struct Answers {
    rows: Vec<Vec<AnyRow>>,
}

impl Answers {
    /// The rows of the statement at `slot`.
    pub fn rows(&self, slot: Slot) -> &[AnyRow] {
        self.rows.get(slot.0).map_or(&[], Vec::as_slice)
    }

    /// The first row of the statement at `slot`, if it returned any.
    pub fn first(&self, slot: Slot) -> Option<&AnyRow> {
        self.rows(slot).first()
    }
}

/// Runs `batch` on `conn`, with `before` and `after` (statements without values, such as `BEGIN
/// IMMEDIATE` and `COMMIT`) around it on SQLite, in the same command. On PostgreSQL `before` and
/// `after` must be empty: the caller begins and commits with sqlx.
pub(crate) async fn run(
    conn: &mut Conn,
    kind: DbKind,
    before: Option<&'static str>,
    batch: Batch<'_>,
    after: Option<&'static str>,
) -> Result<Answers, StoreError> {
    match kind {
        DbKind::Postgres => {
            if before.is_some() || after.is_some() {
                return Err(StoreError::Corrupt("a batch on PostgreSQL begins and commits with sqlx".into()));
            }
            batch.run_each(conn).await
        }
        DbKind::Sqlite => {
            let extra = usize::from(before.is_some());
            let expected = batch.stmts.len() + extra + usize::from(after.is_some());
            let mut sql = String::new();
            let mut args = AnyArguments::default();
            let mut bound = 0;
            if let Some(b) = before {
                sql.push_str(b);
                sql.push_str(";\n");
            }
            for s in batch.stmts {
                shift_params(&s.sql, bound, &mut sql);
                sql.push_str(";\n");
                bound += s.params.len();
                for p in s.params {
                    p.add_to(&mut args)?;
                }
            }
            if let Some(a) = after {
                sql.push_str(a);
            }
            // Each statement's rows come before its result; the results mark where one ends.
            let mut rows = vec![Vec::new()];
            let mut stream = conn.fetch_many(sqlx::query_with(&sql, args));
            while let Some(item) = stream.try_next().await? {
                match item {
                    Either::Left(_) => rows.push(Vec::new()),
                    Either::Right(row) => {
                        if let Some(current) = rows.last_mut() {
                            current.push(row);
                        }
                    }
                }
            }
            rows.pop();
            if rows.len() != expected {
                return Err(StoreError::Corrupt(format!(
                    "a batch of {expected} statements answered for {}",
                    rows.len()
                )));
            }
            rows.truncate(expected - usize::from(after.is_some()));
            rows.drain(..extra);
            Ok(Answers { rows })
        }
    }
}

/// Appends `sql` to `out` with every parameter `$n` written as `$(n + by)`. Text in single quotes
/// (literals) and double quotes (names) is copied as it is.
fn shift_params(sql: &str, by: usize, out: &mut String) {
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for (_, q) in chars.by_ref() {
                    out.push(q);
                    if q == c {
                        break;
                    }
                }
            }
            '$' if chars.peek().is_some_and(|(_, d)| d.is_ascii_digit()) => {
                let mut n: usize = 0;
                while let Some((_, d)) = chars.peek().copied() {
                    let Some(v) = d.to_digit(10) else { break };
                    n = n * 10 + v as usize;
                    chars.next();
                }
                out.push('$');
                out.push_str(&(n + by).to_string());
            }
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shifted(sql: &str, by: usize) -> String {
        let mut out = String::new();
        shift_params(sql, by, &mut out);
        out
    }

    #[test]
    fn parameters_are_shifted_past_the_values_before_them() {
        assert_eq!(shifted("INSERT INTO t (a, b) VALUES ($1, $2)", 3), "INSERT INTO t (a, b) VALUES ($4, $5)");
        assert_eq!(shifted("SELECT $10 + $9, $1", 90), "SELECT $100 + $99, $91");
        assert_eq!(shifted("SELECT $1", 0), "SELECT $1");
    }

    #[test]
    fn quoted_text_is_left_alone() {
        assert_eq!(
            shifted("SELECT '$1', \"$2\", $1 WHERE x = 'it''s $3'", 5),
            "SELECT '$1', \"$2\", $6 WHERE x = 'it''s $3'"
        );
    }

    #[test]
    fn a_dollar_without_digits_is_copied() {
        assert_eq!(shifted("SELECT '$' || $a || $", 2), "SELECT '$' || $a || $");
    }
}
