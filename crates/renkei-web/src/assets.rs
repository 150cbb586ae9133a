//! Static assets, embedded in the binary (no CDN): our stylesheet and map script, the region's
//! outlines, and the browser libraries `build.rs` installs from npm (`/static/vendor/…`).

use crate::error::not_found_for;
use crate::i18n::Lang;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// One embedded file: its path under `/static/`, media type and content.
struct Asset {
    path: &'static str,
    media_type: &'static str,
    body: &'static [u8],
}

macro_rules! vendor {
    ($name:literal, $media:expr) => {
        Asset {
            path: concat!("vendor/", $name),
            media_type: $media,
            body: include_bytes!(concat!(env!("OUT_DIR"), "/vendor/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

static ASSETS: &[Asset] = &[
    Asset {
        path: "app.css",
        media_type: CSS,
        body: include_bytes!("../static/app.css"),
    },
    Asset {
        path: "directory-map.js",
        media_type: JS,
        body: include_bytes!("../static/directory-map.js"),
    },
    Asset {
        path: "ledger-report.css",
        media_type: CSS,
        body: include_bytes!("../static/ledger-report.css"),
    },
    Asset {
        path: "respond.css",
        media_type: CSS,
        body: include_bytes!("../static/respond.css"),
    },
    Asset {
        path: "live.js",
        media_type: JS,
        body: include_bytes!("../static/live.js"),
    },
    Asset {
        path: "print.js",
        media_type: JS,
        body: include_bytes!("../static/print.js"),
    },
    Asset {
        path: "boundaries.geojson",
        media_type: "application/geo+json",
        body: include_bytes!("../../../data/boundaries.geojson"),
    },
    vendor!("leaflet.js", JS),
    vendor!("leaflet.css", CSS),
    vendor!("leaflet.LICENSE.txt", TEXT),
    vendor!("leaflet.markercluster.js", JS),
    vendor!("MarkerCluster.css", CSS),
    vendor!("MarkerCluster.Default.css", CSS),
    vendor!("leaflet.markercluster.LICENSE.txt", TEXT),
];

/// Whether the interactive map library was built in (`build.rs` leaves it out without npm).
pub fn map_library_present() -> bool {
    !env!("RENKEI_MAP_LIBRARY").is_empty()
}

/// `GET /static/{*file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.path == file && !a.body.is_empty()) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.media_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            asset.body,
        )
            .into_response(),
        None => not_found_for(Lang::Ja),
    }
}
