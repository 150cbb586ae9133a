//! The safety check's dashboard (`/hub/safety/{id}`): rates by area and kind, the map coloured
//! by state, who has not answered (phone, fax, mail state), the answers with those who need
//! help first — and its live updates by server-sent events.

use super::safety::{
    answer_summary, condition_colour, jst_time_in, rate, reach, store_error, visible_check,
};
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::i18n::{catalog, Catalog, Lang};
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use renkei_domain::safety::{fuel_left, CheckKind, Condition, Power};
use renkei_store::safety::{CheckRecord, TargetRow};
use std::collections::BTreeMap;
use std::sync::Arc;

struct Tally {
    label: String,
    answered: usize,
    total: usize,
    rate: i64,
}

struct Waiting {
    target: i64,
    name: String,
    area: String,
    kind: &'static str,
    phone: String,
    fax: String,
    mail: String,
    mail_failed: bool,
    reminders: i64,
    opened: bool,
    /// It registered a satellite phone (worth trying when the lines are down).
    satellite: bool,
    /// Power-dependent home patients it registered in normal times.
    dependent: u32,
}

struct Answered {
    target: i64,
    name: String,
    area: String,
    kind: &'static str,
    /// Those who need help first.
    urgency: u8,
    condition: &'static str,
    colour: &'static str,
    at: String,
    by_phone: bool,
    summary: String,
}

#[derive(Template)]
#[template(path = "safety_live.html")]
struct LivePart {
    t: Arc<Catalog>,
    id: i64,
    csrf: String,
    open: bool,
    can_act: bool,
    answered: usize,
    /// What follows the number answered: 「／12 件が回答（8%）」.
    rate_rest: String,
    conditions: Vec<(&'static str, &'static str, usize)>,
    by_area: Vec<Tally>,
    by_kind: Vec<Tally>,
    map_svg: String,
    waiting: Vec<Waiting>,
    answers: Vec<Answered>,
    updated: String,
}

#[derive(Template)]
#[template(path = "safety_dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    id: i64,
    /// The fingerprint the page was drawn at (the live script skips updates that name it).
    version: String,
    title: String,
    drill: bool,
    message: String,
    created: String,
    deadline: String,
    open: bool,
    can_act: bool,
    notice: Option<String>,
    live: String,
    /// `&lang=en` when the page's language came with the address, so the live part follows.
    lang_query: &'static str,
}

fn mail_text(t: &Catalog, target: &TargetRow) -> (String, bool) {
    let error = |e: Option<&str>| {
        e.map(|e| {
            format!(
                "{}{}",
                t.get("safety.colon"),
                e.chars().take(80).collect::<String>()
            )
        })
        .unwrap_or_default()
    };
    match (&target.institution.email, &target.mail) {
        (None, _) => (t.get("safety.mail_none"), false),
        (Some(_), None) => (t.get("safety.mail_waiting"), false),
        (Some(_), Some(m)) if m.sent_at.is_some() => (t.get("safety.mail_sent"), false),
        (Some(_), Some(m)) if m.bounced_at.is_some() => (
            format!(
                "{}{}",
                t.get("safety.mail_bounced"),
                error(m.last_error.as_deref())
            ),
            true,
        ),
        (Some(_), Some(m)) if m.attempts >= crate::mail::MAX_ATTEMPTS => {
            (t.fill1("safety.mail_gave_up", "n", m.attempts), true)
        }
        (Some(_), Some(m)) if m.attempts > 0 => (
            format!(
                "{}{}",
                t.fill1("safety.mail_failing", "n", m.attempts),
                error(m.last_error.as_deref())
            ),
            true,
        ),
        (Some(_), Some(_)) => (t.get("safety.mail_waiting"), false),
    }
}

fn tallies(targets: &[TargetRow], key: impl Fn(&TargetRow) -> String) -> Vec<Tally> {
    let mut groups: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for (order, t) in targets.iter().enumerate() {
        let g = groups.entry(key(t)).or_insert((order, 0, 0));
        g.2 += 1;
        if t.answered_at.is_some() {
            g.1 += 1;
        }
    }
    let mut out: Vec<(usize, Tally)> = groups
        .into_iter()
        .map(|(label, (order, answered, total))| {
            (
                order,
                Tally {
                    label,
                    answered,
                    total,
                    rate: rate(answered as i64, total as i64),
                },
            )
        })
        .collect();
    out.sort_by_key(|(order, _)| *order);
    out.into_iter().map(|(_, t)| t).collect()
}

async fn live_part(
    app: &AppState,
    ctx: &Ctx,
    check: &CheckRecord,
    can_act: bool,
) -> Result<LivePart, PageError> {
    let targets = app
        .store
        .safety_targets(check.id)
        .await
        .map_err(store_error(ctx))?;
    let lang = ctx.lang;
    let cat = catalog(lang);
    let area_names = reach(app, ctx).await?.names(lang);
    let area_name = |code: &str| {
        area_names
            .get(code)
            .cloned()
            .unwrap_or_else(|| code.to_owned())
    };
    let condition = |c: Condition| lang.pick(c.label_ja(), c.label_en());
    let kind_of =
        |t: &TargetRow| lang.pick(t.institution.kind.label_ja(), t.institution.kind.label_en());
    let now = app.clock.now();
    let answered = targets.iter().filter(|t| t.answered_at.is_some()).count();
    let conditions = Condition::ALL
        .iter()
        .map(|c| {
            (
                condition(*c),
                condition_colour(*c),
                targets.iter().filter(|t| t.condition == *c).count(),
            )
        })
        .collect();
    let markers: Vec<crate::map::Marker> = targets
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let (lat, lng) = t.institution.point?;
            Some(crate::map::Marker {
                number: i as i64 + 1,
                lat,
                lng,
                kind: t.institution.kind,
                active: t.institution.active,
                label: cat.fill(
                    "safety.name_state",
                    &[
                        ("name", &t.institution.name),
                        ("state", &condition(t.condition)),
                    ],
                ),
                href: format!("#target-{}", t.id),
                colour: Some(condition_colour(t.condition)),
            })
        })
        .collect();
    let map_svg = crate::map::render(
        &cat.get("safety.map_title"),
        crate::map::outlines(),
        &markers,
    );
    let waiting = targets
        .iter()
        .filter(|t| t.answered_at.is_none())
        .map(|t| {
            let (mail, mail_failed) = mail_text(&cat, t);
            Waiting {
                target: t.id,
                name: t.institution.name.clone(),
                area: area_name(&t.institution.area),
                kind: kind_of(t),
                phone: t.institution.phone.clone().unwrap_or_default(),
                fax: t.institution.fax.clone().unwrap_or_default(),
                mail,
                mail_failed,
                reminders: t.reminders,
                opened: t.opened_at.is_some(),
                satellite: t.baseline.as_ref().is_some_and(|b| b.satellite_phone),
                dependent: t
                    .baseline
                    .as_ref()
                    .map_or(0, |b| b.dependent_patients.total()),
            }
        })
        .collect();
    let colon = cat.get("safety.colon");
    let slash = cat.get("safety.slash");
    let mut answers: Vec<Answered> = targets
        .iter()
        .filter_map(|t| {
            let a = t.answer.as_ref()?;
            let mut summary = answer_summary(&cat, a)
                .into_iter()
                .map(|(k, v)| format!("{k}{colon}{v}"))
                .collect::<Vec<_>>()
                .join(&slash);
            if let (Power::Generator, None, Some(hours)) = (
                a.quick.power,
                a.quick.fuel_hours,
                t.baseline.as_ref().and_then(|b| b.assumed_fuel_hours()),
            ) {
                summary.push_str(&slash);
                summary.push_str(&cat.fill1("safety.fuel_registered", "h", hours));
            }
            if let (Power::Generator, Some(h), Some(at)) =
                (a.quick.power, a.quick.fuel_hours, t.answered_at.as_deref())
            {
                if let Ok(at) = chrono::DateTime::parse_from_rfc3339(at) {
                    let left = fuel_left(h, at.with_timezone(&chrono::Utc), now);
                    summary.push_str(&slash);
                    summary.push_str(&cat.fill1("safety.fuel_now", "h", format!("{left:.0}")));
                }
            }
            Some(Answered {
                target: t.id,
                name: t.institution.name.clone(),
                area: area_name(&t.institution.area),
                kind: kind_of(t),
                urgency: match t.condition {
                    Condition::Critical => 0,
                    Condition::Impaired => 1,
                    _ => 2,
                },
                condition: condition(t.condition),
                colour: condition_colour(t.condition),
                at: t
                    .answered_at
                    .as_deref()
                    .map(|at| jst_time_in(lang, at))
                    .unwrap_or_default(),
                by_phone: t.by_phone,
                summary,
            })
        })
        .collect();
    // Those who need help first.
    answers.sort_by_key(|a| a.urgency);
    Ok(LivePart {
        id: check.id,
        csrf: ctx.viewer.csrf_token().to_owned(),
        open: check.is_open(&renkei_store::time_text(now)),
        can_act,
        answered,
        rate_rest: cat.fill(
            "safety.rate_rest",
            &[
                ("total", &targets.len()),
                ("rate", &rate(answered as i64, targets.len() as i64)),
            ],
        ),
        conditions,
        by_area: tallies(&targets, |t| area_name(&t.institution.area)),
        by_kind: tallies(&targets, |t| kind_of(t).to_owned()),
        map_svg,
        waiting,
        answers,
        updated: jst_time_in(lang, &renkei_store::time_text(now)),
        t: cat,
    })
}

/// `&lang=en` when the request is in English (the live part, fetched again by the page,
/// follows the page's language even when it came with the address rather than the cookie).
fn lang_query(ctx: &Ctx) -> &'static str {
    match ctx.lang {
        Lang::Ja => "",
        Lang::En => "&lang=en",
    }
}

/// `?done=` after an action, `?part=live` for the live part alone.
#[derive(Debug, Default, serde::Deserialize)]
pub struct DashboardQuery {
    /// What was done.
    pub done: Option<String>,
    /// How many mails a reminder queued.
    pub sent: Option<usize>,
    /// Only the live part.
    pub part: Option<String>,
}

/// `GET /hub/safety/{id}`: the dashboard (or, with `?part=live`, its live part).
pub async fn show(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(query): Query<DashboardQuery>,
) -> Result<Response, PageError> {
    let check = visible_check(&app, &ctx, id, false).await?;
    let can_act = reach(&app, &ctx).await?.acts_on(&check);
    // Read before the content: a change in between only makes the page fetch its part again.
    let version = app
        .store
        .safety_fingerprint(id)
        .await
        .map_err(store_error(&ctx))?;
    let live = live_part(&app, &ctx, &check, can_act).await?;
    if query.part.as_deref() == Some("live") {
        let mut response = render(&ctx, &live)?.into_response();
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        return Ok(response);
    }
    let t = &live.t;
    let notice = match query.done.as_deref() {
        Some("created") => Some(t.get("safety.notice_created")),
        Some("reminded") => Some(t.fill1("safety.notice_reminded", "n", query.sent.unwrap_or(0))),
        Some("phone") => Some(t.get("safety.notice_phone")),
        Some("closed") => Some(t.get("safety.notice_closed")),
        _ => None,
    };
    let page = DashboardPage {
        chrome: Chrome::new(&ctx, "nav.disaster", false),
        id,
        version,
        drill: check.kind == CheckKind::Drill,
        message: check.message.clone(),
        created: jst_time_in(ctx.lang, &check.created_at),
        deadline: jst_time_in(ctx.lang, &check.deadline),
        lang_query: lang_query(&ctx),
        open: live.open,
        can_act,
        notice,
        live: live.render().map_err(|e| {
            PageError::store(&ctx, renkei_store::StoreError::Invalid(e.to_string()))
        })?,
        title: check.title,
    };
    Ok(render(&ctx, &page)?.into_response())
}

/// `GET /hub/safety/{id}/events`: server-sent events — an `update` on connecting and whenever an answer, an
/// opening, a reminder or a delivery changes the check (polled from the database once a second,
/// also during a surge, so an answer taken by any instance shows within about a second). The
/// stream ends after an hour; browsers reconnect.
pub async fn events(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    visible_check(&app, &ctx, id, false).await?;
    let start = tokio::time::Instant::now();
    // One look a second at most, also while answers pour in (an update makes the page fetch
    // its live part again, so more than one a second would only cost both sides).
    let stream = futures_util::stream::unfold(
        (app, None::<String>, false),
        move |(app, last, looked)| async move {
            let (mut last, mut looked) = (last, looked);
            loop {
                if looked {
                    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
                }
                looked = true;
                if start.elapsed() > std::time::Duration::from_secs(3600) {
                    return None;
                }
                match app.store.safety_fingerprint(id).await {
                    // The first look also sends one, so a page that (re)connects catches up
                    // on what changed while it was not listening.
                    Ok(now) if last.as_ref() != Some(&now) => {
                        last = Some(now.clone());
                        let event = Event::default().event("update").data(now);
                        return Some((
                            Ok::<_, std::convert::Infallible>(event),
                            (app, last, looked),
                        ));
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "safety-check events: store failed"),
                }
            }
        },
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}
