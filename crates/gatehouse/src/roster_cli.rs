//! `gatehouse roster import|bench` and `gatehouse demo roster`: the provider roster at the
//! command line. The import runs as the plan's operator (see `Services::operator_grant`).

mod bench;
mod progress;

pub use bench::{BenchRosterArgs, bench_roster};

use crate::config::{ServeArgs, ServerConfig};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use gatehouse_services::plans::Plan;
use gatehouse_services::roster::{ImportOptions, ImportReport};
use gatehouse_services::{RequestMeta, Services, SystemClock};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// `gatehouse roster …`
#[derive(Debug, Subcommand)]
pub enum RosterCommand {
    /// Import a provider roster CSV file into a plan (idempotent; prints the change report).
    Import(Box<ImportArgs>),
    /// Measure roster imports of synthetic rosters on SQLite and PostgreSQL.
    Bench(BenchRosterArgs),
}

/// `gatehouse roster import FILE`
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV file exported from the claims system (header row required).
    pub file: PathBuf,
    /// The plan's slug; needed when the database holds more than one plan.
    #[arg(long)]
    pub plan: Option<String>,
    /// Import the valid lines even when some are rejected (by default one rejected line
    /// leaves the roster unchanged).
    #[arg(long)]
    pub accept_valid_rows: bool,
    /// How many entries of each list (rejected, changed, removed) to print.
    #[arg(long, default_value_t = 10)]
    pub show: usize,
    #[command(flatten)]
    pub server: ServeArgs,
}

/// `gatehouse demo roster`
#[derive(Debug, Args)]
pub struct DemoRosterArgs {
    /// How many provider lines to write.
    #[arg(long, default_value_t = 1_000)]
    pub providers: usize,
    /// The same seed gives the same file.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the CSV to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

const DEFAULT_DB: &str = "sqlite://gatehouse.db";

/// Runs a `gatehouse roster` command.
pub async fn run(cmd: RosterCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RosterCommand::Import(a) => import(&a).await,
        RosterCommand::Bench(a) => bench_roster(&a).await.map(|()| ExitCode::SUCCESS),
    }
}

/// `gatehouse demo roster`: prints a synthetic roster, or writes it to `--out`.
pub fn demo_roster(a: &DemoRosterArgs) -> anyhow::Result<()> {
    let csv = gatehouse_domain::roster::synthetic_roster_csv(a.providers, a.seed);
    match &a.out {
        Some(path) => {
            std::fs::write(path, csv).with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("Wrote {} providers to {}", a.providers, path.display());
        }
        None => print!("{csv}"),
    }
    Ok(())
}

/// The plan named by `slug`, or the only plan.
pub async fn find_plan(svc: &Services, slug: Option<&str>) -> anyhow::Result<Plan> {
    if let Some(s) = slug {
        return match svc.resolve_plan(Some(s)).await? {
            Some(p) if p.row.slug == s => Ok(p),
            _ => bail!("there is no plan with the slug {s:?}"),
        };
    }
    let mut conn = svc.db.acquire().await?;
    let plans = gatehouse_store::plans::list(&mut conn).await?;
    match plans.as_slice() {
        [] => bail!("the database has no plan yet"),
        [one] => Ok(Plan { row: one.clone() }),
        many => {
            let slugs: Vec<&str> = many.iter().map(|p| p.slug.as_str()).collect();
            bail!("the database holds several plans: choose one with --plan ({})", slugs.join(", "))
        }
    }
}

async fn import(a: &ImportArgs) -> anyhow::Result<ExitCode> {
    let csv = std::fs::read(&a.file).with_context(|| format!("cannot read {}", a.file.display()))?;
    let cfg = ServerConfig::from_args(&a.server, DEFAULT_DB)?;
    let svc = crate::services(&cfg, Arc::new(SystemClock), String::new()).await?;
    let plan = find_plan(&svc, a.plan.as_deref()).await?;
    let file_name = a.file.file_name().map_or_else(|| a.file.display().to_string(), |n| n.to_string_lossy().into());
    let bar = progress::Bar::new();
    let report = svc
        .import_roster(
            &svc.operator_grant(&plan),
            &plan,
            &file_name,
            &csv,
            ImportOptions { import_valid_rows: a.accept_valid_rows },
            &RequestMeta::cli(),
            &|p| bar.update(p),
        )
        .await;
    bar.finish();
    svc.db.close().await;
    let report = report.with_context(|| format!("{} was not imported", a.file.display()))?;
    print!("{}", summary(&report, &plan, a.show));
    Ok(if report.applied { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// The change report as the command prints it.
pub fn summary(r: &ImportReport, plan: &Plan, show: usize) -> String {
    let c = &r.counts;
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    if r.applied {
        line(format!("Imported {} into plan {} ({}): import #{}", r.file_name, plan.row.slug, plan.row.name, r.id));
    } else {
        line(format!(
            "Nothing was imported from {}: {} of {} lines were rejected (import #{} records the refusal).",
            r.file_name, c.rejected, c.lines, r.id
        ));
        line("Fix them and import the file again, or use --accept-valid-rows to import the valid lines.".into());
    }
    line(format!("  lines read            {:>9}", c.lines));
    if r.applied {
        line(format!("  added                 {:>9}", c.added));
        line(format!("  changed               {:>9}", c.changed));
        line(format!("  removed (end-dated)   {:>9}", c.removed));
        line(format!("  unchanged             {:>9}", c.unchanged));
        line(format!("  practices added       {:>9}", c.practices_added));
        line(format!("  practices changed     {:>9}", c.practices_changed));
    }
    line(format!("  rejected              {:>9}", c.rejected));
    for rj in r.rejected.iter().take(show) {
        let id = rj.provider_id.as_deref().map(|p| format!(" ({p})")).unwrap_or_default();
        line(format!("  rejected line {}{id}: {}", rj.line, rj.reason));
    }
    for ch in r.changed.iter().take(show) {
        let fields: Vec<String> =
            ch.changes.iter().map(|f| format!("{}: {:?} → {:?}", f.field, f.old, f.new)).collect();
        line(format!("  changed {} {}: {}", ch.provider_id, ch.name, fields.join("; ")));
    }
    for e in r.removed.iter().take(show) {
        line(format!("  end-dated {} {} (Tax ID {})", e.provider_id, e.name, e.tax_id));
    }
    let listed = r.rejected.len().max(r.changed.len()).max(r.removed.len());
    if listed > show {
        line(format!("  (first {show} of each list shown; the whole report is stored with import #{})", r.id));
    }
    out
}
