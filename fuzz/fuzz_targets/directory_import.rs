//! A directory file as anyone may upload it (CSV in any encoding, or bytes that claim to be a
//! workbook): read without panicking, every problem reported as a row error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use renkei_domain::region::RegionDefinition;
use std::sync::OnceLock;

fn region() -> &'static RegionDefinition {
    static REGION: OnceLock<RegionDefinition> = OnceLock::new();
    REGION.get_or_init(RegionDefinition::nakakawachi)
}

fuzz_target!(|data: &[u8]| {
    let _ = renkei_domain::import::read_directory_file(data, region());
    // The same bytes behind a real header, so the rows themselves are exercised too.
    let mut csv = "ID,名称,よみがな,種別,地域,郵便番号,所在地,電話,緯度,経度,できること,積極的医療機関,デモ\n"
        .as_bytes()
        .to_vec();
    csv.extend_from_slice(data);
    let _ = renkei_domain::import::read_directory_file(&csv, region());
});
