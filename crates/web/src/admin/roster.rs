//! The roster on the control panel: search, import a CSV file, and read past change reports.

use super::{AdminChrome, Staff};
use crate::pages::{Chrome, internal_error, message_page, render, when};
use crate::routing::Routes;
use crate::routing::get;
use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_domain::ImportId;
use gatehouse_domain::staff::StaffPermission;
use gatehouse_services::roster::{ImportOptions, ImportReport, RosterError};
use serde::Deserialize;

/// Largest roster file accepted (about 300,000 providers).
pub const MAX_ROSTER_FILE: usize = 64 * 1024 * 1024;

pub fn routes() -> Routes {
    Routes::new()
        .route("/admin/roster", get(search))
        .route("/admin/roster/import", get(import_form).post(import).layer(DefaultBodyLimit::max(MAX_ROSTER_FILE)))
        .route("/admin/roster/imports/{id}", get(report))
}

type ProviderRow = (String, String, String, String, String, String, String, String);
type ImportSummary = (i64, String, String, &'static str, [i64; 5]);

#[derive(Template)]
#[template(path = "admin/roster.html")]
struct RosterPage {
    chrome: Chrome,
    admin: AdminChrome,
    may_import: bool,
    q: String,
    rows: Vec<ProviderRow>,
    page: u32,
    has_more: bool,
    imports: Vec<ImportSummary>,
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<u32>,
}

async fn search(staff: Staff, Query(q): Query<SearchQuery>) -> Response {
    if let Err(r) = staff.require(StaffPermission::RosterView).await {
        return r;
    }
    let svc = &staff.state().svc;
    let query: String = q.q.chars().take(100).collect();
    let page = match svc.search_roster(&staff.grant, &staff.plan.0, &query, q.page.unwrap_or(1).clamp(1, 100_000)).await
    {
        Ok(p) => p,
        Err(e) => return internal_error(e),
    };
    let imports = match svc.roster_imports(&staff.grant, &staff.plan.0, 10).await {
        Ok(i) => i,
        Err(e) => return internal_error(e),
    };
    let rows = page
        .rows
        .into_iter()
        .map(|p| {
            let name = if p.kind == "practitioner" { format!("{}, {}", p.last_name, p.first_name) } else { p.org_name };
            let status = match p.end_dated_at {
                Some(t) => format!("End-dated {}", when(&staff.plan.0, t)),
                None => "Active".into(),
            };
            (
                p.provider_id,
                p.npi,
                p.kind,
                name,
                p.tax_id,
                p.practice_name,
                format!("{}, {} {}", p.city, p.state, p.zip),
                status,
            )
        })
        .collect();
    let imports = imports
        .into_iter()
        .map(|i| {
            let result = if i.outcome == "applied" { "Applied" } else { "Rejected: nothing changed" };
            (
                i.id,
                when(&staff.plan.0, i.at),
                i.file_name,
                result,
                [i.counts.lines, i.counts.added, i.counts.changed, i.counts.removed, i.counts.rejected],
            )
        })
        .collect();
    let (chrome, admin) = staff.chrome("/admin/roster");
    render(
        StatusCode::OK,
        &RosterPage {
            chrome,
            admin,
            may_import: staff.grant.may(StaffPermission::RosterImport),
            q: query,
            rows,
            page: page.page,
            has_more: page.has_more,
            imports,
        },
    )
}

#[derive(Template)]
#[template(path = "admin/roster_import.html")]
struct ImportPage {
    chrome: Chrome,
    admin: AdminChrome,
    error: Option<String>,
}

async fn import_form(staff: Staff) -> Response {
    if let Err(r) = staff.require(StaffPermission::RosterImport).await {
        return r;
    }
    let (chrome, admin) = staff.chrome("/admin/roster");
    render(StatusCode::OK, &ImportPage { chrome, admin, error: None })
}

#[derive(Template)]
#[template(path = "admin/roster_report.html")]
struct ReportPage {
    chrome: Chrome,
    admin: AdminChrome,
    r: ImportReport,
    when: String,
}

fn report_page(staff: &Staff, status: StatusCode, r: ImportReport) -> Response {
    let (chrome, admin) = staff.chrome("/admin/roster");
    let at = when(&staff.plan.0, r.at);
    render(status, &ReportPage { chrome, admin, r, when: at })
}

async fn import(staff: Staff, form: Result<Multipart, MultipartRejection>) -> Response {
    if let Err(r) = staff.require(StaffPermission::RosterImport).await {
        return r;
    }
    // Read only once the permission is known: a caller without it learns nothing from the upload.
    let Ok(mut form) = form else {
        return import_error(&staff, "The upload could not be read. Choose the file again.");
    };
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut opts = ImportOptions::default();
    loop {
        match form.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("file") => {
                    let name = field
                        .file_name()
                        .unwrap_or("roster.csv")
                        .chars()
                        .take(gatehouse_domain::roster::MAX_FILE_NAME)
                        .collect();
                    match field.bytes().await {
                        Ok(b) => file = Some((name, b.to_vec())),
                        Err(_) => {
                            return import_error(
                                &staff,
                                "The file could not be received (it may be larger than 64 MB).",
                            );
                        }
                    }
                }
                Some("mode") => opts.import_valid_rows = field.text().await.is_ok_and(|t| t == "valid_rows"),
                _ => {}
            },
            Ok(None) => break,
            Err(_) => return import_error(&staff, "The upload could not be read. Choose the file again."),
        }
    }
    let Some((name, bytes)) = file else { return import_error(&staff, "Choose a roster file to import.") };
    let svc = &staff.state().svc;
    match svc.import_roster(&staff.grant, &staff.plan.0, &name, &bytes, opts, &staff.meta, &|_| {}).await {
        Ok(r) => {
            let status = if r.applied { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
            report_page(&staff, status, r)
        }
        Err(RosterError::Internal(e)) => internal_error(e),
        Err(e) => import_error(&staff, &e.to_string()),
    }
}

fn import_error(staff: &Staff, text: &str) -> Response {
    let (chrome, admin) = staff.chrome("/admin/roster");
    render(StatusCode::BAD_REQUEST, &ImportPage { chrome, admin, error: Some(text.to_owned()) })
}

async fn report(staff: Staff, Path(id): Path<ImportId>) -> Response {
    if let Err(r) = staff.require(StaffPermission::RosterView).await {
        return r;
    }
    match staff.state().svc.roster_import(&staff.grant, &staff.plan.0, id).await {
        Ok(Some(r)) => report_page(&staff, StatusCode::OK, r),
        Ok(None) => message_page(
            staff.state(),
            staff.parts(),
            StatusCode::NOT_FOUND,
            "Import not found",
            "This plan has no roster import with that number.",
            "/admin/roster",
            "Back to the roster",
        ),
        Err(e) => internal_error(e),
    }
}
