//! Care-team information sharing (`/patients…`, `/hub/patients`): an institution registers a
//! patient, records the patient's consent, invites professionals of directory institutions into
//! the care team, and the team writes one timeline (posts, vitals with small charts, urgent
//! flags, read receipts, search). Every read of a patient goes through
//! `renkei_domain::careteam::decide` and into the audit chain (allowed or refused); anyone
//! refused gets the same 404 as for a patient that does not exist. A hub coordinator reaches a
//! patient only by breaking the glass with a reason, for an hour, flagged for review. Two-factor
//! login is required on every page here, whatever the policy says for the role.

use crate::auth::access::client_of;
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::i18n::Lang;
use crate::pages::home::render;
use crate::pages::safety::{date_in, jst_time_in, see_other};
use crate::pages::shared::{coordinated_area_codes, form, form_all, own_institutions, Submitted};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use renkei_domain::audit::Outcome;
use renkei_domain::careteam::{
    check_attachment, decide, Asker, CareNeed, Consent, Consenter, EmergencyContact, Grant,
    Patient, PatientSex, Profession, VisitRecord, Vitals, MAX_ATTACHMENTS,
};
use renkei_domain::institution::InstitutionKind;
use renkei_store::accounts::User;
use renkei_store::audit::AuditEvent;
use renkei_store::care_files::NewAttachment;
use renkei_store::careteam::{NewPost, PatientRow};

/// Posts shown per page of the timeline.
const PAGE: i64 = 50;
/// The most vitals readings a chart (and the printable summary) shows: three a day for 30 days.
const CHART_READINGS: i64 = 90;
/// How long a break-glass access lasts, minutes.
const GLASS_MINUTES: i64 = 60;
/// How far from the registering institution others are offered for the team, km.
const NEARBY_KM: f64 = 15.0;

/// Appends one event to the audit chain (a failure is logged, never shown).
async fn audit(
    app: &AppState,
    ctx: &Ctx,
    ext: &Extensions,
    action: &str,
    outcome: Outcome,
    target: String,
) {
    let event = AuditEvent::new(
        ctx.viewer.user().map(|u| u.id),
        action,
        outcome,
        target,
        client_of(ext),
    );
    if let Err(e) = app.store.append_audit(&event).await {
        tracing::error!(error = %e, "could not audit a patient access");
    }
}

/// The signed-in user, who must have a second factor here.
fn user_with_second_factor(ctx: &Ctx) -> Result<&User, PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::not_found(ctx))?;
    if !user.totp_enabled {
        return Err(PageError::forbidden(ctx));
    }
    Ok(user)
}

/// What `decide` needs about the viewer; with `patient`, their open break-glass reason for it.
async fn asker_of(
    app: &AppState,
    ctx: &Ctx,
    user: &User,
    patient: Option<i64>,
) -> Result<Asker, PageError> {
    let break_glass = match patient {
        Some(id) => app
            .store
            .break_glass_reason(id, user.id, app.clock.now())
            .await
            .map_err(|e| PageError::store(ctx, e))?,
        None => None,
    };
    Ok(Asker {
        user_id: user.id.0,
        institutions: own_institutions(user),
        coordinates: coordinated_area_codes(user),
        break_glass,
    })
}

/// The patient, if `decide` lets the viewer in, and how; every decision is audited. Refused:
/// the same 404 as for no patient.
async fn admitted(
    app: &AppState,
    ctx: &Ctx,
    ext: &Extensions,
    id: i64,
    action: &str,
) -> Result<(PatientRow, Grant), PageError> {
    let user = user_with_second_factor(ctx)?;
    let target = format!("patient:{id}");
    let Some(record) = app
        .store
        .access_record(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?
    else {
        audit(
            app,
            ctx,
            ext,
            action,
            Outcome::Denied,
            format!("{target} absent"),
        )
        .await;
        return Err(PageError::not_found(ctx));
    };
    let asker = asker_of(app, ctx, user, Some(id)).await?;
    match decide(&asker, &record) {
        Ok(grant) => {
            let how = match grant {
                Grant::Registering => "registering",
                Grant::Member => "member",
                Grant::BreakGlass => "break_glass",
            };
            audit(
                app,
                ctx,
                ext,
                action,
                Outcome::Ok,
                format!("{target} {how}"),
            )
            .await;
            let patient = app
                .store
                .patient(id)
                .await
                .map_err(|e| PageError::store(ctx, e))?
                .ok_or_else(|| PageError::not_found(ctx))?;
            Ok((patient, grant))
        }
        Err(refusal) => {
            audit(
                app,
                ctx,
                ext,
                action,
                Outcome::Denied,
                format!("{target} {refusal:?}"),
            )
            .await;
            Err(PageError::not_found(ctx))
        }
    }
}

/// A patient's care needs as one line: 「在宅酸素・吸引」.
fn needs_text(lang: Lang, needs: &[CareNeed]) -> String {
    needs
        .iter()
        .map(|n| lang.pick(n.label_ja(), n.label_en()))
        .collect::<Vec<_>>()
        .join("・")
}

/// The files of a form, each checked by content and size (at most [`MAX_ATTACHMENTS`]); a
/// refusal is audited and comes back as what to tell the user.
async fn checked_files<'a>(
    app: &AppState,
    ctx: &Ctx,
    ext: &Extensions,
    patient: i64,
    files: &[&'a crate::pages::shared::SentFile],
) -> Result<Vec<NewAttachment<'a>>, String> {
    if files.len() > MAX_ATTACHMENTS {
        return Err(format!(
            "添付できるファイルは1回に{MAX_ATTACHMENTS}つまでです"
        ));
    }
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        match check_attachment(&f.name, &f.bytes) {
            Ok(kind) => out.push(NewAttachment {
                file_name: &f.name,
                media_type: kind.media_type(),
                bytes: &f.bytes,
            }),
            Err(m) => {
                audit(
                    app,
                    ctx,
                    ext,
                    "careteam.upload_refused",
                    Outcome::Denied,
                    format!("patient:{patient}"),
                )
                .await;
                return Err(m);
            }
        }
    }
    Ok(out)
}

fn age(lang: Lang, born: chrono::NaiveDate, today: chrono::NaiveDate) -> String {
    let years = today.years_since(born).unwrap_or(0);
    match lang {
        Lang::Ja => format!("{years}歳"),
        Lang::En => format!("{years} y"),
    }
}

mod evidence;
mod export;
mod files;
mod glass;
mod register;
mod team;
mod timeline;

pub use evidence::{evidence, evidence_csv, evidence_xlsx, special_relation};
pub use files::file;

pub use export::{audit_export, fhir_export, summary};
pub use glass::{break_glass, glass, glass_search, review_glass};
pub use register::{list, new_form, register};
pub use team::{consent, invite, remove, withdraw};
use timeline::{owner, refused, vitals_text};
pub use timeline::{post, show};

/// How many posts addressed to `user` they have not seen, of patients they may open now (the
/// navigation's badge; a count never reaches past `decide`).
pub async fn unseen_mentions(
    app: &AppState,
    user: &User,
) -> Result<usize, renkei_store::StoreError> {
    let unseen = app.store.unseen_mentions(user.id).await?;
    if unseen.is_empty() {
        return Ok(0);
    }
    let asker = Asker {
        user_id: user.id.0,
        institutions: own_institutions(user),
        coordinates: Vec::new(),
        break_glass: None,
    };
    let mut total = 0;
    for (patient, n) in unseen {
        if let Some(record) = app.store.access_record(patient).await? {
            if decide(&asker, &record).is_ok() {
                total += usize::try_from(n).unwrap_or(0);
            }
        }
    }
    Ok(total)
}

/// Mails the members a post was addressed to: who wrote, and the link; nothing of the patient
/// (mail leaves Renkei's protection), so the link needs the reader's login.
async fn notify_mentions(app: &AppState, ctx: &Ctx, patient: i64, post: i64, users: &[i64]) {
    let Some(author) = ctx.viewer.signed_in() else {
        return;
    };
    let base = app.config.public_url.trim_end_matches('/');
    for user in users {
        if *user == author.id.0 {
            continue;
        }
        let Ok(Some(to)) = app.store.user(renkei_domain::accounts::UserId(*user)).await else {
            continue;
        };
        let body = format!(
            "{}さんから、ケアチームの投稿であなた宛ての連絡があります。\n\n次のページで確かめてください（ログインが必要です）。\n{base}/patients/{patient}#post-{post}\n\n患者さんの情報は、メールには書きません。\n",
            author.display_name
        );
        if let Err(e) = app
            .mailer
            .send(
                &app.store,
                &to.email,
                "【Renkei】あなた宛ての連絡があります",
                &body,
            )
            .await
        {
            tracing::error!(error = %e, "mention mail could not be queued");
        }
    }
}
