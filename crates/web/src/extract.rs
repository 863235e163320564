//! Request context: the plan (by host name), the caller's address and browser, and the session.

use crate::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use gatehouse_services::plans::Plan;
use gatehouse_services::{RequestMeta, SessionInfo};
use std::net::SocketAddr;
use std::sync::Arc;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "gh_session";

/// The plan this request is for.
#[derive(Clone)]
pub struct CurrentPlan(pub Arc<Plan>);

/// Resolves the plan from the Host header (falling back to the first plan for local use) and
/// stores it in the request.
pub async fn resolve_plan(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned);
    match st.svc.resolve_plan(host.as_deref(), None).await {
        Ok(Some(plan)) => {
            req.extensions_mut().insert(CurrentPlan(Arc::new(plan)));
            next.run(req).await
        }
        Ok(None) => (
            StatusCode::NOT_FOUND,
            "No plan is configured on this server. Run `gatehouse demo` or `gatehouse plan create`.",
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "plan lookup failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side. Please try again.").into_response()
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentPlan {
    type Rejection = StatusCode;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<CurrentPlan>().cloned().ok_or(StatusCode::NOT_FOUND)
    }
}

/// Where the request came from, for the audit log.
pub struct Meta(pub RequestMeta);

impl FromRequestParts<AppState> for Meta {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()).unwrap_or_default();
        let ip = if st.trust_proxy {
            parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(|s| s.trim().chars().take(64).collect())
                .unwrap_or(peer)
        } else {
            peer
        };
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        Ok(Meta(RequestMeta { ip, user_agent }))
    }
}

/// The session presented by the browser's cookie, if it is live.
pub struct CookieSession(pub Option<SessionInfo>);

impl FromRequestParts<AppState> for CookieSession {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let plan = CurrentPlan::from_request_parts(parts, st).await.map_err(IntoResponse::into_response)?;
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
            return Ok(Self(None));
        };
        match st.svc.authenticate(&plan.0, &token).await {
            Ok(s) => Ok(Self(s)),
            Err(e) => Err(crate::pages::internal_error(e)),
        }
    }
}

/// The session presented as `Authorization: Bearer …` to the API, if it is live.
pub struct BearerSession(pub Option<SessionInfo>);

impl FromRequestParts<AppState> for BearerSession {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let plan = CurrentPlan::from_request_parts(parts, st).await.map_err(IntoResponse::into_response)?;
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let Some(token) = token else { return Ok(Self(None)) };
        match st.svc.authenticate(&plan.0, token).await {
            Ok(s) => Ok(Self(s)),
            Err(e) => Err(crate::api::ApiError::internal(e).into_response()),
        }
    }
}
