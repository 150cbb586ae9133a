//! A load generator of its own, in two paces:
//!
//! - **open loop** ([`Pace::Open`]): jobs are due at a fixed rate, spread over many keep-alive
//!   connections, and each one's latency counts from when it was *due*, not from when it could
//!   be sent — so a server that stalls is charged for every job it held up (no coordinated
//!   omission, the way `wrk2` measures). This is what "5,000 answers/s with p99 under 100 ms"
//!   asks.
//! - **closed loop** ([`Pace::Closed`]): every connection starts its next job as soon as the
//!   last one finished, which measures the most the server takes (as `wrk` does); latency then
//!   counts from the job's start, and with every client waiting it is clients ÷ throughput.
//!
//! A job is one or more HTTP/1.1 exchanges on one connection ([`Conn`]): a single request (the
//! near API, the old POST-only surge) or a phone's whole answer (form, post, redirect; see
//! `surge.rs`). It counts as done only when every exchange returned what it expected; anything
//! else is a failure, counted by its reason.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What a run saw.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Jobs due in the run (open loop), or started (closed loop).
    pub due: u64,
    /// Jobs that completed with every expected status.
    pub ok: u64,
    /// Jobs that did not: another status, a broken connection, a timeout.
    pub failed: u64,
    /// Why jobs failed, with how often (the first failing step's reason).
    pub failures: BTreeMap<String, u64>,
    /// Latencies of the completed jobs, sorted.
    pub latencies: Vec<Duration>,
    /// From the first due time to the last reply.
    pub elapsed: Duration,
}

impl LoadReport {
    /// The `q` quantile (0–1) of the latencies.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * q).round() as usize;
        self.latencies[i.min(self.latencies.len() - 1)]
    }

    /// Completed jobs per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// `p50 …, p90 …, p99 …, p99.9 …, max …` in milliseconds.
    pub fn quantiles_text(&self) -> String {
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        format!(
            "p50 {}, p90 {}, p99 {}, p99.9 {}, max {}",
            ms(self.quantile(0.5)),
            ms(self.quantile(0.9)),
            ms(self.quantile(0.99)),
            ms(self.quantile(0.999)),
            ms(self.quantile(1.0)),
        )
    }

    /// The failures by reason, most frequent first (`none` when there were none).
    pub fn failures_text(&self) -> String {
        if self.failures.is_empty() {
            return "none".to_owned();
        }
        let mut by_count: Vec<(&String, &u64)> = self.failures.iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        by_count
            .iter()
            .map(|(reason, n)| format!("{n} × {reason}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// How jobs are paced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// This many jobs per second are due, whatever the server does.
    Open {
        /// Jobs per second.
        rate: u32,
    },
    /// Each connection starts its next job when the last one finished.
    Closed,
}

/// One job's work: given its number and a connection, the connection back and the outcome
/// (`Err` holds the reason of a failure).
pub type JobFuture = Pin<Box<dyn Future<Output = (Conn, Result<(), String>)> + Send>>;

/// A job: its number and a connection in, [`JobFuture`] out.
pub type Job = Arc<dyn Fn(u64, Conn) -> JobFuture + Send + Sync>;

/// A job of one request, `request(i)` (a whole HTTP/1.1 request, keep-alive), that is done when
/// the reply's status is `expect`.
pub fn single(request: Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync>, expect: u16) -> Job {
    Arc::new(move |i: u64, mut conn: Conn| -> JobFuture {
        let bytes = request(i);
        Box::pin(async move {
            let outcome = match conn.exchange(&bytes).await {
                Ok(reply) if reply.status == expect => Ok(()),
                Ok(reply) => Err(format!("status {} (expected {expect})", reply.status)),
                Err(e) => Err(e),
            };
            (conn, outcome)
        })
    })
}

/// Runs `job` over `connections` connections to `127.0.0.1:port` for `seconds` at `pace`; a job
/// still running after `timeout` is a failure (and its connection is replaced).
pub async fn run(
    port: u16,
    connections: u32,
    pace: Pace,
    seconds: u32,
    job: Job,
    timeout: Duration,
) -> LoadReport {
    let start = Instant::now() + Duration::from_millis(500);
    let end = start + Duration::from_secs(u64::from(seconds));
    let (total, interval) = match pace {
        Pace::Open { rate } => (
            u64::from(rate) * u64::from(seconds),
            Duration::from_secs_f64(1.0 / f64::from(rate.max(1))),
        ),
        Pace::Closed => (u64::MAX, Duration::ZERO),
    };
    let mut tasks = Vec::new();
    for c in 0..u64::from(connections) {
        let job = job.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures: BTreeMap<String, u64> = BTreeMap::new();
            let mut started = 0u64;
            let mut conn = Conn::new(port);
            let mut i = c;
            tokio::time::sleep_until(start.into()).await;
            while i < total {
                let due = match pace {
                    Pace::Open { .. } => {
                        let due = start + interval.mul_f64(i as f64);
                        tokio::time::sleep_until(due.into()).await;
                        due
                    }
                    Pace::Closed => {
                        let now = Instant::now();
                        if now >= end {
                            break;
                        }
                        now
                    }
                };
                started += 1;
                match tokio::time::timeout(timeout, job(i, conn)).await {
                    Ok((back, Ok(()))) => {
                        conn = back;
                        latencies.push(due.elapsed());
                    }
                    Ok((mut back, Err(reason))) => {
                        // A failed exchange leaves the connection in an unknown state.
                        back.close();
                        conn = back;
                        *failures.entry(reason).or_default() += 1;
                    }
                    Err(_) => {
                        conn = Conn::new(port);
                        *failures
                            .entry(format!("no answer within {} s", timeout.as_secs()))
                            .or_default() += 1;
                    }
                }
                i += u64::from(connections);
            }
            (latencies, failures, started)
        }));
    }
    let mut latencies = Vec::new();
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    let mut started = 0;
    for t in tasks {
        match t.await {
            Ok((l, f, s)) => {
                latencies.extend(l);
                for (reason, n) in f {
                    *failures.entry(reason).or_default() += n;
                }
                started += s;
            }
            Err(e) => *failures.entry(format!("load task died: {e}")).or_default() += 1,
        }
    }
    let elapsed = start.elapsed();
    latencies.sort();
    let failed = failures.values().sum();
    LoadReport {
        due: match pace {
            Pace::Open { .. } => total,
            Pace::Closed => started,
        },
        ok: latencies.len() as u64,
        failed,
        failures,
        latencies,
        elapsed,
    }
}

/// One HTTP/1.1 reply, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The status line and headers, as text.
    pub head: String,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl Reply {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers(name).into_iter().next()
    }

    /// Every value of a header, in order.
    pub fn headers(&self, name: &str) -> Vec<&str> {
        self.head
            .lines()
            .skip(1)
            .filter_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
            })
            .collect()
    }

    /// The body as text (lossy).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }
}

/// A keep-alive connection to the server, opened on first use and again after a failure.
#[derive(Debug)]
pub struct Conn {
    port: u16,
    stream: Option<TcpStream>,
    buffer: Vec<u8>,
}

impl Conn {
    /// A connection to `127.0.0.1:port` (not opened yet).
    pub fn new(port: u16) -> Self {
        Self {
            port,
            stream: None,
            buffer: Vec::with_capacity(16 * 1024),
        }
    }

    /// Drops the TCP connection; the next exchange opens a new one.
    pub fn close(&mut self) {
        self.stream = None;
    }

    /// Sends one request (opening the connection if needed) and reads its whole reply. A
    /// kept-alive connection the server closed while it was idle is replaced and the request
    /// sent once more, as browsers do, only when not a byte of a reply had come back.
    pub async fn exchange(&mut self, request: &[u8]) -> Result<Reply, String> {
        let reused = self.stream.is_some();
        let mut result = self.try_exchange(request).await;
        if result.is_err() && reused && self.buffer.is_empty() {
            self.stream = None;
            result = self.try_exchange(request).await;
        }
        match &result {
            Ok(reply)
                if reply
                    .header("connection")
                    .is_some_and(|v| v.eq_ignore_ascii_case("close")) =>
            {
                self.stream = None
            }
            Ok(_) => {}
            Err(_) => self.stream = None,
        }
        result
    }

    async fn try_exchange(&mut self, request: &[u8]) -> Result<Reply, String> {
        self.buffer.clear();
        if self.stream.is_none() {
            let s = TcpStream::connect(("127.0.0.1", self.port))
                .await
                .map_err(|e| format!("cannot connect: {}", e.kind()))?;
            s.set_nodelay(true)
                .map_err(|e| format!("cannot set TCP_NODELAY: {e}"))?;
            self.stream = Some(s);
        }
        let s = self
            .stream
            .as_mut()
            .ok_or_else(|| "no connection".to_owned())?;
        s.write_all(request)
            .await
            .map_err(|e| format!("cannot send: {}", e.kind()))?;
        read_reply(s, &mut self.buffer).await
    }
}

/// Reads one HTTP/1.1 reply: headers, then `Content-Length` bytes or a chunked body.
async fn read_reply(s: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<Reply, String> {
    buffer.clear();
    let mut chunk = [0u8; 16 * 1024];
    let header_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = s
            .read(&mut chunk)
            .await
            .map_err(|e| format!("cannot read: {}", e.kind()))?;
        if n == 0 {
            return Err("connection closed before a reply".to_owned());
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let status = status_of(&head)?;
    let reply = |body| Reply {
        status,
        head: head.clone(),
        body,
    };
    let chunked = head.lines().skip(1).any(|l| {
        l.split_once(':').is_some_and(|(n, v)| {
            n.trim().eq_ignore_ascii_case("transfer-encoding")
                && v.to_ascii_lowercase().contains("chunked")
        })
    });
    if chunked {
        let mut decoder = Chunked::default();
        let mut body = Vec::new();
        let mut done = decoder.feed(&buffer[header_end..], &mut body)?;
        while !done {
            let n = s
                .read(&mut chunk)
                .await
                .map_err(|e| format!("cannot read: {}", e.kind()))?;
            if n == 0 {
                return Err("connection closed inside a chunked body".to_owned());
            }
            done = decoder.feed(&chunk[..n], &mut body)?;
        }
        return Ok(reply(body));
    }
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0);
    while buffer.len() < header_end + length {
        let n = s
            .read(&mut chunk)
            .await
            .map_err(|e| format!("cannot read: {}", e.kind()))?;
        if n == 0 {
            return Err("connection closed inside a body".to_owned());
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    Ok(reply(buffer[header_end..header_end + length].to_vec()))
}

/// The status code of a reply's head (`HTTP/1.1 303 See Other` → 303).
pub fn status_of(head: &str) -> Result<u16, String> {
    head.lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| "not an HTTP reply".to_owned())
}

/// A decoder of `Transfer-Encoding: chunked`, fed bytes as they arrive (a whole reply's body,
/// or an endless server-sent events stream).
#[derive(Debug, Default)]
pub struct Chunked {
    pending: Vec<u8>,
    state: ChunkState,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Waiting for a size line.
    #[default]
    Size,
    /// This many bytes of data are still to come.
    Data(usize),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// The trailer lines after the last (empty) chunk.
    Trailer,
    /// The body is complete.
    Done,
}

impl Chunked {
    /// Decodes what `input` completes into `out`; `true` once the last chunk has been read.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<bool, String> {
        self.pending.extend_from_slice(input);
        let mut at = 0;
        loop {
            let rest = &self.pending[at..];
            match self.state {
                ChunkState::Done => break,
                ChunkState::Size | ChunkState::Trailer => {
                    let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
                        break;
                    };
                    let line = String::from_utf8_lossy(&rest[..end]).into_owned();
                    at += end + 2;
                    if self.state == ChunkState::Trailer {
                        if line.is_empty() {
                            self.state = ChunkState::Done;
                        }
                        continue;
                    }
                    let size_text = line.split(';').next().unwrap_or("").trim();
                    let size = usize::from_str_radix(size_text, 16)
                        .map_err(|_| format!("bad chunk size line {line:?}"))?;
                    self.state = if size == 0 {
                        ChunkState::Trailer
                    } else {
                        ChunkState::Data(size)
                    };
                }
                ChunkState::Data(left) => {
                    if rest.is_empty() {
                        break;
                    }
                    let take = left.min(rest.len());
                    out.extend_from_slice(&rest[..take]);
                    at += take;
                    self.state = if take == left {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left - take)
                    };
                }
                ChunkState::DataEnd => {
                    if rest.len() < 2 {
                        break;
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err("no CRLF after a chunk".to_owned());
                    }
                    at += 2;
                    self.state = ChunkState::Size;
                }
            }
        }
        self.pending.drain(..at);
        Ok(self.state == ChunkState::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_decode_in_any_split() {
        let wire = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n";
        for split in 0..wire.len() {
            let mut decoder = Chunked::default();
            let mut out = Vec::new();
            let first = decoder.feed(&wire[..split], &mut out).unwrap();
            let done = decoder.feed(&wire[split..], &mut out).unwrap();
            assert!(!first || split == wire.len());
            assert!(done, "split at {split}");
            assert_eq!(out, b"hello, world", "split at {split}");
        }
        let mut decoder = Chunked::default();
        assert!(decoder.feed(b"zz\r\n", &mut Vec::new()).is_err());
    }

    #[test]
    fn replies_give_their_headers() {
        let reply = Reply {
            status: 303,
            head: "HTTP/1.1 303 See Other\r\nLocation: /r/x/details?saved=1\r\nset-cookie: a=1; Path=/\r\nSet-Cookie: b=2\r\n\r\n".to_owned(),
            body: Vec::new(),
        };
        assert_eq!(reply.header("location"), Some("/r/x/details?saved=1"));
        assert_eq!(reply.headers("Set-Cookie"), ["a=1; Path=/", "b=2"]);
        assert_eq!(status_of(&reply.head), Ok(303));
        assert!(status_of("garbage").is_err());
    }

    #[test]
    fn quantiles_and_failures_read_as_reported() {
        let report = LoadReport {
            due: 4,
            ok: 3,
            failed: 1,
            failures: [("status 503 (expected 303)".to_owned(), 1)].into(),
            latencies: vec![
                Duration::from_millis(1),
                Duration::from_millis(2),
                Duration::from_millis(9),
            ],
            elapsed: Duration::from_secs(1),
        };
        assert_eq!(report.quantile(0.5), Duration::from_millis(2));
        assert_eq!(report.quantile(1.0), Duration::from_millis(9));
        assert_eq!(report.failures_text(), "1 × status 503 (expected 303)");
        assert!((report.rate() - 3.0).abs() < 1e-9);
    }
}
