//! What backing up and restoring need from the database: a consistent copy of a SQLite
//! database taken while it is in use (`VACUUM INTO`, which reads one snapshot and writes a
//! compact file), an integrity check, the row counts that show a copy is whole, and emptying
//! the log before the file is moved. PostgreSQL is copied with `pg_dump` by the command line.

use crate::connect::{Backend, Store};
use crate::error::StoreError;
use sqlx::Row;
use std::path::Path;

/// The tables whose rows a backup summary counts (what people would miss first).
pub const COUNTED_TABLES: &[&str] = &[
    "institutions",
    "users",
    "ledger_revisions",
    "safety_answers",
    "urgent_requests",
    "patients",
    "care_posts",
    "care_attachments",
    "consultations",
    "event_registrations",
    "survey_responses",
    "audit_log",
];

impl Store {
    /// Writes a consistent copy of this SQLite database to `path`, which must not exist; other
    /// connections go on reading and writing meanwhile.
    pub async fn sqlite_copy_into(&self, path: &Path) -> Result<(), StoreError> {
        if self.backend() != Backend::Sqlite {
            return Err(StoreError::Invalid(
                "a file copy is for SQLite; PostgreSQL is copied with pg_dump".into(),
            ));
        }
        sqlx::query("VACUUM INTO $1")
            .bind(path.to_string_lossy().into_owned())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// What SQLite's integrity check finds wrong (empty when the file is sound; always empty on
    /// PostgreSQL, which checks its own pages).
    pub async fn integrity_problems(&self) -> Result<Vec<String>, StoreError> {
        if self.backend() != Backend::Sqlite {
            return Ok(Vec::new());
        }
        let rows = sqlx::query("PRAGMA integrity_check")
            .fetch_all(self.pool())
            .await?;
        let mut problems = Vec::new();
        for r in &rows {
            let line: String = r.try_get(0)?;
            if line != "ok" {
                problems.push(line);
            }
        }
        Ok(problems)
    }

    /// The rows of each of [`COUNTED_TABLES`].
    pub async fn row_counts(&self) -> Result<Vec<(&'static str, i64)>, StoreError> {
        let mut out = Vec::with_capacity(COUNTED_TABLES.len());
        for table in COUNTED_TABLES {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(self.pool())
                .await?;
            out.push((*table, n));
        }
        Ok(out)
    }

    /// SQLite: folds the whole log into the file and empties it, so the file alone holds
    /// everything (before it is moved aside).
    pub async fn checkpoint_fully(&self) -> Result<(), StoreError> {
        if self.backend() == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_all(self.pool())
                .await?;
        }
        Ok(())
    }
}
