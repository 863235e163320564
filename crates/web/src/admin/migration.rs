//! The legacy migration report: accounts imported from the old system, how many have signed in
//! here (migrated) and how many have not yet (pending), in total and by practice.

use super::{AdminChrome, Staff};
use crate::pages::{Chrome, internal_error, render};
use crate::routing::Routes;
use crate::routing::get;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_domain::staff::StaffPermission;
use gatehouse_services::legacy_import::PracticeMigration;

pub fn routes() -> Routes {
    Routes::new().route("/admin/migration", get(report))
}

#[derive(Template)]
#[template(path = "admin/migration.html")]
struct ReportPage {
    chrome: Chrome,
    admin: AdminChrome,
    imported: i64,
    migrated: i64,
    practices: Vec<PracticeMigration>,
}

async fn report(staff: Staff) -> Response {
    if let Err(r) = staff.require(StaffPermission::UserSearch).await {
        return r.into_response();
    }
    let (chrome, admin) = staff.chrome("/admin/migration");
    match staff.state().svc.legacy_migration_report(&staff.grant, &staff.plan.0).await {
        Ok((imported, migrated, practices)) => {
            render(StatusCode::OK, &ReportPage { chrome, admin, imported, migrated, practices })
        }
        Err(e) => internal_error(e),
    }
}
