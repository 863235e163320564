//! Idle accounts (issue 17): the daily job's step that warns the holders of portal accounts
//! about to be deactivated for inactivity, and deactivates those whose time has come.
//!
//! The rule is `gatehouse_domain::idle`; the candidates are ranges of the index on
//! `(plan_id, status, idle_since)` read a page at a time, never the plan's users in Rust. Every
//! write repeats the conditions its account was chosen by, so a sign-in at the same moment, a
//! re-run or a second instance makes it change nothing (see `gatehouse_store::idle`).

use crate::affiliations::{changed, has_active_admin_or_no_users};
use crate::audit::{self, Event};
use crate::messages::{self, idle_warning::IdleWarningV1};
use crate::plans::Plan;
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::idle::{IdlePolicy, days_between};
use gatehouse_domain::{Timestamp, UserId};
use gatehouse_store::idle::{self as store, IdleCandidate};
use gatehouse_store::roster::practices;
use serde_json::json;

/// Accounts read, and changed in one transaction, at a time.
const PAGE: i64 = 250;

/// What the idle accounts step did (totals over the plans of a run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdleReport {
    /// Warning emails queued.
    pub warned: u64,
    /// Accounts deactivated.
    pub deactivated: u64,
    /// Administrators left active because deactivating them would leave a practice with active
    /// users and no active administrator; tried again at the next run.
    pub kept_last_admin: u64,
}

impl std::ops::AddAssign for IdleReport {
    fn add_assign(&mut self, o: Self) {
        self.warned += o.warned;
        self.deactivated += o.deactivated;
        self.kept_last_admin += o.kept_last_admin;
    }
}

/// Whether an account is flagged as idle at `now` (the directory's and the user search's mark).
pub fn flagged(
    plan: &Plan,
    status: gatehouse_domain::UserStatus,
    idle_since: Option<i64>,
    staff: bool,
    now: i64,
) -> bool {
    let account =
        gatehouse_domain::idle::IdleAccount { status, idle_since: idle_since.map(Timestamp), warned_at: None, staff };
    plan.idle_policy().is_idle(&account, Timestamp(now))
}

/// The audit event of something the system did on its own.
fn by_system(action: &'static str, user: UserId) -> Event {
    Event::new(action).on(user).detail(json!({"actor": "system"}))
}

impl Services {
    /// The step: deactivations due, then warnings due, for one plan at `now`.
    pub(crate) async fn idle_accounts_step(&self, plan: &Plan, now: Timestamp) -> Result<IdleReport, Internal> {
        let policy = plan.idle_policy();
        let mut report = IdleReport::default();
        self.deactivate_idle(plan, policy, now, &mut report).await?;
        self.warn_idle(plan, policy, now, &mut report).await?;
        Ok(report)
    }

    async fn warn_idle(
        &self,
        plan: &Plan,
        policy: IdlePolicy,
        now: Timestamp,
        report: &mut IdleReport,
    ) -> Result<(), Internal> {
        let cutoff = policy.warn_cutoff(now).as_secs();
        let link = format!("{}/signin", self.plan_url(plan));
        let mut after = (i64::MIN, i64::MIN);
        loop {
            let page = {
                let mut conn = self.db.acquire().await?;
                store::due_warnings(&mut conn, plan.id(), cutoff, after, PAGE).await?
            };
            let Some(last) = page.last() else { break };
            after = (last.idle_since, last.id.0);
            let mut tx = self.db.begin().await?;
            let mut warned = 0;
            for c in &page {
                if !store::mark_warned(&mut tx, plan.id(), c.id, c.idle_since, now.as_secs()).await? {
                    continue;
                }
                let since = Timestamp(c.idle_since);
                let at = policy.deactivation_at(since, now);
                let day = at.day_for_people(&plan.row.time_zone);
                let m = IdleWarningV1 {
                    plan_name: &plan.row.name,
                    username: c.username.as_deref(),
                    deactivate_on: &day,
                    idle_days: days_between(since, now),
                    link: &link,
                    support_phone: &plan.row.support_phone,
                    support_hours: &plan.row.support_hours,
                }
                .render_to(&c.email)?;
                messages::enqueue(&mut tx, plan.id(), &m, now.as_secs()).await?;
                let detail = json!({"idle_since": c.idle_since, "deactivate_at": at.as_secs()});
                let event = by_system("user.idle_warning_sent", c.id).detail(detail);
                audit::record(&mut tx, now.as_secs(), plan.id(), &RequestMeta::system(), event).await?;
                warned += 1;
            }
            gatehouse_store::commit(tx).await?;
            report.warned += warned;
            if (page.len() as i64) < PAGE {
                break;
            }
        }
        Ok(())
    }

    async fn deactivate_idle(
        &self,
        plan: &Plan,
        policy: IdlePolicy,
        now: Timestamp,
        report: &mut IdleReport,
    ) -> Result<(), Internal> {
        let cutoff = policy.deactivate_cutoff(now).as_secs();
        let warned_by = IdlePolicy::warned_cutoff(now).as_secs();
        let mut after = (i64::MIN, i64::MIN);
        loop {
            let (page, administered) = {
                let mut conn = self.db.acquire().await?;
                let page = store::due_deactivations(&mut conn, plan.id(), cutoff, warned_by, after, PAGE).await?;
                let ids: Vec<UserId> = page.iter().map(|c| c.id).collect();
                (page, store::administered(&mut conn, &ids).await?)
            };
            let Some(last) = page.last() else { break };
            after = (last.idle_since, last.id.0);
            // Most idle accounts administer nothing: they cannot leave a practice without an
            // administrator, so a page of them is deactivated in one transaction. Each
            // administrator has their own, with their practices locked.
            let (admins, plain): (Vec<&IdleCandidate>, Vec<&IdleCandidate>) =
                page.iter().partition(|c| administered.iter().any(|(u, _)| *u == c.id));
            let mut tx = self.db.begin().await?;
            let mut done = Vec::with_capacity(plain.len());
            for c in plain {
                if self.deactivate_one(&mut tx, plan, c, now).await? {
                    done.push(c.id);
                }
            }
            gatehouse_store::commit(tx).await?;
            for c in admins {
                let mut theirs: Vec<i64> = administered.iter().filter(|(u, _)| *u == c.id).map(|(_, p)| *p).collect();
                theirs.sort_unstable();
                theirs.dedup();
                let mut tx = self.db.begin().await?;
                for p in &theirs {
                    practices::lock(&mut tx, *p).await?;
                }
                if !self.deactivate_one(&mut tx, plan, c, now).await? {
                    continue;
                }
                let mut keeps = true;
                for p in &theirs {
                    keeps &= has_active_admin_or_no_users(&mut tx, *p).await?;
                }
                if keeps {
                    gatehouse_store::commit(tx).await?;
                    done.push(c.id);
                } else {
                    // Dropped: rolled back.
                    report.kept_last_admin += 1;
                }
            }
            report.deactivated += done.len() as u64;
            for u in done {
                self.access_changed(plan.id(), Some(u)).await;
            }
            if (page.len() as i64) < PAGE {
                break;
            }
        }
        Ok(())
    }

    /// Deactivates one account in `tx`: its sessions end, its affiliations stay (a reactivation
    /// restores them), the permission index is told, the audit log says why. False when the
    /// account no longer qualifies.
    async fn deactivate_one(
        &self,
        tx: &mut gatehouse_store::Conn,
        plan: &Plan,
        c: &IdleCandidate,
        now: Timestamp,
    ) -> Result<bool, Internal> {
        if !store::deactivate(tx, plan.id(), c.id, c.idle_since, now.as_secs()).await? {
            return Ok(false);
        }
        let ended = crate::sessions::end_everything(tx, c.id, now.as_secs()).await?;
        changed(tx, plan.id(), c.id, now.as_secs()).await?;
        let detail = json!({"reason": "inactivity", "idle_since": c.idle_since, "sessions_ended": ended});
        let event = by_system("user.deactivated", c.id).detail(detail);
        audit::record(tx, now.as_secs(), plan.id(), &RequestMeta::system(), event).await?;
        Ok(true)
    }
}
