//! Who is calling, decided from the request's head before any body is read: a caller without
//! the right session is answered 401 whatever the body holds, and learns nothing about what it
//! should hold.

use super::ApiError;
use crate::AppState;
use crate::extract::{BearerSession, CurrentPlan, Meta};
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use gatehouse_domain::session::SessionStage;
use gatehouse_domain::staff::StaffPermission;
use gatehouse_services::staff::StaffGrant;
use gatehouse_services::{RequestMeta, SessionInfo};

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

/// A plan staff caller: the grant of the bearer session's staff account (401 without a session,
/// 403 `forbidden` for anyone who is not the plan's staff), read before any body.
pub struct StaffCaller {
    pub grant: StaffGrant,
    pub plan: CurrentPlan,
    pub meta: RequestMeta,
}

impl FromRequestParts<AppState> for StaffCaller {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Response> {
        let plan = CurrentPlan::from_request_parts(parts, st).await.map_err(IntoResponse::into_response)?;
        let sess = BearerSession::from_request_parts(parts, st).await?;
        let Ok(Meta(meta)) = Meta::from_request_parts(parts, st).await;
        let grant = super::roster::grant(st, &plan, sess, &meta).await.map_err(IntoResponse::into_response)?;
        Ok(Self { grant, plan, meta })
    }
}

/// A plan staff caller allowed to import files (the roster, legacy accounts): decided from the
/// head, so that nobody else makes the server read a body of up to 64 MB only to refuse it.
pub struct Importer(pub StaffCaller);

impl FromRequestParts<AppState> for Importer {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Response> {
        let c = StaffCaller::from_request_parts(parts, st).await?;
        if let Err(d) = c.grant.require(c.plan.0.id(), StaffPermission::RosterImport) {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", d.to_string()).into_response());
        }
        Ok(Self(c))
    }
}
