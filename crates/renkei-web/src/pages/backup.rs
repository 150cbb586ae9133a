//! Backup coverage while a doctor is away (`/institutions/{id}/backup`, `/backup/…`,
//! `/hub/backup`): an institution records an absence and asks nearby institutions to cover its
//! home patients; each accepts or declines; during the absence both sides and the hub see who
//! covers. A backup that is itself away over those days is named before it is asked, and the
//! same doctor cannot be away twice over the same days.

use super::safety::{audit, date_in, jst_time_in, see_other};
use super::shared::{entry, form, form_all};
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::i18n::Lang;
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use renkei_domain::backup::{limits, Absence, CoverageStatus, Phase};
use renkei_domain::institution::InstitutionKind;
use renkei_domain::power::read_day;
use renkei_store::backup::AbsenceRow;
use renkei_store::StoreError;

/// How far from the institution backups are offered, km.
const NEARBY_KM: f64 = 15.0;
/// How many are offered.
const NEARBY: usize = 20;
/// How many absences each list shows.
const LISTED: i64 = 100;

fn period(lang: Lang, a: &Absence) -> String {
    format!(
        "{} 〜 {}",
        date_in(lang, a.starts_on),
        date_in(lang, a.ends_on)
    )
}

/// A request for coverage as listed.
pub struct CoverageView {
    id: i64,
    backup: String,
    phone: String,
    status: &'static str,
    status_code: &'static str,
    reason: String,
    decided: String,
}

/// An absence as listed.
pub struct AbsenceView {
    id: i64,
    institution_id: i64,
    institution: String,
    phone: String,
    doctor: String,
    period: String,
    note: String,
    phase: &'static str,
    phase_code: &'static str,
    cancelled: bool,
    covered_by: String,
    coverages: Vec<CoverageView>,
    /// For the backup's list: its own request, if open, and whether it is itself away then.
    mine: Option<i64>,
    mine_status: &'static str,
    self_away: String,
}

fn phase_label(lang: Lang, p: Phase) -> (&'static str, &'static str) {
    match p {
        Phase::Current => (lang.pick("不在中", "Away now"), "current"),
        Phase::Upcoming => (lang.pick("予定", "Upcoming"), "upcoming"),
        Phase::Past => (lang.pick("終了", "Over"), "past"),
    }
}

fn absence_view(lang: Lang, a: &AbsenceRow, today: chrono::NaiveDate) -> AbsenceView {
    let (phase, phase_code) = phase_label(lang, a.absence.phase(today));
    AbsenceView {
        id: a.id,
        institution_id: a.institution_id,
        institution: a.institution_name.clone(),
        phone: a.institution_phone.clone().unwrap_or_default(),
        doctor: a.absence.doctor.clone(),
        period: period(lang, &a.absence),
        note: a.absence.note.clone(),
        phase,
        phase_code,
        cancelled: a.cancelled_at.is_some(),
        covered_by: a
            .coverages
            .iter()
            .filter(|c| c.status == CoverageStatus::Accepted)
            .map(|c| c.backup_name.clone())
            .collect::<Vec<_>>()
            .join("・"),
        coverages: a
            .coverages
            .iter()
            .map(|c| CoverageView {
                id: c.id,
                backup: c.backup_name.clone(),
                phone: c.backup_phone.clone().unwrap_or_default(),
                status: lang.pick(c.status.label_ja(), c.status.label_en()),
                status_code: c.status.code(),
                reason: c.reason.clone().unwrap_or_default(),
                decided: c
                    .decided_at
                    .as_deref()
                    .map(|t| jst_time_in(lang, t))
                    .unwrap_or_default(),
            })
            .collect(),
        mine: None,
        mine_status: "",
        self_away: String::new(),
    }
}

/// A nearby institution offered as a backup.
pub struct Candidate {
    id: i64,
    name: String,
    kind: &'static str,
    distance: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "backup.html")]
struct BackupPage {
    chrome: Chrome,
    id: i64,
    name: String,
    can_edit: bool,
    notice: Option<String>,
    error: Option<String>,
    /// A chosen backup is away: the form asks to confirm.
    confirm_away: bool,
    mine: Vec<AbsenceView>,
    covering: Vec<AbsenceView>,
    history: Vec<AbsenceView>,
    candidates: Vec<Candidate>,
    doctor: String,
    starts_on: String,
    ends_on: String,
    note: String,
}

async fn candidates(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    picked: &[i64],
) -> Result<Vec<Candidate>, PageError> {
    let lang = ctx.lang;
    let record = entry(app, ctx, id).await?;
    let Some(point) = record.fields.location.as_ref().map(|p| (p.lat, p.lng)) else {
        return Ok(Vec::new());
    };
    app.directory_index
        .ensure_loaded(&app.store)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    Ok(app
        .directory_index
        .nearest_of_kinds(
            point,
            &[InstitutionKind::Clinic, InstitutionKind::Hospital],
            NEARBY_KM,
            NEARBY + 1,
        )
        .into_iter()
        .filter(|h| h.id != id)
        .take(NEARBY)
        .map(|h| Candidate {
            checked: picked.contains(&h.id),
            id: h.id,
            kind: InstitutionKind::from_code(h.kind)
                .map(|k| lang.pick(k.label_ja(), k.label_en()))
                .unwrap_or(""),
            name: h.name,
            distance: format!("{:.1} km", h.distance_km),
        })
        .collect())
}

async fn backup_page(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    typed: Option<&[u8]>,
) -> Result<BackupPage, PageError> {
    let lang = ctx.lang;
    let (name, can_edit) = super::readiness::access(app, ctx, id).await?;
    let today = crate::clock::today(app);
    let own = app
        .store
        .absences_of(id, LISTED)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let asked = app
        .store
        .absences_covered_by(id, LISTED)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let mut mine = Vec::new();
    let mut history = Vec::new();
    for a in &own {
        let v = absence_view(lang, a, today);
        if v.cancelled || a.absence.phase(today) == Phase::Past {
            history.push(v);
        } else {
            mine.push(v);
        }
    }
    mine.sort_by_key(|v| v.phase_code != "current");
    let mut covering = Vec::new();
    for a in &asked {
        if a.cancelled_at.is_some() || a.absence.phase(today) == Phase::Past {
            continue;
        }
        let Some(me) = a.coverages.iter().find(|c| c.backup_id == id) else {
            continue;
        };
        if matches!(
            me.status,
            CoverageStatus::Withdrawn | CoverageStatus::Declined
        ) {
            continue;
        }
        let mut v = absence_view(lang, a, today);
        v.mine = Some(me.id).filter(|_| me.status == CoverageStatus::Requested);
        v.mine_status = lang.pick(me.status.label_ja(), me.status.label_en());
        // Is this institution itself away over those days?
        let away: Vec<String> = own
            .iter()
            .filter(|o| {
                o.cancelled_at.is_none()
                    && o.absence.overlaps(a.absence.starts_on, a.absence.ends_on)
            })
            .map(|o| format!("{}（{}）", o.absence.doctor, period(lang, &o.absence)))
            .collect();
        v.self_away = away.join("、");
        covering.push(v);
    }
    let picked: Vec<i64> = typed
        .map(|b| form_all(b, "backup"))
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.parse().ok())
        .collect();
    let t = |name: &str| typed.map(|b| form(b, name)).unwrap_or_default();
    Ok(BackupPage {
        chrome: Chrome::new(ctx, "nav.coordination", false),
        id,
        name,
        can_edit,
        notice: None,
        error: None,
        confirm_away: false,
        mine,
        covering,
        history,
        candidates: if can_edit {
            candidates(app, ctx, id, &picked).await?
        } else {
            Vec::new()
        },
        doctor: t("doctor"),
        starts_on: t("starts_on"),
        ends_on: t("ends_on"),
        note: t("note"),
    })
}

/// `GET /institutions/{id}/backup`: its absences and their coverage, the coverage it gives,
/// and a new absence.
pub async fn show(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let mut page = backup_page(&app, &ctx, id, None).await?;
    let done = query
        .as_deref()
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("done=")))
        .filter(|d| {
            [
                "recorded",
                "cancelled",
                "asked",
                "accepted",
                "declined",
                "withdrawn",
            ]
            .contains(d)
        });
    page.notice = done.map(|d| crate::i18n::catalog(ctx.lang).get(&format!("backup.done_{d}")));
    Ok(render(&ctx, &page)?.into_response())
}

async fn refused(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    status: StatusCode,
    message: String,
    typed: Option<&[u8]>,
) -> Result<Response, PageError> {
    let mut page = backup_page(app, ctx, id, typed).await?;
    page.error = Some(message);
    page.confirm_away = status == StatusCode::CONFLICT && typed.is_some();
    Ok((status, render(ctx, &page)?).into_response())
}

/// Who among `backups` is away over `from..=until`: 「○○クリニック（山田医師 12/28〜12/31）」.
async fn away_among(
    app: &AppState,
    lang: Lang,
    backups: &[i64],
    from: chrono::NaiveDate,
    until: chrono::NaiveDate,
) -> Result<Vec<String>, StoreError> {
    Ok(app
        .store
        .absences_during(backups, from, until)
        .await?
        .iter()
        .map(|a| {
            format!(
                "{}（{} {}）",
                a.institution_name,
                a.absence.doctor,
                period(lang, &a.absence)
            )
        })
        .collect())
}

/// `POST /institutions/{id}/backup`: records an absence and asks the chosen backups.
pub async fn record(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (_, can_edit) = super::readiness::access(&app, &ctx, id).await?;
    if !can_edit {
        return Err(PageError::forbidden(&ctx));
    }
    let today = crate::clock::today(&app);
    let read = || -> Result<Absence, String> {
        Ok(Absence {
            doctor: form(&body, "doctor").trim().to_owned(),
            starts_on: read_day(&form(&body, "starts_on"), "初日")?,
            ends_on: read_day(&form(&body, "ends_on"), "最終日")?,
            note: form(&body, "note").trim().to_owned(),
        })
    };
    let absence = match read().and_then(|a| a.check(today).map(|()| a)) {
        Ok(a) => a,
        Err(m) => {
            return refused(
                &app,
                &ctx,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                m,
                Some(&body),
            )
            .await
        }
    };
    let offered = candidates(&app, &ctx, id, &[]).await?;
    let backups: Vec<i64> = form_all(&body, "backup")
        .iter()
        .filter_map(|v| v.parse().ok())
        .filter(|b| offered.iter().any(|c| c.id == *b))
        .collect();
    if backups.len() > limits::BACKUPS {
        let m = format!(
            "バックアップの依頼先は{}か所までにしてください",
            limits::BACKUPS
        );
        return refused(
            &app,
            &ctx,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            m,
            Some(&body),
        )
        .await;
    }
    if form(&body, "despite_away") != "1" {
        let away = away_among(&app, ctx.lang, &backups, absence.starts_on, absence.ends_on)
            .await
            .map_err(|e| PageError::store(&ctx, e))?;
        if !away.is_empty() {
            let m = format!(
                "依頼先も同じ期間に不在の登録があります：{}。ほかの医療機関を選ぶか、承知のうえで依頼するときは下の確認にチェックしてください",
                away.join("、")
            );
            return refused(&app, &ctx, id, StatusCode::CONFLICT, m, Some(&body)).await;
        }
    }
    let by = ctx.viewer.signed_in().map(|u| u.id);
    let absence_id = match app
        .store
        .add_absence(id, &absence, &backups, by, app.clock.now())
        .await
    {
        Ok(a) => a,
        Err(StoreError::Conflict(m)) => {
            return refused(
                &app,
                &ctx,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                m,
                Some(&body),
            )
            .await
        }
        Err(e) => return Err(PageError::store(&ctx, e)),
    };
    audit(
        &app,
        &ctx,
        &extensions,
        "backup.absence_recorded",
        format!("absence:{absence_id}"),
    )
    .await;
    for b in &backups {
        mail_request(&app, absence_id, *b).await;
    }
    Ok(see_other(format!(
        "/institutions/{id}/backup?done=recorded"
    )))
}

/// The absence, if the viewer works at its institution.
async fn own_absence(app: &AppState, ctx: &Ctx, absence: i64) -> Result<AbsenceRow, PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::not_found(ctx))?;
    let a = app
        .store
        .absence(absence)
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .ok_or_else(|| PageError::not_found(ctx))?;
    if !super::shared::own_institutions(user).contains(&a.institution_id) {
        return Err(PageError::not_found(ctx));
    }
    Ok(a)
}

/// `POST /backup/absences/{id}/cancel`: the absence is off; open requests are withdrawn.
pub async fn cancel(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(absence): Path<i64>,
) -> Result<Response, PageError> {
    let a = own_absence(&app, &ctx, absence).await?;
    app.store
        .cancel_absence(absence, a.institution_id, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "backup.absence_cancelled",
        format!("absence:{absence}"),
    )
    .await;
    for c in a.coverages.iter().filter(|c| {
        matches!(
            c.status,
            CoverageStatus::Requested | CoverageStatus::Accepted
        )
    }) {
        mail_withdrawn(&app, &a, c.backup_id).await;
    }
    Ok(see_other(format!(
        "/institutions/{}/backup?done=cancelled",
        a.institution_id
    )))
}

/// `POST /backup/absences/{id}/ask`: asks one more institution to cover.
pub async fn ask(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(absence): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let a = own_absence(&app, &ctx, absence).await?;
    let id = a.institution_id;
    let offered = candidates(&app, &ctx, id, &[]).await?;
    let Some(backup) = form(&body, "backup")
        .parse::<i64>()
        .ok()
        .filter(|b| offered.iter().any(|c| c.id == *b))
    else {
        let m = "依頼する医療機関を選んでください".to_owned();
        return refused(&app, &ctx, id, StatusCode::UNPROCESSABLE_ENTITY, m, None).await;
    };
    if form(&body, "despite_away") != "1" {
        let away = away_among(
            &app,
            ctx.lang,
            &[backup],
            a.absence.starts_on,
            a.absence.ends_on,
        )
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
        if !away.is_empty() {
            let m = format!(
                "依頼先も同じ期間に不在の登録があります：{}。承知のうえで依頼するときは確認にチェックしてください",
                away.join("、")
            );
            return refused(&app, &ctx, id, StatusCode::CONFLICT, m, None).await;
        }
    }
    let by = ctx.viewer.signed_in().map(|u| u.id);
    match app
        .store
        .ask_coverage(absence, id, backup, by, app.clock.now())
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(m)) => {
            return refused(&app, &ctx, id, StatusCode::CONFLICT, m, None).await
        }
        Err(e) => return Err(PageError::store(&ctx, e)),
    }
    audit(
        &app,
        &ctx,
        &extensions,
        "backup.asked",
        format!("absence:{absence} backup:{backup}"),
    )
    .await;
    mail_request(&app, absence, backup).await;
    Ok(see_other(format!("/institutions/{id}/backup?done=asked")))
}

/// `POST /backup/coverages/{id}/decide`: the backup accepts or declines (`accept=1|0`).
pub async fn decide(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(coverage): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::not_found(&ctx))?;
    let (c, a) = app
        .store
        .coverage(coverage)
        .await
        .map_err(|e| PageError::store(&ctx, e))?
        .ok_or_else(|| PageError::not_found(&ctx))?;
    if !super::shared::own_institutions(user).contains(&c.backup_id) {
        return Err(PageError::not_found(&ctx));
    }
    let accept = form(&body, "accept") == "1";
    let reason: String = form(&body, "reason").trim().chars().take(200).collect();
    if !accept && reason.is_empty() {
        let m = "お断りの理由を書いてください（例：同じ期間に院長も不在のため）".to_owned();
        return refused(
            &app,
            &ctx,
            c.backup_id,
            StatusCode::UNPROCESSABLE_ENTITY,
            m,
            None,
        )
        .await;
    }
    match app
        .store
        .decide_coverage(
            coverage,
            c.backup_id,
            accept,
            &reason,
            Some(user.id),
            app.clock.now(),
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(m)) => {
            return refused(&app, &ctx, c.backup_id, StatusCode::CONFLICT, m, None).await
        }
        Err(e) => return Err(PageError::store(&ctx, e)),
    }
    let done = if accept { "accepted" } else { "declined" };
    audit(
        &app,
        &ctx,
        &extensions,
        &format!("backup.{done}"),
        format!("coverage:{coverage}"),
    )
    .await;
    mail_decided(&app, &a, &c.backup_name, accept, &reason).await;
    Ok(see_other(format!(
        "/institutions/{}/backup?done={done}",
        c.backup_id
    )))
}

/// `POST /backup/coverages/{id}/withdraw`: the requester withdraws a request.
pub async fn withdraw(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(coverage): Path<i64>,
) -> Result<Response, PageError> {
    let (c, _) = app
        .store
        .coverage(coverage)
        .await
        .map_err(|e| PageError::store(&ctx, e))?
        .ok_or_else(|| PageError::not_found(&ctx))?;
    let a = own_absence(&app, &ctx, c.absence_id).await?;
    if !app
        .store
        .withdraw_coverage(coverage, a.institution_id, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    {
        let m = "この依頼はすでに終わっています".to_owned();
        return refused(&app, &ctx, a.institution_id, StatusCode::CONFLICT, m, None).await;
    }
    audit(
        &app,
        &ctx,
        &extensions,
        "backup.withdrawn",
        format!("coverage:{coverage}"),
    )
    .await;
    mail_withdrawn(&app, &a, c.backup_id).await;
    Ok(see_other(format!(
        "/institutions/{}/backup?done=withdrawn",
        a.institution_id
    )))
}

// ---------------------------------------------------------------------------------------------
// The hub's view.

#[derive(Template)]
#[template(path = "hub_backup.html")]
struct HubPage {
    chrome: Chrome,
    absences: Vec<AbsenceView>,
    uncovered: usize,
}

/// `GET /hub/backup`: the absences of the hub's areas that are not over, and who covers them;
/// those without an accepted backup first.
pub async fn hub(State(app): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let areas = super::safety::visible_areas(&app, &ctx).await?;
    let codes: Vec<String> = areas.into_iter().map(|(c, _)| c).collect();
    let today = crate::clock::today(&app);
    let rows = app
        .store
        .absences_in(&codes, today)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let mut absences: Vec<AbsenceView> =
        rows.iter().map(|a| absence_view(lang, a, today)).collect();
    absences.sort_by_key(|a| (!a.covered_by.is_empty(), a.phase_code != "current"));
    let page = HubPage {
        chrome: Chrome::new(&ctx, "nav.coordination", false),
        uncovered: absences.iter().filter(|a| a.covered_by.is_empty()).count(),
        absences,
    };
    Ok(render(&ctx, &page)?.into_response())
}

// ---------------------------------------------------------------------------------------------
// Mail.

async fn mail_to(app: &AppState, institution: i64, subject: &str, body: &str) {
    let Ok(Some((_, Some(to)))) = app.store.confirmation_of(institution).await else {
        return;
    };
    if let Err(e) = app.mailer.send(&app.store, &to, subject, body).await {
        tracing::error!(error = %e, "backup mail could not be queued");
    }
}

async fn mail_request(app: &AppState, absence: i64, backup: i64) {
    let Ok(Some(a)) = app.store.absence(absence).await else {
        return;
    };
    let base = app.config.public_url.trim_end_matches('/');
    mail_to(
        app,
        backup,
        &format!("【バックアップの依頼】{}から", a.institution_name),
        &format!(
            "{}から、医師の不在中のバックアップ（在宅患者の急変時の対応）の依頼がありました。\n\n医師：{}\n期間：{}\n{}\n引き受けるかどうかを、次のページで回答してください（ログインが必要です）。\n{base}/institutions/{backup}/backup\n",
            a.institution_name,
            a.absence.doctor,
            period(Lang::Ja, &a.absence),
            if a.absence.note.is_empty() {
                String::new()
            } else {
                format!("引き継ぎ：{}\n", a.absence.note)
            }
        ),
    )
    .await;
}

async fn mail_decided(app: &AppState, a: &AbsenceRow, backup: &str, accept: bool, reason: &str) {
    let base = app.config.public_url.trim_end_matches('/');
    let what = if accept {
        "引き受けました"
    } else {
        "お断りしました"
    };
    mail_to(
        app,
        a.institution_id,
        &format!("【バックアップ】{backup}が{what}"),
        &format!(
            "{} 御中\n\n{}医師の不在（{}）のバックアップを、{backup}が{what}。{}\n{base}/institutions/{}/backup\n",
            a.institution_name,
            a.absence.doctor,
            period(Lang::Ja, &a.absence),
            if reason.is_empty() {
                String::new()
            } else {
                format!("\n理由：{reason}\n")
            },
            a.institution_id
        ),
    )
    .await;
}

async fn mail_withdrawn(app: &AppState, a: &AbsenceRow, backup: i64) {
    mail_to(
        app,
        backup,
        &format!(
            "【バックアップ】{}からの依頼は取り下げられました",
            a.institution_name
        ),
        &format!(
            "{}からの、{}医師の不在（{}）のバックアップの依頼は取り下げられました。\n",
            a.institution_name,
            a.absence.doctor,
            period(Lang::Ja, &a.absence)
        ),
    )
    .await;
}
