//! The email telling someone a secure message waits. It carries no content: no subject, no
//! body, no practice, no member: only that a message waits and where to sign in.

use super::{Channel, Rendered, render};
use crate::Internal;
use askama::Template;

/// "You have a new secure message in the provider portal."
#[derive(Debug, Clone)]
pub struct SecureMessageV1<'a> {
    pub plan_name: &'a str,
    /// Where to sign in and read it (the inbox or the mailbox, never the thread's content).
    pub link: &'a str,
    pub support_phone: &'a str,
    pub support_hours: &'a str,
}

#[derive(Template)]
#[template(path = "messages/secure_message_v1.txt")]
struct Text<'a> {
    m: &'a SecureMessageV1<'a>,
}

#[derive(Template)]
#[template(path = "messages/secure_message_v1.html")]
struct Html<'a> {
    m: &'a SecureMessageV1<'a>,
}

impl SecureMessageV1<'_> {
    /// Renders the notice to `to`.
    pub fn render_to(&self, to: &str) -> Result<Rendered, Internal> {
        Ok(Rendered {
            channel: Channel::Email,
            kind: "secure_message.v1",
            recipient: to.to_owned(),
            subject: format!("You have a new secure message in the {} provider portal", self.plan_name),
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
    fn says_only_that_a_message_waits() {
        let r = SecureMessageV1 {
            plan_name: "Chorus",
            link: "https://portal.example.org/messages",
            support_phone: "1-800-555-0100",
            support_hours: "8-5",
        }
        .render_to("ann@clinic.example")
        .unwrap();
        assert_eq!(r.subject, "You have a new secure message in the Chorus provider portal");
        assert!(r.text.contains("https://portal.example.org/messages"));
        assert!(r.html.contains("https://portal.example.org/messages"));
        assert_eq!(r.kind, "secure_message.v1");
    }
}
