//! User types: each type's name and permissions, one form per type.

use super::{AdminChrome, Staff};
use crate::pages::{Chrome, internal_error, message_page, render};
use crate::routing::Routes;
use crate::routing::{get, post};
use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_domain::permissions::{Permission, PermissionSet};
use gatehouse_domain::staff::StaffPermission;
use gatehouse_services::user_types::UserTypeError;

/// The user types page and its per-type form.
pub fn routes() -> Routes {
    Routes::new().route("/admin/user-types", get(show)).route("/admin/user-types/{key}", post(save))
}

struct PermissionBox {
    name: &'static str,
    label: &'static str,
    checked: bool,
}

struct TypeForm {
    key: String,
    name: String,
    permissions: Vec<PermissionBox>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/user_types.html")]
struct UserTypesPage {
    chrome: Chrome,
    admin: AdminChrome,
    types: Vec<TypeForm>,
    notice: Option<String>,
}

/// A form as submitted, shown again with its error.
struct Submitted {
    key: String,
    name: String,
    permissions: PermissionSet,
    error: String,
}

fn boxes(set: PermissionSet) -> Vec<PermissionBox> {
    Permission::ALL
        .into_iter()
        .map(|p| PermissionBox { name: p.as_str(), label: p.label(), checked: set.contains(p) })
        .collect()
}

async fn render_page(
    staff: &Staff,
    status: StatusCode,
    submitted: Option<Submitted>,
    notice: Option<String>,
) -> Response {
    let (chrome, admin) = staff.chrome("/admin/user-types");
    let list = match staff.state().svc.list_user_types(&staff.plan.0).await {
        Ok(l) => l,
        Err(e) => return internal_error(e),
    };
    let types = list
        .into_iter()
        .map(|t| match &submitted {
            Some(s) if s.key == t.key.as_str() => TypeForm {
                key: s.key.clone(),
                name: s.name.clone(),
                permissions: boxes(s.permissions),
                error: Some(s.error.clone()),
            },
            _ => TypeForm { key: t.key.to_string(), name: t.name, permissions: boxes(t.permissions), error: None },
        })
        .collect();
    render(status, &UserTypesPage { chrome, admin, types, notice })
}

async fn show(staff: Staff) -> Response {
    if let Err(r) = staff.require(StaffPermission::PlanSettings).await {
        return r;
    }
    render_page(&staff, StatusCode::OK, None, None).await
}

async fn save(staff: Staff, Path(key): Path<String>, Form(form): Form<Vec<(String, String)>>) -> Response {
    if let Err(r) = staff.require(StaffPermission::PlanSettings).await {
        return r;
    }
    let name: String =
        form.iter().find(|(k, _)| k == "name").map(|(_, v)| v.chars().take(200).collect()).unwrap_or_default();
    let names = form.iter().filter(|(k, _)| k == "permission").map(|(_, v)| v.as_str());
    let svc = &staff.state().svc;
    let result = match PermissionSet::from_names(names) {
        Ok(set) => {
            svc.update_user_type(&staff.grant, &staff.plan.0, &key, &name, set, &staff.meta).await.map_err(|e| (e, set))
        }
        Err(e) => {
            let submitted = Submitted { key, name, permissions: PermissionSet::EMPTY, error: e.to_string() };
            return render_page(&staff, StatusCode::BAD_REQUEST, Some(submitted), None).await;
        }
    };
    match result {
        Ok(change) if change.changed() => {
            let notice = format!("Saved {}.", change.after.name);
            render_page(&staff, StatusCode::OK, None, Some(notice)).await
        }
        Ok(_) => render_page(&staff, StatusCode::OK, None, Some("Nothing changed.".into())).await,
        Err((UserTypeError::NotFound, _)) => message_page(
            staff.state(),
            staff.parts(),
            StatusCode::NOT_FOUND,
            "No such user type",
            "This plan has no user type of that name.",
            "/admin/user-types",
            "Back to user types",
        ),
        Err((e @ (UserTypeError::BadName | UserTypeError::LastAdministratorType), set)) => {
            let submitted = Submitted { key, name, permissions: set, error: e.to_string() };
            render_page(&staff, StatusCode::BAD_REQUEST, Some(submitted), None).await
        }
        Err((UserTypeError::Denied(_), _)) => match staff.require(StaffPermission::PlanSettings).await {
            Err(r) => r,
            Ok(()) => internal_error("grant refused a permitted action"),
        },
        Err((e @ UserTypeError::Internal(_), _)) => internal_error(e),
    }
}
