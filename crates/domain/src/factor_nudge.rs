//! The suggestion to add a stronger factor (issue 19): after a sign-in completed with a code sent
//! by text or voice (a *restricted* authenticator in NIST SP 800-63B), a person who has neither an
//! authenticator app nor a passkey is invited to add one. The suggestion is shown in at most one
//! session per [`NUDGE_INTERVAL`]: the first session that qualifies after the interval keeps it
//! (on every visit to the home page) until the person chooses "Not now", which hides it at once
//! and starts the interval again.

use crate::SessionId;
use crate::session::AuthMethods;
use crate::time::{Duration, Timestamp};

/// At most one session is shown the suggestion this often.
pub const NUDGE_INTERVAL: Duration = Duration::days(7);

/// What is stored on the user: when the suggestion was last shown or dismissed, and the session
/// it was shown in (cleared by a dismissal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NudgeRecord {
    /// When it was last shown (first shown in `session`) or dismissed.
    pub at: Option<Timestamp>,
    /// The session that shows it now, until dismissed.
    pub session: Option<SessionId>,
}

/// What to do for one visit of a signed-in session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nudge {
    /// Do not suggest anything.
    Hide,
    /// This session already shows it: show it again, nothing to record.
    ShowAgain,
    /// Show it, and record this session as the one that shows it (unless another session, at the
    /// same moment, did first).
    ShowFirst,
}

impl Nudge {
    /// Whether the suggestion is shown.
    pub fn shown(self) -> bool {
        self != Self::Hide
    }
}

/// Decides the suggestion for session `session`, signed in by `amr`, of a user who has (or not)
/// a strong factor (a confirmed authenticator app or a passkey), given what was recorded.
pub fn decide(
    amr: Option<&AuthMethods>,
    has_strong_factor: bool,
    record: NudgeRecord,
    session: SessionId,
    now: Timestamp,
) -> Nudge {
    if has_strong_factor || !amr.is_some_and(AuthMethods::used_phone_code) {
        return Nudge::Hide;
    }
    if record.session == Some(session) {
        return Nudge::ShowAgain;
    }
    match record.at {
        Some(at) if now < at.plus(NUDGE_INTERVAL) => Nudge::Hide,
        _ => Nudge::ShowFirst,
    }
}

/// The latest time a suggestion may have been recorded for a new session to show it at `now`.
pub fn due_if_recorded_by(now: Timestamp) -> Timestamp {
    now.minus(NUDGE_INTERVAL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone::TwoStepMethod;
    use crate::session::PasskeyProof;

    const NOW: Timestamp = Timestamp(1_800_000_000);

    fn text() -> AuthMethods {
        AuthMethods::password_and_code(TwoStepMethod::Text)
    }

    #[test]
    fn only_after_a_text_or_voice_code_and_without_a_strong_factor() {
        let none = NudgeRecord::default();
        assert_eq!(decide(Some(&text()), false, none, SessionId(1), NOW), Nudge::ShowFirst);
        let voice = AuthMethods::password_and_code(TwoStepMethod::Voice);
        assert_eq!(decide(Some(&voice), false, none, SessionId(1), NOW), Nudge::ShowFirst);
        assert_eq!(decide(Some(&text()), true, none, SessionId(1), NOW), Nudge::Hide);
        for other in [
            AuthMethods::password_and_app(),
            AuthMethods::password_and_recovery_code(),
            AuthMethods::passkey(PasskeyProof { backup_eligible: true }, false),
        ] {
            assert_eq!(decide(Some(&other), false, none, SessionId(1), NOW), Nudge::Hide, "{}", other.as_stored());
        }
        assert_eq!(decide(None, false, none, SessionId(1), NOW), Nudge::Hide);
    }

    #[test]
    fn one_session_a_week() {
        let shown = NudgeRecord { at: Some(NOW), session: Some(SessionId(1)) };
        assert_eq!(decide(Some(&text()), false, shown, SessionId(1), NOW.plus(Duration::hours(2))), Nudge::ShowAgain);
        assert_eq!(decide(Some(&text()), false, shown, SessionId(2), NOW.plus(Duration::days(6))), Nudge::Hide);
        assert_eq!(decide(Some(&text()), false, shown, SessionId(2), NOW.plus(NUDGE_INTERVAL)), Nudge::ShowFirst);
        // Dismissed: hidden at once, in that session too, for the interval.
        let dismissed = NudgeRecord { at: Some(NOW), session: None };
        assert_eq!(decide(Some(&text()), false, dismissed, SessionId(1), NOW), Nudge::Hide);
        assert_eq!(decide(Some(&text()), false, dismissed, SessionId(3), NOW.plus(NUDGE_INTERVAL)), Nudge::ShowFirst);
        assert_eq!(due_if_recorded_by(NOW.plus(NUDGE_INTERVAL)), NOW);
        assert!(Nudge::ShowAgain.shown() && !Nudge::Hide.shown());
    }
}
