//! The prefecture report (資料2) produced from the ledger, laid out like the hubs' own: per hub
//! the 対象地域 / 実施主体 header, sections （１）〜（４） with the five duties ①〜⑤, then the
//! active institutions' part with the 対応状況 counted from the institutions. This module builds
//! the report's content once ([`HubReport`]) and writes it as Markdown; the web crate writes the
//! same content as HTML and Excel.

use crate::fiscal_year::FiscalYear;
use crate::institution::NewInstitution;
use crate::ledger::{CoverageByArea, HubLedger, RoleCoverage, Section};
use crate::region::{Duty, Role};
use std::fmt::Write;

/// What a duty's cell of a section says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// The items, as printed (number prefix where it adds something).
    Lines(Vec<String>),
    /// The hub wrote 「なし」 (with its marker, 「②・③」).
    Nothing(String),
    /// The hub wrote nothing under this duty in a section that has other entries (the report
    /// leaves the cell blank, as the hubs' own tables do).
    Blank,
    /// The hub has not filled in the section at all: the report says 「未入力」 and invents
    /// nothing.
    Missing,
}

/// One section of a hub's report: a cell per duty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionReport {
    /// Which section.
    pub section: Section,
    /// The heading, 「（１）令和6年度の取組実績」.
    pub heading: String,
    /// ①〜⑤.
    pub cells: Vec<(Duty, Cell)>,
}

/// The active institutions' part of a hub's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveReport {
    /// （1）plans.
    pub plans: Vec<String>,
    /// The 対応状況, computed; `None` when the area has no active institution in Renkei.
    pub coverage: Option<RoleCoverage>,
    /// Progress bullets (where the hub reports them).
    pub progress: Vec<String>,
    /// Challenges.
    pub challenges: Vec<String>,
    /// Footnote.
    pub footnote: Option<String>,
}

/// One hub's report, ready to be written in any format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubReport {
    /// 「資料2-1」.
    pub document: String,
    /// Area code.
    pub area: String,
    /// 対象地域.
    pub area_label: String,
    /// 連携の拠点.
    pub hub: String,
    /// 市町村医介連携事業（委託先）.
    pub contractor: String,
    /// （１）results, （３）plan, （４）progress.
    pub sections: Vec<SectionReport>,
    /// （２）heading.
    pub challenges_heading: String,
    /// （２）challenges, as printed; empty means 「未入力」.
    pub challenges: Vec<String>,
    /// The active institutions' part; `None` when neither the hub wrote one nor Renkei knows
    /// active institutions in the area.
    pub active: Option<ActiveReport>,
}

/// The whole report for a fiscal year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The report year.
    pub year: FiscalYear,
    /// The region's name.
    pub region_name: String,
    /// Its hubs, in report order.
    pub hubs: Vec<HubReport>,
}

/// Builds the report of a year from the hubs' ledgers (in report order), for all of them or
/// for the listed areas.
pub fn build<'a>(
    ledgers: impl IntoIterator<Item = &'a HubLedger>,
    year: FiscalYear,
    region_name: &str,
    coverage: &CoverageByArea,
    only: Option<&[String]>,
) -> Report {
    let hubs = ledgers
        .into_iter()
        .filter(|h| only.is_none_or(|areas| areas.contains(&h.area)))
        .map(|hub| hub_report(hub, year, coverage.get(&hub.area).copied()))
        .collect();
    Report {
        year,
        region_name: region_name.to_owned(),
        hubs,
    }
}

fn hub_report(hub: &HubLedger, year: FiscalYear, coverage: Option<RoleCoverage>) -> HubReport {
    let sections = Section::ALL
        .into_iter()
        .map(|section| SectionReport {
            section,
            heading: section.heading_ja(year),
            cells: Duty::ALL
                .into_iter()
                .map(|duty| (duty, cell(hub, section, duty)))
                .collect(),
        })
        .collect();
    let challenges = hub
        .challenges
        .iter()
        .map(|c| format!("{}{}", c.number.as_deref().unwrap_or(""), c.text))
        .collect();
    let coverage = coverage.filter(|c| c.institutions > 0);
    let active = match (&hub.active, coverage) {
        (None, None) => None,
        (written, coverage) => {
            let written = written.clone().unwrap_or_default();
            Some(ActiveReport {
                plans: written.plans,
                coverage,
                progress: written.progress,
                challenges: written.challenges,
                footnote: written.footnote,
            })
        }
    };
    HubReport {
        document: hub.document.clone(),
        area: hub.area.clone(),
        area_label: hub.area_label.clone(),
        hub: hub.hub.clone(),
        contractor: hub.contractor.clone(),
        sections,
        challenges_heading: format!("（２）{}の取組を通じた課題", year.previous()),
        challenges,
        active,
    }
}

fn cell(hub: &HubLedger, section: Section, duty: Duty) -> Cell {
    let items = hub.items_of(section, duty);
    if !items.is_empty() {
        return Cell::Lines(
            items
                .iter()
                .map(|item| {
                    if item.shows_number() {
                        format!("{} {}", item.number, item.text())
                    } else {
                        item.text()
                    }
                })
                .collect(),
        );
    }
    match hub.empty_marker(section, duty) {
        Some(marker) => Cell::Nothing(marker.to_owned()),
        None if hub.has_section(section) => Cell::Blank,
        None => Cell::Missing,
    }
}

/// Counts each area's active institutions and their roles (現状対応可) from the directory.
pub fn coverage_of(institutions: &[NewInstitution]) -> CoverageByArea {
    let mut out = CoverageByArea::new();
    for institution in institutions.iter().filter(|i| i.is_active) {
        out.entry(institution.area.as_str().to_owned())
            .or_default()
            .add(institution.roles.iter().map(|r| (r.role, r.status)));
    }
    out
}

/// 「現状対応可 5件」, or for ⑥ (the admitting hospitals) just 「1件」, as the report writes it.
pub fn coverage_line(role: Role, coverage: &RoleCoverage) -> String {
    let n = coverage.available[usize::from(role.number()) - 1];
    let count = if role == Role::EmergencyAdmission {
        format!("{n}件")
    } else {
        format!("現状対応可 {n}件")
    };
    format!("{}{} {count}", role.circled(), role.label_ja())
}

/// What the report says where nothing was entered.
pub const MISSING: &str = "未入力";

impl Report {
    /// The report as Markdown (headings per hub and section, a list per duty).
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# 連携の拠点の取組について（{}）{}\n",
            self.year, self.region_name
        );
        if self.hubs.is_empty() {
            let _ = writeln!(out, "{MISSING}（この年度の台帳はまだありません）");
        }
        for hub in &self.hubs {
            let _ = writeln!(out, "## {} {}\n", hub.document, hub.area_label);
            let _ = writeln!(out, "| 対象地域 | {} |", escape_cell(&hub.area_label));
            let _ = writeln!(out, "| --- | --- |");
            let _ = writeln!(out, "| 実施主体：連携の拠点 | {} |", escape_cell(&hub.hub));
            let _ = writeln!(
                out,
                "| 市町村医介連携事業（委託先） | {} |\n",
                escape_cell(&hub.contractor)
            );
            for section in &hub.sections {
                if section.section == Section::Plan {
                    write_challenges(&mut out, hub);
                }
                let _ = writeln!(out, "### {}\n", section.heading);
                for (duty, cell) in &section.cells {
                    let _ = writeln!(out, "#### {}{}\n", duty.circled(), duty.label_ja());
                    match cell {
                        Cell::Lines(lines) => {
                            for line in lines {
                                let _ = writeln!(out, "- {line}");
                            }
                        }
                        Cell::Nothing(marker) => {
                            let _ = writeln!(out, "- {marker}なし");
                        }
                        Cell::Blank => {}
                        Cell::Missing => {
                            let _ = writeln!(out, "{MISSING}");
                        }
                    }
                    out.push('\n');
                }
            }
            if let Some(active) = &hub.active {
                write_active(&mut out, hub, active, self.year);
            }
        }
        out
    }
}

fn write_challenges(out: &mut String, hub: &HubReport) {
    let _ = writeln!(out, "### {}\n", hub.challenges_heading);
    if hub.challenges.is_empty() {
        let _ = writeln!(out, "{MISSING}");
    }
    for c in &hub.challenges {
        let _ = writeln!(out, "- {c}");
    }
    out.push('\n');
}

fn write_active(out: &mut String, hub: &HubReport, active: &ActiveReport, year: FiscalYear) {
    let _ = writeln!(
        out,
        "### 積極的医療機関の取組について（{}）\n",
        hub.area_label
    );
    let _ = writeln!(
        out,
        "#### （1）{year}の取組計画：他医療機関等への調整・支援等\n"
    );
    bullets(out, &active.plans);
    let _ = writeln!(out, "#### （2）対応状況\n");
    match &active.coverage {
        Some(coverage) => {
            let _ = writeln!(
                out,
                "積極的医療機関 {}件における対応状況\n",
                coverage.institutions
            );
            for role in Role::ALL {
                let _ = writeln!(out, "- {}", coverage_line(role, coverage));
            }
            out.push('\n');
        }
        None => {
            let _ = writeln!(
                out,
                "{MISSING}（この地域の積極的医療機関が登録されていません）\n"
            );
        }
    }
    if !active.progress.is_empty() {
        let _ = writeln!(out, "#### 進捗状況\n");
        bullets(out, &active.progress);
    }
    let _ = writeln!(out, "#### （3）課題\n");
    bullets(out, &active.challenges);
    if let Some(note) = &active.footnote {
        let _ = writeln!(out, "※ {note}\n");
    }
}

fn bullets(out: &mut String, lines: &[String]) {
    if lines.is_empty() {
        let _ = writeln!(out, "{MISSING}");
    }
    for line in lines {
        let _ = writeln!(out, "- {line}");
    }
    out.push('\n');
}

/// A Markdown table cell: no pipes or line breaks.
fn escape_cell(text: &str) -> String {
    text.replace('|', "｜").replace(['\n', '\r'], " ")
}
