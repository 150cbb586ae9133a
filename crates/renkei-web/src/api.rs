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

/// The query of `GET /api/v1/directory/near`.
fn near_query(raw: Option<&str>) -> Result<renkei_domain::spatial::NearQuery, String> {
    use renkei_domain::capability::Capability;
    use renkei_domain::institution::InstitutionKind;
    use renkei_domain::spatial::{CapabilitySet, NearQuery};
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|_| "クエリを読めません / cannot read the query".to_owned())?;
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim());
    let number = |name: &str, lo: f64, hi: f64| -> Result<Option<f64>, String> {
        match get(name) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|n| (lo..=hi).contains(n))
                .map(Some)
                .ok_or_else(|| format!("{name} は {lo}〜{hi} の数値です / {name} must be a number from {lo} to {hi}")),
        }
    };
    let lat = number("lat", -90.0, 90.0)?.ok_or("lat（緯度）が必要です / lat is required")?;
    let lng = number("lng", -180.0, 180.0)?.ok_or("lng（経度）が必要です / lng is required")?;
    let km = number("km", 0.001, 50.0)?.unwrap_or(5.0);
    let limit = match get("limit") {
        None | Some("") => 50,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or("limit は 1〜500 の整数です / limit must be a whole number from 1 to 500")?,
    };
    let kind = match get("kind").filter(|k| !k.is_empty()) {
        Some(code) => Some(
            InstitutionKind::from_code(code)
                .ok_or_else(|| format!("種別「{code}」はありません / unknown kind {code}"))?,
        ),
        None => None,
    };
    let mut capabilities = Vec::new();
    for (_, value) in pairs.iter().filter(|(k, _)| k == "cap") {
        for code in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            capabilities.push(Capability::from_code(code).ok_or_else(|| {
                format!("できること「{code}」はありません / unknown capability {code}")
            })?);
        }
    }
    Ok(NearQuery {
        lat,
        lng,
        km,
        kind,
        capabilities: CapabilitySet::of(capabilities),
        limit,
    })
}

/// `GET /api/v1/directory/near?lat=&lng=&km=&kind=&cap=&limit=`: entries of a kind offering
/// every given capability within `km` (5 by default, 50 at most) of the point, nearest first
/// with their great-circle distance — answered from the in-memory spatial index.
pub async fn directory_near(
    axum::extract::State(app): axum::extract::State<crate::AppState>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Response {
    let q = match near_query(raw.as_deref()) {
        Ok(q) => q,
        Err(message) => {
            return (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
        }
    };
    if let Err(e) = app.directory_index.ensure_loaded(&app.store).await {
        tracing::error!(error = %e, "loading the directory index failed");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": "一時的に検索できません / search is unavailable for now" })),
        )
            .into_response();
    }
    let results = app.directory_index.near(&q);
    Json(json!({ "count": results.len(), "results": results })).into_response()
}
