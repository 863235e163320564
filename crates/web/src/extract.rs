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

/// The name of the cookie holding the browser's tokens of the usernames whose password it has
/// passed ([`gatehouse_domain::known_device`]).
pub const DEVICE_COOKIE: &str = "gh_device";

/// The plan this request is for, and its path prefix (`/p/{slug}`, or "" at its own host).
#[derive(Clone)]
pub struct CurrentPlan(pub Arc<Plan>, pub String);

/// Resolves the plan (by Host, else a `/p/{slug}` prefix, which is stripped) and stores it in
/// the request. Under a prefix, pages prefix their links with it and redirects are rewritten to
/// keep it.
pub async fn resolve_plan(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned);
    let path = req.uri().path().to_owned();
    let prefix_slug = path
        .strip_prefix("/p/")
        .map(|rest| rest.split('/').next().unwrap_or(""))
        .filter(|s| !s.is_empty() && s.len() <= 64)
        .map(str::to_owned);
    match st.svc.route_plan(host.as_deref(), prefix_slug.as_deref()).await {
        Ok(Some((plan, prefixed))) => {
            let base = if prefixed { format!("/p/{}", plan.row.slug) } else { String::new() };
            if prefixed {
                let rest = &path[base.len()..];
                let rest = if rest.is_empty() { "/" } else { rest };
                let pq = match req.uri().query() {
                    Some(q) => format!("{rest}?{q}"),
                    None => rest.to_owned(),
                };
                let mut parts = req.uri().clone().into_parts();
                match pq.parse() {
                    Ok(p) => parts.path_and_query = Some(p),
                    Err(_) => return StatusCode::BAD_REQUEST.into_response(),
                }
                match axum::http::Uri::from_parts(parts) {
                    Ok(u) => *req.uri_mut() = u,
                    Err(_) => return StatusCode::BAD_REQUEST.into_response(),
                }
            }
            req.extensions_mut().insert(CurrentPlan(Arc::new(plan), base.clone()));
            let mut resp = next.run(req).await;
            if !base.is_empty()
                && let Some(loc) = resp.headers().get(header::LOCATION).and_then(|v| v.to_str().ok())
                && loc.starts_with('/')
                && let Ok(v) = axum::http::HeaderValue::from_str(&format!("{base}{loc}"))
            {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        Ok(None) => (StatusCode::NOT_FOUND, "No provider portal is served at this address.").into_response(),
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

/// Where the request came from, for the audit log and the per-address throttles: the peer, or,
/// behind trusted proxies, the right-most `X-Forwarded-For` hop that is not one of them
/// (entries further left are written by the client and never believed).
pub struct Meta(pub RequestMeta);

impl FromRequestParts<AppState> for Meta {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let ip = match parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            Some(c) => {
                // A header value that is not text cannot be read: the walk stops at it.
                let forwarded = parts.headers.get_all("x-forwarded-for").iter().map(|v| v.to_str().unwrap_or(""));
                st.trusted_proxies.client_address(c.0.ip(), forwarded).to_string()
            }
            None => String::new(),
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

/// The sign-in stages a page may ask for by type ([`AtStage`]).
pub mod stage {
    use gatehouse_domain::session::SessionStage;

    /// A sign-in stage named by a type.
    pub trait Stage: Send + Sync + 'static {
        /// The stage.
        const STAGE: SessionStage;
    }

    macro_rules! stages {
        ($($name:ident),*) => {$(
            #[doc = concat!("The session stage `", stringify!($name), "`.")]
            pub struct $name;
            impl Stage for $name {
                const STAGE: SessionStage = SessionStage::$name;
            }
        )*};
    }
    stages!(EmailProof, NewPassword, TwoStepSetup, TwoStepCode, StrongFactorSetup, Terms, Complete);
}

/// The browser's session, at the stage `S`. Any other visitor is sent where they belong before
/// the handler runs or the body is read: to sign in without a session, else to the page of their
/// session's own stage (`pages::require_stage`, the one rule).
pub struct AtStage<S>(pub SessionInfo, pub std::marker::PhantomData<S>);

/// The browser's session, fully signed in (past two-step and the terms): what every page of a
/// signed-in person asks for.
pub type SignedIn = AtStage<stage::Complete>;

impl<S: stage::Stage> FromRequestParts<AppState> for AtStage<S> {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let CookieSession(s) = CookieSession::from_request_parts(parts, st).await?;
        match crate::pages::require_stage(&s, S::STAGE) {
            Ok(s) => Ok(Self(s, std::marker::PhantomData)),
            Err(to) => Err(to.into_response()),
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
