//! `gatehouse demo` data: a plan, a roster, active accounts that can sign in, and a pending
//! invitation in the outbox: ocarter's, to Lakeside Family Medicine, on her "Manage Pending
//! Users"; Maria Lopez signs up from it straight into Lakeside.

use crate::both;
use crate::support::{Backend, TestApp, link_in, path_of};
use reqwest::StatusCode;
use serde_json::json;

async fn demo_data_is_complete_and_usable(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    assert_eq!(app.plan.row.name, "Chorus Community Health Plan");
    assert_eq!(app.count("SELECT COUNT(*) FROM practices").await, 3);
    assert_eq!(app.count("SELECT COUNT(*) FROM providers").await, 5);
    // The five demo accounts and Olivia's three colleagues (who have no demo password).
    let colleagues = i64::try_from(gatehouse::demo::COLLEAGUES.len()).expect("count");
    assert_eq!(colleagues, 3);
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE status = 'active'").await, 5 + colleagues);
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE staff_role = 'plan_admin'").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliations WHERE is_admin = 1").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE status = 'invited'").await, 1);
    assert!(app.last_message_to("maria.lopez@lakeside-family.example.org").await.is_some());
    // The sample OpenID Connect client authenticates with the printed id and secret.
    let sample = &gatehouse::demo::SAMPLE_CLIENT;
    let svc = &app.running.services;
    let client = svc
        .authenticate_oidc_client(app.plan.id(), sample.client_id, Some(sample.secret))
        .await
        .expect("sample client");
    assert_eq!(client.name, "Eligibility & Claims (sample)");
    assert!(client.registration.first_party);
    assert!(client.registration.matches_redirect("http://127.0.0.1:8000/callback"));
    assert!(client.registration.matches_post_logout("http://127.0.0.1:8000/"));
    // Loading twice keeps the data as it is.
    let (_, fresh) = gatehouse::demo::load(&app.running.services).await.expect("reload");
    assert!(!fresh);
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 6 + colleagues);
    // A demo account signs in with the printed password; its code goes to its phone.
    let acc = &gatehouse::demo::ACCOUNTS[0];
    let r = app
        .api()
        .post(app.url("/api/v1/signin"))
        .json(&json!({"username": acc.username, "password": acc.password}))
        .send()
        .await
        .expect("signin");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(app.last_message_to(acc.phone).await.is_some());
    app.stop().await;
}
both!(demo_data_is_complete_and_usable);

async fn marias_invitation_is_ocarters_to_lakeside(backend: Backend) {
    let Some(app) = TestApp::start_demo(backend).await else { return };
    let maria = gatehouse::demo::MARIA_EMAIL;
    // The invitation is Olivia Carter's: her name is in the email, it is on her pending list.
    let mail = app.last_message_to(maria).await.expect("Maria's invitation in the outbox");
    assert!(mail.body_text.contains("Olivia Carter"), "{}", mail.body_text);
    let ocarter = &gatehouse::demo::ACCOUNTS[0];
    assert_eq!(ocarter.username, "ocarter");
    let c = app.signed_in_as(ocarter.username, ocarter.password, ocarter.phone).await;
    let (s, page) = app.page(&c, "/practice/pending").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains(maria) && page.contains("Maria Lopez"), "{page}");
    let lakeside = "SELECT COUNT(*) FROM affiliations a JOIN users u ON u.id = a.user_id \
                    JOIN practices p ON p.id = a.practice_id WHERE u.email = 'maria.lopez@lakeside-family.example.org' \
                    AND p.tax_id = '825671892' AND a.is_admin = 0";
    assert_eq!(app.count(lakeside).await, 1);

    // Maria signs up from the emailed link and lands acting for Lakeside, not at association.
    let link = path_of(&link_in(&mail.body_text).expect("link"));
    let m = app.browser();
    let (s, page, _) = app.visit(&m, &link).await;
    assert!(s == StatusCode::OK && page.contains("Welcome, Maria Lopez"), "{page}");
    let token = link.split("token=").nth(1).expect("token");
    let password = "copper meadow lantern 42";
    let signup = [("token", token), ("username", "mlopez"), ("password", password), ("confirm_password", password)];
    let (s, _, loc) = app.post_form(&m, &link, "/signup", &signup).await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/two-step/setup")));
    let phone = [("action", "send"), ("country_code", "1"), ("phone", "206-555-0150"), ("method", "text")];
    let (s, _, _) = app.post_form(&m, "/two-step/setup", "/two-step/setup", &phone).await;
    assert_eq!(s, StatusCode::OK);
    let code = app.last_code("+12065550150").await;
    let verify = [("action", "verify"), ("code", code.as_str())];
    let (_, _, loc) = app.post_form(&m, "/two-step/setup", "/two-step/setup", &verify).await;
    assert_eq!(loc.as_deref(), Some("/terms"));
    let terms = [("version", "1"), ("first_name", "Maria"), ("last_name", "Lopez")];
    let (_, _, loc) = app.post_form(&m, "/terms", "/terms", &terms).await;
    assert_eq!(loc.as_deref(), Some("/"));
    let (s, page, loc) = app.visit(&m, "/").await;
    assert_eq!((s, loc), (StatusCode::OK, None), "home, not sent to associate");
    assert!(page.contains("Lakeside Family Medicine") && !page.contains("Associate Your Account"), "{page}");
    // Off Olivia's pending list once signed up.
    let (_, page) = app.page(&c, "/practice/pending").await;
    assert!(!page.contains(maria), "{page}");
    app.stop().await;
}
both!(marias_invitation_is_ocarters_to_lakeside);
