//! What people allowed an application to read: one row per (user, application, scope set), the
//! set in its canonical text, so the consent page is shown once per set.

use crate::{Conn, StoreError};
use gatehouse_domain::scopes::ScopeSet;
use gatehouse_domain::{PlanId, UserId};
use sqlx::Row;

/// A consent given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRow {
    pub application_id: i64,
    pub scopes: ScopeSet,
    pub granted_at: i64,
}

/// The scope sets `user` consented to for the application, newest first.
pub async fn of_user(
    conn: &mut Conn,
    plan: PlanId,
    user: UserId,
    application: i64,
) -> Result<Vec<ConsentRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT application_id, scopes, granted_at FROM consents \
         WHERE plan_id = $1 AND user_id = $2 AND application_id = $3 ORDER BY granted_at DESC, id DESC",
    )
    .bind(plan.0)
    .bind(user.0)
    .bind(application)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let text: String = r.try_get("scopes")?;
            Ok(ConsentRow {
                application_id: r.try_get("application_id")?,
                scopes: ScopeSet::parse(&text).map_err(|_| StoreError::Corrupt(format!("consent scopes {text:?}")))?,
                granted_at: r.try_get("granted_at")?,
            })
        })
        .collect()
}

/// Whether `user` consented to a set holding every scope of `scopes` for the application.
pub async fn covers(
    conn: &mut Conn,
    plan: PlanId,
    user: UserId,
    application: i64,
    scopes: &ScopeSet,
) -> Result<bool, StoreError> {
    Ok(of_user(conn, plan, user, application).await?.iter().any(|c| scopes.is_subset(&c.scopes)))
}

/// Records `user`'s consent to `scopes` for the application (again: the time is renewed).
pub async fn record(
    conn: &mut Conn,
    plan: PlanId,
    user: UserId,
    application: i64,
    scopes: &ScopeSet,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO consents (plan_id, user_id, application_id, scopes, granted_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id, application_id, scopes) DO UPDATE SET granted_at = excluded.granted_at",
    )
    .bind(plan.0)
    .bind(user.0)
    .bind(application)
    .bind(scopes.canonical())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
