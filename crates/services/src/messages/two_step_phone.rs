//! The notice that an account's two-step phone was set or changed, by any path (sign-up, an
//! imported account's first sign-in, set-up after a help-desk reset, the profile page). It shows
//! only the masked number, never anything about patients.

use super::{Channel, Rendered, render};
use crate::Internal;
use askama::Template;

/// The two-step phone is now `masked_phone`.
#[derive(Debug, Clone, Template)]
#[template(path = "messages/two_step_phone_set_v1.txt")]
pub struct TwoStepPhoneSetV1<'a> {
    pub first_name: &'a str,
    pub username: &'a str,
    pub plan_name: &'a str,
    /// Like `XXX-XXX-9975`.
    pub masked_phone: &'a str,
    /// `text` or `voice`, as people read it.
    pub method: &'a str,
    /// When, as people read it.
    pub when: &'a str,
    /// True when it replaced a phone on record; false when the account had none.
    pub replaced: bool,
    /// True when the account's other sessions were ended by the change.
    pub signed_out_elsewhere: bool,
    pub support_phone: &'a str,
    pub support_hours: &'a str,
}

#[derive(Template)]
#[template(path = "messages/two_step_phone_set_v1.html")]
struct Html<'a> {
    m: &'a TwoStepPhoneSetV1<'a>,
}

impl TwoStepPhoneSetV1<'_> {
    /// Renders the notice to `to` (the address on record).
    pub fn render_to(&self, to: &str) -> Result<Rendered, Internal> {
        let what = if self.replaced { "changed" } else { "set up" };
        Ok(Rendered {
            channel: Channel::Email,
            kind: "two_step_phone_set.v1",
            recipient: to.to_owned(),
            subject: format!("Your {} provider portal two-step phone was {what}", self.plan_name),
            text: render(self)?,
            html: render(&Html { m: self })?,
            // Only a masked number: nothing to redact after delivery.
            secrets: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(replaced: bool) -> TwoStepPhoneSetV1<'static> {
        TwoStepPhoneSetV1 {
            first_name: "Jay",
            username: "jpatel",
            plan_name: "Chorus",
            masked_phone: "XXX-XXX-0199",
            method: "text message",
            when: "Jan 15, 2027 3:05 AM EST",
            replaced,
            signed_out_elsewhere: replaced,
            support_phone: "1-800-555-0100",
            support_hours: "8-5",
        }
    }

    #[test]
    fn says_what_when_and_whom_to_call() {
        let r = m(false).render_to("jay@x.example").unwrap();
        assert_eq!(r.kind, "two_step_phone_set.v1");
        assert!(r.subject.ends_with("was set up"), "{}", r.subject);
        for t in [&r.text, &r.html] {
            assert!(t.contains("XXX-XXX-0199") && t.contains("Jan 15, 2027 3:05 AM EST"), "{t}");
            assert!(t.contains("1-800-555-0100") && t.contains("jpatel"), "{t}");
        }
        let c = m(true).render_to("jay@x.example").unwrap();
        assert!(c.subject.ends_with("was changed") && c.text.contains("changed to XXX-XXX-0199"), "{}", c.text);
        for t in [&c.text, &c.html] {
            assert!(t.contains("signed you out of the portal everywhere else"), "{t}");
        }
        assert!(!r.text.contains("everywhere else"), "{}", r.text);
    }
}
