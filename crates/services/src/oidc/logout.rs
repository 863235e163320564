//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): an application sends the person
//! to `/oauth2/logout` with the ID token it holds (`id_token_hint`) and, optionally, where to
//! come back to, which must be one of its registered post-logout URIs exactly. The browser's
//! Gatehouse session ends when it belongs to the person the ID token names; otherwise (no ID
//! token, or another person's) the person is asked, and their answer posted to
//! `/oauth2/logout/confirm` ends it and sends them back all the same.

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
    /// Signed out (`ended`), or there was no session here to end: back to the application at
    /// `back`, or to Gatehouse's own page without one.
    Done { ended: bool, back: Option<String> },
    /// The browser is still signed in, because the request named nobody (no ID token) or someone
    /// else: the person is asked whether to sign out (the specification's "MUST ask"), so that
    /// nobody leaves a shared computer believing they signed out when they did not.
    Ask(LogoutRequest),
}

/// A checked logout request, as the "Sign out?" page carries it to `/oauth2/logout/confirm`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogoutRequest {
    /// The application that asked, if it said.
    pub client_id: Option<String>,
    /// Its registered post-logout URI, exactly as it sent it.
    pub post_logout_redirect_uri: Option<String>,
    /// Its `state`, returned to it.
    pub state: Option<String>,
    /// Where "Stay signed in" leads: back to the application (with its `state`), if it asked.
    pub back: Option<String>,
}

impl Services {
    /// An application's logout request (`GET /oauth2/logout`): ends the browser's session when
    /// the ID token names its person, asks otherwise.
    pub async fn oidc_logout(
        &self,
        plan: &Plan,
        params: &Params,
        session: Option<&SessionInfo>,
        meta: &RequestMeta,
    ) -> Result<LoggedOut, LogoutError> {
        let hint = params.get("id_token_hint").map_err(|_| LogoutError::BadHint)?;
        let claims = match hint {
            Some(t) => Some(self.oidc_verify_hint(plan, t).await.map_err(|_| LogoutError::BadHint)?),
            None => None,
        };
        // Only an ID token: not an access token (`scope`) nor a logout token (`events`).
        if claims.as_ref().is_some_and(|c| c.get("scope").is_some() || c.get("events").is_some()) {
            return Err(LogoutError::BadHint);
        }
        let aud = claims.as_ref().and_then(|c| match c.get("aud") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(a)) => a.first().and_then(Value::as_str).map(str::to_owned),
            _ => None,
        });
        let client_id = params.get("client_id").ok().flatten().map(str::to_owned).or(aud.clone());
        if aud.is_some() && client_id != aud {
            return Err(LogoutError::BadHint);
        }
        let request = self.checked_request(plan, params, client_id).await?;
        let Some(s) = session.filter(|s| s.plan_id == plan.id()) else {
            return Ok(LoggedOut::Done { ended: false, back: request.back });
        };
        let hint_sub = claims.as_ref().and_then(|c| c.get("sub")).and_then(Value::as_str);
        let sub = {
            let mut conn = self.db.acquire().await?;
            store::subject_of(&mut conn, plan.id(), s.user_id).await?
        };
        // Without a hint, or with another person's, the session is not ended from a link.
        if hint_sub.is_none() || sub.as_deref() != hint_sub {
            return Ok(LoggedOut::Ask(request));
        }
        let ended = self.end_for_logout(plan, s, &request, false, meta).await?;
        Ok(LoggedOut::Done { ended, back: request.back })
    }

    /// The person's "Sign out" on the page [`LoggedOut::Ask`] showed (`POST
    /// /oauth2/logout/confirm`): the request is checked again, the session ends, and the person
    /// goes back to the application if it asked.
    pub async fn oidc_logout_confirmed(
        &self,
        plan: &Plan,
        params: &Params,
        session: Option<&SessionInfo>,
        meta: &RequestMeta,
    ) -> Result<LoggedOut, LogoutError> {
        let client_id = params.get("client_id").ok().flatten().filter(|c| !c.is_empty()).map(str::to_owned);
        let request = self.checked_request(plan, params, client_id).await?;
        let ended = match session.filter(|s| s.plan_id == plan.id()) {
            Some(s) => self.end_for_logout(plan, s, &request, true, meta).await?,
            None => false,
        };
        Ok(LoggedOut::Done { ended, back: request.back })
    }

    /// The request's way back, checked: only to a URI the named application registered.
    async fn checked_request(
        &self,
        plan: &Plan,
        params: &Params,
        client_id: Option<String>,
    ) -> Result<LogoutRequest, LogoutError> {
        let uri = params.get("post_logout_redirect_uri").map_err(|_| LogoutError::BadHint)?.filter(|u| !u.is_empty());
        let state = params.get("state").ok().flatten().filter(|s| !s.is_empty() && s.len() <= 2_000);
        let client = match &client_id {
            Some(id) => self.oidc_client(plan.id(), id).await?,
            None => None,
        };
        // Back to the application only to a URI it registered, and only when it said who it is.
        let back = match (uri, &client) {
            (None, _) => None,
            (Some(u), Some(c)) if c.registration.matches_post_logout(u) => Some(match state {
                Some(st) => redirect_with(u, &[("state", st)]),
                None => u.to_owned(),
            }),
            (Some(_), _) => return Err(LogoutError::UnregisteredUri),
        };
        Ok(LogoutRequest {
            client_id: client.map(|c| c.client_id),
            post_logout_redirect_uri: back.as_ref().and(uri).map(str::to_owned),
            state: back.as_ref().and(state).map(str::to_owned),
            back,
        })
    }

    /// Ends the session for a logout request, audited (`oidc.logout`); false if it had ended.
    async fn end_for_logout(
        &self,
        plan: &Plan,
        s: &SessionInfo,
        request: &LogoutRequest,
        confirmed: bool,
        meta: &RequestMeta,
    ) -> Result<bool, LogoutError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let ended = session_store::end(&mut tx, s.user_id, s.id, now).await?;
        if ended {
            let e = Event::new("oidc.logout").by_self(s.user_id).detail(json!({
                "client_id": request.client_id,
                "session": s.id,
                "confirmed": confirmed,
            }));
            audit::record(&mut tx, now, plan.id(), meta, e).await?;
        }
        gatehouse_store::commit(tx).await?;
        Ok(ended)
    }
}
