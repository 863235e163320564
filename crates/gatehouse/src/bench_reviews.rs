//! `gatehouse bench reviews`: access reviews and the daily job (issue 17) over a plan of (by
//! default) 10,000 practices and 1,000,000 users, on SQLite and PostgreSQL.
//!
//! The plan has one hospital system of 20,000 users and practices of about 98 users each (one
//! or two administrators), a plan administrator, and one open access review per practice, due
//! over the past 30 and the next 90 days. As the plan would stand the morning after a daily
//! run: the reminders whose day has passed are recorded, most practices have a signed review
//! from the previous quarter (with its frozen JSON and digest), and a share of the open reviews
//! near their due date have decisions in progress (the hospital system a quarter of its users).
//! Sign-ins are spread so that 3 % of the accounts are idle past 90 days, 0.5 % are at the
//! 166-day warning and not yet warned, and 0.3 % are past 180 days and were warned 14 days ago
//! or more; 2 % are deactivated. Everything is written with multi-row `INSERT`s in one
//! transaction, deterministically.
//!
//! The real server runs in process on that database, and the pages are fetched as a browser
//! does (session cookie minted directly, whole page received): plan staff's Reviews page
//! (`GET /admin/reviews`, alone and with each filter), and the hospital system's review, pages
//! 1, 400 and 800, as its administrator (`/practice/reviews/{id}`) and as plan staff
//! (`/admin/reviews/{id}`). Last, the daily job runs once for the plan, forced, at the load's
//! instant (`Services::run_daily_job_for`), and is timed with what it did. On a kept database
//! the previous run's marks at that instant are taken back first, so the job does the same work.

use crate::bench_databases::Rng;
use crate::bench_databases::{Databases, sql_text};
use anyhow::{Context, bail};
use gatehouse_domain::access_review::{DAY, FrozenDecision, FrozenReview, Reminder};
use gatehouse_domain::session::SessionStage;
use gatehouse_domain::{Timestamp, UserId};
use gatehouse_services::Services;
use gatehouse_services::jobs::DailyRun;
use gatehouse_services::plans::{NewPlan, Plan};
use gatehouse_services::tokens::{hash_token, new_token};
use gatehouse_store::DbKind;
use gatehouse_store::sessions::NewSession;
use std::time::{Duration, Instant};

/// The hospital system's Tax ID (the first practice).
const LARGE_TAX_ID: &str = "825671892";
/// People of the hospital system (its administrator among them), at most.
const LARGE_USERS: usize = 20_000;
/// Rows a statement.
const ROWS_PER_INSERT: usize = 500;
/// Users written between two progress lines.
const PROGRESS_EVERY: usize = 200_000;
/// Share of the hospital system's users with a decision, in percent.
const LARGE_DECIDED: usize = 25;
/// The pages of the hospital system's review that are timed.
const LARGE_PAGES: [i64; 3] = [1, 400, 800];
/// Reviews page variants: name and query.
const VARIANTS: [(&str, &str); 6] = [
    ("no filter", ""),
    ("status=overdue", "overdue"),
    ("status=follow_up", "follow_up"),
    ("status=not_started", "not_started"),
    ("status=in_progress", "in_progress"),
    ("tax_id=…", ""),
];
/// p95 targets, in milliseconds, and of the daily job in seconds.
const OVERVIEW_TARGET_MS: f64 = 50.0;
const REVIEW_PAGE_TARGET_MS: f64 = 100.0;
const DAILY_JOB_TARGET_S: f64 = 10.0;

const FIRST: [&str; 24] = [
    "James", "Mary", "Priya", "Wei", "Robert", "Linda", "Mohammed", "Sofia", "David", "Aisha", "Juan", "Olga",
    "Thomas", "Karen", "Hiroshi", "Nancy", "Daniel", "Emily", "Kwame", "Ana", "Sergei", "Fatima", "Luis", "Grace",
];
const LAST: [&str; 32] = [
    "Smith", "Garcia", "Nguyen", "Patel", "Okafor", "Kowalski", "Chen", "Rossi", "Haddad", "Johnson", "Lee",
    "Martinez", "Kim", "Schmidt", "Rivera", "O'Brien", "Brown", "Davis", "Lopez", "Wilson", "Anderson", "Thomas",
    "Moore", "Jackson", "Martin", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Young",
];
const CITIES: [&str; 8] = ["Seattle", "Tacoma", "Spokane", "Bellevue", "Everett", "Olympia", "Yakima", "Kent"];
const STAFF_TYPES: [&str; 4] = ["clinical_staff", "billing_staff", "appointment_scheduler", "eligibility_checker"];

/// Options of `gatehouse bench reviews`.
pub struct ReviewsArgs {
    /// Practices of the plan (the first a hospital system).
    pub practices: usize,
    /// Portal users of the plan.
    pub users: usize,
    /// Timed requests per page.
    pub samples: usize,
    /// Where it runs: SQLite, then PostgreSQL when a server is given (kept or temporary).
    pub databases: Databases,
}

/// Runs the reviews benchmark on SQLite, then on PostgreSQL when a server is given.
pub async fn run(args: &ReviewsArgs) -> anyhow::Result<()> {
    if !(20..=50_000).contains(&args.practices) {
        bail!("--review-practices must be between 20 and 50000 (got {})", args.practices);
    }
    if !(10 * args.practices..=2_000_000).contains(&args.users) {
        bail!(
            "--review-users must be between 10 × --review-practices ({}) and 2000000 (got {})",
            10 * args.practices,
            args.users
        );
    }
    if !(10..=10_000).contains(&args.samples) {
        bail!("--samples must be between 10 and 10000 (got {})", args.samples);
    }
    args.databases.measure_each(async |running, db| measure(running, db, args).await).await
}

/// The shape of the plan: how many people each practice has.
struct Shape {
    /// People of each practice, the hospital system first.
    sizes: Vec<usize>,
}

impl Shape {
    fn new(practices: usize, users: usize) -> Self {
        let large = LARGE_USERS.min(users / 4);
        let rest = users - large;
        let others = practices - 1;
        let sizes = std::iter::once(large).chain((0..others).map(|k| rest / others + usize::from(k < rest % others)));
        Self { sizes: sizes.collect() }
    }
}

/// One synthetic portal user, always the same for the same index.
struct Person {
    first: &'static str,
    last: &'static str,
    deactivated_at: Option<i64>,
    /// Start of the idle period (last sign-in); None when deactivated.
    idle_since: Option<i64>,
    /// When the current idle period was warned.
    warned_at: Option<i64>,
}

/// User `i` of the plan at `now`; `keep_fresh` for the people the benchmark signs in as.
fn person(i: usize, now: i64, keep_fresh: bool) -> Person {
    let mut r = Rng::seeded(i as u64, 0x55);
    let first = FIRST[r.below_i64(FIRST.len() as i64) as usize];
    let last = LAST[r.below_i64(LAST.len() as i64) as usize];
    if !keep_fresh && r.below_i64(1000) < 20 {
        let at = now - (1 + r.below_i64(365)) * DAY;
        return Person { first, last, deactivated_at: Some(at), idle_since: None, warned_at: None };
    }
    let band = if keep_fresh { 999 } else { r.below_i64(1000) };
    let (idle_since, warned_at) = match band {
        // Past 180 days, warned at 166 (14 days ago or more): due for deactivation.
        0..=2 => {
            let since = now - 181 * DAY - r.below_i64(60 * DAY);
            (since, Some(since + 166 * DAY + r.below_i64(3600)))
        }
        // Between 166 and 180 days, not warned yet: due for the warning.
        3..=7 => (now - 166 * DAY - r.below_i64(14 * DAY - 3600), None),
        // Idle (flagged) but not yet at the warning.
        8..=29 => (now - 90 * DAY - r.below_i64(76 * DAY - 3600), None),
        _ => (now - r.below_i64(89 * DAY), None),
    };
    Person { first, last, deactivated_at: None, idle_since: Some(idle_since), warned_at }
}

/// The benchmark's plan and the people who read it.
struct Fixture {
    plan: Plan,
    /// The instant the plan was written for (the daily job runs at it).
    loaded_at: i64,
    /// A plan administrator.
    staff: UserId,
    /// The hospital system's administrator, and its open review.
    admin: UserId,
    large_review: i64,
    /// Every practice's Tax ID.
    tax_ids: Vec<String>,
}

/// Reuses the benchmark plan of a kept database when it has the asked shape, else writes it.
async fn prepare(svc: &Services, db: &str, args: &ReviewsArgs) -> anyhow::Result<Fixture> {
    if let Some(plan) = svc.resolve_plan(Some("bench")).await? {
        let mut conn = svc.db.acquire().await?;
        let (practices, users): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM practices WHERE plan_id = $1), \
                    (SELECT COUNT(*) FROM users WHERE plan_id = $1 AND staff_role IS NULL)",
        )
        .bind(plan.id().0)
        .fetch_one(&mut *conn)
        .await?;
        drop(conn);
        if (practices, users) != (args.practices as i64, args.users as i64) {
            bail!(
                "the kept {db} database holds a benchmark plan of {practices} practices and {users} users, not \
                 {} and {}: delete it first",
                args.practices,
                args.users
            );
        }
        println!("{db}: reusing the kept database's {practices} practices and {users} users");
        // A running server reads a large plan's search index at start, in the background: let
        // it finish before timing anything.
        let started = Instant::now();
        while !svc.has_search_index(plan.id()) && started.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        return fixture(svc, plan).await;
    }
    let started = Instant::now();
    let plan = populate(svc, db, args).await?;
    println!("{db}: plan written in {:.1} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    let mut conn = svc.db.acquire().await?;
    gatehouse_store::search::after_bulk_load(&mut conn).await?;
    // A plan at rest: the load's search change log is pruned an hour after a real load.
    sqlx::query("DELETE FROM user_search_changes").execute(&mut *conn).await?;
    if svc.db.kind() == DbKind::Postgres {
        // As autovacuum does soon after a load this size.
        for table in [
            "users",
            "affiliations",
            "practices",
            "access_reviews",
            "access_review_decisions",
            "access_review_reminders",
            "user_search_changes",
        ] {
            sqlx::query(&format!("VACUUM ANALYZE {table}")).execute(&mut *conn).await?;
        }
    } else {
        sqlx::query("ANALYZE").execute(&mut *conn).await?;
    }
    drop(conn);
    println!("{db}: tidied after the load in {:.1} s", started.elapsed().as_secs_f64());
    fixture(svc, plan).await
}

/// Finds the people, practices and instant of a written benchmark plan.
async fn fixture(svc: &Services, plan: Plan) -> anyhow::Result<Fixture> {
    let p = plan.id().0;
    let mut conn = svc.db.acquire().await?;
    let loaded_at: i64 =
        sqlx::query_scalar("SELECT created_at FROM plans WHERE id = $1").bind(p).fetch_one(&mut *conn).await?;
    let staff: Option<i64> =
        sqlx::query_scalar("SELECT MIN(id) FROM users WHERE plan_id = $1 AND staff_role = 'plan_admin'")
            .bind(p)
            .fetch_one(&mut *conn)
            .await?;
    let tax_ids: Vec<String> = sqlx::query_scalar("SELECT tax_id FROM practices WHERE plan_id = $1 ORDER BY id")
        .bind(p)
        .fetch_all(&mut *conn)
        .await?;
    let large: i64 = sqlx::query_scalar("SELECT id FROM practices WHERE plan_id = $1 AND tax_id = $2")
        .bind(p)
        .bind(LARGE_TAX_ID)
        .fetch_one(&mut *conn)
        .await
        .context("the benchmark plan has no hospital system")?;
    let admin: Option<i64> =
        sqlx::query_scalar("SELECT MIN(user_id) FROM affiliations WHERE practice_id = $1 AND is_admin = 1")
            .bind(large)
            .fetch_one(&mut *conn)
            .await?;
    let review: Option<i64> =
        sqlx::query_scalar("SELECT MIN(id) FROM access_reviews WHERE practice_id = $1 AND signed_at IS NULL")
            .bind(large)
            .fetch_one(&mut *conn)
            .await?;
    Ok(Fixture {
        plan,
        loaded_at,
        staff: UserId(staff.context("the benchmark plan has no plan administrator")?),
        admin: UserId(admin.context("the hospital system has no administrator")?),
        large_review: review.context("the hospital system has no open review")?,
        tax_ids,
    })
}

/// Writes one multi-row `INSERT` of `rows` (already formatted), in slices of [`ROWS_PER_INSERT`].
async fn insert_rows(conn: &mut gatehouse_store::Conn, head: &str, rows: &[String]) -> anyhow::Result<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        sqlx::query(&format!("{head} VALUES {}", chunk.join(", ")))
            .execute(&mut *conn)
            .await
            .with_context(|| format!("bulk insert: {head}"))?;
    }
    Ok(())
}

fn opt_int(v: Option<i64>) -> String {
    v.map_or_else(|| "NULL".to_owned(), |v| v.to_string())
}

/// The next free id of a table (ids are given in the load so rows can name each other).
async fn next_id(conn: &mut gatehouse_store::Conn, table: &str) -> anyhow::Result<i64> {
    let max: Option<i64> = sqlx::query_scalar(&format!("SELECT MAX(id) FROM {table}")).fetch_one(&mut *conn).await?;
    Ok(max.unwrap_or(0) + 1)
}

/// Writes the plan, its practices, users, affiliations and reviews in one transaction.
async fn populate(svc: &Services, db: &str, args: &ReviewsArgs) -> anyhow::Result<Plan> {
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
    let terms = plan.row.terms_version;
    let mut tx = svc.db.begin().await?;
    let now: i64 = sqlx::query_scalar("SELECT created_at FROM plans WHERE id = $1").bind(p).fetch_one(&mut *tx).await?;
    let born = now - 800 * DAY;
    let shape = Shape::new(args.practices, args.users);

    // Practices: the hospital system first.
    let rows = (0..args.practices)
        .map(|k| {
            let tax_id = if k == 0 { LARGE_TAX_ID.to_owned() } else { format!("{}", 810_000_000 + k * 7) };
            let name =
                if k == 0 { "Northshore Health System".to_owned() } else { format!("Practice {k} Family Medicine") };
            format!(
                "({p}, '{tax_id}', {}, '{} Main St', '', '{}', 'WA', '98101', '', {born})",
                sql_text(&name),
                100 + k,
                CITIES[k % CITIES.len()]
            )
        })
        .collect::<Vec<_>>();
    insert_rows(
        &mut tx,
        "INSERT INTO practices (plan_id, tax_id, name, address1, address2, city, state, zip, phone, created_at)",
        &rows,
    )
    .await?;
    let practice_ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM practices WHERE plan_id = $1 ORDER BY tax_id = $2 DESC, id")
            .bind(p)
            .bind(LARGE_TAX_ID)
            .fetch_all(&mut *tx)
            .await?;

    // Users and their affiliations, practice by practice; user i has id first_user + i.
    let first_user = next_id(&mut tx, "users").await?;
    let users_head = "INSERT INTO users (id, plan_id, username, username_lower, first_name, middle_name, last_name, \
         email, email_lower, status, staff_role, two_step_phone, two_step_method, terms_version_signed, terms_signed_at, \
         last_signin_at, idle_since, idle_warned_for, idle_warned_at, deactivated_at, deactivated_by, created_at, updated_at)";
    let aff_head =
        "INSERT INTO affiliations (plan_id, user_id, practice_id, user_type, is_admin, all_providers, created_at)";
    let user_row = |i: usize, who: &Person, staff_role: &str| {
        let username = format!("bench{i}");
        let email = format!("bench{i}@example.org");
        let status = if who.deactivated_at.is_some() { "'deactivated'" } else { "'active'" };
        let by = if who.deactivated_at.is_some() { "'practice'" } else { "NULL" };
        format!(
            "({}, {p}, {un}, {un}, {}, '', {}, {em}, {em}, {status}, {staff_role}, '+1{}', 'text', {terms}, {born}, \
             {since}, {since}, {warned_for}, {}, {}, {by}, {born}, {born})",
            first_user + i as i64,
            sql_text(who.first),
            sql_text(who.last),
            2_065_000_000 + i % 1_000_000,
            opt_int(who.warned_at),
            opt_int(who.deactivated_at),
            un = sql_text(&username),
            em = sql_text(&email),
            since = opt_int(who.idle_since),
            warned_for = opt_int(who.warned_at.and(who.idle_since)),
        )
    };
    // Per practice: its first user and whether it has a second administrator.
    let mut starts = Vec::with_capacity(args.practices);
    let (mut user_rows, mut aff_rows) = (Vec::new(), Vec::new());
    let mut i = 0usize;
    let started = Instant::now();
    for (k, (&practice, &size)) in practice_ids.iter().zip(&shape.sizes).enumerate() {
        let mut r = Rng::seeded(k as u64, 0xAD);
        let second_admin = size > 2 && r.chance(35);
        starts.push((i, second_admin));
        for j in 0..size {
            let who = person(i, now, k == 0 && j == 0);
            user_rows.push(user_row(i, &who, "NULL"));
            let (kind, admin) = match j {
                0 => ("office_manager", 1),
                1 if second_admin => ("practice_maintenance", 1),
                _ => (STAFF_TYPES[(i + k) % STAFF_TYPES.len()], 0),
            };
            let id = first_user + i as i64;
            aff_rows.push(format!("({p}, {id}, {practice}, '{kind}', {admin}, 1, {})", born + j as i64));
            i += 1;
            if user_rows.len() >= 10 * ROWS_PER_INSERT {
                insert_rows(&mut tx, users_head, &user_rows).await?;
                insert_rows(&mut tx, aff_head, &aff_rows).await?;
                user_rows.clear();
                aff_rows.clear();
            }
            if i.is_multiple_of(PROGRESS_EVERY) {
                println!("{db}: {i} users written ({:.0} s)", started.elapsed().as_secs_f64());
            }
        }
    }
    let staff_person =
        Person { first: "Bench", last: "Staff", deactivated_at: None, idle_since: Some(now), warned_at: None };
    user_rows.push(user_row(i, &staff_person, "'plan_admin'"));
    insert_rows(&mut tx, users_head, &user_rows).await?;
    insert_rows(&mut tx, aff_head, &aff_rows).await?;

    // Reviews: each practice's open review, and for most the one signed last quarter.
    let first_review = next_id(&mut tx, "access_reviews").await?;
    let mut review_rows = Vec::new();
    let mut decision_rows = Vec::new();
    let mut reminder_rows = Vec::new();
    let (mut signed, mut in_progress, mut decisions, mut reminders) = (0usize, 0usize, 0usize, 0usize);
    let mut next_review = first_review;
    for (k, (&practice, &size)) in practice_ids.iter().zip(&shape.sizes).enumerate() {
        let mut r = Rng::seeded(k as u64, 0x4E5);
        let (start, second_admin) = starts[k];
        let admin = first_user + start as i64;
        let tax_id = if k == 0 { LARGE_TAX_ID.to_owned() } else { format!("{}", 810_000_000 + k * 7) };
        let due = now - 30 * DAY + r.below_i64(120 * DAY);
        let admin_person = person(start, now, k == 0);
        let signer = format!("{} {}", admin_person.first, admin_person.last);
        let mut created = now - 120 * DAY;
        if k == 0 || r.chance(70) {
            // The previous review, signed 90 days before this one falls due; a fifth of them late.
            let signed_at = due - 90 * DAY;
            let prev_due =
                if r.chance(20) { signed_at - (1 + r.below_i64(10)) * DAY } else { signed_at + r.below_i64(10 * DAY) };
            let decided: Vec<FrozenDecision> = (1..size.min(4))
                .map(|j| {
                    let who = person(start + j, now, false);
                    FrozenDecision {
                        user_id: first_user + (start + j) as i64,
                        username: format!("bench{}", start + j),
                        user_name: format!("{} {}", who.first, who.last),
                        user_type: "Billing Staff".into(),
                        providers: "All providers".into(),
                        administrator: false,
                        last_signin_at: who.idle_since,
                        decision: gatehouse_domain::access_review::Decision::Keep,
                        change: None,
                        reason: None,
                        decided_by: admin,
                        decided_at: signed_at - 3600,
                    }
                })
                .collect();
            let frozen = FrozenReview {
                review_id: next_review,
                plan_id: p,
                practice_id: practice,
                tax_id: tax_id.clone(),
                due_at: prev_due,
                signed_at,
                signed_by: admin,
                signer_name: signer.clone(),
                on_behalf: false,
                sole_administrator: !second_admin,
                decisions: decided,
            };
            let json = serde_json::to_string(&frozen)?;
            review_rows.push(format!(
                "({next_review}, {p}, {practice}, {prev_due}, 'schedule', {size}, {signed_at}, {admin}, {}, 0, {}, '{}', {}, {})",
                sql_text(&signer),
                i64::from(!second_admin),
                frozen.digest(),
                sql_text(&json),
                prev_due - 90 * DAY,
            ));
            next_review += 1;
            signed += 1;
            created = signed_at;
        }
        // The open review; near its due date, some practices have started deciding.
        let id = next_review;
        next_review += 1;
        let mut decided = 0usize;
        let near = due < now + 14 * DAY;
        if k == 0 || (near && r.chance(40)) {
            let want = if k == 0 { size * LARGE_DECIDED / 100 } else { 1 + r.below_i64(size as i64 - 1) as usize };
            for j in 1..size {
                if decided >= want {
                    break;
                }
                if person(start + j, now, false).deactivated_at.is_some() {
                    continue;
                }
                let user = first_user + (start + j) as i64;
                let at = now - r.below_i64(5 * DAY);
                let row = match r.below_i64(100) {
                    0..=4 => format!("({id}, {user}, 'change', 'billing_staff', NULL, NULL, NULL, {admin}, {at})"),
                    5..=6 => {
                        format!("({id}, {user}, 'deactivate', NULL, NULL, NULL, 'Left the practice', {admin}, {at})")
                    }
                    _ => format!("({id}, {user}, 'keep', NULL, NULL, NULL, NULL, {admin}, {at})"),
                };
                decision_rows.push(row);
                decided += 1;
            }
            in_progress += usize::from(decided > 0);
            decisions += decided;
        }
        review_rows.push(format!(
            "({id}, {p}, {practice}, {due}, 'schedule', {decided}, NULL, NULL, NULL, 0, 0, NULL, NULL, {created})"
        ));
        // The reminders the runs up to yesterday recorded.
        for rem in Reminder::ALL {
            if rem.at(due) <= now - DAY {
                reminder_rows.push(format!("({id}, '{}', {}, 1)", rem.as_str(), rem.at(due) + 60));
                reminders += 1;
            }
        }
    }
    insert_rows(
        &mut tx,
        "INSERT INTO access_reviews (id, plan_id, practice_id, due_at, started_by, decided, signed_at, signed_by, \
         signer_name, on_behalf, sole_admin, digest, frozen, created_at)",
        &review_rows,
    )
    .await?;
    insert_rows(
        &mut tx,
        "INSERT INTO access_review_decisions (review_id, user_id, decision, user_type, all_providers, provider_rows, \
         reason, decided_by, decided_at)",
        &decision_rows,
    )
    .await?;
    insert_rows(&mut tx, "INSERT INTO access_review_reminders (review_id, reminder, at, emailed)", &reminder_rows)
        .await?;
    if svc.db.kind() == DbKind::Postgres {
        // The ids were given: the identities continue after them.
        for table in ["users", "access_reviews"] {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            ))
            .execute(&mut *tx)
            .await?;
        }
    }
    gatehouse_store::commit(tx).await?;
    println!(
        "{db}: {} practices, {} users (+1 staff), {} open reviews ({in_progress} in progress, {decisions} decisions), \
         {signed} signed reviews, {reminders} reminders recorded",
        args.practices, args.users, args.practices
    );
    Ok(plan)
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
        user_agent: "gatehouse bench reviews",
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
    if status != reqwest::StatusCode::OK || !body.contains("</html>") {
        bail!("GET {url} answered {status}, not a page");
    }
    Ok(took)
}

/// The p50, p95 and max of some times, in milliseconds (nearest rank).
fn line(db: &str, what: &str, mut times: Vec<Duration>, target_ms: f64) -> String {
    times.sort_unstable();
    let at = |p: f64| {
        let rank = ((p / 100.0) * times.len() as f64).ceil() as usize;
        times.get(rank.clamp(1, times.len().max(1)) - 1).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let p95 = at(95.0);
    let verdict = if p95 <= target_ms { "PASS" } else { "MISS" };
    format!(
        "| {db} | {what} | {} | {:.1} | {p95:.1} | {:.1} | ≤ {target_ms:.0} ms: {verdict} |",
        times.len(),
        at(50.0),
        at(100.0)
    )
}

/// Takes back what a previous daily run at `at` did to a kept database (the reminders it
/// recorded, the warnings and deactivations it made, the mail it queued), so the run measured
/// does the same work. Returns the rows changed.
async fn undo_daily_run(svc: &Services, plan: &Plan, at: i64) -> anyhow::Result<u64> {
    let p = plan.id().0;
    let mut tx = svc.db.begin().await?;
    let mut n = 0;
    for sql in [
        "DELETE FROM access_review_reminders WHERE at = $2 AND review_id IN (SELECT id FROM access_reviews WHERE plan_id = $1)",
        "UPDATE users SET idle_warned_for = NULL, idle_warned_at = NULL WHERE plan_id = $1 AND idle_warned_at = $2",
        "UPDATE users SET status = 'active', deactivated_at = NULL, deactivated_by = NULL \
         WHERE plan_id = $1 AND deactivated_by = 'inactivity' AND deactivated_at = $2",
        "DELETE FROM outbox WHERE plan_id = $1 AND created_at = $2",
    ] {
        n += sqlx::query(sql).bind(p).bind(at).execute(&mut *tx).await?.rows_affected();
    }
    gatehouse_store::commit(tx).await?;
    Ok(n)
}

async fn measure(running: &crate::Running, db: &str, args: &ReviewsArgs) -> anyhow::Result<()> {
    let svc = &running.services;
    let f = prepare(svc, db, args).await?;
    let plan = &f.plan;
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()?;
    let staff_cookie = session_cookie(svc, plan, f.staff).await?;
    let admin_cookie = session_cookie(svc, plan, f.admin).await?;
    let base = format!("http://{}", running.addr);
    let page = |path: &str, q: &[(&str, String)]| url::Url::parse_with_params(&format!("{base}{path}"), q);
    // Warm the caches once, as a running server would be.
    fetch(&client, &page("/admin/reviews", &[])?, &staff_cookie).await?;
    fetch(&client, &page(&format!("/practice/reviews/{}", f.large_review), &[])?, &admin_cookie).await?;

    println!("| database | page | samples | p50 ms | p95 ms | max ms | p95 target |");
    println!("|---|---|---|---|---|---|---|");
    let mut r = Rng(0x5EED_0000_0000_0017);
    for (name, status) in VARIANTS {
        let mut times = Vec::with_capacity(args.samples);
        for _ in 0..args.samples {
            let q = if name.starts_with("tax_id") {
                vec![("tax_id", f.tax_ids[r.below_i64(f.tax_ids.len() as i64) as usize].clone())]
            } else if status.is_empty() {
                Vec::new()
            } else {
                vec![("status", status.to_owned())]
            };
            times.push(fetch(&client, &page("/admin/reviews", &q)?, &staff_cookie).await?);
        }
        println!("{}", line(db, &format!("Reviews page (GET /admin/reviews), {name}"), times, OVERVIEW_TARGET_MS));
    }
    let users: i64 = {
        let mut conn = svc.db.acquire().await?;
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM affiliations a JOIN users u ON u.id = a.user_id \
             WHERE a.practice_id = (SELECT practice_id FROM access_reviews WHERE id = $1) AND u.status <> 'deactivated'",
        )
        .bind(f.large_review)
        .fetch_one(&mut *conn)
        .await?
    };
    for (side, cookie) in [("practice", &admin_cookie), ("admin", &staff_cookie)] {
        for n in LARGE_PAGES {
            let url = page(&format!("/{side}/reviews/{}", f.large_review), &[("page", n.to_string())])?;
            let mut times = Vec::with_capacity(args.samples);
            for _ in 0..args.samples {
                times.push(fetch(&client, &url, cookie).await?);
            }
            let what = format!("{users}-user review, page {n} (GET /{side}/reviews/{{id}})");
            println!("{}", line(db, &what, times, REVIEW_PAGE_TARGET_MS));
        }
    }

    // The daily job, once, forced, at the instant the plan was written for.
    let undone = undo_daily_run(svc, plan, f.loaded_at).await?;
    if undone > 0 {
        println!("{db}: took back {undone} rows of the previous run's daily job");
    }
    let started = Instant::now();
    let report = svc
        .run_daily_job_for(Timestamp(f.loaded_at), DailyRun::Forced)
        .await
        .map_err(|e| anyhow::anyhow!("daily job: {e}"))?;
    let took = started.elapsed().as_secs_f64();
    if !report.ran {
        bail!("the daily job did not run: another run held its lease");
    }
    let (reminded, mails): (i64, i64) = {
        let mut conn = svc.db.acquire().await?;
        sqlx::query_as(
            "SELECT (SELECT COUNT(DISTINCT review_id) FROM access_review_reminders WHERE at = $2 AND emailed = 1), \
                    (SELECT COUNT(*) FROM outbox WHERE plan_id = $1 AND created_at = $2)",
        )
        .bind(plan.id().0)
        .bind(f.loaded_at)
        .fetch_one(&mut *conn)
        .await?
    };
    let verdict = if took <= DAILY_JOB_TARGET_S { "PASS" } else { "MISS" };
    println!();
    println!("| database | daily job (run_daily_job_for, forced) | value |");
    println!("|---|---|---|");
    println!("| {db} | time | {took:.2} s (≤ {DAILY_JOB_TARGET_S:.0} s: {verdict}) |");
    println!(
        "| {db} | idle accounts: warned / deactivated / kept (last administrator) | {} / {} / {} |",
        report.idle.warned, report.idle.deactivated, report.idle.kept_last_admin
    );
    println!(
        "| {db} | reviews: opened / reminded (reviews) / reminder emails / recorded without email | {} / {reminded} / {} / {} |",
        report.reviews.opened, report.reviews.emails, report.reviews.skipped
    );
    println!("| {db} | emails queued in the outbox | {mails} |");
    println!();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_has_the_asked_size_and_one_hospital_system() {
        let s = Shape::new(10_000, 1_000_000);
        assert_eq!(s.sizes.len(), 10_000);
        assert_eq!(s.sizes.iter().sum::<usize>(), 1_000_000);
        assert_eq!(s.sizes[0], LARGE_USERS);
        assert!(s.sizes[1..].iter().all(|n| (98..=99).contains(n)));
    }

    #[test]
    fn idle_shares_are_about_those_asked() {
        let now = 2_000_000_000;
        let (mut past180, mut warn, mut flagged, mut off) = (0, 0, 0, 0);
        for i in 0..200_000 {
            let who = person(i, now, false);
            let Some(since) = who.idle_since else {
                off += 1;
                continue;
            };
            let days = (now - since) / DAY;
            if days >= 180 {
                past180 += 1;
                assert!(who.warned_at.is_some_and(|w| w <= now - 14 * DAY));
            } else if days >= 166 {
                warn += 1;
                assert!(who.warned_at.is_none());
            } else if days >= 90 {
                flagged += 1;
            }
        }
        let pct = |n: i32| f64::from(n) * 100.0 / 200_000.0;
        assert!((0.2..0.4).contains(&pct(past180)), "{}", pct(past180));
        assert!((0.4..0.6).contains(&pct(warn)), "{}", pct(warn));
        assert!((2.0..2.4).contains(&pct(flagged)), "{}", pct(flagged));
        assert!((1.8..2.2).contains(&pct(off)), "{}", pct(off));
        assert!(person(0, now, true).idle_since.is_some_and(|s| now - s < 89 * DAY));
    }
}
