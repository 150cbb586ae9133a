//! Discharge conferences (`/institutions/{id}/conferences`, `/conferences/{id}…`): the hospital
//! proposes up to five times and invites the clinic doctor, the visiting nurse, the care
//! manager and the pharmacist; each says which times they can make; the hospital fixes one and
//! everyone gets an iCalendar invitation by mail (and can download it). Moving or cancelling
//! sends an updated invitation.

use super::safety::{audit, jst_time_in, see_other};
use super::shared::{entry, form, own_institutions};
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::i18n::Lang;
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use renkei_domain::accounts::AccountRole;
use renkei_domain::conference::{
    best, limits, tally, Availability, ConferenceStatus, InviteeRole, Proposal,
};
use renkei_domain::institution::InstitutionKind;
use renkei_domain::rota::{icalendar, CalendarEvent};
use renkei_store::conference::ConferenceRow;
use renkei_store::StoreError;

/// How far from the patient's area invitees are offered, km.
const NEARBY_KM: f64 = 15.0;
/// How many of each kind are offered.
const NEARBY: usize = 15;
/// How many conferences an institution's page lists.
const LISTED: i64 = 50;

/// A time typed in a `datetime-local` field, in Japan.
fn read_local(text: &str) -> Option<DateTime<Utc>> {
    let t = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M").ok()?;
    Some(renkei_domain::japan::instant(t))
}

fn when(lang: Lang, t: DateTime<Utc>) -> String {
    jst_time_in(lang, &renkei_store::time_text(t))
}

/// How the viewer stands to a conference.
struct Standing {
    /// Works at the hospital that proposed it.
    organizer: bool,
    /// The invitee rows it answers for.
    invitee: Vec<i64>,
}

/// The conference, if the viewer may see it: the hospital's and the invitees' staff, the hub
/// of the hospital's area, the prefecture; anyone else gets the same 404 as for none.
async fn visible(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
) -> Result<(ConferenceRow, Standing), PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::not_found(ctx))?;
    let c = app
        .store
        .conference(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .ok_or_else(|| PageError::not_found(ctx))?;
    let own = own_institutions(user);
    let standing = Standing {
        organizer: own.contains(&c.hospital_id),
        invitee: c
            .invitees
            .iter()
            .filter(|v| own.contains(&v.institution_id))
            .map(|v| v.id)
            .collect(),
    };
    let reads = standing.organizer
        || !standing.invitee.is_empty()
        || user.has_role(AccountRole::PrefectureViewer)
        || super::changes::may_decide(user, &c.area_code);
    if !reads {
        return Err(PageError::not_found(ctx));
    }
    Ok((c, standing))
}

// ---------------------------------------------------------------------------------------------
// The institution's list and a new conference.

/// A conference as listed.
pub struct ListItem {
    id: i64,
    subject: String,
    hospital: String,
    status: &'static str,
    status_code: &'static str,
    when: String,
}

/// An institution offered as an invitee.
pub struct Offer {
    id: i64,
    name: String,
    distance: String,
    selected: bool,
}

/// The invitee choice of one role.
pub struct RoleChoice {
    code: &'static str,
    label: &'static str,
    offers: Vec<Offer>,
}

#[derive(Template)]
#[template(path = "conferences.html")]
struct ListPage {
    chrome: Chrome,
    id: i64,
    name: String,
    can_propose: bool,
    error: Option<String>,
    items: Vec<ListItem>,
    near: String,
    located: String,
    roles: Vec<RoleChoice>,
    subject: String,
    place: String,
    minutes: String,
    slots: Vec<String>,
}

fn list_item(lang: Lang, c: &ConferenceRow) -> ListItem {
    let fixed = c
        .fixed_slot
        .and_then(|f| c.slots.iter().find(|s| s.id == f))
        .map(|s| when(lang, s.starts_at));
    ListItem {
        id: c.id,
        subject: c.subject.clone(),
        hospital: c.hospital_name.clone(),
        status: lang.pick(c.status.label_ja(), c.status.label_en()),
        status_code: c.status.code(),
        when: fixed.unwrap_or_else(|| {
            c.slots
                .iter()
                .map(|s| when(lang, s.starts_at))
                .collect::<Vec<_>>()
                .join(" / ")
        }),
    }
}

async fn list_page(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    typed: &[u8],
    error: Option<String>,
) -> Result<ListPage, PageError> {
    let lang = ctx.lang;
    let (name, can_edit) = super::readiness::access(app, ctx, id).await?;
    let record = entry(app, ctx, id).await?;
    let can_propose = can_edit && (record.kind == InstitutionKind::Hospital || record.has_beds);
    let items = app
        .store
        .conferences_of(id, LISTED)
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .iter()
        .map(|c| list_item(lang, c))
        .collect();
    let near = match form(typed, "near") {
        n if n.trim().is_empty() => super::urgent::town_of(&record.fields.address),
        n => n,
    };
    let located = super::directory::located(&near);
    let mut roles = Vec::new();
    if can_propose {
        if let Some((_, lat, lng)) = &located {
            app.directory_index
                .ensure_loaded(&app.store)
                .await
                .map_err(|e| PageError::store(ctx, e))?;
            for role in InviteeRole::ALL {
                let picked: Option<i64> = form(typed, role.code()).parse().ok();
                let mut offers: Vec<Offer> = app
                    .directory_index
                    .nearest_of_kinds((*lat, *lng), &[role.kind()], NEARBY_KM, NEARBY)
                    .into_iter()
                    .map(|h| Offer {
                        selected: picked == Some(h.id),
                        id: h.id,
                        name: h.name,
                        distance: format!("{:.1} km", h.distance_km),
                    })
                    .collect();
                // One already chosen (the patient's own care team, say) is offered even when it
                // is not among the nearest.
                if let Some(id) = picked.filter(|p| !offers.iter().any(|o| o.id == *p)) {
                    if let Ok(chosen) = entry(app, ctx, id).await {
                        if chosen.kind == role.kind() {
                            let distance = chosen
                                .fields
                                .location
                                .as_ref()
                                .map(|p| {
                                    renkei_domain::towns::distance_km(*lat, *lng, p.lat, p.lng)
                                })
                                .map(|d| format!("{d:.1} km"))
                                .unwrap_or_else(|| "—".to_owned());
                            offers.insert(
                                0,
                                Offer {
                                    selected: true,
                                    id,
                                    name: chosen.fields.name,
                                    distance,
                                },
                            );
                        }
                    }
                }
                roles.push(RoleChoice {
                    code: role.code(),
                    label: lang.pick(role.label_ja(), role.label_en()),
                    offers,
                });
            }
        }
    }
    let minutes = match form(typed, "minutes") {
        m if m.trim().is_empty() => "45".to_owned(),
        m => m,
    };
    Ok(ListPage {
        chrome: Chrome::new(ctx, "nav.coordination", false),
        id,
        name,
        can_propose,
        error,
        items,
        near,
        located: located.map(|(n, ..)| n).unwrap_or_default(),
        roles,
        subject: form(typed, "subject"),
        place: form(typed, "place"),
        minutes,
        slots: (0..limits::SLOTS)
            .map(|i| form(typed, &format!("slot{i}")))
            .collect(),
    })
}

/// `GET /institutions/{id}/conferences`: the conferences it proposed or is invited to, and (for
/// hospitals) a new one with invitees near the patient's area (`?near=`).
pub async fn list(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let page = list_page(&app, &ctx, id, query.unwrap_or_default().as_bytes(), None).await?;
    Ok(render(&ctx, &page)?.into_response())
}

/// `POST /institutions/{id}/conferences`: proposes a conference and asks the invitees.
pub async fn create(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::not_found(&ctx))?;
    if !own_institutions(user).contains(&id) {
        return Err(PageError::forbidden(&ctx));
    }
    let again = |message: String| {
        let app = app.clone();
        let ctx = ctx.clone();
        let body = body.clone();
        async move {
            let page = list_page(&app, &ctx, id, &body, Some(message)).await?;
            Ok::<Response, PageError>(
                (StatusCode::UNPROCESSABLE_ENTITY, render(&ctx, &page)?).into_response(),
            )
        }
    };
    let page = list_page(&app, &ctx, id, &body, None).await?;
    if !page.can_propose {
        return Err(PageError::forbidden(&ctx));
    }
    let mut slots = Vec::new();
    for i in 0..limits::SLOTS {
        let typed = form(&body, &format!("slot{i}"));
        if typed.trim().is_empty() {
            continue;
        }
        match read_local(&typed) {
            Some(t) => slots.push(t),
            None => return again(format!("候補{}の日時が読めません", i + 1)).await,
        }
    }
    let proposal = Proposal {
        subject: form(&body, "subject").trim().to_owned(),
        place: form(&body, "place").trim().to_owned(),
        minutes: form(&body, "minutes").trim().parse().unwrap_or(0),
        slots,
    };
    if let Err(m) = proposal.check(app.clock.now()) {
        return again(m).await;
    }
    let mut invitees = Vec::new();
    for role in &page.roles {
        let Ok(chosen) = form(&body, role.code).parse::<i64>() else {
            continue;
        };
        if !role.offers.iter().any(|o| o.id == chosen) {
            return again(format!("{}の選び方が正しくありません", role.label)).await;
        }
        let r = InviteeRole::from_code(role.code).unwrap_or(InviteeRole::ClinicDoctor);
        invitees.push((chosen, r));
    }
    if invitees.is_empty() {
        return again("参加を依頼する人を1人以上選んでください".into()).await;
    }
    let cid = app
        .store
        .create_conference(id, &proposal, &invitees, Some(user.id), app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "conference.proposed",
        format!("conference:{cid}"),
    )
    .await;
    if let Ok(Some(c)) = app.store.conference(cid).await {
        mail_proposed(&app, &c).await;
    }
    Ok(see_other(format!("/conferences/{cid}?done=proposed")))
}

// ---------------------------------------------------------------------------------------------
// A conference.

/// One slot as the page shows it.
pub struct SlotView {
    id: i64,
    when: String,
    yes: usize,
    maybe: usize,
    no: usize,
    unanswered: usize,
    best: bool,
    fixed: bool,
}

/// One invitee's row.
pub struct InviteeView {
    id: i64,
    name: String,
    role: &'static str,
    phone: String,
    /// The answer to each slot, in slot order: (code, label).
    answers: Vec<(&'static str, &'static str)>,
    mine: bool,
}

#[derive(Template)]
#[template(path = "conference.html")]
struct ConferencePage {
    chrome: Chrome,
    id: i64,
    subject: String,
    hospital_id: i64,
    hospital: String,
    hospital_phone: String,
    place: String,
    minutes: u32,
    status: &'static str,
    status_code: &'static str,
    fixed_when: String,
    organizer: bool,
    answering: bool,
    notice: Option<String>,
    error: Option<String>,
    slots: Vec<SlotView>,
    invitees: Vec<InviteeView>,
    choices: Vec<(&'static str, &'static str)>,
}

async fn conference_page(app: &AppState, ctx: &Ctx, id: i64) -> Result<ConferencePage, PageError> {
    let lang = ctx.lang;
    let (c, standing) = visible(app, ctx, id).await?;
    let answer = |invitee: i64, slot: i64| {
        c.answers
            .iter()
            .find(|(v, s, _)| *v == invitee && *s == slot)
            .map(|(_, _, a)| *a)
    };
    let tallies: Vec<_> = c
        .slots
        .iter()
        .map(|s| {
            let answers: Vec<Option<Availability>> =
                c.invitees.iter().map(|v| answer(v.id, s.id)).collect();
            tally(&answers)
        })
        .collect();
    let best_slot = best(&tallies);
    let fixed_when = c
        .fixed_slot
        .and_then(|f| c.slots.iter().find(|s| s.id == f))
        .map(|s| when(lang, s.starts_at))
        .unwrap_or_default();
    let open = c.status == ConferenceStatus::Proposed;
    Ok(ConferencePage {
        chrome: Chrome::new(ctx, "nav.coordination", false),
        id,
        subject: c.subject.clone(),
        hospital_id: c.hospital_id,
        hospital: c.hospital_name.clone(),
        hospital_phone: c.hospital_phone.clone().unwrap_or_default(),
        place: c.place.clone(),
        minutes: c.minutes,
        status: lang.pick(c.status.label_ja(), c.status.label_en()),
        status_code: c.status.code(),
        fixed_when,
        organizer: standing.organizer,
        answering: open && !standing.invitee.is_empty(),
        notice: None,
        error: None,
        slots: c
            .slots
            .iter()
            .zip(&tallies)
            .enumerate()
            .map(|(i, (s, t))| SlotView {
                id: s.id,
                when: when(lang, s.starts_at),
                yes: t.yes,
                maybe: t.maybe,
                no: t.no,
                unanswered: t.unanswered,
                best: best_slot == Some(i) && c.status == ConferenceStatus::Proposed,
                fixed: c.fixed_slot == Some(s.id),
            })
            .collect(),
        invitees: c
            .invitees
            .iter()
            .map(|v| InviteeView {
                id: v.id,
                name: v.name.clone(),
                role: lang.pick(v.role.label_ja(), v.role.label_en()),
                phone: v.phone.clone().unwrap_or_default(),
                answers: c
                    .slots
                    .iter()
                    .map(|s| match answer(v.id, s.id) {
                        Some(a) => (a.code(), lang.pick(a.label_ja(), a.label_en())),
                        None => ("none", lang.pick("未回答", "No answer")),
                    })
                    .collect(),
                mine: standing.invitee.contains(&v.id),
            })
            .collect(),
        choices: Availability::ALL
            .iter()
            .map(|a| (a.code(), lang.pick(a.label_ja(), a.label_en())))
            .collect(),
    })
}

/// `GET /conferences/{id}`: the times with who can make them, the best one marked; invitees
/// answer, the hospital fixes a time or cancels.
pub async fn show(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let mut page = conference_page(&app, &ctx, id).await?;
    let done = query
        .as_deref()
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("done=")))
        .filter(|d| ["proposed", "answered", "fixed", "cancelled"].contains(d));
    page.notice = done.map(|d| crate::i18n::catalog(ctx.lang).get(&format!("conference.done_{d}")));
    Ok(render(&ctx, &page)?.into_response())
}

async fn refused(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    status: StatusCode,
    message: String,
) -> Result<Response, PageError> {
    let mut page = conference_page(app, ctx, id).await?;
    page.error = Some(message);
    Ok((status, render(ctx, &page)?).into_response())
}

/// `POST /conferences/{id}/answer`: the viewer's invitee rows answer each slot
/// (`answer-{invitee}-{slot}`).
pub async fn answer(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (c, standing) = visible(&app, &ctx, id).await?;
    if standing.invitee.is_empty() {
        return Err(PageError::forbidden(&ctx));
    }
    let by = ctx.viewer.signed_in().map(|u| u.id);
    for invitee in &standing.invitee {
        let answers: Vec<(i64, Availability)> = c
            .slots
            .iter()
            .filter_map(|s| {
                Availability::from_code(&form(&body, &format!("answer-{invitee}-{}", s.id)))
                    .map(|a| (s.id, a))
            })
            .collect();
        if answers.is_empty() {
            continue;
        }
        match app
            .store
            .answer_conference(id, *invitee, &answers, by, app.clock.now())
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(m)) => {
                return refused(&app, &ctx, id, StatusCode::CONFLICT, m).await
            }
            Err(e) => return Err(PageError::store(&ctx, e)),
        }
    }
    audit(
        &app,
        &ctx,
        &extensions,
        "conference.answered",
        format!("conference:{id}"),
    )
    .await;
    Ok(see_other(format!("/conferences/{id}?done=answered")))
}

/// `POST /conferences/{id}/fix`: the hospital fixes a slot; everyone gets the invitation.
pub async fn fix(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (c, standing) = visible(&app, &ctx, id).await?;
    if !standing.organizer {
        return Err(PageError::forbidden(&ctx));
    }
    let Ok(slot) = form(&body, "slot").parse::<i64>() else {
        let m = "決める日時を選んでください".to_owned();
        return refused(&app, &ctx, id, StatusCode::UNPROCESSABLE_ENTITY, m).await;
    };
    match app
        .store
        .fix_conference(id, c.hospital_id, slot, app.clock.now())
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(m)) => {
            return refused(&app, &ctx, id, StatusCode::CONFLICT, m).await
        }
        Err(e) => return Err(PageError::store(&ctx, e)),
    }
    audit(
        &app,
        &ctx,
        &extensions,
        "conference.fixed",
        format!("conference:{id}"),
    )
    .await;
    if let Ok(Some(c)) = app.store.conference(id).await {
        mail_invitation(&app, &c).await;
    }
    Ok(see_other(format!("/conferences/{id}?done=fixed")))
}

/// `POST /conferences/{id}/cancel`: the hospital cancels; a fixed one is cancelled in the
/// invitees' calendars too.
pub async fn cancel(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (c, standing) = visible(&app, &ctx, id).await?;
    if !standing.organizer {
        return Err(PageError::forbidden(&ctx));
    }
    if !app
        .store
        .cancel_conference(id, c.hospital_id, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    {
        let m = "このカンファレンスはすでに中止されています".to_owned();
        return refused(&app, &ctx, id, StatusCode::CONFLICT, m).await;
    }
    audit(
        &app,
        &ctx,
        &extensions,
        "conference.cancelled",
        format!("conference:{id}"),
    )
    .await;
    if let Ok(Some(c)) = app.store.conference(id).await {
        mail_invitation(&app, &c).await;
    }
    Ok(see_other(format!("/conferences/{id}?done=cancelled")))
}

/// The invitation of a fixed (or cancelled after fixing) conference, as iCalendar.
fn invitation(app: &AppState, c: &ConferenceRow) -> Option<String> {
    let slot = c
        .fixed_slot
        .and_then(|f| c.slots.iter().find(|s| s.id == f))?;
    let cancelled = c.status == ConferenceStatus::Cancelled;
    let base = app.config.public_url.trim_end_matches('/');
    let event = CalendarEvent {
        uid: format!("conference-{}@renkei", c.id),
        start: slot.starts_at,
        end: slot.starts_at + chrono::Duration::minutes(i64::from(c.minutes)),
        summary: format!("退院前カンファレンス：{}", c.subject),
        description: format!(
            "{}（電話 {}）\n参加：{}\n{base}/conferences/{}",
            c.hospital_name,
            c.hospital_phone.clone().unwrap_or_default(),
            c.invitees
                .iter()
                .map(|v| format!("{}（{}）", v.name, v.role.label_ja()))
                .collect::<Vec<_>>()
                .join("、"),
            c.id
        ),
        location: format!("{} {}", c.hospital_name, c.place),
        organizer: c.hospital_email.clone(),
        attendees: c.invitees.iter().filter_map(|v| v.email.clone()).collect(),
        sequence: c.sequence,
        cancelled,
    };
    Some(icalendar(
        &format!("退院前カンファレンス {}", c.hospital_name),
        if cancelled { "CANCEL" } else { "REQUEST" },
        &[event],
        app.clock.now(),
    ))
}

/// `GET /conferences/{id}/invite.ics`: the invitation of a fixed conference.
pub async fn calendar(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (c, _) = visible(&app, &ctx, id).await?;
    let Some(ics) = invitation(&app, &c) else {
        return Err(PageError::not_found(&ctx));
    };
    Ok(super::shared::download(
        "text/calendar; charset=utf-8",
        &format!("conference-{id}.ics"),
        ics,
    ))
}

// ---------------------------------------------------------------------------------------------
// Mail.

async fn mail_proposed(app: &AppState, c: &ConferenceRow) {
    let base = app.config.public_url.trim_end_matches('/');
    let slots: Vec<String> = c
        .slots
        .iter()
        .map(|s| format!("・{}", when(Lang::Ja, s.starts_at)))
        .collect();
    for v in &c.invitees {
        let Some(to) = &v.email else { continue };
        let body = format!(
            "{} 御中\n\n{}から、退院前カンファレンスへの参加（{}として）のお願いです。\n\n内容：{}\n場所：{}（{}分）\n候補の日時：\n{}\n\n参加できる日時を、次のページで回答してください（ログインが必要です）。\n{base}/conferences/{}\n",
            v.name,
            c.hospital_name,
            v.role.label_ja(),
            c.subject,
            c.place,
            c.minutes,
            slots.join("\n"),
            c.id
        );
        if let Err(e) = app
            .mailer
            .send(&app.store, to, "【退院前カンファレンスの日程調整】", &body)
            .await
        {
            tracing::error!(error = %e, "conference mail could not be queued");
        }
    }
}

/// Mails the invitation (or its cancellation) to the invitees and the hospital, with the
/// iCalendar part.
async fn mail_invitation(app: &AppState, c: &ConferenceRow) {
    let Some(ics) = invitation(app, c) else {
        // Cancelled before a time was fixed: a plain notice.
        for v in c.invitees.iter().filter_map(|v| v.email.as_ref()) {
            let body = format!(
                "{}の退院前カンファレンス（{}）は中止になりました。\n",
                c.hospital_name, c.subject
            );
            if let Err(e) = app
                .mailer
                .send(&app.store, v, "【退院前カンファレンス】中止", &body)
                .await
            {
                tracing::error!(error = %e, "conference mail could not be queued");
            }
        }
        return;
    };
    let cancelled = c.status == ConferenceStatus::Cancelled;
    let fixed = c
        .fixed_slot
        .and_then(|f| c.slots.iter().find(|s| s.id == f))
        .map(|s| when(Lang::Ja, s.starts_at))
        .unwrap_or_default();
    let subject = if cancelled {
        "【退院前カンファレンス】中止".to_owned()
    } else {
        format!("【退院前カンファレンス】{fixed}に決まりました")
    };
    let body = format!(
        "{}の退院前カンファレンス（{}）は、{}。\n場所：{}（{}分）\n\n添付の予定（.ics）をカレンダーに取り込めます。\n",
        c.hospital_name,
        c.subject,
        if cancelled {
            "中止になりました".to_owned()
        } else {
            format!("{fixed}からに決まりました")
        },
        c.place,
        c.minutes
    );
    let mut to: Vec<&String> = c.invitees.iter().filter_map(|v| v.email.as_ref()).collect();
    if let Some(h) = &c.hospital_email {
        to.push(h);
    }
    for address in to {
        if let Err(e) = app
            .mailer
            .send_with(&app.store, address, &subject, &body, Some(&ics))
            .await
        {
            tracing::error!(error = %e, "conference invitation could not be queued");
        }
    }
}
