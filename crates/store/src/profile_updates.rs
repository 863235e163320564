//! The lines of provider profile update requests (a thread of topic `provider_profile_update`)
//! and the plan's decision on each; the roster lookups that match a line to providers.

use crate::{Conn, StoreError};
use gatehouse_domain::profile_update::{LineState, RequestedProvider};
use gatehouse_domain::{PlanId, PracticeId, ProviderRowId, ThreadId, UserId};
use sqlx::Row;

/// One stored line of a request and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRow {
    /// 1 for the first line of the request.
    pub line_no: u32,
    pub requested: RequestedProvider,
    pub state: LineState,
    /// Why it was denied.
    pub reason: Option<String>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<i64>,
    /// The provider an approval granted (or found the requester already had).
    pub granted_provider: Option<ProviderRowId>,
}

/// Stores the request's lines, numbered from 1 in the order given.
pub async fn insert_lines(
    conn: &mut Conn,
    plan: PlanId,
    thread: ThreadId,
    lines: &[RequestedProvider],
) -> Result<(), StoreError> {
    for (i, l) in lines.iter().enumerate() {
        let line_no = i64::try_from(i + 1).map_err(|_| StoreError::Corrupt("line number".into()))?;
        sqlx::query(
            "INSERT INTO profile_update_lines (plan_id, thread_id, line_no, kind, requested, decision) \
             VALUES ($1, $2, $3, $4, $5, 'pending')",
        )
        .bind(plan.0)
        .bind(thread.0)
        .bind(line_no)
        .bind(l.kind())
        .bind(l.as_str())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The thread's lines, in order (none for a thread that is not a request).
pub async fn lines(conn: &mut Conn, plan: PlanId, thread: ThreadId) -> Result<Vec<LineRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT line_no, kind, requested, decision, reason, decided_by, decided_at, granted_provider_id \
         FROM profile_update_lines WHERE plan_id = $1 AND thread_id = $2 ORDER BY line_no",
    )
    .bind(plan.0)
    .bind(thread.0)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            let requested: String = r.try_get("requested")?;
            let decision: String = r.try_get("decision")?;
            let line_no: i64 = r.try_get("line_no")?;
            Ok(LineRow {
                line_no: u32::try_from(line_no).map_err(|_| StoreError::Corrupt(format!("line number {line_no}")))?,
                requested: RequestedProvider::from_stored(&kind, &requested)
                    .ok_or_else(|| StoreError::Corrupt(format!("requested {kind} {requested:?}")))?,
                state: LineState::parse(&decision)
                    .ok_or_else(|| StoreError::Corrupt(format!("line decision {decision:?}")))?,
                reason: r.try_get("reason")?,
                decided_by: r.try_get::<Option<i64>, _>("decided_by")?.map(UserId),
                decided_at: r.try_get("decided_at")?,
                granted_provider: r.try_get::<Option<i64>, _>("granted_provider_id")?.map(ProviderRowId),
            })
        })
        .collect()
}

/// A line's decision to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided<'a> {
    pub thread: ThreadId,
    pub line_no: u32,
    /// Approved or denied.
    pub state: LineState,
    pub reason: Option<&'a str>,
    pub by: UserId,
    pub granted_provider: Option<ProviderRowId>,
}

/// Records the decision on a line that is still pending; false (changing nothing) if it was
/// already decided, so a line is decided once however many agents decide it at once.
pub async fn decide(conn: &mut Conn, d: &Decided<'_>, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE profile_update_lines SET decision = $3, reason = $4, decided_by = $5, decided_at = $6, \
         granted_provider_id = $7 WHERE thread_id = $1 AND line_no = $2 AND decision = 'pending'",
    )
    .bind(d.thread.0)
    .bind(i64::from(d.line_no))
    .bind(d.state.as_str())
    .bind(d.reason)
    .bind(d.by.0)
    .bind(now)
    .bind(d.granted_provider.map(|p| p.0))
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A current provider of the roster that a line names, with its practice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterMatch {
    pub provider: ProviderRowId,
    pub provider_id: String,
    pub npi: String,
    /// "First Last" for a practitioner, the organization's name otherwise.
    pub name: String,
    pub practice: PracticeId,
    pub tax_id: String,
    pub practice_name: String,
}

/// The plan's current (not end-dated) providers a line names: by provider ID, or for an NPI
/// every provider with that NPI (an NPI may bill under several Tax IDs) and any provider whose
/// provider ID is those ten digits. Ordered by provider ID.
pub async fn roster_matches(
    conn: &mut Conn,
    plan: PlanId,
    requested: &RequestedProvider,
) -> Result<Vec<RosterMatch>, StoreError> {
    let by_npi = match requested {
        RequestedProvider::Npi(n) => n.as_str(),
        RequestedProvider::ProviderId(_) => "",
    };
    let rows = sqlx::query(
        "SELECT v.id, v.provider_id, v.npi, v.first_name, v.last_name, v.org_name, v.practice_id, p.tax_id, \
         p.name AS practice_name FROM providers v JOIN practices p ON p.id = v.practice_id \
         WHERE v.plan_id = $1 AND v.end_dated_at IS NULL AND (v.provider_id = $2 OR ($3 <> '' AND v.npi = $3)) \
         ORDER BY v.provider_id",
    )
    .bind(plan.0)
    .bind(requested.as_str())
    .bind(by_npi)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let org: String = r.try_get("org_name")?;
            let first: String = r.try_get("first_name")?;
            let last: String = r.try_get("last_name")?;
            Ok(RosterMatch {
                provider: ProviderRowId(r.try_get("id")?),
                provider_id: r.try_get("provider_id")?,
                npi: r.try_get("npi")?,
                name: if org.is_empty() { format!("{first} {last}").trim().to_owned() } else { org },
                practice: PracticeId(r.try_get("practice_id")?),
                tax_id: r.try_get("tax_id")?,
                practice_name: r.try_get("practice_name")?,
            })
        })
        .collect()
}
