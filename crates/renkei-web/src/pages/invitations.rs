//! Invitations: a hub coordinator invites staff of an institution in their area, an institution
//! administrator invites colleagues. The invitee gets a one-time link by mail that expires.

use crate::auth::access::client_of;
use crate::auth::secrets::{hash_password, random_hex};
use crate::chrome::Chrome;
use crate::clock::{db_text, jst_text};
use crate::error::{Ctx, PageError};
use crate::i18n::Lang;
use crate::pages::home::render;
use crate::pages::message::message;
use crate::AppState;
use askama::Template;
use axum::extract::{Extension, Path, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use renkei_domain::accounts::{check_name, check_password, AccountRole, Email, OrganisationKind};
use renkei_domain::audit::{token_hash, Outcome};
use renkei_store::accounts::{OneTimeToken, TokenPurpose, User};
use renkei_store::audit::AuditEvent;
use renkei_store::StoreError;
use serde::Deserialize;

/// The invitation form.
#[derive(Debug, Deserialize)]
pub struct InviteForm {
    email: String,
    role: String,
    institution_id: i64,
}

/// Whether `user` may invite people into institution `institution_id` of area `area`.
pub fn may_invite(user: &User, institution_id: i64, area: &str) -> bool {
    user.memberships.iter().any(|m| match m.role {
        AccountRole::SystemAdmin => true,
        AccountRole::HubCoordinator => m.organisation.area_code.as_deref() == Some(area),
        AccountRole::InstitutionAdmin => m.organisation.institution_id == Some(institution_id),
        _ => false,
    })
}

fn store_err(ctx: &Ctx) -> impl Fn(StoreError) -> PageError + '_ {
    move |e| PageError::store(ctx, e)
}

/// `POST /invitations`.
pub async fn create(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Form(form): Form<InviteForm>,
) -> Result<Response, PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .cloned()
        .ok_or_else(|| PageError::not_found(&ctx))?;
    let client = client_of(&extensions);
    let bad = |key: &str| {
        message(
            &ctx,
            StatusCode::BAD_REQUEST,
            "invite.failed_title",
            &[key],
            &[],
            "/",
            "error.go_home",
        )
    };
    let Ok(email) = Email::parse(&form.email) else {
        return bad("invite.bad_email");
    };
    let role = match AccountRole::from_code(&form.role) {
        Some(r @ (AccountRole::InstitutionAdmin | AccountRole::InstitutionStaff)) => r,
        _ => return bad("invite.bad_role"),
    };
    let Some(institution) = app
        .store
        .institution_brief(form.institution_id)
        .await
        .map_err(store_err(&ctx))?
    else {
        return bad("invite.bad_institution");
    };
    if !may_invite(&user, form.institution_id, &institution.area_code) {
        let event = AuditEvent::new(
            Some(user.id),
            "invitation.create",
            Outcome::Denied,
            format!("institution:{}", form.institution_id),
            client,
        );
        let _ = app.store.append_audit(&event).await;
        return message(
            &ctx,
            StatusCode::FORBIDDEN,
            "error.forbidden_title",
            &["invite.not_yours"],
            &[],
            "/",
            "error.go_home",
        );
    }
    let org = app
        .store
        .ensure_organisation(
            OrganisationKind::Institution,
            &institution.name,
            None,
            Some(institution.id.0),
        )
        .await
        .map_err(store_err(&ctx))?;
    let token = random_hex(32);
    let expires = app.clock.now() + app.config.invitation_lifetime;
    let record = OneTimeToken {
        token_hash: token_hash(&token),
        user_id: None,
        email: Some(email.as_str().to_owned()),
        organisation_id: Some(org),
        role: Some(role),
        created_by: Some(user.id),
        institution_id: None,
        expires_at: db_text(expires),
    };
    let link = format!(
        "{}/invite/{token}",
        app.config.public_url.trim_end_matches('/')
    );
    let subject = format!("【Renkei】{} への招待 / Invitation", institution.name);
    let body = format!(
        "{inviter} さんから、{org}（{role}）として Renkei（在宅医療・介護連携の情報システム）に招待されました。\n\n\
         次のリンクを開いて、氏名とパスワードを設定してください。リンクは {expires}（日本時間）まで、1回だけ使えます。\n\n{link}\n\n\
         心当たりがない場合は、このメールを破棄してください。\n\n---\n\
         {inviter} invited you to join {org} on Renkei. Open the link above to set your name and password. \
         It can be used once, until {expires} (JST).\n",
        inviter = user.display_name,
        org = institution.name,
        role = role.label_ja(),
        expires = jst_text(&db_text(expires)),
    );
    let mail = renkei_store::mail::NewMail {
        to: email.as_str().to_owned(),
        subject,
        body,
    };
    let queued = app
        .store
        .create_token_with_mail(TokenPurpose::Invitation, &record, &[mail])
        .await
        .map_err(store_err(&ctx))?;
    app.mailer
        .deliver_now(&app.store, &queued)
        .await
        .map_err(store_err(&ctx))?;
    let event = AuditEvent::new(
        Some(user.id),
        "invitation.create",
        Outcome::Ok,
        format!("org:{}", org.0),
        client,
    )
    .with_details(serde_json::json!({ "email": email.as_str(), "role": role.code() }).to_string());
    let _ = app.store.append_audit(&event).await;
    let note = if app.mailer.delivers() {
        "invite.sent"
    } else {
        "invite.queued"
    };
    message(
        &ctx,
        StatusCode::OK,
        "invite.sent_title",
        &[note],
        &[email.as_str().to_owned()],
        "/",
        "error.go_home",
    )
}

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage {
    chrome: Chrome,
    token: String,
    email: String,
    organisation: String,
    role: String,
    name: String,
    error: Option<String>,
}

async fn invitation(
    app: &AppState,
    ctx: &Ctx,
    token: &str,
) -> Result<Option<(OneTimeToken, String)>, PageError> {
    let Some(record) = crate::pages::live_token(app, ctx, TokenPurpose::Invitation, token).await?
    else {
        return Ok(None);
    };
    let org_name = match record.organisation_id {
        Some(id) => app
            .store
            .organisation(id)
            .await
            .map_err(store_err(ctx))?
            .map(|o| o.name)
            .unwrap_or_default(),
        None => String::new(),
    };
    Ok(Some((record, org_name)))
}

fn invalid_link(ctx: &Ctx) -> Result<Response, PageError> {
    message(
        ctx,
        StatusCode::GONE,
        "invite.invalid_title",
        &["invite.invalid_body"],
        &[],
        "/login",
        "auth.login",
    )
}

fn page(
    ctx: &Ctx,
    token: &str,
    record: &OneTimeToken,
    org: String,
    name: String,
    error: Option<String>,
) -> InvitePage {
    let role = record
        .role
        .map(|r| {
            if ctx.lang == Lang::En {
                r.label_en()
            } else {
                r.label_ja()
            }
        })
        .unwrap_or("")
        .to_owned();
    InvitePage {
        chrome: Chrome::new(ctx, "", false),
        token: token.to_owned(),
        email: record.email.clone().unwrap_or_default(),
        organisation: org,
        role,
        name,
        error,
    }
}

/// `GET /invite/{token}`.
pub async fn show(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let Some((record, org)) = invitation(&app, &ctx, &token).await? else {
        return invalid_link(&ctx);
    };
    Ok(render(&ctx, &page(&ctx, &token, &record, org, String::new(), None))?.into_response())
}

/// The acceptance form.
#[derive(Debug, Deserialize)]
pub struct AcceptForm {
    name: String,
    password: String,
    confirm: String,
}

/// `POST /invite/{token}`: creates the account (or adds the role to an existing one) and uses up
/// the link.
pub async fn accept(
    State(app): State<AppState>,
    ctx: Ctx,
    Extension(client): Extension<crate::auth::session::ClientAddr>,
    Path(token): Path<String>,
    Form(form): Form<AcceptForm>,
) -> Result<Response, PageError> {
    let Some((record, org)) = invitation(&app, &ctx, &token).await? else {
        return invalid_link(&ctx);
    };
    let (Some(email), Some(org_id), Some(role)) =
        (record.email.clone(), record.organisation_id, record.role)
    else {
        return invalid_link(&ctx);
    };
    let email = Email::parse(&email)
        .map_err(|e| PageError::store(&ctx, StoreError::Invalid(e.to_string())))?;
    let existing = app
        .store
        .user_by_email(&email)
        .await
        .map_err(store_err(&ctx))?;
    if existing.is_none() {
        let problem = match check_name(&form.name) {
            Err(e) => Some(e.to_string()),
            Ok(_) if form.password != form.confirm => {
                Some(crate::i18n::catalog(ctx.lang).get("account.mismatch"))
            }
            Ok(name) => check_password(&form.password, &[email.as_str(), &name])
                .err()
                .map(|e| e.to_string()),
        };
        if let Some(problem) = problem {
            let page = page(&ctx, &token, &record, org, form.name.clone(), Some(problem));
            return Ok((StatusCode::BAD_REQUEST, render(&ctx, &page)?).into_response());
        }
    }
    let now = db_text(app.clock.now());
    if !app
        .store
        .use_token(TokenPurpose::Invitation, &record.token_hash, &now)
        .await
        .map_err(store_err(&ctx))?
    {
        return invalid_link(&ctx);
    }
    let user_id = match existing {
        Some(user) => user.id,
        None => {
            let name = check_name(&form.name).unwrap_or_default();
            let hash = hash_password(&form.password)
                .map_err(|e| PageError::store(&ctx, StoreError::Invalid(e.to_string())))?;
            app.store
                .create_user(&email, &name, Some(&hash))
                .await
                .map_err(store_err(&ctx))?
        }
    };
    app.store
        .add_membership(user_id, org_id, role)
        .await
        .map_err(store_err(&ctx))?;
    let event = AuditEvent::new(
        Some(user_id),
        "invitation.accept",
        Outcome::Ok,
        format!("org:{}", org_id.0),
        client.0,
    )
    .with_details(
        serde_json::json!({ "role": role.code(), "invited_by": record.created_by.map(|u| u.0) })
            .to_string(),
    );
    let _ = app.store.append_audit(&event).await;
    message(
        &ctx,
        StatusCode::OK,
        "invite.done_title",
        &["invite.done_body"],
        &[],
        "/login",
        "auth.login",
    )
}
