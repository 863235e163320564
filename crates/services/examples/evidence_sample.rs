//! Writes a sample access-review evidence PDF (and its CSV beside it) to look at:
//! `cargo run -p gatehouse-services --example evidence_sample -- /tmp/evidence.pdf`, then
//! `pdftoppm -png -r 80 -f 1 -l 1 /tmp/evidence.pdf /tmp/evidence`.

use gatehouse_domain::TaxId;
use gatehouse_services::evidence::{self, EvidenceDecision, EvidenceReview};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "evidence-sample.pdf".to_owned());
    let reviews = [sample_review(1042, "Lakeside Family Medicine", 5), sample_review(1043, "Northgate Pediatrics", 48)];
    let title = "Sunrise Health Plan — access reviews signed 1 Jan 2027 to 31 Mar 2027";
    std::fs::write(&path, evidence::pdf(&reviews, title)?)?;
    std::fs::write(format!("{path}.csv"), evidence::csv(&reviews)?)?;
    println!("wrote {path} and {path}.csv");
    Ok(())
}

fn sample_review(id: i64, practice: &str, users: usize) -> EvidenceReview {
    let people = [
        ("Dana Ruiz", "druiz", "Office Manager", "All providers", true),
        ("Łukasz Nowak", "lnowak", "Billing Staff", "All providers", false),
        (
            "Nguyễn Thị Minh",
            "tminh",
            "Clinical Staff",
            "Dr. Amy Chen (NPI 1234567893), Dr. Robert Okafor (NPI 1245319599), Lakeside Urgent Care (NPI 1093817465)",
            false,
        ),
        ("Marcus O'Neil", "moneil", "Appointment Scheduler", "Dr. Amy Chen (NPI 1234567893)", false),
        ("Priya Raman", "praman", "Eligibility Checker", "All providers", false),
    ];
    let decisions = (0..users)
        .map(|i| {
            let (name, username, user_type, providers, administrator) = people[i % people.len()];
            let (decision, change, reason) = match i % 5 {
                2 => ("Change", Some("User type: Billing Staff → Clinical Staff".to_owned()), None),
                4 => ("Deactivate", None, Some("Left the practice in February.".to_owned())),
                _ => ("Keep", None, None),
            };
            EvidenceDecision {
                user_name: name.to_owned(),
                username: if i < people.len() { username.to_owned() } else { format!("{username}{i}") },
                user_type: user_type.to_owned(),
                providers: providers.to_owned(),
                administrator,
                last_signin: if i % 7 == 6 { "Never".to_owned() } else { "Mar 3, 2027 9:14 AM EST".to_owned() },
                decision: decision.to_owned(),
                change,
                reason,
                decided_by: if administrator {
                    "Sam Lee (plan staff)".to_owned()
                } else {
                    "Dana Ruiz (druiz)".to_owned()
                },
                decided_at: "Mar 12, 2027 10:02 AM EST".to_owned(),
            }
        })
        .collect();
    EvidenceReview {
        review_id: id,
        plan_name: "Sunrise Health Plan".to_owned(),
        practice_name: practice.to_owned(),
        tax_id: TaxId::parse("825671892").unwrap_or_else(|e| unreachable!("{e}")),
        due_on: "Mar 15, 2027".to_owned(),
        signed_at: "Mar 12, 2027 10:07 AM EST".to_owned(),
        signed_by: "Dana Ruiz (druiz)".to_owned(),
        on_behalf: None,
        sole_admin_note: Some("Only administrator: their own access was confirmed by plan staff (Sam Lee).".to_owned()),
        digest: "9f2c4e1ab07d3c58e61f0a2b9d84c7e3f15a6b20c9d8e7f4a3b2c1d0e9f8a7b6".to_owned(),
        decisions,
    }
}
