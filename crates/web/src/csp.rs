//! The Content Security Policy of every answer. Forms may post only to Gatehouse itself
//! (`form-action 'self'`), which browsers also apply to the redirects that follow a form. While an
//! application's sign-in request waits for the person (OpenID Connect), the last form they submit
//! (the two-step code, the terms, the consent page) ends in a redirect to the application's
//! registered redirect URI; so for that browser the policy also allows that URI's origin, read from
//! a cookie set with the waiting request. The cookie only widens the policy of the browser that
//! holds it, and only to an origin that parses as one. A page whose own form ends at an
//! application (the "Sign out?" page) names that origin on its answer ([`FormReturnOrigin`]).

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use gatehouse_domain::redirect_uri::csp_origin;

/// The cookie holding the origin a waiting OpenID Connect request will be answered at.
pub const RETURN_ORIGIN_COOKIE: &str = "gh_oidc_return";

/// Set by a handler on its answer: the one origin besides Gatehouse that the page's form may end
/// at (the "Sign out?" page, whose answer returns the person to the application that asked).
#[derive(Debug, Clone)]
pub struct FormReturnOrigin(pub String);

/// The policy, with forms allowed to end at `return_origin` too.
pub fn policy(return_origin: Option<&str>) -> String {
    let forms = match return_origin {
        Some(o) => format!("'self' {o}"),
        None => "'self'".to_owned(),
    };
    format!(
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; \
         form-action {forms}; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}

/// Sets the policy on every answer (replacing any a handler set).
pub async fn content_security_policy(req: Request, next: Next) -> Response {
    let origin = CookieJar::from_headers(req.headers())
        .get(RETURN_ORIGIN_COOKIE)
        .and_then(|c| csp_origin(c.value()))
        .filter(|o| o.len() <= 300);
    let mut resp = next.run(req).await;
    let origin = resp.extensions().get::<FormReturnOrigin>().map(|o| o.0.clone()).or(origin);
    if let Ok(v) = HeaderValue::from_str(&policy(origin.as_deref())) {
        resp.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_go_to_gatehouse_and_only_the_waiting_applications_origin() {
        assert!(policy(None).contains("form-action 'self';"));
        assert!(policy(Some("https://claims.example.org")).contains("form-action 'self' https://claims.example.org;"));
        assert!(policy(None).starts_with("default-src 'none';"));
    }
}
