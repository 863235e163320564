//! The OpenID Connect authorization code flow (issue 18), over HTTP against the real server.

use crate::both;
use crate::support::{Backend, TEST_PASSWORD, TestApp, csrf, field_value, location};
use reqwest::StatusCode;

/// The `(authenticated_at, amr)` of the user's sessions, oldest first.
async fn authentications(app: &TestApp, user: gatehouse_domain::UserId) -> Vec<(Option<i64>, Option<String>)> {
    sqlx::query_as::<_, (Option<i64>, Option<String>)>(
        "SELECT authenticated_at, amr FROM sessions WHERE user_id = $1 ORDER BY id",
    )
    .bind(user.0)
    .fetch_all(app.running.services.db.pool())
    .await
    .expect("sessions")
}

async fn sessions_remember_how_they_were_authenticated(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let ana = app.user("ana", "Ana", "Lopez", 1, None).await;
    app.affiliate(ana).await;
    let _texted = app.signed_in_browser("ana", 1).await;
    let at = app.running.services.now();
    assert_eq!(authentications(&app, ana).await, vec![(Some(at), Some("pwd sms".to_owned()))]);

    // A code asked for by voice call: `tel`. Until the code is entered, nothing is recorded.
    app.advance(gatehouse_domain::Duration::minutes(2));
    let c = app.browser();
    let page = c.get(app.url("/signin")).send().await.unwrap().text().await.unwrap();
    let r = c
        .post(app.url("/signin"))
        .form(&[("csrf_token", csrf(&page).as_str()), ("username", "ana"), ("password", TEST_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (s, _) = app.submit(&c, "/two-step/code", "/two-step/code", &[("action", "resend"), ("method", "voice")]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(authentications(&app, ana).await[1], (None, None));
    let code = app.last_code("+12065550001").await;
    let (s, _) = app.submit(&c, "/two-step/code", "/two-step/code", &[("action", "verify"), ("code", &code)]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let voice_at = app.running.services.now();
    assert_eq!(authentications(&app, ana).await[1], (Some(voice_at), Some("pwd tel".to_owned())));
    app.stop().await;
}
both!(sessions_remember_how_they_were_authenticated);

// ---- The flow (steps 3 to 6) ----

/// The redirect URI every test client registers.
pub(crate) const CALLBACK: &str = "http://127.0.0.1:9/cb";
/// PKCE of RFC 7636's example.
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A registered client.
pub(crate) struct Rp {
    pub(crate) client_id: String,
    pub(crate) secret: Option<String>,
}

pub(crate) async fn register(app: &TestApp, public: bool, first_party: bool) -> Rp {
    use gatehouse_domain::client_registration::RegistrationInput;
    use gatehouse_services::applications::ApplicationForm;
    let svc = &app.running.services;
    let form = ApplicationForm {
        name: if first_party { "Eligibility" } else { "Claims Helper" },
        registration: RegistrationInput {
            client_type: if public { "public" } else { "confidential" },
            redirect_uris: CALLBACK,
            post_logout_redirect_uris: "http://127.0.0.1:9/",
            scopes: "openid profile email phone gatehouse:affiliations",
            first_party,
            id_token_alg: "ES256",
            backchannel_logout_uri: "",
        },
    };
    let r = svc
        .register_application(&svc.operator_grant(&app.plan), &app.plan, &form, &gatehouse_services::RequestMeta::cli())
        .await
        .expect("register");
    Rp { client_id: r.row.client_id, secret: r.secret }
}

/// A server with Ana (signed up, affiliated, texted at tail 1) and a registered client.
pub(crate) async fn with_ana(
    backend: Backend,
    public: bool,
    first_party: bool,
) -> Option<(TestApp, gatehouse_domain::UserId, Rp)> {
    let app = TestApp::start(backend).await?;
    let ana = app.user("ana", "Ana", "Lopez", 1, None).await;
    app.affiliate(ana).await;
    let rp = register(&app, public, first_party).await;
    Some((app, ana, rp))
}

fn authorize_url(rp: &Rp, extra: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code");
    q.append_pair("client_id", &rp.client_id);
    q.append_pair("redirect_uri", CALLBACK);
    q.append_pair("scope", "openid profile email phone gatehouse:affiliations");
    q.append_pair("state", "st-1");
    q.append_pair("nonce", "n-1");
    q.append_pair("code_challenge", CHALLENGE);
    q.append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!("/oauth2/authorize?{}", q.finish())
}

/// The query parameters of a redirect to the client.
pub(crate) fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    query_of_at(CALLBACK, location)
}

/// The query parameters of a redirect to the client's `callback`.
pub(crate) fn query_of_at(callback: &str, location: &str) -> std::collections::HashMap<String, String> {
    assert!(location.starts_with(callback), "{location}");
    let u = url::Url::parse(location).unwrap();
    u.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// Follows same-site redirects from `path` until one leaves for the client (returned) or a page
/// answers (panics).
async fn follow(app: &TestApp, c: &reqwest::Client, path: &str) -> String {
    let mut next = path.to_owned();
    for _ in 0..10 {
        let (s, body, loc) = app.visit(c, &next).await;
        let loc = loc.unwrap_or_else(|| panic!("{next}: {s} without a redirect: {body}"));
        if loc.starts_with(CALLBACK) {
            return loc;
        }
        next = loc;
    }
    panic!("too many redirects from {path}");
}

/// Signs in through the pages after an authorization request sent the browser to sign-in.
async fn sign_in_pages(app: &TestApp, c: &reqwest::Client, username: &str, phone_tail: u16) {
    sign_in_at(app, c, "/signin", username, phone_tail).await;
}

/// [`sign_in_pages`] from the sign-in form at `form_page` (`/signin?reauth=1` when signed in).
pub(crate) async fn sign_in_at(app: &TestApp, c: &reqwest::Client, form_page: &str, username: &str, phone_tail: u16) {
    let (s, _, loc) =
        app.post_form(c, form_page, "/signin", &[("username", username), ("password", TEST_PASSWORD)]).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/two-step/code")));
    let code = app.last_code(&format!("+1206555{phone_tail:04}")).await;
    let (s, _, loc) =
        app.post_form(c, "/two-step/code", "/two-step/code", &[("action", "verify"), ("code", &code)]).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
}

/// Authorizes `rp` for a new browser signing in as `username`; returns the browser and the code.
pub(crate) async fn code_for(app: &TestApp, rp: &Rp, username: &str, phone_tail: u16) -> (reqwest::Client, String) {
    let c = app.browser();
    let (s, _, loc) = app.visit(&c, &authorize_url(rp, &[])).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/signin")));
    sign_in_pages(app, &c, username, phone_tail).await;
    let q = query_of(&follow(app, &c, "/").await);
    assert_eq!(q["state"], "st-1");
    assert_eq!(q["iss"], app.running.services.plan_url(&app.plan));
    (c, q["code"].clone())
}

/// Posts to the token endpoint as `rp` (HTTP Basic when it has a secret).
pub(crate) async fn token(app: &TestApp, rp: &Rp, form: &[(&str, &str)]) -> (StatusCode, serde_json::Value) {
    let mut r = app.api().post(app.url("/oauth2/token")).form(form);
    match &rp.secret {
        Some(s) => r = r.basic_auth(&rp.client_id, Some(s)),
        None => {
            let mut with_id = form.to_vec();
            with_id.push(("client_id", &rp.client_id));
            r = app.api().post(app.url("/oauth2/token")).form(&with_id);
        }
    }
    let resp = r.send().await.unwrap();
    let status = resp.status();
    if status == StatusCode::OK {
        assert_eq!(resp.headers()["cache-control"], "no-store");
    }
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

pub(crate) async fn redeem(app: &TestApp, rp: &Rp, code: &str) -> (StatusCode, serde_json::Value) {
    token(
        app,
        rp,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

pub(crate) async fn userinfo(app: &TestApp, access: &str) -> (StatusCode, serde_json::Value) {
    let r = app.api().get(app.url("/oauth2/userinfo")).bearer_auth(access).send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// Answers the consent page the browser is shown, as the person would: the form's CSRF token
/// and the request it names. Returns status and `Location`.
pub(crate) async fn consent(app: &TestApp, c: &reqwest::Client, decision: &str) -> (StatusCode, Option<String>) {
    let (_, page) = app.page(c, "/oauth2/consent").await;
    let request = field_value(&page, "request").unwrap_or_default();
    let form = [("csrf_token", csrf(&page)), ("decision", decision.to_owned()), ("request", request)];
    let r = c.post(app.url("/oauth2/consent")).form(&form).send().await.unwrap();
    (r.status(), crate::support::location(&r))
}

async fn audited(app: &TestApp, action: &str) -> i64 {
    app.count(&format!("SELECT COUNT(*) FROM audit_events WHERE action = '{action}'")).await
}

async fn code_token_userinfo_refresh_and_reuse(backend: Backend) {
    let Some((app, ana, rp)) = with_ana(backend, false, true).await else { return };
    let (_browser, code) = code_for(&app, &rp, "ana", 1).await;
    let signed_in_at = app.running.services.now();
    app.advance(gatehouse_domain::Duration::seconds(5));

    let (s, t) = redeem(&app, &rp, &code).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 600);
    let claims =
        app.running.services.oidc_verify(&app.plan, t["id_token"].as_str().unwrap()).await.expect("ID token verifies");
    assert_eq!(claims["aud"], rp.client_id.as_str());
    assert_eq!(claims["azp"], rp.client_id.as_str());
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["auth_time"], signed_in_at);
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "sms", "mfa"]));
    assert_eq!(claims["acr"], "urn:gatehouse:acr:aal2");
    assert_eq!(claims["iss"], app.running.services.plan_url(&app.plan));
    let sub = claims["sub"].as_str().unwrap().to_owned();
    assert!(!sub.contains(&ana.0.to_string()) || sub.len() > 20, "sub is opaque");

    let (s, info) = userinfo(&app, t["access_token"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{info}");
    assert_eq!(info["sub"], sub.as_str());
    assert_eq!(info["preferred_username"], "ana");
    assert_eq!(info["given_name"], "Ana");
    assert_eq!(info["email"], "ana@example.org");
    assert_eq!(info["phone_number"], "+12065550001");
    assert_eq!(info["phone_number_verified"], true);
    let affs = info["affiliations"].as_array().unwrap();
    assert_eq!(affs.len(), 1);
    assert_eq!(affs[0]["tax_id"], "825671892");
    assert_eq!(affs[0]["practice"], "Lakeside Family Medicine");
    assert_eq!(affs[0]["providers"], "all");
    assert!(affs[0]["permissions"].as_array().unwrap().iter().any(|p| p == "claims.view"), "{info}");
    assert_eq!(info["active_affiliation"], "825671892");
    // By the form body too; no token, or a bad one: 401 with the Bearer challenge.
    let r = app
        .api()
        .post(app.url("/oauth2/userinfo"))
        .form(&[("access_token", t["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.api().get(app.url("/oauth2/userinfo")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    // An ID token is not an access token.
    assert_eq!(userinfo(&app, t["id_token"].as_str().unwrap()).await.0, StatusCode::UNAUTHORIZED);

    // Refresh: a new pair each time, the same sub.
    let first_refresh = t["refresh_token"].as_str().unwrap().to_owned();
    let (s, t2) = token(&app, &rp, &[("grant_type", "refresh_token"), ("refresh_token", &first_refresh)]).await;
    assert_eq!(s, StatusCode::OK, "{t2}");
    assert_ne!(t2["refresh_token"], first_refresh.as_str());
    let c2 = app.running.services.oidc_verify(&app.plan, t2["id_token"].as_str().unwrap()).await.unwrap();
    assert_eq!(c2["sub"], sub.as_str());
    assert_eq!(c2["auth_time"], signed_in_at);
    assert_eq!(audited(&app, "oidc.token_issued").await, 2);

    // The first refresh token again: reuse. The family and the session end.
    let (s, e) = token(&app, &rp, &[("grant_type", "refresh_token"), ("refresh_token", &first_refresh)]).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    assert_eq!(audited(&app, "oidc.refresh_reuse_detected").await, 1);
    let newest = t2["refresh_token"].as_str().unwrap();
    let (s, e) = token(&app, &rp, &[("grant_type", "refresh_token"), ("refresh_token", newest)]).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    assert_eq!(userinfo(&app, t2["access_token"].as_str().unwrap()).await.0, StatusCode::UNAUTHORIZED);
    let live = format!("SELECT COUNT(*) FROM sessions WHERE user_id = {} AND ended_at IS NULL", ana.0);
    assert_eq!(app.count(&live).await, 0);
    app.stop().await;
}
both!(code_token_userinfo_refresh_and_reuse);

/// An expired refresh token is refused as expired however often it comes (a client's retry):
/// not taken for a stolen copy, which would end the person's sign-in.
async fn an_expired_refresh_token_is_not_taken_for_reuse(backend: Backend) {
    let Some((app, _, rp)) = with_ana(backend, false, true).await else { return };
    let (_browser, code) = code_for(&app, &rp, "ana", 1).await;
    let (s, t) = redeem(&app, &rp, &code).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let refresh = t["refresh_token"].as_str().unwrap().to_owned();
    app.advance(gatehouse_domain::oauth::REFRESH_TOKEN_LIFETIME);
    app.advance(gatehouse_domain::Duration::seconds(1));
    for _ in 0..2 {
        let (s, e) = token(&app, &rp, &[("grant_type", "refresh_token"), ("refresh_token", &refresh)]).await;
        assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{e}");
        assert!(e["error_description"].as_str().unwrap_or_default().contains("expired"), "{e}");
    }
    assert_eq!(audited(&app, "oidc.refresh_reuse_detected").await, 0);
    app.stop().await;
}
both!(an_expired_refresh_token_is_not_taken_for_reuse);

/// Revoking an application ends what people gave it: its access tokens read nothing more at
/// userinfo (they did until they expired), and its grants and refresh tokens are revoked.
async fn a_revoked_applications_tokens_read_nothing(backend: Backend) {
    let Some((app, _, rp)) = with_ana(backend, false, true).await else { return };
    let (_browser, code) = code_for(&app, &rp, "ana", 1).await;
    let (s, t) = redeem(&app, &rp, &code).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let access = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&app, &access).await.0, StatusCode::OK);
    let svc = &app.running.services;
    let id = app.count(&format!("SELECT id FROM applications WHERE client_id = '{}'", rp.client_id)).await;
    svc.revoke_application(
        &svc.operator_grant(&app.plan),
        &app.plan,
        gatehouse_domain::ApplicationId(id),
        &gatehouse_services::RequestMeta::cli(),
    )
    .await
    .expect("revoke");
    assert_eq!(userinfo(&app, &access).await.0, StatusCode::UNAUTHORIZED);
    let refresh = t["refresh_token"].as_str().unwrap();
    let (s, e) = token(&app, &rp, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "{e}");
    let revoked = "SELECT COUNT(*) FROM oidc_codes WHERE revoked_at IS NULL";
    assert_eq!(app.count(revoked).await, 0);
    app.stop().await;
}
both!(a_revoked_applications_tokens_read_nothing);

/// `email_verified` says whether the address was proven by a link sent to it. Ana's was (the
/// fixture's account stands for a sign-up); once her practice's administrator sets another
/// address for her, nobody has proven that one, and an application that trusts verified
/// addresses to link accounts must not take it as hers.
async fn an_address_an_administrator_set_is_not_verified(backend: Backend) {
    let Some((app, ana, rp)) = with_ana(backend, false, true).await else { return };
    let boss = app.user("boss", "Bo", "Sterling", 2, None).await;
    app.seed_affiliation(boss, "825671892", "office_manager", true).await;
    let (_browser, code) = code_for(&app, &rp, "ana", 1).await;
    let (s, t) = redeem(&app, &rp, &code).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let access = t["access_token"].as_str().unwrap().to_owned();
    let (s, v) = userinfo(&app, &access).await;
    assert_eq!(
        (s, &v["email"], &v["email_verified"]),
        (StatusCode::OK, &serde_json::json!("ana@example.org"), &serde_json::json!(true)),
        "{v}"
    );

    let admin = app.api_session("boss", TEST_PASSWORD, "+12065550002").await;
    let body = serde_json::json!({"email": "victim@example.net", "email_confirm": "victim@example.net"});
    let (s, v) = app.call("PATCH", &format!("/api/v1/practice/users/{}", ana.0), Some(&admin), Some(body)).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (_, v) = userinfo(&app, &access).await;
    assert_eq!(
        (&v["email"], &v["email_verified"]),
        (&serde_json::json!("victim@example.net"), &serde_json::json!(false)),
        "{v}"
    );
    // Names changed with the address kept leave it as proven as it was.
    let body = serde_json::json!({"email": "ana@example.org", "email_confirm": "ana@example.org"});
    app.call("PATCH", &format!("/api/v1/practice/users/{}", ana.0), Some(&admin), Some(body)).await;
    let body = serde_json::json!({"first_name": "Anna"});
    app.call("PATCH", &format!("/api/v1/practice/users/{}", ana.0), Some(&admin), Some(body)).await;
    let (_, v) = userinfo(&app, &access).await;
    assert_eq!(v["email_verified"], false, "set back by the administrator: still not proven by its owner: {v}");
    app.stop().await;
}
both!(an_address_an_administrator_set_is_not_verified);

async fn redirect_uris_that_differ_are_refused_without_redirecting(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let rp = register(&app, false, true).await;
    let c = app.browser();
    for bad in [
        "http://127.0.0.1:9/cb/x",
        "http://127.0.0.1:9/cb/",
        "http://127.0.0.1:9/CB",
        "HTTP://127.0.0.1:9/cb",
        "http://user@127.0.0.1:9/cb",
        "http://127.0.0.1:9/c%62",
        "http://127.0.0.1:9/cb?x=1",
        "http://127.0.0.1:9/cb#f",
    ] {
        let url = authorize_url(&rp, &[]).replace(
            &url::form_urlencoded::byte_serialize(CALLBACK.as_bytes()).collect::<String>(),
            &url::form_urlencoded::byte_serialize(bad.as_bytes()).collect::<String>(),
        );
        let (s, body, loc) = app.visit(&c, &url).await;
        assert_eq!((s, loc), (StatusCode::BAD_REQUEST, None), "{bad}");
        assert!(body.contains("not one it registered"), "{bad}: {body}");
    }
    // An unknown client: the same page, no redirect.
    let stranger = Rp { client_id: "gh_nobody".into(), secret: None };
    let (s, body, loc) = app.visit(&c, &authorize_url(&stranger, &[])).await;
    assert_eq!((s, loc), (StatusCode::BAD_REQUEST, None));
    assert!(body.contains("not known"), "{body}");
    assert_eq!(audited(&app, "oidc.authorize_refused").await, 9);
    app.stop().await;
}
both!(redirect_uris_that_differ_are_refused_without_redirecting);

async fn pkce_is_required_and_bound(backend: Backend) {
    let Some((app, _, rp)) = with_ana(backend, false, true).await else { return };
    let browser = app.signed_in_browser("ana", 1).await;
    // `plain`, or no method: refused by redirect, with state and iss.
    for extra in [[("code_challenge_method", "plain")]] {
        let url = authorize_url(&rp, &[])
            .replace("code_challenge_method=S256", &format!("code_challenge_method={}", extra[0].1));
        let (s, _, loc) = app.visit(&browser, &url).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let q = query_of(&loc.unwrap());
        assert_eq!((q["error"].as_str(), q["state"].as_str()), ("invalid_request", "st-1"));
        assert_eq!(q["iss"], app.running.services.plan_url(&app.plan));
    }
    let (_, _, loc) = app.visit(&browser, &authorize_url(&rp, &[])).await;
    let code = query_of(&loc.unwrap())["code"].clone();
    // No verifier, a wrong one, a wrong redirect URI, another client: refused, code still good.
    let no_verifier = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CALLBACK)];
    let (s, e) = token(&app, &rp, &no_verifier).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let wrong = "a".repeat(43);
    let (s, e) = token(
        &app,
        &rp,
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK), ("code_verifier", &wrong)],
    )
    .await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let other = register(&app, false, true).await;
    let (s, e) = redeem(&app, &other, &code).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    // A wrong secret: invalid_client, 401 with a Basic challenge.
    let impostor = Rp { client_id: rp.client_id.clone(), secret: Some("wrong".into()) };
    let r = app
        .api()
        .post(app.url("/oauth2/token"))
        .basic_auth(&impostor.client_id, Some("wrong"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    // The right client, verifier and URI still redeem it.
    let (s, t) = redeem(&app, &rp, &code).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    // Used twice: refused, and what it gave is revoked.
    let (s, e) = redeem(&app, &rp, &code).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    assert_eq!(audited(&app, "oidc.code_reuse_detected").await, 1);
    assert_eq!(userinfo(&app, t["access_token"].as_str().unwrap()).await.0, StatusCode::UNAUTHORIZED);
    let (s, _) =
        token(&app, &rp, &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())])
            .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // A code past its 60 seconds.
    let (_, _, loc) = app.visit(&browser, &authorize_url(&rp, &[])).await;
    let late = query_of(&loc.unwrap())["code"].clone();
    app.advance(gatehouse_domain::Duration::seconds(61));
    let (s, e) = redeem(&app, &rp, &late).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    app.stop().await;
}
both!(pkce_is_required_and_bound);

async fn twenty_concurrent_redemptions_give_one_success(backend: Backend) {
    let Some((app, _, rp)) = with_ana(backend, true, true).await else { return };
    let browser = app.signed_in_browser("ana", 1).await;
    let (_, _, loc) = app.visit(&browser, &authorize_url(&rp, &[])).await;
    let code = query_of(&loc.unwrap())["code"].clone();
    let attempts = (0..20).map(|_| redeem(&app, &rp, &code));
    let results = futures::future::join_all(attempts).await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{results:?}");
    assert!(results.iter().all(|(s, v)| *s == StatusCode::OK || v["error"] == "invalid_grant"));
    assert_eq!(app.count("SELECT COUNT(*) FROM oidc_refresh_tokens").await, 1);
    app.stop().await;
}
both!(twenty_concurrent_redemptions_give_one_success);

async fn prompt_none_login_and_consent(backend: Backend) {
    let Some((app, _, rp)) = with_ana(backend, false, false).await else { return };
    // No session and prompt=none: login_required, by redirect.
    let c = app.browser();
    let (_, _, loc) = app.visit(&c, &authorize_url(&rp, &[("prompt", "none")])).await;
    let q = query_of(&loc.unwrap());
    assert_eq!((q["error"].as_str(), q["state"].as_str()), ("login_required", "st-1"));
    // Sign in; a third-party client asks for consent once.
    let (s, _, loc) = app.visit(&c, &authorize_url(&rp, &[])).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/signin")));
    sign_in_pages(&app, &c, "ana", 1).await;
    let (_, _, loc) = app.visit(&c, "/").await;
    assert_eq!(loc.as_deref(), Some("/oauth2/authorize/resume"));
    let (_, _, loc) = app.visit(&c, "/oauth2/authorize/resume").await;
    assert_eq!(loc.as_deref(), Some("/oauth2/consent"));
    let (s, page) = app.page(&c, "/oauth2/consent").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Claims Helper") && page.contains("Your email address"), "{page}");
    // With a session but no consent, prompt=none: consent_required.
    let (_, _, loc) = app.visit(&c, &authorize_url(&rp, &[("prompt", "none")])).await;
    assert_eq!(query_of(&loc.unwrap())["error"], "consent_required");
    let (_, _, loc) = app.visit(&c, &authorize_url(&rp, &[])).await;
    assert_eq!(loc.as_deref(), Some("/oauth2/consent"));
    let (s, loc) = consent(&app, &c, "allow").await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(query_of(&loc.unwrap()).contains_key("code"));
    assert_eq!(audited(&app, "oidc.consent_given").await, 1);
    // Consented: prompt=none now answers with a code; scopes in another order are the same set.
    let (_, _, loc) = app.visit(&c, &authorize_url(&rp, &[("prompt", "none")])).await;
    assert!(query_of(&loc.unwrap()).contains_key("code"));
    // prompt=login: the sign-in form again, even signed in; then a code with a newer auth_time.
    let (_, _, loc) = app.visit(&c, &authorize_url(&rp, &[("prompt", "login")])).await;
    assert_eq!(loc.as_deref(), Some("/signin?reauth=1"));
    let (s, page) = app.page(&c, "/signin?reauth=1").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("sign in again"), "{page}");
    app.advance(gatehouse_domain::Duration::minutes(1));
    sign_in_at(&app, &c, "/signin?reauth=1", "ana", 1).await;
    let q = query_of(&follow(&app, &c, "/").await);
    let (s, t) = redeem(&app, &rp, &q["code"]).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let claims = app.running.services.oidc_verify(&app.plan, t["id_token"].as_str().unwrap()).await.unwrap();
    assert_eq!(claims["auth_time"], app.running.services.now());
    // max_age=1 two seconds later: sign in again.
    app.advance(gatehouse_domain::Duration::seconds(2));
    let (_, _, loc) = app.visit(&c, &authorize_url(&rp, &[("max_age", "1")])).await;
    assert_eq!(loc.as_deref(), Some("/signin?reauth=1"));
    // The fresh sign-in answers it, however long it took (it once sent the person back for ever).
    sign_in_at(&app, &c, "/signin?reauth=1", "ana", 1).await;
    app.advance(gatehouse_domain::Duration::seconds(5));
    let q = query_of(&follow(&app, &c, "/").await);
    assert!(q.contains_key("code"), "{q:?}");
    // max_age=0 likewise: one sign-in, then a code.
    let (_, _, loc) = app.visit(&c, &authorize_url(&rp, &[("max_age", "0")])).await;
    assert_eq!(loc.as_deref(), Some("/signin?reauth=1"));
    sign_in_at(&app, &c, "/signin?reauth=1", "ana", 1).await;
    let q = query_of(&follow(&app, &c, "/").await);
    assert!(q.contains_key("code"), "{q:?}");
    app.stop().await;
}
both!(prompt_none_login_and_consent);

/// `prompt=login` from a browser with no session: the sign-in that follows is the fresh one
/// asked for, and the request comes back with a code (it once sent the person to sign in again,
/// for ever).
async fn prompt_login_without_a_session_signs_in_once(backend: Backend) {
    let Some((app, _, rp)) = with_ana(backend, false, true).await else { return };
    let c = app.browser();
    let (s, _, loc) = app.visit(&c, &authorize_url(&rp, &[("prompt", "login")])).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/signin")));
    sign_in_pages(&app, &c, "ana", 1).await;
    let q = query_of(&follow(&app, &c, "/").await);
    assert_eq!(q["state"], "st-1");
    let (s, t) = redeem(&app, &rp, &q["code"]).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    app.stop().await;
}
both!(prompt_login_without_a_session_signs_in_once);

/// From a browser with no session, the sign-in that follows is the fresh one: `max_age=0` is
/// answered by it however long the steps after it took, and a hint naming someone else is
/// answered `login_required` once the person has signed in, never by another sign-in.
async fn without_a_session_max_age_and_the_hint_are_answered_by_one_sign_in(backend: Backend) {
    let Some((app, _, rp)) = with_ana(backend, false, true).await else { return };
    let c = app.browser();
    let (_, _, loc) = app.visit(&c, &authorize_url(&rp, &[("max_age", "0")])).await;
    assert_eq!(loc.as_deref(), Some("/signin"));
    sign_in_pages(&app, &c, "ana", 1).await;
    app.advance(gatehouse_domain::Duration::seconds(5));
    let q = query_of(&follow(&app, &c, "/").await);
    assert!(q.contains_key("code"), "{q:?}");
    // Bo's ID token as the hint, in a browser with no session; Ana signs in.
    let bo = app.user("bo", "Bo", "Diaz", 2, None).await;
    app.affiliate(bo).await;
    let (_, code) = code_for(&app, &rp, "bo", 2).await;
    let (_, t) = redeem(&app, &rp, &code).await;
    let hint = t["id_token"].as_str().unwrap().to_owned();
    let c = app.browser();
    let (_, _, loc) = app.visit(&c, &authorize_url(&rp, &[("id_token_hint", &hint)])).await;
    assert_eq!(loc.as_deref(), Some("/signin"));
    sign_in_pages(&app, &c, "ana", 1).await;
    let q = query_of(&follow(&app, &c, "/").await);
    assert_eq!(q["error"], "login_required", "{q:?}");
    app.stop().await;
}
both!(without_a_session_max_age_and_the_hint_are_answered_by_one_sign_in);

/// The consent form answers the request it showed. Another authorization started in the same
/// browser meanwhile (another tab, or a page of another application opening one) replaces the
/// waiting request; the form shown before then gives no consent to it, and the page shows the
/// request now waiting.
async fn a_consent_form_answers_only_the_request_it_showed(backend: Backend) {
    let Some((app, _, rp)) = with_ana(backend, false, false).await else { return };
    let other = register(&app, false, false).await;
    let c = app.browser();
    app.visit(&c, &authorize_url(&rp, &[])).await;
    sign_in_pages(&app, &c, "ana", 1).await;
    let (_, _, loc) = app.visit(&c, "/oauth2/authorize/resume").await;
    assert_eq!(loc.as_deref(), Some("/oauth2/consent"));
    let (_, shown) = app.page(&c, "/oauth2/consent").await;
    let (_, _, loc) = app.visit(&c, &authorize_url(&other, &[])).await;
    assert_eq!(loc.as_deref(), Some("/oauth2/consent"));
    let request = field_value(&shown, "request").expect("the form names its request");
    let form = [("csrf_token", csrf(&shown)), ("decision", "allow".to_owned()), ("request", request)];
    let r = c.post(app.url("/oauth2/consent")).form(&form).send().await.unwrap();
    assert_eq!(crate::support::location(&r).as_deref(), Some("/oauth2/consent"), "shown the request now waiting");
    assert_eq!(app.count("SELECT COUNT(*) FROM consents").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM oidc_codes").await, 0);
    // The page now shown answers the request now waiting.
    let (s, loc) = consent(&app, &c, "allow").await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(query_of(&loc.unwrap()).contains_key("code"));
    assert_eq!(app.count("SELECT COUNT(*) FROM consents").await, 1);
    app.stop().await;
}
both!(a_consent_form_answers_only_the_request_it_showed);

async fn refresh_fails_once_the_user_is_deactivated(backend: Backend) {
    let Some((app, ana, rp)) = with_ana(backend, false, true).await else { return };
    let (_b, code) = code_for(&app, &rp, "ana", 1).await;
    let (_, t) = redeem(&app, &rp, &code).await;
    app.sql(&format!("UPDATE users SET status = 'deactivated' WHERE id = {}", ana.0)).await;
    let (s, e) =
        token(&app, &rp, &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())])
            .await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    assert_eq!(userinfo(&app, t["access_token"].as_str().unwrap()).await.0, StatusCode::UNAUTHORIZED);
    app.stop().await;
}
both!(refresh_fails_once_the_user_is_deactivated);

async fn signing_out_ends_the_refresh_tokens(backend: Backend) {
    let Some((app, _, rp)) = with_ana(backend, false, true).await else { return };
    let (browser, code) = code_for(&app, &rp, "ana", 1).await;
    let (_, t) = redeem(&app, &rp, &code).await;
    let (s, _, _) = app.post_form(&browser, "/sessions", "/signout", &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, e) =
        token(&app, &rp, &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())])
            .await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    app.stop().await;
}
both!(signing_out_ends_the_refresh_tokens);

async fn introspection_and_revocation(backend: Backend) {
    let Some((app, _, rp)) = with_ana(backend, false, true).await else { return };
    let other = register(&app, false, true).await;
    let (_b, code) = code_for(&app, &rp, "ana", 1).await;
    let (_, t) = redeem(&app, &rp, &code).await;
    let post = |path: &'static str, who: &Rp, token: String| {
        let r =
            app.api().post(app.url(path)).basic_auth(&who.client_id, who.secret.as_deref()).form(&[("token", token)]);
        async move {
            let r = r.send().await.unwrap();
            let s = r.status();
            (s, r.json::<serde_json::Value>().await.unwrap_or(serde_json::Value::Null))
        }
    };
    let access = t["access_token"].as_str().unwrap().to_owned();
    let refresh = t["refresh_token"].as_str().unwrap().to_owned();
    // Told apart by their header: an access token is `at+jwt` (RFC 9068), an ID token `JWT`.
    let typ = |jwt: &str| jsonwebtoken::decode_header(jwt).expect("a JWS").typ;
    assert_eq!(typ(&access).as_deref(), Some("at+jwt"));
    assert_eq!(typ(t["id_token"].as_str().unwrap()).as_deref(), Some("JWT"));
    let (s, v) = post("/oauth2/introspect", &rp, access.clone()).await;
    assert_eq!((s, &v["active"]), (StatusCode::OK, &serde_json::json!(true)), "{v}");
    assert_eq!(v["client_id"], rp.client_id.as_str());
    let (_, v) = post("/oauth2/introspect", &rp, refresh.clone()).await;
    assert_eq!(v["active"], true);
    // Another client learns nothing of it, and cannot revoke it.
    let (_, v) = post("/oauth2/introspect", &other, access.clone()).await;
    assert_eq!(v, serde_json::json!({"active": false}));
    let (s, _) = post("/oauth2/revoke", &other, refresh.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(post("/oauth2/introspect", &rp, refresh.clone()).await.1["active"], true);
    // Revoked by its own client: the whole grant.
    let (s, _) = post("/oauth2/revoke", &rp, refresh.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(post("/oauth2/introspect", &rp, access.clone()).await.1["active"], false);
    assert_eq!(userinfo(&app, &access).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(audited(&app, "oidc.token_revoked").await, 1);
    // Unknown tokens: 200 all the same.
    assert_eq!(post("/oauth2/revoke", &rp, "nonsense".into()).await.0, StatusCode::OK);
    app.stop().await;
}
both!(introspection_and_revocation);

/// An application's logout request with the ID token `hint`, back to `uri` with state `bye`.
fn logout_url(hint: &str, uri: &str) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    s.append_pair("id_token_hint", hint).append_pair("post_logout_redirect_uri", uri).append_pair("state", "bye");
    format!("/oauth2/logout?{}", s.finish())
}

async fn rp_initiated_logout(backend: Backend) {
    let Some((app, _, rp)) = with_ana(backend, false, true).await else { return };
    let (browser, code) = code_for(&app, &rp, "ana", 1).await;
    let (_, t) = redeem(&app, &rp, &code).await;
    let hint = t["id_token"].as_str().unwrap();
    let q = |uri: &str| logout_url(hint, uri);
    // A URI not registered exactly: no redirect, and the page says the person is still signed in.
    let (s, html, loc) = app.visit(&browser, &q("http://127.0.0.1:9/x")).await;
    assert_eq!((s, loc), (StatusCode::BAD_REQUEST, None));
    assert!(html.contains("not one it registered") && html.contains("still signed in"), "{html}");
    // The person's access token as the hint (signed by the same key, same subject): not an ID
    // token, so refused, and nothing ends.
    let access = t["access_token"].as_str().unwrap();
    let (s, html, loc) = app.visit(&browser, &logout_url(access, "http://127.0.0.1:9/")).await;
    assert_eq!((s, loc), (StatusCode::BAD_REQUEST, None), "{html}");
    assert!(html.contains("could not be checked") && html.contains("still signed in"), "{html}");
    assert_eq!(app.visit(&browser, "/").await.0, StatusCode::OK, "still signed in");
    assert_eq!(audited(&app, "oidc.logout").await, 0);
    // No ID token: nothing ends from a bare link, and the page asks rather than claiming the
    // person signed out. Its form carries the application's way back, checked again on return.
    let ask = format!(
        "/oauth2/logout?client_id={}&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2F&state=bye",
        rp.client_id
    );
    let (s, html, loc) = app.visit(&browser, &ask).await;
    assert_eq!((s, loc), (StatusCode::OK, None));
    assert!(html.contains("Sign out of the portal?") && html.contains("still signed in"), "{html}");
    assert!(!html.contains("You have signed out"), "{html}");
    assert!(html.contains(r#"action="/oauth2/logout/confirm""#), "{html}");
    assert!(html.contains(r#"name="post_logout_redirect_uri" value="http://127.0.0.1:9/""#), "{html}");
    assert!(html.contains(r#"name="state" value="bye""#), "{html}");
    assert!(html.contains(r#"href="http://127.0.0.1:9/?state=bye">Stay signed in"#), "{html}");
    assert_eq!(app.visit(&browser, "/").await.0, StatusCode::OK, "still signed in");
    assert_eq!(audited(&app, "oidc.logout").await, 0);
    // A forged answer with a way back the application never registered: refused, still signed in.
    let forged = [("client_id", rp.client_id.as_str()), ("post_logout_redirect_uri", "https://evil.example/")];
    let (s, _, loc) = app.post_form(&browser, &ask, "/oauth2/logout/confirm", &forged).await;
    assert_eq!((s, loc), (StatusCode::BAD_REQUEST, None));
    assert_eq!(app.visit(&browser, "/").await.0, StatusCode::OK, "still signed in");
    // "Sign out": signed out, audited as confirmed, and back to the application.
    let fields =
        [("client_id", rp.client_id.as_str()), ("post_logout_redirect_uri", "http://127.0.0.1:9/"), ("state", "bye")];
    let (s, _, loc) = app.post_form(&browser, &ask, "/oauth2/logout/confirm", &fields).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("http://127.0.0.1:9/?state=bye")));
    assert_eq!(app.visit(&browser, "/").await.2.as_deref(), Some("/signin"));
    assert_eq!(audited(&app, "oidc.logout").await, 1);
    let confirmed =
        "SELECT COUNT(*) FROM audit_events WHERE action = 'oidc.logout' AND detail LIKE '%\"confirmed\":true%'";
    assert_eq!(app.count(confirmed).await, 1);
    let (browser, code) = code_for(&app, &rp, "ana", 1).await;
    let (_, t) = redeem(&app, &rp, &code).await;
    let hint = t["id_token"].as_str().unwrap();
    let q = |uri: &str| logout_url(hint, uri);
    // Posted (as an application may): sent on as the same request by GET, deciding nothing.
    let form = [("id_token_hint", hint), ("post_logout_redirect_uri", "http://127.0.0.1:9/"), ("state", "bye")];
    let r = app.api().post(app.url("/oauth2/logout")).form(&form).send().await.unwrap();
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, Some(q("http://127.0.0.1:9/"))));
    assert_eq!(audited(&app, "oidc.logout").await, 1);
    // With the person's ID token: signed out, the browser's session cookie forgotten, and back.
    let r = browser.get(app.url(&q("http://127.0.0.1:9/"))).send().await.unwrap();
    assert_eq!((r.status(), location(&r).as_deref()), (StatusCode::SEE_OTHER, Some("http://127.0.0.1:9/?state=bye")));
    let cleared: Vec<_> = r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).collect();
    assert!(cleared.iter().any(|c| c.starts_with("gh_session=;") || c.starts_with("gh_session=\"\";")), "{cleared:?}");
    assert_eq!(audited(&app, "oidc.logout").await, 2);
    let (_, _, loc) = app.visit(&browser, "/").await;
    assert_eq!(loc.as_deref(), Some("/signin"));
    let (s, _) =
        token(&app, &rp, &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())])
            .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    app.stop().await;
}
both!(rp_initiated_logout);

async fn post_authorize_hint_of_someone_else_and_acr_values(backend: Backend) {
    let Some((app, _, rp)) = with_ana(backend, false, true).await else { return };
    let bo = app.user("bo", "Bo", "Diaz", 2, None).await;
    app.affiliate(bo).await;
    let (_, code) = code_for(&app, &rp, "bo", 2).await;
    let (_, bos) = redeem(&app, &rp, &code).await;
    let bos_hint = bos["id_token"].as_str().unwrap().to_owned();
    let (c, code) = code_for(&app, &rp, "ana", 1).await;
    redeem(&app, &rp, &code).await;

    // The authorization request by POST (a form) answers as by GET.
    let query = authorize_url(&rp, &[("prompt", "none"), ("acr_values", "urn:example:unknown-level")]);
    let form: Vec<(String, String)> = serde_urlencoded::from_str(query.split_once('?').unwrap().1).unwrap();
    let r = c.post(app.url("/oauth2/authorize")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with("/oauth2/authorize?") && to.contains("acr_values="), "sent on as GET: {to}");
    let q = query_of(&follow(&app, &c, &to).await);
    assert_eq!(q["state"], "st-1");
    // A body with bytes a header cannot carry is sent on encoded, never echoed raw.
    for raw in ["state=a%0D%0ASet-Cookie:%20x=1&prompt=none", "state=caf\u{e9}\r\nx&prompt=none"] {
        let r = c
            .post(app.url("/oauth2/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{raw}");
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(to.starts_with("/oauth2/authorize?state=") && to.is_ascii() && !to.contains('\n'), "{to}");
        assert!(r.headers().get("set-cookie").is_none_or(|c| !c.to_str().unwrap_or_default().starts_with("x=")));
    }
    // An acr the provider does not know is a voluntary request: the sign-in says what it was.
    let (s, t) = redeem(&app, &rp, &q["code"]).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let claims = app.running.services.oidc_verify(&app.plan, t["id_token"].as_str().unwrap()).await.unwrap();
    assert_eq!(claims["acr"], "urn:gatehouse:acr:aal2");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "sms", "mfa"]));

    // A hint naming Bo while Ana is signed in: never a code for Ana.
    let (_, _, loc) = app.visit(&c, &authorize_url(&rp, &[("prompt", "none"), ("id_token_hint", &bos_hint)])).await;
    assert_eq!(query_of(&loc.unwrap())["error"], "login_required");
    let (_, _, loc) = app.visit(&c, &authorize_url(&rp, &[("id_token_hint", &bos_hint)])).await;
    assert_eq!(loc.as_deref(), Some("/signin?reauth=1"));
    // Ana signs in again, not Bo: the application is told so, rather than her being sent back to
    // sign in for ever.
    sign_in_at(&app, &c, "/signin?reauth=1", "ana", 1).await;
    let q = query_of(&follow(&app, &c, "/").await);
    assert_eq!((q["error"].as_str(), q["state"].as_str()), ("login_required", "st-1"), "{q:?}");
    // A hint that is not this provider's ID token: refused, by redirect with the error.
    let (_, _, loc) = app.visit(&c, &authorize_url(&rp, &[("id_token_hint", "not.a.token")])).await;
    assert_eq!(query_of(&loc.unwrap())["error"], "invalid_request");
    app.stop().await;
}
both!(post_authorize_hint_of_someone_else_and_acr_values);

async fn a_person_without_a_practice_associates_first(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let cy = app.user("cy", "Cy", "Ng", 3, None).await;
    let rp = register(&app, false, true).await;
    let c = app.browser();
    let (_, _, loc) = app.visit(&c, &authorize_url(&rp, &[])).await;
    assert_eq!(loc.as_deref(), Some("/signin"));
    sign_in_pages(&app, &c, "cy", 3).await;
    // Signed in but linked to no practice: no code yet; the home page leads to association.
    let mut next = "/oauth2/authorize/resume".to_owned();
    let mut hops = Vec::new();
    let page = loop {
        let (s, body, loc) = app.visit(&c, &next).await;
        match loc {
            Some(l) => {
                assert!(!l.starts_with(CALLBACK) && hops.len() < 5, "no code before association: {hops:?} {l}");
                hops.push(l.clone());
                next = l;
            }
            None => {
                assert_eq!(s, StatusCode::OK, "{hops:?}");
                break body;
            }
        }
    };
    assert!(next.starts_with("/associate"), "{hops:?}");
    assert!(page.contains("<h1>Associate Your Account</h1>"), "{page}");
    assert_eq!(app.count("SELECT COUNT(*) FROM oidc_codes").await, 0);
    // The consent form posted anyway issues nothing: the authorization endpoint's checks come first.
    let (s, loc) = consent(&app, &c, "allow").await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
    assert_eq!(app.count("SELECT COUNT(*) FROM oidc_codes").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM consents").await, 0);
    // prompt=none cannot show that page: interaction_required.
    let (_, _, loc) = app.visit(&c, &authorize_url(&rp, &[("prompt", "none")])).await;
    assert_eq!(query_of(&loc.unwrap())["error"], "interaction_required");
    // Once linked to a practice, the waiting request goes on from the home page to a code.
    app.affiliate(cy).await;
    let (_, _, loc) = app.visit(&c, &authorize_url(&rp, &[])).await;
    let q = query_of(&loc.unwrap());
    assert_eq!(redeem(&app, &rp, &q["code"]).await.0, StatusCode::OK);
    app.stop().await;
}
both!(a_person_without_a_practice_associates_first);

/// Staff narrowing an application's registration (a scope taken away, or people now asked to
/// consent) ends what it was granted under the wider one: its refresh tokens and access tokens
/// stop at once. An edit that narrows nothing (a new name) leaves the grants alone.
async fn a_narrower_registration_ends_the_grants_made_under_the_wider_one(backend: Backend) {
    use gatehouse_domain::client_registration::RegistrationInput;
    use gatehouse_services::applications::ApplicationForm;
    let Some((app, _, rp)) = with_ana(backend, false, true).await else { return };
    let svc = &app.running.services;
    let (_, code) = code_for(&app, &rp, "ana", 1).await;
    let (_, t) = redeem(&app, &rp, &code).await;
    let refresh = t["refresh_token"].as_str().unwrap();
    let id = app.count(&format!("SELECT id FROM applications WHERE client_id = '{}'", rp.client_id)).await;
    let edit = |name: &'static str, scopes: &'static str| ApplicationForm {
        name,
        registration: RegistrationInput {
            client_type: "confidential",
            redirect_uris: CALLBACK,
            post_logout_redirect_uris: "http://127.0.0.1:9/",
            scopes,
            first_party: true,
            id_token_alg: "ES256",
            backchannel_logout_uri: "",
        },
    };
    let grant = svc.operator_grant(&app.plan);
    let meta = gatehouse_services::RequestMeta::cli();
    let all = "openid profile email phone gatehouse:affiliations";
    let app_id = gatehouse_domain::ApplicationId(id);
    svc.update_application(&grant, &app.plan, app_id, &edit("Eligibility 2", all), &meta).await.expect("rename");
    let (s, t2) = token(&app, &rp, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!(s, StatusCode::OK, "a new name narrows nothing: {t2}");
    let (access, refresh) = (t2["access_token"].as_str().unwrap(), t2["refresh_token"].as_str().unwrap());
    assert_eq!(userinfo(&app, access).await.0, StatusCode::OK);
    svc.update_application(&grant, &app.plan, app_id, &edit("Eligibility 2", "openid profile"), &meta)
        .await
        .expect("narrow");
    let (s, v) = token(&app, &rp, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!((s, v["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{v}");
    assert_eq!(userinfo(&app, access).await.0, StatusCode::UNAUTHORIZED);
    let revoked = "SELECT COUNT(*) FROM audit_events WHERE action = 'application.updated' \
                   AND detail LIKE '%\"grants_revoked\":1%'";
    assert_eq!(app.count(revoked).await, 1);
    app.stop().await;
}
both!(a_narrower_registration_ends_the_grants_made_under_the_wider_one);
