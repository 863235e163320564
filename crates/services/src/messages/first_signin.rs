//! The link that proves the email on record at an imported account's first sign-in. It names
//! the account, never anything about patients.

use super::{Channel, Rendered, render};
use crate::Internal;
use askama::Template;

/// The email-proof link of an imported account's first sign-in.
#[derive(Debug, Clone, Template)]
#[template(path = "messages/email_proof_v1.txt")]
pub struct EmailProofV1<'a> {
    pub first_name: &'a str,
    pub username: &'a str,
    pub plan_name: &'a str,
    /// The single-use link.
    pub link: &'a str,
    /// How long the link works.
    pub hours: i64,
    pub support_phone: &'a str,
    pub support_hours: &'a str,
}

#[derive(Template)]
#[template(path = "messages/email_proof_v1.html")]
struct Html<'a> {
    m: &'a EmailProofV1<'a>,
}

impl EmailProofV1<'_> {
    /// Renders the email to `to` (the address on record).
    pub fn render_to(&self, to: &str) -> Result<Rendered, Internal> {
        Ok(Rendered {
            channel: Channel::Email,
            kind: "email_proof.v1",
            recipient: to.to_owned(),
            subject: format!("Continue signing in to the {} provider portal", self.plan_name),
            text: render(self)?,
            html: render(&Html { m: self })?,
            secrets: super::link_secrets(self.link),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_names_the_account_and_its_lifetime() {
        let m = EmailProofV1 {
            first_name: "Olga <b>",
            username: "Old.Timer",
            plan_name: "Chorus",
            link: "https://portal.example/first-signin/confirm?token=a&b",
            hours: 72,
            support_phone: "1-800-555-0100",
            support_hours: "8-5",
        };
        let r = m.render_to("olga@old.example.org").unwrap();
        assert_eq!((r.kind, r.recipient.as_str()), ("email_proof.v1", "olga@old.example.org"));
        assert!(r.text.contains("72 hours") && r.text.contains("Old.Timer") && r.text.contains("token=a&b"));
        assert!(r.text.contains("Olga <b>"));
        assert!(!r.html.contains("Olga <b>") && r.html.contains("1-800-555-0100"));
    }
}
