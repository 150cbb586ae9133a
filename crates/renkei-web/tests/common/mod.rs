//! Helpers of the router tests: a cookie-keeping browser, a world with one user per role and a
//! controllable clock.
#![allow(dead_code)]

pub mod fhir_validator;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use chrono::{TimeZone, Utc};
use http_body_util::BodyExt;
use renkei_domain::accounts::{AccountRole, Email, OrganisationKind, UserId};
use renkei_domain::region::RegionDefinition;
use renkei_domain::{totp, towns};
use renkei_store::Store;
use renkei_testkit::TestDb;
use renkei_web::auth::secrets::hash_password;
use renkei_web::clock::ManualClock;
use renkei_web::mail::Mailer;
use renkei_web::{router, AppState, WebConfig};
use std::sync::Arc;
use tower::ServiceExt;

pub const PASSWORD: &str = "correct horse battery staple";
pub const SECRET: &[u8] = b"0123456789abcdefghij";

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(|c| {
                c.split(';')
                    .next()
                    .unwrap_or("")
                    .trim_start_matches(&format!("{name}="))
                    .to_owned()
            })
    }
}

/// A browser: keeps cookies, reads the CSRF token from pages.
pub struct Browser {
    pub app: Router,
    pub cookies: Vec<(String, String)>,
    /// The socket address the server sees (none: as `oneshot` sends it, without one).
    pub peer: Option<std::net::SocketAddr>,
    /// Extra headers sent with every request (a proxy's `X-Forwarded-For`).
    pub extra_headers: Vec<(&'static str, String)>,
}

impl Browser {
    pub fn new(app: &Router) -> Self {
        Self {
            app: app.clone(),
            cookies: Vec::new(),
            peer: None,
            extra_headers: Vec::new(),
        }
    }

    /// A browser whose requests come from `ip`.
    pub fn from_address(app: &Router, ip: &str) -> Self {
        let mut b = Self::new(app);
        b.peer = Some(std::net::SocketAddr::new(ip.parse().unwrap(), 40000));
        b
    }

    pub async fn send(
        &mut self,
        method: &str,
        uri: &str,
        form: Option<Vec<(&str, String)>>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header(header::COOKIE, jar.join("; "));
        }
        let body = match form {
            Some(fields) => {
                request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(serde_urlencoded::to_string(&fields).unwrap())
            }
            None => Body::empty(),
        };
        for (name, value) in &self.extra_headers {
            request = request.header(*name, value.as_str());
        }
        let mut request = request.body(body).unwrap();
        if let Some(peer) = self.peer {
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
        }
        let response = self.app.clone().oneshot(request).await.unwrap();
        let reply = Reply {
            status: response.status(),
            headers: response.headers().clone(),
            // Lossy: downloads such as the Excel export are binary.
            body: String::from_utf8_lossy(
                &response.into_body().collect().await.unwrap().to_bytes(),
            )
            .into_owned(),
        };
        for name in ["renkei_session", "renkei_csrf", "renkei_device"] {
            if let Some(value) = reply.cookie(name) {
                self.cookies.retain(|(k, _)| k != name);
                if !value.is_empty() {
                    self.cookies.push((name.to_owned(), value));
                }
            }
        }
        reply
    }

    pub async fn get(&mut self, uri: &str) -> Reply {
        self.send("GET", uri, None).await
    }

    /// Submits the login form with the test password.
    pub async fn password_step(&mut self, email: impl Into<String>) -> Reply {
        self.try_password(email, PASSWORD).await
    }

    /// Submits the login form with `password`.
    pub async fn try_password(&mut self, email: impl Into<String>, password: &str) -> Reply {
        self.post(
            "/login",
            "/login",
            vec![("email", email.into()), ("password", password.into())],
        )
        .await
    }

    /// Submits a second-factor code.
    pub async fn code_step(&mut self, code: impl Into<String>) -> Reply {
        self.post(
            "/login/two-factor",
            "/login/two-factor",
            vec![("code", code.into())],
        )
        .await
    }

    /// Posts a form with the CSRF token of the page at `page` (or of the last page seen).
    pub async fn post(&mut self, page: &str, uri: &str, mut fields: Vec<(&str, String)>) -> Reply {
        let html = self.get(page).await.body;
        let token = csrf_in(&html).unwrap_or_default();
        fields.push(("csrf_token", token));
        self.send("POST", uri, Some(fields)).await
    }
}

impl Browser {
    /// Uploads `bytes` as the form field `file` (multipart, with the CSRF token of `page` first,
    /// as the upload form sends it).
    pub async fn upload(&mut self, page: &str, uri: &str, file_name: &str, bytes: &[u8]) -> Reply {
        self.multipart(page, uri, Vec::new(), vec![("file", file_name, bytes)])
            .await
    }

    /// Posts a multipart form: the CSRF token of `page`, the text `fields`, then the `files`
    /// as (field, file name, bytes), as a browser's form with file inputs sends them.
    pub async fn multipart(
        &mut self,
        page: &str,
        uri: &str,
        fields: Vec<(&str, String)>,
        files: Vec<(&str, &str, &[u8])>,
    ) -> Reply {
        let html = self.get(page).await.body;
        let token = csrf_in(&html).unwrap_or_default();
        let boundary = "----renkei-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        let mut text = |name: &str, value: &str| {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
            );
        };
        text("csrf_token", &token);
        for (name, value) in &fields {
            text(name, value);
        }
        for (name, file_name, bytes) in files {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let jar: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let request = Request::builder()
            .method("POST")
            .uri(uri)
            .header(header::COOKIE, jar.join("; "))
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        Reply {
            status: response.status(),
            headers: response.headers().clone(),
            body: String::from_utf8_lossy(
                &response.into_body().collect().await.unwrap().to_bytes(),
            )
            .into_owned(),
        }
    }

    /// A GET whose body is kept as bytes (files).
    pub async fn get_bytes(&mut self, uri: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let jar: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let request = Request::builder()
            .uri(uri)
            .header(header::COOKIE, jar.join("; "))
            .body(Body::empty())
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        (status, headers, bytes)
    }
}

pub fn csrf_in(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf_token\" value=\"")? + "name=\"csrf_token\" value=\"".len();
    Some(html[at..].split('"').next()?.to_owned())
}

pub struct World {
    pub app: Router,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub store: Store,
}

impl World {
    pub fn now_unix(&self) -> u64 {
        u64::try_from(renkei_web::clock::Clock::now(&*self.clock).timestamp()).unwrap()
    }

    /// Logs in with password and TOTP; moves the clock past the step so the next login gets a
    /// fresh code.
    pub async fn login(&self, email: &str) -> Browser {
        let mut b = Browser::new(&self.app);
        let r = b
            .post(
                "/login",
                "/login",
                vec![
                    ("email", email.to_owned()),
                    ("password", PASSWORD.to_owned()),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{email}: {}", r.body);
        if r.location().starts_with("/login/two-factor") {
            let code = totp::code_at(SECRET, self.now_unix());
            let r = b
                .post(
                    "/login/two-factor",
                    "/login/two-factor",
                    vec![("code", code)],
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::SEE_OTHER,
                "{email} second factor: {}",
                r.body
            );
        }
        self.clock.advance(chrono::Duration::seconds(31));
        b
    }
}

pub async fn world(db: &TestDb) -> World {
    world_with(db, Mailer::new(None)).await
}

/// A world whose mail goes through `mailer`.
pub async fn world_with(db: &TestDb, mailer: Mailer) -> World {
    world_with_config(db, mailer, WebConfig::default()).await
}

/// A world with these settings (trusted proxies and the like).
pub async fn world_with_config(db: &TestDb, mailer: Mailer, config: WebConfig) -> World {
    db.store
        .ensure_region(&RegionDefinition::nakakawachi(), &towns::towns().unwrap())
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 25, 1, 0, 0).unwrap(),
    ));
    let state = AppState::new(db.store.clone(), config)
        .with_clock(clock.clone())
        .with_mailer(mailer);
    let hash = hash_password(PASSWORD).unwrap();
    let orgs = [
        (
            AccountRole::SystemAdmin,
            db.store
                .ensure_organisation(OrganisationKind::System, "運用", None, None)
                .await
                .unwrap(),
        ),
        (
            AccountRole::HubCoordinator,
            db.store
                .ensure_organisation(OrganisationKind::Hub, "八尾市医師会", Some("yao"), None)
                .await
                .unwrap(),
        ),
        (
            AccountRole::InstitutionAdmin,
            db.store
                .ensure_organisation(OrganisationKind::Institution, "テスト診療所", None, None)
                .await
                .unwrap(),
        ),
        (
            AccountRole::InstitutionStaff,
            db.store
                .ensure_organisation(OrganisationKind::Institution, "テスト診療所", None, None)
                .await
                .unwrap(),
        ),
        (
            AccountRole::PrefectureViewer,
            db.store
                .ensure_organisation(OrganisationKind::Prefecture, "大阪府", None, None)
                .await
                .unwrap(),
        ),
    ];
    for (role, org) in orgs {
        let email = Email::parse(&format!("{}@example.jp", role.code())).unwrap();
        let user = db
            .store
            .create_user(&email, role.label_ja(), Some(&hash))
            .await
            .unwrap();
        db.store.add_membership(user, org, role).await.unwrap();
        if role != AccountRole::PrefectureViewer {
            db.store
                .set_pending_totp(user, &totp::base32_encode(SECRET))
                .await
                .unwrap();
            db.store
                .confirm_totp(
                    user,
                    0,
                    &[renkei_web::auth::secrets::recovery_code_hash("AAAAA-BBBBB")],
                )
                .await
                .unwrap();
        }
    }
    World {
        app: router(state.clone()),
        state,
        clock,
        store: db.store.clone(),
    }
}

pub fn email_of(role: AccountRole) -> String {
    format!("{}@example.jp", role.code())
}

pub async fn user_id(store: &Store, role: AccountRole) -> UserId {
    store
        .user_by_email(&Email::parse(&email_of(role)).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
}

/// A world whose directory holds the demo region's institutions.
pub async fn world_with_demo_directory(db: &TestDb) -> World {
    let w = world(db).await;
    let region = RegionDefinition::nakakawachi();
    let all = renkei_domain::demo::institutions(
        &region,
        &towns::towns().unwrap(),
        &towns::postcodes().unwrap(),
    )
    .unwrap();
    db.store.insert_institutions(&all).await.unwrap();
    w
}

/// A user with `role` at the institution (with the test password and TOTP secret).
pub async fn member_of(
    w: &World,
    institution: i64,
    name: &str,
    email: &str,
    display: &str,
    role: AccountRole,
) {
    let kind = renkei_domain::accounts::OrganisationKind::Institution;
    let org = w
        .store
        .ensure_organisation(kind, name, None, Some(institution))
        .await
        .unwrap();
    let hash = renkei_web::auth::secrets::hash_password(PASSWORD).unwrap();
    let user = w
        .store
        .create_user(&Email::parse(email).unwrap(), display, Some(&hash))
        .await
        .unwrap();
    w.store.add_membership(user, org, role).await.unwrap();
    w.store
        .set_pending_totp(user, &renkei_domain::totp::base32_encode(SECRET))
        .await
        .unwrap();
    w.store.confirm_totp(user, 0, &[]).await.unwrap();
}

/// Creates a drill due in two hours as `coordinator`, reaching `targeting` (form fields such as
/// `("area", "yao")`, `("kind", "clinic")`); returns the check's id.
pub async fn create_drill(
    w: &World,
    coordinator: &mut Browser,
    title: &str,
    targeting: Vec<(&'static str, String)>,
) -> i64 {
    let deadline = (renkei_web::clock::Clock::now(&*w.clock) + chrono::Duration::hours(2))
        .with_timezone(&renkei_domain::japan::jst())
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let mut fields = vec![
        ("check_kind", "drill".to_owned()),
        ("title", title.to_owned()),
        ("deadline", deadline),
    ];
    fields.extend(targeting);
    let created = coordinator
        .post("/hub/safety/new", "/hub/safety", fields)
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    created
        .location()
        .trim_start_matches("/hub/safety/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The demo directory's located institutions of `kind` (a kind code) in `areas`.
pub async fn located(
    w: &World,
    kind: &str,
    areas: &[&str],
) -> Vec<renkei_store::safety::Reachable> {
    let areas: Vec<String> = areas.iter().map(|a| (*a).to_owned()).collect();
    let mut all = w
        .store
        .safety_reachable(
            &renkei_domain::safety::Targeting {
                kinds: vec![kind.to_owned()],
                ..Default::default()
            },
            &areas,
        )
        .await
        .unwrap();
    all.retain(|c| c.point.is_some());
    all
}
