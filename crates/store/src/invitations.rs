//! Invitation links. Only the SHA-256 of a link's token is stored.

use crate::{Conn, StoreError};
use gatehouse_domain::ids::InvitationId;
use gatehouse_domain::{PlanId, UserId};
use sqlx::Row;

/// An invitation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRow {
    pub id: InvitationId,
    pub plan_id: PlanId,
    pub user_id: UserId,
    pub invited_by: Option<UserId>,
    pub sent_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub cancelled_at: Option<i64>,
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<InvitationRow, StoreError> {
    Ok(InvitationRow {
        id: InvitationId(r.try_get("id")?),
        plan_id: PlanId(r.try_get("plan_id")?),
        user_id: UserId(r.try_get("user_id")?),
        invited_by: r.try_get::<Option<i64>, _>("invited_by")?.map(UserId),
        sent_at: r.try_get("sent_at")?,
        expires_at: r.try_get("expires_at")?,
        used_at: r.try_get("used_at")?,
        cancelled_at: r.try_get("cancelled_at")?,
    })
}

/// Stores a new invitation.
pub async fn insert(
    conn: &mut Conn,
    plan: PlanId,
    user: UserId,
    invited_by: Option<UserId>,
    token_hash: &str,
    now: i64,
    expires_at: i64,
) -> Result<InvitationId, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO invitations (plan_id, user_id, token_hash, invited_by, created_at, sent_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING id",
    )
    .bind(plan.0)
    .bind(user.0)
    .bind(token_hash)
    .bind(invited_by.map(|u| u.0))
    .bind(now)
    .bind(expires_at)
    .fetch_one(&mut *conn)
    .await?;
    Ok(InvitationId(id))
}

/// The invitation whose token hashes to `token_hash`, in this plan.
pub async fn by_token_hash(
    conn: &mut Conn,
    plan: PlanId,
    token_hash: &str,
) -> Result<Option<InvitationRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, plan_id, user_id, invited_by, sent_at, expires_at, used_at, cancelled_at \
         FROM invitations WHERE plan_id = $1 AND token_hash = $2",
    )
    .bind(plan.0)
    .bind(token_hash)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Marks the invitation used if, and only if, it is still usable at `now`. Exactly one of any
/// number of concurrent callers gets `true`.
pub async fn consume(conn: &mut Conn, id: InvitationId, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE invitations SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND cancelled_at IS NULL AND expires_at > $2",
    )
    .bind(id.0)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Cancels every open invitation of a user (before a new link is sent). Returns how many.
pub async fn cancel_open(conn: &mut Conn, user: UserId, now: i64) -> Result<u64, StoreError> {
    let r = sqlx::query(
        "UPDATE invitations SET cancelled_at = $2 WHERE user_id = $1 AND used_at IS NULL AND cancelled_at IS NULL",
    )
    .bind(user.0)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected())
}

/// Cancels the open invitations of a user that `by` sent, leaving others' links working.
/// Returns how many.
pub async fn cancel_open_sent_by(conn: &mut Conn, user: UserId, by: UserId, now: i64) -> Result<u64, StoreError> {
    let r = sqlx::query(
        "UPDATE invitations SET cancelled_at = $3 \
         WHERE user_id = $1 AND invited_by = $2 AND used_at IS NULL AND cancelled_at IS NULL",
    )
    .bind(user.0)
    .bind(by.0)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected())
}

/// The newest invitation of a user.
pub async fn latest_for_user(conn: &mut Conn, user: UserId) -> Result<Option<InvitationRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, plan_id, user_id, invited_by, sent_at, expires_at, used_at, cancelled_at \
         FROM invitations WHERE user_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(user.0)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// An open invitation an administrator sent, with its invitee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingInvitation {
    pub user_id: UserId,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub sent_at: i64,
    pub expires_at: i64,
}

/// The invitations `inviter` sent whose invitee has not signed up, last sent at or after
/// `since` and neither used nor cancelled, newest first; only those of invitees who still work
/// for a practice `inviter` administers (a former administrator no longer sees theirs).
pub async fn pending_sent_by(
    conn: &mut Conn,
    plan: PlanId,
    inviter: UserId,
    since: i64,
) -> Result<Vec<PendingInvitation>, StoreError> {
    let rows = sqlx::query(
        "SELECT u.id, u.first_name, u.last_name, u.email, i.sent_at, i.expires_at FROM invitations i \
         JOIN users u ON u.id = i.user_id WHERE i.plan_id = $1 AND i.invited_by = $2 AND i.sent_at >= $3 \
         AND i.used_at IS NULL AND i.cancelled_at IS NULL AND u.status = 'invited' \
         AND EXISTS (SELECT 1 FROM affiliations a JOIN affiliations m ON m.practice_id = a.practice_id \
                     WHERE a.user_id = u.id AND m.user_id = i.invited_by AND m.is_admin = 1) \
         ORDER BY i.sent_at DESC, i.id DESC",
    )
    .bind(plan.0)
    .bind(inviter.0)
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PendingInvitation {
                user_id: UserId(r.try_get("id")?),
                first_name: r.try_get("first_name")?,
                last_name: r.try_get("last_name")?,
                email: r.try_get("email")?,
                sent_at: r.try_get("sent_at")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .collect()
}
