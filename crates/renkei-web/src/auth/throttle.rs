//! Login throttling per account and per client address, with exponential backoff. Attempts are
//! counted in the database so every instance sees them; the same rules apply to unknown accounts,
//! so the answer never tells whether an account exists.

use chrono::{DateTime, Duration, Utc};

/// Failures allowed per account before backoff starts.
pub const ACCOUNT_FREE_FAILURES: i64 = 5;
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

/// The throttle key of an account (by the normalised address typed, existing or not).
pub fn account_key(email: &str) -> String {
    format!("account:{email}")
}

/// The throttle key of a client address.
pub fn client_key(client: &str) -> String {
    format!("client:{client}")
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
}
