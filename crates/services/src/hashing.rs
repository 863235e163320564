//! Password hashing: Argon2id on a small pool of dedicated threads, one per core, off the async
//! runtime. Work waits in a bounded queue; when the queue is full the caller gets
//! [`HashError::Overloaded`] at once (the web layer answers 503 with Retry-After) instead of
//! letting every sign-in's latency grow without bound. Capacity (`workers + queue` jobs running
//! or waiting) is counted by a semaphore whose permit a job holds until its answer is sent.
//!
//! The queue absorbs bursts; under sustained overload it would only make every admitted sign-in
//! wait longer (each place in it is one more hash to wait for, with nothing gained: the workers
//! are busy either way). So once every place has been taken, and for [`OVERLOAD_WINDOW`] after,
//! the queue is closed ([`HashConfig::overload_queue`]): a sign-in is admitted only when a worker
//! is free, and waits for no other hash. Refusals made by that shorter limit do not prolong the
//! window, so a steady load that fits the whole queue gets all of it back.
//!
//! Every password check costs exactly one Argon2id verification, whatever the account: a stored
//! Argon2id hash, the dummy hash for an unknown username, or a legacy system's hash (whose own
//! check, microseconds for salted SHA, is followed by a verification of the dummy hash), so the
//! time taken does not tell them apart. [`PasswordHasher::argon2_verifications`] counts them.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, unbounded};
use gatehouse_domain::legacy::LegacyHash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// How long the queue stays short after every place in the pool was last taken.
pub const OVERLOAD_WINDOW: Duration = Duration::from_secs(1);

/// How long a hashing thread keeps its Argon2 memory after its last job. Under load every job
/// reuses it; once sign-ins stop, it is given back, so the process returns to its idle size.
pub const KEEP_MEMORY_FOR: Duration = Duration::from_secs(5);

/// Argon2id cost and pool size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashConfig {
    /// Memory in KiB (OWASP: 19456 = 19 MiB).
    pub memory_kib: u32,
    /// Passes (OWASP: 2).
    pub iterations: u32,
    /// Lanes (OWASP: 1).
    pub parallelism: u32,
    /// Hashing threads; defaults to the number of cores.
    pub workers: usize,
    /// Jobs that may wait for a thread before callers are turned away.
    pub queue: usize,
}

impl Default for HashConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Self { memory_kib: 19_456, iterations: 2, parallelism: 1, workers: cores, queue: cores }
    }
}

impl HashConfig {
    /// Places in the queue offered while the pool is overloaded: none. A sign-in is then admitted
    /// only when a worker is free, so it waits for no other hash; the workers stay busy because
    /// refused clients keep arriving.
    pub fn overload_queue(&self) -> usize {
        0
    }
}

/// Hashing failures.
#[derive(Debug, Error)]
pub enum HashError {
    #[error("password hashing is at capacity; try again shortly")]
    Overloaded,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

fn failed(e: impl std::fmt::Display) -> HashError {
    HashError::Failed(e.to_string())
}

enum Work {
    Hash { password: String, reply: oneshot::Sender<Result<String, HashError>> },
    Verify { password: String, phc: Option<String>, reply: oneshot::Sender<Result<bool, HashError>> },
    VerifyLegacy { password: String, legacy: LegacyHash, reply: oneshot::Sender<Result<bool, HashError>> },
}

/// A job and the capacity it holds until its answer is sent.
struct Job {
    work: Work,
    _slot: OwnedSemaphorePermit,
}

/// The hashing pool. Cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: Sender<Job>,
    /// Jobs running or waiting: at most `workers + queue`.
    capacity: Arc<Semaphore>,
    config: HashConfig,
    /// Argon2id verifications done since the pool started.
    verifications: Arc<AtomicU64>,
    /// Hashing threads holding their Argon2 memory now.
    memory_held: Arc<AtomicU64>,
    /// When every place was last taken (see [`OVERLOAD_WINDOW`]).
    overload: Arc<Overload>,
}

/// When every place in the pool was last taken: milliseconds after `started`, plus one (zero:
/// never).
struct Overload {
    started: Instant,
    full_at: AtomicU64,
}

impl Overload {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1
    }

    fn mark_full(&self) {
        self.full_at.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Whether every place was taken within the last [`OVERLOAD_WINDOW`].
    fn recent(&self) -> bool {
        let at = self.full_at.load(Ordering::Relaxed);
        at != 0 && self.now_ms().saturating_sub(at) < OVERLOAD_WINDOW.as_millis() as u64
    }
}

/// A reserved place in the hashing pool: take it before doing anything else costly, so that a
/// request the pool cannot serve is turned away at once.
pub struct Slot {
    jobs: Sender<Job>,
    permit: OwnedSemaphorePermit,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher").field("config", &self.config).finish()
    }
}

/// A hashing thread's Argon2 working memory (19 MiB at the default cost): allocated by the first
/// job after an idle spell, reused by every job after it, and freed when the thread has been idle
/// for [`KEEP_MEMORY_FOR`]. Without it every hash allocated and freed its own blocks, which the
/// allocator kept, so the process grew under load and stayed grown.
struct Scratch {
    blocks: Vec<Block>,
    /// Blocks of the configured cost: what is kept between jobs.
    size: usize,
    held: Arc<AtomicU64>,
}

impl Scratch {
    /// Runs `f` with at least `count` blocks: the kept ones, or (for a stored hash of a higher
    /// cost than the configured one, which is never kept) blocks of its own.
    fn with<R>(&mut self, count: usize, f: impl FnOnce(&mut [Block]) -> R) -> R {
        if count > self.size {
            return f(&mut vec![Block::default(); count]);
        }
        if self.blocks.is_empty() {
            self.blocks = vec![Block::default(); self.size];
            self.held.fetch_add(1, Ordering::Relaxed);
        }
        f(&mut self.blocks)
    }

    fn is_held(&self) -> bool {
        !self.blocks.is_empty()
    }

    fn release(&mut self) {
        if self.is_held() {
            self.blocks = Vec::new();
            self.held.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

struct Engine {
    argon: Argon2<'static>,
    params: Params,
    /// A hash of a random password, verified when the account does not exist so that an
    /// unknown username costs the same time as a wrong password.
    dummy: OnceLock<String>,
    verifications: Arc<AtomicU64>,
}

impl Engine {
    /// A new Argon2id PHC string of the configured cost, computed in the thread's memory.
    fn hash(&self, scratch: &mut Scratch, password: &str) -> Result<String, HashError> {
        let salt = SaltString::generate(&mut OsRng);
        let mut raw = [0u8; 64];
        let salt_bytes = salt.as_salt().decode_b64(&mut raw).map_err(failed)?;
        let len = self.params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let output = Output::init_with(len, |out| {
            scratch
                .with(self.params.block_count(), |blocks| {
                    self.argon.hash_password_into_with_memory(password.as_bytes(), salt_bytes, out, blocks)
                })
                .map_err(Into::into)
        })
        .map_err(failed)?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(failed)?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(phc.to_string())
    }

    fn verify(&self, scratch: &mut Scratch, password: &str, phc: Option<&str>) -> Result<bool, HashError> {
        let phc = match phc {
            Some(p) => p.to_owned(),
            None => match self.dummy.get() {
                Some(d) => d.clone(),
                None => {
                    let d = self.hash(scratch, &crate::tokens::new_token())?;
                    self.dummy.get_or_init(|| d).clone()
                }
            },
        };
        let parsed = PasswordHash::new(&phc).map_err(failed)?;
        self.verifications.fetch_add(1, Ordering::Relaxed);
        Ok(check(scratch, password, &parsed).is_ok())
    }

    /// Checks a legacy hash, then verifies the dummy Argon2id hash too, so that a legacy
    /// account costs the same Argon2id work as any other sign-in.
    fn verify_legacy(&self, scratch: &mut Scratch, password: &str, legacy: &LegacyHash) -> Result<bool, HashError> {
        let ok = legacy.verify(password);
        self.verify(scratch, password, None)?;
        Ok(ok)
    }
}

/// Recomputes a stored hash with its own algorithm, version and cost in the thread's memory and
/// compares the outputs in constant time (as `argon2`'s own `verify_password` does).
fn check(scratch: &mut Scratch, password: &str, stored: &PasswordHash<'_>) -> Result<(), argon2::password_hash::Error> {
    use argon2::password_hash::Error;
    let algorithm = Algorithm::try_from(stored.algorithm)?;
    let version = stored.version.map(Version::try_from).transpose()?.unwrap_or_default();
    let params = Params::try_from(stored)?;
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else { return Err(Error::Password) };
    let mut raw = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut raw)?;
    let argon = Argon2::new(algorithm, version, params.clone());
    let computed = Output::init_with(expected.len(), |out| {
        scratch
            .with(params.block_count(), |blocks| {
                argon.hash_password_into_with_memory(password.as_bytes(), salt_bytes, out, blocks)
            })
            .map_err(Into::into)
    })?;
    // `Output`'s equality is constant-time.
    if computed == expected { Ok(()) } else { Err(Error::Password) }
}

/// A hashing thread: takes jobs until the pool is dropped, keeping its memory while busy.
fn work(rx: Receiver<Job>, engine: Arc<Engine>, mut scratch: Scratch, keep: Duration) {
    loop {
        let job = if scratch.is_held() {
            match rx.recv_timeout(keep) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    scratch.release();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(job) => job,
                Err(_) => break,
            }
        };
        let Job { work, _slot: slot } = job;
        // The place in the pool is given back before the answer is sent, so a client that sends
        // its next request at once finds it free.
        match work {
            Work::Hash { password, reply } => {
                let r = engine.hash(&mut scratch, &password);
                drop(slot);
                let _ = reply.send(r);
            }
            Work::Verify { password, phc, reply } => {
                let r = engine.verify(&mut scratch, &password, phc.as_deref());
                drop(slot);
                let _ = reply.send(r);
            }
            Work::VerifyLegacy { password, legacy, reply } => {
                let r = engine.verify_legacy(&mut scratch, &password, &legacy);
                drop(slot);
                let _ = reply.send(r);
            }
        }
    }
    scratch.release();
}

impl PasswordHasher {
    /// Starts the pool's threads. They take the scheduling priority of the calling thread, so
    /// call this from a thread of normal priority (the binary lowers only its async runtime's
    /// threads; see `docs/decisions.md`, "Sign-in cost").
    pub fn start(config: HashConfig) -> Result<Self, HashError> {
        Self::start_keeping(config, KEEP_MEMORY_FOR)
    }

    /// Starts the pool with threads that keep their memory for `keep` after their last job.
    fn start_keeping(config: HashConfig, keep: Duration) -> Result<Self, HashError> {
        let params = Params::new(config.memory_kib, config.iterations, config.parallelism, None)
            .map_err(|e| HashError::Failed(format!("invalid Argon2 parameters: {e}")))?;
        let verifications = Arc::new(AtomicU64::new(0));
        let memory_held = Arc::new(AtomicU64::new(0));
        let block_count = params.block_count();
        let engine = Arc::new(Engine {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone()),
            params,
            dummy: OnceLock::new(),
            verifications: verifications.clone(),
        });
        let (tx, rx) = unbounded::<Job>();
        let capacity = Arc::new(Semaphore::new(config.workers.max(1) + config.queue.max(1)));
        for i in 0..config.workers.max(1) {
            let (rx, engine) = (rx.clone(), engine.clone());
            let scratch = Scratch { blocks: Vec::new(), size: block_count, held: memory_held.clone() };
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || work(rx, engine, scratch, keep))
                .map_err(|e| HashError::Failed(format!("cannot start hashing thread: {e}")))?;
        }
        let overload = Arc::new(Overload { started: Instant::now(), full_at: AtomicU64::new(0) });
        Ok(Self { jobs: tx, capacity, config, verifications, memory_held, overload })
    }

    /// Places running or waiting that may be taken now: all of them, or while overloaded (see
    /// [`OVERLOAD_WINDOW`]) the workers and [`HashConfig::overload_queue`].
    fn places_now(&self) -> usize {
        let workers = self.config.workers.max(1);
        if self.overload.recent() { workers + self.config.overload_queue() } else { workers + self.config.queue.max(1) }
    }

    fn places_taken(&self) -> usize {
        (self.config.workers.max(1) + self.config.queue.max(1)).saturating_sub(self.capacity.available_permits())
    }

    /// Whether a sign-in would be refused right now: every place is taken (or, while overloaded,
    /// every place then offered). A cheap look (no reservation) for turning requests away before
    /// any other work; the answer may be stale by the time the request would reserve, which then
    /// decides.
    pub fn is_full(&self) -> bool {
        if self.capacity.available_permits() == 0 {
            self.overload.mark_full();
            return true;
        }
        self.places_taken() >= self.places_now()
    }

    /// How many hashing threads hold their Argon2 memory now (each holds it while busy and
    /// for [`KEEP_MEMORY_FOR`] after).
    pub fn threads_holding_memory(&self) -> u64 {
        self.memory_held.load(Ordering::Relaxed)
    }

    /// How many Argon2id verifications the pool has done since it started (one per password
    /// check, whatever the account; tests read it to prove that).
    pub fn argon2_verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// The pool's configuration.
    pub fn config(&self) -> HashConfig {
        self.config
    }

    /// Reserves a place in the pool, or answers [`HashError::Overloaded`] at once: when every
    /// place is taken, or while overloaded every place then offered (see [`OVERLOAD_WINDOW`]).
    pub fn reserve(&self) -> Result<Slot, HashError> {
        let Ok(permit) = self.capacity.clone().try_acquire_owned() else {
            self.overload.mark_full();
            return Err(HashError::Overloaded);
        };
        // `permit` is counted in the places taken: refused when it went past the shorter limit.
        if self.places_taken() > self.places_now() {
            return Err(HashError::Overloaded);
        }
        Ok(Slot { jobs: self.jobs.clone(), permit })
    }

    /// Hashes a new password (Argon2id, PHC string).
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        self.reserve()?.hash(password).await
    }

    /// Verifies a password against a stored PHC string; with `None` (no such account) it
    /// verifies against a dummy hash and returns false, taking the same time.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool, HashError> {
        self.reserve()?.verify(password, phc).await
    }

    /// Whether a stored hash uses other parameters than the current ones and should be
    /// replaced at the next successful sign-in.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else { return true };
        let Ok(p) = Params::try_from(&parsed) else { return true };
        parsed.algorithm.as_str() != "argon2id"
            || p.m_cost() != self.config.memory_kib
            || p.t_cost() != self.config.iterations
            || p.p_cost() != self.config.parallelism
    }
}

impl Slot {
    fn send(self, work: Work) -> Result<(), HashError> {
        self.jobs.send(Job { work, _slot: self.permit }).map_err(|_| HashError::Failed("hashing pool stopped".into()))
    }

    /// Hashes a new password in the reserved place.
    pub async fn hash(self, password: &str) -> Result<String, HashError> {
        let (reply, rx) = oneshot::channel();
        self.send(Work::Hash { password: password.to_owned(), reply })?;
        rx.await.map_err(|_| HashError::Failed("hashing thread dropped the job".into()))?
    }

    /// Verifies a password against a legacy system's hash in the reserved place.
    pub async fn verify_legacy(self, password: &str, legacy: LegacyHash) -> Result<bool, HashError> {
        let (reply, rx) = oneshot::channel();
        self.send(Work::VerifyLegacy { password: password.to_owned(), legacy, reply })?;
        rx.await.map_err(|_| HashError::Failed("hashing thread dropped the job".into()))?
    }

    /// Verifies a password in the reserved place (see [`PasswordHasher::verify`]).
    pub async fn verify(self, password: &str, phc: Option<&str>) -> Result<bool, HashError> {
        let (reply, rx) = oneshot::channel();
        self.send(Work::Verify { password: password.to_owned(), phc: phc.map(str::to_owned), reply })?;
        rx.await.map_err(|_| HashError::Failed("hashing thread dropped the job".into()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> HashConfig {
        HashConfig { memory_kib: 256, iterations: 1, parallelism: 1, workers: 1, queue: 1 }
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let h = PasswordHasher::start(small()).unwrap();
        let phc = h.hash("purple tiger lamp").await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(h.verify("purple tiger lamp", Some(&phc)).await.unwrap());
        assert!(!h.verify("purple tiger lamb", Some(&phc)).await.unwrap());
        assert!(!h.verify("anything", None).await.unwrap());
        assert!(!h.needs_rehash(&phc));
        let stronger = PasswordHasher::start(HashConfig { iterations: 2, ..small() }).unwrap();
        assert!(stronger.needs_rehash(&phc));
    }

    #[tokio::test]
    async fn every_check_is_one_argon2id_verification() {
        let h = PasswordHasher::start(small()).unwrap();
        let phc = h.hash("purple tiger lamp").await.unwrap();
        assert_eq!(h.argon2_verifications(), 0, "hashing is not verifying");
        // Salted SHA-256 of "NaCl" + "copper kettle meadow".
        let legacy = LegacyHash::parse_stored(
            "sha256-prefix$4e61436c$ceb70765ed214a7eb05c1a96ca0982de9174cfd1673b2f9be1ffce522978c8b0",
        )
        .unwrap();
        assert!(h.verify("purple tiger lamp", Some(&phc)).await.unwrap());
        assert_eq!(h.argon2_verifications(), 1);
        assert!(!h.verify("purple tiger lamb", Some(&phc)).await.unwrap());
        assert_eq!(h.argon2_verifications(), 2);
        assert!(!h.verify("anything", None).await.unwrap());
        assert_eq!(h.argon2_verifications(), 3);
        assert!(h.reserve().unwrap().verify_legacy("copper kettle meadow", legacy.clone()).await.unwrap());
        assert_eq!(h.argon2_verifications(), 4, "a right legacy password verifies the dummy hash too");
        assert!(!h.reserve().unwrap().verify_legacy("copper kettle meadows", legacy).await.unwrap());
        assert_eq!(h.argon2_verifications(), 5, "so does a wrong one");
    }

    #[tokio::test]
    async fn hashes_are_those_of_the_argon2_crate_both_ways() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let cfg = small();
        let h = PasswordHasher::start(cfg).unwrap();
        let stock = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(cfg.memory_kib, cfg.iterations, cfg.parallelism, None).unwrap(),
        );
        // Ours, checked by the crate's own verifier.
        let ours = h.hash("purple tiger lamp").await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(stock.verify_password(b"purple tiger lamp", &parsed).is_ok());
        assert!(stock.verify_password(b"purple tiger lamb", &parsed).is_err());
        // The crate's, checked by ours, including a stored hash of a higher cost than configured
        // (which does not fit the kept memory) and one of Argon2i.
        let salt = SaltString::generate(&mut OsRng);
        let theirs = stock.hash_password(b"copper kettle", &salt).unwrap().to_string();
        assert!(h.verify("copper kettle", Some(&theirs)).await.unwrap());
        assert!(!h.verify("copper kettles", Some(&theirs)).await.unwrap());
        let bigger = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(512, 1, 1, None).unwrap());
        let big = bigger.hash_password(b"copper kettle", &salt).unwrap().to_string();
        assert!(h.verify("copper kettle", Some(&big)).await.unwrap());
        assert!(h.needs_rehash(&big));
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::new(256, 1, 1, None).unwrap());
        let old = argon2i.hash_password(b"copper kettle", &salt).unwrap().to_string();
        assert!(h.verify("copper kettle", Some(&old)).await.unwrap());
        assert!(!h.verify("copper kettle!", Some(&old)).await.unwrap());
        assert!(h.needs_rehash(&old));
        // A stored value that is not a PHC string is an error, not a wrong password.
        assert!(matches!(h.verify("x", Some("not a hash")).await, Err(HashError::Failed(_))));
        // A PHC string whose output was cut short (43 Base64 characters to 32: 24 bytes, always a
        // valid encoding) does not match.
        let cut = &theirs[..theirs.len() - 11];
        assert!(!h.verify("copper kettle", Some(cut)).await.unwrap());
    }

    #[tokio::test]
    async fn memory_is_kept_while_busy_and_given_back_when_idle() {
        let keep = Duration::from_millis(300);
        let h = PasswordHasher::start_keeping(HashConfig { workers: 2, ..small() }, keep).unwrap();
        assert_eq!(h.threads_holding_memory(), 0, "nothing is allocated before the first job");
        let phc = h.hash("purple tiger lamp").await.unwrap();
        assert_eq!(h.threads_holding_memory(), 1);
        for _ in 0..20 {
            assert!(h.verify("purple tiger lamp", Some(&phc)).await.unwrap());
            assert!(h.threads_holding_memory() <= 2, "at most one block set per thread");
        }
        let deadline = std::time::Instant::now() + keep * 10;
        while h.threads_holding_memory() > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(h.threads_holding_memory(), 0, "idle threads free their memory");
        // And take it again for the next job.
        assert!(h.verify("purple tiger lamp", Some(&phc)).await.unwrap());
        assert_eq!(h.threads_holding_memory(), 1);
    }

    #[tokio::test]
    async fn is_full_when_every_place_is_taken() {
        let h = PasswordHasher::start(small()).unwrap();
        assert!(!h.is_full());
        let a = h.reserve().unwrap();
        assert!(!h.is_full());
        let b = h.reserve().unwrap();
        assert!(h.is_full(), "one worker and one queue place are both taken");
        assert!(matches!(h.reserve(), Err(HashError::Overloaded)));
        drop(a);
        assert!(h.is_full(), "just overloaded: the queue is closed, and the worker is taken");
        drop(b);
        assert!(!h.is_full());
    }

    #[tokio::test]
    async fn once_full_the_queue_is_closed_for_a_while() {
        let h = PasswordHasher::start(HashConfig { workers: 1, queue: 2, ..small() }).unwrap();
        assert_eq!(h.config().overload_queue(), 0);
        // Before any overload every place may be taken.
        let held: Vec<_> = (0..3).map(|_| h.reserve().unwrap()).collect();
        assert!(h.is_full());
        assert!(matches!(h.reserve(), Err(HashError::Overloaded)), "all three places taken");
        drop(held);
        // Overloaded: the worker only.
        let a = h.reserve().unwrap();
        assert!(h.is_full(), "the shorter limit is reached");
        assert!(matches!(h.reserve(), Err(HashError::Overloaded)));
        // Refusals at the shorter limit do not prolong the window: once it has passed, the
        // queue's places are offered again.
        tokio::time::sleep(OVERLOAD_WINDOW + Duration::from_millis(50)).await;
        let b = h.reserve().unwrap();
        let c = h.reserve().unwrap();
        assert!(h.is_full());
        drop((a, b, c));
    }

    #[tokio::test]
    async fn full_queue_is_refused_not_queued() {
        let h = PasswordHasher::start(HashConfig { memory_kib: 65_536, iterations: 4, ..small() }).unwrap();
        let mut pending = Vec::new();
        let mut refused = 0;
        for _ in 0..20 {
            let h = h.clone();
            pending.push(tokio::spawn(async move { h.hash("some long password").await }));
        }
        for p in pending {
            if matches!(p.await.unwrap(), Err(HashError::Overloaded)) {
                refused += 1;
            }
        }
        // One thread and one queue slot: at most a few are admitted, the rest refused at once.
        assert!(refused >= 15, "refused {refused}");
    }
}
