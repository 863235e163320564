//! `gatehouse bench authz`: the permission check.
//!
//! - In process: an index of 1,000,000 synthetic affiliations over 100,000 Tax IDs (built in
//!   memory from generated rows, fixed seed), single checks timed one by one through the same
//!   read lock the server takes; resident memory grown by building it.
//! - Cedar (with `--features cedar-bench`): the same rule written as a Cedar policy, evaluated by
//!   the `cedar-policy` crate on the same checks, for a ratio.
//! - HTTP: the real server on 127.0.0.1 with SQLite and a smaller data set (100,000
//!   affiliations inserted with bulk SQL), checks with keep-alive against `/healthz`.
//! - Propagation: two instances on one PostgreSQL database; a change committed on one, timed
//!   until the other's answer flips.

use super::{Table, TempDir, bench_plan, http_client, parse_vmrss, percentile};
use crate::config::ServerConfig;
use anyhow::{Context, bail};
use gatehouse_domain::permissions::{Permission, PermissionSet, default_user_types};
use gatehouse_domain::{PlanId, UserId};
use gatehouse_services::authz::index::{Check, PlanIndex, Target, Who};
use gatehouse_services::hashing::HashConfig;
use gatehouse_services::{RequestMeta, Services, SystemClock};
use gatehouse_store::access_index::{IndexAffiliation, IndexPractice, IndexProvider, IndexRows, IndexUser};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Affiliations of the in-process index.
const AFFILIATIONS: usize = 1_000_000;
/// Tax IDs (practices) they are spread over.
const TAX_IDS: usize = 100_000;
/// Providers per practice.
const PROVIDERS_PER_PRACTICE: usize = 3;
/// Checks timed one by one.
const SAMPLES: usize = 1_000_000;
/// Affiliations in the HTTP benchmark's database.
const HTTP_AFFILIATIONS: usize = 100_000;
/// Changes timed for propagation.
const FLIPS: usize = 20;
/// The random seed of every generated data set.
const SEED: u64 = 0x6761_7465;

/// Generated rows of one plan, and what the checks pick from.
pub struct Synthetic {
    pub rows: IndexRows,
    pub types: Vec<(String, PermissionSet)>,
    /// (user id, practice index) of each affiliation.
    pub pairs: Vec<(i64, usize)>,
}

fn tax_id(practice: usize) -> String {
    format!("{:09}", 100_000_000 + practice)
}

fn provider_id(n: usize) -> String {
    format!("P{n:07}")
}

/// Every tenth provider shares the NPI of the provider three rows before it, which is in
/// another practice: an NPI billed under two Tax IDs.
fn npi(n: usize) -> String {
    let base = if n.is_multiple_of(10) && n >= 3 { n - 3 } else { n };
    format!("{}", 1_000_000_000 + base)
}

/// `affiliations` affiliations over `tax_ids` practices of three providers each; 4 users for 5
/// affiliations; 97% of users active; 10% administrators; 20% of affiliations list one or two
/// providers instead of all.
pub fn synthetic(affiliations: usize, tax_ids: usize) -> Synthetic {
    let mut rng = StdRng::seed_from_u64(SEED);
    let types: Vec<(String, PermissionSet)> =
        default_user_types().into_iter().map(|t| (t.key.to_owned(), t.permissions)).collect();
    let users = (affiliations * 4 / 5).max(1);
    let mut rows = IndexRows {
        practices: Vec::new(),
        providers: Vec::new(),
        users: Vec::new(),
        affiliations: Vec::with_capacity(affiliations),
        scopes: Vec::new(),
    };
    rows.practices = (0..tax_ids).map(|p| IndexPractice { id: p as i64 + 1, tax_id: tax_id(p) }).collect();
    rows.providers = (0..tax_ids * PROVIDERS_PER_PRACTICE)
        .map(|n| IndexProvider {
            id: n as i64 + 1,
            practice_id: (n / PROVIDERS_PER_PRACTICE) as i64 + 1,
            provider_id: provider_id(n),
            npi: npi(n),
            end_dated: n % 97 == 0,
        })
        .collect();
    rows.users = (0..users)
        .map(|u| IndexUser { id: u as i64 + 1, username_lower: Some(format!("u{u}")), active: rng.gen_bool(0.97) })
        .collect();
    let mut pairs = Vec::with_capacity(affiliations);
    for a in 0..affiliations {
        let practice = a % tax_ids;
        let user = rng.gen_range(0..users) as i64 + 1;
        let all = rng.gen_bool(0.8);
        let id = a as i64 + 1;
        if !all {
            for _ in 0..rng.gen_range(1..=2) {
                let n = practice * PROVIDERS_PER_PRACTICE + rng.gen_range(0..PROVIDERS_PER_PRACTICE);
                rows.scopes.push((id, n as i64 + 1));
            }
        }
        rows.affiliations.push(IndexAffiliation {
            id,
            user_id: user,
            practice_id: practice as i64 + 1,
            user_type: types[rng.gen_range(0..types.len())].0.clone(),
            is_admin: rng.gen_bool(0.1),
            all_providers: all,
        });
        pairs.push((user, practice));
    }
    Synthetic { rows, types, pairs }
}

/// Checks for the generated data: 70% about a practice the user is affiliated with (by
/// provider ID, NPI or Tax ID), 30% about any practice.
pub fn checks(s: &Synthetic, count: usize, tax_ids: usize) -> Vec<Check> {
    let mut rng = StdRng::seed_from_u64(SEED + 1);
    (0..count)
        .map(|_| {
            let (user, own) = s.pairs[rng.gen_range(0..s.pairs.len())];
            let practice = if rng.gen_bool(0.7) { own } else { rng.gen_range(0..tax_ids) };
            let n = practice * PROVIDERS_PER_PRACTICE + rng.gen_range(0..PROVIDERS_PER_PRACTICE);
            let target = match rng.gen_range(0..10) {
                0..6 => Target::ProviderId(provider_id(n)),
                6..8 => Target::Npi(npi(n)),
                _ => Target::TaxId(tax_id(practice)),
            };
            let permission = Permission::ALL[rng.gen_range(0..Permission::ALL.len())];
            Check { who: Who::Id(user), permission, target }
        })
        .collect()
}

fn own_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status").ok().as_deref().and_then(parse_vmrss).unwrap_or(0)
}

fn micros(ns: u64) -> String {
    format!("{:.2} µs", ns as f64 / 1000.0)
}

/// Runs the whole benchmark.
pub async fn run(pg: Option<String>, seconds: u64) -> anyhow::Result<Table> {
    let mut t = Table::new("authz: permission checks");
    let p99 = in_process(&mut t).await?;
    cedar(&mut t, p99)?;
    http(&mut t, seconds).await.context("HTTP part")?;
    match pg {
        Some(url) => propagation(&mut t, &url).await.context("propagation part")?,
        None => t.note("propagation: skipped, no PostgreSQL (set GATEHOUSE_BENCH_PG or pass --pg URL)"),
    }
    Ok(t)
}

/// Builds the 1,000,000-affiliation index and times single checks; returns the p50 in ns.
async fn in_process(t: &mut Table) -> anyhow::Result<u64> {
    let (index, build, grown, affiliations) = tokio::task::spawn_blocking(|| {
        let before = own_rss();
        let s = synthetic(AFFILIATIONS, TAX_IDS);
        let started = Instant::now();
        let Synthetic { rows, types, pairs } = s;
        let ix = PlanIndex::build(rows, types);
        let build = started.elapsed();
        let grown = own_rss().saturating_sub(before);
        let n = ix.affiliation_count();
        (Arc::new((RwLock::new(ix), pairs)), build, grown, n)
    })
    .await?;
    t.figure("index: affiliations / Tax IDs", format!("{affiliations} / {TAX_IDS}"));
    t.figure("index: build time", format!("{} ms", build.as_millis()));
    let per_million = grown as f64 / 1e6 * (1_000_000.0 / affiliations as f64);
    t.figure("index: resident memory per 1M affiliations", format!("{per_million:.0} MB"));
    let idx = index.clone();
    let (times, allowed) = tokio::task::spawn_blocking(move || -> anyhow::Result<(Vec<u64>, usize)> {
        let (lock, pairs) = &*idx;
        let s = Synthetic { rows: IndexRows::default(), types: Vec::new(), pairs: pairs.clone() };
        let list = checks(&s, SAMPLES, TAX_IDS);
        let mut times = Vec::with_capacity(list.len());
        let mut allowed = 0;
        for c in &list {
            let start = Instant::now();
            let d = lock.read().map_err(|_| anyhow::anyhow!("poisoned"))?.check(c);
            times.push(start.elapsed().as_nanos() as u64);
            allowed += usize::from(d.allowed());
        }
        times.sort_unstable();
        Ok((times, allowed))
    })
    .await??;
    let p = |q| percentile(&times, q).unwrap_or(0);
    let p99 = p(99.0);
    t.figure("in-process check: samples (allowed)", format!("{SAMPLES} ({allowed})"));
    t.figure("in-process check: p50", micros(p(50.0)));
    t.check("in-process check: p99", micros(p99), "<= 5 µs", p99 <= 5_000);
    t.figure("in-process check: p99.9 / max", format!("{} / {}", micros(p(99.9)), micros(p(100.0))));
    t.note("in-process: each check timed alone with Instant (read lock + lookups), one thread");
    t.note("memory: VmRSS growth from before generating the rows to after building the index (rows dropped; includes allocator slack)");
    Ok(p(50.0))
}

#[cfg(not(feature = "cedar-bench"))]
fn cedar(t: &mut Table, _ours_p50: u64) -> anyhow::Result<()> {
    t.note("cedar: not built; run `cargo run --release --features cedar-bench -- bench authz` to compare");
    Ok(())
}

#[cfg(feature = "cedar-bench")]
fn cedar(t: &mut Table, ours_p50: u64) -> anyhow::Result<()> {
    let (p50, p99, agree, n) = super::authz_cedar::compare(AFFILIATIONS, TAX_IDS)?;
    t.figure("cedar-policy check: p50 / p99", format!("{} / {}", micros(p50), micros(p99)));
    t.figure("cedar-policy p50 / ours p50", format!("{:.0}×", p50 as f64 / ours_p50.max(1) as f64));
    t.check("cedar agrees with the index", format!("{agree} of {n}"), "all", agree == n);
    t.note("cedar: entities of the checked users and providers prebuilt; Authorizer::is_authorized per check");
    Ok(())
}

/// Inserts `HTTP_AFFILIATIONS` affiliations with bulk SQL (recursive CTEs, the same SQL on both
/// databases) for `plan`; returns some (user id, provider ID) pairs that are allowed.
async fn bulk_data(svc: &Services, plan: PlanId) -> anyhow::Result<()> {
    let practices = HTTP_AFFILIATIONS / 10;
    let users = HTTP_AFFILIATIONS * 4 / 5;
    let now = svc.now();
    let series =
        |n: usize| format!("WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {}) ", n - 1);
    let statements = [
        format!(
            "{}INSERT INTO practices (plan_id, tax_id, name, address1, address2, city, state, zip, phone, created_at) \
             SELECT {p}, CAST(100000000 + i AS TEXT), 'Practice ' || i, '1 Main St', '', 'Seattle', 'WA', '98101', \
             '2065550100', {now} FROM s",
            series(practices),
            p = plan.0
        ),
        format!(
            "{}INSERT INTO providers (plan_id, practice_id, provider_id, npi, kind, first_name, last_name, org_name, \
             address1, city, state, zip, created_at) \
             SELECT {p}, pr.id, 'P' || CAST(s.i AS TEXT), CAST(1000000000 + s.i AS TEXT), 'practitioner', 'A', 'B', '', \
             '1 Main St', 'Seattle', 'WA', '98101', {now} FROM s JOIN practices pr \
             ON pr.plan_id = {p} AND pr.tax_id = CAST(100000000 + s.i / 3 AS TEXT)",
            series(practices * PROVIDERS_PER_PRACTICE),
            p = plan.0
        ),
        format!(
            "{}INSERT INTO users (plan_id, username, username_lower, first_name, middle_name, last_name, email, \
             email_lower, status, created_at, updated_at) \
             SELECT {p}, 'u' || CAST(i AS TEXT), 'u' || CAST(i AS TEXT), 'U', '', 'User', \
             'u' || CAST(i AS TEXT) || '@bench.example.org', 'u' || CAST(i AS TEXT) || '@bench.example.org', \
             'active', {now}, {now} FROM s",
            series(users),
            p = plan.0
        ),
        // Affiliation i: practice i % practices, user (i * 7) % users, all providers.
        format!(
            "{}INSERT INTO affiliations (plan_id, user_id, practice_id, user_type, is_admin, all_providers, created_at) \
             SELECT {p}, u.id, pr.id, 'billing_staff', 0, 1, {now} FROM s \
             JOIN users u ON u.plan_id = {p} AND u.username_lower = 'u' || CAST((s.i * 7) % {users} AS TEXT) \
             JOIN practices pr ON pr.plan_id = {p} AND pr.tax_id = CAST(100000000 + s.i % {practices} AS TEXT) \
             ON CONFLICT (user_id, practice_id) DO NOTHING",
            series(HTTP_AFFILIATIONS),
            p = plan.0
        ),
    ];
    let mut tx = svc.db.begin().await?;
    for sql in &statements {
        sqlx::query(sql).execute(&mut *tx).await.with_context(|| format!("bulk insert: {}", &sql[..80]))?;
    }
    gatehouse_store::access_changes::record(&mut tx, plan, None, now).await?;
    gatehouse_store::commit(tx).await?;
    svc.access_changed(plan, None).await;
    Ok(())
}

/// Requests per second of `make` over `window` from `clients` keep-alive clients.
async fn rate(
    client: &reqwest::Client,
    clients: usize,
    window: Duration,
    make: impl Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
) -> anyhow::Result<(f64, usize)> {
    let make = Arc::new(make);
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for c in 0..clients {
        let (client, make) = (client.clone(), make.clone());
        set.spawn(async move {
            let (mut ok, mut failed, mut i) = (0usize, 0usize, c * 7919);
            while start.elapsed() < window && ok + failed < 2_000_000 {
                match make(&client, i).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        ok += 1;
                    }
                    _ => failed += 1,
                }
                i += 1;
            }
            (ok, failed)
        });
    }
    let (mut ok, mut failed) = (0, 0);
    while let Some(r) = set.join_next().await {
        let (o, f) = r?;
        ok += o;
        failed += f;
    }
    Ok((ok as f64 / start.elapsed().as_secs_f64(), failed))
}

async fn http(t: &mut Table, seconds: u64) -> anyhow::Result<()> {
    let dir = TempDir::new("authz")?;
    let mut cfg = ServerConfig::local(dir.sqlite_url("authz.db"));
    cfg.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    cfg.hash = HashConfig { memory_kib: 1024, iterations: 1, parallelism: 1, workers: 1, queue: 4 };
    cfg.run_outbox_worker = false;
    let running = crate::start(cfg, Arc::new(SystemClock)).await?;
    let svc = running.services.clone();
    let plan = bench_plan(&svc).await?;
    let loaded = Instant::now();
    bulk_data(&svc, plan.id()).await?;
    t.figure(
        "http: data (SQLite, bulk SQL) and index load",
        format!("{HTTP_AFFILIATIONS} affiliations, {} ms", loaded.elapsed().as_millis()),
    );
    let created = svc
        .create_application(&svc.operator_grant(&plan), &plan, "Benchmark", &RequestMeta::cli())
        .await
        .context("creating the benchmark application")?;
    let (id, secret) = (created.row.client_id, created.secret);
    let client = http_client()?;
    let base = format!("http://{}", running.addr);
    let users = HTTP_AFFILIATIONS * 4 / 5;
    let user_ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM users WHERE plan_id = $1 ORDER BY id")
        .bind(plan.id().0)
        .fetch_all(svc.db.pool())
        .await?;
    if user_ids.len() != users {
        bail!("expected {users} benchmark users, found {}", user_ids.len());
    }
    let user_ids = Arc::new(user_ids);
    // Affiliation i gives user (i * 7) % users practice i % practices, whose providers are
    // P(3p), P(3p+1), P(3p+2): checks of claims.submit for those are allowed.
    let check_url = format!("{base}/api/v1/authz/check");
    let probe = |i: usize| {
        let a = i % HTTP_AFFILIATIONS;
        let practice = a % (HTTP_AFFILIATIONS / 10);
        serde_json::json!({
            "user_id": user_ids[(a * 7) % users],
            "permission": "claims.submit",
            "provider_id": format!("P{}", practice * 3 + i % 3),
        })
    };
    let first: serde_json::Value =
        client.post(&check_url).basic_auth(&id, Some(&secret)).json(&probe(12_345)).send().await?.json().await?;
    if first["allowed"] != true {
        bail!("a benchmark check was not allowed: {first}");
    }
    let clients = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2) * 4;
    let slice = Duration::from_secs(seconds.div_ceil(2).max(1));
    let (mut check_rate, mut health_rate, mut failures) = (0.0, 0.0, 0);
    for _ in 0..2 {
        let url = format!("{base}/healthz");
        let (r, f) = rate(&client, clients, slice, move |c, _| c.get(&url)).await?;
        health_rate += r / 2.0;
        failures += f;
        let (url, id, secret) = (check_url.clone(), id.clone(), secret.clone());
        let bodies: Arc<Vec<serde_json::Value>> = Arc::new((0..10_000).map(|i| probe(i * 31)).collect());
        let (r, f) = rate(&client, clients, slice, move |c, i| {
            c.post(&url).basic_auth(&id, Some(&secret)).json(&bodies[i % bodies.len()])
        })
        .await?;
        check_rate += r / 2.0;
        failures += f;
    }
    t.figure("http: /healthz", format!("{health_rate:.0} req/s"));
    t.figure("http: POST /api/v1/authz/check", format!("{check_rate:.0} req/s"));
    let ratio = check_rate / health_rate.max(1.0);
    t.check("http: checks / healthz", format!("{:.0}%", ratio * 100.0), ">= 50%", ratio >= 0.5);
    t.figure("http: failed requests", failures.to_string());
    t.note(format!(
        "http: {clients} keep-alive clients, alternating 2 × {} s slices each, server in this process",
        slice.as_secs()
    ));
    drop(client);
    let _ = tokio::time::timeout(Duration::from_secs(10), running.stop()).await;
    Ok(())
}

/// A fresh database on the PostgreSQL server of `url`; returns its URL and name.
async fn fresh_pg(url: &str) -> anyhow::Result<(String, String, String)> {
    use sqlx::Connection;
    let mut u = url::Url::parse(url).context("--pg is not a URL")?;
    u.set_path("/postgres");
    let admin = u.to_string();
    let name = format!("gh_bench_{:x}", rand::random::<u32>());
    let mut c = sqlx::PgConnection::connect(&admin)
        .await
        .with_context(|| format!("cannot connect to {}", crate::redact(&admin)))?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut c).await?;
    let _ = c.close().await;
    u.set_path(&format!("/{name}"));
    Ok((u.to_string(), admin, name))
}

async fn propagation(t: &mut Table, url: &str) -> anyhow::Result<()> {
    let (db_url, admin, name) = fresh_pg(url).await?;
    let result = propagation_on(t, &db_url).await;
    use sqlx::Connection;
    if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut c).await;
    }
    result
}

async fn propagation_on(t: &mut Table, db_url: &str) -> anyhow::Result<()> {
    let mut cfg = ServerConfig::local(db_url.to_owned());
    cfg.hash = HashConfig { memory_kib: 1024, iterations: 1, parallelism: 1, workers: 1, queue: 4 };
    let a = crate::services(&cfg, Arc::new(SystemClock), String::new()).await?;
    let b = crate::services(&cfg, Arc::new(SystemClock), String::new()).await?;
    let refresher = tokio::spawn(b.clone().run_access_refresher());
    let plan = bench_plan(&a).await?;
    let now = a.now();
    let mut tx = a.db.begin().await?;
    let practice: i64 = sqlx::query_scalar(
        "INSERT INTO practices (plan_id, tax_id, name, address1, address2, city, state, zip, phone, created_at) \
         VALUES ($1, '123456789', 'Propagation Clinic', '1 Main St', '', 'Seattle', 'WA', '98101', '', $2) RETURNING id",
    )
    .bind(plan.id().0)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let user = gatehouse_store::users::insert_active(
        &mut tx,
        &gatehouse_store::users::NewUser {
            plan_id: plan.id(),
            first_name: "Pat",
            middle_name: "",
            last_name: "Flip",
            email: "flip@bench.example.org",
        },
        "flip",
        "x",
        None,
        None,
        now,
    )
    .await?;
    gatehouse_store::commit(tx).await?;
    let check =
        Check { who: Who::Id(user.0), permission: Permission::ClaimsView, target: Target::TaxId("123456789".into()) };
    b.check_one(plan.id(), &check).await?;
    let mut times = Vec::with_capacity(FLIPS);
    for i in 0..FLIPS {
        let grant = i % 2 == 0;
        flip(&a, plan.id(), user, practice, grant).await?;
        let start = Instant::now();
        loop {
            if b.check_one(plan.id(), &check).await?.allowed() == grant {
                break;
            }
            if start.elapsed() > Duration::from_secs(10) {
                bail!("instance B did not see change {i} within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        times.push(start.elapsed());
    }
    refresher.abort();
    a.db.close().await;
    b.db.close().await;
    times.sort();
    let p50 = percentile(&times, 50.0).unwrap_or_default();
    let max = times.last().copied().unwrap_or_default();
    t.figure("propagation to a 2nd instance (PostgreSQL): median", format!("{} ms", p50.as_millis()));
    t.check("propagation: max", format!("{} ms", max.as_millis()), "<= 1000 ms", max <= Duration::from_secs(1));
    t.note(format!("propagation: {FLIPS} changes (affiliation added / removed) committed on A, B polled every 1 ms"));
    Ok(())
}

/// Adds (or removes) the user's affiliation, recording the change, as the services do.
async fn flip(svc: &Services, plan: PlanId, user: UserId, practice: i64, grant: bool) -> anyhow::Result<()> {
    let now = svc.now();
    let mut tx = svc.db.begin().await?;
    if grant {
        sqlx::query(
            "INSERT INTO affiliations (plan_id, user_id, practice_id, user_type, is_admin, all_providers, created_at) \
             VALUES ($1, $2, $3, 'billing_staff', 0, 1, $4)",
        )
        .bind(plan.0)
        .bind(user.0)
        .bind(practice)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    } else {
        sqlx::query("DELETE FROM affiliations WHERE user_id = $1 AND practice_id = $2")
            .bind(user.0)
            .bind(practice)
            .execute(&mut *tx)
            .await?;
    }
    gatehouse_store::access_changes::record(&mut tx, plan, Some(user), now).await?;
    gatehouse_store::commit(tx).await?;
    svc.access_changed(plan, Some(user)).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_data_is_deterministic_and_checkable() {
        let a = synthetic(2_000, 200);
        let b = synthetic(2_000, 200);
        assert_eq!(a.rows, b.rows);
        assert_eq!(a.rows.affiliations.len(), 2_000);
        assert_eq!(a.rows.providers.len(), 600);
        let list = checks(&a, 1_000, 200);
        let ix = PlanIndex::build(a.rows.clone(), a.types.clone());
        let allowed = list.iter().filter(|c| ix.check(c).allowed()).count();
        assert!(allowed > 50 && allowed < 1_000, "{allowed}");
        // NPIs shared across Tax IDs exist.
        assert_eq!(npi(10), npi(7));
    }
}
