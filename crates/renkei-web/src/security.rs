//! Security headers on every response.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The headers' fixed part; the map tiles' origin is added to `img-src`.
const CSP_START: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:";
const CSP_END: &str = "; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// The Content-Security-Policy of this instance: no inline script or style, nothing from other
/// origins except the configured map tiles.
#[derive(Debug, Clone)]
pub struct Policy {
    csp: HeaderValue,
}

impl Policy {
    /// The policy for these map settings.
    pub fn new(map: &crate::MapSettings) -> Self {
        let tiles = map
            .tile_origin()
            .map(|origin| format!(" {}", wildcard_placeholders(&origin)))
            .unwrap_or_default();
        let csp = HeaderValue::from_str(&format!("{CSP_START}{tiles}{CSP_END}"))
            .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
        Self { csp }
    }
}

/// A tile origin with its placeholder labels (`https://{s}.tile.example.org`) as the CSP
/// wildcard (`https://*.tile.example.org`).
fn wildcard_placeholders(origin: &str) -> String {
    let (scheme, host) = origin.split_once("://").unwrap_or(("https", origin));
    let labels: Vec<&str> = host
        .split('.')
        .map(|label| if label.contains('{') { "*" } else { label })
        .collect();
    format!("{scheme}://{}", labels.join("."))
}

/// Adds the security headers to every response.
pub async fn headers(State(policy): State<Policy>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, policy.csp.clone());
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(self)"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csp_for(tile_url: &str) -> String {
        let map = crate::MapSettings {
            tile_url: tile_url.to_owned(),
            attribution: String::new(),
        };
        Policy::new(&map).csp.to_str().unwrap().to_owned()
    }

    #[test]
    fn the_tile_origin_is_the_only_other_image_source() {
        assert!(
            csp_for("https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png")
                .contains("img-src 'self' data: https://cyberjapandata.gsi.go.jp;")
        );
        assert!(csp_for("https://{s}.tile.example.org/{z}/{x}/{y}.png")
            .contains("img-src 'self' data: https://*.tile.example.org;"));
        assert!(csp_for("http://10.0.0.5:8080/tiles/{z}/{x}/{y}.png")
            .contains("img-src 'self' data: http://10.0.0.5:8080;"));
        assert!(csp_for("").contains("img-src 'self' data:;"));
        assert!(csp_for("javascript:alert(1)").contains("img-src 'self' data:;"));
    }
}
