//! Japanese public holidays (国民の祝日, 振替休日, 国民の休日), computed from the Act on
//! National Holidays as amended through 2018 — what an on-call rota needs to know which days are
//! covered like a Sunday. Years 2022–2099 (the equinox days come from the standard formula,
//! which matches the National Astronomical Observatory's announcements for that range; earlier
//! years had one-off changes such as the 2020–2021 Olympic moves and are not needed for rotas).

use chrono::{Datelike, NaiveDate, Weekday};

/// The years [`holidays_in`] answers for.
pub const YEARS: std::ops::RangeInclusive<i32> = 2022..=2099;

/// A public holiday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holiday {
    /// The day.
    pub date: NaiveDate,
    /// Its Japanese name (「振替休日」 and 「国民の休日」 for the days the Act adds).
    pub name_ja: &'static str,
    /// Its English name.
    pub name_en: &'static str,
}

/// The `n`-th (1-based) `weekday` of a month.
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
        .expect("every month has a 3rd Monday")
}

fn day(year: i32, month: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, d).expect("a valid fixed holiday")
}

/// 春分日 and 秋分日 by the standard formula (valid 1980–2099).
fn equinoxes(year: i32) -> (NaiveDate, NaiveDate) {
    let y = f64::from(year - 1980);
    let leap = f64::from((year - 1980) / 4);
    let spring = (20.8431 + 0.242194 * y - leap).floor() as u32;
    let autumn = (23.2488 + 0.242194 * y - leap).floor() as u32;
    (day(year, 3, spring), day(year, 9, autumn))
}

/// Every public holiday of `year` in date order; empty outside [`YEARS`].
pub fn holidays_in(year: i32) -> Vec<Holiday> {
    if !YEARS.contains(&year) {
        return Vec::new();
    }
    let (spring, autumn) = equinoxes(year);
    let h = |date, name_ja, name_en| Holiday {
        date,
        name_ja,
        name_en,
    };
    let mut days = vec![
        h(day(year, 1, 1), "元日", "New Year's Day"),
        h(
            nth_weekday(year, 1, Weekday::Mon, 2),
            "成人の日",
            "Coming of Age Day",
        ),
        h(day(year, 2, 11), "建国記念の日", "National Foundation Day"),
        h(day(year, 2, 23), "天皇誕生日", "Emperor's Birthday"),
        h(spring, "春分の日", "Vernal Equinox Day"),
        h(day(year, 4, 29), "昭和の日", "Showa Day"),
        h(day(year, 5, 3), "憲法記念日", "Constitution Memorial Day"),
        h(day(year, 5, 4), "みどりの日", "Greenery Day"),
        h(day(year, 5, 5), "こどもの日", "Children's Day"),
        h(
            nth_weekday(year, 7, Weekday::Mon, 3),
            "海の日",
            "Marine Day",
        ),
        h(day(year, 8, 11), "山の日", "Mountain Day"),
        h(
            nth_weekday(year, 9, Weekday::Mon, 3),
            "敬老の日",
            "Respect for the Aged Day",
        ),
        h(autumn, "秋分の日", "Autumnal Equinox Day"),
        h(
            nth_weekday(year, 10, Weekday::Mon, 2),
            "スポーツの日",
            "Sports Day",
        ),
        h(day(year, 11, 3), "文化の日", "Culture Day"),
        h(day(year, 11, 23), "勤労感謝の日", "Labour Thanksgiving Day"),
    ];
    days.sort_by_key(|d| d.date);
    let is_holiday = |d: NaiveDate, days: &[Holiday]| days.iter().any(|x| x.date == d);
    // 国民の休日: a day that is not a holiday between two holidays (Article 3-3).
    let mut added = Vec::new();
    for pair in days.windows(2) {
        if let Some(between) = pair[0].date.succ_opt() {
            if between.succ_opt() == Some(pair[1].date) && between.weekday() != Weekday::Sun {
                added.push(h(between, "国民の休日", "Citizens' Holiday"));
            }
        }
    }
    days.extend(added);
    days.sort_by_key(|d| d.date);
    // 振替休日: a holiday on a Sunday moves to the next day that is not a holiday (Article 3-2).
    let mut substitutes = Vec::new();
    for d in days.iter().filter(|d| d.date.weekday() == Weekday::Sun) {
        let mut next = d.date;
        while let Some(n) = next.succ_opt() {
            next = n;
            if !is_holiday(next, &days) {
                break;
            }
        }
        substitutes.push(h(next, "振替休日", "Substitute Holiday"));
    }
    days.extend(substitutes);
    days.sort_by_key(|d| d.date);
    days
}

/// The holiday on `date`, if it is one.
pub fn holiday(date: NaiveDate) -> Option<Holiday> {
    holidays_in(date.year())
        .into_iter()
        .find(|h| h.date == date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dates(year: i32) -> Vec<String> {
        holidays_in(year)
            .iter()
            .map(|h| h.date.format("%m-%d").to_string())
            .collect()
    }

    #[test]
    fn the_cabinet_offices_lists_are_reproduced() {
        // 内閣府「国民の祝日について」.
        assert_eq!(
            dates(2024),
            [
                "01-01", "01-08", "02-11", "02-12", "02-23", "03-20", "04-29", "05-03", "05-04",
                "05-05", "05-06", "07-15", "08-11", "08-12", "09-16", "09-22", "09-23", "10-14",
                "11-03", "11-04", "11-23"
            ]
        );
        assert_eq!(
            dates(2025),
            [
                "01-01", "01-13", "02-11", "02-23", "02-24", "03-20", "04-29", "05-03", "05-04",
                "05-05", "05-06", "07-21", "08-11", "09-15", "09-23", "10-13", "11-03", "11-23",
                "11-24"
            ]
        );
        assert_eq!(
            dates(2026),
            [
                "01-01", "01-12", "02-11", "02-23", "03-20", "04-29", "05-03", "05-04", "05-05",
                "05-06", "07-20", "08-11", "09-21", "09-22", "09-23", "10-12", "11-03", "11-23"
            ]
        );
    }

    #[test]
    fn the_days_the_act_adds_are_named() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(holiday(d("2026-09-22")).unwrap().name_ja, "国民の休日");
        assert_eq!(holiday(d("2026-05-06")).unwrap().name_ja, "振替休日");
        assert_eq!(
            holiday(d("2025-11-24")).unwrap().name_en,
            "Substitute Holiday"
        );
        assert_eq!(holiday(d("2026-12-01")), None);
        assert!(holidays_in(2021).is_empty() && holidays_in(2100).is_empty());
    }

    #[test]
    fn every_supported_year_is_well_formed() {
        for year in YEARS {
            let days = holidays_in(year);
            assert!((16..=22).contains(&days.len()), "{year}: {}", days.len());
            assert!(
                days.windows(2).all(|w| w[0].date < w[1].date),
                "{year} sorted, no repeats"
            );
            assert!(days.iter().all(|h| h.date.year() == year));
            // A substitute never falls on a Sunday.
            assert!(days
                .iter()
                .filter(|h| h.name_ja == "振替休日")
                .all(|h| h.date.weekday() != Weekday::Sun));
        }
    }
}
