//! OpenID Connect signing keys, JWKS and discovery (issue 18, first part), on both databases:
//! the discovery document and issuer of each plan, the JWKS, tokens of one plan refused by
//! another, forged tokens (`none`, HS256, unknown kid, altered) refused, rotation publishing the
//! new key a day before use and keeping the old one until its tokens have expired, two rotations
//! (or two first signatures) at once making one key, another instance's new key picked up, the
//! daily job and the command line.

use crate::both;
use crate::support::{Backend, TestApp};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_domain::oidc_keys::{MAX_TOKEN_LIFETIME, PUBLICATION_DELAY, ROTATE_AFTER, SigningAlg};
use gatehouse_domain::{Duration, Timestamp};
use gatehouse_services::oidc::{LineRotation, OidcError};
use gatehouse_services::{RequestMeta, Services, ServicesConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

fn svc(app: &TestApp) -> &Services {
    &app.running.services
}

fn now(app: &TestApp) -> i64 {
    svc(app).now()
}

/// Claims of a token that lives `secs`.
fn claims(app: &TestApp, secs: i64) -> Value {
    json!({"sub": "user-1", "aud": "client-1", "exp": now(app) + secs})
}

/// The header of a JWT.
fn header(token: &str) -> Value {
    let h = token.split('.').next().expect("header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).expect("base64")).expect("json")
}

fn kid(token: &str) -> String {
    header(token)["kid"].as_str().expect("kid").to_owned()
}

/// A JWT with any header and claims and the given signature bytes.
fn forge(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

async fn get_json(app: &TestApp, path: &str, host: Option<&str>) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = app.api().get(app.url(path));
    if let Some(h) = host {
        req = req.header("host", h);
    }
    let r = req.send().await.expect("send");
    let (status, headers) = (r.status(), r.headers().clone());
    (status, headers, r.json().await.expect("json"))
}

/// The kids of the plan's JWKS, as served.
async fn jwks_kids(app: &TestApp, prefix: &str) -> Vec<String> {
    let (status, _, body) = get_json(app, &format!("{prefix}/oauth2/jwks"), None).await;
    assert_eq!(status, StatusCode::OK);
    body["keys"].as_array().expect("keys").iter().map(|k| k["kid"].as_str().expect("kid").to_owned()).collect()
}

/// A second instance of the server's services on the same database (its own key cache).
async fn second_instance(app: &TestApp) -> Services {
    let s = svc(app);
    Services::new(
        s.db.clone(),
        Arc::new(app.clock.clone()),
        s.hasher.clone(),
        ServicesConfig {
            base_url: s.config.base_url.clone(),
            code_key: s.config.code_key.clone(),
            logout_destinations: s.config.logout_destinations,
        },
    )
    .await
    .expect("second instance")
}

async fn discovery_document_per_plan(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    app.other_plan("northwind", Some("portal.northwind.example")).await;
    let (status, headers, doc) = get_json(&app, "/p/test/.well-known/openid-configuration", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["cache-control"].to_str().unwrap().contains("max-age="), "{headers:?}");
    let issuer = app.url("/p/test");
    assert_eq!(doc["issuer"], issuer);
    for (field, path) in [
        ("jwks_uri", "/oauth2/jwks"),
        ("authorization_endpoint", "/oauth2/authorize"),
        ("token_endpoint", "/oauth2/token"),
        ("userinfo_endpoint", "/oauth2/userinfo"),
        ("end_session_endpoint", "/oauth2/logout"),
        ("introspection_endpoint", "/oauth2/introspect"),
        ("revocation_endpoint", "/oauth2/revoke"),
    ] {
        assert_eq!(doc[field], format!("{issuer}{path}"), "{field}");
    }
    assert_eq!(doc["id_token_signing_alg_values_supported"], json!(["ES256", "RS256"]));
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(doc["subject_types_supported"], json!(["public"]));
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], json!(true));
    for g in ["authorization_code", "refresh_token"] {
        assert!(doc["grant_types_supported"].as_array().unwrap().contains(&json!(g)), "{g}");
    }
    for s in ["openid", "profile", "email", "phone"] {
        assert!(doc["scopes_supported"].as_array().unwrap().contains(&json!(s)), "{s}");
    }
    assert!(doc["claims_supported"].as_array().unwrap().contains(&json!("sub")));
    // The document's jwks_uri answers (at the first plan's unprefixed address too).
    let (status, headers, jwks) = get_json(&app, "/p/test/oauth2/jwks", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/jwk-set+json");
    assert!(headers["cache-control"].to_str().unwrap().starts_with("public, max-age="));
    assert_eq!(headers["access-control-allow-origin"], "*");
    // The default key exists from the first read: a relying party reads the set once, at
    // discovery, before any token is signed.
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1, "{jwks}");
    assert_eq!(keys[0]["alg"], "ES256");

    // A plan with its own host: its issuer is the host, by host and by prefix alike.
    let (status, _, doc) = get_json(&app, "/.well-known/openid-configuration", Some("portal.northwind.example")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["issuer"], "http://portal.northwind.example");
    assert_eq!(doc["jwks_uri"], "http://portal.northwind.example/oauth2/jwks");
    let (_, _, by_prefix) = get_json(&app, "/p/northwind/.well-known/openid-configuration", None).await;
    assert_eq!(by_prefix["issuer"], "http://portal.northwind.example");
    // No plan at an unknown host.
    let r = app
        .api()
        .get(app.url("/.well-known/openid-configuration"))
        .header("host", "unknown.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
both!(discovery_document_per_plan);

async fn tokens_are_the_plans_own(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let northwind = app.other_plan("northwind", None).await;
    let s = svc(&app);
    let plan = app.plan.clone();
    let token = s.oidc_sign(&plan, SigningAlg::Es256, &claims(&app, 3600)).await.expect("sign");
    let h = header(&token);
    assert_eq!(h["alg"], "ES256");
    assert_eq!(h["typ"], "JWT");
    let k = kid(&token);
    let got = s.oidc_verify(&plan, &token).await.expect("verify");
    assert_eq!(got["sub"], "user-1");
    assert_eq!(got["iss"], app.url("/p/test"));
    assert_eq!(got["iat"], now(&app));
    // The JWKS publishes the key, public half only; one key however many tokens.
    s.oidc_sign(&plan, SigningAlg::Es256, &claims(&app, 60)).await.expect("sign");
    let (_, _, jwks) = get_json(&app, "/p/test/oauth2/jwks", None).await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{jwks}");
    assert_eq!(keys[0]["kid"], k);
    assert_eq!(keys[0]["kty"], "EC");
    assert_eq!(keys[0]["crv"], "P-256");
    assert!(keys[0].get("d").is_none());
    // The served JWKS verifies the token with a JOSE library of its own.
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(keys[0].clone()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_audience(&["client-1"]);
    v.validate_exp = false;
    let decoded = jsonwebtoken::decode::<Value>(&token, &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(), &v);
    assert_eq!(decoded.expect("verifies against the served JWKS").claims["sub"], "user-1");
    // The private key is sealed in the database.
    assert_eq!(app.count("SELECT COUNT(*) FROM oidc_signing_keys WHERE private_sealed LIKE 'v1.%'").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'oidc.key_created'").await, 1);

    // Another plan refuses it (its kid is unknown there), and signs with its own key.
    assert!(matches!(s.oidc_verify(&northwind, &token).await, Err(OidcError::Refused(_))));
    let theirs = s.oidc_sign(&northwind, SigningAlg::Es256, &claims(&app, 60)).await.expect("sign");
    assert_ne!(kid(&theirs), k);
    assert!(matches!(s.oidc_verify(&plan, &theirs).await, Err(OidcError::Refused(_))));
    assert!(s.oidc_verify(&northwind, &theirs).await.is_ok());
    assert_eq!(jwks_kids(&app, "/p/northwind").await, vec![kid(&theirs)]);

    // RS256 for clients that ask: its own key, both published.
    let rs = s.oidc_sign(&plan, SigningAlg::Rs256, &claims(&app, 60)).await.expect("sign RS256");
    assert_eq!(header(&rs)["alg"], "RS256");
    assert!(s.oidc_verify(&plan, &rs).await.is_ok());
    let (_, _, jwks) = get_json(&app, "/p/test/oauth2/jwks", None).await;
    let ktys: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kty"].as_str().unwrap()).collect();
    assert_eq!(ktys, ["EC", "RSA"]);

    // Forgeries: alg none, HS256 keyed with the public JWK, an ES256 header on the RSA key, an
    // unknown kid, no kid, an altered payload, a foreign signature.
    let body = claims(&app, 600);
    let mut stolen = body.clone();
    stolen["iss"] = json!(app.url("/p/test"));
    let parts: Vec<&str> = token.split('.').collect();
    let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let forgeries = [
        forge(&json!({"alg": "none", "kid": k, "typ": "JWT"}), &stolen, b""),
        forge(&json!({"alg": "HS256", "kid": k, "typ": "JWT"}), &stolen, &sig),
        forge(&json!({"alg": "ES256", "kid": kid(&rs), "typ": "JWT"}), &stolen, &sig),
        forge(&json!({"alg": "ES256", "kid": "nosuchkid0123456789", "typ": "JWT"}), &stolen, &sig),
        forge(&json!({"alg": "ES256", "typ": "JWT"}), &stolen, &sig),
        format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(stolen.to_string()), parts[2]),
        format!("{}.{}.{}", parts[0], parts[1], theirs.split('.').nth(2).unwrap()),
        "not a token".to_owned(),
    ];
    for f in &forgeries {
        assert!(matches!(s.oidc_verify(&plan, f).await, Err(OidcError::Refused(_))), "{f}");
    }
    // An HS256 token keyed with the JWK's text, through the real HMAC.
    let jwk_text = serde_json::to_string(&jwks["keys"][0]).unwrap();
    let hs = {
        use hmac::{Hmac, Mac};
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "kid": k}).to_string()),
            URL_SAFE_NO_PAD.encode(stolen.to_string())
        );
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(jwk_text.as_bytes()).unwrap();
        mac.update(signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    };
    assert!(matches!(s.oidc_verify(&plan, &hs).await, Err(OidcError::Refused(_))));

    // Expired tokens: refused, except as a hint (id_token_hint may be an old ID token).
    app.advance(Duration::seconds(3600));
    assert!(matches!(s.oidc_verify(&plan, &token).await, Err(OidcError::Expired)));
    assert_eq!(s.oidc_verify_hint(&plan, &token).await.expect("hint")["sub"], "user-1");

    // Claims that cannot be signed.
    let bad = [
        json!("not an object"),
        json!({"sub": "a"}),
        json!({"sub": "a", "exp": "tomorrow"}),
        json!({"sub": "a", "exp": now(&app) - 1}),
        json!({"sub": "a", "exp": now(&app) + MAX_TOKEN_LIFETIME.as_secs() + 1}),
        json!({"sub": "a", "exp": now(&app) + 60, "iss": "https://evil.example"}),
    ];
    for b in &bad {
        assert!(matches!(s.oidc_sign(&plan, SigningAlg::Es256, b).await, Err(OidcError::Claims(_))), "{b}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM oidc_signing_keys").await, 3, "nothing made by refusals");
    app.stop().await;
}
both!(tokens_are_the_plans_own);

async fn rotation_publishes_before_use_and_keeps_the_old_key_until_its_tokens_expire(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let s = svc(&app);
    let plan = app.plan.clone();
    let first = s.oidc_sign(&plan, SigningAlg::Es256, &claims(&app, 60)).await.expect("sign");
    let k1 = kid(&first);
    let start = Timestamp(now(&app));

    let report = s.oidc_rotate_keys(&plan, start, &RequestMeta::cli()).await.expect("rotate");
    let k2 = match &report.lines[..] {
        [
            LineRotation::Published { alg: SigningAlg::Es256, kid, active_from },
            LineRotation::NoKeys { alg: SigningAlg::Rs256 },
        ] => {
            assert_eq!(*active_from, start.plus(PUBLICATION_DELAY).as_secs());
            kid.clone()
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'oidc.key_rotated'").await, 1);
    // Published at once, but the old key signs until the delay is over.
    assert_eq!(jwks_kids(&app, "/p/test").await, vec![k2.clone(), k1.clone()]);
    app.advance(Duration::seconds(PUBLICATION_DELAY.as_secs() - 3600));
    let old = s.oidc_sign(&plan, SigningAlg::Es256, &claims(&app, MAX_TOKEN_LIFETIME.as_secs())).await.expect("sign");
    assert_eq!(kid(&old), k1);
    // Rotating again meanwhile does nothing.
    let again = s.oidc_rotate_keys(&plan, Timestamp(now(&app)), &RequestMeta::cli()).await.expect("rotate");
    assert_eq!(again.published(), 0);
    assert!(matches!(again.lines[0], LineRotation::AlreadyPending { alg: SigningAlg::Es256 }));

    // After the delay the new key signs; the token signed before still verifies.
    app.advance(Duration::seconds(3600));
    let new = s.oidc_sign(&plan, SigningAlg::Es256, &claims(&app, 60)).await.expect("sign");
    assert_eq!(kid(&new), k2);
    assert!(s.oidc_verify(&plan, &old).await.is_ok());
    assert_eq!(jwks_kids(&app, "/p/test").await, vec![k2.clone(), k1.clone()]);
    // The old key stays published until its last token has expired (plus the margin)…
    app.advance(Duration::seconds(MAX_TOKEN_LIFETIME.as_secs() - 3600 - 1));
    assert!(s.oidc_verify(&plan, &old).await.is_ok());
    app.advance(Duration::seconds(2 * 3600));
    assert!(matches!(s.oidc_verify(&plan, &old).await, Err(OidcError::Expired)));
    assert!(jwks_kids(&app, "/p/test").await.contains(&k1));
    // …then leaves the JWKS, no longer verifies even as a hint, and the next run deletes it.
    app.advance(Duration::seconds(1));
    assert_eq!(jwks_kids(&app, "/p/test").await, vec![k2.clone()]);
    assert!(matches!(s.oidc_verify_hint(&plan, &old).await, Err(OidcError::Refused(_))));
    let report = s.oidc_keys_step(&plan, Timestamp(now(&app))).await.expect("step");
    assert_eq!(report.deleted, vec![k1.clone()]);
    assert_eq!(app.count("SELECT COUNT(*) FROM oidc_signing_keys").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'oidc.keys_deleted'").await, 1);
    assert!(s.oidc_verify_hint(&plan, &new).await.is_ok());
    assert!(matches!(s.verify_audit_chain(plan.id()).await, Ok(gatehouse_services::audit::ChainReport::Intact { .. })));
    app.stop().await;
}
both!(rotation_publishes_before_use_and_keeps_the_old_key_until_its_tokens_expire);

async fn concurrent_rotations_and_first_keys_make_one_key(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let s = svc(&app);
    let b = second_instance(&app).await;
    let plan = app.plan.clone();
    // Two instances sign their first token at once: one key.
    let c = claims(&app, 60);
    let (t1, t2) = tokio::join!(s.oidc_sign(&plan, SigningAlg::Es256, &c), b.oidc_sign(&plan, SigningAlg::Es256, &c));
    let (t1, t2) = (t1.expect("sign a"), t2.expect("sign b"));
    assert_eq!(kid(&t1), kid(&t2));
    assert_eq!(app.count("SELECT COUNT(*) FROM oidc_signing_keys").await, 1);
    // Each verifies the other's token.
    assert!(b.oidc_verify(&plan, &t1).await.is_ok());
    assert!(s.oidc_verify(&plan, &t2).await.is_ok());

    // Two rotations at once (two instances, and twice on one): one new key.
    let at = Timestamp(now(&app));
    let meta = RequestMeta::cli();
    let (r1, r2, r3) = tokio::join!(
        s.oidc_rotate_keys(&plan, at, &meta),
        b.oidc_rotate_keys(&plan, at, &meta),
        s.oidc_rotate_keys(&plan, at, &meta)
    );
    let published = [r1, r2, r3].into_iter().map(|r| r.expect("rotate").published()).sum::<u64>();
    assert_eq!(published, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM oidc_signing_keys WHERE alg = 'ES256'").await, 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM oidc_signing_keys WHERE retired_at IS NULL").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'oidc.key_rotated'").await, 1);

    // The new key, made by one instance, is used by the other once it signs: one current key.
    app.advance(PUBLICATION_DELAY);
    let c = claims(&app, 60);
    let (a, bb) = tokio::join!(s.oidc_sign(&plan, SigningAlg::Es256, &c), b.oidc_sign(&plan, SigningAlg::Es256, &c));
    let (a, bb) = (a.expect("sign"), bb.expect("sign"));
    assert_eq!(kid(&a), kid(&bb));
    assert_ne!(kid(&a), kid(&t1));
    assert!(b.oidc_verify(&plan, &a).await.is_ok());
    assert!(s.oidc_verify(&plan, &bb).await.is_ok());
    b.db.close().await;
    app.stop().await;
}
both!(concurrent_rotations_and_first_keys_make_one_key);

async fn another_instances_new_key_is_picked_up(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let s = svc(&app);
    let b = second_instance(&app).await;
    let plan = app.plan.clone();
    // B has read the plan's keys (its first ES256 key, made by that read); A makes the first
    // RS256 key at once and signs.
    assert_eq!(b.oidc_jwks(&plan).await.expect("jwks").keys.len(), 1);
    let t = s.oidc_sign(&plan, SigningAlg::Rs256, &claims(&app, 60)).await.expect("sign");
    // B knows no such kid, reads the keys again, and accepts it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(b.oidc_verify(&plan, &t).await.is_ok());
    b.db.close().await;
    app.stop().await;
}
both!(another_instances_new_key_is_picked_up);

async fn the_daily_job_rotates_keys_after_ninety_days(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let s = svc(&app);
    let plan = app.plan.clone();
    let first = s.oidc_sign(&plan, SigningAlg::Es256, &claims(&app, 60)).await.expect("sign");
    let rs = s.oidc_sign(&plan, SigningAlg::Rs256, &claims(&app, 60)).await.expect("sign");
    let run = || async { s.run_daily_job_for(Timestamp(now(&app)), gatehouse_services::jobs::DailyRun::Forced).await };
    let r = run().await.expect("daily");
    assert_eq!((r.oidc_keys_rotated, r.oidc_keys_deleted), (0, 0));
    app.advance(ROTATE_AFTER);
    let r = run().await.expect("daily");
    assert_eq!(r.oidc_keys_rotated, 2, "ES256 and RS256");
    let r = run().await.expect("daily");
    assert_eq!(r.oidc_keys_rotated, 0, "a new key waits");
    app.advance(PUBLICATION_DELAY);
    let next = s.oidc_sign(&plan, SigningAlg::Es256, &claims(&app, 60)).await.expect("sign");
    assert_ne!(kid(&next), kid(&first));
    app.advance(Duration::seconds(MAX_TOKEN_LIFETIME.as_secs() + 3600));
    let r = run().await.expect("daily");
    assert_eq!(r.oidc_keys_deleted, 2);
    let kids = jwks_kids(&app, "/p/test").await;
    assert!(!kids.contains(&kid(&first)) && !kids.contains(&kid(&rs)), "{kids:?}");
    assert_eq!(kids.len(), 2);
    app.stop().await;
}
both!(the_daily_job_rotates_keys_after_ninety_days);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_rotate_keys_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("g.db").display());
    let gatehouse = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(args)
            .env("RUST_LOG", "error")
            .output()
            .expect("run gatehouse");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, _, err) =
        gatehouse(&["plan", "create", "--slug", "northwind", "--name", "Northwind Health", "--database-url", &url]);
    assert!(ok, "{err}");
    let (ok, out, err) = gatehouse(&["oidc", "rotate-keys", "--plan", "northwind", "--database-url", &url]);
    assert!(ok, "{err}");
    assert!(out.contains("plan northwind: ES256 key ") && out.contains("published; it signs from"), "{out}");
    assert!(out.contains("RS256: no keys"), "{out}");
    let (ok, out, err) = gatehouse(&["oidc", "rotate-keys", "--plan", "northwind", "--database-url", &url]);
    assert!(ok, "{err}");
    assert!(out.contains("ES256 key "), "the first key signs at once, so a second rotation publishes the next: {out}");
    let (ok, out, _) = gatehouse(&["oidc", "rotate-keys", "--plan", "northwind", "--database-url", &url]);
    assert!(ok && out.contains("already published and waiting"), "{out}");
    let (ok, _, err) = gatehouse(&["oidc", "rotate-keys", "--plan", "nope", "--database-url", &url]);
    assert!(!ok && err.contains("no such plan"), "{err}");
}
