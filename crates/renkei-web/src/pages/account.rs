//! The user's own account: roles, password change, two-factor enrolment, sessions.

use crate::auth::access::client_of;
use crate::auth::secrets::{
    hash_password, random_bytes, recovery_code, recovery_code_hash, verify_password,
};
use crate::auth::session::start_session;
use crate::auth::Viewer;
use crate::chrome::Chrome;
use crate::clock::jst_text;
use crate::error::{Ctx, PageError};
use crate::pages::home::render;
use crate::pages::login::audit;
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{header, Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use renkei_domain::accounts::check_password;
use renkei_domain::audit::Outcome;
use renkei_domain::totp;
use renkei_store::accounts::User;
use serde::Deserialize;

/// One session row.
#[derive(Debug)]
pub struct SessionRow {
    started: String,
    last_seen: String,
    client: String,
    user_agent: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Chrome,
    user: User,
    roles: Vec<String>,
    two_factor_required: bool,
    recovery_left: i64,
    sessions: Vec<SessionRow>,
    tokens: Vec<TokenRow>,
    new_token: Option<String>,
    notice: Option<String>,
    error: Option<String>,
}

/// One API token as listed.
#[derive(Debug)]
pub struct TokenRow {
    id: i64,
    name: String,
    scopes: String,
    created: String,
    last_used: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "two_factor_setup.html")]
struct SetupPage {
    chrome: Chrome,
    enforced: bool,
    qr_svg: String,
    secret: String,
    /// Where the code is sent: the first enrolment or a replacement.
    action: &'static str,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryPage {
    chrome: Chrome,
    codes: Vec<String>,
}

fn signed_in(ctx: &Ctx) -> Result<&User, PageError> {
    ctx.viewer
        .signed_in()
        .ok_or_else(|| PageError::not_found(ctx))
}

fn text(ctx: &Ctx, key: &str) -> String {
    crate::i18n::catalog(ctx.lang).get(key)
}

async fn account_page(
    app: &AppState,
    ctx: &Ctx,
    notice: Option<String>,
    error: Option<String>,
) -> Result<AccountPage, PageError> {
    let user = signed_in(ctx)?.clone();
    let current = ctx
        .viewer
        .session()
        .map(|s| s.token_hash.clone())
        .unwrap_or_default();
    let sessions = app
        .store
        .sessions_of(user.id)
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .into_iter()
        .map(|s| SessionRow {
            started: jst_text(&s.created_at),
            last_seen: jst_text(&s.last_seen_at),
            client: s.client,
            user_agent: s.user_agent.chars().take(60).collect(),
            current: s.token_hash == current,
        })
        .collect();
    let recovery_left = app
        .store
        .recovery_codes_left(user.id)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let tokens = app
        .store
        .api_tokens_of(user.id)
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            scopes: t.scopes,
            created: jst_text(&t.created_at),
            last_used: t
                .last_used_at
                .as_deref()
                .map(jst_text)
                .unwrap_or_else(|| "—".to_owned()),
            revoked: t.revoked_at.is_some(),
        })
        .collect();
    let roles = user
        .memberships
        .iter()
        .map(|m| crate::pages::membership_label(m, ctx.lang))
        .collect();
    Ok(AccountPage {
        chrome: Chrome::new(ctx, "nav.account", false),
        two_factor_required: app.two_factor_policy().requires_any(&user.roles()),
        roles,
        recovery_left,
        sessions,
        tokens,
        new_token: None,
        notice,
        error,
        user,
    })
}

/// `GET /account`.
pub async fn show(State(app): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    let page = account_page(&app, &ctx, None, None).await?;
    Ok(render(&ctx, &page)?.into_response())
}

/// The password-change form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
    confirm: String,
}

/// `POST /account/password`: checks the current password and the policy; other sessions end.
pub async fn change_password(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    let user = signed_in(&ctx)?.clone();
    let client = client_of(&extensions);
    let credentials = app
        .store
        .credentials_by_id(user.id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let problem = if !verify_password(
        credentials
            .as_ref()
            .and_then(|c| c.password_hash.as_deref()),
        &form.current,
    ) {
        Some(text(&ctx, "account.wrong_password"))
    } else if form.new != form.confirm {
        Some(text(&ctx, "account.mismatch"))
    } else {
        check_password(&form.new, &[&user.email, &user.display_name])
            .err()
            .map(|e| e.to_string())
    };
    if let Some(message) = problem {
        audit(
            &app,
            Some(&user),
            "password.change",
            Outcome::Failed,
            &format!("user:{}", user.id.0),
            &client,
        )
        .await;
        let page = account_page(&app, &ctx, None, Some(message)).await?;
        return Ok((StatusCode::BAD_REQUEST, render(&ctx, &page)?).into_response());
    }
    let hash = hash_password(&form.new)
        .map_err(|e| PageError::store(&ctx, renkei_store::StoreError::Invalid(e.to_string())))?;
    let keep = ctx.viewer.session().map(|s| s.token_hash.clone());
    let notice = owner_notice(&app, &user, FactorChange::PasswordChanged);
    let queued = app
        .store
        .set_password_with_mail(user.id, &hash, keep.as_deref(), &[notice])
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    app.mailer
        .deliver_now(&app.store, &queued)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        Some(&user),
        "password.change",
        Outcome::Ok,
        &format!("user:{}", user.id.0),
        &client,
    )
    .await;
    let page = account_page(
        &app,
        &ctx,
        Some(text(&ctx, "account.password_changed")),
        None,
    )
    .await?;
    Ok(render(&ctx, &page)?.into_response())
}

/// `POST /account/logout-everywhere`.
pub async fn logout_everywhere(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
) -> Result<Response, PageError> {
    let user = signed_in(&ctx)?.clone();
    app.store
        .delete_sessions_of(user.id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        Some(&user),
        "logout.everywhere",
        Outcome::Ok,
        &format!("user:{}", user.id.0),
        &client_of(&extensions),
    )
    .await;
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/login")]).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        crate::auth::session::clear_session_cookie(&app),
    );
    Ok(response)
}

/// `GET /account/two-factor`: a new secret as a QR code (SVG made here, no outside service).
/// Only for an account without a second factor (the route's rule, checked again here against
/// the database): one that has a factor replaces it from the account page.
pub async fn two_factor_setup(
    State(app): State<AppState>,
    ctx: Ctx,
) -> Result<Response, PageError> {
    let Some(user) = ctx.viewer.user().cloned() else {
        return Err(PageError::not_found(&ctx));
    };
    if has_active_factor(&app, &ctx, &user).await? {
        return Ok(see_other("/account"));
    }
    // Reloading the page keeps the secret already shown, so a code from an app that scanned it
    // still works.
    let secret = match pending_secret(&app, &ctx, &user).await? {
        Some(secret) => secret,
        None => new_pending_secret(&app, &ctx, &user).await?,
    };
    let page = setup_page(&app, &ctx, &user, &secret, SetupKind::First, None);
    Ok(no_store(render(&ctx, &page)?.into_response()))
}

fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

/// Marks a response that shows a secret (or patient data) as never to be cached.
fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// Whether the account has an active second factor, read from the database (not from the
/// session's copy of the user, so two tabs or a stale session cannot slip past).
async fn has_active_factor(app: &AppState, ctx: &Ctx, user: &User) -> Result<bool, PageError> {
    Ok(app
        .store
        .credentials_by_id(user.id)
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .is_some_and(|c| c.totp_secret.is_some()))
}

async fn pending_secret(
    app: &AppState,
    ctx: &Ctx,
    user: &User,
) -> Result<Option<String>, PageError> {
    Ok(app
        .store
        .credentials_by_id(user.id)
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .and_then(|c| c.totp_pending_secret))
}

async fn new_pending_secret(app: &AppState, ctx: &Ctx, user: &User) -> Result<String, PageError> {
    let secret = totp::base32_encode(&random_bytes(20));
    app.store
        .set_pending_totp(user.id, &secret)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    Ok(secret)
}

/// Which enrolment the setup page confirms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetupKind {
    /// The account's first second factor.
    First,
    /// A replacement, after the password and a current code.
    Replacement,
}

fn setup_page(
    app: &AppState,
    ctx: &Ctx,
    user: &User,
    secret: &str,
    kind: SetupKind,
    error: Option<String>,
) -> SetupPage {
    let bytes = totp::base32_decode(secret).unwrap_or_default();
    let uri = totp::otpauth_uri(&app.config.totp_issuer, &user.email, &bytes);
    let qr_svg = qrcode::QrCode::new(uri.as_bytes())
        .map(|code| {
            code.render::<qrcode::render::svg::Color>()
                .min_dimensions(200, 200)
                .build()
        })
        .unwrap_or_default();
    let grouped = secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    SetupPage {
        chrome: Chrome::new(ctx, "nav.account", false),
        enforced: matches!(ctx.viewer, Viewer::Pending { .. }),
        qr_svg,
        secret: grouped,
        action: match kind {
            SetupKind::First => "/account/two-factor",
            SetupKind::Replacement => "/account/two-factor/replace/confirm",
        },
        error,
    }
}

/// The enrolment confirmation form.
#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    code: String,
}

/// `POST /account/two-factor`: the first enrolment. A correct code for the secret shown
/// activates TOTP, makes ten recovery codes (shown once), mails the user and completes the
/// login of a half-logged-in session with a fresh token. A wrong code shows the same secret
/// again and never makes a new one; an account that already has a factor is refused (C1 of the
/// security probe: a password alone could re-bind the factor here).
pub async fn two_factor_confirm(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    headers: HeaderMap,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, PageError> {
    let Some(user) = ctx.viewer.user().cloned() else {
        return Err(PageError::not_found(&ctx));
    };
    let client = client_of(&extensions);
    let target = format!("user:{}", user.id.0);
    if has_active_factor(&app, &ctx, &user).await? {
        audit(
            &app,
            Some(&user),
            "two_factor.enrol",
            Outcome::Denied,
            &target,
            &client,
        )
        .await;
        return Ok(see_other("/account"));
    }
    let Some(secret) = pending_secret(&app, &ctx, &user).await? else {
        // Nothing was shown yet: show a secret first.
        return Ok(see_other("/account/two-factor"));
    };
    let step = match code_for_shown_secret(
        &app,
        &ctx,
        &user,
        &client,
        (&secret, SetupKind::First),
        &form.code,
    )
    .await?
    {
        Ok(step) => step,
        Err(page) => return Ok(page),
    };
    let (codes, hashes) = new_recovery_codes();
    if let Err(e) = app
        .store
        .confirm_totp(user.id, i64::try_from(step).unwrap_or(i64::MAX), &hashes)
        .await
    {
        if matches!(e, renkei_store::StoreError::Invalid(_)) {
            // Another tab enrolled first.
            return Ok(see_other("/account"));
        }
        return Err(PageError::store(&ctx, e));
    }
    audit(
        &app,
        Some(&user),
        "two_factor.enrol",
        Outcome::Ok,
        &target,
        &client,
    )
    .await;
    tell_the_owner(&app, &ctx, &user, FactorChange::Enrolled).await?;
    let mut cookie = None;
    if let Viewer::Pending { session, .. } = &ctx.viewer {
        app.store
            .delete_session(&session.token_hash)
            .await
            .map_err(|e| PageError::store(&ctx, e))?;
        let agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        cookie = Some(
            start_session(&app, &user, true, &client, agent)
                .await
                .map_err(|e| PageError::store(&ctx, e))?,
        );
        audit(
            &app,
            Some(&user),
            "login.success",
            Outcome::Ok,
            &target,
            &client,
        )
        .await;
    }
    let page = RecoveryPage {
        chrome: Chrome::new(&ctx, "nav.account", false),
        codes,
    };
    let mut response = render(&ctx, &page)?.into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
        crate::pages::login::remember_device(&app, &user, &mut response);
    }
    Ok(no_store(response))
}

/// Checks a code typed for the secret shown on the setup page (`shown`: the secret and which
/// enrolment it is), within the second-factor limits. `Ok` holds the TOTP step it was for;
/// `Err` the page to answer with — throttled, or a wrong code, showing the same secret again
/// (audited as a failed enrolment or replacement).
async fn code_for_shown_secret(
    app: &AppState,
    ctx: &Ctx,
    user: &User,
    client: &str,
    shown: (&str, SetupKind),
    code: &str,
) -> Result<Result<u64, Response>, PageError> {
    let (secret, kind) = shown;
    let answer = |status: StatusCode, message: String| -> Result<Response, PageError> {
        let page = setup_page(app, ctx, user, secret, kind, Some(message));
        Ok(no_store((status, render(ctx, &page)?).into_response()))
    };
    let attempt = match crate::pages::login::begin_code_attempt(app, ctx, user, client).await? {
        Ok(attempt) => attempt,
        Err(message) => return Ok(Err(answer(StatusCode::TOO_MANY_REQUESTS, message)?)),
    };
    let unix = u64::try_from(app.clock.now().timestamp()).unwrap_or(0);
    let step = totp::base32_decode(secret).and_then(|bytes| totp::verify(&bytes, code, unix, None));
    let Some(step) = step else {
        attempt
            .failed(app)
            .await
            .map_err(|e| PageError::store(ctx, e))?;
        let action = match kind {
            SetupKind::First => "two_factor.enrol",
            SetupKind::Replacement => "two_factor.replace",
        };
        audit(
            app,
            Some(user),
            action,
            Outcome::Failed,
            &format!("user:{}", user.id.0),
            client,
        )
        .await;
        return Ok(Err(answer(
            StatusCode::BAD_REQUEST,
            text(ctx, "auth.code_failed"),
        )?));
    };
    attempt
        .succeeded(app)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    Ok(Ok(step))
}

/// Ten new recovery codes (shown once) and their hashes (stored).
fn new_recovery_codes() -> (Vec<String>, Vec<String>) {
    let codes: Vec<String> = (0..10).map(|_| recovery_code()).collect();
    let hashes = codes.iter().map(|c| recovery_code_hash(c)).collect();
    (codes, hashes)
}

/// The form that starts replacing the second factor.
#[derive(Debug, Deserialize)]
pub struct ReplaceForm {
    password: String,
    code: String,
}

/// `POST /account/two-factor/replace`: a signed-in user with a second factor proves the
/// password and a current code (or a recovery code) and is shown a new secret to scan. A
/// hijacked session without them cannot re-bind the factor.
pub async fn two_factor_replace(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Form(form): Form<ReplaceForm>,
) -> Result<Response, PageError> {
    let user = signed_in(&ctx)?.clone();
    let client = client_of(&extensions);
    let target = format!("user:{}", user.id.0);
    if !has_active_factor(&app, &ctx, &user).await? {
        return Ok(see_other("/account/two-factor"));
    }
    let attempt = match crate::pages::login::begin_code_attempt(&app, &ctx, &user, &client).await? {
        Ok(attempt) => attempt,
        Err(message) => {
            let page = account_page(&app, &ctx, None, Some(message)).await?;
            return Ok((StatusCode::TOO_MANY_REQUESTS, render(&ctx, &page)?).into_response());
        }
    };
    let credentials = app
        .store
        .credentials_by_id(user.id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let password_ok = verify_password(
        credentials
            .as_ref()
            .and_then(|c| c.password_hash.as_deref()),
        &form.password,
    );
    let code_ok = password_ok
        && crate::pages::login::check_code(&app, &user, &form.code, app.clock.now())
            .await
            .map_err(|e| PageError::store(&ctx, e))?
            .is_some();
    if !code_ok {
        attempt
            .failed(&app)
            .await
            .map_err(|e| PageError::store(&ctx, e))?;
        audit(
            &app,
            Some(&user),
            "two_factor.replace",
            Outcome::Failed,
            &target,
            &client,
        )
        .await;
        let page = account_page(
            &app,
            &ctx,
            None,
            Some(text(&ctx, "account.replace_refused")),
        )
        .await?;
        return Ok((StatusCode::BAD_REQUEST, render(&ctx, &page)?).into_response());
    }
    attempt
        .succeeded(&app)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let secret = new_pending_secret(&app, &ctx, &user).await?;
    audit(
        &app,
        Some(&user),
        "two_factor.replace_start",
        Outcome::Ok,
        &target,
        &client,
    )
    .await;
    let page = setup_page(&app, &ctx, &user, &secret, SetupKind::Replacement, None);
    Ok(no_store(render(&ctx, &page)?.into_response()))
}

/// `POST /account/two-factor/replace/confirm`: a code of the new secret (shown only after the
/// password and a current code) makes it the factor: new recovery codes, a mail to the user,
/// every other session and API token ended.
pub async fn two_factor_replace_confirm(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, PageError> {
    let user = signed_in(&ctx)?.clone();
    let client = client_of(&extensions);
    let target = format!("user:{}", user.id.0);
    let pending = match pending_secret(&app, &ctx, &user).await? {
        Some(secret) if has_active_factor(&app, &ctx, &user).await? => secret,
        _ => return Ok(see_other("/account")),
    };
    let step = match code_for_shown_secret(
        &app,
        &ctx,
        &user,
        &client,
        (&pending, SetupKind::Replacement),
        &form.code,
    )
    .await?
    {
        Ok(step) => step,
        Err(page) => return Ok(page),
    };
    let (codes, hashes) = new_recovery_codes();
    let keep = ctx.viewer.session().map(|s| s.token_hash.clone());
    let notice = owner_notice(&app, &user, FactorChange::Replaced);
    let Some(queued) = app
        .store
        .replace_totp(
            user.id,
            i64::try_from(step).unwrap_or(i64::MAX),
            &hashes,
            keep.as_deref(),
            &[notice],
        )
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    else {
        return Ok(see_other("/account"));
    };
    app.mailer
        .deliver_now(&app.store, &queued)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        Some(&user),
        "two_factor.replace",
        Outcome::Ok,
        &target,
        &client,
    )
    .await;
    let page = RecoveryPage {
        chrome: Chrome::new(&ctx, "nav.account", false),
        codes,
    };
    Ok(no_store(render(&ctx, &page)?.into_response()))
}

/// A change to an account's sign-in that its owner is told about by mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorChange {
    /// A second factor was registered.
    Enrolled,
    /// The second factor was replaced by a new one.
    Replaced,
    /// The administrator removed the second factor.
    Reset,
    /// The password was changed.
    PasswordChanged,
}

/// Mails the account's owner that its sign-in changed (for a change whose store call does not
/// carry the mail itself: the first enrolment).
async fn tell_the_owner(
    app: &AppState,
    ctx: &Ctx,
    user: &User,
    change: FactorChange,
) -> Result<(), PageError> {
    let mail = owner_notice(app, user, change);
    app.mailer
        .send(&app.store, &mail.to, &mail.subject, &mail.body)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    Ok(())
}

/// The mail that tells an account's owner its sign-in changed, so a change they did not make
/// is noticed (it names no patient and holds no secret); written in the change's transaction.
pub fn owner_notice(
    app: &AppState,
    user: &User,
    change: FactorChange,
) -> renkei_store::mail::NewMail {
    let (subject, what_ja, what_en) = match change {
        FactorChange::Enrolled => (
            "【Renkei】二要素認証を登録しました / Two-factor authentication registered",
            "あなたのアカウントに二要素認証（認証アプリ）が登録されました。",
            "A two-factor authenticator was registered for your account.",
        ),
        FactorChange::Replaced => (
            "【Renkei】二要素認証を変更しました / Two-factor authentication replaced",
            "あなたのアカウントの二要素認証が新しい認証アプリに変更されました。他の端末のログインと API トークンは無効になりました。",
            "Your account's authenticator was replaced. Other sessions and API tokens were ended.",
        ),
        FactorChange::Reset => (
            "【Renkei】二要素認証がリセットされました / Two-factor authentication reset",
            "システム管理者があなたのアカウントの二要素認証をリセットしました。次のログインで新しく登録してください。すべての端末のログインと API トークンは無効になりました。",
            "An administrator reset your two-factor authentication; enrol again at your next login. All sessions and API tokens were ended.",
        ),
        FactorChange::PasswordChanged => (
            "【Renkei】パスワードを変更しました / Password changed",
            "あなたのアカウントのパスワードが変更されました。他の端末のログインと API トークンは無効になりました。",
            "Your password was changed. Other sessions and API tokens were ended.",
        ),
    };
    let when = crate::clock::jst_text(&crate::clock::db_text(app.clock.now()));
    let body = format!(
        "{name} 様\n\n{what_ja}（{when}）\n\n心当たりがない場合は、すぐに地域の拠点またはシステム管理者に連絡してください。\n\n---\n{what_en} ({when} JST)\nIf this was not you, contact your hub or the administrator at once.\n",
        name = user.display_name,
    );
    renkei_store::mail::NewMail {
        to: user.email.clone(),
        subject: subject.to_owned(),
        body,
    }
}

/// The disable form.
#[derive(Debug, Deserialize)]
pub struct DisableForm {
    password: String,
}

/// `POST /account/two-factor/disable`: only where the policy allows, and with the password.
pub async fn two_factor_disable(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Form(form): Form<DisableForm>,
) -> Result<Response, PageError> {
    let user = signed_in(&ctx)?.clone();
    let client = client_of(&extensions);
    if app.two_factor_policy().requires_any(&user.roles()) {
        audit(
            &app,
            Some(&user),
            "two_factor.disable",
            Outcome::Denied,
            &format!("user:{}", user.id.0),
            &client,
        )
        .await;
        let page =
            account_page(&app, &ctx, None, Some(text(&ctx, "account.cannot_disable"))).await?;
        return Ok((StatusCode::FORBIDDEN, render(&ctx, &page)?).into_response());
    }
    let credentials = app
        .store
        .credentials_by_id(user.id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    if !verify_password(
        credentials
            .as_ref()
            .and_then(|c| c.password_hash.as_deref()),
        &form.password,
    ) {
        let page =
            account_page(&app, &ctx, None, Some(text(&ctx, "account.wrong_password"))).await?;
        return Ok((StatusCode::BAD_REQUEST, render(&ctx, &page)?).into_response());
    }
    app.store
        .disable_totp(user.id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        Some(&user),
        "two_factor.disable",
        Outcome::Ok,
        &format!("user:{}", user.id.0),
        &client,
    )
    .await;
    let mut refreshed = ctx.clone();
    if let Viewer::SignedIn { user: u, session } = &ctx.viewer {
        let mut u = u.clone();
        u.totp_enabled = false;
        refreshed.viewer = Viewer::SignedIn {
            user: u,
            session: session.clone(),
        };
    }
    let page = account_page(
        &app,
        &refreshed,
        Some(text(&ctx, "account.disabled_done")),
        None,
    )
    .await?;
    Ok(render(&ctx, &page)?.into_response())
}

/// The token-creation form (`scope` may repeat).
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    name: String,
    #[serde(default)]
    read: Option<String>,
    #[serde(default)]
    write: Option<String>,
}

/// `POST /account/api-tokens`: a new token for machine clients, shown once.
pub async fn create_api_token(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    let user = signed_in(&ctx)?.clone();
    let name = renkei_domain::text::normalize(&form.name);
    let mut scopes = Vec::new();
    if form.read.is_some() {
        scopes.push("read");
    }
    if form.write.is_some() {
        scopes.push("write");
    }
    if name.is_empty() || name.chars().count() > 100 || scopes.is_empty() {
        let page =
            account_page(&app, &ctx, None, Some(text(&ctx, "account.token_invalid"))).await?;
        return Ok((StatusCode::BAD_REQUEST, render(&ctx, &page)?).into_response());
    }
    let token = format!("rk_{}", crate::auth::secrets::random_hex(32));
    let hash = renkei_domain::audit::token_hash(&token);
    let id = app
        .store
        .create_api_token(user.id, &name, &hash, &scopes.join(" "))
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        Some(&user),
        "api_token.create",
        Outcome::Ok,
        &format!("api_token:{id}"),
        &client_of(&extensions),
    )
    .await;
    let mut page =
        account_page(&app, &ctx, Some(text(&ctx, "account.token_created")), None).await?;
    page.new_token = Some(token);
    let mut response = render(&ctx, &page)?.into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// `POST /account/api-tokens/{id}/revoke`.
pub async fn revoke_api_token(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> Result<Response, PageError> {
    let user = signed_in(&ctx)?.clone();
    if !app
        .store
        .revoke_api_token(user.id, id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    {
        return Err(PageError::not_found(&ctx));
    }
    audit(
        &app,
        Some(&user),
        "api_token.revoke",
        Outcome::Ok,
        &format!("api_token:{id}"),
        &client_of(&extensions),
    )
    .await;
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, "/account")]).into_response())
}
