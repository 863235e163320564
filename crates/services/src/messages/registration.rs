//! The emails of administrator registration: request received, approved (carrying the sign-up
//! link, so it is also the invitation), and denied with the reason. Sent to both administrators
//! named in the request; they say nothing about the plan's roster.

use super::{Channel, Rendered, render};
use crate::Internal;
use askama::Template;

/// What every registration email says: to whom, and about which request.
#[derive(Debug, Clone)]
pub struct RegistrationV1<'a> {
    /// The recipient's first name.
    pub first_name: &'a str,
    pub plan_name: &'a str,
    pub practice_name: &'a str,
    pub primary_name: &'a str,
    pub primary_email: &'a str,
    pub secondary_name: &'a str,
    pub secondary_email: &'a str,
    pub support_phone: &'a str,
    pub support_hours: &'a str,
}

#[derive(Template)]
#[template(path = "messages/registration_received_v1.txt")]
struct ReceivedText<'a> {
    m: &'a RegistrationV1<'a>,
}

#[derive(Template)]
#[template(path = "messages/registration_received_v1.html")]
struct ReceivedHtml<'a> {
    m: &'a RegistrationV1<'a>,
}

#[derive(Template)]
#[template(path = "messages/registration_approved_v1.txt")]
struct ApprovedText<'a> {
    m: &'a RegistrationV1<'a>,
    link: &'a str,
    new_account: bool,
    hours: i64,
}

#[derive(Template)]
#[template(path = "messages/registration_approved_v1.html")]
struct ApprovedHtml<'a> {
    m: &'a RegistrationV1<'a>,
    link: &'a str,
    new_account: bool,
    hours: i64,
}

#[derive(Template)]
#[template(path = "messages/registration_denied_v1.txt")]
struct DeniedText<'a> {
    m: &'a RegistrationV1<'a>,
    reason: &'a str,
}

#[derive(Template)]
#[template(path = "messages/registration_denied_v1.html")]
struct DeniedHtml<'a> {
    m: &'a RegistrationV1<'a>,
    reason: &'a str,
}

fn email(kind: &'static str, to: &str, subject: String, text: String, html: String) -> Rendered {
    Rendered { channel: Channel::Email, kind, recipient: to.to_owned(), subject, text, html, secrets: Vec::new() }
}

impl RegistrationV1<'_> {
    /// "We received your request", to `to`.
    pub fn received(&self, to: &str) -> Result<Rendered, Internal> {
        Ok(email(
            "registration_received.v1",
            to,
            format!("We received your {} administrator access request", self.plan_name),
            render(&ReceivedText { m: self })?,
            render(&ReceivedHtml { m: self })?,
        ))
    }

    /// "Your request was approved", to `to`: with the sign-up link valid `hours` for a new
    /// account, or a sign-in link for someone who already has one.
    pub fn approved(&self, to: &str, link: &str, new_account: bool, hours: i64) -> Result<Rendered, Internal> {
        let mut m = email(
            "registration_approved.v1",
            to,
            format!("Your {} administrator access request was approved", self.plan_name),
            render(&ApprovedText { m: self, link, new_account, hours })?,
            render(&ApprovedHtml { m: self, link, new_account, hours })?,
        );
        m.secrets = super::link_secrets(link);
        Ok(m)
    }

    /// "Your request was not approved", with the reason, to `to`.
    pub fn denied(&self, to: &str, reason: &str) -> Result<Rendered, Internal> {
        Ok(email(
            "registration_denied.v1",
            to,
            format!("Your {} administrator access request was not approved", self.plan_name),
            render(&DeniedText { m: self, reason })?,
            render(&DeniedHtml { m: self, reason })?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RegistrationV1<'static> {
        RegistrationV1 {
            first_name: "Maria",
            plan_name: "Chorus",
            practice_name: "Lakeside <Family> Medicine",
            primary_name: "Maria Lopez",
            primary_email: "maria@clinic.example.org",
            secondary_name: "Sam Okafor",
            secondary_email: "sam@clinic.example.org",
            support_phone: "1-844-202-0117",
            support_hours: "8-5",
        }
    }

    #[test]
    fn approval_lists_both_administrators_and_the_link() {
        let r = sample().approved("maria@clinic.example.org", "https://x.example/signup?token=a&b", true, 72).unwrap();
        assert_eq!(r.kind, "registration_approved.v1");
        for s in [
            "Primary: Maria Lopez (maria@clinic.example.org)",
            "Secondary: Sam Okafor",
            "72 hours",
            "Sign Up: https://x.example/signup?token=a&b",
            "1-844-202-0117",
        ] {
            assert!(r.text.contains(s), "{s} in {}", r.text);
        }
        assert!(r.html.contains("token=a&amp;b") || r.html.contains("token=a&#38;b"), "{}", r.html);
        assert!(r.html.contains("Lakeside &#60;Family&#62;") || r.html.contains("Lakeside &lt;Family&gt;"));
        let existing = sample().approved("maria@clinic.example.org", "https://x.example/offers", false, 72).unwrap();
        assert!(existing.text.contains("You already have an account") && !existing.text.contains("Sign Up"));
        assert!(existing.text.contains("nothing was added to it yet") && existing.text.contains("accept the offer"));
        assert!(existing.secrets.is_empty());
        let link = "https://x.example/signup?token=c2lnbnVwdG9rZW4tc2VjcmV0";
        let new = sample().approved("maria@clinic.example.org", link, true, 72).unwrap();
        assert_eq!(new.secrets, ["c2lnbnVwdG9rZW4tc2VjcmV0"]);
    }

    #[test]
    fn received_and_denied() {
        let r = sample().received("sam@clinic.example.org").unwrap();
        assert!(r.text.contains("we will email you when it is reviewed"));
        let d = sample().denied("sam@clinic.example.org", "We could not verify the Tax ID.").unwrap();
        assert!(d.text.contains("Reason: We could not verify the Tax ID."));
    }
}
