//! Sign-up, sign-in, two-step, terms and sessions over JSON.

use super::ApiError;
use super::body::{ApiPath, JsonBody};
use super::caller::{AnySession, SignedIn};
use crate::AppState;
use crate::extract::{CurrentPlan, Meta};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::SessionId;
use gatehouse_domain::TwoStepMethod;
use gatehouse_domain::session::SessionStage;
use gatehouse_services::account::Me;
use gatehouse_services::sessions::{SessionError, SessionView};
use gatehouse_services::signin::SignInError;
use gatehouse_services::signup::SignUpError;
use gatehouse_services::terms::TermsError;
use gatehouse_services::two_step::TwoStepError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
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
        .routes(routes!(get_terms))
        .routes(routes!(sign_terms))
        .routes(routes!(me))
        .routes(routes!(list_sessions))
        .routes(routes!(end_session))
        .routes(routes!(sign_out))
}

type ApiResult<T> = Result<Json<T>, ApiError>;

pub(super) fn stage_name(s: SessionStage) -> &'static str {
    match s {
        SessionStage::EmailProof => "email_proof",
        SessionStage::NewPassword => "new_password",
        SessionStage::TwoStepCode => "two_step_code",
        SessionStage::TwoStepSetup => "two_step_setup",
        SessionStage::Terms => "terms",
        SessionStage::Complete => "complete",
    }
}

/// A session token and the step it must do next.
#[derive(Serialize, ToSchema)]
pub struct SessionStep {
    /// Send as `Authorization: Bearer …`. A new token replaces the old one at every step.
    pub session_token: String,
    /// `email_proof` (an imported account's first sign-in: a link was emailed to the address on
    /// record; redeem its token at `POST /api/v1/first-signin/email-proof`, which answers a new
    /// session at `new_password`), `new_password` (an imported account's first sign-in, once the
    /// email is proven or when the plan does not ask), `two_step_setup`, `two_step_code`, `terms`
    /// or `complete`.
    pub next: String,
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
}

impl SessionStep {
    /// A step that sends nothing.
    pub fn plain(session_token: String, next: SessionStage) -> Self {
        Self {
            session_token,
            next: stage_name(next).into(),
            masked_phone: None,
            masked_email: None,
            code_sent: None,
            next_code_at: None,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct InviteeBody {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
}

fn signup_error(e: SignUpError) -> ApiError {
    match e {
        SignUpError::Link(p) => ApiError::new(StatusCode::GONE, "link_unusable", p.to_string()),
        SignUpError::Busy => ApiError::busy(),
        SignUpError::Internal(e) => ApiError::internal(e),
        SignUpError::UsernameTaken => {
            ApiError::new(StatusCode::CONFLICT, "username_taken", e.to_string()).field(Some("username"))
        }
        other => {
            let field = other.field();
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", other.to_string()).field(field)
        }
    }
}

/// Checks a sign-up link's token and says whom it is for.
#[utoipa::path(post, path = "/invitations/check", request_body = TokenBody,
    responses((status = 200, body = InviteeBody), (status = 410, body = super::ErrorBody)))]
pub async fn check_invitation(
    State(st): State<AppState>,
    plan: CurrentPlan,
    JsonBody(b): JsonBody<TokenBody>,
) -> ApiResult<InviteeBody> {
    let i = st.svc.invitation(&plan.0, &b.token).await.map_err(signup_error)?;
    Ok(Json(InviteeBody { first_name: i.first_name, last_name: i.last_name, email: i.email }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpBody {
    pub token: String,
    pub username: String,
    pub password: String,
    pub confirm_password: String,
}

/// Completes sign-up from an invitation; the session goes on to two-step set-up.
#[utoipa::path(post, path = "/signup", request_body = SignUpBody,
    responses((status = 201, body = SessionStep), (status = 409, body = super::ErrorBody), (status = 410, body = super::ErrorBody), (status = 422, body = super::ErrorBody), (status = 503, body = super::ErrorBody)))]
pub async fn sign_up(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<SignUpBody>,
) -> Result<(StatusCode, Json<SessionStep>), ApiError> {
    let token = st
        .svc
        .sign_up(&plan.0, &b.token, &b.username, &b.password, &b.confirm_password, &meta)
        .await
        .map_err(signup_error)?;
    Ok((StatusCode::CREATED, Json(SessionStep::plain(token.0, SessionStage::TwoStepSetup))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInBody {
    pub username: String,
    pub password: String,
}

/// Checks username and password; the session goes on to two-step.
#[utoipa::path(post, path = "/signin", request_body = SignInBody,
    responses((status = 200, body = SessionStep), (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody), (status = 429, body = super::ErrorBody), (status = 503, body = super::ErrorBody)))]
pub async fn sign_in(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<SignInBody>,
) -> ApiResult<SessionStep> {
    match st.svc.sign_in(&plan.0, &b.username, &b.password, &meta).await {
        Ok(s) => {
            let sends = matches!(s.stage, SessionStage::TwoStepCode | SessionStage::EmailProof);
            Ok(Json(SessionStep {
                session_token: s.session.0,
                next: stage_name(s.stage).into(),
                masked_phone: s.masked_phone,
                masked_email: s.masked_email,
                code_sent: sends.then_some(s.code_sent),
                next_code_at: s.next_code_at,
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

fn two_step_error(e: TwoStepError) -> ApiError {
    match e {
        TwoStepError::Internal(e) => ApiError::internal(e),
        TwoStepError::Phone(p) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_phone", p.to_string()).field(Some("phone"))
        }
        TwoStepError::TooManySends => ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_sends", e.to_string()),
        TwoStepError::WrongStage => ApiError::new(StatusCode::CONFLICT, "wrong_stage", e.to_string()),
        TwoStepError::Malformed(_) | TwoStepError::Wrong(_) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "wrong_code", e.to_string()).field(Some("code"))
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
    Text,
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupBody {
    /// Calling code, default `1` (United States).
    #[serde(default)]
    pub country_code: Option<String>,
    pub phone: String,
    /// `text` or `voice`.
    pub method: Method,
}

#[derive(Serialize, ToSchema)]
pub struct CodeSent {
    pub masked_phone: String,
}

/// Sends a code to a new two-step phone.
#[utoipa::path(post, path = "/two-step/setup", request_body = SetupBody, security(("bearer" = [])),
    responses((status = 200, body = CodeSent), (status = 422, body = super::ErrorBody), (status = 429, body = super::ErrorBody)))]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendBody {
    #[serde(default)]
    pub method: Option<Method>,
}

/// Sends a new sign-in code to the phone on record.
#[utoipa::path(post, path = "/two-step/resend", request_body = ResendBody, security(("bearer" = [])),
    responses((status = 200, body = CodeSent), (status = 429, body = super::ErrorBody)))]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    pub code: String,
}

/// Checks a two-step code (sign-in or set-up); the session moves on under a new token.
#[utoipa::path(post, path = "/two-step/verify", request_body = CodeBody, security(("bearer" = [])),
    responses((status = 200, body = SessionStep), (status = 410, body = super::ErrorBody), (status = 422, body = super::ErrorBody)))]
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

#[derive(Serialize, ToSchema)]
pub struct TermsBody {
    pub version: i64,
    pub text: String,
}

/// The current terms and conditions.
#[utoipa::path(get, path = "/terms", responses((status = 200, body = TermsBody)))]
pub async fn get_terms(State(st): State<AppState>, plan: CurrentPlan) -> ApiResult<TermsBody> {
    let t = st.svc.current_terms(&plan.0).await.map_err(ApiError::internal)?;
    Ok(Json(TermsBody { version: t.version, text: t.text }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignTermsBody {
    pub version: i64,
    pub first_name: String,
    pub last_name: String,
}

/// Signs the terms by typing one's first and last name; completes sign-in.
#[utoipa::path(post, path = "/terms/sign", request_body = SignTermsBody, security(("bearer" = [])),
    responses((status = 200, body = SessionStep), (status = 422, body = super::ErrorBody)))]
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
        Err(e @ TermsError::NameMismatch) => {
            Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "name_mismatch", e.to_string())
                .field(Some("last_name")))
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MeBody {
    pub user_id: i64,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub two_step_phone: Option<String>,
    pub last_signin_at: Option<i64>,
}

impl From<Me> for MeBody {
    fn from(m: Me) -> Self {
        Self {
            user_id: m.user_id,
            username: m.username,
            first_name: m.first_name,
            last_name: m.last_name,
            email: m.email,
            two_step_phone: m.two_step_phone,
            last_signin_at: m.last_signin_at,
        }
    }
}

/// The signed-in user.
#[utoipa::path(get, path = "/me", security(("bearer" = [])), responses((status = 200, body = MeBody), (status = 401, body = super::ErrorBody)))]
pub async fn me(State(st): State<AppState>, plan: CurrentPlan, SignedIn(s): SignedIn) -> ApiResult<MeBody> {
    Ok(Json(st.svc.me(&plan.0, &s).await.map_err(ApiError::internal)?.into()))
}

#[derive(Serialize, ToSchema)]
pub struct SessionBody {
    pub id: i64,
    pub current: bool,
    pub ip: String,
    pub user_agent: String,
    pub signed_in_at: i64,
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
#[utoipa::path(get, path = "/sessions", security(("bearer" = [])), responses((status = 200, body = [SessionBody])))]
pub async fn list_sessions(State(st): State<AppState>, SignedIn(s): SignedIn) -> ApiResult<Vec<SessionBody>> {
    Ok(Json(st.svc.list_sessions(&s).await.map_err(ApiError::internal)?.into_iter().map(Into::into).collect()))
}

/// Ends another of the user's sessions.
#[utoipa::path(delete, path = "/sessions/{id}", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
pub async fn end_session(
    State(st): State<AppState>,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ApiPath(id): ApiPath<SessionId>,
) -> Result<StatusCode, ApiError> {
    match st.svc.end_session(&s, id, &meta).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(e @ SessionError::NotFound) => Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())),
        Err(SessionError::Internal(e)) => Err(ApiError::internal(e)),
    }
}

/// Ends the current session.
#[utoipa::path(post, path = "/signout", security(("bearer" = [])), responses((status = 204)))]
pub async fn sign_out(
    State(st): State<AppState>,
    AnySession(s): AnySession,
    Meta(meta): Meta,
) -> Result<StatusCode, ApiError> {
    st.svc.sign_out(&s, &meta).await.map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}
