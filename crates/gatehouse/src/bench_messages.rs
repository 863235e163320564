//! `gatehouse bench messages`: the secure-message pages over a plan of (by default) 200,000
//! threads and about 1,000,000 messages, on SQLite and PostgreSQL.
//!
//! The plan has 2,000 practices (one hospital system sends a fifth of the threads), a few
//! users each, a plan administrator and four agents who work the mailbox. Threads, messages
//! (with the staff's internal notes) and each reader's place in a thread are written with
//! multi-row `INSERT`s, as they would stand after two years of use: most threads answered and
//! resolved, a backlog of new and in-progress ones, most of them assigned to an agent.
//!
//! The real server runs in process on that database, and the pages are fetched as a browser
//! does (session cookie minted directly, whole page received): the mailbox's first page
//! (`GET /admin/messages`) with each filter alone as a plan administrator, the hospital
//! system's administrator's inbox (`GET /messages`, and its unread folder), and sending a new
//! message with a 1 MB PDF (`POST /messages`, multipart, as the form does).

use crate::bench_databases::Rng;
use crate::bench_databases::{Databases, sql_text};
use anyhow::{Context, bail};
use gatehouse_domain::message_topics::{DEFAULT_TOPICS, TopicCode};
use gatehouse_domain::secure_messages::ThreadStatus;
use gatehouse_domain::session::SessionStage;
use gatehouse_domain::{PracticeId, UserId};
use gatehouse_services::Services;
use gatehouse_services::plans::{NewPlan, Plan};
use gatehouse_services::sessions::SessionInfo;
use gatehouse_services::tokens::{hash_token, new_token};
use gatehouse_store::DbKind;
use gatehouse_store::sessions::NewSession;
use sqlx::Row;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The hospital system's Tax ID (the first practice).
const LARGE_TAX_ID: &str = "825671892";
/// Share of the threads the hospital system sends, in percent.
const LARGE_SHARE: usize = 20;
/// People of the hospital system (its administrator among them).
const LARGE_USERS: usize = 300;
/// People of every other practice (its administrator among them).
const SMALL_USERS: usize = 3;
/// Agents (help desk) who work the mailbox, besides the plan administrator.
const AGENTS: usize = 4;
/// Rows a statement.
const ROWS_PER_INSERT: usize = 500;
/// Threads written between two progress lines.
const PROGRESS_EVERY: usize = 50_000;
/// Subject of the threads the benchmark sends, so a kept database can tell them from the load.
const UPLOAD_SUBJECT: &str = "Benchmark upload";
/// Size of the PDF sent with each new message.
const UPLOAD_BYTES: usize = 1024 * 1024;
const DAY: i64 = 86_400;

const FIRST: [&str; 16] = [
    "James", "Mary", "Priya", "Wei", "Robert", "Linda", "Mohammed", "Sofia", "David", "Aisha", "Juan", "Olga",
    "Thomas", "Karen", "Hiroshi", "Nancy",
];
const LAST: [&str; 16] = [
    "Smith", "Garcia", "Nguyen", "Patel", "Okafor", "Kowalski", "Chen", "Rossi", "Haddad", "Johnson", "Lee",
    "Martinez", "Kim", "Schmidt", "Rivera", "O'Brien",
];
const CITIES: [&str; 8] = ["Seattle", "Tacoma", "Spokane", "Bellevue", "Everett", "Olympia", "Yakima", "Kent"];
const OPENINGS: [&str; 6] = [
    "Hello, we are following up on",
    "Could you please check",
    "Our office has a question about",
    "Thank you for looking into",
    "We received a letter regarding",
    "Please advise on",
];
const MIDDLES: [&str; 6] = [
    "the member's coverage dates for the visit last month",
    "a denial that cites a missing modifier on line two",
    "the status of the request we faxed on Monday",
    "whether a referral is on file for the specialist visit",
    "the rendering provider's address shown in your directory",
    "the remittance advice that does not match the payment",
];
const CLOSINGS: [&str; 4] = [
    "Please call the office if anything else is needed.",
    "We have attached what we have.",
    "Thanks for your help.",
    "The patient is waiting on an answer before scheduling.",
];
const STAFF_REPLIES: [&str; 4] = [
    "Thank you for writing. I have reviewed the record and updated it; please allow two business days.",
    "The claim was reprocessed today and the corrected remittance will follow in the next cycle.",
    "We need the member's date of birth and the date of service to look this up. Could you send them?",
    "This is approved; the reference number is in the portal under the member's authorizations.",
];
const NOTES: [&str; 3] = [
    "Called the practice, left a voicemail.",
    "Escalated to claims review, ticket opened.",
    "Checked eligibility: active on the date of service.",
];

/// Options of `gatehouse bench messages`.
pub struct MessagesArgs {
    /// Threads of the plan (about five messages each).
    pub threads: usize,
    /// Timed requests per page.
    pub samples: usize,
    /// Where it runs: SQLite, then PostgreSQL when a server is given (kept or temporary).
    pub databases: Databases,
}

/// Runs the message benchmark on SQLite, then on PostgreSQL when a server is given.
pub async fn run(args: &MessagesArgs) -> anyhow::Result<()> {
    if !(1_000..=2_000_000).contains(&args.threads) {
        bail!("--message-threads must be between 1000 and 2000000 (got {})", args.threads);
    }
    if !(10..=10_000).contains(&args.samples) {
        bail!("--samples must be between 10 and 10000 (got {})", args.samples);
    }
    args.databases.measure_each(async |running, db| measure(running, db, args).await).await
}

/// The benchmark's plan and the people who read it.
struct Fixture {
    plan: Plan,
    /// A plan administrator (works the mailbox).
    staff: UserId,
    /// The agents threads are assigned to.
    agents: Vec<UserId>,
    /// The hospital system and its administrator.
    large: PracticeId,
    admin: UserId,
    /// Every practice's Tax ID.
    tax_ids: Vec<String>,
}

/// Reuses the benchmark plan of a kept database when it holds `threads` threads, else writes it.
async fn prepare(svc: &Services, db: &str, threads: usize) -> anyhow::Result<Fixture> {
    if let Some(plan) = svc.resolve_plan(Some("bench")).await? {
        let mut conn = svc.db.acquire().await?;
        // Threads a previous run sent leave first: the pages then read the plan as it was loaded.
        forget_uploads(&mut conn, &plan).await?;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM message_threads WHERE plan_id = $1")
            .bind(plan.id().0)
            .fetch_one(&mut *conn)
            .await?;
        drop(conn);
        if n != threads as i64 {
            bail!("the kept {db} database holds a benchmark plan of {n} threads, not {threads}: delete it first");
        }
        println!("{db}: reusing the kept database's {n} threads");
        return fixture(svc, plan).await;
    }
    let started = Instant::now();
    let plan = populate(svc, db, threads).await?;
    println!("{db}: plan written in {:.1} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    let mut conn = svc.db.acquire().await?;
    gatehouse_store::search::after_bulk_load(&mut conn).await?;
    if svc.db.kind() == DbKind::Postgres {
        // As autovacuum does soon after a load this size.
        for table in ["practices", "message_threads", "messages", "message_reads"] {
            sqlx::query(&format!("VACUUM ANALYZE {table}")).execute(&mut *conn).await?;
        }
    }
    drop(conn);
    println!("{db}: tidied after the load in {:.1} s", started.elapsed().as_secs_f64());
    fixture(svc, plan).await
}

/// Finds the people and practices of a written benchmark plan.
async fn fixture(svc: &Services, plan: Plan) -> anyhow::Result<Fixture> {
    let p = plan.id().0;
    let mut conn = svc.db.acquire().await?;
    let staff: Option<i64> =
        sqlx::query_scalar("SELECT MIN(id) FROM users WHERE plan_id = $1 AND staff_role = 'plan_admin'")
            .bind(p)
            .fetch_one(&mut *conn)
            .await?;
    let agents: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM users WHERE plan_id = $1 AND staff_role = 'help_desk' ORDER BY id")
            .bind(p)
            .fetch_all(&mut *conn)
            .await?;
    let tax_ids: Vec<String> = sqlx::query_scalar("SELECT tax_id FROM practices WHERE plan_id = $1 ORDER BY id")
        .bind(p)
        .fetch_all(&mut *conn)
        .await?;
    let large: Option<i64> = sqlx::query_scalar("SELECT id FROM practices WHERE plan_id = $1 AND tax_id = $2")
        .bind(p)
        .bind(LARGE_TAX_ID)
        .fetch_optional(&mut *conn)
        .await?;
    let large = large.context("the benchmark plan has no hospital system")?;
    let admin: Option<i64> =
        sqlx::query_scalar("SELECT MIN(user_id) FROM affiliations WHERE practice_id = $1 AND is_admin = 1")
            .bind(large)
            .fetch_one(&mut *conn)
            .await?;
    Ok(Fixture {
        plan,
        staff: UserId(staff.context("the benchmark plan has no plan administrator")?),
        agents: agents.into_iter().map(UserId).collect(),
        large: PracticeId(large),
        admin: UserId(admin.context("the hospital system has no administrator")?),
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

/// Writes the plan, its practices, people and staff, then the threads with their messages and
/// reads, all in one transaction.
async fn populate(svc: &Services, db: &str, threads: usize) -> anyhow::Result<Plan> {
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
    let terms = plan.row.terms_version;
    let practices = (threads / 100).clamp(20, 2_000);
    let mut tx = svc.db.begin().await?;

    // Practices: the hospital system first.
    let rows = (0..practices)
        .map(|i| {
            let tax_id = if i == 0 { LARGE_TAX_ID.to_owned() } else { format!("{}", 810_000_000 + i * 7) };
            let name =
                if i == 0 { "Northshore Health System".to_owned() } else { format!("Practice {i} Family Medicine") };
            format!(
                "({p}, '{tax_id}', {}, '{} Main St', '', '{}', 'WA', '98101', '', {now})",
                sql_text(&name),
                100 + i,
                CITIES[i % CITIES.len()]
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

    // People: a username names the practice and the place in it (0 is its administrator).
    let user_row = |username: &str, k: usize, staff_role: &str| {
        let mut r = Rng::seeded(k as u64, 0x55);
        let (first, last) = (FIRST[r.below(FIRST.len())], LAST[r.below(LAST.len())]);
        let email = format!("{username}@example.org");
        format!(
            "({p}, {un}, {un}, {}, '', {}, {em}, {em}, 'active', {staff_role}, '+1{}', 'text', {terms}, {now}, {now}, {now})",
            sql_text(first),
            sql_text(last),
            2_065_000_000 + k,
            un = sql_text(username),
            em = sql_text(&email),
        )
    };
    let mut rows = Vec::new();
    for (i, _) in practice_ids.iter().enumerate() {
        let people = if i == 0 { LARGE_USERS } else { SMALL_USERS };
        for k in 0..people {
            rows.push(user_row(&format!("bench.p{i}.u{k}"), rows.len(), "NULL"));
        }
    }
    rows.push(user_row("bench.staff", rows.len(), "'plan_admin'"));
    for a in 0..AGENTS {
        rows.push(user_row(&format!("bench.agent{a}"), rows.len(), "'help_desk'"));
    }
    insert_rows(
        &mut tx,
        "INSERT INTO users (plan_id, username, username_lower, first_name, middle_name, last_name, email, email_lower, \
         status, staff_role, two_step_phone, two_step_method, terms_version_signed, terms_signed_at, created_at, updated_at)",
        &rows,
    )
    .await?;
    let ids: HashMap<String, i64> = sqlx::query("SELECT id, username FROM users WHERE plan_id = $1")
        .bind(p)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<String, _>("username")?, r.try_get::<i64, _>("id")?)))
        .collect::<Result<_, sqlx::Error>>()?;
    let id_of = |username: &str| ids.get(username).copied().with_context(|| format!("user {username} not written"));
    let mut members: Vec<Vec<i64>> = Vec::with_capacity(practice_ids.len());
    let mut rows = Vec::new();
    for (i, practice) in practice_ids.iter().enumerate() {
        let people = if i == 0 { LARGE_USERS } else { SMALL_USERS };
        let mut these = Vec::with_capacity(people);
        for k in 0..people {
            let id = id_of(&format!("bench.p{i}.u{k}"))?;
            let (kind, admin) = if k == 0 { ("office_manager", 1) } else { ("billing_staff", 0) };
            rows.push(format!("({p}, {id}, {practice}, '{kind}', {admin}, 1, {now})"));
            these.push(id);
        }
        members.push(these);
    }
    insert_rows(
        &mut tx,
        "INSERT INTO affiliations (plan_id, user_id, practice_id, user_type, is_admin, all_providers, created_at)",
        &rows,
    )
    .await?;
    let staff = id_of("bench.staff")?;
    let agents = (0..AGENTS).map(|a| id_of(&format!("bench.agent{a}"))).collect::<anyhow::Result<Vec<_>>>()?;

    // Threads, with ids given here so their messages and reads can name them.
    let first_thread: i64 = sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(id) FROM message_threads")
        .fetch_one(&mut *tx)
        .await?
        .unwrap_or(0)
        + 1;
    let (mut written_messages, mut notes, mut reads) = (0usize, 0usize, 0usize);
    let started = Instant::now();
    for start in (0..threads).step_by(ROWS_PER_INSERT) {
        let (mut thread_rows, mut message_rows, mut read_rows) = (Vec::new(), Vec::new(), Vec::new());
        for i in start..(start + ROWS_PER_INSERT).min(threads) {
            let t = thread(i, now, practice_ids.len(), &members, staff, &agents);
            let id = first_thread + i as i64;
            thread_rows.push(format!(
                "({id}, {p}, {}, {}, '{}', {}, '{}', {}, {}, {}, {}, {}, {}, {}, {})",
                practice_ids[t.practice],
                t.author,
                t.topic.as_str(),
                sql_text(&t.subject),
                t.status.as_str(),
                opt_int(t.assigned),
                opt_text(t.member_id.as_deref()),
                opt_text(t.claim_number.as_deref()),
                opt_text(t.authorization_number.as_deref()),
                t.created_at,
                t.last_activity_at,
                t.last_public_at,
                opt_int(t.waiting_since),
            ));
            for m in &t.messages {
                message_rows.push(format!(
                    "({p}, {id}, {}, {}, {}, {}, {})",
                    m.author,
                    i64::from(m.from_plan),
                    i64::from(m.internal),
                    sql_text(&m.body),
                    m.at
                ));
                notes += usize::from(m.internal);
            }
            written_messages += t.messages.len();
            for r in &t.reads {
                read_rows.push(format!("({id}, {}, {}, NULL, {})", r.user, opt_int(r.read_at), i64::from(r.archived)));
            }
            reads += t.reads.len();
        }
        insert_rows(
            &mut tx,
            "INSERT INTO message_threads (id, plan_id, practice_id, author_id, topic, subject, status, assigned_to, \
             member_id, claim_number, authorization_number, created_at, last_activity_at, last_public_at, waiting_since)",
            &thread_rows,
        )
        .await?;
        insert_rows(
            &mut tx,
            "INSERT INTO messages (plan_id, thread_id, author_id, from_plan, internal, body, created_at)",
            &message_rows,
        )
        .await?;
        insert_rows(
            &mut tx,
            "INSERT INTO message_reads (thread_id, user_id, read_at, notified_at, archived)",
            &read_rows,
        )
        .await?;
        let done = (start + ROWS_PER_INSERT).min(threads);
        if done.is_multiple_of(PROGRESS_EVERY) && done < threads {
            println!("{db}: {done} threads written ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    if svc.db.kind() == DbKind::Postgres {
        // The ids were given: the identity continues after them.
        sqlx::query(
            "SELECT setval(pg_get_serial_sequence('message_threads', 'id'), (SELECT MAX(id) FROM message_threads))",
        )
        .execute(&mut *tx)
        .await?;
    }
    gatehouse_store::commit(tx).await?;
    println!(
        "{db}: {practices} practices, {} users, {threads} threads, {written_messages} messages ({notes} internal notes), \
         {reads} read marks",
        ids.len()
    );
    Ok(plan)
}

fn opt_int(v: Option<i64>) -> String {
    v.map_or_else(|| "NULL".to_owned(), |v| v.to_string())
}

fn opt_text(v: Option<&str>) -> String {
    v.map_or_else(|| "NULL".to_owned(), sql_text)
}

/// One synthetic message.
struct Msg {
    author: i64,
    from_plan: bool,
    internal: bool,
    body: String,
    at: i64,
}

/// One reader's place in a thread.
struct Read {
    user: i64,
    read_at: Option<i64>,
    archived: bool,
}

/// One synthetic thread with its messages and reads.
struct SynthThread {
    practice: usize,
    author: i64,
    topic: TopicCode,
    subject: String,
    status: ThreadStatus,
    assigned: Option<i64>,
    member_id: Option<String>,
    claim_number: Option<String>,
    authorization_number: Option<String>,
    created_at: i64,
    last_activity_at: i64,
    last_public_at: i64,
    waiting_since: Option<i64>,
    messages: Vec<Msg>,
    reads: Vec<Read>,
}

fn practice_body(r: &mut Rng) -> String {
    format!(
        "{} {}. {}",
        OPENINGS[r.below(OPENINGS.len())],
        MIDDLES[r.below(MIDDLES.len())],
        CLOSINGS[r.below(CLOSINGS.len())]
    )
}

/// Thread `i` of the plan, always the same for the same `i`: sent by someone of a practice (a
/// fifth by the hospital system), over the last two years, with one to eight messages and, when
/// left unanswered for two weeks, the plan's answer that resolved it.
fn thread(i: usize, now: i64, practices: usize, members: &[Vec<i64>], staff: i64, agents: &[i64]) -> SynthThread {
    let mut r = Rng::seeded(i as u64, 0x7EAD);
    let practice = if r.chance(LARGE_SHARE) {
        0
    } else if r.chance(50) {
        // Busier practices: the first tenth sends half of the rest.
        1 + r.below((practices - 1).div_ceil(10))
    } else {
        1 + r.below(practices - 1)
    };
    let people = &members[practice];
    let author = people[r.below(people.len())];
    let topic = match r.below(100) {
        0..=29 => TopicCode::CLAIMS,
        30..=49 => TopicCode::ELIGIBILITY,
        50..=64 => TopicCode::PRIOR_AUTHORIZATION,
        65..=74 => TopicCode::REFERRALS,
        75..=79 => TopicCode::PROVIDER_PROFILE_UPDATE,
        80..=84 => TopicCode::PORTAL_ACCESS,
        _ => TopicCode::OTHER,
    };
    let member_id = [TopicCode::CLAIMS, TopicCode::ELIGIBILITY, TopicCode::PRIOR_AUTHORIZATION]
        .contains(&topic)
        .then(|| format!("M{:09}", r.below(1_000_000_000)));
    let claim_number = (topic == TopicCode::CLAIMS).then(|| format!("C-{:010}", r.below(10_000_000_000)));
    let authorization_number =
        (topic == TopicCode::PRIOR_AUTHORIZATION).then(|| format!("PA-{:08}", r.below(100_000_000)));
    let subject = if topic == TopicCode::CLAIMS {
        format!("Claim {} question", claim_number.as_deref().unwrap_or(""))
    } else if topic == TopicCode::ELIGIBILITY {
        format!("Coverage check for member {}", member_id.as_deref().unwrap_or(""))
    } else if topic == TopicCode::PRIOR_AUTHORIZATION {
        format!("Authorization {} status", authorization_number.as_deref().unwrap_or(""))
    } else if topic == TopicCode::REFERRALS {
        "Referral to a specialist".to_owned()
    } else if topic == TopicCode::PROVIDER_PROFILE_UPDATE {
        "New office address for Dr. Rivera".to_owned()
    } else if topic == TopicCode::PORTAL_ACCESS {
        "Cannot see remittances in the portal".to_owned()
    } else {
        format!("Question {}", i % 997)
    };
    let agent = agents[r.below(agents.len())];
    // The conversation: the practice writes first, then the plan and the practice take turns
    // (an agent's note now and then).
    let count = 1 + r.below(8);
    let mut gaps = Vec::with_capacity(count);
    for _ in 0..count {
        gaps.push(300 + r.below(2 * DAY as usize) as i64);
    }
    let span: i64 = gaps.iter().sum();
    let created_at = now - span - r.below(730 * DAY as usize) as i64 - 60;
    let mut at = created_at;
    let mut messages = Vec::with_capacity(count + 1);
    let mut plan_turn = false;
    for (k, gap) in gaps.iter().enumerate() {
        if k > 0 {
            at += gap;
        }
        let m = if !plan_turn {
            Msg {
                author: if k == 0 { author } else { people[r.below(people.len())] },
                from_plan: false,
                internal: false,
                body: practice_body(&mut r),
                at,
            }
        } else if r.chance(20) {
            Msg { author: agent, from_plan: true, internal: true, body: NOTES[r.below(NOTES.len())].to_owned(), at }
        } else {
            Msg {
                author: agent,
                from_plan: true,
                internal: false,
                body: STAFF_REPLIES[r.below(STAFF_REPLIES.len())].to_owned(),
                at,
            }
        };
        // After a note the plan still owes the answer.
        plan_turn = if m.internal { true } else { !m.from_plan };
        messages.push(m);
    }
    let last_public = |ms: &[Msg]| ms.iter().rev().find(|m| !m.internal).map_or(created_at, |m| m.at);
    let from_practice_last = |ms: &[Msg]| ms.iter().rev().find(|m| !m.internal).is_some_and(|m| !m.from_plan);
    if from_practice_last(&messages) && now - at > 14 * DAY {
        // Left unanswered two weeks ago: the answer came since, and resolved the thread.
        at += 3600 + r.below(5 * DAY as usize) as i64;
        at = at.min(now - 60);
        let by = if r.chance(10) { staff } else { agent };
        messages.push(Msg {
            author: by,
            from_plan: true,
            internal: false,
            body: STAFF_REPLIES[r.below(4)].to_owned(),
            at,
        });
    }
    let last_activity_at = at;
    let last_public_at = last_public(&messages);
    let answered = messages.iter().any(|m| m.from_plan);
    let assigned = (answered || r.chance(40)).then_some(agent);
    let (status, waiting_since) = if from_practice_last(&messages) {
        let since = messages.iter().rev().find(|m| !m.internal && !m.from_plan).map_or(created_at, |m| m.at);
        (if assigned.is_some() { ThreadStatus::InProgress } else { ThreadStatus::New }, Some(since))
    } else if now - last_activity_at > 7 * DAY || r.chance(60) {
        (ThreadStatus::Resolved, None)
    } else {
        (ThreadStatus::WaitingOnPractice, None)
    };
    // Who has read what: the author nearly always, the practice's administrator mostly (old
    // threads more than new ones), the agent every thread assigned.
    let mut reads = Vec::with_capacity(3);
    let old = now - last_public_at > 30 * DAY;
    let author_read = if r.chance(if old { 97 } else { 75 }) { last_public_at } else { created_at };
    reads.push(Read {
        user: author,
        read_at: Some(author_read),
        archived: status == ThreadStatus::Resolved && r.chance(10),
    });
    let admin = people[0];
    if admin != author && r.chance(if old { 95 } else { 80 }) {
        let read_at = if r.chance(if old { 98 } else { 70 }) { last_public_at } else { created_at };
        reads.push(Read {
            user: admin,
            read_at: Some(read_at),
            archived: status == ThreadStatus::Resolved && r.chance(3),
        });
    }
    if let Some(a) = assigned {
        reads.push(Read { user: a, read_at: Some(last_activity_at), archived: false });
    }
    SynthThread {
        practice,
        author,
        topic,
        subject,
        status,
        assigned,
        member_id,
        claim_number,
        authorization_number,
        created_at,
        last_activity_at,
        last_public_at,
        waiting_since,
        messages,
        reads,
    }
}

/// Removes the threads the benchmark sent (with their messages, files and reads), so a kept
/// database reads as loaded.
async fn forget_uploads(conn: &mut gatehouse_store::Conn, plan: &Plan) -> anyhow::Result<()> {
    let mine = "SELECT id FROM message_threads WHERE plan_id = $1 AND subject LIKE 'Benchmark upload%'";
    for sql in [
        format!(
            "DELETE FROM message_attachments WHERE message_id IN (SELECT id FROM messages WHERE thread_id IN ({mine}))"
        ),
        format!("DELETE FROM messages WHERE thread_id IN ({mine})"),
        format!("DELETE FROM message_reads WHERE thread_id IN ({mine})"),
        format!("DELETE FROM message_threads WHERE id IN ({mine})"),
    ] {
        sqlx::query(&sql).bind(plan.id().0).execute(&mut *conn).await.context("forgetting the benchmark's uploads")?;
    }
    Ok(())
}

/// The times of one page, and how many threads each request's filter matches.
struct Timing {
    times: Vec<Duration>,
    matches: Vec<i64>,
}

impl Timing {
    fn new() -> Self {
        Self { times: Vec::new(), matches: Vec::new() }
    }

    fn line(&mut self, db: &str, what: &str, target_ms: Option<f64>) -> String {
        self.times.sort_unstable();
        self.matches.sort_unstable();
        let at = |p: f64| {
            let rank = ((p / 100.0) * self.times.len() as f64).ceil() as usize;
            self.times.get(rank.clamp(1, self.times.len().max(1)) - 1).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        let p95 = at(95.0);
        let matches = match (self.matches.get(self.matches.len() / 2), self.matches.last()) {
            (Some(m), Some(x)) => format!("{m} / {x}"),
            _ => "–".to_owned(),
        };
        let verdict = match target_ms {
            Some(t) if p95 <= t => format!("≤ {t:.0} ms: PASS"),
            Some(t) => format!("≤ {t:.0} ms: MISS"),
            None => "(no target)".to_owned(),
        };
        format!(
            "| {db} | {what} | {} | {:.1} | {p95:.1} | {:.1} | {matches} | {verdict} |",
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
        user_agent: "gatehouse bench messages",
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

/// A mailbox filter: its name, and the query it draws.
const FILTERS: [&str; 7] = ["none", "topic", "status", "agent", "agent=none", "tax_id", "age"];
/// The ages (days older than) the age filter draws: those the mailbox offers.
const AGES: [i64; 5] = [1, 3, 7, 14, 30];

/// Draws the query of one mailbox request with the filter `kind`, and the SQL condition that
/// counts the threads it matches.
fn mailbox_query(kind: &str, r: &mut Rng, f: &Fixture, now: i64) -> (Vec<(&'static str, String)>, String) {
    match kind {
        "topic" => {
            let t = DEFAULT_TOPICS[r.below(DEFAULT_TOPICS.len())].0.to_string();
            let condition = format!("t.topic = '{t}'");
            (vec![("topic", t)], condition)
        }
        "status" => {
            let s = ThreadStatus::ALL[r.below(ThreadStatus::ALL.len())].as_str();
            (vec![("status", s.to_owned())], format!("t.status = '{s}'"))
        }
        "agent" => {
            let a = f.agents[r.below(f.agents.len())].0;
            (vec![("agent", a.to_string())], format!("t.assigned_to = {a}"))
        }
        "agent=none" => (vec![("agent", "none".to_owned())], "t.assigned_to IS NULL".to_owned()),
        "tax_id" => {
            let tax = &f.tax_ids[r.below(f.tax_ids.len())];
            (vec![("tax_id", tax.clone())], format!("p.tax_id = '{tax}'"))
        }
        "age" => {
            let days = AGES[r.below(AGES.len())];
            (vec![("age", days.to_string())], format!("t.created_at <= {}", now - days * DAY))
        }
        _ => (Vec::new(), "1 = 1".to_owned()),
    }
}

/// A valid (if empty) PDF of `len` bytes.
fn pdf(len: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n% gatehouse benchmark attachment\n".to_vec();
    let mut r = Rng(0xF11E);
    while bytes.len() < len.saturating_sub(6) {
        bytes.push(b'0' + (r.next_u64() % 10) as u8);
        if bytes.len().is_multiple_of(80) {
            bytes.push(b'\n');
        }
    }
    bytes.extend_from_slice(b"%%EOF\n");
    bytes.truncate(len);
    bytes
}

async fn measure(running: &crate::Running, db: &str, args: &MessagesArgs) -> anyhow::Result<()> {
    let svc = &running.services;
    let f = prepare(svc, db, args.threads).await?;
    let plan = &f.plan;
    let now = svc.now();
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
    fetch(&client, &page("/admin/messages", &[])?, &staff_cookie).await?;
    fetch(&client, &page("/messages", &[])?, &admin_cookie).await?;
    println!("| database | page | samples | p50 ms | p95 ms | max ms | threads matched median / max | p95 target |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut r = Rng(0x5EED_0000_0000_0016);
    let mut counted: HashMap<String, i64> = HashMap::new();
    for kind in FILTERS {
        let mut t = Timing::new();
        for _ in 0..args.samples {
            let (q, cond) = mailbox_query(kind, &mut r, &f, now);
            t.times.push(fetch(&client, &page("/admin/messages", &q)?, &staff_cookie).await?);
            // How many threads the filter matches (not timed; the age filter's bound moves by
            // less than a page in a run).
            let n = match counted.get(&cond) {
                Some(n) => *n,
                None => {
                    let mut conn = svc.db.acquire().await?;
                    let n: i64 = sqlx::query_scalar(&format!(
                        "SELECT COUNT(*) FROM message_threads t JOIN practices p ON p.id = t.practice_id \
                         WHERE t.plan_id = $1 AND {cond}"
                    ))
                    .bind(plan.id().0)
                    .fetch_one(&mut *conn)
                    .await?;
                    counted.insert(cond, n);
                    n
                }
            };
            t.matches.push(n);
        }
        println!("{}", t.line(db, &format!("mailbox, filter {kind}"), Some(30.0)));
    }
    // The hospital system's administrator's inbox: their own threads and the system's.
    let mut conn = svc.db.acquire().await?;
    let (inbox_all, inbox_unread): (i64, i64) = {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN t.last_public_at > COALESCE(r.read_at, -1) THEN 1 ELSE 0 END), 0) AS u \
             FROM message_threads t LEFT JOIN message_reads r ON r.thread_id = t.id AND r.user_id = $2 \
             WHERE t.plan_id = $1 AND (t.author_id = $2 OR t.practice_id = $3) AND COALESCE(r.archived, 0) = 0",
        )
        .bind(plan.id().0)
        .bind(f.admin.0)
        .bind(f.large.0)
        .fetch_one(&mut *conn)
        .await?;
        (row.try_get("n")?, row.try_get("u")?)
    };
    drop(conn);
    for (folder, matched) in [("all", inbox_all), ("unread", inbox_unread)] {
        let mut t = Timing::new();
        let q = if folder == "all" { Vec::new() } else { vec![("folder", folder.to_owned())] };
        for _ in 0..args.samples {
            t.times.push(fetch(&client, &page("/messages", &q)?, &admin_cookie).await?);
            t.matches.push(matched);
        }
        println!("{}", t.line(db, &format!("practice inbox, folder {folder}"), Some(30.0)));
    }
    // The count of unread threads some pages show (through the service: no page of those
    // measured here asks for it).
    let session = SessionInfo {
        id: gatehouse_domain::SessionId(0),
        plan_id: plan.id(),
        user_id: f.admin,
        stage: SessionStage::Complete,
        created_at: 0,
        active_affiliation: None,
    };
    let mut t = Timing::new();
    for _ in 0..args.samples {
        let started = Instant::now();
        let n = svc.unread_messages(plan, &session).await.map_err(|e| anyhow::anyhow!("unread count: {e}"))?;
        t.times.push(started.elapsed());
        t.matches.push(n);
    }
    println!("{}", t.line(db, "unread count of the inbox (Services::unread_messages)", None));
    // Sending a new message with a 1 MB PDF, as the form posts it.
    let csrf = new_token();
    let cookies = format!("{admin_cookie}; {}={csrf}", gatehouse_web::csrf::CSRF_COOKIE);
    let file = pdf(UPLOAD_BYTES);
    let mut t = Timing::new();
    let sends = (args.samples / 10).clamp(5, 50);
    for k in 0..sends {
        let form = reqwest::multipart::Form::new()
            .text("practice", f.large.0.to_string())
            .text("topic", "claims")
            .text("subject", format!("{UPLOAD_SUBJECT} {k}"))
            .text("body", "Please find the corrected claim attached.")
            .text("member_id", "M000000016")
            .text("claim_number", "")
            .text("authorization_number", "")
            .part(
                "files",
                reqwest::multipart::Part::bytes(file.clone())
                    .file_name("corrected-claim.pdf")
                    .mime_str("application/pdf")?,
            );
        let url = page("/messages", &[(gatehouse_web::csrf::CSRF_FIELD, csrf.clone())])?;
        let started = Instant::now();
        let resp = client.post(url).header(reqwest::header::COOKIE, &cookies).multipart(form).send().await?;
        let status = resp.status();
        let body = resp.text().await?;
        let took = started.elapsed();
        if status != reqwest::StatusCode::SEE_OTHER {
            bail!("POST /messages answered {status}: {}", body.chars().take(300).collect::<String>());
        }
        t.times.push(took);
    }
    println!("{}", t.line(db, "send a message with a 1 MB PDF (POST /messages)", None));
    let mut conn = svc.db.acquire().await?;
    forget_uploads(&mut conn, plan).await?;
    Ok(())
}
