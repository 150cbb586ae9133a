//! Fiscal years (年度, April to March) and the Japanese era calendar (和暦).
//!
//! 令和7年度 is FY2025: 2025-04-01 to 2026-03-31. Parsing accepts what people type in reports and
//! spreadsheets (「令和７年度」, 「R7」, 「2025年度」, 「FY2025」) after the usual text
//! normalisation, and dates such as 「令和7年5月12日」 or 「R7.5.12」.

use chrono::{Datelike, NaiveDate};
use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

/// Why a fiscal year or a Japanese date was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FiscalYearError {
    /// The text is not a fiscal year or date in any accepted form.
    #[error("年度・日付を読み取れません:「{0}」（例: 令和7年度、R7、2025年度、令和7年5月12日）")]
    Unreadable(String),
    /// The year is outside the supported range or beyond its era.
    #[error("年が範囲外です:「{0}」")]
    OutOfRange(String),
    /// A month or day that does not exist.
    #[error("存在しない日付です:「{0}」")]
    NoSuchDate(String),
}

/// A Japanese era (元号) of the modern calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Era {
    /// 明治 (from 1868-10-23; year 1 counted as 1868).
    Meiji,
    /// 大正 (from 1912-07-30).
    Taisho,
    /// 昭和 (from 1926-12-25).
    Showa,
    /// 平成 (from 1989-01-08).
    Heisei,
    /// 令和 (from 2019-05-01).
    Reiwa,
}

impl Era {
    /// All eras, oldest first.
    pub const ALL: [Era; 5] = [Era::Meiji, Era::Taisho, Era::Showa, Era::Heisei, Era::Reiwa];

    /// The era's name in kanji.
    pub fn kanji(self) -> &'static str {
        match self {
            Era::Meiji => "明治",
            Era::Taisho => "大正",
            Era::Showa => "昭和",
            Era::Heisei => "平成",
            Era::Reiwa => "令和",
        }
    }

    /// The one-letter abbreviation (M, T, S, H, R).
    pub fn letter(self) -> char {
        match self {
            Era::Meiji => 'M',
            Era::Taisho => 'T',
            Era::Showa => 'S',
            Era::Heisei => 'H',
            Era::Reiwa => 'R',
        }
    }

    /// The first day of the era.
    pub fn start_date(self) -> NaiveDate {
        let (y, m, d) = match self {
            Era::Meiji => (1868, 10, 23),
            Era::Taisho => (1912, 7, 30),
            Era::Showa => (1926, 12, 25),
            Era::Heisei => (1989, 1, 8),
            Era::Reiwa => (2019, 5, 1),
        };
        NaiveDate::from_ymd_opt(y, m, d).expect("era start dates are valid")
    }

    /// The Gregorian year of the era's year 1.
    pub fn first_year(self) -> i32 {
        self.start_date().year()
    }

    /// The last era year, for eras that have ended (平成31年, 昭和64年 …).
    pub fn last_year(self) -> Option<i32> {
        let next = Era::ALL.iter().copied().find(|e| *e > self)?;
        Some(next.first_year() - self.first_year() + 1)
    }

    pub(crate) fn from_prefix(text: &str) -> Option<(Era, &str)> {
        for era in Era::ALL {
            if let Some(rest) = text.strip_prefix(era.kanji()) {
                return Some((era, rest));
            }
            let mut chars = text.chars();
            if chars
                .next()
                .is_some_and(|c| c.to_ascii_uppercase() == era.letter())
            {
                let rest = chars.as_str();
                if rest.starts_with(|c: char| c.is_ascii_digit() || c == '元') {
                    return Some((era, rest));
                }
            }
        }
        None
    }

    /// The era in effect on a date.
    pub fn of_date(date: NaiveDate) -> Option<Era> {
        Era::ALL
            .iter()
            .rev()
            .copied()
            .find(|e| e.start_date() <= date)
    }

    /// Converts an era year to the Gregorian year, refusing years beyond the era's end.
    pub fn to_gregorian(self, era_year: i32) -> Option<i32> {
        if era_year < 1 || self.last_year().is_some_and(|last| era_year > last) {
            return None;
        }
        Some(self.first_year() + era_year - 1)
    }
}

/// The years Renkei reads and writes: from the first year of 明治 to the last four-digit year.
const SUPPORTED_YEARS: RangeInclusive<i32> = 1868..=9999;

fn era_year_label(era: Era, gregorian: i32) -> String {
    match gregorian - era.first_year() + 1 {
        1 => format!("{}元年", era.kanji()),
        n => format!("{}{n}年", era.kanji()),
    }
}

/// A fiscal year (年度), named by the Gregorian year in which it starts.
///
/// [`FiscalYear::new`], parsing and deserialising accept 1868 to 9999 only; [`FiscalYear::of_date`],
/// [`FiscalYear::next`] and [`FiscalYear::previous`] do not check, so that every date has its
/// fiscal year.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "i32", into = "i32")]
pub struct FiscalYear(i32);

impl TryFrom<i32> for FiscalYear {
    type Error = FiscalYearError;
    fn try_from(year: i32) -> Result<Self, Self::Error> {
        FiscalYear::new(year)
    }
}

impl From<FiscalYear> for i32 {
    fn from(fy: FiscalYear) -> i32 {
        fy.0
    }
}

impl FiscalYear {
    /// A fiscal year from 1868 to 9999.
    pub fn new(year: i32) -> Result<Self, FiscalYearError> {
        if SUPPORTED_YEARS.contains(&year) {
            Ok(Self(year))
        } else {
            Err(FiscalYearError::OutOfRange(year.to_string()))
        }
    }

    /// The Gregorian year it starts in.
    pub fn year(self) -> i32 {
        self.0
    }

    /// The fiscal year a date belongs to (January–March belong to the previous year's).
    pub fn of_date(date: NaiveDate) -> Self {
        Self(if date.month() >= 4 {
            date.year()
        } else {
            date.year() - 1
        })
    }

    /// 1 April.
    pub fn start(self) -> NaiveDate {
        clamped_date(self.0, 4, 1)
    }

    /// 31 March of the next year (inclusive).
    pub fn end(self) -> NaiveDate {
        clamped_date(self.0.saturating_add(1), 3, 31)
    }

    /// Whether the date falls in this fiscal year.
    pub fn contains(self, date: NaiveDate) -> bool {
        self.start() <= date && date <= self.end()
    }

    /// The following fiscal year.
    pub fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }

    /// The preceding fiscal year.
    pub fn previous(self) -> Self {
        Self(self.0.saturating_sub(1))
    }

    /// The era it is named in: the latest era that began in or before its starting calendar
    /// year, so FY2019 is 令和元年度 (the usage of ministries and reports) and FY1988 昭和63年度.
    pub fn era(self) -> Era {
        Era::ALL
            .iter()
            .rev()
            .copied()
            .find(|e| e.first_year() <= self.0)
            .unwrap_or(Era::Meiji)
    }

    /// The era year (1 for 元年).
    pub fn era_year(self) -> i32 {
        self.0 - self.era().first_year() + 1
    }

    /// 「2025年度」.
    pub fn gregorian_label(self) -> String {
        format!("{}年度", self.0)
    }

    /// 「R7」.
    pub fn short_label(self) -> String {
        format!("{}{}", self.era().letter(), self.era_year())
    }
}

/// The date, or chrono's first or last day when the year is beyond them: only the fiscal years of
/// dates at chrono's limits reach there, and they must still contain those dates.
fn clamped_date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or(if year < 0 {
        NaiveDate::MIN
    } else {
        NaiveDate::MAX
    })
}

impl fmt::Display for FiscalYear {
    /// 「令和7年度」, 「令和元年度」.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}度", era_year_label(self.era(), self.0))
    }
}

impl FromStr for FiscalYear {
    type Err = FiscalYearError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = compact(input);
        let body = text
            .strip_suffix("年度")
            .or_else(|| text.strip_suffix('年'))
            .unwrap_or(&text);
        let year = match Era::from_prefix(body) {
            // 平成31年度 is accepted: it is the same fiscal year as 令和元年度.
            Some((era, rest)) => era_number(rest)
                .ok_or_else(|| unreadable(input))
                .and_then(|n| era.to_gregorian(n).ok_or_else(|| out_of_range(input)))?,
            None => gregorian_number(body).ok_or_else(|| unreadable(input))?,
        };
        FiscalYear::new(year).map_err(|_| out_of_range(input))
    }
}

/// Normalised text without any space: 「令和 ７ 年度」 → 「令和7年度」.
fn compact(input: &str) -> String {
    crate::text::normalize(input)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// 「2025」 or 「FY2025」 (any case).
fn gregorian_number(text: &str) -> Option<i32> {
    let digits = strip_prefix_ignore_case(text, "FY").unwrap_or(text);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn era_number(text: &str) -> Option<i32> {
    if text == "元" {
        return Some(1);
    }
    if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A date that may be known only to the year or month, as reports write them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PartialDate {
    /// A calendar year.
    Year(i32),
    /// A year and month (1–12).
    YearMonth(i32, u32),
    /// A day.
    Date(NaiveDate),
}

/// 「令和7年5月12日」: the era in effect on that day.
pub fn format_wareki_date(date: NaiveDate) -> String {
    match Era::of_date(date) {
        Some(era) => format!(
            "{}{}月{}日",
            era_year_label(era, date.year()),
            date.month(),
            date.day()
        ),
        None => format!("{}年{}月{}日", date.year(), date.month(), date.day()),
    }
}

/// 「令和7年5月」: the era in effect at the end of the month, so the month of an era change is
/// written in the era that begins in it (「令和元年5月」, 「平成元年1月」).
pub fn format_wareki_year_month(year: i32, month: u32) -> String {
    let last_day = NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
        .and_then(|d| d.pred_opt());
    match last_day.and_then(Era::of_date) {
        Some(era) => format!("{}{}月", era_year_label(era, year), month),
        None => format!("{year}年{month}月"),
    }
}

/// Parses 「令和7年5月12日」, 「令和7年5月」, 「令和7年」, 「R7.5.12」, 「R7/5/12」, 「2025年5月12日」,
/// 「2025-05-12」, 「2025/5/12」 (全角 digits and spaces allowed), for years 1868 to 9999.
///
/// An era year is read as far as the era lasted, not to the day: 「平成31年5月1日」, still
/// written on forms printed before the change, is accepted as 2019-05-01.
pub fn parse_japanese_date(input: &str) -> Result<PartialDate, FiscalYearError> {
    let text = compact(input);
    let (year, rest) = split_year(&text, input)?;
    let parts = month_and_day(rest).ok_or_else(|| unreadable(input))?;
    let no_such = || FiscalYearError::NoSuchDate(input.trim().to_owned());
    match parts.as_slice() {
        [] => Ok(PartialDate::Year(year)),
        [m] if (1..=12).contains(m) => Ok(PartialDate::YearMonth(year, *m)),
        [_] => Err(no_such()),
        [m, d] => NaiveDate::from_ymd_opt(year, *m, *d)
            .map(PartialDate::Date)
            .ok_or_else(no_such),
        _ => Err(unreadable(input)),
    }
}

fn unreadable(input: &str) -> FiscalYearError {
    FiscalYearError::Unreadable(input.trim().to_owned())
}

fn out_of_range(input: &str) -> FiscalYearError {
    FiscalYearError::OutOfRange(input.trim().to_owned())
}

/// The Gregorian year at the start of a date and the text after it: 「令和7年5月」 → (2025, 「年5月」).
fn split_year<'a>(text: &'a str, input: &str) -> Result<(i32, &'a str), FiscalYearError> {
    let (era, body) = match Era::from_prefix(text) {
        Some((era, rest)) => (Some(era), rest),
        None => (None, text),
    };
    let end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '元'))
        .unwrap_or(body.len());
    let (number, rest) = body.split_at(end);
    let year = match era {
        Some(era) => {
            let n = era_number(number).ok_or_else(|| unreadable(input))?;
            era.to_gregorian(n).ok_or_else(|| out_of_range(input))?
        }
        // A bare number must be a four-digit year, so that 「20250512」 or 「25/5/12」 are not guessed at.
        None if number.len() == 4 => number.parse().map_err(|_| unreadable(input))?,
        None => return Err(unreadable(input)),
    };
    if !SUPPORTED_YEARS.contains(&year) {
        return Err(out_of_range(input));
    }
    Ok((year, rest))
}

/// Month and day after the year, in one style throughout: nothing, 「年」, 「年5月」, 「年5月12日」,
/// 「.5」, 「.5.12」, 「/5/12」, 「-05-12」.
fn month_and_day(rest: &str) -> Option<Vec<u32>> {
    let mut chars = rest.chars();
    let parts: Vec<&str> = match chars.next() {
        None => Vec::new(),
        Some('年') => kanji_month_and_day(chars.as_str())?,
        Some(sep @ ('.' | '/' | '-')) => chars.as_str().split(sep).collect(),
        Some(_) => return None,
    };
    parts.into_iter().map(small_number).collect()
}

/// 「5月12日」 → [5, 12], 「5月」 → [5], 「」 → []; the closing 「日」 may be left out.
fn kanji_month_and_day(text: &str) -> Option<Vec<&str>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    let (month, day) = text.split_once('月')?;
    if day.is_empty() {
        return Some(vec![month]);
    }
    Some(vec![month, day.strip_suffix('日').unwrap_or(day)])
}

/// A month or day as written: one or two ASCII digits.
fn small_number(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 2 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fy(year: i32) -> FiscalYear {
        FiscalYear::new(year).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn fiscal_years_run_from_april_to_march() {
        assert_eq!(FiscalYear::of_date(date(2025, 4, 1)), fy(2025));
        assert_eq!(FiscalYear::of_date(date(2026, 3, 31)), fy(2025));
        assert_eq!(FiscalYear::of_date(date(2025, 3, 31)), fy(2024));
        assert_eq!(fy(2025).end(), date(2026, 3, 31));
        assert_eq!(fy(2025).next(), fy(2026));
        assert!(FiscalYear::new(1867).is_err());
    }

    #[test]
    fn wareki_labels_follow_the_reports_usage() {
        assert_eq!(fy(2025).to_string(), "令和7年度");
        assert_eq!(fy(2024).to_string(), "令和6年度");
        assert_eq!(fy(2019).to_string(), "令和元年度");
        assert_eq!(fy(2018).to_string(), "平成30年度");
        assert_eq!(fy(1989).to_string(), "平成元年度");
        assert_eq!(fy(1988).to_string(), "昭和63年度");
        assert_eq!(fy(2025).short_label(), "R7");
        assert_eq!(fy(2025).gregorian_label(), "2025年度");
    }

    #[test]
    fn fiscal_years_parse_as_people_type_them() {
        for text in [
            "令和7年度",
            "令和 7 年度",
            "令和７年度",
            "R7",
            "R7年度",
            "r7",
            "Ｒ７",
            "FY2025",
            "2025年度",
            "2025",
            "令和7年",
        ] {
            assert_eq!(text.parse::<FiscalYear>(), Ok(fy(2025)), "{text}");
        }
        assert_eq!("令和元年度".parse::<FiscalYear>(), Ok(fy(2019)));
        assert_eq!("平成31年度".parse::<FiscalYear>(), Ok(fy(2019)));
        for bad in [
            "",
            "令和0年度",
            "令和99999年度",
            "平成32年度",
            "昭和65年度",
            "-2025",
            "来年度",
            "R",
            "2025年度です",
        ] {
            assert!(bad.parse::<FiscalYear>().is_err(), "{bad}");
        }
    }

    #[test]
    fn japanese_dates_parse_and_format() {
        assert_eq!(
            parse_japanese_date("令和7年5月"),
            Ok(PartialDate::YearMonth(2025, 5))
        );
        assert_eq!(
            parse_japanese_date("令和 7 年 5 月"),
            Ok(PartialDate::YearMonth(2025, 5))
        );
        assert_eq!(
            parse_japanese_date("令和7年5月12日"),
            Ok(PartialDate::Date(date(2025, 5, 12)))
        );
        assert_eq!(
            parse_japanese_date("R7.5.12"),
            Ok(PartialDate::Date(date(2025, 5, 12)))
        );
        assert_eq!(
            parse_japanese_date("R7/5/12"),
            Ok(PartialDate::Date(date(2025, 5, 12)))
        );
        assert_eq!(
            parse_japanese_date("2025年5月12日"),
            Ok(PartialDate::Date(date(2025, 5, 12)))
        );
        assert_eq!(
            parse_japanese_date("2025-05-12"),
            Ok(PartialDate::Date(date(2025, 5, 12)))
        );
        assert_eq!(
            parse_japanese_date("2025/5/12"),
            Ok(PartialDate::Date(date(2025, 5, 12)))
        );
        assert_eq!(parse_japanese_date("令和7年"), Ok(PartialDate::Year(2025)));
        assert_eq!(
            parse_japanese_date("令和元年5月1日"),
            Ok(PartialDate::Date(date(2019, 5, 1)))
        );
        assert!(matches!(
            parse_japanese_date("令和7年2月30日"),
            Err(FiscalYearError::NoSuchDate(_))
        ));
        assert!(matches!(
            parse_japanese_date("令和7年13月"),
            Err(FiscalYearError::NoSuchDate(_))
        ));
        assert!(parse_japanese_date("令和7年5月12日頃").is_err());
        assert!(parse_japanese_date("五月").is_err());
        assert_eq!(format_wareki_date(date(2019, 4, 30)), "平成31年4月30日");
        assert_eq!(format_wareki_date(date(2019, 5, 1)), "令和元年5月1日");
        assert_eq!(format_wareki_date(date(2025, 9, 13)), "令和7年9月13日");
        assert_eq!(format_wareki_year_month(2025, 5), "令和7年5月");
        assert_eq!(format_wareki_year_month(2019, 5), "令和元年5月");
    }

    #[test]
    fn eras_have_their_names_letters_and_first_days() {
        let names: Vec<_> = Era::ALL.iter().map(|e| (e.kanji(), e.letter())).collect();
        assert_eq!(
            names,
            [
                ("明治", 'M'),
                ("大正", 'T'),
                ("昭和", 'S'),
                ("平成", 'H'),
                ("令和", 'R')
            ]
        );
        assert_eq!(Era::Meiji.start_date(), date(1868, 10, 23));
        assert_eq!(Era::Taisho.start_date(), date(1912, 7, 30));
        assert_eq!(Era::Showa.start_date(), date(1926, 12, 25));
        assert_eq!(Era::Heisei.start_date(), date(1989, 1, 8));
        assert_eq!(Era::Reiwa.start_date(), date(2019, 5, 1));
        assert_eq!(Era::Heisei.last_year(), Some(31));
        assert_eq!(Era::Showa.last_year(), Some(64));
        assert_eq!(Era::Reiwa.last_year(), None);
        assert_eq!(Era::of_date(date(1868, 10, 22)), None);
    }

    #[test]
    fn every_era_names_the_fiscal_years_from_its_first_calendar_year() {
        assert_eq!(fy(1868).to_string(), "明治元年度");
        assert_eq!(fy(1911).to_string(), "明治44年度");
        assert_eq!(fy(1912).to_string(), "大正元年度");
        assert_eq!(fy(1926).to_string(), "昭和元年度");
        assert_eq!(fy(1988).short_label(), "S63");
        assert_eq!(fy(2019).short_label(), "R1");
        assert_eq!(fy(9999).to_string(), "令和7981年度");
        assert_eq!(fy(2025).previous(), fy(2024));
        assert!(fy(2025).contains(date(2026, 3, 31)));
        assert!(!fy(2025).contains(date(2026, 4, 1)));
        assert!(!fy(2025).contains(date(2025, 3, 31)));
        assert!(FiscalYear::new(10_000).is_err());
    }

    #[test]
    fn fiscal_years_deserialise_from_the_number_in_range_only() {
        use serde::de::value::{Error, I32Deserializer};
        use serde::de::IntoDeserializer;
        use serde::Deserialize;
        let read = |n: i32| {
            let de: I32Deserializer<Error> = n.into_deserializer();
            FiscalYear::deserialize(de)
        };
        assert_eq!(read(2025).ok(), Some(fy(2025)));
        assert!(read(1867).is_err());
        assert_eq!(i32::from(fy(2025)), 2025);
    }

    #[test]
    fn more_ways_of_writing_a_fiscal_year() {
        for (text, year) in [
            ("Ｒ７年度", 2025),
            ("令和\u{3000}７\u{3000}年度", 2025),
            ("fy2025", 2025),
            ("Fy 2025", 2025),
            ("ＦＹ２０２５", 2025),
            ("H30", 2018),
            ("平成元年度", 1989),
            ("昭和64年度", 1989),
            ("S63年度", 1988),
            ("明治元年度", 1868),
            ("T15", 1926),
        ] {
            assert_eq!(text.parse::<FiscalYear>(), Ok(fy(year)), "{text}");
        }
        for bad in [
            "　",
            "R0",
            "令和元元年度",
            "令和7年度度",
            "FY",
            "2025-26",
            "西暦2025年度",
        ] {
            assert!(bad.parse::<FiscalYear>().is_err(), "{bad}");
        }
        assert!(matches!(
            "令和9999年度".parse::<FiscalYear>(),
            Err(FiscalYearError::OutOfRange(_))
        ));
    }

    #[test]
    fn errors_are_in_japanese_and_quote_the_input() {
        let err = "来年度".parse::<FiscalYear>().unwrap_err();
        assert!(err
            .to_string()
            .starts_with("年度・日付を読み取れません:「来年度」"));
        let err = "平成32年度".parse::<FiscalYear>().unwrap_err();
        assert_eq!(err.to_string(), "年が範囲外です:「平成32年度」");
        let err = parse_japanese_date(" 2025年2月30日 ").unwrap_err();
        assert_eq!(err.to_string(), "存在しない日付です:「2025年2月30日」");
    }

    #[test]
    fn dates_around_era_changes() {
        assert_eq!(format_wareki_date(date(1989, 1, 7)), "昭和64年1月7日");
        assert_eq!(format_wareki_date(date(1989, 1, 8)), "平成元年1月8日");
        assert_eq!(format_wareki_date(date(1926, 12, 25)), "昭和元年12月25日");
        assert_eq!(format_wareki_date(date(1868, 10, 22)), "1868年10月22日");
        assert_eq!(format_wareki_year_month(1989, 1), "平成元年1月");
        assert_eq!(format_wareki_year_month(2019, 4), "平成31年4月");
        // Forms printed before 2019 still said 平成 in May; such dates are read, not refused.
        assert_eq!(
            parse_japanese_date("平成31年5月1日"),
            Ok(PartialDate::Date(date(2019, 5, 1)))
        );
        assert_eq!(
            parse_japanese_date("S64.1.7"),
            Ok(PartialDate::Date(date(1989, 1, 7)))
        );
    }

    #[test]
    fn more_ways_of_writing_a_date() {
        for (text, expected) in [
            ("２０２５年５月１２日", PartialDate::Date(date(2025, 5, 12))),
            ("2025－05－12", PartialDate::Date(date(2025, 5, 12))),
            ("r7.5.12", PartialDate::Date(date(2025, 5, 12))),
            ("令和7年5月12", PartialDate::Date(date(2025, 5, 12))),
            ("R7.5", PartialDate::YearMonth(2025, 5)),
            ("2025/5", PartialDate::YearMonth(2025, 5)),
            ("2025年", PartialDate::Year(2025)),
            ("令和7", PartialDate::Year(2025)),
            ("2024年2月29日", PartialDate::Date(date(2024, 2, 29))),
        ] {
            assert_eq!(parse_japanese_date(text), Ok(expected), "{text}");
        }
        for bad in [
            "",
            "R7.",
            "R7/5-12",
            "2025.5.12.1",
            "令和7年5",
            "令和7年度",
            "20250512",
            "25/5/12",
            "2025年5月12日日",
            "2025年123月",
            "令和0年5月",
        ] {
            assert!(parse_japanese_date(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            parse_japanese_date("2023年2月29日"),
            Err(FiscalYearError::NoSuchDate(_))
        ));
        assert!(matches!(
            parse_japanese_date("令和9000年1月1日"),
            Err(FiscalYearError::OutOfRange(_))
        ));
        assert!(matches!(
            parse_japanese_date("1867年1月1日"),
            Err(FiscalYearError::OutOfRange(_))
        ));
    }

    #[test]
    fn dates_at_chronos_limits_still_have_a_fiscal_year() {
        for d in [NaiveDate::MIN, NaiveDate::MAX] {
            assert!(FiscalYear::of_date(d).contains(d));
        }
    }

    /// Any day chrono can represent.
    fn any_date() -> impl Strategy<Value = NaiveDate> {
        let first = NaiveDate::MIN.num_days_from_ce();
        let last = NaiveDate::MAX.num_days_from_ce();
        (first..=last).prop_filter_map("representable", NaiveDate::from_num_days_from_ce_opt)
    }

    /// Any day of the years Renkei reads and writes.
    fn supported_date() -> impl Strategy<Value = NaiveDate> {
        let first = date(1868, 1, 1).num_days_from_ce();
        let last = date(9999, 12, 31).num_days_from_ce();
        (first..=last).prop_filter_map("representable", NaiveDate::from_num_days_from_ce_opt)
    }

    proptest! {
        #[test]
        fn labels_parse_back(year in 1868i32..=9999) {
            let f = fy(year);
            prop_assert_eq!(f.to_string().parse::<FiscalYear>(), Ok(f));
            prop_assert_eq!(f.gregorian_label().parse::<FiscalYear>(), Ok(f));
            // Each fiscal year has one era, so its letter form is never ambiguous.
            prop_assert_eq!(f.short_label().parse::<FiscalYear>(), Ok(f));
            prop_assert_eq!(format!("FY{year}").parse::<FiscalYear>(), Ok(f));
        }

        #[test]
        fn a_dates_fiscal_year_contains_it(d in any_date()) {
            let f = FiscalYear::of_date(d);
            prop_assert!(f.contains(d));
            prop_assert!(f.start() <= d && d <= f.end());
        }

        #[test]
        fn fiscal_years_tile_the_calendar(d in supported_date()) {
            let f = FiscalYear::of_date(d);
            prop_assert!(!f.next().contains(d) && !f.previous().contains(d));
            prop_assert_eq!(f.next().start(), f.end() + chrono::Days::new(1));
        }

        #[test]
        fn wareki_dates_round_trip(d in supported_date()) {
            prop_assert_eq!(parse_japanese_date(&format_wareki_date(d)), Ok(PartialDate::Date(d)));
        }

        #[test]
        fn wareki_months_round_trip(year in 1868i32..=9999, month in 1u32..=12) {
            prop_assert_eq!(
                parse_japanese_date(&format_wareki_year_month(year, month)),
                Ok(PartialDate::YearMonth(year, month))
            );
        }

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,20}") {
            let _ = s.parse::<FiscalYear>();
            let _ = parse_japanese_date(&s);
        }
    }
}
