//! The JSON API under `/api/v1`: the same capabilities as the pages, for other clients. Callers
//! present the session token as `Authorization: Bearer …`; the permission check API's callers
//! are applications, with HTTP Basic. Every error has one documented body:
//! `{"error": {"code", "message", "field"}}`.

mod associations;
mod auth;
mod authenticator;
mod authz;
pub mod body;
mod caller;
mod first_signin;
mod legacy;
mod messages;
mod offers;
pub mod openapi;
mod passkeys;
mod practice;
mod profile;
mod registrations;
mod reviews;
mod roster;
pub mod schema;
mod self_service;
mod strong_factor;

pub use messages::MAX_MESSAGE_BODY;

use crate::AppState;
use crate::routing::Routes;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

/// The API routes, each with its entry in the OpenAPI document: a handler is routed by the
/// method and path of its `#[utoipa::path]`, so no route exists without its entry. A path under
/// the API that matches no route answers 404 `not_found`, and a method a route does not serve 405
/// `method_not_allowed`, both in the error body.
pub fn routes(_state: AppState) -> Routes {
    let (router, doc) = api_router().split_for_parts();
    let served = std::sync::Arc::new(openapi::finish(&doc));
    Routes::from_openapi(router, &doc)
        .route(
            "/openapi.json",
            crate::routing::get(move || {
                let served = served.clone();
                async move { Json(served.as_ref().clone()) }
            }),
        )
        .fallbacks(unknown_path, wrong_method)
}

/// Every API operation, with paths relative to `/api/v1`.
fn api_router() -> OpenApiRouter<AppState> {
    sections().into_iter().fold(OpenApiRouter::with_openapi(ApiDoc::openapi()), |api, (module, router)| {
        api.merge(section(module, router))
    })
}

/// Each module's operations, by module name.
fn sections() -> Vec<(&'static str, OpenApiRouter<AppState>)> {
    vec![
        ("auth", auth::routes()),
        ("associations", associations::routes()),
        ("registrations", registrations::routes()),
        ("roster", roster::routes()),
        ("practice", practice::routes()),
        ("offers", offers::routes()),
        ("authz", authz::routes()),
        ("legacy", legacy::routes()),
        ("first_signin", first_signin::routes()),
        ("self_service", self_service::routes()),
        ("profile", profile::routes()),
        ("authenticator", authenticator::routes()),
        ("auth", passkeys::auth_routes()),
        ("auth", strong_factor::routes()),
        ("profile", passkeys::profile_routes()),
        ("messages", messages::routes()),
        ("reviews", reviews::routes()),
    ]
}

/// Tags every operation of `router` with its module's name ([`openapi`] maps it to the product
/// section).
fn section(module: &str, mut router: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    for item in router.get_openapi_mut().paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for op in operations.into_iter().flatten() {
            op.tags = Some(vec![module.to_owned()]);
        }
    }
    router
}

/// The OpenAPI document as served (see [`openapi`]).
pub fn document() -> serde_json::Value {
    let (_, doc) = api_router().split_for_parts();
    openapi::finish(&doc)
}

async fn unknown_path() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "The API has no such path.")
}

async fn wrong_method() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "This path does not answer that method.")
}

/// What the OpenAPI document says beside its operations.
#[derive(OpenApi)]
#[openapi(
    info(title = "Gatehouse API", description = "Identity and access for provider portals."),
    components(schemas(ErrorBody, ErrorDetail))
)]
struct ApiDoc;

/// The error body of every failed API call.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code, e.g. `invalid_credentials`.
    pub code: String,
    /// A sentence for a person.
    pub message: String,
    /// The request field at fault, if one is.
    pub field: Option<String>,
}

/// An API error: a status and the body.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The field at fault: a name, or a JSON path into the body (`rows[0].email`).
    pub field: Option<String>,
    /// Seconds for `Retry-After`, when the client should wait (a 503 says 2 unless told).
    pub retry_after: Option<i64>,
}

impl ApiError {
    /// A client error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), field: None, retry_after: None }
    }
    /// Tells the client how many seconds to wait before trying again (`Retry-After`).
    pub fn retry_after(mut self, seconds: i64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }
    /// Names the field at fault.
    pub fn field(mut self, field: Option<impl Into<String>>) -> Self {
        self.field = field.map(Into::into);
        self
    }
    /// A failure of ours, logged with its cause and reported without it.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "API request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Something went wrong on our side. Please try again.")
    }
    /// Password hashing is at capacity.
    pub fn busy() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "The server is busy. Retry after the time in Retry-After.")
    }
    /// No live session.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Sign in first: send a live session token as a bearer token.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            Json(ErrorBody { error: ErrorDetail { code: self.code.into(), message: self.message, field: self.field } });
        let wait = self.retry_after.or((self.status == StatusCode::SERVICE_UNAVAILABLE).then_some(2));
        match wait {
            Some(seconds) => {
                (self.status, [(axum::http::header::RETRY_AFTER, seconds.to_string())], body).into_response()
            }
            None => (self.status, body).into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Schemas are named by their Rust type's name, and a second type of the same name in
    /// another module silently replaces the first in the document: every name must mean one
    /// schema.
    #[test]
    fn schema_names_mean_one_schema() {
        let mut seen: std::collections::BTreeMap<String, (&str, serde_json::Value)> = Default::default();
        let mut clashes = Vec::new();
        for (module, router) in sections() {
            let doc = router.into_openapi();
            for (name, schema) in doc.components.map(|c| c.schemas).unwrap_or_default() {
                let schema = serde_json::to_value(schema).unwrap_or_default();
                match seen.get(&name) {
                    Some((other, earlier)) if *earlier != schema => {
                        clashes.push(format!("{name}: {other} and {module}"))
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(name, (module, schema));
                    }
                }
            }
        }
        assert!(clashes.is_empty(), "one name, two schemas: {clashes:#?}");
    }
}
