//! "Review users" (issue 17, seed 004): the practice administrator's access reviews — the list of
//! their practices' reviews, one review's users paged with a decision per user, a change page,
//! "keep everyone else", and signing by typing one's name. The same review page serves plan
//! staff reviewing on a practice's behalf (`crate::admin::reviews`), through [`Reviewing`].

use crate::admin::{AdminChrome, Staff};
use crate::pages::practice::PracticeAdmin;
use crate::pages::{Chrome, internal_error, message_page, render, when};
use crate::routing::{Routes, get, post};
use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_domain::access_review::{Decision, MAX_REASON, ReviewStatus};
use gatehouse_domain::{AccessReviewId, ProviderRowId, UserId};
use gatehouse_services::RequestMeta;
use gatehouse_services::access_review::{DecisionForm, ProviderChoice, ReviewError, ReviewPage, Reviewer};
use gatehouse_services::plans::Plan;
use serde::Deserialize;

pub fn routes() -> Routes {
    Routes::new()
        .route("/practice/reviews", get(list))
        .route("/practice/reviews/{id}", get(show_practice))
        .route("/practice/reviews/{id}/users/{user}", post(decide_practice))
        .route("/practice/reviews/{id}/users/{user}/change", get(change_practice))
        .route("/practice/reviews/{id}/keep-remaining", post(keep_practice))
        .route("/practice/reviews/{id}/sign", post(sign_practice))
}

/// Who is on a review page: a practice administrator, or plan staff.
pub enum Reviewing {
    Practice(PracticeAdmin),
    Staff(Staff),
}

impl Reviewing {
    fn reviewer(&self) -> Reviewer<'_> {
        match self {
            Reviewing::Practice(a) => Reviewer::Practice(&a.grant),
            Reviewing::Staff(s) => Reviewer::Staff(&s.grant),
        }
    }

    fn plan(&self) -> &Plan {
        match self {
            Reviewing::Practice(a) => &a.plan.0,
            Reviewing::Staff(s) => &s.plan.0,
        }
    }

    fn meta(&self) -> &RequestMeta {
        match self {
            Reviewing::Practice(a) => &a.meta,
            Reviewing::Staff(s) => &s.meta,
        }
    }

    /// Where this side's review pages live.
    fn base(&self) -> &'static str {
        match self {
            Reviewing::Practice(_) => "/practice/reviews",
            Reviewing::Staff(_) => "/admin/reviews",
        }
    }

    fn parts(&self) -> &axum::http::request::Parts {
        match self {
            Reviewing::Practice(a) => a.parts(),
            Reviewing::Staff(s) => s.parts(),
        }
    }

    fn state(&self) -> &crate::AppState {
        match self {
            Reviewing::Practice(a) => a.state(),
            Reviewing::Staff(s) => s.state(),
        }
    }

    async fn render(&self, status: StatusCode, body: ReviewBody) -> Response {
        match self {
            Reviewing::Practice(a) => render(status, &PracticeReviewPage { chrome: a.chrome().await, body }),
            Reviewing::Staff(s) => {
                let (chrome, admin) = s.chrome("/admin/reviews");
                render(status, &AdminReviewPage { chrome, admin, body })
            }
        }
    }

    async fn render_change(&self, status: StatusCode, body: ChangeBody) -> Response {
        match self {
            Reviewing::Practice(a) => render(status, &PracticeChangePage { chrome: a.chrome().await, body }),
            Reviewing::Staff(s) => {
                let (chrome, admin) = s.chrome("/admin/reviews");
                render(status, &AdminChangePage { chrome, admin, body })
            }
        }
    }

    fn not_found(&self) -> Response {
        message_page(
            self.state(),
            self.parts(),
            StatusCode::NOT_FOUND,
            "Not found",
            "That review was not found.",
            self.base(),
            "Back to the reviews",
        )
    }
}

/// One user's row on the review page.
pub struct RowView {
    user_id: i64,
    name: String,
    username: String,
    user_type: String,
    providers: String,
    admin: bool,
    last_signin: String,
    status: &'static str,
    idle: bool,
    decision: Option<&'static str>,
    decision_key: &'static str,
    change: Option<String>,
    reason: Option<String>,
    decided_by: Option<String>,
    is_reviewer: bool,
    is_staff: bool,
}

/// What the review page shows, on either side.
pub struct ReviewBody {
    base: &'static str,
    id: i64,
    practice: String,
    tax_id: String,
    due: String,
    status: &'static str,
    status_key: &'static str,
    signed: Option<String>,
    digest: Option<String>,
    rows: Vec<RowView>,
    total: i64,
    page: i64,
    pages: i64,
    undecided: i64,
    undecided_names: String,
    admins: usize,
    sole_admin: bool,
    on_behalf: bool,
    may_act: bool,
    notice: Option<&'static str>,
    error: Option<String>,
    reason_max: usize,
}

#[derive(Template)]
#[template(path = "reviews/practice_review.html")]
struct PracticeReviewPage {
    chrome: Chrome,
    body: ReviewBody,
}

#[derive(Template)]
#[template(path = "reviews/admin_review.html")]
struct AdminReviewPage {
    chrome: Chrome,
    admin: AdminChrome,
    body: ReviewBody,
}

/// The change page of one user.
pub struct ChangeBody {
    base: &'static str,
    id: i64,
    user_id: i64,
    name: String,
    practice: String,
    user_type: String,
    user_types: Vec<(String, String)>,
    providers_now: String,
    all_providers: bool,
    providers: Vec<(i64, String, bool)>,
    reason: String,
    reason_max: usize,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "reviews/practice_change.html")]
struct PracticeChangePage {
    chrome: Chrome,
    body: ChangeBody,
}

#[derive(Template)]
#[template(path = "reviews/admin_change.html")]
struct AdminChangePage {
    chrome: Chrome,
    admin: AdminChrome,
    body: ChangeBody,
}

/// `?page=` and `?done=`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    page: Option<i64>,
    done: String,
}

fn notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "decided" => "The decision was saved. Nothing changes until you sign the review.",
        "kept" => "Everyone without a decision was marked keep (except you: someone else confirms your access).",
        "signed" => "The review is signed. The changes took effect immediately and the review is kept as evidence.",
        "reminded" => "The practice's administrators were reminded by email.",
        _ => return None,
    })
}

fn decision_text(d: Decision) -> &'static str {
    match d {
        Decision::Keep => "Keep",
        Decision::Change => "Change",
        Decision::Deactivate => "Deactivate",
    }
}

/// The review page's view of a service answer.
fn body(side: &Reviewing, p: ReviewPage, done: &str, error: Option<String>) -> ReviewBody {
    let plan = side.plan();
    let rows = p
        .subjects
        .into_iter()
        .map(|s| {
            let change = s.decision.as_ref().filter(|d| d.decision == Decision::Change).map(|d| {
                let mut what = Vec::new();
                if let Some(t) = &d.user_type {
                    let name = p.user_types.iter().find(|(k, _)| k == t).map_or(t.as_str(), |(_, n)| n.as_str());
                    what.push(format!("user type to {name}"));
                }
                match d.all_providers {
                    Some(true) => what.push("all providers".to_owned()),
                    Some(false) => what.push(format!("{} chosen providers", d.provider_rows.len())),
                    None => {}
                }
                what.join(", ")
            });
            RowView {
                user_id: s.row.user_id.0,
                name: format!("{} {}", s.row.first_name, s.row.last_name),
                username: s.row.username.clone().unwrap_or_else(|| "—".into()),
                user_type: s.user_type_name,
                providers: s.providers,
                admin: s.row.is_admin,
                last_signin: s.row.last_signin_at.map_or_else(|| "Never".to_owned(), |t| when(plan, t)),
                status: crate::pages::practice::status_label(s.row.status),
                idle: s.idle,
                decision: s.decision.as_ref().map(|d| decision_text(d.decision)),
                decision_key: s.decision.as_ref().map_or("", |d| d.decision.as_str()),
                change,
                reason: s.decision.as_ref().and_then(|d| d.reason.clone()),
                decided_by: s.decided_by,
                is_reviewer: s.is_reviewer,
                is_staff: s.is_staff,
            }
        })
        .collect();
    let r = &p.review;
    ReviewBody {
        base: side.base(),
        id: r.id.0,
        practice: r.practice_name.clone(),
        tax_id: r.tax_id.clone(),
        due: gatehouse_domain::Timestamp(r.due_at).day_for_people(plan.time_zone()),
        status: p.status.label(),
        status_key: p.status.as_str(),
        signed: r.signed_at.map(|t| {
            let by = r.signer_name.clone().unwrap_or_default();
            let behalf = if r.on_behalf { " (provider services, on the practice's behalf)" } else { "" };
            format!("Signed by {by}{behalf} on {}", when(plan, t))
        }),
        digest: r.digest.clone(),
        rows,
        total: p.total,
        page: p.page,
        pages: p.pages,
        undecided: p.undecided,
        undecided_names: p.undecided_names.join(", "),
        admins: p.admins,
        sole_admin: p.sole_admin,
        on_behalf: matches!(side, Reviewing::Staff(_)),
        may_act: p.may_act,
        notice: notice(done),
        error,
        reason_max: MAX_REASON,
    }
}

/// Shows a review page (with an error from a refused action, when there is one).
pub async fn show(side: Reviewing, id: AccessReviewId, q: PageQuery, error: Option<(StatusCode, String)>) -> Response {
    let page = q.page.unwrap_or(1);
    match side.state().svc.review_page(side.reviewer(), side.plan(), id, page).await {
        Ok(p) => {
            let (status, error) = match error {
                Some((s, e)) => (s, Some(e)),
                None => (StatusCode::OK, None),
            };
            let b = body(&side, p, &q.done, error);
            side.render(status, b).await
        }
        Err(e) => refused(side, id, e).await,
    }
}

/// The answer to a refused action: not found, forbidden, or the review page with the message.
pub(crate) async fn refused(side: Reviewing, id: AccessReviewId, e: ReviewError) -> Response {
    match e {
        ReviewError::NotFound => side.not_found(),
        ReviewError::Denied(_) => match &side {
            Reviewing::Staff(s) => match s.require(gatehouse_domain::staff::StaffPermission::ReviewsManage).await {
                Err(r) => r,
                Ok(()) => side.not_found(),
            },
            Reviewing::Practice(_) => side.not_found(),
        },
        ReviewError::Internal(i) => internal_error(i),
        other => {
            let msg = other.to_string();
            Box::pin(show(side, id, PageQuery::default(), Some((StatusCode::UNPROCESSABLE_ENTITY, msg)))).await
        }
    }
}

/// A row's decision as posted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DecisionPost {
    decision: String,
    reason: String,
    user_type: String,
    /// `unchanged`, `all` or `listed`.
    providers: String,
    /// The page to go back to.
    page: Option<i64>,
}

/// Records a decision posted as form pairs (`provider` may repeat).
pub async fn decide(side: Reviewing, id: AccessReviewId, user: UserId, pairs: Vec<(String, String)>) -> Response {
    let mut post = DecisionPost::default();
    let mut listed = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "decision" => post.decision = v,
            "reason" => post.reason = v,
            "user_type" => post.user_type = v,
            "providers" => post.providers = v,
            "page" => post.page = v.parse().ok(),
            "provider" => match v.parse() {
                Ok(n) => listed.push(ProviderRowId(n)),
                Err(_) => return side.not_found(),
            },
            _ => {}
        }
    }
    let providers = match post.providers.as_str() {
        "all" => ProviderChoice::All,
        "listed" => ProviderChoice::Listed(listed),
        _ => ProviderChoice::Unchanged,
    };
    let form = DecisionForm {
        decision: post.decision.clone(),
        user_type: post.user_type.clone(),
        providers,
        reason: post.reason.clone(),
    };
    let svc = &side.state().svc;
    match svc.decide_review(side.reviewer(), side.plan(), id, user, &form, side.meta()).await {
        Ok(()) => {
            let page = post.page.unwrap_or(1);
            Redirect::to(&format!("{}/{}?page={page}&done=decided#user-{}", side.base(), id.0, user.0)).into_response()
        }
        Err(ReviewError::Field { message, .. }) if form.decision == "change" => {
            change_page(side, id, user, Some(message), &form).await
        }
        Err(e) => refused(side, id, e).await,
    }
}

/// The change page of one user of the review.
pub async fn change_page(
    side: Reviewing,
    id: AccessReviewId,
    user: UserId,
    error: Option<String>,
    typed: &DecisionForm,
) -> Response {
    let svc = &side.state().svc;
    let view = match svc.review_change_view(side.reviewer(), side.plan(), id, user).await {
        Ok(v) => v,
        Err(e) => return refused(side, id, e).await,
    };
    let chosen: Vec<i64> = match &typed.providers {
        ProviderChoice::Listed(l) => l.iter().map(|p| p.0).collect(),
        _ => view.listed.clone(),
    };
    let body = ChangeBody {
        base: side.base(),
        id: id.0,
        user_id: user.0,
        name: view.name,
        practice: view.practice,
        user_type: if typed.user_type.is_empty() { view.user_type } else { typed.user_type.clone() },
        user_types: view.user_types,
        providers_now: view.providers_now,
        all_providers: view.all_providers,
        providers: view.providers.iter().map(|p| (p.row.0, p.label(), chosen.contains(&p.row.0))).collect(),
        reason: typed.reason.clone(),
        reason_max: MAX_REASON,
        error: error.clone(),
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    side.render_change(status, body).await
}

/// "Keep everyone else".
pub async fn keep_remaining(side: Reviewing, id: AccessReviewId) -> Response {
    match side.state().svc.keep_remaining(side.reviewer(), side.plan(), id, side.meta()).await {
        Ok(_) => Redirect::to(&format!("{}/{}?done=kept", side.base(), id.0)).into_response(),
        Err(e) => refused(side, id, e).await,
    }
}

/// The signature as typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SignPost {
    first_name: String,
    last_name: String,
}

/// Signs the review.
pub async fn sign(side: Reviewing, id: AccessReviewId, f: SignPost) -> Response {
    match side.state().svc.sign_review(side.reviewer(), side.plan(), id, &f.first_name, &f.last_name, side.meta()).await
    {
        Ok(_) => Redirect::to(&format!("{}/{}?done=signed", side.base(), id.0)).into_response(),
        Err(e) => refused(side, id, e).await,
    }
}

/// One practice's review in the administrator's list.
struct ListRow {
    id: i64,
    practice: String,
    tax_id: String,
    due: String,
    status: &'static str,
    overdue: bool,
    users: i64,
    last: String,
}

#[derive(Template)]
#[template(path = "reviews/list.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<ListRow>,
}

async fn list(admin: PracticeAdmin) -> Response {
    let plan = &admin.plan.0;
    let reviews = match admin.state().svc.practice_reviews(&admin.grant, plan).await {
        Ok(r) => r,
        Err(e) => return internal_error(e),
    };
    // One practice: straight to its review.
    if let [only] = reviews.as_slice() {
        return Redirect::to(&format!("/practice/reviews/{}", only.review.id.0)).into_response();
    }
    let rows = reviews
        .into_iter()
        .map(|r| ListRow {
            id: r.review.id.0,
            practice: r.review.practice_name.clone(),
            tax_id: r.review.tax_id.clone(),
            due: gatehouse_domain::Timestamp(r.review.due_at).day_for_people(plan.time_zone()),
            status: r.status.label(),
            overdue: r.status == ReviewStatus::Overdue,
            users: r.users,
            last: r.last.and_then(|l| l.signed_at).map_or_else(|| "Never".to_owned(), |t| when(plan, t)),
        })
        .collect();
    render(StatusCode::OK, &ListPage { chrome: admin.chrome().await, rows })
}

async fn show_practice(admin: PracticeAdmin, Path(id): Path<AccessReviewId>, Query(q): Query<PageQuery>) -> Response {
    show(Reviewing::Practice(admin), id, q, None).await
}

async fn decide_practice(
    admin: PracticeAdmin,
    Path((id, user)): Path<(AccessReviewId, UserId)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    decide(Reviewing::Practice(admin), id, user, pairs).await
}

async fn change_practice(admin: PracticeAdmin, Path((id, user)): Path<(AccessReviewId, UserId)>) -> Response {
    change_page(Reviewing::Practice(admin), id, user, None, &DecisionForm::default()).await
}

async fn keep_practice(admin: PracticeAdmin, Path(id): Path<AccessReviewId>) -> Response {
    keep_remaining(Reviewing::Practice(admin), id).await
}

async fn sign_practice(admin: PracticeAdmin, Path(id): Path<AccessReviewId>, Form(f): Form<SignPost>) -> Response {
    sign(Reviewing::Practice(admin), id, f).await
}
