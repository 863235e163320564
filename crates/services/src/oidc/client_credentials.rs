//! An application's own access token (RFC 6749 4.4, client credentials grant): a confidential
//! application of the plan asks it at the token endpoint and presents it to the permission check
//! API instead of its secret. The token is a JWT signed with the plan's key, for the permission
//! check API alone (`aud`), marked as an application's ([`KIND_CLAIM`]) so that it never passes
//! where a person's token is expected, nor a person's token here. Each use checks that the
//! application is still registered and not revoked.

use super::token::{TokenError, Tokens};
use crate::applications::AppCaller;
use crate::applications::clients::OidcClient;
use crate::audit::{self, Event};
use crate::plans::Plan;
use crate::tokens::new_token;
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::client_registration::ClientType;
use gatehouse_domain::oauth::{ACCESS_TOKEN_LIFETIME, APPLICATION_SCOPE, ErrorCode, OAuthError};
use gatehouse_domain::oidc_keys::SigningAlg;
use serde_json::{Value, json};
use thiserror::Error;

/// The claim that marks an application's token, and its value.
pub const KIND_CLAIM: &str = "gh_kind";
/// [`KIND_CLAIM`]'s value in an application's token.
pub const APPLICATION_KIND: &str = "application";
/// The claim holding the application's id (checked with its client id at every use).
const APP_CLAIM: &str = "gh_app";

/// Why an application's bearer token was refused.
#[derive(Debug, Error)]
pub enum AppTokenError {
    /// Not an application token of this plan for the permission check API, expired, or its
    /// application is revoked (one answer for every cause).
    #[error("The access token is not valid.")]
    InvalidToken,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl Services {
    /// The `aud` of an application's token: the plan's permission check API.
    pub fn authz_audience(&self, plan: &Plan) -> String {
        format!("{}/api/v1", self.plan_url(plan))
    }

    /// Issues an application's own access token to an authenticated client (confidential
    /// only: a public client holds no secret to prove that it is the application). Audited.
    pub(crate) async fn client_credentials_token(
        &self,
        plan: &Plan,
        client: &OidcClient,
        meta: &RequestMeta,
    ) -> Result<Tokens, TokenError> {
        if client.registration.client_type != ClientType::Confidential {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "only a confidential client may use the client credentials grant",
            )
            .into());
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let e = Event::new("oidc.token_issued").detail(json!({
            "client_id": client.client_id,
            "application_id": client.id.0,
            "grant_type": "client_credentials",
            "scopes": APPLICATION_SCOPE,
        }));
        audit::record(&mut tx, now, plan.id(), meta, e).await?;
        gatehouse_store::commit(tx).await?;
        let claims = json!({
            "sub": client.client_id,
            "aud": self.authz_audience(plan),
            "client_id": client.client_id,
            "scope": APPLICATION_SCOPE,
            "iat": now,
            "exp": now + ACCESS_TOKEN_LIFETIME.as_secs(),
            "jti": new_token(),
            KIND_CLAIM: APPLICATION_KIND,
            APP_CLAIM: client.id.0,
        });
        let access_token = self
            .oidc_sign_typed(plan, SigningAlg::Es256, &claims, crate::oidc::ACCESS_TOKEN_TYP)
            .await
            .map_err(|e| TokenError::Internal(Internal::Other(format!("signing a token: {e}"))))?;
        Ok(Tokens {
            access_token,
            expires_in: ACCESS_TOKEN_LIFETIME.as_secs(),
            id_token: None,
            refresh_token: None,
            scope: APPLICATION_SCOPE.to_owned(),
        })
    }

    /// Authenticates an application of `plan` by its own access token (the permission check
    /// API's `Authorization: Bearer`): signed by this plan's key, unexpired, for this plan's
    /// permission check API, an application's, and its application live and confidential.
    pub async fn authenticate_application_token(&self, plan: &Plan, token: &str) -> Result<AppCaller, AppTokenError> {
        if token.is_empty() || token.len() > 8_000 {
            return Err(AppTokenError::InvalidToken);
        }
        let claims = self.oidc_verify(plan, token).await.map_err(|e| match e {
            super::OidcError::Internal(i) => AppTokenError::Internal(i),
            _ => AppTokenError::InvalidToken,
        })?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        if text(KIND_CLAIM) != Some(APPLICATION_KIND) || text("aud") != Some(self.authz_audience(plan).as_str()) {
            return Err(AppTokenError::InvalidToken);
        }
        let (Some(client_id), Some(app_id)) = (text("sub"), claims.get(APP_CLAIM).and_then(Value::as_i64)) else {
            return Err(AppTokenError::InvalidToken);
        };
        if text("client_id") != Some(client_id) {
            return Err(AppTokenError::InvalidToken);
        }
        // Live (revoked ones are neither in memory nor read from the database) and the same.
        let client = self.oidc_client(plan.id(), client_id).await?.ok_or(AppTokenError::InvalidToken)?;
        if client.id.0 != app_id || client.registration.client_type != ClientType::Confidential {
            return Err(AppTokenError::InvalidToken);
        }
        Ok(AppCaller { id: client.id.0, plan_id: client.plan_id, name: client.name })
    }
}
