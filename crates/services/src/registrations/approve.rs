//! Approving a registration request. In one transaction: the request is marked approved (only
//! if still pending, so of two staff members deciding at once exactly one wins), the practice is
//! created from the request when its Tax ID is not on the roster, and each administrator gets an
//! administrator affiliation (user type Office Manager, all providers) and the approval email.
//!
//! An email that belongs to no account of the plan gets a new invited account, and the approval
//! email is its invitation: it carries the single-use sign-up link, valid 72 hours. An email that
//! belongs to an active account gets no second account and nothing attached: an account gains a
//! practice only when its person accepts, so it is *offered* the practice's administration
//! (an offer with the registration's id, `crate::offers`), and the approval email says to sign in
//! and accept. (Otherwise anyone could register a practice naming someone else's email and
//! become a co-administrator of that person's only practice, with the power to change their
//! account.) An invited account (not signed up yet) gets the affiliation and a fresh sign-up link
//! in the approval email: signing up through it is the person's acceptance. An email held by a
//! plan staff account stops the approval (`StaffNamed`). Deactivated accounts are left alone.

use super::review::{ReviewError, not_pending};
use super::{message_for, names};
use crate::audit::{self, Event};
use crate::invitations::{InviteRequest, LINK_LIFETIME};
use crate::messages;
use crate::offers::OFFER_LIFETIME;
use crate::plans::Plan;
use crate::staff::StaffGrant;
use crate::tokens::{hash_token, new_token};
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::roster::Zip;
use gatehouse_domain::staff::StaffPermission;
use gatehouse_domain::{Email, PersonName, RegistrationId, TaxId, UserId, UserStatus};
use gatehouse_store::affiliations::{self, NewAffiliation};
use gatehouse_store::offers::{self as offer_store, NewOffer};
use gatehouse_store::registrations::{self as store, AdminRow, RegistrationRow, Status};
use gatehouse_store::roster::{self, practices};
use gatehouse_store::{Conn, invitations, users};
use serde_json::json;

/// The user type of an approved administrator's affiliation.
pub const ADMIN_USER_TYPE: &str = "office_manager";

/// One administrator of an approved request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovedAdmin {
    pub user_id: UserId,
    pub email: String,
    /// Whether they must still sign up (the email carries a sign-up link).
    pub new_account: bool,
    /// An existing account, offered the practice's administration (nothing attached yet).
    pub offered: bool,
    /// The link in their email (sign-up, or sign-in for an existing account).
    pub link: String,
}

/// What an approval did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approved {
    pub practice_id: i64,
    /// The Tax ID was not on the roster, so the practice was created from the request.
    pub practice_created: bool,
    /// Primary, then secondary.
    pub admins: Vec<ApprovedAdmin>,
}

fn corrupt(what: &str) -> ReviewError {
    ReviewError::Internal(Internal::Other(format!("stored registration has an invalid {what}")))
}

/// What one administrator's part of the approval needs.
struct Ctx<'a> {
    plan: &'a Plan,
    request: &'a RegistrationRow,
    names: &'a [String; 2],
    practice_id: i64,
    by: Option<(UserId, &'a str)>,
    meta: &'a RequestMeta,
    now: i64,
}

impl Services {
    /// Approves a pending request (see the module documentation).
    pub async fn approve_registration(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        id: RegistrationId,
        meta: &RequestMeta,
    ) -> Result<Approved, ReviewError> {
        let id = id.0;
        grant.require(plan.id(), StaffPermission::Registrations)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if !store::decide(&mut tx, plan.id(), id, Status::Approved, grant.actor(), None, now).await? {
            return Err(not_pending(&mut tx, plan.id(), id).await);
        }
        let r = store::get(&mut tx, plan.id(), id).await?.ok_or(ReviewError::NotFound)?;
        let (practice_id, practice_created) = practice_for(&mut tx, plan, &r, now).await?;
        store::set_practice(&mut tx, id, practice_id).await?;
        let actor = match grant.actor() {
            Some(a) => {
                users::get(&mut tx, plan.id(), a).await?.map(|u| (a, format!("{} {}", u.first_name, u.last_name)))
            }
            None => None,
        };
        let names = names(&r);
        let ctx = Ctx {
            plan,
            request: &r,
            names: &names,
            practice_id,
            by: actor.as_ref().map(|(a, n)| (*a, n.as_str())),
            meta,
            now,
        };
        let mut admins = Vec::with_capacity(2);
        for to in [&r.primary, &r.secondary] {
            admins.push(self.approve_admin(&mut tx, &ctx, to).await?);
        }
        let mut event = grant.event("registration.approved").detail(json!({
            "registration_id": id,
            "tax_id": r.tax_id,
            "practice_id": practice_id,
            "practice_created": practice_created,
            "administrators": admins.iter().map(|a| json!({
                "user_id": a.user_id.0, "email": a.email, "new_account": a.new_account, "offered": a.offered,
            })).collect::<Vec<_>>(),
        }));
        if let Some(first) = admins.first() {
            event = event.on(first.user_id);
        }
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        for a in &admins {
            gatehouse_store::access_changes::record(&mut tx, plan.id(), Some(a.user_id), now).await?;
        }
        gatehouse_store::commit(tx).await?;
        for a in &admins {
            self.access_changed(plan.id(), Some(a.user_id)).await;
        }
        Ok(Approved { practice_id, practice_created, admins })
    }

    /// Affiliates one administrator (existing account or a new invited one) and emails them.
    async fn approve_admin(&self, tx: &mut Conn, c: &Ctx<'_>, to: &AdminRow) -> Result<ApprovedAdmin, ReviewError> {
        let plan = c.plan;
        let hours = LINK_LIFETIME.as_secs() / 3600;
        let message = message_for(plan, c.request, c.names, to);
        let same_email = users::by_email(tx, plan.id(), &to.email.to_lowercase()).await?;
        if same_email.iter().any(|u| u.status != UserStatus::Deactivated && u.staff_role.is_some()) {
            return Err(ReviewError::StaffNamed(to.email.clone()));
        }
        let Some(user) = crate::invitations::account_for_address(&same_email) else {
            let req = InviteRequest {
                name: PersonName::parse(&to.first_name, &to.last_name).map_err(|_| corrupt("name"))?,
                email: Email::parse(&to.email).map_err(|_| corrupt("email"))?,
            };
            let invited = self
                .invite_in_with(tx, plan, c.by, &req, c.meta, |link| message.approved(&to.email, link, true, hours))
                .await?;
            affiliate(tx, plan, invited.user_id, c.practice_id, c.now).await?;
            return Ok(ApprovedAdmin {
                user_id: invited.user_id,
                email: to.email.clone(),
                new_account: true,
                offered: false,
                link: invited.link,
            });
        };
        if user.status == UserStatus::Active {
            return self.offer_administration(tx, c, to, user.id).await;
        }
        affiliate(tx, plan, user.id, c.practice_id, c.now).await?;
        let new_account = user.status == UserStatus::Invited;
        let link = if new_account {
            let token = new_token();
            let expires = c.now + LINK_LIFETIME.as_secs();
            invitations::insert(tx, plan.id(), user.id, c.by.map(|b| b.0), &hash_token(&token), c.now, expires).await?;
            let mut e =
                Event::new("user.invited").on(user.id).detail(json!({"email": to.email, "existing_account": true}));
            if let Some((a, _)) = c.by {
                e = e.by(a);
            }
            audit::record(tx, c.now, plan.id(), c.meta, e).await?;
            self.signup_link(plan, &token)
        } else {
            format!("{}/signin", self.plan_url(plan))
        };
        let msg = message.approved(&to.email, &link, new_account, hours)?;
        messages::enqueue(tx, plan.id(), &msg, c.now).await?;
        Ok(ApprovedAdmin { user_id: user.id, email: to.email.clone(), new_account, offered: false, link })
    }

    /// Offers the practice's administration to an existing active account named in the request
    /// (replacing any offer of the practice still waiting for them), emails them to sign in and
    /// accept, and audits the offer.
    async fn offer_administration(
        &self,
        tx: &mut Conn,
        c: &Ctx<'_>,
        to: &AdminRow,
        user: UserId,
    ) -> Result<ApprovedAdmin, ReviewError> {
        let (by, _) = c.by.ok_or(ReviewError::NoApprover)?;
        let expires_at = c.now + OFFER_LIFETIME.as_secs();
        offer_store::expire_stale(tx, user, c.practice_id, c.now).await?;
        offer_store::cancel_pending(tx, user, c.practice_id, c.now).await?;
        let new = NewOffer {
            plan_id: c.plan.id(),
            user_id: user,
            practice_id: c.practice_id,
            user_type: ADMIN_USER_TYPE,
            all_providers: true,
            offered_by: by,
            registration_id: Some(c.request.id),
            sent_to: &to.email,
        };
        let id = offer_store::insert(tx, &new, &[], c.now, expires_at)
            .await?
            .ok_or_else(|| Internal::Other("an offer of this practice is still pending".into()))?;
        let link = format!("{}/offers", self.plan_url(c.plan));
        let hours = LINK_LIFETIME.as_secs() / 3600;
        let msg = message_for(c.plan, c.request, c.names, to).approved(&to.email, &link, false, hours)?;
        messages::enqueue(tx, c.plan.id(), &msg, c.now).await?;
        let e = Event::new("offer.made").by(by).on(user).detail(json!({
            "offers": [id.0],
            "email": to.email,
            "tax_ids": [c.request.tax_id],
            "user_type": ADMIN_USER_TYPE,
            "administrator": true,
            "registration_id": c.request.id,
            "expires_at": expires_at,
        }));
        audit::record(tx, c.now, c.plan.id(), c.meta, e).await?;
        Ok(ApprovedAdmin { user_id: user, email: to.email.clone(), new_account: false, offered: true, link })
    }
}

/// Gives `user` an administrator affiliation with the practice (or makes theirs one).
async fn affiliate(tx: &mut Conn, plan: &Plan, user: UserId, practice_id: i64, now: i64) -> Result<(), ReviewError> {
    let a = NewAffiliation {
        plan_id: plan.id(),
        user_id: user,
        practice_id,
        user_type: ADMIN_USER_TYPE,
        is_admin: true,
        all_providers: true,
    };
    if !affiliations::insert(tx, &a, now).await? {
        affiliations::make_admin(tx, plan.id(), user, practice_id).await?;
    }
    Ok(())
}

/// The practice of the request's Tax ID, created from the request if the roster lacks it.
async fn practice_for(tx: &mut Conn, plan: &Plan, r: &RegistrationRow, now: i64) -> Result<(i64, bool), ReviewError> {
    if let Some(p) = practices::by_tax_id(tx, plan.id(), &r.tax_id).await? {
        return Ok((p.id, false));
    }
    let tax_id = TaxId::parse(&r.tax_id).map_err(|_| corrupt("Tax ID"))?;
    let zip = Zip::parse(&r.zip).map_err(|_| corrupt("ZIP code"))?;
    let id = roster::insert_practice(
        tx,
        &roster::NewPractice {
            plan_id: plan.id(),
            tax_id: &tax_id,
            name: &r.practice_name,
            address1: &r.address1,
            address2: &r.address2,
            city: &r.city,
            state: &r.state,
            zip: &zip,
            phone: &r.phone,
        },
        now,
    )
    .await?;
    Ok((id, true))
}
