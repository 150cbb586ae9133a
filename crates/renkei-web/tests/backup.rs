//! Backup coverage through the router on SQLite and PostgreSQL: a clinic records a doctor's
//! absence and asks nearby clinics to cover; the same doctor away twice over the same days is
//! refused; a backup that is itself away is named before it is asked; the backup accepts or
//! declines; both sides and the hub see who covers, during the absence too.

mod common;

use axum::http::StatusCode;
use common::*;
use renkei_domain::accounts::AccountRole;
use renkei_domain::backup::CoverageStatus;
use renkei_testkit::{both_backends, TestDb};

fn offered(html: &str) -> Vec<i64> {
    html.split("name=\"backup\" value=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect()
}

fn absence(doctor: &str, from: &str, until: &str) -> Vec<(&'static str, String)> {
    vec![
        ("doctor", doctor.into()),
        ("starts_on", from.into()),
        ("ends_on", until.into()),
        ("note", "急変の可能性がある患者は3名".into()),
    ]
}

async fn an_absence_is_covered_and_everyone_sees_who_covers(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let clinics = located(&w, "clinic", &["yao"]).await;
    let a = clinics.iter().find(|c| c.point.is_some()).unwrap().clone();
    member_of(
        &w,
        a.id,
        &a.name,
        "a@backup.example.jp",
        "A",
        AccountRole::InstitutionStaff,
    )
    .await;
    let mut staff_a = w.login("a@backup.example.jp").await;
    let page_a = format!("/institutions/{}/backup", a.id);
    let shown = staff_a.get(&page_a).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    let near = offered(&shown.body);
    assert!(near.len() >= 2);
    let (b, c) = (near[0], near[1]);
    member_of(
        &w,
        b,
        "B",
        "b@backup.example.jp",
        "B",
        AccountRole::InstitutionStaff,
    )
    .await;
    member_of(
        &w,
        c,
        "C",
        "c@backup.example.jp",
        "C",
        AccountRole::InstitutionStaff,
    )
    .await;

    // Bad days are refused with the reason.
    for (from, until, says) in [
        ("2026-12-31", "2026-12-28", "初日より前"),
        ("2026-11-01", "2026-11-03", "終わった不在"),
        ("2026-12-01", "2027-06-30", "92日まで"),
    ] {
        let bad = staff_a
            .post(&page_a, &page_a, absence("山田 太郎", from, until))
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{from}");
        assert!(bad.body.contains(says), "{from}: {}", bad.body);
    }

    // B is itself away over some of the days.
    let mut staff_b = w.login("b@backup.example.jp").await;
    let page_b = format!("/institutions/{b}/backup");
    let own_b = staff_b
        .post(
            &page_b,
            &page_b,
            absence("佐藤 花子", "2026-12-29", "2026-12-30"),
        )
        .await;
    assert_eq!(own_b.status, StatusCode::SEE_OTHER, "{}", own_b.body);

    // A asks B and C: B's absence is named first; confirmed, the request goes.
    let mut ask = absence("山田 太郎", "2026-12-28", "2026-12-31");
    ask.push(("backup", b.to_string()));
    ask.push(("backup", c.to_string()));
    let warned = staff_a.post(&page_a, &page_a, ask.clone()).await;
    assert_eq!(warned.status, StatusCode::CONFLICT);
    assert!(warned.body.contains("佐藤 花子") && warned.body.contains("同じ期間に不在"));
    assert!(warned.body.contains("data-testid=\"despite-away\""));
    assert!(
        warned.body.contains("急変の可能性がある患者は3名"),
        "the typing is kept"
    );
    ask.push(("despite_away", "1".into()));
    let recorded = staff_a.post(&page_a, &page_a, ask).await;
    assert_eq!(recorded.status, StatusCode::SEE_OTHER, "{}", recorded.body);
    let mails = w.store.recent_mails(10).await.unwrap();
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.subject.contains("バックアップの依頼"))
            .count(),
        2
    );

    // The same doctor, however written, cannot be away twice over the same days.
    let twice = staff_a
        .post(
            &page_a,
            &page_a,
            absence("山田太郎先生", "2026-12-31", "2027-01-03"),
        )
        .await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(twice.body.contains("日が重なっています"), "{}", twice.body);
    // Another doctor of the clinic may be away then.
    let other = staff_a
        .post(
            &page_a,
            &page_a,
            absence("鈴木 一郎", "2026-12-30", "2027-01-02"),
        )
        .await;
    assert_eq!(other.status, StatusCode::SEE_OTHER);

    // Before anyone accepts, the clinic and the hub see it uncovered.
    assert!(staff_a
        .get(&page_a)
        .await
        .body
        .contains("data-testid=\"uncovered\""));
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let hub = coordinator.get("/hub/backup").await;
    assert_eq!(hub.status, StatusCode::OK, "{}", hub.body);
    assert!(
        hub.body.contains("バックアップが決まっていない不在が 3 件"),
        "{}",
        hub.body
    );

    // B sees the request and that it is away itself; it accepts. C must give a reason.
    let mut staff_b = w.login("b@backup.example.jp").await;
    let b_view = staff_b.get(&page_b).await;
    assert!(
        b_view
            .body
            .contains("title=\"回答を待っている依頼\">1</span>"),
        "the request for backup waits in the navigation"
    );
    assert!(
        b_view.body.contains("data-testid=\"self-away\""),
        "{}",
        b_view.body
    );
    let absence_id = w
        .store
        .absences_of(a.id, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|x| x.absence.doctor == "山田 太郎")
        .unwrap();
    let to_b = absence_id
        .coverages
        .iter()
        .find(|x| x.backup_id == b)
        .unwrap()
        .id;
    let to_c = absence_id
        .coverages
        .iter()
        .find(|x| x.backup_id == c)
        .unwrap()
        .id;
    let accepted = staff_b
        .post(
            &page_b,
            &format!("/backup/coverages/{to_b}/decide"),
            vec![("accept", "1".into())],
        )
        .await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER);
    let again = staff_b
        .post(
            &page_b,
            &format!("/backup/coverages/{to_b}/decide"),
            vec![("accept", "1".into())],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "answered once");
    let mut staff_c = w.login("c@backup.example.jp").await;
    let page_c = format!("/institutions/{c}/backup");
    let bare = staff_c
        .post(
            &page_c,
            &format!("/backup/coverages/{to_c}/decide"),
            vec![("accept", "0".into())],
        )
        .await;
    assert_eq!(bare.status, StatusCode::UNPROCESSABLE_ENTITY);
    let declined = staff_c
        .post(
            &page_c,
            &format!("/backup/coverages/{to_c}/decide"),
            vec![
                ("accept", "0".into()),
                ("reason", "年末は院長一人のため".into()),
            ],
        )
        .await;
    assert_eq!(declined.status, StatusCode::SEE_OTHER);
    // Nobody else answers for B.
    assert_eq!(
        staff_c
            .post(
                &page_c,
                &format!("/backup/coverages/{to_b}/decide"),
                vec![("accept", "0".into()), ("reason", "x".into())]
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // During the absence (28 Dec) both sides and the hub see who covers.
    w.clock.advance(chrono::Duration::days(33));
    let mut staff_a = w.login("a@backup.example.jp").await;
    let mine = staff_a.get(&page_a).await;
    assert!(
        mine.body.contains("data-phase=\"current\""),
        "{}",
        mine.body
    );
    assert!(mine.body.contains("年末は院長一人のため"));
    let mut staff_b = w.login("b@backup.example.jp").await;
    let theirs = staff_b.get(&page_b).await;
    assert!(theirs.body.contains("不在中") && theirs.body.contains(&a.name));
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let hub = coordinator.get("/hub/backup").await;
    assert!(
        hub.body.contains("バックアップが決まっていない不在が 2 件"),
        "B's own absence and 鈴木's are not covered"
    );

    // Strangers neither see nor act.
    let mut stranger = w.login(&email_of(AccountRole::InstitutionStaff)).await;
    assert_eq!(stranger.get(&page_a).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        stranger
            .post(
                "/",
                &format!("/backup/absences/{}/cancel", absence_id.id),
                vec![]
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Cancelled, the absence stays in the history and B is told.
    let cancelled = staff_a
        .post(
            &page_a,
            &format!("/backup/absences/{}/cancel", absence_id.id),
            vec![],
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::SEE_OTHER);
    let after = w.store.absence(absence_id.id).await.unwrap().unwrap();
    assert!(after.cancelled_at.is_some());
    assert!(after
        .coverages
        .iter()
        .all(|x| x.status != CoverageStatus::Accepted));
    let mails = w.store.recent_mails(20).await.unwrap();
    assert!(mails
        .iter()
        .any(|m| m.subject.contains("取り下げられました")));
}

both_backends!(an_absence_is_covered_and_everyone_sees_who_covers);
