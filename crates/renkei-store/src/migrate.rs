//! Versioned schema migrations, written once in portable SQL and run at start-up and by
//! `renkei migrate`.
//!
//! A migration is never edited after it lands: each applied migration's checksum is stored, and
//! a changed file stops the start with [`StoreError::MigrationChanged`]. The only dialect
//! differences, the auto-increment key and the byte-string type, are the `{{ID}}` and `{{BLOB}}`
//! tokens.

use crate::connect::{Backend, Store};
use crate::error::StoreError;
use sqlx::{Any, Row, Transaction};

/// One migration compiled into the binary.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Increasing number.
    pub version: i64,
    /// Short name, from the file name.
    pub name: &'static str,
    /// The SQL with dialect tokens.
    pub sql: &'static str,
}

/// Every migration, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sql: include_str!("../migrations/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "accounts",
        sql: include_str!("../migrations/0002_accounts.sql"),
    },
    Migration {
        version: 3,
        name: "capabilities",
        sql: include_str!("../migrations/0003_capabilities.sql"),
    },
    Migration {
        version: 4,
        name: "confirmation",
        sql: include_str!("../migrations/0004_confirmation.sql"),
    },
    Migration {
        version: 5,
        name: "changes",
        sql: include_str!("../migrations/0005_changes.sql"),
    },
    Migration {
        version: 6,
        name: "entry_details",
        sql: include_str!("../migrations/0006_entry_details.sql"),
    },
    Migration {
        version: 7,
        name: "change_feed",
        sql: include_str!("../migrations/0007_change_feed.sql"),
    },
    Migration {
        version: 8,
        name: "ledger",
        sql: include_str!("../migrations/0008_ledger.sql"),
    },
    Migration {
        version: 9,
        name: "safety",
        sql: include_str!("../migrations/0009_safety.sql"),
    },
    Migration {
        version: 10,
        name: "power_bcp",
        sql: include_str!("../migrations/0010_power_bcp.sql"),
    },
    Migration {
        version: 11,
        name: "urgent",
        sql: include_str!("../migrations/0011_urgent.sql"),
    },
    Migration {
        version: 12,
        name: "rota",
        sql: include_str!("../migrations/0012_rota.sql"),
    },
    Migration {
        version: 13,
        name: "beds",
        sql: include_str!("../migrations/0013_beds.sql"),
    },
    Migration {
        version: 14,
        name: "backup",
        sql: include_str!("../migrations/0014_backup.sql"),
    },
    Migration {
        version: 15,
        name: "conferences",
        sql: include_str!("../migrations/0015_conferences.sql"),
    },
    Migration {
        version: 16,
        name: "careteam",
        sql: include_str!("../migrations/0016_careteam.sql"),
    },
    Migration {
        version: 17,
        name: "care_files",
        sql: include_str!("../migrations/0017_care_files.sql"),
    },
    Migration {
        version: 18,
        name: "consultations",
        sql: include_str!("../migrations/0018_consultations.sql"),
    },
    Migration {
        version: 19,
        name: "events",
        sql: include_str!("../migrations/0019_events.sql"),
    },
    Migration {
        version: 20,
        name: "surveys",
        sql: include_str!("../migrations/0020_surveys.sql"),
    },
    Migration {
        version: 21,
        name: "outbox_claims",
        sql: include_str!("../migrations/0021_outbox_claims.sql"),
    },
    Migration {
        version: 22,
        name: "consultations_by_time",
        sql: include_str!("../migrations/0022_consultations_by_time.sql"),
    },
    Migration {
        version: 23,
        name: "open_follow_ups",
        sql: include_str!("../migrations/0023_open_follow_ups.sql"),
    },
    Migration {
        version: 24,
        name: "pending_imports",
        sql: include_str!("../migrations/0024_pending_imports.sql"),
    },
    Migration {
        version: 25,
        name: "deflated_import_plans",
        sql: include_str!("../migrations/0025_deflated_import_plans.sql"),
    },
    Migration {
        version: 26,
        name: "audit_head_seal",
        sql: include_str!("../migrations/0026_audit_head_seal.sql"),
    },
    Migration {
        version: 27,
        name: "login_attempt_outcomes",
        sql: include_str!("../migrations/0027_login_attempt_outcomes.sql"),
    },
    Migration {
        version: 28,
        name: "directory_listing",
        sql: include_str!("../migrations/0028_directory_listing.sql"),
    },
];

/// The migration that adds the audit head's seal.
const AUDIT_HEAD_SEAL_VERSION: i64 = 26;

/// What a migration run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied by this run.
    pub applied: Vec<i64>,
    /// Versions that were already applied.
    pub already: Vec<i64>,
}

/// Arbitrary key for PostgreSQL's advisory lock, so two instances starting together migrate
/// one after the other.
const ADVISORY_LOCK_KEY: i64 = 0x5245_4E4B_4549;

impl Store {
    /// Applies every pending migration, each in its own transaction.
    pub async fn migrate(&self) -> Result<MigrationReport, StoreError> {
        let mut conn = self.pool().acquire().await?;
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(ADVISORY_LOCK_KEY)
                .execute(&mut *conn)
                .await?;
        }
        let mut result = self.migrate_locked().await;
        if let Ok(report) = &result {
            if report.applied.contains(&AUDIT_HEAD_SEAL_VERSION) {
                self.head_awaits_seal
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                if let Err(e) = self.seal_unsealed_audit_head().await {
                    result = Err(e);
                }
            }
        }
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(ADVISORY_LOCK_KEY)
                .execute(&mut *conn)
                .await?;
        }
        result
    }

    async fn migrate_locked(&self) -> Result<MigrationReport, StoreError> {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS renkei_migrations (
                version BIGINT PRIMARY KEY,
                name TEXT NOT NULL,
                checksum TEXT NOT NULL,
                applied_at TEXT NOT NULL
            )",
        )
        .execute(self.pool())
        .await?;
        let rows =
            sqlx::query("SELECT version, name, checksum FROM renkei_migrations ORDER BY version")
                .fetch_all(self.pool())
                .await?;
        let mut report = MigrationReport::default();
        for row in &rows {
            let version: i64 = row.try_get("version")?;
            let checksum: String = row.try_get("checksum")?;
            let Some(known) = MIGRATIONS.iter().find(|m| m.version == version) else {
                return Err(StoreError::NewerSchema(version));
            };
            if checksum != self::checksum(known.sql) {
                return Err(StoreError::MigrationChanged {
                    version,
                    name: known.name.to_owned(),
                });
            }
            report.already.push(version);
        }
        for migration in MIGRATIONS
            .iter()
            .filter(|m| !report.already.contains(&m.version))
        {
            let mut tx = self.pool().begin().await?;
            self.apply(&mut tx, migration).await?;
            tx.commit().await?;
            tracing::info!(
                version = migration.version,
                name = migration.name,
                "migration applied"
            );
            report.applied.push(migration.version);
        }
        Ok(report)
    }

    async fn apply(
        &self,
        tx: &mut Transaction<'static, Any>,
        migration: &Migration,
    ) -> Result<(), StoreError> {
        let sql = dialect(migration.sql, self.backend());
        sqlx::raw_sql(&sql).execute(&mut **tx).await?;
        sqlx::query("INSERT INTO renkei_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)")
            .bind(migration.version)
            .bind(migration.name)
            .bind(checksum(migration.sql))
            .bind(crate::now_text())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Versions applied so far.
    pub async fn applied_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let exists = self.table_exists("renkei_migrations").await?;
        if !exists {
            return Ok(Vec::new());
        }
        let versions = sqlx::query_scalar("SELECT version FROM renkei_migrations ORDER BY version")
            .fetch_all(self.pool())
            .await?;
        Ok(versions)
    }

    async fn table_exists(&self, table: &str) -> Result<bool, StoreError> {
        let sql = match self.backend() {
            Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
            Backend::Postgres => "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1",
        };
        let count: i64 = sqlx::query_scalar(sql)
            .bind(table)
            .fetch_one(self.pool())
            .await?;
        Ok(count > 0)
    }
}

/// The SQL of a migration for one engine.
fn dialect(sql: &str, backend: Backend) -> String {
    let id = match backend {
        Backend::Sqlite => "INTEGER PRIMARY KEY",
        Backend::Postgres => "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    };
    let blob = match backend {
        Backend::Sqlite => "BLOB",
        Backend::Postgres => "BYTEA",
    };
    sql.replace("{{ID}}", id).replace("{{BLOB}}", blob)
}

/// FNV-1a over the migration text: enough to notice an edit, no cryptography needed.
fn checksum(sql: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in sql.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_and_use_only_portable_tokens() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1);
            let pg = dialect(m.sql, Backend::Postgres);
            assert!(
                !pg.contains("{{"),
                "unknown token in migration {}",
                m.version
            );
            let words: Vec<String> = m
                .sql
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .map(str::to_uppercase)
                .collect();
            for forbidden in [
                "AUTOINCREMENT",
                "SERIAL",
                "BIGSERIAL",
                "BOOLEAN",
                "TIMESTAMPTZ",
                "JSONB",
            ] {
                assert!(
                    !words.iter().any(|w| w == forbidden),
                    "{forbidden} in migration {}",
                    m.version
                );
            }
        }
    }

    #[test]
    fn checksums_notice_an_edit() {
        assert_ne!(
            checksum("CREATE TABLE a (x BIGINT);"),
            checksum("CREATE TABLE a (x BIGINT );")
        );
    }
}
