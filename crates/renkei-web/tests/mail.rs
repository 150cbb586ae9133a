//! Invitations, password resets and safety-check notices and reminders through a real SMTP server
//! on loopback, and the outbox when no server is configured — on both engines.

mod common;

use axum::http::StatusCode;
use common::*;
use renkei_domain::accounts::{AccountRole, Email};
use renkei_domain::region::RegionDefinition;
use renkei_domain::{demo, towns};
use renkei_testkit::smtp::TestSmtpServer;
use renkei_testkit::{both_backends, TestDb};
use renkei_web::mail::{Mailer, SmtpSettings};

async fn smtp_world(db: &TestDb) -> (World, TestSmtpServer) {
    let smtp = TestSmtpServer::start().await;
    let settings = SmtpSettings::from_url(&smtp.url(), "Renkei <noreply@example.jp>").unwrap();
    let w = world_with(db, Mailer::new(Some(settings))).await;
    let region = RegionDefinition::nakakawachi();
    let all = demo::institutions(
        &region,
        &towns::towns().unwrap(),
        &towns::postcodes().unwrap(),
    )
    .unwrap();
    w.store.insert_institutions(&all).await.unwrap();
    (w, smtp)
}

/// Sends the invitation form of `page`.
async fn invite(b: &mut Browser, page: &str, email: &str, role: &str, institution: i64) -> Reply {
    let fields = vec![
        ("email", email.to_owned()),
        ("role", role.to_owned()),
        ("institution_id", institution.to_string()),
    ];
    b.post(page, "/invitations", fields).await
}

fn link_in(text: &str, prefix: &str) -> String {
    let at = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {text}"));
    text[at..].split_whitespace().next().unwrap().to_owned()
}

async fn a_coordinator_invites_staff_who_register_through_the_mailed_link(db: TestDb) {
    let (w, smtp) = smtp_world(&db).await;
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let hub = coordinator.get("/hub").await;
    assert!(
        hub.body.contains("action=\"/invitations\""),
        "the hub page has the invitation form"
    );
    let yao_clinic = w
        .store
        .institutions_in_area("yao")
        .await
        .unwrap()
        .into_iter()
        .next()
        .unwrap();
    let west_clinic = w
        .store
        .institutions_in_area("higashiosaka-west")
        .await
        .unwrap()
        .into_iter()
        .next()
        .unwrap();

    let outside = invite(
        &mut coordinator,
        "/hub",
        "x@example.jp",
        "institution_staff",
        west_clinic.id.0,
    )
    .await;
    assert_eq!(
        outside.status,
        StatusCode::FORBIDDEN,
        "not the coordinator's area"
    );
    let bad_role = invite(
        &mut coordinator,
        "/hub",
        "x@example.jp",
        "system_admin",
        yao_clinic.id.0,
    )
    .await;
    assert_eq!(bad_role.status, StatusCode::BAD_REQUEST);

    let sent = invite(
        &mut coordinator,
        "/hub",
        "New.Nurse@Example.jp",
        "institution_admin",
        yao_clinic.id.0,
    )
    .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    assert!(sent.body.contains("招待メールを送信しました"));
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "delivered through the SMTP server");
    assert_eq!(mails[0].to, ["new.nurse@example.jp"]);
    let text = mails[0].text();
    assert!(
        text.contains(&yao_clinic.name) && text.contains("まで"),
        "{text}"
    );
    let link = link_in(&text, "http://127.0.0.1:8080/invite/");
    let path = link.trim_start_matches("http://127.0.0.1:8080");

    let mut invitee = Browser::new(&w.app);
    let page = invitee.get(path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("new.nurse@example.jp") && page.body.contains("機関管理者"));
    let weak = invitee
        .post(
            path,
            path,
            vec![
                ("name", "新人 看護師".into()),
                ("password", "password1234".into()),
                ("confirm", "password1234".into()),
            ],
        )
        .await;
    assert_eq!(
        weak.status,
        StatusCode::BAD_REQUEST,
        "the password policy applies"
    );
    let done = invitee
        .post(
            path,
            path,
            vec![
                ("name", "新人 看護師".into()),
                ("password", "八尾の朝は在宅医療の連携から".into()),
                ("confirm", "八尾の朝は在宅医療の連携から".into()),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let user = w
        .store
        .user_by_email(&Email::parse("new.nurse@example.jp").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.roles(), [AccountRole::InstitutionAdmin]);
    assert_eq!(
        user.memberships[0].organisation.institution_id,
        Some(yao_clinic.id.0)
    );
    let reused = invitee.get(path).await;
    assert_eq!(reused.status, StatusCode::GONE, "the link works once");
    assert!(reused.body.contains("招待リンクが使えません"));

    // An expired link.
    invite(
        &mut coordinator,
        "/hub",
        "late@example.jp",
        "institution_staff",
        yao_clinic.id.0,
    )
    .await;
    let late = link_in(&smtp.mails()[1].text(), "http://127.0.0.1:8080/invite/");
    w.clock.advance(chrono::Duration::days(8));
    assert_eq!(
        invitee
            .get(late.trim_start_matches("http://127.0.0.1:8080"))
            .await
            .status,
        StatusCode::GONE
    );

    let audit = w
        .store
        .audit_entries(&renkei_store::audit::AuditFilter {
            action_prefix: Some("invitation.".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let outcomes: Vec<(&str, &str)> = audit
        .iter()
        .map(|e| (e.action.as_str(), e.outcome.as_str()))
        .collect();
    assert!(
        outcomes.contains(&("invitation.create", "denied"))
            && outcomes.contains(&("invitation.accept", "ok"))
    );
}

async fn a_forgotten_password_is_reset_by_a_one_time_link(db: TestDb) {
    let (w, smtp) = smtp_world(&db).await;
    let mut b = Browser::new(&w.app);
    let known = b
        .post(
            "/password/forgot",
            "/password/forgot",
            vec![("email", email_of(AccountRole::PrefectureViewer))],
        )
        .await;
    let unknown = b
        .post(
            "/password/forgot",
            "/password/forgot",
            vec![("email", "nobody@example.jp".into())],
        )
        .await;
    assert_eq!(
        (known.status, unknown.status),
        (StatusCode::OK, StatusCode::OK)
    );
    let strip = |s: &str| s.replace(&csrf_in(s).unwrap_or_default(), "");
    assert_eq!(
        strip(&known.body),
        strip(&unknown.body),
        "the answer does not tell whether the account exists"
    );
    assert_eq!(smtp.mails().len(), 1, "mail only for the real account");
    let mut session = w.login(&email_of(AccountRole::PrefectureViewer)).await;
    let link = link_in(
        &smtp.mails()[0].text(),
        "http://127.0.0.1:8080/password/reset/",
    );
    let path = link.trim_start_matches("http://127.0.0.1:8080");
    let mismatch = b
        .post(
            path,
            path,
            vec![
                ("password", "a long enough passphrase one".into()),
                ("confirm", "a long enough passphrase two".into()),
            ],
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::BAD_REQUEST);
    let ok = b
        .post(
            path,
            path,
            vec![
                ("password", "柏原の夕焼けと訪問看護の帰り道".into()),
                ("confirm", "柏原の夕焼けと訪問看護の帰り道".into()),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(
        session.get("/account").await.status,
        StatusCode::SEE_OTHER,
        "every session ended"
    );
    assert_eq!(
        b.get(path).await.status,
        StatusCode::GONE,
        "the link works once"
    );
    let mut again = Browser::new(&w.app);
    let login = again
        .post(
            "/login",
            "/login",
            vec![
                ("email", email_of(AccountRole::PrefectureViewer)),
                ("password", "柏原の夕焼けと訪問看護の帰り道".into()),
            ],
        )
        .await;
    assert_eq!(
        login.status,
        StatusCode::SEE_OTHER,
        "the new password works"
    );

    for _ in 0..6 {
        b.post(
            "/password/forgot",
            "/password/forgot",
            vec![("email", email_of(AccountRole::PrefectureViewer))],
        )
        .await;
    }
    // The reset itself was told to the owner in a mail of its own (written with the change).
    let texts: Vec<String> = smtp.mails().iter().map(|m| m.text()).collect();
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.contains("/password/reset/"))
            .count(),
        5,
        "at most five reset mails per address and hour"
    );
    assert_eq!(texts.len(), 6, "and one notice that the password changed");
}

async fn without_smtp_mail_waits_in_the_outbox_for_administrators(db: TestDb) {
    let w = world(&db).await;
    let region = RegionDefinition::nakakawachi();
    let all = demo::institutions(
        &region,
        &towns::towns().unwrap(),
        &towns::postcodes().unwrap(),
    )
    .unwrap();
    w.store.insert_institutions(&all).await.unwrap();
    let clinic = w
        .store
        .institutions_in_area("yao")
        .await
        .unwrap()
        .into_iter()
        .next()
        .unwrap();
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let r = invite(
        &mut coordinator,
        "/hub",
        "waiting@example.jp",
        "institution_staff",
        clinic.id.0,
    )
    .await;
    assert!(r.body.contains("送信待ち"), "{}", r.body);
    let mut admin = w.login(&email_of(AccountRole::SystemAdmin)).await;
    let outbox = admin.get("/admin/outbox").await;
    assert_eq!(outbox.status, StatusCode::OK);
    assert!(
        outbox.body.contains("waiting@example.jp") && outbox.body.contains("/invite/"),
        "the admin can pass the link on"
    );
    assert!(outbox.body.contains("送信待ち"));
}

async fn an_institution_admin_invites_colleagues_only_into_their_own_institution(db: TestDb) {
    let (w, smtp) = smtp_world(&db).await;
    let list = w.store.institutions_in_area("yao").await.unwrap();
    let (own, other) = (&list[0], &list[1]);
    member_of(
        &w,
        own.id.0,
        &own.name,
        "inst.admin@example.jp",
        "機関 管理者",
        AccountRole::InstitutionAdmin,
    )
    .await;

    let mut admin = w.login("inst.admin@example.jp").await;
    let page = admin.get("/institution").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&own.name) && page.body.contains("機関 管理者"));
    assert!(
        page.body
            .contains(&format!("<option value=\"{}\">", own.id.0)),
        "the form offers their institution"
    );
    let sent = invite(
        &mut admin,
        "/institution",
        "colleague@example.jp",
        "institution_staff",
        own.id.0,
    )
    .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    let elsewhere = invite(
        &mut admin,
        "/institution",
        "colleague@example.jp",
        "institution_staff",
        other.id.0,
    )
    .await;
    assert_eq!(elsewhere.status, StatusCode::FORBIDDEN);
    assert_eq!(smtp.mails().len(), 1);
    assert_eq!(smtp.mails()[0].to, ["colleague@example.jp"]);
}

async fn stale_entries_are_confirmed_by_a_one_click_link(db: TestDb) {
    let (w, smtp) = smtp_world(&db).await;
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let page = coordinator.get("/hub/stale").await;
    assert_eq!(page.status, StatusCode::OK);
    let id: i64 = page
        .body
        .split("data-testid=\"stale-")
        .nth(1)
        .expect("some yao entries are overdue in the demo")
        .split('"')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        !page.body.contains("柏原市"),
        "only the coordinator's own area"
    );
    let sent = coordinator
        .post("/hub/stale", &format!("/hub/stale/{id}/remind"), vec![])
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    assert_eq!(sent.location(), format!("/hub/stale?sent={id}"));
    let after = coordinator.get(sent.location()).await;
    assert!(
        after.body.contains("の担当者に確認依頼を送りました"),
        "the coordinator sees that it went out"
    );
    let mail = smtp.mails().pop().unwrap();
    assert!(mail.to[0].ends_with("@demo.renkei.example"));
    let link = link_in(&mail.text(), "http://127.0.0.1:8080/confirm/");
    let path = link.trim_start_matches("http://127.0.0.1:8080").to_owned();

    // Opening the link (as a mail scanner would) confirms nothing.
    let mut contact = Browser::new(&w.app);
    let shown = contact.get(&path).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body.contains("この内容で正しい"));
    assert!(coordinator
        .get("/hub/stale")
        .await
        .body
        .contains(&format!("stale-{id}\"")));
    let done = contact.post(&path, &path, vec![]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(
        !coordinator
            .get("/hub/stale")
            .await
            .body
            .contains(&format!("stale-{id}\"")),
        "no longer overdue"
    );
    let detail = contact.get(&format!("/institutions/{id}")).await;
    assert!(!detail.body.contains("data-testid=\"confirmed\">—"));
    assert_eq!(
        contact.get(&path).await.status,
        StatusCode::GONE,
        "the link works once"
    );

    let kashiwara = w.store.institutions_in_area("kashiwara").await.unwrap()[0]
        .id
        .0;
    let elsewhere = coordinator
        .post(
            "/hub/stale",
            &format!("/hub/stale/{kashiwara}/remind"),
            vec![],
        )
        .await;
    assert_eq!(elsewhere.status, StatusCode::FORBIDDEN);
}

async fn staff_propose_changes_that_the_coordinator_approves_or_returns(db: TestDb) {
    let (w, smtp) = smtp_world(&db).await;
    let list = w.store.institutions_in_area("yao").await.unwrap();
    let (own, other) = (&list[0], &list[1]);
    member_of(
        &w,
        own.id.0,
        &own.name,
        "staff@example.jp",
        "職員 一郎",
        AccountRole::InstitutionStaff,
    )
    .await;
    let mut staff = w.login("staff@example.jp").await;

    let edit = format!("/institutions/{}/edit", own.id.0);
    let form = staff.get(&edit).await;
    assert_eq!(form.status, StatusCode::OK);
    assert_eq!(
        staff
            .get(&format!("/institutions/{}/edit", other.id.0))
            .await
            .status,
        StatusCode::FORBIDDEN,
        "not their institution"
    );
    let fields = |phone: &str, postcode: &str| {
        vec![
            ("name", own.name.clone()),
            ("name_kana", own.name_kana.clone()),
            ("postcode", postcode.to_owned()),
            ("address", own.address.clone()),
            ("phone", phone.to_owned()),
            ("cap", "home_visit".to_owned()),
            ("cap", "ventilator".to_owned()),
        ]
    };
    let bad = staff.post(&edit, &edit, fields("072-111-2222", "12")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("郵便番号は7桁"));
    let sent = staff
        .post(&edit, &edit, fields("０７２－１１１－２２２２", "581-0003"))
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    assert!(sent.body.contains("変更を申請しました"));
    let public = staff.get(&format!("/institutions/{}", own.id.0)).await;
    assert!(
        !public.body.contains("072-111-2222"),
        "nothing public before approval"
    );
    assert!(
        smtp.mails()
            .iter()
            .any(|m| m.to == ["hub_coordinator@example.jp"]),
        "the coordinator is told"
    );

    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let review = coordinator.get("/hub/changes").await;
    assert!(
        review.body.contains("072-111-2222") && review.body.contains("人工呼吸器"),
        "side by side"
    );
    let change = w
        .store
        .changes("pending", Some(own.id.0))
        .await
        .unwrap()
        .remove(0);
    let no_reason = coordinator
        .post(
            "/hub/changes",
            &format!("/hub/changes/{}/reject", change.id),
            vec![("reason", " ".into())],
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST);
    let ok = coordinator
        .post(
            "/hub/changes",
            &format!("/hub/changes/{}/approve", change.id),
            vec![],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let public = staff.get(&format!("/institutions/{}", own.id.0)).await;
    assert!(
        public.body.contains("072-111-2222")
            && public.body.contains("人工呼吸器")
            && public.body.contains("〒5810003")
    );
    assert!(public.body.contains("変更履歴"));
    let again = coordinator
        .post(
            "/hub/changes",
            &format!("/hub/changes/{}/approve", change.id),
            vec![],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "decided once");
    let found = staff
        .get("/directory?q=%E4%BA%BA%E5%B7%A5%E5%91%BC%E5%90%B8%E5%99%A8&area=yao")
        .await;
    assert!(
        found.body.contains(&own.name),
        "searchable by the new capability at once"
    );

    // A second proposal, returned with a reason that reaches the proposer.
    staff
        .post(&edit, &edit, fields("072-333-4444", "5810003"))
        .await;
    let second = w
        .store
        .changes("pending", Some(own.id.0))
        .await
        .unwrap()
        .remove(0);
    let returned = coordinator
        .post(
            "/hub/changes",
            &format!("/hub/changes/{}/reject", second.id),
            vec![("reason", "電話番号を確認してください".into())],
        )
        .await;
    assert_eq!(returned.status, StatusCode::SEE_OTHER);
    assert!(smtp
        .mails()
        .iter()
        .any(|m| m.to == ["staff@example.jp"] && m.text().contains("電話番号を確認してください")));
    assert!(!staff
        .get(&format!("/institutions/{}", own.id.0))
        .await
        .body
        .contains("072-333-4444"));
}

async fn every_field_of_an_entry_is_edited_approved_and_shown(db: TestDb) {
    let (w, _smtp) = smtp_world(&db).await;
    let list = w.store.institutions_in_area("yao").await.unwrap();
    let own = list
        .iter()
        .find(|i| i.is_active && i.kind == "clinic")
        .expect("an active clinic in 八尾");
    member_of(
        &w,
        own.id.0,
        &own.name,
        "staff@example.jp",
        "職員 一郎",
        AccountRole::InstitutionStaff,
    )
    .await;
    let mut staff = w.login("staff@example.jp").await;
    let edit = format!("/institutions/{}/edit", own.id.0);
    let form = staff.get(&edit).await;
    for field in [
        "medical_code",
        "fax",
        "website",
        "hours",
        "power_kind",
        "bcp",
        "role_acute_support",
        "plan_emergency_admission",
    ] {
        assert!(
            form.body.contains(&format!("name=\"{field}\"")),
            "the form has {field}"
        );
    }
    let fields = |code: &str, admission: &str| {
        vec![
            ("name", own.name.clone()),
            ("name_kana", own.name_kana.clone()),
            ("postcode", "5810003".to_owned()),
            ("address", own.address.clone()),
            ("phone", "000-123-4567".to_owned()),
            ("medical_code", code.to_owned()),
            ("fax", "０００－１２３－４５６８".to_owned()),
            ("website", "https://demo.renkei.example/clinic".to_owned()),
            ("hours", "月〜金 9:00〜18:00".to_owned()),
            ("contact_person", "地域連携室".to_owned()),
            ("lat", "34.6270".to_owned()),
            ("lng", "135.6010".to_owned()),
            ("cap", "home_visit".to_owned()),
            ("power_kind", "generator".to_owned()),
            ("power_capacity", "5kVA・72時間".to_owned()),
            ("power_lendable", "1".to_owned()),
            ("bcp", "done".to_owned()),
            ("role_acute_support", "available".to_owned()),
            ("role_training", "planned".to_owned()),
            ("plan_training", "令和9年度に研修医を受け入れる".to_owned()),
            ("role_emergency_admission", admission.to_owned()),
        ]
    };
    let bad = staff.post(&edit, &edit, fields("12-34", "")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("医療機関コードは10桁"), "{}", bad.body);
    assert!(
        bad.body.contains("令和9年度に研修医を受け入れる"),
        "nothing typed is lost"
    );
    let no_beds = staff
        .post(&edit, &edit, fields("27-1-2345678", "available"))
        .await;
    assert_eq!(no_beds.status, StatusCode::BAD_REQUEST);
    assert!(no_beds.body.contains("入院機能を有する医療機関のみ"));
    let sent = staff.post(&edit, &edit, fields("27-1-2345678", "no")).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);

    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let review = coordinator.get("/hub/changes").await;
    for shown in [
        "2712345678",
        "発電機（5kVA・72時間）・貸出可",
        "令和9年度に研修医を受け入れる",
        "34.627000, 135.601000（指定）",
    ] {
        assert!(review.body.contains(shown), "the review shows {shown}");
    }
    let change = w
        .store
        .changes("pending", Some(own.id.0))
        .await
        .unwrap()
        .remove(0);
    coordinator
        .post(
            "/hub/changes",
            &format!("/hub/changes/{}/approve", change.id),
            vec![],
        )
        .await;
    let public = Browser::new(&w.app)
        .get(&format!("/institutions/{}", own.id.0))
        .await;
    for shown in [
        "2712345678",
        "000-123-4568",
        "https://demo.renkei.example/clinic",
        "月〜金 9:00〜18:00",
        "地域連携室",
        "発電機（5kVA・72時間）",
        "貸出可",
        "策定済",
        "令和9年度に研修医を受け入れる",
        "34.62700, 135.60100（指定）",
    ] {
        assert!(public.body.contains(shown), "the public page shows {shown}");
    }
    let stored = w.store.public_fields(own.id.0).await.unwrap().unwrap();
    assert_eq!(stored.roles.len(), 3);
    assert_eq!(stored.details.medical_code.as_deref(), Some("2712345678"));
}

/// Waits until the test SMTP server holds `n` mails.
async fn received(smtp: &TestSmtpServer, n: usize) -> Vec<renkei_testkit::smtp::ReceivedMail> {
    for _ in 0..200 {
        let mails = smtp.mails();
        if mails.len() >= n {
            return mails;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the SMTP server got {} of {n} mails", smtp.mails().len());
}

async fn refused_mail_is_marked_bounced_and_temporary_failures_are_retried(db: TestDb) {
    let (w, _smtp) = smtp_world(&db).await;
    // A target whose address the receiving server refuses for good, and one over quota.
    let clinics = w
        .store
        .safety_reachable(
            &renkei_domain::safety::Targeting {
                kinds: vec!["clinic".into()],
                ..Default::default()
            },
            &["yao".to_owned()],
        )
        .await
        .unwrap();
    let (gone, full) = (clinics[0].id, clinics[1].id);
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    for (id, address) in [
        (gone, "nobody@clinic.example.jp"),
        (full, "full@clinic.example.jp"),
    ] {
        sqlx::query("UPDATE institutions SET contact_email = $1 WHERE id = $2")
            .bind(address)
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
    }
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let targeting = vec![("area", "yao".to_owned()), ("kind", "clinic".to_owned())];
    let id = create_drill(&w, &mut coordinator, "不達の確認", targeting).await;
    let state_of = |targets: &[renkei_store::safety::TargetRow], inst: i64| {
        targets
            .iter()
            .find(|t| t.institution.id == inst)
            .and_then(|t| t.mail.clone())
    };
    let mut settled = false;
    for _ in 0..200 {
        let targets = w.store.safety_targets(id).await.unwrap();
        if state_of(&targets, gone).is_some_and(|m| m.bounced_at.is_some())
            && state_of(&targets, full).is_some_and(|m| m.attempts > 0)
        {
            settled = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(settled, "both deliveries were tried");
    let targets = w.store.safety_targets(id).await.unwrap();
    let bounced = state_of(&targets, gone).unwrap();
    assert!(bounced.last_error.unwrap().contains("550"));
    let temporary = state_of(&targets, full).unwrap();
    assert!(temporary.bounced_at.is_none() && temporary.sent_at.is_none());
    // The retry tries the over-quota mail again, never the bounced one.
    w.state.mailer.deliver_pending(&w.store).await.unwrap();
    let targets = w.store.safety_targets(id).await.unwrap();
    assert_eq!(state_of(&targets, gone).unwrap().attempts, 1);
    assert_eq!(
        state_of(&targets, full).unwrap().attempts,
        temporary.attempts + 1
    );
    // The dashboard says which is which, and what to do.
    let page = coordinator
        .get(&format!("/hub/safety/{id}?part=live"))
        .await;
    assert!(page.body.contains("不達"), "{}", page.body);
    assert!(page.body.contains("再送します"));
    let outbox = w
        .login(&email_of(AccountRole::SystemAdmin))
        .await
        .get("/admin/outbox")
        .await;
    assert!(outbox.body.contains("不達"));
}

async fn safety_check_notices_and_reminders_arrive_by_smtp(db: TestDb) {
    let (w, smtp) = smtp_world(&db).await;
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let targeting = vec![("area", "yao".to_owned()), ("active_only", "1".to_owned())];
    let id = create_drill(&w, &mut coordinator, "安否確認訓練", targeting).await;
    let targets = w.store.safety_targets(id).await.unwrap();
    assert!(!targets.is_empty());
    let notices = received(&smtp, targets.len()).await;
    for t in &targets {
        let mail = notices
            .iter()
            .find(|m| {
                let to = t.institution.email.as_deref().unwrap();
                m.to.iter().any(|r| r.contains(to))
            })
            .unwrap_or_else(|| panic!("a notice to {}", t.institution.name));
        let text = mail.text();
        assert!(text.contains(&t.institution.name) && text.contains("安否確認（訓練）"));
        let link = link_in(&text, "http://");
        assert!(link.contains("/r/"), "{link}");
        // The mailed link opens the institution's own page.
        let path = &link[link.find("/r/").unwrap()..];
        let page = Browser::new(&w.app).get(path).await;
        assert!(page.body.contains(&t.institution.name), "{path}");
    }
    // Delivery shows on the dashboard.
    for _ in 0..100 {
        if w.store
            .safety_targets(id)
            .await
            .unwrap()
            .iter()
            .all(|t| t.mail.as_ref().is_some_and(|m| m.sent_at.is_some()))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let page = coordinator
        .get(&format!("/hub/safety/{id}?part=live"))
        .await;
    assert!(page.body.contains("送信済み"), "{}", page.body);

    // A reminder to all who have not answered arrives, marked as such.
    let reminded = coordinator
        .post(
            &format!("/hub/safety/{id}"),
            &format!("/hub/safety/{id}/remind"),
            vec![],
        )
        .await;
    assert!(reminded.location().contains("done=reminded"));
    let all = received(&smtp, targets.len() * 2).await;
    let reminders: Vec<_> = all[targets.len()..].iter().collect();
    assert_eq!(reminders.len(), targets.len());
    assert!(reminders
        .iter()
        .all(|m| m.text().contains("まだ回答をいただいていません")));
    assert_eq!(
        w.store.safety_targets(id).await.unwrap()[0].reminders,
        1,
        "counted per target"
    );
}

/// A calendar invitation goes out as a text/calendar part next to the text.
async fn a_calendar_invitation_arrives_as_a_text_calendar_part(db: TestDb) {
    let (w, smtp) = smtp_world(&db).await;
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n";
    w.state
        .mailer
        .send_with(
            &w.store,
            "clinic@example.jp",
            "【退院前カンファレンス】招待",
            "添付の予定をカレンダーに取り込めます。",
            Some(ics),
        )
        .await
        .unwrap();
    let mails = received(&smtp, 1).await;
    let data = &mails[0].data;
    assert!(data.contains("multipart/mixed"), "{data}");
    assert!(
        data.contains("text/calendar; charset=utf-8; method=REQUEST"),
        "{data}"
    );
    let stored = w.store.recent_mails(1).await.unwrap();
    assert_eq!(stored[0].calendar.as_deref(), Some(ics));
    assert!(stored[0].sent_at.is_some());
}

both_backends!(
    a_calendar_invitation_arrives_as_a_text_calendar_part,
    refused_mail_is_marked_bounced_and_temporary_failures_are_retried,
    safety_check_notices_and_reminders_arrive_by_smtp,
    every_field_of_an_entry_is_edited_approved_and_shown,
    staff_propose_changes_that_the_coordinator_approves_or_returns,
    stale_entries_are_confirmed_by_a_one_click_link,
    an_institution_admin_invites_colleagues_only_into_their_own_institution,
    a_coordinator_invites_staff_who_register_through_the_mailed_link,
    a_forgotten_password_is_reset_by_a_one_time_link,
    without_smtp_mail_waits_in_the_outbox_for_administrators,
);
