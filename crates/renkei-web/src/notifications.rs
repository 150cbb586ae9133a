//! The navigation's badge: how many urgent requests and requests for backup wait for the
//! signed-in institution staff's answer, counted once per page (not for assets, machine
//! interfaces or the live parts pages fetch again).

use crate::auth::Viewer;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

/// What waits for the viewer's institutions' answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Waiting(pub usize);

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
        let institutions: Vec<i64> = match request.extensions().get::<Viewer>() {
            Some(Viewer::SignedIn { user, .. }) => crate::pages::shared::own_institutions(user),
            _ => Vec::new(),
        };
        if !institutions.is_empty() {
            match app.store.waiting_for(&institutions).await {
                Ok(n) => {
                    request
                        .extensions_mut()
                        .insert(Waiting(usize::try_from(n).unwrap_or(0)));
                }
                Err(e) => tracing::warn!(error = %e, "counting what waits failed"),
            }
        }
    }
    next.run(request).await
}
