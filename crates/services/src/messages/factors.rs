//! Notices about an account's sign-in factors: a recovery code was used, a passkey or an
//! authenticator app was added or removed, new recovery codes were made, or the help desk reset
//! two-step verification. They say what and when, and whom to call if it was not the owner.

use super::{Channel, Rendered, render};
use crate::Internal;
use askama::Template;

/// What happened to the account's factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorEvent<'a> {
    /// A recovery code was used to sign in; `left` remain.
    RecoveryCodeUsed { left: i64 },
    /// The help desk removed the two-step phone, the authenticator app, the passkeys and the
    /// recovery codes.
    TwoStepReset,
    /// A passkey of this name was registered.
    PasskeyAdded { name: &'a str },
    /// The passkey of this name was removed.
    PasskeyRemoved { name: &'a str },
    /// An authenticator app was set up.
    AppAdded,
    /// The authenticator app was removed.
    AppRemoved,
    /// A new set of recovery codes was made; the old ones stopped working.
    RecoveryCodesRenewed,
    /// `count` wrong two-step codes in a row were entered after the right password (or at
    /// "Confirm it's you"): codes are paused for a while.
    WrongCodes { count: i64 },
}

/// The notice, to the address on record.
#[derive(Debug, Clone, Template)]
#[template(path = "messages/factor_notice_v1.txt")]
pub struct FactorNoticeV1<'a> {
    pub first_name: &'a str,
    pub username: &'a str,
    pub plan_name: &'a str,
    /// When, as people read it.
    pub when: &'a str,
    pub event: FactorEvent<'a>,
    pub support_phone: &'a str,
    pub support_hours: &'a str,
}

#[derive(Template)]
#[template(path = "messages/factor_notice_v1.html")]
struct Html<'a> {
    m: &'a FactorNoticeV1<'a>,
}

/// The event as the templates match it.
enum What<'a> {
    RecoveryCodeUsed(i64),
    TwoStepReset,
    PasskeyAdded(&'a str),
    PasskeyRemoved(&'a str),
    AppAdded,
    AppRemoved,
    RecoveryCodesRenewed,
    WrongCodes(i64),
}

impl FactorNoticeV1<'_> {
    fn what(&self) -> What<'_> {
        match self.event {
            FactorEvent::RecoveryCodeUsed { left } => What::RecoveryCodeUsed(left),
            FactorEvent::TwoStepReset => What::TwoStepReset,
            FactorEvent::PasskeyAdded { name } => What::PasskeyAdded(name),
            FactorEvent::PasskeyRemoved { name } => What::PasskeyRemoved(name),
            FactorEvent::AppAdded => What::AppAdded,
            FactorEvent::AppRemoved => What::AppRemoved,
            FactorEvent::RecoveryCodesRenewed => What::RecoveryCodesRenewed,
            FactorEvent::WrongCodes { count } => What::WrongCodes(count),
        }
    }

    /// Renders the notice to `to`.
    pub fn render_to(&self, to: &str) -> Result<Rendered, Internal> {
        let (kind, subject) = match self.event {
            FactorEvent::RecoveryCodeUsed { .. } => (
                "recovery_code_used.v1",
                format!("A recovery code was used to sign in to your {} provider portal account", self.plan_name),
            ),
            FactorEvent::TwoStepReset => (
                "two_step_reset.v1",
                format!("Two-step verification was reset on your {} provider portal account", self.plan_name),
            ),
            FactorEvent::PasskeyAdded { .. } => {
                ("passkey_added.v1", format!("A passkey was added to your {} provider portal account", self.plan_name))
            }
            FactorEvent::PasskeyRemoved { .. } => (
                "passkey_removed.v1",
                format!("A passkey was removed from your {} provider portal account", self.plan_name),
            ),
            FactorEvent::AppAdded => (
                "authenticator_app_added.v1",
                format!("An authenticator app was set up for your {} provider portal account", self.plan_name),
            ),
            FactorEvent::AppRemoved => (
                "authenticator_app_removed.v1",
                format!("The authenticator app was removed from your {} provider portal account", self.plan_name),
            ),
            FactorEvent::RecoveryCodesRenewed => (
                "recovery_codes_renewed.v1",
                format!("New recovery codes were made for your {} provider portal account", self.plan_name),
            ),
            FactorEvent::WrongCodes { .. } => (
                "wrong_codes.v1",
                format!("Wrong sign-in codes were entered on your {} provider portal account", self.plan_name),
            ),
        };
        Ok(Rendered {
            channel: Channel::Email,
            kind,
            recipient: to.to_owned(),
            subject,
            text: render(self)?,
            html: render(&Html { m: self })?,
            secrets: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(event: FactorEvent<'static>) -> FactorNoticeV1<'static> {
        FactorNoticeV1 {
            first_name: "Jay",
            username: "jpatel",
            plan_name: "Chorus",
            when: "Jan 15, 2027 3:05 AM EST",
            event,
            support_phone: "1-800-555-0100",
            support_hours: "8-5",
        }
    }

    #[test]
    fn says_what_when_and_whom_to_call() {
        let r = m(FactorEvent::RecoveryCodeUsed { left: 9 }).render_to("jay@x.example").unwrap();
        assert_eq!(r.kind, "recovery_code_used.v1");
        for t in [&r.text, &r.html] {
            assert!(t.contains("recovery code") && t.contains("9 recovery codes left"), "{t}");
            assert!(
                t.contains("Jan 15, 2027 3:05 AM EST") && t.contains("1-800-555-0100") && t.contains("jpatel"),
                "{t}"
            );
        }
        let r = m(FactorEvent::TwoStepReset).render_to("jay@x.example").unwrap();
        assert_eq!(r.kind, "two_step_reset.v1");
        assert!(r.text.contains("reset") && r.text.contains("authenticator app"), "{}", r.text);
    }

    #[test]
    fn passkey_added_and_removed() {
        let r = m(FactorEvent::PasskeyAdded { name: "Office <laptop>" }).render_to("jay@x.example").unwrap();
        assert_eq!(r.kind, "passkey_added.v1");
        assert!(r.subject.contains("passkey was added"), "{}", r.subject);
        assert!(r.text.contains("Office <laptop>") && !r.html.contains("<laptop>"), "{}", r.html);
        for t in [&r.text, &r.html] {
            assert!(t.contains("was added") && t.contains("Jan 15, 2027 3:05 AM EST"), "{t}");
            assert!(t.contains("If it was not you") && t.contains("1-800-555-0100"), "{t}");
        }
        let r = m(FactorEvent::PasskeyRemoved { name: "Phone" }).render_to("jay@x.example").unwrap();
        assert_eq!(r.kind, "passkey_removed.v1");
        assert!(r.text.contains("\u{201c}Phone\u{201d} was removed") && r.html.contains("was removed"), "{}", r.text);
    }

    #[test]
    fn authenticator_app_and_new_recovery_codes() {
        let cases = [
            (FactorEvent::AppAdded, "authenticator_app_added.v1", "authenticator app was set up"),
            (FactorEvent::AppRemoved, "authenticator_app_removed.v1", "authenticator app was removed"),
            (FactorEvent::RecoveryCodesRenewed, "recovery_codes_renewed.v1", "new set of recovery codes was made"),
            (FactorEvent::WrongCodes { count: 10 }, "wrong_codes.v1", "10 wrong two-step codes in a row"),
        ];
        for (event, kind, says) in cases {
            let r = m(event).render_to("jay@x.example").unwrap();
            assert_eq!(r.kind, kind);
            for t in [&r.text, &r.html] {
                assert!(t.contains(says) && t.contains("Jan 15, 2027 3:05 AM EST"), "{t}");
                assert!(t.contains("If it was not you") && t.contains("1-800-555-0100"), "{t}");
            }
        }
    }
}
