//! The plan's OpenID Connect provider endpoints (issue 18), served per plan like every plan route
//! (at the plan's host and under `/p/{slug}`), with no session and no CSRF token: they are read
//! by relying parties' libraries. The discovery document and the JWKS are here; the flows'
//! endpoints (`/oauth2/authorize`, `/oauth2/token`, …) join them.

mod discovery;

use crate::AppState;
use crate::routing::Routes;

/// The OpenID Connect routes.
pub fn routes(_state: AppState) -> Routes {
    Routes::new().merge(discovery::routes())
}
