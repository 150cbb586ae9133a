//! Accounts on both engines: users and memberships, sessions that end at once, one-time use of
//! second factors, login-attempt counting.

use renkei_domain::accounts::{AccountRole, Email, OrganisationKind, UserId};
use renkei_domain::region::RegionDefinition;
use renkei_domain::towns;
use renkei_store::accounts::SessionRecord;
use renkei_store::Store;
use renkei_testkit::{both_backends, TestDb};

fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

fn session(token: &str, user: UserId) -> SessionRecord {
    SessionRecord {
        token_hash: token.to_owned(),
        user_id: user,
        csrf_token: format!("csrf-{token}"),
        second_factor_done: false,
        created_at: "2026-11-25T00:00:00.000000Z".into(),
        last_seen_at: "2026-11-25T00:00:00.000000Z".into(),
        expires_at: "2026-11-25T12:00:00.000000Z".into(),
        client: "127.0.0.1".into(),
        user_agent: "test".into(),
    }
}

async fn coordinator(store: &Store) -> (UserId, renkei_domain::accounts::OrganisationId) {
    store
        .ensure_region(&RegionDefinition::nakakawachi(), &towns::towns().unwrap())
        .await
        .unwrap();
    let org = store
        .ensure_organisation(OrganisationKind::Hub, "八尾市医師会", Some("yao"), None)
        .await
        .unwrap();
    let again = store
        .ensure_organisation(OrganisationKind::Hub, "八尾市医師会", Some("yao"), None)
        .await
        .unwrap();
    assert_eq!(org, again, "organisations are found, not duplicated");
    let user = store
        .create_user(
            &email("coord@example.jp"),
            "八尾 花子",
            Some("$argon2id$fake"),
        )
        .await
        .unwrap();
    store
        .add_membership(user, org, AccountRole::HubCoordinator)
        .await
        .unwrap();
    store
        .add_membership(user, org, AccountRole::HubCoordinator)
        .await
        .unwrap();
    (user, org)
}

async fn users_have_memberships_and_unique_addresses(db: TestDb) {
    let (user, _) = coordinator(&db.store).await;
    let loaded = db.store.user(user).await.unwrap().unwrap();
    assert_eq!(loaded.email, "coord@example.jp");
    assert_eq!(loaded.roles(), [AccountRole::HubCoordinator]);
    assert_eq!(
        loaded.memberships[0].organisation.area_code.as_deref(),
        Some("yao")
    );
    assert!(loaded.has_password && !loaded.totp_enabled && !loaded.disabled);
    let dup = db
        .store
        .create_user(&email("COORD@example.jp"), "別人", None)
        .await
        .unwrap_err();
    assert!(dup.to_string().contains("すでに登録"), "{dup}");
    assert_eq!(db.store.users().await.unwrap().len(), 1);
    assert!(db
        .store
        .user_by_email(&email("coord@example.jp"))
        .await
        .unwrap()
        .is_some());
}

async fn sessions_end_when_a_user_is_disabled_or_loses_a_role(db: TestDb) {
    let (user, org) = coordinator(&db.store).await;
    db.store.create_session(&session("a", user)).await.unwrap();
    db.store.create_session(&session("b", user)).await.unwrap();
    assert!(db.store.session("a").await.unwrap().is_some());
    assert_eq!(db.store.sessions_of(user).await.unwrap().len(), 2);

    db.store.set_disabled(user, true).await.unwrap();
    assert!(db.store.session("a").await.unwrap().is_none());
    assert!(db.store.sessions_of(user).await.unwrap().is_empty());
    db.store.set_disabled(user, false).await.unwrap();

    db.store.create_session(&session("c", user)).await.unwrap();
    assert!(db
        .store
        .remove_membership(user, org, AccountRole::HubCoordinator)
        .await
        .unwrap());
    assert!(
        db.store.session("c").await.unwrap().is_none(),
        "removed from the organisation: session gone"
    );

    db.store.create_session(&session("d", user)).await.unwrap();
    db.store.create_session(&session("e", user)).await.unwrap();
    db.store
        .set_password(user, "$argon2id$new", Some("d"))
        .await
        .unwrap();
    assert!(
        db.store.session("d").await.unwrap().is_some(),
        "the session that changed the password stays"
    );
    assert!(db.store.session("e").await.unwrap().is_none());
    assert_eq!(db.store.delete_sessions_of(user).await.unwrap(), 1);

    db.store.create_session(&session("f", user)).await.unwrap();
    let purged = db
        .store
        .purge_sessions("2026-11-26T00:00:00.000000Z", "2026-11-24T00:00:00.000000Z")
        .await
        .unwrap();
    assert_eq!(purged, 1, "past its absolute end");
}

async fn second_factors_are_used_once(db: TestDb) {
    let (user, _) = coordinator(&db.store).await;
    assert!(
        db.store.confirm_totp(user, 1, &[]).await.is_err(),
        "no enrolment started"
    );
    db.store.set_pending_totp(user, "MZXW6YTBOI").await.unwrap();
    let creds = db
        .store
        .credentials(&email("coord@example.jp"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (creds.totp_secret, creds.totp_pending_secret.as_deref()),
        (None, Some("MZXW6YTBOI"))
    );
    db.store
        .confirm_totp(user, 100, &["h1".into(), "h2".into()])
        .await
        .unwrap();
    let creds = db.store.credentials_by_id(user).await.unwrap().unwrap();
    assert_eq!(creds.totp_secret.as_deref(), Some("MZXW6YTBOI"));
    assert_eq!(creds.totp_last_step, Some(100));
    assert!(
        !db.store.use_totp_step(user, 100).await.unwrap(),
        "the enrolment step cannot be replayed"
    );
    assert!(db.store.use_totp_step(user, 101).await.unwrap());
    assert!(!db.store.use_totp_step(user, 101).await.unwrap());
    assert_eq!(db.store.recovery_codes_left(user).await.unwrap(), 2);
    assert!(db.store.use_recovery_code(user, "h1").await.unwrap());
    assert!(!db.store.use_recovery_code(user, "h1").await.unwrap());
    assert!(!db.store.use_recovery_code(user, "nope").await.unwrap());
    assert_eq!(db.store.recovery_codes_left(user).await.unwrap(), 1);
    db.store.disable_totp(user).await.unwrap();
    assert!(!db.store.user(user).await.unwrap().unwrap().totp_enabled);
    assert_eq!(db.store.recovery_codes_left(user).await.unwrap(), 0);
}

async fn login_failures_are_counted_since_the_last_success(db: TestDb) {
    let key = "account:coord@example.jp";
    for minute in 0..3 {
        db.store
            .record_login_attempt(key, false, &format!("2026-11-25T00:0{minute}:00.000000Z"))
            .await
            .unwrap();
    }
    let (n, last) = db
        .store
        .recent_failures(key, "2026-11-24T00:00:00.000000Z")
        .await
        .unwrap();
    assert_eq!(
        (n, last.as_deref()),
        (3, Some("2026-11-25T00:02:00.000000Z"))
    );
    assert_eq!(
        db.store
            .recent_failures(key, "2026-11-25T00:01:30.000000Z")
            .await
            .unwrap()
            .0,
        1,
        "window"
    );
    db.store
        .record_login_attempt(key, true, "2026-11-25T00:03:00.000000Z")
        .await
        .unwrap();
    db.store
        .record_login_attempt(key, false, "2026-11-25T00:04:00.000000Z")
        .await
        .unwrap();
    assert_eq!(
        db.store
            .recent_failures(key, "2026-11-24T00:00:00.000000Z")
            .await
            .unwrap()
            .0,
        1
    );
    assert_eq!(
        db.store
            .recent_failures("client:10.0.0.1", "2026-11-24T00:00:00.000000Z")
            .await
            .unwrap(),
        (0, None)
    );

    assert_eq!(db.store.setting("x").await.unwrap(), None);
    db.store.set_setting("x", "1").await.unwrap();
    db.store.set_setting("x", "2").await.unwrap();
    assert_eq!(db.store.setting("x").await.unwrap().as_deref(), Some("2"));
}

both_backends!(
    users_have_memberships_and_unique_addresses,
    sessions_end_when_a_user_is_disabled_or_loses_a_role,
    second_factors_are_used_once,
    login_failures_are_counted_since_the_last_success,
);
