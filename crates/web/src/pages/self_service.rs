//! Self-service pages for people who cannot sign in: forgot username, and reset password
//! (account lookup, which sends the code → two-step code → create a new password), which the
//! emailed reset link joins at its last step. The reset's token lives in an HttpOnly cookie; the
//! server keeps the state. Until a correct code, every page of a reset is the same whether or not
//! the username and email matched an account.

use super::{Chrome, busy, internal_error, render};
use crate::AppState;
use crate::csrf::CsrfToken;
use crate::extract::{AtStage, CurrentPlan, Meta, stage};
use crate::routing::Routes;
use crate::routing::get;
use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use gatehouse_services::self_service::{ResetStep, ResetToken, SelfServiceError};
use serde::Deserialize;

/// The cookie holding a password reset's token.
pub const RESET_COOKIE: &str = "gh_reset";

pub fn routes() -> Routes {
    Routes::new()
        .route("/first-password", get(first_password_page).post(first_password_submit))
        .route("/forgot-username", get(username_page).post(username_submit))
        .route("/forgot-password", get(lookup_page).post(lookup_submit))
        .route("/forgot-password/verify", get(code_page).post(code_submit))
        .route("/forgot-password/new", get(new_password_page).post(new_password_submit))
        .route("/reset-password", get(open_link))
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    chrome: Chrome,
    heading: &'a str,
    text: &'a str,
    is_error: bool,
    link_href: &'a str,
    link_text: &'a str,
}

#[allow(clippy::too_many_arguments)]
fn message(
    st: &AppState,
    plan: &CurrentPlan,
    csrf: &CsrfToken,
    status: StatusCode,
    heading: &str,
    text: &str,
    link_href: &str,
    link_text: &str,
) -> Response {
    let is_error = status.is_client_error();
    render(
        status,
        &MessagePage { chrome: Chrome::new(st, plan, csrf, false), heading, text, is_error, link_href, link_text },
    )
}

fn reset_cookie(st: &AppState, token: ResetToken) -> Cookie<'static> {
    Cookie::build((RESET_COOKIE, token.0))
        .path("/")
        .http_only(true)
        .secure(st.secure_cookies)
        .same_site(SameSite::Lax)
        .build()
}

fn reset_token(jar: &CookieJar) -> String {
    jar.get(RESET_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default()
}

/// The page for a reset that cannot go on (expired, used, or for no account).
fn problem(st: &AppState, plan: &CurrentPlan, csrf: &CsrfToken, e: SelfServiceError) -> Response {
    match e {
        SelfServiceError::Internal(e) => internal_error(e),
        SelfServiceError::Busy => busy(),
        e => message(
            st,
            plan,
            csrf,
            StatusCode::BAD_REQUEST,
            "This password reset cannot continue",
            &e.to_string(),
            "/forgot-password",
            "Start again",
        ),
    }
}

// ---- Forgot username ----

#[derive(Template)]
#[template(path = "forgot_username.html")]
struct UsernamePage {
    chrome: Chrome,
    email: String,
    form_error: Option<String>,
    email_error: Option<String>,
}

async fn username_page(State(st): State<AppState>, plan: CurrentPlan, csrf: axum::Extension<CsrfToken>) -> Response {
    render(
        StatusCode::OK,
        &UsernamePage {
            chrome: Chrome::new(&st, &plan, &csrf, false),
            email: String::new(),
            form_error: None,
            email_error: None,
        },
    )
}

#[derive(Deserialize)]
struct UsernameForm {
    #[serde(default)]
    email: String,
}

async fn username_submit(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    Meta(meta): Meta,
    Form(f): Form<UsernameForm>,
) -> Response {
    let err = match st.svc.send_username_reminder(&plan.0, &f.email, &meta).await {
        Ok(()) => {
            return message(
                &st,
                &plan,
                &csrf,
                StatusCode::OK,
                "Email sent",
                "Please check your email for your username. It may take a few minutes to show up in your inbox. If no email arrives, check the address you typed, or call provider services. Once you have your username, please sign in.",
                "/signin",
                "Go to sign in",
            );
        }
        Err(SelfServiceError::Internal(e)) => return internal_error(e),
        Err(e) => e,
    };
    let status = if matches!(err, SelfServiceError::Throttled) {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::BAD_REQUEST
    };
    let field = err.field();
    render(
        status,
        &UsernamePage {
            chrome: Chrome::new(&st, &plan, &csrf, false),
            email: f.email.chars().take(254).collect(),
            form_error: field.is_none().then(|| err.to_string()),
            email_error: field.is_some().then(|| err.to_string()),
        },
    )
}

// ---- Reset password: account lookup ----

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct LookupPage {
    chrome: Chrome,
    username: String,
    email: String,
    form_error: Option<String>,
    username_error: Option<String>,
    email_error: Option<String>,
}

async fn lookup_page(State(st): State<AppState>, plan: CurrentPlan, csrf: axum::Extension<CsrfToken>) -> Response {
    render(
        StatusCode::OK,
        &LookupPage {
            chrome: Chrome::new(&st, &plan, &csrf, false),
            username: String::new(),
            email: String::new(),
            form_error: None,
            username_error: None,
            email_error: None,
        },
    )
}

#[derive(Deserialize)]
struct LookupForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
}

async fn lookup_submit(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    Meta(meta): Meta,
    jar: CookieJar,
    Form(f): Form<LookupForm>,
) -> Response {
    let err = match st.svc.start_password_reset(&plan.0, &f.username, &f.email, &meta).await {
        Ok(token) => {
            return (jar.add(reset_cookie(&st, token)), Redirect::to("/forgot-password/verify")).into_response();
        }
        Err(SelfServiceError::Internal(e)) => return internal_error(e),
        Err(e) => e,
    };
    let status = if matches!(err, SelfServiceError::Throttled) {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::BAD_REQUEST
    };
    let field = err.field();
    let msg = err.to_string();
    render(
        status,
        &LookupPage {
            chrome: Chrome::new(&st, &plan, &csrf, false),
            username: f.username.chars().take(64).collect(),
            email: f.email.chars().take(254).collect(),
            form_error: field.is_none().then(|| msg.clone()),
            username_error: (field == Some("username")).then(|| msg.clone()),
            email_error: (field == Some("email")).then(|| msg.clone()),
        },
    )
}

// ---- Reset password: two-step code ----

#[derive(Template)]
#[template(path = "reset_code.html")]
struct CodePage {
    chrome: Chrome,
    /// How long a code works, in minutes.
    minutes: i64,
    code_error: Option<String>,
}

/// Renders the page for a reset's current step (or goes where it belongs).
async fn step_page(
    st: &AppState,
    plan: &CurrentPlan,
    csrf: &CsrfToken,
    token: &str,
    status: StatusCode,
    code_error: Option<String>,
) -> Response {
    match st.svc.password_reset_step(&plan.0, token).await {
        Ok(ResetStep::Code) => render(
            status,
            &CodePage {
                chrome: Chrome::new(st, plan, csrf, false),
                minutes: plan.0.code_policy().lifetime.as_secs() / 60,
                code_error,
            },
        ),
        Ok(ResetStep::NewPassword { .. }) => Redirect::to("/forgot-password/new").into_response(),
        Err(e) => problem(st, plan, csrf, e),
    }
}

async fn code_page(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    jar: CookieJar,
) -> Response {
    step_page(&st, &plan, &csrf, &reset_token(&jar), StatusCode::OK, None).await
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

async fn code_submit(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    Meta(meta): Meta,
    jar: CookieJar,
    Form(f): Form<CodeForm>,
) -> Response {
    let token = reset_token(&jar);
    match st.svc.verify_reset_code(&plan.0, &token, &f.code, &meta).await {
        Ok(next) => (jar.add(reset_cookie(&st, next)), Redirect::to("/forgot-password/new")).into_response(),
        Err(e @ (SelfServiceError::Code(_) | SelfServiceError::CodeExpired | SelfServiceError::CodeTries)) => {
            step_page(&st, &plan, &csrf, &token, StatusCode::BAD_REQUEST, Some(e.to_string())).await
        }
        Err(e) => problem(&st, &plan, &csrf, e),
    }
}

// ---- Create a new password (both ways end here) ----

#[derive(Template)]
#[template(path = "new_password.html")]
pub(super) struct NewPasswordPage {
    pub chrome: Chrome,
    /// Where the form posts.
    pub action: &'static str,
    /// An imported account's first sign-in (not a reset).
    pub first_signin: bool,
    pub username: String,
    pub min_len: usize,
    pub form_error: Option<String>,
    pub password_error: Option<String>,
    pub confirm_error: Option<String>,
}

async fn new_password_page(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    jar: CookieJar,
) -> Response {
    match st.svc.password_reset_step(&plan.0, &reset_token(&jar)).await {
        Ok(ResetStep::NewPassword { username }) => render(
            StatusCode::OK,
            &NewPasswordPage {
                chrome: Chrome::new(&st, &plan, &csrf, false),
                action: "/forgot-password/new",
                first_signin: false,
                username,
                min_len: plan.0.password_policy().min_len,
                form_error: None,
                password_error: None,
                confirm_error: None,
            },
        ),
        Ok(_) => Redirect::to("/forgot-password/verify").into_response(),
        Err(e) => problem(&st, &plan, &csrf, e),
    }
}

#[derive(Deserialize)]
struct NewPasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm_password: String,
}

async fn new_password_submit(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    Meta(meta): Meta,
    jar: CookieJar,
    Form(f): Form<NewPasswordForm>,
) -> Response {
    let token = reset_token(&jar);
    let err = match st.svc.complete_password_reset(&plan.0, &token, &f.password, &f.confirm_password, &meta).await {
        Ok(_) => {
            let jar = jar.remove(Cookie::build(RESET_COOKIE).path("/"));
            return (jar, Redirect::to("/signin?password_changed=1")).into_response();
        }
        Err(e @ SelfServiceError::Password(_)) => e,
        Err(e) => return problem(&st, &plan, &csrf, e),
    };
    let username = match st.svc.password_reset_step(&plan.0, &token).await {
        Ok(ResetStep::NewPassword { username }) => username,
        Ok(_) => return Redirect::to("/forgot-password/verify").into_response(),
        Err(e) => return problem(&st, &plan, &csrf, e),
    };
    let msg = err.to_string();
    let field = err.field();
    render(
        StatusCode::BAD_REQUEST,
        &NewPasswordPage {
            chrome: Chrome::new(&st, &plan, &csrf, false),
            action: "/forgot-password/new",
            first_signin: false,
            username,
            min_len: plan.0.password_policy().min_len,
            form_error: None,
            password_error: (field == Some("password")).then(|| msg.clone()),
            confirm_error: (field == Some("confirm_password")).then(|| msg.clone()),
        },
    )
}

// ---- The emailed reset link ----

#[derive(Deserialize)]
struct LinkQuery {
    #[serde(default)]
    token: String,
}

/// Checks the link, moves its token into the cookie (out of the address bar and history) and
/// goes on to "Create a new password".
async fn open_link(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    jar: CookieJar,
    q: Query<LinkQuery>,
) -> Response {
    match st.svc.password_reset_step(&plan.0, &q.token).await {
        Ok(ResetStep::NewPassword { .. }) => {
            (jar.add(reset_cookie(&st, ResetToken(q.token.clone()))), Redirect::to("/forgot-password/new"))
                .into_response()
        }
        Ok(_) => problem(&st, &plan, &csrf, gatehouse_services::self_service::ResetProblem::Invalid.into()),
        Err(e) => message(
            &st,
            &plan,
            &csrf,
            StatusCode::BAD_REQUEST,
            "This link cannot be used",
            &link_text(&e),
            "/forgot-password",
            "Reset your password another way",
        ),
    }
}

fn link_text(e: &SelfServiceError) -> String {
    use gatehouse_services::self_service::ResetProblem;
    match e {
        SelfServiceError::Reset(ResetProblem::Expired) => {
            "This password reset link has expired (links work for 72 hours). Ask your practice administrator or provider services for a new one, or reset your password with two-step verification.".into()
        }
        SelfServiceError::Reset(ResetProblem::Used) => {
            "This password reset link was already used, and works only once. If you chose a new password, sign in with it. Otherwise ask for a new link.".into()
        }
        SelfServiceError::Reset(_) => "This password reset link is not valid. Check that you opened the whole link from your email, or ask for a new one.".into(),
        other => other.to_string(),
    }
}

// ---- An imported account's first sign-in: a new password ----

async fn first_password_page(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::NewPassword>,
) -> Response {
    first_password_form(&st, &plan, &csrf, &s, StatusCode::OK, None).await
}

async fn first_password_form(
    st: &AppState,
    plan: &CurrentPlan,
    csrf: &CsrfToken,
    s: &gatehouse_services::SessionInfo,
    status: StatusCode,
    err: Option<SelfServiceError>,
) -> Response {
    let username = match st.svc.username_of(&plan.0, s).await {
        Ok(u) => u,
        Err(e) => return internal_error(e),
    };
    let field = err.as_ref().and_then(SelfServiceError::field);
    let msg = err.as_ref().map(ToString::to_string);
    render(
        status,
        &NewPasswordPage {
            chrome: Chrome::new(st, plan, csrf, false).mid_flow(),
            action: "/first-password",
            first_signin: true,
            username,
            min_len: plan.0.password_policy().min_len,
            form_error: if field.is_none() { msg.clone() } else { None },
            password_error: if field == Some("password") { msg.clone() } else { None },
            confirm_error: if field == Some("confirm_password") { msg } else { None },
        },
    )
}

async fn first_password_submit(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    AtStage(s, _): AtStage<stage::NewPassword>,
    Meta(meta): Meta,
    jar: CookieJar,
    Form(f): Form<NewPasswordForm>,
) -> Response {
    match st.svc.set_first_password(&plan.0, &s, &f.password, &f.confirm_password, &meta).await {
        Ok((token, next)) => super::to_stage(&st, jar, token, next),
        Err(SelfServiceError::Internal(e)) => internal_error(e),
        Err(SelfServiceError::Busy) => busy(),
        Err(e @ SelfServiceError::Password(_)) => {
            first_password_form(&st, &plan, &csrf, &s, StatusCode::BAD_REQUEST, Some(e)).await
        }
        Err(_) => Redirect::to("/signin").into_response(),
    }
}
