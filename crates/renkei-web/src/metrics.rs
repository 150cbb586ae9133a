//! Request observation: one log line per request (route pattern, status, time, request id —
//! never the concrete path or query, which can carry personal data or tokens) and Prometheus
//! metrics at `/metrics`.

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;
use tracing::Instrument;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Series {
    count: u64,
    sum_seconds: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Counters and latency histograms per method, route and status.
#[derive(Debug)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
    started: Instant,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            series: Mutex::new(BTreeMap::new()),
            started: Instant::now(),
        }
    }
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let Ok(mut series) = self.series.lock() else {
            return;
        };
        let entry = series
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default();
        entry.count += 1;
        entry.sum_seconds += seconds;
        for (bucket, bound) in entry.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    /// The metrics in the Prometheus text exposition format.
    pub fn render(&self, pool: (u32, usize)) -> String {
        let mut out = String::new();
        let snapshot = self.series.lock().map(|s| s.clone()).unwrap_or_default();
        out.push_str("# HELP renkei_http_requests_total HTTP requests answered.\n# TYPE renkei_http_requests_total counter\n");
        for ((method, route, status), s) in &snapshot {
            let _ = writeln!(out, "renkei_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}", escape(route), s.count);
        }
        out.push_str("# HELP renkei_http_request_duration_seconds Time to answer HTTP requests.\n# TYPE renkei_http_request_duration_seconds histogram\n");
        for ((method, route, status), s) in &snapshot {
            let labels = format!(
                "method=\"{method}\",route=\"{}\",status=\"{status}\"",
                escape(route)
            );
            for (bound, n) in BUCKETS.iter().zip(s.buckets) {
                let _ = writeln!(
                    out,
                    "renkei_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "renkei_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "renkei_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum_seconds
            );
            let _ = writeln!(
                out,
                "renkei_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        let _ = writeln!(out, "# HELP renkei_db_pool_connections Open database connections.\n# TYPE renkei_db_pool_connections gauge\nrenkei_db_pool_connections {}", pool.0);
        let _ = writeln!(out, "# HELP renkei_db_pool_idle Idle database connections.\n# TYPE renkei_db_pool_idle gauge\nrenkei_db_pool_idle {}", pool.1);
        let _ = writeln!(out, "# HELP renkei_uptime_seconds Seconds since start.\n# TYPE renkei_uptime_seconds gauge\nrenkei_uptime_seconds {}", self.started.elapsed().as_secs());
        let _ = writeln!(out, "# HELP renkei_build_info Build information.\n# TYPE renkei_build_info gauge\nrenkei_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
        out
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The route pattern that served a response, stamped by [`stamp_route`].
#[derive(Debug, Clone)]
struct RoutePattern(String);

/// Route layer: remembers the matched route pattern on the response for [`record`].
pub async fn stamp_route(matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if let Some(path) = matched {
        response
            .extensions_mut()
            .insert(RoutePattern(path.as_str().to_owned()));
    }
    response
}

/// Outer layer: times the request, logs it and counts it.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let span = tracing::info_span!("request", %method, %request_id);
    let response = next.run(request).instrument(span.clone()).await;
    let route = response
        .extensions()
        .get::<RoutePattern>()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    state.metrics.observe(&method, &route, status, seconds);
    span.in_scope(|| tracing::info!(%route, status, ms = seconds * 1000.0, "answered"));
    response
}

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(state.store.pool_stats());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe("GET", "/", 200, 0.003);
        m.observe("GET", "/", 200, 0.2);
        let text = m.render((1, 1));
        assert!(
            text.contains(
                "renkei_http_requests_total{method=\"GET\",route=\"/\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("le=\"0.25\"} 2"));
        assert!(text.contains("le=\"+Inf\"} 2"));
    }
}
