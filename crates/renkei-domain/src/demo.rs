//! The demo data set: fictional institutions of the 中河内 region, placed on real towns.
//!
//! Everything here is invented and says so: every name starts with 「［デモ］」, every record is
//! marked `is_demo`, and phone numbers begin with 000 (no Japanese number does). The active
//! institutions (積極的医療機関) have exactly the counts of the region's report, and their role
//! statuses reproduce the report's 対応状況 counts.

use crate::capability::Capability;
use crate::institution::{
    Details, InstitutionKind, LocationPrecision, NewInstitution, PlacedPoint, RoleEntry,
};
use crate::readiness::{BcpStatus, EmergencyPower, PowerKind};
use crate::region::{AreaCode, RegionDefinition, Role, RoleStatus};
use crate::towns::{postcode_for, Postcode, TableError, Town};
use std::collections::HashSet;

/// The prefix that marks every demo institution's name.
pub const DEMO_MARK: &str = "［デモ］";

/// How many institutions of each kind an area gets, in [`InstitutionKind::ALL`] order.
struct AreaPlan {
    area: &'static str,
    per_kind: [usize; 9],
    /// Active institutions: (hospitals, clinics).
    active: (usize, usize),
    /// 対応状況 counts of roles ①–⑥ as the report gives them (`None`: not reported).
    role_counts: Option<[usize; 6]>,
}

/// Counts roughly follow each area's population; the active-institution counts and role counts
/// are the report's (資料2-2: 西 7件, 資料2-4: 中 6件, 資料2-6: 東 3件, 資料2-8: 八尾 3→6機関).
/// 八尾市's report gives no 対応状況 counts, and 柏原市's has no active-institution section.
const PLANS: [AreaPlan; 5] = [
    AreaPlan {
        area: "higashiosaka-west",
        per_kind: [4, 55, 28, 28, 10, 18, 3, 7, 2],
        active: (1, 6),
        role_counts: Some([5, 6, 5, 2, 7, 1]),
    },
    AreaPlan {
        area: "higashiosaka-central",
        per_kind: [3, 40, 20, 20, 8, 14, 2, 5, 1],
        active: (1, 5),
        role_counts: Some([1, 4, 2, 1, 4, 1]),
    },
    AreaPlan {
        area: "higashiosaka-east",
        per_kind: [3, 34, 17, 17, 7, 12, 2, 4, 1],
        active: (1, 2),
        role_counts: Some([2, 3, 3, 1, 3, 1]),
    },
    AreaPlan {
        area: "yao",
        per_kind: [6, 70, 35, 35, 13, 24, 4, 9, 2],
        active: (2, 4),
        role_counts: None,
    },
    AreaPlan {
        area: "kashiwara",
        per_kind: [2, 18, 9, 9, 4, 6, 1, 3, 1],
        active: (0, 0),
        role_counts: None,
    },
];

/// Invented name stems with their readings.
const STEMS: [(&str, &str); 32] = [
    ("さくら", "サクラ"),
    ("あおば", "アオバ"),
    ("ひまわり", "ヒマワリ"),
    ("みどり", "ミドリ"),
    ("わかば", "ワカバ"),
    ("こもれび", "コモレビ"),
    ("すずらん", "スズラン"),
    ("つばさ", "ツバサ"),
    ("あさひ", "アサヒ"),
    ("かえで", "カエデ"),
    ("やまびこ", "ヤマビコ"),
    ("なごみ", "ナゴミ"),
    ("ほほえみ", "ホホエミ"),
    ("いずみ", "イズミ"),
    ("はるかぜ", "ハルカゼ"),
    ("せせらぎ", "セセラギ"),
    ("たんぽぽ", "タンポポ"),
    ("ひだまり", "ヒダマリ"),
    ("のぞみ", "ノゾミ"),
    ("あかり", "アカリ"),
    ("こすもす", "コスモス"),
    ("まごころ", "マゴコロ"),
    ("すこやか", "スコヤカ"),
    ("山田", "ヤマダ"),
    ("中村", "ナカムラ"),
    ("田中", "タナカ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("清水", "シミズ"),
    ("池田", "イケダ"),
    ("岡本", "オカモト"),
];

fn suffixes(kind: InstitutionKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        InstitutionKind::Hospital => &[("病院", "ビョウイン"), ("記念病院", "キネンビョウイン")],
        InstitutionKind::Clinic => &[
            ("内科クリニック", "ナイカクリニック"),
            ("在宅クリニック", "ザイタククリニック"),
            ("医院", "イイン"),
            ("ファミリークリニック", "ファミリークリニック"),
            ("診療所", "シンリョウジョ"),
        ],
        InstitutionKind::DentalClinic => &[
            ("歯科医院", "シカイイン"),
            ("歯科クリニック", "シカクリニック"),
        ],
        InstitutionKind::Pharmacy => &[("薬局", "ヤッキョク")],
        InstitutionKind::VisitingNurseStation => {
            &[("訪問看護ステーション", "ホウモンカンゴステーション")]
        }
        InstitutionKind::CareSupportOffice => &[
            ("ケアプランセンター", "ケアプランセンター"),
            ("居宅介護支援事業所", "キョタクカイゴシエンジギョウショ"),
        ],
        InstitutionKind::CommunityCareCenter => {
            &[("地域包括支援センター", "チイキホウカツシエンセンター")]
        }
        InstitutionKind::DisabilityWelfareService => {
            &[("相談支援事業所", "ソウダンシエンジギョウショ")]
        }
        InstitutionKind::Other => &[("ホームケア", "ホームケア")],
    }
}

/// SplitMix64: a tiny deterministic generator, so the demo is the same on every machine.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        // n is small, so the modulo bias is negligible for demo data.
        (self.next() % n.max(1) as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Builds the demo institutions of `region` on the embedded towns.
pub fn institutions(
    region: &RegionDefinition,
    towns: &[Town],
    postcodes: &[Postcode],
) -> Result<Vec<NewInstitution>, TableError> {
    let mut rng = SplitMix(0x5245_4E4B_4549); // "RENKEI"
    let mut used_names = HashSet::new();
    let mut out = Vec::new();
    for plan in &PLANS {
        let area = AreaCode::parse(plan.area).map_err(|e| TableError {
            file: "demo",
            line: 0,
            reason: e.to_string(),
        })?;
        let Some(area_def) = region.area(&area) else {
            continue;
        };
        let area_towns: Vec<&Town> = towns
            .iter()
            .filter(|t| {
                region
                    .municipality_by_name(&t.municipality)
                    .is_some_and(|m| {
                        region
                            .area_of_town(&m.code, t.lng)
                            .is_some_and(|(a, _)| a == &area)
                    })
            })
            .collect();
        if area_towns.is_empty() {
            continue;
        }
        let first_of_area = out.len();
        for (kind, &count) in InstitutionKind::ALL.iter().zip(plan.per_kind.iter()) {
            for _ in 0..count {
                let town = area_towns[rng.below(area_towns.len())];
                let (name, kana) = unique_name(&mut rng, *kind, &mut used_names);
                let lat = town.lat + (rng.unit() - 0.5) * 0.003;
                let lng = town.lng + (rng.unit() - 0.5) * 0.003;
                let address = format!(
                    "{}{}{}{}-{}",
                    town.prefecture,
                    town.municipality,
                    town.name,
                    1 + rng.below(20),
                    1 + rng.below(30)
                );
                out.push(NewInstitution {
                    kind: *kind,
                    name,
                    name_kana: kana,
                    area: area.clone(),
                    municipality: area_def.municipality.clone(),
                    town: Some(town.name.clone()),
                    postcode: postcode_for(postcodes, &town.municipality, &town.name)
                        .map(|p| p.code.clone()),
                    address,
                    location: Some(
                        PlacedPoint {
                            lat,
                            lng,
                            precision: LocationPrecision::Town,
                        }
                        .rounded(),
                    ),
                    phone: Some(format!(
                        "000-{:03}-{:04}",
                        rng.below(1000),
                        rng.below(10_000)
                    )),
                    has_beds: *kind == InstitutionKind::Hospital,
                    is_demo: true,
                    is_active: false,
                    roles: Vec::new(),
                    details: Details::default(),
                    capabilities: Vec::new(),
                    contact_email: Some(format!("info-{}@demo.renkei.example", out.len() + 1)),
                    // Spread over 2½ years: some entries are overdue for confirmation.
                    confirmed_days_ago: Some(u32::try_from(rng.below(900)).unwrap_or(0)),
                });
            }
        }
        designate_active(&mut out[first_of_area..], plan);
    }
    assign_capabilities(&mut out);
    assign_details(&mut out);
    Ok(out)
}

/// Chance (per mille) that an institution of a kind offers a capability; a second generator
/// keeps the rest of the demo unchanged when this table changes.
fn capability_odds(kind: InstitutionKind) -> &'static [(Capability, u64)] {
    use Capability::*;
    match kind {
        InstitutionKind::Clinic => &[
            (HouseCall, 600),
            (HomeVisit, 450),
            (AlwaysAvailable, 200),
            (EndOfLife, 250),
            (Palliative, 200),
            (Dementia, 350),
            (PediatricHome, 50),
            (MedicalCareChildren, 30),
            (HomeOxygen, 250),
            (Ventilator, 80),
            (ParenteralNutrition, 100),
            (TubeFeeding, 150),
            (PressureUlcer, 200),
        ],
        InstitutionKind::Hospital => &[
            (Palliative, 500),
            (Dementia, 500),
            (RespiteAdmission, 600),
            (EmergencyAdmission, 700),
            (Ventilator, 400),
            (ParenteralNutrition, 600),
            (TubeFeeding, 600),
            (PressureUlcer, 500),
            (HomeVisit, 200),
        ],
        InstitutionKind::VisitingNurseStation => &[
            (AlwaysAvailable, 600),
            (EndOfLife, 600),
            (Palliative, 500),
            (Dementia, 500),
            (PediatricHome, 200),
            (MedicalCareChildren, 150),
            (HomeOxygen, 700),
            (Ventilator, 300),
            (ParenteralNutrition, 400),
            (TubeFeeding, 600),
            (PressureUlcer, 800),
        ],
        InstitutionKind::DentalClinic => &[(HomeVisit, 300)],
        InstitutionKind::Pharmacy => &[
            (HomeVisit, 300),
            (AlwaysAvailable, 150),
            (ParenteralNutrition, 100),
        ],
        InstitutionKind::DisabilityWelfareService => {
            &[(MedicalCareChildren, 300), (PediatricHome, 200)]
        }
        InstitutionKind::CareSupportOffice | InstitutionKind::CommunityCareCenter => {
            &[(Dementia, 400)]
        }
        InstitutionKind::Other => &[],
    }
}

fn assign_capabilities(all: &mut [NewInstitution]) {
    let mut rng = SplitMix(0x4341_5053); // "CAPS"
    for institution in all.iter_mut() {
        let mut caps: Vec<Capability> = capability_odds(institution.kind)
            .iter()
            .filter(|(_, odds)| rng.next() % 1000 < *odds)
            .map(|(c, _)| *c)
            .collect();
        // Active institutions take the lead in home care: they visit and see patients through.
        if institution.is_active {
            let lead: &[Capability] = match institution.kind {
                InstitutionKind::Hospital => {
                    &[Capability::RespiteAdmission, Capability::EmergencyAdmission]
                }
                _ => &[
                    Capability::HouseCall,
                    Capability::HomeVisit,
                    Capability::AlwaysAvailable,
                    Capability::EndOfLife,
                ],
            };
            caps.extend_from_slice(lead);
        }
        caps.sort();
        caps.dedup();
        institution.capabilities = caps;
    }
}

/// The plan an active institution writes for a role it has yet to take up.
const PLANNED_TEXT: &str = "令和8年度中に体制を整える予定(デモ)";

/// Hours, contacts, fax and readiness, drawn by their own generator so the rest of the demo does
/// not change with them. Fax numbers are 000-… like the phones; no 医療機関コード is invented.
fn assign_details(all: &mut [NewInstitution]) {
    let mut rng = SplitMix(0x4445_5441_494C); // "DETAIL"
    for institution in all.iter_mut() {
        let medical = matches!(
            institution.kind,
            InstitutionKind::Hospital | InstitutionKind::Clinic | InstitutionKind::DentalClinic
        );
        let hours = match institution.kind {
            InstitutionKind::Hospital => "外来 月〜土 9:00〜12:00(入院・救急は24時間)",
            InstitutionKind::Clinic | InstitutionKind::DentalClinic => [
                "月〜金 9:00〜12:00/16:00〜19:00、土 9:00〜12:00",
                "月・火・木・金 9:00〜18:00、水・土 9:00〜12:00",
            ][rng.below(2)],
            InstitutionKind::Pharmacy => "月〜金 9:00〜19:00、土 9:00〜13:00",
            _ => "月〜金 8:45〜17:30",
        };
        let power = if institution.kind == InstitutionKind::Hospital {
            EmergencyPower {
                kind: PowerKind::GeneratorAndBattery,
                capacity: Some(format!(
                    "{}kVA・{}時間",
                    50 + 10 * rng.below(10),
                    24 * (1 + rng.below(3))
                )),
                lendable: rng.below(3) == 0,
            }
        } else {
            let kind = [
                PowerKind::Unknown,
                PowerKind::None,
                PowerKind::Battery,
                PowerKind::Generator,
            ][rng.below(4)];
            EmergencyPower {
                kind,
                capacity: None,
                lendable: kind == PowerKind::Generator && rng.below(2) == 0,
            }
        };
        institution.details = Details {
            medical_code: None,
            fax: (medical || rng.below(2) == 0)
                .then(|| format!("000-{:03}-{:04}", rng.below(1000), rng.below(10_000))),
            website: None,
            hours: Some(hours.to_owned()),
            contact_person: Some(
                match institution.kind {
                    InstitutionKind::Hospital => "地域医療連携室",
                    InstitutionKind::CareSupportOffice | InstitutionKind::CommunityCareCenter => {
                        "相談窓口"
                    }
                    _ => "受付",
                }
                .to_owned(),
            ),
            power,
            bcp: [
                BcpStatus::Unknown,
                BcpStatus::None,
                BcpStatus::Drafting,
                BcpStatus::Done,
            ][rng.below(4)],
        };
    }
}

/// Marks the area's first hospitals and clinics active and gives them role statuses whose
/// counts are the report's.
fn designate_active(area: &mut [NewInstitution], plan: &AreaPlan) {
    let (hospitals, clinics) = plan.active;
    let mut active: Vec<usize> = Vec::new();
    active.extend(
        area.iter()
            .enumerate()
            .filter(|(_, i)| i.kind == InstitutionKind::Hospital)
            .map(|(n, _)| n)
            .take(hospitals),
    );
    active.extend(
        area.iter()
            .enumerate()
            .filter(|(_, i)| i.kind == InstitutionKind::Clinic)
            .map(|(n, _)| n)
            .take(clinics),
    );
    let n = active.len();
    for &index in &active {
        area[index].is_active = true;
    }
    let Some(counts) = plan.role_counts else {
        return;
    };
    for (r, (&role, &available)) in Role::ALL.iter().zip(counts.iter()).enumerate() {
        for (position, &index) in active.iter().enumerate() {
            let status = if role == Role::EmergencyAdmission {
                // Only institutions with beds can admit; the hospitals come first in `active`.
                if position < available && area[index].has_beds {
                    RoleStatus::Available
                } else {
                    RoleStatus::No
                }
            } else if (position + n - r % n.max(1)) % n < available {
                RoleStatus::Available
            } else if (position + r) % 2 == 0 {
                RoleStatus::Planned
            } else {
                RoleStatus::No
            };
            area[index].roles.push(RoleEntry {
                role,
                status,
                plan: (status == RoleStatus::Planned).then(|| PLANNED_TEXT.to_owned()),
            });
        }
    }
}

fn unique_name(
    rng: &mut SplitMix,
    kind: InstitutionKind,
    used: &mut HashSet<String>,
) -> (String, String) {
    let choices = suffixes(kind);
    for attempt in 0.. {
        let (stem, stem_kana) = STEMS[rng.below(STEMS.len())];
        let (suffix, suffix_kana) = choices[rng.below(choices.len())];
        let (branch, branch_kana) = match attempt / 8 {
            0 => (String::new(), String::new()),
            n => (format!("第{}", n + 1), format!("ダイ{}", n + 1)),
        };
        let name = format!("{DEMO_MARK}{stem}{suffix}{branch}");
        if used.insert(name.clone()) {
            return (name, format!("{stem_kana}{suffix_kana}{branch_kana}"));
        }
    }
    unreachable!("the loop above only ends by returning")
}

/// The beds a demo hospital publishes on the bed board: respite and emergency beds for those
/// taking such admissions, varied by id (fictional, like the hospitals).
pub fn bed_counts(institution: &NewInstitution, id: i64) -> Vec<crate::beds::BedCount> {
    use crate::beds::{BedCount, BedType};
    if institution.kind != InstitutionKind::Hospital {
        return Vec::new();
    }
    let n = u32::try_from(id.rem_euclid(7)).unwrap_or(0);
    let mut out = Vec::new();
    if institution
        .capabilities
        .contains(&Capability::RespiteAdmission)
    {
        out.push(BedCount {
            bed_type: BedType::Respite,
            physical: Some(2 + n % 4),
            available: Some(n % 3),
            conditions: if n % 2 == 0 {
                "人工呼吸器の方は要相談".into()
            } else {
                String::new()
            },
        });
    }
    if institution
        .capabilities
        .contains(&Capability::EmergencyAdmission)
    {
        out.push(BedCount {
            bed_type: BedType::Emergency,
            physical: Some(4 + n),
            available: Some(n % 4),
            conditions: String::new(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::towns;

    fn dataset() -> Vec<NewInstitution> {
        let region = RegionDefinition::nakakawachi();
        institutions(
            &region,
            &towns::towns().unwrap(),
            &towns::postcodes().unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn several_hundred_valid_fictional_institutions_of_every_kind() {
        let all = dataset();
        assert!((500..=800).contains(&all.len()), "{}", all.len());
        for kind in InstitutionKind::ALL {
            assert!(all.iter().any(|i| i.kind == kind), "no {kind:?}");
        }
        for i in &all {
            i.validate().unwrap();
            assert!(i.is_demo && i.name.starts_with(DEMO_MARK));
            assert!(i.phone.as_deref().unwrap().starts_with("000-"));
        }
        let names: HashSet<_> = all.iter().map(|i| &i.name).collect();
        assert_eq!(names.len(), all.len(), "names are unique");
        assert!(all.iter().filter(|i| i.postcode.is_some()).count() > all.len() / 2);
    }

    #[test]
    fn capabilities_follow_the_kind_and_active_institutions_lead() {
        let all = dataset();
        let with = |c: Capability| all.iter().filter(|i| i.capabilities.contains(&c)).count();
        assert!(with(Capability::HomeVisit) > 50 && with(Capability::RespiteAdmission) > 5);
        assert!(all
            .iter()
            .filter(|i| i.kind == InstitutionKind::Pharmacy)
            .all(|i| !i.capabilities.contains(&Capability::RespiteAdmission)));
        assert!(all
            .iter()
            .filter(|i| i.is_active && i.kind == InstitutionKind::Clinic)
            .all(|i| i.capabilities.contains(&Capability::AlwaysAvailable)));
        let yao_24h_visits = all
            .iter()
            .filter(|i| {
                i.area.as_str() == "yao"
                    && i.capabilities.contains(&Capability::HomeVisit)
                    && i.capabilities.contains(&Capability::AlwaysAvailable)
            })
            .count();
        assert!(
            yao_24h_visits >= 4,
            "the newcomer's search 「訪問診療 24時間 八尾」 finds several: {yao_24h_visits}"
        );
    }

    #[test]
    fn demo_hospitals_publish_possible_bed_counts() {
        let all = dataset();
        let counts: Vec<_> = all
            .iter()
            .enumerate()
            .flat_map(|(i, inst)| bed_counts(inst, i as i64 + 1))
            .collect();
        assert!(counts.len() > 5, "the bed board has something to show");
        assert!(counts.iter().all(|c| c.check().is_ok()));
        assert!(counts.iter().any(|c| c.available.is_some_and(|n| n > 0)));
        assert!(all
            .iter()
            .filter(|i| i.kind != InstitutionKind::Hospital)
            .all(|i| bed_counts(i, 1).is_empty()));
    }

    #[test]
    fn the_demo_is_the_same_every_time() {
        assert_eq!(dataset(), dataset());
    }

    #[test]
    fn active_institutions_and_role_counts_are_the_reports() {
        let all = dataset();
        let active = |area: &str| {
            all.iter()
                .filter(|i| i.area.as_str() == area && i.is_active)
                .collect::<Vec<_>>()
        };
        let count = |area: &str, role: Role| {
            active(area)
                .iter()
                .filter(|i| {
                    i.roles
                        .iter()
                        .any(|r| r.role == role && r.status == RoleStatus::Available)
                })
                .count()
        };
        let counts = |area: &str| Role::ALL.map(|r| count(area, r));
        assert_eq!(active("higashiosaka-west").len(), 7);
        assert_eq!(active("higashiosaka-central").len(), 6);
        assert_eq!(active("higashiosaka-east").len(), 3);
        assert_eq!(active("yao").len(), 6);
        assert_eq!(active("kashiwara").len(), 0);
        assert_eq!(counts("higashiosaka-west"), [5, 6, 5, 2, 7, 1]);
        assert_eq!(counts("higashiosaka-central"), [1, 4, 2, 1, 4, 1]);
        assert_eq!(counts("higashiosaka-east"), [2, 3, 3, 1, 3, 1]);
        assert!(
            active("yao").iter().all(|i| i.roles.is_empty()),
            "八尾市 reported no counts"
        );
    }
}
