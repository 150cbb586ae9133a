//! Checked directory files waiting for the coordinator's go-ahead, and the progress of applying
//! them — in the database, so the check, the go-ahead and the progress page may each land on a
//! different instance. Taking a plan to apply it is one conditional update: of two presses, or
//! two instances, exactly one applies it. A plan whose applying instance stopped showing signs
//! of life (its transaction died with it, writing nothing) may be applied again.

use crate::connect::Store;
use crate::error::StoreError;
use crate::import::ImportPlan;
use crate::time_text;
use chrono::{DateTime, Duration, Utc};
use sqlx::Row;

/// How long a checked file waits for the go-ahead.
pub const WAITS_MINUTES: i64 = 30;
/// After how long without a heartbeat a running application counts as dead.
pub const HEARTBEAT_TIMEOUT_SECONDS: i64 = 60;

/// A checked file, to be applied.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingImport {
    /// Who checked it (only they may apply it or follow it).
    pub user_id: i64,
    /// The file's name, as uploaded.
    pub file_name: String,
    /// Rows that cannot be imported.
    pub bad_rows: usize,
    /// What applying it writes.
    pub plan: ImportPlan,
}

/// Where an import stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportState {
    /// Checked; waiting for the go-ahead.
    Checked,
    /// Being written.
    Running,
    /// Written: new, updated, unchanged, left out.
    Done([usize; 4]),
    /// Nothing written; it may be tried again.
    Failed,
}

/// What the progress page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProgress {
    /// The file's name.
    pub file_name: String,
    /// Rows to write.
    pub total: u64,
    /// Rows written so far.
    pub written: u64,
    /// Where it stands.
    pub state: ImportState,
}

/// What became of a request to apply a plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This caller applies it.
    Taken(Box<PendingImport>),
    /// It is being applied already, or has been.
    AlreadyTaken,
    /// It has bad rows and the caller did not choose to leave them out.
    HasBadRows,
    /// No such plan for this user, or it waited too long.
    Gone,
}

/// The times, as stored text, before which a checked plan waited too long and an applying
/// instance's last heartbeat means it died.
struct Cutoffs {
    waited_too_long: String,
    dead: String,
}

fn cutoffs(now: DateTime<Utc>) -> Cutoffs {
    Cutoffs {
        waited_too_long: time_text(now - Duration::minutes(WAITS_MINUTES)),
        dead: time_text(now - Duration::seconds(HEARTBEAT_TIMEOUT_SECONDS)),
    }
}

/// Whether a plan in `state` with this heartbeat is being applied by a live instance.
fn applying(state: &str, heartbeat: Option<&str>, cut: &Cutoffs) -> bool {
    state == "running" && heartbeat.is_some_and(|h| h >= cut.dead.as_str())
}

fn counts_text(n: [usize; 4]) -> String {
    n.map(|v| v.to_string()).join(",")
}

fn counts_of(text: &str) -> Option<[usize; 4]> {
    let n: Vec<usize> = text.split(',').filter_map(|x| x.parse().ok()).collect();
    (n.len() == 4).then(|| [n[0], n[1], n[2], n[3]])
}

/// A plan as stored: its JSON through DEFLATE, written as a stream, so the whole JSON text is
/// never held in memory.
fn deflate_plan(plan: &ImportPlan) -> Result<Vec<u8>, StoreError> {
    use std::io::Write;
    let failed = |e: &dyn std::fmt::Display| StoreError::Invalid(format!("import plan: {e}"));
    let encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, encoder);
    serde_json::to_writer(&mut out, plan).map_err(|e| failed(&e))?;
    out.flush().map_err(|e| failed(&e))?;
    let encoder = out.into_inner().map_err(|e| failed(&e))?;
    encoder.finish().map_err(|e| failed(&e))
}

/// A stored plan back. The JSON is inflated whole before it is parsed: serde_json parses a
/// stream a byte at a time, several times slower than a slice.
fn inflate_plan(deflated: &[u8]) -> Result<ImportPlan, StoreError> {
    use std::io::Read;
    let failed =
        |e: &dyn std::fmt::Display| StoreError::Invalid(format!("stored import plan: {e}"));
    let mut json = Vec::with_capacity(deflated.len().saturating_mul(8));
    flate2::read::DeflateDecoder::new(deflated)
        .read_to_end(&mut json)
        .map_err(|e| failed(&e))?;
    serde_json::from_slice(&json).map_err(|e| failed(&e))
}

impl Store {
    /// Keeps a checked file under `key`, and forgets those that waited too long (except those
    /// being applied).
    pub async fn put_pending_import(
        &self,
        key: &str,
        pending: &PendingImport,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let plan = deflate_plan(&pending.plan)?;
        sqlx::query("DELETE FROM pending_imports WHERE created_at < $1 AND state <> 'running'")
            .bind(&cutoffs(now).waited_too_long)
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO pending_imports (import_key, user_id, file_name, bad_rows, plan,
                 plan_deflated, created_at, state, total, written)
             VALUES ($1, $2, $3, $4, '', $5, $6, 'checked', $7, 0)",
        )
        .bind(key)
        .bind(pending.user_id)
        .bind(&pending.file_name)
        .bind(pending.bad_rows as i64)
        .bind(plan)
        .bind(time_text(now))
        .bind(pending.plan.writes() as i64)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Takes the plan under `key` to apply it: one conditional update, so exactly one caller
    /// gets it. A plan with bad rows is taken only when `skip_bad_rows`.
    pub async fn claim_pending_import(
        &self,
        key: &str,
        user_id: i64,
        skip_bad_rows: bool,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT file_name, bad_rows, created_at, state, heartbeat_at
             FROM pending_imports WHERE import_key = $1 AND user_id = $2",
        )
        .bind(key)
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(Claim::Gone);
        };
        let state: String = row.try_get("state")?;
        let created: String = row.try_get("created_at")?;
        let heartbeat: Option<String> = row.try_get("heartbeat_at")?;
        let cut = cutoffs(now);
        if state == "done" || applying(&state, heartbeat.as_deref(), &cut) {
            return Ok(Claim::AlreadyTaken);
        }
        if created < cut.waited_too_long {
            return Ok(Claim::Gone);
        }
        let bad_rows = usize::try_from(row.try_get::<i64, _>("bad_rows")?).unwrap_or(0);
        if bad_rows > 0 && !skip_bad_rows {
            return Ok(Claim::HasBadRows);
        }
        let taken = sqlx::query(
            "UPDATE pending_imports SET state = 'running', written = 0, heartbeat_at = $1
             WHERE import_key = $2 AND state = $3
               AND (state <> 'running' OR heartbeat_at IS NULL OR heartbeat_at < $4)",
        )
        .bind(time_text(now))
        .bind(key)
        .bind(&state)
        .bind(&cut.dead)
        .execute(self.pool())
        .await?
        .rows_affected();
        if taken != 1 {
            return Ok(Claim::AlreadyTaken);
        }
        // The plan is read only by the one who took it.
        let stored =
            sqlx::query("SELECT plan, plan_deflated FROM pending_imports WHERE import_key = $1")
                .bind(key)
                .fetch_one(self.pool())
                .await?;
        let plan = match stored.try_get::<Option<Vec<u8>>, _>("plan_deflated")? {
            Some(deflated) => inflate_plan(&deflated)?,
            // Checked by an earlier version: JSON text.
            None => serde_json::from_str(&stored.try_get::<String, _>("plan")?)
                .map_err(|e| StoreError::Invalid(format!("stored import plan: {e}")))?,
        };
        Ok(Claim::Taken(Box::new(PendingImport {
            user_id,
            file_name: row.try_get("file_name")?,
            bad_rows,
            plan,
        })))
    }

    /// Records how far applying got, as a sign of life.
    pub async fn import_heartbeat(
        &self,
        key: &str,
        written: u64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE pending_imports SET written = $1, heartbeat_at = $2
             WHERE import_key = $3 AND state = 'running'",
        )
        .bind(written as i64)
        .bind(time_text(now))
        .bind(key)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records the end of applying: done with its counts (the plan is cleared), or failed
    /// (the plan stays for another try).
    pub async fn finish_pending_import(
        &self,
        key: &str,
        outcome: ImportState,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (state, counts) = match outcome {
            ImportState::Done(n) => ("done", Some(counts_text(n))),
            ImportState::Failed => ("failed", None),
            ImportState::Checked | ImportState::Running => {
                return Err(StoreError::Invalid(
                    "an import finishes done or failed".into(),
                ))
            }
        };
        let clear_plan = if counts.is_some() {
            ", plan = '', plan_deflated = NULL"
        } else {
            ""
        };
        sqlx::query(&format!(
            "UPDATE pending_imports SET state = $1, counts = $2, heartbeat_at = $3,
                 written = CASE WHEN $1 = 'done' THEN total ELSE written END{clear_plan}
             WHERE import_key = $4"
        ))
        .bind(state)
        .bind(counts)
        .bind(time_text(now))
        .bind(key)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// How the import under `key` stands, for its user. A running one whose instance stopped
    /// showing signs of life reads as failed (its transaction wrote nothing).
    pub async fn import_progress(
        &self,
        key: &str,
        user_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<ImportProgress>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT file_name, state, total, written, counts, heartbeat_at, created_at
             FROM pending_imports WHERE import_key = $1 AND user_id = $2",
        )
        .bind(key)
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let state: String = row.try_get("state")?;
        let heartbeat: Option<String> = row.try_get("heartbeat_at")?;
        let cut = cutoffs(now);
        let state = match state.as_str() {
            "running" if applying(&state, heartbeat.as_deref(), &cut) => ImportState::Running,
            "running" | "failed" => ImportState::Failed,
            "done" => ImportState::Done(
                row.try_get::<Option<String>, _>("counts")?
                    .as_deref()
                    .and_then(counts_of)
                    .unwrap_or_default(),
            ),
            _ => ImportState::Checked,
        };
        let created: String = row.try_get("created_at")?;
        if state == ImportState::Checked && created < cut.waited_too_long {
            return Ok(None);
        }
        let total = u64::try_from(row.try_get::<i64, _>("total")?).unwrap_or(0);
        let written = u64::try_from(row.try_get::<i64, _>("written")?).unwrap_or(0);
        Ok(Some(ImportProgress {
            file_name: row.try_get("file_name")?,
            total,
            written: written.min(total),
            state,
        }))
    }
}
