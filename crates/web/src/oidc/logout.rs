//! `GET /oauth2/logout` (the discovery document's `end_session_endpoint`).

use super::params_of;
use crate::AppState;
use crate::csrf::{self, CsrfToken};
use crate::extract::{CookieSession, CurrentPlan, Meta};
use crate::pages::auth::forget_session;
use crate::pages::{Chrome, ConfirmPage, internal_error, message_page, render};
use crate::routing::{Routes, get};
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use gatehouse_services::oidc::logout::{LoggedOut, LogoutError};

/// The logout route.
pub fn routes(state: AppState) -> Routes {
    // The CSRF layer gives the "Sign out?" page its form's token (a GET is never refused).
    Routes::new().route("/oauth2/logout", get(logout)).layer(axum::middleware::from_fn_with_state(state, csrf::protect))
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
    match st.svc.oidc_logout(&plan.0, &params, sess.0.as_ref(), &meta).await {
        Ok(LoggedOut::Redirect(url)) => (forget_session(jar, &plan), Redirect::to(&url)).into_response(),
        Ok(LoggedOut::Here) => (
            forget_session(jar, &plan),
            message_page(
                &st,
                &parts,
                StatusCode::OK,
                "Signed out",
                "You have signed out of the portal.",
                "/signin",
                "Sign in again",
            ),
        )
            .into_response(),
        Ok(LoggedOut::Ask) => {
            let csrf = parts.extensions.get::<CsrfToken>().cloned().unwrap_or(CsrfToken(String::new()));
            render(
                StatusCode::OK,
                &ConfirmPage {
                    chrome: Chrome::new(&st, &plan, &csrf, true),
                    heading: "Sign out of the portal?".into(),
                    question: "You have left the application, but you are still signed in to the provider portal \
                               in this browser. If other people use this computer, sign out now."
                        .into(),
                    action: "/signout".into(),
                    confirm_label: "Sign out".into(),
                    cancel_href: "/".into(),
                    cancel_label: "Stay signed in".into(),
                },
            )
        }
        Err(LogoutError::Internal(e)) => internal_error(e),
        Err(e) => {
            message_page(&st, &parts, StatusCode::BAD_REQUEST, "Sign-out", &e.to_string(), "/", "Go to the portal")
        }
    }
}
