//! Fiscal years (年度, April to March) and the Japanese era calendar (和暦).
//!
//! 令和7年度 is FY2025: 2025-04-01 to 2026-03-31. Parsing accepts what people type in reports and
//! spreadsheets (「令和７年度」, 「R7」, 「2025年度」, 「FY2025」) after the usual text
//! normalisation, and dates such as 「令和7年5月12日」 or 「R7.5.12」.

use chrono::{Datelike, NaiveDate};
use std::fmt;
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

    fn from_prefix(text: &str) -> Option<(Era, &str)> {
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

fn era_year_label(era: Era, gregorian: i32) -> String {
    match gregorian - era.first_year() + 1 {
        1 => format!("{}元年", era.kanji()),
        n => format!("{}{n}年", era.kanji()),
    }
}

/// A fiscal year (年度), named by the Gregorian year in which it starts.
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
        if (1868..=9999).contains(&year) {
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
        NaiveDate::from_ymd_opt(self.0, 4, 1).expect("1 April exists")
    }

    /// 31 March of the next year (inclusive).
    pub fn end(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.0 + 1, 3, 31).expect("31 March exists")
    }

    /// Whether the date falls in this fiscal year.
    pub fn contains(self, date: NaiveDate) -> bool {
        self.start() <= date && date <= self.end()
    }

    /// The following fiscal year.
    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }

    /// The preceding fiscal year.
    pub fn previous(self) -> Self {
        Self(self.0 - 1)
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
        let unreadable = || FiscalYearError::Unreadable(input.trim().to_owned());
        let body = text
            .strip_suffix("年度")
            .or_else(|| text.strip_suffix('年'))
            .unwrap_or(&text);
        if let Some((era, rest)) = Era::from_prefix(body) {
            let n = era_number(rest).ok_or_else(unreadable)?;
            let year = era
                .to_gregorian(n)
                .ok_or_else(|| FiscalYearError::OutOfRange(input.trim().to_owned()))?;
            // 平成31年度 is the same fiscal year as 令和元年度.
            return FiscalYear::new(year);
        }
        let digits = body
            .strip_prefix("FY")
            .or_else(|| body.strip_prefix("fy"))
            .unwrap_or(body);
        if !digits.is_empty() && digits.len() <= 4 && digits.bytes().all(|b| b.is_ascii_digit()) {
            let year: i32 = digits.parse().map_err(|_| unreadable())?;
            return FiscalYear::new(year)
                .map_err(|_| FiscalYearError::OutOfRange(input.trim().to_owned()));
        }
        Err(unreadable())
    }
}

/// Normalised text without any space: 「令和 ７ 年度」 → 「令和7年度」.
fn compact(input: &str) -> String {
    crate::text::normalize(input)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
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

/// 「令和7年5月」: the era in effect on the first of the month (the month of an era change is
/// written in the era that begins in it, as 「令和元年5月」).
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
/// 「2025-05-12」, 「2025/5/12」 (全角 digits and spaces allowed).
pub fn parse_japanese_date(input: &str) -> Result<PartialDate, FiscalYearError> {
    let text = compact(input);
    let unreadable = || FiscalYearError::Unreadable(input.trim().to_owned());
    let (year, rest) = if let Some((era, rest)) = Era::from_prefix(&text) {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '元'))
            .unwrap_or(rest.len());
        let n = era_number(&rest[..end]).ok_or_else(unreadable)?;
        let year = era
            .to_gregorian(n)
            .ok_or_else(|| FiscalYearError::OutOfRange(input.trim().to_owned()))?;
        (year, &rest[end..])
    } else {
        let end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        if end != 4 {
            return Err(unreadable());
        }
        (
            text[..end].parse::<i32>().map_err(|_| unreadable())?,
            &text[end..],
        )
    };
    let parts: Vec<&str> = rest
        .split(['年', '月', '日', '.', '/', '-'])
        .filter(|p| !p.is_empty())
        .collect();
    let well_formed = rest.is_empty() || rest.starts_with(['年', '.', '/', '-']);
    if !well_formed
        || parts
            .iter()
            .any(|p| !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 2)
    {
        return Err(unreadable());
    }
    let number = |p: &str| p.parse::<u32>().map_err(|_| unreadable());
    let no_such = || FiscalYearError::NoSuchDate(input.trim().to_owned());
    match parts.as_slice() {
        [] => Ok(PartialDate::Year(year)),
        [m] => {
            let m = number(m)?;
            if (1..=12).contains(&m) {
                Ok(PartialDate::YearMonth(year, m))
            } else {
                Err(no_such())
            }
        }
        [m, d] => NaiveDate::from_ymd_opt(year, number(m)?, number(d)?)
            .map(PartialDate::Date)
            .ok_or_else(no_such),
        _ => Err(unreadable()),
    }
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

    proptest! {
        #[test]
        fn labels_parse_back(year in 1868i32..=9999) {
            let f = fy(year);
            prop_assert_eq!(f.to_string().parse::<FiscalYear>(), Ok(f));
            prop_assert_eq!(f.gregorian_label().parse::<FiscalYear>(), Ok(f));
            if f.era() == Era::Reiwa || f.era_year() > 1 {
                prop_assert_eq!(f.short_label().parse::<FiscalYear>(), Ok(f));
            }
        }

        #[test]
        fn a_dates_fiscal_year_contains_it(days in 0i64..60_000) {
            let d = date(1900, 1, 1) + chrono::Days::new(days as u64);
            let f = FiscalYear::of_date(d);
            prop_assert!(f.contains(d));
            prop_assert!(f.start() <= d && d <= f.end());
        }

        #[test]
        fn wareki_dates_round_trip(days in 0i64..60_000) {
            let d = date(1900, 1, 1) + chrono::Days::new(days as u64);
            prop_assert_eq!(parse_japanese_date(&format_wareki_date(d)), Ok(PartialDate::Date(d)));
        }
    }
}
