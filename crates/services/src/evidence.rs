//! Access-review evidence for auditors: signed reviews rendered as CSV (one row per decision) and
//! as PDF (one signed review per page). Pure functions over already-formatted values: the caller
//! reads the frozen reviews, checks who may export, and formats every date in the plan's time
//! zone; nothing here touches the database or the clock.

mod fonts;
mod layout;
mod table;

use gatehouse_domain::TaxId;

pub use layout::pdf;
pub use table::csv;

/// One signed access review as the evidence shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceReview {
    /// The review's number, as stored.
    pub review_id: i64,
    pub plan_name: String,
    pub practice_name: String,
    /// Shown in full: the export is for plan staff and auditors, who see Tax IDs everywhere else.
    pub tax_id: TaxId,
    /// The due date, formatted in the plan's time zone.
    pub due_on: String,
    /// When it was signed, formatted in the plan's time zone.
    pub signed_at: String,
    /// The signer's name as typed and their username, e.g. "Dana Ruiz (druiz)".
    pub signed_by: String,
    /// Set when plan staff reviewed on the practice's behalf: who did.
    pub on_behalf: Option<String>,
    /// Set when the practice has one administrator, whose own access plan staff confirmed.
    pub sole_admin_note: Option<String>,
    /// Hex SHA-256 of the frozen review, as written to the audit chain.
    pub digest: String,
    /// One per user of the practice, in the order to show.
    pub decisions: Vec<EvidenceDecision>,
}

/// What was decided about one user in a signed review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceDecision {
    pub user_name: String,
    pub username: String,
    /// The user type's label.
    pub user_type: String,
    /// "All providers" or the list, comma-separated.
    pub providers: String,
    pub administrator: bool,
    /// Formatted, or "Never".
    pub last_signin: String,
    /// "Keep", "Change" or "Deactivate".
    pub decision: String,
    /// What changed, e.g. "User type: Billing → Clinical".
    pub change: Option<String>,
    pub reason: Option<String>,
    pub decided_by: String,
    pub decided_at: String,
}

/// Why evidence could not be rendered. Every case is ours, not the user's: log it, answer 500.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("writing the evidence CSV")]
    Csv(#[from] ::csv::Error),
    #[error("finishing the evidence CSV")]
    CsvFlush(#[source] std::io::Error),
    #[error("the embedded font {0} could not be read")]
    Font(&'static str),
}

#[cfg(test)]
mod tests;
