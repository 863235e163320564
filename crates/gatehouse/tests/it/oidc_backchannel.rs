//! Back-channel logout (issue 18): an application that registered a back-channel logout URI is
//! sent a signed logout token, after commit, whenever a session it was given a code in ends;
//! the ID token's `sid` names that session.

use crate::both;
use crate::oidc_flow::{CALLBACK, Rp, code_for, redeem, token};
use crate::support::{Backend, TestApp};
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// A relying party's back-channel endpoint: keeps every form posted to it and answers with the
/// statuses given, in turn (then 200).
#[derive(Clone, Default)]
struct Receiver {
    posted: Arc<Mutex<Vec<String>>>,
    answers: Arc<Mutex<Vec<StatusCode>>>,
}

impl Receiver {
    async fn start(answers: Vec<StatusCode>) -> (Self, String) {
        let r = Receiver { answers: Arc::new(Mutex::new(answers)), ..Default::default() };
        let app = axum::Router::new()
            .route(
                "/backchannel",
                axum::routing::post(|State(r): State<Receiver>, body: String| async move {
                    r.posted.lock().unwrap().push(body);
                    let mut answers = r.answers.lock().unwrap();
                    if answers.is_empty() { StatusCode::OK } else { answers.remove(0) }
                }),
            )
            .with_state(r.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}/backchannel", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        (r, uri)
    }

    fn tokens(&self) -> Vec<String> {
        self.posted
            .lock()
            .unwrap()
            .iter()
            .map(|body| {
                let form: Vec<(String, String)> = serde_urlencoded::from_str(body).unwrap();
                assert_eq!(form.len(), 1, "{body}");
                assert_eq!(form[0].0, "logout_token");
                form[0].1.clone()
            })
            .collect()
    }
}

/// Registers a first-party confidential client whose back-channel logout URI is `uri`.
async fn register_with_backchannel(app: &TestApp, uri: &str) -> Rp {
    use gatehouse_domain::client_registration::RegistrationInput;
    use gatehouse_services::applications::ApplicationForm;
    let svc = &app.running.services;
    let form = ApplicationForm {
        name: "Claims",
        registration: RegistrationInput {
            client_type: "confidential",
            redirect_uris: CALLBACK,
            post_logout_redirect_uris: "http://127.0.0.1:9/",
            scopes: "openid profile",
            first_party: true,
            id_token_alg: "ES256",
            backchannel_logout_uri: uri,
        },
    };
    let r = svc
        .register_application(&svc.operator_grant(&app.plan), &app.plan, &form, &gatehouse_services::RequestMeta::cli())
        .await
        .expect("register");
    Rp { client_id: r.row.client_id, secret: r.secret }
}

/// The claims of a JWT after checking its signature against the plan's JWKS; and its header.
async fn verified(app: &TestApp, jwt: &str, aud: &str) -> (jsonwebtoken::Header, Value) {
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    let (_, jwks) = app.call("GET", "/oauth2/jwks", None, None).await;
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).unwrap();
    let jwk = set.find(header.kid.as_deref().unwrap()).expect("the kid is published");
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&[aud]);
    v.set_issuer(&[app.running.services.plan_url(&app.plan)]);
    // The test clock is not the real one; expiry is checked below against the token's own iat.
    v.validate_exp = false;
    v.set_required_spec_claims(&["iss", "aud"]);
    let data = jsonwebtoken::decode::<Value>(jwt, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &v).unwrap();
    (header, data.claims)
}

async fn deliver(app: &TestApp) -> usize {
    app.running.deliverer.deliver_logout_notices().await.unwrap()
}

async fn signing_out_sends_a_logout_token_to_the_application(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let ana = app.user("ana", "Ana", "Lopez", 1, None).await;
    app.affiliate(ana).await;
    let (rx, uri) = Receiver::start(vec![]).await;
    let rp = register_with_backchannel(&app, &uri).await;
    let quiet = crate::oidc_flow::register(&app, false, true).await;

    let (browser, code) = code_for(&app, &rp, "ana", 1).await;
    let (_, t) = redeem(&app, &rp, &code).await;
    let (_, id) = verified(&app, t["id_token"].as_str().unwrap(), &rp.client_id).await;
    let sid = id["sid"].as_str().expect("the ID token names its session").to_owned();
    assert!(sid.len() >= 16 && !sid.chars().all(|c| c.is_ascii_digit()), "sid is opaque: {sid}");
    // Another sign-in of the same person: another session, another sid, and untouched.
    let (_other_browser, code2) = code_for(&app, &quiet, "ana", 1).await;
    let (_, t2) = redeem(&app, &quiet, &code2).await;
    let (_, id2) = verified(&app, t2["id_token"].as_str().unwrap(), &quiet.client_id).await;
    assert_ne!(id2["sid"], id["sid"]);

    // Nothing is owed while the session lives.
    assert_eq!(deliver(&app).await, 0);
    let (s, _, _) = app.post_form(&browser, "/sessions", "/signout", &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT COUNT(*) FROM oidc_logout_notices").await, 1, "one notice, for the client with a URI");
    assert_eq!(deliver(&app).await, 1);
    let tokens = rx.tokens();
    assert_eq!(tokens.len(), 1);
    let (header, c) = verified(&app, &tokens[0], &rp.client_id).await;
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    assert_eq!(c["sub"], id["sub"]);
    assert_eq!(c["sid"], sid.as_str());
    assert_eq!(c["events"]["http://schemas.openid.net/event/backchannel-logout"], serde_json::json!({}));
    assert!(c.get("nonce").is_none());
    assert!(c["jti"].as_str().is_some_and(|j| j.len() >= 20));
    assert!(c["exp"].as_i64().unwrap() > c["iat"].as_i64().unwrap());
    assert_eq!(app.count("SELECT COUNT(*) FROM oidc_logout_notices WHERE delivered_at IS NOT NULL").await, 1);
    // Delivered once: a later pass sends nothing again.
    assert_eq!(deliver(&app).await, 0);
    assert_eq!(rx.tokens().len(), 1);
    // The other session still works.
    let (s, _) = token(
        &app,
        &quiet,
        &[("grant_type", "refresh_token"), ("refresh_token", t2["refresh_token"].as_str().unwrap())],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    app.stop().await;
}
both!(signing_out_sends_a_logout_token_to_the_application);

async fn a_failed_notice_is_retried_later_and_a_reused_refresh_token_sends_one(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let ana = app.user("ana", "Ana", "Lopez", 1, None).await;
    app.affiliate(ana).await;
    let (rx, uri) = Receiver::start(vec![StatusCode::SERVICE_UNAVAILABLE]).await;
    let rp = register_with_backchannel(&app, &uri).await;
    let (_browser, code) = code_for(&app, &rp, "ana", 1).await;
    let (_, t) = redeem(&app, &rp, &code).await;
    let refresh = t["refresh_token"].as_str().unwrap();
    let (s, _) = token(&app, &rp, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!(s, StatusCode::OK);
    // The rotated token used again: the family and the session end, and the application is told.
    let (s, _) = token(&app, &rp, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(deliver(&app).await, 1);
    assert_eq!(rx.tokens().len(), 1, "tried once, answered 503");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM oidc_logout_notices WHERE delivered_at IS NULL AND attempts = 1").await,
        1
    );
    // Not due again until the backoff has passed.
    assert_eq!(deliver(&app).await, 0);
    app.advance(gatehouse_domain::Duration::seconds(16));
    assert_eq!(deliver(&app).await, 1);
    assert_eq!(rx.tokens().len(), 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM oidc_logout_notices WHERE delivered_at IS NOT NULL").await, 1);
    app.stop().await;
}
both!(a_failed_notice_is_retried_later_and_a_reused_refresh_token_sends_one);

async fn deactivation_by_the_help_desk_and_a_removed_uri(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let ana = app.user("ana", "Ana", "Lopez", 1, None).await;
    app.affiliate(ana).await;
    let bo = app.user("bo", "Bo", "Diaz", 2, None).await;
    app.affiliate(bo).await;
    app.user("hdesk", "Hal", "Desk", 1002, Some("help_desk")).await;
    let (rx, uri) = Receiver::start(vec![]).await;
    let rp = register_with_backchannel(&app, &uri).await;
    let (_a, code) = code_for(&app, &rp, "ana", 1).await;
    let (_, t) = redeem(&app, &rp, &code).await;
    let (_, id) = verified(&app, t["id_token"].as_str().unwrap(), &rp.client_id).await;
    let (_b, code) = code_for(&app, &rp, "bo", 2).await;
    redeem(&app, &rp, &code).await;

    // The help desk deactivates Ana: her session ends, and the application hears of it.
    let desk = app.signed_in_browser("hdesk", 1002).await;
    let deactivate = format!("/admin/users/{}/deactivate", ana.0);
    assert_eq!(app.submit(&desk, &deactivate, &deactivate, &[("reason", "Left the practice")]).await.0, StatusCode::OK);
    assert_eq!(deliver(&app).await, 1);
    let tokens = rx.tokens();
    assert_eq!(tokens.len(), 1);
    let (_, c) = verified(&app, &tokens[0], &rp.client_id).await;
    assert_eq!((&c["sub"], &c["sid"]), (&id["sub"], &id["sid"]));

    // The application no longer takes back-channel logout: Bo's sign-out owes it nothing.
    app.sql("UPDATE applications SET backchannel_logout_uri = NULL").await;
    app.sql(&format!("UPDATE sessions SET ended_at = {} WHERE user_id = {}", 1, bo.0)).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM oidc_logout_notices").await, 1, "no URI, no notice");
    assert_eq!(deliver(&app).await, 0);
    assert_eq!(rx.tokens().len(), 1);
    app.stop().await;
}
both!(deactivation_by_the_help_desk_and_a_removed_uri);

/// Unless the operator allows any address, a back-channel logout URI on this machine or a
/// private network is refused at registration, and one stored before the rule is never posted
/// to: a plan administrator cannot make the server reach its own network.
async fn logout_notices_go_only_to_public_addresses_by_default(backend: Backend) {
    use gatehouse_domain::client_registration::{LogoutDestinations, PRIVATE_LOGOUT_URI, RegistrationField};
    use gatehouse_services::applications::{ApplicationError, ApplicationForm};
    let Some(app) = TestApp::start_with(backend, |c| c.logout_destinations = LogoutDestinations::Public).await else {
        return;
    };
    let ana = app.user("ana", "Ana", "Lopez", 1, None).await;
    app.affiliate(ana).await;
    let (rx, uri) = Receiver::start(vec![]).await;
    let svc = &app.running.services;
    let grant = svc.operator_grant(&app.plan);
    let meta = gatehouse_services::RequestMeta::cli();
    for private in [uri.as_str(), "https://localhost/bc", "https://169.254.169.254/latest", "https://[fd00::1]/bc"] {
        let mut form = ApplicationForm { name: "Claims", ..Default::default() };
        form.registration.client_type = "confidential";
        form.registration.redirect_uris = CALLBACK;
        form.registration.id_token_alg = "ES256";
        form.registration.first_party = true;
        form.registration.backchannel_logout_uri = private;
        match svc.register_application(&grant, &app.plan, &form, &meta).await {
            Err(ApplicationError::Invalid(e)) => {
                assert_eq!(e.get(RegistrationField::BackchannelLogoutUri), Some(PRIVATE_LOGOUT_URI), "{private}")
            }
            other => panic!("{private} registered: {:?}", other.map(|r| r.row.client_id)),
        }
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 0, "nothing registered");

    // One registered with a public address, then pointed here behind the form's back.
    let rp = register_with_backchannel(&app, "https://claims.example.org/backchannel").await;
    app.sql(&format!("UPDATE applications SET backchannel_logout_uri = '{uri}'")).await;
    let (browser, code) = code_for(&app, &rp, "ana", 1).await;
    redeem(&app, &rp, &code).await;
    let (s, _, _) = app.post_form(&browser, "/sessions", "/signout", &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(deliver(&app).await, 1);
    assert!(rx.tokens().is_empty(), "nothing was posted to this machine");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM oidc_logout_notices WHERE abandoned_at IS NOT NULL \
             AND last_error = 'the address is on a private network'"
        )
        .await,
        1,
        "given up at once, not retried"
    );
    app.stop().await;
}
both!(logout_notices_go_only_to_public_addresses_by_default);

/// A session left open ends at its idle limit even if nobody presents it again: the sweep ends
/// and audits it, the application it signed in to is told, and "Your sessions" lists only live
/// ones (even before the sweep).
async fn a_session_left_open_ends_on_time_and_the_application_is_told(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let ana = app.user("ana", "Ana", "Lopez", 1, None).await;
    app.affiliate(ana).await;
    let (rx, uri) = Receiver::start(vec![]).await;
    let rp = register_with_backchannel(&app, &uri).await;
    let (_left_open, code) = code_for(&app, &rp, "ana", 1).await;
    let (_, t) = redeem(&app, &rp, &code).await;
    let svc = &app.running.services;
    assert_eq!(svc.end_timed_out_sessions().await.expect("sweep"), 0, "nothing is past its limit yet");
    app.advance(gatehouse_domain::Duration::seconds(app.plan.session_policy().idle.as_secs() + 60));
    let now = app.api_session("ana", crate::support::TEST_PASSWORD, "+12065550001").await;
    let (s, listed) = app.call("GET", "/api/v1/sessions", Some(&now), None).await;
    assert_eq!((s, listed.as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{listed}");
    assert_eq!(svc.end_timed_out_sessions().await.expect("sweep"), 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'session.timed_out'").await, 1);
    assert_eq!(deliver(&app).await, 1);
    assert_eq!(rx.tokens().len(), 1, "the application was told");
    let (s, _) =
        token(&app, &rp, &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())])
            .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "its refresh token ended with it");
    // The live session is untouched, and a second sweep finds nothing.
    assert_eq!(app.call("GET", "/api/v1/sessions", Some(&now), None).await.0, StatusCode::OK);
    assert_eq!(svc.end_timed_out_sessions().await.expect("sweep"), 0);
    app.stop().await;
}
both!(a_session_left_open_ends_on_time_and_the_application_is_told);
