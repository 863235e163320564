//! `gatehouse bench search`: the plan-wide user search and a hospital system's practice
//! directory over a plan of (by default) 1,000,000 synthetic users, on SQLite and PostgreSQL.
//!
//! Users are written with multi-row `INSERT`s (the search index triggers and GIN indexes are
//! maintained as in production), then the indexes are tidied as after any bulk load
//! ([`gatehouse_store::search::after_bulk_load`]). The real server runs in process on that
//! database. Each needle (drawn from the data) is timed four ways: through the service functions
//! (`Services::search_users` with an operator grant, `Services::practice_directory` with the
//! administrator's `PracticeGrant`), and over HTTP as a browser asks for the pages
//! (`GET /admin/users?q=…` with a plan administrator's session cookie, `GET /practice/users?q=…`
//! with the hospital system's administrator's), whole HTML page received.

use crate::bench_databases::Rng;
use crate::bench_databases::{Databases, sql_text};
use anyhow::{Context, bail};
use gatehouse_domain::UserId;
use gatehouse_domain::session::SessionStage;
use gatehouse_services::Services;
use gatehouse_services::plans::{NewPlan, Plan};
use gatehouse_services::practice::directory::DirectoryRequest;
use gatehouse_services::sessions::SessionInfo;
use gatehouse_services::tokens::{hash_token, new_token};
use gatehouse_store::directory::DirectoryQuery;
use gatehouse_store::sessions::NewSession;
use sqlx::Row;
use std::time::{Duration, Instant};

const FIRST: [&str; 48] = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Christopher",
    "Nancy",
    "Daniel",
    "Lisa",
    "Matthew",
    "Betty",
    "Anthony",
    "Margaret",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Paul",
    "Emily",
    "Andrew",
    "Donna",
    "Joshua",
    "Michelle",
    "Priya",
    "Wei",
    "Mohammed",
    "Sofia",
    "Juan",
    "Aisha",
    "Hiroshi",
    "Olga",
];
const LAST: [&str; 64] = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "O'Brien",
    "Patel",
    "Kim",
    "Chen",
    "Novak",
    "Kowalski",
    "Okafor",
    "Haddad",
    "Schmidt",
    "Rossi",
    "Ivanova",
    "Yamamoto",
    "Fitzgerald",
    "Delacroix",
];
const DOMAINS: [&str; 6] =
    ["gmail.com", "outlook.com", "yahoo.com", "lakesidehealth.org", "cedarvalleymed.com", "northshoreclinic.net"];

/// Every `AFFILIATE_EVERY`-th user belongs to the hospital system (20,000 of 1,000,000).
const AFFILIATE_EVERY: usize = 50;
/// Rows a statement.
const ROWS_PER_INSERT: usize = 500;

/// One synthetic user.
struct Person {
    first: &'static str,
    last: &'static str,
    username: String,
    email: String,
}

fn person(i: usize) -> Person {
    // Spread the combinations so neighbours differ; the same i always gives the same person.
    let mut r = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    let first = FIRST[r.below(FIRST.len())];
    let last = LAST[r.below(LAST.len())];
    let clean = |s: &str| s.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase();
    let username = format!("{}{}{i}", clean(first).chars().next().unwrap_or('x'), clean(last));
    let email = match r.below(3) {
        0 => format!("{}.{}{}@{}", clean(first), clean(last), i % 1000, DOMAINS[r.below(DOMAINS.len())]),
        1 => format!("{}{}{}@{}", clean(first).chars().next().unwrap_or('x'), clean(last), i, DOMAINS[r.below(6)]),
        _ => format!("{}_{}{}@{}", clean(last), clean(first), i % 100, DOMAINS[r.below(DOMAINS.len())]),
    };
    Person { first, last, username, email }
}

/// Options of `gatehouse bench search`.
pub struct SearchArgs {
    pub users: usize,
    pub samples: usize,
    /// Where it runs: SQLite, then PostgreSQL when a server is given (kept or temporary).
    pub databases: Databases,
}

/// Runs the search benchmark on SQLite, then on PostgreSQL when a server is given.
pub async fn run(args: &SearchArgs) -> anyhow::Result<()> {
    if !(25_000..=2_000_000).contains(&args.users) {
        bail!("--search-users must be between 25000 and 2000000 (got {})", args.users);
    }
    if !(10..=10_000).contains(&args.samples) {
        bail!("--samples must be between 10 and 10000 (got {})", args.samples);
    }
    args.databases.measure_each(async |running, db| measure(running, db, args).await).await
}

/// The benchmark's plan and the people who search it.
struct Fixture {
    plan: Plan,
    /// The hospital system's administrator.
    admin: UserId,
    /// A plan administrator (staff).
    staff: UserId,
    /// The hospital system.
    practice: i64,
}

/// Reuses the benchmark plan of a kept database when it holds `users` users, else writes it.
async fn prepare(svc: &Services, db: &str, users: usize) -> anyhow::Result<Fixture> {
    if let Some(plan) = svc.resolve_plan(Some("bench")).await? {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM users WHERE plan_id = $1 AND staff_role IS NULL) AS n, \
             (SELECT MIN(user_id) FROM affiliations WHERE plan_id = $1 AND is_admin = 1) AS admin, \
             (SELECT MIN(practice_id) FROM affiliations WHERE plan_id = $1 AND is_admin = 1) AS practice, \
             (SELECT MIN(id) FROM users WHERE plan_id = $1 AND staff_role = 'plan_admin') AS staff",
        )
        .bind(plan.id().0)
        .fetch_one(svc.db.pool())
        .await?;
        let n: i64 = row.try_get("n")?;
        let admin: Option<i64> = row.try_get("admin")?;
        let practice: Option<i64> = row.try_get("practice")?;
        let staff: Option<i64> = row.try_get("staff")?;
        return match (admin, practice, staff) {
            (Some(admin), Some(practice), Some(staff)) if n == users as i64 => {
                println!("{db}: reusing the kept database's {n} users");
                Ok(Fixture { plan, admin: UserId(admin), staff: UserId(staff), practice })
            }
            _ => bail!("the kept {db} database holds a benchmark plan of {n} users, not {users}: delete it first"),
        };
    }
    let started = Instant::now();
    let fixture = populate(svc, users).await?;
    println!("{db}: {users} users written in {:.1} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    let mut conn = svc.db.acquire().await?;
    gatehouse_store::search::after_bulk_load(&mut conn).await?;
    println!("{db}: search indexes tidied after the load in {:.1} s", started.elapsed().as_secs_f64());
    Ok(fixture)
}

/// Writes the plan, its users, the hospital system with its administrator, and a plan
/// administrator.
async fn populate(svc: &Services, users: usize) -> anyhow::Result<Fixture> {
    let plan = svc
        .create_plan(NewPlan {
            slug: "bench".into(),
            name: "Benchmark Health Plan".into(),
            host: None,
            support_phone: "1-800-555-0199".into(),
            support_hours: "Always".into(),
            terms_text: "Benchmark terms, version 1.".into(),
        })
        .await?;
    let p = plan.id().0;
    let now = svc.now();
    let mut tx = svc.db.begin().await?;
    let practice: i64 = sqlx::query_scalar(
        "INSERT INTO practices (plan_id, tax_id, name, address1, address2, city, state, zip, phone, created_at) \
         VALUES ($1, '825671892', 'Northshore Health System', '1 Main St', '', 'Seattle', 'WA', '98101', '', $2) RETURNING id",
    )
    .bind(p)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let mut first_id = None;
    for start in (0..users).step_by(ROWS_PER_INSERT) {
        let values = (start..(start + ROWS_PER_INSERT).min(users))
            .map(|i| {
                let u = person(i);
                format!(
                    "({p}, {un}, {un}, {}, '', {}, {em}, {em}, 'active', '+1{}', 'text', {now}, {now})",
                    sql_text(u.first),
                    sql_text(u.last),
                    2_065_000_000 + i % 1_000_000,
                    un = sql_text(&u.username),
                    em = sql_text(&u.email),
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let ids: Vec<i64> = sqlx::query_scalar(&format!(
            "INSERT INTO users (plan_id, username, username_lower, first_name, middle_name, last_name, email, email_lower, \
             status, two_step_phone, two_step_method, created_at, updated_at) VALUES {values} RETURNING id"
        ))
        .fetch_all(&mut *tx)
        .await?;
        first_id = first_id.or(ids.first().copied());
        let affiliations = ids
            .iter()
            .enumerate()
            .filter(|(k, _)| (start + k) % AFFILIATE_EVERY == 0)
            .map(|(k, id)| {
                let admin = i64::from(start + k == 0);
                let kind = if admin == 1 { "office_manager" } else { "billing_staff" };
                format!("({p}, {id}, {practice}, '{kind}', {admin}, 1, {now})")
            })
            .collect::<Vec<_>>()
            .join(", ");
        if !affiliations.is_empty() {
            sqlx::query(&format!(
                "INSERT INTO affiliations (plan_id, user_id, practice_id, user_type, is_admin, all_providers, created_at) \
                 VALUES {affiliations}"
            ))
            .execute(&mut *tx)
            .await?;
        }
    }
    let admin = UserId(first_id.context("no users written")?);
    // The pages ask the people who use them to have signed the current terms.
    sqlx::query("UPDATE users SET terms_version_signed = $2, terms_signed_at = $3 WHERE id = $1")
        .bind(admin.0)
        .bind(plan.row.terms_version)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let staff: i64 = sqlx::query_scalar(
        "INSERT INTO users (plan_id, username, username_lower, first_name, middle_name, last_name, email, email_lower, \
         status, staff_role, two_step_phone, two_step_method, terms_version_signed, terms_signed_at, created_at, updated_at) \
         VALUES ($1, 'bench.staff', 'bench.staff', 'Bench', '', 'Staff', 'bench.staff@plan.example', \
         'bench.staff@plan.example', 'active', 'plan_admin', '+12065550000', 'text', $2, $3, $3, $3) RETURNING id",
    )
    .bind(p)
    .bind(plan.row.terms_version)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    gatehouse_store::commit(tx).await?;
    Ok(Fixture { plan, admin, staff: UserId(staff), practice })
}

/// A needle of one kind, drawn from the data, as the searches see it (trimmed): a draw that
/// trimming leaves shorter than three characters (" sm" from "james smith") is drawn again,
/// except for the two-letter kind.
fn needle(kind: usize, r: &mut Rng, users: usize) -> String {
    loop {
        let n = draw(kind, r, users).trim().to_owned();
        if kind == 4 || n.chars().count() >= 3 {
            return n;
        }
    }
}

fn draw(kind: usize, r: &mut Rng, users: usize) -> String {
    let u = person(r.below(users));
    let name = format!("{} {}", u.first, u.last).to_lowercase();
    let cut = |s: &str, from: usize, len: usize| s.chars().skip(from).take(len).collect::<String>();
    match kind {
        // Name prefix: the start of a first or last name, 3 to 6 letters.
        0 => cut(&if r.below(2) == 0 { u.last.to_lowercase() } else { u.first.to_lowercase() }, 0, 3 + r.below(4)),
        // Name substring: 3 to 5 characters from inside the full name.
        1 => {
            let n = name.chars().count();
            let len = 3 + r.below(3);
            cut(&name, 1 + r.below(n.saturating_sub(len + 1).max(1)), len)
        }
        // Email prefix: the first 4 to 10 characters.
        2 => cut(&u.email, 0, 4 + r.below(7)),
        // Email substring: 5 to 8 characters from inside the address.
        3 => {
            let n = u.email.chars().count();
            let len = 5 + r.below(4);
            cut(&u.email, 1 + r.below(n.saturating_sub(len + 1).max(1)), len)
        }
        // Two letters from a name: too short for trigrams.
        _ => {
            let n = name.chars().count();
            cut(&name, r.below(n.saturating_sub(2).max(1)), 2)
        }
    }
}

const KINDS: [&str; 5] = ["name prefix", "name substring", "email prefix", "email substring", "2 letters (no trigram)"];

/// The times of one search over one kind of needle, and how many users each needle matches.
struct Timing {
    times: Vec<Duration>,
    matches: Vec<i64>,
}

impl Timing {
    fn new() -> Self {
        Self { times: Vec::new(), matches: Vec::new() }
    }

    fn line(&mut self, db: &str, what: &str, kind: &str, target_ms: f64) -> String {
        self.times.sort_unstable();
        self.matches.sort_unstable();
        let at = |p: f64| {
            let rank = ((p / 100.0) * self.times.len() as f64).ceil() as usize;
            self.times.get(rank.clamp(1, self.times.len().max(1)) - 1).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        let median = self.matches.get(self.matches.len() / 2).copied().unwrap_or(0);
        let max = self.matches.last().copied().unwrap_or(0);
        let p95 = at(95.0);
        let verdict = if kind.starts_with('2') {
            "(no target)"
        } else if p95 <= target_ms {
            "PASS"
        } else {
            "MISS"
        };
        format!(
            "| {db} | {what} | {kind} | {} | {:.1} | {p95:.1} | {:.1} | {median} / {max} | ≤ {target_ms:.0} ms: {verdict} |",
            self.times.len(),
            at(50.0),
            at(100.0),
        )
    }
}

/// A session cookie of `user`, signed in and past every step, made directly in the database.
async fn session_cookie(svc: &Services, plan: &Plan, user: UserId) -> anyhow::Result<String> {
    let token = new_token();
    let mut tx = svc.db.begin().await?;
    let session = NewSession {
        plan_id: plan.id(),
        user_id: user,
        token_hash: &hash_token(&token),
        stage: SessionStage::Complete,
        ip: "127.0.0.1",
        user_agent: "gatehouse bench search",
    };
    gatehouse_store::sessions::insert(&mut tx, &session, svc.now()).await?;
    gatehouse_store::commit(tx).await?;
    Ok(format!("{}={token}", gatehouse_web::extract::SESSION_COOKIE))
}

/// Fetches one page as a signed-in browser does; returns the time to the whole body.
async fn fetch(client: &reqwest::Client, url: &url::Url, cookie: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let resp = client.get(url.clone()).header(reqwest::header::COOKIE, cookie).send().await?;
    let status = resp.status();
    let body = resp.text().await?;
    let took = started.elapsed();
    if status != reqwest::StatusCode::OK || !body.contains("Total Records:") {
        bail!("GET {url} answered {status}, not a page of results");
    }
    Ok(took)
}

/// Names on stderr a needle that took more than five times the target, to look into.
fn slow(db: &str, what: &str, needle: &str, took: Duration) {
    if took > Duration::from_millis(100) {
        eprintln!("slow: {db} {what} {needle:?} {:.1} ms", took.as_secs_f64() * 1000.0);
    }
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

async fn measure(running: &crate::Running, db: &str, args: &SearchArgs) -> anyhow::Result<()> {
    let svc = &running.services;
    let f = prepare(svc, db, args.users).await?;
    let plan = &f.plan;
    // A plan at rest: the load's changes are older than the index's margin and pruned, as they
    // are an hour after a real load. (Within five minutes of a bulk load, every search also
    // reads the load's change log; see docs/decisions.md.)
    let mut conn = svc.db.acquire().await?;
    sqlx::query("DELETE FROM user_search_changes").execute(&mut *conn).await?;
    if svc.db.kind() == gatehouse_store::DbKind::Postgres {
        // As autovacuum soon does after the prune: else every search steps over a million dead
        // log entries.
        sqlx::query("VACUUM ANALYZE user_search_changes").execute(&mut *conn).await?;
        sqlx::query("VACUUM ANALYZE affiliations").execute(&mut *conn).await?;
    }
    drop(conn);
    // A running server reads this at the first search with many matches, in the background.
    let started = Instant::now();
    svc.load_search_index(plan.id()).await?;
    println!("{db}: the plan's search index read into memory in {:.1} s", started.elapsed().as_secs_f64());
    let answered_before = svc.searches_answered_by_index();
    let staff = svc.operator_grant(plan);
    let session = SessionInfo {
        id: gatehouse_domain::SessionId(0),
        plan_id: plan.id(),
        user_id: f.admin,
        stage: SessionStage::Complete,
        created_at: 0,
        active_affiliation: None,
    };
    let grant = svc.practice_grant(plan, &session).await.context("the hospital system's administrator")?;
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(60)).build()?;
    let staff_cookie = session_cookie(svc, plan, f.staff).await?;
    let admin_cookie = session_cookie(svc, plan, f.admin).await?;
    let page_url =
        |path: &str, q: &str| url::Url::parse_with_params(&format!("http://{}{path}", running.addr), [("q", q)]);
    println!(
        "| database | search | needles | samples | p50 ms | p95 ms | max ms | matches median / max | p95 target |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut r = Rng(0x5EED_0000_0000_0001);
    // Warm the caches once, as a running server would be.
    svc.search_users(&staff, plan, "warm", 1).await?;
    fetch(&client, &page_url("/admin/users", "warm")?, &staff_cookie).await?;
    fetch(&client, &page_url("/practice/users", "warm")?, &admin_cookie).await?;
    for (kind, label) in KINDS.iter().enumerate() {
        let samples = if kind == 4 { args.samples.div_ceil(4) } else { args.samples };
        let (mut plan_wide, mut directory, mut plan_http, mut dir_http) =
            (Timing::new(), Timing::new(), Timing::new(), Timing::new());
        for _ in 0..samples {
            let n = needle(kind, &mut r, args.users);
            let d = digits(&n);
            let t = Instant::now();
            svc.search_users(&staff, plan, &n, 1).await?;
            plan_wide.times.push(t.elapsed());
            slow(db, "plan-wide", &n, t.elapsed());
            let t = Instant::now();
            svc.practice_directory(&grant, plan, &DirectoryRequest { q: n.clone(), ..Default::default() })
                .await
                .map_err(|e| anyhow::anyhow!("directory: {e}"))?;
            directory.times.push(t.elapsed());
            slow(db, "directory", &n, t.elapsed());
            plan_http.times.push(fetch(&client, &page_url("/admin/users", &n)?, &staff_cookie).await?);
            dir_http.times.push(fetch(&client, &page_url("/practice/users", &n)?, &admin_cookie).await?);
            // How many users the needle matches, counted without a cap (not timed).
            let mut conn = svc.db.acquire().await?;
            let (_, all) = gatehouse_store::users::search(&mut conn, plan.id(), &n, &d, 1, 0, i64::MAX).await?;
            let practices = [f.practice];
            let q = DirectoryQuery {
                practices: &practices,
                needle: &n,
                digits: &d,
                limit: 1,
                count_cap: None,
                ..Default::default()
            };
            let (_, mine) = gatehouse_store::directory::page(&mut conn, plan.id(), &q).await?;
            for t in [&mut plan_wide, &mut plan_http] {
                t.matches.push(all.shown());
            }
            for t in [&mut directory, &mut dir_http] {
                t.matches.push(mine.shown());
            }
        }
        println!("{}", plan_wide.line(db, "plan-wide (search_users)", label, 20.0));
        println!("{}", directory.line(db, "practice directory", label, 20.0));
        println!("{}", plan_http.line(db, "plan-wide page over HTTP", label, 30.0));
        println!("{}", dir_http.line(db, "directory page over HTTP", label, 30.0));
    }
    println!(
        "{db}: {} of the timed searches were answered from the in-memory index (the others by SQL)",
        svc.searches_answered_by_index() - answered_before
    );
    Ok(())
}
