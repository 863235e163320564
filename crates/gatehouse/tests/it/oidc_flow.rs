//! The OpenID Connect authorization code flow (issue 18), over HTTP against the real server.

use crate::both;
use crate::support::{Backend, TEST_PASSWORD, TestApp, csrf};
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
