//! Affiliation offers, the person's side. An account belongs to its person: when a practice
//! administrator invites an email that already has an account (or adds a Tax ID to its user),
//! the practice is only *offered* (`practice::offers`), and when an approved registration names
//! someone who already has an account, the practice's administration is offered
//! (`registrations::approve`); the person decides after signing in. Accepting creates the
//! affiliation in one transaction with the practice locked, after checking again that the offer
//! still stands (see [`void_reason`]); an offer is used once, even when accepted twice at once.

use crate::affiliations::{self, AffiliationError, signed_in};
use crate::audit::{self, Event};
use crate::plans::Plan;
use crate::{Internal, RequestMeta, Services, SessionInfo};
use gatehouse_domain::ids::OfferId;
use gatehouse_domain::permissions::UserTypeKey;
use gatehouse_domain::{Duration, UserStatus};
use gatehouse_store::affiliations::{self as aff_store, NewAffiliation};
pub use gatehouse_store::offers::OfferStatus;
use gatehouse_store::offers::{self as store, OfferRow};
use gatehouse_store::roster::practices;
use gatehouse_store::{user_types, users};
use serde_json::json;
use thiserror::Error;

/// How long an offer stays open: the same 7 days an invitation stays on "Manage Pending Users".
pub const OFFER_LIFETIME: Duration = Duration::days(7);

/// Why an offer could not be answered.
#[derive(Debug, Error)]
pub enum OfferError {
    #[error("Sign in first.")]
    NotSignedIn,
    /// Not the person's offer, or no such offer: the same answer either way.
    #[error("That offer was not found.")]
    NotFound,
    #[error("You already answered this offer: it was {0}.")]
    AlreadyDecided(&'static str),
    #[error("This offer expired. If you work for this practice, ask its administrator to invite you again.")]
    Expired,
    #[error(
        "This offer is no longer valid: {0} If you work for this practice, ask its administrator to invite you again."
    )]
    Void(&'static str),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for OfferError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<AffiliationError> for OfferError {
    fn from(e: AffiliationError) -> Self {
        match e {
            AffiliationError::Internal(i) => Self::Internal(i),
            _ => Self::NotSignedIn,
        }
    }
}

/// An open offer as its person sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub id: OfferId,
    pub practice_name: String,
    pub tax_id: String,
    /// "First Last" of the administrator who made it (of the staff member who approved the
    /// registration, for an offer of the practice's administration).
    pub offered_by: String,
    /// Accepting makes the person an administrator of the practice (an approved registration
    /// named them); otherwise a user of it.
    pub administrator: bool,
    /// The user type's name, e.g. "Billing Staff".
    pub user_type: String,
    /// `None`: all providers of the Tax ID; otherwise "Name (provider ID)" of each.
    pub providers: Option<Vec<String>>,
    pub offered_at: i64,
    pub expires_at: i64,
}

/// What accepting an offer made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The new affiliation (linked account).
    pub affiliation_id: i64,
    pub practice_name: String,
    pub tax_id: String,
}

/// Where a stored offer stands at `now`: a pending offer past its end is expired.
pub fn effective_status(status: OfferStatus, expires_at: i64, now: i64) -> OfferStatus {
    if status == OfferStatus::Pending && expires_at <= now { OfferStatus::Expired } else { status }
}

/// What acceptance checks again, read inside its transaction with the practice locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StillValid {
    /// The offering administrator is still an active administrator of the practice.
    pub offerer_admin: bool,
    /// The person holds a plan staff role (staff are never given a practice).
    pub holder_staff: bool,
    /// The person already works for the practice (e.g. an access request was approved since).
    pub already_affiliated: bool,
    /// The account's email address is no longer the one the offer was sent to (someone changed
    /// it since): the offer was made to whoever reads that mailbox.
    pub address_changed: bool,
    /// The offered user type still exists.
    pub user_type_exists: bool,
    /// For a "chosen providers" offer: at least one of them is still a current provider of the
    /// practice (always true for "all providers").
    pub providers_left: bool,
}

/// Why an offer can no longer be accepted, if it cannot (a sentence for the person).
pub fn void_reason(c: StillValid) -> Option<&'static str> {
    if !c.offerer_admin {
        Some("the person who made it is no longer an administrator of this practice.")
    } else if c.holder_staff {
        Some("plan staff accounts are not given a practice.")
    } else if c.already_affiliated {
        Some("your account already works for this practice.")
    } else if c.address_changed {
        Some("it was sent to an email address your account no longer has. Ask the practice to invite you again.")
    } else if !c.user_type_exists {
        Some("the user type it offered no longer exists.")
    } else if !c.providers_left {
        Some("the providers it offered are no longer with this practice.")
    } else {
        None
    }
}

/// The stable code of a void reason, for the audit log.
fn void_code(c: StillValid) -> &'static str {
    if !c.offerer_admin {
        "offerer_not_admin"
    } else if c.holder_staff {
        "staff_account"
    } else if c.already_affiliated {
        "already_affiliated"
    } else if c.address_changed {
        "address_changed"
    } else if !c.user_type_exists {
        "user_type_gone"
    } else {
        "providers_gone"
    }
}

impl Services {
    /// The signed-in person's open offers, oldest first.
    pub async fn my_offers(&self, plan: &Plan, s: &SessionInfo) -> Result<Vec<Offer>, OfferError> {
        let user = signed_in(plan, s)?;
        let mut conn = self.db.acquire().await?;
        let rows = store::open_for_user(&mut conn, plan.id(), user, self.now()).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let types = user_types::list(&mut conn, plan.id()).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let user_type = UserTypeKey::parse(&r.user_type)
                .ok()
                .and_then(|k| types.iter().find(|t| t.key == k))
                .map_or_else(|| r.user_type.clone(), |t| t.name.clone());
            let providers = if r.all_providers { None } else { Some(store::provider_labels(&mut conn, r.id).await?) };
            out.push(Offer {
                id: r.id,
                practice_name: r.practice_name,
                tax_id: r.tax_id,
                offered_by: r.offered_by_name,
                administrator: r.registration_id.is_some(),
                user_type,
                providers,
                offered_at: r.created_at,
                expires_at: r.expires_at,
            });
        }
        Ok(out)
    }

    /// The person's own offer `id`, or "not found" (another person's offer reads the same).
    async fn own_offer(
        &self,
        tx: &mut gatehouse_store::Conn,
        plan: &Plan,
        user: gatehouse_domain::UserId,
        id: OfferId,
    ) -> Result<OfferRow, OfferError> {
        store::get(tx, plan.id(), id).await?.filter(|o| o.user_id == user).ok_or(OfferError::NotFound)
    }

    /// Accepts one of the person's open offers: the practice is added to their linked accounts
    /// with the offered user type and providers; as administrator only for the offer of an
    /// approved registration that named them (which also makes an existing link to the practice
    /// an administrator's).
    pub async fn accept_offer(
        &self,
        plan: &Plan,
        s: &SessionInfo,
        id: OfferId,
        meta: &RequestMeta,
    ) -> Result<Accepted, OfferError> {
        let user = signed_in(plan, s)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let first = self.own_offer(&mut tx, plan, user, id).await?;
        practices::lock(&mut tx, first.practice_id).await?;
        // Read again under the lock: a concurrent answer may have committed meanwhile.
        let o = self.own_offer(&mut tx, plan, user, id).await?;
        match effective_status(o.status, o.expires_at, now) {
            OfferStatus::Pending => {}
            OfferStatus::Expired if o.status == OfferStatus::Pending => {
                store::decide(&mut tx, id, OfferStatus::Expired, None, None, now).await?;
                gatehouse_store::commit(tx).await?;
                return Err(OfferError::Expired);
            }
            OfferStatus::Expired => return Err(OfferError::Expired),
            other => return Err(OfferError::AlreadyDecided(decided_word(other))),
        }
        let key = UserTypeKey::parse(&o.user_type).ok();
        let user_type_exists = match &key {
            Some(k) => user_types::get(&mut tx, plan.id(), k).await?.is_some(),
            None => false,
        };
        let listed = if o.all_providers {
            Vec::new()
        } else {
            let ids = store::providers_of(&mut tx, id).await?;
            practices::current_providers_among(&mut tx, o.practice_id, &ids).await?
        };
        // The plan's approval of a registration stands; an administrator's offer only while they
        // still administer the practice.
        let as_admin = o.registration_id.is_some();
        let offerer = aff_store::of_user_at(&mut tx, o.offered_by, o.practice_id).await?;
        let offerer_active = users::get(&mut tx, plan.id(), o.offered_by)
            .await?
            .is_some_and(|u| u.status == UserStatus::Active && u.staff_role.is_none());
        let holder = users::get(&mut tx, plan.id(), user).await?;
        let held = aff_store::of_user_at(&mut tx, user, o.practice_id).await?;
        let check = StillValid {
            offerer_admin: as_admin || (offerer.is_some_and(|a| a.is_admin) && offerer_active),
            holder_staff: holder.as_ref().is_none_or(|u| u.staff_role.is_some()),
            already_affiliated: held.is_some() && !as_admin,
            address_changed: holder.as_ref().is_none_or(|u| match o.sent_to.as_deref() {
                Some(to) => u.email.to_lowercase() != to.to_lowercase(),
                // An offer made before addresses were kept: void if someone else set the
                // account's address since it was made.
                None => u.email_set_by_other_at.is_some_and(|at| at >= o.created_at),
            }),
            user_type_exists,
            providers_left: o.all_providers || !listed.is_empty(),
        };
        if let Some(reason) = void_reason(check) {
            if store::decide(&mut tx, id, OfferStatus::Cancelled, None, None, now).await? {
                let event = Event::new("offer.voided").on(user).detail(json!({
                    "offer": id.0, "tax_id": o.tax_id, "offered_by": o.offered_by.0, "reason": void_code(check),
                }));
                audit::record(&mut tx, now, plan.id(), meta, event).await?;
                gatehouse_store::commit(tx).await?;
            }
            return Err(OfferError::Void(reason));
        }
        let key = key.ok_or_else(|| Internal::Other("offer user type vanished".into()))?;
        let a = match held {
            // Only a registration's offer reaches here with a link already held: it becomes an
            // administrator's.
            Some(a) => {
                aff_store::make_admin(&mut tx, plan.id(), user, o.practice_id).await?;
                a
            }
            None => {
                let new = NewAffiliation {
                    plan_id: plan.id(),
                    user_id: user,
                    practice_id: o.practice_id,
                    user_type: key.as_str(),
                    is_admin: as_admin,
                    all_providers: o.all_providers,
                };
                if !aff_store::insert(&mut tx, &new, now).await? {
                    return Err(OfferError::AlreadyDecided("accepted"));
                }
                let a = aff_store::of_user_at(&mut tx, user, o.practice_id)
                    .await?
                    .ok_or_else(|| Internal::Other("affiliation vanished".into()))?;
                aff_store::set_scope(&mut tx, a.id, o.all_providers, &listed).await?;
                a
            }
        };
        if !store::decide(&mut tx, id, OfferStatus::Accepted, Some(user), Some(a.id), now).await? {
            return Err(OfferError::AlreadyDecided("accepted"));
        }
        let event = Event::new("offer.accepted").by_self(user).detail(json!({
            "offer": id.0,
            "affiliation": a.id,
            "tax_id": o.tax_id,
            "practice_id": o.practice_id,
            "user_type": key.as_str(),
            "all_providers": o.all_providers,
            "provider_rows": listed,
            "offered_by": o.offered_by.0,
            "administrator": as_admin,
            "registration_id": o.registration_id,
        }));
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        affiliations::changed(&mut tx, plan.id(), user, now).await?;
        gatehouse_store::commit(tx).await?;
        self.access_changed(plan.id(), Some(user)).await;
        Ok(Accepted { affiliation_id: a.id, practice_name: o.practice_name, tax_id: o.tax_id })
    }

    /// Declines one of the person's open offers; nothing is attached. Returns the practice's name.
    pub async fn decline_offer(
        &self,
        plan: &Plan,
        s: &SessionInfo,
        id: OfferId,
        meta: &RequestMeta,
    ) -> Result<String, OfferError> {
        let user = signed_in(plan, s)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let o = self.own_offer(&mut tx, plan, user, id).await?;
        match effective_status(o.status, o.expires_at, now) {
            OfferStatus::Pending => {}
            OfferStatus::Expired => return Err(OfferError::Expired),
            other => return Err(OfferError::AlreadyDecided(decided_word(other))),
        }
        if !store::decide(&mut tx, id, OfferStatus::Declined, Some(user), None, now).await? {
            return Err(OfferError::AlreadyDecided("answered"));
        }
        let event = Event::new("offer.declined").by_self(user).detail(json!({
            "offer": id.0, "tax_id": o.tax_id, "practice_id": o.practice_id, "offered_by": o.offered_by.0,
        }));
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        gatehouse_store::commit(tx).await?;
        Ok(o.practice_name)
    }
}

/// How an answered offer is described to its person.
fn decided_word(s: OfferStatus) -> &'static str {
    match s {
        OfferStatus::Pending => "pending",
        OfferStatus::Accepted => "accepted",
        OfferStatus::Declined => "declined",
        OfferStatus::Cancelled => "withdrawn",
        OfferStatus::Expired => "expired",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: StillValid = StillValid {
        offerer_admin: true,
        holder_staff: false,
        already_affiliated: false,
        address_changed: false,
        user_type_exists: true,
        providers_left: true,
    };

    #[test]
    fn an_offer_stands_only_while_everything_it_relied_on_does() {
        assert_eq!(void_reason(OK), None);
        let cases = [
            (StillValid { offerer_admin: false, ..OK }, "no longer an administrator", "offerer_not_admin"),
            (StillValid { holder_staff: true, ..OK }, "plan staff", "staff_account"),
            (StillValid { already_affiliated: true, ..OK }, "already works", "already_affiliated"),
            (StillValid { address_changed: true, ..OK }, "no longer has", "address_changed"),
            (StillValid { user_type_exists: false, ..OK }, "user type", "user_type_gone"),
            (StillValid { providers_left: false, ..OK }, "providers", "providers_gone"),
        ];
        for (c, words, code) in cases {
            assert!(void_reason(c).is_some_and(|r| r.contains(words)), "{c:?}");
            assert_eq!(void_code(c), code);
        }
        // The administrator's loss of the role is named first: it is what the person can act on.
        let all_wrong = StillValid { offerer_admin: false, holder_staff: true, ..OK };
        assert_eq!(void_code(all_wrong), "offerer_not_admin");
    }

    #[test]
    fn a_pending_offer_expires_at_its_end_and_answers_do_not_change() {
        assert_eq!(effective_status(OfferStatus::Pending, 100, 99), OfferStatus::Pending);
        assert_eq!(effective_status(OfferStatus::Pending, 100, 100), OfferStatus::Expired);
        assert_eq!(effective_status(OfferStatus::Declined, 100, 500), OfferStatus::Declined);
        assert_eq!(effective_status(OfferStatus::Accepted, 100, 500), OfferStatus::Accepted);
        assert_eq!(OFFER_LIFETIME.as_secs(), 7 * 24 * 3600);
    }
}
