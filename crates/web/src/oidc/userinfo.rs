//! The UserInfo endpoint (`GET` and `POST /oauth2/userinfo`): the access token in the
//! `Authorization: Bearer` header, or (POST) the form's `access_token` (RFC 6750 2.1, 2.2).

use super::params_of;
use crate::AppState;
use crate::extract::CurrentPlan;
use crate::pages::internal_error;
use crate::routing::{Routes, get};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_services::oidc::userinfo::UserinfoError;

/// The userinfo routes.
pub fn routes() -> Routes {
    Routes::new().route("/oauth2/userinfo", get(userinfo_get).post(userinfo_post))
}

/// 401 with the RFC 6750 challenge (`error` when a token was presented and refused).
fn challenge(error: Option<(&str, &str)>) -> Response {
    let value = match error {
        Some((code, text)) => format!("Bearer error=\"{code}\", error_description=\"{text}\""),
        None => "Bearer".to_owned(),
    };
    (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, value), (header::CACHE_CONTROL, "no-store".to_owned())])
        .into_response()
}

/// The bearer token of the `Authorization` header, if any; `Err` says what is wrong with it.
fn bearer(headers: &HeaderMap) -> Result<Option<String>, &'static str> {
    match headers.get(header::AUTHORIZATION).map(|v| v.to_str()) {
        None => Ok(None),
        Some(Ok(v)) => match v.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
                Ok(Some(t.trim().to_owned()))
            }
            _ => Err("use the Bearer scheme"),
        },
        Some(Err(_)) => Err("the Authorization header is not text"),
    }
}

async fn answer(st: &AppState, plan: &CurrentPlan, token: Option<String>) -> Response {
    let Some(token) = token else { return challenge(None) };
    match st.svc.oidc_userinfo(&plan.0, &token).await {
        Ok(claims) => ([(header::CACHE_CONTROL, "no-store")], Json(claims)).into_response(),
        Err(UserinfoError::InvalidToken) => challenge(Some(("invalid_token", "the access token is not valid"))),
        Err(UserinfoError::Internal(e)) => internal_error(e),
    }
}

async fn userinfo_get(State(st): State<AppState>, plan: CurrentPlan, headers: HeaderMap) -> Response {
    match bearer(&headers) {
        Ok(t) => answer(&st, &plan, t).await,
        Err(why) => challenge(Some(("invalid_request", why))),
    }
}

async fn userinfo_post(State(st): State<AppState>, plan: CurrentPlan, headers: HeaderMap, body: String) -> Response {
    let header_token = match bearer(&headers) {
        Ok(t) => t,
        Err(why) => return challenge(Some(("invalid_request", why))),
    };
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let body_token = if form { params_of(&body).get("access_token").ok().flatten().map(str::to_owned) } else { None };
    match (header_token, body_token) {
        (Some(_), Some(_)) => challenge(Some(("invalid_request", "send the access token once"))),
        (t, None) | (None, t) => answer(&st, &plan, t).await,
    }
}
