//! `/ledger`: the hubs' activity ledgers and the prefecture report (資料2) made from them. Hub
//! coordinators, the prefecture and the administrator see every hub's ledger (the report is a
//! published document); the report opens as a printable page (A4 landscape) and downloads as
//! HTML, Excel or Markdown, for the whole region or one hub.

use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use renkei_domain::fiscal_year::{format_wareki_date, FiscalYear};
use renkei_domain::region::RegionDefinition;
use renkei_domain::report::{self, Report};
use std::str::FromStr;

/// One hub's line of the index.
pub struct LedgerRow {
    /// Area code.
    pub area: String,
    /// 資料 number.
    pub document: String,
    /// 対象地域.
    pub area_label: String,
    /// 連携の拠点.
    pub hub: String,
    /// Items in results, plan, progress.
    pub counts: [usize; 3],
    /// Revision and when saved.
    pub revision: i64,
    /// When it was saved (和暦 date).
    pub updated: String,
}

/// A report year with its hubs.
pub struct LedgerYear {
    /// 2025.
    pub year: i32,
    /// 令和7年度.
    pub label: String,
    /// The hubs.
    pub rows: Vec<LedgerRow>,
}

#[derive(Template)]
#[template(path = "ledger.html")]
struct LedgerIndex {
    chrome: Chrome,
    years: Vec<LedgerYear>,
}

/// `GET /ledger`: every report year with its hubs and the report's downloads.
pub async fn index(State(app): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    let store_error = |e| PageError::store(&ctx, e);
    let mut years = Vec::new();
    for year in app.store.ledger_years().await.map_err(store_error)? {
        let Ok(fiscal) = FiscalYear::new(year) else {
            continue;
        };
        let rows = app
            .store
            .ledgers_of_year(year)
            .await
            .map_err(|e| PageError::store(&ctx, e))?
            .into_iter()
            .map(|l| {
                let count = |s| l.ledger.items.iter().filter(|i| i.section == s).count();
                use renkei_domain::ledger::Section;
                LedgerRow {
                    counts: [
                        count(Section::Results),
                        count(Section::Plan),
                        count(Section::Progress),
                    ],
                    area: l.area_code,
                    document: l.ledger.document,
                    area_label: l.ledger.area_label,
                    hub: l.ledger.hub,
                    revision: l.revision,
                    updated: wareki_of_stamp(&l.updated_at),
                }
            })
            .collect();
        years.push(LedgerYear {
            year,
            label: fiscal.to_string(),
            rows,
        });
    }
    let page = LedgerIndex {
        chrome: Chrome::new(&ctx, "nav.activities", false),
        years,
    };
    Ok(render(&ctx, &page)?.into_response())
}

/// 「令和7年11月25日」 from a stored UTC timestamp (its date part).
fn wareki_of_stamp(stamp: &str) -> String {
    stamp
        .get(..10)
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .map(format_wareki_date)
        .unwrap_or_else(|| stamp.to_owned())
}

/// `?area=` of the report links.
#[derive(Debug, serde::Deserialize, Default)]
pub struct ReportQuery {
    /// One hub's area code; the whole region when absent.
    pub area: Option<String>,
}

/// The formats of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// The printable page of the site.
    Page,
    /// A standalone HTML file.
    Html,
    /// Excel.
    Xlsx,
    /// Markdown.
    Markdown,
}

/// `GET /ledger/{year}/report`: the report as a printable page.
pub async fn report_page(
    state: State<AppState>,
    ctx: Ctx,
    year: Path<String>,
    query: Query<ReportQuery>,
) -> Result<Response, PageError> {
    report(state, ctx, year, query, Format::Page).await
}

/// `GET /ledger/{year}/report.html`: the report as a standalone HTML file.
pub async fn report_html(
    state: State<AppState>,
    ctx: Ctx,
    year: Path<String>,
    query: Query<ReportQuery>,
) -> Result<Response, PageError> {
    report(state, ctx, year, query, Format::Html).await
}

/// `GET /ledger/{year}/report.xlsx`: the report as an Excel workbook (a sheet per hub).
pub async fn report_xlsx(
    state: State<AppState>,
    ctx: Ctx,
    year: Path<String>,
    query: Query<ReportQuery>,
) -> Result<Response, PageError> {
    report(state, ctx, year, query, Format::Xlsx).await
}

/// `GET /ledger/{year}/report.md`: the report as Markdown.
pub async fn report_markdown(
    state: State<AppState>,
    ctx: Ctx,
    year: Path<String>,
    query: Query<ReportQuery>,
) -> Result<Response, PageError> {
    report(state, ctx, year, query, Format::Markdown).await
}

async fn report(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(year): Path<String>,
    Query(query): Query<ReportQuery>,
    format: Format,
) -> Result<Response, PageError> {
    let Ok(year) = FiscalYear::from_str(&year) else {
        return Err(PageError::not_found(&ctx));
    };
    let built = build_report(&app, &ctx, year, query.area.as_deref()).await?;
    let today = format_wareki_date(crate::clock::today(&app));
    let failed = |e: String| PageError::store(&ctx, renkei_store::StoreError::Invalid(e));
    let name = match &query.area {
        Some(area) => format!("renkei-report-{}-{area}", year.year()),
        None => format!("renkei-report-{}", year.year()),
    };
    let (media, body, attachment): (&str, Vec<u8>, Option<String>) = match format {
        Format::Page => (
            "text/html; charset=utf-8",
            crate::ledger_report::report_page(&built, &today)
                .map_err(|e| failed(e.to_string()))?
                .into_bytes(),
            None,
        ),
        Format::Html => (
            "text/html; charset=utf-8",
            crate::ledger_report::report_html(&built, &today)
                .map_err(|e| failed(e.to_string()))?
                .into_bytes(),
            Some(format!("{name}.html")),
        ),
        Format::Xlsx => (
            super::shared::XLSX,
            crate::ledger_report::report_xlsx(&built).map_err(|e| failed(e.to_string()))?,
            Some(format!("{name}.xlsx")),
        ),
        Format::Markdown => (
            "text/markdown; charset=utf-8",
            built.markdown().into_bytes(),
            Some(format!("{name}.md")),
        ),
    };
    let status = if built.hubs.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    let mut response = (status, [(header::CONTENT_TYPE, media)], body).into_response();
    if let Some(file) = attachment {
        if let Ok(value) = format!("attachment; filename=\"{file}\"").parse() {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, value);
        }
    }
    Ok(response)
}

/// The report of a year from the stored ledgers (their recorded 対応状況 included). A
/// year (or hub) without a ledger gives a report that says 「未入力」 and nothing else.
async fn build_report(
    app: &AppState,
    ctx: &Ctx,
    year: FiscalYear,
    area: Option<&str>,
) -> Result<Report, PageError> {
    let ledgers = app
        .store
        .ledgers_of_year(year.year())
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let only: Option<Vec<String>> = area.map(|a| vec![a.to_owned()]);
    Ok(report::build(
        ledgers.iter().map(|l| &l.ledger),
        year,
        &RegionDefinition::nakakawachi().region.name,
        only.as_deref(),
    ))
}

/// One hub's counts on the comparison page.
pub struct CompareRow {
    /// 対象地域.
    pub area_label: String,
    /// 連携の拠点.
    pub hub: String,
    /// Per kind: items of last year's results, and their sessions when that says more.
    pub results: Vec<(usize, Option<u32>)>,
    /// Per kind: items of this year's plan, and their sessions when that says more.
    pub plan: Vec<(usize, Option<u32>)>,
}

#[derive(Template)]
#[template(path = "ledger_compare.html")]
struct ComparePage {
    chrome: Chrome,
    year: i32,
    label: String,
    previous: String,
    kinds: Vec<&'static str>,
    rows: Vec<CompareRow>,
    chart: String,
    /// (role label, per area "2/7") for the table under the chart.
    coverage_rows: Vec<(String, Vec<String>)>,
    area_names: Vec<String>,
    /// The areas that recorded no 対応状況 for the year (left out of the chart, said under it).
    not_reported: String,
}

/// The kinds compared, in the page's order.
const COMPARED: [renkei_domain::ledger::ItemKind; 7] = {
    use renkei_domain::ledger::ItemKind as K;
    [
        K::Meeting,
        K::Training,
        K::Lecture,
        K::Awareness,
        K::Drill,
        K::Consultation,
        K::Resources,
    ]
};

/// `GET /ledger/{year}/compare`: the hubs side by side — how many meetings, trainings, lectures
/// and awareness events each held last year and plans this year (items, and sessions where the
/// ledger gives a count), and the six roles' coverage per area as a chart.
pub async fn compare(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(year): Path<String>,
) -> Result<Response, PageError> {
    use renkei_domain::ledger::Section;
    let Ok(year) = FiscalYear::from_str(&year) else {
        return Err(PageError::not_found(&ctx));
    };
    let ledgers = app
        .store
        .ledgers_of_year(year.year())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    if ledgers.is_empty() {
        return Err(PageError::not_found(&ctx));
    }
    let tally = |ledger: &renkei_domain::ledger::HubLedger, section: Section| {
        COMPARED
            .iter()
            .map(|kind| {
                let (items, sessions) = ledger.tally(section, Some(*kind));
                (items, (sessions as usize != items).then_some(sessions))
            })
            .collect::<Vec<_>>()
    };
    let rows = ledgers
        .iter()
        .map(|l| CompareRow {
            area_label: l.ledger.area_label.clone(),
            hub: l.ledger.hub.clone(),
            results: tally(&l.ledger, Section::Results),
            plan: tally(&l.ledger, Section::Plan),
        })
        .collect();
    // The 対応状況 each hub recorded for the year; an area without one is "not reported", not 0.
    let recorded: Vec<(String, Option<renkei_domain::ledger::RecordedCoverage>)> = ledgers
        .iter()
        .map(|l| {
            (
                l.ledger.area_label.clone(),
                l.ledger.active.as_ref().and_then(|a| a.coverage),
            )
        })
        .collect();
    let not_reported = crate::i18n::catalog(ctx.lang).get("ledger_edit.not_reported");
    let coverage_rows = renkei_domain::region::Role::ALL
        .iter()
        .map(|role| {
            (
                format!("{}{}", role.circled(), role.short_ja()),
                recorded
                    .iter()
                    .map(|(_, c)| match c {
                        Some(c) => format!(
                            "{}/{}",
                            c.available[usize::from(role.number()) - 1],
                            c.institutions
                        ),
                        None => not_reported.clone(),
                    })
                    .collect(),
            )
        })
        .collect();
    let areas: Vec<(String, renkei_domain::ledger::RoleCoverage)> = recorded
        .iter()
        .filter_map(|(label, c)| {
            c.map(|c| {
                (
                    label.clone(),
                    renkei_domain::ledger::RoleCoverage {
                        institutions: c.institutions,
                        answered: c.institutions,
                        available: c.available,
                        planned: c.planned.unwrap_or_default(),
                    },
                )
            })
        })
        .collect();
    let page = ComparePage {
        chrome: Chrome::new(&ctx, "nav.activities", false),
        year: year.year(),
        label: year.to_string(),
        previous: year.previous().to_string(),
        kinds: COMPARED
            .iter()
            .map(|k| {
                if ctx.lang == crate::i18n::Lang::En {
                    k.label_en()
                } else {
                    k.label_ja()
                }
            })
            .collect(),
        rows,
        chart: crate::chart::role_coverage_svg(
            &areas,
            "積極的医療機関の対応状況（現状対応可／積極的医療機関）",
        ),
        coverage_rows,
        not_reported: recorded
            .iter()
            .filter(|(_, c)| c.is_none())
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join("、"),
        area_names: recorded.into_iter().map(|(n, _)| n).collect(),
    };
    Ok(render(&ctx, &page)?.into_response())
}
