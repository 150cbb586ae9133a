//! Errors as pages a person can act on: what went wrong and what to do, in their language.

use crate::auth::Viewer;
use crate::chrome::Chrome;
use crate::i18n::{lang_of, Lang};
use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use renkei_store::StoreError;
use std::convert::Infallible;

/// What a page handler knows about its request: language, path, request id and viewer.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Language of the response.
    pub lang: Lang,
    /// Request path (without query: queries may hold personal data and are never echoed).
    pub path: String,
    /// The `x-request-id` given to this request.
    pub request_id: Option<String>,
    /// Who is asking.
    pub viewer: Viewer,
    /// The maps' tiles.
    pub map: std::sync::Arc<crate::MapSettings>,
    /// How many requests wait for the viewer's institution's answer (the navigation's badge).
    pub waiting: usize,
    /// How many care-team posts addressed to the viewer they have not seen (a badge too).
    pub mentions: usize,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Ctx {
            lang: lang_of(parts),
            path: parts.uri.path().to_owned(),
            request_id: parts
                .headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            viewer: parts
                .extensions
                .get::<Viewer>()
                .cloned()
                .unwrap_or(Viewer::Anonymous {
                    csrf: String::new(),
                }),
            map: parts
                .extensions
                .get::<std::sync::Arc<crate::MapSettings>>()
                .cloned()
                .unwrap_or_default(),
            waiting: parts
                .extensions
                .get::<crate::notifications::Waiting>()
                .map_or(0, |w| w.coordination),
            mentions: parts
                .extensions
                .get::<crate::notifications::Waiting>()
                .map_or(0, |w| w.mentions),
        })
    }
}

/// A failed page request.
#[derive(Debug)]
pub struct PageError {
    ctx: Box<Ctx>,
    kind: PageErrorKind,
}

#[derive(Debug)]
enum PageErrorKind {
    NotFound,
    Forbidden,
    Store(StoreError),
}

impl PageError {
    /// The page does not exist.
    pub fn not_found(ctx: &Ctx) -> Self {
        Self {
            ctx: Box::new(ctx.clone()),
            kind: PageErrorKind::NotFound,
        }
    }

    /// Signed in, but not allowed to do this here (say, another hub's ledger).
    pub fn forbidden(ctx: &Ctx) -> Self {
        Self {
            ctx: Box::new(ctx.clone()),
            kind: PageErrorKind::Forbidden,
        }
    }

    /// The store failed.
    pub fn store(ctx: &Ctx, error: StoreError) -> Self {
        Self {
            ctx: Box::new(ctx.clone()),
            kind: PageErrorKind::Store(error),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    title: String,
    body: String,
    request_id: Option<String>,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, body) = match &self.kind {
            PageErrorKind::NotFound => (
                StatusCode::NOT_FOUND,
                "error.not_found_title",
                "error.not_found_body",
            ),
            PageErrorKind::Forbidden => (
                StatusCode::FORBIDDEN,
                "error.forbidden_title",
                "error.forbidden_body",
            ),
            PageErrorKind::Store(e) if e.is_unavailable() => {
                tracing::error!(error = %e, "database unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "error.unavailable_title",
                    "error.unavailable_body",
                )
            }
            PageErrorKind::Store(e) => {
                tracing::error!(error = %e, "page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "error.server_title",
                    "error.server_body",
                )
            }
        };
        error_page(
            Chrome::new(&self.ctx, "", false),
            self.ctx.request_id.clone(),
            status,
            title,
            body,
        )
    }
}

fn error_page(
    chrome: Chrome,
    request_id: Option<String>,
    status: StatusCode,
    title: &str,
    body: &str,
) -> Response {
    let page = ErrorPage {
        title: chrome.t.get(title),
        body: chrome.t.get(body),
        request_id: if status.is_server_error() {
            request_id
        } else {
            None
        },
        chrome,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, title.to_owned()).into_response(),
    }
}

/// Fallback for unknown paths: a 404 page in the request's language.
pub async fn not_found(ctx: Ctx) -> Response {
    PageError::not_found(&ctx).into_response()
}

/// A 404 page when only the language is known.
pub fn not_found_for(lang: Lang) -> Response {
    error_page(
        Chrome::bare(lang),
        None,
        StatusCode::NOT_FOUND,
        "error.not_found_title",
        "error.not_found_body",
    )
}

/// 403: logged in, but not allowed here.
pub fn forbidden(lang: Lang, viewer: &Viewer) -> Response {
    let ctx = Ctx {
        lang,
        path: "/".into(),
        request_id: None,
        viewer: viewer.clone(),
        map: Default::default(),
        waiting: 0,
        mentions: 0,
    };
    error_page(
        Chrome::new(&ctx, "", false),
        None,
        StatusCode::FORBIDDEN,
        "error.forbidden_title",
        "error.forbidden_body",
    )
}

/// 403 for a form whose CSRF token is missing or stale; sets a fresh pre-login token.
pub fn csrf_rejected(lang: Lang, new_csrf: Option<String>, secure: bool) -> Response {
    let mut response = error_page(
        Chrome::bare(lang),
        None,
        StatusCode::FORBIDDEN,
        "error.csrf_title",
        "error.csrf_body",
    );
    if let Some(token) = new_csrf {
        response.headers_mut().append(
            header::SET_COOKIE,
            crate::auth::cookies::set(
                crate::auth::cookies::csrf_name(secure),
                &token,
                secure,
                None,
            ),
        );
    }
    response
}

/// 413: the body is larger than allowed.
pub fn payload_too_large() -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "送信されたデータが大きすぎます。内容を減らしてもう一度送信してください。 / The request body is too large.",
    )
        .into_response()
}

/// 400 when a request carries NUL (see `crate::input`), as a page in the reader's language.
pub fn nul_refused(lang: Lang) -> Response {
    error_page(
        Chrome::bare(lang),
        None,
        StatusCode::BAD_REQUEST,
        "error.nul_title",
        "error.nul_body",
    )
}

/// 503 when the database cannot be reached before a page is known.
pub fn unavailable_response() -> Response {
    error_page(
        Chrome::bare(Lang::Ja),
        None,
        StatusCode::SERVICE_UNAVAILABLE,
        "error.unavailable_title",
        "error.unavailable_body",
    )
}

/// The answer when a handler panicked: a plain 500 that reveals nothing.
pub fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "サーバーでエラーが発生しました。時間をおいて再度お試しください。 / Internal server error. Please try again later.",
    )
        .into_response()
}

/// Middleware: the framework's own rejections (a form with a missing field, a path that does not
/// parse, a wrong method) arrive as bare English text; this turns them into a page in the
/// user's language (or JSON under `/api/`), keeping the status.
pub async fn friendly_rejections(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let lang = crate::i18n::lang_from(request.uri(), request.headers());
    let is_api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let status = response.status();
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    let rejected = matches!(
        status,
        StatusCode::BAD_REQUEST
            | StatusCode::UNPROCESSABLE_ENTITY
            | StatusCode::UNSUPPORTED_MEDIA_TYPE
            | StatusCode::METHOD_NOT_ALLOWED
    );
    if !(rejected && plain) {
        return response;
    }
    if is_api {
        let body = serde_json::json!({ "error": "リクエストの形式が正しくありません / malformed request", "status": status.as_u16() });
        return (status, axum::Json(body)).into_response();
    }
    error_page(
        Chrome::bare(lang),
        None,
        status,
        "error.bad_request_title",
        "error.bad_request_body",
    )
}
