//! Absences and backup coverage (migration 14). An absence is written first and then checked
//! against the same doctor's other absences in the same transaction, so two overlapping
//! absences saved at once cannot both stay.

use crate::connect::Store;
use crate::error::StoreError;
use crate::time_text;
use chrono::{DateTime, NaiveDate, Utc};
use renkei_domain::accounts::UserId;
use renkei_domain::backup::{doctor_key, Absence, CoverageStatus};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A request for coverage and its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageRow {
    /// Its id.
    pub id: i64,
    /// The absence.
    pub absence_id: i64,
    /// The institution asked to cover.
    pub backup_id: i64,
    /// Its name.
    pub backup_name: String,
    /// Its phone.
    pub backup_phone: Option<String>,
    /// Where it stands.
    pub status: CoverageStatus,
    /// Why it was declined.
    pub reason: Option<String>,
    /// When it was asked (UTC text).
    pub requested_at: String,
    /// When it was answered (UTC text).
    pub decided_at: Option<String>,
}

/// A recorded absence with its coverage.
#[derive(Debug, Clone, PartialEq)]
pub struct AbsenceRow {
    /// Its id.
    pub id: i64,
    /// The institution the doctor works at.
    pub institution_id: i64,
    /// Its name.
    pub institution_name: String,
    /// Its phone.
    pub institution_phone: Option<String>,
    /// Its area code.
    pub area_code: String,
    /// The absence.
    pub absence: Absence,
    /// When it was recorded (UTC text).
    pub created_at: String,
    /// When it was cancelled (UTC text).
    pub cancelled_at: Option<String>,
    /// Who was asked to cover, and what they said.
    pub coverages: Vec<CoverageRow>,
}

fn day(text: &str) -> Result<NaiveDate, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Invalid(format!("date {text}")))
}

const ABSENCE_SELECT: &str = "SELECT a.id, a.institution_id, i.name AS institution_name,
        i.phone AS institution_phone, ar.code AS area_code, a.doctor, a.starts_on, a.ends_on, a.note,
        a.created_at, a.cancelled_at
     FROM absences a JOIN institutions i ON i.id = a.institution_id JOIN areas ar ON ar.id = i.area_id";

const COVERAGE_SELECT: &str = "SELECT c.id, c.absence_id, c.backup_id, i.name AS backup_name,
        i.phone AS backup_phone, c.status, c.reason, c.requested_at, c.decided_at
     FROM coverages c JOIN institutions i ON i.id = c.backup_id";

fn absence_of(r: &AnyRow) -> Result<AbsenceRow, StoreError> {
    Ok(AbsenceRow {
        id: r.try_get("id")?,
        institution_id: r.try_get("institution_id")?,
        institution_name: r.try_get("institution_name")?,
        institution_phone: r.try_get("institution_phone")?,
        area_code: r.try_get("area_code")?,
        absence: Absence {
            doctor: r.try_get("doctor")?,
            starts_on: day(&r.try_get::<String, _>("starts_on")?)?,
            ends_on: day(&r.try_get::<String, _>("ends_on")?)?,
            note: r.try_get("note")?,
        },
        created_at: r.try_get("created_at")?,
        cancelled_at: r.try_get("cancelled_at")?,
        coverages: Vec::new(),
    })
}

fn coverage_of(r: &AnyRow) -> Result<CoverageRow, StoreError> {
    let status: String = r.try_get("status")?;
    Ok(CoverageRow {
        id: r.try_get("id")?,
        absence_id: r.try_get("absence_id")?,
        backup_id: r.try_get("backup_id")?,
        backup_name: r.try_get("backup_name")?,
        backup_phone: r.try_get("backup_phone")?,
        status: CoverageStatus::from_code(&status)
            .ok_or_else(|| StoreError::Invalid(format!("coverage status {status}")))?,
        reason: r.try_get("reason")?,
        requested_at: r.try_get("requested_at")?,
        decided_at: r.try_get("decided_at")?,
    })
}

impl Store {
    /// Records an absence and asks `backups` to cover it; returns its id. The same doctor
    /// away over any of the same days (not cancelled) is a `Conflict` naming those days.
    pub async fn add_absence(
        &self,
        institution: i64,
        absence: &Absence,
        backups: &[i64],
        by: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let at = time_text(now);
        let key = doctor_key(&absence.doctor);
        let mut tx = self.pool().begin().await?;
        // Write first, on the institution's row: absences of one institution are recorded one
        // at a time on both engines, so the overlap check below sees the other.
        sqlx::query("UPDATE institutions SET updated_at = updated_at WHERE id = $1")
            .bind(institution)
            .execute(&mut *tx)
            .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO absences (institution_id, doctor, doctor_key, starts_on, ends_on, note,
                 created_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(institution)
        .bind(absence.doctor.trim())
        .bind(&key)
        .bind(absence.starts_on.to_string())
        .bind(absence.ends_on.to_string())
        .bind(absence.note.trim())
        .bind(&at)
        .bind(by.map(|u| u.0))
        .fetch_one(&mut *tx)
        .await?;
        let clash = sqlx::query(
            "SELECT starts_on, ends_on FROM absences
             WHERE institution_id = $1 AND doctor_key = $2 AND id <> $3 AND cancelled_at IS NULL
               AND starts_on <= $4 AND ends_on >= $5
             ORDER BY starts_on LIMIT 1",
        )
        .bind(institution)
        .bind(&key)
        .bind(id)
        .bind(absence.ends_on.to_string())
        .bind(absence.starts_on.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(c) = clash {
            let (from, until): (String, String) = (c.try_get("starts_on")?, c.try_get("ends_on")?);
            return Err(StoreError::Conflict(format!(
                "{}は{from}〜{until}にも不在の登録があり、日が重なっています。その登録を取り消すか、日を分けてください",
                absence.doctor.trim()
            )));
        }
        for b in backups {
            if *b == institution {
                continue;
            }
            sqlx::query(
                "INSERT INTO coverages (absence_id, backup_id, status, requested_at, requested_by)
                 VALUES ($1, $2, 'requested', $3, $4)",
            )
            .bind(id)
            .bind(*b)
            .bind(&at)
            .bind(by.map(|u| u.0))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    async fn with_coverages(
        &self,
        mut rows: Vec<AbsenceRow>,
    ) -> Result<Vec<AbsenceRow>, StoreError> {
        if rows.is_empty() {
            return Ok(rows);
        }
        let marks: Vec<String> = (1..=rows.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "{COVERAGE_SELECT} WHERE c.absence_id IN ({}) ORDER BY c.id",
            marks.join(", ")
        );
        let q = rows.iter().fold(sqlx::query(&sql), |q, a| q.bind(a.id));
        let coverages: Vec<CoverageRow> = q
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(coverage_of)
            .collect::<Result<_, _>>()?;
        for a in &mut rows {
            a.coverages = coverages
                .iter()
                .filter(|c| c.absence_id == a.id)
                .cloned()
                .collect();
        }
        Ok(rows)
    }

    /// An absence with its coverage.
    pub async fn absence(&self, id: i64) -> Result<Option<AbsenceRow>, StoreError> {
        let sql = format!("{ABSENCE_SELECT} WHERE a.id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        let rows: Vec<AbsenceRow> = row
            .as_ref()
            .map(absence_of)
            .transpose()?
            .into_iter()
            .collect();
        Ok(self.with_coverages(rows).await?.into_iter().next())
    }

    /// The absences matching `condition` (on `$1`), newest first (at most `limit`), with their
    /// coverage.
    async fn absences_listed(
        &self,
        condition: &str,
        id: i64,
        limit: i64,
    ) -> Result<Vec<AbsenceRow>, StoreError> {
        let sql = format!(
            "{ABSENCE_SELECT} WHERE {condition} ORDER BY a.starts_on DESC, a.id DESC LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(id)
            .bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(absence_of)
            .collect::<Result<_, _>>()?;
        self.with_coverages(rows).await
    }

    /// An institution's absences, newest first (at most `limit`), with their coverage.
    pub async fn absences_of(
        &self,
        institution: i64,
        limit: i64,
    ) -> Result<Vec<AbsenceRow>, StoreError> {
        self.absences_listed("a.institution_id = $1", institution, limit)
            .await
    }

    /// The absences others asked `backup` to cover, newest first (at most `limit`).
    pub async fn absences_covered_by(
        &self,
        backup: i64,
        limit: i64,
    ) -> Result<Vec<AbsenceRow>, StoreError> {
        self.absences_listed(
            "a.id IN (SELECT absence_id FROM coverages WHERE backup_id = $1)",
            backup,
            limit,
        )
        .await
    }

    /// The absences (not cancelled) of `institutions` that share a day with `from..=until`.
    pub async fn absences_during(
        &self,
        institutions: &[i64],
        from: NaiveDate,
        until: NaiveDate,
    ) -> Result<Vec<AbsenceRow>, StoreError> {
        if institutions.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (3..institutions.len() + 3)
            .map(|n| format!("${n}"))
            .collect();
        let sql = format!(
            "{ABSENCE_SELECT} WHERE a.starts_on <= $1 AND a.ends_on >= $2 AND a.cancelled_at IS NULL
               AND a.institution_id IN ({}) ORDER BY a.starts_on",
            marks.join(", ")
        );
        let q = sqlx::query(&sql)
            .bind(until.to_string())
            .bind(from.to_string());
        let q = institutions.iter().fold(q, |q, i| q.bind(*i));
        let rows = q
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(absence_of)
            .collect::<Result<_, _>>()?;
        self.with_coverages(rows).await
    }

    /// The absences (not cancelled) of institutions of `areas` not over by `today`.
    pub async fn absences_in(
        &self,
        areas: &[String],
        today: NaiveDate,
    ) -> Result<Vec<AbsenceRow>, StoreError> {
        if areas.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (2..areas.len() + 2).map(|n| format!("${n}")).collect();
        let sql = format!(
            "{ABSENCE_SELECT} WHERE a.ends_on >= $1 AND a.cancelled_at IS NULL AND ar.code IN ({})
             ORDER BY a.starts_on, a.id",
            marks.join(", ")
        );
        let q = sqlx::query(&sql).bind(today.to_string());
        let q = areas.iter().fold(q, |q, a| q.bind(a.as_str()));
        let rows = q
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(absence_of)
            .collect::<Result<_, _>>()?;
        self.with_coverages(rows).await
    }

    /// Cancels an absence of `institution` and withdraws its open requests for coverage.
    pub async fn cancel_absence(
        &self,
        id: i64,
        institution: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let at = time_text(now);
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE absences SET cancelled_at = $1
             WHERE id = $2 AND institution_id = $3 AND cancelled_at IS NULL",
        )
        .bind(&at)
        .bind(id)
        .bind(institution)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE coverages SET status = 'withdrawn', decided_at = $1
             WHERE absence_id = $2 AND status IN ('requested', 'accepted')",
        )
        .bind(&at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Asks one more institution to cover an absence of `institution`.
    pub async fn ask_coverage(
        &self,
        absence: i64,
        institution: i64,
        backup: i64,
        by: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if backup == institution {
            return Err(StoreError::Invalid(
                "an institution cannot back itself up".into(),
            ));
        }
        let done = sqlx::query(
            "INSERT INTO coverages (absence_id, backup_id, status, requested_at, requested_by)
             SELECT $1, $2, 'requested', $3, $4
             WHERE EXISTS (SELECT 1 FROM absences WHERE id = $1 AND institution_id = $5
                             AND cancelled_at IS NULL)
             ON CONFLICT (absence_id, backup_id) DO UPDATE SET status = 'requested',
                 requested_at = excluded.requested_at, requested_by = excluded.requested_by,
                 decided_at = NULL, decided_by = NULL, reason = NULL
             WHERE coverages.status IN ('declined', 'withdrawn')",
        )
        .bind(absence)
        .bind(backup)
        .bind(time_text(now))
        .bind(by.map(|u| u.0))
        .bind(institution)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "この医療機関にはすでに依頼しています（または不在が取り消されています）".into(),
            ));
        }
        Ok(())
    }

    /// The backup answers a request still open.
    pub async fn decide_coverage(
        &self,
        coverage: i64,
        backup: i64,
        accept: bool,
        reason: &str,
        by: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE coverages SET status = $1, reason = $2, decided_at = $3, decided_by = $4
             WHERE id = $5 AND backup_id = $6 AND status = 'requested'",
        )
        .bind(if accept { "accepted" } else { "declined" })
        .bind(Some(reason.trim()).filter(|r| !r.is_empty()))
        .bind(time_text(now))
        .bind(by.map(|u| u.0))
        .bind(coverage)
        .bind(backup)
        .execute(self.pool())
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(
                "この依頼はすでに回答済みか、取り下げられています".into(),
            ));
        }
        Ok(())
    }

    /// The requester withdraws a request for coverage (asked or accepted).
    pub async fn withdraw_coverage(
        &self,
        coverage: i64,
        institution: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE coverages SET status = 'withdrawn', decided_at = $1
             WHERE id = $2 AND status IN ('requested', 'accepted')
               AND absence_id IN (SELECT id FROM absences WHERE institution_id = $3)",
        )
        .bind(time_text(now))
        .bind(coverage)
        .bind(institution)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A request for coverage with its absence.
    pub async fn coverage(&self, id: i64) -> Result<Option<(CoverageRow, AbsenceRow)>, StoreError> {
        let sql = format!("{COVERAGE_SELECT} WHERE c.id = $1");
        let Some(row) = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
        else {
            return Ok(None);
        };
        let c = coverage_of(&row)?;
        Ok(self.absence(c.absence_id).await?.map(|a| (c, a)))
    }
}
