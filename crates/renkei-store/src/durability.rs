//! Whether a commit is durable before it is acknowledged, read back from the database itself
//! (not from what Renkei asked for): SQLite's `synchronous` on every pooled connection, and
//! PostgreSQL's `fsync` and `synchronous_commit`.
//!
//! A SIGKILL test cannot tell a lost fsync from a kept one (the operating system keeps the
//! pages a killed process wrote), so the settings are checked here, at every start, and by the
//! tests.

use crate::connect::{Backend, Store};
use crate::error::StoreError;
use sqlx::Row;

/// What the database says about durability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Durability {
    /// One line per setting read, e.g. `synchronous=FULL` or `fsync=on`.
    pub settings: Vec<String>,
    /// Settings that let an acknowledged commit be lost in a power failure (empty when every
    /// commit is durable), each with what to do.
    pub problems: Vec<String>,
}

impl Durability {
    /// Whether every acknowledged commit survives a power failure.
    pub fn is_durable(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Durability {
    /// The verdict on SQLite connections whose `PRAGMA synchronous` levels are `levels`
    /// (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA; sqlite.org/pragma.html#pragma_synchronous): only
    /// FULL and EXTRA sync the write-ahead log at each commit.
    pub fn of_sqlite(levels: &[i64]) -> Durability {
        let mut settings = Vec::new();
        let mut problems = Vec::new();
        for &level in levels {
            let name = match level {
                0 => "OFF",
                1 => "NORMAL",
                2 => "FULL",
                3 => "EXTRA",
                _ => "unknown",
            };
            let line = format!("synchronous={name}");
            if !(2..=3).contains(&level) {
                let problem = format!("SQLite の synchronous が {name} です（FULL が必要） / SQLite synchronous is {name}, FULL is needed: a commit in the write-ahead log may be lost in a power failure");
                if !problems.contains(&problem) {
                    problems.push(problem);
                }
            }
            if !settings.contains(&line) {
                settings.push(line);
            }
        }
        Durability { settings, problems }
    }
}

/// The `PRAGMA synchronous` level of one SQLite connection.
pub async fn sqlite_synchronous(conn: &mut sqlx::AnyConnection) -> Result<i64, StoreError> {
    Ok(sqlx::query("PRAGMA synchronous")
        .fetch_one(conn)
        .await?
        .try_get(0)?)
}

impl Store {
    /// Reads the durability settings in force. On SQLite every connection of the pool is
    /// asked (each sets its own `synchronous`); on PostgreSQL the server's settings.
    pub async fn durability(&self) -> Result<Durability, StoreError> {
        let mut settings = Vec::new();
        let mut problems = Vec::new();
        match self.backend() {
            Backend::Sqlite => {
                // Hold as many connections as the pool opens, so each one is asked.
                let mut held = Vec::new();
                let size = self.pool().options().get_max_connections().max(1);
                for _ in 0..size {
                    held.push(self.pool().acquire().await?);
                }
                let mut levels = Vec::new();
                for conn in &mut held {
                    levels.push(sqlite_synchronous(conn).await?);
                }
                return Ok(Durability::of_sqlite(&levels));
            }
            Backend::Postgres => {
                for name in ["fsync", "synchronous_commit"] {
                    let value: String = sqlx::query(&format!("SHOW {name}"))
                        .fetch_one(self.pool())
                        .await?
                        .try_get(0)?;
                    // synchronous_commit: `local`, `remote_write` and `remote_apply` flush
                    // locally too; only `off` acknowledges before the flush.
                    let lossy = match name {
                        "fsync" => value != "on",
                        _ => value == "off",
                    };
                    if lossy {
                        problems.push(format!("PostgreSQL の {name} が {value} です / PostgreSQL {name} is {value}: acknowledged commits may be lost in a crash; set {name} = on in postgresql.conf"));
                    }
                    settings.push(format!("{name}={value}"));
                }
            }
        }
        Ok(Durability { settings, problems })
    }
}
