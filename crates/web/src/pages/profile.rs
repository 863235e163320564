//! "My profile" (`/profile`): confirm it is you (username and password, then a second step: the
//! authenticator app's code, a passkey, a recovery code, or a code to the current phone), then
//! change the two-step phone and method, the email address and the office details, and make new
//! recovery codes. The link sent to a new email address lands on `/profile/email`, which works
//! without being signed in (the link proves the address) and changes nothing until its button is
//! pressed.
//!
//! A user with a passkey is offered it first after the password, and nothing is texted: the
//! passkey ceremony is the one script's (`/assets/passkeys.js`, a form marked
//! `data-passkey="reauth"`); without JavaScript or WebAuthn the page says so and the other ways
//! stay plain forms: a recovery code, and (unless the plan requires an app or passkey of the
//! user) "text me a code instead".

use super::auth::COUNTRIES;
use super::{Chrome, EditField, busy, internal_error, phone_for_form, render, require_stage};
use crate::AppState;
use crate::csrf::CsrfToken;
use crate::extract::{AtStage, CookieSession, CurrentPlan, Meta, SignedIn};
use crate::routing::Routes;
use crate::routing::{get, post};
use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_domain::TwoStepMethod;
use gatehouse_domain::profile::OfficeForm;
use gatehouse_domain::session::SessionStage;
use gatehouse_services::SessionInfo;
use gatehouse_services::authenticator_app::AuthenticatorError;
use gatehouse_services::passkeys::PasskeyError;
use gatehouse_services::profile::{CodeAsked, MyProfile, ProfileError, Unlock};
use gatehouse_services::profile_update::{ActingFor, ProfileUpdateError};
use gatehouse_services::signin::SignInError;
use serde::Deserialize;

pub fn routes() -> Routes {
    Routes::new()
        .route("/profile", get(show))
        .route("/profile/confirm", post(confirm_password))
        .route("/profile/code", post(code))
        .route("/profile/passkey", post(passkey))
        .route("/profile/passkey/options", post(passkey_options))
        .route("/profile/recovery-codes", post(recovery_codes))
        .route("/profile/phone", post(phone))
        .route("/profile/email", get(email_link).post(email))
        .route("/profile/email/confirm", post(email_confirm))
        .route("/profile/office", post(office))
        .route("/profile/done", post(done))
}

/// What the last action left to show: a notice, errors by field, and what was typed.
#[derive(Default)]
struct Feedback {
    notice: Option<String>,
    error: Option<String>,
    errors: Vec<(&'static str, String)>,
    /// Why the last passkey did not confirm it is you.
    passkey_error: Option<String>,
    typed_username: String,
    phone: String,
    country_code: String,
    method: String,
    email: String,
    email_confirm: String,
    office: Option<OfficeForm>,
}

impl Feedback {
    fn field(&self, name: &str) -> Option<String> {
        self.errors.iter().find(|(f, _)| *f == name).map(|(_, m)| m.clone())
    }
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    chrome: Chrome,
    p: MyProfile,
    f: Feedback,
    /// Minutes the profile stays open, when open.
    open_minutes: i64,
    countries: &'static [(&'static str, &'static str)],
    office_fields: Vec<EditField>,
    address: String,
    /// The providers the user may act for, by Tax ID.
    acting: Vec<ActingFor>,
    /// Whether the plan offers codes by voice call to new phones.
    voice_allowed: bool,
}

impl ProfilePage {
    fn err(&self, name: &str) -> Option<String> {
        self.f.field(name)
    }
    fn is_password(&self) -> bool {
        self.p.unlock == Unlock::Password
    }
    fn code_phone(&self) -> Option<&str> {
        match &self.p.unlock {
            Unlock::Code { masked_phone } => Some(masked_phone),
            _ => None,
        }
    }
    fn is_open(&self) -> bool {
        matches!(self.p.unlock, Unlock::Open { .. })
    }
    /// Whether a code may be asked for by voice call now: the plan offers it, or the phone on
    /// record was set up for voice calls before it stopped.
    fn voice_offered(&self) -> bool {
        self.voice_allowed || self.p.method == TwoStepMethod::Voice
    }
    fn method_label(&self) -> &'static str {
        if self.p.method == TwoStepMethod::Voice { "voice call" } else { "text message" }
    }
}

const OFFICE_FIELDS: [(&str, &str, &str, &str); 7] = [
    ("mobile_phone", "Mobile phone", "tel", "Optional. Codes still go to your two-step phone above."),
    ("office_phone", "Office phone", "tel", "Optional."),
    ("fax", "Fax", "tel", "Optional."),
    ("street", "Street address", "text", "Optional."),
    ("city", "City", "text", "Optional."),
    ("state", "State", "text", "Optional. Two letters, like WA."),
    ("zip", "ZIP code", "text", "Optional."),
];

fn office_value(f: &OfficeForm, name: &str) -> String {
    match name {
        "mobile_phone" => &f.mobile_phone,
        "office_phone" => &f.office_phone,
        "fax" => &f.fax,
        "street" => &f.street,
        "city" => &f.city,
        "state" => &f.state,
        _ => &f.zip,
    }
    .clone()
}

/// Renders the profile page as it stands after `f`.
async fn page(
    st: &AppState,
    plan: &CurrentPlan,
    csrf: &CsrfToken,
    s: &SessionInfo,
    status: StatusCode,
    f: Feedback,
) -> Response {
    let p = match st.svc.my_profile(&plan.0, s).await {
        Ok(p) => p,
        Err(ProfileError::Internal(e)) => return internal_error(e),
        Err(_) => return Redirect::to("/signin").into_response(),
    };
    let acting = match st.svc.my_providers(&plan.0, s).await {
        Ok(a) => a,
        Err(ProfileUpdateError::NotSignedIn) => return Redirect::to("/signin").into_response(),
        Err(e) => return internal_error(e),
    };
    let chrome = match Chrome::for_session(st, plan, csrf, s, "/profile").await {
        Ok((chrome, _)) => chrome,
        Err(r) => return r.into_response(),
    };
    let c = &p.contact;
    let stored = OfficeForm {
        mobile_phone: phone_for_form(&c.mobile_phone),
        office_phone: phone_for_form(&c.office_phone),
        fax: phone_for_form(&c.fax),
        street: c.street.clone(),
        city: c.city.clone(),
        state: c.state.clone(),
        zip: c.zip.clone(),
    };
    let form = f.office.clone().unwrap_or(stored);
    let office_fields = OFFICE_FIELDS
        .iter()
        .map(|(n, label, kind, hint)| EditField {
            name: n,
            label,
            kind,
            value: office_value(&form, n),
            error: f.field(n),
            hint,
        })
        .collect();
    let state_zip = format!("{} {}", c.state, c.zip);
    let address = [c.street.as_str(), c.city.as_str(), state_zip.trim()]
        .into_iter()
        .filter(|x| !x.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    let open_minutes = match p.unlock {
        Unlock::Open { until } => ((until - st.svc.now()) + 59) / 60,
        _ => 0,
    };
    let voice_allowed = plan.0.factor_policy().voice_allowed;
    let page =
        ProfilePage { chrome, p, f, open_minutes, countries: COUNTRIES, office_fields, address, acting, voice_allowed };
    render(status, &page)
}

/// The status and feedback for a refused action (not a failure of ours).
fn refused(e: ProfileError, mut f: Feedback) -> (StatusCode, Feedback) {
    let status = match &e {
        ProfileError::Password(SignInError::Locked { .. })
        | ProfileError::TooManyEmailChanges
        | ProfileError::Code(gatehouse_services::two_step::TwoStepError::TooManySends) => StatusCode::TOO_MANY_REQUESTS,
        ProfileError::Code(code) if code.is_answer_refusal() => StatusCode::TOO_MANY_REQUESTS,
        ProfileError::NotUnlocked
        | ProfileError::Code(gatehouse_services::two_step::TwoStepError::StrongFactorRequired) => StatusCode::FORBIDDEN,
        ProfileError::Office(errs) => {
            f.errors.extend(errs.0.iter().map(|x| (x.field, x.message.clone())));
            f.error = Some("Please correct the fields marked below.".into());
            return (StatusCode::UNPROCESSABLE_ENTITY, f);
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    match e.field() {
        Some(field) => f.errors.push((field, e.to_string())),
        None => f.error = Some(e.to_string()),
    }
    (status, f)
}

/// Renders the page after an action: its notice on success, its errors on refusal.
async fn after(
    st: &AppState,
    plan: &CurrentPlan,
    csrf: &CsrfToken,
    s: &SessionInfo,
    result: Result<Option<String>, ProfileError>,
    f: Feedback,
) -> Response {
    match result {
        Ok(notice) => page(st, plan, csrf, s, StatusCode::OK, Feedback { notice, ..Feedback::default() }).await,
        Err(ProfileError::Internal(e)) => internal_error(e),
        Err(ProfileError::Password(SignInError::Busy)) => busy(),
        Err(ProfileError::Password(SignInError::Internal(e))) => internal_error(e),
        Err(e) => {
            let (status, f) = refused(e, f);
            page(st, plan, csrf, s, status, f).await
        }
    }
}

async fn show(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): SignedIn,
) -> Response {
    page(&st, &plan, &csrf, &s, StatusCode::OK, Feedback::default()).await
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

async fn confirm_password(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): SignedIn,
    Meta(meta): Meta,
    Form(form): Form<PasswordForm>,
) -> Response {
    let result = st
        .svc
        .profile_confirm_password(&plan.0, &s, &form.username, &form.password, &meta)
        .await
        .map(|asked| Some(asked_notice(&asked)));
    let f = Feedback { typed_username: form.username.chars().take(64).collect(), ..Feedback::default() };
    after(&st, &plan, &csrf, &s, result, f).await
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    recovery_code: String,
}

fn method_of(raw: &str) -> TwoStepMethod {
    if raw == "voice" { TwoStepMethod::Voice } else { TwoStepMethod::Text }
}

/// What the password step asked for: the app's code or the passkey (nothing was sent), or the
/// code on its way.
fn asked_notice(asked: &CodeAsked) -> String {
    if asked.steps.app {
        "Enter the code from your authenticator app.".to_owned()
    } else if asked.steps.passkey && !asked.steps.code_sent {
        "Now confirm it's you with your passkey.".to_owned()
    } else {
        sent_notice(&asked.masked_phone, asked.method)
    }
}

fn sent_notice(masked: &str, method: TwoStepMethod) -> String {
    if method == TwoStepMethod::Voice {
        format!("We are calling {masked} with your code.")
    } else {
        format!("We sent a code to {masked}. It may take a minute to arrive.")
    }
}

async fn code(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): SignedIn,
    Meta(meta): Meta,
    Form(form): Form<CodeForm>,
) -> Response {
    let result = if form.action == "send" {
        let method = method_of(&form.method);
        st.svc.profile_send_code(&plan.0, &s, method, &meta).await.map(|m| Some(sent_notice(&m, method)))
    } else if form.action == "recovery" {
        st.svc.profile_verify_recovery_code(&plan.0, &s, &form.recovery_code, &meta).await.map(|()| {
            Some(
                "Thank you. You can now change your profile. That recovery code is used up; we emailed you a notice."
                    .to_owned(),
            )
        })
    } else {
        st.svc
            .profile_verify_code(&plan.0, &s, &form.code, &meta)
            .await
            .map(|()| Some("Thank you. You can now change your profile.".to_owned()))
    };
    after(&st, &plan, &csrf, &s, result, Feedback::default()).await
}

/// The passkey's options for confirming it is you (JSON, for the ceremony script).
async fn passkey_options(State(st): State<AppState>, plan: CurrentPlan, sess: CookieSession) -> Response {
    let s = match require_stage(&sess.0, SessionStage::Complete) {
        Ok(s) => s,
        Err(_) => return super::passkeys::options_answer(Err(PasskeyError::WrongStage)),
    };
    super::passkeys::options_answer(st.svc.start_passkey_reauth(&plan.0, &s).await)
}

#[derive(Deserialize)]
struct PasskeyAnswerForm {
    #[serde(default)]
    ceremony: String,
    #[serde(default)]
    credential: String,
}

/// The passkey's answer: the profile opens, or the page says why not beside the passkey.
async fn passkey(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): SignedIn,
    Meta(meta): Meta,
    Form(form): Form<PasskeyAnswerForm>,
) -> Response {
    match st.svc.finish_passkey_reauth(&plan.0, &s, &form.ceremony, &form.credential, &meta).await {
        Ok(()) => {
            let notice = Some("Thank you. You can now change your profile.".to_owned());
            page(&st, &plan, &csrf, &s, StatusCode::OK, Feedback { notice, ..Feedback::default() }).await
        }
        Err(PasskeyError::Internal(e)) => internal_error(e),
        Err(e) => {
            let status = match e {
                PasskeyError::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
                PasskeyError::NotUnlocked => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            // Past the password step's ten minutes the page asks for the password again.
            let f = match e {
                PasskeyError::NotUnlocked => {
                    Feedback { error: Some(ProfileError::NotUnlocked.to_string()), ..Feedback::default() }
                }
                _ => Feedback { passkey_error: Some(e.to_string()), ..Feedback::default() },
            };
            page(&st, &plan, &csrf, &s, status, f).await
        }
    }
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryCodesPage {
    chrome: Chrome,
    codes: Vec<String>,
}

/// "Make new recovery codes": the old set stops working and the new one is shown on this answer
/// only (the page is not kept: every page is `no-store`).
async fn recovery_codes(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): SignedIn,
    Meta(meta): Meta,
) -> Response {
    match st.svc.recovery_codes_regenerate(&plan.0, &s, &meta).await {
        Ok(codes) => {
            let chrome = match Chrome::for_session(&st, &plan, &csrf, &s, "/profile").await {
                Ok((chrome, _)) => chrome,
                Err(r) => return r.into_response(),
            };
            render(StatusCode::OK, &RecoveryCodesPage { chrome, codes })
        }
        Err(AuthenticatorError::Internal(e)) => internal_error(e),
        Err(e) => {
            let status =
                if matches!(e, AuthenticatorError::NotUnlocked) { StatusCode::FORBIDDEN } else { StatusCode::CONFLICT };
            page(&st, &plan, &csrf, &s, status, Feedback { error: Some(e.to_string()), ..Feedback::default() }).await
        }
    }
}

#[derive(Deserialize)]
struct PhoneForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    country_code: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    code: String,
}

async fn phone(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): SignedIn,
    Meta(meta): Meta,
    Form(form): Form<PhoneForm>,
) -> Response {
    let result = if form.action == "confirm" {
        st.svc
            .profile_confirm_phone(&plan.0, &s, &form.code, &meta)
            .await
            .map(|m| Some(format!("Your two-step phone is now {m}. We emailed you a notice of the change.")))
    } else {
        let method = method_of(&form.method);
        st.svc
            .profile_start_phone_change(&plan.0, &s, &form.country_code, &form.phone, method, &meta)
            .await
            .map(|m| Some(format!("{} Enter it below to confirm your new phone.", sent_notice(&m, method))))
    };
    let f = Feedback {
        phone: form.phone.chars().take(32).collect(),
        country_code: form.country_code.chars().take(4).collect(),
        method: form.method.chars().take(5).collect(),
        ..Feedback::default()
    };
    after(&st, &plan, &csrf, &s, result, f).await
}

#[derive(Deserialize)]
struct EmailForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    email_confirm: String,
}

async fn email(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): SignedIn,
    Meta(meta): Meta,
    Form(form): Form<EmailForm>,
) -> Response {
    let result = st
        .svc
        .profile_start_email_change(&plan.0, &s, &form.email, &form.email_confirm, &meta)
        .await
        .map(|()| {
            Some(format!(
                "We sent a link to {}. Open it within 24 hours to start using that address; until then we keep writing to your current one.",
                form.email.trim()
            ))
        });
    let f = Feedback {
        email: form.email.chars().take(254).collect(),
        email_confirm: form.email_confirm.chars().take(254).collect(),
        ..Feedback::default()
    };
    after(&st, &plan, &csrf, &s, result, f).await
}

async fn office(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): SignedIn,
    Meta(meta): Meta,
    Form(form): Form<OfficeForm>,
) -> Response {
    let result = st
        .svc
        .profile_update_office(&plan.0, &s, &form, &meta)
        .await
        .map(|()| Some("Your office details were saved.".to_owned()));
    after(&st, &plan, &csrf, &s, result, Feedback { office: Some(form), ..Feedback::default() }).await
}

async fn done(State(st): State<AppState>, plan: CurrentPlan, AtStage(s, _): SignedIn, Meta(meta): Meta) -> Response {
    match st.svc.profile_lock(&plan.0, &s, &meta).await {
        Ok(()) | Err(ProfileError::NotUnlocked) => Redirect::to("/").into_response(),
        Err(e) => internal_error(e),
    }
}

// ---- The link sent to a new email address ----

#[derive(Template)]
#[template(path = "email_change.html")]
struct EmailLinkPage {
    chrome: Chrome,
    token: String,
    username: String,
    new_email: String,
    done: bool,
    error: Option<String>,
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

fn link_page(
    st: &AppState,
    plan: &CurrentPlan,
    csrf: &CsrfToken,
    token: &str,
    result: Result<gatehouse_services::profile::EmailChangeView, ProfileError>,
    done: bool,
) -> Response {
    let chrome = Chrome::new(st, plan, csrf, false);
    match result {
        Ok(v) => render(
            StatusCode::OK,
            &EmailLinkPage {
                chrome,
                token: token.to_owned(),
                username: v.username,
                new_email: v.new_email,
                done,
                error: None,
            },
        ),
        Err(ProfileError::Internal(e)) => internal_error(e),
        Err(e) => render(
            StatusCode::BAD_REQUEST,
            &EmailLinkPage {
                chrome,
                token: String::new(),
                username: String::new(),
                new_email: String::new(),
                done: false,
                error: Some(e.to_string()),
            },
        ),
    }
}

async fn email_link(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let view = st.svc.email_change_view(&plan.0, &q.token).await;
    link_page(&st, &plan, &csrf, &q.token, view, false)
}

async fn email_confirm(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    Meta(meta): Meta,
    Form(q): Form<TokenQuery>,
) -> Response {
    let done = st.svc.confirm_email_change(&plan.0, &q.token, &meta).await;
    link_page(&st, &plan, &csrf, "", done, true)
}
