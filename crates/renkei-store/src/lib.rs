//! Renkei's storage layer: the only place with SQL.
//!
//! One code path serves SQLite (the embedded default) and PostgreSQL through sqlx's `Any` driver.
//! The SQL is written to run unchanged on both (and on PostgreSQL-compatible distributed
//! engines): `$n` placeholders in ascending order, BIGINT integers and 0/1 flags, UTC timestamps
//! as RFC 3339 text. Queries return domain types.

pub mod accounts;
pub mod answers;
pub mod audit;
pub mod backup;
pub mod bcp;
pub mod beds;
pub mod care_evidence;
pub mod care_files;
pub mod careteam;
pub mod changes;
pub mod conference;
mod connect;
pub mod consultation;
pub mod directory;
pub mod durability;
mod error;
pub mod events;
pub mod import;
pub mod ledger;
pub mod links;
pub mod mail;
pub mod migrate;
pub mod pending_imports;
pub mod power;
pub mod records;
pub mod region;
pub mod rota;
pub mod safety;
mod sealed;
pub mod snapshot;
pub mod surveys;
pub mod urgent;

pub use connect::{redact, sqlite_url, Backend, Store};
pub use error::{DbProblem, StoreError};

/// A UTC time as the RFC 3339 text stored in timestamp columns (fixed width, so it sorts as
/// text on every engine).
pub fn time_text(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Now, as [`time_text`].
pub fn now_text() -> String {
    time_text(chrono::Utc::now())
}
