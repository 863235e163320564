//! The change report of a roster import: what was added, changed (field: old → new), end-dated
//! and rejected. Stored as JSON with the import so that past reports can be shown again.

use serde::{Deserialize, Serialize};

/// At most this many entries are kept in each list of a report; the counts are always exact.
pub const DETAIL_LIMIT: usize = 10_000;

/// How many lines and providers an import touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReportCounts {
    /// Provider lines in the file (header and blank lines aside).
    pub lines: u64,
    pub added: u64,
    pub changed: u64,
    /// Providers end-dated because the file no longer lists them.
    pub removed: u64,
    pub unchanged: u64,
    pub rejected: u64,
    pub practices_added: u64,
    pub practices_changed: u64,
}

/// A provider named in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderEntry {
    pub provider_id: String,
    /// "Last, First" for a practitioner, else the organization's name.
    pub name: String,
    /// practitioner, group or facility.
    pub kind: String,
    pub tax_id: String,
}

/// One value that changed, named by its column in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub old: String,
    pub new: String,
}

/// A provider whose values changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderChange {
    pub provider_id: String,
    pub name: String,
    pub changes: Vec<FieldChange>,
}

/// A practice that is new, or whose values changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PracticeChange {
    pub tax_id: String,
    pub name: String,
    /// Empty for a new practice.
    pub changes: Vec<FieldChange>,
}

/// A rejected line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// Line of the file where the record starts (the header is line 1).
    pub line: u64,
    /// The provider ID as written, when the line has one.
    pub provider_id: Option<String>,
    /// Every reason, each naming its column.
    pub reason: String,
}

/// The result of one import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// The recorded import.
    pub id: i64,
    /// When it ran (Unix seconds).
    pub at: i64,
    pub file_name: String,
    /// SHA-256 of the file's bytes, in hex.
    pub file_sha256: String,
    /// Whether the roster was changed. `false` when lines were rejected and the valid ones were
    /// not to be imported alone: then nothing changed and only the rejections are listed.
    pub applied: bool,
    pub counts: ReportCounts,
    pub added: Vec<ProviderEntry>,
    pub changed: Vec<ProviderChange>,
    pub removed: Vec<ProviderEntry>,
    pub rejected: Vec<Rejection>,
    pub practices_added: Vec<PracticeChange>,
    pub practices_changed: Vec<PracticeChange>,
    /// Whether a list was cut at [`DETAIL_LIMIT`] entries.
    pub truncated: bool,
}

impl ImportReport {
    /// Whether the import changed nothing on the roster.
    pub fn is_no_op(&self) -> bool {
        let c = &self.counts;
        c.added + c.changed + c.removed + c.practices_added + c.practices_changed == 0
    }

    /// Cuts every list to [`DETAIL_LIMIT`] entries.
    pub(crate) fn truncate_details(&mut self) {
        fn cut<T>(v: &mut Vec<T>, flag: &mut bool) {
            if v.len() > DETAIL_LIMIT {
                v.truncate(DETAIL_LIMIT);
                *flag = true;
            }
        }
        let mut t = self.truncated;
        cut(&mut self.added, &mut t);
        cut(&mut self.changed, &mut t);
        cut(&mut self.removed, &mut t);
        cut(&mut self.rejected, &mut t);
        cut(&mut self.practices_added, &mut t);
        cut(&mut self.practices_changed, &mut t);
        self.truncated = t;
    }
}
