//! Access reviews (issue 17, seed 004): every N days each practice's administrator decides, for
//! every user of the practice, keep, change (user type or providers) or deactivate, and signs by
//! typing their name. The changes are applied in the signature's transaction; the review is then
//! frozen (its JSON and digest kept, the digest in the audit chain) and the next one opened.
//! Plan staff follow the practices, remind them, review on their behalf, and export evidence.
//!
//! Who may reach a review: the administrators of its practice ([`PracticeGrant`]), and plan
//! staff with [`StaffPermission::ReviewsRead`] (to read) or [`StaffPermission::ReviewsManage`]
//! (to decide, sign on the practice's behalf, start and remind). Another practice's review reads
//! as not found.

mod decide;
mod export;
mod schedule;
mod sign;

pub use export::{EvidenceFile, EvidenceFormat, ExportRequest};
pub use schedule::{OVERVIEW_PAGE, OverviewRequest, ReminderReport, ReviewsOverview, ReviewsStarted};
pub use sign::{SOLE_ADMIN_REASON, Signed};

use crate::plans::Plan;
use crate::practice::PracticeGrant;
use crate::staff::{Denied, StaffGrant};
use crate::{Internal, Services};
use gatehouse_domain::access_review::{self as rules, ReviewStatus};
use gatehouse_domain::staff::StaffPermission;
use gatehouse_domain::{AccessReviewId, PracticeId, ProviderRowId, UserId};
pub use gatehouse_store::access_reviews::ReviewRow;
use gatehouse_store::access_reviews::{self as store, DecisionRow, SubjectRow};
use gatehouse_store::{Conn, affiliations, user_types};
use thiserror::Error;

pub use decide::{DecisionForm, ProviderChoice};

/// Users listed per page of a review.
pub const PAGE_SIZE: i64 = 25;

/// Who is reviewing.
#[derive(Debug, Clone, Copy)]
pub enum Reviewer<'a> {
    /// An administrator of the review's practice.
    Practice(&'a PracticeGrant),
    /// Plan staff (reading with `ReviewsRead`; acting on the practice's behalf with `ReviewsManage`).
    Staff(&'a StaffGrant),
}

impl Reviewer<'_> {
    /// The person acting, when there is one (the command-line operator is nobody).
    pub fn actor(&self) -> Option<UserId> {
        match self {
            Reviewer::Practice(g) => Some(g.actor()),
            Reviewer::Staff(g) => g.actor(),
        }
    }

    /// Whether plan staff act on the practice's behalf.
    pub fn on_behalf(&self) -> bool {
        matches!(self, Reviewer::Staff(_))
    }
}

/// Why a review action was refused.
#[derive(Debug, Error)]
pub enum ReviewError {
    /// Not a review of the actor's practices, or not of this plan.
    #[error("That review was not found.")]
    NotFound,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("{0}")]
    Invalid(String),
    /// A field of the form is wrong.
    #[error("{message}")]
    Field { field: &'static str, message: String },
    #[error("This review was signed, so it can no longer change.")]
    Signed,
    #[error(
        "{practice} must keep at least one active administrator while it has active users. Change that decision first."
    )]
    LastAdmin { practice: String },
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for ReviewError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

fn invalid(m: impl Into<String>) -> ReviewError {
    ReviewError::Invalid(m.into())
}

/// A practice's review as its administrators see it in their list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PracticeReview {
    pub review: ReviewRow,
    pub status: ReviewStatus,
    /// Users the review covers.
    pub users: i64,
    /// The last signed review, if any.
    pub last: Option<ReviewRow>,
}

/// One user on a review page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewSubject {
    pub row: SubjectRow,
    /// The user type's name.
    pub user_type_name: String,
    /// "All providers" or the provider IDs and names.
    pub providers: String,
    pub decision: Option<DecisionRow>,
    /// Unused for the plan's idle threshold (an invited user who never signed up is not idle).
    pub idle: bool,
    /// The reviewer themself (someone else decides for them, or, for the only administrator,
    /// their signature).
    pub is_reviewer: bool,
    /// Plan staff: only "keep" is the practice's to decide.
    pub is_staff: bool,
    /// Who decided, by name.
    pub decided_by: Option<String>,
}

/// One page of a review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewPage {
    pub review: ReviewRow,
    pub status: ReviewStatus,
    pub subjects: Vec<ReviewSubject>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub undecided: i64,
    /// The first few undecided users, by name.
    pub undecided_names: Vec<String>,
    /// Active administrators of the practice.
    pub admins: usize,
    /// Whether the reviewer is its only administrator (their own access is then recorded as
    /// confirmed by signing).
    pub sole_admin: bool,
    /// The plan's user types, (key, name), for a change.
    pub user_types: Vec<(String, String)>,
    /// Whether the actor may decide and sign (false for readers, and once signed).
    pub may_act: bool,
}

/// What the change page of one user shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeView {
    pub name: String,
    pub practice: String,
    /// The user type key now, or the one already chosen in a change decision.
    pub user_type: String,
    pub user_types: Vec<(String, String)>,
    pub providers_now: String,
    pub all_providers: bool,
    /// The providers the affiliation lists now (row ids), or those of a change decision.
    pub listed: Vec<i64>,
    /// The practice's current providers, by provider ID.
    pub providers: Vec<ChoosableProvider>,
}

/// A provider of the practice that a change decision may list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoosableProvider {
    /// What a change decision names it by.
    pub row: ProviderRowId,
    /// The plan's provider ID.
    pub provider_id: String,
    pub name: String,
    pub npi: String,
}

impl ChoosableProvider {
    /// "provider ID — name (NPI …)", as the pages show it.
    pub fn label(&self) -> String {
        format!("{} — {} (NPI {})", self.provider_id, self.name, self.npi)
    }
}

impl Services {
    /// The change page of one user of the review (only while the reviewer may decide on them).
    pub async fn review_change_view(
        &self,
        reviewer: Reviewer<'_>,
        plan: &Plan,
        id: AccessReviewId,
        user: UserId,
    ) -> Result<ChangeView, ReviewError> {
        let mut conn = self.db.acquire().await?;
        let review = self.reachable_review(&mut conn, reviewer, plan, id, true).await?;
        if review.signed_at.is_some() {
            return Err(ReviewError::Signed);
        }
        let s = store::subject(&mut conn, review.practice_id, user).await?.ok_or(ReviewError::NotFound)?;
        if reviewer.actor() == Some(user) {
            return Err(invalid(
                "You cannot decide on your own access. Another administrator of the practice, or provider services, confirms it.",
            ));
        }
        let prior = store::decisions(&mut conn, review.id).await?.into_iter().find(|d| d.user_id == user);
        let types = user_types::list(&mut conn, plan.id()).await?;
        let providers_now = providers_text(&mut conn, s.affiliation_id, s.all_providers).await?;
        let mut listed: Vec<i64> =
            affiliations::providers_of(&mut conn, s.affiliation_id).await?.iter().map(|p| p.0).collect();
        let mut user_type = s.user_type.clone();
        if let Some(d) = prior.filter(|d| d.decision == rules::Decision::Change) {
            if let Some(t) = d.user_type {
                user_type = t;
            }
            if d.all_providers == Some(false) {
                listed = d.provider_rows;
            }
        }
        let (practice_providers, _) = gatehouse_store::roster::practices::providers_of(
            &mut conn,
            review.practice_id.0,
            crate::practice::access::PROVIDERS_LISTED,
        )
        .await?;
        Ok(ChangeView {
            name: format!("{} {}", s.first_name, s.last_name),
            practice: review.practice_name,
            user_type,
            user_types: types.iter().map(|t| (t.key.as_str().to_owned(), t.name.clone())).collect(),
            providers_now,
            all_providers: s.all_providers,
            listed,
            providers: practice_providers
                .into_iter()
                .map(|p| ChoosableProvider {
                    row: ProviderRowId(p.id),
                    provider_id: p.provider_id,
                    name: p.name,
                    npi: p.npi,
                })
                .collect(),
        })
    }

    /// The review `id`, if the reviewer may see it; a refusal to plan staff without the
    /// permission, "not found" for another practice's or plan's.
    async fn reachable_review(
        &self,
        conn: &mut Conn,
        reviewer: Reviewer<'_>,
        plan: &Plan,
        id: AccessReviewId,
        act: bool,
    ) -> Result<ReviewRow, ReviewError> {
        if let Reviewer::Staff(g) = reviewer {
            g.require(plan.id(), if act { StaffPermission::ReviewsManage } else { StaffPermission::ReviewsRead })?;
        }
        let r = store::get(conn, plan.id(), id).await?.ok_or(ReviewError::NotFound)?;
        match reviewer {
            Reviewer::Practice(g) if !g.administers(r.practice_id) => Err(ReviewError::NotFound),
            _ => Ok(r),
        }
    }

    /// The open review of each practice the administrator administers, opened first when it is
    /// missing (due N days after the last signed review, or after the first administrator).
    pub async fn practice_reviews(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
    ) -> Result<Vec<PracticeReview>, ReviewError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut out = Vec::new();
        for p in grant.practices() {
            let review = match store::open_of(&mut tx, plan.id(), &[p.id.0]).await?.pop() {
                Some(r) => r,
                None => {
                    let Some(due) = self.due_for(&mut tx, plan, p.id).await? else { continue };
                    store::open(&mut tx, plan.id(), p.id, due, "schedule", now).await?;
                    store::open_of(&mut tx, plan.id(), &[p.id.0])
                        .await?
                        .pop()
                        .ok_or_else(|| Internal::Other("opened review vanished".into()))?
                }
            };
            let users = store::subject_count(&mut tx, p.id).await?;
            let last = store::last_signed(&mut tx, plan.id(), p.id).await?;
            let status = ReviewStatus::of(review.due_at, review.signed_at, review.decided, now);
            out.push(PracticeReview { review, status, users, last });
        }
        gatehouse_store::commit(tx).await?;
        Ok(out)
    }

    /// When the practice's next review falls due: N days after its last signed review, else
    /// after its first active administrator; `None` without one.
    pub(crate) async fn due_for(
        &self,
        conn: &mut Conn,
        plan: &Plan,
        practice: PracticeId,
    ) -> Result<Option<i64>, ReviewError> {
        let days = plan.row.access_review_days;
        if let Some(last) = store::last_signed(conn, plan.id(), practice).await?
            && let Some(at) = last.signed_at
        {
            return Ok(Some(rules::next_due(at, days)));
        }
        Ok(store::first_admin_at(conn, practice).await?.map(|at| rules::first_due(at, days)))
    }

    /// One page of a review: every user with type, providers, administrator flag, last sign-in,
    /// status, idle mark and decision.
    pub async fn review_page(
        &self,
        reviewer: Reviewer<'_>,
        plan: &Plan,
        id: AccessReviewId,
        page: i64,
    ) -> Result<ReviewPage, ReviewError> {
        let now = self.now();
        let mut conn = self.db.acquire().await?;
        let review = self.reachable_review(&mut conn, reviewer, plan, id, false).await?;
        let may_act = review.signed_at.is_none()
            && match reviewer {
                Reviewer::Practice(_) => true,
                Reviewer::Staff(g) => g.may(StaffPermission::ReviewsManage) && g.actor().is_some(),
            };
        let (total, undecided) = store::subject_counts(&mut conn, review.id, review.practice_id).await?;
        let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
        let page = page.clamp(1, pages);
        let rows = store::subjects(&mut conn, review.practice_id, PAGE_SIZE, (page - 1) * PAGE_SIZE, total).await?;
        // Only the page's decisions: a large practice's review holds thousands.
        let ids: Vec<UserId> = rows.iter().map(|r| r.user_id).collect();
        let decisions = store::decisions_of(&mut conn, review.id, &ids).await?;
        let mut deciders: std::collections::HashMap<UserId, Option<String>> = std::collections::HashMap::new();
        let types = user_types::list(&mut conn, plan.id()).await?;
        let type_name =
            |key: &str| types.iter().find(|t| t.key.as_str() == key).map_or(key.to_owned(), |t| t.name.clone());
        let mut subjects = Vec::with_capacity(rows.len());
        for row in rows {
            let providers = providers_text(&mut conn, row.affiliation_id, row.all_providers).await?;
            let decision = decisions.iter().find(|d| d.user_id == row.user_id).cloned();
            // Most decisions of a page are by the same one or two people: each is read once.
            let decided_by = match &decision {
                Some(d) => match deciders.get(&d.decided_by) {
                    Some(name) => name.clone(),
                    None => {
                        let name = gatehouse_store::users::get(&mut conn, plan.id(), d.decided_by)
                            .await?
                            .map(|u| format!("{} {}", u.first_name, u.last_name));
                        deciders.insert(d.decided_by, name.clone());
                        name
                    }
                },
                None => None,
            };
            subjects.push(ReviewSubject {
                user_type_name: type_name(&row.user_type),
                providers,
                idle: crate::idle::flagged(plan, row.status, row.idle_since, row.staff_role.is_some(), now),
                is_reviewer: reviewer.actor() == Some(row.user_id),
                is_staff: row.staff_role.is_some(),
                decision,
                decided_by,
                row,
            });
        }
        let mut undecided = undecided;
        // One more name than shown: the sole administrator's own name may be taken out below.
        let mut undecided_names = if undecided > 0 {
            store::undecided_names(&mut conn, review.id, review.practice_id, 6).await?
        } else {
            Vec::new()
        };
        let admins = store::active_admins(&mut conn, review.practice_id).await?;
        let sole_admin = matches!(reviewer, Reviewer::Practice(g) if admins == [g.actor()]);
        // The only administrator's own row is recorded by their signature: nobody is asked for it.
        if sole_admin
            && let Some(me) = reviewer.actor()
            && store::subject(&mut conn, review.practice_id, me).await?.is_some()
            && store::decisions_of(&mut conn, review.id, &[me]).await?.is_empty()
            && let Some(u) = gatehouse_store::users::get(&mut conn, plan.id(), me).await?
        {
            undecided -= 1;
            let mine = format!("{} {}", u.first_name, u.last_name);
            if let Some(i) = undecided_names.iter().position(|n| *n == mine) {
                undecided_names.remove(i);
            }
        }
        undecided_names.truncate(5);
        let status = ReviewStatus::of(review.due_at, review.signed_at, review.decided, now);
        Ok(ReviewPage {
            review,
            status,
            subjects,
            total,
            page,
            pages,
            undecided,
            undecided_names,
            admins: admins.len(),
            sole_admin,
            user_types: types.iter().map(|t| (t.key.as_str().to_owned(), t.name.clone())).collect(),
            may_act,
        })
    }
}

/// "All providers", or the affiliation's providers by provider ID and name.
pub(crate) async fn providers_text(conn: &mut Conn, affiliation: i64, all: bool) -> Result<String, ReviewError> {
    if all {
        return Ok("All providers".to_owned());
    }
    let listed = affiliations::providers_of(conn, affiliation).await?;
    if listed.is_empty() {
        return Ok("No providers".to_owned());
    }
    Ok(listed.iter().map(|(_, id, _, name)| format!("{id} {name}")).collect::<Vec<_>>().join(", "))
}
