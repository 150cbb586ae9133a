//! Discharge conferences through the router on SQLite and PostgreSQL: a hospital proposes
//! times and invites a clinic doctor, a visiting nurse and a care manager near the patient;
//! they answer; the best time is marked; the hospital fixes it and everyone gets an iCalendar
//! invitation (METHOD:REQUEST) by mail; moving it sends a new sequence, cancelling a CANCEL.

mod common;

use axum::http::StatusCode;
use common::*;
use renkei_domain::accounts::AccountRole;
use renkei_testkit::{both_backends, TestDb};

/// The first offered option of a `<select name="…">`.
fn first_option(html: &str, select: &str) -> i64 {
    let at = html
        .find(&format!("<select name=\"{select}\">"))
        .expect(select);
    html[at..]
        .split("<option value=\"")
        .nth(2)
        .and_then(|rest| rest.split('"').next()?.parse().ok())
        .expect("an option")
}

async fn a_hospital_arranges_a_discharge_conference(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let hospitals = located(&w, "hospital", &["yao"]).await;
    let h = hospitals
        .iter()
        .find(|h| h.point.is_some())
        .unwrap()
        .clone();
    member_of(
        &w,
        h.id,
        &h.name,
        "ward@conf.example.jp",
        "連携室",
        AccountRole::InstitutionStaff,
    )
    .await;
    let mut ward = w.login("ward@conf.example.jp").await;
    let page = format!("/institutions/{}/conferences?near=八尾市本町", h.id);
    let list = ward.get(&page).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let doctor = first_option(&list.body, "clinic_doctor");
    let nurse = first_option(&list.body, "visiting_nurse");
    let manager = first_option(&list.body, "care_manager");

    let post = format!("/institutions/{}/conferences", h.id);
    let fields = vec![
        ("near", "八尾市本町".to_owned()),
        ("subject", "80代男性・誤嚥性肺炎、在宅酸素導入".into()),
        ("place", "3階カンファレンス室".into()),
        ("minutes", "45".into()),
        ("slot0", "2026-12-03T14:00".into()),
        ("slot1", "2026-12-04T15:30".into()),
        ("clinic_doctor", doctor.to_string()),
        ("visiting_nurse", nurse.to_string()),
        ("care_manager", manager.to_string()),
    ];
    // Bad input first: a past time, a name in the subject, nobody invited.
    let mut past = fields.clone();
    past.push(("slot2", "2026-11-01T10:00".into()));
    let refused = ward.post(&page, &post, past).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("過ぎた時刻"), "{}", refused.body);
    let mut named = fields.clone();
    named[1] = ("subject", "山田様 072-999-1234".into());
    assert!(ward
        .post(&page, &post, named)
        .await
        .body
        .contains("電話番号"));
    let nobody: Vec<_> = fields.iter().take(6).cloned().collect();
    assert!(ward
        .post(&page, &post, nobody)
        .await
        .body
        .contains("1人以上選んで"));

    let proposed = ward.post(&page, &post, fields.clone()).await;
    assert_eq!(proposed.status, StatusCode::SEE_OTHER, "{}", proposed.body);
    let cid: i64 = proposed
        .location()
        .trim_start_matches("/conferences/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let conference = w.store.conference(cid).await.unwrap().unwrap();
    assert_eq!(conference.slots.len(), 2);
    assert_eq!(conference.invitees.len(), 3);
    let mails = w.store.recent_mails(10).await.unwrap();
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.subject.contains("日程調整"))
            .count(),
        3
    );

    // The invitees answer: the doctor cannot make the first time, the others can.
    let url = format!("/conferences/{cid}");
    let (s1, s2) = (conference.slots[0].id, conference.slots[1].id);
    for (n, (who, first, second)) in [
        (doctor, "no", "yes"),
        (nurse, "yes", "yes"),
        (manager, "yes", "maybe"),
    ]
    .into_iter()
    .enumerate()
    {
        let email = format!("invitee{n}@conf.example.jp");
        member_of(
            &w,
            who,
            "招待",
            &email,
            "担当",
            AccountRole::InstitutionStaff,
        )
        .await;
        let mut b = w.login(&email).await;
        let shown = b.get(&url).await;
        assert_eq!(shown.status, StatusCode::OK);
        let invitee = conference
            .invitees
            .iter()
            .find(|v| v.institution_id == who)
            .unwrap()
            .id;
        let answered = b
            .post(
                &url,
                &format!("{url}/answer"),
                vec![
                    (
                        Box::leak(format!("answer-{invitee}-{s1}").into_boxed_str()),
                        first.to_owned(),
                    ),
                    (
                        Box::leak(format!("answer-{invitee}-{s2}").into_boxed_str()),
                        second.to_owned(),
                    ),
                ],
            )
            .await;
        assert_eq!(answered.status, StatusCode::SEE_OTHER, "{}", answered.body);
        // Only the hospital fixes.
        assert_eq!(
            b.post(&url, &format!("{url}/fix"), vec![("slot", s1.to_string())])
                .await
                .status,
            StatusCode::FORBIDDEN
        );
    }
    let grid = ward.get(&url).await;
    assert!(
        grid.body
            .contains(&format!("data-slot=\"{s2}\" class=\"best\"")),
        "the second time suits best"
    );
    // Fixed: everyone and the hospital get the invitation as iCalendar.
    let fixed = ward
        .post(&url, &format!("{url}/fix"), vec![("slot", s2.to_string())])
        .await;
    assert_eq!(fixed.status, StatusCode::SEE_OTHER);
    let mails = w.store.recent_mails(20).await.unwrap();
    let invitations: Vec<_> = mails
        .iter()
        .filter(|m| m.subject.contains("決まりました"))
        .collect();
    assert_eq!(invitations.len(), 4, "three invitees and the hospital");
    let ics = invitations[0]
        .calendar
        .as_deref()
        .expect("an iCalendar part");
    assert!(ics.contains("METHOD:REQUEST\r\n"));
    assert!(ics.contains("DTSTART:20261204T063000Z\r\n"), "15:30 JST");
    assert!(ics.contains("DTEND:20261204T071500Z\r\n"), "45 minutes");
    assert!(ics.contains("SEQUENCE:0\r\n"));
    assert!(ics.contains("ATTENDEE;"));
    // Answers are closed once fixed.
    let mut late = w.login("invitee0@conf.example.jp").await;
    let invitee = conference
        .invitees
        .iter()
        .find(|v| v.institution_id == doctor)
        .unwrap()
        .id;
    let closed = late
        .post(
            &url,
            &format!("{url}/answer"),
            vec![(
                Box::leak(format!("answer-{invitee}-{s1}").into_boxed_str()),
                "yes".to_owned(),
            )],
        )
        .await;
    assert_eq!(closed.status, StatusCode::CONFLICT);
    // The download is the same invitation.
    let download = late.get(&format!("{url}/invite.ics")).await;
    assert_eq!(download.status, StatusCode::OK);
    assert!(download.body.contains("UID:conference-"));

    // Moved: a new sequence. Cancelled: METHOD:CANCEL.
    ward.post(&url, &format!("{url}/fix"), vec![("slot", s1.to_string())])
        .await;
    ward.post(&url, &format!("{url}/cancel"), vec![]).await;
    let mails = w.store.recent_mails(40).await.unwrap();
    let moved = mails
        .iter()
        .find(|m| {
            m.calendar
                .as_deref()
                .is_some_and(|c| c.contains("SEQUENCE:1\r\n") && c.contains("METHOD:REQUEST"))
        })
        .expect("moved");
    assert!(moved
        .calendar
        .as_deref()
        .unwrap()
        .contains("DTSTART:20261203T050000Z"));
    assert!(mails.iter().any(|m| m
        .calendar
        .as_deref()
        .is_some_and(|c| c.contains("METHOD:CANCEL\r\n") && c.contains("STATUS:CANCELLED"))));

    // Strangers get 404; the hub of 八尾 reads.
    let mut stranger = w.login(&email_of(AccountRole::InstitutionStaff)).await;
    assert_eq!(stranger.get(&url).await.status, StatusCode::NOT_FOUND);
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    assert_eq!(coordinator.get(&url).await.status, StatusCode::OK);
}

both_backends!(a_hospital_arranges_a_discharge_conference);
