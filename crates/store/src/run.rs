//! Running a statement whose rows nobody reads.

use crate::Conn;
use futures::TryStreamExt;
use sqlx::any::{AnyArguments, AnyQueryResult};
use sqlx::{Any, Either, Executor};

/// A statement run for its effect, answered as soon as the database reports it done.
///
/// sqlx's `execute` waits for the end of the statement's result stream after its result has
/// arrived. On SQLite that end is a second message from the connection's thread, and so, most of
/// the time, a second wake-up of the waiting task for every statement (about two more thread
/// hand-offs per statement, counted by `bench signin`). `run` takes the statement's result and
/// drops the stream, as sqlx's own `fetch_optional` does after its row; the connection finishes
/// the statement before it takes the next one.
///
/// For one statement only: on SQLite the statements after the first in a multi-statement string
/// would not run.
pub(crate) trait Run {
    /// Runs the statement and gives its result (rows affected), skipping any rows it returns.
    fn run(self, conn: &mut Conn) -> impl std::future::Future<Output = Result<AnyQueryResult, sqlx::Error>> + Send;
}

impl<'q> Run for sqlx::query::Query<'q, Any, AnyArguments<'q>> {
    async fn run(self, conn: &mut Conn) -> Result<AnyQueryResult, sqlx::Error> {
        let mut results = conn.fetch_many(self);
        while let Some(item) = results.try_next().await? {
            if let Either::Left(done) = item {
                return Ok(done);
            }
        }
        Ok(AnyQueryResult::default())
    }
}
