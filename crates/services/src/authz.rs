//! The permission check: "may user U do P for provider X / NPI N / Tax ID T", answered from an
//! in-memory index of each plan's affiliations (see [`index`]), loaded at a plan's first check.
//!
//! The index is kept in step with the database in two ways. The service that commits a change
//! calls [`Services::access_changed`] right after the commit, so the change holds at once on
//! that instance; and every instance runs [`Services::run_access_refresher`], which reads the
//! change log (`access_changes`, written in the change's transaction) every
//! [`REFRESH_EVERY`] and reloads what changed (see [`cursor`] for out-of-order commits).
//!
//! Writers of one plan's index (a whole load, a user's reload) take the plan's writer lock and
//! only then read the database, so a reload always sees every change committed before it began;
//! checks take a read lock and never wait for the database.

pub mod cursor;
pub mod index;

use crate::{Internal, Services};
use cursor::{ChangeCursor, GAP_GRACE};
use gatehouse_domain::permissions::{PermissionSet, default_user_types};
use gatehouse_domain::{PlanId, UserId};
use gatehouse_store::access_index::{self, AccessChange};
use gatehouse_store::{applications, user_types};
use index::{Check, Decision, PlanIndex};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How often the refresher reads the change log.
pub const REFRESH_EVERY: Duration = Duration::from_millis(200);
/// Most changes read from the log at a time.
const CHANGES_PER_READ: i64 = 1000;
/// How far below the newest change an instance starts reading, so that changes whose
/// transactions were still open when it started are not missed.
const START_BEHIND: i64 = 256;

/// One plan's index and the lock that serializes its writers.
#[derive(Default)]
struct PlanSlot {
    index: RwLock<Option<PlanIndex>>,
    writer: tokio::sync::Mutex<()>,
}

/// An application as authentication needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CachedApp {
    pub id: i64,
    pub plan_id: PlanId,
    pub name: String,
    /// Empty for a public client.
    pub secret_hash: String,
    /// The OpenID Connect registration.
    pub registration: gatehouse_domain::client_registration::Registration,
}

/// The instance's permission index, application cache and change-log cursor.
pub(crate) struct AccessState {
    plans: RwLock<HashMap<PlanId, Arc<PlanSlot>>>,
    pub(crate) apps: RwLock<HashMap<String, CachedApp>>,
    apps_writer: tokio::sync::Mutex<()>,
    cursor: tokio::sync::Mutex<ChangeCursor>,
}

impl AccessState {
    /// The state at start: applications loaded, no plan index yet.
    pub(crate) async fn load(db: &gatehouse_store::Db) -> Result<AccessState, Internal> {
        let mut conn = db.acquire().await?;
        let last = access_index::last_seq(&mut conn).await?;
        let apps = applications::all_active(&mut conn).await?;
        Ok(AccessState {
            plans: RwLock::default(),
            apps: RwLock::new(apps.into_iter().map(|a| (a.client_id.clone(), cached(a))).collect()),
            apps_writer: tokio::sync::Mutex::default(),
            cursor: tokio::sync::Mutex::new(ChangeCursor::new((last - START_BEHIND).max(0), GAP_GRACE)),
        })
    }

    fn slot(&self, plan: PlanId) -> Option<Arc<PlanSlot>> {
        self.plans.read().ok()?.get(&plan).cloned()
    }

    fn slot_or_new(&self, plan: PlanId) -> Result<Arc<PlanSlot>, Internal> {
        let mut plans = self.plans.write().map_err(|_| poisoned())?;
        Ok(plans.entry(plan).or_default().clone())
    }

    fn forget(&self, plan: PlanId) {
        if let Ok(mut plans) = self.plans.write() {
            plans.remove(&plan);
        }
    }

    /// Runs `f` on the plan's index if it is loaded.
    fn with_index<R>(&self, plan: PlanId, f: impl FnOnce(&PlanIndex) -> R) -> Option<R> {
        let plans = self.plans.read().ok()?;
        let slot = plans.get(&plan)?;
        let index = slot.index.read().ok()?;
        index.as_ref().map(f)
    }
}

fn cached(a: applications::ApplicationRow) -> CachedApp {
    CachedApp { id: a.id, plan_id: a.plan_id, name: a.name, secret_hash: a.secret_hash, registration: a.registration }
}

fn poisoned() -> Internal {
    Internal::Other("permission index lock poisoned".into())
}

impl Services {
    /// Answers checks for users of `plan`, in order. Loads the plan's index on its first check.
    pub async fn check_access(&self, plan: PlanId, checks: &[Check]) -> Result<Vec<Decision>, Internal> {
        let answer = |ix: &PlanIndex| checks.iter().map(|c| ix.check(c)).collect::<Vec<_>>();
        if let Some(d) = self.access.with_index(plan, answer) {
            return Ok(d);
        }
        self.load_access_index(plan).await?;
        self.access.with_index(plan, answer).ok_or_else(|| Internal::Other("permission index not loaded".into()))
    }

    /// Answers one check (see [`Services::check_access`]).
    pub async fn check_one(&self, plan: PlanId, check: &Check) -> Result<Decision, Internal> {
        let mut d = self.check_access(plan, std::slice::from_ref(check)).await?;
        d.pop().ok_or_else(|| Internal::Other("no decision".into()))
    }

    /// Runs `f` on the plan's index, loading it first if needed (benchmarks, diagnostics).
    pub async fn with_access_index<R>(&self, plan: PlanId, f: impl FnOnce(&PlanIndex) -> R) -> Result<R, Internal> {
        if self.access.with_index(plan, |_| ()).is_none() {
            self.load_access_index(plan).await?;
        }
        self.access.with_index(plan, f).ok_or_else(|| Internal::Other("permission index not loaded".into()))
    }

    /// Loads the plan's index unless it is loaded.
    async fn load_access_index(&self, plan: PlanId) -> Result<(), Internal> {
        let slot = self.access.slot_or_new(plan)?;
        let _writer = slot.writer.lock().await;
        if slot.index.read().map_err(|_| poisoned())?.is_some() {
            return Ok(());
        }
        let fresh = self.read_plan_index(plan).await?;
        *slot.index.write().map_err(|_| poisoned())? = Some(fresh);
        Ok(())
    }

    async fn read_plan_index(&self, plan: PlanId) -> Result<PlanIndex, Internal> {
        let started = Instant::now();
        let mut conn = self.db.acquire().await?;
        let rows = access_index::plan(&mut conn, plan).await?;
        let types = user_types::list(&mut conn, plan).await?;
        drop(conn);
        let types: Vec<(String, PermissionSet)> = if types.is_empty() {
            default_user_types().into_iter().map(|t| (t.key.to_owned(), t.permissions)).collect()
        } else {
            types.into_iter().map(|t| (t.key.as_str().to_owned(), t.permissions)).collect()
        };
        let affiliations = rows.affiliations.len();
        // Building a large plan's index takes a while: keep it off the async workers.
        let ix = tokio::task::spawn_blocking(move || PlanIndex::build(rows, types))
            .await
            .map_err(|e| Internal::Other(format!("building the permission index: {e}")))?;
        tracing::debug!(
            plan = plan.0,
            affiliations,
            ms = started.elapsed().as_millis() as u64,
            "permission index loaded"
        );
        Ok(ix)
    }

    /// Reloads the plan's index (if this instance has loaded it) and, for a whole-plan change,
    /// its applications.
    async fn apply_change(&self, plan: PlanId, user: Option<UserId>) -> Result<(), Internal> {
        if user.is_none() {
            self.reload_applications(plan).await?;
        }
        let Some(slot) = self.access.slot(plan) else { return Ok(()) };
        let _writer = slot.writer.lock().await;
        if slot.index.read().map_err(|_| poisoned())?.is_none() {
            return Ok(());
        }
        match user {
            None => {
                let fresh = self.read_plan_index(plan).await?;
                let old = slot.index.write().map_err(|_| poisoned())?.replace(fresh);
                drop(old);
            }
            Some(u) => {
                let mut conn = self.db.acquire().await?;
                let rows = access_index::user(&mut conn, plan, u).await?;
                drop(conn);
                if let Some(ix) = slot.index.write().map_err(|_| poisoned())?.as_mut() {
                    ix.replace_user(u.0, rows);
                }
            }
        }
        Ok(())
    }

    async fn reload_applications(&self, plan: PlanId) -> Result<(), Internal> {
        let _writer = self.access.apps_writer.lock().await;
        let mut conn = self.db.acquire().await?;
        let rows = applications::list(&mut conn, plan).await?;
        drop(conn);
        let mut apps = self.access.apps.write().map_err(|_| poisoned())?;
        apps.retain(|_, a| a.plan_id != plan);
        for a in rows.into_iter().filter(|a| a.revoked_at.is_none()) {
            apps.insert(a.client_id.clone(), cached(a));
        }
        Ok(())
    }

    /// Call right after committing a change to who may do what (an affiliation added, changed
    /// or removed, an administrator flag, a user's status; `user: None` for anything plan-wide:
    /// user types, the roster, applications). The change holds on this instance when this
    /// returns; other instances pick it up from the change log within about a second. The
    /// transaction must have written `gatehouse_store::access_changes::record` too.
    pub async fn access_changed(&self, plan: PlanId, user: Option<UserId>) {
        if let Err(e) = self.apply_change(plan, user).await {
            // The index may be stale: drop it, and the next check loads it afresh.
            tracing::error!(error = %e, plan = plan.0, "permission index reload failed; the plan will be reloaded");
            self.access.forget(plan);
        }
    }

    /// Reads the change log once and applies what this instance has not applied yet. Returns
    /// how many changes were applied.
    pub async fn refresh_access(&self) -> Result<usize, Internal> {
        let mut cursor = self.access.cursor.lock().await;
        let mut conn = self.db.acquire().await?;
        let rows = access_index::changes_after(&mut conn, cursor.watermark(), CHANGES_PER_READ).await?;
        drop(conn);
        let new: Vec<AccessChange> = rows.into_iter().filter(|c| cursor.is_new(c.seq)).collect();
        let whole: BTreeSet<PlanId> = new.iter().filter(|c| c.user_id.is_none()).map(|c| c.plan_id).collect();
        let users: BTreeSet<(PlanId, UserId)> =
            new.iter().filter_map(|c| c.user_id.map(|u| (c.plan_id, u))).filter(|(p, _)| !whole.contains(p)).collect();
        let mut failed = None;
        let changes = whole.iter().map(|p| (*p, None)).chain(users.into_iter().map(|(p, u)| (p, Some(u))));
        for (plan, user) in changes {
            if let Err(e) = self.apply_change(plan, user).await {
                tracing::error!(error = %e, plan = plan.0, "permission index reload failed; the plan will be reloaded");
                self.access.forget(plan);
                failed = Some(e);
            }
        }
        // Nothing is marked applied after a failure: the next read applies the changes again.
        if let Some(e) = failed {
            return Err(e);
        }
        for c in &new {
            cursor.applied(c.seq);
        }
        cursor.advance(Instant::now());
        Ok(new.len())
    }

    /// The refresher: reads the change log every [`REFRESH_EVERY`] until the task is dropped.
    pub async fn run_access_refresher(self) {
        let mut tick = tokio::time::interval(REFRESH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.refresh_access().await {
                tracing::warn!(error = %e, "reading the access change log failed");
            }
        }
    }
}
