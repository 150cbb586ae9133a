//! Backup coverage while a doctor is away (不在時のバックアップ): an institution records an
//! absence (the doctor, the days) and asks one or more institutions to cover its home patients;
//! each answers; during the absence the coverage shows on both sides and to the hub. The same
//! doctor cannot be away twice over the same days, and a backup that is itself away then is
//! said plainly before it is asked.

use crate::safety::coded;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

coded! {
    /// Where a request for coverage stands.
    CoverageStatus {
        /// 依頼中.
        Requested = "requested", "依頼中", "Requested";
        /// 引受.
        Accepted = "accepted", "引き受け", "Accepted";
        /// お断り.
        Declined = "declined", "お断り", "Declined";
        /// 取り下げ (by the requester, or with the absence).
        Withdrawn = "withdrawn", "取り下げ", "Withdrawn";
    }
}

/// Upper bounds of the form.
pub mod limits {
    /// The longest absence, days (a quarter; longer is a locum, not a backup).
    pub const DAYS: i64 = 92;
    /// The doctor's name, characters.
    pub const DOCTOR_CHARS: usize = 40;
    /// Notes, characters.
    pub const NOTE_CHARS: usize = 500;
    /// Backups asked for one absence.
    pub const BACKUPS: usize = 5;
}

/// An absence: who is away, from which day to which day (both included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Absence {
    /// The doctor who is away (as the institution writes the name).
    pub doctor: String,
    /// First day away.
    pub starts_on: NaiveDate,
    /// Last day away.
    pub ends_on: NaiveDate,
    /// What the backup needs to know (patients at risk, how to reach the doctor's notes).
    pub note: String,
}

impl Absence {
    /// Whether it can be recorded on `today`; the reason if not.
    pub fn check(&self, today: NaiveDate) -> Result<(), String> {
        let doctor = self.doctor.trim();
        if doctor.is_empty() {
            return Err("不在になる医師の名前を書いてください".into());
        }
        if doctor.chars().count() > limits::DOCTOR_CHARS {
            return Err(format!(
                "医師の名前は{}文字までにしてください",
                limits::DOCTOR_CHARS
            ));
        }
        if self.ends_on < self.starts_on {
            return Err("最終日が初日より前になっています".into());
        }
        if self.ends_on < today {
            return Err("終わった不在は登録できません（最終日が今日より前です）".into());
        }
        let days = (self.ends_on - self.starts_on).num_days() + 1;
        if days > limits::DAYS {
            return Err(format!(
                "不在は{}日までにしてください（{days}日になっています）。長期の場合は代診の手配を連携の拠点に相談してください",
                limits::DAYS
            ));
        }
        if self.note.chars().count() > limits::NOTE_CHARS {
            return Err(format!(
                "引き継ぎのメモは{}文字までにしてください",
                limits::NOTE_CHARS
            ));
        }
        Ok(())
    }

    /// Whether it shares a day with `other` (both inclusive).
    pub fn overlaps(&self, starts_on: NaiveDate, ends_on: NaiveDate) -> bool {
        self.starts_on <= ends_on && starts_on <= self.ends_on
    }

    /// Where it stands on `today`.
    pub fn phase(&self, today: NaiveDate) -> Phase {
        if today < self.starts_on {
            Phase::Upcoming
        } else if today <= self.ends_on {
            Phase::Current
        } else {
            Phase::Past
        }
    }
}

/// Where an absence stands in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Away now.
    Current,
    /// Still to come.
    Upcoming,
    /// Over.
    Past,
}

/// The same doctor's name as typed in different ways (full/half width, spaces, 「医師」「先生」):
/// what overlapping absences are compared by.
pub fn doctor_key(name: &str) -> String {
    let folded = crate::text::normalize(name);
    let mut key: String = folded.chars().filter(|c| !c.is_whitespace()).collect();
    for suffix in ["先生", "医師", "Dr.", "Dr"] {
        if let Some(stripped) = key.strip_suffix(suffix) {
            key = stripped.to_owned();
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).unwrap()
    }

    fn away(from: NaiveDate, until: NaiveDate) -> Absence {
        Absence {
            doctor: "山田 太郎".into(),
            starts_on: from,
            ends_on: until,
            note: String::new(),
        }
    }

    #[test]
    fn absences_are_checked() {
        let today = d(12, 2);
        assert_eq!(away(d(12, 28), d(12, 31)).check(today), Ok(()));
        assert!(away(d(12, 31), d(12, 28))
            .check(today)
            .unwrap_err()
            .contains("初日より前"));
        assert!(away(d(11, 20), d(11, 30))
            .check(today)
            .unwrap_err()
            .contains("終わった"));
        assert!(away(d(12, 3), NaiveDate::from_ymd_opt(2027, 6, 1).unwrap())
            .check(today)
            .unwrap_err()
            .contains("92日まで"));
        let mut nameless = away(d(12, 3), d(12, 4));
        nameless.doctor = " ".into();
        assert!(nameless.check(today).is_err());
    }

    #[test]
    fn overlap_and_phase() {
        let a = away(d(12, 28), d(12, 31));
        assert!(a.overlaps(d(12, 31), d(12, 31)));
        assert!(a.overlaps(d(12, 1), d(12, 28)));
        assert!(!a.overlaps(d(12, 1), d(12, 27)));
        assert_eq!(a.phase(d(12, 27)), Phase::Upcoming);
        assert_eq!(a.phase(d(12, 28)), Phase::Current);
        assert_eq!(a.phase(d(12, 31)), Phase::Current);
        assert_eq!(
            a.phase(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()),
            Phase::Past
        );
    }

    #[test]
    fn the_same_doctor_however_typed() {
        assert_eq!(doctor_key("山田 太郎"), doctor_key("山田太郎先生"));
        assert_eq!(doctor_key("ヤマダ　タロウ"), doctor_key("ﾔﾏﾀﾞ ﾀﾛｳ"));
        assert_ne!(doctor_key("山田太郎"), doctor_key("山田花子"));
    }
}
