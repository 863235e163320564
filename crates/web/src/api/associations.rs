//! Self-service association, linked accounts and access requests over JSON: the same services as
//! the pages (`pages/association.rs`, `pages/accounts.rs`, `pages/access_requests.rs`).

use super::ApiError;
use super::body::ApiPath;
use super::caller::SignedIn;
use super::profile::ObjectBody;
use crate::AppState;
use crate::extract::{CurrentPlan, Meta};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::association::{self, AssociationForm, ProviderType};
use gatehouse_domain::permissions::UserTypeKey;
use gatehouse_domain::{AccessRequestId, AffiliationId, MatchId};
use gatehouse_services::access_requests::{AccessRequestError, Approval, Scope};
use gatehouse_services::affiliations::{AffiliationError, LinkedAccount};
use gatehouse_services::association::{AssociationError, Matched};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ArrayBuilder, Object, ObjectBuilder, Type};
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
        AssociationError::StaffAccount => (StatusCode::FORBIDDEN, "staff_account"),
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

/// Which kind of provider the user works for: one practitioner (named by first and last name), or
/// a group or facility billing under the Tax ID (named by its name; grants all its providers).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProviderTypeBody {
    Practitioner,
    Group,
}

impl From<ProviderTypeBody> for ProviderType {
    fn from(t: ProviderTypeBody) -> Self {
        match t {
            ProviderTypeBody::Practitioner => ProviderType::Practitioner,
            ProviderTypeBody::Group => ProviderType::Group,
        }
    }
}

/// Control characters that are not white space (white space is collapsed before names are checked).
const CONTROL: &str = "\\x00-\\x08\\x0e-\\x1f\\x7f-\\x84\\x86-\\x9f";

/// A provider's name as on the welcome letter (a practitioner's first or last name, a group's
/// name): at most [`association::MAX_NAME`] characters, no control characters, and at least one
/// that is not white space or punctuation; empty when the provider type does not use it.
pub fn provider_name() -> Object {
    let name = format!("[^{CONTROL}]*[^\\s{CONTROL}!-/:-@\\[-`{{-~][^{CONTROL}]*");
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(association::MAX_NAME))
        .pattern(Some(format!("^(|{name})$")))
        .description(Some(
            "Required for the provider type that uses it (`first_name` and `last_name` for a practitioner, \
             `group_name` for a group); may be empty or absent otherwise. Compared ignoring case, spaces and \
             punctuation.",
        ))
        .examples([serde_json::json!("Helen")])
        .build()
}

/// Step 1 of association: what the user knows about the provider, from the welcome letter.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "provider_type": "practitioner", "first_name": "Helen", "last_name": "Brooks",
    "tax_id": "914407731", "provider_id": "P300118", "zip": "98402"
}))]
pub struct AssociationBody {
    pub provider_type: ProviderTypeBody,
    #[serde(default)]
    #[schema(schema_with = provider_name)]
    pub first_name: String,
    #[serde(default)]
    #[schema(schema_with = provider_name)]
    pub last_name: String,
    #[serde(default)]
    #[schema(schema_with = provider_name)]
    pub group_name: String,
    #[schema(schema_with = super::schema::tax_id)]
    pub tax_id: String,
    /// The provider ID (billing number).
    #[schema(schema_with = super::schema::provider_id)]
    pub provider_id: String,
    /// A ZIP code of any of the provider's addresses.
    #[schema(schema_with = super::schema::zip)]
    pub zip: String,
}

/// A provider: its ID (billing number) and name.
#[derive(Serialize, ToSchema)]
pub struct PracticeProviderBody {
    pub provider_id: String,
    pub name: String,
}

/// A provider matched in step 1.
#[derive(Serialize, ToSchema)]
pub struct AssociationMatchBody {
    /// Pass to `/associations/{attempt}/accept` or `/associations/{attempt}/access-request`
    /// (usable once, for 30 minutes).
    pub attempt_id: i64,
    pub practice_name: String,
    pub tax_id: String,
    /// The practitioner matched; absent for a group (all providers of the Tax ID).
    pub provider: Option<PracticeProviderBody>,
    pub all_providers: bool,
    /// The practice's administrators by name. When there are any, step 2 is refused: send them
    /// an access request instead.
    pub admins: Vec<String>,
}

impl From<Matched> for AssociationMatchBody {
    fn from(m: Matched) -> Self {
        Self {
            attempt_id: m.attempt_id.0,
            practice_name: m.practice_name,
            tax_id: m.tax_id,
            all_providers: m.provider.is_none(),
            provider: m.provider.map(|(provider_id, name)| PracticeProviderBody { provider_id, name }),
            admins: m.admins,
        }
    }
}

/// Step 1: matches the provider against the roster.
///
/// A mismatch never says which field was wrong (that would confirm the others). Failed attempts
/// are throttled per user and per Tax ID.
#[utoipa::path(post, path = "/associations", request_body = AssociationBody, security(("bearer" = [])),
    responses((status = 200, body = AssociationMatchBody, description = "A provider of the roster matched."),
        (status = 403, description = "`staff_account`: plan staff accounts are not linked to practices."),
        (status = 409, description = "`already_linked`: the account already covers this provider."),
        (status = 422, description = "`invalid_input`: a field is missing or malformed (named in `field`); \
            `no_match`: the details do not match a current provider of the roster."),
        (status = 429, description = "`throttled`: too many failed attempts in the last hour, by this user or for this Tax ID.")))]
pub async fn check(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ObjectBody(b): ObjectBody<AssociationBody>,
) -> ApiResult<AssociationMatchBody> {
    let form = AssociationForm {
        provider_type: ProviderType::from(b.provider_type).as_str().to_owned(),
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

/// `true`: the only answer that lets step 2 go on.
fn agreed() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([true]))
        .description(Some("The user accepts the provider administrator agreement (must be `true`)."))
        .build()
}

/// Step 2: the provider agreement.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"agreed": true}))]
pub struct AgreementBody {
    /// Absent reads as `false`, so another user's step is still answered 404 (whose it is, is
    /// decided before what the body says).
    #[serde(default)]
    #[schema(schema_with = agreed, required = true)]
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
///
/// For the practitioner matched, or all the Tax ID's providers for a group. Refused when the
/// practice has an administrator (send an access request instead).
#[utoipa::path(post, path = "/associations/{attempt}/accept", request_body = AgreementBody, security(("bearer" = [])),
    params(("attempt" = i64, Path, minimum = 1, description = "The `attempt_id` of step 1.")),
    responses((status = 200, body = AssociatedBody, description = "The user administers the practice."),
        (status = 403, description = "`staff_account`: plan staff accounts are not linked to practices."),
        (status = 404, description = "`not_found`: the user has no step 1 with this id."),
        (status = 409, description = "`has_administrator`: the practice has an administrator; ask them with an access request."),
        (status = 410, description = "`match_unusable`: the match expired (30 minutes), was used, or did not match."),
        (status = 422, description = "`agreement_required`: `agreed` is absent or `false` (field `agreed`).")))]
pub async fn accept(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ApiPath(attempt): ApiPath<MatchId>,
    ObjectBody(b): ObjectBody<AgreementBody>,
) -> ApiResult<AssociatedBody> {
    if !b.agreed {
        // Another user's step is not found, whatever the body says; one's own is refused for the
        // body (which the schema refuses) before whether it expired is told.
        return Err(match st.svc.association_match(&plan.0, &s, attempt).await {
            Err(
                e @ (AssociationError::MatchNotFound | AssociationError::NotSignedIn | AssociationError::Internal(_)),
            ) => association_error(e),
            _ => association_error(AssociationError::AgreementRequired),
        });
    }
    let a = st.svc.accept_association(&plan.0, &s, attempt, b.agreed, &meta).await.map_err(association_error)?;
    Ok(Json(AssociatedBody {
        affiliation_id: a.affiliation_id,
        practice_name: a.practice_name,
        new_affiliation: a.new_affiliation,
    }))
}

/// The access request sent.
#[derive(Serialize, ToSchema)]
pub struct AccessRequestSentBody {
    pub request_id: i64,
}

/// Sends the practice's administrators an access request (when it already has some).
///
/// They choose the user type and providers; the user is emailed their decision.
#[utoipa::path(post, path = "/associations/{attempt}/access-request", security(("bearer" = [])),
    params(("attempt" = i64, Path, minimum = 1, description = "The `attempt_id` of step 1.")),
    responses((status = 201, body = AccessRequestSentBody, description = "The administrators were emailed."),
        (status = 403, description = "`staff_account`: plan staff accounts are not linked to practices."),
        (status = 404, description = "`not_found`: the user has no step 1 with this id."),
        (status = 409, description = "`already_requested`: a request for this practice is pending; \
            `no_administrator`: the practice has no administrator to ask (accept the agreement instead)."),
        (status = 410, description = "`match_unusable`: the match expired (30 minutes), was used, or did not match.")))]
pub async fn request_access(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ApiPath(attempt): ApiPath<MatchId>,
) -> Result<(StatusCode, Json<AccessRequestSentBody>), ApiError> {
    let request_id = st.svc.request_access(&plan.0, &s, attempt, &meta).await.map_err(association_error)?;
    Ok((StatusCode::CREATED, Json(AccessRequestSentBody { request_id })))
}

/// One of the user's linked accounts.
#[derive(Serialize, ToSchema)]
pub struct LinkedAccountBody {
    #[schema(value_type = i64)]
    pub id: AffiliationId,
    pub practice_name: String,
    pub tax_id: String,
    /// The user type's name.
    pub user_type: String,
    pub is_admin: bool,
    pub all_providers: bool,
    /// The providers covered when not all.
    pub providers: Vec<PracticeProviderBody>,
    /// The session acts for this one.
    pub active: bool,
}

impl From<LinkedAccount> for LinkedAccountBody {
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
                .map(|p| PracticeProviderBody { provider_id: p.provider_id, name: p.name })
                .collect(),
            active: a.active,
        }
    }
}

/// The user's linked accounts, the session's active one marked.
#[utoipa::path(get, path = "/me/affiliations", security(("bearer" = [])),
    responses((status = 200, body = [LinkedAccountBody], description = "Every linked account (none: associate first).")))]
pub async fn affiliations(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
) -> ApiResult<Vec<LinkedAccountBody>> {
    let list = st.svc.linked_accounts(&plan.0, &s).await.map_err(affiliation_error)?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

/// The linked account to act for.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"affiliation_id": 12}))]
pub struct ActiveAffiliationBody {
    /// The `id` of one of the user's linked accounts (`GET /me/affiliations`).
    #[schema(value_type = i64, minimum = 1)]
    pub affiliation_id: AffiliationId,
}

/// Makes the session act for another of the user's linked accounts.
#[utoipa::path(post, path = "/me/active-affiliation", request_body = ActiveAffiliationBody, security(("bearer" = [])),
    responses((status = 200, body = LinkedAccountBody, description = "The account the session now acts for."),
        (status = 404, description = "`not_found`: the user has no linked account with this id.")))]
pub async fn switch(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ObjectBody(b): ObjectBody<ActiveAffiliationBody>,
) -> ApiResult<LinkedAccountBody> {
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
    pub matched_provider: Option<PracticeProviderBody>,
    /// Unix seconds.
    pub created_at: i64,
    /// The practice's providers to choose from.
    pub providers: Vec<PracticeProviderBody>,
}

/// A user type to choose in an approval.
#[derive(Serialize, ToSchema)]
pub struct UserTypeChoice {
    pub key: String,
    pub name: String,
}

/// The pending requests and the user types to choose from.
#[derive(Serialize, ToSchema)]
pub struct AccessRequestsBody {
    pub requests: Vec<AccessRequestBody>,
    pub user_types: Vec<UserTypeChoice>,
}

/// The pending access requests of the practices the caller administers.
#[utoipa::path(get, path = "/access-requests", security(("bearer" = [])),
    responses((status = 200, body = AccessRequestsBody, description = "Oldest first."),
        (status = 403, description = "`not_practice_admin`: the user administers no practice.")))]
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
                matched_provider: r.provider.map(|(_, provider_id, name)| PracticeProviderBody { provider_id, name }),
                created_at: r.created_at,
                providers: p
                    .providers
                    .into_iter()
                    .map(|b| PracticeProviderBody { provider_id: b.provider_id, name: b.name })
                    .collect(),
            }
        })
        .collect();
    let user_types = types.into_iter().map(|t| UserTypeChoice { key: t.key.to_string(), name: t.name }).collect();
    Ok(Json(AccessRequestsBody { requests, user_types }))
}

/// A user type key: lower-case letters, digits and underscores.
pub fn user_type_key() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(UserTypeKey::MAX_LEN))
        .pattern(Some(format!("^[a-z0-9_]{{1,{}}}$", UserTypeKey::MAX_LEN)))
        .description(Some("A user type key of the plan (`user_types` of `GET /access-requests`)."))
        .examples([serde_json::json!("billing_staff")])
        .build()
}

/// Provider IDs (billing numbers).
fn provider_ids() -> utoipa::openapi::schema::Array {
    ArrayBuilder::new()
        .items(super::schema::provider_id())
        .description(Some(
            "Provider IDs (billing numbers) of the practice; at least one unless `all_providers` is `true` \
             (then ignored).",
        ))
        .build()
}

/// The decision: a user type, and all the practice's providers or some.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"user_type": "billing_staff", "provider_ids": ["P200451"]}))]
pub struct ApprovalBody {
    #[schema(schema_with = user_type_key)]
    pub user_type: String,
    /// All providers of the Tax ID; otherwise `provider_ids`.
    #[serde(default)]
    pub all_providers: bool,
    #[serde(default)]
    #[schema(schema_with = provider_ids)]
    pub provider_ids: Vec<String>,
}

/// Approves a pending request: the requester gets the user type and providers chosen.
///
/// The requester is emailed. Of two administrators deciding at once, one wins; the other gets
/// 409.
#[utoipa::path(post, path = "/access-requests/{id}/approve", request_body = ApprovalBody, security(("bearer" = [])),
    params(("id" = i64, Path, minimum = 1, description = "The request's `id` (`GET /access-requests`).")),
    responses((status = 204, description = "Approved."),
        (status = 403, description = "`not_practice_admin`: the user administers no practice."),
        (status = 404, description = "`not_found`: no request of a practice the user administers has this id \
            (a user's own request, or a plan staff member's, included)."),
        (status = 409, description = "`already_decided`: the request was approved or declined already."),
        (status = 422, description = "`invalid_user_type`: not a user type of the plan (field `user_type`); \
            `no_providers`: no provider chosen (field `provider_ids`); \
            `foreign_provider`: a provider ID is not a current provider of the practice (field `provider_ids`).")))]
pub async fn approve(
    State(st): State<AppState>,
    c: super::practice::Caller,
    ApiPath(id): ApiPath<AccessRequestId>,
    ObjectBody(b): ObjectBody<ApprovalBody>,
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
    params(("id" = i64, Path, minimum = 1, description = "The request's `id` (`GET /access-requests`).")),
    responses((status = 204, description = "Declined."),
        (status = 403, description = "`not_practice_admin`: the user administers no practice."),
        (status = 404, description = "`not_found`: no request of a practice the user administers has this id \
            (a user's own request included)."),
        (status = 409, description = "`already_decided`: the request was approved or declined already.")))]
pub async fn decline(
    State(st): State<AppState>,
    c: super::practice::Caller,
    ApiPath(id): ApiPath<AccessRequestId>,
) -> Result<StatusCode, ApiError> {
    st.svc.decline_access_request(&c.grant, &c.plan.0, id, &c.meta).await.map_err(access_request_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(schema: &Object, s: &str) -> bool {
        let len = s.chars().count();
        let re = regex::Regex::new(schema.pattern.as_deref().unwrap_or(".*")).expect("pattern");
        schema.min_length.is_none_or(|m| len >= m) && schema.max_length.is_none_or(|m| len <= m) && re.is_match(s)
    }

    /// A practitioner's first name as the domain checks it.
    fn domain_accepts_name(name: &str) -> bool {
        let form = AssociationForm {
            provider_type: "practitioner".into(),
            first_name: name.into(),
            last_name: "Brooks".into(),
            tax_id: "914407731".into(),
            provider_id: "P300118".into(),
            zip: "98402".into(),
            ..AssociationForm::default()
        };
        form.parse().is_ok()
    }

    #[test]
    fn the_name_schema_agrees_with_the_domain() {
        let s = provider_name();
        let long = "n".repeat(association::MAX_NAME);
        let too_long = "n".repeat(association::MAX_NAME + 1);
        for name in
            ["Helen", "O'Brien", "Mary Ann", "李", "a\tb", &long, &too_long, " ", "--", "'.'", "a\u{7}b", "\u{0}"]
        {
            assert_eq!(matches(&s, name), domain_accepts_name(name), "name {name:?}");
        }
        // Empty: accepted by the schema (the other provider type's names), required by the domain
        // for the type that uses it.
        assert!(matches(&s, ""));
        assert!(!domain_accepts_name(""));
    }

    #[test]
    fn the_user_type_schema_agrees_with_the_domain() {
        let s = user_type_key();
        let long = "k".repeat(UserTypeKey::MAX_LEN);
        let too_long = "k".repeat(UserTypeKey::MAX_LEN + 1);
        for key in ["billing_staff", "a", "x9", &long, &too_long, "", "Billing", "billing-staff", "a b"] {
            assert_eq!(matches(&s, key), UserTypeKey::parse(key).is_ok(), "key {key:?}");
        }
    }
}
