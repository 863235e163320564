//! Administrator registration: the public "Provider OnLine Account Request" names a primary and
//! a secondary administrator and the practice (Tax ID); plan staff approve or deny it
//! ([`review`], [`approve`]). The requester is never told anything about the roster: the answer
//! is the same whether the Tax ID is on it or not.
//!
//! A second request for a Tax ID whose request is still pending is refused (not merged): the
//! first stands until it is decided, and provider services can deny it if it must change.
//! Submissions are throttled per client address, counted in the database so every instance
//! shares the count.

pub mod approve;
pub mod review;

pub use gatehouse_store::registrations::{AdminRow, RegistrationRow, Status};

use crate::audit::{self, Event};
use crate::messages::{self, registration::RegistrationV1};
use crate::plans::Plan;
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::lockout::address_key;
use gatehouse_domain::registration::{RegistrationErrors, RegistrationForm, RegistrationRequest};
use gatehouse_domain::{Duration, PlanId};
use gatehouse_store::registrations::{self as store, AdminValues, NewRegistration};
use serde_json::json;
use thiserror::Error;

/// How many requests (accepted, or refused as duplicates) one client address may send per plan
/// in [`THROTTLE_WINDOW`].
pub const MAX_REQUESTS_PER_WINDOW: i64 = 5;
/// The throttle's window.
pub const THROTTLE_WINDOW: Duration = Duration::hours(1);

/// Why a request was not accepted.
#[derive(Debug, Error)]
pub enum RegistrationError {
    /// Fields are missing or wrong; each problem names its field.
    #[error(transparent)]
    Invalid(#[from] RegistrationErrors),
    #[error(
        "Too many requests have been sent from your network in the last hour. Please wait an hour and try again, or call provider services."
    )]
    Throttled,
    #[error(
        "A request for this Tax ID is already waiting for review. We will email the administrators named in it when it is reviewed. If something in it must change, call provider services."
    )]
    DuplicatePending,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for RegistrationError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// An accepted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub id: i64,
    /// Where the "request received" emails went: primary, then secondary.
    pub emails: [String; 2],
}

/// The parts of every registration email that come from the request and the plan.
pub(crate) fn message_for<'a>(
    plan: &'a Plan,
    r: &'a RegistrationRow,
    names: &'a [String; 2],
    to: &'a AdminRow,
) -> RegistrationV1<'a> {
    RegistrationV1 {
        first_name: &to.first_name,
        plan_name: &plan.row.name,
        practice_name: &r.practice_name,
        primary_name: &names[0],
        primary_email: &r.primary.email,
        secondary_name: &names[1],
        secondary_email: &r.secondary.email,
        support_phone: &plan.row.support_phone,
        support_hours: &plan.row.support_hours,
    }
}

/// "First Last" of both administrators of a request.
pub(crate) fn names(r: &RegistrationRow) -> [String; 2] {
    [
        format!("{} {}", r.primary.first_name, r.primary.last_name),
        format!("{} {}", r.secondary.first_name, r.secondary.last_name),
    ]
}

fn new_row<'a>(plan: PlanId, req: &'a RegistrationRequest, fax: &'a str, ip: &'a str) -> NewRegistration<'a> {
    let p = &req.practice;
    let admin = |a: &'a gatehouse_domain::registration::AdminContact| AdminValues {
        first_name: a.name.first(),
        last_name: a.name.last(),
        phone: a.phone.e164(),
        email: a.email.as_str(),
    };
    NewRegistration {
        plan_id: plan,
        tax_id: p.tax_id.as_str(),
        practice_name: &p.name,
        address1: &p.address1,
        address2: &p.address2,
        city: &p.city,
        state: p.state.as_str(),
        zip: p.zip.as_str(),
        phone: p.phone.e164(),
        fax,
        primary: admin(&req.primary),
        secondary: admin(&req.secondary),
        ip,
    }
}

impl Services {
    /// Accepts a request from the public form: checks every field, the throttle and the one
    /// pending request per Tax ID; stores it, audits it and emails both administrators, in one
    /// transaction. Nothing is stored when a field is wrong.
    pub async fn request_registration(
        &self,
        plan: &Plan,
        form: &RegistrationForm,
        meta: &RequestMeta,
    ) -> Result<Received, RegistrationError> {
        let req = form.parse()?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        // One request of a plan at a time: the throttle count and the pending check hold.
        gatehouse_store::plans::lock(&mut tx, plan.id()).await?;
        let since = now - THROTTLE_WINDOW.as_secs();
        // An IPv6 /64 counts as one address, as for the sign-in lockout.
        let address = address_key(&meta.ip);
        if store::attempts_since(&mut tx, plan.id(), &address, since).await? >= MAX_REQUESTS_PER_WINDOW {
            return Err(RegistrationError::Throttled);
        }
        store::record_attempt(&mut tx, plan.id(), &address, now, since).await?;
        let tax_id = req.practice.tax_id.as_str();
        if store::pending_exists(&mut tx, plan.id(), tax_id).await? {
            // The attempt counts, so the form cannot be used to probe Tax IDs without limit.
            gatehouse_store::commit(tx).await?;
            return Err(RegistrationError::DuplicatePending);
        }
        let fax = req.practice.fax.as_ref().map(|f| f.e164().to_owned()).unwrap_or_default();
        let id = match store::insert(&mut tx, &new_row(plan.id(), &req, &fax, &meta.ip), now).await {
            Ok(id) => id,
            Err(e) if e.is_unique_violation() => return Err(RegistrationError::DuplicatePending),
            Err(e) => return Err(e.into()),
        };
        let row =
            store::get(&mut tx, plan.id(), id).await?.ok_or_else(|| Internal::Other("registration vanished".into()))?;
        let names = names(&row);
        for to in [&row.primary, &row.secondary] {
            let msg = message_for(plan, &row, &names, to).received(&to.email)?;
            messages::enqueue(&mut tx, plan.id(), &msg, now).await?;
        }
        let event = Event::new("registration.requested").detail(json!({
            "registration_id": id,
            "tax_id": tax_id,
            "primary_email": row.primary.email,
            "secondary_email": row.secondary.email,
        }));
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        gatehouse_store::commit(tx).await?;
        Ok(Received { id, emails: [row.primary.email.clone(), row.secondary.email.clone()] })
    }
}
