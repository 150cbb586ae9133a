//! Renkei's storage layer: the only place with SQL.
//!
//! One code path serves SQLite (the embedded default) and PostgreSQL through sqlx's `Any` driver.
//! The SQL is written to run unchanged on both (and on PostgreSQL-compatible distributed
//! engines): `$n` placeholders in ascending order, BIGINT integers and 0/1 flags, UTC timestamps
//! as RFC 3339 text. Queries return domain types.

pub mod accounts;
pub mod audit;
pub mod changes;
mod connect;
pub mod directory;
mod error;
pub mod mail;
pub mod migrate;
pub mod region;

pub use connect::{redact, sqlite_url, Backend, Store};
pub use error::{DbProblem, StoreError};

/// Now in UTC as the RFC 3339 text stored in timestamp columns (sortable as text).
pub fn now_text() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}
