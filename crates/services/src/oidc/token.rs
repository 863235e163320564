//! The token endpoint (RFC 6749 4.1.3 and 6, OIDC Core 3.1.3): a code is redeemed once, by the
//! client it was issued to, with the redirect URI and PKCE verifier of its request; a code
//! presented again is refused and its grant (every token issued from it) revoked. A refresh
//! token is rotated at every use; one presented again after its rotation ends its family and
//! the session. Every refresh checks the session and the account, so a session ended in
//! Gatehouse (sign-out, deactivation, password change, help-desk reset) stops it at once.

use super::ACCESS_TOKEN_TYP;
use super::flow::{ACR, subject};
use crate::applications::clients::{ClientAuthError, OidcClient};
use crate::audit::{self, Event};
use crate::plans::Plan;
use crate::tokens::{hash_token, new_token};
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::audit::Outcome;
use gatehouse_domain::oauth::{
    self, ACCESS_TOKEN_LIFETIME, ClientCredentials, CodeChallenge, ErrorCode, Grant, ID_TOKEN_LIFETIME, OAuthError,
    REFRESH_TOKEN_LIFETIME,
};
use gatehouse_domain::oidc_keys::SigningAlg;
use gatehouse_domain::session::AuthMethods;
use gatehouse_domain::{Timestamp, UserStatus};
use gatehouse_store::oidc_grants::{self as store, CodeRow};
use gatehouse_store::{Conn, sessions as session_store, users};
use serde_json::{Value, json};
use thiserror::Error;

/// A successful token response (RFC 6749 5.1, OIDC Core 3.1.3.3).
#[derive(Clone)]
pub struct Tokens {
    pub access_token: String,
    pub expires_in: i64,
    /// `None` for an application's own token (client credentials grant).
    pub id_token: Option<String>,
    /// `None` for an application's own token (client credentials grant).
    pub refresh_token: Option<String>,
    /// The granted scopes, space-separated.
    pub scope: String,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").field("scope", &self.scope).finish_non_exhaustive()
    }
}

/// Why no tokens were issued: an OAuth error for the client (RFC 6749 5.2), or ours.
#[derive(Debug, Error)]
pub enum TokenError {
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for TokenError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

fn grant_error(description: &str) -> TokenError {
    OAuthError::new(ErrorCode::InvalidGrant, description).into()
}

/// A verdict reached inside a transaction that must be committed (its audit event, a
/// revocation) before the refusal is answered.
enum Verdict {
    Go(CodeRow),
    Refuse(&'static str),
}

impl Services {
    /// Answers a token request from an authenticated client.
    pub async fn oidc_token(
        &self,
        plan: &Plan,
        creds: &ClientCredentials,
        grant: &Grant,
        meta: &RequestMeta,
    ) -> Result<Tokens, TokenError> {
        let client = match self.authenticate_oidc_client(plan.id(), &creds.client_id, creds.secret.as_deref()).await {
            Ok(c) => c,
            Err(ClientAuthError::BadCredentials) => {
                return Err(OAuthError::new(ErrorCode::InvalidClient, "client authentication failed").into());
            }
            Err(ClientAuthError::Internal(e)) => return Err(e.into()),
        };
        if *grant == Grant::ClientCredentials {
            return self.client_credentials_token(plan, &client, meta).await;
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let verdict = match grant {
            Grant::AuthorizationCode { code, redirect_uri, verifier } => {
                self.redeem(&mut tx, plan, &client, code, redirect_uri, verifier, meta, now).await?
            }
            Grant::RefreshToken { refresh_token } => {
                self.rotate(&mut tx, plan, &client, refresh_token, meta, now).await?
            }
            Grant::ClientCredentials => {
                return Err(Internal::Other("client credentials reached the code path".into()).into());
            }
        };
        let row = match verdict {
            Verdict::Go(row) => row,
            Verdict::Refuse(why) => {
                gatehouse_store::commit(tx).await?;
                return Err(grant_error(why));
            }
        };
        let sub = subject(&mut tx, plan.id(), row.user_id, now).await?;
        let refresh_token = new_token();
        store::insert_refresh(
            &mut tx,
            plan.id(),
            row.id,
            &hash_token(&refresh_token),
            now,
            now + REFRESH_TOKEN_LIFETIME.as_secs(),
        )
        .await?;
        let grant_type = match grant {
            Grant::AuthorizationCode { .. } => "authorization_code",
            Grant::RefreshToken { .. } => "refresh_token",
            Grant::ClientCredentials => "client_credentials",
        };
        let e = Event::new("oidc.token_issued").by_self(row.user_id).detail(
            json!({"client_id": client.client_id, "grant": row.id, "grant_type": grant_type, "scopes": row.scopes}),
        );
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        gatehouse_store::commit(tx).await?;
        // Signed after the commit: signing may make the plan's first key in its own transaction.
        let id_alg = SigningAlg::parse(client.registration.id_token_alg.as_str()).unwrap_or(SigningAlg::Es256);
        let id_token = self
            .oidc_sign(plan, id_alg, &id_token_claims(&client, &sub, &self.session_sid(row.session_id), &row, now))
            .await
            .map_err(sign_failed)?;
        let access_token = self
            .oidc_sign_typed(plan, SigningAlg::Es256, &access_token_claims(&client, &sub, &row, now), ACCESS_TOKEN_TYP)
            .await
            .map_err(sign_failed)?;
        Ok(Tokens {
            access_token,
            expires_in: ACCESS_TOKEN_LIFETIME.as_secs(),
            id_token: Some(id_token),
            refresh_token: Some(refresh_token),
            scope: row.scopes,
        })
    }

    /// Redeems a code in `tx`.
    #[allow(clippy::too_many_arguments)]
    async fn redeem(
        &self,
        tx: &mut Conn,
        plan: &Plan,
        client: &OidcClient,
        code: &str,
        redirect_uri: &str,
        verifier: &oauth::CodeVerifier,
        meta: &RequestMeta,
        now: i64,
    ) -> Result<Verdict, TokenError> {
        let Some(row) = store::code_by_hash(tx, plan.id(), &hash_token(code)).await? else {
            return Ok(Verdict::Refuse("the code is not valid"));
        };
        let refuse = |reason: &'static str| {
            Event::new("oidc.code_refused")
                .on(row.user_id)
                .outcome(Outcome::Denied)
                .detail(json!({"client_id": client.client_id, "grant": row.id, "reason": reason}))
        };
        if row.application_id != client.id.0 {
            audit::record(tx, now, plan.id(), meta, refuse("another_client")).await?;
            return Ok(Verdict::Refuse("the code was not issued to this client"));
        }
        let fresh = row.used_at.is_none() && row.revoked_at.is_none();
        if fresh && !oauth::still_good(Timestamp(row.expires_at), Timestamp(now)) {
            return Ok(Verdict::Refuse("the code has expired"));
        }
        if row.redirect_uri != redirect_uri {
            audit::record(tx, now, plan.id(), meta, refuse("redirect_uri")).await?;
            return Ok(Verdict::Refuse("redirect_uri differs from the authorization request's"));
        }
        if !CodeChallenge::from_stored(&row.code_challenge).is_met_by(verifier) {
            audit::record(tx, now, plan.id(), meta, refuse("code_verifier")).await?;
            return Ok(Verdict::Refuse("code_verifier does not match the code_challenge"));
        }
        // The one statement that decides who redeems it, whatever runs at the same moment.
        if !store::redeem_code(tx, row.id, now).await? {
            let revoked = store::revoke_grant(tx, row.id, now).await?;
            let e = Event::new("oidc.code_reuse_detected")
                .on(row.user_id)
                .outcome(Outcome::Denied)
                .detail(json!({"client_id": client.client_id, "grant": row.id, "refresh_tokens_revoked": revoked}));
            audit::record(tx, now, plan.id(), meta, e).await?;
            return Ok(Verdict::Refuse("the code was already used; the tokens issued from it are revoked"));
        }
        if !self.session_and_account_live(tx, plan, &row, now, false).await? {
            store::revoke_grant(tx, row.id, now).await?;
            return Ok(Verdict::Refuse("the sign-in this code came from has ended"));
        }
        Ok(Verdict::Go(row))
    }

    /// Rotates a refresh token in `tx`.
    async fn rotate(
        &self,
        tx: &mut Conn,
        plan: &Plan,
        client: &OidcClient,
        token: &str,
        meta: &RequestMeta,
        now: i64,
    ) -> Result<Verdict, TokenError> {
        let Some(rt) = store::refresh_by_hash(tx, plan.id(), &hash_token(token)).await? else {
            return Ok(Verdict::Refuse("the refresh token is not valid"));
        };
        let Some(row) = store::grant(tx, plan.id(), rt.code_id).await? else {
            return Ok(Verdict::Refuse("the refresh token is not valid"));
        };
        if row.application_id != client.id.0 {
            return Ok(Verdict::Refuse("the refresh token was not issued to this client"));
        }
        if rt.revoked_at.is_some() || row.revoked_at.is_some() {
            return Ok(Verdict::Refuse("the refresh token was revoked"));
        }
        // An expired token is refused before it is used up: presented again (a client's retry),
        // it is still only expired, not a copy in other hands.
        if !oauth::still_good(Timestamp(rt.expires_at), Timestamp(now)) {
            return Ok(Verdict::Refuse("the refresh token has expired"));
        }
        // Rotated already (or a moment ago by a concurrent request): a copy is in other hands.
        if rt.rotated_at.is_some() || !store::rotate_refresh(tx, rt.id, now).await? {
            let revoked = store::revoke_grant(tx, row.id, now).await?;
            let ended = session_store::end(tx, row.user_id, row.session_id, now).await?;
            let e = Event::new("oidc.refresh_reuse_detected").on(row.user_id).outcome(Outcome::Denied).detail(json!({
                "client_id": client.client_id, "grant": row.id, "refresh_tokens_revoked": revoked,
                "session": row.session_id, "session_ended": ended,
            }));
            audit::record(tx, now, plan.id(), meta, e).await?;
            return Ok(Verdict::Refuse("the refresh token was already used; its sign-in has ended"));
        }
        if !self.session_and_account_live(tx, plan, &row, now, true).await? {
            store::revoke_grant(tx, row.id, now).await?;
            return Ok(Verdict::Refuse("the sign-in this refresh token came from has ended"));
        }
        Ok(Verdict::Go(row))
    }

    /// Whether the grant's session is live (within the plan's timeouts when `timeouts`) and its
    /// account active; a live session is marked used (the application's use is the person's).
    pub(crate) async fn session_and_account_live(
        &self,
        conn: &mut Conn,
        plan: &Plan,
        row: &CodeRow,
        now: i64,
        timeouts: bool,
    ) -> Result<bool, Internal> {
        let Some(s) = session_store::get(conn, plan.id(), row.session_id).await?.filter(|s| s.ended_at.is_none())
        else {
            return Ok(false);
        };
        if timeouts
            && !plan.session_policy().is_alive(Timestamp(s.created_at), Timestamp(s.last_seen_at), Timestamp(now))
        {
            return Ok(false);
        }
        let active = users::get(conn, plan.id(), row.user_id).await?.is_some_and(|u| u.status == UserStatus::Active);
        if active && timeouts {
            session_store::touch(conn, s.id, now).await?;
        }
        Ok(active)
    }
}

fn sign_failed(e: crate::oidc::OidcError) -> TokenError {
    TokenError::Internal(Internal::Other(format!("signing a token: {e}")))
}

/// The `amr` claim: the methods, and `mfa` when there were several (RFC 8176).
fn amr_claim(stored: &str) -> Value {
    let Some(m) = AuthMethods::parse(stored) else { return json!([]) };
    let mut names: Vec<&str> = m.names().to_vec();
    if m.is_multi_factor() {
        names.push("mfa");
    }
    json!(names)
}

/// The ID token's claims (OIDC Core 2); `iss` is set by the signer.
fn id_token_claims(client: &OidcClient, sub: &str, sid: &str, row: &CodeRow, now: i64) -> Value {
    let mut c = json!({
        "sub": sub,
        "aud": client.client_id,
        "azp": client.client_id,
        "iat": now,
        "exp": now + ID_TOKEN_LIFETIME.as_secs(),
        "auth_time": row.auth_time,
        "amr": amr_claim(&row.amr),
        "acr": ACR,
        "sid": sid,
    });
    if let Some(n) = &row.nonce {
        c["nonce"] = json!(n);
    }
    c
}

/// The access token's claims (after RFC 9068): whose, for which client, which scopes, and the
/// grant it descends from (checked at every use, so a revoked grant's tokens stop at once).
fn access_token_claims(client: &OidcClient, sub: &str, row: &CodeRow, now: i64) -> Value {
    json!({
        "sub": sub,
        "aud": client.client_id,
        "client_id": client.client_id,
        "scope": row.scopes,
        "iat": now,
        "exp": now + ACCESS_TOKEN_LIFETIME.as_secs(),
        "jti": new_token(),
        "gh_grant": row.id,
    })
}
