//! The JSON API under `/api/v1`: the same capabilities as the pages, for other clients. Callers
//! present the session token as `Authorization: Bearer …`; the permission check API's callers
//! are applications, with HTTP Basic. Every error has one documented body:
//! `{"error": {"code", "message", "field"}}`.

mod associations;
mod auth;
mod authz;
pub mod body;
mod caller;
mod first_signin;
mod legacy;
mod offers;
mod practice;
mod profile;
mod registrations;
mod roster;
mod self_service;

use crate::AppState;
use crate::routing::Routes;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

/// The API routes. A path under the API that matches no route answers 404 `not_found`, and a
/// method a route does not serve 405 `method_not_allowed`, both in the error body.
pub fn routes(_state: AppState) -> Routes {
    auth::routes()
        .merge(associations::routes())
        .merge(registrations::routes())
        .merge(roster::routes())
        .merge(practice::routes())
        .merge(offers::routes())
        .merge(authz::routes())
        .merge(legacy::routes())
        .merge(first_signin::routes())
        .merge(self_service::routes())
        .merge(profile::routes())
        .route("/openapi.json", crate::routing::get(|| async { Json(ApiDoc::openapi()) }))
        .fallbacks(unknown_path, wrong_method)
}

async fn unknown_path() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "The API has no such path.")
}

async fn wrong_method() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "This path does not answer that method.")
}

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Gatehouse API", description = "Identity and access for provider portals."),
    paths(
        auth::check_invitation,
        auth::sign_up,
        auth::sign_in,
        auth::setup_phone,
        auth::resend_code,
        auth::verify_code,
        auth::get_terms,
        auth::sign_terms,
        auth::me,
        auth::list_sessions,
        auth::end_session,
        auth::sign_out,
        associations::check,
        associations::accept,
        associations::request_access,
        associations::affiliations,
        associations::switch,
        associations::access_requests,
        associations::approve,
        associations::decline,
        registrations::request_registration,
        roster::import,
        roster::report,
        practice::directory,
        practice::member,
        practice::edit_member,
        practice::add_affiliation,
        practice::change_affiliation,
        practice::remove_affiliation,
        practice::revoke,
        practice::deactivate,
        practice::reactivate,
        practice::reset_password,
        practice::hand_over,
        practice::invite,
        practice::pending,
        practice::resend,
        practice::cancel,
        offers::my_offers,
        offers::accept,
        offers::decline,
        offers::offers_made,
        offers::cancel,
        authz::check,
        authz::check_batch,
        authz::access,
        self_service::forgot_username,
        self_service::start_reset,
        self_service::reset_status,
        self_service::verify_code,
        self_service::complete,
        self_service::first_password,
        first_signin::resend,
        first_signin::redeem,
        legacy::import,
        legacy::report,
        profile::profile,
        profile::confirm_password,
        profile::send_code,
        profile::verify_code,
        profile::office,
        profile::phone,
        profile::confirm_phone,
        profile::email,
        profile::confirm_email
    ),
    components(schemas(ErrorBody, ErrorDetail))
)]
pub struct ApiDoc;

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
}

impl ApiError {
    /// A client error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), field: None }
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
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            (self.status, [(axum::http::header::RETRY_AFTER, "2")], body).into_response()
        } else {
            (self.status, body).into_response()
        }
    }
}
