//! `/ledger/{year}/{area}/texts`: the parts of a hub's ledger that are text, not items — the
//! header, the hub's own wording of its headings, the 「なし」 markers, the challenges, and the
//! active institutions' part with its （2）対応状況. The 対応状況 is recorded, never computed at
//! print time: "not reported" (the default, and what the report then leaves out), counts the
//! hub reported (with their date where known), or today's counts from the directory, taken
//! once and kept with their date, so that the year's report does not change afterwards.

use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::pages::home::render;
use crate::pages::ledger_edit::{conflict_text, editable, save, see_other};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, RawForm, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use renkei_domain::fiscal_year::FiscalYear;
use renkei_domain::ledger::{
    ActiveSection, Challenge, CoverageSource, EmptyDuties, Headings, HubLedger, RecordedCoverage,
    Section,
};
use renkei_domain::region::{Duty, Role};

/// One heading the hub may word its own way: its form field, Renkei's wording (the label and
/// placeholder) and the hub's words as typed.
pub struct HeadingField {
    /// Form field.
    pub name: &'static str,
    /// Renkei's heading, with its number.
    pub default: String,
    /// The hub's words (without the number), or empty.
    pub value: String,
}

#[derive(Template)]
#[template(path = "ledger_texts.html")]
struct TextsPage {
    chrome: Chrome,
    year: i32,
    label: String,
    area: String,
    previous: String,
    revision: i64,
    header: [String; 4],
    headings: Vec<HeadingField>,
    /// Per section (results, plan, progress): its heading and the 「なし」 markers as typed.
    empty: Vec<(&'static str, String, String)>,
    challenges: String,
    active_plans: String,
    active_progress: String,
    active_challenges: String,
    footnote: String,
    /// The 対応状況 choice: none, hub, directory or keep.
    coverage: String,
    /// 積極的医療機関 N件 and ①〜⑥, as typed.
    coverage_institutions: String,
    coverage_roles: Vec<(String, &'static str, String)>,
    coverage_as_of: String,
    /// The recorded directory count, when the ledger has one (the "keep" choice).
    stored_directory: Option<String>,
    /// What the directory counts today, or `None` when there is nothing to count.
    directory_today: Option<String>,
    error: Option<String>,
}

/// The form fields of ①〜⑥.
const ROLE_FIELDS: [&str; 6] = [
    "coverage_1",
    "coverage_2",
    "coverage_3",
    "coverage_4",
    "coverage_5",
    "coverage_6",
];

/// The form fields of the headings, in report order.
const HEADING_FIELDS: [&str; 4] = [
    "heading_results",
    "heading_challenges",
    "heading_plan",
    "heading_progress",
];

impl TextsPage {
    /// The page with its fields filled by `field` (the stored ledger's texts, or what was typed).
    fn new(
        ctx: &Ctx,
        year: FiscalYear,
        area: &str,
        revision: i64,
        field: impl Fn(&str) -> String,
    ) -> Self {
        let defaults = [
            Section::Results.heading_ja(year),
            renkei_domain::ledger::challenges_heading_ja(year),
            Section::Plan.heading_ja(year),
            Section::Progress.heading_ja(year),
        ];
        TextsPage {
            chrome: Chrome::new(ctx, "nav.activities", false),
            year: year.year(),
            label: year.to_string(),
            area: area.to_owned(),
            previous: year.previous().to_string(),
            revision,
            header: ["document", "area_label", "hub", "contractor"].map(&field),
            headings: HEADING_FIELDS
                .iter()
                .zip(defaults)
                .map(|(name, default)| HeadingField {
                    name,
                    default,
                    value: field(name),
                })
                .collect(),
            empty: Section::ALL
                .iter()
                .map(|s| {
                    let name = empty_field(*s);
                    (name, s.heading_ja(year), field(name))
                })
                .collect(),
            challenges: field("challenges"),
            active_plans: field("active_plans"),
            active_progress: field("active_progress"),
            active_challenges: field("active_challenges"),
            footnote: field("footnote"),
            coverage: Some(field("coverage"))
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "none".into()),
            coverage_institutions: field("coverage_institutions"),
            coverage_roles: Role::ALL
                .iter()
                .zip(ROLE_FIELDS)
                .map(|(role, name)| {
                    (
                        format!("{}{}", role.circled(), role.label_ja()),
                        name,
                        field(name),
                    )
                })
                .collect(),
            coverage_as_of: field("coverage_as_of"),
            stored_directory: None,
            directory_today: None,
            error: None,
        }
    }
}

/// The form field of a section's 「なし」 markers.
fn empty_field(section: Section) -> &'static str {
    match section {
        Section::Results => "empty_results",
        Section::Plan => "empty_plan",
        Section::Progress => "empty_progress",
    }
}

/// The stored ledger's value of a form field.
fn stored_field(l: &HubLedger, name: &str) -> String {
    let active = l.active.clone().unwrap_or_default();
    let coverage = active.coverage;
    let typed = coverage.filter(|c| c.source == CoverageSource::Hub);
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    match name {
        "document" => l.document.clone(),
        "area_label" => l.area_label.clone(),
        "hub" => l.hub.clone(),
        "contractor" => l.contractor.clone(),
        "heading_results" => text(&l.headings.results),
        "heading_challenges" => text(&l.headings.challenges),
        "heading_plan" => text(&l.headings.plan),
        "heading_progress" => text(&l.headings.progress),
        "empty_results" => l.empty_markers(Section::Results),
        "empty_plan" => l.empty_markers(Section::Plan),
        "empty_progress" => l.empty_markers(Section::Progress),
        "challenges" => l
            .challenges
            .iter()
            .map(Challenge::line)
            .collect::<Vec<_>>()
            .join("\n"),
        "active_plans" => active.plans.join("\n"),
        "active_progress" => active.progress.join("\n"),
        "active_challenges" => active.challenges.join("\n"),
        "footnote" => text(&active.footnote),
        "coverage" => match coverage.map(|c| c.source) {
            None => "none",
            Some(CoverageSource::Hub) => "hub",
            Some(CoverageSource::Directory) => "keep",
        }
        .into(),
        "coverage_institutions" => typed
            .map(|c| c.institutions.to_string())
            .unwrap_or_default(),
        "coverage_as_of" => typed
            .and_then(|c| c.as_of)
            .map(|d| d.to_string())
            .unwrap_or_default(),
        role => ROLE_FIELDS
            .iter()
            .position(|f| *f == role)
            .and_then(|at| typed.map(|c| c.available[at].to_string()))
            .unwrap_or_default(),
    }
}

/// Today's date in Japan, by the app's clock.
fn today(app: &AppState) -> NaiveDate {
    renkei_domain::japan::today(app.clock.now())
}

/// What the directory counts for the area today, recorded as of today; `None` when it has no
/// active institution with a reported role.
async fn directory_count(
    app: &AppState,
    ctx: &Ctx,
    area: &str,
) -> Result<Option<RecordedCoverage>, PageError> {
    let counted = app
        .store
        .role_coverage()
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    Ok(counted
        .get(area)
        .and_then(|c| RecordedCoverage::from_directory(c, today(app))))
}

/// Fills in what the page shows about the directory and the stored count.
async fn with_directory(
    mut page: TextsPage,
    app: &AppState,
    ctx: &Ctx,
    area: &str,
    stored: &HubLedger,
) -> Result<TextsPage, PageError> {
    page.directory_today = directory_count(app, ctx, area)
        .await?
        .map(|c| c.to_string());
    page.stored_directory = stored
        .active
        .as_ref()
        .and_then(|a| a.coverage)
        .filter(|c| c.source == CoverageSource::Directory)
        .map(|c| c.to_string());
    Ok(page)
}

/// `GET /ledger/{year}/{area}/texts`: the header, headings, 「なし」 markers, challenges and the
/// active institutions' part, one line per bullet.
pub async fn texts(
    State(app): State<AppState>,
    ctx: Ctx,
    Path((year, area)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let (year, stored) = editable(&app, &ctx, &year, &area).await?;
    let l = &stored.ledger;
    let page = TextsPage::new(&ctx, year, &area, stored.revision, |name| {
        stored_field(l, name)
    });
    let page = with_directory(page, &app, &ctx, &area, l).await?;
    Ok(render(&ctx, &page)?.into_response())
}

/// A count typed into the form: 0–9999 (full-width digits are read as digits); an empty field
/// is refused with its own message, since 0 and "not typed" must not be confused.
fn count_of(text: &str, what: &str) -> Result<usize, String> {
    let typed = text.trim();
    if typed.is_empty() {
        return Err(format!(
            "{what}の件数が空です。対応できる機関がなければ 0 と入力してください"
        ));
    }
    renkei_domain::text::normalize(typed)
        .parse::<usize>()
        .ok()
        .filter(|n| *n < 10_000)
        .ok_or_else(|| format!("{what}の件数を 0 以上の数字で入力してください（「{typed}」）"))
}

/// A heading's words without a number typed before them (「（２）」, 「(2)」, 「２．」): the report
/// numbers the sections itself.
fn without_number(text: &str) -> String {
    let text = text.trim();
    let normalized = renkei_domain::text::normalize(text);
    let numbered = normalized.starts_with('(')
        && normalized
            .chars()
            .nth(1)
            .is_some_and(|c| c.is_ascii_digit())
        && normalized.chars().nth(2) == Some(')');
    if numbered {
        text.chars().skip(3).collect::<String>().trim().to_owned()
    } else {
        text.to_owned()
    }
}

/// The 対応状況 the form asks to record.
async fn coverage_of_form(
    app: &AppState,
    ctx: &Ctx,
    area: &str,
    stored: &HubLedger,
    field: impl Fn(&str) -> String + Sync,
) -> Result<Result<Option<RecordedCoverage>, String>, PageError> {
    let choice = field("coverage");
    Ok(match choice.as_str() {
        "" | "none" => Ok(None),
        "keep" => match stored.active.as_ref().and_then(|a| a.coverage) {
            Some(c) if c.source == CoverageSource::Directory => Ok(Some(c)),
            _ => Err("残す件数が記録されていません。件数を入力するか、医療機関情報から数えてください".into()),
        },
        "directory" => match directory_count(app, ctx, area).await? {
            Some(c) => Ok(Some(c)),
            None => Err("Renkei の医療機関情報には、この地域で役割を登録した積極的医療機関がありません。拠点が報告した件数を入力するか、「報告なし」にしてください".into()),
        },
        "hub" => {
            let typed = (|| -> Result<RecordedCoverage, String> {
                let institutions =
                    count_of(&field("coverage_institutions"), "積極的医療機関")?;
                let mut available = [0usize; 6];
                for ((slot, name), role) in available.iter_mut().zip(ROLE_FIELDS).zip(Role::ALL) {
                    *slot = count_of(&field(name), &role.circled().to_string())?;
                }
                let as_of = match field("coverage_as_of").trim() {
                    "" => None,
                    text => Some(NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
                        format!("時点「{text}」は日付として読めません（例：2026-03-31）")
                    })?),
                };
                if as_of.is_some_and(|d| d > today(app)) {
                    return Err("時点に未来の日付は入れられません".into());
                }
                let coverage = RecordedCoverage {
                    source: CoverageSource::Hub,
                    as_of,
                    institutions,
                    available,
                    planned: None,
                };
                coverage.check()?;
                Ok(coverage)
            })();
            typed.map(Some)
        }
        other => Err(format!("対応状況の選び方「{other}」はありません")),
    })
}

/// `POST /ledger/{year}/{area}/texts`.
pub async fn save_texts(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path((year, area)): Path<(String, String)>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (year, stored) = editable(&app, &ctx, &year, &area).await?;
    let field = |name: &str| crate::auth::session::form_field(&body, name).unwrap_or_default();
    let lines = |name: &str| -> Vec<String> {
        field(name)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let mut ledger = stored.ledger.clone();
    let mut page = TextsPage::new(&ctx, year, &area, stored.revision, field);
    let header = page.header.clone().map(|v| v.trim().to_owned());
    let mut empty = Vec::new();
    for section in Section::ALL {
        match EmptyDuties::parse_markers(section, &field(empty_field(section))) {
            Ok(markers) => empty.extend(markers),
            Err(e) => {
                page.error
                    .get_or_insert(format!("{}：{e}", section.heading_ja(year)));
            }
        }
    }
    if let Some((e, d)) = empty.iter().find_map(|e| {
        e.duties
            .iter()
            .map(|&n| Duty::ALL[usize::from(n) - 1])
            .find(|d| !ledger.items_of(e.section, *d).is_empty())
            .map(|d| (e, d))
    }) {
        page.error.get_or_insert(format!(
            "{}の{}には項目があります。「なし」にするなら、先にその項目を削除してください",
            e.section.heading_ja(year),
            d.circled()
        ));
    }
    let coverage = match coverage_of_form(&app, &ctx, &area, &stored.ledger, field).await? {
        Ok(coverage) => coverage,
        Err(e) => {
            page.error.get_or_insert(format!("（2）対応状況：{e}"));
            None
        }
    };
    let revision: i64 = field("revision").parse().unwrap_or(-1);
    if header.iter().any(String::is_empty) {
        page.error = Some("資料番号・対象地域・連携の拠点・委託先はどれも入力してください".into());
    } else if revision != stored.revision {
        page.error = Some(conflict_text());
    }
    if page.error.is_some() {
        let page = with_directory(page, &app, &ctx, &area, &stored.ledger).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&ctx, &page)?).into_response());
    }
    let [document, area_label, hub, contractor] = header;
    ledger.document = document;
    ledger.area_label = area_label;
    ledger.hub = hub;
    ledger.contractor = contractor;
    let words = |name: &str| Some(without_number(&field(name))).filter(|w| !w.is_empty());
    ledger.headings = Headings {
        results: words("heading_results"),
        challenges: words("heading_challenges"),
        plan: words("heading_plan"),
        progress: words("heading_progress"),
    };
    ledger.empty = empty;
    ledger.challenges = lines("challenges")
        .iter()
        .map(|line| Challenge::from_line(line))
        .collect();
    let active = ActiveSection {
        plans: lines("active_plans"),
        progress: lines("active_progress"),
        challenges: lines("active_challenges"),
        footnote: Some(field("footnote").trim().to_owned()).filter(|f| !f.is_empty()),
        coverage,
    };
    ledger.active = (active != ActiveSection::default()).then_some(active);
    match save(
        &app,
        &ctx,
        &extensions,
        year,
        &area,
        &ledger,
        &stored,
        "texts",
        "ledger.texts_saved",
    )
    .await?
    {
        Some(_) => Ok(see_other(&format!(
            "/ledger/{}/{area}?done=saved",
            year.year()
        ))),
        None => {
            page.error = Some(conflict_text());
            let page = with_directory(page, &app, &ctx, &area, &stored.ledger).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&ctx, &page)?).into_response())
        }
    }
}
