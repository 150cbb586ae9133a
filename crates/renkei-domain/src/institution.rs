//! Institutions (医療機関・事業所) and their designation as active institutions (積極的医療機関).

use crate::region::{AreaCode, Role, RoleStatus};

/// Database identifier of an institution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct InstitutionId(pub i64);

/// The kind of an institution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InstitutionKind {
    /// 病院
    Hospital,
    /// 診療所
    Clinic,
    /// 歯科診療所
    DentalClinic,
    /// 薬局
    Pharmacy,
    /// 訪問看護ステーション
    VisitingNurseStation,
    /// 居宅介護支援事業所 (care managers)
    CareSupportOffice,
    /// 地域包括支援センター
    CommunityCareCenter,
    /// 障害福祉サービス事業所
    DisabilityWelfareService,
    /// その他
    Other,
}

impl InstitutionKind {
    /// All kinds in display order.
    pub const ALL: [InstitutionKind; 9] = [
        InstitutionKind::Hospital,
        InstitutionKind::Clinic,
        InstitutionKind::DentalClinic,
        InstitutionKind::Pharmacy,
        InstitutionKind::VisitingNurseStation,
        InstitutionKind::CareSupportOffice,
        InstitutionKind::CommunityCareCenter,
        InstitutionKind::DisabilityWelfareService,
        InstitutionKind::Other,
    ];

    /// Code stored in the database and used in URLs.
    pub fn code(self) -> &'static str {
        match self {
            Self::Hospital => "hospital",
            Self::Clinic => "clinic",
            Self::DentalClinic => "dental_clinic",
            Self::Pharmacy => "pharmacy",
            Self::VisitingNurseStation => "visiting_nurse_station",
            Self::CareSupportOffice => "care_support_office",
            Self::CommunityCareCenter => "community_care_center",
            Self::DisabilityWelfareService => "disability_welfare_service",
            Self::Other => "other",
        }
    }

    /// Parses a stored code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            Self::Hospital => "病院",
            Self::Clinic => "診療所",
            Self::DentalClinic => "歯科診療所",
            Self::Pharmacy => "薬局",
            Self::VisitingNurseStation => "訪問看護ステーション",
            Self::CareSupportOffice => "居宅介護支援事業所",
            Self::CommunityCareCenter => "地域包括支援センター",
            Self::DisabilityWelfareService => "障害福祉サービス事業所",
            Self::Other => "その他",
        }
    }

    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            Self::Hospital => "Hospital",
            Self::Clinic => "Clinic",
            Self::DentalClinic => "Dental clinic",
            Self::Pharmacy => "Pharmacy",
            Self::VisitingNurseStation => "Visiting-nurse station",
            Self::CareSupportOffice => "Care-support office",
            Self::CommunityCareCenter => "Community comprehensive care centre",
            Self::DisabilityWelfareService => "Disability-welfare service",
            Self::Other => "Other",
        }
    }

    /// Whether this kind can be designated an active institution (積極的医療機関 are hospitals
    /// and clinics under the 8th Medical Plan).
    pub fn can_be_active(self) -> bool {
        matches!(self, Self::Hospital | Self::Clinic)
    }
}

/// Why an institution was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstitutionError {
    /// A required field is empty.
    #[error("{0}を入力してください")]
    Missing(&'static str),
    /// Coordinates outside the valid range.
    #[error("座標が範囲外です（緯度 {lat}, 経度 {lng}）")]
    Coordinates {
        /// Latitude given.
        lat: String,
        /// Longitude given.
        lng: String,
    },
    /// Only hospitals and clinics can be active institutions.
    #[error("{0}は積極的医療機関に指定できません（病院・診療所のみ）")]
    NotActivatable(&'static str),
    /// Role statuses given for an institution that is not active.
    #[error("積極的医療機関でない機関に役割の対応状況は登録できません")]
    RolesWithoutDesignation,
    /// A postcode that is not seven digits.
    #[error("郵便番号は7桁の数字で入力してください（例: 581-0003）")]
    Postcode,
    /// A phone number with other characters.
    #[error("電話番号は数字とハイフンで入力してください（例: 072-000-0000）")]
    Phone,
    /// A 医療機関コード that is not ten digits.
    #[error("医療機関コードは10桁の数字で入力してください（例: 2712345678）")]
    MedicalCode,
    /// A fax number with other characters.
    #[error("FAX番号は数字とハイフンで入力してください（例: 072-000-0001）")]
    Fax,
    /// A web address that is not http(s).
    #[error("ウェブサイトは https:// で始まるアドレスで入力してください")]
    Website,
    /// A free-text field over its limit.
    #[error("{0}は{1}文字以内で入力してください")]
    TooLong(&'static str, usize),
    /// ⑥ needs inpatient beds.
    #[error("⑥急変時の入院受入れを「現状対応可」にできるのは入院機能を有する医療機関のみです")]
    AdmissionWithoutBeds,
}

/// A point in WGS 84.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lng: f64,
}

impl GeoPoint {
    /// A point, refused when outside −90..90 / −180..180 or not finite.
    pub fn new(lat: f64, lng: f64) -> Result<Self, InstitutionError> {
        let valid = lat.is_finite() && lng.is_finite() && lat.abs() <= 90.0 && lng.abs() <= 180.0;
        if valid {
            Ok(Self { lat, lng })
        } else {
            Err(InstitutionError::Coordinates {
                lat: lat.to_string(),
                lng: lng.to_string(),
            })
        }
    }
}

/// An institution about to be stored (serialisable, so a checked import can wait in the
/// database).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewInstitution {
    /// Its kind.
    pub kind: InstitutionKind,
    /// Name as written.
    pub name: String,
    /// Reading in katakana.
    pub name_kana: String,
    /// The area it belongs to.
    pub area: AreaCode,
    /// Municipality code.
    pub municipality: String,
    /// Town (大字・町丁目) name, when known.
    pub town: Option<String>,
    /// Postcode, seven digits without hyphen.
    pub postcode: Option<String>,
    /// Address as written, including the municipality.
    pub address: String,
    /// Location and how it was obtained.
    pub location: Option<PlacedPoint>,
    /// Phone number.
    pub phone: Option<String>,
    /// Whether it has inpatient beds (入院機能).
    pub has_beds: bool,
    /// Fictional record of the demo data set.
    pub is_demo: bool,
    /// Designated an active institution (積極的医療機関).
    pub is_active: bool,
    /// Reported status of the six roles; empty when not reported.
    pub roles: Vec<RoleEntry>,
    /// Codes, contacts, hours and readiness.
    pub details: Details,
    /// Services and capabilities offered.
    pub capabilities: Vec<crate::capability::Capability>,
    /// Where reminders to confirm the entry go.
    pub contact_email: Option<String>,
    /// How many days ago the entry was last confirmed (`None`: never).
    pub confirmed_days_ago: Option<u32>,
}

impl NewInstitution {
    /// Checks the rules that do not need the database.
    pub fn validate(&self) -> Result<(), InstitutionError> {
        if self.name.trim().is_empty() {
            return Err(InstitutionError::Missing("名称"));
        }
        if self.address.trim().is_empty() {
            return Err(InstitutionError::Missing("所在地"));
        }
        if let Some(point) = self.location {
            GeoPoint::new(point.lat, point.lng)?;
        }
        if self.is_active && !self.kind.can_be_active() {
            return Err(InstitutionError::NotActivatable(self.kind.label_ja()));
        }
        self.public_fields()
            .check_roles(self.is_active, self.has_beds)
    }

    /// The fields its institution edits, as they will be stored.
    pub fn public_fields(&self) -> PublicFields {
        PublicFields {
            name: self.name.clone(),
            name_kana: self.name_kana.clone(),
            postcode: self.postcode.clone(),
            address: self.address.clone(),
            phone: self.phone.clone(),
            capabilities: self
                .capabilities
                .iter()
                .map(|c| c.code().to_owned())
                .collect(),
            details: self.details.clone(),
            location: self.location,
            roles: self.roles.clone(),
        }
    }
}

/// How a location was obtained, so users know how far to trust a pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationPrecision {
    /// Given by the institution or its file (a surveyed or picked point).
    Given,
    /// The centre of the town (町丁目) of the address, from the town table.
    Town,
    /// The centre of the postcode's town.
    Postcode,
}

impl LocationPrecision {
    /// All precisions.
    pub const ALL: [LocationPrecision; 3] = [Self::Given, Self::Town, Self::Postcode];

    /// Code stored in the database.
    pub fn code(self) -> &'static str {
        match self {
            Self::Given => "given",
            Self::Town => "town",
            Self::Postcode => "postcode",
        }
    }

    /// Parses a code or a Japanese label.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.code() == text || p.label_ja() == text)
    }

    /// Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            Self::Given => "指定",
            Self::Town => "町丁目の代表点",
            Self::Postcode => "郵便番号の代表点",
        }
    }
}

/// A location with how it was obtained.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlacedPoint {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lng: f64,
    /// How it was obtained.
    pub precision: LocationPrecision,
}

impl PlacedPoint {
    /// The point rounded to six decimals (about 10 cm), as files and forms carry it, so a
    /// location read back from an export compares equal.
    pub fn rounded(self) -> Self {
        let round = |v: f64| (v * 1e6).round() / 1e6;
        Self {
            lat: round(self.lat),
            lng: round(self.lng),
            precision: self.precision,
        }
    }
}

/// An active institution's status of one role, with its plan in its own words.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoleEntry {
    /// The role.
    pub role: Role,
    /// Its status.
    pub status: RoleStatus,
    /// What the institution plans (free text), if anything.
    #[serde(default)]
    pub plan: Option<String>,
}

/// What looks wrong in a well-formed 医療機関コード (ten digits: prefecture 2, 点数表 1, 郡市区 2,
/// institution 4, check digit 1), in Japanese; empty when nothing does. These are doubts to show
/// the person importing, not refusals: the rules below hold for the published codes checked
/// (`../shared/data/open-data/FORMATS.md` §4), but no official text states them all.
/// - The prefecture digits must be a prefecture (01–47) and, when the entry's municipality is
///   known (`municipality`, its JIS code), its prefecture.
/// - The 点数表 digit is 医科 1, 歯科 3, 調剤 4, 老健 5 or 訪問看護 6.
/// - The check digit is Luhn's over the first nine digits (weights 2, 1, 2, … from the right;
///   digits of two-digit products added; 10 − sum mod 10). Codes of 埼玉, 千葉, 東京 and 神奈川
///   (11–14) pass Luhn over the six digits after the 点数表 digit instead, so either is taken.
pub fn medical_code_doubts(code: &str, municipality: Option<&str>) -> Vec<String> {
    let digits: Vec<u32> = code.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 10 || code.len() != 10 {
        return Vec::new();
    }
    let mut doubts = Vec::new();
    let prefecture = digits[0] * 10 + digits[1];
    if !(1..=47).contains(&prefecture) {
        doubts.push(format!(
            "都道府県番号「{:02}」は 01〜47 のどれでもありません",
            prefecture
        ));
    } else if let Some(expected) = municipality
        .and_then(|m| m.get(..2))
        .and_then(|p| p.parse::<u32>().ok())
        .filter(|p| *p != prefecture)
    {
        doubts.push(format!(
            "都道府県番号「{prefecture:02}」が所在地の都道府県（{expected:02}）と違います"
        ));
    }
    if !matches!(digits[2], 1 | 3 | 4 | 5 | 6) {
        doubts.push(format!(
            "点数表番号「{}」は医科 1・歯科 3・調剤 4・老健 5・訪問看護 6 のどれでもありません",
            digits[2]
        ));
    }
    let luhn = |part: &[u32]| -> u32 {
        let sum: u32 = part
            .iter()
            .rev()
            .enumerate()
            .map(|(i, d)| {
                let p = if i % 2 == 0 { d * 2 } else { *d };
                p / 10 + p % 10
            })
            .sum();
        (10 - sum % 10) % 10
    };
    let check = digits[9];
    let six_digit_rule = (11..=14).contains(&prefecture) && luhn(&digits[3..9]) == check;
    if luhn(&digits[..9]) != check && !six_digit_rule {
        doubts.push(
            "検証番号（末尾の 1 桁）が合いません。打ち間違いがないか確かめてください".to_owned(),
        );
    }
    doubts
}

/// Checks a 医療機関コード as JP Core's JP_Organization writes it: ten digits (prefecture 2,
/// 点数表 1, institution 7). Hyphens, dots and spaces that people type are removed.
pub fn clean_medical_code(text: &str) -> Result<Option<String>, InstitutionError> {
    let digits: String = crate::text::normalize(text)
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | ' '))
        .collect();
    if digits.is_empty() {
        return Ok(None);
    }
    if digits.len() == 10 && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(Some(digits))
    } else {
        Err(InstitutionError::MedicalCode)
    }
}

/// The fields of an entry beyond name, address and phone: codes, contacts, hours and
/// disaster readiness. Every field defaults, so older stored versions still read.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Details {
    /// 医療機関コード (ten digits), where there is one.
    #[serde(default)]
    pub medical_code: Option<String>,
    /// Fax.
    #[serde(default)]
    pub fax: Option<String>,
    /// Web site (http or https).
    #[serde(default)]
    pub website: Option<String>,
    /// Opening or consultation hours, as the institution writes them.
    #[serde(default)]
    pub hours: Option<String>,
    /// Contact person or desk (担当者・窓口).
    #[serde(default)]
    pub contact_person: Option<String>,
    /// Emergency power.
    #[serde(default)]
    pub power: crate::readiness::EmergencyPower,
    /// Business-continuity plan.
    #[serde(default)]
    pub bcp: crate::readiness::BcpStatus,
}

/// The public fields of an entry that its institution edits and the hub coordinator approves.
/// Fields added after the first release default when an older stored version lacks them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PublicFields {
    /// Name.
    pub name: String,
    /// Reading in katakana.
    pub name_kana: String,
    /// Postcode, seven digits.
    pub postcode: Option<String>,
    /// Address.
    pub address: String,
    /// Phone.
    pub phone: Option<String>,
    /// Capability codes, in capability order.
    pub capabilities: Vec<String>,
    /// Codes, contacts, hours and readiness.
    #[serde(flatten)]
    pub details: Details,
    /// Location and how it was obtained.
    #[serde(default)]
    pub location: Option<PlacedPoint>,
    /// The six roles of an active institution, in role order (empty for others).
    #[serde(default)]
    pub roles: Vec<RoleEntry>,
}

/// One changed field: its key, the value before and the value proposed (as shown to people).
pub type FieldChange = (&'static str, String, String);

/// Diff keys of the six roles.
const ROLE_KEYS: [&str; 6] = [
    "役割① 急変時の診療支援",
    "役割② 在宅療養移行のサービス確保",
    "役割③ 地域医療研修",
    "役割④ 災害時計画",
    "役割⑤ 地域包括支援センター等との協働",
    "役割⑥ 急変時の入院受入れ",
];

impl PublicFields {
    /// Normalises what was typed (spaces; 全角/半角 in address, phone and postcode; the reading in
    /// katakana) and checks
    /// the rules; the first problem is returned in Japanese.
    pub fn cleaned(mut self) -> Result<Self, InstitutionError> {
        // Names keep their typography (「［デモ］」, full-width letters); only spaces are tidied.
        self.name = self.name.split_whitespace().collect::<Vec<_>>().join(" ");
        self.name_kana = crate::text::to_katakana(&crate::text::normalize(&self.name_kana));
        self.address = crate::text::normalize(&self.address);
        self.phone = self
            .phone
            .map(|p| crate::text::normalize(&p))
            .filter(|p| !p.is_empty());
        self.postcode = self
            .postcode
            .map(|p| {
                crate::text::normalize(&p)
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect::<String>()
            })
            .filter(|p| !p.is_empty());
        let mut caps: Vec<crate::capability::Capability> = self
            .capabilities
            .iter()
            .filter_map(|c| crate::capability::Capability::from_code(c))
            .collect();
        caps.sort();
        caps.dedup();
        self.capabilities = caps.iter().map(|c| c.code().to_owned()).collect();
        let tidy = |v: Option<String>| {
            v.map(|t| crate::text::normalize(&t))
                .filter(|t| !t.is_empty())
        };
        self.details.fax = tidy(self.details.fax.take());
        self.details.website = tidy(self.details.website.take());
        self.details.hours = tidy(self.details.hours.take());
        self.details.contact_person = tidy(self.details.contact_person.take());
        self.details.power.capacity = tidy(self.details.power.capacity.take());
        if let Some(code) = self.details.medical_code.take() {
            self.details.medical_code = clean_medical_code(&code)?;
        }
        for entry in &mut self.roles {
            entry.plan = tidy(entry.plan.take());
        }
        self.roles.sort_by_key(|r| r.role);
        self.roles.dedup_by_key(|r| r.role);
        if self.name.is_empty() || self.name.chars().count() > 200 {
            return Err(InstitutionError::Missing("名称"));
        }
        if self.address.is_empty() {
            return Err(InstitutionError::Missing("所在地"));
        }
        if self.postcode.as_ref().is_some_and(|p| p.len() != 7) {
            return Err(InstitutionError::Postcode);
        }
        if self.phone.as_ref().is_some_and(|p| {
            !p.chars()
                .all(|c| c.is_ascii_digit() || c == '-' || c == '(' || c == ')')
                || p.len() > 20
        }) {
            return Err(InstitutionError::Phone);
        }
        if self.details.fax.as_ref().is_some_and(|p| {
            !p.chars()
                .all(|c| c.is_ascii_digit() || c == '-' || c == '(' || c == ')')
                || p.len() > 20
        }) {
            return Err(InstitutionError::Fax);
        }
        if self.details.website.as_ref().is_some_and(|w| {
            !(w.starts_with("https://") || w.starts_with("http://"))
                || w.len() > 300
                || w.chars().any(|c| c.is_whitespace() || c == '"' || c == '<')
        }) {
            return Err(InstitutionError::Website);
        }
        for (value, limit, field) in [
            (&self.details.hours, 300, "診療・営業時間"),
            (&self.details.contact_person, 100, "担当者・窓口"),
            (&self.details.power.capacity, 200, "非常用電源の容量"),
        ] {
            if value.as_ref().is_some_and(|v| v.chars().count() > limit) {
                return Err(InstitutionError::TooLong(field, limit));
            }
        }
        if self
            .roles
            .iter()
            .any(|r| r.plan.as_ref().is_some_and(|p| p.chars().count() > 500))
        {
            return Err(InstitutionError::TooLong("役割の計画", 500));
        }
        if let Some(point) = self.location {
            GeoPoint::new(point.lat, point.lng)?;
            self.location = Some(point.rounded());
        }
        Ok(self)
    }

    /// Checks the role statuses against the institution's designation and beds.
    pub fn check_roles(&self, is_active: bool, has_beds: bool) -> Result<(), InstitutionError> {
        if !is_active && !self.roles.is_empty() {
            return Err(InstitutionError::RolesWithoutDesignation);
        }
        let admits = self
            .roles
            .iter()
            .any(|r| r.role == Role::EmergencyAdmission && r.status == RoleStatus::Available);
        if admits && !has_beds {
            return Err(InstitutionError::AdmissionWithoutBeds);
        }
        Ok(())
    }

    /// The fields that differ from `before`, with Japanese labels as keys.
    pub fn diff(&self, before: &PublicFields) -> Vec<FieldChange> {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let caps = |v: &[String]| {
            v.iter()
                .filter_map(|c| crate::capability::Capability::from_code(c))
                .map(|c| c.label_ja())
                .collect::<Vec<_>>()
                .join("、")
        };
        let mut out = Vec::new();
        let mut push = |key: &'static str, old: String, new: String| {
            if old != new {
                out.push((key, old, new));
            }
        };
        push("名称", before.name.clone(), self.name.clone());
        push("よみがな", before.name_kana.clone(), self.name_kana.clone());
        push("郵便番号", opt(&before.postcode), opt(&self.postcode));
        push("所在地", before.address.clone(), self.address.clone());
        push("電話", opt(&before.phone), opt(&self.phone));
        push(
            "できること",
            caps(&before.capabilities),
            caps(&self.capabilities),
        );
        push(
            "医療機関コード",
            opt(&before.details.medical_code),
            opt(&self.details.medical_code),
        );
        push("FAX", opt(&before.details.fax), opt(&self.details.fax));
        push(
            "ウェブサイト",
            opt(&before.details.website),
            opt(&self.details.website),
        );
        push(
            "診療・営業時間",
            opt(&before.details.hours),
            opt(&self.details.hours),
        );
        push(
            "担当者・窓口",
            opt(&before.details.contact_person),
            opt(&self.details.contact_person),
        );
        let place = |p: &Option<PlacedPoint>| {
            p.map(|p| format!("{:.6}, {:.6}（{}）", p.lat, p.lng, p.precision.label_ja()))
                .unwrap_or_default()
        };
        push("位置", place(&before.location), place(&self.location));
        let power = |p: &crate::readiness::EmergencyPower| {
            let mut text = p.kind.label_ja().to_owned();
            if let Some(capacity) = &p.capacity {
                text.push_str(&format!("（{capacity}）"));
            }
            if p.lendable {
                text.push_str("・貸出可");
            }
            text
        };
        push(
            "非常用電源",
            power(&before.details.power),
            power(&self.details.power),
        );
        push(
            "BCP",
            before.details.bcp.label_ja().to_owned(),
            self.details.bcp.label_ja().to_owned(),
        );
        for role in Role::ALL {
            let of = |f: &PublicFields| {
                f.roles
                    .iter()
                    .find(|r| r.role == role)
                    .map(|r| match &r.plan {
                        Some(plan) => format!("{}（{plan}）", r.status.label_ja()),
                        None => r.status.label_ja().to_owned(),
                    })
                    .unwrap_or_default()
            };
            push(ROLE_KEYS[role.number() as usize - 1], of(before), of(self));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(role: Role, status: RoleStatus) -> RoleEntry {
        RoleEntry {
            role,
            status,
            plan: None,
        }
    }

    fn clinic() -> NewInstitution {
        NewInstitution {
            kind: InstitutionKind::Clinic,
            name: "［デモ］さくら在宅クリニック".into(),
            name_kana: "サクラザイタククリニック".into(),
            area: AreaCode::parse("yao").unwrap(),
            municipality: "27212".into(),
            town: Some("本町一丁目".into()),
            postcode: None,
            address: "大阪府八尾市本町一丁目1-1".into(),
            location: Some(PlacedPoint {
                lat: 34.62,
                lng: 135.6,
                precision: LocationPrecision::Given,
            }),
            phone: None,
            has_beds: false,
            is_demo: true,
            is_active: true,
            roles: vec![role(Role::AcuteSupport, RoleStatus::Available)],
            details: Details::default(),
            capabilities: vec![crate::capability::Capability::HomeVisit],
            contact_email: None,
            confirmed_days_ago: Some(10),
        }
    }

    #[test]
    fn medical_codes_are_checked_by_the_published_rules() {
        // Published codes: 市立柏原病院, and the example of the check-digit rule.
        assert!(medical_code_doubts("2714600018", Some("27221")).is_empty());
        assert!(medical_code_doubts("0110113719", None).is_empty());
        // One digit changed: the check digit no longer agrees.
        assert_eq!(medical_code_doubts("2714600019", None).len(), 1);
        // 東京 (13): Luhn over the six digits only (FORMATS.md §4) is taken. The test's own
        // Luhn, written as the usual table of doubled digits' sums.
        let six = |d: &str| {
            const DOUBLED: [u32; 10] = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];
            let digits: Vec<u32> = d.chars().map(|c| c.to_digit(10).unwrap()).collect();
            let n = digits.len();
            let sum: u32 = (0..n)
                .map(|k| {
                    let d = digits[n - 1 - k];
                    if k % 2 == 0 {
                        DOUBLED[d as usize]
                    } else {
                        d
                    }
                })
                .sum();
            (10 - sum % 10) % 10
        };
        let tokyo = format!("131012345{}", six("012345"));
        assert!(
            medical_code_doubts(&tokyo, Some("13101")).is_empty(),
            "{tokyo}"
        );
        // Outside 11–14 the six-digit rule is not taken (the example is chosen so that the two
        // rules give different digits).
        let nine: u32 = (0..10)
            .find(|d| medical_code_doubts(&format!("271012345{d}"), None).is_empty())
            .unwrap();
        assert_ne!(nine, six("012345"), "the example tells the rules apart");
        let osaka_like = format!("271012345{}", six("012345"));
        assert!(
            !medical_code_doubts(&osaka_like, None).is_empty(),
            "not outside 11–14"
        );
        // The prefecture of the address, and the 点数表 digit.
        let doubts = medical_code_doubts("2714600018", Some("13101"));
        assert!(doubts[0].contains("所在地の都道府県"), "{doubts:?}");
        assert!(medical_code_doubts("9914600018", None)[0].contains("01〜47"));
        assert!(medical_code_doubts("2724600018", None)
            .iter()
            .any(|d| d.contains("点数表番号")));
        assert!(
            medical_code_doubts("27146", None).is_empty(),
            "not a code: refused elsewhere"
        );
    }

    #[test]
    fn a_valid_clinic_passes() {
        assert_eq!(clinic().validate(), Ok(()));
    }

    #[test]
    fn rules_are_enforced() {
        let mut c = clinic();
        c.name = "  ".into();
        assert_eq!(c.validate(), Err(InstitutionError::Missing("名称")));

        let mut c = clinic();
        c.location = Some(PlacedPoint {
            lat: 91.0,
            lng: 0.0,
            precision: LocationPrecision::Given,
        });
        assert!(matches!(
            c.validate(),
            Err(InstitutionError::Coordinates { .. })
        ));

        let mut c = clinic();
        c.kind = InstitutionKind::Pharmacy;
        assert_eq!(c.validate(), Err(InstitutionError::NotActivatable("薬局")));

        let mut c = clinic();
        c.is_active = false;
        assert_eq!(c.validate(), Err(InstitutionError::RolesWithoutDesignation));

        let mut c = clinic();
        c.roles
            .push(role(Role::EmergencyAdmission, RoleStatus::Available));
        assert_eq!(c.validate(), Err(InstitutionError::AdmissionWithoutBeds));
        c.has_beds = true;
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn public_fields_are_cleaned_and_compared() {
        let typed = PublicFields {
            name: " ［デモ］さくら　クリニック ".into(),
            name_kana: "さくらくりにっく".into(),
            postcode: Some("５８１－０００３".into()),
            address: "八尾市本町１－１".into(),
            phone: Some("０７２－０００－００００".into()),
            capabilities: vec![
                "home_visit".into(),
                "house_call".into(),
                "nonsense".into(),
                "home_visit".into(),
            ],
            details: Details {
                medical_code: Some("２７１－２３４５６７８".into()),
                fax: Some("０７２－０００－０００１".into()),
                website: Some(" https://example.jp/ ".into()),
                hours: Some("".into()),
                ..Details::default()
            },
            location: None,
            roles: vec![
                RoleEntry {
                    role: Role::Training,
                    status: RoleStatus::Planned,
                    plan: Some(" 令和８年度に開始 ".into()),
                },
                role(Role::AcuteSupport, RoleStatus::Available),
            ],
        };
        let clean = typed.cleaned().unwrap();
        assert_eq!(
            clean.name, "［デモ］さくら クリニック",
            "names keep their typography"
        );
        assert_eq!(clean.name_kana, "サクラクリニック");
        assert_eq!(clean.postcode.as_deref(), Some("5810003"));
        assert_eq!(clean.phone.as_deref(), Some("072-000-0000"));
        assert_eq!(clean.capabilities, ["house_call", "home_visit"]);
        assert_eq!(clean.details.medical_code.as_deref(), Some("2712345678"));
        assert_eq!(clean.details.fax.as_deref(), Some("072-000-0001"));
        assert_eq!(
            clean.details.website.as_deref(),
            Some("https://example.jp/")
        );
        assert_eq!(clean.details.hours, None, "an empty field is no value");
        assert_eq!(
            clean.roles.iter().map(|r| r.role).collect::<Vec<_>>(),
            [Role::AcuteSupport, Role::Training],
            "roles in role order"
        );
        assert_eq!(clean.roles[1].plan.as_deref(), Some("令和8年度に開始"));
        assert_eq!(
            clean.check_roles(false, false),
            Err(InstitutionError::RolesWithoutDesignation)
        );
        assert_eq!(clean.check_roles(true, false), Ok(()));
        for (edit, expected) in [
            (
                (|f: &mut PublicFields| f.details.medical_code = Some("12345".into()))
                    as fn(&mut PublicFields),
                InstitutionError::MedicalCode,
            ),
            (
                |f| f.details.website = Some("javascript:alert(1)".into()),
                InstitutionError::Website,
            ),
            (
                |f| f.details.fax = Some("fax me".into()),
                InstitutionError::Fax,
            ),
            (
                |f| f.details.hours = Some("あ".repeat(301)),
                InstitutionError::TooLong("診療・営業時間", 300),
            ),
        ] {
            let mut bad = clean.clone();
            edit(&mut bad);
            assert_eq!(bad.cleaned(), Err(expected));
        }
        let old_version: PublicFields = serde_json::from_str(
            r#"{"name":"x","name_kana":"","postcode":null,"address":"y","phone":null,"capabilities":[]}"#,
        )
        .expect("a version stored before the details existed still reads");
        assert_eq!(old_version.details, Details::default());
        let mut changed = clean.clone();
        changed.phone = Some("072-111-1111".into());
        changed.capabilities.push("end_of_life".into());
        let diff = changed.diff(&clean);
        assert_eq!(diff.len(), 2, "{diff:?}");
        assert_eq!(
            diff[0],
            ("電話", "072-000-0000".to_owned(), "072-111-1111".to_owned())
        );
        assert_eq!(diff[1].2, "往診、訪問診療、看取り");
        let mut bad = clean.clone();
        bad.postcode = Some("123".into());
        assert_eq!(bad.cleaned(), Err(InstitutionError::Postcode));
        let mut bad = clean;
        bad.phone = Some("call me".into());
        assert_eq!(bad.cleaned(), Err(InstitutionError::Phone));
    }

    #[test]
    fn kinds_round_trip_through_their_codes() {
        for kind in InstitutionKind::ALL {
            assert_eq!(InstitutionKind::from_code(kind.code()), Some(kind));
        }
        assert!(GeoPoint::new(f64::NAN, 0.0).is_err());
    }
}

crate::serde_as_code!(InstitutionKind, "institution kind");
