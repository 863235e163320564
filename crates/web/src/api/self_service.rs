//! Forgot username and password reset over JSON. A reset is carried by `reset_token` (from the
//! lookup, or from an emailed reset link's `token`), which changes when the code is accepted.

use super::ApiError;
use super::auth::{LinkToken, SessionStep, new_password};
use super::body::JsonBody;
use super::caller::AnySession;
use crate::AppState;
use crate::extract::{CurrentPlan, Meta};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::Username;
use gatehouse_services::self_service::{ResetStep, SelfServiceError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(forgot_username))
        .routes(routes!(start_reset))
        .routes(routes!(reset_status))
        .routes(routes!(verify_code))
        .routes(routes!(complete))
        .routes(routes!(first_password))
}

fn error(e: SelfServiceError) -> ApiError {
    match e {
        SelfServiceError::Internal(e) => ApiError::internal(e),
        SelfServiceError::Busy => ApiError::busy(),
        SelfServiceError::Throttled => ApiError::new(StatusCode::TOO_MANY_REQUESTS, "throttled", e.to_string()),
        SelfServiceError::Reset(p) => {
            ApiError::new(StatusCode::GONE, "reset_unusable", p.to_string()).field(Some("reset_token"))
        }
        SelfServiceError::CodeExpired | SelfServiceError::CodeTries => {
            ApiError::new(StatusCode::GONE, "code_unusable", e.to_string()).field(Some("code"))
        }
        other => {
            let field = other.field();
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", other.to_string()).field(field)
        }
    }
}

const THROTTLED: &str =
    "`throttled`: too many lookups from this address, or of this email or username, in the last hour.";

/// The answer to a lookup: the same whether or not anything matched.
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    /// A sentence for a person.
    pub message: String,
}

/// The email address whose usernames are wanted.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "jdoe@clinic.example"}))]
pub struct EmailBody {
    #[schema(schema_with = super::schema::email)]
    pub email: String,
}

/// Emails every username of the address.
///
/// Answers 202 whether or not the address is known.
#[utoipa::path(post, tag = "self_service", path = "/forgot-username", request_body = EmailBody,
    responses(
        (status = 202, body = Accepted),
        (status = 422, description = "`invalid_input`: the email address is not valid (the error names `email`)."),
        (status = 429, description = THROTTLED)))]
pub async fn forgot_username(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<EmailBody>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    st.svc.send_username_reminder(&plan.0, &b.email, &meta).await.map_err(error)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted { message: "If the address belongs to an account, its username(s) were emailed to it.".into() }),
    ))
}

/// The username and email address of the account whose password is forgotten.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "jdoe", "email": "jdoe@clinic.example"}))]
pub struct LookupBody {
    /// The username; case does not matter.
    #[schema(schema_with = super::schema::username)]
    pub username: String,
    #[schema(schema_with = super::schema::email)]
    pub email: String,
}

/// A reset in progress.
#[derive(Serialize, ToSchema)]
pub struct ResetBody {
    /// Send with every later call of this reset.
    #[schema(schema_with = super::schema::token)]
    pub reset_token: String,
}

/// Starts a password reset with username and email.
///
/// Answers 202 with a token whether or not they match, and nothing in the answer or in any later
/// answer tells which: when they match an account with two-step, the reset code is sent to its
/// phone (text or voice, as set up for two-step); when they match an imported account without
/// two-step, a reset link is emailed instead; else nothing is sent. Continue with
/// `password-reset/verify`.
#[utoipa::path(post, tag = "self_service", path = "/password-reset", request_body = LookupBody,
    responses(
        (status = 202, body = ResetBody),
        (status = 422, description = "`invalid_input`: the username or the email address is not valid (the error names the field)."),
        (status = 429, description = THROTTLED)))]
pub async fn start_reset(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<LookupBody>,
) -> Result<(StatusCode, Json<ResetBody>), ApiError> {
    // Text that cannot be a username matches no account: refused as such, before any lookup.
    Username::parse(&b.username).map_err(|e| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", e.to_string()).field(Some("username"))
    })?;
    let t = st.svc.start_password_reset(&plan.0, &b.username, &b.email, &meta).await.map_err(error)?;
    Ok((StatusCode::ACCEPTED, Json(ResetBody { reset_token: t.0 })))
}

/// A reset in progress: the `reset_token` of the last answer, or the `token` of an emailed reset
/// link.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetTokenBody {
    #[schema(schema_with = super::schema::token)]
    pub reset_token: LinkToken,
}

/// A step of a reset.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResetStepName {
    /// Enter the code: if the username and email matched an account with two-step, one was sent
    /// to its phone (the same answer whether or not they matched).
    Code,
    /// Choose the new password.
    NewPassword,
}

/// Where a reset stands.
#[derive(Serialize, ToSchema)]
pub struct ResetStatus {
    pub step: ResetStepName,
}

const RESET_UNUSABLE: &str =
    "`reset_unusable`: no reset has this token, or it was used, has expired or is not at this step.";

/// Says where a reset stands.
#[utoipa::path(post, tag = "self_service", path = "/password-reset/status", request_body = ResetTokenBody,
    responses(
        (status = 200, body = ResetStatus),
        (status = 410, description = RESET_UNUSABLE),
        (status = 422, description = "`invalid_body`: a field is missing, unknown or of the wrong type, or `reset_token` is not a token (the error names it in field).")))]
pub async fn reset_status(
    State(st): State<AppState>,
    plan: CurrentPlan,
    JsonBody(b): JsonBody<ResetTokenBody>,
) -> Result<Json<ResetStatus>, ApiError> {
    let s = st.svc.password_reset_step(&plan.0, &b.reset_token.0).await.map_err(error)?;
    let step = match s {
        ResetStep::Code => ResetStepName::Code,
        ResetStep::NewPassword { .. } => ResetStepName::NewPassword,
    };
    Ok(Json(ResetStatus { step }))
}

/// The code sent for a reset.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reset_token": "Zq3xY8a1kN0pR7sT2uV5wX9yB4cD6eF8gH1iJ3kL5mN", "code": "123456"}))]
pub struct VerifyBody {
    #[schema(schema_with = super::schema::token)]
    pub reset_token: LinkToken,
    /// The code, as many digits as the plan's codes have.
    #[schema(schema_with = super::schema::code)]
    pub code: String,
}

/// Checks a reset's code; the answer's token replaces the old one.
///
/// A wrong code is answered the same whether or not a code was sent (422 `invalid_input` with
/// the tries left, then 410 `code_unusable` after too many tries or once the code's minutes are
/// up).
#[utoipa::path(post, tag = "self_service", path = "/password-reset/verify", request_body = VerifyBody,
    responses(
        (status = 200, body = ResetBody),
        (status = 410, description = "`reset_unusable`: no reset has this token, or it was used, has expired or is past the code; `code_unusable`: too many wrong codes, or the code's minutes are up (start again)."),
        (status = 422, description = "`invalid_input`: the code is not correct, or not of the plan's length (the message says how many tries are left; the error names `code`); `invalid_body`: a field is missing, unknown or of the wrong type, or `reset_token` is not a token.")))]
pub async fn verify_code(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<VerifyBody>,
) -> Result<Json<ResetBody>, ApiError> {
    let t = st.svc.verify_reset_code(&plan.0, &b.reset_token.0, &b.code, &meta).await.map_err(error)?;
    Ok(Json(ResetBody { reset_token: t.0 }))
}

/// The new password of a reset past its code (or from an emailed reset link).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reset_token": "Zq3xY8a1kN0pR7sT2uV5wX9yB4cD6eF8gH1iJ3kL5mN", "password": "quiet harbor lantern 42", "confirm_password": "quiet harbor lantern 42"}))]
pub struct CompleteBody {
    #[schema(schema_with = super::schema::token)]
    pub reset_token: LinkToken,
    #[schema(schema_with = new_password)]
    pub password: String,
    /// The password again.
    #[schema(schema_with = new_password)]
    pub confirm_password: String,
}

/// The account whose password changed.
#[derive(Serialize, ToSchema)]
pub struct Completed {
    /// Sign in with this username and the new password (and two-step).
    pub username: String,
}

/// Sets the new password; every session of the user ends and the user is emailed.
///
/// The password's length and the plan's other rules that need no account are checked before the
/// reset is looked up.
#[utoipa::path(post, tag = "self_service", path = "/password-reset/complete", request_body = CompleteBody,
    responses(
        (status = 200, body = Completed),
        (status = 410, description = RESET_UNUSABLE),
        (status = 422, description = "`invalid_input`: the password breaks the plan's rules, or the two differ (the error names the field); `invalid_body`: a field is missing, unknown or of the wrong type, or `reset_token` is not a token."),
        (status = 503, description = "`busy`: password hashing is at capacity; retry after Retry-After.")))]
pub async fn complete(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<CompleteBody>,
) -> Result<Json<Completed>, ApiError> {
    plan.0.password_policy().check(&b.password, &b.confirm_password, None).map_err(|p| error(p.into()))?;
    let username = st
        .svc
        .complete_password_reset(&plan.0, &b.reset_token.0, &b.password, &b.confirm_password, &meta)
        .await
        .map_err(error)?;
    Ok(Json(Completed { username }))
}

/// The new password of an imported account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"password": "quiet harbor lantern 42", "confirm_password": "quiet harbor lantern 42"}))]
pub struct FirstPasswordBody {
    #[schema(schema_with = new_password)]
    pub password: String,
    /// The password again.
    #[schema(schema_with = new_password)]
    pub confirm_password: String,
}

/// Sets an imported account's new password at its first sign-in (session at `new_password`).
///
/// Erases the old system's hash. Answers the next step (`terms`, `two_step_setup` or
/// `two_step_code`) under a new session token.
#[utoipa::path(post, tag = "first_signin", path = "/first-password", request_body = FirstPasswordBody, security(("bearer" = [])),
    responses(
        (status = 200, body = SessionStep),
        (status = 409, description = "`wrong_stage`: the session is not at the new-password step."),
        (status = 422, description = "`invalid_input`: the password breaks the plan's rules, or the two differ (the error names the field)."),
        (status = 503, description = "`busy`: password hashing is at capacity; retry after Retry-After.")))]
pub async fn first_password(
    State(st): State<AppState>,
    plan: CurrentPlan,
    AnySession(s): AnySession,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<FirstPasswordBody>,
) -> Result<Json<SessionStep>, ApiError> {
    match st.svc.set_first_password(&plan.0, &s, &b.password, &b.confirm_password, &meta).await {
        Ok((t, next)) => Ok(Json(SessionStep::plain(t.0, next))),
        Err(SelfServiceError::Reset(_)) => {
            Err(ApiError::new(StatusCode::CONFLICT, "wrong_stage", "This session is not at the new-password step."))
        }
        Err(e) => Err(error(e)),
    }
}
