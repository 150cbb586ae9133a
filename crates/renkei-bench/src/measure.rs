//! The measurements. Each returns a Markdown fragment for BENCHMARKS.md.

use crate::data::{self, Row};
use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use renkei_domain::capability::Capability;
use renkei_domain::institution::InstitutionKind;
use renkei_domain::spatial::{CapabilitySet, NearQuery, SpatialIndex};
use sqlx::{Connection, Row as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The benchmark's query: clinics offering 訪問診療 and 24時間対応 within 5 km, nearest 50.
fn query_at(lat: f64, lng: f64) -> NearQuery {
    NearQuery {
        lat,
        lng,
        km: 5.0,
        kind: Some(InstitutionKind::Clinic),
        capabilities: wanted(),
        limit: 50,
    }
}

fn wanted() -> CapabilitySet {
    CapabilitySet::of([Capability::HomeVisit, Capability::AlwaysAvailable])
}

fn bar(len: u64, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(message);
    bar
}

/// Percentile of sorted durations.
pub fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// `generate`.
pub fn generate(rows: usize, out: &Path, seed: u64) -> anyhow::Result<()> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let started = Instant::now();
    let all = data::rows(rows, seed);
    let progress = bar(rows as u64, "CSV");
    data::write_csv(&all, out, &progress)?;
    progress.finish_and_clear();
    eprintln!(
        "{rows} rows → {} ({:.1} MB) in {:.1} s",
        out.display(),
        std::fs::metadata(out)?.len() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `search`: the index in process, then PostgreSQL on the same rows and query points.
pub async fn search(
    rows: usize,
    queries: usize,
    postgres: &str,
    seed: u64,
) -> anyhow::Result<String> {
    let all = data::rows(rows, seed);
    let points = data::query_points(queries, seed);

    let started = Instant::now();
    let index = SpatialIndex::build(all.iter().map(Row::indexed));
    let build = started.elapsed();
    let mut times = Vec::with_capacity(queries);
    let mut found = 0usize;
    // Warm up, then measure each query alone.
    for (lat, lng) in points.iter().take(1_000) {
        std::hint::black_box(index.near(&query_at(*lat, *lng)));
    }
    for (lat, lng) in &points {
        let t = Instant::now();
        let hits = index.near(&query_at(*lat, *lng));
        times.push(t.elapsed());
        found += hits.len();
    }
    times.sort();
    let in_process = (
        pct(&times, 0.5),
        pct(&times, 0.99),
        *times.last().unwrap_or(&Duration::ZERO),
    );
    let mean_found = found as f64 / queries.max(1) as f64;

    let (pg, pg_found) = postgres_search(&all, &points[..queries.min(2_000)], postgres).await?;
    let ratio_p50 = pg.0.as_secs_f64() / in_process.0.as_secs_f64().max(1e-9);
    let ratio_p99 = pg.1.as_secs_f64() / in_process.1.as_secs_f64().max(1e-9);
    Ok(format!(
        "### Near search: clinics with 訪問診療 + 24時間対応 within 5 km, nearest 50 ({rows} entries)\n\n\
         | where | queries | p50 | p99 | max | results per query |\n|---|---|---|---|---|---|\n\
         | in process (R-tree, `SpatialIndex::near`) | {queries} | {} | {} | {} | {mean_found:.1} |\n\
         | PostgreSQL (earthdistance, GiST on `ll_to_earth`) | {} | {} | {} | {} | {pg_found:.1} |\n\n\
         Index build: {:.2} s. PostgreSQL is {ratio_p50:.0}× slower at p50 and {ratio_p99:.0}× at p99.\n",
        ms(in_process.0),
        ms(in_process.1),
        ms(in_process.2),
        queries.min(2_000),
        ms(pg.0),
        ms(pg.1),
        ms(pg.2),
        build.as_secs_f64(),
    ))
}

/// `route`: urgent requests routed to the nearest 10 capable institutions (within 30 km) in
/// process, for each kind of request, from points spread like the population.
pub fn route(rows: usize, queries: usize, seed: u64) -> anyhow::Result<String> {
    use renkei_domain::urgent::{route, RequestKind};
    let all = data::rows(rows, seed);
    let points = data::query_points(queries, seed);
    let started = Instant::now();
    let index = SpatialIndex::build(all.iter().map(Row::indexed));
    let build = started.elapsed();
    let mut out = format!(
        "### Routing an urgent request: the nearest 10 capable institutions within 30 km ({rows} entries)\n\n\
         | request | capable entries | queries | p50 | p99 | max | found per query |\n|---|---|---|---|---|---|---|\n"
    );
    for kind in RequestKind::ALL {
        let capable = all
            .iter()
            .filter(|r| {
                kind.target_kinds().contains(&r.kind)
                    && kind
                        .capability()
                        .is_none_or(|c| r.capabilities.contains(&c))
            })
            .count();
        for (lat, lng) in points.iter().take(1_000) {
            std::hint::black_box(route(&index, *kind, &[], (*lat, *lng), 0, 10));
        }
        let progress = bar(queries as u64, "route");
        let mut times = Vec::with_capacity(queries);
        let mut found = 0usize;
        for (lat, lng) in &points {
            let t = Instant::now();
            let hits = route(&index, *kind, &[], (*lat, *lng), 0, 10);
            times.push(t.elapsed());
            found += hits.len();
            progress.inc(1);
        }
        progress.finish_and_clear();
        times.sort();
        out.push_str(&format!(
            "| {} | {capable} | {queries} | {} | {} | {} | {:.1} |\n",
            kind.label_ja(),
            ms(pct(&times, 0.5)),
            ms(pct(&times, 0.99)),
            ms(*times.last().unwrap_or(&Duration::ZERO)),
            found as f64 / queries.max(1) as f64
        ));
    }
    out.push_str(&format!("\nIndex build: {:.2} s.\n", build.as_secs_f64()));
    Ok(out)
}

/// The same rows in PostgreSQL with the usual index for distance, and the same query.
async fn postgres_search(
    rows: &[Row],
    points: &[(f64, f64)],
    server: &str,
) -> anyhow::Result<((Duration, Duration, Duration), f64)> {
    let url = fresh_database(server, "renkei_bench").await?;
    let mut admin = sqlx::PgConnection::connect(server)
        .await
        .with_context(|| format!("PostgreSQL at {server}"))?;
    let result = async {
        let mut db = sqlx::PgConnection::connect(&url).await?;
        for sql in [
            "CREATE EXTENSION IF NOT EXISTS cube",
            "CREATE EXTENSION IF NOT EXISTS earthdistance",
            "CREATE TABLE entries (id BIGINT PRIMARY KEY, kind TEXT NOT NULL, caps INTEGER NOT NULL, lat DOUBLE PRECISION NOT NULL, lng DOUBLE PRECISION NOT NULL)",
        ] {
            sqlx::query(sql).execute(&mut db).await?;
        }
        let progress = bar(rows.len() as u64, "PostgreSQL COPY");
        let mut copy = db
            .copy_in_raw("COPY entries (id, kind, caps, lat, lng) FROM STDIN WITH (FORMAT csv)")
            .await?;
        let mut chunk = String::new();
        for r in rows {
            chunk.push_str(&format!(
                "{},{},{},{},{}\n",
                r.id,
                r.kind.code(),
                CapabilitySet::of(r.capabilities.iter().copied()).0,
                r.lat,
                r.lng
            ));
            if chunk.len() > 1 << 20 {
                copy.send(chunk.as_bytes()).await?;
                chunk.clear();
            }
            progress.inc(1);
        }
        copy.send(chunk.as_bytes()).await?;
        copy.finish().await?;
        progress.finish_and_clear();
        for sql in [
            "CREATE INDEX entries_by_place ON entries USING gist (ll_to_earth(lat, lng))",
            "ANALYZE entries",
        ] {
            sqlx::query(sql).execute(&mut db).await?;
        }
        let sql = "SELECT id, earth_distance(ll_to_earth($1, $2), ll_to_earth(lat, lng)) AS d
             FROM entries
             WHERE earth_box(ll_to_earth($1, $2), $3) @> ll_to_earth(lat, lng)
               AND earth_distance(ll_to_earth($1, $2), ll_to_earth(lat, lng)) <= $3
               AND kind = $4 AND (caps & $5) = $5
             ORDER BY d LIMIT 50";
        let caps = wanted().0 as i32;
        for (lat, lng) in points.iter().take(200) {
            sqlx::query(sql)
                .bind(lat)
                .bind(lng)
                .bind(5_000.0f64)
                .bind("clinic")
                .bind(caps)
                .fetch_all(&mut db)
                .await?;
        }
        let mut times = Vec::with_capacity(points.len());
        let mut found = 0usize;
        for (lat, lng) in points {
            let t = Instant::now();
            let rows = sqlx::query(sql)
                .bind(lat)
                .bind(lng)
                .bind(5_000.0f64)
                .bind("clinic")
                .bind(caps)
                .fetch_all(&mut db)
                .await?;
            times.push(t.elapsed());
            found += rows.len();
            let _ = rows.first().map(|r| r.get::<i64, _>("id"));
        }
        times.sort();
        db.close().await?;
        anyhow::Ok((
            (pct(&times, 0.5), pct(&times, 0.99), *times.last().unwrap_or(&Duration::ZERO)),
            found as f64 / points.len().max(1) as f64,
        ))
    }
    .await;
    sqlx::query("DROP DATABASE IF EXISTS renkei_bench")
        .execute(&mut admin)
        .await?;
    result
}

/// `import`: `renkei import` into a fresh SQLite database, timed.
pub fn import(csv: &Path, data_dir: &Path, renkei: &Path) -> anyhow::Result<String> {
    if !renkei.exists() {
        bail!(
            "{} not found: cargo build --release -p renkei",
            renkei.display()
        );
    }
    let _ = std::fs::remove_dir_all(data_dir);
    std::fs::create_dir_all(data_dir)?;
    let size = std::fs::metadata(csv)
        .with_context(|| format!("{} (run generate first)", csv.display()))?
        .len();
    let started = Instant::now();
    let out = Command::new(renkei)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("import")
        .arg(csv)
        .env("RENKEI_LOG", "warn")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    let took = started.elapsed();
    if !out.status.success() {
        bail!(
            "renkei import failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    Ok(format!(
        "### Import\n\n`renkei import` of the CSV ({:.1} MB) into a fresh SQLite database: **{:.1} s**. \
         ({})\n",
        size as f64 / 1e6,
        took.as_secs_f64(),
        String::from_utf8_lossy(&out.stdout).trim()
    ))
}

/// A free port on loopback.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(18_080)
}

/// A plain HTTP/1.1 GET; the whole response.
pub(crate) fn get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(120))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text)
}

/// The `Cookie` header of a new session of `user`, second factor done, for requests through the
/// router in process.
pub(crate) async fn session_cookie(
    state: &renkei_web::AppState,
    user: &renkei_store::accounts::User,
) -> anyhow::Result<String> {
    let set_cookie =
        renkei_web::auth::session::start_session(state, user, true, "127.0.0.1", "bench").await?;
    Ok(set_cookie
        .to_str()?
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// Resident memory of a process, from /proc: (now, peak) in MB.
pub(crate) fn memory_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// `http`: serve the imported directory, load it with wrk, read the server's memory.
pub async fn http(
    data_dir: &Path,
    renkei: &Path,
    seconds: u32,
    connections: u32,
    seed: u64,
) -> anyhow::Result<String> {
    if Command::new("wrk").arg("--version").output().is_err() {
        bail!("wrk not found: apt-get install wrk");
    }
    let port = free_port();
    let mut server = Command::new(renkei)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("RENKEI_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let result = async {
        let deadline = Instant::now() + Duration::from_secs(120);
        while get(port, "/healthz").is_none_or(|r| !r.starts_with("HTTP/1.1 200")) {
            if Instant::now() > deadline {
                bail!("the server did not start");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (idle_mb, _) = memory_mb(server.id());
        // The first near query loads the index (if the refresh task has not yet).
        let t = Instant::now();
        let first = get(port, "/api/v1/directory/near?lat=35.69&lng=139.69&km=5&kind=clinic&cap=home_visit,always_available&limit=50")
            .unwrap_or_default();
        if !first.starts_with("HTTP/1.1 200") {
            bail!("near query failed: {}", first.lines().next().unwrap_or(""));
        }
        let first_query = t.elapsed();
        let (loaded_mb, _) = memory_mb(server.id());

        let points = data::query_points(1_000, seed);
        let paths: Vec<String> = points
            .iter()
            .map(|(lat, lng)| {
                format!("\"/api/v1/directory/near?lat={lat:.5}&lng={lng:.5}&km=5&kind=clinic&cap=home_visit,always_available&limit=50\"")
            })
            .collect();
        let script = tempfile::NamedTempFile::new()?;
        std::fs::write(
            script.path(),
            format!(
                "local paths = {{ {} }}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format(\"GET\", paths[(i % #paths) + 1])\nend\n",
                paths.join(", ")
            ),
        )?;
        let out = Command::new("wrk")
            .args([
                "-t2",
                &format!("-c{connections}"),
                &format!("-d{seconds}s"),
                "--latency",
                "-s",
            ])
            .arg(script.path())
            .arg(format!("http://127.0.0.1:{port}"))
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (after_mb, peak_mb) = memory_mb(server.id());
        let field = |prefix: &str| {
            text.lines()
                .find(|l| l.trim_start().starts_with(prefix))
                .map(|l| l.trim().to_owned())
                .unwrap_or_default()
        };
        anyhow::Ok(format!(
            "### HTTP and memory\n\n`wrk -t2 -c{connections} -d{seconds}s --latency` against \
             `/api/v1/directory/near` (the same query, 1,000 points drawn like the population), \
             server and load on this 2-core machine:\n\n```\n{}\n{}\n{}\n{}\n{}\n```\n\n\
             First near query (loads the index): {:.2} s. Server memory (VmRSS): {idle_mb:.0} MB \
             started, {loaded_mb:.0} MB with the index, {after_mb:.0} MB after the load, peak \
             {peak_mb:.0} MB.\n",
            field("Requests/sec"),
            field("50%"),
            field("90%"),
            field("99%"),
            field("Non-2xx"),
            first_query.as_secs_f64(),
        ))
    }
    .await;
    let _ = server.kill();
    let _ = server.wait();
    result
}

/// A fresh PostgreSQL database `renkei_surge` on `server` holding the CSV's directory
/// (imported with `renkei import`); its URL.
pub async fn postgres_with_directory(
    server: &str,
    csv: &Path,
    renkei: &Path,
) -> anyhow::Result<String> {
    let url = fresh_database(server, "renkei_surge").await?;
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let out = Command::new(renkei)
        .arg("--data-dir")
        .arg(dir.path())
        .arg("import")
        .arg(csv)
        .env("DATABASE_URL", &url)
        .env("RENKEI_LOG", "warn")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        bail!(
            "renkei import into PostgreSQL failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    eprintln!(
        "imported {} into PostgreSQL in {:.1} s",
        csv.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(url)
}

/// Drops and creates the database `name` on the PostgreSQL `server`; its URL.
pub(crate) async fn fresh_database(server: &str, name: &str) -> anyhow::Result<String> {
    let mut admin = sqlx::PgConnection::connect(server)
        .await
        .with_context(|| format!("cannot reach PostgreSQL at {server}"))?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    match server.rsplit_once('/') {
        Some((base, _)) => Ok(format!("{base}/{name}")),
        None => bail!("a PostgreSQL URL ending in /database, not {server}"),
    }
}
