//! Password hashing: Argon2id on a small pool of dedicated threads, one per core, off the async
//! runtime. Work waits in a bounded queue; when the queue is full the caller gets
//! [`HashError::Overloaded`] at once (the web layer answers 503 with Retry-After) instead of
//! letting every sign-in's latency grow without bound. Capacity (`workers + queue` jobs running
//! or waiting) is counted by a semaphore whose permit a job holds until its answer is sent.
//!
//! Every password check costs exactly one Argon2id verification, whatever the account: a stored
//! Argon2id hash, the dummy hash for an unknown username, or a legacy system's hash (whose own
//! check, microseconds for salted SHA, is followed by a verification of the dummy hash), so the
//! time taken does not tell them apart. [`PasswordHasher::argon2_verifications`] counts them.

use argon2::password_hash::{PasswordHash, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier, Version};
use crossbeam_channel::{Sender, unbounded};
use gatehouse_domain::legacy::LegacyHash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use thiserror::Error;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

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

/// Hashing failures.
#[derive(Debug, Error)]
pub enum HashError {
    #[error("password hashing is at capacity; try again shortly")]
    Overloaded,
    #[error("password hashing failed: {0}")]
    Failed(String),
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

struct Engine {
    argon: Argon2<'static>,
    /// A hash of a random password, verified when the account does not exist so that an
    /// unknown username costs the same time as a wrong password.
    dummy: OnceLock<String>,
    verifications: Arc<AtomicU64>,
}

impl Engine {
    fn hash(&self, password: &str) -> Result<String, HashError> {
        let salt = SaltString::generate(&mut OsRng);
        self.argon
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| HashError::Failed(e.to_string()))
    }

    fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool, HashError> {
        let phc = match phc {
            Some(p) => p.to_owned(),
            None => match self.dummy.get() {
                Some(d) => d.clone(),
                None => {
                    let d = self.hash(&crate::tokens::new_token())?;
                    self.dummy.get_or_init(|| d).clone()
                }
            },
        };
        let parsed = PasswordHash::new(&phc).map_err(|e| HashError::Failed(e.to_string()))?;
        self.verifications.fetch_add(1, Ordering::Relaxed);
        Ok(self.argon.verify_password(password.as_bytes(), &parsed).is_ok())
    }

    /// Checks a legacy hash, then verifies the dummy Argon2id hash too, so that a legacy
    /// account costs the same Argon2id work as any other sign-in.
    fn verify_legacy(&self, password: &str, legacy: &LegacyHash) -> Result<bool, HashError> {
        let ok = legacy.verify(password);
        self.verify(password, None)?;
        Ok(ok)
    }
}

impl PasswordHasher {
    /// Starts the pool's threads.
    pub fn start(config: HashConfig) -> Result<Self, HashError> {
        let params = Params::new(config.memory_kib, config.iterations, config.parallelism, None)
            .map_err(|e| HashError::Failed(format!("invalid Argon2 parameters: {e}")))?;
        let verifications = Arc::new(AtomicU64::new(0));
        let engine = Arc::new(Engine {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            dummy: OnceLock::new(),
            verifications: verifications.clone(),
        });
        let (tx, rx) = unbounded::<Job>();
        let capacity = Arc::new(Semaphore::new(config.workers.max(1) + config.queue.max(1)));
        for i in 0..config.workers.max(1) {
            let rx = rx.clone();
            let engine = engine.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    while let Ok(Job { work, _slot: slot }) = rx.recv() {
                        // The place in the pool is given back before the answer is sent, so a
                        // client that sends its next request at once finds it free.
                        match work {
                            Work::Hash { password, reply } => {
                                let r = engine.hash(&password);
                                drop(slot);
                                let _ = reply.send(r);
                            }
                            Work::Verify { password, phc, reply } => {
                                let r = engine.verify(&password, phc.as_deref());
                                drop(slot);
                                let _ = reply.send(r);
                            }
                            Work::VerifyLegacy { password, legacy, reply } => {
                                let r = engine.verify_legacy(&password, &legacy);
                                drop(slot);
                                let _ = reply.send(r);
                            }
                        }
                    }
                })
                .map_err(|e| HashError::Failed(format!("cannot start hashing thread: {e}")))?;
        }
        Ok(Self { jobs: tx, capacity, config, verifications })
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

    /// Reserves a place in the pool, or answers [`HashError::Overloaded`] at once.
    pub fn reserve(&self) -> Result<Slot, HashError> {
        let permit = self.capacity.clone().try_acquire_owned().map_err(|_| HashError::Overloaded)?;
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
