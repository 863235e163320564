//! The user searches against their definition: every needle finds exactly the users whose name,
//! username or email contains it (or whose phone contains its digits), in the plan (and the
//! practices) asked, whichever way the database answers (trigram index, few or many matches,
//! needles too short for trigrams), and the index follows renames and deletions.

use crate::both;
use crate::support::{Backend, TestApp};
use gatehouse_domain::{PlanId, UserId, UserStatus};
use gatehouse_services::plans::NewPlan;
use gatehouse_services::support::{COUNT_CAP, PAGE_SIZE};
use gatehouse_store::directory::{self, DirectoryQuery};
use gatehouse_store::search::Total;
use gatehouse_store::{search, users};

/// Users sharing the last name "Commonwealth": more than a capped count counts, so that their
/// pages are found by walking the users in order (or, past the walk, by sorting the matches).
const COMMON: usize = 5_100;

#[derive(Debug, Clone)]
struct U {
    id: i64,
    first: String,
    last: String,
    username: Option<String>,
    email: String,
    phone: Option<String>,
}

impl U {
    fn matches(&self, needle: &str, digits: &str) -> bool {
        let name = format!("{} {}", self.first, self.last).to_ascii_lowercase();
        name.contains(needle)
            || self.username.as_deref().is_some_and(|u| u.to_ascii_lowercase().contains(needle))
            || self.email.to_ascii_lowercase().contains(needle)
            || (digits.len() >= 4 && self.phone.as_deref().is_some_and(|p| p.contains(digits)))
    }
}

/// First name, last name, username, email, phone.
type Person = (&'static str, &'static str, Option<&'static str>, &'static str, Option<&'static str>);

async fn insert(app: &TestApp, plan: PlanId, rows: &[Person]) -> Vec<U> {
    let db = app.running.services.db.pool();
    let mut out = Vec::new();
    for (first, last, username, email, phone) in rows {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (plan_id, username, username_lower, first_name, middle_name, last_name, email, \
             email_lower, status, two_step_phone, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, '', $5, $6, $7, 'active', $8, 0, 0) RETURNING id",
        )
        .bind(plan.0)
        .bind(*username)
        .bind(username.map(str::to_lowercase))
        .bind(*first)
        .bind(*last)
        .bind(*email)
        .bind(email.to_lowercase())
        .bind(*phone)
        .fetch_one(db)
        .await
        .expect("insert user");
        out.push(U {
            id,
            first: (*first).into(),
            last: (*last).into(),
            username: username.map(Into::into),
            email: (*email).into(),
            phone: phone.map(Into::into),
        });
    }
    out
}

/// Many users in multi-row statements (values are generated here, so written inline).
async fn insert_common(app: &TestApp, plan: PlanId) -> Vec<U> {
    let db = app.running.services.db.pool();
    let mut all = Vec::new();
    for chunk in (0..COMMON).collect::<Vec<_>>().chunks(500) {
        let values = chunk
            .iter()
            .map(|i| {
                format!(
                    "({}, 'pc{i}', 'pc{i}', 'Pat{i}', '', 'Commonwealth', 'pc{i}@commons.example.org', \
                     'pc{i}@commons.example.org', 'active', '+1206556{i:04}', 0, 0)",
                    plan.0
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let ids: Vec<i64> = sqlx::query_scalar(&format!(
            "INSERT INTO users (plan_id, username, username_lower, first_name, middle_name, last_name, email, \
             email_lower, status, two_step_phone, created_at, updated_at) VALUES {values} RETURNING id"
        ))
        .fetch_all(db)
        .await
        .expect("insert users");
        for (i, id) in chunk.iter().zip(ids) {
            all.push(U {
                id,
                first: format!("Pat{i}"),
                last: "Commonwealth".into(),
                username: Some(format!("pc{i}")),
                email: format!("pc{i}@commons.example.org"),
                phone: Some(format!("+1206556{i:04}")),
            });
        }
    }
    all
}

const SPECIAL: [Person; 5] = [
    ("Mary-Jane", "O'Brien", Some("mj_obrien"), "Mary.Jane+1@Ex_Ample.org", Some("+12065550101")),
    ("Percy", "50%Off", Some("percy%"), "percy@example.org", Some("+12065550102")),
    ("Ann", "Lee", Some("al"), "al@x.io", None),
    ("Zed", "Back\\slash", Some("zb"), "z\"q@example.org", Some("+12065550104")),
    ("Invited", "Person", None, "invited.person@example.org", None),
];

const NEEDLES: [&str; 33] = [
    "",
    "a",
    "al",
    "_",
    "%",
    "\\",
    "\"",
    "'",
    "o'b",
    "-jane",
    "jane o",
    "50%",
    "%off",
    "mj_",
    "ex_ample",
    "ex%ample",
    "commonwealth",
    "mmo",
    "pat1",
    "pat12",
    // 211 Commonwealths late in name order (Pat9…): past a short walk of the users in order.
    "pc9",
    "1206556",
    "0101",
    "5550102",
    "mary",
    "e.o",
    "pc99@",
    "h\\s",
    "z\"q",
    "y p",
    "ck\\",
    "@",
    "nobody here",
];

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

async fn other_plan(app: &TestApp) -> PlanId {
    let plan = app
        .running
        .services
        .create_plan(NewPlan {
            slug: "other".into(),
            name: "Other Plan".into(),
            host: None,
            support_phone: "1-800-555-0100".into(),
            support_hours: "Always".into(),
            terms_text: "Terms.".into(),
        })
        .await
        .expect("plan");
    plan.id()
}

async fn practice(app: &TestApp, tax_id: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO practices (plan_id, tax_id, name, address1, address2, city, state, zip, phone, created_at) \
         VALUES ($1, $2, 'Practice', '1 Main St', '', 'Seattle', 'WA', '98101', '', 0) RETURNING id",
    )
    .bind(app.plan.id().0)
    .bind(tax_id)
    .fetch_one(app.running.services.db.pool())
    .await
    .expect("practice")
}

async fn affiliate(app: &TestApp, users: &[&U], practice: i64) {
    for chunk in users.chunks(500) {
        let values = chunk
            .iter()
            .map(|u| format!("({}, {}, {practice}, 'billing_staff', 0, 1, 0)", app.plan.id().0, u.id))
            .collect::<Vec<_>>()
            .join(", ");
        sqlx::query(&format!(
            "INSERT INTO affiliations (plan_id, user_id, practice_id, user_type, is_admin, all_providers, created_at) \
             VALUES {values}"
        ))
        .execute(app.running.services.db.pool())
        .await
        .expect("affiliations");
    }
}

/// A page of the plan-wide search and its total, counted to the end.
async fn plan_search(app: &TestApp, plan: PlanId, needle: &str, limit: i64, offset: i64) -> (Vec<i64>, i64) {
    let (rows, total) = plan_search_capped(app, plan, needle, limit, offset, i64::MAX).await;
    assert!(total.is_exact(), "a count without a cap is exact");
    (rows, total.shown())
}

async fn plan_search_capped(
    app: &TestApp,
    plan: PlanId,
    needle: &str,
    limit: i64,
    offset: i64,
    cap: i64,
) -> (Vec<i64>, Total) {
    let mut conn = app.running.services.db.acquire().await.expect("conn");
    let (rows, total) =
        users::search(&mut conn, plan, needle, &digits(needle), limit, offset, cap).await.expect("search");
    (rows.iter().map(|r| r.id.0).collect(), total)
}

/// A page of the directory and its total, counted to the end.
async fn dir_search(app: &TestApp, practices: &[i64], needle: &str, limit: i64, offset: i64) -> (Vec<i64>, i64) {
    let (rows, total) = dir_search_capped(app, practices, needle, limit, offset, None).await;
    assert!(total.is_exact(), "a count without a cap is exact");
    (rows, total.shown())
}

async fn dir_search_capped(
    app: &TestApp,
    practices: &[i64],
    needle: &str,
    limit: i64,
    offset: i64,
    count_cap: Option<i64>,
) -> (Vec<i64>, Total) {
    let mut conn = app.running.services.db.acquire().await.expect("conn");
    let d = digits(needle);
    let q = DirectoryQuery { practices, needle, digits: &d, limit, offset, count_cap, ..Default::default() };
    let (rows, total) = directory::page(&mut conn, app.plan.id(), &q).await.expect("directory");
    (rows.iter().map(|r| r.id.0).collect(), total)
}

/// What a count stopping at `cap` must say for a page of `limit` at `offset` when `n` match.
fn capped_total(n: usize, cap: i64, offset: i64, limit: i64) -> Total {
    Total::from_count(n as i64, search::count_stop(cap, offset, limit))
}

fn sorted(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v
}

async fn searches_find_exactly_what_like_finds(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let plan = app.plan.id();
    let mut mine = insert(&app, plan, &SPECIAL).await;
    mine.extend(insert_common(&app, plan).await);
    // The same people in another plan must never be found.
    let other = other_plan(&app).await;
    insert(&app, other, &SPECIAL).await;
    // A practice with the special users and every other Commonwealth, and one with the rest.
    let (a, b) = (practice(&app, "825671892").await, practice(&app, "914407731").await);
    let in_a: Vec<&U> =
        mine.iter().enumerate().filter(|(i, _)| *i < SPECIAL.len() || i % 2 == 0).map(|x| x.1).collect();
    let in_b: Vec<&U> =
        mine.iter().enumerate().filter(|(i, _)| *i >= SPECIAL.len() && i % 2 == 1).map(|x| x.1).collect();
    affiliate(&app, &in_a, a).await;
    affiliate(&app, &in_b, b).await;

    for needle in NEEDLES {
        let d = digits(needle);
        let expect: Vec<i64> = sorted(mine.iter().filter(|u| u.matches(needle, &d)).map(|u| u.id).collect());
        let (found, total) = plan_search(&app, plan, needle, 10_000, 0).await;
        assert_eq!(total, expect.len() as i64, "plan-wide count for {needle:?}");
        assert_eq!(sorted(found.clone()), expect, "plan-wide matches for {needle:?}");
        // Pages are slices of the whole ordered list.
        let (page, _) = plan_search(&app, plan, needle, 7, 3).await;
        assert_eq!(page, found.iter().skip(3).take(7).copied().collect::<Vec<_>>(), "page for {needle:?}");
        // Counting stopped early changes the total only, never the rows or their order.
        for (limit, offset) in [(7, 3), (25, 150)] {
            let (page, total) = plan_search_capped(&app, plan, needle, limit, offset, 100).await;
            let expect_page = found.iter().skip(offset as usize).take(limit as usize).copied().collect::<Vec<_>>();
            assert_eq!(page, expect_page, "capped page {offset} for {needle:?}");
            assert_eq!(total, capped_total(expect.len(), 100, offset, limit), "capped total for {needle:?}");
        }

        let expect_a: Vec<i64> =
            sorted(in_a.iter().filter(|u| needle.is_empty() || u.matches(needle, &d)).map(|u| u.id).collect());
        let (found, total) = dir_search(&app, &[a], needle, 10_000, 0).await;
        assert_eq!(total, expect_a.len() as i64, "directory count for {needle:?}");
        assert_eq!(sorted(found.clone()), expect_a, "directory matches for {needle:?}");
        let (page, _) = dir_search(&app, &[a], needle, 7, 3).await;
        assert_eq!(page, found.iter().skip(3).take(7).copied().collect::<Vec<_>>(), "directory page for {needle:?}");
        let (page, total) = dir_search_capped(&app, &[a], needle, 7, 3, Some(100)).await;
        assert_eq!(page, found.iter().skip(3).take(7).copied().collect::<Vec<_>>(), "capped directory page {needle:?}");
        assert_eq!(total, capped_total(expect_a.len(), 100, 3, 7), "capped directory total for {needle:?}");
        let (_, both_total) = dir_search(&app, &[a, b], needle, 1, 0).await;
        let expect_ab = mine.iter().filter(|u| needle.is_empty() || u.matches(needle, &d)).count();
        assert_eq!(both_total, expect_ab as i64, "two practices' count for {needle:?}");
    }
    // The cases that matter, spelled out.
    let count = |n: &'static str| {
        let app = &app;
        async move { plan_search(app, plan, n, 1, 0).await.1 }
    };
    assert_eq!(count("%").await, 1, "a typed % is a percent sign (50%Off)");
    assert_eq!(count("_").await, 1, "a typed _ is an underscore (mj_obrien, ex_ample: one user)");
    assert_eq!(count("al").await, COMMON as i64 + 1, "two letters: al@x.io and every Commonwealth");
    assert_eq!(count("commonwealth").await, COMMON as i64);
    app.stop().await;
}
both!(searches_find_exactly_what_like_finds);

async fn the_index_follows_changes(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let plan = app.plan.id();
    let users = insert(&app, plan, &SPECIAL).await;
    let db = app.running.services.db.pool();
    let mary = UserId(users[0].id);
    // Mary and Ann in a practice, so the directory's own index must follow them too.
    let a = practice(&app, "825671892").await;
    affiliate(&app, &[&users[0], &users[2]], a).await;
    let in_directory = |n: &'static str| {
        let app = &app;
        async move { dir_search(app, &[a], n, 10, 0).await.0 }
    };
    assert_eq!(in_directory("o'brien").await, [mary.0]);
    let found = |n: &'static str| {
        let app = &app;
        async move { plan_search(app, plan, n, 10, 0).await.0 }
    };
    assert_eq!(found("o'brien").await, [mary.0]);

    sqlx::query("UPDATE users SET first_name = 'Marigold', last_name = 'Quinn' WHERE id = $1")
        .bind(mary.0)
        .execute(db)
        .await
        .expect("rename");
    assert!(found("o'brien").await.is_empty(), "the old name is gone");
    assert!(found("mary-jane").await.is_empty());
    assert_eq!(found("marigold q").await, [mary.0], "the new name is found");
    assert!(in_directory("o'brien").await.is_empty(), "the old name is gone from the directory");
    assert_eq!(in_directory("marigold q").await, [mary.0], "the directory finds the new name");
    assert_eq!(found("mary.jane").await, [mary.0], "the email did not change");

    sqlx::query("UPDATE users SET username = 'mq', username_lower = 'mq', email = 'mq@example.org', email_lower = 'mq@example.org' WHERE id = $1")
        .bind(mary.0)
        .execute(db)
        .await
        .expect("new username and email");
    assert!(found("mj_o").await.is_empty());
    assert!(found("mary.jane").await.is_empty());
    assert_eq!(found("mq@ex").await, [mary.0]);

    // A sign-in (other columns) changes nothing; clearing the phone removes it from the index.
    sqlx::query("UPDATE users SET last_signin_at = 5 WHERE id = $1").bind(mary.0).execute(db).await.expect("signin");
    assert_eq!(found("5550101").await, [mary.0]);
    let mut conn = app.running.services.db.acquire().await.expect("conn");
    assert!(users::clear_two_step(&mut conn, plan, mary, 6).await.expect("clear"));
    drop(conn);
    assert!(found("5550101").await.is_empty(), "the old phone is gone");

    assert_eq!(in_directory("mq@ex").await, [mary.0]);
    // Leaving the practice leaves its directory.
    sqlx::query("DELETE FROM affiliations WHERE user_id = $1").bind(users[2].id).execute(db).await.expect("leave");
    assert!(in_directory("al@x").await.is_empty(), "Ann left the practice");
    sqlx::query("DELETE FROM users WHERE id = $1").bind(users[2].id).execute(db).await.expect("delete");
    assert!(found("al@x").await.is_empty(), "a deleted user is gone");
    assert_eq!(plan_search(&app, plan, "example.org", 10, 0).await.1, 4);
    if backend == Backend::Sqlite {
        // The index agrees with its content after all of this.
        sqlx::query("INSERT INTO users_search (users_search, rank) VALUES ('integrity-check', 1)")
            .execute(db)
            .await
            .expect("FTS5 index matches the users table");
        sqlx::query("INSERT INTO affiliations_search (affiliations_search, rank) VALUES ('integrity-check', 1)")
            .execute(db)
            .await
            .expect("the directory's FTS5 index matches the affiliations");
    }
    assert!(search::fts_query(plan, "ab", "").is_none(), "two letters are not asked of the index");
    app.stop().await;
}
both!(the_index_follows_changes);

/// The plan-wide search through the services (the in-memory index when it can answer).
async fn indexed_search(app: &TestApp, needle: &str, offset: i64) -> (Vec<i64>, Total) {
    let svc = &app.running.services;
    let mut conn = svc.db.acquire().await.expect("conn");
    let (rows, total) = svc
        .user_search_page(&mut conn, app.plan.id(), needle, &digits(needle), PAGE_SIZE, offset)
        .await
        .expect("search");
    (rows.iter().map(|r| r.id.0).collect(), total)
}

/// The practice directory by name through the services (the index when it can answer).
async fn indexed_directory(app: &TestApp, practices: &[i64], needle: &str, offset: i64) -> (Vec<i64>, Total) {
    let svc = &app.running.services;
    let mut conn = svc.db.acquire().await.expect("conn");
    let d = digits(needle);
    let q = DirectoryQuery {
        practices,
        needle,
        digits: &d,
        limit: PAGE_SIZE,
        offset,
        count_cap: Some(COUNT_CAP),
        ..Default::default()
    };
    let (rows, total) = svc.directory_page(&mut conn, app.plan.id(), &q).await.expect("directory");
    (rows.iter().map(|r| r.id.0).collect(), total)
}

/// Every needle's pages and totals, from the index and from SQL alone, in both searches.
async fn index_agrees_with_sql(app: &TestApp, practice: i64, needles: &[&str]) {
    for needle in needles {
        for page in [1_i64, 3, 41, 205] {
            let offset = (page - 1) * PAGE_SIZE;
            let sql = plan_search_capped(app, app.plan.id(), needle, PAGE_SIZE, offset, COUNT_CAP).await;
            assert_eq!(indexed_search(app, needle, offset).await, sql, "plan-wide page {page} of {needle:?}");
            let sql = dir_search_capped(app, &[practice], needle, PAGE_SIZE, offset, Some(COUNT_CAP)).await;
            assert_eq!(
                indexed_directory(app, &[practice], needle, offset).await,
                sql,
                "directory page {page} of {needle:?}"
            );
        }
    }
}

async fn the_search_index_agrees_with_sql(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let plan = app.plan.id();
    let svc = &app.running.services;
    let mut mine = insert(&app, plan, &SPECIAL).await;
    mine.extend(insert_common(&app, plan).await);
    let other = other_plan(&app).await;
    insert(&app, other, &SPECIAL).await;
    // A practice with the special users and every other Commonwealth.
    let a = practice(&app, "825671892").await;
    let in_a: Vec<&U> =
        mine.iter().enumerate().filter(|(i, _)| *i < SPECIAL.len() || i % 2 == 0).map(|x| x.1).collect();
    affiliate(&app, &in_a, a).await;
    // A start reads the indexes of large plans only (here: 5,000 users or more).
    assert!(!svc.has_search_index(plan) && !svc.has_search_index(other));
    svc.warm_search_indexes_of(5_000).await.expect("warm");
    for _ in 0..200 {
        if svc.has_search_index(plan) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(svc.has_search_index(plan), "the large plan's index was read in the background");
    assert!(!svc.has_search_index(other), "a plan of five users is left to SQL");
    let before = svc.searches_answered_by_index();
    index_agrees_with_sql(&app, a, &NEEDLES).await;
    // The directory's filters stay in SQL: the index agrees with them too.
    app.sql("UPDATE users SET status = 'deactivated' WHERE first_name LIKE 'Pat3%'").await;
    svc.load_search_index(plan).await.expect("index after the status change");
    let mut conn = svc.db.acquire().await.expect("conn");
    for (status, user_type) in [(Some(UserStatus::Active), None), (None, Some("billing_staff")), (None, Some("nurse"))]
    {
        for needle in ["", "commonwealth", "pat3", "o'b"] {
            let d = digits(needle);
            let q = DirectoryQuery {
                practices: &[a],
                needle,
                digits: &d,
                status,
                user_type,
                limit: PAGE_SIZE,
                offset: 25,
                count_cap: Some(COUNT_CAP),
                ..Default::default()
            };
            let by_sql = directory::page(&mut conn, plan, &q).await.expect("sql");
            let answered = svc.searches_answered_by_index();
            let by_index = svc.directory_page(&mut conn, plan, &q).await.expect("index");
            assert_eq!(svc.searches_answered_by_index(), answered + 1, "the index answered {needle:?}");
            assert_eq!(by_index, by_sql, "{status:?} {user_type:?} {needle:?}");
        }
    }
    drop(conn);
    assert!(
        svc.searches_answered_by_index() >= before + 2 * 4 * NEEDLES.len() as u64 - 8,
        "the index answered (all but needles it cannot: none here)"
    );

    // Changes after the index was read: a rename to the front of the alphabet, a new user, a
    // deleted one, a new email. The index does not know them; SQL decides on them.
    let renamed = mine.iter().rfind(|u| u.last == "Commonwealth").expect("a Commonwealth").id;
    app.sql(&format!("UPDATE users SET last_name = 'Aaronson' WHERE id = {renamed}")).await;
    let added = insert(&app, plan, &[("Abe", "Commonwealth", Some("abe"), "abe@commons.example.org", None)]).await;
    // Pat12 has no practice; Pat11 is in the practice.
    let gone = mine.iter().find(|u| u.first == "Pat12").expect("Pat12").id;
    app.sql(&format!("DELETE FROM users WHERE id = {gone}")).await;
    let moved = mine.iter().find(|u| u.first == "Pat11").expect("Pat11").id;
    app.sql(&format!(
        "UPDATE users SET email = 'zz@moved.example', email_lower = 'zz@moved.example' WHERE id = {moved}"
    ))
    .await;
    let before = svc.searches_answered_by_index();
    assert_eq!(indexed_search(&app, "commons.example", 0).await.0.first(), Some(&renamed), "renamed comes first");
    assert!(indexed_search(&app, "abe@commons", 0).await.0 == vec![added[0].id], "the new user is found");
    assert!(indexed_search(&app, "pc12@", 0).await.0.is_empty(), "the deleted user is gone");
    assert!(indexed_search(&app, "pc11@", 0).await.0.is_empty(), "the old email is gone");
    assert_eq!(indexed_search(&app, "moved.ex", 0).await.0, vec![moved], "the new email is found");
    assert_eq!(indexed_directory(&app, &[a], "moved.ex", 0).await.0, vec![moved], "and in the directory");
    index_agrees_with_sql(&app, a, &["commonwealth", "commons.example", "pat1", "aaronson", "", "zz@"]).await;
    assert!(svc.searches_answered_by_index() > before, "the index still answered, with SQL deciding the changed users");

    // Thousands of changes: SQL answers alone, still right, until the index is read again.
    app.sql("UPDATE users SET email_lower = 'x' || email_lower WHERE last_name = 'Commonwealth'").await;
    let before = svc.searches_answered_by_index();
    let sql = plan_search_capped(&app, plan, "xpc1", PAGE_SIZE, 0, COUNT_CAP).await;
    assert_eq!(indexed_search(&app, "xpc1", 0).await, sql);
    assert_eq!(svc.searches_answered_by_index(), before, "too many changes for the index: SQL answered");
    index_agrees_with_sql(&app, a, &["xpc1", "commonwealth"]).await;
    svc.load_search_index(plan).await.expect("index again");
    let before = svc.searches_answered_by_index();
    index_agrees_with_sql(&app, a, &["xpc1", "commonwealth", "aaronson"]).await;
    assert!(svc.searches_answered_by_index() > before, "the index read again answers");
    app.stop().await;
}
both!(the_search_index_agrees_with_sql);
