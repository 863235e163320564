//! The practice directory: the users affiliated with a set of practices, searched, filtered,
//! sorted and paged in the database.

use crate::{Conn, DbKind, StoreError, search};
use gatehouse_domain::{PlanId, UserId, UserStatus};
use sqlx::Row;

/// The column a directory is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    #[default]
    Name,
    Username,
    Email,
    Status,
}

/// A directory query; `practices` is never empty.
#[derive(Debug, Clone, Default)]
pub struct DirectoryQuery<'a> {
    pub practices: &'a [i64],
    /// Lower-case text to find in name, username or email.
    pub needle: &'a str,
    /// At least four digits to find in the phone, or empty.
    pub digits: &'a str,
    pub status: Option<UserStatus>,
    pub user_type: Option<&'a str>,
    pub practice: Option<i64>,
    /// A provider's row id the user's affiliation must cover.
    pub provider: Option<i64>,
    pub sort: SortBy,
    pub descending: bool,
    pub limit: i64,
    pub offset: i64,
    /// Count matches up to this many (or to the end of the page when it lies beyond); `None`
    /// counts them all.
    pub count_cap: Option<i64>,
    /// Only these users (the search index's first matches and the users it does not know).
    pub among: Option<&'a [i64]>,
}

/// One row of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryRow {
    pub id: UserId,
    pub first_name: String,
    pub last_name: String,
    pub username: Option<String>,
    pub email: String,
    pub phone: Option<String>,
    pub status: UserStatus,
    pub last_signin_at: Option<i64>,
    /// Start of the current idle period (see [`crate::users::UserRow::idle_since`]).
    pub idle_since: Option<i64>,
    /// Whether the user holds a plan staff role.
    pub staff: bool,
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// The query's filter values, in placeholder order `$1`…`$7`, then one per practice from `$10`.
fn bind_filters<'q>(
    mut query: AnyQuery<'q>,
    plan: PlanId,
    q: &DirectoryQuery<'q>,
    text: &'q str,
    digits: &'q str,
) -> AnyQuery<'q> {
    query = query
        .bind(plan.0)
        .bind(text)
        .bind(digits)
        .bind(q.status.map(|s| s.as_str()).unwrap_or_default())
        .bind(q.user_type.unwrap_or_default())
        .bind(q.practice.unwrap_or(0))
        .bind(q.provider.unwrap_or(0));
    query
}

/// One page of the directory and the total, counted up to `q.count_cap`.
///
/// The candidates are read from the practices' affiliations (a hospital system's 20,000 users,
/// not the plan's million). On SQLite a needle of three characters or more is looked up in the
/// per-affiliation FTS5 index `affiliations_search`, whose matches are the candidates instead.
/// See [`crate::search`].
pub async fn page(
    conn: &mut Conn,
    plan: PlanId,
    q: &DirectoryQuery<'_>,
) -> Result<(Vec<DirectoryRow>, search::Total), StoreError> {
    // Absent filters bind a neutral value switched off in the SQL (`$5 = ''`), so the text
    // depends only on the number of practices and on the way the needle is found.
    let list = (0..q.practices.len()).map(|i| format!("${}", i + 10)).collect::<Vec<_>>().join(", ");
    let of_practices = format!(
        "a.practice_id IN ({list}) \
           AND ($5 = '' OR a.user_type = $5) AND ($6 = 0 OR a.practice_id = $6) \
           AND ($7 = 0 OR a.all_providers = 1 OR EXISTS (SELECT 1 FROM affiliation_providers s \
                WHERE s.affiliation_id = a.id AND s.provider_id = $7))"
    );
    let fts = match DbKind::of(conn) {
        DbKind::Sqlite if q.among.is_none() => search::fts_practices_query(q.practices, q.needle, q.digits),
        _ => None,
    };
    let among = match q.among {
        Some([]) => return Ok((Vec::new(), search::Total::Exact(0))),
        Some(ids) => {
            let first = 10 + q.practices.len();
            let list = (0..ids.len()).map(|i| format!("${}", i + first)).collect::<Vec<_>>().join(", ");
            format!(" AND u.id IN ({list})")
        }
        None => String::new(),
    };
    let (from, text, text_arg) = match &fts {
        // SQLite, a needle of three characters or more: the practices' affiliations whose user
        // matches are found in their own trigram index (migration 0013).
        Some(m) => (
            format!(
                "(SELECT DISTINCT a.user_id FROM affiliations_search t CROSS JOIN affiliations a \
                  WHERE affiliations_search MATCH $2 AND a.id = t.rowid AND {of_practices}) c \
                 CROSS JOIN users u WHERE u.id = c.user_id"
            ),
            "$3 <> ''".to_owned(),
            m.clone(),
        ),
        // Otherwise start from the practices' users (or from the few users asked about) and
        // compare each.
        None => (
            if among.is_empty() {
                format!(
                    "(SELECT DISTINCT a.user_id FROM affiliations a WHERE {of_practices}) c \
                     CROSS JOIN users u WHERE u.id = c.user_id"
                )
            } else {
                format!("users u WHERE EXISTS (SELECT 1 FROM affiliations a WHERE a.user_id = u.id AND {of_practices})")
            },
            "($2 = '' OR u.username_lower LIKE $2 ESCAPE '\\' OR u.email_lower LIKE $2 ESCAPE '\\' \
              OR lower(u.first_name || ' ' || u.last_name) LIKE $2 ESCAPE '\\' OR u.two_step_phone LIKE $3)"
                .to_owned(),
            if q.needle.is_empty() { String::new() } else { search::like_pattern(q.needle) },
        ),
    };
    let filter = format!("{from} AND u.plan_id = $1 AND ($4 = '' OR u.status = $4) AND {text}{among}");
    let digits = search::phone_pattern(q.digits);
    let dir = if q.descending { "DESC" } else { "ASC" };
    let order = match q.sort {
        SortBy::Name => format!("lower(u.last_name) {dir}, lower(u.first_name) {dir}, u.id"),
        SortBy::Username => format!("u.username_lower {dir}, u.id"),
        SortBy::Email => format!("u.email_lower {dir}, u.id"),
        SortBy::Status => format!("u.status {dir}, lower(u.last_name), u.id"),
    };
    let stop = search::count_stop(q.count_cap.unwrap_or(i64::MAX), q.offset, q.limit);
    // The stop is a number computed here, written into the text (an `i64`, never user input).
    let count_sql = format!(
        "SELECT COUNT(*) AS n FROM (SELECT 1 FROM {filter} AND $8 >= 0 AND $9 >= 0 LIMIT {}) AS m",
        stop.saturating_add(1)
    );
    let page_sql = format!(
        "SELECT u.id, u.first_name, u.last_name, u.username, u.email, u.two_step_phone, u.status, u.last_signin_at, \
         u.idle_since, u.staff_role FROM {filter} \
         ORDER BY {order} LIMIT $8 OFFSET $9"
    );
    let mut count = bind_filters(sqlx::query(&count_sql), plan, q, &text_arg, &digits).bind(q.limit).bind(q.offset);
    let mut rows = bind_filters(sqlx::query(&page_sql), plan, q, &text_arg, &digits).bind(q.limit).bind(q.offset);
    for p in q.practices {
        count = count.bind(*p);
        rows = rows.bind(*p);
    }
    for id in q.among.unwrap_or_default() {
        count = count.bind(*id);
        rows = rows.bind(*id);
    }
    let counted: i64 = count.fetch_one(&mut *conn).await?.try_get("n")?;
    let total = search::Total::from_count(counted, stop);
    let rows = rows.fetch_all(&mut *conn).await?;
    let list = rows
        .iter()
        .map(|r| {
            let status: String = r.try_get("status")?;
            Ok(DirectoryRow {
                id: UserId(r.try_get("id")?),
                first_name: r.try_get("first_name")?,
                last_name: r.try_get("last_name")?,
                username: r.try_get("username")?,
                email: r.try_get("email")?,
                phone: r.try_get("two_step_phone")?,
                status: UserStatus::parse(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("user status {status:?}")))?,
                last_signin_at: r.try_get("last_signin_at")?,
                idle_since: r.try_get("idle_since")?,
                staff: r.try_get::<Option<String>, _>("staff_role")?.is_some(),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok((list, total))
}

/// The ids of the users the directory `q` lists before its search text is applied: the users
/// of its practices passing its status, user type, practice and provider filters, each once, in
/// no particular order. The search index matches their text itself.
///
/// Only the filters in use are written into the query, so that without filters PostgreSQL reads
/// the ids from the index `affiliations_practice (practice_id, user_id)` alone (migration 0016).
pub async fn candidates(conn: &mut Conn, plan: PlanId, q: &DirectoryQuery<'_>) -> Result<Vec<i64>, StoreError> {
    enum Arg<'a> {
        Int(i64),
        Text(&'a str),
    }
    let mut args: Vec<Arg<'_>> = q.practices.iter().map(|p| Arg::Int(*p)).collect();
    let list = (1..=args.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    // Not `DISTINCT`: sorting 20,000 ids as text cost PostgreSQL 20 ms; they are deduped below.
    let ids = match DbKind::of(conn) {
        DbKind::Sqlite => "group_concat(a.user_id)",
        DbKind::Postgres => "string_agg(a.user_id::text, ',')",
    };
    let mut sql = format!("SELECT {ids} AS ids FROM affiliations a WHERE a.practice_id IN ({list})");
    if let Some(t) = q.user_type {
        args.push(Arg::Text(t));
        sql.push_str(&format!(" AND a.user_type = ${}", args.len()));
    }
    if let Some(p) = q.practice {
        args.push(Arg::Int(p));
        sql.push_str(&format!(" AND a.practice_id = ${}", args.len()));
    }
    if let Some(p) = q.provider {
        args.push(Arg::Int(p));
        sql.push_str(&format!(
            " AND (a.all_providers = 1 OR EXISTS (SELECT 1 FROM affiliation_providers s \
              WHERE s.affiliation_id = a.id AND s.provider_id = ${}))",
            args.len()
        ));
    }
    if let Some(status) = q.status {
        args.push(Arg::Int(plan.0));
        args.push(Arg::Text(status.as_str()));
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM users u WHERE u.id = a.user_id AND u.plan_id = ${} AND u.status = ${})",
            args.len() - 1,
            args.len()
        ));
    }
    let mut query = sqlx::query(&sql);
    for arg in args {
        query = match arg {
            Arg::Int(n) => query.bind(n),
            Arg::Text(t) => query.bind(t),
        };
    }
    let text: Option<String> = query.fetch_one(&mut *conn).await?.try_get("ids")?;
    let mut ids = search::parse_ids(text.as_deref().unwrap_or(""))?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// The user types (keys) each of `users` holds at `practices`.
pub async fn user_types_of(
    conn: &mut Conn,
    users: &[UserId],
    practices: &[i64],
) -> Result<Vec<(UserId, String)>, StoreError> {
    if users.is_empty() || practices.is_empty() {
        return Ok(Vec::new());
    }
    let ul = (0..users.len()).map(|i| format!("${}", i + 1)).collect::<Vec<_>>().join(", ");
    let pl = (0..practices.len()).map(|i| format!("${}", i + 1 + users.len())).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT DISTINCT user_id, user_type FROM affiliations WHERE user_id IN ({ul}) AND practice_id IN ({pl}) \
         ORDER BY user_id, user_type"
    );
    let mut query = sqlx::query(&sql);
    for u in users {
        query = query.bind(u.0);
    }
    for p in practices {
        query = query.bind(*p);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    rows.iter().map(|r| Ok((UserId(r.try_get("user_id")?), r.try_get("user_type")?))).collect()
}
