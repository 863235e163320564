//! Points in time and spans, in whole seconds since the Unix epoch. The domain never reads the
//! clock: the current time is always an argument.

use serde::{Deserialize, Serialize};

/// A point in time, seconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

/// A span of time in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Duration(pub i64);

impl Duration {
    /// A span of `n` seconds.
    pub const fn seconds(n: i64) -> Self {
        Self(n)
    }
    /// A span of `n` minutes.
    pub const fn minutes(n: i64) -> Self {
        Self(n * 60)
    }
    /// A span of `n` hours.
    pub const fn hours(n: i64) -> Self {
        Self(n * 3600)
    }
    /// A span of `n` days.
    pub const fn days(n: i64) -> Self {
        Self(n * 86_400)
    }
    /// The span in whole seconds.
    pub const fn as_secs(self) -> i64 {
        self.0
    }
}

impl Timestamp {
    /// This instant plus a span.
    pub const fn plus(self, d: Duration) -> Self {
        Self(self.0.saturating_add(d.0))
    }
    /// This instant minus a span.
    pub const fn minus(self, d: Duration) -> Self {
        Self(self.0.saturating_sub(d.0))
    }
    /// Seconds since the epoch.
    pub const fn as_secs(self) -> i64 {
        self.0
    }

    /// The instant as people read it in emails and pages, like `Jan 15, 2027 9:05 AM UTC`.
    pub fn for_people(self) -> String {
        let fmt = ::time::macros::format_description!(
            "[month repr:short] [day padding:none], [year] [hour repr:12 padding:none]:[minute] [period] UTC"
        );
        ::time::OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|t| t.format(&fmt).ok())
            .unwrap_or_else(|| "an unknown time".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic() {
        let t = Timestamp(1_000);
        assert_eq!(t.plus(Duration::minutes(2)), Timestamp(1_120));
        assert_eq!(t.minus(Duration::seconds(1)), Timestamp(999));
        assert_eq!(Duration::hours(72).as_secs(), 259_200);
        assert_eq!(Duration::days(7), Duration::hours(168));
    }

    #[test]
    fn instants_for_people() {
        assert_eq!(Timestamp(1_800_000_300).for_people(), "Jan 15, 2027 8:05 AM UTC");
        assert_eq!(Timestamp(i64::MAX).for_people(), "an unknown time");
    }
}
