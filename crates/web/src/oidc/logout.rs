//! `GET /oauth2/logout` (the discovery document's `end_session_endpoint`), and the person's answer
//! when it asks them (`POST /oauth2/logout/confirm`).

use super::params_of;
use crate::AppState;
use crate::csrf::{self, CsrfToken};
use crate::extract::{CookieSession, CurrentPlan, Meta};
use crate::pages::auth::forget_session;
use crate::pages::{Chrome, internal_error, message_page, render};
use crate::routing::{Routes, get, post};
use askama::Template;
use axum::extract::RawForm;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use gatehouse_services::SessionInfo;
use gatehouse_services::oidc::logout::{LoggedOut, LogoutError, LogoutRequest};

/// The logout routes. The CSRF layer gives the "Sign out?" page its form's token (a GET is never
/// refused) and checks the form when it comes back.
pub fn routes(state: AppState) -> Routes {
    Routes::new()
        .route("/oauth2/logout", get(logout))
        .route("/oauth2/logout/confirm", post(confirm))
        .layer(axum::middleware::from_fn_with_state(state, csrf::protect))
        .merge(Routes::new().route("/oauth2/logout", post(logout_posted)))
}

/// An application may post its logout request too (the specification asks for GET and POST).
/// It is sent on, unchanged, as the same request by GET: a top-level navigation, so that the
/// browser's session cookie (`SameSite=Lax`, never sent with another site's post) comes along.
/// Nothing is decided here, so no form token is asked for.
async fn logout_posted(RawForm(body): RawForm) -> Response {
    // The parameters of RP-Initiated Logout 1.0 (repeats kept: the GET refuses them).
    const NAMES: [&str; 6] =
        ["id_token_hint", "logout_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales"];
    let pairs = form_urlencoded::parse(&body).filter(|(k, _)| NAMES.contains(&k.as_ref()));
    let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    Redirect::to(&format!("/oauth2/logout?{query}")).into_response()
}

async fn logout(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    sess: CookieSession,
    parts: Parts,
    RawQuery(q): RawQuery,
    jar: CookieJar,
) -> Response {
    let params = params_of(q.as_deref().unwrap_or_default());
    let answer = st.svc.oidc_logout(&plan.0, &params, sess.0.as_ref(), &meta).await;
    respond(&st, &plan, &parts, sess.0.as_ref(), jar, answer)
}

async fn confirm(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    sess: CookieSession,
    parts: Parts,
    jar: CookieJar,
    RawForm(body): RawForm,
) -> Response {
    let params = params_of(&String::from_utf8_lossy(&body));
    let answer = st.svc.oidc_logout_confirmed(&plan.0, &params, sess.0.as_ref(), &meta).await;
    respond(&st, &plan, &parts, sess.0.as_ref(), jar, answer)
}

#[derive(Template)]
#[template(path = "oidc_logout.html")]
struct AskPage {
    chrome: Chrome,
    /// Why the application's request could not be followed, if it could not.
    problem: Option<String>,
    request: LogoutRequest,
    stay_href: String,
}

/// The "Sign out?" page, for a browser still signed in here.
fn ask(
    st: &AppState,
    plan: &CurrentPlan,
    parts: &Parts,
    s: &SessionInfo,
    problem: Option<String>,
    request: LogoutRequest,
) -> Response {
    let csrf = parts.extensions.get::<CsrfToken>().cloned().unwrap_or(CsrfToken(String::new()));
    let chrome = Chrome::new(st, plan, &csrf, s.stage == gatehouse_domain::session::SessionStage::Complete);
    let stay_href = request.back.clone().unwrap_or_else(|| format!("{}/", plan.1));
    let status = if problem.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    // The answer returns to the application: the browser must let the form's redirect end there.
    let origin = request.back.as_deref().and_then(gatehouse_domain::redirect_uri::csp_origin);
    let mut resp = render(status, &AskPage { chrome, problem, request, stay_href });
    if let Some(o) = origin {
        resp.extensions_mut().insert(crate::csp::FormReturnOrigin(o));
    }
    resp
}

/// Turns the service's answer into the page or the way back. The browser's cookies are forgotten
/// only when its session ended here. `session` is the cookie's, read for this plan.
fn respond(
    st: &AppState,
    plan: &CurrentPlan,
    parts: &Parts,
    session: Option<&SessionInfo>,
    jar: CookieJar,
    answer: Result<LoggedOut, LogoutError>,
) -> Response {
    match answer {
        Ok(LoggedOut::Done { ended, back }) => {
            let jar = if ended { forget_session(jar, plan) } else { jar };
            match back {
                Some(url) => (jar, Redirect::to(&url)).into_response(),
                None if ended || session.is_none() => (
                    jar,
                    message_page(
                        st,
                        parts,
                        StatusCode::OK,
                        "Signed out",
                        "You have signed out of the portal.",
                        "/signin",
                        "Sign in again",
                    ),
                )
                    .into_response(),
                // The session had ended by another way in the meantime.
                None => Redirect::to("/signin?signed_out=1").into_response(),
            }
        }
        Ok(LoggedOut::Ask(request)) => match session {
            Some(s) => ask(st, plan, parts, s, None, request),
            None => Redirect::to("/signin?signed_out=1").into_response(),
        },
        Err(LogoutError::Internal(e)) => internal_error(e),
        // Not sent back, and still signed in: the page says both, and offers to sign out here.
        Err(e) => match session {
            Some(s) => ask(st, plan, parts, s, Some(e.to_string()), LogoutRequest::default()),
            None => {
                message_page(st, parts, StatusCode::BAD_REQUEST, "Sign-out", &e.to_string(), "/", "Go to the portal")
            }
        },
    }
}
