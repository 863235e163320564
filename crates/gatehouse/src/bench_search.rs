//! `gatehouse bench search`: the plan-wide user search and a hospital system's practice
//! directory over a plan of (by default) 1,000,000 synthetic users, on SQLite and PostgreSQL.
//!
//! Users are written with multi-row `INSERT`s (the search index triggers and GIN indexes are
//! maintained as in production). The searches are timed through the service functions
//! (`Services::search_users` with an operator grant, `Services::practice_directory` with the
//! administrator's `PracticeGrant`), one call per sample, with needles drawn from the data.

use crate::config::ServerConfig;
use anyhow::{Context, bail};
use gatehouse_domain::session::SessionStage;
use gatehouse_domain::{PlanId, UserId};
use gatehouse_services::plans::{NewPlan, Plan};
use gatehouse_services::practice::directory::DirectoryRequest;
use gatehouse_services::sessions::SessionInfo;
use gatehouse_services::{Services, SystemClock};
use sqlx::Connection;
use std::sync::Arc;
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

/// A deterministic generator (xorshift64*), so every run draws the same data and needles.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

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

fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Options of `gatehouse bench search`.
pub struct SearchArgs {
    pub users: usize,
    pub samples: usize,
    pub pg: Option<String>,
}

/// Runs the search benchmark on SQLite, then on PostgreSQL when a server is given.
pub async fn run(args: &SearchArgs) -> anyhow::Result<()> {
    if !(25_000..=2_000_000).contains(&args.users) {
        bail!("--search-users must be between 25000 and 2000000 (got {})", args.users);
    }
    if !(10..=10_000).contains(&args.samples) {
        bail!("--samples must be between 10 and 10000 (got {})", args.samples);
    }
    let dir = std::env::temp_dir().join(format!(
        "gatehouse-search-bench-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let result = async {
        let svc = open(&format!("sqlite://{}", dir.join("search.db").display())).await?;
        let r = measure(&svc, "SQLite", args).await;
        svc.db.close().await;
        r
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    match &args.pg {
        Some(server) => postgres(server, args).await?,
        None => println!("PostgreSQL: skipped (give --pg postgres://… or set GATEHOUSE_BENCH_PG)"),
    }
    Ok(())
}

async fn open(url: &str) -> anyhow::Result<Services> {
    crate::services(&ServerConfig::local(url), Arc::new(SystemClock), String::new()).await
}

async fn postgres(server: &str, args: &SearchArgs) -> anyhow::Result<()> {
    let with_db = |name: &str| -> anyhow::Result<String> {
        let mut u = url::Url::parse(server).with_context(|| format!("{} is not a URL", crate::redact(server)))?;
        u.set_path(&format!("/{name}"));
        Ok(u.to_string())
    };
    let name = format!("gh_search_bench_{:012x}", rand::random::<u64>() >> 16);
    let mut admin = sqlx::PgConnection::connect(&with_db("postgres")?).await.context("cannot connect to PostgreSQL")?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.context("cannot create the database")?;
    let result = async {
        let svc = open(&with_db(&name)?).await?;
        let r = measure(&svc, "PostgreSQL", args).await;
        svc.db.close().await;
        r
    }
    .await;
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await;
    let _ = admin.close().await;
    result
}

/// Writes the plan, its users, the hospital system and its administrator; returns the plan and
/// the administrator.
async fn populate(svc: &Services, users: usize) -> anyhow::Result<(Plan, UserId)> {
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
    gatehouse_store::commit(tx).await?;
    if svc.db.kind() == gatehouse_store::DbKind::Postgres {
        sqlx::query("ANALYZE").execute(svc.db.pool()).await?;
    }
    let admin = UserId(first_id.context("no users written")?);
    Ok((plan, admin))
}

/// A needle of one kind, drawn from the data.
fn needle(kind: usize, r: &mut Rng, users: usize) -> String {
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

struct Timing {
    times: Vec<Duration>,
    totals: Vec<i64>,
}

impl Timing {
    fn line(&mut self, db: &str, what: &str, kind: &str) -> String {
        self.times.sort_unstable();
        self.totals.sort_unstable();
        let at = |p: f64| {
            let rank = ((p / 100.0) * self.times.len() as f64).ceil() as usize;
            self.times.get(rank.clamp(1, self.times.len().max(1)) - 1).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        let median_total = self.totals.get(self.totals.len() / 2).copied().unwrap_or(0);
        let max_total = self.totals.last().copied().unwrap_or(0);
        let p95 = at(95.0);
        let verdict = if kind.starts_with('2') {
            "(no target)"
        } else if p95 <= 20.0 {
            "PASS"
        } else {
            "MISS"
        };
        format!(
            "| {db} | {what} | {kind} | {} | {:.1} | {p95:.1} | {:.1} | {median_total} / {max_total} | {verdict} |",
            self.times.len(),
            at(50.0),
            at(100.0),
        )
    }
}

async fn measure(svc: &Services, db: &str, args: &SearchArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let (plan, admin) = populate(svc, args.users).await?;
    println!("{db}: {} users written in {:.1} s", args.users, started.elapsed().as_secs_f64());
    let staff = svc.operator_grant(&plan);
    let session = SessionInfo {
        id: 0,
        plan_id: plan.id(),
        user_id: admin,
        stage: SessionStage::Complete,
        created_at: 0,
        active_affiliation: None,
    };
    let grant = svc.practice_grant(&plan, &session).await.context("the hospital system's administrator")?;
    let _: PlanId = plan.id();
    println!(
        "| database | search | needles | samples | p50 ms | p95 ms | max ms | matches median / max | p95 ≤ 20 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut r = Rng(0x5EED_0000_0000_0001);
    // Warm the caches once, as a running server would be.
    svc.search_users(&staff, &plan, "warm", 1).await?;
    for (kind, label) in KINDS.iter().enumerate() {
        let samples = if kind == 4 { args.samples.div_ceil(4) } else { args.samples };
        let mut plan_wide = Timing { times: Vec::new(), totals: Vec::new() };
        let mut directory = Timing { times: Vec::new(), totals: Vec::new() };
        for _ in 0..samples {
            let n = needle(kind, &mut r, args.users);
            let t = Instant::now();
            let (_, total) = svc.search_users(&staff, &plan, &n, 1).await?;
            plan_wide.times.push(t.elapsed());
            plan_wide.totals.push(total);
            let t = Instant::now();
            let page = svc
                .practice_directory(&grant, &plan, &DirectoryRequest { q: n.clone(), ..Default::default() })
                .await
                .map_err(|e| anyhow::anyhow!("directory: {e}"))?;
            directory.times.push(t.elapsed());
            directory.totals.push(page.total);
        }
        println!("{}", plan_wide.line(db, "plan-wide (search_users)", label));
        println!("{}", directory.line(db, "practice directory", label));
    }
    Ok(())
}
