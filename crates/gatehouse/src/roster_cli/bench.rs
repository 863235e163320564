//! `gatehouse roster bench`: imports a synthetic roster of N providers into a fresh SQLite file
//! and, when a PostgreSQL server is given, a fresh PostgreSQL database, then imports the same
//! file again (which must change nothing), and prints the seconds of each.

use crate::config::ServerConfig;
use anyhow::{Context, bail, ensure};
use clap::Args;
use gatehouse_services::plans::NewPlan;
use gatehouse_services::roster::{ImportOptions, ImportReport};
use gatehouse_services::{RequestMeta, Services, SystemClock};
use sqlx::Connection;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Target for importing 100,000 new providers.
const FIRST_TARGET: Duration = Duration::from_secs(5);
/// Target for importing the same 100,000 providers again.
const AGAIN_TARGET: Duration = Duration::from_secs(3);
/// The size the targets are set for.
const TARGET_SIZE: usize = 100_000;

/// Options of `gatehouse roster bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchRosterArgs {
    /// Providers in the synthetic roster (1 to 2,000,000).
    #[arg(long, default_value_t = TARGET_SIZE)]
    pub providers: usize,
    /// Seed of the synthetic roster.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// A PostgreSQL server (`postgres://user@host:port`) on which to create a fresh database;
    /// default `GATEHOUSE_TEST_PG`. Without either, only SQLite is measured.
    #[arg(long)]
    pub database_url: Option<String>,
}

/// One database's figures.
struct Figures {
    database: &'static str,
    first: Duration,
    again: Duration,
}

/// Runs the benchmark and prints its table.
pub async fn bench_roster(args: &BenchRosterArgs) -> anyhow::Result<()> {
    ensure!((1..=2_000_000).contains(&args.providers), "--providers must be between 1 and 2,000,000");
    let started = Instant::now();
    let csv = gatehouse_domain::roster::synthetic_roster_csv(args.providers, args.seed);
    let generated = started.elapsed();
    println!(
        "Roster import: {} providers ({:.1} MB of CSV, generated in {:.2} s), seed {}",
        args.providers,
        csv.len() as f64 / 1e6,
        generated.as_secs_f64(),
        args.seed
    );
    let mut figures = vec![sqlite(args, csv.as_bytes()).await.context("SQLite roster benchmark")?];
    let pg = args.database_url.clone().or_else(|| std::env::var("GATEHOUSE_TEST_PG").ok());
    match pg {
        Some(server) => {
            figures.push(postgres(args, &server, csv.as_bytes()).await.context("PostgreSQL roster benchmark")?)
        }
        None => println!("PostgreSQL: skipped (give --database-url postgres://… or set GATEHOUSE_TEST_PG)"),
    }
    print!("{}", table(&figures, args.providers));
    Ok(())
}

fn table(figures: &[Figures], providers: usize) -> String {
    let scale = providers as f64 / TARGET_SIZE as f64;
    let first_target = FIRST_TARGET.as_secs_f64() * scale;
    let again_target = AGAIN_TARGET.as_secs_f64() * scale;
    let verdict = |d: Duration, t: f64| if d.as_secs_f64() <= t { "met" } else { "MISSED" };
    let mut out =
        String::from("| database | first import | target | re-import (0 changes) | target |\n|---|---|---|---|---|\n");
    for f in figures {
        out.push_str(&format!(
            "| {} | {:.2} s ({:.0} rows/s) | ≤ {first_target:.1} s: {} | {:.2} s | ≤ {again_target:.1} s: {} |\n",
            f.database,
            f.first.as_secs_f64(),
            providers as f64 / f.first.as_secs_f64().max(1e-9),
            verdict(f.first, first_target),
            f.again.as_secs_f64(),
            verdict(f.again, again_target),
        ));
    }
    if providers != TARGET_SIZE {
        out.push_str(&format!("(targets scaled linearly from {TARGET_SIZE} providers)\n"));
    }
    out
}

/// Imports the file twice into a new plan and checks the reports.
async fn measure(svc: &Services, database: &'static str, csv: &[u8], providers: usize) -> anyhow::Result<Figures> {
    let plan = svc
        .create_plan(NewPlan {
            slug: "bench".into(),
            name: "Roster Benchmark Plan".into(),
            host: None,
            support_phone: "1-800-555-0199".into(),
            support_hours: "8-5".into(),
            terms_text: "Benchmark.".into(),
        })
        .await?;
    let grant = svc.operator_grant(&plan);
    let meta = RequestMeta::cli();
    let import = || async {
        let t = Instant::now();
        let r = svc
            .import_roster(&grant, &plan, "bench.csv", csv, ImportOptions::default(), &meta, &|_| {})
            .await
            .map_err(|e| anyhow::anyhow!("import failed: {e}"))?;
        Ok::<(Duration, ImportReport), anyhow::Error>((t.elapsed(), r))
    };
    let (first, r) = import().await?;
    let n = providers as u64;
    if !r.applied || r.counts.added != n {
        bail!("first import added {} of {n} providers ({} rejected)", r.counts.added, r.counts.rejected);
    }
    let (again, r) = import().await?;
    if !r.is_no_op() || r.counts.unchanged != n {
        bail!("re-import was not a no-op: {:?}", r.counts);
    }
    println!("{database}: first import {:.2} s, re-import {:.2} s", first.as_secs_f64(), again.as_secs_f64());
    Ok(Figures { database, first, again })
}

async fn open(url: &str) -> anyhow::Result<Services> {
    crate::services(&ServerConfig::local(url), Arc::new(SystemClock), String::new()).await
}

async fn sqlite(args: &BenchRosterArgs, csv: &[u8]) -> anyhow::Result<Figures> {
    let dir = std::env::temp_dir().join(format!(
        "gatehouse-roster-bench-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let result = async {
        let svc = open(&format!("sqlite://{}", dir.join("roster.db").display())).await?;
        let f = measure(&svc, "SQLite", csv, args.providers).await;
        svc.db.close().await;
        f
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// `postgres://user@host:port` with its path replaced by `/name`.
fn with_database(server: &str, name: &str) -> anyhow::Result<String> {
    let mut u = url::Url::parse(server).with_context(|| format!("{} is not a URL", crate::redact(server)))?;
    ensure!(matches!(u.scheme(), "postgres" | "postgresql"), "--database-url must be a postgres:// URL");
    u.set_path(&format!("/{name}"));
    Ok(u.to_string())
}

async fn postgres(args: &BenchRosterArgs, server: &str, csv: &[u8]) -> anyhow::Result<Figures> {
    let admin_url = with_database(server, "postgres")?;
    let name = format!("gh_roster_bench_{:012x}", rand::random::<u64>() >> 16);
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .with_context(|| format!("cannot connect to {}", crate::redact(&admin_url)))?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.context("cannot create the database")?;
    let result = async {
        let svc = open(&with_database(server, &name)?).await?;
        let f = measure(&svc, "PostgreSQL", csv, args.providers).await;
        svc.db.close().await;
        f
    }
    .await;
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await;
    let _ = admin.close().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_replace_the_path() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432", "x").unwrap(),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(with_database("postgres://u:p@h/db", "y").unwrap(), "postgres://u:p@h/y");
        assert!(with_database("sqlite://x.db", "y").is_err());
    }

    #[test]
    fn table_gives_verdicts() {
        let f = Figures { database: "SQLite", first: Duration::from_secs(2), again: Duration::from_secs(4) };
        let t = table(&[f], TARGET_SIZE);
        assert!(t.contains("≤ 5.0 s: met"), "{t}");
        assert!(t.contains("≤ 3.0 s: MISSED"), "{t}");
    }
}
