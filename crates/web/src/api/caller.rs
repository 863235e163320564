//! Who is calling, decided from the request's head before any body is read: a caller without
//! the right session is answered 401 whatever the body holds, and learns nothing about what it
//! should hold.

use super::ApiError;
use crate::AppState;
use crate::extract::BearerSession;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use gatehouse_domain::session::SessionStage;
use gatehouse_services::SessionInfo;

/// A live session at any step of signing in (the two-step and terms steps, sign-out); 401
/// without one.
pub struct AnySession(pub SessionInfo);

impl FromRequestParts<AppState> for AnySession {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Response> {
        let BearerSession(s) = BearerSession::from_request_parts(parts, st).await?;
        s.map(Self).ok_or_else(|| ApiError::unauthenticated().into_response())
    }
}

impl AnySession {
    /// The session, if it is at `stage`; 409 `wrong_stage` (naming the step it is at) if not.
    pub fn at(self, stage: SessionStage) -> Result<SessionInfo, ApiError> {
        if self.0.stage == stage {
            return Ok(self.0);
        }
        Err(ApiError::new(
            StatusCode::CONFLICT,
            "wrong_stage",
            format!("This session is at the {} step.", super::auth::stage_name(self.0.stage)),
        ))
    }
}

/// A fully signed-in session; 401 without one. A session still signing in is not signed in:
/// it too is answered 401, as the pages send it back to sign in.
pub struct SignedIn(pub SessionInfo);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Response> {
        let BearerSession(s) = BearerSession::from_request_parts(parts, st).await?;
        s.filter(|s| s.stage == SessionStage::Complete)
            .map(Self)
            .ok_or_else(|| ApiError::unauthenticated().into_response())
    }
}
