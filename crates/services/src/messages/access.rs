//! The emails of access requests: to the practice's administrators when someone asks for access,
//! and to the requester when it is approved or declined. They name the practice and the people,
//! never anything about patients.

use super::{Channel, Rendered, render};
use crate::Internal;
use askama::Template;

/// What every access-request email says.
#[derive(Debug, Clone)]
pub struct AccessV1<'a> {
    /// The recipient's first name.
    pub first_name: &'a str,
    pub plan_name: &'a str,
    pub practice_name: &'a str,
    /// "First Last" of the person who asked for access.
    pub requester_name: &'a str,
    /// Where to sign in to act on it or see it.
    pub link: &'a str,
    pub support_phone: &'a str,
    pub support_hours: &'a str,
}

/// Which of the three emails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Requested,
    Approved,
    Declined,
}

#[derive(Template)]
#[template(path = "messages/access_v1.txt")]
struct Text<'a> {
    m: &'a AccessV1<'a>,
    kind: Kind,
}

#[derive(Template)]
#[template(path = "messages/access_v1.html")]
struct Html<'a> {
    m: &'a AccessV1<'a>,
    kind: Kind,
}

impl AccessV1<'_> {
    fn email(&self, kind: Kind, to: &str) -> Result<Rendered, Internal> {
        let (name, subject) = match kind {
            Kind::Requested => {
                ("access_requested.v1", format!("{} asked for access to {}", self.requester_name, self.practice_name))
            }
            Kind::Approved => ("access_approved.v1", format!("Your access to {} was approved", self.practice_name)),
            Kind::Declined => {
                ("access_declined.v1", format!("Your access request for {} was declined", self.practice_name))
            }
        };
        Ok(Rendered {
            channel: Channel::Email,
            kind: name,
            recipient: to.to_owned(),
            subject,
            text: render(&Text { m: self, kind })?,
            html: render(&Html { m: self, kind })?,
            // The link only leads to the sign-in page: nothing to redact.
            secrets: Vec::new(),
        })
    }

    /// To an administrator: someone asked for access to their practice.
    pub fn requested(&self, to: &str) -> Result<Rendered, Internal> {
        self.email(Kind::Requested, to)
    }

    /// To the requester: approved.
    pub fn approved(&self, to: &str) -> Result<Rendered, Internal> {
        self.email(Kind::Approved, to)
    }

    /// To the requester: declined.
    pub fn declined(&self, to: &str) -> Result<Rendered, Internal> {
        self.email(Kind::Declined, to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_email_names_the_practice_and_escapes_html() {
        let m = AccessV1 {
            first_name: "Dana",
            plan_name: "Chorus",
            practice_name: "Lakeside <Family> Medicine",
            requester_name: "Sam Okafor",
            link: "https://portal.example.org/access-requests",
            support_phone: "1-800-555-0100",
            support_hours: "8–5 PT",
        };
        let r = m.requested("dana@example.org").unwrap();
        assert!(r.subject.contains("Sam Okafor asked for access"));
        assert!(r.text.contains("https://portal.example.org/access-requests"));
        assert!(
            r.html.contains("Lakeside &#60;Family&#62; Medicine")
                || r.html.contains("Lakeside &lt;Family&gt; Medicine")
        );
        assert!(m.approved("sam@example.org").unwrap().text.contains("approved"));
        assert!(m.declined("sam@example.org").unwrap().text.contains("declined"));
    }
}
