//! Legacy accounts over JSON, for plan administrators: import a file, read the migration report.

use super::ApiError;
use super::body::RawBody;
use super::caller::{Importer, StaffCaller};
use super::roster::{UploadFile, grant};
use crate::AppState;
use crate::extract::{BearerSession, CurrentPlan, Meta};
use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use gatehouse_services::legacy_import::{LegacyImportError, LegacyImportReport, LegacyRejection};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::router::UtoipaMethodRouterExt;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import).layer(DefaultBodyLimit::max(crate::admin::MAX_UPLOAD)))
        .routes(routes!(report))
}

fn error(e: LegacyImportError) -> ApiError {
    match e {
        LegacyImportError::Internal(e) => ApiError::internal(e),
        LegacyImportError::Denied(d) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", d.to_string()),
        other => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_file", other.to_string()),
    }
}

/// A line that was not imported, and why.
#[derive(Serialize, ToSchema)]
pub struct LegacyRejectionBody {
    /// 1-based line of the file.
    pub line: u64,
    pub username: String,
    pub reasons: Vec<String>,
}

/// What an import did.
#[derive(Serialize, ToSchema)]
pub struct LegacyImportReportBody {
    /// Accounts read from the file.
    pub accounts: u64,
    /// New accounts created.
    pub imported: u64,
    /// Accounts imported before, left as they were.
    pub unchanged: u64,
    /// Affiliations added (to new or earlier imported accounts).
    pub affiliations_added: u64,
    pub rejected_count: u64,
    /// At most 10,000 (`rejected_count` is exact).
    pub rejected: Vec<LegacyRejectionBody>,
    /// Tax IDs that now have active users but no active administrator: the help desk or a plan
    /// administrator should make one.
    pub practices_without_admin: Vec<String>,
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl From<LegacyImportReport> for LegacyImportReportBody {
    fn from(r: LegacyImportReport) -> Self {
        // Every field named: a field added to the report does not compile here until it is
        // documented.
        let LegacyImportReport {
            accounts,
            imported,
            unchanged,
            affiliations_added,
            rejected_count,
            rejected,
            practices_without_admin,
        } = r;
        Self {
            accounts: count(accounts),
            imported: count(imported),
            unchanged: count(unchanged),
            affiliations_added: count(affiliations_added),
            rejected_count: count(rejected_count),
            rejected: rejected
                .into_iter()
                .map(|LegacyRejection { line, username, reasons }| LegacyRejectionBody {
                    line: count(line),
                    username,
                    reasons,
                })
                .collect(),
            practices_without_admin,
        }
    }
}

/// A one-account CSV file, for the document's example.
const EXAMPLE_CSV: &str = "Username,First Name,Last Name,Email,Tax ID,User Type,Providers,Administrator,Hash Format,Hash,Salt,Iterations\n\
    csvuser,Cara,Svensson,cara@old.example.org,825671892,billing_staff,all,no,pbkdf2-sha256,\
    458248df38298a8d987f783f53f28ee175c5d826c637cd8d05a138ba77f57c3f,NaCl,1000\n";

/// Imports legacy accounts with their old password hashes. Plan administrators only.
///
/// The body is the file as it is: CSV (a header row, one line per affiliation) or JSON lines
/// (one account a line). An account imported before is left as it is; running the same file
/// again changes nothing. Lines that cannot be imported are reported, the others imported.
#[utoipa::path(post, path = "/legacy-users/imports", security(("bearer" = [])),
    request_body(description = "The export of the old portal: UTF-8 CSV, or JSON lines.",
        content((inline(UploadFile) = "text/csv", example = json!(EXAMPLE_CSV)), (inline(UploadFile) = "application/x-ndjson"))),
    responses((status = 200, body = LegacyImportReportBody, description = "What the import did."),
        (status = 403, description = "`forbidden`: not plan staff allowed to import accounts."),
        (status = 413, description = "`body_too_large`: the file is larger than 64 MB."),
        (status = 422, description = "`invalid_file`: the file is empty, or not UTF-8 CSV or JSON lines.")))]
pub async fn import(
    State(st): State<AppState>,
    Importer(StaffCaller { grant: g, plan, meta }): Importer,
    RawBody(body): RawBody,
) -> Result<Json<LegacyImportReportBody>, ApiError> {
    let text = std::str::from_utf8(&body).map_err(|_| error(LegacyImportError::Unreadable))?;
    Ok(Json(st.svc.import_legacy_users(&g, &plan.0, text, &meta).await.map_err(error)?.into()))
}

/// One practice's migration.
#[derive(Serialize, ToSchema)]
pub struct MigrationPracticeLine {
    pub tax_id: String,
    pub name: String,
    pub imported: i64,
    pub migrated: i64,
    pub pending: i64,
}

/// Imported accounts and how many have signed in here (migrated), in total and by practice.
#[derive(Serialize, ToSchema)]
pub struct MigrationReport {
    pub imported: i64,
    pub migrated: i64,
    pub pending: i64,
    pub practices: Vec<MigrationPracticeLine>,
}

/// The migration report: imported, migrated and pending accounts, in total and by practice.
#[utoipa::path(get, path = "/legacy-users/report", security(("bearer" = [])),
    responses((status = 200, body = MigrationReport, description = "The figures."),
        (status = 403, description = "`forbidden`: not plan staff allowed to search users.")))]
pub async fn report(
    State(st): State<AppState>,
    plan: CurrentPlan,
    sess: BearerSession,
    Meta(meta): Meta,
) -> Result<Json<MigrationReport>, ApiError> {
    let g = grant(&st, &plan, sess, &meta).await?;
    let (imported, migrated, per) = st.svc.legacy_migration_report(&g, &plan.0).await.map_err(error)?;
    Ok(Json(MigrationReport {
        imported,
        migrated,
        pending: imported - migrated,
        practices: per
            .into_iter()
            .map(|p| MigrationPracticeLine {
                pending: p.imported - p.migrated,
                tax_id: p.tax_id,
                name: p.name,
                imported: p.imported,
                migrated: p.migrated,
            })
            .collect(),
    }))
}
