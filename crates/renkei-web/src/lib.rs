//! Renkei's HTTP layer: the only place with HTTP.
//!
//! [`router`] builds the whole application; the binary serves it and tests drive it directly.

mod assets;
pub mod chrome;
pub mod error;
pub mod health;
pub mod i18n;
pub mod metrics;
pub mod pages;
mod security;

use axum::routing::get;
use axum::Router;
use renkei_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Time after which a request is answered 408/503 instead of running on.
    pub request_timeout: Duration,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            body_limit: 2 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Request counters and timings.
    pub metrics: Arc<metrics::Metrics>,
    /// Settings.
    pub config: Arc<WebConfig>,
}

impl AppState {
    /// State over a store with the given settings.
    pub fn new(store: Store, config: WebConfig) -> Self {
        Self {
            store,
            metrics: Arc::new(metrics::Metrics::default()),
            config: Arc::new(config),
        }
    }
}

/// The complete application router.
pub fn router(state: AppState) -> Router {
    let x_request_id = axum::http::HeaderName::from_static("x-request-id");
    Router::new()
        .route("/", get(pages::home::show))
        .route("/areas/{code}", get(pages::area::show))
        .route("/lang/{lang}", get(pages::lang::switch))
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(metrics::render))
        .route("/static/{file}", get(assets::serve))
        .route_layer(axum::middleware::from_fn(metrics::stamp_route))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::record,
        ))
        .layer(axum::middleware::from_fn(security::headers))
        .layer(RequestBodyLimitLayer::new(state.config.body_limit))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            state.config.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        .with_state(state)
}
