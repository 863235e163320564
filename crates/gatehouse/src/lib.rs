//! The Gatehouse server as a library: configuration, start-up, demo data and benchmarks, so the
//! `gatehouse` binary, the integration tests and the benchmarks start exactly the same server.

pub mod bench;
pub mod bench_databases;
pub mod bench_messages;
pub mod bench_oidc;
pub mod bench_reviews;
pub mod bench_search;
pub mod config;
pub mod demo;
pub mod import_cli;
pub mod oidc_cli;
pub mod plan_cli;
pub mod priority;
pub mod roster_cli;

use anyhow::Context;
use config::ServerConfig;
use gatehouse_services::delivery::{Deliverer, DeliveryConfig};
use gatehouse_services::{Clock, PasswordHasher, Services, ServicesConfig};
use gatehouse_store::Db;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A started server.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The public base URL.
    pub base_url: String,
    /// Its services, for tests and the demo loader.
    pub services: Services,
    /// The outbox worker (tests call `deliver_due` directly).
    pub deliverer: Deliverer,
    shutdown: Option<oneshot::Sender<()>>,
    join: JoinHandle<()>,
    worker: Option<JoinHandle<()>>,
    refresher: JoinHandle<()>,
    daily: Option<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting requests and waits for the server to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.join).await;
        if let Some(w) = self.worker.take() {
            w.abort();
        }
        self.refresher.abort();
        if let Some(d) = self.daily.take() {
            d.abort();
        }
        self.services.db.close().await;
    }

    /// Waits until the server stops (ctrl-c or SIGTERM).
    pub async fn wait(self) {
        let _ = self.join.await;
    }
}

/// Connects, migrates, and opens the database named in the configuration.
pub async fn open_db(url: &str) -> anyhow::Result<Db> {
    let db = Db::connect(url).await.with_context(|| format!("cannot open the database at {}", redact(url)))?;
    db.migrate().await.context("database migration failed")?;
    Ok(db)
}

/// Hides a password in a database URL for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Builds the services (database migrated, hashing pool started) without serving HTTP.
pub async fn services(cfg: &ServerConfig, clock: Arc<dyn Clock>, base_url: String) -> anyhow::Result<Services> {
    let db = open_db(&cfg.database_url).await?;
    let hasher = PasswordHasher::start(cfg.hash).context("cannot start the password hashing pool")?;
    Services::new(
        db,
        clock,
        hasher,
        ServicesConfig { base_url, code_key: cfg.secret_key.clone(), logout_destinations: cfg.logout_destinations },
    )
    .await
    .context("cannot initialise services")
}

/// Where the configuration sends messages.
pub fn delivery_config(cfg: &ServerConfig) -> DeliveryConfig {
    DeliveryConfig {
        smtp_url: cfg.smtp_url.clone(),
        mail_from: cfg.mail_from.clone(),
        sms_url: cfg.sms_url.clone(),
        sms_token: cfg.sms_token.clone(),
        dev_outbox: cfg.dev_outbox,
    }
}

/// Starts the server: database, migrations, hashing pool, outbox worker, permission index
/// refresher, the daily job's loop (when configured), HTTP listener. Refuses a development outbox off this machine, and email with
/// nowhere to go (see [`DeliveryConfig::check`]).
pub async fn start(cfg: ServerConfig, clock: Arc<dyn Clock>) -> anyhow::Result<Running> {
    let delivery = delivery_config(&cfg);
    let planned_base = cfg.base_url.clone().unwrap_or_else(|| format!("http://localhost:{}", cfg.listen.port()));
    delivery.check(&planned_base, cfg.listen)?;
    let listener =
        tokio::net::TcpListener::bind(cfg.listen).await.with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let base_url = cfg.base_url.clone().unwrap_or_else(|| format!("http://localhost:{}", addr.port()));
    let svc = services(&cfg, clock, base_url.clone()).await?;
    if delivery.undeliverable().texts {
        tracing::error!(
            "no SMS provider (--sms-url) and no development outbox: two-step codes by text or voice stay queued, \
             sent to no one, until a provider is configured"
        );
    }
    let dev_outbox = delivery.dev_outbox_channels();
    if dev_outbox.any() {
        tracing::warn!(%base_url, "development outbox on: codes and links are readable at /dev/outbox");
    }
    let deliverer = Deliverer::new(svc.clone(), delivery)?;
    let worker = cfg.run_outbox_worker.then(|| tokio::spawn(deliverer.clone().run()));
    // Keeps this instance's permission index in step with changes made on other instances.
    let refresher = tokio::spawn(svc.clone().run_access_refresher());
    // Idle accounts (and later steps): tried every interval, run once a day per plan by
    // whichever instance holds the lease.
    let daily = cfg.daily_job_every.map(|every| tokio::spawn(svc.clone().run_daily_jobs(every)));
    // Large plans' user searches answer from memory as soon as their index is read.
    let warming = svc.clone();
    tokio::spawn(async move {
        if let Err(e) = warming.warm_search_indexes().await {
            tracing::warn!(error = %e, "cannot read the large plans' search indexes");
        }
    });
    let state = gatehouse_web::AppState {
        svc: svc.clone(),
        dev_outbox,
        secure_cookies: base_url.starts_with("https://"),
        trusted_proxies: cfg.proxies(),
        outbox_waker: deliverer.waker(),
    };
    let app = gatehouse_web::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let (tx, rx) = oneshot::channel::<()>();
    let join = tokio::spawn(async move {
        let shutdown = async move {
            tokio::select! {
                _ = rx => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
            tracing::error!(error = %e, "server stopped with an error");
        }
    });
    tracing::info!(%addr, %base_url, "Gatehouse is ready");
    Ok(Running { addr, base_url, services: svc, deliverer, shutdown: Some(tx), join, worker, refresher, daily })
}
