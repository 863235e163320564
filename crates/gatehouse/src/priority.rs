//! Scheduling priority and threads: the password hashing threads are favoured over the async
//! runtime, and the runtime keeps to half the cores.
//!
//! A sign-in is about 20 ms of Argon2id and well under 1 ms of everything else; on a busy machine
//! the hashing threads must keep their cores, or a flood of cheap requests (a client that retries
//! a refused sign-in at once) takes the CPU that successful sign-ins need. Without privileges a
//! thread can only lower its own priority, so the runtime's threads lower theirs (a higher
//! "nice" value) as they start, and the hashing threads, started from the main thread, keep the
//! process's. On Linux the nice value is per thread; elsewhere this does nothing.

/// How much the runtime's threads lower their priority unless `GATEHOUSE_RUNTIME_NICE` says
/// otherwise: not at all. Lowering them (nice +10 weighs about a tenth of nice 0 when both want
/// a core) kept a storm of refusals from taking the hashing threads' CPU, but it also delayed
/// every admitted sign-in's answer behind the hashing; refusals are now held for a moment
/// instead, which slows such a storm without using a CPU (docs/benchmarks.md, 2026-12-06).
pub const DEFAULT_RUNTIME_NICE: i32 = 0;

/// The environment variable that sets how many threads the async runtime runs (1 to 256).
pub const RUNTIME_THREADS_VAR: &str = "GATEHOUSE_RUNTIME_THREADS";

/// Threads for the async runtime: `GATEHOUSE_RUNTIME_THREADS` if it is a number from 1 to 256,
/// else half the cores, at least one. The runtime's work is input, output and hand-offs (the
/// database's and the hashing pool's own threads do theirs); every runtime thread more is more
/// waking and parking between them, which on a machine whose cores the hashing threads keep busy
/// costs the sign-ins CPU (a quarter of their CPU besides hashing on 2 cores: docs/benchmarks.md,
/// 2026-12-06).
pub fn runtime_threads() -> usize {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    parse_threads(std::env::var(RUNTIME_THREADS_VAR).ok().as_deref(), cores)
}

fn parse_threads(value: Option<&str>, cores: usize) -> usize {
    value.and_then(|v| v.trim().parse::<usize>().ok()).filter(|n| (1..=256).contains(n)).unwrap_or((cores / 2).max(1))
}

/// The environment variable that sets the runtime's nice increment (0 to 19; 0 turns it off).
pub const RUNTIME_NICE_VAR: &str = "GATEHOUSE_RUNTIME_NICE";

/// The nice increment for the runtime's threads: `GATEHOUSE_RUNTIME_NICE` if it is a number from
/// 0 to 19, else [`DEFAULT_RUNTIME_NICE`].
pub fn runtime_nice() -> i32 {
    parse_nice(std::env::var(RUNTIME_NICE_VAR).ok().as_deref())
}

fn parse_nice(value: Option<&str>) -> i32 {
    value.and_then(|v| v.trim().parse::<i32>().ok()).filter(|n| (0..=19).contains(n)).unwrap_or(DEFAULT_RUNTIME_NICE)
}

/// Lowers the calling thread's scheduling priority by `by` (its nice value goes up by that much,
/// to 19 at most). A failure leaves the priority as it was.
pub fn lower_this_thread(by: i32) {
    if by <= 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        // PRIO_PROCESS with a thread id addresses that one thread on Linux.
        let me = Some(rustix::thread::gettid());
        if let Ok(now) = getpriority_process(me) {
            let _ = setpriority_process(me, (now + by).min(19));
        }
    }
}

/// The calling thread's nice value, where the platform has one per thread.
pub fn this_thread_nice() -> Option<i32> {
    #[cfg(target_os = "linux")]
    {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_takes_half_the_cores_unless_told() {
        assert_eq!(parse_threads(None, 1), 1);
        assert_eq!(parse_threads(None, 2), 1);
        assert_eq!(parse_threads(None, 3), 1);
        assert_eq!(parse_threads(None, 8), 4);
        assert_eq!(parse_threads(Some(" 3 "), 2), 3);
        assert_eq!(parse_threads(Some("0"), 8), 4);
        assert_eq!(parse_threads(Some("257"), 8), 4);
        assert_eq!(parse_threads(Some("many"), 2), 1);
    }

    #[test]
    fn the_increment_is_read_within_bounds() {
        assert_eq!(parse_nice(None), DEFAULT_RUNTIME_NICE);
        assert_eq!(parse_nice(Some("5")), 5);
        assert_eq!(parse_nice(Some(" 0 ")), 0);
        assert_eq!(parse_nice(Some("19")), 19);
        assert_eq!(parse_nice(Some("20")), DEFAULT_RUNTIME_NICE);
        assert_eq!(parse_nice(Some("-5")), DEFAULT_RUNTIME_NICE);
        assert_eq!(parse_nice(Some("high")), DEFAULT_RUNTIME_NICE);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_lowers_only_itself() {
        let before = this_thread_nice().unwrap();
        let lowered = std::thread::spawn(|| {
            let start = this_thread_nice().unwrap();
            lower_this_thread(3);
            (start, this_thread_nice().unwrap())
        })
        .join()
        .unwrap();
        assert_eq!(lowered.1, (lowered.0 + 3).min(19));
        assert_eq!(this_thread_nice().unwrap(), before, "the spawning thread keeps its priority");
    }
}
