//! The on-call rota of a group of institutions (グループ診療の当番表): who covers each night, and
//! each daytime of weekends, public holidays and the year-end break (年末年始, 12/29–1/3, when
//! clinics close as on holidays). A month's plan is checked for gaps (a slot nobody covers) and
//! double bookings (two members on one slot); "who is on call now" follows the clock in Japan;
//! the plan is exported as iCalendar (RFC 5545) for the doctors' calendars.

use crate::holidays::holiday;
use crate::japan::jst;
use crate::safety::coded;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Timelike, Utc, Weekday};
use serde::{Deserialize, Serialize};

coded! {
    /// A part of a day somebody must cover.
    Slot {
        /// 休日日中 (9:00–18:00 on weekends, holidays and the year-end break).
        Day = "day", "休日日中（9時〜18時）", "Holiday daytime (09:00–18:00)";
        /// 夜間 (18:00 to 9:00 the next morning, every day).
        Night = "night", "夜間（18時〜翌9時）", "Night (18:00–09:00)";
    }
}

/// When the daytime slot starts and the night slot ends.
const MORNING: u32 = 9;
/// When the night slot starts.
const EVENING: u32 = 18;

/// Why a day is covered like a holiday: the holiday's name, 「年末年始」, 「土曜日」 or 「日曜日」
/// (Japanese) — `None` on a working weekday.
pub fn day_off(day: NaiveDate) -> Option<(&'static str, &'static str)> {
    if let Some(h) = holiday(day) {
        return Some((h.name_ja, h.name_en));
    }
    let (m, d) = (day.month(), day.day());
    if (m == 12 && d >= 29) || (m == 1 && d <= 3) {
        return Some(("年末年始", "Year-end holidays"));
    }
    match day.weekday() {
        Weekday::Sat => Some(("土曜日", "Saturday")),
        Weekday::Sun => Some(("日曜日", "Sunday")),
        _ => None,
    }
}

/// The slots of a day: the night always, the daytime on days off.
pub fn slots_of(day: NaiveDate) -> Vec<Slot> {
    if day_off(day).is_some() {
        vec![Slot::Day, Slot::Night]
    } else {
        vec![Slot::Night]
    }
}

/// When a slot of a day starts and ends (UTC).
pub fn span(day: NaiveDate, slot: Slot) -> (DateTime<Utc>, DateTime<Utc>) {
    let at = |d: NaiveDate, h: u32| {
        crate::japan::instant(d.and_time(NaiveTime::from_hms_opt(h, 0, 0).expect("an hour")))
    };
    match slot {
        Slot::Day => (at(day, MORNING), at(day, EVENING)),
        Slot::Night => (at(day, EVENING), at(day + Duration::days(1), MORNING)),
    }
}

/// The slot covering `now`, if any: the night of today after 18:00, of yesterday before 9:00,
/// and the daytime of a day off. A working weekday's daytime is covered by each clinic itself.
pub fn slot_at(now: DateTime<Utc>) -> Option<(NaiveDate, Slot)> {
    let local = now.with_timezone(&jst());
    let (day, hour) = (local.date_naive(), local.hour());
    if hour >= EVENING {
        Some((day, Slot::Night))
    } else if hour < MORNING {
        Some((day - Duration::days(1), Slot::Night))
    } else if day_off(day).is_some() {
        Some((day, Slot::Day))
    } else {
        None
    }
}

/// One member on one slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    /// The day (the night runs into the next morning).
    pub day: NaiveDate,
    /// The slot.
    pub slot: Slot,
    /// The member institution.
    pub institution_id: i64,
    /// The doctor on call (as the group writes it), may be empty.
    pub doctor: String,
}

/// What is wrong with a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Nobody covers the slot.
    Gap(NaiveDate, Slot),
    /// More than one member on the slot (their institution ids).
    Double(NaiveDate, Slot, Vec<i64>),
}

/// The gaps and double bookings of the days `from..=until` in `shifts`, in day and slot order.
pub fn problems(from: NaiveDate, until: NaiveDate, shifts: &[Shift]) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut day = from;
    while day <= until {
        for slot in slots_of(day) {
            let on: Vec<i64> = shifts
                .iter()
                .filter(|s| s.day == day && s.slot == slot)
                .map(|s| s.institution_id)
                .collect();
            match on.len() {
                0 => out.push(Problem::Gap(day, slot)),
                1 => {}
                _ => out.push(Problem::Double(day, slot, on)),
            }
        }
        day += Duration::days(1);
    }
    out
}

/// Whether `slot` exists on `day` (a daytime slot only on days off).
pub fn slot_exists(day: NaiveDate, slot: Slot) -> bool {
    slots_of(day).contains(&slot)
}

/// The first and last day of the month of `day`.
pub fn month_of(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = day.with_day(1).expect("day 1 exists");
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .expect("the next month exists");
    (first, next - Duration::days(1))
}

/// One event of an iCalendar file.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarEvent {
    /// A unique, stable id (`…@renkei`).
    pub uid: String,
    /// Starts.
    pub start: DateTime<Utc>,
    /// Ends.
    pub end: DateTime<Utc>,
    /// Title.
    pub summary: String,
    /// Longer text.
    pub description: String,
    /// Where.
    pub location: String,
    /// Who invites (an e-mail address), for invitations.
    pub organizer: Option<String>,
    /// Who is invited (e-mail addresses).
    pub attendees: Vec<String>,
    /// The revision of the event (0, then 1, 2 … when it changes or is cancelled).
    pub sequence: u32,
    /// Cancelled (STATUS:CANCELLED, with METHOD:CANCEL).
    pub cancelled: bool,
}

/// Escapes a text value (RFC 5545 §3.3.11).
fn ics_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds a content line at 75 octets without splitting a character (RFC 5545 §3.1).
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut used = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if used + n > 75 {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
    out
}

fn ics_time(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// An iCalendar file (`method` PUBLISH for a plan, REQUEST for an invitation) named `name`.
pub fn icalendar(
    name: &str,
    method: &str,
    events: &[CalendarEvent],
    stamp: DateTime<Utc>,
) -> String {
    let mut out = String::new();
    for line in [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//Renkei//在宅医療・介護連携//JA".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        format!("METHOD:{method}"),
        format!("X-WR-CALNAME:{}", ics_text(name)),
    ] {
        out.push_str(&fold(&line));
    }
    for e in events {
        let mut lines = vec![
            "BEGIN:VEVENT".to_owned(),
            format!("UID:{}", e.uid),
            format!("DTSTAMP:{}", ics_time(stamp)),
            format!("DTSTART:{}", ics_time(e.start)),
            format!("DTEND:{}", ics_time(e.end)),
            format!("SEQUENCE:{}", e.sequence),
            format!("SUMMARY:{}", ics_text(&e.summary)),
            format!("DESCRIPTION:{}", ics_text(&e.description)),
            format!("LOCATION:{}", ics_text(&e.location)),
        ];
        if let Some(organizer) = &e.organizer {
            lines.push(format!("ORGANIZER:mailto:{organizer}"));
        }
        for a in &e.attendees {
            lines.push(format!(
                "ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=FALSE:mailto:{a}"
            ));
        }
        lines.push(if e.cancelled {
            "STATUS:CANCELLED".to_owned()
        } else {
            "STATUS:CONFIRMED".to_owned()
        });
        lines.push("END:VEVENT".to_owned());
        for line in lines {
            out.push_str(&fold(&line));
        }
    }
    out.push_str(&fold("END:VCALENDAR"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn days_off_are_weekends_holidays_and_the_year_end() {
        assert_eq!(day_off(d(2026, 11, 23)).map(|x| x.0), Some("勤労感謝の日"));
        assert_eq!(day_off(d(2026, 11, 21)).map(|x| x.0), Some("土曜日"));
        assert_eq!(day_off(d(2026, 12, 29)).map(|x| x.0), Some("年末年始"));
        assert_eq!(day_off(d(2027, 1, 1)).map(|x| x.0), Some("元日"));
        assert_eq!(day_off(d(2026, 11, 24)), None, "a Tuesday");
        // 振替休日: 2026-05-06 (憲法記念日 on a Sunday).
        assert_eq!(day_off(d(2026, 5, 6)).map(|x| x.0), Some("振替休日"));
        assert_eq!(slots_of(d(2026, 11, 24)), vec![Slot::Night]);
        assert_eq!(slots_of(d(2026, 11, 23)), vec![Slot::Day, Slot::Night]);
    }

    #[test]
    fn gaps_and_double_bookings_are_found_holidays_included() {
        let shift = |day: NaiveDate, slot: Slot, id: i64| Shift {
            day,
            slot,
            institution_id: id,
            doctor: String::new(),
        };
        // Sat 21 – Tue 24 Nov 2026; Mon 23 is 勤労感謝の日.
        let plan = vec![
            shift(d(2026, 11, 21), Slot::Day, 1),
            shift(d(2026, 11, 21), Slot::Night, 2),
            shift(d(2026, 11, 22), Slot::Day, 1),
            shift(d(2026, 11, 22), Slot::Night, 1),
            shift(d(2026, 11, 22), Slot::Night, 3),
            shift(d(2026, 11, 23), Slot::Night, 2),
            shift(d(2026, 11, 24), Slot::Night, 3),
        ];
        assert_eq!(
            problems(d(2026, 11, 21), d(2026, 11, 24), &plan),
            vec![
                Problem::Double(d(2026, 11, 22), Slot::Night, vec![1, 3]),
                Problem::Gap(d(2026, 11, 23), Slot::Day),
            ]
        );
    }

    #[test]
    fn who_is_on_call_follows_the_clock_in_japan() {
        let at = |y, m, day, h, min| {
            jst()
                .with_ymd_and_hms(y, m, day, h, min, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        // Tuesday 24 Nov 2026.
        assert_eq!(slot_at(at(2026, 11, 24, 12, 0)), None, "weekday daytime");
        assert_eq!(
            slot_at(at(2026, 11, 24, 18, 0)),
            Some((d(2026, 11, 24), Slot::Night))
        );
        assert_eq!(
            slot_at(at(2026, 11, 25, 8, 59)),
            Some((d(2026, 11, 24), Slot::Night))
        );
        // Monday 23 Nov 2026 is a holiday: its daytime is covered.
        assert_eq!(
            slot_at(at(2026, 11, 23, 10, 0)),
            Some((d(2026, 11, 23), Slot::Day))
        );
        let (start, end) = span(d(2026, 11, 24), Slot::Night);
        assert_eq!(start, at(2026, 11, 24, 18, 0));
        assert_eq!(end, at(2026, 11, 25, 9, 0));
    }

    #[test]
    fn months_have_their_last_day() {
        assert_eq!(month_of(d(2026, 2, 10)), (d(2026, 2, 1), d(2026, 2, 28)));
        assert_eq!(month_of(d(2026, 12, 31)), (d(2026, 12, 1), d(2026, 12, 31)));
    }

    #[test]
    fn icalendar_is_folded_escaped_and_crlf() {
        let (start, end) = span(d(2026, 11, 24), Slot::Night);
        let ics = icalendar(
            "八尾東グループ 当番表",
            "PUBLISH",
            &[CalendarEvent {
                uid: "rota-shift-1@renkei".into(),
                start,
                end,
                summary: "夜間当番：［デモ］すずらん内科クリニック（山田医師）".into(),
                description: "電話 072-000-0000; 連絡は先に, 当番表で".into(),
                location: String::new(),
                organizer: None,
                attendees: Vec::new(),
                sequence: 0,
                cancelled: false,
            }],
            start,
        );
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        assert!(ics.contains("DTSTART:20261124T090000Z\r\n"));
        assert!(ics.contains("DTEND:20261125T000000Z\r\n"));
        assert!(ics.contains("072-000-0000\\; 連絡は先に\\, 当番表で"));
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "{line}");
            assert!(!line.contains('\n'));
        }
        // Unfolded, the summary is whole again.
        let unfolded = ics.replace("\r\n ", "");
        assert!(unfolded.contains("SUMMARY:夜間当番：［デモ］すずらん内科クリニック（山田医師）"));
    }
}
