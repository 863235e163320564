//! `POST /oauth2/introspect` (RFC 7662) and `POST /oauth2/revoke` (RFC 7009), by an
//! authenticated client.

use super::{oauth_error, params_of};
use crate::AppState;
use crate::extract::{CurrentPlan, Meta};
use crate::pages::internal_error;
use crate::routing::{Routes, post};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::oauth::{ClientCredentials, ErrorCode, OAuthError};
use gatehouse_services::oidc::token::TokenError;

/// The introspection and revocation routes.
pub fn routes() -> Routes {
    Routes::new().route("/oauth2/introspect", post(introspect)).route("/oauth2/revoke", post(revoke))
}

/// The client and the `token` of the form.
fn read(headers: &HeaderMap, body: &str) -> Result<(ClientCredentials, String), OAuthError> {
    let params = params_of(body);
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let creds = ClientCredentials::read(authorization, &params)?;
    let token = params.get("token")?.ok_or_else(|| OAuthError::new(ErrorCode::InvalidRequest, "token is required"))?;
    Ok((creds, token.to_owned()))
}

fn failed(e: TokenError) -> Response {
    match e {
        TokenError::OAuth(e) => oauth_error(&e),
        TokenError::Internal(e) => internal_error(e),
    }
}

async fn introspect(State(st): State<AppState>, plan: CurrentPlan, headers: HeaderMap, body: String) -> Response {
    let (creds, token) = match read(&headers, &body) {
        Ok(x) => x,
        Err(e) => return oauth_error(&e),
    };
    match st.svc.oidc_introspect(&plan.0, &creds, &token).await {
        Ok(v) => ([(header::CACHE_CONTROL, "no-store")], Json(v)).into_response(),
        Err(e) => failed(e),
    }
}

async fn revoke(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    headers: HeaderMap,
    body: String,
) -> Response {
    let (creds, token) = match read(&headers, &body) {
        Ok(x) => x,
        Err(e) => return oauth_error(&e),
    };
    match st.svc.oidc_revoke(&plan.0, &creds, &token, &meta).await {
        Ok(()) => (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response(),
        Err(e) => failed(e),
    }
}
