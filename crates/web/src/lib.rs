//! Gatehouse's HTTP face: server-rendered pages that work without JavaScript, and the JSON API
//! under `/api/v1`. Both are thin adapters: they parse the request, call one service function,
//! and turn its result or error into a page or a JSON body.

pub mod admin;
pub mod api;
pub mod csp;
pub mod csrf;
pub mod extract;
pub mod oidc;
pub mod pages;
pub mod routing;

use axum::Router;
use axum::http::{HeaderValue, header};
use gatehouse_services::Services;
use routing::{RouteEntry, Routes};
use std::sync::Arc;
use tokio::sync::Notify;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub svc: Services,
    /// The channels `/dev/outbox` shows (those without a provider, when the development outbox
    /// is on); the page is not served when there are none.
    pub dev_outbox: gatehouse_services::delivery::Channels,
    /// Mark cookies `Secure` (off only for plain-HTTP localhost development).
    pub secure_cookies: bool,
    /// The reverse proxies whose `X-Forwarded-For` entries are believed: the client address is
    /// the right-most hop that is not one of them (none: the peer's address).
    pub trusted_proxies: gatehouse_domain::client_address::TrustedProxies,
    /// Wakes the outbox worker after a commit that queued messages.
    pub outbox_waker: Arc<Notify>,
}

/// The path of the health check, which answers before any plan is resolved.
const HEALTHZ: &str = "/healthz";

/// Every route a plan's requests reach: pages (with `/dev/outbox` when enabled), the control
/// panel, the OpenID Connect provider, and the API under `/api/v1`. [`router`] serves exactly
/// these.
fn plan_routes(state: &AppState) -> Routes {
    Routes::new()
        .merge(pages::routes(state.clone()))
        .merge(admin::routes(state.clone()))
        .merge(oidc::routes(state.clone()))
        .nest("/api/v1", api::routes(state.clone()))
}

/// Every `(method, path)` the application serves, `/healthz` included, read from the same
/// construction as [`router`] (so the two cannot differ). The permission matrix test walks it.
pub fn route_table(state: &AppState) -> Vec<RouteEntry> {
    let (_, mut table) = plan_routes(state).into_parts();
    table.push(RouteEntry { method: axum::http::Method::GET, path: HEALTHZ.to_owned() });
    table
}

/// The whole application: pages, API, and the layers every response passes through.
pub fn router(state: AppState) -> Router {
    let (inner, _) = plan_routes(&state).into_parts();
    let inner = inner.with_state(state.clone());
    // The plan is resolved (and a `/p/{slug}` prefix stripped) before the inner router routes.
    let planned = Router::new()
        .fallback_service(inner)
        .layer(axum::middleware::from_fn_with_state(state.clone(), extract::resolve_plan))
        .with_state(state.clone());
    let secure = state.secure_cookies;
    // The health check answers before any plan or database is consulted.
    Router::new()
        .route(HEALTHZ, axum::routing::get(|| async { "ok" }))
        .fallback_service(planned)
        .layer(axum::middleware::from_fn(wake_outbox_layer(state.outbox_waker.clone())))
        .layer(axum::middleware::map_response(move |mut resp: axum::response::Response| async move {
            security_headers(resp.headers_mut(), secure);
            resp
        }))
        // Outside the fixed headers: the policy may allow a waiting application's origin.
        .layer(axum::middleware::from_fn(csp::content_security_policy))
        // The largest body of all: a roster file, or a secure message with its files in base64.
        .layer(tower_http::limit::RequestBodyLimitLayer::new(admin::MAX_UPLOAD.max(api::MAX_MESSAGE_BODY)))
        .layer(axum::middleware::from_fn(api_body_limit))
        // Spans name the path only: query strings can hold sign-up tokens, which are never logged.
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<_>| {
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
                })
                // 503s under overload are deliberate; handlers log real failures themselves.
                .on_failure(tower_http::trace::DefaultOnFailure::new().level(tracing::Level::DEBUG)),
        )
        // Outermost: a sign-in the hashing pool cannot take is refused before anything else.
        .layer(axum::middleware::from_fn_with_state(state, refuse_signin_when_full))
}

/// The headers every answer carries; `https` (the server is reached over HTTPS, so its cookies
/// are `Secure`) adds HSTS, so that a browser never again asks for the plan's host over plain
/// HTTP, where a network attacker could answer.
fn security_headers(h: &mut axum::http::HeaderMap, https: bool) {
    if https {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Ok(v) = HeaderValue::from_str(&csp::policy(None)) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
}

/// Which sign-in form a request posts to, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignInPost {
    /// `POST /api/v1/signin`.
    Api,
    /// The sign-in page's form, `POST /signin`.
    Page,
}

/// The sign-in a path is, at the plan's own host or under a plan's prefix (`/p/{slug}/…`).
fn signin_post(path: &str) -> Option<SignInPost> {
    let rest = match path.strip_prefix("/p/") {
        Some(r) => r.split_once('/').map_or("", |(_, r)| r),
        None => path.strip_prefix('/').unwrap_or(path),
    };
    match rest {
        "api/v1/signin" => Some(SignInPost::Api),
        "signin" => Some(SignInPost::Page),
        _ => None,
    }
}

/// While every place in the password hashing pool is taken, a sign-in is answered 503 with
/// `Retry-After` before its body is read, its plan resolved or the database touched: a client
/// that ignores `Retry-After` and retries at once must not take the CPU the hashing threads need.
/// (A sign-in let through here still reserves its place in the pool, which decides.)
///
/// The refusal is held for [`REFUSAL_PAUSE`] before it is sent, without using a CPU meanwhile,
/// so that a client retrying in a closed loop is slowed to a few refusals a second per
/// connection instead of thousands: otherwise answering them takes the CPU that hashing needs,
/// or (with the runtime below the hashing threads) delays the admitted sign-ins' answers.
async fn refuse_signin_when_full(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if req.method() == axum::http::Method::POST && st.svc.hasher.is_full() {
        let refused = match signin_post(req.uri().path()) {
            Some(SignInPost::Api) => Some(api::ApiError::busy().into_response()),
            Some(SignInPost::Page) => Some(pages::busy()),
            None => None,
        };
        if let Some(mut resp) = refused {
            security_headers(resp.headers_mut(), st.secure_cookies);
            tokio::time::sleep(REFUSAL_PAUSE).await;
            return resp;
        }
    }
    next.run(req).await
}

/// How long a sign-in refused because the hashing pool is full waits before its 503 is sent.
pub const REFUSAL_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

type Next = axum::middleware::Next;

/// The server-wide body limit answers 413 in plain text before any route is reached; under the
/// API the answer is the error body, as for every other refusal.
async fn api_body_limit(req: axum::extract::Request, next: Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    let api = is_api_path(req.uri().path());
    let resp = next.run(req).await;
    let json = resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if api && resp.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE && !json {
        return api::body::body_too_large().into_response();
    }
    resp
}

/// Whether `path` is under the API, at the plan's own host (`/api/v1/…`) or under a plan's
/// prefix (`/p/{slug}/api/v1/…`).
fn is_api_path(path: &str) -> bool {
    let rest = match path.strip_prefix("/p/") {
        Some(r) => r.split_once('/').map_or("", |(_, r)| r),
        None => path.trim_start_matches('/'),
    };
    rest == "api/v1" || rest.starts_with("api/v1/")
}

/// After every state-changing request, nudge the outbox worker so messages go out at once.
fn wake_outbox_layer(
    waker: Arc<Notify>,
) -> impl Fn(
    axum::extract::Request,
    Next,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = axum::response::Response> + Send>>
+ Clone {
    move |req, next| {
        let waker = waker.clone();
        Box::pin(async move {
            let mutating = req.method() != axum::http::Method::GET && req.method() != axum::http::Method::HEAD;
            let resp = next.run(req).await;
            // Only a successful change can have queued a message.
            if mutating && (resp.status().is_success() || resp.status().is_redirection()) {
                waker.notify_one();
            }
            resp
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{SignInPost, is_api_path, security_headers, signin_post};

    /// Every request acts as a signed-in person, an application or nobody; the operator's grant
    /// (whoever runs the binary is the plan's administrator) is for the command line alone.
    #[test]
    fn no_request_acts_as_the_operator() {
        fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).expect("source directory").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && std::fs::read_to_string(&path).expect("source").contains(concat!("operator", "_grant"))
                {
                    found.push(path.display().to_string());
                }
            }
        }
        let mut found = Vec::new();
        walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut found);
        assert!(found.is_empty(), "the web layer uses the operator's grant: {found:?}");
    }

    #[test]
    fn hsts_only_over_https() {
        let mut h = axum::http::HeaderMap::new();
        security_headers(&mut h, false);
        assert!(h.get("strict-transport-security").is_none() && h.get("x-frame-options").is_some());
        security_headers(&mut h, true);
        assert_eq!(h["strict-transport-security"], "max-age=31536000");
    }

    #[test]
    fn api_paths_with_and_without_a_plan_prefix() {
        assert!(is_api_path("/api/v1/signin"));
        assert!(is_api_path("/p/acme/api/v1/signin"));
        assert!(is_api_path("/api/v1"));
        assert!(!is_api_path("/signin"));
        assert_eq!(signin_post("/api/v1/signin"), Some(SignInPost::Api));
        assert_eq!(signin_post("/p/acme/api/v1/signin"), Some(SignInPost::Api));
        assert_eq!(signin_post("/signin"), Some(SignInPost::Page));
        assert_eq!(signin_post("/p/acme/signin"), Some(SignInPost::Page));
        assert_eq!(signin_post("/api/v1/signup"), None);
        assert_eq!(signin_post("/p/acme"), None);
        assert_eq!(signin_post("/p/signin"), None);
        assert_eq!(signin_post("/signin/extra"), None);
        assert!(!is_api_path("/p/acme/signin"));
        assert!(!is_api_path("/api/v10/x"));
        assert!(!is_api_path("/p/api/v1"));
    }
}
