//! The time source, replaceable in tests (session expiry, throttling, TOTP).

use chrono::{DateTime, Utc};
use std::fmt::Debug;
use std::sync::Mutex;

/// Where the application reads the current time.
pub trait Clock: Send + Sync + Debug {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until moved: for tests of expiry and throttling.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Mutex::new(start))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: chrono::Duration) {
        if let Ok(mut now) = self.0.lock() {
            *now += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().map(|now| *now).unwrap_or_else(|_| Utc::now())
    }
}

/// Today in Japan, by the application's clock: the day every page's "today" means.
pub fn today(app: &crate::AppState) -> chrono::NaiveDate {
    renkei_domain::japan::today(app.clock.now())
}

/// A time as the text stored in the database (same format as `renkei_store::now_text`).
pub fn db_text(at: DateTime<Utc>) -> String {
    renkei_store::time_text(at)
}

/// A time for people: Asia/Tokyo, 「2026-11-25 14:03」.
pub fn jst_text(at: &str) -> String {
    match DateTime::parse_from_rfc3339(at) {
        Ok(t) => t
            .with_timezone(&renkei_domain::japan::jst())
            .format("%Y-%m-%d %H:%M")
            .to_string(),
        Err(_) => at.to_owned(),
    }
}
