//! Counting the SQL statements a piece of work runs. sqlx reports every statement it runs as a
//! tracing event at target `sqlx::query` (at DEBUG, its default), from the task that runs it or,
//! for SQLite, from the connection's own thread inside the span of the task that sent it. A
//! process-wide subscriber (installed once, in this test binary only) listens to those events
//! and to nothing else, and files each under the [`statements_of`] span it happened in, so tests
//! running at the same time do not count each other's statements.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Instrument, Metadata, Subscriber, span};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// The name of the span that collects statements.
const SPAN: &str = "counted_sql_statements";
/// sqlx's target for the statement events.
const SQLX: &str = "sqlx::query";

/// The statements seen so far, by the id of the span collecting them.
fn seen() -> &'static Mutex<HashMap<u64, Vec<String>>> {
    static SEEN: OnceLock<Mutex<HashMap<u64, Vec<String>>>> = OnceLock::new();
    SEEN.get_or_init(Default::default)
}

/// The collecting span's id, kept with the span.
struct Collector(u64);

/// Reads the collecting span's `collector` field, or a statement's `summary` and `db.statement`.
#[derive(Default)]
struct Fields {
    collector: Option<u64>,
    summary: String,
    statement: String,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "collector" {
            self.collector = Some(value);
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => value.clone_into(&mut self.summary),
            "db.statement" => value.trim().clone_into(&mut self.statement),
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if matches!(field.name(), "summary" | "db.statement") {
            self.record_str(field, format!("{value:?}").trim_matches('"'));
        }
    }
}

struct Counting;

fn wanted(m: &Metadata<'_>) -> bool {
    m.target() == SQLX || m.name() == SPAN
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Counting {
    fn register_callsite(&self, m: &'static Metadata<'static>) -> Interest {
        if wanted(m) { Interest::always() } else { Interest::never() }
    }

    fn enabled(&self, m: &Metadata<'_>, _: Context<'_, S>) -> bool {
        wanted(m)
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let mut f = Fields::default();
        attrs.record(&mut f);
        if let (Some(c), Some(span)) = (f.collector, ctx.span(id)) {
            span.extensions_mut().insert(Collector(c));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != SQLX {
            return;
        }
        let Some(scope) = ctx.event_scope(event) else { return };
        let Some(collector) = scope.into_iter().find_map(|s| s.extensions().get::<Collector>().map(|c| c.0)) else {
            return;
        };
        let mut f = Fields::default();
        event.record(&mut f);
        let text = if f.statement.is_empty() { f.summary } else { f.statement };
        seen()
            .lock()
            .expect("statements")
            .entry(collector)
            .or_default()
            .push(text.split_whitespace().collect::<Vec<_>>().join(" "));
    }
}

/// Installs the counting subscriber for the whole test binary, once.
fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let subscriber = tracing_subscriber::registry().with(Counting);
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other tracing subscriber in the test binary (the statement counter needs the global one)");
    });
}

/// Whether a statement only opens or ends a transaction (left out of the statement counts).
pub fn is_transaction_control(sql: &str) -> bool {
    let first = sql.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
    matches!(first.as_str(), "BEGIN" | "COMMIT" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" | "END")
}

/// What a piece of work asked of the database.
#[derive(Debug)]
pub struct Sent {
    /// Each command sent, in order, as its text with white space collapsed: one statement, or
    /// several sent together (a batch, on SQLite). sqlx reports SQLite's `BEGIN IMMEDIATE` and
    /// `COMMIT` (plain statements) and PostgreSQL's `COMMIT`, but not PostgreSQL's `BEGIN`.
    pub commands: Vec<String>,
}

impl Sent {
    /// The SQL statements, transaction control left out: the commands split at `;` (the store's
    /// SQL holds no `;` in its text).
    pub fn statements(&self) -> Vec<String> {
        self.commands
            .iter()
            .flat_map(|c| c.split(';'))
            .map(str::trim)
            .filter(|s| !s.is_empty() && !is_transaction_control(s))
            .map(str::to_owned)
            .collect()
    }
}

/// Runs `work` and returns its output and what it sent to the database.
pub async fn statements_of<F: Future>(work: F) -> (F::Output, Sent) {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    install();
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let out = work.instrument(tracing::info_span!("counted_sql_statements", collector = id)).await;
    let commands = seen().lock().expect("statements").remove(&id).unwrap_or_default();
    (out, Sent { commands })
}

#[test]
fn batches_count_as_their_statements() {
    let sent = Sent {
        commands: vec![
            "SELECT a FROM t".into(),
            "BEGIN IMMEDIATE; INSERT INTO s VALUES ($1); UPDATE h SET n = n + $2".into(),
            "INSERT INTO e VALUES ($1); COMMIT".into(),
        ],
    };
    assert_eq!(sent.statements().len(), 4);
}
