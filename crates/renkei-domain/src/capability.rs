//! Services and capabilities an institution offers (往診, 訪問診療, 24時間対応 …): what citizens and
//! professionals search the directory by.

use crate::text::search_key;

/// One service or capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// 往診
    HouseCall,
    /// 訪問診療
    HomeVisit,
    /// 24時間対応
    AlwaysAvailable,
    /// 看取り
    EndOfLife,
    /// 緩和ケア
    Palliative,
    /// 認知症
    Dementia,
    /// 小児在宅
    PediatricHome,
    /// 医療的ケア児
    MedicalCareChildren,
    /// 在宅酸素
    HomeOxygen,
    /// 人工呼吸器
    Ventilator,
    /// 中心静脈栄養
    ParenteralNutrition,
    /// 経管栄養
    TubeFeeding,
    /// 褥瘡
    PressureUlcer,
    /// レスパイト入院受入
    RespiteAdmission,
    /// 急変時入院受入
    EmergencyAdmission,
}

impl Capability {
    /// Every capability in display order.
    pub const ALL: [Capability; 15] = [
        Capability::HouseCall,
        Capability::HomeVisit,
        Capability::AlwaysAvailable,
        Capability::EndOfLife,
        Capability::Palliative,
        Capability::Dementia,
        Capability::PediatricHome,
        Capability::MedicalCareChildren,
        Capability::HomeOxygen,
        Capability::Ventilator,
        Capability::ParenteralNutrition,
        Capability::TubeFeeding,
        Capability::PressureUlcer,
        Capability::RespiteAdmission,
        Capability::EmergencyAdmission,
    ];

    /// Code stored in the database and used in URLs and exports.
    pub fn code(self) -> &'static str {
        match self {
            Self::HouseCall => "house_call",
            Self::HomeVisit => "home_visit",
            Self::AlwaysAvailable => "always_available",
            Self::EndOfLife => "end_of_life",
            Self::Palliative => "palliative",
            Self::Dementia => "dementia",
            Self::PediatricHome => "pediatric_home",
            Self::MedicalCareChildren => "medical_care_children",
            Self::HomeOxygen => "home_oxygen",
            Self::Ventilator => "ventilator",
            Self::ParenteralNutrition => "parenteral_nutrition",
            Self::TubeFeeding => "tube_feeding",
            Self::PressureUlcer => "pressure_ulcer",
            Self::RespiteAdmission => "respite_admission",
            Self::EmergencyAdmission => "emergency_admission",
        }
    }

    /// Parses a stored code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            Self::HouseCall => "往診",
            Self::HomeVisit => "訪問診療",
            Self::AlwaysAvailable => "24時間対応",
            Self::EndOfLife => "看取り",
            Self::Palliative => "緩和ケア",
            Self::Dementia => "認知症",
            Self::PediatricHome => "小児在宅",
            Self::MedicalCareChildren => "医療的ケア児",
            Self::HomeOxygen => "在宅酸素",
            Self::Ventilator => "人工呼吸器",
            Self::ParenteralNutrition => "中心静脈栄養",
            Self::TubeFeeding => "経管栄養",
            Self::PressureUlcer => "褥瘡",
            Self::RespiteAdmission => "レスパイト入院受入",
            Self::EmergencyAdmission => "急変時入院受入",
        }
    }

    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            Self::HouseCall => "House calls",
            Self::HomeVisit => "Scheduled home visits",
            Self::AlwaysAvailable => "24-hour availability",
            Self::EndOfLife => "End-of-life care at home",
            Self::Palliative => "Palliative care",
            Self::Dementia => "Dementia",
            Self::PediatricHome => "Children's home care",
            Self::MedicalCareChildren => "Children needing medical care",
            Self::HomeOxygen => "Home oxygen",
            Self::Ventilator => "Ventilator",
            Self::ParenteralNutrition => "Parenteral nutrition",
            Self::TubeFeeding => "Tube feeding",
            Self::PressureUlcer => "Pressure ulcers",
            Self::RespiteAdmission => "Respite admission",
            Self::EmergencyAdmission => "Emergency admission",
        }
    }

    /// Other words people type for it.
    fn synonyms(self) -> &'static [&'static str] {
        match self {
            Self::AlwaysAvailable => &["24時間", "24h", "夜間対応"],
            Self::EndOfLife => &["在宅看取り", "ターミナル", "ターミナルケア"],
            Self::HomeOxygen => &["在宅酸素療法", "HOT"],
            Self::Ventilator => &["呼吸器", "人工呼吸"],
            Self::ParenteralNutrition => &["IVH", "TPN", "中心静脈"],
            Self::TubeFeeding => &["胃ろう", "胃瘻", "経管"],
            Self::PressureUlcer => &["床ずれ"],
            Self::RespiteAdmission => &["レスパイト", "レスパイト入院"],
            Self::EmergencyAdmission => &["急変時入院", "緊急入院"],
            Self::Dementia => &["認知症対応"],
            Self::MedicalCareChildren => &["医ケア児"],
            _ => &[],
        }
    }

    /// The capability a search term names (its label or a usual synonym), if any:
    /// 「24時間」 → 24時間対応, 「ＩＶＨ」 → 中心静脈栄養, 「八尾」 → none.
    pub fn from_term(term: &str) -> Option<Self> {
        let key = search_key(term);
        if key.is_empty() {
            return None;
        }
        Self::ALL.into_iter().find(|c| {
            search_key(c.label_ja()) == key || c.synonyms().iter().any(|s| search_key(s) == key)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_terms_name_capabilities() {
        for c in Capability::ALL {
            assert_eq!(Capability::from_code(c.code()), Some(c));
            assert_eq!(Capability::from_term(c.label_ja()), Some(c));
        }
        assert_eq!(
            Capability::from_term("24時間"),
            Some(Capability::AlwaysAvailable)
        );
        assert_eq!(
            Capability::from_term("２４時間"),
            Some(Capability::AlwaysAvailable)
        );
        assert_eq!(
            Capability::from_term("ivh"),
            Some(Capability::ParenteralNutrition)
        );
        assert_eq!(
            Capability::from_term("れすぱいと"),
            Some(Capability::RespiteAdmission)
        );
        assert_eq!(Capability::from_term("八尾"), None);
        assert_eq!(Capability::from_term(""), None);
    }
}

crate::serde_as_code!(Capability, "capability");
