//! The region model: prefecture → secondary medical region → areas, each served by a hub.
//!
//! A region is described by a TOML file (see `data/region/nakakawachi.toml`), so Renkei can serve
//! any region of any prefecture; the 中河内 file is the one shipped and embedded.

use serde::Deserialize;
use std::fmt;

/// The 中河内 region file, embedded so a clone works on its own.
pub const NAKAKAWACHI_TOML: &str = include_str!("../../../data/region/nakakawachi.toml");

/// Why a region definition was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegionError {
    /// The TOML could not be parsed.
    #[error("地域定義ファイルを読み取れません: {0}")]
    Parse(#[from] toml::de::Error),
    /// The TOML parsed but breaks a rule (unknown reference, duplicate code…).
    #[error("地域定義が不正です: {0}")]
    Invalid(String),
}

/// A prefecture (都道府県), identified by its JIS X 0401 code.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Prefecture {
    /// Two-digit JIS X 0401 code, e.g. "27".
    pub code: String,
    /// Japanese name, e.g. 大阪府.
    pub name: String,
    /// English name.
    pub name_en: String,
}

/// A secondary medical region (二次医療圏) of a prefecture.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MedicalRegion {
    /// Stable code used in URLs and files.
    pub code: String,
    /// Japanese name, e.g. 中河内.
    pub name: String,
    /// English name.
    pub name_en: String,
}

/// A municipality (市町村), identified by its local-government code.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Municipality {
    /// Five-digit 全国地方公共団体コード without the check digit, e.g. "27227".
    pub code: String,
    /// Japanese name, e.g. 東大阪市.
    pub name: String,
    /// English name.
    pub name_en: String,
}

/// A stable, URL-safe code naming an area, e.g. `higashiosaka-west`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(transparent)]
pub struct AreaCode(String);

impl AreaCode {
    /// Accepts lowercase ASCII letters, digits and hyphens (1–64 characters).
    pub fn parse(code: &str) -> Result<Self, RegionError> {
        let ok = !code.is_empty()
            && code.len() <= 64
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(code.to_owned()))
        } else {
            Err(RegionError::Invalid(format!(
                "地域コード「{code}」は英小文字・数字・ハイフンのみ使えます"
            )))
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AreaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An area (対象地域) together with the hub (連携の拠点) that serves it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Area {
    /// Stable code.
    pub code: AreaCode,
    /// Japanese name as the report writes it, e.g. 東大阪市（西地区）.
    pub name: String,
    /// English name.
    pub name_en: String,
    /// Code of the municipality the area lies in.
    pub municipality: String,
    /// The report's document number for this hub, e.g. 資料2-1.
    pub document: String,
    /// The hub's operating organisations (実施主体・連携の拠点), one or more.
    pub hub_operators: Vec<String>,
    /// The contractor of the municipal 在宅医療・介護連携推進事業 (市町村医介連携事業（委託先）).
    pub contractor: String,
}

impl Area {
    /// The hub as one line, e.g. 「柏原市医師会、市立柏原病院」.
    pub fn hub_label(&self) -> String {
        self.hub_operators.join("、")
    }
}

/// One longitude band of a district approximation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LongitudeBand {
    /// The area a town in this band belongs to.
    pub area: AreaCode,
    /// Towns with a longitude below this value fall in the band; `None` for the last band.
    pub below_lng: Option<f64>,
}

/// An approximate split of one municipality into several areas by longitude bands, used where the
/// true district boundaries are not available.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DistrictApproximation {
    /// The municipality split.
    pub municipality: String,
    /// Shown beside every town assigned this way.
    pub note: String,
    /// Bands from west to east.
    pub bands: Vec<LongitudeBand>,
}

impl DistrictApproximation {
    /// The area of a town at longitude `lng`.
    pub fn area_for(&self, lng: f64) -> Option<&AreaCode> {
        self.bands
            .iter()
            .find(|band| band.below_lng.is_none_or(|limit| lng < limit))
            .map(|band| &band.area)
    }
}

/// A whole region definition: prefecture, region, municipalities, areas and their hubs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RegionDefinition {
    /// The prefecture.
    pub prefecture: Prefecture,
    /// The secondary medical region.
    pub region: MedicalRegion,
    /// Municipalities of the region.
    pub municipalities: Vec<Municipality>,
    /// Areas in report order, each with its hub.
    pub areas: Vec<Area>,
    /// Approximate splits of municipalities served by several hubs.
    #[serde(default)]
    pub district_approximations: Vec<DistrictApproximation>,
}

/// How a town was assigned to its area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TownAssignment {
    /// The municipality has a single area.
    Municipality,
    /// Assigned by a [`DistrictApproximation`]; needs a coordinator's check.
    Approximation,
    /// Set or confirmed by a coordinator.
    Coordinator,
}

impl TownAssignment {
    /// Code stored in the database.
    pub fn code(self) -> &'static str {
        match self {
            Self::Municipality => "municipality",
            Self::Approximation => "approximation",
            Self::Coordinator => "coordinator",
        }
    }

    /// Parses a stored code.
    pub fn from_code(code: &str) -> Option<Self> {
        [Self::Municipality, Self::Approximation, Self::Coordinator]
            .into_iter()
            .find(|a| a.code() == code)
    }
}

impl RegionDefinition {
    /// Parses and validates a region file.
    pub fn from_toml(text: &str) -> Result<Self, RegionError> {
        let region: Self = toml::from_str(text)?;
        region.validate()?;
        Ok(region)
    }

    /// The embedded 中河内 definition.
    pub fn nakakawachi() -> Self {
        Self::from_toml(NAKAKAWACHI_TOML).expect("the embedded region file is valid (tested)")
    }

    fn validate(&self) -> Result<(), RegionError> {
        let mut seen = std::collections::HashSet::new();
        for area in &self.areas {
            AreaCode::parse(area.code.as_str())?;
            if !seen.insert(area.code.as_str()) {
                return Err(RegionError::Invalid(format!(
                    "地域コード「{}」が重複しています",
                    area.code
                )));
            }
            if self.municipality(&area.municipality).is_none() {
                return Err(RegionError::Invalid(format!(
                    "地域「{}」の市町村コード「{}」が municipalities にありません",
                    area.name, area.municipality
                )));
            }
            if area.hub_operators.is_empty() {
                return Err(RegionError::Invalid(format!(
                    "地域「{}」に連携の拠点がありません",
                    area.name
                )));
            }
        }
        for approx in &self.district_approximations {
            let last_open = approx.bands.last().is_some_and(|b| b.below_lng.is_none());
            if !last_open {
                return Err(RegionError::Invalid(
                    "経度帯の最後は below_lng なしにしてください".into(),
                ));
            }
            for band in &approx.bands {
                let area = self.area(&band.area).ok_or_else(|| {
                    RegionError::Invalid(format!("経度帯の地域「{}」がありません", band.area))
                })?;
                if area.municipality != approx.municipality {
                    return Err(RegionError::Invalid(format!(
                        "経度帯の地域「{}」は市町村 {} に属していません",
                        band.area, approx.municipality
                    )));
                }
            }
        }
        Ok(())
    }

    /// The municipality with this code.
    pub fn municipality(&self, code: &str) -> Option<&Municipality> {
        self.municipalities.iter().find(|m| m.code == code)
    }

    /// The municipality with this Japanese name.
    pub fn municipality_by_name(&self, name: &str) -> Option<&Municipality> {
        self.municipalities.iter().find(|m| m.name == name)
    }

    /// The area with this code.
    pub fn area(&self, code: &AreaCode) -> Option<&Area> {
        self.areas.iter().find(|a| &a.code == code)
    }

    /// The area a town of `municipality` at longitude `lng` belongs to, and how it was decided.
    pub fn area_of_town(
        &self,
        municipality: &str,
        lng: f64,
    ) -> Option<(&AreaCode, TownAssignment)> {
        if let Some(approx) = self
            .district_approximations
            .iter()
            .find(|a| a.municipality == municipality)
        {
            return approx
                .area_for(lng)
                .map(|a| (a, TownAssignment::Approximation));
        }
        let mut areas = self.areas.iter().filter(|a| a.municipality == municipality);
        match (areas.next(), areas.next()) {
            (Some(only), None) => Some((&only.code, TownAssignment::Municipality)),
            _ => None,
        }
    }
}

/// The hub's five duties (連携の拠点の取組 ①〜⑤).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Duty {
    /// ① 会議の開催
    Meetings,
    /// ② 地域の資源の把握・関係機関との調整
    Resources,
    /// ③ 急変時対応等の体制構築等
    AcuteCare,
    /// ④ 在宅医療に係る研修
    Training,
    /// ⑤ 在宅医療の普及啓発
    Awareness,
}

impl Duty {
    /// All duties in report order.
    pub const ALL: [Duty; 5] = [
        Duty::Meetings,
        Duty::Resources,
        Duty::AcuteCare,
        Duty::Training,
        Duty::Awareness,
    ];

    /// Number 1–5.
    pub fn number(self) -> u8 {
        self as u8 + 1
    }

    /// Circled number as the report writes it, ①–⑤.
    pub fn circled(self) -> char {
        circled(self.number())
    }

    /// The official Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            Duty::Meetings => "会議の開催",
            Duty::Resources => "地域の資源の把握・関係機関との調整",
            Duty::AcuteCare => "急変時対応等の体制構築等",
            Duty::Training => "在宅医療に係る研修",
            Duty::Awareness => "在宅医療の普及啓発",
        }
    }

    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            Duty::Meetings => "Meetings",
            Duty::Resources => "Knowing resources and coordinating",
            Duty::AcuteCare => "Acute deterioration and disaster readiness",
            Duty::Training => "Training",
            Duty::Awareness => "Public awareness",
        }
    }
}

/// The six roles of an active institution (積極的医療機関の役割 ①〜⑥).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// ① 急変時の診療支援
    AcuteSupport,
    /// ② 在宅療養に移行する患者への医療・介護、障害福祉サービスの確保
    TransitionServices,
    /// ③ 地域医療研修の機会確保
    Training,
    /// ④ 災害時における医療提供のための計画策定
    DisasterPlan,
    /// ⑤ 地域包括支援センター等との協働
    CommunityCenter,
    /// ⑥ 患者の急変時の入院受入れ（入院機能を有する医療機関）
    EmergencyAdmission,
}

impl Role {
    /// All roles in report order.
    pub const ALL: [Role; 6] = [
        Role::AcuteSupport,
        Role::TransitionServices,
        Role::Training,
        Role::DisasterPlan,
        Role::CommunityCenter,
        Role::EmergencyAdmission,
    ];

    /// Number 1–6.
    pub fn number(self) -> u8 {
        self as u8 + 1
    }

    /// Circled number, ①–⑥.
    pub fn circled(self) -> char {
        circled(self.number())
    }

    /// Code stored in the database.
    pub fn code(self) -> &'static str {
        match self {
            Role::AcuteSupport => "acute_support",
            Role::TransitionServices => "transition_services",
            Role::Training => "training",
            Role::DisasterPlan => "disaster_plan",
            Role::CommunityCenter => "community_center",
            Role::EmergencyAdmission => "emergency_admission",
        }
    }

    /// Parses a stored code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The official Japanese label, as the report writes it.
    pub fn label_ja(self) -> &'static str {
        match self {
            Role::AcuteSupport => "急変時の診療支援",
            Role::TransitionServices => {
                "在宅療養に移行する患者への医療・介護、障害福祉サービスの確保"
            }
            Role::Training => "地域医療研修の機会確保",
            Role::DisasterPlan => "災害時における医療提供のための計画策定",
            Role::CommunityCenter => "地域包括支援センター等との協働",
            Role::EmergencyAdmission => "患者の急変時の入院受入れ（入院機能を有する医療機関）",
        }
    }

    /// Short Japanese label for tables and charts.
    pub fn short_ja(self) -> &'static str {
        match self {
            Role::AcuteSupport => "急変時の診療支援",
            Role::TransitionServices => "在宅療養移行のサービス確保",
            Role::Training => "地域医療研修",
            Role::DisasterPlan => "災害時計画",
            Role::CommunityCenter => "地域包括支援センター等との協働",
            Role::EmergencyAdmission => "急変時の入院受入れ",
        }
    }

    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            Role::AcuteSupport => "Support in acute deterioration",
            Role::TransitionServices => "Services for patients moving to home care",
            Role::Training => "Regional training opportunities",
            Role::DisasterPlan => "Disaster care plan",
            Role::CommunityCenter => "Work with community care centres",
            Role::EmergencyAdmission => "Emergency admission (institutions with beds)",
        }
    }
}

/// How far an active institution fulfils a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleStatus {
    /// 現状対応可 — can do it now.
    Available,
    /// 対応予定 — planned.
    Planned,
    /// 未対応 — not done.
    No,
}

impl RoleStatus {
    /// All statuses.
    pub const ALL: [RoleStatus; 3] = [RoleStatus::Available, RoleStatus::Planned, RoleStatus::No];

    /// Code stored in the database.
    pub fn code(self) -> &'static str {
        match self {
            RoleStatus::Available => "available",
            RoleStatus::Planned => "planned",
            RoleStatus::No => "no",
        }
    }

    /// Parses a stored code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Japanese label as the report writes it.
    pub fn label_ja(self) -> &'static str {
        match self {
            RoleStatus::Available => "現状対応可",
            RoleStatus::Planned => "対応予定",
            RoleStatus::No => "未対応",
        }
    }

    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            RoleStatus::Available => "Available now",
            RoleStatus::Planned => "Planned",
            RoleStatus::No => "Not yet",
        }
    }
}

pub(crate) fn circled(n: u8) -> char {
    char::from_u32(0x2460 + u32::from(n) - 1).unwrap_or('?')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nakakawachi_has_the_five_areas_and_hubs_of_the_report() {
        let region = RegionDefinition::nakakawachi();
        let hubs: Vec<_> = region
            .areas
            .iter()
            .map(|a| (a.name.as_str(), a.hub_label()))
            .collect();
        assert_eq!(
            hubs,
            vec![
                ("東大阪市（西地区）", "布施医師会".to_owned()),
                ("東大阪市（中地区）", "河内医師会".to_owned()),
                ("東大阪市（東地区）", "枚岡医師会".to_owned()),
                ("八尾市", "八尾市医師会".to_owned()),
                ("柏原市", "柏原市医師会、市立柏原病院".to_owned()),
            ]
        );
        assert_eq!(region.areas[3].contractor, "八尾市");
    }

    #[test]
    fn towns_of_a_split_city_are_approximated_and_others_follow_their_city() {
        let region = RegionDefinition::nakakawachi();
        let (west, how) = region.area_of_town("27227", 135.56).unwrap();
        assert_eq!(west.as_str(), "higashiosaka-west");
        assert_eq!(how, TownAssignment::Approximation);
        assert_eq!(
            region.area_of_town("27227", 135.61).unwrap().0.as_str(),
            "higashiosaka-central"
        );
        assert_eq!(
            region.area_of_town("27227", 135.65).unwrap().0.as_str(),
            "higashiosaka-east"
        );
        let (yao, how) = region.area_of_town("27212", 135.6).unwrap();
        assert_eq!((yao.as_str(), how), ("yao", TownAssignment::Municipality));
        assert!(region.area_of_town("99999", 135.6).is_none());
    }

    #[test]
    fn invalid_region_files_are_refused_with_a_reason() {
        let broken =
            NAKAKAWACHI_TOML.replace("municipality = \"27212\"", "municipality = \"00000\"");
        let err = RegionDefinition::from_toml(&broken)
            .unwrap_err()
            .to_string();
        assert!(err.contains("00000"), "{err}");
        assert!(RegionDefinition::from_toml("[prefecture").is_err());
        let dup = NAKAKAWACHI_TOML.replace("code = \"yao\"", "code = \"kashiwara\"");
        assert!(RegionDefinition::from_toml(&dup)
            .unwrap_err()
            .to_string()
            .contains("重複"));
    }

    #[test]
    fn labels_follow_the_report() {
        assert_eq!(Duty::Resources.circled(), '②');
        assert_eq!(Duty::Awareness.label_ja(), "在宅医療の普及啓発");
        assert_eq!(Role::EmergencyAdmission.circled(), '⑥');
        assert_eq!(
            Role::DisasterPlan.label_ja(),
            "災害時における医療提供のための計画策定"
        );
        for role in Role::ALL {
            assert_eq!(Role::from_code(role.code()), Some(role));
        }
        assert_eq!(
            RoleStatus::from_code("available"),
            Some(RoleStatus::Available)
        );
        assert!(AreaCode::parse("Yao").is_err());
    }
}
