//! Idle accounts (issue 17): the daily job's reads and conditional writes on `users`.
//!
//! Candidates are one range of the index `users_idle (plan_id, status, idle_since)` (migration
//! 0028), read in pages by `(idle_since, id)`; every write repeats the conditions it was chosen
//! by (still active, no staff role, the same idle period), so a sign-in or another instance that
//! got there first makes it change nothing.

use crate::{Conn, StoreError};
use gatehouse_domain::{PlanId, UserId};
use sqlx::Row;

/// What `users.deactivated_by` holds for an account the daily job deactivated.
pub const BY_INACTIVITY: &str = "inactivity";

/// An active portal account past a threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdleCandidate {
    pub id: UserId,
    pub username: Option<String>,
    pub email: String,
    /// Start of its idle period.
    pub idle_since: i64,
    /// When its idle period was warned, if it was.
    pub warned_at: Option<i64>,
}

/// Where the next page starts: after this `(idle_since, id)`.
pub type After = (i64, i64);

fn candidate(r: &sqlx::any::AnyRow) -> Result<IdleCandidate, StoreError> {
    Ok(IdleCandidate {
        id: UserId(r.try_get("id")?),
        username: r.try_get("username")?,
        email: r.try_get("email")?,
        idle_since: r.try_get("idle_since")?,
        warned_at: r.try_get("warned_at")?,
    })
}

/// Which accounts of the range a page keeps.
enum Keep {
    /// Those whose current idle period has not been warned.
    Unwarned,
    /// Those whose current idle period was warned at this instant or earlier.
    WarnedBy(i64),
}

async fn page(
    conn: &mut Conn,
    plan: PlanId,
    cutoff: i64,
    after: After,
    limit: i64,
    keep: Keep,
) -> Result<Vec<IdleCandidate>, StoreError> {
    let (filter, warned_by) = match keep {
        Keep::Unwarned => ("(idle_warned_for IS NULL OR idle_warned_for <> idle_since) AND $6 = 0", 0),
        Keep::WarnedBy(at) => ("idle_warned_for = idle_since AND idle_warned_at <= $6", at),
    };
    let sql = format!(
        "SELECT id, username, email, idle_since, \
                CASE WHEN idle_warned_for = idle_since THEN idle_warned_at END AS warned_at FROM users \
         WHERE plan_id = $1 AND status = 'active' AND idle_since <= $2 \
           AND (idle_since > $3 OR (idle_since = $3 AND id > $4)) AND staff_role IS NULL AND {filter} \
         ORDER BY idle_since, id LIMIT $5"
    );
    let rows = sqlx::query(&sql)
        .bind(plan.0)
        .bind(cutoff)
        .bind(after.0)
        .bind(after.1)
        .bind(limit)
        .bind(warned_by)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(candidate).collect()
}

/// Active portal accounts idle since `cutoff` or earlier whose current idle period has not been
/// warned, oldest first, after `after`.
pub async fn due_warnings(
    conn: &mut Conn,
    plan: PlanId,
    cutoff: i64,
    after: After,
    limit: i64,
) -> Result<Vec<IdleCandidate>, StoreError> {
    page(conn, plan, cutoff, after, limit, Keep::Unwarned).await
}

/// Active portal accounts idle since `cutoff` or earlier whose current idle period was warned
/// at `warned_by` or earlier, oldest first, after `after`.
pub async fn due_deactivations(
    conn: &mut Conn,
    plan: PlanId,
    cutoff: i64,
    warned_by: i64,
    after: After,
    limit: i64,
) -> Result<Vec<IdleCandidate>, StoreError> {
    page(conn, plan, cutoff, after, limit, Keep::WarnedBy(warned_by)).await
}

/// Records that the idle period starting at `idle_since` was warned at `now`. False when the
/// account no longer qualifies (it signed in, was deactivated, or was warned by another run).
pub async fn mark_warned(
    conn: &mut Conn,
    plan: PlanId,
    user: UserId,
    idle_since: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE users SET idle_warned_for = idle_since, idle_warned_at = $4 \
         WHERE plan_id = $1 AND id = $2 AND status = 'active' AND staff_role IS NULL AND idle_since = $3 \
           AND (idle_warned_for IS NULL OR idle_warned_for <> idle_since)",
    )
    .bind(plan.0)
    .bind(user.0)
    .bind(idle_since)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Deactivates an account for inactivity (`deactivated_by` = [`BY_INACTIVITY`]) if it is still
/// the active portal account idle since `idle_since`, warned for that period. False when it no
/// longer qualifies.
pub async fn deactivate(
    conn: &mut Conn,
    plan: PlanId,
    user: UserId,
    idle_since: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE users SET status = 'deactivated', deactivated_at = $4, deactivated_by = $5, updated_at = $4 \
         WHERE plan_id = $1 AND id = $2 AND status = 'active' AND staff_role IS NULL AND idle_since = $3 \
           AND idle_warned_for = idle_since",
    )
    .bind(plan.0)
    .bind(user.0)
    .bind(idle_since)
    .bind(now)
    .bind(BY_INACTIVITY)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The practices each of `users` administers: (user, practice id), ordered by practice.
pub async fn administered(conn: &mut Conn, users: &[UserId]) -> Result<Vec<(UserId, i64)>, StoreError> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let list = (1..=users.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT user_id, practice_id FROM affiliations WHERE is_admin = 1 AND user_id IN ({list}) \
         ORDER BY practice_id, user_id"
    );
    let mut q = sqlx::query(&sql);
    for u in users {
        q = q.bind(u.0);
    }
    let rows = q.fetch_all(&mut *conn).await?;
    rows.iter().map(|r| Ok((UserId(r.try_get("user_id")?), r.try_get("practice_id")?))).collect()
}
