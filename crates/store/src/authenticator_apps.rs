//! A user's authenticator app (TOTP): its sealed secret, whether it is confirmed, and the newest
//! time step accepted (each step is accepted once: see [`accept_step`]).

use crate::{Conn, StoreError};
use gatehouse_domain::{PlanId, UserId};
use sqlx::Row;

/// An authenticator app as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRow {
    pub user_id: UserId,
    pub plan_id: PlanId,
    /// The secret, sealed (never the secret itself).
    pub secret_sealed: String,
    pub created_at: i64,
    /// Empty while the enrolment waits for its first code.
    pub confirmed_at: Option<i64>,
    /// The newest time step accepted.
    pub last_step: i64,
    pub last_used_at: Option<i64>,
}

/// The user's app, confirmed or waiting, in this plan.
pub async fn get(conn: &mut Conn, plan: PlanId, user: UserId) -> Result<Option<AppRow>, StoreError> {
    let row = sqlx::query(
        "SELECT user_id, plan_id, secret_sealed, created_at, confirmed_at, last_step, last_used_at \
         FROM authenticator_apps WHERE plan_id = $1 AND user_id = $2",
    )
    .bind(plan.0)
    .bind(user.0)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| -> Result<AppRow, StoreError> {
        Ok(AppRow {
            user_id: UserId(r.try_get("user_id")?),
            plan_id: PlanId(r.try_get("plan_id")?),
            secret_sealed: r.try_get("secret_sealed")?,
            created_at: r.try_get("created_at")?,
            confirmed_at: r.try_get("confirmed_at")?,
            last_step: r.try_get("last_step")?,
            last_used_at: r.try_get("last_used_at")?,
        })
    })
    .transpose()
}

/// Starts (or restarts) an enrolment: a new unconfirmed secret. Does nothing and returns false
/// when the user already has a confirmed app (it must be removed first).
pub async fn start(
    conn: &mut Conn,
    plan: PlanId,
    user: UserId,
    secret_sealed: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "INSERT INTO authenticator_apps (user_id, plan_id, secret_sealed, created_at, confirmed_at, last_step) \
         VALUES ($1, $2, $3, $4, NULL, -1) \
         ON CONFLICT (user_id) DO UPDATE SET secret_sealed = $3, created_at = $4, last_step = -1 \
         WHERE authenticator_apps.confirmed_at IS NULL",
    )
    .bind(user.0)
    .bind(plan.0)
    .bind(secret_sealed)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Confirms the waiting enrolment whose secret is `secret_sealed`, with its first step. False
/// when it was confirmed, replaced or removed meanwhile.
pub async fn confirm(
    conn: &mut Conn,
    user: UserId,
    secret_sealed: &str,
    step: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE authenticator_apps SET confirmed_at = $3, last_step = $4, last_used_at = $3 \
         WHERE user_id = $1 AND secret_sealed = $2 AND confirmed_at IS NULL",
    )
    .bind(user.0)
    .bind(secret_sealed)
    .bind(now)
    .bind(step)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Accepts `step` for the user's confirmed app if no step at or after it was accepted before.
/// Exactly one of any number of concurrent callers with the same step gets `true`: on PostgreSQL
/// the others wait for the row and then find the condition false, on SQLite writers take turns.
pub async fn accept_step(conn: &mut Conn, user: UserId, step: i64, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE authenticator_apps SET last_step = $2, last_used_at = $3 \
         WHERE user_id = $1 AND confirmed_at IS NOT NULL AND last_step < $2",
    )
    .bind(user.0)
    .bind(step)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Removes the user's app (confirmed or waiting). Returns whether there was a confirmed one.
pub async fn remove(conn: &mut Conn, plan: PlanId, user: UserId) -> Result<bool, StoreError> {
    let confirmed: Option<Option<i64>> =
        sqlx::query_scalar("DELETE FROM authenticator_apps WHERE plan_id = $1 AND user_id = $2 RETURNING confirmed_at")
            .bind(plan.0)
            .bind(user.0)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(matches!(confirmed, Some(Some(_))))
}
