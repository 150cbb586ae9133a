//! The real router, driven in process against real SQLite and PostgreSQL databases.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use renkei_domain::region::RegionDefinition;
use renkei_domain::{demo, towns};
use renkei_testkit::{both_backends, TestDb};
use renkei_web::{router, AppState, WebConfig};
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn get(app: &Router, uri: &str) -> Reply {
    get_with(app, uri, &[]).await
}

async fn get_with(app: &Router, uri: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = Request::builder().uri(uri);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn get_bytes(app: &Router, uri: &str) -> Vec<u8> {
    let response = app
        .clone()
        .oneshot(Request::builder().uri(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec()
}

async fn demo_app(db: &TestDb) -> Router {
    let region = RegionDefinition::nakakawachi();
    db.store
        .ensure_region(&region, &towns::towns().unwrap())
        .await
        .unwrap();
    let all = demo::institutions(
        &region,
        &towns::towns().unwrap(),
        &towns::postcodes().unwrap(),
    )
    .unwrap();
    db.store.insert_institutions(&all).await.unwrap();
    router(AppState::new(db.store.clone(), WebConfig::default()))
}

/// Every page: no missing catalogue text, and no inline script: the only scripts are the map's
/// own files, deferred, as an enhancement of a page that works without JavaScript.
fn assert_no_missing_text(reply: &Reply) {
    assert!(
        !reply.body.contains('⟦'),
        "a catalogue key is missing: {}",
        reply.body
    );
    let allowed = [
        "<script src=\"/static/vendor/leaflet.js\" defer></script>",
        "<script src=\"/static/vendor/leaflet.markercluster.js\" defer></script>",
        "<script src=\"/static/directory-map.js\" defer></script>",
        "<script src=\"/static/print.js\" defer></script>",
    ];
    let mut rest = reply.body.clone();
    for tag in allowed {
        rest = rest.replace(tag, "");
    }
    assert!(
        !rest.contains("<script"),
        "only the map's deferred files, no other script: {}",
        reply.body
    );
    if reply.body.contains("/static/directory-map.js") {
        assert!(
            reply.body.contains("class=\"map-figure map-fallback\""),
            "a page with the interactive map also carries the server-drawn one"
        );
    }
}

async fn home_lists_the_five_areas_hubs_and_active_counts(db: TestDb) {
    let app = demo_app(&db).await;
    let home = get(&app, "/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert_no_missing_text(&home);
    assert!(home.body.contains("<html lang=\"ja\">"));
    for hub in [
        "布施医師会",
        "河内医師会",
        "枚岡医師会",
        "八尾市医師会",
        "柏原市医師会",
        "市立柏原病院",
    ] {
        assert!(home.body.contains(hub), "{hub} missing");
    }
    for area in [
        "東大阪市（西地区）",
        "東大阪市（中地区）",
        "東大阪市（東地区）",
        "八尾市",
        "柏原市",
    ] {
        assert!(home.body.contains(area), "{area} missing");
    }
    for (code, n) in [
        ("higashiosaka-west", 7),
        ("higashiosaka-central", 6),
        ("higashiosaka-east", 3),
        ("yao", 6),
        ("kashiwara", 0),
    ] {
        let marker = format!("data-testid=\"active-{code}\">{n}</strong>");
        assert!(home.body.contains(&marker), "{marker} missing");
    }
    assert!(home.body.contains("訪問看護ステーション"));
    assert!(
        home.body.contains("デモ版"),
        "the demo banner says the data is fictional"
    );
}

async fn home_without_demo_shows_the_region_and_no_banner(db: TestDb) {
    db.store
        .ensure_region(&RegionDefinition::nakakawachi(), &towns::towns().unwrap())
        .await
        .unwrap();
    let app = router(AppState::new(db.store.clone(), WebConfig::default()));
    let home = get(&app, "/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("八尾市医師会"));
    assert!(!home.body.contains("デモ版"));
}

async fn english_is_available(db: TestDb) {
    let app = demo_app(&db).await;
    let home = get(&app, "/?lang=en").await;
    assert_no_missing_text(&home);
    assert!(home.body.contains("<html lang=\"en\">"));
    assert!(home.body.contains("Higashiosaka (West)"));
    assert!(home.body.contains("Active institutions"));
    let by_cookie = get_with(&app, "/areas/yao", &[("cookie", "lang=en")]).await;
    assert!(by_cookie.body.contains("All institutions"));
    assert_no_missing_text(&by_cookie);

    let switch = get(&app, "/lang/en?next=/areas/yao").await;
    assert_eq!(switch.status, StatusCode::SEE_OTHER);
    assert_eq!(switch.headers[header::LOCATION], "/areas/yao");
    assert!(switch.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .starts_with("lang=en;"));
    let evil = get(&app, "/lang/ja?next=//evil.example/").await;
    assert_eq!(evil.headers[header::LOCATION], "/");
}

async fn an_area_page_shows_roles_and_institutions(db: TestDb) {
    let app = demo_app(&db).await;
    let west = get(&app, "/areas/higashiosaka-west").await;
    assert_eq!(west.status, StatusCode::OK);
    assert_no_missing_text(&west);
    assert!(west.body.contains("布施医師会"));
    assert!(west.body.contains("災害時における医療提供のための計画策定"));
    // The footer row counts 現状対応可 per role: the report's 5, 6, 5, 2, 7, 1.
    let footer = west
        .body
        .split("<tfoot>")
        .nth(1)
        .unwrap()
        .split("</tfoot>")
        .next()
        .unwrap();
    let counts: Vec<&str> = footer
        .split("<td class=\"mark\">")
        .skip(1)
        .map(|s| s.split('<').next().unwrap())
        .collect();
    assert_eq!(counts, ["5", "6", "5", "2", "7", "1"]);
    let yao = get(&app, "/areas/yao").await;
    assert!(yao.body.contains("対応状況は未報告です"));
    let kashiwara = get(&app, "/areas/kashiwara").await;
    assert!(kashiwara
        .body
        .contains("積極的医療機関はまだ登録されていません"));
}

async fn the_printable_area_map_numbers_every_entry_by_kind(db: TestDb) {
    let app = demo_app(&db).await;
    let area = get(&app, "/areas/kashiwara").await;
    assert!(
        area.body.contains("href=\"/areas/kashiwara/map\""),
        "the area page links to it"
    );
    let page = get(&app, "/areas/kashiwara/map").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_no_missing_text(&page);
    assert!(page.body.contains("柏原市 在宅医療・介護資源マップ"));
    assert!(page.body.contains("令和"), "dated in the Japanese calendar");
    assert!(
        page.body.contains("/directory?area=kashiwara"),
        "the QR code's address is printed"
    );
    assert!(page.body.contains("<svg") && page.body.contains("class=\"map\""));
    let listed = db
        .store
        .institutions_in_area("kashiwara")
        .await
        .unwrap()
        .len();
    let rows = page.body.matches("<li value=\"").count();
    assert_eq!(rows, listed, "every entry of the area is listed once");
    // The list is numbered 1..n without gaps, and each marker's number is in the list.
    for n in 1..=listed {
        assert!(
            page.body.contains(&format!("<li value=\"{n}\">")),
            "number {n}"
        );
    }
    let markers = page.body.matches("class=\"marker\"").count();
    assert!(markers > 0 && markers <= listed);
    // Grouped by kind in the directory's order: hospitals before pharmacies.
    let hospital = page.body.find("<h2>病院").unwrap();
    let pharmacy = page.body.find("<h2>薬局").unwrap();
    assert!(hospital < pharmacy);
    assert_eq!(
        get(&app, "/areas/nowhere/map").await.status,
        StatusCode::NOT_FOUND
    );
}

async fn unknown_pages_answer_404_in_japanese(db: TestDb) {
    let app = demo_app(&db).await;
    for uri in [
        "/areas/nowhere",
        "/no/such/page",
        "/static/missing.js",
        "/lang/fr",
    ] {
        let reply = get(&app, uri).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(reply.body.contains("ページが見つかりません"), "{uri}");
    }
    let english = get(&app, "/nowhere?lang=en").await;
    assert!(english.body.contains("Page not found"));
}

async fn health_and_metrics(db: TestDb) {
    let app = demo_app(&db).await;
    let health = get(&app, "/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&health.body).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["database"], db.store.backend().name());
    // README: "directory_index is loading while a fresh server still reads the directory".
    assert_eq!(json["directory_index"], "loading", "nothing read yet");
    let state = AppState::new(db.store.clone(), WebConfig::default());
    let app = router(state.clone());
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&get(&app, "/healthz").await.body).unwrap()
            ["directory_index"],
        "loading"
    );
    state.directory_index.refresh(&db.store).await.unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&get(&app, "/healthz").await.body).unwrap()
            ["directory_index"],
        "loaded",
        "after the first load"
    );
    get(&app, "/areas/yao").await;
    get(&app, "/areas/yao").await;
    let metrics = get(&app, "/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(
        metrics.body.contains(
            "renkei_http_requests_total{method=\"GET\",route=\"/areas/{code}\",status=\"200\"} 2"
        ),
        "{}",
        metrics.body
    );
    assert!(metrics.body.contains("renkei_db_pool_connections"));

    db.store.close().await;
    let down = get(&app, "/healthz").await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
}

async fn security_headers_and_request_ids(db: TestDb) {
    let app = demo_app(&db).await;
    for uri in ["/", "/nowhere", "/healthz", "/static/app.css"] {
        let reply = get(&app, uri).await;
        let csp = reply.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{uri}"
        );
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(reply.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(reply.headers.contains_key("x-request-id"), "{uri}");
    }
    let css = get(&app, "/static/app.css").await;
    assert!(css.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    assert!(css.body.contains("@media"));

    // The map: tiles from the GSI by default, allowed by the policy; our files and the
    // npm-built library served by Renkei itself; nothing outside /static/ reachable.
    let csp = get(&app, "/").await.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("img-src 'self' data: https://cyberjapandata.gsi.go.jp"),
        "{csp}"
    );
    for (path, media, needle) in [
        ("/static/vendor/leaflet.js", "text/javascript", "Leaflet"),
        (
            "/static/vendor/leaflet.css",
            "text/css",
            ".leaflet-container",
        ),
        (
            "/static/vendor/leaflet.markercluster.js",
            "text/javascript",
            "markerClusterGroup",
        ),
        (
            "/static/vendor/MarkerCluster.css",
            "text/css",
            ".leaflet-cluster-anim",
        ),
        ("/static/vendor/leaflet.LICENSE.txt", "text/plain", "BSD"),
        (
            "/static/directory-map.js",
            "text/javascript",
            "js-directory-map",
        ),
        (
            "/static/boundaries.geojson",
            "application/geo+json",
            "FeatureCollection",
        ),
    ] {
        let reply = get(&app, path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(
            reply.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with(media),
            "{path}"
        );
        assert!(reply.body.contains(needle), "{path}");
    }
    for path in [
        "/static/vendor/../app.css",
        "/static/vendor/",
        "/static/../Cargo.toml",
    ] {
        assert_eq!(
            get(&app, path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

async fn the_map_follows_the_configured_tiles_or_none(db: TestDb) {
    let own = WebConfig {
        map: renkei_web::MapSettings {
            tile_url: "https://tiles.example.jp/osm/{z}/{x}/{y}.png".to_owned(),
            attribution: "© OpenStreetMap contributors".to_owned(),
        },
        ..WebConfig::default()
    };
    let _ = demo_app(&db).await;
    let app = router(AppState::new(db.store.clone(), own));
    let page = get(&app, "/directory?area=yao").await;
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("img-src 'self' data: https://tiles.example.jp;"),
        "{csp}"
    );
    assert!(!csp.contains("gsi.go.jp"), "{csp}");
    assert!(
        page.body
            .contains("data-tiles=\"https://tiles.example.jp/osm/{z}/{x}/{y}.png\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("© OpenStreetMap contributors"));

    let closed = WebConfig {
        map: renkei_web::MapSettings {
            tile_url: String::new(),
            attribution: String::new(),
        },
        ..WebConfig::default()
    };
    let app = router(AppState::new(db.store.clone(), closed));
    let page = get(&app, "/directory?area=yao").await;
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("img-src 'self' data:;"), "{csp}");
    assert!(page.body.contains("data-tiles=\"\""));
    assert!(
        page.body.contains("class=\"map-figure map-fallback\""),
        "the server-drawn map is always there"
    );
}

async fn the_public_directory_finds_by_capability_words_and_area(db: TestDb) {
    let app = demo_app(&db).await;
    let q = "/directory?q=%E8%A8%AA%E5%95%8F%E8%A8%BA%E7%99%82+%EF%BC%92%EF%BC%94%E6%99%82%E9%96%93+%E5%85%AB%E5%B0%BE";
    let reply = get(&app, q).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_no_missing_text(&reply);
    assert!(
        reply.body.contains("訪問診療 + 24時間対応 + 八尾"),
        "the page says how it understood the words"
    );
    let items: Vec<&str> = reply
        .body
        .split("<li>")
        .skip(1)
        .filter(|li| li.contains("inst-address"))
        .collect();
    assert!(items.len() >= 4, "{}", items.len());
    for item in &items {
        assert!(
            item.contains("八尾市") && item.contains("訪問診療") && item.contains("24時間対応"),
            "{item}"
        );
    }
    assert!(
        reply.body.contains("<svg class=\"map\""),
        "a map drawn without JavaScript or tiles"
    );
    assert_eq!(
        reply.body.matches("<circle class=\"marker\"").count(),
        items.len(),
        "one marker per result"
    );
    assert_eq!(
        reply.body.matches("<polygon class=\"outline\"").count(),
        3,
        "the three city outlines"
    );
    let first_id: String = items[0]
        .split("/institutions/")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let detail = get(&app, &format!("/institutions/{first_id}")).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert_no_missing_text(&detail);
    assert!(detail.body.contains("八尾市医師会") && detail.body.contains("デモ用の架空の機関です"));
    assert_eq!(
        get(&app, "/institutions/999999").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, "/institutions/abc").await.status,
        StatusCode::BAD_REQUEST
    );

    let all = get(&app, "/directory?area=yao&kind=clinic").await;
    assert!(all.body.contains("rel=\"next\""), "paged");
    let page2 = get(&app, "/directory?q=&area=yao&kind=clinic&page=2").await;
    assert!(page2.body.contains("rel=\"prev\""));
    let ticked = get(
        &app,
        "/directory?area=kashiwara&cap=respite_admission&cap=unknown",
    )
    .await;
    assert_eq!(ticked.status, StatusCode::OK);
    assert!(ticked.body.contains("レスパイト入院受入"));
    let english = get(&app, "/directory?q=%E5%85%AB%E5%B0%BE&lang=en").await;
    assert!(english.body.contains("Find care services"));
    assert_no_missing_text(&english);
    let csv = get(&app, "/directory.csv?area=yao&cap=respite_admission").await;
    assert!(csv.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(csv
        .body
        .starts_with("\u{feff}ID,名称,よみがな,種別,地域,医療機関コード"));
    let rows: Vec<&str> = csv.body.lines().skip(1).collect();
    assert!(
        !rows.is_empty()
            && rows
                .iter()
                .all(|r| r.contains(",yao,") && r.contains("レスパイト入院受入"))
    );
    let xlsx = get_bytes(&app, "/directory.xlsx?area=yao&cap=respite_admission").await;
    assert!(xlsx.starts_with(b"PK"), "an Office Open XML (zip) workbook");
    let geo = get(&app, "/directory.geojson?area=yao&cap=respite_admission").await;
    let json: serde_json::Value = serde_json::from_str(&geo.body).unwrap();
    assert_eq!(json["type"], "FeatureCollection");
    assert_eq!(json["features"].as_array().unwrap().len(), rows.len());
    let lng = json["features"][0]["geometry"]["coordinates"][0]
        .as_f64()
        .unwrap();
    assert!((135.5..135.8).contains(&lng), "longitude first");
    let near = get(&app, "/directory?near=%E5%85%AB%E5%B0%BE%E5%B8%82%E6%9C%AC%E7%94%BA%E4%B8%80%E4%B8%81%E7%9B%AE&km=2&kind=clinic").await;
    assert_no_missing_text(&near);
    assert!(
        near.body.contains("近い順： 八尾市本町一丁目 2km 以内"),
        "{}",
        near.body.split("near-note").nth(1).unwrap_or("")
    );
    let distances: Vec<f64> = near
        .body
        .split("data-testid=\"distance\">")
        .skip(1)
        .map(|d| {
            let text = d.split('<').next().unwrap();
            let (value, unit) = text.split_once(' ').unwrap();
            value.parse::<f64>().unwrap() / if unit == "m" { 1000.0 } else { 1.0 }
        })
        .collect();
    assert!(
        distances.len() >= 3 && distances.windows(2).all(|w| w[0] <= w[1] + 0.05),
        "{distances:?}"
    );
    // A link or form without a radius (or with nonsense) means 5 km, not a radius of 0.
    let count = |reply: &Reply| {
        reply
            .body
            .split("data-testid=\"result-count\">")
            .nth(1)
            .and_then(|r| r.split("<strong>").nth(1))
            .and_then(|r| r.split('<').next())
            .unwrap_or("")
            .to_owned()
    };
    let five = count(&get(&app, "/directory?near=581-0003&km=5").await);
    assert!(five.parse::<i64>().unwrap() > 10, "{five}");
    for radius in ["", "&km=nan", "&km=%E4%BA%94"] {
        let reply = get(&app, &format!("/directory?near=581-0003{radius}")).await;
        assert_eq!(count(&reply), five, "radius {radius:?}");
        assert!(reply.body.contains("5km 以内"), "radius {radius:?}");
    }
    let unknown = get(
        &app,
        "/directory?near=%E3%81%A9%E3%81%93%E3%81%A7%E3%82%82%E3%81%AA%E3%81%84",
    )
    .await;
    assert!(unknown.body.contains("その場所を見つけられませんでした"));
    let nothing = get(
        &app,
        "/directory?q=%E5%AD%98%E5%9C%A8%E3%81%97%E3%81%AA%E3%81%84%E5%90%8D%E5%89%8D",
    )
    .await;
    assert!(nothing.body.contains("見つかりませんでした"));
}

/// Anonymous searches that read the database are bounded: past the slots (here one, with no
/// wait) they get a prompt 503 with Retry-After — never a pool timeout — while pages outside
/// the gate keep being answered; with the default slots the same burst is answered in full.
async fn anonymous_searches_cannot_take_every_database_connection(db: TestDb) {
    let _ = demo_app(&db).await;
    let tight = WebConfig {
        public_search_slots: 1,
        public_search_wait: std::time::Duration::ZERO,
        ..WebConfig::default()
    };
    let app = router(AppState::new(db.store.clone(), tight));
    let paths: Vec<String> = (0..24)
        .map(|n| match n % 3 {
            0 => format!("/directory?q=クリニック&page={}", n / 3 + 1),
            1 => "/directory.csv?area=yao".to_owned(),
            _ => format!("/fhir/Organization?name=デモ&_count={}", n + 1),
        })
        .collect();
    let replies = futures_util::future::join_all(
        paths
            .iter()
            .map(|p| get(&app, p))
            .chain(std::iter::once(get(&app, "/healthz"))),
    )
    .await;
    let (health, searches) = replies.split_last().unwrap();
    assert_eq!(health.status, StatusCode::OK, "outside the gate");
    let busy: Vec<&Reply> = searches
        .iter()
        .filter(|r| r.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(
        searches
            .iter()
            .all(|r| r.status == StatusCode::OK || r.status == StatusCode::SERVICE_UNAVAILABLE),
        "{:?}",
        searches.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(searches.iter().any(|r| r.status == StatusCode::OK));
    assert!(!busy.is_empty(), "one slot cannot serve 24 at once");
    for reply in busy {
        assert_eq!(reply.headers[header::RETRY_AFTER], "2");
        assert!(reply.body.contains("混み合っています") && reply.body.contains("try again"));
    }
    let app = router(AppState::new(db.store.clone(), WebConfig::default()));
    let replies = futures_util::future::join_all(paths.iter().map(|p| get(&app, p))).await;
    assert!(
        replies.iter().all(|r| r.status == StatusCode::OK),
        "the default slots and wait serve the burst: {:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
}

both_backends!(
    anonymous_searches_cannot_take_every_database_connection,
    the_public_directory_finds_by_capability_words_and_area,
    home_lists_the_five_areas_hubs_and_active_counts,
    home_without_demo_shows_the_region_and_no_banner,
    english_is_available,
    an_area_page_shows_roles_and_institutions,
    unknown_pages_answer_404_in_japanese,
    health_and_metrics,
    security_headers_and_request_ids,
    the_map_follows_the_configured_tiles_or_none,
    the_printable_area_map_numbers_every_entry_by_kind,
);
