//! The signed-in user's own account, as shown on the home page.

use crate::plans::Plan;
use crate::sessions::SessionInfo;
use crate::{Internal, Services};
use gatehouse_store::users;
use serde::Serialize;

/// What a user sees of their own account.
#[derive(Debug, Clone, Serialize)]
pub struct Me {
    pub user_id: i64,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub two_step_phone: Option<String>,
    pub two_step_method: Option<String>,
    pub terms_version_signed: Option<i64>,
    pub last_signin_at: Option<i64>,
    /// The sign-in before the current one.
    pub previous_signin_at: Option<i64>,
}

impl Services {
    /// The account behind a session.
    pub async fn me(&self, plan: &Plan, session: &SessionInfo) -> Result<Me, Internal> {
        let mut conn = self.db.acquire().await?;
        let u = users::get(&mut conn, plan.id(), session.user_id)
            .await?
            .ok_or_else(|| Internal::Other("session user missing".into()))?;
        Ok(Me {
            user_id: u.id.0,
            username: u.username.unwrap_or_default(),
            first_name: u.first_name,
            last_name: u.last_name,
            email: u.email,
            two_step_phone: u.two_step_phone.as_deref().map(gatehouse_domain::phone::mask_digits),
            two_step_method: u.two_step_method,
            terms_version_signed: u.terms_version_signed,
            last_signin_at: u.last_signin_at,
            previous_signin_at: u.previous_signin_at,
        })
    }
}
