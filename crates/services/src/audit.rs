//! Writing audit events (always inside the change's transaction) and verifying a plan's chain.

use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::audit::{GENESIS, Outcome, chain_hash};
use gatehouse_domain::{PlanId, UserId};
use gatehouse_store::Conn;
use gatehouse_store::audit::{self as store, NewEvent};

/// One audited event: what happened, who did it, to whom, and how it ended.
#[derive(Debug, Clone)]
pub struct Event {
    pub action: &'static str,
    pub outcome: Outcome,
    pub actor: Option<UserId>,
    pub subject: Option<UserId>,
    pub detail: serde_json::Value,
}

impl Event {
    /// A successful `action` with no actor yet.
    pub fn new(action: &'static str) -> Self {
        Self { action, outcome: Outcome::Success, actor: None, subject: None, detail: serde_json::Value::Null }
    }
    /// Done by `user`.
    pub fn by(mut self, user: UserId) -> Self {
        self.actor = Some(user);
        self
    }
    /// Done to `user`.
    pub fn on(mut self, user: UserId) -> Self {
        self.subject = Some(user);
        self
    }
    /// Done by `user` to their own account.
    pub fn by_self(self, user: UserId) -> Self {
        self.by(user).on(user)
    }
    /// Ended as `outcome`.
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }
    /// With details (never secrets, never health information). Object details are merged into
    /// what the event already carries (such as the command-line actor marker).
    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        match (&mut self.detail, detail) {
            (serde_json::Value::Object(have), serde_json::Value::Object(more)) => have.extend(more),
            (slot, d) => *slot = d,
        }
        self
    }
    /// With the username a person typed: as typed when the request found its account by it
    /// (`matched`; a reset also needs the account's email); otherwise as a keyed digest under
    /// `unknown_username`, so that a password typed into the username box never lands in the
    /// permanent log, while repeated tries of one name still read as one.
    pub fn typed_username(self, key: &[u8], name: &str, matched: bool) -> Self {
        if matched {
            self.detail(serde_json::json!({ "username": name }))
        } else {
            let digest = crate::tokens::hash_code(key, "audit:typed-username", name);
            self.detail(serde_json::json!({ "unknown_username": digest.get(..16).unwrap_or(&digest) }))
        }
    }
}

/// Appends one event to the plan's chain, inside the caller's transaction ([`record_all`] with
/// one event).
pub async fn record(conn: &mut Conn, now: i64, plan: PlanId, meta: &RequestMeta, e: Event) -> Result<i64, Internal> {
    record_all(conn, now, plan, meta, vec![e])
        .await?
        .ok_or_else(|| Internal::Other(format!("an audit event of plan {plan} was not appended")))
}

/// Appends several events to the plan's chain in order, inside the caller's transaction, with as
/// few statements as one (a sign-in records its password step and the code it sent together).
pub async fn record_all(
    conn: &mut Conn,
    now: i64,
    plan: PlanId,
    meta: &RequestMeta,
    events: Vec<Event>,
) -> Result<Option<i64>, Internal> {
    let details = details_of(&events);
    Ok(store::append_all(conn, plan, &rows_of(now, plan, meta, &events, &details)).await?)
}

/// Each event's detail as stored (an empty object for none), for [`append_stmt`].
pub(crate) fn details_of(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| if e.detail.is_null() { "{}".to_owned() } else { e.detail.to_string() }).collect()
}

/// `events` as the store appends them.
fn rows_of<'a>(
    now: i64,
    plan: PlanId,
    meta: &'a RequestMeta,
    events: &'a [Event],
    details: &'a [String],
) -> Vec<NewEvent<'a>> {
    events
        .iter()
        .zip(details)
        .map(|(e, detail)| NewEvent {
            plan_id: plan,
            at: now,
            actor: e.actor,
            subject: e.subject,
            action: e.action,
            outcome: e.outcome.as_str(),
            ip: &meta.ip,
            user_agent: &meta.user_agent,
            detail,
        })
        .collect()
}

/// The statement that appends `events` (with their [`details_of`]) after `head`, which reserved
/// exactly as many numbers (`gatehouse_store::audit::reserve_stmt`), for a batch: how a sign-in
/// appends its events in the command that commits it.
pub(crate) fn append_stmt<'q>(
    head: store::Head,
    now: i64,
    plan: PlanId,
    meta: &'q RequestMeta,
    events: &'q [Event],
    details: &'q [String],
) -> Result<gatehouse_store::Stmt<'q>, Internal> {
    let rows = rows_of(now, plan, meta, events, details);
    let n = store::count_of(plan, &rows)?;
    Ok(store::append_stmt(head, n, &rows)?)
}

/// Why the audit log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AuditReadError {
    #[error(transparent)]
    Denied(#[from] crate::staff::Denied),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for AuditReadError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// The result of checking a plan's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainReport {
    /// Every link holds.
    Intact { events: i64 },
    /// The first event whose link is broken.
    Broken { seq: i64, reason: String },
}

impl Services {
    /// Walks a plan's audit chain from the start and reports the first broken link.
    pub async fn verify_audit_chain(&self, plan: PlanId) -> Result<ChainReport, Internal> {
        let mut conn = self.db.acquire().await?;
        let mut prev = GENESIS.to_owned();
        let mut expected_seq = 1;
        loop {
            let page = store::page(&mut conn, plan, expected_seq - 1, 1000).await?;
            if page.is_empty() {
                break;
            }
            for e in &page {
                if e.seq != expected_seq {
                    return Ok(ChainReport::Broken {
                        seq: expected_seq,
                        reason: format!("event {expected_seq} is missing"),
                    });
                }
                if e.prev_hash != prev {
                    return Ok(ChainReport::Broken { seq: e.seq, reason: "previous-hash link does not match".into() });
                }
                let h = chain_hash(&prev, &e.chain_fields());
                if h != e.hash {
                    return Ok(ChainReport::Broken { seq: e.seq, reason: "content does not match its hash".into() });
                }
                prev = h;
                expected_seq += 1;
            }
        }
        let count = expected_seq - 1;
        if let Some((head_seq, head_hash)) = store::head(&mut conn, plan).await?
            && (head_seq != count || head_hash != prev)
        {
            return Ok(ChainReport::Broken {
                seq: count + 1,
                reason: format!("chain head says {head_seq} events; found {count} (events were removed from the end)"),
            });
        }
        Ok(ChainReport::Intact { events: count })
    }

    /// A plan's newest audit events.
    pub async fn recent_audit(&self, plan: PlanId, limit: i64) -> Result<Vec<store::EventRow>, Internal> {
        let mut conn = self.db.acquire().await?;
        Ok(store::recent(&mut conn, plan, limit).await?)
    }

    /// The audit log as a file to take away (up to 10,000 events, newest first): as
    /// [`Self::search_audit`], and the export itself is audited (`audit.exported`, with the
    /// filter and how many events left), in the same transaction that reads them.
    pub async fn export_audit(
        &self,
        grant: &crate::staff::StaffGrant,
        plan: PlanId,
        action_like: &str,
        before: Option<i64>,
        meta: &RequestMeta,
    ) -> Result<Vec<store::EventRow>, AuditReadError> {
        grant.require(plan, gatehouse_domain::staff::StaffPermission::AuditRead)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let events =
            store::search(&mut tx, plan, &action_like.to_lowercase(), before.unwrap_or(i64::MAX), 10_000).await?;
        let event = grant.event("audit.exported").detail(serde_json::json!({
            "action_filter": action_like, "before": before, "events": events.len(),
        }));
        record(&mut tx, now, plan, meta, event).await?;
        gatehouse_store::commit(tx).await?;
        Ok(events)
    }

    /// Audit events for readers of the log (auditors and plan administrators), newest first.
    pub async fn search_audit(
        &self,
        grant: &crate::staff::StaffGrant,
        plan: PlanId,
        action_like: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<store::EventRow>, AuditReadError> {
        grant.require(plan, gatehouse_domain::staff::StaffPermission::AuditRead)?;
        let mut conn = self.db.acquire().await?;
        Ok(store::search(
            &mut conn,
            plan,
            &action_like.to_lowercase(),
            before.unwrap_or(i64::MAX),
            limit.clamp(1, 10_000),
        )
        .await?)
    }
}
