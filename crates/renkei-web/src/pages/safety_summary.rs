//! A safety check's after-action summary (`/hub/safety/{id}/summary`): the response-rate curve
//! over time with the reminders on it, what each reminder brought in, how long it took to reach
//! half and four fifths of the targets, and the step that records the drill in each hub's
//! activity ledger as ③ progress of the year — so the report to the prefecture says it.

use super::safety::{audit, jst_time_in, reach, see_other, store_error, visible_check};
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::i18n::Catalog;
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::Extensions;
use axum::response::{IntoResponse, Response};
use renkei_domain::fiscal_year::FiscalYear;
use renkei_domain::ledger::{HubLedger, ItemKind, LedgerItem, Section};
use renkei_domain::safety::CheckKind;
use renkei_store::safety::CheckRecord;
use renkei_store::StoreError;

/// What one reminder round brought in.
pub struct ReminderEffect {
    /// When.
    pub at: String,
    /// To all or one.
    pub to: String,
    /// Answered before it.
    pub before: usize,
    /// Answers within the hour after it.
    pub within_hour: usize,
}

#[derive(Template)]
#[template(path = "safety_summary.html")]
struct SummaryPage {
    chrome: Chrome,
    id: i64,
    title: String,
    drill: bool,
    created: String,
    deadline: String,
    /// 「2／12 件（17%）、うち電話で聴取 1 件」.
    answers: String,
    half: String,
    most: String,
    curve: String,
    effects: Vec<ReminderEffect>,
    can_record: bool,
    notice: Option<String>,
}

fn minutes_between(from: &str, to: &str) -> f64 {
    match (
        chrono::DateTime::parse_from_rfc3339(from),
        chrono::DateTime::parse_from_rfc3339(to),
    ) {
        (Ok(a), Ok(b)) => (b - a).num_seconds() as f64 / 60.0,
        _ => 0.0,
    }
}

fn duration_text(t: &Catalog, minutes: Option<f64>) -> String {
    match minutes {
        None => t.get("safety.not_reached"),
        Some(m) if m < 60.0 => t.fill1("safety.minutes", "m", format!("{m:.0}")),
        Some(m) => t.fill(
            "safety.hours_minutes",
            &[
                ("h", &(m / 60.0).floor()),
                ("m", &format!("{:.0}", m % 60.0)),
            ],
        ),
    }
}

/// `?done=recorded` after recording in the ledgers.
#[derive(Debug, Default, serde::Deserialize)]
pub struct SummaryQuery {
    /// What was done.
    pub done: Option<String>,
}

/// `GET /hub/safety/{id}/summary`.
pub async fn show(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(query): Query<SummaryQuery>,
) -> Result<Response, PageError> {
    let check = visible_check(&app, &ctx, id, false).await?;
    let can_record = reach(&app, &ctx).await?.acts_on(&check);
    let chrome = Chrome::new(&ctx, "nav.disaster", false);
    let t = chrome.t.clone();
    let first = app
        .store
        .first_answers(id)
        .await
        .map_err(store_error(&ctx))?;
    let rounds = app
        .store
        .reminder_rounds(id)
        .await
        .map_err(store_error(&ctx))?;
    let targets = check.targets as usize;
    let minutes: Vec<f64> = first
        .iter()
        .map(|f| minutes_between(&check.created_at, &f.at))
        .collect();
    let end = check
        .closed_at
        .clone()
        .filter(|c| c < &check.deadline)
        .unwrap_or_else(|| check.deadline.clone());
    let span = minutes_between(&check.created_at, &end).max(minutes.last().copied().unwrap_or(0.0));
    let reached = |share: f64| {
        let needed = (targets as f64 * share).ceil() as usize;
        (needed > 0 && minutes.len() >= needed).then(|| minutes[needed - 1])
    };
    let reminders: Vec<(f64, String)> = rounds
        .iter()
        .map(|r| {
            (
                minutes_between(&check.created_at, &r.sent_at),
                match (r.target_id, r.planned) {
                    (Some(_), _) => t.get("safety.r_one"),
                    (None, Some(m)) => t.fill1("safety.r_auto", "m", m),
                    (None, None) => t.get("safety.r_all"),
                },
            )
        })
        .collect();
    let effects = rounds
        .iter()
        .zip(&reminders)
        .map(|(r, (at, _))| ReminderEffect {
            at: jst_time_in(ctx.lang, &r.sent_at),
            to: match (r.target_id, r.planned) {
                (Some(_), _) => t.get("safety.to_one"),
                (None, Some(m)) => t.fill("safety.to_auto", &[("m", &m), ("mails", &r.mails)]),
                (None, None) => t.fill1("safety.to_all", "mails", r.mails),
            },
            before: minutes.iter().filter(|m| **m < *at).count(),
            within_hour: minutes
                .iter()
                .filter(|m| **m >= *at && **m < at + 60.0)
                .count(),
        })
        .collect();
    let answered = first.len();
    let page = SummaryPage {
        id,
        drill: check.kind == CheckKind::Drill,
        created: jst_time_in(ctx.lang, &check.created_at),
        deadline: jst_time_in(ctx.lang, &check.deadline),
        answers: t.fill(
            "safety.summary_answers",
            &[
                ("answered", &answered),
                ("targets", &targets),
                (
                    "rate",
                    &super::safety::rate(answered as i64, targets as i64),
                ),
                ("phone", &first.iter().filter(|f| f.by_phone).count()),
            ],
        ),
        half: duration_text(&t, reached(0.5)),
        most: duration_text(&t, reached(0.8)),
        curve: crate::chart::response_curve_svg(
            &minutes,
            targets,
            &reminders,
            span,
            &t.get("safety.curve_title"),
            (&t.get("safety.axis_hours"), &t.get("safety.axis_minutes")),
        ),
        effects,
        can_record,
        notice: match query.done.as_deref() {
            Some("recorded") => Some(t.get("safety.notice_recorded")),
            Some("already") => Some(t.get("safety.notice_already")),
            _ => None,
        },
        title: check.title,
        chrome,
    };
    Ok(render(&ctx, &page)?.into_response())
}

/// An area's ledger of a fiscal year with the revision it was read at, or a new empty one
/// (revision `None`) when the hub has none yet: what Renkei's own records are added to.
pub(crate) async fn ledger_of(
    app: &AppState,
    area: &renkei_domain::region::Area,
    year: FiscalYear,
) -> Result<(HubLedger, Option<i64>), StoreError> {
    Ok(
        match app.store.ledger(area.code.as_str(), year.year()).await? {
            Some(s) => (s.ledger, Some(s.revision)),
            None => (
                HubLedger {
                    document: area.document.clone(),
                    area: area.code.as_str().to_owned(),
                    area_label: area.name.clone(),
                    hub: area.hub_label(),
                    contractor: area.contractor.clone(),
                    items: Vec::new(),
                    empty: Vec::new(),
                    challenges: Vec::new(),
                    active: None,
                    headings: Default::default(),
                },
                None,
            ),
        },
    )
}

/// The ledger item that records a check in one area's ledger.
fn ledger_item(
    ledger: &HubLedger,
    check: &CheckRecord,
    day: chrono::NaiveDate,
    answered: usize,
    targets: usize,
) -> LedgerItem {
    use chrono::Datelike;
    let what = match check.kind {
        CheckKind::Drill => "安否確認訓練",
        CheckKind::Actual => "安否確認（実災害）",
    };
    LedgerItem {
        id: ledger.new_item_id(Section::Progress),
        section: Section::Progress,
        number: "③".into(),
        duties: vec![3],
        kind: ItemKind::Drill,
        title: format!(
            "{what}「{}」（対象 {targets} 件、回答 {answered} 件・{}%）",
            check.title,
            super::safety::rate(answered as i64, targets as i64)
        ),
        schedule: Some(format!("{}月{}日", day.month(), day.day())),
        schedule_inline: false,
        detail: None,
        planned: None,
        held: Some(1),
        audience: vec!["医療機関".into()],
        organisers: Vec::new(),
        fulfils: Vec::new(),
        note: Some(format!("Renkei 安否確認 #{} から", check.id)),
        draft: false,
    }
}

/// `POST /hub/safety/{id}/ledger`: records the check in the activity ledger of each of the
/// coordinator's areas it covered (this fiscal year's progress, duty ③), once.
pub async fn record(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let check = visible_check(&app, &ctx, id, true).await?;
    let acting = reach(&app, &ctx).await?.acting;
    let targets = app
        .store
        .safety_targets(id)
        .await
        .map_err(store_error(&ctx))?;
    let day = chrono::DateTime::parse_from_rfc3339(&check.created_at)
        .map(|t| t.with_timezone(&renkei_domain::japan::jst()).date_naive())
        .map_err(|e| PageError::store(&ctx, StoreError::Invalid(e.to_string())))?;
    let year = FiscalYear::of_date(day);
    let user = ctx.viewer.signed_in().map(|u| u.id);
    let marker = format!("Renkei 安否確認 #{id} から");
    let mut recorded = 0;
    for area in super::safety::areas_of(&check)
        .iter()
        .filter(|a| acting.iter().any(|c| c == a.code.as_str()))
    {
        let code = area.code.as_str();
        let mine: Vec<_> = targets
            .iter()
            .filter(|t| t.institution.area == code)
            .collect();
        let answered = mine.iter().filter(|t| t.answered_at.is_some()).count();
        let (mut ledger, based_on) = ledger_of(&app, area, year)
            .await
            .map_err(store_error(&ctx))?;
        if ledger
            .items
            .iter()
            .any(|i| i.note.as_deref() == Some(marker.as_str()))
        {
            continue;
        }
        let item = ledger_item(&ledger, &check, day, answered, mine.len());
        ledger.items.push(item);
        app.store
            .save_ledger(code, year.year(), &ledger, based_on, user)
            .await
            .map_err(store_error(&ctx))?;
        recorded += 1;
    }
    if recorded == 0 {
        return Ok(see_other(format!("/hub/safety/{id}/summary?done=already")));
    }
    audit(
        &app,
        &ctx,
        &extensions,
        "safety.recorded_in_ledger",
        format!("safety_check:{id} ledgers:{recorded} year:{}", year.year()),
    )
    .await;
    Ok(see_other(format!("/hub/safety/{id}/summary?done=recorded")))
}
