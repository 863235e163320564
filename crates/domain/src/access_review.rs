//! Access reviews (issue 17, seed 004 "Time To Review Your Provider Portal Users"): every N days
//! each practice's administrator decides, for every user of the practice, to keep, change or
//! deactivate them, and signs. The rules are pure; the clock is an argument.

use crate::time::PlanTimeZone;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Seconds in a day.
pub const DAY: i64 = 86_400;
/// Longest reason for a decision, in characters.
pub const MAX_REASON: usize = 500;
/// Days past the due date after which plan staff see the practice listed for follow-up.
pub const STAFF_FOLLOW_UP_DAYS: i64 = 14;
/// Most weeks a plan may spread the first reviews of its practices over.
pub const MAX_SPREAD_WEEKS: i64 = 52;

/// What the reviewer decided for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The user keeps their access as it is.
    Keep,
    /// The user's type or providers change (applied when the review is signed).
    Change,
    /// The user's access to the practice ends (applied when the review is signed).
    Deactivate,
}

impl Decision {
    /// All decisions, in the order a form offers them.
    pub const ALL: [Decision; 3] = [Decision::Keep, Decision::Change, Decision::Deactivate];

    /// The stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Keep => "keep",
            Decision::Change => "change",
            Decision::Deactivate => "deactivate",
        }
    }

    /// What a person reads.
    pub fn label(self) -> &'static str {
        match self {
            Decision::Keep => "Keep",
            Decision::Change => "Change",
            Decision::Deactivate => "Deactivate",
        }
    }

    /// Parses the stored or wire form.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == raw)
    }
}

/// Where a practice's review stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    /// Due, and nobody has decided anything yet.
    NotStarted,
    /// Some decisions are recorded; not signed yet.
    InProgress,
    /// Signed and frozen.
    Signed,
    /// Past its due date and not signed.
    Overdue,
}

impl ReviewStatus {
    /// All statuses, in the order a filter offers them.
    pub const ALL: [ReviewStatus; 4] =
        [ReviewStatus::NotStarted, ReviewStatus::InProgress, ReviewStatus::Overdue, ReviewStatus::Signed];

    /// The status of a review due at `due_at`, signed at `signed_at` (if it is), with `decided`
    /// decisions recorded, at `now`. Overdue wins over in progress: it is what staff must see.
    pub fn of(due_at: i64, signed_at: Option<i64>, decided: i64, now: i64) -> Self {
        match signed_at {
            Some(_) => ReviewStatus::Signed,
            None if now > due_at => ReviewStatus::Overdue,
            None if decided > 0 => ReviewStatus::InProgress,
            None => ReviewStatus::NotStarted,
        }
    }

    /// The stored and query form.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::NotStarted => "not_started",
            ReviewStatus::InProgress => "in_progress",
            ReviewStatus::Signed => "signed",
            ReviewStatus::Overdue => "overdue",
        }
    }

    /// What a person reads.
    pub fn label(self) -> &'static str {
        match self {
            ReviewStatus::NotStarted => "Not started",
            ReviewStatus::InProgress => "In progress",
            ReviewStatus::Signed => "Signed",
            ReviewStatus::Overdue => "Overdue",
        }
    }

    /// Parses the query form.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// The first review of a practice is due `days` after its first administrator signed up.
pub fn first_due(first_admin_at: i64, days: i64) -> i64 {
    first_admin_at.saturating_add(days.saturating_mul(DAY))
}

/// The next review is due `days` after the previous one was signed.
pub fn next_due(signed_at: i64, days: i64) -> i64 {
    signed_at.saturating_add(days.saturating_mul(DAY))
}

/// Whether a review was signed by its due date.
pub fn on_time(due_at: i64, signed_at: i64) -> bool {
    signed_at <= due_at
}

/// Whether plan staff should see the practice in their follow-up list: unsigned and at least
/// [`STAFF_FOLLOW_UP_DAYS`] past due.
pub fn needs_follow_up(due_at: i64, signed: bool, now: i64) -> bool {
    !signed && now >= due_at.saturating_add(STAFF_FOLLOW_UP_DAYS * DAY)
}

/// An email reminder of a review, by its day relative to the due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Reminder {
    /// 14 days before.
    Before14,
    /// 7 days before.
    Before7,
    /// 1 day before.
    Before1,
    /// 1 day after.
    After1,
    /// 7 days after.
    After7,
}

impl Reminder {
    /// All reminders, earliest first.
    pub const ALL: [Reminder; 5] =
        [Reminder::Before14, Reminder::Before7, Reminder::Before1, Reminder::After1, Reminder::After7];

    /// Days from the due date (negative: before it).
    pub fn offset_days(self) -> i64 {
        match self {
            Reminder::Before14 => -14,
            Reminder::Before7 => -7,
            Reminder::Before1 => -1,
            Reminder::After1 => 1,
            Reminder::After7 => 7,
        }
    }

    /// When this reminder is due for a review due at `due_at`.
    pub fn at(self, due_at: i64) -> i64 {
        due_at.saturating_add(self.offset_days() * DAY)
    }

    /// Whether it is sent after the due date.
    pub fn overdue(self) -> bool {
        self.offset_days() > 0
    }

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Reminder::Before14 => "before_14",
            Reminder::Before7 => "before_7",
            Reminder::Before1 => "before_1",
            Reminder::After1 => "after_1",
            Reminder::After7 => "after_7",
        }
    }

    /// Parses the stored form.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }
}

/// What the daily job does about one unsigned review's reminders at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReminderStep {
    /// Reminders whose time has come and that are not recorded yet: record them all.
    pub record: Vec<Reminder>,
    /// The one to email: the latest of them. When the job missed days, the earlier ones are
    /// recorded without an email, so a practice never gets a burst of reminders at once.
    pub send: Option<Reminder>,
}

/// The reminders of a review due at `due_at` that are owed at `now`, given those recorded.
pub fn reminders_owed(due_at: i64, now: i64, recorded: &[Reminder]) -> ReminderStep {
    let record: Vec<Reminder> =
        Reminder::ALL.into_iter().filter(|r| r.at(due_at) <= now && !recorded.contains(r)).collect();
    let send = record.last().copied();
    ReminderStep { record, send }
}

/// The due dates of `count` first reviews started together at `now`, spread evenly over
/// `weeks` weeks; the first is due two weeks from now so its first reminder goes out at once.
pub fn spread_due_dates(now: i64, count: usize, weeks: i64) -> Vec<i64> {
    let weeks = weeks.clamp(1, MAX_SPREAD_WEEKS);
    let start = now.saturating_add(14 * DAY);
    let span_days = weeks * 7;
    (0..count)
        .map(|i| {
            let day = (i as i64).saturating_mul(span_days) / (count.max(1) as i64);
            start.saturating_add(day * DAY)
        })
        .collect()
}

/// Checks a decision's optional reason: trimmed, at most [`MAX_REASON`] characters.
pub fn check_reason(raw: &str) -> Result<Option<String>, String> {
    let t = raw.trim();
    if t.chars().count() > MAX_REASON {
        return Err(format!("Keep the reason to {MAX_REASON} characters or fewer."));
    }
    Ok((!t.is_empty()).then(|| t.to_owned()))
}

/// Whether `reviewer` may record a decision on `subject`: never on oneself (another
/// administrator, or plan staff, confirms the reviewer).
pub fn may_decide_on(reviewer: crate::UserId, subject: crate::UserId) -> bool {
    reviewer != subject
}

/// One decision as frozen in a signed review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrozenDecision {
    pub user_id: i64,
    pub username: String,
    pub user_name: String,
    pub user_type: String,
    pub providers: String,
    pub administrator: bool,
    pub last_signin_at: Option<i64>,
    pub decision: Decision,
    pub change: Option<String>,
    pub reason: Option<String>,
    pub decided_by: i64,
    pub decided_at: i64,
}

/// A signed review as frozen: what its digest covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrozenReview {
    pub review_id: i64,
    pub plan_id: i64,
    pub practice_id: i64,
    pub tax_id: String,
    pub due_at: i64,
    pub signed_at: i64,
    pub signed_by: i64,
    pub signer_name: String,
    pub on_behalf: bool,
    pub sole_administrator: bool,
    /// Sorted by user id.
    pub decisions: Vec<FrozenDecision>,
}

impl FrozenReview {
    /// The SHA-256 of the review's canonical JSON (fields in declaration order, decisions by
    /// user id), as lowercase hex: what the audit chain records when it is signed.
    pub fn digest(&self) -> String {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(bytes))
    }
}

/// The start of the plan's calendar quarter that holds `now`, as a Unix time.
pub fn quarter_start(now: i64, zone: &PlanTimeZone) -> i64 {
    let Ok(ts) = jiff::Timestamp::from_second(now) else { return now };
    let date = ts.to_zoned_datetime(zone.tz().clone()).date();
    let month = ((date.month() - 1) / 3) * 3 + 1;
    jiff::civil::Date::new(date.year(), month, 1).ok().and_then(|d| zone.start_of(d)).unwrap_or(now)
}

/// Longest date range of one evidence export, in days.
pub const MAX_EXPORT_DAYS: i64 = 1_100;

/// Whole days of the plan's calendar, as an export asks for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRange {
    /// The start of the first day.
    pub from: i64,
    /// The start of the day after the last (exclusive).
    pub to: i64,
    /// The first and last days as people read them, like `Jan 15, 2027`.
    pub first_day: String,
    pub last_day: String,
}

/// Parses `YYYY-MM-DD` days `from` and `to` (inclusive) in the plan's zone; on a problem, the
/// field and its message.
pub fn day_range(from: &str, to: &str, zone: &PlanTimeZone) -> Result<DayRange, (&'static str, String)> {
    let day = |raw: &str, field: &'static str| {
        jiff::civil::Date::strptime("%Y-%m-%d", raw.trim())
            .map_err(|_| (field, "Enter the date as YYYY-MM-DD, for example 2027-03-31.".to_owned()))
    };
    let (first, last) = (day(from, "from")?, day(to, "to")?);
    if last < first {
        return Err(("to", "The end date must be on or after the start date.".to_owned()));
    }
    let out_of_range = |field: &'static str| (field, "That date is out of range.".to_owned());
    let start = zone.start_of(first).ok_or_else(|| out_of_range("from"))?;
    let after = last.tomorrow().map_err(|_| out_of_range("to"))?;
    let end = zone.start_of(after).ok_or_else(|| out_of_range("to"))?;
    if end - start > MAX_EXPORT_DAYS * DAY {
        return Err(("to", format!("Export at most {MAX_EXPORT_DAYS} days at a time.")));
    }
    Ok(DayRange {
        from: start,
        to: end,
        first_day: first.strftime("%b %-d, %Y").to_string(),
        last_day: last.strftime("%b %-d, %Y").to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UserId;

    #[test]
    fn decisions_and_statuses_round_trip() {
        for d in Decision::ALL {
            assert_eq!(Decision::parse(d.as_str()), Some(d));
        }
        assert_eq!(Decision::parse("Keep"), None);
        for s in ReviewStatus::ALL {
            assert_eq!(ReviewStatus::parse(s.as_str()), Some(s));
        }
        for r in Reminder::ALL {
            assert_eq!(Reminder::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn status_follows_due_date_signature_and_decisions() {
        let due = 100 * DAY;
        assert_eq!(ReviewStatus::of(due, None, 0, due - 1), ReviewStatus::NotStarted);
        assert_eq!(ReviewStatus::of(due, None, 3, due), ReviewStatus::InProgress);
        assert_eq!(ReviewStatus::of(due, None, 3, due + 1), ReviewStatus::Overdue);
        assert_eq!(ReviewStatus::of(due, None, 0, due + 1), ReviewStatus::Overdue);
        assert_eq!(ReviewStatus::of(due, Some(due + 5), 3, due + 10), ReviewStatus::Signed);
    }

    #[test]
    fn due_dates_count_from_the_first_administrator_then_from_each_signature() {
        assert_eq!(first_due(1_000, 90), 1_000 + 90 * DAY);
        assert_eq!(next_due(5_000, 30), 5_000 + 30 * DAY);
        assert!(on_time(10, 10));
        assert!(!on_time(10, 11));
    }

    #[test]
    fn staff_follow_up_starts_fourteen_days_past_due() {
        let due = 50 * DAY;
        assert!(!needs_follow_up(due, false, due + 14 * DAY - 1));
        assert!(needs_follow_up(due, false, due + 14 * DAY));
        assert!(!needs_follow_up(due, true, due + 40 * DAY));
    }

    #[test]
    fn each_reminder_is_owed_on_its_day_once() {
        let due = 100 * DAY;
        assert_eq!(reminders_owed(due, due - 14 * DAY - 1, &[]), ReminderStep::default());
        let s = reminders_owed(due, due - 14 * DAY, &[]);
        assert_eq!(s.record, vec![Reminder::Before14]);
        assert_eq!(s.send, Some(Reminder::Before14));
        assert_eq!(reminders_owed(due, due - 10 * DAY, &[Reminder::Before14]), ReminderStep::default());
        let s = reminders_owed(due, due - DAY, &[Reminder::Before14, Reminder::Before7]);
        assert_eq!(s.send, Some(Reminder::Before1));
        let s = reminders_owed(due, due + 7 * DAY, &Reminder::ALL[..4]);
        assert_eq!(s.send, Some(Reminder::After7));
        assert!(Reminder::After1.overdue() && !Reminder::Before1.overdue());
    }

    #[test]
    fn missed_days_record_the_earlier_reminders_and_send_only_the_latest() {
        let due = 100 * DAY;
        let s = reminders_owed(due, due + 2 * DAY, &[]);
        assert_eq!(s.record, vec![Reminder::Before14, Reminder::Before7, Reminder::Before1, Reminder::After1]);
        assert_eq!(s.send, Some(Reminder::After1));
    }

    #[test]
    fn first_reviews_spread_evenly_over_the_weeks_chosen() {
        let now = 1_000 * DAY;
        let d = spread_due_dates(now, 4, 4);
        assert_eq!(d, vec![now + 14 * DAY, now + 21 * DAY, now + 28 * DAY, now + 35 * DAY]);
        assert!(spread_due_dates(now, 10_000, 12).iter().all(|&x| x >= now + 14 * DAY && x < now + (14 + 84) * DAY));
        assert_eq!(spread_due_dates(now, 1, 0), vec![now + 14 * DAY]);
        assert!(spread_due_dates(now, 0, 3).is_empty());
    }

    #[test]
    fn reasons_are_optional_and_bounded() {
        assert_eq!(check_reason("  "), Ok(None));
        assert_eq!(check_reason(" left the practice "), Ok(Some("left the practice".into())));
        assert!(check_reason(&"x".repeat(MAX_REASON + 1)).is_err());
        assert!(check_reason(&"x".repeat(MAX_REASON)).is_ok());
    }

    #[test]
    fn nobody_decides_on_themself() {
        assert!(!may_decide_on(UserId(4), UserId(4)));
        assert!(may_decide_on(UserId(4), UserId(5)));
    }

    #[test]
    fn the_digest_covers_every_decision() {
        let d = FrozenDecision {
            user_id: 2,
            username: "bsmith".into(),
            user_name: "Bo Smith".into(),
            user_type: "Billing".into(),
            providers: "All providers".into(),
            administrator: false,
            last_signin_at: Some(5),
            decision: Decision::Keep,
            change: None,
            reason: None,
            decided_by: 1,
            decided_at: 9,
        };
        let r = FrozenReview {
            review_id: 1,
            plan_id: 1,
            practice_id: 3,
            tax_id: "123456789".into(),
            due_at: 10,
            signed_at: 11,
            signed_by: 1,
            signer_name: "Ann Lee".into(),
            on_behalf: false,
            sole_administrator: true,
            decisions: vec![d.clone()],
        };
        let a = r.digest();
        assert_eq!(a.len(), 64);
        assert_eq!(a, r.clone().digest());
        let mut changed = r.clone();
        changed.decisions[0].decision = Decision::Deactivate;
        assert_ne!(changed.digest(), a);
    }

    #[test]
    fn quarters_start_on_the_first_of_january_april_july_october_in_the_plan_zone() {
        let zone = PlanTimeZone::parse("America/New_York").unwrap();
        // 2026-05-20 12:00 UTC is in Q2; Q2 starts 2026-04-01 00:00 EDT = 04:00 UTC.
        let may = jiff::Timestamp::from_second(1_779_278_400).unwrap();
        assert_eq!(may.to_string(), "2026-05-20T12:00:00Z");
        let start = quarter_start(may.as_second(), &zone);
        assert_eq!(jiff::Timestamp::from_second(start).unwrap().to_string(), "2026-04-01T04:00:00Z");
    }

    #[test]
    fn export_ranges_are_whole_days_of_the_plan_zone() {
        let zone = PlanTimeZone::parse("America/New_York").unwrap();
        let r = day_range("2027-01-01", "2027-03-31", &zone).unwrap();
        assert_eq!(jiff::Timestamp::from_second(r.from).unwrap().to_string(), "2027-01-01T05:00:00Z");
        assert_eq!(jiff::Timestamp::from_second(r.to).unwrap().to_string(), "2027-04-01T04:00:00Z");
        assert_eq!((r.first_day.as_str(), r.last_day.as_str()), ("Jan 1, 2027", "Mar 31, 2027"));
        assert_eq!(day_range("2027-1-1x", "2027-03-31", &zone).unwrap_err().0, "from");
        assert_eq!(day_range("", "2027-03-31", &zone).unwrap_err().0, "from");
        assert_eq!(day_range("2027-03-31", "2027-01-01", &zone).unwrap_err().0, "to");
        assert_eq!(day_range("2020-01-01", "2027-01-01", &zone).unwrap_err().0, "to");
        assert!(day_range("2027-02-01", "2027-02-01", &zone).is_ok());
    }
}
