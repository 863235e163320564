//! The permission check API, for the plan's portal applications: one check, a batch of checks,
//! and a user's access. Callers authenticate as an application registered with this plan on the
//! control panel: HTTP Basic (`client_id:secret`), or `Bearer` with the application's own access
//! token from `POST /oauth2/token` (`grant_type=client_credentials`).

use super::ApiError;
use super::body::ApiPath;
use super::profile::ObjectBody;
use crate::AppState;
use crate::extract::CurrentPlan;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_domain::permissions::Permission;
use gatehouse_domain::roster::ProviderId;
use gatehouse_domain::{Npi, TaxId, UserId, UserStatus, username};
use gatehouse_services::applications::{AppAuthError, AppCaller};
use gatehouse_services::authz::index::{Check, Decision, DenyReason, Target, Who};
use gatehouse_services::oidc::client_credentials::AppTokenError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Most checks in one batch.
pub const MAX_BATCH: usize = 1000;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(check)).routes(routes!(check_batch)).routes(routes!(access))
}

/// An application of the request's plan, authenticated by HTTP Basic or by its own access token
/// (`Authorization: Bearer`, from the client credentials grant).
pub struct App(pub AppCaller);

impl FromRequestParts<AppState> for App {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let unauthenticated = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authenticate as an application of this plan: HTTP Basic with its client id and secret, or \
                 Bearer with an access token of the client credentials grant.",
            )
        };
        let plan = CurrentPlan::from_request_parts(parts, st)
            .await
            .map_err(|s| ApiError::new(s, "not_found", "No provider portal is served at this address."))?;
        let authorization = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if let Some(token) = authorization.and_then(|v| v.strip_prefix("Bearer ")) {
            return match st.svc.authenticate_application_token(&plan.0, token.trim()).await {
                Ok(app) => Ok(App(app)),
                Err(AppTokenError::InvalidToken) => Err(unauthenticated()),
                Err(AppTokenError::Internal(e)) => Err(ApiError::internal(e)),
            };
        }
        let (id, secret) = authorization
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| STANDARD.decode(b.trim()).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())))
            .ok_or_else(unauthenticated)?;
        match st.svc.authenticate_application(plan.0.id(), &id, &secret) {
            Ok(app) => Ok(App(app)),
            Err(AppAuthError::BadCredentials) => Err(unauthenticated()),
        }
    }
}

/// A check the server refuses: 422, naming the field (inside a batch, e.g. `checks[3].npi`).
fn refused(code: &'static str, field: String, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).field(Some(field))
}

/// A permission's stable name.
pub fn permission() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(Permission::ALL.map(Permission::as_str)))
        .examples([serde_json::json!("claims.submit")])
        .build()
}

fn nullable(t: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::from_iter([t, Type::Null]))
}

/// A username as an application sends it: 1 to 64 characters, not all white space (surrounding
/// white space is ignored, case does not matter).
pub fn username_or_null() -> Object {
    nullable(Type::String)
        .min_length(Some(1))
        .max_length(Some(username::MAX_LEN))
        .pattern(Some("\\S".to_owned()))
        .description(Some("The user's username; give this or `user_id`."))
        .examples([serde_json::json!("jpatel")])
        .build()
}

/// `base`'s constraints on a string that may also be `null`.
fn or_null(base: Object, description: &str) -> Object {
    let mut b = nullable(Type::String).min_length(base.min_length).max_length(base.max_length).pattern(base.pattern);
    b = b.description(Some(description));
    b.examples(base.examples).build()
}

/// A provider ID, or `null`.
pub fn provider_id_or_null() -> Object {
    or_null(
        super::schema::provider_id(),
        "A provider ID (billing number); give exactly one of `provider_id`, `npi`, `tax_id`.",
    )
}

/// An NPI, or `null`.
pub fn npi_or_null() -> Object {
    or_null(
        super::schema::npi(),
        "An NPI (its check digit is checked: 422 when wrong); give exactly one of `provider_id`, `npi`, `tax_id`.",
    )
}

/// A Tax ID, or `null`.
pub fn tax_id_or_null() -> Object {
    or_null(super::schema::tax_id(), "A Tax ID; give exactly one of `provider_id`, `npi`, `tax_id`.")
}

/// One check: may the user (`user_id` or `username`) do `permission` for the provider, NPI or
/// Tax ID given (exactly one of them)? `null` is the same as absent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "jpatel", "permission": "claims.submit", "tax_id": "825671892"}))]
pub struct CheckBody {
    /// The user's id; give this or `username`.
    #[serde(default)]
    #[schema(minimum = 1, example = 12)]
    pub user_id: Option<i64>,
    #[serde(default)]
    #[schema(schema_with = username_or_null)]
    pub username: Option<String>,
    #[schema(schema_with = permission)]
    pub permission: String,
    #[serde(default)]
    #[schema(schema_with = provider_id_or_null)]
    pub provider_id: Option<String>,
    #[serde(default)]
    #[schema(schema_with = npi_or_null)]
    pub npi: Option<String>,
    #[serde(default)]
    #[schema(schema_with = tax_id_or_null)]
    pub tax_id: Option<String>,
}

impl CheckBody {
    /// The check, or a refusal naming the field (under `prefix` inside a batch).
    fn check(self, prefix: &str) -> Result<Check, ApiError> {
        let field = |name: &str| format!("{prefix}{name}");
        let who = match (self.user_id, self.username) {
            (Some(id), None) if id > 0 => Who::Id(id),
            (Some(_), None) => {
                return Err(refused("invalid_input", field("user_id"), "user_id is a positive integer."));
            }
            (None, Some(u)) if !u.trim().is_empty() && u.chars().count() <= username::MAX_LEN => {
                Who::username(u.trim())
            }
            (None, Some(_)) => {
                let message = format!("username is 1 to {} characters.", username::MAX_LEN);
                return Err(refused("invalid_input", field("username"), message));
            }
            _ => {
                let message = "Give either user_id or username (one of them).";
                return Err(refused("invalid_input", field("user_id"), message));
            }
        };
        let Some(permission) = Permission::parse(&self.permission) else {
            let message = format!("“{}” is not a permission.", self.permission);
            return Err(refused("unknown_permission", field("permission"), message));
        };
        // Exactly as the schema says: no white space around a number.
        let target = match (self.provider_id, self.npi, self.tax_id) {
            (Some(p), None, None) => match ProviderId::parse(&p) {
                Some(p) => Target::ProviderId(p.as_str().to_owned()),
                None => {
                    let message = "A provider ID is 1 to 20 letters, digits and dashes.";
                    return Err(refused("invalid_input", field("provider_id"), message));
                }
            },
            (None, Some(n), None) => match Npi::parse(&n) {
                Ok(npi) if npi.as_str() == n => Target::Npi(n),
                Ok(_) => return Err(refused("invalid_input", field("npi"), "An NPI is ten digits.")),
                Err(e) => return Err(refused("invalid_input", field("npi"), e.to_string())),
            },
            (None, None, Some(t)) => match TaxId::parse(&t) {
                Ok(t) => Target::TaxId(t.as_str().to_owned()),
                Err(e) => return Err(refused("invalid_input", field("tax_id"), e.to_string())),
            },
            _ => {
                let message = "Give exactly one of provider_id, npi or tax_id.";
                return Err(refused("invalid_input", field("provider_id"), message));
            }
        };
        Ok(Check { who, permission, target })
    }
}

/// Several checks at once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"checks": [
    {"username": "jpatel", "permission": "claims.submit", "tax_id": "825671892"},
    {"user_id": 12, "permission": "eligibility.view", "npi": "1234567893"}
]}))]
pub struct CheckBatchBody {
    /// At most 1000; answered in this order.
    #[schema(max_items = 1000)]
    pub checks: Vec<CheckBody>,
}

/// The affiliation that allows a check.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckAffiliation {
    pub id: i64,
    pub tax_id: String,
    pub all_providers: bool,
}

/// Why a check was refused.
pub fn deny_reason() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(DenyReason::ALL.map(DenyReason::code)))
        .description(Some("Why the check was refused (only when `allowed` is false)."))
        .build()
}

/// The answer to a check: allowed with the affiliation, or refused with a reason code.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResult {
    pub allowed: bool,
    /// The affiliation that allows it (only when `allowed` is true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affiliation: Option<CheckAffiliation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = deny_reason, required = false)]
    pub reason: Option<String>,
}

impl From<Decision> for CheckResult {
    fn from(d: Decision) -> Self {
        match d {
            Decision::Allow(a) => CheckResult {
                allowed: true,
                affiliation: Some(CheckAffiliation {
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

/// The refusals of a check's body, as the document lists them (422).
const CHECK_REFUSALS: &str = "`invalid_input`: a check is not one the server can answer (field named): neither or both of \
    `user_id` and `username`, not exactly one of `provider_id`, `npi` and `tax_id`, an NPI whose check digit \
    is wrong, a value outside its schema; `unknown_permission`: `permission` is not a permission.";

/// May the user do this for this provider, NPI or Tax ID?
///
/// Answered from memory. A refusal (`allowed: false`) carries a reason code.
#[utoipa::path(post, path = "/authz/check", security(("basic" = []), ("application_bearer" = [])), request_body = CheckBody,
    responses((status = 200, body = CheckResult, description = "The answer."),
        (status = 422, description = CHECK_REFUSALS)))]
pub async fn check(State(st): State<AppState>, App(app): App, ObjectBody(b): ObjectBody<CheckBody>) -> Response {
    let c = match b.check("") {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    match st.svc.check_one(app.plan_id, &c).await {
        Ok(d) => Json(CheckResult::from(d)).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// Up to 1000 checks in one request, answered in order.
///
/// One check the server cannot answer refuses the batch (422, the field named within it, e.g.
/// `checks[3].npi`).
#[utoipa::path(post, path = "/authz/check-batch", security(("basic" = []), ("application_bearer" = [])), request_body = CheckBatchBody,
    responses((status = 200, body = CheckBatchResult, description = "The answers, in the order of the checks."),
        (status = 422, description = CHECK_REFUSALS)))]
pub async fn check_batch(
    State(st): State<AppState>,
    App(app): App,
    ObjectBody(b): ObjectBody<CheckBatchBody>,
) -> Response {
    if b.checks.len() > MAX_BATCH {
        let message = format!("At most {MAX_BATCH} checks at a time.");
        return refused("invalid_input", "checks".into(), message).into_response();
    }
    let parsed = b.checks.into_iter().enumerate().map(|(i, c)| c.check(&format!("checks[{i}]."))).collect();
    let checks: Vec<Check> = match parsed {
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
pub struct AccessScopeProvider {
    pub provider_id: String,
    pub npi: String,
}

/// Which providers an affiliation covers: all of the practice's, or those listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessScope {
    pub all_providers: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub providers: Option<Vec<AccessScopeProvider>>,
}

/// A user type: its key and name.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessUserType {
    pub key: String,
    pub name: String,
}

/// One affiliation of the user.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessAffiliation {
    pub id: i64,
    pub tax_id: String,
    pub practice_name: String,
    pub user_type: AccessUserType,
    pub is_admin: bool,
    pub permissions: Vec<String>,
    pub scope: AccessScope,
}

/// A user's status.
pub fn user_status() -> Object {
    let all = [UserStatus::Invited, UserStatus::Active, UserStatus::Deactivated];
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(all.map(UserStatus::as_str)))
        .description(Some("`invited` (not signed up yet), `active` or `deactivated`."))
        .build()
}

/// A user's access.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserAccessView {
    pub user_id: i64,
    /// `null` until the user signs up.
    pub username: Option<String>,
    #[schema(schema_with = user_status)]
    pub status: String,
    pub affiliations: Vec<AccessAffiliation>,
}

/// A user's access: each affiliation's Tax ID, practice, user type, permissions and providers.
///
/// The administrator flag is shown, and grants `users.manage`.
#[utoipa::path(get, path = "/users/{id}/access", security(("basic" = []), ("application_bearer" = [])),
    params(("id" = i64, Path, minimum = 1, description = "The user's id (as in a check's `user_id`).")),
    responses((status = 200, body = UserAccessView, description = "The user's access."),
        (status = 400, description = "`invalid_path`: the id is not a positive integer."),
        (status = 404, description = "`not_found`: the plan has no user with this id.")))]
pub async fn access(State(st): State<AppState>, App(app): App, ApiPath(id): ApiPath<i64>) -> Response {
    if id <= 0 {
        let message = "The user id is a positive integer.";
        return ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", message).field(Some("id")).into_response();
    }
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
        .map(|f| AccessAffiliation {
            id: f.id,
            tax_id: f.tax_id,
            practice_name: f.practice_name,
            user_type: AccessUserType { key: f.user_type_key, name: f.user_type_name },
            is_admin: f.is_admin,
            permissions: f.permissions.names().into_iter().map(str::to_owned).collect(),
            scope: AccessScope {
                all_providers: f.providers.is_none(),
                providers: f.providers.map(|l| {
                    l.into_iter().map(|(provider_id, npi)| AccessScopeProvider { provider_id, npi }).collect()
                }),
            },
        })
        .collect();
    Json(UserAccessView { user_id: a.user_id.0, username: a.username, status: a.status.as_str().into(), affiliations })
        .into_response()
}
