//! Editing one's own profile: the per-session unlock (password, then a two-step code) and new
//! email addresses waiting for confirmation.

use crate::{Conn, StoreError};
use gatehouse_domain::{PlanId, SessionId, UserId};
use sqlx::Row;

/// A session's unlock: `code` once the password was re-entered, `open` once the code was too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnlockRow {
    pub stage: String,
    pub updated_at: i64,
}

/// The session's unlock, if any.
pub async fn unlock(conn: &mut Conn, session: SessionId) -> Result<Option<UnlockRow>, StoreError> {
    let row = sqlx::query("SELECT stage, updated_at FROM profile_unlocks WHERE session_id = $1")
        .bind(session.0)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| Ok(UnlockRow { stage: r.try_get("stage")?, updated_at: r.try_get("updated_at")? })).transpose()
}

/// Sets the session's unlock stage.
pub async fn set_unlock(
    conn: &mut Conn,
    session: SessionId,
    user: UserId,
    stage: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO profile_unlocks (session_id, user_id, stage, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (session_id) DO UPDATE SET stage = excluded.stage, updated_at = excluded.updated_at",
    )
    .bind(session.0)
    .bind(user.0)
    .bind(stage)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Locks the profile of the session again.
pub async fn clear_unlock(conn: &mut Conn, session: SessionId) -> Result<bool, StoreError> {
    let r =
        sqlx::query("DELETE FROM profile_unlocks WHERE session_id = $1").bind(session.0).execute(&mut *conn).await?;
    Ok(r.rows_affected() > 0)
}

/// A new email address waiting for confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailChangeRow {
    pub id: i64,
    pub user_id: UserId,
    pub new_email: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// Stores a request to change the user's email; earlier unused requests of theirs end.
pub async fn insert_email_change(
    conn: &mut Conn,
    plan: PlanId,
    user: UserId,
    new_email: &str,
    token_hash: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    end_email_changes(conn, user, now).await?;
    sqlx::query(
        "INSERT INTO email_changes (plan_id, user_id, new_email, token_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(plan.0)
    .bind(user.0)
    .bind(new_email)
    .bind(token_hash)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Ends every unused email change of the user.
/// How many email changes `user` asked for since `since` (each emailed a link).
pub async fn email_changes_since(conn: &mut Conn, user: UserId, since: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM email_changes WHERE user_id = $1 AND created_at > $2")
        .bind(user.0)
        .bind(since)
        .fetch_one(&mut *conn)
        .await?)
}

pub async fn end_email_changes(conn: &mut Conn, user: UserId, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE email_changes SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL")
        .bind(user.0)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn change_from(r: &sqlx::any::AnyRow) -> Result<EmailChangeRow, StoreError> {
    Ok(EmailChangeRow {
        id: r.try_get("id")?,
        user_id: UserId(r.try_get("user_id")?),
        new_email: r.try_get("new_email")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        used_at: r.try_get("used_at")?,
    })
}

/// The email change whose token hashes to `token_hash`, in this plan.
pub async fn email_change_by_token(
    conn: &mut Conn,
    plan: PlanId,
    token_hash: &str,
) -> Result<Option<EmailChangeRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, user_id, new_email, created_at, expires_at, used_at FROM email_changes \
         WHERE plan_id = $1 AND token_hash = $2",
    )
    .bind(plan.0)
    .bind(token_hash)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(change_from).transpose()
}

/// The user's newest unused, unexpired email change.
pub async fn pending_email_change(
    conn: &mut Conn,
    user: UserId,
    now: i64,
) -> Result<Option<EmailChangeRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, user_id, new_email, created_at, expires_at, used_at FROM email_changes \
         WHERE user_id = $1 AND used_at IS NULL AND expires_at > $2 ORDER BY id DESC LIMIT 1",
    )
    .bind(user.0)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(change_from).transpose()
}

/// Marks an email change used. Exactly one caller wins: returns false if it was already used.
pub async fn use_email_change(conn: &mut Conn, id: i64, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE email_changes SET used_at = $2 WHERE id = $1 AND used_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}
