//! The provider roster: importing the plan's CSV export from its claims system (idempotent,
//! with a change report), past imports, and search.
//!
//! An import is all or nothing by default: one rejected line and the roster stays as it was,
//! with every rejection reported. With [`ImportOptions::import_valid_rows`] the good lines are
//! imported and the bad ones reported; a provider whose line was rejected keeps its roster
//! record unchanged (it is not end-dated). Providers the file no longer lists are end-dated,
//! never deleted. Everything happens in one transaction with one audit event and one
//! `roster_imports` row, refused imports included.

mod apply;
mod changes;
mod queries;
mod read;
pub mod report;

pub use queries::RosterPage;
pub use report::{FieldChange, ImportReport, PracticeChange, ProviderChange, ProviderEntry, Rejection, ReportCounts};

use crate::audit;
use crate::plans::Plan;
use crate::staff::{Denied, StaffGrant};
use crate::{Internal, RequestMeta, Services};
use changes::Roster;
use gatehouse_domain::audit::Outcome;
use gatehouse_domain::roster::{HeaderError, ProviderId, RosterRow, check_lines};
use gatehouse_domain::staff::StaffPermission;
use gatehouse_store::roster::imports::{self, ImportCounts, NewImport};
use gatehouse_store::roster::{bulk, load};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use thiserror::Error;

/// How an import treats rejected lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportOptions {
    /// Import the valid lines even when some are rejected (default: change nothing).
    pub import_valid_rows: bool,
}

/// What an import is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportStage {
    /// Reading and checking the file's lines; `done` and `total` are bytes.
    Reading,
    /// Comparing with the roster; `done` and `total` are lines.
    Comparing,
    /// Writing the changes; `done` and `total` are rows written.
    Writing,
    /// Finished; `done` and `total` are lines.
    Done,
}

/// Progress of an import, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportProgress {
    pub stage: ImportStage,
    pub done: u64,
    pub total: u64,
}

/// Why an import or a roster read was refused. Everything but `Internal` is the file's or the
/// caller's fault and its text can be shown.
#[derive(Debug, Error)]
pub enum RosterError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("The file is empty.")]
    Empty,
    #[error("The file has a header row but no provider lines.")]
    NoRows,
    #[error("Line {line} is not UTF-8 text. Save the file as \"CSV UTF-8\" and import it again.")]
    NotUtf8 { line: u64 },
    #[error(transparent)]
    Header(#[from] HeaderError),
    #[error("Line {line} could not be read as CSV.")]
    Malformed { line: u64 },
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<gatehouse_store::StoreError> for RosterError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// The lines a file's checks rejected, and the provider IDs the roster must keep unchanged.
fn rejections(lines: &[gatehouse_domain::roster::ParsedLine]) -> (Vec<Rejection>, HashSet<ProviderId>) {
    let mut rejected = Vec::new();
    let mut kept = HashSet::new();
    for l in lines {
        if let Err(e) = &l.row {
            rejected.push(Rejection { line: l.line, provider_id: l.provider_id_text.clone(), reason: e.to_string() });
            kept.extend(l.provider_id());
        }
    }
    (rejected, kept)
}

/// Elapsed time at each step of an import, for one debug log line.
struct Timings(std::time::Instant, Vec<(&'static str, std::time::Duration)>);

impl Timings {
    fn start() -> Self {
        Self(std::time::Instant::now(), Vec::new())
    }
    fn lap(&mut self, step: &'static str) {
        self.1.push((step, self.0.elapsed()));
    }
}

impl std::fmt::Display for Timings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (step, at) in &self.1 {
            write!(f, "{step} {:.3}s ", at.as_secs_f64())?;
        }
        Ok(())
    }
}

/// A report of the lines read, before any change is known.
fn new_report(
    file_name: &str,
    csv: &[u8],
    at: i64,
    lines: u64,
    rejected: Vec<Rejection>,
    applied: bool,
) -> ImportReport {
    ImportReport {
        id: 0,
        at,
        file_name: file_name.to_owned(),
        file_sha256: hex::encode(Sha256::digest(csv)),
        applied,
        counts: ReportCounts { lines, rejected: rejected.len() as u64, ..ReportCounts::default() },
        added: vec![],
        changed: vec![],
        removed: vec![],
        rejected,
        practices_added: vec![],
        practices_changed: vec![],
        truncated: false,
    }
}

/// Moves the changes' lists and counts into the report.
fn fill(report: &mut ImportReport, c: changes::Changes) {
    report.counts = ReportCounts {
        added: c.added.len() as u64,
        changed: c.changed.len() as u64,
        removed: c.removed.len() as u64,
        unchanged: c.unchanged,
        practices_added: c.practices_added.len() as u64,
        practices_changed: c.practices_changed.len() as u64,
        ..report.counts
    };
    (report.added, report.changed, report.removed) = (c.added, c.changed, c.removed);
    (report.practices_added, report.practices_changed) = (c.practices_added, c.practices_changed);
}

impl Services {
    /// Imports a roster file for `plan`: see the module documentation for the rules. Returns
    /// the change report, also stored with the import (see [`Services::roster_import`]).
    ///
    /// The file is parsed on the calling task (about 0.2 s per 100,000 lines) before the
    /// transaction begins; the plan's roster is then locked, loaded and compared in memory.
    #[allow(clippy::too_many_arguments)]
    pub async fn import_roster(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        file_name: &str,
        csv: &[u8],
        opts: ImportOptions,
        meta: &RequestMeta,
        progress: &(dyn Fn(ImportProgress) + Send + Sync),
    ) -> Result<ImportReport, RosterError> {
        grant.require(plan.id(), StaffPermission::RosterImport)?;
        let mut timings = Timings::start();
        let mut file = read::read(csv, progress)?;
        let total = file.lines.len() as u64;
        timings.lap("read");
        let now = self.now();
        let mut tx = self.db.begin().await?;
        bulk::lock_for_import(&mut tx, plan.id(), now).await?;
        let roster =
            Roster::new(load::practices(&mut tx, plan.id()).await?, load::providers(&mut tx, plan.id()).await?);
        timings.lap("loaded");
        progress(ImportProgress { stage: ImportStage::Comparing, done: 0, total });
        check_lines(&mut file.lines, |id| roster.entry(id));
        let (rejected, kept) = rejections(&file.lines);
        let applied = rejected.is_empty() || opts.import_valid_rows;
        let mut report = new_report(file_name, csv, now, total, rejected, applied);
        if applied {
            let rows: Vec<&RosterRow> = file.lines.iter().filter_map(|l| l.row.as_ref().ok()).collect();
            let c = changes::compare(&rows, &kept, &roster);
            timings.lap("compared");
            progress(ImportProgress { stage: ImportStage::Comparing, done: total, total });
            apply::apply(&mut tx, plan.id(), &roster, &c, now, progress).await?;
            timings.lap("written");
            fill(&mut report, c);
        }
        report.truncate_details();
        report.id = self.record_import(&mut tx, grant, plan, meta, &report).await?;
        if applied {
            gatehouse_store::access_changes::record(&mut tx, plan.id(), None, now).await?;
        }
        gatehouse_store::commit(tx).await?;
        timings.lap("committed");
        if applied {
            self.access_changed(plan.id(), None).await;
            timings.lap("index refreshed");
        }
        tracing::debug!(lines = total, applied, %timings, "roster import");
        progress(ImportProgress { stage: ImportStage::Done, done: total, total });
        Ok(report)
    }

    /// Stores the import's row and writes its audit event; returns the import's id.
    async fn record_import(
        &self,
        tx: &mut gatehouse_store::Tx,
        grant: &StaffGrant,
        plan: &Plan,
        meta: &RequestMeta,
        report: &ImportReport,
    ) -> Result<i64, Internal> {
        let c = report.counts;
        let body = serde_json::to_string(report).map_err(|e| Internal::Other(format!("roster report: {e}")))?;
        let id = imports::insert(
            tx,
            &NewImport {
                plan_id: plan.id(),
                at: report.at,
                actor: grant.actor(),
                file_name: &report.file_name,
                file_sha256: &report.file_sha256,
                outcome: if report.applied { "imported" } else { "refused" },
                counts: ImportCounts {
                    lines: c.lines as i64,
                    added: c.added as i64,
                    changed: c.changed as i64,
                    removed: c.removed as i64,
                    unchanged: c.unchanged as i64,
                    rejected: c.rejected as i64,
                },
                report: &body,
            },
        )
        .await?;
        let mut event = grant.event("roster.imported");
        let mut detail = json!({
            "import": id,
            "file_name": report.file_name,
            "file_sha256": report.file_sha256,
            "applied": report.applied,
            "counts": c,
        });
        if let (Some(d), Some(extra)) = (detail.as_object_mut(), event.detail.as_object()) {
            d.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        event = event.detail(detail).outcome(if report.applied { Outcome::Success } else { Outcome::Failure });
        audit::record(tx, report.at, plan.id(), meta, event).await?;
        Ok(id)
    }
}
