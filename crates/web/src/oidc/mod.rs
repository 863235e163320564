//! The plan's OpenID Connect provider endpoints (issue 18), served per plan like every plan route
//! (at the plan's host and under `/p/{slug}`), without the pages' CSRF check: they are read by
//! relying parties' libraries (only the consent page's form carries a token). The discovery
//! document and the JWKS, the authorization endpoint and its consent page, the token,
//! userinfo, introspection, revocation and logout endpoints.

mod authorize;
mod discovery;
mod logout;
mod revocation;
mod token;
mod userinfo;

pub use authorize::PENDING_COOKIE;
pub(crate) use authorize::forget_pending;

use crate::AppState;
use crate::routing::Routes;
use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::oauth::{ErrorCode, OAuthError, Params};
use serde_json::json;

/// The OpenID Connect routes.
pub fn routes(state: AppState) -> Routes {
    Routes::new()
        .merge(discovery::routes())
        .merge(authorize::routes(state.clone()))
        .merge(token::routes())
        .merge(userinfo::routes())
        .merge(revocation::routes())
        .merge(logout::routes(state))
}

/// The parameters of a query string or form body.
pub(crate) fn params_of(text: &str) -> Params {
    Params::from_pairs(form_urlencoded::parse(text.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())))
}

/// An OAuth error as JSON (RFC 6749 5.2): 400, or 401 with a Basic challenge for `invalid_client`.
pub(crate) fn oauth_error(e: &OAuthError) -> Response {
    let body = Json(json!({"error": e.code.as_str(), "error_description": e.description}));
    if e.code == ErrorCode::InvalidClient {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"oauth2\""), (header::CACHE_CONTROL, "no-store")],
            body,
        )
            .into_response()
    } else {
        (StatusCode::BAD_REQUEST, [(header::CACHE_CONTROL, "no-store")], body).into_response()
    }
}
