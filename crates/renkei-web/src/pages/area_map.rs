//! `/areas/{code}/map`: the area's medical map for paper (医療マップ) — one A4 sheet or more with
//! the map, numbered markers, and the numbered list by kind, dated in 和暦 and with a QR code to
//! the always-current online directory. Printed (or saved as PDF) from the browser.

use super::home::render;
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::i18n::Lang;
use crate::map::{MapStyle, Marker};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;
use renkei_domain::capability::Capability;
use renkei_domain::institution::InstitutionKind;
use renkei_store::directory::DirectoryQuery;

/// One numbered line of the list.
pub struct PrintRow {
    /// The number on the map.
    pub number: i64,
    /// Name.
    pub name: String,
    /// Address.
    pub address: String,
    /// Phone.
    pub phone: Option<String>,
    /// Short capability labels.
    pub caps: String,
    /// Active institution.
    pub active: bool,
    /// Whether it has no location (and so no marker).
    pub unplaced: bool,
}

/// The rows of one kind.
pub struct PrintGroup {
    /// Kind label.
    pub label: &'static str,
    /// Kind code (its colour class `kind-{code}`).
    pub code: &'static str,
    /// The rows.
    pub rows: Vec<PrintRow>,
}

#[derive(Template)]
#[template(path = "area_print.html")]
struct PrintPage {
    chrome: Chrome,
    area_name: String,
    area_code: String,
    hubs: String,
    date: String,
    map_svg: String,
    groups: Vec<PrintGroup>,
    total: usize,
    /// The area's whole count when the list had to stop at the print limit.
    shortened: Option<i64>,
    qr_svg: String,
    online_url: String,
}

/// Most entries one printed map lists.
const PRINT_LIMIT: i64 = 2_000;

/// `GET /areas/{code}/map`.
pub async fn show(
    State(app): State<AppState>,
    Path(code): Path<String>,
    ctx: Ctx,
) -> Result<Html<String>, PageError> {
    let overview = app
        .overview
        .get(&app.store)
        .await
        .map(|o| (*o).clone())
        .map_err(|e| PageError::store(&ctx, e))?
        .ok_or_else(|| PageError::not_found(&ctx))?;
    let area = overview
        .areas
        .iter()
        .find(|a| a.code == code)
        .ok_or_else(|| PageError::not_found(&ctx))?;
    let query = DirectoryQuery {
        area: Some(code.clone()),
        limit: PRINT_LIMIT,
        ..DirectoryQuery::default()
    };
    let (all, hits) = app
        .store
        .search_directory(&query)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let lang = ctx.lang;
    let mut number = 0;
    let mut markers = Vec::new();
    let mut groups = Vec::new();
    for kind in InstitutionKind::ALL {
        let mut rows = Vec::new();
        for h in hits.iter().filter(|h| h.kind == kind.code()) {
            number += 1;
            if let (Some(lat), Some(lng)) = (h.lat, h.lng) {
                markers.push(Marker {
                    number,
                    lat,
                    lng,
                    kind,
                    active: h.is_active,
                    label: h.name.clone(),
                    href: format!("/institutions/{}", h.id.0),
                    colour: None,
                });
            }
            rows.push(PrintRow {
                number,
                name: h.name.clone(),
                address: h.address.clone(),
                phone: h.phone.clone(),
                caps: h
                    .capabilities
                    .iter()
                    .filter_map(|c| Capability::from_code(c))
                    .map(|c| {
                        if lang == Lang::En {
                            c.label_en()
                        } else {
                            c.label_ja()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("・"),
                active: h.is_active,
                unplaced: h.lat.is_none() || h.lng.is_none(),
            });
        }
        if !rows.is_empty() {
            groups.push(PrintGroup {
                label: if lang == Lang::En {
                    kind.label_en()
                } else {
                    kind.label_ja()
                },
                code: kind.code(),
                rows,
            });
        }
    }
    let area_name = if lang == Lang::En {
        area.name_en.clone()
    } else {
        area.name.clone()
    };
    let online_url = format!(
        "{}/directory?area={}",
        app.config.public_url.trim_end_matches('/'),
        code
    );
    let qr_svg = qrcode::QrCode::new(online_url.as_bytes())
        .map(|qr| {
            qr.render::<qrcode::render::svg::Color>()
                .min_dimensions(96, 96)
                .build()
        })
        .unwrap_or_default();
    let today = crate::clock::today(&app);
    let page = PrintPage {
        chrome: Chrome::new(&ctx, "nav.directory", overview.has_demo_data),
        map_svg: crate::map::render_styled(
            &area_name,
            crate::map::outlines(),
            &markers,
            MapStyle::PRINT,
        ),
        area_name,
        area_code: code.clone(),
        hubs: area.hub_operators.join("・"),
        date: if lang == Lang::En {
            today.format("As of %-d %B %Y").to_string()
        } else {
            format!(
                "{}現在",
                renkei_domain::fiscal_year::format_wareki_date(today)
            )
        },
        total: number as usize,
        shortened: (all > number).then_some(all),
        groups,
        qr_svg,
        online_url,
    };
    render(&ctx, &page)
}
