//! One application's page: its registration's form (errors beside their fields), a new secret
//! for a confidential client after a confirmation (shown once), and a link to revoke it.

use super::form::FormView;
use super::{denied, not_found};
use crate::admin::{AdminChrome, Staff};
use crate::pages::{Chrome, ConfirmPage, internal_error, render, when};
use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_domain::ApplicationId;
use gatehouse_domain::staff::StaffPermission;
use gatehouse_services::applications::ApplicationError;
use gatehouse_services::applications::ApplicationRow;

#[derive(Template)]
#[template(path = "admin/application.html")]
struct ApplicationPage {
    chrome: Chrome,
    admin: AdminChrome,
    id: i64,
    heading: String,
    stored_name: String,
    client_id: String,
    created: String,
    updated: String,
    form: FormView,
    editing: bool,
    new_secret: Option<String>,
    notice: Option<String>,
    error: Option<String>,
}

/// What the page shows besides the stored application.
#[derive(Default)]
struct Extra {
    form: Option<FormView>,
    new_secret: Option<String>,
    notice: Option<String>,
    error: Option<String>,
}

fn page(staff: &Staff, status: StatusCode, app: &ApplicationRow, extra: Extra) -> Response {
    let (chrome, admin) = staff.chrome("/admin/applications");
    let form = extra.form.unwrap_or_else(|| FormView::stored(&app.name, &app.registration));
    let plan = &staff.plan.0;
    render(
        status,
        &ApplicationPage {
            chrome,
            admin,
            id: app.id,
            heading: format!("Application: {}", app.name),
            stored_name: app.name.clone(),
            client_id: app.client_id.clone(),
            created: when(plan, app.created_at),
            updated: when(plan, app.updated_at),
            form,
            editing: true,
            new_secret: extra.new_secret,
            notice: extra.notice,
            error: extra.error,
        },
    )
}

/// The application's page (another plan's, a revoked one or none: not found).
pub(super) async fn show(staff: Staff, Path(id): Path<ApplicationId>) -> Response {
    if let Err(r) = staff.require(StaffPermission::Applications).await {
        return r;
    }
    match staff.state().svc.application(&staff.grant, &staff.plan.0, id).await {
        Ok(app) => page(&staff, StatusCode::OK, &app, Extra::default()),
        Err(ApplicationError::NotFound) => not_found(&staff),
        Err(ApplicationError::Denied(_)) => denied(&staff).await,
        Err(e) => internal_error(e),
    }
}

/// Saves the registration; mistakes are shown beside their fields and nothing changes.
pub(super) async fn save(
    staff: Staff,
    Path(id): Path<ApplicationId>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = staff.require(StaffPermission::Applications).await {
        return r;
    }
    let svc = &staff.state().svc;
    let form = FormView::posted(&fields);
    match svc.update_application(&staff.grant, &staff.plan.0, id, &form.input(), &staff.meta).await {
        Ok(app) => {
            let notice = Some(format!("Saved {}.", app.name));
            page(&staff, StatusCode::OK, &app, Extra { notice, ..Extra::default() })
        }
        Err(ApplicationError::Invalid(errors)) => {
            // Read for the page's header only: the refused change was not written.
            match svc.application(&staff.grant, &staff.plan.0, id).await {
                Ok(app) => {
                    let mut form = form.with_errors(&errors);
                    form.client_type = app.registration.client_type.as_str().into();
                    page(&staff, StatusCode::BAD_REQUEST, &app, Extra { form: Some(form), ..Extra::default() })
                }
                Err(ApplicationError::NotFound) => not_found(&staff),
                Err(e) => internal_error(e),
            }
        }
        Err(ApplicationError::NotFound) => not_found(&staff),
        Err(ApplicationError::Denied(_)) => denied(&staff).await,
        Err(e) => internal_error(e),
    }
}

/// Asks before replacing a confidential client's secret.
pub(super) async fn secret_confirm(staff: Staff, Path(id): Path<ApplicationId>) -> Response {
    if let Err(r) = staff.require(StaffPermission::Applications).await {
        return r;
    }
    let app = match staff.state().svc.application(&staff.grant, &staff.plan.0, id).await {
        Ok(app) => app,
        Err(ApplicationError::NotFound) => return not_found(&staff),
        Err(ApplicationError::Denied(_)) => return denied(&staff).await,
        Err(e) => return internal_error(e),
    };
    let (chrome, _) = staff.chrome("/admin/applications");
    render(
        StatusCode::OK,
        &ConfirmPage {
            chrome,
            heading: format!("Make a new secret for {}?", app.name),
            question: "The current secret stops working at once: the application cannot sign people in or ask \
                       the permission check API until it is given the new one, which is shown once."
                .into(),
            action: format!("/admin/applications/{id}/secret"),
            confirm_label: "Make a new secret".into(),
            cancel_href: format!("/admin/applications/{id}"),
            cancel_label: "Cancel".into(),
        },
    )
}

/// Replaces the secret and shows the new one, once.
pub(super) async fn new_secret(staff: Staff, Path(id): Path<ApplicationId>) -> Response {
    if let Err(r) = staff.require(StaffPermission::Applications).await {
        return r;
    }
    let svc = &staff.state().svc;
    match svc.regenerate_application_secret(&staff.grant, &staff.plan.0, id, &staff.meta).await {
        Ok((app, secret)) => page(&staff, StatusCode::OK, &app, Extra { new_secret: Some(secret), ..Extra::default() }),
        Err(e @ ApplicationError::PublicClient) => match svc.application(&staff.grant, &staff.plan.0, id).await {
            Ok(app) => {
                page(&staff, StatusCode::BAD_REQUEST, &app, Extra { error: Some(e.to_string()), ..Extra::default() })
            }
            Err(e) => internal_error(e),
        },
        Err(ApplicationError::NotFound) => not_found(&staff),
        Err(ApplicationError::Denied(_)) => denied(&staff).await,
        Err(e) => internal_error(e),
    }
}
