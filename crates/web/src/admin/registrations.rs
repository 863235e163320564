//! The registration queue: pending administrator requests, one request against the roster,
//! approve (after a confirmation) and deny (with a required reason).

use super::{AdminChrome, Staff};
use crate::pages::{Chrome, internal_error, message_page, render, when};
use crate::routing::Routes;
use crate::routing::get;
use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_domain::RegistrationId;
use gatehouse_domain::UserStatus;
use gatehouse_domain::staff::StaffPermission;
use gatehouse_services::plans::Plan;
use gatehouse_services::registrations::review::{RegistrationDetail, ReviewError};
use gatehouse_services::registrations::{AdminRow, RegistrationRow, Status};
use serde::Deserialize;

pub fn routes() -> Routes {
    Routes::new()
        .route("/admin/registrations", get(queue))
        .route("/admin/registrations/{id}", get(detail))
        .route("/admin/registrations/{id}/approve", get(approve_confirm).post(approve))
        .route("/admin/registrations/{id}/deny", get(deny_form).post(deny))
}

const PERM: StaffPermission = StaffPermission::Registrations;
const HERE: &str = "/admin/registrations";

/// A stored phone (E.164) as people read it: `206-555-0143` for US numbers.
fn phone(e164: &str) -> String {
    match e164.strip_prefix("+1") {
        Some(d) if d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{}-{}-{}", &d[..3], &d[3..6], &d[6..])
        }
        _ => e164.to_owned(),
    }
}

struct AdminView {
    kind: &'static str,
    name: String,
    phone: String,
    email: String,
}

fn admin_view(kind: &'static str, a: &AdminRow) -> AdminView {
    AdminView {
        kind,
        name: format!("{} {}", a.first_name, a.last_name),
        phone: phone(&a.phone),
        email: a.email.clone(),
    }
}

/// A request as the pages show it.
struct RequestView {
    id: i64,
    pending: bool,
    status: &'static str,
    received: String,
    practice_name: String,
    tax_id: String,
    address: Vec<String>,
    phone: String,
    fax: String,
    admins: [AdminView; 2],
    /// "Approved by … on …", once decided.
    decision: Option<String>,
    reason: Option<String>,
}

fn status_label(s: Status) -> &'static str {
    match s {
        Status::Pending => "Waiting for review",
        Status::Approved => "Approved",
        Status::Denied => "Denied",
    }
}

fn request_view(plan: &Plan, r: &RegistrationRow) -> RequestView {
    let mut address = vec![r.address1.clone()];
    if !r.address2.is_empty() {
        address.push(r.address2.clone());
    }
    address.push(format!("{}, {} {}", r.city, r.state, r.zip));
    let decision = r.decided_at.map(|at| {
        let by = r.decided_by_name.clone().unwrap_or_else(|| "the operator".into());
        format!("{} by {by} on {}", status_label(r.status), when(plan, at))
    });
    RequestView {
        id: r.id,
        pending: r.status == Status::Pending,
        status: status_label(r.status),
        received: when(plan, r.created_at),
        practice_name: r.practice_name.clone(),
        tax_id: r.tax_id.clone(),
        address,
        phone: phone(&r.phone),
        fax: if r.fax.is_empty() { "—".into() } else { phone(&r.fax) },
        admins: [admin_view("Primary", &r.primary), admin_view("Secondary", &r.secondary)],
        decision,
        reason: r.deny_reason.clone(),
    }
}

#[derive(Template)]
#[template(path = "admin/registrations.html")]
struct QueuePage {
    chrome: Chrome,
    admin: AdminChrome,
    pending: Vec<RequestView>,
    recent: Vec<RequestView>,
}

async fn queue(staff: Staff) -> Response {
    if let Err(r) = staff.require(PERM).await {
        return r;
    }
    match staff.state().svc.registration_queue(&staff.grant, &staff.plan.0).await {
        Ok(q) => {
            let (chrome, admin) = staff.chrome(HERE);
            let pending = q.pending.iter().map(|r| request_view(&staff.plan.0, r)).collect();
            let recent = q.recent.iter().map(|r| request_view(&staff.plan.0, r)).collect();
            render(StatusCode::OK, &QueuePage { chrome, admin, pending, recent })
        }
        Err(e) => review_error(&staff, e).await,
    }
}

struct ProviderView {
    provider_id: String,
    npi: String,
    kind: String,
    name: String,
}

struct RosterView {
    name: String,
    address: String,
    providers: Vec<ProviderView>,
    provider_count: i64,
}

struct ExistingAdmin {
    name: String,
    email: String,
    status: &'static str,
}

#[derive(Template)]
#[template(path = "admin/registration.html")]
struct DetailPage {
    chrome: Chrome,
    admin: AdminChrome,
    r: RequestView,
    roster: Option<RosterView>,
    existing: Vec<ExistingAdmin>,
    notice: Option<String>,
    error: Option<String>,
}

fn existing_admins(d: &RegistrationDetail) -> Vec<ExistingAdmin> {
    d.admins
        .iter()
        .map(|a| ExistingAdmin {
            name: format!("{} {}", a.first_name, a.last_name),
            email: a.email.clone(),
            status: if a.status == UserStatus::Active { "Active" } else { "Invited, not signed up yet" },
        })
        .collect()
}

fn detail_page(staff: &Staff, d: &RegistrationDetail, notice: Option<String>, error: Option<String>) -> DetailPage {
    let (chrome, admin) = staff.chrome(HERE);
    let roster = d.roster.as_ref().map(|m| {
        let p = &m.practice;
        let line2 = if p.address2.is_empty() { String::new() } else { format!(", {}", p.address2) };
        RosterView {
            name: p.name.clone(),
            address: format!("{}{line2}, {}, {} {}", p.address1, p.city, p.state, p.zip),
            providers: m
                .providers
                .iter()
                .map(|v| ProviderView {
                    provider_id: v.provider_id.clone(),
                    npi: v.npi.clone(),
                    kind: v.kind.clone(),
                    name: v.name.clone(),
                })
                .collect(),
            provider_count: m.provider_count,
        }
    });
    DetailPage {
        chrome,
        admin,
        r: request_view(&staff.plan.0, &d.request),
        roster,
        existing: existing_admins(d),
        notice,
        error,
    }
}

/// The request's page with a notice or an error, or the error's own page.
async fn show(
    staff: &Staff,
    id: RegistrationId,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    match staff.state().svc.registration(&staff.grant, &staff.plan.0, id).await {
        Ok(d) => render(status, &detail_page(staff, &d, notice, error)),
        Err(e) => review_error(staff, e).await,
    }
}

async fn detail(staff: Staff, Path(id): Path<RegistrationId>) -> Response {
    if let Err(r) = staff.require(PERM).await {
        return r;
    }
    show(&staff, id, StatusCode::OK, None, None).await
}

/// Errors that are not shown on the request's own page.
async fn review_error(staff: &Staff, e: ReviewError) -> Response {
    match e {
        ReviewError::NotFound => message_page(
            staff.state(),
            staff.parts(),
            StatusCode::NOT_FOUND,
            "Request not found",
            "There is no such registration request in this plan.",
            HERE,
            "Back to registration requests",
        ),
        ReviewError::Denied(_) => staff.require(PERM).await.err().unwrap_or_else(|| internal_error("denied")),
        other => internal_error(other),
    }
}

/// The request's page saying it was already decided (a stale approve or deny link).
fn already_decided(staff: &Staff, d: &RegistrationDetail) -> Response {
    let decision = request_view(&staff.plan.0, &d.request).decision.unwrap_or_default();
    let error = Some(format!("This request was already decided: {decision}."));
    render(StatusCode::CONFLICT, &detail_page(staff, d, None, error))
}

#[derive(Template)]
#[template(path = "admin/registration_approve.html")]
struct ApprovePage {
    chrome: Chrome,
    admin: AdminChrome,
    r: RequestView,
    roster_name: Option<String>,
    existing: Vec<ExistingAdmin>,
}

async fn approve_confirm(staff: Staff, Path(id): Path<RegistrationId>) -> Response {
    if let Err(r) = staff.require(PERM).await {
        return r;
    }
    let d = match staff.state().svc.registration(&staff.grant, &staff.plan.0, id).await {
        Ok(d) => d,
        Err(e) => return review_error(&staff, e).await,
    };
    if d.request.status != Status::Pending {
        return already_decided(&staff, &d);
    }
    let (chrome, admin) = staff.chrome(HERE);
    let page = ApprovePage {
        chrome,
        admin,
        r: request_view(&staff.plan.0, &d.request),
        roster_name: d.roster.as_ref().map(|m| m.practice.name.clone()),
        existing: existing_admins(&d),
    };
    render(StatusCode::OK, &page)
}

async fn approve(staff: Staff, Path(id): Path<RegistrationId>) -> Response {
    if let Err(r) = staff.require(PERM).await {
        return r;
    }
    match staff.state().svc.approve_registration(&staff.grant, &staff.plan.0, id, &staff.meta).await {
        Ok(a) => {
            let emails = a.admins.iter().map(|a| a.email.as_str()).collect::<Vec<_>>().join(" and ");
            let practice = if a.practice_created { " The practice was added to the roster." } else { "" };
            let offered: Vec<&str> = a.admins.iter().filter(|a| a.offered).map(|a| a.email.as_str()).collect();
            let offered = if offered.is_empty() {
                String::new()
            } else {
                format!(
                    " {} already has an account: nothing was added to it until they accept the practice's administration.",
                    offered.join(" and ")
                )
            };
            let notice = format!("Approved. The approval emails were sent to {emails}.{offered}{practice}");
            show(&staff, id, StatusCode::OK, Some(notice), None).await
        }
        Err(e @ ReviewError::AlreadyDecided { .. }) => {
            show(&staff, id, StatusCode::CONFLICT, None, Some(e.to_string())).await
        }
        Err(e @ ReviewError::StaffNamed(_)) => {
            show(&staff, id, StatusCode::UNPROCESSABLE_ENTITY, None, Some(e.to_string())).await
        }
        Err(e) => review_error(&staff, e).await,
    }
}

#[derive(Template)]
#[template(path = "admin/registration_deny.html")]
struct DenyPage {
    chrome: Chrome,
    admin: AdminChrome,
    r: RequestView,
    reason: String,
    reason_error: Option<String>,
}

async fn deny_form(staff: Staff, Path(id): Path<RegistrationId>) -> Response {
    if let Err(r) = staff.require(PERM).await {
        return r;
    }
    match staff.state().svc.registration(&staff.grant, &staff.plan.0, id).await {
        Ok(d) if d.request.status != Status::Pending => already_decided(&staff, &d),
        Ok(d) => {
            let (chrome, admin) = staff.chrome(HERE);
            render(
                StatusCode::OK,
                &DenyPage {
                    chrome,
                    admin,
                    r: request_view(&staff.plan.0, &d.request),
                    reason: String::new(),
                    reason_error: None,
                },
            )
        }
        Err(e) => review_error(&staff, e).await,
    }
}

#[derive(Deserialize)]
struct DenyBody {
    #[serde(default)]
    reason: String,
}

async fn deny(staff: Staff, Path(id): Path<RegistrationId>, Form(f): Form<DenyBody>) -> Response {
    if let Err(r) = staff.require(PERM).await {
        return r;
    }
    match staff.state().svc.deny_registration(&staff.grant, &staff.plan.0, id, &f.reason, &staff.meta).await {
        Ok(()) => {
            let notice = "Denied. Both administrators were emailed the reason.".to_owned();
            show(&staff, id, StatusCode::OK, Some(notice), None).await
        }
        Err(e) if e.field().is_some() => match staff.state().svc.registration(&staff.grant, &staff.plan.0, id).await {
            Ok(d) => {
                let (chrome, admin) = staff.chrome(HERE);
                let reason = f.reason.chars().take(2000).collect();
                let page = DenyPage {
                    chrome,
                    admin,
                    r: request_view(&staff.plan.0, &d.request),
                    reason,
                    reason_error: Some(e.to_string()),
                };
                render(StatusCode::BAD_REQUEST, &page)
            }
            Err(e) => review_error(&staff, e).await,
        },
        Err(e @ ReviewError::AlreadyDecided { .. }) => {
            show(&staff, id, StatusCode::CONFLICT, None, Some(e.to_string())).await
        }
        Err(e) => review_error(&staff, e).await,
    }
}

#[cfg(test)]
mod tests {
    use super::phone;

    #[test]
    fn us_numbers_are_shown_with_dashes() {
        assert_eq!(phone("+12065550143"), "206-555-0143");
        assert_eq!(phone("+442079460958"), "+442079460958");
    }
}
