//! The signed-in user's own profile over JSON, the same steps as the `/profile` page: confirm it
//! is you (password, then a second step: the authenticator app's code, a passkey
//! (`/me/profile/passkey/options` and `/me/profile/passkey`, in `passkeys.rs`), a recovery code,
//! or a code to the current phone), then change the two-step phone, the email address (confirmed
//! by a link to it) and the office details.

use super::ApiError;
use super::auth::RecoveryCodeBody;
use super::body::JsonBody;
use super::caller::SignedIn;
use crate::AppState;
use crate::extract::{CurrentPlan, Meta};
use axum::Json;
use axum::extract::State;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use gatehouse_domain::profile::{MAX_TEXT, OfficeForm};
use gatehouse_domain::roster::state::CODES as STATE_CODES;
use gatehouse_domain::{TwoStepMethod, password, phone};
use gatehouse_services::profile::{MyProfile, ProfileError, SecondSteps, Unlock};
use gatehouse_services::signin::SignInError;
use gatehouse_services::tokens::TOKEN_LEN;
use gatehouse_services::two_step::TwoStepError;
use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::marker::PhantomData;
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(profile))
        .routes(routes!(confirm_password))
        .routes(routes!(send_code))
        .routes(routes!(verify_code))
        .routes(routes!(verify_recovery_code))
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
        ProfileError::TooManyEmailChanges => {
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_email_changes", e.to_string())
        }
        ProfileError::Code(code) if code.is_answer_refusal() => super::auth::answers_refused(&code),
        ProfileError::Code(TwoStepError::StrongFactorRequired) => {
            ApiError::new(StatusCode::FORBIDDEN, "strong_factor_required", e.to_string())
        }
        ProfileError::Code(TwoStepError::VoiceNotOffered) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_offered", e.to_string()).field(Some("method"))
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

/// How a two-step code is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CodeDelivery {
    /// A text message.
    #[default]
    Text,
    /// An automated voice call.
    Voice,
}

impl From<CodeDelivery> for TwoStepMethod {
    fn from(m: CodeDelivery) -> Self {
        match m {
            CodeDelivery::Text => TwoStepMethod::Text,
            CodeDelivery::Voice => TwoStepMethod::Voice,
        }
    }
}

impl From<TwoStepMethod> for CodeDelivery {
    fn from(m: TwoStepMethod) -> Self {
        match m {
            TwoStepMethod::Text => CodeDelivery::Text,
            TwoStepMethod::Voice => CodeDelivery::Voice,
        }
    }
}

/// How far the user got in confirming it is them on this session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UnlockStep {
    /// Confirm it is you: `POST /me/profile/confirm-password`.
    Password,
    /// Enter the code sent to the current phone: `POST /me/profile/verify-code`.
    Code,
    /// Changes are allowed until `open_until`.
    Open,
}

/// Control characters that are not white space (white space is collapsed before text is
/// checked, so a tab is a space).
const CONTROL: &str = "\\x00-\\x08\\x0e-\\x1f\\x7f-\\x84\\x86-\\x9f";

fn text(max: usize) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).max_length(Some(max))
}

/// A street or city: at most [`MAX_TEXT`] characters, no control characters; empty clears it.
pub fn office_text() -> Object {
    text(MAX_TEXT)
        .pattern(Some(format!("^[^{CONTROL}]*$")))
        .description(Some("Spaces are collapsed; empty clears it."))
        .build()
}

/// A US phone number for the office details (`206-555-0143`); empty clears it.
pub fn office_phone() -> Object {
    text(phone::MAX_NATIONAL_LEN)
        .description(Some("A valid US number, written any usual way; empty clears it."))
        .examples([serde_json::json!("206-555-0143")])
        .build()
}

/// A US state or territory code in capitals (`WA`); empty clears it.
pub fn us_state() -> Object {
    let values = std::iter::once("").chain(STATE_CODES);
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some("A USPS state or territory code; empty clears it."))
        .examples([serde_json::json!("WA")])
        .build()
}

/// A ZIP code (`98402` or ZIP+4); empty clears it.
pub fn optional_zip() -> Object {
    text(10)
        .pattern(Some("^([0-9]{5}(-?[0-9]{4})?)?$".to_owned()))
        .description(Some("Five digits or ZIP+4; empty clears it."))
        .examples([serde_json::json!("98402")])
        .build()
}

/// A password as typed (checked against the account's, never against the policy).
pub fn typed_password() -> Object {
    text(password::MAX_CHECKED_LEN)
        .min_length(Some(1))
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Password)))
        .build()
}

/// A calling code, with or without its `+` (`1`, `+44`).
pub fn country_code() -> Object {
    text(phone::MAX_COUNTRY_CODE_DIGITS + 1)
        .min_length(Some(1))
        .pattern(Some(format!("^\\+?[0-9]{{1,{}}}$", phone::MAX_COUNTRY_CODE_DIGITS)))
        .examples([serde_json::json!("1")])
        .build()
}

/// A national phone number, written any usual way (`206-555-0143`). Whether it is a valid number
/// for the calling code is checked by the server (422, field `phone`).
pub fn national_number() -> Object {
    text(phone::MAX_NATIONAL_LEN)
        .min_length(Some(1))
        .pattern(Some("\\S".to_owned()))
        .examples([serde_json::json!("206-555-0143")])
        .build()
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
    pub two_step_method: CodeDelivery,
    /// E.164 (`+12065550143`), or empty.
    pub mobile_phone: String,
    pub office_phone: String,
    pub fax: String,
    pub street: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub unlock: UnlockStep,
    /// Unix seconds, while `unlock` is `open`.
    pub open_until: Option<i64>,
    /// A new email address waiting for its link to be opened.
    pub pending_email: Option<String>,
    /// A new phone (masked) waiting for its code.
    pub pending_phone: Option<String>,
    /// While `unlock` is `code`: what may answer the second step.
    pub second_steps: Option<SecondStepsBody>,
}

/// What may answer the second step of confirming it is you.
#[derive(Serialize, ToSchema)]
pub struct SecondStepsBody {
    /// The code asked for is the authenticator app's (nothing was sent to the phone):
    /// `POST /me/profile/verify-code`.
    pub code_from_app: bool,
    /// A code went to the phone by text or voice: `POST /me/profile/verify-code`.
    pub code_sent: bool,
    /// The account has a passkey, which may answer: `POST /me/profile/passkey/options`, then
    /// `POST /me/profile/passkey`. Offered first when there is no app; nothing is texted then.
    pub passkey: bool,
    /// The account has unused recovery codes; one may answer: `POST /me/profile/recovery-code`.
    pub recovery_code: bool,
    /// A code by text or voice may be asked for (`POST /me/profile/send-code`). `false` when the
    /// plan requires an app or passkey of this account, which holds one: no text is sent or
    /// accepted.
    pub send_code_allowed: bool,
}

impl From<SecondSteps> for SecondStepsBody {
    fn from(s: SecondSteps) -> Self {
        Self {
            code_from_app: s.app,
            code_sent: s.code_sent,
            passkey: s.passkey,
            recovery_code: s.recovery_code,
            send_code_allowed: s.phone,
        }
    }
}

impl From<MyProfile> for ProfileBody {
    fn from(p: MyProfile) -> Self {
        let (unlock, open_until) = match p.unlock {
            Unlock::Password => (UnlockStep::Password, None),
            Unlock::Code { .. } => (UnlockStep::Code, None),
            Unlock::Open { until } => (UnlockStep::Open, Some(until)),
        };
        let second_steps = (unlock == UnlockStep::Code).then(|| p.steps.into());
        Self {
            username: p.username,
            first_name: p.first_name,
            middle_name: p.middle_name,
            last_name: p.last_name,
            email: p.email,
            two_step_phone: p.masked_phone,
            two_step_method: p.method.into(),
            mobile_phone: p.contact.mobile_phone,
            office_phone: p.contact.office_phone,
            fax: p.contact.fax,
            street: p.contact.street,
            city: p.contact.city,
            state: p.contact.state,
            zip: p.contact.zip,
            unlock,
            open_until,
            pending_email: p.pending_email,
            pending_phone: p.pending_phone.map(|(m, _)| m),
            second_steps,
        }
    }
}

/// The signed-in user's profile and how far they got in confirming it is them.
#[utoipa::path(get, path = "/me/profile", security(("bearer" = [])),
    responses((status = 200, body = ProfileBody, description = "The profile."),
        (status = 403, description = "`confirm_identity`: the account has no two-step phone or is not active.")))]
pub async fn profile(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
) -> Result<Json<ProfileBody>, ApiError> {
    Ok(Json(st.svc.my_profile(&plan.0, &s).await.map_err(error)?.into()))
}

/// The account's username and password, typed again.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "jdoe", "password": "correct horse battery staple"}))]
pub struct ProfilePasswordBody {
    #[schema(schema_with = super::schema::username)]
    pub username: String,
    #[schema(schema_with = typed_password)]
    pub password: String,
}

/// Where a code went.
#[derive(Serialize, ToSchema)]
pub struct ProfileCodeSent {
    /// Like `XXX-XXX-9975`.
    pub masked_phone: String,
    /// The code asked for is the authenticator app's: nothing was sent to the phone.
    pub code_from_app: bool,
}

/// The password step passed: where the second step stands.
#[derive(Serialize, ToSchema)]
pub struct ProfileConfirmed {
    /// The current two-step phone, like `XXX-XXX-9975`.
    pub masked_phone: String,
    #[serde(flatten)]
    pub steps: SecondStepsBody,
}

/// Confirms it is you, first step: username and password.
///
/// A wrong one counts toward the lock like a failed sign-in. Then the second step: for an
/// account with an authenticator app, its code (`code_from_app`); for one with a passkey, the
/// passkey (`passkey`) or a recovery code, and nothing is texted; otherwise a code goes to the
/// current two-step phone (`code_sent`; if none could be sent, the step still passes and 429
/// `too_many_codes` says so).
#[utoipa::path(post, path = "/me/profile/confirm-password", request_body = ProfilePasswordBody, security(("bearer" = [])),
    responses((status = 200, body = ProfileConfirmed, description = "The password is right; the answer says which second steps are offered."),
        (status = 401, description = "`invalid_credentials`: the username or password is not this account's (field `password`)."),
        (status = 403, description = "`confirm_identity`: the account has no two-step phone or is not active."),
        (status = 429, description = "`locked`: too many wrong passwords, wait; \
            `too_many_codes`: the password was right but the hour's codes are used up."),
        (status = 503, description = "`busy`: password checking is at capacity; retry after Retry-After.")))]
pub async fn confirm_password(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ObjectBody(b): ObjectBody<ProfilePasswordBody>,
) -> Result<Json<ProfileConfirmed>, ApiError> {
    let asked = st.svc.profile_confirm_password(&plan.0, &s, &b.username, &b.password, &meta).await.map_err(error)?;
    Ok(Json(ProfileConfirmed { masked_phone: asked.masked_phone, steps: asked.steps.into() }))
}

/// How to send the code.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"method": "voice"}))]
pub struct ProfileMethodBody {
    /// `text` when absent.
    #[serde(default)]
    pub method: Option<CodeDelivery>,
}

/// Sends another code to the current phone (after the password step); for an account with a
/// passkey, "text me a code instead".
#[utoipa::path(post, path = "/me/profile/send-code", request_body = ProfileMethodBody, security(("bearer" = [])),
    responses((status = 200, body = ProfileCodeSent, description = "A new code went to the current phone."),
        (status = 403, description = "`confirm_identity`: the password step is not done (or is over 10 minutes old); \
            `strong_factor_required`: the plan requires an authenticator app or a passkey of this account, which holds one; no code is texted or called."),
        (status = 429, description = "`too_many_codes`: the hour's codes are used up.")))]
pub async fn send_code(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ObjectBody(b): ObjectBody<ProfileMethodBody>,
) -> Result<Json<ProfileCodeSent>, ApiError> {
    let method = b.method.unwrap_or_default().into();
    let m = st.svc.profile_send_code(&plan.0, &s, method, &meta).await.map_err(error)?;
    Ok(Json(ProfileCodeSent { masked_phone: m, code_from_app: false }))
}

/// A code from a text message or call.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "123456"}))]
pub struct ProfileCodeBody {
    #[schema(schema_with = super::schema::code)]
    pub code: String,
}

/// Confirms it is you, second step: the code. The profile is then open for 15 minutes.
#[utoipa::path(post, path = "/me/profile/verify-code", request_body = ProfileCodeBody, security(("bearer" = [])),
    responses((status = 200, body = ProfileBody, description = "The profile, open for changes."),
        (status = 403, description = "`confirm_identity`: the password step is not done (or is over 10 minutes old); \
            `strong_factor_required`: the plan requires an authenticator app or a passkey of this account, which holds one; a texted or called code is refused."),
        (status = 422, description = "`invalid_input`: the code is malformed, wrong, expired, used or tried too often, \
            or none was sent (field `code` when it is the code's fault)."),
        (status = 429, description = super::auth::TOO_MANY_WRONG_CODES)))]
pub async fn verify_code(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ObjectBody(b): ObjectBody<ProfileCodeBody>,
) -> Result<Json<ProfileBody>, ApiError> {
    st.svc.profile_verify_code(&plan.0, &s, &b.code, &meta).await.map_err(error)?;
    Ok(Json(st.svc.my_profile(&plan.0, &s).await.map_err(error)?.into()))
}

/// Confirms it is you, second step, with one of the account's recovery codes instead of the code
/// or passkey asked for. The profile is then open for 15 minutes.
///
/// A wrong one takes one of this confirmation's tries, like a wrong code. Each recovery code
/// works once (at sign-in or here); the user is emailed.
#[utoipa::path(post, path = "/me/profile/recovery-code", request_body = RecoveryCodeBody, security(("bearer" = [])),
    responses((status = 200, body = ProfileBody, description = "The profile, open for changes."),
        (status = 403, description = "`confirm_identity`: the password step is not done (or is over 10 minutes old)."),
        (status = 422, description = "`invalid_input`: not a recovery code of this account, already used, or the \
            confirmation's tries are spent or expired (field `recovery_code` when it is the code's fault)."),
        (status = 429, description = super::auth::TOO_MANY_WRONG_CODES)))]
pub async fn verify_recovery_code(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ObjectBody(b): ObjectBody<RecoveryCodeBody>,
) -> Result<Json<ProfileBody>, ApiError> {
    st.svc.profile_verify_recovery_code(&plan.0, &s, &b.recovery_code, &meta).await.map_err(error)?;
    Ok(Json(st.svc.my_profile(&plan.0, &s).await.map_err(error)?.into()))
}

/// The office details. Every field is replaced: one left out is cleared.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "mobile_phone": "", "office_phone": "253-555-0100", "fax": "",
    "street": "88 Cedar Valley Rd", "city": "Tacoma", "state": "WA", "zip": "98402"
}))]
pub struct ProfileOfficeBody {
    #[serde(default)]
    #[schema(schema_with = office_phone)]
    pub mobile_phone: String,
    #[serde(default)]
    #[schema(schema_with = office_phone)]
    pub office_phone: String,
    #[serde(default)]
    #[schema(schema_with = office_phone)]
    pub fax: String,
    #[serde(default)]
    #[schema(schema_with = office_text)]
    pub street: String,
    #[serde(default)]
    #[schema(schema_with = office_text)]
    pub city: String,
    #[serde(default)]
    #[schema(schema_with = us_state)]
    pub state: String,
    #[serde(default)]
    #[schema(schema_with = optional_zip)]
    pub zip: String,
}

impl From<ProfileOfficeBody> for OfficeForm {
    fn from(b: ProfileOfficeBody) -> Self {
        let ProfileOfficeBody { mobile_phone, office_phone, fax, street, city, state, zip } = b;
        OfficeForm { mobile_phone, office_phone, fax, street, city, state, zip }
    }
}

/// Saves the office details: mobile, office phone, fax, street, city, state, ZIP.
#[utoipa::path(put, path = "/me/profile/office", request_body = ProfileOfficeBody, security(("bearer" = [])),
    responses((status = 200, body = ProfileBody, description = "The profile, with the details saved."),
        (status = 403, description = "`confirm_identity`: confirm it is you first (password, then code)."),
        (status = 422, description = "`invalid_input`: a field is not valid (named in `field`), e.g. a phone number \
            that is not a US number.")))]
pub async fn office(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ObjectBody(b): ObjectBody<ProfileOfficeBody>,
) -> Result<Json<ProfileBody>, ApiError> {
    st.svc.profile_update_office(&plan.0, &s, &b.into(), &meta).await.map_err(error)?;
    Ok(Json(st.svc.my_profile(&plan.0, &s).await.map_err(error)?.into()))
}

/// A new two-step phone.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"country_code": "1", "phone": "206-555-0143", "method": "text"}))]
pub struct ProfilePhoneBody {
    #[schema(schema_with = country_code)]
    pub country_code: String,
    #[schema(schema_with = national_number)]
    pub phone: String,
    /// `text` when absent.
    #[serde(default)]
    pub method: Option<CodeDelivery>,
}

/// Sends a code to a new two-step phone; nothing changes until it is confirmed.
#[utoipa::path(post, path = "/me/profile/phone", request_body = ProfilePhoneBody, security(("bearer" = [])),
    responses((status = 200, body = ProfileCodeSent, description = "A code went to the new phone."),
        (status = 403, description = "`confirm_identity`: confirm it is you first (password, then code)."),
        (status = 422, description = "`invalid_input`: not a valid number for the calling code (field `phone`)."),
        (status = 429, description = "`too_many_codes`: the hour's codes are used up.")))]
pub async fn phone(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ObjectBody(b): ObjectBody<ProfilePhoneBody>,
) -> Result<Json<ProfileCodeSent>, ApiError> {
    let method = b.method.unwrap_or_default().into();
    let m = st
        .svc
        .profile_start_phone_change(&plan.0, &s, &b.country_code, &b.phone, method, &meta)
        .await
        .map_err(error)?;
    Ok(Json(ProfileCodeSent { masked_phone: m, code_from_app: false }))
}

/// Confirms the new phone with the code sent to it; it becomes the two-step phone.
#[utoipa::path(post, path = "/me/profile/phone/confirm", request_body = ProfileCodeBody, security(("bearer" = [])),
    responses((status = 200, body = ProfileBody, description = "The profile, with the new phone."),
        (status = 403, description = "`confirm_identity`: confirm it is you first (password, then code)."),
        (status = 422, description = "`invalid_input`: the code is malformed, wrong, expired, used or tried too often, \
            or none was sent to a new phone (field `code` when it is the code's fault).")))]
pub async fn confirm_phone(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ObjectBody(b): ObjectBody<ProfileCodeBody>,
) -> Result<Json<ProfileBody>, ApiError> {
    st.svc.profile_confirm_phone(&plan.0, &s, &b.code, &meta).await.map_err(error)?;
    Ok(Json(st.svc.my_profile(&plan.0, &s).await.map_err(error)?.into()))
}

/// A new email address, typed twice.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "jay.patel@lakeside.example", "email_confirm": "jay.patel@lakeside.example"}))]
pub struct ProfileEmailBody {
    #[schema(schema_with = super::schema::email)]
    pub email: String,
    /// The same address again.
    #[schema(schema_with = super::schema::email)]
    pub email_confirm: String,
}

/// Sends a confirmation link to a new email address (valid 24 hours).
///
/// Nothing changes until the link is opened (`POST /email-change/confirm`); an earlier link
/// stops working.
#[utoipa::path(post, path = "/me/profile/email", request_body = ProfileEmailBody, security(("bearer" = [])),
    responses((status = 202, body = ProfileBody, description = "The link was sent; `pending_email` shows the address."),
        (status = 403, description = "`confirm_identity`: confirm it is you first (password, then code)."),
        (status = 422, description = "`invalid_input`: not an email address (field `email`), the two differ \
            (field `email_confirm`), or it is already the account's (field `email`)."),
        (status = 429, description = "`too_many_email_changes`: five changes were asked for in the last hour.")))]
pub async fn email(
    State(st): State<AppState>,
    plan: CurrentPlan,
    SignedIn(s): SignedIn,
    Meta(meta): Meta,
    ObjectBody(b): ObjectBody<ProfileEmailBody>,
) -> Result<(StatusCode, Json<ProfileBody>), ApiError> {
    st.svc.profile_start_email_change(&plan.0, &s, &b.email, &b.email_confirm, &meta).await.map_err(error)?;
    Ok((StatusCode::ACCEPTED, Json(st.svc.my_profile(&plan.0, &s).await.map_err(error)?.into())))
}

/// The token of an email change link.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token": "hV3JxQk2c8aB0v9XWm1pYtRz4uNf7eLgDs6oKj5iHqE"}))]
pub struct EmailChangeTokenBody {
    /// The `token` of the emailed link.
    #[schema(schema_with = super::schema::token)]
    pub token: String,
}

/// Whether `token` has the form of a link token (what the schema says of it).
fn token_shaped(token: &str) -> bool {
    token.len() == TOKEN_LEN && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The address now in use.
#[derive(Serialize, ToSchema)]
pub struct EmailChanged {
    pub username: String,
    pub email: String,
}

/// Opens an email change link: the new address becomes the account's, and the old one is told.
#[utoipa::path(post, path = "/email-change/confirm", request_body = EmailChangeTokenBody,
    responses((status = 200, body = EmailChanged, description = "The account's email is now the new address."),
        (status = 410, description = "`link_unusable`: the link is not valid, has expired (24 hours) or was used."),
        (status = 422, description = "`invalid_input`: `token` is not a link token (field `token`).")))]
pub async fn confirm_email(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    ObjectBody(b): ObjectBody<EmailChangeTokenBody>,
) -> Result<Json<EmailChanged>, ApiError> {
    if !token_shaped(&b.token) {
        let message = "This is not a link token: send the `token` of the emailed link as it is.";
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", message).field(Some("token")));
    }
    let v = st.svc.confirm_email_change(&plan.0, &b.token, &meta).await.map_err(error)?;
    Ok(Json(EmailChanged { username: v.username, email: v.new_email }))
}

/// A JSON body of type `T` that must be an object, as every body's schema says: serde's derived
/// `Deserialize` also reads a struct from an array (its fields by position, so `[]` fills a body
/// whose fields are all optional). Otherwise [`JsonBody`]; an array is 422 `invalid_body`.
// Shared by this module's siblings (associations, authz); its place is `body.rs`.
pub(super) struct ObjectBody<T>(pub T);

impl<T, S> FromRequest<S> for ObjectBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let JsonBody(FromObject(v)) = JsonBody::<FromObject<T>>::from_request(req, state).await?;
        Ok(Self(v))
    }
}

/// `T`, read only from a JSON object.
struct FromObject<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for FromObject<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Object<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Object(PhantomData)).map(FromObject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_domain::PhoneNumber;

    fn matches(schema: &Object, s: &str) -> bool {
        let len = s.chars().count();
        let re = regex::Regex::new(schema.pattern.as_deref().unwrap_or(".*")).expect("pattern");
        let listed = schema.enum_values.as_ref().is_none_or(|v| v.iter().any(|x| x.as_str() == Some(s)));
        schema.min_length.is_none_or(|m| len >= m)
            && schema.max_length.is_none_or(|m| len <= m)
            && re.is_match(s)
            && listed
    }

    /// Whether the office form refuses `field` when it holds `value`.
    fn office_accepts(field: &str, value: &str) -> bool {
        let mut f = OfficeForm::default();
        match field {
            "street" => f.street = value.into(),
            "state" => f.state = value.into(),
            "zip" => f.zip = value.into(),
            _ => f.office_phone = value.into(),
        }
        f.parse().is_ok()
    }

    #[test]
    fn bodies_are_objects_never_arrays() {
        let read =
            |body: &str| super::super::body::parse::<FromObject<ProfileOfficeBody>>(body.as_bytes()).map(|b| b.0);
        let b = read(r#"{"city": "Tacoma"}"#).expect("an object");
        assert_eq!((b.city.as_str(), b.zip.as_str()), ("Tacoma", ""));
        for array in ["[]", r#"["", "", "", "", "", "", ""]"#] {
            let e = read(array).err().expect("refused");
            assert_eq!((e.status, e.code), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"), "{array}");
        }
        let e = read(r#"{"city": "Tacoma", "town": "x"}"#).err().expect("refused");
        assert_eq!((e.code, e.field.as_deref()), ("invalid_body", Some("town")));
        let e = super::super::body::parse::<FromObject<ProfilePasswordBody>>(br#"{"username": "jdoe"}"#)
            .err()
            .expect("refused");
        assert_eq!((e.code, e.field.as_deref()), ("invalid_body", Some("password")));
    }

    /// Each schema accepts what the domain accepts and refuses what it refuses, on the edges
    /// (a phone number's validity aside: only the server can say).
    #[test]
    fn schemas_agree_with_the_domain() {
        let s = office_text();
        let long = "n".repeat(MAX_TEXT);
        let too_long = "n".repeat(MAX_TEXT + 1);
        for t in ["88 Cedar Valley Rd", "", "a\tb", "Ste 3\u{a0}B", &long, &too_long, "a\u{7}b", "\u{1f}", "\u{9f}"] {
            assert_eq!(matches(&s, t), office_accepts("street", t), "street {t:?}");
        }
        let s = us_state();
        for t in ["WA", "", "PR", "XX", "W", "WAS", "AA"] {
            assert_eq!(matches(&s, t), office_accepts("state", t), "state {t:?}");
        }
        let s = optional_zip();
        for t in ["98402", "", "98402-1234", "984021234", "9840", "98402-", "abcde"] {
            assert_eq!(matches(&s, t), office_accepts("zip", t), "zip {t:?}");
        }
        let s = office_phone();
        assert!(matches(&s, "") && office_accepts("office_phone", ""));
        assert!(matches(&s, "206-555-0143") && office_accepts("office_phone", "206-555-0143"));
        let too_long = "2".repeat(phone::MAX_NATIONAL_LEN + 1);
        assert!(!matches(&s, &too_long) && !office_accepts("office_phone", &too_long));

        let s = country_code();
        for c in ["1", "+1", "44", "+880", "1234", "", "+", "a", "++1"] {
            let domain =
                !matches!(PhoneNumber::parse(c, "206-555-0143"), Err(gatehouse_domain::phone::PhoneError::CountryCode));
            // The schema is stricter on one point: a single `+` (the domain drops any number).
            assert_eq!(matches(&s, c), domain && c != "++1", "country code {c:?}");
        }
        let s = national_number();
        let too_long = "2".repeat(phone::MAX_NATIONAL_LEN + 1);
        for n in ["", " ", &too_long] {
            assert!(!matches(&s, n) && PhoneNumber::parse("1", n).is_err(), "number {n:?}");
        }
        assert!(matches(&s, "206-555-0143") && PhoneNumber::parse("1", "206-555-0143").is_ok());

        let s = typed_password();
        assert!(matches(&s, &"p".repeat(password::MAX_CHECKED_LEN)));
        assert!(!matches(&s, &"p".repeat(password::MAX_CHECKED_LEN + 1)) && !matches(&s, ""));

        let s = super::super::schema::token();
        let token = gatehouse_services::tokens::new_token();
        for t in [token.as_str(), "forged", "", &format!("{token}x"), &token.replace(|_| true, "+")] {
            assert_eq!(matches(&s, t), token_shaped(t), "token {t:?}");
        }
    }
}
