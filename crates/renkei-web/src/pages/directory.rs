//! The public directory: search by words (name, reading, address — insensitive to 全角/半角 and
//! kana), by capability (typed as words such as 「訪問診療 24時間」 or ticked), by area and kind;
//! and a page per institution. No login, no JavaScript.

use crate::chrome::Chrome;
use crate::clock::jst_text;
use crate::error::{Ctx, PageError};
use crate::i18n::Lang;
use crate::pages::home::{kind_label, render};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use renkei_domain::capability::Capability;
use renkei_domain::institution::InstitutionKind;
use renkei_domain::text::search_terms;
use renkei_store::directory::{DirectoryQuery, InstitutionDetail};

/// Results per page.
pub const PAGE_SIZE: i64 = 30;

/// The parsed search form (`cap` may repeat).
#[derive(Debug, Default, Clone)]
pub struct SearchForm {
    q: String,
    area: String,
    kind: String,
    caps: Vec<String>,
    near: String,
    km: f64,
    page: i64,
}

impl SearchForm {
    fn parse(raw: Option<&str>) -> Self {
        let pairs: Vec<(String, String)> = raw
            .and_then(|q| serde_urlencoded::from_str(q).ok())
            .unwrap_or_default();
        let mut form = SearchForm {
            page: 1,
            km: DEFAULT_KM,
            ..Default::default()
        };
        for (k, v) in pairs {
            match k.as_str() {
                "q" => form.q = v.chars().take(200).collect(),
                "area" => form.area = v,
                "kind" => form.kind = v,
                "cap" if Capability::from_code(&v).is_some() => form.caps.push(v),
                "page" => form.page = v.parse().unwrap_or(1).clamp(1, 10_000),
                "near" => form.near = v.chars().take(100).collect(),
                "km" => {
                    form.km = v
                        .parse::<f64>()
                        .ok()
                        .filter(|k| k.is_finite())
                        .unwrap_or(DEFAULT_KM)
                        .clamp(0.5, 30.0)
                }
                _ => {}
            }
        }
        form
    }

    fn query_string(&self, page: i64) -> String {
        let mut pairs: Vec<(&str, String)> = vec![
            ("q", self.q.clone()),
            ("area", self.area.clone()),
            ("kind", self.kind.clone()),
        ];
        pairs.extend(self.caps.iter().map(|c| ("cap", c.clone())));
        if !self.near.is_empty() {
            pairs.push(("near", self.near.clone()));
            pairs.push(("km", self.km.to_string()));
        }
        pairs.push(("page", page.to_string()));
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

/// One result as shown.
#[derive(Debug)]
pub struct HitRow {
    id: i64,
    name: String,
    kind: &'static str,
    address: String,
    phone: Option<String>,
    caps: Vec<&'static str>,
    active: bool,
    demo: bool,
    distance: Option<String>,
}

#[derive(Template)]
#[template(path = "directory.html")]
struct DirectoryPage {
    chrome: Chrome,
    q: String,
    areas: Vec<(String, String, bool)>,
    kinds: Vec<(&'static str, &'static str, bool)>,
    caps: Vec<(&'static str, &'static str, bool)>,
    any_cap: bool,
    understood: String,
    total: i64,
    first_number: i64,
    hits: Vec<HitRow>,
    prev: Option<String>,
    next: Option<String>,
    export_query: String,
    map_svg: String,
    near: String,
    near_point: Option<String>,
    near_km: String,
    km_options: Vec<(String, bool)>,
    near_note: Option<String>,
}

fn cap_label(c: Capability, lang: Lang) -> &'static str {
    if lang == Lang::En {
        c.label_en()
    } else {
        c.label_ja()
    }
}

/// The store query for a form: words that name a capability become capability filters.
fn build_query(
    form: &SearchForm,
    areas: &[renkei_store::region::AreaOverview],
    limit: i64,
) -> (DirectoryQuery, Vec<Capability>, Vec<String>) {
    let mut capabilities: Vec<Capability> = form
        .caps
        .iter()
        .filter_map(|c| Capability::from_code(c))
        .collect();
    let mut text = Vec::new();
    for term in search_terms(&form.q) {
        match Capability::from_term(&term) {
            Some(c) => capabilities.push(c),
            None => text.push(term),
        }
    }
    capabilities.sort();
    capabilities.dedup();
    let query = DirectoryQuery {
        text: text.clone(),
        capabilities: capabilities.clone(),
        area: areas
            .iter()
            .find(|a| a.code == form.area)
            .map(|a| a.code.clone()),
        kind: InstitutionKind::from_code(&form.kind),
        near: located(&form.near).map(|(_, lat, lng)| renkei_store::directory::Near {
            lat,
            lng,
            km: form.km,
        }),
        ranked: None,
        limit,
        offset: (form.page - 1) * limit,
        // An unfiltered listing: every entry, as the kept overview counted them.
        known_total: Some(areas.iter().map(|a| a.institutions).sum()),
    };
    (query, capabilities, text)
}

/// The radius of a near search when the form gives none (km).
const DEFAULT_KM: f64 = 5.0;

/// Ranks a near search's candidates with the spatial index — every entry within the radius of
/// the query's kind with all its capabilities, in (distance, id) order — so that the store
/// reads exactly those (no cap, nothing dropped) and checks only the words and the area.
async fn rank_near(app: &AppState, ctx: &Ctx, query: &mut DirectoryQuery) -> Result<(), PageError> {
    let Some(near) = query.near else {
        return Ok(());
    };
    app.directory_index
        .ensure_loaded(&app.store)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let kind = query.kind.take();
    let wanted = renkei_domain::spatial::CapabilitySet::of(std::mem::take(&mut query.capabilities));
    query.ranked = Some(
        app.directory_index
            .ranked((near.lat, near.lng), near.km, move |e| {
                kind.is_none_or(|k| k == e.kind) && e.capabilities.contains_all(wanted)
            }),
    );
    Ok(())
}

/// The point of a typed place (postcode or town), from the embedded tables. Finding a town
/// normalises every town's name (about 10 ms), so the answers of recent places are kept — at
/// most [`PLACES_KEPT`], forgotten all at once when full, so odd input cannot grow memory.
pub(crate) fn located(near: &str) -> Option<(String, f64, f64)> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Place = Option<(String, f64, f64)>;
    static TABLES: OnceLock<(
        Vec<renkei_domain::towns::Town>,
        Vec<renkei_domain::towns::Postcode>,
    )> = OnceLock::new();
    static KEPT: OnceLock<Mutex<HashMap<String, Place>>> = OnceLock::new();
    if near.trim().is_empty() {
        return None;
    }
    let kept = KEPT.get_or_init(Default::default);
    if let Some(place) = kept.lock().unwrap_or_else(|e| e.into_inner()).get(near) {
        return place.clone();
    }
    let (towns, postcodes) = TABLES.get_or_init(|| {
        (
            renkei_domain::towns::towns().unwrap_or_default(),
            renkei_domain::towns::postcodes().unwrap_or_default(),
        )
    });
    let place = renkei_domain::towns::locate(near, towns, postcodes);
    let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
    if kept.len() >= PLACES_KEPT {
        kept.clear();
    }
    kept.insert(near.to_owned(), place.clone());
    place
}

/// How many typed places [`located`] keeps the answer of.
const PLACES_KEPT: usize = 4_096;

/// Most rows one export carries; the command line exports the whole directory.
pub const EXPORT_LIMIT: i64 = 5_000;

async fn export_hits(
    app: &AppState,
    ctx: &Ctx,
    raw: Option<&str>,
) -> Result<Vec<renkei_store::directory::DirectoryHit>, PageError> {
    let mut form = SearchForm::parse(raw);
    form.page = 1;
    let overview = app
        .overview
        .get(&app.store)
        .await
        .map(|o| (*o).clone())
        .map_err(|e| PageError::store(ctx, e))?;
    let areas = overview.map(|o| o.areas).unwrap_or_default();
    let (mut query, _, _) = build_query(&form, &areas, EXPORT_LIMIT);
    rank_near(app, ctx, &mut query).await?;
    Ok(app
        .store
        .search_directory(&query)
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .1)
}

/// The entries of a search with every column of the table.
async fn export_entries(
    app: &AppState,
    ctx: &Ctx,
    raw: Option<&str>,
) -> Result<Vec<renkei_domain::table::TableEntry>, PageError> {
    let ids: Vec<i64> = export_hits(app, ctx, raw)
        .await?
        .iter()
        .map(|h| h.id.0)
        .collect();
    app.store
        .table_entries(&ids)
        .await
        .map_err(|e| PageError::store(ctx, e))
}

/// `GET /directory.csv`: the search results as CSV (UTF-8 with BOM, Japanese headers).
pub async fn export_csv(
    State(app): State<AppState>,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let entries = export_entries(&app, &ctx, raw.as_deref()).await?;
    let out = crate::export::directory_csv(&entries);
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"renkei-directory.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}

/// `GET /directory.xlsx`: the search results as an Excel workbook.
pub async fn export_xlsx(
    State(app): State<AppState>,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let entries = export_entries(&app, &ctx, raw.as_deref()).await?;
    let bytes = crate::export::directory_xlsx(&entries)
        .map_err(|e| PageError::store(&ctx, renkei_store::StoreError::Invalid(e.to_string())))?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, super::shared::XLSX),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"renkei-directory.xlsx\"",
            ),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /directory.geojson`: the search results that have a location, as a GeoJSON
/// FeatureCollection (RFC 7946, longitude first).
pub async fn export_geojson(
    State(app): State<AppState>,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let hits = export_hits(&app, &ctx, raw.as_deref()).await?;
    let body = crate::export::directory_geojson(&hits);
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/geo+json")],
        body,
    )
        .into_response())
}

/// `GET /directory`.
pub async fn search(
    State(app): State<AppState>,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let form = SearchForm::parse(raw.as_deref());
    let overview = app
        .overview
        .get(&app.store)
        .await
        .map(|o| (*o).clone())
        .map_err(|e| PageError::store(&ctx, e))?;
    let area_list = overview
        .as_ref()
        .map(|o| o.areas.clone())
        .unwrap_or_default();
    let (mut query, capabilities, text) = build_query(&form, &area_list, PAGE_SIZE);
    let (area, kind) = (query.area.clone(), query.kind);
    rank_near(&app, &ctx, &mut query).await?;
    let (total, hits) = app
        .store
        .search_directory(&query)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let lang = ctx.lang;
    let understood = capabilities
        .iter()
        .map(|c| cap_label(*c, lang))
        .chain(text.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" + ");
    let first = (form.page - 1) * PAGE_SIZE + 1;
    let markers: Vec<crate::map::Marker> = hits
        .iter()
        .enumerate()
        .filter_map(|(n, h)| {
            Some(crate::map::Marker {
                number: first + n as i64,
                lat: h.lat?,
                lng: h.lng?,
                kind: InstitutionKind::from_code(&h.kind)?,
                active: h.is_active,
                label: h.name.clone(),
                href: format!("/institutions/{}", h.id.0),
                colour: None,
            })
        })
        .collect();
    let map_title = crate::i18n::catalog(lang).get("directory.map");
    let map_svg = crate::map::render(&map_title, crate::map::outlines(), &markers);
    let page = DirectoryPage {
        chrome: Chrome::new(
            &ctx,
            "nav.directory",
            overview.as_ref().is_some_and(|o| o.has_demo_data),
        ),
        areas: area_list
            .iter()
            .map(|a| {
                (
                    a.code.clone(),
                    if lang == Lang::En {
                        a.name_en.clone()
                    } else {
                        a.name.clone()
                    },
                    Some(&a.code) == area.as_ref(),
                )
            })
            .collect(),
        kinds: InstitutionKind::ALL
            .iter()
            .map(|k| (k.code(), kind_label(*k, lang), Some(*k) == kind))
            .collect(),
        caps: Capability::ALL
            .iter()
            .map(|c| {
                (
                    c.code(),
                    cap_label(*c, lang),
                    form.caps.iter().any(|x| x == c.code()),
                )
            })
            .collect(),
        any_cap: !form.caps.is_empty(),
        understood,
        total,
        first_number: (form.page - 1) * PAGE_SIZE + 1,
        hits: hits
            .into_iter()
            .map(|h| HitRow {
                id: h.id.0,
                kind: InstitutionKind::from_code(&h.kind)
                    .map(|k| kind_label(k, lang))
                    .unwrap_or(""),
                caps: h
                    .capabilities
                    .iter()
                    .filter_map(|c| Capability::from_code(c))
                    .map(|c| cap_label(c, lang))
                    .collect(),
                name: h.name,
                address: h.address,
                phone: h.phone,
                active: h.is_active,
                demo: h.is_demo,
                distance: h.distance_km.map(|d| {
                    if d < 1.0 {
                        format!("{:.0} m", d * 1000.0)
                    } else {
                        format!("{d:.1} km")
                    }
                }),
            })
            .collect(),
        prev: (form.page > 1).then(|| format!("/directory?{}", form.query_string(form.page - 1))),
        next: (form.page * PAGE_SIZE < total)
            .then(|| format!("/directory?{}", form.query_string(form.page + 1))),
        export_query: form.query_string(1),
        near: form.near.clone(),
        near_point: located(&form.near).map(|(_, lat, lng)| format!("{lat:.6},{lng:.6}")),
        near_km: form.km.to_string(),
        km_options: ["1", "2", "5", "10", "20"]
            .iter()
            .map(|k| ((*k).to_owned(), k.parse::<f64>().ok() == Some(form.km)))
            .collect(),
        near_note: if form.near.trim().is_empty() {
            None
        } else {
            Some(match located(&form.near) {
                Some((name, ..)) => format!(
                    "{} {name} {}{}",
                    crate::i18n::catalog(lang).get("directory.near_from"),
                    form.km,
                    crate::i18n::catalog(lang).get("directory.km_within")
                ),
                None => crate::i18n::catalog(lang).get("directory.near_unknown"),
            })
        },
        map_svg,
        q: form.q.clone(),
    };
    Ok(render(&ctx, &page)?.into_response())
}

#[derive(Template)]
#[template(path = "institution_detail.html")]
struct DetailPage {
    chrome: Chrome,
    d: InstitutionDetail,
    kind: &'static str,
    caps: Vec<&'static str>,
    roles: Vec<(String, &'static str, Option<String>)>,
    location: Option<String>,
    point: Option<String>,
    map_svg: String,
    power: String,
    bcp: &'static str,
    updated: String,
    confirmed: String,
    can_edit: bool,
    history: Vec<(String, String)>,
}

/// `GET /institutions/{id}`.
pub async fn detail(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let Some(d) = app
        .store
        .institution_detail(id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    else {
        return Err(PageError::not_found(&ctx));
    };
    let lang = ctx.lang;
    let page = DetailPage {
        chrome: Chrome::new(&ctx, "nav.directory", d.hit.is_demo),
        kind: InstitutionKind::from_code(&d.hit.kind)
            .map(|k| kind_label(k, lang))
            .unwrap_or(""),
        caps: d
            .hit
            .capabilities
            .iter()
            .filter_map(|c| Capability::from_code(c))
            .map(|c| cap_label(c, lang))
            .collect(),
        roles: d
            .fields
            .roles
            .iter()
            .map(|r| {
                let label = if lang == Lang::En {
                    r.role.label_en()
                } else {
                    r.role.label_ja()
                };
                (
                    format!("{} {label}", r.role.circled()),
                    r.status.label_ja(),
                    r.plan.clone(),
                )
            })
            .collect(),
        point: d
            .fields
            .location
            .map(|p| format!("{:.6},{:.6}", p.lat, p.lng)),
        map_svg: match (&d.fields.location, InstitutionKind::from_code(&d.hit.kind)) {
            (Some(p), Some(kind)) => crate::map::render(
                &d.hit.name,
                crate::map::outlines(),
                &[crate::map::Marker {
                    number: 1,
                    lat: p.lat,
                    lng: p.lng,
                    kind,
                    active: d.hit.is_active,
                    label: d.hit.name.clone(),
                    href: format!("/institutions/{}", d.hit.id.0),
                    colour: None,
                }],
            ),
            _ => String::new(),
        },
        location: d
            .fields
            .location
            .map(|p| format!("{:.5}, {:.5}（{}）", p.lat, p.lng, p.precision.label_ja())),
        power: {
            let p = &d.fields.details.power;
            let mut text = if lang == Lang::En {
                p.kind.label_en()
            } else {
                p.kind.label_ja()
            }
            .to_owned();
            if let Some(capacity) = &p.capacity {
                text.push_str(&format!("（{capacity}）"));
            }
            text
        },
        bcp: if lang == Lang::En {
            d.fields.details.bcp.label_en()
        } else {
            d.fields.details.bcp.label_ja()
        },
        updated: jst_text(&d.updated_at),
        can_edit: ctx
            .viewer
            .signed_in()
            .is_some_and(|u| crate::pages::changes::may_edit(u, id)),
        history: app
            .store
            .versions(id)
            .await
            .map_err(|e| PageError::store(&ctx, e))?
            .into_iter()
            .map(|v| (jst_text(&v.approved_at), v.fields.name))
            .collect(),
        confirmed: app
            .store
            .confirmation_of(id)
            .await
            .map_err(|e| PageError::store(&ctx, e))?
            .and_then(|c| c.0)
            .as_deref()
            .map(jst_text)
            .unwrap_or_else(|| "—".to_owned()),
        d,
    };
    Ok(render(&ctx, &page)?.into_response())
}
