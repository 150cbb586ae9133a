//! The home page: the region at a glance — each area with its hub(s), its institutions by kind
//! and its active institutions.

use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::i18n::Lang;
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::Html;
use renkei_domain::institution::InstitutionKind;
use renkei_store::region::RegionOverview;

/// One area card.
#[derive(Debug)]
pub struct AreaCard {
    code: String,
    name: String,
    document: String,
    hub_operators: Vec<String>,
    contractor: String,
    kinds: Vec<(String, i64)>,
    total: i64,
    active: i64,
    approximated_towns: i64,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    overview: Option<RegionOverview>,
    prefecture_name: String,
    region_name: String,
    areas: Vec<AreaCard>,
    total_institutions: i64,
    total_active: i64,
}

/// `GET /`.
pub async fn show(State(state): State<AppState>, ctx: Ctx) -> Result<Html<String>, PageError> {
    let overview = state
        .overview
        .get(&state.store)
        .await
        .map(|o| (*o).clone())
        .map_err(|e| PageError::store(&ctx, e))?;
    let demo = overview.as_ref().is_some_and(|o| o.has_demo_data);
    let chrome = Chrome::new(&ctx, "nav.home", demo);
    let areas: Vec<AreaCard> = overview
        .iter()
        .flat_map(|o| o.areas.iter())
        .map(|a| AreaCard {
            code: a.code.clone(),
            name: if ctx.lang == Lang::En {
                a.name_en.clone()
            } else {
                a.name.clone()
            },
            document: a.document.clone(),
            hub_operators: a.hub_operators.clone(),
            contractor: a.contractor.clone(),
            kinds: InstitutionKind::ALL
                .iter()
                .map(|k| {
                    (
                        kind_label(*k, ctx.lang).to_owned(),
                        a.institutions_by_kind.get(k.code()).copied().unwrap_or(0),
                    )
                })
                .collect(),
            total: a.institutions,
            active: a.active_institutions,
            approximated_towns: a.approximated_towns,
        })
        .collect();
    let page = HomePage {
        prefecture_name: overview
            .as_ref()
            .map(|o| {
                if ctx.lang == Lang::En {
                    o.prefecture_en.clone()
                } else {
                    o.prefecture.clone()
                }
            })
            .unwrap_or_default(),
        region_name: overview
            .as_ref()
            .map(|o| {
                if ctx.lang == Lang::En {
                    o.region_en.clone()
                } else {
                    o.region.clone()
                }
            })
            .unwrap_or_default(),
        total_institutions: areas.iter().map(|a| a.total).sum(),
        total_active: areas.iter().map(|a| a.active).sum(),
        overview,
        areas,
        chrome,
    };
    render(&ctx, &page)
}

/// The label of a kind in a language.
pub fn kind_label(kind: InstitutionKind, lang: Lang) -> &'static str {
    match lang {
        Lang::Ja => kind.label_ja(),
        Lang::En => kind.label_en(),
    }
}

/// Renders a template, turning a template failure into a 500 page.
pub fn render<T: Template>(ctx: &Ctx, page: &T) -> Result<Html<String>, PageError> {
    page.render().map(Html).map_err(|e| {
        PageError::store(
            ctx,
            renkei_store::StoreError::Invalid(format!("template: {e}")),
        )
    })
}
