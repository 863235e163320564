//! An application signs a person in through Gatehouse, in headless Chromium (issue 18): the
//! application's link to `/oauth2/authorize`, Gatehouse's sign-in and two-step pages, the consent
//! page of a third-party application, and back to the application's registered redirect URI with a
//! code that it exchanges. Every Gatehouse page gets the accessibility checks and a screenshot.

use crate::both;
use crate::browser::{Browser, Journey, backend_name, click, code_from_outbox, css, type_into, wait_h1};
use crate::oidc_flow::{VERIFIER, query_of_at};
use crate::support::{Backend, TEST_PASSWORD, TestApp};
use std::sync::{Arc, Mutex};

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The application's callback: a page of its own, remembering the query it was sent.
async fn application(seen: Arc<Mutex<Vec<String>>>) -> String {
    let app = axum::Router::new().route(
        "/callback",
        axum::routing::get(|axum::extract::RawQuery(q): axum::extract::RawQuery| async move {
            seen.lock().unwrap().push(q.unwrap_or_default());
            axum::response::Html("<!doctype html><html lang=en><title>Claims</title><main><h1>Back at the application</h1></main></html>")
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    base
}

async fn an_application_signs_a_person_in(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let Some(browser) = Browser::launch().await else { return };
    let ana = app.user("ana", "Ana", "Lopez", 1, None).await;
    app.affiliate(ana).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let callback = format!("{}/callback", application(seen.clone()).await);
    let svc = &app.running.services;
    let form = gatehouse_services::applications::ApplicationForm {
        name: "Claims Helper",
        registration: gatehouse_domain::client_registration::RegistrationInput {
            client_type: "confidential",
            redirect_uris: &callback,
            post_logout_redirect_uris: &callback,
            scopes: "openid profile email",
            first_party: false,
            id_token_alg: "ES256",
            backchannel_logout_uri: "",
        },
    };
    let reg = svc
        .register_application(&svc.operator_grant(&app.plan), &app.plan, &form, &gatehouse_services::RequestMeta::cli())
        .await
        .expect("register");
    let c = &browser.client;
    let base = app.base.clone();
    let mut j = Journey { c, name: "oidc", backend: backend_name(backend), step: 0 };

    // The application's link: the scopes in any order name the same set.
    let link = |state: &str, scope: &str| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("response_type", "code")
            .append_pair("client_id", &reg.row.client_id)
            .append_pair("redirect_uri", &callback)
            .append_pair("scope", scope)
            .append_pair("state", state)
            .append_pair("code_challenge", CHALLENGE)
            .append_pair("code_challenge_method", "S256");
        format!("{base}/oauth2/authorize?{}", q.finish())
    };
    c.goto(&link("xyz", "openid email profile")).await.expect("open the application's link");
    wait_h1(c, "Sign in").await;
    j.page("signin").await;
    type_into(c, "#username", "ana").await;
    type_into(c, "#password", TEST_PASSWORD).await;
    click(c, "//main", "Sign in").await;
    wait_h1(c, "Two-step verification").await;
    let code = code_from_outbox(c, &base, "+12065550001").await;
    type_into(c, "#code", &code).await;
    click(c, "//main", "Verify").await;
    wait_h1(c, "Allow Claims Helper to use your portal account?").await;
    j.page("consent").await;
    let page = css(c, "main").await.text().await.expect("consent text");
    assert!(page.contains("Your email address"), "{page}");
    click(c, "//main", "Allow").await;
    wait_h1(c, "Back at the application").await;

    let url = c.current_url().await.expect("url").to_string();
    let got = query_of_at(&callback, &url);
    assert_eq!(got["state"], "xyz");
    assert_eq!(seen.lock().unwrap().len(), 1);
    let r = app
        .api()
        .post(app.url("/oauth2/token"))
        .basic_auth(&reg.row.client_id, reg.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", got["code"].as_str()),
            ("redirect_uri", callback.as_str()),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), reqwest::StatusCode::OK);

    // Asked again: consent is remembered, so the browser goes straight back with a code.
    c.goto(&link("again", "profile openid email")).await.expect("open the link again");
    wait_h1(c, "Back at the application").await;
    assert_eq!(seen.lock().unwrap().len(), 2);

    // The application sends the person to sign out without an ID token: Gatehouse asks first,
    // and the answer (a form whose redirect ends at the application) signs out and goes back.
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", &reg.row.client_id).append_pair("post_logout_redirect_uri", &callback);
    c.goto(&format!("{base}/oauth2/logout?{}&state=bye", q.finish())).await.expect("open the logout link");
    wait_h1(c, "Sign out of the portal?").await;
    j.page("logout-ask").await;
    click(c, "//main", "Sign out").await;
    wait_h1(c, "Back at the application").await;
    assert_eq!(seen.lock().unwrap().last().map(String::as_str), Some("state=bye"));
    c.goto(&format!("{base}/")).await.expect("back to the portal");
    wait_h1(c, "Sign in").await;
    browser.close().await;
    app.stop().await;
}
both!(an_application_signs_a_person_in);
