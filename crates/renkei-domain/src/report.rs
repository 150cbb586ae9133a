//! The prefecture report (資料2) produced from the ledger, laid out like the hubs' own: per hub
//! the 対象地域 / 実施主体 header, sections （１）〜（４） with the five duties ①〜⑤, then the
//! active institutions' part with the 対応状況 the ledger recorded for the year. This module
//! builds the report's content once ([`HubReport`]) and writes it as Markdown; the web crate
//! writes the same content as HTML and Excel.
//!
//! What it prints is what the hub wrote, once: an entry that serves several duties
//! (「②・③ 個別面談…」, 「②-3 ④-4 ⑤-2 …」) stands under its first duty with its marker naming the
//! others; a sub-number (「②-1」) is printed once before the run of entries it heads, as in the
//! hubs' paragraphs; a 対応状況 nobody recorded is not printed (never as 0件).

use crate::fiscal_year::FiscalYear;
use crate::institution::NewInstitution;
use crate::ledger::{CoverageByArea, HubLedger, RecordedCoverage, Section};
use crate::region::{Duty, Role};
use std::fmt::Write;

/// What a duty's cell of a section says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// The entries whose first duty this is, as printed (the marker where it says more than
    /// the column, once per run of entries under the same marker).
    Lines(Vec<String>),
    /// The hub wrote 「なし」 (with its marker, 「②・③」); only under the marker's first duty.
    Nothing(String),
    /// Nothing stands under this duty in a section that has other entries (the report leaves
    /// the cell blank, as the hubs' own tables do; an entry of several duties stands under
    /// its first).
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
    /// The heading, 「（１）令和6年度の取組実績」, in the hub's words where it has its own.
    pub heading: String,
    /// ①〜⑤.
    pub cells: Vec<(Duty, Cell)>,
}

/// The title of the active institutions' part, as the hubs' report writes it.
pub const ACTIVE_TITLE: &str = "■ 積極的医療機関の取組について（任意）";

/// What one part of the active institutions' page holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActiveBody {
    /// Bullets; empty means 「未入力」.
    Bullets(Vec<String>),
    /// The recorded 対応状況: a line per role and where the counts come from.
    Coverage {
        /// 「①急変時の診療支援 現状対応可 5件」 …
        lines: Vec<String>,
        /// 「出典：拠点の報告」.
        source: String,
    },
}

/// One numbered part of the active institutions' page: 「（1）令和7年度の取組計画」.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivePart {
    /// 「（2）対応状況」: numbered in the order the parts the hub reported come.
    pub heading: String,
    /// The line under the heading, where the report has one (「他医療機関等への調整・支援等」,
    /// 「積極的医療機関 7件における対応状況」).
    pub subheading: Option<String>,
    /// What it says.
    pub body: ActiveBody,
}

impl ActivePart {
    /// Whether it is the 対応状況 (whose subheading heads the counts, not the label).
    pub fn is_coverage(&self) -> bool {
        matches!(self.body, ActiveBody::Coverage { .. })
    }
}

/// The active institutions' part of a hub's report: （1）plans, （2）対応状況 where one was
/// recorded, then progress where the hub reports it, and challenges, numbered in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveReport {
    /// The numbered parts.
    pub parts: Vec<ActivePart>,
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
    /// The active institutions' part; `None` when the hub wrote none.
    pub active: Option<ActiveReport>,
}

impl HubReport {
    /// What identifies a printed page of this hub: 「資料2-1 東大阪市（西地区） 布施医師会」.
    pub fn running_title(&self) -> String {
        format!("{} {} {}", self.document, self.area_label, self.hub)
    }
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
    only: Option<&[String]>,
) -> Report {
    let hubs = ledgers
        .into_iter()
        .filter(|h| only.is_none_or(|areas| areas.contains(&h.area)))
        .map(|hub| hub_report(hub, year))
        .collect();
    Report {
        year,
        region_name: region_name.to_owned(),
        hubs,
    }
}

fn hub_report(hub: &HubLedger, year: FiscalYear) -> HubReport {
    let sections = Section::ALL
        .into_iter()
        .map(|section| SectionReport {
            section,
            heading: hub.heading(section, year),
            cells: Duty::ALL
                .into_iter()
                .map(|duty| (duty, cell(hub, section, duty)))
                .collect(),
        })
        .collect();
    HubReport {
        document: hub.document.clone(),
        area: hub.area.clone(),
        area_label: hub.area_label.clone(),
        hub: hub.hub.clone(),
        contractor: hub.contractor.clone(),
        sections,
        challenges_heading: hub.challenges_heading(year),
        challenges: hub.challenges.iter().map(|c| c.line()).collect(),
        active: hub.active.as_ref().map(|active| {
            let mut parts = vec![ActivePart {
                heading: format!("{year}の取組計画"),
                subheading: Some("他医療機関等への調整・支援等".to_owned()),
                body: ActiveBody::Bullets(active.plans.clone()),
            }];
            if let Some(coverage) = &active.coverage {
                parts.push(ActivePart {
                    heading: "対応状況".to_owned(),
                    subheading: Some(format!(
                        "積極的医療機関 {}件における対応状況",
                        coverage.institutions
                    )),
                    body: ActiveBody::Coverage {
                        lines: Role::ALL
                            .into_iter()
                            .map(|role| coverage_line(role, coverage))
                            .collect(),
                        source: coverage.source_line(),
                    },
                });
            }
            if !active.progress.is_empty() {
                parts.push(ActivePart {
                    heading: "進捗状況".to_owned(),
                    subheading: None,
                    body: ActiveBody::Bullets(active.progress.clone()),
                });
            }
            parts.push(ActivePart {
                heading: "課題".to_owned(),
                subheading: None,
                body: ActiveBody::Bullets(active.challenges.clone()),
            });
            for (i, part) in parts.iter_mut().enumerate() {
                part.heading = format!("（{}）{}", i + 1, part.heading);
            }
            ActiveReport {
                parts,
                footnote: active.footnote.clone(),
            }
        }),
    }
}

/// The entries whose first duty is `duty`: each printed once, under its first duty.
fn cell(hub: &HubLedger, section: Section, duty: Duty) -> Cell {
    let items: Vec<_> = hub
        .items_of(section, duty)
        .into_iter()
        .filter(|item| item.duties().first() == Some(&duty))
        .collect();
    if !items.is_empty() {
        let mut run: Option<&str> = None;
        return Cell::Lines(
            items
                .iter()
                .map(|item| {
                    let marker = item.shows_number().then_some(item.number.trim());
                    let line = match marker {
                        Some(number) if run != Some(number) => {
                            format!("{number} {}", item.text())
                        }
                        _ => item.text(),
                    };
                    run = marker;
                    line
                })
                .collect(),
        );
    }
    let first_of_marker = hub
        .empty
        .iter()
        .find(|e| e.section == section && e.duties.iter().min() == Some(&duty.number()));
    match first_of_marker {
        Some(empty) => Cell::Nothing(empty.number.clone()),
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
pub fn coverage_line(role: Role, coverage: &RecordedCoverage) -> String {
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
                write_active(&mut out, active);
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

fn write_active(out: &mut String, active: &ActiveReport) {
    let _ = writeln!(out, "### {ACTIVE_TITLE}\n");
    for part in &active.parts {
        let _ = writeln!(out, "#### {}\n", part.heading);
        if let Some(sub) = &part.subheading {
            let _ = writeln!(out, "{sub}\n");
        }
        match &part.body {
            ActiveBody::Bullets(lines) => bullets(out, lines),
            ActiveBody::Coverage { lines, source } => {
                for line in lines {
                    let _ = writeln!(out, "- {line}");
                }
                let _ = writeln!(out, "\n{source}\n");
            }
        }
    }
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
