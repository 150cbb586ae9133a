//! `report`: how long the whole region's prefecture report takes, from the database to each
//! format — read the year's ledgers and count the active institutions' roles (SQLite, the demo
//! region), build the report, write it as HTML, Excel and Markdown.

use crate::measure::{ms, pct};
use renkei_domain::fiscal_year::FiscalYear;
use renkei_domain::ledger::{LedgerFile, NAKAKAWACHI_FY2025_TOML};
use renkei_domain::region::RegionDefinition;
use renkei_domain::{demo, report, towns};
use renkei_store::Store;
use std::time::{Duration, Instant};

/// Measures `runs` reports of 令和7年度 for the whole demo region; returns a Markdown table.
pub async fn measure(runs: usize) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let store = Store::open_sqlite(&dir.path().join("renkei.db")).await?;
    store.migrate().await?;
    let region = RegionDefinition::nakakawachi();
    let towns = towns::towns()?;
    store.ensure_region(&region, &towns).await?;
    store
        .insert_institutions(&demo::institutions(&region, &towns, &towns::postcodes()?)?)
        .await?;
    store
        .load_ledger_file(&LedgerFile::parse(NAKAKAWACHI_FY2025_TOML, &region)?)
        .await?;
    let year = FiscalYear::new(2025)?;
    let mut rows = Vec::new();
    for format in ["html", "xlsx", "md"] {
        let mut times = Vec::with_capacity(runs);
        let mut size = 0;
        for _ in 0..runs {
            let start = Instant::now();
            let ledgers = store.ledgers_of_year(2025).await?;
            let coverage = store.role_coverage().await?;
            let built = report::build(
                ledgers.iter().map(|l| &l.ledger),
                year,
                &region.region.name,
                &coverage,
                None,
            );
            size = match format {
                "html" => renkei_web::ledger_report::report_html(&built, "令和7年11月25日")?.len(),
                "xlsx" => renkei_web::ledger_report::report_xlsx(&built)?.len(),
                _ => built.markdown().len(),
            };
            times.push(start.elapsed());
        }
        times.sort();
        rows.push(format!(
            "| {format} | {runs} | {} | {} | {} | {} KB |",
            ms(pct(&times, 0.5)),
            ms(pct(&times, 0.99)),
            ms(*times.last().unwrap_or(&Duration::ZERO)),
            size / 1024
        ));
    }
    store.close().await;
    Ok(format!(
        "### The whole region's report (令和7年度, 5 hubs, from SQLite)\n\n\
         | format | runs | p50 | p99 | max | size |\n|---|---|---|---|---|---|\n{}\n",
        rows.join("\n")
    ))
}
