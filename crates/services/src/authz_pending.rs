//! Temporary: replaced by the permission index's refresh when it lands.

use crate::Services;
use gatehouse_domain::{PlanId, UserId};

impl Services {
    /// Tells this instance's permission index that access changed (after commit).
    pub async fn access_changed(&self, _plan: PlanId, _user: Option<UserId>) {}
}
