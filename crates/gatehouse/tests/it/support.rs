//! The test harness: a real server on a random port, a fresh database per test (SQLite file or
//! a new PostgreSQL database), a clock the test moves, and the outbox to read links and codes.
//!
//! The request methods of [`TestApp`] all answer in one order: the status, then the body (page
//! HTML or the API's JSON), then, for those that return it, the `Location` header.

pub mod authenticator;
pub mod fixtures;
pub mod statements;

use gatehouse::Running;
use gatehouse::config::ServerConfig;
use gatehouse_domain::{Duration, Timestamp};
use gatehouse_services::hashing::HashConfig;
use gatehouse_services::invitations::InviteRequest;
use gatehouse_services::plans::Plan;
use gatehouse_services::{ManualClock, RequestMeta};
use gatehouse_store::outbox::MessageRow;
use std::sync::Arc;

/// Where every test server's manual clock starts (2027-01-15), unless a test asks for real time.
const TEST_EPOCH: Timestamp = Timestamp(1_800_000_000);

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async test body on both databases: `both!(name);` makes `name::sqlite` and
/// `name::postgres` from `async fn name(backend: Backend)`.
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::support::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::support::Backend::Postgres).await
            }
        }
    };
}

/// The PostgreSQL server tests use: `GATEHOUSE_TEST_PG` or the local default.
pub fn pg_base() -> String {
    std::env::var("GATEHOUSE_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

fn in_ci() -> bool {
    std::env::var("CI").map(|v| v == "true" || v == "1").unwrap_or(false)
}

/// Creates a fresh PostgreSQL database, or says why not. In CI an unreachable server fails the
/// test instead of skipping it.
pub async fn fresh_pg_database() -> Option<String> {
    use sqlx::Connection;
    let admin_url = format!("{}/postgres", pg_base());
    match sqlx::PgConnection::connect(&admin_url).await {
        Ok(mut c) => {
            let name = format!("gh_test_{}", gatehouse_services::tokens::random_u64() % 1_000_000_000_000);
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut c).await.expect("create test database");
            let _ = c.close().await;
            Some(format!("{}/{name}", pg_base()))
        }
        Err(e) => {
            assert!(!in_ci(), "PostgreSQL is required in CI but not reachable at {admin_url}: {e}");
            eprintln!("SKIPPED (PostgreSQL not reachable at {admin_url}: {e}); set GATEHOUSE_TEST_PG to run it");
            None
        }
    }
}

/// A running server for one test.
pub struct TestApp {
    pub base: String,
    pub clock: ManualClock,
    pub running: Running,
    pub plan: Plan,
    pub backend: Backend,
    pg_database: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

/// Fast hashing for tests (the production parameters are measured by the benchmarks).
pub fn test_hash() -> HashConfig {
    HashConfig { memory_kib: 1024, iterations: 1, parallelism: 1, workers: 2, queue: 64 }
}

impl TestApp {
    /// Starts a server with a demo-like plan, or `None` when the database is not available here.
    pub async fn start(backend: Backend) -> Option<Self> {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts a server after adjusting its configuration.
    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut ServerConfig)) -> Option<Self> {
        Self::launch(backend, adjust, false, TEST_EPOCH).await
    }

    /// Starts a server loaded with the demo data of `gatehouse demo`.
    pub async fn start_demo(backend: Backend) -> Option<Self> {
        Self::launch(backend, |_| {}, true, TEST_EPOCH).await
    }

    /// Starts a server loaded with the demo data whose (still manual) clock starts at the real
    /// time, for clients nobody here wrote that check token times against their own clock.
    pub async fn start_demo_at_real_time(backend: Backend) -> Option<Self> {
        use gatehouse_services::Clock;
        Self::launch(backend, |_| {}, true, gatehouse_services::SystemClock.now()).await
    }

    async fn launch(
        backend: Backend,
        adjust: impl FnOnce(&mut ServerConfig),
        demo: bool,
        start: Timestamp,
    ) -> Option<Self> {
        let (url, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                (format!("sqlite://{}", dir.path().join("test.db").display()), Some(dir))
            }
            Backend::Postgres => (fresh_pg_database().await?, None),
        };
        let db_name = url.rsplit('/').next().unwrap_or_default().to_owned();
        let mut cfg = ServerConfig::local(url);
        cfg.listen = "127.0.0.1:0".parse().expect("addr");
        cfg.hash = test_hash();
        cfg.run_outbox_worker = false;
        // The tests' applications listen on this machine.
        cfg.logout_destinations = gatehouse_domain::client_registration::LogoutDestinations::Any;
        adjust(&mut cfg);
        let clock = ManualClock::new(start);
        let running = gatehouse::start(cfg, Arc::new(clock.clone())).await.expect("server starts");
        let plan = if demo {
            gatehouse::demo::load(&running.services).await.expect("demo data").0
        } else {
            running
                .services
                .create_plan(gatehouse_services::plans::NewPlan {
                    slug: "test".into(),
                    name: "Chorus Test Plan".into(),
                    host: None,
                    support_phone: "1-800-555-0199".into(),
                    support_hours: "8-5".into(),
                    terms_text: "Be careful with member information.".into(),
                })
                .await
                .expect("plan")
        };
        // Plan staff must use an app or passkey by default; the suite's tests are about other
        // things and sign staff in with texted codes, so its plans start with that rule off
        // (`factor_policy.rs` turns it on to test it).
        let plan = without_staff_rule(&running.services, &plan).await;
        let pg_database = (backend == Backend::Postgres).then_some(db_name);
        Some(Self { base: running.base_url.clone(), clock, running, plan, backend, pg_database, _dir: dir })
    }

    /// Changes the test plan's second-factor switches (`voice_allowed`, `app_allowed`,
    /// `passkeys_allowed`, `staff_strong_factor`, `admin_strong_factor`: `on` / `off`) through the
    /// settings, as the operator.
    pub async fn set_factor_policy(&mut self, switches: &[(&str, &str)]) {
        self.plan = change_factor_policy(&self.running.services, &self.plan, switches).await;
    }

    /// Another plan served by the same server: `/p/{slug}`, or its own `host`.
    pub async fn other_plan(&self, slug: &str, host: Option<&str>) -> Plan {
        let plan = self
            .running
            .services
            .create_plan(gatehouse_services::plans::NewPlan {
                slug: slug.into(),
                name: format!("{slug} Health"),
                host: host.map(Into::into),
                support_phone: "1-800-555-0111".into(),
                support_hours: "9-5".into(),
                terms_text: "Other terms.".into(),
            })
            .await
            .expect("plan");
        without_staff_rule(&self.running.services, &plan).await
    }

    /// A client that keeps cookies and does not follow redirects (tests look at each hop).
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    /// A client without cookies, for the API.
    pub fn api(&self) -> reqwest::Client {
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Moves the server's clock forward.
    pub fn advance(&self, d: Duration) {
        self.clock.advance(d);
    }

    /// Invites a person through the service and returns the emailed sign-up link (read from the
    /// outbox, as a person would).
    pub async fn invite(&self, first: &str, last: &str, email: &str) -> String {
        let req = InviteRequest::parse(first, last, email).expect("valid invitee");
        self.running.services.invite(&self.plan, None, &req, &RequestMeta::cli()).await.expect("invite");
        let msg = self.last_message_to(email).await.expect("invitation email");
        link_in(&msg.body_text).expect("link in invitation")
    }

    /// The whole outbox, newest first.
    pub async fn outbox(&self) -> Vec<MessageRow> {
        self.running.services.recent_outbox(self.plan.id(), 1000).await.expect("outbox")
    }

    /// The newest message to `recipient`.
    pub async fn last_message_to(&self, recipient: &str) -> Option<MessageRow> {
        self.outbox().await.into_iter().find(|m| m.recipient == recipient)
    }

    /// The newest two-step code sent to `phone` (E.164).
    pub async fn last_code(&self, phone: &str) -> String {
        let m = self.last_message_to(phone).await.expect("a code message");
        code_in(&m.body_text).expect("code in message")
    }

    /// Runs SQL directly (to tamper, or to look).
    pub async fn sql(&self, q: &str) {
        sqlx::query(q).execute(self.running.services.db.pool()).await.expect("sql");
    }

    /// A count from SQL.
    pub async fn count(&self, q: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(q).fetch_one(self.running.services.db.pool()).await.expect("count")
    }

    /// The ids (or other whole numbers) a SQL query selects.
    pub async fn ids(&self, q: &str) -> Vec<i64> {
        sqlx::query_scalar::<_, i64>(q).fetch_all(self.running.services.db.pool()).await.expect("ids")
    }

    /// Stops the server and drops its PostgreSQL database.
    pub async fn stop(self) {
        self.running.stop().await;
        if let Some(name) = self.pg_database {
            drop_pg_database(&name).await;
        }
    }
}

/// Drops a database made by [`fresh_pg_database`].
pub async fn drop_pg_database(name: &str) {
    use sqlx::Connection;
    if let Ok(mut c) = sqlx::PgConnection::connect(&format!("{}/postgres", pg_base())).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut c).await;
        let _ = c.close().await;
    }
}

/// The first http(s) link in a text.
pub fn link_in(text: &str) -> Option<String> {
    text.split_whitespace().find(|w| w.starts_with("http://") || w.starts_with("https://")).map(str::to_owned)
}

/// The first run of six digits in a text (a text message), or the spoken digits of a voice call.
pub fn code_in(text: &str) -> Option<String> {
    let digits: String = text.chars().filter(|c| c.is_ascii_digit() || c.is_whitespace() || *c == ',').collect();
    if let Some(w) = text.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 6) {
        return Some(w.to_owned());
    }
    let spoken: String = digits.chars().filter(char::is_ascii_digit).take(6).collect();
    (spoken.len() == 6).then_some(spoken)
}

/// The value of the hidden CSRF field in a page.
pub fn csrf(html: &str) -> String {
    field_value(html, "csrf_token").expect("page has a CSRF field")
}

/// The value of a page's form field `name` (written `name="…" value="…"`), if it has one.
pub fn field_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    html[start..].split('"').next().map(str::to_owned)
}

/// The path of a sign-up link, for the test's own base URL.
pub fn path_of(link: &str) -> String {
    let u = url::Url::parse(link).expect("url");
    format!("{}?{}", u.path(), u.query().unwrap_or(""))
}

/// The password of users made with [`TestApp::user`].
pub const TEST_PASSWORD: &str = "maple orbit lantern";

impl TestApp {
    /// Creates an active user (two-step phone set, terms signed) with an optional staff role and
    /// returns its id. `phone_tail` makes the phone `+1206555xxxx`.
    pub async fn user(
        &self,
        username: &str,
        first: &str,
        last: &str,
        phone_tail: u16,
        staff_role: Option<&str>,
    ) -> gatehouse_domain::UserId {
        let svc = &self.running.services;
        let hash = svc.hasher.hash(TEST_PASSWORD).await.expect("hash");
        let phone = format!("+1206555{phone_tail:04}");
        let email = format!("{username}@example.org");
        let now = svc.now();
        let mut tx = svc.db.begin().await.expect("tx");
        let id = gatehouse_store::users::insert_active(
            &mut tx,
            &gatehouse_store::users::NewUser {
                plan_id: self.plan.id(),
                first_name: first,
                middle_name: "",
                last_name: last,
                email: &email,
            },
            username,
            &hash,
            Some((&phone, "text")),
            Some(self.plan.row.terms_version),
            now,
        )
        .await
        .expect("user");
        if let Some(r) = staff_role {
            gatehouse_store::users::set_staff_role(&mut tx, self.plan.id(), id, Some(r), now).await.expect("role");
        }
        gatehouse_store::commit(tx).await.expect("commit");
        id
    }

    /// Puts a user on a practice (Tax ID 825671892, created with one provider, NPI 1234567893,
    /// when missing) as billing staff for all its providers. Without a linked account a portal
    /// user is sent from the home page to associate one.
    pub async fn affiliate(&self, user: gatehouse_domain::UserId) {
        let find =
            format!("SELECT COUNT(*) FROM practices WHERE plan_id = {} AND tax_id = '825671892'", self.plan.id().0);
        if self.count(&find).await == 0 {
            self.seed_practice("825671892", "Lakeside Family Medicine").await;
            self.seed_provider("825671892", "P1", "Richard", "Kim").await;
        }
        self.seed_affiliation(user, "825671892", "billing_staff", false).await;
    }

    /// An application state over this server's services, to read the router's route table.
    pub fn state(&self) -> gatehouse_web::AppState {
        gatehouse_web::AppState {
            svc: self.running.services.clone(),
            dev_outbox: gatehouse_services::delivery::Channels { email: true, texts: true },
            secure_cookies: false,
            trusted_proxies: Default::default(),
            outbox_waker: std::sync::Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// A practice of the plan (address in Seattle), by Tax ID and name, without providers.
    pub async fn seed_practice(&self, tax_id: &str, name: &str) {
        sqlx::query("INSERT INTO practices (plan_id, tax_id, name, address1, address2, city, state, zip, phone, created_at) VALUES ($1, $2, $3, '1 Main St', '', 'Seattle', 'WA', '98101', '', 0)")
            .bind(self.plan.id().0)
            .bind(tax_id)
            .bind(name)
            .execute(self.running.services.db.pool())
            .await
            .expect("practice");
    }

    /// A practitioner (NPI 1234567893) of the practice with this Tax ID: its row id.
    pub async fn seed_provider(&self, tax_id: &str, provider_id: &str, first: &str, last: &str) -> i64 {
        let db = self.running.services.db.pool();
        let plan = self.plan.id().0;
        sqlx::query("INSERT INTO providers (plan_id, practice_id, provider_id, npi, kind, first_name, last_name, org_name, address1, city, state, zip, created_at) SELECT $1, id, $2, '1234567893', 'practitioner', $3, $4, '', '1 Main St', 'Seattle', 'WA', '98101', 0 FROM practices WHERE plan_id = $1 AND tax_id = $5")
            .bind(plan)
            .bind(provider_id)
            .bind(first)
            .bind(last)
            .bind(tax_id)
            .execute(db)
            .await
            .expect("provider");
        sqlx::query_scalar("SELECT id FROM providers WHERE plan_id = $1 AND provider_id = $2")
            .bind(plan)
            .bind(provider_id)
            .fetch_one(db)
            .await
            .expect("provider id")
    }

    /// Links `user` to the practice with this Tax ID for all its providers, as `user_type`,
    /// administrator or not.
    pub async fn seed_affiliation(&self, user: gatehouse_domain::UserId, tax_id: &str, user_type: &str, admin: bool) {
        sqlx::query("INSERT INTO affiliations (plan_id, user_id, practice_id, user_type, is_admin, all_providers, created_at) SELECT $1, $2, id, $3, $4, 1, 0 FROM practices WHERE plan_id = $1 AND tax_id = $5")
            .bind(self.plan.id().0)
            .bind(user.0)
            .bind(user_type)
            .bind(i64::from(admin))
            .bind(tax_id)
            .execute(self.running.services.db.pool())
            .await
            .expect("affiliation");
    }

    /// [`TestApp::affiliate`] for the user (invited or active) with this email.
    pub async fn affiliate_email(&self, email: &str) {
        let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE plan_id = $1 AND email = $2")
            .bind(self.plan.id().0)
            .bind(email)
            .fetch_one(self.running.services.db.pool())
            .await
            .expect("user");
        self.affiliate(gatehouse_domain::UserId(id)).await;
    }

    /// A browser signed in (password and code, through the pages) as `username`.
    pub async fn signed_in_browser(&self, username: &str, phone_tail: u16) -> reqwest::Client {
        self.signed_in_as(username, TEST_PASSWORD, &format!("+1206555{phone_tail:04}")).await
    }

    /// A browser signed in (through the pages) with `password`, the code texted to `phone` (E.164).
    pub async fn signed_in_as(&self, username: &str, password: &str, phone: &str) -> reqwest::Client {
        let c = self.browser();
        let page = c.get(self.url("/signin")).send().await.expect("get").text().await.expect("text");
        let r = c
            .post(self.url("/signin"))
            .form(&[("csrf_token", csrf(&page).as_str()), ("username", username), ("password", password)])
            .send()
            .await
            .expect("signin");
        assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER, "sign-in of {username}");
        let code = self.last_code(phone).await;
        let page = c.get(self.url("/two-step/code")).send().await.expect("get").text().await.expect("text");
        let r = c
            .post(self.url("/two-step/code"))
            .form(&[("csrf_token", csrf(&page).as_str()), ("action", "verify"), ("code", code.as_str())])
            .send()
            .await
            .expect("code");
        assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER);
        c
    }

    /// GETs a page; returns status and body.
    pub async fn page(&self, c: &reqwest::Client, path: &str) -> (reqwest::StatusCode, String) {
        let r = c.get(self.url(path)).send().await.expect("get");
        (r.status(), r.text().await.expect("text"))
    }

    /// Posts a form with the CSRF token taken from `form_page`.
    pub async fn submit(
        &self,
        c: &reqwest::Client,
        form_page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> (reqwest::StatusCode, String) {
        let (status, body, _) = self.post_form(c, form_page, action, fields).await;
        (status, body)
    }

    /// GETs a page; returns status, body and `Location`.
    pub async fn visit(&self, c: &reqwest::Client, path: &str) -> (reqwest::StatusCode, String, Option<String>) {
        let r = c.get(self.url(path)).send().await.expect("get");
        let loc = location(&r);
        (r.status(), r.text().await.expect("text"), loc)
    }

    /// Posts a form to `action` with the CSRF token of the page at `form_page`; returns status,
    /// body and `Location`.
    pub async fn post_form(
        &self,
        c: &reqwest::Client,
        form_page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> (reqwest::StatusCode, String, Option<String>) {
        let (_, html) = self.page(c, form_page).await;
        let token = csrf(&html);
        let mut body: Vec<(&str, &str)> = vec![("csrf_token", &token)];
        body.extend_from_slice(fields);
        let r = c.post(self.url(action)).form(&body).send().await.expect("post");
        let loc = location(&r);
        (r.status(), r.text().await.expect("text"), loc)
    }

    /// Calls the JSON API with `c` (GET, POST, PUT, PATCH or DELETE), with an optional bearer
    /// token and JSON body; returns status and the JSON answer (`null` when it is not JSON).
    pub async fn call_with(
        &self,
        c: &reqwest::Client,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut r = c.request(method, self.url(path));
        if let Some(t) = bearer {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
    }

    /// [`TestApp::call_with`] a cookie-less client.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        self.call_with(&self.api(), method, path, bearer, body).await
    }

    /// [`TestApp::call`] from behind a proxy: the request carries `X-Forwarded-For:
    /// forwarded_for` (one address or a list, as a proxy chain writes it).
    pub async fn call_from(
        &self,
        forwarded_for: &str,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", forwarded_for.parse().expect("header value"));
        let c = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .expect("client");
        self.call_with(&c, method, path, bearer, body).await
    }

    /// A fully signed-in API session token: `password`, then the code texted to `phone` (E.164).
    pub async fn api_session(&self, username: &str, password: &str, phone: &str) -> String {
        let signin = serde_json::json!({"username": username, "password": password});
        let (s, v) = self.call("POST", "/api/v1/signin", None, Some(signin)).await;
        assert_eq!(s, reqwest::StatusCode::OK, "sign-in of {username}: {v}");
        let t = v["session_token"].as_str().expect("token").to_owned();
        let code = self.last_code(phone).await;
        let (s, v) =
            self.call("POST", "/api/v1/two-step/verify", Some(&t), Some(serde_json::json!({"code": code}))).await;
        assert_eq!(s, reqwest::StatusCode::OK, "{v}");
        assert_eq!(v["next"], "complete", "{v}");
        v["session_token"].as_str().expect("token").to_owned()
    }
}

/// `plan` after changing its second-factor switches through the settings, as the operator.
pub async fn change_factor_policy(svc: &gatehouse_services::Services, plan: &Plan, switches: &[(&str, &str)]) -> Plan {
    let current = svc.plan(plan.id()).await.expect("plan").expect("plan exists");
    let mut raw = gatehouse_services::settings::raw_from(&current.row);
    for (k, v) in switches {
        raw.insert((*k).to_owned(), (*v).to_owned());
    }
    svc.update_settings(&svc.operator_grant(plan), plan, &raw, &RequestMeta::cli()).await.expect("factor policy");
    svc.plan(plan.id()).await.expect("plan").expect("plan exists")
}

/// `plan` with the rule "plan staff must use an app or passkey" off, set in its row (no audit
/// event, so the suite's counts of events stay as they were).
pub async fn without_staff_rule(svc: &gatehouse_services::Services, plan: &Plan) -> Plan {
    sqlx::query("UPDATE plans SET staff_strong_factor = 0 WHERE id = $1")
        .bind(plan.id().0)
        .execute(svc.db.pool())
        .await
        .expect("factor policy");
    svc.forget_plans();
    svc.plan(plan.id()).await.expect("plan").expect("plan exists")
}

/// A response's `Location` header.
pub fn location(r: &reqwest::Response) -> Option<String> {
    r.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned)
}
