//! The JSON API under `/api/v1/`. Errors are JSON too: 401 without a login, 403 without the role.

use crate::auth::Viewer;
use axum::extract::Extension;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// `GET /api/v1/me`: the logged-in user and their roles.
pub async fn me(Extension(viewer): Extension<Viewer>) -> Response {
    match viewer.signed_in() {
        Some(user) => Json(json!({
            "id": user.id,
            "email": user.email,
            "display_name": user.display_name,
            "two_factor": user.totp_enabled,
            "memberships": user.memberships,
        }))
        .into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "ログインが必要です / authentication required" })),
        )
            .into_response(),
    }
}
