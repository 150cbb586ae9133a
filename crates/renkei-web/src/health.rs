//! `/healthz`: is the server up and does the database answer? It also says whether the
//! directory's in-memory index has finished its first load (near searches fall back to the
//! database until then).

use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

/// `GET /healthz`: 200 `{"status":"ok"}` when the database answers, 503 otherwise.
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let backend = state.store.backend().name();
    let index = if state.directory_index.is_loaded() {
        "loaded"
    } else {
        "loading"
    };
    match state.store.health().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({ "status": "ok", "database": backend, "directory_index": index })),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    json!({ "status": "unavailable", "database": backend, "message": "データベースに接続できません / database unavailable" }),
                ),
            )
        }
    }
}
