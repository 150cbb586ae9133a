//! Events (`/events…` for everyone, `/hub/events…` for coordinators): a coordinator announces a
//! training, case conference, lecture or drill; citizens' events are on the public calendar,
//! where anyone registers with a name (and, for professionals, an organisation) and gets a
//! confirmation mail with a link to cancel; on the day the coordinator checks people in; the
//! attendance of the year's events goes into the hub's ledger (④ trainings, ⑤ public
//! awareness, ③ drills). A second registration of one address, one past the capacity, or one
//! after the start is refused with a clear message, whatever the timing.

use super::safety::{audit, see_other};
use super::shared::form;
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::i18n::Lang;
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDateTime};
use renkei_domain::audit::content_hash;
use renkei_domain::events::{when_ja, Audience, Event, EventKind, Registration};
use renkei_domain::fiscal_year::FiscalYear;
use renkei_store::events::{EventRow, Registered};

/// Events listed at most.
const LISTED: i64 = 200;

/// Now in JST, as the events' times are kept.
fn now_jst(app: &AppState) -> NaiveDateTime {
    renkei_domain::japan::local(app.clock.now()).naive_local()
}

/// An event as the lists and pages show it.
pub struct EventView {
    id: i64,
    title: String,
    kind: &'static str,
    audience: &'static str,
    when: String,
    place: String,
    online: bool,
    organiser: String,
    description: String,
    /// 「残り 12 席」, 「定員なし」, 「満席」.
    seats: String,
    full: bool,
    open: bool,
    public: bool,
    registered: i64,
    attended: i64,
    month: String,
    /// The first of its month in a list (the calendar shows the month above it).
    first_of_month: bool,
}

fn view(lang: Lang, e: &EventRow, now: NaiveDateTime) -> EventView {
    let ev = &e.event;
    let left = ev.capacity.map(|c| i64::from(c) - e.registered);
    EventView {
        id: e.id,
        title: ev.title.clone(),
        kind: lang.pick(ev.kind.label_ja(), ev.kind.label_en()),
        audience: lang.pick(ev.audience.label_ja(), ev.audience.label_en()),
        when: match lang {
            Lang::Ja => when_ja(ev.starts_at, ev.ends_at),
            Lang::En => format!(
                "{}–{}",
                ev.starts_at.format("%Y-%m-%d (%a) %H:%M"),
                ev.ends_at.format("%H:%M")
            ),
        },
        place: ev.place.clone(),
        online: ev.online,
        organiser: ev.organiser.clone(),
        description: ev.description.clone(),
        seats: match left {
            None => lang.pick("定員なし", "No limit").to_owned(),
            Some(n) if n <= 0 => lang.pick("満席", "Full").to_owned(),
            Some(n) => match lang {
                Lang::Ja => format!("残り {n} 席（定員 {}）", ev.capacity.unwrap_or(0)),
                Lang::En => format!("{n} seats left of {}", ev.capacity.unwrap_or(0)),
            },
        },
        full: left.is_some_and(|n| n <= 0),
        open: !e.cancelled && ev.open_at(now),
        public: ev.public,
        registered: e.registered,
        attended: e.attended,
        month: match lang {
            Lang::Ja => renkei_domain::fiscal_year::format_wareki_year_month(
                ev.starts_at.year(),
                ev.starts_at.month(),
            ),
            Lang::En => ev.starts_at.format("%B %Y").to_string(),
        },
        first_of_month: true,
    }
}

/// Views of a list, each marked when it opens a new month.
fn views(lang: Lang, rows: &[EventRow], now: NaiveDateTime) -> Vec<EventView> {
    let mut out: Vec<EventView> = rows.iter().map(|e| view(lang, e, now)).collect();
    for i in 1..out.len() {
        out[i].first_of_month = out[i].month != out[i - 1].month;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The public calendar and registration.

#[derive(Template)]
#[template(path = "events.html")]
struct CalendarPage {
    chrome: Chrome,
    events: Vec<EventView>,
    /// The viewer coordinates a hub (the page links to the hub's tools).
    coordinator: bool,
}

/// `GET /events`: the public calendar — citizens' and open events to come, by month.
pub async fn calendar(State(app): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    let now = now_jst(&app);
    let rows = app
        .store
        .public_events(now, LISTED)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let page = CalendarPage {
        chrome: Chrome::new(&ctx, "nav.consultation", false),
        events: views(ctx.lang, &rows, now),
        coordinator: ctx
            .viewer
            .signed_in()
            .is_some_and(|u| u.has_role(renkei_domain::accounts::AccountRole::HubCoordinator)),
    };
    Ok(render(&ctx, &page)?.into_response())
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage {
    chrome: Chrome,
    e: EventView,
    professionals: bool,
    error: Option<String>,
    name: String,
    organisation: String,
    profession: String,
    email: String,
}

/// A public event, or 404 (an event not on the calendar is not shown to the public).
async fn public_event(app: &AppState, ctx: &Ctx, id: i64) -> Result<EventRow, PageError> {
    match app
        .store
        .event(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?
    {
        Some(e) if e.event.public && !e.cancelled => Ok(e),
        _ => Err(PageError::not_found(ctx)),
    }
}

async fn event_page(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    typed: &[u8],
    error: Option<String>,
) -> Result<EventPage, PageError> {
    let e = public_event(app, ctx, id).await?;
    Ok(EventPage {
        chrome: Chrome::new(ctx, "nav.consultation", false),
        professionals: e.event.audience == Audience::Professionals,
        e: view(ctx.lang, &e, now_jst(app)),
        error,
        name: form(typed, "name"),
        organisation: form(typed, "organisation"),
        profession: form(typed, "profession"),
        email: form(typed, "email"),
    })
}

/// `GET /events/{id}`: the event and its registration form.
pub async fn show(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let page = event_page(&app, &ctx, id, b"", None).await?;
    Ok(render(&ctx, &page)?.into_response())
}

#[derive(Template)]
#[template(path = "event_registered.html")]
struct RegisteredPage {
    chrome: Chrome,
    e: EventView,
    email: String,
    token: String,
    cancelled: bool,
    can_cancel: bool,
    name: String,
}

/// The event page again with what was typed and why it was refused.
async fn refused(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    typed: &[u8],
    status: StatusCode,
    message: String,
) -> Result<Response, PageError> {
    let page = event_page(app, ctx, id, typed, Some(message)).await?;
    Ok((status, render(ctx, &page)?).into_response())
}

/// `POST /events/{id}/register` (`name`, `organisation`, `profession`, `email`): registers and
/// mails the confirmation with the link to cancel.
pub async fn register(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let e = public_event(&app, &ctx, id).await?;
    let r = Registration {
        name: form(&body, "name").trim().to_owned(),
        organisation: form(&body, "organisation").trim().to_owned(),
        profession: form(&body, "profession").trim().to_owned(),
        email: form(&body, "email").trim().to_owned(),
    };
    if let Err(m) = r.check(e.event.audience) {
        return refused(&app, &ctx, id, &body, StatusCode::UNPROCESSABLE_ENTITY, m).await;
    }
    let token = crate::auth::secrets::random_hex(24);
    let outcome = app
        .store
        .register_for_event(
            id,
            &r,
            &content_hash(token.as_bytes()),
            now_jst(&app),
            app.clock.now(),
        )
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let message = match outcome {
        Registered::Taken(_) | Registered::Already => None,
        Registered::Full => Some("申し訳ありません。定員に達したため、受付を終了しました"),
        Registered::Closed => Some("この催しの受付は終了しました"),
    };
    if let Some(m) = message {
        return refused(&app, &ctx, id, &body, StatusCode::CONFLICT, m.to_owned()).await;
    }
    let base = app.config.public_url.trim_end_matches('/');
    let v = view(Lang::Ja, &e, now_jst(&app));
    let place = format!(
        "{}\n日時：{}\n場所：{}{}\n主催：{}",
        e.event.title,
        v.when,
        e.event.place,
        if e.event.online {
            "（オンライン）"
        } else {
            ""
        },
        e.event.organiser,
    );
    // An address already registered gets the same page as a new one (the page must not tell
    // a stranger who signed up for, say, a dementia-care lecture: L9 of the security probe);
    // the mail tells its owner.
    let mail = if matches!(outcome, Registered::Already) {
        format!(
            "{} 様\n\n次の催しには、このメールアドレスですでに参加登録をいただいています。新しい登録はしていません。\n\n{place}\n\n取り消しは、最初に登録したときの確認メールのリンクからできます。このメールに心当たりがないときは、破棄してください。\n",
            r.name,
        )
    } else {
        format!(
            "{} 様\n\n次の催しへの参加を受け付けました。\n\n{place}\n\n参加できなくなったときは、次のページから取り消してください。\n{base}/events/registration/{token}\n\nこのメールに心当たりがないときは、取り消しのページから取り消すか、このメールを破棄してください。\n",
            r.name,
        )
    };
    // The registered address, as the registration keys it (full-width letters and case folded).
    let to = if matches!(outcome, Registered::Already) {
        renkei_domain::events::email_key(&r.email)
    } else {
        r.email.clone()
    };
    if let Err(err) = app
        .mailer
        .send(
            &app.store,
            &to,
            &format!("【参加受付】{}", e.event.title),
            &mail,
        )
        .await
    {
        tracing::error!(error = %err, "event confirmation could not be queued");
    }
    let page = RegisteredPage {
        chrome: Chrome::new(&ctx, "nav.consultation", false),
        e: view(ctx.lang, &e, now_jst(&app)),
        email: r.email,
        token: String::new(),
        cancelled: false,
        can_cancel: false,
        name: r.name,
    };
    Ok(render(&ctx, &page)?.into_response())
}

/// `GET /events/registration/{token}`: the registration a confirmation mail's link stands for,
/// with the button to cancel it.
pub async fn registration(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let Some((reg, e)) = app
        .store
        .registration_by_token(&content_hash(token.as_bytes()))
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    else {
        return Err(PageError::not_found(&ctx));
    };
    let now = now_jst(&app);
    let page = RegisteredPage {
        chrome: Chrome::new(&ctx, "nav.consultation", false),
        can_cancel: reg.cancelled_at.is_none() && e.event.open_at(now),
        cancelled: reg.cancelled_at.is_some(),
        e: view(ctx.lang, &e, now),
        email: reg.registration.email,
        name: reg.registration.name,
        token,
    };
    Ok(render(&ctx, &page)?.into_response())
}

/// `POST /events/registration/{token}`: cancels it.
pub async fn cancel(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let hash = content_hash(token.as_bytes());
    if app
        .store
        .registration_by_token(&hash)
        .await
        .map_err(|e| PageError::store(&ctx, e))?
        .is_none()
    {
        return Err(PageError::not_found(&ctx));
    }
    app.store
        .cancel_registration(&hash, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    Ok(see_other(format!("/events/registration/{token}")))
}

// ---------------------------------------------------------------------------------------------
// The hub's side.

#[derive(Template)]
#[template(path = "hub_events.html")]
struct HubPage {
    chrome: Chrome,
    notice: Option<String>,
    error: Option<String>,
    areas: Vec<(String, String)>,
    kinds: Vec<(&'static str, &'static str)>,
    audiences: Vec<(&'static str, &'static str)>,
    events: Vec<EventView>,
    year: i32,
}

async fn hub_page(
    app: &AppState,
    ctx: &Ctx,
    query: &[u8],
    error: Option<String>,
) -> Result<HubPage, PageError> {
    let lang = ctx.lang;
    let areas = super::shared::coordinated_areas(app, ctx).await?;
    let today = crate::clock::today(app);
    let year = FiscalYear::of_date(today);
    let rows = app
        .store
        .events_of_areas(
            &areas.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>(),
            year.start().and_hms_opt(0, 0, 0).expect("midnight"),
            LISTED,
        )
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let now = now_jst(app);
    let t = crate::i18n::catalog(lang);
    let done = form(query, "done");
    Ok(HubPage {
        chrome: Chrome::new(ctx, "nav.consultation", false),
        notice: ["created", "recorded", "nothing"]
            .contains(&done.as_str())
            .then(|| t.get(&format!("events.done_{done}"))),
        error,
        areas,
        kinds: EventKind::ALL
            .iter()
            .map(|k| (k.code(), lang.pick(k.label_ja(), k.label_en())))
            .collect(),
        audiences: Audience::ALL
            .iter()
            .map(|a| (a.code(), lang.pick(a.label_ja(), a.label_en())))
            .collect(),
        events: rows.iter().map(|e| view(lang, e, now)).collect(),
        year: year.year(),
    })
}

/// `GET /hub/events`: the coordinator's events of this fiscal year and the form for a new one.
pub async fn hub(
    State(app): State<AppState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let page = hub_page(&app, &ctx, query.unwrap_or_default().as_bytes(), None).await?;
    Ok(render(&ctx, &page)?.into_response())
}

fn read_event(body: &[u8], areas: &[(String, String)]) -> Result<Event, String> {
    let area = form(body, "area");
    if !areas.iter().any(|(c, _)| *c == area) {
        return Err("地域を選んでください".into());
    }
    let time = |name: &str, what: &str| {
        NaiveDateTime::parse_from_str(form(body, name).trim(), "%Y-%m-%dT%H:%M")
            .map_err(|_| format!("{what}を入れてください（例：2026-12-12 14:00）"))
    };
    let starts_at = time("starts_at", "始まりの日時")?;
    let ends_at = match form(body, "ends_time").trim() {
        "" => return Err("終わりの時刻を入れてください".into()),
        t => NaiveDateTime::parse_from_str(&format!("{}T{t}", starts_at.date()), "%Y-%m-%dT%H:%M")
            .map_err(|_| "終わりの時刻を入れてください（例：16:00）".to_owned())?,
    };
    let capacity = match form(body, "capacity").trim() {
        "" => None,
        c => Some(
            renkei_domain::text::normalize(c)
                .parse::<u32>()
                .map_err(|_| "定員は人数で入れてください（制限しないときは空欄）".to_owned())?,
        ),
    };
    let e = Event {
        area,
        kind: EventKind::from_code(&form(body, "kind")).ok_or("種類を選んでください")?,
        audience: Audience::from_code(&form(body, "audience")).ok_or("対象を選んでください")?,
        title: form(body, "title").trim().to_owned(),
        starts_at,
        ends_at,
        place: form(body, "place").trim().to_owned(),
        online: form(body, "online") == "1",
        organiser: form(body, "organiser").trim().to_owned(),
        capacity,
        public: form(body, "public") == "1",
        description: form(body, "description").trim().to_owned(),
    };
    e.check()?;
    Ok(e)
}

/// `POST /hub/events`: announces an event of one of the coordinator's areas.
pub async fn create(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let areas = super::shared::coordinated_areas(&app, &ctx).await?;
    let e = match read_event(&body, &areas) {
        Ok(e) => e,
        Err(m) => {
            let page = hub_page(&app, &ctx, b"", Some(m)).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&ctx, &page)?).into_response());
        }
    };
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::forbidden(&ctx))?;
    let id = app
        .store
        .add_event(&e, user.id, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "event.created",
        format!("event:{id}"),
    )
    .await;
    Ok(see_other(format!("/hub/events/{id}")))
}

#[derive(Template)]
#[template(path = "hub_event.html")]
struct HubEventPage {
    chrome: Chrome,
    e: EventView,
    registrations: Vec<(i64, String, String, String, bool, bool)>,
}

/// The event if it is of one of the coordinator's areas.
async fn own_event(app: &AppState, ctx: &Ctx, id: i64) -> Result<EventRow, PageError> {
    let areas = super::shared::coordinated_areas(app, ctx).await?;
    match app
        .store
        .event(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?
    {
        Some(e) if areas.iter().any(|(c, _)| *c == e.event.area) => Ok(e),
        _ => Err(PageError::not_found(ctx)),
    }
}

/// `GET /hub/events/{id}`: the event, who registered, check-in.
pub async fn hub_event(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let e = own_event(&app, &ctx, id).await?;
    let regs = app
        .store
        .registrations(id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let page = HubEventPage {
        chrome: Chrome::new(&ctx, "nav.consultation", false),
        e: view(ctx.lang, &e, now_jst(&app)),
        registrations: regs
            .iter()
            .map(|r| {
                (
                    r.id,
                    r.registration.name.clone(),
                    r.registration.organisation.clone(),
                    r.registration.profession.clone(),
                    r.cancelled_at.is_some(),
                    r.attended_at.is_some(),
                )
            })
            .collect(),
    };
    Ok(render(&ctx, &page)?.into_response())
}

/// `POST /hub/events/{id}/attendance/{registration}` (`attended` = 1 | 0): check-in.
pub async fn attendance(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path((id, registration)): Path<(i64, i64)>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    own_event(&app, &ctx, id).await?;
    if !app
        .store
        .check_in(
            id,
            registration,
            form(&body, "attended") == "1",
            app.clock.now(),
        )
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    {
        return Err(PageError::not_found(&ctx));
    }
    audit(
        &app,
        &ctx,
        &extensions,
        "event.attendance",
        format!("event:{id} registration:{registration}"),
    )
    .await;
    Ok(see_other(format!(
        "/hub/events/{id}#registration-{registration}"
    )))
}

/// `GET /hub/events/{id}/registrations.csv`: the list for the reception desk.
pub async fn registrations_csv(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    own_event(&app, &ctx, id).await?;
    let regs = app
        .store
        .registrations(id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "event.registrations_exported",
        format!("event:{id}"),
    )
    .await;
    let rows: Vec<Vec<String>> = regs
        .iter()
        .filter(|r| r.cancelled_at.is_none())
        .map(|r| {
            vec![
                r.registration.name.clone(),
                r.registration.organisation.clone(),
                r.registration.profession.clone(),
                r.registration.email.clone(),
                if r.attended_at.is_some() { "○" } else { "" }.to_owned(),
            ]
        })
        .collect();
    Ok(super::shared::download(
        "text/csv; charset=utf-8",
        &format!("event-{id}-registrations.csv"),
        crate::export::table_csv(&["氏名", "所属", "職種", "メール", "出席"], &rows),
    ))
}

/// `POST /hub/events/ledger` (`fy=`): writes each held event of the year into its area's
/// ledger as a result (④ trainings, ⑤ public awareness, ③ drills) with its attendance — one
/// item per event, replaced by later presses.
pub async fn record_in_ledger(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    use renkei_domain::ledger::ItemKind;
    let areas = super::shared::coordinated_areas(&app, &ctx).await?;
    let today = crate::clock::today(&app);
    let year = form(&body, "fy")
        .parse()
        .ok()
        .and_then(|y| FiscalYear::new(y).ok())
        .unwrap_or(FiscalYear::of_date(today));
    let codes: Vec<String> = areas.iter().map(|(c, _)| c.clone()).collect();
    let now = now_jst(&app);
    let held: Vec<EventRow> = app
        .store
        .events_of_areas(
            &codes,
            year.start().and_hms_opt(0, 0, 0).expect("midnight"),
            1000,
        )
        .await
        .map_err(|e| PageError::store(&ctx, e))?
        .into_iter()
        .filter(|e| {
            !e.cancelled && e.event.ends_at <= now && year.contains(e.event.starts_at.date())
        })
        .collect();
    let user = ctx.viewer.signed_in().map(|u| u.id);
    let mut recorded = 0;
    for e in &held {
        let marker = format!("Renkei 研修・講座の記録から #{}", e.id);
        let duty = e.event.kind.duty(e.event.audience);
        recorded += super::ledger_feed::record_marked(
            &app,
            std::slice::from_ref(&e.event.area),
            year,
            &marker,
            user,
            |_, ledger, existing| {
                Some(
                    super::ledger_feed::FedItem {
                        duty,
                        kind: match e.event.kind {
                            EventKind::Drill => ItemKind::Drill,
                            EventKind::Lecture => ItemKind::Lecture,
                            EventKind::Training | EventKind::CaseConference => ItemKind::Training,
                        },
                        title: format!(
                            "{}（{}月{}日）",
                            e.event.title,
                            e.event.starts_at.month(),
                            e.event.starts_at.day()
                        ),
                        detail: format!("。参加 {} 人（申込 {} 人）", e.attended, e.registered),
                        held: 1,
                        audience: vec![e.event.audience.label_ja().to_owned()],
                        organisers: if e.event.organiser.is_empty() {
                            Vec::new()
                        } else {
                            vec![e.event.organiser.clone()]
                        },
                    }
                    .into_item(ledger, existing),
                )
            },
        )
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    }
    audit(
        &app,
        &ctx,
        &extensions,
        "event.recorded_in_ledger",
        format!("events:{recorded} year:{}", year.year()),
    )
    .await;
    let done = if recorded == 0 { "nothing" } else { "recorded" };
    Ok(see_other(format!("/hub/events?done={done}")))
}
