//! The checks of the OpenID Foundation's basic certification plan (`oidcc-basic-certification-
//! test-plan`) that apply to a code-flow provider, one test each, named by the plan's module so
//! anyone can compare; over HTTP against the real server, on both databases. The full flow with
//! outside libraries is `oidc_conformance`; the attacks are in `oidc_flow`. Modules of the plan
//! checked elsewhere: `oidcc-server` (`oidc_conformance`, both libraries), `oidcc-prompt-none-
//! not-logged-in`, `oidcc-prompt-login`, `oidcc-max-age-1` (`oidc_flow::prompt_none_login_and_
//! consent`), `oidcc-ensure-registered-redirect-uri` (`oidc_flow::redirect_uris_that_differ_are_
//! refused_without_redirecting`), `oidcc-refresh-token` (`oidc_flow::code_token_userinfo_refresh_
//! and_reuse`).

use crate::both;
use crate::oidc_flow::{CALLBACK, Rp, VERIFIER, code_for, query_of, redeem, token, userinfo, with_ana};
use crate::support::{Backend, TestApp};
use gatehouse_domain::Duration;
use reqwest::StatusCode;
use serde_json::Value;

/// An authorization request of `rp` with these parameters (and PKCE), as a path.
fn request(rp: &Rp, pairs: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code");
    q.append_pair("client_id", &rp.client_id);
    q.append_pair("redirect_uri", CALLBACK);
    q.append_pair("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    q.append_pair("code_challenge_method", "S256");
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    format!("/oauth2/authorize?{}", q.finish())
}

/// A plan with Ana (affiliated) and a first-party confidential client, Ana signed in through it
/// once: the browser, the client and the first tokens.
async fn signed_in(backend: Backend) -> Option<(TestApp, reqwest::Client, Rp, Value)> {
    let (app, _, rp) = with_ana(backend, false, true).await?;
    let (browser, code) = code_for(&app, &rp, "ana", 1).await;
    let (s, tokens) = redeem(&app, &rp, &code).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    Some((app, browser, rp, tokens))
}

/// The claims of an ID token, verified against the plan's keys.
async fn id_claims(app: &TestApp, tokens: &Value) -> Value {
    let id_token = tokens["id_token"].as_str().expect("id_token");
    app.running.services.oidc_verify(&app.plan, id_token).await.expect("a valid ID token")
}

/// The code a signed-in browser gets at once for `path`, or the redirect's error.
async fn answer(app: &TestApp, browser: &reqwest::Client, path: &str) -> std::collections::HashMap<String, String> {
    let (_, body, location) = app.visit(browser, path).await;
    query_of(&location.unwrap_or_else(|| panic!("no redirect for {path}: {body}")))
}

async fn oidcc_discovery_endpoint_verification(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let (s, meta) = app.call("GET", "/.well-known/openid-configuration", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let issuer = app.running.services.plan_url(&app.plan);
    assert_eq!(meta["issuer"], issuer.as_str());
    for endpoint in
        ["authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "end_session_endpoint"]
    {
        let url = meta[endpoint].as_str().unwrap_or_else(|| panic!("{endpoint} missing: {meta}"));
        assert!(url.starts_with(&issuer), "{endpoint} under the issuer: {url}");
    }
    let has = |field: &str, value: &str| meta[field].as_array().is_some_and(|a| a.iter().any(|v| v == value));
    assert!(has("response_types_supported", "code") && has("subject_types_supported", "public"), "{meta}");
    // RS256 is what the certification requires every provider to offer; ES256 is the default.
    assert!(has("id_token_signing_alg_values_supported", "RS256"), "{meta}");
    assert!(has("id_token_signing_alg_values_supported", "ES256"), "{meta}");
    assert!(has("scopes_supported", "openid") && has("grant_types_supported", "authorization_code"), "{meta}");
    assert!(has("token_endpoint_auth_methods_supported", "client_secret_basic"), "{meta}");
    assert!(has("token_endpoint_auth_methods_supported", "client_secret_post"), "{meta}");
    assert_eq!(meta["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    let (s, jwks) = app.call("GET", "/oauth2/jwks", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(jwks["keys"].as_array().is_some_and(|k| !k.is_empty() && k.iter().all(|k| k.get("d").is_none())), "{jwks}");
    app.stop().await;
}
both!(oidcc_discovery_endpoint_verification);

async fn oidcc_prompt_none_logged_in(backend: Backend) {
    let Some((app, browser, rp, _)) = signed_in(backend).await else { return };
    let q = answer(&app, &browser, &request(&rp, &[("scope", "openid"), ("prompt", "none"), ("state", "s2")])).await;
    assert!(q.contains_key("code") && q["state"] == "s2", "{q:?}");
    app.stop().await;
}
both!(oidcc_prompt_none_logged_in);

async fn oidcc_id_token_hint(backend: Backend) {
    let Some((app, browser, rp, tokens)) = signed_in(backend).await else { return };
    let hint = tokens["id_token"].as_str().expect("id_token");
    let path = request(&rp, &[("scope", "openid"), ("prompt", "none"), ("id_token_hint", hint)]);
    let q = answer(&app, &browser, &path).await;
    assert!(q.contains_key("code"), "{q:?}");
    let (s, t) = redeem(&app, &rp, &q["code"]).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(id_claims(&app, &t).await["sub"], id_claims(&app, &tokens).await["sub"]);
    app.stop().await;
}
both!(oidcc_id_token_hint);

async fn oidcc_ensure_request_with_unknown_parameter_succeeds(backend: Backend) {
    let Some((app, browser, rp, _)) = signed_in(backend).await else { return };
    let q = answer(&app, &browser, &request(&rp, &[("scope", "openid"), ("extra", "foobar"), ("x-y", "1")])).await;
    assert!(q.contains_key("code"), "{q:?}");
    let (s, t) = redeem(&app, &rp, &q["code"]).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    app.stop().await;
}
both!(oidcc_ensure_request_with_unknown_parameter_succeeds);

async fn oidcc_ensure_request_without_nonce_succeeds_for_code_flow(backend: Backend) {
    let Some((app, browser, rp, _)) = signed_in(backend).await else { return };
    let q = answer(&app, &browser, &request(&rp, &[("scope", "openid")])).await;
    let (s, t) = redeem(&app, &rp, &q["code"]).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert!(id_claims(&app, &t).await.get("nonce").is_none());
    app.stop().await;
}
both!(oidcc_ensure_request_without_nonce_succeeds_for_code_flow);

async fn oidcc_ensure_other_scope_order_succeeds(backend: Backend) {
    let Some((app, browser, rp, _)) = signed_in(backend).await else { return };
    let q = answer(&app, &browser, &request(&rp, &[("scope", "email openid")])).await;
    let (s, t) = redeem(&app, &rp, &q["code"]).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let scopes: Vec<&str> = t["scope"].as_str().unwrap_or_default().split(' ').collect();
    assert!(scopes.contains(&"openid") && scopes.contains(&"email"), "{t}");
    let (s, info) = userinfo(&app, t["access_token"].as_str().expect("access token")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(info["email"].is_string(), "{info}");
    app.stop().await;
}
both!(oidcc_ensure_other_scope_order_succeeds);

async fn oidcc_codereuse_30seconds(backend: Backend) {
    let Some((app, _, rp)) = with_ana(backend, false, true).await else { return };
    let (_, code) = code_for(&app, &rp, "ana", 1).await;
    let (s, first) = redeem(&app, &rp, &code).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let access = first["access_token"].as_str().expect("access token");
    assert_eq!(userinfo(&app, access).await.0, StatusCode::OK);
    app.advance(Duration::seconds(30));
    let (s, again) = redeem(&app, &rp, &code).await;
    assert_eq!((s, again["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{again}");
    // What the code gave is revoked.
    assert_eq!(userinfo(&app, access).await.0, StatusCode::UNAUTHORIZED);
    let refresh = first["refresh_token"].as_str().expect("refresh token");
    let (s, _) = token(&app, &rp, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    app.stop().await;
}
both!(oidcc_codereuse_30seconds);

async fn oidcc_userinfo_get(backend: Backend) {
    let Some((app, _, _, tokens)) = signed_in(backend).await else { return };
    let (s, info) = userinfo(&app, tokens["access_token"].as_str().expect("access token")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(info["sub"], id_claims(&app, &tokens).await["sub"]);
    app.stop().await;
}
both!(oidcc_userinfo_get);

async fn oidcc_userinfo_post_header(backend: Backend) {
    let Some((app, _, _, tokens)) = signed_in(backend).await else { return };
    let access = tokens["access_token"].as_str().expect("access token");
    let r = app.api().post(app.url("/oauth2/userinfo")).bearer_auth(access).send().await.expect("userinfo");
    assert_eq!(r.status(), StatusCode::OK);
    let info: Value = r.json().await.expect("json");
    assert_eq!(info["sub"], id_claims(&app, &tokens).await["sub"]);
    app.stop().await;
}
both!(oidcc_userinfo_post_header);

async fn oidcc_userinfo_post_body(backend: Backend) {
    let Some((app, _, _, tokens)) = signed_in(backend).await else { return };
    let access = tokens["access_token"].as_str().expect("access token");
    let r =
        app.api().post(app.url("/oauth2/userinfo")).form(&[("access_token", access)]).send().await.expect("userinfo");
    assert_eq!(r.status(), StatusCode::OK);
    let info: Value = r.json().await.expect("json");
    assert_eq!(info["sub"], id_claims(&app, &tokens).await["sub"]);
    app.stop().await;
}
both!(oidcc_userinfo_post_body);

/// The plan's `client_auth_type=client_secret_post` variant: the secret in the form body.
async fn oidcc_server_client_secret_post(backend: Backend) {
    let Some((app, _, rp)) = with_ana(backend, false, true).await else { return };
    let (_, code) = code_for(&app, &rp, "ana", 1).await;
    let secret = rp.secret.clone().expect("a confidential client's secret");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("code_verifier", VERIFIER),
        ("client_id", rp.client_id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let r = app.api().post(app.url("/oauth2/token")).form(&form).send().await.expect("token");
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.expect("json");
    assert_eq!(id_claims(&app, &t).await["aud"], rp.client_id.as_str());
    app.stop().await;
}
both!(oidcc_server_client_secret_post);
