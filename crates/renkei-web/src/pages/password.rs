//! Forgotten passwords: a one-time link by mail (valid one hour). The answer is the same whether
//! or not the address has an account.

use crate::auth::secrets::{hash_password, random_hex};
use crate::chrome::Chrome;
use crate::clock::{db_text, jst_text};
use crate::error::{Ctx, PageError};
use crate::pages::home::render;
use crate::pages::message::message;
use crate::AppState;
use askama::Template;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use renkei_domain::accounts::{check_password, Email};
use renkei_domain::audit::{token_hash, Outcome};
use renkei_store::accounts::{OneTimeToken, TokenPurpose};
use renkei_store::audit::AuditEvent;
use renkei_store::StoreError;
use serde::Deserialize;

/// Reset requests per address per hour before further ones are silently dropped.
const REQUESTS_PER_HOUR: i64 = 5;

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage {
    chrome: Chrome,
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    chrome: Chrome,
    token: String,
    error: Option<String>,
}

/// `GET /password/forgot`.
pub async fn forgot_form(ctx: Ctx) -> Result<Response, PageError> {
    Ok(render(
        &ctx,
        &ForgotPage {
            chrome: Chrome::new(&ctx, "", false),
        },
    )?
    .into_response())
}

/// The request form.
#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    email: String,
}

/// `POST /password/forgot`.
pub async fn forgot_submit(
    State(app): State<AppState>,
    ctx: Ctx,
    Extension(client): Extension<crate::auth::session::ClientAddr>,
    Form(form): Form<ForgotForm>,
) -> Result<Response, PageError> {
    let err = |e| PageError::store(&ctx, e);
    let typed = renkei_domain::text::normalize(&form.email).to_lowercase();
    let now = app.clock.now();
    let key = format!("reset:{typed}");
    let (recent, _) = app
        .store
        .recent_failures(&key, &db_text(now - chrono::Duration::hours(1)))
        .await
        .map_err(err)?;
    app.store
        .record_login_attempt(&key, false, &db_text(now))
        .await
        .map_err(err)?;
    let user = match Email::parse(&typed) {
        Ok(email) if recent < REQUESTS_PER_HOUR => {
            app.store.user_by_email(&email).await.map_err(err)?
        }
        _ => None,
    };
    if let Some(user) = user.filter(|u| !u.disabled) {
        let token = random_hex(32);
        let expires = now + app.config.reset_lifetime;
        let record = OneTimeToken {
            token_hash: token_hash(&token),
            user_id: Some(user.id),
            email: None,
            organisation_id: None,
            role: None,
            created_by: None,
            institution_id: None,
            expires_at: db_text(expires),
        };
        let link = format!(
            "{}/password/reset/{token}",
            app.config.public_url.trim_end_matches('/')
        );
        let body = format!(
            "{name} 様\n\nRenkei のパスワード再設定の依頼を受け付けました。次のリンクから新しいパスワードを設定してください。\
             リンクは {expires}（日本時間）まで、1回だけ使えます。\n\n{link}\n\n\
             依頼した覚えがない場合は、このメールを破棄してください。パスワードは変わりません。\n\n---\n\
             Someone asked to reset your Renkei password. Use the link above once, before {expires} (JST). \
             If it was not you, ignore this mail; your password stays as it is.\n",
            name = user.display_name,
            expires = jst_text(&db_text(expires)),
        );
        let mail = renkei_store::mail::NewMail {
            to: user.email.clone(),
            subject: "【Renkei】パスワードの再設定 / Password reset".to_owned(),
            body,
        };
        let queued = app
            .store
            .create_token_with_mail(TokenPurpose::PasswordReset, &record, &[mail])
            .await
            .map_err(err)?;
        app.mailer
            .deliver_now(&app.store, &queued)
            .await
            .map_err(err)?;
        let event = AuditEvent::new(
            Some(user.id),
            "password.reset_request",
            Outcome::Ok,
            format!("user:{}", user.id.0),
            client.0,
        );
        let _ = app.store.append_audit(&event).await;
    }
    message(
        &ctx,
        StatusCode::OK,
        "reset.requested_title",
        &["reset.requested_body"],
        &[],
        "/login",
        "auth.login",
    )
}

async fn valid(app: &AppState, ctx: &Ctx, token: &str) -> Result<Option<OneTimeToken>, PageError> {
    crate::pages::live_token(app, ctx, TokenPurpose::PasswordReset, token).await
}

fn invalid(ctx: &Ctx) -> Result<Response, PageError> {
    message(
        ctx,
        StatusCode::GONE,
        "reset.invalid_title",
        &["reset.invalid_body"],
        &[],
        "/password/forgot",
        "reset.again",
    )
}

/// `GET /password/reset/{token}`.
pub async fn reset_form(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    if valid(&app, &ctx, &token).await?.is_none() {
        return invalid(&ctx);
    }
    Ok(render(
        &ctx,
        &ResetPage {
            chrome: Chrome::new(&ctx, "", false),
            token,
            error: None,
        },
    )?
    .into_response())
}

/// The new-password form.
#[derive(Debug, Deserialize)]
pub struct ResetForm {
    password: String,
    confirm: String,
}

/// `POST /password/reset/{token}`: sets the password and ends every session of the user.
pub async fn reset_submit(
    State(app): State<AppState>,
    ctx: Ctx,
    Extension(client): Extension<crate::auth::session::ClientAddr>,
    Path(token): Path<String>,
    Form(form): Form<ResetForm>,
) -> Result<Response, PageError> {
    let err = |e| PageError::store(&ctx, e);
    let Some(record) = valid(&app, &ctx, &token).await? else {
        return invalid(&ctx);
    };
    let Some(user_id) = record.user_id else {
        return invalid(&ctx);
    };
    let Some(user) = app.store.user(user_id).await.map_err(err)? else {
        return invalid(&ctx);
    };
    let problem = if form.password != form.confirm {
        Some(crate::i18n::catalog(ctx.lang).get("account.mismatch"))
    } else {
        check_password(&form.password, &[&user.email, &user.display_name])
            .err()
            .map(|e| e.to_string())
    };
    if let Some(problem) = problem {
        let page = ResetPage {
            chrome: Chrome::new(&ctx, "", false),
            token,
            error: Some(problem),
        };
        return Ok((StatusCode::BAD_REQUEST, render(&ctx, &page)?).into_response());
    }
    if !app
        .store
        .use_token(
            TokenPurpose::PasswordReset,
            &record.token_hash,
            &db_text(app.clock.now()),
        )
        .await
        .map_err(err)?
    {
        return invalid(&ctx);
    }
    let hash = hash_password(&form.password)
        .map_err(|e| PageError::store(&ctx, StoreError::Invalid(e.to_string())))?;
    let notice = crate::pages::account::owner_notice(
        &app,
        &user,
        crate::pages::account::FactorChange::PasswordChanged,
    );
    let queued = app
        .store
        .set_password_with_mail(user.id, &hash, None, &[notice])
        .await
        .map_err(err)?;
    app.mailer
        .deliver_now(&app.store, &queued)
        .await
        .map_err(err)?;
    let event = AuditEvent::new(
        Some(user.id),
        "password.reset",
        Outcome::Ok,
        format!("user:{}", user.id.0),
        client.0,
    );
    let _ = app.store.append_audit(&event).await;
    message(
        &ctx,
        StatusCode::OK,
        "reset.done_title",
        &["reset.done_body"],
        &[],
        "/login",
        "auth.login",
    )
}
