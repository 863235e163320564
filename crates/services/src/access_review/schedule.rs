//! Keeping reviews due and followed: opening the missing ones, the reminders (14, 7 and 1 days
//! before the due date, 1 and 7 days after; each recorded once, so two instances never send it
//! twice), plan staff's Reviews page, starting every practice's first review at once spread
//! over weeks, and a reminder sent again by staff.

use super::{ReviewError, invalid};
use crate::audit;
use crate::messages::{self, access_review::AccessReviewV1};
use crate::plans::Plan;
use crate::staff::StaffGrant;
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::access_review::{self as rules, ReviewStatus};
use gatehouse_domain::staff::StaffPermission;
use gatehouse_domain::{AccessReviewId, Timestamp};
use gatehouse_store::access_reviews::{self as store, OverviewQuery, OverviewRow, ReviewRow, Totals};
use gatehouse_store::{Conn, users};
use serde_json::json;

/// What one run of the reminders step did for a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReminderReport {
    /// Reviews opened because they were missing.
    pub opened: u64,
    /// Reminder emails queued (one per administrator).
    pub emails: usize,
    /// Reminders recorded without an email (days the job missed).
    pub skipped: usize,
}

impl std::ops::AddAssign for ReminderReport {
    fn add_assign(&mut self, o: Self) {
        self.opened += o.opened;
        self.emails += o.emails;
        self.skipped += o.skipped;
    }
}

/// What starting the reviews together did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewsStarted {
    pub practices: usize,
    /// The first and last due dates.
    pub first_due: Option<i64>,
    pub last_due: Option<i64>,
}

/// Plan staff's Reviews page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewsOverview {
    pub rows: Vec<(OverviewRow, ReviewStatus, bool)>,
    pub totals: Totals,
    /// Of the reviews due this quarter so far, the percentage signed on time (none due: None).
    pub on_time_percent: Option<i64>,
    pub page: i64,
    pub has_next: bool,
}

/// Filters of the Reviews page as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct OverviewRequest {
    /// `not_started`, `in_progress`, `overdue`, or `follow_up` (14 days past due).
    pub status: String,
    pub tax_id: String,
    pub page: Option<i64>,
}

/// Rows per page of the Reviews page.
pub const OVERVIEW_PAGE: i64 = 50;

impl Services {
    /// Opens the missing reviews of the plan and sends the reminders owed at `now`. Safe to run
    /// again and from several instances at once: each reminder is recorded once, in the
    /// transaction that queues its emails.
    pub async fn review_reminders(&self, plan: &Plan, now: i64) -> Result<ReminderReport, Internal> {
        let mut report = ReminderReport::default();
        {
            let mut tx = self.db.begin().await?;
            report.opened = store::schedule_missing(&mut tx, plan.id(), plan.row.access_review_days, now).await?;
            gatehouse_store::commit(tx).await?;
        }
        let mut conn = self.db.acquire().await?;
        // Only the reviews owing a reminder today: the rule below still decides which.
        let cutoffs: Vec<i64> =
            rules::Reminder::ALL.iter().map(|r| now.saturating_sub(r.offset_days() * rules::DAY)).collect();
        let due = store::open_owing_reminders(&mut conn, plan.id(), &cutoffs).await?;
        drop(conn);
        for r in due {
            let mut tx = self.db.begin().await?;
            let recorded = store::reminders(&mut tx, r.id).await?;
            let step = rules::reminders_owed(r.due_at, now, &recorded);
            let mut send = false;
            for rem in &step.record {
                let emailed = Some(*rem) == step.send;
                let mine = store::record_reminder(&mut tx, r.id, *rem, emailed, now).await?;
                if emailed {
                    send = mine;
                } else if mine {
                    report.skipped += 1;
                }
            }
            if send {
                let overdue = step.send.is_some_and(|s| s.overdue());
                report.emails += self.remind_admins(&mut tx, plan, &r, overdue, now).await?;
            }
            gatehouse_store::commit(tx).await?;
        }
        Ok(report)
    }

    /// Queues the reminder to every active administrator of the review's practice; returns how
    /// many.
    async fn remind_admins(
        &self,
        tx: &mut Conn,
        plan: &Plan,
        r: &ReviewRow,
        overdue: bool,
        now: i64,
    ) -> Result<usize, Internal> {
        let link = format!("{}/practice/reviews", self.plan_url(plan));
        let due_on = Timestamp(r.due_at).day_for_people(&plan.row.time_zone);
        let m = AccessReviewV1 {
            plan_name: &plan.row.name,
            practice_name: &r.practice_name,
            due_on: &due_on,
            overdue,
            link: &link,
            support_phone: &plan.row.support_phone,
            support_hours: &plan.row.support_hours,
        };
        let mut n = 0;
        for admin in store::active_admins(tx, r.practice_id).await? {
            if let Some(u) = users::get(tx, plan.id(), admin).await? {
                messages::enqueue(tx, plan.id(), &m.render_to(&u.email)?, now).await?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Plan staff remind a practice again (from the follow-up list).
    pub async fn remind_review(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        id: AccessReviewId,
        meta: &RequestMeta,
    ) -> Result<usize, ReviewError> {
        grant.require(plan.id(), StaffPermission::ReviewsManage)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let r = store::get(&mut tx, plan.id(), id).await?.ok_or(ReviewError::NotFound)?;
        if r.signed_at.is_some() {
            return Err(ReviewError::Signed);
        }
        let n = self.remind_admins(&mut tx, plan, &r, now > r.due_at, now).await?;
        if n == 0 {
            return Err(invalid("This practice has no active administrator to remind. Call the practice instead."));
        }
        let e = grant.event("access_review.reminded").detail(json!({"review": r.id, "tax_id": r.tax_id, "emails": n}));
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        gatehouse_store::commit(tx).await?;
        Ok(n)
    }

    /// Starts a review for every practice with active users and no open review, due dates
    /// spread evenly over `weeks` weeks (plans that imported a roster of practices).
    pub async fn start_reviews(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        weeks: &str,
        meta: &RequestMeta,
    ) -> Result<ReviewsStarted, ReviewError> {
        grant.require(plan.id(), StaffPermission::ReviewsManage)?;
        let weeks: i64 = weeks.trim().parse().ok().filter(|w| (1..=rules::MAX_SPREAD_WEEKS).contains(w)).ok_or(
            ReviewError::Field {
                field: "weeks",
                message: format!("Enter a number of weeks from 1 to {}.", rules::MAX_SPREAD_WEEKS),
            },
        )?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let practices = store::practices_without_review(&mut tx, plan.id()).await?;
        let dues = rules::spread_due_dates(now, practices.len(), weeks);
        let mut opened = 0;
        for (p, due) in practices.iter().zip(&dues) {
            if store::open(&mut tx, plan.id(), *p, *due, "staff", now).await? {
                opened += 1;
            }
        }
        let e = grant.event("access_review.started").detail(json!({"practices": opened, "weeks": weeks}));
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        gatehouse_store::commit(tx).await?;
        Ok(ReviewsStarted { practices: opened, first_due: dues.first().copied(), last_due: dues.last().copied() })
    }

    /// Plan staff's Reviews page: open reviews by due date with each practice's last signed
    /// review, filtered; totals and this quarter's on-time percentage.
    pub async fn reviews_overview(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        req: &OverviewRequest,
    ) -> Result<ReviewsOverview, ReviewError> {
        grant.require(plan.id(), StaffPermission::ReviewsRead)?;
        let now = self.now();
        let follow_up_before = now - rules::STAFF_FOLLOW_UP_DAYS * rules::DAY;
        let tax_digits: String = req.tax_id.chars().filter(char::is_ascii_digit).collect();
        if !req.tax_id.trim().is_empty() && tax_digits.len() != 9 {
            return Err(ReviewError::Field { field: "tax_id", message: "Enter the Tax ID's 9 digits.".into() });
        }
        let mut q = OverviewQuery {
            tax_id: (!tax_digits.is_empty()).then_some(tax_digits.as_str()),
            limit: OVERVIEW_PAGE + 1,
            ..OverviewQuery::default()
        };
        match req.status.as_str() {
            "" => {}
            "not_started" => (q.due_from, q.started) = (Some(now), Some(false)),
            "in_progress" => (q.due_from, q.started) = (Some(now), Some(true)),
            "overdue" => q.due_before = Some(now),
            "follow_up" => q.due_before = Some(follow_up_before),
            _ => return Err(ReviewError::Field { field: "status", message: "Choose a status from the list.".into() }),
        }
        let page = req.page.unwrap_or(1).max(1);
        q.offset = (page - 1).saturating_mul(OVERVIEW_PAGE);
        let mut conn = self.db.acquire().await?;
        let mut rows = store::overview(&mut conn, plan.id(), &q).await?;
        let has_next = rows.len() as i64 > OVERVIEW_PAGE;
        rows.truncate(OVERVIEW_PAGE as usize);
        let quarter = rules::quarter_start(now, &plan.row.time_zone);
        let totals = store::totals(&mut conn, plan.id(), now, follow_up_before, quarter).await?;
        let on_time_percent = (totals.due_this_quarter > 0)
            .then(|| (totals.on_time_this_quarter * 100 + totals.due_this_quarter / 2) / totals.due_this_quarter);
        let rows = rows
            .into_iter()
            .map(|r| {
                let (status, follow) = match &r.open {
                    Some(o) => (
                        ReviewStatus::of(o.due_at, o.signed_at, o.decided, now),
                        rules::needs_follow_up(o.due_at, false, now),
                    ),
                    None => (ReviewStatus::Signed, false),
                };
                (r, status, follow)
            })
            .collect();
        Ok(ReviewsOverview { rows, totals, on_time_percent, page, has_next })
    }
}
