//! An imported account's first sign-in proves the email address on record before anything can
//! be enrolled: the old password alone (perhaps leaked with the old portal) must not let anyone
//! choose the account's two-step phone. These are the rules of that step and of its link.

use crate::session::SessionStage;
use crate::time::{Duration, Timestamp};

/// How long the emailed link works, like every other link of the portal.
pub const LINK_LIFETIME: Duration = Duration::hours(72);
/// Links sent to one account per [`SEND_WINDOW`] (sign-ins and resends together).
pub const SENDS_PER_WINDOW: i64 = 5;
/// The window in which sends are counted.
pub const SEND_WINDOW: Duration = Duration::hours(1);

/// Where a session goes once an imported account's old password was accepted.
pub fn stage_after_old_password(plan_requires_email_proof: bool) -> SessionStage {
    if plan_requires_email_proof { SessionStage::EmailProof } else { SessionStage::NewPassword }
}

/// Whether another link may be sent, given how many were sent in the last [`SEND_WINDOW`].
pub fn may_send(sent_in_window: i64) -> bool {
    sent_in_window < SENDS_PER_WINDOW
}

/// What a presented link is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkVerdict {
    /// Unused and in time.
    Usable,
    /// Used already, or replaced by a newer link.
    Used,
    /// Past its lifetime.
    Expired,
}

/// Judges a link that expires at `expires_at` and was used (or replaced) at `used_at`.
pub fn judge(expires_at: Timestamp, used_at: Option<Timestamp>, now: Timestamp) -> LinkVerdict {
    if used_at.is_some() {
        LinkVerdict::Used
    } else if now >= expires_at {
        LinkVerdict::Expired
    } else {
        LinkVerdict::Usable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_decides_whether_the_email_is_proven_first() {
        assert_eq!(stage_after_old_password(true), SessionStage::EmailProof);
        assert_eq!(stage_after_old_password(false), SessionStage::NewPassword);
    }

    #[test]
    fn links_work_once_and_for_72_hours() {
        let sent = Timestamp(1_000);
        let end = sent.plus(LINK_LIFETIME);
        assert_eq!(LINK_LIFETIME, Duration::hours(72));
        assert_eq!(judge(end, None, sent), LinkVerdict::Usable);
        assert_eq!(judge(end, None, end.minus(Duration::seconds(1))), LinkVerdict::Usable);
        assert_eq!(judge(end, None, end), LinkVerdict::Expired);
        assert_eq!(judge(end, Some(sent), sent), LinkVerdict::Used);
        // A used link reads as used even once it would also have expired.
        assert_eq!(judge(end, Some(sent), end), LinkVerdict::Used);
    }

    #[test]
    fn sends_are_throttled() {
        assert!(may_send(0));
        assert!(may_send(SENDS_PER_WINDOW - 1));
        assert!(!may_send(SENDS_PER_WINDOW));
    }
}
