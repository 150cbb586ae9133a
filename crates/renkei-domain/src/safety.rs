//! Safety checks (安否確認): a drill or a real alert sent to institutions, and their answers.
//!
//! As the national EMIS does for hospitals, an answer has two steps: a one-screen quick answer
//! (people, building, power, water, can accept patients) and details after (staff, home visits,
//! power-dependent home patients, needs; hospitals add the EDXL-HAVE fields). Every answer is
//! checked here: numbers must be possible (no negative staff, no 10,000 beds).

use crate::institution::InstitutionKind;
use serde::{Deserialize, Serialize};

/// Defines a closed set of answers with a stable code and Japanese and English labels.
macro_rules! coded {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal, $ja:literal, $en:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in form order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// Stable code (forms, CSV, the database).
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code,)+ }
            }

            /// The value with this code.
            pub fn from_code(code: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.code() == code)
            }

            /// Japanese label.
            pub fn label_ja(self) -> &'static str {
                match self { $($name::$variant => $ja,)+ }
            }

            /// English label.
            pub fn label_en(self) -> &'static str {
                match self { $($name::$variant => $en,)+ }
            }
        }
    };
}
pub(crate) use coded;

coded! {
    /// A drill or a real alert.
    CheckKind {
        /// 訓練.
        Drill = "drill", "訓練", "Drill";
        /// 実災害・実際の発令.
        Actual = "actual", "実災害", "Actual";
    }
}

coded! {
    /// Are the people (staff and patients on site) safe?
    People {
        /// 全員無事.
        Safe = "safe", "全員無事", "All safe";
        /// けが人あり.
        Injured = "injured", "けが人あり", "Injured";
        /// 確認中.
        Unknown = "unknown", "確認中", "Still checking";
    }
}

coded! {
    /// Damage to the building.
    Building {
        /// 被害なし.
        Intact = "intact", "被害なし", "No damage";
        /// 一部損壊（使用できる）.
        Partial = "partial", "一部損壊（使用できる）", "Partly damaged (usable)";
        /// 倒壊・倒壊のおそれ（使用できない）.
        Unusable = "unusable", "倒壊・倒壊のおそれ（使用できない）", "Collapsed or unsafe (not usable)";
    }
}

coded! {
    /// Where power comes from now.
    Power {
        /// 通常どおり（商用電源）.
        Grid = "grid", "通常どおり", "Grid";
        /// 非常用電源で稼働.
        Generator = "generator", "非常用電源", "Emergency power";
        /// 停電（電源なし）.
        Out = "out", "停電・電源なし", "No power";
    }
}

coded! {
    /// Water.
    Water {
        /// 使える.
        Available = "available", "使える", "Available";
        /// 制限あり（貯水のみ等）.
        Limited = "limited", "制限あり", "Limited";
        /// 使えない.
        Out = "out", "使えない", "Not available";
    }
}

coded! {
    /// Can the institution go on with home visits?
    HomeVisits {
        /// 継続できる.
        Continue = "continue", "継続できる", "Continuing";
        /// 一部なら.
        Limited = "limited", "一部なら", "Partly";
        /// できない.
        Stopped = "stopped", "できない", "Stopped";
    }
}

coded! {
    /// EDXL-HAVE `HospitalFacilityStatus`.
    FacilityStatus {
        /// Normal.
        Normal = "normal", "通常", "Normal";
        /// Compromised.
        Compromised = "compromised", "機能低下", "Compromised";
        /// Evacuating.
        Evacuating = "evacuating", "避難中", "Evacuating";
        /// Closed.
        Closed = "closed", "閉鎖", "Closed";
    }
}

coded! {
    /// EDXL-HAVE `EMSTrafficStatus` of the emergency department.
    EmergencyStatus {
        /// Normal.
        Normal = "normal", "通常受入", "Normal";
        /// Advisory.
        Advisory = "advisory", "受入制限", "Advisory";
        /// Closed.
        Closed = "closed", "受入停止", "Closed";
        /// NotApplicable.
        NotApplicable = "not_applicable", "救急部門なし", "Not applicable";
    }
}

coded! {
    /// Operating rooms (EDXL-HAVE `ClinicalStatus`, operating room).
    OperatingStatus {
        /// Usable.
        Available = "available", "使用可", "Available";
        /// Limited.
        Limited = "limited", "一部使用可", "Limited";
        /// Not usable.
        Unavailable = "unavailable", "使用不可", "Not available";
        /// None.
        NotApplicable = "not_applicable", "手術室なし", "Not applicable";
    }
}

coded! {
    /// Bed types of the hospital answer (EDXL-HAVE `BedType`, as Japanese hospitals count).
    BedType {
        /// 一般（内科・外科）.
        MedicalSurgical = "medical_surgical", "一般（内科・外科）", "Medical/surgical";
        /// ICU.
        AdultIcu = "adult_icu", "ICU（成人）", "Adult ICU";
        /// 小児.
        Pediatrics = "pediatrics", "小児", "Pediatrics";
        /// 精神.
        Psychiatric = "psychiatric", "精神", "Psychiatric";
        /// 陰圧（感染症）.
        NegativeFlowIsolation = "negative_flow_isolation", "陰圧個室", "Negative-flow isolation";
        /// その他.
        Other = "other", "その他", "Other";
    }
}

/// How a check chooses its targets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targeting {
    /// Area codes; empty means every area the coordinator may reach.
    #[serde(default)]
    pub areas: Vec<String>,
    /// Kinds (codes); empty means every kind.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Only active institutions (積極的医療機関).
    #[serde(default)]
    pub active_only: bool,
    /// A hand-picked list of institutions (ids); when given, only these.
    #[serde(default)]
    pub institutions: Vec<i64>,
}

impl Targeting {
    /// Whether an institution of `area`, `kind` and designation is a target (a hand-picked
    /// list, when given, is checked by the caller against ids).
    pub fn admits(&self, area: &str, kind: InstitutionKind, active: bool) -> bool {
        (self.areas.is_empty() || self.areas.iter().any(|a| a == area))
            && (self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind.code()))
            && (!self.active_only || active)
    }
}

/// A new safety check as a coordinator writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCheck {
    /// Title (「令和8年度 880万人訓練 安否確認」).
    pub title: String,
    /// Drill or actual.
    pub kind: CheckKind,
    /// A message to the targets.
    pub message: String,
    /// Answers are taken until (UTC).
    pub deadline: chrono::DateTime<chrono::Utc>,
    /// Who is asked.
    pub targeting: Targeting,
    /// Reminders to non-responders sent on their own, in minutes before the deadline.
    pub reminders_before: Vec<u32>,
}

impl NewCheck {
    /// Checks a new check at `now`: a title, a deadline after now and within 30 days.
    pub fn check(&self, now: chrono::DateTime<chrono::Utc>) -> Result<(), String> {
        let title = self.title.trim();
        if title.is_empty() {
            return Err("件名を入力してください".into());
        }
        if title.chars().count() > 200 {
            return Err("件名は200文字までです".into());
        }
        if self.message.chars().count() > 4000 {
            return Err("連絡事項は4000文字までです".into());
        }
        if self.deadline <= now {
            return Err("回答期限は今より後にしてください".into());
        }
        if self.deadline > now + chrono::Duration::days(30) {
            return Err("回答期限は30日以内にしてください".into());
        }
        if self
            .reminders_before
            .iter()
            .any(|m| *m == 0 || *m > 7 * 24 * 60)
        {
            return Err("自動の再送は、回答期限の1分前から7日前までの間で指定してください".into());
        }
        Ok(())
    }
}

/// Step one: the quick answer, one screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuickAnswer {
    /// People on site.
    pub people: People,
    /// The building.
    pub building: Building,
    /// Power.
    pub power: Power,
    /// Hours of fuel left, when on emergency power.
    #[serde(default)]
    pub fuel_hours: Option<u32>,
    /// Water.
    pub water: Water,
    /// How many patients it can accept now (0: none).
    pub can_accept: u32,
}

/// Power-dependent home patients who need help (人工呼吸器, 在宅酸素濃縮器, 吸引器).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowerDependent {
    /// On a ventilator.
    pub ventilator: u32,
    /// On an oxygen concentrator.
    pub oxygen: u32,
    /// Needing suction.
    pub suction: u32,
}

impl PowerDependent {
    /// All of them.
    pub fn total(&self) -> u32 {
        self.ventilator + self.oxygen + self.suction
    }
}

/// One bed type's count, each with its own time (EDXL-HAVE).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BedCount {
    /// The type.
    pub bed_type: BedType,
    /// Available now.
    pub available_now: u32,
    /// Available within 24 hours.
    pub available_24h: u32,
    /// When this count was given (UTC text).
    pub counted_at: String,
}

/// The hospital's part (EDXL-HAVE fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HospitalStatus {
    /// The facility.
    pub facility: FacilityStatus,
    /// The emergency department.
    pub emergency: EmergencyStatus,
    /// Operating rooms.
    pub operating: OperatingStatus,
    /// Beds by type.
    #[serde(default)]
    pub beds: Vec<BedCount>,
}

/// Step two: the details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Details {
    /// Staff able to work.
    #[serde(default)]
    pub staff_available: Option<u32>,
    /// Home visits.
    #[serde(default)]
    pub home_visits: Option<HomeVisits>,
    /// Power-dependent home patients needing help.
    #[serde(default)]
    pub power_dependent: PowerDependent,
    /// What they need (free text).
    #[serde(default)]
    pub needs: String,
    /// Hospitals only.
    #[serde(default)]
    pub hospital: Option<HospitalStatus>,
}

/// A whole answer: the quick part and, once given, the details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// Step one.
    pub quick: QuickAnswer,
    /// Step two.
    #[serde(default)]
    pub details: Option<Details>,
}

/// Upper bounds that keep numbers possible.
pub mod limits {
    /// Patients one institution can accept.
    pub const ACCEPT: u32 = 1_000;
    /// Hours of fuel (30 days).
    pub const FUEL_HOURS: u32 = 720;
    /// Staff of one institution.
    pub const STAFF: u32 = 5_000;
    /// Power-dependent patients of one institution, per device.
    pub const DEPENDENT: u32 = 1_000;
    /// Beds of one type.
    pub const BEDS: u32 = 3_000;
    /// Characters of the free text.
    pub const NEEDS_CHARS: usize = 2_000;
}

/// Reads a count typed on a phone: full-width digits, 「人」「床」「時間」 and commas are fine; a
/// negative, fractional or too large number is refused with the field's name.
pub fn read_count(text: &str, field: &str, max: u32) -> Result<Option<u32>, String> {
    let normalized = crate::text::normalize(text);
    let trimmed = normalized
        .trim()
        .trim_end_matches(['人', '床', '名', '件', '台'])
        .trim_end_matches("時間")
        .replace(',', "");
    if trimmed.is_empty() {
        return Ok(None);
    }
    let n: u32 = trimmed.parse().map_err(|_| {
        format!(
            "「{field}」は0以上の整数で入力してください（入力：「{}」）",
            text.trim()
        )
    })?;
    if n > max {
        return Err(format!(
            "「{field}」の {n} は多すぎます（{max} まで）。数字を確かめてください"
        ));
    }
    Ok(Some(n))
}

impl QuickAnswer {
    /// Checks the numbers: fuel hours only with emergency power, everything within bounds.
    pub fn check(&self) -> Result<(), String> {
        if self.can_accept > limits::ACCEPT {
            return Err(format!("受入可能な人数は {} 人までです", limits::ACCEPT));
        }
        match (self.power, self.fuel_hours) {
            (Power::Generator, Some(h)) if h > limits::FUEL_HOURS => Err(format!(
                "燃料の残り時間は {} 時間までで入力してください",
                limits::FUEL_HOURS
            )),
            (Power::Grid | Power::Out, Some(_)) => {
                Err("燃料の残り時間は、非常用電源で稼働しているときだけ入力してください".into())
            }
            _ => Ok(()),
        }
    }
}

impl Details {
    /// Checks the numbers and the text.
    pub fn check(&self) -> Result<(), String> {
        if self.staff_available.is_some_and(|s| s > limits::STAFF) {
            return Err(format!("勤務できる職員数は {} 人までです", limits::STAFF));
        }
        let p = &self.power_dependent;
        if [p.ventilator, p.oxygen, p.suction]
            .iter()
            .any(|n| *n > limits::DEPENDENT)
        {
            return Err(format!(
                "支援が必要な在宅患者数は機器ごとに {} 人までです",
                limits::DEPENDENT
            ));
        }
        if self.needs.chars().count() > limits::NEEDS_CHARS {
            return Err(format!(
                "必要なことは {} 文字までで書いてください",
                limits::NEEDS_CHARS
            ));
        }
        if let Some(h) = &self.hospital {
            for bed in &h.beds {
                if bed.available_now > limits::BEDS || bed.available_24h > limits::BEDS {
                    return Err(format!(
                        "{}の空床数は {} 床までです",
                        bed.bed_type.label_ja(),
                        limits::BEDS
                    ));
                }
            }
        }
        Ok(())
    }
}

coded! {
    /// The fuel of an emergency generator.
    FuelKind {
        /// 軽油.
        Diesel = "diesel", "軽油", "Diesel";
        /// A重油.
        HeavyOil = "heavy_oil", "A重油", "Heavy oil";
        /// ガソリン.
        Gasoline = "gasoline", "ガソリン", "Gasoline";
        /// LPガス.
        Lpg = "lpg", "LPガス", "LPG";
        /// 都市ガス.
        CityGas = "city_gas", "都市ガス", "City gas";
        /// その他.
        Other = "other", "その他", "Other";
    }
}

/// What does not change in a disaster, kept by the institution in normal times so that its
/// disaster answer stays short and the hub can estimate how long it holds out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    /// Generator output in kVA.
    #[serde(default)]
    pub generator_kva: Option<u32>,
    /// Its fuel.
    #[serde(default)]
    pub fuel: Option<FuelKind>,
    /// Fuel tank in litres.
    #[serde(default)]
    pub fuel_litres: Option<u32>,
    /// Hours the generator runs on a full tank.
    #[serde(default)]
    pub runtime_hours: Option<u32>,
    /// Water tank in litres.
    #[serde(default)]
    pub water_tank_litres: Option<u32>,
    /// Days of drugs in stock.
    #[serde(default)]
    pub drug_days: Option<u32>,
    /// Days of food in stock.
    #[serde(default)]
    pub food_days: Option<u32>,
    /// Days of drinking water in stock.
    #[serde(default)]
    pub water_days: Option<u32>,
    /// A satellite phone.
    #[serde(default)]
    pub satellite_phone: bool,
    /// Home patients under its care who depend on power (ventilator, oxygen, suction).
    #[serde(default)]
    pub dependent_patients: PowerDependent,
    /// Anything else worth knowing (free text).
    #[serde(default)]
    pub note: String,
}

impl Baseline {
    /// Checks the numbers: possible, within bounds.
    pub fn check(&self) -> Result<(), String> {
        let bounded = [
            (self.generator_kva, 10_000, "発電機の出力（kVA）"),
            (self.fuel_litres, 1_000_000, "燃料タンク（L）"),
            (self.runtime_hours, limits::FUEL_HOURS, "満タンでの運転時間"),
            (self.water_tank_litres, 10_000_000, "受水槽（L）"),
            (self.drug_days, 365, "医薬品の備蓄日数"),
            (self.food_days, 365, "食料の備蓄日数"),
            (self.water_days, 365, "飲料水の備蓄日数"),
        ];
        for (value, max, label) in bounded {
            if value.is_some_and(|v| v > max) {
                return Err(format!("「{label}」は {max} までで入力してください"));
            }
        }
        let p = &self.dependent_patients;
        if [p.ventilator, p.oxygen, p.suction]
            .iter()
            .any(|n| *n > limits::DEPENDENT)
        {
            return Err(format!(
                "電源が必要な在宅患者数は機器ごとに {} 人までです",
                limits::DEPENDENT
            ));
        }
        if self.note.chars().count() > limits::NEEDS_CHARS {
            return Err(format!("備考は {} 文字までです", limits::NEEDS_CHARS));
        }
        Ok(())
    }

    /// Hours of fuel to assume when an answer says "on emergency power" without hours: the full
    /// tank's runtime, as registered.
    pub fn assumed_fuel_hours(&self) -> Option<u32> {
        self.runtime_hours
    }
}

coded! {
    /// The state shown on the dashboard and the map, from the answer.
    Condition {
        /// 問題なし.
        Normal = "normal", "問題なし", "Normal";
        /// 支障あり.
        Impaired = "impaired", "支障あり", "Impaired";
        /// 支援が必要.
        Critical = "critical", "支援が必要", "Needs help";
        /// 未回答.
        NoAnswer = "no_answer", "未回答", "No answer";
    }
}

impl Answer {
    /// What the dashboard shows: needs help when people are hurt, the building cannot be used,
    /// there is no power, or power-dependent patients need help; impaired when anything else is
    /// short; normal otherwise.
    pub fn condition(&self) -> Condition {
        let q = &self.quick;
        let dependent = self
            .details
            .as_ref()
            .map_or(0, |d| d.power_dependent.total());
        if q.people == People::Injured
            || q.building == Building::Unusable
            || q.power == Power::Out
            || dependent > 0
        {
            Condition::Critical
        } else if q.people == People::Unknown
            || q.building == Building::Partial
            || q.power == Power::Generator
            || q.water != Water::Available
            || self
                .details
                .as_ref()
                .and_then(|d| d.home_visits)
                .is_some_and(|h| h != HomeVisits::Continue)
        {
            Condition::Impaired
        } else {
            Condition::Normal
        }
    }
}

/// Hours of fuel left now, from the hours given at `given_at`: what the hub plans with.
pub fn fuel_left(
    hours_given: u32,
    given_at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> f64 {
    let spent = (now - given_at).num_seconds().max(0) as f64 / 3600.0;
    (f64::from(hours_given) - spent).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn quick() -> QuickAnswer {
        QuickAnswer {
            people: People::Safe,
            building: Building::Intact,
            power: Power::Grid,
            fuel_hours: None,
            water: Water::Available,
            can_accept: 3,
        }
    }

    #[test]
    fn counts_typed_on_a_phone_are_read_and_absurd_ones_refused() {
        assert_eq!(read_count("１２人", "職員", 100), Ok(Some(12)));
        assert_eq!(read_count(" 48時間 ", "燃料", 720), Ok(Some(48)));
        assert_eq!(read_count("1,200床", "空床", 3000), Ok(Some(1200)));
        assert_eq!(read_count("", "職員", 100), Ok(None));
        for (bad, expected) in [
            ("-3", "0以上の整数"),
            ("2.5", "0以上の整数"),
            ("たくさん", "0以上の整数"),
            ("10000", "多すぎます"),
        ] {
            let e = read_count(bad, "職員", 5000).unwrap_err();
            assert!(e.contains(expected) && e.contains("職員"), "{bad}: {e}");
        }
    }

    #[test]
    fn answers_are_checked_and_classified() {
        assert!(quick().check().is_ok());
        let with_fuel_on_grid = QuickAnswer {
            fuel_hours: Some(10),
            ..quick()
        };
        assert!(with_fuel_on_grid.check().is_err());
        let too_many = QuickAnswer {
            can_accept: 5000,
            ..quick()
        };
        assert!(too_many.check().is_err());
        let a = |q: QuickAnswer, d: Option<Details>| Answer {
            quick: q,
            details: d,
        };
        assert_eq!(a(quick(), None).condition(), Condition::Normal);
        let generator = QuickAnswer {
            power: Power::Generator,
            fuel_hours: Some(24),
            ..quick()
        };
        assert!(generator.check().is_ok());
        assert_eq!(a(generator, None).condition(), Condition::Impaired);
        let unusable = QuickAnswer {
            building: Building::Unusable,
            ..quick()
        };
        assert_eq!(a(unusable, None).condition(), Condition::Critical);
        let dependent = Details {
            power_dependent: PowerDependent {
                ventilator: 1,
                ..PowerDependent::default()
            },
            ..Details::default()
        };
        assert_eq!(a(quick(), Some(dependent)).condition(), Condition::Critical);
        let beds = Details {
            hospital: Some(HospitalStatus {
                facility: FacilityStatus::Normal,
                emergency: EmergencyStatus::Normal,
                operating: OperatingStatus::Available,
                beds: vec![BedCount {
                    bed_type: BedType::MedicalSurgical,
                    available_now: 10_000,
                    available_24h: 0,
                    counted_at: String::new(),
                }],
            }),
            ..Details::default()
        };
        assert!(beds.check().unwrap_err().contains("3000 床まで"));
    }

    #[test]
    fn codes_round_trip_and_fuel_runs_down() {
        for kind in BedType::ALL {
            assert_eq!(BedType::from_code(kind.code()), Some(*kind));
        }
        assert_eq!(CheckKind::from_code("drill"), Some(CheckKind::Drill));
        let at = chrono::Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap();
        assert_eq!(fuel_left(24, at, at + chrono::Duration::hours(6)), 18.0);
        assert_eq!(fuel_left(5, at, at + chrono::Duration::hours(6)), 0.0);
    }

    #[test]
    fn a_baseline_is_bounded() {
        let fine = Baseline {
            generator_kva: Some(50),
            fuel: Some(FuelKind::Diesel),
            fuel_litres: Some(390),
            runtime_hours: Some(72),
            satellite_phone: true,
            ..Baseline::default()
        };
        assert!(fine.check().is_ok());
        assert_eq!(fine.assumed_fuel_hours(), Some(72));
        let absurd = Baseline {
            drug_days: Some(3650),
            ..fine
        };
        assert!(absurd.check().unwrap_err().contains("医薬品の備蓄日数"));
    }

    #[test]
    fn a_check_needs_a_title_and_a_deadline_ahead() {
        let now = chrono::Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap();
        let check = NewCheck {
            title: "880万人訓練".into(),
            kind: CheckKind::Drill,
            message: String::new(),
            deadline: now + chrono::Duration::hours(2),
            targeting: Targeting::default(),
            reminders_before: vec![30, 120],
        };
        assert!(check.check(now).is_ok());
        let past = NewCheck {
            deadline: now - chrono::Duration::minutes(1),
            ..check.clone()
        };
        assert!(past.check(now).unwrap_err().contains("今より後"));
        let untitled = NewCheck {
            title: " ".into(),
            ..check.clone()
        };
        assert!(untitled.check(now).is_err());
        let reminder_at_deadline = NewCheck {
            reminders_before: vec![0],
            ..check
        };
        assert!(reminder_at_deadline
            .check(now)
            .unwrap_err()
            .contains("自動の再送"));
    }
}
