//! The user searches' index in memory, for plans too large for SQL to sort their matches.
//!
//! A needle drawn from a common surname matches tens of thousands of a million users, who sit
//! together in name order: no database index returns them already sorted, so SQL reads and
//! sorts them all for a page of 25. This instance keeps, per large plan, every user's searched
//! text (exactly as the SQL searches compare it: lower-case name, username and email, and the
//! two-step phone) in one buffer **in name order**, and finds a page by scanning it: the first
//! 25 hits are the page, the count stops at 1,000, and a needle matching nobody reads ~60 MB at
//! memory speed.
//!
//! It is never stale: every search asks the database which of the plan's users changed since
//! the index was read (the change log of migration 0016, timed by the database's clock, from a
//! margin before the reading for transactions then still open, less the changes the reading
//! already saw committed), treats those as unknown, and lets SQL decide on them together with
//! the index's first matches; SQL also reads every row shown. When too many
//! users changed, or the index is old, SQL answers alone and the index is read again in the
//! background. Each instance keeps its own copy: several instances need nothing shared but the
//! database.

use crate::authz::index::IntHasher;
use crate::{Internal, Services};
use gatehouse_domain::PlanId;
use gatehouse_store::directory::{self as dir, DirectoryQuery, DirectoryRow, SortBy};
use gatehouse_store::search::{self, IndexedUser, Total};
use gatehouse_store::users::{self, UserRow};
use gatehouse_store::{Conn, StoreError};
use memchr::memmem;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Ends a field of a user's text (never in a needle: such needles go to SQL).
const FIELD_END: u8 = 0x1f;
/// Ends a user's text.
const USER_END: u8 = b'\n';
/// Changes logged up to this many seconds before an index was read are treated as unknown by
/// it: a transaction still open when the index was read commits later with an earlier time.
const MARGIN_SECS: i64 = 300;
/// An index older than this is read again in the background once users have changed.
const REFRESH_SECS: i64 = 300;
/// An index older than this is read again in the background even when nothing changed, before
/// it is too old to use.
const RENEW_SECS: i64 = 30 * 60;
/// An index older than this is not used (the change log keeps an hour, see [`KEEP_SECS`]).
const MAX_AGE_SECS: i64 = 45 * 60;
/// How long the change log keeps a change.
const KEEP_SECS: i64 = 3_600;
/// The most unknown users a search asks SQL about; beyond, the index is read again.
const MAX_UNKNOWN: i64 = 2_000;
/// Plans with at least this many users have their index read when the server starts.
const WARM_USERS: i64 = 50_000;
/// A search SQL answered more slowly than this has the plan's index read (as does one counting
/// more than [`search::COUNT_CAP`] matches).
const SLOW_SQL: Duration = Duration::from_millis(100);

/// One plan's users as of `read_at`, in the plan-wide search's order.
pub(crate) struct PlanIndex {
    /// The database's clock when the index was read.
    read_at: i64,
    /// The changes of the margin before `read_at` already committed when the index was read
    /// (their log ids): the index holds them.
    seen: HashSet<i64>,
    ids: Vec<i64>,
    /// Per user: name, username and email, each followed by [`FIELD_END`], then [`USER_END`].
    text: Vec<u8>,
    /// Where each user's text starts, and one past the last.
    starts: Vec<u32>,
    /// Per user: the two-step phone then [`USER_END`].
    phones: Vec<u8>,
    phone_starts: Vec<u32>,
    /// Each user's place in the practice directory's name order.
    directory_rank: Vec<u32>,
    /// Each user's place in this index.
    position: HashMap<i64, u32, BuildHasherDefault<IntHasher>>,
    /// Which blocks of users hold which three bytes of text, and of phone.
    text_blocks: Blocks,
    phone_blocks: Blocks,
}

/// Users in a block of [`Blocks`].
const BLOCK: usize = 512;

/// For each three bytes found in a text, the blocks of [`BLOCK`] consecutive users whose text
/// holds them (a bit each): a needle can only be in the blocks holding all its three-byte
/// windows, so a scan skips the others. Empty until built: then every block is scanned.
#[derive(Default)]
struct Blocks {
    of: HashMap<[u8; 3], Vec<u64>>,
    /// Words of each bitmap.
    words: usize,
}

impl Blocks {
    /// The blocks of `buf` (users starting at `starts`).
    fn build(buf: &[u8], starts: &[u32]) -> Self {
        let users = starts.len().saturating_sub(1);
        let blocks = users.div_ceil(BLOCK);
        let words = blocks.div_ceil(64);
        let mut of: HashMap<[u8; 3], Vec<u64>> = HashMap::new();
        let mut seen: Vec<[u8; 3]> = Vec::new();
        for b in 0..blocks {
            let from = starts.get(b * BLOCK).map_or(0, |s| *s as usize);
            let to = starts.get(((b + 1) * BLOCK).min(users)).map_or(buf.len(), |s| *s as usize);
            seen.clear();
            seen.extend(
                buf.get(from..to)
                    .unwrap_or_default()
                    .windows(3)
                    .filter(|w| !w.iter().any(|c| *c == FIELD_END || *c == USER_END))
                    .map(|w| [w[0], w[1], w[2]]),
            );
            seen.sort_unstable();
            seen.dedup();
            for t in &seen {
                let bits = of.entry(*t).or_insert_with(|| vec![0; words]);
                bits[b / 64] |= 1 << (b % 64);
            }
        }
        Self { of, words }
    }

    /// The blocks that may hold `needle` as a bitmap, or `None` when every block may (not
    /// built, or a needle shorter than three bytes).
    fn may_hold(&self, needle: &[u8]) -> Option<Vec<u64>> {
        if self.words == 0 || needle.len() < 3 {
            return None;
        }
        let mut bits = vec![u64::MAX; self.words];
        for w in needle.windows(3) {
            match self.of.get(&[w[0], w[1], w[2]]) {
                Some(b) => bits.iter_mut().zip(b).for_each(|(x, y)| *x &= y),
                None => return Some(vec![0; self.words]),
            }
        }
        Some(bits)
    }
}

impl PlanIndex {
    fn new(read_at: i64, seen: HashSet<i64>) -> Self {
        Self {
            read_at,
            seen,
            ids: Vec::new(),
            text: Vec::new(),
            starts: vec![0],
            phones: Vec::new(),
            phone_starts: vec![0],
            directory_rank: Vec::new(),
            position: HashMap::default(),
            text_blocks: Blocks::default(),
            phone_blocks: Blocks::default(),
        }
    }

    /// Builds the block maps once every user is in.
    fn finish(&mut self) {
        self.text.shrink_to_fit();
        self.phones.shrink_to_fit();
        self.text_blocks = Blocks::build(&self.text, &self.starts);
        self.phone_blocks = Blocks::build(&self.phones, &self.phone_starts);
    }

    /// Adds the next user in name order.
    fn push(&mut self, u: IndexedUser) -> Result<(), StoreError> {
        let too_big = || StoreError::Corrupt("a search index over 4 GiB".into());
        let at = u32::try_from(self.ids.len()).map_err(|_| too_big())?;
        for field in [&u.name, &u.username, &u.email] {
            self.text.extend(field.bytes().map(|b| if b == FIELD_END || b == USER_END { b' ' } else { b }));
            self.text.push(FIELD_END);
        }
        self.text.push(USER_END);
        self.phones.extend(u.phone.bytes().filter(|b| *b != USER_END));
        self.phones.push(USER_END);
        self.starts.push(u32::try_from(self.text.len()).map_err(|_| too_big())?);
        self.phone_starts.push(u32::try_from(self.phones.len()).map_err(|_| too_big())?);
        self.directory_rank.push(u32::try_from(u.directory_rank).map_err(|_| too_big())?);
        self.position.insert(u.id, at);
        self.ids.push(u.id);
        Ok(())
    }

    /// The positions of the users (not `unknown`) whose `buf` text contains `needle`, in order,
    /// at most `max`, reading only the blocks that may hold it.
    #[allow(clippy::too_many_arguments)]
    fn scan(
        buf: &[u8],
        starts: &[u32],
        blocks: &Blocks,
        ids: &[i64],
        needle: &[u8],
        unknown: &HashSet<i64>,
        max: usize,
    ) -> Vec<u32> {
        let mut out = Vec::new();
        if needle.is_empty() {
            out.extend((0..ids.len()).filter(|p| !unknown.contains(&ids[*p])).take(max).map(|p| p as u32));
            return out;
        }
        let users = ids.len();
        let may = blocks.may_hold(needle);
        let finder = memmem::Finder::new(needle);
        let mut b = 0;
        while b * BLOCK < users && out.len() < max {
            if !holds(&may, b) {
                b += 1;
                continue;
            }
            // A run of blocks that may hold the needle, read as one range.
            let first = b;
            while (b + 1) * BLOCK < users && holds(&may, b + 1) {
                b += 1;
            }
            b += 1;
            let mut from = starts.get(first * BLOCK).map_or(buf.len(), |s| *s as usize);
            let to = starts.get((b * BLOCK).min(users)).map_or(buf.len(), |s| *s as usize);
            while out.len() < max {
                let Some(hit) = finder.find(buf.get(from..to).unwrap_or_default()) else { break };
                let at = from + hit;
                // The user whose text holds the hit: the last start at or before it.
                let p = starts.partition_point(|s| *s as usize <= at).saturating_sub(1);
                if !unknown.contains(&ids[p]) {
                    out.push(p as u32);
                }
                from = starts.get(p + 1).map_or(to, |s| *s as usize);
            }
        }
        out
    }

    /// The users (not `unknown`) matching `needle` in their text or `digits` (four or more) in
    /// their phone, in name order, at most `max`.
    fn matches(&self, needle: &str, digits: &str, unknown: &HashSet<i64>, max: usize) -> Vec<u32> {
        let by_text =
            Self::scan(&self.text, &self.starts, &self.text_blocks, &self.ids, needle.as_bytes(), unknown, max);
        if digits.len() < 4 {
            return by_text;
        }
        let by_phone = Self::scan(
            &self.phones,
            &self.phone_starts,
            &self.phone_blocks,
            &self.ids,
            digits.as_bytes(),
            unknown,
            max,
        );
        let mut all = by_text;
        all.extend(by_phone);
        all.sort_unstable();
        all.dedup();
        all.truncate(max);
        all
    }

    /// Whether the user at `p` matches `needle` (found by `finder`) in their text or `digits`
    /// (four or more) in their phone, as in [`Self::matches`]. A user in a block that cannot
    /// hold them is answered without reading their text.
    fn user_matches(&self, p: usize, finder: &memmem::Finder<'_>, digits: &str, may: &MayHold) -> bool {
        (holds(&may.text, p / BLOCK) && finder.find(self.user_text(p)).is_some())
            || (digits.len() >= 4
                && holds(&may.phone, p / BLOCK)
                && memmem::find(self.user_phone(p), digits.as_bytes()).is_some())
    }

    fn user_text(&self, p: usize) -> &[u8] {
        Self::range(&self.text, &self.starts, p)
    }

    fn user_phone(&self, p: usize) -> &[u8] {
        Self::range(&self.phones, &self.phone_starts, p)
    }

    fn range<'a>(buf: &'a [u8], starts: &[u32], p: usize) -> &'a [u8] {
        match (starts.get(p), starts.get(p + 1)) {
            (Some(a), Some(b)) => buf.get(*a as usize..*b as usize).unwrap_or_default(),
            _ => &[],
        }
    }

    /// The blocks that may hold `needle` in text and `digits` in phones.
    fn may_hold(&self, needle: &str, digits: &str) -> MayHold {
        MayHold {
            text: self.text_blocks.may_hold(needle.as_bytes()),
            phone: if digits.len() >= 4 { self.phone_blocks.may_hold(digits.as_bytes()) } else { Some(Vec::new()) },
        }
    }
}

/// Bitmaps of the blocks that may hold a needle (`None`: every block may).
struct MayHold {
    text: Option<Vec<u64>>,
    phone: Option<Vec<u64>>,
}

/// Whether block `b` may hold the needle of `may`.
fn holds(may: &Option<Vec<u64>>, b: usize) -> bool {
    may.as_ref().is_none_or(|bits| bits.get(b / 64).is_some_and(|w| w & (1 << (b % 64)) != 0))
}

/// Whether the index can answer `needle` exactly as SQL does.
fn answerable(needle: &str) -> bool {
    !needle.bytes().any(|b| b == FIELD_END || b == USER_END)
}

/// This instance's indexes, and the plans whose index is being read.
#[derive(Default)]
pub(crate) struct SearchIndexes {
    plans: Mutex<HashMap<PlanId, Arc<PlanIndex>>>,
    reading: Mutex<HashSet<PlanId>>,
    /// Searches the indexes answered (SQL answered the others).
    answered: AtomicU64,
}

/// An index found usable for one search, with the users it does not know.
struct Usable {
    index: Arc<PlanIndex>,
    unknown: Vec<i64>,
}

impl Services {
    /// The plan's index and the users it does not know, or `None` when SQL must answer (no
    /// index, too old, or too many users changed since); then it is read again in the
    /// background.
    async fn usable_index(&self, conn: &mut Conn, plan: PlanId) -> Result<Option<Usable>, StoreError> {
        let index = self.search_indexes.plans.lock().unwrap_or_else(PoisonError::into_inner).get(&plan).cloned();
        let Some(index) = index else { return Ok(None) };
        let now = search::db_clock(conn).await?;
        let age = now - index.read_at;
        if age > MAX_AGE_SECS {
            self.refresh_search_index(plan);
            return Ok(None);
        }
        // The changes since the margin before the index was read, but those it holds.
        let limit = (index.seen.len() as i64).saturating_add(MAX_UNKNOWN).saturating_add(1);
        let changes = search::changes_since(conn, plan, index.read_at - MARGIN_SECS, limit).await?;
        if changes.len() as i64 >= limit {
            self.refresh_search_index(plan);
            return Ok(None);
        }
        let unknown: HashSet<i64> =
            changes.into_iter().filter(|(change, _)| !index.seen.contains(change)).map(|(_, user)| user).collect();
        if unknown.len() as i64 > MAX_UNKNOWN {
            self.refresh_search_index(plan);
            return Ok(None);
        }
        let unknown: Vec<i64> = unknown.into_iter().collect();
        if age > RENEW_SECS || (age > REFRESH_SECS && !unknown.is_empty()) {
            self.refresh_search_index(plan);
        }
        self.search_indexes.answered.fetch_add(1, Ordering::Relaxed);
        Ok(Some(Usable { index, unknown }))
    }

    /// A page of the plan-wide search (as [`users::search`] answers it) from the plan's index,
    /// or `None` when SQL must answer.
    async fn search_with_index(
        &self,
        conn: &mut Conn,
        plan: PlanId,
        needle: &str,
        digits: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Option<(Vec<UserRow>, Total)>, StoreError> {
        if !answerable(needle) {
            return Ok(None);
        }
        let mut tx = gatehouse_store::begin_read(conn).await?;
        let Some(Usable { index, unknown }) = self.usable_index(&mut tx, plan).await? else {
            gatehouse_store::end_read(tx).await?;
            return Ok(None);
        };
        let stop = search::count_stop(search::COUNT_CAP, offset, limit);
        let unknown_set: HashSet<i64> = unknown.iter().copied().collect();
        let max = usize::try_from(stop.saturating_add(1)).unwrap_or(usize::MAX);
        let found = index.matches(needle, digits, &unknown_set, max);
        let others = users::count_among(&mut tx, plan, &unknown, needle, digits).await?;
        let counted = found.len() as i64 + others;
        let total = Total::from_count(counted, stop);
        if counted <= offset {
            gatehouse_store::end_read(tx).await?;
            return Ok(Some((Vec::new(), total)));
        }
        // The page lies within the index's first `offset + limit` matches and the unknown users.
        let first = usize::try_from(offset.saturating_add(limit)).unwrap_or(usize::MAX).min(found.len());
        let mut ids: Vec<i64> = found[..first].iter().map(|p| index.ids[*p as usize]).collect();
        ids.extend(&unknown);
        let rows = users::page_among(&mut tx, plan, &ids, needle, digits, limit, offset).await?;
        gatehouse_store::end_read(tx).await?;
        Ok(Some((rows, total)))
    }

    /// A page of the practice directory sorted by name (as [`dir::page`] answers it) from the
    /// plan's index, or `None` when SQL must answer (another sort, or no usable index).
    async fn directory_with_index(
        &self,
        conn: &mut Conn,
        plan: PlanId,
        q: &DirectoryQuery<'_>,
    ) -> Result<Option<(Vec<DirectoryRow>, Total)>, StoreError> {
        if q.sort != SortBy::Name || q.descending || q.among.is_some() || !answerable(q.needle) {
            return Ok(None);
        }
        let mut tx = gatehouse_store::begin_read(conn).await?;
        let Some(Usable { index, unknown }) = self.usable_index(&mut tx, plan).await? else {
            gatehouse_store::end_read(tx).await?;
            return Ok(None);
        };
        let unknown: HashSet<i64> = unknown.into_iter().collect();
        let mut known = Vec::new();
        let mut ask = Vec::new();
        for id in dir::candidates(&mut tx, plan, q).await? {
            match index.position.get(&id) {
                Some(p) if !unknown.contains(&id) => known.push(*p),
                // Changed since the index was read (or added just before, inside the margin).
                _ => ask.push(id),
            }
        }
        // In the index's order, the candidates' text is read front to back.
        known.sort_unstable();
        let finder = memmem::Finder::new(q.needle.as_bytes());
        let may = index.may_hold(q.needle, q.digits);
        let mut found: Vec<(u32, i64)> = known
            .into_iter()
            .map(|p| p as usize)
            .filter(|p| index.user_matches(*p, &finder, q.digits, &may))
            .map(|p| (index.directory_rank[p], index.ids[p]))
            .collect();
        let stop = search::count_stop(q.count_cap.unwrap_or(i64::MAX), q.offset, q.limit);
        let others = if ask.is_empty() {
            0
        } else {
            let only_ask = DirectoryQuery { among: Some(&ask), limit: 0, offset: 0, count_cap: None, ..q.clone() };
            dir::page(&mut tx, plan, &only_ask).await?.1.shown()
        };
        let total = Total::from_count(found.len() as i64 + others, stop);
        let first = usize::try_from(q.offset.saturating_add(q.limit)).unwrap_or(usize::MAX).min(found.len());
        if first > 0 && first < found.len() {
            found.select_nth_unstable(first - 1);
        }
        found.truncate(first);
        let mut ids: Vec<i64> = found.into_iter().map(|(_, id)| id).collect();
        ids.extend(ask);
        let page = DirectoryQuery { among: Some(&ids), count_cap: None, ..q.clone() };
        let (rows, _) = dir::page(&mut tx, plan, &page).await?;
        gatehouse_store::end_read(tx).await?;
        Ok(Some((rows, total)))
    }

    /// One page of the plan-wide search (`needle` lower case, `digits` its digits) and its total
    /// counted up to [`search::COUNT_CAP`]: from the plan's index when this instance holds a
    /// usable one, else from SQL, which then has the index read if the plan proves large.
    pub async fn user_search_page(
        &self,
        conn: &mut Conn,
        plan: PlanId,
        needle: &str,
        digits: &str,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<UserRow>, Total), StoreError> {
        if let Some(found) = self.search_with_index(conn, plan, needle, digits, limit, offset).await? {
            return Ok(found);
        }
        let started = Instant::now();
        let found = users::search(conn, plan, needle, digits, limit, offset, search::COUNT_CAP).await?;
        if !found.1.is_exact() || started.elapsed() > SLOW_SQL {
            // A plan large enough for SQL to cost.
            self.refresh_search_index(plan);
        }
        Ok(found)
    }

    /// One page of a practice directory query: from the plan's index when this instance holds a
    /// usable one and the page is sorted by name, else from SQL, which then has the index read
    /// if the practices prove large.
    pub async fn directory_page(
        &self,
        conn: &mut Conn,
        plan: PlanId,
        q: &DirectoryQuery<'_>,
    ) -> Result<(Vec<DirectoryRow>, Total), StoreError> {
        if let Some(found) = self.directory_with_index(conn, plan, q).await? {
            return Ok(found);
        }
        let started = Instant::now();
        let found = dir::page(conn, plan, q).await?;
        if !found.1.is_exact() || started.elapsed() > SLOW_SQL {
            self.refresh_search_index(plan);
        }
        Ok(found)
    }

    /// Has the index of every plan of [`WARM_USERS`] users or more read in the background, so
    /// that the first searches after a start do not wait for SQL to sort a large plan's
    /// matches. Smaller plans get theirs when a search proves them slow.
    pub async fn warm_search_indexes(&self) -> Result<(), Internal> {
        self.warm_search_indexes_of(WARM_USERS).await
    }

    /// As [`Self::warm_search_indexes`], for plans of `users` users or more.
    pub async fn warm_search_indexes_of(&self, users: i64) -> Result<(), Internal> {
        let mut conn = self.db.acquire().await?;
        for plan in gatehouse_store::plans::list(&mut conn).await? {
            if search::has_users(&mut conn, plan.id, users).await? {
                self.refresh_search_index(plan.id);
            }
        }
        Ok(())
    }

    /// Reads the plan's index in the background, unless it is being read already.
    pub(crate) fn refresh_search_index(&self, plan: PlanId) {
        if !self.search_indexes.reading.lock().unwrap_or_else(PoisonError::into_inner).insert(plan) {
            return;
        }
        let svc = self.clone();
        tokio::spawn(async move {
            if let Err(e) = svc.load_search_index(plan).await {
                tracing::warn!(error = %e, plan = plan.0, "cannot read the plan's users for the search index");
            }
            svc.search_indexes.reading.lock().unwrap_or_else(PoisonError::into_inner).remove(&plan);
        });
    }

    /// Reads the plan's search index now and forgets changes older than the log keeps. Searches
    /// read it themselves in the background once a search of the plan counts more than
    /// [`search::COUNT_CAP`] matches or takes SQL more than 100 ms; benchmarks and tests call
    /// this to start warm.
    pub async fn load_search_index(&self, plan: PlanId) -> Result<(), Internal> {
        let started = Instant::now();
        let mut conn = self.db.acquire().await?;
        let mut tx = gatehouse_store::begin_read(&mut conn).await?;
        let read_at = search::db_clock(&mut tx).await?;
        // The changes first: whatever they show committed, the users read next hold too.
        let seen = search::changes_since(&mut tx, plan, read_at - MARGIN_SECS, i64::MAX).await?;
        let mut index = PlanIndex::new(read_at, seen.into_iter().map(|(change, _)| change).collect());
        search::each_user_in_name_order(&mut tx, plan, |u| index.push(u)).await?;
        gatehouse_store::end_read(tx).await?;
        // A second or so of CPU at a million users: off the async threads.
        let index = tokio::task::spawn_blocking(move || {
            index.finish();
            index
        })
        .await
        .map_err(|e| Internal::Other(format!("building the search index: {e}")))?;
        search::prune_changes(&mut conn, index.read_at - KEEP_SECS).await?;
        tracing::info!(
            plan = plan.0,
            users = index.ids.len(),
            mib = (index.text.len() + index.phones.len() + index.ids.len() * 24) / (1 << 20),
            seconds = started.elapsed().as_secs_f64(),
            "user search index read"
        );
        self.search_indexes.plans.lock().unwrap_or_else(PoisonError::into_inner).insert(plan, Arc::new(index));
        Ok(())
    }

    /// Whether this instance holds a search index of the plan.
    pub fn has_search_index(&self, plan: PlanId) -> bool {
        self.search_indexes.plans.lock().unwrap_or_else(PoisonError::into_inner).contains_key(&plan)
    }

    /// How many searches this instance's indexes have answered (SQL answered the others).
    pub fn searches_answered_by_index(&self) -> u64 {
        self.search_indexes.answered.load(Ordering::Relaxed)
    }

    /// Forgets the plan's search index (tests use it to compare with SQL alone).
    pub fn drop_search_index(&self, plan: PlanId) {
        self.search_indexes.plans.lock().unwrap_or_else(PoisonError::into_inner).remove(&plan);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, name: &str, email: &str, phone: &str, rank: i64) -> IndexedUser {
        IndexedUser {
            id,
            name: name.into(),
            username: format!("u{id}"),
            email: email.into(),
            phone: phone.into(),
            directory_rank: rank,
        }
    }

    fn index() -> PlanIndex {
        let mut i = PlanIndex::new(0, HashSet::new());
        for u in [
            user(7, "ann adams", "ann@a.example", "+15550001111", 1),
            user(3, "bob smith", "bob.smith@b.example", "", 3),
            user(9, "cy smithers", "cy@c.example", "+15552223333", 2),
            user(4, "di ng", "di@smith.example", "+15550001112", 4),
        ] {
            i.push(u).expect("push");
        }
        i
    }

    #[test]
    fn skipping_blocks_finds_what_a_full_scan_finds() {
        let build = |finish: bool| {
            let mut i = PlanIndex::new(0, HashSet::new());
            for n in 0..3_000_i64 {
                let last = ["adams", "baker", "smith", "young"][(n * 4 / 3_000) as usize];
                let name = format!("pat{n} {last}");
                let email = format!("p{n}@{}.example", if n % 997 == 0 { "rare" } else { "mail" });
                i.push(user(n, &name, &email, &format!("+1206555{n:04}"), n + 1)).expect("push");
            }
            if finish {
                i.finish();
            }
            i
        };
        let (full, skipping) = (build(false), build(true));
        let none = HashSet::new();
        let unknown = HashSet::from([1994, 2]);
        for needle in ["smith", "h p", "rare.ex", "pat29", "pat2999 young", "zzz", "ex", "@mail", "u1"] {
            for max in [1, 25, 5_000] {
                for skip in [&none, &unknown] {
                    let d: String = needle.chars().filter(char::is_ascii_digit).collect();
                    assert_eq!(
                        full.matches(needle, &d, skip, max),
                        skipping.matches(needle, &d, skip, max),
                        "{needle}"
                    );
                }
            }
        }
        assert_eq!(skipping.matches("rare.ex", "", &none, 10), vec![0, 997, 1994, 2991]);
        assert_eq!(skipping.matches("qq5552999", "5552999", &none, 10), vec![2999]);
        // Only the three blocks (of six) holding Smiths (users 1,500 to 2,249) hold "smith".
        let may = skipping.text_blocks.may_hold(b"smith").expect("a bitmap");
        assert_eq!(may.iter().map(|w| w.count_ones()).sum::<u32>(), 3);
    }

    #[test]
    fn matches_come_in_name_order_once_each() {
        let i = index();
        let none = HashSet::new();
        assert_eq!(i.matches("smith", "", &none, 10), vec![1, 2, 3]);
        assert_eq!(i.matches("smith", "", &none, 2), vec![1, 2]);
        assert_eq!(i.matches("", "", &none, 10), vec![0, 1, 2, 3]);
        assert_eq!(i.matches("zzz", "", &none, 10), Vec::<u32>::new());
        // A needle never spans two fields or two users.
        assert_eq!(i.matches("adamsu7", "", &none, 10), Vec::<u32>::new());
        assert_eq!(i.matches("examplebob", "", &none, 10), Vec::<u32>::new());
    }

    #[test]
    fn phones_match_by_four_digits_or_more() {
        let i = index();
        let none = HashSet::new();
        assert_eq!(i.matches("x0001", "0001", &none, 10), vec![0, 3]);
        assert_eq!(i.matches("x000", "000", &none, 10), Vec::<u32>::new());
        assert_eq!(i.matches("smith", "2223", &none, 10), vec![1, 2, 3]);
    }

    #[test]
    fn unknown_users_are_left_to_sql() {
        let i = index();
        let unknown = HashSet::from([9]);
        assert_eq!(i.matches("smith", "", &unknown, 10), vec![1, 3]);
        assert_eq!(i.matches("", "", &unknown, 10), vec![0, 1, 3]);
        assert!(i.user_matches(2, &memmem::Finder::new("smithers"), "", &i.may_hold("smithers", "")));
        assert!(!i.user_matches(0, &memmem::Finder::new("smith"), "", &i.may_hold("smith", "")));
        assert!(i.user_matches(3, &memmem::Finder::new("qq1112"), "1112", &i.may_hold("qq1112", "1112")));
        assert!(!answerable("a\nb"));
        assert!(answerable("o'brien"));
    }
}
