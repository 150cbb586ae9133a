//! 和暦 and fiscal years as people type them (「令和7年度」, 「R7」, 「2025」, dates with 元年):
//! parsed or refused, never a panic; a fiscal year that parses prints and parses back.
#![no_main]
use libfuzzer_sys::fuzz_target;
use renkei_domain::fiscal_year::{parse_japanese_date, FiscalYear};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_japanese_date(s);
    if let Ok(year) = s.parse::<FiscalYear>() {
        let again: FiscalYear = year
            .year()
            .to_string()
            .parse()
            .expect("a year's number parses");
        assert_eq!(again, year);
    }
});
