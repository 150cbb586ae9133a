//! Refuses the NUL character (U+0000) in a request's path, query string and urlencoded form:
//! no text a person writes contains it, and PostgreSQL cannot store it in text (SQLite can,
//! which is how the API fuzzer found a 500 on PostgreSQL only). The request is answered 400
//! before any handler runs, with a message saying what to change.

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;

const MESSAGE: &str = "送信された内容に使えない文字（NUL）が含まれています。入力をご確認のうえ、もう一度送信してください / the request contains a NUL character, which is not allowed";

/// Whether percent-encoded text (a path, a query, a urlencoded body) encodes NUL.
pub fn carries_nul(encoded: &[u8]) -> bool {
    encoded.contains(&0) || encoded.windows(3).any(|w| w == b"%00")
}

/// The 400 answer: JSON or an OperationOutcome for programs, an error page for people.
pub fn refused(uri: &Uri, headers: &HeaderMap) -> Response {
    let path = uri.path();
    if crate::openapi::is_machine_route(path) {
        return crate::auth::access::machine_error(path, StatusCode::BAD_REQUEST, MESSAGE);
    }
    crate::error::nul_refused(crate::i18n::lang_from(uri, headers))
}

/// Middleware: 400 when the path or the query string encodes NUL.
pub async fn refuse_nul_in_url(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let in_url = carries_nul(uri.path().as_bytes())
        || uri.query().is_some_and(|q| carries_nul(q.as_bytes()));
    if in_url {
        return refused(uri, request.headers());
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::carries_nul;

    #[test]
    fn nul_is_found_encoded_or_raw_and_nothing_else_is() {
        assert!(carries_nul(b"q=%00"));
        assert!(carries_nul(b"a=1&b=x%00y"));
        assert!(carries_nul(b"q=\0"));
        assert!(!carries_nul(b"q=%E8%A8%AA%E5%95%8F&n=100"));
        assert!(
            !carries_nul(b"q=%2500"),
            "an encoded percent sign followed by 00"
        );
    }
}
