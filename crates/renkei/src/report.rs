//! `renkei report`: the prefecture report (資料2) of a fiscal year, produced from the hubs'
//! ledgers and the directory's active institutions, as HTML (A4 landscape), Excel or Markdown.

use crate::config::Config;
use crate::database::{open_database, OpenedDatabase};
use crate::failure::Failure;
use renkei_domain::fiscal_year::{format_wareki_date, FiscalYear};
use renkei_domain::region::RegionDefinition;
use renkei_domain::report;
use std::path::Path;
use std::str::FromStr;

/// Runs the report.
pub async fn run(
    config: Config,
    fiscal_year: &str,
    areas: &[String],
    format: &str,
    out: Option<&Path>,
) -> Result<(), Failure> {
    let input = |ja: String, en: String| Failure::new(2, ja, en);
    let year = FiscalYear::from_str(fiscal_year).map_err(|_| {
        input(
            format!("「{fiscal_year}」は年度として読めません（例：2025、令和7、R7）"),
            format!("cannot read {fiscal_year:?} as a fiscal year (e.g. 2025, 令和7, R7)"),
        )
    })?;
    if format == "xlsx" && out.is_none() {
        return Err(input(
            "Excel 形式は --out でファイル名を指定してください".into(),
            "the xlsx format needs --out FILE".into(),
        ));
    }
    let OpenedDatabase { store, target } = open_database(&config).await?;
    let fail = |e| Failure::database(&target, &e);
    let ledgers = store.ledgers_of_year(year.year()).await.map_err(fail)?;
    if ledgers.is_empty() {
        let years = store.ledger_years().await.map_err(fail)?;
        store.close().await;
        let known = if years.is_empty() {
            "まだどの年度の台帳もありません".to_owned()
        } else {
            let list: Vec<String> = years
                .iter()
                .filter_map(|y| FiscalYear::new(*y).ok())
                .map(|y| y.to_string())
                .collect();
            format!("台帳のある年度：{}", list.join("、"))
        };
        return Err(input(
            format!("{year}の台帳はありません（{known}）"),
            format!(
                "no ledger for FY{} ({} with ledgers)",
                year.year(),
                years.len()
            ),
        ));
    }
    let unknown: Vec<&String> = areas
        .iter()
        .filter(|a| !ledgers.iter().any(|l| &l.area_code == *a))
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = ledgers.iter().map(|l| l.area_code.as_str()).collect();
        store.close().await;
        return Err(input(
            format!(
                "地域 {} の{year}の台帳はありません（あるのは {}）",
                unknown
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join("、"),
                known.join(", ")
            ),
            format!("no ledger for {unknown:?} (there are {})", known.join(", ")),
        ));
    }
    store.close().await;
    let region = RegionDefinition::nakakawachi();
    let only = (!areas.is_empty()).then_some(areas);
    let built = report::build(
        ledgers.iter().map(|l| &l.ledger),
        year,
        &region.region.name,
        only,
    );
    let today = format_wareki_date(renkei_domain::japan::today(chrono::Utc::now()));
    let bytes = match format {
        "md" => built.markdown().into_bytes(),
        "xlsx" => renkei_web::ledger_report::report_xlsx(&built).map_err(|e| {
            Failure::new(
                1,
                format!("Excel ファイルを作れません（{e}）"),
                format!("cannot build the workbook ({e})"),
            )
        })?,
        _ => renkei_web::ledger_report::report_html(&built, &today)
            .map_err(|e| Failure::new(1, format!("報告書を作れません（{e}）"), e.to_string()))?
            .into_bytes(),
    };
    crate::export::write_output(out, &bytes)?;
    if let Some(path) = out {
        eprintln!(
            "{year}の報告書（{} 拠点）を {} に書き出しました / wrote the FY{} report ({} hubs) to {}",
            built.hubs.len(),
            path.display(),
            year.year(),
            built.hubs.len(),
            path.display()
        );
    }
    Ok(())
}
