//! `GET /.well-known/openid-configuration` (the provider's metadata) and `GET /oauth2/jwks` (its
//! public keys): public JSON, for any relying party.

use crate::AppState;
use crate::extract::CurrentPlan;
use crate::routing::{Routes, get};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_services::oidc::discovery::paths;

/// How long clients may cache the JWKS. Short: a new key is published a day before it signs, so
/// an hour-old copy always holds it, and a client that sees an unknown kid reads it again.
pub const JWKS_MAX_AGE_SECS: u32 = 300;
/// How long clients may cache the discovery document.
pub const DISCOVERY_MAX_AGE_SECS: u32 = 3600;

pub(super) fn routes() -> Routes {
    Routes::new().route(paths::DISCOVERY, get(openid_configuration)).route(paths::JWKS, get(jwks))
}

/// A public document: cacheable for `secs`, and readable by a browser application of any origin
/// (a single-page relying party fetches both documents itself).
fn public_document(secs: u32, mut resp: Response) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={secs}")) {
        resp.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    resp.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    resp
}

/// The plan's discovery document (issuer, endpoints, what is supported).
async fn openid_configuration(State(st): State<AppState>, plan: CurrentPlan) -> Response {
    public_document(DISCOVERY_MAX_AGE_SECS, Json(st.svc.oidc_discovery(&plan.0)).into_response())
}

/// The plan's JSON Web Key Set.
async fn jwks(State(st): State<AppState>, plan: CurrentPlan) -> Response {
    match st.svc.oidc_jwks(&plan.0).await {
        Ok(set) => {
            let mut resp = public_document(JWKS_MAX_AGE_SECS, Json(set).into_response());
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/jwk-set+json"));
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "reading the plan's signing keys failed");
            (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({"error": "server_error"}))).into_response()
        }
    }
}
