//! On-call rotas of groups of institutions (`/rota…`): clinics that share nights (グループ診療)
//! form a group, plan who covers each night and each daytime of weekends, holidays and the
//! year-end break, see the gaps and double bookings of a month at a glance, see who is on call
//! now, and take the plan into their calendars as iCalendar. Members' staff plan; the hub of the
//! group's area and the prefecture read.

use super::safety::{audit, date_in, see_other};
use super::shared::{entry, form, form_all, own_institutions};
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::i18n::Lang;
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, RawForm, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use renkei_domain::accounts::AccountRole;
use renkei_domain::institution::InstitutionKind;
use renkei_domain::rota::{
    day_off, icalendar, month_of, problems, slot_at, slot_exists, slots_of, span, CalendarEvent,
    Problem, Shift, Slot,
};
use renkei_store::rota::{GroupRow, ShiftRow};
use renkei_store::StoreError;
use serde::Deserialize;

/// How far from a member other institutions are offered as members, km.
const NEARBY_KM: f64 = 15.0;
/// How many are offered.
const NEARBY: usize = 80;
/// The longest group name and note.
const NAME_CHARS: usize = 60;
const NOTE_CHARS: usize = 1000;
const DOCTOR_CHARS: usize = 40;

/// How the viewer stands to a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Works at a member that accepted: plans the rota.
    Member(i64),
    /// Works at an invited member: reads, and accepts or declines.
    Invited(i64),
    /// The hub of the group's area, the prefecture: reads.
    Reader,
}

impl Standing {
    /// The member the viewer plans for.
    fn plans(self) -> Option<i64> {
        match self {
            Standing::Member(id) => Some(id),
            Standing::Invited(_) | Standing::Reader => None,
        }
    }

    /// The member the viewer works at, accepted or invited.
    fn own(self) -> Option<i64> {
        match self {
            Standing::Member(id) | Standing::Invited(id) => Some(id),
            Standing::Reader => None,
        }
    }
}

/// The group and how the viewer stands to it. Anyone who may not see it gets the same 404 as
/// for a group that does not exist.
async fn visible(app: &AppState, ctx: &Ctx, id: i64) -> Result<(GroupRow, Standing), PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::not_found(ctx))?;
    let group = app
        .store
        .rota_group(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .ok_or_else(|| PageError::not_found(ctx))?;
    let own = own_institutions(user);
    let accepted = group
        .members
        .iter()
        .find(|m| m.accepted && own.contains(&m.id));
    let invited = group
        .members
        .iter()
        .find(|m| !m.accepted && own.contains(&m.id));
    let standing = match (accepted, invited) {
        (Some(m), _) => Standing::Member(m.id),
        (None, Some(m)) => Standing::Invited(m.id),
        (None, None)
            if user.has_role(AccountRole::PrefectureViewer)
                || super::changes::may_decide(user, &group.area_code) =>
        {
            Standing::Reader
        }
        (None, None) => return Err(PageError::not_found(ctx)),
    };
    Ok((group, standing))
}

fn weekday_ja(d: Weekday) -> &'static str {
    ["月", "火", "水", "木", "金", "土", "日"][d.num_days_from_monday() as usize]
}

fn day_label(lang: Lang, day: NaiveDate) -> String {
    match lang {
        Lang::Ja => format!(
            "{}月{}日（{}）",
            day.month(),
            day.day(),
            weekday_ja(day.weekday())
        ),
        Lang::En => day.format("%a %-d %b").to_string(),
    }
}

fn slot_label(lang: Lang, slot: Slot) -> &'static str {
    lang.pick(slot.label_ja(), slot.label_en())
}

/// Who covers a slot now, as the pages say it.
pub struct OnCall {
    slot: String,
    names: Vec<(String, String, String)>,
}

async fn on_call(app: &AppState, lang: Lang, group: i64) -> Result<Option<OnCall>, StoreError> {
    let Some((day, slot)) = slot_at(app.clock.now()) else {
        return Ok(None);
    };
    let shifts = app.store.rota_shifts(group, day, day).await?;
    Ok(Some(OnCall {
        slot: format!("{} {}", day_label(lang, day), slot_label(lang, slot)),
        names: shifts
            .iter()
            .filter(|s| s.shift.slot == slot)
            .map(|s| {
                (
                    s.name.clone(),
                    s.shift.doctor.clone(),
                    s.phone.clone().unwrap_or_default(),
                )
            })
            .collect(),
    }))
}

// ---------------------------------------------------------------------------------------------
// The list of groups and a new group.

/// A group as the list shows it.
pub struct GroupItem {
    id: i64,
    /// The viewer's institution is invited and has not answered.
    invited: bool,
    name: String,
    members: String,
    on_call: Option<OnCall>,
}

#[derive(Template)]
#[template(path = "rota_list.html")]
struct ListPage {
    chrome: Chrome,
    groups: Vec<GroupItem>,
    /// The viewer's institution and its nearby clinics and hospitals (for a new group).
    creator: Option<(i64, String)>,
    nearby: Vec<Nearby>,
    error: Option<String>,
    notice: Option<String>,
    /// The new group's name and note as typed.
    group_name: String,
    group_note: String,
}

async fn list_page(
    app: &AppState,
    ctx: &Ctx,
    error: Option<String>,
    body: &[u8],
) -> Result<ListPage, PageError> {
    let lang = ctx.lang;
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::not_found(ctx))?;
    let own = own_institutions(user);
    let mut groups: Vec<GroupRow> = Vec::new();
    for i in &own {
        for g in app
            .store
            .rota_groups_of(*i)
            .await
            .map_err(|e| PageError::store(ctx, e))?
        {
            if !groups.iter().any(|x| x.id == g.id) {
                groups.push(g);
            }
        }
    }
    if own.is_empty() {
        let areas = super::safety::visible_areas(app, ctx).await?;
        let codes: Vec<String> = areas.into_iter().map(|(c, _)| c).collect();
        groups = app
            .store
            .rota_groups_in(&codes)
            .await
            .map_err(|e| PageError::store(ctx, e))?;
    }
    let mut items = Vec::with_capacity(groups.len());
    for g in &groups {
        items.push(GroupItem {
            id: g.id,
            invited: !g.members.iter().any(|m| m.accepted && own.contains(&m.id))
                && g.members.iter().any(|m| own.contains(&m.id)),
            name: g.name.clone(),
            members: g
                .members
                .iter()
                .map(|m| m.name.clone())
                .collect::<Vec<_>>()
                .join("・"),
            on_call: on_call(app, lang, g.id)
                .await
                .map_err(|e| PageError::store(ctx, e))?,
        });
    }
    let chosen: Option<i64> = form(body, "creator")
        .parse()
        .ok()
        .filter(|c| own.contains(c));
    let (creator, nearby) = match chosen.or(own.first().copied()) {
        Some(id) => {
            let (name, near) = nearby(app, ctx, id, &[]).await?;
            (Some((id, name)), near)
        }
        None => (None, Vec::new()),
    };
    let picked: Vec<i64> = form_all(body, "member")
        .iter()
        .filter_map(|v| v.parse().ok())
        .collect();
    Ok(ListPage {
        chrome: Chrome::new(ctx, "nav.coordination", false),
        groups: items,
        creator,
        nearby: nearby
            .into_iter()
            .map(|mut n| {
                n.checked = picked.contains(&n.id);
                n
            })
            .collect(),
        error,
        notice: None,
        group_name: form(body, "name"),
        group_note: form(body, "note"),
    })
}

/// A clinic or hospital near a member, offered as a member.
pub struct Nearby {
    id: i64,
    name: String,
    kind: &'static str,
    distance: String,
    checked: bool,
}

/// An institution's name and the clinics and hospitals near it.
async fn nearby(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    leave_out: &[i64],
) -> Result<(String, Vec<Nearby>), PageError> {
    let lang = ctx.lang;
    let record = entry(app, ctx, id).await?;
    let Some(point) = record.fields.location.as_ref().map(|p| (p.lat, p.lng)) else {
        return Ok((record.fields.name, Vec::new()));
    };
    app.directory_index
        .ensure_loaded(&app.store)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let near = app
        .directory_index
        .nearest_of_kinds(
            point,
            &[InstitutionKind::Clinic, InstitutionKind::Hospital],
            NEARBY_KM,
            NEARBY + leave_out.len() + 1,
        )
        .into_iter()
        .filter(|h| h.id != id && !leave_out.contains(&h.id))
        .take(NEARBY)
        .map(|h| {
            let kind = InstitutionKind::from_code(h.kind)
                .map(|k| lang.pick(k.label_ja(), k.label_en()))
                .unwrap_or("");
            Nearby {
                id: h.id,
                name: h.name,
                kind,
                distance: format!("{:.1} km", h.distance_km),
                checked: false,
            }
        })
        .collect();
    Ok((record.fields.name, near))
}

/// `GET /rota`: the viewer's groups (or, for the hub and the prefecture, those of their areas)
/// with who is on call now, and a new group.
pub async fn list(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<MonthQuery>,
) -> Result<Response, PageError> {
    let mut page = list_page(&app, &ctx, None, b"").await?;
    if q.done.as_deref() == Some("left") {
        page.notice = Some(crate::i18n::catalog(ctx.lang).get("rota.done_left"));
    }
    Ok(render(&ctx, &page)?.into_response())
}

/// `POST /rota`: a new group of the viewer's institution and the members it chose.
pub async fn create(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::not_found(&ctx))?;
    let own = own_institutions(user);
    let chosen: Option<i64> = form(&body, "creator").parse().ok();
    let Some(creator) = chosen.filter(|c| own.contains(c)).or(own.first().copied()) else {
        return Err(PageError::forbidden(&ctx));
    };
    let name = form(&body, "name").trim().to_owned();
    let (_, near) = nearby(&app, &ctx, creator, &[]).await?;
    let mut invited: Vec<i64> = Vec::new();
    for m in form_all(&body, "member")
        .iter()
        .filter_map(|v| v.parse::<i64>().ok())
    {
        if near.iter().any(|n| n.id == m) && !invited.contains(&m) {
            invited.push(m);
        }
    }
    let problem = if name.is_empty() {
        Some("グループの名前を書いてください（例：八尾東部在宅当番グループ）".to_owned())
    } else if name.chars().count() > NAME_CHARS {
        Some(format!(
            "グループの名前は{NAME_CHARS}文字までにしてください"
        ))
    } else if form(&body, "note").chars().count() > NOTE_CHARS {
        Some(format!("申し合わせは{NOTE_CHARS}文字までにしてください"))
    } else if invited.is_empty() {
        Some("一緒に当番をする医療機関を1か所以上選んでください".to_owned())
    } else {
        None
    };
    if let Some(message) = problem {
        let page = list_page(&app, &ctx, Some(message), &body).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&ctx, &page)?).into_response());
    }
    let id = app
        .store
        .create_rota_group(
            &name,
            &form(&body, "note"),
            creator,
            &invited,
            Some(user.id),
            app.clock.now(),
        )
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "rota.created",
        format!("rota_group:{id}"),
    )
    .await;
    Ok(see_other(format!("/rota/{id}?done=created")))
}

// ---------------------------------------------------------------------------------------------
// A group's month.

/// One slot of one day in the month's table.
pub struct SlotCell {
    exists: bool,
    shifts: Vec<(i64, String, String)>,
    gap: bool,
    double: bool,
}

/// One day of the month's table.
pub struct DayRow {
    iso: String,
    label: String,
    off: String,
    today: bool,
    cells: Vec<SlotCell>,
}

#[derive(Template)]
#[template(path = "rota_month.html")]
struct MonthPage {
    chrome: Chrome,
    id: i64,
    name: String,
    note: String,
    can_edit: bool,
    /// The viewer's institution is invited and has not answered.
    invited: bool,
    /// The viewer's institution (it may leave the group).
    own: Option<i64>,
    notice: Option<String>,
    error: Option<String>,
    month: String,
    month_label: String,
    previous: String,
    next: String,
    first: String,
    last: String,
    on_call: Option<OnCall>,
    days: Vec<DayRow>,
    gaps: usize,
    doubles: usize,
    /// (id, name, phone, accepted).
    members: Vec<(i64, String, String, bool)>,
    slots: Vec<(&'static str, &'static str)>,
    weekdays: Vec<(&'static str, &'static str)>,
    nearby: Vec<Nearby>,
}

/// The query of a group's page.
#[derive(Debug, Deserialize, Default)]
pub struct MonthQuery {
    /// The month, 「2026-12」; this month by default.
    pub month: Option<String>,
    /// What was just done.
    pub done: Option<String>,
}

fn month_start(text: Option<&str>, today: NaiveDate) -> NaiveDate {
    text.and_then(|m| NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok())
        .unwrap_or(today)
        .with_day(1)
        .expect("day 1 exists")
}

async fn month_page(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    month: NaiveDate,
    notice: Option<String>,
    error: Option<String>,
) -> Result<MonthPage, PageError> {
    let lang = ctx.lang;
    let (group, standing) = visible(app, ctx, id).await?;
    let member = standing.plans();
    let (first, last) = month_of(month);
    let shifts = app
        .store
        .rota_shifts(id, first, last)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let plan: Vec<Shift> = shifts.iter().map(|s| s.shift.clone()).collect();
    let found = problems(first, last, &plan);
    let today = crate::clock::today(app);
    let mut days = Vec::new();
    let mut day = first;
    while day <= last {
        let cells = [Slot::Day, Slot::Night]
            .iter()
            .map(|slot| {
                let on: Vec<&ShiftRow> = shifts
                    .iter()
                    .filter(|s| s.shift.day == day && s.shift.slot == *slot)
                    .collect();
                SlotCell {
                    exists: slot_exists(day, *slot),
                    shifts: on
                        .iter()
                        .map(|s| (s.id, s.name.clone(), s.shift.doctor.clone()))
                        .collect(),
                    gap: found.contains(&Problem::Gap(day, *slot)),
                    double: found
                        .iter()
                        .any(|p| matches!(p, Problem::Double(d, s, _) if *d == day && s == slot)),
                }
            })
            .collect();
        days.push(DayRow {
            iso: day.to_string(),
            label: day_label(lang, day),
            // The weekday is in the label; holidays and the year-end break are named.
            off: day_off(day)
                .filter(|(ja, _)| !["土曜日", "日曜日"].contains(ja))
                .map(|(ja, en)| lang.pick(ja, en).to_owned())
                .unwrap_or_default(),
            today: day == today,
            cells,
        });
        day += Duration::days(1);
    }
    let nearby_members = if member.is_some() {
        let ids: Vec<i64> = group.members.iter().map(|m| m.id).collect();
        nearby(app, ctx, member.unwrap_or_default(), &ids).await?.1
    } else {
        Vec::new()
    };
    let month_label = match lang {
        Lang::Ja => format!(
            "{}年{}月",
            renkei_domain::fiscal_year::format_wareki_date(first)
                .split('年')
                .next()
                .unwrap_or_default(),
            first.month()
        ),
        Lang::En => first.format("%B %Y").to_string(),
    };
    Ok(MonthPage {
        chrome: Chrome::new(ctx, "nav.coordination", false),
        id,
        name: group.name.clone(),
        note: group.note.clone(),
        can_edit: member.is_some(),
        invited: matches!(standing, Standing::Invited(_)),
        own: standing.own(),
        notice,
        error,
        month: first.format("%Y-%m").to_string(),
        month_label,
        previous: (first - Duration::days(1)).format("%Y-%m").to_string(),
        next: (last + Duration::days(1)).format("%Y-%m").to_string(),
        first: first.to_string(),
        last: last.to_string(),
        on_call: on_call(app, lang, id)
            .await
            .map_err(|e| PageError::store(ctx, e))?,
        gaps: found
            .iter()
            .filter(|p| matches!(p, Problem::Gap(..)))
            .count(),
        doubles: found
            .iter()
            .filter(|p| matches!(p, Problem::Double(..)))
            .count(),
        days,
        members: group
            .members
            .iter()
            .map(|m| {
                (
                    m.id,
                    m.name.clone(),
                    m.phone.clone().unwrap_or_default(),
                    m.accepted,
                )
            })
            .collect(),
        slots: Slot::ALL
            .iter()
            .map(|s| (s.code(), slot_label(lang, *s)))
            .collect(),
        weekdays: WEEKDAYS
            .iter()
            .map(|(code, ja, en)| (*code, lang.pick(ja, en)))
            .collect(),
        nearby: nearby_members,
    })
}

/// The days a pattern names: a weekday, or every holiday and year-end day.
const WEEKDAYS: [(&str, &str, &str); 8] = [
    ("mon", "毎週月曜日", "Every Monday"),
    ("tue", "毎週火曜日", "Every Tuesday"),
    ("wed", "毎週水曜日", "Every Wednesday"),
    ("thu", "毎週木曜日", "Every Thursday"),
    ("fri", "毎週金曜日", "Every Friday"),
    ("sat", "毎週土曜日", "Every Saturday"),
    ("sun", "毎週日曜日", "Every Sunday"),
    (
        "holiday",
        "祝日・年末年始（土日以外）",
        "Holidays and year-end (weekdays)",
    ),
];

fn matches_pattern(day: NaiveDate, pattern: &str) -> bool {
    let weekday = day.weekday();
    match pattern {
        "holiday" => day_off(day).is_some() && weekday != Weekday::Sat && weekday != Weekday::Sun,
        code => WEEKDAYS[..7]
            .iter()
            .position(|(c, ..)| *c == code)
            .is_some_and(|n| weekday.num_days_from_monday() as usize == n),
    }
}

/// `GET /rota/{id}`: the month's plan with its gaps and double bookings, who is on call now.
pub async fn show(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<MonthQuery>,
) -> Result<Response, PageError> {
    let month = month_start(q.month.as_deref(), crate::clock::today(&app));
    let notice = q.done.as_deref().and_then(|d| {
        let t = crate::i18n::catalog(ctx.lang);
        matches!(
            d,
            "created" | "assigned" | "removed" | "member_added" | "joined" | "pattern"
        )
        .then(|| t.get(&format!("rota.done_{d}")))
    });
    let page = month_page(&app, &ctx, id, month, notice, None).await?;
    Ok(render(&ctx, &page)?.into_response())
}

/// The month's page again with a message (422).
async fn refused(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    month: NaiveDate,
    message: String,
) -> Result<Response, PageError> {
    let page = month_page(app, ctx, id, month, None, Some(message)).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(ctx, &page)?).into_response())
}

/// `POST /rota/{id}/shifts`: puts a member on one slot, or (`pattern`) on every matching slot of
/// the month that nobody covers yet.
pub async fn assign(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (group, standing) = visible(&app, &ctx, id).await?;
    if standing.plans().is_none() {
        return Err(PageError::forbidden(&ctx));
    }
    let today = crate::clock::today(&app);
    let month = month_start(Some(&form(&body, "month")), today);
    let slot = Slot::from_code(&form(&body, "slot"));
    let who: Option<i64> = form(&body, "member").parse().ok();
    let doctor = form(&body, "doctor").trim().to_owned();
    let Some(who) = who.filter(|w| group.members.iter().any(|m| m.id == *w && m.accepted)) else {
        return refused(
            &app,
            &ctx,
            id,
            month,
            "当番をする医療機関を選んでください".into(),
        )
        .await;
    };
    let Some(slot) = slot else {
        return refused(
            &app,
            &ctx,
            id,
            month,
            "時間帯（夜間・休日日中）を選んでください".into(),
        )
        .await;
    };
    if doctor.chars().count() > DOCTOR_CHARS {
        return refused(
            &app,
            &ctx,
            id,
            month,
            format!("医師名は{DOCTOR_CHARS}文字までにしてください"),
        )
        .await;
    }
    let by = ctx.viewer.signed_in().map(|u| u.id);
    let pattern = form(&body, "pattern");
    let days: Vec<NaiveDate> = if pattern.is_empty() {
        let typed = form(&body, "day");
        let Ok(day) = renkei_domain::power::read_day(&typed, "日付") else {
            return refused(
                &app,
                &ctx,
                id,
                month,
                "日付を選んでください（例：2026-12-24）".into(),
            )
            .await;
        };
        if !slot_exists(day, slot) {
            return refused(
                &app,
                &ctx,
                id,
                month,
                format!(
                    "{}は平日です。休日日中の当番は土日・祝日・年末年始だけにあります",
                    date_in(ctx.lang, day)
                ),
            )
            .await;
        }
        vec![day]
    } else {
        if !WEEKDAYS.iter().any(|(c, ..)| *c == pattern) {
            return refused(&app, &ctx, id, month, "曜日を選んでください".into()).await;
        }
        let (first, last) = month_of(month);
        let taken = app
            .store
            .rota_shifts(id, first, last)
            .await
            .map_err(|e| PageError::store(&ctx, e))?;
        let mut days = Vec::new();
        let mut day = first;
        while day <= last {
            if matches_pattern(day, &pattern)
                && slots_of(day).contains(&slot)
                && !taken
                    .iter()
                    .any(|s| s.shift.day == day && s.shift.slot == slot)
            {
                days.push(day);
            }
            day += Duration::days(1);
        }
        days
    };
    for day in &days {
        let shift = Shift {
            day: *day,
            slot,
            institution_id: who,
            doctor: doctor.clone(),
        };
        app.store
            .assign_rota_shift(id, &shift, by, app.clock.now())
            .await
            .map_err(|e| PageError::store(&ctx, e))?;
    }
    audit(
        &app,
        &ctx,
        &extensions,
        "rota.assigned",
        format!("rota_group:{id} shifts:{}", days.len()),
    )
    .await;
    let done = if pattern.is_empty() {
        "assigned"
    } else {
        "pattern"
    };
    Ok(see_other(format!(
        "/rota/{id}?month={}&done={done}",
        month.format("%Y-%m")
    )))
}

/// `POST /rota/{id}/shifts/{shift}/remove`.
pub async fn remove_shift(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path((id, shift)): Path<(i64, i64)>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (_, standing) = visible(&app, &ctx, id).await?;
    if standing.plans().is_none() {
        return Err(PageError::forbidden(&ctx));
    }
    if !app
        .store
        .remove_rota_shift(id, shift)
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    {
        return Err(PageError::not_found(&ctx));
    }
    audit(
        &app,
        &ctx,
        &extensions,
        "rota.removed",
        format!("rota_group:{id} shift:{shift}"),
    )
    .await;
    let month = month_start(Some(&form(&body, "month")), crate::clock::today(&app));
    Ok(see_other(format!(
        "/rota/{id}?month={}&done=removed",
        month.format("%Y-%m")
    )))
}

/// `POST /rota/{id}/members`: adds a nearby clinic or hospital to the group.
pub async fn add_member(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (group, standing) = visible(&app, &ctx, id).await?;
    let Some(me) = standing.plans() else {
        return Err(PageError::forbidden(&ctx));
    };
    let ids: Vec<i64> = group.members.iter().map(|m| m.id).collect();
    let (_, near) = nearby(&app, &ctx, me, &ids).await?;
    let wanted: Option<i64> = form(&body, "institution").parse().ok();
    let month = month_start(None, crate::clock::today(&app));
    let Some(new) = wanted.filter(|w| near.iter().any(|n| n.id == *w)) else {
        return refused(
            &app,
            &ctx,
            id,
            month,
            "加える医療機関を選んでください".into(),
        )
        .await;
    };
    app.store
        .add_rota_member(id, new, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "rota.member_added",
        format!("rota_group:{id} institution:{new}"),
    )
    .await;
    Ok(see_other(format!("/rota/{id}?done=member_added")))
}

/// `POST /rota/{id}/join`: the viewer's invited institution accepts and can be put on the rota.
pub async fn join(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (_, standing) = visible(&app, &ctx, id).await?;
    let Standing::Invited(me) = standing else {
        return Err(PageError::forbidden(&ctx));
    };
    app.store
        .accept_rota_invitation(id, me, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "rota.joined",
        format!("rota_group:{id} institution:{me}"),
    )
    .await;
    Ok(see_other(format!("/rota/{id}?done=joined")))
}

/// `POST /rota/{id}/leave`: the viewer's institution leaves the group (or declines the
/// invitation), with its shifts from tomorrow; today's stay, as one may be running now. A
/// group keeps at least two institutions.
pub async fn leave(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (group, standing) = visible(&app, &ctx, id).await?;
    let Some(me) = standing.own() else {
        return Err(PageError::forbidden(&ctx));
    };
    let today = crate::clock::today(&app);
    if matches!(standing, Standing::Member(_)) && group.members.len() <= 2 {
        return refused(
            &app,
            &ctx,
            id,
            month_start(None, today),
            "グループには2か所以上の医療機関が必要です。グループをやめるときは、もう一方の医療機関にも伝えてください".into(),
        )
        .await;
    }
    app.store
        .remove_rota_member(id, me, today + Duration::days(1))
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "rota.left",
        format!("rota_group:{id} institution:{me}"),
    )
    .await;
    Ok(see_other("/rota?done=left".to_owned()))
}

/// `GET /rota/{id}/calendar.ics`: the plan as iCalendar — the month asked for, or this month and
/// the next two.
pub async fn calendar(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<MonthQuery>,
) -> Result<Response, PageError> {
    let (group, _) = visible(&app, &ctx, id).await?;
    let today = crate::clock::today(&app);
    let (first, last) = match q.month.as_deref() {
        Some(m) => month_of(month_start(Some(m), today)),
        None => {
            let (first, _) = month_of(today);
            let third =
                month_of(month_of(month_of(first).1 + Duration::days(1)).1 + Duration::days(1)).1;
            (first, third)
        }
    };
    let shifts = app
        .store
        .rota_shifts(id, first, last)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let events: Vec<CalendarEvent> = shifts
        .iter()
        .map(|s| {
            let (start, end) = span(s.shift.day, s.shift.slot);
            let who = if s.shift.doctor.is_empty() {
                s.name.clone()
            } else {
                format!("{}（{}）", s.name, s.shift.doctor)
            };
            let what = match s.shift.slot {
                Slot::Night => "夜間当番",
                Slot::Day => "休日日中当番",
            };
            CalendarEvent {
                uid: format!("rota-{id}-shift-{}@renkei", s.id),
                start,
                end,
                summary: format!("{what}：{who}"),
                description: format!(
                    "{}\n電話：{}",
                    group.name,
                    s.phone.clone().unwrap_or_default()
                ),
                location: String::new(),
                organizer: None,
                attendees: Vec::new(),
                sequence: 0,
                cancelled: false,
            }
        })
        .collect();
    let body = icalendar(
        &format!("{} 当番表", group.name),
        "PUBLISH",
        &events,
        app.clock.now(),
    );
    Ok(super::shared::download(
        "text/calendar; charset=utf-8",
        &format!("rota-{id}-{}.ics", first.format("%Y-%m")),
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_name_weekdays_and_weekday_holidays() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        assert!(matches_pattern(d(11, 25), "wed"));
        assert!(!matches_pattern(d(11, 25), "thu"));
        assert!(
            matches_pattern(d(11, 23), "holiday"),
            "勤労感謝の日, a Monday"
        );
        assert!(
            !matches_pattern(d(11, 22), "holiday"),
            "a Sunday is a Sunday"
        );
        assert!(matches_pattern(d(12, 29), "holiday"), "年末年始");
    }
}
