//! Emergency power that institutions keep and lend (非常用電源の貸出): the units (generators,
//! batteries, vehicles that can supply power), and requests to borrow one for a home patient's
//! device, as 八尾市's active institutions set out in their 運用ルール — a clinic asks, the
//! nearest suitable unit is suggested, its owner agrees or declines, and the lending is recorded
//! until the unit comes back.

use crate::safety::{coded, FuelKind};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

coded! {
    /// What kind of unit it is.
    UnitKind {
        /// 可搬型発電機 (carried to where the power is needed).
        PortableGenerator = "portable_generator", "可搬型発電機", "Portable generator";
        /// 据置型の自家発電設備 (powers the building; cannot be lent).
        FixedGenerator = "fixed_generator", "据置型発電設備", "Fixed generator";
        /// ポータブル蓄電池.
        PortableBattery = "portable_battery", "ポータブル蓄電池", "Portable battery";
        /// 給電できる電動車 (EV, PHEV, FCV).
        Vehicle = "vehicle", "給電できる電動車", "Vehicle that supplies power";
        /// 無停電電源装置.
        Ups = "ups", "UPS（無停電電源装置）", "UPS";
    }
}

impl UnitKind {
    /// Whether a unit of this kind can be carried to another place (only those can be lent).
    pub fn movable(self) -> bool {
        !matches!(self, UnitKind::FixedGenerator)
    }
}

coded! {
    /// The device a borrowed unit is to power.
    Device {
        /// 人工呼吸器.
        Ventilator = "ventilator", "人工呼吸器", "Ventilator";
        /// 酸素濃縮装置.
        Oxygen = "oxygen", "酸素濃縮装置", "Oxygen concentrator";
        /// 吸引器.
        Suction = "suction", "吸引器", "Suction unit";
        /// その他の医療機器.
        Other = "other", "その他の医療機器", "Other medical device";
    }
}

impl Device {
    /// A typical power draw in watts, offered as the form's starting value (the requester
    /// corrects it from the device's label).
    pub fn typical_watts(self) -> u32 {
        match self {
            Device::Ventilator => 300,
            Device::Oxygen => 500,
            Device::Suction => 200,
            Device::Other => 300,
        }
    }
}

coded! {
    /// Where a lending request stands.
    LendingStatus {
        /// 依頼中: waiting for the owner.
        Requested = "requested", "依頼中", "Requested";
        /// 貸出決定: the owner agreed; the unit is out until returned.
        Agreed = "agreed", "貸出決定", "Agreed";
        /// お断り: the owner declined (with a reason).
        Declined = "declined", "お断り", "Declined";
        /// 取り下げ: the requester withdrew it.
        Withdrawn = "withdrawn", "取り下げ", "Withdrawn";
        /// 返却済.
        Returned = "returned", "返却済", "Returned";
    }
}

impl LendingStatus {
    /// Whether nothing more can happen to it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            LendingStatus::Declined | LendingStatus::Withdrawn | LendingStatus::Returned
        )
    }
}

/// Upper bounds of what a form may say (beyond them a number is a typing mistake).
pub mod limits {
    /// Output of one unit, W (a large hospital generator is about 1 MW).
    pub const OUTPUT_WATTS: u32 = 2_000_000;
    /// A battery's capacity, Wh.
    pub const CAPACITY_WH: u32 = 1_000_000;
    /// Hours on a full tank or charge.
    pub const RUNTIME_HOURS: u32 = 720;
    /// A home device's draw, W.
    pub const DEVICE_WATTS: u32 = 10_000;
    /// The longest lending, days.
    pub const LENDING_DAYS: i64 = 90;
}

/// One unit of emergency power an institution keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowerUnit {
    /// Its kind.
    pub kind: UnitKind,
    /// How the institution calls it (「ホンダ EU18i 1号機」).
    pub label: String,
    /// Rated output in watts.
    pub output_watts: u32,
    /// A battery's capacity in Wh.
    pub capacity_wh: Option<u32>,
    /// Hours on a full tank or charge.
    pub runtime_hours: Option<u32>,
    /// A generator's fuel.
    pub fuel: Option<FuelKind>,
    /// Whether the institution lends it to others.
    pub lendable: bool,
    /// Anything else (where it is kept, who to call).
    pub note: String,
}

impl PowerUnit {
    /// Checks the unit: a name, a possible output, only movable units lent.
    pub fn check(&self) -> Result<(), String> {
        if self.label.trim().is_empty() {
            return Err("機器の名前を入力してください（例：「可搬型発電機 1号機」）".into());
        }
        if self.label.chars().count() > 100 {
            return Err("機器の名前は100文字までにしてください".into());
        }
        if self.output_watts == 0 {
            return Err("定格出力（W）を入力してください".into());
        }
        if self.output_watts > limits::OUTPUT_WATTS {
            return Err(format!(
                "定格出力は {} W までで入力してください（kVA の値は 1,000 倍して W にします）",
                limits::OUTPUT_WATTS
            ));
        }
        if self.capacity_wh.is_some_and(|c| c > limits::CAPACITY_WH) {
            return Err(format!(
                "容量は {} Wh までで入力してください",
                limits::CAPACITY_WH
            ));
        }
        if self
            .runtime_hours
            .is_some_and(|h| h > limits::RUNTIME_HOURS)
        {
            return Err(format!(
                "運転できる時間は {} 時間までで入力してください",
                limits::RUNTIME_HOURS
            ));
        }
        if self.lendable && !self.kind.movable() {
            return Err(
                "据置型の発電設備は持ち出せないため「貸出できる」にできません。可搬型の機器を登録してください"
                    .into(),
            );
        }
        if self.note.chars().count() > 1000 {
            return Err("備考は1000文字までにしてください".into());
        }
        Ok(())
    }
}

/// What a requesting institution needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Need {
    /// The device to power.
    pub device: Device,
    /// Its draw in watts.
    pub watts: u32,
    /// First day of the lending.
    pub starts_on: NaiveDate,
    /// Last day of the lending.
    pub ends_on: NaiveDate,
}

impl Need {
    /// Checks the need against today: a possible draw, a period that starts no earlier than
    /// yesterday, ends after it starts, and lasts at most `limits::LENDING_DAYS`.
    pub fn check(&self, today: NaiveDate) -> Result<(), String> {
        if self.watts == 0 || self.watts > limits::DEVICE_WATTS {
            return Err(format!(
                "機器の消費電力は 1〜{} W で入力してください",
                limits::DEVICE_WATTS
            ));
        }
        if self.ends_on < self.starts_on {
            return Err("終了日が開始日より前になっています".into());
        }
        if self.starts_on < today.pred_opt().unwrap_or(today) {
            return Err("開始日が過ぎています。今日以降の日付にしてください".into());
        }
        if (self.ends_on - self.starts_on).num_days() >= limits::LENDING_DAYS {
            return Err(format!(
                "貸出期間は {} 日までです。長くなるときは、期間を分けて依頼してください",
                limits::LENDING_DAYS
            ));
        }
        Ok(())
    }

    /// Whether `unit` can serve this need (lendable, enough output).
    pub fn served_by(&self, unit: &PowerUnit) -> bool {
        unit.lendable && unit.kind.movable() && unit.output_watts >= self.watts
    }
}

/// A unit that could be lent, as the suggestion list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The unit's id.
    pub unit_id: i64,
    /// The unit.
    pub unit: PowerUnit,
    /// Its owner.
    pub institution_id: i64,
    /// Distance from the requester in km (`None` when either has no location).
    pub distance_km: Option<f64>,
    /// Whether an agreed lending overlaps the period asked for.
    pub busy: bool,
}

/// The candidates that serve `need`, free ones first, then nearest first (those without a
/// location last), at most `limit`.
pub fn suggest(need: &Need, mut candidates: Vec<Candidate>, limit: usize) -> Vec<Candidate> {
    candidates.retain(|c| need.served_by(&c.unit));
    candidates.sort_by(|a, b| {
        a.busy.cmp(&b.busy).then_with(|| {
            let da = a.distance_km.unwrap_or(f64::INFINITY);
            let db = b.distance_km.unwrap_or(f64::INFINITY);
            da.total_cmp(&db).then(a.unit_id.cmp(&b.unit_id))
        })
    });
    candidates.truncate(limit);
    candidates
}

/// Reads a day typed as 「2026-12-01」 (a date input), 「令和8年12月1日」 or 「R8.12.1」.
pub fn read_day(text: &str, field: &str) -> Result<NaiveDate, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("「{field}」を入力してください"));
    }
    match crate::fiscal_year::parse_japanese_date(text) {
        Ok(crate::fiscal_year::PartialDate::Date(d)) => Ok(d),
        _ => Err(format!(
            "「{field}」は日付で入力してください（例：2026-12-01、令和8年12月1日）（入力：「{text}」）"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(kind: UnitKind, watts: u32, lendable: bool) -> PowerUnit {
        PowerUnit {
            kind,
            label: "1号機".into(),
            output_watts: watts,
            capacity_wh: None,
            runtime_hours: Some(8),
            fuel: Some(FuelKind::Gasoline),
            lendable,
            note: String::new(),
        }
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn units_are_checked() {
        assert!(unit(UnitKind::PortableGenerator, 1600, true)
            .check()
            .is_ok());
        assert!(unit(UnitKind::PortableGenerator, 0, true).check().is_err());
        let fixed = unit(UnitKind::FixedGenerator, 50_000, true).check();
        assert!(fixed.unwrap_err().contains("据置型"));
        assert!(unit(UnitKind::FixedGenerator, 50_000, false)
            .check()
            .is_ok());
        let mut blank = unit(UnitKind::Vehicle, 1500, true);
        blank.label = "  ".into();
        assert!(blank.check().is_err());
        assert!(unit(UnitKind::PortableBattery, 3_000_000, false)
            .check()
            .is_err());
    }

    #[test]
    fn needs_are_checked_against_today() {
        let today = day("2026-12-01");
        let need = |w, a: &str, b: &str| Need {
            device: Device::Ventilator,
            watts: w,
            starts_on: day(a),
            ends_on: day(b),
        };
        assert!(need(300, "2026-12-01", "2026-12-03").check(today).is_ok());
        assert!(need(300, "2026-11-30", "2026-12-03").check(today).is_ok());
        assert!(need(300, "2026-11-20", "2026-12-03").check(today).is_err());
        assert!(need(300, "2026-12-05", "2026-12-03").check(today).is_err());
        assert!(need(0, "2026-12-01", "2026-12-03").check(today).is_err());
        assert!(need(300, "2026-12-01", "2027-06-01").check(today).is_err());
    }

    #[test]
    fn suggestions_put_free_and_near_units_first() {
        let need = Need {
            device: Device::Oxygen,
            watts: 500,
            starts_on: day("2026-12-01"),
            ends_on: day("2026-12-02"),
        };
        let c = |id, watts, lendable, km: Option<f64>, busy| Candidate {
            unit_id: id,
            unit: unit(UnitKind::PortableGenerator, watts, lendable),
            institution_id: id * 10,
            distance_km: km,
            busy,
        };
        let list = suggest(
            &need,
            vec![
                c(1, 1600, true, Some(5.0), false),
                c(2, 400, true, Some(0.5), false),
                c(3, 1600, false, Some(0.2), false),
                c(4, 1600, true, Some(1.0), true),
                c(5, 900, true, Some(2.0), false),
                c(6, 900, true, None, false),
            ],
            10,
        );
        let ids: Vec<i64> = list.iter().map(|c| c.unit_id).collect();
        assert_eq!(ids, [5, 1, 6, 4]);
        assert_eq!(
            suggest(&need, vec![c(1, 1600, true, Some(5.0), false)], 0).len(),
            0
        );
    }

    #[test]
    fn days_are_read_as_people_type_them() {
        assert_eq!(read_day("2026-12-01", "開始日"), Ok(day("2026-12-01")));
        assert_eq!(read_day("令和8年12月1日", "開始日"), Ok(day("2026-12-01")));
        assert!(read_day("12月1日", "開始日").is_err());
        assert!(read_day("", "開始日").unwrap_err().contains("開始日"));
    }
}
