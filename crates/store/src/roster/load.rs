//! A plan's whole roster in memory, for an import to compare with.
//!
//! sqlx's SQLite driver hands each result row from its worker thread to the caller through a
//! bounded channel, so 100,000 rows cost 100,000 thread hand-offs: 0.9 to 2.2 s from run to run
//! on a two-core machine. The roster is therefore fetched packed, about a thousand records per
//! result row, with `string_agg` (PostgreSQL, and SQLite since 3.44; the same SQL on both).
//! Fields are joined by U+001F and records by U+001E, control characters that no validated
//! roster value holds. Should a stored value hold one anyway, the packed form does not parse
//! and the plain one-row-per-record query is used instead.

use super::bulk::{PracticeRecord, PracticeValues, ProviderRecord, ProviderValues};
use crate::{Conn, StoreError};
use gatehouse_domain::PlanId;
use sqlx::Row;
use sqlx::any::AnyRow;

/// Field separator of packed records.
const FS: char = '\u{1f}';
/// Record separator of packed records.
const RS: char = '\u{1e}';

/// `string_agg` of the records of `table` selected by `plan_id = $1`, about 1,000 ids to a
/// result row; `fields` are SQL text expressions.
fn packed_sql(table: &str, fields: &[&str]) -> String {
    let record = fields.join(&format!(" || '{FS}' || "));
    format!("SELECT string_agg({record}, '{RS}') FROM {table} WHERE plan_id = $1 GROUP BY id / 1000")
}

const PRACTICE_FIELDS: [&str; 9] =
    ["CAST(id AS TEXT)", "tax_id", "name", "address1", "address2", "city", "state", "zip", "phone"];

const PROVIDER_FIELDS: [&str; 18] = [
    "CAST(id AS TEXT)",
    "CAST(practice_id AS TEXT)",
    "provider_id",
    "npi",
    "kind",
    "first_name",
    "last_name",
    "org_name",
    "address1",
    "address2",
    "city",
    "state",
    "zip",
    "phone",
    "COALESCE(vendor_id, '')",
    "COALESCE(office_id, '')",
    "COALESCE(group_provider_id, '')",
    "COALESCE(CAST(end_dated_at AS TEXT), '')",
];

/// The fields of one packed record, in order.
struct Fields<'a>(std::str::Split<'a, char>);

impl<'a> Fields<'a> {
    fn text(&mut self) -> Option<String> {
        self.0.next().map(str::to_owned)
    }
    fn optional(&mut self) -> Option<Option<String>> {
        self.0.next().map(|s| Some(s.to_owned()).filter(|s| !s.is_empty()))
    }
    fn int(&mut self) -> Option<i64> {
        self.0.next()?.parse().ok()
    }
    fn optional_int(&mut self) -> Option<Option<i64>> {
        match self.0.next()? {
            "" => Some(None),
            s => s.parse().ok().map(Some),
        }
    }
    /// `Some(())` when every field was read.
    fn end(mut self) -> Option<()> {
        self.0.next().is_none().then_some(())
    }
}

fn unpack_practice(record: &str) -> Option<PracticeRecord> {
    let mut f = Fields(record.split(FS));
    let p = PracticeRecord {
        id: f.int()?,
        tax_id: f.text()?,
        values: PracticeValues {
            name: f.text()?,
            address1: f.text()?,
            address2: f.text()?,
            city: f.text()?,
            state: f.text()?,
            zip: f.text()?,
            phone: f.text()?,
        },
    };
    f.end().map(|()| p)
}

fn unpack_provider(record: &str) -> Option<ProviderRecord> {
    let mut f = Fields(record.split(FS));
    let p = ProviderRecord {
        id: f.int()?,
        practice_id: f.int()?,
        values: ProviderValues {
            provider_id: f.text()?,
            npi: f.text()?,
            kind: f.text()?,
            first_name: f.text()?,
            last_name: f.text()?,
            org_name: f.text()?,
            address1: f.text()?,
            address2: f.text()?,
            city: f.text()?,
            state: f.text()?,
            zip: f.text()?,
            phone: f.text()?,
            vendor_id: f.optional()?,
            office_id: f.optional()?,
            group_provider_id: f.optional()?,
        },
        end_dated_at: f.optional_int()?,
    };
    f.end().map(|()| p)
}

/// The packed rows of `sql`, unpacked; `None` when a record does not parse.
async fn packed<T>(
    conn: &mut Conn,
    plan: PlanId,
    sql: &str,
    unpack: fn(&str) -> Option<T>,
) -> Result<Option<Vec<T>>, StoreError> {
    let rows: Vec<Option<String>> = sqlx::query_scalar(sql).bind(plan.0).fetch_all(&mut *conn).await?;
    let mut out = Vec::new();
    for packed in rows.iter().flatten() {
        for record in packed.split(RS) {
            match unpack(record) {
                Some(r) => out.push(r),
                None => return Ok(None),
            }
        }
    }
    Ok(Some(out))
}

fn practice(r: &AnyRow) -> Result<PracticeRecord, StoreError> {
    Ok(PracticeRecord {
        id: r.try_get(0)?,
        tax_id: r.try_get(1)?,
        values: PracticeValues {
            name: r.try_get(2)?,
            address1: r.try_get(3)?,
            address2: r.try_get(4)?,
            city: r.try_get(5)?,
            state: r.try_get(6)?,
            zip: r.try_get(7)?,
            phone: r.try_get(8)?,
        },
    })
}

/// Every practice of a plan.
pub async fn practices(conn: &mut Conn, plan: PlanId) -> Result<Vec<PracticeRecord>, StoreError> {
    if let Some(v) = packed(conn, plan, &packed_sql("practices", &PRACTICE_FIELDS), unpack_practice).await? {
        return Ok(v);
    }
    tracing::warn!(plan = plan.0, "a practice holds a control character: loading the roster row by row");
    let rows = sqlx::query(&format!("SELECT {} FROM practices WHERE plan_id = $1", plain(&PRACTICE_FIELDS)))
        .bind(plan.0)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(practice).collect()
}

fn provider(r: &AnyRow) -> Result<ProviderRecord, StoreError> {
    Ok(ProviderRecord {
        id: r.try_get(0)?,
        practice_id: r.try_get(1)?,
        values: ProviderValues {
            provider_id: r.try_get(2)?,
            npi: r.try_get(3)?,
            kind: r.try_get(4)?,
            first_name: r.try_get(5)?,
            last_name: r.try_get(6)?,
            org_name: r.try_get(7)?,
            address1: r.try_get(8)?,
            address2: r.try_get(9)?,
            city: r.try_get(10)?,
            state: r.try_get(11)?,
            zip: r.try_get(12)?,
            phone: r.try_get(13)?,
            vendor_id: r.try_get(14)?,
            office_id: r.try_get(15)?,
            group_provider_id: r.try_get(16)?,
        },
        end_dated_at: r.try_get(17)?,
    })
}

/// Every provider of a plan, end-dated ones included.
pub async fn providers(conn: &mut Conn, plan: PlanId) -> Result<Vec<ProviderRecord>, StoreError> {
    if let Some(v) = packed(conn, plan, &packed_sql("providers", &PROVIDER_FIELDS), unpack_provider).await? {
        return Ok(v);
    }
    tracing::warn!(plan = plan.0, "a provider holds a control character: loading the roster row by row");
    let rows = sqlx::query(&format!("SELECT {} FROM providers WHERE plan_id = $1", plain(&PROVIDER_FIELDS)))
        .bind(plan.0)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(provider).collect()
}

/// The packed field list as plain columns (casts and `COALESCE`s removed).
fn plain(fields: &[&str]) -> String {
    fields
        .iter()
        .map(|f| {
            let inner = f.strip_prefix("COALESCE(").map_or(*f, |s| s.split(',').next().unwrap_or(s));
            let inner = inner.strip_prefix("CAST(").map_or(inner, |s| s.split(' ').next().unwrap_or(s));
            inner.to_owned()
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_columns_of_packed_fields() {
        assert_eq!(plain(&PROVIDER_FIELDS[..3]), "id, practice_id, provider_id");
        assert_eq!(plain(&PROVIDER_FIELDS[14..]), "vendor_id, office_id, group_provider_id, end_dated_at");
    }

    #[test]
    fn records_unpack_and_bad_ones_do_not() {
        let f = |v: &[&str]| v.join(&FS.to_string());
        let rec = f(&[
            "7",
            "3",
            "P1",
            "1234567893",
            "practitioner",
            "Ana",
            "Ruiz",
            "",
            "1 Main St",
            "",
            "Seattle",
            "WA",
            "98101",
            "",
            "V1",
            "",
            "G1",
            "",
        ]);
        let p = unpack_provider(&rec).unwrap();
        assert_eq!((p.id, p.practice_id, p.values.vendor_id.as_deref(), p.values.office_id), (7, 3, Some("V1"), None));
        assert_eq!((p.values.group_provider_id.as_deref(), p.end_dated_at), (Some("G1"), None));
        assert_eq!(unpack_provider(&format!("{rec}{FS}extra")), None);
        assert_eq!(unpack_provider(&rec.replacen("7", "x", 1)), None);
        let ended = format!("{rec}1800000000");
        assert_eq!(unpack_provider(&ended).unwrap().end_dated_at, Some(1_800_000_000));
        let practice = f(&["1", "825671892", "Lakeside", "1 Main St", "", "Seattle", "WA", "98101", "206-555-0100"]);
        assert_eq!(unpack_practice(&practice).unwrap().values.phone, "206-555-0100");
        assert_eq!(
            packed_sql("t", &["a", "b"]),
            format!("SELECT string_agg(a || '{FS}' || b, '{RS}') FROM t WHERE plan_id = $1 GROUP BY id / 1000")
        );
    }
}
