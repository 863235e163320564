//! `gatehouse bench oidc` (issue 18): the token endpoint's requests per second — code exchange and
//! refresh — against `/healthz` in the same run, on the same server, with the same clients; and
//! ID tokens signed per second (ES256 and RS256) on one thread. SQLite, then PostgreSQL with
//! `--pg`.
//!
//! The codes are made the way the authorization endpoint makes them (random, SHA-256 stored,
//! bound to client, redirect URI, PKCE challenge and a completed session), so each exchange does
//! the endpoint's whole work: client authentication, the single-use redemption, the session and
//! account check, a refresh token stored, the audit event, and two JWTs signed.

use crate::bench_databases::Databases;
use anyhow::{Context, bail};
use gatehouse_domain::client_registration::RegistrationInput;
use gatehouse_domain::oidc_keys::SigningAlg;
use gatehouse_domain::session::SessionStage;
use gatehouse_domain::{SessionId, UserId};
use gatehouse_services::applications::ApplicationForm;
use gatehouse_services::plans::{NewPlan, Plan};
use gatehouse_services::tokens::{hash_token, new_token};
use gatehouse_services::{RequestMeta, Services};
use gatehouse_store::oidc_grants::{self, NewCode};
use gatehouse_store::sessions::{self, NewSession};
use gatehouse_store::users::{self, NewUser};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// PKCE of RFC 7636's appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "http://127.0.0.1:8000/callback";
/// People signed in, each with one session the codes are spread over.
const PEOPLE: usize = 100;
/// Codes made per second of the exchange window: more than the endpoint can take.
const CODES_PER_SECOND: usize = 4_000;
/// How long each signing loop runs.
const SIGNING_WINDOW: Duration = Duration::from_secs(2);

/// Options of `gatehouse bench oidc`.
pub struct OidcArgs {
    /// Seconds of traffic per phase.
    pub seconds: u64,
    /// Concurrent clients.
    pub clients: usize,
    pub databases: Databases,
}

/// Runs the benchmark on each database and prints its table.
pub async fn run(args: &OidcArgs) -> anyhow::Result<()> {
    if !(1..=256).contains(&args.clients) {
        bail!("--clients must be between 1 and 256 (got {})", args.clients);
    }
    if !(1..=30).contains(&args.seconds) {
        bail!("--seconds must be between 1 and 30 for oidc (codes live 60 seconds; got {})", args.seconds);
    }
    println!("## gatehouse bench oidc: {} clients, {} s per phase\n", args.clients, args.seconds);
    println!("| database | phase | requests | per second | vs /healthz | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|---|---|");
    args.databases.measure_each(async |running, db| measure(running, db, args).await).await
}

/// What one phase measured.
struct Phase {
    ok: usize,
    failed: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    fn row(&self, db: &str, what: &str, healthz: Option<f64>) -> String {
        let mut l = self.latencies.clone();
        l.sort_unstable();
        let at = |p: f64| {
            let rank = ((p / 100.0) * l.len() as f64).ceil() as usize;
            l.get(rank.clamp(1, l.len().max(1)) - 1).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        let ratio = healthz.map_or("1".to_owned(), |h| format!("{:.3}", self.rate() / h));
        let failed = if self.failed > 0 { format!(" ({} failed)", self.failed) } else { String::new() };
        format!(
            "| {db} | {what} | {}{failed} | {:.0} | {ratio} | {:.2} | {:.2} |",
            self.ok,
            self.rate(),
            at(50.0),
            at(99.0)
        )
    }
}

async fn measure(running: &crate::Running, db: &str, args: &OidcArgs) -> anyhow::Result<()> {
    let svc = &running.services;
    let base = format!("http://{}", running.addr);
    let plan = svc
        .create_plan(NewPlan {
            slug: "bench-oidc".into(),
            name: "Benchmark Health Plan".into(),
            host: None,
            support_phone: "1-800-555-0199".into(),
            support_hours: "Always".into(),
            terms_text: "Benchmark terms, version 1.".into(),
        })
        .await?;
    let prefix = format!("{base}/p/{}", plan.row.slug);
    let (client_id, secret) = register_client(svc, &plan).await?;
    let app = Arc::new(ClientAuth { client_id, secret });
    let people = sign_in_people(svc, &plan).await?;
    let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build()?;
    let window = Duration::from_secs(args.seconds);

    // A first exchange checked end to end, so the load below measures the real path.
    let first = make_codes(svc, &plan, &app, &people, 1).await?;
    let t = exchange(&http, &prefix, &app, first.first().context("no code")?).await?;
    if t.get("id_token").is_none() || t.get("refresh_token").is_none() {
        bail!("the token endpoint did not answer with an ID token and a refresh token: {t}");
    }

    let healthz_url = format!("{base}/healthz");
    let healthz = drive(args.clients, window, {
        let http = http.clone();
        move |_| {
            let http = http.clone();
            let url = healthz_url.clone();
            async move { Ok(http.get(url).send().await?.status().is_success()) }
        }
    })
    .await;
    println!("{}", healthz.row(db, "GET /healthz", None));

    let codes =
        Arc::new(Mutex::new(make_codes(svc, &plan, &app, &people, CODES_PER_SECOND * args.seconds as usize).await?));
    let refresh_tokens = Arc::new(Mutex::new(Vec::new()));
    let exchanges = drive(args.clients, window, {
        let (http, prefix, app, codes, refresh_tokens) =
            (http.clone(), prefix.clone(), app.clone(), codes.clone(), refresh_tokens.clone());
        move |_| {
            let (http, prefix, app, codes, refresh_tokens) =
                (http.clone(), prefix.clone(), app.clone(), codes.clone(), refresh_tokens.clone());
            async move {
                let Some(code) = codes.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.pop() else {
                    bail!("the benchmark ran out of codes");
                };
                let t = exchange(&http, &prefix, &app, &code).await?;
                let rt = t["refresh_token"].as_str().context("no refresh token")?.to_owned();
                refresh_tokens.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.push(rt);
                Ok(true)
            }
        }
    })
    .await;
    println!("{}", exchanges.row(db, "code exchange", Some(healthz.rate())));

    // Each client refreshes its own token, taking the rotated one each time.
    let chains: Vec<Arc<Mutex<String>>> = {
        let mut all = refresh_tokens.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        if all.len() < args.clients {
            bail!("only {} refresh tokens for {} clients", all.len(), args.clients);
        }
        all.drain(..args.clients).map(|t| Arc::new(Mutex::new(t))).collect()
    };
    let chains = Arc::new(chains);
    let refreshes = drive(args.clients, window, {
        let (http, prefix, app, chains) = (http.clone(), prefix.clone(), app.clone(), chains.clone());
        move |client| {
            let (http, prefix, app, chains) = (http.clone(), prefix.clone(), app.clone(), chains.clone());
            async move {
                let chain = &chains[client];
                let current = chain.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
                let t = token(&http, &prefix, &app, &[("grant_type", "refresh_token"), ("refresh_token", &current)])
                    .await?;
                let next = t["refresh_token"].as_str().context("no rotated refresh token")?.to_owned();
                *chain.lock().map_err(|_| anyhow::anyhow!("poisoned"))? = next;
                Ok(true)
            }
        }
    })
    .await;
    println!("{}", refreshes.row(db, "refresh", Some(healthz.rate())));

    for alg in [SigningAlg::Es256, SigningAlg::Rs256] {
        let per_sec = signings(svc, &plan, alg).await?;
        println!("| {db} | ID token signed ({alg}), one thread | | {per_sec:.0} | | {:.3} | |", 1000.0 / per_sec);
    }
    Ok(())
}

struct ClientAuth {
    client_id: String,
    secret: String,
}

/// Registers a first-party confidential client as the control panel does.
async fn register_client(svc: &Services, plan: &Plan) -> anyhow::Result<(String, String)> {
    let form = ApplicationForm {
        name: "Benchmark portal",
        registration: RegistrationInput {
            client_type: "confidential",
            redirect_uris: REDIRECT,
            post_logout_redirect_uris: "",
            scopes: "openid profile email",
            first_party: true,
            id_token_alg: "ES256",
            backchannel_logout_uri: "",
        },
    };
    let r = svc.register_application(&svc.operator_grant(plan), plan, &form, &RequestMeta::cli()).await?;
    Ok((r.row.client_id, r.secret.context("a confidential client has a secret")?))
}

/// People with a completed sign-in each: (user, session).
async fn sign_in_people(svc: &Services, plan: &Plan) -> anyhow::Result<Vec<(UserId, SessionId)>> {
    let phc = svc.hasher.hash("bench orchard lantern harbor 42").await.context("hashing")?;
    let now = svc.now();
    let mut tx = svc.db.begin().await?;
    let mut people = Vec::with_capacity(PEOPLE);
    for i in 0..PEOPLE {
        let username = format!("oidc{i:04}");
        let email = format!("{username}@bench.example.org");
        let user =
            NewUser { plan_id: plan.id(), first_name: "Bench", middle_name: "", last_name: "User", email: &email };
        let phone = format!("+1206555{i:04}");
        let id = users::insert_active(
            &mut tx,
            &user,
            &username,
            &phc,
            Some((&phone, "text")),
            Some(plan.row.terms_version),
            now,
        )
        .await?;
        let s = NewSession {
            plan_id: plan.id(),
            user_id: id,
            token_hash: &hash_token(&new_token()),
            stage: SessionStage::Complete,
            ip: "127.0.0.1",
            user_agent: "gatehouse bench oidc",
        };
        let session = sessions::insert(&mut tx, &s, now).await?;
        sessions::record_authentication(&mut tx, session, now, "pwd sms").await?;
        people.push((id, session));
    }
    gatehouse_store::commit(tx).await?;
    Ok(people)
}

/// `n` fresh codes for the client, spread over the people's sessions.
async fn make_codes(
    svc: &Services,
    plan: &Plan,
    app: &ClientAuth,
    people: &[(UserId, SessionId)],
    n: usize,
) -> anyhow::Result<Vec<String>> {
    let client = svc.oidc_client(plan.id(), &app.client_id).await?.context("the client is registered")?;
    let now = svc.now();
    let mut tx = svc.db.begin().await?;
    let mut codes = Vec::with_capacity(n);
    for i in 0..n {
        let (user, session) = people[i % people.len()];
        let code = new_token();
        let c = NewCode {
            plan_id: plan.id(),
            application_id: client.id.0,
            session_id: session,
            user_id: user,
            code_hash: &hash_token(&code),
            redirect_uri: REDIRECT,
            code_challenge: CHALLENGE,
            nonce: Some("bench-nonce"),
            scopes: "email openid profile",
            auth_time: now,
            amr: "pwd sms",
            expires_at: now + 60,
        };
        oidc_grants::insert_code(&mut tx, &c, now).await?;
        codes.push(code);
    }
    gatehouse_store::commit(tx).await?;
    Ok(codes)
}

async fn token(
    http: &reqwest::Client,
    prefix: &str,
    app: &ClientAuth,
    form: &[(&str, &str)],
) -> anyhow::Result<serde_json::Value> {
    let resp = http
        .post(format!("{prefix}/oauth2/token"))
        .basic_auth(&app.client_id, Some(&app.secret))
        .form(form)
        .send()
        .await?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.context("the token endpoint's answer is not JSON")?;
    if !status.is_success() {
        bail!("the token endpoint answered {status}: {body}");
    }
    Ok(body)
}

async fn exchange(
    http: &reqwest::Client,
    prefix: &str,
    app: &ClientAuth,
    code: &str,
) -> anyhow::Result<serde_json::Value> {
    token(
        http,
        prefix,
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

/// `clients` tasks each sending one request after another for `window`; `request(client)`
/// answers whether the request succeeded.
async fn drive<F, Fut>(clients: usize, window: Duration, request: F) -> Phase
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<bool>> + Send,
{
    let started = Instant::now();
    let mut set = JoinSet::new();
    for client in 0..clients {
        let request = request.clone();
        set.spawn(async move {
            let (mut ok, mut failed, mut latencies) = (0, 0, Vec::new());
            while started.elapsed() < window {
                let t = Instant::now();
                match request(client).await {
                    Ok(true) => {
                        ok += 1;
                        latencies.push(t.elapsed());
                    }
                    Ok(false) => failed += 1,
                    Err(e) => {
                        failed += 1;
                        if failed == 1 {
                            eprintln!("bench oidc: a request failed: {e:#}");
                        }
                    }
                }
            }
            (ok, failed, latencies)
        });
    }
    let mut phase = Phase { ok: 0, failed: 0, elapsed: Duration::ZERO, latencies: Vec::new() };
    while let Some(r) = set.join_next().await {
        if let Ok((ok, failed, mut l)) = r {
            phase.ok += ok;
            phase.failed += failed;
            phase.latencies.append(&mut l);
        }
    }
    phase.elapsed = started.elapsed();
    phase
}

/// ID tokens signed per second with the plan's current `alg` key, one after another.
async fn signings(svc: &Services, plan: &Plan, alg: SigningAlg) -> anyhow::Result<f64> {
    let claims = |i: usize| {
        let now = svc.now();
        serde_json::json!({
            "sub": format!("bench-subject-{i}"), "aud": "bench-client", "azp": "bench-client",
            "iat": now, "exp": now + 600, "auth_time": now, "amr": ["pwd", "sms", "mfa"],
            "acr": "urn:gatehouse:acr:two-step", "nonce": "bench-nonce", "sid": "0123456789abcdef0123456789abcdef",
        })
    };
    // The first signing may make the key; it is not timed.
    svc.oidc_sign(plan, alg, &claims(0)).await?;
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < SIGNING_WINDOW {
        svc.oidc_sign(plan, alg, &claims(n)).await?;
        n += 1;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}
