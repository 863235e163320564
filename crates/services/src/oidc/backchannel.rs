//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0). A session's `sid` is an opaque
//! keyed hash of its id, put in every ID token of the session; when the session ends, by any
//! path, a trigger queues a notice for every application with a back-channel logout URI that was
//! given a code in it (migration 0035). [`Services::deliver_logout_notices`] runs in the delivery
//! worker after commit: it signs a logout token per notice and posts it, retrying with the
//! outbox's backoff and giving up after [`LOGOUT_NOTICE_ATTEMPTS`].

use crate::delivery::backoff_secs;
use crate::tokens::{hash_code, new_token};
use crate::{Internal, Services};
use gatehouse_domain::client_registration::LogoutDestinations;
use gatehouse_domain::oauth::{LOGOUT_NOTICE_ATTEMPTS, logout_token_claims};
use gatehouse_domain::oidc_keys::SigningAlg;
use gatehouse_domain::public_address::{is_private_url, is_public_ip};
use gatehouse_domain::{SessionId, Timestamp};
use gatehouse_store::logout_notices::{self as store, NoticeRow};
use gatehouse_store::{Batch, oidc_grants};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long a claimed notice is held before another worker may try it.
const LEASE_SECS: i64 = 60;
/// Notices claimed in one pass.
const BATCH: i64 = 20;

/// What became of one notice's attempt.
enum Attempt {
    Delivered,
    Failed(String),
    /// Nothing to send any more (the URI removed, the application revoked, no `sub`).
    Pointless(&'static str),
}

/// Resolves names to their public addresses only: a name that resolves to this server or its
/// network (an application's DNS changed after it registered, or a name made to point there)
/// is not connected to. Used for back-channel logout when only public destinations are allowed.
#[derive(Debug, Default)]
pub struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|a| is_public_ip(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// The HTTP client that posts logout tokens: no redirects followed, and, unless any destination
/// is allowed, names resolved to public addresses only.
pub(crate) fn logout_client(to: LogoutDestinations) -> reqwest::Result<reqwest::Client> {
    let b = reqwest::Client::builder().timeout(Duration::from_secs(10)).redirect(reqwest::redirect::Policy::none());
    match to {
        LogoutDestinations::Public => b.dns_resolver(Arc::new(PublicOnlyResolver)).build(),
        LogoutDestinations::Any => b.build(),
    }
}

impl Services {
    /// The `sid` claim of a session: stable for the session, meaningless outside Gatehouse.
    pub(crate) fn session_sid(&self, session_id: SessionId) -> String {
        let mac = hash_code(&self.code_key, "oidc:sid", &session_id.to_string());
        mac.get(..32).unwrap_or(&mac).to_owned()
    }

    /// One pass of back-channel logout: claims due notices, posts their logout tokens with
    /// `http`, records the outcomes. Returns how many were attempted.
    pub(crate) async fn deliver_logout_notices(&self, http: &reqwest::Client) -> Result<usize, Internal> {
        let now = self.now();
        if !store::any_due(&mut *self.db.acquire().await?, now).await? {
            return Ok(0);
        }
        let batch = {
            let mut tx = self.db.begin().await?;
            let b = store::claim_due(&mut tx, now, LEASE_SECS, BATCH).await?;
            gatehouse_store::commit(tx).await?;
            b
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let mut outcomes = Vec::with_capacity(batch.len());
        for n in &batch {
            outcomes.push(self.attempt_logout_notice(http, n).await);
        }
        // The outcomes are recorded together, in one write transaction (one command to SQLite).
        let now = self.now();
        let mut record = Batch::new();
        for (n, outcome) in batch.iter().zip(outcomes) {
            record.push(match outcome {
                Ok(Attempt::Delivered) => store::mark_delivered_stmt(n.id, now),
                Ok(Attempt::Pointless(why)) => store::abandon_stmt(n.id, why.to_owned(), now),
                Ok(Attempt::Failed(e)) if n.attempts >= LOGOUT_NOTICE_ATTEMPTS => {
                    tracing::warn!(notice = n.id, client_id = %n.client_id, error = %e, "back-channel logout given up");
                    store::abandon_stmt(n.id, e, now)
                }
                Ok(Attempt::Failed(e)) => {
                    tracing::warn!(notice = n.id, client_id = %n.client_id, attempts = n.attempts, error = %e, "back-channel logout failed; will retry");
                    store::mark_failed_stmt(n.id, e, now + backoff_secs(n.attempts - 1))
                }
                Err(e) => {
                    tracing::warn!(notice = n.id, error = %e, "back-channel logout could not be prepared; will retry");
                    store::mark_failed_stmt(n.id, e.to_string(), now + backoff_secs(n.attempts - 1))
                }
            });
        }
        self.db.write(record).await?;
        Ok(batch.len())
    }

    async fn attempt_logout_notice(&self, http: &reqwest::Client, n: &NoticeRow) -> Result<Attempt, Internal> {
        let Some(uri) = &n.backchannel_logout_uri else {
            return Ok(Attempt::Pointless("the application no longer takes back-channel logout"));
        };
        // Registered before the rule, or allowed then: an address literal is never resolved,
        // so it is checked here.
        if self.config.logout_destinations == LogoutDestinations::Public && is_private_url(uri) {
            return Ok(Attempt::Pointless("the address is on a private network"));
        }
        let Some(plan) = self.plan(n.plan_id).await? else {
            return Ok(Attempt::Pointless("the plan is gone"));
        };
        let sub = {
            let mut conn = self.db.acquire().await?;
            oidc_grants::subject_of(&mut conn, n.plan_id, n.user_id).await?
        };
        let Some(sub) = sub else { return Ok(Attempt::Pointless("the user has no subject")) };
        let alg = SigningAlg::parse(&n.id_token_alg).unwrap_or(SigningAlg::Es256);
        let claims = logout_token_claims(
            &n.client_id,
            &sub,
            &self.session_sid(n.session_id),
            &new_token(),
            Timestamp(self.now()),
        );
        let token = self
            .oidc_sign_typed(&plan, alg, &claims, "logout+jwt")
            .await
            .map_err(|e| Internal::Other(format!("signing a logout token: {e}")))?;
        let sent =
            http.post(uri).form(&[("logout_token", token.as_str())]).timeout(Duration::from_secs(10)).send().await;
        Ok(match sent {
            // 200 and 204 are the spec's answers; any success will do.
            Ok(r) if r.status().is_success() => Attempt::Delivered,
            Ok(r) => Attempt::Failed(format!("the application answered {}", r.status())),
            Err(e) => Attempt::Failed(format!("posting the logout token: {e}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use reqwest::dns::Resolve;

    #[tokio::test]
    async fn a_name_that_resolves_only_to_this_machine_is_not_connected_to() {
        let resolver = super::PublicOnlyResolver;
        let e = resolver.resolve("localhost".parse().unwrap()).await.err().expect("refused");
        assert!(e.to_string().contains("no public address"), "{e}");
    }

    #[test]
    fn a_notice_is_retried_for_two_hours_before_it_is_given_up() {
        let total: i64 = (0..super::LOGOUT_NOTICE_ATTEMPTS - 1).map(crate::delivery::backoff_secs).sum();
        assert!(total >= 2 * 3600, "{total}");
    }
}
