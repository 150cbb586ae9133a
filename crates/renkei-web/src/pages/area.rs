//! An area's page: its hub, its active institutions with the six roles, and every institution
//! by kind.

use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::i18n::Lang;
use crate::pages::home::{kind_label, render};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;
use renkei_domain::institution::InstitutionKind;
use renkei_domain::region::{Role, RoleStatus};
use renkei_store::directory::InstitutionSummary;
use renkei_store::region::AreaOverview;

/// An active institution's row: name and one mark per role (○ △ ×).
#[derive(Debug)]
pub struct ActiveRow {
    name: String,
    marks: Vec<&'static str>,
}

/// Institutions of one kind.
#[derive(Debug)]
pub struct KindGroup {
    label: &'static str,
    rows: Vec<InstitutionSummary>,
}

/// The area header shown on the page.
#[derive(Debug)]
pub struct AreaHeader {
    name: String,
    hub_operators: Vec<String>,
    contractor: String,
    towns: i64,
}

#[derive(Template)]
#[template(path = "area.html")]
struct AreaPage {
    chrome: Chrome,
    area: AreaHeader,
    area_code: String,
    roles: Vec<(char, &'static str)>,
    active: Vec<ActiveRow>,
    available_counts: Vec<usize>,
    groups: Vec<KindGroup>,
}

/// `GET /areas/{code}`.
pub async fn show(
    State(state): State<AppState>,
    Path(code): Path<String>,
    ctx: Ctx,
) -> Result<Html<String>, PageError> {
    let overview = state
        .overview
        .get(&state.store)
        .await
        .map(|o| (*o).clone())
        .map_err(|e| PageError::store(&ctx, e))?;
    let Some(overview) = overview else {
        return Err(PageError::not_found(&ctx));
    };
    let Some(area) = overview.areas.iter().find(|a| a.code == code) else {
        return Err(PageError::not_found(&ctx));
    };
    let institutions = state
        .store
        .institutions_in_area(&code)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let active: Vec<ActiveRow> = institutions
        .iter()
        .filter(|i| i.is_active)
        .map(active_row)
        .collect();
    let available_counts = Role::ALL
        .iter()
        .map(|role| {
            institutions
                .iter()
                .filter(|i| {
                    i.is_active
                        && i.roles
                            .iter()
                            .any(|(r, s)| r == role.code() && s == RoleStatus::Available.code())
                })
                .count()
        })
        .collect();
    let groups = InstitutionKind::ALL
        .iter()
        .map(|kind| KindGroup {
            label: kind_label(*kind, ctx.lang),
            rows: institutions
                .iter()
                .filter(|i| i.kind == kind.code())
                .cloned()
                .collect(),
        })
        .filter(|g| !g.rows.is_empty())
        .collect();
    let page = AreaPage {
        chrome: Chrome::new(&ctx, "nav.home", overview.has_demo_data),
        area: header(area, ctx.lang),
        area_code: area.code.clone(),
        roles: Role::ALL
            .iter()
            .map(|r| {
                (
                    r.circled(),
                    if ctx.lang == Lang::En {
                        r.label_en()
                    } else {
                        r.label_ja()
                    },
                )
            })
            .collect(),
        active,
        available_counts,
        groups,
    };
    render(&ctx, &page)
}

fn header(area: &AreaOverview, lang: Lang) -> AreaHeader {
    AreaHeader {
        name: if lang == Lang::En {
            area.name_en.clone()
        } else {
            area.name.clone()
        },
        hub_operators: area.hub_operators.clone(),
        contractor: area.contractor.clone(),
        towns: area.towns,
    }
}

fn active_row(institution: &InstitutionSummary) -> ActiveRow {
    let marks = if institution.roles.is_empty() {
        Vec::new()
    } else {
        Role::ALL
            .iter()
            .map(|role| {
                let status = institution
                    .roles
                    .iter()
                    .find(|(r, _)| r == role.code())
                    .and_then(|(_, s)| RoleStatus::from_code(s));
                match status {
                    Some(RoleStatus::Available) => "○",
                    Some(RoleStatus::Planned) => "△",
                    Some(RoleStatus::No) => "×",
                    None => "—",
                }
            })
            .collect()
    };
    ActiveRow {
        name: institution.name.clone(),
        marks,
    }
}
