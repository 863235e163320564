//! The CSV evidence: a header row, then one row per decision carrying its review's facts.

use super::{EvidenceDecision, EvidenceError, EvidenceReview};

/// The header row, in column order.
pub(super) const HEADER: [&str; 21] = [
    "Review ID",
    "Plan",
    "Practice",
    "Tax ID",
    "Due on",
    "Signed at",
    "Signed by",
    "Reviewed on behalf by",
    "Sole administrator note",
    "Review digest (SHA-256)",
    "User",
    "Username",
    "User type",
    "Providers",
    "Administrator",
    "Last sign-in",
    "Decision",
    "Change",
    "Reason",
    "Decided by",
    "Decided at",
];

/// Renders signed reviews as UTF-8 CSV (RFC 4180 quoting by the `csv` crate): one row per
/// decision. A review without decisions still gets one row, its decision columns empty, so no
/// signed review goes missing from the evidence. Cells a spreadsheet would read as a formula are
/// defused with a leading `'`.
pub fn csv(reviews: &[EvidenceReview]) -> Result<Vec<u8>, EvidenceError> {
    let mut out = ::csv::WriterBuilder::new().terminator(::csv::Terminator::CRLF).from_writer(Vec::new());
    out.write_record(HEADER)?;
    for review in reviews {
        let id = review.review_id.to_string();
        let empty = review.decisions.is_empty().then_some(None);
        for decision in empty.into_iter().chain(review.decisions.iter().map(Some)) {
            for cell in row(review, &id, decision) {
                out.write_field(defuse(cell).as_bytes())?;
            }
            out.write_record(None::<&[u8]>)?;
        }
    }
    out.into_inner().map_err(|e| EvidenceError::CsvFlush(e.into_error()))
}

/// The cells of one row, in [`HEADER`] order.
fn row<'a>(r: &'a EvidenceReview, id: &'a str, d: Option<&'a EvidenceDecision>) -> [&'a str; 21] {
    let opt = |v: &'a Option<String>| v.as_deref().unwrap_or("");
    let review = [
        id,
        &r.plan_name,
        &r.practice_name,
        r.tax_id.as_str(),
        &r.due_on,
        &r.signed_at,
        &r.signed_by,
        opt(&r.on_behalf),
        opt(&r.sole_admin_note),
        &r.digest,
    ];
    let decision = match d {
        Some(d) => [
            d.user_name.as_str(),
            &d.username,
            &d.user_type,
            &d.providers,
            if d.administrator { "Yes" } else { "No" },
            &d.last_signin,
            &d.decision,
            opt(&d.change),
            opt(&d.reason),
            &d.decided_by,
            &d.decided_at,
        ],
        None => [""; 11],
    };
    let mut cells = [""; 21];
    cells[..10].copy_from_slice(&review);
    cells[10..].copy_from_slice(&decision);
    cells
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return first)
/// gets a leading `'` (OWASP: CSV injection).
fn defuse(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{cell}").into() } else { cell.into() }
}
