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

/// A path of this site to return to after login, or the home page.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.contains(['\r', '\n']) =>
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
    if let Some(until) = throttled_until(&app, &typed, &client, now)
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    {
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
    let credentials = match Email::parse(&typed) {
        Ok(email) => app
            .store
            .credentials(&email)
            .await
            .map_err(|e| PageError::store(&ctx, e))?,
        Err(_) => None,
    };
    let password_ok = verify_password(
        credentials
            .as_ref()
            .and_then(|c| c.password_hash.as_deref()),
        &form.password,
    );
    let usable = credentials.as_ref().filter(|c| password_ok && !c.disabled);
    let at = db_text(now);
    let Some(credentials) = usable else {
        record_attempt(&app, &typed, &client, false, &at)
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
        return fail(
            ctx_text(&ctx, "auth.login_failed"),
            StatusCode::UNAUTHORIZED,
        );
    };
    record_attempt(&app, &typed, &client, true, &at)
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
    Ok(response)
}

/// `GET /login/two-factor`.
pub async fn second_factor_form(
    ctx: Ctx,
    Query(q): Query<NextQuery>,
) -> Result<Response, PageError> {
    match &ctx.viewer {
        Viewer::SignedIn { .. } => return Ok(see_other(&safe_next(q.next.as_deref()))),
        Viewer::Pending { user, .. } if !user.totp_enabled => {
            return Ok(see_other("/account/two-factor"))
        }
        _ => {}
    }
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
    if let Some(until) = throttled_until(&app, &user.email, &client, now)
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    {
        audit(
            &app,
            Some(user),
            "login.throttled",
            Outcome::Denied,
            &format!("user:{}", user.id.0),
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
    let accepted = check_code(&app, user, &form.code, now)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let at = db_text(now);
    let Some(method) = accepted else {
        record_attempt(&app, &user.email, &client, false, &at)
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
    record_attempt(&app, &user.email, &client, true, &at)
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
    Ok(response)
}

/// Checks a typed code: `Some("totp")` or `Some("recovery")` when accepted.
async fn check_code(
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

/// When the account or client must wait, until when.
async fn throttled_until(
    app: &AppState,
    account: &str,
    client: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, renkei_store::StoreError> {
    let since = db_text(now - throttle::window());
    let mut latest: Option<DateTime<Utc>> = None;
    for (key, free) in [
        (
            throttle::account_key(account),
            throttle::ACCOUNT_FREE_FAILURES,
        ),
        (throttle::client_key(client), throttle::CLIENT_FREE_FAILURES),
    ] {
        let (failures, last) = app.store.recent_failures(&key, &since).await?;
        let last = last
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc));
        if let Some(until) = throttle::wait_until(failures, free, last).filter(|u| *u > now) {
            latest = Some(latest.map_or(until, |l| l.max(until)));
        }
    }
    Ok(latest)
}

async fn record_attempt(
    app: &AppState,
    account: &str,
    client: &str,
    ok: bool,
    at: &str,
) -> Result<(), renkei_store::StoreError> {
    app.store
        .record_login_attempt(&throttle::account_key(account), ok, at)
        .await?;
    if !ok {
        app.store
            .record_login_attempt(&throttle::client_key(client), ok, at)
            .await?;
    }
    Ok(())
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
