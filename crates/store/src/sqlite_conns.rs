//! SQLite's connections for requests, lent without a round trip on their return.
//!
//! sqlx's pool pings every connection it takes back (`PoolConnection`'s release in `sqlx-core`
//! 0.8), in a task it spawns: on SQLite a round trip to the connection's thread each time a
//! request lets go of a connection, two per sign-in. Nothing here needs it. An open file cannot
//! drop like a network connection, and a SQLite connection's thread runs its commands in the
//! order they were sent, so a rollback that a dropped transaction left queued runs before the
//! next borrower's first statement. These connections come from a `deadpool` pool that checks a
//! connection only now and then (`needs_check`).

use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleResult};
use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, ConnectOptions};

use crate::StoreError;
use crate::db::CHECK_IDLE_FOR;

/// Opens SQLite connections with the pragmas every one of ours needs.
pub(crate) struct Opener {
    opts: AnyConnectOptions,
    /// `PRAGMA`s run on each new connection.
    pragmas: String,
}

/// A pool of SQLite connections.
pub(crate) type Pool = managed::Pool<Opener>;

/// A connection lent by a [`Pool`]; it goes back when dropped.
pub(crate) type Lent = managed::Object<Opener>;

/// The pragmas of every SQLite connection: WAL, a busy timeout, foreign keys, and the file mapped
/// into memory (up to 2 GiB), so that every connection reads pages from the operating system's
/// cache without copying them into its own small page cache (the user searches read tens of
/// thousands of index entries at a million users). `extra` is appended.
pub(crate) fn pragmas(extra: &str) -> String {
    format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
         PRAGMA mmap_size = 2147418112; {extra}"
    )
}

impl managed::Manager for Opener {
    type Type = AnyConnection;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<AnyConnection, sqlx::Error> {
        let mut conn = self.opts.connect().await?;
        sqlx::query(&self.pragmas).execute(&mut conn).await?;
        Ok(conn)
    }

    /// Pings the connection only now and then (see [`needs_check`]), and drops it if the ping fails.
    async fn recycle(&self, conn: &mut AnyConnection, metrics: &Metrics) -> RecycleResult<sqlx::Error> {
        if needs_check(metrics.recycle_count, metrics.last_used()) {
            sqlx::Connection::ping(conn).await?;
        }
        Ok(())
    }
}

/// A connection is checked before every [`CHECK_EVERY`]th loan and before a loan after
/// [`CHECK_IDLE_FOR`] unused. A SQLite connection fails only if its thread in sqlx has stopped (a
/// rollback it could not run stops it); such a connection is then found and replaced within a
/// few requests, where unchecked it would be lent, and fail, for ever (the one used last is lent
/// first). The checks cost one round trip in sixteen loans.
fn needs_check(loans: usize, since_last_loan: Duration) -> bool {
    loans.is_multiple_of(CHECK_EVERY) || since_last_loan >= CHECK_IDLE_FOR
}

/// See [`needs_check`].
const CHECK_EVERY: usize = 16;

/// A pool of at most `max` connections opened with `opts` and [`pragmas`]`(extra)`; a borrower
/// waits at most `wait` for one.
pub(crate) fn pool(opts: AnyConnectOptions, max: usize, extra: &str, wait: Duration) -> Result<Pool, StoreError> {
    Pool::builder(Opener { opts, pragmas: pragmas(extra) })
        .max_size(max)
        // The connection used last is lent first: its thread is the likeliest to be warm.
        .queue_mode(managed::QueueMode::Lifo)
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(wait))
        .build()
        .map_err(|e| StoreError::Pool(e.to_string()))
}

/// Borrows a connection from `pool`.
pub(crate) async fn lend(pool: &Pool) -> Result<Lent, StoreError> {
    pool.get().await.map_err(|e| match e {
        managed::PoolError::Backend(e) => StoreError::Sqlx(e),
        managed::PoolError::Timeout(_) => StoreError::Sqlx(sqlx::Error::PoolTimedOut),
        managed::PoolError::Closed => StoreError::Sqlx(sqlx::Error::PoolClosed),
        e => StoreError::Pool(e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_connection_is_checked_one_loan_in_sixteen() {
        let checked = (1..=64).filter(|&n| needs_check(n, Duration::from_millis(2))).count();
        assert_eq!(checked, 4);
        assert!(needs_check(16, Duration::ZERO));
        assert!(!needs_check(17, Duration::from_millis(999)));
    }

    #[test]
    fn a_connection_unused_for_a_second_is_checked() {
        assert!(needs_check(5, Duration::from_secs(1)));
        assert!(needs_check(7, Duration::from_secs(600)));
    }
}
