//! Reading and writing the cookies Renkei sets: the session and the pre-login CSRF token.

use axum::http::{header, HeaderMap, HeaderValue};

/// Session cookie name; with TLS the `__Host-` prefix pins it to this host and path.
pub fn session_name(secure: bool) -> &'static str {
    if secure {
        "__Host-renkei_session"
    } else {
        "renkei_session"
    }
}

/// Name of the cookie carrying the CSRF token of forms shown before login.
pub fn csrf_name(secure: bool) -> &'static str {
    if secure {
        "__Host-renkei_csrf"
    } else {
        "renkei_csrf"
    }
}

/// The value of a cookie in the request.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure under TLS; `max_age` in seconds
/// (`None` for a browser-session cookie, `Some(0)` to delete).
pub fn set(name: &str, value: &str, secure: bool, max_age: Option<i64>) -> HeaderValue {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if secure {
        cookie.push_str("; Secure");
    }
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("renkei_invalid=1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_and_written_with_their_attributes() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; renkei_session=abc; b=2"),
        );
        assert_eq!(get(&headers, "renkei_session").as_deref(), Some("abc"));
        assert_eq!(get(&headers, "missing"), None);
        let v = set("__Host-renkei_session", "x", true, Some(0));
        let text = v.to_str().unwrap();
        assert!(
            text.contains("HttpOnly")
                && text.contains("SameSite=Lax")
                && text.contains("Secure")
                && text.contains("Max-Age=0")
        );
        assert!(!set("renkei_session", "x", false, None)
            .to_str()
            .unwrap()
            .contains("Secure"));
    }
}
