//! The outbox: messages written in the same transaction as the change that caused them, and
//! delivered after commit by a worker, at least once.

use crate::{Conn, Stmt, StoreError};
use gatehouse_domain::PlanId;
use sqlx::Row;

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub plan_id: PlanId,
    /// `email`, `sms` or `voice`.
    pub channel: &'a str,
    /// Template name and version, e.g. `invitation.v1`.
    pub kind: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub body_html: &'a str,
    /// The secret parts of the message (link tokens, codes), redacted once a provider has it.
    pub secrets: &'a [String],
}

/// A queued or delivered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub id: i64,
    pub plan_id: PlanId,
    pub channel: String,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub created_at: i64,
    pub attempts: i64,
    pub delivered_at: Option<i64>,
    pub last_error: Option<String>,
    /// The secret parts still in the text (none once redacted).
    pub secrets: Vec<String>,
}

/// Which channels a query takes: email, and texts with voice calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Channels {
    pub email: bool,
    pub texts: bool,
}

impl Channels {
    /// Every channel.
    pub const ALL: Self = Self { email: true, texts: true };

    /// Whether any channel is taken.
    pub fn any(self) -> bool {
        self.email || self.texts
    }
}

const COLUMNS: &str = "id, plan_id, channel, kind, recipient, subject, body_text, body_html, created_at, attempts, delivered_at, last_error, secrets";

/// `channel` is one of `channels`, with the flags bound at `$email` and `$texts`.
fn channel_filter(email: u8, texts: u8) -> String {
    format!("((channel = 'email' AND ${email} = 1) OR (channel IN ('sms', 'voice') AND ${texts} = 1))")
}

/// The stored form of a message's secrets: one a line (tokens and codes never hold one).
fn join_secrets(secrets: &[String]) -> String {
    secrets.iter().filter(|s| !s.is_empty() && !s.contains('\n')).map(String::as_str).collect::<Vec<_>>().join("\n")
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<MessageRow, StoreError> {
    Ok(MessageRow {
        id: r.try_get("id")?,
        plan_id: PlanId(r.try_get("plan_id")?),
        channel: r.try_get("channel")?,
        kind: r.try_get("kind")?,
        recipient: r.try_get("recipient")?,
        subject: r.try_get("subject")?,
        body_text: r.try_get("body_text")?,
        body_html: r.try_get("body_html")?,
        created_at: r.try_get("created_at")?,
        attempts: r.try_get("attempts")?,
        delivered_at: r.try_get("delivered_at")?,
        last_error: r.try_get("last_error")?,
        secrets: r.try_get::<String, _>("secrets")?.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect(),
    })
}

/// Queues a message; returns its id.
pub async fn enqueue(conn: &mut Conn, m: &NewMessage<'_>, now: i64) -> Result<i64, StoreError> {
    bind_message(Stmt::new(format!("{INSERT_MESSAGE} RETURNING id")), m, now).fetch_id(conn, "an outbox").await
}

/// The statement of [`enqueue`] for a [`crate::Batch`], returning nothing (on SQLite a returned
/// row is one more message from the connection's thread).
pub fn enqueue_stmt<'q>(m: &NewMessage<'q>, now: i64) -> Stmt<'q> {
    bind_message(Stmt::new(INSERT_MESSAGE), m, now)
}

const INSERT_MESSAGE: &str = "INSERT INTO outbox (plan_id, channel, kind, recipient, subject, body_text, body_html, \
                              created_at, attempts, next_attempt_at, secrets) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $8, $9)";

fn bind_message<'q>(stmt: Stmt<'q>, m: &NewMessage<'q>, now: i64) -> Stmt<'q> {
    stmt.bind(m.plan_id.0)
        .bind(m.channel)
        .bind(m.kind)
        .bind(m.recipient)
        .bind(m.subject)
        .bind(m.body_text)
        .bind(m.body_html)
        .bind(now)
        .bind(join_secrets(m.secrets))
}

/// The statement that claims up to `limit` due messages of `channels` for `lease_secs`, so that
/// other instances leave them alone while this one delivers them; [`claimed`] reads its rows. A
/// claim that lapses (the instance died) is taken up again. Messages of other channels stay
/// queued.
pub fn claim_due_stmt<'q>(channels: Channels, now: i64, lease_secs: i64, limit: i64) -> Stmt<'q> {
    Stmt::new(format!(
        "UPDATE outbox SET claimed_until = $2, attempts = attempts + 1 \
         WHERE delivered_at IS NULL AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1) \
         AND id IN (SELECT id FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= $1 \
                    AND (claimed_until IS NULL OR claimed_until < $1) AND {} ORDER BY id LIMIT $3) \
         RETURNING {COLUMNS}",
        channel_filter(4, 5)
    ))
    .bind(now)
    .bind(now + lease_secs)
    .bind(limit)
    .bind(i64::from(channels.email))
    .bind(i64::from(channels.texts))
}

/// The messages [`claim_due_stmt`] claimed, in the order of their ids.
pub fn claimed(rows: &[sqlx::any::AnyRow]) -> Result<Vec<MessageRow>, StoreError> {
    let mut messages = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    // `RETURNING` promises no order.
    messages.sort_by_key(|m| m.id);
    Ok(messages)
}

/// The statement that marks messages delivered (their rows kept as they are: the development
/// outbox), all at once; `None` for no messages.
pub fn mark_all_delivered_stmt<'q>(ids: &[i64], now: i64) -> Option<Stmt<'q>> {
    if ids.is_empty() {
        return None;
    }
    let places: Vec<String> = (2..ids.len() + 2).map(|i| format!("${i}")).collect();
    let sql = format!(
        "UPDATE outbox SET delivered_at = $1, claimed_until = NULL, last_error = NULL WHERE id IN ({})",
        places.join(", ")
    );
    Some(ids.iter().fold(Stmt::new(sql).bind(now), |q, id| q.bind(*id)))
}

/// The statement that records a delivery to a real provider, replacing the message's stored
/// subject and bodies with their redacted forms and forgetting its secrets.
pub fn mark_delivered_redacted_stmt<'q>(
    id: i64,
    now: i64,
    subject: String,
    body_text: String,
    body_html: String,
) -> Stmt<'q> {
    Stmt::new(
        "UPDATE outbox SET delivered_at = $2, claimed_until = NULL, last_error = NULL, subject = $3, body_text = $4, \
         body_html = $5, secrets = '' WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .bind(subject)
    .bind(body_text)
    .bind(body_html)
}

/// The statement that records a failed attempt and when to try again.
pub fn mark_failed_stmt<'q>(id: i64, error: String, retry_at: i64) -> Stmt<'q> {
    Stmt::new("UPDATE outbox SET claimed_until = NULL, last_error = $2, next_attempt_at = $3 WHERE id = $1")
        .bind(id)
        .bind(error)
        .bind(retry_at)
}

/// A plan's newest messages, newest first.
pub async fn recent(conn: &mut Conn, plan: PlanId, limit: i64) -> Result<Vec<MessageRow>, StoreError> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM outbox WHERE plan_id = $1 ORDER BY id DESC LIMIT $2"))
        .bind(plan.0)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// A plan's newest messages of `channels`, newest first (the development outbox).
pub async fn recent_of(
    conn: &mut Conn,
    plan: PlanId,
    channels: Channels,
    limit: i64,
) -> Result<Vec<MessageRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE plan_id = $1 AND {} ORDER BY id DESC LIMIT $2",
        channel_filter(3, 4)
    ))
    .bind(plan.0)
    .bind(limit)
    .bind(i64::from(channels.email))
    .bind(i64::from(channels.texts))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// One message of a plan.
pub async fn get(conn: &mut Conn, plan: PlanId, id: i64) -> Result<Option<MessageRow>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM outbox WHERE plan_id = $1 AND id = $2"))
        .bind(plan.0)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}
