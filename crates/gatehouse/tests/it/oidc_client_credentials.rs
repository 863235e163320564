//! The client credentials grant (issue 18): a confidential application's own access token, and
//! the permission check API accepting it as `Bearer` beside HTTP Basic.

use crate::both;
use crate::oidc_flow::{Rp, code_for, redeem, register, token, userinfo};
use crate::support::{Backend, TestApp};
use gatehouse_domain::ApplicationId;
use gatehouse_domain::client_registration::RegistrationInput;
use gatehouse_services::RequestMeta;
use gatehouse_services::applications::ApplicationForm;
use reqwest::StatusCode;
use serde_json::{Value, json};

const CHECK: &str = "/api/v1/authz/check";

/// Asks an application token as `rp` by HTTP Basic.
async fn app_token(app: &TestApp, rp: &Rp) -> (StatusCode, Value) {
    token(app, rp, &[("grant_type", "client_credentials")]).await
}

/// Asks the permission check API of `path_prefix` ("" for the test plan) with a bearer token.
async fn check_with(app: &TestApp, prefix: &str, bearer: &str, user: i64) -> (StatusCode, Value) {
    let body = json!({"user_id": user, "permission": "claims.view", "tax_id": "825671892"});
    let r = app.api().post(app.url(&format!("{prefix}{CHECK}"))).bearer_auth(bearer).json(&body).send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn issued(app: &TestApp) -> i64 {
    app.count(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'oidc.token_issued' AND detail LIKE '%client_credentials%'",
    )
    .await
}

async fn tokens_by_basic_and_post_answer_the_permission_check_api(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let ana = app.user("ana", "Ana", "Lopez", 1, None).await;
    app.affiliate(ana).await;
    let rp = register(&app, false, true).await;
    let secret = rp.secret.clone().unwrap();

    let (s, t) = app_token(&app, &rp).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 600);
    assert_eq!(t["scope"], "authz");
    assert!(t.get("refresh_token").is_none() && t.get("id_token").is_none(), "{t}");
    let access = t["access_token"].as_str().unwrap().to_owned();
    let svc = &app.running.services;
    let claims = svc.oidc_verify(&app.plan, &access).await.unwrap();
    assert_eq!(claims["sub"], rp.client_id.as_str());
    assert_eq!(claims["aud"], svc.authz_audience(&app.plan).as_str());
    assert_eq!(claims["gh_kind"], "application");
    assert_eq!(issued(&app).await, 1);

    // client_secret_post, and the one scope it may name; another scope is refused.
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", rp.client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("scope", "authz"),
    ];
    let r = app.api().post(app.url("/oauth2/token")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let t2: Value = r.json().await.unwrap();
    assert_eq!(issued(&app).await, 2);
    let (s, e) = token(&app, &rp, &[("grant_type", "client_credentials"), ("scope", "openid")]).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_scope")));
    assert_eq!(issued(&app).await, 2);

    // Both answer a permission check; HTTP Basic still does.
    for bearer in [access.as_str(), t2["access_token"].as_str().unwrap()] {
        let (s, v) = check_with(&app, "", bearer, ana.0).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert!(v.get("allowed").is_some(), "{v}");
    }
    let body = json!({"user_id": ana.0, "permission": "claims.view", "tax_id": "825671892"});
    let r = app.api().post(app.url(CHECK)).basic_auth(&rp.client_id, Some(&secret)).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // A made-up bearer: 401, as without credentials.
    let (s, v) = check_with(&app, "", "not.a.token", ana.0).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));

    // The application token is no person's: userinfo refuses it.
    assert_eq!(userinfo(&app, &access).await.0, StatusCode::UNAUTHORIZED);
    app.stop().await;
}
both!(tokens_by_basic_and_post_answer_the_permission_check_api);

async fn public_clients_and_wrong_secrets_get_no_token(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let public = register(&app, true, false).await;
    let (s, e) = app_token(&app, &public).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unauthorized_client")), "{e}");
    let rp = register(&app, false, false).await;
    let wrong = Rp { client_id: rp.client_id.clone(), secret: Some("not-the-secret".into()) };
    let (s, e) = app_token(&app, &wrong).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    let form = [("grant_type", "client_credentials"), ("client_id", rp.client_id.as_str()), ("client_secret", "nope")];
    let r = app.api().post(app.url("/oauth2/token")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(issued(&app).await, 0);
    app.stop().await;
}
both!(public_clients_and_wrong_secrets_get_no_token);

async fn a_persons_token_is_not_an_applications(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let ana = app.user("ana", "Ana", "Lopez", 1, None).await;
    app.affiliate(ana).await;
    let rp = register(&app, false, true).await;
    let (_browser, code) = code_for(&app, &rp, "ana", 1).await;
    let (s, t) = redeem(&app, &rp, &code).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let person = t["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, person).await.0, StatusCode::OK);
    assert_eq!(check_with(&app, "", person, ana.0).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(check_with(&app, "", t["id_token"].as_str().unwrap(), ana.0).await.0, StatusCode::UNAUTHORIZED);
    app.stop().await;
}
both!(a_persons_token_is_not_an_applications);

async fn other_plans_revoked_and_expired_tokens_are_refused(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let ana = app.user("ana", "Ana", "Lopez", 1, None).await;
    app.affiliate(ana).await;
    let svc = &app.running.services;

    // Another plan's application and token: good there, 401 here.
    let other = app.other_plan("northwind", None).await;
    let form = ApplicationForm {
        name: "Northwind claims",
        registration: RegistrationInput {
            client_type: "confidential",
            redirect_uris: "http://127.0.0.1:9/cb",
            post_logout_redirect_uris: "",
            scopes: "openid",
            first_party: false,
            id_token_alg: "ES256",
            backchannel_logout_uri: "",
        },
    };
    let theirs =
        svc.register_application(&svc.operator_grant(&other), &other, &form, &RequestMeta::cli()).await.unwrap();
    let r = app
        .api()
        .post(app.url("/p/northwind/oauth2/token"))
        .basic_auth(&theirs.row.client_id, theirs.secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.unwrap();
    let their_token = t["access_token"].as_str().unwrap();
    assert_eq!(check_with(&app, "/p/northwind", their_token, ana.0).await.0, StatusCode::OK);
    assert_eq!(check_with(&app, "", their_token, ana.0).await.0, StatusCode::UNAUTHORIZED);

    // Expired: 11 minutes later.
    let rp = register(&app, false, true).await;
    let (_, t) = app_token(&app, &rp).await;
    let old = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(check_with(&app, "", &old, ana.0).await.0, StatusCode::OK);
    app.advance(gatehouse_domain::Duration::minutes(11));
    assert_eq!(check_with(&app, "", &old, ana.0).await.0, StatusCode::UNAUTHORIZED);

    // Revoked: its unexpired token stops at once.
    let (_, t) = app_token(&app, &rp).await;
    let live = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(check_with(&app, "", &live, ana.0).await.0, StatusCode::OK);
    let id: i64 = sqlx::query_scalar("SELECT id FROM applications WHERE client_id = $1")
        .bind(&rp.client_id)
        .fetch_one(svc.db.pool())
        .await
        .unwrap();
    svc.revoke_application(&svc.operator_grant(&app.plan), &app.plan, ApplicationId(id), &RequestMeta::cli())
        .await
        .unwrap();
    assert_eq!(check_with(&app, "", &live, ana.0).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app_token(&app, &rp).await.0, StatusCode::UNAUTHORIZED);
    app.stop().await;
}
both!(other_plans_revoked_and_expired_tokens_are_refused);
