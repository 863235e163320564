//! Sign-up, sign-in, two-step, terms and sessions over JSON, and the request values the sign-in
//! family of operations share (link tokens, new passwords, phone numbers).

use super::ApiError;
use super::body::{ApiPath, JsonBody};
use super::caller::{AnySession, SignedIn};
use crate::AppState;
use crate::extract::{CurrentPlan, Meta};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::known_device::DeviceTokens;
use gatehouse_domain::session::SessionStage;
use gatehouse_domain::{SessionId, TwoStepMethod, Username, password, phone, settings};
use gatehouse_services::factor_nudge::Welcome;
use gatehouse_services::sessions::{SessionError, SessionView};
use gatehouse_services::signin::SignInError;
use gatehouse_services::signup::SignUpError;
use gatehouse_services::terms::TermsError;
use gatehouse_services::tokens::TOKEN_LEN;
use gatehouse_services::two_step::TwoStepError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(check_invitation))
        .routes(routes!(sign_up))
        .routes(routes!(sign_in))
        .routes(routes!(setup_phone))
        .routes(routes!(resend_code))
        .routes(routes!(verify_code))
        .routes(routes!(verify_recovery_code))
        .routes(routes!(use_app))
        .routes(routes!(get_terms))
        .routes(routes!(sign_terms))
        .routes(routes!(me))
        .routes(routes!(dismiss_factor_nudge))
        .routes(routes!(list_sessions))
        .routes(routes!(end_session))
        .routes(routes!(sign_out))
}

type ApiResult<T> = Result<Json<T>, ApiError>;

pub(super) fn stage_name(s: SessionStage) -> &'static str {
    s.as_str()
}

/// The secret token of an emailed link (an invitation, a password reset, an email proof) or of a
/// reset in progress, as the API reads it: exactly the shape the server makes them
/// ([`super::schema::token`]). Any other text is refused while the body is read (422
/// `invalid_body`, naming the field) and is never looked up, so a token of the right shape that
/// matches nothing is the only one answered 410.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
pub struct LinkToken(pub String);

impl TryFrom<String> for LinkToken {
    type Error = &'static str;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        if s.len() == TOKEN_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            Ok(Self(s))
        } else {
            Err("this is not a link's token (43 letters, digits, - and _): check that the whole link was copied")
        }
    }
}

fn text(min: usize, max: usize) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).min_length(Some(min)).max_length(Some(max))
}

/// A new password: within the lengths any plan may set (the plan's own policy, and its refusal
/// of common passwords and of the username, answer 422 `invalid_input`).
pub fn new_password() -> Object {
    let shortest = usize::try_from(*settings::PASSWORD_MIN_RANGE.start()).unwrap_or(1);
    let longest = usize::try_from(*settings::PASSWORD_MAX_RANGE.end()).unwrap_or(usize::MAX);
    text(shortest, longest)
        .description(Some(
            "A new password. The plan sets its own length limits within these (12 to 128 unless changed) and refuses \
             common passwords and ones containing the username (422 `invalid_input`, naming the field).",
        ))
        .examples([serde_json::json!("quiet harbor lantern 42")])
        .build()
}

/// A password typed to sign in: anything longer than sign-in checks is answered as a wrong one.
fn signin_password() -> Object {
    text(1, password::MAX_CHECKED_LEN).examples([serde_json::json!("correct horse battery")]).build()
}

/// A phone number as dialled, without or with its own `+` calling code. Whether it is a real
/// number of its country is checked against the numbering plan (422 `invalid_phone`).
pub fn phone_number() -> Object {
    text(1, phone::MAX_NATIONAL_LEN)
        .description(Some(
            "A phone number as dialled, e.g. `206-555-0143`, or with its own calling code (`+1 206 555 0143`), \
             which must then be the one chosen.",
        ))
        .examples([serde_json::json!("206-555-0143")])
        .build()
}

/// A calling code, with or without its `+`; `null` or absent for the United States.
fn country_code() -> Object {
    let digits = phone::MAX_COUNTRY_CODE_DIGITS;
    text(1, digits + 1)
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .pattern(Some(format!("^\\+?[0-9]{{1,{digits}}}$")))
        .description(Some("The calling code, `1` (United States) when absent."))
        .examples([serde_json::json!("1")])
        .build()
}

/// A session token or the token of a reset, as answered.
fn answered_token() -> Object {
    let mut o = super::schema::token();
    o.description = Some("Send as `Authorization: Bearer …`. A new token replaces the old one at every step.".into());
    o
}

/// The step a session must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// An imported account's first sign-in: a link was emailed to the address on record; redeem
    /// its token at `POST /api/v1/first-signin/email-proof`, which answers a new session at
    /// `new_password`.
    EmailProof,
    /// An imported account's first sign-in, once the email is proven or when the plan does not
    /// ask: `POST /api/v1/first-password`.
    NewPassword,
    /// Set up a two-step phone: `POST /api/v1/two-step/setup`, then `/two-step/verify`.
    TwoStepSetup,
    /// Enter the code sent to the two-step phone: `POST /api/v1/two-step/verify`.
    TwoStepCode,
    /// The plan requires an authenticator app or a passkey for this account and it has none:
    /// add one (`POST /api/v1/two-step/strong/app` then `/two-step/strong/app/confirm`, or
    /// `POST /api/v1/two-step/strong/passkey/options` then `/two-step/strong/passkey`), then
    /// `POST /api/v1/two-step/strong/complete`.
    StrongFactorSetup,
    /// Sign the terms: `GET /api/v1/terms`, then `POST /api/v1/terms/sign`.
    Terms,
    /// Signed in.
    Complete,
}

impl From<SessionStage> for Step {
    fn from(s: SessionStage) -> Self {
        match s {
            SessionStage::EmailProof => Self::EmailProof,
            SessionStage::NewPassword => Self::NewPassword,
            SessionStage::TwoStepSetup => Self::TwoStepSetup,
            SessionStage::TwoStepCode => Self::TwoStepCode,
            SessionStage::StrongFactorSetup => Self::StrongFactorSetup,
            SessionStage::Terms => Self::Terms,
            SessionStage::Complete => Self::Complete,
        }
    }
}

/// A session token and the step it must do next.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"session_token": "Zq3xY8a1kN0pR7sT2uV5wX9yB4cD6eF8gH1iJ3kL5mN", "next": "two_step_code", "masked_phone": "XXX-XXX-9975", "code_sent": true}))]
pub struct SessionStep {
    /// Send as `Authorization: Bearer …`. A new token replaces the old one at every step.
    #[schema(schema_with = answered_token)]
    pub session_token: String,
    /// What to do next.
    pub next: Step,
    /// Where the code was sent, masked (`XXX-XXX-9975`), when `next` is `two_step_code`.
    pub masked_phone: Option<String>,
    /// Where the link was sent, masked (`j***@example.org`), when `next` is `email_proof`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masked_email: Option<String>,
    /// When `next` is `two_step_code` (or `email_proof`): whether the code (or link) was actually
    /// sent. `false` when none could be, because the hour's limit of codes (or links) was
    /// reached; a code received in the last minutes still works, and
    /// `POST /api/v1/two-step/resend` sends one again from `next_code_at`. Absent at other steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_sent: Option<bool>,
    /// When `code_sent` is `false` at `two_step_code`: when the next code can be sent (Unix
    /// seconds, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_code_at: Option<i64>,
    /// When `next` is `two_step_code`: `true` when the code asked for is the authenticator app's
    /// (nothing was texted; `POST /api/v1/two-step/resend` texts one instead, and
    /// `POST /api/v1/two-step/recovery` takes a recovery code). Absent at other steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_code: Option<bool>,
    /// When `next` is `two_step_code`: `true` when the plan requires an authenticator app or a
    /// passkey of this account, which holds one: no code was texted, and texted or called codes
    /// are refused (403 `strong_factor_required`); answer with the app's code, a passkey
    /// (`POST /api/v1/two-step/passkey/options`) or a recovery code. Absent at other steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strong_factor_only: Option<bool>,
    /// After a right password (`POST /api/v1/signin` only): the device's tokens of known
    /// usernames (the schema says how to use them).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = device_token_answered)]
    pub device_token: Option<String>,
}

impl SessionStep {
    /// A step that sends nothing.
    pub fn plain(session_token: String, next: SessionStage) -> Self {
        Self {
            session_token,
            next: next.into(),
            masked_phone: None,
            masked_email: None,
            code_sent: None,
            next_code_at: None,
            app_code: None,
            strong_factor_only: None,
            device_token: None,
        }
    }
}

/// The token of a sign-up link (the `token` parameter of the emailed link).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    #[schema(schema_with = super::schema::token)]
    pub token: LinkToken,
}

/// Whom an invitation is for.
#[derive(Serialize, ToSchema)]
pub struct InviteeBody {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
}

fn signup_error(e: SignUpError) -> ApiError {
    match e {
        SignUpError::Link(p) => ApiError::new(StatusCode::GONE, "link_unusable", p.to_string()).field(Some("token")),
        SignUpError::Busy => ApiError::busy(),
        SignUpError::Internal(e) => ApiError::internal(e),
        SignUpError::UsernameTaken => {
            ApiError::new(StatusCode::CONFLICT, "username_taken", e.to_string()).field(Some("username"))
        }
        SignUpError::TooManyTakenNames => {
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_taken_names", e.to_string())
        }
        other => {
            let field = other.field();
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", other.to_string()).field(field)
        }
    }
}

/// Checks a sign-up link's token and says whom it is for.
///
/// Nothing is used up: the page of the link calls this before showing the sign-up form.
#[utoipa::path(post, tag = "auth", path = "/invitations/check", request_body = TokenBody,
    responses(
        (status = 200, body = InviteeBody),
        (status = 410, description = "`link_unusable`: no invitation has this token, or it was used, cancelled, replaced by a newer one or has expired (the message says which)."),
        (status = 422, description = "`invalid_body`: a field is missing, unknown or of the wrong type, or `token` is not a link's token (the error names it in field).")))]
pub async fn check_invitation(
    State(st): State<AppState>,
    plan: CurrentPlan,
    JsonBody(b): JsonBody<TokenBody>,
) -> ApiResult<InviteeBody> {
    let i = st.svc.invitation(&plan.0, &b.token.0).await.map_err(signup_error)?;
    Ok(Json(InviteeBody { first_name: i.first_name, last_name: i.last_name, email: i.email }))
}

/// Sign-up from an invitation: its link's token, the username and the password chosen.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token": "Zq3xY8a1kN0pR7sT2uV5wX9yB4cD6eF8gH1iJ3kL5mN", "username": "mlopez", "password": "quiet harbor lantern 42", "confirm_password": "quiet harbor lantern 42"}))]
pub struct SignUpBody {
    #[schema(schema_with = super::schema::token)]
    pub token: LinkToken,
    /// The username chosen (in a plan whose usernames are email addresses, an email address).
    #[schema(schema_with = super::schema::username)]
    pub username: String,
    #[schema(schema_with = new_password)]
    pub password: String,
    /// The password again.
    #[schema(schema_with = new_password)]
    pub confirm_password: String,
}

/// Completes sign-up from an invitation; the session goes on to two-step set-up.
///
/// The username and password are checked before the link, so a refused choice leaves the link
/// usable.
#[utoipa::path(post, tag = "auth", path = "/signup", request_body = SignUpBody,
    responses(
        (status = 201, body = SessionStep),
        (status = 409, description = "`username_taken`: another account has this username (case does not matter)."),
        (status = 410, description = "`link_unusable`: no invitation has this token, or it was used, cancelled, replaced by a newer one or has expired."),
        (status = 422, description = "`invalid_input`: the username or password breaks the plan's rules, or the two passwords differ (the error names the field); `invalid_body`: a field is missing, unknown or of the wrong type, or `token` is not a link's token."),
        (status = 429, description = "`too_many_taken_names`: this link already answered ten times that a username was taken; a new link (resent invitation) starts again."),
        (status = 503, description = "`busy`: password hashing is at capacity; retry after Retry-After.")))]
pub async fn sign_up(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<SignUpBody>,
) -> Result<(StatusCode, Json<SessionStep>), ApiError> {
    // The choices first: a client learns what to fix without the link being looked up.
    let username = Username::parse_as(&b.username, plan.0.username_format()).map_err(|e| signup_error(e.into()))?;
    plan.0
        .password_policy()
        .check(&b.password, &b.confirm_password, Some(username.as_str()))
        .map_err(|e| signup_error(e.into()))?;
    let token = st
        .svc
        .sign_up(&plan.0, &b.token.0, &b.username, &b.password, &b.confirm_password, &meta)
        .await
        .map_err(signup_error)?;
    Ok((StatusCode::CREATED, Json(SessionStep::plain(token.0, SessionStage::TwoStepSetup))))
}

/// A username and password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "jdoe", "password": "correct horse battery"}))]
pub struct SignInBody {
    /// The username; case does not matter. Text that is no account's username is answered as a
    /// wrong password.
    #[schema(schema_with = super::schema::username)]
    pub username: String,
    #[schema(schema_with = signin_password)]
    pub password: String,
    /// The device's tokens of known usernames (the schema says more).
    #[serde(default)]
    #[schema(schema_with = device_token_sent)]
    pub device_token: Option<String>,
}

/// A device's tokens of known usernames, as a sign-in answers them.
fn device_token_answered() -> Object {
    device_token(
        "After a right password (`POST /api/v1/signin` only): this device's tokens of the usernames whose \
         password it has passed, this one's renewed. Keep it and send it back as `device_token` at this \
         device's next sign-in: with it, wrong passwords typed elsewhere do not lock this username for this \
         device (they still lock it for others), and wrong passwords typed here lock it on this device alone. \
         Honoured for 180 days; it holds up to five usernames.",
    )
}

/// A device's tokens of known usernames, as a sign-in takes them back.
fn device_token_sent() -> Object {
    device_token(
        "The `device_token` an earlier sign-in on this device answered, if it kept one. Tokens that are \
         malformed, stale or of other usernames are ignored.",
    )
}

fn device_token(description: &str) -> Object {
    text(0, DEVICE_TOKEN_MAX_LEN)
        .description(Some(description))
        .examples([serde_json::json!("AAAAAGsMyQAQERITFBUWFxgZGhscHR4fZGVmZ2hpamtsbW5vcHFycw")])
        .build()
}

/// The longest `device_token` read: five tokens and their separators.
const DEVICE_TOKEN_MAX_LEN: usize = 5 * 55;

/// Checks username and password; the session goes on to two-step.
///
/// Wrong passwords lock the username (from the caller's address) for some minutes after a few
/// tries (429 `locked`). An imported account's first sign-in goes on to `email_proof` or
/// `new_password` instead.
#[utoipa::path(post, tag = "auth", path = "/signin", request_body = SignInBody,
    responses(
        (status = 200, body = SessionStep),
        (status = 401, description = "`invalid_credentials`: the username or password is not correct."),
        (status = 422, description = "`invalid_device_token`: `device_token` is longer than any this server answers."),
        (status = 403, description = "`deactivated`: the account is deactivated."),
        (status = 429, description = "`locked`: too many wrong passwords; the message says for how many minutes."),
        (status = 503, description = "`busy`: password hashing is at capacity; retry after Retry-After.")))]
pub async fn sign_in(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<SignInBody>,
) -> ApiResult<SessionStep> {
    let device_token = b.device_token.as_deref().unwrap_or_default();
    if device_token.chars().count() > DEVICE_TOKEN_MAX_LEN {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_device_token",
            "The device token is longer than any this server answers. Send the one a sign-in answered, or none.",
        )
        .field(Some("device_token")));
    }
    let devices = DeviceTokens::parse(device_token);
    match st.svc.sign_in_from(&plan.0, &b.username, &b.password, &devices, &meta).await {
        Ok(s) => {
            let sends = matches!(s.stage, SessionStage::TwoStepCode | SessionStage::EmailProof);
            Ok(Json(SessionStep {
                session_token: s.session.0,
                next: s.stage.into(),
                masked_phone: s.masked_phone,
                masked_email: s.masked_email,
                code_sent: sends.then_some(s.code_sent),
                next_code_at: s.next_code_at,
                app_code: (s.stage == SessionStage::TwoStepCode).then_some(s.app),
                strong_factor_only: (s.stage == SessionStage::TwoStepCode).then_some(s.strong_only),
                device_token: Some(s.devices.to_cookie_value()),
            }))
        }
        Err(SignInError::Busy) => Err(ApiError::busy()),
        Err(SignInError::Internal(e)) => Err(ApiError::internal(e)),
        Err(e @ SignInError::Invalid) => {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", e.to_string()))
        }
        Err(e @ SignInError::Locked { .. }) => {
            Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "locked", e.to_string()))
        }
        Err(e @ SignInError::Deactivated) => Err(ApiError::new(StatusCode::FORBIDDEN, "deactivated", e.to_string())),
    }
}

/// The 429 of an answer to the second step while it takes none.
pub(crate) const TOO_MANY_WRONG_CODES: &str = "`too_many_wrong_codes`: too many wrong answers in a row to this account's second step (codes, app codes and recovery codes together); answers pause for a time that grows with each (the message and, while paused, `Retry-After` say how long), and stop after 100 until the password is reset.";

/// 429 for a second step that takes no answers now, with `Retry-After` while the wait is known.
pub(crate) fn answers_refused(e: &TwoStepError) -> ApiError {
    let refusal = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_wrong_codes", e.to_string());
    match e.retry_after() {
        Some(seconds) => refusal.retry_after(seconds),
        None => refusal,
    }
}

fn two_step_error(e: TwoStepError) -> ApiError {
    match e {
        TwoStepError::Internal(e) => ApiError::internal(e),
        TwoStepError::Phone(p) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_phone", p.to_string()).field(Some("phone"))
        }
        TwoStepError::TooManySends => ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_sends", e.to_string()),
        TwoStepError::AnswersPaused(_) | TwoStepError::AnswersClosed => answers_refused(&e),
        TwoStepError::WrongStage => ApiError::new(StatusCode::CONFLICT, "wrong_stage", e.to_string()),
        TwoStepError::StrongFactorRequired => {
            ApiError::new(StatusCode::FORBIDDEN, "strong_factor_required", e.to_string())
        }
        TwoStepError::VoiceNotOffered => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_offered", e.to_string()).field(Some("method"))
        }
        TwoStepError::Malformed(_) | TwoStepError::Wrong(_) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "wrong_code", e.to_string()).field(Some("code"))
        }
        TwoStepError::Replayed => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "code_replayed", e.to_string()).field(Some("code"))
        }
        TwoStepError::MalformedRecovery | TwoStepError::WrongRecovery(_) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "wrong_code", e.to_string()).field(Some("recovery_code"))
        }
        TwoStepError::TooManyTries | TwoStepError::Expired | TwoStepError::Used | TwoStepError::NoCode => {
            ApiError::new(StatusCode::GONE, "code_unusable", e.to_string()).field(Some("code"))
        }
    }
}

/// How a code is delivered.
#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// A text message.
    Text,
    /// An automated voice call reading the code.
    Voice,
}

impl From<Method> for TwoStepMethod {
    fn from(m: Method) -> Self {
        match m {
            Method::Text => Self::Text,
            Method::Voice => Self::Voice,
        }
    }
}

/// The phone to set up for two-step, and how its code is delivered.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"country_code": "1", "phone": "206-555-0143", "method": "text"}))]
pub struct SetupBody {
    #[serde(default)]
    #[schema(schema_with = country_code)]
    pub country_code: Option<String>,
    #[schema(schema_with = phone_number)]
    pub phone: String,
    pub method: Method,
}

/// Where a code went.
#[derive(Serialize, ToSchema)]
pub struct CodeSent {
    /// The phone, masked (`XXX-XXX-0143`).
    pub masked_phone: String,
}

const WRONG_STAGE: &str = "`wrong_stage`: the session is at another step (the message names it).";

/// Sends a code to a new two-step phone (session at `two_step_setup`).
///
/// The phone becomes the account's two-step phone once its code is entered at
/// `POST /api/v1/two-step/verify`.
#[utoipa::path(post, tag = "auth", path = "/two-step/setup", request_body = SetupBody, security(("bearer" = [])),
    responses(
        (status = 200, body = CodeSent),
        (status = 409, description = WRONG_STAGE),
        (status = 422, description = "`invalid_phone`: the calling code or the number is not a valid phone number (the error names `phone`); `not_offered`: the plan does not offer voice calls (field `method`)."),
        (status = 429, description = "`too_many_sends`: the hour's limit of codes was reached.")))]
pub async fn setup_phone(
    State(st): State<AppState>,
    plan: CurrentPlan,
    sess: AnySession,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<SetupBody>,
) -> ApiResult<CodeSent> {
    let s = sess.at(SessionStage::TwoStepSetup)?;
    let cc = b.country_code.unwrap_or_else(|| "1".into());
    let masked =
        st.svc.send_setup_code(&plan.0, &s, &cc, &b.phone, b.method.into(), &meta).await.map_err(two_step_error)?;
    Ok(Json(CodeSent { masked_phone: masked }))
}

/// How to send the code again.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendBody {
    /// The way set up for two-step when absent.
    #[serde(default)]
    pub method: Option<Method>,
}

/// Sends a new sign-in code to the phone on record (session at `two_step_code`).
#[utoipa::path(post, tag = "auth", path = "/two-step/resend", request_body = ResendBody, security(("bearer" = [])),
    responses(
        (status = 200, body = CodeSent),
        (status = 403, description = "`strong_factor_required`: the plan requires an authenticator app or a passkey of this account, which holds one; no code is texted or called."),
        (status = 409, description = WRONG_STAGE),
        (status = 422, description = "`not_offered`: the plan does not offer voice calls (field `method`)."),
        (status = 429, description = "`too_many_sends`: the hour's limit of codes was reached.")))]
pub async fn resend_code(
    State(st): State<AppState>,
    plan: CurrentPlan,
    sess: AnySession,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<ResendBody>,
) -> ApiResult<CodeSent> {
    let s = sess.at(SessionStage::TwoStepCode)?;
    let masked =
        st.svc.resend_signin_code(&plan.0, &s, b.method.map(Into::into), &meta).await.map_err(two_step_error)?;
    Ok(Json(CodeSent { masked_phone: masked }))
}

/// A two-step code as received.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "123456"}))]
pub struct CodeBody {
    /// The code, as many digits as the plan's codes have.
    #[schema(schema_with = super::schema::code)]
    pub code: String,
}

/// Checks a two-step code (sign-in or set-up); the session moves on under a new token.
///
/// For a session at `two_step_code` or `two_step_setup`. Next: `terms` when the current terms
/// are not signed yet, else `complete`.
#[utoipa::path(post, tag = "auth", path = "/two-step/verify", request_body = CodeBody, security(("bearer" = [])),
    responses(
        (status = 200, body = SessionStep),
        (status = 403, description = "`strong_factor_required`: the plan requires an authenticator app or a passkey of this account, which holds one; a texted or called code is refused."),
        (status = 409, description = WRONG_STAGE),
        (status = 410, description = "`code_unusable`: no code was sent, or the code expired, was used or had too many wrong tries; ask for a new one."),
        (status = 422, description = "`wrong_code`: the code is not correct or not of the plan's length (the message says how many tries are left)."),
        (status = 429, description = TOO_MANY_WRONG_CODES)))]
pub async fn verify_code(
    State(st): State<AppState>,
    plan: CurrentPlan,
    AnySession(s): AnySession,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<CodeBody>,
) -> ApiResult<SessionStep> {
    let v = st.svc.verify_code(&plan.0, &s, &b.code, &meta).await.map_err(two_step_error)?;
    Ok(Json(SessionStep::plain(v.session.0, v.stage)))
}

/// One of the account's recovery codes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"recovery_code": "abcde-12345"}))]
pub struct RecoveryCodeBody {
    /// Ten letters and digits; case, spaces and dashes do not matter.
    #[schema(min_length = 10, max_length = 64)]
    pub recovery_code: String,
}

/// Signs in with a recovery code instead of the code asked for (session at `two_step_code`).
///
/// A wrong one takes one of the sign-in code's tries. Each code works once; the user is emailed.
/// The session's `amr` is `pwd rec`.
#[utoipa::path(post, tag = "auth", path = "/two-step/recovery", request_body = RecoveryCodeBody, security(("bearer" = [])),
    responses(
        (status = 200, body = SessionStep),
        (status = 409, description = WRONG_STAGE),
        (status = 410, description = "`code_unusable`: this sign-in's tries are used up or it expired; sign in again."),
        (status = 422, description = "`wrong_code`: not a recovery code of this account, or already used (field `recovery_code`)."),
        (status = 429, description = TOO_MANY_WRONG_CODES)))]
pub async fn verify_recovery_code(
    State(st): State<AppState>,
    plan: CurrentPlan,
    AnySession(s): AnySession,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<RecoveryCodeBody>,
) -> ApiResult<SessionStep> {
    let v = st.svc.verify_recovery_code(&plan.0, &s, &b.recovery_code, &meta).await.map_err(two_step_error)?;
    Ok(Json(SessionStep::plain(v.session.0, v.stage)))
}

/// Asks for the authenticator app's code again at this sign-in (after a text was asked for).
///
/// Then `POST /api/v1/two-step/verify` with the app's code.
#[utoipa::path(post, tag = "auth", path = "/two-step/app", security(("bearer" = [])),
    responses(
        (status = 204, description = "The app's code is asked for now."),
        (status = 409, description = "`wrong_stage`: not at `two_step_code`, or the account has no app."),
        (status = 429, description = "`too_many_sends`: the hour's limit of codes was reached.")))]
pub async fn use_app(
    State(st): State<AppState>,
    plan: CurrentPlan,
    sess: AnySession,
    Meta(meta): Meta,
) -> Result<StatusCode, ApiError> {
    let s = sess.at(SessionStage::TwoStepCode)?;
    st.svc.use_app_for_signin(&plan.0, &s, &meta).await.map_err(two_step_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The terms and conditions.
#[derive(Serialize, ToSchema)]
pub struct TermsBody {
    /// The version; a new one must be signed at the next sign-in.
    pub version: i64,
    /// The text, plain, with line breaks.
    pub text: String,
}

/// The current terms and conditions.
#[utoipa::path(get, tag = "auth", path = "/terms", responses((status = 200, body = TermsBody)))]
pub async fn get_terms(State(st): State<AppState>, plan: CurrentPlan) -> ApiResult<TermsBody> {
    let t = st.svc.current_terms(&plan.0).await.map_err(ApiError::internal)?;
    Ok(Json(TermsBody { version: t.version, text: t.text }))
}

/// A signature of the terms: the account's first and last name, typed.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"version": 1, "first_name": "Maria", "last_name": "Lopez"}))]
pub struct SignTermsBody {
    /// The version shown (from `GET /api/v1/terms`), kept in the audit log; the current version
    /// is the one signed.
    pub version: i64,
    /// The account's first name; case and extra spaces do not matter.
    #[schema(schema_with = super::schema::person_name)]
    pub first_name: String,
    /// The account's last name; case and extra spaces do not matter.
    #[schema(schema_with = super::schema::person_name)]
    pub last_name: String,
}

/// Signs the terms by typing one's first and last name; completes sign-in.
///
/// For a session at `terms`. Next: `complete`, or `two_step_setup` for an account without a
/// two-step phone yet (an imported one).
#[utoipa::path(post, tag = "auth", path = "/terms/sign", request_body = SignTermsBody, security(("bearer" = [])),
    responses(
        (status = 200, body = SessionStep),
        (status = 409, description = "`wrong_stage`: the session is not at this step; `terms_changed`: `version` is not the plan's current terms \
            (new terms were published after these were read: read `GET /terms` again)."),
        (status = 422, description = "`name_mismatch`: the names typed are not the account's (the error names `last_name`).")))]
pub async fn sign_terms(
    State(st): State<AppState>,
    plan: CurrentPlan,
    sess: AnySession,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<SignTermsBody>,
) -> ApiResult<SessionStep> {
    let s = sess.at(SessionStage::Terms)?;
    match st.svc.sign_terms(&plan.0, &s, b.version, &b.first_name, &b.last_name, &meta).await {
        Ok((t, next)) => Ok(Json(SessionStep::plain(t.0, next))),
        Err(TermsError::Internal(e)) => Err(ApiError::internal(e)),
        Err(e @ TermsError::WrongStage) => Err(ApiError::new(StatusCode::CONFLICT, "wrong_stage", e.to_string())),
        Err(e @ TermsError::Outdated) => Err(ApiError::new(StatusCode::CONFLICT, "terms_changed", e.to_string())),
        Err(e @ TermsError::NameMismatch) => {
            Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "name_mismatch", e.to_string())
                .field(Some("last_name")))
        }
    }
}

/// The signed-in user.
#[derive(Serialize, ToSchema)]
pub struct MeBody {
    pub user_id: i64,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// The two-step phone, masked (`XXX-XXX-9975`).
    pub two_step_phone: Option<String>,
    /// The sign-in before this one (Unix seconds, UTC).
    pub last_signin_at: Option<i64>,
    /// Suggest adding an authenticator app or a passkey: this session signed in with a code sent
    /// by text or voice and the person has neither. True in at most one session a week, until
    /// `POST /api/v1/me/factor-nudge/dismiss` ("Not now").
    pub suggest_strong_factor: bool,
}

impl From<Welcome> for MeBody {
    fn from(Welcome { me: m, suggest_strong_factor }: Welcome) -> Self {
        Self {
            user_id: m.user_id,
            username: m.username,
            first_name: m.first_name,
            last_name: m.last_name,
            email: m.email,
            two_step_phone: m.two_step_phone,
            last_signin_at: m.last_signin_at,
            suggest_strong_factor,
        }
    }
}

/// The signed-in user.
#[utoipa::path(get, tag = "auth", path = "/me", security(("bearer" = [])), responses((status = 200, body = MeBody)))]
pub async fn me(State(st): State<AppState>, plan: CurrentPlan, SignedIn(s): SignedIn) -> ApiResult<MeBody> {
    Ok(Json(st.svc.welcome(&plan.0, &s).await.map_err(ApiError::internal)?.into()))
}

/// "Not now" to the suggestion to add an authenticator app or a passkey: hidden at once, and
/// from every session for a week.
#[utoipa::path(post, tag = "auth", path = "/me/factor-nudge/dismiss", security(("bearer" = [])),
    responses((status = 204, description = "Hidden.")))]
pub async fn dismiss_factor_nudge(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
) -> Result<StatusCode, ApiError> {
    st.svc.dismiss_factor_nudge(&plan.0, &s, &meta).await.map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A live session of the user.
#[derive(Serialize, ToSchema)]
pub struct SessionBody {
    /// Its id, for `DELETE /api/v1/sessions/{id}`.
    #[schema(value_type = i64)]
    pub id: SessionId,
    /// Whether it is the session making this call.
    pub current: bool,
    /// The address it signed in from.
    pub ip: String,
    /// The browser or client it signed in with.
    pub user_agent: String,
    /// When it signed in (Unix seconds, UTC).
    pub signed_in_at: i64,
    /// When it was last used (Unix seconds, UTC).
    pub last_seen_at: i64,
}

impl From<SessionView> for SessionBody {
    fn from(v: SessionView) -> Self {
        Self {
            id: v.id,
            current: v.current,
            ip: v.ip,
            user_agent: v.user_agent,
            signed_in_at: v.signed_in_at,
            last_seen_at: v.last_seen_at,
        }
    }
}

/// The signed-in user's live sessions.
#[utoipa::path(get, tag = "auth", path = "/sessions", security(("bearer" = [])), responses((status = 200, body = [SessionBody])))]
pub async fn list_sessions(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
) -> ApiResult<Vec<SessionBody>> {
    match st.svc.list_sessions(&plan.0, &s).await {
        Ok(list) => Ok(Json(list.into_iter().map(Into::into).collect())),
        Err(e) => Err(session_error(e)),
    }
}

/// A refused session command, as the API answers it.
fn session_error(e: SessionError) -> ApiError {
    match e {
        SessionError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
        SessionError::NotSignedIn => ApiError::unauthenticated(),
        SessionError::Internal(e) => ApiError::internal(e),
    }
}

/// Ends one of the user's sessions (the current one too, which then signs the caller out).
#[utoipa::path(delete, tag = "auth", path = "/sessions/{id}", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The session's id, from `GET /api/v1/sessions`.")),
    responses(
        (status = 204),
        (status = 404, description = "`not_found`: the user has no live session with this id.")))]
pub async fn end_session(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ApiPath(id): ApiPath<SessionId>,
) -> Result<StatusCode, ApiError> {
    st.svc.end_session(&plan.0, &s, id, &meta).await.map_err(session_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends the current session, at whatever step of signing in it is.
#[utoipa::path(post, tag = "auth", path = "/signout", security(("bearer" = [])), responses((status = 204)))]
pub async fn sign_out(
    State(st): State<AppState>,
    AnySession(s): AnySession,
    Meta(meta): Meta,
) -> Result<StatusCode, ApiError> {
    st.svc.sign_out(&s, &meta).await.map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_domain::PhoneNumber;
    use gatehouse_domain::password::PasswordPolicy;

    fn matches(schema: &Object, s: &str) -> bool {
        let len = s.chars().count();
        let re = regex::Regex::new(schema.pattern.as_deref().unwrap_or(".*")).expect("pattern");
        schema.min_length.is_none_or(|m| len >= m) && schema.max_length.is_none_or(|m| len <= m) && re.is_match(s)
    }

    #[test]
    fn link_tokens_are_read_exactly_as_their_schema_says() {
        let schema = super::super::schema::token();
        let made = gatehouse_services::tokens::new_token();
        let cases = [
            made.clone(),
            "A".repeat(TOKEN_LEN),
            "-_".repeat(TOKEN_LEN / 2) + "x",
            made[1..].to_owned(),
            format!("{made}x"),
            format!("{}+", &made[1..]),
            format!("{}=", &made[1..]),
            format!("{} ", &made[1..]),
            String::new(),
            "not-a-real-token".into(),
        ];
        for t in cases {
            assert_eq!(LinkToken::try_from(t.clone()).is_ok(), matches(&schema, &t), "{t:?}");
        }
        assert!(LinkToken::try_from(made).is_ok());
    }

    #[test]
    fn steps_are_named_as_the_session_stages() {
        for s in [
            SessionStage::EmailProof,
            SessionStage::NewPassword,
            SessionStage::TwoStepSetup,
            SessionStage::TwoStepCode,
            SessionStage::StrongFactorSetup,
            SessionStage::Terms,
            SessionStage::Complete,
        ] {
            assert_eq!(serde_json::to_value(Step::from(s)).expect("json"), serde_json::json!(s.as_str()));
        }
    }

    /// A password outside the schema's lengths is refused by every policy a plan may set; one
    /// inside is accepted by the widest.
    #[test]
    fn new_password_lengths_hold_for_every_plan() {
        let schema = new_password();
        let (lo, hi) = (*settings::PASSWORD_MIN_RANGE.start(), *settings::PASSWORD_MAX_RANGE.end());
        let widest =
            PasswordPolicy { min_len: usize::try_from(lo).expect("min"), max_len: usize::try_from(hi).expect("max") };
        let strictest_short = PasswordPolicy {
            min_len: usize::try_from(*settings::PASSWORD_MIN_RANGE.end()).expect("min"),
            max_len: usize::try_from(*settings::PASSWORD_MAX_RANGE.start()).expect("max"),
        };
        let of_len = |n: usize| "river stone kettle ".chars().cycle().take(n).collect::<String>();
        for n in [0, 1, widest.min_len - 1, widest.min_len, 60, widest.max_len, widest.max_len + 1] {
            let p = of_len(n);
            let schema_ok = matches(&schema, &p);
            assert_eq!(schema_ok, widest.check(&p, &p, None).is_ok(), "length {n}");
            if !schema_ok {
                assert!(strictest_short.check(&p, &p, None).is_err(), "length {n}");
            }
        }
        let p = of_len(password::MAX_CHECKED_LEN);
        assert!(matches(&signin_password(), &p));
        assert!(!matches(&signin_password(), &format!("{p}x")));
        assert!(!matches(&signin_password(), ""));
    }

    /// What the domain accepts as a phone number the schema accepts; the edges it refuses by
    /// length or calling code the schema refuses too.
    #[test]
    fn phone_schemas_agree_with_the_domain() {
        let (number, code) = (phone_number(), country_code());
        for (cc, n) in
            [("1", "206-555-0143"), ("+1", "(206) 555 0143"), ("44", "020 7946 0958"), ("44", "+44 20 7946 0958")]
        {
            assert!(PhoneNumber::parse(cc, n).is_ok(), "{cc} {n}");
            assert!(matches(&code, cc) && matches(&number, n), "{cc} {n}");
        }
        let long = "2".repeat(phone::MAX_NATIONAL_LEN + 1);
        assert!(PhoneNumber::parse("1", &long).is_err() && !matches(&number, &long));
        assert!(PhoneNumber::parse("1", "").is_err() && !matches(&number, ""));
        for cc in ["", "1234", "+", "a", "1 "] {
            assert!(!matches(&code, cc), "{cc:?}");
        }
        for cc in ["", "1234", "+", "a"] {
            assert!(PhoneNumber::parse(cc, "206-555-0143").is_err(), "{cc:?}");
        }
        assert!(matches(&code, "353") && matches(&code, "+353"));
    }
}
