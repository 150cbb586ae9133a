//! The hub coordinator's page: the coordinator's own area(s) — or, for the prefecture and the
//! administrator, every hub read-only — with the active institutions' role coverage.

use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::i18n::Lang;
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use renkei_domain::accounts::AccountRole;
use renkei_domain::region::Role;

/// One area's row.
#[derive(Debug)]
pub struct HubRow {
    code: String,
    name: String,
    hub: String,
    institutions: i64,
    active: i64,
    /// (circled number, available count, role label) per role.
    cells: Vec<(char, i64, &'static str)>,
    /// Whether any role status was reported for the area.
    reported: bool,
}

#[derive(Template)]
#[template(path = "hub.html")]
struct HubPage {
    chrome: Chrome,
    all_hubs: bool,
    roles: Vec<(char, &'static str)>,
    rows: Vec<HubRow>,
    /// Institutions of the coordinator's areas, for the invitation form.
    institutions: Vec<(i64, String)>,
    /// The viewer coordinates a hub (its consultation window and events are theirs).
    coordinates: bool,
}

/// `GET /hub`.
pub async fn show(State(app): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::not_found(&ctx))?;
    let all_hubs =
        user.has_role(AccountRole::PrefectureViewer) || user.has_role(AccountRole::SystemAdmin);
    let own_areas: Vec<String> = user
        .memberships
        .iter()
        .filter(|m| m.role == AccountRole::HubCoordinator)
        .filter_map(|m| m.organisation.area_code.clone())
        .collect();
    let overview = app
        .overview
        .get(&app.store)
        .await
        .map(|o| (*o).clone())
        .map_err(|e| PageError::store(&ctx, e))?;
    let availability = app
        .store
        .role_availability()
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let rows = overview
        .map(|o| o.areas)
        .unwrap_or_default()
        .into_iter()
        .filter(|a| all_hubs || own_areas.contains(&a.code))
        .map(|a| {
            let available: Vec<i64> = Role::ALL
                .iter()
                .map(|r| {
                    availability
                        .iter()
                        .find(|(area, role, _)| *area == a.code && role == r.code())
                        .map(|(_, _, n)| *n)
                        .unwrap_or(0)
                })
                .collect();
            let label = |r: &Role| {
                if ctx.lang == Lang::En {
                    r.label_en()
                } else {
                    r.short_ja()
                }
            };
            HubRow {
                reported: available.iter().any(|n| *n > 0),
                cells: Role::ALL
                    .iter()
                    .zip(&available)
                    .map(|(r, n)| (r.circled(), *n, label(r)))
                    .collect(),
                name: if ctx.lang == Lang::En {
                    a.name_en
                } else {
                    a.name
                },
                hub: a.hub_operators.join("、"),
                institutions: a.institutions,
                active: a.active_institutions,
                code: a.code,
            }
        })
        .collect();
    let mut institutions = Vec::new();
    for area in &own_areas {
        let list = app
            .store
            .institutions_in_area(area)
            .await
            .map_err(|e| PageError::store(&ctx, e))?;
        institutions.extend(list.into_iter().map(|i| (i.id.0, i.name)));
    }
    let page = HubPage {
        coordinates: !own_areas.is_empty(),
        institutions,
        chrome: Chrome::new(&ctx, "nav.hub", false),
        all_hubs,
        roles: Role::ALL
            .iter()
            .map(|r| {
                (
                    r.circled(),
                    if ctx.lang == Lang::En {
                        r.label_en()
                    } else {
                        r.short_ja()
                    },
                )
            })
            .collect(),
        rows,
    };
    Ok(render(&ctx, &page)?.into_response())
}
