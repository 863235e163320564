//! The email telling a person that a practice administrator offered them access to a practice.
//! It says what happened (an offer, nothing granted yet) and that they decide after signing in;
//! it names the administrator and the practice, never anything about patients.

use super::{Channel, Rendered, render};
use crate::Internal;
use askama::Template;

/// "Ann Carter of Lakeside Family Medicine offered you access … sign in to accept or decline."
#[derive(Debug, Clone)]
pub struct OfferV1<'a> {
    /// The recipient's first name.
    pub first_name: &'a str,
    pub plan_name: &'a str,
    /// "First Last" of the administrator who made the offer.
    pub offered_by: &'a str,
    /// The practice (or practices, joined with "and") offered.
    pub practice_name: &'a str,
    /// Where to sign in and answer.
    pub link: &'a str,
    /// How many days the offer stays open.
    pub days: i64,
    /// The account has not signed up yet: it must finish signing up before it can answer.
    pub not_signed_up: bool,
    pub support_phone: &'a str,
    pub support_hours: &'a str,
}

#[derive(Template)]
#[template(path = "messages/affiliation_offer_v1.txt")]
struct Text<'a> {
    m: &'a OfferV1<'a>,
}

#[derive(Template)]
#[template(path = "messages/affiliation_offer_v1.html")]
struct Html<'a> {
    m: &'a OfferV1<'a>,
}

impl OfferV1<'_> {
    /// Renders the email to `to`.
    pub fn render_to(&self, to: &str) -> Result<Rendered, Internal> {
        Ok(Rendered {
            channel: Channel::Email,
            kind: "affiliation_offer.v1",
            recipient: to.to_owned(),
            subject: format!(
                "{} of {} offered you access on the {} provider portal",
                self.offered_by, self.practice_name, self.plan_name
            ),
            text: render(&Text { m: self })?,
            html: render(&Html { m: self })?,
            // A sign-in link, not a token: nothing to redact after delivery.
            secrets: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(not_signed_up: bool) -> OfferV1<'static> {
        OfferV1 {
            first_name: "Priya",
            plan_name: "Chorus",
            offered_by: "Ann Carter",
            practice_name: "Lakeside <Family> Medicine",
            link: "https://portal.example.org/offers",
            days: 7,
            not_signed_up,
            support_phone: "1-800-555-0100",
            support_hours: "8–5 PT",
        }
    }

    #[test]
    fn says_it_is_an_offer_to_answer_not_an_approval() {
        let r = offer(false).render_to("priya@example.org").unwrap();
        assert_eq!(r.kind, "affiliation_offer.v1");
        assert!(r.subject.starts_with("Ann Carter of Lakeside <Family> Medicine offered you access"));
        assert!(r.text.contains("Ann Carter of Lakeside <Family> Medicine offered you access"), "{}", r.text);
        assert!(r.text.contains("sign in to accept or decline"), "{}", r.text);
        assert!(r.text.contains("https://portal.example.org/offers"));
        assert!(r.text.contains("7 days"));
        assert!(!r.text.to_lowercase().contains("approved"));
        assert!(!r.text.contains("finish signing up"));
        assert!(
            r.html.contains("Lakeside &#60;Family&#62; Medicine")
                || r.html.contains("Lakeside &lt;Family&gt; Medicine")
        );
    }

    #[test]
    fn an_account_not_signed_up_is_told_to_finish_first() {
        let r = offer(true).render_to("priya@example.org").unwrap();
        assert!(r.text.contains("finish signing up"), "{}", r.text);
        assert!(r.html.contains("finish signing up"));
    }
}
