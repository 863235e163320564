//! The daily job (issue 17): once a day per plan (the plan's local day), for every plan, the
//! steps in [`STEPS`]. Several instances may try it at once: a lease in the database
//! (`job_leases`, see `gatehouse_store::jobs`) lets one run it while the others skip. Every step
//! is idempotent by itself, so a forced re-run, or a run that took over an expired lease, changes
//! nothing that is already done.
//!
//! **Adding a step**: add a variant to [`DailyStep`] and to
//! [`STEPS`], a field for its report to [`DailyReport`], and its arm to `run_step`. A step takes
//! the plan and the job's `now`, opens its own (small) transactions, and must be safe to run
//! twice on the same day.

use crate::access_review::ReminderReport;
use crate::idle::IdleReport;
use crate::plans::Plan;
use crate::{Internal, Services};
use gatehouse_domain::{Duration, Timestamp};
use gatehouse_store::{jobs, plans};
use std::sync::LazyLock;

/// The lease of the daily job.
pub const DAILY: &str = "daily";
/// How long a lease lasts unless renewed (it is renewed before each plan): an instance that
/// dies mid-run holds the job up at most this long.
pub const LEASE: Duration = Duration::minutes(15);

/// This process, as lease holders are named (a random number, for the logs of several instances).
static INSTANCE: LazyLock<u64> = LazyLock::new(crate::tokens::random_u64);

/// One step of the daily job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DailyStep {
    /// Warn, then deactivate, portal accounts without a sign-in (see [`crate::idle`]).
    IdleAccounts,
    /// Open the access reviews that are due and send their reminders (see
    /// [`crate::access_review`]).
    ReviewReminders,
    /// Rotate OpenID Connect signing keys that have signed for 90 days and delete those whose
    /// tokens have all expired (see [`crate::oidc`]).
    OidcKeys,
}

/// The steps, in the order they run for each plan.
pub const STEPS: &[DailyStep] = &[DailyStep::IdleAccounts, DailyStep::ReviewReminders, DailyStep::OidcKeys];

/// Which plans a run covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DailyRun {
    /// The plans that have not had their run today (their local day): what the server's loop
    /// and `gatehouse jobs run-daily` do.
    Due,
    /// Every plan, even those that ran today (`gatehouse jobs run-daily --force`).
    Forced,
}

/// What a call of the daily job did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DailyReport {
    /// False when another run held the lease: this call did nothing.
    pub ran: bool,
    /// Plans whose steps ran.
    pub plans_run: u64,
    /// Plans skipped because they already ran on their local day.
    pub plans_already_run: u64,
    /// [`DailyStep::IdleAccounts`], over the plans run.
    pub idle: IdleReport,
    /// [`DailyStep::ReviewReminders`], over the plans run.
    pub reviews: ReminderReport,
    /// [`DailyStep::OidcKeys`]: new signing keys published, over the plans run.
    pub oidc_keys_rotated: u64,
    /// [`DailyStep::OidcKeys`]: retired signing keys deleted, over the plans run.
    pub oidc_keys_deleted: u64,
}

impl Services {
    /// Runs the daily job for the plans due at `now`, unless another run holds the lease.
    pub async fn run_daily_job(&self, now: Timestamp) -> Result<DailyReport, Internal> {
        self.run_daily_job_for(now, DailyRun::Due).await
    }

    /// Runs the daily job for the plans `which` says, unless another run holds the lease.
    pub async fn run_daily_job_for(&self, now: Timestamp, which: DailyRun) -> Result<DailyReport, Internal> {
        // A holder per call: two calls in one process exclude each other like two instances.
        let holder = format!("{:016x}-{:016x}", *INSTANCE, crate::tokens::random_u64());
        {
            let mut conn = self.db.acquire().await?;
            if !jobs::acquire(&mut conn, DAILY, &holder, now.as_secs(), now.plus(LEASE).as_secs()).await? {
                tracing::debug!("the daily job is running elsewhere");
                return Ok(DailyReport::default());
            }
        }
        let result = self.run_plans(now, which, &holder).await;
        let mut conn = self.db.acquire().await?;
        jobs::release(&mut conn, DAILY, &holder).await?;
        result
    }

    async fn run_plans(&self, now: Timestamp, which: DailyRun, holder: &str) -> Result<DailyReport, Internal> {
        let mut report = DailyReport { ran: true, ..DailyReport::default() };
        let list = {
            let mut conn = self.db.acquire().await?;
            plans::list(&mut conn).await?
        };
        for row in list {
            let plan = Plan { row };
            let key = format!("{DAILY}:plan:{}", plan.id().0);
            let today = now.iso_day(&plan.row.time_zone);
            {
                let mut conn = self.db.acquire().await?;
                if which == DailyRun::Due && jobs::last_run_on(&mut conn, &key).await?.as_deref() == Some(&today) {
                    report.plans_already_run += 1;
                    continue;
                }
                let at = Timestamp(self.now().max(now.as_secs()));
                if !jobs::acquire(&mut conn, DAILY, holder, at.as_secs(), at.plus(LEASE).as_secs()).await? {
                    return Err(Internal::Other("the daily job's lease ran out and another run took it".into()));
                }
            }
            for step in STEPS {
                self.run_step(*step, &plan, now, &mut report).await?;
            }
            let mut conn = self.db.acquire().await?;
            jobs::set_last_run_on(&mut conn, &key, &today).await?;
            report.plans_run += 1;
        }
        Ok(report)
    }

    async fn run_step(
        &self,
        step: DailyStep,
        plan: &Plan,
        now: Timestamp,
        report: &mut DailyReport,
    ) -> Result<(), Internal> {
        match step {
            DailyStep::IdleAccounts => report.idle += self.idle_accounts_step(plan, now).await?,
            DailyStep::ReviewReminders => report.reviews += self.review_reminders(plan, now.0).await?,
            DailyStep::OidcKeys => {
                let r = self.oidc_keys_step(plan, now).await?;
                report.oidc_keys_rotated += r.published();
                report.oidc_keys_deleted += r.deleted.len() as u64;
            }
        }
        Ok(())
    }

    /// The server's loop: tries the daily job every `every` (the first try at once), reading the
    /// injected clock; each plan runs once on its local day, whichever instance gets the lease.
    pub async fn run_daily_jobs(self, every: std::time::Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.run_daily_job(self.clock.now()).await {
                Ok(r) if r.ran && r.plans_run > 0 => tracing::info!(
                    plans = r.plans_run,
                    warned = r.idle.warned,
                    deactivated = r.idle.deactivated,
                    kept_last_admin = r.idle.kept_last_admin,
                    "daily job done"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "the daily job failed; it is tried again at the next interval"),
            }
        }
    }
}
