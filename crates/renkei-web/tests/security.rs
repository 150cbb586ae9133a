//! The findings of the outside security probe (`../shared/reviews/security-probe.md`), each
//! reproduced through the real router on both engines as the probe did it, and now refused:
//! C1 (second factor re-bound from the password step), H2 (second-factor guessing from many
//! addresses), L5 (racing the throttle), M3 (open redirect through a TAB), M4 (throttling
//! keyed on the proxy, and lockouts of the owner), L4 (API tokens outliving a password change)
//! and L7 (a login carrying a dead session cookie).

mod common;

use axum::http::StatusCode;
use common::*;
use renkei_domain::accounts::AccountRole;
use renkei_domain::totp;
use renkei_testkit::{both_backends, TestDb};
use renkei_web::mail::Mailer;
use renkei_web::WebConfig;

const STAFF: AccountRole = AccountRole::InstitutionStaff;

async fn audit_actions(w: &World, prefix: &str) -> Vec<(String, String)> {
    w.store
        .audit_entries(&renkei_store::audit::AuditFilter {
            action_prefix: Some(prefix.into()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.outcome))
        .collect()
}

async fn mails_to(w: &World, to: &str) -> Vec<String> {
    w.store
        .recent_mails(200)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.to_address == to)
        .map(|m| m.subject)
        .collect()
}

/// A new read token made on the account page, as shown once.
async fn new_api_token(b: &mut Browser, name: &str) -> String {
    let page = b
        .post(
            "/account",
            "/account/api-tokens",
            vec![("name", name.into()), ("read", "on".into())],
        )
        .await;
    page.body
        .split("data-testid=\"new-token\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned()
}

/// C1: with the password alone, the enrolment form neither shows a new secret nor completes
/// the login; the victim's own authenticator still works.
async fn a_password_alone_cannot_rebind_the_second_factor(db: TestDb) {
    let w = world(&db).await;
    let victim = email_of(STAFF);
    let mut attacker = Browser::new(&w.app);
    let r = attacker.password_step(victim.clone()).await;
    assert!(
        r.location().starts_with("/login/two-factor"),
        "{}",
        r.location()
    );
    // The probe's reproduction: a wrong code to the enrolment form, then the code of the
    // secret it showed.
    let r = attacker
        .post(
            "/login/two-factor",
            "/account/two-factor",
            vec![("code", "000000".into())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(
        r.location().starts_with("/login/two-factor"),
        "{}",
        r.location()
    );
    assert!(!r.body.contains("totp-secret"), "no secret is shown");
    let r = attacker.get("/account/two-factor").await;
    assert!(r.location().starts_with("/login/two-factor"));
    assert!(!r.body.contains("totp-secret"));
    let credentials = w
        .store
        .credentials_by_id(user_id(&w.store, STAFF).await)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        credentials.totp_pending_secret, None,
        "no new secret was made"
    );
    for page in ["/patients", "/account", "/institution"] {
        let r = attacker.get(page).await;
        assert!(
            r.location().starts_with("/login/two-factor"),
            "{page}: {}",
            r.location()
        );
    }
    // The victim's authenticator still logs in.
    let mut owner = Browser::new(&w.app);
    owner.password_step(victim.clone()).await;
    let r = owner.code_step(totp::code_at(SECRET, w.now_unix())).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(owner.get("/patients").await.status, StatusCode::OK);
    assert!(!audit_actions(&w, "two_factor.enrol")
        .await
        .iter()
        .any(|(_, outcome)| outcome == "ok"));
}

/// C1, second half: a signed-in session (perhaps hijacked) cannot re-bind the factor without
/// the password and a current code; with them it can, and the owner is mailed, every other
/// session and API token ends, and the audit log names the replacement.
async fn replacing_the_second_factor_needs_the_password_and_a_current_code(db: TestDb) {
    let w = world(&db).await;
    let email = email_of(STAFF);
    let mut other_device = w.login(&email).await;
    let mut b = w.login(&email).await;
    let token = new_api_token(&mut b, "連携システム").await;
    // The first-enrolment form refuses an account that has a factor.
    let r = b
        .post(
            "/account",
            "/account/two-factor",
            vec![("code", "000000".into())],
        )
        .await;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, "/account")
    );
    // Without the password, or without a current code: refused, nothing shown.
    for (password, code) in [
        ("wrong password", totp::code_at(SECRET, w.now_unix())),
        (PASSWORD, "000000".to_owned()),
    ] {
        let r = b
            .post(
                "/account",
                "/account/two-factor/replace",
                vec![("password", password.into()), ("code", code)],
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(!r.body.contains("totp-secret"));
    }
    // With both: a new secret to scan, confirmed by its own code.
    let r = b
        .post(
            "/account",
            "/account/two-factor/replace",
            vec![
                ("password", PASSWORD.into()),
                ("code", totp::code_at(SECRET, w.now_unix())),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let secret: String = r
        .body
        .split("data-testid=\"totp-secret\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let new_secret = totp::base32_decode(&secret).unwrap();
    let r = b
        .post(
            "/account",
            "/account/two-factor/replace/confirm",
            vec![("code", totp::code_at(&new_secret, w.now_unix()))],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("リカバリー") || r.body.contains("recovery"));
    assert_eq!(
        b.get("/account").await.status,
        StatusCode::OK,
        "this one stays"
    );
    assert_eq!(
        other_device.get("/account").await.status,
        StatusCode::SEE_OTHER,
        "other sessions ended"
    );
    let api = renkei_web::router(w.state.clone());
    let mut machine = Browser::new(&api);
    machine
        .extra_headers
        .push(("authorization", format!("Bearer {token}")));
    assert_eq!(
        machine.get("/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED,
        "API tokens revoked"
    );
    assert!(mails_to(&w, &email)
        .await
        .iter()
        .any(|s| s.contains("二要素認証を変更しました")));
    assert!(audit_actions(&w, "two_factor.replace")
        .await
        .contains(&("two_factor.replace".to_owned(), "ok".to_owned())));
    // The old authenticator no longer logs in; the new one does.
    w.clock.advance(chrono::Duration::seconds(31));
    let mut again = Browser::new(&w.app);
    again.password_step(email.clone()).await;
    assert_eq!(
        again
            .code_step(totp::code_at(SECRET, w.now_unix()))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        again
            .code_step(totp::code_at(&new_secret, w.now_unix()))
            .await
            .status,
        StatusCode::SEE_OTHER
    );
}

/// H2: a correct password does not reset the count of wrong codes, whichever address the
/// guesser uses; the account's own authenticator is refused too while the wait lasts.
async fn second_factor_guessing_is_limited_per_account_across_addresses(db: TestDb) {
    let w = world(&db).await;
    let email = email_of(STAFF);
    let mut answers = Vec::new();
    for n in 0..8 {
        let mut b = Browser::from_address(&w.app, &format!("127.0.4.{}", n + 1));
        let r = b.password_step(email.clone()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "password step {n}");
        answers.push(b.code_step("000000").await.status);
    }
    let refused = answers
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        answers
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count(),
        5,
        "{answers:?}"
    );
    assert_eq!(refused, 3, "{answers:?}");
    let mut b = Browser::from_address(&w.app, "127.0.4.99");
    b.password_step(email.clone()).await;
    let r = b.code_step(totp::code_at(SECRET, w.now_unix())).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "waits, even right");
    w.clock.advance(chrono::Duration::minutes(31));
    let mut b = Browser::from_address(&w.app, "127.0.4.99");
    b.password_step(email.clone()).await;
    let r = b.code_step(totp::code_at(SECRET, w.now_unix())).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "after the wait");
}

/// L5: forty wrong passwords sent at once for one account from one address: no more are
/// judged than the limit allows.
async fn racing_attempts_cannot_slip_past_the_throttle(db: TestDb) {
    let w = world(&db).await;
    let csrf_page = Browser::new(&w.app).get("/login").await;
    let cookie = csrf_page.cookie("renkei_csrf").unwrap();
    let token = csrf_in(&csrf_page.body).unwrap();
    let mut racers = Vec::new();
    for _ in 0..40 {
        let mut b = Browser::from_address(&w.app, "127.0.5.1");
        b.cookies.push(("renkei_csrf".into(), cookie.clone()));
        let token = token.clone();
        racers.push(tokio::spawn(async move {
            b.send(
                "POST",
                "/login",
                Some(vec![
                    ("email", email_of(STAFF)),
                    ("password", "not the password".into()),
                    ("csrf_token", token),
                ]),
            )
            .await
            .status
        }));
    }
    let mut judged = 0;
    for racer in racers {
        let status = racer.await.unwrap();
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS,
            "{status}"
        );
        judged += usize::from(status == StatusCode::UNAUTHORIZED);
    }
    assert_eq!(judged, 5, "exactly the free attempts are judged");
}

/// M3: `next` with a TAB (which browsers drop, leaving `//evil.example`) or a backslash goes
/// home instead.
async fn the_login_never_redirects_off_the_site(db: TestDb) {
    let w = world(&db).await;
    let mut b = Browser::new(&w.app);
    let form = b.get("/login?next=/%09/evil.example").await;
    assert!(
        form.body.contains("name=\"next\" value=\"/\""),
        "{}",
        form.body
    );
    for next in [
        "/\t/evil.example",
        "/\\evil.example",
        "/\n/evil.example",
        " //evil.example",
    ] {
        let mut b = Browser::new(&w.app);
        let r = b
            .post(
                "/login",
                "/login",
                vec![
                    ("email", email_of(AccountRole::PrefectureViewer)),
                    ("password", PASSWORD.into()),
                    ("next", next.into()),
                ],
            )
            .await;
        assert_eq!(
            (r.status, r.location()),
            (StatusCode::SEE_OTHER, "/"),
            "{next:?}"
        );
    }
    let mut b = Browser::new(&w.app);
    let r = b
        .post(
            "/login",
            "/login",
            vec![
                ("email", email_of(STAFF)),
                ("password", PASSWORD.into()),
                ("next", "/\t/evil.example".into()),
            ],
        )
        .await;
    assert_eq!(r.location(), "/login/two-factor?next=/");
    let r = b
        .post(
            "/login/two-factor",
            "/login/two-factor",
            vec![
                ("code", totp::code_at(SECRET, w.now_unix())),
                ("next", "/\t/evil.example".into()),
            ],
        )
        .await;
    assert_eq!(r.location(), "/");
    assert_eq!(
        renkei_web::pages::login::safe_next(Some("/patients?q=%E5%B1%B1")),
        "/patients?q=%E5%B1%B1"
    );
}

/// M4: behind a trusted proxy each client is counted by its own address, so failures of one
/// do not lock out another; the proxy's header is ignored from anyone else.
async fn behind_a_trusted_proxy_each_client_is_counted_apart(db: TestDb) {
    let config = WebConfig {
        trusted_proxies: renkei_web::auth::client::parse_list("127.0.0.1").unwrap(),
        ..WebConfig::default()
    };
    let w = world_with_config(&db, Mailer::new(None), config).await;
    let via_proxy = |client: &str| {
        let mut b = Browser::from_address(&w.app, "127.0.0.1");
        b.extra_headers
            .push(("x-forwarded-for", format!("{client}, 127.0.0.1")));
        b
    };
    for n in 0..22 {
        let mut guesser = via_proxy("203.0.113.66");
        guesser
            .post(
                "/login",
                "/login",
                vec![
                    ("email", format!("nobody{n}@example.jp")),
                    ("password", "guess".into()),
                ],
            )
            .await;
    }
    let mut guesser = via_proxy("203.0.113.66");
    let r = guesser
        .try_password(email_of(AccountRole::PrefectureViewer), PASSWORD)
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "the guesser waits");
    let mut owner = via_proxy("203.0.113.7");
    let r = owner
        .try_password(email_of(AccountRole::PrefectureViewer), PASSWORD)
        .await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "another client behind the proxy"
    );
    let failures = w
        .store
        .audit_entries(&renkei_store::audit::AuditFilter {
            action_prefix: Some("login.failure".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        failures.iter().all(|e| e.client == "203.0.113.66"),
        "the real client is audited"
    );
    // From an untrusted peer the header is not believed.
    let mut liar = Browser::from_address(&w.app, "198.51.100.9");
    liar.extra_headers
        .push(("x-forwarded-for", "192.0.2.1".to_owned()));
    liar.try_password("x@example.jp", "guess").await;
    let last = w
        .store
        .audit_entries(&renkei_store::audit::AuditFilter {
            action_prefix: Some("login.failure".into()),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(last[0].client, "198.51.100.9");
}

/// M4, per account: guessing an account's password from elsewhere neither refuses its owner's
/// correct password from another address nor, once the account-wide ceiling is reached, from
/// a browser the owner signed in with before; the owner is mailed.
async fn guessing_an_account_does_not_lock_its_owner_out(db: TestDb) {
    let w = world(&db).await;
    let email = email_of(AccountRole::PrefectureViewer);
    let mut own_browser = Browser::from_address(&w.app, "127.0.6.1");
    let r = own_browser.try_password(email.clone(), PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.cookie("renkei_device").is_some(), "a known device");
    own_browser.post("/account", "/logout", Vec::new()).await;
    // Six wrong passwords from one address: that address waits, another does not.
    for _ in 0..6 {
        let mut b = Browser::from_address(&w.app, "127.0.7.1");
        b.try_password(email.clone(), "guess").await;
    }
    let mut b = Browser::from_address(&w.app, "127.0.7.2");
    let r = b.try_password(email.clone(), PASSWORD).await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "a new address is not refused"
    );
    // Thirty more from thirty addresses reach the account-wide ceiling.
    for n in 0..30 {
        let mut b = Browser::from_address(&w.app, &format!("127.0.8.{}", n + 1));
        b.try_password(email.clone(), "guess").await;
    }
    let mut stranger = Browser::from_address(&w.app, "127.0.9.1");
    let r = stranger.try_password(email.clone(), PASSWORD).await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "an unknown browser waits"
    );
    own_browser.peer = Some("127.0.9.2:40000".parse().unwrap());
    let r = own_browser.try_password(email.clone(), PASSWORD).await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "the owner's browser, from a new address: {}",
        r.body
    );
    let warnings: Vec<String> = mails_to(&w, &email)
        .await
        .into_iter()
        .filter(|s| s.contains("ログインの失敗が続いています"))
        .collect();
    assert_eq!(warnings.len(), 1, "the owner is told once");
}

/// L4: a password change ends the API tokens made before it (and tells the owner).
async fn a_password_change_revokes_api_tokens(db: TestDb) {
    let w = world(&db).await;
    let email = email_of(AccountRole::HubCoordinator);
    let mut b = w.login(&email).await;
    let token = new_api_token(&mut b, "集計").await;
    let mut machine = Browser::new(&w.app);
    machine
        .extra_headers
        .push(("authorization", format!("Bearer {token}")));
    assert_eq!(machine.get("/api/v1/me").await.status, StatusCode::OK);
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
    assert_eq!(
        machine.get("/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(mails_to(&w, &email)
        .await
        .iter()
        .any(|s| s.contains("パスワードを変更しました")));
}

/// L7: a login posted with a session cookie that has died meanwhile keeps its new session.
async fn a_login_carrying_a_dead_session_cookie_keeps_the_new_session(db: TestDb) {
    let w = world(&db).await;
    let mut b = Browser::new(&w.app);
    let form = b.get("/login").await;
    let token = csrf_in(&form.body).unwrap();
    b.cookies.push(("renkei_session".into(), "f".repeat(64)));
    let r = b
        .send(
            "POST",
            "/login",
            Some(vec![
                ("email", email_of(AccountRole::PrefectureViewer)),
                ("password", PASSWORD.into()),
                ("csrf_token", token),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let set: Vec<&str> = r
        .headers
        .get_all(axum::http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|c| c.starts_with("renkei_session="))
        .collect();
    assert_eq!(set.len(), 1, "{set:?}");
    assert!(!set[0].contains("Max-Age=0"), "{set:?}");
    assert_eq!(b.get("/account").await.status, StatusCode::OK);
}

/// The administrator resets a lost second factor: every session and token ends, the owner is
/// mailed and enrols again at the next login.
async fn the_administrator_resets_a_lost_second_factor(db: TestDb) {
    let w = world(&db).await;
    let email = email_of(STAFF);
    let mut staff = w.login(&email).await;
    let mut admin = w.login(&email_of(AccountRole::SystemAdmin)).await;
    let id = user_id(&w.store, STAFF).await.0;
    let r = admin
        .post(
            "/admin/users",
            &format!("/admin/users/{id}/reset-two-factor"),
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(staff.get("/account").await.status, StatusCode::SEE_OTHER);
    let mut again = Browser::new(&w.app);
    let r = again.password_step(email.clone()).await;
    assert_eq!(r.location(), "/account/two-factor");
    assert!(mails_to(&w, &email)
        .await
        .iter()
        .any(|s| s.contains("二要素認証がリセットされました")));
    assert!(audit_actions(&w, "admin.two_factor.reset")
        .await
        .contains(&("admin.two_factor.reset".to_owned(), "ok".to_owned())));
}

/// L1: the patient list (names, ages, care needs) is on record when it is read, as every
/// other read of patient data; the search words are not.
async fn reading_the_patient_list_is_audited(db: TestDb) {
    let w = world(&db).await;
    let mut staff = w.login(&email_of(STAFF)).await;
    assert_eq!(staff.get("/patients").await.status, StatusCode::OK);
    assert_eq!(
        staff.get("/patients?q=%E5%B1%B1%E7%94%B0").await.status,
        StatusCode::OK
    );
    let entries = w
        .store
        .audit_entries(&renkei_store::audit::AuditFilter {
            action_prefix: Some("careteam.list".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(entries.len(), 2, "both reads are on record");
    assert!(entries.iter().any(|e| e.target.starts_with("search:")));
    assert!(entries
        .iter()
        .all(|e| !e.target.contains("山田") && !e.details.contains("山田")));
}

/// L2: nothing a signed-in person is shown is kept in the browser's cache.
async fn signed_in_pages_and_downloads_are_not_cached(db: TestDb) {
    let w = world(&db).await;
    let mut browsers = [
        w.login(&email_of(AccountRole::SystemAdmin)).await,
        w.login(&email_of(AccountRole::HubCoordinator)).await,
        w.login(&email_of(STAFF)).await,
    ];
    for (who, page) in [
        (0, "/admin/outbox"),
        (0, "/admin/audit"),
        (0, "/admin/audit.csv"),
        (0, "/account"),
        (1, "/hub/consultations"),
        (1, "/hub/consultations.csv"),
        (2, "/patients"),
    ] {
        let r = browsers[who].get(page).await;
        assert_eq!(r.status, StatusCode::OK, "{page}");
        assert_eq!(
            r.headers
                .get(axum::http::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{page}"
        );
    }
}

/// L6: a FHIR search with a thousand repeats of one parameter was a 500 (SQLite's expression
/// too deep); it is refused with an OperationOutcome.
async fn a_flood_of_search_parameters_is_refused_not_a_server_error(db: TestDb) {
    let w = world(&db).await;
    let query: Vec<String> = (0..1000).map(|n| format!("name=a{n}")).collect();
    let mut anonymous = Browser::new(&w.app);
    let r = anonymous
        .get(&format!("/fhir/Organization?{}", query.join("&")))
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "{}",
        &r.body[..r.body.len().min(300)]
    );
    assert!(r.body.contains("OperationOutcome") && r.body.contains("50"));
    let r = anonymous
        .get("/fhir/Organization?name=a&address-city=%E5%85%AB%E5%B0%BE%E5%B8%82")
        .await;
    assert_eq!(r.status, StatusCode::OK, "an ordinary search still works");
}

async fn sql(db: &TestDb, statement: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::raw_sql(statement).execute(&pool).await.unwrap();
    pool.close().await;
}

async fn count_rows(db: &TestDb, table: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

/// A mail that is part of a change is written in the change's own transaction: when the mail
/// cannot be written (the outbox made unwritable, as a crash between the two would), the
/// change does not happen either — no reset link nobody received, no password changed
/// without its owner being told.
async fn a_change_and_its_mail_are_one(db: TestDb) {
    let w = world(&db).await;
    let email = email_of(AccountRole::HubCoordinator);
    let mut b = w.login(&email).await;
    let tokens_before = count_rows(&db, "one_time_tokens").await;
    sql(&db, "ALTER TABLE outbox RENAME TO outbox_unwritable").await;
    let mut stranger = Browser::new(&w.app);
    let r = stranger
        .post(
            "/password/forgot",
            "/password/forgot",
            vec![("email", email.clone())],
        )
        .await;
    assert!(r.status.is_server_error(), "{}", r.status);
    assert_eq!(
        count_rows(&db, "one_time_tokens").await,
        tokens_before,
        "no reset link without its mail"
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
    assert!(r.status.is_server_error(), "{}", r.status);
    sql(&db, "ALTER TABLE outbox_unwritable RENAME TO outbox").await;
    let mut again = Browser::new(&w.app);
    let r = again.password_step(email.clone()).await;
    assert!(
        r.location().starts_with("/login/two-factor"),
        "the old password still works: {}",
        r.location()
    );
}

both_backends!(
    a_change_and_its_mail_are_one,
    a_flood_of_search_parameters_is_refused_not_a_server_error,
    reading_the_patient_list_is_audited,
    signed_in_pages_and_downloads_are_not_cached,
    a_password_alone_cannot_rebind_the_second_factor,
    replacing_the_second_factor_needs_the_password_and_a_current_code,
    second_factor_guessing_is_limited_per_account_across_addresses,
    racing_attempts_cannot_slip_past_the_throttle,
    the_login_never_redirects_off_the_site,
    behind_a_trusted_proxy_each_client_is_counted_apart,
    guessing_an_account_does_not_lock_its_owner_out,
    a_password_change_revokes_api_tokens,
    a_login_carrying_a_dead_session_cookie_keeps_the_new_session,
    the_administrator_resets_a_lost_second_factor,
);
