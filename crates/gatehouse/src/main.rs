//! The `gatehouse` command.

use anyhow::Context;
use clap::{Parser, Subcommand};
use gatehouse::config::{ServeArgs, ServerConfig};
use gatehouse_services::SystemClock;
use gatehouse_services::audit::ChainReport;
use gatehouse_services::jobs::DailyRun;
use std::process::ExitCode;
use std::sync::Arc;

/// Gatehouse: identity and access for health plans' provider portals.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Run the server with a demo plan and accounts on an embedded database (or `demo roster`).
    #[command(args_conflicts_with_subcommands = true)]
    Demo {
        #[command(subcommand)]
        command: Option<DemoCommand>,
        #[command(flatten)]
        args: ServeArgs,
    },
    /// Apply database migrations and exit.
    Migrate(ServeArgs),
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Plans (tenants).
    Plan {
        #[command(subcommand)]
        command: PlanCommand,
    },
    /// Plan staff accounts.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// Measure the server on this machine.
    Bench(gatehouse::bench::BenchArgs),
    /// Legacy accounts: import them with their old password hashes, measure imports.
    Import {
        #[command(subcommand)]
        command: gatehouse::import_cli::ImportCommand,
    },
    /// Provider roster: import a CSV file, measure imports.
    Roster {
        #[command(subcommand)]
        command: gatehouse::roster_cli::RosterCommand,
    },
    /// OpenID Connect provider tools.
    Oidc {
        #[command(subcommand)]
        command: OidcCommand,
    },
    /// Scheduled jobs, for operators and cron.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Run the daily job now (idle accounts) for the plans that have not run today; prints
    /// what it did. Skips when another instance is running it.
    RunDaily {
        /// Run every plan, even those that already ran today (every step is idempotent).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        server: ServeArgs,
    },
}

#[derive(Subcommand)]
enum OidcCommand {
    /// Publish a new signing key for a plan (it signs a day later; the old one stays published
    /// until its tokens have expired) and delete keys no token needs. Does nothing while a new
    /// key already waits. The daily job does this every 90 days.
    RotateKeys {
        /// The plan's slug (default: the first plan).
        #[arg(long)]
        plan: Option<String>,
        #[command(flatten)]
        server: ServeArgs,
    },
}

#[derive(Subcommand)]
enum DemoCommand {
    /// Print a synthetic provider roster as CSV (or write it to --out).
    Roster(gatehouse::roster_cli::DemoRosterArgs),
}

#[derive(Subcommand)]
enum PlanCommand {
    /// Create a plan.
    Create {
        #[command(flatten)]
        plan: gatehouse::plan_cli::PlanCreateArgs,
        #[command(flatten)]
        server: ServeArgs,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Invite a staff member (the first plan administrator, for example); prints the sign-up link.
    Invite {
        #[command(flatten)]
        staff: gatehouse::plan_cli::StaffInviteArgs,
        #[command(flatten)]
        server: ServeArgs,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every plan's hash chain and report the first broken link.
    Verify(ServeArgs),
}

const DEFAULT_DB: &str = "sqlite://gatehouse.db";

/// The base URL links are built on when no server is running.
fn base_url(cfg: &ServerConfig) -> String {
    cfg.base_url.clone().unwrap_or_else(|| format!("http://localhost:{}", cfg.listen.port()))
}
const DEMO_DB: &str = "sqlite://gatehouse-demo.db";

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    // GATEHOUSE_LOG_FORMAT=json gives one JSON object a line, for log collectors.
    if std::env::var("GATEHOUSE_LOG_FORMAT").is_ok_and(|f| f == "json") {
        tracing_subscriber::fmt().json().with_env_filter(filter).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).with_target(false).init();
    }
}

/// The allocator: jemalloc purges freed pages in background threads, so memory used by a burst
/// of sign-ins goes back to the system seconds after it (docs/decisions.md, "Sign-in cost").
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    // The runtime's threads may be set to run below the password hashing threads (which are
    // started from this main thread and keep its priority) with GATEHOUSE_RUNTIME_NICE; by
    // default they run at the same priority.
    let nice = gatehouse::priority::runtime_nice();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(gatehouse::priority::runtime_threads())
        .enable_all()
        .on_thread_start(move || gatehouse::priority::lower_this_thread(nice))
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gatehouse: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gatehouse: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(a) => {
            let cfg = ServerConfig::from_args(&a, DEFAULT_DB)?;
            let running = gatehouse::start(cfg, Arc::new(SystemClock)).await?;
            println!("Gatehouse is listening on http://{} (portal: {})", running.addr, running.base_url);
            running.wait().await;
        }
        Command::Demo { command: Some(DemoCommand::Roster(r)), .. } => gatehouse::roster_cli::demo_roster(&r)?,
        Command::Demo { command: None, args: a } => {
            let cfg = gatehouse::demo::config(&a, DEMO_DB)?;
            let db = cfg.database_url.clone();
            let running = gatehouse::start(cfg, Arc::new(SystemClock)).await?;
            let (plan, fresh) = gatehouse::demo::load(&running.services).await.context("loading demo data")?;
            println!();
            println!("  Gatehouse demo — {}", plan.row.name);
            println!("  Open {}/ in a browser.", running.base_url);
            println!("  Database: {db}{}", if fresh { " (demo data loaded)" } else { " (existing data kept)" });
            println!();
            println!(
                "  Demo accounts (two-step codes appear in the development outbox: {}/dev/outbox):",
                running.base_url
            );
            for acc in gatehouse::demo::ACCOUNTS {
                println!("    {:<10} password \"{}\"  — {} ({})", acc.username, acc.password, acc.name, acc.role);
            }
            let c = &gatehouse::demo::SAMPLE_CLIENT;
            println!("  Sample OpenID Connect client \"{}\" (first-party, confidential):", c.name);
            println!("    client id \"{}\"  client secret \"{}\"", c.client_id, c.secret);
            println!("    redirect URI {}  post-logout URI {}", c.redirect_uri, c.post_logout_redirect_uri);
            println!(
                "  ocarter's invitation of Maria Lopez to Lakeside Family Medicine waits in the outbox \
                 (and under ocarter's Manage Pending Users): open it and sign up."
            );
            println!();
            running.wait().await;
        }
        Command::Migrate(a) => {
            let cfg = ServerConfig::from_args(&a, DEFAULT_DB)?;
            gatehouse::open_db(&cfg.database_url).await?;
            println!("Migrations applied to {}", gatehouse::redact(&cfg.database_url));
        }
        Command::Audit { command: AuditCommand::Verify(a) } => {
            let cfg = ServerConfig::from_args(&a, DEFAULT_DB)?;
            let svc = gatehouse::services(&cfg, Arc::new(SystemClock), String::new()).await?;
            let mut broken = false;
            let mut conn = svc.db.acquire().await?;
            let plans = gatehouse_store::plans::list(&mut conn).await?;
            drop(conn);
            for p in plans {
                match svc.verify_audit_chain(p.id).await? {
                    ChainReport::Intact { events } => println!("plan {} ({}): intact, {events} events", p.slug, p.name),
                    ChainReport::Broken { seq, reason } => {
                        broken = true;
                        println!("plan {} ({}): BROKEN at event {seq}: {reason}", p.slug, p.name);
                    }
                }
            }
            if broken {
                return Ok(ExitCode::from(2));
            }
        }
        Command::Plan { command: PlanCommand::Create { plan, server } } => {
            let cfg = ServerConfig::from_args(&server, DEFAULT_DB)?;
            let svc = gatehouse::services(&cfg, Arc::new(SystemClock), base_url(&cfg)).await?;
            gatehouse::plan_cli::create_plan(&svc, &plan).await?;
        }
        Command::Staff { command: StaffCommand::Invite { staff, server } } => {
            let cfg = ServerConfig::from_args(&server, DEFAULT_DB)?;
            let svc = gatehouse::services(&cfg, Arc::new(SystemClock), base_url(&cfg)).await?;
            gatehouse::plan_cli::invite_staff(&svc, &staff).await?;
            // Deliver the invitation now if SMTP is configured.
            // Without SMTP it stays queued for the first server that has one (or its dev outbox).
            let delivery = gatehouse::delivery_config(&cfg);
            gatehouse_services::delivery::Deliverer::new(svc.clone(), delivery)?.deliver_due().await?;
        }
        Command::Jobs { command: JobsCommand::RunDaily { force, server } } => {
            let cfg = ServerConfig::from_args(&server, DEFAULT_DB)?;
            let svc = gatehouse::services(&cfg, Arc::new(SystemClock), base_url(&cfg)).await?;
            let which = if force { DailyRun::Forced } else { DailyRun::Due };
            let r = svc.run_daily_job_for(svc.clock.now(), which).await?;
            if r.ran {
                println!(
                    "daily job: {} plan(s) run, {} already run today; idle accounts: {} warned, {} deactivated, {} administrator(s) kept (last of a practice); access reviews: {} opened, {} reminder email(s); OIDC signing keys: {} rotated, {} deleted",
                    r.plans_run,
                    r.plans_already_run,
                    r.idle.warned,
                    r.idle.deactivated,
                    r.idle.kept_last_admin,
                    r.reviews.opened,
                    r.reviews.emails,
                    r.oidc_keys_rotated,
                    r.oidc_keys_deleted
                );
            } else {
                println!("daily job: another instance is running it; nothing done");
            }
            // The warnings wait in the outbox: a running server's worker delivers them.
            svc.db.close().await;
        }
        Command::Oidc { command: OidcCommand::RotateKeys { plan, server } } => {
            let cfg = ServerConfig::from_args(&server, DEFAULT_DB)?;
            let svc = gatehouse::services(&cfg, Arc::new(SystemClock), base_url(&cfg)).await?;
            gatehouse::oidc_cli::rotate_keys(&svc, plan.as_deref()).await?;
            svc.db.close().await;
        }
        Command::Bench(b) => gatehouse::bench::run(b).await?,
        Command::Roster { command } => return gatehouse::roster_cli::run(command).await,
        Command::Import { command } => return gatehouse::import_cli::run(command).await,
    }
    Ok(ExitCode::SUCCESS)
}
