//! The bed board (空床情報): hospitals publish the beds they have for respite and emergency
//! admission by type — the physical beds, and those that can actually take a patient now (staff,
//! equipment, a free room) — with the conditions, each count with its own time. A count older
//! than a day is shown as stale rather than trusted.

use crate::safety::coded;
use crate::urgent::RequestKind;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

coded! {
    /// The kind of bed a count is about.
    BedType {
        /// レスパイト入院の受入れ.
        Respite = "respite", "レスパイト入院", "Respite admission";
        /// 急変時の緊急入院.
        Emergency = "emergency", "緊急入院", "Emergency admission";
        /// 地域包括ケア病床.
        CommunityCare = "community_care", "地域包括ケア病床", "Community-care beds";
        /// 緩和ケア病床.
        Palliative = "palliative", "緩和ケア病床", "Palliative-care beds";
    }
}

impl BedType {
    /// The bed a request asks for, if it asks for one.
    pub fn for_request(kind: RequestKind) -> Option<BedType> {
        match kind {
            RequestKind::RespiteAdmission => Some(BedType::Respite),
            RequestKind::EmergencyAdmission => Some(BedType::Emergency),
            _ => None,
        }
    }
}

/// How old a count may be before it is shown as stale.
pub const STALE_AFTER: Duration = Duration::hours(24);

/// The most beds of one type one institution can have (more is a typing mistake).
pub const MAX_BEDS: u32 = 3000;

/// The longest conditions text.
pub const CONDITIONS_CHARS: usize = 300;

/// Whether a count taken at `at` is stale at `now`.
pub fn is_stale(at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - at > STALE_AFTER
}

/// What an institution says about one bed type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BedCount {
    /// The type.
    pub bed_type: BedType,
    /// Beds of this type it has (staffed or not).
    pub physical: Option<u32>,
    /// Beds that can take a patient now.
    pub available: Option<u32>,
    /// Conditions (「人工呼吸器は不可」「平日10時〜15時の入院」).
    pub conditions: String,
}

impl BedCount {
    /// Whether the count is possible; the reason, naming the type, if not.
    pub fn check(&self) -> Result<(), String> {
        let label = self.bed_type.label_ja();
        for n in [self.physical, self.available].into_iter().flatten() {
            if n > MAX_BEDS {
                return Err(format!("{label}の病床数が大きすぎます（{MAX_BEDS}床まで）"));
            }
        }
        if let (Some(physical), Some(available)) = (self.physical, self.available) {
            if available > physical {
                return Err(format!(
                    "{label}：今受け入れられる数（{available}）が病床数（{physical}）より多くなっています"
                ));
            }
        }
        if self.conditions.chars().count() > CONDITIONS_CHARS {
            return Err(format!(
                "{label}の条件は{CONDITIONS_CHARS}文字までにしてください"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn count(physical: Option<u32>, available: Option<u32>) -> BedCount {
        BedCount {
            bed_type: BedType::Respite,
            physical,
            available,
            conditions: String::new(),
        }
    }

    #[test]
    fn available_cannot_exceed_physical() {
        assert_eq!(count(Some(4), Some(2)).check(), Ok(()));
        assert_eq!(count(None, Some(2)).check(), Ok(()));
        let e = count(Some(2), Some(3)).check().unwrap_err();
        assert!(
            e.contains("レスパイト入院") && e.contains('3') && e.contains('2'),
            "{e}"
        );
        assert!(count(Some(5000), None)
            .check()
            .unwrap_err()
            .contains("3000"));
    }

    #[test]
    fn counts_go_stale_after_a_day() {
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        assert!(!is_stale(t, t + Duration::hours(24)));
        assert!(is_stale(t, t + Duration::hours(24) + Duration::seconds(1)));
    }

    #[test]
    fn admission_requests_name_their_bed() {
        assert_eq!(
            BedType::for_request(RequestKind::RespiteAdmission),
            Some(BedType::Respite)
        );
        assert_eq!(BedType::for_request(RequestKind::UrgentVisit), None);
    }
}
