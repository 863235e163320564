//! What the flow's steps share: each user's `sub`, and the `acr` of a Gatehouse sign-in.

use crate::Internal;
use crate::tokens::new_token;
use gatehouse_domain::{PlanId, UserId};
use gatehouse_store::Conn;
use gatehouse_store::oidc_grants as store;

/// The `acr` of every complete Gatehouse sign-in: a password and a two-step code (NIST SP
/// 800-63B AAL2). Applications that ask `acr_values` get it whatever they ask (the claim is
/// voluntary: OIDC Core 3.1.2.1).
pub const ACR: &str = "urn:gatehouse:acr:aal2";

/// The user's `sub`, stable and opaque: random (256 bits) at the first sign-in of any
/// application, kept in `oidc_subjects`, never derived from the user id or a key that may
/// rotate. Made in the caller's transaction.
pub(crate) async fn subject(conn: &mut Conn, plan: PlanId, user: UserId, now: i64) -> Result<String, Internal> {
    Ok(store::subject(conn, plan, user, &new_token(), now).await?)
}
