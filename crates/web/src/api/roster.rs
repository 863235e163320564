//! The roster over JSON, for plan staff: import a CSV file, read a change report.

use super::ApiError;
use super::body::{ApiPath, ApiQuery, RawBody};
use super::caller::{Importer, StaffCaller};
use crate::AppState;
use crate::extract::{BearerSession, CurrentPlan, Meta};
use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use gatehouse_domain::ImportId;
use gatehouse_domain::roster::MAX_FILE_NAME;
use gatehouse_services::roster::report::{
    FieldChange, ImportReport, PracticeChange, ProviderChange, ProviderEntry, Rejection, ReportCounts,
};
use gatehouse_services::roster::{ImportOptions, RosterError};
use gatehouse_services::staff::{Denied, StaffGrant};
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, Object, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::router::UtoipaMethodRouterExt;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import).layer(DefaultBodyLimit::max(crate::admin::MAX_UPLOAD)))
        .routes(routes!(report))
}

/// The grant of a plan staff session: 401 without a session, 403 `forbidden` for anyone else
/// (audited by the service, as the control panel's refusals are).
pub(super) async fn grant(
    st: &AppState,
    plan: &CurrentPlan,
    sess: BearerSession,
    meta: &gatehouse_services::RequestMeta,
) -> Result<StaffGrant, ApiError> {
    match st.svc.staff_access(&plan.0, sess.0.as_ref(), meta).await {
        Ok(g) => Ok(g),
        Err(Denied::NotSignedIn) => Err(ApiError::unauthenticated()),
        Err(Denied::NotPermitted) => {
            Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", Denied::NotPermitted.to_string()))
        }
    }
}

fn roster_error(e: RosterError) -> ApiError {
    match e {
        RosterError::Internal(e) => ApiError::internal(e),
        RosterError::Denied(d) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", d.to_string()),
        other => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_file", other.to_string()),
    }
}

/// A file sent as the request body, byte for byte (its media type says what it holds). Any bytes
/// are such a body: what the file's lines hold is checked and reported by the import.
pub struct UploadFile;

impl utoipa::PartialSchema for UploadFile {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for UploadFile {}

/// Options of an import.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Import the valid lines even if some are rejected (default: change nothing when any is).
    #[serde(default)]
    pub accept_valid_rows: bool,
    #[serde(default)]
    #[param(schema_with = file_name)]
    pub file_name: Option<String>,
}

/// A file's name for the import history.
pub fn file_name() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_FILE_NAME))
        .description(Some("The file's name, for the import history (`roster.csv` when absent)."))
        .examples([serde_json::json!("roster-2026-12.csv")])
        .build()
}

/// How many lines and providers an import touched.
#[derive(Serialize, ToSchema)]
pub struct RosterCounts {
    /// Provider lines in the file (header and blank lines aside).
    pub lines: u64,
    pub added: u64,
    pub changed: u64,
    /// Providers end-dated because the file no longer lists them.
    pub removed: u64,
    pub unchanged: u64,
    pub rejected: u64,
    pub practices_added: u64,
    pub practices_changed: u64,
}

/// A provider named in a report.
#[derive(Serialize, ToSchema)]
pub struct RosterProviderEntry {
    pub provider_id: String,
    /// "Last, First" for a practitioner, else the organization's name.
    pub name: String,
    /// `practitioner`, `group` or `facility`.
    pub kind: String,
    pub tax_id: String,
}

/// One value that changed, named by its column in the file.
#[derive(Serialize, ToSchema)]
pub struct RosterFieldChange {
    pub field: String,
    pub old: String,
    pub new: String,
}

/// A provider whose values changed.
#[derive(Serialize, ToSchema)]
pub struct RosterProviderChange {
    pub provider_id: String,
    pub name: String,
    pub changes: Vec<RosterFieldChange>,
}

/// A practice that is new, or whose values changed.
#[derive(Serialize, ToSchema)]
pub struct RosterPracticeChange {
    pub tax_id: String,
    pub name: String,
    /// Empty for a new practice.
    pub changes: Vec<RosterFieldChange>,
}

/// A rejected line.
#[derive(Serialize, ToSchema)]
pub struct RosterRejection {
    /// Line of the file where the record starts (the header is line 1).
    pub line: u64,
    /// The provider ID as written, when the line has one.
    pub provider_id: Option<String>,
    /// Every reason, each naming its column.
    pub reason: String,
}

/// The change report of a roster import: what was added, changed (field: old → new), end-dated
/// and rejected. Lists hold at most 10,000 entries each (`truncated`); the counts are exact.
#[derive(Serialize, ToSchema)]
pub struct RosterImportReport {
    /// The import's number (`GET /roster/imports/{id}`).
    pub id: i64,
    /// When it ran (Unix seconds).
    pub at: i64,
    pub file_name: String,
    /// SHA-256 of the file's bytes, in hex.
    pub file_sha256: String,
    /// Whether the roster was changed. `false` when lines were rejected and `accept_valid_rows`
    /// was not set: then nothing changed and `rejected` says why.
    pub applied: bool,
    pub counts: RosterCounts,
    pub added: Vec<RosterProviderEntry>,
    pub changed: Vec<RosterProviderChange>,
    pub removed: Vec<RosterProviderEntry>,
    pub rejected: Vec<RosterRejection>,
    pub practices_added: Vec<RosterPracticeChange>,
    pub practices_changed: Vec<RosterPracticeChange>,
    /// Whether a list was cut at 10,000 entries.
    pub truncated: bool,
}

impl From<ReportCounts> for RosterCounts {
    fn from(c: ReportCounts) -> Self {
        let ReportCounts { lines, added, changed, removed, unchanged, rejected, practices_added, practices_changed } =
            c;
        Self { lines, added, changed, removed, unchanged, rejected, practices_added, practices_changed }
    }
}

impl From<ProviderEntry> for RosterProviderEntry {
    fn from(p: ProviderEntry) -> Self {
        let ProviderEntry { provider_id, name, kind, tax_id } = p;
        Self { provider_id, name, kind, tax_id }
    }
}

impl From<FieldChange> for RosterFieldChange {
    fn from(f: FieldChange) -> Self {
        let FieldChange { field, old, new } = f;
        Self { field, old, new }
    }
}

impl From<ProviderChange> for RosterProviderChange {
    fn from(p: ProviderChange) -> Self {
        let ProviderChange { provider_id, name, changes } = p;
        Self { provider_id, name, changes: all(changes) }
    }
}

impl From<PracticeChange> for RosterPracticeChange {
    fn from(p: PracticeChange) -> Self {
        let PracticeChange { tax_id, name, changes } = p;
        Self { tax_id, name, changes: all(changes) }
    }
}

impl From<Rejection> for RosterRejection {
    fn from(r: Rejection) -> Self {
        let Rejection { line, provider_id, reason } = r;
        Self { line, provider_id, reason }
    }
}

/// Every item of `v`, converted.
fn all<A, B: From<A>>(v: Vec<A>) -> Vec<B> {
    v.into_iter().map(B::from).collect()
}

impl From<ImportReport> for RosterImportReport {
    fn from(r: ImportReport) -> Self {
        // Every field named: a field added to the report does not compile here until it is
        // documented.
        let ImportReport {
            id,
            at,
            file_name,
            file_sha256,
            applied,
            counts,
            added,
            changed,
            removed,
            rejected,
            practices_added,
            practices_changed,
            truncated,
        } = r;
        Self {
            id,
            at,
            file_name,
            file_sha256,
            applied,
            counts: counts.into(),
            added: all(added),
            changed: all(changed),
            removed: all(removed),
            rejected: all(rejected),
            practices_added: all(practices_added),
            practices_changed: all(practices_changed),
            truncated,
        }
    }
}

/// A two-line roster file, for the document's example.
const EXAMPLE_CSV: &str = "provider_id,npi,type,first_name,last_name,organization_name,tax_id,practice_name,address1,address2,city,state,zip,phone,vendor_id,office_id,group_provider_id\n\
    P300118,1234567893,practitioner,Helen,Brooks,,914407731,Cedar Valley Pediatrics,88 Cedar Valley Rd,,Tacoma,WA,98402,,,,\n";

/// Imports a roster CSV file: the request body, as it is. Plan administrators only.
///
/// The file is the whole roster: providers it no longer lists are end-dated. When a line is
/// rejected nothing changes (unless `accept_valid_rows`) and the report says why; running the
/// same file again changes nothing.
#[utoipa::path(post, path = "/roster/imports", params(ImportQuery), security(("bearer" = [])),
    request_body(content = inline(UploadFile), content_type = "text/csv", description = "The roster file (UTF-8 CSV with its header row).",
        example = json!(EXAMPLE_CSV)),
    responses((status = 200, body = RosterImportReport, description = "The change report; `applied` says whether the roster changed."),
        (status = 400, description = "`invalid_query`: `file_name` is empty or too long, or an option is unknown."),
        (status = 403, description = "`forbidden`: not plan staff allowed to import the roster."),
        (status = 413, description = "`body_too_large`: the file is larger than 64 MB."),
        (status = 422, description = "`invalid_file`: the file could not be read at all (empty, no provider lines, not UTF-8, \
            not CSV, or a header without the roster's columns).")))]
pub async fn import(
    State(st): State<AppState>,
    Importer(StaffCaller { grant: g, plan, meta }): Importer,
    ApiQuery(q): ApiQuery<ImportQuery>,
    RawBody(body): RawBody,
) -> Result<Json<RosterImportReport>, ApiError> {
    let name = q.file_name.unwrap_or_else(|| "roster.csv".into());
    if name.is_empty() || name.chars().count() > MAX_FILE_NAME {
        let message = format!("file_name is 1 to {MAX_FILE_NAME} characters.");
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message).field(Some("file_name")));
    }
    let opts = ImportOptions { import_valid_rows: q.accept_valid_rows };
    let r = st.svc.import_roster(&g, &plan.0, &name, &body, opts, &meta, &|_| {}).await.map_err(roster_error)?;
    Ok(Json(r.into()))
}

/// A past import's change report.
#[utoipa::path(get, path = "/roster/imports/{id}", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The import's number (`id` of its report).")),
    responses((status = 200, body = RosterImportReport, description = "The change report, as the import answered it."),
        (status = 403, description = "`forbidden`: not plan staff allowed to view the roster."),
        (status = 404, description = "`not_found`: the plan has no roster import with this number.")))]
pub async fn report(
    State(st): State<AppState>,
    plan: CurrentPlan,
    sess: BearerSession,
    Meta(meta): Meta,
    ApiPath(id): ApiPath<ImportId>,
) -> Result<Json<RosterImportReport>, ApiError> {
    let g = grant(&st, &plan, sess, &meta).await?;
    match st.svc.roster_import(&g, &plan.0, id).await.map_err(roster_error)? {
        Some(r) => Ok(Json(r.into())),
        None => {
            Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", "This plan has no roster import with that number."))
        }
    }
}
