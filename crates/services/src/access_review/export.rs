//! The evidence export: the signed reviews of one practice or the whole plan, signed within a
//! date range, as CSV (one row per decision) or PDF (one review per page), read from each
//! review's frozen record (checked against its digest) and never from the live tables.

use super::ReviewError;
use crate::audit;
use crate::evidence::{self, EvidenceDecision, EvidenceReview};
use crate::plans::Plan;
use crate::staff::StaffGrant;
use crate::{Internal, RequestMeta, Services};
use gatehouse_domain::access_review::{self as rules, FrozenReview};
use gatehouse_domain::staff::StaffPermission;
use gatehouse_domain::{PracticeId, TaxId, Timestamp, UserId};
use gatehouse_store::access_reviews as store;
use gatehouse_store::roster::practices;
use gatehouse_store::users;
use serde_json::json;
use std::collections::HashMap;

/// The export's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidenceFormat {
    Csv,
    Pdf,
}

/// What plan staff asked for, as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct ExportRequest {
    /// `csv` or `pdf`.
    pub format: String,
    /// Empty: the whole plan.
    pub tax_id: String,
    /// `YYYY-MM-DD`, in the plan's time zone (inclusive).
    pub from: String,
    /// `YYYY-MM-DD`, in the plan's time zone (inclusive).
    pub to: String,
}

/// A rendered export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceFile {
    pub content_type: &'static str,
    pub file_name: String,
    pub bytes: Vec<u8>,
    /// Signed reviews in it.
    pub reviews: usize,
}

fn field(field: &'static str, message: &str) -> ReviewError {
    ReviewError::Field { field, message: message.to_owned() }
}

impl Services {
    /// Exports the signed reviews (staff with `ReviewsRead`: plan administrators, help desk and
    /// auditors). Audited, with what was exported.
    pub async fn export_review_evidence(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        req: &ExportRequest,
        meta: &RequestMeta,
    ) -> Result<EvidenceFile, ReviewError> {
        grant.require(plan.id(), StaffPermission::ReviewsRead)?;
        let format = match req.format.trim() {
            "csv" => EvidenceFormat::Csv,
            "pdf" => EvidenceFormat::Pdf,
            _ => return Err(field("format", "Choose CSV or PDF.")),
        };
        let zone = &plan.row.time_zone;
        let range = rules::day_range(&req.from, &req.to, zone)
            .map_err(|(field, message)| ReviewError::Field { field, message })?;
        let mut conn = self.db.acquire().await?;
        let practice = match req.tax_id.trim() {
            "" => None,
            raw => {
                let tax_id = TaxId::parse(raw).map_err(|_| field("tax_id", "Enter the Tax ID's 9 digits."))?;
                let p = practices::by_tax_id(&mut conn, plan.id(), tax_id.as_str())
                    .await?
                    .ok_or_else(|| field("tax_id", "No practice of the plan has that Tax ID."))?;
                Some(PracticeId(p.id))
            }
        };
        let rows = store::signed_between(&mut conn, plan.id(), practice, range.from, range.to).await?;
        let mut names: HashMap<UserId, String> = HashMap::new();
        let mut reviews = Vec::with_capacity(rows.len());
        for r in &rows {
            let raw =
                r.frozen.as_deref().ok_or_else(|| Internal::Other(format!("signed review {} has no record", r.id)))?;
            let f: FrozenReview =
                serde_json::from_str(raw).map_err(|e| Internal::Other(format!("signed review {}: {e}", r.id)))?;
            if Some(f.digest()) != r.digest {
                return Err(Internal::Other(format!("signed review {} does not match its digest", r.id)).into());
            }
            let mut decisions = Vec::with_capacity(f.decisions.len());
            for d in &f.decisions {
                let decided_by = name_of(&mut conn, plan, &mut names, UserId(d.decided_by)).await?;
                decisions.push(EvidenceDecision {
                    user_name: d.user_name.clone(),
                    username: d.username.clone(),
                    user_type: d.user_type.clone(),
                    providers: d.providers.clone(),
                    administrator: d.administrator,
                    last_signin: d.last_signin_at.map_or_else(|| "Never".to_owned(), |t| Timestamp(t).for_people(zone)),
                    decision: d.decision.label().to_owned(),
                    change: d.change.clone(),
                    reason: d.reason.clone(),
                    decided_by,
                    decided_at: Timestamp(d.decided_at).for_people(zone),
                });
            }
            let signer = name_of(&mut conn, plan, &mut names, UserId(f.signed_by)).await?;
            reviews.push(EvidenceReview {
                review_id: f.review_id,
                plan_name: plan.row.name.clone(),
                practice_name: r.practice_name.clone(),
                tax_id: TaxId::parse(&f.tax_id).map_err(|_| Internal::Other("stored Tax ID is invalid".into()))?,
                due_on: Timestamp(f.due_at).day_for_people(zone),
                signed_at: Timestamp(f.signed_at).for_people(zone),
                signed_by: signer.clone(),
                on_behalf: f.on_behalf.then_some(signer),
                sole_admin_note: f.sole_administrator.then(|| {
                    "The practice's only administrator: their own access was confirmed by their signature.".to_owned()
                }),
                digest: r.digest.clone().unwrap_or_default(),
                decisions,
            });
        }
        let scope = practice.map_or_else(|| "plan".to_owned(), |_| req.tax_id.trim().to_owned());
        let stem = format!("access-reviews-{scope}-{}-to-{}", req.from.trim(), req.to.trim());
        let file = match format {
            EvidenceFormat::Csv => EvidenceFile {
                content_type: "text/csv; charset=utf-8",
                file_name: format!("{stem}.csv"),
                bytes: evidence::csv(&reviews).map_err(|e| Internal::Other(e.to_string()))?,
                reviews: reviews.len(),
            },
            EvidenceFormat::Pdf => {
                let title =
                    format!("{} — access review evidence, {} to {}", plan.row.name, range.first_day, range.last_day);
                let bytes = tokio::task::spawn_blocking(move || evidence::pdf(&reviews, &title))
                    .await
                    .map_err(|e| Internal::Other(format!("rendering the evidence PDF: {e}")))?
                    .map_err(|e| Internal::Other(e.to_string()))?;
                EvidenceFile {
                    content_type: "application/pdf",
                    file_name: format!("{stem}.pdf"),
                    bytes,
                    reviews: rows.len(),
                }
            }
        };
        drop(conn);
        let detail = json!({
            "format": req.format.trim(), "tax_id": practice.map(|_| req.tax_id.trim()), "from": req.from.trim(),
            "to": req.to.trim(), "reviews": file.reviews,
        });
        let mut tx = self.db.begin().await?;
        audit::record(&mut tx, self.now(), plan.id(), meta, grant.event("access_review.exported").detail(detail))
            .await?;
        gatehouse_store::commit(tx).await?;
        Ok(file)
    }
}

/// "First Last (username)" of a user as the account reads now, looked up once per export.
async fn name_of(
    conn: &mut gatehouse_store::Conn,
    plan: &Plan,
    cache: &mut HashMap<UserId, String>,
    id: UserId,
) -> Result<String, ReviewError> {
    if let Some(n) = cache.get(&id) {
        return Ok(n.clone());
    }
    let n = users::get(conn, plan.id(), id).await?.map_or_else(
        || format!("user {}", id.0),
        |u| format!("{} {} ({})", u.first_name, u.last_name, u.username.unwrap_or_default()),
    );
    cache.insert(id, n.clone());
    Ok(n)
}
