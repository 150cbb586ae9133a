//! The records an institution shows for 在宅医療情報連携加算 (2024 fee schedule): which other
//! institutions it shares patients' information with through Renkei (連携機関, at least five,
//! not counting those in a 特別の関係), and, per patient and month, the consent, the
//! physician's visit records (① next visit and plan changed, ② what changed, ③ points to heed)
//! and the physician's reading of what other organisations recorded. Everything comes from
//! what the team already did on the timeline; nothing is typed for the report.

use crate::connect::Store;
use crate::error::StoreError;
use crate::time_text;
use chrono::{DateTime, Utc};
use renkei_domain::accounts::UserId;
use sqlx::Row;
use std::collections::HashMap;

/// Another institution the institution shares patients with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    /// The institution.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its kind (code).
    pub kind: String,
    /// The first time it joined a team the institution is on (UTC text).
    pub since: String,
    /// How many patients they share now.
    pub patients: i64,
    /// Marked by the institution as in a 特別の関係 (not counted).
    pub special: bool,
}

/// One patient's month, as the evidence shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PatientMonth {
    /// The patient.
    pub patient_id: i64,
    /// Their name.
    pub name: String,
    /// When the consent in force was given (date), if any.
    pub consent_given_on: Option<String>,
    /// The institution's physicians' visit records in the month.
    pub visit_records: i64,
    /// The newest of them (UTC text).
    pub last_visit_record: Option<String>,
    /// The next visit it names.
    pub next_visit_on: Option<String>,
    /// Posts by other organisations in the month.
    pub others_posts: i64,
    /// Posts by other organisations the institution's physicians read in the month.
    pub others_read: i64,
    /// The newest such reading (UTC text).
    pub last_read: Option<String>,
    /// Who read it.
    pub last_reader: Option<String>,
    /// Whether the newest reading was of a post written within 90 days before it.
    pub read_recent: bool,
}

impl Store {
    /// The institutions `institution` shares patients with now: other institutions with a
    /// member on a team the institution is on, for patients with a consent in force; the
    /// earliest first.
    pub async fn ict_partners(&self, institution: i64) -> Result<Vec<Partner>, StoreError> {
        let rows = sqlx::query(
            "SELECT o.institution_id AS id, i.name, i.kind, MIN(o.added_at) AS since,
                    COUNT(DISTINCT o.patient_id) AS patients,
                    MAX(CASE WHEN s.partner_id IS NULL THEN 0 ELSE 1 END) AS special
             FROM care_team_members mine
             JOIN care_team_members o ON o.patient_id = mine.patient_id
                  AND o.institution_id <> mine.institution_id AND o.removed_at IS NULL
             JOIN institutions i ON i.id = o.institution_id
             LEFT JOIN ict_special_relations s ON s.institution_id = mine.institution_id
                  AND s.partner_id = o.institution_id
             WHERE mine.institution_id = $1 AND mine.removed_at IS NULL
               AND EXISTS (SELECT 1 FROM patient_consents c
                           WHERE c.patient_id = mine.patient_id AND c.withdrawn_at IS NULL)
             GROUP BY o.institution_id, i.name, i.kind
             ORDER BY MIN(o.added_at), o.institution_id",
        )
        .bind(institution)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Partner {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    kind: r.try_get("kind")?,
                    since: r.try_get("since")?,
                    patients: r.try_get("patients")?,
                    special: r.try_get::<i64, _>("special")? != 0,
                })
            })
            .collect()
    }

    /// Marks (or unmarks) a partner as in a 特別の関係 with the institution.
    pub async fn set_special_relation(
        &self,
        institution: i64,
        partner: i64,
        special: bool,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "DELETE FROM ict_special_relations WHERE institution_id = $1 AND partner_id = $2",
        )
        .bind(institution)
        .bind(partner)
        .execute(&mut *tx)
        .await?;
        if special {
            sqlx::query(
                "INSERT INTO ict_special_relations (institution_id, partner_id, marked_at, marked_by)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(institution)
            .bind(partner)
            .bind(time_text(now))
            .bind(by.0)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Each patient on whose team the institution has a physician now, for the month
    /// `[from, to)` (UTC texts of its JST bounds), by reading: see [`PatientMonth`]. A fixed
    /// number of grouped queries, whatever the number of patients.
    pub async fn ict_patient_months(
        &self,
        institution: i64,
        (from, to): (&str, &str),
    ) -> Result<Vec<PatientMonth>, StoreError> {
        let patients = sqlx::query(
            "SELECT DISTINCT p.id, p.name, p.kana,
                    (SELECT c.given_on FROM patient_consents c
                     WHERE c.patient_id = p.id AND c.withdrawn_at IS NULL
                     ORDER BY c.id DESC LIMIT 1) AS given_on
             FROM care_team_members m JOIN patients p ON p.id = m.patient_id
             WHERE m.institution_id = $1 AND m.removed_at IS NULL AND m.profession = 'doctor'
             ORDER BY p.kana, p.id",
        )
        .bind(institution)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(patients.len());
        let mut index = HashMap::with_capacity(patients.len());
        for r in &patients {
            let id: i64 = r.try_get("id")?;
            index.insert(id, out.len());
            out.push(PatientMonth {
                patient_id: id,
                name: r.try_get("name")?,
                consent_given_on: r.try_get("given_on")?,
                ..PatientMonth::default()
            });
        }
        let visits = sqlx::query(
            "SELECT patient_id, COUNT(*) AS n, MAX(created_at) AS last, MAX(next_visit_on) AS next
             FROM care_posts
             WHERE institution_id = $1 AND profession = 'doctor' AND plan_changed IS NOT NULL
               AND created_at >= $2 AND created_at < $3
             GROUP BY patient_id",
        )
        .bind(institution)
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?;
        for r in &visits {
            if let Some(&i) = index.get(&r.try_get::<i64, _>("patient_id")?) {
                out[i].visit_records = r.try_get("n")?;
                out[i].last_visit_record = r.try_get("last")?;
                out[i].next_visit_on = r.try_get("next")?;
            }
        }
        let others = sqlx::query(
            "SELECT p.patient_id, COUNT(*) AS n FROM care_posts p
             WHERE p.institution_id <> $1 AND p.created_at >= $2 AND p.created_at < $3
               AND p.patient_id IN (SELECT m.patient_id FROM care_team_members m
                                    WHERE m.institution_id = $1 AND m.removed_at IS NULL
                                      AND m.profession = 'doctor')
             GROUP BY p.patient_id",
        )
        .bind(institution)
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?;
        for r in &others {
            if let Some(&i) = index.get(&r.try_get::<i64, _>("patient_id")?) {
                out[i].others_posts = r.try_get("n")?;
            }
        }
        // Readings by the institution's physicians of other organisations' posts.
        let reads = sqlx::query(
            "SELECT p.patient_id, r.read_at, p.created_at, u.display_name
             FROM care_reads r
             JOIN care_posts p ON p.id = r.post_id
             JOIN care_team_members m ON m.patient_id = p.patient_id AND m.user_id = r.user_id
             JOIN users u ON u.id = r.user_id
             WHERE m.institution_id = $1 AND m.profession = 'doctor'
               AND p.institution_id <> $1 AND r.read_at >= $2 AND r.read_at < $3
             ORDER BY r.read_at",
        )
        .bind(institution)
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?;
        for r in &reads {
            let Some(&i) = index.get(&r.try_get::<i64, _>("patient_id")?) else {
                continue;
            };
            let read_at: String = r.try_get("read_at")?;
            let written: String = r.try_get("created_at")?;
            let row = &mut out[i];
            row.others_read += 1;
            row.read_recent = within_90_days(&written, &read_at);
            row.last_read = Some(read_at);
            row.last_reader = Some(r.try_get("display_name")?);
        }
        Ok(out)
    }
}

/// Whether `written` is at most 90 days before `read` (both UTC texts).
fn within_90_days(written: &str, read: &str) -> bool {
    let parse = |t: &str| DateTime::parse_from_rfc3339(t).ok();
    match (parse(written), parse(read)) {
        (Some(w), Some(r)) => r - w <= chrono::Duration::days(90),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::within_90_days;

    #[test]
    fn ninety_days_are_counted_from_the_writing() {
        let w = "2026-09-01T00:00:00.000000Z";
        assert!(within_90_days(w, "2026-11-30T00:00:00.000000Z"));
        assert!(!within_90_days(w, "2026-11-30T00:00:01.000000Z"));
        assert!(!within_90_days("garbage", "2026-11-30T00:00:00.000000Z"));
    }
}
