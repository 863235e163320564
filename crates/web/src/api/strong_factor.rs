//! The sign-in's strong-factor step over JSON (session at `strong_factor_setup`): the plan
//! requires an authenticator app or a passkey of this account and it holds neither. The same
//! commands as the `/two-step/strong` page: add an app (secret, then its first code) or register
//! a passkey, then complete the step. No profile confirmation is needed: the password and the
//! phone's code were proven a moment ago. Every other `/api/v1` operation answers 401 meanwhile.

use super::ApiError;
use super::auth::SessionStep;
use super::authenticator::{AppCodeBody, EnrolmentBody, RecoveryCodesBody};
use super::body::JsonBody;
use super::caller::AnySession;
use super::passkeys::{CeremonyBody, PasskeyAnswerBody, PasskeyNameBody, RegisteredPasskeyBody};
use crate::AppState;
use crate::extract::{CurrentPlan, Meta};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::session::SessionStage;
use gatehouse_services::strong_factor::StrongFactorError;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(app_start))
        .routes(routes!(app_confirm))
        .routes(routes!(passkey_options))
        .routes(routes!(passkey_register))
        .routes(routes!(complete))
}

const STAGE: &str = "`wrong_stage`: the session is not at `strong_factor_setup` (the message names its step).";

fn error(e: StrongFactorError) -> ApiError {
    match e {
        StrongFactorError::Internal(e) => ApiError::internal(e),
        StrongFactorError::NoneYet => ApiError::new(StatusCode::CONFLICT, "no_strong_factor", e.to_string()),
        StrongFactorError::WrongStage => ApiError::new(StatusCode::CONFLICT, "wrong_stage", e.to_string()),
    }
}

/// What the step offers and what the account holds.
#[derive(Serialize, ToSchema)]
pub struct StrongSetupBody {
    /// Authenticator apps may be added.
    pub app_allowed: bool,
    /// Passkeys may be added.
    pub passkeys_allowed: bool,
    /// An app waits for its first code.
    pub app_pending: bool,
    /// A confirmed app is held.
    pub has_app: bool,
    /// Passkeys held.
    pub passkeys: usize,
    /// One is held: `POST /api/v1/two-step/strong/complete` goes on.
    pub done: bool,
}

/// The strong-factor step: what may be added and what is held.
#[utoipa::path(get, tag = "auth", path = "/two-step/strong", security(("bearer" = [])),
    responses((status = 200, body = StrongSetupBody), (status = 409, description = STAGE)))]
pub async fn status(
    State(st): State<AppState>,
    plan: CurrentPlan,
    s: AnySession,
) -> Result<Json<StrongSetupBody>, ApiError> {
    let s = s.at(SessionStage::StrongFactorSetup)?;
    let v = st.svc.strong_setup(&plan.0, &s).await.map_err(error)?;
    Ok(Json(StrongSetupBody {
        app_allowed: v.app_allowed,
        passkeys_allowed: v.passkeys_allowed,
        app_pending: v.enrolment.is_some(),
        has_app: v.has_app,
        passkeys: v.passkeys,
        done: v.done(),
    }))
}

/// Starts adding an authenticator app: a new secret, waiting for its first code
/// (`POST /api/v1/two-step/strong/app/confirm`).
#[utoipa::path(post, tag = "auth", path = "/two-step/strong/app", security(("bearer" = [])),
    responses((status = 200, body = EnrolmentBody),
        (status = 403, description = "`not_offered`: the plan does not offer authenticator apps."),
        (status = 409, description = "`wrong_stage`: the session is not at `strong_factor_setup`; `wrong_state`: an app is confirmed already.")))]
pub async fn app_start(
    State(st): State<AppState>,
    plan: CurrentPlan,
    s: AnySession,
    Meta(meta): Meta,
) -> Result<Json<EnrolmentBody>, ApiError> {
    let s = s.at(SessionStage::StrongFactorSetup)?;
    let e = st.svc.app_enrol_start(&plan.0, &s, &meta).await.map_err(super::authenticator::error)?;
    Ok(Json(EnrolmentBody { secret: e.secret, otpauth_uri: e.uri, qr_svg: e.qr_svg }))
}

/// Confirms the new app with its first code. The first strong factor also gets ten recovery
/// codes, returned only here. Then `POST /api/v1/two-step/strong/complete`.
#[utoipa::path(post, tag = "auth", path = "/two-step/strong/app/confirm", request_body = AppCodeBody, security(("bearer" = [])),
    responses((status = 200, body = RecoveryCodesBody),
        (status = 409, description = "`wrong_stage`: the session is not at `strong_factor_setup`; `wrong_state`: no app is waiting for its first code."),
        (status = 422, description = "`wrong_code`: the code is not six digits or not the app's (field `code`).")))]
pub async fn app_confirm(
    State(st): State<AppState>,
    plan: CurrentPlan,
    s: AnySession,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<AppCodeBody>,
) -> Result<Json<RecoveryCodesBody>, ApiError> {
    let s = s.at(SessionStage::StrongFactorSetup)?;
    let codes = st.svc.app_enrol_confirm(&plan.0, &s, &b.code, &meta).await.map_err(super::authenticator::error)?;
    Ok(Json(RecoveryCodesBody { recovery_codes: codes }))
}

/// Starts registering a passkey; then `POST /api/v1/two-step/strong/passkey` with the answer.
#[utoipa::path(post, tag = "auth", path = "/two-step/strong/passkey/options", request_body = PasskeyNameBody, security(("bearer" = [])),
    responses((status = 200, body = CeremonyBody, description = "Hand `options` to `navigator.credentials.create`."),
        (status = 403, description = "`not_offered`: the plan does not offer passkeys."),
        (status = 409, description = STAGE),
        (status = 422, description = "`invalid_input`: the name is empty, too long or holds control characters (field `name`).")))]
pub async fn passkey_options(
    State(st): State<AppState>,
    plan: CurrentPlan,
    s: AnySession,
    JsonBody(b): JsonBody<PasskeyNameBody>,
) -> Result<Json<CeremonyBody>, ApiError> {
    let s = s.at(SessionStage::StrongFactorSetup)?;
    Ok(Json(st.svc.start_passkey_registration(&plan.0, &s, &b.name).await.map_err(super::passkeys::error)?.into()))
}

/// Registers the passkey with the authenticator's answer. Then
/// `POST /api/v1/two-step/strong/complete`.
#[utoipa::path(post, tag = "auth", path = "/two-step/strong/passkey", request_body = PasskeyAnswerBody, security(("bearer" = [])),
    responses((status = 201, body = RegisteredPasskeyBody, description = "The passkey was registered; `recovery_codes` holds the ten recovery codes, shown this once, when it is the first strong factor."),
        (status = 401, description = "`passkey_refused`: the answer does not verify (another origin, a wrong challenge, no user verification)."),
        (status = 409, description = "`wrong_stage`: the session is not at `strong_factor_setup`; `already_registered`: this key is registered already."),
        (status = 410, description = "`ceremony_unusable`: the ceremony is unknown, expired, used, or another session's.")))]
pub async fn passkey_register(
    State(st): State<AppState>,
    plan: CurrentPlan,
    s: AnySession,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<PasskeyAnswerBody>,
) -> Result<(StatusCode, Json<RegisteredPasskeyBody>), ApiError> {
    let s = s.at(SessionStage::StrongFactorSetup)?;
    let (ceremony, credential) = b.parts()?;
    let v = st
        .svc
        .finish_passkey_registration(&plan.0, &s, ceremony, &credential, &meta)
        .await
        .map_err(super::passkeys::error)?;
    Ok((
        StatusCode::CREATED,
        Json(RegisteredPasskeyBody { passkey: v.passkey.into(), recovery_codes: v.recovery_codes }),
    ))
}

/// The session after the step, and recovery codes when they were made now.
#[derive(Serialize, ToSchema)]
pub struct StrongDoneBody {
    #[serde(flatten)]
    pub step: SessionStep,
    /// Ten single-use codes like `abcde-12345`, shown this once, when the account had no unused
    /// ones (its strong factor is a passkey); absent otherwise.
    pub recovery_codes: Option<Vec<String>>,
}

/// Leaves the step once an app or a passkey is held: the session goes on to `terms` or
/// `complete` under a new token.
#[utoipa::path(post, tag = "auth", path = "/two-step/strong/complete", security(("bearer" = [])),
    responses((status = 200, body = StrongDoneBody),
        (status = 409, description = "`wrong_stage`: the session is not at `strong_factor_setup`; `no_strong_factor`: add an app or a passkey first.")))]
pub async fn complete(
    State(st): State<AppState>,
    plan: CurrentPlan,
    s: AnySession,
    Meta(meta): Meta,
) -> Result<Json<StrongDoneBody>, ApiError> {
    let s = s.at(SessionStage::StrongFactorSetup)?;
    let done = st.svc.complete_strong_setup(&plan.0, &s, &meta).await.map_err(error)?;
    Ok(Json(StrongDoneBody {
        step: SessionStep::plain(done.session.0, done.stage),
        recovery_codes: done.recovery_codes,
    }))
}
