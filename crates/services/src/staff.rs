//! Authorization of plan staff. A [`StaffGrant`] is the proof that its holder may act on the
//! control panel of one plan in one role; it can only be made here, after the check, so a service
//! function that takes a grant cannot be called without one.

use crate::audit::{self, Event};
use crate::invitations::{InviteError, InviteRequest, Invited};
use crate::plans::Plan;
use crate::sessions::SessionInfo;
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::audit::Outcome;
use gatehouse_domain::session::SessionStage;
use gatehouse_domain::staff::{Rank, StaffPermission, StaffRole};
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
    /// A failure to read the account is logged and refuses (nobody is let in on an error).
    pub async fn staff_grant(&self, plan: &Plan, session: Option<&SessionInfo>) -> Result<StaffGrant, Denied> {
        self.read_staff_grant(plan, session).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "a staff grant could not be read");
            Err(Denied::NotPermitted)
        })
    }

    /// The staff grant for a request to the control panel or a staff API. A signed-in person who
    /// is not the plan's staff is refused, and the refusal is audited (`admin.access_denied`), by
    /// page and API alike; a failure to read the account refuses without a record, since nobody
    /// was judged. (Staff refused one section by their role are audited by the control panel's
    /// `Staff::require`; over the API, the command's own refusal is not yet recorded.)
    pub async fn staff_access(
        &self,
        plan: &Plan,
        session: Option<&SessionInfo>,
        meta: &RequestMeta,
    ) -> Result<StaffGrant, Denied> {
        match self.read_staff_grant(plan, session).await {
            Ok(Err(Denied::NotPermitted)) => {
                if let Err(e) = self.audit_denied(plan, session, "admin.access_denied", meta).await {
                    tracing::warn!(error = %e, "a refused staff request could not be audited");
                }
                Err(Denied::NotPermitted)
            }
            Ok(answer) => answer,
            Err(e) => {
                tracing::error!(error = %e, "a staff grant could not be read");
                Err(Denied::NotPermitted)
            }
        }
    }

    /// The grant, the refusal, or the failure to read the account.
    async fn read_staff_grant(
        &self,
        plan: &Plan,
        session: Option<&SessionInfo>,
    ) -> Result<Result<StaffGrant, Denied>, Internal> {
        let Some(s) = session.filter(|s| s.stage == SessionStage::Complete) else {
            return Ok(Err(Denied::NotSignedIn));
        };
        if s.plan_id != plan.id() {
            return Ok(Err(Denied::NotPermitted));
        }
        let mut conn = self.db.acquire().await?;
        let user = users::get(&mut conn, plan.id(), s.user_id).await?;
        let staff = user.filter(|u| u.status == gatehouse_domain::UserStatus::Active).and_then(|u| {
            let role = u.staff_role.as_deref().and_then(StaffRole::parse)?;
            Some(StaffGrant { plan_id: plan.id(), actor: Some(u.id), role })
        });
        Ok(staff.ok_or(Denied::NotPermitted))
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

/// The rank of an account: its staff role, else whether it administers any practice.
pub(crate) async fn rank_of(conn: &mut gatehouse_store::Conn, user: &users::UserRow) -> Result<Rank, Internal> {
    let role = user.staff_role.as_deref().and_then(StaffRole::parse);
    if role.is_some() {
        return Ok(Rank::of_account(role, false));
    }
    let admin = gatehouse_store::affiliations::of_user(conn, user.id).await?.iter().any(|a| a.is_admin);
    Ok(Rank::of_account(None, admin))
}

/// A member of the plan's staff, for the staff page.
#[derive(Debug, Clone)]
pub struct StaffMember {
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    pub username: Option<String>,
    pub role: StaffRole,
    pub status: gatehouse_domain::UserStatus,
    pub last_signin_at: Option<i64>,
}

/// Why a staff change was refused.
#[derive(Debug, Error)]
pub enum StaffError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Invite(#[from] InviteError),
    #[error("{0} already has a staff account.")]
    AlreadyStaff(String),
    #[error("That staff member was not found.")]
    NotFound,
    #[error("The plan must keep at least one active plan administrator.")]
    LastPlanAdmin,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for StaffError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl Services {
    /// Invites a person to join the plan's staff in `role`; they sign up like everyone else.
    pub async fn invite_staff(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        req: &InviteRequest,
        role: StaffRole,
        meta: &RequestMeta,
    ) -> Result<Invited, StaffError> {
        grant.require(plan.id(), StaffPermission::ManageStaff)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let same_email = users::by_email(&mut tx, plan.id(), &req.email.normalized()).await?;
        if same_email.iter().any(|u| u.staff_role.is_some() && u.status != gatehouse_domain::UserStatus::Deactivated) {
            return Err(StaffError::AlreadyStaff(req.email.to_string()));
        }
        let inviter = match grant.actor() {
            Some(a) => {
                users::get(&mut tx, plan.id(), a).await?.map(|u| (a, format!("{} {}", u.first_name, u.last_name)))
            }
            None => None,
        };
        let invited =
            self.invite_in(&mut tx, plan, inviter.as_ref().map(|(id, n)| (*id, n.as_str())), req, meta).await?;
        users::set_staff_role(&mut tx, plan.id(), invited.user_id, Some(role.as_str()), now).await?;
        audit::record(
            &mut tx,
            now,
            plan.id(),
            meta,
            grant
                .event("staff.invited")
                .on(invited.user_id)
                .detail(json!({"role": role.as_str(), "email": req.email.as_str()})),
        )
        .await?;
        gatehouse_store::commit(tx).await?;
        Ok(invited)
    }

    /// The plan's staff.
    pub async fn list_staff(&self, grant: &StaffGrant, plan: &Plan) -> Result<Vec<StaffMember>, StaffError> {
        grant.require(plan.id(), StaffPermission::ManageStaff)?;
        let mut conn = self.db.acquire().await?;
        Ok(users::list_staff(&mut conn, plan.id())
            .await?
            .into_iter()
            .filter_map(|u| {
                let role = u.staff_role.as_deref().and_then(StaffRole::parse)?;
                Some(StaffMember {
                    user_id: u.id,
                    name: format!("{} {}", u.first_name, u.last_name),
                    email: u.email,
                    username: u.username,
                    role,
                    status: u.status,
                    last_signin_at: u.last_signin_at,
                })
            })
            .collect())
    }

    /// Takes a staff role away (the account stays, without control-panel access). The last
    /// active plan administrator cannot be removed.
    pub async fn remove_staff(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        user: UserId,
        meta: &RequestMeta,
    ) -> Result<(), StaffError> {
        grant.require(plan.id(), StaffPermission::ManageStaff)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        gatehouse_store::plans::lock(&mut tx, plan.id()).await?;
        let u = users::get(&mut tx, plan.id(), user).await?.ok_or(StaffError::NotFound)?;
        let role = u.staff_role.as_deref().and_then(StaffRole::parse).ok_or(StaffError::NotFound)?;
        if role == StaffRole::PlanAdmin
            && users::count_active_staff_role(&mut tx, plan.id(), role.as_str(), user).await? == 0
        {
            return Err(StaffError::LastPlanAdmin);
        }
        users::set_staff_role(&mut tx, plan.id(), user, None, now).await?;
        audit::record(
            &mut tx,
            now,
            plan.id(),
            meta,
            grant.event("staff.removed").on(user).detail(json!({"role": role.as_str()})),
        )
        .await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }
}
