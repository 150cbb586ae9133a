//! The BCP registry (`/institutions/{id}/bcp`): where an institution's business-continuity plan
//! stands (the status is part of its directory entry), the day of its last BCP drill, the plan
//! itself as a PDF (every version kept), and who may open it — partner institutions it chose
//! and, if it says so, its area's hub and the prefecture. Opening a plan is audited.

use super::safety::{audit, see_other};
use crate::auth::access::client_of;
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{FromRequest, Multipart, Path, Query, RawForm, State};
use axum::http::{header, Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use renkei_domain::accounts::AccountRole;
use renkei_domain::audit::Outcome;
use renkei_domain::fiscal_year::format_wareki_date;
use renkei_domain::readiness::{bcp_file_name, check_bcp_document};
use renkei_store::audit::AuditEvent;
use renkei_store::bcp::BcpDocument;
use renkei_store::records::{RecordQuery, TextField, TextFilter, TextMatch};
use serde::Deserialize;

/// A document as listed.
pub struct DocumentView {
    id: i64,
    file_name: String,
    size: String,
    uploaded: String,
}

fn document_view(d: &BcpDocument) -> DocumentView {
    let kb = (d.size + 1023) / 1024;
    DocumentView {
        id: d.id,
        file_name: d.file_name.clone(),
        size: if kb >= 1024 {
            format!("{:.1} MB", kb as f64 / 1024.0)
        } else {
            format!("{kb} KB")
        },
        uploaded: super::safety::jst_time(&d.uploaded_at),
    }
}

/// A plan shared with the viewer's institution.
pub struct SharedView {
    institution_id: i64,
    name: String,
    last_drill: String,
    document: Option<DocumentView>,
}

#[derive(Template)]
#[template(path = "bcp.html")]
struct BcpPage {
    chrome: Chrome,
    id: i64,
    name: String,
    can_edit: bool,
    status: &'static str,
    last_drill: String,
    last_drill_input: String,
    shared_with_hub: bool,
    /// Whether the viewer may open the current document.
    can_open: bool,
    documents: Vec<DocumentView>,
    partners: Vec<(i64, String)>,
    find: String,
    found: Vec<(i64, String, String)>,
    shared_with_me: Vec<SharedView>,
    notice: Option<String>,
    error: Option<String>,
}

/// The query of the BCP page.
#[derive(Debug, Deserialize, Default)]
pub struct BcpQuery {
    /// What was just done.
    pub done: Option<String>,
    /// A name to find partner institutions by.
    pub find: Option<String>,
}

fn notice_of(ctx: &Ctx, done: Option<&str>) -> Option<String> {
    let ja = matches!(ctx.lang, crate::i18n::Lang::Ja);
    let text = match done? {
        "saved" if ja => "保存しました。",
        "saved" => "Saved.",
        "uploaded" if ja => "計画書を登録しました。共有先が開けるようになりました。",
        "uploaded" => "The plan was uploaded; those you share with can open it.",
        "partner_added" if ja => "共有先に追加しました。",
        "partner_added" => "The partner was added.",
        "partner_removed" if ja => "共有をやめました。相手はもう開けません。",
        "partner_removed" => "Sharing stopped; they can no longer open it.",
        _ => return None,
    };
    Some(text.to_owned())
}

/// Whether the viewer may open the plans of `institution_id` (in `area`): its own staff, its
/// partners' staff, and — when shared with the hub — the area's coordinators and the
/// prefecture.
async fn may_open(
    app: &AppState,
    ctx: &Ctx,
    institution_id: i64,
    area: &str,
    shared_with_hub: bool,
) -> Result<bool, PageError> {
    let Some(user) = ctx.viewer.signed_in() else {
        return Ok(false);
    };
    if super::changes::may_edit(user, institution_id) {
        return Ok(true);
    }
    if shared_with_hub
        && (user.has_role(AccountRole::PrefectureViewer)
            || user.memberships.iter().any(|m| {
                m.role == AccountRole::HubCoordinator
                    && m.organisation.area_code.as_deref() == Some(area)
            }))
    {
        return Ok(true);
    }
    for m in &user.memberships {
        if let (Some(own), AccountRole::InstitutionAdmin | AccountRole::InstitutionStaff) =
            (m.organisation.institution_id, m.role)
        {
            if app
                .store
                .is_bcp_partner(institution_id, own)
                .await
                .map_err(|e| PageError::store(ctx, e))?
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The institution's directory entry.
async fn entry_of(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
) -> Result<renkei_store::records::EntryRecord, PageError> {
    app.store
        .entry_records(&RecordQuery {
            ids: Some(vec![id]),
            limit: 1,
            ..RecordQuery::default()
        })
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .into_iter()
        .next()
        .ok_or_else(|| PageError::not_found(ctx))
}

async fn bcp_page(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    find: Option<&str>,
) -> Result<BcpPage, PageError> {
    let (name, can_edit) = super::readiness::access(app, ctx, id).await?;
    let entry = entry_of(app, ctx, id).await?;
    let record = app
        .store
        .bcp_record(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let can_open = may_open(app, ctx, id, &entry.area_code, record.shared_with_hub).await?;
    let documents = if can_open {
        app.store
            .bcp_documents(id, 20)
            .await
            .map_err(|e| PageError::store(ctx, e))?
            .iter()
            .map(document_view)
            .collect()
    } else {
        record.document.iter().map(document_view).collect()
    };
    let status = entry.fields.details.bcp;
    let find = find.map(str::trim).filter(|f| !f.is_empty());
    let found = match (can_edit, find) {
        (true, Some(text)) => app
            .store
            .entry_records(&RecordQuery {
                text: vec![TextFilter {
                    field: TextField::Name,
                    mode: TextMatch::Contains,
                    values: vec![text.to_owned()],
                }],
                limit: 20,
                ..RecordQuery::default()
            })
            .await
            .map_err(|e| PageError::store(ctx, e))?
            .into_iter()
            .filter(|r| r.id != id && !record.partners.iter().any(|(p, _)| *p == r.id))
            .map(|r| (r.id, r.fields.name, r.fields.address))
            .collect(),
        _ => Vec::new(),
    };
    let shared_with_me = if can_edit {
        app.store
            .bcps_shared_with(id)
            .await
            .map_err(|e| PageError::store(ctx, e))?
            .iter()
            .map(|s| SharedView {
                institution_id: s.institution_id,
                name: s.name.clone(),
                last_drill: s.last_drill_on.map(format_wareki_date).unwrap_or_default(),
                document: s.document.as_ref().map(document_view),
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(BcpPage {
        chrome: Chrome::new(ctx, "nav.disaster", false),
        id,
        name,
        can_edit,
        status: match ctx.lang {
            crate::i18n::Lang::Ja => status.label_ja(),
            crate::i18n::Lang::En => status.label_en(),
        },
        last_drill: record
            .last_drill_on
            .map(format_wareki_date)
            .unwrap_or_default(),
        last_drill_input: record
            .last_drill_on
            .map(|d| d.to_string())
            .unwrap_or_default(),
        shared_with_hub: record.shared_with_hub,
        can_open,
        documents,
        partners: record.partners,
        find: find.unwrap_or_default().to_owned(),
        found,
        shared_with_me,
        notice: None,
        error: None,
    })
}

/// `GET /institutions/{id}/bcp`.
pub async fn show(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<BcpQuery>,
) -> Result<Response, PageError> {
    let mut page = bcp_page(&app, &ctx, id, q.find.as_deref()).await?;
    page.notice = notice_of(&ctx, q.done.as_deref());
    Ok(render(&ctx, &page)?.into_response())
}

async fn refused(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    status: StatusCode,
    message: String,
) -> Result<Response, PageError> {
    let mut page = bcp_page(app, ctx, id, None).await?;
    page.error = Some(message);
    Ok((status, render(ctx, &page)?).into_response())
}

async fn editor(app: &AppState, ctx: &Ctx, id: i64) -> Result<(), PageError> {
    let (_, can_edit) = super::readiness::access(app, ctx, id).await?;
    if can_edit {
        Ok(())
    } else {
        Err(PageError::forbidden(ctx))
    }
}

/// `POST /institutions/{id}/bcp`: the last drill and sharing with the hub.
pub async fn save(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    editor(&app, &ctx, id).await?;
    let field = |n: &str| crate::auth::session::form_field(&body, n).unwrap_or_default();
    let drill = field("last_drill_on");
    let last_drill_on = if drill.trim().is_empty() {
        None
    } else {
        match renkei_domain::power::read_day(&drill, "最後に BCP の訓練をした日") {
            Ok(d) if d <= crate::clock::today(&app) => Some(d),
            Ok(_) => {
                let m = "訓練の日が未来になっています。実施した日を入力してください".to_owned();
                return refused(&app, &ctx, id, StatusCode::UNPROCESSABLE_ENTITY, m).await;
            }
            Err(m) => return refused(&app, &ctx, id, StatusCode::UNPROCESSABLE_ENTITY, m).await,
        }
    };
    let by = ctx.viewer.signed_in().map(|u| u.id);
    app.store
        .save_bcp_record(id, last_drill_on, field("shared_with_hub") == "1", by)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "bcp.saved",
        format!("institution:{id}"),
    )
    .await;
    Ok(see_other(format!("/institutions/{id}/bcp?done=saved")))
}

/// `POST /institutions/{id}/bcp/document` (multipart: `file`): a new version of the plan,
/// checked to be a PDF by its content.
pub async fn upload(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    request: axum::extract::Request,
) -> Result<Response, PageError> {
    // Who may upload is settled before the body is read as a form.
    editor(&app, &ctx, id).await?;
    let Ok(mut multipart) = Multipart::from_request(request, &app).await else {
        let m = "ファイルを選んで「登録する」を押してください".to_owned();
        return refused(&app, &ctx, id, StatusCode::BAD_REQUEST, m).await;
    };
    let mut file: Option<(String, Vec<u8>)> = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => {
                let name = field.file_name().unwrap_or("").to_owned();
                match field.bytes().await {
                    Ok(b) => file = Some((name, b.to_vec())),
                    Err(_) => {
                        let m = "ファイルを最後まで受け取れませんでした。大きすぎないか（20 MB まで）確かめて、もう一度選んでください".to_owned();
                        return refused(&app, &ctx, id, StatusCode::BAD_REQUEST, m).await;
                    }
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => {
                let m = "送られたフォームを読めませんでした。もう一度ファイルを選んでください"
                    .to_owned();
                return refused(&app, &ctx, id, StatusCode::BAD_REQUEST, m).await;
            }
        }
    }
    let (name, bytes) = file.unwrap_or_default();
    if let Err(m) = check_bcp_document(&bytes) {
        let event = AuditEvent::new(
            ctx.viewer.signed_in().map(|u| u.id),
            "bcp.upload_refused",
            Outcome::Denied,
            format!("institution:{id}"),
            client_of(&extensions),
        );
        let _ = app.store.append_audit(&event).await;
        return refused(&app, &ctx, id, StatusCode::UNPROCESSABLE_ENTITY, m).await;
    }
    let by = ctx.viewer.signed_in().map(|u| u.id);
    let doc = app
        .store
        .add_bcp_document(id, &bcp_file_name(&name), &bytes, by)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "bcp.uploaded",
        format!("bcp_document:{doc}"),
    )
    .await;
    Ok(see_other(format!("/institutions/{id}/bcp?done=uploaded")))
}

/// `POST /institutions/{id}/bcp/partners` (`partner`, `action` = add | remove).
pub async fn partners(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    editor(&app, &ctx, id).await?;
    let field = |n: &str| crate::auth::session::form_field(&body, n).unwrap_or_default();
    let Ok(partner) = field("partner").parse::<i64>() else {
        let m = "連携先を選んでください".to_owned();
        return refused(&app, &ctx, id, StatusCode::UNPROCESSABLE_ENTITY, m).await;
    };
    let done = if field("action") == "remove" {
        app.store
            .remove_bcp_partner(id, partner)
            .await
            .map_err(|e| PageError::store(&ctx, e))?;
        "partner_removed"
    } else {
        match app.store.add_bcp_partner(id, partner).await {
            Ok(()) => "partner_added",
            Err(renkei_store::StoreError::Conflict(m)) => {
                return refused(&app, &ctx, id, StatusCode::CONFLICT, m).await
            }
            Err(e) => return Err(PageError::store(&ctx, e)),
        }
    };
    audit(
        &app,
        &ctx,
        &extensions,
        &format!("bcp.{done}"),
        format!("institution:{id} partner:{partner}"),
    )
    .await;
    Ok(see_other(format!("/institutions/{id}/bcp?done={done}")))
}

/// `GET /bcp/documents/{doc}`: the PDF, for those it is shared with; every opening audited,
/// refusals too.
pub async fn document(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(doc): Path<i64>,
) -> Result<Response, PageError> {
    let Some((meta, content)) = app
        .store
        .bcp_document(doc)
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    else {
        return Err(PageError::not_found(&ctx));
    };
    let area = entry_of(&app, &ctx, meta.institution_id).await?.area_code;
    let record = app
        .store
        .bcp_record(meta.institution_id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let allowed = may_open(
        &app,
        &ctx,
        meta.institution_id,
        &area,
        record.shared_with_hub,
    )
    .await?;
    let event = AuditEvent::new(
        ctx.viewer.signed_in().map(|u| u.id),
        "bcp.document_read",
        if allowed {
            Outcome::Ok
        } else {
            Outcome::Denied
        },
        format!("bcp_document:{doc}"),
        client_of(&extensions),
    );
    let _ = app.store.append_audit(&event).await;
    if !allowed {
        // The same answer as for a document that does not exist: nothing learnt by guessing.
        return Err(PageError::not_found(&ctx));
    }
    let ascii: String = meta
        .file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = meta
        .file_name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        content,
    )
        .into_response())
}
