//! Leases of scheduled jobs and the day each last ran (`job_leases`, migration 0028).
//!
//! A lease is taken by one conditional `UPDATE` after an insert-if-absent, both plain SQL that
//! SQLite and PostgreSQL run alike: the row is changed only when the lease has run out or is
//! already the caller's, and the number of rows changed says who won. On PostgreSQL a second
//! instance's `UPDATE` waits for the first to commit, then re-reads the row and finds the lease
//! taken; SQLite runs writers one at a time.

use crate::{Conn, StoreError};
use sqlx::Row;

async fn ensure_row(conn: &mut Conn, name: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO job_leases (name, holder, lease_until) VALUES ($1, NULL, 0) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Takes (or extends) the lease `name` for `holder` until `until`, if it has run out at `now`
/// or is already `holder`'s. True when the caller holds it.
pub async fn acquire(conn: &mut Conn, name: &str, holder: &str, now: i64, until: i64) -> Result<bool, StoreError> {
    ensure_row(conn, name).await?;
    let r = sqlx::query(
        "UPDATE job_leases SET holder = $2, lease_until = $4 WHERE name = $1 AND (lease_until < $3 OR holder = $2)",
    )
    .bind(name)
    .bind(holder)
    .bind(now)
    .bind(until)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Gives the lease back, if `holder` still has it.
pub async fn release(conn: &mut Conn, name: &str, holder: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE job_leases SET holder = NULL, lease_until = 0 WHERE name = $1 AND holder = $2")
        .bind(name)
        .bind(holder)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The day (as the job wrote it) the job `name` last ran, if ever.
pub async fn last_run_on(conn: &mut Conn, name: &str) -> Result<Option<String>, StoreError> {
    let row =
        sqlx::query("SELECT last_run_on FROM job_leases WHERE name = $1").bind(name).fetch_optional(&mut *conn).await?;
    Ok(match row {
        Some(r) => r.try_get("last_run_on")?,
        None => None,
    })
}

/// Records the day the job `name` ran.
pub async fn set_last_run_on(conn: &mut Conn, name: &str, day: &str) -> Result<(), StoreError> {
    ensure_row(conn, name).await?;
    sqlx::query("UPDATE job_leases SET last_run_on = $2 WHERE name = $1")
        .bind(name)
        .bind(day)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
