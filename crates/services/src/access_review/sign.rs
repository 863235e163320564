//! Signing a review: every user decided, the name typed as the reviewer's own, the changes
//! applied, the review frozen with its digest in the audit chain, and the next review opened —
//! all in one transaction.

use super::{ReviewError, Reviewer, invalid, providers_text};
use crate::affiliations::{AffiliationError, changed, ensure_admin_remains};
use crate::audit::{self, Event};
use crate::plans::Plan;
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::access_review::{self as rules, Decision, FrozenDecision, FrozenReview};
use gatehouse_domain::{AccessReviewId, PersonName, UserId, UserStatus};
use gatehouse_store::access_reviews::{self as store, DecisionRow, NewDecision, ReviewRow, Signature, SubjectRow};
use gatehouse_store::{Conn, affiliations, user_types, users};
use serde_json::json;

/// Reason recorded on the sole administrator's own row.
pub const SOLE_ADMIN_REASON: &str = "Only administrator of the practice: confirmed by their signature";

/// What a signature did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub digest: String,
    pub kept: usize,
    pub changed: usize,
    pub deactivated: usize,
}

impl Services {
    /// Signs the review with the reviewer's typed first and last name.
    pub async fn sign_review(
        &self,
        reviewer: Reviewer<'_>,
        plan: &Plan,
        id: AccessReviewId,
        first: &str,
        last: &str,
        meta: &RequestMeta,
    ) -> Result<Signed, ReviewError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (review, actor) = self.open_for_acting(&mut tx, reviewer, plan, id).await?;
        let me = users::get(&mut tx, plan.id(), actor).await?.ok_or(ReviewError::NotFound)?;
        let name = PersonName::parse(&me.first_name, &me.last_name)
            .map_err(|_| Internal::Other("stored name is invalid".into()))?;
        if !gatehouse_domain::terms::signature_matches(&name, first, last) {
            return Err(ReviewError::Field {
                field: "signature",
                message: format!(
                    "Type your first and last name exactly as on your account: {} {}.",
                    name.first(),
                    name.last()
                ),
            });
        }
        let admins = store::active_admins(&mut tx, review.practice_id).await?;
        let sole_admin = !reviewer.on_behalf() && admins == [actor];
        if sole_admin && store::subject(&mut tx, review.practice_id, actor).await?.is_some() {
            let own = store::decisions(&mut tx, review.id).await?.into_iter().any(|d| d.user_id == actor);
            if !own {
                let new = NewDecision {
                    user_id: actor,
                    decision: Decision::Keep,
                    user_type: None,
                    all_providers: None,
                    provider_rows: &[],
                    reason: Some(SOLE_ADMIN_REASON),
                    decided_by: actor,
                };
                store::decide(&mut tx, review.id, &new, now).await?;
            }
        }
        let (missing, names) = store::undecided(&mut tx, review.id, review.practice_id, 5).await?;
        if missing > 0 {
            let more = if missing > names.len() as i64 { ", …" } else { "" };
            return Err(invalid(format!(
                "{missing} {} no decision yet: {}{more}. Decide for every user before signing.",
                if missing == 1 { "user has" } else { "users have" },
                names.join(", ")
            )));
        }
        let decisions = store::decisions(&mut tx, review.id).await?;
        let types = user_types::list(&mut tx, plan.id()).await?;
        let type_name =
            |key: &str| types.iter().find(|t| t.key.as_str() == key).map_or(key.to_owned(), |t| t.name.clone());
        let mut frozen = Vec::with_capacity(decisions.len());
        let mut counts = (0, 0, 0);
        let mut touched = Vec::new();
        for d in &decisions {
            // A user who left the practice (or was deactivated) since the decision keeps it in the
            // record; nothing is applied.
            let Some(s) = store::subject(&mut tx, review.practice_id, d.user_id).await? else { continue };
            let u = users::get(&mut tx, plan.id(), d.user_id).await?.ok_or(ReviewError::NotFound)?;
            let before = providers_text(&mut tx, s.affiliation_id, s.all_providers).await?;
            let change = match d.decision {
                Decision::Keep => {
                    counts.0 += 1;
                    None
                }
                Decision::Change => {
                    counts.1 += 1;
                    Some(apply_change(&mut tx, plan, &review, &s, d, actor, meta, now, &type_name).await?)
                }
                Decision::Deactivate => {
                    counts.2 += 1;
                    Some(deactivate(&mut tx, plan, &review, &s, reviewer, actor, meta, now).await?)
                }
            };
            if d.decision != Decision::Keep {
                touched.push(d.user_id);
            }
            frozen.push(FrozenDecision {
                user_id: d.user_id.0,
                username: u.username.clone().unwrap_or_default(),
                user_name: format!("{} {}", u.first_name, u.last_name),
                user_type: type_name(&s.user_type),
                providers: before,
                administrator: s.is_admin,
                last_signin_at: u.last_signin_at,
                decision: d.decision,
                change,
                reason: d.reason.clone(),
                decided_by: d.decided_by.0,
                decided_at: d.decided_at,
            });
        }
        ensure_admin_remains(&mut tx, review.practice_id.0).await.map_err(|e| match e {
            AffiliationError::LastAdmin { practice } => ReviewError::LastAdmin { practice },
            other => ReviewError::Internal(Internal::Other(other.to_string())),
        })?;
        let record = FrozenReview {
            review_id: review.id.0,
            plan_id: plan.id().0,
            practice_id: review.practice_id.0,
            tax_id: review.tax_id.clone(),
            due_at: review.due_at,
            signed_at: now,
            signed_by: actor.0,
            signer_name: format!("{} {}", name.first(), name.last()),
            on_behalf: reviewer.on_behalf(),
            sole_administrator: sole_admin,
            decisions: frozen,
        };
        let digest = record.digest();
        let json = serde_json::to_string(&record).map_err(|e| Internal::Other(format!("freezing review: {e}")))?;
        let signature = Signature {
            signed_by: actor,
            signer_name: &record.signer_name,
            on_behalf: record.on_behalf,
            sole_admin,
            digest: &digest,
            frozen: &json,
        };
        if !store::sign(&mut tx, review.id, &signature, now).await? {
            return Err(ReviewError::Signed);
        }
        store::open(
            &mut tx,
            plan.id(),
            review.practice_id,
            rules::next_due(now, plan.row.access_review_days),
            "schedule",
            now,
        )
        .await?;
        for u in &touched {
            changed(&mut tx, plan.id(), *u, now).await?;
        }
        let detail = json!({
            "review": review.id, "tax_id": review.tax_id, "digest": digest, "on_behalf": reviewer.on_behalf(),
            "sole_administrator": sole_admin, "kept": counts.0, "changed": counts.1, "deactivated": counts.2,
        });
        audit::record(&mut tx, now, plan.id(), meta, Event::new("access_review.signed").by(actor).detail(detail))
            .await?;
        gatehouse_store::commit(tx).await?;
        for u in &touched {
            self.access_changed(plan.id(), Some(*u)).await;
        }
        Ok(Signed { digest, kept: counts.0, changed: counts.1, deactivated: counts.2 })
    }
}

/// Applies a "change" decision to the user's affiliation with the practice, audited as the
/// directory's own change is; returns what changed, for the record.
#[allow(clippy::too_many_arguments)]
async fn apply_change(
    tx: &mut Conn,
    plan: &Plan,
    review: &ReviewRow,
    s: &SubjectRow,
    d: &DecisionRow,
    actor: UserId,
    meta: &RequestMeta,
    now: i64,
    type_name: &(dyn Fn(&str) -> String + Sync),
) -> Result<String, ReviewError> {
    let mut what = Vec::new();
    if let Some(key) = &d.user_type {
        let k = gatehouse_domain::permissions::UserTypeKey::parse(key)
            .map_err(|_| Internal::Other("stored user type key is invalid".into()))?;
        if user_types::get(tx, plan.id(), &k).await?.is_none() {
            return Err(invalid(format!(
                "The user type chosen for {} {} no longer exists. Change that decision first.",
                s.first_name, s.last_name
            )));
        }
        affiliations::set_user_type(tx, s.affiliation_id, key).await?;
        let detail = json!({"affiliation": s.affiliation_id, "tax_id": review.tax_id, "old": s.user_type, "new": key, "review": review.id});
        let e = Event::new("affiliation.user_type_changed").by(actor).on(s.user_id).detail(detail);
        audit::record(tx, now, plan.id(), meta, e).await?;
        what.push(format!("User type: {} → {}", type_name(&s.user_type), type_name(key)));
    }
    if let Some(all) = d.all_providers {
        let rows = if all {
            Vec::new()
        } else {
            let found =
                gatehouse_store::roster::practices::current_providers_among(tx, review.practice_id.0, &d.provider_rows)
                    .await?;
            if found.is_empty() {
                return Err(invalid(format!(
                    "The providers chosen for {} {} are no longer with the practice. Change that decision first.",
                    s.first_name, s.last_name
                )));
            }
            found
        };
        affiliations::set_scope(tx, s.affiliation_id, all, &rows).await?;
        let detail = json!({"affiliation": s.affiliation_id, "tax_id": review.tax_id, "all_providers": all, "provider_rows": rows, "review": review.id});
        let e = Event::new("affiliation.providers_changed").by(actor).on(s.user_id).detail(detail);
        audit::record(tx, now, plan.id(), meta, e).await?;
        let after = providers_text(tx, s.affiliation_id, all).await?;
        what.push(format!("Providers: {after}"));
    }
    Ok(what.join("; "))
}

/// Applies a "deactivate" decision: the account is deactivated (sessions ended, affiliations
/// kept for a reactivation) when every practice it works for is this one; otherwise only its
/// access to this practice ends.
#[allow(clippy::too_many_arguments)]
async fn deactivate(
    tx: &mut Conn,
    plan: &Plan,
    review: &ReviewRow,
    s: &SubjectRow,
    reviewer: Reviewer<'_>,
    actor: UserId,
    meta: &RequestMeta,
    now: i64,
) -> Result<String, ReviewError> {
    let all = affiliations::of_user(tx, s.user_id).await?;
    if all.iter().all(|a| a.practice_id == review.practice_id.0) {
        users::set_status(tx, plan.id(), s.user_id, UserStatus::Deactivated, now).await?;
        users::set_deactivated_by(tx, plan.id(), s.user_id, if reviewer.on_behalf() { "staff" } else { "practice" })
            .await?;
        let ended = crate::sessions::end_everything(tx, s.user_id, now).await?;
        let detail = json!({"sessions_ended": ended, "review": review.id, "reason": "access review"});
        audit::record(tx, now, plan.id(), meta, Event::new("user.deactivated").by(actor).on(s.user_id).detail(detail))
            .await?;
        Ok("Account deactivated".to_owned())
    } else {
        affiliations::delete(tx, s.affiliation_id).await?;
        let detail = json!({"affiliation": s.affiliation_id, "tax_id": review.tax_id, "was_admin": s.is_admin, "review": review.id});
        audit::record(
            tx,
            now,
            plan.id(),
            meta,
            Event::new("affiliation.removed").by(actor).on(s.user_id).detail(detail),
        )
        .await?;
        Ok("Access to this practice removed (the account works for other practices)".to_owned())
    }
}
