//! An institution's disaster baseline (`/institutions/{id}/readiness`): what does not change in
//! a disaster — generator, fuel, water tank, days of stock, satellite phone, home patients who
//! depend on power — kept by its staff in normal times, so its answer to a safety check stays
//! short and the hub can estimate how long it holds out. Not public: its staff edit it; the
//! coordinators of its area, the prefecture and the administrator read it.

use super::changes::may_edit;
use crate::auth::access::client_of;
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::i18n::{catalog, Catalog, Lang};
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, RawForm, State};
use axum::http::{header, Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use renkei_domain::accounts::AccountRole;
use renkei_domain::audit::Outcome;
use renkei_domain::safety::{limits, Baseline, FuelKind, PowerDependent};
use renkei_store::audit::AuditEvent;
use renkei_store::records::RecordQuery;

#[derive(Template)]
#[template(path = "readiness.html")]
struct ReadinessPage {
    chrome: Chrome,
    id: i64,
    name: String,
    can_edit: bool,
    updated: String,
    numbers: Vec<NumberField>,
    fuels: Vec<(&'static str, &'static str, bool)>,
    satellite_phone: bool,
    dependent: [String; 3],
    /// The dependent patients in a line: 「人工呼吸器 2人・在宅酸素 0人・吸引 0人」.
    dependent_line: String,
    /// The same counted from the patients the institution registered for its care teams.
    registered: Option<[u32; 3]>,
    note: String,
    error: Option<String>,
    saved: bool,
}

/// A numeric field as shown.
struct NumberField {
    /// Form name.
    field: &'static str,
    label: String,
    unit: String,
    /// 「発電機の出力（kVA）」.
    label_with_unit: String,
    /// The value as shown (or typed).
    value: String,
}

/// The numeric fields: (form name, unit's catalogue key, upper bound); the label's key is
/// `readiness.{form name}`.
const NUMBERS: [(&str, &str, u32); 7] = [
    ("generator_kva", "readiness.unit_kva", 10_000),
    ("fuel_litres", "readiness.unit_litres", 1_000_000),
    ("runtime_hours", "readiness.unit_hours", limits::FUEL_HOURS),
    ("water_tank_litres", "readiness.unit_litres", 10_000_000),
    ("drug_days", "readiness.unit_days", 365),
    ("food_days", "readiness.unit_days", 365),
    ("water_days", "readiness.unit_days", 365),
];

/// The fuels to choose from: (code, label, chosen).
fn fuel_choices(
    lang: Lang,
    chosen: impl Fn(FuelKind) -> bool,
) -> Vec<(&'static str, &'static str, bool)> {
    FuelKind::ALL
        .iter()
        .map(|f| (f.code(), lang.pick(f.label_ja(), f.label_en()), chosen(*f)))
        .collect()
}

/// 「人工呼吸器 2人・在宅酸素 0人・吸引 0人」 from the three counts as shown.
fn dependent_line(t: &Catalog, dependent: &[String; 3]) -> String {
    t.fill(
        "safety.dependent_line",
        &[
            ("v", &dependent[0]),
            ("o", &dependent[1]),
            ("s", &dependent[2]),
        ],
    )
}

fn value_of(b: &Baseline, name: &str) -> Option<u32> {
    match name {
        "generator_kva" => b.generator_kva,
        "fuel_litres" => b.fuel_litres,
        "runtime_hours" => b.runtime_hours,
        "water_tank_litres" => b.water_tank_litres,
        "drug_days" => b.drug_days,
        "food_days" => b.food_days,
        _ => b.water_days,
    }
}

/// The institution's name and area, and whether the viewer may edit or read its baseline.
pub(crate) async fn access(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
) -> Result<(String, bool), PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::not_found(ctx))?;
    let can_edit = may_edit(user, id);
    let prefecture = user.has_role(AccountRole::PrefectureViewer);
    if !can_edit && !prefecture && !user.has_role(AccountRole::HubCoordinator) {
        return Err(PageError::forbidden(ctx));
    }
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
        .next()
        .ok_or_else(|| PageError::not_found(ctx))?;
    let can_read = can_edit || prefecture || super::changes::may_decide(user, &record.area_code);
    if !can_read {
        return Err(PageError::forbidden(ctx));
    }
    Ok((record.fields.name, can_edit))
}

fn page_of(
    ctx: &Ctx,
    id: i64,
    name: String,
    can_edit: bool,
    baseline: &Baseline,
    updated: String,
) -> ReadinessPage {
    let p = &baseline.dependent_patients;
    let chrome = Chrome::new(ctx, "nav.disaster", false);
    let t = &chrome.t;
    let dependent = [p.ventilator, p.oxygen, p.suction].map(|n| n.to_string());
    ReadinessPage {
        id,
        name,
        can_edit,
        updated,
        numbers: NUMBERS
            .iter()
            .map(|(field, unit, _)| {
                let label = t.get(&format!("readiness.{field}"));
                let unit = t.get(unit);
                NumberField {
                    field,
                    label_with_unit: t
                        .fill("readiness.with_unit", &[("label", &label), ("unit", &unit)]),
                    label,
                    unit,
                    value: value_of(baseline, field)
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                }
            })
            .collect(),
        fuels: fuel_choices(ctx.lang, |f| baseline.fuel == Some(f)),
        satellite_phone: baseline.satellite_phone,
        dependent_line: dependent_line(t, &dependent),
        registered: None,
        dependent,
        note: baseline.note.clone(),
        error: None,
        saved: false,
        chrome,
    }
}

/// `GET /institutions/{id}/readiness`.
pub async fn show(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<super::safety_summary::SummaryQuery>,
) -> Result<Response, PageError> {
    let (name, can_edit) = access(&app, &ctx, id).await?;
    let stored = app
        .store
        .baseline(id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let (baseline, updated) = match stored {
        Some((b, at)) => (b, super::safety::jst_time_in(ctx.lang, &at)),
        None => (Baseline::default(), String::new()),
    };
    let mut page = page_of(&ctx, id, name, can_edit, &baseline, updated);
    page.saved = q.done.as_deref() == Some("saved");
    let registered = app
        .store
        .power_dependent_counts(id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    page.registered = (registered != [0, 0, 0]).then_some(registered);
    Ok(render(&ctx, &page)?.into_response())
}

/// Reads the form (the reasons it is refused in the language of `t`).
fn read(t: &Catalog, body: &[u8]) -> Result<Baseline, String> {
    use super::safety_form::read_count_in;
    let field = |n: &str| crate::auth::session::form_field(body, n).unwrap_or_default();
    let mut numbers = std::collections::HashMap::new();
    for (name, _, max) in NUMBERS {
        numbers.insert(
            name,
            read_count_in(t, &field(name), &format!("readiness.{name}"), max)?,
        );
    }
    let dependent = |name: &str, label: &str| -> Result<u32, String> {
        Ok(read_count_in(t, &field(name), label, limits::DEPENDENT)?.unwrap_or(0))
    };
    let baseline = Baseline {
        generator_kva: numbers["generator_kva"],
        fuel: FuelKind::from_code(&field("fuel")),
        fuel_litres: numbers["fuel_litres"],
        runtime_hours: numbers["runtime_hours"],
        water_tank_litres: numbers["water_tank_litres"],
        drug_days: numbers["drug_days"],
        food_days: numbers["food_days"],
        water_days: numbers["water_days"],
        satellite_phone: field("satellite_phone") == "1",
        dependent_patients: PowerDependent {
            ventilator: dependent("ventilator", "safety.f_ventilator_patients")?,
            oxygen: dependent("oxygen", "safety.f_oxygen_patients")?,
            suction: dependent("suction", "safety.f_suction_patients")?,
        },
        note: field("note").trim().to_owned(),
    };
    baseline.check()?;
    Ok(baseline)
}

/// `POST /institutions/{id}/readiness`: its staff save it (audited).
pub async fn save(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (name, can_edit) = access(&app, &ctx, id).await?;
    if !can_edit {
        return Err(PageError::forbidden(&ctx));
    }
    let baseline = match read(&catalog(ctx.lang), &body) {
        Ok(b) => b,
        Err(e) => {
            let mut page = page_of(&ctx, id, name, true, &Baseline::default(), String::new());
            let field = |n: &str| crate::auth::session::form_field(&body, n).unwrap_or_default();
            for n in &mut page.numbers {
                n.value = field(n.field);
            }
            page.dependent = ["ventilator", "oxygen", "suction"].map(field);
            page.dependent_line = dependent_line(&page.chrome.t, &page.dependent);
            page.note = field("note");
            page.satellite_phone = field("satellite_phone") == "1";
            page.fuels = fuel_choices(ctx.lang, |f| field("fuel") == f.code());
            page.error = Some(e);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&ctx, &page)?).into_response());
        }
    };
    let user = ctx.viewer.signed_in().map(|u| u.id);
    app.store
        .save_baseline(id, &baseline, user)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let event = AuditEvent::new(
        user,
        "readiness.saved",
        Outcome::Ok,
        format!("institution:{id}"),
        client_of(&extensions),
    );
    let _ = app.store.append_audit(&event).await;
    Ok((
        StatusCode::SEE_OTHER,
        [(
            header::LOCATION,
            format!("/institutions/{id}/readiness?done=saved"),
        )],
    )
        .into_response())
}

/// One area's readiness in figures.
pub struct AreaReadiness {
    /// Area name.
    pub name: String,
    /// Institutions.
    pub institutions: usize,
    /// BCP in place / being written.
    pub bcp_done: usize,
    /// BCP being written.
    pub bcp_drafting: usize,
    /// A BCP drill within the last year.
    pub bcp_drilled: usize,
    /// A BCP document uploaded.
    pub bcp_documents: usize,
    /// Active institutions, and those whose 災害時計画 (role ④) is in place.
    pub active: usize,
    /// Role ④ available now.
    pub plan_ready: usize,
    /// With emergency power (any kind), and lendable.
    pub powered: usize,
    /// Power that can be lent.
    pub lendable: usize,
    /// Baselines registered.
    pub baselines: usize,
    /// Power-dependent home patients registered.
    pub dependent: u32,
}

/// One institution's row.
pub struct ReadinessLine {
    id: i64,
    name: String,
    area: String,
    kind: &'static str,
    active: bool,
    bcp: &'static str,
    /// The last BCP drill (和暦 in Japanese).
    bcp_drill: String,
    /// The document: uploaded, shared with the hub.
    bcp_document: String,
    plan: &'static str,
    power: &'static str,
    lendable: bool,
    /// Registered units: 「2台（貸出可1）」.
    units: String,
    baseline: String,
}

#[derive(Template)]
#[template(path = "hub_readiness.html")]
struct HubReadinessPage {
    chrome: Chrome,
    areas: Vec<AreaReadiness>,
    lines: Vec<ReadinessLine>,
}

/// `GET /hub/readiness` (and `.csv`): who has a BCP, a disaster plan (role ④), emergency power
/// (lendable or not) and a registered baseline, per area and per institution, in `lang`.
async fn overview(
    app: &AppState,
    ctx: &Ctx,
    lang: Lang,
) -> Result<(Vec<AreaReadiness>, Vec<ReadinessLine>), PageError> {
    use renkei_domain::readiness::{BcpStatus, PowerKind};
    use renkei_domain::region::RoleStatus;
    let t = catalog(lang);
    let reach = super::safety::reach(app, ctx).await?;
    let names = reach.names(lang);
    let visible = reach.visible;
    let codes: Vec<String> = visible.iter().map(|(c, _)| c.clone()).collect();
    let year_ago = crate::clock::today(app) - chrono::Days::new(365);
    let rows = app
        .store
        .readiness_overview(&codes)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let name_of = |code: &str| names.get(code).cloned().unwrap_or_else(|| code.to_owned());
    let areas = visible
        .iter()
        .map(|(code, _)| {
            let mine: Vec<_> = rows.iter().filter(|r| &r.area == code).collect();
            AreaReadiness {
                name: name_of(code),
                institutions: mine.len(),
                bcp_done: mine
                    .iter()
                    .filter(|r| r.bcp == BcpStatus::Done.code())
                    .count(),
                bcp_drafting: mine
                    .iter()
                    .filter(|r| r.bcp == BcpStatus::Drafting.code())
                    .count(),
                bcp_drilled: mine
                    .iter()
                    .filter(|r| {
                        r.last_bcp_drill
                            .as_deref()
                            .and_then(|d| d.parse::<chrono::NaiveDate>().ok())
                            .is_some_and(|d| d >= year_ago)
                    })
                    .count(),
                bcp_documents: mine.iter().filter(|r| r.bcp_document).count(),
                active: mine.iter().filter(|r| r.active).count(),
                plan_ready: mine
                    .iter()
                    .filter(|r| r.disaster_plan.as_deref() == Some(RoleStatus::Available.code()))
                    .count(),
                powered: mine
                    .iter()
                    .filter(|r| {
                        !matches!(
                            PowerKind::parse(&r.power),
                            None | Some(PowerKind::Unknown | PowerKind::None)
                        )
                    })
                    .count(),
                lendable: mine.iter().filter(|r| r.lendable).count(),
                baselines: mine.iter().filter(|r| r.baseline.is_some()).count(),
                dependent: mine
                    .iter()
                    .filter_map(|r| r.baseline.as_ref())
                    .map(|b| b.dependent_patients.total())
                    .sum(),
            }
        })
        .collect();
    let lines = rows
        .iter()
        .map(|r| ReadinessLine {
            id: r.id,
            name: r.name.clone(),
            area: name_of(&r.area),
            kind: lang.pick(r.kind.label_ja(), r.kind.label_en()),
            active: r.active,
            bcp: {
                let bcp = BcpStatus::parse(&r.bcp).unwrap_or_default();
                lang.pick(bcp.label_ja(), bcp.label_en())
            },
            bcp_drill: r
                .last_bcp_drill
                .as_deref()
                .and_then(|d| d.parse().ok())
                .map(|d| super::safety::date_in(lang, d))
                .unwrap_or_default(),
            bcp_document: match (r.bcp_document, r.bcp_shared_with_hub) {
                (false, _) => String::new(),
                (true, false) => t.get("readiness.registered"),
                (true, true) => t.get("readiness.registered_shared"),
            },
            units: if r.power_units == 0 {
                String::new()
            } else {
                t.fill(
                    "readiness.units_line",
                    &[("n", &r.power_units), ("m", &r.lendable_units)],
                )
            },
            plan: match r.disaster_plan.as_deref().and_then(RoleStatus::from_code) {
                Some(s) => lang.pick(s.label_ja(), s.label_en()),
                None => "",
            },
            power: {
                let power = PowerKind::parse(&r.power).unwrap_or_default();
                lang.pick(power.label_ja(), power.label_en())
            },
            lendable: r.lendable,
            baseline: r
                .baseline
                .as_ref()
                .map(|b| {
                    let mut parts = Vec::new();
                    if let Some(k) = b.generator_kva {
                        parts.push(t.fill1("readiness.b_generator", "k", k));
                    }
                    if let Some(h) = b.runtime_hours {
                        parts.push(t.fill1("readiness.b_runtime", "h", h));
                    }
                    if b.satellite_phone {
                        parts.push(t.get("readiness.satellite"));
                    }
                    let p = b.dependent_patients.total();
                    if p > 0 {
                        parts.push(t.fill1("safety.dependent_badge", "n", p));
                    }
                    if parts.is_empty() {
                        t.get("readiness.registered")
                    } else {
                        parts.join(&t.get("safety.sep"))
                    }
                })
                .unwrap_or_default(),
        })
        .collect();
    Ok((areas, lines))
}

/// `GET /hub/readiness`.
pub async fn hub(State(app): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    let (areas, lines) = overview(&app, &ctx, ctx.lang).await?;
    let page = HubReadinessPage {
        chrome: Chrome::new(&ctx, "nav.disaster", false),
        areas,
        lines,
    };
    Ok(render(&ctx, &page)?.into_response())
}

/// `GET /hub/readiness.csv` (in Japanese, like the other exports).
pub async fn hub_csv(State(app): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    let (_, lines) = overview(&app, &ctx, Lang::Ja).await?;
    let rows: Vec<Vec<String>> = lines
        .into_iter()
        .map(|l| {
            vec![
                l.area,
                l.kind.to_owned(),
                l.name,
                if l.active {
                    "○".into()
                } else {
                    String::new()
                },
                l.bcp.to_owned(),
                l.bcp_drill,
                l.bcp_document,
                l.plan.to_owned(),
                l.power.to_owned(),
                if l.lendable {
                    "○".into()
                } else {
                    String::new()
                },
                l.units,
                l.baseline,
            ]
        })
        .collect();
    let csv = crate::export::table_csv(
        &[
            "地域",
            "種別",
            "名称",
            "積極的医療機関",
            "BCP",
            "BCP 訓練（最終）",
            "BCP 計画書",
            "災害時計画（役割④）",
            "非常用電源",
            "電源の貸出",
            "登録している電源機器",
            "平常時の登録",
        ],
        &rows,
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"renkei-readiness.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}
