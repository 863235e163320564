//! The OpenID Connect flows' view of an application: find a plan's client by its client id and
//! authenticate it (`client_secret_basic`, `client_secret_post`, or none for a public client).
//! Read from the instance's in-memory copy; a client id it does not hold (registered on another
//! instance less than a second ago) is read from the database.

use crate::tokens::{hash_token, same};
use crate::{Internal, Services};
use gatehouse_domain::client_registration::{ClientType, Registration};
use gatehouse_domain::{ApplicationId, PlanId};
use gatehouse_store::applications;
use thiserror::Error;

/// A live application as the authorization, token and logout endpoints need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcClient {
    pub id: ApplicationId,
    pub plan_id: PlanId,
    pub client_id: String,
    pub name: String,
    pub registration: Registration,
}

/// Why a client was not authenticated. One answer for every cause, so a caller learns nothing
/// about which client ids exist.
#[derive(Debug, Error)]
pub enum ClientAuthError {
    /// Unknown or revoked client, another plan's, wrong or missing secret, or a secret
    /// presented by a public client.
    #[error("Unknown client or wrong credentials.")]
    BadCredentials,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl Services {
    /// The plan's live client with this client id (another plan's reads as none).
    pub async fn oidc_client(&self, plan: PlanId, client_id: &str) -> Result<Option<OidcClient>, Internal> {
        Ok(self.oidc_client_and_hash(plan, client_id).await?.map(|(c, _)| c))
    }

    /// Authenticates a client of `plan` at the token endpoint: a confidential client by its
    /// secret (from HTTP Basic or the form body: the caller extracts it), compared in constant
    /// time; a public client by presenting no secret.
    pub async fn authenticate_oidc_client(
        &self,
        plan: PlanId,
        client_id: &str,
        secret: Option<&str>,
    ) -> Result<OidcClient, ClientAuthError> {
        // Hash before looking up, so an unknown client id costs the same as a wrong secret.
        let presented = secret.map(hash_token);
        let Some((client, stored)) = self.oidc_client_and_hash(plan, client_id).await? else {
            return Err(ClientAuthError::BadCredentials);
        };
        let ok = match (client.registration.client_type, presented) {
            (ClientType::Confidential, Some(p)) => !stored.is_empty() && same(&p, &stored),
            (ClientType::Public, None) => true,
            _ => false,
        };
        if ok { Ok(client) } else { Err(ClientAuthError::BadCredentials) }
    }

    async fn oidc_client_and_hash(
        &self,
        plan: PlanId,
        client_id: &str,
    ) -> Result<Option<(OidcClient, String)>, Internal> {
        let cached = {
            let apps =
                self.access.apps.read().map_err(|_| Internal::Other("application cache lock poisoned".into()))?;
            apps.get(client_id).map(|a| {
                let c = OidcClient {
                    id: ApplicationId(a.id),
                    plan_id: a.plan_id,
                    client_id: client_id.to_owned(),
                    name: a.name.clone(),
                    registration: a.registration.clone(),
                };
                (c, a.secret_hash.clone())
            })
        };
        if let Some((c, hash)) = cached {
            return Ok((c.plan_id == plan).then_some((c, hash)));
        }
        let mut conn = self.db.acquire().await?;
        let row = applications::active_by_client_id(&mut conn, plan, client_id).await?;
        Ok(row.map(|a| {
            let c = OidcClient {
                id: ApplicationId(a.id),
                plan_id: a.plan_id,
                client_id: a.client_id,
                name: a.name,
                registration: a.registration,
            };
            (c, a.secret_hash)
        }))
    }
}
