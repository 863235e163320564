//! The warning that an account will be deactivated for inactivity (issue 17). Content-light: no
//! person's name, no practice, nothing about patients; the username only, so that a person with
//! several accounts on one address knows which one.

use super::{Channel, Rendered, render};
use crate::Internal;
use askama::Template;

/// "Your provider portal account will be deactivated on `deactivate_on`."
#[derive(Debug, Clone)]
pub struct IdleWarningV1<'a> {
    pub plan_name: &'a str,
    pub username: Option<&'a str>,
    /// The day of the deactivation, in the plan's time zone (like `Jul 14, 2027`).
    pub deactivate_on: &'a str,
    /// Days since the account was last used.
    pub idle_days: i64,
    /// Where to sign in.
    pub link: &'a str,
    pub support_phone: &'a str,
    pub support_hours: &'a str,
}

#[derive(Template)]
#[template(path = "messages/idle_warning_v1.txt")]
struct Text<'a> {
    m: &'a IdleWarningV1<'a>,
}

#[derive(Template)]
#[template(path = "messages/idle_warning_v1.html")]
struct Html<'a> {
    m: &'a IdleWarningV1<'a>,
}

impl IdleWarningV1<'_> {
    /// Renders the warning to `to` (the address on record).
    pub fn render_to(&self, to: &str) -> Result<Rendered, Internal> {
        Ok(Rendered {
            channel: Channel::Email,
            kind: "idle_warning.v1",
            recipient: to.to_owned(),
            subject: format!(
                "Your {} provider portal account will be deactivated on {}",
                self.plan_name, self.deactivate_on
            ),
            text: render(&Text { m: self })?,
            html: render(&Html { m: self })?,
            secrets: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_when_why_and_what_to_do() {
        let r = IdleWarningV1 {
            plan_name: "Chorus",
            username: Some("jpatel"),
            deactivate_on: "Jul 14, 2027",
            idle_days: 166,
            link: "https://portal.example.org/signin",
            support_phone: "1-800-555-0100",
            support_hours: "8-5",
        }
        .render_to("jay@clinic.example")
        .unwrap();
        assert!(r.text.contains("will be deactivated on Jul 14, 2027 because"), "{}", r.text);
        assert_eq!(r.kind, "idle_warning.v1");
        assert_eq!(r.subject, "Your Chorus provider portal account will be deactivated on Jul 14, 2027");
        for t in [&r.text, &r.html] {
            assert!(t.contains("will be deactivated on") && t.contains("Jul 14, 2027"), "{t}");
            assert!(t.contains("has not been used for 166 days"), "{t}");
            assert!(t.contains("Sign in before then to keep it"), "{t}");
            assert!(t.contains("https://portal.example.org/signin") && t.contains("1-800-555-0100"), "{t}");
            assert!(t.contains("jpatel"), "{t}");
        }
    }
}
