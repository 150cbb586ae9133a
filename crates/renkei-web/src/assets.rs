//! Static assets, embedded in the binary (no CDN).

use crate::error::not_found_for;
use crate::i18n::Lang;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

const APP_CSS: &str = include_str!("../static/app.css");

/// `GET /static/{file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    match file.as_str() {
        "app.css" => (
            [
                (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            APP_CSS,
        )
            .into_response(),
        _ => not_found_for(Lang::Ja),
    }
}
