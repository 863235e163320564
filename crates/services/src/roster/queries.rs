//! Reading the roster and past imports.

use super::{ImportReport, RosterError};
use crate::plans::Plan;
use crate::staff::StaffGrant;
use crate::{Internal, Services};
use gatehouse_domain::ImportId;
use gatehouse_domain::staff::StaffPermission;
use gatehouse_store::roster::imports::{self, ImportRow};
use gatehouse_store::roster::search::{self, ProviderListing};

/// Providers listed on one page of a search.
pub const PAGE_SIZE: i64 = 50;

/// Longest search text used; the rest is ignored.
const MAX_QUERY: usize = 100;

/// One page of roster search results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterPage {
    /// The providers, with their practice, by provider ID.
    pub rows: Vec<ProviderListing>,
    /// This page's number, from 1.
    pub page: u32,
    /// Whether another page follows.
    pub has_more: bool,
}

impl Services {
    /// A plan's newest imports (without their reports), at most `limit` (1–100).
    pub async fn roster_imports(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        limit: i64,
    ) -> Result<Vec<ImportRow>, RosterError> {
        grant.require(plan.id(), StaffPermission::RosterView)?;
        let mut conn = self.db.acquire().await?;
        Ok(imports::recent(&mut conn, plan.id(), limit.clamp(1, 100)).await?)
    }

    /// One past import's change report, if the plan has an import with this id.
    pub async fn roster_import(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        id: ImportId,
    ) -> Result<Option<ImportReport>, RosterError> {
        let id = id.0;
        grant.require(plan.id(), StaffPermission::RosterView)?;
        let mut conn = self.db.acquire().await?;
        let Some((row, body)) = imports::get(&mut conn, plan.id(), id).await? else { return Ok(None) };
        let mut report: ImportReport = serde_json::from_str(&body)
            .map_err(|e| Internal::Other(format!("stored report of roster import {id} is unreadable: {e}")))?;
        // The report is stored before its row has an id.
        report.id = row.id;
        Ok(Some(report))
    }

    /// Searches the roster by provider ID, NPI or Tax ID (from the start) or by a provider's
    /// or practice's name (anywhere, any case); an empty query lists everyone. End-dated
    /// providers are included and marked. `page` counts from 1.
    pub async fn search_roster(
        &self,
        grant: &StaffGrant,
        plan: &Plan,
        query: &str,
        page: u32,
    ) -> Result<RosterPage, RosterError> {
        grant.require(plan.id(), StaffPermission::RosterView)?;
        let page = page.max(1);
        let query: String = query.trim().chars().take(MAX_QUERY).collect();
        let offset = i64::from(page - 1) * PAGE_SIZE;
        let mut conn = self.db.acquire().await?;
        let mut rows = search::search(&mut conn, plan.id(), &query, PAGE_SIZE + 1, offset).await?;
        let has_more = rows.len() as i64 > PAGE_SIZE;
        rows.truncate(PAGE_SIZE as usize);
        Ok(RosterPage { rows, page, has_more })
    }
}
