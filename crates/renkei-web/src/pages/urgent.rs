//! Urgent requests between institutions (急変時の依頼, `/urgent…`, `/institutions/{id}/urgent…`,
//! `/hub/urgent`): a clinic asks for an urgent visit, a consultation, an emergency or respite
//! admission or services after discharge with a case summary that names nobody; the nearest
//! capable institutions are asked ring by ring (or those the clinic chose), each accepts or
//! declines with a reason, the first acceptance closes the request, and both sides watch it
//! live. The hub sees the requests of its areas and the ③ figures for the report.

use super::safety::{audit, jst_time_in, see_other};
use super::shared::{form, form_all, own_institutions};
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::i18n::{Catalog, Lang};
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, RawForm, State};
use axum::http::{header, Extensions, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use renkei_domain::accounts::AccountRole;
use renkei_domain::capability::Capability;
use renkei_domain::urgent::{
    figures, limits, AgeBand, CaseSummary, DeclineReason, EventKind, Figures, Recipient,
    RequestKind, RequestStatus, Routing, Sex,
};
use renkei_store::records::RecordQuery;
use renkei_store::urgent::{
    DeclineOutcome, EventRow, NewUrgentRequest, RecipientAnswer, RecipientRow, RequestRow,
};
use renkei_store::StoreError;
use serde::Deserialize;
use std::sync::Arc;

/// How many requests the institution's page lists of each side.
const LISTED: i64 = 50;
/// How many candidates the "chosen" form offers.
const OFFERED: usize = limits::CHOSEN;
/// The capabilities a request may add to its kind's own (the needs a recipient must meet).
pub(crate) const EXTRA_NEEDS: [Capability; 7] = [
    Capability::Ventilator,
    Capability::HomeOxygen,
    Capability::ParenteralNutrition,
    Capability::TubeFeeding,
    Capability::Palliative,
    Capability::Dementia,
    Capability::PediatricHome,
];

fn pick<T: Copy>(
    lang: Lang,
    v: T,
    ja: fn(T) -> &'static str,
    en: fn(T) -> &'static str,
) -> &'static str {
    lang.pick(ja(v), en(v))
}

/// A request as the pages show it.
pub struct RequestView {
    id: i64,
    kind: &'static str,
    kind_code: &'static str,
    status: &'static str,
    status_code: &'static str,
    exhausted: bool,
    patient: String,
    condition: String,
    needs: String,
    needed: String,
    place: String,
    contact: String,
    requester_id: i64,
    requester: String,
    requester_phone: String,
    created: String,
    accepted_by: String,
    accepted_at: String,
    rings: String,
    next_ring: String,
}

/// Whether the viewer may read a request's case text (condition and needs). It is patient
/// data however it is screened, so only users who signed in with a second factor read it; the
/// prefecture's password-only role sees the request's kind, status and times (L8 of the
/// security probe).
fn case_visible(ctx: &Ctx) -> bool {
    ctx.viewer.signed_in().is_some_and(|u| u.totp_enabled)
}

/// What stands in for the case text a viewer may not read.
fn withheld(lang: Lang) -> String {
    lang.pick(
        "（病状は二要素認証でログインした利用者にだけ表示されます）",
        "(shown only to users signed in with a second factor)",
    )
    .to_owned()
}

fn request_view(lang: Lang, r: &RequestRow, case_visible: bool) -> RequestView {
    let s = &r.summary;
    let next_ring = match (r.status, r.escalate_minutes.filter(|_| !r.chosen)) {
        (RequestStatus::Open, Some(m)) if r.current_ring < r.rings_total => {
            chrono::DateTime::parse_from_rfc3339(&r.ring_opened_at)
                .map(|t| {
                    let t = t.with_timezone(&chrono::Utc) + chrono::Duration::minutes(i64::from(m));
                    jst_time_in(lang, &renkei_store::time_text(t))
                })
                .unwrap_or_default()
        }
        _ => String::new(),
    };
    RequestView {
        id: r.id,
        kind: pick(lang, r.kind, RequestKind::label_ja, RequestKind::label_en),
        kind_code: r.kind.code(),
        status: if r.status == RequestStatus::Open && r.exhausted_at.is_some() {
            lang.pick("受け手なし（依頼中）", "Nobody yet (open)")
        } else {
            pick(
                lang,
                r.status,
                RequestStatus::label_ja,
                RequestStatus::label_en,
            )
        },
        status_code: r.status.code(),
        exhausted: r.status == RequestStatus::Open && r.exhausted_at.is_some(),
        patient: format!(
            "{}・{}",
            pick(lang, s.age_band, AgeBand::label_ja, AgeBand::label_en),
            pick(lang, s.sex, Sex::label_ja, Sex::label_en)
        ),
        condition: if case_visible {
            s.condition.clone()
        } else {
            withheld(lang)
        },
        needs: if case_visible {
            s.needs.clone()
        } else {
            String::new()
        },
        needed: s
            .needed
            .iter()
            .map(|c| lang.pick(c.label_ja(), c.label_en()))
            .collect::<Vec<_>>()
            .join("・"),
        place: s.area.clone(),
        contact: r.contact.clone(),
        requester_id: r.requester_id,
        requester: r.requester_name.clone(),
        requester_phone: r.requester_phone.clone().unwrap_or_default(),
        created: jst_time_in(lang, &r.created_at),
        accepted_by: r
            .accepted_by
            .as_ref()
            .map(|(_, n)| n.clone())
            .unwrap_or_default(),
        accepted_at: r
            .accepted_at
            .as_deref()
            .map(|t| jst_time_in(lang, t))
            .unwrap_or_default(),
        rings: if r.chosen {
            lang.pick("選んだ依頼先", "Chosen recipients").to_owned()
        } else {
            format!("{} / {}", r.current_ring, r.rings_total)
        },
        next_ring,
    }
}

/// A recipient as the request page lists it.
pub struct RecipientView {
    id: i64,
    name: String,
    kind: &'static str,
    phone: String,
    ring: u32,
    distance: String,
    asked: bool,
    answer: String,
    answer_code: &'static str,
    note: String,
    answered: String,
    /// For admission requests: what the recipient publishes on the bed board.
    beds: String,
}

fn recipient_view(lang: Lang, p: &RecipientRow) -> RecipientView {
    let (answer, answer_code) = match p.answer {
        Some(RecipientAnswer::Accepted) => (lang.pick("受入", "Accepted").to_owned(), "accepted"),
        Some(RecipientAnswer::Declined(reason)) => (
            format!(
                "{}：{}",
                lang.pick("お断り", "Declined"),
                pick(
                    lang,
                    reason,
                    DeclineReason::label_ja,
                    DeclineReason::label_en
                )
            ),
            "declined",
        ),
        None if p.notified_at.is_some() => (lang.pick("回答待ち", "Waiting").to_owned(), "waiting"),
        None => (
            lang.pick("未依頼（次の範囲）", "Not asked yet").to_owned(),
            "later",
        ),
    };
    RecipientView {
        id: p.institution_id,
        name: p.name.clone(),
        kind: lang.pick(p.kind.label_ja(), p.kind.label_en()),
        phone: p.phone.clone().unwrap_or_default(),
        ring: p.ring,
        distance: format!("{:.1} km", p.distance_km),
        asked: p.notified_at.is_some(),
        answer,
        answer_code,
        note: p.note.clone().unwrap_or_default(),
        answered: p
            .answered_at
            .as_deref()
            .map(|t| jst_time_in(lang, t))
            .unwrap_or_default(),
        beds: String::new(),
    }
}

/// What a recipient publishes on the bed board for the bed a request asks for: 「空床 2（12/2
/// 10:15）」, marked when older than a day.
fn beds_text(
    lang: Lang,
    row: Option<&renkei_store::beds::BedRow>,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let Some(row) = row else {
        return lang.pick("未公開", "not published").to_owned();
    };
    let Some(n) = row.count.available else {
        return lang.pick("未公開", "not published").to_owned();
    };
    let at = row.available_at.as_deref().unwrap_or_default();
    let stale = chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| renkei_domain::beds::is_stale(t.with_timezone(&chrono::Utc), now))
        .unwrap_or(true);
    format!(
        "{} {n}（{}）{}",
        lang.pick("空床", "free"),
        jst_time_in(lang, at),
        if stale {
            lang.pick("・古い情報", " · stale")
        } else {
            ""
        }
    )
}

/// One line of the timeline.
pub struct EventView {
    at: String,
    what: String,
    code: &'static str,
}

fn event_view(lang: Lang, e: &EventRow) -> EventView {
    let who = e
        .institution
        .as_ref()
        .map(|(_, n)| n.as_str())
        .unwrap_or("");
    let base = pick(lang, e.kind, EventKind::label_ja, EventKind::label_en);
    let what = match e.kind {
        EventKind::Created => format!(
            "{who} {base}（{}{}）",
            e.detail,
            lang.pick("か所に依頼", " asked")
        ),
        EventKind::RingOpened => format!(
            "{base}（{} {}、{}{}）",
            lang.pick("第", "ring"),
            e.ring.unwrap_or(0),
            e.detail,
            lang.pick("か所", " more")
        ),
        EventKind::Declined => {
            let (code, note) = e.detail.split_once(": ").unwrap_or((&e.detail, ""));
            let reason = DeclineReason::from_code(code)
                .map(|r| pick(lang, r, DeclineReason::label_ja, DeclineReason::label_en))
                .unwrap_or("");
            if note.is_empty() {
                format!("{who} {base}（{reason}）")
            } else {
                format!("{who} {base}（{reason}：{note}）")
            }
        }
        _ => format!("{who} {base}").trim().to_owned(),
    };
    EventView {
        at: jst_time_in(lang, &e.at),
        what,
        code: e.kind.code(),
    }
}

/// How the viewer stands to a request.
struct Standing {
    /// The viewer works at the requester.
    requester: bool,
    /// The viewer oversees it: the hub of the requester's area, the prefecture, the
    /// administrator. Those and the requester see every recipient; a recipient sees its own line.
    overseer: bool,
    /// The recipient institution the viewer answers for (asked, not yet answered first).
    recipient: Option<i64>,
}

/// The request, if the viewer may see it: its requester's and asked recipients' staff, the
/// coordinators of the requester's area, the prefecture and the administrator. Anyone else
/// gets the same 404 as for a request that does not exist.
async fn visible(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
) -> Result<(RequestRow, Vec<RecipientRow>, Standing), PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::not_found(ctx))?;
    let request = app
        .store
        .urgent_request(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .ok_or_else(|| PageError::not_found(ctx))?;
    let recipients = app
        .store
        .urgent_recipients(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let own = own_institutions(user);
    let overseer = user.has_role(AccountRole::PrefectureViewer)
        || super::changes::may_decide(user, &request.area_code);
    let standing = Standing {
        requester: own.contains(&request.requester_id),
        overseer,
        recipient: recipients
            .iter()
            .find(|p| p.notified_at.is_some() && own.contains(&p.institution_id))
            .map(|p| p.institution_id),
    };
    let reads = standing.requester || standing.recipient.is_some() || standing.overseer;
    if !reads {
        return Err(PageError::not_found(ctx));
    }
    Ok((request, recipients, standing))
}

#[derive(Template)]
#[template(path = "urgent_request_live.html")]
struct RequestLive {
    t: Arc<Catalog>,
    csrf: String,
    r: RequestView,
    open: bool,
    accepted: bool,
    requester: bool,
    /// The viewer answers for an asked recipient that has not answered yet.
    can_answer: bool,
    /// The viewer's institution has answered (and how).
    my_answer: String,
    can_widen: bool,
    reasons: Vec<(&'static str, &'static str)>,
    recipients: Vec<RecipientView>,
    events: Vec<EventView>,
    lang_query: &'static str,
}

#[derive(Template)]
#[template(path = "urgent_request.html")]
struct RequestPage {
    chrome: Chrome,
    id: i64,
    /// The fingerprint the page was drawn at (the live script skips updates that name it).
    version: String,
    title: String,
    notice: Option<String>,
    /// Why an action was refused (outside the live part, so an update does not wipe it).
    error: Option<String>,
    live: String,
    lang_query: &'static str,
}

/// `&lang=en` on English pages, so the live part fetched again follows the page's language.
fn lang_query(ctx: &Ctx) -> &'static str {
    ctx.lang.pick("", "&lang=en")
}

async fn request_live(app: &AppState, ctx: &Ctx, id: i64) -> Result<RequestLive, PageError> {
    let lang = ctx.lang;
    let (request, recipients, standing) = visible(app, ctx, id).await?;
    let events = app
        .store
        .urgent_events(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let open = request.status == RequestStatus::Open;
    // A recipient sees its own line and what concerns everyone, not the other recipients'
    // answers (nor who else is asked).
    let whole = standing.requester || standing.overseer;
    let recipients: Vec<RecipientRow> = recipients
        .into_iter()
        .filter(|p| whole || Some(p.institution_id) == standing.recipient)
        .collect();
    let events: Vec<EventRow> = events
        .into_iter()
        .filter(|e| {
            whole
                || match &e.institution {
                    None => true,
                    Some((id, _)) => {
                        *id == request.requester_id
                            || Some(*id) == standing.recipient
                            || e.kind == EventKind::Accepted
                    }
                }
        })
        .collect();
    let mine = standing
        .recipient
        .and_then(|me| recipients.iter().find(|p| p.institution_id == me));
    Ok(RequestLive {
        t: crate::i18n::catalog(lang),
        csrf: ctx.viewer.csrf_token().to_owned(),
        open,
        accepted: request.status == RequestStatus::Accepted,
        requester: standing.requester,
        can_answer: open && mine.is_some_and(|p| p.answer.is_none()),
        my_answer: mine
            .filter(|p| p.answer.is_some())
            .map(|p| recipient_view(lang, p).answer)
            .unwrap_or_default(),
        can_widen: open && standing.requester && request.current_ring < request.rings_total,
        reasons: DeclineReason::ALL
            .iter()
            .map(|r| {
                (
                    r.code(),
                    pick(lang, *r, DeclineReason::label_ja, DeclineReason::label_en),
                )
            })
            .collect(),
        recipients: {
            let mut views: Vec<RecipientView> =
                recipients.iter().map(|p| recipient_view(lang, p)).collect();
            if let Some(bed) = renkei_domain::beds::BedType::for_request(request.kind) {
                let ids: Vec<i64> = recipients.iter().map(|p| p.institution_id).collect();
                let counts = app
                    .store
                    .bed_counts(&ids)
                    .await
                    .map_err(|e| PageError::store(ctx, e))?;
                let now = app.clock.now();
                for v in &mut views {
                    let row = counts
                        .iter()
                        .find(|c| c.institution_id == v.id && c.count.bed_type == bed);
                    v.beds = beds_text(lang, row, now);
                }
            }
            views
        },
        events: events.iter().map(|e| event_view(lang, e)).collect(),
        r: request_view(lang, &request, case_visible(ctx)),
        lang_query: lang_query(ctx),
    })
}

/// The query of the request page.
#[derive(Debug, Deserialize, Default)]
pub struct RequestQuery {
    /// What was just done.
    pub done: Option<String>,
    /// Only the live part.
    pub part: Option<String>,
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// `GET /urgent/{id}`: a request, its recipients and timeline, with the viewer's actions (or,
/// with `?part=live`, the part that changes). Opening it is audited.
pub async fn show(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    Query(q): Query<RequestQuery>,
) -> Result<Response, PageError> {
    // Read before the content: a change in between only makes the page fetch its part again.
    let version = app
        .store
        .urgent_fingerprint(id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let live = request_live(&app, &ctx, id).await?;
    if q.part.as_deref() == Some("live") {
        return Ok(no_store(render(&ctx, &live)?.into_response()));
    }
    audit(
        &app,
        &ctx,
        &extensions,
        "urgent.viewed",
        format!("urgent_request:{id}"),
    )
    .await;
    let t = &live.t;
    let notice = q.done.as_deref().and_then(|d| match d {
        "created" | "accepted" | "declined" | "cancelled" | "widened" => {
            Some(t.get(&format!("urgent.done_{d}")))
        }
        _ => None,
    });
    let page = RequestPage {
        chrome: Chrome::new(&ctx, "nav.coordination", false),
        id,
        version,
        title: format!("{}（{}）", live.r.kind, live.r.place),
        notice,
        error: None,
        lang_query: live.lang_query,
        live: live
            .render()
            .map_err(|e| PageError::store(&ctx, StoreError::Invalid(e.to_string())))?,
    };
    Ok(no_store(render(&ctx, &page)?.into_response()))
}

/// Server-sent events: an `update` on connecting and whenever `fingerprint` changes (polled
/// from the database once a second, so a change made through any instance shows).
fn live_events<F, Fut>(app: AppState, fingerprint: F) -> Response
where
    F: Fn(AppState) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<String, StoreError>> + Send,
{
    let start = tokio::time::Instant::now();
    let fingerprint = Arc::new(fingerprint);
    let stream = futures_util::stream::unfold((app, None::<String>), move |(app, last)| {
        let fingerprint = fingerprint.clone();
        async move {
            let mut last = last;
            loop {
                if start.elapsed() > std::time::Duration::from_secs(3600) {
                    return None;
                }
                match fingerprint(app.clone()).await {
                    Ok(now) if last.as_ref() != Some(&now) => {
                        last = Some(now.clone());
                        let event = Event::default().event("update").data(now);
                        return Some((Ok::<_, std::convert::Infallible>(event), (app, last)));
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "urgent events: store failed"),
                }
                tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// `GET /urgent/{id}/events`.
pub async fn request_events(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    visible(&app, &ctx, id).await?;
    Ok(live_events(app, move |app| async move {
        app.store.urgent_fingerprint(id).await
    }))
}

/// `POST /urgent/{id}/accept`: the viewer's institution takes it — if it is the first.
pub async fn accept(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (_, _, standing) = visible(&app, &ctx, id).await?;
    let Some(me) = standing.recipient else {
        return Err(PageError::forbidden(&ctx));
    };
    let by = ctx.viewer.signed_in().map(|u| u.id);
    match app.store.accept_urgent(id, me, by, app.clock.now()).await {
        Ok(()) => {}
        Err(StoreError::Conflict(m)) => return refused(&app, &ctx, id, m).await,
        Err(StoreError::NotFound(_)) => return Err(PageError::not_found(&ctx)),
        Err(e) => return Err(PageError::store(&ctx, e)),
    }
    audit(
        &app,
        &ctx,
        &extensions,
        "urgent.accepted",
        format!("urgent_request:{id}"),
    )
    .await;
    mail_accepted(&app, id).await;
    Ok(see_other(format!("/urgent/{id}?done=accepted")))
}

/// The request page again with a message (409): someone else was first, or it was withdrawn.
async fn refused(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    message: String,
) -> Result<Response, PageError> {
    let version = app
        .store
        .urgent_fingerprint(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let live = request_live(app, ctx, id).await?;
    let page = RequestPage {
        chrome: Chrome::new(ctx, "nav.coordination", false),
        id,
        version,
        title: format!("{}（{}）", live.r.kind, live.r.place),
        notice: None,
        error: Some(message),
        lang_query: live.lang_query,
        live: live
            .render()
            .map_err(|e| PageError::store(ctx, StoreError::Invalid(e.to_string())))?,
    };
    Ok((
        StatusCode::CONFLICT,
        no_store(render(ctx, &page)?.into_response()),
    )
        .into_response())
}

/// `POST /urgent/{id}/decline`: the viewer's institution cannot take it (reason required).
pub async fn decline(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (_, _, standing) = visible(&app, &ctx, id).await?;
    let Some(me) = standing.recipient else {
        return Err(PageError::forbidden(&ctx));
    };
    let Some(reason) = DeclineReason::from_code(&form(&body, "reason")) else {
        return refused(
            &app,
            &ctx,
            id,
            ctx.lang
                .pick(
                    "お断りの理由を選んでください",
                    "Choose why you cannot take it",
                )
                .to_owned(),
        )
        .await
        .map(|r| with_status(r, StatusCode::UNPROCESSABLE_ENTITY));
    };
    let note: String = form(&body, "note").trim().chars().take(200).collect();
    if let Some(what) = renkei_domain::urgent::identifying(&note) {
        let m =
            format!("補足に{what}のようなものがあります。患者を特定できる情報は書かないでください");
        return refused(&app, &ctx, id, m)
            .await
            .map(|r| with_status(r, StatusCode::UNPROCESSABLE_ENTITY));
    }
    let by = ctx.viewer.signed_in().map(|u| u.id);
    let outcome = match app
        .store
        .decline_urgent(id, me, reason, &note, by, app.clock.now())
        .await
    {
        Ok(o) => o,
        Err(StoreError::Conflict(m)) => return refused(&app, &ctx, id, m).await,
        Err(StoreError::NotFound(_)) => return Err(PageError::not_found(&ctx)),
        Err(e) => return Err(PageError::store(&ctx, e)),
    };
    audit(
        &app,
        &ctx,
        &extensions,
        "urgent.declined",
        format!("urgent_request:{id}"),
    )
    .await;
    match outcome {
        DeclineOutcome::NextRing(ring, asked) => mail_asked(&app, id, ring, &asked).await,
        DeclineOutcome::Exhausted => mail_exhausted(&app, id).await,
        DeclineOutcome::Recorded => {}
    }
    Ok(see_other(format!("/urgent/{id}?done=declined")))
}

fn with_status(mut r: Response, status: StatusCode) -> Response {
    *r.status_mut() = status;
    r
}

/// `POST /urgent/{id}/cancel`: the requester withdraws it.
pub async fn cancel(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (request, _, standing) = visible(&app, &ctx, id).await?;
    if !standing.requester {
        return Err(PageError::forbidden(&ctx));
    }
    match app
        .store
        .cancel_urgent(id, request.requester_id, app.clock.now())
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(m)) => return refused(&app, &ctx, id, m).await,
        Err(e) => return Err(PageError::store(&ctx, e)),
    }
    audit(
        &app,
        &ctx,
        &extensions,
        "urgent.cancelled",
        format!("urgent_request:{id}"),
    )
    .await;
    // Read after the withdrawal: a ring asked meanwhile is told too.
    let recipients = app
        .store
        .urgent_recipients(id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let waiting: Vec<i64> = recipients
        .iter()
        .filter(|p| p.notified_at.is_some() && p.answer.is_none())
        .map(|p| p.institution_id)
        .collect();
    mail_closed(&app, &request, &waiting, false).await;
    Ok(see_other(format!("/urgent/{id}?done=cancelled")))
}

/// `POST /urgent/{id}/widen`: the requester asks the next ring now.
pub async fn widen(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (request, _, standing) = visible(&app, &ctx, id).await?;
    if !standing.requester {
        return Err(PageError::forbidden(&ctx));
    }
    match app
        .store
        .widen_urgent(id, request.requester_id, app.clock.now())
        .await
    {
        Ok(Some((ring, asked))) => mail_asked(&app, id, ring, &asked).await,
        Ok(None) => {
            let m = ctx.lang.pick(
                "これ以上広げる依頼先がありません。電話で調整するか、連携の拠点に相談してください",
                "There is no further ring. Call around or ask the hub",
            );
            return refused(&app, &ctx, id, m.to_owned()).await;
        }
        Err(StoreError::Conflict(m)) => return refused(&app, &ctx, id, m).await,
        Err(e) => return Err(PageError::store(&ctx, e)),
    }
    audit(
        &app,
        &ctx,
        &extensions,
        "urgent.widened",
        format!("urgent_request:{id}"),
    )
    .await;
    Ok(see_other(format!("/urgent/{id}?done=widened")))
}

// ---------------------------------------------------------------------------------------------
// The institution's list.

/// A request received, as the institution's list shows it.
pub struct ReceivedView {
    r: RequestView,
    distance: String,
    answer: String,
    waiting: bool,
    mine_accepted: bool,
}

#[derive(Template)]
#[template(path = "urgent_inbox_live.html")]
struct InboxLive {
    t: Arc<Catalog>,
    waiting: Vec<ReceivedView>,
    received: Vec<ReceivedView>,
    sent: Vec<RequestView>,
}

#[derive(Template)]
#[template(path = "urgent_inbox.html")]
struct InboxPage {
    chrome: Chrome,
    id: i64,
    /// The fingerprint the page was drawn at.
    version: String,
    name: String,
    can_act: bool,
    live: String,
    lang_query: &'static str,
}

/// The institution's name, whether the viewer acts for it (its staff) or only reads (its
/// area's coordinators, the prefecture).
async fn institution_access(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
) -> Result<(String, bool), PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::not_found(ctx))?;
    if own_institutions(user).contains(&id) {
        let name = super::readiness::access(app, ctx, id).await?.0;
        return Ok((name, true));
    }
    let (name, _) = super::readiness::access(app, ctx, id).await?;
    Ok((name, false))
}

async fn inbox_live(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    can_act: bool,
) -> Result<InboxLive, PageError> {
    let lang = ctx.lang;
    let mut received = app
        .store
        .urgent_received(id, LISTED)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    // Someone who only reads this institution's list (its hub, the prefecture) sees the
    // requests it received only where they would see the request itself.
    if !can_act {
        if let Some(user) = ctx.viewer.signed_in() {
            let prefecture = user.has_role(AccountRole::PrefectureViewer);
            received
                .retain(|x| prefecture || super::changes::may_decide(user, &x.request.area_code));
        }
    }
    let sent = app
        .store
        .urgent_sent(id, LISTED)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let (waiting, done): (Vec<ReceivedView>, Vec<ReceivedView>) = received
        .iter()
        .map(|x| {
            let mine = recipient_view(lang, &x.mine);
            ReceivedView {
                waiting: x.request.status == RequestStatus::Open && x.mine.answer.is_none(),
                mine_accepted: x.mine.answer == Some(RecipientAnswer::Accepted),
                r: request_view(lang, &x.request, case_visible(ctx)),
                distance: mine.distance,
                answer: mine.answer,
            }
        })
        .partition(|v| v.waiting);
    Ok(InboxLive {
        t: crate::i18n::catalog(lang),
        waiting,
        received: done,
        sent: sent
            .iter()
            .map(|r| request_view(lang, r, case_visible(ctx)))
            .collect(),
    })
}

/// The query of the institution's list.
#[derive(Debug, Deserialize, Default)]
pub struct InboxQuery {
    /// Only the live part.
    pub part: Option<String>,
}

/// `GET /institutions/{id}/urgent`: requests the institution was asked (those waiting for its
/// answer first) and those it sent, live.
pub async fn inbox(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<InboxQuery>,
) -> Result<Response, PageError> {
    let (name, can_act) = institution_access(&app, &ctx, id).await?;
    let version = app
        .store
        .urgent_institution_fingerprint(id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let live = inbox_live(&app, &ctx, id, can_act).await?;
    if q.part.as_deref() == Some("live") {
        return Ok(no_store(render(&ctx, &live)?.into_response()));
    }
    let page = InboxPage {
        chrome: Chrome::new(&ctx, "nav.coordination", false),
        id,
        version,
        name,
        can_act,
        lang_query: lang_query(&ctx),
        live: live
            .render()
            .map_err(|e| PageError::store(&ctx, StoreError::Invalid(e.to_string())))?,
    };
    Ok(no_store(render(&ctx, &page)?.into_response()))
}

/// `GET /institutions/{id}/urgent/events`.
pub async fn inbox_events(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    institution_access(&app, &ctx, id).await?;
    Ok(live_events(app, move |app| async move {
        app.store.urgent_institution_fingerprint(id).await
    }))
}

/// `GET /urgent`: where the feature starts — the viewer's institution's list, or the hub's view.
pub async fn entry(State(_app): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::not_found(&ctx))?;
    if let Some(id) = own_institutions(user).first() {
        return Ok(see_other(format!("/institutions/{id}/urgent")));
    }
    if [
        AccountRole::HubCoordinator,
        AccountRole::PrefectureViewer,
        AccountRole::SystemAdmin,
    ]
    .iter()
    .any(|r| user.has_role(*r))
    {
        return Ok(see_other("/hub/urgent".to_owned()));
    }
    Err(PageError::forbidden(&ctx))
}

// ---------------------------------------------------------------------------------------------
// A new request.

/// A candidate recipient offered on the form.
pub struct CandidateView {
    id: i64,
    name: String,
    kind: &'static str,
    distance: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "urgent_new.html")]
struct NewPage {
    chrome: Chrome,
    id: i64,
    name: String,
    error: Option<String>,
    kinds: Vec<(&'static str, &'static str, bool)>,
    ages: Vec<(&'static str, &'static str, bool)>,
    sexes: Vec<(&'static str, &'static str, bool)>,
    needs_options: Vec<(&'static str, &'static str, bool)>,
    condition: String,
    needs: String,
    place: String,
    contact: String,
    chosen: bool,
    ring_size: String,
    escalate_minutes: String,
    rings: String,
    candidates: Vec<CandidateView>,
    located: String,
}

/// The form as typed (query or body).
struct Typed {
    kind: Option<RequestKind>,
    age: Option<AgeBand>,
    sex: Option<Sex>,
    needed: Vec<Capability>,
    condition: String,
    needs: String,
    place: String,
    contact: String,
    chosen: bool,
    picked: Vec<i64>,
    ring_size: String,
    escalate_minutes: String,
    rings: String,
}

impl Typed {
    fn read(body: &[u8]) -> Self {
        let number = |name: &str, default: u32| {
            let v = form(body, name);
            if v.trim().is_empty() {
                default.to_string()
            } else {
                v
            }
        };
        let Routing::Nearest {
            ring_size,
            escalate_minutes,
            rings,
        } = Routing::DEFAULT
        else {
            unreachable!("the default routing is by rings")
        };
        Typed {
            kind: RequestKind::from_code(&form(body, "kind")),
            age: AgeBand::from_code(&form(body, "age_band")),
            sex: Sex::from_code(&form(body, "sex")),
            needed: form_all(body, "needed")
                .iter()
                .filter_map(|c| Capability::from_code(c))
                .filter(|c| EXTRA_NEEDS.contains(c))
                .collect(),
            condition: form(body, "condition"),
            needs: form(body, "needs"),
            place: form(body, "place"),
            contact: form(body, "contact"),
            chosen: form(body, "routing") == "chosen",
            picked: form_all(body, "recipient")
                .iter()
                .filter_map(|v| v.parse().ok())
                .collect(),
            ring_size: number("ring_size", ring_size),
            escalate_minutes: number("escalate_minutes", escalate_minutes),
            rings: number("rings", rings),
        }
    }
}

/// The place of an institution, no finer than its town: its address up to the first number.
pub(crate) fn town_of(address: &str) -> String {
    let folded = renkei_domain::text::normalize(address);
    let without = folded.strip_prefix("大阪府").unwrap_or(&folded);
    without
        .chars()
        .take_while(|c| !c.is_ascii_digit())
        .collect::<String>()
        .trim()
        .to_owned()
}

async fn new_page(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    typed: Typed,
    error: Option<String>,
) -> Result<NewPage, PageError> {
    let lang = ctx.lang;
    let (name, can_act) = institution_access(app, ctx, id).await?;
    if !can_act {
        return Err(PageError::forbidden(ctx));
    }
    let record = super::shared::entry(app, ctx, id).await?;
    let place = if typed.place.trim().is_empty() {
        town_of(&record.fields.address)
    } else {
        typed.place.clone()
    };
    let kind = typed.kind.unwrap_or(RequestKind::UrgentVisit);
    let (located, candidates) = match super::directory::located(&place) {
        Some((label, lat, lng)) => {
            app.directory_index
                .ensure_loaded(&app.store)
                .await
                .map_err(|e| PageError::store(ctx, e))?;
            let hits = app
                .directory_index
                .route(kind, &typed.needed, (lat, lng), id, OFFERED);
            (label, hits)
        }
        None => (String::new(), Vec::new()),
    };
    let names = app
        .store
        .entry_records(&RecordQuery {
            ids: Some(candidates.iter().map(|(i, _)| *i).collect()),
            limit: OFFERED,
            ..RecordQuery::default()
        })
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let candidates = candidates
        .iter()
        .filter_map(|(cid, km)| {
            names.iter().find(|r| r.id == *cid).map(|r| CandidateView {
                id: *cid,
                name: r.fields.name.clone(),
                kind: lang.pick(r.kind.label_ja(), r.kind.label_en()),
                distance: format!("{km:.1} km"),
                checked: typed.picked.contains(cid),
            })
        })
        .collect();
    Ok(NewPage {
        chrome: Chrome::new(ctx, "nav.coordination", false),
        id,
        name,
        error,
        kinds: RequestKind::ALL
            .iter()
            .map(|k| {
                (
                    k.code(),
                    pick(lang, *k, RequestKind::label_ja, RequestKind::label_en),
                    *k == kind,
                )
            })
            .collect(),
        ages: AgeBand::ALL
            .iter()
            .map(|a| {
                (
                    a.code(),
                    pick(lang, *a, AgeBand::label_ja, AgeBand::label_en),
                    typed.age == Some(*a),
                )
            })
            .collect(),
        sexes: Sex::ALL
            .iter()
            .map(|s| {
                (
                    s.code(),
                    pick(lang, *s, Sex::label_ja, Sex::label_en),
                    typed.sex == Some(*s),
                )
            })
            .collect(),
        needs_options: EXTRA_NEEDS
            .iter()
            .map(|c| {
                (
                    c.code(),
                    lang.pick(c.label_ja(), c.label_en()),
                    typed.needed.contains(c),
                )
            })
            .collect(),
        condition: typed.condition,
        needs: typed.needs,
        place,
        contact: typed.contact,
        chosen: typed.chosen,
        ring_size: typed.ring_size,
        escalate_minutes: typed.escalate_minutes,
        rings: typed.rings,
        candidates,
        located,
    })
}

/// `GET /institutions/{id}/urgent/new`: the form, with the candidates for the kind and place
/// typed so far (without JavaScript, 「候補を表示」 submits it as a query).
pub async fn new_form(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let typed = Typed::read(query.unwrap_or_default().as_bytes());
    let page = new_page(&app, &ctx, id, typed, None).await?;
    Ok(render(&ctx, &page)?.into_response())
}

use axum::extract::RawQuery;

fn read_number(text: &str, field: &str, max: u32) -> Result<u32, String> {
    renkei_domain::safety::read_count(text, field, max)?
        .ok_or_else(|| format!("「{field}」を入れてください"))
}

/// Reads the request form: the kind, the summary, the routing.
fn read_request(t: &Typed) -> Result<(RequestKind, CaseSummary, Routing), String> {
    let kind = t.kind.ok_or("依頼の種類を選んでください")?;
    let summary = CaseSummary {
        age_band: t.age.ok_or("年代を選んでください")?,
        sex: t
            .sex
            .ok_or("性別を選んでください（記載しない場合は「その他・記載しない」）")?,
        condition: t.condition.trim().to_owned(),
        needs: t.needs.trim().to_owned(),
        needed: t.needed.clone(),
        area: t.place.trim().to_owned(),
    };
    summary.check()?;
    if t.contact.trim().is_empty() {
        return Err("「連絡先」（受け手が電話する相手と番号）を書いてください".into());
    }
    if t.contact.chars().count() > limits::CONTACT_CHARS {
        return Err(format!(
            "「連絡先」は{}文字までにしてください",
            limits::CONTACT_CHARS
        ));
    }
    let minutes = read_number(&t.escalate_minutes, "回答を待つ時間（分）", 10_000)?;
    let routing = if t.chosen {
        if t.picked.is_empty() {
            return Err(
                "依頼先を1か所以上選んでください（または「近い順に自動で」を選んでください）"
                    .into(),
            );
        }
        if t.picked.len() > limits::CHOSEN {
            return Err(format!("依頼先は{}か所までにしてください", limits::CHOSEN));
        }
        Routing::Chosen {
            wait_minutes: minutes,
        }
    } else {
        Routing::Nearest {
            ring_size: read_number(&t.ring_size, "一度に依頼する数", 1000)?,
            escalate_minutes: minutes,
            rings: read_number(&t.rings, "広げる回数", 1000)?,
        }
    };
    routing.check()?;
    Ok((kind, summary, routing))
}

/// `POST /institutions/{id}/urgent/new`: sends the request to its first ring (or the chosen).
pub async fn create(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (_, can_act) = institution_access(&app, &ctx, id).await?;
    if !can_act {
        return Err(PageError::forbidden(&ctx));
    }
    let typed = Typed::read(&body);
    // 「候補を表示」: the form again with the candidates for what was typed, nothing sent (a POST,
    // so the case never travels in an address).
    if form(&body, "preview") == "1" {
        let page = new_page(&app, &ctx, id, typed, None).await?;
        return Ok(render(&ctx, &page)?.into_response());
    }
    let again = |typed: Typed, message: String| {
        let app = app.clone();
        let ctx = ctx.clone();
        async move {
            let page = new_page(&app, &ctx, id, typed, Some(message)).await?;
            Ok::<Response, PageError>(
                (StatusCode::UNPROCESSABLE_ENTITY, render(&ctx, &page)?).into_response(),
            )
        }
    };
    let (kind, summary, routing) = match read_request(&typed) {
        Ok(x) => x,
        Err(m) => return again(typed, m).await,
    };
    let Some((_, lat, lng)) = super::directory::located(&summary.area) else {
        let m = format!(
            "「{}」の場所が見つかりません。市と町名で書いてください（例：八尾市本町、東大阪市荒本北）",
            summary.area
        );
        return again(typed, m).await;
    };
    app.directory_index
        .ensure_loaded(&app.store)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let found = app.directory_index.route(
        kind,
        &summary.needed,
        (lat, lng),
        id,
        match routing {
            Routing::Chosen { .. } => 10_000,
            r => r.wanted(0),
        },
    );
    let candidates: Vec<(i64, f64)> = match routing {
        Routing::Chosen { .. } => {
            let picked: Vec<(i64, f64)> = found
                .iter()
                .filter(|(c, _)| typed.picked.contains(c))
                .copied()
                .collect();
            if picked.len() != typed.picked.len() {
                let m = "選んだ依頼先の一部が、この依頼の種類・必要なことに対応していないか、30 km より遠くにあります。候補から選び直してください".to_owned();
                return again(typed, m).await;
            }
            picked
        }
        Routing::Nearest { .. } => found,
    };
    let recipients: Vec<Recipient> = renkei_domain::urgent::rings(&routing, id, &candidates);
    if recipients.is_empty() {
        let m = format!(
            "「{}」から30 km 以内に、この依頼（{}{}）に対応できると登録された医療機関等がありません。必要なことの条件を減らすか、電話で調整し、連携の拠点にも相談してください",
            summary.area,
            kind.label_ja(),
            if summary.needed.is_empty() { "" } else { "・必要なこと" }
        );
        return again(typed, m).await;
    }
    let by = ctx.viewer.signed_in().map(|u| u.id);
    let rid = app
        .store
        .create_urgent_request(
            &NewUrgentRequest {
                requester_id: id,
                kind,
                summary: &summary,
                contact: typed.contact.trim(),
                routing,
                recipients: &recipients,
            },
            by,
            app.clock.now(),
        )
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "urgent.created",
        format!("urgent_request:{rid}"),
    )
    .await;
    let first: Vec<i64> = recipients
        .iter()
        .filter(|r| r.ring == 1)
        .map(|r| r.institution_id)
        .collect();
    mail_asked(&app, rid, 1, &first).await;
    Ok(see_other(format!("/urgent/{rid}?done=created")))
}

// ---------------------------------------------------------------------------------------------
// The hub's view.

/// One row of the figures by kind.
pub struct FigureRow {
    kind: String,
    requests: usize,
    accepted: usize,
    cancelled: usize,
    rate: String,
    median: String,
}

fn figure_row(lang: Lang, kind: String, f: &Figures) -> FigureRow {
    FigureRow {
        kind,
        requests: f.requests,
        accepted: f.accepted,
        cancelled: f.cancelled,
        rate: f
            .acceptance_rate
            .map(|r| format!("{r:.0}%"))
            .unwrap_or_else(|| "—".into()),
        median: f
            .median_minutes
            .map(|m| format!("{m:.0} {}", lang.pick("分", "min")))
            .unwrap_or_else(|| "—".into()),
    }
}

#[derive(Template)]
#[template(path = "urgent_hub.html")]
struct HubPage {
    chrome: Chrome,
    notice: Option<String>,
    /// The viewer coordinates areas (and may write the figures into their ledgers).
    can_record: bool,
    year_number: i32,
    year: String,
    years: Vec<(i32, String, bool)>,
    areas: String,
    figures: Vec<FigureRow>,
    waiting: Vec<RequestView>,
    requests: Vec<RequestView>,
}

fn year_label(lang: Lang, y: renkei_domain::fiscal_year::FiscalYear) -> String {
    match lang {
        Lang::Ja => format!("{y}（{}）", y.gregorian_label()),
        Lang::En => format!("FY{}", y.year()),
    }
}

/// The query of the hub's view.
#[derive(Debug, Deserialize, Default)]
pub struct HubQuery {
    /// The fiscal year (April–March) to show; this year by default.
    pub year: Option<i32>,
    /// What was just done.
    pub done: Option<String>,
}

/// The ③ figures of the requests sent from `areas` in fiscal year `year`: all kinds first, then
/// by kind (kinds with no request left out).
pub async fn year_figures(
    app: &AppState,
    areas: &[String],
    year: renkei_domain::fiscal_year::FiscalYear,
) -> Result<Vec<(Option<RequestKind>, Figures)>, StoreError> {
    let at = renkei_domain::japan::day_start;
    let from = at(year.start());
    let until = at(year.end() + chrono::Duration::days(1));
    let outcomes = app.store.urgent_outcomes(areas, from, until).await?;
    let mut out = vec![(None, figures(&outcomes))];
    for k in RequestKind::ALL {
        let of_kind: Vec<_> = outcomes.iter().filter(|o| o.kind == *k).copied().collect();
        if !of_kind.is_empty() {
            out.push((Some(*k), figures(&of_kind)));
        }
    }
    Ok(out)
}

/// `GET /hub/urgent`: the requests sent from the viewer's areas this fiscal year, those nobody
/// has accepted first, and the ③ figures (requests, acceptance rate, median time to acceptance).
pub async fn hub(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HubQuery>,
) -> Result<Response, PageError> {
    use renkei_domain::fiscal_year::FiscalYear;
    let lang = ctx.lang;
    let areas = super::safety::visible_areas(&app, &ctx).await?;
    let today = crate::clock::today(&app);
    let this_year = FiscalYear::of_date(today);
    let year = q
        .year
        .and_then(|y| FiscalYear::new(y).ok())
        .unwrap_or(this_year);
    let area_codes: Vec<String> = areas.iter().map(|(c, _)| c.clone()).collect();
    let figures = year_figures(&app, &area_codes, year)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let at = renkei_domain::japan::day_start;
    let requests = app
        .store
        .urgent_in_areas(
            &area_codes,
            at(year.start()),
            at(year.end() + chrono::Duration::days(1)),
        )
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let visible = case_visible(&ctx);
    let views: Vec<RequestView> = requests
        .iter()
        .map(|r| request_view(lang, r, visible))
        .collect();
    let (waiting, requests): (Vec<RequestView>, Vec<RequestView>) = views
        .into_iter()
        .partition(|v| v.status_code == RequestStatus::Open.code());
    let can_record = !super::safety::reach(&app, &ctx).await?.acting.is_empty();
    let t = crate::i18n::catalog(lang);
    let page = HubPage {
        chrome: Chrome::new(&ctx, "nav.coordination", false),
        notice: match q.done.as_deref() {
            Some("recorded") => Some(t.get("urgent.ledger_recorded")),
            Some("nothing") => Some(t.get("urgent.ledger_nothing")),
            _ => None,
        },
        can_record,
        year_number: year.year(),
        year: year_label(lang, year),
        years: (0..3)
            .map(|back| {
                let y = FiscalYear::new(this_year.year() - back).unwrap_or(this_year);
                (y.year(), year_label(lang, y), y == year)
            })
            .collect(),
        areas: areas
            .iter()
            .map(|(_, n)| n.clone())
            .collect::<Vec<_>>()
            .join("・"),
        figures: figures
            .iter()
            .map(|(k, f)| {
                let name = match k {
                    None => lang.pick("すべて", "All").to_owned(),
                    Some(k) => {
                        pick(lang, *k, RequestKind::label_ja, RequestKind::label_en).to_owned()
                    }
                };
                figure_row(lang, name, f)
            })
            .collect(),
        waiting,
        requests,
    };
    Ok(render(&ctx, &page)?.into_response())
}

/// The note that marks the ledger item Renkei keeps up to date with a year's figures.
const LEDGER_MARKER: &str = "Renkei 急変時連携の集計から";

/// The ③ item of an area's figures: requests, acceptances, rate, median time and the kinds.
fn ledger_item(
    ledger: &renkei_domain::ledger::HubLedger,
    existing: Option<&renkei_domain::ledger::LedgerItem>,
    figures: &[(Option<RequestKind>, Figures)],
) -> Option<renkei_domain::ledger::LedgerItem> {
    use renkei_domain::ledger::ItemKind;
    let (_, all) = figures.iter().find(|(k, _)| k.is_none())?;
    if all.requests == 0 {
        return None;
    }
    let mut title = format!(
        "急変時の依頼と受入（Renkeiによる）：依頼 {} 件・受入 {} 件",
        all.requests, all.accepted
    );
    if let Some(rate) = all.acceptance_rate {
        title.push_str(&format!("（受入率 {rate:.0}%）"));
    }
    if let Some(m) = all.median_minutes {
        title.push_str(&format!("・受入までの時間 中央値 {m:.0} 分"));
    }
    let kinds: Vec<String> = figures
        .iter()
        .filter_map(|(k, f)| {
            k.map(|k| format!("{} {}件（受入 {}）", k.label_ja(), f.requests, f.accepted))
        })
        .collect();
    Some(
        super::ledger_feed::FedItem {
            duty: 3,
            kind: ItemKind::Other,
            title,
            detail: format!("。内訳：{}", kinds.join("、")),
            held: u32::try_from(all.requests).unwrap_or(u32::MAX),
            audience: vec!["医療機関".into()],
            organisers: Vec::new(),
        }
        .into_item(ledger, existing),
    )
}

/// `POST /hub/urgent/ledger`: writes the year's figures (`year=`) into the ③ progress of each
/// of the coordinator's areas' ledgers — one item, replaced by later presses — so the report
/// to the prefecture says them.
pub async fn record_in_ledger(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    use renkei_domain::fiscal_year::FiscalYear;
    let acting = super::safety::reach(&app, &ctx).await?.acting;
    if acting.is_empty() {
        return Err(PageError::forbidden(&ctx));
    }
    let today = crate::clock::today(&app);
    let year = form(&body, "year")
        .parse()
        .ok()
        .and_then(|y| FiscalYear::new(y).ok())
        .unwrap_or(FiscalYear::of_date(today));
    let user = ctx.viewer.signed_in().map(|u| u.id);
    let mut figures = std::collections::HashMap::new();
    for area in &acting {
        let f = year_figures(&app, std::slice::from_ref(area), year)
            .await
            .map_err(|e| PageError::store(&ctx, e))?;
        figures.insert(area.clone(), f);
    }
    let recorded = super::ledger_feed::record_marked(
        &app,
        &acting,
        year,
        LEDGER_MARKER,
        user,
        |area, ledger, existing| ledger_item(ledger, existing, figures.get(area.code.as_str())?),
    )
    .await
    .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "urgent.recorded_in_ledger",
        format!("ledgers:{recorded} year:{}", year.year()),
    )
    .await;
    let done = if recorded == 0 { "nothing" } else { "recorded" };
    Ok(see_other(format!(
        "/hub/urgent?year={}&done={done}",
        year.year()
    )))
}

// ---------------------------------------------------------------------------------------------
// Escalation and mail.

/// Asks the next ring of every request whose ring has waited its time and tells requesters
/// whose request nobody has taken (the server calls this every half minute; each step is
/// claimed in the database, so with several instances each is done once). Returns the steps.
pub async fn escalate_due(app: &AppState) -> Result<usize, StoreError> {
    let run = app.store.escalate_urgent(app.clock.now()).await?;
    for (id, ring, asked) in &run.rings {
        mail_asked(app, *id, *ring, asked).await;
    }
    for id in &run.exhausted {
        mail_exhausted(app, *id).await;
    }
    Ok(run.rings.len() + run.exhausted.len())
}

async fn mail_to(app: &AppState, institution: i64, subject: &str, body: &str) {
    let Ok(Some((_, Some(to)))) = app.store.confirmation_of(institution).await else {
        return;
    };
    if let Err(e) = app.mailer.send(&app.store, &to, subject, body).await {
        tracing::error!(error = %e, "urgent-request mail could not be queued");
    }
}

fn summary_lines(r: &RequestRow) -> String {
    let s = &r.summary;
    let mut lines = format!(
        "依頼：{}\n患者：{}・{}（{}）\n病状：{}\n",
        r.kind.label_ja(),
        s.age_band.label_ja(),
        s.sex.label_ja(),
        s.area,
        s.condition
    );
    if !s.needs.is_empty() {
        lines.push_str(&format!("必要なこと：{}\n", s.needs));
    }
    if !s.needed.is_empty() {
        let needed: Vec<&str> = s.needed.iter().map(|c| c.label_ja()).collect();
        lines.push_str(&format!("対応が必要：{}\n", needed.join("・")));
    }
    lines
}

/// Mails the institutions just asked (ring `ring`) about request `id`.
async fn mail_asked(app: &AppState, id: i64, ring: u32, asked: &[i64]) {
    let Ok(Some(r)) = app.store.urgent_request(id).await else {
        return;
    };
    let base = app.config.public_url.trim_end_matches('/');
    let subject = format!(
        "【急変時の依頼】{}（{}）",
        r.kind.label_ja(),
        r.summary.area
    );
    let later = if ring > 1 {
        "近い医療機関等から順に依頼しており、まだ受入先が決まっていません。\n"
    } else {
        ""
    };
    let body = format!(
        "{}から、急変時の依頼がありました。{later}\n{}\n受け入れられるかどうかを、次のページで回答してください（ログインが必要です。最初に受け入れた1か所で決まります）。\n{base}/urgent/{id}\n\n急ぐときは電話でも連絡してください：{}\n",
        r.requester_name,
        summary_lines(&r),
        r.contact
    );
    for institution in asked {
        mail_to(app, *institution, &subject, &body).await;
    }
}

/// Mails the requester that the request was accepted, and the others still asked that it is
/// closed.
async fn mail_accepted(app: &AppState, id: i64) {
    let Ok(Some(r)) = app.store.urgent_request(id).await else {
        return;
    };
    let Ok(recipients) = app.store.urgent_recipients(id).await else {
        return;
    };
    let base = app.config.public_url.trim_end_matches('/');
    let (accepted_id, accepted) = r.accepted_by.clone().unwrap_or_default();
    let phone = recipients
        .iter()
        .find(|p| p.institution_id == accepted_id)
        .and_then(|p| p.phone.clone())
        .unwrap_or_default();
    mail_to(
        app,
        r.requester_id,
        &format!("【急変時の依頼】{}が受け入れました", accepted),
        &format!(
            "{} 御中\n\n{}の依頼（{}）を、{}が受け入れました。\n電話：{phone}\n\n患者の詳しい情報は、電話または同意を得た情報共有で伝えてください。\n{base}/urgent/{id}\n",
            r.requester_name,
            r.kind.label_ja(),
            r.summary.area,
            accepted
        ),
    )
    .await;
    let waiting: Vec<i64> = recipients
        .iter()
        .filter(|p| p.notified_at.is_some() && p.answer.is_none())
        .map(|p| p.institution_id)
        .collect();
    mail_closed(app, &r, &waiting, true).await;
}

/// Mails those still asked that the request is closed (accepted elsewhere or withdrawn).
async fn mail_closed(app: &AppState, r: &RequestRow, waiting: &[i64], accepted: bool) {
    let subject = format!(
        "【急変時の依頼】{}：{}",
        if accepted {
            "受入先が決まりました"
        } else {
            "取り下げられました"
        },
        r.kind.label_ja()
    );
    let body = format!(
        "{}からの依頼（{}・{}）は{}。回答は不要になりました。ご協力ありがとうございました。\n",
        r.requester_name,
        r.kind.label_ja(),
        r.summary.area,
        if accepted {
            "ほかの医療機関等が受け入れました"
        } else {
            "依頼元が取り下げました"
        }
    );
    for institution in waiting {
        mail_to(app, *institution, &subject, &body).await;
    }
}

/// Mails the requester that every ring has been asked and nobody has accepted yet.
async fn mail_exhausted(app: &AppState, id: i64) {
    let Ok(Some(r)) = app.store.urgent_request(id).await else {
        return;
    };
    let base = app.config.public_url.trim_end_matches('/');
    mail_to(
        app,
        r.requester_id,
        &format!("【急変時の依頼】受入先が見つかっていません：{}", r.kind.label_ja()),
        &format!(
            "{} 御中\n\n{}の依頼（{}）は、依頼したすべての医療機関等から受入の回答がありません。\n依頼は開いたままです（あとから受け入れられることもあります）。電話での調整を始め、連携の拠点にも相談してください。\n{base}/urgent/{id}\n",
            r.requester_name,
            r.kind.label_ja(),
            r.summary.area
        ),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::town_of;

    #[test]
    fn the_place_stops_before_the_house_number() {
        assert_eq!(town_of("大阪府八尾市本町1丁目2-3"), "八尾市本町");
        assert_eq!(town_of("八尾市本町一丁目２－３"), "八尾市本町一丁目");
        assert_eq!(town_of("東大阪市荒本北"), "東大阪市荒本北");
    }
}
