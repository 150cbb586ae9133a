//! The navigation's badges: how many urgent requests and requests for backup wait for the
//! signed-in institution staff's answer, and how many care-team posts addressed to the user
//! they have not seen (only of patients they may open now), counted once per page (not for
//! assets, machine interfaces or the live parts pages fetch again).

use crate::auth::Viewer;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

/// What waits for the viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Waiting {
    /// Urgent requests and backup requests waiting for the institutions' answer.
    pub coordination: usize,
    /// Care-team posts addressed to the user, not yet seen.
    pub mentions: usize,
}

/// Whether a request is a page a person opens (so the badge is worth counting).
fn is_page(request: &Request) -> bool {
    let path = request.uri().path();
    request.method() == Method::GET
        && !request
            .uri()
            .query()
            .is_some_and(|q| q.contains("part=live"))
        && !["/static/", "/api/", "/fhir/", "/r/", "/healthz", "/metrics"]
            .iter()
            .any(|p| path.starts_with(p))
        && !path.ends_with("/events")
        && !path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.'))
}

/// Counts what waits for signed-in institution staff and hands it to the page.
pub async fn count(State(app): State<AppState>, mut request: Request, next: Next) -> Response {
    if is_page(&request) {
        let user = match request.extensions().get::<Viewer>() {
            Some(Viewer::SignedIn { user, .. }) => Some(user.clone()),
            _ => None,
        };
        let institutions = user
            .as_ref()
            .map(|u| crate::pages::shared::own_institutions(u))
            .unwrap_or_default();
        let mut waiting = Waiting::default();
        if !institutions.is_empty() {
            match app.store.waiting_for(&institutions).await {
                Ok(n) => waiting.coordination = usize::try_from(n).unwrap_or(0),
                Err(e) => tracing::warn!(error = %e, "counting what waits failed"),
            }
        }
        if let Some(user) = user.as_ref().filter(|u| u.totp_enabled) {
            match crate::pages::careteam::unseen_mentions(&app, user).await {
                Ok(n) => waiting.mentions = n,
                Err(e) => tracing::warn!(error = %e, "counting mentions failed"),
            }
        }
        if waiting != Waiting::default() {
            request.extensions_mut().insert(waiting);
        }
    }
    next.run(request).await
}
