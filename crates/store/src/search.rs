//! What the two user searches (plan-wide and the practice directory) share: the `LIKE` pattern,
//! the capped count ([`Total`], [`COUNT_CAP`]), the reading of a plan's users and of the change
//! log (migration 0016) for the services' index in memory, and, on SQLite, the queries for the
//! FTS5 trigram indexes `users_search` (migration 0011) and `affiliations_search` (0013).
//!
//! Large plans are searched in memory (`gatehouse_services`' search index); SQL answers small
//! plans and a large plan's searches while its index is missing. On PostgreSQL the SQL searches
//! compare with `LIKE` (the trigram indexes of 0011 were dropped by 0016: they cost more at every
//! write than they saved a small plan). SQLite cannot index `LIKE '%x%'`, so there the searches
//! ask the FTS5 tables, whose text and tokenizer are chosen so that a phrase match is exactly the
//! `LIKE` (see the migrations). Needles shorter than three characters have no trigram: SQLite
//! then reads every candidate row, which is correct but slower. docs/decisions.md ("User search
//! at a million users") says which path answers when.

use crate::{Conn, DbKind, StoreError};
use gatehouse_domain::PlanId;
use sqlx::Row;
use std::fmt;

/// Users of the plan a search walks in name order looking for a page of many matches before it
/// reads the matches from the index instead.
pub const WALK_ROWS: i64 = 3_000;

/// The shorter walk tried first when the plan's name order is in memory (sorting by it is
/// cheaper than a long walk): enough for needles matching one user in 20 or more.
pub const SHORT_WALK_ROWS: i64 = 500;

/// The searches count matches up to this many and then only say "more than 1,000": an exact
/// count of tens of thousands costs as much as reading them all and helps nobody, who then adds
/// letters to the search (see docs/decisions.md).
pub const COUNT_CAP: i64 = 1_000;

/// How many users a search found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    /// Exactly this many.
    Exact(i64),
    /// More than this many: counting stopped there.
    MoreThan(i64),
}

impl Total {
    /// The total from a count that stopped after `stop + 1` rows.
    pub fn from_count(n: i64, stop: i64) -> Self {
        if n > stop { Self::MoreThan(stop) } else { Self::Exact(n) }
    }

    /// The number shown: the count, or where counting stopped.
    pub fn shown(self) -> i64 {
        match self {
            Self::Exact(n) | Self::MoreThan(n) => n,
        }
    }

    /// Whether the count is exact.
    pub fn is_exact(self) -> bool {
        matches!(self, Self::Exact(_))
    }

    /// Whether there are matches after the first `n`.
    pub fn more_after(self, n: i64) -> bool {
        match self {
            Self::Exact(t) => n < t,
            Self::MoreThan(t) => n <= t,
        }
    }
}

impl fmt::Display for Total {
    /// `1,234`, or `more than 1,000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let grouped = |n: i64| {
            let digits = n.unsigned_abs().to_string();
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i).is_multiple_of(3) {
                    out.push(',');
                }
                out.push(c);
            }
            if n < 0 { format!("-{out}") } else { out }
        };
        match self {
            Self::Exact(n) => write!(f, "{}", grouped(*n)),
            Self::MoreThan(n) => write!(f, "more than {}", grouped(*n)),
        }
    }
}

/// Where a count stops for a page at `offset` of `limit` rows: at `cap`, or after the page when
/// the page lies beyond it (so that a next page is known to exist whenever the count stopped).
pub fn count_stop(cap: i64, offset: i64, limit: i64) -> i64 {
    cap.max(offset.saturating_add(limit)).max(0)
}

/// Tidies the search indexes after a bulk load: on SQLite merges each FTS5 index into one
/// segment (rows written one by one by the triggers leave it in many, which slows every query)
/// and checkpoints the write-ahead log; on PostgreSQL refreshes the planner's statistics of the
/// searched tables. Call it outside a transaction.
pub async fn after_bulk_load(conn: &mut Conn) -> Result<(), StoreError> {
    match DbKind::of(conn) {
        DbKind::Sqlite => {
            for index in ["users_search", "affiliations_search"] {
                sqlx::query(&format!("INSERT INTO {index} ({index}) VALUES ('optimize')")).execute(&mut *conn).await?;
            }
            // Best effort: a reader holding an old snapshot keeps part of the log.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut *conn).await?;
        }
        DbKind::Postgres => {
            sqlx::query("ANALYZE users").execute(&mut *conn).await?;
            sqlx::query("ANALYZE affiliations").execute(&mut *conn).await?;
        }
    }
    Ok(())
}

/// `%needle%` with `\`, `%` and `_` escaped (for `LIKE … ESCAPE '\'`). A NUL character is left
/// out: no stored text holds one, and PostgreSQL refuses it in a parameter.
pub fn like_pattern(needle: &str) -> String {
    let needle = needle.replace('\0', "");
    format!("%{}%", needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

/// `%digits%` when there are at least four digits to find in the phone, else a value no phone
/// matches.
pub fn phone_pattern(digits: &str) -> String {
    if digits.len() >= 4 { format!("%{digits}%") } else { "\u{1}".to_owned() }
}

/// The FTS5 condition on the searched text: name, username or email containing `needle` (lower
/// case), or the phone containing `digits` (when four or more); `None` when the index cannot
/// answer: an empty needle, or one shorter than three characters.
fn fts_text(needle: &str, digits: &str) -> Option<String> {
    if needle.chars().count() < 3 || needle.contains('\0') {
        return None;
    }
    let text = format!("{{name username email}} : {}", phrase(needle));
    Some(if digits.len() >= 4 { format!("({text} OR phone : {})", phrase(digits)) } else { text })
}

/// `s` as one quoted FTS5 phrase.
fn phrase(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The FTS5 query on `users_search` matching exactly the users of `plan` whose name, username or
/// email contains `needle` (lower case) or whose phone contains `digits` (when four or more), or
/// `None` when the index cannot answer: an empty needle, or one shorter than three characters.
pub fn fts_query(plan: PlanId, needle: &str, digits: &str) -> Option<String> {
    Some(format!("plan : {} AND {}", phrase(&format!("#{}#", plan.0)), fts_text(needle, digits)?))
}

/// The same query without the plan: every plan's matching users. Used when the plan holds every
/// user (one plan a deployment), where the `plan` term would only cost time: it is a doclist as
/// long as the table.
pub fn fts_query_all_plans(needle: &str, digits: &str) -> Option<String> {
    fts_text(needle, digits)
}

/// The FTS5 query on `affiliations_search` matching the affiliations with any of `practices`
/// (never empty) whose user matches as in [`fts_query`].
pub fn fts_practices_query(practices: &[i64], needle: &str, digits: &str) -> Option<String> {
    let text = fts_text(needle, digits)?;
    let any = practices.iter().map(|p| phrase(&format!("#{p}#"))).collect::<Vec<_>>().join(" OR ");
    Some(format!("practice : ({any}) AND {text}"))
}

/// Whether every user in the database belongs to `plan` (two index probes).
pub async fn plan_holds_everyone(conn: &mut Conn, plan: PlanId) -> Result<bool, StoreError> {
    // Two subqueries: SQLite reads one end of an index for a lone MIN or MAX, not for both.
    let (lo, hi): (Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT (SELECT MIN(plan_id) FROM users) AS lo, (SELECT MAX(plan_id) FROM users) AS hi")
            .fetch_one(&mut *conn)
            .await?;
    Ok(lo == Some(plan.0) && hi == Some(plan.0))
}

/// The database's clock, in seconds since 1970 (PostgreSQL: the transaction's start). The
/// search index and the change log (migration 0016) are both timed by it, never by a server's
/// clock.
pub async fn db_clock(conn: &mut Conn) -> Result<i64, StoreError> {
    let sql = match DbKind::of(conn) {
        DbKind::Sqlite => "SELECT CAST(strftime('%s', 'now') AS INTEGER)",
        DbKind::Postgres => "SELECT extract(epoch FROM now())::bigint",
    };
    Ok(sqlx::query_scalar(sql).fetch_one(&mut *conn).await?)
}

/// One user as the search index holds them: the searched text exactly as the SQL searches
/// compare it, and their place in the practice directory's name order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedUser {
    pub id: i64,
    /// `lower(first_name || ' ' || last_name)`.
    pub name: String,
    /// Lower case, empty when none.
    pub username: String,
    /// Lower case.
    pub email: String,
    /// The two-step phone, empty when none.
    pub phone: String,
    /// 1-based position in the directory's order (lower last name, lower first name, id).
    pub directory_rank: i64,
}

/// Calls `each` with every user of the plan in the plan-wide search's order (last name, first
/// name, id), streamed (a million users are never all in memory as rows).
pub async fn each_user_in_name_order(
    conn: &mut Conn,
    plan: PlanId,
    mut each: impl FnMut(IndexedUser) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    use futures::TryStreamExt;
    let mut rows = sqlx::query(
        "SELECT id, lower(first_name || ' ' || last_name) AS name, coalesce(username_lower, '') AS username, \
         email_lower, coalesce(two_step_phone, '') AS phone, \
         row_number() OVER (ORDER BY lower(last_name), lower(first_name), id) AS directory_rank \
         FROM users WHERE plan_id = $1 ORDER BY last_name, first_name, id",
    )
    .bind(plan.0)
    .fetch(&mut *conn);
    while let Some(r) = rows.try_next().await? {
        each(IndexedUser {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            username: r.try_get("username")?,
            email: r.try_get("email_lower")?,
            phone: r.try_get("phone")?,
            directory_rank: r.try_get("directory_rank")?,
        })?;
    }
    Ok(())
}

/// The changes logged for the plan's users at or after `since` (the database's clock): each
/// change's log id and user, at most `limit` of them.
pub async fn changes_since(
    conn: &mut Conn,
    plan: PlanId,
    since: i64,
    limit: i64,
) -> Result<Vec<(i64, i64)>, StoreError> {
    Ok(sqlx::query_as("SELECT id, user_id FROM user_search_changes WHERE plan_id = $1 AND changed_at >= $2 LIMIT $3")
        .bind(plan.0)
        .bind(since)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?)
}

/// Whether the plan has at least `n` users (an index walk of `n` entries, not a count).
pub async fn has_users(conn: &mut Conn, plan: PlanId, n: i64) -> Result<bool, StoreError> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT id FROM users WHERE plan_id = $1 ORDER BY plan_id LIMIT 1 OFFSET $2")
            .bind(plan.0)
            .bind(n.saturating_sub(1).max(0))
            .fetch_optional(&mut *conn)
            .await?;
    Ok(found.is_some())
}

/// Forgets the changes logged before `before` (every plan's).
pub async fn prune_changes(conn: &mut Conn, before: i64) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM user_search_changes WHERE changed_at < $1").bind(before).execute(&mut *conn).await?;
    Ok(())
}

/// Ids written as `1,2,3` (`group_concat`, `string_agg`).
pub(crate) fn parse_ids(text: &str) -> Result<Vec<i64>, StoreError> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',').map(|s| s.parse().map_err(|_| StoreError::Corrupt(format!("user id {s:?}")))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lists_parse() {
        assert_eq!(parse_ids("").ok(), Some(vec![]));
        assert_eq!(parse_ids("3,1,22").ok(), Some(vec![3, 1, 22]));
        assert!(parse_ids("3,x").is_err());
    }

    #[test]
    fn patterns_escape_wildcards() {
        assert_eq!(like_pattern(r"a%b_c\d"), r"%a\%b\_c\\d%");
        assert_eq!(like_pattern("a\0b"), "%ab%", "PostgreSQL refuses a NUL in a parameter");
        assert_eq!(phone_pattern("123"), "\u{1}");
        assert_eq!(phone_pattern("1234"), "%1234%");
    }

    #[test]
    fn totals_read_as_people_write_them() {
        assert_eq!(Total::from_count(1_001, 1_000), Total::MoreThan(1_000));
        assert_eq!(Total::from_count(1_000, 1_000), Total::Exact(1_000));
        assert_eq!(Total::Exact(1_234_567).to_string(), "1,234,567");
        assert_eq!(Total::Exact(999).to_string(), "999");
        assert_eq!(Total::MoreThan(1_000).to_string(), "more than 1,000");
        assert!(Total::MoreThan(1_000).more_after(1_000));
        assert!(!Total::Exact(1_000).more_after(1_000));
        assert!(Total::Exact(1_000).more_after(999));
        assert_eq!(count_stop(1_000, 0, 25), 1_000);
        assert_eq!(count_stop(1_000, 1_000, 25), 1_025);
        assert_eq!(count_stop(i64::MAX, 10, 25), i64::MAX);
    }

    #[test]
    fn practice_queries_name_every_practice() {
        assert_eq!(fts_practices_query(&[3], "ab", ""), None);
        assert_eq!(
            fts_practices_query(&[3, 12], "smi", "").as_deref(),
            Some("practice : (\"#3#\" OR \"#12#\") AND {name username email} : \"smi\"")
        );
        assert_eq!(fts_query_all_plans("smi", "").as_deref(), Some("{name username email} : \"smi\""));
    }

    #[test]
    fn fts_query_quotes_the_needle() {
        assert_eq!(fts_query(PlanId(7), "ab", ""), None);
        assert_eq!(fts_query(PlanId(7), "", ""), None);
        assert_eq!(
            fts_query(PlanId(7), "o\"b", "").as_deref(),
            Some("plan : \"#7#\" AND {name username email} : \"o\"\"b\"")
        );
        assert_eq!(
            fts_query(PlanId(7), "x5551234", "5551234").as_deref(),
            Some("plan : \"#7#\" AND ({name username email} : \"x5551234\" OR phone : \"5551234\")")
        );
    }
}
