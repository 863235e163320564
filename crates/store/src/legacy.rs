//! Accounts imported from a legacy system: bulk inserts and the migration report's counts.

use crate::{Conn, DbKind, StoreError};
use gatehouse_domain::{PlanId, UserId};
use sqlx::Row;

/// An account of the plan, as the import compares against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingAccount {
    pub id: UserId,
    pub username_lower: Option<String>,
    pub email_lower: String,
    /// The username (lower case) an earlier import gave the account; `None` for an account that
    /// did not come from an import.
    pub imported_as: Option<String>,
    /// Its person has signed in to this portal (the legacy hash is gone): the account is theirs,
    /// and gains a practice only by accepting an offer.
    pub migrated: bool,
}

/// Every account of the plan.
pub async fn accounts(conn: &mut Conn, plan: PlanId) -> Result<Vec<ExistingAccount>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, username_lower, email_lower, legacy_username_lower, \
             CASE WHEN legacy_hash IS NULL AND password_hash IS NOT NULL THEN 1 ELSE 0 END AS migrated \
             FROM users WHERE plan_id = $1",
    )
    .bind(plan.0)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| -> Result<_, StoreError> {
            Ok(ExistingAccount {
                id: UserId(r.try_get("id")?),
                username_lower: r.try_get("username_lower")?,
                email_lower: r.try_get("email_lower")?,
                imported_as: r.try_get("legacy_username_lower")?,
                migrated: r.try_get::<i64, _>("migrated")? != 0,
            })
        })
        .collect()
}

/// The practices (user id, practice id) of the plan's imported accounts whose people have
/// signed in to this portal since.
pub async fn migrated_affiliations(conn: &mut Conn, plan: PlanId) -> Result<Vec<(UserId, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT a.user_id, a.practice_id FROM affiliations a JOIN users u ON u.id = a.user_id \
         WHERE u.plan_id = $1 AND u.legacy_username_lower IS NOT NULL AND u.legacy_hash IS NULL \
         AND u.password_hash IS NOT NULL",
    )
    .bind(plan.0)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| Ok((UserId(r.try_get("user_id")?), r.try_get("practice_id")?))).collect()
}

/// The plan's practices (id, Tax ID) and current providers (id, practice id, provider ID, NPI).
#[allow(clippy::type_complexity)]
pub async fn roster_keys(
    conn: &mut Conn,
    plan: PlanId,
) -> Result<(Vec<(i64, String)>, Vec<(i64, i64, String, String)>), StoreError> {
    let practices = sqlx::query("SELECT id, tax_id FROM practices WHERE plan_id = $1")
        .bind(plan.0)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| -> Result<_, StoreError> { Ok((r.try_get("id")?, r.try_get("tax_id")?)) })
        .collect::<Result<Vec<_>, _>>()?;
    let providers = sqlx::query(
        "SELECT id, practice_id, provider_id, npi FROM providers WHERE plan_id = $1 AND end_dated_at IS NULL",
    )
    .bind(plan.0)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| -> Result<_, StoreError> {
        Ok((r.try_get("id")?, r.try_get("practice_id")?, r.try_get("provider_id")?, r.try_get("npi")?))
    })
    .collect::<Result<Vec<_>, _>>()?;
    Ok((practices, providers))
}

/// An imported account to store.
#[derive(Debug, Clone)]
pub struct NewLegacyUser<'a> {
    pub username: &'a str,
    pub first_name: &'a str,
    pub middle_name: &'a str,
    pub last_name: &'a str,
    pub email: &'a str,
    /// E.164, or "" (kept as the mobile phone, never as the two-step phone).
    pub mobile_phone: &'a str,
    /// `active` or `deactivated`.
    pub status: &'a str,
    /// `domain::legacy::LegacyHash::to_stored`.
    pub legacy_hash: &'a str,
}

/// Parameters a statement may carry: SQLite's `$n` lookup grows with the count, PostgreSQL's
/// limit is 65,535.
fn params_per_statement(conn: &Conn) -> usize {
    match DbKind::of(conn) {
        DbKind::Sqlite => 256,
        DbKind::Postgres => 8_000,
    }
}

/// Inserts imported accounts, many per statement. Returns (username lower case, id) pairs.
pub async fn insert_users(
    conn: &mut Conn,
    plan: PlanId,
    users: &[NewLegacyUser<'_>],
    now: i64,
) -> Result<Vec<(String, UserId)>, StoreError> {
    const COLS: usize = 13;
    let per = (params_per_statement(conn) / COLS).max(1);
    let mut out = Vec::with_capacity(users.len());
    for chunk in users.chunks(per) {
        let mut sql = String::from(
            "INSERT INTO users (plan_id, username, username_lower, first_name, middle_name, last_name, email, \
             email_lower, mobile_phone, status, legacy_hash, legacy_imported_at, created_at, updated_at, idle_since, \
             legacy_username_lower) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * COLS;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9,
                b + 10,
                b + 11,
                b + 12,
                b + 13,
                b + 13,
                b + 13,
                b + 3
            ));
        }
        sql.push_str(" RETURNING id, username_lower");
        let mut q = sqlx::query(&sql);
        for u in chunk {
            q = q
                .bind(plan.0)
                .bind(u.username)
                .bind(u.username.to_lowercase())
                .bind(u.first_name)
                .bind(u.middle_name)
                .bind(u.last_name)
                .bind(u.email)
                .bind(u.email.to_lowercase())
                .bind(u.mobile_phone)
                .bind(u.status)
                .bind(u.legacy_hash)
                .bind(now)
                .bind(now);
        }
        for r in q.fetch_all(&mut *conn).await? {
            out.push((r.try_get("username_lower")?, UserId(r.try_get("id")?)));
        }
    }
    Ok(out)
}

/// An imported affiliation: user, practice, user type key, administrator, all providers.
pub type NewLegacyAffiliation = (UserId, i64, String, bool, bool);

/// Inserts affiliations, many per statement, skipping ones that exist. Returns
/// (user, practice, affiliation id) of those inserted.
pub async fn insert_affiliations(
    conn: &mut Conn,
    plan: PlanId,
    rows: &[NewLegacyAffiliation],
    now: i64,
) -> Result<Vec<(UserId, i64, i64)>, StoreError> {
    const COLS: usize = 7;
    let per = (params_per_statement(conn) / COLS).max(1);
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(per) {
        let mut sql = String::from(
            "INSERT INTO affiliations (plan_id, user_id, practice_id, user_type, is_admin, all_providers, created_at) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * COLS;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7
            ));
        }
        sql.push_str(" ON CONFLICT (user_id, practice_id) DO NOTHING RETURNING id, user_id, practice_id");
        let mut q = sqlx::query(&sql);
        for (user, practice, kind, admin, all) in chunk {
            q = q
                .bind(plan.0)
                .bind(user.0)
                .bind(*practice)
                .bind(kind.as_str())
                .bind(i64::from(*admin))
                .bind(i64::from(*all))
                .bind(now);
        }
        for r in q.fetch_all(&mut *conn).await? {
            out.push((UserId(r.try_get("user_id")?), r.try_get("practice_id")?, r.try_get("id")?));
        }
    }
    Ok(out)
}

/// One practice's line of the migration report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PracticeMigration {
    pub tax_id: String,
    pub name: String,
    /// Imported accounts affiliated with the practice.
    pub imported: i64,
    /// Of those, how many have signed in here (their legacy hash is gone).
    pub migrated: i64,
}

/// Imported and migrated accounts of the plan in total, and per practice.
pub async fn report(conn: &mut Conn, plan: PlanId) -> Result<(i64, i64, Vec<PracticeMigration>), StoreError> {
    let imported: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE plan_id = $1 AND legacy_imported_at IS NOT NULL")
            .bind(plan.0)
            .fetch_one(&mut *conn)
            .await?;
    let migrated: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE plan_id = $1 AND legacy_migrated_at IS NOT NULL")
            .bind(plan.0)
            .fetch_one(&mut *conn)
            .await?;
    let rows = sqlx::query(
        "SELECT p.tax_id, p.name, COUNT(*) AS imported, \
         SUM(CASE WHEN u.legacy_migrated_at IS NULL THEN 0 ELSE 1 END) AS migrated \
         FROM users u JOIN affiliations a ON a.user_id = u.id JOIN practices p ON p.id = a.practice_id \
         WHERE u.plan_id = $1 AND u.legacy_imported_at IS NOT NULL GROUP BY p.tax_id, p.name ORDER BY p.name",
    )
    .bind(plan.0)
    .fetch_all(&mut *conn)
    .await?;
    let per = rows
        .iter()
        .map(|r| -> Result<_, StoreError> {
            Ok(PracticeMigration {
                tax_id: r.try_get("tax_id")?,
                name: r.try_get("name")?,
                imported: r.try_get("imported")?,
                migrated: r.try_get("migrated")?,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((imported, migrated, per))
}
