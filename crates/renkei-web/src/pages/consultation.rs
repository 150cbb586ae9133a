//! The hub's consultation window (`/hub/consultations…`): coordinators note each call or visit
//! as it ends (on a phone too), refer callers to directory institutions found by name, follow
//! up by a date (with a reminder mail on the day), and see the month's and the fiscal year's
//! figures by topic and caller as tables and charts, downloadable as CSV and Excel, and written
//! into their hub's ledger (②) for the report. The notes name nobody. Coordinators see their
//! own areas' notes; the prefecture and the administrator see the figures only.

use super::safety::{audit, reach, see_other};
use super::shared::{form, form_all};
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::i18n::Lang;
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{RawForm, RawQuery, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate, NaiveDateTime};
use renkei_domain::consultation::{
    ledger_title, read_minutes, year_figures, Action, Caller, Channel, Consultation, Topic,
    YearFigures,
};
use renkei_domain::fiscal_year::FiscalYear;
use renkei_store::consultation::{ConsultationQuery, ConsultationRow};

/// Notes listed on the page.
const LISTED: i64 = 200;
/// The note that marks the ledger item Renkei keeps with the year's figures.
const LEDGER_MARKER: &str = "Renkei 相談窓口の記録から";

/// A note as the list shows it.
pub struct NoteView {
    id: i64,
    at: String,
    area: String,
    channel: &'static str,
    caller: &'static str,
    topics: String,
    actions: String,
    referrals: String,
    summary: String,
    minutes: u32,
    follow_up: String,
    overdue: bool,
    open: bool,
    by: String,
}

#[derive(Template)]
#[template(path = "consultations.html")]
struct ListPage {
    chrome: Chrome,
    notice: Option<String>,
    error: Option<String>,
    areas: Vec<(String, String)>,
    area: String,
    received_at: String,
    channels: Vec<(&'static str, &'static str, bool)>,
    callers: Vec<(&'static str, &'static str, bool)>,
    topics: Vec<(&'static str, &'static str, bool)>,
    actions: Vec<(&'static str, &'static str, bool)>,
    find: String,
    found: Vec<(i64, String, String, bool)>,
    summary: String,
    minutes: String,
    follow_up_on: String,
    month: String,
    month_label: String,
    topic_filter: String,
    follow_ups: Vec<NoteView>,
    notes: Vec<NoteView>,
    year: i32,
}

fn note_view(
    lang: Lang,
    r: &ConsultationRow,
    today: NaiveDate,
    areas: &[(String, String)],
) -> NoteView {
    let c = &r.consultation;
    let labels = |v: Vec<&'static str>| v.join("・");
    NoteView {
        id: r.id,
        at: match lang {
            Lang::Ja => format!(
                "{} {}",
                renkei_domain::fiscal_year::format_wareki_date(c.received_at.date()),
                c.received_at.format("%H:%M")
            ),
            Lang::En => c.received_at.format("%Y-%m-%d %H:%M").to_string(),
        },
        area: areas
            .iter()
            .find(|(code, _)| *code == c.area)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| c.area.clone()),
        channel: lang.pick(c.channel.label_ja(), c.channel.label_en()),
        caller: lang.pick(c.caller.label_ja(), c.caller.label_en()),
        topics: labels(
            c.topics
                .iter()
                .map(|t| lang.pick(t.label_ja(), t.label_en()))
                .collect(),
        ),
        actions: labels(
            c.actions
                .iter()
                .map(|a| lang.pick(a.label_ja(), a.label_en()))
                .collect(),
        ),
        referrals: r.referral_names.join("、"),
        summary: c.summary.clone(),
        minutes: c.minutes,
        follow_up: c
            .follow_up_on
            .map(|d| super::safety::date_in(lang, d))
            .unwrap_or_default(),
        overdue: c.follow_up_on.is_some_and(|d| d <= today) && r.follow_up_done_at.is_none(),
        open: c.follow_up_on.is_some() && r.follow_up_done_at.is_none(),
        by: r.created_by_name.clone(),
    }
}

/// The month shown (`month=2026-11`), this month (JST) by default.
fn month_of(typed: &str, today: NaiveDate) -> NaiveDate {
    NaiveDate::parse_from_str(&format!("{}-01", typed.trim()), "%Y-%m-%d")
        .unwrap_or_else(|_| today.with_day(1).unwrap_or(today))
}

fn choices<T: Copy + PartialEq>(
    lang: Lang,
    all: &[T],
    picked: &[T],
    code: fn(T) -> &'static str,
    label: fn(T) -> (&'static str, &'static str),
) -> Vec<(&'static str, &'static str, bool)> {
    all.iter()
        .map(|v| {
            let (ja, en) = label(*v);
            (code(*v), lang.pick(ja, en), picked.contains(v))
        })
        .collect()
}

async fn list_page(
    app: &AppState,
    ctx: &Ctx,
    typed: &[u8],
    query: &[u8],
    error: Option<String>,
) -> Result<ListPage, PageError> {
    let lang = ctx.lang;
    let areas = super::shared::coordinated_areas(app, ctx).await?;
    let codes: Vec<String> = areas.iter().map(|(c, _)| c.clone()).collect();
    let today = crate::clock::today(app);
    let now_jst = app.clock.now().with_timezone(&renkei_domain::japan::jst());
    let month = month_of(&form(query, "month"), today);
    let next = month
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(month);
    let topic_filter = form(query, "topic");
    let notes = app
        .store
        .consultations(&ConsultationQuery {
            areas: codes.clone(),
            from: Some(month),
            until: Some(next),
            topic: Topic::from_code(&topic_filter),
            open_follow_ups: false,
            limit: LISTED,
        })
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let follow_ups = app
        .store
        .consultations(&ConsultationQuery {
            areas: codes.clone(),
            open_follow_ups: true,
            limit: LISTED,
            ..ConsultationQuery::default()
        })
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    // Referral: directory institutions found by name; those already ticked stay listed.
    let find = form(typed, "find");
    let picked: Vec<i64> = form_all(typed, "referral")
        .iter()
        .filter_map(|v| v.parse().ok())
        .collect();
    let mut found = Vec::new();
    if !picked.is_empty() {
        for r in app
            .store
            .entry_records(&renkei_store::records::RecordQuery {
                ids: Some(picked.clone()),
                limit: 20,
                ..Default::default()
            })
            .await
            .map_err(|e| PageError::store(ctx, e))?
        {
            found.push((
                r.id,
                r.fields.name,
                lang.pick(r.kind.label_ja(), r.kind.label_en()).to_owned(),
                true,
            ));
        }
    }
    if !find.trim().is_empty() {
        use renkei_store::records::{RecordQuery, TextField, TextFilter, TextMatch};
        for r in app
            .store
            .entry_records(&RecordQuery {
                text: vec![TextFilter {
                    field: TextField::Name,
                    mode: TextMatch::Contains,
                    values: vec![find.trim().to_owned()],
                }],
                limit: 20,
                ..RecordQuery::default()
            })
            .await
            .map_err(|e| PageError::store(ctx, e))?
        {
            if !found.iter().any(|(id, ..)| *id == r.id) {
                found.push((
                    r.id,
                    r.fields.name,
                    lang.pick(r.kind.label_ja(), r.kind.label_en()).to_owned(),
                    false,
                ));
            }
        }
    }
    let t = crate::i18n::catalog(lang);
    let done = form(query, "done");
    let typed_or = |name: &str, default: String| match form(typed, name) {
        v if v.is_empty() => default,
        v => v,
    };
    let area = typed_or("area", codes[0].clone());
    Ok(ListPage {
        chrome: Chrome::new(ctx, "nav.consultation", false),
        notice: ["saved", "done", "recorded", "nothing"]
            .contains(&done.as_str())
            .then(|| t.get(&format!("consultation.done_{done}"))),
        error,
        received_at: typed_or("received_at", now_jst.format("%Y-%m-%dT%H:%M").to_string()),
        channels: choices(
            lang,
            Channel::ALL,
            &[Channel::from_code(&typed_or("channel", "phone".into())).unwrap_or(Channel::Phone)],
            Channel::code,
            |c| (c.label_ja(), c.label_en()),
        ),
        callers: choices(
            lang,
            Caller::ALL,
            &Caller::from_code(&form(typed, "caller"))
                .into_iter()
                .collect::<Vec<_>>(),
            Caller::code,
            |c| (c.label_ja(), c.label_en()),
        ),
        topics: choices(
            lang,
            Topic::ALL,
            &form_all(typed, "topic")
                .iter()
                .filter_map(|c| Topic::from_code(c))
                .collect::<Vec<_>>(),
            Topic::code,
            |c| (c.label_ja(), c.label_en()),
        ),
        actions: choices(
            lang,
            Action::ALL,
            &form_all(typed, "action")
                .iter()
                .filter_map(|c| Action::from_code(c))
                .collect::<Vec<_>>(),
            Action::code,
            |c| (c.label_ja(), c.label_en()),
        ),
        find,
        found,
        summary: form(typed, "summary"),
        minutes: form(typed, "minutes"),
        follow_up_on: form(typed, "follow_up_on"),
        month: month.format("%Y-%m").to_string(),
        month_label: match lang {
            Lang::Ja => {
                renkei_domain::fiscal_year::format_wareki_year_month(month.year(), month.month())
            }
            Lang::En => month.format("%B %Y").to_string(),
        },
        topic_filter,
        follow_ups: follow_ups
            .iter()
            .map(|r| note_view(lang, r, today, &areas))
            .collect(),
        notes: notes
            .iter()
            .map(|r| note_view(lang, r, today, &areas))
            .collect(),
        year: FiscalYear::of_date(today).year(),
        area,
        areas,
    })
}

/// `GET /hub/consultations` (`?month=`, `?topic=`; the form's fields when finding an
/// institution to refer to): the entry form, open follow-ups, the month's notes.
pub async fn list(
    State(app): State<AppState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let q = query.unwrap_or_default();
    let page = list_page(&app, &ctx, q.as_bytes(), q.as_bytes(), None).await?;
    Ok(render(&ctx, &page)?.into_response())
}

/// The note the form describes, or what to tell the coordinator.
fn read_note(
    body: &[u8],
    acting: &[(String, String)],
    today: NaiveDate,
) -> Result<Consultation, String> {
    let area = form(body, "area");
    if !acting.iter().any(|(c, _)| *c == area) {
        return Err("地域を選んでください".into());
    }
    let received_at =
        NaiveDateTime::parse_from_str(form(body, "received_at").trim(), "%Y-%m-%dT%H:%M")
            .map_err(|_| "受付日時を入れてください（例：2026-11-20 10:30）".to_owned())?;
    let channel = Channel::from_code(&form(body, "channel")).ok_or("受付の方法を選んでください")?;
    let caller = Caller::from_code(&form(body, "caller")).ok_or("相談者を選んでください")?;
    let follow = match form(body, "follow_up_on").trim() {
        "" => None,
        text => {
            let day = renkei_domain::power::read_day(text, "フォローアップの予定日")?;
            if day < today {
                return Err("フォローアップの予定日が今日より前になっています".into());
            }
            Some(day)
        }
    };
    let note = Consultation {
        received_at,
        area,
        channel,
        caller,
        topics: form_all(body, "topic")
            .iter()
            .filter_map(|c| Topic::from_code(c))
            .collect(),
        actions: form_all(body, "action")
            .iter()
            .filter_map(|c| Action::from_code(c))
            .collect(),
        referrals: form_all(body, "referral")
            .iter()
            .filter_map(|v| v.parse().ok())
            .collect(),
        summary: form(body, "summary").trim().to_owned(),
        minutes: read_minutes(&form(body, "minutes"))?,
        follow_up_on: follow,
    };
    note.check(today)?;
    Ok(note)
}

/// `POST /hub/consultations`: notes a consultation of one of the coordinator's areas.
pub async fn create(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let acting = super::shared::coordinated_areas(&app, &ctx).await?;
    let today = crate::clock::today(&app);
    let note = match read_note(&body, &acting, today) {
        Ok(n) => n,
        Err(m) => {
            let page = list_page(&app, &ctx, &body, b"", Some(m)).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&ctx, &page)?).into_response());
        }
    };
    // Only institutions of the directory.
    for id in &note.referrals {
        super::shared::entry(&app, &ctx, *id).await?;
    }
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::forbidden(&ctx))?;
    let id = app
        .store
        .add_consultation(&note, user.id, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "consultation.noted",
        format!("consultation:{id}"),
    )
    .await;
    Ok(see_other(format!(
        "/hub/consultations?done=saved&month={}",
        note.received_at.format("%Y-%m")
    )))
}

/// `POST /hub/consultations/{id}/done`: the follow-up is done.
pub async fn follow_up_done(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> Result<Response, PageError> {
    let acting: Vec<String> = super::shared::coordinated_areas(&app, &ctx)
        .await?
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    if !app
        .store
        .finish_follow_up(id, &acting, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    {
        return Err(PageError::not_found(&ctx));
    }
    audit(
        &app,
        &ctx,
        &extensions,
        "consultation.followed_up",
        format!("consultation:{id}"),
    )
    .await;
    Ok(see_other("/hub/consultations?done=done".to_owned()))
}

// ---------------------------------------------------------------------------------------------
// The year's figures.

#[derive(Template)]
#[template(path = "consultation_stats.html")]
struct StatsPage {
    chrome: Chrome,
    notice: Option<String>,
    year: i32,
    year_label: String,
    years: Vec<(i32, String)>,
    area: String,
    areas: Vec<(String, String)>,
    can_record: bool,
    total: usize,
    minutes: u64,
    referred: usize,
    months: Vec<String>,
    /// (topic, per month, total).
    table: Vec<(&'static str, Vec<usize>, usize)>,
    month_totals: Vec<usize>,
    callers: Vec<(&'static str, usize)>,
    charts: Vec<String>,
}

/// The fiscal year asked for (`fy=2025`), this one by default.
fn year_of(query: &[u8], today: NaiveDate) -> FiscalYear {
    form(query, "fy")
        .parse()
        .ok()
        .and_then(|y| FiscalYear::new(y).ok())
        .unwrap_or(FiscalYear::of_date(today))
}

/// The areas the viewer may see figures of (all for the prefecture and the administrator),
/// narrowed to `area` when one of them is asked for.
async fn figure_areas(
    app: &AppState,
    ctx: &Ctx,
    area: &str,
) -> Result<(Vec<(String, String)>, Vec<String>, bool), PageError> {
    let r = reach(app, ctx).await?;
    if r.visible.is_empty() {
        return Err(PageError::forbidden(ctx));
    }
    let chosen: Vec<String> = r
        .visible
        .iter()
        .map(|(c, _)| c.clone())
        .filter(|c| area.is_empty() || c == area)
        .collect();
    let can_record = !r.acting.is_empty();
    Ok((r.visible, chosen, can_record))
}

async fn figures_of(
    app: &AppState,
    ctx: &Ctx,
    areas: &[String],
    year: FiscalYear,
) -> Result<YearFigures, PageError> {
    let counted = app
        .store
        .consultation_counts(
            areas,
            (year.start(), year.end().succ_opt().unwrap_or(year.end())),
        )
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    Ok(year_figures(year, &counted))
}

fn month_label(lang: Lang, m: NaiveDate) -> String {
    match lang {
        Lang::Ja => format!("{}月", m.month()),
        Lang::En => m.format("%b").to_string(),
    }
}

/// `GET /hub/consultations/stats` (`?fy=`, `?area=`): the year's figures by month, topic and
/// caller, as tables and charts. Figures only: no note is shown here.
pub async fn stats(
    State(app): State<AppState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let q = query.unwrap_or_default();
    let today = crate::clock::today(&app);
    let year = year_of(q.as_bytes(), today);
    let area = form(q.as_bytes(), "area");
    let (visible, chosen, can_record) = figure_areas(&app, &ctx, &area).await?;
    let f = figures_of(&app, &ctx, &chosen, year).await?;
    let t = crate::i18n::catalog(lang);
    let months: Vec<NaiveDate> = f.by_month.iter().map(|(m, _)| *m).collect();
    let table = Topic::ALL
        .iter()
        .map(|topic| {
            let per: Vec<usize> = months
                .iter()
                .map(|m| f.by_month_topic.get(&(*m, *topic)).copied().unwrap_or(0))
                .collect();
            let total = per.iter().sum();
            (lang.pick(topic.label_ja(), topic.label_en()), per, total)
        })
        .collect();
    let charts = vec![
        crate::chart::count_columns_svg(
            "consultations-by-month",
            &t.get("consultation.chart_months"),
            &f.by_month
                .iter()
                .map(|(m, n)| (month_label(lang, *m), *n))
                .collect::<Vec<_>>(),
        ),
        crate::chart::count_bars_svg(
            "consultations-by-topic",
            &t.get("consultation.chart_topics"),
            &f.by_topic
                .iter()
                .map(|(x, n)| (lang.pick(x.label_ja(), x.label_en()).to_owned(), *n))
                .collect::<Vec<_>>(),
        ),
        crate::chart::count_bars_svg(
            "consultations-by-caller",
            &t.get("consultation.chart_callers"),
            &f.by_caller
                .iter()
                .map(|(x, n)| (lang.pick(x.label_ja(), x.label_en()).to_owned(), *n))
                .collect::<Vec<_>>(),
        ),
    ];
    let done = form(q.as_bytes(), "done");
    let page = StatsPage {
        chrome: Chrome::new(&ctx, "nav.consultation", false),
        notice: ["recorded", "nothing"]
            .contains(&done.as_str())
            .then(|| t.get(&format!("consultation.done_{done}"))),
        year: year.year(),
        year_label: match lang {
            Lang::Ja => year.short_label(),
            Lang::En => format!("FY{}", year.year()),
        },
        years: (0..4)
            .map(|k| {
                let y = FiscalYear::of_date(today).year() - k;
                let label = FiscalYear::new(y)
                    .map(|f| f.short_label())
                    .unwrap_or_default();
                (y, label)
            })
            .collect(),
        area,
        areas: visible,
        can_record,
        total: f.total,
        minutes: f.minutes,
        referred: f.referred,
        months: months.iter().map(|m| month_label(lang, *m)).collect(),
        month_totals: f.by_month.iter().map(|(_, n)| *n).collect(),
        table,
        callers: f
            .by_caller
            .iter()
            .map(|(c, n)| (lang.pick(c.label_ja(), c.label_en()), *n))
            .collect(),
        charts,
    };
    Ok(render(&ctx, &page)?.into_response())
}

/// `GET /hub/consultations.csv` and `.xlsx` (`?fy=`): the coordinator's notes of the year, one
/// row each, for Excel.
async fn download(
    app: &AppState,
    ctx: &Ctx,
    extensions: &Extensions,
    query: &[u8],
    xlsx: bool,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let areas = super::shared::coordinated_areas(app, ctx).await?;
    let today = crate::clock::today(app);
    let year = year_of(query, today);
    let rows = app
        .store
        .consultations(&ConsultationQuery {
            areas: areas.iter().map(|(c, _)| c.clone()).collect(),
            from: Some(year.start()),
            until: year.end().succ_opt(),
            limit: 100_000,
            ..ConsultationQuery::default()
        })
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    audit(
        app,
        ctx,
        extensions,
        "consultation.exported",
        format!("fy:{} rows:{}", year.year(), rows.len()),
    )
    .await;
    let t = crate::i18n::catalog(lang);
    let heads: Vec<String> = [
        "at",
        "area",
        "channel",
        "caller",
        "topics",
        "actions",
        "referrals",
        "minutes",
        "follow_up",
        "summary",
        "by",
    ]
    .iter()
    .map(|k| t.get(&format!("consultation.col_{k}")))
    .collect();
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let v = note_view(lang, r, today, &areas);
            vec![
                r.consultation
                    .received_at
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
                v.area,
                v.channel.to_owned(),
                v.caller.to_owned(),
                v.topics,
                v.actions,
                v.referrals,
                v.minutes.to_string(),
                r.consultation
                    .follow_up_on
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                v.summary,
                v.by,
            ]
        })
        .collect();
    let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
    let name = format!("consultations-{}", year.year());
    super::shared::table_download(ctx, xlsx, &name, "相談", &heads, &body)
}

/// `GET /hub/consultations.csv`.
pub async fn csv(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    download(
        &app,
        &ctx,
        &extensions,
        query.unwrap_or_default().as_bytes(),
        false,
    )
    .await
}

/// `GET /hub/consultations.xlsx`.
pub async fn xlsx(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    download(
        &app,
        &ctx,
        &extensions,
        query.unwrap_or_default().as_bytes(),
        true,
    )
    .await
}

/// `POST /hub/consultations/ledger` (`fy=`): writes the year's figures into the ② progress of
/// each of the coordinator's areas' ledgers — one item, replaced by later presses.
pub async fn record_in_ledger(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    use renkei_domain::ledger::ItemKind;
    let acting: Vec<String> = super::shared::coordinated_areas(&app, &ctx)
        .await?
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    let year = year_of(&body, crate::clock::today(&app));
    let mut figures = std::collections::HashMap::new();
    for area in &acting {
        figures.insert(
            area.clone(),
            figures_of(&app, &ctx, std::slice::from_ref(area), year).await?,
        );
    }
    let user = ctx.viewer.signed_in().map(|u| u.id);
    let recorded = super::ledger_feed::record_marked(
        &app,
        &acting,
        year,
        LEDGER_MARKER,
        user,
        |area, ledger, existing| {
            let f = figures.get(area.code.as_str())?;
            if f.total == 0 {
                return None;
            }
            let callers: Vec<String> = f
                .by_caller
                .iter()
                .map(|(c, n)| format!("{} {n}件", c.label_ja()))
                .collect();
            Some(
                super::ledger_feed::FedItem {
                    duty: 2,
                    kind: ItemKind::Consultation,
                    title: ledger_title(f),
                    detail: format!("。相談者の内訳：{}", callers.join("、")),
                    held: u32::try_from(f.total).unwrap_or(u32::MAX),
                    audience: vec!["市民".into(), "医療・介護関係者".into()],
                    organisers: Vec::new(),
                }
                .into_item(ledger, existing),
            )
        },
    )
    .await
    .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "consultation.recorded_in_ledger",
        format!("ledgers:{recorded} year:{}", year.year()),
    )
    .await;
    let done = if recorded == 0 { "nothing" } else { "recorded" };
    Ok(see_other(format!(
        "/hub/consultations/stats?fy={}&done={done}",
        year.year()
    )))
}

/// Mails each coordinator whose follow-up falls due today (once; called every 30 s by the
/// server): the area and the link, nothing of the caller. Returns how many went out.
pub async fn remind_due_follow_ups(app: &AppState) -> Result<usize, renkei_store::StoreError> {
    let today = crate::clock::today(app);
    let due = app.store.due_follow_ups(today, app.clock.now()).await?;
    let base = app.config.public_url.trim_end_matches('/');
    for (id, area, day, email) in &due {
        let body = format!(
            "相談窓口の記録に、今日（{day}）までのフォローアップがあります（地域：{area}）。\n\n次のページで確かめ、終わったら「完了」を押してください（ログインが必要です）。\n{base}/hub/consultations#note-{id}\n"
        );
        app.mailer
            .send(
                &app.store,
                email,
                "【Renkei】相談のフォローアップ予定日です",
                &body,
            )
            .await?;
    }
    Ok(due.len())
}
