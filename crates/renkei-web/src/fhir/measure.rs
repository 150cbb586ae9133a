//! The prefecture report's counts as FHIR `MeasureReport`s, in the shape of HL7 SANER: one
//! summary report per hub and report year, `subject` the hub's area, `reporter` the hub,
//! `period` the fiscal year (April–March, JST). The groups count the ledger's activities by
//! section, kind and duty, and the area's active institutions by role and status (computed from
//! the directory, as the report's 対応状況 is). The `Measure` that defines the groups and the
//! `CodeSystem`s of their codes are public; the reports are for hub coordinators, the prefecture
//! and the administrator (signed in, or with an API token).

use super::resources::{instant, Base};
use renkei_domain::fiscal_year::FiscalYear;
use renkei_domain::ledger::{HubLedger, ItemKind, RecordedCoverage, Section};
use renkei_domain::region::{Duty, Role, RoleStatus};
use serde_json::{json, Value};

/// The id (and last part of the canonical URL) of the Measure.
pub const MEASURE_ID: &str = "renkei-hub-report";
/// CodeSystem of the groups and stratifiers.
pub const GROUP_CODES: &str = "renkei-report-measure";
/// CodeSystem of activity kinds.
pub const ACTIVITY_CODES: &str = "renkei-activity-kind";
/// CodeSystem of the hubs' five duties.
pub const DUTY_CODES: &str = "renkei-hub-duty";
/// CodeSystem of the active institutions' six roles.
pub const ROLE_CODES: &str = "renkei-active-role";
/// CodeSystem of a role's status.
pub const ROLE_STATUS_CODES: &str = "renkei-role-status";
/// One concept of a CodeSystem: code, Japanese display, English designation.
pub type Concept = (String, String, String);
/// FHIR's measure-population codes.
const POPULATION: &str = "http://terminology.hl7.org/CodeSystem/measure-population";

/// One group of the measure: its code, Japanese and English display, and what it counts.
struct GroupDef {
    code: &'static str,
    ja: &'static str,
    en: &'static str,
}

/// The activity groups: per section, the items and the sessions (held or planned counts; an
/// item without one counts as one).
const ACTIVITY_GROUPS: [(Section, GroupDef, GroupDef); 3] = [
    (
        Section::Results,
        GroupDef {
            code: "results-activities",
            ja: "前年度の実績（取組の件数）",
            en: "Previous year's results: activities",
        },
        GroupDef {
            code: "results-sessions",
            ja: "前年度の実績（開催回数）",
            en: "Previous year's results: sessions held",
        },
    ),
    (
        Section::Plan,
        GroupDef {
            code: "plan-activities",
            ja: "今年度の計画（取組の件数）",
            en: "This year's plan: activities",
        },
        GroupDef {
            code: "plan-sessions",
            ja: "今年度の計画（予定回数）",
            en: "This year's plan: sessions planned",
        },
    ),
    (
        Section::Progress,
        GroupDef {
            code: "progress-activities",
            ja: "今年度の進捗（取組の件数）",
            en: "This year's progress: activities",
        },
        GroupDef {
            code: "progress-sessions",
            ja: "今年度の進捗（開催回数）",
            en: "This year's progress: sessions",
        },
    ),
];

const ACTIVE_GROUP: GroupDef = GroupDef {
    code: "active-institutions",
    ja: "積極的医療機関の数",
    en: "Active institutions",
};

fn coding(system: String, code: &str, display: &str) -> Value {
    json!({ "coding": [{ "system": system, "code": code, "display": display }] })
}

fn population(code: &str, count: usize) -> Value {
    json!({
        "code": { "coding": [{ "system": POPULATION, "code": code }] },
        "count": count,
    })
}

/// The report's id: `{year}-{area}` (「2025-yao」).
pub fn report_id(year: FiscalYear, area: &str) -> String {
    format!("{}-{area}", year.year())
}

/// The fiscal year's first and last day (`2025-04-01`, `2026-03-31`).
pub fn period_of(year: FiscalYear) -> (String, String) {
    (
        format!("{}-04-01", year.year()),
        format!("{}-03-31", year.year() + 1),
    )
}

/// What a `MeasureReport` is built from.
pub struct ReportSource<'a> {
    /// The report year.
    pub year: FiscalYear,
    /// The hub's ledger.
    pub ledger: &'a HubLedger,
    /// Its revision (the report's version).
    pub revision: i64,
    /// When the ledger was last saved (stored UTC text).
    pub updated_at: &'a str,
    /// The 対応状況 the ledger recorded for the year; `None` when none was reported (the
    /// report then has no active-institution or role groups: not reported is not zero).
    pub coverage: Option<RecordedCoverage>,
}

/// The active institutions' group and one group per role, from a recorded 対応状況. The
/// statuses besides 現状対応可 are stratified only where they were counted (a directory count);
/// a hub's report gives 現状対応可 alone.
fn role_groups(base: &Base, coverage: &RecordedCoverage, groups: &mut Vec<Value>) {
    groups.push(json!({
        "code": coding(base.code_system(GROUP_CODES), ACTIVE_GROUP.code, ACTIVE_GROUP.ja),
        "population": [population("initial-population", coverage.institutions)],
    }));
    for role in Role::ALL {
        let at = usize::from(role.number()) - 1;
        let available = coverage.available[at];
        let mut counted = vec![(RoleStatus::Available, available)];
        if let Some(planned) = coverage.planned {
            let planned = planned[at];
            counted.push((RoleStatus::Planned, planned));
            counted.push((
                RoleStatus::No,
                coverage.institutions.saturating_sub(available + planned),
            ));
        }
        let strata: Vec<Value> = counted
            .iter()
            .map(|(status, n)| {
                json!({
                    "value": coding(base.code_system(ROLE_STATUS_CODES), status.code(), status.label_ja()),
                    "population": [population("initial-population", *n)],
                })
            })
            .collect();
        let mut group = json!({
            "code": coding(base.code_system(ROLE_CODES), role.code(), &format!("{}{}", role.circled(), role.label_ja())),
            "population": [
                population("initial-population", coverage.institutions),
                population("denominator", coverage.institutions),
                population("numerator", available),
            ],
            "stratifier": [{
                "code": [coding(base.code_system(GROUP_CODES), "role-status", "対応状況")],
                "stratum": strata,
            }],
        });
        if coverage.institutions > 0 {
            let score = available as f64 / coverage.institutions as f64;
            group["measureScore"] = json!({ "value": (score * 10_000.0).round() / 10_000.0, "unit": "1", "system": "http://unitsofmeasure.org", "code": "1" });
        }
        groups.push(group);
    }
}

/// The `MeasureReport` of one hub and year.
pub fn measure_report(base: &Base, source: &ReportSource<'_>) -> Value {
    let ReportSource {
        year,
        ledger,
        coverage,
        ..
    } = source;
    let (start, end) = period_of(*year);
    let mut groups = Vec::new();
    for (section, items_def, sessions_def) in &ACTIVITY_GROUPS {
        let by_kind: Vec<(ItemKind, usize, u32)> = ItemKind::ALL
            .iter()
            .map(|k| {
                let (items, sessions) = ledger.tally(*section, Some(*k));
                (*k, items, sessions)
            })
            .collect();
        let (items, sessions) = ledger.tally(*section, None);
        let kind_stratifier = |pick: fn(&(ItemKind, usize, u32)) -> usize| {
            json!({
                "code": [coding(base.code_system(GROUP_CODES), "activity-kind", "取組の種類")],
                "stratum": by_kind.iter().filter(|s| pick(s) > 0).map(|s| json!({
                    "value": coding(base.code_system(ACTIVITY_CODES), s.0.code(), s.0.label_ja()),
                    "population": [population("initial-population", pick(s))],
                })).collect::<Vec<_>>(),
            })
        };
        let duty_stratifier = json!({
            "code": [coding(base.code_system(GROUP_CODES), "duty", "拠点の役割（①〜⑤）")],
            "stratum": Duty::ALL.iter().map(|d| json!({
                "value": coding(base.code_system(DUTY_CODES), &d.number().to_string(), &format!("{}{}", d.circled(), d.label_ja())),
                "population": [population("initial-population", ledger.items_of(*section, *d).len())],
            })).collect::<Vec<_>>(),
        });
        let mut item_group = json!({
            "code": coding(base.code_system(GROUP_CODES), items_def.code, items_def.ja),
            "population": [population("initial-population", items)],
            "stratifier": [duty_stratifier],
        });
        let mut session_group = json!({
            "code": coding(base.code_system(GROUP_CODES), sessions_def.code, sessions_def.ja),
            "population": [population("initial-population", sessions as usize)],
        });
        // FHIR JSON has no empty arrays: a stratifier without strata is left out.
        let by_items = kind_stratifier(|s| s.1);
        if by_items["stratum"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
        {
            item_group["stratifier"]
                .as_array_mut()
                .expect("an array")
                .push(by_items);
            session_group["stratifier"] = json!([kind_stratifier(|s| s.2 as usize)]);
        }
        groups.push(item_group);
        groups.push(session_group);
    }
    if let Some(coverage) = coverage {
        role_groups(base, coverage, &mut groups);
    }
    let has_drafts = ledger.items.iter().any(|i| i.draft);
    json!({
        "resourceType": "MeasureReport",
        "id": report_id(*year, &ledger.area),
        "meta": { "versionId": source.revision.to_string(), "lastUpdated": instant(source.updated_at) },
        "identifier": [{ "system": format!("{}/MeasureReport", base.canonical), "value": report_id(*year, &ledger.area) }],
        // Drafts (a plan copied from last year, not confirmed yet) mean the hub is still writing.
        "status": if has_drafts { "pending" } else { "complete" },
        "type": "summary",
        "measure": format!("{}/Measure/{MEASURE_ID}", base.canonical),
        "subject": {
            "type": "Location",
            "identifier": { "system": area_system(base), "value": ledger.area },
            "display": ledger.area_label,
        },
        "date": instant(source.updated_at),
        "reporter": {
            "type": "Organization",
            "display": ledger.hub,
        },
        "period": { "start": start, "end": end },
        "group": groups,
    })
}

/// The identifier system of Renkei's area codes.
pub fn area_system(base: &Base) -> String {
    format!("{}/area", base.canonical)
}

/// The `Measure` that says what the reports count.
pub fn measure(base: &Base) -> Value {
    // Each population names its definition and says in words what it counts. Renkei computes
    // the counts itself: the names are CQL-style identifiers, but no CQL Library is published.
    let defined = |code: &str, text: String| {
        let name: String = code
            .split('-')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect();
        json!({
            "code": { "coding": [{ "system": POPULATION, "code": code }] },
            "criteria": { "language": "text/cql", "expression": name, "description": text },
        })
    };
    let mut groups: Vec<Value> = Vec::new();
    for (section, items, sessions) in &ACTIVITY_GROUPS {
        for (def, what) in [
            (items, "items"),
            (
                sessions,
                "sessions (held or planned counts; an item without one counts as one)",
            ),
        ] {
            groups.push(json!({
                "code": coding(base.code_system(GROUP_CODES), def.code, def.ja),
                "description": format!("{} / {}", def.ja, def.en),
                "population": [defined("initial-population", format!("The {what} of the hub's ledger in section {}, drafts left out.", section.code()))],
            }));
        }
    }
    groups.push(json!({
        "code": coding(base.code_system(GROUP_CODES), ACTIVE_GROUP.code, ACTIVE_GROUP.ja),
        "description": format!("{} / {}", ACTIVE_GROUP.ja, ACTIVE_GROUP.en),
        "population": [defined("initial-population", "The area's active institutions (積極的医療機関) in the directory.".into())],
    }));
    for role in Role::ALL {
        let institutions = "The area's active institutions in the directory.".to_owned();
        groups.push(json!({
            "code": coding(base.code_system(ROLE_CODES), role.code(), &format!("{}{}", role.circled(), role.label_ja())),
            "description": format!("{}{}：積極的医療機関のうち現状対応可の割合 / {}: share of active institutions that can do it now", role.circled(), role.label_ja(), role.label_en()),
            "population": [
                defined("initial-population", institutions.clone()),
                defined("denominator", institutions),
                defined("numerator", format!("Those whose status for role {} is 現状対応可 (available now).", role.number())),
            ],
        }));
    }
    json!({
        "resourceType": "Measure",
        "id": MEASURE_ID,
        "url": format!("{}/Measure/{MEASURE_ID}", base.canonical),
        "name": "RenkeiHubReport",
        "title": "在宅医療に必要な連携を担う拠点の取組と積極的医療機関の対応状況",
        "status": "active",
        "publisher": "Renkei",
        "description": "The counts of the prefecture report (資料2) of a home-medical-care collaboration hub for a fiscal year (April–March): the hub's activities by section (previous year's results, this year's plan and progress), kind and duty (①–⑤), and the area's active institutions (積極的医療機関) by role (①–⑥) and status. Reports are summaries with subject = the area, reporter = the hub, period = the fiscal year.",
        "scoring": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/measure-scoring", "code": "proportion" }] },
        "group": groups,
    })
}

/// The code systems the reports use: (title, description, concepts as code, Japanese, English).
pub fn code_system_concepts(id: &str) -> Option<(&'static str, &'static str, Vec<Concept>)> {
    let owned = |items: Vec<(&str, &str, &str)>| {
        items
            .into_iter()
            .map(|(c, j, e)| (c.to_owned(), j.to_owned(), e.to_owned()))
            .collect()
    };
    Some(match id {
        GROUP_CODES => {
            let mut c: Vec<(&str, &str, &str)> = ACTIVITY_GROUPS
                .iter()
                .flat_map(|(_, i, s)| [(i.code, i.ja, i.en), (s.code, s.ja, s.en)])
                .collect();
            c.push((ACTIVE_GROUP.code, ACTIVE_GROUP.ja, ACTIVE_GROUP.en));
            c.extend([
                ("activity-kind", "取組の種類", "Kind of activity"),
                ("duty", "拠点の役割（①〜⑤）", "Duty of the hub (1–5)"),
                ("role-status", "対応状況", "Status of a role"),
            ]);
            (
                "Renkei 拠点の報告の集計項目",
                "Groups and stratifiers of the hub report measure.",
                owned(c),
            )
        }
        ACTIVITY_CODES => (
            "Renkei 拠点の取組の種類",
            "Kinds of a hub's activities in its ledger.",
            owned(
                ItemKind::ALL
                    .iter()
                    .map(|k| (k.code(), k.label_ja(), k.label_en()))
                    .collect(),
            ),
        ),
        DUTY_CODES => (
            "Renkei 連携の拠点の役割",
            "The five duties of a home-medical-care collaboration hub under the 8th Medical Plan.",
            Duty::ALL
                .iter()
                .map(|d| {
                    (
                        d.number().to_string(),
                        format!("{}{}", d.circled(), d.label_ja()),
                        d.label_en().to_owned(),
                    )
                })
                .collect(),
        ),
        ROLE_CODES => (
            "Renkei 積極的医療機関の役割",
            "The six roles an active institution reports under the 8th Medical Plan.",
            Role::ALL
                .iter()
                .map(|r| {
                    (
                        r.code().to_owned(),
                        format!("{}{}", r.circled(), r.label_ja()),
                        r.label_en().to_owned(),
                    )
                })
                .collect(),
        ),
        ROLE_STATUS_CODES => (
            "Renkei 役割の対応状況",
            "Whether an active institution can take a role now, plans to, or does not.",
            owned(
                RoleStatus::ALL
                    .iter()
                    .map(|s| (s.code(), s.label_ja(), s.label_en()))
                    .collect(),
            ),
        ),
        _ => return None,
    })
}

/// One `period` search value: a FHIR prefix and the range of UTC instants the date names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodQuery {
    prefix: &'static str,
    lo: chrono::DateTime<chrono::Utc>,
    hi: chrono::DateTime<chrono::Utc>,
}

impl PeriodQuery {
    /// Reads `[prefix]date` (eq, ne, gt, lt, ge, le, sa, eb; eq when none).
    pub fn parse(value: &str) -> Result<Self, super::outcome::Problem> {
        const PREFIXES: [&str; 8] = ["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb"];
        let (prefix, rest) = PREFIXES
            .iter()
            .find_map(|p| value.strip_prefix(p).map(|rest| (*p, rest)))
            .unwrap_or(("eq", value));
        let (lo, hi) = super::params::instant_range(rest).ok_or_else(|| {
            super::outcome::Problem::invalid(&format!(
                "期間「{rest}」を読めません。ge・le などの接頭辞と 2025-04-01 の形の日付で指定してください（例: period=ge2025-04-01&period=le2026-03-31） / cannot read the date \"{rest}\"; use e.g. period=ge2025-04-01&period=le2026-03-31"
            ))
        })?;
        Ok(Self { prefix, lo, hi })
    }

    /// Whether the fiscal year's period (April 1 to March 31, whole JST days) matches, by
    /// FHIR's rules for ranges: eq means the searched range holds the whole period.
    pub fn matches(&self, year: FiscalYear) -> bool {
        use chrono::TimeZone;
        let jst = renkei_domain::japan::jst();
        let april_first = |y: i32| {
            jst.with_ymd_and_hms(y, 4, 1, 0, 0, 0)
                .single()
                .expect("a real day")
                .with_timezone(&chrono::Utc)
        };
        let (start, end) = (april_first(year.year()), april_first(year.year() + 1));
        let (lo, hi) = (self.lo, self.hi);
        let within = lo <= start && end <= hi;
        match self.prefix {
            "eq" => within,
            "ne" => !within,
            "gt" => end > hi,
            "lt" => start < lo,
            "ge" => end > lo,
            "le" => start < hi,
            "sa" => start >= hi,
            _ => end <= lo, // eb
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fy(y: i32) -> FiscalYear {
        FiscalYear::new(y).unwrap()
    }

    #[test]
    fn a_fiscal_year_is_found_by_its_bounds_not_by_a_day_inside_it() {
        let m = |value: &str, year: i32| PeriodQuery::parse(value).unwrap().matches(fy(year));
        assert!(m("ge2025-04-01", 2025));
        assert!(m("le2026-03-31", 2025));
        assert!(!m("ge2025-04-01", 2024));
        assert!(!m("le2026-03-31", 2026));
        // eq: the searched range must hold the whole period.
        assert!(!m("2025-06-01", 2025));
        assert!(!m("2025", 2025));
        assert!(!m("eq2025-04-01", 2025));
        assert!(m("ne2025-04-01", 2025));
        assert!(m("gt2025-12-31", 2025));
        assert!(!m("gt2026-03-31", 2025));
        assert!(m("lt2025-04-02", 2025));
        assert!(!m("lt2025-04-01", 2025));
        assert!(m("sa2025-03-31", 2025));
        assert!(m("eb2025-04-01", 2024));
        assert!(!m("eb2025-04-01", 2025));
        assert!(PeriodQuery::parse("2025-13-01").is_err());
        assert!(PeriodQuery::parse("ap2025").is_err());
    }

    #[test]
    fn the_period_is_april_to_march() {
        assert_eq!(
            period_of(fy(2025)),
            ("2025-04-01".to_owned(), "2026-03-31".to_owned())
        );
        assert_eq!(report_id(fy(2025), "yao"), "2025-yao");
    }
}
