//! The consultation window through the router on SQLite and PostgreSQL: a coordinator notes
//! consultations (bad input named, identifying text refused, a referral to a directory
//! institution found by name), follows up (a reminder mail once, on the day), sees the year's
//! figures by month, topic and caller with charts, downloads them, and writes them into the
//! hub's ledger (②) so the prefecture report says them; other hubs' coordinators, institution
//! staff and the prefecture see no note.

mod common;

use axum::http::StatusCode;
use common::*;
use renkei_domain::accounts::AccountRole;
use renkei_testkit::{both_backends, TestDb};

fn note(caller: &str, topics: &[&str], minutes: &str) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("received_at", "2026-11-20T10:30".to_owned()),
        ("area", "yao".into()),
        ("channel", "phone".into()),
        ("caller", caller.into()),
        ("action", "information".into()),
        ("summary", "退院後の訪問診療医を探している".into()),
        ("minutes", minutes.into()),
    ];
    for t in topics {
        v.push(("topic", (*t).to_owned()));
    }
    v
}

async fn a_coordinator_notes_follows_up_and_reports_consultations(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let mut hub = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let page = hub.get("/hub/consultations").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("data-testid=\"consultation-form\""));

    // Bad input: the field is named, nothing is kept.
    let mut bad = note("family", &[], "15");
    let refused = hub
        .post("/hub/consultations", "/hub/consultations", bad.clone())
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("分類"), "{}", refused.body);
    bad.push(("topic", "finding_doctor".into()));
    bad[5] = ("summary", "長男 090-1234-5678 から相談".into());
    let refused = hub
        .post("/hub/consultations", "/hub/consultations", bad)
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("電話番号"), "{}", refused.body);
    let not_mine = {
        let mut v = note("family", &["cost"], "10");
        v[1] = ("area", "kashiwara".into());
        v
    };
    let refused = hub
        .post("/hub/consultations", "/hub/consultations", not_mine)
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let refused = hub
        .post(
            "/hub/consultations",
            "/hub/consultations",
            note("family", &["cost"], "しばらく"),
        )
        .await;
    assert!(refused.body.contains("例：15"), "{}", refused.body);

    // A referral: the institution found by name, then ticked.
    let clinic = located(&w, "clinic", &["yao"]).await.remove(0);
    let find = format!(
        "/hub/consultations?find={}",
        serde_urlencoded::to_string([("x", clinic.name.as_str())]).unwrap()[2..].to_owned()
    );
    let found = hub.get(&find).await;
    assert!(
        found
            .body
            .contains(&format!("name=\"referral\" value=\"{}\"", clinic.id)),
        "{}",
        found.body
    );
    let mut referred = note("care_manager", &["finding_doctor", "discharge"], "２０分");
    referred[4] = ("action", "referral".into());
    referred.push(("referral", clinic.id.to_string()));
    let saved = hub
        .post("/hub/consultations", "/hub/consultations", referred)
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(
        saved.location(),
        "/hub/consultations?done=saved&month=2026-11"
    );
    // Two more, one with a follow-up due next week.
    let saved = hub
        .post(
            "/hub/consultations",
            "/hub/consultations",
            note("family", &["finding_doctor"], "15"),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let mut follow = note("hospital_msw", &["end_of_life"], "30");
    follow.push(("action", "follow_up".into()));
    follow.push(("follow_up_on", "2026-12-01".into()));
    let saved = hub
        .post("/hub/consultations", "/hub/consultations", follow)
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let month = hub.get("/hub/consultations?month=2026-11").await.body;
    assert_eq!(month.matches("data-note=").count(), 3, "{month}");
    assert!(month.contains(&clinic.name));
    assert!(month.contains("data-testid=\"follow-ups\""));
    let only = hub
        .get("/hub/consultations?month=2026-11&topic=end_of_life")
        .await
        .body;
    assert_eq!(only.matches("data-note=").count(), 1);

    // The reminder goes out once, on the day, to the coordinator; naming nobody.
    assert_eq!(
        renkei_web::pages::consultation::remind_due_follow_ups(&w.state)
            .await
            .unwrap(),
        0,
        "not yet due"
    );
    w.clock.advance(chrono::Duration::days(6));
    for expected in [1, 0] {
        assert_eq!(
            renkei_web::pages::consultation::remind_due_follow_ups(&w.state)
                .await
                .unwrap(),
            expected
        );
    }
    let mails = w.store.recent_mails(10).await.unwrap();
    let reminder = mails
        .iter()
        .find(|m| m.subject.contains("フォローアップ"))
        .unwrap();
    assert_eq!(reminder.to_address, email_of(AccountRole::HubCoordinator));
    assert!(reminder.body.contains("/hub/consultations#note-"));
    let mut hub = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let page = hub.get("/hub/consultations").await.body;
    let id = page
        .split("action=\"/hub/consultations/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap()
        .to_owned();
    let done = hub
        .post(
            "/hub/consultations",
            &format!("/hub/consultations/{id}/done"),
            Vec::new(),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(!hub
        .get("/hub/consultations")
        .await
        .body
        .contains("data-testid=\"follow-ups\""));

    // The year's figures: by month, topic and caller, with charts.
    let stats = hub.get("/hub/consultations/stats?fy=2026").await.body;
    assert!(stats.contains("data-total=\"3\""), "{stats}");
    assert!(stats.contains("data-testid=\"chart-consultations-by-month\""));
    assert!(stats.contains("data-testid=\"chart-consultations-by-topic\""));
    assert!(stats.contains("65 分"), "15 + 20 + 30 minutes: {stats}");
    // Exports for Excel.
    let csv = hub.get("/hub/consultations.csv?fy=2026").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.body.lines().count(), 4, "{}", csv.body);
    assert!(csv.body.contains("ケアマネジャー") && csv.body.contains(&clinic.name));
    let xlsx = hub.get("/hub/consultations.xlsx?fy=2026").await;
    assert_eq!(xlsx.status, StatusCode::OK);

    // Into the ledger (②), replaced by a later press; the report says it.
    for _ in 0..2 {
        let recorded = hub
            .post(
                "/hub/consultations/stats",
                "/hub/consultations/ledger",
                vec![("fy", "2026".into())],
            )
            .await;
        assert_eq!(recorded.status, StatusCode::SEE_OTHER, "{}", recorded.body);
        assert!(recorded.location().contains("done=recorded"));
    }
    let ledger = w.store.ledger("yao", 2026).await.unwrap().unwrap().ledger;
    let items: Vec<_> = ledger
        .items
        .iter()
        .filter(|i| i.title.starts_with("電話相談窓口"))
        .collect();
    assert_eq!(items.len(), 1, "one item, replaced");
    assert!(
        items[0].title.contains("相談 3 件・紹介 1 件"),
        "{}",
        items[0].title
    );
    assert_eq!(items[0].duties, vec![2]);
    assert!(hub
        .get("/ledger/2026/report")
        .await
        .body
        .contains("電話相談窓口"));

    // Nobody else sees a note: the prefecture sees the figures only.
    let mut prefecture = w.login(&email_of(AccountRole::PrefectureViewer)).await;
    assert_eq!(
        prefecture.get("/hub/consultations").await.status,
        StatusCode::FORBIDDEN
    );
    let figures = prefecture.get("/hub/consultations/stats?fy=2026").await;
    assert_eq!(figures.status, StatusCode::OK);
    assert!(figures.body.contains("data-total=\"3\""));
    assert!(!figures.body.contains("退院後の訪問診療医を探している"));
    let mut staff = w.login(&email_of(AccountRole::InstitutionStaff)).await;
    assert_eq!(
        staff.get("/hub/consultations").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        staff.get("/hub/consultations/stats").await.status,
        StatusCode::FORBIDDEN
    );
    let mut admin = w.login(&email_of(AccountRole::SystemAdmin)).await;
    assert_eq!(
        admin.get("/hub/consultations.csv").await.status,
        StatusCode::FORBIDDEN
    );
}

both_backends!(a_coordinator_notes_follows_up_and_reports_consultations);
