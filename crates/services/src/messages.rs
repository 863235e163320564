//! Typed, versioned messages. Each is rendered from templates (subject, text, HTML) and written
//! to the outbox inside the transaction of the change that caused it. Messages carry no health
//! information.

use crate::Internal;
use askama::Template;
use gatehouse_domain::PlanId;
use gatehouse_store::Conn;
use gatehouse_store::outbox::{self, NewMessage};

pub mod access;
pub mod access_review;
pub mod factors;
pub mod first_signin;
pub mod idle_warning;
pub mod offers;
pub mod registration;
pub mod secure_message;
pub mod self_service;
pub mod two_step_phone;

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Email,
    Sms,
    Voice,
}

impl Channel {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Voice => "voice",
        }
    }
}

/// A rendered message ready for the outbox.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub channel: Channel,
    pub kind: &'static str,
    pub recipient: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The parts that let the reader act (a link's token, a code): stored beside the message
    /// and redacted from it once a real provider has it (see [`crate::delivery`]).
    pub secrets: Vec<String>,
}

/// The secret of a link: the value of its `token` query parameter, if it has one. Tokens are
/// URL-safe base64, so they read the same in the text, in HTML and in the URL.
pub fn link_secrets(link: &str) -> Vec<String> {
    let Some((_, query)) = link.split_once('?') else { return Vec::new() };
    let query = query.split('#').next().unwrap_or_default();
    query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("token="))
        .filter(|t| t.len() >= 16)
        .map(str::to_owned)
        .collect()
}

/// The invitation to sign up.
#[derive(Template)]
#[template(path = "messages/invitation_v1.txt")]
pub struct InvitationV1Text<'a> {
    pub first_name: &'a str,
    pub invited_by: Option<&'a str>,
    pub plan_name: &'a str,
    pub link: &'a str,
    pub hours: i64,
    pub support_phone: &'a str,
    pub support_hours: &'a str,
}

#[derive(Template)]
#[template(path = "messages/invitation_v1.html")]
struct InvitationV1Html<'a> {
    first_name: &'a str,
    invited_by: Option<&'a str>,
    plan_name: &'a str,
    link: &'a str,
    hours: i64,
    support_phone: &'a str,
    support_hours: &'a str,
}

impl InvitationV1Text<'_> {
    /// Renders the invitation to `to`.
    pub fn render_to(&self, to: &str) -> Result<Rendered, Internal> {
        let html = InvitationV1Html {
            first_name: self.first_name,
            invited_by: self.invited_by,
            plan_name: self.plan_name,
            link: self.link,
            hours: self.hours,
            support_phone: self.support_phone,
            support_hours: self.support_hours,
        };
        Ok(Rendered {
            channel: Channel::Email,
            kind: "invitation.v1",
            recipient: to.to_owned(),
            subject: format!("You're invited to the {} provider portal", self.plan_name),
            text: render(self)?,
            html: render(&html)?,
            secrets: link_secrets(self.link),
        })
    }
}

/// A two-step code by text message.
#[derive(Template)]
#[template(path = "messages/two_step_code_v1.txt")]
pub struct TwoStepCodeV1<'a> {
    pub plan_name: &'a str,
    pub code: &'a str,
    pub minutes: i64,
}

/// A two-step code read out by a voice call.
#[derive(Template)]
#[template(path = "messages/two_step_voice_v1.txt")]
pub struct TwoStepVoiceV1<'a> {
    pub plan_name: &'a str,
    pub spoken: &'a str,
    pub minutes: i64,
}

/// Renders a code for text or voice delivery to `phone`.
pub fn two_step_code(
    plan_name: &str,
    code: &str,
    minutes: i64,
    voice: bool,
    phone: &str,
) -> Result<Rendered, Internal> {
    let (channel, kind, text, secret) = if voice {
        let spoken = code.chars().map(String::from).collect::<Vec<_>>().join(", ");
        let text = render(&TwoStepVoiceV1 { plan_name, spoken: &spoken, minutes })?;
        (Channel::Voice, "two_step_voice.v1", text, spoken)
    } else {
        (Channel::Sms, "two_step_code.v1", render(&TwoStepCodeV1 { plan_name, code, minutes })?, code.to_owned())
    };
    Ok(Rendered {
        channel,
        kind,
        recipient: phone.to_owned(),
        subject: format!("{plan_name} verification code"),
        text: text.trim().to_owned(),
        html: String::new(),
        secrets: vec![secret],
    })
}

fn render(t: &impl Template) -> Result<String, Internal> {
    t.render().map_err(|e| Internal::Other(format!("message template: {e}")))
}

/// Writes a rendered message to the outbox, in the caller's transaction.
pub async fn enqueue(conn: &mut Conn, plan: PlanId, m: &Rendered, now: i64) -> Result<i64, Internal> {
    Ok(outbox::enqueue(conn, &new_message(plan, m), now).await?)
}

/// The statement of [`enqueue`], for a batch.
pub(crate) fn enqueue_stmt<'q>(plan: PlanId, m: &'q Rendered, now: i64) -> gatehouse_store::Stmt<'q> {
    outbox::enqueue_stmt(&new_message(plan, m), now)
}

fn new_message(plan: PlanId, m: &Rendered) -> NewMessage<'_> {
    NewMessage {
        plan_id: plan,
        channel: m.channel.as_str(),
        kind: m.kind,
        recipient: &m.recipient,
        subject: &m.subject,
        body_text: &m.text,
        body_html: &m.html,
        secrets: &m.secrets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invitation_escapes_html_but_not_text() {
        let t = InvitationV1Text {
            first_name: "Ana <b>",
            invited_by: None,
            plan_name: "Chorus",
            link: "https://x.example/signup?token=a&b",
            hours: 72,
            support_phone: "1-800-555-0100",
            support_hours: "8-5",
        };
        let r = t.render_to("ana@x.example").unwrap();
        assert!(r.text.contains("Ana <b>"));
        assert!(r.html.contains("Ana &#60;b&#62;") || r.html.contains("Ana &lt;b&gt;"));
        assert!(r.text.contains("72 hours"));
        assert_eq!(r.secrets, Vec::<String>::new(), "a link without a real token has no secret");
        let t = InvitationV1Text { link: "https://x.example/signup?token=AbCdEfGhIjKlMnOpQrSt_-09", ..t };
        let r = t.render_to("ana@x.example").unwrap();
        assert_eq!(r.secrets, ["AbCdEfGhIjKlMnOpQrSt_-09"]);
        assert!(r.text.contains(&r.secrets[0]) && r.html.contains(&r.secrets[0]));
    }

    #[test]
    fn only_a_links_token_is_secret() {
        assert_eq!(link_secrets("https://p.example/reset-password?token=0123456789abcdefXYZ"), ["0123456789abcdefXYZ"]);
        assert_eq!(link_secrets("https://p.example/x?a=1&token=0123456789abcdefXYZ#top"), ["0123456789abcdefXYZ"]);
        assert!(link_secrets("https://p.example/signin").is_empty());
        assert!(link_secrets("https://p.example/x?mytoken=0123456789abcdefXYZ").is_empty());
        assert!(link_secrets("https://p.example/x?token=short").is_empty());
    }

    #[test]
    fn voice_reads_digits_one_by_one() {
        let r = two_step_code("Chorus", "120045", 10, true, "+12065559975").unwrap();
        assert_eq!(r.channel, Channel::Voice);
        assert!(r.text.contains("1, 2, 0, 0, 4, 5"));
        assert_eq!(r.secrets, ["1, 2, 0, 0, 4, 5"]);
        let s = two_step_code("Chorus", "120045", 10, false, "+12065559975").unwrap();
        assert!(s.text.contains("120045"));
        assert_eq!(s.secrets, ["120045"]);
    }
}
