//! Object-level access through the real router on SQLite and PostgreSQL (issue 21; the walk in
//! `auth.rs` checks roles only, with an id nobody owns). Two sides own real objects of every kind
//! a route takes by id: a hospital of 八尾 (side A) and one of another area (side B), each with its
//! institution administrator and staff, a member of staff of another institution of the same area
//! (a neighbour) and the area's hub coordinator. With the system administrator, the prefecture's
//! viewer and an anonymous visitor, every actor tries every route of the table that takes an
//! object, on both sides' objects, and is answered as `expected` says — a table written here from
//! what the product should do, apart from the code. Reading: allowed is 200 with the object in the
//! page; refused is 403 or 404 (a login for the anonymous) without the object's identifying text.
//! Changing: allowed is done (a redirect or a page, and the database changed); refused is 403 or
//! 404 and nothing in the database changed at all (triggers on every table note each write). Routes
//! with two ids are also tried with an inner id of the other side's (one's own patient with the
//! other's file, one's own safety check with the other's target, …). Parametric routes whose
//! parameter names no owned object (a language, a year) or whose link is the credential (a mailed
//! token) are classified in `expected` and left to auth.rs and their feature tests.
//! `RENKEI_OWNERSHIP_TRACE=1` lists every attempt with its answer and the tables it wrote.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use chrono::{Duration, NaiveDate, Utc};
use common::*;
use http_body_util::BodyExt;
use renkei_domain::accounts::{AccountRole, Email, OrganisationKind, UserId};
use renkei_domain::backup::Absence;
use renkei_domain::careteam::Profession;
use renkei_domain::conference::{InviteeRole, Proposal};
use renkei_domain::ledger::{LedgerFile, NAKAKAWACHI_FY2025_TOML};
use renkei_domain::power::{Device, Need, PowerUnit, UnitKind};
use renkei_domain::region::RegionDefinition;
use renkei_domain::rota::{Shift, Slot};
use renkei_domain::safety::{Baseline, FuelKind};
use renkei_domain::urgent::{AgeBand, CaseSummary, Recipient, RequestKind, Routing, Sex};
use renkei_store::urgent::NewUrgentRequest;
use renkei_testkit::{both_backends, TestDb};
use renkei_web::clock::Clock;
use renkei_web::{routes, AppState, WebConfig};
use tower::ServiceExt;

// ---------------------------------------------------------------------------------------------
// Who may do what: the expectation, by the actor's relation to the object.

/// How an actor stands to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rel {
    /// Institution administrator of the institution that owns it.
    OwnAdmin,
    /// Staff of the institution that owns it.
    OwnStaff,
    /// Staff of another institution of the same area.
    Neighbour,
    /// A hub coordinator of the object's area.
    AreaCoordinator,
    /// Institution administrator of an institution of another area.
    OtherAdmin,
    /// Staff of an institution of another area.
    OtherStaff,
    /// A hub coordinator of another area.
    OtherCoordinator,
    /// The system administrator.
    SystemAdmin,
    /// The prefecture's read-only viewer.
    Prefecture,
    /// Not signed in.
    Anonymous,
}

use Rel::*;

const EVERYONE: &[Rel] = &[
    OwnAdmin,
    OwnStaff,
    Neighbour,
    AreaCoordinator,
    OtherAdmin,
    OtherStaff,
    OtherCoordinator,
    SystemAdmin,
    Prefecture,
    Anonymous,
];
/// An institution's own pages (disaster baseline, power, BCP, beds, backup, conferences, urgent
/// requests, rotas): its staff, its area's hub, the prefecture and the administrator read.
const INSTITUTION_READERS: &[Rel] = &[OwnAdmin, OwnStaff, AreaCoordinator, SystemAdmin, Prefecture];
/// Its staff act, and the administrator (documented in auth.rs: "only the institution's own
/// staff and the administrator act" on the baseline, power, the BCP and the directory entry).
const INSTITUTION_AND_ADMIN: &[Rel] = &[OwnAdmin, OwnStaff, SystemAdmin];
/// Its staff alone (the route is for institution staff).
const INSTITUTION: &[Rel] = &[OwnAdmin, OwnStaff];
/// The patient's care team (the registering member of staff): not the institution's
/// administrator who is not on the team, never a coordinator without breaking the glass.
const TEAM: &[Rel] = &[OwnStaff];
/// What is the hub's own (its notes, events, surveys, ledger edits, break-glass).
const HUB: &[Rel] = &[AreaCoordinator];
/// The hub's, and the administrator's (safety checks, directory changes, reminders).
const HUB_AND_ADMIN: &[Rel] = &[AreaCoordinator, SystemAdmin];
/// The hub's work that the prefecture and the administrator read (safety checks).
const HUB_READERS: &[Rel] = &[AreaCoordinator, SystemAdmin, Prefecture];
/// Published between hubs: every hub's ledger and report ("Hub coordinators, the prefecture
/// and the administrator see every hub's ledger (the report is a published document)").
const EVERY_HUB_READER: &[Rel] = &[AreaCoordinator, OtherCoordinator, SystemAdmin, Prefecture];
const ADMIN: &[Rel] = &[SystemAdmin];

/// The rule of a parametric route.
enum Expect {
    /// Only these may read it (GET) or change it (POST).
    Only(&'static [Rel]),
    /// The parameter names no owned object (a language, a file of the site, a FHIR type, a
    /// report year): the role walk in auth.rs covers it.
    NotAnObject,
    /// The link is the credential (a mailed token): whoever holds it may use it; its feature
    /// tests (events, safety, surveys, mail, security) cover forged and used links.
    Capability,
}

/// Who may use each parametric route of the table; `None` for a route this test does not know
/// (the test then fails, so a new route gets a rule).
fn expected(method: &str, path: &str) -> Option<Expect> {
    use Expect::{Capability, NotAnObject, Only};
    Some(match (method, path) {
        (
            "GET",
            "/lang/{lang}"
            | "/static/{*file}"
            | "/fhir/{kind}"
            | "/fhir/{kind}/_history"
            | "/ledger/{year}/compare"
            | "/ledger/{year}/report"
            | "/ledger/{year}/report.html"
            | "/ledger/{year}/report.xlsx"
            | "/ledger/{year}/report.md",
        ) => NotAnObject,
        // A FHIR search by form: the type is not an object, the directory is public.
        ("GET" | "POST", "/fhir/{kind}/_search") => NotAnObject,
        (
            "GET" | "POST",
            "/password/reset/{token}"
            | "/invite/{token}"
            | "/events/registration/{token}"
            | "/surveys/answer/{token}"
            | "/r/{token}"
            | "/r/{token}/details"
            | "/confirm/{token}",
        )
        | ("GET", "/r/{token}/done") => Capability,
        // The public directory, its areas and the public calendar.
        (
            "GET",
            "/areas/{code}" | "/areas/{code}/map" | "/institutions/{id}" | "/fhir/{kind}/{id}",
        ) => Only(EVERYONE),
        ("GET", "/events/{id}") | ("POST", "/events/{id}/register") => Only(EVERYONE),
        // The report's counts per hub are published to those who read reports.
        ("GET", "/fhir/MeasureReport/{id}") => Only(EVERY_HUB_READER),
        // An institution's disaster baseline, power, BCP and directory entry.
        (
            "GET",
            "/institutions/{id}/readiness" | "/institutions/{id}/power" | "/institutions/{id}/bcp",
        ) => Only(INSTITUTION_READERS),
        (
            "POST",
            "/institutions/{id}/readiness"
            | "/institutions/{id}/power/units"
            | "/institutions/{id}/power/units/{unit}"
            | "/institutions/{id}/power/units/{unit}/retire"
            | "/institutions/{id}/power/rules"
            | "/institutions/{id}/bcp"
            | "/institutions/{id}/bcp/document"
            | "/institutions/{id}/bcp/partners",
        ) => Only(INSTITUTION_AND_ADMIN),
        ("GET" | "POST", "/institutions/{id}/power/borrow" | "/institutions/{id}/edit") => {
            Only(INSTITUTION_AND_ADMIN)
        }
        // A lending is acted on by its owner (decide, return) or its requester (withdraw): the
        // walked object belongs to the side as that party.
        (
            "POST",
            "/power/lendings/{id}/decide"
            | "/power/lendings/{id}/withdraw"
            | "/power/lendings/{id}/return",
        ) => Only(INSTITUTION_AND_ADMIN),
        // A BCP document shared with the hub: also the hub of its area and the prefecture.
        ("GET", "/bcp/documents/{doc}") => Only(INSTITUTION_READERS),
        // Backup while away: the absent institution records, cancels, asks and withdraws; the
        // backup decides (the walked coverage has the side as the backup).
        ("GET", "/institutions/{id}/backup") => Only(INSTITUTION_READERS),
        (
            "POST",
            "/institutions/{id}/backup"
            | "/backup/absences/{id}/cancel"
            | "/backup/absences/{id}/ask"
            | "/backup/coverages/{id}/decide"
            | "/backup/coverages/{id}/withdraw",
        ) => Only(INSTITUTION),
        // Discharge conferences: the hospital (the side) proposes, fixes and cancels; the
        // invitee (the side, invited by another hospital) answers. Read by the hub of the area
        // and the prefecture; the administrator reads too (the code lets anyone who decides the
        // area's directory changes read, as it does for urgent requests, whose page documents the
        // administrator: followed here as a deliberate choice).
        (
            "GET",
            "/institutions/{id}/conferences" | "/conferences/{id}" | "/conferences/{id}/invite.ics",
        ) => Only(INSTITUTION_READERS),
        (
            "POST",
            "/institutions/{id}/conferences"
            | "/conferences/{id}/answer"
            | "/conferences/{id}/fix"
            | "/conferences/{id}/cancel",
        ) => Only(INSTITUTION),
        // Beds: read like the baseline; only its staff publish them.
        ("GET", "/institutions/{id}/beds") => Only(INSTITUTION_READERS),
        ("POST", "/institutions/{id}/beds") => Only(INSTITUTION),
        // Rotas: the members' staff plan; the hub of the group's area and the prefecture read
        // (and the administrator, as for conferences).
        ("GET", "/rota/{id}" | "/rota/{id}/calendar.ics") => Only(INSTITUTION_READERS),
        (
            "POST",
            "/rota/{id}/shifts"
            | "/rota/{id}/shifts/{shift}/remove"
            | "/rota/{id}/members"
            | "/rota/{id}/join"
            | "/rota/{id}/leave",
        ) => Only(INSTITUTION),
        // Urgent requests: the requester's staff (cancel, widen), the asked recipients' staff
        // (accept, decline; the walked request asks the side), the requester's hub, the
        // prefecture and the administrator read (documented on the page).
        (
            "GET",
            "/urgent/{id}"
            | "/urgent/{id}/events"
            | "/institutions/{id}/urgent"
            | "/institutions/{id}/urgent/events",
        ) => Only(INSTITUTION_READERS),
        (
            "POST",
            "/urgent/{id}/accept"
            | "/urgent/{id}/decline"
            | "/urgent/{id}/cancel"
            | "/urgent/{id}/widen",
        ) => Only(INSTITUTION),
        ("GET" | "POST", "/institutions/{id}/urgent/new") => Only(INSTITUTION),
        // Care-team sharing: patient data only to the patient's team; a coordinator of the
        // patient's area only by breaking the glass (with the name, the date of birth and a
        // reason), reviewed by another coordinator of the area.
        (
            "GET",
            "/patients/{id}"
            | "/patients/{id}/fhir.json"
            | "/patients/{id}/audit.json"
            | "/patients/{id}/summary"
            | "/patients/{id}/files/{file}",
        ) => Only(TEAM),
        (
            "POST",
            "/patients/{id}/posts"
            | "/patients/{id}/consent"
            | "/patients/{id}/consent/withdraw"
            | "/patients/{id}/team"
            | "/patients/{id}/team/{member}/remove",
        ) => Only(TEAM),
        ("POST", "/patients/{id}/break-glass" | "/hub/patients/review/{id}") => Only(HUB),
        // The 在宅医療情報連携加算 evidence is the institution's own.
        (
            "GET",
            "/institutions/{id}/ict-evidence"
            | "/institutions/{id}/ict-evidence.csv"
            | "/institutions/{id}/ict-evidence.xlsx",
        )
        | ("POST", "/institutions/{id}/ict-evidence/special") => Only(INSTITUTION),
        // Safety checks of an area: its hub acts (and the administrator); the prefecture reads.
        (
            "GET",
            "/hub/safety/{id}"
            | "/hub/safety/{id}/events"
            | "/hub/safety/{id}/export.csv"
            | "/hub/safety/{id}/export.xlsx"
            | "/hub/safety/{id}/summary"
            | "/hub/safety/{id}/cap.xml",
        ) => Only(HUB_READERS),
        ("GET", "/hub/safety/{id}/links" | "/hub/safety/{id}/targets/{target}/phone") => {
            Only(HUB_AND_ADMIN)
        }
        (
            "POST",
            "/hub/safety/{id}/ledger"
            | "/hub/safety/{id}/remind"
            | "/hub/safety/{id}/close"
            | "/hub/safety/{id}/targets/{target}/remind"
            | "/hub/safety/{id}/targets/{target}/phone",
        ) => Only(HUB_AND_ADMIN),
        // The activity ledger: every hub's is read by every hub, the prefecture and the
        // administrator; only the area's coordinators edit it.
        ("GET", "/ledger/{year}/{area}") => Only(EVERY_HUB_READER),
        (
            "GET" | "POST",
            "/ledger/{year}/{area}/item"
            | "/ledger/{year}/{area}/item/{id}"
            | "/ledger/{year}/{area}/item/{id}/delete"
            | "/ledger/{year}/{area}/item/{id}/move"
            | "/ledger/{year}/{area}/next-year"
            | "/ledger/{year}/{area}/texts",
        ) => Only(HUB),
        // The hub's own: consultation notes, events, surveys.
        ("POST", "/hub/consultations/{id}/done") => Only(HUB),
        (
            "GET" | "POST",
            "/hub/events/{id}"
            | "/hub/events/{id}/registrations.csv"
            | "/hub/events/{id}/attendance/{registration}"
            | "/hub/events/{id}/survey",
        ) => Only(HUB),
        (
            "GET" | "POST",
            "/hub/surveys/{id}"
            | "/hub/surveys/{id}/heading"
            | "/hub/surveys/{id}/questions"
            | "/hub/surveys/{id}/questions/change"
            | "/hub/surveys/{id}/send"
            | "/hub/surveys/{id}/preview"
            | "/hub/surveys/{id}/remind"
            | "/hub/surveys/{id}/close"
            | "/hub/surveys/{id}/results.xlsx"
            | "/hub/surveys/{id}/ledger",
        ) => Only(HUB),
        // A directory import's plan is its uploader's (the area's coordinator).
        ("GET" | "POST", "/hub/import/{key}" | "/hub/import/{key}/apply") => Only(HUB),
        // The directory: the area's hub (and the administrator) decide changes and remind.
        (
            "POST",
            "/hub/changes/{id}/approve" | "/hub/changes/{id}/reject" | "/hub/stale/{id}/remind",
        ) => Only(HUB_AND_ADMIN),
        // Accounts: the administrator's; an API token only its owner's (the side's staff).
        (
            "POST",
            "/admin/users/{id}/disable"
            | "/admin/users/{id}/enable"
            | "/admin/users/{id}/reset-two-factor",
        ) => Only(ADMIN),
        ("POST", "/account/api-tokens/{id}/revoke") => Only(&[OwnStaff]),
        _ => return None,
    })
}

/// Routes whose allowed use spends the object (cancels, decides, closes): each allowed actor
/// gets a fresh one, so the refused keep trying an object the action would still work on.
fn spends(path: &str) -> bool {
    matches!(
        path,
        "/institutions/{id}/power/units/{unit}/retire"
            | "/power/lendings/{id}/decide"
            | "/power/lendings/{id}/withdraw"
            | "/power/lendings/{id}/return"
            | "/backup/absences/{id}/cancel"
            | "/backup/coverages/{id}/decide"
            | "/backup/coverages/{id}/withdraw"
            | "/conferences/{id}/fix"
            | "/conferences/{id}/cancel"
            | "/patients/{id}/team/{member}/remove"
            | "/patients/{id}/break-glass"
            | "/hub/patients/review/{id}"
            | "/rota/{id}/shifts/{shift}/remove"
            | "/rota/{id}/join"
            | "/rota/{id}/leave"
            | "/urgent/{id}/accept"
            | "/urgent/{id}/decline"
            | "/urgent/{id}/cancel"
            | "/urgent/{id}/widen"
            | "/hub/safety/{id}/ledger"
            | "/hub/safety/{id}/close"
            | "/ledger/{year}/{area}/item/{id}/delete"
            | "/hub/consultations/{id}/done"
            | "/hub/surveys/{id}/send"
            | "/hub/surveys/{id}/close"
            | "/hub/changes/{id}/approve"
            | "/hub/changes/{id}/reject"
            | "/hub/import/{key}/apply"
            | "/admin/users/{id}/disable"
            | "/admin/users/{id}/enable"
            | "/admin/users/{id}/reset-two-factor"
            | "/account/api-tokens/{id}/revoke"
    )
}

/// Routes with an outer and an inner id: also tried with the inner id of the other side's
/// object, by those who may use the outer one.
const CROSSED: &[(&str, &str)] = &[
    ("POST", "/institutions/{id}/power/units/{unit}"),
    ("POST", "/institutions/{id}/power/units/{unit}/retire"),
    ("GET", "/patients/{id}/files/{file}"),
    ("POST", "/patients/{id}/team/{member}/remove"),
    ("POST", "/rota/{id}/shifts/{shift}/remove"),
    ("GET", "/hub/safety/{id}/targets/{target}/phone"),
    ("POST", "/hub/safety/{id}/targets/{target}/phone"),
    ("POST", "/hub/safety/{id}/targets/{target}/remind"),
    ("POST", "/hub/events/{id}/attendance/{registration}"),
    ("GET", "/ledger/{year}/{area}/item/{id}"),
    ("POST", "/ledger/{year}/{area}/item/{id}/delete"),
    ("POST", "/ledger/{year}/{area}/item/{id}/move"),
];

// ---------------------------------------------------------------------------------------------
// The actors.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    A,
    B,
}

impl Side {
    fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }

    fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    /// A mark in the side's identifying texts.
    fn tag(self) -> &'static str {
        match self {
            Side::A => "甲",
            Side::B => "乙",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Side::A => "a",
            Side::B => "b",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    InstAdmin(Side),
    Staff(Side),
    Neighbour(Side),
    Coordinator(Side),
    System,
    Viewer,
    Nobody,
}

fn relation(who: Who, side: Side) -> Rel {
    match who {
        Who::InstAdmin(s) if s == side => OwnAdmin,
        Who::InstAdmin(_) => OtherAdmin,
        Who::Staff(s) if s == side => OwnStaff,
        Who::Neighbour(s) if s == side => Neighbour,
        Who::Staff(_) | Who::Neighbour(_) => OtherStaff,
        Who::Coordinator(s) if s == side => AreaCoordinator,
        Who::Coordinator(_) => OtherCoordinator,
        Who::System => SystemAdmin,
        Who::Viewer => Prefecture,
        Who::Nobody => Anonymous,
    }
}

/// A signed-in (or anonymous) browser with its session's CSRF token.
struct Actor {
    who: Who,
    label: String,
    cookies: Vec<(String, String)>,
    csrf: String,
}

/// What a request carries.
enum Payload {
    Form(Vec<(String, String)>),
    /// Text fields and files (field, file name, bytes).
    Multipart(Vec<(String, String)>, Vec<(String, String, Vec<u8>)>),
}

/// A reply, as far as this test reads it (a live event stream is not read).
struct Answer {
    status: StatusCode,
    location: String,
    body: String,
}

impl Answer {
    fn to_login(&self) -> bool {
        self.status == StatusCode::SEE_OTHER && self.location.starts_with("/login?next=")
    }
}

fn form(fields: &[(&str, &str)]) -> Option<Payload> {
    Some(Payload::Form(
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    ))
}

/// Sends one request with the actor's cookies (kept up to date) and, for a form, its CSRF token.
async fn call(
    app: &Router,
    cookies: &mut Vec<(String, String)>,
    csrf: &str,
    method: &str,
    uri: &str,
    payload: Option<&Payload>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    if !cookies.is_empty() {
        let jar: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        request = request.header(header::COOKIE, jar.join("; "));
    }
    let body = if method == "GET" {
        Body::empty()
    } else {
        request = request.header("x-csrf-token", csrf);
        match payload {
            Some(Payload::Multipart(fields, files)) => {
                let boundary = "----renkei-ownership-boundary-5d1f0c";
                request = request.header(
                    header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                );
                let mut body = Vec::new();
                let mut text = |name: &str, value: &str| {
                    body.extend_from_slice(
                        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                            .as_bytes(),
                    );
                };
                text("csrf_token", csrf);
                for (name, value) in fields {
                    text(name, value);
                }
                for (name, file_name, bytes) in files {
                    body.extend_from_slice(
                        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                            .as_bytes(),
                    );
                    body.extend_from_slice(bytes);
                    body.extend_from_slice(b"\r\n");
                }
                body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
                Body::from(body)
            }
            other => {
                let mut fields = match other {
                    Some(Payload::Form(f)) => f.clone(),
                    _ => Vec::new(),
                };
                fields.push(("csrf_token".to_owned(), csrf.to_owned()));
                request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(serde_urlencoded::to_string(&fields).unwrap())
            }
        }
    };
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    for value in headers.get_all(header::SET_COOKIE) {
        let Some((name, value)) = value
            .to_str()
            .ok()
            .and_then(|c| c.split(';').next())
            .and_then(|c| c.split_once('='))
        else {
            continue;
        };
        cookies.retain(|(k, _)| k != name);
        if !value.is_empty() {
            cookies.push((name.to_owned(), value.to_owned()));
        }
    }
    let location = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let stream = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let body = if stream {
        // A live stream never ends: its status and type are the answer.
        String::new()
    } else {
        String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes())
            .into_owned()
    };
    Answer {
        status,
        location,
        body,
    }
}

// ---------------------------------------------------------------------------------------------
// Reading forms as a browser would send them.

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

/// The value of attribute `name` in a tag's attributes.
fn attr(attrs: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let mut from = 0;
    while let Some(at) = attrs[from..].find(&needle) {
        let at = from + at;
        let before = attrs[..at].chars().last();
        if before.is_none_or(char::is_whitespace) {
            let rest = &attrs[at + needle.len()..];
            return Some(unescape(&rest[..rest.find('"').unwrap_or(rest.len())]));
        }
        from = at + needle.len();
    }
    None
}

fn flag(attrs: &str, name: &str) -> bool {
    attrs
        .split_whitespace()
        .any(|t| t == name || t.starts_with(&format!("{name}=")))
}

/// The fields a browser sends with the form that posts to `action` on `html`: its inputs (checked
/// boxes and radios only), the selected (or first) option of each list and its text areas.
fn form_fields(html: &str, action: &str) -> Vec<(String, String)> {
    let start = html
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("no form posting to {action}: {html}"));
    let form = &html[start..];
    let form = &form[..form.find("</form>").unwrap_or(form.len())];
    let mut out = Vec::new();
    let mut rest = form;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
        let (name, attrs) = tag.split_once(char::is_whitespace).unwrap_or((tag, ""));
        let Some(field) = attr(attrs, "name") else {
            continue;
        };
        match name {
            "input" => match attr(attrs, "type").as_deref().unwrap_or("text") {
                "submit" | "button" | "file" | "reset" | "image" => {}
                "checkbox" | "radio" => {
                    if flag(attrs, "checked") {
                        out.push((field, attr(attrs, "value").unwrap_or_else(|| "on".into())));
                    }
                }
                _ => out.push((field, attr(attrs, "value").unwrap_or_default())),
            },
            "textarea" => {
                let text = &rest[rest.find('>').map_or(0, |e| e + 1)..];
                let text = &text[..text.find("</textarea>").unwrap_or(0)];
                out.push((field, unescape(text)));
            }
            "select" => {
                let list = &rest[..rest.find("</select>").unwrap_or(rest.len())];
                let options: Vec<(String, bool)> = list
                    .split("<option")
                    .skip(1)
                    .map(|o| {
                        let attrs = &o[..o.find('>').unwrap_or(o.len())];
                        let text = &o[o.find('>').map_or(0, |e| e + 1)..];
                        let text = &text[..text.find('<').unwrap_or(text.len())];
                        (
                            attr(attrs, "value").unwrap_or_else(|| unescape(text.trim())),
                            flag(attrs, "selected"),
                        )
                    })
                    .collect();
                if let Some((value, _)) = options
                    .iter()
                    .find(|(_, selected)| *selected)
                    .or(options.first())
                {
                    out.push((field, value.clone()));
                }
            }
            _ => {}
        }
    }
    out
}

/// `fields` with `name` set to `value` (added when absent).
fn with(mut fields: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    match fields.iter_mut().find(|(k, _)| k == name) {
        Some(f) => f.1 = value.to_owned(),
        None => fields.push((name.to_owned(), value.to_owned())),
    }
    fields
}

/// The values offered by `<select name="name">` or its checkboxes/radios.
fn offered(html: &str, name: &str) -> Vec<i64> {
    let mut out = Vec::new();
    if let Some(at) = html.find(&format!("<select name=\"{name}\"")) {
        let list = &html[at..];
        let list = &list[..list.find("</select>").unwrap_or(list.len())];
        out.extend(
            list.split("<option value=\"")
                .skip(1)
                .filter_map(|o| o.split('"').next()?.parse::<i64>().ok()),
        );
    }
    out.extend(
        html.split(&format!("name=\"{name}\" value=\""))
            .skip(1)
            .filter_map(|o| o.split('"').next()?.parse::<i64>().ok()),
    );
    out
}

// ---------------------------------------------------------------------------------------------
// The world and the objects of each side.

/// A small but real PNG (1×1): its `IHDR` must never reach anyone refused.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\0\x05\0\x01\xff\x89\x99=\x1d\0\0\0\0IEND\xaeB`\x82";

fn pdf(text: &str) -> Vec<u8> {
    format!(
        "%PDF-1.7\n1 0 obj <</Type /Catalog>> endobj\n% {text}\ntrailer <</Root 1 0 R>>\n%%EOF\n"
    )
    .into_bytes()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// One side: its institution, its people and its objects.
#[derive(Default)]
struct Own {
    area: String,
    area_name: String,
    inst: i64,
    inst_name: String,
    neighbour: i64,
    /// Institutions of the area without actors: the other party of lendings, coverages,
    /// conferences, rotas and urgent requests.
    third: Vec<i64>,
    /// Spare ones, offered by the pages, for forms that add one (partners, members, backups).
    spare_partners: Vec<i64>,
    spare_backups: Vec<i64>,
    spare_members: Vec<i64>,
    staff: i64,
    opener: i64,
    baseline_note: String,
    unit: i64,
    unit_label: String,
    /// A lendable unit of `third[0]`, for the side to borrow.
    lender_unit: i64,
    lending_to_decide: i64,
    lending_to_withdraw: i64,
    lending_to_return: i64,
    absence: i64,
    doctor: String,
    coverage_to_decide: i64,
    coverage_to_withdraw: i64,
    conference: i64,
    fixed_conference: i64,
    invited_conference: i64,
    subject: String,
    patient: i64,
    patient_name: String,
    born: String,
    file: i64,
    member: i64,
    invitee: (i64, i64),
    beds_note: String,
    rota: i64,
    rota_name: String,
    shift: i64,
    rota_invited: i64,
    rota_leavable: i64,
    urgent: i64,
    urgent_received: i64,
    condition: String,
    bcp_doc: i64,
    bcp_file: String,
    bcp_text: String,
    check: i64,
    check_title: String,
    target_phone: i64,
    target_remind: i64,
    ledger_item: String,
    ledger_title: String,
    consultation: i64,
    event: i64,
    event_title: String,
    registration: i64,
    registrant: String,
    draft_survey: i64,
    sent_survey: i64,
    survey_title: String,
    change: i64,
    import_key: String,
    target_user: i64,
    disabled_user: i64,
    token: i64,
    glass: i64,
}

/// A request to make, and what it must show or hide.
#[derive(Default)]
struct Probe {
    uri: String,
    payload: Option<Payload>,
    /// Identifies the object: never in a refusal; in the allowed reply when `shows`.
    secret: Option<String>,
    shows: bool,
    /// An allowed change may leave the database as it was (nothing to do).
    quiet: bool,
    /// The allowed change goes on in the background: wait for it.
    settle: bool,
    /// The allowed change is an import: wait until it is written.
    import: Option<String>,
    /// Those allowed to read the page who must still not see `secret` in it.
    withheld_from: &'static [Rel],
    /// An allowed read may answer with a redirect to this page (documented on the route).
    redirect: Option<&'static str>,
    /// Besides 403 and 404, the status a refusal may have (documented on the route).
    refusal: Option<StatusCode>,
}

struct Scenario {
    w: World,
    pool: sqlx::AnyPool,
    actors: Vec<Actor>,
    own: Vec<Own>,
    /// Second sessions of each side's staff and coordinator, to build objects and read forms.
    owners: Vec<Browser>,
    hubs: Vec<Browser>,
    serial: u32,
    failures: Vec<String>,
    checks: usize,
}

/// A user with `role` in `org`, with the test password and second factor.
async fn user_in(
    w: &World,
    org: renkei_domain::accounts::OrganisationId,
    email: &str,
    display: &str,
    role: AccountRole,
) -> UserId {
    let user = w
        .store
        .create_user(
            &Email::parse(email).unwrap(),
            display,
            Some(&renkei_web::auth::secrets::hash_password(PASSWORD).unwrap()),
        )
        .await
        .unwrap();
    w.store.add_membership(user, org, role).await.unwrap();
    w.store
        .set_pending_totp(user, &renkei_domain::totp::base32_encode(SECRET))
        .await
        .unwrap();
    w.store.confirm_totp(user, 0, &[]).await.unwrap();
    user
}

async fn user_id_of(w: &World, email: &str) -> i64 {
    w.store
        .user_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
        .0
}

impl Scenario {
    fn now(&self) -> chrono::DateTime<Utc> {
        Clock::now(&*self.w.clock)
    }

    fn next(&mut self) -> u32 {
        self.serial += 1;
        self.serial
    }

    async fn scalar(&self, sql: &str, bind: i64) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(bind)
            .fetch_one(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The last write noted by the triggers.
    async fn mark(&self) -> i64 {
        sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(id), 0) FROM zz_changes")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// The tables written since `mark`.
    async fn written_since(&self, mark: i64) -> Vec<String> {
        let mut tables: Vec<String> =
            sqlx::query_scalar::<_, String>("SELECT tbl FROM zz_changes WHERE id > $1")
                .bind(mark)
                .fetch_all(&self.pool)
                .await
                .unwrap();
        tables.sort();
        tables.dedup();
        tables
    }

    /// Waits until background writes (the mails a safety check's action queues after
    /// answering) have stopped: three quiet polls in a row.
    async fn settle(&self) {
        let mut last = self.mark().await;
        let mut quiet = 0;
        for _ in 0..200 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let now = self.mark().await;
            quiet = if now == last { quiet + 1 } else { 0 };
            if quiet == 3 {
                return;
            }
            last = now;
        }
        panic!("background writes did not stop");
    }

    async fn build(db: &TestDb) -> Scenario {
        let w = world_with_demo_directory(db).await;
        let file =
            LedgerFile::parse(NAKAKAWACHI_FY2025_TOML, &RegionDefinition::nakakawachi()).unwrap();
        w.store.load_ledger_file(&file).await.unwrap();
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let mut s = Scenario {
            w,
            pool,
            actors: Vec::new(),
            own: Vec::new(),
            owners: Vec::new(),
            hubs: Vec::new(),
            serial: 0,
            failures: Vec::new(),
            checks: 0,
        };
        s.install_change_log(db.url.starts_with("postgres")).await;
        // Side B: the first other area with enough located hospitals and clinics.
        let mut areas = vec!["yao".to_owned()];
        for area in [
            "kashiwara",
            "higashiosaka-east",
            "higashiosaka-central",
            "higashiosaka-west",
        ] {
            if located(&s.w, "hospital", &[area]).await.len() >= 3
                && located(&s.w, "clinic", &[area]).await.len() >= 12
            {
                areas.push(area.to_owned());
                break;
            }
        }
        assert_eq!(areas.len(), 2, "another area with three located hospitals");
        for side in [Side::A, Side::B] {
            s.people(side, &areas[side.index()]).await;
        }
        s.actors.push(Actor {
            who: Who::System,
            label: "system administrator".into(),
            cookies: Vec::new(),
            csrf: String::new(),
        });
        s.actors.push(Actor {
            who: Who::Viewer,
            label: "prefecture".into(),
            cookies: Vec::new(),
            csrf: String::new(),
        });
        s.actors.push(Actor {
            who: Who::Nobody,
            label: "anonymous".into(),
            cookies: Vec::new(),
            csrf: String::new(),
        });
        // One login per actor, kept for the whole walk.
        for i in 0..s.actors.len() {
            let email = match s.actors[i].who {
                Who::InstAdmin(side) => format!("admin-{}@own.example.jp", side.key()),
                Who::Staff(side) => format!("staff-{}@own.example.jp", side.key()),
                Who::Neighbour(side) => format!("neighbour-{}@near.example.jp", side.key()),
                Who::Coordinator(Side::A) => email_of(AccountRole::HubCoordinator),
                Who::Coordinator(Side::B) => "hub-b@hub.example.jp".to_owned(),
                Who::System => email_of(AccountRole::SystemAdmin),
                Who::Viewer => email_of(AccountRole::PrefectureViewer),
                Who::Nobody => String::new(),
            };
            let mut b = if email.is_empty() {
                Browser::new(&s.w.app)
            } else {
                s.w.login(&email).await
            };
            let page = if email.is_empty() {
                "/login"
            } else {
                "/account"
            };
            let html = b.get(page).await.body;
            s.actors[i].csrf = csrf_in(&html).expect("a CSRF token");
            s.actors[i].cookies = b.cookies;
        }
        for side in [Side::A, Side::B] {
            let staff = format!("staff-{}@own.example.jp", side.key());
            let owner = s.w.login(&staff).await;
            s.owners.push(owner);
            let hub = match side {
                Side::A => email_of(AccountRole::HubCoordinator),
                Side::B => "hub-b@hub.example.jp".to_owned(),
            };
            let hub = s.w.login(&hub).await;
            s.hubs.push(hub);
        }
        for side in [Side::A, Side::B] {
            s.furnish(side).await;
        }
        s.settle().await;
        s
    }

    /// The side's hospital, its people and the third parties of its area.
    async fn people(&mut self, side: Side, area: &str) {
        let w = &self.w;
        let hospitals = located(w, "hospital", &[area]).await;
        let clinics = located(w, "clinic", &[area]).await;
        assert!(hospitals.len() >= 3 && clinics.len() >= 12, "{area}");
        let inst = hospitals[0].clone();
        let neighbour = clinics[0].clone();
        let region = RegionDefinition::nakakawachi();
        let area_name = region
            .areas
            .iter()
            .find(|a| a.code.as_str() == area)
            .unwrap()
            .name
            .clone();
        let k = side.key();
        for (email, role) in [
            (
                format!("admin-{k}@own.example.jp"),
                AccountRole::InstitutionAdmin,
            ),
            (
                format!("staff-{k}@own.example.jp"),
                AccountRole::InstitutionStaff,
            ),
        ] {
            member_of(w, inst.id, &inst.name, &email, "職員", role).await;
        }
        member_of(
            w,
            neighbour.id,
            &neighbour.name,
            &format!("neighbour-{k}@near.example.jp"),
            "近隣 職員",
            AccountRole::InstitutionStaff,
        )
        .await;
        let hub_name = if area == "yao" {
            "八尾市医師会".to_owned()
        } else {
            format!("{area_name}医師会")
        };
        let hub = w
            .store
            .ensure_organisation(OrganisationKind::Hub, &hub_name, Some(area), None)
            .await
            .unwrap();
        if side == Side::B {
            user_in(
                w,
                hub,
                "hub-b@hub.example.jp",
                "拠点 乙",
                AccountRole::HubCoordinator,
            )
            .await;
        }
        // A second coordinator of the area opens the glass the walked coordinator reviews.
        let opener = user_in(
            w,
            hub,
            &format!("opener-{k}@hub.example.jp"),
            "拠点 開封者",
            AccountRole::HubCoordinator,
        )
        .await;
        let third: Vec<i64> = hospitals[1..]
            .iter()
            .chain(clinics[1..].iter())
            .map(|r| r.id)
            .collect();
        let staff = user_id_of(w, &format!("staff-{k}@own.example.jp")).await;
        // Notices and surveys need addresses.
        for (id, address) in [
            (inst.id, format!("inst-{k}@own.example.jp")),
            (neighbour.id, format!("clinic-{k}@near.example.jp")),
        ] {
            sqlx::query("UPDATE institutions SET contact_email = $1 WHERE id = $2")
                .bind(address)
                .bind(id)
                .execute(&self.pool)
                .await
                .unwrap();
        }
        self.own.push(Own {
            area: area.to_owned(),
            area_name,
            inst: inst.id,
            inst_name: inst.name.clone(),
            neighbour: neighbour.id,
            third,
            staff,
            opener: opener.0,
            ..Own::default()
        });
        for (who, label) in [
            (Who::InstAdmin(side), "institution administrator"),
            (Who::Staff(side), "staff"),
            (Who::Neighbour(side), "neighbour's staff"),
            (Who::Coordinator(side), "coordinator"),
        ] {
            self.actors.push(Actor {
                who,
                label: format!("{label} of side {side:?}"),
                cookies: Vec::new(),
                csrf: String::new(),
            });
        }
    }

    /// Institutions that carry actors: never a third party.
    fn actor_institutions(&self) -> Vec<i64> {
        self.own
            .iter()
            .flat_map(|o| [o.inst, o.neighbour])
            .collect()
    }

    /// The objects of one side.
    async fn furnish(&mut self, side: Side) {
        let i = side.index();
        let t = side.tag();
        let now = self.now();
        let inst = self.own[i].inst;
        let c = self.own[i].third[0];
        let busy: Vec<i64> = self.actor_institutions();

        // Disaster baseline, beds, power.
        let note = format!("備蓄メモ{t}");
        self.w
            .store
            .save_baseline(
                inst,
                &Baseline {
                    note: note.clone(),
                    ..Baseline::default()
                },
                None,
            )
            .await
            .unwrap();
        self.own[i].baseline_note = note;
        let beds = format!("寝台条件{t}");
        let page = format!("/institutions/{inst}/beds");
        let saved = self.owners[i]
            .post(
                &page,
                &page,
                vec![
                    ("respite_available", "2".into()),
                    ("respite_physical", "4".into()),
                    ("respite_conditions", beds.clone()),
                    ("emergency_available", "1".into()),
                    ("emergency_physical", "3".into()),
                ],
            )
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "beds: {}", saved.body);
        self.own[i].beds_note = beds;
        let label = format!("非常用電源{t}号機");
        self.own[i].unit = self.unit(inst, &label).await;
        self.own[i].unit_label = label;
        self.own[i].lender_unit = self.unit(c, &format!("貸出用{t}")).await;
        self.own[i].lending_to_decide = self.lending_to_decide(side).await;
        self.own[i].lending_to_withdraw = self.lending_to_withdraw(side).await;
        self.own[i].lending_to_return = self.lending_to_return(side).await;

        // Backup while away.
        let doctor = format!("不在 医師{t}");
        self.own[i].absence = self.absence(inst, &doctor, &[]).await;
        self.own[i].doctor = doctor;
        self.own[i].coverage_to_decide = self.coverage_to_decide(side).await;
        self.own[i].coverage_to_withdraw = self.coverage_to_withdraw(side).await;
        let page = self.owners[i]
            .get(&format!("/institutions/{inst}/backup"))
            .await
            .body;
        let third = self.own[i].third.clone();
        self.own[i].spare_backups = offered(&page, "backup")
            .into_iter()
            .filter(|b| !busy.contains(b) && !third[..2].contains(b))
            .collect();

        // Conferences.
        let subject = format!("退院前の相談{t}");
        self.own[i].subject = subject.clone();
        self.own[i].conference = self.conference(side).await;
        let fixed = self.conference(side).await;
        let slot = self.w.store.conference(fixed).await.unwrap().unwrap().slots[0].id;
        self.w
            .store
            .fix_conference(fixed, inst, slot, now)
            .await
            .unwrap();
        self.own[i].fixed_conference = fixed;
        self.own[i].invited_conference = self
            .w
            .store
            .create_conference(
                c,
                &self.proposal(&format!("招かれた相談{t}")),
                &[(inst, InviteeRole::ClinicDoctor)],
                None,
                now,
            )
            .await
            .unwrap();

        // A patient of the side's staff, with a photo, a member from elsewhere on the team and
        // a colleague of another institution to invite.
        let name = format!("守秘 {t}子");
        self.own[i].patient = self.patient(side, &name).await;
        self.own[i].patient_name = name;
        self.own[i].born = "1940-05-06".into();
        let url = format!("/patients/{}", self.own[i].patient);
        let posted = self.owners[i]
            .multipart(
                &url,
                &format!("{url}/posts"),
                vec![("body", "褥瘡の写真です".into())],
                vec![("file", "IMG_0001.png", PNG)],
            )
            .await;
        assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.body);
        self.own[i].file = self
            .scalar(
                "SELECT MAX(id) FROM care_attachments WHERE patient_id = $1",
                self.own[i].patient,
            )
            .await;
        self.own[i].member = self.member(side).await;
        let k = side.key();
        let invitee_inst = self.own[i].third[3];
        member_of(
            &self.w,
            invitee_inst,
            "招待先",
            &format!("invitee-{k}@third.example.jp"),
            "招待 看護師",
            AccountRole::InstitutionStaff,
        )
        .await;
        let invitee = user_id_of(&self.w, &format!("invitee-{k}@third.example.jp")).await;
        self.own[i].invitee = (invitee_inst, invitee);
        self.own[i].glass = self.glass(side).await;

        // Rotas.
        let rota_name = format!("当番グループ{t}");
        self.own[i].rota = self
            .w
            .store
            .create_rota_group(&rota_name, "", inst, &[c], None, now)
            .await
            .unwrap();
        self.w
            .store
            .accept_rota_invitation(self.own[i].rota, c, now)
            .await
            .unwrap();
        self.own[i].rota_name = rota_name;
        self.own[i].shift = self.shift(side).await;
        self.own[i].rota_invited = self.rota_invited(side).await;
        self.own[i].rota_leavable = self.rota_leavable(side).await;
        let page = self.owners[i]
            .get(&format!("/rota/{}", self.own[i].rota))
            .await
            .body;
        self.own[i].spare_members = offered(&page, "institution")
            .into_iter()
            .filter(|b| !busy.contains(b) && !third[..2].contains(b))
            .collect();

        // Urgent requests: sent by the side (two rings, so it can be widened), and one asking it.
        self.own[i].condition = format!("発熱と呼吸苦{t}");
        self.own[i].urgent = self.urgent_sent(side).await;
        self.own[i].urgent_received = self.urgent_received(side).await;

        // The BCP, shared with the hub.
        self.w
            .store
            .save_bcp_record(inst, Some(day(2026, 10, 1)), true, None)
            .await
            .unwrap();
        let file_name = format!("BCP{t}版.pdf");
        let text = format!("BCP本文{t}");
        self.own[i].bcp_doc = self
            .w
            .store
            .add_bcp_document(inst, &file_name, &pdf(&text), None)
            .await
            .unwrap();
        self.own[i].bcp_file = file_name;
        self.own[i].bcp_text = text;
        self.own[i].spare_partners = self.own[i].third[4..]
            .iter()
            .copied()
            .filter(|p| !busy.contains(p))
            .collect();

        // A safety check of the area (hospitals), with the side's hospital among the targets.
        let title = format!("安否確認訓練{t}");
        self.own[i].check = self.check(side, &title).await;
        self.own[i].check_title = title;
        let targets = self
            .w
            .store
            .safety_targets(self.own[i].check)
            .await
            .unwrap();
        self.own[i].target_phone = targets
            .iter()
            .find(|x| x.institution.id == inst)
            .expect("the side's hospital is a target")
            .id;
        self.own[i].target_remind = targets
            .iter()
            .find(|x| x.institution.id != inst)
            .expect("another target")
            .id;

        // The area's ledger (the demo's 令和7年度).
        let area = self.own[i].area.clone();
        let ledger = self.w.store.ledger(&area, 2025).await.unwrap().unwrap();
        let item = ledger.ledger.items.first().expect("the demo has items");
        self.own[i].ledger_item = item.id.clone();
        self.own[i].ledger_title = item.title.clone();

        // The hub's own: a consultation, an event with a registration, surveys.
        self.own[i].consultation = self.consultation(side).await;
        let title = format!("講習会{t}");
        let fields = vec![
            ("title", title.clone()),
            ("area", area.clone()),
            ("kind", "lecture".into()),
            ("audience", "citizens".into()),
            ("starts_at", "2026-12-12T14:00".into()),
            ("ends_time", "16:00".into()),
            ("place", "文化会館".into()),
            ("organiser", "医師会".into()),
            ("capacity", "100".into()),
            ("public", "1".into()),
            ("description", "もしものときに備えて".into()),
        ];
        let created = self.hubs[i]
            .post("/hub/events", "/hub/events", fields)
            .await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
        self.own[i].event = created
            .location()
            .rsplit('/')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        self.own[i].event_title = title;
        let registrant = format!("参加 {t}太郎");
        let mut citizen = Browser::new(&self.w.app);
        let url = format!("/events/{}", self.own[i].event);
        let done = citizen
            .post(
                &url,
                &format!("{url}/register"),
                vec![
                    ("name", registrant.clone()),
                    ("organisation", String::new()),
                    ("profession", String::new()),
                    ("email", format!("taro-{k}@example.jp")),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        self.own[i].registration = self
            .scalar(
                "SELECT MAX(id) FROM event_registrations WHERE event_id = $1",
                self.own[i].event,
            )
            .await;
        self.own[i].registrant = registrant;
        self.own[i].survey_title = format!("在宅医療の調査{t}");
        self.own[i].draft_survey = self.survey(side, false).await;
        self.own[i].sent_survey = self.survey(side, true).await;

        // A directory change, an import plan, accounts.
        self.own[i].change = self.change(side).await;
        self.own[i].import_key = self.import(side).await;
        self.own[i].target_user = self.user(side, false).await;
        self.own[i].disabled_user = self.user(side, true).await;
        self.own[i].token = self.token(side).await;
    }

    // --- Fresh objects -------------------------------------------------------------------

    async fn unit(&mut self, institution: i64, label: &str) -> i64 {
        self.w
            .store
            .add_power_unit(
                institution,
                &PowerUnit {
                    kind: UnitKind::PortableGenerator,
                    label: label.to_owned(),
                    output_watts: 1600,
                    capacity_wh: None,
                    runtime_hours: Some(8),
                    fuel: Some(FuelKind::Gasoline),
                    lendable: true,
                    note: "1階倉庫".into(),
                },
                None,
            )
            .await
            .unwrap()
    }

    fn need() -> Need {
        Need {
            device: Device::Ventilator,
            watts: 300,
            starts_on: day(2026, 11, 26),
            ends_on: day(2026, 11, 28),
        }
    }

    /// A request to borrow a unit of the side (the side decides).
    async fn lending_to_decide(&mut self, side: Side) -> i64 {
        let i = side.index();
        let (inst, c) = (self.own[i].inst, self.own[i].third[0]);
        let unit = self.unit(inst, "貸出機").await;
        self.w
            .store
            .request_lending(unit, c, &Self::need(), "072-000-0000", "", None)
            .await
            .unwrap()
    }

    /// The side's request to borrow a third party's unit (the side withdraws).
    async fn lending_to_withdraw(&mut self, side: Side) -> i64 {
        let i = side.index();
        self.w
            .store
            .request_lending(
                self.own[i].lender_unit,
                self.own[i].inst,
                &Self::need(),
                "072-000-0000",
                "",
                None,
            )
            .await
            .unwrap()
    }

    /// A unit of the side lent out (the side records its return).
    async fn lending_to_return(&mut self, side: Side) -> i64 {
        let id = self.lending_to_decide(side).await;
        let inst = self.own[side.index()].inst;
        self.w
            .store
            .decide_lending(id, inst, true, "", None)
            .await
            .unwrap();
        id
    }

    async fn absence(&mut self, institution: i64, doctor: &str, backups: &[i64]) -> i64 {
        let now = self.now();
        self.w
            .store
            .add_absence(
                institution,
                &Absence {
                    doctor: doctor.to_owned(),
                    starts_on: day(2026, 12, 10),
                    ends_on: day(2026, 12, 12),
                    note: "急変の可能性がある患者は3名".into(),
                },
                backups,
                None,
                now,
            )
            .await
            .unwrap()
    }

    /// A third party's absence that asks the side to cover.
    async fn coverage_to_decide(&mut self, side: Side) -> i64 {
        let i = side.index();
        let n = self.next();
        let (inst, d) = (self.own[i].inst, self.own[i].third[1]);
        let absence = self.absence(d, &format!("他院 医師{n}"), &[inst]).await;
        self.w
            .store
            .absence(absence)
            .await
            .unwrap()
            .unwrap()
            .coverages[0]
            .id
    }

    /// The side's absence that asks a third party.
    async fn coverage_to_withdraw(&mut self, side: Side) -> i64 {
        let i = side.index();
        let n = self.next();
        let (inst, d) = (self.own[i].inst, self.own[i].third[1]);
        let absence = self.absence(inst, &format!("自院 医師{n}"), &[d]).await;
        self.w
            .store
            .absence(absence)
            .await
            .unwrap()
            .unwrap()
            .coverages[0]
            .id
    }

    fn proposal(&self, subject: &str) -> Proposal {
        let now = self.now();
        Proposal {
            subject: subject.to_owned(),
            place: "3階カンファレンス室".into(),
            minutes: 45,
            slots: vec![now + Duration::days(8), now + Duration::days(9)],
        }
    }

    /// The side's hospital proposes, inviting a clinic of its area.
    async fn conference(&mut self, side: Side) -> i64 {
        let i = side.index();
        let now = self.now();
        let proposal = self.proposal(&self.own[i].subject);
        self.w
            .store
            .create_conference(
                self.own[i].inst,
                &proposal,
                &[(self.own[i].third[2], InviteeRole::ClinicDoctor)],
                None,
                now,
            )
            .await
            .unwrap()
    }

    /// Registered by the side's staff over the form.
    async fn patient(&mut self, side: Side, name: &str) -> i64 {
        let i = side.index();
        let kana = if side == Side::A {
            "シュヒ コウコ"
        } else {
            "シュヒ オツコ"
        };
        let address = format!("{}本町1-2-3", self.own[i].area_name);
        let registered = self.owners[i]
            .post(
                "/patients/new",
                "/patients/new",
                vec![
                    ("profession", "doctor".into()),
                    ("name", name.to_owned()),
                    ("kana", kana.into()),
                    ("birth_date", "1940-05-06".into()),
                    ("sex", "female".into()),
                    ("address", address),
                    ("needs", "oxygen".into()),
                ],
            )
            .await;
        assert_eq!(
            registered.status,
            StatusCode::SEE_OTHER,
            "{}",
            registered.body
        );
        registered
            .location()
            .trim_start_matches("/patients/")
            .split('?')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// A member of staff of a third party put on the team of the side's patient: the team row.
    async fn member(&mut self, side: Side) -> i64 {
        let i = side.index();
        let n = self.next();
        let institution = self.own[i].third[2];
        let email = format!("member{n}-{}@third.example.jp", side.key());
        member_of(
            &self.w,
            institution,
            "連携先",
            &email,
            "訪問 看護師",
            AccountRole::InstitutionStaff,
        )
        .await;
        let user = user_id_of(&self.w, &email).await;
        let now = self.now();
        self.w
            .store
            .add_team_member(
                self.own[i].patient,
                user,
                institution,
                Profession::Nurse,
                UserId(self.own[i].staff),
                now,
            )
            .await
            .unwrap();
        self.w
            .store
            .team(self.own[i].patient)
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.user_id == user)
            .unwrap()
            .id
    }

    /// The other coordinator of the area broke the glass on the side's patient.
    async fn glass(&mut self, side: Side) -> i64 {
        let i = side.index();
        let now = self.now();
        self.w
            .store
            .open_break_glass(
                self.own[i].patient,
                UserId(self.own[i].opener),
                "救急搬送時の確認のため",
                60,
                now,
            )
            .await
            .unwrap()
    }

    async fn shift(&mut self, side: Side) -> i64 {
        let i = side.index();
        let n = self.next();
        let group = self.own[i].rota;
        let on = day(2026, 12, 1) + Duration::days(i64::from(n % 28));
        let now = self.now();
        self.w
            .store
            .assign_rota_shift(
                group,
                &Shift {
                    day: on,
                    slot: Slot::Night,
                    institution_id: self.own[i].inst,
                    doctor: format!("当番 医師{n}"),
                },
                None,
                now,
            )
            .await
            .unwrap();
        self.w
            .store
            .rota_shifts(group, on, on)
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.shift.doctor == format!("当番 医師{n}"))
            .unwrap()
            .id
    }

    /// A third party's group that invites the side.
    async fn rota_invited(&mut self, side: Side) -> i64 {
        let i = side.index();
        let now = self.now();
        let n = self.next();
        self.w
            .store
            .create_rota_group(
                &format!("招待グループ{n}"),
                "",
                self.own[i].third[0],
                &[self.own[i].inst],
                None,
                now,
            )
            .await
            .unwrap()
    }

    /// A group of three the side belongs to (so it may leave).
    async fn rota_leavable(&mut self, side: Side) -> i64 {
        let i = side.index();
        let now = self.now();
        let n = self.next();
        let (c, d) = (self.own[i].third[0], self.own[i].third[1]);
        let group = self
            .w
            .store
            .create_rota_group(
                &format!("三院グループ{n}"),
                "",
                self.own[i].inst,
                &[c, d],
                None,
                now,
            )
            .await
            .unwrap();
        for member in [c, d] {
            self.w
                .store
                .accept_rota_invitation(group, member, now)
                .await
                .unwrap();
        }
        group
    }

    async fn urgent_request(
        &mut self,
        requester: i64,
        recipients: &[i64],
        routing: Routing,
        condition: &str,
    ) -> i64 {
        let now = self.now();
        let summary = CaseSummary {
            age_band: AgeBand::Senior75,
            sex: Sex::Male,
            condition: condition.to_owned(),
            needs: String::new(),
            needed: vec![],
            area: "本町".into(),
        };
        let ring_size = match routing {
            Routing::Nearest { ring_size, .. } => ring_size as usize,
            Routing::Chosen { .. } => recipients.len(),
        };
        let recipients: Vec<Recipient> = recipients
            .iter()
            .enumerate()
            .map(|(n, id)| Recipient {
                institution_id: *id,
                distance_km: n as f64,
                ring: (n / ring_size) as u32 + 1,
            })
            .collect();
        self.w
            .store
            .create_urgent_request(
                &NewUrgentRequest {
                    requester_id: requester,
                    kind: RequestKind::EmergencyAdmission,
                    summary: &summary,
                    contact: "当直 072-000-0000",
                    routing,
                    recipients: &recipients,
                },
                None,
                now,
            )
            .await
            .unwrap()
    }

    /// The side asks two third parties, one ring at a time (so it can widen or cancel).
    async fn urgent_sent(&mut self, side: Side) -> i64 {
        let i = side.index();
        let (inst, c, d) = (self.own[i].inst, self.own[i].third[0], self.own[i].third[1]);
        let condition = self.own[i].condition.clone();
        self.urgent_request(
            inst,
            &[c, d],
            Routing::Nearest {
                ring_size: 1,
                escalate_minutes: 60,
                rings: 2,
            },
            &condition,
        )
        .await
    }

    /// A third party asks the side (so it can accept or decline).
    async fn urgent_received(&mut self, side: Side) -> i64 {
        let i = side.index();
        let (inst, c) = (self.own[i].inst, self.own[i].third[0]);
        self.urgent_request(
            c,
            &[inst],
            Routing::Chosen { wait_minutes: 30 },
            "意識障害、救急搬送の相談",
        )
        .await
    }

    async fn check(&mut self, side: Side, title: &str) -> i64 {
        let i = side.index();
        let area = self.own[i].area.clone();
        let id = create_drill(
            &self.w,
            &mut self.hubs[i],
            title,
            vec![("area", area), ("kind", "hospital".into())],
        )
        .await;
        self.settle().await;
        id
    }

    /// A ledger item the side's coordinator adds; its id.
    async fn ledger_item(&mut self, side: Side) -> String {
        let i = side.index();
        let n = self.next();
        let area = self.own[i].area.clone();
        let title = format!("追加の研修会{n}");
        let fields = self.item_fields(side, &title).await;
        let url = format!("/ledger/2025/{area}/item");
        let saved = self.hubs[i]
            .post(
                &url,
                &url,
                fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect(),
            )
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        self.w
            .store
            .ledger(&area, 2025)
            .await
            .unwrap()
            .unwrap()
            .ledger
            .items
            .iter()
            .find(|i| i.title == title)
            .unwrap()
            .id
            .clone()
    }

    async fn revision(&self, side: Side) -> i64 {
        self.w
            .store
            .ledger(&self.own[side.index()].area, 2025)
            .await
            .unwrap()
            .unwrap()
            .revision
    }

    async fn item_fields(&self, side: Side, title: &str) -> Vec<(String, String)> {
        let revision = self.revision(side).await;
        [
            ("id", ""),
            ("section", "plan"),
            ("duty", "1"),
            ("kind", "training"),
            ("title", title),
            ("audience", "多職種"),
            ("planned", "2"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .chain([("revision".to_owned(), revision.to_string())])
        .collect()
    }

    async fn consultation(&mut self, side: Side) -> i64 {
        let i = side.index();
        let area = self.own[i].area.clone();
        let saved = self.hubs[i]
            .post(
                "/hub/consultations",
                "/hub/consultations",
                vec![
                    ("received_at", "2026-11-20T10:30".to_owned()),
                    ("area", area),
                    ("channel", "phone".into()),
                    ("caller", "family".into()),
                    ("action", "follow_up".into()),
                    ("follow_up_on", "2026-12-01".into()),
                    ("summary", "退院後の訪問診療医を探している".into()),
                    ("minutes", "15".into()),
                    ("topic", "finding_doctor".into()),
                ],
            )
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        self.scalar("SELECT MAX(id) FROM consultations WHERE id > $1", 0)
            .await
    }

    /// A survey of the side's area (from the template), sent to the side's hospital and the
    /// neighbour when `sent`.
    async fn survey(&mut self, side: Side, sent: bool) -> i64 {
        let i = side.index();
        let area = self.own[i].area.clone();
        let title = self.own[i].survey_title.clone();
        let created = self.hubs[i]
            .post(
                "/hub/surveys",
                "/hub/surveys",
                vec![
                    ("area", area),
                    ("title", title),
                    ("intro", "医師会まで".into()),
                    ("closes_on", "2026-12-25".into()),
                    ("template", "twenty_four_hour".into()),
                ],
            )
            .await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
        let url = created.location().to_owned();
        let id: i64 = url.rsplit('/').next().unwrap().parse().unwrap();
        if sent {
            let (inst, neighbour) = (self.own[i].inst, self.own[i].neighbour);
            let done = self.hubs[i]
                .post(
                    &url,
                    &format!("{url}/send"),
                    vec![
                        ("institution", inst.to_string()),
                        ("institution", neighbour.to_string()),
                    ],
                )
                .await;
            assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        }
        id
    }

    /// The side's staff proposes a new phone number.
    async fn change(&mut self, side: Side) -> i64 {
        let i = side.index();
        let n = self.next();
        let mut fields = self
            .w
            .store
            .public_fields(self.own[i].inst)
            .await
            .unwrap()
            .unwrap();
        fields.phone = Some(format!("072-{:03}-{:04}", 100 + n, n));
        self.w
            .store
            .propose_change(self.own[i].inst, UserId(self.own[i].staff), &fields)
            .await
            .unwrap()
    }

    /// A checked directory file waiting for its uploader (the side's coordinator): its key.
    async fn import(&mut self, side: Side) -> String {
        let i = side.index();
        let n = self.next();
        let area_name = self.own[i].area_name.clone();
        let address = self
            .w
            .store
            .public_fields(self.own[i].inst)
            .await
            .unwrap()
            .unwrap()
            .address;
        let csv = format!(
            "名称,種別,地域,所在地,できること,医療機関コード\r\n［テスト］取込の診療所{n},診療所,{area_name},{address},訪問診療,\r\n"
        );
        let report = self.hubs[i]
            .upload("/hub/import", "/hub/import", "一覧.csv", csv.as_bytes())
            .await;
        assert_eq!(report.status, StatusCode::OK, "{}", report.body);
        let at = report.body.find("/hub/import/").expect("an apply form") + "/hub/import/".len();
        report.body[at..].split('/').next().unwrap().to_owned()
    }

    /// A member of staff of the side (the administrator's target).
    async fn user(&mut self, side: Side, disabled: bool) -> i64 {
        let i = side.index();
        let n = self.next();
        let org = self
            .w
            .store
            .ensure_organisation(
                OrganisationKind::Institution,
                &self.own[i].inst_name.clone(),
                None,
                Some(self.own[i].inst),
            )
            .await
            .unwrap();
        let user = user_in(
            &self.w,
            org,
            &format!("target{n}-{}@own.example.jp", side.key()),
            "対象 職員",
            AccountRole::InstitutionStaff,
        )
        .await;
        if disabled {
            self.w.store.set_disabled(user, true).await.unwrap();
        }
        user.0
    }

    /// An API token of the side's staff.
    async fn token(&mut self, side: Side) -> i64 {
        let i = side.index();
        let n = self.next();
        self.w
            .store
            .create_api_token(
                UserId(self.own[i].staff),
                &format!("集計{n}"),
                &format!("hash-{}-{n}", side.key()),
                "read",
            )
            .await
            .unwrap()
    }

    /// Notes every write to every table but the session, login and audit records.
    async fn install_change_log(&self, postgres: bool) {
        let ignored = [
            "audit_log",
            "audit_head",
            "sessions",
            "login_attempts",
            "renkei_migrations",
            "zz_changes",
        ];
        if postgres {
            for sql in [
                "CREATE TABLE zz_changes (id BIGSERIAL PRIMARY KEY, tbl TEXT NOT NULL)",
                "CREATE FUNCTION zz_note_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO zz_changes (tbl) VALUES (TG_TABLE_NAME); RETURN NULL; END $$",
            ] {
                sqlx::raw_sql(sql).execute(&self.pool).await.unwrap();
            }
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
            )
            .fetch_all(&self.pool)
            .await
            .unwrap();
            for t in tables.iter().filter(|t| !ignored.contains(&t.as_str())) {
                sqlx::raw_sql(&format!(
                    "CREATE TRIGGER zz_note AFTER INSERT OR UPDATE OR DELETE ON \"{t}\" FOR EACH ROW EXECUTE FUNCTION zz_note_change()"
                ))
                .execute(&self.pool)
                .await
                .unwrap();
            }
        } else {
            sqlx::raw_sql(
                "CREATE TABLE zz_changes (id INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL)",
            )
            .execute(&self.pool)
            .await
            .unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'",
            )
            .fetch_all(&self.pool)
            .await
            .unwrap();
            let mut noted = 0;
            for t in tables.iter().filter(|t| !ignored.contains(&t.as_str())) {
                for op in ["INSERT", "UPDATE", "DELETE"] {
                    // Shadow tables of full-text indexes may refuse triggers; their base tables
                    // are noted.
                    if sqlx::raw_sql(&format!(
                        "CREATE TRIGGER \"zz_{t}_{op}\" AFTER {op} ON \"{t}\" BEGIN INSERT INTO zz_changes (tbl) VALUES ('{t}'); END"
                    ))
                    .execute(&self.pool)
                    .await
                    .is_ok()
                    {
                        noted += 1;
                    }
                }
            }
            assert!(noted > 100, "triggers on the tables: {noted}");
        }
    }

    // --- Probes --------------------------------------------------------------------------

    /// The request for `method path` on `side`'s object (the inner id of a two-id route from
    /// `inner`'s); `fresh` makes a new object for an action that spends it.
    async fn probe(
        &mut self,
        side: Side,
        method: &str,
        path: &str,
        fresh: bool,
        inner: Side,
    ) -> Probe {
        let i = side.index();
        let j = inner.index();
        let n = self.next();
        let t = side.tag();
        let o = &self.own[i];
        let (inst, area) = (o.inst, o.area.clone());
        let shown = |secret: &str| Probe {
            secret: Some(secret.to_owned()),
            shows: true,
            ..Probe::default()
        };
        let hidden = |secret: &str| Probe {
            secret: Some(secret.to_owned()),
            ..Probe::default()
        };
        let mut p = match (method, path) {
            ("GET", "/areas/{code}") => Probe::default(),
            ("GET", "/areas/{code}/map") => Probe::default(),
            ("GET", "/institutions/{id}") => shown(&o.inst_name),
            ("GET", "/fhir/{kind}/{id}") => shown(&o.inst_name),
            ("GET", "/fhir/MeasureReport/{id}") => Probe::default(),
            ("GET", "/institutions/{id}/readiness") => shown(&o.baseline_note),
            ("POST", "/institutions/{id}/readiness") => Probe {
                payload: form(&[("note", &o.baseline_note), ("ventilator", "1")]),
                ..hidden(&o.baseline_note)
            },
            ("GET", "/institutions/{id}/power") => shown(&o.unit_label),
            ("POST", "/institutions/{id}/power/units") => Probe {
                payload: form(&[
                    ("kind", "portable_generator"),
                    ("label", &format!("追加機{n}")),
                    ("output_watts", "900"),
                    ("runtime_hours", "4"),
                    ("fuel", "gasoline"),
                ]),
                ..Probe::default()
            },
            ("POST", "/institutions/{id}/power/units/{unit}") => Probe {
                payload: form(&[
                    ("kind", "portable_generator"),
                    ("label", &self.own[j].unit_label),
                    ("output_watts", "1600"),
                    ("runtime_hours", "8"),
                    ("fuel", "gasoline"),
                    ("lendable", "1"),
                ]),
                ..hidden(&self.own[j].unit_label)
            },
            ("POST", "/institutions/{id}/power/units/{unit}/retire") => Probe::default(),
            ("POST", "/institutions/{id}/power/rules") => Probe {
                payload: form(&[("rules", "平日9時〜17時に電話で依頼")]),
                ..Probe::default()
            },
            ("GET", "/institutions/{id}/power/borrow") => Probe::default(),
            ("POST", "/institutions/{id}/power/borrow") => Probe {
                payload: form(&[
                    ("device", "ventilator"),
                    ("watts", "300"),
                    ("starts_on", "2026-11-26"),
                    ("ends_on", "2026-11-28"),
                    ("unit", &o.lender_unit.to_string()),
                    ("contact", "訪問看護 山田 072-000-0000"),
                ]),
                ..Probe::default()
            },
            ("POST", "/power/lendings/{id}/decide") => Probe {
                payload: form(&[("decision", "decline"), ("reason", "燃料が足りないため")]),
                ..Probe::default()
            },
            ("POST", "/power/lendings/{id}/withdraw" | "/power/lendings/{id}/return") => {
                Probe::default()
            }
            ("GET", "/institutions/{id}/backup") => shown(&o.doctor),
            ("POST", "/institutions/{id}/backup") => Probe {
                payload: form(&[
                    ("doctor", &format!("記録 医師{n}")),
                    ("starts_on", "2026-12-14"),
                    ("ends_on", "2026-12-15"),
                    ("note", "急変時は携帯へ"),
                ]),
                ..Probe::default()
            },
            ("POST", "/backup/absences/{id}/cancel") => hidden(&o.doctor),
            ("POST", "/backup/absences/{id}/ask") => {
                let backup = o.spare_backups[n as usize % o.spare_backups.len()];
                Probe {
                    payload: form(&[("backup", &backup.to_string()), ("despite_away", "1")]),
                    ..hidden(&o.doctor)
                }
            }
            ("POST", "/backup/coverages/{id}/decide") => Probe {
                payload: form(&[("accept", "1")]),
                ..Probe::default()
            },
            ("POST", "/backup/coverages/{id}/withdraw") => Probe::default(),
            ("GET", "/institutions/{id}/conferences") => shown(&o.subject),
            ("POST", "/institutions/{id}/conferences") => Probe::default(),
            ("GET", "/conferences/{id}") => shown(&o.subject),
            ("GET", "/conferences/{id}/invite.ics") => hidden(&o.subject),
            ("POST", "/conferences/{id}/answer") => Probe::default(),
            ("POST", "/conferences/{id}/fix" | "/conferences/{id}/cancel") => hidden(&o.subject),
            ("GET", "/patients/{id}" | "/patients/{id}/summary") => shown(&o.patient_name),
            ("GET", "/patients/{id}/fhir.json" | "/patients/{id}/audit.json") => {
                hidden(&o.patient_name)
            }
            ("GET", "/patients/{id}/files/{file}") => Probe {
                shows: i == j,
                ..hidden("IHDR")
            },
            ("POST", "/patients/{id}/posts") => Probe {
                payload: form(&[("body", "本日訪問、経過良好")]),
                ..hidden(&o.patient_name)
            },
            ("POST", "/patients/{id}/consent") => Probe {
                payload: form(&[("consenter", "patient"), ("given_on", "2026-11-20")]),
                ..hidden(&o.patient_name)
            },
            ("POST", "/patients/{id}/consent/withdraw") => hidden(&o.patient_name),
            ("POST", "/patients/{id}/team") => Probe {
                payload: form(&[
                    ("institution", &o.invitee.0.to_string()),
                    ("user", &o.invitee.1.to_string()),
                    ("profession", "nurse"),
                ]),
                ..hidden(&o.patient_name)
            },
            ("POST", "/patients/{id}/team/{member}/remove") => hidden(&o.patient_name),
            ("POST", "/patients/{id}/break-glass") => hidden(&o.patient_name),
            ("POST", "/hub/patients/review/{id}") => hidden(&o.patient_name),
            (
                "GET",
                "/institutions/{id}/ict-evidence"
                | "/institutions/{id}/ict-evidence.csv"
                | "/institutions/{id}/ict-evidence.xlsx",
            ) => Probe::default(),
            ("POST", "/institutions/{id}/ict-evidence/special") => Probe {
                payload: form(&[
                    ("partner", &o.third[2].to_string()),
                    ("special", "1"),
                    ("month", "2026-11"),
                ]),
                ..Probe::default()
            },
            ("GET", "/institutions/{id}/beds") => shown(&o.beds_note),
            ("POST", "/institutions/{id}/beds") => Probe {
                payload: form(&[
                    ("respite_available", "1"),
                    ("respite_physical", "4"),
                    ("respite_conditions", &o.beds_note),
                    ("emergency_available", "1"),
                    ("emergency_physical", "3"),
                ]),
                ..hidden(&o.beds_note)
            },
            ("GET", "/rota/{id}") => shown(&o.rota_name),
            ("GET", "/rota/{id}/calendar.ics") => hidden(&o.rota_name),
            ("POST", "/rota/{id}/shifts") => Probe {
                payload: form(&[
                    ("member", &inst.to_string()),
                    ("slot", "night"),
                    ("day", &day(2026, 12, 1 + n % 28).to_string()),
                    ("month", "2026-12"),
                    ("doctor", "当番 医師"),
                ]),
                ..hidden(&o.rota_name)
            },
            ("POST", "/rota/{id}/shifts/{shift}/remove") => Probe {
                payload: form(&[("month", "2026-12")]),
                ..hidden(&o.rota_name)
            },
            ("POST", "/rota/{id}/members") => {
                let member = o.spare_members[n as usize % o.spare_members.len()];
                Probe {
                    payload: form(&[("institution", &member.to_string())]),
                    ..hidden(&o.rota_name)
                }
            }
            ("POST", "/rota/{id}/join" | "/rota/{id}/leave") => Probe::default(),
            // The case text is patient data: the prefecture's password-only role reads the
            // request without it (documented on the page: L8 of the security probe).
            ("GET", "/urgent/{id}") => Probe {
                withheld_from: &[Prefecture],
                ..shown(&o.condition)
            },
            ("GET", "/urgent/{id}/events" | "/institutions/{id}/urgent/events") => Probe::default(),
            ("GET", "/institutions/{id}/urgent") => hidden(&o.condition),
            ("POST", "/urgent/{id}/accept") => Probe::default(),
            ("POST", "/urgent/{id}/decline") => Probe {
                payload: form(&[("reason", "no_beds")]),
                ..Probe::default()
            },
            ("POST", "/urgent/{id}/cancel" | "/urgent/{id}/widen") => hidden(&o.condition),
            ("GET", "/institutions/{id}/urgent/new") => Probe::default(),
            ("POST", "/institutions/{id}/urgent/new") => Probe::default(),
            ("GET", "/institutions/{id}/bcp") => shown(&o.bcp_file),
            ("POST", "/institutions/{id}/bcp") => Probe {
                payload: form(&[("last_drill_on", "2026-10-01"), ("shared_with_hub", "1")]),
                ..hidden(&o.bcp_file)
            },
            ("POST", "/institutions/{id}/bcp/document") => Probe {
                payload: Some(Payload::Multipart(
                    Vec::new(),
                    vec![(
                        "file".into(),
                        format!("BCP改訂{n}.pdf"),
                        pdf(&format!("改訂{n}")),
                    )],
                )),
                ..hidden(&o.bcp_file)
            },
            ("POST", "/institutions/{id}/bcp/partners") => {
                let partner = o.spare_partners[n as usize % o.spare_partners.len()];
                Probe {
                    payload: form(&[("partner", &partner.to_string()), ("action", "add")]),
                    ..hidden(&o.bcp_file)
                }
            }
            ("GET", "/bcp/documents/{doc}") => shown(&o.bcp_text),
            (
                "GET",
                "/hub/safety/{id}"
                | "/hub/safety/{id}/summary"
                | "/hub/safety/{id}/cap.xml"
                | "/hub/safety/{id}/links",
            ) => shown(&o.check_title),
            ("GET", "/hub/safety/{id}/events") => Probe::default(),
            ("GET", "/hub/safety/{id}/export.csv" | "/hub/safety/{id}/export.xlsx") => {
                hidden(&o.check_title)
            }
            ("GET", "/hub/safety/{id}/targets/{target}/phone") => Probe {
                shows: i == j,
                ..hidden(&o.check_title)
            },
            (
                "POST",
                "/hub/safety/{id}/ledger"
                | "/hub/safety/{id}/remind"
                | "/hub/safety/{id}/close"
                | "/hub/safety/{id}/targets/{target}/remind",
            ) => Probe {
                settle: true,
                ..hidden(&o.check_title)
            },
            ("POST", "/hub/safety/{id}/targets/{target}/phone") => Probe {
                payload: form(&[
                    ("people", "safe"),
                    ("building", "intact"),
                    ("power", "grid"),
                    ("fuel_hours", ""),
                    ("water", "available"),
                    ("can_accept", "1"),
                    ("facility", "normal"),
                    ("emergency", "normal"),
                    ("operating", "available"),
                ]),
                settle: true,
                ..hidden(&o.check_title)
            },
            ("GET", "/ledger/{year}/{area}") => shown(&o.ledger_title),
            ("GET", "/ledger/{year}/{area}/item" | "/ledger/{year}/{area}/texts") => {
                Probe::default()
            }
            ("GET", "/ledger/{year}/{area}/item/{id}") => Probe {
                shows: i == j,
                ..hidden(&self.own[j].ledger_title)
            },
            ("POST", "/ledger/{year}/{area}/item") => Probe {
                payload: Some(Payload::Form(
                    self.item_fields(side, &format!("新規の研修会{n}")).await,
                )),
                ..Probe::default()
            },
            (
                "POST",
                "/ledger/{year}/{area}/item/{id}/delete" | "/ledger/{year}/{area}/item/{id}/move",
            ) => Probe::default(),
            // By now the safety checks recorded in the ledger have started next year's (this
            // fiscal year's), so the button has nothing left to create.
            ("POST", "/ledger/{year}/{area}/next-year") => Probe {
                quiet: true,
                ..Probe::default()
            },
            ("POST", "/ledger/{year}/{area}/texts") => {
                let url = format!("/ledger/2025/{area}/texts");
                let html = self.hubs[i].get(&url).await.body;
                Probe {
                    payload: Some(Payload::Form(form_fields(&html, &url))),
                    ..Probe::default()
                }
            }
            ("POST", "/hub/consultations/{id}/done") => Probe::default(),
            ("GET", "/events/{id}") => shown(&o.event_title),
            ("POST", "/events/{id}/register") => Probe {
                payload: form(&[
                    ("name", &format!("参加 {t}次郎{n}")),
                    ("organisation", ""),
                    ("profession", ""),
                    ("email", &format!("jiro{n}@example.jp")),
                ]),
                ..Probe::default()
            },
            ("GET", "/hub/events/{id}" | "/hub/events/{id}/registrations.csv") => {
                shown(&o.registrant)
            }
            ("POST", "/hub/events/{id}/attendance/{registration}") => Probe {
                payload: form(&[("attended", "1")]),
                ..hidden(&self.own[j].registrant)
            },
            ("POST", "/hub/events/{id}/survey") => Probe::default(),
            ("GET", "/hub/surveys/{id}" | "/hub/surveys/{id}/preview") => shown(&o.survey_title),
            ("GET", "/hub/surveys/{id}/results.xlsx") => Probe::default(),
            ("POST", "/hub/surveys/{id}/heading") => Probe {
                payload: form(&[
                    ("title", &o.survey_title),
                    ("intro", &format!("医師会まで（{n}）")),
                    ("closes_on", "2026-12-25"),
                ]),
                ..hidden(&o.survey_title)
            },
            ("POST", "/hub/surveys/{id}/questions") => Probe {
                payload: form(&[("kind", "text"), ("text", &format!("追加の質問{n}"))]),
                ..hidden(&o.survey_title)
            },
            ("POST", "/hub/surveys/{id}/questions/change") => Probe {
                payload: form(&[("n", "1"), ("action", "down")]),
                ..hidden(&o.survey_title)
            },
            ("POST", "/hub/surveys/{id}/send") => Probe {
                payload: Some(Payload::Form(vec![
                    ("institution".into(), o.inst.to_string()),
                    ("institution".into(), o.neighbour.to_string()),
                ])),
                ..hidden(&o.survey_title)
            },
            ("POST", "/hub/surveys/{id}/remind" | "/hub/surveys/{id}/ledger") => {
                hidden(&o.survey_title)
            }
            ("POST", "/hub/surveys/{id}/close") => Probe {
                payload: form(&[("closed", "1")]),
                ..hidden(&o.survey_title)
            },
            // Another user's plan answers as an unknown or expired one does (410); the
            // uploader's plan not applied yet sends back to the import page.
            ("GET", "/hub/import/{key}") => Probe {
                redirect: Some("/hub/import"),
                refusal: Some(StatusCode::GONE),
                ..Probe::default()
            },
            ("POST", "/hub/import/{key}/apply") => Probe {
                payload: form(&[("skip_bad_rows", "1")]),
                refusal: Some(StatusCode::GONE),
                ..Probe::default()
            },
            ("POST", "/hub/stale/{id}/remind") => Probe::default(),
            ("GET", "/institutions/{id}/edit") => Probe::default(),
            ("POST", "/institutions/{id}/edit") => {
                let url = format!("/institutions/{inst}/edit");
                let html = self.owners[i].get(&url).await.body;
                let fields = with(
                    form_fields(&html, &url),
                    "phone",
                    &format!("072-{:03}-{:04}", 200 + n % 700, n),
                );
                Probe {
                    payload: Some(Payload::Form(fields)),
                    ..Probe::default()
                }
            }
            ("POST", "/hub/changes/{id}/approve") => Probe::default(),
            ("POST", "/hub/changes/{id}/reject") => Probe {
                payload: form(&[("reason", "電話番号を確認してください")]),
                ..Probe::default()
            },
            (
                "POST",
                "/admin/users/{id}/disable"
                | "/admin/users/{id}/enable"
                | "/admin/users/{id}/reset-two-factor"
                | "/account/api-tokens/{id}/revoke",
            ) => Probe::default(),
            _ => panic!("no probe for {method} {path}"),
        };
        p.uri = self.uri(side, path, fresh, inner, n).await;
        // Forms read from the owner's page once the object exists.
        match (method, path) {
            ("POST", "/institutions/{id}/conferences") => {
                let url = format!("/institutions/{inst}/conferences");
                let html = self.owners[i].get(&url).await.body;
                let doctor = offered(&html, "clinic_doctor");
                p.payload = form(&[
                    ("subject", &format!("退院前の相談{t}{n}")),
                    ("place", "3階カンファレンス室"),
                    ("minutes", "45"),
                    ("slot0", "2026-12-03T14:00"),
                    (
                        "clinic_doctor",
                        &doctor.first().expect("a doctor offered").to_string(),
                    ),
                ]);
            }
            ("POST", "/conferences/{id}/answer") => {
                let id: i64 = p.uri.split('/').nth(2).unwrap().parse().unwrap();
                let c = self.w.store.conference(id).await.unwrap().unwrap();
                let invitee = c
                    .invitees
                    .iter()
                    .find(|v| v.institution_id == inst)
                    .unwrap()
                    .id;
                p.payload = Some(Payload::Form(
                    c.slots
                        .iter()
                        .map(|s| (format!("answer-{invitee}-{}", s.id), "yes".to_owned()))
                        .collect(),
                ));
            }
            ("POST", "/conferences/{id}/fix") => {
                let id: i64 = p.uri.split('/').nth(2).unwrap().parse().unwrap();
                let c = self.w.store.conference(id).await.unwrap().unwrap();
                p.payload = form(&[("slot", &c.slots[0].id.to_string())]);
            }
            ("POST", "/patients/{id}/break-glass") => {
                let id: i64 = p.uri.split('/').nth(2).unwrap().parse().unwrap();
                let name = self
                    .w
                    .store
                    .patient(id)
                    .await
                    .unwrap()
                    .unwrap()
                    .patient
                    .name;
                p.payload = form(&[
                    ("name", &name),
                    ("born", &self.own[i].born),
                    ("reason", "救急搬送時の既往歴の確認のため"),
                ]);
            }
            ("POST", "/institutions/{id}/urgent/new") => {
                let url = format!("/institutions/{inst}/urgent/new");
                let html = self.owners[i].get(&url).await.body;
                let place = form_fields(&html, &url)
                    .into_iter()
                    .find(|(k, _)| k == "place")
                    .map(|(_, v)| v)
                    .unwrap_or_default();
                p.payload = form(&[
                    ("kind", "respite_admission"),
                    ("age_band", "85_94"),
                    ("sex", "female"),
                    ("condition", "ALS、人工呼吸器なし。介護者の入院のため"),
                    ("needs", "喀痰吸引、胃ろう"),
                    ("place", &place),
                    ("contact", "訪問看護 山田 072-000-0000"),
                    ("routing", "nearest"),
                    ("ring_size", "2"),
                    ("escalate_minutes", "15"),
                    ("rings", "1"),
                ]);
            }
            ("POST", "/ledger/{year}/{area}/item/{id}/delete") => {
                p.payload = form(&[("revision", &self.revision(side).await.to_string())]);
            }
            ("POST", "/ledger/{year}/{area}/item/{id}/move") => {
                p.payload = form(&[
                    ("revision", &self.revision(side).await.to_string()),
                    ("direction", "down"),
                ]);
            }
            ("POST", "/hub/import/{key}/apply") if fresh => {
                p.import = Some(p.uri.split('/').nth(3).unwrap().to_owned());
            }
            _ => {}
        }
        p
    }

    /// The address of `side`'s object for the route (a fresh one when `fresh`).
    async fn uri(&mut self, side: Side, path: &str, fresh: bool, inner: Side, n: u32) -> String {
        let i = side.index();
        let j = inner.index();
        let o = &self.own[i];
        let inst = o.inst;
        let area = o.area.clone();
        let id = match path {
            "/power/lendings/{id}/decide" if fresh => self.lending_to_decide(side).await,
            "/power/lendings/{id}/decide" => o.lending_to_decide,
            "/power/lendings/{id}/withdraw" if fresh => self.lending_to_withdraw(side).await,
            "/power/lendings/{id}/withdraw" => o.lending_to_withdraw,
            "/power/lendings/{id}/return" if fresh => self.lending_to_return(side).await,
            "/power/lendings/{id}/return" => o.lending_to_return,
            "/backup/absences/{id}/cancel" if fresh => {
                self.absence(inst, &format!("取消 医師{n}"), &[]).await
            }
            "/backup/absences/{id}/cancel" | "/backup/absences/{id}/ask" => o.absence,
            "/backup/coverages/{id}/decide" if fresh => self.coverage_to_decide(side).await,
            "/backup/coverages/{id}/decide" => o.coverage_to_decide,
            "/backup/coverages/{id}/withdraw" if fresh => self.coverage_to_withdraw(side).await,
            "/backup/coverages/{id}/withdraw" => o.coverage_to_withdraw,
            "/conferences/{id}/fix" | "/conferences/{id}/cancel" if fresh => {
                self.conference(side).await
            }
            "/conferences/{id}" | "/conferences/{id}/fix" | "/conferences/{id}/cancel" => {
                o.conference
            }
            "/conferences/{id}/invite.ics" => o.fixed_conference,
            "/conferences/{id}/answer" => o.invited_conference,
            "/patients/{id}/break-glass" if fresh => {
                let name = format!("救急 {}男{n}", side.tag());
                self.patient(side, &name).await
            }
            "/hub/patients/review/{id}" if fresh => self.glass(side).await,
            "/hub/patients/review/{id}" => o.glass,
            "/rota/{id}/join" if fresh => self.rota_invited(side).await,
            "/rota/{id}/join" => o.rota_invited,
            "/rota/{id}/leave" if fresh => self.rota_leavable(side).await,
            "/rota/{id}/leave" => o.rota_leavable,
            "/urgent/{id}/accept" | "/urgent/{id}/decline" if fresh => {
                self.urgent_received(side).await
            }
            "/urgent/{id}/accept" | "/urgent/{id}/decline" => o.urgent_received,
            "/urgent/{id}/cancel" | "/urgent/{id}/widen" if fresh => self.urgent_sent(side).await,
            "/hub/safety/{id}/ledger" | "/hub/safety/{id}/close" if fresh => {
                let title = format!("追加の訓練{n}");
                self.check(side, &title).await
            }
            "/hub/consultations/{id}/done" if fresh => self.consultation(side).await,
            "/hub/consultations/{id}/done" => o.consultation,
            "/hub/surveys/{id}/send" if fresh => self.survey(side, false).await,
            "/hub/surveys/{id}/close" if fresh => self.survey(side, true).await,
            "/hub/surveys/{id}"
            | "/hub/surveys/{id}/preview"
            | "/hub/surveys/{id}/heading"
            | "/hub/surveys/{id}/questions"
            | "/hub/surveys/{id}/questions/change"
            | "/hub/surveys/{id}/send" => o.draft_survey,
            "/hub/surveys/{id}/results.xlsx"
            | "/hub/surveys/{id}/remind"
            | "/hub/surveys/{id}/close"
            | "/hub/surveys/{id}/ledger" => o.sent_survey,
            "/hub/changes/{id}/approve" | "/hub/changes/{id}/reject" if fresh => {
                self.change(side).await
            }
            "/hub/changes/{id}/approve" | "/hub/changes/{id}/reject" => o.change,
            "/admin/users/{id}/enable" if fresh => self.user(side, true).await,
            "/admin/users/{id}/enable" => o.disabled_user,
            "/admin/users/{id}/disable" | "/admin/users/{id}/reset-two-factor" if fresh => {
                self.user(side, false).await
            }
            "/admin/users/{id}/disable" | "/admin/users/{id}/reset-two-factor" => o.target_user,
            "/account/api-tokens/{id}/revoke" if fresh => self.token(side).await,
            "/account/api-tokens/{id}/revoke" => o.token,
            _ => 0,
        };
        let o = &self.own[i];
        let p = |rest: &str| rest.replace("{id}", &id.to_string());
        match path {
            "/areas/{code}" => format!("/areas/{area}"),
            "/areas/{code}/map" => format!("/areas/{area}/map"),
            "/fhir/{kind}/{id}" => format!("/fhir/Organization/{inst}"),
            "/fhir/MeasureReport/{id}" => format!("/fhir/MeasureReport/2025-{area}"),
            "/institutions/{id}/power/units/{unit}" => {
                format!("/institutions/{inst}/power/units/{}", self.own[j].unit)
            }
            "/institutions/{id}/power/units/{unit}/retire" => {
                let unit = if fresh {
                    self.unit(inst, &format!("廃止機{n}")).await
                } else {
                    self.own[j].unit
                };
                format!("/institutions/{inst}/power/units/{unit}/retire")
            }
            "/patients/{id}/files/{file}" => {
                format!("/patients/{}/files/{}", o.patient, self.own[j].file)
            }
            "/patients/{id}/team/{member}/remove" => {
                let member = if fresh {
                    self.member(side).await
                } else {
                    self.own[j].member
                };
                format!("/patients/{}/team/{member}/remove", self.own[i].patient)
            }
            "/patients/{id}/break-glass" if fresh => format!("/patients/{id}/break-glass"),
            p2 if p2.starts_with("/patients/{id}") => p2.replace("{id}", &o.patient.to_string()),
            "/rota/{id}/shifts/{shift}/remove" => {
                let shift = if fresh {
                    self.shift(side).await
                } else {
                    self.own[j].shift
                };
                format!("/rota/{}/shifts/{shift}/remove", self.own[i].rota)
            }
            "/rota/{id}"
            | "/rota/{id}/calendar.ics"
            | "/rota/{id}/shifts"
            | "/rota/{id}/members" => path.replace("{id}", &o.rota.to_string()),
            "/urgent/{id}/cancel" | "/urgent/{id}/widen" if fresh => p(path),
            "/urgent/{id}"
            | "/urgent/{id}/events"
            | "/urgent/{id}/cancel"
            | "/urgent/{id}/widen" => path.replace("{id}", &o.urgent.to_string()),
            "/bcp/documents/{doc}" => format!("/bcp/documents/{}", o.bcp_doc),
            "/hub/safety/{id}/ledger" | "/hub/safety/{id}/close" if fresh => p(path),
            "/hub/safety/{id}/targets/{target}/remind" => format!(
                "/hub/safety/{}/targets/{}/remind",
                o.check, self.own[j].target_remind
            ),
            "/hub/safety/{id}/targets/{target}/phone" => format!(
                "/hub/safety/{}/targets/{}/phone",
                o.check, self.own[j].target_phone
            ),
            p2 if p2.starts_with("/hub/safety/{id}") => p2.replace("{id}", &o.check.to_string()),
            "/ledger/{year}/{area}/item/{id}/delete" => {
                let item = if fresh {
                    self.ledger_item(side).await
                } else {
                    self.own[j].ledger_item.clone()
                };
                format!("/ledger/2025/{area}/item/{item}/delete")
            }
            p2 if p2.starts_with("/ledger/{year}/{area}") => p2
                .replace("{year}", "2025")
                .replace("{area}", &area)
                .replace("{id}", &self.own[j].ledger_item),
            "/events/{id}" | "/events/{id}/register" => path.replace("{id}", &o.event.to_string()),
            "/hub/events/{id}/attendance/{registration}" => format!(
                "/hub/events/{}/attendance/{}",
                o.event, self.own[j].registration
            ),
            p2 if p2.starts_with("/hub/events/{id}") => p2.replace("{id}", &o.event.to_string()),
            "/hub/import/{key}/apply" => {
                let key = if fresh {
                    self.import(side).await
                } else {
                    self.own[i].import_key.clone()
                };
                format!("/hub/import/{key}/apply")
            }
            "/hub/import/{key}" => format!("/hub/import/{}", o.import_key),
            "/hub/stale/{id}/remind" => format!("/hub/stale/{inst}/remind"),
            p2 if p2.starts_with("/institutions/{id}") => p2.replace("{id}", &inst.to_string()),
            _ => p(path),
        }
    }

    // --- The walk ------------------------------------------------------------------------

    fn fail(&mut self, message: String) {
        self.failures.push(message);
    }

    /// One actor tries one probe; the reply is judged against what the table allows.
    async fn attempt(
        &mut self,
        actor: usize,
        side: Side,
        method: &str,
        path: &str,
        p: &Probe,
        allowed: bool,
    ) {
        self.checks += 1;
        let rel = relation(self.actors[actor].who, side);
        let before = self.mark().await;
        let app = self.w.app.clone();
        let csrf = self.actors[actor].csrf.clone();
        let reply = call(
            &app,
            &mut self.actors[actor].cookies,
            &csrf,
            method,
            &p.uri,
            p.payload.as_ref(),
        )
        .await;
        if allowed && method == "POST" {
            if p.settle {
                self.settle().await;
            }
            if let Some(key) = &p.import {
                self.imported(side, key).await;
                self.settle().await;
            }
        }
        let written = self.written_since(before).await;
        let what = format!(
            "{} ({rel:?}) {method} {} [{path}, side {side:?}] → {} {}",
            self.actors[actor].label, p.uri, reply.status, reply.location
        );
        let leaked = p
            .secret
            .as_deref()
            .is_some_and(|s| !s.is_empty() && reply.body.contains(s));
        let refused = if rel == Anonymous {
            reply.to_login() || reply.status == StatusCode::UNAUTHORIZED
        } else {
            reply.status == StatusCode::FORBIDDEN
                || reply.status == StatusCode::NOT_FOUND
                || Some(reply.status) == p.refusal
        };
        let redirected = p
            .redirect
            .is_some_and(|to| reply.status == StatusCode::SEE_OTHER && reply.location == to);
        // RENKEI_OWNERSHIP_TRACE=1 lists every attempt with what it wrote.
        if std::env::var_os("RENKEI_OWNERSHIP_TRACE").is_some() {
            eprintln!("TRACE {allowed} {what} wrote {written:?}");
        }
        if reply.status.is_server_error() {
            self.fail(format!("server error: {what}: {}", reply.body));
            return;
        }
        match (allowed, method) {
            (true, "GET") => {
                if reply.status != StatusCode::OK && !redirected {
                    self.fail(format!("should read: {what}"));
                } else if p.withheld_from.contains(&rel) {
                    if leaked {
                        self.fail(format!("reads, but must not see {:?}: {what}", p.secret));
                    }
                } else if p.shows && !redirected && !leaked {
                    self.fail(format!(
                        "read, but the reply lacks the object ({:?}): {what}",
                        p.secret
                    ));
                }
            }
            (true, _) => {
                if !matches!(reply.status, StatusCode::OK | StatusCode::SEE_OTHER)
                    || reply.to_login()
                {
                    self.fail(format!("should change: {what}: {}", excerpt(&reply.body)));
                } else if written.is_empty() && !p.quiet {
                    self.fail(format!("allowed, but nothing was written: {what}"));
                }
            }
            (false, _) => {
                if !refused {
                    self.fail(format!("should be refused: {what}"));
                }
                if leaked {
                    self.fail(format!(
                        "a refusal shows the object ({:?}): {what}",
                        p.secret
                    ));
                }
                if !written.is_empty() {
                    self.fail(format!("refused, yet wrote {written:?}: {what}"));
                }
            }
        }
    }

    /// Waits until the import applied by the side's coordinator is written.
    async fn imported(&mut self, side: Side, key: &str) {
        let progress = format!("/hub/import/{key}");
        for _ in 0..500 {
            let page = self.hubs[side.index()].get(&progress).await;
            if page.status != StatusCode::OK {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the import did not finish");
    }
}

fn excerpt(body: &str) -> String {
    let text: String = body.chars().take(600).collect();
    text.replace('\n', " ")
}

async fn every_object_answers_only_those_it_belongs_to(db: TestDb) {
    let started = std::time::Instant::now();
    let mut s = Scenario::build(&db).await;
    let built = started.elapsed();
    let table = routes::table(&AppState::new(db.store.clone(), WebConfig::default()));
    let parametric: Vec<_> = table.iter().filter(|r| r.path.contains('{')).collect();
    for rule in &parametric {
        assert!(
            expected(rule.method, rule.path).is_some(),
            "route {} {} takes a parameter but has no expectation in this test",
            rule.method,
            rule.path
        );
    }
    for (method, path) in CROSSED {
        assert!(
            parametric
                .iter()
                .any(|r| r.method == *method && r.path == *path),
            "{method} {path} is not a route"
        );
    }
    let walked: Vec<(&'static str, &'static str, &'static [Rel])> = parametric
        .iter()
        .filter_map(|r| match expected(r.method, r.path) {
            Some(Expect::Only(who)) => Some((r.method, r.path, who)),
            _ => None,
        })
        .collect();
    let actors = s.actors.len();

    // Reading first, while every object is as it was made.
    for (method, path, who) in walked.iter().filter(|(m, ..)| *m == "GET") {
        for side in [Side::A, Side::B] {
            let p = s.probe(side, method, path, false, side).await;
            for a in 0..actors {
                let allowed = who.contains(&relation(s.actors[a].who, side));
                s.attempt(a, side, method, path, &p, allowed).await;
            }
        }
    }

    // One's own outer object with the other side's inner one: refused, and nothing changes.
    for (method, path) in CROSSED {
        let Some(Expect::Only(who)) = expected(method, path) else {
            unreachable!()
        };
        for side in [Side::A, Side::B] {
            let p = s.probe(side, method, path, false, side.other()).await;
            for a in 0..actors {
                if who.contains(&relation(s.actors[a].who, side)) {
                    s.attempt(a, side, method, path, &p, false).await;
                }
            }
        }
    }

    // Changing: each actor with a valid form; an allowed action that spends its object gets a
    // fresh one.
    for (method, path, who) in walked.iter().filter(|(m, ..)| *m == "POST") {
        for side in [Side::A, Side::B] {
            for a in 0..actors {
                let allowed = who.contains(&relation(s.actors[a].who, side));
                let p = s
                    .probe(side, method, path, allowed && spends(path), side)
                    .await;
                s.attempt(a, side, method, path, &p, allowed).await;
            }
        }
    }

    let routes_walked = walked.len();
    eprintln!(
        "{routes_walked} object routes ({} of the table's {} parametric ones; the rest name no \
         object or are opened by their link), {actors} actors, {} checks; built in {built:?}, \
         walked in {:?}",
        routes_walked,
        parametric.len(),
        s.checks,
        started.elapsed() - built
    );
    assert!(
        s.failures.is_empty(),
        "{} of {} checks failed:\n{}",
        s.failures.len(),
        s.checks,
        s.failures.join("\n")
    );
}

both_backends!(every_object_answers_only_those_it_belongs_to);
