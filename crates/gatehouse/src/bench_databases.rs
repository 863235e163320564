//! The databases a data-heavy benchmark (`search`, `messages`) runs on: SQLite in a temporary
//! directory or a kept file, then PostgreSQL in a temporary or a kept database of the server given.
//! A kept database is reused by the next run, which skips the long load.

use crate::config::ServerConfig;
use anyhow::{Context, bail};
use gatehouse_services::SystemClock;
use sqlx::Connection;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where one benchmark's databases live.
pub struct Databases {
    /// The benchmark's name, in its options (`--{name}-pg-database`) and temporary names.
    pub name: &'static str,
    /// A PostgreSQL server (`postgres://user@host:port`); none: PostgreSQL is skipped.
    pub pg: Option<String>,
    /// Keep the SQLite database in this file (else a temporary one, deleted).
    pub sqlite_file: Option<PathBuf>,
    /// Keep the PostgreSQL database of this name (else a temporary one, dropped).
    pub pg_database: Option<String>,
    /// Measure PostgreSQL only.
    pub skip_sqlite: bool,
}

impl Databases {
    /// Refuses a kept PostgreSQL database name that could not be written into `CREATE DATABASE`
    /// as it is.
    fn check(&self) -> anyhow::Result<()> {
        if let Some(name) = &self.pg_database {
            let plain = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if name.is_empty() || name.len() > 60 || !plain || name.starts_with(|c: char| c.is_ascii_digit()) {
                bail!("--{}-pg-database must be 1 to 60 lower-case letters, digits or _ (got {name:?})", self.name);
            }
        }
        Ok(())
    }

    /// Starts the real server in process on each database in turn (SQLite, then PostgreSQL when
    /// a server is given) and runs `measure(server, "SQLite" | "PostgreSQL")` against it.
    pub async fn measure_each(
        &self,
        mut measure: impl AsyncFnMut(&crate::Running, &'static str) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        self.check()?;
        self.each(async |url, db| {
            let mut cfg = ServerConfig::local(&url);
            cfg.listen = SocketAddr::from(([127, 0, 0, 1], 0));
            cfg.run_outbox_worker = false;
            let running = crate::start(cfg, Arc::new(SystemClock)).await?;
            let result = measure(&running, db).await;
            let _ = tokio::time::timeout(Duration::from_secs(10), running.stop()).await;
            result
        })
        .await
    }

    /// Runs `on(url, "SQLite")`, then `on(url, "PostgreSQL")` when a server is given, each on its
    /// database, removing what is not kept.
    async fn each(&self, mut on: impl AsyncFnMut(String, &'static str) -> anyhow::Result<()>) -> anyhow::Result<()> {
        match &self.sqlite_file {
            _ if self.skip_sqlite => println!("SQLite: skipped (--{}-skip-sqlite)", self.name),
            Some(file) => on(format!("sqlite://{}", file.display()), "SQLite").await?,
            None => {
                let dir = std::env::temp_dir().join(format!(
                    "gatehouse-{}-bench-{}-{:016x}",
                    self.name,
                    std::process::id(),
                    rand::random::<u64>()
                ));
                std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
                let file = dir.join(format!("{}.db", self.name));
                let result = on(format!("sqlite://{}", file.display()), "SQLite").await;
                let _ = std::fs::remove_dir_all(&dir);
                result?;
            }
        }
        match &self.pg {
            Some(server) => self.postgres(server, on).await,
            None => {
                println!("PostgreSQL: skipped (give --pg postgres://… or set GATEHOUSE_BENCH_PG)");
                Ok(())
            }
        }
    }

    async fn postgres(
        &self,
        server: &str,
        mut on: impl AsyncFnMut(String, &'static str) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let with_db = |name: &str| -> anyhow::Result<String> {
            let mut u = url::Url::parse(server).with_context(|| format!("{} is not a URL", crate::redact(server)))?;
            u.set_path(&format!("/{name}"));
            Ok(u.to_string())
        };
        let (name, keep) = match &self.pg_database {
            Some(n) => (n.clone(), true),
            None => (format!("gh_{}_bench_{:012x}", self.name, rand::random::<u64>() >> 16), false),
        };
        let mut admin =
            sqlx::PgConnection::connect(&with_db("postgres")?).await.context("cannot connect to PostgreSQL")?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await?;
        if !exists {
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .context("cannot create the database")?;
        }
        let result = match with_db(&name) {
            Ok(url) => on(url, "PostgreSQL").await,
            Err(e) => Err(e),
        };
        if !keep {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await;
        }
        let _ = admin.close().await;
        result
    }
}

/// A string as an SQL literal, for the multi-row `INSERT`s of a bulk load.
pub fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A deterministic generator (xorshift64*), so every run of a benchmark writes the same data.
pub struct Rng(pub u64);

impl Rng {
    /// The generator of item `i` of a stream named by `salt`.
    pub fn seeded(i: u64, salt: u64) -> Self {
        Self((0x9E37_79B9_7F4A_7C15 ^ salt ^ i.wrapping_mul(0xBF58_476D_1CE4_E5B9)) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// [`Rng::below`] for signed amounts (seconds, counts kept as `i64`).
    pub fn below_i64(&mut self, n: i64) -> i64 {
        (self.next_u64() % n.max(1) as u64) as i64
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}
