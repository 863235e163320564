//! The change log of who may do what: one row per committed change, read by every instance to
//! keep its permission index in step with the database.

use crate::{Conn, StoreError};
use gatehouse_domain::{PlanId, UserId};

/// Records, in the caller's transaction, that `user`'s access changed (`None`: anything in the
/// plan may have changed, e.g. a user type's permissions or the roster).
pub async fn record(conn: &mut Conn, plan: PlanId, user: Option<UserId>, now: i64) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO access_changes (plan_id, user_id, at) VALUES ($1, $2, $3)")
        .bind(plan.0)
        .bind(user.map(|u| u.0))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
