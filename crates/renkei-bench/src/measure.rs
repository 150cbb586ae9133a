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

/// How far apart two distances may be and still count as the same (metres). Both searches
/// compute the great-circle distance on the same sphere (PostgreSQL's `earth()` is set to
/// Renkei's radius for this: with its own 6,378 km sphere every distance would be 0.11 %
/// longer, 5.6 m at the 5 km edge, more than any sound tolerance), from the same coordinates,
/// in double precision: they agree to about a nanometre (the report prints the largest
/// difference seen). An entry in one result but not the other is therefore a tie only when it
/// sits within this of the radius (5 km), or of the other result's last distance when that
/// result was cut at the limit (50); two entries may swap places only when their distances are
/// this close. One metre is orders of magnitude above the arithmetic's error and below anything
/// a person would call "nearer".
const TIE_METRES: f64 = 1.0;

/// Redefines earthdistance's `earth()` (the sphere's radius in metres) as Renkei's.
const EARTH_SQL: &str = "CREATE OR REPLACE FUNCTION earth() RETURNS float8 LANGUAGE SQL IMMUTABLE PARALLEL SAFE AS 'SELECT 6371000::float8'";

/// How many differing queries are printed in detail.
const SHOWN_DIFFERENCES: usize = 5;

/// One query's result: (id, distance in metres), nearest first.
type Hits = Vec<(i64, f64)>;

/// How two results of the same query compare.
#[derive(Debug, Clone, PartialEq)]
enum Agreement {
    /// The same ids in the same order.
    Same,
    /// The same up to ties: this many entries in one result only (at the edge or the cut),
    /// and this many swaps of equidistant entries.
    Ties { edge: usize, swaps: usize },
    /// Different beyond ties; what differs.
    Differs(Vec<String>),
}

/// Compares the in-process result `a` with PostgreSQL's `b` of a query of radius `radius_m`
/// and `limit` (see [`TIE_METRES`]); also gives the largest distance difference of an entry
/// both hold.
fn compare(a: &[(i64, f64)], b: &[(i64, f64)], radius_m: f64, limit: usize) -> (Agreement, f64) {
    use std::collections::HashMap;
    let in_a: HashMap<i64, (usize, f64)> = a
        .iter()
        .enumerate()
        .map(|(i, (id, d))| (*id, (i, *d)))
        .collect();
    let in_b: HashMap<i64, (usize, f64)> = b
        .iter()
        .enumerate()
        .map(|(i, (id, d))| (*id, (i, *d)))
        .collect();
    let mut problems = Vec::new();
    let mut edge = 0;
    // An entry one result lacks: a tie at the radius, or at the other's cut when it is full.
    let mut lacking = |own: &[(i64, f64)],
                       other: &[(i64, f64)],
                       other_ids: &HashMap<i64, (usize, f64)>,
                       who: &str| {
        let cut = (other.len() >= limit)
            .then(|| other.last().map(|(_, d)| *d))
            .flatten();
        for (id, d) in own {
            if other_ids.contains_key(id) {
                continue;
            }
            let at_edge = (d - radius_m).abs() <= TIE_METRES;
            let at_cut = cut.is_some_and(|c| (d - c).abs() <= TIE_METRES);
            if at_edge || at_cut {
                edge += 1;
            } else {
                problems.push(format!(
                    "id {id} at {d:.3} m only {who} (other result: {} entries{})",
                    other.len(),
                    cut.map(|c| format!(", cut at {c:.3} m"))
                        .unwrap_or_default()
                ));
            }
        }
    };
    lacking(a, b, &in_b, "in process");
    lacking(b, a, &in_a, "in PostgreSQL");
    // The order of the entries both hold: a pair the two put in opposite order must be
    // equidistant.
    let common: Vec<(i64, usize, f64, usize, f64)> = a
        .iter()
        .filter_map(|(id, _)| {
            let (ia, da) = in_a[id];
            in_b.get(id).map(|(ib, db)| (*id, ia, da, *ib, *db))
        })
        .collect();
    let worst = common
        .iter()
        .map(|(_, _, da, _, db)| (da - db).abs())
        .fold(0.0f64, f64::max);
    let mut swaps = 0;
    for (x, (id_x, _, dx, bx, _)) in common.iter().enumerate() {
        for (id_y, _, dy, by, _) in &common[x + 1..] {
            if by < bx {
                if (dx - dy).abs() <= TIE_METRES {
                    swaps += 1;
                } else {
                    problems.push(format!(
                        "ids {id_x} ({dx:.3} m) and {id_y} ({dy:.3} m) in opposite order"
                    ));
                }
            }
        }
    }
    if worst > TIE_METRES {
        problems.push(format!("an entry's distance differs by {worst:.3} m"));
    }
    let agreement = if !problems.is_empty() {
        Agreement::Differs(problems)
    } else if edge == 0 && swaps == 0 {
        Agreement::Same
    } else {
        Agreement::Ties { edge, swaps }
    };
    (agreement, worst)
}

/// `search`: the index in process, then PostgreSQL on the same rows and query points, and the
/// two results of every query PostgreSQL ran compared entry by entry. The report, and how many
/// queries differ beyond ties (any is a failure).
pub async fn search(
    rows: usize,
    queries: usize,
    postgres: &str,
    seed: u64,
) -> anyhow::Result<(String, usize)> {
    let all = data::rows(rows, seed);
    let points = data::query_points(queries, seed);
    let compared = queries.min(2_000);

    let started = Instant::now();
    let index = SpatialIndex::build(all.iter().map(Row::indexed));
    let build = started.elapsed();
    let mut times = Vec::with_capacity(queries);
    let mut found = 0usize;
    let mut results: Vec<Hits> = Vec::with_capacity(compared);
    // Warm up, then measure each query alone.
    for (lat, lng) in points.iter().take(1_000) {
        std::hint::black_box(index.near(&query_at(*lat, *lng)));
    }
    for (i, (lat, lng)) in points.iter().enumerate() {
        let t = Instant::now();
        let hits = index.near(&query_at(*lat, *lng));
        times.push(t.elapsed());
        found += hits.len();
        if i < compared {
            results.push(hits.iter().map(|(e, km)| (e.id, km * 1000.0)).collect());
        }
    }
    times.sort();
    let in_process = (
        pct(&times, 0.5),
        pct(&times, 0.99),
        *times.last().unwrap_or(&Duration::ZERO),
    );
    let mean_found = found as f64 / queries.max(1) as f64;

    let (pg, pg_results) = postgres_search(&all, &points[..compared], postgres).await?;
    let pg_found = pg_results.iter().map(Vec::len).sum::<usize>() as f64 / compared.max(1) as f64;
    let ratio_p50 = pg.0.as_secs_f64() / in_process.0.as_secs_f64().max(1e-9);
    let ratio_p99 = pg.1.as_secs_f64() / in_process.1.as_secs_f64().max(1e-9);

    let query = query_at(0.0, 0.0);
    let (mut same, mut tied, mut edge, mut swaps, mut worst) = (0, 0, 0, 0, 0.0f64);
    let mut differing = Vec::new();
    for (i, (a, b)) in results.iter().zip(&pg_results).enumerate() {
        let (agreement, w) = compare(a, b, query.km * 1000.0, query.limit);
        worst = worst.max(w);
        match agreement {
            Agreement::Same => same += 1,
            Agreement::Ties { edge: e, swaps: s } => {
                tied += 1;
                edge += e;
                swaps += s;
            }
            Agreement::Differs(problems) => differing.push((i, problems)),
        }
    }
    let mut equality = format!(
        "Result sets compared query by query (ids, in distance order; PostgreSQL's `earth()` set \
         to Renkei's mean radius of {:.0} m, so both compute the same distance): of {compared} \
         queries, **{same} identical**, {tied} equal up to ties within {TIE_METRES} m ({edge} \
         entries at the 5 km edge or the 50th place, {swaps} swaps of equidistant entries), \
         **{} different**. Entries both return have the same distance in each to within {:.1e} m.\n",
        renkei_domain::spatial::EARTH_RADIUS_KM * 1000.0,
        differing.len(),
        worst,
    );
    for (i, problems) in differing.iter().take(SHOWN_DIFFERENCES) {
        let (lat, lng) = points[*i];
        equality.push_str(&format!(
            "\n- query {i} at ({lat:.6}, {lng:.6}): {} in process, {} in PostgreSQL; {}",
            results[*i].len(),
            pg_results[*i].len(),
            problems
                .iter()
                .take(4)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if differing.len() > SHOWN_DIFFERENCES {
        equality.push_str(&format!(
            "\n- … and {} more queries",
            differing.len() - SHOWN_DIFFERENCES
        ));
    }
    let report = format!(
        "### Near search: clinics with 訪問診療 + 24時間対応 within 5 km, nearest 50 ({rows} entries)\n\n\
         | where | queries | p50 | p99 | max | results per query |\n|---|---|---|---|---|---|\n\
         | in process (R-tree, `SpatialIndex::near`) | {queries} | {} | {} | {} | {mean_found:.1} |\n\
         | PostgreSQL (earthdistance, GiST on `ll_to_earth`) | {compared} | {} | {} | {} | {pg_found:.1} |\n\n\
         Index build: {:.2} s. PostgreSQL is {ratio_p50:.0}× slower at p50 and {ratio_p99:.0}× at p99.\n\n\
         {equality}\n",
        ms(in_process.0),
        ms(in_process.1),
        ms(in_process.2),
        ms(pg.0),
        ms(pg.1),
        ms(pg.2),
        build.as_secs_f64(),
    );
    Ok((report, differing.len()))
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

/// The same rows in PostgreSQL with the usual index for distance, and the same query: the
/// (p50, p99, max) of the queries and each query's result, (id, metres) nearest first.
async fn postgres_search(
    rows: &[Row],
    points: &[(f64, f64)],
    server: &str,
) -> anyhow::Result<((Duration, Duration, Duration), Vec<Hits>)> {
    let url = fresh_database(server, "renkei_bench").await?;
    let mut admin = sqlx::PgConnection::connect(server)
        .await
        .with_context(|| format!("PostgreSQL at {server}"))?;
    let result = async {
        let mut db = sqlx::PgConnection::connect(&url).await?;
        for sql in [
            "CREATE EXTENSION IF NOT EXISTS cube",
            "CREATE EXTENSION IF NOT EXISTS earthdistance",
            // earthdistance's sphere has a radius of 6,378,168 m, Renkei's the mean 6,371 km:
            // the module's documented way to change it is to redefine earth(). Done before
            // the index is built, so the index and the queries use the same sphere as the
            // in-process search, and the two results can be compared entry by entry.
            EARTH_SQL,
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
        let mut results = Vec::with_capacity(points.len());
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
            let hits = rows
                .iter()
                .map(|r| Ok((r.try_get::<i64, _>("id")?, r.try_get::<f64, _>("d")?)))
                .collect::<Result<Hits, sqlx::Error>>()?;
            results.push(hits);
        }
        times.sort();
        db.close().await?;
        anyhow::Ok((
            (pct(&times, 0.5), pct(&times, 0.99), *times.last().unwrap_or(&Duration::ZERO)),
            results,
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

/// The lines of wrk's output that start with these prefixes, in that order (absent ones, such
/// as "Non-2xx" when every reply was good, left out).
pub(crate) fn wrk_lines(text: &str, prefixes: &[&str]) -> String {
    prefixes
        .iter()
        .filter_map(|prefix| {
            text.lines()
                .find(|l| l.trim_start().starts_with(prefix))
                .map(|l| l.trim().to_owned())
        })
        .collect::<Vec<_>>()
        .join("\n")
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

/// Loads `paths` in turn with wrk (closed loop, 2 threads) and returns its figures.
fn wrk_paths(
    port: u16,
    paths: &[String],
    connections: u32,
    seconds: u32,
) -> anyhow::Result<String> {
    let script = tempfile::NamedTempFile::new()?;
    let quoted: Vec<String> = paths.iter().map(|p| format!("\"{p}\"")).collect();
    std::fs::write(
        script.path(),
        format!(
            "local paths = {{ {} }}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format(\"GET\", paths[(i % #paths) + 1])\nend\n",
            quoted.join(", ")
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
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(format!(
        "closed loop (`wrk -t2 -c{connections} -d{seconds}s --latency`; each connection \
         waits for its reply, so a stall delays the requests behind it unseen):\n{}",
        wrk_lines(
            &text,
            &[
                "Requests/sec",
                "50%",
                "90%",
                "99%",
                "Non-2xx",
                "Socket errors"
            ]
        ),
    ))
}

/// Percent-encodes a query value (UTF-8 bytes; unreserved characters as they are).
pub(crate) fn url_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `http`: serve the imported directory, load the near API with wrk (closed loop, when wrk is
/// installed) and with the open-loop generator at `rate` requests/s (latency from each
/// request's due time), and read the server's memory.
pub async fn http(
    data_dir: &Path,
    renkei: &Path,
    seconds: u32,
    connections: u32,
    rate: u32,
    seed: u64,
) -> anyhow::Result<String> {
    let wrk = Command::new("wrk").arg("--version").output().is_ok();
    if !wrk {
        eprintln!("wrk not found (apt-get install wrk): the closed-loop figure is left out");
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
                format!("/api/v1/directory/near?lat={lat:.5}&lng={lng:.5}&km=5&kind=clinic&cap=home_visit,always_available&limit=50")
            })
            .collect();
        let closed = if wrk {
            wrk_paths(port, &paths, connections, seconds)?
        } else {
            "closed loop: not measured (wrk not installed)".to_owned()
        };
        let requests: Vec<Vec<u8>> = paths
            .iter()
            .map(|p| format!("GET {p} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n").into_bytes())
            .collect();
        let requests = std::sync::Arc::new(requests);
        let job = crate::load::single(
            std::sync::Arc::new(move |i| requests[(i as usize) % requests.len()].clone()),
            200,
        );
        let open = crate::load::run(
            port,
            connections,
            crate::load::Pace::Open { rate },
            seconds,
            job,
            Duration::from_secs(10),
        )
        .await;
        let (after_mb, peak_mb) = memory_mb(server.id());
        // The other public near searches and the directory page, the same points.
        let mut others = String::new();
        if wrk {
            let fhir: Vec<String> = points
                .iter()
                .map(|(lat, lng)| format!("/fhir/Location?near={lat:.5}|{lng:.5}|5|km&_count=50"))
                .collect();
            // The directory page's near takes a place of the region: its towns.
            let towns: Vec<String> = renkei_domain::towns::towns()?
                .iter()
                .filter(|t| t.municipality == "八尾市" || t.municipality == "東大阪市")
                .take(200)
                .map(|t| {
                    format!(
                        "/directory?near={}&km=5",
                        url_encoded(&format!("{}{}", t.municipality, t.name))
                    )
                })
                .collect();
            for (what, paths) in [
                ("`/fhir/Location?near=…|5|km&_count=50` (FHIR)", fhir),
                ("`/directory?near=<town>&km=5` (the HTML page)", towns),
                ("`/directory` (the HTML page, no query)", vec!["/directory".to_owned()]),
            ] {
                others.push_str(&format!(
                    "\n{what}:\n```\n{}\n```\n",
                    wrk_paths(port, &paths, connections, seconds)?
                ));
            }
        }
        let (_, peak_after_others_mb) = memory_mb(server.id());
        anyhow::Ok(format!(
            "### HTTP and memory\n\n`/api/v1/directory/near` (the same query, 1,000 points drawn \
             like the population), server and load on this machine:\n\n```\n{closed}\n\n\
             open loop (`--rate {rate}`, renkei-bench's generator): {} requests due over \
             {seconds} s on {connections} connections; {} answered 200 ({:.0}/s), {} failed \
             ({});\nlatency from the time each was due: {}\n```\n\n\
             First near query (loads the index): {:.2} s. Server memory (VmRSS): {idle_mb:.0} MB \
             started, {loaded_mb:.0} MB with the index, {after_mb:.0} MB after the load, peak \
             {peak_mb:.0} MB.\n{others}\nPeak server memory after those: {peak_after_others_mb:.0} MB.\n",
            open.due,
            open.ok,
            open.rate(),
            open.failed,
            open.failures_text(),
            open.quantiles_text(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_agree_only_up_to_ties() {
        let a = vec![(1, 10.0), (2, 20.0), (3, 20.4), (4, 4_999.6)];
        // The same.
        assert_eq!(compare(&a, &a, 5_000.0, 50).0, Agreement::Same);
        // Two equidistant entries swapped, and one at the radius left out.
        let b = vec![(1, 10.0), (3, 20.4), (2, 20.0)];
        assert_eq!(
            compare(&a, &b, 5_000.0, 50).0,
            Agreement::Ties { edge: 1, swaps: 1 }
        );
        // An entry well inside the radius missing, and two far apart in opposite order.
        let c = vec![(2, 20.0), (1, 10.0), (4, 4_999.6)];
        let Agreement::Differs(problems) = compare(&a, &c, 5_000.0, 50).0 else {
            panic!("must differ");
        };
        assert_eq!(problems.len(), 2, "{problems:?}");
        // Cut at the limit: the entry tied with the other's last is not a difference, one
        // before it is.
        let full = vec![(1, 10.0), (2, 20.0)];
        let other = vec![(1, 10.0), (5, 20.3)];
        assert_eq!(
            compare(&full, &other, 5_000.0, 2).0,
            Agreement::Ties { edge: 2, swaps: 0 }
        );
        let other = vec![(1, 10.0), (5, 15.0)];
        assert!(matches!(
            compare(&full, &other, 5_000.0, 2).0,
            Agreement::Differs(_)
        ));
        // The same entry at different distances.
        let moved = vec![(1, 12.0), (2, 20.0), (3, 20.4), (4, 4_999.6)];
        assert!(matches!(
            compare(&a, &moved, 5_000.0, 50),
            (Agreement::Differs(_), w) if (w - 2.0).abs() < 1e-9
        ));
    }

    #[test]
    fn postgres_uses_renkeis_radius() {
        let metres = format!(
            "'SELECT {:.0}::float8'",
            renkei_domain::spatial::EARTH_RADIUS_KM * 1000.0
        );
        assert!(EARTH_SQL.ends_with(&metres), "{EARTH_SQL}");
    }
}
