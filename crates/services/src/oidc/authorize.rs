//! The authorization endpoint's decisions (OIDC Core 3.1.2): who the client is and where it may
//! be answered (an unknown client or a redirect URI not registered exactly is never redirected
//! to), whether the person must sign in (no session, `prompt=login`, `max_age`, `id_token_hint`
//! of someone else) or consent, and the code. A request waiting for sign-in or consent is kept
//! in the database under a random token the browser holds in a cookie, and used once.

use super::flow::subject;
use crate::applications::clients::OidcClient;
use crate::audit::{self, Event};
use crate::plans::Plan;
use crate::sessions::SessionInfo;
use crate::tokens::{hash_token, new_token, same};
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::audit::Outcome;
use gatehouse_domain::oauth::{
    self, AuthorizationRequest, CODE_LIFETIME, ErrorCode, NoRedirect, OAuthError, PENDING_LIFETIME, Params,
};
use gatehouse_domain::redirect_uri;
use gatehouse_domain::scopes::{Scope, ScopeSet};
use gatehouse_domain::{PlanId, SessionId, Timestamp, UserId};
use gatehouse_store::oidc_grants::{self as store, NewCode, PendingRow};
use gatehouse_store::{Conn, consents, sessions as session_store};
use serde::{Deserialize, Serialize};
use serde_json::json;
use thiserror::Error;

/// The secret naming a waiting request, held by the browser in a short-lived cookie.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingToken {
    /// The browser's cookie value (only its SHA-256 is stored).
    pub token: String,
    /// The origin of the redirect URI the request will be answered at, for the pages' Content
    /// Security Policy: a form whose answer ends there must be allowed to go there.
    pub return_origin: Option<String>,
}

impl PendingToken {
    fn new(token: &str, req: &AuthorizationRequest) -> Self {
        Self { token: token.to_owned(), return_origin: redirect_uri::csp_origin(&req.redirect_uri) }
    }
}

impl std::fmt::Debug for PendingToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingToken(..)")
    }
}

/// Where the browser goes next.
#[derive(Debug)]
pub enum Authorize {
    /// Back to the application: a code or an error, at its registered redirect URI.
    Redirect(String),
    /// To Gatehouse's sign-in (`fresh`: even with a session, the person signs in again), then
    /// back to resume the request named by `pending`.
    SignIn { pending: PendingToken, login_hint: Option<String>, fresh: bool },
    /// Signed in, but the account has no practice yet: through the home page (association),
    /// then back to resume.
    Associate { pending: PendingToken },
    /// To the consent page for the request named by `pending`.
    Consent { pending: PendingToken },
}

/// What the consent page shows.
#[derive(Debug, Clone)]
pub struct ConsentView {
    pub client_name: String,
    /// What the application will be able to read, in plain words.
    pub scopes: Vec<&'static str>,
    /// Names the request shown, for the form to post back ([`ConsentAnswer::request`]).
    pub request: String,
}

/// The person's answer on the consent page, as the form posted it.
#[derive(Debug, Clone, Copy)]
pub struct ConsentAnswer<'a> {
    /// The [`ConsentView::request`] of the page answered.
    pub request: &'a str,
    /// Allowed (`Some(true)`), refused (`Some(false)`), or neither (a form without a decision).
    pub allow: Option<bool>,
}

/// Names a waiting request in the consent form, so that an answer applies to the request the
/// person saw: another authorization started meanwhile (by another tab, or a page of another
/// application opening one) replaces the browser's cookie, and the form then no longer matches
/// it. The SHA-256 of the cookie's token, which only that browser holds.
fn request_tag(pending: &str) -> String {
    hash_token(pending)
}

/// Why the request cannot go on (and cannot be answered by redirect).
#[derive(Debug, Error)]
pub enum AuthorizeError {
    #[error(transparent)]
    NoRedirect(#[from] NoRedirect),
    #[error("This sign-in request has expired or was already used. Go back to the application and start again.")]
    NoPending,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for AuthorizeError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// A waiting request as stored: its parameters as sent, and whether the person must sign in
/// after it was made.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    params: Vec<(String, String)>,
    fresh: bool,
    /// The session the browser had when a fresh sign-in was asked for: not good enough.
    #[serde(default)]
    stale_session: Option<SessionId>,
}

/// A fresh sign-in asked for by a waiting request: after `since`, in another session than `stale`.
#[derive(Debug, Clone, Copy)]
struct Fresh {
    since: i64,
    stale: Option<SessionId>,
}

impl Fresh {
    fn met_by(self, s: &Signed) -> bool {
        s.authenticated_at >= self.since && Some(s.info.id) != self.stale
    }
}

/// The session's state for a decision, when it is a complete sign-in to this plan.
#[derive(Clone)]
struct Signed {
    info: SessionInfo,
    authenticated_at: i64,
    amr: String,
}

/// What a request needs before its code.
enum Next {
    SignIn { fresh: bool },
    Associate,
    Consent,
    Issue(Signed),
}

/// The scopes granted: those asked for that the client may have (unknown names ignored).
pub(crate) fn granted_scopes(req: &AuthorizationRequest, client: &OidcClient) -> ScopeSet {
    let (asked, _unknown) = ScopeSet::split_known(&req.scopes.text());
    let mut granted = asked.intersection(&client.registration.scopes);
    granted.insert(Scope::OpenId);
    granted
}

impl Services {
    /// Answers an authorization request (query of GET, or form of POST).
    pub async fn oidc_authorize(
        &self,
        plan: &Plan,
        params: &Params,
        session: Option<&SessionInfo>,
        meta: &RequestMeta,
    ) -> Result<Authorize, AuthorizeError> {
        let (client, req) = match self.read_request(plan, params, meta).await? {
            Ok(x) => x,
            Err(redirect) => return Ok(Authorize::Redirect(redirect)),
        };
        let signed = self.signed(plan, session).await?;
        let had_session = signed.is_some();
        let next = match self.next_step(plan, &client, &req, signed, None).await? {
            Ok(n) => n,
            Err(e) => return Ok(Authorize::Redirect(self.error_redirect(plan, &req, &e))),
        };
        match next {
            Next::Issue(s) => self.issue_code(plan, &client, &req, &s, None, meta).await,
            other => {
                // Without a session, the sign-in that follows is fresh by definition: kept as
                // the fresh one, so that it answers `max_age` and the hint when it comes back.
                let fresh = match other {
                    Next::SignIn { fresh } => fresh || !had_session,
                    _ => false,
                };
                let stale = session.map(|s| s.id).filter(|_| fresh);
                let pending = self.keep_pending(plan, &client, params, &req, fresh, stale).await?;
                // Without a session the fresh sign-in is just the sign-in: the page need not say
                // "sign in again".
                let shown = match other {
                    Next::SignIn { fresh } => Next::SignIn { fresh: fresh && had_session },
                    other => other,
                };
                Ok(self.detour(shown, pending, &req))
            }
        }
    }

    /// Comes back to a waiting request once the person has signed in (or associated).
    pub async fn oidc_resume(
        &self,
        plan: &Plan,
        pending: &str,
        session: Option<&SessionInfo>,
        meta: &RequestMeta,
    ) -> Result<Authorize, AuthorizeError> {
        let (row, stored, client, req) = self.load_pending(plan, pending, meta).await?;
        let signed = self.signed(plan, session).await?;
        let fresh = stored.fresh.then_some(Fresh { since: row.created_at, stale: stored.stale_session });
        let next = match self.next_step(plan, &client, &req, signed, fresh).await? {
            Ok(n) => n,
            Err(e) => {
                self.spend_pending(row.id, session.map(|s| s.id)).await?;
                return Ok(Authorize::Redirect(self.error_redirect(plan, &req, &e)));
            }
        };
        match next {
            Next::Issue(s) => self.issue_code(plan, &client, &req, &s, Some(row.id), meta).await,
            other => Ok(self.detour(other, PendingToken::new(pending, &req), &req)),
        }
    }

    /// What the consent page of a waiting request shows; the person must be signed in.
    pub async fn oidc_consent_view(
        &self,
        plan: &Plan,
        pending: &str,
        session: Option<&SessionInfo>,
        meta: &RequestMeta,
    ) -> Result<Option<ConsentView>, AuthorizeError> {
        let (_, _, client, req) = self.load_pending(plan, pending, meta).await?;
        if self.signed(plan, session).await?.is_none() {
            return Ok(None);
        }
        let scopes = granted_scopes(&req, &client).iter().map(Scope::description).collect();
        Ok(Some(ConsentView { client_name: client.name.clone(), scopes, request: request_tag(pending) }))
    }

    /// The person's answer on the consent page: allowed (recorded once per scope set, then the
    /// code) or refused (`access_denied` to the application). Audited either way. An answer to
    /// another request than the one now waiting, or without a decision, shows the page again.
    pub async fn oidc_consent(
        &self,
        plan: &Plan,
        pending: &str,
        session: Option<&SessionInfo>,
        answer: ConsentAnswer<'_>,
        meta: &RequestMeta,
    ) -> Result<Authorize, AuthorizeError> {
        let (row, stored, client, req) = self.load_pending(plan, pending, meta).await?;
        let allow = match answer.allow {
            Some(allow) if same(answer.request, &request_tag(pending)) => allow,
            _ => return Ok(Authorize::Consent { pending: PendingToken::new(pending, &req) }),
        };
        let Some(signed) = self.signed(plan, session).await? else {
            return Ok(Authorize::SignIn { pending: PendingToken::new(pending, &req), login_hint: None, fresh: false });
        };
        if stored.fresh && !(Fresh { since: row.created_at, stale: stored.stale_session }).met_by(&signed) {
            return Ok(Authorize::SignIn { pending: PendingToken::new(pending, &req), login_hint: None, fresh: true });
        }
        let scopes = granted_scopes(&req, &client);
        let user = signed.info.user_id;
        let now = self.now();
        if !allow {
            let mut tx = self.db.begin().await?;
            if !store::use_pending(&mut tx, row.id, Some(signed.info.id), now).await? {
                return Err(AuthorizeError::NoPending);
            }
            let e = Event::new("oidc.consent_refused")
                .by_self(user)
                .outcome(Outcome::Denied)
                .detail(json!({"client_id": client.client_id, "scopes": scopes.canonical()}));
            audit::record(&mut tx, now, plan.id(), meta, e).await?;
            gatehouse_store::commit(tx).await?;
            let e = OAuthError::new(ErrorCode::AccessDenied, "the person did not allow this application");
            return Ok(Authorize::Redirect(self.error_redirect(plan, &req, &e)));
        }
        // The form can be posted at any time: the authorization endpoint's checks come first
        // (the person linked to a practice, or staff; the sign-in recent enough; the hint's
        // subject), and whatever they still ask for is where the person goes instead.
        let fresh = stored.fresh.then_some(Fresh { since: row.created_at, stale: stored.stale_session });
        match self.next_step(plan, &client, &req, Some(signed.clone()), fresh).await? {
            Ok(Next::Issue(_) | Next::Consent) => {}
            Ok(other) => return Ok(self.detour(other, PendingToken::new(pending, &req), &req)),
            Err(e) => {
                self.spend_pending(row.id, Some(signed.info.id)).await?;
                return Ok(Authorize::Redirect(self.error_redirect(plan, &req, &e)));
            }
        }
        let mut tx = self.db.begin().await?;
        consents::record(&mut tx, plan.id(), user, client.id.0, &scopes, now).await?;
        let e = Event::new("oidc.consent_given")
            .by_self(user)
            .detail(json!({"client_id": client.client_id, "scopes": scopes.canonical()}));
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        let redirect = self.code_in(&mut tx, plan, &client, &req, &signed, Some(row.id), meta, now).await?;
        gatehouse_store::commit(tx).await?;
        Ok(Authorize::Redirect(redirect))
    }

    /// The client and the request, or (inner `Err`) the error redirect for a request whose
    /// client and redirect URI are good but whose other parameters are not.
    async fn read_request(
        &self,
        plan: &Plan,
        params: &Params,
        meta: &RequestMeta,
    ) -> Result<Result<(OidcClient, AuthorizationRequest), String>, AuthorizeError> {
        let (client_id, redirect_uri) = oauth::client_and_redirect(params)?;
        let client = self.oidc_client(plan.id(), &client_id).await?;
        let refusal = match &client {
            None => Some(NoRedirect::UnknownClient),
            Some(c) if !c.registration.matches_redirect(&redirect_uri) => Some(NoRedirect::UnregisteredRedirectUri),
            Some(_) => None,
        };
        if let (Some(why), client) = (refusal, client.as_ref()) {
            // Worth a look: a mistyped configuration, or someone trying to steal a code.
            let now = self.now();
            let mut tx = self.db.begin().await?;
            let e = Event::new("oidc.authorize_refused").outcome(Outcome::Denied).detail(json!({
                "client_id": client.map(|c| c.client_id.clone()).unwrap_or(client_id.chars().take(200).collect()),
                "redirect_uri": redirect_uri.chars().take(300).collect::<String>(),
                "reason": match why { NoRedirect::UnknownClient => "unknown_client", _ => "unregistered_redirect_uri" },
            }));
            audit::record(&mut tx, now, plan.id(), meta, e).await?;
            gatehouse_store::commit(tx).await?;
            return Err(why.into());
        }
        let Some(client) = client else { return Err(NoRedirect::UnknownClient.into()) };
        match AuthorizationRequest::parse(params, &client_id, &redirect_uri) {
            Ok(req) => Ok(Ok((client, req))),
            Err(e) => {
                let issuer = self.plan_url(plan);
                let state = oauth::readable_state(params);
                Ok(Err(oauth::error_response(&redirect_uri, &e, state.as_deref(), &issuer)))
            }
        }
    }

    /// The session, when it is a complete sign-in to this plan with its factors recorded.
    async fn signed(&self, plan: &Plan, session: Option<&SessionInfo>) -> Result<Option<Signed>, Internal> {
        let Some(s) = session.filter(|s| s.is_signed_in_to(plan.id())) else {
            return Ok(None);
        };
        let mut conn = self.db.acquire().await?;
        let row = session_store::get(&mut conn, plan.id(), s.id).await?;
        Ok(row.filter(|r| r.ended_at.is_none()).and_then(|r| match (r.authenticated_at, r.amr) {
            (Some(at), Some(amr)) => Some(Signed { info: s.clone(), authenticated_at: at, amr }),
            _ => None,
        }))
    }

    /// What the request needs next, or (inner `Err`) the error to answer it with.
    async fn next_step(
        &self,
        plan: &Plan,
        client: &OidcClient,
        req: &AuthorizationRequest,
        signed: Option<Signed>,
        fresh: Option<Fresh>,
    ) -> Result<Result<Next, OAuthError>, Internal> {
        let now = self.now();
        let hint_sub = match &req.id_token_hint {
            None => None,
            Some(t) => match self.oidc_verify_hint(plan, t).await {
                Ok(claims) if claims.get("aud").is_some() => {
                    claims.get("sub").and_then(|s| s.as_str()).map(str::to_owned)
                }
                _ => {
                    return Ok(Err(OAuthError::new(
                        ErrorCode::InvalidRequest,
                        "id_token_hint is not an ID token of this provider",
                    )));
                }
            },
        };
        let hint_differs = match (&hint_sub, &signed) {
            (Some(h), Some(s)) => self.subject_if_any(plan.id(), s.info.user_id).await?.as_deref() != Some(h.as_str()),
            _ => false,
        };
        // The fresh sign-in this request asked for has happened: it answers `prompt=login`,
        // `max_age` (however small: the seconds it took are not the person's fault) and the
        // hint, and is never asked for again.
        let fresh_met = |s: &Signed| fresh.is_some_and(|f| f.met_by(s));
        let login = match &signed {
            // With `prompt=login` the sign-in that follows is the fresh one asked for: kept as
            // such, so that it satisfies the request when it comes back.
            None => Some(req.prompt.login),
            // A new sign-in was asked for when the request was made: the session must be newer.
            Some(s) if fresh.is_some_and(|f| !f.met_by(s)) => Some(true),
            Some(_) if fresh.is_none() && req.prompt.login => Some(true),
            Some(s) if !fresh_met(s) && req.sign_in_too_old(Timestamp(s.authenticated_at), Timestamp(now)) => {
                Some(true)
            }
            // Signed in afresh as someone other than the application named: an answer, not another
            // round of signing in (OpenID Connect Core 3.1.2.1, `id_token_hint`).
            Some(s) if hint_differs && fresh_met(s) => {
                return Ok(Err(OAuthError::new(
                    ErrorCode::LoginRequired,
                    "the person signed in is not the one hinted",
                )));
            }
            Some(_) if hint_differs => Some(true),
            Some(_) => None,
        };
        if let Some(fresh) = login {
            if req.prompt.none {
                return Ok(Err(OAuthError::new(ErrorCode::LoginRequired, "the person must sign in")));
            }
            return Ok(Ok(Next::SignIn { fresh }));
        }
        let Some(signed) = signed else { return Ok(Ok(Next::SignIn { fresh: false })) };
        let staff = self.staff_grant(plan, Some(&signed.info)).await.is_ok();
        let affiliated = self.has_affiliation(plan, &signed.info).await.map_err(|e| Internal::Other(e.to_string()))?;
        if !affiliated && !staff {
            if req.prompt.none {
                return Ok(Err(OAuthError::new(
                    ErrorCode::InteractionRequired,
                    "the account must first be linked to a practice",
                )));
            }
            return Ok(Ok(Next::Associate));
        }
        if !client.registration.first_party {
            let scopes = granted_scopes(req, client);
            let mut conn = self.db.acquire().await?;
            let given = consents::covers(&mut conn, plan.id(), signed.info.user_id, client.id.0, &scopes).await?;
            if !given || req.prompt.consent {
                if req.prompt.none {
                    return Ok(Err(OAuthError::new(
                        ErrorCode::ConsentRequired,
                        "the person has not allowed this application",
                    )));
                }
                return Ok(Ok(Next::Consent));
            }
        }
        Ok(Ok(Next::Issue(signed)))
    }

    async fn subject_if_any(&self, plan: PlanId, user: UserId) -> Result<Option<String>, Internal> {
        let mut conn = self.db.acquire().await?;
        Ok(store::subject_of(&mut conn, plan, user).await?)
    }

    fn detour(&self, next: Next, pending: PendingToken, req: &AuthorizationRequest) -> Authorize {
        match next {
            Next::SignIn { fresh } => Authorize::SignIn { pending, login_hint: req.login_hint.clone(), fresh },
            Next::Associate => Authorize::Associate { pending },
            Next::Consent | Next::Issue(_) => Authorize::Consent { pending },
        }
    }

    fn error_redirect(&self, plan: &Plan, req: &AuthorizationRequest, e: &OAuthError) -> String {
        oauth::error_response(&req.redirect_uri, e, req.state.as_deref(), &self.plan_url(plan))
    }

    async fn keep_pending(
        &self,
        plan: &Plan,
        client: &OidcClient,
        params: &Params,
        req: &AuthorizationRequest,
        fresh: bool,
        stale_session: Option<SessionId>,
    ) -> Result<PendingToken, AuthorizeError> {
        let token = new_token();
        let stored = Stored { params: params.authorization_pairs(), fresh, stale_session };
        let text = serde_json::to_string(&stored).map_err(|e| Internal::Other(e.to_string()))?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        // Requests nobody came back for are swept as new ones come, a few at a time.
        store::sweep_expired_pending(&mut tx, now, 20).await?;
        store::insert_pending(
            &mut tx,
            plan.id(),
            client.id.0,
            &hash_token(&token),
            &text,
            now,
            now + PENDING_LIFETIME.as_secs(),
        )
        .await?;
        gatehouse_store::commit(tx).await?;
        Ok(PendingToken::new(&token, req))
    }

    async fn load_pending(
        &self,
        plan: &Plan,
        pending: &str,
        meta: &RequestMeta,
    ) -> Result<(PendingRow, Stored, OidcClient, AuthorizationRequest), AuthorizeError> {
        if pending.is_empty() || pending.len() > 100 {
            return Err(AuthorizeError::NoPending);
        }
        let row = {
            let mut conn = self.db.acquire().await?;
            store::pending(&mut conn, plan.id(), &hash_token(pending), self.now()).await?
        };
        let row = row.ok_or(AuthorizeError::NoPending)?;
        let stored: Stored = serde_json::from_str(&row.parameters)
            .map_err(|e| Internal::Other(format!("pending request {}: {e}", row.id)))?;
        let params = Params::from_pairs(stored.params.iter().cloned());
        // Read again as when it came: a client revoked or a URI removed since stops it here.
        match self.read_request(plan, &params, meta).await? {
            Ok((client, req)) if client.id.0 == row.application_id => Ok((row, stored, client, req)),
            _ => Err(AuthorizeError::NoPending),
        }
    }

    async fn spend_pending(&self, id: i64, session: Option<SessionId>) -> Result<(), Internal> {
        let mut tx = self.db.begin().await?;
        store::use_pending(&mut tx, id, session, self.now()).await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }

    async fn issue_code(
        &self,
        plan: &Plan,
        client: &OidcClient,
        req: &AuthorizationRequest,
        signed: &Signed,
        pending: Option<i64>,
        meta: &RequestMeta,
    ) -> Result<Authorize, AuthorizeError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let redirect = self.code_in(&mut tx, plan, client, req, signed, pending, meta, now).await?;
        gatehouse_store::commit(tx).await?;
        Ok(Authorize::Redirect(redirect))
    }

    /// Makes the code in the caller's transaction (using the waiting request once) and returns
    /// the redirect that carries it.
    #[allow(clippy::too_many_arguments)]
    async fn code_in(
        &self,
        tx: &mut Conn,
        plan: &Plan,
        client: &OidcClient,
        req: &AuthorizationRequest,
        signed: &Signed,
        pending: Option<i64>,
        meta: &RequestMeta,
        now: i64,
    ) -> Result<String, AuthorizeError> {
        if let Some(id) = pending
            && !store::use_pending(tx, id, Some(signed.info.id), now).await?
        {
            return Err(AuthorizeError::NoPending);
        }
        let user = signed.info.user_id;
        subject(tx, plan.id(), user, now).await?;
        let scopes = granted_scopes(req, client);
        let code = new_token();
        let new = NewCode {
            plan_id: plan.id(),
            application_id: client.id.0,
            session_id: signed.info.id,
            user_id: user,
            code_hash: &hash_token(&code),
            redirect_uri: &req.redirect_uri,
            code_challenge: req.code_challenge.as_str(),
            nonce: req.nonce.as_deref(),
            scopes: &scopes.canonical(),
            auth_time: signed.authenticated_at,
            amr: &signed.amr,
            expires_at: now + CODE_LIFETIME.as_secs(),
        };
        let id = store::insert_code(tx, &new, now).await?;
        let e = Event::new("oidc.authorized")
            .by_self(user)
            .detail(json!({"client_id": client.client_id, "scopes": scopes.canonical(), "grant": id, "session": signed.info.id}));
        audit::record(tx, now, plan.id(), meta, e).await?;
        Ok(oauth::code_response(&req.redirect_uri, &code, req.state.as_deref(), &self.plan_url(plan)))
    }
}
