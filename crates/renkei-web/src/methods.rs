//! 405 Method Not Allowed, with `Allow`, for a request whose path is a route that takes other
//! methods (`DELETE /fhir/metadata`, `TRACE /healthz`). It runs before the session layer, which
//! would otherwise refuse any state-changing method for want of a CSRF token (403) and so hide
//! what is really wrong. A state-changing request to a path of no route at all is a 404 here, for
//! the same reason. The paths are matched as the router matches them (matchit).

use crate::routes::RouteRule;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The methods each route pattern takes.
#[derive(Debug)]
pub struct Allowed(matchit::Router<BTreeSet<&'static str>>);

impl Allowed {
    /// From the route table.
    pub fn of(rules: &[RouteRule]) -> Arc<Self> {
        let mut by_path: std::collections::BTreeMap<&str, BTreeSet<&'static str>> =
            Default::default();
        for rule in rules {
            let methods = by_path.entry(rule.path).or_default();
            methods.insert(rule.method);
            if rule.method == "GET" {
                methods.insert("HEAD");
            }
        }
        let mut router = matchit::Router::new();
        for (path, methods) in by_path {
            // Every pattern is one axum accepted, so matchit accepts it too.
            let _ = router.insert(path, methods);
        }
        Arc::new(Self(router))
    }

    /// What the route table says of `method` on `path`.
    fn verdict(&self, method: &Method, path: &str) -> Verdict<'_> {
        match self.0.at(path) {
            Ok(found) if found.value.contains(method.as_str()) => Verdict::Taken,
            Ok(found) => Verdict::OtherMethods(found.value),
            // Reads of unknown paths go on to the fallback, which shows the signed-in chrome.
            Err(_) if method.is_safe() => Verdict::Taken,
            Err(_) => Verdict::NoRoute,
        }
    }
}

/// What the route table says of a request.
enum Verdict<'a> {
    /// A route takes it (or it is a read the fallback answers).
    Taken,
    /// The path's route takes only these methods.
    OtherMethods(&'a BTreeSet<&'static str>),
    /// A state-changing method on a path of no route.
    NoRoute,
}

/// Middleware: 405 with `Allow` when the path's route does not take the method, 404 when a
/// state-changing request's path has no route.
pub async fn refuse_other_methods(
    State(allowed): State<Arc<Allowed>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let methods = match allowed.verdict(request.method(), path) {
        Verdict::Taken => return next.run(request).await,
        Verdict::NoRoute if crate::openapi::is_machine_route(path) => {
            return crate::auth::access::machine_error(
                path,
                StatusCode::NOT_FOUND,
                "このアドレスはありません / no such resource",
            )
        }
        Verdict::NoRoute => {
            return crate::error::not_found_for(crate::i18n::lang_from(
                request.uri(),
                request.headers(),
            ))
        }
        Verdict::OtherMethods(methods) => methods,
    };
    let allow = methods.iter().copied().collect::<Vec<_>>().join(", ");
    let message = format!("この操作（{}）には対応していません。使えるのは {allow} です / method not allowed; use {allow}", request.method());
    let mut response = if crate::openapi::is_machine_route(path) {
        crate::auth::access::machine_error(path, StatusCode::METHOD_NOT_ALLOWED, &message)
    } else {
        (StatusCode::METHOD_NOT_ALLOWED, message).into_response()
    };
    if let Ok(value) = HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}
