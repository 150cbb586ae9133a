//! Renkei's HTTP layer: the only place with HTTP.
//!
//! [`router`] builds the whole application; the binary serves it and tests drive it directly.

pub mod answer_writer;
pub mod api;
mod assets;
pub mod auth;
pub mod body_progress;
pub mod cap;
pub mod chart;
pub mod chrome;
pub mod clock;
pub mod directory_index;
pub mod error;
pub mod export;
pub mod fhir;
pub mod health;
pub mod i18n;
pub mod input;
pub mod ledger_report;
pub mod mail;
pub mod map;
pub mod methods;
pub mod metrics;
pub mod notifications;
pub mod openapi;
pub mod overview_cache;
pub mod pages;
pub mod record_cache;
pub mod routes;
pub mod search_gate;
mod security;

use auth::policy::TwoFactorPolicy;
use axum::Router;
use clock::{Clock, SystemClock};
use renkei_store::Store;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Largest upload (directory import), in bytes.
    pub upload_limit: usize,
    /// Time after which a request is answered 503 instead of running on.
    pub request_timeout: Duration,
    /// The same for an upload (a directory file of up to `upload_limit` over a slow line).
    pub upload_timeout: Duration,
    /// Mark cookies `Secure` (and use `__Host-` names): on whenever Renkei is reached over TLS.
    pub secure_cookies: bool,
    /// A session ends after this long without a request.
    pub session_idle: chrono::Duration,
    /// A session ends this long after login, however active.
    pub session_lifetime: chrono::Duration,
    /// Name shown in authenticator apps.
    pub totp_issuer: String,
    /// The address people use to reach Renkei, for links in mail (no trailing slash).
    pub public_url: String,
    /// The canonical base of the FHIR identifier and code systems (no trailing slash): stable
    /// whatever address the server is reached at.
    pub fhir_canonical: String,
    /// How long an invitation link stays valid.
    pub invitation_lifetime: chrono::Duration,
    /// How long a password-reset link stays valid.
    pub reset_lifetime: chrono::Duration,
    /// Background tiles of the maps.
    pub map: MapSettings,
    /// Reverse proxies whose `X-Forwarded-For`/`Forwarded` headers name the real client
    /// (`--trusted-proxy`); from anyone else those headers are ignored.
    pub trusted_proxies: Vec<auth::client::Cidr>,
    /// How long a request's body may pause between two pieces before the request is refused
    /// (clients that send headers and then trickle the body must not hold connections).
    pub body_progress_timeout: Duration,
    /// Public searches that read the database (directory page and exports, FHIR) running at
    /// once; the pool keeps the rest of its connections for everything else.
    pub public_search_slots: usize,
    /// How long a public search waits for a slot before the answer is 503 with Retry-After.
    pub public_search_wait: Duration,
}

/// Where the maps' background tiles come from. The area outlines and markers never depend on
/// them, so the maps still work without internet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapSettings {
    /// Tile URL template with `{z}`, `{x}` and `{y}`; empty for no tiles at all.
    pub tile_url: String,
    /// Credit shown on the map, as the tile provider requires.
    pub attribution: String,
}

impl Default for MapSettings {
    fn default() -> Self {
        Self {
            tile_url: "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png".to_owned(),
            attribution: "地理院タイル".to_owned(),
        }
    }
}

impl MapSettings {
    /// The origin (`https://host[:port]`) tiles are loaded from, for the Content-Security-Policy;
    /// `None` when there are no tiles or the URL is not http(s).
    pub fn tile_origin(&self) -> Option<String> {
        let rest = self
            .tile_url
            .strip_prefix("https://")
            .map(|r| ("https", r))
            .or_else(|| self.tile_url.strip_prefix("http://").map(|r| ("http", r)))?;
        let host = rest.1.split('/').next().filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '{' | '}'))
        })?;
        Some(format!("{}://{host}", rest.0))
    }
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            body_limit: 2 * 1024 * 1024,
            upload_limit: 101 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(10 * 60),
            secure_cookies: false,
            session_idle: chrono::Duration::minutes(30),
            session_lifetime: chrono::Duration::hours(12),
            totp_issuer: "Renkei 連携".to_owned(),
            public_url: "http://127.0.0.1:8080".to_owned(),
            fhir_canonical: DEFAULT_FHIR_CANONICAL.to_owned(),
            invitation_lifetime: chrono::Duration::days(7),
            reset_lifetime: chrono::Duration::hours(1),
            map: MapSettings::default(),
            trusted_proxies: Vec::new(),
            body_progress_timeout: Duration::from_secs(10),
            // SQLite's pool has 8 connections, PostgreSQL's 16: two stay free at least.
            public_search_slots: 6,
            public_search_wait: Duration::from_secs(2),
        }
    }
}

/// Shared state of every handler: one pointer, so the many clones a request makes (every
/// middleware and extractor takes the state) cost one reference count, not one per part.
#[derive(Debug, Clone)]
pub struct AppState(Arc<SharedState>);

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// What [`AppState`] holds.
#[derive(Debug, Clone)]
pub struct SharedState {
    /// The database.
    pub store: Store,
    /// Request counters and timings.
    pub metrics: Arc<metrics::Metrics>,
    /// Settings.
    pub config: Arc<WebConfig>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Outgoing mail.
    pub mailer: Arc<mail::Mailer>,
    /// The two-factor policy, loaded at start and replaced when the administrator changes it.
    policy: Arc<RwLock<TwoFactorPolicy>>,
    /// The directory's spatial index (near searches without the database).
    pub directory_index: Arc<directory_index::DirectoryIndex>,
    /// Safety-check answers, committed in groups.
    pub answers: Arc<answer_writer::AnswerWriter>,
    /// The region overview, counted at most every few seconds (public pages show it).
    pub overview: Arc<overview_cache::OverviewCache>,
}

impl AppState {
    /// State over a store with the given settings, the system clock and the default policy.
    pub fn new(store: Store, config: WebConfig) -> Self {
        Self(Arc::new(SharedState {
            store,
            metrics: Arc::new(metrics::Metrics::default()),
            config: Arc::new(config),
            clock: Arc::new(SystemClock),
            mailer: Arc::new(mail::Mailer::new(None)),
            policy: Arc::new(RwLock::new(TwoFactorPolicy::default())),
            directory_index: Arc::new(directory_index::DirectoryIndex::default()),
            answers: Arc::new(answer_writer::AnswerWriter::default()),
            overview: Arc::new(overview_cache::OverviewCache::default()),
        }))
    }

    /// After this server changed entries: drops the kept region overview and brings the spatial
    /// index up to date if it is in use (a failure is logged; the periodic refresh catches up).
    pub async fn directory_changed(&self) {
        self.overview.invalidate();
        if self.directory_index.is_loaded() {
            if let Err(e) = self.directory_index.refresh(&self.store).await {
                tracing::warn!(error = %e, "refreshing the directory index failed");
            }
        }
    }

    /// The same state with another clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        Arc::make_mut(&mut self.0).clock = clock;
        self
    }

    /// The same state with another mailer.
    pub fn with_mailer(mut self, mailer: mail::Mailer) -> Self {
        Arc::make_mut(&mut self.0).mailer = Arc::new(mailer);
        self
    }

    /// Loads the two-factor policy from the database.
    pub async fn load_policy(&self) -> Result<(), renkei_store::StoreError> {
        let policy = TwoFactorPolicy::load(&self.store).await?;
        self.set_policy(policy);
        Ok(())
    }

    /// The current two-factor policy.
    pub fn two_factor_policy(&self) -> TwoFactorPolicy {
        self.policy.read().map(|p| p.clone()).unwrap_or_default()
    }

    /// Replaces the policy in memory (the caller stores it).
    pub fn set_policy(&self, policy: TwoFactorPolicy) {
        if let Ok(mut current) = self.policy.write() {
            *current = policy;
        }
    }
}

/// The canonical base of the FHIR identifier and code systems when none is configured: a name
/// under the reserved `.example` domain, stable across deployments and addresses; a deployment
/// that publishes to integrators sets its own once (`--fhir-canonical`).
pub const DEFAULT_FHIR_CANONICAL: &str = "https://renkei.example/fhir";

/// The complete application router.
pub fn router(state: AppState) -> Router {
    let x_request_id = axum::http::HeaderName::from_static("x-request-id");
    let (routes, rules) = routes::build(&state);
    routes
        .route_layer(axum::middleware::from_fn(metrics::stamp_route))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn(error::friendly_rejections))
        // Inside the session layer: it needs the viewer.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            notifications::count,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::session::authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            methods::Allowed::of(&rules),
            methods::refuse_other_methods,
        ))
        // Outside the method check: a CORS preflight is an OPTIONS no route takes.
        .layer(axum::middleware::from_fn(fhir::negotiate))
        .layer(axum::middleware::from_fn(fhir::cors))
        // Outside the session layer, whose lookup reads the database too.
        .layer(axum::middleware::from_fn_with_state(
            search_gate::SearchGate::new(
                state.config.public_search_slots,
                state.config.public_search_wait,
            ),
            search_gate::gate,
        ))
        .layer(axum::middleware::from_fn(input::refuse_nul_in_url))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::record,
        ))
        .layer(axum::middleware::from_fn_with_state(
            security::Policy::new(&state.config.map),
            security::headers,
        ))
        .layer(axum::Extension(std::sync::Arc::new(
            state.config.map.clone(),
        )))
        .layer(axum::middleware::from_fn_with_state(
            state.config.body_progress_timeout,
            body_progress::watch,
        ))
        // Uploads may be larger; the session layer holds every other route to `body_limit`.
        .layer(RequestBodyLimitLayer::new(
            state.config.body_limit.max(state.config.upload_limit),
        ))
        .layer(axum::middleware::from_fn_with_state(
            (state.config.request_timeout, state.config.upload_timeout),
            time_limit,
        ))
        // Public data (FHIR, the JSON API, exports of the directory) compressed as the client
        // accepts (br, gzip); pages are not, so no secret of a page can leak through its
        // compressed length (BREACH).
        .layer(CompressionLayer::new().compress_when(PublicData))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        .with_state(state)
}

/// Which answers are compressed: public data of some size — FHIR (JSON and XML), the JSON API,
/// GeoJSON and CSV — never HTML pages (they carry CSRF tokens next to reflected input) nor
/// event streams (which must reach the client as they are written).
#[derive(Debug, Clone, Copy)]
struct PublicData;

impl Predicate for PublicData {
    fn should_compress<B>(&self, response: &axum::http::Response<B>) -> bool
    where
        B: axum::body::HttpBody,
    {
        let media = response
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let public = [
            "application/fhir+",
            "application/json",
            "application/geo+json",
            "text/csv",
        ]
        .iter()
        .any(|m| media.starts_with(m));
        public && SizeAbove::new(512).should_compress(response)
    }
}

/// Answers 503 when a request runs longer than its limit: `request_timeout`, or `upload_timeout`
/// for an upload (reading up to 100 MB over a slow line takes longer than any page should).
async fn time_limit(
    axum::extract::State((normal, upload)): axum::extract::State<(Duration, Duration)>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let limit = if routes::is_upload(request.uri().path()) {
        upload
    } else {
        normal
    };
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}
