//! "Reviews" on the control panel (issue 17): every practice's open access review by due date
//! with its status and last signed review, filters and totals, this quarter's on-time
//! percentage, starting all first reviews at once, reminding a practice again, and a review
//! page to decide and sign on a practice's behalf (shared with the practice side,
//! `crate::pages::reviews`).

use super::{AdminChrome, Staff};
use crate::pages::reviews::{self as shared, PageQuery, Reviewing, SignPost};
use crate::pages::{Chrome, internal_error, render, when};
use crate::routing::{Routes, get, post};
use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_domain::access_review::{MAX_SPREAD_WEEKS, ReviewStatus};
use gatehouse_domain::staff::StaffPermission;
use gatehouse_domain::{AccessReviewId, Timestamp, UserId};
use gatehouse_services::access_review::{DecisionForm, ExportRequest, OverviewRequest, ReviewError, ReviewsOverview};
use serde::Deserialize;

pub fn routes() -> Routes {
    Routes::new()
        .route("/admin/reviews", get(overview))
        .route("/admin/reviews/start", post(start))
        .route("/admin/reviews/export", get(export))
        .route("/admin/reviews/{id}", get(show))
        .route("/admin/reviews/{id}/users/{user}", post(decide))
        .route("/admin/reviews/{id}/users/{user}/change", get(change))
        .route("/admin/reviews/{id}/keep-remaining", post(keep))
        .route("/admin/reviews/{id}/sign", post(sign))
        .route("/admin/reviews/{id}/remind", post(remind))
}

const HERE: &str = "/admin/reviews";

struct Row {
    id: i64,
    practice: String,
    tax_id: String,
    due: String,
    status: &'static str,
    overdue: bool,
    follow_up: bool,
    last: String,
}

#[derive(Template)]
#[template(path = "admin/reviews.html")]
struct OverviewPage {
    chrome: Chrome,
    admin: AdminChrome,
    q: OverviewRequest,
    statuses: Vec<(&'static str, &'static str)>,
    rows: Vec<Row>,
    not_started: i64,
    in_progress: i64,
    overdue: i64,
    follow_up: i64,
    due_this_quarter: i64,
    on_time: String,
    page: i64,
    has_next: bool,
    next_href: String,
    prev_href: String,
    may_manage: bool,
    max_weeks: i64,
    notice: Option<String>,
    error: Option<String>,
    /// The export form's defaults: the start of this quarter and today.
    export_from: String,
    export_to: String,
    export: ExportRequest,
}

/// `?done=` after starting reviews.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Overview {
    #[serde(flatten)]
    q: OverviewRequest,
    started: Option<usize>,
}

async fn overview(staff: Staff, Query(o): Query<Overview>) -> Response {
    if let Err(r) = staff.require(StaffPermission::ReviewsRead).await {
        return r;
    }
    let notice = o.started.map(|n| format!("{n} reviews were started, due dates spread over the weeks you chose."));
    overview_page(&staff, o.q, notice, None).await
}

async fn overview_page(staff: &Staff, q: OverviewRequest, notice: Option<String>, error: Option<String>) -> Response {
    overview_with(staff, q, notice, error, ExportRequest::default()).await
}

async fn overview_with(
    staff: &Staff,
    q: OverviewRequest,
    notice: Option<String>,
    error: Option<String>,
    export: ExportRequest,
) -> Response {
    let plan = &staff.plan.0;
    let (data, error, status) = match staff.state().svc.reviews_overview(&staff.grant, plan, &q).await {
        Ok(d) => {
            let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
            (d, error, status)
        }
        Err(ReviewError::Field { message, .. }) => {
            let clean = OverviewRequest::default();
            match staff.state().svc.reviews_overview(&staff.grant, plan, &clean).await {
                Ok(d) => (d, Some(message), StatusCode::UNPROCESSABLE_ENTITY),
                Err(e) => return internal_error(e),
            }
        }
        Err(e) => return internal_error(e),
    };
    let ReviewsOverview { rows, totals, on_time_percent, page, has_next } = data;
    let rows = rows
        .into_iter()
        .filter_map(|(r, status, follow_up)| {
            let open = r.open?;
            Some(Row {
                id: open.id.0,
                practice: r.practice_name,
                tax_id: r.tax_id,
                due: Timestamp(open.due_at).day_for_people(plan.time_zone()),
                status: status.label(),
                overdue: status == ReviewStatus::Overdue,
                follow_up,
                last: match r.last {
                    Some(l) => format!(
                        "{} by {}",
                        l.signed_at.map_or_else(String::new, |t| when(plan, t)),
                        l.signer_name.unwrap_or_default()
                    ),
                    None => "Never".to_owned(),
                },
            })
        })
        .collect();
    let link = |p: i64| {
        let mut u = form_urlencoded::Serializer::new(String::new());
        u.append_pair("status", &q.status).append_pair("tax_id", &q.tax_id).append_pair("page", &p.to_string());
        format!("{HERE}?{}", u.finish())
    };
    let (chrome, admin) = staff.chrome(HERE);
    let now = staff.state().svc.now();
    let zone = plan.time_zone();
    let day = |t: i64| Timestamp(t).iso_day(zone);
    let page_view = OverviewPage {
        export_from: day(gatehouse_domain::access_review::quarter_start(now, zone)),
        export_to: day(now),
        export,
        chrome,
        admin,
        statuses: vec![
            ("not_started", "Not started"),
            ("in_progress", "In progress"),
            ("overdue", "Overdue"),
            ("follow_up", "14 or more days overdue"),
        ],
        rows,
        not_started: totals.not_started,
        in_progress: totals.in_progress,
        overdue: totals.overdue,
        follow_up: totals.follow_up,
        due_this_quarter: totals.due_this_quarter,
        on_time: on_time_percent.map_or_else(|| "—".to_owned(), |p| format!("{p}%")),
        page,
        has_next,
        next_href: link(page + 1),
        prev_href: link(page - 1),
        may_manage: staff.grant.may(StaffPermission::ReviewsManage),
        max_weeks: MAX_SPREAD_WEEKS,
        notice,
        error,
        q,
    };
    render(status, &page_view)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StartForm {
    weeks: String,
}

async fn start(staff: Staff, Form(f): Form<StartForm>) -> Response {
    if let Err(r) = staff.require(StaffPermission::ReviewsManage).await {
        return r;
    }
    match staff.state().svc.start_reviews(&staff.grant, &staff.plan.0, &f.weeks, &staff.meta).await {
        Ok(s) => Redirect::to(&format!("{HERE}?started={}", s.practices)).into_response(),
        Err(ReviewError::Field { message, .. }) => {
            overview_page(&staff, OverviewRequest::default(), None, Some(message)).await
        }
        Err(e) => internal_error(e),
    }
}

async fn show(staff: Staff, Path(id): Path<AccessReviewId>, Query(q): Query<PageQuery>) -> Response {
    if let Err(r) = staff.require(StaffPermission::ReviewsRead).await {
        return r;
    }
    shared::show(Reviewing::Staff(staff), id, q, None).await
}

async fn decide(
    staff: Staff,
    Path((id, user)): Path<(AccessReviewId, UserId)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = staff.require(StaffPermission::ReviewsManage).await {
        return r;
    }
    shared::decide(Reviewing::Staff(staff), id, user, pairs).await
}

async fn change(staff: Staff, Path((id, user)): Path<(AccessReviewId, UserId)>) -> Response {
    if let Err(r) = staff.require(StaffPermission::ReviewsManage).await {
        return r;
    }
    shared::change_page(Reviewing::Staff(staff), id, user, None, &DecisionForm::default()).await
}

async fn keep(staff: Staff, Path(id): Path<AccessReviewId>) -> Response {
    if let Err(r) = staff.require(StaffPermission::ReviewsManage).await {
        return r;
    }
    shared::keep_remaining(Reviewing::Staff(staff), id).await
}

async fn sign(staff: Staff, Path(id): Path<AccessReviewId>, Form(f): Form<SignPost>) -> Response {
    if let Err(r) = staff.require(StaffPermission::ReviewsManage).await {
        return r;
    }
    shared::sign(Reviewing::Staff(staff), id, f).await
}

async fn remind(staff: Staff, Path(id): Path<AccessReviewId>) -> Response {
    if let Err(r) = staff.require(StaffPermission::ReviewsManage).await {
        return r;
    }
    match staff.state().svc.remind_review(&staff.grant, &staff.plan.0, id, &staff.meta).await {
        Ok(_) => Redirect::to(&format!("{HERE}/{}?done=reminded", id.0)).into_response(),
        Err(e) => shared::refused(Reviewing::Staff(staff), id, e).await,
    }
}

/// Downloads the evidence of the signed reviews (CSV or PDF); a bad form shows the page again
/// with the message.
async fn export(staff: Staff, Query(req): Query<ExportRequest>) -> Response {
    if let Err(r) = staff.require(StaffPermission::ReviewsRead).await {
        return r;
    }
    match staff.state().svc.export_review_evidence(&staff.grant, &staff.plan.0, &req, &staff.meta).await {
        Ok(f) => (
            [
                (header::CONTENT_TYPE, f.content_type.to_owned()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", f.file_name)),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            f.bytes,
        )
            .into_response(),
        Err(ReviewError::Field { message, .. }) => {
            overview_with(&staff, OverviewRequest::default(), None, Some(message), req).await
        }
        Err(e) => internal_error(e),
    }
}
