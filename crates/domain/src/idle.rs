//! Idle accounts (issue 17): an active account without a sign-in for the plan's idle threshold
//! is flagged; 14 days before the deactivation threshold its holder is warned by email; at the
//! threshold a portal account is deactivated. Pure rules: the current time is an argument.
//!
//! An account's idle period starts at its *idle since* instant: the last sign-in, or when the
//! account became active (sign-up, import, reactivation) if that is later. An account is never
//! deactivated without its warning: the deactivation comes at the threshold or 14 days after the
//! warning was sent, whichever is later (so the first run on a database of long-idle accounts,
//! or a lowered threshold, warns before it deactivates). Invited accounts
//! (never signed up) and deactivated accounts are never idle; plan staff accounts may be
//! flagged but are never warned or deactivated (a plan must not lose its administrators to a
//! holiday).

use crate::{Duration, Timestamp, UserStatus};
use std::ops::RangeInclusive;

/// What a plan's idle threshold (days without a sign-in before an account is flagged) may be.
pub const FLAG_DAYS_RANGE: RangeInclusive<i64> = 30..=365;
/// What a plan's deactivation threshold (days without a sign-in) may be.
pub const DEACTIVATE_DAYS_RANGE: RangeInclusive<i64> = 60..=730;
/// The idle threshold of a plan that has not chosen one.
pub const DEFAULT_FLAG_DAYS: i64 = 90;
/// The deactivation threshold of a plan that has not chosen one.
pub const DEFAULT_DEACTIVATE_DAYS: i64 = 180;
/// Days before the deactivation that the warning email is sent; the deactivation threshold is
/// at least this many days after the idle threshold.
pub const WARNING_DAYS: i64 = 14;

/// A plan's idle thresholds, checked: both in range, deactivation at least [`WARNING_DAYS`]
/// after the flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdlePolicy {
    flag_days: i64,
    deactivate_days: i64,
}

/// Why thresholds were refused, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdlePolicyError {
    #[error("The idle threshold must be a whole number of days from {} to {}.", FLAG_DAYS_RANGE.start(), FLAG_DAYS_RANGE.end())]
    FlagDays,
    #[error("The deactivation threshold must be a whole number of days from {} to {}.", DEACTIVATE_DAYS_RANGE.start(), DEACTIVATE_DAYS_RANGE.end())]
    DeactivateDays,
    #[error(
        "Deactivation must come at least {WARNING_DAYS} days after an account is flagged as idle (the warning email goes {WARNING_DAYS} days before it): enter at least {minimum} days, or lower the idle threshold."
    )]
    TooClose { minimum: i64 },
}

impl IdlePolicyError {
    /// The settings field the error belongs beside.
    pub fn field(&self) -> &'static str {
        match self {
            Self::FlagDays => "idle_flag_days",
            Self::DeactivateDays | Self::TooClose { .. } => "idle_deactivate_days",
        }
    }
}

impl Default for IdlePolicy {
    fn default() -> Self {
        Self { flag_days: DEFAULT_FLAG_DAYS, deactivate_days: DEFAULT_DEACTIVATE_DAYS }
    }
}

/// Where an account stands in its idle period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum IdleStage {
    /// Not idle (recently used, invited, deactivated, or no known start).
    Fresh,
    /// Idle: flagged in the directory, the review and plan staff's search.
    Flagged,
    /// Idle long enough for the warning email (deactivation in [`WARNING_DAYS`] days or less).
    Warn,
    /// Idle long enough to be deactivated, and warned at least [`WARNING_DAYS`] days ago.
    Deactivate,
}

/// What the rule reads of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleAccount {
    pub status: UserStatus,
    /// Start of the current idle period (see the module documentation).
    pub idle_since: Option<Timestamp>,
    /// When the warning of the current idle period was sent, if it was.
    pub warned_at: Option<Timestamp>,
    /// Whether the account holds a plan staff role.
    pub staff: bool,
}

impl IdlePolicy {
    /// Checks a plan's thresholds.
    pub fn new(flag_days: i64, deactivate_days: i64) -> Result<Self, IdlePolicyError> {
        if !FLAG_DAYS_RANGE.contains(&flag_days) {
            return Err(IdlePolicyError::FlagDays);
        }
        if !DEACTIVATE_DAYS_RANGE.contains(&deactivate_days) {
            return Err(IdlePolicyError::DeactivateDays);
        }
        let minimum = flag_days + WARNING_DAYS;
        if deactivate_days < minimum {
            return Err(IdlePolicyError::TooClose { minimum });
        }
        Ok(Self { flag_days, deactivate_days })
    }

    /// The thresholds as stored, or the defaults should the stored pair break the rules (it
    /// cannot through the settings form).
    pub fn from_stored(flag_days: i64, deactivate_days: i64) -> Self {
        Self::new(flag_days, deactivate_days).unwrap_or_default()
    }

    /// Days without a sign-in before an account is flagged.
    pub fn flag_days(self) -> i64 {
        self.flag_days
    }

    /// Days without a sign-in before a portal account is deactivated.
    pub fn deactivate_days(self) -> i64 {
        self.deactivate_days
    }

    /// Days without a sign-in before the warning email.
    pub fn warn_days(self) -> i64 {
        self.deactivate_days - WARNING_DAYS
    }

    /// An account idle since this instant or earlier is flagged at `now`.
    pub fn flag_cutoff(self, now: Timestamp) -> Timestamp {
        now.minus(Duration::days(self.flag_days))
    }

    /// An account idle since this instant or earlier is due its warning at `now`.
    pub fn warn_cutoff(self, now: Timestamp) -> Timestamp {
        now.minus(Duration::days(self.warn_days()))
    }

    /// An account idle since this instant or earlier is due its deactivation at `now`.
    pub fn deactivate_cutoff(self, now: Timestamp) -> Timestamp {
        now.minus(Duration::days(self.deactivate_days))
    }

    /// When an account idle since `since` and warned at `warned_at` is deactivated, unless it
    /// signs in first: at the threshold, but never sooner than [`WARNING_DAYS`] after the warning.
    pub fn deactivation_at(self, since: Timestamp, warned_at: Timestamp) -> Timestamp {
        since.plus(Duration::days(self.deactivate_days)).max(warned_at.plus(Duration::days(WARNING_DAYS)))
    }

    /// A warning sent at this instant or earlier is old enough for the deactivation at `now`.
    pub fn warned_cutoff(now: Timestamp) -> Timestamp {
        now.minus(Duration::days(WARNING_DAYS))
    }

    /// Whether the account is idle at `now` (the flag shown to administrators and staff).
    pub fn is_idle(self, account: &IdleAccount, now: Timestamp) -> bool {
        self.stage(account, now) >= IdleStage::Flagged
    }

    /// Where the account stands at `now`. Staff accounts go no further than [`IdleStage::Flagged`].
    pub fn stage(self, account: &IdleAccount, now: Timestamp) -> IdleStage {
        let Some(since) = account.idle_since else { return IdleStage::Fresh };
        if account.status != UserStatus::Active {
            return IdleStage::Fresh;
        }
        let warned_long_ago = account.warned_at.is_some_and(|w| w <= Self::warned_cutoff(now));
        let stage = if since <= self.deactivate_cutoff(now) && warned_long_ago {
            IdleStage::Deactivate
        } else if since <= self.warn_cutoff(now) {
            IdleStage::Warn
        } else if since <= self.flag_cutoff(now) {
            IdleStage::Flagged
        } else {
            IdleStage::Fresh
        };
        if account.staff { stage.min(IdleStage::Flagged) } else { stage }
    }
}

/// Whole days from `since` to `now` (0 when `now` is earlier).
pub fn days_between(since: Timestamp, now: Timestamp) -> i64 {
    (now.as_secs() - since.as_secs()).max(0) / Duration::days(1).as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: Timestamp = Timestamp(1_800_000_000);

    fn at(days: i64) -> Timestamp {
        START.plus(Duration::days(days))
    }

    fn portal(since: Option<Timestamp>) -> IdleAccount {
        IdleAccount { status: UserStatus::Active, idle_since: since, warned_at: None, staff: false }
    }

    /// An account idle since `START`, warned at day `warned`.
    fn warned(warned: i64) -> IdleAccount {
        IdleAccount { warned_at: Some(at(warned)), ..portal(Some(START)) }
    }

    #[test]
    fn thresholds_are_checked_with_the_field_at_fault() {
        assert_eq!(IdlePolicy::default(), IdlePolicy::new(90, 180).unwrap());
        assert_eq!(IdlePolicy::new(29, 180), Err(IdlePolicyError::FlagDays));
        assert_eq!(IdlePolicy::new(366, 730), Err(IdlePolicyError::FlagDays));
        assert_eq!(IdlePolicy::new(30, 59), Err(IdlePolicyError::DeactivateDays));
        assert_eq!(IdlePolicy::new(90, 731), Err(IdlePolicyError::DeactivateDays));
        assert!(IdlePolicy::new(30, 60).is_ok() && IdlePolicy::new(365, 730).is_ok());
        assert_eq!(IdlePolicy::new(90, 103), Err(IdlePolicyError::TooClose { minimum: 104 }));
        assert!(IdlePolicy::new(90, 104).is_ok());
        let e = IdlePolicy::new(100, 110).unwrap_err();
        assert_eq!(e.field(), "idle_deactivate_days");
        assert!(e.to_string().contains("at least 114 days"), "{e}");
        assert_eq!(IdlePolicyError::FlagDays.field(), "idle_flag_days");
        assert_eq!(IdlePolicy::from_stored(90, 95), IdlePolicy::default());
        assert_eq!(IdlePolicy::new(90, 180).unwrap().warn_days(), 166);
    }

    #[test]
    fn flagged_at_90_days_not_89() {
        let p = IdlePolicy::default();
        let a = portal(Some(START));
        assert_eq!(p.stage(&a, at(89)), IdleStage::Fresh);
        assert_eq!(p.stage(&a, at(90).minus(Duration::seconds(1))), IdleStage::Fresh);
        assert_eq!(p.stage(&a, at(90)), IdleStage::Flagged);
        assert!(p.is_idle(&a, at(90)) && !p.is_idle(&a, at(89)));
    }

    #[test]
    fn warned_at_166_days_not_165() {
        let p = IdlePolicy::default();
        let a = portal(Some(START));
        assert_eq!(p.stage(&a, at(165)), IdleStage::Flagged);
        assert_eq!(p.stage(&a, at(166)), IdleStage::Warn);
        assert_eq!(p.deactivation_at(START, at(166)), at(180));
    }

    #[test]
    fn deactivated_at_180_days_not_179() {
        let p = IdlePolicy::default();
        let a = warned(166);
        assert_eq!(p.stage(&a, at(179)), IdleStage::Warn);
        assert_eq!(p.stage(&a, at(180)), IdleStage::Deactivate);
        assert_eq!(p.stage(&a, at(400)), IdleStage::Deactivate);
    }

    #[test]
    fn never_deactivated_without_14_days_of_warning() {
        let p = IdlePolicy::default();
        // Never warned (the job did not run, or the threshold was lowered): warned first.
        assert_eq!(p.stage(&portal(Some(START)), at(400)), IdleStage::Warn);
        // Warned late, at day 200: deactivated 14 days after the warning, not at 180.
        let late = warned(200);
        assert_eq!(p.deactivation_at(START, at(200)), at(214));
        assert_eq!(p.stage(&late, at(213)), IdleStage::Warn);
        assert_eq!(p.stage(&late, at(214)), IdleStage::Deactivate);
        // Warned on time, the job one day late: deactivated at its next run.
        assert_eq!(p.stage(&warned(167), at(181)), IdleStage::Deactivate);
    }

    #[test]
    fn a_sign_in_at_day_170_starts_a_new_period() {
        let p = IdlePolicy::default();
        let again = portal(Some(at(170)));
        // The warning of the first period (day 166) does not count for the second.
        assert_eq!(p.stage(&again, at(180)), IdleStage::Fresh);
        assert_eq!(p.stage(&again, at(259)), IdleStage::Fresh);
        assert_eq!(p.stage(&again, at(260)), IdleStage::Flagged);
        assert_eq!(p.stage(&again, at(336)), IdleStage::Warn);
        assert_eq!(p.stage(&again, at(350)), IdleStage::Warn);
        let warned_again = IdleAccount { warned_at: Some(at(336)), ..again };
        assert_eq!(p.stage(&warned_again, at(349)), IdleStage::Warn);
        assert_eq!(p.stage(&warned_again, at(350)), IdleStage::Deactivate);
    }

    #[test]
    fn invited_deactivated_and_unknown_are_never_idle() {
        let p = IdlePolicy::default();
        for status in [UserStatus::Invited, UserStatus::Deactivated] {
            let a = IdleAccount { status, ..warned(166) };
            assert_eq!(p.stage(&a, at(1000)), IdleStage::Fresh);
        }
        assert_eq!(p.stage(&portal(None), at(1000)), IdleStage::Fresh);
    }

    #[test]
    fn staff_are_flagged_but_never_warned_or_deactivated() {
        let p = IdlePolicy::default();
        let s = IdleAccount { staff: true, ..warned(166) };
        assert_eq!(p.stage(&s, at(89)), IdleStage::Fresh);
        assert_eq!(p.stage(&s, at(90)), IdleStage::Flagged);
        assert_eq!(p.stage(&s, at(500)), IdleStage::Flagged);
    }

    #[test]
    fn custom_thresholds_move_every_boundary() {
        let p = IdlePolicy::new(30, 60).unwrap();
        let a = warned(46);
        assert_eq!(
            [29, 30, 45, 46, 59, 60].map(|d| p.stage(&a, at(d))),
            [
                IdleStage::Fresh,
                IdleStage::Flagged,
                IdleStage::Flagged,
                IdleStage::Warn,
                IdleStage::Warn,
                IdleStage::Deactivate
            ]
        );
        assert_eq!(p.flag_cutoff(at(30)), START);
        assert_eq!(p.warn_cutoff(at(46)), START);
        assert_eq!(p.deactivate_cutoff(at(60)), START);
    }

    #[test]
    fn whole_days() {
        assert_eq!(days_between(START, at(166)), 166);
        assert_eq!(days_between(START, at(166).minus(Duration::seconds(1))), 165);
        assert_eq!(days_between(at(2), START), 0);
    }
}
