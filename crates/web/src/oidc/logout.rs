//! `GET /oauth2/logout` (the discovery document's `end_session_endpoint`).

use super::params_of;
use crate::AppState;
use crate::extract::{CookieSession, CurrentPlan, Meta};
use crate::pages::{internal_error, message_page};
use crate::routing::{Routes, get};
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_services::oidc::logout::{LoggedOut, LogoutError};

/// The logout route.
pub fn routes() -> Routes {
    Routes::new().route("/oauth2/logout", get(logout))
}

async fn logout(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    sess: CookieSession,
    parts: Parts,
    RawQuery(q): RawQuery,
) -> Response {
    let params = params_of(q.as_deref().unwrap_or_default());
    match st.svc.oidc_logout(&plan.0, &params, sess.0.as_ref(), &meta).await {
        Ok(LoggedOut::Redirect(url)) => Redirect::to(&url).into_response(),
        Ok(LoggedOut::Here) => message_page(
            &st,
            &parts,
            StatusCode::OK,
            "Signed out",
            "You have signed out of the portal.",
            "/signin",
            "Sign in again",
        ),
        Err(LogoutError::Internal(e)) => internal_error(e),
        Err(e) => {
            message_page(&st, &parts, StatusCode::BAD_REQUEST, "Sign-out", &e.to_string(), "/", "Go to the portal")
        }
    }
}
