//! Configuration from flags, environment variables (`GATEHOUSE_*`) and an optional TOML file,
//! validated at start with messages that say what to change.

use anyhow::{Context, bail};
use clap::Args;
use gatehouse_domain::client_address::TrustedProxies;
use gatehouse_domain::client_registration::LogoutDestinations;
use gatehouse_services::hashing::HashConfig;
use gatehouse_services::server_key::ServerKey;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Server settings as given on the command line or in the environment.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Database URL: `sqlite://gatehouse.db` (embedded) or `postgres://user@host/db`.
    #[arg(long, env = "GATEHOUSE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Address to listen on.
    #[arg(long, env = "GATEHOUSE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Public base URL used in emailed links, e.g. `https://portal.example.org`.
    #[arg(long, env = "GATEHOUSE_BASE_URL")]
    pub base_url: Option<String>,
    /// SMTP server for email, e.g. `smtps://user:pass@smtp.example.org:465`.
    #[arg(long, env = "GATEHOUSE_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// From address of email.
    #[arg(long, env = "GATEHOUSE_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// SMS/voice provider endpoint (HTTP POST of `{to, channel, body}`).
    #[arg(long, env = "GATEHOUSE_SMS_URL")]
    pub sms_url: Option<String>,
    /// Bearer token for the SMS provider.
    #[arg(long, env = "GATEHOUSE_SMS_TOKEN", hide_env_values = true)]
    pub sms_token: Option<String>,
    /// Trust the direct peer's `X-Forwarded-For` whatever its address (one reverse proxy of your
    /// own in front): the client is the right-most hop not listed in --trusted-proxies.
    #[arg(long, env = "GATEHOUSE_TRUST_PROXY")]
    pub trust_proxy: bool,
    /// Keep messages of channels without SMTP/SMS provider readable, unauthenticated, at
    /// `/dev/outbox` (development on this machine only: needs a loopback base URL and address).
    #[arg(long, env = "GATEHOUSE_DEV_OUTBOX")]
    pub dev_outbox: bool,
    /// Post back-channel logout notices to private, loopback and link-local addresses too (an
    /// application on the plan's own network). Off: only public addresses, so that a registered
    /// URI cannot make this server reach its own network.
    #[arg(long, env = "GATEHOUSE_BACKCHANNEL_PRIVATE_ADDRESSES")]
    pub backchannel_private_addresses: bool,
    /// File holding the server key for two-step code HMACs (base64, 32+ bytes); the database's
    /// copy is then neither used nor created.
    #[arg(long, env = "GATEHOUSE_SECRET_KEY_FILE", conflicts_with = "secret_key")]
    pub secret_key_file: Option<PathBuf>,
    /// The server key itself (prefer the environment variable or --secret-key-file).
    #[arg(long, env = "GATEHOUSE_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` entries are believed: IP addresses or CIDR
    /// ranges, comma-separated. The client is the right-most hop that is not one of them.
    #[arg(long, env = "GATEHOUSE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// Minutes between tries of the daily job (idle accounts; each plan runs once on its local
    /// day, by whichever instance holds the lease); 0 turns the loop off (run
    /// `gatehouse jobs run-daily` from cron instead). Default 60.
    #[arg(long, env = "GATEHOUSE_DAILY_JOB_INTERVAL")]
    pub daily_job_interval: Option<u64>,
    /// Optional TOML file with the same settings (flags and environment win).
    #[arg(long, env = "GATEHOUSE_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Minutes between tries of the daily job when the configuration does not say.
pub const DEFAULT_DAILY_JOB_INTERVAL_MINUTES: u64 = 60;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    listen: Option<SocketAddr>,
    base_url: Option<String>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    sms_url: Option<String>,
    sms_token: Option<String>,
    trust_proxy: Option<bool>,
    trusted_proxies: Option<Vec<String>>,
    argon2_memory_kib: Option<u32>,
    argon2_iterations: Option<u32>,
    hash_workers: Option<usize>,
    hash_queue: Option<usize>,
    dev_outbox: Option<bool>,
    backchannel_private_addresses: Option<bool>,
    secret_key_file: Option<PathBuf>,
    secret_key: Option<String>,
    daily_job_interval: Option<u64>,
}

/// The validated configuration the server runs with.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub database_url: String,
    pub listen: SocketAddr,
    pub base_url: Option<String>,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub sms_url: Option<String>,
    pub sms_token: Option<String>,
    /// Believe the direct peer's `X-Forwarded-For` whatever its address.
    pub trust_proxy: bool,
    /// Proxies whose `X-Forwarded-For` entries are believed (see [`ServerConfig::proxies`]).
    pub trusted_proxies: TrustedProxies,
    pub hash: HashConfig,
    /// Run the background outbox worker (tests may drive delivery themselves).
    pub run_outbox_worker: bool,
    /// Serve the development outbox (`serve`: only with `--dev-outbox`; `demo`: always).
    pub dev_outbox: bool,
    /// Where back-channel logout notices may be posted.
    pub logout_destinations: LogoutDestinations,
    /// The server key for code HMACs, when given by configuration.
    pub secret_key: Option<ServerKey>,
    /// How often the server tries the daily job; `None`: never (tests, benchmarks, or cron).
    pub daily_job_every: Option<std::time::Duration>,
}

impl ServerConfig {
    /// Defaults for local use and tests: embedded database, localhost, development outbox on,
    /// no daily job loop. (`from_args` turns the outbox off unless asked for, and the daily job
    /// loop on unless told 0.)
    pub fn local(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            base_url: None,
            smtp_url: None,
            mail_from: "Provider Portal <no-reply@localhost.localdomain>".into(),
            sms_url: None,
            sms_token: None,
            trust_proxy: false,
            trusted_proxies: TrustedProxies::default(),
            hash: HashConfig::default(),
            run_outbox_worker: true,
            dev_outbox: true,
            logout_destinations: LogoutDestinations::Public,
            secret_key: None,
            daily_job_every: None,
        }
    }

    /// Merges flags, environment and file, then validates.
    pub fn from_args(a: &ServeArgs, default_db: &str) -> anyhow::Result<Self> {
        let file = match &a.config {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).with_context(|| format!("cannot read config file {}", p.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("config file {} is not valid", p.display()))?
            }
            None => FileConfig::default(),
        };
        let mut c = Self::local(a.database_url.clone().or(file.database_url).unwrap_or_else(|| default_db.to_owned()));
        if let Some(l) = a.listen.or(file.listen) {
            c.listen = l;
        }
        c.base_url = a.base_url.clone().or(file.base_url).map(|u| u.trim_end_matches('/').to_owned());
        c.smtp_url = a.smtp_url.clone().or(file.smtp_url);
        if let Some(f) = a.mail_from.clone().or(file.mail_from) {
            c.mail_from = f;
        }
        c.sms_url = a.sms_url.clone().or(file.sms_url);
        c.sms_token = a.sms_token.clone().or(file.sms_token);
        c.trust_proxy = a.trust_proxy || file.trust_proxy.unwrap_or(false);
        c.dev_outbox = a.dev_outbox || file.dev_outbox.unwrap_or(false);
        if a.backchannel_private_addresses || file.backchannel_private_addresses.unwrap_or(false) {
            c.logout_destinations = LogoutDestinations::Any;
        }
        c.secret_key =
            secret_key(a.secret_key_file.clone().or(file.secret_key_file), a.secret_key.clone().or(file.secret_key))?;
        // A typo must not silently change whose word is taken for the client address: refused.
        let proxies = if a.trusted_proxies.is_empty() {
            file.trusted_proxies.unwrap_or_default()
        } else {
            a.trusted_proxies.clone()
        };
        c.trusted_proxies = TrustedProxies::parse(&proxies)
            .context("--trusted-proxies (GATEHOUSE_TRUSTED_PROXIES, trusted_proxies in the config file)")?;
        if let Some(m) = file.argon2_memory_kib {
            c.hash.memory_kib = m;
        }
        if let Some(t) = file.argon2_iterations {
            c.hash.iterations = t;
        }
        if let Some(w) = file.hash_workers {
            c.hash.workers = w;
        }
        if let Some(q) = file.hash_queue {
            c.hash.queue = q;
        }
        let minutes = a.daily_job_interval.or(file.daily_job_interval).unwrap_or(DEFAULT_DAILY_JOB_INTERVAL_MINUTES);
        c.daily_job_every = (minutes > 0).then(|| std::time::Duration::from_secs(minutes * 60));
        c.validate()?;
        Ok(c)
    }

    /// The proxies the server believes: the list, and the direct peer too with `trust_proxy`.
    pub fn proxies(&self) -> TrustedProxies {
        let listed = self.trusted_proxies.clone();
        if self.trust_proxy { listed.with_direct_peer() } else { listed }
    }

    /// Refuses settings that would run insecurely or not at all.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres:")
            || self.database_url.starts_with("postgresql:"))
        {
            bail!("--database-url must start with sqlite: or postgres:// (got {})", crate::redact(&self.database_url));
        }
        if let Some(b) = &self.base_url {
            let u = url::Url::parse(b).with_context(|| format!("--base-url {b:?} is not a URL"))?;
            let local = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
            if u.scheme() != "https" && !(u.scheme() == "http" && local) {
                bail!("--base-url must use https:// (plain http is allowed only for localhost development)");
            }
        }
        if self.sms_url.is_some() && self.sms_token.is_none() {
            bail!("--sms-url needs --sms-token (GATEHOUSE_SMS_TOKEN)");
        }
        if self.hash.memory_kib < 8 * 1024 && self.hash.iterations < 2 {
            bail!("argon2 parameters are below the OWASP minimum (19 MiB, 2 passes)");
        }
        Ok(())
    }
}

/// The configured server key, from a file or the value itself (not both), validated.
fn secret_key(file: Option<PathBuf>, value: Option<String>) -> anyhow::Result<Option<ServerKey>> {
    Ok(match (file, value) {
        (Some(_), Some(_)) => bail!("give the secret key once: --secret-key-file or GATEHOUSE_SECRET_KEY, not both"),
        (Some(p), None) => Some(ServerKey::read_file(&p).context("--secret-key-file")?),
        (None, Some(k)) => Some(ServerKey::parse(&k).context("GATEHOUSE_SECRET_KEY")?),
        (None, None) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_plain_http_off_localhost() {
        let mut c = ServerConfig::local("sqlite://x.db");
        c.base_url = Some("http://portal.example.org".into());
        assert!(c.validate().is_err());
        c.base_url = Some("http://localhost:8080".into());
        assert!(c.validate().is_ok());
        c.base_url = Some("https://portal.example.org".into());
        assert!(c.validate().is_ok());
    }

    #[test]
    fn trusted_proxies_from_flags_or_file_and_bad_entries_refused() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let args = |extra: &[&str]| Cli::parse_from([&["gatehouse"], extra].concat()).serve;
        let peer: std::net::IpAddr = "10.1.2.3".parse().unwrap();
        let c =
            ServerConfig::from_args(&args(&["--trusted-proxies", "10.0.0.0/8,192.0.2.1"]), "sqlite://x.db").unwrap();
        assert_eq!(c.proxies().client_address(peer, ["6.6.6.6, 203.0.113.7"]).to_string(), "203.0.113.7");
        let err = ServerConfig::from_args(&args(&["--trusted-proxies", "10.0.0.0/8,proxy.local"]), "sqlite://x.db");
        assert!(format!("{:#}", err.unwrap_err()).contains("proxy.local"));
        let dir = std::env::temp_dir().join(format!("gh-proxies-{}.toml", std::process::id()));
        std::fs::write(&dir, "trusted_proxies = [\"10.0.0.0/8\"]\n").unwrap();
        let c = ServerConfig::from_args(&args(&["--config", dir.to_str().unwrap()]), "sqlite://x.db").unwrap();
        let _ = std::fs::remove_file(&dir);
        assert_eq!(c.proxies().client_address(peer, ["203.0.113.7"]).to_string(), "203.0.113.7");
        // Nothing configured: the peer is the client; `trust_proxy` alone believes the peer only.
        let c = ServerConfig::from_args(&args(&[]), "sqlite://x.db").unwrap();
        assert_eq!(c.proxies().client_address(peer, ["203.0.113.7"]), peer);
        let c = ServerConfig::from_args(&args(&["--trust-proxy"]), "sqlite://x.db").unwrap();
        assert_eq!(c.proxies().client_address(peer, ["6.6.6.6, 203.0.113.7"]).to_string(), "203.0.113.7");
    }

    #[test]
    fn daily_job_every_hour_unless_told() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let args = |extra: &[&str]| Cli::parse_from([&["gatehouse"], extra].concat()).serve;
        let c = ServerConfig::from_args(&args(&[]), "sqlite://x.db").unwrap();
        assert_eq!(c.daily_job_every, Some(std::time::Duration::from_secs(3600)));
        let c = ServerConfig::from_args(&args(&["--daily-job-interval", "5"]), "sqlite://x.db").unwrap();
        assert_eq!(c.daily_job_every, Some(std::time::Duration::from_secs(300)));
        let c = ServerConfig::from_args(&args(&["--daily-job-interval", "0"]), "sqlite://x.db").unwrap();
        assert_eq!(c.daily_job_every, None);
        assert_eq!(ServerConfig::local("sqlite://x.db").daily_job_every, None);
    }

    #[test]
    fn refuses_unknown_database_and_sms_without_token() {
        assert!(ServerConfig::local("mysql://x").validate().is_err());
        let mut c = ServerConfig::local("sqlite://x.db");
        c.sms_url = Some("https://sms.example.org/send".into());
        assert!(c.validate().is_err());
    }

    #[test]
    fn secret_key_comes_from_a_file_or_a_value_and_is_validated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "c2VjcmV0LWtleS1mb3ItZ2F0ZWhvdXNlLXRlc3RzLW9ubHk=\n").unwrap();
        let k = secret_key(Some(path.clone()), None).unwrap().unwrap();
        assert_eq!(k.bytes(), b"c2VjcmV0LWtleS1mb3ItZ2F0ZWhvdXNlLXRlc3RzLW9ubHk=");
        assert!(secret_key(None, None).unwrap().is_none());
        assert!(secret_key(Some(path), Some("x".into())).is_err());
        let e = secret_key(None, Some("c2hvcnQ=".into())).unwrap_err();
        assert!(format!("{e:#}").contains("needs at least 32"), "{e:#}");
    }
}
