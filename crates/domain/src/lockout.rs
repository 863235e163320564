//! Sign-in lockout: grows with repeated failures, but is capped so that nobody can use it to
//! keep someone else out for long.

use crate::time::Duration;

/// The plan's lockout rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Consecutive failures allowed before the first lock.
    pub free_failures: i64,
    /// The first lock's length; each further failure doubles it.
    pub first_lock: Duration,
    /// The longest lock.
    pub max_lock: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self { free_failures: 5, first_lock: Duration::minutes(1), max_lock: Duration::minutes(15) }
    }
}

impl LockoutPolicy {
    /// How long to lock after `failures` consecutive failures, if at all.
    pub fn lock_for(&self, failures: i64) -> Option<Duration> {
        if failures < self.free_failures {
            return None;
        }
        let doublings = (failures - self.free_failures).min(30) as u32;
        let secs = self.first_lock.as_secs().saturating_mul(1i64 << doublings);
        Some(Duration::seconds(secs.min(self.max_lock.as_secs())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps() {
        let p = LockoutPolicy::default();
        assert_eq!(p.lock_for(4), None);
        assert_eq!(p.lock_for(5), Some(Duration::minutes(1)));
        assert_eq!(p.lock_for(6), Some(Duration::minutes(2)));
        assert_eq!(p.lock_for(8), Some(Duration::minutes(8)));
        assert_eq!(p.lock_for(9), Some(Duration::minutes(15)));
        assert_eq!(p.lock_for(1_000), Some(Duration::minutes(15)));
    }
}
