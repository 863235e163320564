//! Portal applications: the clients of the permission check API. List, register (the secret is
//! shown once), revoke after a confirmation. Plan administrators only.

use super::{AdminChrome, Staff};
use crate::pages::ConfirmPage;
use crate::pages::{Chrome, internal_error, render, when};
use crate::routing::Routes;
use crate::routing::get;
use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_domain::ApplicationId;
use gatehouse_domain::staff::StaffPermission;
use gatehouse_services::applications::ApplicationError;
use serde::Deserialize;

/// The applications page, registration and revocation.
pub fn routes() -> Routes {
    Routes::new()
        .route("/admin/applications", get(list).post(create))
        .route("/admin/applications/{id}/revoke", get(revoke_confirm).post(revoke))
}

struct Row {
    id: i64,
    name: String,
    client_id: String,
    created: String,
    revoked: Option<String>,
}

/// A registration just made: shown once.
struct Created {
    name: String,
    client_id: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "admin/applications.html")]
struct ApplicationsPage {
    chrome: Chrome,
    admin: AdminChrome,
    apps: Vec<Row>,
    created: Option<Created>,
    name: String,
    name_error: Option<String>,
    notice: Option<String>,
    error: Option<String>,
}

struct View {
    created: Option<Created>,
    name: String,
    name_error: Option<String>,
    notice: Option<String>,
    error: Option<String>,
}

impl View {
    fn empty() -> Self {
        Self { created: None, name: String::new(), name_error: None, notice: None, error: None }
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
                    name: a.name,
                    client_id: a.client_id,
                    created: when(&staff.plan.0, a.created_at),
                    revoked: a.revoked_at.map(|t| when(&staff.plan.0, t)),
                })
                .collect();
            let View { created, name, name_error, notice, error } = v;
            render(status, &ApplicationsPage { chrome, admin, apps, created, name, name_error, notice, error })
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

#[derive(Deserialize)]
struct CreateBody {
    #[serde(default)]
    name: String,
}

async fn create(staff: Staff, Form(f): Form<CreateBody>) -> Response {
    if let Err(r) = staff.require(StaffPermission::Applications).await {
        return r;
    }
    let name: String = f.name.chars().take(200).collect();
    match staff.state().svc.create_application(&staff.grant, &staff.plan.0, &name, &staff.meta).await {
        Ok(c) => {
            let created = Created { name: c.row.name, client_id: c.row.client_id, secret: c.secret };
            page(&staff, StatusCode::OK, View { created: Some(created), ..View::empty() }).await
        }
        Err(e @ ApplicationError::BadName) => {
            let v = View { name, name_error: Some(e.to_string()), ..View::empty() };
            page(&staff, StatusCode::BAD_REQUEST, v).await
        }
        Err(ApplicationError::Denied(_)) => {
            staff.require(StaffPermission::Applications).await.err().unwrap_or_else(|| internal_error("denied"))
        }
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
            question: "Its client id and secret stop working at once; it can no longer ask who may do what. \
                       This cannot be undone: register it again for a new secret."
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
        Err(ApplicationError::Denied(_)) => {
            staff.require(StaffPermission::Applications).await.err().unwrap_or_else(|| internal_error("denied"))
        }
        Err(e) => internal_error(e),
    }
}
