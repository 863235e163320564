//! User accounts.

use crate::{Conn, DbKind, Stmt, StoreError, search};
use gatehouse_domain::{PlanId, UserId, UserStatus};
use sqlx::Row;

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: UserId,
    pub plan_id: PlanId,
    pub username: Option<String>,
    pub first_name: String,
    pub middle_name: String,
    pub last_name: String,
    pub email: String,
    pub status: UserStatus,
    pub password_hash: Option<String>,
    pub two_step_phone: Option<String>,
    pub two_step_method: Option<String>,
    pub terms_version_signed: Option<i64>,
    pub last_signin_at: Option<i64>,
    pub previous_signin_at: Option<i64>,
    pub staff_role: Option<String>,
    pub created_at: i64,
    /// A legacy system's password hash, until the first sign-in replaces it.
    pub legacy_hash: Option<String>,
    /// Start of the current idle period of an active account: the last sign-in, or when it
    /// became active (sign-up, import, reactivation) if later.
    pub idle_since: Option<i64>,
    /// When the email address was last proven by a link sent to it; `None` while it is not
    /// (an imported account before its proof, an address an administrator set).
    pub email_verified_at: Option<i64>,
    /// When someone other than the owner (a practice administrator) last set the address, until
    /// the owner proves one: such an address routes no invitation or approval to the account.
    pub email_set_by_other_at: Option<i64>,
}

const COLUMNS: &str = "id, plan_id, username, first_name, middle_name, last_name, email, status, \
    password_hash, two_step_phone, two_step_method, terms_version_signed, last_signin_at, previous_signin_at, staff_role, created_at, legacy_hash, idle_since, email_verified_at, email_set_by_other_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<UserRow, StoreError> {
    let status: String = r.try_get("status")?;
    Ok(UserRow {
        id: UserId(r.try_get("id")?),
        plan_id: PlanId(r.try_get("plan_id")?),
        username: r.try_get("username")?,
        first_name: r.try_get("first_name")?,
        middle_name: r.try_get("middle_name")?,
        last_name: r.try_get("last_name")?,
        email: r.try_get("email")?,
        status: UserStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("user status {status:?}")))?,
        password_hash: r.try_get("password_hash")?,
        two_step_phone: r.try_get("two_step_phone")?,
        two_step_method: r.try_get("two_step_method")?,
        terms_version_signed: r.try_get("terms_version_signed")?,
        last_signin_at: r.try_get("last_signin_at")?,
        previous_signin_at: r.try_get("previous_signin_at")?,
        staff_role: r.try_get("staff_role")?,
        created_at: r.try_get("created_at")?,
        legacy_hash: r.try_get("legacy_hash")?,
        idle_since: r.try_get("idle_since")?,
        email_verified_at: r.try_get("email_verified_at")?,
        email_set_by_other_at: r.try_get("email_set_by_other_at")?,
    })
}

/// What is needed to create an invited user.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub plan_id: PlanId,
    pub first_name: &'a str,
    pub middle_name: &'a str,
    pub last_name: &'a str,
    pub email: &'a str,
}

/// Creates a user in status `invited`, without username or password.
pub async fn insert_invited(conn: &mut Conn, u: &NewUser<'_>, now: i64) -> Result<UserId, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (plan_id, first_name, middle_name, last_name, email, email_lower, status, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'invited', $7, $7) RETURNING id",
    )
    .bind(u.plan_id.0)
    .bind(u.first_name)
    .bind(u.middle_name)
    .bind(u.last_name)
    .bind(u.email)
    .bind(u.email.to_lowercase())
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(UserId(id))
}

/// The user with this id in this plan.
pub async fn get(conn: &mut Conn, plan: PlanId, id: UserId) -> Result<Option<UserRow>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE plan_id = $1 AND id = $2"))
        .bind(plan.0)
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The plan's users with these ids, in the order of `ids` (ids not in the plan are left out).
pub async fn by_ids(conn: &mut Conn, plan: PlanId, ids: &[UserId]) -> Result<Vec<UserRow>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = (0..ids.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ");
    let sql = format!("SELECT {COLUMNS} FROM users WHERE plan_id = $1 AND id IN ({list})");
    let mut query = sqlx::query(&sql).bind(plan.0);
    for id in ids {
        query = query.bind(id.0);
    }
    let mut rows = query.fetch_all(&mut *conn).await?.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    rows.sort_by_key(|r| ids.iter().position(|id| *id == r.id));
    Ok(rows)
}

/// The user with this username (any case) in this plan.
pub async fn by_username(conn: &mut Conn, plan: PlanId, username_lower: &str) -> Result<Option<UserRow>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE plan_id = $1 AND username_lower = $2"))
        .bind(plan.0)
        .bind(username_lower)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// What the password step of a sign-in reads before its hash, in one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordStepRead {
    /// The user with the username, and whether they have a confirmed authenticator app.
    pub user: Option<(UserRow, bool)>,
    /// The failure counters under the two keys asked for, in that order.
    pub counters: [Option<crate::throttle::Counter>; 2],
}

/// The user with this username (lower case) in the plan, whether they have a confirmed
/// authenticator app, and the sign-in failure counters under `throttle_keys`: the password
/// step's one read before its hash. The counters are read whether or not the user exists.
pub async fn for_password_step(
    conn: &mut Conn,
    plan: PlanId,
    username_lower: &str,
    throttle_keys: [&str; 2],
) -> Result<PasswordStepRead, StoreError> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let counter = |col: &str, key: &str| {
            format!("(SELECT t.{col} FROM signin_throttle t WHERE t.plan_id = $1 AND t.throttle_key = {key})")
        };
        format!(
            "SELECT {COLUMNS}, CAST(CASE WHEN EXISTS (SELECT 1 FROM authenticator_apps a \
               WHERE a.plan_id = users.plan_id AND a.user_id = users.id AND a.confirmed_at IS NOT NULL) \
               THEN 1 ELSE 0 END AS BIGINT) AS has_app, \
             {} AS failures_0, {} AS locked_until_0, {} AS failures_1, {} AS locked_until_1 \
             FROM (SELECT 1 AS probe) AS probe \
             LEFT JOIN users ON users.plan_id = $1 AND users.username_lower = $2",
            counter("failures", "$3"),
            counter("locked_until", "$3"),
            counter("failures", "$4"),
            counter("locked_until", "$4"),
        )
    });
    let r = sqlx::query(SQL.as_str())
        .bind(plan.0)
        .bind(username_lower)
        .bind(throttle_keys[0])
        .bind(throttle_keys[1])
        .fetch_one(&mut *conn)
        .await?;
    let counter = |failures: &str, locked_until: &str| -> Result<Option<crate::throttle::Counter>, StoreError> {
        let locked_until: Option<i64> = r.try_get(locked_until)?;
        Ok(r.try_get::<Option<i64>, _>(failures)?.map(|failures| crate::throttle::Counter { failures, locked_until }))
    };
    let counters = [counter("failures_0", "locked_until_0")?, counter("failures_1", "locked_until_1")?];
    let user = match r.try_get::<Option<i64>, _>("id")? {
        Some(_) => Some((from_row(&r)?, r.try_get::<i64, _>("has_app")? != 0)),
        None => None,
    };
    Ok(PasswordStepRead { user, counters })
}

/// Whether `value` (lower case) is used as a username or an email by anyone in the plan other
/// than `except`.
pub async fn name_taken(conn: &mut Conn, plan: PlanId, value_lower: &str, except: UserId) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE plan_id = $1 AND id <> $3 AND (username_lower = $2 OR email_lower = $2)",
    )
    .bind(plan.0)
    .bind(value_lower)
    .bind(except.0)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// Whether `value` (lower case) is the username of anyone in the plan other than `except`: an
/// email may never be another user's username.
pub async fn is_someones_username(
    conn: &mut Conn,
    plan: PlanId,
    value_lower: &str,
    except: Option<UserId>,
) -> Result<bool, StoreError> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE plan_id = $1 AND username_lower = $2 AND id <> $3")
            .bind(plan.0)
            .bind(value_lower)
            .bind(except.map_or(-1, |u| u.0))
            .fetch_one(&mut *conn)
            .await?;
    Ok(n > 0)
}

/// Completes sign-up: sets username and password and makes the account active; the address the
/// invitation's link went to is proven. Returns false if the user was no longer `invited`.
pub async fn complete_signup(
    conn: &mut Conn,
    id: UserId,
    username: &str,
    password_hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE users SET username = $1, username_lower = $2, password_hash = $3, status = 'active', \
         updated_at = $4, idle_since = $4, email_verified_at = $4, email_set_by_other_at = NULL \
         WHERE id = $5 AND status = 'invited'",
    )
    .bind(username)
    .bind(username.to_lowercase())
    .bind(password_hash)
    .bind(now)
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Records the time of a completed sign-in, keeping the one before it; a new idle period starts.
pub async fn record_signin(conn: &mut Conn, id: UserId, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE users SET previous_signin_at = last_signin_at, last_signin_at = $2, updated_at = $2, idle_since = $2 \
         WHERE id = $1",
    )
    .bind(id.0)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Replaces the password hash (e.g. after a rehash with new parameters).
pub async fn set_password_hash(conn: &mut Conn, id: UserId, hash: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
        .bind(id.0)
        .bind(hash)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Sets the verified two-step phone and method.
pub async fn set_two_step(conn: &mut Conn, id: UserId, phone: &str, method: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET two_step_phone = $2, two_step_method = $3, updated_at = $4 WHERE id = $1")
        .bind(id.0)
        .bind(phone)
        .bind(method)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records the terms version signed.
pub async fn sign_terms(conn: &mut Conn, id: UserId, version: i64, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET terms_version_signed = $2, terms_signed_at = $3, updated_at = $3 WHERE id = $1")
        .bind(id.0)
        .bind(version)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Creates an active user directly (demo data, benchmarks and imports).
pub async fn insert_active(
    conn: &mut Conn,
    u: &NewUser<'_>,
    username: &str,
    password_hash: &str,
    phone: Option<(&str, &str)>,
    terms_version: Option<i64>,
    now: i64,
) -> Result<UserId, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (plan_id, username, username_lower, first_name, middle_name, last_name, email, \
         email_lower, status, password_hash, two_step_phone, two_step_method, terms_version_signed, \
         terms_signed_at, created_at, updated_at, idle_since, email_verified_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $10, $11, $12, $13, $13, $13, $13, $13) RETURNING id",
    )
    .bind(u.plan_id.0)
    .bind(username)
    .bind(username.to_lowercase())
    .bind(u.first_name)
    .bind(u.middle_name)
    .bind(u.last_name)
    .bind(u.email)
    .bind(u.email.to_lowercase())
    .bind(password_hash)
    .bind(phone.map(|p| p.0))
    .bind(phone.map(|p| p.1))
    .bind(terms_version)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(UserId(id))
}

/// Sets or clears a user's staff role.
pub async fn set_staff_role(
    conn: &mut Conn,
    plan: PlanId,
    id: UserId,
    role: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE users SET staff_role = $3, updated_at = $4 WHERE plan_id = $1 AND id = $2")
        .bind(plan.0)
        .bind(id.0)
        .bind(role)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The plan's staff, by last name.
pub async fn list_staff(conn: &mut Conn, plan: PlanId) -> Result<Vec<UserRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM users WHERE plan_id = $1 AND staff_role IS NOT NULL ORDER BY last_name, first_name, id"
    ))
    .bind(plan.0)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// The statement that makes this transaction wait for every other that locks `user`, on
/// PostgreSQL: a lock on the user's row, held until commit. Taken before a per-user limit is
/// counted and written (the hour's codes, the hour's links): without it, transactions at the same
/// moment each count without seeing the others' rows (READ COMMITTED), and all pass the limit.
/// `None` on SQLite, whose write transaction already excludes every other.
pub fn lock_stmt(kind: DbKind, user: UserId) -> Option<Stmt<'static>> {
    (kind == DbKind::Postgres).then(|| Stmt::new("UPDATE users SET id = id WHERE id = $1").bind(user.0))
}

/// Runs [`lock_stmt`] on `conn`, if its database needs it.
pub async fn lock(conn: &mut Conn, user: UserId) -> Result<(), StoreError> {
    if let Some(stmt) = lock_stmt(DbKind::of(conn), user) {
        stmt.fetch_all(conn).await?;
    }
    Ok(())
}

/// How many active users hold `role`, other than `except` (an invitation nobody has taken up yet
/// does not count: it may never be).
pub async fn count_active_staff_role(
    conn: &mut Conn,
    plan: PlanId,
    role: &str,
    except: UserId,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE plan_id = $1 AND staff_role = $2 AND status = 'active' AND id <> $3",
    )
    .bind(plan.0)
    .bind(role)
    .bind(except.0)
    .fetch_one(&mut *conn)
    .await?)
}

/// Users of the plan with this email (any case).
pub async fn by_email(conn: &mut Conn, plan: PlanId, email_lower: &str) -> Result<Vec<UserRow>, StoreError> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE plan_id = $1 AND email_lower = $2 ORDER BY id"))
        .bind(plan.0)
        .bind(email_lower)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// How many users of the plan are active, and how many invited.
pub async fn status_counts(conn: &mut Conn, plan: PlanId) -> Result<(i64, i64), StoreError> {
    let active: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE plan_id = $1 AND status = 'active'")
        .bind(plan.0)
        .fetch_one(&mut *conn)
        .await?;
    let invited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE plan_id = $1 AND status = 'invited'")
        .bind(plan.0)
        .fetch_one(&mut *conn)
        .await?;
    Ok((active, invited))
}

/// One page of users matching `needle` (already lower case) in name, username or email, or
/// `digits` (four or more) in the phone, by last name, first name and id. Returns the page and
/// the total, counted up to `cap` (or to the end of the page when it lies beyond; see
/// [`search::count_stop`]).
///
/// On SQLite a needle of three characters or more is answered from the FTS5 trigram index: the
/// count, and the page from the index's matches sorted by name, unless the matches are many and
/// a short walk of the users in name order already finds the page. PostgreSQL answers the same
/// `LIKE`s from its trigram indexes. See [`crate::search`].
pub async fn search(
    conn: &mut Conn,
    plan: PlanId,
    needle: &str,
    digits: &str,
    limit: i64,
    offset: i64,
    cap: i64,
) -> Result<(Vec<UserRow>, search::Total), StoreError> {
    let like = search::like_pattern(needle);
    let digits_like = search::phone_pattern(digits);
    let filter = SEARCH_FILTER;
    let stop = search::count_stop(cap, offset, limit);
    let fts = match DbKind::of(conn) {
        DbKind::Sqlite if search::fts_query_all_plans(needle, digits).is_some() => {
            if search::plan_holds_everyone(conn, plan).await? {
                search::fts_query_all_plans(needle, digits)
            } else {
                search::fts_query(plan, needle, digits)
            }
        }
        _ => None,
    };
    let Some(m) = fts else {
        // PostgreSQL, or a needle too short for trigrams on SQLite.
        let counted: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM (SELECT 1 FROM users WHERE {filter} LIMIT $4) AS m"))
                .bind(plan.0)
                .bind(&like)
                .bind(&digits_like)
                .bind(stop.saturating_add(1))
                .fetch_one(&mut *conn)
                .await?;
        let total = search::Total::from_count(counted, stop);
        if counted <= offset {
            return Ok((Vec::new(), total));
        }
        // PostgreSQL's planner chooses between the trigram indexes and the name index.
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM users WHERE {filter} ORDER BY last_name, first_name, id LIMIT $4 OFFSET $5"
        ))
        .bind(plan.0)
        .bind(&like)
        .bind(&digits_like)
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await?;
        return Ok((rows.iter().map(from_row).collect::<Result<_, _>>()?, total));
    };
    let matches = FTS_MATCHES;
    let counted = fts_count_in_plan(conn, plan, &m, stop).await?;
    let total = search::Total::from_count(counted, stop);
    if counted <= offset {
        return Ok((Vec::new(), total));
    }
    if !total.is_exact() {
        // Many matches: when they are spread over the alphabet, the first few thousand users in
        // name order hold the page. Else the matches are sorted below.
        if let Some(rows) = walk_page(conn, plan, needle, digits, limit, offset, search::WALK_ROWS).await? {
            return Ok((rows, total));
        }
    }
    // Sort the matches by name on the narrow index, then read the page's rows.
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM users WHERE id IN (SELECT u.id FROM {matches} \
         ORDER BY u.last_name, u.first_name, u.id LIMIT $3 OFFSET $4) ORDER BY last_name, first_name, id"
    ))
    .bind(&m)
    .bind(plan.0)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    Ok((rows.iter().map(from_row).collect::<Result<_, _>>()?, total))
}

/// The page of `limit` rows at `offset` of the plan's users matching `needle` or `digits`, found
/// by walking the first `rows` users after `offset` in name order and testing each: `Some` only
/// when the walk held the whole page (then it is exactly the page), else `None`.
pub async fn walk_page(
    conn: &mut Conn,
    plan: PlanId,
    needle: &str,
    digits: &str,
    limit: i64,
    offset: i64,
    rows: i64,
) -> Result<Option<Vec<UserRow>>, StoreError> {
    // SQLite has no statistics to prefer the name index over sorting the plan, so it is named.
    let hint = if DbKind::of(conn) == DbKind::Sqlite { "INDEXED BY users_plan_name" } else { "" };
    let walked = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM (SELECT * FROM users {hint} WHERE plan_id = $1 \
         ORDER BY last_name, first_name, id LIMIT $6) AS w WHERE {SEARCH_FILTER} \
         ORDER BY last_name, first_name, id LIMIT $4 OFFSET $5"
    ))
    .bind(plan.0)
    .bind(search::like_pattern(needle))
    .bind(search::phone_pattern(digits))
    .bind(limit)
    .bind(offset)
    .bind(rows.saturating_add(offset))
    .fetch_all(&mut *conn)
    .await?;
    if walked.len() as i64 == limit {
        Ok(Some(walked.iter().map(from_row).collect::<Result<_, _>>()?))
    } else {
        Ok(None)
    }
}

/// How many of the users `ids` of the plan match `needle` or `digits` as in [`search`]. The
/// search index asks this of the users it does not know (changed since it was read).
pub async fn count_among(
    conn: &mut Conn,
    plan: PlanId,
    ids: &[i64],
    needle: &str,
    digits: &str,
) -> Result<i64, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let list = (0..ids.len()).map(|i| format!("${}", i + 4)).collect::<Vec<_>>().join(", ");
    let sql = format!("SELECT COUNT(*) FROM users WHERE {SEARCH_FILTER} AND id IN ({list})");
    let mut count =
        sqlx::query_scalar(&sql).bind(plan.0).bind(search::like_pattern(needle)).bind(search::phone_pattern(digits));
    for id in ids {
        count = count.bind(*id);
    }
    Ok(count.fetch_one(&mut *conn).await?)
}

/// The page of `limit` rows at `offset`, in the search's order, of those of the users `ids` of
/// the plan that match `needle` or `digits` as in [`search`]. The search index hands over its
/// first matches and the users it does not know, so SQL has the last word on every row shown.
pub async fn page_among(
    conn: &mut Conn,
    plan: PlanId,
    ids: &[i64],
    needle: &str,
    digits: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<UserRow>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = (0..ids.len()).map(|i| format!("${}", i + 6)).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT {COLUMNS} FROM users WHERE {SEARCH_FILTER} AND id IN ({list}) \
         ORDER BY last_name, first_name, id LIMIT $4 OFFSET $5"
    );
    let mut page = sqlx::query(&sql)
        .bind(plan.0)
        .bind(search::like_pattern(needle))
        .bind(search::phone_pattern(digits))
        .bind(limit)
        .bind(offset);
    for id in ids {
        page = page.bind(*id);
    }
    let rows = page.fetch_all(&mut *conn).await?;
    rows.iter().map(from_row).collect()
}

/// How many of the plan's users the FTS5 query on `users_search` matches, stopping after
/// `stop + 1` (SQLite).
pub async fn fts_count_in_plan(conn: &mut Conn, plan: PlanId, query: &str, stop: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(&format!("SELECT COUNT(*) FROM (SELECT 1 FROM {FTS_MATCHES} LIMIT $3) AS m"))
        .bind(query)
        .bind(plan.0)
        .bind(stop.saturating_add(1))
        .fetch_one(&mut *conn)
        .await?)
}

/// The plan's users matching the `LIKE` patterns `$2` (name, username, email) and `$3` (phone).
const SEARCH_FILTER: &str = "plan_id = $1 AND (username_lower LIKE $2 ESCAPE '\\' OR email_lower LIKE $2 ESCAPE '\\' \
     OR lower(first_name || ' ' || last_name) LIKE $2 ESCAPE '\\' OR two_step_phone LIKE $3)";

/// The FTS5 index's matches (`$1`), each checked to be in the plan (`$2`) on the narrow
/// `users_search_sort`.
const FTS_MATCHES: &str = "users_search s CROSS JOIN users u INDEXED BY users_search_sort \
     WHERE users_search MATCH $1 AND u.id = s.rowid AND u.plan_id = $2";

/// Users affiliated with the practice that has `tax_id`, or with the practice of the provider
/// whose NPI is `npi`.
pub async fn by_practice_key(
    conn: &mut Conn,
    plan: PlanId,
    tax_id: Option<&str>,
    npi: Option<&str>,
) -> Result<Vec<UserRow>, StoreError> {
    let cols = COLUMNS.split(", ").map(|c| format!("u.{}", c.trim())).collect::<Vec<_>>().join(", ");
    let rows = sqlx::query(&format!(
        "SELECT DISTINCT {cols} FROM users u JOIN affiliations a ON a.user_id = u.id JOIN practices p ON p.id = a.practice_id \
         WHERE u.plan_id = $1 AND (p.tax_id = $2 OR p.id IN (SELECT practice_id FROM providers WHERE plan_id = $1 AND npi = $3)) \
         ORDER BY u.last_name, u.first_name, u.id LIMIT 200"
    ))
    .bind(plan.0)
    .bind(tax_id.unwrap_or("\u{1}"))
    .bind(npi.unwrap_or("\u{1}"))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Sets the account status. Returns false if the user is not in the plan. An account that
/// becomes active starts a new idle period.
pub async fn set_status(
    conn: &mut Conn,
    plan: PlanId,
    id: UserId,
    status: UserStatus,
    now: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE users SET status = $3, updated_at = $4, \
         deactivated_at = CASE WHEN $3 = 'deactivated' THEN $4 ELSE deactivated_at END, \
         idle_since = CASE WHEN $3 = 'active' AND status <> 'active' THEN $4 ELSE idle_since END \
         WHERE plan_id = $1 AND id = $2",
    )
    .bind(plan.0)
    .bind(id.0)
    .bind(status.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Forgets the two-step phone: the user sets up a new one at their next sign-in.
pub async fn clear_two_step(conn: &mut Conn, plan: PlanId, id: UserId, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE users SET two_step_phone = NULL, two_step_method = NULL, updated_at = $3 WHERE plan_id = $1 AND id = $2")
        .bind(plan.0)
        .bind(id.0)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// A user's practices: (Tax ID, practice name, user type, administrator).
pub async fn affiliations_of(conn: &mut Conn, user: UserId) -> Result<Vec<(String, String, String, bool)>, StoreError> {
    let rows = sqlx::query(
        "SELECT p.tax_id, p.name, a.user_type, a.is_admin FROM affiliations a JOIN practices p ON p.id = a.practice_id \
         WHERE a.user_id = $1 ORDER BY p.name",
    )
    .bind(user.0)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| -> Result<_, StoreError> {
            Ok((
                r.try_get("tax_id")?,
                r.try_get("name")?,
                r.try_get("user_type")?,
                r.try_get::<i64, _>("is_admin")? != 0,
            ))
        })
        .collect()
}

/// A user's contact details and office address (empty strings when not given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactRow {
    pub mobile_phone: String,
    pub office_phone: String,
    pub fax: String,
    pub street: String,
    pub city: String,
    pub state: String,
    pub zip: String,
}

/// The user's contact details.
pub async fn contact(conn: &mut Conn, plan: PlanId, id: UserId) -> Result<Option<ContactRow>, StoreError> {
    let row = sqlx::query(
        "SELECT mobile_phone, office_phone, fax, street, city, state, zip FROM users WHERE plan_id = $1 AND id = $2",
    )
    .bind(plan.0)
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(ContactRow {
            mobile_phone: r.try_get("mobile_phone")?,
            office_phone: r.try_get("office_phone")?,
            fax: r.try_get("fax")?,
            street: r.try_get("street")?,
            city: r.try_get("city")?,
            state: r.try_get("state")?,
            zip: r.try_get("zip")?,
        })
    })
    .transpose()
}

/// Names and email of a user, as edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamesAndEmail<'a> {
    pub first_name: &'a str,
    pub middle_name: &'a str,
    pub last_name: &'a str,
    pub email: &'a str,
}

/// Saves a user's names, email and contact details, as someone other than their owner. A new
/// address is not proven: `email_verified_at` is cleared and `email_set_by_other_at` set when
/// the address changes.
pub async fn update_profile(
    conn: &mut Conn,
    plan: PlanId,
    id: UserId,
    n: &NamesAndEmail<'_>,
    c: &ContactRow,
    now: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE users SET first_name = $3, middle_name = $4, last_name = $5, email = $6, \
         email_verified_at = CASE WHEN email_lower = $7 THEN email_verified_at ELSE NULL END, \
         email_set_by_other_at = CASE WHEN email_lower = $7 THEN email_set_by_other_at ELSE $8 END, \
         email_lower = $7, updated_at = $8 WHERE plan_id = $1 AND id = $2",
    )
    .bind(plan.0)
    .bind(id.0)
    .bind(n.first_name)
    .bind(n.middle_name)
    .bind(n.last_name)
    .bind(n.email)
    .bind(n.email.to_lowercase())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1 && update_contact(conn, plan, id, c, now).await?)
}

/// Saves a user's contact details and office address only.
pub async fn update_contact(
    conn: &mut Conn,
    plan: PlanId,
    id: UserId,
    c: &ContactRow,
    now: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE users SET mobile_phone = $3, office_phone = $4, fax = $5, street = $6, city = $7, state = $8, \
         zip = $9, updated_at = $10 WHERE plan_id = $1 AND id = $2",
    )
    .bind(plan.0)
    .bind(id.0)
    .bind(&c.mobile_phone)
    .bind(&c.office_phone)
    .bind(&c.fax)
    .bind(&c.street)
    .bind(&c.city)
    .bind(&c.state)
    .bind(&c.zip)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Changes the username of a user who has one.
pub async fn set_username(
    conn: &mut Conn,
    plan: PlanId,
    id: UserId,
    username: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE users SET username = $3, username_lower = $4, updated_at = $5 \
         WHERE plan_id = $1 AND id = $2 AND username IS NOT NULL",
    )
    .bind(plan.0)
    .bind(id.0)
    .bind(username)
    .bind(username.to_lowercase())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Sets a user's email address, proven by the link sent to it.
pub async fn set_email(conn: &mut Conn, plan: PlanId, id: UserId, email: &str, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE users SET email = $3, email_lower = $4, updated_at = $5, email_verified_at = $5, \
         email_set_by_other_at = NULL WHERE plan_id = $1 AND id = $2",
    )
    .bind(plan.0)
    .bind(id.0)
    .bind(email)
    .bind(email.to_lowercase())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Records that the user's current address was proven by a link sent to it.
pub async fn mark_email_verified(conn: &mut Conn, plan: PlanId, id: UserId, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET email_verified_at = $3, email_set_by_other_at = NULL WHERE plan_id = $1 AND id = $2")
        .bind(plan.0)
        .bind(id.0)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// When the user was last deactivated, if ever recorded.
pub async fn deactivated_at(conn: &mut Conn, plan: PlanId, id: UserId) -> Result<Option<i64>, StoreError> {
    Ok(deactivation(conn, plan, id).await?.0)
}

/// When the user was last deactivated and by whom (`staff` or `practice`), where recorded.
pub async fn deactivation(
    conn: &mut Conn,
    plan: PlanId,
    id: UserId,
) -> Result<(Option<i64>, Option<String>), StoreError> {
    let row = sqlx::query("SELECT deactivated_at, deactivated_by FROM users WHERE plan_id = $1 AND id = $2")
        .bind(plan.0)
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(r) => Ok((r.try_get("deactivated_at")?, r.try_get("deactivated_by")?)),
        None => Ok((None, None)),
    }
}

/// Records who deactivated the account (`staff` or `practice`); call after [`set_status`].
pub async fn set_deactivated_by(conn: &mut Conn, plan: PlanId, id: UserId, by: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET deactivated_by = $3 WHERE plan_id = $1 AND id = $2")
        .bind(plan.0)
        .bind(id.0)
        .bind(by)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Replaces a legacy hash by the first Argon2id hash. Returns false if the user no longer had a
/// legacy hash (a concurrent first sign-in finished first).
pub async fn replace_legacy_hash(conn: &mut Conn, id: UserId, hash: &str, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE users SET password_hash = $2, legacy_hash = NULL, legacy_migrated_at = $3, updated_at = $3 \
         WHERE id = $1 AND legacy_hash IS NOT NULL",
    )
    .bind(id.0)
    .bind(hash)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The practices of each of `users` (as [`affiliations_of`]), in one query.
pub async fn affiliations_of_many(
    conn: &mut Conn,
    users: &[UserId],
) -> Result<Vec<(UserId, (String, String, String, bool))>, StoreError> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let list = (1..=users.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT a.user_id, p.tax_id, p.name, a.user_type, a.is_admin FROM affiliations a \
         JOIN practices p ON p.id = a.practice_id WHERE a.user_id IN ({list}) ORDER BY p.name"
    );
    let mut q = sqlx::query(&sql);
    for u in users {
        q = q.bind(u.0);
    }
    let rows = q.fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| -> Result<_, StoreError> {
            Ok((
                UserId(r.try_get("user_id")?),
                (
                    r.try_get("tax_id")?,
                    r.try_get("name")?,
                    r.try_get("user_type")?,
                    r.try_get::<i64, _>("is_admin")? != 0,
                ),
            ))
        })
        .collect()
}
