//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): an application sends the person
//! to `/oauth2/logout` with the ID token it holds (`id_token_hint`) and, optionally, where to
//! come back to, which must be one of its registered post-logout URIs exactly. The browser's
//! Gatehouse session ends when it belongs to the person the ID token names.

use crate::audit::{self, Event};
use crate::plans::Plan;
use crate::sessions::SessionInfo;
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::oauth::{Params, redirect_with};
use gatehouse_store::oidc_grants as store;
use gatehouse_store::sessions as session_store;
use serde_json::{Value, json};
use thiserror::Error;

/// Why a logout request cannot send the person back.
#[derive(Debug, Error)]
pub enum LogoutError {
    #[error("The application's sign-out request could not be checked, so you were not sent back to it.")]
    BadHint,
    #[error("The address the application asked to send you back to is not one it registered.")]
    UnregisteredUri,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for LogoutError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// Where the person goes after an application's logout request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoggedOut {
    /// Signed out (or never signed in): back to the application, at this URI.
    Redirect(String),
    /// Signed out (or never signed in): Gatehouse's own page says so.
    Here,
    /// The browser is still signed in, because the request named nobody (no ID token) or someone
    /// else: the person is asked whether to sign out (the specification's "MUST ask"), so that
    /// nobody leaves a shared computer believing they signed out when they did not.
    Ask,
}

impl Services {
    /// Ends the browser's session for an application's logout request.
    pub async fn oidc_logout(
        &self,
        plan: &Plan,
        params: &Params,
        session: Option<&SessionInfo>,
        meta: &RequestMeta,
    ) -> Result<LoggedOut, LogoutError> {
        let hint = params.get("id_token_hint").map_err(|_| LogoutError::BadHint)?;
        let uri = params.get("post_logout_redirect_uri").map_err(|_| LogoutError::BadHint)?;
        let state = params.get("state").ok().flatten().filter(|s| s.len() <= 2_000);
        let claims = match hint {
            Some(t) => Some(self.oidc_verify_hint(plan, t).await.map_err(|_| LogoutError::BadHint)?),
            None => None,
        };
        let aud = claims.as_ref().and_then(|c| match c.get("aud") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(a)) => a.first().and_then(Value::as_str).map(str::to_owned),
            _ => None,
        });
        let client_id = params.get("client_id").ok().flatten().map(str::to_owned).or(aud.clone());
        if aud.is_some() && client_id != aud {
            return Err(LogoutError::BadHint);
        }
        let client = match &client_id {
            Some(id) => self.oidc_client(plan.id(), id).await?,
            None => None,
        };
        // Back to the application only to a URI it registered, and only when it said who it is.
        let back = match (uri, &client) {
            (None, _) => None,
            (Some(u), Some(c)) if c.registration.matches_post_logout(u) => Some(u.to_owned()),
            (Some(_), _) => return Err(LogoutError::UnregisteredUri),
        };
        let hint_sub = claims.as_ref().and_then(|c| c.get("sub")).and_then(Value::as_str);
        let now = self.now();
        if let Some(s) = session.filter(|s| s.plan_id == plan.id()) {
            let mut tx = self.db.begin().await?;
            let sub = store::subject_of(&mut tx, plan.id(), s.user_id).await?;
            // Without a hint the session is not ended from a link: the person signs out themselves.
            if hint_sub.is_none() || sub.as_deref() != hint_sub {
                return Ok(LoggedOut::Ask);
            }
            if session_store::end(&mut tx, s.user_id, s.id, now).await? {
                let e = Event::new("oidc.logout")
                    .by_self(s.user_id)
                    .detail(json!({"client_id": client.as_ref().map(|c| c.client_id.clone()), "session": s.id}));
                audit::record(&mut tx, now, plan.id(), meta, e).await?;
            }
            gatehouse_store::commit(tx).await?;
        }
        Ok(match back {
            Some(u) => {
                let pairs: Vec<(&str, &str)> = state.map(|s| vec![("state", s)]).unwrap_or_default();
                LoggedOut::Redirect(if pairs.is_empty() { u } else { redirect_with(&u, &pairs) })
            }
            None => LoggedOut::Here,
        })
    }
}
