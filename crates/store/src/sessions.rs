//! Server-side sessions. Only the SHA-256 of a session's token is stored.

use crate::{Conn, Stmt, StoreError};
use gatehouse_domain::session::SessionStage;
use gatehouse_domain::{AffiliationId, PlanId, SessionId, UserId};
use sqlx::Row;

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: SessionId,
    pub plan_id: PlanId,
    pub user_id: UserId,
    pub stage: SessionStage,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub ip: String,
    pub user_agent: String,
    pub ended_at: Option<i64>,
    /// The affiliation the session acts for.
    pub active_affiliation_id: Option<AffiliationId>,
    /// When the last sign-in factor completed (none before two-step is done).
    pub authenticated_at: Option<i64>,
    /// The RFC 8176 methods of that sign-in, space-separated (`pwd sms`).
    pub amr: Option<String>,
}

const COLUMNS: &str = "id, plan_id, user_id, stage, created_at, last_seen_at, ip, user_agent, ended_at, active_affiliation_id, authenticated_at, amr";

fn from_row(r: &sqlx::any::AnyRow) -> Result<SessionRow, StoreError> {
    let stage: String = r.try_get("stage")?;
    Ok(SessionRow {
        id: SessionId(r.try_get("id")?),
        plan_id: PlanId(r.try_get("plan_id")?),
        user_id: UserId(r.try_get("user_id")?),
        stage: SessionStage::parse(&stage).ok_or_else(|| StoreError::Corrupt(format!("session stage {stage:?}")))?,
        created_at: r.try_get("created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
        ip: r.try_get("ip")?,
        user_agent: r.try_get("user_agent")?,
        ended_at: r.try_get("ended_at")?,
        active_affiliation_id: r.try_get::<Option<i64>, _>("active_affiliation_id")?.map(AffiliationId),
        authenticated_at: r.try_get("authenticated_at")?,
        amr: r.try_get("amr")?,
    })
}

/// A session to start.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub plan_id: PlanId,
    pub user_id: UserId,
    pub token_hash: &'a str,
    pub stage: SessionStage,
    pub ip: &'a str,
    pub user_agent: &'a str,
}

/// Starts a session; returns its id.
pub async fn insert(conn: &mut Conn, s: &NewSession<'_>, now: i64) -> Result<SessionId, StoreError> {
    bind_session(Stmt::new(format!("{INSERT_SESSION} RETURNING id")), s, now)
        .fetch_id(conn, "a session")
        .await
        .map(SessionId)
}

/// The statement of [`insert`] for a [`crate::Batch`], returning nothing: on SQLite every row a
/// statement returns is one more message from the connection's thread, and the batch's caller
/// knows the session by its token. It holds its own copies of the values.
pub fn insert_stmt<'q>(s: &NewSession<'_>, now: i64) -> Stmt<'q> {
    bind_session(Stmt::new(INSERT_SESSION), s, now)
}

const INSERT_SESSION: &str = "INSERT INTO sessions (plan_id, user_id, token_hash, stage, created_at, last_seen_at, \
                              ip, user_agent) VALUES ($1, $2, $3, $4, $5, $5, $6, $7)";

fn bind_session<'q>(stmt: Stmt<'q>, s: &NewSession<'_>, now: i64) -> Stmt<'q> {
    stmt.bind(s.plan_id.0)
        .bind(s.user_id.0)
        .bind(s.token_hash.to_owned())
        .bind(s.stage.as_str())
        .bind(now)
        .bind(s.ip.to_owned())
        .bind(s.user_agent.to_owned())
}

/// The live (not ended) session with this token hash in this plan, unless its user has been
/// deactivated: a session that began while a deactivation was committing (a sign-in whose
/// password was checked just before) is never honoured.
pub async fn by_token_hash(conn: &mut Conn, plan: PlanId, token_hash: &str) -> Result<Option<SessionRow>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM sessions WHERE plan_id = $1 AND token_hash = $2 AND ended_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = sessions.user_id AND u.status = 'deactivated')"
    ))
    .bind(plan.0)
    .bind(token_hash)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Records activity.
pub async fn touch(conn: &mut Conn, id: SessionId, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND ended_at IS NULL")
        .bind(id.0)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Moves a session to a new stage under a new token (a new id at every privilege change).
/// Returns false if the session had ended or was not at `from`.
pub async fn advance(
    conn: &mut Conn,
    id: SessionId,
    from: SessionStage,
    to: SessionStage,
    new_token_hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE sessions SET stage = $3, token_hash = $4, last_seen_at = $5 \
         WHERE id = $1 AND stage = $2 AND ended_at IS NULL",
    )
    .bind(id.0)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(new_token_hash)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Ends one session of a user. Returns false if it was not theirs or already ended.
pub async fn end(conn: &mut Conn, user: UserId, id: SessionId, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE sessions SET ended_at = $3 WHERE id = $1 AND user_id = $2 AND ended_at IS NULL")
        .bind(id.0)
        .bind(user.0)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Ends every session of a user except `keep`. Returns how many ended.
pub async fn end_all_except(
    conn: &mut Conn,
    user: UserId,
    keep: Option<SessionId>,
    now: i64,
) -> Result<u64, StoreError> {
    let r = sqlx::query("UPDATE sessions SET ended_at = $3 WHERE user_id = $1 AND id <> $2 AND ended_at IS NULL")
        .bind(user.0)
        .bind(keep.map_or(-1, |k| k.0))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected())
}

/// A user's sessions that have not ended, newest activity first.
pub async fn list_live(conn: &mut Conn, user: UserId) -> Result<Vec<SessionRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM sessions WHERE user_id = $1 AND ended_at IS NULL ORDER BY last_seen_at DESC, id DESC"
    ))
    .bind(user.0)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Up to `limit` live sessions of the plan past their idle limit (last seen at or before
/// `idle_before`) or their absolute one (started at or before `started_before`), oldest first.
pub async fn timed_out(
    conn: &mut Conn,
    plan: PlanId,
    idle_before: i64,
    started_before: i64,
    limit: i64,
) -> Result<Vec<SessionRow>, StoreError> {
    // Two indexed ranges (migration 0044) rather than one OR, which neither database answers
    // from an index.
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM sessions WHERE id IN (\
           SELECT id FROM sessions WHERE plan_id = $1 AND ended_at IS NULL AND last_seen_at <= $2 \
           UNION SELECT id FROM sessions WHERE plan_id = $1 AND ended_at IS NULL AND created_at <= $3) \
         ORDER BY last_seen_at, id LIMIT $4"
    ))
    .bind(plan.0)
    .bind(idle_before)
    .bind(started_before)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Sets the affiliation a live session acts for; false if the session has ended.
pub async fn set_active_affiliation(
    conn: &mut Conn,
    id: SessionId,
    affiliation: Option<AffiliationId>,
) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE sessions SET active_affiliation_id = $1 WHERE id = $2 AND ended_at IS NULL")
        .bind(affiliation.map(|a| a.0))
        .bind(id.0)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Records that a live session's sign-in factors completed at `at`, by `amr` (`pwd sms`).
pub async fn record_authentication(conn: &mut Conn, id: SessionId, at: i64, amr: &str) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE sessions SET authenticated_at = $2, amr = $3 WHERE id = $1 AND ended_at IS NULL")
        .bind(id.0)
        .bind(at)
        .bind(amr)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// A session by id in a plan, ended or not.
pub async fn get(conn: &mut Conn, plan: PlanId, id: SessionId) -> Result<Option<SessionRow>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM sessions WHERE plan_id = $1 AND id = $2"))
        .bind(plan.0)
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}
