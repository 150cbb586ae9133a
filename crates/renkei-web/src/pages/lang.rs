//! The language switch: sets the `lang` cookie and returns to the page (works without JS).

use crate::error::not_found_for;
use crate::i18n::{Lang, LANG_COOKIE};
use axum::extract::{Path, Query};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Query of the switch.
#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// `GET /lang/{lang}?next=/path`: remember the language for a year and go back.
pub async fn switch(Path(tag): Path<String>, Query(query): Query<Next>) -> Response {
    let Some(lang) = Lang::from_tag(&tag) else {
        return not_found_for(Lang::Ja);
    };
    let target = query
        .next
        .filter(|n| is_local_path(n))
        .unwrap_or_else(|| "/".to_owned());
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly",
        lang.tag()
    );
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, target)]).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// Only paths of this site: no scheme, no host, no `//` or `/\` tricks (open-redirect guard).
fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && !path.contains(['\r', '\n'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert!(is_local_path("/areas/yao"));
        assert!(!is_local_path("//evil.example"));
        assert!(!is_local_path("https://evil.example"));
        assert!(!is_local_path("/\\evil.example"));
        assert!(!is_local_path("/a\r\nSet-Cookie: x"));
    }
}
