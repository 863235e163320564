//! Throttles that cannot be turned on their owner: the sign-in lock across addresses decays,
//! the client address is the one a trusted proxy vouches for, reset codes have their own send
//! budget, wrong codes are counted atomically, and every sign-in path costs one Argon2id verify.

use crate::both;
use crate::support::{Backend, TEST_PASSWORD, TestApp};
use gatehouse_domain::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PHONE: &str = "+12065559975";

/// POSTs JSON to the API, optionally as `bearer` and with an `X-Forwarded-For` header.
async fn post(app: &TestApp, path: &str, bearer: Option<&str>, xff: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut r = app.api().post(app.url(path)).json(&body);
    if let Some(t) = bearer {
        r = r.bearer_auth(t);
    }
    if let Some(x) = xff {
        r = r.header("x-forwarded-for", x);
    }
    let resp = r.send().await.expect("request");
    let s = resp.status();
    (s, resp.json().await.unwrap_or(Value::Null))
}

async fn sign_in(app: &TestApp, username: &str, password: &str, xff: &str) -> (StatusCode, Value) {
    post(app, "/api/v1/signin", None, Some(xff), json!({"username": username, "password": password})).await
}

async fn spread_out_failures_do_not_keep_an_account_locked(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |c| c.trust_proxy = true).await else { return };
    app.user("jpatel", "Jay", "Patel", 9975, None).await;
    // 100 failures from 100 addresses lock the name everywhere, the owner's address too.
    for i in 0..100 {
        let (s, _) = sign_in(&app, "jpatel", "wrong guess", &format!("198.51.100.{}", i + 1)).await;
        let want = if i < 99 { StatusCode::UNAUTHORIZED } else { StatusCode::TOO_MANY_REQUESTS };
        assert_eq!(s, want, "failure {}", i + 1);
    }
    let (s, v) = sign_in(&app, "jpatel", TEST_PASSWORD, "203.0.113.5").await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("locked")));
    // An unknown name gets the same lock after the same failures: nothing tells them apart.
    for i in 0..100 {
        sign_in(&app, "nobody.here", "wrong guess", &format!("198.51.100.{}", i + 1)).await;
    }
    let (s2, v2) = sign_in(&app, "nobody.here", TEST_PASSWORD, "203.0.113.5").await;
    assert_eq!((s2, &v2), (s, &v));
    // Then one failure every quarter of an hour, from ever new addresses: the old failures have
    // left the window, so none of them locks the name again and the owner always gets in.
    for round in 0..4 {
        app.advance(Duration::seconds(15 * 60 + 1));
        let (s, _) = sign_in(&app, "jpatel", "wrong guess", &format!("192.0.2.{}", round + 1)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "round {round}: a single failure does not lock");
        app.advance(Duration::minutes(1));
        let (s, v) = sign_in(&app, "jpatel", TEST_PASSWORD, "203.0.113.5").await;
        assert_eq!((s, v["next"].as_str()), (StatusCode::OK, Some("two_step_code")), "round {round}: {v}");
    }
    app.stop().await;
}
both!(spread_out_failures_do_not_keep_an_account_locked);
