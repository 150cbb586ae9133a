//! `renkei-bench public`: the public searches through the real router in process, on an
//! imported directory — the JSON near API, FHIR `Location?near`, the directory page's near and
//! the directory page with no query — each request timed alone (no network, no queueing), so
//! the figures are what the server itself spends per answer.

use crate::measure::{ms, pct};
use anyhow::{bail, Context};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use indicatif::{ProgressBar, ProgressStyle};
use renkei_store::Store;
use std::path::Path;
use std::time::{Duration, Instant};
use tower::ServiceExt;

/// One endpoint's timings: all, and those of a query's first visit (nothing of it kept yet:
/// FHIR reads the page's entries from the database, then keeps them; the page keeps places).
struct Timed {
    what: String,
    times: Vec<Duration>,
    first: Vec<Duration>,
    bytes: usize,
}

/// Measures `requests` answers of each public search on the directory in `data_dir` (from
/// `import`); returns a Markdown section.
pub async fn measure(data_dir: &Path, requests: usize, seed: u64) -> anyhow::Result<String> {
    let path = data_dir.join("renkei.db");
    if !path.exists() {
        bail!(
            "{} does not exist: run `renkei-bench import` first",
            path.display()
        );
    }
    let store = Store::open_sqlite(&path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    let state = renkei_web::AppState::new(store.clone(), renkei_web::WebConfig::default());
    let app = renkei_web::router(state.clone());
    // As `renkei serve` does at start: the index loaded, the region overview counted.
    let started = Instant::now();
    state.directory_index.ensure_loaded(&store).await?;
    let index_load = started.elapsed();
    state.overview.get(&store).await?;
    let entries = state.directory_index.len();

    // The same 1,000 points as `http` (queries repeat, as a region's do).
    let points = crate::data::query_points(1_000, seed);
    let towns: Vec<String> = renkei_domain::towns::towns()?
        .iter()
        .filter(|t| t.municipality == "八尾市" || t.municipality == "東大阪市")
        .take(200)
        .map(|t| format!("{}{}", t.municipality, t.name))
        .collect();
    let endpoints: Vec<(String, Vec<String>)> = vec![
        (
            "`/api/v1/directory/near?…&km=5&limit=50` (JSON, for comparison)".into(),
            points
                .iter()
                .map(|(lat, lng)| {
                    format!("/api/v1/directory/near?lat={lat:.5}&lng={lng:.5}&km=5&limit=50")
                })
                .collect(),
        ),
        (
            "`/fhir/Location?near=…|5|km&_count=50` (FHIR)".into(),
            points
                .iter()
                .map(|(lat, lng)| format!("/fhir/Location?near={lat:.5}|{lng:.5}|5|km&_count=50"))
                .collect(),
        ),
        (
            "`/fhir/Location?near=…|5|km&_count=50`, second page (FHIR, `next` link)".into(),
            Vec::new(),
        ),
        (
            "`/directory?near=<town>&km=5` (HTML)".into(),
            towns
                .iter()
                .map(|t| format!("/directory?near={}&km=5", crate::measure::url_encoded(t)))
                .collect(),
        ),
        (
            "`/directory` (HTML, no query)".into(),
            vec!["/directory".to_owned()],
        ),
    ];
    let mut results = Vec::new();
    let mut second_pages = Vec::new();
    for (what, paths) in endpoints {
        let paths = if paths.is_empty() {
            std::mem::take(&mut second_pages)
        } else {
            paths
        };
        if paths.is_empty() {
            continue;
        }
        let bar = ProgressBar::new(requests as u64);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(what.clone());
        let mut times = Vec::with_capacity(requests);
        let mut first = Vec::new();
        let mut bytes = 0;
        for i in 0..requests {
            let p = &paths[i % paths.len()];
            let started = Instant::now();
            let body = get(&app, p).await?;
            let took = started.elapsed();
            times.push(took);
            if i < paths.len() {
                first.push(took);
            }
            bytes += body.len();
            if what.contains("(FHIR)") && second_pages.len() < points.len() {
                if let Some(next) = next_link(&body) {
                    second_pages.push(next);
                }
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        times.sort();
        first.sort();
        results.push(Timed {
            what,
            times,
            first,
            bytes,
        });
    }
    let mut out = format!(
        "### Public searches in process (through the router)\n\n{entries} entries in the \
         index (loaded in {:.1} s); {requests} requests per line over the same 1,000 points \
         (or 200 towns, or one page), one at a time, each timed from the request to the last \
         byte of its body; \"first visit\": each query's first time, when nothing of it is \
         kept yet (FHIR then reads the page's entries from the database).\n\n\
         | endpoint | p50 | p90 | p99 | max | first visit p50 | first visit p99 | mean body |\n\
         |---|---|---|---|---|---|---|---|\n",
        index_load.as_secs_f64()
    );
    for t in &results {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.1} KB |\n",
            t.what,
            ms(pct(&t.times, 0.50)),
            ms(pct(&t.times, 0.90)),
            ms(pct(&t.times, 0.99)),
            ms(*t.times.last().unwrap_or(&Duration::ZERO)),
            ms(pct(&t.first, 0.50)),
            ms(pct(&t.first, 0.99)),
            t.bytes as f64 / t.times.len().max(1) as f64 / 1024.0
        ));
    }
    Ok(out)
}

/// The body of a GET that must answer 200.
async fn get(app: &axum::Router, path: &str) -> anyhow::Result<Vec<u8>> {
    let response = app
        .clone()
        .oneshot(Request::builder().uri(path).body(Body::empty())?)
        .await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes().to_vec();
    if status != StatusCode::OK {
        bail!(
            "{path}: {status}: {}",
            String::from_utf8_lossy(&body)
                .chars()
                .take(300)
                .collect::<String>()
        );
    }
    Ok(body)
}

/// The path of a FHIR Bundle's `next` link.
fn next_link(body: &[u8]) -> Option<String> {
    let bundle: serde_json::Value = serde_json::from_slice(body).ok()?;
    let url = bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == "next")?["url"]
        .as_str()?
        .to_owned();
    let at = url.find("/fhir/")?;
    Some(url[at..].to_owned())
}
