//! Counters of failed sign-ins, shared by every instance through the database: a counter row
//! per key (`signin_throttle`) and, for the count across addresses, one row per failure
//! (`signin_failures`) so that only a sliding window of failures counts.

use crate::{Conn, StoreError};
use gatehouse_domain::PlanId;
use sqlx::Row;

/// A throttle counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    pub failures: i64,
    pub locked_until: Option<i64>,
}

/// The counter for `key`, if any failure was recorded.
pub async fn get(conn: &mut Conn, plan: PlanId, key: &str) -> Result<Option<Counter>, StoreError> {
    let row =
        sqlx::query("SELECT failures, locked_until FROM signin_throttle WHERE plan_id = $1 AND throttle_key = $2")
            .bind(plan.0)
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?;
    row.map(|r| -> Result<Counter, StoreError> {
        Ok(Counter { failures: r.try_get("failures")?, locked_until: r.try_get("locked_until")? })
    })
    .transpose()
}

/// The counters for two keys, read in one statement (a sign-in reads its username's and its
/// username-and-address's before checking the password).
pub async fn get_two(conn: &mut Conn, plan: PlanId, keys: [&str; 2]) -> Result<[Option<Counter>; 2], StoreError> {
    let rows = sqlx::query(
        "SELECT throttle_key, failures, locked_until FROM signin_throttle \
         WHERE plan_id = $1 AND throttle_key IN ($2, $3)",
    )
    .bind(plan.0)
    .bind(keys[0])
    .bind(keys[1])
    .fetch_all(&mut *conn)
    .await?;
    let mut out = [None, None];
    for r in rows {
        let key: String = r.try_get("throttle_key")?;
        let counter = Counter { failures: r.try_get("failures")?, locked_until: r.try_get("locked_until")? };
        for (slot, k) in out.iter_mut().zip(keys) {
            if k == key {
                *slot = Some(counter);
            }
        }
    }
    Ok(out)
}

/// Adds a failure and returns the new count.
pub async fn add_failure(conn: &mut Conn, plan: PlanId, key: &str, now: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO signin_throttle (plan_id, throttle_key, failures, updated_at) VALUES ($1, $2, 1, $3) \
         ON CONFLICT (plan_id, throttle_key) DO UPDATE SET failures = signin_throttle.failures + 1, updated_at = $3 \
         RETURNING failures",
    )
    .bind(plan.0)
    .bind(key)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?)
}

/// Adds a failure to `key` and returns how many of its failures fall after `since` (the one
/// just made included); failures at or before `since` are deleted. The counter row is written
/// first, so on PostgreSQL concurrent failures of one key queue on its row lock and each counts
/// the others' committed failures.
pub async fn add_failure_in_window(
    conn: &mut Conn,
    plan: PlanId,
    key: &str,
    now: i64,
    since: i64,
) -> Result<i64, StoreError> {
    add_failure(conn, plan, key, now).await?;
    sqlx::query("INSERT INTO signin_failures (plan_id, throttle_key, failed_at) VALUES ($1, $2, $3)")
        .bind(plan.0)
        .bind(key)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM signin_failures WHERE plan_id = $1 AND throttle_key = $2 AND failed_at <= $3")
        .bind(plan.0)
        .bind(key)
        .bind(since)
        .execute(&mut *conn)
        .await?;
    failures_since(conn, plan, key, since).await
}

/// How many failures of `key` fall after `since`, without adding one.
pub async fn failures_since(conn: &mut Conn, plan: PlanId, key: &str, since: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM signin_failures WHERE plan_id = $1 AND throttle_key = $2 AND failed_at > $3",
    )
    .bind(plan.0)
    .bind(key)
    .bind(since)
    .fetch_one(&mut *conn)
    .await?)
}

/// Locks `key` until `until`.
pub async fn lock(conn: &mut Conn, plan: PlanId, key: &str, until: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE signin_throttle SET locked_until = $3 WHERE plan_id = $1 AND throttle_key = $2")
        .bind(plan.0)
        .bind(key)
        .bind(until)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Forgets every counter whose key starts with `prefix` (after a success, or a help-desk unlock).
pub async fn clear_prefix(conn: &mut Conn, plan: PlanId, prefix: &str) -> Result<(), StoreError> {
    let pattern = format!("{}|%", prefix.replace('%', "\\%").replace('_', "\\_"));
    for table in ["signin_throttle", "signin_failures"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE plan_id = $1 AND (throttle_key = $2 OR throttle_key LIKE $3 ESCAPE '\\')"
        ))
        .bind(plan.0)
        .bind(prefix)
        .bind(&pattern)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The latest lock time among the keys for this username (all addresses), if any.
pub async fn locked_until(conn: &mut Conn, plan: PlanId, prefix: &str) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT MAX(locked_until) FROM signin_throttle WHERE plan_id = $1 AND (throttle_key = $2 OR throttle_key LIKE $3 ESCAPE '\\')",
    )
    .bind(plan.0)
    .bind(prefix)
    .bind(format!("{}|%", prefix.replace('%', "\\%").replace('_', "\\_")))
    .fetch_one(&mut *conn)
    .await?)
}

/// Every key of the plan locked after `now`, with when its lock ends (few at any time).
pub async fn locked_keys(conn: &mut Conn, plan: PlanId, now: i64) -> Result<Vec<(String, i64)>, StoreError> {
    let rows =
        sqlx::query("SELECT throttle_key, locked_until FROM signin_throttle WHERE plan_id = $1 AND locked_until > $2")
            .bind(plan.0)
            .bind(now)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter().map(|r| Ok((r.try_get("throttle_key")?, r.try_get("locked_until")?))).collect()
}
