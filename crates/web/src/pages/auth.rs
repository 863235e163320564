//! Sign-in, sign-up, two-step verification and terms: the journey from the door to the home page.

use super::{Chrome, busy, internal_error, next_url, render, to_stage};
use crate::AppState;
use crate::csrf::CsrfToken;
use crate::extract::{AtStage, CookieSession, CurrentPlan, Meta, SESSION_COOKIE, stage};
use crate::routing::Routes;
use crate::routing::{get, post};
use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::Cookie;
use gatehouse_domain::TwoStepMethod;
use gatehouse_domain::session::SessionStage;
use gatehouse_services::signin::SignInError;
use gatehouse_services::signup::SignUpError;
use gatehouse_services::terms::TermsError;
use gatehouse_services::two_step::TwoStepError;
use serde::Deserialize;

pub fn routes() -> Routes {
    Routes::new()
        .route("/signin", get(signin_page).post(signin_submit))
        .route("/signup", get(signup_page).post(signup_submit))
        .route("/two-step/setup", get(setup_page).post(setup_submit))
        .route("/two-step/code", get(code_page).post(code_submit))
        .route("/terms", get(terms_page).post(terms_submit))
        .route("/signout", post(signout))
}

// ---- Sign in ----

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    chrome: Chrome,
    username: String,
    error: Option<String>,
    notice: Option<String>,
    /// Why the last "Sign in with a passkey" did not sign in.
    passkey_error: Option<String>,
}

/// The sign-in page saying why a passkey did not sign in.
pub(super) fn signin_with_passkey_error(
    st: &AppState,
    plan: &CurrentPlan,
    csrf: &CsrfToken,
    status: StatusCode,
    error: String,
) -> Response {
    render(
        status,
        &SignInPage {
            chrome: Chrome::new(st, plan, csrf, false),
            username: String::new(),
            error: None,
            notice: None,
            passkey_error: Some(error),
        },
    )
}

#[derive(Deserialize)]
struct NoticeQuery {
    #[serde(default)]
    signed_out: Option<String>,
    #[serde(default)]
    password_changed: Option<String>,
    /// An application asked that the person sign in again (OpenID Connect `prompt=login`,
    /// `max_age`): the form is shown even to a signed-in browser.
    #[serde(default)]
    reauth: Option<String>,
    /// The username an application suggests (OpenID Connect `login_hint`).
    #[serde(default)]
    login_hint: Option<String>,
}

async fn signin_page(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    sess: CookieSession,
    q: Query<NoticeQuery>,
) -> Response {
    if let Some(s) = sess.0.filter(|_| q.reauth.is_none()) {
        return Redirect::to(next_url(s.stage)).into_response();
    }
    let notice = if q.reauth.is_some() {
        Some("The application asks you to sign in again.".to_owned())
    } else if q.password_changed.is_some() {
        Some("Your password was changed. Sign in with your new password.".to_owned())
    } else {
        q.signed_out.as_ref().map(|_| "You have signed out.".to_owned())
    };
    render(
        StatusCode::OK,
        &SignInPage {
            chrome: Chrome::new(&st, &plan, &csrf, false),
            username: q.login_hint.as_deref().unwrap_or_default().chars().take(64).collect(),
            error: None,
            notice,
            passkey_error: None,
        },
    )
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

async fn signin_submit(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    Meta(meta): Meta,
    jar: CookieJar,
    Form(f): Form<SignInForm>,
) -> Response {
    let devices = super::device_tokens(&jar);
    match st.svc.sign_in_from(&plan.0, &f.username, &f.password, &devices, &meta).await {
        // Past the link limit nothing was sent: the email-proof page says so.
        Ok(s) if s.stage == SessionStage::EmailProof && !s.code_sent => {
            let jar = jar.add(super::device_cookie(&st, &s.devices)).add(super::session_cookie(&st, s.session));
            (jar, Redirect::to("/first-signin/email?not_sent=1")).into_response()
        }
        Ok(s) => to_stage(&st, jar.add(super::device_cookie(&st, &s.devices)), s.session, s.stage),
        Err(SignInError::Busy) => busy(),
        Err(SignInError::Internal(e)) => internal_error(e),
        Err(e) => {
            let status = if matches!(e, SignInError::Locked { .. }) {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNAUTHORIZED
            };
            render(
                status,
                &SignInPage {
                    chrome: Chrome::new(&st, &plan, &csrf, false),
                    username: f.username.chars().take(64).collect(),
                    error: Some(e.to_string()),
                    notice: None,
                    passkey_error: None,
                },
            )
        }
    }
}

// ---- Sign up ----

#[derive(Template)]
#[template(path = "signup.html")]
struct SignUpPage {
    chrome: Chrome,
    token: String,
    first_name: String,
    last_name: String,
    email: String,
    username: String,
    min_len: usize,
    form_error: Option<String>,
    username_error: Option<String>,
    password_error: Option<String>,
    confirm_error: Option<String>,
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

fn link_problem(st: &AppState, plan: &CurrentPlan, csrf: &CsrfToken, text: &str) -> Response {
    #[derive(Template)]
    #[template(path = "message.html")]
    struct P<'a> {
        chrome: Chrome,
        heading: &'a str,
        text: &'a str,
        is_error: bool,
        link_href: &'a str,
        link_text: &'a str,
    }
    render(
        StatusCode::BAD_REQUEST,
        &P {
            chrome: Chrome::new(st, plan, csrf, false),
            heading: "This link cannot be used",
            text,
            is_error: true,
            link_href: "/signin",
            link_text: "Go to sign in",
        },
    )
}

async fn signup_page(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    q: Query<TokenQuery>,
) -> Response {
    match st.svc.invitation(&plan.0, &q.token).await {
        Ok(inv) => render(
            StatusCode::OK,
            &SignUpPage {
                chrome: Chrome::new(&st, &plan, &csrf, false),
                token: q.token.clone(),
                first_name: inv.first_name,
                last_name: inv.last_name,
                email: inv.email,
                username: String::new(),
                min_len: plan.0.password_policy().min_len,
                form_error: None,
                username_error: None,
                password_error: None,
                confirm_error: None,
            },
        ),
        Err(SignUpError::Link(p)) => link_problem(&st, &plan, &csrf, &p.to_string()),
        Err(e) => internal_error(e),
    }
}

#[derive(Deserialize)]
struct SignUpForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm_password: String,
}

async fn signup_submit(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    Meta(meta): Meta,
    jar: CookieJar,
    Form(f): Form<SignUpForm>,
) -> Response {
    let err = match st.svc.sign_up(&plan.0, &f.token, &f.username, &f.password, &f.confirm_password, &meta).await {
        Ok(token) => return to_stage(&st, jar, token, SessionStage::TwoStepSetup),
        Err(SignUpError::Link(p)) => return link_problem(&st, &plan, &csrf, &p.to_string()),
        Err(SignUpError::Busy) => return busy(),
        Err(SignUpError::Internal(e)) => return internal_error(e),
        Err(e) => e,
    };
    let inv = match st.svc.invitation(&plan.0, &f.token).await {
        Ok(i) => i,
        Err(SignUpError::Link(p)) => return link_problem(&st, &plan, &csrf, &p.to_string()),
        Err(e) => return internal_error(e),
    };
    let msg = Some(err.to_string());
    let field = err.field();
    let status = if matches!(err, SignUpError::TooManyTakenNames) {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::BAD_REQUEST
    };
    render(
        status,
        &SignUpPage {
            chrome: Chrome::new(&st, &plan, &csrf, false),
            token: f.token,
            first_name: inv.first_name,
            last_name: inv.last_name,
            email: inv.email,
            username: f.username.chars().take(64).collect(),
            min_len: plan.0.password_policy().min_len,
            form_error: if field.is_none() { msg.clone() } else { None },
            username_error: if field == Some("username") { msg.clone() } else { None },
            password_error: if field == Some("password") { msg.clone() } else { None },
            confirm_error: if field == Some("confirm_password") { msg } else { None },
        },
    )
}

// ---- Two-step set-up ----

pub(super) const COUNTRIES: &[(&str, &str)] = &[
    ("1", "United States or Canada (+1)"),
    ("52", "Mexico (+52)"),
    ("44", "United Kingdom (+44)"),
    ("63", "Philippines (+63)"),
    ("91", "India (+91)"),
];

#[derive(Template)]
#[template(path = "two_step_setup.html")]
struct SetupPage {
    chrome: Chrome,
    countries: &'static [(&'static str, &'static str)],
    country_code: String,
    phone: String,
    method: String,
    code_sent: bool,
    masked_phone: String,
    notice: Option<String>,
    send_error: Option<String>,
    phone_error: Option<String>,
    code_error: Option<String>,
    /// The plan offers voice calls.
    voice: bool,
}

impl SetupPage {
    fn new(chrome: Chrome, voice: bool) -> Self {
        Self {
            voice,
            chrome,
            countries: COUNTRIES,
            country_code: "1".into(),
            phone: String::new(),
            method: "text".into(),
            code_sent: false,
            masked_phone: String::new(),
            notice: None,
            send_error: None,
            phone_error: None,
            code_error: None,
        }
    }
}

async fn setup_page(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::TwoStepSetup>,
) -> Response {
    let mut page =
        SetupPage::new(Chrome::new(&st, &plan, &csrf, false).mid_flow(), plan.0.factor_policy().voice_allowed);
    match st.svc.pending_phone(&plan.0, &s).await {
        Ok(Some(m)) => {
            page.code_sent = true;
            page.masked_phone = m;
        }
        Ok(None) => {}
        Err(e) => return internal_error(e),
    }
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
struct SetupForm {
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

async fn setup_submit(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::TwoStepSetup>,
    Meta(meta): Meta,
    jar: CookieJar,
    Form(f): Form<SetupForm>,
) -> Response {
    let mut page =
        SetupPage::new(Chrome::new(&st, &plan, &csrf, false).mid_flow(), plan.0.factor_policy().voice_allowed);
    page.country_code = f.country_code.clone();
    page.phone = f.phone.chars().take(32).collect();
    page.method = if f.method == "voice" { "voice".into() } else { "text".into() };
    if f.action == "verify" {
        match st.svc.verify_code(&plan.0, &s, &f.code, &meta).await {
            Ok(v) => return to_stage(&st, jar, v.session, v.stage),
            Err(TwoStepError::Internal(e)) => return internal_error(e),
            Err(TwoStepError::WrongStage) => return Redirect::to("/signin").into_response(),
            Err(e) => page.code_error = Some(e.to_string()),
        }
        if let Ok(Some(m)) = st.svc.pending_phone(&plan.0, &s).await {
            page.code_sent = true;
            page.masked_phone = m;
        }
        return render(StatusCode::BAD_REQUEST, &page);
    }
    let method = if f.method == "voice" { TwoStepMethod::Voice } else { TwoStepMethod::Text };
    match st.svc.send_setup_code(&plan.0, &s, &f.country_code, &f.phone, method, &meta).await {
        Ok(masked) => {
            page.code_sent = true;
            page.notice = Some(if method == TwoStepMethod::Voice {
                format!("We are calling {masked} with your code.")
            } else {
                format!("We sent a code to {masked}.")
            });
            page.masked_phone = masked;
            render(StatusCode::OK, &page)
        }
        Err(TwoStepError::Phone(e)) => {
            page.phone_error = Some(e.to_string());
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(e @ TwoStepError::VoiceNotOffered) => {
            page.send_error = Some(e.to_string());
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(TwoStepError::Internal(e)) => internal_error(e),
        Err(e) => {
            page.send_error = Some(e.to_string());
            render(StatusCode::TOO_MANY_REQUESTS, &page)
        }
    }
}

// ---- Sign-in code ----

#[derive(Template)]
#[template(path = "two_step_code.html")]
struct CodePage {
    chrome: Chrome,
    masked_phone: String,
    /// No code was sent for this sign-in: what happened and when the next one can be sent.
    not_sent: Option<String>,
    /// How long a code works, in minutes.
    minutes: i64,
    notice: Option<String>,
    send_error: Option<String>,
    code_error: Option<String>,
    /// The code asked for is the authenticator app's.
    app: bool,
    /// The user has an app (offered under "Use another way" when a text was asked for).
    has_app: bool,
    recovery_error: Option<String>,
    /// The user has a passkey: offer it instead of the code.
    has_passkey: bool,
    /// Why the last passkey did not do.
    passkey_error: Option<String>,
    /// The plan requires an app or passkey of this user, who has one: no text or voice code.
    strong_only: bool,
    /// Unused recovery codes are held.
    has_recovery: bool,
    /// Voice calls may be asked for.
    voice: bool,
}

/// The code page saying why a passkey did not do as the second step.
pub(super) async fn code_page_with_passkey_error(
    st: &AppState,
    plan: &CurrentPlan,
    csrf: &CsrfToken,
    s: &gatehouse_services::SessionInfo,
    status: StatusCode,
    error: String,
) -> Response {
    match code_page_for(st, plan, csrf, s).await {
        Ok(mut page) => {
            page.passkey_error = Some(error);
            render(status, &page)
        }
        Err(r) => r,
    }
}

/// The code page for this sign-in, saying so plainly when no code was sent for it.
async fn code_page_for(
    st: &AppState,
    plan: &CurrentPlan,
    csrf: &CsrfToken,
    s: &gatehouse_services::SessionInfo,
) -> Result<CodePage, Response> {
    let masked = st.svc.pending_phone(&plan.0, s).await.map_err(internal_error)?.unwrap_or_default();
    let status = st.svc.signin_code_status(&plan.0, s).await.map_err(internal_error)?;
    let has_passkey = st.svc.has_passkey(&plan.0, s).await.map_err(internal_error)?;
    let policy = plan.0.code_policy();
    let not_sent = (!status.sent && !status.strong_only).then(|| match status.next_at {
        Some(t) => format!(
            "We did not send you a code this time: we send at most {} codes an hour, and they were already sent. You can ask for a new code after {}.",
            policy.max_sends_per_hour,
            super::when(&plan.0, t)
        ),
        None => "We have not sent you a code for this sign-in. Ask for a new code below.".to_owned(),
    });
    Ok(CodePage {
        chrome: Chrome::new(st, plan, csrf, false).mid_flow(),
        masked_phone: masked,
        not_sent,
        minutes: policy.lifetime.as_secs() / 60,
        notice: None,
        send_error: None,
        code_error: None,
        app: status.app,
        has_app: status.has_app,
        recovery_error: None,
        has_passkey,
        passkey_error: None,
        strong_only: status.strong_only,
        has_recovery: status.has_recovery || status.has_app,
        voice: status.voice,
    })
}

async fn code_page(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::TwoStepCode>,
) -> Response {
    match code_page_for(&st, &plan, &csrf, &s).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    recovery_code: String,
}

async fn code_submit(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::TwoStepCode>,
    Meta(meta): Meta,
    jar: CookieJar,
    Form(f): Form<CodeForm>,
) -> Response {
    if f.action == "app" {
        return match st.svc.use_app_for_signin(&plan.0, &s, &meta).await {
            Ok(()) => Redirect::to("/two-step/code").into_response(),
            Err(TwoStepError::Internal(e)) => internal_error(e),
            Err(e) => {
                let mut page = match code_page_for(&st, &plan, &csrf, &s).await {
                    Ok(p) => p,
                    Err(r) => return r,
                };
                page.send_error = Some(e.to_string());
                render(StatusCode::TOO_MANY_REQUESTS, &page)
            }
        };
    }
    if f.action == "recovery" {
        return match st.svc.verify_recovery_code(&plan.0, &s, &f.recovery_code, &meta).await {
            Ok(v) => to_stage(&st, jar, v.session, v.stage),
            Err(TwoStepError::Internal(e)) => internal_error(e),
            Err(TwoStepError::WrongStage) => Redirect::to("/signin").into_response(),
            Err(e) => {
                let mut page = match code_page_for(&st, &plan, &csrf, &s).await {
                    Ok(p) => p,
                    Err(r) => return r,
                };
                let status = answer_refused_status(&e);
                page.recovery_error = Some(e.to_string());
                render(status, &page)
            }
        };
    }
    if f.action == "resend" {
        let method = if f.method == "voice" { TwoStepMethod::Voice } else { TwoStepMethod::Text };
        let sent = st.svc.resend_signin_code(&plan.0, &s, Some(method), &meta).await;
        let mut page = match code_page_for(&st, &plan, &csrf, &s).await {
            Ok(p) => p,
            Err(r) => return r,
        };
        return match sent {
            Ok(m) => {
                page.notice = Some(if method == TwoStepMethod::Voice {
                    format!("We are calling {m} with a new code.")
                } else {
                    format!("We sent a new code to {m}.")
                });
                render(StatusCode::OK, &page)
            }
            Err(TwoStepError::Internal(e)) => internal_error(e),
            Err(e) => {
                // When no code went out for this sign-in at all, the page already says why and when.
                if page.not_sent.is_none() {
                    page.send_error = Some(e.to_string());
                }
                render(StatusCode::TOO_MANY_REQUESTS, &page)
            }
        };
    }
    match st.svc.verify_code(&plan.0, &s, &f.code, &meta).await {
        Ok(v) => to_stage(&st, jar, v.session, v.stage),
        Err(TwoStepError::Internal(e)) => internal_error(e),
        Err(TwoStepError::WrongStage) => Redirect::to("/signin").into_response(),
        Err(e) => {
            let mut page = match code_page_for(&st, &plan, &csrf, &s).await {
                Ok(p) => p,
                Err(r) => return r,
            };
            let status = answer_refused_status(&e);
            page.code_error = Some(e.to_string());
            render(status, &page)
        }
    }
}

/// The status of a page whose second-step answer was refused: 429 while the account takes no
/// answers (too many wrong ones in a row), 400 otherwise.
fn answer_refused_status(e: &TwoStepError) -> StatusCode {
    if e.is_answer_refusal() { StatusCode::TOO_MANY_REQUESTS } else { StatusCode::BAD_REQUEST }
}

// ---- Terms ----

#[derive(Template)]
#[template(path = "terms.html")]
struct TermsPage {
    chrome: Chrome,
    version: i64,
    text: String,
    first_name: String,
    last_name: String,
    error: Option<String>,
}

async fn terms_page(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    _: AtStage<stage::Terms>,
) -> Response {
    match st.svc.current_terms(&plan.0).await {
        Ok(t) => render(
            StatusCode::OK,
            &TermsPage {
                chrome: Chrome::new(&st, &plan, &csrf, false).mid_flow(),
                version: t.version,
                text: t.text,
                first_name: String::new(),
                last_name: String::new(),
                error: None,
            },
        ),
        Err(e) => internal_error(e),
    }
}

#[derive(Deserialize)]
struct TermsForm {
    #[serde(default)]
    version: i64,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
}

async fn terms_submit(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::Terms>,
    Meta(meta): Meta,
    jar: CookieJar,
    Form(f): Form<TermsForm>,
) -> Response {
    match st.svc.sign_terms(&plan.0, &s, f.version, &f.first_name, &f.last_name, &meta).await {
        Ok((token, next)) => to_stage(&st, jar, token, next),
        Err(TermsError::Internal(e)) => internal_error(e),
        Err(TermsError::WrongStage) => Redirect::to("/signin").into_response(),
        Err(e) => match st.svc.current_terms(&plan.0).await {
            Ok(t) => render(
                if matches!(e, TermsError::Outdated) { StatusCode::CONFLICT } else { StatusCode::BAD_REQUEST },
                &TermsPage {
                    chrome: Chrome::new(&st, &plan, &csrf, false).mid_flow(),
                    version: t.version,
                    text: t.text,
                    first_name: f.first_name.chars().take(60).collect(),
                    last_name: f.last_name.chars().take(60).collect(),
                    error: Some(e.to_string()),
                },
            ),
            Err(e) => internal_error(e),
        },
    }
}

// ---- Sign out ----

/// Ends the session, and forgets what this browser was in the middle of (an application's
/// waiting request, a password reset), so that the next person at a shared computer starts clean.
async fn signout(
    State(st): State<AppState>,
    plan: CurrentPlan,
    sess: CookieSession,
    Meta(meta): Meta,
    jar: CookieJar,
) -> Response {
    if let Some(s) = sess.0
        && let Err(e) = st.svc.sign_out(&s, &meta).await
    {
        return internal_error(e);
    }
    (forget_session(jar, &plan), Redirect::to("/signin?signed_out=1")).into_response()
}

/// The browser's jar once it has signed out (from the portal or from an application's
/// `/oauth2/logout`): no session, no waiting application request, no reset in progress.
pub(crate) fn forget_session(jar: CookieJar, plan: &CurrentPlan) -> CookieJar {
    crate::oidc::forget_pending(jar, plan)
        .remove(Cookie::build(SESSION_COOKIE).path("/"))
        .remove(Cookie::build(super::self_service::RESET_COOKIE).path("/"))
}
