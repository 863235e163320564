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

    /// The instant as people read it in emails and pages, in the plan's time zone with the
    /// zone's short name, like `Jan 15, 2027 3:05 AM EST`; "an unknown time" when it is out of
    /// range.
    pub fn for_people(self, zone: &PlanTimeZone) -> String {
        self.in_zone(zone, "%b %-d, %Y %-I:%M %p %Z").unwrap_or_else(|| "an unknown time".to_owned())
    }

    /// The instant as [`Self::for_people`] shows it, or `None` when it is out of range (for pages
    /// that show a dash instead).
    pub fn try_for_people(self, zone: &PlanTimeZone) -> Option<String> {
        self.in_zone(zone, "%b %-d, %Y %-I:%M %p %Z")
    }

    /// The day of the instant in the plan's time zone, like `Jan 15, 2027`; "" when out of range.
    pub fn day_for_people(self, zone: &PlanTimeZone) -> String {
        self.in_zone(zone, "%b %-d, %Y").unwrap_or_default()
    }

    /// The day of the instant in the plan's time zone as `YYYY-MM-DD` (for "once a day" records);
    /// "" when out of range.
    pub fn iso_day(self, zone: &PlanTimeZone) -> String {
        self.in_zone(zone, "%Y-%m-%d").unwrap_or_default()
    }

    fn in_zone(self, zone: &PlanTimeZone, format: &str) -> Option<String> {
        let at = ::jiff::Timestamp::from_second(self.0).ok()?;
        ::jiff::fmt::strtime::format(format, &at.to_zoned_datetime(zone.zone.clone())).ok()
    }
}

/// The time zone a plan shows dates and times in: an IANA name such as `America/New_York`,
/// checked against the time zone database compiled into the program (no file is read).
#[derive(Debug, Clone)]
pub struct PlanTimeZone {
    /// The canonical IANA name, as the database spells it.
    name: String,
    zone: ::jiff::tz::TimeZone,
}

/// The zone of a plan that has not chosen one.
pub const DEFAULT_TIME_ZONE: &str = "America/New_York";

impl PlanTimeZone {
    /// Parses an IANA time zone name (letter case is forgiven: `america/chicago` is
    /// `America/Chicago`). Fixed offsets and POSIX rules are not names and are refused.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let unknown = || {
            format!(
                "\"{}\" is not a time zone we know. Enter an IANA time zone name, like America/New_York, America/Chicago, America/Denver, America/Los_Angeles or Pacific/Honolulu.",
                raw.chars().take(64).collect::<String>()
            )
        };
        if raw.is_empty() {
            return Err("Enter the plan's time zone, like America/New_York.".to_owned());
        }
        if raw.len() > 64 || !raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b)) {
            return Err(unknown());
        }
        let zone = ::jiff::tz::TimeZone::get(raw).map_err(|_| unknown())?;
        let name = zone.iana_name().ok_or_else(unknown)?.to_owned();
        Ok(Self { name, zone })
    }

    /// The Unix time at which `day` starts in this zone (its first instant, should a change of
    /// clocks skip midnight); `None` when out of range.
    pub fn start_of(&self, day: ::jiff::civil::Date) -> Option<i64> {
        Some(day.to_zoned_datetime(self.zone.clone()).ok()?.start_of_day().ok()?.timestamp().as_second())
    }

    /// The zone's rules (for calendar arithmetic in the plan's days).
    pub fn tz(&self) -> &::jiff::tz::TimeZone {
        &self.zone
    }

    /// The canonical IANA name, like `America/New_York`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Default for PlanTimeZone {
    /// `America/New_York`; UTC only should the compiled-in database lack it.
    fn default() -> Self {
        Self::parse(DEFAULT_TIME_ZONE)
            .unwrap_or_else(|_| Self { name: "UTC".to_owned(), zone: ::jiff::tz::TimeZone::UTC })
    }
}

impl PartialEq for PlanTimeZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for PlanTimeZone {}

impl std::fmt::Display for PlanTimeZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
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
    fn instants_for_people_in_new_york() {
        let ny = PlanTimeZone::default();
        assert_eq!(ny.name(), "America/New_York");
        // 2027-01-15T08:05:00Z, in winter: Eastern Standard Time, five hours behind.
        assert_eq!(Timestamp(1_800_000_300).for_people(&ny), "Jan 15, 2027 3:05 AM EST");
        // 2026-07-04T16:30:00Z, in summer: Eastern Daylight Time, four hours behind.
        assert_eq!(Timestamp(1_783_182_600).for_people(&ny), "Jul 4, 2026 12:30 PM EDT");
        // Just after midnight UTC it is still the day before in New York.
        assert_eq!(Timestamp(1_799_971_500).day_for_people(&ny), "Jan 14, 2027");
        assert_eq!(Timestamp(1_799_971_500).iso_day(&ny), "2027-01-14");
        assert_eq!(Timestamp(1_799_971_500).iso_day(&PlanTimeZone::parse("UTC").unwrap()), "2027-01-15");
        assert_eq!(Timestamp(i64::MAX).for_people(&ny), "an unknown time");
        assert_eq!(Timestamp(i64::MAX).try_for_people(&ny), None);
    }

    #[test]
    fn instants_for_people_in_other_zones() {
        let honolulu = PlanTimeZone::parse("Pacific/Honolulu").unwrap();
        assert_eq!(Timestamp(1_800_000_300).for_people(&honolulu), "Jan 14, 2027 10:05 PM HST");
        let chicago = PlanTimeZone::parse(" america/chicago ").unwrap();
        assert_eq!(chicago.name(), "America/Chicago");
        assert_eq!(Timestamp(1_783_182_600).for_people(&chicago), "Jul 4, 2026 11:30 AM CDT");
        let utc = PlanTimeZone::parse("UTC").unwrap();
        assert_eq!(Timestamp(1_800_000_300).for_people(&utc), "Jan 15, 2027 8:05 AM UTC");
    }

    #[test]
    fn unknown_zones_are_refused() {
        for bad in ["Mars/Olympus_Mons", "Eastern", "EST+5", "+05:00", "../../etc/passwd", "", " "] {
            let e = PlanTimeZone::parse(bad).unwrap_err();
            assert!(e.contains("America/New_York"), "{bad}: {e}");
        }
        assert!(PlanTimeZone::parse("Mars/Olympus_Mons").unwrap_err().starts_with("\"Mars/Olympus_Mons\" is not"));
        assert_eq!(PlanTimeZone::parse("America/New_York"), Ok(PlanTimeZone::default()));
    }
}
