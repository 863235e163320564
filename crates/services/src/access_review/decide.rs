//! Recording the reviewer's decision on one user, or "keep" for everyone not yet decided.

use super::{ReviewError, Reviewer, invalid};
use crate::access_requests::Scope;
use crate::audit::{self, Event};
use crate::plans::Plan;
use crate::{RequestMeta, Services};
use gatehouse_domain::access_review::{self as rules, Decision};
use gatehouse_domain::permissions::UserTypeKey;
use gatehouse_domain::{AccessReviewId, ProviderRowId, UserId};
use gatehouse_store::access_reviews::{self as store, NewDecision, ReviewRow, SubjectRow};
use gatehouse_store::roster::practices;
use gatehouse_store::{Conn, user_types};
use serde_json::json;

/// The providers a change gives the user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProviderChoice {
    /// Leave the providers as they are.
    #[default]
    Unchanged,
    /// All of the practice's providers.
    All,
    /// These providers of the practice (row ids).
    Listed(Vec<ProviderRowId>),
}

/// A decision as the form sends it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DecisionForm {
    /// `keep`, `change` or `deactivate`.
    pub decision: String,
    /// For a change: a user type key of the plan (empty: unchanged).
    pub user_type: String,
    /// For a change: the providers.
    pub providers: ProviderChoice,
    /// Optional.
    pub reason: String,
}

impl Services {
    /// Records (or replaces) the reviewer's decision on one user of the review's practice.
    pub async fn decide_review(
        &self,
        reviewer: Reviewer<'_>,
        plan: &Plan,
        id: AccessReviewId,
        user: UserId,
        form: &DecisionForm,
        meta: &RequestMeta,
    ) -> Result<(), ReviewError> {
        let decision = Decision::parse(form.decision.trim())
            .ok_or(ReviewError::Field { field: "decision", message: "Choose keep, change or deactivate.".into() })?;
        let reason =
            rules::check_reason(&form.reason).map_err(|message| ReviewError::Field { field: "reason", message })?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (review, actor) = self.open_for_acting(&mut tx, reviewer, plan, id).await?;
        let subject = store::subject(&mut tx, review.practice_id, user).await?.ok_or(ReviewError::NotFound)?;
        if !rules::may_decide_on(actor, user) {
            return Err(invalid(
                "You cannot decide on your own access. Another administrator of the practice, or provider services, confirms it.",
            ));
        }
        if subject.staff_role.is_some() && decision != Decision::Keep {
            return Err(invalid("This user is plan staff: only the plan can change their access. Choose keep."));
        }
        let (user_type, all_providers, rows) = match decision {
            Decision::Change => checked_change(&mut tx, plan, &review, &subject, form).await?,
            _ => (None, None, Vec::new()),
        };
        let new = NewDecision {
            user_id: user,
            decision,
            user_type: user_type.as_deref(),
            all_providers,
            provider_rows: &rows,
            reason: reason.as_deref(),
            decided_by: actor,
        };
        store::decide(&mut tx, review.id, &new, now).await?;
        let detail = json!({
            "review": review.id, "tax_id": review.tax_id, "decision": decision.as_str(),
            "on_behalf": reviewer.on_behalf(),
        });
        audit::record(
            &mut tx,
            now,
            plan.id(),
            meta,
            Event::new("access_review.decided").by(actor).on(user).detail(detail),
        )
        .await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }

    /// Records "keep" for every user of the review not yet decided, except the reviewer (whom
    /// someone else confirms). Returns how many were kept.
    pub async fn keep_remaining(
        &self,
        reviewer: Reviewer<'_>,
        plan: &Plan,
        id: AccessReviewId,
        meta: &RequestMeta,
    ) -> Result<usize, ReviewError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (review, actor) = self.open_for_acting(&mut tx, reviewer, plan, id).await?;
        let rest = store::undecided_ids(&mut tx, review.id, review.practice_id).await?;
        let mut kept = 0;
        for s in rest.iter().filter(|s| s.user_id != actor) {
            let new = NewDecision {
                user_id: s.user_id,
                decision: Decision::Keep,
                user_type: None,
                all_providers: None,
                provider_rows: &[],
                reason: None,
                decided_by: actor,
            };
            store::decide(&mut tx, review.id, &new, now).await?;
            kept += 1;
        }
        let detail =
            json!({"review": review.id, "tax_id": review.tax_id, "kept": kept, "on_behalf": reviewer.on_behalf()});
        audit::record(
            &mut tx,
            now,
            plan.id(),
            meta,
            Event::new("access_review.kept_remaining").by(actor).detail(detail),
        )
        .await?;
        gatehouse_store::commit(tx).await?;
        Ok(kept)
    }

    /// The review, reachable for acting, locked and unsigned, with the person acting; a
    /// practice reviewer's administrator flag is checked again under the practice's lock.
    pub(super) async fn open_for_acting(
        &self,
        tx: &mut Conn,
        reviewer: Reviewer<'_>,
        plan: &Plan,
        id: AccessReviewId,
    ) -> Result<(ReviewRow, UserId), ReviewError> {
        let review = self.reachable_review(tx, reviewer, plan, id, true).await?;
        let actor = reviewer.actor().ok_or_else(|| invalid("Sign in as a person to review access."))?;
        practices::lock(tx, review.practice_id.0).await?;
        store::lock(tx, review.id).await?;
        if let Reviewer::Practice(_) = reviewer {
            crate::affiliations::require_admin(tx, actor, review.practice_id.0)
                .await
                .map_err(|_| ReviewError::NotFound)?;
        }
        let review = store::get(tx, plan.id(), id).await?.ok_or(ReviewError::NotFound)?;
        if review.signed_at.is_some() {
            return Err(ReviewError::Signed);
        }
        Ok((review, actor))
    }
}

/// A change's new user type and providers, checked against the plan and the practice; it must
/// change something.
async fn checked_change(
    tx: &mut Conn,
    plan: &Plan,
    review: &ReviewRow,
    subject: &SubjectRow,
    form: &DecisionForm,
) -> Result<(Option<String>, Option<bool>, Vec<i64>), ReviewError> {
    let key = match form.user_type.trim() {
        "" => None,
        raw => {
            let key = UserTypeKey::parse(raw).map_err(|_| ReviewError::Field {
                field: "user_type",
                message: "Choose one of the user types.".into(),
            })?;
            user_types::get(tx, plan.id(), &key)
                .await?
                .ok_or(ReviewError::Field { field: "user_type", message: "Choose one of the user types.".into() })?;
            (key.as_str() != subject.user_type).then(|| key.as_str().to_owned())
        }
    };
    let (all, rows) = match &form.providers {
        ProviderChoice::Unchanged => (None, Vec::new()),
        ProviderChoice::All if subject.all_providers => (None, Vec::new()),
        ProviderChoice::All => (Some(true), Vec::new()),
        ProviderChoice::Listed(ids) => {
            let scope = Scope::Providers(ids.clone());
            let (_, rows) = crate::practice::access::checked_scope(tx, review.practice_id.0, &scope).await.map_err(
                |e| match e {
                    crate::practice::PracticeError::Invalid(m) => ReviewError::Field { field: "providers", message: m },
                    crate::practice::PracticeError::NotFound => ReviewError::NotFound,
                    other => ReviewError::Internal(crate::Internal::Other(other.to_string())),
                },
            )?;
            (Some(false), rows)
        }
    };
    if key.is_none() && all.is_none() {
        return Err(ReviewError::Field {
            field: "user_type",
            message: "Choose a different user type or different providers, or keep the user as they are.".into(),
        });
    }
    Ok((key, all, rows))
}
