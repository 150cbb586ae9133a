//! Safety checks for the hub (`/hub/safety`): create a drill or a real alert for the
//! institutions of the coordinator's areas, send each its own response link, and follow the
//! answers live on a dashboard (server-sent events) — rates by area and kind, a map coloured by
//! state, who has not answered with their phone numbers, reminders, answers taken by phone,
//! links printed for fax, CSV and Excel. The prefecture viewer reads every check.

use super::safety_form::{self, DetailFields, QuickFields};
use crate::auth::access::client_of;
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, RawForm, State};
use axum::http::{header, Extensions, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use renkei_domain::accounts::AccountRole;
use renkei_domain::audit::Outcome;
use renkei_domain::institution::InstitutionKind;
use renkei_domain::safety::{fuel_left, Answer, CheckKind, Condition, NewCheck, Power, Targeting};
use renkei_store::audit::AuditEvent;
use renkei_store::safety::{CheckRecord, TargetRow};
use std::collections::BTreeMap;

const JST_OFFSET: i32 = 9 * 3600;

fn jst() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(JST_OFFSET).expect("JST")
}

/// A stored UTC time as people read it: 「令和8年9月1日 14:30」 (JST).
pub fn jst_time(stored: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(stored) {
        Ok(t) => {
            let t = t.with_timezone(&jst());
            format!(
                "{} {}",
                renkei_domain::fiscal_year::format_wareki_date(t.date_naive()),
                t.format("%H:%M")
            )
        }
        Err(_) => stored.to_owned(),
    }
}

/// The colour of a state on the map and in the lists.
pub fn condition_colour(c: Condition) -> &'static str {
    match c {
        Condition::Normal => "#2e7d32",
        Condition::Impaired => "#e0a100",
        Condition::Critical => "#c62828",
        Condition::NoAnswer => "#8a8a8a",
    }
}

/// An answer in a few lines, as the responder and the coordinator read it.
pub fn answer_summary(a: &Answer) -> Vec<(&'static str, String)> {
    let q = &a.quick;
    let mut power = q.power.label_ja().to_owned();
    if let (Power::Generator, Some(h)) = (q.power, q.fuel_hours) {
        power.push_str(&format!("（燃料 あと{h}時間）"));
    }
    let mut out = vec![
        ("職員・患者", q.people.label_ja().to_owned()),
        ("建物", q.building.label_ja().to_owned()),
        ("電気", power),
        ("水", q.water.label_ja().to_owned()),
        ("受入可能な患者数", format!("{}人", q.can_accept)),
    ];
    if let Some(d) = &a.details {
        if let Some(s) = d.staff_available {
            out.push(("勤務できる職員", format!("{s}人")));
        }
        if let Some(h) = d.home_visits {
            out.push(("訪問の継続", h.label_ja().to_owned()));
        }
        let p = &d.power_dependent;
        if p.total() > 0 {
            out.push((
                "支援が要る在宅患者",
                format!(
                    "人工呼吸器 {}人・在宅酸素 {}人・吸引 {}人",
                    p.ventilator, p.oxygen, p.suction
                ),
            ));
        }
        if let Some(h) = &d.hospital {
            out.push((
                "病院の状態",
                format!(
                    "{}／救急 {}／手術室 {}",
                    h.facility.label_ja(),
                    h.emergency.label_ja(),
                    h.operating.label_ja()
                ),
            ));
            if !h.beds.is_empty() {
                out.push((
                    "空床（今／24時間以内）",
                    h.beds
                        .iter()
                        .map(|b| {
                            format!(
                                "{} {}／{}",
                                b.bed_type.label_ja(),
                                b.available_now,
                                b.available_24h
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("、"),
                ));
            }
        }
        if !d.needs.is_empty() {
            out.push(("必要なこと", d.needs.clone()));
        }
    }
    out
}

/// The areas a viewer sees and the areas they may act in.
struct Reach {
    /// (code, name) of the areas whose checks they see.
    visible: Vec<(String, String)>,
    /// Codes of the areas where they create checks, remind and take answers.
    acting: Vec<String>,
}

impl Reach {
    fn sees(&self, check: &CheckRecord) -> bool {
        check
            .targeting
            .areas
            .iter()
            .any(|a| self.visible.iter().any(|(code, _)| code == a))
    }

    fn acts_on(&self, check: &CheckRecord) -> bool {
        check
            .targeting
            .areas
            .iter()
            .any(|a| self.acting.contains(a))
    }
}

async fn reach(app: &AppState, ctx: &Ctx) -> Result<Reach, PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::not_found(ctx))?;
    let all = app
        .store
        .region_overview()
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .map(|o| o.areas)
        .unwrap_or_default();
    let admin = user.has_role(AccountRole::SystemAdmin);
    let prefecture = user.has_role(AccountRole::PrefectureViewer);
    let coordinates = |code: &str| {
        user.memberships.iter().any(|m| {
            m.role == AccountRole::HubCoordinator
                && m.organisation.area_code.as_deref() == Some(code)
        })
    };
    Ok(Reach {
        acting: all
            .iter()
            .filter(|a| admin || coordinates(&a.code))
            .map(|a| a.code.clone())
            .collect(),
        visible: all
            .into_iter()
            .filter(|a| admin || prefecture || coordinates(&a.code))
            .map(|a| (a.code, a.name))
            .collect(),
    })
}

fn see_other(location: String) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

fn store_error(ctx: &Ctx) -> impl Fn(renkei_store::StoreError) -> PageError + '_ {
    move |e| PageError::store(ctx, e)
}

async fn audit(app: &AppState, ctx: &Ctx, extensions: &Extensions, action: &str, target: String) {
    let event = AuditEvent::new(
        ctx.viewer.user().map(|u| u.id),
        action,
        Outcome::Ok,
        target,
        client_of(extensions),
    );
    if let Err(e) = app.store.append_audit(&event).await {
        tracing::error!(error = %e, "could not audit a safety-check action");
    }
}

/// The check when the viewer sees it (and may act on it, when `acting`).
async fn visible_check(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    acting: bool,
) -> Result<CheckRecord, PageError> {
    let reach = reach(app, ctx).await?;
    let check = app
        .store
        .safety_check(id)
        .await
        .map_err(store_error(ctx))?
        .filter(|c| reach.sees(c))
        .ok_or_else(|| PageError::not_found(ctx))?;
    if acting && !reach.acts_on(&check) {
        return Err(PageError::forbidden(ctx));
    }
    Ok(check)
}

fn now_text(app: &AppState) -> String {
    renkei_store::time_text(app.clock.now())
}

/// The link a target answers at.
fn link_of(app: &AppState, target: &TargetRow) -> Result<String, renkei_store::StoreError> {
    response_link(&app.store, &app.config.public_url, target)
}

/// The notice (or reminder) mail of one target: subject and body, with its own link.
pub fn notice_mail(
    check: &CheckRecord,
    institution: &str,
    link: &str,
    reminder: bool,
) -> (String, String) {
    let kind = check.kind.label_ja();
    let subject = if reminder {
        format!("【再送・安否確認（{kind}）】{}", check.title)
    } else {
        format!("【安否確認（{kind}）】{}", check.title)
    };
    let mut body = format!("{institution} 御中\n\n");
    if reminder {
        body.push_str(
            "まだ回答をいただいていません。お手数ですが、下のリンクから回答してください。\n\n",
        );
    }
    body.push_str(&format!(
        "連携の拠点から安否確認（{kind}）のお願いです。\n件名：{}\n回答期限：{}\n",
        check.title,
        jst_time(&check.deadline)
    ));
    if !check.message.is_empty() {
        body.push_str(&format!("\n{}\n", check.message));
    }
    body.push_str(&format!(
        "\n次のリンクを開き、1画面の質問に答えてください（ログインは不要です）。\n{link}\n\nこのリンクは貴院・貴事業所専用です。ほかの方に転送しないでください。回答は期限まで何度でも直せます。\n"
    ));
    (subject, body)
}

/// The link a target answers at, under `public_url`.
pub fn response_link(
    store: &renkei_store::Store,
    public_url: &str,
    target: &TargetRow,
) -> Result<String, renkei_store::StoreError> {
    let token = store.safety_link_token(target.id, &target.link_salt)?;
    Ok(format!("{}/r/{token}", public_url.trim_end_matches('/')))
}

/// Sends the notice (or a reminder) to each of `targets` with a mail address, in the
/// background; the outbox keeps and retries what fails. Returns how many mails were queued.
fn send_notices(
    app: &AppState,
    check: &CheckRecord,
    targets: Vec<TargetRow>,
    reminder: bool,
) -> usize {
    let mut mails = Vec::new();
    for t in targets {
        let Some(to) = t.institution.email.clone().filter(|e| !e.trim().is_empty()) else {
            continue;
        };
        let link = match link_of(app, &t) {
            Ok(link) => link,
            Err(e) => {
                tracing::error!(error = %e, "cannot derive a response link");
                continue;
            }
        };
        let (subject, body) = notice_mail(check, &t.institution.name, &link, reminder);
        mails.push((t.id, to, subject, body));
    }
    let queued = mails.len();
    let app = app.clone();
    tokio::spawn(async move {
        for (target, to, subject, body) in mails {
            match app.mailer.send(&app.store, &to, &subject, &body).await {
                Ok(mail) => {
                    let noted = if reminder {
                        app.store.note_safety_reminder(target, mail).await
                    } else {
                        app.store.set_safety_mail(target, mail).await
                    };
                    if let Err(e) = noted {
                        tracing::error!(error = %e, "could not note a safety-check mail");
                    }
                }
                Err(e) => tracing::error!(error = %e, "could not queue a safety-check mail"),
            }
        }
    });
    queued
}

// ---------------------------------------------------------------------------------------------
// The list and a new check.

#[derive(Template)]
#[template(path = "safety_list.html")]
struct ListPage {
    chrome: Chrome,
    checks: Vec<ListRow>,
    can_create: bool,
}

struct ListRow {
    id: i64,
    title: String,
    drill: bool,
    created: String,
    deadline: String,
    open: bool,
    answered: i64,
    targets: i64,
    rate: i64,
}

fn rate(part: i64, whole: i64) -> i64 {
    if whole == 0 {
        0
    } else {
        (part * 100 + whole / 2) / whole
    }
}

/// `GET /hub/safety`.
pub async fn list(State(app): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    let reach = reach(&app, &ctx).await?;
    let now = now_text(&app);
    let checks = app
        .store
        .safety_checks()
        .await
        .map_err(store_error(&ctx))?
        .into_iter()
        .filter(|c| reach.sees(c))
        .map(|c| ListRow {
            id: c.id,
            drill: c.kind == CheckKind::Drill,
            created: jst_time(&c.created_at),
            deadline: jst_time(&c.deadline),
            open: c.is_open(&now),
            answered: c.answered,
            targets: c.targets,
            rate: rate(c.answered, c.targets),
            title: c.title,
        })
        .collect();
    let page = ListPage {
        chrome: Chrome::new(&ctx, "nav.disaster", false),
        checks,
        can_create: !reach.acting.is_empty(),
    };
    Ok(render(&ctx, &page)?.into_response())
}

#[derive(Template)]
#[template(path = "safety_new.html")]
struct NewPage {
    chrome: Chrome,
    title: String,
    drill: bool,
    message: String,
    deadline: String,
    areas: Vec<(String, String, bool)>,
    kinds: Vec<(&'static str, &'static str, bool)>,
    active_only: bool,
    error: Option<String>,
}

/// `GET /hub/safety/new`: a drill by default, answers due in two hours.
pub async fn new_form(State(app): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    let reach = reach(&app, &ctx).await?;
    if reach.acting.is_empty() {
        return Err(PageError::forbidden(&ctx));
    }
    let deadline = (app.clock.now() + chrono::Duration::hours(2)).with_timezone(&jst());
    let page = NewPage {
        chrome: Chrome::new(&ctx, "nav.disaster", false),
        title: String::new(),
        drill: true,
        message: String::new(),
        deadline: deadline.format("%Y-%m-%dT%H:%M").to_string(),
        areas: reach
            .visible
            .iter()
            .filter(|(code, _)| reach.acting.contains(code))
            .map(|(code, name)| (code.clone(), name.clone(), true))
            .collect(),
        kinds: InstitutionKind::ALL
            .iter()
            .map(|k| {
                (
                    k.code(),
                    k.label_ja(),
                    matches!(k, InstitutionKind::Hospital | InstitutionKind::Clinic),
                )
            })
            .collect(),
        active_only: false,
        error: None,
    };
    Ok(render(&ctx, &page)?.into_response())
}

fn pairs(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

/// `POST /hub/safety`: creates the check and sends every target its link.
pub async fn create(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let reach = reach(&app, &ctx).await?;
    if reach.acting.is_empty() {
        return Err(PageError::forbidden(&ctx));
    }
    let fields = pairs(&body);
    let one = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let many = |name: &str| -> Vec<String> {
        fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let chosen_areas: Vec<String> = many("area")
        .into_iter()
        .filter(|a| reach.acting.contains(a))
        .collect();
    let chosen_kinds: Vec<String> = many("kind")
        .into_iter()
        .filter(|k| InstitutionKind::from_code(k).is_some())
        .collect();
    let kind = CheckKind::from_code(&one("check_kind")).unwrap_or(CheckKind::Drill);
    let mut page = NewPage {
        chrome: Chrome::new(&ctx, "nav.disaster", false),
        title: one("title"),
        drill: kind == CheckKind::Drill,
        message: one("message"),
        deadline: one("deadline"),
        areas: reach
            .visible
            .iter()
            .filter(|(code, _)| reach.acting.contains(code))
            .map(|(code, name)| (code.clone(), name.clone(), chosen_areas.contains(code)))
            .collect(),
        kinds: InstitutionKind::ALL
            .iter()
            .map(|k| {
                (
                    k.code(),
                    k.label_ja(),
                    chosen_kinds.iter().any(|c| c == k.code()),
                )
            })
            .collect(),
        active_only: !one("active_only").is_empty(),
        error: None,
    };
    let deadline = chrono::NaiveDateTime::parse_from_str(&page.deadline, "%Y-%m-%dT%H:%M")
        .ok()
        .and_then(|d| d.and_local_timezone(jst()).single())
        .map(|d| d.with_timezone(&chrono::Utc));
    let again = |mut page: NewPage, error: String| -> Result<Response, PageError> {
        page.error = Some(error);
        Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&ctx, &page)?).into_response())
    };
    let Some(deadline) = deadline else {
        return again(page, "回答期限を日付と時刻で入力してください".into());
    };
    if chosen_areas.is_empty() {
        return again(page, "対象の地域を1つ以上選んでください".into());
    }
    let check = NewCheck {
        title: page.title.clone(),
        kind,
        message: page.message.clone(),
        deadline,
        targeting: Targeting {
            areas: chosen_areas.clone(),
            kinds: chosen_kinds,
            active_only: page.active_only,
            institutions: Vec::new(),
        },
    };
    if let Err(e) = check.check(app.clock.now()) {
        return again(page, e);
    }
    let reachable = app
        .store
        .safety_reachable(&check.targeting, &chosen_areas)
        .await
        .map_err(store_error(&ctx))?;
    if reachable.is_empty() {
        page.error = None;
        return again(
            page,
            "選んだ条件に当てはまる医療機関等がありません。地域や種別を見直してください".into(),
        );
    }
    let ids: Vec<i64> = reachable.iter().map(|r| r.id).collect();
    let user = ctx.viewer.signed_in().map(|u| u.id);
    let id = app
        .store
        .create_safety_check(&check, &ids, user, &mut || {
            crate::auth::secrets::random_hex(16)
        })
        .await
        .map_err(store_error(&ctx))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "safety.created",
        format!("safety_check:{id} targets:{}", ids.len()),
    )
    .await;
    let record = app
        .store
        .safety_check(id)
        .await
        .map_err(store_error(&ctx))?
        .ok_or_else(|| PageError::not_found(&ctx))?;
    let targets = app
        .store
        .safety_targets(id)
        .await
        .map_err(store_error(&ctx))?;
    send_notices(&app, &record, targets, false);
    Ok(see_other(format!("/hub/safety/{id}?done=created")))
}

// ---------------------------------------------------------------------------------------------
// The dashboard.

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
}

struct Answered {
    target: i64,
    name: String,
    area: String,
    kind: &'static str,
    condition: &'static str,
    colour: &'static str,
    at: String,
    by_phone: bool,
    summary: String,
}

#[derive(Template)]
#[template(path = "safety_live.html")]
struct LivePart {
    id: i64,
    csrf: String,
    open: bool,
    can_act: bool,
    answered: usize,
    total: usize,
    rate: i64,
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
    title: String,
    drill: bool,
    message: String,
    created: String,
    deadline: String,
    open: bool,
    can_act: bool,
    notice: Option<String>,
    live: String,
}

fn mail_text(t: &TargetRow) -> (String, bool) {
    match (&t.institution.email, &t.mail) {
        (None, _) => ("メール未登録（電話・FAXで）".into(), false),
        (Some(_), None) => ("送信待ち".into(), false),
        (Some(_), Some(m)) if m.sent_at.is_some() => ("送信済み".into(), false),
        (Some(_), Some(m)) if m.attempts > 0 => (
            format!(
                "送信失敗（{}回・再送します）{}",
                m.attempts,
                m.last_error
                    .as_deref()
                    .map(|e| format!("：{}", e.chars().take(80).collect::<String>()))
                    .unwrap_or_default()
            ),
            true,
        ),
        (Some(_), Some(_)) => ("送信待ち".into(), false),
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
    let area_names: BTreeMap<String, String> = reach(app, ctx).await?.visible.into_iter().collect();
    let area_name = |code: &str| {
        area_names
            .get(code)
            .cloned()
            .unwrap_or_else(|| code.to_owned())
    };
    let now = app.clock.now();
    let answered = targets.iter().filter(|t| t.answered_at.is_some()).count();
    let conditions = Condition::ALL
        .iter()
        .map(|c| {
            (
                c.label_ja(),
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
                label: format!("{}（{}）", t.institution.name, t.condition.label_ja()),
                href: format!("#target-{}", t.id),
                colour: Some(condition_colour(t.condition)),
            })
        })
        .collect();
    let map_svg = crate::map::render(
        "安否確認の状況（色：回答の状態）",
        crate::map::outlines(),
        &markers,
    );
    let waiting = targets
        .iter()
        .filter(|t| t.answered_at.is_none())
        .map(|t| {
            let (mail, mail_failed) = mail_text(t);
            Waiting {
                target: t.id,
                name: t.institution.name.clone(),
                area: area_name(&t.institution.area),
                kind: t.institution.kind.label_ja(),
                phone: t.institution.phone.clone().unwrap_or_default(),
                fax: t.institution.fax.clone().unwrap_or_default(),
                mail,
                mail_failed,
                reminders: t.reminders,
                opened: t.opened_at.is_some(),
            }
        })
        .collect();
    let mut answers: Vec<Answered> = targets
        .iter()
        .filter_map(|t| {
            let a = t.answer.as_ref()?;
            let mut summary = answer_summary(a)
                .into_iter()
                .map(|(k, v)| format!("{k}：{v}"))
                .collect::<Vec<_>>()
                .join("／");
            if let (Power::Generator, Some(h), Some(at)) =
                (a.quick.power, a.quick.fuel_hours, t.answered_at.as_deref())
            {
                if let Ok(at) = chrono::DateTime::parse_from_rfc3339(at) {
                    let left = fuel_left(h, at.with_timezone(&chrono::Utc), now);
                    summary.push_str(&format!("／いまの燃料残 約{left:.0}時間"));
                }
            }
            Some(Answered {
                target: t.id,
                name: t.institution.name.clone(),
                area: area_name(&t.institution.area),
                kind: t.institution.kind.label_ja(),
                condition: t.condition.label_ja(),
                colour: condition_colour(t.condition),
                at: t.answered_at.as_deref().map(jst_time).unwrap_or_default(),
                by_phone: t.by_phone,
                summary,
            })
        })
        .collect();
    // Those who need help first.
    answers.sort_by_key(|a| match a.condition {
        c if c == Condition::Critical.label_ja() => 0,
        c if c == Condition::Impaired.label_ja() => 1,
        _ => 2,
    });
    Ok(LivePart {
        id: check.id,
        csrf: ctx.viewer.csrf_token().to_owned(),
        open: check.is_open(&renkei_store::time_text(now)),
        can_act,
        answered,
        total: targets.len(),
        rate: rate(answered as i64, targets.len() as i64),
        conditions,
        by_area: tallies(&targets, |t| area_name(&t.institution.area)),
        by_kind: tallies(&targets, |t| t.institution.kind.label_ja().to_owned()),
        map_svg,
        waiting,
        answers,
        updated: jst_time(&renkei_store::time_text(now)),
    })
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
    let live = live_part(&app, &ctx, &check, can_act).await?;
    if query.part.as_deref() == Some("live") {
        let mut response = render(&ctx, &live)?.into_response();
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        return Ok(response);
    }
    let notice = match query.done.as_deref() {
        Some("created") => Some("安否確認を作成し、メールアドレスのある対象に送信を始めました。メールのない対象には、リンク一覧を印刷して FAX・電話で伝えてください。".to_owned()),
        Some("reminded") => Some(format!("{} 件に再送しました。", query.sent.unwrap_or(0))),
        Some("phone") => Some("電話で聞き取った回答を登録しました。".to_owned()),
        Some("closed") => Some("締め切りました。".to_owned()),
        _ => None,
    };
    let page = DashboardPage {
        chrome: Chrome::new(&ctx, "nav.disaster", false),
        id,
        drill: check.kind == CheckKind::Drill,
        message: check.message.clone(),
        created: jst_time(&check.created_at),
        deadline: jst_time(&check.deadline),
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
/// so an answer taken by any instance shows). The stream ends after an hour; browsers reconnect.
pub async fn events(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    visible_check(&app, &ctx, id, false).await?;
    let start = tokio::time::Instant::now();
    let stream =
        futures_util::stream::unfold((app, None::<String>), move |(app, last)| async move {
            let mut last = last;
            loop {
                if start.elapsed() > std::time::Duration::from_secs(3600) {
                    return None;
                }
                match app.store.safety_fingerprint(id).await {
                    // The first look also sends one, so a page that (re)connects catches up
                    // on what changed while it was not listening.
                    Ok(now) if last.as_ref() != Some(&now) => {
                        last = Some(now.clone());
                        let event = Event::default().event("update").data(now);
                        return Some((Ok::<_, std::convert::Infallible>(event), (app, last)));
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "safety-check events: store failed"),
                }
                tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
            }
        });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// `POST /hub/safety/{id}/remind`: a reminder to everyone who has not answered.
pub async fn remind_all(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    remind(app, ctx, extensions, id, None).await
}

/// `POST /hub/safety/{id}/targets/{target}/remind`: a reminder to one.
pub async fn remind_one(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path((id, target)): Path<(i64, i64)>,
) -> Result<Response, PageError> {
    remind(app, ctx, extensions, id, Some(target)).await
}

async fn remind(
    app: AppState,
    ctx: Ctx,
    extensions: Extensions,
    id: i64,
    only: Option<i64>,
) -> Result<Response, PageError> {
    let check = visible_check(&app, &ctx, id, true).await?;
    if !check.is_open(&now_text(&app)) {
        return Ok(see_other(format!("/hub/safety/{id}")));
    }
    let targets: Vec<TargetRow> = app
        .store
        .safety_targets(id)
        .await
        .map_err(store_error(&ctx))?
        .into_iter()
        .filter(|t| t.answered_at.is_none() && only.is_none_or(|o| o == t.id))
        .collect();
    if only.is_some() && targets.is_empty() {
        return Err(PageError::not_found(&ctx));
    }
    let sent = send_notices(&app, &check, targets, true);
    audit(
        &app,
        &ctx,
        &extensions,
        "safety.reminded",
        format!(
            "safety_check:{id} {} mails:{sent}",
            only.map(|t| format!("target:{t}"))
                .unwrap_or_else(|| "all".into())
        ),
    )
    .await;
    Ok(see_other(format!(
        "/hub/safety/{id}?done=reminded&sent={sent}"
    )))
}

/// `POST /hub/safety/{id}/close`.
pub async fn close(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    visible_check(&app, &ctx, id, true).await?;
    if app
        .store
        .close_safety_check(id)
        .await
        .map_err(store_error(&ctx))?
    {
        audit(
            &app,
            &ctx,
            &extensions,
            "safety.closed",
            format!("safety_check:{id}"),
        )
        .await;
    }
    Ok(see_other(format!("/hub/safety/{id}?done=closed")))
}

// ---------------------------------------------------------------------------------------------
// Answers taken by phone.

#[derive(Template)]
#[template(path = "safety_phone.html")]
struct PhonePage {
    chrome: Chrome,
    id: i64,
    target: i64,
    title: String,
    institution: String,
    phone: String,
    quick: QuickFields,
    details: DetailFields,
    error: Option<String>,
}

async fn phone_target(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    target: i64,
) -> Result<(CheckRecord, TargetRow), PageError> {
    let check = visible_check(app, ctx, id, true).await?;
    let row = app
        .store
        .safety_targets(id)
        .await
        .map_err(store_error(ctx))?
        .into_iter()
        .find(|t| t.id == target)
        .ok_or_else(|| PageError::not_found(ctx))?;
    Ok((check, row))
}

/// `GET /hub/safety/{id}/targets/{target}/phone`: the whole answer on one form, filled with
/// the last answer.
pub async fn phone_form(
    State(app): State<AppState>,
    ctx: Ctx,
    Path((id, target)): Path<(i64, i64)>,
) -> Result<Response, PageError> {
    let (check, row) = phone_target(&app, &ctx, id, target).await?;
    let hospital = row.institution.kind == InstitutionKind::Hospital;
    let page = PhonePage {
        chrome: Chrome::new(&ctx, "nav.disaster", false),
        id,
        target,
        title: check.title,
        institution: row.institution.name.clone(),
        phone: row.institution.phone.clone().unwrap_or_default(),
        quick: safety_form::quick_fields(row.answer.as_ref().map(|a| &a.quick)),
        details: safety_form::detail_fields(
            row.answer.as_ref().and_then(|a| a.details.as_ref()),
            hospital,
        ),
        error: None,
    };
    Ok(render(&ctx, &page)?.into_response())
}

/// `POST /hub/safety/{id}/targets/{target}/phone`: keeps the answer, marked as taken by phone
/// by this coordinator.
pub async fn save_phone(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path((id, target)): Path<(i64, i64)>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (check, row) = phone_target(&app, &ctx, id, target).await?;
    let hospital = row.institution.kind == InstitutionKind::Hospital;
    let before = row.answer.as_ref().and_then(|a| a.details.as_ref());
    let read = safety_form::read_quick(&body).and_then(|quick| {
        safety_form::read_details(&body, hospital, before, &now_text(&app)).map(|details| Answer {
            quick,
            details: Some(details),
        })
    });
    let closed = !check.is_open(&now_text(&app));
    let answer = match read {
        Ok(a) if !closed => a,
        result => {
            let page = PhonePage {
                chrome: Chrome::new(&ctx, "nav.disaster", false),
                id,
                target,
                title: check.title,
                institution: row.institution.name.clone(),
                phone: row.institution.phone.clone().unwrap_or_default(),
                quick: safety_form::quick_fields_typed(&body),
                details: safety_form::detail_fields_typed(&body, hospital),
                error: Some(match result {
                    Err(e) => e,
                    Ok(_) => "この安否確認は締め切られています".into(),
                }),
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&ctx, &page)?).into_response());
        }
    };
    let user = ctx.viewer.signed_in().map(|u| u.id);
    app.store
        .record_safety_answer(target, &answer, user)
        .await
        .map_err(store_error(&ctx))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "safety.answer_by_phone",
        format!("safety_check:{id} target:{target}"),
    )
    .await;
    Ok(see_other(format!("/hub/safety/{id}?done=phone")))
}

// ---------------------------------------------------------------------------------------------
// Links for fax and phone; exports.

#[derive(Template)]
#[template(path = "safety_links.html")]
struct LinksPage {
    chrome: Chrome,
    id: i64,
    title: String,
    drill: bool,
    deadline: String,
    rows: Vec<(String, String, String, String, String)>,
}

/// `GET /hub/safety/{id}/links`: every target's link with a QR code, to print and fax.
pub async fn links(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let check = visible_check(&app, &ctx, id, true).await?;
    let targets = app
        .store
        .safety_targets(id)
        .await
        .map_err(store_error(&ctx))?;
    let mut rows = Vec::new();
    for t in &targets {
        let link = link_of(&app, t).map_err(store_error(&ctx))?;
        let qr = qrcode::QrCode::new(link.as_bytes())
            .map(|qr| {
                qr.render::<qrcode::render::svg::Color>()
                    .min_dimensions(96, 96)
                    .build()
            })
            .unwrap_or_default();
        rows.push((
            t.institution.name.clone(),
            t.institution.phone.clone().unwrap_or_default(),
            t.institution.fax.clone().unwrap_or_default(),
            link,
            qr,
        ));
    }
    audit(
        &app,
        &ctx,
        &extensions,
        "safety.links_shown",
        format!("safety_check:{id}"),
    )
    .await;
    let page = LinksPage {
        chrome: Chrome::new(&ctx, "nav.disaster", false),
        id,
        drill: check.kind == CheckKind::Drill,
        deadline: jst_time(&check.deadline),
        title: check.title,
        rows,
    };
    let mut response = render(&ctx, &page)?.into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// The export's columns.
pub const EXPORT_COLUMNS: [&str; 21] = [
    "地域",
    "種別",
    "名称",
    "電話",
    "FAX",
    "状態",
    "回答日時",
    "電話で聴取",
    "職員・患者",
    "建物",
    "電気",
    "燃料残（時間・回答時）",
    "水",
    "受入可能な患者数",
    "勤務できる職員",
    "訪問の継続",
    "人工呼吸器",
    "在宅酸素",
    "吸引",
    "必要なこと",
    "督促回数",
];

/// The export's rows: one per target, in the dashboard's order.
pub fn export_rows(
    targets: &[TargetRow],
    area_names: &BTreeMap<String, String>,
) -> Vec<Vec<String>> {
    targets
        .iter()
        .map(|t| {
            let i = &t.institution;
            let a = t.answer.as_ref();
            let q = a.map(|a| &a.quick);
            let d = a.and_then(|a| a.details.as_ref());
            let opt = |v: Option<String>| v.unwrap_or_default();
            vec![
                area_names
                    .get(&i.area)
                    .cloned()
                    .unwrap_or_else(|| i.area.clone()),
                i.kind.label_ja().to_owned(),
                i.name.clone(),
                opt(i.phone.clone()),
                opt(i.fax.clone()),
                t.condition.label_ja().to_owned(),
                t.answered_at.as_deref().map(jst_time).unwrap_or_default(),
                if t.by_phone {
                    "電話".into()
                } else {
                    String::new()
                },
                opt(q.map(|q| q.people.label_ja().to_owned())),
                opt(q.map(|q| q.building.label_ja().to_owned())),
                opt(q.map(|q| q.power.label_ja().to_owned())),
                opt(q.and_then(|q| q.fuel_hours).map(|h| h.to_string())),
                opt(q.map(|q| q.water.label_ja().to_owned())),
                opt(q.map(|q| q.can_accept.to_string())),
                opt(d.and_then(|d| d.staff_available).map(|s| s.to_string())),
                opt(d
                    .and_then(|d| d.home_visits)
                    .map(|h| h.label_ja().to_owned())),
                opt(d.map(|d| d.power_dependent.ventilator.to_string())),
                opt(d.map(|d| d.power_dependent.oxygen.to_string())),
                opt(d.map(|d| d.power_dependent.suction.to_string())),
                opt(d.map(|d| d.needs.clone())),
                t.reminders.to_string(),
            ]
        })
        .collect()
}

async fn export(
    app: AppState,
    ctx: Ctx,
    extensions: Extensions,
    id: i64,
    xlsx: bool,
) -> Result<Response, PageError> {
    let check = visible_check(&app, &ctx, id, false).await?;
    let targets = app
        .store
        .safety_targets(id)
        .await
        .map_err(store_error(&ctx))?;
    let names: BTreeMap<String, String> = reach(&app, &ctx).await?.visible.into_iter().collect();
    let rows = export_rows(&targets, &names);
    audit(
        &app,
        &ctx,
        &extensions,
        "safety.exported",
        format!("safety_check:{id}"),
    )
    .await;
    let (media, bytes, ext) = if xlsx {
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            crate::export::table_xlsx("安否確認", &EXPORT_COLUMNS, &rows).map_err(|e| {
                PageError::store(&ctx, renkei_store::StoreError::Invalid(e.to_string()))
            })?,
            "xlsx",
        )
    } else {
        (
            "text/csv; charset=utf-8",
            crate::export::table_csv(&EXPORT_COLUMNS, &rows).into_bytes(),
            "csv",
        )
    };
    let _ = check;
    Ok((
        [
            (header::CONTENT_TYPE, media.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"renkei-safety-check-{id}.{ext}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /hub/safety/{id}/export.csv`.
pub async fn export_csv(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    export(app, ctx, extensions, id, false).await
}

/// `GET /hub/safety/{id}/export.xlsx`.
pub async fn export_xlsx(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    export(app, ctx, extensions, id, true).await
}
