//! Finding providers on a plan's roster by provider ID, NPI, Tax ID or name.

use crate::{Conn, StoreError};
use gatehouse_domain::PlanId;
use sqlx::Row;

/// A provider as a search lists it, with its practice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderListing {
    pub provider_id: String,
    pub npi: String,
    pub kind: String,
    pub first_name: String,
    pub last_name: String,
    pub org_name: String,
    pub tax_id: String,
    pub practice_name: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub group_provider_id: Option<String>,
    pub end_dated_at: Option<i64>,
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Providers whose provider ID, NPI or Tax ID starts with `query`, or whose name or practice's
/// name contains it (any case); every provider when `query` is empty. Ordered by provider ID.
pub async fn search(
    conn: &mut Conn,
    plan: PlanId,
    query: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<ProviderListing>, StoreError> {
    let q = query.trim();
    let prefix = format!("{}%", like_escape(&q.to_ascii_uppercase()));
    let contains = format!("%{}%", like_escape(&q.to_lowercase()));
    let rows = sqlx::query(
        "SELECT p.provider_id, p.npi, p.kind, p.first_name, p.last_name, p.org_name, pr.tax_id, pr.name, \
         p.city, p.state, p.zip, p.group_provider_id, p.end_dated_at \
         FROM providers p JOIN practices pr ON pr.id = p.practice_id \
         WHERE p.plan_id = $1 AND ($2 = '' OR p.provider_id LIKE $3 ESCAPE '\\' OR p.npi LIKE $3 ESCAPE '\\' \
         OR pr.tax_id LIKE $3 ESCAPE '\\' OR LOWER(p.last_name) LIKE $4 ESCAPE '\\' \
         OR LOWER(p.first_name) LIKE $4 ESCAPE '\\' OR LOWER(p.first_name || ' ' || p.last_name) LIKE $4 ESCAPE '\\' \
         OR LOWER(p.org_name) LIKE $4 ESCAPE '\\' OR LOWER(pr.name) LIKE $4 ESCAPE '\\') \
         ORDER BY p.provider_id LIMIT $5 OFFSET $6",
    )
    .bind(plan.0)
    .bind(q)
    .bind(&prefix)
    .bind(&contains)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ProviderListing {
                provider_id: r.try_get(0)?,
                npi: r.try_get(1)?,
                kind: r.try_get(2)?,
                first_name: r.try_get(3)?,
                last_name: r.try_get(4)?,
                org_name: r.try_get(5)?,
                tax_id: r.try_get(6)?,
                practice_name: r.try_get(7)?,
                city: r.try_get(8)?,
                state: r.try_get(9)?,
                zip: r.try_get(10)?,
                group_provider_id: r.try_get(11)?,
                end_dated_at: r.try_get(12)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::like_escape;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_escape(r"50%_off\now"), r"50\%\_off\\now");
    }
}
