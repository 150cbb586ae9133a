//! Guessing limits for the login's two steps, with exponential backoff. Attempts are counted in
//! the database so every instance sees them, and reserved before they are judged
//! ([`begin`]), so attempts racing each other cannot slip past a limit together.
//!
//! The limits slow the guesser, not the owner:
//! - a password is counted per account *and address* ([`pair_key`], 5 free), per address
//!   ([`client_key`], 20 free) and per account over all addresses ([`account_key`], a softer 30
//!   free, with a mail to the owner at [`ACCOUNT_NOTICE_AT`]). A browser in which the account
//!   signed in before carries a signed device cookie: its password attempts count under that
//!   device ([`device_key`]) instead of the account-wide ceiling, so someone guessing from
//!   elsewhere cannot lock the owner out of their own browser;
//! - second-factor codes are counted per account under their own key ([`second_factor_key`],
//!   5 free), which a correct password never resets, and per address.
//!
//! The same rules apply to unknown accounts, so the answer never tells whether one exists.

use crate::AppState;
use chrono::{DateTime, Duration, Utc};
use renkei_store::accounts::AttemptOutcome;
use renkei_store::StoreError;

/// Password failures allowed per account and address before backoff starts.
pub const PAIR_FREE_FAILURES: i64 = 5;
/// Password failures allowed from one browser that signed in before (device cookie).
pub const DEVICE_FREE_FAILURES: i64 = 5;
/// Password failures allowed per account over all addresses (the softer ceiling against
/// guessing spread over many addresses).
pub const ACCOUNT_FREE_FAILURES: i64 = 30;
/// At this many failures in the window the account's owner is mailed.
pub const ACCOUNT_NOTICE_AT: i64 = 10;
/// Second-factor failures allowed per account before backoff starts.
pub const SECOND_FACTOR_FREE_FAILURES: i64 = 5;
/// Failures allowed per client address before backoff starts.
pub const CLIENT_FREE_FAILURES: i64 = 20;

/// Window in which failures count.
pub fn window() -> Duration {
    Duration::minutes(30)
}
/// Longest wait imposed.
pub fn max_wait() -> Duration {
    Duration::minutes(15)
}

/// How long to wait after `failures` failures (the last at `last`) before another try, when
/// `free` failures are allowed: 30 s, 1 min, 2 min … up to 15 min.
pub fn wait_until(failures: i64, free: i64, last: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    if failures < free {
        return None;
    }
    let doublings = u32::try_from(failures - free).unwrap_or(u32::MAX).min(10);
    let wait = Duration::seconds(30 * 2i64.pow(doublings)).min(max_wait());
    last.map(|at| at + wait)
}

/// The account-wide key (by the normalised address typed, existing or not).
pub fn account_key(email: &str) -> String {
    format!("account:{email}")
}

/// The key of one account tried from one address.
pub fn pair_key(email: &str, client: &str) -> String {
    format!("pair:{email}|{client}")
}

/// The key of a browser that signed in to the account before (its device cookie's nonce).
pub fn device_key(device: &str) -> String {
    format!("device:{device}")
}

/// The key of an account's second-factor codes.
pub fn second_factor_key(user: i64) -> String {
    format!("second_factor:{user}")
}

/// The throttle key of a client address. An IPv6 address counts as its /64 network: one
/// connection usually holds a whole /64, so single addresses would give a guesser millions.
pub fn client_key(client: &str) -> String {
    match client.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("client:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => format!("client:{client}"),
    }
}

/// One limit an attempt is held to.
#[derive(Debug, Clone)]
pub struct Limit {
    /// The throttle key.
    pub key: String,
    /// Failures allowed before backoff.
    pub free: i64,
    /// Whether a success starts the count again (an address's or the account-wide count does
    /// not: one correct login does not excuse others' failures).
    pub reset_by_success: bool,
}

impl Limit {
    /// A limit whose count a success resets.
    pub fn resetting(key: String, free: i64) -> Self {
        Self {
            key,
            free,
            reset_by_success: true,
        }
    }

    /// A limit whose count only time resets.
    pub fn lasting(key: String, free: i64) -> Self {
        Self {
            key,
            free,
            reset_by_success: false,
        }
    }
}

/// The limits of a password attempt for the address typed (`account`, normalised) from
/// `client`: with the account's `device` cookie, per device; otherwise per account and address
/// and against the account-wide ceiling; per address in every case.
pub fn password_limits(account: &str, client: &str, device: Option<&str>) -> Vec<Limit> {
    let mut limits = vec![Limit::lasting(client_key(client), CLIENT_FREE_FAILURES)];
    match device {
        Some(nonce) => limits.push(Limit::resetting(device_key(nonce), DEVICE_FREE_FAILURES)),
        None => {
            limits.push(Limit::resetting(
                pair_key(account, client),
                PAIR_FREE_FAILURES,
            ));
            limits.push(Limit::lasting(account_key(account), ACCOUNT_FREE_FAILURES));
        }
    }
    limits
}

/// The limits of a second-factor code of `user` from `client`: per account under its own key
/// (a correct password never resets it) and per address.
pub fn second_factor_limits(user: i64, client: &str) -> Vec<Limit> {
    vec![
        Limit::resetting(second_factor_key(user), SECOND_FACTOR_FREE_FAILURES),
        Limit::lasting(client_key(client), CLIENT_FREE_FAILURES),
    ]
}

/// What [`begin`] decided.
#[derive(Debug)]
pub enum Verdict {
    /// Judge the attempt, then settle it.
    Go(Attempt),
    /// Refused until then (nothing was counted).
    Wait(DateTime<Utc>),
}

/// An attempt reserved under its limits; settle it once judged.
#[derive(Debug)]
#[must_use = "an attempt must be settled"]
pub struct Attempt {
    rows: Vec<(i64, Limit)>,
}

/// Reserves an attempt under `limits` at `now`: refused (and not counted) when any limit
/// still imposes a wait.
pub async fn begin(
    app: &AppState,
    limits: Vec<Limit>,
    now: DateTime<Utc>,
) -> Result<Verdict, StoreError> {
    let keys: Vec<String> = limits.iter().map(|l| l.key.clone()).collect();
    let since = crate::clock::db_text(now - window());
    let reserved = app
        .store
        .reserve_login_attempts(&keys, &since, &crate::clock::db_text(now))
        .await?;
    let mut latest: Option<DateTime<Utc>> = None;
    for (r, limit) in reserved.iter().zip(&limits) {
        let last = r
            .last_failure
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        if let Some(until) = wait_until(r.failures_before, limit.free, last).filter(|u| *u > now) {
            latest = Some(latest.map_or(until, |l| l.max(until)));
        }
    }
    let rows: Vec<(i64, Limit)> = reserved.iter().map(|r| r.id).zip(limits).collect();
    if let Some(until) = latest {
        let forget: Vec<(i64, AttemptOutcome)> = rows
            .iter()
            .map(|(id, _)| (*id, AttemptOutcome::Forgotten))
            .collect();
        app.store.settle_login_attempts(&forget).await?;
        return Ok(Verdict::Wait(until));
    }
    Ok(Verdict::Go(Attempt { rows }))
}

impl Attempt {
    /// The attempt failed: it counts under every limit.
    pub async fn failed(self, app: &AppState) -> Result<(), StoreError> {
        let settled: Vec<(i64, AttemptOutcome)> = self
            .rows
            .iter()
            .map(|(id, _)| (*id, AttemptOutcome::Failed))
            .collect();
        app.store.settle_login_attempts(&settled).await
    }

    /// The attempt succeeded: limits reset by success start again; the others forget it.
    pub async fn succeeded(self, app: &AppState) -> Result<(), StoreError> {
        let settled: Vec<(i64, AttemptOutcome)> = self
            .rows
            .iter()
            .map(|(id, limit)| {
                let outcome = if limit.reset_by_success {
                    AttemptOutcome::Succeeded
                } else {
                    AttemptOutcome::Forgotten
                };
                (*id, outcome)
            })
            .collect();
        app.store.settle_login_attempts(&settled).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let t = Utc::now();
        assert_eq!(wait_until(4, 5, Some(t)), None);
        assert_eq!(wait_until(5, 5, Some(t)), Some(t + Duration::seconds(30)));
        assert_eq!(wait_until(6, 5, Some(t)), Some(t + Duration::seconds(60)));
        assert_eq!(wait_until(50, 5, Some(t)), Some(t + Duration::minutes(15)));
    }

    #[test]
    fn an_ipv6_client_counts_as_its_network() {
        assert_eq!(
            client_key("2001:db8:1:2:aaaa::1"),
            client_key("2001:db8:1:2:bbbb::9")
        );
        assert_ne!(client_key("2001:db8:1:2::1"), client_key("2001:db8:1:3::1"));
        assert_eq!(client_key("192.0.2.1"), "client:192.0.2.1");
    }
}
