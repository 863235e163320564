//! Introspection (RFC 7662) and revocation (RFC 7009) of the flow's tokens, by the client they
//! were issued to: another client's token reads as inactive and is left alone.

use super::token::TokenError;
use crate::applications::clients::{ClientAuthError, OidcClient};
use crate::audit::{self, Event};
use crate::plans::Plan;
use crate::tokens::hash_token;
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::Timestamp;
use gatehouse_domain::oauth::{self, ClientCredentials, ErrorCode, OAuthError};
use gatehouse_store::oidc_grants::{self as store, CodeRow};
use serde_json::{Value, json};

/// What a presented token turned out to be.
enum Found {
    /// An access token (JWT) and its claims.
    Access(CodeRow, Value),
    /// A live refresh token, and when it expires.
    Refresh(CodeRow, i64),
}

impl Services {
    async fn client_of(&self, plan: &Plan, creds: &ClientCredentials) -> Result<OidcClient, TokenError> {
        match self.authenticate_oidc_client(plan.id(), &creds.client_id, creds.secret.as_deref()).await {
            Ok(c) => Ok(c),
            Err(ClientAuthError::BadCredentials) => {
                Err(OAuthError::new(ErrorCode::InvalidClient, "client authentication failed").into())
            }
            Err(ClientAuthError::Internal(e)) => Err(e.into()),
        }
    }

    /// The grant of a token issued to `client`, if the token is one of this plan's.
    async fn find(&self, plan: &Plan, client: &OidcClient, token: &str) -> Result<Option<Found>, Internal> {
        if token.is_empty() || token.len() > 8_000 {
            return Ok(None);
        }
        let mut conn = self.db.acquire().await?;
        if token.matches('.').count() == 2 {
            let Ok(claims) = self.oidc_verify(plan, token).await else { return Ok(None) };
            let Some(id) = claims.get("gh_grant").and_then(Value::as_i64) else { return Ok(None) };
            let grant = store::grant(&mut conn, plan.id(), id).await?;
            return Ok(grant.filter(|g| g.application_id == client.id.0).map(|g| Found::Access(g, claims)));
        }
        let Some(rt) = store::refresh_by_hash(&mut conn, plan.id(), &hash_token(token)).await? else { return Ok(None) };
        if rt.rotated_at.is_some() || rt.revoked_at.is_some() {
            return Ok(None);
        }
        let grant = store::grant(&mut conn, plan.id(), rt.code_id).await?;
        Ok(grant.filter(|g| g.application_id == client.id.0).map(|g| Found::Refresh(g, rt.expires_at)))
    }

    /// RFC 7662: whether a token is active, and what it is for.
    pub async fn oidc_introspect(
        &self,
        plan: &Plan,
        creds: &ClientCredentials,
        token: &str,
    ) -> Result<Value, TokenError> {
        let client = self.client_of(plan, creds).await?;
        let now = self.now();
        let (grant, kind, exp) = match self.find(plan, &client, token).await? {
            Some(Found::Access(g, claims)) => {
                let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
                (g, "access_token", exp)
            }
            Some(Found::Refresh(g, exp)) => (g, "refresh_token", exp),
            None => return Ok(json!({"active": false})),
        };
        let mut conn = self.db.acquire().await?;
        let live = grant.revoked_at.is_none()
            && oauth::still_good(Timestamp(exp), Timestamp(now))
            && self.session_and_account_live(&mut conn, plan, &grant, now, false).await?;
        let sub = store::subject_of(&mut conn, plan.id(), grant.user_id).await?;
        match (live, sub) {
            (true, Some(sub)) => Ok(json!({
                "active": true,
                "token_type": if kind == "access_token" { "Bearer" } else { "refresh_token" },
                "client_id": client.client_id,
                "scope": grant.scopes,
                "sub": sub,
                "exp": exp,
                "auth_time": grant.auth_time,
                "iss": self.plan_url(plan),
            })),
            _ => Ok(json!({"active": false})),
        }
    }

    /// RFC 7009: revokes the token's grant (the refresh token family and its access tokens).
    /// Answered the same whether or not the token was known.
    pub async fn oidc_revoke(
        &self,
        plan: &Plan,
        creds: &ClientCredentials,
        token: &str,
        meta: &RequestMeta,
    ) -> Result<(), TokenError> {
        let client = self.client_of(plan, creds).await?;
        let grant = match self.find(plan, &client, token).await? {
            Some(Found::Access(g, _) | Found::Refresh(g, _)) => g,
            None => return Ok(()),
        };
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let revoked = store::revoke_grant(&mut tx, grant.id, now).await?;
        let e = Event::new("oidc.token_revoked")
            .on(grant.user_id)
            .detail(json!({"client_id": client.client_id, "grant": grant.id, "refresh_tokens_revoked": revoked}));
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        gatehouse_store::commit(tx).await?;
        Ok(())
    }
}
