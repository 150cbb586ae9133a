//! How soon the safety check's dashboard learns of a new answer, measured on the dashboard's
//! own live endpoint: a hub coordinator signs in over HTTP (password, then the second factor
//! enrolled as a person would: the TOTP secret read from the setup page) and holds the check's
//! server-sent events stream (`GET /hub/safety/{id}/events`) open, exactly as the dashboard's
//! `live.js` does. Each probe answer is timed from the 303 that acknowledged it to the first
//! `update` event whose content includes it.
//!
//! An event's data is the check's fingerprint, `answers:last_answer_id:opened:reminders:
//! delivered:closed_at` (`Store::safety_fingerprint`). One writer task commits every answer, one
//! transaction after the other (`answer_writer.rs`), so answer ids grow in commit order: an
//! event whose last answer id is at least the probe's answer id was read after the probe's
//! commit, and shows it. The probe's id is read from the database after its 303 (off the
//! measured path: events are time-stamped as they arrive, matched afterwards).

use crate::load::{status_of, Chunked, Conn};
use crate::phone::{self, Jar};
use anyhow::{bail, Context};
use sqlx::Connection;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Signs `email` in with `password` as a browser would, enrolling the second factor when the
/// account has none yet (as a new coordinator's first login does); the cookies of the signed-in
/// session.
pub async fn sign_in(port: u16, email: &str, password: &str) -> anyhow::Result<Jar> {
    let mut conn = Conn::new(port);
    let mut jar = Jar::default();
    let page = conn
        .exchange(&phone::get_request("/login", &jar))
        .await
        .map_err(|e| anyhow::anyhow!("GET /login: {e}"))?;
    jar.absorb(&page);
    let csrf = phone::hidden_field(&page.text(), "csrf_token").context("the login form's token")?;
    let body = format!(
        "csrf_token={}&next=%2F&email={}&password={}",
        phone::form_encode(&csrf),
        phone::form_encode(email),
        phone::form_encode(password)
    );
    let posted = conn
        .exchange(&phone::post_request("/login", &jar, &body))
        .await
        .map_err(|e| anyhow::anyhow!("POST /login: {e}"))?;
    if posted.status != 303 {
        bail!("POST /login answered {} (expected 303)", posted.status);
    }
    jar.absorb(&posted);
    let next = posted.header("location").unwrap_or("/").to_owned();
    if next.starts_with("/login/two-factor") {
        bail!("{email} already has a second factor: the bench enrols a new account's");
    }
    // The first login of an account that must use a second factor: enrol one.
    let setup = conn
        .exchange(&phone::get_request("/account/two-factor", &jar))
        .await
        .map_err(|e| anyhow::anyhow!("GET /account/two-factor: {e}"))?;
    if setup.status != 200 {
        bail!(
            "GET /account/two-factor answered {} (after login to {next})",
            setup.status
        );
    }
    jar.absorb(&setup);
    let html = setup.text();
    let secret = html
        .split("data-testid=\"totp-secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .and_then(renkei_domain::totp::base32_decode)
        .context("the TOTP secret on the setup page")?;
    let csrf = phone::hidden_field(&html, "csrf_token").context("the setup form's token")?;
    let unix = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    let code = renkei_domain::totp::code_at(&secret, unix);
    let confirmed = conn
        .exchange(&phone::post_request(
            "/account/two-factor",
            &jar,
            &format!("csrf_token={}&code={code}", phone::form_encode(&csrf)),
        ))
        .await
        .map_err(|e| anyhow::anyhow!("POST /account/two-factor: {e}"))?;
    if confirmed.status != 200 {
        bail!(
            "POST /account/two-factor answered {} (expected the recovery codes)",
            confirmed.status
        );
    }
    jar.absorb(&confirmed);
    if !(jar.has("renkei_session") || jar.has("__Host-renkei_session")) {
        bail!("no session cookie after the second factor");
    }
    Ok(jar)
}

/// The `update` events of a check's stream, each with when it arrived, while it is held open.
pub struct Events {
    /// (arrival, data) of every `update` event so far.
    pub seen: Arc<Mutex<Vec<(Instant, String)>>>,
    task: tokio::task::JoinHandle<String>,
}

impl Events {
    /// Opens `GET /hub/safety/{check}/events` with the session in `jar`; fails unless the
    /// server answers 200 with an event stream.
    pub async fn open(port: u16, jar: &Jar, check: i64) -> anyhow::Result<Events> {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        let request = format!(
            "GET /hub/safety/{check}/events HTTP/1.1\r\nHost: localhost\r\nUser-Agent: renkei-bench\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n{}\r\n",
            jar.header_line()
        );
        stream.write_all(request.as_bytes()).await?;
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 8192];
        let header_end = loop {
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk))
                .await
                .context("the events stream's headers")??;
            if n == 0 {
                bail!("the events stream closed before its headers");
            }
            buffer.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
        let status = status_of(&head).map_err(anyhow::Error::msg)?;
        let lower = head.to_ascii_lowercase();
        if status != 200 || !lower.contains("text/event-stream") {
            bail!(
                "GET /hub/safety/{check}/events answered {}",
                head.lines().next().unwrap_or("")
            );
        }
        let chunked = lower.contains("transfer-encoding: chunked");
        let seen: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
        let sink = seen.clone();
        let rest = buffer[header_end..].to_vec();
        let task = tokio::spawn(async move {
            let mut decoder = Chunked::default();
            let mut text = Vec::new();
            let mut input = rest;
            loop {
                let done = if chunked {
                    match decoder.feed(&input, &mut text) {
                        Ok(done) => done,
                        Err(e) => return format!("the events stream broke: {e}"),
                    }
                } else {
                    text.extend_from_slice(&input);
                    false
                };
                let arrived = Instant::now();
                while let Some(at) = text.windows(2).position(|w| w == b"\n\n") {
                    let event: Vec<u8> = text.drain(..at + 2).collect();
                    if let Some(data) = update_data(&String::from_utf8_lossy(&event)) {
                        sink.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((arrived, data));
                    }
                }
                if done {
                    return "the server ended the events stream".to_owned();
                }
                let n = match stream.read(&mut chunk).await {
                    Ok(0) => return "the server closed the events stream".to_owned(),
                    Ok(n) => n,
                    Err(e) => return format!("reading the events stream: {e}"),
                };
                input = chunk[..n].to_vec();
            }
        });
        Ok(Events { seen, task })
    }

    /// Stops listening; why the stream had ended, if it had.
    pub fn close(self) -> Option<String> {
        let ended = self
            .task
            .is_finished()
            .then(|| "the events stream ended early".to_owned());
        self.task.abort();
        ended
    }

    /// A copy of the events so far.
    pub fn snapshot(&self) -> Vec<(Instant, String)> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The data of an `update` event (its `data:` lines joined), if the text is one.
fn update_data(event: &str) -> Option<String> {
    let mut kind = None;
    let mut data: Vec<&str> = Vec::new();
    for line in event.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            kind = Some(v.trim());
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    (kind == Some("update")).then(|| data.join("\n"))
}

/// The last answer id in a fingerprint (its second field).
pub fn last_answer_id(fingerprint: &str) -> Option<i64> {
    fingerprint.split(':').nth(1)?.parse().ok()
}

/// A probe answer: when its 303 arrived, and the id its answer got.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    /// When the 303 arrived.
    pub acknowledged: Instant,
    /// The stored answer's id.
    pub answer_id: i64,
}

/// Each probe's lag: from its acknowledgement to the first event that includes its answer
/// (zero when one had arrived already); `None` when no event included it.
pub fn lags(probes: &[Probe], events: &[(Instant, String)]) -> Vec<Option<Duration>> {
    probes
        .iter()
        .map(|p| {
            events
                .iter()
                .find(|(_, data)| last_answer_id(data).is_some_and(|id| id >= p.answer_id))
                .map(|(at, _)| at.saturating_duration_since(p.acknowledged))
        })
        .collect()
}

/// Reads the id of the answer a link's last answer got, straight from the database (the
/// server's SQLite file read-only, or the PostgreSQL database).
pub struct AnswerIds {
    db: sqlx::AnyConnection,
}

impl AnswerIds {
    /// Connects to `url` (`sqlite://…` or `postgres://…`).
    pub async fn connect(url: &str) -> anyhow::Result<AnswerIds> {
        sqlx::any::install_default_drivers();
        let db = sqlx::AnyConnection::connect(url)
            .await
            .with_context(|| format!("the database at {}", renkei_store::redact(url)))?;
        Ok(AnswerIds { db })
    }

    /// The id of the newest answer to the link `token`.
    pub async fn of(&mut self, token: &str) -> anyhow::Result<i64> {
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(s.id) FROM safety_answers s JOIN safety_targets t ON t.id = s.target_id
             WHERE t.token_hash = $1",
        )
        .bind(renkei_domain::audit::token_hash(token))
        .fetch_one(&mut self.db)
        .await?;
        id.context("no stored answer for a probe that was acknowledged")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_matched_by_the_answer_id_they_include() {
        assert_eq!(
            update_data("event: update\ndata: 12:340:5:0:0:\n\n").as_deref(),
            Some("12:340:5:0:0:")
        );
        assert_eq!(update_data(":\n\n"), None);
        assert_eq!(
            last_answer_id("12:340:5:0:0:2026-12-01T00:00:00Z"),
            Some(340)
        );
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let events = vec![
            (at(100), "1:10:0:0:0:".to_owned()),
            (at(900), "3:12:0:0:0:".to_owned()),
            (at(1900), "9:20:0:0:0:".to_owned()),
        ];
        let probes = [
            Probe {
                acknowledged: at(200),
                answer_id: 12,
            },
            Probe {
                acknowledged: at(200),
                answer_id: 10,
            },
            Probe {
                acknowledged: at(1000),
                answer_id: 21,
            },
        ];
        assert_eq!(
            lags(&probes, &events),
            [Some(Duration::from_millis(700)), Some(Duration::ZERO), None]
        );
    }
}
