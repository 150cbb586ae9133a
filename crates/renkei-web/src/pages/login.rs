//! Logging in (password, then the second factor) and out. Failures are counted per account and
//! per client address; the answers never tell whether an account exists.

use crate::auth::access::client_of;
use crate::auth::secrets::{recovery_code_hash, verify_password};
use crate::auth::session::{clear_session_cookie, start_session};
use crate::auth::{throttle, Viewer};
use crate::chrome::Chrome;
use crate::clock::{db_text, jst_text};
use crate::error::{Ctx, PageError};
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use chrono::{DateTime, Utc};
use renkei_domain::accounts::Email;
use renkei_domain::audit::Outcome;
use renkei_domain::totp;
use renkei_store::accounts::User;
use renkei_store::audit::AuditEvent;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "two_factor.html")]
struct SecondFactorPage {
    chrome: Chrome,
    next: String,
    error: Option<String>,
}

/// `?next=` of the login pages.
#[derive(Debug, Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

/// The login form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// The second-factor form.
#[derive(Debug, Deserialize)]
pub struct CodeForm {
    code: String,
    #[serde(default)]
    next: String,
}

/// A path of this site to return to after login, or the home page. Only a plain local path
/// passes: it starts with one `/`, and holds no backslash, white space or control character.
/// Browsers drop tabs and newlines from a URL and read `\` as `/` (the URL standard), so
/// `/\t/evil.example` or `/\\evil.example` would be read as `//evil.example`, another site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n
                    .chars()
                    .any(|c| c == '\\' || c.is_whitespace() || c.is_control()) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

/// `GET /login`.
pub async fn form(ctx: Ctx, Query(q): Query<NextQuery>) -> Result<Response, PageError> {
    if ctx.viewer.signed_in().is_some() {
        return Ok(see_other(&safe_next(q.next.as_deref())));
    }
    let page = LoginPage {
        chrome: Chrome::new(&ctx, "", false),
        email: String::new(),
        next: safe_next(q.next.as_deref()),
        error: None,
    };
    Ok(render(&ctx, &page)?.into_response())
}

/// `POST /login`: checks throttling, then the password; starts a session that still owes the
/// second factor when the user has one or must enrol one.
pub async fn submit(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let client = client_of(&extensions);
    let next = safe_next(Some(&form.next));
    let typed = renkei_domain::text::normalize(&form.email).to_lowercase();
    let now = app.clock.now();
    let fail = |message: String, status: StatusCode| {
        let page = LoginPage {
            chrome: Chrome::new(&ctx, "", false),
            email: form.email.clone(),
            next: next.clone(),
            error: Some(message),
        };
        render(&ctx, &page).map(|html| (status, html).into_response())
    };
    let credentials = match Email::parse(&typed) {
        Ok(email) => app
            .store
            .credentials(&email)
            .await
            .map_err(|e| PageError::store(&ctx, e))?,
        Err(_) => None,
    };
    // A browser in which this account signed in before is counted as itself; any other
    // attempt per account and address, and against the account's softer overall ceiling.
    let device = credentials
        .as_ref()
        .and_then(|c| crate::auth::device::recognise(&app, &headers, c.user_id));
    let limits = throttle::password_limits(&typed, &client, device.as_deref());
    let attempt = match throttle::begin(&app, limits, now)
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    {
        throttle::Verdict::Go(attempt) => attempt,
        throttle::Verdict::Wait(until) => {
            audit(
                &app,
                None,
                "login.throttled",
                Outcome::Denied,
                &format!("account:{typed}"),
                &client,
            )
            .await;
            let message = format!(
                "{} {}",
                ctx_text(&ctx, "auth.throttled"),
                jst_text(&db_text(until))
            );
            return fail(message, StatusCode::TOO_MANY_REQUESTS);
        }
    };
    let password_ok = verify_password(
        credentials
            .as_ref()
            .and_then(|c| c.password_hash.as_deref()),
        &form.password,
    );
    let usable = credentials.as_ref().filter(|c| password_ok && !c.disabled);
    let Some(credentials) = usable else {
        attempt
            .failed(&app)
            .await
            .map_err(|e| PageError::store(&ctx, e))?;
        let actor = credentials.as_ref().map(|c| c.user_id);
        let reason = match &credentials {
            Some(c) if c.disabled => "disabled",
            Some(_) => "password",
            None => "unknown-account",
        };
        let event = AuditEvent::new(
            actor,
            "login.failure",
            Outcome::Failed,
            format!("account:{typed}"),
            client.clone(),
        )
        .with_details(format!("{{\"reason\":\"{reason}\"}}"));
        let _ = app.store.append_audit(&event).await;
        if let Some(owner) = actor {
            warn_owner_of_guessing(&app, owner, &typed, now).await;
        }
        return fail(
            ctx_text(&ctx, "auth.login_failed"),
            StatusCode::UNAUTHORIZED,
        );
    };
    attempt
        .succeeded(&app)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let user = app
        .store
        .user(credentials.user_id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?
        .ok_or_else(|| PageError::not_found(&ctx))?;
    let owes_second_factor =
        user.totp_enabled || app.two_factor_policy().requires_any(&user.roles());
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let cookie = start_session(&app, &user, !owes_second_factor, &client, agent)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let action = if owes_second_factor {
        "login.password"
    } else {
        "login.success"
    };
    audit(
        &app,
        Some(&user),
        action,
        Outcome::Ok,
        &format!("user:{}", user.id.0),
        &client,
    )
    .await;
    let target = if user.totp_enabled {
        format!(
            "/login/two-factor?next={}",
            crate::chrome::encode_path(&next)
        )
    } else if owes_second_factor {
        "/account/two-factor".to_owned()
    } else {
        next
    };
    let mut response = see_other(&target);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    if !owes_second_factor {
        remember_device(&app, &user, &mut response);
    }
    Ok(response)
}

/// Gives the browser that just completed a login the account's device cookie.
pub(crate) fn remember_device(app: &AppState, user: &User, response: &mut Response) {
    if let Some(cookie) = crate::auth::device::issue(app, user.id) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
}

/// `GET /login/two-factor`.
pub async fn second_factor_form(
    ctx: Ctx,
    Query(q): Query<NextQuery>,
) -> Result<Response, PageError> {
    // Only a session that owes its second factor gets here (the route's rule).
    let page = SecondFactorPage {
        chrome: Chrome::new(&ctx, "", false),
        next: safe_next(q.next.as_deref()),
        error: None,
    };
    Ok(render(&ctx, &page)?.into_response())
}

/// `POST /login/two-factor`: a TOTP code (each step once) or a recovery code (each once).
pub async fn second_factor_submit(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    let client = client_of(&extensions);
    let next = safe_next(Some(&form.next));
    let Viewer::Pending { user, session } = &ctx.viewer else {
        return Ok(see_other(&next));
    };
    let now = app.clock.now();
    let fail = |message: String, status: StatusCode| {
        let page = SecondFactorPage {
            chrome: Chrome::new(&ctx, "", false),
            next: next.clone(),
            error: Some(message),
        };
        render(&ctx, &page).map(|html| (status, html).into_response())
    };
    let attempt = match begin_code_attempt(&app, &ctx, user, &client).await? {
        Ok(attempt) => attempt,
        Err(message) => return fail(message, StatusCode::TOO_MANY_REQUESTS),
    };
    let accepted = check_code(&app, user, &form.code, now)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let Some(method) = accepted else {
        attempt
            .failed(&app)
            .await
            .map_err(|e| PageError::store(&ctx, e))?;
        audit(
            &app,
            Some(user),
            "login.second_factor_failure",
            Outcome::Failed,
            &format!("user:{}", user.id.0),
            &client,
        )
        .await;
        return fail(ctx_text(&ctx, "auth.code_failed"), StatusCode::UNAUTHORIZED);
    };
    attempt
        .succeeded(&app)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    // A new token once fully logged in: the half-logged-in token cannot be reused (fixation).
    app.store
        .delete_session(&session.token_hash)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let cookie = start_session(&app, user, true, &client, agent)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let event = AuditEvent::new(
        Some(user.id),
        "login.success",
        Outcome::Ok,
        format!("user:{}", user.id.0),
        client,
    )
    .with_details(format!("{{\"second_factor\":\"{method}\"}}"));
    let _ = app.store.append_audit(&event).await;
    let mut response = see_other(&next);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    remember_device(&app, user, &mut response);
    Ok(response)
}

/// Checks a typed code: `Some("totp")` or `Some("recovery")` when accepted.
pub(crate) async fn check_code(
    app: &AppState,
    user: &User,
    code: &str,
    now: DateTime<Utc>,
) -> Result<Option<&'static str>, renkei_store::StoreError> {
    let Some(credentials) = app.store.credentials_by_id(user.id).await? else {
        return Ok(None);
    };
    let Some(secret) = credentials
        .totp_secret
        .as_deref()
        .and_then(totp::base32_decode)
    else {
        return Ok(None);
    };
    let last = credentials
        .totp_last_step
        .and_then(|s| u64::try_from(s).ok());
    let unix = u64::try_from(now.timestamp()).unwrap_or(0);
    if let Some(step) = totp::verify(&secret, code, unix, last) {
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        return Ok(app
            .store
            .use_totp_step(user.id, step)
            .await?
            .then_some("totp"));
    }
    if app
        .store
        .use_recovery_code(user.id, &recovery_code_hash(code))
        .await?
    {
        return Ok(Some("recovery"));
    }
    Ok(None)
}

/// `POST /logout`.
pub async fn logout(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
) -> Result<Response, PageError> {
    if let Some(session) = ctx.viewer.session() {
        app.store
            .delete_session(&session.token_hash)
            .await
            .map_err(|e| PageError::store(&ctx, e))?;
        let client = client_of(&extensions);
        audit(
            &app,
            ctx.viewer.user(),
            "logout",
            Outcome::Ok,
            &format!("user:{}", session.user_id.0),
            &client,
        )
        .await;
    }
    let mut response = see_other("/");
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_session_cookie(&app));
    Ok(response)
}

/// Mails an account's owner once its password failures in the window reach
/// [`throttle::ACCOUNT_NOTICE_AT`]: someone may be guessing. A failure to mail is logged.
async fn warn_owner_of_guessing(
    app: &AppState,
    owner: renkei_domain::accounts::UserId,
    typed: &str,
    now: DateTime<Utc>,
) {
    let since = db_text(now - throttle::window());
    let failures = match app
        .store
        .failures_since(&throttle::account_key(typed), &since)
        .await
    {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "counting login failures failed");
            return;
        }
    };
    if failures != throttle::ACCOUNT_NOTICE_AT {
        return;
    }
    let Ok(Some(user)) = app.store.user(owner).await else {
        return;
    };
    let body = format!(
        "{name} 様\n\nあなたのアカウントで、この30分にパスワードの誤りが{failures}回ありました（{when}）。\
         ご本人でなければ、誰かがパスワードを推測しようとしている可能性があります。\
         以前ログインした端末からは引き続きログインできます。心当たりがない場合は、パスワードを変更し、\
         地域の拠点またはシステム管理者に連絡してください。\n\n---\n\
         There were {failures} wrong passwords for your account in the last 30 minutes ({when} JST). \
         If it was not you, someone may be guessing: you can still log in from a browser you used \
         before; change your password and tell your hub or the administrator.\n",
        name = user.display_name,
        when = jst_text(&db_text(now)),
    );
    if let Err(e) = app
        .mailer
        .send(
            &app.store,
            &user.email,
            "【Renkei】ログインの失敗が続いています / Repeated failed logins",
            &body,
        )
        .await
    {
        tracing::warn!(error = %e, "could not mail a guessing warning");
    }
}

/// Reserves a second-factor attempt of `user` from `client`: counted per account under its
/// own key (which a correct password never resets) and per address. `Err` holds the message
/// for a throttled attempt (already audited).
pub(crate) async fn begin_code_attempt(
    app: &AppState,
    ctx: &Ctx,
    user: &User,
    client: &str,
) -> Result<Result<throttle::Attempt, String>, PageError> {
    let limits = throttle::second_factor_limits(user.id.0, client);
    match throttle::begin(app, limits, app.clock.now())
        .await
        .map_err(|e| PageError::store(ctx, e))?
    {
        throttle::Verdict::Go(attempt) => Ok(Ok(attempt)),
        throttle::Verdict::Wait(until) => {
            audit(
                app,
                Some(user),
                "login.throttled",
                Outcome::Denied,
                &format!("user:{}", user.id.0),
                client,
            )
            .await;
            Ok(Err(format!(
                "{} {}",
                ctx_text(ctx, "auth.throttled"),
                jst_text(&db_text(until))
            )))
        }
    }
}

/// Records an audit event; a failure to record is logged, never shown to the user.
pub async fn audit(
    app: &AppState,
    actor: Option<&User>,
    action: &str,
    outcome: Outcome,
    target: &str,
    client: &str,
) {
    let event = AuditEvent::new(actor.map(|u| u.id), action, outcome, target, client);
    if let Err(e) = app.store.append_audit(&event).await {
        tracing::error!(error = %e, action, "could not record an audit event");
    }
}

fn ctx_text(ctx: &Ctx, key: &str) -> String {
    crate::i18n::catalog(ctx.lang).get(key)
}
