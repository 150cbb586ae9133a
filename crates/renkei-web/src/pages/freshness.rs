//! Keeping the directory fresh: the coordinator's list of entries not confirmed for a year (a
//! setting), reminders by mail with a one-click "still correct" link, and the confirmation page
//! itself. The link's GET only shows the entry; the confirmation is a POST, so a mail scanner or
//! crawler that opens links confirms nothing.

use crate::auth::access::client_of;
use crate::auth::secrets::random_hex;
use crate::chrome::Chrome;
use crate::clock::{db_text, jst_text};
use crate::error::{Ctx, PageError};
use crate::pages::home::{kind_label, render};
use crate::pages::message::message;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use renkei_domain::accounts::AccountRole;
use renkei_domain::audit::{token_hash, Outcome};
use renkei_domain::capability::Capability;
use renkei_domain::institution::InstitutionKind;
use renkei_store::accounts::{OneTimeToken, TokenPurpose};
use renkei_store::audit::AuditEvent;
use renkei_store::StoreError;

/// Setting: months after which an entry counts as stale.
pub const STALE_MONTHS_SETTING: &str = "directory.stale_months";
/// Default of that setting.
pub const DEFAULT_STALE_MONTHS: i64 = 12;
/// How long a confirmation link stays valid.
pub fn link_lifetime() -> chrono::Duration {
    chrono::Duration::days(30)
}

/// A stale entry as listed.
#[derive(Debug)]
pub struct StaleRow {
    id: i64,
    name: String,
    kind: &'static str,
    confirmed: String,
    contact: String,
}

#[derive(Template)]
#[template(path = "stale.html")]
struct StalePage {
    chrome: Chrome,
    months: i64,
    areas: Vec<(String, Vec<StaleRow>)>,
    /// The entry a reminder was just sent to.
    sent: Option<String>,
}

async fn stale_months(app: &AppState) -> Result<i64, StoreError> {
    Ok(app
        .store
        .setting(STALE_MONTHS_SETTING)
        .await?
        .and_then(|v| v.parse().ok())
        .filter(|m: &i64| *m > 0)
        .unwrap_or(DEFAULT_STALE_MONTHS))
}

/// The area codes a coordinator (or the administrator: every area) looks after.
pub(crate) async fn areas_of(
    app: &AppState,
    ctx: &Ctx,
) -> Result<Vec<(String, String)>, PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::not_found(ctx))?;
    let overview = app
        .overview
        .get(&app.store)
        .await
        .map(|o| (*o).clone())
        .map_err(|e| PageError::store(ctx, e))?;
    let all = overview.map(|o| o.areas).unwrap_or_default();
    let admin = user.has_role(AccountRole::SystemAdmin);
    Ok(all
        .into_iter()
        .filter(|a| {
            admin
                || user.memberships.iter().any(|m| {
                    m.role == AccountRole::HubCoordinator
                        && m.organisation.area_code.as_deref() == Some(&a.code)
                })
        })
        .map(|a| (a.code, a.name))
        .collect())
}

/// `GET /hub/stale`.
pub async fn list(
    State(app): State<AppState>,
    ctx: Ctx,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, PageError> {
    // After a reminder: `?sent=ID` names the entry the request went to.
    let sent_id: Option<i64> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(raw.as_deref().unwrap_or(""))
            .ok()
            .and_then(|pairs| {
                pairs
                    .into_iter()
                    .find(|(k, _)| k == "sent")
                    .and_then(|(_, v)| v.parse().ok())
            });
    let sent = match sent_id {
        Some(id) => app
            .store
            .institution_brief(id)
            .await
            .map_err(|e| PageError::store(&ctx, e))?
            .map(|b| b.name),
        None => None,
    };
    let months = stale_months(&app)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let before = db_text(app.clock.now() - chrono::Duration::days(months * 30));
    let mut areas = Vec::new();
    for (code, name) in areas_of(&app, &ctx).await? {
        let rows = app
            .store
            .stale_entries(&code, &before)
            .await
            .map_err(|e| PageError::store(&ctx, e))?
            .into_iter()
            .map(|e| StaleRow {
                id: e.id.0,
                kind: InstitutionKind::from_code(&e.kind)
                    .map(|k| kind_label(k, ctx.lang))
                    .unwrap_or(""),
                confirmed: e
                    .confirmed_at
                    .as_deref()
                    .map(jst_text)
                    .unwrap_or_else(|| "—".to_owned()),
                contact: e.contact_email.unwrap_or_default(),
                name: e.name,
            })
            .collect();
        areas.push((name, rows));
    }
    let page = StalePage {
        chrome: Chrome::new(&ctx, "nav.hub", false),
        months,
        areas,
        sent,
    };
    Ok(render(&ctx, &page)?.into_response())
}

/// `POST /hub/stale/{id}/remind`: mails a one-click confirmation link to the entry's contact.
pub async fn remind(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let err = |e| PageError::store(&ctx, e);
    let user = ctx
        .viewer
        .signed_in()
        .cloned()
        .ok_or_else(|| PageError::not_found(&ctx))?;
    let Some(institution) = app.store.institution_brief(id).await.map_err(err)? else {
        return Err(PageError::not_found(&ctx));
    };
    let mine = areas_of(&app, &ctx)
        .await?
        .iter()
        .any(|(code, _)| *code == institution.area_code);
    if !mine {
        return message(
            &ctx,
            StatusCode::FORBIDDEN,
            "error.forbidden_title",
            &["invite.not_yours"],
            &[],
            "/hub/stale",
            "error.go_home",
        );
    }
    let Some((_, Some(contact))) = app.store.confirmation_of(id).await.map_err(err)? else {
        return message(
            &ctx,
            StatusCode::BAD_REQUEST,
            "stale.no_contact_title",
            &["stale.no_contact"],
            &[],
            "/hub/stale",
            "stale.back",
        );
    };
    let token = random_hex(32);
    let expires = app.clock.now() + link_lifetime();
    let record = OneTimeToken {
        token_hash: token_hash(&token),
        user_id: None,
        email: Some(contact.clone()),
        organisation_id: None,
        role: None,
        created_by: Some(user.id),
        institution_id: Some(id),
        expires_at: db_text(expires),
    };
    app.store
        .create_token(TokenPurpose::Confirmation, &record)
        .await
        .map_err(err)?;
    let link = format!(
        "{}/confirm/{token}",
        app.config.public_url.trim_end_matches('/')
    );
    let body = format!(
        "{name} ご担当者様\n\n地域の医療・介護資源マップ（Renkei）に掲載している貴機関の情報が、最後の確認から時間がたっています。\n\
         次のリンクで掲載内容をご確認ください。正しければボタンを1回押すだけで確認が完了します。\
         リンクは {expires}（日本時間）まで有効です。\n\n{link}\n\n内容に変更がある場合は、{hub}までご連絡ください。\n\n---\n\
         Please check your entry in the regional care-services directory at the link above; if it is still correct, one click confirms it.\n",
        name = institution.name,
        expires = jst_text(&db_text(expires)),
        hub = user.display_name,
    );
    app.mailer
        .send(
            &app.store,
            &contact,
            &format!("【Renkei】掲載情報のご確認のお願い（{}）", institution.name),
            &body,
        )
        .await
        .map_err(err)?;
    let event = AuditEvent::new(
        Some(user.id),
        "directory.confirm_request",
        Outcome::Ok,
        format!("institution:{id}"),
        client_of(&extensions),
    );
    let _ = app.store.append_audit(&event).await;
    Ok((
        StatusCode::SEE_OTHER,
        [(header::LOCATION, format!("/hub/stale?sent={id}"))],
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    token: String,
    name: String,
    address: String,
    phone: String,
    kind: &'static str,
    caps: Vec<&'static str>,
    confirmed: String,
}

async fn valid(app: &AppState, ctx: &Ctx, token: &str) -> Result<Option<OneTimeToken>, PageError> {
    crate::pages::live_token(app, ctx, TokenPurpose::Confirmation, token).await
}

fn invalid(ctx: &Ctx) -> Result<Response, PageError> {
    message(
        ctx,
        StatusCode::GONE,
        "stale.invalid_title",
        &["stale.invalid_body"],
        &[],
        "/directory",
        "directory.back",
    )
}

/// `GET /confirm/{token}`: shows the entry; changes nothing.
pub async fn show(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let Some(record) = valid(&app, &ctx, &token).await? else {
        return invalid(&ctx);
    };
    let Some(id) = record.institution_id else {
        return invalid(&ctx);
    };
    let Some(d) = app
        .store
        .institution_detail(id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    else {
        return invalid(&ctx);
    };
    let confirmed = app
        .store
        .confirmation_of(id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?
        .and_then(|c| c.0);
    let page = ConfirmPage {
        chrome: Chrome::new(&ctx, "", false),
        token,
        kind: InstitutionKind::from_code(&d.hit.kind)
            .map(|k| kind_label(k, ctx.lang))
            .unwrap_or(""),
        caps: d
            .hit
            .capabilities
            .iter()
            .filter_map(|c| Capability::from_code(c))
            .map(|c| c.label_ja())
            .collect(),
        name: d.hit.name,
        address: d.hit.address,
        phone: d.hit.phone.unwrap_or_default(),
        confirmed: confirmed
            .as_deref()
            .map(jst_text)
            .unwrap_or_else(|| "—".to_owned()),
    };
    Ok(render(&ctx, &page)?.into_response())
}

/// `POST /confirm/{token}`: records the confirmation once.
pub async fn confirm(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let err = |e| PageError::store(&ctx, e);
    let Some(record) = valid(&app, &ctx, &token).await? else {
        return invalid(&ctx);
    };
    let Some(id) = record.institution_id else {
        return invalid(&ctx);
    };
    let now = db_text(app.clock.now());
    if !app
        .store
        .use_token(TokenPurpose::Confirmation, &record.token_hash, &now)
        .await
        .map_err(err)?
    {
        return invalid(&ctx);
    }
    app.store.confirm_institution(id, &now).await.map_err(err)?;
    let event = AuditEvent::new(
        None,
        "directory.confirm",
        Outcome::Ok,
        format!("institution:{id}"),
        client_of(&extensions),
    );
    let _ = app.store.append_audit(&event).await;
    message(
        &ctx,
        StatusCode::OK,
        "stale.done_title",
        &["stale.done_body"],
        &[],
        &format!("/institutions/{id}"),
        "stale.see_entry",
    )
}
