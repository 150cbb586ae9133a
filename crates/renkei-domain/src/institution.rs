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

/// An institution about to be stored.
#[derive(Debug, Clone, PartialEq)]
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
    /// Location.
    pub location: Option<GeoPoint>,
    /// Phone number.
    pub phone: Option<String>,
    /// Whether it has inpatient beds (入院機能).
    pub has_beds: bool,
    /// Fictional record of the demo data set.
    pub is_demo: bool,
    /// Designated an active institution (積極的医療機関).
    pub is_active: bool,
    /// Reported status of the six roles; empty when not reported.
    pub roles: Vec<(Role, RoleStatus)>,
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
        if !self.is_active && !self.roles.is_empty() {
            return Err(InstitutionError::RolesWithoutDesignation);
        }
        let admits = self.roles.iter().any(|&(role, status)| {
            role == Role::EmergencyAdmission && status == RoleStatus::Available
        });
        if admits && !self.has_beds {
            return Err(InstitutionError::AdmissionWithoutBeds);
        }
        Ok(())
    }
}

/// The public fields of an entry that its institution edits and the hub coordinator approves.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
}

/// One changed field: its key, the value before and the value proposed (as shown to people).
pub type FieldChange = (&'static str, String, String);

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
        Ok(self)
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
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            location: Some(GeoPoint {
                lat: 34.62,
                lng: 135.6,
            }),
            phone: None,
            has_beds: false,
            is_demo: true,
            is_active: true,
            roles: vec![(Role::AcuteSupport, RoleStatus::Available)],
            capabilities: vec![crate::capability::Capability::HomeVisit],
            contact_email: None,
            confirmed_days_ago: Some(10),
        }
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
        c.location = Some(GeoPoint {
            lat: 91.0,
            lng: 0.0,
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
            .push((Role::EmergencyAdmission, RoleStatus::Available));
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
        let mut changed = clean.clone();
        changed.phone = Some("072-111-1111".into());
        changed.capabilities.push("end_of_life".into());
        let diff = changed.diff(&clean);
        assert_eq!(diff.len(), 2);
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
