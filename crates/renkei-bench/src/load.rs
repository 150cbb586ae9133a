//! An open-loop load generator: requests are due at a fixed rate, spread over many keep-alive
//! connections, and each one's latency counts from when it was *due*, not from when it could
//! be sent — so a server that stalls is charged for every request it held up (no coordinated
//! omission, the way `wrk2` measures). `wrk` measures the most a server can take with every
//! client waiting for its reply; this measures the latency at a given arrival rate, which is
//! what "5,000 answers/s with p99 under 100 ms" asks.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What an open-loop run saw.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Requests due in the run.
    pub due: u64,
    /// Replies with the expected status.
    pub ok: u64,
    /// Other replies, broken connections and timeouts.
    pub failed: u64,
    /// Latencies of the good replies, sorted.
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
        self.latencies[i]
    }

    /// Good replies per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Sends `rate` requests per second for `seconds` over `connections` connections to
/// `127.0.0.1:port`; request `i` is `request(i)` (a whole HTTP/1.1 request, keep-alive) and
/// counts as good when its status line starts with `expect` (say `"HTTP/1.1 303"`).
pub async fn open_loop(
    port: u16,
    connections: u32,
    rate: u32,
    seconds: u32,
    expect: &'static str,
    request: Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync>,
) -> LoadReport {
    let total = u64::from(rate) * u64::from(seconds);
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let start = Instant::now() + Duration::from_millis(500);
    let mut tasks = Vec::new();
    for c in 0..u64::from(connections) {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failed = 0u64;
            let mut stream: Option<TcpStream> = None;
            let mut buffer = Vec::with_capacity(4096);
            let mut i = c;
            while i < total {
                let due = start + interval.mul_f64(i as f64);
                tokio::time::sleep_until(due.into()).await;
                let bytes = request(i);
                let status = tokio::time::timeout(
                    Duration::from_secs(10),
                    exchange(&mut stream, port, &bytes, &mut buffer),
                )
                .await
                .ok()
                .flatten();
                match status {
                    Some(line) if line.starts_with(expect) => latencies.push(due.elapsed()),
                    _ => {
                        failed += 1;
                        stream = None;
                    }
                }
                i += u64::from(connections);
            }
            (latencies, failed)
        }));
    }
    let mut latencies = Vec::new();
    let mut failed = 0;
    for t in tasks {
        if let Ok((l, f)) = t.await {
            latencies.extend(l);
            failed += f;
        }
    }
    let elapsed = start.elapsed();
    latencies.sort();
    LoadReport {
        due: total,
        ok: latencies.len() as u64,
        failed,
        latencies,
        elapsed,
    }
}

/// Sends one request on the connection (opening it if needed) and reads its reply's status line.
async fn exchange(
    stream: &mut Option<TcpStream>,
    port: u16,
    request: &[u8],
    buffer: &mut Vec<u8>,
) -> Option<String> {
    if stream.is_none() {
        let s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        s.set_nodelay(true).ok()?;
        *stream = Some(s);
    }
    let s = stream.as_mut()?;
    s.write_all(request).await.ok()?;
    read_reply(s, buffer).await
}

/// Reads one HTTP/1.1 reply (headers, then `Content-Length` bytes); returns its status line.
async fn read_reply(s: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<String> {
    buffer.clear();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0);
    while buffer.len() < header_end + length {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    head.lines().next().map(str::to_owned)
}
