//! `/api/openapi.json` through the router on SQLite and PostgreSQL: every machine route of the
//! route table is described and nothing described is missing from it; every reference resolves;
//! and each described GET, called as a stranger and as a coordinator, answers with a status and a
//! media type the document declares (the property-based run with schemathesis,
//! `tools/api-fuzz/run.sh`, goes much further; this keeps the basics in every test run).

mod common;

use common::*;
use renkei_domain::accounts::AccountRole;
use renkei_testkit::{both_backends, TestDb};
use renkei_web::openapi::is_machine_route;
use renkei_web::routes;
use serde_json::Value;

/// Whether an axum route pattern (`/fhir/{kind}/{id}`) covers a documented path
/// (`/fhir/Organization/{id}`): literal segments must be equal, a `{…}` of the route takes any.
fn covers(route: &str, documented: &str) -> bool {
    let r: Vec<&str> = route.split('/').collect();
    let d: Vec<&str> = documented.split('/').collect();
    r.len() == d.len()
        && r.iter()
            .zip(&d)
            .all(|(r, d)| r == d || (r.starts_with('{') && r.ends_with('}')))
}

/// Whether an axum route is the one that answers a documented path: the most literal covering
/// route wins, as in axum (`/fhir/Measure/renkei-hub-report` before `/fhir/{kind}/{id}`).
fn answering_route<'a>(rules: &'a [routes::RouteRule], documented: &str) -> Option<&'a str> {
    rules
        .iter()
        .filter(|r| r.method == "GET" && covers(r.path, documented))
        .min_by_key(|r| r.path.matches('{').count())
        .map(|r| r.path)
}

async fn document(w: &World) -> Value {
    let reply = Browser::new(&w.app).get("/api/openapi.json").await;
    assert_eq!(reply.status, 200);
    assert!(reply.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    serde_json::from_str(&reply.body).expect("the document is JSON")
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((path.clone(), method.to_uppercase(), op.clone()));
        }
    }
    out
}

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    out.push(x.as_str().unwrap().to_owned());
                } else {
                    refs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

/// The routes for programs, as this test knows them: the JSON API, the FHIR directory, the
/// health and metrics endpoints and the public directory downloads (which programs fetch with
/// the search page's parameters).
fn expected_machine_route(path: &str) -> bool {
    path.starts_with("/api/")
        || path.starts_with("/fhir/")
        || [
            "/healthz",
            "/metrics",
            "/directory.csv",
            "/directory.xlsx",
            "/directory.geojson",
        ]
        .contains(&path)
}

/// Files and live streams that a signed-in person's page offers (downloads, calendar entries,
/// the dashboards' server-sent events): opened with the person's session and its access
/// rules, so not part of the API described for programs. The CAP alert is handed to other
/// alerting systems by the coordinator as a file.
const PAGE_DOWNLOADS: &[&str] = &[
    "/hub/safety/{id}/events",
    "/hub/safety/{id}/export.csv",
    "/hub/safety/{id}/export.xlsx",
    "/hub/safety/{id}/cap.xml",
    "/hub/readiness.csv",
    "/conferences/{id}/invite.ics",
    "/patients/{id}/fhir.json",
    "/patients/{id}/audit.json",
    "/institutions/{id}/ict-evidence.csv",
    "/institutions/{id}/ict-evidence.xlsx",
    "/rota/{id}/calendar.ics",
    "/urgent/{id}/events",
    "/institutions/{id}/urgent/events",
    "/hub/events/{id}/registrations.csv",
    "/hub/surveys/{id}/results.xlsx",
    "/hub/consultations.csv",
    "/hub/consultations.xlsx",
    "/ledger/{year}/report.html",
    "/ledger/{year}/report.xlsx",
    "/ledger/{year}/report.md",
    "/admin/audit.csv",
];

both_backends!(the_document_describes_every_machine_route_and_only_those);
async fn the_document_describes_every_machine_route_and_only_those(db: TestDb) {
    let w = world(&db).await;
    let doc = document(&w).await;
    assert_eq!(doc["openapi"], "3.0.3");
    let rules = routes::table(&w.state);
    let ops = operations(&doc);

    // Which routes are for programs is written here, apart from the code's own rule: a route
    // that serves a file or a stream is either described (for programs) or listed below as a
    // download or live view that a signed-in person's page opens (behind the session, not an
    // API); a new one must be placed in one of the two lists.
    for rule in &rules {
        let expected = expected_machine_route(rule.path);
        assert_eq!(
            is_machine_route(rule.path),
            expected,
            "{} {}: the code's rule and this test's list disagree",
            rule.method,
            rule.path
        );
        // A file name with an extension, or a stream of server-sent events after an id.
        let serves_a_format = rule
            .path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.') && !last.starts_with('{'))
            || rule.path.ends_with("}/events");
        if serves_a_format && !expected {
            assert!(
                PAGE_DOWNLOADS.contains(&rule.path),
                "{} {} serves a file or stream but is neither described for programs nor listed as a page's download",
                rule.method,
                rule.path
            );
        }
    }
    let machine: Vec<_> = rules.iter().filter(|r| is_machine_route(r.path)).collect();
    assert!(machine.len() >= 12, "the machine routes: {machine:?}");
    for rule in &machine {
        assert!(
            ops.iter().any(|(path, method, _)| method == rule.method
                && answering_route(&rules, path) == Some(rule.path)),
            "{} {} is a machine route but the document does not describe it",
            rule.method,
            rule.path
        );
    }
    let mut ids = std::collections::HashSet::new();
    for (path, method, op) in &ops {
        let route = answering_route(&rules, path)
            .unwrap_or_else(|| panic!("{method} {path} is described but no route answers it"));
        assert!(is_machine_route(route), "{path} is not a machine route");
        assert!(
            rules.iter().any(|r| r.path == route && r.method == method),
            "{method} {path}: the route has no {method}"
        );
        let id = op["operationId"].as_str().expect("an operationId");
        assert!(ids.insert(id.to_owned()), "operationId {id} twice");
        assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(op["responses"]["200"].is_object(), "{path}: no 200");
        // Path parameters are declared.
        for segment in path.split('/').filter(|s| s.starts_with('{')) {
            let name = segment.trim_matches(|c| c == '{' || c == '}');
            assert!(
                op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["in"] == "path" && p["name"] == name),
                "{path}: {name} is not declared"
            );
        }
    }
    // Every FHIR resource type the server reads is described, from the CapabilityStatement.
    for t in [
        "Organization",
        "Location",
        "HealthcareService",
        "PractitionerRole",
        "Provenance",
        "CodeSystem",
        "MeasureReport",
    ] {
        assert!(doc["paths"][format!("/fhir/{t}/{{id}}")].is_object(), "{t}");
        assert!(doc["paths"][format!("/fhir/{t}")].is_object(), "{t}");
    }
    assert!(doc["paths"]["/fhir/CodeSystem/_history"].is_null());
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").expect("local ref");
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} does not resolve"
        );
    }
}

/// The media type of a response, without parameters.
fn media(reply: &Reply) -> String {
    reply
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap()
        .trim()
        .to_owned()
}

both_backends!(each_described_get_answers_as_described_for_a_stranger_and_a_coordinator);
async fn each_described_get_answers_as_described_for_a_stranger_and_a_coordinator(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let doc = document(&w).await;
    let mut checked = 0;
    for signed_in in [false, true] {
        let mut b = if signed_in {
            w.login(&email_of(AccountRole::HubCoordinator)).await
        } else {
            Browser::new(&w.app)
        };
        for (path, method, op) in operations(&doc) {
            // The one POST is a FHIR search by form, answered as its GET (fhir_mcsd.rs).
            if method == "POST" {
                assert!(
                    path.ends_with("/_search"),
                    "{path}: the interface only reads"
                );
                continue;
            }
            assert_eq!(method, "GET");
            let mut uri = path.replace("{id}", "1");
            let required: Vec<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query" && p["required"] == true)
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect();
            if !required.is_empty() {
                // The near API: a point in 八尾市.
                assert_eq!(required, ["lat", "lng"], "{path}");
                uri.push_str("?lat=34.6265&lng=135.6010");
            }
            let reply = b.get(&uri).await;
            let status = reply.status.as_u16().to_string();
            let declared = &op["responses"][&status];
            assert!(
                declared.is_object(),
                "GET {uri} ({}) answered {status}, which the document does not declare: {}",
                if signed_in { "coordinator" } else { "stranger" },
                reply.body.chars().take(300).collect::<String>()
            );
            let media_type = media(&reply);
            assert!(
                declared["content"][&media_type].is_object(),
                "GET {uri} answered {status} as {media_type}, not as declared"
            );
            checked += 1;
        }
    }
    assert!(checked > 30);
    // Protected ones refuse a stranger in the described way and serve the coordinator.
    let stranger = Browser::new(&w.app).get("/fhir/MeasureReport").await;
    assert_eq!(stranger.status, 401);
    assert_eq!(media(&stranger), "application/fhir+json");
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let me = coordinator.get("/api/v1/me").await;
    assert_eq!(me.status, 200);
    let me: Value = serde_json::from_str(&me.body).unwrap();
    assert_eq!(me["memberships"][0]["role"], "hub_coordinator");
}

both_backends!(
    a_method_the_path_does_not_take_is_405_and_a_path_of_no_route_404_before_any_csrf_check
);
async fn a_method_the_path_does_not_take_is_405_and_a_path_of_no_route_404_before_any_csrf_check(
    db: TestDb,
) {
    use tower::ServiceExt;
    let w = world(&db).await;
    let call = |method: &'static str, uri: &'static str| {
        let app = w.app.clone();
        async move {
            let request = axum::http::Request::builder()
                .method(method)
                .uri(uri)
                .body(axum::body::Body::empty())
                .unwrap();
            app.oneshot(request).await.unwrap()
        }
    };
    let media_of = |r: &axum::http::Response<axum::body::Body>| {
        r.headers()["content-type"].to_str().unwrap().to_owned()
    };
    let allow = |r: &axum::http::Response<axum::body::Body>| {
        r.headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let r = call("TRACE", "/healthz").await;
    assert_eq!(r.status(), 405);
    assert_eq!(allow(&r).as_deref(), Some("GET, HEAD"));
    let r = call("DELETE", "/fhir/Organization/1").await;
    assert_eq!(r.status(), 405);
    assert!(media_of(&r).starts_with("application/fhir+json"));
    let r = call("PUT", "/api/v1/me").await;
    assert_eq!(r.status(), 405);
    assert!(media_of(&r).starts_with("application/json"));
    // A page that takes GET and POST lists both.
    let r = call("DELETE", "/login").await;
    assert_eq!(r.status(), 405);
    assert_eq!(allow(&r).as_deref(), Some("GET, HEAD, POST"));
    // A method the route does take still meets the CSRF check.
    assert_eq!(call("POST", "/login").await.status(), 403);
    assert_eq!(call("HEAD", "/healthz").await.status(), 200);
    // A state-changing request to a path of no route is a plain 404, not a CSRF 403: as a page
    // in the reader's language, or in the machine form under /api/ and /fhir/.
    let r = call("POST", "/no-such-page").await;
    assert_eq!(r.status(), 404);
    let page = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&page).contains("<html"));
    let r = call("DELETE", "/api/v1/no-such-thing").await;
    assert_eq!(r.status(), 404);
    assert!(media_of(&r).starts_with("application/json"));
    let r = call("PUT", "/fhir/Organization/1/no/such/part").await;
    assert_eq!(r.status(), 404);
    assert!(media_of(&r).starts_with("application/fhir+json"));
    let outcome: Value = serde_json::from_slice(
        &axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(outcome["issue"][0]["code"], "not-found");
    // Reads of unknown paths are 404 as before, from the fallback.
    assert_eq!(call("GET", "/no-such-page").await.status(), 404);
}

both_backends!(a_nul_character_in_a_url_or_a_form_is_refused_plainly_on_both_databases);
async fn a_nul_character_in_a_url_or_a_form_is_refused_plainly_on_both_databases(db: TestDb) {
    // Found by schemathesis: PostgreSQL refuses NUL in text, so these were 500s there.
    let w = world_with_demo_directory(&db).await;
    let mut b = Browser::new(&w.app);
    for uri in [
        "/fhir/Organization?name:contains=a%00b",
        "/directory.xlsx?q=%00",
        "/directory?q=%E8%A8%AA%00",
        "/api/v1/directory/near?lat=34.6&lng=135.6&kind=%00",
    ] {
        let r = b.get(uri).await;
        assert_eq!(r.status, 400, "{uri}: {}", r.body);
        assert!(r.body.contains("NUL"), "{uri} says why");
    }
    assert_eq!(
        media(&b.get("/fhir/Organization?name=%00").await),
        "application/fhir+json"
    );
    let r = b
        .post(
            "/login",
            "/login",
            vec![
                ("email", "a\0b@example.jp".to_owned()),
                ("password", "x".to_owned()),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // Text without NUL is searched as before.
    assert_eq!(b.get("/directory.xlsx?q=%E8%A8%AA").await.status, 200);
}
