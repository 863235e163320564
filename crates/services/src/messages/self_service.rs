//! The emails of the self-service tools: the username reminder, the password reset link, and the
//! notice that a password changed. They name the account, never anything about patients.

use super::{Channel, Rendered, render};
use crate::Internal;
use askama::Template;

/// What every self-service email says.
#[derive(Debug, Clone)]
pub struct SelfServiceV1<'a> {
    /// The recipient's first name ("" when the email goes to an address with several accounts).
    pub first_name: &'a str,
    /// The account's username (unused by the reminder, which lists them).
    pub username: &'a str,
    pub plan_name: &'a str,
    /// Where to sign in, or the reset link.
    pub link: &'a str,
    pub support_phone: &'a str,
    pub support_hours: &'a str,
}

/// Which email.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind<'a> {
    Usernames(&'a [String]),
    ResetLink(i64),
    PasswordChanged,
    /// To a new address: the link that confirms it, valid so many hours.
    EmailChangeLink(i64),
    /// To the old address: the account's email is now this one.
    EmailChanged(&'a str),
    /// An administrator changed the username from this one to `m.username`.
    UsernameChanged(&'a str),
}

#[derive(Template)]
#[template(path = "messages/self_service_v1.txt")]
struct Text<'a> {
    m: &'a SelfServiceV1<'a>,
    kind: Kind<'a>,
}

#[derive(Template)]
#[template(path = "messages/self_service_v1.html")]
struct Html<'a> {
    m: &'a SelfServiceV1<'a>,
    kind: Kind<'a>,
}

impl SelfServiceV1<'_> {
    fn email(&self, kind: Kind<'_>, to: &str) -> Result<Rendered, Internal> {
        let (name, subject) = match kind {
            Kind::Usernames(_) => ("username_reminder.v1", format!("Your {} provider portal username", self.plan_name)),
            Kind::ResetLink(_) => {
                ("password_reset_link.v1", format!("Reset your {} provider portal password", self.plan_name))
            }
            Kind::PasswordChanged => {
                ("password_changed.v1", format!("Your {} provider portal password was changed", self.plan_name))
            }
            Kind::EmailChangeLink(_) => {
                ("email_change_link.v1", format!("Confirm your new {} provider portal email address", self.plan_name))
            }
            Kind::EmailChanged(_) => {
                ("email_changed.v1", format!("Your {} provider portal email address was changed", self.plan_name))
            }
            Kind::UsernameChanged(_) => {
                ("username_changed.v1", format!("Your {} provider portal username was changed", self.plan_name))
            }
        };
        // Only the reset and confirmation links act; the other emails link to the sign-in page.
        let secrets = match kind {
            Kind::ResetLink(_) | Kind::EmailChangeLink(_) => super::link_secrets(self.link),
            _ => Vec::new(),
        };
        Ok(Rendered {
            channel: Channel::Email,
            kind: name,
            recipient: to.to_owned(),
            subject,
            text: render(&Text { m: self, kind: kind.clone() })?,
            html: render(&Html { m: self, kind })?,
            secrets,
        })
    }

    /// Every username of an email address, to that address.
    pub fn usernames(&self, names: &[String], to: &str) -> Result<Rendered, Internal> {
        self.email(Kind::Usernames(names), to)
    }

    /// A single-use password reset link valid `hours`.
    pub fn reset_link(&self, hours: i64, to: &str) -> Result<Rendered, Internal> {
        self.email(Kind::ResetLink(hours), to)
    }

    /// The notice that the password changed.
    pub fn password_changed(&self, to: &str) -> Result<Rendered, Internal> {
        self.email(Kind::PasswordChanged, to)
    }

    /// The link, valid `hours`, that confirms `to` as the account's new address.
    pub fn email_change_link(&self, hours: i64, to: &str) -> Result<Rendered, Internal> {
        self.email(Kind::EmailChangeLink(hours), to)
    }

    /// The notice, to the old address `to`, that the account's email is now `new_email`.
    pub fn email_changed(&self, new_email: &str, to: &str) -> Result<Rendered, Internal> {
        self.email(Kind::EmailChanged(new_email), to)
    }

    /// The notice that an administrator changed the username from `old` (to `self.username`).
    pub fn username_changed(&self, old: &str, to: &str) -> Result<Rendered, Internal> {
        self.email(Kind::UsernameChanged(old), to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> SelfServiceV1<'static> {
        SelfServiceV1 {
            first_name: "",
            username: "mlopez",
            plan_name: "Chorus",
            link: "https://portal.example/signin",
            support_phone: "1-800-555-0100",
            support_hours: "8-5",
        }
    }

    #[test]
    fn reminder_lists_every_username() {
        let r = m().usernames(&["mlopez".into(), "maria<2>".into()], "m@x.example").unwrap();
        assert!(r.text.contains("  mlopez\n") && r.text.contains("  maria<2>\n"), "{}", r.text);
        assert!(r.html.contains("maria&#60;2&#62;") || r.html.contains("maria&lt;2&gt;"));
        assert!(r.text.starts_with("Hello,"));
    }

    #[test]
    fn link_and_notice_name_the_account() {
        let r = m().reset_link(72, "m@x.example").unwrap();
        assert!(r.text.contains("72 hours") && r.text.contains("mlopez"));
        let n = m().password_changed("m@x.example").unwrap();
        assert_eq!(n.kind, "password_changed.v1");
        assert!(n.text.contains("was just changed"));
    }

    #[test]
    fn link_emails_name_their_token_as_secret() {
        let link = "https://portal.example/reset-password?token=Zm9vYmFyYmF6cXV4cXV1eA";
        let m = SelfServiceV1 { link, ..m() };
        for r in [m.reset_link(1, "m@x.example").unwrap(), m.email_change_link(24, "m@x.example").unwrap()] {
            assert_eq!(r.secrets, ["Zm9vYmFyYmF6cXV4cXV1eA"], "{}", r.kind);
            assert!(r.text.contains(&r.secrets[0]) && r.html.contains(&r.secrets[0]), "{}", r.kind);
        }
        assert!(m.password_changed("m@x.example").unwrap().secrets.is_empty());
    }

    #[test]
    fn contact_change_emails_say_what_changed() {
        let l = m().email_change_link(24, "new@x.example").unwrap();
        assert!(l.secrets.is_empty(), "the sample link has no token");
        assert!(l.text.contains("24 hours") && l.text.contains("https://portal.example/signin"), "{}", l.text);
        let c = m().email_changed("new@x.example", "old@x.example").unwrap();
        assert_eq!(c.recipient, "old@x.example");
        assert!(c.text.contains("new@x.example") && c.text.contains("mlopez"), "{}", c.text);
        let u = m().username_changed("maria", "m@x.example").unwrap();
        assert!(u.text.contains("from maria to mlopez"), "{}", u.text);
    }
}
