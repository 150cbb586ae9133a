//! The bed board (migration 13): per institution and bed type, the counts and conditions, each
//! with the time it was last said. A save stamps only what changed, unless the staff confirm
//! that the counts still hold (「変更なし」), which stamps every count they sent.

use crate::connect::Store;
use crate::error::StoreError;
use crate::time_text;
use chrono::{DateTime, Utc};
use renkei_domain::accounts::UserId;
use renkei_domain::beds::{BedCount, BedType};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A stored count with its times.
#[derive(Debug, Clone, PartialEq)]
pub struct BedRow {
    /// The institution.
    pub institution_id: i64,
    /// The count.
    pub count: BedCount,
    /// When the physical beds were last said (UTC text).
    pub physical_at: Option<String>,
    /// When the beds available now were last said (UTC text).
    pub available_at: Option<String>,
    /// When the conditions were last said (UTC text).
    pub conditions_at: Option<String>,
}

fn count_of(r: &AnyRow) -> Result<BedRow, StoreError> {
    let bed_type: String = r.try_get("bed_type")?;
    let n = |name: &str| -> Result<Option<u32>, StoreError> {
        Ok(r.try_get::<Option<i64>, _>(name)?
            .map(|n| u32::try_from(n.max(0)).unwrap_or(u32::MAX)))
    };
    Ok(BedRow {
        institution_id: r.try_get("institution_id")?,
        count: BedCount {
            bed_type: BedType::from_code(&bed_type)
                .ok_or_else(|| StoreError::Invalid(format!("bed type {bed_type}")))?,
            physical: n("physical")?,
            available: n("available")?,
            conditions: r.try_get("conditions")?,
        },
        physical_at: r.try_get("physical_at")?,
        available_at: r.try_get("available_at")?,
        conditions_at: r.try_get("conditions_at")?,
    })
}

const SELECT: &str =
    "SELECT institution_id, bed_type, physical, physical_at, available, available_at,
        conditions, conditions_at FROM bed_counts";

impl Store {
    /// The counts of the institutions `ids`.
    pub async fn bed_counts(&self, ids: &[i64]) -> Result<Vec<BedRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "{SELECT} WHERE institution_id IN ({}) ORDER BY institution_id, bed_type",
            marks.join(", ")
        );
        let q = ids.iter().fold(sqlx::query(&sql), |q, id| q.bind(*id));
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(count_of).collect()
    }

    /// Saves an institution's counts. A count's time moves when its value changes, or for every
    /// count sent when `confirm` says they still hold.
    pub async fn save_bed_counts(
        &self,
        institution: i64,
        counts: &[BedCount],
        confirm: bool,
        by: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at = time_text(now);
        let mut tx = self.pool().begin().await?;
        // Write first, so two saves of one institution are serialised.
        sqlx::query("UPDATE bed_counts SET updated_by = updated_by WHERE institution_id = $1")
            .bind(institution)
            .execute(&mut *tx)
            .await?;
        let sql = format!("{SELECT} WHERE institution_id = $1");
        let before: Vec<BedRow> = sqlx::query(&sql)
            .bind(institution)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(count_of)
            .collect::<Result<_, _>>()?;
        for c in counts {
            let old = before.iter().find(|b| b.count.bed_type == c.bed_type);
            let stamp = |changed: bool, was: Option<&Option<String>>, present: bool| {
                if changed || (confirm && present) {
                    Some(at.clone())
                } else {
                    was.cloned().flatten()
                }
            };
            let physical_at = stamp(
                old.map(|o| o.count.physical) != Some(c.physical)
                    && (old.is_some() || c.physical.is_some()),
                old.map(|o| &o.physical_at),
                c.physical.is_some(),
            );
            let available_at = stamp(
                old.map(|o| o.count.available) != Some(c.available)
                    && (old.is_some() || c.available.is_some()),
                old.map(|o| &o.available_at),
                c.available.is_some(),
            );
            let conditions = c.conditions.trim();
            let conditions_at = stamp(
                old.map(|o| o.count.conditions.as_str()) != Some(conditions)
                    && (old.is_some() || !conditions.is_empty()),
                old.map(|o| &o.conditions_at),
                !conditions.is_empty(),
            );
            sqlx::query(
                "INSERT INTO bed_counts (institution_id, bed_type, physical, physical_at, available,
                     available_at, conditions, conditions_at, updated_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (institution_id, bed_type) DO UPDATE SET
                     physical = excluded.physical, physical_at = excluded.physical_at,
                     available = excluded.available, available_at = excluded.available_at,
                     conditions = excluded.conditions, conditions_at = excluded.conditions_at,
                     updated_by = excluded.updated_by",
            )
            .bind(institution)
            .bind(c.bed_type.code())
            .bind(c.physical.map(i64::from))
            .bind(physical_at)
            .bind(c.available.map(i64::from))
            .bind(available_at)
            .bind(conditions)
            .bind(conditions_at)
            .bind(by.map(|u| u.0))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
