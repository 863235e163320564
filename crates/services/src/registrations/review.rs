//! Plan staff's side of registration: the queue, one request with its Tax ID matched against the
//! roster, and denial with a reason. Approval is in [`super::approve`].

use super::{message_for, names};
use crate::audit;
use crate::invitations::InviteError;
use crate::messages;
use crate::plans::Plan;
use crate::staff::{Denied, StaffGrant};
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::staff::StaffPermission;
use gatehouse_domain::{PlanId, RegistrationId};
use gatehouse_store::affiliations::{self, PracticeAdmin};
use gatehouse_store::registrations::{self as store, RegistrationRow, Status};
use gatehouse_store::roster::practices::{self, PracticeRow, ProviderBrief};
use gatehouse_store::{Conn, StoreError};
use serde_json::json;
use thiserror::Error;

/// Longest denial reason, in characters.
pub const MAX_REASON: usize = 1000;
/// How many of a practice's providers the request's page lists.
const PROVIDERS_SHOWN: i64 = 50;
/// How many decided requests the queue shows.
const RECENT_SHOWN: i64 = 20;

/// Why a review action was refused.
#[derive(Debug, Error)]
pub enum ReviewError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("That registration request was not found.")]
    NotFound,
    #[error("This request was already decided by {by}: it was {outcome}.")]
    AlreadyDecided { by: String, outcome: &'static str },
    #[error("Enter the reason for the denial. It is sent to both administrators named in the request.")]
    ReasonRequired,
    #[error("The reason can be at most {MAX_REASON} characters.")]
    ReasonTooLong,
    /// An administrator named in the request holds a plan staff role: staff are never given a
    /// practice, so the request cannot be approved as it stands.
    #[error(
        "This request names {0}, which belongs to a plan staff account. Staff accounts are never given a practice: deny the request and ask the practice to name someone else."
    )]
    StaffNamed(String),
    /// Approving with offers to existing accounts needs a staff member to name as the offerer.
    #[error("Approve this request from the control panel, signed in as a staff member.")]
    NoApprover,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl ReviewError {
    /// The form field the error belongs beside, if any.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::ReasonRequired | Self::ReasonTooLong => Some("reason"),
            _ => None,
        }
    }
}

impl From<StoreError> for ReviewError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<InviteError> for ReviewError {
    fn from(e: InviteError) -> Self {
        match e {
            InviteError::Internal(i) => Self::Internal(i),
            // The names and emails were checked when the request was accepted.
            other => Self::Internal(Internal::Other(format!("stored registration is invalid: {other}"))),
        }
    }
}

/// The queue: pending requests oldest first, and the latest decisions.
#[derive(Debug, Clone)]
pub struct Queue {
    pub pending: Vec<RegistrationRow>,
    pub recent: Vec<RegistrationRow>,
}

/// The practice a request's Tax ID found on the roster.
#[derive(Debug, Clone)]
pub struct RosterMatch {
    pub practice: PracticeRow,
    /// The first providers by provider ID.
    pub providers: Vec<ProviderBrief>,
    /// How many providers the practice has in all.
    pub provider_count: i64,
}

/// One request as staff review it.
#[derive(Debug, Clone)]
pub struct RegistrationDetail {
    pub request: RegistrationRow,
    /// `None`: the Tax ID is not on the roster (approval creates the practice).
    pub roster: Option<RosterMatch>,
    /// The practice's current administrators (active or invited).
    pub admins: Vec<PracticeAdmin>,
}

/// The error for a request that [`store::decide`] did not change.
pub(crate) async fn not_pending(conn: &mut Conn, plan: PlanId, id: i64) -> ReviewError {
    match store::get(conn, plan, id).await {
        Ok(None) => ReviewError::NotFound,
        Ok(Some(r)) => ReviewError::AlreadyDecided {
            by: r.decided_by_name.unwrap_or_else(|| "another staff member".into()),
            outcome: match r.status {
                Status::Approved => "approved",
                Status::Denied => "denied",
                Status::Pending => "changed",
            },
        },
        Err(e) => e.into(),
    }
}

impl Services {
    /// The registration queue.
    pub async fn registration_queue(&self, grant: &StaffGrant, plan: &Plan) -> Result<Queue, ReviewError> {
        grant.require(plan.id(), StaffPermission::Registrations)?;
        let mut conn = self.db.acquire().await?;
        Ok(Queue {
            pending: store::pending(&mut conn, plan.id(), 500).await?,
            recent: store::recently_decided(&mut conn, plan.id(), RECENT_SHOWN).await?,
        })
    }

    /// One request with its Tax ID matched against the roster and the practice's administrators.
    pub async fn registration(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        id: RegistrationId,
    ) -> Result<RegistrationDetail, ReviewError> {
        let id = id.0;
        grant.require(plan.id(), StaffPermission::Registrations)?;
        let mut conn = self.db.acquire().await?;
        let request = store::get(&mut conn, plan.id(), id).await?.ok_or(ReviewError::NotFound)?;
        let (roster, admins) = match practices::by_tax_id(&mut conn, plan.id(), &request.tax_id).await? {
            Some(practice) => {
                let (providers, provider_count) =
                    practices::providers_of(&mut conn, practice.id, PROVIDERS_SHOWN).await?;
                let admins = affiliations::admins_of(&mut conn, practice.id).await?;
                (Some(RosterMatch { practice, providers, provider_count }), admins)
            }
            None => (None, Vec::new()),
        };
        Ok(RegistrationDetail { request, roster, admins })
    }

    /// Denies a pending request with a reason, emailed to both administrators it names.
    pub async fn deny_registration(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        id: RegistrationId,
        reason: &str,
        meta: &RequestMeta,
    ) -> Result<(), ReviewError> {
        let id = id.0;
        grant.require(plan.id(), StaffPermission::Registrations)?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(ReviewError::ReasonRequired);
        }
        if reason.chars().count() > MAX_REASON {
            return Err(ReviewError::ReasonTooLong);
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if !store::decide(&mut tx, plan.id(), id, Status::Denied, grant.actor(), Some(reason), now).await? {
            return Err(not_pending(&mut tx, plan.id(), id).await);
        }
        let r = store::get(&mut tx, plan.id(), id).await?.ok_or(ReviewError::NotFound)?;
        let names = names(&r);
        for to in [&r.primary, &r.secondary] {
            let msg = message_for(plan, &r, &names, to).denied(&to.email, reason)?;
            messages::enqueue(&mut tx, plan.id(), &msg, now).await?;
        }
        let event = grant.event("registration.denied").detail(json!({
            "registration_id": id,
            "tax_id": r.tax_id,
            "reason": reason,
        }));
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }
}
