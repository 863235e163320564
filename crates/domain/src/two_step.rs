//! One-time codes for two-step verification.

use crate::time::{Duration, Timestamp};

/// The plan's rules for two-step codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodePolicy {
    /// Digits in a code.
    pub length: u32,
    /// How long a code is valid.
    pub lifetime: Duration,
    /// Wrong entries allowed before the code dies.
    pub max_tries: i64,
    /// Codes that may be sent to one user in one hour.
    pub max_sends_per_hour: i64,
}

impl Default for CodePolicy {
    fn default() -> Self {
        Self { length: 6, lifetime: Duration::minutes(10), max_tries: 5, max_sends_per_hour: 5 }
    }
}

impl CodePolicy {
    /// Formats a random number as a code of `length` digits (leading zeros kept). The caller
    /// supplies the randomness.
    pub fn code_from(&self, random: u64) -> String {
        let modulus = 10u64.pow(self.length);
        format!("{:0width$}", random % modulus, width = self.length as usize)
    }

    /// Whether one more code may be sent, given how many were sent in the last hour.
    pub fn may_send(&self, sent_last_hour: i64) -> bool {
        sent_last_hour < self.max_sends_per_hour
    }

    /// When a code created at `created` stops working.
    pub fn expires_at(&self, created: Timestamp) -> Timestamp {
        created.plus(self.lifetime)
    }

    /// Whether what the person typed looks like a code at all (digits, right length).
    pub fn well_formed(&self, typed: &str) -> bool {
        typed.len() == self.length as usize && typed.bytes().all(|b| b.is_ascii_digit())
    }
}

/// What became of an attempt to use a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// Right code, in time, with tries left.
    Accepted,
    /// Wrong code; tries remain.
    Wrong { tries_left: i64 },
    /// This was the last allowed try, or tries were already used up.
    TooManyTries,
    /// The code is older than its lifetime.
    Expired,
    /// The code was already used.
    AlreadyUsed,
}

/// Decides an attempt. `tries_before` counts the wrong entries already made.
pub fn check_code(
    policy: &CodePolicy,
    matches: bool,
    tries_before: i64,
    expires_at: Timestamp,
    consumed: bool,
    now: Timestamp,
) -> CodeCheck {
    if consumed {
        return CodeCheck::AlreadyUsed;
    }
    if now >= expires_at {
        return CodeCheck::Expired;
    }
    if tries_before >= policy.max_tries {
        return CodeCheck::TooManyTries;
    }
    if matches {
        return CodeCheck::Accepted;
    }
    let left = policy.max_tries - tries_before - 1;
    if left <= 0 { CodeCheck::TooManyTries } else { CodeCheck::Wrong { tries_left: left } }
}

/// Wrong answers in a row to one account's second step (its texted or called codes, app codes
/// and recovery codes, across codes, sessions and addresses) taken before answers pause. A
/// code's own limit ends that code; this bounds guessing across new codes, which someone who
/// has the password can ask for a few times an hour.
pub const FREE_WRONG_ANSWERS: i64 = 10;

/// Wrong answers in a row after which no answer is taken until the owner resets the password
/// or the help desk resets two-step (NIST SP 800-63B 5.2.2: at most 100 consecutive failures).
pub const WRONG_ANSWER_LIMIT: i64 = 100;

/// The longest pause between answers.
pub const LONGEST_PAUSE: Duration = Duration::hours(24);

/// Whether an account's second step takes answers, after `wrong` wrong answers in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerGate {
    /// Answers are taken.
    Open,
    /// The next answer is taken only after this long from the last wrong one: a minute at
    /// [`FREE_WRONG_ANSWERS`], doubling with each further one, at most [`LONGEST_PAUSE`].
    PausedFor(Duration),
    /// No answer is taken ([`WRONG_ANSWER_LIMIT`]).
    Closed,
}

/// The gate after `wrong` wrong answers in a row.
pub fn answer_gate(wrong: i64) -> AnswerGate {
    if wrong >= WRONG_ANSWER_LIMIT {
        return AnswerGate::Closed;
    }
    if wrong < FREE_WRONG_ANSWERS {
        return AnswerGate::Open;
    }
    let doublings = u32::try_from(wrong - FREE_WRONG_ANSWERS).unwrap_or(u32::MAX).min(20);
    let minutes = 1i64 << doublings;
    AnswerGate::PausedFor(Duration::minutes(minutes).min(LONGEST_PAUSE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_answers_pause_then_close_the_second_step() {
        assert_eq!(answer_gate(0), AnswerGate::Open);
        assert_eq!(answer_gate(FREE_WRONG_ANSWERS - 1), AnswerGate::Open);
        assert_eq!(answer_gate(FREE_WRONG_ANSWERS), AnswerGate::PausedFor(Duration::minutes(1)));
        assert_eq!(answer_gate(FREE_WRONG_ANSWERS + 1), AnswerGate::PausedFor(Duration::minutes(2)));
        assert_eq!(answer_gate(FREE_WRONG_ANSWERS + 10), AnswerGate::PausedFor(Duration::minutes(1024)));
        assert_eq!(answer_gate(FREE_WRONG_ANSWERS + 11), AnswerGate::PausedFor(LONGEST_PAUSE));
        assert_eq!(answer_gate(WRONG_ANSWER_LIMIT - 1), AnswerGate::PausedFor(LONGEST_PAUSE));
        assert_eq!(answer_gate(WRONG_ANSWER_LIMIT), AnswerGate::Closed);
        assert_eq!(answer_gate(i64::MAX), AnswerGate::Closed);
        // 10 free, 11 growing pauses (about a day and a half), then one a day: the 100th wrong
        // answer, after which none is taken, comes no sooner than 80 days after the first.
        let (mut at, mut guesses) = (0, 0);
        loop {
            guesses += 1;
            match answer_gate(guesses) {
                AnswerGate::Open => {}
                AnswerGate::PausedFor(d) => at += d.as_secs(),
                AnswerGate::Closed => break,
            }
        }
        assert_eq!(guesses, WRONG_ANSWER_LIMIT);
        assert!(at >= Duration::days(80).as_secs(), "{at}");
    }

    #[test]
    fn codes_keep_leading_zeros() {
        let p = CodePolicy::default();
        assert_eq!(p.code_from(42), "000042");
        assert_eq!(p.code_from(1_234_567), "234567");
        assert!(p.well_formed("012345"));
        assert!(!p.well_formed("12345"));
        assert!(!p.well_formed("12345a"));
    }

    #[test]
    fn send_limit() {
        let p = CodePolicy::default();
        assert!(p.may_send(4));
        assert!(!p.may_send(5));
    }

    #[test]
    fn tries_expiry_and_reuse() {
        let p = CodePolicy::default();
        let t0 = Timestamp(0);
        let exp = p.expires_at(t0);
        assert_eq!(check_code(&p, true, 0, exp, false, t0), CodeCheck::Accepted);
        assert_eq!(check_code(&p, false, 0, exp, false, t0), CodeCheck::Wrong { tries_left: 4 });
        assert_eq!(check_code(&p, false, 4, exp, false, t0), CodeCheck::TooManyTries);
        // After five wrong tries even the right code is refused: the sixth try never works.
        assert_eq!(check_code(&p, true, 5, exp, false, t0), CodeCheck::TooManyTries);
        assert_eq!(check_code(&p, true, 0, exp, false, exp), CodeCheck::Expired);
        assert_eq!(check_code(&p, true, 0, exp, true, t0), CodeCheck::AlreadyUsed);
    }
}
