//! A bound on the public searches that read the database — the directory page and its exports,
//! and the FHIR API — so that anonymous visitors cannot take every connection of the pool: at
//! most [`WebConfig::public_search_slots`](crate::WebConfig) run at once, the next wait up to
//! `public_search_wait` for a slot, and beyond that the answer is a prompt 503 with
//! `Retry-After` (never a pool timeout after ten seconds). Signed-in work, the index's refresh
//! and the JSON near API (answered from memory) are not counted.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// The slots and how long a search waits for one.
#[derive(Debug, Clone)]
pub struct SearchGate {
    slots: Arc<Semaphore>,
    wait: Duration,
}

impl SearchGate {
    /// A gate of `slots` (at least one) with `wait` for a slot.
    pub fn new(slots: usize, wait: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots.max(1))),
            wait,
        }
    }
}

/// Whether a path is a public search that reads the database.
pub fn is_public_search(path: &str) -> bool {
    path == "/directory" || path.starts_with("/directory.") || path.starts_with("/fhir/")
}

/// The middleware: holds a slot while a public search runs; 503 with `Retry-After` when none
/// frees up in time.
pub async fn gate(State(gate): State<SearchGate>, request: Request, next: Next) -> Response {
    if !is_public_search(request.uri().path()) {
        return next.run(request).await;
    }
    match tokio::time::timeout(gate.wait, gate.slots.clone().acquire_owned()).await {
        Ok(Ok(_slot)) => next.run(request).await,
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            [
                (header::RETRY_AFTER, "2"),
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            "検索が混み合っています。数秒後にもう一度お試しください。\n\
             Too many searches at once; please try again in a few seconds.\n",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_database_searches_are_gated() {
        for path in [
            "/directory",
            "/directory.csv",
            "/directory.geojson",
            "/fhir/Location",
        ] {
            assert!(is_public_search(path), "{path}");
        }
        for path in [
            "/",
            "/api/v1/directory/near",
            "/directory-help",
            "/hub",
            "/healthz",
        ] {
            assert!(!is_public_search(path), "{path}");
        }
    }
}
