//! `report`: how long the whole region's prefecture report takes, as a hub coordinator asks
//! for it: `GET /ledger/2025/report.{html,xlsx,md}` through the real router in process (session,
//! access decision, audit entry), which reads the year's ledgers and counts the active
//! institutions' roles (SQLite, the demo region), builds the report and writes the format.

use crate::measure::{ms, pct};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use renkei_domain::accounts::{AccountRole, Email, OrganisationKind};
use renkei_domain::ledger::{LedgerFile, NAKAKAWACHI_FY2025_TOML};
use renkei_domain::region::RegionDefinition;
use renkei_domain::{demo, towns};
use renkei_store::Store;
use std::time::{Duration, Instant};
use tower::ServiceExt;

/// Measures `runs` reports of 令和7年度 for the whole demo region; returns a Markdown table.
pub async fn measure(runs: usize) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let store = Store::open_sqlite(&dir.path().join("renkei.db"))
        .await?
        .with_audit_key(b"renkei bench audit key");
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
    // A hub coordinator with a second factor, signed in.
    let hub = store
        .ensure_organisation(OrganisationKind::Hub, "八尾市医師会", Some("yao"), None)
        .await?;
    let email = Email::parse("coordinator@bench.example.jp")?;
    let user = store.create_user(&email, "ベンチ 調整員", None).await?;
    store
        .add_membership(user, hub, AccountRole::HubCoordinator)
        .await?;
    store.set_pending_totp(user, "JBSWY3DPEHPK3PXP").await?;
    store.confirm_totp(user, 0, &[]).await?;
    let state = renkei_web::AppState::new(store.clone(), renkei_web::WebConfig::default());
    let app = renkei_web::router(state.clone());
    let account = store
        .user(user)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the bench coordinator"))?;
    let cookie = crate::measure::session_cookie(&state, &account).await?;
    let mut rows = Vec::new();
    for format in ["html", "xlsx", "md"] {
        let uri = format!("/ledger/2025/report.{format}");
        let mut times = Vec::with_capacity(runs);
        let mut size = 0;
        for _ in 0..runs {
            let request = Request::builder()
                .uri(uri.as_str())
                .header(header::COOKIE, &cookie)
                .body(Body::empty())?;
            let start = Instant::now();
            let response = app.clone().oneshot(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            times.push(start.elapsed());
            anyhow::ensure!(status == StatusCode::OK, "{uri}: {status}");
            size = body.len();
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
        "### The whole region's report (令和7年度, 5 hubs, SQLite, through the router as a signed-in coordinator)\n\n\
         | format | runs | p50 | p99 | max | size |\n|---|---|---|---|---|---|\n{}\n",
        rows.join("\n")
    ))
}
