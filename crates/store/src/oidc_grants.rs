//! The OpenID Connect flow's tables (0033): authorization requests waiting for sign-in, codes
//! (each also the grant its tokens descend from), refresh tokens and each user's `sub`. Secrets
//! are stored as SHA-256 only; every "use once" is a conditional UPDATE whose row count decides.

use crate::{Conn, StoreError};
use gatehouse_domain::{PlanId, SessionId, UserId};
use sqlx::Row;

/// An authorization request waiting for its person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRow {
    pub id: i64,
    pub application_id: i64,
    /// The parsed request, as JSON.
    pub parameters: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Keeps an authorization request until its person has signed in.
pub async fn insert_pending(
    conn: &mut Conn,
    plan: PlanId,
    application: i64,
    token_hash: &str,
    parameters: &str,
    now: i64,
    expires_at: i64,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO oidc_pending_requests (plan_id, application_id, token_hash, parameters, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(plan.0)
    .bind(application)
    .bind(token_hash)
    .bind(parameters)
    .bind(now)
    .bind(expires_at)
    .fetch_one(&mut *conn)
    .await?)
}

/// The unused, unexpired request of the plan with this token hash.
pub async fn pending(
    conn: &mut Conn,
    plan: PlanId,
    token_hash: &str,
    now: i64,
) -> Result<Option<PendingRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, application_id, parameters, created_at, expires_at FROM oidc_pending_requests \
         WHERE plan_id = $1 AND token_hash = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(plan.0)
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(PendingRow {
            id: r.try_get("id")?,
            application_id: r.try_get("application_id")?,
            parameters: r.try_get("parameters")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
        })
    })
    .transpose()
}

/// Uses a pending request once, binding it to the session that completed it (none when it ended
/// in an error without one); false when it was used already (a concurrent resume won).
pub async fn use_pending(conn: &mut Conn, id: i64, session: Option<SessionId>, now: i64) -> Result<bool, StoreError> {
    let r =
        sqlx::query("UPDATE oidc_pending_requests SET used_at = $2, session_id = $3 WHERE id = $1 AND used_at IS NULL")
            .bind(id)
            .bind(now)
            .bind(session.map(|s| s.0))
            .execute(&mut *conn)
            .await?;
    Ok(r.rows_affected() == 1)
}

/// Deletes up to `limit` requests (of any plan) that expired before `before`, oldest first.
pub async fn sweep_expired_pending(conn: &mut Conn, before: i64, limit: i64) -> Result<u64, StoreError> {
    let r = sqlx::query(
        "DELETE FROM oidc_pending_requests WHERE id IN \
         (SELECT id FROM oidc_pending_requests WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)",
    )
    .bind(before)
    .bind(limit)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected())
}

/// An authorization code to store.
#[derive(Debug, Clone)]
pub struct NewCode<'a> {
    pub plan_id: PlanId,
    pub application_id: i64,
    pub session_id: SessionId,
    pub user_id: UserId,
    pub code_hash: &'a str,
    pub redirect_uri: &'a str,
    pub code_challenge: &'a str,
    pub nonce: Option<&'a str>,
    pub scopes: &'a str,
    pub auth_time: i64,
    pub amr: &'a str,
    pub expires_at: i64,
}

/// Stores a code.
pub async fn insert_code(conn: &mut Conn, c: &NewCode<'_>, now: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO oidc_codes (plan_id, application_id, session_id, user_id, code_hash, redirect_uri, \
         code_challenge, nonce, scopes, auth_time, amr, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(c.plan_id.0)
    .bind(c.application_id)
    .bind(c.session_id.0)
    .bind(c.user_id.0)
    .bind(c.code_hash)
    .bind(c.redirect_uri)
    .bind(c.code_challenge)
    .bind(c.nonce)
    .bind(c.scopes)
    .bind(c.auth_time)
    .bind(c.amr)
    .bind(now)
    .bind(c.expires_at)
    .fetch_one(&mut *conn)
    .await?)
}

/// A code (grant) as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRow {
    pub id: i64,
    pub application_id: i64,
    pub session_id: SessionId,
    pub user_id: UserId,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub scopes: String,
    pub auth_time: i64,
    pub amr: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const CODE_COLUMNS: &str = "id, application_id, session_id, user_id, redirect_uri, code_challenge, nonce, scopes, \
                            auth_time, amr, expires_at, used_at, revoked_at";

fn code_from(r: &sqlx::any::AnyRow) -> Result<CodeRow, StoreError> {
    Ok(CodeRow {
        id: r.try_get("id")?,
        application_id: r.try_get("application_id")?,
        session_id: SessionId(r.try_get("session_id")?),
        user_id: UserId(r.try_get("user_id")?),
        redirect_uri: r.try_get("redirect_uri")?,
        code_challenge: r.try_get("code_challenge")?,
        nonce: r.try_get("nonce")?,
        scopes: r.try_get("scopes")?,
        auth_time: r.try_get("auth_time")?,
        amr: r.try_get("amr")?,
        expires_at: r.try_get("expires_at")?,
        used_at: r.try_get("used_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

/// The plan's code with this hash, used or not.
pub async fn code_by_hash(conn: &mut Conn, plan: PlanId, code_hash: &str) -> Result<Option<CodeRow>, StoreError> {
    let row = sqlx::query(&format!("SELECT {CODE_COLUMNS} FROM oidc_codes WHERE plan_id = $1 AND code_hash = $2"))
        .bind(plan.0)
        .bind(code_hash)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(code_from).transpose()
}

/// The plan's grant (code row) by id.
pub async fn grant(conn: &mut Conn, plan: PlanId, id: i64) -> Result<Option<CodeRow>, StoreError> {
    let row = sqlx::query(&format!("SELECT {CODE_COLUMNS} FROM oidc_codes WHERE plan_id = $1 AND id = $2"))
        .bind(plan.0)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(code_from).transpose()
}

/// Redeems a code once: false when it was used (or revoked) already, perhaps a moment ago by a
/// concurrent request.
pub async fn redeem_code(conn: &mut Conn, id: i64, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE oidc_codes SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Revokes a grant and every refresh token of its family. Returns how many refresh tokens were
/// still live.
pub async fn revoke_grant(conn: &mut Conn, id: i64, now: i64) -> Result<u64, StoreError> {
    sqlx::query("UPDATE oidc_codes SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let r = sqlx::query("UPDATE oidc_refresh_tokens SET revoked_at = $2 WHERE code_id = $1 AND revoked_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected())
}

/// Revokes every grant of an application, and their refresh tokens (the application was
/// revoked: its access tokens no longer read anything either). Returns the grants revoked.
pub async fn revoke_grants_of(conn: &mut Conn, plan: PlanId, application: i64, now: i64) -> Result<u64, StoreError> {
    sqlx::query(
        "UPDATE oidc_refresh_tokens SET revoked_at = $3 WHERE revoked_at IS NULL AND code_id IN \
         (SELECT id FROM oidc_codes WHERE plan_id = $1 AND application_id = $2)",
    )
    .bind(plan.0)
    .bind(application)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let r = sqlx::query(
        "UPDATE oidc_codes SET revoked_at = $3 WHERE plan_id = $1 AND application_id = $2 AND revoked_at IS NULL",
    )
    .bind(plan.0)
    .bind(application)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected())
}

/// Stores a refresh token of the family of grant `code_id`.
pub async fn insert_refresh(
    conn: &mut Conn,
    plan: PlanId,
    code_id: i64,
    token_hash: &str,
    now: i64,
    expires_at: i64,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO oidc_refresh_tokens (plan_id, code_id, token_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(plan.0)
    .bind(code_id)
    .bind(token_hash)
    .bind(now)
    .bind(expires_at)
    .fetch_one(&mut *conn)
    .await?)
}

/// A refresh token as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRow {
    pub id: i64,
    pub code_id: i64,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// The plan's refresh token with this hash, in any state.
pub async fn refresh_by_hash(
    conn: &mut Conn,
    plan: PlanId,
    token_hash: &str,
) -> Result<Option<RefreshRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, code_id, expires_at, rotated_at, revoked_at FROM oidc_refresh_tokens \
         WHERE plan_id = $1 AND token_hash = $2",
    )
    .bind(plan.0)
    .bind(token_hash)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(RefreshRow {
            id: r.try_get("id")?,
            code_id: r.try_get("code_id")?,
            expires_at: r.try_get("expires_at")?,
            rotated_at: r.try_get("rotated_at")?,
            revoked_at: r.try_get("revoked_at")?,
        })
    })
    .transpose()
}

/// Marks a refresh token rotated, once: false when it was rotated or revoked already.
pub async fn rotate_refresh(conn: &mut Conn, id: i64, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE oidc_refresh_tokens SET rotated_at = $2 WHERE id = $1 AND rotated_at IS NULL AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Revokes one refresh token (RFC 7009); false when it was not live.
pub async fn revoke_refresh(conn: &mut Conn, id: i64, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE oidc_refresh_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The user's `sub` in their plan, made from `candidate` if they have none yet (a concurrent
/// first sign-in's value wins, and both read it).
pub async fn subject(
    conn: &mut Conn,
    plan: PlanId,
    user: UserId,
    candidate: &str,
    now: i64,
) -> Result<String, StoreError> {
    sqlx::query(
        "INSERT INTO oidc_subjects (user_id, plan_id, subject, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user.0)
    .bind(plan.0)
    .bind(candidate)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(sqlx::query_scalar("SELECT subject FROM oidc_subjects WHERE user_id = $1 AND plan_id = $2")
        .bind(user.0)
        .bind(plan.0)
        .fetch_one(&mut *conn)
        .await?)
}

/// The user's `sub`, if one was made.
pub async fn subject_of(conn: &mut Conn, plan: PlanId, user: UserId) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT subject FROM oidc_subjects WHERE user_id = $1 AND plan_id = $2")
        .bind(user.0)
        .bind(plan.0)
        .fetch_optional(&mut *conn)
        .await?)
}
