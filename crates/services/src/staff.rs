//! Authorization of plan staff. A [`StaffGrant`] is the proof that its holder may act on the
//! control panel of one plan in one role; it can only be made here, after the check, so a service
//! function that takes a grant cannot be called without one.

use crate::audit::{self, Event};
use crate::plans::Plan;
use crate::sessions::SessionInfo;
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::audit::Outcome;
use gatehouse_domain::session::SessionStage;
use gatehouse_domain::staff::{StaffPermission, StaffRole};
use gatehouse_domain::{PlanId, UserId};
use gatehouse_store::users;
use serde_json::json;
use thiserror::Error;

/// Proof that an actor holds a staff role in a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffGrant {
    plan_id: PlanId,
    actor: Option<UserId>,
    role: StaffRole,
}

/// Why a staff action was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Denied {
    #[error("Sign in first.")]
    NotSignedIn,
    #[error("You do not have access to this part of the control panel.")]
    NotPermitted,
}

impl StaffGrant {
    /// The plan the grant is for.
    pub fn plan_id(&self) -> PlanId {
        self.plan_id
    }
    /// Who acts (`None` for the operator at the command line).
    pub fn actor(&self) -> Option<UserId> {
        self.actor
    }
    /// The role held.
    pub fn role(&self) -> StaffRole {
        self.role
    }
    /// Whether the role allows `p`.
    pub fn may(&self, p: StaffPermission) -> bool {
        self.role.may(p)
    }
    /// Checks a permission and the plan; use at the top of every staff service function.
    pub fn require(&self, plan: PlanId, p: StaffPermission) -> Result<(), Denied> {
        if self.plan_id == plan && self.role.may(p) { Ok(()) } else { Err(Denied::NotPermitted) }
    }
    /// An audit event acted by this grant's holder.
    pub fn event(&self, action: &'static str) -> Event {
        match self.actor {
            Some(a) => Event::new(action).by(a),
            None => Event::new(action).detail(json!({"actor": "cli"})),
        }
    }
}

impl Services {
    /// The staff grant of a fully signed-in session, if its user holds a staff role in this plan.
    pub async fn staff_grant(&self, plan: &Plan, session: Option<&SessionInfo>) -> Result<StaffGrant, Denied> {
        let s = session.filter(|s| s.stage == SessionStage::Complete).ok_or(Denied::NotSignedIn)?;
        if s.plan_id != plan.id() {
            return Err(Denied::NotPermitted);
        }
        let mut conn = self.db.acquire().await.map_err(|_| Denied::NotPermitted)?;
        let user = users::get(&mut conn, plan.id(), s.user_id).await.ok().flatten().ok_or(Denied::NotPermitted)?;
        let role = user.staff_role.as_deref().and_then(StaffRole::parse).ok_or(Denied::NotPermitted)?;
        if user.status != gatehouse_domain::UserStatus::Active {
            return Err(Denied::NotPermitted);
        }
        Ok(StaffGrant { plan_id: plan.id(), actor: Some(user.id), role })
    }

    /// The operator's grant for command-line tools (`gatehouse roster import`, `staff invite`):
    /// whoever can run the binary against the database is the plan's administrator.
    pub fn operator_grant(&self, plan: &Plan) -> StaffGrant {
        StaffGrant { plan_id: plan.id(), actor: None, role: StaffRole::PlanAdmin }
    }

    /// Records a refused staff action in the audit log.
    pub async fn audit_denied(
        &self,
        plan: &Plan,
        session: Option<&SessionInfo>,
        what: &'static str,
        meta: &RequestMeta,
    ) -> Result<(), Internal> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut e = Event::new(what).outcome(Outcome::Denied);
        if let Some(s) = session {
            e = e.by(s.user_id);
        }
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }
}
