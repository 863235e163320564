//! Plan-wide user search and the help desk's actions on one user.

use super::{AdminChrome, Staff};
use crate::pages::{Chrome, internal_error, render, when};
use crate::routing::Routes;
use crate::routing::get;
use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_domain::staff::{StaffPermission, StaffRole};
use gatehouse_domain::{UserId, UserStatus};
use gatehouse_services::plans::Plan;
use gatehouse_services::support::{PAGE_SIZE, SupportAction, SupportError, UserSummary};
use serde::Deserialize;

pub fn routes() -> Routes {
    Routes::new()
        .route("/admin/users", get(search))
        .route("/admin/users/{id}", get(detail))
        .route("/admin/users/{id}/{action}", get(confirm).post(act))
}

struct UserView {
    id: i64,
    name: String,
    username: String,
    email: String,
    phone: String,
    status: &'static str,
    practices: String,
    last_signin: String,
    /// Flagged as idle (no sign-in for the plan's idle threshold).
    idle: bool,
    staff_role: Option<&'static str>,
    affiliations: Vec<(String, String, String, bool)>,
}

fn status_label(u: &UserSummary) -> &'static str {
    match (u.row.status, u.locked_until.is_some()) {
        (UserStatus::Active, true) => "Locked",
        (UserStatus::Active, false) => "Active",
        (UserStatus::Invited, _) => "Invited",
        (UserStatus::Deactivated, _) => "Deactivated",
    }
}

fn view(plan: &Plan, u: UserSummary) -> UserView {
    UserView {
        id: u.row.id.0,
        name: format!("{} {}", u.row.first_name, u.row.last_name),
        username: u.row.username.clone().unwrap_or_else(|| "(not signed up yet)".into()),
        email: u.row.email.clone(),
        phone: u.phone.clone().unwrap_or_else(|| "Not set up".into()),
        status: status_label(&u),
        practices: if u.affiliations.is_empty() {
            "—".into()
        } else {
            u.affiliations.iter().map(|a| format!("{} {}", a.0, a.1)).collect::<Vec<_>>().join("; ")
        },
        last_signin: u.row.last_signin_at.map(|t| when(plan, t)).unwrap_or_else(|| "Never".into()),
        idle: u.idle,
        staff_role: u.row.staff_role.as_deref().and_then(StaffRole::parse).map(StaffRole::label),
        affiliations: u.affiliations,
    }
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct SearchPage {
    chrome: Chrome,
    admin: AdminChrome,
    q: String,
    rows: Vec<UserView>,
    /// "12", "1,234" or "more than 1,000".
    total: String,
    /// Whether counting stopped (the needle matches more users than are counted).
    capped: bool,
    first: i64,
    last: i64,
    prev: Option<i64>,
    next: Option<i64>,
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<i64>,
}

async fn search(staff: Staff, Query(q): Query<SearchQuery>) -> Response {
    if let Err(r) = staff.require(StaffPermission::UserSearch).await {
        return r;
    }
    let query: String = q.q.chars().take(100).collect();
    let page = q.page.unwrap_or(1).clamp(1, 100_000);
    match staff.state().svc.search_users(&staff.grant, &staff.plan.0, &query, page).await {
        Ok((rows, total)) => {
            let (chrome, admin) = staff.chrome("/admin/users");
            let first = (page - 1) * PAGE_SIZE + 1;
            let last = (first + rows.len() as i64 - 1).max(0);
            let next = (!rows.is_empty() && total.more_after(last)).then_some(page + 1);
            render(
                StatusCode::OK,
                &SearchPage {
                    chrome,
                    admin,
                    q: query,
                    rows: rows.into_iter().map(|u| view(&staff.plan.0, u)).collect(),
                    total: total.to_string(),
                    capped: !total.is_exact(),
                    first,
                    last,
                    prev: (page > 1).then_some(page - 1),
                    next,
                },
            )
        }
        Err(e) => internal_error(e),
    }
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct DetailPage {
    chrome: Chrome,
    admin: AdminChrome,
    u: UserView,
    actions: Vec<(&'static str, &'static str)>,
    notice: Option<String>,
}

async fn detail_page(staff: &Staff, id: i64, notice: Option<String>) -> Response {
    match staff.state().svc.user_summary(&staff.grant, &staff.plan.0, UserId(id)).await {
        Ok(u) => {
            let (chrome, admin) = staff.chrome("/admin/users");
            let actions = if staff.grant.may(StaffPermission::UserSupport) {
                u.actions().into_iter().map(|a| (a.slug(), a.label())).collect()
            } else {
                Vec::new()
            };
            render(StatusCode::OK, &DetailPage { chrome, admin, u: view(&staff.plan.0, u), actions, notice })
        }
        Err(SupportError::NotFound) => not_found(staff),
        Err(e) => internal_error(e),
    }
}

fn not_found(staff: &Staff) -> Response {
    crate::pages::message_page(
        staff.state(),
        staff.parts(),
        StatusCode::NOT_FOUND,
        "User not found",
        "No user of this plan has that id.",
        "/admin/users",
        "Back to users",
    )
}

async fn detail(staff: Staff, Path(id): Path<i64>) -> Response {
    if let Err(r) = staff.require(StaffPermission::UserSearch).await {
        return r;
    }
    detail_page(&staff, id, None).await
}

#[derive(Template)]
#[template(path = "admin/user_action.html")]
struct ActionPage {
    chrome: Chrome,
    admin: AdminChrome,
    id: i64,
    name: String,
    slug: &'static str,
    label: &'static str,
    explanation: &'static str,
    reason: String,
    error: Option<String>,
}

async fn action_page(
    staff: &Staff,
    id: i64,
    action: SupportAction,
    reason: String,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    match staff.state().svc.user_summary(&staff.grant, &staff.plan.0, UserId(id)).await {
        Ok(u) => {
            let (chrome, admin) = staff.chrome("/admin/users");
            render(
                status,
                &ActionPage {
                    chrome,
                    admin,
                    id,
                    name: format!("{} {}", u.row.first_name, u.row.last_name),
                    slug: action.slug(),
                    label: action.label(),
                    explanation: action.explanation(),
                    reason,
                    error,
                },
            )
        }
        Err(SupportError::NotFound) => not_found(staff),
        Err(e) => internal_error(e),
    }
}

async fn confirm(staff: Staff, Path((id, action)): Path<(i64, String)>) -> Response {
    if let Err(r) = staff.require(StaffPermission::UserSupport).await {
        return r;
    }
    let Some(action) = SupportAction::parse(&action) else { return not_found(&staff) };
    // Asked before the form is shown, not only when it is sent.
    match staff.state().svc.may_support(&staff.grant, &staff.plan.0, UserId(id)).await {
        Ok(()) => action_page(&staff, id, action, String::new(), None, StatusCode::OK).await,
        Err(SupportError::NotFound) => not_found(&staff),
        Err(e @ SupportError::AboveYourRole) => {
            action_page(&staff, id, action, String::new(), Some(e.to_string()), StatusCode::FORBIDDEN).await
        }
        Err(e) => internal_error(e),
    }
}

#[derive(Deserialize)]
struct ActionForm {
    #[serde(default)]
    reason: String,
}

async fn act(staff: Staff, Path((id, action)): Path<(i64, String)>, Form(f): Form<ActionForm>) -> Response {
    if let Err(r) = staff.require(StaffPermission::UserSupport).await {
        return r;
    }
    let Some(action) = SupportAction::parse(&action) else { return not_found(&staff) };
    match staff
        .state()
        .svc
        .support_action(&staff.grant, &staff.plan.0, UserId(id), action, &f.reason, &staff.meta)
        .await
    {
        Ok(()) => detail_page(&staff, id, Some(format!("Done: {}.", action.label().to_lowercase()))).await,
        Err(SupportError::NotFound) => not_found(&staff),
        Err(e @ (SupportError::Reason | SupportError::NotApplicable(_) | SupportError::LastPracticeAdmin(_))) => {
            let reason = f.reason.chars().take(500).collect();
            action_page(&staff, id, action, reason, Some(e.to_string()), StatusCode::BAD_REQUEST).await
        }
        Err(e @ (SupportError::AboveYourRole | SupportError::OwnAccount)) => {
            let reason = f.reason.chars().take(500).collect();
            action_page(&staff, id, action, reason, Some(e.to_string()), StatusCode::FORBIDDEN).await
        }
        Err(e) => internal_error(e),
    }
}
