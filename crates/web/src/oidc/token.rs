//! The token endpoint (`POST /oauth2/token`): the client's credentials and the grant are read
//! here (RFC 6749 2.3 and 4.1.3), one service command answers, and the answer is JSON that is
//! never cached; errors are RFC 6749 5.2's (`invalid_client` with 401 and `WWW-Authenticate`).

use super::{oauth_error, params_of};
use crate::AppState;
use crate::extract::{CurrentPlan, Meta};
use crate::pages::internal_error;
use crate::routing::{Routes, post};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::oauth::{ClientCredentials, Grant};
use gatehouse_services::oidc::token::TokenError;
use serde_json::json;

/// The token route.
pub fn routes() -> Routes {
    Routes::new().route("/oauth2/token", post(token))
}

async fn token(
    State(st): State<AppState>,
    plan: CurrentPlan,
    Meta(meta): Meta,
    headers: HeaderMap,
    body: String,
) -> Response {
    let params = params_of(&body);
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let creds = match ClientCredentials::read(authorization, &params) {
        Ok(c) => c,
        Err(e) => return oauth_error(&e),
    };
    let grant = match Grant::parse(&params) {
        Ok(g) => g,
        Err(e) => return oauth_error(&e),
    };
    match st.svc.oidc_token(&plan.0, &creds, &grant, &meta).await {
        Ok(t) => {
            let mut body = json!({
                "access_token": t.access_token,
                "token_type": "Bearer",
                "expires_in": t.expires_in,
                "scope": t.scope,
            });
            if let Some(r) = t.refresh_token {
                body["refresh_token"] = json!(r);
            }
            if let Some(i) = t.id_token {
                body["id_token"] = json!(i);
            }
            ([(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")], Json(body)).into_response()
        }
        Err(TokenError::OAuth(e)) => oauth_error(&e),
        Err(TokenError::Internal(e)) => internal_error(e),
    }
}
