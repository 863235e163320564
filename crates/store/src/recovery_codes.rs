//! Recovery codes: only their HMAC is stored; each is used once, by a conditional update.

use crate::{Conn, StoreError};
use gatehouse_domain::{PlanId, UserId};

/// Replaces the user's recovery codes with these (hashed) ones.
pub async fn replace(
    conn: &mut Conn,
    plan: PlanId,
    user: UserId,
    hashes: &[String],
    now: i64,
) -> Result<(), StoreError> {
    remove_all(conn, plan, user).await?;
    for h in hashes {
        sqlx::query("INSERT INTO recovery_codes (plan_id, user_id, code_hash, created_at) VALUES ($1, $2, $3, $4)")
            .bind(plan.0)
            .bind(user.0)
            .bind(h)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Deletes every recovery code of the user. Returns how many there were.
pub async fn remove_all(conn: &mut Conn, plan: PlanId, user: UserId) -> Result<u64, StoreError> {
    let r = sqlx::query("DELETE FROM recovery_codes WHERE plan_id = $1 AND user_id = $2")
        .bind(plan.0)
        .bind(user.0)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected())
}

/// How many of the user's recovery codes are unused.
pub async fn count_unused(conn: &mut Conn, plan: PlanId, user: UserId) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM recovery_codes WHERE plan_id = $1 AND user_id = $2 AND used_at IS NULL",
    )
    .bind(plan.0)
    .bind(user.0)
    .fetch_one(&mut *conn)
    .await?)
}

/// Uses the user's unused code with this hash. Exactly one concurrent caller gets `true`.
pub async fn use_code(conn: &mut Conn, plan: PlanId, user: UserId, hash: &str, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE recovery_codes SET used_at = $4 \
         WHERE plan_id = $1 AND user_id = $2 AND code_hash = $3 AND used_at IS NULL",
    )
    .bind(plan.0)
    .bind(user.0)
    .bind(hash)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}
