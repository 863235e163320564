//! Staff accounts: list, invite (plan administrator, help desk agent, auditor), remove.

use super::{AdminChrome, Staff};
use crate::pages::ConfirmPage;
use crate::pages::{Chrome, internal_error, render, when};
use crate::routing::Routes;
use crate::routing::{get, post};
use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_domain::UserId;
use gatehouse_domain::staff::{StaffPermission, StaffRole};
use gatehouse_services::invitations::{InviteError, InviteRequest};
use gatehouse_services::staff::StaffError;
use serde::Deserialize;

pub fn routes() -> Routes {
    Routes::new()
        .route("/admin/staff", get(list))
        .route("/admin/staff/invite", post(invite))
        .route("/admin/staff/{id}/remove", get(remove_confirm).post(remove))
}

struct Row {
    id: i64,
    name: String,
    username: String,
    email: String,
    role: &'static str,
    status: &'static str,
    last_signin: String,
    is_me: bool,
}

#[derive(Default)]
struct InviteForm {
    first_name: String,
    last_name: String,
    email: String,
    role: String,
    error: Option<String>,
    field: &'static str,
}

#[derive(Template)]
#[template(path = "admin/staff.html")]
struct StaffPage {
    chrome: Chrome,
    admin: AdminChrome,
    staff: Vec<Row>,
    roles: &'static [(&'static str, &'static str)],
    form: InviteForm,
    notice: Option<String>,
    error: Option<String>,
}

const ROLES: &[(&str, &str)] =
    &[("help_desk", "Help desk agent"), ("auditor", "Auditor (read only)"), ("plan_admin", "Plan administrator")];

async fn page(
    staff: &Staff,
    status: StatusCode,
    form: InviteForm,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let (chrome, admin) = staff.chrome("/admin/staff");
    let me = staff.session.user_id;
    match staff.state().svc.list_staff(&staff.grant, &staff.plan.0).await {
        Ok(list) => {
            let rows = list
                .into_iter()
                .map(|m| Row {
                    id: m.user_id.0,
                    is_me: m.user_id == me,
                    name: m.name,
                    username: m.username.unwrap_or_else(|| "(not signed up yet)".into()),
                    email: m.email,
                    role: m.role.label(),
                    status: match m.status {
                        gatehouse_domain::UserStatus::Invited => "Invited",
                        gatehouse_domain::UserStatus::Active => "Active",
                        gatehouse_domain::UserStatus::Deactivated => "Deactivated",
                    },
                    last_signin: m.last_signin_at.map(|t| when(&staff.plan.0, t)).unwrap_or_else(|| "Never".into()),
                })
                .collect();
            let form = InviteForm { role: if form.role.is_empty() { "help_desk".into() } else { form.role }, ..form };
            render(status, &StaffPage { chrome, admin, staff: rows, roles: ROLES, form, notice, error })
        }
        Err(e) => internal_error(e),
    }
}

async fn list(staff: Staff) -> Response {
    if let Err(r) = staff.require(StaffPermission::ManageStaff).await {
        return r;
    }
    page(&staff, StatusCode::OK, InviteForm::default(), None, None).await
}

#[derive(Deserialize)]
struct InviteBody {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

async fn invite(staff: Staff, Form(f): Form<InviteBody>) -> Response {
    if let Err(r) = staff.require(StaffPermission::ManageStaff).await {
        return r;
    }
    let mut form = InviteForm {
        first_name: f.first_name.chars().take(60).collect(),
        last_name: f.last_name.chars().take(60).collect(),
        email: f.email.chars().take(254).collect(),
        role: f.role.clone(),
        ..InviteForm::default()
    };
    let Some(role) = StaffRole::parse(&f.role) else {
        form.error = Some("Choose a role.".into());
        form.field = "role";
        return page(&staff, StatusCode::BAD_REQUEST, form, None, None).await;
    };
    let req = match InviteRequest::parse(&f.first_name, &f.last_name, &f.email) {
        Ok(r) => r,
        Err(e) => {
            form.field = match &e {
                InviteError::Name(gatehouse_domain::names::NameError::LastEmpty) => "last_name",
                InviteError::Name(_) => "first_name",
                _ => "email",
            };
            form.error = Some(e.to_string());
            return page(&staff, StatusCode::BAD_REQUEST, form, None, None).await;
        }
    };
    match staff.state().svc.invite_staff(&staff.grant, &staff.plan.0, &req, role, &staff.meta).await {
        Ok(_) => {
            let notice = format!("Invitation sent to {}. The link works once and expires in 72 hours.", req.email);
            page(&staff, StatusCode::OK, InviteForm::default(), Some(notice), None).await
        }
        Err(e @ StaffError::AlreadyStaff(_)) => {
            form.error = Some(e.to_string());
            form.field = "email";
            page(&staff, StatusCode::CONFLICT, form, None, None).await
        }
        Err(StaffError::Denied(_)) => {
            staff.require(StaffPermission::ManageStaff).await.err().unwrap_or_else(|| internal_error("denied"))
        }
        Err(e) => internal_error(e),
    }
}

async fn remove_confirm(staff: Staff, Path(id): Path<i64>) -> Response {
    if let Err(r) = staff.require(StaffPermission::ManageStaff).await {
        return r;
    }
    // Another plan's staff member, or nobody: not found.
    let member = match staff.state().svc.list_staff(&staff.grant, &staff.plan.0).await {
        Ok(list) => list.into_iter().find(|m| m.user_id.0 == id),
        Err(e) => return internal_error(e),
    };
    let Some(member) = member else {
        return crate::pages::message_page(
            staff.state(),
            staff.parts(),
            StatusCode::NOT_FOUND,
            "Staff member not found",
            "No staff member of this plan has that id.",
            "/admin/staff",
            "Back to staff",
        );
    };
    let (chrome, _) = staff.chrome("/admin/staff");
    render(
        StatusCode::OK,
        &ConfirmPage {
            chrome,
            heading: format!("Remove {} from staff?", member.name),
            question: "They lose access to the control panel at once. Their own portal account stays.".into(),
            action: format!("/admin/staff/{id}/remove"),
            confirm_label: "Remove from staff".into(),
            cancel_href: "/admin/staff".into(),
            cancel_label: "Cancel".into(),
        },
    )
}

async fn remove(staff: Staff, Path(id): Path<i64>) -> Response {
    if let Err(r) = staff.require(StaffPermission::ManageStaff).await {
        return r;
    }
    match staff.state().svc.remove_staff(&staff.grant, &staff.plan.0, UserId(id), &staff.meta).await {
        Ok(()) => page(&staff, StatusCode::OK, InviteForm::default(), Some("Removed from staff.".into()), None).await,
        Err(e @ (StaffError::LastPlanAdmin | StaffError::NotFound)) => {
            let status = if matches!(e, StaffError::NotFound) { StatusCode::NOT_FOUND } else { StatusCode::CONFLICT };
            page(&staff, status, InviteForm::default(), None, Some(e.to_string())).await
        }
        Err(e) => internal_error(e),
    }
}
