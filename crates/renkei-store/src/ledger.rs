//! The hubs' activity ledgers: one document per hub (area) and report year, saved whole under a
//! revision check (two coordinators editing at once cannot overwrite each other silently), with
//! every revision kept. The report, the comparison and the FHIR MeasureReport read whole
//! documents; a hub's year is a few hundred items at most, so nothing needs item rows in SQL.

use crate::connect::Store;
use crate::error::StoreError;
use crate::now_text;
use renkei_domain::accounts::UserId;
use renkei_domain::ledger::{CoverageByArea, HubLedger, LedgerFile};
use renkei_domain::region::{Role, RoleStatus};
use sqlx::Row;

/// A hub's ledger for a report year, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLedger {
    /// The area's code.
    pub area_code: String,
    /// The report year (its plan and progress; results are of the year before).
    pub report_year: i32,
    /// The ledger.
    pub ledger: HubLedger,
    /// Revision, from 1; a save names the revision it was based on.
    pub revision: i64,
    /// When it was last saved (UTC text).
    pub updated_at: String,
    /// Who saved it last (e-mail), if a person did.
    pub updated_by: Option<String>,
}

/// One kept revision.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerRevision {
    /// Its number.
    pub revision: i64,
    /// When it was saved.
    pub saved_at: String,
    /// By whom (e-mail).
    pub saved_by: Option<String>,
}

fn parse_document(text: &str) -> Result<HubLedger, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Invalid(format!("ledger document: {e}")))
}

fn document_of(ledger: &HubLedger) -> Result<String, StoreError> {
    serde_json::to_string(ledger).map_err(|e| StoreError::Invalid(e.to_string()))
}

const SELECT: &str = "SELECT a.code AS area_code, l.report_year, l.document, l.revision,
        l.updated_at, u.email AS updated_by
     FROM ledgers l
     JOIN areas a ON a.id = l.area_id
     LEFT JOIN users u ON u.id = l.updated_by";

fn stored_of(row: &sqlx::any::AnyRow) -> Result<StoredLedger, StoreError> {
    Ok(StoredLedger {
        area_code: row.try_get("area_code")?,
        report_year: row.try_get::<i64, _>("report_year")? as i32,
        ledger: parse_document(&row.try_get::<String, _>("document")?)?,
        revision: row.try_get("revision")?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
    })
}

impl Store {
    /// A hub's ledger for a report year.
    pub async fn ledger(
        &self,
        area_code: &str,
        report_year: i32,
    ) -> Result<Option<StoredLedger>, StoreError> {
        let row = sqlx::query(&format!(
            "{SELECT} WHERE a.code = $1 AND l.report_year = $2"
        ))
        .bind(area_code)
        .bind(i64::from(report_year))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(stored_of).transpose()
    }

    /// Every hub's ledger for a report year, in the region's report order.
    pub async fn ledgers_of_year(&self, report_year: i32) -> Result<Vec<StoredLedger>, StoreError> {
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE l.report_year = $1 ORDER BY a.sort_order"
        ))
        .bind(i64::from(report_year))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(stored_of).collect()
    }

    /// The report years that have a ledger, newest first.
    pub async fn ledger_years(&self) -> Result<Vec<i32>, StoreError> {
        let rows =
            sqlx::query("SELECT DISTINCT report_year FROM ledgers ORDER BY report_year DESC")
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<i64, _>("report_year")? as i32))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Saves a hub's ledger for a report year. `based_on` is the revision the editor started
    /// from (`None` to create it); if someone saved since, nothing is written and the answer is
    /// [`StoreError::Conflict`]. Returns the new revision.
    pub async fn save_ledger(
        &self,
        area_code: &str,
        report_year: i32,
        ledger: &HubLedger,
        based_on: Option<i64>,
        by: Option<UserId>,
    ) -> Result<i64, StoreError> {
        if ledger.area != area_code {
            return Err(StoreError::Invalid(format!(
                "the ledger is of area {} but is saved for {area_code}",
                ledger.area
            )));
        }
        let document = document_of(ledger)?;
        let now = now_text();
        let by = by.map(|u| u.0);
        let mut tx = self.pool().begin().await?;
        let area_id: Option<i64> = sqlx::query("SELECT id FROM areas WHERE code = $1")
            .bind(area_code)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("id"))
            .transpose()?;
        let Some(area_id) = area_id else {
            return Err(StoreError::NotFound(format!("area {area_code}")));
        };
        let current =
            sqlx::query("SELECT id, revision FROM ledgers WHERE area_id = $1 AND report_year = $2")
                .bind(area_id)
                .bind(i64::from(report_year))
                .fetch_optional(&mut *tx)
                .await?;
        let conflict = || {
            StoreError::Conflict(
                "この台帳は、あなたが開いた後に別の人が保存しました。最新の内容を開き直してから、もう一度変更してください".into(),
            )
        };
        let (ledger_id, revision) = match (current, based_on) {
            (None, None) => {
                let row = sqlx::query(
                    "INSERT INTO ledgers (area_id, report_year, document, revision, updated_at, updated_by)
                     VALUES ($1, $2, $3, 1, $4, $5) RETURNING id",
                )
                .bind(area_id)
                .bind(i64::from(report_year))
                .bind(&document)
                .bind(&now)
                .bind(by)
                .fetch_one(&mut *tx)
                .await?;
                (row.try_get::<i64, _>("id")?, 1)
            }
            (Some(row), Some(base)) => {
                let id: i64 = row.try_get("id")?;
                let next = base + 1;
                let updated = sqlx::query(
                    "UPDATE ledgers SET document = $1, revision = $2, updated_at = $3, updated_by = $4
                     WHERE id = $5 AND revision = $6",
                )
                .bind(&document)
                .bind(next)
                .bind(&now)
                .bind(by)
                .bind(id)
                .bind(base)
                .execute(&mut *tx)
                .await?;
                if updated.rows_affected() != 1 {
                    return Err(conflict());
                }
                (id, next)
            }
            // Created by someone else meanwhile, or gone.
            (Some(_), None) | (None, Some(_)) => return Err(conflict()),
        };
        sqlx::query(
            "INSERT INTO ledger_revisions (ledger_id, revision, document, saved_at, saved_by)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(ledger_id)
        .bind(revision)
        .bind(&document)
        .bind(&now)
        .bind(by)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(revision)
    }

    /// The kept revisions of a hub's ledger, newest first.
    pub async fn ledger_revisions(
        &self,
        area_code: &str,
        report_year: i32,
    ) -> Result<Vec<LedgerRevision>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.revision, r.saved_at, u.email AS saved_by
             FROM ledger_revisions r
             JOIN ledgers l ON l.id = r.ledger_id
             JOIN areas a ON a.id = l.area_id
             LEFT JOIN users u ON u.id = r.saved_by
             WHERE a.code = $1 AND l.report_year = $2
             ORDER BY r.revision DESC",
        )
        .bind(area_code)
        .bind(i64::from(report_year))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LedgerRevision {
                    revision: r.try_get("revision")?,
                    saved_at: r.try_get("saved_at")?,
                    saved_by: r.try_get("saved_by")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Loads a ledger file (the demo region's report): each hub's ledger that is not stored yet
    /// is saved. A stored one that is still the file's first load — revision 1, saved by no
    /// person — follows the file when the file has changed (a corrected transcription reaches
    /// existing demo databases as a new revision); one anybody has saved since is left alone. So
    /// loading the same file twice changes nothing. Returns how many were saved.
    pub async fn load_ledger_file(&self, file: &LedgerFile) -> Result<usize, StoreError> {
        let mut saved = 0;
        for hub in &file.hubs {
            match self.ledger(&hub.area, file.report_year).await? {
                None => {
                    self.save_ledger(&hub.area, file.report_year, hub, None, None)
                        .await?;
                }
                Some(stored)
                    if stored.revision == 1
                        && stored.updated_by.is_none()
                        && stored.ledger != *hub =>
                {
                    self.save_ledger(&hub.area, file.report_year, hub, Some(1), None)
                        .await?;
                }
                Some(_) => continue,
            }
            saved += 1;
        }
        Ok(saved)
    }

    /// Each area's active institutions and their role statuses, counted (the 対応状況).
    pub async fn role_coverage(&self) -> Result<CoverageByArea, StoreError> {
        let mut out = CoverageByArea::new();
        let counts = sqlx::query(
            "SELECT a.code AS area, COUNT(*) AS n
             FROM institutions i JOIN areas a ON a.id = i.area_id
             WHERE i.is_active = 1 GROUP BY a.code",
        )
        .fetch_all(self.pool())
        .await?;
        for row in &counts {
            out.entry(row.try_get("area")?).or_default().institutions =
                row.try_get::<i64, _>("n")? as usize;
        }
        let statuses = sqlx::query(
            "SELECT a.code AS area, r.role, r.status, COUNT(*) AS n
             FROM institution_roles r
             JOIN institutions i ON i.id = r.institution_id
             JOIN areas a ON a.id = i.area_id
             WHERE i.is_active = 1
             GROUP BY a.code, r.role, r.status",
        )
        .fetch_all(self.pool())
        .await?;
        for row in &statuses {
            let role = Role::from_code(&row.try_get::<String, _>("role")?);
            let status = RoleStatus::from_code(&row.try_get::<String, _>("status")?);
            let n = row.try_get::<i64, _>("n")? as usize;
            let Some(role) = role else { continue };
            let entry = out.entry(row.try_get("area")?).or_default();
            let at = usize::from(role.number()) - 1;
            match status {
                Some(RoleStatus::Available) => entry.available[at] += n,
                Some(RoleStatus::Planned) => entry.planned[at] += n,
                _ => {}
            }
        }
        let answered = sqlx::query(
            "SELECT a.code AS area, COUNT(DISTINCT i.id) AS n
             FROM institutions i JOIN areas a ON a.id = i.area_id
             WHERE i.is_active = 1
               AND EXISTS (SELECT 1 FROM institution_roles r WHERE r.institution_id = i.id)
             GROUP BY a.code",
        )
        .fetch_all(self.pool())
        .await?;
        for row in &answered {
            out.entry(row.try_get("area")?).or_default().answered =
                row.try_get::<i64, _>("n")? as usize;
        }
        Ok(out)
    }
}
