//! Renkei's domain: pure types and rules with no I/O, no SQL and no HTTP.
//!
//! Everything here can be unit- and property-tested without a database or a server.

/// Implements serde for an enum with `code()` and `from_code()` as its stable code, so stored
/// values read back whatever the order of the variants.
#[macro_export]
macro_rules! serde_as_code {
    ($t:ty, $what:literal) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let code = <String as serde::Deserialize>::deserialize(d)?;
                <$t>::from_code(&code)
                    .ok_or_else(|| serde::de::Error::custom(format!("unknown {} {code}", $what)))
            }
        }
    };
}

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
pub mod files;
pub mod fiscal_year;
pub mod holidays;
pub mod import;
pub mod institution;
pub mod japan;
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
