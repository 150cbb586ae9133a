//! `surge`: a safety check for every institution of the national-scale directory (300,000
//! targets), answered by many concurrent clients from a second process — how many answers per
//! second are stored durably, at what latency, and how soon the dashboard's own live endpoint
//! shows a new answer while the surge goes on. SQLite by default; with `--postgres` the same
//! against PostgreSQL.
//!
//! An answer is what a phone sends ([`crate::phone::answer`]): the form, the post with the
//! form's own CSRF cookie and token, and the page its 303 leads to; it counts only when all
//! three returned 200, 303 and 200. `--post-only` keeps the earlier, easier measure (the post
//! alone, with a made-up CSRF value) so the two can be shown side by side.

use crate::dashboard::{self, AnswerIds, Events, Probe};
use crate::load::{self, Conn, Job, LoadReport, Pace};
use crate::measure::{free_port, get};
use crate::phone;
use anyhow::{bail, Context};
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The CSRF value the POST-only load sends as both cookie and header: any 64 hex characters
/// pass the double-submit check, which is why that load never needs the form.
const CSRF: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

/// The hub coordinator the bench creates to watch the dashboard.
const COORDINATOR: &str = "surge-coordinator@bench.renkei.example";

/// Links kept aside for the dashboard probes (never answered by the load).
const PROBE_LINKS: usize = 100;

/// How a surge is run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Seconds of load.
    pub seconds: u32,
    /// Connections of the load.
    pub connections: u32,
    /// Answers due per second (open loop); `None` for a closed loop.
    pub rate: Option<u32>,
    /// Only the POST of each answer, with a made-up CSRF value (the earlier measure).
    pub post_only: bool,
}

fn renkei_cmd(renkei: &Path, data_dir: &Path, database_url: Option<&str>) -> Command {
    let mut cmd = Command::new(renkei);
    cmd.arg("--data-dir")
        .arg(data_dir)
        .env("RENKEI_LOG", "warn");
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    cmd
}

/// Runs a `renkei` command to its end; its standard output.
fn run_renkei(mut cmd: Command, what: &str) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!("{what} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The POST alone, as the earlier measure sent it (made-up CSRF value, no form, no redirect).
fn post_only_request(token: &str) -> Vec<u8> {
    let body = phone::LOAD_FIELDS;
    format!(
        "POST /r/{token} HTTP/1.1\r\nHost: localhost\r\nCookie: renkei_csrf={CSRF}\r\nX-CSRF-Token: {CSRF}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Measures; returns a Markdown fragment.
pub async fn measure(
    data_dir: &Path,
    renkei: &Path,
    options: Options,
    database_url: Option<&str>,
) -> anyhow::Result<String> {
    let Options {
        seconds,
        connections,
        rate,
        post_only,
    } = options;
    let wrk = rate.is_none() && post_only;
    if wrk && Command::new("wrk").arg("--version").output().is_err() {
        bail!("wrk not found (the POST-only closed loop runs wrk): apt-get install wrk");
    }
    if database_url.is_none() && !data_dir.join("renkei.db").exists() {
        bail!(
            "no directory at {}: run `renkei-bench generate` and `renkei-bench import` first",
            data_dir.display()
        );
    }
    // A copy, so the imported directory stays as it was for the other benchmarks.
    let work = tempfile::tempdir_in(data_dir.parent().unwrap_or(Path::new(".")))?;
    let dir = work.path().join("data");
    let copied = Command::new("cp")
        .arg("-a")
        .arg(data_dir)
        .arg(&dir)
        .status()?;
    if !copied.success() {
        bail!("cannot copy {}", data_dir.display());
    }
    let deadline = (chrono::Utc::now() + chrono::Duration::hours(6))
        .with_timezone(&renkei_domain::japan::jst())
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let t = Instant::now();
    let mut create = renkei_cmd(renkei, &dir, database_url);
    create.args([
        "safety-check",
        "create",
        "--actual",
        "--title",
        "surge benchmark",
        "--deadline",
        &deadline,
    ]);
    for area in [
        "higashiosaka-west",
        "higashiosaka-central",
        "higashiosaka-east",
        "yao",
        "kashiwara",
    ] {
        create.args(["--area", area]);
    }
    let said = run_renkei(create, "safety-check create")?;
    let created_in = t.elapsed();
    let id: i64 = said
        .split('#')
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok())
        .with_context(|| format!("the check's id in {said:?}"))?;
    let mut export = renkei_cmd(renkei, &dir, database_url);
    export.args(["safety-check", "export", &id.to_string(), "--links"]);
    let links = run_renkei(export, "safety-check export --links")?;
    let tokens: Vec<String> = links
        .lines()
        .filter_map(|l| l.rsplit("/r/").next().filter(|t| t.len() == 32))
        .map(str::to_owned)
        .collect();
    if tokens.len() < 1000 {
        bail!("only {} targets", tokens.len());
    }
    // The coordinator who watches the dashboard: a hub coordinator of one of the check's
    // areas, created as an operator would (`renkei admin create-user`).
    let mut create_user = renkei_cmd(renkei, &dir, database_url);
    create_user.args([
        "admin",
        "create-user",
        "--email",
        COORDINATOR,
        "--name",
        "ベンチ 調整員",
        "--role",
        "hub_coordinator",
        "--organisation",
        "八尾市医師会（ベンチ）",
        "--area",
        "yao",
    ]);
    let created = run_renkei(create_user, "admin create-user")?;
    let password = created
        .split("initial password: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .context("the coordinator's initial password in the output of create-user")?
        .to_owned();
    let (load_tokens, probe_tokens) = tokens.split_at(tokens.len() - PROBE_LINKS);
    let load_tokens: Arc<Vec<String>> = Arc::new(load_tokens.to_vec());
    let probe_tokens = probe_tokens.to_vec();

    let port = free_port();
    // Every connection of the load stands for another phone, at another address; on loopback
    // they share one, so the per-address cap (128 by default) is raised to let them all in.
    let cap = (connections as usize + 16).max(1024).to_string();
    let mut server = renkei_cmd(renkei, &dir, database_url)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("RENKEI_MAX_CONNECTIONS", &cap)
        .env("RENKEI_MAX_CONNECTIONS_PER_CLIENT", &cap)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let result = async {
        let started = Instant::now() + Duration::from_secs(120);
        // A running server: up, and its directory index loaded (the first load of 300,000
        // entries takes the CPU for a while after a start).
        while get(port, "/healthz").is_none_or(|r| {
            !r.starts_with("HTTP/1.1 200") || !r.contains("\"directory_index\":\"loaded\"")
        }) {
            if Instant::now() > started {
                bail!("the server did not start");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let session = dashboard::sign_in(port, COORDINATOR, &password)
            .await
            .context("signing the coordinator in")?;
        let events = Events::open(port, &session, id)
            .await
            .context("opening the dashboard's events")?;
        let ids_url = match database_url {
            Some(url) => url.to_owned(),
            None => renkei_store::sqlite_url(&dir.join("renkei.db")).replace("mode=rwc", "mode=ro"),
        };
        let mut ids = AnswerIds::connect(&ids_url).await?;

        // Probes during the surge: one phone answer every 0.4–0.6 s (jittered, so they do not
        // keep step with the stream's 1-s poll) on links of their own, from a second into the
        // load until a second before its planned end (so that each probe's wait for the
        // stream, at most about a second, falls within the surge too), or until it ended.
        let load_start = Instant::now() + Duration::from_millis(500);
        let last_probe = load_start + Duration::from_secs(u64::from(seconds).saturating_sub(1));
        let done = Arc::new(AtomicBool::new(false));
        let probing = {
            let done = done.clone();
            tokio::spawn(async move {
                let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
                let mut probes = Vec::new();
                let mut failures = Vec::new();
                let mut conn = Conn::new(port);
                tokio::time::sleep(Duration::from_millis(1500)).await;
                for token in probe_tokens {
                    if done.load(Ordering::Relaxed) || Instant::now() >= last_probe {
                        break;
                    }
                    match phone::answer(&mut conn, &token, phone::PROBE_FIELDS).await {
                        Ok(acknowledged) => match ids.of(&token).await {
                            Ok(answer_id) => probes.push(Probe {
                                acknowledged,
                                answer_id,
                            }),
                            Err(e) => failures.push(format!("{e:#}")),
                        },
                        Err(e) => {
                            conn.close();
                            failures.push(e);
                        }
                    }
                    let pause = rng.gen_range(400..600);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                (probes, failures)
            })
        };

        let load = if wrk {
            let script = wrk_script(work.path(), &load_tokens)?;
            let text = tokio::task::spawn_blocking(move || {
                closed_loop(&script, port, connections, seconds)
            })
            .await??;
            format!(
                "{text}\n(wrk sends the POST alone: no form, no redirect, a made-up CSRF value)"
            )
        } else {
            let pace = match rate {
                Some(rate) => Pace::Open { rate },
                None => Pace::Closed,
            };
            let job: Job = if post_only {
                let tokens = load_tokens.clone();
                load::single(
                    Arc::new(move |i| post_only_request(&tokens[(i as usize) % tokens.len()])),
                    303,
                )
            } else {
                let tokens = load_tokens.clone();
                Arc::new(move |i: u64, mut conn: Conn| -> load::JobFuture {
                    let token = tokens[(i as usize) % tokens.len()].clone();
                    Box::pin(async move {
                        let outcome = phone::answer(&mut conn, &token, phone::LOAD_FIELDS)
                            .await
                            .map(|_| ());
                        (conn, outcome)
                    })
                })
            };
            let timeout = Duration::from_secs(if post_only { 10 } else { 30 });
            let report = load::run(port, connections, pace, seconds, job, timeout).await;
            load_text(&report, rate, seconds, connections, post_only)
        };
        let load_end = Instant::now();
        done.store(true, Ordering::Relaxed);
        let (probes, probe_failures) = probing.await.context("the probe task")?;
        // Every probe's answer shows in an event within seconds, or never: wait until each
        // has been seen, or 10 s after the last acknowledgement.
        let give_up =
            probes.last().map_or_else(Instant::now, |p| p.acknowledged) + Duration::from_secs(10);
        loop {
            let seen = events.snapshot();
            let lags = dashboard::lags(&probes, &seen);
            if lags.iter().all(Option::is_some) || Instant::now() > give_up {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let seen = events.snapshot();
        let stream_ended = events.close();
        let lags = dashboard::lags(&probes, &seen);
        let during = seen
            .iter()
            .filter(|(at, _)| *at >= load_start && *at <= load_end)
            .count();
        let stream = StreamRate {
            events: during,
            over: load_end.saturating_duration_since(load_start),
        };
        let live_part = time_live_part(port, &session, id).await;

        let mut status = renkei_cmd(renkei, &dir, database_url);
        status.args(["safety-check", "status", &id.to_string()]);
        let stored = run_renkei(status, "safety-check status")?
            .lines()
            .find(|l| l.starts_with("回答 "))
            .unwrap_or("")
            .to_owned();
        let engine = if database_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite (synchronous=FULL)"
        };
        let what = if post_only {
            "**POST only** (the earlier measure, one request of a real answer's three): \
             `POST /r/{token}` with a made-up double-submit CSRF value (cookie and header), \
             never loading the form or following the 303"
        } else {
            "**whole answers, as a phone sends them**: `GET /r/{token}` (the form; it sets the \
             CSRF cookie and carries the token in a hidden field), `POST` of the quick answer to \
             the form's action with that cookie and token (a 303 only after its commit), then \
             `GET` of the 303's Location (`/r/{token}/details`); an answer counts only when the \
             three returned 200, 303, 200, and its latency runs to the last byte of the third"
        };
        anyhow::Ok(format!(
            "### Safety-check surge on {engine}\n\n{} targets (check created with every link in \
             {:.1} s). Each answer goes to a different target's link; the load is {what}. \
             Server and load on this machine; the server's connection caps (in total and per \
             address) raised to {cap}, as the load's connections stand for phones at as many \
             addresses:\n\n```\n{load}\n```\n\n\
             Stored afterwards (`renkei safety-check status`): {stored}.\n\n{}\n",
            tokens.len(),
            created_in.as_secs_f64(),
            lag_text(
                id,
                (&probes, &probe_failures, &lags),
                stream,
                stream_ended,
                &live_part
            ),
        ))
    }
    .await;
    let _ = server.kill();
    let _ = server.wait();
    result
}

/// The load's figures as text.
fn load_text(
    r: &LoadReport,
    rate: Option<u32>,
    seconds: u32,
    connections: u32,
    post_only: bool,
) -> String {
    let unit = if post_only {
        "POSTs (one request each)"
    } else {
        "whole answers (three requests each)"
    };
    let (pace, counted) = match rate {
        Some(rate) => (
            format!("open loop (`--rate {rate}`)"),
            "latency from the time each was due",
        ),
        None => (
            "closed loop (each connection starts its next answer when the last is done)".to_owned(),
            "latency from each answer's start",
        ),
    };
    format!(
        "{pace}: {unit}; {} {} over {seconds} s on {connections} connections;\n\
         {} complete ({:.0}/s), {} failed;\n\
         {counted}: {}\n\
         failures: {}",
        r.due,
        if rate.is_some() { "due" } else { "started" },
        r.ok,
        r.rate(),
        r.failed,
        r.quantiles_text(),
        r.failures_text(),
    )
}

/// How many `update` events the stream sent while the load ran.
#[derive(Debug, Clone, Copy)]
struct StreamRate {
    /// Events that arrived.
    events: usize,
    /// Over this time.
    over: Duration,
}

/// The dashboard's lag as a paragraph: the probes (as acknowledged, those that failed, each
/// one's lag), the stream's events during the load, why the stream ended, the live part.
fn lag_text(
    id: i64,
    (probes, failures, lags): (&[Probe], &[String], &[Option<Duration>]),
    stream: StreamRate,
    stream_ended: Option<String>,
    live_part: &str,
) -> String {
    let mut seen: Vec<Duration> = lags.iter().flatten().copied().collect();
    seen.sort();
    let missed = lags.len() - seen.len();
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    let figures = if seen.is_empty() {
        "no probe was seen on the stream".to_owned()
    } else {
        format!(
            "median **{}**, p90 {}, max **{}**",
            ms(crate::measure::pct(&seen, 0.5)),
            ms(crate::measure::pct(&seen, 0.9)),
            ms(*seen.last().unwrap_or(&Duration::ZERO)),
        )
    };
    let mut text = format!(
        "Dashboard lag, on the dashboard's own live endpoint: a hub coordinator of yao, signed \
         in over HTTP (password, then a TOTP second factor), held \
         `GET /hub/safety/{id}/events` open through the surge. {} probe answers (each the \
         phone's three requests, one every 0.4–0.6 s on links the load never touches) were \
         timed from the 303 that acknowledged each to the first `update` event that includes \
         it (its answer id at most the event's last answer id): {figures}; {missed} not seen \
         within 10 s. While the load ran, the stream sent {} update events in {:.1} s (one every \
         {:.0} ms).",
        probes.len(),
        stream.events,
        stream.over.as_secs_f64(),
        stream.over.as_secs_f64() * 1000.0 / stream.events.max(1) as f64,
    );
    if !failures.is_empty() {
        text.push_str(&format!(
            " {} probes failed before they were acknowledged or found: {}.",
            failures.len(),
            failures
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if let Some(why) = stream_ended {
        text.push_str(&format!(" Note: {why}."));
    }
    text.push_str(&format!(
        " On each event the page then fetches its live part again (`live.js`); {live_part}"
    ));
    text
}

/// One fetch of the dashboard's live part by the coordinator, after the load: its size and time.
async fn time_live_part(port: u16, session: &phone::Jar, id: i64) -> String {
    let mut conn = Conn::new(port);
    let t = Instant::now();
    let fetched = tokio::time::timeout(
        Duration::from_secs(120),
        conn.exchange(&phone::get_request(
            &format!("/hub/safety/{id}?part=live"),
            session,
        )),
    )
    .await;
    match fetched {
        Ok(Ok(reply)) if reply.status == 200 => format!(
            "fetched once after the load, it was {:.1} MB and took {:.0} ms.",
            reply.body.len() as f64 / 1e6,
            t.elapsed().as_secs_f64() * 1000.0
        ),
        Ok(Ok(reply)) => format!("fetched once after the load, it answered {}.", reply.status),
        Ok(Err(e)) => format!("fetching it once after the load failed: {e}."),
        Err(_) => "fetching it once after the load took over 120 s (given up).".to_owned(),
    }
}

/// wrk's script for the POST-only closed loop: the tokens, each thread from its own offset.
fn wrk_script(dir: &Path, tokens: &[String]) -> anyhow::Result<std::path::PathBuf> {
    let token_file = dir.join("tokens.txt");
    std::fs::write(&token_file, tokens.join("\n"))?;
    let script = dir.join("surge.lua");
    std::fs::write(
        &script,
        format!(
            r#"local counter = 0
function setup(thread)
  thread:set("offset", counter)
  counter = counter + 1
end
function init(args)
  tokens = {{}}
  for line in io.lines("{}") do tokens[#tokens + 1] = line end
  i = offset
end
local headers = {{
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Cookie"] = "renkei_csrf={CSRF}",
  ["X-CSRF-Token"] = "{CSRF}",
}}
local body = "{}"
request = function()
  i = i + 2
  return wrk.format("POST", "/r/" .. tokens[(i % #tokens) + 1], headers, body)
end
"#,
            token_file.display(),
            phone::LOAD_FIELDS,
        ),
    )?;
    Ok(script)
}

/// `wrk` with every connection waiting for its reply: the most the server takes (POST only).
fn closed_loop(script: &Path, port: u16, connections: u32, seconds: u32) -> anyhow::Result<String> {
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--timeout",
            "10s",
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(format!("http://127.0.0.1:{port}"))
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(format!(
        "closed loop, POST only (`wrk -t2 -c{connections} -d{seconds}s --latency`):\n{}",
        crate::measure::wrk_lines(
            &text,
            &[
                "Requests/sec",
                "50%",
                "75%",
                "90%",
                "99%",
                "Non-2xx",
                "Socket errors"
            ]
        ),
    ))
}
