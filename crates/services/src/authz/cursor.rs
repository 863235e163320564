//! Which rows of the change log an instance has applied. PostgreSQL hands out sequence numbers
//! when a row is inserted, not when its transaction commits, so a lower number can become
//! visible after a higher one, and a rolled-back transaction leaves a number that never appears.
//! The cursor keeps a watermark (every number at or below it is done), the numbers above it that
//! are done, and since when the first missing number above it has been missing; a missing
//! number is given up (skipped) only once it has been missing for the grace period.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How long a missing sequence number is waited for before it is taken as rolled back.
pub const GAP_GRACE: Duration = Duration::from_secs(5);

/// The applied part of the change log.
#[derive(Debug, Clone)]
pub struct ChangeCursor {
    watermark: i64,
    above: BTreeSet<i64>,
    /// The first missing number and when it was first seen missing.
    gap: Option<(i64, Instant)>,
    grace: Duration,
    skipped: u64,
}

impl ChangeCursor {
    /// A cursor that has applied everything up to `watermark`.
    pub fn new(watermark: i64, grace: Duration) -> Self {
        Self { watermark, above: BTreeSet::new(), gap: None, grace, skipped: 0 }
    }

    /// Read the log from after this number.
    pub fn watermark(&self) -> i64 {
        self.watermark
    }

    /// Whether `seq` still has to be applied.
    pub fn is_new(&self, seq: i64) -> bool {
        seq > self.watermark && !self.above.contains(&seq)
    }

    /// How many missing numbers were given up so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Marks `seq` as applied.
    pub fn applied(&mut self, seq: i64) {
        if seq > self.watermark {
            self.above.insert(seq);
        }
    }

    /// Moves the watermark over applied numbers, and over missing ones that have been missing
    /// for longer than the grace period.
    pub fn advance(&mut self, now: Instant) {
        loop {
            while self.above.first() == Some(&(self.watermark + 1)) {
                self.above.pop_first();
                self.watermark += 1;
            }
            let Some(&next_applied) = self.above.first() else {
                // Nothing applied above the watermark: no gap is known.
                self.gap = None;
                return;
            };
            let missing = self.watermark + 1;
            match self.gap {
                Some((seq, since)) if seq == missing => {
                    if now.duration_since(since) < self.grace {
                        return;
                    }
                    // Given up: everything missing below the next applied number is skipped.
                    self.skipped += (next_applied - missing) as u64;
                    self.watermark = next_applied - 1;
                    self.gap = None;
                }
                _ => {
                    self.gap = Some((missing, now));
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_numbers_move_the_watermark() {
        let t = Instant::now();
        let mut c = ChangeCursor::new(10, GAP_GRACE);
        assert!(!c.is_new(10));
        assert!(c.is_new(11));
        c.applied(11);
        c.applied(12);
        c.advance(t);
        assert_eq!(c.watermark(), 12);
        assert!(!c.is_new(12));
        c.applied(5); // Already below the watermark: ignored.
        c.advance(t);
        assert_eq!(c.watermark(), 12);
    }

    #[test]
    fn a_late_commit_fills_its_gap_and_is_applied() {
        let t = Instant::now();
        let mut c = ChangeCursor::new(0, GAP_GRACE);
        // 2 and 3 commit before 1.
        c.applied(2);
        c.applied(3);
        c.advance(t);
        assert_eq!(c.watermark(), 0);
        assert!(c.is_new(1));
        assert!(!c.is_new(2) && !c.is_new(3));
        // 1 shows up within the grace period.
        c.advance(t + Duration::from_secs(1));
        assert_eq!(c.watermark(), 0);
        c.applied(1);
        c.advance(t + Duration::from_secs(2));
        assert_eq!(c.watermark(), 3);
        assert_eq!(c.skipped(), 0);
    }

    #[test]
    fn a_gap_is_skipped_only_after_the_grace_period() {
        let t = Instant::now();
        let mut c = ChangeCursor::new(0, GAP_GRACE);
        c.applied(1);
        c.applied(4);
        c.applied(7);
        c.advance(t);
        assert_eq!(c.watermark(), 1);
        c.advance(t + Duration::from_secs(4));
        assert_eq!(c.watermark(), 1, "2 and 3 are still waited for");
        c.advance(t + Duration::from_secs(5));
        // 2 and 3 given up; 5 and 6 only start being waited for now.
        assert_eq!(c.watermark(), 4);
        assert_eq!(c.skipped(), 2);
        assert!(c.is_new(5));
        c.applied(6);
        c.advance(t + Duration::from_secs(9));
        assert_eq!(c.watermark(), 4);
        c.advance(t + Duration::from_secs(10));
        assert_eq!(c.watermark(), 7);
        assert_eq!(c.skipped(), 3);
    }

    #[test]
    fn no_gap_without_a_later_number() {
        let t = Instant::now();
        let mut c = ChangeCursor::new(3, GAP_GRACE);
        c.advance(t);
        c.advance(t + Duration::from_secs(60));
        assert_eq!(c.watermark(), 3);
        assert_eq!(c.skipped(), 0);
    }
}
