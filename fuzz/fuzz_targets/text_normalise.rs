//! Text folding for search and import (全角/半角, kana): never panics, and folding is stable
//! (folding a folded text changes nothing).
#![no_main]
use libfuzzer_sys::fuzz_target;
use renkei_domain::text::{normalize, search_key, search_terms, to_hiragana, to_katakana};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let n = normalize(s);
    assert_eq!(normalize(&n), n, "normalize is idempotent");
    let k = search_key(s);
    assert_eq!(search_key(&k), k, "search_key is idempotent");
    let _ = search_terms(s);
    let _ = to_katakana(s);
    let _ = to_hiragana(s);
    let _ = renkei_domain::import::identity_key(s, s);
});
