//! Where a person says they are (an address, a town, a postcode, 「34.6,135.6」): found or not,
//! never a panic, and a point found lies on the globe.
#![no_main]
use libfuzzer_sys::fuzz_target;
use renkei_domain::towns::{locate, point_of, postcodes, towns, Postcode, Town};
use std::sync::OnceLock;

fn tables() -> &'static (Vec<Town>, Vec<Postcode>) {
    static TABLES: OnceLock<(Vec<Town>, Vec<Postcode>)> = OnceLock::new();
    TABLES.get_or_init(|| (towns().unwrap(), postcodes().unwrap()))
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let (towns, postcodes) = tables();
    if let Some((_, lat, lng)) = locate(s, towns, postcodes) {
        assert!((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng));
    }
    let _ = point_of(s);
});
