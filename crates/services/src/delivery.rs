//! Delivering the outbox after commit: email over SMTP (lettre), texts and voice calls through an
//! SMS provider's HTTP API (reqwest), or, in development, nowhere (the messages stay readable on
//! the development outbox page). Delivery is at least once: a message is claimed for a lease,
//! sent, then marked delivered; a failure is retried with exponential backoff.

use crate::{Internal, Services};
use gatehouse_store::outbox::{self, MessageRow};
use lettre::message::{MultiPart, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Where messages go.
#[derive(Debug, Clone, Default)]
pub struct DeliveryConfig {
    /// `smtp://user:pass@host:port` or `smtps://…`; without it email stays in the dev outbox.
    pub smtp_url: Option<String>,
    /// The From address for email.
    pub mail_from: String,
    /// The SMS provider's endpoint; without it texts and calls stay in the dev outbox.
    pub sms_url: Option<String>,
    /// Bearer token for the SMS provider.
    pub sms_token: Option<String>,
}

impl DeliveryConfig {
    /// Whether any message stays in the development outbox (so the page is served).
    pub fn dev_outbox(&self) -> bool {
        self.smtp_url.is_none() || self.sms_url.is_none()
    }
}

/// The delivery worker.
#[derive(Clone)]
pub struct Deliverer {
    services: Services,
    config: Arc<DeliveryConfig>,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    http: reqwest::Client,
    wake: Arc<Notify>,
}

/// The wait after the `n + 1`-th failed attempt: 15 s, doubling, capped at an hour.
pub fn backoff_secs(attempts: i64) -> i64 {
    let exp = attempts.clamp(0, 12) as u32;
    (15i64 << exp).min(3600)
}

impl Deliverer {
    /// Builds the worker; fails on a malformed SMTP URL.
    pub fn new(services: Services, config: DeliveryConfig) -> Result<Self, Internal> {
        let smtp = match &config.smtp_url {
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| Internal::Other(format!("invalid SMTP URL: {e}")))?
                    .build(),
            ),
            None => None,
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| Internal::Other(format!("HTTP client: {e}")))?;
        Ok(Self { services, config: Arc::new(config), smtp, http, wake: Arc::new(Notify::new()) })
    }

    /// A handle that wakes the worker when a message was just committed.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Runs forever: a pass whenever woken, and at least every second.
    pub async fn run(self) {
        loop {
            match self.deliver_due().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox delivery pass failed"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// One pass: claims due messages and delivers them. Returns how many were attempted.
    pub async fn deliver_due(&self) -> Result<usize, Internal> {
        let now = self.services.now();
        let batch = {
            let mut tx = self.services.db.begin().await?;
            let b = outbox::claim_due(&mut tx, now, 120, 20).await?;
            gatehouse_store::commit(tx).await?;
            b
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let mut results = Vec::with_capacity(batch.len());
        for m in &batch {
            results.push(self.send(m).await);
        }
        // The outcomes are recorded together, in one write transaction.
        let now = self.services.now();
        let mut tx = self.services.db.begin().await?;
        for (m, result) in batch.iter().zip(results) {
            match result {
                Ok(()) => outbox::mark_delivered(&mut tx, m.id, now).await?,
                Err(e) => {
                    tracing::warn!(message_id = m.id, kind = %m.kind, attempts = m.attempts, error = %e, "delivery failed; will retry");
                    outbox::mark_failed(&mut tx, m.id, &e, now + backoff_secs(m.attempts - 1)).await?;
                }
            }
        }
        gatehouse_store::commit(tx).await?;
        Ok(batch.len())
    }

    async fn send(&self, m: &MessageRow) -> Result<(), String> {
        match m.channel.as_str() {
            "email" => match &self.smtp {
                None => Ok(()), // development outbox: the row itself is the delivery
                Some(smtp) => {
                    let body = if m.body_html.is_empty() {
                        MultiPart::alternative().singlepart(
                            lettre::message::SinglePart::builder()
                                .header(ContentType::TEXT_PLAIN)
                                .body(m.body_text.clone()),
                        )
                    } else {
                        MultiPart::alternative_plain_html(m.body_text.clone(), m.body_html.clone())
                    };
                    let email = lettre::Message::builder()
                        .from(self.config.mail_from.parse().map_err(|e| format!("From address: {e}"))?)
                        .to(m.recipient.parse().map_err(|e| format!("recipient: {e}"))?)
                        .subject(m.subject.clone())
                        .multipart(body)
                        .map_err(|e| format!("building email: {e}"))?;
                    smtp.send(email).await.map(|_| ()).map_err(|e| format!("SMTP: {e}"))
                }
            },
            "sms" | "voice" => match &self.config.sms_url {
                None => Ok(()),
                Some(url) => {
                    let mut req = self.http.post(url).json(&serde_json::json!({
                        "to": m.recipient,
                        "channel": m.channel,
                        "body": m.body_text,
                        "idempotency_key": format!("gatehouse-outbox-{}", m.id),
                    }));
                    if let Some(t) = &self.config.sms_token {
                        req = req.bearer_auth(t);
                    }
                    let resp = req.send().await.map_err(|e| format!("SMS provider: {e}"))?;
                    if resp.status().is_success() {
                        Ok(())
                    } else {
                        Err(format!("SMS provider answered {}", resp.status()))
                    }
                }
            },
            other => Err(format!("unknown channel {other}")),
        }
    }
}

impl Services {
    /// A plan's newest outbox messages, for the development outbox page.
    pub async fn recent_outbox(&self, plan: gatehouse_domain::PlanId, limit: i64) -> Result<Vec<MessageRow>, Internal> {
        let mut conn = self.db.acquire().await?;
        Ok(outbox::recent(&mut conn, plan, limit).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff_secs(0), 15);
        assert_eq!(backoff_secs(1), 30);
        assert_eq!(backoff_secs(3), 120);
        assert_eq!(backoff_secs(50), 3600);
    }
}
