//! Safety checks for the hub (`/hub/safety`): the list, a new drill or real alert for the
//! institutions of the coordinator's areas with each target's link sent by mail, reminders and
//! closing; and what the other safety pages share (who sees and acts on a check, the notice
//! mail, how answers and times are shown). The dashboard is `safety_dashboard`, answers by
//! phone `safety_phone`, links and spreadsheets `safety_exports`, the response link
//! `safety_response`.

use crate::auth::access::client_of;
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::i18n::{Catalog, Lang};
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, RawForm, State};
use axum::http::{header, Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use renkei_domain::accounts::AccountRole;
use renkei_domain::audit::Outcome;
use renkei_domain::institution::InstitutionKind;
use renkei_domain::japan::jst;
use renkei_domain::safety::{Answer, CheckKind, Condition, NewCheck, Power, Targeting};
use renkei_store::audit::AuditEvent;
use renkei_store::safety::{CheckRecord, TargetRow};

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

/// A stored UTC time in the page's language (JST): Japanese as [`jst_time`], English
/// 「2026-09-01 14:30」.
pub fn jst_time_in(lang: Lang, stored: &str) -> String {
    match (lang, chrono::DateTime::parse_from_rfc3339(stored)) {
        (Lang::En, Ok(t)) => t.with_timezone(&jst()).format("%Y-%m-%d %H:%M").to_string(),
        _ => jst_time(stored),
    }
}

/// A day in the page's language: Japanese 和暦 「令和8年9月1日」, English 「2026-09-01」.
pub fn date_in(lang: Lang, day: chrono::NaiveDate) -> String {
    match lang {
        Lang::Ja => renkei_domain::fiscal_year::format_wareki_date(day),
        Lang::En => day.format("%Y-%m-%d").to_string(),
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

/// An answer in a few lines, as the responder and the coordinator read it, in the language of
/// `t`.
pub fn answer_summary(t: &Catalog, a: &Answer) -> Vec<(String, String)> {
    let lang = t.lang();
    let q = &a.quick;
    let mut power = lang.pick(q.power.label_ja(), q.power.label_en()).to_owned();
    if let (Power::Generator, Some(h)) = (q.power, q.fuel_hours) {
        power.push_str(&t.fill1("safety.fuel_left", "h", h));
    }
    let people = |n: u32| t.fill1("safety.people", "n", n);
    let mut out = vec![
        (
            t.get("safety.sum_people"),
            lang.pick(q.people.label_ja(), q.people.label_en())
                .to_owned(),
        ),
        (
            t.get("safety.sum_building"),
            lang.pick(q.building.label_ja(), q.building.label_en())
                .to_owned(),
        ),
        (t.get("safety.sum_power"), power),
        (
            t.get("safety.sum_water"),
            lang.pick(q.water.label_ja(), q.water.label_en()).to_owned(),
        ),
        (t.get("safety.sum_accept"), people(q.can_accept)),
    ];
    if let Some(d) = &a.details {
        if let Some(s) = d.staff_available {
            out.push((t.get("safety.sum_staff"), people(s)));
        }
        if let Some(h) = d.home_visits {
            out.push((
                t.get("safety.sum_visits"),
                lang.pick(h.label_ja(), h.label_en()).to_owned(),
            ));
        }
        let p = &d.power_dependent;
        if p.total() > 0 {
            out.push((
                t.get("safety.sum_dependent"),
                t.fill(
                    "safety.dependent_line",
                    &[("v", &p.ventilator), ("o", &p.oxygen), ("s", &p.suction)],
                ),
            ));
        }
        if let Some(h) = &d.hospital {
            out.push((
                t.get("safety.sum_hospital"),
                t.fill(
                    "safety.hospital_line",
                    &[
                        (
                            "facility",
                            &lang.pick(h.facility.label_ja(), h.facility.label_en()),
                        ),
                        (
                            "emergency",
                            &lang.pick(h.emergency.label_ja(), h.emergency.label_en()),
                        ),
                        (
                            "operating",
                            &lang.pick(h.operating.label_ja(), h.operating.label_en()),
                        ),
                    ],
                ),
            ));
            if !h.beds.is_empty() {
                out.push((
                    t.get("safety.sum_beds"),
                    h.beds
                        .iter()
                        .map(|b| {
                            t.fill(
                                "safety.bed_line",
                                &[
                                    (
                                        "type",
                                        &lang.pick(b.bed_type.label_ja(), b.bed_type.label_en()),
                                    ),
                                    ("now", &b.available_now),
                                    ("later", &b.available_24h),
                                ],
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(&t.get("safety.list_sep")),
                ));
            }
        }
        if !d.needs.is_empty() {
            out.push((t.get("safety.sum_needs"), d.needs.clone()));
        }
    }
    out
}

/// The areas a viewer sees and the areas they may act in.
/// The (code, name) of the areas the viewer sees (coordinators: theirs; the prefecture and the
/// administrator: all).
pub(crate) async fn visible_areas(
    app: &AppState,
    ctx: &Ctx,
) -> Result<Vec<(String, String)>, PageError> {
    Ok(reach(app, ctx).await?.visible)
}

pub(crate) struct Reach {
    /// (code, name) of the areas whose checks they see.
    pub(crate) visible: Vec<(String, String)>,
    /// Codes of the areas where they create checks, remind and take answers.
    pub(crate) acting: Vec<String>,
    /// (code, English name) of the visible areas.
    pub(crate) visible_en: Vec<(String, String)>,
}

impl Reach {
    /// Area code → name of the visible areas, in `lang`.
    pub(crate) fn names(&self, lang: Lang) -> std::collections::BTreeMap<String, String> {
        match lang {
            Lang::Ja => self.visible.iter().cloned().collect(),
            Lang::En => self.visible_en.iter().cloned().collect(),
        }
    }

    /// The visible areas where they act: (code, name in `lang`).
    pub(crate) fn acting_areas(&self, lang: Lang) -> Vec<(String, String)> {
        let names = self.names(lang);
        self.visible
            .iter()
            .filter(|(code, _)| self.acting.contains(code))
            .map(|(code, name)| {
                (
                    code.clone(),
                    names.get(code).cloned().unwrap_or_else(|| name.clone()),
                )
            })
            .collect()
    }

    pub(crate) fn sees(&self, check: &CheckRecord) -> bool {
        check
            .targeting
            .areas
            .iter()
            .any(|a| self.visible.iter().any(|(code, _)| code == a))
    }

    pub(crate) fn acts_on(&self, check: &CheckRecord) -> bool {
        check
            .targeting
            .areas
            .iter()
            .any(|a| self.acting.contains(a))
    }
}

pub(crate) async fn reach(app: &AppState, ctx: &Ctx) -> Result<Reach, PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::not_found(ctx))?;
    let all = app
        .overview
        .get(&app.store)
        .await
        .map(|o| (*o).clone())
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
    let visible: Vec<_> = all
        .into_iter()
        .filter(|a| admin || prefecture || coordinates(&a.code))
        .collect();
    Ok(Reach {
        acting: visible
            .iter()
            .filter(|a| admin || coordinates(&a.code))
            .map(|a| a.code.clone())
            .collect(),
        visible_en: visible
            .iter()
            .map(|a| (a.code.clone(), a.name_en.clone()))
            .collect(),
        visible: visible.into_iter().map(|a| (a.code, a.name)).collect(),
    })
}

/// The region's areas a check was sent to, in the region's order.
pub(crate) fn areas_of(check: &CheckRecord) -> Vec<renkei_domain::region::Area> {
    renkei_domain::region::RegionDefinition::nakakawachi()
        .areas
        .into_iter()
        .filter(|a| check.targeting.areas.iter().any(|c| c == a.code.as_str()))
        .collect()
}

/// A 303 to `location` (after a form was handled).
pub(crate) fn see_other(location: String) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

pub(crate) fn store_error(ctx: &Ctx) -> impl Fn(renkei_store::StoreError) -> PageError + '_ {
    move |e| PageError::store(ctx, e)
}

/// Appends a successful action of the viewer to the audit log (a failure is logged).
pub(crate) async fn audit(
    app: &AppState,
    ctx: &Ctx,
    extensions: &Extensions,
    action: &str,
    target: String,
) {
    let event = AuditEvent::new(
        ctx.viewer.user().map(|u| u.id),
        action,
        Outcome::Ok,
        target,
        client_of(extensions),
    );
    if let Err(e) = app.store.append_audit(&event).await {
        tracing::error!(error = %e, "could not audit an action");
    }
}

/// The check when the viewer sees it (and may act on it, when `acting`).
pub(crate) async fn visible_check(
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

pub(crate) fn now_text(app: &AppState) -> String {
    renkei_store::time_text(app.clock.now())
}

/// The link a target answers at.
pub(crate) fn link_of(
    app: &AppState,
    target: &TargetRow,
) -> Result<String, renkei_store::StoreError> {
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
    /// 「3／10（30%）」.
    answers: String,
}

pub(crate) fn rate(part: i64, whole: i64) -> i64 {
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
    let t = crate::i18n::catalog(ctx.lang);
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
            created: jst_time_in(ctx.lang, &c.created_at),
            deadline: jst_time_in(ctx.lang, &c.deadline),
            open: c.is_open(&now),
            answers: t.fill(
                "safety.answers_rate",
                &[
                    ("answered", &c.answered),
                    ("targets", &c.targets),
                    ("rate", &rate(c.answered, c.targets)),
                ],
            ),
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
    /// (minutes before the deadline, label, chosen).
    reminders: Vec<(u32, String, bool)>,
    /// When picking by hand: the institutions the conditions reach, ticked or not.
    candidates: Vec<Candidate>,
    error: Option<String>,
}

/// One institution offered for hand-picking.
struct Candidate {
    id: i64,
    name: String,
    area: String,
    kind: &'static str,
    active: bool,
    ticked: bool,
}

/// At most this many institutions are listed for hand-picking (narrow the conditions first).
const MAX_CANDIDATES: usize = 3_000;

/// The reminders a coordinator can schedule: minutes before the deadline, and the label's key.
const REMINDER_CHOICES: [(u32, &str); 3] = [
    (120, "safety.remind_120"),
    (60, "safety.remind_60"),
    (30, "safety.remind_30"),
];

/// The kinds of institution to choose from: (code, label, chosen).
fn kind_choices(
    lang: Lang,
    chosen: impl Fn(InstitutionKind) -> bool,
) -> Vec<(&'static str, &'static str, bool)> {
    InstitutionKind::ALL
        .iter()
        .map(|k| (k.code(), lang.pick(k.label_ja(), k.label_en()), chosen(*k)))
        .collect()
}

/// The reminders to choose from: (minutes, label, chosen).
fn reminder_choices(t: &Catalog, chosen: impl Fn(u32) -> bool) -> Vec<(u32, String, bool)> {
    REMINDER_CHOICES
        .iter()
        .map(|(m, key)| (*m, t.get(key), chosen(*m)))
        .collect()
}

/// `GET /hub/safety/new`: a drill by default, answers due in two hours.
pub async fn new_form(State(app): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    let reach = reach(&app, &ctx).await?;
    if reach.acting.is_empty() {
        return Err(PageError::forbidden(&ctx));
    }
    let deadline = (app.clock.now() + chrono::Duration::hours(2)).with_timezone(&jst());
    let chrome = Chrome::new(&ctx, "nav.disaster", false);
    let page = NewPage {
        title: String::new(),
        drill: true,
        message: String::new(),
        deadline: deadline.format("%Y-%m-%dT%H:%M").to_string(),
        areas: reach
            .acting_areas(ctx.lang)
            .into_iter()
            .map(|(code, name)| (code, name, true))
            .collect(),
        kinds: kind_choices(ctx.lang, |k| {
            matches!(k, InstitutionKind::Hospital | InstitutionKind::Clinic)
        }),
        active_only: false,
        reminders: reminder_choices(&chrome.t, |m| m == 30),
        chrome,
        candidates: Vec::new(),
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
    let chosen_reminders: Vec<u32> = REMINDER_CHOICES
        .iter()
        .map(|(m, _)| *m)
        .filter(|m| many("remind_before").contains(&m.to_string()))
        .collect();
    let chrome = Chrome::new(&ctx, "nav.disaster", false);
    let t = chrome.t.clone();
    let mut page = NewPage {
        title: one("title"),
        drill: kind == CheckKind::Drill,
        message: one("message"),
        deadline: one("deadline"),
        areas: reach
            .acting_areas(ctx.lang)
            .into_iter()
            .map(|(code, name)| {
                let chosen = chosen_areas.contains(&code);
                (code, name, chosen)
            })
            .collect(),
        kinds: kind_choices(ctx.lang, |k| chosen_kinds.iter().any(|c| c == k.code())),
        active_only: !one("active_only").is_empty(),
        reminders: reminder_choices(&t, |m| chosen_reminders.contains(&m)),
        chrome,
        candidates: Vec::new(),
        error: None,
    };
    let deadline = chrono::NaiveDateTime::parse_from_str(&page.deadline, "%Y-%m-%dT%H:%M")
        .ok()
        .map(renkei_domain::japan::instant);
    let again = |mut page: NewPage, error: String| -> Result<Response, PageError> {
        page.error = Some(error);
        Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&ctx, &page)?).into_response())
    };
    let Some(deadline) = deadline else {
        return again(page, t.get("safety.err_deadline"));
    };
    if chosen_areas.is_empty() {
        return again(page, t.get("safety.err_areas"));
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
        reminders_before: chosen_reminders.clone(),
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
        return again(page, t.get("safety.err_no_targets"));
    }
    // Hand-picking: first list what the conditions reach (all ticked), then take the ticked.
    let picking = !one("picking").is_empty();
    let ticked: Vec<i64> = many("institution")
        .iter()
        .filter_map(|v| v.parse().ok())
        .collect();
    if one("step") == "preview" || (picking && ticked.is_empty()) {
        if reachable.len() > MAX_CANDIDATES {
            return again(
                page,
                t.fill(
                    "safety.err_too_many",
                    &[("n", &reachable.len()), ("max", &MAX_CANDIDATES)],
                ),
            );
        }
        let names = reach.names(ctx.lang);
        let first_look = one("step") == "preview" && !picking;
        page.candidates = reachable
            .iter()
            .map(|r| Candidate {
                id: r.id,
                name: r.name.clone(),
                area: names
                    .get(&r.area)
                    .cloned()
                    .unwrap_or_else(|| r.area.clone()),
                kind: ctx.lang.pick(r.kind.label_ja(), r.kind.label_en()),
                active: r.active,
                ticked: first_look || ticked.contains(&r.id),
            })
            .collect();
        if picking && ticked.is_empty() {
            return again(page, t.get("safety.err_none_ticked"));
        }
        return Ok(render(&ctx, &page)?.into_response());
    }
    let ids: Vec<i64> = if picking {
        // Only what the conditions reach in the coordinator's areas, whatever was posted.
        reachable
            .iter()
            .map(|r| r.id)
            .filter(|id| ticked.contains(id))
            .collect()
    } else {
        reachable.iter().map(|r| r.id).collect()
    };
    if ids.is_empty() {
        // Only institutions outside the coordinator's reach were posted (L6 of the security
        // probe: this was a 500): say so, as for an empty tick list.
        return again(page, t.get("safety.err_none_ticked"));
    }
    let check = NewCheck {
        targeting: Targeting {
            institutions: if picking { ids.clone() } else { Vec::new() },
            ..check.targeting
        },
        ..check
    };
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
// Reminders and closing.

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
    let targets = waiting(&app, id, only).await.map_err(store_error(&ctx))?;
    if only.is_some() && targets.is_empty() {
        return Err(PageError::not_found(&ctx));
    }
    let sent = send_notices(&app, &check, targets, true);
    app.store
        .note_reminder_round(id, only, sent as i64)
        .await
        .map_err(store_error(&ctx))?;
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

/// The targets that have not answered (or the one named, if it has not).
async fn waiting(
    app: &AppState,
    id: i64,
    only: Option<i64>,
) -> Result<Vec<TargetRow>, renkei_store::StoreError> {
    Ok(app
        .store
        .safety_targets(id)
        .await?
        .into_iter()
        .filter(|t| t.answered_at.is_none() && only.is_none_or(|o| o == t.id))
        .collect())
}

/// Sends the scheduled reminders that are due (the server calls this every half minute). Each
/// round is claimed in the database first, so of several instances only one sends it. Returns
/// the mails queued.
pub async fn send_due_reminders(app: &AppState) -> Result<usize, renkei_store::StoreError> {
    let now = now_text(app);
    let mut queued = 0;
    for (id, minutes) in app.store.due_scheduled_reminders(&now).await? {
        let Some(round) = app.store.claim_scheduled_reminder(id, minutes).await? else {
            continue;
        };
        let Some(check) = app.store.safety_check(id).await? else {
            continue;
        };
        let targets = waiting(app, id, None).await?;
        let sent = send_notices(app, &check, targets, true);
        app.store.set_round_mails(round, sent as i64).await?;
        let event = AuditEvent::new(
            None,
            "safety.reminded",
            Outcome::Ok,
            format!("safety_check:{id} scheduled:{minutes}min mails:{sent}"),
            "-".to_owned(),
        );
        app.store.append_audit(&event).await?;
        queued += sent;
    }
    Ok(queued)
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
