//! `surge`: a safety check for every institution of the national-scale directory (300,000
//! targets), answered by `wrk` with 1,000 concurrent connections from a second process — how
//! many answers per second are stored durably, at what latency, and how soon a new answer is
//! visible to the dashboard's query while the surge goes on. SQLite by default; with
//! `--postgres` the same against PostgreSQL.

use crate::measure::{free_port, get};
use anyhow::{bail, Context};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The CSRF value the load sends as cookie and header (any 64 hex characters do).
const CSRF: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

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

/// Posts one quick answer; the time until the 303 came back, if it did.
fn answer_once(port: u16, token: &str) -> Option<Duration> {
    let body = "people=safe&building=intact&power=grid&water=available&can_accept=3";
    let request = format!(
        "POST /r/{token} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nCookie: renkei_csrf={CSRF}\r\nX-CSRF-Token: {CSRF}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let started = Instant::now();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.starts_with("HTTP/1.1 303").then(|| started.elapsed())
}

/// Measures; returns a Markdown fragment.
pub async fn measure(
    data_dir: &Path,
    renkei: &Path,
    seconds: u32,
    connections: u32,
    rate: Option<u32>,
    database_url: Option<&str>,
) -> anyhow::Result<String> {
    if rate.is_none() && Command::new("wrk").arg("--version").output().is_err() {
        bail!("wrk not found: apt-get install wrk");
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
    let out = create.output()?;
    if !out.status.success() {
        bail!(
            "safety-check create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let created_in = t.elapsed();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let id: String = said
        .split('#')
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .context("the check's id")?
        .to_owned();
    let links = renkei_cmd(renkei, &dir, database_url)
        .args(["safety-check", "export", &id, "--links"])
        .output()?;
    let tokens: Vec<String> = String::from_utf8_lossy(&links.stdout)
        .lines()
        .filter_map(|l| l.rsplit("/r/").next().filter(|t| t.len() == 32))
        .map(str::to_owned)
        .collect();
    if tokens.len() < 1000 {
        bail!("only {} targets", tokens.len());
    }
    // The last 100 tokens are kept for the visibility probes.
    let (load_tokens, probes) = tokens.split_at(tokens.len() - 100);
    let token_file = work.path().join("tokens.txt");
    std::fs::write(&token_file, load_tokens.join("\n"))?;
    let script = work.path().join("surge.lua");
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
local body = "people=safe&building=intact&power=generator&fuel_hours=24&water=limited&can_accept=2"
request = function()
  i = i + 2
  return wrk.format("POST", "/r/" .. tokens[(i % #tokens) + 1], headers, body)
end
"#,
            token_file.display()
        ),
    )?;

    let port = free_port();
    let mut server = renkei_cmd(renkei, &dir, database_url)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
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
        // Probes during the surge: one answer every 200 ms on a token of its own, then the
        // time until the dashboard's query (the target's stored state) shows it.
        let probe_tokens = probes.to_vec();
        let probe = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(2));
            let mut seen = Vec::new();
            for token in probe_tokens.iter().take(40) {
                if answer_once(port, token).is_some() {
                    let t = Instant::now();
                    // The done page reads the stored answer, as the dashboard does.
                    loop {
                        let page = get(port, &format!("/r/{token}/done")).unwrap_or_default();
                        if page.contains("受入可能な患者数") {
                            seen.push(t.elapsed());
                            break;
                        }
                        if t.elapsed() > Duration::from_secs(10) {
                            seen.push(t.elapsed());
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            seen
        });
        let load = match rate {
            None => closed_loop(&script, port, connections, seconds)?,
            Some(rate) => {
                let tokens: Arc<Vec<String>> = Arc::new(load_tokens.to_vec());
                let request = Arc::new(move |i: u64| {
                    let token = &tokens[(i as usize) % tokens.len()];
                    let body = "people=safe&building=intact&power=generator&fuel_hours=24&water=limited&can_accept=2";
                    format!(
                        "POST /r/{token} HTTP/1.1\r\nHost: localhost\r\nCookie: renkei_csrf={CSRF}\r\nX-CSRF-Token: {CSRF}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .into_bytes()
                });
                let r = crate::load::open_loop(port, connections, rate, seconds, "HTTP/1.1 303", request).await;
                let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
                format!(
                    "open loop (`--rate {rate}`): {} answers due over {seconds} s on {connections} connections; \
                     {} acknowledged ({:.0}/s), {} failed; latency from the time each was due: \
                     p50 {}, p90 {}, p99 {}, p99.9 {}, max {}",
                    r.due,
                    r.ok,
                    r.rate(),
                    r.failed,
                    ms(r.quantile(0.5)),
                    ms(r.quantile(0.9)),
                    ms(r.quantile(0.99)),
                    ms(r.quantile(0.999)),
                    ms(r.quantile(1.0)),
                )
            }
        };
        let mut seen = probe.join().unwrap_or_default();
        seen.sort();
        let status = renkei_cmd(renkei, &dir, database_url)
            .args(["safety-check", "status", &id])
            .output()?;
        let stored = String::from_utf8_lossy(&status.stdout)
            .lines()
            .find(|l| l.starts_with("回答 "))
            .unwrap_or("")
            .to_owned();
        let engine = if database_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite (synchronous=FULL)"
        };
        anyhow::Ok(format!(
            "### Safety-check surge on {engine}\n\n{} targets (check created with every link in \
             {:.1} s). One quick answer per request to a different target's link \
             (`POST /r/{{token}}`, each acknowledged with a 303 only after its commit), server and \
             load on this 2-core machine:\n\n```\n{load}\n```\n\n\
             Stored afterwards (`renkei safety-check status`): {stored}. A new answer was \
             visible to the dashboard's query {} after its acknowledgement (median of {} probes \
             during the surge; max {}); the dashboard polls once a second, so it shows within \
             that plus one second.\n",
            tokens.len(),
            created_in.as_secs_f64(),
            seen.get(seen.len() / 2)
                .map(|d| format!("{:.0} ms", d.as_secs_f64() * 1000.0))
                .unwrap_or_else(|| "-".into()),
            seen.len(),
            seen.last()
                .map(|d| format!("{:.0} ms", d.as_secs_f64() * 1000.0))
                .unwrap_or_else(|| "-".into()),
        ))
    }
    .await;
    let _ = server.kill();
    let _ = server.wait();
    result
}

/// `wrk` with every connection waiting for its reply: the most the server takes.
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
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |prefix: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .map(|l| l.trim().to_owned())
            .unwrap_or_default()
    };
    Ok(format!(
        "closed loop (`wrk -t2 -c{connections} -d{seconds}s --latency`):\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
        field("Requests/sec"),
        field("50%"),
        field("75%"),
        field("90%"),
        field("99%"),
        field("Non-2xx"),
        field("Socket errors"),
    ))
}
