//! CSRF protection for the pages: a random token in a `SameSite=Strict` cookie must come back
//! in every posted form (double-submit), compared in constant time. The API takes bearer tokens
//! only, never cookies, so it needs none.

use crate::AppState;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use subtle::ConstantTimeEq;

/// The cookie that carries the token.
pub const CSRF_COOKIE: &str = "gh_csrf";
/// The form field that must repeat it.
pub const CSRF_FIELD: &str = "csrf_token";
const MAX_FORM: usize = 256 * 1024;

/// The request's CSRF token, for templates.
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

/// Checks posted forms and makes sure every visitor has a token.
pub async fn protect(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let jar = CookieJar::from_headers(req.headers());
    let existing = jar.get(CSRF_COOKIE).map(|c| c.value().to_owned()).filter(|v| v.len() >= 32 && v.len() <= 64);
    let (mut parts, body) = req.into_parts();
    let multipart = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let body = if parts.method == Method::POST {
        // File uploads carry the token in the query string, so the (large) body is not buffered.
        let (sent, body) = if multipart {
            let sent = parts.uri.query().and_then(|q| {
                serde_urlencoded::from_str::<Vec<(String, String)>>(q)
                    .ok()?
                    .into_iter()
                    .find(|(k, _)| k == CSRF_FIELD)
                    .map(|(_, v)| v)
            });
            (sent, body)
        } else {
            let Ok(bytes) = to_bytes(body, MAX_FORM).await else {
                return (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.").into_response();
            };
            let sent = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
                .ok()
                .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v));
            (sent, Body::from(bytes))
        };
        let ok = matches!((&existing, &sent), (Some(a), Some(b)) if a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes())));
        if !ok {
            return crate::pages::message_page(
                &st,
                &parts,
                StatusCode::FORBIDDEN,
                "This form has expired",
                "For your security, this form can no longer be sent. Go back, reload the page and try again.",
                "/",
                "Go to the start page",
            );
        }
        body
    } else {
        body
    };
    let (token, fresh) = match existing {
        Some(t) => (t, false),
        None => (gatehouse_services::tokens::new_token(), true),
    };
    parts.extensions.insert(CsrfToken(token.clone()));
    let resp = next.run(Request::from_parts(parts, body)).await;
    if fresh {
        let cookie = Cookie::build((CSRF_COOKIE, token))
            .path("/")
            .http_only(true)
            .secure(st.secure_cookies)
            .same_site(SameSite::Strict)
            .build();
        (CookieJar::new().add(cookie), resp).into_response()
    } else {
        resp
    }
}
