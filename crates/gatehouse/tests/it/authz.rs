//! The permission check API: allow and deny across Tax IDs, provider scope, an NPI under two Tax
//! IDs, end-dated providers, bad input, application authentication (wrong, revoked, another
//! plan's), changes picked up by the refresher (deactivation) or at once (user type edits on the
//! control panel), batches, the access listing, and applications on the control panel.

use crate::both;
use crate::support::{Backend, TestApp};
use gatehouse_domain::UserId;
use gatehouse_services::RequestMeta;
use gatehouse_services::roster::ImportOptions;
use gatehouse_store::affiliations::{self, NewAffiliation};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const HEADER: &str = "provider_id,npi,type,first_name,last_name,organization_name,tax_id,practice_name,\
                      address1,address2,city,state,zip,phone,vendor_id,office_id,group_provider_id";
/// Lakeside (825671892): G1, P1 and P2; Cedar Valley (914407731): P3, who shares P1's NPI.
const G1: &str = "G1,1234567893,group,,,Lakeside Family Medicine,825671892,Lakeside Family Medicine,1200 Lakeview Ave,Ste 300,Seattle,WA,98101,206-555-0100,,,";
const P1: &str = "P1,1245319599,practitioner,Richard,Kim,,825671892,Lakeside Family Medicine,1200 Lakeview Ave,Ste 300,Seattle,WA,98101,,,,G1";
const P2: &str = "P2,1881684983,practitioner,Amara,Okafor,,825671892,Lakeside Family Medicine,1200 Lakeview Ave,Ste 300,Seattle,WA,98101,,,,G1";
const P3: &str =
    "P3,1245319599,practitioner,Richard,Kim,,914407731,Cedar Valley Pediatrics,88 Cedar Valley Rd,,Tacoma,WA,98402,,,,";
const LAKESIDE: &str = "825671892";
const CEDAR: &str = "914407731";
const SHARED_NPI: &str = "1245319599";

async fn import(app: &TestApp, lines: &[&str]) {
    let mut csv = String::from(HEADER);
    for l in lines {
        csv.push('\n');
        csv.push_str(l);
    }
    let svc = &app.running.services;
    let r = svc
        .import_roster(
            &svc.operator_grant(&app.plan),
            &app.plan,
            "roster.csv",
            csv.as_bytes(),
            ImportOptions::default(),
            &RequestMeta::cli(),
            &|_| {},
        )
        .await
        .expect("import");
    assert!(r.applied, "{r:?}");
}

/// Affiliates `user` with the practice of `tax_id` (all providers, or those listed), records
/// the change, and commits, as the association services will; does not tell the index.
async fn affiliate(app: &TestApp, user: UserId, tax_id: &str, user_type: &str, providers: Option<&[&str]>) {
    let svc = &app.running.services;
    let plan = app.plan.id();
    let mut tx = svc.db.begin().await.expect("tx");
    let practice: i64 = sqlx::query_scalar("SELECT id FROM practices WHERE plan_id = $1 AND tax_id = $2")
        .bind(plan.0)
        .bind(tax_id)
        .fetch_one(&mut *tx)
        .await
        .expect("practice");
    let a = NewAffiliation {
        plan_id: plan,
        user_id: user,
        practice_id: practice,
        user_type,
        is_admin: false,
        all_providers: providers.is_none(),
    };
    assert!(affiliations::insert(&mut tx, &a, svc.now()).await.expect("affiliation"));
    for p in providers.unwrap_or_default() {
        sqlx::query(
            "INSERT INTO affiliation_providers (affiliation_id, provider_id) \
             SELECT a.id, pr.id FROM affiliations a, providers pr \
             WHERE a.user_id = $1 AND a.practice_id = $2 AND pr.plan_id = $3 AND pr.provider_id = $4",
        )
        .bind(user.0)
        .bind(practice)
        .bind(plan.0)
        .bind(*p)
        .execute(&mut *tx)
        .await
        .expect("scope");
    }
    gatehouse_store::access_changes::record(&mut tx, plan, Some(user), svc.now()).await.expect("change");
    gatehouse_store::commit(tx).await.expect("commit");
}

/// An application of the test plan: (client id, secret).
async fn application(app: &TestApp) -> (String, String) {
    let svc = &app.running.services;
    let c = svc
        .create_application(&svc.operator_grant(&app.plan), &app.plan, "Claims portal", &RequestMeta::cli())
        .await
        .expect("application");
    (c.row.client_id, c.secret)
}

struct Api<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    id: String,
    secret: String,
}

impl Api<'_> {
    async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let r = self
            .client
            .post(self.app.url(path))
            .basic_auth(&self.id, Some(&self.secret))
            .json(body)
            .send()
            .await
            .expect("post");
        let s = r.status();
        (s, r.json().await.expect("json"))
    }

    async fn check(&self, body: Value) -> Value {
        let (s, v) = self.post("/api/v1/authz/check", &body).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    /// Polls the check until it answers `allowed` (the refresher runs every 200 ms), at most 2 s.
    async fn eventually(&self, body: Value, allowed: bool) -> Value {
        let start = Instant::now();
        loop {
            let v = self.check(body.clone()).await;
            if v["allowed"] == allowed || start.elapsed() > Duration::from_secs(2) {
                assert_eq!(v["allowed"], allowed, "{body} → {v}");
                return v;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

async fn setup(app: &TestApp) -> (Api<'_>, UserId, UserId) {
    import(app, &[G1, P1, P2, P3]).await;
    let bill = app.user("bill", "Bill", "Payne", 2001, None).await;
    let ella = app.user("ella", "Ella", "Checker", 2002, None).await;
    affiliate(app, bill, LAKESIDE, "billing_staff", None).await;
    affiliate(app, ella, LAKESIDE, "eligibility_checker", Some(&["P2"])).await;
    affiliate(app, ella, CEDAR, "billing_staff", None).await;
    let (id, secret) = application(app).await;
    (Api { app, client: app.api(), id, secret }, bill, ella)
}

async fn checks_follow_tax_ids_scope_and_npis(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let (api, bill, ella) = setup(&app).await;
    let (b, e) = (bill.0, ella.0);
    // The affiliations were only recorded in the change log: the refresher brings them in.
    let v = api.eventually(json!({"user_id": b, "permission": "claims.submit", "provider_id": "P1"}), true).await;
    assert_eq!(v["affiliation"]["tax_id"], LAKESIDE);
    assert_eq!(v["affiliation"]["all_providers"], true);
    api.eventually(json!({"user_id": e, "permission": "eligibility.view", "provider_id": "P2"}), true).await;
    api.eventually(json!({"user_id": e, "permission": "claims.view", "tax_id": CEDAR}), true).await;

    let deny = |v: Value, reason: &str| {
        assert_eq!(v["allowed"], false, "{v}");
        assert_eq!(v["reason"], reason, "{v}");
    };
    // Across Tax IDs.
    deny(api.check(json!({"user_id": b, "permission": "claims.submit", "provider_id": "P3"})).await, "not_affiliated");
    deny(api.check(json!({"user_id": b, "permission": "claims.view", "tax_id": CEDAR})).await, "not_affiliated");
    assert_eq!(
        api.check(json!({"user_id": b, "permission": "claims.view", "tax_id": LAKESIDE})).await["allowed"],
        true
    );
    // Provider scope: Ella has P2 only at Lakeside, and only eligibility there.
    let v = api.check(json!({"user_id": e, "permission": "eligibility.view", "provider_id": "p2"})).await;
    assert_eq!(v["affiliation"]["all_providers"], false);
    assert_eq!(v["affiliation"]["tax_id"], LAKESIDE);
    let p1 = json!({"user_id": e, "permission": "eligibility.view", "provider_id": "P1"});
    deny(api.check(p1).await, "provider_not_in_scope");
    let p2 = json!({"user_id": e, "permission": "claims.view", "provider_id": "P2"});
    deny(api.check(p2).await, "permission_not_granted");
    // The listed scope does not matter for a Tax ID.
    let lakeside = json!({"user_id": e, "permission": "eligibility.view", "tax_id": LAKESIDE});
    assert_eq!(api.check(lakeside).await["allowed"], true);
    // An NPI under two Tax IDs: Bill through Lakeside (P1), Ella through Cedar Valley (P3).
    let v = api.check(json!({"user_id": b, "permission": "claims.submit", "npi": SHARED_NPI})).await;
    assert_eq!(v["affiliation"]["tax_id"], LAKESIDE);
    let v = api.check(json!({"username": "ELLA", "permission": "claims.submit", "npi": SHARED_NPI})).await;
    assert_eq!(v["affiliation"]["tax_id"], CEDAR, "{v}");
    // Unknown things are refused, not errors.
    deny(api.check(json!({"user_id": 999_999, "permission": "claims.view", "tax_id": LAKESIDE})).await, "unknown_user");
    deny(api.check(json!({"user_id": b, "permission": "claims.view", "provider_id": "P9"})).await, "unknown_provider");
    deny(api.check(json!({"user_id": b, "permission": "claims.view", "tax_id": "123456789"})).await, "unknown_tax_id");

    // Batch: answers in order.
    let body = json!({"checks": [
        {"user_id": b, "permission": "claims.submit", "provider_id": "P1"},
        {"user_id": b, "permission": "claims.submit", "provider_id": "P3"},
        {"username": "ella", "permission": "eligibility.view", "npi": "1881684983"},
    ]});
    let (s, v) = api.post("/api/v1/authz/check-batch", &body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let allowed: Vec<Value> = v["results"].as_array().unwrap().iter().map(|r| r["allowed"].clone()).collect();
    assert_eq!(allowed, [json!(true), json!(false), json!(true)]);
    assert_eq!(v["results"][1]["reason"], "not_affiliated");

    // An end-dated provider is refused: the import tells the index at once.
    import(&app, &[G1, P1, P3]).await;
    let v = api.check(json!({"user_id": e, "permission": "eligibility.view", "provider_id": "P2"})).await;
    deny(v, "provider_end_dated");
    app.stop().await;
}
both!(checks_follow_tax_ids_scope_and_npis);

async fn malformed_input_is_refused_naming_the_field(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let (api, bill, _) = setup(&app).await;
    let b = bill.0;
    // A body that does not fit the schema (422 `invalid_body`), or a check the server cannot
    // answer (422 `invalid_input`, `unknown_permission`): the field is named either way.
    let cases = [
        (json!({"user_id": b, "permission": "claims.delete", "tax_id": LAKESIDE}), "permission", "unknown_permission"),
        (json!({"user_id": b, "tax_id": LAKESIDE}), "permission", "invalid_body"),
        (json!({"user_id": b, "permission": "claims.view"}), "provider_id", "invalid_input"),
        (
            json!({"user_id": b, "permission": "claims.view", "tax_id": LAKESIDE, "npi": SHARED_NPI}),
            "provider_id",
            "invalid_input",
        ),
        (json!({"user_id": b, "permission": "claims.view", "npi": "1245319598"}), "npi", "invalid_input"),
        (json!({"user_id": b, "permission": "claims.view", "npi": format!(" {SHARED_NPI}")}), "npi", "invalid_input"),
        (json!({"user_id": b, "permission": "claims.view", "tax_id": "82-5671892"}), "tax_id", "invalid_input"),
        (
            json!({"user_id": b, "permission": "claims.view", "tax_id": format!("{LAKESIDE} ")}),
            "tax_id",
            "invalid_input",
        ),
        (json!({"user_id": "12", "permission": "claims.view", "tax_id": LAKESIDE}), "user_id", "invalid_body"),
        (json!({"user_id": 0, "permission": "claims.view", "tax_id": LAKESIDE}), "user_id", "invalid_input"),
        (json!({"username": " ", "permission": "claims.view", "tax_id": LAKESIDE}), "username", "invalid_input"),
        (
            json!({"user_id": b, "username": "bill", "permission": "claims.view", "tax_id": LAKESIDE}),
            "user_id",
            "invalid_input",
        ),
        (json!({"user_id": b, "permision": "claims.view", "tax_id": LAKESIDE}), "permision", "invalid_body"),
    ];
    for (body, field, code) in cases {
        let (s, v) = api.post("/api/v1/authz/check", &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {v}");
        assert_eq!(v["error"]["field"], field, "{body} → {v}");
        assert_eq!(v["error"]["code"], code, "{body} → {v}");
    }
    // `null` is the same as absent.
    let v = api.check(json!({"user_id": b, "username": null, "permission": "claims.view", "tax_id": LAKESIDE})).await;
    assert_eq!(v["allowed"], true, "{v}");
    let (s, v) = api.post("/api/v1/authz/check", &json!([1, 2])).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body")), "{v}");
    let r = api
        .client
        .post(app.url("/api/v1/authz/check"))
        .basic_auth(&api.id, Some(&api.secret))
        .header("content-type", "application/json")
        .body("{\"user_id\": ")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "malformed_json");
    let body = json!({"checks": [
        {"user_id": b, "permission": "claims.view", "tax_id": LAKESIDE},
        {"user_id": b, "permission": "claims.view", "tax_id": "12345"},
    ]});
    let (s, v) = api.post("/api/v1/authz/check-batch", &body).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "checks[1].tax_id");
    let body = json!({"checks": [{"user_id": b, "permission": "claims.view", "tax_id": LAKESIDE, "extra": 1}]});
    let (s, v) = api.post("/api/v1/authz/check-batch", &body).await;
    assert_eq!((s, v["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("checks[0].extra")), "{v}");
    let one = json!({"user_id": b, "permission": "claims.view", "tax_id": LAKESIDE});
    let (s, v) = api.post("/api/v1/authz/check-batch", &json!({"checks": vec![one; 1001]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["field"], "checks");
    let (s, v) = api.post("/api/v1/authz/check-batch", &json!({"checks": []})).await;
    assert_eq!((s, v["results"].clone()), (StatusCode::OK, json!([])));
    app.stop().await;
}
both!(malformed_input_is_refused_naming_the_field);

async fn only_live_applications_of_the_plan_may_ask(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let (api, bill, _) = setup(&app).await;
    let body = json!({"user_id": bill.0, "permission": "claims.view", "tax_id": LAKESIDE});
    let url = app.url("/api/v1/authz/check");
    let c = app.api();
    let r = c.post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unauthenticated");
    let r = c.post(&url).basic_auth(&api.id, Some("not-the-secret")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = c.post(&url).bearer_auth(&api.secret).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let access = app.url(&format!("/api/v1/users/{}/access", bill.0));
    assert_eq!(c.get(&access).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // Another plan's application is unknown here, like a wrong secret.
    let svc = &app.running.services;
    let other = app.other_plan("northwind", None).await;
    let theirs = svc
        .create_application(&svc.operator_grant(&other), &other, "Northwind claims", &RequestMeta::cli())
        .await
        .unwrap();
    let r = c.post(&url).basic_auth(&theirs.row.client_id, Some(&theirs.secret)).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unauthenticated");
    // ...and answers for its own plan, where Bill does not exist.
    let r = c
        .post(app.url("/p/northwind/api/v1/authz/check"))
        .basic_auth(&theirs.row.client_id, Some(&theirs.secret))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["reason"], "unknown_user");

    // A revoked application stops at once.
    assert_eq!(api.check(body.clone()).await["allowed"], true);
    let app_id: i64 = sqlx::query_scalar("SELECT id FROM applications WHERE client_id = $1")
        .bind(&api.id)
        .fetch_one(svc.db.pool())
        .await
        .unwrap();
    svc.revoke_application(
        &svc.operator_grant(&app.plan),
        &app.plan,
        gatehouse_domain::ApplicationId(app_id),
        &RequestMeta::cli(),
    )
    .await
    .unwrap();
    let (s, v) = api.post("/api/v1/authz/check", &body).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    app.stop().await;
}
both!(only_live_applications_of_the_plan_may_ask);

async fn deactivation_and_user_type_edits_change_the_answer(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let (api, bill, ella) = setup(&app).await;
    let svc = &app.running.services;
    let submit = json!({"user_id": bill.0, "permission": "claims.submit", "provider_id": "P1"});
    api.eventually(submit.clone(), true).await;
    let ella_cedar = json!({"user_id": ella.0, "permission": "claims.submit", "tax_id": CEDAR});
    api.eventually(ella_cedar.clone(), true).await;

    // A plan administrator takes claims.submit from Billing Staff on the control panel: the
    // answer changes as soon as the page has answered.
    app.user("padmin", "Pat", "Admin", 1001, Some("plan_admin")).await;
    let c = app.signed_in_browser("padmin", 1001).await;
    let fields = [
        ("name", "Billing Staff"),
        ("permission", "eligibility.view"),
        ("permission", "claims.view"),
        ("permission", "remittance.view"),
    ];
    let (s, _) = app.submit(&c, "/admin/user-types", "/admin/user-types/billing_staff", &fields).await;
    assert_eq!(s, StatusCode::OK);
    let v = api.check(submit.clone()).await;
    assert_eq!((v["allowed"].clone(), v["reason"].clone()), (json!(false), json!("permission_not_granted")));
    let view = json!({"user_id": bill.0, "permission": "claims.view", "provider_id": "P1"});
    assert_eq!(api.check(view.clone()).await["allowed"], true);

    // Deactivation written by another instance (only the change log tells this one).
    let mut tx = svc.db.begin().await.unwrap();
    sqlx::query("UPDATE users SET status = 'deactivated' WHERE id = $1").bind(bill.0).execute(&mut *tx).await.unwrap();
    gatehouse_store::access_changes::record(&mut tx, app.plan.id(), Some(bill), svc.now()).await.unwrap();
    gatehouse_store::commit(tx).await.unwrap();
    let v = api.eventually(view, false).await;
    assert_eq!(v["reason"], "user_not_active");
    // Others are untouched.
    let v = api.check(json!({"user_id": ella.0, "permission": "claims.view", "tax_id": CEDAR})).await;
    assert_eq!(v["allowed"], true);

    // The access listing shows what the index answers from.
    let r = api
        .client
        .get(app.url(&format!("/api/v1/users/{}/access", ella.0)))
        .basic_auth(&api.id, Some(&api.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["username"], "ella");
    assert_eq!(v["status"], "active");
    let list = v["affiliations"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{v}");
    assert_eq!(list[0]["tax_id"], LAKESIDE);
    assert_eq!(list[0]["practice_name"], "Lakeside Family Medicine");
    assert_eq!(list[0]["user_type"], json!({"key": "eligibility_checker", "name": "Eligibility Checker"}));
    assert_eq!(list[0]["permissions"], json!(["eligibility.view"]));
    assert_eq!(list[0]["is_admin"], false);
    assert_eq!(
        list[0]["scope"],
        json!({"all_providers": false, "providers": [{"provider_id": "P2", "npi": "1881684983"}]})
    );
    assert_eq!(list[1]["tax_id"], CEDAR);
    assert_eq!(list[1]["scope"], json!({"all_providers": true}));
    assert_eq!(list[1]["permissions"], json!(["eligibility.view", "claims.view", "remittance.view"]));
    let r = api
        .client
        .get(app.url("/api/v1/users/999999/access"))
        .basic_auth(&api.id, Some(&api.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = api
        .client
        .get(app.url("/api/v1/users/abc/access"))
        .basic_auth(&api.id, Some(&api.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    app.stop().await;
}
both!(deactivation_and_user_type_edits_change_the_answer);

async fn applications_on_the_control_panel(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    import(&app, &[G1, P1]).await;
    let bill = app.user("bill", "Bill", "Payne", 2001, None).await;
    affiliate(&app, bill, LAKESIDE, "billing_staff", None).await;
    app.user("padmin", "Pat", "Admin", 1001, Some("plan_admin")).await;
    let c = app.signed_in_browser("padmin", 1001).await;
    let page = "/admin/applications";
    let (s, html) = app.page(&c, page).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(">Applications</a>"));
    assert!(html.contains("No application is registered yet."));

    // A name is required; the error is beside the field.
    let (s, html) = app.submit(&c, page, page, &[("name", "   ")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(html.contains("id=\"name-error\"") && html.contains("aria-invalid=\"true\""));

    let (s, html) = app.submit(&c, page, page, &[("name", "Claims  portal")]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("it will not be shown again"));
    let grab = |id: &str| {
        let marker = format!("<code id=\"{id}\">");
        let start = html.find(&marker).unwrap() + marker.len();
        html[start..].split('<').next().unwrap().to_owned()
    };
    let (client_id, secret) = (grab("client-id"), grab("client-secret"));
    assert!(client_id.starts_with("gh_"));
    assert_eq!(secret.len(), 43);
    let stored: String = sqlx::query_scalar("SELECT secret_hash FROM applications WHERE client_id = $1")
        .bind(&client_id)
        .fetch_one(app.running.services.db.pool())
        .await
        .unwrap();
    assert_eq!(stored, gatehouse_services::tokens::hash_token(&secret));
    // Shown once: the list has the client id but never the secret.
    let (_, html) = app.page(&c, page).await;
    assert!(html.contains(&client_id) && !html.contains(&secret));
    let detail: String = sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'application.created'")
        .fetch_one(app.running.services.db.pool())
        .await
        .unwrap();
    let d: Value = serde_json::from_str(&detail).unwrap();
    assert_eq!((d["name"].as_str(), d["client_id"].as_str()), (Some("Claims portal"), Some(client_id.as_str())));

    let api = Api { app: &app, client: app.api(), id: client_id.clone(), secret };
    let body = json!({"user_id": bill.0, "permission": "claims.view", "tax_id": LAKESIDE});
    api.eventually(body.clone(), true).await;

    // Revoking asks first, then works at once and is audited.
    let id: i64 = sqlx::query_scalar("SELECT id FROM applications WHERE client_id = $1")
        .bind(&client_id)
        .fetch_one(app.running.services.db.pool())
        .await
        .unwrap();
    let revoke = format!("/admin/applications/{id}/revoke");
    let (s, html) = app.page(&c, &revoke).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("Revoke Claims portal?"), "{html}");
    let (s, html) = app.submit(&c, &revoke, &revoke, &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("Revoked Claims portal."));
    let (s, _) = api.post("/api/v1/authz/check", &body).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'application.revoked'").await, 1);
    let (s, _) = app.submit(&c, &revoke, &revoke, &[]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Help desk agents cannot see or change applications.
    app.user("hdesk", "Hal", "Desk", 1002, Some("help_desk")).await;
    let desk = app.signed_in_browser("hdesk", 1002).await;
    let (_, home) = app.page(&desk, "/admin").await;
    assert!(!home.contains(">Applications</a>"));
    assert_eq!(app.page(&desk, page).await.0, StatusCode::FORBIDDEN);
    let (s, _) = app.submit(&desk, "/admin", page, &[("name", "Sneaky")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT COUNT(*) FROM applications WHERE name = 'Sneaky'").await, 0);
    app.stop().await;
}
both!(applications_on_the_control_panel);
