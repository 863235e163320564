//! The signed-in user's own profile over JSON, the same steps as the `/profile` page: confirm it
//! is you (password, then a code to the current phone), then change the two-step phone, the
//! email address (confirmed by a link to it) and the office details.

use super::ApiError;
use super::body::JsonBody;
use super::caller::SignedIn;
use crate::AppState;
use crate::extract::{CurrentPlan, Meta};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::TwoStepMethod;
use gatehouse_domain::profile::OfficeForm;
use gatehouse_services::profile::{MyProfile, ProfileError, Unlock};
use gatehouse_services::signin::SignInError;
use gatehouse_services::two_step::TwoStepError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(profile))
        .routes(routes!(confirm_password))
        .routes(routes!(send_code))
        .routes(routes!(verify_code))
        .routes(routes!(office))
        .routes(routes!(phone))
        .routes(routes!(confirm_phone))
        .routes(routes!(email))
        .routes(routes!(confirm_email))
}

fn error(e: ProfileError) -> ApiError {
    match e {
        ProfileError::Internal(e) => ApiError::internal(e),
        ProfileError::Password(SignInError::Busy) => ApiError::busy(),
        ProfileError::Password(SignInError::Internal(e)) => ApiError::internal(e),
        ProfileError::Password(ref p @ SignInError::Locked { .. }) => {
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "locked", p.to_string())
        }
        ProfileError::Password(ref p) => {
            ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", p.to_string()).field(Some("password"))
        }
        ProfileError::NotUnlocked => ApiError::new(StatusCode::FORBIDDEN, "confirm_identity", e.to_string()),
        ProfileError::Code(TwoStepError::TooManySends) => {
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_codes", e.to_string())
        }
        ProfileError::LinkInvalid | ProfileError::LinkExpired | ProfileError::LinkUsed => {
            ApiError::new(StatusCode::GONE, "link_unusable", e.to_string())
        }
        ProfileError::Office(ref errs) => {
            let field = errs.0.first().map(|x| x.field);
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", e.to_string()).field(field)
        }
        other => {
            let field = other.field();
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", other.to_string()).field(field)
        }
    }
}

fn method(raw: Option<&str>) -> TwoStepMethod {
    if raw == Some("voice") { TwoStepMethod::Voice } else { TwoStepMethod::Text }
}

/// The signed-in user's profile.
#[derive(Serialize, ToSchema)]
pub struct ProfileBody {
    pub username: String,
    pub first_name: String,
    pub middle_name: String,
    pub last_name: String,
    pub email: String,
    /// Masked, like `XXX-XXX-9975`.
    pub two_step_phone: String,
    /// `text` or `voice`.
    pub two_step_method: String,
    pub mobile_phone: String,
    pub office_phone: String,
    pub fax: String,
    pub street: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    /// `password` (confirm it is you), `code` (enter the code sent to the current phone) or
    /// `open` (changes are allowed until `open_until`).
    pub unlock: String,
    pub open_until: Option<i64>,
    /// A new email address waiting for its link to be opened.
    pub pending_email: Option<String>,
    /// A new phone (masked) waiting for its code.
    pub pending_phone: Option<String>,
}

impl From<MyProfile> for ProfileBody {
    fn from(p: MyProfile) -> Self {
        let (unlock, open_until) = match p.unlock {
            Unlock::Password => ("password", None),
            Unlock::Code { .. } => ("code", None),
            Unlock::Open { until } => ("open", Some(until)),
        };
        Self {
            username: p.username,
            first_name: p.first_name,
            middle_name: p.middle_name,
            last_name: p.last_name,
            email: p.email,
            two_step_phone: p.masked_phone,
            two_step_method: p.method.as_str().into(),
            mobile_phone: p.contact.mobile_phone,
            office_phone: p.contact.office_phone,
            fax: p.contact.fax,
            street: p.contact.street,
            city: p.contact.city,
            state: p.contact.state,
            zip: p.contact.zip,
            unlock: unlock.into(),
            open_until,
            pending_email: p.pending_email,
            pending_phone: p.pending_phone.map(|(m, _)| m),
        }
    }
}

/// The signed-in user's profile and how far they got in confirming it is them.
#[utoipa::path(get, path = "/me/profile", security(("bearer" = [])),
    responses((status = 200, body = ProfileBody), (status = 401, body = super::ErrorBody)))]
pub async fn profile(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
) -> Result<Json<ProfileBody>, ApiError> {
    Ok(Json(st.svc.my_profile(&plan.0, &s).await.map_err(error)?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    pub username: String,
    pub password: String,
}

/// Where a code went.
#[derive(Serialize, ToSchema)]
pub struct CodeSent {
    pub masked_phone: String,
}

/// Confirms it is you, first step: username and password (a wrong one counts toward the lock
/// like a failed sign-in). A code goes to the current two-step phone.
#[utoipa::path(post, path = "/me/profile/confirm-password", request_body = PasswordBody, security(("bearer" = [])),
    responses((status = 200, body = CodeSent), (status = 401, body = super::ErrorBody), (status = 429, body = super::ErrorBody), (status = 503, body = super::ErrorBody)))]
pub async fn confirm_password(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<PasswordBody>,
) -> Result<Json<CodeSent>, ApiError> {
    let m = st.svc.profile_confirm_password(&plan.0, &s, &b.username, &b.password, &meta).await.map_err(error)?;
    Ok(Json(CodeSent { masked_phone: m }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MethodBody {
    /// `text` (default) or `voice`.
    pub method: Option<String>,
}

/// Sends another code to the current phone (after the password step).
#[utoipa::path(post, path = "/me/profile/send-code", request_body = MethodBody, security(("bearer" = [])),
    responses((status = 200, body = CodeSent), (status = 403, body = super::ErrorBody), (status = 429, body = super::ErrorBody)))]
pub async fn send_code(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<MethodBody>,
) -> Result<Json<CodeSent>, ApiError> {
    let m = st.svc.profile_send_code(&plan.0, &s, method(b.method.as_deref()), &meta).await.map_err(error)?;
    Ok(Json(CodeSent { masked_phone: m }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    pub code: String,
}

/// Confirms it is you, second step: the code. The profile is then open for 15 minutes.
#[utoipa::path(post, path = "/me/profile/verify-code", request_body = CodeBody, security(("bearer" = [])),
    responses((status = 200, body = ProfileBody), (status = 403, body = super::ErrorBody), (status = 422, body = super::ErrorBody)))]
pub async fn verify_code(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<CodeBody>,
) -> Result<Json<ProfileBody>, ApiError> {
    st.svc.profile_verify_code(&plan.0, &s, &b.code, &meta).await.map_err(error)?;
    Ok(Json(st.svc.my_profile(&plan.0, &s).await.map_err(error)?.into()))
}

/// Saves the office details: mobile, office phone, fax, street, city, state, ZIP (blank to clear).
#[utoipa::path(put, path = "/me/profile/office", security(("bearer" = [])),
    request_body(content = Object, description = "mobile_phone, office_phone, fax, street, city, state, zip"),
    responses((status = 200, body = ProfileBody), (status = 403, body = super::ErrorBody), (status = 422, body = super::ErrorBody)))]
pub async fn office(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    // The domain's form, shared with the profile page: deliberately open (an unknown field is
    // ignored).
    JsonBody(b): JsonBody<OfficeForm>,
) -> Result<Json<ProfileBody>, ApiError> {
    st.svc.profile_update_office(&plan.0, &s, &b, &meta).await.map_err(error)?;
    Ok(Json(st.svc.my_profile(&plan.0, &s).await.map_err(error)?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneBody {
    /// Without `+`, like `1`.
    pub country_code: String,
    pub phone: String,
    /// `text` (default) or `voice`.
    pub method: Option<String>,
}

/// Sends a code to a new two-step phone; nothing changes until it is confirmed.
#[utoipa::path(post, path = "/me/profile/phone", request_body = PhoneBody, security(("bearer" = [])),
    responses((status = 200, body = CodeSent), (status = 403, body = super::ErrorBody), (status = 422, body = super::ErrorBody), (status = 429, body = super::ErrorBody)))]
pub async fn phone(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<PhoneBody>,
) -> Result<Json<CodeSent>, ApiError> {
    let m = st
        .svc
        .profile_start_phone_change(&plan.0, &s, &b.country_code, &b.phone, method(b.method.as_deref()), &meta)
        .await
        .map_err(error)?;
    Ok(Json(CodeSent { masked_phone: m }))
}

/// Confirms the new phone with the code sent to it; it becomes the two-step phone.
#[utoipa::path(post, path = "/me/profile/phone/confirm", request_body = CodeBody, security(("bearer" = [])),
    responses((status = 200, body = ProfileBody), (status = 403, body = super::ErrorBody), (status = 422, body = super::ErrorBody)))]
pub async fn confirm_phone(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<CodeBody>,
) -> Result<Json<ProfileBody>, ApiError> {
    st.svc.profile_confirm_phone(&plan.0, &s, &b.code, &meta).await.map_err(error)?;
    Ok(Json(st.svc.my_profile(&plan.0, &s).await.map_err(error)?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailBody {
    pub email: String,
    pub email_confirm: String,
}

/// Sends a confirmation link to a new email address (valid 24 hours).
#[utoipa::path(post, path = "/me/profile/email", request_body = EmailBody, security(("bearer" = [])),
    responses((status = 202), (status = 403, body = super::ErrorBody), (status = 422, body = super::ErrorBody)))]
pub async fn email(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<EmailBody>,
) -> Result<StatusCode, ApiError> {
    st.svc.profile_start_email_change(&plan.0, &s, &b.email, &b.email_confirm, &meta).await.map_err(error)?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// The `token` of the emailed link.
    pub token: String,
}

/// The address now in use.
#[derive(Serialize, ToSchema)]
pub struct EmailChanged {
    pub username: String,
    pub email: String,
}

/// Opens an email change link: the new address becomes the account's, and the old one is told.
#[utoipa::path(post, path = "/email-change/confirm", request_body = TokenBody,
    responses((status = 200, body = EmailChanged), (status = 410, body = super::ErrorBody)))]
pub async fn confirm_email(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<TokenBody>,
) -> Result<Json<EmailChanged>, ApiError> {
    let v = st.svc.confirm_email_change(&plan.0, &b.token, &meta).await.map_err(error)?;
    Ok(Json(EmailChanged { username: v.username, email: v.new_email }))
}
