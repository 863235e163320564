//! The administrator's side of access requests: the pending requests for the practices they
//! administer, approval (choosing the user type and the providers, all or a list) and decline.
//! Either way the requester is emailed. Of two administrators deciding at once, exactly one wins.

use crate::affiliations::{self, AffiliationError, require_admin};
use crate::audit::{self, Event};
use crate::messages::{self, access::AccessV1};
use crate::plans::Plan;
use crate::practice::PracticeGrant;
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::permissions::UserTypeKey;
use gatehouse_domain::{AccessRequestId, PracticeId, ProviderRowId};
use gatehouse_store::access_requests::{self as store, AccessRequestRow, Status};
use gatehouse_store::affiliations::{self as aff_store, NewAffiliation};
use gatehouse_store::roster::practices::{self, ProviderBrief};
use gatehouse_store::user_types::{self, UserTypeRow};
use gatehouse_store::{Conn, users};
use serde_json::json;
use thiserror::Error;

/// Most providers a practice's approval form lists.
pub const PROVIDERS_LISTED: i64 = 500;

/// Why a decision was refused.
#[derive(Debug, Error)]
pub enum AccessRequestError {
    #[error(transparent)]
    Affiliation(#[from] AffiliationError),
    #[error("That access request was not found.")]
    NotFound,
    #[error("This request was already {0}.")]
    AlreadyDecided(&'static str),
    #[error("Choose a user type.")]
    UserType,
    #[error("Choose at least one provider, or all providers.")]
    NoProviders,
    #[error("Choose only providers of this practice.")]
    ForeignProvider,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for AccessRequestError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// A pending request with what its decision form needs.
#[derive(Debug, Clone)]
pub struct PendingRequest {
    pub request: AccessRequestRow,
    /// The practice's current providers to choose from.
    pub providers: Vec<ProviderBrief>,
}

/// The providers an approval grants.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    #[default]
    All,
    /// Provider row ids of the practice.
    Providers(Vec<ProviderRowId>),
}

/// An approval's choices.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Approval {
    pub user_type: String,
    pub scope: Scope,
    /// Providers named by provider ID (billing number) instead of row id (the API's way); each
    /// must be a current provider of the request's practice. Added to `scope`'s list.
    pub provider_ids: Vec<String>,
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Pending => "pending",
        Status::Approved => "approved",
        Status::Declined => "declined",
    }
}

impl Services {
    /// The pending requests for the practices the user administers, oldest first, and the plan's
    /// user types to choose from.
    pub async fn pending_access_requests(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
    ) -> Result<(Vec<PendingRequest>, Vec<UserTypeRow>), AccessRequestError> {
        let user = grant.actor();
        let mut conn = self.db.acquire().await?;
        let rows = store::pending_for_admin(&mut conn, user).await?;
        let mut out = Vec::with_capacity(rows.len());
        for request in rows.into_iter().filter(|r| r.user_id != user && grant.administers(PracticeId(r.practice_id))) {
            let (providers, _) = practices::providers_of(&mut conn, request.practice_id, PROVIDERS_LISTED).await?;
            out.push(PendingRequest { request, providers });
        }
        Ok((out, user_types::list(&mut conn, plan.id()).await?))
    }

    /// Approves a pending request: the requester gets an affiliation (not administrator) of the
    /// chosen user type and providers, or those are added to the one they have.
    pub async fn approve_access_request(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        id: AccessRequestId,
        approval: &Approval,
        meta: &RequestMeta,
    ) -> Result<(), AccessRequestError> {
        let key = UserTypeKey::parse(approval.user_type.trim()).map_err(|_| AccessRequestError::UserType)?;
        let admin = grant.actor();
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let r = self.decidable(&mut tx, grant, plan, id).await?;
        // Plan staff are never linked to a practice; to a practice administrator their accounts
        // read as not found, as everywhere in User Management (a request sent before they held a
        // staff role may still be declined).
        let requester = users::get(&mut tx, plan.id(), r.user_id).await?;
        if requester.is_none_or(|u| u.staff_role.is_some()) {
            return Err(AccessRequestError::NotFound);
        }
        user_types::get(&mut tx, plan.id(), &key).await?.ok_or(AccessRequestError::UserType)?;
        let (all, listed) = match &approval.scope {
            Scope::All => (true, Vec::new()),
            Scope::Providers(rows) => {
                let mut ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
                if !approval.provider_ids.is_empty() {
                    let (current, _) = practices::providers_of(&mut tx, r.practice_id, i64::MAX).await?;
                    for wanted in &approval.provider_ids {
                        let found = current.iter().find(|p| p.provider_id.eq_ignore_ascii_case(wanted.trim()));
                        ids.push(found.ok_or(AccessRequestError::ForeignProvider)?.id);
                    }
                }
                ids.sort_unstable();
                ids.dedup();
                if ids.is_empty() {
                    return Err(AccessRequestError::NoProviders);
                }
                let found = practices::current_providers_among(&mut tx, r.practice_id, &ids).await?;
                if found.len() != ids.len() {
                    return Err(AccessRequestError::ForeignProvider);
                }
                (false, found)
            }
        };
        let id = id.0;
        if !store::decide(&mut tx, id, Status::Approved, admin, Some(key.as_str()), now).await? {
            return Err(AccessRequestError::AlreadyDecided("decided"));
        }
        let affiliation = match aff_store::of_user_at(&mut tx, r.user_id, r.practice_id).await? {
            Some(e) => {
                let mut ids = if e.all_providers || all {
                    Vec::new()
                } else {
                    aff_store::providers_of(&mut tx, e.id).await?.iter().map(|p| p.0).collect()
                };
                ids.extend(listed.iter().copied());
                aff_store::set_scope(&mut tx, e.id, all || e.all_providers, &ids).await?;
                aff_store::set_user_type(&mut tx, e.id, key.as_str()).await?;
                e.id
            }
            None => {
                let new = NewAffiliation {
                    plan_id: plan.id(),
                    user_id: r.user_id,
                    practice_id: r.practice_id,
                    user_type: key.as_str(),
                    is_admin: false,
                    all_providers: all,
                };
                aff_store::insert(&mut tx, &new, now).await?;
                let row = aff_store::of_user_at(&mut tx, r.user_id, r.practice_id)
                    .await?
                    .ok_or_else(|| Internal::Other("affiliation vanished".into()))?;
                aff_store::set_scope(&mut tx, row.id, all, &listed).await?;
                row.id
            }
        };
        self.notify_requester(&mut tx, plan, &r, true, now).await?;
        let event = Event::new("access.approved").by(admin).on(r.user_id).detail(json!({
            "request": id,
            "affiliation": affiliation,
            "tax_id": r.tax_id,
            "user_type": key.as_str(),
            "all_providers": all,
            "provider_rows": listed,
        }));
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        affiliations::changed(&mut tx, plan.id(), r.user_id, now).await?;
        gatehouse_store::commit(tx).await?;
        self.access_changed(plan.id(), Some(r.user_id)).await;
        Ok(())
    }

    /// Declines a pending request; the requester is emailed.
    pub async fn decline_access_request(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        id: AccessRequestId,
        meta: &RequestMeta,
    ) -> Result<(), AccessRequestError> {
        let admin = grant.actor();
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let r = self.decidable(&mut tx, grant, plan, id).await?;
        let id = id.0;
        if !store::decide(&mut tx, id, Status::Declined, admin, None, now).await? {
            return Err(AccessRequestError::AlreadyDecided("decided"));
        }
        self.notify_requester(&mut tx, plan, &r, false, now).await?;
        let event =
            Event::new("access.declined").by(admin).on(r.user_id).detail(json!({"request": id, "tax_id": r.tax_id}));
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }

    /// The request, if the grant's holder administers its practice (checked again with the
    /// practice locked) and it is still pending.
    async fn decidable(
        &self,
        tx: &mut Conn,
        grant: &PracticeGrant,
        plan: &Plan,
        id: AccessRequestId,
    ) -> Result<AccessRequestRow, AccessRequestError> {
        let admin = grant.actor();
        let r = store::get(tx, plan.id(), id.0).await?.ok_or(AccessRequestError::NotFound)?;
        // Another practice's request is "not found", not "forbidden": its existence is not shown.
        if !grant.administers(PracticeId(r.practice_id)) {
            return Err(AccessRequestError::NotFound);
        }
        practices::lock(tx, r.practice_id).await?;
        require_admin(tx, admin, r.practice_id).await.map_err(|e| match e {
            AffiliationError::NotAdmin => AccessRequestError::NotFound,
            other => other.into(),
        })?;
        if r.status != Status::Pending {
            return Err(AccessRequestError::AlreadyDecided(status_word(r.status)));
        }
        if r.user_id == admin {
            return Err(AccessRequestError::NotFound);
        }
        Ok(r)
    }

    async fn notify_requester(
        &self,
        tx: &mut Conn,
        plan: &Plan,
        r: &AccessRequestRow,
        approved: bool,
        now: i64,
    ) -> Result<(), AccessRequestError> {
        let Some(u) = users::get(tx, plan.id(), r.user_id).await? else { return Ok(()) };
        let requester = format!("{} {}", u.first_name, u.last_name);
        let link = format!("{}/signin", self.plan_url(plan));
        let m = AccessV1 {
            first_name: &u.first_name,
            plan_name: &plan.row.name,
            practice_name: &r.practice_name,
            requester_name: &requester,
            link: &link,
            support_phone: &plan.row.support_phone,
            support_hours: &plan.row.support_hours,
        };
        let msg = if approved { m.approved(&u.email)? } else { m.declined(&u.email)? };
        messages::enqueue(tx, plan.id(), &msg, now).await?;
        Ok(())
    }
}
