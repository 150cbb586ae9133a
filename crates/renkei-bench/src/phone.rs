//! What a responder's phone sends to answer a safety check, as a browser does it: it opens the
//! link (`GET /r/{token}`: the form, which sets the pre-login CSRF cookie and carries the same
//! token in a hidden field), posts the quick answer to the form's action with that cookie and
//! field, and follows the 303 to the next step (`/r/{token}/details`). Nothing is made up: the
//! cookie and token are the ones the server handed out for this answer.
//!
//! Also the small pieces of a browser the benchmarks need elsewhere: a cookie jar, hidden form
//! fields, form encoding.

use crate::load::{Conn, Reply};
use std::time::Instant;

/// The quick answer of the surge's load, in the form's field order (after `csrf_token`).
pub const LOAD_FIELDS: &str =
    "people=safe&building=intact&power=generator&water=limited&fuel_hours=24&can_accept=2";

/// The quick answer of a probe (distinct from the load's, though the probe is found by its id).
pub const PROBE_FIELDS: &str =
    "people=safe&building=intact&power=grid&water=available&fuel_hours=&can_accept=1";

/// Cookies a server set, sent back as a browser would (one `Cookie` header).
#[derive(Debug, Clone, Default)]
pub struct Jar(Vec<(String, String)>);

impl Jar {
    /// Takes the `Set-Cookie` headers of a reply (a cookie with `Max-Age=0` is removed).
    pub fn absorb(&mut self, reply: &Reply) {
        for line in reply.headers("set-cookie") {
            let mut parts = line.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.trim().split_once('=')) else {
                continue;
            };
            let expired = parts.any(|p| p.trim().eq_ignore_ascii_case("max-age=0"));
            self.0.retain(|(n, _)| n != name);
            if !expired {
                self.0.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    /// The `Cookie:` header line (with its CRLF), or nothing when the jar is empty.
    pub fn header_line(&self) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let pairs: Vec<String> = self.0.iter().map(|(n, v)| format!("{n}={v}")).collect();
        format!("Cookie: {}\r\n", pairs.join("; "))
    }

    /// Whether it holds a cookie of this name.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }
}

/// A GET request as a browser sends it.
pub fn get_request(path: &str, jar: &Jar) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: renkei-bench\r\nAccept: text/html\r\n{}\r\n",
        jar.header_line()
    )
    .into_bytes()
}

/// A form POST as a browser sends it.
pub fn post_request(path: &str, jar: &Jar, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: renkei-bench\r\nAccept: text/html\r\n{}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        jar.header_line(),
        body.len()
    )
    .into_bytes()
}

/// The value of the first `<input … name="NAME" value="…">` of a page (attributes in the order
/// Renkei's templates write them), unescaped.
pub fn hidden_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(unescape(&html[start..start + end]))
}

/// The action of the page's first `<form method="post" …>`, unescaped.
pub fn post_action(html: &str) -> Option<String> {
    let form = html.find("<form method=\"post\" action=\"")?;
    let start = form + "<form method=\"post\" action=\"".len();
    let end = html[start..].find('"')?;
    Some(unescape(&html[start..start + end]))
}

fn unescape(text: &str) -> String {
    text.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The path of a `Location` (the server sends a path; an absolute URL is cut to its path).
pub fn location_path(location: &str) -> String {
    match location.split_once("://") {
        Some((_, rest)) => rest
            .find('/')
            .map(|at| rest[at..].to_owned())
            .unwrap_or_else(|| "/".to_owned()),
        None => location.to_owned(),
    }
}

fn expect(step: &str, reply: &Reply, status: u16) -> Result<(), String> {
    if reply.status == status {
        Ok(())
    } else {
        Err(format!(
            "{step}: status {} (expected {status})",
            reply.status
        ))
    }
}

/// One whole answer on `conn`, as a phone without cookies sends it: the form, the post with the
/// form's own CSRF cookie and token, the page the 303 leads to. `fields` is the quick answer
/// (see [`LOAD_FIELDS`]). Returns when the 303 arrived (the answer is acknowledged: stored by
/// then). `Err` names the step that failed and why.
pub async fn answer(conn: &mut Conn, token: &str, fields: &str) -> Result<Instant, String> {
    let mut jar = Jar::default();
    let form = conn
        .exchange(&get_request(&format!("/r/{token}"), &jar))
        .await
        .map_err(|e| format!("1 form (GET /r/…): {e}"))?;
    expect("1 form (GET /r/…)", &form, 200)?;
    jar.absorb(&form);
    let html = form.text();
    let csrf = hidden_field(&html, "csrf_token")
        .ok_or_else(|| "1 form (GET /r/…): no csrf_token field".to_owned())?;
    let action = post_action(&html).ok_or_else(|| "1 form (GET /r/…): no post form".to_owned())?;
    let body = format!("csrf_token={}&{fields}", form_encode(&csrf));
    let posted = conn
        .exchange(&post_request(&action, &jar, &body))
        .await
        .map_err(|e| format!("2 answer (POST /r/…): {e}"))?;
    let acknowledged = Instant::now();
    expect("2 answer (POST /r/…)", &posted, 303)?;
    jar.absorb(&posted);
    let next = posted
        .header("location")
        .map(location_path)
        .ok_or_else(|| "2 answer (POST /r/…): a 303 without Location".to_owned())?;
    let page = conn
        .exchange(&get_request(&next, &jar))
        .await
        .map_err(|e| format!("3 next step (GET /r/…/details): {e}"))?;
    expect("3 next step (GET /r/…/details)", &page, 200)?;
    Ok(acknowledged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_cookies_read_as_a_browser_reads_them() {
        let html = r#"<form method="post" action="/r/abc?lang=en&amp;x=1">
<input type="hidden" name="csrf_token" value="00ff">"#;
        assert_eq!(hidden_field(html, "csrf_token").as_deref(), Some("00ff"));
        assert_eq!(hidden_field(html, "next"), None);
        assert_eq!(post_action(html).as_deref(), Some("/r/abc?lang=en&x=1"));
        let reply = Reply {
            status: 200,
            head: "HTTP/1.1 200 OK\r\nSet-Cookie: renkei_csrf=00ff; Path=/; HttpOnly\r\nset-cookie: old=1; Max-Age=0\r\n\r\n".to_owned(),
            body: Vec::new(),
        };
        let mut jar = Jar::default();
        jar.absorb(&reply);
        assert!(jar.has("renkei_csrf") && !jar.has("old"));
        assert_eq!(jar.header_line(), "Cookie: renkei_csrf=00ff\r\n");
        assert_eq!(form_encode("a b@c/ä"), "a+b%40c%2F%C3%A4");
        assert_eq!(location_path("http://127.0.0.1:9/r/x"), "/r/x");
        assert_eq!(
            location_path("/r/x/details?saved=1"),
            "/r/x/details?saved=1"
        );
    }
}
