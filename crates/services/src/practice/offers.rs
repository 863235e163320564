//! Affiliation offers, the administrator's side: inviting an email that already has an account
//! makes a pending offer per Tax ID (nothing attached; the person is emailed and decides after
//! signing in, see `crate::offers`), the administrator sees their offers on "Manage Pending
//! Users" and may withdraw one while it is pending.

use super::{PracticeError, PracticeGrant};
use crate::audit::{self, Event};
use crate::messages::{self, offers::OfferV1};
use crate::offers::{OFFER_LIFETIME, effective_status};
use crate::plans::Plan;
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::ids::OfferId;
use gatehouse_domain::permissions::UserTypeKey;
use gatehouse_domain::{Email, UserStatus};
use gatehouse_store::Conn;
use gatehouse_store::offers::{self as store, NewOffer, OfferRow, OfferStatus};
use gatehouse_store::users::UserRow;
use serde_json::json;

/// How long answered offers stay listed for the administrator (pending ones are listed until
/// they expire, which is as long).
pub const OFFERS_SHOWN: gatehouse_domain::Duration = OFFER_LIFETIME;

/// The sentence a row gets when its email belongs to plan staff: it says no more than that the
/// email cannot be invited, so it does not reveal who holds it.
pub const CANNOT_INVITE: &str =
    "This email cannot be invited to a practice. If this person works for your practice, call provider services.";

/// An offer this administrator made, with where it stands now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MadeOffer {
    pub row: OfferRow,
    /// The stored status, or expired for a pending offer past its end.
    pub status: OfferStatus,
}

/// The offer of one row: the existing account, the Tax IDs chosen and their scopes.
pub(super) struct OfferRequest<'a> {
    pub user: &'a UserRow,
    pub email: &'a Email,
    /// Practice ids, sorted.
    pub chosen: &'a [i64],
    /// (all providers, provider row ids) per practice of `chosen`.
    pub scopes: &'a [(bool, Vec<i64>)],
    pub user_type: &'a UserTypeKey,
    /// "First Last" of the administrator.
    pub inviter: &'a str,
}

/// "First Last" of the administrator acting, as invitations and offers name them.
pub(super) async fn admin_name(conn: &mut Conn, grant: &PracticeGrant, plan: &Plan) -> Result<String, Internal> {
    Ok(gatehouse_store::users::get(conn, plan.id(), grant.actor())
        .await?
        .map(|u| format!("{} {}", u.first_name, u.last_name))
        .unwrap_or_default())
}

impl Services {
    /// Makes one pending offer per chosen Tax ID to an existing account, emails the person and
    /// audits it, in the caller's transaction. Attaches nothing.
    pub(super) async fn offer_in(
        &self,
        tx: &mut Conn,
        grant: &PracticeGrant,
        plan: &Plan,
        req: &OfferRequest<'_>,
        meta: &RequestMeta,
        now: i64,
    ) -> Result<Vec<OfferId>, PracticeError> {
        let expires_at = now + OFFER_LIFETIME.as_secs();
        let mut ids = Vec::with_capacity(req.chosen.len());
        for (p, (all, listed)) in req.chosen.iter().zip(req.scopes) {
            store::expire_stale(tx, req.user.id, *p, now).await?;
            let new = NewOffer {
                plan_id: plan.id(),
                user_id: req.user.id,
                practice_id: *p,
                user_type: req.user_type.as_str(),
                all_providers: *all,
                offered_by: grant.actor(),
                registration_id: None,
                sent_to: &req.user.email,
            };
            match store::insert(tx, &new, listed, now, expires_at).await? {
                Some(id) => ids.push(id),
                None => {
                    return Err(PracticeError::Invalid(
                        "We already asked this person to join this Tax ID; they have not answered yet. You can see the offer under Manage Pending Users.".into(),
                    ));
                }
            }
        }
        let practice_name = practice_names(grant, req.chosen);
        let link = format!("{}/offers", self.plan_url(plan));
        let msg = OfferV1 {
            first_name: &req.user.first_name,
            plan_name: &plan.row.name,
            offered_by: req.inviter,
            practice_name: &practice_name,
            link: &link,
            days: OFFER_LIFETIME.as_secs() / 86_400,
            not_signed_up: req.user.status == UserStatus::Invited,
            support_phone: &plan.row.support_phone,
            support_hours: &plan.row.support_hours,
        }
        .render_to(&req.user.email)?;
        messages::enqueue(tx, plan.id(), &msg, now).await?;
        let tax_ids: Vec<_> =
            grant.practices().iter().filter(|p| req.chosen.contains(&p.id.0)).map(|p| p.tax_id.as_str()).collect();
        let event = Event::new("offer.made").by(grant.actor()).on(req.user.id).detail(json!({
            "offers": ids.iter().map(|i| i.0).collect::<Vec<_>>(),
            "email": req.email.as_str(),
            "tax_ids": tax_ids,
            "user_type": req.user_type.as_str(),
            "scopes": req.scopes.iter().map(|(all, l)| json!({"all_providers": all, "provider_rows": l})).collect::<Vec<_>>(),
            "expires_at": expires_at,
        }));
        audit::record(tx, now, plan.id(), meta, event).await?;
        Ok(ids)
    }

    /// Audits a row refused because its email belongs to plan staff, and returns the refusal.
    pub(super) async fn staff_email_refused(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        email: &Email,
        meta: &RequestMeta,
    ) -> PracticeError {
        let now = self.now();
        let event = Event::new("practice.invite_refused")
            .by(grant.actor())
            .detail(json!({"email": email.as_str(), "reason": "staff_account"}));
        let recorded = async {
            let mut tx = self.db.begin().await?;
            audit::record(&mut tx, now, plan.id(), meta, event).await?;
            gatehouse_store::commit(tx).await?;
            Ok::<_, Internal>(())
        };
        match recorded.await {
            Ok(()) => PracticeError::Invalid(CANNOT_INVITE.into()),
            Err(e) => PracticeError::Internal(e),
        }
    }

    /// The offers this administrator made in the last [`OFFERS_SHOWN`] for practices they
    /// still administer, newest first, each with the address it was sent to.
    pub async fn offers_made(&self, grant: &PracticeGrant, plan: &Plan) -> Result<Vec<MadeOffer>, PracticeError> {
        let now = self.now();
        let mut conn = self.db.acquire().await?;
        let rows = store::made_by(&mut conn, plan.id(), grant.actor(), now - OFFERS_SHOWN.as_secs()).await?;
        Ok(rows
            .into_iter()
            .filter(|row| grant.administers(gatehouse_domain::PracticeId(row.practice_id)))
            .map(|row| MadeOffer { status: effective_status(row.status, row.expires_at, now), row })
            .collect())
    }

    /// Withdraws one of this administrator's pending offers (another's, or an answered one, is
    /// "not found").
    pub async fn cancel_offer(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        id: OfferId,
        meta: &RequestMeta,
    ) -> Result<(), PracticeError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mine = store::get(&mut tx, plan.id(), id).await?.filter(|o| {
            o.offered_by == grant.actor() && grant.administers(gatehouse_domain::PracticeId(o.practice_id))
        });
        let Some(o) = mine else {
            drop(tx);
            return Err(self.practice_denied(grant, meta, json!({"offer": id.0})).await);
        };
        // One's own offer that was already answered (or lapsed) is simply no longer there to withdraw.
        if effective_status(o.status, o.expires_at, now) != OfferStatus::Pending {
            return Err(PracticeError::NotFound);
        }
        if !store::decide(&mut tx, id, OfferStatus::Cancelled, Some(grant.actor()), None, now).await? {
            drop(tx);
            return Err(PracticeError::NotFound);
        }
        let event = Event::new("offer.cancelled").by(grant.actor()).on(o.user_id).detail(json!({
            "offer": id.0, "tax_id": o.tax_id, "email": o.email,
        }));
        audit::record(&mut tx, now, plan.id(), meta, event).await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }
}

/// The names of the chosen practices, "A", "A and B" or "A, B and C".
fn practice_names(grant: &PracticeGrant, chosen: &[i64]) -> String {
    let names: Vec<&str> =
        grant.practices().iter().filter(|p| chosen.contains(&p.id.0)).map(|p| p.name.as_str()).collect();
    join_and(&names)
}

fn join_and(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn practice_names_read_as_a_sentence() {
        assert_eq!(join_and(&[]), "");
        assert_eq!(join_and(&["Lakeside"]), "Lakeside");
        assert_eq!(join_and(&["Lakeside", "Cedar"]), "Lakeside and Cedar");
        assert_eq!(join_and(&["A", "B", "C"]), "A, B and C");
    }

    #[test]
    fn the_staff_refusal_does_not_say_why() {
        let m = CANNOT_INVITE.to_lowercase();
        assert!(!m.contains("staff") && !m.contains("administrator") && !m.contains("account"));
    }
}
