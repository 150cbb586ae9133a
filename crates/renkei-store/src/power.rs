//! Emergency power units and their lending (migration 10). A decision on a lending request
//! first touches the unit's row, so two owners' staff agreeing to overlapping requests for the
//! same unit at the same instant are serialised on both engines and the second is refused.

use crate::connect::Store;
use crate::error::StoreError;
use crate::now_text;
use chrono::NaiveDate;
use renkei_domain::accounts::UserId;
use renkei_domain::power::{Candidate, Device, LendingStatus, Need, PowerUnit, UnitKind};
use renkei_domain::safety::FuelKind;
use renkei_domain::towns::distance_km;
use sqlx::any::AnyRow;
use sqlx::Row;

/// A registered unit.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitRow {
    /// Its id.
    pub id: i64,
    /// Its owner.
    pub institution_id: i64,
    /// The unit.
    pub unit: PowerUnit,
    /// Last saved (UTC text).
    pub updated_at: String,
    /// Whether an agreed lending has it out now.
    pub lent_out: bool,
}

/// A unit that could serve a request, with its owner as the requester sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    /// The unit, its distance and whether it is busy.
    pub candidate: Candidate,
    /// The owner's name.
    pub owner_name: String,
    /// The owner's phone.
    pub owner_phone: Option<String>,
    /// The owner's lending rules (運用ルール), if written.
    pub rules: Option<String>,
}

/// A lending request and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct LendingRow {
    /// Its id.
    pub id: i64,
    /// The unit.
    pub unit_id: i64,
    /// The unit's name and output.
    pub unit_label: String,
    /// The unit's output in W.
    pub unit_watts: u32,
    /// The owner.
    pub owner_id: i64,
    /// The owner's name.
    pub owner_name: String,
    /// The owner's area code.
    pub owner_area: String,
    /// The requester.
    pub requester_id: i64,
    /// The requester's name.
    pub requester_name: String,
    /// The requester's area code.
    pub requester_area: String,
    /// What is needed.
    pub need: Need,
    /// Who to call at the requester.
    pub contact: String,
    /// Anything else.
    pub note: String,
    /// Where it stands.
    pub status: LendingStatus,
    /// When it was asked (UTC text).
    pub requested_at: String,
    /// When it was decided (UTC text).
    pub decided_at: Option<String>,
    /// The owner's reason when declining.
    pub reason: Option<String>,
    /// When the unit came back (UTC text).
    pub returned_at: Option<String>,
}

const UNIT_COLUMNS: &str = "u.id, u.institution_id, u.kind, u.label, u.output_watts, u.capacity_wh, u.runtime_hours, u.fuel, u.lendable, u.note, u.updated_at";

fn unit_of(r: &AnyRow) -> Result<(i64, i64, PowerUnit, String), StoreError> {
    let kind: String = r.try_get("kind")?;
    let number = |name: &str| -> Result<Option<u32>, StoreError> {
        Ok(r.try_get::<Option<i64>, _>(name)?
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX)))
    };
    let fuel: Option<String> = r.try_get("fuel")?;
    Ok((
        r.try_get("id")?,
        r.try_get("institution_id")?,
        PowerUnit {
            kind: UnitKind::from_code(&kind)
                .ok_or_else(|| StoreError::Invalid(format!("power unit kind {kind}")))?,
            label: r.try_get("label")?,
            output_watts: number("output_watts")?.unwrap_or(0),
            capacity_wh: number("capacity_wh")?,
            runtime_hours: number("runtime_hours")?,
            fuel: fuel.as_deref().and_then(FuelKind::from_code),
            lendable: r.try_get::<i64, _>("lendable")? != 0,
            note: r.try_get("note")?,
        },
        r.try_get("updated_at")?,
    ))
}

fn day_of(text: &str) -> Result<NaiveDate, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Invalid(format!("date {text}")))
}

fn lending_of(r: &AnyRow) -> Result<LendingRow, StoreError> {
    let device: String = r.try_get("device")?;
    let status: String = r.try_get("status")?;
    let starts: String = r.try_get("starts_on")?;
    let ends: String = r.try_get("ends_on")?;
    Ok(LendingRow {
        id: r.try_get("id")?,
        unit_id: r.try_get("unit_id")?,
        unit_label: r.try_get("unit_label")?,
        unit_watts: u32::try_from(r.try_get::<i64, _>("output_watts")?).unwrap_or(u32::MAX),
        owner_id: r.try_get("owner_id")?,
        owner_name: r.try_get("owner_name")?,
        owner_area: r.try_get("owner_area")?,
        requester_id: r.try_get("requester_id")?,
        requester_name: r.try_get("requester_name")?,
        requester_area: r.try_get("requester_area")?,
        need: Need {
            device: Device::from_code(&device)
                .ok_or_else(|| StoreError::Invalid(format!("device {device}")))?,
            watts: u32::try_from(r.try_get::<i64, _>("needed_watts")?).unwrap_or(u32::MAX),
            starts_on: day_of(&starts)?,
            ends_on: day_of(&ends)?,
        },
        contact: r.try_get("contact")?,
        note: r.try_get("note")?,
        status: LendingStatus::from_code(&status)
            .ok_or_else(|| StoreError::Invalid(format!("lending status {status}")))?,
        requested_at: r.try_get("requested_at")?,
        decided_at: r.try_get("decided_at")?,
        reason: r.try_get("reason")?,
        returned_at: r.try_get("returned_at")?,
    })
}

const LENDING_SELECT: &str = "SELECT l.id, l.unit_id, u.label AS unit_label, u.output_watts, u.institution_id AS owner_id,
        o.name AS owner_name, oa.code AS owner_area, l.requester_id, r.name AS requester_name, ra.code AS requester_area,
        l.device, l.needed_watts, l.starts_on, l.ends_on, l.contact, l.note, l.status,
        l.requested_at, l.decided_at, l.reason, l.returned_at
     FROM power_lendings l
     JOIN power_units u ON u.id = l.unit_id
     JOIN institutions o ON o.id = u.institution_id
     JOIN areas oa ON oa.id = o.area_id
     JOIN institutions r ON r.id = l.requester_id
     JOIN areas ra ON ra.id = r.area_id";

/// Whether an agreed, not yet returned lending of the unit overlaps the days `$a`..`$b`.
const OVERLAP: &str =
    "EXISTS (SELECT 1 FROM power_lendings o WHERE o.unit_id = u.id AND o.status = 'agreed'
     AND o.starts_on <= $2 AND o.ends_on >= $1)";

fn bind_unit<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    unit: &'q PowerUnit,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(unit.kind.code())
        .bind(unit.label.trim())
        .bind(i64::from(unit.output_watts))
        .bind(unit.capacity_wh.map(i64::from))
        .bind(unit.runtime_hours.map(i64::from))
        .bind(unit.fuel.map(|f| f.code()))
        .bind(i64::from(unit.lendable))
        .bind(unit.note.trim())
}

impl Store {
    /// An institution's units in service, oldest first, each with whether it is lent out today.
    pub async fn power_units(
        &self,
        institution_id: i64,
        today: NaiveDate,
    ) -> Result<Vec<UnitRow>, StoreError> {
        let day = today.to_string();
        let sql = format!(
            "SELECT {UNIT_COLUMNS}, CASE WHEN {OVERLAP} THEN 1 ELSE 0 END AS lent_out
             FROM power_units u WHERE u.institution_id = $3 AND u.retired_at IS NULL ORDER BY u.id"
        );
        let rows = sqlx::query(&sql)
            .bind(&day)
            .bind(&day)
            .bind(institution_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let (id, institution_id, unit, updated_at) = unit_of(r)?;
                Ok(UnitRow {
                    id,
                    institution_id,
                    unit,
                    updated_at,
                    lent_out: r.try_get::<i64, _>("lent_out")? != 0,
                })
            })
            .collect()
    }

    /// Every unit in service of the institutions of `areas`, by area and owner, each with its
    /// owner's name and area code.
    pub async fn power_units_in(
        &self,
        areas: &[String],
        today: NaiveDate,
    ) -> Result<Vec<(UnitRow, String, String)>, StoreError> {
        let day = today.to_string();
        let sql = format!(
            "SELECT {UNIT_COLUMNS}, CASE WHEN {OVERLAP} THEN 1 ELSE 0 END AS lent_out,
                 i.name AS owner_name, a.code AS area_code
             FROM power_units u JOIN institutions i ON i.id = u.institution_id JOIN areas a ON a.id = i.area_id
             WHERE u.retired_at IS NULL ORDER BY a.sort_order, i.name_kana, u.id"
        );
        let rows = sqlx::query(&sql)
            .bind(&day)
            .bind(&day)
            .fetch_all(self.pool())
            .await?;
        let mut out = Vec::new();
        for r in &rows {
            let area: String = r.try_get("area_code")?;
            if !areas.contains(&area) {
                continue;
            }
            let (id, institution_id, unit, updated_at) = unit_of(r)?;
            out.push((
                UnitRow {
                    id,
                    institution_id,
                    unit,
                    updated_at,
                    lent_out: r.try_get::<i64, _>("lent_out")? != 0,
                },
                r.try_get("owner_name")?,
                area,
            ));
        }
        Ok(out)
    }

    /// Registers a unit; returns its id.
    pub async fn add_power_unit(
        &self,
        institution_id: i64,
        unit: &PowerUnit,
        by: Option<UserId>,
    ) -> Result<i64, StoreError> {
        let q = sqlx::query(
            "INSERT INTO power_units (kind, label, output_watts, capacity_wh, runtime_hours, fuel, lendable, note,
                 institution_id, updated_at, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        );
        let row = bind_unit(q, unit)
            .bind(institution_id)
            .bind(now_text())
            .bind(by.map(|u| u.0))
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("id")?)
    }

    /// Saves a unit of `institution_id`; false when it has no such unit in service.
    pub async fn update_power_unit(
        &self,
        institution_id: i64,
        unit_id: i64,
        unit: &PowerUnit,
        by: Option<UserId>,
    ) -> Result<bool, StoreError> {
        let q = sqlx::query(
            "UPDATE power_units SET kind = $1, label = $2, output_watts = $3, capacity_wh = $4, runtime_hours = $5,
                 fuel = $6, lendable = $7, note = $8, updated_at = $9, updated_by = $10
             WHERE id = $11 AND institution_id = $12 AND retired_at IS NULL",
        );
        let done = bind_unit(q, unit)
            .bind(now_text())
            .bind(by.map(|u| u.0))
            .bind(unit_id)
            .bind(institution_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes a unit out of service (kept for the lendings that name it). Refused while it is
    /// lent out; open requests for it are declined with a reason.
    pub async fn retire_power_unit(
        &self,
        institution_id: i64,
        unit_id: i64,
        by: Option<UserId>,
    ) -> Result<bool, StoreError> {
        let now = now_text();
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE power_units SET retired_at = $1, updated_at = $1, updated_by = $2
             WHERE id = $3 AND institution_id = $4 AND retired_at IS NULL",
        )
        .bind(&now)
        .bind(by.map(|u| u.0))
        .bind(unit_id)
        .bind(institution_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        let out: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM power_lendings WHERE unit_id = $1 AND status = 'agreed'",
        )
        .bind(unit_id)
        .fetch_one(&mut *tx)
        .await?;
        if out > 0 {
            return Err(StoreError::Conflict(
                "貸出中の機器は外せません。先に返却を記録してください".into(),
            ));
        }
        sqlx::query(
            "UPDATE power_lendings SET status = 'declined', decided_at = $1, decided_by = $2,
                 reason = '機器の登録が外されました' WHERE unit_id = $3 AND status = 'requested'",
        )
        .bind(&now)
        .bind(by.map(|u| u.0))
        .bind(unit_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// An institution's lending rules (運用ルール) and when they were saved.
    pub async fn power_rules(
        &self,
        institution_id: i64,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row =
            sqlx::query("SELECT rules, updated_at FROM power_rules WHERE institution_id = $1")
                .bind(institution_id)
                .fetch_optional(self.pool())
                .await?;
        row.map(|r| Ok((r.try_get("rules")?, r.try_get("updated_at")?)))
            .transpose()
    }

    /// Saves an institution's lending rules.
    pub async fn save_power_rules(
        &self,
        institution_id: i64,
        rules: &str,
        by: Option<UserId>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO power_rules (institution_id, rules, updated_at, updated_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT (institution_id) DO UPDATE SET rules = $2, updated_at = $3, updated_by = $4",
        )
        .bind(institution_id)
        .bind(rules.trim())
        .bind(now_text())
        .bind(by.map(|u| u.0))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every lendable unit in service of other institutions than `requester`, with its
    /// distance from the requester and whether an agreed lending overlaps `need`'s days; the
    /// caller ranks them with `power::suggest`.
    pub async fn power_offers(
        &self,
        requester: i64,
        need: &Need,
    ) -> Result<Vec<Offer>, StoreError> {
        let here: Option<(Option<f64>, Option<f64>)> =
            sqlx::query("SELECT lat, lng FROM institutions WHERE id = $1")
                .bind(requester)
                .fetch_optional(self.pool())
                .await?
                .map(|r| Ok::<_, sqlx::Error>((r.try_get("lat")?, r.try_get("lng")?)))
                .transpose()?;
        let sql = format!(
            "SELECT {UNIT_COLUMNS}, CASE WHEN {OVERLAP} THEN 1 ELSE 0 END AS busy,
                 i.name AS owner_name, i.phone AS owner_phone, i.lat, i.lng, pr.rules
             FROM power_units u
             JOIN institutions i ON i.id = u.institution_id
             LEFT JOIN power_rules pr ON pr.institution_id = u.institution_id
             WHERE u.lendable = 1 AND u.retired_at IS NULL AND u.institution_id <> $3
               AND u.output_watts >= $4
             ORDER BY u.id"
        );
        let rows = sqlx::query(&sql)
            .bind(need.starts_on.to_string())
            .bind(need.ends_on.to_string())
            .bind(requester)
            .bind(i64::from(need.watts))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let (unit_id, institution_id, unit, _) = unit_of(r)?;
                let there: (Option<f64>, Option<f64>) = (r.try_get("lat")?, r.try_get("lng")?);
                let distance = match (here, there) {
                    (Some((Some(a), Some(b))), (Some(c), Some(d))) => Some(distance_km(a, b, c, d)),
                    _ => None,
                };
                Ok(Offer {
                    candidate: Candidate {
                        unit_id,
                        unit,
                        institution_id,
                        distance_km: distance,
                        busy: r.try_get::<i64, _>("busy")? != 0,
                    },
                    owner_name: r.try_get("owner_name")?,
                    owner_phone: r.try_get("owner_phone")?,
                    rules: r.try_get("rules")?,
                })
            })
            .collect()
    }

    /// Asks to borrow a unit; returns the request's id. Refused (`Conflict`) when the unit is
    /// not lendable, retired, the requester's own, or too small for the need.
    pub async fn request_lending(
        &self,
        unit_id: i64,
        requester: i64,
        need: &Need,
        contact: &str,
        note: &str,
        by: Option<UserId>,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO power_lendings (unit_id, requester_id, device, needed_watts, starts_on, ends_on, contact, note,
                 status, requested_at, requested_by)
             SELECT id, $1, $2, $3, $4, $5, $6, $7, 'requested', $8, $9 FROM power_units
             WHERE id = $10 AND lendable = 1 AND retired_at IS NULL AND institution_id <> $11 AND output_watts >= $12
             RETURNING id",
        )
        .bind(requester)
        .bind(need.device.code())
        .bind(i64::from(need.watts))
        .bind(need.starts_on.to_string())
        .bind(need.ends_on.to_string())
        .bind(contact.trim())
        .bind(note.trim())
        .bind(now_text())
        .bind(by.map(|u| u.0))
        .bind(unit_id)
        .bind(requester)
        .bind(i64::from(need.watts))
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(r) => Ok(r.try_get("id")?),
            None => Err(StoreError::Conflict(
                "この機器には依頼できません（貸出の登録が外されたか、出力が足りません）。候補を選び直してください".into(),
            )),
        }
    }

    /// One lending request.
    pub async fn lending(&self, id: i64) -> Result<Option<LendingRow>, StoreError> {
        let sql = format!("{LENDING_SELECT} WHERE l.id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(lending_of).transpose()
    }

    /// The requests an institution received (for its units) and sent, newest first.
    pub async fn lendings_of(
        &self,
        institution_id: i64,
    ) -> Result<(Vec<LendingRow>, Vec<LendingRow>), StoreError> {
        let received =
            format!("{LENDING_SELECT} WHERE u.institution_id = $1 ORDER BY l.id DESC LIMIT 200");
        let sent =
            format!("{LENDING_SELECT} WHERE l.requester_id = $1 ORDER BY l.id DESC LIMIT 200");
        let received = sqlx::query(&received)
            .bind(institution_id)
            .fetch_all(self.pool())
            .await?;
        let sent = sqlx::query(&sent)
            .bind(institution_id)
            .fetch_all(self.pool())
            .await?;
        Ok((
            received.iter().map(lending_of).collect::<Result<_, _>>()?,
            sent.iter().map(lending_of).collect::<Result<_, _>>()?,
        ))
    }

    /// The requests touching the given areas (as owner or requester), newest first; `None`
    /// for every area.
    pub async fn lendings_in(
        &self,
        areas: Option<&[String]>,
    ) -> Result<Vec<LendingRow>, StoreError> {
        let sql = format!("{LENDING_SELECT} ORDER BY l.id DESC LIMIT 2000");
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        let mut out = Vec::new();
        for r in &rows {
            let row = lending_of(r)?;
            let keep = areas
                .is_none_or(|a| a.contains(&row.owner_area) || a.contains(&row.requester_area));
            if keep {
                out.push(row);
            }
        }
        Ok(out)
    }

    /// The owner agrees to or declines a request. `Conflict` when it was already decided or
    /// withdrawn, or (agreeing) when an agreed lending of the same unit overlaps its days.
    pub async fn decide_lending(
        &self,
        id: i64,
        owner: i64,
        agree: bool,
        reason: &str,
        by: Option<UserId>,
    ) -> Result<(), StoreError> {
        let now = now_text();
        let mut tx = self.pool().begin().await?;
        // Write first: the unit's row serialises decisions on the same unit.
        let locked = sqlx::query(
            "UPDATE power_units SET updated_at = updated_at
             WHERE institution_id = $1 AND id = (SELECT unit_id FROM power_lendings WHERE id = $2)",
        )
        .bind(owner)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if locked.rows_affected() != 1 {
            return Err(StoreError::NotFound("lending".into()));
        }
        if agree {
            let clash: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM power_lendings l JOIN power_lendings o ON o.unit_id = l.unit_id
                 WHERE l.id = $1 AND o.id <> l.id AND o.status = 'agreed'
                   AND o.starts_on <= l.ends_on AND o.ends_on >= l.starts_on",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            if clash > 0 {
                return Err(StoreError::Conflict(
                    "この機器は同じ期間に別の医療機関等へ貸出が決まっています。お断りするか、返却を記録してから決めてください"
                        .into(),
                ));
            }
        }
        let status = if agree {
            LendingStatus::Agreed
        } else {
            LendingStatus::Declined
        };
        let done = sqlx::query(
            "UPDATE power_lendings SET status = $1, decided_at = $2, decided_by = $3, reason = $4
             WHERE id = $5 AND status = 'requested'",
        )
        .bind(status.code())
        .bind(&now)
        .bind(by.map(|u| u.0))
        .bind(Some(reason.trim()).filter(|r| !r.is_empty()))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(
                "この依頼はすでに決定済みか、取り下げられています".into(),
            ));
        }
        tx.commit().await?;
        Ok(())
    }

    /// The requester withdraws a request not yet decided.
    pub async fn withdraw_lending(
        &self,
        id: i64,
        requester: i64,
        by: Option<UserId>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE power_lendings SET status = 'withdrawn', decided_at = $1, decided_by = $2
             WHERE id = $3 AND requester_id = $4 AND status = 'requested'",
        )
        .bind(now_text())
        .bind(by.map(|u| u.0))
        .bind(id)
        .bind(requester)
        .execute(self.pool())
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(
                "この依頼はすでに決定済みのため取り下げられません。貸出元に電話で連絡してください"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The owner records that a lent unit came back.
    pub async fn return_lending(
        &self,
        id: i64,
        owner: i64,
        by: Option<UserId>,
    ) -> Result<(), StoreError> {
        let now = now_text();
        let done = sqlx::query(
            "UPDATE power_lendings SET status = 'returned', returned_at = $1, decided_by = $2
             WHERE id = $3 AND status = 'agreed'
               AND unit_id IN (SELECT id FROM power_units WHERE institution_id = $4)",
        )
        .bind(&now)
        .bind(by.map(|u| u.0))
        .bind(id)
        .bind(owner)
        .execute(self.pool())
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(
                "貸出中の依頼ではないため、返却を記録できません".into(),
            ));
        }
        Ok(())
    }
}
