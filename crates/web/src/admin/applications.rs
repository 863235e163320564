//! Portal applications: the clients of the permission check API and of OpenID Connect sign-in.
//! List, register (a confidential client's secret is shown once), edit (see [`edit`]), revoke
//! after a confirmation. Plan staff with the applications permission.

mod edit;
mod form;

use super::{AdminChrome, Staff};
use crate::pages::ConfirmPage;
use crate::pages::{Chrome, internal_error, render, when};
use crate::routing::Routes;
use crate::routing::get;
use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use form::FormView;
use gatehouse_domain::ApplicationId;
use gatehouse_domain::staff::StaffPermission;
use gatehouse_services::applications::ApplicationError;

/// The applications page, registration, editing, a new secret and revocation.
pub fn routes() -> Routes {
    Routes::new()
        .route("/admin/applications", get(list).post(create))
        .route("/admin/applications/{id}", get(edit::show).post(edit::save))
        .route("/admin/applications/{id}/secret", get(edit::secret_confirm).post(edit::new_secret))
        .route("/admin/applications/{id}/revoke", get(revoke_confirm).post(revoke))
}

struct Row {
    id: i64,
    name: String,
    client_type: &'static str,
    first_party: bool,
    redirect_uris: Vec<String>,
    client_id: String,
    created: String,
    revoked: Option<String>,
}

/// A registration just made: shown once.
struct Created {
    id: i64,
    name: String,
    client_id: String,
    /// `None` for a public client.
    secret: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/applications.html")]
struct ApplicationsPage {
    chrome: Chrome,
    admin: AdminChrome,
    apps: Vec<Row>,
    created: Option<Created>,
    form: FormView,
    editing: bool,
    notice: Option<String>,
    error: Option<String>,
}

struct View {
    created: Option<Created>,
    form: FormView,
    notice: Option<String>,
    error: Option<String>,
}

impl View {
    fn empty() -> Self {
        Self { created: None, form: FormView::empty(), notice: None, error: None }
    }
}

async fn page(staff: &Staff, status: StatusCode, v: View) -> Response {
    let (chrome, admin) = staff.chrome("/admin/applications");
    match staff.state().svc.list_applications(&staff.grant, &staff.plan.0).await {
        Ok(list) => {
            let apps = list
                .into_iter()
                .map(|a| Row {
                    id: a.id,
                    client_type: a.registration.client_type.as_str(),
                    first_party: a.registration.first_party,
                    redirect_uris: a.registration.redirect_uris.iter().map(|u| u.as_str().to_owned()).collect(),
                    name: a.name,
                    client_id: a.client_id,
                    created: when(&staff.plan.0, a.created_at),
                    revoked: a.revoked_at.map(|t| when(&staff.plan.0, t)),
                })
                .collect();
            let View { created, form, notice, error } = v;
            render(status, &ApplicationsPage { chrome, admin, apps, created, form, editing: false, notice, error })
        }
        Err(e) => internal_error(e),
    }
}

async fn list(staff: Staff) -> Response {
    if let Err(r) = staff.require(StaffPermission::Applications).await {
        return r;
    }
    page(&staff, StatusCode::OK, View::empty()).await
}

/// The answer to a refused grant: the same page every control-panel refusal shows.
async fn denied(staff: &Staff) -> Response {
    staff.require(StaffPermission::Applications).await.err().unwrap_or_else(|| internal_error("denied"))
}

/// The answer for an application this plan does not have (or has revoked).
fn not_found(staff: &Staff) -> Response {
    crate::pages::message_page(
        staff.state(),
        staff.parts(),
        StatusCode::NOT_FOUND,
        "Application not found",
        "No live application of this plan has that id.",
        "/admin/applications",
        "Back to applications",
    )
}

async fn create(staff: Staff, Form(fields): Form<Vec<(String, String)>>) -> Response {
    if let Err(r) = staff.require(StaffPermission::Applications).await {
        return r;
    }
    let form = FormView::posted(&fields);
    match staff.state().svc.register_application(&staff.grant, &staff.plan.0, &form.input(), &staff.meta).await {
        Ok(c) => {
            let created = Created { id: c.row.id, name: c.row.name, client_id: c.row.client_id, secret: c.secret };
            page(&staff, StatusCode::OK, View { created: Some(created), ..View::empty() }).await
        }
        Err(ApplicationError::Invalid(errors)) => {
            let v = View { form: form.with_errors(&errors), ..View::empty() };
            page(&staff, StatusCode::BAD_REQUEST, v).await
        }
        Err(ApplicationError::Denied(_)) => denied(&staff).await,
        Err(e) => internal_error(e),
    }
}

async fn revoke_confirm(staff: Staff, Path(id): Path<ApplicationId>) -> Response {
    if let Err(r) = staff.require(StaffPermission::Applications).await {
        return r;
    }
    // Another plan's application, or none: not found.
    let app = match staff.state().svc.list_applications(&staff.grant, &staff.plan.0).await {
        Ok(list) => list.into_iter().find(|a| a.id == id.0),
        Err(e) => return internal_error(e),
    };
    let Some(app) = app else {
        return crate::pages::message_page(
            staff.state(),
            staff.parts(),
            StatusCode::NOT_FOUND,
            "Application not found",
            "No application of this plan has that id.",
            "/admin/applications",
            "Back to applications",
        );
    };
    let (chrome, _) = staff.chrome("/admin/applications");
    render(
        StatusCode::OK,
        &ConfirmPage {
            chrome,
            heading: format!("Revoke {}?", app.name),
            question: "Its client id and secret stop working at once; it can no longer sign people in or ask who \
                       may do what. This cannot be undone: register it again for a new client id."
                .into(),
            action: format!("/admin/applications/{id}/revoke"),
            confirm_label: "Revoke the application".into(),
            cancel_href: "/admin/applications".into(),
            cancel_label: "Cancel".into(),
        },
    )
}

async fn revoke(staff: Staff, Path(id): Path<ApplicationId>) -> Response {
    if let Err(r) = staff.require(StaffPermission::Applications).await {
        return r;
    }
    match staff.state().svc.revoke_application(&staff.grant, &staff.plan.0, id, &staff.meta).await {
        Ok(row) => {
            let v = View { notice: Some(format!("Revoked {}.", row.name)), ..View::empty() };
            page(&staff, StatusCode::OK, v).await
        }
        Err(e @ ApplicationError::NotFound) => {
            page(&staff, StatusCode::NOT_FOUND, View { error: Some(e.to_string()), ..View::empty() }).await
        }
        Err(ApplicationError::Denied(_)) => denied(&staff).await,
        Err(e) => internal_error(e),
    }
}
