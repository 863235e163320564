//! Self-service association, linked accounts and access requests over JSON: the same services as the pages (`pages/association.rs`, `pages/accounts.rs`,
//! `pages/access_requests.rs`).

use super::ApiError;
use super::body::{ApiPath, JsonBody};
use super::caller::SignedIn;
use crate::AppState;
use crate::extract::{CurrentPlan, Meta};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::MatchId;
use gatehouse_domain::association::AssociationForm;
use gatehouse_domain::{AccessRequestId, AffiliationId};
use gatehouse_services::access_requests::{AccessRequestError, Approval, Scope};
use gatehouse_services::affiliations::{AffiliationError, LinkedAccount};
use gatehouse_services::association::{AssociationError, Matched};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(check))
        .routes(routes!(accept))
        .routes(routes!(request_access))
        .routes(routes!(affiliations))
        .routes(routes!(switch))
        .routes(routes!(access_requests))
        .routes(routes!(approve))
        .routes(routes!(decline))
}

type ApiResult<T> = Result<Json<T>, ApiError>;

fn association_error(e: AssociationError) -> ApiError {
    let (status, code) = match &e {
        AssociationError::Internal(_) => return ApiError::internal(e),
        AssociationError::NotSignedIn => return ApiError::unauthenticated(),
        AssociationError::Invalid(errors) => {
            let field = errors.0.first().map(|f| f.field);
            return ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", e.to_string()).field(field);
        }
        AssociationError::NoMatch => (StatusCode::UNPROCESSABLE_ENTITY, "no_match"),
        AssociationError::Throttled => (StatusCode::TOO_MANY_REQUESTS, "throttled"),
        AssociationError::AlreadyLinked { .. } => (StatusCode::CONFLICT, "already_linked"),
        AssociationError::MatchExpired => (StatusCode::GONE, "match_unusable"),
        AssociationError::MatchNotFound => (StatusCode::NOT_FOUND, "not_found"),
        AssociationError::AgreementRequired => {
            return ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "agreement_required", e.to_string())
                .field(Some("agreed"));
        }
        AssociationError::HasAdmin { .. } => (StatusCode::CONFLICT, "has_administrator"),
        AssociationError::AlreadyRequested => (StatusCode::CONFLICT, "already_requested"),
        AssociationError::NoAdminToAsk => (StatusCode::CONFLICT, "no_administrator"),
    };
    ApiError::new(status, code, e.to_string())
}

fn affiliation_error(e: AffiliationError) -> ApiError {
    let (status, code) = match &e {
        AffiliationError::Internal(_) => return ApiError::internal(e),
        AffiliationError::NotSignedIn => return ApiError::unauthenticated(),
        AffiliationError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        AffiliationError::NotAdmin => (StatusCode::FORBIDDEN, "not_admin"),
        AffiliationError::LastAdmin { .. } => (StatusCode::CONFLICT, "last_admin"),
        AffiliationError::NotApplicable(_) => (StatusCode::CONFLICT, "not_applicable"),
    };
    ApiError::new(status, code, e.to_string())
}

fn access_request_error(e: AccessRequestError) -> ApiError {
    let message = e.to_string();
    let (status, code, field) = match e {
        AccessRequestError::Affiliation(a) => return affiliation_error(a),
        AccessRequestError::Internal(i) => return ApiError::internal(i),
        AccessRequestError::NotFound => (StatusCode::NOT_FOUND, "not_found", None),
        AccessRequestError::AlreadyDecided(_) => (StatusCode::CONFLICT, "already_decided", None),
        AccessRequestError::UserType => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_user_type", Some("user_type")),
        AccessRequestError::NoProviders => (StatusCode::UNPROCESSABLE_ENTITY, "no_providers", Some("provider_ids")),
        AccessRequestError::ForeignProvider => {
            (StatusCode::UNPROCESSABLE_ENTITY, "foreign_provider", Some("provider_ids"))
        }
    };
    ApiError::new(status, code, message).field(field)
}

/// Step 1 of association: what the user knows about the provider.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AssociationBody {
    /// `practitioner` or `group`.
    pub provider_type: String,
    /// For a practitioner.
    pub first_name: String,
    /// For a practitioner.
    pub last_name: String,
    /// For a group.
    pub group_name: String,
    /// 9 digits.
    pub tax_id: String,
    /// The provider ID (billing number).
    pub provider_id: String,
    /// A ZIP code of any of the provider's addresses.
    pub zip: String,
}

/// A provider: its ID (billing number) and name.
#[derive(Serialize, ToSchema)]
pub struct ProviderBody {
    pub provider_id: String,
    pub name: String,
}

/// A provider matched in step 1.
#[derive(Serialize, ToSchema)]
pub struct MatchBody {
    /// Pass to `/associations/{attempt}/accept` or `/associations/{attempt}/access-request`
    /// (usable once, for 30 minutes).
    pub attempt_id: i64,
    pub practice_name: String,
    pub tax_id: String,
    /// The practitioner matched; absent for a group (all providers of the Tax ID).
    pub provider: Option<ProviderBody>,
    pub all_providers: bool,
    /// The practice's administrators by name. When there are any, step 2 is refused: send them
    /// an access request instead.
    pub admins: Vec<String>,
}

impl From<Matched> for MatchBody {
    fn from(m: Matched) -> Self {
        Self {
            attempt_id: m.attempt_id.0,
            practice_name: m.practice_name,
            tax_id: m.tax_id,
            all_providers: m.provider.is_none(),
            provider: m.provider.map(|(provider_id, name)| ProviderBody { provider_id, name }),
            admins: m.admins,
        }
    }
}

/// Step 1: matches the provider against the roster. A failure never says which field was wrong.
#[utoipa::path(post, path = "/associations", request_body = AssociationBody, security(("bearer" = [])),
    responses((status = 200, body = MatchBody), (status = 401, body = super::ErrorBody), (status = 409, body = super::ErrorBody),
        (status = 422, description = "`invalid_input` (with `field`) or `no_match`", body = super::ErrorBody),
        (status = 429, description = "`throttled`", body = super::ErrorBody)))]
pub async fn check(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<AssociationBody>,
) -> ApiResult<MatchBody> {
    let form = AssociationForm {
        provider_type: b.provider_type,
        first_name: b.first_name,
        last_name: b.last_name,
        group_name: b.group_name,
        tax_id: b.tax_id,
        provider_id: b.provider_id,
        zip: b.zip,
    };
    let m = st.svc.check_association(&plan.0, &s, &form, &meta).await.map_err(association_error)?;
    Ok(Json(m.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptBody {
    /// The user accepts the provider administrator agreement.
    #[serde(default)]
    pub agreed: bool,
}

/// What step 2 did.
#[derive(Serialize, ToSchema)]
pub struct AssociatedBody {
    pub affiliation_id: i64,
    pub practice_name: String,
    /// A new linked account (rather than a provider added to an existing one).
    pub new_affiliation: bool,
}

/// Step 2: accepts the provider agreement; the user becomes the practice's administrator.
#[utoipa::path(post, path = "/associations/{attempt}/accept", request_body = AcceptBody, security(("bearer" = [])),
    params(("attempt" = i64, Path, description = "The `attempt_id` of step 1")),
    responses((status = 200, body = AssociatedBody), (status = 409, description = "`has_administrator`", body = super::ErrorBody),
        (status = 410, description = "`match_unusable`: expired, used, or not yours", body = super::ErrorBody),
        (status = 422, description = "`agreement_required`", body = super::ErrorBody)))]
pub async fn accept(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ApiPath(attempt): ApiPath<MatchId>,
    JsonBody(b): JsonBody<AcceptBody>,
) -> ApiResult<AssociatedBody> {
    let a = st.svc.accept_association(&plan.0, &s, attempt, b.agreed, &meta).await.map_err(association_error)?;
    Ok(Json(AssociatedBody {
        affiliation_id: a.affiliation_id,
        practice_name: a.practice_name,
        new_affiliation: a.new_affiliation,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct RequestSentBody {
    pub request_id: i64,
}

/// Sends the practice's administrators an access request (when it already has some).
#[utoipa::path(post, path = "/associations/{attempt}/access-request", security(("bearer" = [])),
    params(("attempt" = i64, Path, description = "The `attempt_id` of step 1")),
    responses((status = 201, body = RequestSentBody), (status = 409, description = "`already_requested` or `no_administrator`", body = super::ErrorBody),
        (status = 410, body = super::ErrorBody)))]
pub async fn request_access(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ApiPath(attempt): ApiPath<MatchId>,
) -> Result<(StatusCode, Json<RequestSentBody>), ApiError> {
    let request_id = st.svc.request_access(&plan.0, &s, attempt, &meta).await.map_err(association_error)?;
    Ok((StatusCode::CREATED, Json(RequestSentBody { request_id })))
}

/// One of the user's linked accounts.
#[derive(Serialize, ToSchema)]
pub struct AffiliationBody {
    pub id: i64,
    pub practice_name: String,
    pub tax_id: String,
    /// The user type's name.
    pub user_type: String,
    pub is_admin: bool,
    pub all_providers: bool,
    /// The providers covered when not all.
    pub providers: Vec<ProviderBody>,
    /// The session acts for this one.
    pub active: bool,
}

impl From<LinkedAccount> for AffiliationBody {
    fn from(a: LinkedAccount) -> Self {
        Self {
            id: a.id,
            practice_name: a.practice_name,
            tax_id: a.tax_id,
            user_type: a.user_type,
            is_admin: a.is_admin,
            all_providers: a.all_providers,
            providers: a
                .providers
                .into_iter()
                .map(|p| ProviderBody { provider_id: p.provider_id, name: p.name })
                .collect(),
            active: a.active,
        }
    }
}

/// The user's linked accounts, the session's active one marked.
#[utoipa::path(get, path = "/me/affiliations", security(("bearer" = [])),
    responses((status = 200, body = [AffiliationBody]), (status = 401, body = super::ErrorBody)))]
pub async fn affiliations(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
) -> ApiResult<Vec<AffiliationBody>> {
    let list = st.svc.linked_accounts(&plan.0, &s).await.map_err(affiliation_error)?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchBody {
    #[schema(value_type = i64)]
    pub affiliation_id: AffiliationId,
}

/// Makes the session act for another of the user's linked accounts.
#[utoipa::path(post, path = "/me/active-affiliation", request_body = SwitchBody, security(("bearer" = [])),
    responses((status = 200, body = AffiliationBody), (status = 404, body = super::ErrorBody)))]
pub async fn switch(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<SwitchBody>,
) -> ApiResult<AffiliationBody> {
    let a = st.svc.switch_affiliation(&plan.0, &s, b.affiliation_id, &meta).await.map_err(affiliation_error)?;
    Ok(Json(a.into()))
}

/// A pending access request for a practice the caller administers.
#[derive(Serialize, ToSchema)]
pub struct AccessRequestBody {
    pub id: i64,
    pub requester_name: String,
    pub username: Option<String>,
    pub email: String,
    pub practice_name: String,
    pub tax_id: String,
    /// The practitioner they matched; absent when they matched the group.
    pub matched_provider: Option<ProviderBody>,
    /// Unix seconds.
    pub created_at: i64,
    /// The practice's providers to choose from.
    pub providers: Vec<ProviderBody>,
}

/// A user type to choose in an approval.
#[derive(Serialize, ToSchema)]
pub struct UserTypeBody {
    pub key: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccessRequestsBody {
    pub requests: Vec<AccessRequestBody>,
    pub user_types: Vec<UserTypeBody>,
}

/// The pending access requests of the practices the caller administers.
#[utoipa::path(get, path = "/access-requests", security(("bearer" = [])),
    responses((status = 200, body = AccessRequestsBody), (status = 401, body = super::ErrorBody)))]
pub async fn access_requests(State(st): State<AppState>, c: super::practice::Caller) -> ApiResult<AccessRequestsBody> {
    let (pending, types) = st.svc.pending_access_requests(&c.grant, &c.plan.0).await.map_err(access_request_error)?;
    let requests = pending
        .into_iter()
        .map(|p| {
            let r = p.request;
            AccessRequestBody {
                id: r.id,
                requester_name: format!("{} {}", r.first_name, r.last_name),
                username: r.username,
                email: r.email,
                practice_name: r.practice_name,
                tax_id: r.tax_id,
                matched_provider: r.provider.map(|(_, provider_id, name)| ProviderBody { provider_id, name }),
                created_at: r.created_at,
                providers: p
                    .providers
                    .into_iter()
                    .map(|b| ProviderBody { provider_id: b.provider_id, name: b.name })
                    .collect(),
            }
        })
        .collect();
    let user_types = types.into_iter().map(|t| UserTypeBody { key: t.key.to_string(), name: t.name }).collect();
    Ok(Json(AccessRequestsBody { requests, user_types }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// A user type key of the plan, e.g. `billing_staff`.
    pub user_type: String,
    /// All providers of the Tax ID; otherwise `provider_ids`.
    #[serde(default)]
    pub all_providers: bool,
    /// Provider IDs (billing numbers) of the practice.
    #[serde(default)]
    pub provider_ids: Vec<String>,
}

/// Approves a pending request: the requester gets the user type and providers chosen.
#[utoipa::path(post, path = "/access-requests/{id}/approve", request_body = ApproveBody, security(("bearer" = [])),
    responses((status = 204), (status = 404, body = super::ErrorBody), (status = 409, description = "`already_decided`", body = super::ErrorBody),
        (status = 422, body = super::ErrorBody)))]
pub async fn approve(
    State(st): State<AppState>,
    c: super::practice::Caller,
    ApiPath(id): ApiPath<AccessRequestId>,
    JsonBody(b): JsonBody<ApproveBody>,
) -> Result<StatusCode, ApiError> {
    // Provider IDs are matched to the practice's providers by the service, in its transaction.
    let (scope, provider_ids) =
        if b.all_providers { (Scope::All, Vec::new()) } else { (Scope::Providers(Vec::new()), b.provider_ids) };
    let approval = Approval { user_type: b.user_type, scope, provider_ids };
    st.svc.approve_access_request(&c.grant, &c.plan.0, id, &approval, &c.meta).await.map_err(access_request_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Declines a pending request; the requester is emailed.
#[utoipa::path(post, path = "/access-requests/{id}/decline", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = super::ErrorBody), (status = 409, body = super::ErrorBody)))]
pub async fn decline(
    State(st): State<AppState>,
    c: super::practice::Caller,
    ApiPath(id): ApiPath<AccessRequestId>,
) -> Result<StatusCode, ApiError> {
    st.svc.decline_access_request(&c.grant, &c.plan.0, id, &c.meta).await.map_err(access_request_error)?;
    Ok(StatusCode::NO_CONTENT)
}
