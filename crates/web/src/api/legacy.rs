//! Legacy accounts over JSON, for plan administrators: import a file, read the migration report.

use super::ApiError;
use super::body::RawBody;
use super::roster::grant;
use crate::AppState;
use crate::extract::{BearerSession, CurrentPlan, Meta};
use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use gatehouse_services::legacy_import::{LegacyImportError, LegacyImportReport};
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

/// Imports legacy accounts: the request body is CSV (header row; one line per affiliation) or
/// JSON lines (one account a line). Plan administrators only. Answers the change report; running
/// the same file again changes nothing.
#[utoipa::path(post, path = "/legacy-users/imports", security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, description = "The change report"), (status = 422, body = super::ErrorBody), (status = 403, body = super::ErrorBody)))]
pub async fn import(
    State(st): State<AppState>,
    plan: CurrentPlan,
    sess: BearerSession,
    Meta(meta): Meta,
    RawBody(body): RawBody,
) -> Result<Json<LegacyImportReport>, ApiError> {
    let g = grant(&st, &plan, sess).await?;
    let text = std::str::from_utf8(&body).map_err(|_| error(LegacyImportError::Unreadable))?;
    Ok(Json(st.svc.import_legacy_users(&g, &plan.0, text, &meta).await.map_err(error)?))
}

/// One practice's migration.
#[derive(Serialize, ToSchema)]
pub struct PracticeLine {
    pub tax_id: String,
    pub name: String,
    pub imported: i64,
    pub migrated: i64,
    pub pending: i64,
}

/// Imported accounts and how many have signed in here (migrated).
#[derive(Serialize, ToSchema)]
pub struct MigrationReport {
    pub imported: i64,
    pub migrated: i64,
    pub pending: i64,
    pub practices: Vec<PracticeLine>,
}

/// The migration report: imported, migrated and pending accounts, in total and by practice.
#[utoipa::path(get, path = "/legacy-users/report", security(("bearer" = [])),
    responses((status = 200, body = MigrationReport), (status = 403, body = super::ErrorBody)))]
pub async fn report(
    State(st): State<AppState>,
    plan: CurrentPlan,
    sess: BearerSession,
) -> Result<Json<MigrationReport>, ApiError> {
    let g = grant(&st, &plan, sess).await?;
    let (imported, migrated, per) = st.svc.legacy_migration_report(&g, &plan.0).await.map_err(error)?;
    Ok(Json(MigrationReport {
        imported,
        migrated,
        pending: imported - migrated,
        practices: per
            .into_iter()
            .map(|p| PracticeLine {
                pending: p.imported - p.migrated,
                tax_id: p.tax_id,
                name: p.name,
                imported: p.imported,
                migrated: p.migrated,
            })
            .collect(),
    }))
}
