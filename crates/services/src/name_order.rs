//! The plan-wide user search's in-memory name order (SQLite).
//!
//! Sorting tens of thousands of matches by name costs about a microsecond each in SQLite, because
//! each match's name is read from an index by id. This instance keeps, per large plan, the rank of
//! every user in the searches' order (last name, first name, id) and sorts the FTS5 index's
//! matches by it instead: a hash look-up each. The copy is used only while the plan's
//! `search_version` (bumped by triggers whenever a user of the plan is added, removed or renamed,
//! migration 0014) equals the one it was read at, inside the same read transaction as the
//! matches; otherwise the SQL path answers and the copy is read again in the background. So it is
//! never stale, only sometimes absent.

use crate::{Internal, Services};
use gatehouse_domain::{PlanId, UserId};
use gatehouse_store::search::Total;
use gatehouse_store::users::{self, UserRow};
use gatehouse_store::{Conn, DbKind, StoreError, search};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

/// One plan's users' ranks in name order, as of a name-order version.
struct NameOrder {
    version: i64,
    rank: HashMap<i64, u32>,
}

/// This instance's name orders, and the plans whose order is being read.
#[derive(Default)]
pub(crate) struct NameOrders {
    orders: Mutex<HashMap<PlanId, Arc<NameOrder>>>,
    reading: Mutex<HashSet<PlanId>>,
}

impl Services {
    /// A page of the plan-wide search sorted by the in-memory name order, its total counted up to
    /// [`search::COUNT_CAP`], or `None` when this
    /// instance has no current order for the plan or the index cannot answer the needle: then
    /// the SQL path answers.
    pub(crate) async fn search_in_name_order(
        &self,
        conn: &mut Conn,
        plan: PlanId,
        needle: &str,
        digits: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Option<(Vec<UserRow>, Total)>, StoreError> {
        if self.db.kind() != DbKind::Sqlite || search::fts_query_all_plans(needle, digits).is_none() {
            return Ok(None);
        }
        let order = self.name_orders.orders.lock().unwrap_or_else(PoisonError::into_inner).get(&plan).cloned();
        let Some(order) = order else { return Ok(None) };
        // One snapshot for the version, the matches and the rows.
        let mut tx = gatehouse_store::begin_read(conn).await?;
        if search::name_version(&mut tx, plan).await? != order.version {
            gatehouse_store::end_read(tx).await?;
            return Ok(None);
        }
        let query = if search::plan_holds_everyone(&mut tx, plan).await? {
            search::fts_query_all_plans(needle, digits)
        } else {
            search::fts_query(plan, needle, digits)
        };
        let Some(query) = query else {
            gatehouse_store::end_read(tx).await?;
            return Ok(None);
        };
        let stop = search::count_stop(search::COUNT_CAP, offset, limit);
        // Matches spread over the alphabet (a first name, a mail domain) fill a page within the
        // first few hundred users in name order: cheaper than reading tens of thousands of ids.
        let counted = users::fts_count_in_plan(&mut tx, plan, &query, stop).await?;
        if counted > stop {
            let walked =
                users::walk_page(&mut tx, plan, needle, digits, limit, offset, search::SHORT_WALK_ROWS).await?;
            if let Some(rows) = walked {
                gatehouse_store::end_read(tx).await?;
                return Ok(Some((rows, Total::from_count(counted, stop))));
            }
        }
        let mut ranked = Vec::new();
        for id in search::fts_ids(&mut tx, &query).await? {
            // Not ranked: another plan's user (the plan term was left out), not a match.
            if let Some(r) = order.rank.get(&id) {
                ranked.push((*r, id));
            }
        }
        let total = Total::from_count(ranked.len() as i64, stop);
        let end = usize::try_from(offset.saturating_add(limit).max(0)).unwrap_or(usize::MAX).min(ranked.len());
        let start = usize::try_from(offset.max(0)).unwrap_or(usize::MAX).min(end);
        if end > 0 && end < ranked.len() {
            ranked.select_nth_unstable(end - 1);
            ranked.truncate(end);
        }
        ranked.sort_unstable();
        let page: Vec<UserId> = ranked.get(start..end).unwrap_or_default().iter().map(|(_, id)| UserId(*id)).collect();
        let rows = users::by_ids(&mut tx, plan, &page).await?;
        gatehouse_store::end_read(tx).await?;
        Ok(Some((rows, total)))
    }

    /// Reads the plan's name order in the background, unless it is being read already.
    pub(crate) fn refresh_name_order(&self, plan: PlanId) {
        if self.db.kind() != DbKind::Sqlite
            || !self.name_orders.reading.lock().unwrap_or_else(PoisonError::into_inner).insert(plan)
        {
            return;
        }
        let svc = self.clone();
        tokio::spawn(async move {
            if let Err(e) = svc.load_name_order(plan).await {
                tracing::warn!(error = %e, plan = plan.0, "cannot read the plan's users in name order");
            }
            svc.name_orders.reading.lock().unwrap_or_else(PoisonError::into_inner).remove(&plan);
        });
    }

    /// Reads the plan's users in name order now, for the plan-wide search (SQLite; nothing to do
    /// on PostgreSQL). Searches read it themselves in the background when a needle matches more
    /// users than are counted; benchmarks call this to start warm.
    pub async fn load_name_order(&self, plan: PlanId) -> Result<(), Internal> {
        if self.db.kind() != DbKind::Sqlite {
            return Ok(());
        }
        let mut conn = self.db.acquire().await?;
        let mut tx = gatehouse_store::begin_read(&mut conn).await?;
        let version = search::name_version(&mut tx, plan).await?;
        let ids = search::ids_in_name_order(&mut tx, plan).await?;
        gatehouse_store::end_read(tx).await?;
        let mut rank = HashMap::with_capacity(ids.len());
        for (i, id) in ids.into_iter().enumerate() {
            rank.insert(id, u32::try_from(i).map_err(|_| Internal::Other("more than 4 billion users".into()))?);
        }
        self.name_orders
            .orders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(plan, Arc::new(NameOrder { version, rank }));
        Ok(())
    }
}
