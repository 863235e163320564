//! Forgot username and password reset over JSON. A reset is carried by `reset_token` (from the
//! lookup, or from an emailed reset link's `token`), which changes when the code is accepted.

use super::ApiError;
use super::body::JsonBody;
use crate::AppState;
use crate::extract::{CurrentPlan, Meta};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
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
        SelfServiceError::Reset(p) => ApiError::new(StatusCode::GONE, "reset_unusable", p.to_string()),
        SelfServiceError::CodeExpired | SelfServiceError::CodeTries => {
            ApiError::new(StatusCode::GONE, "code_unusable", e.to_string()).field(Some("code"))
        }
        other => {
            let field = other.field();
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", other.to_string()).field(field)
        }
    }
}

/// The answer to a lookup: the same whether or not anything matched.
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    pub message: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailBody {
    pub email: String,
}

/// Emails every username of the address. Answers 202 whether or not the address is known.
#[utoipa::path(post, path = "/forgot-username", request_body = EmailBody,
    responses((status = 202, body = Accepted), (status = 422, body = super::ErrorBody), (status = 429, body = super::ErrorBody)))]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupBody {
    pub username: String,
    pub email: String,
}

/// A reset in progress.
#[derive(Serialize, ToSchema)]
pub struct ResetBody {
    /// Send with every later call of this reset.
    pub reset_token: String,
}

/// Starts a password reset with username and email. Answers 202 with a token whether or not they
/// match, and nothing in the answer or in any later answer tells which: when they match an account
/// with two-step, the reset code is sent to its phone (text or voice, as set up for two-step);
/// when they match an imported account without two-step, a reset link is emailed instead; else
/// nothing is sent. Continue with `password-reset/verify`.
#[utoipa::path(post, path = "/password-reset", request_body = LookupBody,
    responses((status = 202, body = ResetBody), (status = 422, body = super::ErrorBody), (status = 429, body = super::ErrorBody)))]
pub async fn start_reset(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<LookupBody>,
) -> Result<(StatusCode, Json<ResetBody>), ApiError> {
    let t = st.svc.start_password_reset(&plan.0, &b.username, &b.email, &meta).await.map_err(error)?;
    Ok((StatusCode::ACCEPTED, Json(ResetBody { reset_token: t.0 })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetTokenBody {
    pub reset_token: String,
}

/// Where a reset stands.
#[derive(Serialize, ToSchema)]
pub struct ResetStatus {
    /// `code` (enter the code: if the username and email matched an account with two-step, one
    /// was sent to its phone; the same whether or not they matched) or `new_password`.
    pub step: String,
}

/// Says where a reset stands.
#[utoipa::path(post, path = "/password-reset/status", request_body = ResetTokenBody,
    responses((status = 200, body = ResetStatus), (status = 410, body = super::ErrorBody)))]
pub async fn reset_status(
    State(st): State<AppState>,
    plan: CurrentPlan,
    JsonBody(b): JsonBody<ResetTokenBody>,
) -> Result<Json<ResetStatus>, ApiError> {
    let s = st.svc.password_reset_step(&plan.0, &b.reset_token).await.map_err(error)?;
    let step = match s {
        ResetStep::Code => "code",
        ResetStep::NewPassword { .. } => "new_password",
    };
    Ok(Json(ResetStatus { step: step.into() }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    pub reset_token: String,
    pub code: String,
}

/// Checks the code; the answer's token replaces the old one. A wrong code is answered the same
/// whether or not a code was sent (422 `invalid_input` with the tries left, then 410
/// `code_unusable` after too many tries or once the code's minutes are up).
#[utoipa::path(post, path = "/password-reset/verify", request_body = VerifyBody,
    responses((status = 200, body = ResetBody), (status = 410, body = super::ErrorBody), (status = 422, body = super::ErrorBody)))]
pub async fn verify_code(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<VerifyBody>,
) -> Result<Json<ResetBody>, ApiError> {
    let t = st.svc.verify_reset_code(&plan.0, &b.reset_token, &b.code, &meta).await.map_err(error)?;
    Ok(Json(ResetBody { reset_token: t.0 }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    pub reset_token: String,
    pub password: String,
    pub confirm_password: String,
}

/// The account whose password changed.
#[derive(Serialize, ToSchema)]
pub struct Completed {
    /// Sign in with this username and the new password (and two-step).
    pub username: String,
}

/// Sets the new password; every session of the user ends and the user is emailed.
#[utoipa::path(post, path = "/password-reset/complete", request_body = CompleteBody,
    responses((status = 200, body = Completed), (status = 410, body = super::ErrorBody), (status = 422, body = super::ErrorBody), (status = 503, body = super::ErrorBody)))]
pub async fn complete(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<CompleteBody>,
) -> Result<Json<Completed>, ApiError> {
    let username = st
        .svc
        .complete_password_reset(&plan.0, &b.reset_token, &b.password, &b.confirm_password, &meta)
        .await
        .map_err(error)?;
    Ok(Json(Completed { username }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FirstPasswordBody {
    pub password: String,
    pub confirm_password: String,
}

/// An imported account's first sign-in (session at `new_password`): sets the new password,
/// erasing the old system's hash. Answers the next step under a new session token.
#[utoipa::path(post, path = "/first-password", request_body = FirstPasswordBody, security(("bearer" = [])),
    responses((status = 200, body = super::auth::SessionStep), (status = 401, body = super::ErrorBody), (status = 409, body = super::ErrorBody), (status = 422, body = super::ErrorBody)))]
pub async fn first_password(
    State(st): State<AppState>,
    plan: CurrentPlan,
    super::caller::AnySession(s): super::caller::AnySession,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<FirstPasswordBody>,
) -> Result<Json<super::auth::SessionStep>, ApiError> {
    match st.svc.set_first_password(&plan.0, &s, &b.password, &b.confirm_password, &meta).await {
        Ok((t, next)) => Ok(Json(super::auth::SessionStep {
            session_token: t.0,
            next: next.as_str().into(),
            masked_phone: None,
            masked_email: None,
            code_sent: None,
            next_code_at: None,
        })),
        Err(SelfServiceError::Reset(_)) => {
            Err(ApiError::new(StatusCode::CONFLICT, "wrong_stage", "This session is not at the new-password step."))
        }
        Err(e) => Err(error(e)),
    }
}
