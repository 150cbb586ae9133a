//! Emergency power and its lending (`/institutions/{id}/power`, `/hub/power`): an institution
//! registers its generators and batteries and its lending rules (運用ルール, shared with its hub);
//! another institution that needs power for a home patient's device asks for the nearest
//! suitable unit; the owner agrees or declines and records the return. Not public: the units
//! are seen by their owner's staff, the hub and the prefecture, and offered (with the owner's
//! phone and rules) to signed-in institution staff who ask to borrow.

use super::safety::{audit, see_other};
use super::shared::form;
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::i18n::Lang;
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, RawForm, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use renkei_domain::power::{read_day, suggest, Device, LendingStatus, Need, PowerUnit, UnitKind};
use renkei_domain::safety::{read_count, FuelKind};
use renkei_store::power::{LendingRow, UnitRow};
use renkei_store::StoreError;
use serde::Deserialize;

/// How many suggestions the borrow page lists.
const SUGGESTIONS: usize = 10;

/// A label in the page's language.
fn label(lang: Lang, ja: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Ja => ja,
        Lang::En => en,
    }
}

/// A lending as the pages list it.
pub struct LendingView {
    id: i64,
    unit: String,
    owner_id: i64,
    owner: String,
    requester_id: i64,
    requester: String,
    device: &'static str,
    watts: u32,
    period: String,
    contact: String,
    note: String,
    status: &'static str,
    status_code: &'static str,
    requested: String,
    decided: String,
    reason: String,
    returned: String,
    can_decide: bool,
    can_withdraw: bool,
    can_return: bool,
}

fn lending_view(lang: Lang, l: &LendingRow, owner_acts: bool, requester_acts: bool) -> LendingView {
    use renkei_domain::fiscal_year::format_wareki_date;
    LendingView {
        id: l.id,
        unit: format!("{}（{} W）", l.unit_label, l.unit_watts),
        owner_id: l.owner_id,
        owner: l.owner_name.clone(),
        requester_id: l.requester_id,
        requester: l.requester_name.clone(),
        device: label(lang, l.need.device.label_ja(), l.need.device.label_en()),
        watts: l.need.watts,
        period: format!(
            "{} 〜 {}",
            format_wareki_date(l.need.starts_on),
            format_wareki_date(l.need.ends_on)
        ),
        contact: l.contact.clone(),
        note: l.note.clone(),
        status: label(lang, l.status.label_ja(), l.status.label_en()),
        status_code: l.status.code(),
        requested: super::safety::jst_time(&l.requested_at),
        decided: l
            .decided_at
            .as_deref()
            .map(super::safety::jst_time)
            .unwrap_or_default(),
        reason: l.reason.clone().unwrap_or_default(),
        returned: l
            .returned_at
            .as_deref()
            .map(super::safety::jst_time)
            .unwrap_or_default(),
        can_decide: owner_acts && l.status == LendingStatus::Requested,
        can_withdraw: requester_acts && l.status == LendingStatus::Requested,
        can_return: owner_acts && l.status == LendingStatus::Agreed,
    }
}

/// A registered unit as listed.
pub struct UnitView {
    id: i64,
    kind: &'static str,
    label: String,
    output: u32,
    capacity: String,
    runtime: String,
    fuel: &'static str,
    lendable: bool,
    lent_out: bool,
    note: String,
}

fn unit_view(lang: Lang, u: &UnitRow) -> UnitView {
    UnitView {
        id: u.id,
        kind: label(lang, u.unit.kind.label_ja(), u.unit.kind.label_en()),
        label: u.unit.label.clone(),
        output: u.unit.output_watts,
        capacity: u
            .unit
            .capacity_wh
            .map(|c| format!("{c} Wh"))
            .unwrap_or_default(),
        runtime: hours(lang, u.unit.runtime_hours),
        fuel: u
            .unit
            .fuel
            .map(|f| label(lang, f.label_ja(), f.label_en()))
            .unwrap_or(""),
        lendable: u.unit.lendable,
        lent_out: u.lent_out,
        note: u.unit.note.clone(),
    }
}

fn hours(lang: Lang, h: Option<u32>) -> String {
    h.map(|h| format!("{h} {}", label(lang, "時間", "h")))
        .unwrap_or_default()
}

/// The unit form (new or editing).
pub struct UnitForm {
    /// The unit being edited.
    editing: Option<i64>,
    kinds: Vec<(&'static str, &'static str, bool)>,
    fuels: Vec<(&'static str, &'static str, bool)>,
    label: String,
    output_watts: String,
    capacity_wh: String,
    runtime_hours: String,
    lendable: bool,
    note: String,
}

impl UnitForm {
    fn of(lang: Lang, editing: Option<i64>, unit: Option<&PowerUnit>) -> Self {
        let n = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
        UnitForm {
            editing,
            kinds: UnitKind::ALL
                .iter()
                .map(|k| {
                    (
                        k.code(),
                        label(lang, k.label_ja(), k.label_en()),
                        unit.map_or(*k == UnitKind::PortableGenerator, |u| u.kind == *k),
                    )
                })
                .collect(),
            fuels: FuelKind::ALL
                .iter()
                .map(|f| {
                    (
                        f.code(),
                        label(lang, f.label_ja(), f.label_en()),
                        unit.is_some_and(|u| u.fuel == Some(*f)),
                    )
                })
                .collect(),
            label: unit.map(|u| u.label.clone()).unwrap_or_default(),
            output_watts: unit.map(|u| u.output_watts.to_string()).unwrap_or_default(),
            capacity_wh: n(unit.and_then(|u| u.capacity_wh)),
            runtime_hours: n(unit.and_then(|u| u.runtime_hours)),
            lendable: unit.is_some_and(|u| u.lendable),
            note: unit.map(|u| u.note.clone()).unwrap_or_default(),
        }
    }

    /// The form as typed (after a refused save).
    fn typed(lang: Lang, editing: Option<i64>, body: &[u8]) -> Self {
        let mut f = UnitForm::of(lang, editing, None);
        let kind = form(body, "kind");
        for k in &mut f.kinds {
            k.2 = k.0 == kind;
        }
        let fuel = form(body, "fuel");
        for x in &mut f.fuels {
            x.2 = x.0 == fuel;
        }
        f.label = form(body, "label");
        f.output_watts = form(body, "output_watts");
        f.capacity_wh = form(body, "capacity_wh");
        f.runtime_hours = form(body, "runtime_hours");
        f.lendable = form(body, "lendable") == "1";
        f.note = form(body, "note");
        f
    }
}

#[derive(Template)]
#[template(path = "power.html")]
struct PowerPage {
    chrome: Chrome,
    id: i64,
    name: String,
    can_edit: bool,
    notice: Option<String>,
    error: Option<String>,
    units: Vec<UnitView>,
    form: UnitForm,
    rules: String,
    rules_updated: String,
    /// (heading key, lendings, whether they are requests received).
    sections: Vec<(&'static str, Vec<LendingView>, bool)>,
}

/// What a finished action says on the page it returns to.
fn notice_of(lang: Lang, done: Option<&str>) -> Option<String> {
    let text = match done? {
        "unit_saved" => label(lang, "機器を保存しました。", "The unit was saved."),
        "unit_retired" => label(lang, "機器の登録を外しました。", "The unit was removed."),
        "rules_saved" => label(
            lang,
            "貸出の運用ルールを保存しました。連携の拠点にも共有されます。",
            "The lending rules were saved and shared with the hub.",
        ),
        "requested" => label(
            lang,
            "貸出を依頼しました。貸出元にメールで知らせました。急ぐときは電話もしてください。",
            "The request was sent and the owner notified by mail. Call them too if it is urgent.",
        ),
        "agreed" => label(
            lang,
            "貸出を決定しました。依頼元に知らせました。",
            "Agreed; the requester was notified.",
        ),
        "declined" => label(
            lang,
            "お断りしました。依頼元に知らせました。",
            "Declined; the requester was notified.",
        ),
        "withdrawn" => label(lang, "依頼を取り下げました。", "The request was withdrawn."),
        "returned" => label(lang, "返却を記録しました。", "The return was recorded."),
        _ => return None,
    };
    Some(text.to_owned())
}

/// Builds the institution's power page.
async fn power_page(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    editing: Option<i64>,
) -> Result<PowerPage, PageError> {
    let (name, can_edit) = super::readiness::access(app, ctx, id).await?;
    let lang = ctx.lang;
    let units = app
        .store
        .power_units(id, crate::clock::today(app))
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let rules = app
        .store
        .power_rules(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let (received, sent) = app
        .store
        .lendings_of(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let edited = editing.and_then(|e| units.iter().find(|u| u.id == e));
    Ok(PowerPage {
        chrome: Chrome::new(ctx, "nav.disaster", false),
        id,
        name,
        can_edit,
        notice: None,
        error: None,
        form: UnitForm::of(lang, edited.map(|u| u.id), edited.map(|u| &u.unit)),
        units: units.iter().map(|u| unit_view(lang, u)).collect(),
        rules_updated: rules
            .as_ref()
            .map(|(_, at)| super::safety::jst_time(at))
            .unwrap_or_default(),
        rules: rules.map(|(r, _)| r).unwrap_or_default(),
        sections: vec![
            (
                "power.received",
                received
                    .iter()
                    .map(|l| lending_view(lang, l, can_edit, false))
                    .collect(),
                true,
            ),
            (
                "power.sent",
                sent.iter()
                    .map(|l| lending_view(lang, l, false, can_edit))
                    .collect(),
                false,
            ),
        ],
    })
}

/// The query of the power page.
#[derive(Debug, Deserialize, Default)]
pub struct PowerQuery {
    /// What was just done.
    pub done: Option<String>,
    /// The unit to edit.
    pub edit: Option<i64>,
}

/// `GET /institutions/{id}/power`.
pub async fn show(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<PowerQuery>,
) -> Result<Response, PageError> {
    let mut page = power_page(&app, &ctx, id, q.edit).await?;
    page.notice = notice_of(ctx.lang, q.done.as_deref());
    Ok(render(&ctx, &page)?.into_response())
}

/// The power page again with a message (422 for bad input, 409 for a conflict).
async fn refused(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    status: StatusCode,
    message: String,
    typed: Option<UnitForm>,
) -> Result<Response, PageError> {
    let mut page = power_page(app, ctx, id, None).await?;
    page.error = Some(message);
    if let Some(f) = typed {
        page.form = f;
    }
    Ok((status, render(ctx, &page)?).into_response())
}

/// Reads the unit form.
fn read_unit(body: &[u8]) -> Result<PowerUnit, String> {
    let kind = UnitKind::from_code(&form(body, "kind"))
        .ok_or_else(|| "機器の種類を選んでください".to_owned())?;
    let output = read_count(
        &form(body, "output_watts").replace(['W', 'w'], ""),
        "定格出力（W）",
        renkei_domain::power::limits::OUTPUT_WATTS,
    )?
    .unwrap_or(0);
    let unit = PowerUnit {
        kind,
        label: form(body, "label").trim().to_owned(),
        output_watts: output,
        capacity_wh: read_count(
            &form(body, "capacity_wh").replace(['W', 'h'], ""),
            "容量（Wh）",
            renkei_domain::power::limits::CAPACITY_WH,
        )?,
        runtime_hours: read_count(
            &form(body, "runtime_hours"),
            "運転できる時間",
            renkei_domain::power::limits::RUNTIME_HOURS,
        )?,
        fuel: FuelKind::from_code(&form(body, "fuel")),
        lendable: form(body, "lendable") == "1",
        note: form(body, "note").trim().to_owned(),
    };
    unit.check()?;
    Ok(unit)
}

/// `POST /institutions/{id}/power/units` (new) and `…/units/{unit}` (edit): its staff save a unit.
async fn save_unit(
    app: AppState,
    ctx: Ctx,
    extensions: Extensions,
    id: i64,
    unit_id: Option<i64>,
    body: &[u8],
) -> Result<Response, PageError> {
    let (_, can_edit) = super::readiness::access(&app, &ctx, id).await?;
    if !can_edit {
        return Err(PageError::forbidden(&ctx));
    }
    let unit = match read_unit(body) {
        Ok(u) => u,
        Err(e) => {
            let typed = UnitForm::typed(ctx.lang, unit_id, body);
            return refused(
                &app,
                &ctx,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                e,
                Some(typed),
            )
            .await;
        }
    };
    let by = ctx.viewer.signed_in().map(|u| u.id);
    let saved = match unit_id {
        None => app.store.add_power_unit(id, &unit, by).await.map(Some),
        Some(u) => app
            .store
            .update_power_unit(id, u, &unit, by)
            .await
            .map(|done| done.then_some(u)),
    }
    .map_err(|e| PageError::store(&ctx, e))?;
    let Some(saved) = saved else {
        return Err(PageError::not_found(&ctx));
    };
    audit(
        &app,
        &ctx,
        &extensions,
        "power.unit_saved",
        format!("power_unit:{saved}"),
    )
    .await;
    Ok(see_other(format!(
        "/institutions/{id}/power?done=unit_saved"
    )))
}

/// `POST /institutions/{id}/power/units`.
pub async fn add_unit(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    save_unit(app, ctx, extensions, id, None, &body).await
}

/// `POST /institutions/{id}/power/units/{unit}`.
pub async fn edit_unit(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path((id, unit)): Path<(i64, i64)>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    save_unit(app, ctx, extensions, id, Some(unit), &body).await
}

/// `POST /institutions/{id}/power/units/{unit}/retire`.
pub async fn retire_unit(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path((id, unit)): Path<(i64, i64)>,
) -> Result<Response, PageError> {
    let (_, can_edit) = super::readiness::access(&app, &ctx, id).await?;
    if !can_edit {
        return Err(PageError::forbidden(&ctx));
    }
    let by = ctx.viewer.signed_in().map(|u| u.id);
    match app.store.retire_power_unit(id, unit, by).await {
        Ok(true) => {}
        Ok(false) => return Err(PageError::not_found(&ctx)),
        Err(StoreError::Conflict(m)) => {
            return refused(&app, &ctx, id, StatusCode::CONFLICT, m, None).await
        }
        Err(e) => return Err(PageError::store(&ctx, e)),
    }
    audit(
        &app,
        &ctx,
        &extensions,
        "power.unit_retired",
        format!("power_unit:{unit}"),
    )
    .await;
    Ok(see_other(format!(
        "/institutions/{id}/power?done=unit_retired"
    )))
}

/// `POST /institutions/{id}/power/rules`: the lending rules (運用ルール).
pub async fn save_rules(
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
    let rules = form(&body, "rules");
    if rules.chars().count() > 5000 {
        let message = "運用ルールは5000文字までにしてください".to_owned();
        return refused(
            &app,
            &ctx,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            message,
            None,
        )
        .await;
    }
    let by = ctx.viewer.signed_in().map(|u| u.id);
    app.store
        .save_power_rules(id, &rules, by)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "power.rules_saved",
        format!("institution:{id}"),
    )
    .await;
    Ok(see_other(format!(
        "/institutions/{id}/power?done=rules_saved"
    )))
}

/// A suggested unit on the borrow page.
pub struct OfferView {
    unit_id: i64,
    owner: String,
    phone: String,
    distance: String,
    kind: &'static str,
    label: String,
    output: u32,
    runtime: String,
    busy: bool,
    rules: String,
}

#[derive(Template)]
#[template(path = "power_borrow.html")]
struct BorrowPage {
    chrome: Chrome,
    id: i64,
    name: String,
    devices: Vec<(&'static str, &'static str, bool)>,
    watts: String,
    starts_on: String,
    ends_on: String,
    contact: String,
    note: String,
    error: Option<String>,
    searched: bool,
    offers: Vec<OfferView>,
}

/// The borrow form's fields (query on GET, body on POST).
#[derive(Debug, Deserialize, Default)]
pub struct BorrowQuery {
    device: Option<String>,
    watts: Option<String>,
    starts_on: Option<String>,
    ends_on: Option<String>,
    contact: Option<String>,
    note: Option<String>,
}

impl BorrowQuery {
    fn from_body(body: &[u8]) -> Self {
        let f = |n: &str| crate::auth::session::form_field(body, n);
        BorrowQuery {
            device: f("device"),
            watts: f("watts"),
            starts_on: f("starts_on"),
            ends_on: f("ends_on"),
            contact: f("contact"),
            note: f("note"),
        }
    }

    /// The need typed, checked against today.
    fn need(&self, today: NaiveDate) -> Result<Need, String> {
        let device = self
            .device
            .as_deref()
            .and_then(Device::from_code)
            .ok_or_else(|| "電源を使う機器を選んでください".to_owned())?;
        let watts = read_count(
            &self
                .watts
                .clone()
                .unwrap_or_default()
                .replace(['W', 'w'], ""),
            "機器の消費電力（W）",
            renkei_domain::power::limits::DEVICE_WATTS,
        )?
        .unwrap_or_else(|| device.typical_watts());
        let need = Need {
            device,
            watts,
            starts_on: read_day(self.starts_on.as_deref().unwrap_or_default(), "開始日")?,
            ends_on: read_day(self.ends_on.as_deref().unwrap_or_default(), "終了日")?,
        };
        need.check(today)?;
        Ok(need)
    }
}

/// The institution the viewer asks for: only its own staff (or the administrator) borrow.
async fn borrower(app: &AppState, ctx: &Ctx, id: i64) -> Result<String, PageError> {
    let (name, can_edit) = super::readiness::access(app, ctx, id).await?;
    if !can_edit {
        return Err(PageError::forbidden(ctx));
    }
    Ok(name)
}

async fn borrow_page(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    name: String,
    q: &BorrowQuery,
) -> Result<BorrowPage, PageError> {
    let lang = ctx.lang;
    let today = crate::clock::today(app);
    let chosen = q.device.as_deref().and_then(Device::from_code);
    let mut page = BorrowPage {
        chrome: Chrome::new(ctx, "nav.disaster", false),
        id,
        name,
        devices: Device::ALL
            .iter()
            .map(|d| {
                (
                    d.code(),
                    label(lang, d.label_ja(), d.label_en()),
                    chosen == Some(*d),
                )
            })
            .collect(),
        watts: q.watts.clone().unwrap_or_default(),
        starts_on: q.starts_on.clone().unwrap_or_else(|| today.to_string()),
        ends_on: q
            .ends_on
            .clone()
            .unwrap_or_else(|| (today + chrono::Days::new(2)).to_string()),
        contact: q.contact.clone().unwrap_or_default(),
        note: q.note.clone().unwrap_or_default(),
        error: None,
        searched: false,
        offers: Vec::new(),
    };
    if q.device.is_none() {
        return Ok(page);
    }
    let need = match q.need(today) {
        Ok(n) => n,
        Err(e) => {
            page.error = Some(e);
            return Ok(page);
        }
    };
    page.watts = need.watts.to_string();
    let offers = app
        .store
        .power_offers(id, &need)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let ranked = suggest(
        &need,
        offers.iter().map(|o| o.candidate.clone()).collect(),
        SUGGESTIONS,
    );
    page.searched = true;
    page.offers = ranked
        .into_iter()
        .filter_map(|c| {
            let o = offers.iter().find(|o| o.candidate.unit_id == c.unit_id)?;
            Some(OfferView {
                unit_id: c.unit_id,
                owner: o.owner_name.clone(),
                phone: o.owner_phone.clone().unwrap_or_default(),
                distance: c
                    .distance_km
                    .map(|d| format!("{d:.1} km"))
                    .unwrap_or_else(|| label(lang, "距離不明", "distance unknown").to_owned()),
                kind: label(lang, c.unit.kind.label_ja(), c.unit.kind.label_en()),
                label: c.unit.label.clone(),
                output: c.unit.output_watts,
                runtime: hours(lang, c.unit.runtime_hours),
                busy: c.busy,
                rules: o.rules.clone().unwrap_or_default(),
            })
        })
        .collect();
    Ok(page)
}

/// `GET /institutions/{id}/power/borrow`: the need, then the nearest suitable units.
pub async fn borrow_form(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<BorrowQuery>,
) -> Result<Response, PageError> {
    let name = borrower(&app, &ctx, id).await?;
    let page = borrow_page(&app, &ctx, id, name, &q).await?;
    let status = if page.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, render(&ctx, &page)?).into_response())
}

/// `POST /institutions/{id}/power/borrow` (`unit` and the need): asks the owner; mails them.
pub async fn borrow(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let name = borrower(&app, &ctx, id).await?;
    let q = BorrowQuery::from_body(&body);
    let unit: Option<i64> = form(&body, "unit").parse().ok();
    let contact = q.contact.clone().unwrap_or_default();
    let problem = match (q.need(crate::clock::today(&app)), unit) {
        (Err(e), _) => Some(e),
        (_, None) => Some("貸してほしい機器を候補から選んでください".to_owned()),
        _ if contact.trim().is_empty() => {
            Some("連絡先（担当者と電話番号）を入力してください".to_owned())
        }
        _ if contact.chars().count() > 200
            || q.note.as_deref().unwrap_or("").chars().count() > 1000 =>
        {
            Some("連絡先は200文字、備考は1000文字までにしてください".to_owned())
        }
        _ => None,
    };
    let by = ctx.viewer.signed_in().map(|u| u.id);
    let outcome = match (problem, q.need(crate::clock::today(&app)), unit) {
        (None, Ok(need), Some(unit)) => app
            .store
            .request_lending(
                unit,
                id,
                &need,
                &contact,
                q.note.as_deref().unwrap_or(""),
                by,
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict(m) => Ok(m),
                e => Err(e),
            }),
        (Some(p), _, _) => Err(Ok(p)),
        _ => Err(Ok("入力を確かめてください".to_owned())),
    };
    let lending = match outcome {
        Ok(l) => l,
        Err(Ok(message)) => {
            let mut page = borrow_page(&app, &ctx, id, name, &q).await?;
            page.error = Some(message);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&ctx, &page)?).into_response());
        }
        Err(Err(e)) => return Err(PageError::store(&ctx, e)),
    };
    audit(
        &app,
        &ctx,
        &extensions,
        "power.requested",
        format!("power_lending:{lending}"),
    )
    .await;
    notify(&app, lending, Notice::Requested).await;
    Ok(see_other(format!(
        "/institutions/{id}/power?done=requested"
    )))
}

/// Which side a lending mail goes to, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    /// To the owner: a new request.
    Requested,
    /// To the requester: agreed or declined.
    Decided,
}

/// Mails the other side of a lending (to the institution's contact address; none, nothing).
async fn notify(app: &AppState, lending: i64, notice: Notice) {
    let Ok(Some(l)) = app.store.lending(lending).await else {
        return;
    };
    let to_institution = match notice {
        Notice::Requested => l.owner_id,
        Notice::Decided => l.requester_id,
    };
    let Ok(Some((_, Some(to)))) = app.store.confirmation_of(to_institution).await else {
        return;
    };
    let base = app.config.public_url.trim_end_matches('/');
    let period = format!("{} 〜 {}", l.need.starts_on, l.need.ends_on);
    let (subject, body) = match notice {
        Notice::Requested => (
            format!("【非常用電源の貸出依頼】{}から", l.requester_name),
            format!(
                "{} 御中\n\n{}から、非常用電源の貸出の依頼がありました。\n\n機器：{}\n使う医療機器：{}（約{} W）\n期間：{period}\n連絡先：{}\n{}\n\n次のページで、貸し出すかどうかを決めてください（ログインが必要です）。\n{base}/institutions/{}/power\n",
                l.owner_name,
                l.requester_name,
                l.unit_label,
                l.need.device.label_ja(),
                l.need.watts,
                l.contact,
                if l.note.is_empty() { String::new() } else { format!("備考：{}", l.note) },
                l.owner_id
            ),
        ),
        Notice::Decided => (
            format!(
                "【非常用電源の貸出】{}：{}",
                l.status.label_ja(),
                l.owner_name
            ),
            format!(
                "{} 御中\n\n{}への非常用電源の貸出依頼は「{}」になりました。\n\n機器：{}\n期間：{period}\n{}\n\n詳しくは次のページをご覧ください。\n{base}/institutions/{}/power\n",
                l.requester_name,
                l.owner_name,
                l.status.label_ja(),
                l.unit_label,
                l.reason.as_deref().map(|r| format!("理由：{r}")).unwrap_or_default(),
                l.requester_id
            ),
        ),
    };
    if let Err(e) = app.mailer.send(&app.store, &to, &subject, &body).await {
        tracing::error!(error = %e, "lending mail could not be queued");
    }
}

/// The lending and whether the viewer acts for its owner and for its requester.
async fn lending_for(
    app: &AppState,
    ctx: &Ctx,
    lending: i64,
) -> Result<(LendingRow, bool, bool), PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::not_found(ctx))?;
    let l = app
        .store
        .lending(lending)
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .ok_or_else(|| PageError::not_found(ctx))?;
    let owner = super::changes::may_edit(user, l.owner_id);
    let requester = super::changes::may_edit(user, l.requester_id);
    if !owner && !requester {
        return Err(PageError::forbidden(ctx));
    }
    Ok((l, owner, requester))
}

/// The result of a lending action: back to the page of the side that acted.
async fn after(
    app: &AppState,
    ctx: &Ctx,
    extensions: &Extensions,
    result: Result<(), StoreError>,
    page_of: i64,
    lending: i64,
    done: &str,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => {
            audit(
                app,
                ctx,
                extensions,
                &format!("power.{done}"),
                format!("power_lending:{lending}"),
            )
            .await;
            Ok(see_other(format!(
                "/institutions/{page_of}/power?done={done}"
            )))
        }
        Err(StoreError::Conflict(m)) => {
            refused(app, ctx, page_of, StatusCode::CONFLICT, m, None).await
        }
        Err(StoreError::NotFound(_)) => Err(PageError::not_found(ctx)),
        Err(e) => Err(PageError::store(ctx, e)),
    }
}

/// `POST /power/lendings/{id}/decide` (`decision` = agree | decline, `reason`): the owner decides.
pub async fn decide(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(lending): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (l, owner, _) = lending_for(&app, &ctx, lending).await?;
    if !owner {
        return Err(PageError::forbidden(&ctx));
    }
    let agree = match form(&body, "decision").as_str() {
        "agree" => true,
        "decline" => false,
        _ => {
            let m = "「貸し出す」か「お断りする」を選んでください".to_owned();
            return refused(
                &app,
                &ctx,
                l.owner_id,
                StatusCode::UNPROCESSABLE_ENTITY,
                m,
                None,
            )
            .await;
        }
    };
    let reason = form(&body, "reason");
    if !agree && reason.trim().is_empty() {
        let m = "お断りするときは、理由を一言入力してください（依頼元が次の候補を探せるように）"
            .to_owned();
        return refused(
            &app,
            &ctx,
            l.owner_id,
            StatusCode::UNPROCESSABLE_ENTITY,
            m,
            None,
        )
        .await;
    }
    let by = ctx.viewer.signed_in().map(|u| u.id);
    let result = app
        .store
        .decide_lending(lending, l.owner_id, agree, &reason, by)
        .await;
    let ok = result.is_ok();
    let done = if agree { "agreed" } else { "declined" };
    let response = after(&app, &ctx, &extensions, result, l.owner_id, lending, done).await;
    if ok {
        notify(&app, lending, Notice::Decided).await;
    }
    response
}

/// `POST /power/lendings/{id}/withdraw`: the requester withdraws a request not yet decided.
pub async fn withdraw(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(lending): Path<i64>,
) -> Result<Response, PageError> {
    let (l, _, requester) = lending_for(&app, &ctx, lending).await?;
    if !requester {
        return Err(PageError::forbidden(&ctx));
    }
    let by = ctx.viewer.signed_in().map(|u| u.id);
    let result = app
        .store
        .withdraw_lending(lending, l.requester_id, by)
        .await;
    after(
        &app,
        &ctx,
        &extensions,
        result,
        l.requester_id,
        lending,
        "withdrawn",
    )
    .await
}

/// `POST /power/lendings/{id}/return`: the owner records the unit's return.
pub async fn returned(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(lending): Path<i64>,
) -> Result<Response, PageError> {
    let (l, owner, _) = lending_for(&app, &ctx, lending).await?;
    if !owner {
        return Err(PageError::forbidden(&ctx));
    }
    let by = ctx.viewer.signed_in().map(|u| u.id);
    let result = app.store.return_lending(lending, l.owner_id, by).await;
    after(
        &app,
        &ctx,
        &extensions,
        result,
        l.owner_id,
        lending,
        "returned",
    )
    .await
}

/// One area's emergency power in figures.
pub struct AreaPower {
    name: String,
    units: usize,
    lendable: usize,
    lendable_watts: u64,
    lent_out: usize,
    open_requests: usize,
}

/// A unit as the hub lists it.
pub struct HubUnit {
    owner_id: i64,
    owner: String,
    area: String,
    unit: UnitView,
}

#[derive(Template)]
#[template(path = "hub_power.html")]
struct HubPowerPage {
    chrome: Chrome,
    areas: Vec<AreaPower>,
    units: Vec<HubUnit>,
    lendings: Vec<LendingView>,
    rules: Vec<(i64, String, String)>,
}

/// `GET /hub/power`: the emergency power of the viewer's areas — units, what can be lent and
/// what is out, every lending request, and each owner's lending rules.
pub async fn hub(State(app): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let visible = super::safety::visible_areas(&app, &ctx).await?;
    let codes: Vec<String> = visible.iter().map(|(c, _)| c.clone()).collect();
    let units = app
        .store
        .power_units_in(&codes, crate::clock::today(&app))
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let lendings = app
        .store
        .lendings_in(Some(&codes))
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let name_of = |code: &str| {
        visible
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| code.to_owned())
    };
    let areas = visible
        .iter()
        .map(|(code, name)| {
            let mine: Vec<_> = units.iter().filter(|(_, _, a)| a == code).collect();
            AreaPower {
                name: name.clone(),
                units: mine.len(),
                lendable: mine.iter().filter(|(u, _, _)| u.unit.lendable).count(),
                lendable_watts: mine
                    .iter()
                    .filter(|(u, _, _)| u.unit.lendable)
                    .map(|(u, _, _)| u64::from(u.unit.output_watts))
                    .sum(),
                lent_out: mine.iter().filter(|(u, _, _)| u.lent_out).count(),
                open_requests: lendings
                    .iter()
                    .filter(|l| &l.owner_area == code && l.status == LendingStatus::Requested)
                    .count(),
            }
        })
        .collect();
    let mut owners: Vec<i64> = units.iter().map(|(u, _, _)| u.institution_id).collect();
    owners.dedup();
    let mut rules = Vec::new();
    for owner in owners {
        if let Some((text, _)) = app
            .store
            .power_rules(owner)
            .await
            .map_err(|e| PageError::store(&ctx, e))?
            .filter(|(t, _)| !t.is_empty())
        {
            let name = units
                .iter()
                .find(|(u, _, _)| u.institution_id == owner)
                .map(|(_, n, _)| n.clone())
                .unwrap_or_default();
            rules.push((owner, name, text));
        }
    }
    let page = HubPowerPage {
        chrome: Chrome::new(&ctx, "nav.disaster", false),
        areas,
        units: units
            .iter()
            .map(|(u, owner, area)| HubUnit {
                owner_id: u.institution_id,
                owner: owner.clone(),
                area: name_of(area),
                unit: unit_view(lang, u),
            })
            .collect(),
        lendings: lendings
            .iter()
            .map(|l| lending_view(lang, l, false, false))
            .collect(),
        rules,
    };
    Ok(render(&ctx, &page)?.into_response())
}
