//! "User Management": the users of the practices an administrator administers, listed without
//! searching, with search (name, username, email, phone), filters (status, user type, Tax ID,
//! provider), sorting by any column and paging.

use super::{PracticeError, PracticeGrant};
use crate::Services;
use crate::plans::Plan;
use gatehouse_domain::{PracticeId, UserStatus};
use gatehouse_store::directory::{self as store, DirectoryQuery, DirectoryRow, SortBy};
pub use gatehouse_store::search::{COUNT_CAP, Total};
use gatehouse_store::user_types;

/// Rows per page.
pub const PAGE_SIZE: i64 = 25;
/// Longest search text, in characters.
pub const MAX_SEARCH: usize = 100;

/// What the administrator asked for, as typed (all optional).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct DirectoryRequest {
    pub q: String,
    pub status: String,
    pub user_type: String,
    /// A practice id of the administrator's.
    pub practice: Option<i64>,
    /// A provider's row id.
    pub provider: Option<i64>,
    /// `name`, `username`, `email` or `status`.
    pub sort: String,
    /// `desc` for descending.
    pub dir: String,
    /// 1-based.
    pub page: Option<i64>,
}

/// One user in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    pub row: DirectoryRow,
    /// The names of the user types they hold at the administrator's practices.
    pub user_types: Vec<String>,
    /// Whether the account is flagged as idle (no sign-in for the plan's idle threshold).
    pub idle: bool,
}

/// One page of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryPage {
    pub entries: Vec<DirectoryEntry>,
    /// Counted up to [`COUNT_CAP`]: beyond it, "more than 1,000".
    pub total: Total,
    /// 1-based positions of the first and last entries shown (0 and 0 when none).
    pub first: i64,
    pub last: i64,
    pub page: i64,
    /// Pages of the users counted.
    pub pages: i64,
    /// Whether a next page has users.
    pub has_next: bool,
}

impl Services {
    /// One page of the administrator's directory.
    pub async fn practice_directory(
        &self,
        grant: &PracticeGrant,
        plan: &Plan,
        req: &DirectoryRequest,
    ) -> Result<DirectoryPage, PracticeError> {
        let text: String = req.q.trim().chars().take(MAX_SEARCH).collect();
        let needle = text.to_lowercase();
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        let status = match req.status.as_str() {
            "" => None,
            s => Some(
                UserStatus::parse(s).ok_or_else(|| PracticeError::Invalid("Choose a status from the list.".into()))?,
            ),
        };
        if req.practice.is_some_and(|p| !grant.administers(PracticeId(p))) {
            return Err(PracticeError::NotFound);
        }
        let sort = match req.sort.as_str() {
            "username" => SortBy::Username,
            "email" => SortBy::Email,
            "status" => SortBy::Status,
            _ => SortBy::Name,
        };
        let practices: Vec<i64> = grant.practice_ids().into_iter().map(|p| p.0).collect();
        let page = req.page.unwrap_or(1).max(1);
        let user_type = (!req.user_type.is_empty()).then_some(req.user_type.as_str());
        let query = DirectoryQuery {
            practices: &practices,
            needle: &needle,
            digits: &digits,
            status,
            user_type,
            practice: req.practice,
            provider: req.provider,
            sort,
            descending: req.dir == "desc",
            limit: PAGE_SIZE,
            // A page far past the end finds nothing; it must not overflow on the way there.
            offset: (page - 1).saturating_mul(PAGE_SIZE),
            count_cap: Some(COUNT_CAP),
            among: None,
        };
        let mut conn = self.db.acquire().await?;
        let (rows, total) = self.directory_page(&mut conn, plan.id(), &query).await?;
        let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
        let held = store::user_types_of(&mut conn, &ids, &practices).await?;
        let types = user_types::list(&mut conn, plan.id()).await?;
        let name_of =
            |key: &str| types.iter().find(|t| t.key.as_str() == key).map_or(key.to_owned(), |t| t.name.clone());
        let now = self.now();
        let entries = rows
            .into_iter()
            .map(|row| {
                let user_types = held.iter().filter(|(u, _)| *u == row.id).map(|(_, k)| name_of(k)).collect();
                let idle = crate::idle::flagged(plan, row.status, row.idle_since, row.staff, now);
                DirectoryEntry { row, user_types, idle }
            })
            .collect::<Vec<_>>();
        let first = if entries.is_empty() { 0 } else { (page - 1).saturating_mul(PAGE_SIZE) + 1 };
        let last = if entries.is_empty() { 0 } else { first + entries.len() as i64 - 1 };
        let pages = (total.shown() + PAGE_SIZE - 1) / PAGE_SIZE;
        let has_next = !entries.is_empty() && total.more_after(last);
        Ok(DirectoryPage { entries, total, first, last, page, pages, has_next })
    }
}
