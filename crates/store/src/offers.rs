//! Affiliation offers: a practice offered to an existing account by one of its administrators,
//! or its administration offered by an approved registration that named the account, waiting
//! for the person to accept or decline. Nothing is attached before acceptance.

use crate::{Conn, StoreError};
use gatehouse_domain::ids::OfferId;
use gatehouse_domain::{PlanId, UserId};
use sqlx::Row;

/// Where an offer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferStatus {
    Pending,
    Accepted,
    Declined,
    /// Withdrawn by the administrator, or void (the administrator no longer administers the
    /// practice, the user type or providers are gone, or the person became plan staff).
    Cancelled,
    Expired,
}

impl OfferStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }

    /// The status of a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Accepted, Self::Declined, Self::Cancelled, Self::Expired]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// An offer to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOffer<'a> {
    pub plan_id: PlanId,
    pub user_id: UserId,
    pub practice_id: i64,
    /// The user type's key, e.g. `billing_staff`.
    pub user_type: &'a str,
    pub all_providers: bool,
    pub offered_by: UserId,
    /// The approved registration that named the person an administrator, for an offer of the
    /// practice's administration; `None` for an administrator's offer.
    pub registration_id: Option<i64>,
    /// The address the offer is emailed to: the account's address now. The offer is void if
    /// the account's address changes before the person answers.
    pub sent_to: &'a str,
}

/// An offer with the names people see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferRow {
    pub id: OfferId,
    pub user_id: UserId,
    /// The person offered: names, and the address the offer went to (the account's address for
    /// an offer made before that was kept).
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// The address the offer was emailed to; `None` for an offer made before it was kept.
    pub sent_to: Option<String>,
    pub practice_id: i64,
    pub tax_id: String,
    pub practice_name: String,
    pub user_type: String,
    pub all_providers: bool,
    pub offered_by: UserId,
    /// "First Last" of the administrator who made the offer (of the staff member who approved
    /// the registration, for a registration's offer).
    pub offered_by_name: String,
    /// The approved registration behind an offer of the practice's administration.
    pub registration_id: Option<i64>,
    pub status: OfferStatus,
    pub created_at: i64,
    pub expires_at: i64,
    pub decided_at: Option<i64>,
}

const SELECT: &str = "SELECT o.id, o.user_id, u.first_name, u.last_name, COALESCE(o.sent_to, u.email) AS email, \
     o.sent_to, o.practice_id, p.tax_id, \
     p.name AS practice_name, o.user_type, o.all_providers, o.offered_by, b.first_name AS by_first, \
     b.last_name AS by_last, o.status, o.created_at, o.expires_at, o.decided_at, o.registration_id \
     FROM affiliation_offers o JOIN users u ON u.id = o.user_id JOIN practices p ON p.id = o.practice_id \
     JOIN users b ON b.id = o.offered_by";

fn from_row(r: &sqlx::any::AnyRow) -> Result<OfferRow, StoreError> {
    let status: String = r.try_get("status")?;
    let by_first: String = r.try_get("by_first")?;
    let by_last: String = r.try_get("by_last")?;
    Ok(OfferRow {
        id: OfferId(r.try_get("id")?),
        user_id: UserId(r.try_get("user_id")?),
        first_name: r.try_get("first_name")?,
        last_name: r.try_get("last_name")?,
        email: r.try_get("email")?,
        sent_to: r.try_get("sent_to")?,
        practice_id: r.try_get("practice_id")?,
        tax_id: r.try_get("tax_id")?,
        practice_name: r.try_get("practice_name")?,
        user_type: r.try_get("user_type")?,
        all_providers: r.try_get::<i64, _>("all_providers")? != 0,
        offered_by: UserId(r.try_get("offered_by")?),
        offered_by_name: format!("{by_first} {by_last}").trim().to_owned(),
        registration_id: r.try_get("registration_id")?,
        status: OfferStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("offer status {status:?}")))?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        decided_at: r.try_get("decided_at")?,
    })
}

/// Marks the user's pending offers of the practice that expired by `now` as expired, so a new
/// one can be made. Returns how many.
pub async fn expire_stale(conn: &mut Conn, user: UserId, practice_id: i64, now: i64) -> Result<u64, StoreError> {
    let r = sqlx::query(
        "UPDATE affiliation_offers SET status = 'expired', decided_at = $3 \
         WHERE user_id = $1 AND practice_id = $2 AND status = 'pending' AND expires_at <= $3",
    )
    .bind(user.0)
    .bind(practice_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected())
}

/// Withdraws the user's pending offer of the practice, if any (a newer offer replaces it).
/// Returns how many.
pub async fn cancel_pending(conn: &mut Conn, user: UserId, practice_id: i64, now: i64) -> Result<u64, StoreError> {
    let r = sqlx::query(
        "UPDATE affiliation_offers SET status = 'cancelled', decided_at = $3 \
         WHERE user_id = $1 AND practice_id = $2 AND status = 'pending'",
    )
    .bind(user.0)
    .bind(practice_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected())
}

/// The person proved a new address of their own: their pending offers sent to the old one
/// follow them (an offer is void only when someone else changes the address). Returns how many.
pub async fn follow_new_address(conn: &mut Conn, user: UserId, old_lower: &str, new: &str) -> Result<u64, StoreError> {
    let r = sqlx::query(
        "UPDATE affiliation_offers SET sent_to = $3 WHERE user_id = $1 AND status = 'pending' AND LOWER(sent_to) = $2",
    )
    .bind(user.0)
    .bind(old_lower)
    .bind(new)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected())
}

/// Stores a pending offer with its providers (when not all); `None` if the user already has a
/// pending offer of the practice.
pub async fn insert(
    conn: &mut Conn,
    o: &NewOffer<'_>,
    providers: &[i64],
    now: i64,
    expires_at: i64,
) -> Result<Option<OfferId>, StoreError> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO affiliation_offers (plan_id, user_id, practice_id, user_type, all_providers, offered_by, \
         status, created_at, expires_at, registration_id, sent_to) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, $10) \
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(o.plan_id.0)
    .bind(o.user_id.0)
    .bind(o.practice_id)
    .bind(o.user_type)
    .bind(i64::from(o.all_providers))
    .bind(o.offered_by.0)
    .bind(now)
    .bind(expires_at)
    .bind(o.registration_id)
    .bind(o.sent_to)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = id else { return Ok(None) };
    if !o.all_providers {
        for p in providers {
            sqlx::query(
                "INSERT INTO affiliation_offer_providers (offer_id, provider_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(*p)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(Some(OfferId(id)))
}

/// The provider row ids of a "chosen providers" offer.
pub async fn providers_of(conn: &mut Conn, id: OfferId) -> Result<Vec<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT provider_id FROM affiliation_offer_providers WHERE offer_id = $1 ORDER BY provider_id",
    )
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?)
}

/// The providers of a "chosen providers" offer as people see them: "Name (provider ID)".
pub async fn provider_labels(conn: &mut Conn, id: OfferId) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "SELECT v.provider_id, v.first_name, v.last_name, v.org_name FROM affiliation_offer_providers s \
         JOIN providers v ON v.id = s.provider_id WHERE s.offer_id = $1 ORDER BY v.provider_id",
    )
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let org: Option<String> = r.try_get("org_name")?;
            let name = match org.filter(|o| !o.is_empty()) {
                Some(o) => o,
                None => format!(
                    "{} {}",
                    r.try_get::<Option<String>, _>("first_name")?.unwrap_or_default(),
                    r.try_get::<Option<String>, _>("last_name")?.unwrap_or_default()
                )
                .trim()
                .to_owned(),
            };
            Ok(format!("{name} ({})", r.try_get::<String, _>("provider_id")?))
        })
        .collect()
}

/// The offer `id` of the plan.
pub async fn get(conn: &mut Conn, plan: PlanId, id: OfferId) -> Result<Option<OfferRow>, StoreError> {
    let row = sqlx::query(&format!("{SELECT} WHERE o.plan_id = $1 AND o.id = $2"))
        .bind(plan.0)
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The user's pending offers not expired at `now`, oldest first.
pub async fn open_for_user(conn: &mut Conn, plan: PlanId, user: UserId, now: i64) -> Result<Vec<OfferRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE o.plan_id = $1 AND o.user_id = $2 AND o.status = 'pending' AND o.expires_at > $3 \
         ORDER BY o.created_at, o.id"
    ))
    .bind(plan.0)
    .bind(user.0)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// The offers `admin` made at or after `since`, newest first.
pub async fn made_by(conn: &mut Conn, plan: PlanId, admin: UserId, since: i64) -> Result<Vec<OfferRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE o.plan_id = $1 AND o.offered_by = $2 AND o.created_at >= $3 ORDER BY o.created_at DESC, o.id DESC"
    ))
    .bind(plan.0)
    .bind(admin.0)
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Ends a pending offer with `status`; false (changing nothing) if it was no longer pending.
/// Exactly one of any number of concurrent callers gets `true`.
pub async fn decide(
    conn: &mut Conn,
    id: OfferId,
    status: OfferStatus,
    by: Option<UserId>,
    affiliation: Option<i64>,
    now: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE affiliation_offers SET status = $1, decided_by = $2, decided_at = $3, affiliation_id = $4 \
         WHERE id = $5 AND status = 'pending'",
    )
    .bind(status.as_str())
    .bind(by.map(|u| u.0))
    .bind(now)
    .bind(affiliation)
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for s in [
            OfferStatus::Pending,
            OfferStatus::Accepted,
            OfferStatus::Declined,
            OfferStatus::Cancelled,
            OfferStatus::Expired,
        ] {
            assert_eq!(OfferStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(OfferStatus::parse("approved"), None);
    }
}
