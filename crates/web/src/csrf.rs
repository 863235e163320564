//! CSRF protection for the pages: a random token in a `SameSite=Strict` cookie must come back
//! in every posted form (double-submit), compared in constant time, and a browser's own word on
//! where the form came from (`Sec-Fetch-Site`, else `Origin`) must name this origin. The second
//! check holds where the first cannot: a page on a sibling subdomain can set a cookie for the
//! whole site, and the session cookie (`SameSite=Lax`) goes along with a same-site post. The API
//! takes bearer tokens only, never cookies, so it needs neither.

use crate::AppState;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
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
        if !from_own_origin(&parts.headers, parts.uri.authority().map(|a| a.as_str())) {
            return expired(&st, &parts);
        }
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
            return expired(&st, &parts);
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

/// The refusal of a form that did not come back from our own page.
fn expired(st: &AppState, parts: &axum::http::request::Parts) -> Response {
    crate::pages::message_page(
        st,
        parts,
        StatusCode::FORBIDDEN,
        "This form has expired",
        "For your security, this form can no longer be sent. Go back, reload the page and try again.",
        "/",
        "Go to the start page",
    )
}

/// Whether the browser says a posted form comes from this origin. Every current browser sends
/// `Sec-Fetch-Site` (`same-origin` for our own forms, `none` for a typed or bookmarked request);
/// an older one sends `Origin`, compared with `Host` (or HTTP/2's `authority`). `Origin: null`
/// says nothing (our own pages' `Referrer-Policy: no-referrer` makes an older browser send it
/// with every form), and a client that sends neither header is not a browser a page could make
/// post: both are left to the token.
fn from_own_origin(headers: &HeaderMap, authority: Option<&str>) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN).filter(|o| o.as_bytes() != b"null") else { return true };
    let Some((default_port, from)) = origin.to_str().ok().and_then(|o| {
        o.strip_prefix("https://").map(|a| (":443", a)).or_else(|| o.strip_prefix("http://").map(|a| (":80", a)))
    }) else {
        return false;
    };
    let to = headers.get(header::HOST).and_then(|h| h.to_str().ok()).or(authority);
    // A `Host` may name the scheme's default port, which an `Origin` never does.
    let to = to.map(|h| h.strip_suffix(default_port).unwrap_or(h));
    !from.contains('/') && to.is_some_and(|h| from.eq_ignore_ascii_case(h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_this_origin_may_post() {
        let own = [
            headers(&[("sec-fetch-site", "same-origin"), ("host", "portal.plan.example")]),
            headers(&[("sec-fetch-site", "none")]),
            headers(&[("origin", "https://portal.plan.example"), ("host", "portal.plan.example")]),
            headers(&[("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080")]),
            headers(&[("host", "portal.plan.example")]),
            headers(&[("origin", "null"), ("host", "portal.plan.example")]),
        ];
        for h in &own {
            assert!(from_own_origin(h, None), "{h:?}");
        }
        let other = [
            headers(&[("sec-fetch-site", "same-site"), ("origin", "https://portal.plan.example")]),
            headers(&[("sec-fetch-site", "cross-site")]),
            headers(&[("origin", "https://www.plan.example"), ("host", "portal.plan.example")]),
            headers(&[("origin", "https://portal.plan.example.evil.example"), ("host", "portal.plan.example")]),
            headers(&[("origin", "https://portal.plan.example/x"), ("host", "portal.plan.example")]),
            headers(&[("origin", "https://portal.plan.example")]),
        ];
        for h in &other {
            assert!(!from_own_origin(h, None), "{h:?}");
        }
        let port = headers(&[("origin", "https://portal.plan.example"), ("host", "portal.plan.example:443")]);
        assert!(from_own_origin(&port, None), "the default port");
        let h2 = headers(&[("origin", "https://portal.plan.example")]);
        assert!(from_own_origin(&h2, Some("portal.plan.example")), "HTTP/2 names the host in its authority");
    }
}
