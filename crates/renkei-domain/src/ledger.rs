//! The hub's activity ledger (連携の拠点の取組): per hub and fiscal year, the items of each of
//! the five duties — results (実績) of the previous year, plan (計画) and progress (進捗状況) of
//! the year — the challenges (課題) found, and the area's active institutions' section. This is
//! what each hub reports to the prefecture every year (資料2); the report is produced from it.
//!
//! Items are structured (kind, schedule, counts, audience, organisers, links from progress to
//! plan) and keep the words and the sub-numbering (「②-1」, 「②-3 ④-4 ⑤-2」) their authors use.
//! [`LedgerFile`] is the file form (TOML) in which the demo region's real report is kept.

use crate::fiscal_year::FiscalYear;
use crate::region::{Duty, RegionDefinition, Role, RoleStatus};
use chrono::{Datelike, NaiveDate, Weekday};
use std::collections::{HashMap, HashSet};
use std::fmt;

/// The 中河内 region's report for 令和7年度 (with the 令和6年度 results), as data.
pub const NAKAKAWACHI_FY2025_TOML: &str =
    include_str!("../../../data/ledger/nakakawachi-fy2025.toml");

/// The three parts of a year's ledger that hold items.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// （１）the previous year's results (取組実績).
    Results,
    /// （３）the year's plan (取組計画).
    Plan,
    /// （４）the year's progress (進捗状況).
    Progress,
}

impl Section {
    /// All sections in report order.
    pub const ALL: [Section; 3] = [Section::Results, Section::Plan, Section::Progress];

    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Section::Results => "results",
            Section::Plan => "plan",
            Section::Progress => "progress",
        }
    }

    /// The fiscal year its items belong to, in the report of `report_year`.
    pub fn fiscal_year(self, report_year: FiscalYear) -> FiscalYear {
        match self {
            Section::Results => report_year.previous(),
            Section::Plan | Section::Progress => report_year,
        }
    }

    /// The section's number in the report, 「（１）」, 「（３）」, 「（４）」.
    pub fn number_ja(self) -> &'static str {
        match self {
            Section::Results => "（１）",
            Section::Plan => "（３）",
            Section::Progress => "（４）",
        }
    }

    /// The report's heading, 「（１）令和6年度の取組実績」.
    pub fn heading_ja(self, report_year: FiscalYear) -> String {
        let year = self.fiscal_year(report_year);
        match self {
            Section::Results => format!("（１）{year}の取組実績"),
            Section::Plan => format!("（３）{year}の取組計画"),
            Section::Progress => format!("（４）{year}の進捗状況"),
        }
    }

    /// English heading.
    pub fn heading_en(self, report_year: FiscalYear) -> String {
        let year = self.fiscal_year(report_year).year();
        match self {
            Section::Results => format!("(1) Results of FY{year}"),
            Section::Plan => format!("(3) Plan for FY{year}"),
            Section::Progress => format!("(4) Progress in FY{year}"),
        }
    }
}

/// What kind of activity an item is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// 会議
    Meeting,
    /// 相談窓口
    Consultation,
    /// 医療マップ・資源の把握・情報提供
    Resources,
    /// 訓練
    Drill,
    /// 研修会・講習会・事例検討会
    Training,
    /// 講演会・講座・講義
    Lecture,
    /// 普及啓発
    Awareness,
    /// その他
    Other,
}

impl ItemKind {
    /// All kinds.
    pub const ALL: [ItemKind; 8] = [
        ItemKind::Meeting,
        ItemKind::Consultation,
        ItemKind::Resources,
        ItemKind::Drill,
        ItemKind::Training,
        ItemKind::Lecture,
        ItemKind::Awareness,
        ItemKind::Other,
    ];

    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            ItemKind::Meeting => "meeting",
            ItemKind::Consultation => "consultation",
            ItemKind::Resources => "resources",
            ItemKind::Drill => "drill",
            ItemKind::Training => "training",
            ItemKind::Lecture => "lecture",
            ItemKind::Awareness => "awareness",
            ItemKind::Other => "other",
        }
    }

    /// The kind with this code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            ItemKind::Meeting => "会議",
            ItemKind::Consultation => "相談窓口",
            ItemKind::Resources => "資源の把握・情報提供",
            ItemKind::Drill => "訓練",
            ItemKind::Training => "研修",
            ItemKind::Lecture => "講演・講座",
            ItemKind::Awareness => "普及啓発",
            ItemKind::Other => "その他",
        }
    }

    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            ItemKind::Meeting => "Meeting",
            ItemKind::Consultation => "Consultation desk",
            ItemKind::Resources => "Resources and information",
            ItemKind::Drill => "Drill",
            ItemKind::Training => "Training",
            ItemKind::Lecture => "Lecture",
            ItemKind::Awareness => "Public awareness",
            ItemKind::Other => "Other",
        }
    }
}

/// One activity of the ledger.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerItem {
    /// Identifier, unique in its file (links from progress to plan use it).
    pub id: String,
    /// Results, plan or progress.
    pub section: Section,
    /// The marker as the hub writes it: 「①」, 「②-1」, 「②・③」, 「②-3 ④-4 ⑤-2」.
    pub number: String,
    /// The duties it serves, 1–5.
    pub duties: Vec<u8>,
    /// What kind of activity.
    pub kind: ItemKind,
    /// Its name or phrase, as written.
    pub title: String,
    /// Dates and counts as written (「令和7年5月から10回開催予定」, 「年11回」, 「適宜」).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// The schedule is already part of the title and is not printed again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub schedule_inline: bool,
    /// Words that follow the schedule, as written (「への参画」).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// How many are planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned: Option<u32>,
    /// How many were held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<u32>,
    /// Who it is for (市民, 多職種, 医師, 介護支援専門員, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audience: Vec<String>,
    /// Who runs it (三医師会合同, 市立柏原病院主催, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organisers: Vec<String>,
    /// Plan items this progress or result fulfils, by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fulfils: Vec<String>,
    /// An editor's note (for the demo data: how an ambiguous source was read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// A draft (copied from last year's plan, say): shown to the coordinator, left out of the
    /// report until confirmed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub draft: bool,
}

impl LedgerItem {
    /// Checks an item of a report year: duties agree with the number, a title, a schedule with
    /// possible dates, links only to the given plan items (and none from a plan item).
    pub fn check(&self, year: FiscalYear, plan_ids: &HashSet<&str>) -> Result<(), String> {
        check_duties(&self.duties, &self.number)?;
        if self.title.trim().is_empty() {
            return Err("名称が空です".into());
        }
        if let Some(schedule) = &self.schedule {
            Schedule::parse(schedule, self.section.fiscal_year(year)).map_err(|e| e.to_string())?;
            let compact = |t: &str| -> String {
                crate::text::normalize(t)
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect()
            };
            if self.schedule_inline && !compact(&self.title).contains(&compact(schedule)) {
                return Err(format!(
                    "日程「{schedule}」が名称の中にありません（名称に含めない場合は「名称に含む」を外してください）"
                ));
            }
        }
        if self.section == Section::Plan && !self.fulfils.is_empty() {
            return Err("計画の項目は他の計画につなげられません".into());
        }
        for target in &self.fulfils {
            if !plan_ids.contains(target.as_str()) {
                return Err(format!(
                    "つながる計画「{target}」が同じ拠点の計画にありません"
                ));
            }
        }
        Ok(())
    }

    /// The item as the report prints it: title, 「（schedule）」 unless it is part of the title,
    /// then the following words.
    pub fn text(&self) -> String {
        let mut out = self.title.clone();
        if let Some(schedule) = self.schedule.as_deref().filter(|_| !self.schedule_inline) {
            out.push('（');
            out.push_str(schedule);
            out.push('）');
        }
        if let Some(detail) = &self.detail {
            out.push_str(detail);
        }
        out
    }

    /// The duties it serves, in order.
    pub fn duties(&self) -> Vec<Duty> {
        let mut duties: Vec<Duty> = self
            .duties
            .iter()
            .filter_map(|&n| Duty::ALL.get(usize::from(n).wrapping_sub(1)).copied())
            .collect();
        duties.sort();
        duties.dedup();
        duties
    }

    /// Whether the report prints the number before the text: only when it says more than the
    /// column already does (「②-1」, 「②-3 ④-4 ⑤-2」, not a plain 「①」 under ①).
    pub fn shows_number(&self) -> bool {
        match self.duties().as_slice() {
            [only] => self.number.trim() != only.circled().to_string(),
            _ => true,
        }
    }
}

/// Duties a hub explicitly reported as 「なし」 (nothing) in a section.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyDuties {
    /// The section.
    pub section: Section,
    /// The duties, 1–5.
    pub duties: Vec<u8>,
    /// The marker as written (「②・③」).
    pub number: String,
}

impl EmptyDuties {
    /// Reads a section's 「なし」 markers as a coordinator types them, one per group, separated
    /// by spaces or 「、」: 「②・③ ⑤」 is two markers, ②・③ and ⑤. Each marker is kept as
    /// written; its duties are the circled numbers in it.
    pub fn parse_markers(section: Section, text: &str) -> Result<Vec<EmptyDuties>, String> {
        let normalized = text.replace(['、', ',', '，', '\u{3000}'], " ");
        let mut out: Vec<EmptyDuties> = Vec::new();
        for marker in normalized.split_whitespace() {
            let mut duties = Vec::new();
            for c in marker.chars() {
                match Duty::ALL.iter().find(|d| d.circled() == c) {
                    Some(d) => duties.push(d.number()),
                    None if c == '・' => {}
                    None => {
                        return Err(format!(
                            "「{marker}」は取組の番号として読めません。①〜⑤を「②・③ ⑤」のように書いてください"
                        ))
                    }
                }
            }
            if duties.is_empty() {
                return Err(format!("「{marker}」に①〜⑤の番号がありません"));
            }
            if let Some(d) = duties
                .iter()
                .find(|d| out.iter().any(|e| e.duties.contains(d)))
            {
                return Err(format!(
                    "{} が「なし」に二度書かれています",
                    crate::region::circled(*d)
                ));
            }
            out.push(EmptyDuties {
                section,
                duties,
                number: marker.to_owned(),
            });
        }
        Ok(out)
    }
}

/// A challenge (課題) found through the previous year's work.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Challenge {
    /// The marker as written, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// The text.
    pub text: String,
}

impl Challenge {
    /// Reads one line as the report prints it: a leading marker (「①」, 「②-1」, 「②・③」) becomes
    /// the number, the rest the text; a line without one is all text.
    pub fn from_line(line: &str) -> Challenge {
        let line = line.trim();
        let is_circled = |c: char| Duty::ALL.iter().any(|d| d.circled() == c);
        let mut end = 0;
        let mut chars = line.char_indices().peekable();
        // marker := circled ("-" digits)? (("・" | " ") circled ("-" digits)?)*
        while let Some(&(at, c)) = chars.peek() {
            if !is_circled(c) {
                break;
            }
            chars.next();
            end = at + c.len_utf8();
            let mut probe = chars.clone();
            if matches!(probe.next(), Some((_, '-' | '－'))) {
                let mut digits_end = None;
                while let Some(&(i, d)) = probe.peek() {
                    if !d.is_ascii_digit() {
                        break;
                    }
                    probe.next();
                    digits_end = Some(i + 1);
                }
                if let Some(e) = digits_end {
                    chars = probe;
                    end = e;
                }
            }
            let mut probe = chars.clone();
            match probe.next() {
                Some((_, '・' | ' ')) if probe.peek().is_some_and(|&(_, c)| is_circled(c)) => {
                    chars = probe;
                }
                _ => break,
            }
        }
        let (number, text) = line.split_at(end);
        Challenge {
            number: Some(number.to_owned()).filter(|n| !n.is_empty()),
            text: text.trim_start().to_owned(),
        }
    }

    /// The line as the report prints it: the marker, a space, the text (「②-1 ICTの活用…」).
    pub fn line(&self) -> String {
        match &self.number {
            Some(number) => format!("{number} {}", self.text),
            None => self.text.clone(),
        }
    }
}

/// The area's active institutions' section (積極的医療機関の取組), gathered by the hub.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActiveSection {
    /// （1）plans: 他医療機関等への調整・支援等.
    #[serde(default)]
    pub plans: Vec<String>,
    /// Progress, where the hub reports it.
    #[serde(default)]
    pub progress: Vec<String>,
    /// （3）challenges.
    #[serde(default)]
    pub challenges: Vec<String>,
    /// A footnote (「※ …」 without the mark).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footnote: Option<String>,
    /// The （2）対応状況 as recorded for this year; `None` when the hub reported none (the
    /// report then prints no 対応状況 at all — "not reported" is never printed as 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<RecordedCoverage>,
}

/// Where a recorded 対応状況 came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoverageSource {
    /// The hub reported the counts (as in the hubs' own report to the prefecture).
    Hub,
    /// Counted from the institutions' role statuses in Renkei's directory, on `as_of`.
    Directory,
}

impl CoverageSource {
    /// Stable code (the form's value).
    pub fn code(self) -> &'static str {
        match self {
            CoverageSource::Hub => "hub",
            CoverageSource::Directory => "directory",
        }
    }
}

/// A 対応状況 kept in the ledger with its year: how many active institutions the area had and,
/// per role ①〜⑥, how many could do it now (現状対応可). Kept as data, so a year's report does not
/// change when today's directory does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedCoverage {
    /// Who gave the counts.
    pub source: CoverageSource,
    /// The day the counts describe, where it is known (the 中河内 report of 令和7年度 gives none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<NaiveDate>,
    /// 積極的医療機関 N件.
    pub institutions: usize,
    /// 現状対応可 per role, ①–⑥.
    pub available: [usize; 6],
    /// 対応予定 per role, where it was counted (the directory knows it; hubs' reports do not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned: Option<[usize; 6]>,
}

impl RecordedCoverage {
    /// Today's counts from the directory, recorded as of `day`; `None` when the area has no
    /// active institution or none of them has reported a single role (there is nothing to
    /// count, and a block of 0件 would say something nobody reported).
    pub fn from_directory(coverage: &RoleCoverage, day: NaiveDate) -> Option<RecordedCoverage> {
        (coverage.institutions > 0 && coverage.answered > 0).then_some(RecordedCoverage {
            source: CoverageSource::Directory,
            as_of: Some(day),
            institutions: coverage.institutions,
            available: coverage.available,
            planned: Some(coverage.planned),
        })
    }

    /// Checks the counts: at least one institution, no role counted more often than there are
    /// institutions.
    pub fn check(&self) -> Result<(), String> {
        if self.institutions == 0 {
            return Err(
                "積極的医療機関の件数は 1 以上です（報告がなければ対応状況は記録しません）".into(),
            );
        }
        for (i, n) in self.available.iter().enumerate() {
            let planned = self.planned.map_or(0, |p| p[i]);
            if n + planned > self.institutions {
                return Err(format!(
                    "{} の件数（{}）が積極的医療機関の件数（{}）を超えています",
                    crate::region::circled(i as u8 + 1),
                    n + planned,
                    self.institutions
                ));
            }
        }
        Ok(())
    }

    /// Where the counts come from, as the report prints it under them: 「出典：拠点の報告」 or
    /// 「出典：Renkei の医療機関情報（令和8年3月31日時点で集計）」.
    pub fn source_line(&self) -> String {
        let day = self
            .as_of
            .map(|d| format!("{}時点", crate::fiscal_year::format_wareki_date(d)));
        match (self.source, day) {
            (CoverageSource::Hub, None) => "出典：拠点の報告".to_owned(),
            (CoverageSource::Hub, Some(day)) => format!("出典：拠点の報告（{day}）"),
            (CoverageSource::Directory, day) => format!(
                "出典：Renkei の医療機関情報（{}で集計）",
                day.unwrap_or_default()
            ),
        }
    }
}

impl fmt::Display for RecordedCoverage {
    /// 「積極的医療機関 7件：①5 ②6 ③5 ④2 ⑤7 ⑥1（出典：拠点の報告）」.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_counts(f, self.institutions, &self.available)?;
        write!(f, "（{}）", self.source_line())
    }
}

/// 「積極的医療機関 7件：①5 ②6 ③5 ④2 ⑤7 ⑥1」.
fn write_counts(
    f: &mut fmt::Formatter<'_>,
    institutions: usize,
    available: &[usize; 6],
) -> fmt::Result {
    write!(f, "積極的医療機関 {institutions}件：")?;
    for (i, n) in available.iter().enumerate() {
        let sep = if i == 0 { "" } else { " " };
        write!(f, "{sep}{}{n}", crate::region::circled(i as u8 + 1))?;
    }
    Ok(())
}

/// A hub's own wording of its section headings, where it differs from Renkei's (「令和6年度の
/// 取り組みを通じた課題」, 「令和7年度取組計画」): the text after the （N） number. Kept per year;
/// next year's ledger starts with Renkei's wording.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Headings {
    /// （１）, instead of 「令和6年度の取組実績」.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<String>,
    /// （２）, instead of 「令和6年度の取組を通じた課題」.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenges: Option<String>,
    /// （３）, instead of 「令和7年度の取組計画」.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// （４）, instead of 「令和7年度の進捗状況」.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
}

impl Headings {
    /// Whether every heading is Renkei's.
    pub fn is_default(&self) -> bool {
        *self == Headings::default()
    }

    /// The hub's wording of a section's heading, if it has one.
    pub fn of(&self, section: Section) -> Option<&str> {
        match section {
            Section::Results => self.results.as_deref(),
            Section::Plan => self.plan.as_deref(),
            Section::Progress => self.progress.as_deref(),
        }
    }
}

/// One hub's ledger for a report year.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubLedger {
    /// The report's document number (「資料2-1」).
    pub document: String,
    /// Renkei's area code.
    pub area: String,
    /// 対象地域 as the hub writes it.
    pub area_label: String,
    /// 実施主体 — 連携の拠点.
    pub hub: String,
    /// 市町村医介連携事業（委託先）.
    pub contractor: String,
    /// The items.
    #[serde(default, rename = "item")]
    pub items: Vec<LedgerItem>,
    /// Duties reported as 「なし」.
    #[serde(default, rename = "empty")]
    pub empty: Vec<EmptyDuties>,
    /// The previous year's challenges.
    #[serde(default, rename = "challenge")]
    pub challenges: Vec<Challenge>,
    /// The active institutions' section, if the hub wrote one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<ActiveSection>,
    /// The hub's wording of its headings, where it is its own.
    #[serde(default, skip_serializing_if = "Headings::is_default")]
    pub headings: Headings,
}

impl HubLedger {
    /// The items of a section under a duty, in file order; drafts are left out (they are not
    /// part of the report until a coordinator confirms them).
    pub fn items_of(&self, section: Section, duty: Duty) -> Vec<&LedgerItem> {
        self.items
            .iter()
            .filter(|i| i.section == section && !i.draft && i.duties().contains(&duty))
            .collect()
    }

    /// Checks the hub's ledger for a report year: a known area, unique ids, duties that agree
    /// with the numbers, titles, schedules with possible dates, counts, and links to plan items.
    pub fn validate(&self, region: &RegionDefinition, year: FiscalYear) -> Result<(), LedgerError> {
        let invalid = |place: String, reason: String| LedgerError::Invalid { place, reason };
        crate::region::AreaCode::parse(&self.area)
            .ok()
            .filter(|code| region.area(code).is_some())
            .ok_or_else(|| {
                invalid(
                    self.document.clone(),
                    format!("地域コード「{}」はありません", self.area),
                )
            })?;
        let plan_ids: HashSet<&str> = self
            .items
            .iter()
            .filter(|i| i.section == Section::Plan)
            .map(|i| i.id.as_str())
            .collect();
        let mut ids = HashSet::new();
        for item in &self.items {
            let place = format!("{} {}", self.document, item.id);
            if item.id.trim().is_empty() || !ids.insert(item.id.as_str()) {
                return Err(invalid(place, "ID が空か、重複しています".into()));
            }
            item.check(year, &plan_ids)
                .map_err(|reason| invalid(place.clone(), reason))?;
        }
        for empty in &self.empty {
            check_duties(&empty.duties, &empty.number)
                .map_err(|r| invalid(format!("{} なし", self.document), r))?;
        }
        if let Some(coverage) = self.active.as_ref().and_then(|a| a.coverage.as_ref()) {
            coverage
                .check()
                .map_err(|r| invalid(format!("{} 対応状況", self.document), r))?;
        }
        Ok(())
    }

    /// A fresh id for a new item of a section (「yao-plan-9」).
    pub fn new_item_id(&self, section: Section) -> String {
        let prefix = format!("{}-{}-", self.area, section.code());
        let next = self
            .items
            .iter()
            .filter_map(|i| i.id.strip_prefix(&prefix)?.parse::<u32>().ok())
            .max()
            .unwrap_or(0)
            + 1;
        format!("{prefix}{next}")
    }

    /// Next year's ledger started from this one: the same header and active-institution plans,
    /// and this year's plan items copied as drafts of next year's plan (the coordinator confirms
    /// or changes each). Results, progress and challenges start empty.
    pub fn next_year(&self) -> HubLedger {
        let mut next = HubLedger {
            items: Vec::new(),
            empty: Vec::new(),
            challenges: Vec::new(),
            // A year's 対応状況 is that year's; next year's is recorded when it is known.
            active: self.active.as_ref().map(|a| ActiveSection {
                plans: a.plans.clone(),
                ..ActiveSection::default()
            }),
            headings: Headings::default(),
            ..self.clone()
        };
        for item in self.items.iter().filter(|i| i.section == Section::Plan) {
            let id = next.new_item_id(Section::Plan);
            next.items.push(LedgerItem {
                id,
                draft: true,
                held: None,
                fulfils: Vec::new(),
                // A schedule names this year's dates; next year's are not known yet.
                schedule: None,
                schedule_inline: false,
                note: Some(format!("前年度の計画（{}）から", item.id)),
                ..item.clone()
            });
        }
        next
    }

    /// The marker of a 「なし」 for this section and duty, if the hub wrote one.
    pub fn empty_marker(&self, section: Section, duty: Duty) -> Option<&str> {
        self.empty
            .iter()
            .find(|e| e.section == section && e.duties.contains(&duty.number()))
            .map(|e| e.number.as_str())
    }

    /// The report's heading of a section: （１）…（４） and the hub's words or Renkei's.
    pub fn heading(&self, section: Section, report_year: FiscalYear) -> String {
        match self.headings.of(section) {
            Some(words) => format!("{}{words}", section.number_ja()),
            None => section.heading_ja(report_year),
        }
    }

    /// The report's heading of the （２）challenges.
    pub fn challenges_heading(&self, report_year: FiscalYear) -> String {
        match &self.headings.challenges {
            Some(words) => format!("（２）{words}"),
            None => challenges_heading_ja(report_year),
        }
    }

    /// How many items of a section (of one kind, or all) there are, and how many sessions they
    /// make: held counts for results, planned counts otherwise; an item without a count is one
    /// session. Drafts are not counted.
    pub fn tally(&self, section: Section, kind: Option<ItemKind>) -> (usize, u32) {
        let items: Vec<&LedgerItem> = self
            .items
            .iter()
            .filter(|i| i.section == section && !i.draft && kind.is_none_or(|k| i.kind == k))
            .collect();
        let sessions = items
            .iter()
            .map(|i| match section {
                Section::Results => i.held.unwrap_or(1),
                _ => i.planned.unwrap_or(1),
            })
            .sum();
        (items.len(), sessions)
    }

    /// Deletes an item and every link to it; false when there is no such item.
    pub fn delete_item(&mut self, id: &str) -> bool {
        let before = self.items.len();
        self.items.retain(|i| i.id != id);
        for other in &mut self.items {
            other.fulfils.retain(|f| f != id);
        }
        self.items.len() != before
    }

    /// Moves an item one place up or down among the items it is listed with (same section,
    /// a duty in common), keeping every other item's order. `None` when there is no such item;
    /// `Some(false)` when it is already first (or last).
    pub fn move_item(&mut self, id: &str, up: bool) -> Option<bool> {
        let at = self.items.iter().position(|i| i.id == id)?;
        let (section, duties) = (self.items[at].section, self.items[at].duties());
        let listed_with = |other: &LedgerItem| {
            other.section == section && other.duties().iter().any(|d| duties.contains(d))
        };
        let neighbour = if up {
            self.items[..at].iter().rposition(listed_with)
        } else {
            self.items[at + 1..]
                .iter()
                .position(listed_with)
                .map(|p| at + 1 + p)
        };
        let Some(to) = neighbour else {
            return Some(false);
        };
        let item = self.items.remove(at);
        self.items.insert(to, item);
        Some(true)
    }

    /// The 「なし」 markers of a section as a coordinator types them (「②・③ ⑤」).
    pub fn empty_markers(&self, section: Section) -> String {
        self.empty
            .iter()
            .filter(|e| e.section == section)
            .map(|e| e.number.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether the section has anything but drafts (else the report says 「未入力」).
    pub fn has_section(&self, section: Section) -> bool {
        self.items.iter().any(|i| i.section == section && !i.draft)
            || self.empty.iter().any(|e| e.section == section)
    }
}

/// Renkei's heading of the （２）challenges: 「（２）令和6年度の取組を通じた課題」.
pub fn challenges_heading_ja(report_year: FiscalYear) -> String {
    format!("（２）{}の取組を通じた課題", report_year.previous())
}

/// A region's ledger for a report year, as kept in a file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerFile {
    /// Format version (1).
    pub schema: u32,
    /// The region's code.
    pub region: String,
    /// The fiscal year reported (its plan and progress; the results are of the year before).
    pub report_year: i32,
    /// The hubs, in report order.
    #[serde(rename = "hub")]
    pub hubs: Vec<HubLedger>,
}

/// Why a ledger cannot be accepted; the messages are in Japanese for the people who fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// The file does not parse.
    #[error("台帳ファイルを読めません: {0}")]
    Unreadable(String),
    /// Something in it is wrong; where and what.
    #[error("{place}: {reason}")]
    Invalid {
        /// Which hub and item.
        place: String,
        /// What is wrong.
        reason: String,
    },
}

impl LedgerFile {
    /// Reads and checks a ledger file against the region.
    pub fn parse(text: &str, region: &RegionDefinition) -> Result<Self, LedgerError> {
        let file: LedgerFile =
            toml::from_str(text).map_err(|e| LedgerError::Unreadable(e.to_string()))?;
        file.validate(region)?;
        Ok(file)
    }

    /// The fiscal year reported.
    pub fn fiscal_year(&self) -> Result<FiscalYear, LedgerError> {
        FiscalYear::new(self.report_year).map_err(|e| LedgerError::Invalid {
            place: "report_year".into(),
            reason: e.to_string(),
        })
    }

    /// Checks what serde cannot: the schema and region, known areas, duties 1–5 that agree with
    /// the numbers, unique ids, links to plan items of the same hub, counts, and schedules with
    /// possible dates.
    pub fn validate(&self, region: &RegionDefinition) -> Result<(), LedgerError> {
        let invalid = |place: String, reason: String| LedgerError::Invalid { place, reason };
        if self.schema != 1 {
            return Err(invalid(
                "schema".into(),
                format!("形式 {} には対応していません（1 のみ）", self.schema),
            ));
        }
        if self.region != region.region.code {
            return Err(invalid(
                "region".into(),
                format!(
                    "地域「{}」はこのシステムの医療圏（{}）ではありません",
                    self.region, region.region.code
                ),
            ));
        }
        let year = self.fiscal_year()?;
        let mut ids = HashSet::new();
        for hub in &self.hubs {
            hub.validate(region, year)?;
            for item in &hub.items {
                if !ids.insert(item.id.as_str()) {
                    return Err(invalid(
                        format!("{} {}", hub.document, item.id),
                        "ID が重複しています".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The hub of an area.
    pub fn hub_of(&self, area: &str) -> Option<&HubLedger> {
        self.hubs.iter().find(|h| h.area == area)
    }
}

/// Duties must be 1–5, at least one, and each must appear in the number as its circled digit.
fn check_duties(duties: &[u8], number: &str) -> Result<(), String> {
    if duties.is_empty() {
        return Err("取組（①〜⑤）が指定されていません".into());
    }
    for &d in duties {
        let Some(duty) = Duty::ALL.get(usize::from(d).wrapping_sub(1)) else {
            return Err(format!("取組 {d} はありません（1〜5）"));
        };
        if !number.contains(duty.circled()) {
            return Err(format!(
                "番号「{number}」に {} がありません",
                duty.circled()
            ));
        }
    }
    Ok(())
}

/// An item's schedule, read from how reports write it: days (「2月22日」, 「11月5日（水）」,
/// 「8/25」), months (「6月、12月」, 「令和7年5月から」), counts (「10回開催予定」, 「年11回」), and
/// 「適宜」 or 「未定」. Days without a year fall in the item's fiscal year (January–March are
/// the next calendar year).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Days named.
    pub days: Vec<NaiveDate>,
    /// Months named without a day: (year, month).
    pub months: Vec<(i32, u32)>,
    /// A count of sessions (「10回」).
    pub count: Option<u32>,
    /// The count is per year (「年11回」).
    pub per_year: bool,
    /// Roughly (「頃」, 「上旬」, 「目途」).
    pub approximate: bool,
    /// As needed (「適宜」).
    pub as_needed: bool,
    /// Not decided yet (「未定」).
    pub undecided: bool,
}

/// Why a schedule cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// A day that does not exist.
    #[error("「{0}」という日はありません")]
    NoSuchDay(String),
    /// A month outside 1–12.
    #[error("「{0}」という月はありません")]
    NoSuchMonth(String),
    /// A weekday that does not match the day.
    #[error("{date}は{written}曜日ではありません（{actual}曜日です）")]
    WrongWeekday {
        /// The day as written.
        date: String,
        /// The weekday written.
        written: char,
        /// The actual weekday.
        actual: char,
    },
    /// An era year that does not exist.
    #[error("「{0}」という年はありません")]
    NoSuchYear(String),
}

impl Schedule {
    /// Reads a schedule in the given fiscal year.
    pub fn parse(text: &str, fiscal_year: FiscalYear) -> Result<Self, ScheduleError> {
        let text: Vec<char> = crate::text::normalize(text)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let mut out = Schedule::default();
        let in_year = |month: u32| {
            if month >= 4 {
                fiscal_year.year()
            } else {
                fiscal_year.year() + 1
            }
        };
        let mut explicit_year: Option<i32> = None;
        let mut i = 0;
        while i < text.len() {
            let rest: String = text[i..].iter().collect();
            if let Some((era, after)) = crate::fiscal_year::Era::from_prefix(&rest) {
                let consumed = rest.len() - after.len();
                let skip = rest[..consumed].chars().count();
                let (digits, len) = number_at(&text, i + skip);
                if len > 0 && text.get(i + skip + len) == Some(&'年') {
                    let year = era
                        .to_gregorian(digits as i32)
                        .ok_or_else(|| ScheduleError::NoSuchYear(rest.clone()))?;
                    explicit_year = Some(year);
                    i += skip + len + 1;
                    continue;
                }
                i += skip;
                continue;
            }
            for (word, set) in [
                ("適宜", 0u8),
                ("未定", 1),
                ("頃", 2),
                ("目途", 2),
                ("上旬", 2),
                ("中旬", 2),
                ("下旬", 2),
            ] {
                if rest.starts_with(word) {
                    match set {
                        0 => out.as_needed = true,
                        1 => out.undecided = true,
                        _ => out.approximate = true,
                    }
                }
            }
            if text[i] == '年' && text.get(i + 1).is_some_and(char::is_ascii_digit) {
                // 「年11回」.
                out.per_year = true;
                i += 1;
                continue;
            }
            let (n, len) = number_at(&text, i);
            if len == 0 {
                i += 1;
                continue;
            }
            let after = i + len;
            match text.get(after) {
                Some('月') => {
                    let month = n;
                    if !(1..=12).contains(&month) {
                        return Err(ScheduleError::NoSuchMonth(format!("{month}月")));
                    }
                    let year = explicit_year.unwrap_or_else(|| in_year(month));
                    let (day, day_len) = number_at(&text, after + 1);
                    if day_len > 0 && text.get(after + 1 + day_len) == Some(&'日') {
                        let written = format!("{month}月{day}日");
                        let date = NaiveDate::from_ymd_opt(year, month, day)
                            .ok_or_else(|| ScheduleError::NoSuchDay(written.clone()))?;
                        let mut next = after + 1 + day_len + 1;
                        next = check_weekday(&text, next, date, &written)?;
                        out.days.push(date);
                        i = next;
                    } else {
                        out.months.push((year, month));
                        i = after + 1;
                    }
                }
                Some('/') => {
                    let (day, day_len) = number_at(&text, after + 1);
                    if day_len == 0 {
                        i = after + 1;
                        continue;
                    }
                    let written = format!("{n}/{day}");
                    if !(1..=12).contains(&n) {
                        return Err(ScheduleError::NoSuchDay(written));
                    }
                    let year = explicit_year.unwrap_or_else(|| in_year(n));
                    let date = NaiveDate::from_ymd_opt(year, n, day)
                        .ok_or_else(|| ScheduleError::NoSuchDay(written.clone()))?;
                    out.days.push(date);
                    i = check_weekday(&text, after + 1 + day_len, date, &written)?;
                }
                Some('回') => {
                    out.count = Some(n);
                    i = after + 1;
                }
                _ => i = after,
            }
        }
        Ok(out)
    }
}

/// The decimal number starting at `at`, and how many characters it takes.
fn number_at(text: &[char], at: usize) -> (u32, usize) {
    let mut value: u32 = 0;
    let mut len = 0;
    while let Some(d) = text.get(at + len).and_then(|c| c.to_digit(10)) {
        value = value.saturating_mul(10).saturating_add(d);
        len += 1;
    }
    (value, len)
}

/// Skips a 「(水)」 after a day, checking it names the right weekday.
fn check_weekday(
    text: &[char],
    at: usize,
    date: NaiveDate,
    written: &str,
) -> Result<usize, ScheduleError> {
    if text.get(at) != Some(&'(') || text.get(at + 2) != Some(&')') {
        return Ok(at);
    }
    let Some(&mark) = text.get(at + 1) else {
        return Ok(at);
    };
    let Some(weekday) = weekday_of(mark) else {
        return Ok(at);
    };
    if weekday != date.weekday() {
        return Err(ScheduleError::WrongWeekday {
            date: written.to_owned(),
            written: mark,
            actual: weekday_mark(date.weekday()),
        });
    }
    Ok(at + 3)
}

fn weekday_of(mark: char) -> Option<Weekday> {
    Some(match mark {
        '月' => Weekday::Mon,
        '火' => Weekday::Tue,
        '水' => Weekday::Wed,
        '木' => Weekday::Thu,
        '金' => Weekday::Fri,
        '土' => Weekday::Sat,
        '日' => Weekday::Sun,
        _ => return None,
    })
}

fn weekday_mark(day: Weekday) -> char {
    match day {
        Weekday::Mon => '月',
        Weekday::Tue => '火',
        Weekday::Wed => '水',
        Weekday::Thu => '木',
        Weekday::Fri => '金',
        Weekday::Sat => '土',
        Weekday::Sun => '日',
    }
}

/// The 対応状況 of an area's active institutions as the directory has it today: how many there
/// are, how many have reported any role, and for each role how many report 現状対応可.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RoleCoverage {
    /// Active institutions in the area.
    pub institutions: usize,
    /// Those of them that have reported the status of at least one role.
    pub answered: usize,
    /// 現状対応可 per role, ①–⑥.
    pub available: [usize; 6],
    /// 対応予定 per role.
    pub planned: [usize; 6],
}

impl RoleCoverage {
    /// Adds one active institution's role statuses.
    pub fn add(&mut self, statuses: impl IntoIterator<Item = (Role, RoleStatus)>) {
        self.institutions += 1;
        let mut answered = false;
        for (role, status) in statuses {
            answered = true;
            let at = usize::from(role.number()) - 1;
            match status {
                RoleStatus::Available => self.available[at] += 1,
                RoleStatus::Planned => self.planned[at] += 1,
                _ => {}
            }
        }
        if answered {
            self.answered += 1;
        }
    }
}

impl fmt::Display for RoleCoverage {
    /// 「積極的医療機関 7件：①5 ②6 ③5 ④2 ⑤7 ⑥1」.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_counts(f, self.institutions, &self.available)
    }
}

/// Coverage per area code.
pub type CoverageByArea = HashMap<String, RoleCoverage>;

#[cfg(test)]
mod tests {
    use super::*;

    fn fy(year: i32) -> FiscalYear {
        FiscalYear::new(year).unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn schedules_read_as_reports_write_them() {
        let s = Schedule::parse("2月22日", fy(2024)).unwrap();
        assert_eq!(
            s.days,
            vec![day(2025, 2, 22)],
            "February is in the next calendar year"
        );
        let s = Schedule::parse("6月13日、10月17日", fy(2024)).unwrap();
        assert_eq!(s.days, vec![day(2024, 6, 13), day(2024, 10, 17)]);
        let s = Schedule::parse("令和 7 年 5 月から 1 0 回開催予定", fy(2025)).unwrap();
        assert_eq!((s.months.clone(), s.count), (vec![(2025, 5)], Some(10)));
        let s = Schedule::parse(
            "年11回 ※枚岡在宅医療介護連携推進事業運営協議会と共催",
            fy(2024),
        )
        .unwrap();
        assert!(s.per_year && s.count == Some(11));
        let s = Schedule::parse("11月5日（水）実施予定", fy(2025)).unwrap();
        assert_eq!(s.days, vec![day(2025, 11, 5)]);
        let s = Schedule::parse("8/25", fy(2024)).unwrap();
        assert_eq!(s.days, vec![day(2024, 8, 25)]);
        let s = Schedule::parse("6月30日、年3回を目途に開催", fy(2025)).unwrap();
        assert!(s.per_year && s.approximate && s.count == Some(3));
        assert!(Schedule::parse("適宜", fy(2025)).unwrap().as_needed);
        assert!(Schedule::parse("未定", fy(2025)).unwrap().undecided);
        let s = Schedule::parse("6月、12月", fy(2024)).unwrap();
        assert_eq!(s.months, vec![(2024, 6), (2024, 12)]);
    }

    #[test]
    fn impossible_schedules_are_refused_with_the_reason() {
        let e = Schedule::parse("2月30日", fy(2025)).unwrap_err();
        assert_eq!(e.to_string(), "「2月30日」という日はありません");
        assert!(Schedule::parse("13月", fy(2025)).is_err());
        let e = Schedule::parse("11月5日（木）", fy(2025)).unwrap_err();
        assert_eq!(e.to_string(), "11月5日は木曜日ではありません（水曜日です）");
        // 令和7年度's February has 28 days, 令和5年度's (2024) 29.
        assert!(Schedule::parse("2月29日", fy(2025)).is_err());
        assert!(Schedule::parse("2月29日", fy(2023)).is_ok());
    }

    #[test]
    fn an_item_prints_with_its_schedule_and_number_only_when_it_adds_something() {
        let mut item: LedgerItem = toml::from_str(
            r#"
            id = "a"
            section = "plan"
            number = "①"
            duties = [1]
            kind = "meeting"
            title = "三医師会合同災害対策会議"
            schedule = "令和7年5月から10回開催予定"
            planned = 10
            "#,
        )
        .unwrap();
        assert_eq!(
            item.text(),
            "三医師会合同災害対策会議（令和7年5月から10回開催予定）"
        );
        assert!(!item.shows_number());
        item.schedule_inline = true;
        item.detail = Some("への参画".into());
        assert_eq!(item.text(), "三医師会合同災害対策会議への参画");
        item.number = "②-3 ④-4 ⑤-2".into();
        item.duties = vec![2, 4, 5];
        assert!(item.shows_number());
        assert_eq!(
            item.duties(),
            vec![Duty::Resources, Duty::Training, Duty::Awareness]
        );
        let unknown: Result<LedgerItem, _> = toml::from_str("id = \"a\"\ncolour = \"red\"");
        assert!(unknown.is_err(), "unknown keys are errors");
    }

    #[test]
    fn the_demo_regions_report_is_valid_data() {
        let region = RegionDefinition::nakakawachi();
        let file = LedgerFile::parse(NAKAKAWACHI_FY2025_TOML, &region).unwrap();
        assert_eq!(file.report_year, 2025);
        let areas: Vec<&str> = file.hubs.iter().map(|h| h.area.as_str()).collect();
        assert_eq!(
            areas,
            [
                "higashiosaka-west",
                "higashiosaka-central",
                "higashiosaka-east",
                "yao",
                "kashiwara"
            ]
        );
        assert!(file.hub_of("kashiwara").unwrap().active.is_none());
        assert!(file
            .hub_of("kashiwara")
            .unwrap()
            .has_section(Section::Progress));
    }

    #[test]
    fn every_challenge_line_of_the_fixture_reads_back_to_its_number_and_text() {
        let region = RegionDefinition::nakakawachi();
        let file = LedgerFile::parse(NAKAKAWACHI_FY2025_TOML, &region).unwrap();
        let mut numbered = 0;
        for challenge in file.hubs.iter().flat_map(|h| &h.challenges) {
            assert_eq!(&Challenge::from_line(&challenge.line()), challenge);
            numbered += usize::from(challenge.number.is_some());
        }
        assert!(numbered >= 5, "{numbered}");
        let cases = [
            ("②-1 看取りの研修", Some("②-1"), "看取りの研修"),
            ("②・③ 訓練", Some("②・③"), "訓練"),
            ("①24時間対応の体制", Some("①"), "24時間対応の体制"),
            ("②-体制", Some("②"), "-体制"),
            ("課題はなし", None, "課題はなし"),
            ("  ⑤市民講座  ", Some("⑤"), "市民講座"),
        ];
        for (line, number, text) in cases {
            let c = Challenge::from_line(line);
            assert_eq!(
                (c.number.as_deref(), c.text.as_str()),
                (number, text),
                "{line}"
            );
        }
    }

    #[test]
    fn none_markers_are_read_as_typed_and_refused_when_unreadable() {
        let read = EmptyDuties::parse_markers(Section::Results, "②・③、⑤").unwrap();
        assert_eq!(
            read.iter()
                .map(|e| (e.number.as_str(), e.duties.clone()))
                .collect::<Vec<_>>(),
            [("②・③", vec![2, 3]), ("⑤", vec![5])]
        );
        assert!(EmptyDuties::parse_markers(Section::Plan, " ")
            .unwrap()
            .is_empty());
        for (bad, expected) in [
            ("②と③", "読めません"),
            ("・", "番号がありません"),
            ("② ②", "二度"),
        ] {
            let e = EmptyDuties::parse_markers(Section::Plan, bad).unwrap_err();
            assert!(e.contains(expected), "{bad}: {e}");
        }
        let region = RegionDefinition::nakakawachi();
        let file = LedgerFile::parse(NAKAKAWACHI_FY2025_TOML, &region).unwrap();
        let yao = file.hub_of("yao").unwrap();
        assert_eq!(yao.empty_markers(Section::Results), "②・③ ⑤");
        assert_eq!(yao.empty_markers(Section::Plan), "⑤");
    }

    #[test]
    fn an_item_moves_among_those_it_is_listed_with() {
        let region = RegionDefinition::nakakawachi();
        let file = LedgerFile::parse(NAKAKAWACHI_FY2025_TOML, &region).unwrap();
        let mut hub = file.hub_of("yao").unwrap().clone();
        let titles = |hub: &HubLedger, duty: Duty| -> Vec<String> {
            hub.items_of(Section::Plan, duty)
                .iter()
                .map(|i| i.id.clone())
                .collect()
        };
        let duty = Duty::ALL
            .into_iter()
            .find(|d| hub.items_of(Section::Plan, *d).len() >= 2)
            .expect("a duty with two plan items");
        let before = titles(&hub, duty);
        let all_before: Vec<String> = hub.items.iter().map(|i| i.id.clone()).collect();
        assert_eq!(hub.move_item(&before[1], true), Some(true));
        let after = titles(&hub, duty);
        assert_eq!((&after[0], &after[1]), (&before[1], &before[0]));
        assert_eq!(after[2..], before[2..]);
        assert_eq!(hub.move_item(&after[0], true), Some(false), "already first");
        assert_eq!(hub.move_item(&after[0], false), Some(true));
        assert_eq!(titles(&hub, duty), before, "and back");
        let all_after: Vec<String> = hub.items.iter().map(|i| i.id.clone()).collect();
        assert_eq!(all_after, all_before, "nothing else moved");
        assert_eq!(hub.move_item("no-such-item", true), None);
    }

    #[test]
    fn tallies_count_items_and_sessions_without_drafts() {
        let region = RegionDefinition::nakakawachi();
        let file = LedgerFile::parse(NAKAKAWACHI_FY2025_TOML, &region).unwrap();
        let hub = file.hub_of("higashiosaka-west").unwrap();
        let (items, sessions) = hub.tally(Section::Results, None);
        let expected_items = hub
            .items
            .iter()
            .filter(|i| i.section == Section::Results)
            .count();
        assert_eq!(items, expected_items);
        assert!(sessions as usize >= items);
        let by_kind: usize = ItemKind::ALL
            .iter()
            .map(|k| hub.tally(Section::Results, Some(*k)).0)
            .sum();
        assert_eq!(by_kind, items);
        let next = hub.next_year();
        assert_eq!(next.tally(Section::Plan, None), (0, 0));
    }

    #[test]
    fn next_year_starts_from_this_years_plan_as_drafts() {
        let region = RegionDefinition::nakakawachi();
        let file = LedgerFile::parse(NAKAKAWACHI_FY2025_TOML, &region).unwrap();
        let yao = file.hub_of("yao").unwrap();
        assert_eq!(yao.new_item_id(Section::Plan), "yao-plan-9");
        assert_eq!(yao.new_item_id(Section::Results), "yao-results-5");
        let next = yao.next_year();
        let plans = yao
            .items
            .iter()
            .filter(|i| i.section == Section::Plan)
            .count();
        assert_eq!(next.items.len(), plans);
        assert!(next.items.iter().all(|i| i.draft
            && i.section == Section::Plan
            && i.schedule.is_none()
            && i.fulfils.is_empty()));
        assert_eq!(
            (next.hub.as_str(), next.document.as_str()),
            ("八尾市医師会", "資料2-7")
        );
        assert!(next.challenges.is_empty());
        assert!(
            !next.has_section(Section::Plan),
            "drafts alone are not in the report"
        );
        next.validate(&region, FiscalYear::new(2026).unwrap())
            .unwrap();
        let west = file.hub_of("higashiosaka-west").unwrap();
        assert!(west.active.as_ref().unwrap().coverage.is_some());
        let west_next = west.next_year();
        assert_eq!(
            west_next
                .active
                .as_ref()
                .map(|a| (a.plans.len(), a.coverage)),
            Some((13, None)),
            "the plans carry over; this year's 対応状況 does not"
        );
        let report = crate::report::build([&next], FiscalYear::new(2026).unwrap(), "中河内", None);
        let markdown = report.markdown();
        assert!(markdown.contains(crate::report::MISSING));
        assert!(
            !markdown.contains("対応状況"),
            "a new year has no 対応状況 until one is recorded:\n{markdown}"
        );
        assert!(
            next.headings.is_default(),
            "next year starts with Renkei's headings"
        );
    }

    #[test]
    fn bad_ledgers_are_refused_with_the_place() {
        let region = RegionDefinition::nakakawachi();
        let good = NAKAKAWACHI_FY2025_TOML;
        let cases = [
            (
                good.replace("report_year = 2025", "report_year = 1066"),
                "report_year",
            ),
            (
                good.replace("region = \"nakakawachi\"", "region = \"kanto\""),
                "region",
            ),
            (
                good.replacen("area = \"yao\"", "area = \"nara\"", 1),
                "資料2-7",
            ),
            (good.replacen("duties = [1]", "duties = [6]", 1), "取組 6"),
            (
                good.replacen("duties = [1]", "duties = [2]", 1),
                "に ② がありません",
            ),
        ];
        for (text, expected) in cases {
            let error = LedgerFile::parse(&text, &region).unwrap_err().to_string();
            assert!(error.contains(expected), "{expected}: {error}");
        }
        assert!(matches!(
            LedgerFile::parse("schema = ", &region),
            Err(LedgerError::Unreadable(_))
        ));
    }
}
