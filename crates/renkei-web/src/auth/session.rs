//! Who is asking: the session middleware that turns the cookie into a [`Viewer`], keeps
//! sessions alive within their idle and absolute limits, and rejects state-changing requests
//! without the right CSRF token.

use super::cookies;
use super::secrets::random_hex;
use crate::clock::db_text;
use crate::AppState;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;
use renkei_domain::accounts::AccountRole;
use renkei_domain::audit::{token_hash, Outcome};
use renkei_domain::totp::constant_time_eq;
use renkei_store::accounts::{SessionRecord, User};
use renkei_store::audit::AuditEvent;
use std::net::SocketAddr;

/// The person behind a request.
#[derive(Debug, Clone)]
pub enum Viewer {
    /// Not logged in; `csrf` protects the forms shown before login (login, password reset).
    Anonymous {
        /// The pre-login CSRF token (double-submit cookie).
        csrf: String,
    },
    /// Password accepted; the second factor (or its enrolment) is still owed.
    Pending {
        /// The user.
        user: Box<User>,
        /// The session.
        session: Box<SessionRecord>,
    },
    /// A machine client with an API token (only for `/api/` routes).
    Token {
        /// The token's owner.
        user: Box<User>,
        /// The token.
        token: Box<renkei_store::accounts::ApiToken>,
    },
    /// Fully logged in.
    SignedIn {
        /// The user.
        user: Box<User>,
        /// The session.
        session: Box<SessionRecord>,
    },
}

impl Viewer {
    /// The user, once the password step has passed.
    pub fn user(&self) -> Option<&User> {
        match self {
            Viewer::Anonymous { .. } => None,
            Viewer::Pending { user, .. }
            | Viewer::SignedIn { user, .. }
            | Viewer::Token { user, .. } => Some(user),
        }
    }

    /// The fully logged-in user (by session or API token).
    pub fn signed_in(&self) -> Option<&User> {
        match self {
            Viewer::SignedIn { user, .. } | Viewer::Token { user, .. } => Some(user),
            _ => None,
        }
    }

    /// Whether the token allows `scope` (sessions allow everything their roles allow).
    pub fn has_scope(&self, scope: &str) -> bool {
        match self {
            Viewer::Token { token, .. } => token.scopes.split_whitespace().any(|s| s == scope),
            _ => true,
        }
    }

    /// The session, once the password step has passed.
    pub fn session(&self) -> Option<&SessionRecord> {
        match self {
            Viewer::Anonymous { .. } | Viewer::Token { .. } => None,
            Viewer::Pending { session, .. } | Viewer::SignedIn { session, .. } => Some(session),
        }
    }

    /// The CSRF token forms must carry.
    pub fn csrf_token(&self) -> &str {
        match self {
            Viewer::Anonymous { csrf } => csrf,
            Viewer::Token { .. } => "",
            Viewer::Pending { session, .. } | Viewer::SignedIn { session, .. } => {
                &session.csrf_token
            }
        }
    }
}

/// The client's address (the socket peer, or the address a trusted proxy names), for
/// throttling and the audit log.
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

/// Idle sessions are touched at most this often, to keep reads from writing on every request.
const TOUCH_EVERY_SECONDS: i64 = 60;

/// Middleware: resolves the viewer, enforces CSRF on state-changing requests.
pub async fn authenticate(
    State(app): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let client =
        super::client::client_address(peer, request.headers(), &app.config.trusted_proxies);
    let secure = app.config.secure_cookies;
    let headers = request.headers().clone();
    if let Some(bearer) =
        bearer_token(&headers).filter(|_| super::access::is_machine_path(request.uri().path()))
    {
        return match token_viewer(&app, &bearer).await {
            Ok(Some(viewer)) => {
                request.extensions_mut().insert(ClientAddr(client));
                request.extensions_mut().insert(viewer);
                next.run(request).await
            }
            Ok(None) => super::access::machine_error(
                request.uri().path(),
                axum::http::StatusCode::UNAUTHORIZED,
                "API トークンが無効です / invalid or revoked API token",
            ),
            Err(e) => {
                tracing::error!(error = %e, "token lookup failed");
                super::access::machine_error(
                    request.uri().path(),
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "データベースに接続できません / database unavailable",
                )
            }
        };
    }
    let (viewer, new_csrf, clear_session) = match resolve(&app, &headers).await {
        Ok(Some(viewer)) => (viewer, None, false),
        Ok(None) => {
            let had_cookie =
                cookies::get(request.headers(), cookies::session_name(secure)).is_some();
            match cookies::get(request.headers(), cookies::csrf_name(secure))
                .filter(|t| t.len() == 64)
            {
                Some(csrf) => (Viewer::Anonymous { csrf }, None, had_cookie),
                None => {
                    let csrf = random_hex(32);
                    (
                        Viewer::Anonymous { csrf: csrf.clone() },
                        Some(csrf),
                        had_cookie,
                    )
                }
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed");
            return crate::error::unavailable_response();
        }
    };
    request.extensions_mut().insert(ClientAddr(client.clone()));
    // A FHIR search sent by POST reads only; its handler bounds and checks its own body.
    if is_state_changing(request.method()) && !crate::fhir::is_search_post(request.uri().path()) {
        let (parts, body) = request.into_parts();
        // The larger upload limit only for someone who may upload there, already signed in:
        // directory files from a coordinator or the administrator, BCPs from institution
        // staff. Anyone else is held to the ordinary limit before a byte more is read.
        let limit = match (
            crate::routes::upload_of(parts.uri.path()),
            viewer.signed_in(),
        ) {
            (Some(crate::routes::Upload::Directory), Some(u))
                if u.has_role(AccountRole::HubCoordinator)
                    || u.has_role(AccountRole::SystemAdmin) =>
            {
                app.config.upload_limit
            }
            (Some(crate::routes::Upload::Bcp), Some(u))
                if u.has_role(AccountRole::InstitutionAdmin)
                    || u.has_role(AccountRole::InstitutionStaff)
                    || u.has_role(AccountRole::SystemAdmin) =>
            {
                // The PDF and the form around it.
                renkei_domain::readiness::MAX_BCP_BYTES + 64 * 1024
            }
            (Some(crate::routes::Upload::CareFiles), Some(u)) if u.totp_enabled => {
                // A post's files (or the consent form) and the text around them.
                crate::routes::CARE_FILES_LIMIT
            }
            _ => app.config.body_limit,
        };
        let bytes = match axum::body::to_bytes(body, limit).await {
            Ok(b) => b,
            Err(e) if crate::body_progress::is_stall(&e) => return crate::body_progress::stalled(),
            Err(_) => {
                // Refused before it was read to the end; on record, as any refused upload.
                let event = AuditEvent::new(
                    viewer.user().map(|u| u.id),
                    "request.too_large",
                    Outcome::Denied,
                    format!("route:{}", parts.uri.path()),
                    client,
                );
                let _ = app.store.append_audit(&event).await;
                return crate::error::payload_too_large();
            }
        };
        let sent = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| form_field(&bytes, "csrf_token"))
            .or_else(|| {
                let media = parts.headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
                multipart_field(media, &bytes, "csrf_token")
            });
        let valid =
            sent.is_some_and(|t| constant_time_eq(t.as_bytes(), viewer.csrf_token().as_bytes()));
        if !valid {
            let actor = viewer.user().map(|u| u.id);
            let event = AuditEvent::new(
                actor,
                "csrf.rejected",
                Outcome::Denied,
                format!("route:{}", parts.uri.path()),
                client,
            );
            let _ = app.store.append_audit(&event).await;
            let lang = crate::i18n::lang_of(&parts);
            return crate::error::csrf_rejected(lang, new_csrf, secure);
        }
        let urlencoded = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if urlencoded && crate::input::carries_nul(&bytes) {
            return crate::input::refused(&parts.uri, &parts.headers);
        }
        request = Request::from_parts(parts, Body::from(bytes));
    }
    let has_session = viewer.user().is_some();
    request.extensions_mut().insert(viewer);
    let mut response = next.run(request).await;
    // Whatever a signed-in person is shown may hold patient data or secrets: never kept by
    // the browser or a shared cache, so the back button on a shared PC shows nothing after
    // logout (L2 of the security probe). A route that says otherwise keeps its own header.
    if has_session && !response.headers().contains_key(header::CACHE_CONTROL) {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
    }
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    // Only pages carry forms; health checks, metrics and assets need no token.
    if let (Some(csrf), true) = (new_csrf, is_html) {
        response.headers_mut().append(
            header::SET_COOKIE,
            cookies::set(cookies::csrf_name(secure), &csrf, secure, None),
        );
    }
    // A dead session cookie is cleared, unless this very answer starts a new session (a login
    // posted from a page left open while the old session ended): clearing it after setting the
    // new one would log the user straight out again.
    let sets_session = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|c| c.starts_with(&format!("{}=", cookies::session_name(secure))));
    if clear_session && !sets_session {
        response.headers_mut().append(
            header::SET_COOKIE,
            cookies::set(cookies::session_name(secure), "", secure, Some(0)),
        );
    }
    response
}

fn bearer_token(headers: &axum::http::HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

async fn token_viewer(
    app: &AppState,
    token: &str,
) -> Result<Option<Viewer>, renkei_store::StoreError> {
    let now = db_text(app.clock.now());
    let Some(record) = app.store.use_api_token(&token_hash(token), &now).await? else {
        return Ok(None);
    };
    let Some(user) = app
        .store
        .user(record.user_id)
        .await?
        .filter(|u| !u.disabled)
    else {
        return Ok(None);
    };
    Ok(Some(Viewer::Token {
        user: Box::new(user),
        token: Box::new(record),
    }))
}

fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// One field of a urlencoded form body.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// A short text field of a `multipart/form-data` body (the CSRF token of an upload form), read
/// without parsing the files around it.
pub fn multipart_field(content_type: &str, body: &[u8], name: &str) -> Option<String> {
    let boundary = content_type
        .strip_prefix("multipart/form-data")?
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let wanted = format!("name=\"{name}\"");
    let mut rest = body;
    while let Some(at) = find(rest, delimiter.as_bytes()) {
        rest = &rest[at + delimiter.len()..];
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&rest[..head_end]).ok()?;
        let content = &rest[head_end + 4..];
        if head.lines().any(|l| {
            l.to_ascii_lowercase().starts_with("content-disposition") && l.contains(&wanted)
        }) {
            let end = find(content, format!("\r\n{delimiter}").as_bytes())?;
            return std::str::from_utf8(&content[..end]).ok().map(str::to_owned);
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The viewer of a request that carries a valid session cookie, or `None`.
async fn resolve(
    app: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<Option<Viewer>, renkei_store::StoreError> {
    let secure = app.config.secure_cookies;
    let Some(token) = cookies::get(headers, cookies::session_name(secure)) else {
        return Ok(None);
    };
    let hash = token_hash(&token);
    let Some(session) = app.store.session(&hash).await? else {
        return Ok(None);
    };
    let now = app.clock.now();
    let now_text = db_text(now);
    let idle_limit = db_text(now - app.config.session_idle);
    if session.expires_at <= now_text || session.last_seen_at < idle_limit {
        app.store.delete_session(&hash).await?;
        return Ok(None);
    }
    let Some(user) = app.store.user(session.user_id).await? else {
        return Ok(None);
    };
    if user.disabled {
        return Ok(None);
    }
    if session.last_seen_at < db_text(now - chrono::Duration::seconds(TOUCH_EVERY_SECONDS)) {
        app.store.touch_session(&hash, &now_text).await?;
    }
    let (user, session) = (Box::new(user), Box::new(session));
    Ok(Some(if session.second_factor_done {
        Viewer::SignedIn { user, session }
    } else {
        Viewer::Pending { user, session }
    }))
}

/// Starts a session for `user`: returns the cookie to set. `second_factor_done` is false while
/// the second factor (or its enrolment) is still owed.
pub async fn start_session(
    app: &AppState,
    user: &User,
    second_factor_done: bool,
    client: &str,
    user_agent: &str,
) -> Result<axum::http::HeaderValue, renkei_store::StoreError> {
    let token = random_hex(32);
    let now = app.clock.now();
    let record = SessionRecord {
        token_hash: token_hash(&token),
        user_id: user.id,
        csrf_token: random_hex(32),
        second_factor_done,
        created_at: db_text(now),
        last_seen_at: db_text(now),
        expires_at: db_text(now + app.config.session_lifetime),
        client: client.to_owned(),
        user_agent: user_agent.chars().take(120).collect(),
    };
    app.store.create_session(&record).await?;
    let secure = app.config.secure_cookies;
    Ok(cookies::set(
        cookies::session_name(secure),
        &token,
        secure,
        None,
    ))
}

/// The cookie that removes the session cookie.
pub fn clear_session_cookie(app: &AppState) -> axum::http::HeaderValue {
    let secure = app.config.secure_cookies;
    cookies::set(cookies::session_name(secure), "", secure, Some(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_fields_are_found_without_reading_the_files() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\nabc123\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\nContent-Type: text/csv\r\n\r\n\xe5\x90\x8d,x\r\n--XyZ--\r\n";
        let media = "multipart/form-data; boundary=XyZ";
        assert_eq!(
            multipart_field(media, body, "csrf_token").as_deref(),
            Some("abc123")
        );
        assert_eq!(multipart_field(media, body, "missing"), None);
        assert_eq!(multipart_field("text/plain", body, "csrf_token"), None);
        assert_eq!(multipart_field(media, b"garbage", "csrf_token"), None);
    }

    #[test]
    fn form_fields_are_decoded() {
        let body =
            b"email=sato%40example.jp&csrf_token=abc123&name=%E5%85%AB%E5%B0%BE+%E8%8A%B1%E5%AD%90";
        assert_eq!(form_field(body, "csrf_token").as_deref(), Some("abc123"));
        assert_eq!(
            form_field(body, "email").as_deref(),
            Some("sato@example.jp")
        );
        assert_eq!(form_field(body, "name").as_deref(), Some("八尾 花子"));
        assert_eq!(
            form_field(b"bad=%E", "bad").as_deref(),
            Some("%E"),
            "a broken escape stays as typed"
        );
        assert_eq!(form_field(b"", "csrf_token"), None);
    }
}
