//! `/api/openapi.json`: the OpenAPI 3.0 description of every endpoint meant for programs — the
//! JSON API, the FHIR directory, health, metrics and the directory downloads. The FHIR part is
//! generated from the CapabilityStatement (`/fhir/metadata`), and the enumerations from the
//! domain's own lists, so the description cannot drift from what the server does; the route
//! table's test fails when a machine route is added without being described here.

use crate::fhir::capability;
use crate::fhir::resources::Base;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use renkei_domain::accounts::AccountRole;
use renkei_domain::capability::Capability;
use renkei_domain::institution::InstitutionKind;
use serde_json::{json, Map, Value};

/// The paths that are for programs and so must be in the document: everything under `/api/` and
/// `/fhir/`, and the health, metrics and directory-download endpoints.
pub fn is_machine_route(path: &str) -> bool {
    path.starts_with("/api/")
        || path.starts_with("/fhir/")
        || matches!(
            path,
            "/healthz" | "/metrics" | "/directory.csv" | "/directory.xlsx" | "/directory.geojson"
        )
}

/// `GET /api/openapi.json`.
pub async fn serve(State(app): State<AppState>) -> Response {
    let body = document(&app.config.public_url).to_string();
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
        ],
        body,
    )
        .into_response()
}

/// The whole document, with `public_url` as its server.
pub fn document(public_url: &str) -> Value {
    let server = public_url.trim_end_matches('/');
    let mut paths = Map::new();
    api_paths(&mut paths);
    service_paths(&mut paths);
    fhir_paths(
        &mut paths,
        &Base {
            served: format!("{server}/fhir"),
            canonical: crate::DEFAULT_FHIR_CANONICAL.to_owned(),
        },
    );
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Renkei API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Renkei（連携）の機械向けの窓口です。\n\nThe machine endpoints of Renkei: the JSON API (`/api/v1/`), the care-services directory as FHIR R4 following IHE mCSD (`/fhir/`, read-only, public except MeasureReport), health and metrics, and the public directory downloads.\n\nSigned-in pages use a session cookie; programs use an API token made on the account page (アカウント → API トークン) and sent as `Authorization: Bearer rk_…`. Tokens are accepted under `/api/` and on `/fhir/MeasureReport` only. Error messages are in Japanese and English, `{\"error\": …}` under `/api/` and an OperationOutcome under `/fhir/`.",
        },
        "servers": [{ "url": server }],
        "tags": [
            { "name": "api", "description": "JSON API" },
            { "name": "fhir", "description": "FHIR R4 directory (IHE mCSD ITI-90, ITI-91) and the hubs' report counts", "externalDocs": { "url": "https://hl7.org/fhir/R4/http.html" } },
            { "name": "service", "description": "Health, metrics and this document" },
            { "name": "directory", "description": "Downloads of a directory search" },
        ],
        "paths": paths,
        "components": components(),
    })
}

fn op(tag: &str, id: &str, summary: &str, params: Vec<Value>, responses: Value) -> Value {
    let mut o = json!({
        "tags": [tag],
        "operationId": id,
        "summary": summary,
        "responses": responses,
    });
    if !params.is_empty() {
        o["parameters"] = Value::Array(params);
    }
    o
}

/// An optional query parameter; every one of them treats an empty value as absent.
fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "allowEmptyValue": true, "description": description, "schema": without_nul(schema) })
}

/// Free text may hold any character but NUL, which every request refuses (400).
fn without_nul(mut schema: Value) -> Value {
    if schema["type"] == "string" && schema.get("enum").is_none() && schema.get("pattern").is_none()
    {
        schema["pattern"] = json!("^[^\\u0000]*$");
    }
    schema
}

fn required_query(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": true, "description": description, "schema": schema })
}

fn path_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string", "minLength": 1 } })
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn content(media: &str, schema: Value) -> Value {
    json!({ media: { "schema": schema } })
}

fn api_error(description: &str) -> Value {
    json!({ "description": description, "content": content("application/json", reference("Error")) })
}

fn fhir_body(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": content("application/fhir+json", schema) })
}

fn outcome(description: &str) -> Value {
    fhir_body(description, reference("OperationOutcome"))
}

fn kind_codes() -> Vec<&'static str> {
    InstitutionKind::ALL.iter().map(|k| k.code()).collect()
}

fn capability_codes() -> Vec<&'static str> {
    Capability::ALL.iter().map(|c| c.code()).collect()
}

fn api_paths(paths: &mut Map<String, Value>) {
    paths.insert(
        "/api/v1/me".into(),
        json!({ "get": {
            "tags": ["api"],
            "operationId": "me",
            "summary": "ログイン中の利用者 / the signed-in user and their roles",
            "security": [{ "bearer": [] }, { "session": [] }],
            "responses": {
                "200": { "description": "The user", "content": content("application/json", reference("Me")) },
                "401": api_error("No session or token, or a revoked token"),
                "403": api_error("The token lacks the read scope"),
            },
        }}),
    );
    let near = op(
        "api",
        "directoryNear",
        "近くの医療機関・事業所 / directory entries near a point, nearest first",
        vec![
            required_query(
                "lat",
                "緯度 / latitude (WGS 84)",
                json!({ "type": "number", "minimum": -90, "maximum": 90 }),
            ),
            required_query(
                "lng",
                "経度 / longitude (WGS 84)",
                json!({ "type": "number", "minimum": -180, "maximum": 180 }),
            ),
            query(
                "km",
                "半径 km / radius in km (5 by default)",
                json!({ "type": "number", "minimum": 0.001, "maximum": 50, "default": 5 }),
            ),
            query(
                "kind",
                "種別 / kind of institution",
                json!({ "type": "string", "enum": kind_codes() }),
            ),
            query(
                "cap",
                "できること / capabilities, all required; comma-separated or repeated",
                json!({ "type": "string", "enum": capability_codes() }),
            ),
            query(
                "limit",
                "最大件数 / most results (50 by default)",
                json!({ "type": "integer", "minimum": 1, "maximum": 500, "default": 50 }),
            ),
        ],
        json!({
            "200": { "description": "Entries within the radius", "content": content("application/json", reference("NearResults")) },
            "400": api_error("A parameter is missing or out of range; the message says which"),
            "503": api_error("The directory index is not available yet"),
        }),
    );
    paths.insert("/api/v1/directory/near".into(), json!({ "get": near }));
    paths.insert(
        "/api/openapi.json".into(),
        json!({ "get": op("service", "openapi", "この文書 / this OpenAPI document", vec![], json!({
            "200": { "description": "OpenAPI 3.0 document", "content": content("application/json", json!({ "type": "object", "required": ["openapi", "paths"] })) },
        })) }),
    );
}

fn service_paths(paths: &mut Map<String, Value>) {
    paths.insert(
        "/healthz".into(),
        json!({ "get": op("service", "health", "稼働確認 / is the server up and does the database answer", vec![], json!({
            "200": { "description": "Up", "content": content("application/json", reference("Health")) },
            "503": { "description": "The database does not answer", "content": content("application/json", reference("Health")) },
        })) }),
    );
    paths.insert(
        "/metrics".into(),
        json!({ "get": op("service", "metrics", "Prometheus metrics: requests by method, route and status, with latency histograms", vec![], json!({
            "200": { "description": "Prometheus text format 0.0.4", "content": content("text/plain", json!({ "type": "string" })) },
        })) }),
    );
    let search = || {
        vec![
            query("q", "名称・よみ・住所の語（全角半角・ひらがなカタカナを区別しません）/ words of the name, reading or address (up to 200 characters)", json!({ "type": "string" })),
            query("area", "地域コード / area code; an unknown one is ignored", json!({ "type": "string" })),
            query("kind", "種別 / kind of institution; an unknown one is ignored", json!({ "type": "string" })),
            query("cap", "できること / a capability, repeatable; unknown ones are ignored", json!({ "type": "string" })),
            query("near", "住所・郵便番号・町名の近く / near this address, postcode or town", json!({ "type": "string" })),
            query("km", "near の半径 km / radius around near, 0.5–30 (5 when unreadable)", json!({ "type": "string" })),
            query("page", "ignored by downloads, which hold every result", json!({ "type": "string" })),
        ]
    };
    let download = |id: &str, summary: &str, media: &str, schema: Value| {
        json!({ "get": op("directory", id, summary, search(), json!({
            "200": { "description": "The search's results", "content": content(media, schema) },
            "400": api_error("The query carries a NUL character"),
        })) })
    };
    paths.insert(
        "/directory.csv".into(),
        download(
            "directoryCsv",
            "検索結果の CSV（UTF-8, BOM 付き, 日本語の見出し）/ search results as CSV",
            "text/csv",
            json!({ "type": "string" }),
        ),
    );
    paths.insert(
        "/directory.xlsx".into(),
        download(
            "directoryXlsx",
            "検索結果の Excel / search results as an Excel workbook",
            crate::pages::shared::XLSX,
            json!({ "type": "string", "format": "binary" }),
        ),
    );
    paths.insert(
        "/directory.geojson".into(),
        download(
            "directoryGeojson",
            "位置のわかる検索結果の GeoJSON / located results as a GeoJSON FeatureCollection (RFC 7946)",
            "application/geo+json",
            reference("FeatureCollection"),
        ),
    );
}

/// The query names of one search parameter: string parameters take `:contains` and `:exact`;
/// MeasureReport's subject is searched by `subject:identifier` only.
fn query_names(resource: &str, name: &str, kind: &str) -> Vec<String> {
    match (resource, name, kind) {
        ("MeasureReport", "subject", _) => vec!["subject:identifier".to_owned()],
        (_, _, "string") => vec![
            name.to_owned(),
            format!("{name}:contains"),
            format!("{name}:exact"),
        ],
        _ => vec![name.to_owned()],
    }
}

/// `_format`: JSON only.
fn format_param() -> Value {
    query(
        "_format",
        "json, application/json or application/fhir+json",
        json!({ "type": "string", "enum": ["json", "application/json", "application/fhir+json"] }),
    )
}

/// `_count` and `_cursor` of a keyset-paged Bundle.
fn paging_params() -> [Value; 2] {
    [
        query(
            "_count",
            "Page size, 1–500 (50 by default); 0 gives only Bundle.total, as _summary=count",
            json!({ "type": "integer", "minimum": 0 }),
        ),
        query(
            "_cursor",
            "The keyset position, from a next link",
            json!({ "type": "string" }),
        ),
    ]
}

fn fhir_paths(paths: &mut Map<String, Value>, base: &Base) {
    let statement = capability::statement(base, "2000-01-01");
    let resources = statement["rest"][0]["resource"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let protected = |t: &str| t == "MeasureReport";
    // The example report: this fiscal year's, of 八尾市.
    let today = renkei_domain::japan::today(chrono::Utc::now());
    let this_year_report = format!(
        "{}-yao",
        renkei_domain::fiscal_year::FiscalYear::of_date(today).year()
    );
    let common_errors = |o: &mut Value, t: &str| {
        let r = &mut o["responses"];
        r["400"] =
            outcome("A parameter cannot be read, or is not supported with Prefer: handling=strict");
        r["406"] = outcome("_format asks for something other than JSON");
        if protected(t) {
            r["401"] = outcome("Neither a session nor an API token");
            r["403"] = outcome("The user may not read the hubs' reports");
            o["security"] = json!([{ "bearer": [] }, { "session": [] }]);
        }
    };
    paths.insert(
        "/fhir/metadata".into(),
        json!({ "get": op("fhir", "fhirCapabilities", "CapabilityStatement", vec![], json!({
            "200": fhir_body("What this server does", resource_schema("CapabilityStatement")),
        })) }),
    );
    for r in &resources {
        let t = r["type"].as_str().unwrap_or_default();
        let interactions: Vec<&str> = r["interaction"]
            .as_array()
            .map(|a| a.iter().filter_map(|i| i["code"].as_str()).collect())
            .unwrap_or_default();
        if interactions.contains(&"search-type") {
            let mut params = vec![format_param()];
            // The reports are few and come in one page.
            if !protected(t) {
                params.extend(paging_params());
            }
            for p in r["searchParam"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap_or_default();
                let kind = p["type"].as_str().unwrap_or_default();
                let doc = p["documentation"].as_str().unwrap_or_default();
                for q in query_names(t, name, kind) {
                    params.push(query(
                        &q,
                        &format!("{kind}: {doc}"),
                        json!({ "type": "string" }),
                    ));
                }
            }
            if !protected(t) {
                params.push(query(
                    "_summary",
                    "count: only Bundle.total, no entries",
                    json!({ "type": "string", "enum": ["count", "false"] }),
                ));
                params.push(query(
                    "_total",
                    "accurate or estimate: Bundle.total with the page (counted in full); none by default",
                    json!({ "type": "string", "enum": ["none", "estimate", "accurate"] }),
                ));
            }
            if let Some(includes) = r["searchInclude"].as_array() {
                let names: Vec<&str> = includes.iter().filter_map(Value::as_str).collect();
                params.push(query(
                    "_include",
                    &format!(
                        "Referenced resources to add to the page: {} (others are ignored)",
                        names.join(", ")
                    ),
                    json!({ "type": "string" }),
                ));
            }
            if let Some(includes) = r["searchRevInclude"].as_array() {
                let names: Vec<&str> = includes.iter().filter_map(Value::as_str).collect();
                params.push(query(
                    "_revinclude",
                    &format!(
                        "Resources that refer to the matches, added to the page: {} (others are ignored)",
                        names.join(", ")
                    ),
                    json!({ "type": "string" }),
                ));
            }
            let mut o = op(
                "fhir",
                &format!("search{t}"),
                &format!("Search {t} (searchset Bundle, keyset-paged)"),
                params,
                json!({ "200": fhir_body("A page of matches", reference("Bundle")) }),
            );
            common_errors(&mut o, t);
            paths.insert(format!("/fhir/{t}"), json!({ "get": o.clone() }));
            if !protected(t) {
                // The same search by POST: the parameters as a form body.
                let mut post = o;
                post["operationId"] = json!(format!("search{t}ByPost"));
                post["summary"] = json!(format!(
                    "Search {t} by POST (the same parameters as a form body, or in the query string)"
                ));
                post["requestBody"] = json!({
                    "required": false,
                    "content": { "application/x-www-form-urlencoded": {
                        "schema": { "type": "object", "additionalProperties": { "type": "string" } }
                    } }
                });
                if let Some(all) = post["parameters"].as_array_mut() {
                    all.retain(|p| p["name"] == "_format");
                }
                let mut get = post.clone();
                get["operationId"] = json!(format!("search{t}AtSearch"));
                get["summary"] = json!(format!("Search {t} at _search by GET (as GET /fhir/{t})"));
                if let Some(o) = get.as_object_mut() {
                    o.remove("requestBody");
                }
                paths.insert(
                    format!("/fhir/{t}/_search"),
                    json!({ "post": post, "get": get }),
                );
            }
        }
        if interactions.contains(&"history-type") {
            let mut params = vec![
                query(
                    "_since",
                    "Changes at or after this instant, e.g. 2026-04-01T00:00:00+09:00",
                    json!({ "type": "string" }),
                ),
                format_param(),
            ];
            params.extend(paging_params());
            let mut o = op(
                "fhir",
                &format!("history{t}"),
                &format!("Changes of {t} since _since, each once in its current version (IHE mCSD ITI-91)"),
                params,
                json!({ "200": fhir_body("A page of changes", reference("Bundle")) }),
            );
            common_errors(&mut o, t);
            paths.insert(format!("/fhir/{t}/_history"), json!({ "get": o }));
        }
        if interactions.contains(&"read") {
            let (path, params) = if t == "Measure" {
                ("/fhir/Measure/renkei-hub-report".to_owned(), vec![])
            } else {
                let example = match t {
                    "CodeSystem" => "renkei-institution-kind",
                    "MeasureReport" => this_year_report.as_str(),
                    _ => "1",
                };
                let mut id = path_param("id", "The resource's id");
                id["example"] = json!(example);
                (format!("/fhir/{t}/{{id}}"), vec![id])
            };
            let mut o = op(
                "fhir",
                &format!("read{t}"),
                &format!("Read one {t}"),
                params,
                json!({
                    "200": fhir_body("The resource", resource_schema(t)),
                    "404": outcome("No such resource"),
                }),
            );
            if protected(t) {
                common_errors(&mut o, t);
                let r = o["responses"].as_object_mut().expect("responses");
                r.remove("400");
                r.remove("406");
            }
            paths.insert(path, json!({ "get": o }));
        }
    }
}

/// A FHIR resource of one type: checked for its type and id; the rest follows FHIR R4 and is
/// validated by `tools/fhir-validate`.
fn resource_schema(t: &str) -> Value {
    json!({
        "type": "object",
        "required": ["resourceType"],
        "properties": {
            "resourceType": { "type": "string", "enum": [t] },
            "id": { "type": "string" },
            "meta": { "type": "object" },
        },
        "additionalProperties": true,
    })
}

fn components() -> Value {
    let roles: Vec<&str> = AccountRole::ALL.iter().map(|r| r.code()).collect();
    json!({
        "securitySchemes": {
            "bearer": { "type": "http", "scheme": "bearer", "description": "An API token from the account page (rk_…), scope read" },
            "session": { "type": "apiKey", "in": "cookie", "name": "renkei_session", "description": "The browser's session after signing in with the second factor" },
        },
        "schemas": {
            "Error": {
                "type": "object", "required": ["error"],
                "properties": { "error": { "type": "string", "description": "日本語 / English" } },
            },
            "Me": {
                "type": "object",
                "required": ["id", "email", "display_name", "two_factor", "memberships"],
                "properties": {
                    "id": { "type": "integer" },
                    "email": { "type": "string" },
                    "display_name": { "type": "string" },
                    "two_factor": { "type": "boolean" },
                    "memberships": { "type": "array", "items": {
                        "type": "object", "required": ["organisation", "role"],
                        "properties": {
                            "role": { "type": "string", "enum": roles },
                            "organisation": {
                                "type": "object", "required": ["id", "kind", "name"],
                                "properties": {
                                    "id": { "type": "integer" },
                                    "kind": { "type": "string", "enum": ["system", "prefecture", "hub", "institution"] },
                                    "name": { "type": "string" },
                                    "area_code": { "type": "string", "nullable": true },
                                    "institution_id": { "type": "integer", "nullable": true },
                                },
                            },
                        },
                    }},
                },
            },
            "NearResults": {
                "type": "object", "required": ["count", "results"],
                "properties": {
                    "count": { "type": "integer", "minimum": 0 },
                    "results": { "type": "array", "items": {
                        "type": "object",
                        "required": ["id", "name", "kind", "active", "address", "lat", "lng", "distance_km"],
                        "properties": {
                            "id": { "type": "integer" },
                            "name": { "type": "string" },
                            "kind": { "type": "string", "enum": kind_codes() },
                            "active": { "type": "boolean", "description": "積極的医療機関 / an active institution" },
                            "address": { "type": "string" },
                            "lat": { "type": "number" },
                            "lng": { "type": "number" },
                            "distance_km": { "type": "number", "minimum": 0 },
                        },
                    }},
                },
            },
            "Health": {
                "type": "object", "required": ["status", "database"],
                "properties": {
                    "status": { "type": "string", "enum": ["ok", "unavailable"] },
                    "database": { "type": "string", "enum": ["sqlite", "postgres"] },
                    "directory_index": { "type": "string", "enum": ["loaded", "loading"] },
                    "message": { "type": "string" },
                },
            },
            "FeatureCollection": {
                "type": "object", "required": ["type", "features"],
                "properties": {
                    "type": { "type": "string", "enum": ["FeatureCollection"] },
                    "features": { "type": "array", "items": {
                        "type": "object", "required": ["type", "geometry", "properties"],
                        "properties": {
                            "type": { "type": "string", "enum": ["Feature"] },
                            "geometry": {
                                "type": "object", "required": ["type", "coordinates"],
                                "properties": {
                                    "type": { "type": "string", "enum": ["Point"] },
                                    "coordinates": { "type": "array", "items": { "type": "number" }, "minItems": 2, "maxItems": 2, "description": "longitude, latitude" },
                                },
                            },
                            "properties": { "type": "object" },
                        },
                    }},
                },
            },
            "Bundle": {
                "type": "object", "required": ["resourceType", "type"],
                "properties": {
                    "resourceType": { "type": "string", "enum": ["Bundle"] },
                    "id": { "type": "string" },
                    "meta": { "type": "object" },
                    "type": { "type": "string", "enum": ["searchset", "history"] },
                    "total": { "type": "integer", "minimum": 0 },
                    "link": { "type": "array", "items": {
                        "type": "object", "required": ["relation", "url"],
                        "properties": { "relation": { "type": "string" }, "url": { "type": "string" } },
                    }},
                    "entry": { "type": "array", "minItems": 1, "items": {
                        "type": "object",
                        "properties": {
                            "fullUrl": { "type": "string" },
                            "resource": {
                                "type": "object", "required": ["resourceType"],
                                "properties": { "resourceType": { "type": "string" }, "id": { "type": "string" } },
                            },
                            "search": { "type": "object", "properties": { "mode": { "type": "string", "enum": ["match", "include"] } } },
                        },
                    }},
                },
            },
            "OperationOutcome": {
                "type": "object", "required": ["resourceType", "issue"],
                "properties": {
                    "resourceType": { "type": "string", "enum": ["OperationOutcome"] },
                    "issue": { "type": "array", "minItems": 1, "items": {
                        "type": "object", "required": ["severity", "code"],
                        "properties": {
                            "severity": { "type": "string", "enum": ["fatal", "error", "warning", "information"] },
                            "code": { "type": "string" },
                            "diagnostics": { "type": "string" },
                        },
                    }},
                },
            },
        },
    })
}
