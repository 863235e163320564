//! Writing an import's changes in the caller's transaction, with progress.

use super::changes::{Changes, Roster};
use super::{ImportProgress, ImportStage};
use crate::Internal;
use gatehouse_domain::PlanId;
use gatehouse_store::Conn;
use gatehouse_store::roster::bulk;
use std::collections::HashMap;

/// Rows written between two progress reports.
const STEP: usize = 5_000;

/// Counts rows written and reports them.
struct Progress<'a> {
    done: u64,
    reported: u64,
    total: u64,
    report: &'a (dyn Fn(ImportProgress) + Send + Sync),
}

impl Progress<'_> {
    fn add(&mut self, n: usize) {
        self.done += n as u64;
        if self.done - self.reported >= 1_000 || self.done == self.total {
            self.reported = self.done;
            (self.report)(ImportProgress { stage: ImportStage::Writing, done: self.done, total: self.total });
        }
    }
}

/// Writes `c`: new practices (their ids are needed next), changed practices, new providers in
/// multi-row batches, one `UPDATE` per changed provider, and the end dates.
pub(crate) async fn apply(
    conn: &mut Conn,
    plan: PlanId,
    roster: &Roster,
    c: &Changes,
    now: i64,
    report: &(dyn Fn(ImportProgress) + Send + Sync),
) -> Result<(), Internal> {
    let mut p = Progress { done: 0, reported: 0, total: c.writes(), report };
    let new: Vec<(&str, &bulk::PracticeValues)> = c.new_practices.iter().map(|(t, v)| (t.as_str(), v)).collect();
    let mut new_ids: HashMap<String, i64> = HashMap::with_capacity(new.len());
    for chunk in new.chunks(STEP) {
        new_ids.extend(bulk::insert_practices(conn, plan, chunk, now).await?);
        p.add(chunk.len());
    }
    let practice_id = |tax: &str| {
        roster
            .practice_id(tax)
            .or_else(|| new_ids.get(tax).copied())
            .ok_or_else(|| Internal::Other(format!("roster import: no practice stored for Tax ID {tax}")))
    };
    for (id, v) in &c.practice_updates {
        bulk::update_practice(conn, *id, v, now).await?;
        p.add(1);
    }
    let providers =
        c.new_providers.iter().map(|(tax, v)| Ok((practice_id(tax)?, v))).collect::<Result<Vec<_>, Internal>>()?;
    for chunk in providers.chunks(STEP) {
        bulk::insert_providers(conn, plan, chunk, now).await?;
        p.add(chunk.len());
    }
    for (id, tax, v) in &c.provider_updates {
        bulk::update_provider(conn, *id, practice_id(tax)?, v, now).await?;
        p.add(1);
    }
    for chunk in c.end_dates.chunks(STEP) {
        bulk::end_date_providers(conn, plan, chunk, now).await?;
        p.add(chunk.len());
    }
    Ok(())
}
