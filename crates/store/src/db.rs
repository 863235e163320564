//! Connecting, migrating and opening transactions.

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, ConnectOptions};

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::time::Duration;
use thiserror::Error;

use crate::batch::{self, Answers, Batch};
use crate::sqlite_conns;

/// A connection, inside or outside a transaction.
pub type Conn = sqlx::AnyConnection;

/// Which database a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// The embedded database (one instance).
    Sqlite,
    /// PostgreSQL (one or many instances).
    Postgres,
}

impl DbKind {
    /// Which database `conn` talks to.
    pub fn of(conn: &Conn) -> Self {
        if conn.backend_name().eq_ignore_ascii_case("sqlite") { DbKind::Sqlite } else { DbKind::Postgres }
    }
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
    #[error("connection pool: {0}")]
    Pool(String),
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

/// The database's connections and its kind.
#[derive(Clone)]
pub struct Db {
    /// sqlx's pool: every connection on PostgreSQL; on SQLite the one for migrations, checkpoints
    /// and [`Db::pool`]'s callers (benchmarks, tests).
    pool: AnyPool,
    /// On SQLite, the connections lent to requests (see [`sqlite_conns`]).
    sqlite: Option<SqliteConns>,
    kind: DbKind,
}

/// SQLite's connections for requests.
#[derive(Clone)]
struct SqliteConns {
    /// For reads outside a transaction.
    readers: sqlite_conns::Pool,
    /// Where write transactions run: one connection.
    writer: sqlite_conns::Pool,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db").field("kind", &self.kind).finish_non_exhaustive()
    }
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
        let (pool, sqlite) = match kind {
            DbKind::Sqlite => {
                let url = if url.contains('?') { url.to_owned() } else { format!("{url}?mode=rwc") };
                let opts = quiet(AnyConnectOptions::from_str(&url)?);
                let pool = sqlite_pool(4).connect_with(opts.clone()).await?;
                let readers = sqlite_conns::pool(opts.clone(), 8, "", Duration::from_secs(30))?;
                // SQLite has one writer at a time: queueing write transactions on one connection
                // in-process is fair and quick, where several would sleep in SQLite's busy handler.
                // The writer never checkpoints: a checkpoint's copying and its two fsyncs would
                // hold every queued write behind them; `checkpoints` does it beside the writer.
                let writer = sqlite_conns::pool(opts, 1, "PRAGMA wal_autocheckpoint = 0;", Duration::from_secs(30))?;
                tokio::spawn(checkpoints(pool.clone()));
                (pool, Some(SqliteConns { readers, writer }))
            }
            DbKind::Postgres => {
                let opts = quiet(AnyConnectOptions::from_str(url)?);
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| {
                        Box::pin(async move {
                            if meta.idle_for >= CHECK_IDLE_FOR {
                                sqlx::Connection::ping(conn).await?;
                            }
                            Ok(true)
                        })
                    })
                    .connect_with(opts)
                    .await?;
                (pool, None)
            }
        };
        Ok(Self { pool, sqlite, kind })
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

    /// sqlx's pool, for statements outside the services (benchmarks, tests).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A connection for reads outside a transaction.
    pub async fn acquire(&self) -> Result<Lease, StoreError> {
        Ok(Lease(match &self.sqlite {
            Some(s) => LeaseKind::Sqlite(sqlite_conns::lend(&s.readers).await?),
            None => LeaseKind::Pooled(self.pool.acquire().await?),
        }))
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so a read-then-write transaction never fails to upgrade.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(self.begin_with(Batch::new()).await?.0)
    }

    /// Begins a transaction that will write, as [`Db::begin`], and runs `batch` in it. On SQLite
    /// the `BEGIN IMMEDIATE` and the batch are one command to the connection's thread.
    ///
    /// A caller dropped halfway (a client that hangs up cancels its request wherever it waits)
    /// leaves no transaction open. On SQLite the transaction counts as open from before its
    /// `BEGIN` is sent, and one dropped open is rolled back (`SqliteTx`'s drop). On PostgreSQL
    /// the begin runs to its end in a task of its own, and a transaction that began after its
    /// caller was gone is dropped there, and so rolled back.
    pub async fn begin_with(&self, batch: Batch<'_>) -> Result<(Tx, Answers), StoreError> {
        let Some(s) = &self.sqlite else {
            let pool = self.pool.clone();
            let begun = tokio::spawn(async move { pool.begin().await });
            let mut t = begun.await.map_err(StoreError::Task)??;
            let answers = batch::run(&mut t, self.kind, None, batch, None).await?;
            return Ok((Tx(TxKind::Pooled(t)), answers));
        };
        let mut tx = SqliteTx { conn: Some(sqlite_conns::lend(&s.writer).await?), open: true };
        let conn = tx.conn()?;
        match batch::run(conn, DbKind::Sqlite, Some("BEGIN IMMEDIATE"), batch, None).await {
            Ok(answers) => Ok((Tx(TxKind::Sqlite(tx)), answers)),
            Err(e) => {
                // A statement failed after the `BEGIN`, or the `BEGIN` did (the write lock not had
                // in time): either way nothing stays open. (Outside a transaction `ROLLBACK` fails.)
                let _ = sqlx::query("ROLLBACK").execute(tx.conn()?).await;
                tx.open = false;
                Err(e)
            }
        }
    }

    /// Runs `batch` as a transaction of its own and commits it: on SQLite one command to the
    /// writer connection's thread (`BEGIN IMMEDIATE`, the statements, `COMMIT`), on PostgreSQL a
    /// transaction. Nothing of it stays if any statement fails; dropped before its end, it is
    /// rolled back as [`Db::begin_with`]'s transaction is.
    pub async fn write(&self, batch: Batch<'_>) -> Result<Answers, StoreError> {
        let Some(s) = &self.sqlite else {
            let (tx, answers) = self.begin_with(batch).await?;
            commit_with(tx, Batch::new()).await?;
            return Ok(answers);
        };
        let mut tx = SqliteTx { conn: Some(sqlite_conns::lend(&s.writer).await?), open: true };
        let conn = tx.conn()?;
        let ran = batch::run(conn, DbKind::Sqlite, Some("BEGIN IMMEDIATE"), batch, Some("COMMIT")).await;
        if ran.is_err() {
            // As in `begin_with`: whatever failed, nothing stays open.
            let _ = sqlx::query("ROLLBACK").execute(tx.conn()?).await;
        }
        tx.open = false;
        ran
    }

    /// Closes every connection.
    pub async fn close(&self) {
        if let Some(s) = &self.sqlite {
            s.writer.close();
            s.readers.close();
        }
        self.pool.close().await;
    }
}

/// How long a connection may have gone unused before it is checked (pinged) when taken: on
/// PostgreSQL, where sqlx would ping every connection taken from its pool (a round trip to the
/// server for each statement's or transaction's connection, two per sign-in), and on SQLite
/// (`sqlite_conns`). One used within the last second (every one, under load) is taken as it is,
/// as connection pools commonly do; one unused for longer may have been cut by a restart of the
/// server or by the network, and is pinged, and replaced if the ping fails. sqlx still pings each
/// PostgreSQL connection it takes back.
pub(crate) const CHECK_IDLE_FOR: Duration = Duration::from_secs(1);

/// A connection for reads outside a transaction, from [`Db::acquire`]; it goes back when dropped.
pub struct Lease(LeaseKind);

enum LeaseKind {
    Pooled(PoolConnection<Any>),
    Sqlite(sqlite_conns::Lent),
}

impl Deref for Lease {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        match &self.0 {
            LeaseKind::Pooled(c) => c,
            LeaseKind::Sqlite(c) => c,
        }
    }
}

impl DerefMut for Lease {
    fn deref_mut(&mut self) -> &mut Conn {
        match &mut self.0 {
            LeaseKind::Pooled(c) => c,
            LeaseKind::Sqlite(c) => c,
        }
    }
}

/// A transaction that will write, from [`Db::begin`]: [`commit`] it, or it rolls back when dropped.
pub struct Tx(TxKind);

enum TxKind {
    Pooled(sqlx::Transaction<'static, Any>),
    Sqlite(SqliteTx),
}

/// A transaction on SQLite's writing connection, begun and ended with plain statements (sqlx's
/// own begin asks the connection's thread a second time whether the transaction began). Dropped
/// open, it is rolled back in a task that holds the connection until the `ROLLBACK` has run, so
/// the next borrower finds none open.
struct SqliteTx {
    /// Always there until dropped.
    conn: Option<sqlite_conns::Lent>,
    /// Whether a transaction may be open: from before `BEGIN` is sent to when `COMMIT` answers.
    open: bool,
}

impl SqliteTx {
    fn conn(&mut self) -> Result<&mut Conn, StoreError> {
        self.conn.as_deref_mut().ok_or_else(|| StoreError::Pool("the transaction's connection is gone".into()))
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if !self.open {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(roll_back(conn));
            }
            // No runtime left (shutting down): the connection is closed, and SQLite rolls back.
            Err(_) => drop(deadpool::managed::Object::take(conn)),
        }
    }
}

/// Rolls back what a dropped [`SqliteTx`] left open. A connection that cannot (its `COMMIT` ran
/// after all, or its thread is gone) is closed rather than lent again.
async fn roll_back(mut conn: sqlite_conns::Lent) {
    if let Err(e) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
        tracing::debug!(error = %e, "closing a writing connection whose transaction could not be rolled back");
        drop(deadpool::managed::Object::take(conn));
    }
}

impl Deref for Tx {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        match &self.0 {
            TxKind::Pooled(t) => t,
            // The connection leaves only in the drop.
            TxKind::Sqlite(t) => {
                t.conn.as_deref().unwrap_or_else(|| unreachable!("a live transaction has its connection"))
            }
        }
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        match &mut self.0 {
            TxKind::Pooled(t) => t,
            TxKind::Sqlite(t) => {
                t.conn.as_deref_mut().unwrap_or_else(|| unreachable!("a live transaction has its connection"))
            }
        }
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
    commit_with(tx, Batch::new()).await.map(|_| ())
}

/// Runs `batch` in the transaction and commits it: on SQLite one command to the connection's
/// thread. Nothing of the transaction stays if any statement fails.
pub async fn commit_with(tx: Tx, batch: Batch<'_>) -> Result<Answers, StoreError> {
    match tx.0 {
        TxKind::Pooled(mut t) => {
            let answers = batch::run(&mut t, DbKind::Postgres, None, batch, None).await?;
            t.commit().await?;
            Ok(answers)
        }
        TxKind::Sqlite(mut t) => {
            let answers = batch::run(t.conn()?, DbKind::Sqlite, None, batch, Some("COMMIT")).await?;
            t.open = false;
            Ok(answers)
        }
    }
}

/// Statements are reported (sqlx's event at target `sqlx::query`) at TRACE only, and never as
/// slow: nothing is formatted unless a subscriber asks for that target at that level (a test
/// counts a sign-in's statements this way; `RUST_LOG=sqlx::query=trace` shows them).
fn quiet(opts: AnyConnectOptions) -> AnyConnectOptions {
    opts.log_statements(log::LevelFilter::Trace).log_slow_statements(log::LevelFilter::Off, Duration::MAX)
}

/// sqlx's pool options for SQLite connections, with [`sqlite_conns::pragmas`]. A connection is
/// not pinged when it is taken from the pool: an open file cannot drop like a network connection.
fn sqlite_pool(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new().max_connections(max).test_before_acquire(false).after_connect(move |conn, _meta| {
        Box::pin(async move {
            sqlx::query(&sqlite_conns::pragmas("")).execute(conn).await?;
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
