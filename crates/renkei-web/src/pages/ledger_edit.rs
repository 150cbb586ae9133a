//! `/ledger/{year}/{area}`: one hub's ledger of a report year. Everyone who reads ledgers sees it;
//! the hub's own coordinators edit it — items (add, change, delete), the header, challenges and
//! the active institutions' part — and start next year's plan from this year's (copied as
//! drafts; the header, challenges and active part are edited in [`super::ledger_texts`]). Every save names the revision it was based on, so two coordinators cannot overwrite
//! each other; a refused save keeps what was typed and says what to do. Saves are audited.

use crate::auth::access::client_of;
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, RawForm, State};
use axum::http::{header, Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use renkei_domain::accounts::AccountRole;
use renkei_domain::audit::Outcome;
use renkei_domain::fiscal_year::FiscalYear;
use renkei_domain::ledger::{HubLedger, ItemKind, LedgerItem, Section};
use renkei_domain::region::{Duty, RegionDefinition};
use renkei_store::audit::AuditEvent;
use renkei_store::ledger::StoredLedger;
use renkei_store::StoreError;
use std::collections::HashSet;
use std::str::FromStr;

/// An item as the hub page lists it.
pub struct ItemRow {
    /// Its id.
    pub id: String,
    /// As the report prints it.
    pub text: String,
    /// Its number.
    pub number: String,
    /// Kind label.
    pub kind: &'static str,
    /// A draft.
    pub draft: bool,
}

/// One duty of a section on the hub page.
pub struct DutyRows {
    /// 「①会議の開催」.
    pub title: String,
    /// The items (drafts included, marked).
    pub items: Vec<ItemRow>,
    /// The 「なし」 marker, if the hub wrote one.
    pub nothing: Option<String>,
}

/// A section on the hub page.
pub struct SectionRows {
    /// Code for links (results, plan, progress).
    pub code: &'static str,
    /// Heading.
    pub heading: String,
    /// The five duties.
    pub duties: Vec<DutyRows>,
}

#[derive(Template)]
#[template(path = "ledger_hub.html")]
struct HubPage {
    chrome: Chrome,
    year: i32,
    label: String,
    area: String,
    ledger: Option<HubLedger>,
    revision: i64,
    updated: String,
    sections: Vec<SectionRows>,
    challenges_heading: String,
    can_edit: bool,
    next_exists: bool,
    previous_exists: bool,
    /// A message after an action: its text key, and whether it reports a refusal.
    notice: Option<(&'static str, bool)>,
    revisions: Vec<(i64, String, String)>,
}

/// `?done=` after a save.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Done {
    /// What was done.
    pub done: Option<String>,
}

fn year_of(ctx: &Ctx, text: &str) -> Result<FiscalYear, PageError> {
    FiscalYear::from_str(text).map_err(|_| PageError::not_found(ctx))
}

fn known_area(ctx: &Ctx, area: &str) -> Result<renkei_domain::region::Area, PageError> {
    RegionDefinition::nakakawachi()
        .areas
        .into_iter()
        .find(|a| a.code.as_str() == area)
        .ok_or_else(|| PageError::not_found(ctx))
}

/// Whether the viewer coordinates this area's hub.
fn may_edit(ctx: &Ctx, area: &str) -> bool {
    ctx.viewer.signed_in().is_some_and(|user| {
        user.memberships.iter().any(|m| {
            m.role == AccountRole::HubCoordinator
                && m.organisation.area_code.as_deref() == Some(area)
        })
    })
}

fn store_error(ctx: &Ctx) -> impl Fn(StoreError) -> PageError + '_ {
    move |e| PageError::store(ctx, e)
}

/// A 303 to `location`.
pub(crate) fn see_other(location: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_owned())],
    )
        .into_response()
}

fn kind_label(ctx: &Ctx, kind: ItemKind) -> &'static str {
    if ctx.lang == crate::i18n::Lang::En {
        kind.label_en()
    } else {
        kind.label_ja()
    }
}

/// `GET /ledger/{year}/{area}`.
pub async fn show(
    State(app): State<AppState>,
    ctx: Ctx,
    Path((year, area)): Path<(String, String)>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let year = year_of(&ctx, &year)?;
    known_area(&ctx, &area)?;
    let stored = app
        .store
        .ledger(&area, year.year())
        .await
        .map_err(store_error(&ctx))?;
    let exists = |y: i32| {
        let app = app.clone();
        let area = area.clone();
        async move { app.store.ledger(&area, y).await.map(|l| l.is_some()) }
    };
    let next_exists = exists(year.year() + 1).await.map_err(store_error(&ctx))?;
    let previous_exists = exists(year.year() - 1).await.map_err(store_error(&ctx))?;
    let revisions = app
        .store
        .ledger_revisions(&area, year.year())
        .await
        .map_err(store_error(&ctx))?
        .into_iter()
        .take(20)
        .map(|r| (r.revision, r.saved_at, r.saved_by.unwrap_or_default()))
        .collect();
    let sections = stored
        .as_ref()
        .map(|s| section_rows(&ctx, &s.ledger, year))
        .unwrap_or_default();
    let notice = match done.done.as_deref() {
        Some("saved") => Some(("ledger_edit.saved", false)),
        Some("deleted") => Some(("ledger_edit.deleted", false)),
        Some("created") => Some(("ledger_edit.created", false)),
        Some("exists") => Some(("ledger_edit.exists", false)),
        Some("moved") => Some(("ledger_edit.moved", false)),
        Some("conflict") => Some(("ledger_edit.conflict", true)),
        _ => None,
    };
    let page = HubPage {
        chrome: Chrome::new(&ctx, "nav.activities", false),
        year: year.year(),
        label: year.to_string(),
        challenges_heading: stored
            .as_ref()
            .map(|s| s.ledger.challenges_heading(year))
            .unwrap_or_else(|| renkei_domain::ledger::challenges_heading_ja(year)),
        can_edit: may_edit(&ctx, &area),
        area,
        revision: stored.as_ref().map(|s| s.revision).unwrap_or(0),
        updated: stored
            .as_ref()
            .map(|s| s.updated_at.clone())
            .unwrap_or_default(),
        ledger: stored.map(|s| s.ledger),
        sections,
        next_exists,
        previous_exists,
        notice,
        revisions,
    };
    let status = if page.ledger.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Ok((status, render(&ctx, &page)?).into_response())
}

fn section_rows(ctx: &Ctx, ledger: &HubLedger, year: FiscalYear) -> Vec<SectionRows> {
    Section::ALL
        .into_iter()
        .map(|section| SectionRows {
            code: section.code(),
            heading: ledger.heading(section, year),
            duties: Duty::ALL
                .into_iter()
                .map(|duty| DutyRows {
                    title: format!("{}{}", duty.circled(), duty.label_ja()),
                    items: ledger
                        .items
                        .iter()
                        .filter(|i| i.section == section && i.duties().contains(&duty))
                        .map(|i| ItemRow {
                            id: i.id.clone(),
                            text: i.text(),
                            number: i.number.clone(),
                            kind: kind_label(ctx, i.kind),
                            draft: i.draft,
                        })
                        .collect(),
                    nothing: ledger.empty_marker(section, duty).map(str::to_owned),
                })
                .collect(),
        })
        .collect()
}

/// The item form's values, as typed.
#[derive(Debug, Clone, Default)]
pub struct ItemForm {
    /// Empty for a new item.
    pub id: String,
    /// results, plan or progress.
    pub section: String,
    /// 「②-1」.
    pub number: String,
    /// Checked duties.
    pub duties: Vec<u8>,
    /// Kind code.
    pub kind: String,
    /// Title.
    pub title: String,
    /// Schedule as written.
    pub schedule: String,
    /// The schedule is part of the title.
    pub schedule_inline: bool,
    /// Following words.
    pub detail: String,
    /// Planned count.
    pub planned: String,
    /// Held count.
    pub held: String,
    /// Audience, separated by 、 or commas.
    pub audience: String,
    /// Organisers, the same.
    pub organisers: String,
    /// Plan items fulfilled.
    pub fulfils: Vec<String>,
    /// Note.
    pub note: String,
    /// Still a draft.
    pub draft: bool,
    /// The revision the editor started from.
    pub revision: i64,
}

impl ItemForm {
    fn of(item: &LedgerItem, revision: i64) -> Self {
        ItemForm {
            id: item.id.clone(),
            section: item.section.code().to_owned(),
            number: item.number.clone(),
            duties: item.duties.clone(),
            kind: item.kind.code().to_owned(),
            title: item.title.clone(),
            schedule: item.schedule.clone().unwrap_or_default(),
            schedule_inline: item.schedule_inline,
            detail: item.detail.clone().unwrap_or_default(),
            planned: item.planned.map(|n| n.to_string()).unwrap_or_default(),
            held: item.held.map(|n| n.to_string()).unwrap_or_default(),
            audience: item.audience.join("、"),
            organisers: item.organisers.join("、"),
            fulfils: item.fulfils.clone(),
            note: item.note.clone().unwrap_or_default(),
            draft: item.draft,
            revision,
        }
    }

    fn parse(body: &[u8]) -> Self {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        let one = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default()
        };
        let all = |name: &str| {
            pairs
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>()
        };
        ItemForm {
            id: one("id"),
            section: one("section"),
            number: one("number"),
            duties: all("duty").iter().filter_map(|d| d.parse().ok()).collect(),
            kind: one("kind"),
            title: one("title"),
            schedule: one("schedule"),
            schedule_inline: one("schedule_inline") == "1",
            detail: one("detail"),
            planned: one("planned"),
            held: one("held"),
            audience: one("audience"),
            organisers: one("organisers"),
            fulfils: all("fulfils"),
            note: one("note"),
            draft: one("draft") == "1",
            revision: one("revision").parse().unwrap_or(-1),
        }
    }

    /// The item it describes, or what is wrong (in Japanese, naming the field).
    fn item(&self) -> Result<LedgerItem, String> {
        let section = Section::ALL
            .into_iter()
            .find(|s| s.code() == self.section)
            .ok_or("「区分」を選んでください")?;
        let kind = ItemKind::from_code(&self.kind).ok_or("「種類」を選んでください")?;
        let count = |text: &str, field: &str| -> Result<Option<u32>, String> {
            let text = renkei_domain::text::normalize(text);
            if text.is_empty() {
                return Ok(None);
            }
            text.trim_end_matches('回')
                .parse::<u32>()
                .map(Some)
                .map_err(|_| {
                    format!("「{field}」は回数（0以上の整数）で入力してください：「{text}」")
                })
        };
        let list = |text: &str| -> Vec<String> {
            text.split(['、', ',', '，'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let optional = |text: &str| (!text.is_empty()).then(|| text.to_owned());
        let mut duties = self.duties.clone();
        duties.sort_unstable();
        duties.dedup();
        let number = if self.number.is_empty() {
            // The duties' circled numbers, as the hubs write them (「②・③」).
            duties
                .iter()
                .filter_map(|d| Duty::ALL.get(usize::from(*d).wrapping_sub(1)))
                .map(|d| d.circled().to_string())
                .collect::<Vec<_>>()
                .join("・")
        } else {
            self.number.clone()
        };
        Ok(LedgerItem {
            id: self.id.clone(),
            section,
            number,
            duties,
            kind,
            title: self.title.clone(),
            schedule: optional(&self.schedule),
            schedule_inline: self.schedule_inline && !self.schedule.is_empty(),
            detail: optional(&self.detail),
            planned: count(&self.planned, "計画回数")?,
            held: count(&self.held, "実施回数")?,
            audience: list(&self.audience),
            organisers: list(&self.organisers),
            fulfils: if section == Section::Plan {
                Vec::new()
            } else {
                self.fulfils.clone()
            },
            note: optional(&self.note),
            draft: self.draft,
        })
    }
}

#[derive(Template)]
#[template(path = "ledger_item.html")]
struct ItemPage {
    chrome: Chrome,
    year: i32,
    label: String,
    area: String,
    document: String,
    form: ItemForm,
    error: Option<String>,
    sections: Vec<(&'static str, String)>,
    kinds: Vec<(&'static str, &'static str)>,
    duties: Vec<(u8, String)>,
    plan_items: Vec<(String, String)>,
}

fn item_page(
    ctx: &Ctx,
    year: FiscalYear,
    area: &str,
    ledger: &HubLedger,
    form: ItemForm,
    error: Option<String>,
) -> ItemPage {
    ItemPage {
        chrome: Chrome::new(ctx, "nav.activities", false),
        year: year.year(),
        label: year.to_string(),
        area: area.to_owned(),
        document: ledger.document.clone(),
        form,
        error,
        sections: Section::ALL
            .into_iter()
            .map(|s| (s.code(), s.heading_ja(year)))
            .collect(),
        kinds: ItemKind::ALL
            .into_iter()
            .map(|k| (k.code(), kind_label(ctx, k)))
            .collect(),
        duties: Duty::ALL
            .into_iter()
            .map(|d| (d.number(), format!("{}{}", d.circled(), d.label_ja())))
            .collect(),
        plan_items: ledger
            .items
            .iter()
            .filter(|i| i.section == Section::Plan)
            .map(|i| (i.id.clone(), format!("{} {}", i.number, i.text())))
            .collect(),
    }
}

/// The stored ledger an editor may change, or the page that says why not.
pub(crate) async fn editable(
    app: &AppState,
    ctx: &Ctx,
    year: &str,
    area: &str,
) -> Result<(FiscalYear, StoredLedger), PageError> {
    let year = year_of(ctx, year)?;
    known_area(ctx, area)?;
    if !may_edit(ctx, area) {
        return Err(PageError::forbidden(ctx));
    }
    let stored = app
        .store
        .ledger(area, year.year())
        .await
        .map_err(store_error(ctx))?
        .ok_or_else(|| PageError::not_found(ctx))?;
    Ok((year, stored))
}

/// `?section=` of the new-item form.
#[derive(Debug, Default, serde::Deserialize)]
pub struct NewItem {
    /// The section to add to.
    pub section: Option<String>,
    /// The duty to add to.
    pub duty: Option<u8>,
}

/// `GET /ledger/{year}/{area}/item`: the form for a new item.
pub async fn new_item(
    State(app): State<AppState>,
    ctx: Ctx,
    Path((year, area)): Path<(String, String)>,
    Query(query): Query<NewItem>,
) -> Result<Response, PageError> {
    let (year, stored) = editable(&app, &ctx, &year, &area).await?;
    let form = ItemForm {
        section: query.section.unwrap_or_else(|| "plan".into()),
        duties: query.duty.into_iter().collect(),
        kind: "meeting".into(),
        revision: stored.revision,
        ..ItemForm::default()
    };
    let page = item_page(&ctx, year, &area, &stored.ledger, form, None);
    Ok(render(&ctx, &page)?.into_response())
}

/// `GET /ledger/{year}/{area}/item/{id}`: the form for an item.
pub async fn edit_item(
    State(app): State<AppState>,
    ctx: Ctx,
    Path((year, area, id)): Path<(String, String, String)>,
) -> Result<Response, PageError> {
    let (year, stored) = editable(&app, &ctx, &year, &area).await?;
    let item = stored
        .ledger
        .items
        .iter()
        .find(|i| i.id == id)
        .ok_or_else(|| PageError::not_found(&ctx))?;
    let form = ItemForm::of(item, stored.revision);
    let page = item_page(&ctx, year, &area, &stored.ledger, form, None);
    Ok(render(&ctx, &page)?.into_response())
}

/// `POST /ledger/{year}/{area}/item`: saves a new or changed item. Anything wrong — a field, a
/// date that does not exist, someone else's save in between — shows the form again with what
/// was typed and the reason; nothing is half-saved.
pub async fn save_item(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path((year, area)): Path<(String, String)>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (year, stored) = editable(&app, &ctx, &year, &area).await?;
    let form = ItemForm::parse(&body);
    let again = |form: ItemForm, error: String| -> Result<Response, PageError> {
        let page = item_page(&ctx, year, &area, &stored.ledger, form, Some(error));
        Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&ctx, &page)?).into_response())
    };
    if form.revision != stored.revision {
        return again(form, conflict_text());
    }
    let mut item = match form.item() {
        Ok(item) => item,
        Err(error) => return again(form, error),
    };
    let mut ledger = stored.ledger.clone();
    if item.id.is_empty() {
        item.id = ledger.new_item_id(item.section);
        ledger.items.push(item.clone());
    } else {
        match ledger.items.iter_mut().find(|i| i.id == item.id) {
            Some(existing) => *existing = item.clone(),
            None => return Err(PageError::not_found(&ctx)),
        }
    }
    let plan_ids: HashSet<String> = ledger
        .items
        .iter()
        .filter(|i| i.section == Section::Plan)
        .map(|i| i.id.clone())
        .collect();
    let plan_refs: HashSet<&str> = plan_ids.iter().map(String::as_str).collect();
    if let Err(error) = item.check(year, &plan_refs) {
        return again(form, error);
    }
    // A plan item that became progress or results cannot stay a link target.
    for other in &mut ledger.items {
        other.fulfils.retain(|f| plan_ids.contains(f));
    }
    save(
        &app,
        &ctx,
        &extensions,
        year,
        &area,
        &ledger,
        &stored,
        &item.id,
        "ledger.item_saved",
    )
    .await?
    .map_or_else(
        || again(form, conflict_text()),
        |_| {
            Ok(see_other(&format!(
                "/ledger/{}/{area}?done=saved#item-{}",
                year.year(),
                item.id
            )))
        },
    )
}

/// What a refused save says when someone else saved first.
pub(crate) fn conflict_text() -> String {
    "この台帳は、あなたが開いた後に別の人が保存しました。入力した内容は下に残っています。台帳を開き直して最新の内容を確かめてから、もう一度保存してください。".into()
}

/// Saves and audits; `None` when someone else saved first.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn save(
    app: &AppState,
    ctx: &Ctx,
    extensions: &Extensions,
    year: FiscalYear,
    area: &str,
    ledger: &HubLedger,
    stored: &StoredLedger,
    what: &str,
    action: &str,
) -> Result<Option<i64>, PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::not_found(ctx))?;
    let region = RegionDefinition::nakakawachi();
    if let Err(e) = ledger.validate(&region, year) {
        return Err(PageError::store(ctx, StoreError::Invalid(e.to_string())));
    }
    match app
        .store
        .save_ledger(
            area,
            year.year(),
            ledger,
            Some(stored.revision),
            Some(user.id),
        )
        .await
    {
        Ok(revision) => {
            let event = AuditEvent::new(
                Some(user.id),
                action,
                Outcome::Ok,
                format!(
                    "area:{area} year:{} {what} revision:{revision}",
                    year.year()
                ),
                client_of(extensions),
            );
            let _ = app.store.append_audit(&event).await;
            Ok(Some(revision))
        }
        Err(StoreError::Conflict(_)) => Ok(None),
        Err(e) => Err(PageError::store(ctx, e)),
    }
}

/// A button of the hub page (delete, move): applies `change` to the ledger — `None` when the
/// item is not there, `Some(false)` when nothing changed — saves it under the revision the page
/// was read at, audits it as `audit_action`, and goes back to the page saying `done` (or that
/// someone else saved first).
async fn list_action(
    app: &AppState,
    ctx: &Ctx,
    extensions: &Extensions,
    (year, area, id): (String, String, String),
    body: &[u8],
    (audit_action, done): (&str, &str),
    change: impl FnOnce(&mut HubLedger) -> Option<bool>,
) -> Result<Response, PageError> {
    let (year, stored) = editable(app, ctx, &year, &area).await?;
    let revision: i64 = crate::auth::session::form_field(body, "revision")
        .and_then(|r| r.parse().ok())
        .unwrap_or(-1);
    let mut ledger = stored.ledger.clone();
    let back = format!("/ledger/{}/{area}", year.year());
    match change(&mut ledger) {
        None => return Err(PageError::not_found(ctx)),
        Some(false) => return Ok(see_other(&format!("{back}#item-{id}"))),
        Some(true) => {}
    }
    if revision != stored.revision {
        return Ok(see_other(&format!("{back}?done=conflict")));
    }
    let saved = save(
        app,
        ctx,
        extensions,
        year,
        &area,
        &ledger,
        &stored,
        &id,
        audit_action,
    )
    .await?;
    Ok(see_other(&match saved {
        Some(_) => format!("{back}?done={done}#item-{id}"),
        None => format!("{back}?done=conflict"),
    }))
}

/// `POST /ledger/{year}/{area}/item/{id}/delete`: the item goes, and so do the links to it.
pub async fn delete_item(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(path): Path<(String, String, String)>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let id = path.2.clone();
    list_action(
        &app,
        &ctx,
        &extensions,
        path,
        &body,
        ("ledger.item_deleted", "deleted"),
        |ledger| ledger.delete_item(&id).then_some(true),
    )
    .await
}

/// `POST /ledger/{year}/{area}/item/{id}/move`: one place up (`direction=up`) or down among
/// the items listed with it.
pub async fn move_item(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(path): Path<(String, String, String)>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let id = path.2.clone();
    let up = crate::auth::session::form_field(&body, "direction").as_deref() != Some("down");
    list_action(
        &app,
        &ctx,
        &extensions,
        path,
        &body,
        ("ledger.item_moved", "moved"),
        |ledger| ledger.move_item(&id, up),
    )
    .await
}

/// `POST /ledger/{year}/{area}/next-year`: starts next year's ledger from this one (this year's
/// plan items as drafts of next year's plan); refuses when next year's exists.
pub async fn next_year(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path((year, area)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let (year, stored) = editable(&app, &ctx, &year, &area).await?;
    let next = year.next();
    let ledger = stored.ledger.next_year();
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::not_found(&ctx))?;
    // Next year's ledger may exist already (started by someone else, or filled by recording a
    // check or an event): it is opened as it is, and the page says so.
    let done = match app
        .store
        .save_ledger(&area, next.year(), &ledger, None, Some(user.id))
        .await
    {
        Ok(_) => "created",
        Err(StoreError::Conflict(_)) => "exists",
        Err(e) => return Err(PageError::store(&ctx, e)),
    };
    if done == "created" {
        let event = AuditEvent::new(
            Some(user.id),
            "ledger.next_year",
            Outcome::Ok,
            format!("area:{area} from:{} to:{}", year.year(), next.year()),
            client_of(&extensions),
        );
        let _ = app.store.append_audit(&event).await;
    }
    Ok(see_other(&format!(
        "/ledger/{}/{area}?done={done}",
        next.year()
    )))
}
