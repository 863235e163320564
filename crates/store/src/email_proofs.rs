//! Links emailed to the address on record to prove it (an imported account's first sign-in).

use crate::{Conn, StoreError};
use gatehouse_domain::{PlanId, UserId};
use sqlx::Row;

/// A link as stored (its token only as a SHA-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailProofRow {
    pub id: i64,
    pub plan_id: PlanId,
    pub user_id: UserId,
    pub purpose: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// When it was used, or replaced by a newer link.
    pub used_at: Option<i64>,
}

/// Stores a new link, ending the user's unused links of the same purpose (a newer link
/// replaces the older). Returns its id.
pub async fn replace(
    conn: &mut Conn,
    plan: PlanId,
    user: UserId,
    purpose: &str,
    token_hash: &str,
    expires_at: i64,
    now: i64,
) -> Result<i64, StoreError> {
    sqlx::query("UPDATE email_proofs SET used_at = $3 WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL")
        .bind(user.0)
        .bind(purpose)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(sqlx::query_scalar(
        "INSERT INTO email_proofs (plan_id, user_id, purpose, token_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(plan.0)
    .bind(user.0)
    .bind(purpose)
    .bind(token_hash)
    .bind(now)
    .bind(expires_at)
    .fetch_one(&mut *conn)
    .await?)
}

/// The link of this plan and purpose whose token hashes to `token_hash`.
pub async fn by_token_hash(
    conn: &mut Conn,
    plan: PlanId,
    purpose: &str,
    token_hash: &str,
) -> Result<Option<EmailProofRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, plan_id, user_id, purpose, created_at, expires_at, used_at FROM email_proofs \
         WHERE plan_id = $1 AND purpose = $2 AND token_hash = $3",
    )
    .bind(plan.0)
    .bind(purpose)
    .bind(token_hash)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| -> Result<EmailProofRow, StoreError> {
        Ok(EmailProofRow {
            id: r.try_get("id")?,
            plan_id: PlanId(r.try_get("plan_id")?),
            user_id: UserId(r.try_get("user_id")?),
            purpose: r.try_get("purpose")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            used_at: r.try_get("used_at")?,
        })
    })
    .transpose()
}

/// Marks an unused link used. Exactly one concurrent caller gets `true`.
pub async fn use_once(conn: &mut Conn, id: i64, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE email_proofs SET used_at = $2 WHERE id = $1 AND used_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Ends every unused link of the user. Returns how many ended.
pub async fn end_open(conn: &mut Conn, user: UserId, now: i64) -> Result<u64, StoreError> {
    let r = sqlx::query("UPDATE email_proofs SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL")
        .bind(user.0)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected())
}

/// How many links of `purpose` were sent to the user at or after `since`.
pub async fn sent_since(conn: &mut Conn, user: UserId, purpose: &str, since: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM email_proofs WHERE user_id = $1 AND purpose = $2 AND created_at >= $3")
        .bind(user.0)
        .bind(purpose)
        .bind(since)
        .fetch_one(&mut *conn)
        .await?)
}
