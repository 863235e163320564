//! The permission check API, for the plan's portal applications: one check, a batch of checks,
//! and a user's access. Callers authenticate with HTTP Basic (`client_id:secret`) as an
//! application registered with this plan on the control panel.

use super::body::RawBody;
use super::{ApiError, ErrorBody, ErrorDetail};
use crate::AppState;
use crate::extract::CurrentPlan;
use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_domain::permissions::Permission;
use gatehouse_domain::roster::ProviderId;
use gatehouse_domain::{Npi, TaxId, UserId};
use gatehouse_services::applications::{AppAuthError, AppCaller};
use gatehouse_services::authz::index::{Check, Decision, Target, Who};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Most checks in one batch.
pub const MAX_BATCH: usize = 1000;
/// Longest username accepted.
const MAX_USERNAME: usize = 64;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(check)).routes(routes!(check_batch)).routes(routes!(access))
}

/// An application of the request's plan, authenticated by HTTP Basic.
pub struct App(pub AppCaller);

impl FromRequestParts<AppState> for App {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let unauthenticated = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authenticate as an application of this plan: HTTP Basic with its client id and secret.",
            )
        };
        let plan = CurrentPlan::from_request_parts(parts, st)
            .await
            .map_err(|s| ApiError::new(s, "not_found", "No provider portal is served at this address."))?;
        let (id, secret) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| STANDARD.decode(b.trim()).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())))
            .ok_or_else(unauthenticated)?;
        match st.svc.authenticate_application(plan.0.id(), &id, &secret) {
            Ok(app) => Ok(App(app)),
            Err(AppAuthError::BadCredentials) => Err(unauthenticated()),
            Err(e @ AppAuthError::OtherPlan) => Err(ApiError::new(StatusCode::FORBIDDEN, "wrong_plan", e.to_string())),
        }
    }
}

/// A 400 naming the field at fault (the field may be inside a batch, e.g. `checks[3].npi`).
struct BadInput {
    code: &'static str,
    field: Option<String>,
    message: String,
}

impl BadInput {
    fn new(field: Option<&str>, message: impl Into<String>) -> Self {
        Self { code: "invalid_input", field: field.map(str::to_owned), message: message.into() }
    }
    fn within(mut self, prefix: &str) -> Self {
        self.field = Some(match self.field {
            Some(f) => format!("{prefix}.{f}"),
            None => prefix.to_owned(),
        });
        self
    }
}

impl IntoResponse for BadInput {
    fn into_response(self) -> Response {
        let body =
            ErrorBody { error: ErrorDetail { code: self.code.into(), message: self.message, field: self.field } };
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    }
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, BadInput> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(BadInput::new(None, "The body must be a JSON object.")),
        Err(e) => Err(BadInput::new(None, format!("The body is not valid JSON: {e}"))),
    }
}

fn text<'a>(m: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, BadInput> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(BadInput::new(Some(field), format!("{field} must be a string."))),
    }
}

const CHECK_FIELDS: [&str; 6] = ["user_id", "username", "permission", "provider_id", "npi", "tax_id"];

/// Reads one check from a JSON object.
fn parse_check(m: &Map<String, Value>) -> Result<Check, BadInput> {
    if let Some(k) = m.keys().find(|k| !CHECK_FIELDS.contains(&k.as_str())) {
        return Err(BadInput::new(Some(k), format!("Unknown field {k}.")));
    }
    let user_id = match m.get("user_id") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64().filter(|i| *i > 0) {
            Some(i) => Some(i),
            None => return Err(BadInput::new(Some("user_id"), "user_id must be a positive integer.")),
        },
    };
    let username = text(m, "username")?;
    let who = match (user_id, username) {
        (Some(id), None) => Who::Id(id),
        (None, Some(u)) if !u.trim().is_empty() && u.chars().count() <= MAX_USERNAME => Who::username(u.trim()),
        (None, Some(_)) => return Err(BadInput::new(Some("username"), "username must be 1 to 64 characters.")),
        _ => return Err(BadInput::new(Some("user_id"), "Give either user_id or username (one of them).")),
    };
    let permission = match text(m, "permission")? {
        None => return Err(BadInput::new(Some("permission"), "permission is required, e.g. claims.submit.")),
        Some(p) => Permission::parse(p).ok_or_else(|| BadInput {
            code: "unknown_permission",
            field: Some("permission".into()),
            message: format!("“{p}” is not a permission."),
        })?,
    };
    let targets = [text(m, "provider_id")?, text(m, "npi")?, text(m, "tax_id")?];
    let target = match targets {
        [Some(p), None, None] => Target::ProviderId(
            ProviderId::parse(p)
                .ok_or_else(|| BadInput::new(Some("provider_id"), "A provider ID is letters, digits and dashes."))?
                .as_str()
                .to_owned(),
        ),
        [None, Some(n), None] => Target::Npi(
            Npi::parse(n.trim()).map_err(|e| BadInput::new(Some("npi"), e.to_string()))?.as_str().to_owned(),
        ),
        [None, None, Some(t)] => Target::TaxId(
            TaxId::parse(t.trim()).map_err(|e| BadInput::new(Some("tax_id"), e.to_string()))?.as_str().to_owned(),
        ),
        _ => return Err(BadInput::new(Some("provider_id"), "Give exactly one of provider_id, npi or tax_id.")),
    };
    Ok(Check { who, permission, target })
}

/// One check. Give `user_id` or `username`, a `permission`, and exactly one of `provider_id`,
/// `npi` and `tax_id`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Documents the body, which is read field by field to name the one at fault.
pub struct CheckBody {
    #[schema(example = 12)]
    user_id: Option<i64>,
    username: Option<String>,
    #[schema(example = "claims.submit")]
    permission: String,
    provider_id: Option<String>,
    npi: Option<String>,
    tax_id: Option<String>,
}

/// Several checks at once (at most 1000).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Documents the body.
pub struct CheckBatchBody {
    checks: Vec<CheckBody>,
}

/// The affiliation that allows a check.
#[derive(Debug, Serialize, ToSchema)]
pub struct AffiliationRef {
    pub id: i64,
    pub tax_id: String,
    pub all_providers: bool,
}

/// The answer to a check: allowed with the affiliation, or refused with a reason code
/// (`unknown_user`, `user_not_active`, `unknown_provider`, `unknown_npi`, `unknown_tax_id`,
/// `not_affiliated`, `provider_end_dated`, `provider_not_in_scope`, `permission_not_granted`).
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResult {
    pub allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affiliation: Option<AffiliationRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<Decision> for CheckResult {
    fn from(d: Decision) -> Self {
        match d {
            Decision::Allow(a) => CheckResult {
                allowed: true,
                affiliation: Some(AffiliationRef {
                    id: a.affiliation_id,
                    tax_id: a.tax_id.to_string(),
                    all_providers: a.all_providers,
                }),
                reason: None,
            },
            Decision::Deny(r) => CheckResult { allowed: false, affiliation: None, reason: Some(r.code().into()) },
        }
    }
}

/// The answers of a batch, in the order of the checks.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckBatchResult {
    pub results: Vec<CheckResult>,
}

/// May the user do this for this provider, NPI or Tax ID?
#[utoipa::path(post, path = "/authz/check", security(("basic" = [])), request_body = CheckBody,
    responses((status = 200, body = CheckResult), (status = 400, body = super::ErrorBody),
        (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody)))]
pub async fn check(State(st): State<AppState>, App(app): App, RawBody(body): RawBody) -> Response {
    let c = match json_object(&body).and_then(|m| parse_check(&m)) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    match st.svc.check_one(app.plan_id, &c).await {
        Ok(d) => Json(CheckResult::from(d)).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// Up to 1000 checks in one request; one malformed check refuses the batch (400 naming it).
#[utoipa::path(post, path = "/authz/check-batch", security(("basic" = [])), request_body = CheckBatchBody,
    responses((status = 200, body = CheckBatchResult), (status = 400, body = super::ErrorBody),
        (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody)))]
pub async fn check_batch(State(st): State<AppState>, App(app): App, RawBody(body): RawBody) -> Response {
    let parsed = json_object(&body).and_then(|m| {
        let Some(Value::Array(list)) = m.get("checks") else {
            return Err(BadInput::new(Some("checks"), "checks must be an array of checks."));
        };
        if list.len() > MAX_BATCH {
            return Err(BadInput::new(Some("checks"), format!("At most {MAX_BATCH} checks at a time.")));
        }
        list.iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(o) => parse_check(o).map_err(|e| e.within(&format!("checks[{i}]"))),
                _ => Err(BadInput::new(Some(&format!("checks[{i}]")), "Each check must be a JSON object.")),
            })
            .collect::<Result<Vec<_>, _>>()
    });
    let checks = match parsed {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    match st.svc.check_access(app.plan_id, &checks).await {
        Ok(d) => Json(CheckBatchResult { results: d.into_iter().map(CheckResult::from).collect() }).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// A provider an affiliation lists.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScopedProvider {
    pub provider_id: String,
    pub npi: String,
}

/// Which providers an affiliation covers: all of the practice's, or those listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeView {
    pub all_providers: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub providers: Option<Vec<ScopedProvider>>,
}

/// A user type: its key and name.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserTypeRef {
    pub key: String,
    pub name: String,
}

/// One affiliation of the user.
#[derive(Debug, Serialize, ToSchema)]
pub struct AffiliationView {
    pub id: i64,
    pub tax_id: String,
    pub practice_name: String,
    pub user_type: UserTypeRef,
    pub is_admin: bool,
    pub permissions: Vec<String>,
    pub scope: ScopeView,
}

/// A user's access.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserAccessView {
    pub user_id: i64,
    pub username: Option<String>,
    pub status: String,
    pub affiliations: Vec<AffiliationView>,
}

/// The user's affiliations: Tax ID, practice, user type, administrator flag, permissions and
/// provider scope.
#[utoipa::path(get, path = "/users/{id}/access", params(("id" = i64, Path)), security(("basic" = [])),
    responses((status = 200, body = UserAccessView), (status = 400, body = super::ErrorBody),
        (status = 401, body = super::ErrorBody), (status = 404, body = super::ErrorBody)))]
pub async fn access(State(st): State<AppState>, App(app): App, Path(id): Path<String>) -> Response {
    let Some(id) = id.parse::<i64>().ok().filter(|i| *i > 0) else {
        return BadInput::new(Some("id"), "The user id is a positive integer.").into_response();
    };
    let a = match st.svc.user_access(app.plan_id, UserId(id)).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            return ApiError::new(StatusCode::NOT_FOUND, "not_found", "This plan has no user with that id.")
                .into_response();
        }
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let affiliations = a
        .affiliations
        .into_iter()
        .map(|f| AffiliationView {
            id: f.id,
            tax_id: f.tax_id,
            practice_name: f.practice_name,
            user_type: UserTypeRef { key: f.user_type_key, name: f.user_type_name },
            is_admin: f.is_admin,
            permissions: f.permissions.names().into_iter().map(str::to_owned).collect(),
            scope: ScopeView {
                all_providers: f.providers.is_none(),
                providers: f
                    .providers
                    .map(|l| l.into_iter().map(|(provider_id, npi)| ScopedProvider { provider_id, npi }).collect()),
            },
        })
        .collect();
    Json(UserAccessView { user_id: a.user_id.0, username: a.username, status: a.status.as_str().into(), affiliations })
        .into_response()
}
