//! The suggestion to add a stronger factor: what is stored on the user (`users.factor_nudge_at`,
//! `users.factor_nudge_session_id`, migration 0039) and what the decision reads.

use crate::{Conn, StoreError};
use gatehouse_domain::{PlanId, SessionId, UserId};
use sqlx::Row;

/// What one visit's decision needs, read in one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NudgeFacts {
    /// When the suggestion was last shown or dismissed.
    pub at: Option<i64>,
    /// The session that shows it now.
    pub session: Option<SessionId>,
    /// The stored `amr` of the session asking.
    pub amr: Option<String>,
    /// The user has a confirmed authenticator app or a passkey.
    pub has_strong_factor: bool,
}

/// The facts for `session` of `user` in `plan`; `None` when the session is not the user's.
pub async fn facts(
    conn: &mut Conn,
    plan: PlanId,
    user: UserId,
    session: SessionId,
) -> Result<Option<NudgeFacts>, StoreError> {
    let row = sqlx::query(
        "SELECT u.factor_nudge_at, u.factor_nudge_session_id, s.amr, \
         (SELECT COUNT(*) FROM authenticator_apps a WHERE a.user_id = u.id AND a.confirmed_at IS NOT NULL) \
         + (SELECT COUNT(*) FROM passkeys p WHERE p.plan_id = u.plan_id AND p.user_id = u.id) AS strong \
         FROM users u JOIN sessions s ON s.user_id = u.id \
         WHERE u.plan_id = $1 AND u.id = $2 AND s.id = $3",
    )
    .bind(plan.0)
    .bind(user.0)
    .bind(session.0)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| -> Result<NudgeFacts, StoreError> {
        Ok(NudgeFacts {
            at: r.try_get("factor_nudge_at")?,
            session: r.try_get::<Option<i64>, _>("factor_nudge_session_id")?.map(SessionId),
            amr: r.try_get("amr")?,
            has_strong_factor: r.try_get::<i64, _>("strong")? > 0,
        })
    })
    .transpose()
}

/// Records that `session` shows the suggestion from `now`, unless another session took it since
/// `due_by` (its last showing or dismissal is later). Returns whether this session has it.
pub async fn claim(
    conn: &mut Conn,
    user: UserId,
    session: SessionId,
    due_by: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE users SET factor_nudge_at = $3, factor_nudge_session_id = $2 \
         WHERE id = $1 AND (factor_nudge_session_id = $2 OR factor_nudge_at IS NULL OR factor_nudge_at <= $4)",
    )
    .bind(user.0)
    .bind(session.0)
    .bind(now)
    .bind(due_by)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Records a dismissal at `now`: no session shows the suggestion any more. Returns whether the
/// suggestion was shown in `session` until now.
pub async fn dismiss(
    conn: &mut Conn,
    plan: PlanId,
    user: UserId,
    session: SessionId,
    now: i64,
) -> Result<bool, StoreError> {
    let was: Option<Option<i64>> =
        sqlx::query_scalar("SELECT factor_nudge_session_id FROM users WHERE plan_id = $1 AND id = $2")
            .bind(plan.0)
            .bind(user.0)
            .fetch_optional(&mut *conn)
            .await?;
    sqlx::query("UPDATE users SET factor_nudge_at = $3, factor_nudge_session_id = NULL WHERE plan_id = $1 AND id = $2")
        .bind(plan.0)
        .bind(user.0)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(was.flatten() == Some(session.0))
}
