//! The bed board (`/beds`, `/institutions/{id}/beds`): hospitals publish their respite and
//! emergency beds by type — physical beds, beds that can take a patient now, conditions — each
//! count with its own time, and confirm with one press that they still hold; clinics, nurses,
//! care managers and the hub search them by distance and capability. Counts older than a day
//! are marked stale.

use super::safety::{audit, jst_time_in, see_other};
use super::shared::{entry, form};
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::i18n::Lang;
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use renkei_domain::beds::{is_stale, BedCount, BedType, MAX_BEDS};
use renkei_domain::capability::Capability;
use renkei_domain::institution::InstitutionKind;
use renkei_domain::safety::read_count;
use renkei_store::beds::BedRow;
use renkei_store::records::RecordQuery;

/// How many institutions the board looks at, nearest first.
const LOOKED_AT: usize = 200;
/// The distances offered, km.
const DISTANCES: [u32; 4] = [5, 10, 15, 30];

/// A stored time as the page says it, and whether it is stale.
fn when(lang: Lang, at: Option<&str>, now: DateTime<Utc>) -> (String, bool) {
    match at.and_then(|t| DateTime::parse_from_rfc3339(t).ok()) {
        Some(t) => (
            jst_time_in(lang, at.unwrap_or_default()),
            is_stale(t.with_timezone(&Utc), now),
        ),
        None => (String::new(), false),
    }
}

/// One bed type of the institution's form.
pub struct TypeForm {
    code: &'static str,
    label: &'static str,
    physical: String,
    physical_at: String,
    physical_stale: bool,
    available: String,
    available_at: String,
    available_stale: bool,
    conditions: String,
    conditions_at: String,
}

#[derive(Template)]
#[template(path = "beds.html")]
struct BedsPage {
    chrome: Chrome,
    id: i64,
    name: String,
    can_edit: bool,
    has_beds: bool,
    notice: Option<String>,
    error: Option<String>,
    types: Vec<TypeForm>,
}

async fn beds_page(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    typed: Option<&[u8]>,
) -> Result<BedsPage, PageError> {
    let lang = ctx.lang;
    let (name, can_edit) = super::readiness::access(app, ctx, id).await?;
    let record = entry(app, ctx, id).await?;
    let rows = app
        .store
        .bed_counts(&[id])
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let now = app.clock.now();
    let n = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
    let types = BedType::ALL
        .iter()
        .map(|t| {
            let row = rows.iter().find(|r| r.count.bed_type == *t);
            let (physical_at, physical_stale) =
                when(lang, row.and_then(|r| r.physical_at.as_deref()), now);
            let (available_at, available_stale) =
                when(lang, row.and_then(|r| r.available_at.as_deref()), now);
            let (conditions_at, _) = when(lang, row.and_then(|r| r.conditions_at.as_deref()), now);
            let field = |name: &str, stored: String| match typed {
                Some(body) => form(body, &format!("{}_{name}", t.code())),
                None => stored,
            };
            TypeForm {
                code: t.code(),
                label: lang.pick(t.label_ja(), t.label_en()),
                physical: field("physical", n(row.and_then(|r| r.count.physical))),
                physical_at,
                physical_stale,
                available: field("available", n(row.and_then(|r| r.count.available))),
                available_at,
                available_stale,
                conditions: field(
                    "conditions",
                    row.map(|r| r.count.conditions.clone()).unwrap_or_default(),
                ),
                conditions_at,
            }
        })
        .collect();
    Ok(BedsPage {
        chrome: Chrome::new(ctx, "nav.coordination", false),
        id,
        name,
        can_edit,
        has_beds: record.has_beds,
        notice: None,
        error: None,
        types,
    })
}

/// `GET /institutions/{id}/beds`: the institution's published beds (its staff edit them).
pub async fn show(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let mut page = beds_page(&app, &ctx, id, None).await?;
    if query.as_deref().is_some_and(|q| q.contains("done=saved")) {
        page.notice = Some(crate::i18n::catalog(ctx.lang).get("beds.saved"));
    }
    Ok(render(&ctx, &page)?.into_response())
}

/// Reads the institution's form: every bed type with anything typed.
fn read_counts(body: &[u8]) -> Result<Vec<BedCount>, String> {
    let mut out = Vec::new();
    for t in BedType::ALL {
        let field = |name: &str| form(body, &format!("{}_{name}", t.code()));
        let label = t.label_ja();
        let count = BedCount {
            bed_type: *t,
            physical: read_count(&field("physical"), &format!("{label}の病床数"), MAX_BEDS)?,
            available: read_count(
                &field("available"),
                &format!("{label}の今受け入れられる数"),
                MAX_BEDS,
            )?,
            conditions: field("conditions").trim().to_owned(),
        };
        count.check()?;
        out.push(count);
    }
    Ok(out)
}

/// `POST /institutions/{id}/beds`: its staff save the counts (or confirm they still hold).
pub async fn save(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (_, can_edit) = super::readiness::access(&app, &ctx, id).await?;
    if !can_edit {
        return Err(PageError::forbidden(&ctx));
    }
    let counts = match read_counts(&body) {
        Ok(c) => c,
        Err(message) => {
            let mut page = beds_page(&app, &ctx, id, Some(&body)).await?;
            page.error = Some(message);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&ctx, &page)?).into_response());
        }
    };
    let confirm = form(&body, "confirm") == "1";
    app.store
        .save_bed_counts(
            id,
            &counts,
            confirm,
            ctx.viewer.signed_in().map(|u| u.id),
            app.clock.now(),
        )
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "beds.saved",
        format!("institution:{id}"),
    )
    .await;
    Ok(see_other(format!("/institutions/{id}/beds?done=saved")))
}

// ---------------------------------------------------------------------------------------------
// The board.

/// One institution on the board.
pub struct BoardRow {
    id: i64,
    name: String,
    kind: &'static str,
    distance: String,
    phone: String,
    available: String,
    physical: String,
    conditions: String,
    at: String,
    stale: bool,
    open: bool,
}

#[derive(Template)]
#[template(path = "beds_board.html")]
struct BoardPage {
    chrome: Chrome,
    types: Vec<(&'static str, &'static str, bool)>,
    distances: Vec<(u32, bool)>,
    needs: Vec<(&'static str, &'static str, bool)>,
    place: String,
    located: String,
    label: &'static str,
    rows: Vec<BoardRow>,
    unpublished: Vec<(i64, String, String)>,
    own: Option<i64>,
}

/// The place the board starts from: the viewer's institution's town, or nothing.
async fn home_place(app: &AppState, ctx: &Ctx) -> Result<(String, Option<i64>), PageError> {
    let Some(user) = ctx.viewer.signed_in() else {
        return Ok((String::new(), None));
    };
    let own = user
        .memberships
        .iter()
        .filter_map(|m| m.organisation.institution_id)
        .next();
    let Some(id) = own else {
        return Ok((String::new(), None));
    };
    let record = app
        .store
        .entry_records(&RecordQuery {
            ids: Some(vec![id]),
            limit: 1,
            ..RecordQuery::default()
        })
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .into_iter()
        .next();
    Ok((
        record
            .map(|r| super::urgent::town_of(&r.fields.address))
            .unwrap_or_default(),
        Some(id),
    ))
}

/// `GET /beds`: the beds of a type near a place, within a distance, with the capabilities
/// asked for; those that can take a patient now and were updated within a day first.
pub async fn board(
    State(app): State<AppState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let q = query.unwrap_or_default();
    let q = q.as_bytes();
    let bed_type = BedType::from_code(&form(q, "type")).unwrap_or(BedType::Respite);
    let km: u32 = form(q, "km")
        .parse()
        .ok()
        .filter(|k| DISTANCES.contains(k))
        .unwrap_or(15);
    let needed: Vec<Capability> = serde_urlencoded::from_bytes::<Vec<(String, String)>>(q)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k == "needed")
        .filter_map(|(_, v)| Capability::from_code(&v))
        .filter(|c| super::urgent::EXTRA_NEEDS.contains(c))
        .collect();
    let (home, own) = home_place(&app, &ctx).await?;
    let place = match form(q, "place") {
        p if p.trim().is_empty() => home,
        p => p,
    };
    let located = super::directory::located(&place);
    let now = app.clock.now();
    let mut rows = Vec::new();
    let mut unpublished = Vec::new();
    if let Some((_, lat, lng)) = &located {
        app.directory_index
            .ensure_loaded(&app.store)
            .await
            .map_err(|e| PageError::store(&ctx, e))?;
        let near = app.directory_index.nearest_capable(
            (*lat, *lng),
            &[InstitutionKind::Hospital, InstitutionKind::Clinic],
            &needed,
            f64::from(km),
            LOOKED_AT,
        );
        let ids: Vec<i64> = near.iter().map(|h| h.id).collect();
        let counts: Vec<BedRow> = app
            .store
            .bed_counts(&ids)
            .await
            .map_err(|e| PageError::store(&ctx, e))?
            .into_iter()
            .filter(|r| r.count.bed_type == bed_type)
            .collect();
        let phones = app
            .store
            .entry_records(&RecordQuery {
                ids: Some(counts.iter().map(|c| c.institution_id).collect()),
                limit: LOOKED_AT,
                ..RecordQuery::default()
            })
            .await
            .map_err(|e| PageError::store(&ctx, e))?;
        for h in &near {
            let Some(c) = counts.iter().find(|c| c.institution_id == h.id) else {
                if h.kind == InstitutionKind::Hospital.code() {
                    unpublished.push((h.id, h.name.clone(), format!("{:.1} km", h.distance_km)));
                }
                continue;
            };
            let (at, stale) = when(lang, c.available_at.as_deref(), now);
            let kind = InstitutionKind::from_code(h.kind)
                .map(|k| lang.pick(k.label_ja(), k.label_en()))
                .unwrap_or("");
            rows.push(BoardRow {
                id: h.id,
                name: h.name.clone(),
                kind,
                distance: format!("{:.1} km", h.distance_km),
                phone: phones
                    .iter()
                    .find(|r| r.id == h.id)
                    .and_then(|r| r.fields.phone.clone())
                    .unwrap_or_default(),
                available: c
                    .count
                    .available
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "—".into()),
                physical: c
                    .count
                    .physical
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "—".into()),
                conditions: c.count.conditions.clone(),
                open: !stale && c.count.available.is_some_and(|n| n > 0),
                at,
                stale,
            });
        }
        // Those that can take a patient now (and said so within a day) first, nearest first.
        rows.sort_by_key(|r| !r.open);
    }
    let page = BoardPage {
        chrome: Chrome::new(&ctx, "nav.coordination", false),
        types: BedType::ALL
            .iter()
            .map(|t| {
                (
                    t.code(),
                    lang.pick(t.label_ja(), t.label_en()),
                    *t == bed_type,
                )
            })
            .collect(),
        distances: DISTANCES.iter().map(|d| (*d, *d == km)).collect(),
        needs: super::urgent::EXTRA_NEEDS
            .iter()
            .map(|c| {
                (
                    c.code(),
                    lang.pick(c.label_ja(), c.label_en()),
                    needed.contains(c),
                )
            })
            .collect(),
        place,
        located: located.map(|(name, ..)| name).unwrap_or_default(),
        label: lang.pick(bed_type.label_ja(), bed_type.label_en()),
        rows,
        unpublished,
        own,
    };
    Ok(render(&ctx, &page)?.into_response())
}
