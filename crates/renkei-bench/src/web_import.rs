//! `web-import`: a coordinator's directory file of many rows through the browser's two steps —
//! upload and check, then the go-ahead — in process through the real router (session, CSRF,
//! multipart, templates), on SQLite or PostgreSQL. It measures the time to the check's report,
//! the checked plan's size as stored in `pending_imports` (where any instance can take it), the
//! time until the progress page says the import is applied, and the process's peak memory.

use crate::measure::{fresh_database, memory_mb};
use anyhow::{bail, ensure, Context};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use renkei_domain::accounts::{AccountRole, Email, OrganisationKind};
use renkei_domain::region::RegionDefinition;
use renkei_domain::{demo, towns};
use renkei_store::Store;
use sqlx::{AnyConnection, Connection};
use std::time::{Duration, Instant};
use tower::ServiceExt;

/// The area whose coordinator imports (八尾市: the demo hub's).
const AREA: &str = "yao";

/// Builds the directory, uploads a file of `rows` new entries of the area and applies it;
/// returns a Markdown section. With `postgres` (a server URL) a database
/// `renkei_bench_import` is created there; otherwise a temporary SQLite file is used.
pub async fn measure(rows: usize, postgres: Option<&str>) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let (store, url, engine) = match postgres {
        Some(server) => {
            let url = fresh_database(server, "renkei_bench_import").await?;
            (Store::open(&url).await?, url, "PostgreSQL")
        }
        None => {
            let path = dir.path().join("renkei.db");
            let store = Store::open_sqlite(&path).await?;
            (store, format!("sqlite://{}", path.display()), "SQLite")
        }
    };
    let store = store.with_audit_key(b"renkei bench audit key");
    store.migrate().await?;
    let region = RegionDefinition::nakakawachi();
    let town_table = towns::towns()?;
    store.ensure_region(&region, &town_table).await?;
    store
        .insert_institutions(&demo::institutions(
            &region,
            &town_table,
            &towns::postcodes()?,
        )?)
        .await?;
    let hub = store
        .ensure_organisation(OrganisationKind::Hub, "八尾市医師会", Some(AREA), None)
        .await?;
    let coordinator = store
        .create_user(
            &Email::parse("coordinator@bench.example.jp")?,
            "拠点 コーディネーター",
            None,
        )
        .await?;
    store
        .add_membership(coordinator, hub, AccountRole::HubCoordinator)
        .await?;
    // Coordinators must have a second factor; the session below counts it as done.
    store
        .set_pending_totp(coordinator, "JBSWY3DPEHPK3PXP")
        .await?;
    store.confirm_totp(coordinator, 0, &[]).await?;
    let state = renkei_web::AppState::new(store.clone(), renkei_web::WebConfig::default());
    let app = renkei_web::router(state.clone());
    let user = store.user(coordinator).await?.context("the coordinator")?;
    let cookie = crate::measure::session_cookie(&state, &user).await?;
    let call = |request: Request<Body>| {
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await?;
            let status = response.status();
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok((
                status,
                location,
                String::from_utf8_lossy(&body).into_owned(),
            ))
        }
    };

    // The file: the area's entries as the directory exports them, repeated under new names
    // (no ID, no medical code), so every row is a new entry.
    let (status, _, csv) = call(Request::get("/directory.csv").body(Body::empty())?).await?;
    ensure!(status == StatusCode::OK, "/directory.csv: {status}");
    let file = file_of(&csv, rows)?;
    let (status, _, form_page) = call(
        Request::get("/hub/import")
            .header(header::COOKIE, &cookie)
            .body(Body::empty())?,
    )
    .await?;
    ensure!(status == StatusCode::OK, "/hub/import: {status}");
    let csrf = between(&form_page, "name=\"csrf_token\" value=\"", "\"")
        .context("the form's CSRF token")?
        .to_owned();
    let (_, before_peak) = memory_mb(std::process::id());

    // Step one: upload and check.
    let boundary = "renkei-bench-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bench.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file.as_bytes());
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let started = Instant::now();
    let (status, _, report) = call(
        Request::post("/hub/import")
            .header(header::COOKIE, &cookie)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))?,
    )
    .await?;
    let checked = started.elapsed();
    let (_, check_peak) = memory_mb(std::process::id());
    ensure!(status == StatusCode::OK, "the check: {status}");
    let key = between(&report, "action=\"/hub/import/", "/apply\"")
        .context("the report's go-ahead form")?
        .to_owned();

    // What the check left for any instance to take.
    let mut raw = AnyConnection::connect(&url).await?;
    let (text, deflated): (String, Option<Vec<u8>>) =
        sqlx::query_as("SELECT plan, plan_deflated FROM pending_imports")
            .fetch_one(&mut raw)
            .await?;
    let plan_mb = (text.len() + deflated.map_or(0, |d| d.len())) as f64 / 1e6;

    // Step two: the go-ahead, then the progress page until it leads back with the counts.
    let started = Instant::now();
    let (status, _, _) = call(
        Request::post(format!("/hub/import/{key}/apply"))
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf_token={csrf}")))?,
    )
    .await?;
    ensure!(status == StatusCode::SEE_OTHER, "the go-ahead: {status}");
    let done = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (status, location, _) = call(
            Request::get(format!("/hub/import/{key}"))
                .header(header::COOKIE, &cookie)
                .body(Body::empty())?,
        )
        .await?;
        match (status, location) {
            (StatusCode::SEE_OTHER, Some(to)) if to.contains("done=") => break to,
            (StatusCode::OK, _) => {}
            (status, to) => bail!("progress: {status} {to:?}"),
        }
        ensure!(
            started.elapsed() < Duration::from_secs(1800),
            "not applied in 30 minutes"
        );
    };
    let applied = started.elapsed();
    let (_, after_peak) = memory_mb(std::process::id());
    let in_directory: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM institutions")
        .fetch_one(&mut raw)
        .await?;
    ensure!(
        in_directory as usize >= rows,
        "{in_directory} entries after importing {rows} rows"
    );
    drop(raw);
    if let Some(server) = postgres {
        let mut admin = sqlx::PgConnection::connect(server).await?;
        sqlx::query("DROP DATABASE IF EXISTS renkei_bench_import WITH (FORCE)")
            .execute(&mut admin)
            .await?;
    }
    Ok(format!(
        "| {engine} | {rows} | {:.1} MB | {:.2} s | {plan_mb:.1} MB | {:.2} s | {before_peak:.0} → {check_peak:.0} → {after_peak:.0} MB | `{}` |",
        file.len() as f64 / 1e6,
        checked.as_secs_f64(),
        applied.as_secs_f64(),
        done.trim_start_matches("/hub/import?")
    ))
}

/// The text between `start` and the next `end` in `page`.
fn between<'a>(page: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = page.find(start)? + start.len();
    let len = page[from..].find(end)?;
    Some(&page[from..from + len])
}

/// A CSV of `rows` new entries of [`AREA`], made from the area's rows of the export `csv`.
fn file_of(csv: &str, rows: usize) -> anyhow::Result<String> {
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers()?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
            .with_context(|| format!("the export's column {name}"))
    };
    let (id, name, area, code) = (
        column("ID")?,
        column("名称")?,
        column("地域")?,
        column("医療機関コード")?,
    );
    let templates: Vec<csv::StringRecord> = reader
        .records()
        .filter_map(Result::ok)
        .filter(|r| r.get(area) == Some(AREA))
        .collect();
    ensure!(!templates.is_empty(), "no entries of {AREA} in the export");
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&headers)?;
    for n in 0..rows {
        let template = &templates[n % templates.len()];
        let record: Vec<String> = template
            .iter()
            .enumerate()
            .map(|(i, cell)| match i {
                i if i == id || i == code => String::new(),
                i if i == name => format!("{cell}（ベンチ{n}）"),
                _ => cell.to_owned(),
            })
            .collect();
        writer.write_record(&record)?;
    }
    Ok(String::from_utf8(writer.into_inner()?)?)
}
