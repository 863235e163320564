//! Password resets in progress and the counters of anonymous requests (`self_service_attempts`):
//! the self-service lookups and the passkey sign-in options, each under its own key.

use crate::{Conn, StoreError};
use gatehouse_domain::{PlanId, UserId};
use sqlx::Row;

/// A password reset as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetRow {
    pub id: i64,
    pub plan_id: PlanId,
    /// `None` when the lookup matched no account.
    pub user_id: Option<UserId>,
    /// `self` or `link`.
    pub origin: String,
    /// `code` or `password`.
    pub stage: String,
    pub requested_by: Option<UserId>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// A reset to store.
#[derive(Debug, Clone)]
pub struct NewReset<'a> {
    pub plan_id: PlanId,
    pub user_id: Option<UserId>,
    pub token_hash: &'a str,
    pub origin: &'a str,
    pub stage: &'a str,
    pub requested_by: Option<UserId>,
    pub expires_at: i64,
}

/// Stores a reset.
pub async fn insert(conn: &mut Conn, r: &NewReset<'_>, now: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO password_resets (plan_id, user_id, token_hash, origin, stage, requested_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(r.plan_id.0)
    .bind(r.user_id.map(|u| u.0))
    .bind(r.token_hash)
    .bind(r.origin)
    .bind(r.stage)
    .bind(r.requested_by.map(|u| u.0))
    .bind(now)
    .bind(r.expires_at)
    .fetch_one(&mut *conn)
    .await?)
}

/// The reset whose token hashes to `token_hash`, in this plan.
pub async fn by_token_hash(conn: &mut Conn, plan: PlanId, token_hash: &str) -> Result<Option<ResetRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, plan_id, user_id, origin, stage, requested_by, created_at, expires_at, used_at \
         FROM password_resets WHERE plan_id = $1 AND token_hash = $2",
    )
    .bind(plan.0)
    .bind(token_hash)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| -> Result<ResetRow, StoreError> {
        Ok(ResetRow {
            id: r.try_get("id")?,
            plan_id: PlanId(r.try_get("plan_id")?),
            user_id: r.try_get::<Option<i64>, _>("user_id")?.map(UserId),
            origin: r.try_get("origin")?,
            stage: r.try_get("stage")?,
            requested_by: r.try_get::<Option<i64>, _>("requested_by")?.map(UserId),
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            used_at: r.try_get("used_at")?,
        })
    })
    .transpose()
}

/// Moves an unused reset from stage `from` to `to` under a new token hash. Exactly one
/// concurrent caller gets `true`.
pub async fn advance(conn: &mut Conn, id: i64, from: &str, to: &str, new_token_hash: &str) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE password_resets SET stage = $3, token_hash = $4 WHERE id = $1 AND stage = $2 AND used_at IS NULL",
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(new_token_hash)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Marks a reset at the password stage used. Exactly one concurrent caller gets `true`.
pub async fn finish(conn: &mut Conn, id: i64, now: i64) -> Result<bool, StoreError> {
    let r =
        sqlx::query("UPDATE password_resets SET used_at = $2 WHERE id = $1 AND stage = 'password' AND used_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    Ok(r.rows_affected() == 1)
}

/// Ends every unused reset of the user (`origin` = `Some(..)` only those of that origin).
/// Returns how many ended.
pub async fn end_open(conn: &mut Conn, user: UserId, origin: Option<&str>, now: i64) -> Result<u64, StoreError> {
    let r = sqlx::query(
        "UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL AND ($3 = '' OR origin = $3)",
    )
    .bind(user.0)
    .bind(now)
    .bind(origin.unwrap_or(""))
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected())
}

/// How many lookups were counted for `key` at or after `since`.
pub async fn attempts_since(conn: &mut Conn, plan: PlanId, key: &str, since: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM self_service_attempts WHERE plan_id = $1 AND throttle_key = $2 AND at >= $3",
    )
    .bind(plan.0)
    .bind(key)
    .bind(since)
    .fetch_one(&mut *conn)
    .await?)
}

/// When the oldest of `key`'s attempts after `since` was made, if any.
pub async fn oldest_attempt_since(
    conn: &mut Conn,
    plan: PlanId,
    key: &str,
    since: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT MIN(at) FROM self_service_attempts WHERE plan_id = $1 AND throttle_key = $2 AND at >= $3",
    )
    .bind(plan.0)
    .bind(key)
    .bind(since)
    .fetch_one(&mut *conn)
    .await?)
}

/// Counts a lookup for each of `keys`, forgetting the plan's lookups older than `forget_before`.
pub async fn record_attempts(
    conn: &mut Conn,
    plan: PlanId,
    keys: &[&str],
    now: i64,
    forget_before: i64,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM self_service_attempts WHERE plan_id = $1 AND at < $2")
        .bind(plan.0)
        .bind(forget_before)
        .execute(&mut *conn)
        .await?;
    for key in keys {
        sqlx::query("INSERT INTO self_service_attempts (plan_id, throttle_key, at) VALUES ($1, $2, $3)")
            .bind(plan.0)
            .bind(*key)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
