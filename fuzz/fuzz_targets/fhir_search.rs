//! FHIR search parameters as any client may send them, for every resource type, strict and
//! lenient: a search or an OperationOutcome, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use renkei_web::fhir::params::parse;
use renkei_web::fhir::resources::{Base, ResourceType};

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let pairs: Vec<(String, String)> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (p.to_owned(), String::new()),
        })
        .collect();
    let base = Base("http://localhost/fhir".to_owned());
    for kind in ResourceType::ALL {
        for strict in [true, false] {
            let _ = parse(&base, kind, &pairs, strict);
        }
    }
});
