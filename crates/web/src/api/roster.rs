//! The roster over JSON, for plan staff: import a CSV file, read a change report, search.

use super::ApiError;
use super::body::{ApiPath, ApiQuery, RawBody};
use crate::AppState;
use crate::extract::{BearerSession, CurrentPlan, Meta};
use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use gatehouse_domain::ImportId;
use gatehouse_services::roster::{ImportOptions, ImportReport, RosterError};
use gatehouse_services::staff::{Denied, StaffGrant};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::router::UtoipaMethodRouterExt;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import).layer(DefaultBodyLimit::max(crate::admin::MAX_UPLOAD)))
        .routes(routes!(report))
}

pub(super) async fn grant(st: &AppState, plan: &CurrentPlan, sess: BearerSession) -> Result<StaffGrant, ApiError> {
    match st.svc.staff_grant(&plan.0, sess.0.as_ref()).await {
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

/// Options of an import. Deliberately open: a query parameter it does not know is ignored.
#[derive(Deserialize, IntoParams)]
pub struct ImportQuery {
    /// Import the valid lines even if some are rejected (default: change nothing).
    #[serde(default)]
    pub accept_valid_rows: bool,
    /// The file's name, for the import history.
    #[serde(default)]
    pub file_name: Option<String>,
}

/// Imports a roster CSV (the request body, `text/csv`). Plan administrators only. Answers the
/// change report; 422 with the report when lines were rejected and nothing was changed.
#[utoipa::path(post, path = "/roster/imports", params(ImportQuery), security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, description = "The change report"), (status = 422, description = "Rejected lines, nothing changed; or an unreadable file"),
        (status = 403, body = super::ErrorBody)))]
pub async fn import(
    State(st): State<AppState>,
    plan: CurrentPlan,
    sess: BearerSession,
    Meta(meta): Meta,
    ApiQuery(q): ApiQuery<ImportQuery>,
    RawBody(body): RawBody,
) -> Result<(StatusCode, Json<ImportReport>), ApiError> {
    let g = grant(&st, &plan, sess).await?;
    let name: String = q.file_name.unwrap_or_else(|| "roster.csv".into()).chars().take(200).collect();
    let opts = ImportOptions { import_valid_rows: q.accept_valid_rows };
    let r = st.svc.import_roster(&g, &plan.0, &name, &body, opts, &meta, &|_| {}).await.map_err(roster_error)?;
    let status = if r.applied { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, Json(r)))
}

/// A past import's change report.
#[utoipa::path(get, path = "/roster/imports/{id}", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, description = "The change report"), (status = 404, body = super::ErrorBody)))]
pub async fn report(
    State(st): State<AppState>,
    plan: CurrentPlan,
    sess: BearerSession,
    ApiPath(id): ApiPath<ImportId>,
) -> Result<Json<ImportReport>, ApiError> {
    let g = grant(&st, &plan, sess).await?;
    match st.svc.roster_import(&g, &plan.0, id).await.map_err(roster_error)? {
        Some(r) => Ok(Json(r)),
        None => {
            Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", "This plan has no roster import with that number."))
        }
    }
}
