//! Sign-in lockout: grows with repeated failures, but is capped so that nobody can use it to
//! keep someone else out for long.
//!
//! Two counts decide it. From one client address, consecutive failures grow a lock (1 minute
//! doubling to the longest lock). From all addresses together, only the failures of a sliding
//! window count: [`ACCOUNT_WIDE_LIMIT`] of them within [`LockoutPolicy::account_window`] lock the
//! name everywhere for the longest lock, and older failures are forgotten, so a trickle of
//! failures (one every quarter of an hour, for ever) never keeps the owner out.

use crate::time::{Duration, Timestamp};
use std::net::{IpAddr, Ipv6Addr};

/// The client address as the per-address count knows it: an IPv4 address as it is, an IPv6
/// address by its /64 network. One subscriber or host is usually given a whole /64, so counting
/// its addresses one by one would let a single machine fail a username from as many "addresses"
/// as it likes, and keep renewing the lock across addresses (the per-address lock stops each of
/// them after a few failures; a /64 is stopped as one). Anything that is not an IP address
/// (`cli`, `system`) is kept as it is.
pub fn address_key(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        Ok(IpAddr::V6(v6)) => v6.to_ipv4_mapped().map_or_else(|| ip.to_owned(), |v4| v4.to_string()),
        _ => ip.to_owned(),
    }
}

/// Failures from all addresses together, within the window, that lock a username everywhere
/// (NIST SP 800-63B 5.2.2: at most 100 consecutive failed attempts).
pub const ACCOUNT_WIDE_LIMIT: i64 = 100;

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

    /// How far back failures from all addresses count: the longest lock. When a lock across
    /// addresses ends, the failures that caused it (none are counted while it lasts) have just
    /// left the window, so the name starts again from zero and must be failed
    /// [`ACCOUNT_WIDE_LIMIT`] times more before it is locked again.
    pub fn account_window(&self) -> Duration {
        self.max_lock
    }

    /// Failures at or before this instant no longer count toward the lock across addresses.
    pub fn account_window_start(&self, now: Timestamp) -> Timestamp {
        Timestamp(now.0 - self.account_window().as_secs())
    }

    /// How long to lock a username everywhere, given the failures from all addresses that fall
    /// within the window (the one just made included), if at all.
    pub fn account_lock_for(&self, failures_in_window: i64) -> Option<Duration> {
        (failures_in_window >= ACCOUNT_WIDE_LIMIT).then_some(self.max_lock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_count_by_their_64_network() {
        assert_eq!(address_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(address_key("2001:db8:1:2:bbbb:cccc:dddd:eeee"), "2001:db8:1:2::/64");
        assert_ne!(address_key("2001:db8:1:3::1"), address_key("2001:db8:1:2::1"));
        assert_eq!(address_key("::ffff:192.0.2.7"), "192.0.2.7", "an IPv4 address seen through IPv6");
        assert_eq!(address_key("192.0.2.7"), "192.0.2.7");
        assert_eq!(address_key("cli"), "cli");
    }

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

    #[test]
    fn account_wide_lock_counts_only_the_window() {
        let p = LockoutPolicy::default();
        assert_eq!(p.account_lock_for(ACCOUNT_WIDE_LIMIT - 1), None);
        assert_eq!(p.account_lock_for(ACCOUNT_WIDE_LIMIT), Some(p.max_lock));
        assert_eq!(p.account_lock_for(5_000), Some(p.max_lock));
        // The window is the longest lock: when a lock ends, its failures are already forgotten.
        let now = Timestamp(1_000_000);
        assert_eq!(p.account_window(), p.max_lock);
        assert_eq!(p.account_window_start(now), Timestamp(1_000_000 - 15 * 60));
        let lock_started = Timestamp(500_000);
        let lock_ends = lock_started.plus(p.max_lock);
        assert!(p.account_window_start(lock_ends) >= lock_started);
    }
}
