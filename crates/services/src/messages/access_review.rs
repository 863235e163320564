//! The access review reminder to a practice's administrators: the practice and the due date,
//! never a user's name.

use super::{Channel, Rendered, render};
use crate::Internal;
use askama::Template;

/// "The access review of <practice> is due on <date>."
#[derive(Debug, Clone)]
pub struct AccessReviewV1<'a> {
    pub plan_name: &'a str,
    pub practice_name: &'a str,
    /// The due date as the plan's people read it.
    pub due_on: &'a str,
    /// Past the due date.
    pub overdue: bool,
    /// The administrator's reviews page.
    pub link: &'a str,
    pub support_phone: &'a str,
    pub support_hours: &'a str,
}

#[derive(Template)]
#[template(path = "messages/access_review_v1.txt")]
struct Text<'a> {
    m: &'a AccessReviewV1<'a>,
}

#[derive(Template)]
#[template(path = "messages/access_review_v1.html")]
struct Html<'a> {
    m: &'a AccessReviewV1<'a>,
}

impl AccessReviewV1<'_> {
    /// Renders the reminder to `to`.
    pub fn render_to(&self, to: &str) -> Result<Rendered, Internal> {
        let subject = if self.overdue {
            format!("Overdue: review your {} provider portal users", self.plan_name)
        } else {
            format!("Time to review your {} provider portal users", self.plan_name)
        };
        Ok(Rendered {
            channel: Channel::Email,
            kind: "access_review.v1",
            recipient: to.to_owned(),
            subject,
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
    fn names_the_practice_and_the_date_only() {
        let m = AccessReviewV1 {
            plan_name: "Chorus",
            practice_name: "Lakeside Pediatrics",
            due_on: "Mar 3, 2027",
            overdue: true,
            link: "https://portal.example.org/practice/reviews",
            support_phone: "1-800-555-0100",
            support_hours: "8-5",
        };
        let r = m.render_to("ann@clinic.example").unwrap();
        assert!(r.subject.starts_with("Overdue"));
        assert!(r.text.contains("Lakeside Pediatrics") && r.text.contains("Mar 3, 2027"));
        assert!(r.html.contains("https://portal.example.org/practice/reviews"));
        let r = AccessReviewV1 { overdue: false, ..m }.render_to("ann@clinic.example").unwrap();
        assert!(r.subject.starts_with("Time to review"));
    }
}
