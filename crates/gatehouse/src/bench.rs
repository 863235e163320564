//! `gatehouse bench`: measurements of this server on this machine.
//!
//! - `signin`: sign-ins per second over HTTP against the real server, compared with raw
//!   Argon2id verifies per second with the same parameters, measured in the same run.
//! - `overload`: four times the hashing capacity offered at once; latency of the admitted
//!   sign-ins against the time of one hash, and whether every refusal carries `Retry-After`.
//! - `authz`: the permission check in process, over HTTP, against Cedar, and propagation of a
//!   change between instances (see [`authz`]).
//! - `startup`: time from spawning `gatehouse serve` to its first `/healthz` answer, on a fresh
//!   and on an existing database, and the resident memory of the idle server.
//! - `search`, `messages` and `reviews`: pages (and, for `reviews`, the daily job) over a large
//!   synthetic plan, on SQLite and PostgreSQL (see [`crate::bench_search`],
//!   [`crate::bench_messages`] and [`crate::bench_reviews`]).
//! - `oidc`: the token endpoint (code exchange, refresh) against `/healthz`, and ID-token
//!   signings per second (see [`crate::bench_oidc`]).
//!
//! Every figure that is compared with another is measured in the same run, because the machine
//! may be shared and noisy. All traffic goes to 127.0.0.1 and every loop is bounded in time and
//! in count.

mod authz;
#[cfg(feature = "cedar-bench")]
mod authz_cedar;

use crate::config::ServerConfig;
use anyhow::{Context, anyhow, bail};
use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use clap::{Args, ValueEnum};
use gatehouse_services::hashing::{HashConfig, OVERLOAD_WINDOW};
use gatehouse_services::plans::{NewPlan, Plan};
use gatehouse_services::{Services, SystemClock};
use gatehouse_store::users::{self, NewUser};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// The password every benchmark user has.
const PASSWORD: &str = "bench orchard lantern harbor 42";
/// Upper bound on requests one client task sends, whatever the duration.
const MAX_REQUESTS_PER_CLIENT: usize = 500_000;
/// How long a started server may take to answer before the start counts as failed.
const START_LIMIT: Duration = Duration::from_secs(10);
/// Pause between `/healthz` polls while the server starts.
const POLL_EVERY: Duration = Duration::from_millis(2);
/// Idle time before the server's resident memory is read.
const IDLE_BEFORE_RSS: Duration = Duration::from_secs(1);
/// Single verifies timed, before and after the load, to find the time of one hash.
const ONE_HASH_SAMPLES: usize = 11;
/// How long every worker's thread hashes at once to find the time of one hash on a busy machine.
const BUSY_HASH_WINDOW: Duration = Duration::from_secs(2);

/// Which benchmark to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Which {
    /// HTTP sign-ins per second against raw Argon2id verifies per second.
    Signin,
    /// Four times the hashing capacity offered: admitted latency and refusals.
    Overload,
    /// Start-to-ready time and idle memory of `gatehouse serve`.
    Startup,
    /// All three, one after the other (not `authz`).
    All,
    /// Permission checks: in process (1,000,000 affiliations), HTTP, Cedar, propagation.
    Authz,
    /// Plan-wide user search and a practice directory over a million users (SQLite, and
    /// PostgreSQL with `--pg`); not part of `all`.
    Search,
    /// Secure-message pages over 200,000 threads and a million messages: the mailbox with each
    /// filter, a practice inbox and sending a 1 MB attachment (SQLite, and PostgreSQL with
    /// `--pg`); not part of `all`.
    Messages,
    /// Access reviews over 10,000 practices and 1,000,000 users: plan staff's Reviews page, a
    /// 20,000-user review paged, and the daily job (SQLite, and PostgreSQL with `--pg`); not
    /// part of `all`.
    Reviews,
    /// The OpenID Connect token endpoint (code exchange and refresh) against `/healthz` in the
    /// same run, and ID tokens signed per second (SQLite, and PostgreSQL with `--pg`); not part
    /// of `all`.
    Oidc,
    /// Internal: the load process of `overload`. Offers sign-ins of the benchmark users at
    /// `--rate` per second to `--url` for `--seconds`, whatever the answers, and prints one line
    /// per answer for the parent to read.
    #[value(hide = true)]
    OpenLoop,
}

/// Benchmark options.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Which benchmark: `signin`, `overload`, `startup` or `all`.
    #[arg(value_enum)]
    pub which: Which,
    /// Seconds of traffic for `signin` and `overload` (1 to 120).
    #[arg(long, default_value_t = 15)]
    pub seconds: u64,
    /// Active users to create and rotate through (10 to 10000).
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Concurrent clients for `signin` (1 to 256; default: twice the hashing workers).
    #[arg(long)]
    pub clients: Option<usize>,
    /// Starts per case for `startup`; the median is reported (1 to 20).
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Diagnostic: milliseconds a client waits after a 503 before its next request (0 to
    /// 5000; default 0, clients hammer without waiting).
    #[arg(long, default_value_t = 0)]
    pub reject_pause_ms: u64,
    /// `signin`: drive the HTTP sign-ins with `wrk` (a separate process, which must be on PATH)
    /// instead of in-process clients.
    #[arg(long)]
    pub wrk: bool,
    /// `signin`: seconds to wait after the load before the last memory reading (0 to 300).
    #[arg(long, default_value_t = 60)]
    pub settle_seconds: u64,
    /// `search`: users of the plan (25000 to 2000000).
    #[arg(long, default_value_t = 1_000_000)]
    pub search_users: usize,
    /// `search`: timed searches per kind of needle; `messages` and `reviews`: timed requests per
    /// page (10 to 10000).
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
    /// `authz` (propagation), `search` and `messages`: a PostgreSQL server (`postgres://user@host:port`) on
    /// which to create a fresh database; skipped when absent.
    #[arg(long, env = "GATEHOUSE_BENCH_PG")]
    pub pg: Option<String>,
    /// `search`: keep the SQLite database in this file and reuse it on the next run when it
    /// already holds `--search-users` users (default: a temporary file, deleted).
    #[arg(long)]
    pub search_sqlite_file: Option<PathBuf>,
    /// `search`: keep the PostgreSQL database of this name on `--pg` and reuse it on the next run
    /// when it already holds `--search-users` users (default: a fresh database, dropped).
    #[arg(long)]
    pub search_pg_database: Option<String>,
    /// `search`: measure PostgreSQL only (with `--pg`).
    #[arg(long)]
    pub search_skip_sqlite: bool,
    /// `messages`: threads of the plan, about five messages each (1000 to 2000000).
    #[arg(long, default_value_t = 200_000)]
    pub message_threads: usize,
    /// `messages`: keep the SQLite database in this file and reuse it on the next run when it
    /// already holds `--message-threads` threads (default: a temporary file, deleted).
    #[arg(long)]
    pub messages_sqlite_file: Option<PathBuf>,
    /// `messages`: keep the PostgreSQL database of this name on `--pg` and reuse it on the next
    /// run when it already holds `--message-threads` threads (default: a fresh database, dropped).
    #[arg(long)]
    pub messages_pg_database: Option<String>,
    /// `messages`: measure PostgreSQL only (with `--pg`).
    #[arg(long)]
    pub messages_skip_sqlite: bool,
    /// `reviews`: practices of the plan, the first a hospital system (20 to 50000).
    #[arg(long, default_value_t = 10_000)]
    pub review_practices: usize,
    /// `reviews`: portal users of the plan (10 × `--review-practices` to 2000000).
    #[arg(long, default_value_t = 1_000_000)]
    pub review_users: usize,
    /// `reviews`: keep the SQLite database in this file and reuse it on the next run when it
    /// holds a plan of that size (default: a temporary file, deleted).
    #[arg(long)]
    pub reviews_sqlite_file: Option<PathBuf>,
    /// `reviews`: keep the PostgreSQL database of this name on `--pg` and reuse it on the next
    /// run when it holds a plan of that size (default: a fresh database, dropped).
    #[arg(long)]
    pub reviews_pg_database: Option<String>,
    /// `reviews`: measure PostgreSQL only (with `--pg`).
    #[arg(long)]
    pub reviews_skip_sqlite: bool,
    /// `open-loop` (internal): the sign-in endpoint to load.
    #[arg(long, hide = true)]
    pub url: Option<String>,
    /// `open-loop` (internal): sign-ins offered per second.
    #[arg(long, hide = true, default_value_t = 0.0)]
    pub rate: f64,
    /// `open-loop` (internal): the first benchmark user to sign in.
    #[arg(long, hide = true, default_value_t = 0)]
    pub first_user: usize,
}

impl BenchArgs {
    fn validate(&self) -> anyhow::Result<()> {
        if !(1..=120).contains(&self.seconds) {
            bail!("--seconds must be between 1 and 120 (got {})", self.seconds);
        }
        if !(10..=10_000).contains(&self.users) {
            bail!("--users must be between 10 and 10000 (got {})", self.users);
        }
        if let Some(c) = self.clients.filter(|c| !(1..=256).contains(c)) {
            bail!("--clients must be between 1 and 256 (got {c})");
        }
        if !(1..=20).contains(&self.repeats) {
            bail!("--repeats must be between 1 and 20 (got {})", self.repeats);
        }
        if self.settle_seconds > 300 {
            bail!("--settle-seconds must be at most 300 (got {})", self.settle_seconds);
        }
        if self.reject_pause_ms > 5000 {
            bail!("--reject-pause-ms must be at most 5000 (got {})", self.reject_pause_ms);
        }
        Ok(())
    }

    fn duration(&self) -> Duration {
        Duration::from_secs(self.seconds)
    }
}

/// Runs the chosen benchmark(s) and prints one table per benchmark.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    args.validate()?;
    if args.which == Which::OpenLoop {
        return open_loop_process(&args).await;
    }
    if args.which == Which::Search {
        let search = crate::bench_search::SearchArgs {
            users: args.search_users,
            samples: args.samples,
            databases: crate::bench_databases::Databases {
                name: "search",
                pg: args.pg.clone(),
                sqlite_file: args.search_sqlite_file.clone(),
                pg_database: args.search_pg_database.clone(),
                skip_sqlite: args.search_skip_sqlite,
            },
        };
        return crate::bench_search::run(&search).await.context("search benchmark");
    }
    if args.which == Which::Messages {
        let messages = crate::bench_messages::MessagesArgs {
            threads: args.message_threads,
            samples: args.samples,
            databases: crate::bench_databases::Databases {
                name: "messages",
                pg: args.pg.clone(),
                sqlite_file: args.messages_sqlite_file.clone(),
                pg_database: args.messages_pg_database.clone(),
                skip_sqlite: args.messages_skip_sqlite,
            },
        };
        return crate::bench_messages::run(&messages).await.context("messages benchmark");
    }
    if args.which == Which::Reviews {
        let reviews = crate::bench_reviews::ReviewsArgs {
            practices: args.review_practices,
            users: args.review_users,
            samples: args.samples,
            databases: crate::bench_databases::Databases {
                name: "reviews",
                pg: args.pg.clone(),
                sqlite_file: args.reviews_sqlite_file.clone(),
                pg_database: args.reviews_pg_database.clone(),
                skip_sqlite: args.reviews_skip_sqlite,
            },
        };
        return crate::bench_reviews::run(&reviews).await.context("reviews benchmark");
    }
    if args.which == Which::Oidc {
        let oidc = crate::bench_oidc::OidcArgs {
            seconds: args.seconds,
            clients: args.clients.unwrap_or(8),
            databases: crate::bench_databases::Databases {
                name: "oidc",
                pg: args.pg.clone(),
                sqlite_file: None,
                pg_database: None,
                skip_sqlite: false,
            },
        };
        return crate::bench_oidc::run(&oidc).await.context("oidc benchmark");
    }
    let mut tables = Vec::new();
    if matches!(args.which, Which::Signin | Which::All) {
        tables.push(signin(&args).await.context("signin benchmark")?);
        print_last(&tables);
    }
    if matches!(args.which, Which::Overload | Which::All) {
        tables.push(overload(&args).await.context("overload benchmark")?);
        print_last(&tables);
    }
    if matches!(args.which, Which::Startup | Which::All) {
        tables.push(startup(args.repeats).await.context("startup benchmark")?);
        print_last(&tables);
    }
    if args.which == Which::Authz {
        tables.push(authz::run(args.pg.clone(), args.seconds).await.context("authz benchmark")?);
        print_last(&tables);
    }
    if tables.len() > 1 {
        let (pass, miss) = tables.iter().fold((0, 0), |(p, m), t| {
            let (tp, tm) = t.verdicts();
            (p + tp, m + tm)
        });
        println!("Summary: {pass} target(s) met, {miss} missed.");
    }
    Ok(())
}

fn print_last(tables: &[Table]) {
    if let Some(t) = tables.last() {
        println!("{}", t.render());
    }
}

// ---------------------------------------------------------------------------------------------
// Reporting

/// One line of a result table.
struct Row {
    name: String,
    value: String,
    target: String,
    verdict: Option<bool>,
}

/// A titled table of figures, some with a target and a verdict.
struct Table {
    title: String,
    notes: Vec<String>,
    rows: Vec<Row>,
}

impl Table {
    fn new(title: impl Into<String>) -> Self {
        Self { title: title.into(), notes: Vec::new(), rows: Vec::new() }
    }

    /// A figure without a target.
    fn figure(&mut self, name: &str, value: impl Into<String>) {
        self.rows.push(Row { name: name.into(), value: value.into(), target: String::new(), verdict: None });
    }

    /// A figure with its target and whether it was met.
    fn check(&mut self, name: &str, value: impl Into<String>, target: impl Into<String>, met: bool) {
        self.rows.push(Row { name: name.into(), value: value.into(), target: target.into(), verdict: Some(met) });
    }

    /// A line printed under the table.
    fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// Targets met and missed.
    fn verdicts(&self) -> (usize, usize) {
        let met = self.rows.iter().filter(|r| r.verdict == Some(true)).count();
        let missed = self.rows.iter().filter(|r| r.verdict == Some(false)).count();
        (met, missed)
    }

    fn render(&self) -> String {
        let header = Row { name: "figure".into(), value: "value".into(), target: "target".into(), verdict: None };
        let all: Vec<&Row> = std::iter::once(&header).chain(self.rows.iter()).collect();
        let w_name = all.iter().map(|r| r.name.chars().count()).max().unwrap_or(0);
        let w_value = all.iter().map(|r| r.value.chars().count()).max().unwrap_or(0);
        let w_target = all.iter().map(|r| r.target.chars().count()).max().unwrap_or(0);
        let mut out = format!("== {} ==\n", self.title);
        for (i, r) in all.iter().enumerate() {
            let verdict = match (i, r.verdict) {
                (0, _) => "result",
                (_, Some(true)) => "PASS",
                (_, Some(false)) => "MISS",
                (_, None) => "",
            };
            let line = format!("  {:<w_name$}  {:>w_value$}  {:<w_target$}  {verdict}", r.name, r.value, r.target);
            out.push_str(line.trim_end());
            out.push('\n');
        }
        for n in &self.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        out
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn per_sec(n: f64) -> String {
    format!("{n:.1}/s")
}

/// CPU time by kind of thread as average cores over `window`, leaving out kinds that were idle.
fn cores(cpu: &BTreeMap<&'static str, Duration>, window: Duration) -> String {
    let secs = window.as_secs_f64().max(1e-9);
    let parts: Vec<String> = cpu
        .iter()
        .map(|(g, d)| (g, d.as_secs_f64() / secs))
        .filter(|(_, c)| *c >= 0.005)
        .map(|(g, c)| format!("{g} {c:.2}"))
        .collect();
    if parts.is_empty() { "n/a".into() } else { parts.join(", ") }
}

/// The value at percentile `p` (nearest rank) of sorted values.
fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

// ---------------------------------------------------------------------------------------------
// A server with users

/// A directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> anyhow::Result<Self> {
        let name = format!("gatehouse-bench-{tag}-{}-{:016x}", std::process::id(), rand::random::<u64>());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn sqlite_url(&self, file: &str) -> String {
        format!("sqlite://{}", self.0.join(file).display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The in-process server with a plan and active users who all share one password hash.
struct Fixture {
    running: crate::Running,
    /// One client for all load, so connections are kept alive from one slice to the next.
    client: reqwest::Client,
    /// The next user to sign in, so that every user signs in as rarely as possible.
    next_user: Arc<AtomicUsize>,
    outbox: tokio::task::JoinHandle<()>,
    usernames: Arc<Vec<String>>,
    phc: String,
    hash: HashConfig,
    _dir: TempDir,
}

impl Fixture {
    /// Starts the real server on a fresh SQLite file with production hashing settings.
    async fn start(users: usize) -> anyhow::Result<Self> {
        Self::start_hashing(users, HashConfig::default()).await
    }

    /// Starts the real server on a fresh SQLite file with these hashing settings.
    async fn start_hashing(users: usize, hash: HashConfig) -> anyhow::Result<Self> {
        let dir = TempDir::new("server")?;
        let mut cfg = ServerConfig::local(dir.sqlite_url("bench.db"));
        cfg.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        cfg.hash = hash;
        // The outbox worker runs as in production, but on a task we can stop afterwards.
        cfg.run_outbox_worker = false;
        let hash = cfg.hash;
        let running = crate::start(cfg, Arc::new(SystemClock)).await?;
        let outbox = tokio::spawn(running.deliverer.clone().run());
        let svc = &running.services;
        let plan = bench_plan(svc).await?;
        let phc = svc.hasher.hash(PASSWORD).await.context("hashing the benchmark password")?;
        let usernames = insert_users(svc, &plan, &phc, users).await?;
        let fixture = Self {
            running,
            client: http_client()?,
            next_user: Arc::new(AtomicUsize::new(0)),
            outbox,
            usernames: Arc::new(usernames),
            phc,
            hash,
            _dir: dir,
        };
        fixture.check_signin().await?;
        Ok(fixture)
    }

    fn signin_url(&self) -> String {
        format!("http://{}/api/v1/signin", self.running.addr)
    }

    /// One sign-in, checked to take the real path: password step, then a code sent by text.
    async fn check_signin(&self) -> anyhow::Result<()> {
        let user = self.usernames.first().context("no benchmark users")?;
        let resp = self
            .client
            .post(self.signin_url())
            .json(&serde_json::json!({ "username": user, "password": PASSWORD }))
            .send()
            .await?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.context("sign-in answer is not JSON")?;
        if status != reqwest::StatusCode::OK || body["next"] != "two_step_code" || body["masked_phone"].is_null() {
            bail!("a benchmark sign-in did not reach the two-step code step: {status} {body}");
        }
        Ok(())
    }

    async fn stop(self) {
        drop(self.client);
        self.outbox.abort();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.running.stop()).await;
    }
}

async fn bench_plan(svc: &Services) -> anyhow::Result<Plan> {
    Ok(svc
        .create_plan(NewPlan {
            slug: "bench".into(),
            name: "Benchmark Health Plan".into(),
            host: None,
            support_phone: "1-800-555-0199".into(),
            support_hours: "Always".into(),
            terms_text: "Benchmark terms, version 1.".into(),
        })
        .await?)
}

/// Creates `count` active users with two-step phones and the current terms signed.
async fn insert_users(svc: &Services, plan: &Plan, phc: &str, count: usize) -> anyhow::Result<Vec<String>> {
    let now = svc.now();
    let mut names = Vec::with_capacity(count);
    let mut tx = svc.db.begin().await?;
    for i in 0..count {
        let username = bench_username(i);
        let email = format!("{username}@bench.example.org");
        let phone = format!("+1206555{:04}", i % 10_000);
        let user =
            NewUser { plan_id: plan.id(), first_name: "Bench", middle_name: "", last_name: "User", email: &email };
        users::insert_active(&mut tx, &user, &username, phc, Some((&phone, "text")), Some(plan.row.terms_version), now)
            .await?;
        names.push(username);
    }
    gatehouse_store::commit(tx).await?;
    Ok(names)
}

fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build()?)
}

// ---------------------------------------------------------------------------------------------
// HTTP load

/// One answered request.
#[derive(Debug, Clone, Copy)]
struct Sample {
    latency: Duration,
    status: u16,
    retry_after: bool,
    /// Whether it completed before the deadline (only those count towards rates).
    in_window: bool,
}

/// What a load run saw: every answer to a request sent within the window, and transport errors.
struct Load {
    samples: Vec<Sample>,
    errors: u64,
    window: Duration,
    /// CPU time of this process's threads from the start of the load until its last answer, by
    /// kind of thread, and how long that was.
    cpu: BTreeMap<&'static str, Duration>,
    cpu_window: Duration,
}

impl Load {
    /// Answers with this status that completed within the window.
    fn with_status(&self, status: u16) -> impl Iterator<Item = &Sample> {
        self.samples.iter().filter(move |s| s.status == status && s.in_window)
    }

    /// Latencies, sorted, of every answer with this status, including those that completed just
    /// after the deadline.
    fn latencies(&self, status: u16) -> Vec<Duration> {
        let mut v: Vec<Duration> = self.samples.iter().filter(|s| s.status == status).map(|s| s.latency).collect();
        v.sort();
        v
    }

    /// Statuses other than those listed, as `code×count`.
    fn others(&self, expected: &[u16]) -> String {
        let mut counts = BTreeMap::new();
        for s in self.samples.iter().filter(|s| s.in_window && !expected.contains(&s.status)) {
            *counts.entry(s.status).or_insert(0u64) += 1;
        }
        let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k}×{v}")).collect();
        if parts.is_empty() { "none".into() } else { parts.join(", ") }
    }

    /// CPU used during the load, in cores, as `group cores` pairs.
    fn cpu_cores(&self) -> String {
        cores(&self.cpu, self.cpu_window)
    }

    /// A load of nothing, to absorb others into.
    fn empty() -> Self {
        Self {
            samples: Vec::new(),
            errors: 0,
            window: Duration::ZERO,
            cpu: BTreeMap::new(),
            cpu_window: Duration::ZERO,
        }
    }

    /// Adds another load run's answers, window and CPU to this one.
    fn absorb(&mut self, other: Load) {
        self.samples.extend(other.samples);
        self.errors += other.errors;
        self.window += other.window;
        self.cpu_window += other.cpu_window;
        for (g, d) in other.cpu {
            *self.cpu.entry(g).or_default() += d;
        }
    }
}

/// `clients` tasks sign in over keep-alive connections, rotating through the fixture's users,
/// for `window`.
async fn drive_signins(fx: &Fixture, clients: usize, window: Duration, reject_pause: Duration) -> anyhow::Result<Load> {
    if fx.usernames.is_empty() {
        bail!("no users to sign in");
    }
    let (client, url, usernames, next) = (&fx.client, fx.signin_url(), &fx.usernames, &fx.next_user);
    let start = Instant::now();
    let deadline = start + window;
    let cpu_before = thread_cpu();
    let mut tasks = JoinSet::new();
    for _ in 0..clients {
        let (client, url, usernames, next) = (client.clone(), url.clone(), usernames.clone(), next.clone());
        let pacing = Pacing { deadline, reject_pause };
        tasks.spawn(async move { client_loop(client, url, usernames, next, pacing).await });
    }
    let mut load = Load { window, ..Load::empty() };
    while let Some(done) = tasks.join_next().await {
        let (samples, errors) = done.context("a client task failed")?;
        load.samples.extend(samples);
        load.errors += errors;
    }
    load.cpu = cpu_by_group(&cpu_before, &thread_cpu());
    load.cpu_window = start.elapsed();
    Ok(load)
}

/// Offers sign-ins at a fixed `rate` per second for `window`, each on its own task, whatever the
/// answers (an open-loop load: arrivals do not wait for the server, as independent users don't).
async fn drive_open_loop(target: &Target, rate: f64, window: Duration) -> anyhow::Result<Load> {
    if target.usernames.is_empty() || !(1.0..=20_000.0).contains(&rate) {
        bail!("open-loop rate {rate:.1}/s is out of range (1 to 20,000)");
    }
    let start = Instant::now();
    let deadline = start + window;
    let cpu_before = thread_cpu();
    let total = (rate * window.as_secs_f64()).ceil() as u64;
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = JoinSet::new();
    for _ in 0..total {
        ticker.tick().await;
        let (client, url) = (target.client.clone(), target.url.clone());
        let i = target.next_user.fetch_add(1, Ordering::Relaxed) % target.usernames.len();
        let body = serde_json::json!({ "username": target.usernames[i], "password": PASSWORD });
        tasks.spawn(async move {
            let sent = Instant::now();
            let answer = match client.post(&url).json(&body).send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp.headers().contains_key(reqwest::header::RETRY_AFTER);
                    resp.bytes().await.map(|_| (status, retry_after))
                }
                Err(e) => Err(e),
            };
            let done = Instant::now();
            answer.map(|(status, retry_after)| Sample {
                latency: done - sent,
                status,
                retry_after,
                in_window: done <= deadline + Duration::from_secs(5),
            })
        });
    }
    let mut load = Load { window, ..Load::empty() };
    while let Some(done) = tasks.join_next().await {
        match done.context("a request task failed")? {
            Ok(sample) => load.samples.push(sample),
            Err(_) => load.errors += 1,
        }
    }
    load.cpu = cpu_by_group(&cpu_before, &thread_cpu());
    load.cpu_window = start.elapsed();
    Ok(load)
}

/// Where an open loop sends its sign-ins, and as whom.
struct Target {
    client: reqwest::Client,
    url: String,
    usernames: Arc<Vec<String>>,
    next_user: Arc<AtomicUsize>,
}

/// The name of the benchmark user `i`.
fn bench_username(i: usize) -> String {
    format!("bench{i:05}")
}

/// The `open-loop` child: runs the open loop in its own process and prints `SAMPLE <status>
/// <latency µs> <retry-after 0/1> <in window 0/1>` per answer and `ERRORS <n>` at the end.
async fn open_loop_process(args: &BenchArgs) -> anyhow::Result<()> {
    let url = args.url.clone().context("open-loop needs --url")?;
    let target = Target {
        client: http_client()?,
        url,
        usernames: Arc::new((0..args.users).map(bench_username).collect()),
        next_user: Arc::new(AtomicUsize::new(args.first_user)),
    };
    let load = drive_open_loop(&target, args.rate, args.duration()).await?;
    let mut out = String::with_capacity(load.samples.len() * 24);
    for s in &load.samples {
        out.push_str(&format!(
            "SAMPLE {} {} {} {}\n",
            s.status,
            s.latency.as_micros(),
            u8::from(s.retry_after),
            u8::from(s.in_window)
        ));
    }
    out.push_str(&format!("ERRORS {}\n", load.errors));
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(())
}

/// Runs the open loop as a separate process (this binary's hidden `bench open-loop`) at the
/// normal scheduling priority, as outside clients are: in this process its tasks would run on
/// the server's runtime threads, which sit below the hashing threads, and time their own wait
/// for a CPU as the server's latency.
async fn drive_open_loop_process(fx: &Fixture, rate: f64, window: Duration) -> anyhow::Result<Load> {
    let exe = std::env::current_exe().context("cannot find this program to start the load process")?;
    let first = fx.next_user.load(Ordering::Relaxed);
    let start = Instant::now();
    let cpu_before = thread_cpu();
    let out = tokio::process::Command::new(exe)
        .args(["bench", "open-loop", "--url", &fx.signin_url(), "--rate", &format!("{rate:.3}")])
        .args(["--seconds", &window.as_secs().max(1).to_string(), "--users", &fx.usernames.len().to_string()])
        .args(["--first-user", &first.to_string()])
        .env(crate::priority::RUNTIME_NICE_VAR, "0")
        .env("RUST_LOG", "off")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .await
        .context("cannot run the load process")?;
    if !out.status.success() {
        bail!("the load process failed ({})", out.status);
    }
    let mut load = Load { window, ..Load::empty() };
    load.cpu = cpu_by_group(&cpu_before, &thread_cpu());
    load.cpu_window = start.elapsed();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut f = line.split_whitespace();
        match f.next() {
            Some("SAMPLE") => {
                let mut n =
                    || f.next().and_then(|v| v.parse::<u64>().ok()).with_context(|| format!("bad line {line:?}"));
                let (status, micros, retry, inside) = (n()?, n()?, n()?, n()?);
                load.samples.push(Sample {
                    latency: Duration::from_micros(micros),
                    status: u16::try_from(status).context("status out of range")?,
                    retry_after: retry == 1,
                    in_window: inside == 1,
                });
            }
            Some("ERRORS") => load.errors = f.next().and_then(|v| v.parse().ok()).context("bad ERRORS line")?,
            _ => {}
        }
    }
    fx.next_user.fetch_add(load.samples.len() + load.errors as usize, Ordering::Relaxed);
    Ok(load)
}

/// When a client stops, and how it treats refusals.
#[derive(Debug, Clone, Copy)]
struct Pacing {
    deadline: Instant,
    reject_pause: Duration,
}

async fn client_loop(
    client: reqwest::Client,
    url: String,
    usernames: Arc<Vec<String>>,
    next: Arc<AtomicUsize>,
    pacing: Pacing,
) -> (Vec<Sample>, u64) {
    let Pacing { deadline, reject_pause } = pacing;
    let mut samples = Vec::new();
    let mut errors = 0;
    for _ in 0..MAX_REQUESTS_PER_CLIENT {
        let sent = Instant::now();
        if sent >= deadline {
            break;
        }
        let i = next.fetch_add(1, Ordering::Relaxed) % usernames.len();
        let body = serde_json::json!({ "username": usernames[i], "password": PASSWORD });
        let answer = match client.post(&url).json(&body).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp.headers().contains_key(reqwest::header::RETRY_AFTER);
                resp.bytes().await.map(|_| (status, retry_after))
            }
            Err(e) => Err(e),
        };
        let done = Instant::now();
        match answer {
            Ok((status, retry_after)) => {
                samples.push(Sample { latency: done - sent, status, retry_after, in_window: done <= deadline });
                if status == 503 && !reject_pause.is_zero() {
                    tokio::time::sleep(reject_pause).await;
                }
            }
            Err(_) => {
                errors += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    (samples, errors)
}

/// CPU time so far of each thread of this process, by thread id, with the thread's name
/// (from `/proc/self/task/*/schedstat`; empty where that is not available).
fn thread_cpu() -> BTreeMap<u64, (String, Duration)> {
    thread_schedstat().into_iter().map(|(tid, (name, cpu, _))| (tid, (name, cpu))).collect()
}

/// Each thread's name, CPU time so far and how many times it was put on a CPU (the first and
/// third fields of `/proc/self/task/*/schedstat`), by thread id.
fn thread_schedstat() -> BTreeMap<u64, (String, Duration, u64)> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return out };
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse::<u64>().ok()) else { continue };
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default().trim().to_owned();
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else { continue };
        let fields: Vec<u64> = stat.split_whitespace().filter_map(|n| n.parse().ok()).collect();
        if let [ns, _, slices] = fields[..] {
            out.insert(tid, (name, Duration::from_nanos(ns), slices));
        }
    }
    out
}

/// Times the threads other than hashing were put on a CPU between two snapshots: about one for
/// each wake-up of a waiting thread, so a count of the hand-offs between threads.
fn wakeups_besides_hashing(
    before: &BTreeMap<u64, (String, Duration, u64)>,
    after: &BTreeMap<u64, (String, Duration, u64)>,
) -> u64 {
    after
        .iter()
        .filter(|(_, (name, _, _))| thread_group(name) != "hashing")
        .map(|(tid, (_, _, n))| n.saturating_sub(before.get(tid).map_or(0, |b| b.2)))
        .sum()
}

/// What kind of work a thread does, from its name.
fn thread_group(name: &str) -> &'static str {
    if name.starts_with("argon2-") {
        "hashing"
    } else if name.starts_with("tokio-") {
        "runtime"
    } else if name.starts_with("sqlx-sqlite") {
        "sqlite"
    } else {
        "other"
    }
}

/// CPU used between two snapshots, summed by kind of thread.
fn cpu_by_group(
    before: &BTreeMap<u64, (String, Duration)>,
    after: &BTreeMap<u64, (String, Duration)>,
) -> BTreeMap<&'static str, Duration> {
    let mut out = BTreeMap::new();
    for (tid, (name, cpu)) in after {
        let start = before.get(tid).map(|b| b.1).unwrap_or_default();
        *out.entry(thread_group(name)).or_default() += cpu.saturating_sub(start);
    }
    out
}

/// Clock ticks per second in `/proc/stat` and `/proc/self/stat` (`USER_HZ`, 100 on Linux).
const USER_HZ: f64 = 100.0;

/// The whole machine's busy CPU time and this process's, to tell how much other processes used.
struct MachineCpu {
    at: Instant,
    busy: Option<u64>,
    own: Option<u64>,
}

impl MachineCpu {
    fn now() -> Self {
        Self { at: Instant::now(), busy: machine_busy_ticks(), own: own_ticks() }
    }

    /// Cores used on average by other processes since `now()`.
    fn others_since(&self) -> Option<f64> {
        let (busy, own) = (machine_busy_ticks()? - self.busy?, own_ticks()? - self.own?);
        Some(busy.saturating_sub(own) as f64 / USER_HZ / self.at.elapsed().as_secs_f64())
    }
}

/// Busy ticks of all CPUs together (everything but idle and iowait), from `/proc/stat`.
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> =
        stat.lines().next()?.strip_prefix("cpu ")?.split_whitespace().take(8).filter_map(|f| f.parse().ok()).collect();
    let total: u64 = fields.iter().sum();
    Some(total - fields.get(3)? - fields.get(4)?)
}

/// User and system ticks of this process, from `/proc/self/stat`.
fn own_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    Some(rest.get(11)?.parse::<u64>().ok()? + rest.get(12)?.parse::<u64>().ok()?)
}

// ---------------------------------------------------------------------------------------------
// wrk, a load generator in a separate process

/// Answers counted by the wrk script.
#[derive(Debug, Default, Clone, Copy)]
struct Wrk {
    ok: u64,
    busy: u64,
    other: u64,
    errors: u64,
    /// The status of one of the `other` answers (0 when there were none), to tell what they were.
    other_status: u64,
}

impl Wrk {
    fn add(&mut self, o: &Wrk) {
        self.ok += o.ok;
        self.busy += o.busy;
        self.other += o.other;
        self.errors += o.errors;
        if o.other_status != 0 {
            self.other_status = o.other_status;
        }
    }

    /// Reads the line the script's `done` prints, and wrk's socket errors.
    fn parse(out: &str) -> anyhow::Result<Self> {
        let line = out.lines().find(|l| l.starts_with("GATEHOUSE ")).context("wrk printed no counts")?;
        let field = |name: &str| -> anyhow::Result<u64> {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                .with_context(|| format!("no {name} in {line:?}"))?
                .parse::<u64>()
                .with_context(|| format!("{name} in {line:?}"))
        };
        let errors = out
            .lines()
            .find_map(|l| l.trim().strip_prefix("Socket errors:"))
            .map(|rest| {
                rest.split(',').filter_map(|p| p.split_whitespace().last().and_then(|n| n.parse::<u64>().ok())).sum()
            })
            .unwrap_or(0);
        let other_status = field("other_status")?;
        Ok(Self { ok: field("ok")?, busy: field("busy")?, other: field("other")?, errors, other_status })
    }
}

/// The Lua script: each request signs in the next benchmark user (each thread starts at its own
/// place), and answers are counted by status.
fn wrk_script(users: usize, start: u64) -> String {
    format!(
        r#"local threads = {{}}
local next_id = 0
function setup(thread)
  thread:set("first", {start} + next_id * 997)
  next_id = next_id + 1
  table.insert(threads, thread)
end
function init(args)
  n = first
  ok = 0
  busy = 0
  other = 0
  other_status = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  n = n + 1
  local body = string.format('{{"username":"bench%05d","password":"{PASSWORD}"}}', n % {users})
  return wrk.format(nil, nil, nil, body)
end
function response(status, headers, body)
  if status == 200 then ok = ok + 1 elseif status == 503 then busy = busy + 1 else other = other + 1; other_status = status end
end
function done(summary, latency, requests)
  local o, b, x, xs = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    b = b + t:get("busy")
    x = x + t:get("other")
    if t:get("other_status") ~= 0 then xs = t:get("other_status") end
  end
  io.write(string.format("GATEHOUSE ok=%d busy=%d other=%d other_status=%d\n", o, b, x, xs))
end
"#
    )
}

/// Whether `wrk` can be run.
fn wrk_available() -> bool {
    Command::new("wrk").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// Runs `wrk` with `connections` connections (and as many threads, at most 2) on the sign-in
/// endpoint for `secs` seconds.
async fn run_wrk(fx: &Fixture, connections: usize, secs: u64) -> anyhow::Result<Wrk> {
    let script = fx._dir.path().join("signin.lua");
    // Each run goes on from the last user signed in, so that no user reaches the limit of codes
    // sent an hour (a sign-in past it is answered 429).
    let start = fx.next_user.load(Ordering::Relaxed) as u64;
    std::fs::write(&script, wrk_script(fx.usernames.len(), start))?;
    let url = fx.signin_url();
    let threads = connections.clamp(1, 2);
    let w = blocking(move || {
        let out = Command::new("wrk")
            .args(["-t", &threads.to_string(), "-c", &connections.to_string(), "-d", &format!("{secs}s")])
            .args(["--timeout", "10s", "-s"])
            .arg(&script)
            .arg(&url)
            .stdin(Stdio::null())
            .output()
            .context("cannot run wrk (apt-get install wrk)")?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!("wrk failed: {} {}", text, String::from_utf8_lossy(&out.stderr));
        }
        Wrk::parse(&text)
    })
    .await?;
    fx.next_user.fetch_add((w.ok + w.busy + w.other) as usize, Ordering::Relaxed);
    // wrk stops with a request in flight on every connection; the server finishes them. Let it,
    // so that they neither take the next slice's CPU nor hold its places in the hashing pool.
    tokio::time::sleep(WRK_DRAIN).await;
    Ok(w)
}

/// How long to wait after `wrk` stops for the server to finish the requests it left in flight
/// (each at most a hash in the queue and one hashing: well under 100 ms).
const WRK_DRAIN: Duration = Duration::from_millis(250);

// ---------------------------------------------------------------------------------------------
// Raw Argon2id

fn argon2id(cfg: &HashConfig) -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(cfg.memory_kib, cfg.iterations, cfg.parallelism, None)
        .map_err(|e| anyhow!("invalid Argon2 parameters: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// One verify as the server's pool does it: parse the stored PHC string, recompute the hash in
/// the thread's kept Argon2 memory (`memory`, allocated on first use) and compare. Reusing the
/// memory is what the server does too, so the baseline is the best a bare thread can do: without
/// it every verify maps and faults in 19 MiB afresh, and the server would look faster than raw.
fn verify_once(argon: &Argon2<'_>, phc: &str, memory: &mut Vec<Block>) -> anyhow::Result<()> {
    let parsed = PasswordHash::new(phc).map_err(|e| anyhow!("stored hash does not parse: {e}"))?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { bail!("stored hash has no salt or output") };
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).map_err(|e| anyhow!("stored salt does not decode: {e}"))?;
    if memory.is_empty() {
        memory.resize(argon.params().block_count(), Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    argon
        .hash_password_into_with_memory(PASSWORD.as_bytes(), salt, &mut out, memory.as_mut_slice())
        .map_err(|e| anyhow!("Argon2 failed: {e}"))?;
    if out.as_slice() != expected.as_bytes() {
        bail!("the benchmark password does not verify");
    }
    Ok(())
}

/// Verifies completed on `threads` threads in `window`.
fn raw_verifies(cfg: HashConfig, phc: &str, threads: usize, window: Duration) -> anyhow::Result<Raw> {
    let argon = argon2id(&cfg)?;
    let deadline = Instant::now() + window;
    std::thread::scope(|scope| {
        let mut workers = Vec::new();
        for i in 0..threads.max(1) {
            let worker = std::thread::Builder::new().name(format!("raw-argon2-{i}")).spawn_scoped(scope, || {
                let (start, start_wait) = own_thread_sched();
                let mut done = 0u64;
                let mut memory = Vec::new();
                while Instant::now() < deadline {
                    verify_once(&argon, phc, &mut memory)?;
                    if Instant::now() <= deadline {
                        done += 1;
                    }
                }
                let (end, end_wait) = own_thread_sched();
                anyhow::Ok(Raw {
                    verifies: done,
                    cpu: end.saturating_sub(start),
                    waited: end_wait.saturating_sub(start_wait),
                })
            })?;
            workers.push(worker);
        }
        let mut total = Raw { verifies: 0, cpu: Duration::ZERO, waited: Duration::ZERO };
        for w in workers {
            let r = w.join().map_err(|_| anyhow!("a verify thread panicked"))??;
            total.verifies += r.verifies;
            total.cpu += r.cpu;
            total.waited += r.waited;
        }
        Ok(total)
    })
}

/// Raw verifies completed, the CPU time their threads used, and how long they were ready to run
/// but waited for a CPU.
struct Raw {
    verifies: u64,
    cpu: Duration,
    waited: Duration,
}

/// CPU time used so far by the calling thread and time it spent waiting for a CPU (zero where
/// `/proc/thread-self/schedstat` is not available).
fn own_thread_sched() -> (Duration, Duration) {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let mut fields = text.split_whitespace().map(|n| n.parse::<u64>().map(Duration::from_nanos).unwrap_or_default());
    (fields.next().unwrap_or_default(), fields.next().unwrap_or_default())
}

/// Times of single verifies, one after another on one thread, with nothing else running.
fn single_verify_times(cfg: HashConfig, phc: &str) -> anyhow::Result<Vec<Duration>> {
    let argon = argon2id(&cfg)?;
    let mut times = Vec::with_capacity(ONE_HASH_SAMPLES);
    let mut memory = Vec::new();
    verify_once(&argon, phc, &mut memory)?;
    for _ in 0..ONE_HASH_SAMPLES {
        let t = Instant::now();
        verify_once(&argon, phc, &mut memory)?;
        times.push(t.elapsed());
    }
    Ok(times)
}

/// The median of sorted-or-not durations.
fn median(mut times: Vec<Duration>) -> anyhow::Result<Duration> {
    times.sort();
    percentile(&times, 50.0).context("nothing was timed")
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> anyhow::Result<T> + Send + 'static) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f).await.context("a measuring thread failed")?
}

// ---------------------------------------------------------------------------------------------
// signin

async fn signin(args: &BenchArgs) -> anyhow::Result<Table> {
    let fx = Fixture::start(args.users).await?;
    let result = measure_signin(&fx, args).await;
    fx.stop().await;
    let (mut table, hash_cpu) = result?;
    cost_apart(args, hash_cpu, &mut table).await.context("the sign-in cost measured apart")?;
    Ok(table)
}

/// Sign-ins offered per second while the cost besides hashing is measured apart: about what two
/// hashing threads serve at the production cost.
const APART_RATE: f64 = 80.0;

/// Seconds of that measurement.
const APART_SECS: u64 = 10;

/// CPU of one production hash on the machine the issue measured (two threads verified 86–90 a
/// second): its "under 1 ms" is this share of one hash, a yardstick that moves less with the
/// host than milliseconds do.
const REFERENCE_HASH_CPU: Duration = Duration::from_micros(22_700);

/// The server's CPU per sign-in besides hashing, measured with nothing to compete with: a second
/// server whose Argon2id costs almost nothing (8 KiB, one pass) is offered [`APART_RATE`]
/// sign-ins a second by a separate process (an open loop) for [`APART_SECS`] s. Under the real
/// load this CPU is taken from the hashing threads, and the figure there moves with them (each
/// preemption costs both); here it is the work itself: HTTP, the statements, the hand-offs to
/// the database and hashing threads, the session, audit and outbox, the code's delivery.
///
/// `hash_cpu` is the CPU of one production hash measured in the same run, to state the cost as a
/// share of it.
async fn cost_apart(args: &BenchArgs, hash_cpu: Option<Duration>, t: &mut Table) -> anyhow::Result<()> {
    let cheap = HashConfig { memory_kib: 8, iterations: 1, parallelism: 1, ..HashConfig::default() };
    let fx = Fixture::start_hashing(args.users, cheap).await?;
    let sched_before = thread_schedstat();
    let load = drive_open_loop_process(&fx, APART_RATE, Duration::from_secs(APART_SECS)).await;
    let wakeups = wakeups_besides_hashing(&sched_before, &thread_schedstat());
    fx.stop().await;
    let load = load?;
    let ok = load.with_status(200).count();
    if ok == 0 {
        bail!("no sign-in succeeded ({} other answers, {} errors)", load.others(&[200]), load.errors);
    }
    let busy: Duration = load.cpu.iter().filter(|(g, _)| **g != "hashing").map(|(_, d)| *d).sum();
    let per = busy.as_secs_f64() * 1000.0 / ok as f64;
    t.figure(
        &format!("apart: sign-ins at {APART_RATE:.0}/s for {APART_SECS} s, Argon2id m=8 KiB t=1"),
        format!("{ok} (other answers: {})", load.others(&[200])),
    );
    t.figure("apart: CPU of the server, cores", load.cpu_cores());
    t.check("apart: CPU per sign-in besides hashing", format!("{per:.2} ms"), "< 1 ms", per < 1.0);
    if wakeups > 0 {
        t.figure(
            "apart: times a thread besides hashing was put on a CPU, per sign-in",
            format!("{:.1} (each hand-off between threads is one)", wakeups as f64 / ok as f64),
        );
    }
    if let Some(hash) = hash_cpu.filter(|h| !h.is_zero()) {
        let share = per / (hash.as_secs_f64() * 1000.0);
        let reference = 1.0 / (REFERENCE_HASH_CPU.as_secs_f64() * 1000.0);
        t.figure(
            "apart: the same ÷ CPU of one production hash in this run",
            format!(
                "{:.1} % of {:.1} ms (1 ms on the issue's machine: {:.1} %, so about {:.2} ms there)",
                100.0 * share,
                hash.as_secs_f64() * 1000.0,
                100.0 * reference,
                share * REFERENCE_HASH_CPU.as_secs_f64() * 1000.0
            ),
        );
    }
    t.note(
        "apart: the same server with a nearly free hash, offered sign-ins by a separate process at about the \
         production rate, so that its CPU besides hashing is measured without the hashing threads to compete with",
    );
    Ok(())
}

/// Length of one slice of the sign-in measurement: raw and HTTP alternate in slices this long.
const SLICE_SECS: u64 = 2;

/// The sign-in table, and the CPU of one raw verify in it (none if none completed).
async fn measure_signin(fx: &Fixture, args: &BenchArgs) -> anyhow::Result<(Table, Option<Duration>)> {
    let workers = fx.hash.workers.max(1);
    let clients = args.clients.unwrap_or(2 * workers);
    let cfg = fx.hash;
    let pause = Duration::from_millis(args.reject_pause_ms);
    // Raw verifies and HTTP sign-ins alternate in short slices (the order flips every round),
    // so that a neighbour's burst of work on a shared machine falls on both sides of a round's
    // ratio; the median of the rounds' ratios is then judged.
    let rounds = (args.seconds / SLICE_SECS).max(1) as u32;
    let slice = args.duration() / rounds;
    let mut load = Load::empty();
    let (mut raw_total, mut raw_rates, mut http_rates, mut ratios) = (0u64, Vec::new(), Vec::new(), Vec::new());
    let (mut raw_cpu, mut raw_waited) = (Duration::ZERO, Duration::ZERO);
    let machine = MachineCpu::now();
    let rss_before = read_rss(std::process::id())?;
    let mut rss_peak = rss_before;
    let mut wrk_total = Wrk::default();
    for round in 0..rounds {
        let (mut raw_rate, mut http_rate) = (0.0, 0.0);
        for raw_turn in if round % 2 == 0 { [true, false] } else { [false, true] } {
            if raw_turn {
                let phc = fx.phc.clone();
                let raw = blocking(move || raw_verifies(cfg, &phc, workers, slice)).await?;
                let n = raw.verifies;
                raw_cpu += raw.cpu;
                raw_waited += raw.waited;
                raw_total += n;
                raw_rate = n as f64 / slice.as_secs_f64();
            } else if args.wrk {
                let secs = slice.as_secs().max(1);
                let cpu_before = thread_cpu();
                let started = Instant::now();
                let w = run_wrk(fx, clients, secs).await?;
                http_rate = w.ok as f64 / secs as f64;
                let mut l = Load { window: Duration::from_secs(secs), ..Load::empty() };
                l.cpu = cpu_by_group(&cpu_before, &thread_cpu());
                l.cpu_window = started.elapsed();
                load.absorb(l);
                wrk_total.add(&w);
            } else {
                let l = drive_signins(fx, clients, slice, pause).await?;
                http_rate = l.with_status(200).count() as f64 / slice.as_secs_f64();
                load.absorb(l);
            }
            rss_peak = rss_peak.max(read_rss(std::process::id())?);
        }
        if raw_rate <= 0.0 {
            bail!("no raw verify completed in a {:.1} s slice", slice.as_secs_f64());
        }
        raw_rates.push(raw_rate);
        http_rates.push(http_rate);
        ratios.push(http_rate / raw_rate);
    }
    let others = machine.others_since();
    let window = slice * rounds;
    let http_window = if args.wrk { load.window } else { window };
    let ok = if args.wrk { wrk_total.ok } else { load.with_status(200).count() as u64 };
    let http_rate = ok as f64 / http_window.as_secs_f64().max(1e-9);
    let raw_rate = raw_total as f64 / window.as_secs_f64();
    let overall = http_rate / raw_rate;
    let rss_during = rss_peak;
    let memory_held_at_end = fx.running.services.hasher.threads_holding_memory();
    tokio::time::sleep(Duration::from_secs(args.settle_seconds)).await;
    let rss_after = read_rss(std::process::id())?;
    let memory_held_after = fx.running.services.hasher.threads_holding_memory();
    ratios.sort_by(f64::total_cmp);
    let median = percentile(&ratios, 50.0).unwrap_or(0.0);

    let mut t = Table::new(format!(
        "signin: {rounds} rounds of {:.1} s HTTP ({}) + {:.1} s raw, {clients} clients, {workers} hashing workers, {} users, Argon2id m={} KiB t={} p={}",
        if args.wrk { http_window.as_secs_f64() / f64::from(rounds) } else { slice.as_secs_f64() },
        if args.wrk { "wrk, a separate process" } else { "in-process clients" },
        slice.as_secs_f64(),
        args.users,
        cfg.memory_kib,
        cfg.iterations,
        cfg.parallelism
    ));
    t.figure("HTTP sign-ins answered 200", ok.to_string());
    t.figure("HTTP sign-ins per second", per_sec(http_rate));
    t.figure("  per round min / median / max", spread(&mut http_rates));
    if args.wrk {
        t.figure(
            "other answers",
            format!("503×{}, other×{} (last: {})", wrk_total.busy, wrk_total.other, wrk_total.other_status),
        );
        t.figure("transport errors", wrk_total.errors.to_string());
        t.figure("CPU of the server during HTTP, cores", load.cpu_cores());
    } else {
        t.figure("other answers", load.others(&[200]));
        t.figure("transport errors", load.errors.to_string());
        t.figure("CPU during HTTP, cores", load.cpu_cores());
    }
    let busy_cpu: Duration = load.cpu.iter().filter(|(g, _)| **g != "hashing").map(|(_, d)| *d).sum();
    if ok > 0 {
        t.figure(
            "CPU per sign-in besides hashing (this process)",
            format!("{:.2} ms", busy_cpu.as_secs_f64() * 1000.0 / ok as f64),
        );
    }
    t.figure(&format!("raw Argon2id verifies ({workers} threads)"), raw_total.to_string());
    t.figure("raw Argon2id verifies per second", per_sec(raw_rate));
    t.figure("  per round min / median / max", spread(&mut raw_rates));
    t.figure(
        "CPU during raw, cores",
        format!(
            "raw threads {:.2} (waiting for a CPU {:.2})",
            raw_cpu.as_secs_f64() / window.as_secs_f64(),
            raw_waited.as_secs_f64() / window.as_secs_f64()
        ),
    );
    t.figure("CPU of other processes, cores", others.map_or_else(|| "n/a".to_owned(), |c| format!("{c:.2}")));
    t.figure("HTTP / raw, whole run", format!("{overall:.3}"));
    t.figure(
        "HTTP / raw, per round min / max",
        format!("{:.3} / {:.3}", ratios.first().copied().unwrap_or(0.0), ratios.last().copied().unwrap_or(0.0)),
    );
    t.check("HTTP / raw, median of rounds", format!("{median:.3}"), ">= 0.92", median >= 0.92);
    let process_cpu: Duration = load.cpu.values().sum();
    if !process_cpu.is_zero() && !raw_cpu.is_zero() {
        let per_cpu = (ok as f64 / process_cpu.as_secs_f64()) / (raw_total as f64 / raw_cpu.as_secs_f64());
        t.figure("HTTP / raw, per CPU-second", format!("{per_cpu:.3}"));
        t.note(
            "per CPU-second: sign-ins per second of this process's CPU (server and client) over verifies per second \
             of the raw threads' CPU; it does not depend on how much CPU other processes left",
        );
    }
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let limit_during = rss_before + (workers as u64 + 1) * 20 * 1024 * 1024;
    t.figure("RSS before the load", format!("{:.1} MiB", mib(rss_before)));
    t.check(
        "RSS during the load (highest reading)",
        format!("{:.1} MiB", mib(rss_during)),
        format!("<= before + {} × 20 MiB = {:.1} MiB", workers + 1, mib(limit_during)),
        rss_during <= limit_during,
    );
    t.check(
        &format!("RSS {} s after the load", args.settle_seconds),
        format!("{:.1} MiB", mib(rss_after)),
        format!("<= 1.1 × before = {:.1} MiB", 1.1 * mib(rss_before)),
        rss_after as f64 <= 1.1 * rss_before as f64,
    );
    t.figure(
        "hashing threads holding Argon2 memory: end of load / after",
        format!("{memory_held_at_end} / {memory_held_after}"),
    );
    t.note("RSS: VmRSS of this process (server and, without --wrk, the benchmark's clients); read after each slice");
    if !args.wrk {
        t.note("HTTP clients run in this process; --wrk drives them from a separate process instead");
    }
    if others.is_some_and(|c| c > 0.2) {
        t.note("other processes used the CPU during the run: per-second rates and their ratio are unreliable");
    }
    if ok > 5 * args.users as u64 {
        t.note("more sign-ins than 5 per user: some did not send a code (hourly limit)");
    }
    if load.with_status(503).next().is_some() {
        t.note("503s at this concurrency mean the pool refused work below its nominal capacity (workers + queue)");
    }
    let hash_cpu = u32::try_from(raw_total).ok().filter(|n| *n > 0).map(|n| raw_cpu / n);
    Ok((t, hash_cpu))
}

/// `min / median / max` of rates.
fn spread(rates: &mut [f64]) -> String {
    rates.sort_by(f64::total_cmp);
    let at = |q: f64| percentile(rates, q).unwrap_or(0.0);
    format!("{:.1} / {:.1} / {:.1}", at(0.0), at(50.0), at(100.0))
}

// ---------------------------------------------------------------------------------------------
// overload

async fn overload(args: &BenchArgs) -> anyhow::Result<Table> {
    let fx = Fixture::start(args.users).await?;
    let result = measure_overload(&fx, args).await;
    fx.stop().await;
    result
}

async fn measure_overload(fx: &Fixture, args: &BenchArgs) -> anyhow::Result<Table> {
    let cfg = fx.hash;
    let phc = fx.phc.clone();
    let before = blocking(move || single_verify_times(cfg, &phc)).await?;
    // Capacity: what the hashing workers can do, one hash each at a time.
    let capacity = cfg.workers.max(1) as f64 / median(before.clone())?.as_secs_f64().max(1e-6);
    let offered = 4.0 * capacity;
    let machine = MachineCpu::now();
    let load = drive_open_loop_process(fx, offered, args.duration()).await?;
    let others = machine.others_since();
    let hash = HashTimes::finish(fx, before).await?;

    let (admitted, rejected) = (load.latencies(200), load.latencies(503));
    let admitted_in_window = load.with_status(200).count();
    let without_retry_after = load.samples.iter().filter(|s| s.status == 503 && !s.retry_after).count();
    let p = |v: &[Duration], q: f64| percentile(v, q).map_or_else(|| "-".to_owned(), ms);
    let p99 = percentile(&admitted, 99.0);
    let limit = hash.alone * 3;

    let mut t = Table::new(format!(
        "overload: {} s, sign-ins offered at {offered:.0}/s = 4 × capacity ({} workers / one hash), queue {}, {} users",
        args.seconds, cfg.workers, cfg.queue, args.users
    ));
    t.figure(
        &format!("one hash alone (median of {})", 2 * ONE_HASH_SAMPLES),
        format!("{} (before {}, after {})", ms(hash.alone), ms(hash.before), ms(hash.after)),
    );
    t.figure(&format!("one hash, {} threads hashing", cfg.workers.max(1)), ms(hash.busy));
    t.figure("admitted (200)", admitted.len().to_string());
    t.figure("admitted per second", per_sec(admitted_in_window as f64 / args.duration().as_secs_f64()));
    t.figure("admitted p50", p(&admitted, 50.0));
    t.check(
        "admitted p99",
        p(&admitted, 99.0),
        format!("<= 3 × one hash = {}", ms(limit)),
        p99.is_some_and(|v| v <= limit),
    );
    t.figure("admitted max", p(&admitted, 100.0));
    t.figure("rejected (503)", rejected.len().to_string());
    t.figure("rejected p50 / p99", format!("{} / {}", p(&rejected, 50.0), p(&rejected, 99.0)));
    t.check(
        "503s without Retry-After",
        without_retry_after.to_string(),
        "0",
        without_retry_after == 0 && !rejected.is_empty(),
    );
    t.figure("other answers", load.others(&[200, 503]));
    t.figure("transport errors", load.errors.to_string());
    t.figure("CPU in load, cores", load.cpu_cores());
    t.figure("CPU of other processes, cores", others.map_or_else(|| "n/a".to_owned(), |c| format!("{c:.2}")));
    if let Some(v) = p99 {
        t.note(format!(
            "admitted p99 is {:.2} × one hash alone, {:.2} × one hash with every worker hashing",
            v.as_secs_f64() / hash.alone.as_secs_f64(),
            v.as_secs_f64() / hash.busy.as_secs_f64().max(1e-9)
        ));
    }
    if rejected.is_empty() {
        t.note("nothing was rejected: the offered load did not exceed capacity");
    }
    t.note("open loop: requests arrive at a fixed rate whatever the answers, as independent users do");
    storm(fx, args, &hash, &mut t).await?;
    Ok(t)
}

/// Connections of a client that ignores `Retry-After`.
const STORM_CONNECTIONS: usize = 32;

/// Connections of well-behaved clients, whose sign-ins per second are the storm's yardstick.
const CALM_CONNECTIONS: usize = 4;

/// Rounds of the storm with `wrk`: each a calm slice, then a storm slice.
const STORM_ROUNDS: u64 = 5;

/// A client that ignores `Retry-After`: [`STORM_CONNECTIONS`] connections in a closed loop, each
/// sending its next sign-in as soon as the last is answered, refused or not. Driven by `wrk` (a
/// separate process) when it is on PATH, else by in-process clients.
///
/// With `wrk`, storm slices alternate with calm ones ([`CALM_CONNECTIONS`] clients, the `signin`
/// bench's load), and the check is the median over rounds of storm ÷ calm sign-ins per second:
/// what the storm leaves of what this machine gave well-behaved clients moments before. A hash
/// on this virtual machine takes from 15 to 35 ms from one minute to the next, so a yardstick
/// timed in another minute (workers ÷ one hash alone) is reported beside it, not judged.
async fn storm(fx: &Fixture, args: &BenchArgs, hash: &HashTimes, t: &mut Table) -> anyhow::Result<()> {
    let capacity = fx.hash.workers.max(1) as f64 / hash.alone.as_secs_f64().max(1e-6);
    let busy_capacity = fx.hash.workers.max(1) as f64 / hash.busy.as_secs_f64().max(1e-6);
    let secs = args.seconds;
    let machine = MachineCpu::now();
    let cpu_before = thread_cpu();
    let started = Instant::now();
    // Storm ÷ calm of each round, with wrk only.
    let mut ratios = None;
    let (how, ok, refused, other, storm_secs) = if wrk_available() {
        let slice = (secs / STORM_ROUNDS).max(2);
        let (mut storm, mut calm) = (Wrk::default(), Wrk::default());
        let rounds = ratios.insert(Vec::new());
        for _ in 0..STORM_ROUNDS {
            let c = run_wrk(fx, CALM_CONNECTIONS, slice).await?;
            let s = run_wrk(fx, STORM_CONNECTIONS, slice).await?;
            if c.ok > 0 {
                rounds.push(s.ok as f64 / c.ok as f64);
            }
            calm.add(&c);
            storm.add(&s);
            // The pool keeps its queue closed for a moment after it was full; the next calm
            // slice starts once it is open again.
            tokio::time::sleep(OVERLOAD_WINDOW + WRK_DRAIN).await;
        }
        t.figure(
            &format!("calm slices ({CALM_CONNECTIONS} connections, {STORM_ROUNDS} × {slice} s): sign-ins per second"),
            per_sec(calm.ok as f64 / (STORM_ROUNDS * slice) as f64),
        );
        ("wrk", storm.ok, storm.busy, storm.other + storm.errors, STORM_ROUNDS * slice)
    } else {
        let l = drive_signins(fx, STORM_CONNECTIONS, Duration::from_secs(secs), Duration::ZERO).await?;
        let (ok, busy) = (l.with_status(200).count() as u64, l.with_status(503).count() as u64);
        let other = l.samples.iter().filter(|x| x.in_window && x.status != 200 && x.status != 503).count() as u64;
        ("in-process clients", ok, busy, other + l.errors, secs)
    };
    let cpu = cpu_by_group(&cpu_before, &thread_cpu());
    let window = started.elapsed();
    let others = machine.others_since();
    let rate = ok as f64 / storm_secs as f64;
    t.figure(
        &format!(
            "storm ({how}, {STORM_CONNECTIONS} connections retrying at once, {storm_secs} s): answers 200 / 503 / other"
        ),
        format!("{ok} / {refused} / {other}"),
    );
    t.figure("storm: refusals per second", per_sec(refused as f64 / storm_secs as f64));
    t.figure(
        "storm: sign-ins per second",
        format!(
            "{} = {:.2} × workers ÷ one hash alone ({}), {:.2} × workers ÷ one hash with every worker hashing ({})",
            per_sec(rate),
            rate / capacity,
            per_sec(capacity),
            rate / busy_capacity,
            per_sec(busy_capacity)
        ),
    );
    match ratios {
        None => t.check(
            "storm: sign-ins per second ÷ capacity",
            format!("{:.2}", rate / capacity),
            ">= 0.8",
            rate >= 0.8 * capacity,
        ),
        // Every calm slice got nothing: the server stopped signing anyone in, storm or not.
        Some(rounds) if rounds.is_empty() => t.check(
            "storm ÷ calm sign-ins per second, median of rounds",
            "no calm slice signed anyone in",
            ">= 0.8",
            false,
        ),
        Some(mut rounds) => {
            let each = rounds.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", ");
            rounds.sort_by(f64::total_cmp);
            let mid = percentile(&rounds, 50.0).unwrap_or(0.0);
            t.check(
                "storm ÷ calm sign-ins per second, median of rounds",
                format!("{mid:.2} (rounds {each})"),
                ">= 0.8",
                mid >= 0.8,
            );
        }
    }
    t.figure("storm: CPU of the server, cores", cores(&cpu, window));
    t.figure(
        "storm: CPU of other processes (the load generator too), cores",
        others.map_or_else(|| "n/a".to_owned(), |c| format!("{c:.2}")),
    );
    Ok(())
}

/// The time of one hash in the overload run.
struct HashTimes {
    /// Median of single verifies alone, before and after the load together.
    alone: Duration,
    before: Duration,
    after: Duration,
    /// Average time of one verify while every worker's thread verifies at once.
    busy: Duration,
}

impl HashTimes {
    /// Times single verifies again after the load, then verifies on every worker's thread at once.
    async fn finish(fx: &Fixture, before: Vec<Duration>) -> anyhow::Result<Self> {
        let (cfg, phc) = (fx.hash, fx.phc.clone());
        let after = blocking(move || single_verify_times(cfg, &phc)).await?;
        let (workers, phc) = (cfg.workers.max(1), fx.phc.clone());
        let busy = blocking(move || raw_verifies(cfg, &phc, workers, BUSY_HASH_WINDOW)).await?;
        let busy = (BUSY_HASH_WINDOW * workers as u32).checked_div(busy.verifies.max(1) as u32).unwrap_or_default();
        Ok(Self {
            before: median(before.clone())?,
            after: median(after.clone())?,
            alone: median(before.into_iter().chain(after).collect())?,
            busy,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// startup

/// One start of `gatehouse serve` as a child process.
#[derive(Debug, Clone, Copy)]
struct Start {
    /// Spawn to the first answer of `GET /healthz`.
    ready: Duration,
    /// The status of that answer.
    status: u16,
    /// Resident memory after being idle, in bytes.
    rss: u64,
}

/// A child process that is killed when dropped.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn startup(repeats: usize) -> anyhow::Result<Table> {
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let dir = TempDir::new("startup")?;
    let mut fresh = Vec::with_capacity(repeats);
    for i in 0..repeats {
        fresh.push(start_once(&exe, &dir, &format!("fresh-{i}.db")).await?);
    }
    // The existing database: migrated by a first start, and given a plan, as a configured
    // deployment would be.
    start_once(&exe, &dir, "s.db").await?;
    seed_plan(&dir.sqlite_url("s.db")).await?;
    let mut existing = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        existing.push(start_once(&exe, &dir, "s.db").await?);
    }

    let mut t = Table::new(format!("startup: `gatehouse serve` as a child process, {repeats} starts per case, median"));
    startup_rows(&mut t, "fresh database", &fresh)?;
    startup_rows(&mut t, "existing database", &existing)?;
    t.note(format!(
        "ready = spawn to the first HTTP answer of GET /healthz, polled every {} ms",
        POLL_EVERY.as_millis()
    ));
    t.note(format!(
        "memory = VmRSS from /proc/<pid>/status after {} s idle; 1 MB = 10^6 bytes",
        IDLE_BEFORE_RSS.as_secs()
    ));
    Ok(t)
}

fn startup_rows(t: &mut Table, case: &str, starts: &[Start]) -> anyhow::Result<()> {
    let mut ready: Vec<Duration> = starts.iter().map(|s| s.ready).collect();
    ready.sort();
    let mut rss: Vec<u64> = starts.iter().map(|s| s.rss).collect();
    rss.sort_unstable();
    let median_ready = percentile(&ready, 50.0).context("no start measured")?;
    let median_rss = percentile(&rss, 50.0).context("no start measured")?;
    let rss_mb = median_rss as f64 / 1e6;
    let limit = Duration::from_millis(150);
    t.check(&format!("{case}: start to ready"), ms(median_ready), "<= 150 ms", median_ready <= limit);
    t.figure(
        &format!("{case}: min / max"),
        format!(
            "{} / {}",
            ms(ready.first().copied().unwrap_or_default()),
            ms(ready.last().copied().unwrap_or_default())
        ),
    );
    let statuses: Vec<String> = starts.iter().map(|s| s.status.to_string()).collect();
    t.check(&format!("{case}: /healthz status"), statuses.join(","), "200", starts.iter().all(|s| s.status == 200));
    t.check(&format!("{case}: idle RSS"), format!("{rss_mb:.1} MB"), "<= 30 MB", rss_mb <= 30.0);
    Ok(())
}

/// Adds a plan to an existing database, in-process, as an administrator would.
async fn seed_plan(url: &str) -> anyhow::Result<()> {
    let mut cfg = ServerConfig::local(url);
    cfg.hash.workers = 1;
    cfg.hash.queue = 1;
    let svc = crate::services(&cfg, Arc::new(SystemClock), String::new()).await?;
    bench_plan(&svc).await?;
    svc.db.close().await;
    Ok(())
}

/// Spawns `gatehouse serve` on `file` in `dir`, times it to its first `/healthz` answer, reads
/// its memory after it has been idle, and kills it.
async fn start_once(exe: &Path, dir: &TempDir, file: &str) -> anyhow::Result<Start> {
    let (exe, url) = (exe.to_owned(), dir.sqlite_url(file));
    let log_path = dir.path().join(format!("{file}.log"));
    blocking(move || time_start(&exe, &url, &log_path)).await
}

fn time_start(exe: &Path, url: &str, log_path: &Path) -> anyhow::Result<Start> {
    let addr = free_port()?;
    let log = std::fs::File::create(log_path)?;
    let t0 = Instant::now();
    let child = Command::new(exe)
        // No SMTP on a benchmark machine: the development outbox (loopback) is where mail goes.
        .args(["serve", "--dev-outbox", "--database-url", url, "--listen", &addr.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", exe.display()))?;
    let mut child = KillOnDrop(child);
    let status = loop {
        if let Ok(status) = probe(addr, START_LIMIT.saturating_sub(t0.elapsed())) {
            break status;
        }
        if let Some(exit) = child.0.try_wait()? {
            bail!("the server exited with {exit} before answering: {}", log_tail(log_path));
        }
        if t0.elapsed() >= START_LIMIT {
            bail!("the server did not answer within {} s: {}", START_LIMIT.as_secs(), log_tail(log_path));
        }
        std::thread::sleep(POLL_EVERY);
    };
    let ready = t0.elapsed();
    std::thread::sleep(IDLE_BEFORE_RSS);
    let rss = read_rss(child.0.id())?;
    drop(child);
    Ok(Start { ready, status, rss })
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// One `GET /healthz`; returns the status of the answer.
fn probe(addr: SocketAddr, limit: Duration) -> anyhow::Result<u16> {
    let limit = limit.max(Duration::from_millis(1));
    let mut s = TcpStream::connect_timeout(&addr, limit)?;
    s.set_read_timeout(Some(limit))?;
    s.set_write_timeout(Some(limit))?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 4096 {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    parse_status(&buf)
}

/// The status code of an HTTP/1.x status line.
fn parse_status(response: &[u8]) -> anyhow::Result<u16> {
    let text = String::from_utf8_lossy(response);
    let line = text.lines().next().unwrap_or_default();
    match line.split_whitespace().collect::<Vec<_>>().as_slice() {
        [version, code, ..] if version.starts_with("HTTP/1.") => Ok(code.parse()?),
        _ => bail!("not an HTTP answer: {line:?}"),
    }
}

/// Resident memory of a process in bytes.
fn read_rss(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("cannot read /proc/<pid>/status (the startup benchmark needs Linux)")?;
    parse_vmrss(&status).context("no VmRSS line in /proc/<pid>/status")
}

fn parse_vmrss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_script_strings_end_on_their_line() {
        // Lua strings in double quotes cannot span lines: wrk would load no script and print no counts.
        for line in wrk_script(1000, 0).lines() {
            assert_eq!(line.matches('"').count() % 2, 0, "unbalanced quotes in {line:?}");
        }
    }

    #[test]
    fn wrk_counts_are_read_from_the_done_line() {
        let out = "Running 1s test\nGATEHOUSE ok=7 busy=3 other=1 other_status=429\n  Socket errors: connect 0, read 2, write 0, timeout 1\n";
        let w = Wrk::parse(out).expect("parsed");
        assert_eq!((w.ok, w.busy, w.other, w.errors, w.other_status), (7, 3, 1, 3, 429));
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile::<u32>(&[], 50.0), None);
    }

    #[test]
    fn parses_status_lines_and_vmrss() {
        assert_eq!(parse_status(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n").unwrap(), 200);
        assert_eq!(parse_status(b"HTTP/1.1 404 Not Found\r\n").unwrap(), 404);
        assert!(parse_status(b"").is_err());
        assert!(parse_status(b"SSH-2.0-OpenSSH\r\n").is_err());
        let status = "Name:\tgatehouse\nVmPeak:\t  100 kB\nVmRSS:\t   12345 kB\nThreads:\t5\n";
        assert_eq!(parse_vmrss(status), Some(12345 * 1024));
        assert_eq!(parse_vmrss("Name:\tx\n"), None);
    }

    #[test]
    fn table_aligns_columns_and_counts_verdicts() {
        let mut t = Table::new("demo");
        t.figure("a", "1");
        t.check("longer name", "22.5 ms", "<= 30 ms", true);
        t.check("b", "3", "0", false);
        let text = t.render();
        let column = |word: &str| text.lines().find_map(|l| l.find(word));
        assert_eq!(column("result"), column("PASS"));
        assert_eq!(column("PASS"), column("MISS"));
        assert_eq!(t.verdicts(), (1, 1));
    }

    #[test]
    fn cpu_is_summed_by_kind_of_thread() {
        let ms = Duration::from_millis;
        let before = BTreeMap::from([(1, ("argon2-0".to_owned(), ms(10))), (2, ("tokio-rt-worker".to_owned(), ms(5)))]);
        let after = BTreeMap::from([
            (1, ("argon2-0".to_owned(), ms(30))),
            (2, ("tokio-rt-worker".to_owned(), ms(6))),
            (3, ("sqlx-sqlite-wor".to_owned(), ms(4))),
            (4, ("argon2-1".to_owned(), ms(7))),
        ]);
        let groups = cpu_by_group(&before, &after);
        assert_eq!(groups.get("hashing"), Some(&ms(27)));
        assert_eq!(groups.get("runtime"), Some(&ms(1)));
        assert_eq!(groups.get("sqlite"), Some(&ms(4)));
        assert_eq!(thread_group("gatehouse"), "other");
    }

    #[test]
    fn bounds_are_enforced() {
        let ok = BenchArgs {
            which: Which::All,
            seconds: 15,
            users: 1000,
            clients: None,
            repeats: 5,
            reject_pause_ms: 0,
            wrk: false,
            settle_seconds: 60,
            search_users: 1_000_000,
            samples: 200,
            pg: None,
            search_sqlite_file: None,
            search_pg_database: None,
            search_skip_sqlite: false,
            message_threads: 200_000,
            messages_sqlite_file: None,
            messages_pg_database: None,
            messages_skip_sqlite: false,
            review_practices: 10_000,
            review_users: 1_000_000,
            reviews_sqlite_file: None,
            reviews_pg_database: None,
            reviews_skip_sqlite: false,
            url: None,
            rate: 0.0,
            first_user: 0,
        };
        assert!(ok.validate().is_ok());
        assert!(BenchArgs { seconds: 0, ..ok.clone() }.validate().is_err());
        assert!(BenchArgs { seconds: 1000, ..ok.clone() }.validate().is_err());
        assert!(BenchArgs { users: 1, ..ok.clone() }.validate().is_err());
        assert!(BenchArgs { clients: Some(0), ..ok.clone() }.validate().is_err());
        assert!(BenchArgs { settle_seconds: 301, ..ok.clone() }.validate().is_err());
        assert!(BenchArgs { repeats: 100, ..ok }.validate().is_err());
    }

    #[test]
    fn raw_verifies_count_within_the_window() {
        let cfg = HashConfig { memory_kib: 64, iterations: 1, parallelism: 1, workers: 1, queue: 1 };
        let salt = argon2::password_hash::SaltString::from_b64("c2FsdHNhbHRzYWx0").unwrap();
        let phc = argon2::PasswordHasher::hash_password(&argon2id(&cfg).unwrap(), PASSWORD.as_bytes(), &salt)
            .unwrap()
            .to_string();
        let n = raw_verifies(cfg, &phc, 2, Duration::from_millis(50)).unwrap().verifies;
        assert!(n > 0);
        let times = single_verify_times(cfg, &phc).unwrap();
        assert_eq!(times.len(), ONE_HASH_SAMPLES);
        assert!(median(times).unwrap() < Duration::from_millis(50));
    }
}
