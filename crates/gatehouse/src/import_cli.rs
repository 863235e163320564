//! `gatehouse import users FILE`: a legacy system's accounts with their old password hashes, run
//! as the plan's operator; and `gatehouse import bench`, which times an import of synthetic
//! accounts on a fresh embedded database.

use crate::config::{ServeArgs, ServerConfig};
use crate::roster_cli::find_plan;
use anyhow::Context;
use clap::{Args, Subcommand};
use gatehouse_services::legacy_import::LegacyImportReport;
use gatehouse_services::{RequestMeta, SystemClock};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// `gatehouse import …`
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import legacy accounts from CSV (one line per affiliation) or JSON lines (one account a line).
    Users(Box<ImportUsersArgs>),
    /// Time an import of synthetic legacy accounts on a fresh embedded database.
    Bench(ImportBenchArgs),
}

/// `gatehouse import users FILE`
#[derive(Debug, Args)]
pub struct ImportUsersArgs {
    /// The file: CSV with a header row, or JSON lines.
    pub file: PathBuf,
    /// The plan's slug; needed when the database holds more than one plan.
    #[arg(long)]
    pub plan: Option<String>,
    /// How many rejected lines to print.
    #[arg(long, default_value_t = 10)]
    pub show: usize,
    #[command(flatten)]
    pub server: ServeArgs,
}

/// `gatehouse import bench`
#[derive(Debug, Args)]
pub struct ImportBenchArgs {
    /// How many accounts to import.
    #[arg(long, default_value_t = 100_000)]
    pub users: usize,
    /// Database to import into (default: a fresh SQLite file in a temporary directory). For
    /// PostgreSQL give an empty database's URL.
    #[arg(long)]
    pub database_url: Option<String>,
}

/// Runs an import subcommand.
pub async fn run(cmd: ImportCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ImportCommand::Users(a) => import(&a).await,
        ImportCommand::Bench(a) => bench(&a).await,
    }
}

async fn import(a: &ImportUsersArgs) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(&a.file).with_context(|| format!("cannot read {} as UTF-8", a.file.display()))?;
    let cfg = ServerConfig::from_args(&a.server, "sqlite://gatehouse.db")?;
    let svc = crate::services(&cfg, Arc::new(SystemClock), String::new()).await?;
    let plan = find_plan(&svc, a.plan.as_deref()).await?;
    let r = svc.import_legacy_users(&svc.operator_grant(&plan), &plan, &text, &RequestMeta::cli()).await;
    svc.db.close().await;
    let r = r.with_context(|| format!("{} was not imported", a.file.display()))?;
    print!("{}", summary(&r, a.show));
    Ok(if r.rejected_count == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// The change report as the command prints it.
pub fn summary(r: &LegacyImportReport, show: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} accounts read: {} imported, {} already imported (unchanged), {} rejected; {} affiliations added.",
        r.accounts, r.imported, r.unchanged, r.rejected_count, r.affiliations_added
    );
    for x in r.rejected.iter().take(show) {
        let _ = writeln!(s, "  line {} ({}): {}", x.line, x.username, x.reasons.join("; "));
    }
    if r.rejected.len() > show {
        let _ = writeln!(s, "  … and {} more (use --show)", r.rejected.len() - show);
    }
    s
}

async fn bench(a: &ImportBenchArgs) -> anyhow::Result<ExitCode> {
    let file =
        std::env::temp_dir().join(format!("gatehouse-import-bench-{}.db", gatehouse_services::tokens::random_u64()));
    let url = a.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", file.display()));
    let cfg = ServerConfig::local(url.clone());
    let svc = crate::services(&cfg, Arc::new(SystemClock), String::new()).await?;
    svc.db.migrate().await?;
    let (plan, _) = crate::demo::load(&svc).await?;
    let mut conn = svc.db.acquire().await?;
    let (practices, _) = gatehouse_store::legacy::roster_keys(&mut conn, plan.id()).await?;
    drop(conn);
    let tins: Vec<String> = practices.into_iter().map(|p| p.1).collect();
    // Copied hashes of the three kinds (published test vectors), never recomputed by the import.
    let hashes = [
        ("bcrypt", "$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i", "", "", ""),
        ("pbkdf2-sha1", "4b007901b765489abead49d926f721d065a429c1", "salt", "4096", ""),
        ("sha256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "a", "", "prefix"),
    ];
    let mut text = String::from(
        "username,first_name,last_name,email,status,tax_id,user_type,providers,administrator,hash_format,hash,salt,iterations,salt_position\n",
    );
    for i in 0..a.users {
        let (f, h, salt, it, pos) = hashes[i % hashes.len()];
        let tin = tins.get(i % tins.len().max(1)).map_or("", String::as_str);
        let _ = writeln!(
            text,
            "legacy{i},Pat,Legacy,legacy{i}@old.example.org,active,{tin},billing_staff,all,no,{f},{h},{salt},{it},{pos}"
        );
    }
    let started = std::time::Instant::now();
    let r = svc.import_legacy_users(&svc.operator_grant(&plan), &plan, &text, &RequestMeta::cli()).await?;
    let first = started.elapsed();
    let again = std::time::Instant::now();
    let r2 = svc.import_legacy_users(&svc.operator_grant(&plan), &plan, &text, &RequestMeta::cli()).await?;
    let second = again.elapsed();
    svc.db.close().await;
    if a.database_url.is_none() {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }
    println!("database: {}", if url.starts_with("sqlite") { "SQLite (embedded)" } else { "PostgreSQL" });
    println!(
        "import of {} legacy accounts: {:.2} s ({} imported, {} rejected, {} affiliations)",
        a.users,
        first.as_secs_f64(),
        r.imported,
        r.rejected_count,
        r.affiliations_added
    );
    println!(
        "same file again (idempotent): {:.2} s ({} unchanged, {} imported)",
        second.as_secs_f64(),
        r2.unchanged,
        r2.imported
    );
    Ok(ExitCode::SUCCESS)
}
