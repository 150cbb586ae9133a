//! Device cookies: a browser in which an account completed its login carries a signed cookie
//! naming that account. Password attempts from such a browser are counted under the device, not
//! under the account-wide ceiling, so someone guessing an account's password from elsewhere
//! cannot lock its owner out of their own browser (OWASP's "device cookies"). The cookie is an
//! HMAC under a key derived from the server's secret: nothing is stored, and a cookie made for
//! one account says nothing for another.

use super::cookies;
use crate::AppState;
use axum::http::{HeaderMap, HeaderValue};
use renkei_domain::accounts::UserId;

/// How long a device stays known (seconds; about 400 days, the longest browsers keep).
const LIFETIME_SECONDS: i64 = 400 * 24 * 3600;

/// The cookie's name; with TLS the `__Host-` prefix pins it to this host and path.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-renkei_device"
    } else {
        "renkei_device"
    }
}

fn purpose(user: UserId) -> String {
    format!("device-cookie:{}", user.0)
}

/// A new device cookie for `user` (None when the server has no secret to sign with).
pub fn issue(app: &AppState, user: UserId) -> Option<HeaderValue> {
    let nonce = i64::from_le_bytes(super::secrets::random_bytes(8).try_into().unwrap_or([1; 8]))
        .checked_abs()
        .unwrap_or(1);
    let token = app.store.signed_link(&purpose(user), nonce).ok()?;
    let secure = app.config.secure_cookies;
    Some(cookies::set(
        cookie_name(secure),
        &format!("{}.{token}", user.0),
        secure,
        Some(LIFETIME_SECONDS),
    ))
}

/// The device's nonce when the request carries a valid device cookie of `user`.
pub fn recognise(app: &AppState, headers: &HeaderMap, user: UserId) -> Option<String> {
    let value = cookies::get(headers, cookie_name(app.config.secure_cookies))?;
    let (owner, token) = value.split_once('.')?;
    if owner.parse::<i64>().ok()? != user.0 {
        return None;
    }
    let nonce = app.store.signed_link_target(&purpose(user), token)?;
    Some(nonce.to_string())
}
