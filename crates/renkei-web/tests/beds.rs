//! The bed board through the router on SQLite and PostgreSQL: a hospital publishes its beds by
//! type (impossible counts refused), each count keeps its own time, a day-old count is marked
//! stale until confirmed, and a clinic finds the beds near a place.

mod common;

use axum::http::StatusCode;
use common::*;
use renkei_domain::accounts::AccountRole;
use renkei_domain::beds::BedType;
use renkei_testkit::{both_backends, TestDb};

fn counts(respite: (&str, &str, &str), emergency: (&str, &str)) -> Vec<(&'static str, String)> {
    vec![
        ("respite_available", respite.0.into()),
        ("respite_physical", respite.1.into()),
        ("respite_conditions", respite.2.into()),
        ("emergency_available", emergency.0.into()),
        ("emergency_physical", emergency.1.into()),
    ]
}

async fn hospitals_publish_beds_and_clinics_find_them(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let hospitals = located(&w, "hospital", &["yao"]).await;
    assert!(hospitals.len() >= 2, "the demo has hospitals in 八尾");
    let (h1, h2) = (&hospitals[0], &hospitals[1]);
    member_of(
        &w,
        h1.id,
        &h1.name,
        "ward1@beds.example.jp",
        "連携室",
        AccountRole::InstitutionStaff,
    )
    .await;
    member_of(
        &w,
        h2.id,
        &h2.name,
        "ward2@beds.example.jp",
        "連携室",
        AccountRole::InstitutionStaff,
    )
    .await;
    let mut ward1 = w.login("ward1@beds.example.jp").await;
    let page = format!("/institutions/{}/beds", h1.id);

    // Impossible counts are refused with the type named; the typing is kept.
    let wrong = ward1
        .post(
            &page,
            &page,
            counts(("2", "4", "人工呼吸器は不可"), ("5", "3")),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong.body.contains("緊急入院") && wrong.body.contains("病床数（3）"),
        "{}",
        wrong.body
    );
    assert!(wrong.body.contains("人工呼吸器は不可"));
    let negative = ward1
        .post(&page, &page, counts(("-1", "", ""), ("", "")))
        .await;
    assert_eq!(negative.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Saved in full-width digits as typed on a phone.
    let saved = ward1
        .post(
            &page,
            &page,
            counts(("２", "４", "人工呼吸器は不可"), ("1", "3")),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let row = |w: &World, id: i64| {
        let store = w.store.clone();
        async move {
            store
                .bed_counts(&[id])
                .await
                .unwrap()
                .into_iter()
                .find(|r| r.count.bed_type == BedType::Respite)
                .unwrap()
        }
    };
    let first = row(&w, h1.id).await;
    assert_eq!(
        (first.count.available, first.count.physical),
        (Some(2), Some(4))
    );

    // Two hours later only the conditions change: only their time moves.
    w.clock.advance(chrono::Duration::hours(2));
    let mut ward1 = w.login("ward1@beds.example.jp").await;
    ward1
        .post(
            &page,
            &page,
            counts(("2", "4", "人工呼吸器・透析は不可"), ("1", "3")),
        )
        .await;
    let second = row(&w, h1.id).await;
    assert_eq!(second.available_at, first.available_at);
    assert_ne!(second.conditions_at, first.conditions_at);

    // The other hospital publishes none free.
    let mut ward2 = w.login("ward2@beds.example.jp").await;
    let other = format!("/institutions/{}/beds", h2.id);
    assert_eq!(
        ward2
            .post(&other, &other, counts(("0", "2", ""), ("", "")))
            .await
            .status,
        StatusCode::SEE_OTHER
    );

    // A clinic's nurse searches near 八尾市本町: the free beds first.
    let (clinic, mut nurse) = {
        let clinics = located(&w, "clinic", &["yao"]).await;
        let c = clinics.into_iter().find(|c| c.point.is_some()).unwrap();
        member_of(
            &w,
            c.id,
            &c.name,
            "nurse@beds.example.jp",
            "看護師",
            AccountRole::InstitutionStaff,
        )
        .await;
        let b = w.login("nurse@beds.example.jp").await;
        (c, b)
    };
    let board = nurse.get("/beds?type=respite&place=八尾市本町&km=30").await;
    assert_eq!(board.status, StatusCode::OK, "{}", board.body);
    let at1 = board
        .body
        .find(&format!("data-institution=\"{}\"", h1.id))
        .expect("h1 listed");
    let at2 = board
        .body
        .find(&format!("data-institution=\"{}\"", h2.id))
        .expect("h2 listed");
    assert!(at1 < at2, "the one with free beds first");
    assert!(board.body.contains("人工呼吸器・透析は不可"));
    assert!(!board.body.contains("data-testid=\"stale\""));
    assert!(board.body.contains("空床を公開していない病院"));
    // With no place, the nurse's board starts from her own clinic's town.
    let around = nurse.get("/beds?type=respite&km=30").await;
    assert_eq!(around.status, StatusCode::OK);
    assert!(
        around
            .body
            .contains(&format!("data-institution=\"{}\"", h1.id)),
        "the beds near her clinic ({}) without typing a place",
        clinic.name
    );
    // With no place and no institution, the board asks for one.
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    assert!(coordinator
        .get("/beds")
        .await
        .body
        .contains("場所（市と町名）を入れてください"));

    // A day later the counts are stale, on the board and the hospital's page, until confirmed.
    w.clock.advance(chrono::Duration::hours(23));
    let mut nurse = w.login("nurse@beds.example.jp").await;
    let board = nurse.get("/beds?type=respite&place=八尾市本町&km=30").await;
    assert!(board.body.contains("data-testid=\"stale\""));
    // Stale free beds are no longer put first as if they could be trusted.
    assert!(!board.body.contains(&format!(
        "data-institution=\"{}\" class=\"open-row\"",
        h1.id
    )));
    let mut ward1 = w.login("ward1@beds.example.jp").await;
    assert!(ward1
        .get(&page)
        .await
        .body
        .contains("data-testid=\"stale\""));
    let mut confirm = counts(("2", "4", "人工呼吸器・透析は不可"), ("1", "3"));
    confirm.push(("confirm", "1".into()));
    assert_eq!(
        ward1.post(&page, &page, confirm).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(!ward1
        .get(&page)
        .await
        .body
        .contains("data-testid=\"stale\""));
    let confirmed = row(&w, h1.id).await;
    assert_ne!(confirmed.available_at, first.available_at);
    assert_eq!(confirmed.count.available, Some(2));

    // Only the hospital's staff edit its beds.
    assert_eq!(
        nurse
            .post("/beds", &page, counts(("9", "9", ""), ("", "")))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(nurse.get(&page).await.status, StatusCode::FORBIDDEN);
}

both_backends!(hospitals_publish_beds_and_clinics_find_them);
