//! Accounts and security through the real router on both engines: login with password and TOTP,
//! throttling, sessions, CSRF, enrolment, the route table walked with every role, the audit log.

mod common;

use axum::http::{header, StatusCode};
use common::*;
use renkei_domain::accounts::{AccountRole, Email, OrganisationKind};
use renkei_domain::totp;
use renkei_testkit::{both_backends, TestDb};
use renkei_web::auth::secrets::hash_password;
use renkei_web::{routes, AppState, WebConfig};

async fn password_and_totp_login_reaches_the_coordinators_page(db: TestDb) {
    let w = world(&db).await;
    let mut b = Browser::new(&w.app);
    let r = b.get("/hub").await;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, "/login?next=/hub")
    );
    let r = b
        .post(
            "/login?next=/hub",
            "/login",
            vec![
                ("email", " HUB_COORDINATOR@example.jp ".into()),
                ("password", PASSWORD.into()),
                ("next", "/hub".into()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        r.location().starts_with("/login/two-factor"),
        "{}",
        r.location()
    );
    // Half logged in: other pages send back to the second factor.
    assert_eq!(b.get("/hub").await.location(), "/login/two-factor");
    let wrong = b.code_step("000000").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("コードが正しくない"));
    let code = totp::code_at(SECRET, w.now_unix());
    let r = b
        .post(
            "/login/two-factor",
            "/login/two-factor",
            vec![("code", code.clone()), ("next", "/hub".into())],
        )
        .await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/hub"));
    let hub = b.get("/hub").await;
    assert_eq!(hub.status, StatusCode::OK);
    assert!(
        hub.body.contains("data-testid=\"hub-row-yao\""),
        "the coordinator sees their area"
    );
    assert!(
        !hub.body.contains("hub-row-kashiwara"),
        "and only their area"
    );

    // The same code cannot be used twice, even in another login.
    let mut other = Browser::new(&w.app);
    other
        .password_step(email_of(AccountRole::HubCoordinator))
        .await;
    let replay = other.code_step(code).await;
    assert_eq!(
        replay.status,
        StatusCode::UNAUTHORIZED,
        "a used TOTP step is refused"
    );
    // A recovery code works once.
    let r = other.code_step("aaaaa bbbbb").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let mut third = Browser::new(&w.app);
    third
        .password_step(email_of(AccountRole::HubCoordinator))
        .await;
    let again = third.code_step("AAAAA-BBBBB").await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);

    let audit = w
        .store
        .audit_entries(&renkei_store::audit::AuditFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.contains(&"login.password")
            && actions.contains(&"login.success")
            && actions.contains(&"login.second_factor_failure")
    );
}

async fn wrong_passwords_and_unknown_accounts_look_alike_and_are_throttled(db: TestDb) {
    let w = world(&db).await;
    let mut b = Browser::new(&w.app);
    let wrong = b
        .post(
            "/login",
            "/login",
            vec![
                ("email", email_of(AccountRole::PrefectureViewer)),
                ("password", "not the password".into()),
            ],
        )
        .await;
    let unknown = b
        .post(
            "/login",
            "/login",
            vec![
                ("email", "nobody@example.jp".into()),
                ("password", "not the password".into()),
            ],
        )
        .await;
    assert_eq!(
        (wrong.status, unknown.status),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    let strip = |s: &str, email: &str| {
        s.replace(email, "")
            .replace(&csrf_in(s).unwrap_or_default(), "")
    };
    assert_eq!(
        strip(&wrong.body, &email_of(AccountRole::PrefectureViewer)),
        strip(&unknown.body, "nobody@example.jp")
    );
    assert!(wrong
        .body
        .contains("メールアドレスまたはパスワードが正しくありません"));

    for _ in 0..4 {
        b.post(
            "/login",
            "/login",
            vec![
                ("email", email_of(AccountRole::PrefectureViewer)),
                ("password", "nope".into()),
            ],
        )
        .await;
    }
    let locked = b
        .password_step(email_of(AccountRole::PrefectureViewer))
        .await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(locked.body.contains("しばらく待って"));
    let unknown_locked = {
        for _ in 0..5 {
            b.post(
                "/login",
                "/login",
                vec![
                    ("email", "ghost@example.jp".into()),
                    ("password", "nope".into()),
                ],
            )
            .await;
        }
        b.post(
            "/login",
            "/login",
            vec![
                ("email", "ghost@example.jp".into()),
                ("password", "nope".into()),
            ],
        )
        .await
    };
    assert_eq!(
        unknown_locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "unknown accounts are throttled the same way"
    );
    w.clock.advance(chrono::Duration::seconds(31));
    let ok = b
        .password_step(email_of(AccountRole::PrefectureViewer))
        .await;
    assert_eq!(
        (ok.status, ok.location()),
        (StatusCode::SEE_OTHER, "/"),
        "after the backoff the right password works"
    );
}

async fn sessions_expire_and_end_when_the_user_is_disabled(db: TestDb) {
    let w = world(&db).await;
    let mut viewer = w.login(&email_of(AccountRole::PrefectureViewer)).await;
    assert_eq!(viewer.get("/account").await.status, StatusCode::OK);
    w.clock.advance(chrono::Duration::minutes(31));
    let expired = viewer.get("/account").await;
    assert_eq!(expired.location(), "/login?next=/account", "idle timeout");

    let mut viewer = w.login(&email_of(AccountRole::PrefectureViewer)).await;
    for _ in 0..37 {
        w.clock.advance(chrono::Duration::minutes(20));
        if viewer.get("/account").await.status != StatusCode::OK {
            break;
        }
    }
    assert_eq!(
        viewer.get("/account").await.status,
        StatusCode::SEE_OTHER,
        "absolute lifetime of 12 hours"
    );

    let mut viewer = w.login(&email_of(AccountRole::PrefectureViewer)).await;
    let mut admin = w.login(&email_of(AccountRole::SystemAdmin)).await;
    let target = user_id(&w.store, AccountRole::PrefectureViewer).await;
    let r = admin
        .post(
            "/admin/users",
            &format!("/admin/users/{}/disable", target.0),
            vec![],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        viewer.get("/account").await.status,
        StatusCode::SEE_OTHER,
        "a disabled user's session ends at once"
    );
    let r = viewer
        .password_step(email_of(AccountRole::PrefectureViewer))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "and cannot log in");
    let me = user_id(&w.store, AccountRole::SystemAdmin).await;
    let self_disable = admin
        .post(
            "/admin/users",
            &format!("/admin/users/{}/disable", me.0),
            vec![],
        )
        .await;
    assert_eq!(self_disable.status, StatusCode::BAD_REQUEST);

    let mut b = Browser::new(&w.app);
    b.cookies
        .push(("renkei_session".into(), "forged-or-tampered-token".into()));
    let r = b.get("/account").await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "a tampered cookie is just not a session"
    );
    assert!(r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("renkei_session=;")));
}

async fn forms_without_the_csrf_token_are_refused(db: TestDb) {
    let w = world(&db).await;
    let mut b = w.login(&email_of(AccountRole::PrefectureViewer)).await;
    let no_token = b.send("POST", "/logout", Some(vec![])).await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    assert!(no_token.body.contains("フォームの有効期限が切れました"));
    let forged = b
        .send(
            "POST",
            "/logout",
            Some(vec![("csrf_token", "0".repeat(64))]),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        b.get("/account").await.status,
        StatusCode::OK,
        "still logged in"
    );
    let ok = b.post("/account", "/logout", vec![]).await;
    assert_eq!((ok.status, ok.location()), (StatusCode::SEE_OTHER, "/"));
    assert_eq!(
        b.get("/account").await.status,
        StatusCode::SEE_OTHER,
        "logged out"
    );

    let mut anon = Browser::new(&w.app);
    let login_csrf = anon
        .send(
            "POST",
            "/login",
            Some(vec![
                ("email", "x@example.jp".into()),
                ("password", "y".into()),
            ]),
        )
        .await;
    assert_eq!(
        login_csrf.status,
        StatusCode::FORBIDDEN,
        "the login form is protected too"
    );
    let denied = w
        .store
        .audit_entries(&renkei_store::audit::AuditFilter {
            action_prefix: Some("csrf.".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(denied.len(), 3);

    let big = "x".repeat(3 * 1024 * 1024);
    let huge = anon
        .send("POST", "/login", Some(vec![("email", big)]))
        .await;
    assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE);
}

async fn a_required_second_factor_is_enrolled_at_first_login(db: TestDb) {
    let w = world(&db).await;
    let hash = hash_password(PASSWORD).unwrap();
    let org = w
        .store
        .ensure_organisation(OrganisationKind::Institution, "テスト診療所", None, None)
        .await
        .unwrap();
    let user = w
        .store
        .create_user(
            &Email::parse("new.nurse@example.jp").unwrap(),
            "新人 看護師",
            Some(&hash),
        )
        .await
        .unwrap();
    w.store
        .add_membership(user, org, AccountRole::InstitutionStaff)
        .await
        .unwrap();

    let mut b = Browser::new(&w.app);
    let r = b.password_step("new.nurse@example.jp").await;
    assert_eq!(r.location(), "/account/two-factor");
    assert_eq!(
        b.get("/account").await.location(),
        "/account/two-factor",
        "nothing else until enrolled"
    );
    let setup = b.get("/account/two-factor").await;
    assert!(setup.body.contains("<svg"), "QR code rendered by Renkei");
    let secret = setup
        .body
        .split("data-testid=\"totp-secret\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .replace(' ', "");
    let secret = totp::base32_decode(&secret).unwrap();
    let wrong = b
        .post(
            "/account/two-factor",
            "/account/two-factor",
            vec![("code", "123456".into())],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let html = wrong.body.clone();
    let token = csrf_in(&html).unwrap();
    let code = totp::code_at(&secret, w.now_unix());
    let done = b
        .send(
            "POST",
            "/account/two-factor",
            Some(vec![("code", code), ("csrf_token", token)]),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(
        done.body.matches("<li><code>").count(),
        10,
        "ten recovery codes shown once"
    );
    assert_eq!(
        b.get("/account").await.status,
        StatusCode::OK,
        "fully logged in now"
    );
    assert!(w.store.user(user).await.unwrap().unwrap().totp_enabled);
    let cannot = b
        .post(
            "/account",
            "/account/two-factor/disable",
            vec![("password", PASSWORD.into())],
        )
        .await;
    assert_eq!(
        cannot.status,
        StatusCode::FORBIDDEN,
        "staff may not turn the second factor off"
    );
}

async fn passwords_change_only_with_the_current_one_and_by_the_policy(db: TestDb) {
    let w = world(&db).await;
    let mut b = w.login(&email_of(AccountRole::PrefectureViewer)).await;
    let mut other_device = w.login(&email_of(AccountRole::PrefectureViewer)).await;
    let r = b
        .post(
            "/account",
            "/account/password",
            vec![
                ("current", "wrong".into()),
                ("new", "a much longer passphrase here".into()),
                ("confirm", "a much longer passphrase here".into()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("現在のパスワードが正しくありません"));
    let r = b
        .post(
            "/account",
            "/account/password",
            vec![
                ("current", PASSWORD.into()),
                ("new", "password1234".into()),
                ("confirm", "password1234".into()),
            ],
        )
        .await;
    assert!(
        r.body.contains("推測されやすい"),
        "common passwords refused"
    );
    let r = b
        .post(
            "/account",
            "/account/password",
            vec![
                ("current", PASSWORD.into()),
                ("new", "八尾の朝は在宅医療の連携から".into()),
                ("confirm", "八尾の朝は在宅医療の連携から".into()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("パスワードを変更しました"));
    assert_eq!(
        other_device.get("/account").await.status,
        StatusCode::SEE_OTHER,
        "other devices logged out"
    );
    assert_eq!(
        b.get("/account").await.status,
        StatusCode::OK,
        "this one stays"
    );
}

/// Who may use which route: written here independently of the code's rules, so a new route or a
/// changed rule fails until this table is updated on purpose.
fn expected_access(method: &str, path: &str) -> Option<&'static [Who]> {
    use Who::*;
    const EVERYONE: &[Who] = &[Public, Admin, Coordinator, InstAdmin, Staff, Prefecture];
    const SIGNED_IN: &[Who] = &[Admin, Coordinator, InstAdmin, Staff, Prefecture];
    Some(match (method, path) {
        (
            "GET",
            "/" | "/areas/{code}" | "/areas/{code}/map" | "/lang/{lang}" | "/healthz" | "/metrics"
            | "/static/{*file}" | "/login",
        ) => EVERYONE,
        ("POST", "/login") => EVERYONE,
        (
            "GET",
            "/directory" | "/directory.csv" | "/directory.xlsx" | "/directory.geojson"
            | "/institutions/{id}",
        ) => EVERYONE,
        ("GET" | "POST", "/confirm/{token}") => EVERYONE,
        ("GET", "/api/v1/directory/near" | "/api/openapi.json") => EVERYONE,
        // The FHIR directory is public and read-only.
        (
            "GET",
            "/fhir/metadata" | "/fhir/{kind}" | "/fhir/{kind}/_history" | "/fhir/{kind}/{id}",
        ) => EVERYONE,
        // Its search by POST reads only (no CSRF token needed, none checked).
        ("GET" | "POST", "/fhir/{kind}/_search") => EVERYONE,
        ("GET", "/fhir/Measure/renkei-hub-report") => EVERYONE,
        // Safety checks: the response link needs no login; the hub's side is for coordinators
        // (acting) and the prefecture (reading).
        ("GET" | "POST", "/r/{token}" | "/r/{token}/details") => EVERYONE,
        ("GET", "/r/{token}/done") => EVERYONE,
        (
            "GET",
            "/hub/safety"
            | "/hub/safety/{id}"
            | "/hub/safety/{id}/events"
            | "/hub/safety/{id}/export.csv"
            | "/hub/safety/{id}/export.xlsx"
            | "/hub/safety/{id}/cap.xml"
            | "/hub/safety/{id}/summary",
        ) => &[Admin, Coordinator, Prefecture],
        ("GET", "/hub/safety/new" | "/hub/safety/{id}/links") => &[Admin, Coordinator],
        ("GET", "/hub/readiness" | "/hub/readiness.csv") => &[Admin, Coordinator, Prefecture],
        (
            "POST",
            "/hub/safety"
            | "/hub/safety/{id}/remind"
            | "/hub/safety/{id}/close"
            | "/hub/safety/{id}/ledger"
            | "/hub/safety/{id}/targets/{target}/remind",
        ) => &[Admin, Coordinator],
        ("GET" | "POST", "/hub/safety/{id}/targets/{target}/phone") => &[Admin, Coordinator],
        ("GET", "/fhir/MeasureReport" | "/fhir/MeasureReport/{id}") => {
            &[Admin, Coordinator, Prefecture]
        }
        // Staff may edit only their own institution's entry; the walked id belongs to nobody,
        // so only the administrator gets past the handler (staff editing: tests/mail.rs).
        ("GET" | "POST", "/institutions/{id}/edit") => &[Admin],
        // An entry's disaster baseline: its staff edit, its area's coordinators and the
        // prefecture read (the walked id belongs to nobody: they get "not found").
        ("GET" | "POST", "/institutions/{id}/readiness") => &[Admin, Coordinator, Prefecture],
        // Emergency power and the BCP registry: read like the baseline; only the institution's
        // own staff (none for the walked id) and the administrator act.
        ("GET", "/institutions/{id}/power" | "/institutions/{id}/bcp") => {
            &[Admin, Coordinator, Prefecture]
        }
        (
            "GET" | "POST",
            "/institutions/{id}/power/units"
            | "/institutions/{id}/power/units/{unit}"
            | "/institutions/{id}/power/units/{unit}/retire"
            | "/institutions/{id}/power/rules"
            | "/institutions/{id}/power/borrow"
            | "/institutions/{id}/bcp"
            | "/institutions/{id}/bcp/document"
            | "/institutions/{id}/bcp/partners",
        ) => &[Admin],
        // A lending that does not exist is "not found" to every institution's staff.
        (
            "POST",
            "/power/lendings/{id}/decide"
            | "/power/lendings/{id}/withdraw"
            | "/power/lendings/{id}/return",
        ) => &[Admin, InstAdmin, Staff],
        ("GET", "/hub/power") => &[Admin, Coordinator, Prefecture],
        // Urgent requests: the entry sends staff to their institution's list (the walked staff
        // belong to none, so they are refused) and hubs to theirs; a request that does not
        // exist is "not found" to everyone signed in; an institution's list reads like its
        // baseline, and only its own staff (none for the walked id) send requests.
        ("GET", "/urgent" | "/hub/urgent") => &[Admin, Coordinator, Prefecture],
        ("POST", "/hub/urgent/ledger") => &[Admin, Coordinator],
        ("GET", "/urgent/{id}" | "/urgent/{id}/events") => SIGNED_IN,
        (
            "POST",
            "/urgent/{id}/accept"
            | "/urgent/{id}/decline"
            | "/urgent/{id}/cancel"
            | "/urgent/{id}/widen",
        ) => &[InstAdmin, Staff],
        ("GET", "/institutions/{id}/urgent" | "/institutions/{id}/urgent/events") => {
            &[Admin, Coordinator, Prefecture]
        }
        ("GET" | "POST", "/institutions/{id}/urgent/new") => &[],
        // Rotas: every signed-in user has a list (empty when they belong to no group); only
        // institution staff create groups (the walked staff belong to no institution); a
        // group that does not exist is "not found" to everyone.
        // The bed board is for everyone signed in; an institution's beds read like its
        // baseline and only its own staff (none for the walked id) save them.
        // Backup while away: an institution's page reads like its baseline; only its own
        // staff record absences; an absence or request that does not exist is "not found".
        ("GET", "/institutions/{id}/backup") => &[Admin, Coordinator, Prefecture],
        ("POST", "/institutions/{id}/backup") => &[],
        (
            "POST",
            "/backup/absences/{id}/cancel"
            | "/backup/absences/{id}/ask"
            | "/backup/coverages/{id}/decide"
            | "/backup/coverages/{id}/withdraw",
        ) => &[InstAdmin, Staff],
        ("GET", "/hub/backup") => &[Admin, Coordinator, Prefecture],
        // The consultation window: notes for the area's coordinators only; figures for the
        // prefecture and the administrator too.
        (
            "GET" | "POST",
            "/hub/consultations" | "/hub/consultations.csv" | "/hub/consultations.xlsx",
        ) => &[Coordinator],
        ("POST", "/hub/consultations/{id}/done" | "/hub/consultations/ledger") => &[Coordinator],
        ("GET", "/hub/consultations/stats") => &[Admin, Coordinator, Prefecture],
        // Events: the calendar and registration are public; the hub's side is the area's
        // coordinators'.
        ("GET", "/events" | "/events/{id}" | "/events/registration/{token}") => EVERYONE,
        ("POST", "/events/{id}/register" | "/events/registration/{token}") => EVERYONE,
        (
            "GET" | "POST",
            "/hub/events"
            | "/hub/events/{id}"
            | "/hub/events/{id}/registrations.csv"
            | "/hub/events/{id}/attendance/{registration}"
            | "/hub/events/ledger",
        ) => &[Coordinator],
        // Surveys: the hub's side is the area's coordinators'; the answer form opens by its
        // signed link alone (a made-up one is "not found").
        (
            "GET" | "POST",
            "/hub/surveys"
            | "/hub/surveys/{id}"
            | "/hub/surveys/{id}/heading"
            | "/hub/surveys/{id}/questions"
            | "/hub/surveys/{id}/questions/change"
            | "/hub/surveys/{id}/send"
            | "/hub/surveys/{id}/preview"
            | "/hub/surveys/{id}/remind"
            | "/hub/surveys/{id}/close"
            | "/hub/surveys/{id}/results.xlsx"
            | "/hub/surveys/{id}/ledger"
            | "/hub/events/{id}/survey",
        ) => &[Coordinator],
        ("GET" | "POST", "/surveys/answer/{token}") => EVERYONE,
        // Care-team sharing: a second factor is required (the prefecture's test account has
        // none); a patient that does not exist is "not found" to everyone else; only
        // institution staff register (the walked staff belong to no institution); only
        // coordinators break the glass.
        ("GET", "/patients" | "/patients/{id}") => &[Admin, Coordinator, InstAdmin, Staff],
        (
            "GET",
            "/patients/{id}/fhir.json"
            | "/patients/{id}/audit.json"
            | "/patients/{id}/summary"
            | "/patients/{id}/files/{file}",
        ) => &[InstAdmin, Staff],
        // The 在宅医療情報連携加算 evidence: only the institution's own staff (the walked
        // staff belong to none, so they get "not found").
        (
            "GET",
            "/institutions/{id}/ict-evidence"
            | "/institutions/{id}/ict-evidence.csv"
            | "/institutions/{id}/ict-evidence.xlsx",
        ) => &[InstAdmin, Staff],
        ("POST", "/institutions/{id}/ict-evidence/special") => &[InstAdmin, Staff],
        ("GET" | "POST", "/patients/new") => &[],
        (
            "POST",
            "/patients/{id}/posts"
            | "/patients/{id}/consent"
            | "/patients/{id}/consent/withdraw"
            | "/patients/{id}/team"
            | "/patients/{id}/team/{member}/remove",
        ) => &[InstAdmin, Staff],
        ("POST", "/patients/{id}/break-glass" | "/hub/patients/review/{id}") => &[Coordinator],
        ("GET" | "POST", "/hub/patients") => &[Coordinator],
        // Discharge conferences: an institution's list reads like its baseline; only its own
        // staff propose; a conference that does not exist is "not found".
        ("GET", "/institutions/{id}/conferences") => &[Admin, Coordinator, Prefecture],
        ("POST", "/institutions/{id}/conferences") => &[],
        ("GET", "/conferences/{id}" | "/conferences/{id}/invite.ics") => SIGNED_IN,
        (
            "POST",
            "/conferences/{id}/answer" | "/conferences/{id}/fix" | "/conferences/{id}/cancel",
        ) => &[InstAdmin, Staff],
        ("GET", "/beds") => SIGNED_IN,
        ("GET", "/institutions/{id}/beds") => &[Admin, Coordinator, Prefecture],
        ("POST", "/institutions/{id}/beds") => &[],
        ("GET", "/rota") => SIGNED_IN,
        ("POST", "/rota") => &[],
        ("GET", "/rota/{id}" | "/rota/{id}/calendar.ics") => SIGNED_IN,
        (
            "POST",
            "/rota/{id}/shifts"
            | "/rota/{id}/shifts/{shift}/remove"
            | "/rota/{id}/members"
            | "/rota/{id}/join"
            | "/rota/{id}/leave",
        ) => &[InstAdmin, Staff],
        ("GET", "/bcp/documents/{doc}") => SIGNED_IN,
        ("GET", "/hub/changes") => &[Admin, Coordinator],
        ("POST", "/hub/changes/{id}/approve" | "/hub/changes/{id}/reject") => &[Admin, Coordinator],
        ("GET", "/hub/stale") => &[Admin, Coordinator],
        ("POST", "/hub/stale/{id}/remind") => &[Admin, Coordinator],
        ("GET" | "POST", "/hub/import") => &[Admin, Coordinator],
        ("POST", "/hub/import/{key}/apply") => &[Admin, Coordinator],
        ("GET", "/hub/import/{key}") => &[Admin, Coordinator],
        ("GET", "/ledger/{year}/{area}") => &[Admin, Coordinator, Prefecture],
        ("GET" | "POST", "/ledger/{year}/{area}/item" | "/ledger/{year}/{area}/texts") => {
            &[Coordinator]
        }
        ("GET", "/ledger/{year}/{area}/item/{id}") => &[Coordinator],
        (
            "POST",
            "/ledger/{year}/{area}/item/{id}/delete"
            | "/ledger/{year}/{area}/item/{id}/move"
            | "/ledger/{year}/{area}/next-year",
        ) => &[Coordinator],
        (
            "GET",
            "/ledger"
            | "/ledger/{year}/report"
            | "/ledger/{year}/report.html"
            | "/ledger/{year}/report.xlsx"
            | "/ledger/{year}/report.md"
            | "/ledger/{year}/compare",
        ) => &[Admin, Coordinator, Prefecture],
        // The login's own steps: a signed-in user is sent on (to the home or account page).
        ("GET" | "POST", "/login/two-factor") => SIGNED_IN,
        ("POST", "/logout") => SIGNED_IN,
        ("GET", "/account" | "/account/two-factor") => SIGNED_IN,
        (
            "POST",
            "/account/password"
            | "/account/logout-everywhere"
            | "/account/two-factor"
            | "/account/two-factor/disable"
            | "/account/two-factor/replace"
            | "/account/two-factor/replace/confirm",
        ) => SIGNED_IN,
        ("GET", "/api/v1/me") => SIGNED_IN,
        ("POST", "/account/api-tokens" | "/account/api-tokens/{id}/revoke") => SIGNED_IN,
        ("GET", "/hub") => &[Admin, Coordinator, Prefecture],
        ("GET", "/admin/users" | "/admin/audit" | "/admin/audit.csv" | "/admin/outbox") => &[Admin],
        ("GET" | "POST", "/password/forgot" | "/password/reset/{token}" | "/invite/{token}") => {
            EVERYONE
        }
        ("POST", "/invitations") => &[Admin, Coordinator, InstAdmin],
        ("GET", "/institution") => &[InstAdmin, Staff],
        (
            "POST",
            "/admin/users/{id}/disable"
            | "/admin/users/{id}/enable"
            | "/admin/users/{id}/reset-two-factor"
            | "/admin/policy",
        ) => &[Admin],
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Public,
    Admin,
    Coordinator,
    InstAdmin,
    Staff,
    Prefecture,
}

fn concrete(path: &str) -> String {
    path.replace("{code}", "yao")
        .replace("{lang}", "ja")
        .replace("{*file}", "vendor/leaflet.js")
        .replace("{kind}", "Organization")
        .replace("{key}", "00")
        .replace("{year}", "2025")
        .replace("{area}", "yao")
        .replace("{id}", "999999")
        .replace("{target}", "999999")
        .replace("{unit}", "999999")
        .replace("{doc}", "999999")
        .replace("{shift}", "999999")
        .replace("{member}", "999999")
        .replace("{file}", "999999")
        .replace("{registration}", "999999")
        .replace("{token}", &"0".repeat(64))
}

async fn every_route_answers_each_role_as_declared(db: TestDb) {
    let w = world(&db).await;
    let table = routes::table(&AppState::new(db.store.clone(), WebConfig::default()));
    for rule in &table {
        assert!(
            expected_access(rule.method, rule.path).is_some(),
            "route {} {} has no expectation in this test",
            rule.method,
            rule.path
        );
    }
    let who = [
        (Who::Public, None),
        (Who::Admin, Some(AccountRole::SystemAdmin)),
        (Who::Coordinator, Some(AccountRole::HubCoordinator)),
        (Who::InstAdmin, Some(AccountRole::InstitutionAdmin)),
        (Who::Staff, Some(AccountRole::InstitutionStaff)),
        (Who::Prefecture, Some(AccountRole::PrefectureViewer)),
    ];
    for (person, role) in who {
        for rule in &table {
            // Fresh login per route, so logging out or changing state cannot leak into the next.
            let mut b = match role {
                Some(role) => w.login(&email_of(role)).await,
                None => Browser::new(&w.app),
            };
            let uri = concrete(rule.path);
            let reply = if rule.method == "GET" {
                b.get(&uri).await
            } else {
                let form_page = if role.is_some() { "/account" } else { "/login" };
                b.post(form_page, &uri, vec![("code", "000000".into())])
                    .await
            };
            let allowed = expected_access(rule.method, rule.path)
                .unwrap()
                .contains(&person);
            // The guard sends to `/login?next=…`; handlers may send to `/login` themselves (logout).
            let to_login = reply.status == StatusCode::SEE_OTHER
                && reply.location().starts_with("/login?next=");
            let refused = reply.status == StatusCode::FORBIDDEN
                || reply.status == StatusCode::UNAUTHORIZED
                    && renkei_web::auth::access::is_machine_path(&uri);
            let what = format!(
                "{person:?} {} {} → {} {}",
                rule.method,
                uri,
                reply.status,
                reply.location()
            );
            assert!(!reply.status.is_server_error(), "{what}");
            if allowed {
                assert!(!refused && !to_login, "should be allowed: {what}");
            } else if person == Who::Public {
                assert!(
                    to_login || reply.status == StatusCode::UNAUTHORIZED,
                    "anonymous should be sent to login: {what}"
                );
            } else {
                assert_eq!(
                    reply.status,
                    StatusCode::FORBIDDEN,
                    "should be forbidden: {what}"
                );
            }
            if rule.path.starts_with("/api/") && !allowed {
                assert!(
                    reply.headers[header::CONTENT_TYPE]
                        .to_str()
                        .unwrap()
                        .starts_with("application/json"),
                    "API errors are JSON: {what}"
                );
            }
            if rule.path.starts_with("/fhir/") && !allowed {
                assert!(
                    reply.body.contains("\"OperationOutcome\""),
                    "FHIR refusals are OperationOutcomes: {what}"
                );
            }
        }
    }
    let denials = w
        .store
        .audit_entries(&renkei_store::audit::AuditFilter {
            action_prefix: Some("access.denied".into()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!denials.is_empty(), "denials are audited");
}

/// The routes a half-logged-in session may reach besides the public ones: written here, apart
/// from the code's rules, so a route that admits a login state by mistake fails.
fn login_step_routes(state: LoginState) -> &'static [(&'static str, &'static str)] {
    match state {
        LoginState::SecondFactorOwed => &[
            ("GET", "/login/two-factor"),
            ("POST", "/login/two-factor"),
            ("POST", "/logout"),
        ],
        LoginState::EnrolmentOwed => &[
            ("GET", "/account/two-factor"),
            ("POST", "/account/two-factor"),
            ("POST", "/logout"),
        ],
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum LoginState {
    SecondFactorOwed,
    EnrolmentOwed,
}

/// Every route of the table, walked in each half-logged-in state (password accepted, second
/// factor owed; password accepted, enrolment owed): only the public routes and that state's own
/// step answer; everything else sends the session to its step (or refuses a program). With
/// the role walk above, every route is tried in every session state.
async fn every_route_answers_each_login_state_as_declared(db: TestDb) {
    let w = world(&db).await;
    // A staff member of a clinic whose role requires a second factor, not enrolled yet.
    let clinic = w
        .store
        .ensure_organisation(OrganisationKind::Institution, "未登録の診療所", None, None)
        .await
        .unwrap();
    let fresh = w
        .store
        .create_user(
            &Email::parse("not-enrolled@example.jp").unwrap(),
            "未登録",
            Some(&hash_password(PASSWORD).unwrap()),
        )
        .await
        .unwrap();
    w.store
        .add_membership(fresh, clinic, AccountRole::InstitutionStaff)
        .await
        .unwrap();
    let table = routes::table(&AppState::new(db.store.clone(), WebConfig::default()));
    for state in [LoginState::SecondFactorOwed, LoginState::EnrolmentOwed] {
        let (email, step_page) = match state {
            LoginState::SecondFactorOwed => {
                (email_of(AccountRole::HubCoordinator), "/login/two-factor")
            }
            LoginState::EnrolmentOwed => {
                ("not-enrolled@example.jp".to_owned(), "/account/two-factor")
            }
        };
        for rule in &table {
            let mut b = Browser::new(&w.app);
            let r = b.password_step(email.clone()).await;
            assert!(
                r.status == StatusCode::SEE_OTHER && r.location().starts_with(step_page),
                "{state:?}: the password step leads to {step_page}: {} {}",
                r.status,
                r.location()
            );
            let uri = concrete(rule.path);
            let reply = if rule.method == "GET" {
                b.get(&uri).await
            } else {
                b.post(step_page, &uri, vec![("code", "000000".into())])
                    .await
            };
            let what = format!(
                "{state:?} {} {} → {} {}",
                rule.method,
                uri,
                reply.status,
                reply.location()
            );
            assert!(!reply.status.is_server_error(), "{what}");
            let public = expected_access(rule.method, rule.path)
                .unwrap()
                .contains(&Who::Public);
            let own_step = login_step_routes(state).contains(&(rule.method, rule.path));
            let sent_to_step =
                reply.status == StatusCode::SEE_OTHER && reply.location().starts_with(step_page);
            let machine = renkei_web::auth::access::is_machine_path(&uri);
            if public || own_step {
                assert!(!sent_to_step || own_step, "should be reachable: {what}");
                assert!(
                    !reply.location().starts_with("/login?next="),
                    "should be reachable: {what}"
                );
            } else if machine {
                assert!(
                    reply.status == StatusCode::UNAUTHORIZED
                        || reply.status == StatusCode::FORBIDDEN,
                    "programs are refused: {what}"
                );
            } else {
                assert!(sent_to_step, "should be sent to {step_page}: {what}");
            }
            assert!(
                !reply.body.contains("data-testid=\"totp-secret\"")
                    || state == LoginState::EnrolmentOwed,
                "no secret is ever shown to a session that owes its second factor: {what}"
            );
        }
    }
}

async fn the_audit_page_verifies_filters_and_exports(db: TestDb) {
    let w = world(&db).await;
    let mut admin = w.login(&email_of(AccountRole::SystemAdmin)).await;
    let page = admin.get("/admin/audit?action=login.").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("data-testid=\"audit-ok\""));
    assert!(page.body.contains("login.success"));
    let csv = admin.get("/admin/audit.csv?action=login.").await;
    assert!(csv.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(csv.body.starts_with('\u{feff}'), "BOM for Excel");
    assert!(csv.body.contains("login.success"));
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE audit_log SET target = 'edited' WHERE seq = 1")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let page = admin.get("/admin/audit").await;
    assert!(
        page.body.contains("data-testid=\"audit-broken\""),
        "tampering is shown to the administrator"
    );
}

async fn api_tokens_are_scoped_and_revocable(db: TestDb) {
    let w = world(&db).await;
    let mut b = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let created = b
        .post(
            "/account",
            "/account/api-tokens",
            vec![("name", "集計システム".into()), ("read", "1".into())],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let token = created
        .body
        .split("data-testid=\"new-token\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    assert!(token.starts_with("rk_"));
    let call = |method: &'static str, token: String| {
        let app = w.app.clone();
        async move {
            use tower::ServiceExt;
            let request = axum::http::Request::builder()
                .method(method)
                .uri("/api/v1/me")
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap();
            app.oneshot(request).await.unwrap().status()
        }
    };
    assert_eq!(
        call("GET", token.clone()).await,
        StatusCode::OK,
        "a read token reads"
    );
    // The API has no write operation yet: a POST is refused as a method the path does not
    // take (405, before any scope is looked at), never carried out.
    assert_eq!(
        call("POST", token.clone()).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "and writes nothing"
    );
    assert_eq!(
        call("GET", "rk_forged".into()).await,
        StatusCode::UNAUTHORIZED
    );
    let tokens = w
        .store
        .api_tokens_of(user_id(&w.store, AccountRole::HubCoordinator).await)
        .await
        .unwrap();
    let revoke = b
        .post(
            "/account",
            &format!("/account/api-tokens/{}/revoke", tokens[0].id),
            vec![],
        )
        .await;
    assert_eq!(revoke.status, StatusCode::SEE_OTHER);
    assert_eq!(
        call("GET", token).await,
        StatusCode::UNAUTHORIZED,
        "revoked at once"
    );
    let other = w.login(&email_of(AccountRole::PrefectureViewer)).await;
    let mut other = other;
    let steal = other
        .post(
            "/account",
            &format!("/account/api-tokens/{}/revoke", tokens[0].id),
            vec![],
        )
        .await;
    assert_eq!(
        steal.status,
        StatusCode::NOT_FOUND,
        "nobody revokes another user's token"
    );
}

async fn malformed_requests_get_a_japanese_page_not_a_framework_message(db: TestDb) {
    let w = world(&db).await;
    let mut admin = w.login(&email_of(AccountRole::SystemAdmin)).await;
    let missing = admin
        .post(
            "/account",
            "/account/password",
            vec![("current", "x".into())],
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        missing.body.contains("入力内容を確認してください"),
        "{}",
        missing.body
    );
    let path = admin
        .post("/admin/users", "/admin/users/not-a-number/disable", vec![])
        .await;
    assert_eq!(path.status, StatusCode::BAD_REQUEST);
    assert!(path.body.contains("入力内容を確認してください"));
    let english = admin
        .post("/admin/users", "/admin/users/abc/disable?lang=en", vec![])
        .await;
    assert!(english.body.contains("Please check your input"));
}

async fn the_api_answers_json(db: TestDb) {
    let w = world(&db).await;
    let mut anon = Browser::new(&w.app);
    let r = anon.get("/api/v1/me").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("\"error\""));
    let mut b = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let r = b.get("/api/v1/me").await;
    let json: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(json["email"], "hub_coordinator@example.jp");
    assert_eq!(json["memberships"][0]["role"], "hub_coordinator");
}

both_backends!(
    password_and_totp_login_reaches_the_coordinators_page,
    wrong_passwords_and_unknown_accounts_look_alike_and_are_throttled,
    sessions_expire_and_end_when_the_user_is_disabled,
    forms_without_the_csrf_token_are_refused,
    a_required_second_factor_is_enrolled_at_first_login,
    passwords_change_only_with_the_current_one_and_by_the_policy,
    every_route_answers_each_role_as_declared,
    every_route_answers_each_login_state_as_declared,
    the_audit_page_verifies_filters_and_exports,
    the_api_answers_json,
    api_tokens_are_scoped_and_revocable,
    malformed_requests_get_a_japanese_page_not_a_framework_message,
);
