//! Renkei's domain: pure types and rules with no I/O, no SQL and no HTTP.
//!
//! Everything here can be unit- and property-tested without a database or a server.

pub mod accounts;
pub mod audit;
pub mod backup;
pub mod beds;
pub mod capability;
pub mod careteam;
pub mod conference;
pub mod consultation;
pub mod demo;
pub mod events;
pub mod fiscal_year;
pub mod holidays;
pub mod import;
pub mod institution;
pub mod ledger;
pub mod power;
pub mod readiness;
pub mod region;
pub mod report;
pub mod rota;
pub mod safety;
pub mod spatial;
pub mod surveys;
pub mod table;
pub mod text;
pub mod totp;
pub mod towns;
pub mod urgent;
