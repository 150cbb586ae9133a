//! IHE mCSD 4.0 items of the FHIR API that the conformance review (`fhir-conformance.md`) found
//! failing or missing, each through the real router on SQLite and PostgreSQL, with the expected
//! answers worked out here from the whole directory as the API itself publishes it:
//! `Bundle.total` (`_summary=count`, `_count=0`, `_total`), `_lastUpdated` with every prefix,
//! AND across repeated `service-type`, `address-city`/`address-state` on their fields,
//! identifiers per resource type, `partof`, `near-distance`, POST `_search`, CORS and
//! compression. Every JSON document received is validated as R4 at the end.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use renkei_testkit::{both_backends, TestDb};
use serde_json::Value;
use std::collections::BTreeSet;
use tower::ServiceExt;

#[path = "common/fhir_client.rs"]
mod fhir_client;
#[path = "common/fhir_validator.rs"]
mod fhir_validator;
use fhir_client::{demo_client, Client, CANONICAL};

fn enc(text: &str) -> String {
    serde_urlencoded::to_string([("v", text)]).unwrap()[2..].to_owned()
}

/// The ids of every matching resource, following `next` to the end.
async fn all_ids(c: &Client, uri: &str) -> BTreeSet<String> {
    c.all_pages(uri)
        .await
        .iter()
        .filter(|e| e["search"]["mode"] == "match")
        .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every resource of a type, as published.
async fn everything(c: &Client, kind: &str) -> Vec<Value> {
    c.all_pages(&format!("/fhir/{kind}?_count=500"))
        .await
        .into_iter()
        .map(|e| e["resource"].clone())
        .collect()
}

fn id_set<'a>(resources: impl IntoIterator<Item = &'a Value>) -> BTreeSet<String> {
    resources
        .into_iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// `Bundle.total` for `_summary=count`, `_count=0` (as fhirpy's `.count()` sends it) and
/// `_total=accurate`, equal to the number of entries paged to the end; for text, near and
/// provenance searches too.
async fn totals_count_what_paging_returns(db: TestDb) {
    let c = demo_client(&db).await;
    for search in [
        "/fhir/Organization?",
        "/fhir/Organization?name:contains=%E3%82%AF%E3%83%AA%E3%83%8B%E3%83%83%E3%82%AF&",
        "/fhir/Location?near=34.6269|135.6009|3|km&",
        "/fhir/HealthcareService?service-type=home_visit&",
        "/fhir/Provenance?",
        "/fhir/CodeSystem?",
    ] {
        let paged = all_ids(&c, &format!("{search}_count=7")).await.len() as u64;
        for counting in ["_summary=count", "_count=0&_totalMethod=count", "_count=0"] {
            let b = c.bundle(&format!("{search}{counting}")).await;
            assert_eq!(b["total"], paged, "{search}{counting}");
            assert!(
                b.get("entry").is_none(),
                "only the count: {search}{counting}"
            );
        }
        let with_total = c.bundle(&format!("{search}_total=accurate&_count=3")).await;
        assert_eq!(with_total["total"], paged, "{search}_total=accurate");
        if !search.starts_with("/fhir/CodeSystem") {
            // (The few code systems come on one page whatever `_count` says.)
            assert_eq!(
                with_total["entry"].as_array().map_or(0, Vec::len) as u64,
                paged.min(3)
            );
        }
        let plain = c.bundle(&format!("{search}_count=3")).await;
        assert!(plain.get("total").is_none(), "not counted unless asked");
    }
    for bad in ["_total=lots", "_summary=text", "_summary=nonsense"] {
        let (status, body) = c.get(&format!("/fhir/Organization?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    c.validate_all();
}

/// `_lastUpdated` with every prefix R4 defines, against the update times the resources carry.
async fn last_updated_takes_every_prefix(db: TestDb) {
    let c = demo_client(&db).await;
    // Move one entry's update time ahead so that the directory has two distinct times.
    let all = everything(&c, "Organization").await;
    let first = all[0]["id"].as_str().unwrap().parse::<i64>().unwrap();
    fhir_client::approve_code(&db, first, "2712345678").await;
    let all = everything(&c, "Organization").await;
    let newest = all
        .iter()
        .map(|r| r["meta"]["lastUpdated"].as_str().unwrap().to_owned())
        .max()
        .unwrap();
    let t = chrono::DateTime::parse_from_rfc3339(&newest).unwrap();
    let at = |r: &Value| {
        chrono::DateTime::parse_from_rfc3339(r["meta"]["lastUpdated"].as_str().unwrap()).unwrap()
    };
    // The newest entry's own millisecond, as a FHIR instant: `eq` is that millisecond.
    let value = enc(&newest);
    let ms = chrono::Duration::milliseconds(1);
    let expect = |keep: &dyn Fn(chrono::DateTime<chrono::FixedOffset>) -> bool| {
        id_set(all.iter().filter(|r| keep(at(r))))
    };
    let cases: Vec<(&str, BTreeSet<String>)> = vec![
        ("eq", expect(&|u| u >= t && u < t + ms)),
        ("ne", expect(&|u| u < t || u >= t + ms)),
        ("lt", expect(&|u| u < t)),
        ("eb", expect(&|u| u < t)),
        ("le", expect(&|u| u < t + ms)),
        ("gt", expect(&|u| u >= t + ms)),
        ("sa", expect(&|u| u >= t + ms)),
        ("ge", expect(&|u| u >= t)),
    ];
    for (prefix, want) in cases {
        let got = all_ids(
            &c,
            &format!("/fhir/Organization?_lastUpdated={prefix}{value}&_count=500"),
        )
        .await;
        assert_eq!(got, want, "_lastUpdated={prefix}{newest}");
    }
    assert!(
        !all_ids(
            &c,
            &format!("/fhir/Organization?_lastUpdated=ne{value}&_count=500")
        )
        .await
        .is_empty(),
        "the others differ from the newest"
    );
    // `ap`: approximately — a day's value finds what was updated that day and near it.
    let today = t.format("%Y-%m-%d").to_string();
    let ap = all_ids(
        &c,
        &format!("/fhir/Organization?_lastUpdated=ap{today}&_count=500"),
    )
    .await;
    assert!(ap.contains(&first.to_string()));
    c.validate_all();
}

/// Repeated `service-type` parameters are AND (each comma list OR); every HealthcareService
/// has at least one `type` (mCSD), and one with none is not published.
async fn service_types_combine_and_every_service_has_a_type(db: TestDb) {
    let c = demo_client(&db).await;
    let services = everything(&c, "HealthcareService").await;
    assert!(!services.is_empty());
    let types = |r: &Value| -> BTreeSet<String> {
        r["type"]
            .as_array()
            .unwrap_or_else(|| panic!("mCSD: HealthcareService.type 1..*: {r}"))
            .iter()
            .map(|t| t["coding"][0]["code"].as_str().unwrap().to_owned())
            .collect()
    };
    for s in &services {
        assert!(!types(s).is_empty(), "{s}");
    }
    let organizations = everything(&c, "Organization").await;
    assert!(
        organizations.len() > services.len(),
        "entries with no recorded offer publish no service"
    );
    for (a, b) in [
        ("home_visit", "always_available"),
        ("home_visit", "terminal_care"),
    ] {
        let want = id_set(
            services
                .iter()
                .filter(|s| types(s).contains(a) && types(s).contains(b)),
        );
        let got = all_ids(
            &c,
            &format!("/fhir/HealthcareService?service-type={a}&service-type={b}&_count=500"),
        )
        .await;
        assert_eq!(got, want, "{a} AND {b}");
        let either = id_set(
            services
                .iter()
                .filter(|s| types(s).contains(a) || types(s).contains(b)),
        );
        let got = all_ids(
            &c,
            &format!("/fhir/HealthcareService?service-type={a},{b}&_count=500"),
        )
        .await;
        assert_eq!(got, either, "{a} OR {b}");
        assert!(want.len() < either.len(), "the test can tell AND from OR");
    }
    // A PractitionerRole refers to a service only where one is published.
    for role in everything(&c, "PractitionerRole").await {
        if let Some(refs) = role["healthcareService"].as_array() {
            let id = refs[0]["reference"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap();
            assert!(services.iter().any(|s| s["id"] == id), "{role}");
        }
    }
    c.validate_all();
}

/// `address-city` and `address-state` match `Address.city` and `.state` (starts-with, `:exact`,
/// `:contains`), not anywhere in the address; `address-country`, `address-use`, `partof`.
async fn addresses_match_their_fields(db: TestDb) {
    let c = demo_client(&db).await;
    let locations = everything(&c, "Location").await;
    let field = |r: &Value, f: &str| r["address"][f].as_str().unwrap_or("").to_owned();
    let cases: Vec<(String, BTreeSet<String>)> = vec![
        // 「市」 ends every city name here but starts none.
        ("address-city=市".into(), BTreeSet::new()),
        (
            "address-city=八尾".into(),
            id_set(
                locations
                    .iter()
                    .filter(|r| field(r, "city").starts_with("八尾")),
            ),
        ),
        ("address-city:exact=八尾".into(), BTreeSet::new()),
        (
            "address-city:exact=八尾市".into(),
            id_set(locations.iter().filter(|r| field(r, "city") == "八尾市")),
        ),
        (
            "address-city:contains=大阪".into(),
            id_set(
                locations
                    .iter()
                    .filter(|r| field(r, "city").contains("大阪")),
            ),
        ),
        ("address-state:exact=大阪".into(), BTreeSet::new()),
        (
            "address-state:exact=大阪府".into(),
            id_set(locations.iter().filter(|r| field(r, "state") == "大阪府")),
        ),
        ("address-country=JP".into(), id_set(&locations)),
        ("address-country=US".into(), BTreeSet::new()),
        ("address-use=work".into(), id_set(&locations)),
        ("address-use=home".into(), BTreeSet::new()),
        ("partof=Location/1".into(), BTreeSet::new()),
    ];
    let yao = &cases[1].1;
    assert!(
        !yao.is_empty() && yao.len() < locations.len(),
        "a real subset"
    );
    for (query, want) in cases {
        let (name, value) = query.split_once('=').unwrap();
        let got = all_ids(
            &c,
            &format!("/fhir/Location?{name}={}&_count=500", enc(value)),
        )
        .await;
        assert_eq!(got, want, "{query}");
    }
    let orgs = all_ids(&c, "/fhir/Organization?partof=Organization/1&_count=500").await;
    assert!(orgs.is_empty(), "no organization is part of another");
    c.validate_all();
}

/// Identifiers by resource type: the 医療機関コード names the institution (Organization), not
/// its Location; each type's own Renkei id system finds it; `|code` means no system.
async fn identifiers_belong_to_their_resource_type(db: TestDb) {
    let c = demo_client(&db).await;
    let first = everything(&c, "Organization").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let id: i64 = first.parse().unwrap();
    fhir_client::approve_code(&db, id, "2710110007").await;
    let code = "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no|2710110007";
    let one = BTreeSet::from([first.clone()]);
    assert_eq!(
        all_ids(&c, &format!("/fhir/Organization?identifier={code}")).await,
        one
    );
    assert!(
        all_ids(&c, &format!("/fhir/Location?identifier={code}"))
            .await
            .is_empty(),
        "a Location carries no 医療機関コード"
    );
    let (_, location) = c.get(&format!("/fhir/Location/{first}")).await;
    let system = location["identifier"][0]["system"].as_str().unwrap();
    assert_eq!(system, format!("{CANONICAL}/sid/location"));
    assert_eq!(
        all_ids(&c, &format!("/fhir/Location?identifier={system}|{first}")).await,
        one
    );
    let services = everything(&c, "HealthcareService").await;
    let service = services[0]["id"].as_str().unwrap();
    let hs_system = format!("{CANONICAL}/sid/healthcare-service");
    assert_eq!(services[0]["identifier"][0]["system"], hs_system);
    assert_eq!(
        all_ids(
            &c,
            &format!("/fhir/HealthcareService?identifier={hs_system}|{service}")
        )
        .await,
        BTreeSet::from([service.to_owned()])
    );
    assert!(
        all_ids(&c, "/fhir/Organization?identifier=|2710110007")
            .await
            .is_empty(),
        "`|code` is an identifier with no system; every one here has a system"
    );
    c.validate_all();
}

/// `near-distance` (mCSD's LocationDistance option, R4 4.0.0) sets the radius of `near`.
async fn near_distance_sets_the_radius(db: TestDb) {
    let c = demo_client(&db).await;
    let point = "34.6269|135.6009";
    for (radius, distance) in [
        ("1", "1|http://unitsofmeasure.org|km"),
        ("2", "2km"),
        ("0.5", "500m"),
    ] {
        let want = all_ids(
            &c,
            &format!("/fhir/Location?near={point}|{radius}|km&_count=500"),
        )
        .await;
        let got = all_ids(
            &c,
            &format!(
                "/fhir/Location?near={point}&near-distance={}&_count=500",
                enc(distance)
            ),
        )
        .await;
        assert_eq!(got, want, "near-distance={distance}");
    }
    let (status, _) = c.get("/fhir/Location?near-distance=2km").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "near-distance needs near");
    c.validate_all();
}

async fn send(c: &Client, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    send_to(&c.app, request).await
}

async fn send_to(
    app: &axum::Router,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, bytes.to_vec())
}

/// POST `_search` with a form body (no CSRF token: it reads only) answers as GET; CORS
/// preflight; compressed answers for clients that accept them, never for pages.
async fn post_search_cors_and_compression(db: TestDb) {
    let c = demo_client(&db).await;
    let query = format!("name:contains={}&_count=500", enc("クリニック"));
    let by_get = all_ids(&c, &format!("/fhir/Organization?{query}")).await;
    assert!(!by_get.is_empty());
    let post = Request::builder()
        .method(Method::POST)
        .uri("/fhir/Organization/_search")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(query.clone()))
        .unwrap();
    let (status, _, body) = send(&c, post).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let bundle: Value = serde_json::from_slice(&body).unwrap();
    let by_post: BTreeSet<String> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(by_post, by_get);
    c.seen.lock().unwrap().push(bundle);
    // Parameters in the query string and the body together; GET on _search too.
    let mixed = Request::builder()
        .method(Method::POST)
        .uri("/fhir/Organization/_search?_count=1")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("_summary=count"))
        .unwrap();
    let (_, _, body) = send(&c, mixed).await;
    let counted: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(counted["total"], everything(&c, "Organization").await.len());
    let get_search = c
        .bundle(&format!("/fhir/Organization/_search?{query}"))
        .await;
    assert_eq!(get_search["entry"].as_array().unwrap().len(), by_get.len());
    // A body that is not a form: 415, as an OperationOutcome.
    let json_body = Request::builder()
        .method(Method::POST)
        .uri("/fhir/Organization/_search")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .unwrap();
    let (status, _, body) = send(&c, json_body).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["resourceType"],
        "OperationOutcome"
    );
    // Other POSTs still need their CSRF token.
    let (status, _, _) = send(
        &c,
        Request::builder()
            .method(Method::POST)
            .uri("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("email=a%40b.jp&password=x"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // CORS preflight from a browser application on another origin.
    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri("/fhir/Organization")
        .header(header::ORIGIN, "https://app.example.jp")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "prefer,authorization",
        )
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(&c, preflight).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let allowed = headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap();
    assert!(allowed.contains("prefer") && allowed.contains("authorization"));
    assert!(headers[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .unwrap()
        .contains("POST"));
    // An OPTIONS that is no preflight is a method the route does not take: 405, its own Allow.
    let (status, headers, _) = send(
        &c,
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/fhir/Organization/1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[header::ALLOW], "GET, HEAD");
    // Not for pages.
    let page_preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri("/directory")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = send(&c, page_preflight).await;
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());

    // Compression: br and gzip for FHIR, as accepted; none for an HTML page.
    for (accept, encoding) in [("br", "br"), ("gzip", "gzip"), ("gzip, br", "br")] {
        let request = Request::builder()
            .uri("/fhir/Organization?_count=50")
            .header(header::ACCEPT_ENCODING, accept)
            .body(Body::empty())
            .unwrap();
        let (status, headers, body) = send(&c, request).await;
        assert_eq!(status, StatusCode::OK);
        let got = headers[header::CONTENT_ENCODING].to_str().unwrap();
        assert!(
            got == encoding || (accept.contains(',') && got == "gzip"),
            "{accept}: {got}"
        );
        let plain = decode(got, &body);
        let bundle: Value = serde_json::from_slice(&plain).unwrap();
        assert_eq!(bundle["entry"].as_array().unwrap().len(), 50);
        assert!(
            body.len() * 3 < plain.len(),
            "compressed: {} of {}",
            body.len(),
            plain.len()
        );
    }
    let page = Request::builder()
        .uri("/directory")
        .header(header::ACCEPT_ENCODING, "gzip, br")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = send(&c, page).await;
    assert!(
        headers.get(header::CONTENT_ENCODING).is_none(),
        "pages carry CSRF tokens: never compressed (BREACH)"
    );
    c.validate_all();
}

fn decode(encoding: &str, body: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match encoding {
        "gzip" => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap();
        }
        "br" => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        other => panic!("unexpected encoding {other}"),
    }
    out
}

/// Identifier and code systems name things, so they do not follow the address the server is
/// reached at (JP Core alignment): the same with another `public_url`, and a configured
/// canonical base replaces them all; the address's text carries no 〒 or postcode.
async fn canonical_uris_do_not_follow_the_public_address(db: TestDb) {
    let c = demo_client(&db).await;
    let systems = |org: &Value| -> Vec<String> {
        let mut out: Vec<String> = org["identifier"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["system"].as_str().unwrap().to_owned())
            .collect();
        out.extend(
            org["type"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["coding"][0]["system"].as_str().unwrap().to_owned()),
        );
        out
    };
    let orgs = everything(&c, "Organization").await;
    let with_postcode = orgs
        .iter()
        .find(|o| o["address"][0]["postalCode"].is_string())
        .expect("an entry with a postcode");
    let text = with_postcode["address"][0]["text"].as_str().unwrap();
    assert!(!text.contains('〒'), "{text}");
    assert!(
        !text.contains(with_postcode["address"][0]["postalCode"].as_str().unwrap()),
        "{text}"
    );
    let id = orgs[0]["id"].as_str().unwrap();
    let (_, here) = c.get(&format!("/fhir/Organization/{id}")).await;
    let moved = renkei_web::AppState::new(
        db.store.clone(),
        renkei_web::WebConfig {
            public_url: "https://renkei.city.example.jp".to_owned(),
            ..renkei_web::WebConfig::default()
        },
    );
    let moved_app = renkei_web::router(moved);
    let (_, _, body) = send_to(
        &moved_app,
        Request::builder()
            .uri(format!("/fhir/Organization/{id}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let there: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        systems(&here),
        systems(&there),
        "the address does not rename"
    );
    assert!(systems(&here).iter().any(|s| s.starts_with(CANONICAL)));
    let named = renkei_web::AppState::new(
        db.store.clone(),
        renkei_web::WebConfig {
            fhir_canonical: "https://fhir.city.example.jp/renkei".to_owned(),
            ..renkei_web::WebConfig::default()
        },
    );
    let (_, _, body) = send_to(
        &renkei_web::router(named),
        Request::builder()
            .uri("/fhir/CodeSystem/renkei-capability")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let cs: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        cs["url"],
        "https://fhir.city.example.jp/renkei/CodeSystem/renkei-capability"
    );
    c.validate_all();
}

/// A FHIR near page keeps its entries in memory; a change reaches it when the index's refresh
/// sees the change (every second in `renkei serve`), never later.
async fn near_pages_follow_changes_as_the_index_does(db: TestDb) {
    let c = demo_client(&db).await;
    let near = "/fhir/Location?near=34.6269|135.6009|5|km&_count=20";
    let first = c.bundle(near).await;
    let entry = &first["entry"][0]["resource"];
    let id: i64 = entry["id"].as_str().unwrap().parse().unwrap();
    let email = renkei_domain::accounts::Email::parse("renamer@example.jp").unwrap();
    let user = db
        .store
        .create_user(&email, "改名 太郎", None)
        .await
        .unwrap();
    let mut fields = db.store.public_fields(id).await.unwrap().unwrap();
    fields.name = format!("{}（新館）", fields.name);
    let change = db.store.propose_change(id, user, &fields).await.unwrap();
    assert!(db.store.approve_change(change, user).await.unwrap());
    c.state
        .directory_index
        .refresh_at(&db.store, chrono::Utc::now() + chrono::Duration::seconds(1))
        .await
        .unwrap();
    let again = c.bundle(near).await;
    let id_text = id.to_string();
    let shown = again["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource"]["id"] == id_text.as_str())
        .expect("still within the radius");
    assert_eq!(shown["resource"]["name"], fields.name.as_str());
    c.validate_all();
}

/// `_revinclude`: the resources that refer to the matches (mCSD lists Location:organization);
/// each included one really refers to a match, and none that does is left out.
async fn revincludes_add_what_refers_to_the_matches(db: TestDb) {
    let c = demo_client(&db).await;
    let cases = [
        (
            "Organization",
            "Location:organization",
            "Location",
            "managingOrganization",
        ),
        (
            "Organization",
            "HealthcareService:organization",
            "HealthcareService",
            "providedBy",
        ),
        (
            "Organization",
            "PractitionerRole:organization",
            "PractitionerRole",
            "organization",
        ),
        (
            "Location",
            "HealthcareService:location",
            "HealthcareService",
            "location",
        ),
        (
            "Location",
            "PractitionerRole:location",
            "PractitionerRole",
            "location",
        ),
        (
            "HealthcareService",
            "PractitionerRole:service",
            "PractitionerRole",
            "healthcareService",
        ),
    ];
    for (kind, rev, included, element) in cases {
        let b = c
            .bundle(&format!("/fhir/{kind}?_count=40&_revinclude={rev}"))
            .await;
        let entries = b["entry"].as_array().unwrap();
        let matches: BTreeSet<String> = entries
            .iter()
            .filter(|e| e["search"]["mode"] == "match")
            .map(|e| format!("{kind}/{}", e["resource"]["id"].as_str().unwrap()))
            .collect();
        let refers = |r: &Value| -> BTreeSet<String> {
            let v = &r[element];
            let list = v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]);
            list.iter()
                .filter_map(|x| x["reference"].as_str().map(str::to_owned))
                .collect()
        };
        let got: BTreeSet<String> = entries
            .iter()
            .filter(|e| e["search"]["mode"] == "include")
            .map(|e| {
                assert_eq!(e["resource"]["resourceType"], included, "{rev}");
                assert!(!refers(&e["resource"]).is_disjoint(&matches), "{rev}: {e}");
                e["resource"]["id"].as_str().unwrap().to_owned()
            })
            .collect();
        let want: BTreeSet<String> = everything(&c, included)
            .await
            .iter()
            .filter(|r| !refers(r).is_disjoint(&matches))
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, want, "{kind}?_revinclude={rev}");
        assert!(!want.is_empty(), "{rev}: the test has something to find");
    }
    let (status, _) = c
        .get_with(
            "/fhir/Organization?_revinclude=Location:organization",
            &[("prefer", "handling=strict")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "understood under strict handling");
    c.validate_all();
}

/// The same answer without what differs per request (a Bundle's id and time).
fn comparable(mut v: Value) -> Value {
    if v["resourceType"] == "Bundle" {
        v["id"] = Value::Null;
        v["meta"] = Value::Null;
    }
    v
}

/// XML (`_format=xml` and `Accept: application/fhir+xml`) for search, read, `_history`,
/// metadata, includes, near and errors: valid FHIR XML in definition order, with exactly the
/// content of the JSON answer to the same request.
async fn xml_answers_carry_the_json_content(db: TestDb) {
    let c = demo_client(&db).await;
    let first = everything(&c, "Organization").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let id: i64 = first.parse().unwrap();
    fhir_client::approve_code(&db, id, "2710110007").await;
    let uris = [
        format!("/fhir/Organization/{first}"),
        format!("/fhir/Location/{first}"),
        "/fhir/Organization?_count=3&_total=accurate".to_owned(),
        "/fhir/Location?near=34.6269|135.6009|2|km&_count=5&_include=Location:organization"
            .to_owned(),
        "/fhir/HealthcareService?_count=5&_include=HealthcareService:location".to_owned(),
        "/fhir/PractitionerRole?_count=5".to_owned(),
        "/fhir/Provenance".to_owned(),
        "/fhir/CodeSystem".to_owned(),
        "/fhir/Organization/_history?_count=3".to_owned(),
        "/fhir/Organization?_summary=count".to_owned(),
        "/fhir/metadata".to_owned(),
        "/fhir/Organization/999999".to_owned(),
    ];
    let mut xml = Vec::new();
    let mut json = Vec::new();
    for uri in &uris {
        let sep = if uri.contains('?') { '&' } else { '?' };
        for (how, request) in [
            (
                "_format",
                Request::builder()
                    .uri(format!("{uri}{sep}_format=xml"))
                    .body(Body::empty())
                    .unwrap(),
            ),
            (
                "Accept",
                Request::builder()
                    .uri(uri.as_str())
                    .header(header::ACCEPT, "application/fhir+xml")
                    .body(Body::empty())
                    .unwrap(),
            ),
        ] {
            let (status, headers, body) = send(&c, request).await;
            assert_eq!(
                headers[header::CONTENT_TYPE],
                "application/fhir+xml; charset=utf-8",
                "{how} {uri}"
            );
            let text = String::from_utf8(body).unwrap();
            assert!(text.contains("xmlns=\"http://hl7.org/fhir\""), "{text}");
            let (json_status, answer) = c.get(uri).await;
            assert_eq!(status, json_status, "{how} {uri}");
            xml.push(text);
            json.push(answer);
        }
    }
    let Some(read_back) = fhir_validator::validate_xml(&xml)
        .unwrap_or_else(|report| panic!("invalid FHIR XML:\n{report}"))
    else {
        return;
    };
    assert_eq!(read_back.len(), json.len());
    for ((from_xml, from_json), uri) in read_back
        .into_iter()
        .zip(json)
        .zip(uris.iter().flat_map(|u| [u, u]))
    {
        assert_eq!(comparable(from_xml), comparable(from_json), "{uri}");
    }
    // A browser's Accept (HTML first, application/xml after) still reads JSON; an unknown
    // _format is 406.
    let (_, headers, _) = send(
        &c,
        Request::builder()
            .uri("/fhir/Organization?_count=1")
            .header(
                header::ACCEPT,
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/fhir+json; charset=utf-8"
    );
    let (status, _) = c.get("/fhir/Organization?_format=html").await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
    c.validate_all();
}

both_backends!(
    revincludes_add_what_refers_to_the_matches,
    canonical_uris_do_not_follow_the_public_address,
    near_pages_follow_changes_as_the_index_does,
    xml_answers_carry_the_json_content,
    totals_count_what_paging_returns,
    last_updated_takes_every_prefix,
    service_types_combine_and_every_service_has_a_type,
    addresses_match_their_fields,
    identifiers_belong_to_their_resource_type,
    near_distance_sets_the_radius,
    post_search_cors_and_compression,
);
