//! Japan's clock. Days, months and fiscal years in Renkei are those of Japan (UTC+9, no daylight
//! saving), whatever zone the server or the reader's browser runs in; the time is stored in UTC.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Japan's time zone, UTC+09:00.
pub fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("+09:00 is a valid offset")
}

/// The time `at` as read on a clock in Japan.
pub fn local(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(&jst())
}

/// The day it is in Japan at `at` (from 15:00 UTC, the day after UTC's).
pub fn today(at: DateTime<Utc>) -> NaiveDate {
    local(at).date_naive()
}

/// The instant a clock in Japan shows `wall` (Japan has no gaps or repeats).
pub fn instant(wall: NaiveDateTime) -> DateTime<Utc> {
    jst()
        .from_local_datetime(&wall)
        .single()
        .expect("a fixed offset maps every wall time to one instant")
        .with_timezone(&Utc)
}

/// The instant `day` begins in Japan: 00:00 JST, which is 15:00 UTC the day before.
pub fn day_start(day: NaiveDate) -> DateTime<Utc> {
    instant(day.and_time(chrono::NaiveTime::MIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_day_turns_at_three_in_the_afternoon_utc() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(today(utc("2026-12-02T14:59:59Z")), day(2026, 12, 2));
        assert_eq!(today(utc("2026-12-02T15:00:00Z")), day(2026, 12, 3));
        assert_eq!(today(utc("2027-03-31T15:00:00Z")), day(2027, 4, 1));
    }

    #[test]
    fn a_day_starts_at_midnight_in_japan() {
        let day = NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
        assert_eq!(day_start(day), utc("2026-03-31T15:00:00Z"));
        assert_eq!(today(day_start(day)), day);
        assert_eq!(
            local(day_start(day)).format("%H:%M").to_string(),
            "00:00",
            "read back on a clock in Japan"
        );
    }
}
