//! Connecting, migrating and opening transactions.

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions};

use std::str::FromStr;
use std::time::Duration;
use thiserror::Error;

/// A connection, inside or outside a transaction.
pub type Conn = sqlx::AnyConnection;
/// A transaction; commit it or it rolls back when dropped.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// Which database a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// The embedded database (one instance).
    Sqlite,
    /// PostgreSQL (one or many instances).
    Postgres,
}

/// Storage failures. Their text is for logs, never for the client.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: use sqlite:// or postgres://")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored value is invalid: {0}")]
    Corrupt(String),
    #[error("a database task stopped: {0}")]
    Task(tokio::task::JoinError),
}

impl StoreError {
    /// Whether the error is a unique-constraint violation (a concurrent insert won).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Self::Sqlx(sqlx::Error::Database(e)) => e.is_unique_violation(),
            _ => false,
        }
    }
}

/// The database pool and its kind.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    /// Where write transactions run (on SQLite a one-connection pool; on PostgreSQL `pool`).
    writer: AnyPool,
    kind: DbKind,
}

impl Db {
    /// Connects to `url` (`sqlite://file.db`, `sqlite::memory:`, or `postgres://…`). A SQLite
    /// file is created if missing and opened in WAL mode with a busy timeout.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let kind = if url.starts_with("sqlite:") {
            DbKind::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            DbKind::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        let (pool, writer) = match kind {
            DbKind::Sqlite => {
                let url = if url.contains('?') { url.to_owned() } else { format!("{url}?mode=rwc") };
                let opts = quiet(AnyConnectOptions::from_str(&url)?);
                let pool = sqlite_pool(8, "").connect_with(opts.clone()).await?;
                // SQLite has one writer at a time: queueing write transactions on one connection
                // in-process is fair and quick, where several would sleep in SQLite's busy handler.
                // The writer never checkpoints: a checkpoint's copying and its two fsyncs would
                // hold every queued write behind them; `checkpoints` does it beside the writer.
                let writer = sqlite_pool(1, "PRAGMA wal_autocheckpoint = 0;")
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(opts)
                    .await?;
                tokio::spawn(checkpoints(pool.clone()));
                (pool, writer)
            }
            DbKind::Postgres => {
                let opts = quiet(AnyConnectOptions::from_str(url)?);
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await?;
                (pool.clone(), pool)
            }
        };
        Ok(Self { pool, writer, kind })
    }

    /// Applies the migrations of this database kind that have not run yet.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.kind {
            DbKind::Sqlite => sqlx::migrate!("../../migrations/sqlite").run(&self.pool).await?,
            DbKind::Postgres => sqlx::migrate!("../../migrations/postgres").run(&self.pool).await?,
        }
        Ok(())
    }

    /// Which database this is.
    pub fn kind(&self) -> DbKind {
        self.kind
    }

    /// The pool, for reads outside a transaction.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A connection from the pool, for reads outside a transaction.
    pub async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so a read-then-write transaction never fails to upgrade.
    ///
    /// The begin runs to its end in a task of its own, even when the caller is dropped halfway
    /// (a client that hangs up cancels its request wherever it waits). sqlx's `begin_with` on
    /// SQLite has a moment, after the BEGIN has run and before the transaction exists to roll
    /// itself back when dropped, where a cancelled caller left the one writing connection inside
    /// a transaction that nothing would end: every later write was then refused as nested, until
    /// a restart. A begin that finishes after its caller is gone is dropped in the task, and so
    /// rolled back.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let (kind, writer) = (self.kind, self.writer.clone());
        let begun = tokio::spawn(async move {
            match kind {
                DbKind::Sqlite => writer.begin_with("BEGIN IMMEDIATE").await,
                DbKind::Postgres => writer.begin().await,
            }
        });
        Ok(begun.await.map_err(StoreError::Task)??)
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// A transaction on `conn` for reading: every statement in it sees one snapshot. End it with
/// [`end_read`].
pub async fn begin_read(conn: &mut Conn) -> Result<sqlx::Transaction<'_, sqlx::Any>, StoreError> {
    Ok(sqlx::Connection::begin(conn).await?)
}

/// Ends a transaction begun with [`begin_read`].
pub async fn end_read(tx: sqlx::Transaction<'_, sqlx::Any>) -> Result<(), StoreError> {
    tx.rollback().await?;
    Ok(())
}

/// Commits a transaction.
pub async fn commit(tx: Tx) -> Result<(), StoreError> {
    tx.commit().await?;
    Ok(())
}

/// Statements are reported (sqlx's event at target `sqlx::query`) at TRACE only, and never as
/// slow: nothing is formatted unless a subscriber asks for that target at that level (a test
/// counts a sign-in's statements this way; `RUST_LOG=sqlx::query=trace` shows them).
fn quiet(opts: AnyConnectOptions) -> AnyConnectOptions {
    opts.log_statements(log::LevelFilter::Trace).log_slow_statements(log::LevelFilter::Off, Duration::MAX)
}

/// Pool options for SQLite connections: WAL, a busy timeout, foreign keys, and the file mapped
/// into memory (up to 2 GiB), so that every connection reads pages from the operating system's
/// cache without copying them into its own small page cache (the user searches read tens of
/// thousands of index entries at a million users). A connection is not pinged when it is taken
/// from the pool: an open file cannot drop like a network connection, and the ping was a round
/// trip to the connection's thread on every acquire (two per sign-in).
fn sqlite_pool(max: u32, extra: &'static str) -> AnyPoolOptions {
    AnyPoolOptions::new().max_connections(max).test_before_acquire(false).after_connect(move |conn, _meta| {
        Box::pin(async move {
            let pragmas = format!(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
                 PRAGMA mmap_size = 2147418112; {extra}"
            );
            sqlx::query(&pragmas).execute(conn).await?;
            Ok(())
        })
    })
}

/// How often [`checkpoints`] copies the SQLite write-ahead log into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Copies what the write-ahead log holds into the database file every [`CHECKPOINT_EVERY`], on a
/// reading connection, until the pool is closed. A passive checkpoint never waits for the writer
/// and the writer never waits for it, so no request waits for its fsyncs (with SQLite's own
/// automatic checkpoints the committing write did the copying, holding the one writer
/// connection, and every write queued behind it).
async fn checkpoints(pool: AnyPool) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "cannot checkpoint the SQLite write-ahead log");
        }
    }
}
