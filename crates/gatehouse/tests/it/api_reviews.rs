//! Access reviews (issue 17) over the JSON API, on both databases: an administrator lists,
//! reads, decides (keep, change with a provider list, deactivate) and signs (the wrong name
//! refused, nothing signed); the help desk reviews another practice on its behalf and signs;
//! plan staff's list, start, reminder and evidence export (one CSV row per decision). And the
//! refusals, each of which changes nothing: another practice's administrator (404 on every
//! operation), a portal user who administers nothing, an auditor (reads, never writes), bad
//! input (an unknown decision, a reason too long, bad dates).

use crate::both;
use crate::support::fixtures::Person;
use crate::support::{Backend, TEST_PASSWORD, TestApp};
use gatehouse_domain::staff::StaffRole;
use reqwest::StatusCode;
use serde_json::{Value, json};

const A: &str = "825671892";
const B: &str = "914407731";

/// Someone calling the API: the path prefix of their plan and their session token.
struct Caller {
    prefix: String,
    token: String,
}

/// Signs `p` in to the API of their plan (password, then the texted code).
async fn sign_in(app: &TestApp, p: &Person) -> Caller {
    let prefix = format!("/p/{}/api/v1", p.plan.row.slug);
    let body = json!({"username": p.username, "password": TEST_PASSWORD});
    let (s, v) = app.call("POST", &format!("{prefix}/signin"), None, Some(body)).await;
    assert_eq!(s, StatusCode::OK, "sign-in of {}: {v}", p.username);
    let first = v["session_token"].as_str().expect("token").to_owned();
    let code = app.code_for(&p.plan, &p.phone()).await;
    let (s, v) =
        app.call("POST", &format!("{prefix}/two-step/verify"), Some(&first), Some(json!({"code": code}))).await;
    assert_eq!((s, v["next"].as_str()), (StatusCode::OK, Some("complete")), "{v}");
    Caller { prefix, token: v["session_token"].as_str().expect("token").to_owned() }
}

/// Practice A (an administrator and three users) and B (its administrator), the help desk and
/// an auditor, each signed in to the API.
struct World {
    app: TestApp,
    admin_a: Caller,
    admin_b: Caller,
    /// A portal user of A who administers nothing.
    member: Caller,
    agent: Caller,
    auditor: Caller,
    m1: i64,
    m2: i64,
    m3: i64,
    admin_a_id: i64,
}

impl World {
    async fn build(backend: Backend) -> Option<Self> {
        let app = TestApp::start(backend).await?;
        let plan = app.plan.clone();
        let list = [(1, A, "Lakeside Family Medicine"), (2, B, "Cedar Valley Pediatrics")];
        let [pa, pb]: [_; 2] = app.practices(&plan, &list).await.try_into().expect("two practices");
        let admin_a = app.person(&plan, "admin_a", 1001).await;
        app.admin_of(&admin_a, &pa).await;
        let admin_b = app.person(&plan, "admin_b", 1002).await;
        app.admin_of(&admin_b, &pb).await;
        let m1 = app.person(&plan, "m1", 1003).await;
        app.member_of(&m1, &pa, &admin_a).await;
        let m2 = app.person(&plan, "m2", 1004).await;
        app.member_of(&m2, &pa, &admin_a).await;
        let m3 = app.person(&plan, "m3", 1005).await;
        app.member_of(&m3, &pa, &admin_a).await;
        let agent = app.staff(&plan, "agent", 1006, StaffRole::HelpDesk).await;
        let auditor = app.staff(&plan, "auditor", 1007, StaffRole::Auditor).await;
        Some(Self {
            admin_a: sign_in(&app, &admin_a).await,
            admin_b: sign_in(&app, &admin_b).await,
            member: sign_in(&app, &m1).await,
            agent: sign_in(&app, &agent).await,
            auditor: sign_in(&app, &auditor).await,
            m1: m1.id.0,
            m2: m2.id.0,
            m3: m3.id.0,
            admin_a_id: admin_a.id.0,
            app,
        })
    }

    async fn call(&self, who: &Caller, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.app.call(method, &format!("{}{path}", who.prefix), Some(&who.token), body).await
    }

    /// The open review of A, as its administrator lists it.
    async fn review_a(&self) -> i64 {
        let (s, v) = self.call(&self.admin_a, "GET", "/practice/reviews", None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let reviews = v["reviews"].as_array().expect("reviews");
        assert_eq!(reviews.len(), 1, "{v}");
        reviews[0]["id"].as_i64().expect("id")
    }

    /// The administrator of A decides on `user` in review `id`.
    async fn decide(&self, id: i64, user: i64, body: Value) -> (StatusCode, Value) {
        self.call(&self.admin_a, "PUT", &format!("/practice/reviews/{id}/users/{user}"), Some(body)).await
    }

    /// A download as `who`: status, content type and body.
    async fn download(&self, who: &Caller, path: &str) -> (StatusCode, String, String) {
        let r = self
            .app
            .api()
            .get(self.app.url(&format!("{}{path}", who.prefix)))
            .bearer_auth(&who.token)
            .send()
            .await
            .expect("download");
        let content_type = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        (r.status(), content_type, r.text().await.unwrap_or_default())
    }

    /// What a refusal must leave as it is: decisions, signatures, reviews, reminders sent, and
    /// the review audit events.
    async fn state(&self) -> Vec<i64> {
        let app = &self.app;
        vec![
            app.count("SELECT COUNT(*) FROM access_review_decisions").await,
            app.count("SELECT COUNT(*) FROM access_reviews WHERE signed_at IS NOT NULL").await,
            app.count("SELECT COUNT(*) FROM access_reviews").await,
            app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'access_review.v1'").await,
            app.count("SELECT COUNT(*) FROM audit_events WHERE action LIKE 'access_review.%' AND action <> 'access_review.exported'").await,
        ]
    }

    /// Today in the plan's zone, `YYYY-MM-DD`.
    fn today(&self) -> String {
        let svc = &self.app.running.services;
        gatehouse_domain::Timestamp(svc.now()).iso_day(&self.app.plan.row.time_zone)
    }
}

#[track_caller]
fn refused(answer: &(StatusCode, Value), status: StatusCode, code: &str) {
    let (s, v) = answer;
    assert_eq!((*s, v["error"]["code"].as_str()), (status, Some(code)), "{v}");
}

async fn an_administrator_reviews_and_signs(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let id = w.review_a().await;
    let (s, v) = w.call(&w.admin_a, "GET", "/practice/reviews", None).await;
    assert_eq!(s, StatusCode::OK);
    let line = &v["reviews"][0];
    assert_eq!((line["practice"]["tax_id"].as_str(), line["status"].as_str()), (Some(A), Some("not_started")), "{v}");
    assert_eq!(line["users"], 4);
    assert!(line["due_at"].as_i64().is_some() && line["last_signed"].is_null(), "{v}");
    // The review page: every user, the administrator alone (their own row is recorded by their
    // signature, so it is not counted as undecided), nothing decided.
    let (s, page) = w.call(&w.admin_a, "GET", &format!("/practice/reviews/{id}?page=1"), None).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!((page["total"].as_i64(), page["undecided"].as_i64()), (Some(4), Some(3)), "{page}");
    assert_eq!((page["sole_admin"].as_bool(), page["may_act"].as_bool()), (Some(true), Some(true)));
    let users = page["users"].as_array().expect("users");
    let me = users.iter().find(|u| u["user_id"] == w.admin_a_id).expect("the reviewer");
    assert_eq!((me["is_reviewer"].as_bool(), me["administrator"].as_bool()), (Some(true), Some(true)), "{me}");
    let m1 = users.iter().find(|u| u["user_id"] == w.m1).expect("m1");
    assert_eq!(m1["user_type"]["key"], "billing_staff", "{m1}");
    assert!(m1["decision"].is_null() && m1["status"] == "active" && m1["idle"] == false, "{m1}");
    assert!(page["user_types"].as_array().is_some_and(|t| t.iter().any(|t| t["key"] == "clinical_staff")));
    // Keep m1, change m2 (clinical staff, the practitioner only), deactivate m3.
    // What a change may choose: the plan's user types and the practice's providers by row.
    let choices = format!("/practice/reviews/{id}/users/{}", w.m2);
    let (s, c) = w.call(&w.admin_a, "GET", &choices, None).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!((c["user_type"].as_str(), c["all_providers"].as_bool()), (Some("billing_staff"), Some(true)), "{c}");
    assert!(c["user_types"].as_array().is_some_and(|t| t.iter().any(|t| t["key"] == "clinical_staff")), "{c}");
    let listed = c["providers"].as_array().expect("providers");
    let p1 = listed.iter().find(|p| p["provider_id"] == "P1").and_then(|p| p["row"].as_i64()).expect("P1");
    assert_eq!(p1, w.app.ids("SELECT id FROM providers WHERE provider_id = 'P1'").await[0]);
    // Not for oneself, nor another practice's administrator (not found).
    let own = format!("/practice/reviews/{id}/users/{}", w.admin_a_id);
    refused(&w.call(&w.admin_a, "GET", &own, None).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    refused(&w.call(&w.admin_b, "GET", &choices, None).await, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(w.decide(id, w.m1, json!({"decision": "keep"})).await.0, StatusCode::NO_CONTENT);
    let change =
        json!({"decision": "change", "user_type": "clinical_staff", "providers": [p1], "reason": "Clinic floor"});
    let r = w.decide(id, w.m2, change).await;
    assert_eq!(r.0, StatusCode::NO_CONTENT, "{}", r.1);
    let r = w.decide(id, w.m3, json!({"decision": "deactivate", "reason": "Left in March"})).await;
    assert_eq!(r.0, StatusCode::NO_CONTENT, "{}", r.1);
    // Deciding on oneself is refused.
    refused(
        &w.decide(id, w.admin_a_id, json!({"decision": "keep"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
    );
    let (_, page) = w.call(&w.admin_a, "GET", &format!("/practice/reviews/{id}"), None).await;
    assert_eq!((page["status"].as_str(), page["undecided"].as_i64()), (Some("in_progress"), Some(0)), "{page}");
    let m2 = page["users"].as_array().and_then(|u| u.iter().find(|u| u["user_id"] == w.m2).cloned()).expect("m2");
    let d = &m2["decision"];
    assert_eq!((d["decision"].as_str(), d["user_type"].as_str()), (Some("change"), Some("clinical_staff")), "{d}");
    assert_eq!((d["all_providers"].as_bool(), d["provider_ids"].clone()), (Some(false), json!([p1])), "{d}");
    assert_eq!((d["reason"].as_str(), d["decided_by_name"].as_str()), (Some("Clinic floor"), Some("Pat Admina")));
    // The wrong name: refused, nothing signed.
    let sign = format!("/practice/reviews/{id}/sign");
    let r = w.call(&w.admin_a, "POST", &sign, Some(json!({"first_name": "Pat", "last_name": "M1"}))).await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert_eq!(r.1["error"]["field"], "signature");
    assert_eq!(w.app.count("SELECT COUNT(*) FROM access_reviews WHERE signed_at IS NOT NULL").await, 0);
    // The right one: the changes are applied; the digest is the one in the audit chain.
    let (s, signed) =
        w.call(&w.admin_a, "POST", &sign, Some(json!({"first_name": "Pat", "last_name": "Admina"}))).await;
    assert_eq!(s, StatusCode::OK, "{signed}");
    assert_eq!(
        (signed["kept"].as_i64(), signed["changed"].as_i64(), signed["deactivated"].as_i64()),
        (Some(2), Some(1), Some(1))
    );
    let digest = signed["digest"].as_str().expect("digest").to_owned();
    let (_, page) = w.call(&w.admin_a, "GET", &format!("/practice/reviews/{id}"), None).await;
    assert_eq!((page["status"].as_str(), page["may_act"].as_bool()), (Some("signed"), Some(false)), "{page}");
    assert_eq!(
        (page["signed"]["digest"].as_str(), page["signed"]["signer"].as_str()),
        (Some(digest.as_str()), Some("Pat Admina"))
    );
    let m1_type =
        format!("SELECT COUNT(*) FROM affiliations WHERE user_id = {} AND user_type = 'clinical_staff'", w.m2);
    assert_eq!(w.app.count(&m1_type).await, 1);
    let status: String = sqlx::query_scalar(&format!("SELECT status FROM users WHERE id = {}", w.m3))
        .fetch_one(w.app.running.services.db.pool())
        .await
        .expect("status");
    assert_eq!(status, "deactivated");
    // Frozen: no decision, no second signature; the list shows the next review and this one.
    refused(&w.decide(id, w.m1, json!({"decision": "deactivate"})).await, StatusCode::CONFLICT, "review_signed");
    refused(&w.call(&w.admin_a, "GET", &choices, None).await, StatusCode::CONFLICT, "review_signed");
    let r = w.call(&w.admin_a, "POST", &sign, Some(json!({"first_name": "Pat", "last_name": "Admina"}))).await;
    refused(&r, StatusCode::CONFLICT, "review_signed");
    let (_, v) = w.call(&w.admin_a, "GET", "/practice/reviews", None).await;
    assert_ne!(v["reviews"][0]["id"].as_i64(), Some(id));
    assert_eq!(v["reviews"][0]["last_signed"]["digest"].as_str(), Some(digest.as_str()), "{v}");
    // The evidence, as plan staff export it: a header and one row per decision.
    let today = w.today();
    let (s, content_type, csv) =
        w.download(&w.agent, &format!("/reviews/evidence?format=csv&tax_id={A}&from={today}&to={today}")).await;
    assert_eq!(s, StatusCode::OK, "{csv}");
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    assert_eq!(csv.lines().count(), 1 + 4, "{csv}");
    assert!(csv.contains(&digest) && csv.contains("Left in March"), "{csv}");
    let (s, content_type, _) =
        w.download(&w.auditor, &format!("/reviews/evidence?format=pdf&from={today}&to={today}")).await;
    assert_eq!((s, content_type.as_str()), (StatusCode::OK, "application/pdf"));
}
both!(an_administrator_reviews_and_signs);

async fn another_practice_and_a_portal_user_reach_nothing(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let id = w.review_a().await;
    // B's administrator lists only B's review (opening it).
    let (_, v) = w.call(&w.admin_b, "GET", "/practice/reviews", None).await;
    assert_eq!(v["reviews"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["reviews"][0]["practice"]["tax_id"], B);
    let before = w.state().await;
    let sign = json!({"first_name": "Pat", "last_name": "Adminb"});
    let calls = [
        ("GET", format!("/practice/reviews/{id}"), None),
        ("PUT", format!("/practice/reviews/{id}/users/{}", w.m1), Some(json!({"decision": "deactivate"}))),
        ("POST", format!("/practice/reviews/{id}/keep-remaining"), None),
        ("POST", format!("/practice/reviews/{id}/sign"), Some(sign)),
    ];
    for (method, path, body) in &calls {
        // B's administrator: A's review does not exist for them.
        let r = w.call(&w.admin_b, method, path, body.clone()).await;
        refused(&r, StatusCode::NOT_FOUND, "not_found");
        // A portal user who administers nothing.
        let r = w.call(&w.member, method, path, body.clone()).await;
        refused(&r, StatusCode::FORBIDDEN, "not_practice_admin");
        // No session at all.
        let (s, _) = w.app.call(method, &format!("{}{path}", w.member.prefix), None, body.clone()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    refused(&w.call(&w.member, "GET", "/practice/reviews", None).await, StatusCode::FORBIDDEN, "not_practice_admin");
    // A practice's people are not plan staff.
    for who in [&w.member, &w.admin_a] {
        refused(&w.call(who, "GET", "/reviews", None).await, StatusCode::FORBIDDEN, "forbidden");
        refused(&w.call(who, "GET", &format!("/reviews/{id}"), None).await, StatusCode::FORBIDDEN, "forbidden");
        let r = w.call(who, "POST", &format!("/reviews/{id}/remind"), None).await;
        refused(&r, StatusCode::FORBIDDEN, "forbidden");
    }
    let (s, _, _) = w.download(&w.admin_a, "/reviews/evidence?format=csv&from=2026-01-01&to=2026-01-31").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(w.state().await, before);
}
both!(another_practice_and_a_portal_user_reach_nothing);

async fn an_auditor_reads_and_exports_but_changes_nothing(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let id = w.review_a().await;
    let before = w.state().await;
    let (s, v) = w.call(&w.auditor, "GET", "/reviews", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["practices"].as_array().is_some_and(|p| p.iter().any(|p| p["review_id"] == id)), "{v}");
    assert!(v["totals"]["not_started"].as_i64().is_some() && v["has_next"] == false, "{v}");
    let (s, page) = w.call(&w.auditor, "GET", &format!("/reviews/{id}"), None).await;
    assert_eq!((s, page["may_act"].as_bool()), (StatusCode::OK, Some(false)), "{page}");
    assert_eq!(page["users"].as_array().map(Vec::len), Some(4));
    let today = w.today();
    let (s, _, csv) = w.download(&w.auditor, &format!("/reviews/evidence?format=csv&from={today}&to={today}")).await;
    assert_eq!((s, csv.lines().count()), (StatusCode::OK, 1), "nothing signed yet: a header only");
    let writes = [
        ("PUT", format!("/reviews/{id}/users/{}", w.m1), Some(json!({"decision": "deactivate"}))),
        ("POST", format!("/reviews/{id}/keep-remaining"), None),
        ("POST", format!("/reviews/{id}/sign"), Some(json!({"first_name": "Pat", "last_name": "Auditor"}))),
        ("POST", format!("/reviews/{id}/remind"), None),
        ("POST", "/reviews/start".to_owned(), Some(json!({"weeks": 4}))),
        ("GET", format!("/reviews/{id}/users/{}", w.m1), None),
    ];
    for (method, path, body) in writes {
        let r = w.call(&w.auditor, method, &path, body).await;
        refused(&r, StatusCode::FORBIDDEN, "forbidden");
    }
    assert_eq!(w.state().await, before);
}
both!(an_auditor_reads_and_exports_but_changes_nothing);

async fn the_help_desk_reviews_on_a_practices_behalf(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let id = w.review_a().await;
    // B's review starts from the plan's list, due within the weeks chosen.
    let (s, v) = w.call(&w.agent, "POST", "/reviews/start", Some(json!({"weeks": 4}))).await;
    assert_eq!((s, v["practices"].as_i64()), (StatusCode::OK, Some(1)), "{v}");
    let (_, v) = w.call(&w.agent, "GET", &format!("/reviews?tax_id={B}"), None).await;
    assert_eq!(v["practices"].as_array().map(Vec::len), Some(1), "{v}");
    let (_, v) = w.call(&w.agent, "GET", "/reviews?status=not_started", None).await;
    assert_eq!(v["practices"].as_array().map(Vec::len), Some(2), "{v}");
    // A reminder to A's administrator.
    let (s, v) = w.call(&w.agent, "POST", &format!("/reviews/{id}/remind"), None).await;
    assert_eq!((s, v["emails"].as_i64()), (StatusCode::OK, Some(1)), "{v}");
    // What a change of A's administrator may choose, on the practice's behalf.
    let (s, c) = w.call(&w.agent, "GET", &format!("/reviews/{id}/users/{}", w.admin_a_id), None).await;
    assert_eq!(
        (s, c["name"].as_str(), c["practice"].as_str()),
        (StatusCode::OK, Some("Pat Admina"), Some("Lakeside Family Medicine")),
        "{c}"
    );
    assert!(c["providers"].as_array().is_some_and(|p| p.iter().any(|p| p["provider_id"] == "P1")), "{c}");
    // On A's behalf: the administrator is confirmed too, then everyone else kept; signed.
    let r = w
        .call(&w.agent, "PUT", &format!("/reviews/{id}/users/{}", w.admin_a_id), Some(json!({"decision": "keep"})))
        .await;
    assert_eq!(r.0, StatusCode::NO_CONTENT, "{}", r.1);
    let (s, v) = w.call(&w.agent, "POST", &format!("/reviews/{id}/keep-remaining"), None).await;
    assert_eq!((s, v["kept"].as_i64()), (StatusCode::OK, Some(3)), "{v}");
    let (s, signed) = w
        .call(
            &w.agent,
            "POST",
            &format!("/reviews/{id}/sign"),
            Some(json!({"first_name": "Pat", "last_name": "Agent"})),
        )
        .await;
    assert_eq!((s, signed["kept"].as_i64()), (StatusCode::OK, Some(4)), "{signed}");
    let (_, page) = w.call(&w.agent, "GET", &format!("/reviews/{id}"), None).await;
    assert_eq!(page["signed"]["on_behalf"], true, "{page}");
    assert_eq!(w.app.count(&format!("SELECT on_behalf FROM access_reviews WHERE id = {id}")).await, 1);
    refused(
        &w.call(&w.agent, "POST", &format!("/reviews/{id}/remind"), None).await,
        StatusCode::CONFLICT,
        "review_signed",
    );
    // Another plan's staff: the review does not exist for them.
    let other = w.app.plan("north", "Northwind Health").await;
    let north = w.app.staff(&other, "north_admin", 2001, StaffRole::PlanAdmin).await;
    let north = sign_in(&w.app, &north).await;
    refused(&w.call(&north, "GET", &format!("/reviews/{id}"), None).await, StatusCode::NOT_FOUND, "not_found");
}
both!(the_help_desk_reviews_on_a_practices_behalf);

async fn bad_input_is_refused_and_changes_nothing(backend: Backend) {
    let Some(w) = World::build(backend).await else { return };
    let id = w.review_a().await;
    let before = w.state().await;
    let on_m1 = format!("/practice/reviews/{id}/users/{}", w.m1);
    let cases = [
        (json!({"decision": "fire"}), "invalid_body", "decision"),
        (json!({"decision": "keep", "reason": "x".repeat(501)}), "invalid_body", "reason"),
        (json!({"decision": "keep", "colour": "red"}), "invalid_body", "colour"),
        (json!({"decision": "change", "providers": []}), "invalid_body", "providers"),
        (json!({"decision": "change", "user_type": "Office Manager"}), "invalid_body", "user_type"),
        (json!({"decision": "change", "user_type": "no_such_type"}), "invalid_input", "user_type"),
        (json!({"decision": "change", "user_type": "billing_staff"}), "invalid_input", "user_type"),
        (json!({"decision": "change", "providers": [999_999]}), "not_found", ""),
    ];
    for (body, code, field) in cases {
        let r = w.call(&w.admin_a, "PUT", &on_m1, Some(body.clone())).await;
        let status = if code == "not_found" { StatusCode::NOT_FOUND } else { StatusCode::UNPROCESSABLE_ENTITY };
        refused(&r, status, code);
        if !field.is_empty() {
            assert_eq!(r.1["error"]["field"], field, "{body}: {}", r.1);
        }
    }
    // Signing before every decision: refused, naming who is missing.
    let r = w
        .call(
            &w.admin_a,
            "POST",
            &format!("/practice/reviews/{id}/sign"),
            Some(json!({"first_name": "Pat", "last_name": "Admina"})),
        )
        .await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    assert!(r.1["error"]["message"].as_str().is_some_and(|m| m.contains("3 users have no decision yet")), "{}", r.1);
    let r = w
        .call(
            &w.admin_a,
            "POST",
            &format!("/practice/reviews/{id}/sign"),
            Some(json!({"first_name": "<b>", "last_name": "Admina"})),
        )
        .await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    refused(
        &w.call(&w.admin_a, "GET", &format!("/practice/reviews/{id}?page=0"), None).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    );
    // Plan staff's bad input.
    let r = w.call(&w.agent, "POST", "/reviews/start", Some(json!({"weeks": 0}))).await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    refused(&w.call(&w.agent, "GET", "/reviews?tax_id=12", None).await, StatusCode::BAD_REQUEST, "invalid_query");
    refused(&w.call(&w.agent, "GET", "/reviews?status=late", None).await, StatusCode::BAD_REQUEST, "invalid_query");
    let today = w.today();
    for (query, status, field) in [
        (format!("format=csv&from={today}&to=2020-01-01"), StatusCode::UNPROCESSABLE_ENTITY, "to"),
        ("format=csv&from=2027-02-30&to=2027-03-01".to_owned(), StatusCode::UNPROCESSABLE_ENTITY, "from"),
        ("format=csv&from=2020-01-01&to=2027-01-01".to_owned(), StatusCode::UNPROCESSABLE_ENTITY, "to"),
        (format!("format=csv&tax_id=111111111&from={today}&to={today}"), StatusCode::UNPROCESSABLE_ENTITY, "tax_id"),
        (format!("format=csv&from=03/01/2027&to={today}"), StatusCode::BAD_REQUEST, "from"),
        (format!("format=docx&from={today}&to={today}"), StatusCode::BAD_REQUEST, "format"),
        (format!("format=csv&to={today}"), StatusCode::BAD_REQUEST, "from"),
    ] {
        let (s, v) = w.call(&w.agent, "GET", &format!("/reviews/evidence?{query}"), None).await;
        assert_eq!((s, v["error"]["field"].as_str()), (status, Some(field)), "{query}: {v}");
    }
    assert_eq!(w.state().await, before);
    assert_eq!(w.app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'access_review.exported'").await, 0);
}
both!(bad_input_is_refused_and_changes_nothing);
