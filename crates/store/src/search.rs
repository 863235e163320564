//! What the two user searches (plan-wide and the practice directory) share: the `LIKE` pattern
//! and, on SQLite, the query for the FTS5 trigram index `users_search` (migration 0011).
//!
//! On PostgreSQL the searches keep their `LIKE` predicates and GIN trigram indexes on the same
//! expressions answer them. SQLite cannot index `LIKE '%x%'`, so there the searches ask the FTS5
//! table, whose text and tokenizer are chosen so that a phrase match is exactly the `LIKE` (see
//! the migration). Needles shorter than three characters have no trigram: both databases then
//! read every candidate row, which is correct but slower.

use crate::{Conn, DbKind, StoreError};
use gatehouse_domain::PlanId;

/// Above this many matches in the plan, a page is read by walking the users in order and
/// testing each (it soon finds a page when matches are common); at or below it, the matches are
/// read by id and sorted.
pub const FEW_MATCHES: i64 = 5_000;

/// Which database `conn` talks to.
pub fn kind_of(conn: &Conn) -> DbKind {
    if conn.backend_name().eq_ignore_ascii_case("sqlite") { DbKind::Sqlite } else { DbKind::Postgres }
}

/// `%needle%` with `\`, `%` and `_` escaped (for `LIKE … ESCAPE '\'`).
pub fn like_pattern(needle: &str) -> String {
    format!("%{}%", needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

/// `%digits%` when there are at least four digits to find in the phone, else a value no phone
/// matches.
pub fn phone_pattern(digits: &str) -> String {
    if digits.len() >= 4 { format!("%{digits}%") } else { "\u{1}".to_owned() }
}

/// The FTS5 query matching exactly the users of `plan` whose name, username or email contains
/// `needle` (lower case) or whose phone contains `digits` (when four or more), or `None` when the
/// index cannot answer: an empty needle, or one shorter than three characters.
pub fn fts_query(plan: PlanId, needle: &str, digits: &str) -> Option<String> {
    if needle.chars().count() < 3 || needle.contains('\0') {
        return None;
    }
    let phrase = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let text = format!("{{name username email}} : {}", phrase(needle));
    let any = if digits.len() >= 4 { format!("({text} OR phone : {})", phrase(digits)) } else { text };
    Some(format!("plan : {} AND {any}", phrase(&format!("#{}#", plan.0))))
}

/// How many users the FTS5 query matches, counted in the index.
pub async fn fts_count(conn: &mut Conn, query: &str) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users_search WHERE users_search MATCH $1")
        .bind(query)
        .fetch_one(&mut *conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_escape_wildcards() {
        assert_eq!(like_pattern(r"a%b_c\d"), r"%a\%b\_c\\d%");
        assert_eq!(phone_pattern("123"), "\u{1}");
        assert_eq!(phone_pattern("1234"), "%1234%");
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
