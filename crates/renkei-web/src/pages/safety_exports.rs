//! A safety check on paper and in spreadsheets: every target's link with a QR code to print
//! and fax (`/hub/safety/{id}/links`), and the answers as CSV or Excel.

use super::safety::{audit, jst_time, jst_time_in, link_of, reach, store_error, visible_check};
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, Extensions};
use axum::response::{IntoResponse, Response};
use renkei_domain::safety::CheckKind;
use renkei_store::safety::TargetRow;
use std::collections::BTreeMap;

#[derive(Template)]
#[template(path = "safety_links.html")]
struct LinksPage {
    chrome: Chrome,
    id: i64,
    title: String,
    drill: bool,
    deadline: String,
    rows: Vec<(String, String, String, String, String)>,
}

/// `GET /hub/safety/{id}/links`: every target's link with a QR code, to print and fax.
pub async fn links(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let check = visible_check(&app, &ctx, id, true).await?;
    let targets = app
        .store
        .safety_targets(id)
        .await
        .map_err(store_error(&ctx))?;
    let mut rows = Vec::new();
    for t in &targets {
        let link = link_of(&app, t).map_err(store_error(&ctx))?;
        let qr = qrcode::QrCode::new(link.as_bytes())
            .map(|qr| {
                qr.render::<qrcode::render::svg::Color>()
                    .min_dimensions(96, 96)
                    .build()
            })
            .unwrap_or_default();
        rows.push((
            t.institution.name.clone(),
            t.institution.phone.clone().unwrap_or_default(),
            t.institution.fax.clone().unwrap_or_default(),
            link,
            qr,
        ));
    }
    audit(
        &app,
        &ctx,
        &extensions,
        "safety.links_shown",
        format!("safety_check:{id}"),
    )
    .await;
    let page = LinksPage {
        chrome: Chrome::new(&ctx, "nav.disaster", false),
        id,
        drill: check.kind == CheckKind::Drill,
        deadline: jst_time_in(ctx.lang, &check.deadline),
        title: check.title,
        rows,
    };
    let mut response = render(&ctx, &page)?.into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// The export's columns.
pub const EXPORT_COLUMNS: [&str; 21] = [
    "地域",
    "種別",
    "名称",
    "電話",
    "FAX",
    "状態",
    "回答日時",
    "電話で聴取",
    "職員・患者",
    "建物",
    "電気",
    "燃料残（時間・回答時）",
    "水",
    "受入可能な患者数",
    "勤務できる職員",
    "訪問の継続",
    "人工呼吸器",
    "在宅酸素",
    "吸引",
    "必要なこと",
    "督促回数",
];

/// The export's rows: one per target, in the dashboard's order.
pub fn export_rows(
    targets: &[TargetRow],
    area_names: &BTreeMap<String, String>,
) -> Vec<Vec<String>> {
    targets
        .iter()
        .map(|t| {
            let i = &t.institution;
            let a = t.answer.as_ref();
            let q = a.map(|a| &a.quick);
            let d = a.and_then(|a| a.details.as_ref());
            let opt = |v: Option<String>| v.unwrap_or_default();
            vec![
                area_names
                    .get(&i.area)
                    .cloned()
                    .unwrap_or_else(|| i.area.clone()),
                i.kind.label_ja().to_owned(),
                i.name.clone(),
                opt(i.phone.clone()),
                opt(i.fax.clone()),
                t.condition.label_ja().to_owned(),
                t.answered_at.as_deref().map(jst_time).unwrap_or_default(),
                if t.by_phone {
                    "電話".into()
                } else {
                    String::new()
                },
                opt(q.map(|q| q.people.label_ja().to_owned())),
                opt(q.map(|q| q.building.label_ja().to_owned())),
                opt(q.map(|q| q.power.label_ja().to_owned())),
                opt(q.and_then(|q| q.fuel_hours).map(|h| h.to_string())),
                opt(q.map(|q| q.water.label_ja().to_owned())),
                opt(q.map(|q| q.can_accept.to_string())),
                opt(d.and_then(|d| d.staff_available).map(|s| s.to_string())),
                opt(d
                    .and_then(|d| d.home_visits)
                    .map(|h| h.label_ja().to_owned())),
                opt(d.map(|d| d.power_dependent.ventilator.to_string())),
                opt(d.map(|d| d.power_dependent.oxygen.to_string())),
                opt(d.map(|d| d.power_dependent.suction.to_string())),
                opt(d.map(|d| d.needs.clone())),
                t.reminders.to_string(),
            ]
        })
        .collect()
}

async fn export(
    app: AppState,
    ctx: Ctx,
    extensions: Extensions,
    id: i64,
    xlsx: bool,
) -> Result<Response, PageError> {
    let check = visible_check(&app, &ctx, id, false).await?;
    let targets = app
        .store
        .safety_targets(id)
        .await
        .map_err(store_error(&ctx))?;
    let names: BTreeMap<String, String> = reach(&app, &ctx).await?.visible.into_iter().collect();
    let rows = export_rows(&targets, &names);
    audit(
        &app,
        &ctx,
        &extensions,
        "safety.exported",
        format!("safety_check:{id}"),
    )
    .await;
    let _ = check;
    let mut response = super::shared::table_download(
        &ctx,
        xlsx,
        &format!("renkei-safety-check-{id}"),
        "安否確認",
        &EXPORT_COLUMNS,
        &rows,
    )?;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// `GET /hub/safety/{id}/export.csv`.
pub async fn export_csv(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    export(app, ctx, extensions, id, false).await
}

/// `GET /hub/safety/{id}/export.xlsx`.
pub async fn export_xlsx(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    export(app, ctx, extensions, id, true).await
}

/// `GET /hub/safety/{id}/cap.xml`: the check as a CAP 1.2 alert.
pub async fn cap(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let check = visible_check(&app, &ctx, id, false).await?;
    let areas = super::safety::areas_of(&check);
    let context = crate::cap::AlertContext {
        public_url: &app.config.public_url,
        areas: areas
            .iter()
            .map(|a| (a.name.clone(), a.name_en.clone(), a.municipality.clone()))
            .collect(),
        hubs: areas.iter().map(|a| a.hub_label()).collect(),
        targets: check.targets,
        answered: check.answered,
    };
    audit(
        &app,
        &ctx,
        &extensions,
        "safety.cap_exported",
        format!("safety_check:{id}"),
    )
    .await;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/cap+xml; charset=utf-8".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"renkei-safety-check-{id}.cap.xml\""),
            ),
        ],
        crate::cap::safety_check_alert(&check, &context),
    )
        .into_response())
}
