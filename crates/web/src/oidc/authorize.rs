//! The authorization endpoint (`GET`/`POST /oauth2/authorize`), its return from Gatehouse's
//! sign-in (`/oauth2/authorize/resume`) and the consent page. A request waiting for the person is
//! named by a short-lived HttpOnly cookie; the home page of a completed session sends the
//! browser back to resume it.

use super::params_of;
use crate::AppState;
use crate::csrf::CsrfToken;
use crate::extract::{CookieSession, CurrentPlan, Meta};
use crate::pages::{Chrome, internal_error, message_page, render, require_stage};
use crate::routing::{Routes, get};
use askama::Template;
use axum::extract::{Form, RawQuery, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use gatehouse_domain::oauth::PENDING_LIFETIME;
use gatehouse_domain::session::SessionStage;
use gatehouse_services::oidc::authorize::{Authorize, AuthorizeError, ConsentAnswer, PendingToken};
use serde::Deserialize;

/// The cookie naming the authorization request waiting for this browser.
pub const PENDING_COOKIE: &str = "gh_oidc_request";

/// The authorization routes: the endpoint itself takes no CSRF token (applications send people
/// to it); the consent page's form does.
pub fn routes(state: AppState) -> Routes {
    let consent = Routes::new()
        .route("/oauth2/consent", get(consent_page).post(consent_submit))
        .layer(axum::middleware::from_fn_with_state(state, crate::csrf::protect));
    Routes::new()
        .route("/oauth2/authorize", get(authorize_get).post(authorize_post))
        .route("/oauth2/authorize/resume", get(resume))
        .merge(consent)
}

/// The cookie's path: the plan's own (`/p/{slug}`, or `/` at its host), so one plan's request
/// never reaches another's pages.
fn cookie_path(plan: &CurrentPlan) -> String {
    if plan.1.is_empty() { "/".to_owned() } else { plan.1.clone() }
}

fn cookie(st: &AppState, plan: &CurrentPlan, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .path(cookie_path(plan))
        .http_only(true)
        .secure(st.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(time::Duration::seconds(PENDING_LIFETIME.as_secs()))
        .build()
}

/// Names the waiting request, and tells the pages' Content Security Policy where its answer
/// will go (see [`crate::csp`]).
fn keep_pending(jar: CookieJar, st: &AppState, plan: &CurrentPlan, pending: PendingToken) -> CookieJar {
    let jar = jar.add(cookie(st, plan, PENDING_COOKIE, pending.token));
    match pending.return_origin {
        Some(origin) => jar.add(cookie(st, plan, crate::csp::RETURN_ORIGIN_COOKIE, origin)),
        None => jar,
    }
}

/// Removes the cookies of a waiting request.
pub(crate) fn forget_pending(jar: CookieJar, plan: &CurrentPlan) -> CookieJar {
    let gone =
        |name: &'static str| Cookie::build((name, "")).path(cookie_path(plan)).max_age(time::Duration::ZERO).build();
    jar.add(gone(PENDING_COOKIE)).add(gone(crate::csp::RETURN_ORIGIN_COOKIE))
}

/// Turns the service's answer into the browser's next hop.
fn respond(
    st: &AppState,
    plan: &CurrentPlan,
    parts: &Parts,
    jar: CookieJar,
    r: Result<Authorize, AuthorizeError>,
) -> Response {
    match r {
        // An absolute URL of the application, exactly as registered.
        Ok(Authorize::Redirect(url)) => (forget_pending(jar, plan), Redirect::to(&url)).into_response(),
        Ok(Authorize::SignIn { pending, login_hint, fresh }) => {
            let mut q = form_urlencoded::Serializer::new(String::new());
            if fresh {
                q.append_pair("reauth", "1");
            }
            if let Some(h) = login_hint {
                q.append_pair("login_hint", &h.chars().take(64).collect::<String>());
            }
            let q = q.finish();
            let to = if q.is_empty() { "/signin".to_owned() } else { format!("/signin?{q}") };
            (keep_pending(jar, st, plan, pending), Redirect::to(&to)).into_response()
        }
        Ok(Authorize::Associate { pending }) => {
            (keep_pending(jar, st, plan, pending), Redirect::to("/")).into_response()
        }
        Ok(Authorize::Consent { pending }) => {
            (keep_pending(jar, st, plan, pending), Redirect::to("/oauth2/consent")).into_response()
        }
        Err(AuthorizeError::Internal(e)) => internal_error(e),
        Err(e @ AuthorizeError::NoRedirect(_)) => cannot_go_on(st, parts, &e),
        Err(e @ AuthorizeError::NoPending) => (forget_pending(jar, plan), cannot_go_on(st, parts, &e)).into_response(),
    }
}

/// The page of a request that cannot be answered by redirect (no usable client or redirect URI,
/// or no pending request): what went wrong, and the way back to the portal.
fn cannot_go_on(st: &AppState, parts: &Parts, e: &AuthorizeError) -> Response {
    message_page(
        st,
        parts,
        StatusCode::BAD_REQUEST,
        "This sign-in cannot go on",
        &e.to_string(),
        "/",
        "Go to the portal",
    )
}

async fn authorize_get(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    sess: CookieSession,
    jar: CookieJar,
    parts: Parts,
    RawQuery(q): RawQuery,
) -> Response {
    let params = params_of(q.as_deref().unwrap_or_default());
    let r = st.svc.oidc_authorize(&plan.0, &params, sess.0.as_ref(), &meta).await;
    respond(&st, &plan, &parts, jar, r)
}

/// OIDC Core 3.1.2.1: the request may be posted as a form. It is sent on as the same request by
/// `GET`, a top-level navigation, so the browser's session cookie (`SameSite=Lax`) comes along.
async fn authorize_post(body: String) -> Response {
    if body.len() > 16 * 1024 {
        return (StatusCode::PAYLOAD_TOO_LARGE, "The request is too large.").into_response();
    }
    // Sent on re-encoded from its pairs: a body that is not a form is refused, never echoed into
    // the `Location` header.
    let query = serde_urlencoded::from_str::<Vec<(String, String)>>(&body)
        .ok()
        .and_then(|pairs| serde_urlencoded::to_string(pairs).ok());
    match query {
        Some(q) => Redirect::to(&format!("/oauth2/authorize?{q}")).into_response(),
        None => (StatusCode::BAD_REQUEST, "The request is not a form.").into_response(),
    }
}

async fn resume(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    sess: CookieSession,
    jar: CookieJar,
    parts: Parts,
) -> Response {
    let Some(pending) = jar.get(PENDING_COOKIE).map(|c| c.value().to_owned()) else {
        return respond(&st, &plan, &parts, jar, Err(AuthorizeError::NoPending));
    };
    let r = st.svc.oidc_resume(&plan.0, &pending, sess.0.as_ref(), &meta).await;
    respond(&st, &plan, &parts, jar, r)
}

#[derive(Template)]
#[template(path = "oidc_consent.html")]
struct ConsentPage {
    chrome: Chrome,
    client_name: String,
    scopes: Vec<&'static str>,
    /// Names the waiting request this page shows, posted back with the answer.
    request: String,
}

async fn consent_page(
    State(st): State<AppState>,
    plan: CurrentPlan,
    csrf: axum::Extension<CsrfToken>,
    Meta(meta): Meta,
    sess: CookieSession,
    jar: CookieJar,
    parts: Parts,
) -> Response {
    // Signed-in people only: anyone else is sent to sign in, like every signed-in page.
    if let Err(r) = require_stage(&sess.0, SessionStage::Complete) {
        return r.into_response();
    }
    let Some(pending) = jar.get(PENDING_COOKIE).map(|c| c.value().to_owned()) else {
        return respond(&st, &plan, &parts, jar, Err(AuthorizeError::NoPending));
    };
    match st.svc.oidc_consent_view(&plan.0, &pending, sess.0.as_ref(), &meta).await {
        Ok(Some(v)) => {
            let chrome = Chrome::new(&st, &plan, &csrf, true);
            render(
                StatusCode::OK,
                &ConsentPage { chrome, client_name: v.client_name, scopes: v.scopes, request: v.request },
            )
        }
        Ok(None) => Redirect::to("/signin").into_response(),
        Err(e) => respond(&st, &plan, &parts, jar, Err(e)),
    }
}

#[derive(Deserialize)]
struct ConsentForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    request: String,
}

async fn consent_submit(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    sess: CookieSession,
    jar: CookieJar,
    parts: Parts,
    Form(f): Form<ConsentForm>,
) -> Response {
    if let Err(r) = require_stage(&sess.0, SessionStage::Complete) {
        return r.into_response();
    }
    let Some(pending) = jar.get(PENDING_COOKIE).map(|c| c.value().to_owned()) else {
        return respond(&st, &plan, &parts, jar, Err(AuthorizeError::NoPending));
    };
    let allow = match f.decision.as_str() {
        "allow" => Some(true),
        "deny" => Some(false),
        _ => None,
    };
    let answer = ConsentAnswer { request: &f.request, allow };
    let r = st.svc.oidc_consent(&plan.0, &pending, sess.0.as_ref(), answer, &meta).await;
    respond(&st, &plan, &parts, jar, r)
}
