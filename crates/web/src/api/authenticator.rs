//! The signed-in user's authenticator app and recovery codes over JSON, the same commands as the
//! `/profile/authenticator` page. Every change needs the profile opened first (confirm it is
//! you: `POST /me/profile/confirm-password`, then `POST /me/profile/verify-code`).

use super::ApiError;
use super::body::JsonBody;
use super::caller::SignedIn;
use crate::AppState;
use crate::extract::{CurrentPlan, Meta};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::totp::TotpError;
use gatehouse_services::authenticator_app::{AuthenticatorError, Factors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(factors, remove))
        .routes(routes!(enrol))
        .routes(routes!(confirm))
        .routes(routes!(regenerate))
}

pub(super) fn error(e: AuthenticatorError) -> ApiError {
    match e {
        AuthenticatorError::Internal(e) => ApiError::internal(e),
        AuthenticatorError::NotUnlocked => ApiError::new(StatusCode::FORBIDDEN, "confirm_identity", e.to_string()),
        AuthenticatorError::AlreadyEnrolled | AuthenticatorError::NoEnrolment | AuthenticatorError::NotEnrolled => {
            ApiError::new(StatusCode::CONFLICT, "wrong_state", e.to_string())
        }
        AuthenticatorError::Code(TotpError::Malformed | TotpError::Wrong) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "wrong_code", e.to_string()).field(Some("code"))
        }
        AuthenticatorError::Code(TotpError::BadSecret) => ApiError::internal(e),
        AuthenticatorError::NotOffered => ApiError::new(StatusCode::FORBIDDEN, "not_offered", e.to_string()),
        AuthenticatorError::StrongFactorRequired => {
            ApiError::new(StatusCode::CONFLICT, "strong_factor_required", e.to_string())
        }
    }
}

/// The user's strong factors.
#[derive(Serialize, ToSchema)]
pub struct FactorsBody {
    /// When the authenticator app was added (Unix seconds), if there is one.
    pub app_since: Option<i64>,
    /// An app was started but its first code not entered yet.
    pub app_pending: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
}

impl From<Factors> for FactorsBody {
    fn from(f: Factors) -> Self {
        Self { app_since: f.app_since, app_pending: f.app_pending, recovery_codes_left: f.recovery_codes_left }
    }
}

const NOT_OPEN: &str = "`confirm_identity`: confirm it is you first (password, then code), or the 15 minutes are over.";

/// The signed-in user's authenticator app and recovery codes.
#[utoipa::path(get, path = "/me/authenticator", security(("bearer" = [])),
    responses((status = 200, body = FactorsBody),
        (status = 403, description = "`confirm_identity`: the account has no two-step phone or is not active.")))]
pub async fn factors(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
) -> Result<Json<FactorsBody>, ApiError> {
    Ok(Json(st.svc.my_factors(&plan.0, &s).await.map_err(error)?.into()))
}

/// What to put in the authenticator app.
#[derive(Serialize, ToSchema)]
pub struct EnrolmentBody {
    /// The secret in base32 (groups of four), to type into the app.
    pub secret: String,
    /// The `otpauth://totp/...` URI (issuer: the plan, account: the username).
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG image.
    pub qr_svg: String,
}

/// Starts adding an authenticator app: a new secret (160 bits), waiting for its first code.
///
/// Starting again replaces a waiting secret. Then `POST /me/authenticator/confirm`.
#[utoipa::path(post, path = "/me/authenticator/enrol", security(("bearer" = [])),
    responses((status = 200, body = EnrolmentBody),
        (status = 403, description = "`confirm_identity`: confirm it is you first (password, then code), or the 15 minutes are over; `not_offered`: the plan does not offer authenticator apps."),
        (status = 409, description = "`wrong_state`: the account already has an app (remove it first).")))]
pub async fn enrol(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
) -> Result<Json<EnrolmentBody>, ApiError> {
    let e = st.svc.app_enrol_start(&plan.0, &s, &meta).await.map_err(error)?;
    Ok(Json(EnrolmentBody { secret: e.secret, otpauth_uri: e.uri, qr_svg: e.qr_svg }))
}

/// The first code the app shows.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "123456"}))]
pub struct AppCodeBody {
    /// Six digits.
    #[schema(schema_with = super::schema::code)]
    pub code: String,
}

/// Recovery codes, shown this once.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodesBody {
    /// Ten single-use codes like `abcde-12345`; absent when the account already had unused ones.
    pub recovery_codes: Option<Vec<String>>,
}

/// Confirms the new app with its first code. The first strong factor also gets ten recovery
/// codes, returned only here.
#[utoipa::path(post, path = "/me/authenticator/confirm", request_body = AppCodeBody, security(("bearer" = [])),
    responses((status = 200, body = RecoveryCodesBody),
        (status = 403, description = NOT_OPEN),
        (status = 409, description = "`wrong_state`: no app is waiting for its first code."),
        (status = 422, description = "`wrong_code`: the code is not six digits or not the app's (field `code`).")))]
pub async fn confirm(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<AppCodeBody>,
) -> Result<Json<RecoveryCodesBody>, ApiError> {
    let codes = st.svc.app_enrol_confirm(&plan.0, &s, &b.code, &meta).await.map_err(error)?;
    Ok(Json(RecoveryCodesBody { recovery_codes: codes }))
}

/// Removes the authenticator app (and the recovery codes, unless the account keeps a passkey);
/// sign-in codes go to the phone again.
#[utoipa::path(delete, path = "/me/authenticator", security(("bearer" = [])),
    responses((status = 204, description = "Removed."),
        (status = 403, description = NOT_OPEN),
        (status = 409, description = "`wrong_state`: the account has no app; `strong_factor_required`: the plan requires an app or passkey of this account and it has no passkey (add one first).")))]
pub async fn remove(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
) -> Result<StatusCode, ApiError> {
    st.svc.app_remove(&plan.0, &s, &meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Makes ten new recovery codes; the old ones stop working.
#[utoipa::path(post, path = "/me/recovery-codes", security(("bearer" = [])),
    responses((status = 200, body = RecoveryCodesBody),
        (status = 403, description = NOT_OPEN),
        (status = 409, description = "`wrong_state`: the account has neither an authenticator app nor a passkey.")))]
pub async fn regenerate(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
) -> Result<Json<RecoveryCodesBody>, ApiError> {
    let codes = st.svc.recovery_codes_regenerate(&plan.0, &s, &meta).await.map_err(error)?;
    Ok(Json(RecoveryCodesBody { recovery_codes: Some(codes) }))
}
