//! Delivering the outbox after commit: email over SMTP (lettre), texts and voice calls through an
//! SMS provider's HTTP API (reqwest), or, in development on this machine and only when asked for,
//! nowhere (the messages stay readable on the development outbox page). Delivery is at least
//! once: a message is claimed for a lease, sent, then marked delivered; a failure is retried with
//! exponential backoff. A message handed to a provider keeps no usable secret: its link token or
//! code is redacted from the stored copy in the same write that marks it delivered.

use crate::{Internal, Services};
use gatehouse_store::Batch;
use gatehouse_store::outbox::{self, MessageRow};
use lettre::message::{MultiPart, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Messages claimed by one delivery pass at most.
const BATCH: usize = 20;
/// How long the worker waits after being woken before its pass, to take a burst's messages in one.
/// A text reaches the provider this much later, which nobody waiting for it notices; under a
/// sign-in load a pass then carries about ten codes instead of two, and the passes' write
/// transactions stop competing with the sign-ins' own for the one SQLite writer.
pub const GATHER: Duration = Duration::from_millis(100);

/// How often the worker ends the sessions past their limits
/// ([`Services::end_timed_out_sessions`]).
pub const SESSION_SWEEP_EVERY: Duration = Duration::from_secs(60);

pub use gatehouse_store::outbox::Channels;

/// What replaces a secret in a message handed to a real provider.
pub const REDACTED: &str = "[redacted after delivery]";

/// Where messages go.
#[derive(Debug, Clone, Default)]
pub struct DeliveryConfig {
    /// `smtp://user:pass@host:port` or `smtps://…`; email is sent there when set.
    pub smtp_url: Option<String>,
    /// The From address for email.
    pub mail_from: String,
    /// The SMS provider's endpoint; texts and calls are sent there when set.
    pub sms_url: Option<String>,
    /// Bearer token for the SMS provider.
    pub sms_token: Option<String>,
    /// Keep the messages of channels without a provider readable at `/dev/outbox`, unredacted
    /// (development on this machine only: see [`DeliveryConfig::check`]).
    pub dev_outbox: bool,
}

/// Why the delivery settings cannot run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeliveryConfigError {
    #[error(
        "the development outbox (--dev-outbox) shows every code and link to anyone who opens it, so it runs only on \
         this machine: the base URL {0} is not localhost, 127.0.0.0/8 or [::1]"
    )]
    PublicBaseUrl(String),
    #[error(
        "the development outbox (--dev-outbox) shows every code and link to anyone who opens it, so it runs only on \
         this machine: --listen {0} is not a loopback address (use 127.0.0.1 or [::1])"
    )]
    PublicListen(SocketAddr),
    #[error(
        "email has nowhere to go: set --smtp-url (GATEHOUSE_SMTP_URL), or, for development on this machine only, \
         --dev-outbox (GATEHOUSE_DEV_OUTBOX)"
    )]
    NoSmtp,
}

/// Whether a base URL names this machine: `localhost`, 127.0.0.0/8 or `[::1]`.
pub fn is_loopback_url(base_url: &str) -> bool {
    match url::Url::parse(base_url).ok().and_then(|u| u.host().map(|h| h.to_owned())) {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl DeliveryConfig {
    /// The channels shown in the development outbox: those without a provider, when it is on.
    /// A channel with a provider is never shown there.
    pub fn dev_outbox_channels(&self) -> Channels {
        Channels { email: self.dev_outbox && self.smtp_url.is_none(), texts: self.dev_outbox && self.sms_url.is_none() }
    }

    /// The channels the worker delivers: to a provider, or to the development outbox.
    pub fn deliverable(&self) -> Channels {
        let dev = self.dev_outbox_channels();
        Channels { email: self.smtp_url.is_some() || dev.email, texts: self.sms_url.is_some() || dev.texts }
    }

    /// The channels with nowhere to go: their messages stay queued, published nowhere, until a
    /// provider is configured.
    pub fn undeliverable(&self) -> Channels {
        let d = self.deliverable();
        Channels { email: !d.email, texts: !d.texts }
    }

    /// Refuses, before a server starts, settings that would publish messages or drop every
    /// email: the development outbox off this machine (base URL or listening address not
    /// loopback), or no SMTP server without the development outbox. Texts without a provider are
    /// allowed (they stay queued; the server logs it), since email alone lets a plan start.
    pub fn check(&self, base_url: &str, listen: SocketAddr) -> Result<(), DeliveryConfigError> {
        if self.dev_outbox {
            if !is_loopback_url(base_url) {
                return Err(DeliveryConfigError::PublicBaseUrl(base_url.to_owned()));
            }
            if !listen.ip().is_loopback() {
                return Err(DeliveryConfigError::PublicListen(listen));
            }
        } else if self.smtp_url.is_none() {
            return Err(DeliveryConfigError::NoSmtp);
        }
        Ok(())
    }
}

/// The stored subject, text and HTML of a message with each of its secrets replaced by
/// [`REDACTED`].
pub fn redact(m: &MessageRow) -> (String, String, String) {
    let (mut subject, mut text, mut html) = (m.subject.clone(), m.body_text.clone(), m.body_html.clone());
    for secret in m.secrets.iter().filter(|s| !s.is_empty()) {
        subject = subject.replace(secret.as_str(), REDACTED);
        text = text.replace(secret.as_str(), REDACTED);
        html = html.replace(secret.as_str(), REDACTED);
    }
    (subject, text, html)
}

/// Where a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    /// To SMTP or the SMS provider: the stored copy is redacted.
    Provider,
    /// To the development outbox: the stored copy is the delivery and stays readable.
    DevOutbox,
}

/// The delivery worker.
#[derive(Clone)]
pub struct Deliverer {
    services: Services,
    config: Arc<DeliveryConfig>,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    http: reqwest::Client,
    /// For back-channel logout: never follows a redirect (the registered URI or nothing).
    logout_http: reqwest::Client,
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
        let logout_http = crate::oidc::backchannel::logout_client(services.config.logout_destinations)
            .map_err(|e| Internal::Other(format!("HTTP client: {e}")))?;
        Ok(Self { services, config: Arc::new(config), smtp, http, logout_http, wake: Arc::new(Notify::new()) })
    }

    /// A handle that wakes the worker when a message was just committed.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Runs forever: a pass whenever woken, and at least every second. Each pass delivers the
    /// outbox's messages and the back-channel logout notices; every minute, sessions past their
    /// limits are ended first (their applications' notices then go in the same pass). After a wake it waits [`GATHER`]
    /// so that messages committed meanwhile (a burst of sign-ins) go in the same pass: a pass is
    /// two write transactions whatever its size.
    pub async fn run(self) {
        let mut last_sweep: Option<std::time::Instant> = None;
        loop {
            if last_sweep.is_none_or(|at| at.elapsed() >= SESSION_SWEEP_EVERY) {
                last_sweep = Some(std::time::Instant::now());
                if let Err(e) = self.services.end_timed_out_sessions().await {
                    tracing::warn!(error = %e, "ending timed-out sessions failed");
                }
            }
            let messages = self.deliver_due().await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "outbox delivery pass failed");
                0
            });
            let notices = self.deliver_logout_notices().await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "back-channel logout pass failed");
                0
            });
            // A full batch: more may be due at once.
            if messages >= BATCH || notices > 0 {
                continue;
            }
            tokio::select! {
                _ = self.wake.notified() => tokio::time::sleep(GATHER).await,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// One pass of back-channel logout notices (see `oidc::backchannel`). Returns how many
    /// were attempted.
    pub async fn deliver_logout_notices(&self) -> Result<usize, Internal> {
        self.services.deliver_logout_notices(&self.logout_http).await
    }

    /// One pass: claims due messages and delivers them. Returns how many were attempted.
    pub async fn deliver_due(&self) -> Result<usize, Internal> {
        let channels = self.config.deliverable();
        if channels == Channels::default() {
            return Ok(0);
        }
        let now = self.services.now();
        // Each write below is a transaction of its own, one command to SQLite.
        let mut claim = Batch::new();
        let claimed = claim.push(outbox::claim_due_stmt(channels, now, 120, BATCH as i64));
        let batch = outbox::claimed(self.services.db.write(claim).await?.rows(claimed))?;
        if batch.is_empty() {
            return Ok(0);
        }
        let mut results = Vec::with_capacity(batch.len());
        for m in &batch {
            results.push(self.send(m).await);
        }
        // The outcomes are recorded together, in one write transaction.
        let now = self.services.now();
        let mut outcomes = Batch::new();
        // Rows of the development outbox are their own delivery: all marked in one statement.
        let mut kept = Vec::new();
        for (m, result) in batch.iter().zip(results) {
            match result {
                Ok(Sent::DevOutbox) => kept.push(m.id),
                Ok(Sent::Provider) => {
                    let (subject, text, html) = redact(m);
                    outcomes.push(outbox::mark_delivered_redacted_stmt(m.id, now, subject, text, html));
                }
                Err(e) => {
                    tracing::warn!(message_id = m.id, kind = %m.kind, attempts = m.attempts, error = %e, "delivery failed; will retry");
                    outcomes.push(outbox::mark_failed_stmt(m.id, e, now + backoff_secs(m.attempts - 1)));
                }
            }
        }
        if let Some(s) = outbox::mark_all_delivered_stmt(&kept, now) {
            outcomes.push(s);
        }
        self.services.db.write(outcomes).await?;
        Ok(batch.len())
    }

    async fn send(&self, m: &MessageRow) -> Result<Sent, String> {
        let dev = self.config.dev_outbox_channels();
        match m.channel.as_str() {
            "email" => match &self.smtp {
                // Development outbox: the row itself is the delivery.
                None if dev.email => Ok(Sent::DevOutbox),
                None => Err("no SMTP server is configured".into()),
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
                    smtp.send(email).await.map(|_| Sent::Provider).map_err(|e| format!("SMTP: {e}"))
                }
            },
            "sms" | "voice" => match &self.config.sms_url {
                None if dev.texts => Ok(Sent::DevOutbox),
                None => Err("no SMS provider is configured".into()),
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
                        Ok(Sent::Provider)
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
    /// A plan's newest outbox messages of every channel, whatever their delivery (tests, tools).
    pub async fn recent_outbox(&self, plan: gatehouse_domain::PlanId, limit: i64) -> Result<Vec<MessageRow>, Internal> {
        let mut conn = self.db.acquire().await?;
        Ok(outbox::recent(&mut conn, plan, limit).await?)
    }

    /// A plan's newest messages of the development outbox's `channels` (see
    /// [`DeliveryConfig::dev_outbox_channels`]): nothing when it shows none.
    pub async fn dev_outbox_messages(
        &self,
        plan: gatehouse_domain::PlanId,
        channels: Channels,
        limit: i64,
    ) -> Result<Vec<MessageRow>, Internal> {
        if channels == Channels::default() {
            return Ok(Vec::new());
        }
        let mut conn = self.db.acquire().await?;
        Ok(outbox::recent_of(&mut conn, plan, channels, limit).await?)
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

    fn config(smtp: bool, sms: bool, dev_outbox: bool) -> DeliveryConfig {
        DeliveryConfig {
            smtp_url: smtp.then(|| "smtp://mail.example.org:25".into()),
            mail_from: "x@example.org".into(),
            sms_url: sms.then(|| "https://sms.example.org/send".into()),
            sms_token: sms.then(|| "t".into()),
            dev_outbox,
        }
    }

    const LOCAL: &str = "127.0.0.1:8080";

    #[test]
    fn the_dev_outbox_shows_only_channels_without_a_provider_and_only_when_on() {
        let none = Channels::default();
        assert_eq!(config(false, false, false).dev_outbox_channels(), none);
        assert_eq!(config(true, false, false).dev_outbox_channels(), none, "mail set, no SMS: nothing published");
        assert_eq!(config(false, false, true).dev_outbox_channels(), Channels::ALL);
        assert_eq!(config(true, false, true).dev_outbox_channels(), Channels { email: false, texts: true });
        assert_eq!(config(false, true, true).dev_outbox_channels(), Channels { email: true, texts: false });
        assert_eq!(config(true, true, true).dev_outbox_channels(), none);
    }

    #[test]
    fn channels_without_a_provider_or_dev_outbox_stay_queued() {
        let c = config(true, false, false);
        assert_eq!(c.deliverable(), Channels { email: true, texts: false });
        assert_eq!(c.undeliverable(), Channels { email: false, texts: true });
        assert_eq!(config(true, false, true).undeliverable(), Channels::default());
        assert_eq!(config(true, true, false).deliverable(), Channels::ALL);
    }

    #[test]
    fn the_dev_outbox_runs_only_on_loopback() {
        let on = config(false, false, true);
        for ok in
            ["http://localhost:8080", "http://LOCALHOST", "http://127.0.0.1:9", "http://127.3.4.5", "http://[::1]:80"]
        {
            assert_eq!(on.check(ok, LOCAL.parse().unwrap()), Ok(()), "{ok}");
        }
        for bad in [
            "https://portal.example.org",
            "http://localhost.example.org",
            "http://10.0.0.1",
            "not a url",
            "http://[::2]",
        ] {
            assert_eq!(on.check(bad, LOCAL.parse().unwrap()), Err(DeliveryConfigError::PublicBaseUrl(bad.into())));
        }
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(on.check("http://localhost:8080", any), Err(DeliveryConfigError::PublicListen(any)));
        assert!(on.check("http://localhost:8080", "[::1]:8080".parse().unwrap()).is_ok());
        // Off, it does not care where it runs; it needs somewhere to send email.
        assert_eq!(config(true, false, false).check("https://portal.example.org", any), Ok(()));
        assert_eq!(
            config(false, true, false).check("https://portal.example.org", any),
            Err(DeliveryConfigError::NoSmtp)
        );
        let msg = DeliveryConfigError::PublicBaseUrl("https://portal.example.org".into()).to_string();
        assert!(msg.contains("--dev-outbox") && msg.contains("https://portal.example.org"), "{msg}");
    }

    #[test]
    fn redaction_replaces_every_secret_everywhere() {
        let m = MessageRow {
            id: 1,
            plan_id: gatehouse_domain::PlanId(1),
            channel: "email".into(),
            kind: "password_reset_link.v1".into(),
            recipient: "a@example.org".into(),
            subject: "Reset".into(),
            body_text: "Open https://p.example/reset-password?token=SECRETTOKEN123456 now; again SECRETTOKEN123456"
                .into(),
            body_html: "<a href=\"https://p.example/reset-password?token=SECRETTOKEN123456\">reset</a>".into(),
            created_at: 0,
            attempts: 1,
            delivered_at: None,
            last_error: None,
            secrets: vec!["SECRETTOKEN123456".into(), String::new()],
        };
        let (subject, text, html) = redact(&m);
        assert_eq!(subject, "Reset");
        assert!(!text.contains("SECRETTOKEN") && !html.contains("SECRETTOKEN"), "{text} {html}");
        assert_eq!(text.matches(REDACTED).count(), 2);
        assert!(html.contains(&format!("token={REDACTED}")));
        let plain = MessageRow { secrets: Vec::new(), ..m.clone() };
        assert_eq!(redact(&plain), (m.subject, m.body_text, m.body_html));
    }
}
