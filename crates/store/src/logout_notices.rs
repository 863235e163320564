//! Back-channel logout notices (0035): one per application owed a logout token because a
//! session it was given a code in has ended. A trigger on `sessions` writes them in the same
//! transaction as the session's end; the delivery worker claims due ones under a lease, posts
//! the token and records the outcome, as it does for the outbox.

use crate::{Conn, Stmt, StoreError};
use gatehouse_domain::{PlanId, SessionId, UserId};
use sqlx::Row;

/// A notice claimed for delivery, with what its logout token is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeRow {
    pub id: i64,
    pub plan_id: PlanId,
    pub session_id: SessionId,
    pub user_id: UserId,
    /// Attempts so far, this one included.
    pub attempts: i64,
    pub client_id: String,
    /// The registered URI; none when the application has since removed it or been revoked.
    pub backchannel_logout_uri: Option<String>,
    pub id_token_alg: String,
}

/// Whether any notice is due at `now` and unclaimed: a read, so that the delivery worker's
/// frequent passes take the write lock only when there is something to claim.
pub async fn any_due(conn: &mut Conn, now: i64) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "SELECT 1 FROM oidc_logout_notices WHERE delivered_at IS NULL AND abandoned_at IS NULL \
         AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1) LIMIT 1",
    )
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.is_some())
}

/// Claims up to `limit` notices due at `now` for `lease_secs`; counts the attempt.
pub async fn claim_due(conn: &mut Conn, now: i64, lease_secs: i64, limit: i64) -> Result<Vec<NoticeRow>, StoreError> {
    let ids: Vec<i64> = sqlx::query(
        "UPDATE oidc_logout_notices SET claimed_until = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM oidc_logout_notices WHERE delivered_at IS NULL AND abandoned_at IS NULL \
                      AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1) ORDER BY id LIMIT $3) \
         AND (claimed_until IS NULL OR claimed_until < $1) RETURNING id",
    )
    .bind(now)
    .bind(now + lease_secs)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| r.try_get::<i64, _>(0))
    .collect::<Result<_, _>>()?;
    let mut notices = Vec::with_capacity(ids.len());
    for id in ids {
        let row = sqlx::query(
            "SELECT n.id, n.plan_id, n.session_id, n.user_id, n.attempts, a.client_id, \
             CASE WHEN a.revoked_at IS NULL THEN a.backchannel_logout_uri END, a.id_token_alg \
             FROM oidc_logout_notices n JOIN applications a ON a.id = n.application_id WHERE n.id = $1",
        )
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
        notices.push(NoticeRow {
            id: row.try_get(0)?,
            plan_id: PlanId(row.try_get(1)?),
            session_id: SessionId(row.try_get(2)?),
            user_id: UserId(row.try_get(3)?),
            attempts: row.try_get(4)?,
            client_id: row.try_get(5)?,
            backchannel_logout_uri: row.try_get(6)?,
            id_token_alg: row.try_get(7)?,
        });
    }
    Ok(notices)
}

/// The statement that records a notice delivered.
pub fn mark_delivered_stmt<'q>(id: i64, now: i64) -> Stmt<'q> {
    Stmt::new("UPDATE oidc_logout_notices SET delivered_at = $2, claimed_until = NULL, last_error = NULL WHERE id = $1")
        .bind(id)
        .bind(now)
}

/// The statement that records a failed attempt, to be tried again at `retry_at`.
pub fn mark_failed_stmt<'q>(id: i64, error: String, retry_at: i64) -> Stmt<'q> {
    Stmt::new(
        "UPDATE oidc_logout_notices SET claimed_until = NULL, last_error = $2, next_attempt_at = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .bind(retry_at)
}

/// The statement that gives a notice up: it will not be tried again.
pub fn abandon_stmt<'q>(id: i64, error: String, now: i64) -> Stmt<'q> {
    Stmt::new("UPDATE oidc_logout_notices SET claimed_until = NULL, last_error = $2, abandoned_at = $3 WHERE id = $1")
        .bind(id)
        .bind(error)
        .bind(now)
}
