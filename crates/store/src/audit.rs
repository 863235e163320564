//! The append-only, hash-chained audit log. Appending updates the plan's chain head in the same
//! transaction, which serializes a plan's appends (a row lock on PostgreSQL, the write lock on
//! SQLite), so the chain never forks.

use crate::{Conn, Stmt, StoreError};
use gatehouse_domain::audit::{ChainFields, GENESIS, chain_hash};
use gatehouse_domain::{PlanId, UserId};
use sqlx::Row;

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub plan_id: PlanId,
    pub at: i64,
    pub actor: Option<UserId>,
    pub subject: Option<UserId>,
    pub action: &'a str,
    pub outcome: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
    pub detail: &'a str,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub id: i64,
    pub plan_id: PlanId,
    pub seq: i64,
    pub at: i64,
    pub actor: Option<UserId>,
    pub subject: Option<UserId>,
    pub action: String,
    pub outcome: String,
    pub ip: String,
    pub user_agent: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl EventRow {
    /// The fields the chain protects.
    pub fn chain_fields(&self) -> ChainFields<'_> {
        ChainFields {
            plan_id: self.plan_id.0,
            seq: self.seq,
            at: self.at,
            actor_user_id: self.actor.map(|u| u.0),
            subject_user_id: self.subject.map(|u| u.0),
            action: &self.action,
            outcome: &self.outcome,
            ip: &self.ip,
            user_agent: &self.user_agent,
            detail: &self.detail,
        }
    }
}

/// Creates a plan's chain head; called once when the plan is created.
pub async fn init_chain(conn: &mut Conn, plan: PlanId) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO audit_heads (plan_id, seq, hash) VALUES ($1, 0, $2) ON CONFLICT (plan_id) DO NOTHING")
        .bind(plan.0)
        .bind(GENESIS)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Appends events of one plan to its chain in order, inside the caller's transaction, in two
/// statements whatever their number (the head's numbers reserved, one multi-row insert; the
/// head takes the last event's hash by trigger, migration 0040): the one way events are
/// appended, one or several. Returns the sequence number of the last, or `None` when
/// there were none.
pub async fn append_all(conn: &mut Conn, plan: PlanId, events: &[NewEvent<'_>]) -> Result<Option<i64>, StoreError> {
    let n = count_of(plan, events)?;
    if n == 0 {
        return Ok(None);
    }
    let rows = reserve_stmt(plan, n).fetch_all(conn).await?;
    let head = Head::of(plan, rows.first())?;
    let last = head.seq;
    append_stmt(head, n, events)?.fetch_all(conn).await?;
    Ok(Some(last))
}

/// How many events are appended, once they are checked to be of `plan`.
pub fn count_of(plan: PlanId, events: &[NewEvent<'_>]) -> Result<i64, StoreError> {
    if let Some(other) = events.iter().find(|e| e.plan_id != plan) {
        return Err(StoreError::Corrupt(format!("event of plan {} appended to plan {plan}", other.plan_id)));
    }
    i64::try_from(events.len()).map_err(|_| StoreError::Corrupt("too many events in one append".into()))
}

/// The statement that reserves `n` sequence numbers of `plan`'s chain, for a [`crate::Batch`]:
/// its row is read with [`Head::of`]. The caller appends exactly `n` events after it
/// ([`append_stmt`]) in the same transaction, before any other append.
pub fn reserve_stmt<'q>(plan: PlanId, n: i64) -> Stmt<'q> {
    Stmt::new("UPDATE audit_heads SET seq = seq + $2 WHERE plan_id = $1 RETURNING seq, hash").bind(plan.0).bind(n)
}

/// A chain's head after a reservation: the last reserved number, and the hash of the event
/// before the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    seq: i64,
    hash: String,
}

impl Head {
    /// The head [`reserve_stmt`] returned for `plan`.
    pub fn of(plan: PlanId, row: Option<&sqlx::any::AnyRow>) -> Result<Self, StoreError> {
        let row = row.ok_or_else(|| StoreError::Corrupt(format!("plan {plan} has no audit chain head")))?;
        Ok(Self { seq: row.try_get("seq")?, hash: row.try_get("hash")? })
    }
}

/// The statement that inserts `events`, chained from `head`, which reserved `n` numbers for them.
pub fn append_stmt<'q>(head: Head, n: i64, events: &[NewEvent<'q>]) -> Result<Stmt<'q>, StoreError> {
    if i64::try_from(events.len()).ok() != Some(n) {
        return Err(StoreError::Corrupt(format!("{} events appended where {n} were reserved", events.len())));
    }
    let Head { seq: last, hash: mut prev } = head;
    let mut links = Vec::with_capacity(events.len());
    for (seq, e) in (last - n + 1..).zip(events) {
        let fields = ChainFields {
            plan_id: e.plan_id.0,
            seq,
            at: e.at,
            actor_user_id: e.actor.map(|u| u.0),
            subject_user_id: e.subject.map(|u| u.0),
            action: e.action,
            outcome: e.outcome,
            ip: e.ip,
            user_agent: e.user_agent,
            detail: e.detail,
        };
        let hash = chain_hash(&prev, &fields);
        links.push((seq, std::mem::replace(&mut prev, hash.clone()), hash));
    }
    let values: Vec<String> = (0..events.len())
        .map(|i| {
            let b = i * 12;
            let cols: Vec<String> = (1..=12).map(|c| format!("${}", b + c)).collect();
            format!("({})", cols.join(", "))
        })
        .collect();
    let mut q = Stmt::new(format!(
        "INSERT INTO audit_events (plan_id, seq, at, actor_user_id, subject_user_id, action, outcome, ip, \
         user_agent, detail, prev_hash, hash) VALUES {}",
        values.join(", ")
    ));
    for (e, (seq, prev_hash, hash)) in events.iter().zip(links) {
        q = q
            .bind(e.plan_id.0)
            .bind(seq)
            .bind(e.at)
            .bind(e.actor.map(|u| u.0))
            .bind(e.subject.map(|u| u.0))
            .bind(e.action)
            .bind(e.outcome)
            .bind(e.ip)
            .bind(e.user_agent)
            .bind(e.detail)
            .bind(prev_hash)
            .bind(hash);
    }
    Ok(q)
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<EventRow, StoreError> {
    Ok(EventRow {
        id: r.try_get("id")?,
        plan_id: PlanId(r.try_get("plan_id")?),
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        actor: r.try_get::<Option<i64>, _>("actor_user_id")?.map(UserId),
        subject: r.try_get::<Option<i64>, _>("subject_user_id")?.map(UserId),
        action: r.try_get("action")?,
        outcome: r.try_get("outcome")?,
        ip: r.try_get("ip")?,
        user_agent: r.try_get("user_agent")?,
        detail: r.try_get("detail")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

const COLUMNS: &str =
    "id, plan_id, seq, at, actor_user_id, subject_user_id, action, outcome, ip, user_agent, detail, prev_hash, hash";

/// A page of a plan's events in chain order, starting after sequence `after_seq`.
pub async fn page(conn: &mut Conn, plan: PlanId, after_seq: i64, limit: i64) -> Result<Vec<EventRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM audit_events WHERE plan_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
    ))
    .bind(plan.0)
    .bind(after_seq)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// The plan's newest events, newest first.
pub async fn recent(conn: &mut Conn, plan: PlanId, limit: i64) -> Result<Vec<EventRow>, StoreError> {
    let rows =
        sqlx::query(&format!("SELECT {COLUMNS} FROM audit_events WHERE plan_id = $1 ORDER BY seq DESC LIMIT $2"))
            .bind(plan.0)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter().map(from_row).collect()
}

/// The plan's chain head: the last sequence number and hash.
pub async fn head(conn: &mut Conn, plan: PlanId) -> Result<Option<(i64, String)>, StoreError> {
    let row = sqlx::query("SELECT seq, hash FROM audit_heads WHERE plan_id = $1")
        .bind(plan.0)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| -> Result<(i64, String), StoreError> { Ok((r.try_get("seq")?, r.try_get("hash")?)) }).transpose()
}

/// A page of a plan's events, newest first, before sequence `before` (exclusive), optionally only
/// actions containing `action_like` (lower case, no wildcards).
pub async fn search(
    conn: &mut Conn,
    plan: PlanId,
    action_like: &str,
    before: i64,
    limit: i64,
) -> Result<Vec<EventRow>, StoreError> {
    let like = format!("%{}%", action_like.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM audit_events WHERE plan_id = $1 AND seq < $2 AND action LIKE $3 ESCAPE '\\' ORDER BY seq DESC LIMIT $4"
    ))
    .bind(plan.0)
    .bind(before)
    .bind(like)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}
