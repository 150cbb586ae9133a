//! The directory as a FHIR R4 API under `/fhir/`, following IHE mCSD: read, search (ITI-90)
//! and the change feed `_history` (ITI-91). Public and read-only; every page is bounded and
//! keyset-paged; errors are OperationOutcomes.

pub mod capability;
pub mod careteam;
pub mod measure;
pub mod outcome;
pub mod params;
pub mod resources;
pub mod xml;

use crate::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use outcome::Problem;
use params::Include;
use renkei_store::records::{EntryRecord, FeedCursor, RecordQuery};
use resources::{Base, ResourceType};
use serde_json::{json, Value};
use std::collections::HashSet;

/// The FHIR JSON media type.
pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// A FHIR JSON response; public data, so any origin may read it.
pub fn fhir_json(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON)),
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
        ],
        body.to_string(),
    )
        .into_response()
}

pub(crate) fn base(app: &AppState) -> Base {
    Base {
        served: format!("{}/fhir", app.config.public_url.trim_end_matches('/')),
        canonical: app.config.fhir_canonical.trim_end_matches('/').to_owned(),
    }
}

fn store_failed(e: renkei_store::StoreError) -> Problem {
    tracing::error!(error = %e, "FHIR request failed in the store");
    Problem::internal()
}

/// The query's parameters; one with an empty value (`name=`, as forms and generated clients
/// send for a field left blank) is left out, as if absent — except a `_format` of only
/// whitespace, which names no format this server writes (406), not a blank field.
fn pairs_of(raw: Option<&str>) -> Result<Vec<(String, String)>, Problem> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|_| {
            Problem::invalid("検索パラメータを読めません / cannot read the query string")
        })?;
    Ok(pairs
        .into_iter()
        .filter(|(n, v)| !v.trim().is_empty() || (n == "_format" && !v.is_empty()))
        .collect())
}

fn strict(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.replace(' ', "").contains("handling=strict"))
}

fn now_instant() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn query_string(pairs: &[(String, String)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

fn link(relation: &str, url: String) -> Value {
    json!({ "relation": relation, "url": url })
}

fn bundle(kind: &str, links: Vec<Value>, entries: Vec<Value>) -> Value {
    let mut b = json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "meta": { "lastUpdated": now_instant() },
        "type": kind,
        "link": links,
    });
    // FHIR JSON forbids empty arrays: an empty page has no `entry` at all.
    if !entries.is_empty() {
        b["entry"] = Value::Array(entries);
    }
    b
}

/// `GET /fhir/metadata`.
pub async fn metadata(State(app): State<AppState>) -> Response {
    fhir_json(
        StatusCode::OK,
        &capability::statement(
            &base(&app),
            &chrono::Utc::now().format("%Y-%m-%d").to_string(),
        ),
    )
}

/// `GET /fhir/{type}/{id}`.
pub async fn read(
    State(app): State<AppState>,
    Path((kind, id)): Path<(String, String)>,
) -> Response {
    match read_resource(&app, &kind, &id).await {
        Ok(resource) => {
            let mut response = fhir_json(StatusCode::OK, &resource);
            if let Some(version) = resource["meta"]["versionId"].as_str() {
                if let Ok(v) = HeaderValue::from_str(&format!("W/\"{version}\"")) {
                    response.headers_mut().insert(header::ETAG, v);
                }
            }
            response
        }
        Err(problem) => problem.into_response(),
    }
}

async fn read_resource(app: &AppState, kind: &str, id: &str) -> Result<Value, Problem> {
    let t = ResourceType::parse(kind).ok_or_else(|| Problem::unknown_type(kind))?;
    let base = base(app);
    let missing = || Problem::not_found(t.name(), id);
    if t == ResourceType::CodeSystem {
        return resources::code_system(&base, id).ok_or_else(missing);
    }
    let number: i64 = id.parse().map_err(|_| missing())?;
    if t == ResourceType::Provenance {
        let found = app
            .store
            .approved_changes(Some(&[number]), None, None, None, 1)
            .await
            .map_err(store_failed)?;
        return found.first().map(resources::provenance).ok_or_else(missing);
    }
    let query = RecordQuery {
        ids: Some(vec![number]),
        limit: 1,
        ..RecordQuery::default()
    };
    let found = app
        .store
        .entry_records(&query)
        .await
        .map_err(store_failed)?;
    found
        .first()
        .and_then(|e| resources::entry_resource(&base, t, e))
        .ok_or_else(missing)
}

/// `GET /fhir/{type}`: a searchset Bundle.
pub async fn search(
    State(app): State<AppState>,
    Path(kind): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    match run_search(&app, &kind, raw.as_deref(), strict(&headers)).await {
        Ok(bundle) => fhir_json(StatusCode::OK, &bundle),
        Err(problem) => problem.into_response(),
    }
}

/// Most bytes of a `_search` form body (the query string's parameters, at most
/// [`params::MAX_PARAMETERS`] of them, fit many times over).
pub const SEARCH_BODY_LIMIT: usize = 64 * 1024;

/// Whether a request is a FHIR search sent by POST (`/fhir/{type}/_search`): it reads and
/// changes nothing, so it needs no CSRF token, and its handler bounds its own body.
pub fn is_search_post(path: &str) -> bool {
    path.strip_prefix("/fhir/")
        .and_then(|rest| rest.strip_suffix("/_search"))
        .is_some_and(|kind| !kind.is_empty() && !kind.contains('/'))
}

/// `POST /fhir/{type}/_search` (and `GET`): a search whose parameters come in a form body
/// (`application/x-www-form-urlencoded`) and the query string together, answered exactly as
/// `GET /fhir/{type}?…`.
pub async fn search_post(
    State(app): State<AppState>,
    Path(kind): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let bytes = match axum::body::to_bytes(body, SEARCH_BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            return Problem {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: "too-costly",
                diagnostics: format!(
                    "検索の本文は {} KB までです / a search body may be at most {} KB",
                    SEARCH_BODY_LIMIT / 1024,
                    SEARCH_BODY_LIMIT / 1024
                ),
            }
            .into_response()
        }
    };
    if !bytes.is_empty() && !media.starts_with("application/x-www-form-urlencoded") {
        return Problem {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "not-supported",
            diagnostics: "検索の本文は application/x-www-form-urlencoded で送ってください / send the search parameters as application/x-www-form-urlencoded".to_owned(),
        }
        .into_response();
    }
    if crate::input::carries_nul(&bytes) {
        return Problem::invalid(
            "検索パラメータに NUL 文字は使えません / NUL is not allowed in search parameters",
        )
        .into_response();
    }
    let Ok(form) = std::str::from_utf8(&bytes) else {
        return Problem::invalid(
            "検索の本文を UTF-8 として読めません / the search body is not UTF-8",
        )
        .into_response();
    };
    let combined: String = [raw.as_deref().unwrap_or(""), form.trim()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("&");
    match run_search(&app, &kind, Some(&combined), strict(&headers)).await {
        Ok(bundle) => fhir_json(StatusCode::OK, &bundle),
        Err(problem) => problem.into_response(),
    }
}

/// The headers a browser client may send to the FHIR API across origins.
const CORS_HEADERS: &str =
    "accept, authorization, content-type, if-none-match, if-modified-since, prefer";

/// Middleware: answers the CORS preflight (`OPTIONS`) of any `/fhir/…` path, so that a
/// browser application on another origin can search with `Prefer`, POST `_search`, or send the
/// bearer token the MeasureReport needs; and lets such clients read `ETag` and `Location`.
/// The data is public (the MeasureReport still needs its token), so any origin may ask.
pub async fn cors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let is_fhir = request.uri().path().starts_with("/fhir/") || request.uri().path() == "/fhir";
    if !is_fhir {
        return next.run(request).await;
    }
    // A preflight names the method it asks for; any other OPTIONS goes on to the method check
    // (405 with the route's own `Allow`).
    let preflight = request.method() == axum::http::Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        return (
            StatusCode::NO_CONTENT,
            [
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
                (
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    "GET, HEAD, POST, OPTIONS",
                ),
                (header::ACCESS_CONTROL_ALLOW_HEADERS, CORS_HEADERS),
                (header::ACCESS_CONTROL_MAX_AGE, "86400"),
            ],
        )
            .into_response();
    }
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("etag, location, content-location, last-modified"),
    );
    response
}

/// Most bytes of a JSON answer turned into XML (a page of 500 resources is well below).
const XML_SOURCE_LIMIT: usize = 32 * 1024 * 1024;

/// Middleware: answers a `/fhir/…` request in XML when it asks so — `_format=xml` (or a FHIR
/// XML media type) in the query string, or an `Accept` that prefers XML — by writing the
/// JSON answer the handler built as FHIR XML ([`xml::to_xml`]), errors included. Both formats
/// thus always carry the same content.
pub async fn negotiate(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = request.uri().path();
    if !(path.starts_with("/fhir/") || path == "/fhir") {
        return next.run(request).await;
    }
    let by_query = pairs_of(request.uri().query())
        .ok()
        .and_then(|pairs| {
            pairs
                .into_iter()
                .find(|(n, _)| n == "_format")
                .map(|(_, v)| params::format_of(&v))
        })
        .and_then(Result::ok);
    let format = by_query.unwrap_or_else(|| {
        params::format_accepted(
            request
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        )
    });
    let response = next.run(request).await;
    let is_fhir_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/fhir+json"));
    if format != params::Format::Xml || !is_fhir_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, XML_SOURCE_LIMIT).await else {
        return Problem::internal().into_response();
    };
    let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
        return Problem::internal().into_response();
    };
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(xml::FHIR_XML),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(xml::to_xml(&value)))
}

fn search_entry(base: &Base, t: ResourceType, id: &str, resource: Value, mode: &str) -> Value {
    json!({
        "fullUrl": format!("{}/{}/{id}", base.served, t.name()),
        "resource": resource,
        "search": { "mode": mode },
    })
}

async fn run_search(
    app: &AppState,
    kind: &str,
    raw: Option<&str>,
    strict: bool,
) -> Result<Value, Problem> {
    let t = ResourceType::parse(kind).ok_or_else(|| Problem::unknown_type(kind))?;
    let base = base(app);
    let pairs = pairs_of(raw)?;
    let s = params::parse(&base, t, &pairs, strict)?;
    let self_url = |extra: &[(String, String)]| {
        let mut all = s.used.clone();
        all.extend_from_slice(extra);
        let q = query_string(&all);
        if q.is_empty() {
            format!("{}/{}", base.served, t.name())
        } else {
            format!("{}/{}?{q}", base.served, t.name())
        }
    };
    let ids_given: Option<Vec<String>> = pairs
        .iter()
        .filter(|(n, _)| n == "_id")
        .map(|(_, v)| {
            v.split(',')
                .map(|x| x.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .reduce(|a, b| a.into_iter().filter(|x| b.contains(x)).collect());
    let mut links = Vec::new();
    let mut entries = Vec::new();
    let mut total: Option<u64> = None;
    let cursor_param = |c: String| vec![("_cursor".to_owned(), c)];
    links.push(link(
        "self",
        self_url(&s.cursor.clone().map(cursor_param).unwrap_or_default()),
    ));
    match t {
        ResourceType::CodeSystem => {
            for id in resources::CODE_SYSTEMS {
                if ids_given
                    .as_ref()
                    .is_some_and(|ids| !ids.iter().any(|x| x == id))
                {
                    continue;
                }
                if let Some(cs) = resources::code_system(&base, id) {
                    let url_ok = pairs
                        .iter()
                        .filter(|(n, _)| n == "url")
                        .all(|(_, v)| cs["url"] == *v);
                    if url_ok {
                        entries.push(search_entry(&base, t, id, cs, "match"));
                    }
                }
            }
        }
        ResourceType::Provenance => {
            let ids: Option<Vec<i64>> =
                ids_given.map(|ids| ids.iter().filter_map(|x| x.parse().ok()).collect());
            let cursor = s.cursor.as_deref().map(parse_feed_cursor).transpose()?;
            if s.count_only || s.total {
                let mut n = 0u64;
                let mut at: Option<FeedCursor> = None;
                loop {
                    let page = app
                        .store
                        .approved_changes(
                            ids.as_deref(),
                            s.targets.as_deref(),
                            None,
                            at.as_ref(),
                            1_000,
                        )
                        .await
                        .map_err(store_failed)?;
                    n += page.len() as u64;
                    match page.last() {
                        Some(last) if page.len() == 1_000 => {
                            at = Some(FeedCursor {
                                at: last.approved_at.clone(),
                                id: last.id,
                            })
                        }
                        _ => break,
                    }
                }
                total = Some(n);
                if s.count_only {
                    return Ok(counted(bundle("searchset", links, entries), total));
                }
            }
            let found = app
                .store
                .approved_changes(
                    ids.as_deref(),
                    s.targets.as_deref(),
                    None,
                    cursor.as_ref(),
                    s.count + 1,
                )
                .await
                .map_err(store_failed)?;
            let more = found.len() > s.count;
            for c in found.iter().take(s.count) {
                entries.push(search_entry(
                    &base,
                    t,
                    &c.id.to_string(),
                    resources::provenance(c),
                    "match",
                ));
            }
            if more {
                if let Some(last) = found.get(s.count - 1) {
                    let next = format_feed_cursor(&last.approved_at, last.id);
                    links.push(link("next", self_url(&cursor_param(next))));
                }
            }
        }
        _ => {
            let mut query = s.query.clone();
            query.limit = s.count + 1;
            query.with_contact = t == ResourceType::PractitionerRole;
            query.with_capability = t == ResourceType::HealthcareService;
            if let Some(c) = &s.cursor {
                if query.near.is_some() {
                    query.after_distance = Some(parse_distance_cursor(c)?);
                } else {
                    query.after_id = Some(
                        c.strip_prefix('i')
                            .and_then(|n| n.parse().ok())
                            .ok_or_else(bad_cursor)?,
                    );
                }
            }
            if let Some(near) = query.near {
                // Ranked by the spatial index — the entries within the radius in (distance, id)
                // order, walked only as far as the page — and read from the database in that
                // order (no candidate cap).
                app.directory_index
                    .ensure_loaded(&app.store)
                    .await
                    .map_err(store_failed)?;
                let kinds = query.kinds.clone();
                let every: Vec<renkei_domain::spatial::CapabilitySet> = query
                    .capabilities
                    .iter()
                    .map(|c| renkei_domain::spatial::CapabilitySet::of(c.iter().copied()))
                    .collect();
                query.ranked = Some(app.directory_index.ranked(
                    (near.lat, near.lng),
                    near.km,
                    move |e| {
                        kinds
                            .as_ref()
                            .is_none_or(|k| k.is_empty() || k.contains(&e.kind))
                            && every.iter().all(|c| e.capabilities.intersects(*c))
                    },
                ));
            }
            if s.count_only || s.total {
                total = Some(
                    app.store
                        .count_records(&query)
                        .await
                        .map_err(store_failed)?,
                );
            }
            if s.count_only {
                return Ok(counted(bundle("searchset", links, entries), total));
            }
            let found = match (&query.ranked, ranked_alone(&query)) {
                // A near search with no condition but those the index applied: the page is the
                // ranking's window, its entries mostly kept in memory.
                (Some(ranking), true) => {
                    let window = ranking.window(query.after_distance, query.limit);
                    let ids: Vec<i64> = window.iter().map(|(id, _)| *id).collect();
                    match app
                        .directory_index
                        .records(&app.store, &ids)
                        .await
                        .map_err(store_failed)?
                    {
                        Some(kept) => window
                            .iter()
                            .map(|(id, d)| {
                                let mut e = (*kept[id]).clone();
                                e.distance_km = Some(*d);
                                e
                            })
                            .collect(),
                        None => app
                            .store
                            .entry_records(&query)
                            .await
                            .map_err(store_failed)?,
                    }
                }
                _ => app
                    .store
                    .entry_records(&query)
                    .await
                    .map_err(store_failed)?,
            };
            let more = found.len() > s.count;
            let page: Vec<&EntryRecord> = found.iter().take(s.count).collect();
            let mut included: HashSet<(ResourceType, i64)> = HashSet::new();
            for e in &page {
                let Some(resource) = resources::entry_resource(&base, t, e) else {
                    continue;
                };
                let mut entry = search_entry(&base, t, &e.id.to_string(), resource, "match");
                if let Some(d) = e.distance_km {
                    entry["search"]["extension"] = json!([{
                        "url": resources::DISTANCE_EXTENSION,
                        "valueDistance": {
                            "value": (d * 1000.0).round() / 1000.0,
                            "unit": "km",
                            "system": "http://unitsofmeasure.org",
                            "code": "km"
                        }
                    }]);
                }
                entries.push(entry);
                included.insert((t, e.id));
            }
            for (include, _) in &s.includes {
                let it = match include {
                    Include::Organization => ResourceType::Organization,
                    Include::Location => ResourceType::Location,
                    Include::Service => ResourceType::HealthcareService,
                    Include::Role => ResourceType::PractitionerRole,
                };
                for e in &page {
                    if included.insert((it, e.id)) {
                        if let Some(r) = resources::entry_resource(&base, it, e) {
                            entries.push(search_entry(&base, it, &e.id.to_string(), r, "include"));
                        }
                    }
                }
            }
            if more {
                if let Some(last) = page.last() {
                    let next = match last.distance_km {
                        // Display prints the shortest text that reads back as the same f64.
                        Some(d) => format!("d{d}_{}", last.id),
                        None => format!("i{}", last.id),
                    };
                    links.push(link("next", self_url(&cursor_param(next))));
                }
            }
        }
    }
    if total.is_none() && (s.count_only || s.total) {
        // Code systems and provenance: the matches are few; count them as read.
        total = Some(entries.len() as u64);
        if s.count_only {
            entries.clear();
        }
    }
    Ok(counted(bundle("searchset", links, entries), total))
}

/// Whether a search has no condition but a near search's own (the point, the radius, and the
/// kind and service types the index checks while ranking).
fn ranked_alone(q: &RecordQuery) -> bool {
    q.near.is_some()
        && q.ids.is_none()
        && q.medical_codes.is_none()
        && q.text.is_empty()
        && q.postcode_prefixes.is_none()
        && q.updated.is_empty()
        && !q.with_contact
        && !q.with_capability
}

/// A searchset with `Bundle.total` when it was counted.
fn counted(mut bundle: Value, total: Option<u64>) -> Value {
    if let Some(n) = total {
        bundle["total"] = json!(n);
    }
    bundle
}

fn bad_cursor() -> Problem {
    Problem::invalid("_cursor が不正です。前のページの next のリンクをそのまま使ってください / invalid _cursor; follow the next link of the previous page as it is")
}

fn parse_distance_cursor(c: &str) -> Result<(f64, i64), Problem> {
    let (d, id) = c
        .strip_prefix('d')
        .and_then(|rest| rest.split_once('_'))
        .ok_or_else(bad_cursor)?;
    Ok((
        d.parse().map_err(|_| bad_cursor())?,
        id.parse().map_err(|_| bad_cursor())?,
    ))
}

fn format_feed_cursor(at: &str, id: i64) -> String {
    format!("{at}~{id}")
}

fn parse_feed_cursor(c: &str) -> Result<FeedCursor, Problem> {
    let (at, id) = c.rsplit_once('~').ok_or_else(bad_cursor)?;
    if chrono::DateTime::parse_from_rfc3339(at).is_err() {
        return Err(bad_cursor());
    }
    Ok(FeedCursor {
        at: at.to_owned(),
        id: id.parse().map_err(|_| bad_cursor())?,
    })
}

/// `GET /fhir/{type}/_history`: a history Bundle of the resources changed since `_since`, each
/// once in its current version, in update order, keyset-paged.
pub async fn history(
    State(app): State<AppState>,
    Path(kind): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    match run_history(&app, &kind, raw.as_deref(), strict(&headers)).await {
        Ok(bundle) => fhir_json(StatusCode::OK, &bundle),
        Err(problem) => problem.into_response(),
    }
}

async fn run_history(
    app: &AppState,
    kind: &str,
    raw: Option<&str>,
    strict: bool,
) -> Result<Value, Problem> {
    let t = ResourceType::parse(kind).ok_or_else(|| Problem::unknown_type(kind))?;
    if t == ResourceType::CodeSystem {
        return Err(Problem::not_supported(
            "CodeSystem の履歴はありません。/fhir/CodeSystem で最新版を取得してください / CodeSystem has no history; read /fhir/CodeSystem",
        ));
    }
    let base = base(app);
    let mut since = None;
    let mut count = params::DEFAULT_COUNT;
    let mut cursor = None;
    let mut used = Vec::new();
    for (name, value) in pairs_of(raw)? {
        match name.as_str() {
            "_since" => {
                let (lo, _) = params::instant_range(&value).ok_or_else(|| {
                    Problem::invalid(&format!(
                        "_since「{value}」を読めません。2026-04-01T00:00:00+09:00 の形式で指定してください / cannot read _since \"{value}\"; use 2026-04-01T00:00:00+09:00"
                    ))
                })?;
                since = Some(renkei_store::time_text(lo));
                used.push((name, value));
            }
            "_count" => {
                count = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        Problem::invalid(&format!(
                            "_count は 1〜{} の整数で指定してください / _count must be a whole number from 1 to {}",
                            params::MAX_COUNT,
                            params::MAX_COUNT
                        ))
                    })?
                    .min(params::MAX_COUNT);
                used.push((name, value));
            }
            "_cursor" => cursor = Some(parse_feed_cursor(&value)?),
            "_format" => params::check_format(&value)?,
            other if strict => {
                return Err(Problem::not_supported(&format!(
                    "_history のパラメータ「{other}」には対応していません（_since, _count のみ） / unsupported _history parameter {other} (_since and _count only)"
                )))
            }
            _ => {}
        }
    }
    let url = |extra: Option<String>| {
        let mut all = used.clone();
        if let Some(c) = extra {
            all.push(("_cursor".to_owned(), c));
        }
        let q = query_string(&all);
        format!(
            "{}/{}/_history{}{q}",
            base.served,
            t.name(),
            if q.is_empty() { "" } else { "?" }
        )
    };
    let mut links = vec![link(
        "self",
        url(cursor.as_ref().map(|c| format_feed_cursor(&c.at, c.id))),
    )];
    let mut entries = Vec::new();
    let mut next = None;
    if t == ResourceType::Provenance {
        let found = app
            .store
            .approved_changes(None, None, since.as_deref(), cursor.as_ref(), count + 1)
            .await
            .map_err(store_failed)?;
        for c in found.iter().take(count) {
            entries.push(json!({
                "fullUrl": base.full_url(t, c.id),
                "resource": resources::provenance(c),
                "request": { "method": "POST", "url": "Provenance" },
                "response": { "status": "201", "lastModified": resources::instant(&c.approved_at) },
            }));
        }
        if found.len() > count {
            next = found
                .get(count - 1)
                .map(|c| format_feed_cursor(&c.approved_at, c.id));
        }
    } else {
        let found = app
            .store
            .entry_feed(since.as_deref(), cursor.as_ref(), count + 1)
            .await
            .map_err(store_failed)?;
        for e in found.iter().take(count) {
            let url = format!("{}/{}", t.name(), e.id);
            let modified = resources::instant(&e.updated_at);
            entries.push(match resources::entry_resource(&base, t, e) {
                Some(resource) => json!({
                    "fullUrl": base.full_url(t, e.id),
                    "resource": resource,
                    "request": { "method": "PUT", "url": url },
                    "response": { "status": "200", "lastModified": modified },
                }),
                // The entry names no contact (PractitionerRole) or no offer (HealthcareService)
                // any more: a mirror drops the resource.
                None => json!({
                    "fullUrl": base.full_url(t, e.id),
                    "request": { "method": "DELETE", "url": url },
                    "response": { "status": "204", "lastModified": modified },
                }),
            });
        }
        if found.len() > count {
            next = found
                .get(count - 1)
                .map(|e| format_feed_cursor(&e.updated_at, e.id));
        }
    }
    if let Some(n) = next {
        links.push(link("next", url(Some(n))));
    }
    Ok(bundle("history", links, entries))
}

/// `GET /fhir/Measure/renkei-hub-report`: what the hubs' MeasureReports count (public).
pub async fn measure_definition(State(app): State<AppState>) -> Response {
    fhir_json(StatusCode::OK, &measure::measure(&base(&app)))
}

/// One stored ledger's MeasureReport with what it is searched by.
struct ReportFound {
    year: renkei_domain::fiscal_year::FiscalYear,
    area: String,
    resource: Value,
}

/// The MeasureReports of the stored ledgers: of one report year, or of every year.
async fn measure_reports(app: &AppState, year: Option<i32>) -> Result<Vec<ReportFound>, Problem> {
    use renkei_domain::fiscal_year::FiscalYear;
    let base = base(app);
    let years = match year {
        Some(y) => vec![y],
        None => app.store.ledger_years().await.map_err(store_failed)?,
    };
    let mut out = Vec::new();
    for y in years {
        let Ok(fiscal_year) = FiscalYear::new(y) else {
            continue;
        };
        for stored in app.store.ledgers_of_year(y).await.map_err(store_failed)? {
            let source = measure::ReportSource {
                year: fiscal_year,
                ledger: &stored.ledger,
                revision: stored.revision,
                updated_at: &stored.updated_at,
                coverage: stored.ledger.active.as_ref().and_then(|a| a.coverage),
            };
            out.push(ReportFound {
                year: fiscal_year,
                area: stored.area_code.clone(),
                resource: measure::measure_report(&base, &source),
            });
        }
    }
    Ok(out)
}

/// `GET /fhir/MeasureReport/{id}`: one hub's report of a year (`2025-yao`).
pub async fn measure_report_read(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    let year = id.split_once('-').and_then(|(y, _)| y.parse::<i32>().ok());
    let found = match year {
        Some(y) => measure_reports(&app, Some(y)).await,
        None => Ok(Vec::new()),
    };
    match found {
        Ok(reports) => match reports.into_iter().find(|r| r.resource["id"] == *id) {
            Some(r) => {
                let mut response = fhir_json(StatusCode::OK, &r.resource);
                if let Some(version) = r.resource["meta"]["versionId"].as_str() {
                    if let Ok(v) = HeaderValue::from_str(&format!("W/\"{version}\"")) {
                        response.headers_mut().insert(header::ETAG, v);
                    }
                }
                response
            }
            None => Problem::not_found("MeasureReport", &id).into_response(),
        },
        Err(problem) => problem.into_response(),
    }
}

/// `GET /fhir/MeasureReport`: the hubs' reports, by `_id`, `period` (eq, ne, gt, lt, ge, le,
/// sa, eb — `period=ge2025-04-01&period=le2026-03-31` is 令和7年度) and `subject:identifier`
/// (the area code, with or without its system).
pub async fn measure_report_search(
    State(app): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    match run_measure_search(&app, raw.as_deref(), strict(&headers)).await {
        Ok(bundle) => fhir_json(StatusCode::OK, &bundle),
        Err(problem) => problem.into_response(),
    }
}

async fn run_measure_search(
    app: &AppState,
    raw: Option<&str>,
    strict: bool,
) -> Result<Value, Problem> {
    let base = base(app);
    let pairs = pairs_of(raw)?;
    let mut used = Vec::new();
    let mut ids: Option<Vec<String>> = None;
    let mut periods = Vec::new();
    let mut areas: Option<Vec<String>> = None;
    for (name, value) in &pairs {
        match name.as_str() {
            "_id" => ids = Some(value.split(',').map(str::to_owned).collect()),
            "period" => {
                periods.push(measure::PeriodQuery::parse(value)?);
            }
            "subject:identifier" => {
                let system = measure::area_system(&base);
                let mut codes = Vec::new();
                for v in value.split(',') {
                    match v.split_once('|') {
                        Some((s, code)) if s.is_empty() || s == system => {
                            codes.push(code.to_owned())
                        }
                        Some(_) => {}
                        None => codes.push(v.to_owned()),
                    }
                }
                areas = Some(codes);
            }
            "_format" => {
                params::check_format(value)?;
                continue;
            }
            other if strict => {
                return Err(Problem::not_supported(&format!(
                    "検索パラメータ「{other}」には対応していません / unsupported search parameter {other}"
                )))
            }
            _ => continue,
        }
        used.push((name.clone(), value.clone()));
    }
    let mut entries = Vec::new();
    for found in measure_reports(app, None).await? {
        let id = found.resource["id"].as_str().unwrap_or_default().to_owned();
        if ids.as_ref().is_some_and(|ids| !ids.contains(&id))
            || areas.as_ref().is_some_and(|a| !a.contains(&found.area))
        {
            continue;
        }
        if periods.iter().all(|p| p.matches(found.year)) {
            entries.push(json!({
                "fullUrl": format!("{}/MeasureReport/{id}", base.served),
                "resource": found.resource,
                "search": { "mode": "match" },
            }));
        }
    }
    let total = entries.len();
    let query = query_string(&used);
    let self_url = if query.is_empty() {
        format!("{}/MeasureReport", base.served)
    } else {
        format!("{}/MeasureReport?{query}", base.served)
    };
    let mut b = bundle("searchset", vec![link("self", self_url)], entries);
    b["total"] = json!(total);
    Ok(b)
}
