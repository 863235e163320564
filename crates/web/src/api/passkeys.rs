//! Passkeys over JSON, the same commands as the pages: a signed-in user's passkeys (list,
//! register after confirming it is them, remove), sign-in with a passkey alone, and a passkey as
//! the second step. A ceremony is two calls: `…/options` gives the handle and the options for
//! `navigator.credentials.create` / `get` (`{"publicKey": …}`, binary values in base64url), then
//! the authenticator's answer (the `PublicKeyCredential` as JSON, binary values in base64url) is
//! posted with the handle. The origin in the answer must be the plan's own.

use super::ApiError;
use super::auth::SessionStep;
use super::body::{ApiPath, JsonBody};
use super::caller::{AnySession, SignedIn};
use crate::AppState;
use crate::extract::{CurrentPlan, Meta};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::PasskeyId;
use gatehouse_domain::passkey::MAX_NAME_LEN;
use gatehouse_domain::session::SessionStage;
use gatehouse_services::passkeys::{CeremonyOptions, PasskeyError, PasskeySignedIn, PasskeyView};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The sign-in operations (tagged with sign-in).
pub fn auth_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(passkey_signin_options))
        .routes(routes!(passkey_signin))
        .routes(routes!(passkey_second_step_options))
        .routes(routes!(passkey_second_step))
}

/// The profile operations (tagged with My profile).
pub fn profile_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_passkeys, register_passkey))
        .routes(routes!(passkey_registration_options))
        .routes(routes!(remove_passkey))
        .routes(routes!(passkey_reauth_options))
        .routes(routes!(passkey_reauth))
}

pub(super) fn error(e: PasskeyError) -> ApiError {
    let message = e.to_string();
    match e {
        PasskeyError::Internal(e) => ApiError::internal(e),
        PasskeyError::NotUnlocked => ApiError::new(StatusCode::FORBIDDEN, "confirm_identity", message),
        PasskeyError::Name(_) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", message).field(Some("name"))
        }
        PasskeyError::CeremonyUnusable => ApiError::new(StatusCode::GONE, "ceremony_unusable", message),
        PasskeyError::Refused => ApiError::new(StatusCode::UNAUTHORIZED, "passkey_refused", message),
        PasskeyError::AlreadyRegistered => ApiError::new(StatusCode::CONFLICT, "already_registered", message),
        PasskeyError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", message),
        PasskeyError::NoPasskey => ApiError::new(StatusCode::CONFLICT, "no_passkey", message),
        PasskeyError::Deactivated => ApiError::new(StatusCode::FORBIDDEN, "deactivated", message),
        PasskeyError::WrongStage => ApiError::new(StatusCode::CONFLICT, "wrong_stage", message),
        PasskeyError::NotOffered => ApiError::new(StatusCode::FORBIDDEN, "not_offered", message),
        PasskeyError::StrongFactorRequired => ApiError::new(StatusCode::CONFLICT, "strong_factor_required", message),
        PasskeyError::Locked { .. } => ApiError::new(StatusCode::TOO_MANY_REQUESTS, "locked", message),
        PasskeyError::Throttled { retry_after } => {
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "throttled", message).retry_after(retry_after)
        }
    }
}

fn handle() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(100))
        .description(Some("The ceremony's handle, from its `…/options` call."))
        .build()
}

fn passkey_name() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_NAME_LEN))
        .description(Some("The person's name for the passkey; white space is collapsed."))
        .examples([serde_json::json!("Office laptop")])
        .build()
}

fn web_authn_json(what: &str) -> Object {
    ObjectBuilder::new().schema_type(Type::Object).description(Some(what)).build()
}

fn creation_or_request_options() -> Object {
    web_authn_json(
        "The WebAuthn options, `{\"publicKey\": …}`, binary values in base64url: for \
         `navigator.credentials.create` (registration) or `get` (sign-in, second step).",
    )
}

fn public_key_credential() -> Object {
    web_authn_json(
        "The authenticator's answer: the browser's `PublicKeyCredential` as JSON (`id`, `rawId`, `type`, \
         `response` with `clientDataJSON` and `attestationObject`, or `authenticatorData`, `signature` and \
         `userHandle`), binary values in base64url.",
    )
}

/// A ceremony's handle and the options to hand to the authenticator.
#[derive(Serialize, ToSchema)]
pub struct CeremonyBody {
    /// Send back with the answer. Works once, for 6 minutes.
    #[schema(schema_with = handle)]
    pub ceremony: String,
    #[schema(schema_with = creation_or_request_options)]
    pub options: Value,
}

impl From<CeremonyOptions> for CeremonyBody {
    fn from(o: CeremonyOptions) -> Self {
        Self { ceremony: o.ceremony, options: o.options }
    }
}

/// One of the user's passkeys.
#[derive(Serialize, ToSchema)]
pub struct PasskeyBody {
    /// Its id, for `DELETE /api/v1/me/passkeys/{id}`.
    pub id: i64,
    #[schema(schema_with = passkey_name)]
    pub name: String,
    /// Whether the authenticator said the key may be synced to other devices.
    pub synced: bool,
    /// When it was registered (Unix seconds, UTC).
    pub created_at: i64,
    /// When it last signed in (Unix seconds, UTC); `null` before its first use.
    pub last_used_at: Option<i64>,
}

/// A passkey just registered.
#[derive(Serialize, ToSchema)]
pub struct RegisteredPasskeyBody {
    #[serde(flatten)]
    pub passkey: PasskeyBody,
    /// Ten single-use codes like `abcde-12345`, returned only here, when this passkey is the
    /// account's first strong factor (no authenticator app and no unused recovery codes);
    /// otherwise absent (`null`).
    pub recovery_codes: Option<Vec<String>>,
}

impl From<PasskeyView> for PasskeyBody {
    fn from(v: PasskeyView) -> Self {
        Self { id: v.id.0, name: v.name, synced: v.synced, created_at: v.created_at, last_used_at: v.last_used_at }
    }
}

/// The name of the passkey about to be registered.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Office laptop"}))]
pub struct PasskeyNameBody {
    #[schema(schema_with = passkey_name)]
    pub name: String,
}

/// The authenticator's answer to a ceremony.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyAnswerBody {
    #[schema(schema_with = handle)]
    pub ceremony: String,
    #[schema(schema_with = public_key_credential)]
    pub credential: serde_json::Map<String, Value>,
}

impl PasskeyAnswerBody {
    /// The handle and the answer as text, or 422 `invalid_body` for a handle outside its schema
    /// (as the body's own checks answer).
    pub(super) fn parts(&self) -> Result<(&str, String), ApiError> {
        if self.ceremony.is_empty() || self.ceremony.len() > 100 {
            let message = "`ceremony` must be the handle from the ceremony's options (1 to 100 characters).";
            return Err(
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message).field(Some("ceremony"))
            );
        }
        Ok((&self.ceremony, Value::Object(self.credential.clone()).to_string()))
    }
}

fn session_step(s: PasskeySignedIn) -> Json<SessionStep> {
    Json(SessionStep::plain(s.session.0, s.stage))
}

/// The signed-in user's passkeys, oldest first.
#[utoipa::path(get, path = "/me/passkeys", security(("bearer" = [])),
    responses((status = 200, body = [PasskeyBody], description = "The passkeys.")))]
pub async fn my_passkeys(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
) -> Result<Json<Vec<PasskeyBody>>, ApiError> {
    let keys = st.svc.my_passkeys(&plan.0, &s).await.map_err(error)?;
    Ok(Json(keys.into_iter().map(Into::into).collect()))
}

/// Starts registering a passkey (after confirming it is you: `POST /me/profile/confirm-password`
/// then `verify-code`). The key is asked to be discoverable and to verify its user.
#[utoipa::path(post, path = "/me/passkeys/options", request_body = PasskeyNameBody, security(("bearer" = [])),
    responses((status = 200, body = CeremonyBody, description = "Hand `options` to `navigator.credentials.create`."),
        (status = 403, description = "`confirm_identity`: confirm it is you first (the profile is not open); `not_offered`: the plan does not offer passkeys."),
        (status = 422, description = "`invalid_input`: the name is empty, too long or holds control characters (field `name`).")))]
pub async fn passkey_registration_options(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    JsonBody(b): JsonBody<PasskeyNameBody>,
) -> Result<Json<CeremonyBody>, ApiError> {
    Ok(Json(st.svc.start_passkey_registration(&plan.0, &s, &b.name).await.map_err(error)?.into()))
}

/// Registers the passkey with the authenticator's answer.
#[utoipa::path(post, path = "/me/passkeys", request_body = PasskeyAnswerBody, security(("bearer" = [])),
    responses((status = 201, body = RegisteredPasskeyBody, description = "The passkey was registered; the first strong factor comes with its recovery codes."),
        (status = 401, description = "`passkey_refused`: the answer does not verify (another origin, a wrong challenge, no user verification)."),
        (status = 403, description = "`confirm_identity`: confirm it is you first (the profile is not open)."),
        (status = 409, description = "`already_registered`: this key is registered already."),
        (status = 410, description = "`ceremony_unusable`: the ceremony is unknown, expired, used, or another session's.")))]
pub async fn register_passkey(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<PasskeyAnswerBody>,
) -> Result<(StatusCode, Json<RegisteredPasskeyBody>), ApiError> {
    let (ceremony, credential) = b.parts()?;
    let r = st.svc.finish_passkey_registration(&plan.0, &s, ceremony, &credential, &meta).await.map_err(error)?;
    let body = RegisteredPasskeyBody { passkey: r.passkey.into(), recovery_codes: r.recovery_codes };
    Ok((StatusCode::CREATED, Json(body)))
}

/// Removes one of the user's passkeys (after confirming it is you).
#[utoipa::path(delete, path = "/me/passkeys/{id}", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The passkey's id, from `GET /api/v1/me/passkeys`.")),
    responses((status = 204),
        (status = 403, description = "`confirm_identity`: confirm it is you first (the profile is not open)."),
        (status = 404, description = "`not_found`: the user has no passkey with this id."),
        (status = 409, description = "`strong_factor_required`: the plan requires an app or passkey of this account and this is its last one; add another first.")))]
pub async fn remove_passkey(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ApiPath(id): ApiPath<PasskeyId>,
) -> Result<StatusCode, ApiError> {
    st.svc.remove_passkey(&plan.0, &s, id, &meta).await.map_err(error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Confirms it is you with a passkey, second step (after `POST /me/profile/confirm-password`,
/// instead of the code): the options, allowing only this account's passkeys.
#[utoipa::path(post, path = "/me/profile/passkey/options", security(("bearer" = [])),
    responses((status = 200, body = CeremonyBody, description = "Hand `options` to `navigator.credentials.get`."),
        (status = 403, description = "`confirm_identity`: the password step is not done (or is over 10 minutes old), or the profile is open already."),
        (status = 409, description = "`no_passkey`: the account has no passkey.")))]
pub async fn passkey_reauth_options(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
) -> Result<Json<CeremonyBody>, ApiError> {
    Ok(Json(st.svc.start_passkey_reauth(&plan.0, &s).await.map_err(error)?.into()))
}

/// Confirms it is you with the passkey's answer: the profile is then open for 15 minutes.
#[utoipa::path(post, path = "/me/profile/passkey", request_body = PasskeyAnswerBody, security(("bearer" = [])),
    responses((status = 200, body = super::profile::ProfileBody, description = "The profile, open for changes."),
        (status = 401, description = "`passkey_refused`: the key is not one of this account's or its answer does not verify (counted toward the user's lock, as a wrong password)."),
        (status = 403, description = "`confirm_identity`: the password step is not done (or is over 10 minutes old), or the profile is open already."),
        (status = 410, description = "`ceremony_unusable`: the ceremony is unknown, expired, used, or another session's."),
        (status = 429, description = "`locked`: too many failed sign-ins (wrong passwords or passkeys); the message says for how many minutes.")))]
pub async fn passkey_reauth(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<PasskeyAnswerBody>,
) -> Result<Json<super::profile::ProfileBody>, ApiError> {
    let (ceremony, credential) = b.parts()?;
    st.svc.finish_passkey_reauth(&plan.0, &s, ceremony, &credential, &meta).await.map_err(error)?;
    Ok(Json(st.svc.my_profile(&plan.0, &s).await.map_err(|e| error(e.into()))?.into()))
}

/// Starts a sign-in with a passkey alone: the authenticator chooses the key, which names its user.
/// Each client address may start 60 within 10 minutes.
#[utoipa::path(post, path = "/signin/passkey/options",
    responses((status = 200, body = CeremonyBody, description = "Hand `options` to `navigator.credentials.get`."),
        (status = 429, description = "`throttled`: too many sign-in options for this address; retry after Retry-After.")))]
pub async fn passkey_signin_options(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
) -> Result<Json<CeremonyBody>, ApiError> {
    Ok(Json(st.svc.start_passkey_signin(&plan.0, &meta).await.map_err(error)?.into()))
}

/// Signs in with a user-verifying passkey alone (both factors); the session goes on to the
/// terms when they must be signed, else is complete.
#[utoipa::path(post, path = "/signin/passkey", request_body = PasskeyAnswerBody,
    responses((status = 200, body = SessionStep),
        (status = 401, description = "`passkey_refused`: the key is unknown here (another plan's, removed) or its answer does not verify (counted toward the user's lock, as a wrong password)."),
        (status = 403, description = "`deactivated`: the account is deactivated."),
        (status = 410, description = "`ceremony_unusable`: the ceremony is unknown, expired or used."),
        (status = 429, description = "`locked`: too many failed sign-ins (wrong passwords or passkeys); the message says for how many minutes.")))]
pub async fn passkey_signin(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<PasskeyAnswerBody>,
) -> Result<Json<SessionStep>, ApiError> {
    let (ceremony, credential) = b.parts()?;
    Ok(session_step(st.svc.finish_passkey_signin(&plan.0, ceremony, &credential, &meta).await.map_err(error)?))
}

/// Starts a passkey as the second step, instead of the code (session at `two_step_code`).
#[utoipa::path(post, path = "/two-step/passkey/options", security(("bearer" = [])),
    responses((status = 200, body = CeremonyBody, description = "Hand `options` to `navigator.credentials.get`."),
        (status = 409, description = "`wrong_stage`: the session is not at the two-step code; `no_passkey`: the user has none.")))]
pub async fn passkey_second_step_options(
    State(st): State<AppState>,
    plan: CurrentPlan,
    s: AnySession,
) -> Result<Json<CeremonyBody>, ApiError> {
    let s = s.at(SessionStage::TwoStepCode)?;
    Ok(Json(st.svc.start_passkey_second_step(&plan.0, &s).await.map_err(error)?.into()))
}

/// Finishes the second step with a passkey; the session goes on under a new token.
#[utoipa::path(post, path = "/two-step/passkey", request_body = PasskeyAnswerBody, security(("bearer" = [])),
    responses((status = 200, body = SessionStep),
        (status = 401, description = "`passkey_refused`: the key is not one of the user's or its answer does not verify (counted toward the user's lock, as a wrong password)."),
        (status = 409, description = "`wrong_stage`: the session is not at the two-step code."),
        (status = 410, description = "`ceremony_unusable`: the ceremony is unknown, expired, used, or another session's."),
        (status = 429, description = "`locked`: too many failed sign-ins (wrong passwords or passkeys); the message says for how many minutes.")))]
pub async fn passkey_second_step(
    State(st): State<AppState>,
    plan: CurrentPlan,
    s: AnySession,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<PasskeyAnswerBody>,
) -> Result<Json<SessionStep>, ApiError> {
    let s = s.at(SessionStage::TwoStepCode)?;
    let (ceremony, credential) = b.parts()?;
    Ok(session_step(st.svc.finish_passkey_second_step(&plan.0, &s, ceremony, &credential, &meta).await.map_err(error)?))
}
