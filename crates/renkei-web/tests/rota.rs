//! On-call rotas through the router on SQLite and PostgreSQL: a clinic forms a group with nearby
//! clinics, fills November 2026 by weekday (勤労感謝の日 and 文化の日 included), sees gaps and
//! double bookings, who is on call as the clock moves, and exports iCalendar; the hub reads,
//! strangers get 404.

mod common;

use axum::http::StatusCode;
use common::*;
use renkei_domain::accounts::AccountRole;
use renkei_testkit::{both_backends, TestDb};

/// The values of `name="member"` checkboxes offered on the list page.
fn offered(html: &str) -> Vec<i64> {
    html.split("name=\"member\" value=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect()
}

fn problems(html: &str) -> (usize, usize) {
    (
        html.matches("data-problem=\"gap\"").count(),
        html.matches("data-problem=\"double\"").count(),
    )
}

async fn a_group_plans_a_holiday_aware_month_and_knows_who_is_on_call(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let clinics = located(&w, "clinic", &["yao"]).await;
    let a = clinics.iter().find(|c| c.point.is_some()).unwrap().clone();
    member_of(
        &w,
        a.id,
        &a.name,
        "a@rota.example.jp",
        "A",
        AccountRole::InstitutionStaff,
    )
    .await;
    let mut doctor_a = w.login("a@rota.example.jp").await;

    let list = doctor_a.get("/rota").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let near = offered(&list.body);
    assert!(near.len() >= 2, "nearby clinics are offered");
    let (b, c) = (near[0], near[1]);

    // Bad input is refused with the reason, the typing kept.
    let nameless = doctor_a
        .post(
            "/rota",
            "/rota",
            vec![("name", "".into()), ("member", b.to_string())],
        )
        .await;
    assert_eq!(nameless.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(nameless.body.contains("名前を書いて"));
    let alone = doctor_a
        .post(
            "/rota",
            "/rota",
            vec![("name", "一人".into()), ("member", "999999".into())],
        )
        .await;
    assert_eq!(alone.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(alone.body.contains("1か所以上選んで"));

    let created = doctor_a
        .post(
            "/rota",
            "/rota",
            vec![
                ("name", "八尾東部在宅当番".into()),
                ("note", "18時に電話で引き継ぐ".into()),
                ("member", b.to_string()),
                ("member", c.to_string()),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let group: i64 = created
        .location()
        .trim_start_matches("/rota/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let page = format!("/rota/{group}?month=2026-11");
    // B and C are invited: they cannot be put on the rota until their own staff join.
    let early = doctor_a
        .post(
            &page,
            &format!("/rota/{group}/shifts"),
            vec![
                ("month", "2026-11".to_owned()),
                ("day", "2026-11-26".into()),
                ("slot", "night".into()),
                ("member", b.to_string()),
            ],
        )
        .await;
    assert_eq!(early.status, StatusCode::UNPROCESSABLE_ENTITY);
    for (n, who) in [(1, b), (2, c)] {
        let email = format!("m{n}@rota.example.jp");
        member_of(
            &w,
            who,
            "会員",
            &email,
            "医師",
            AccountRole::InstitutionStaff,
        )
        .await;
        let mut staff = w.login(&email).await;
        let invited = staff.get("/rota").await;
        assert!(invited.body.contains("招待中"), "{}", invited.body);
        let shown = staff.get(&page).await;
        assert!(shown.body.contains("data-testid=\"rota-join\""));
        assert!(
            !shown.body.contains("data-testid=\"rota-assign\""),
            "not before joining"
        );
        let joined = staff
            .post(&page, &format!("/rota/{group}/join"), vec![])
            .await;
        assert_eq!(joined.status, StatusCode::SEE_OTHER);
    }
    let month = doctor_a.get(&page).await;
    assert_eq!(month.status, StatusCode::OK);
    // November 2026: 30 nights; daytimes on 4 Saturdays, 5 Sundays, 文化の日 and 勤労感謝の日.
    assert_eq!(problems(&month.body), (41, 0));
    assert!(month.body.contains("勤労感謝の日") && month.body.contains("文化の日"));

    let assign = |fields: Vec<(&'static str, String)>| {
        let mut f = vec![("month", "2026-11".to_owned())];
        f.extend(fields);
        f
    };
    for (pattern, slot, who) in [
        ("mon", "night", a.id),
        ("tue", "night", a.id),
        ("wed", "night", a.id),
        ("thu", "night", b),
        ("fri", "night", b),
        ("sat", "night", c),
        ("sun", "night", c),
        ("sat", "day", c),
        ("sun", "day", b),
        ("holiday", "day", a.id),
    ] {
        let done = doctor_a
            .post(
                &page,
                &format!("/rota/{group}/shifts"),
                assign(vec![
                    ("pattern", pattern.into()),
                    ("slot", slot.into()),
                    ("member", who.to_string()),
                ]),
            )
            .await;
        assert_eq!(
            done.status,
            StatusCode::SEE_OTHER,
            "{pattern} {slot}: {}",
            done.body
        );
    }
    let month = doctor_a.get(&page).await;
    assert_eq!(problems(&month.body), (0, 0), "every slot covered");
    assert!(month.body.contains("すべての枠が埋まっています"));

    // A daytime slot on a working Tuesday does not exist; on the holiday Monday it does.
    let tuesday = doctor_a
        .post(
            &page,
            &format!("/rota/{group}/shifts"),
            assign(vec![
                ("day", "2026-11-24".into()),
                ("slot", "day".into()),
                ("member", b.to_string()),
            ]),
        )
        .await;
    assert_eq!(tuesday.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(tuesday.body.contains("平日です"), "{}", tuesday.body);
    // A second member on Wednesday 25's night: a double booking, shown.
    let double = doctor_a
        .post(
            &page,
            &format!("/rota/{group}/shifts"),
            assign(vec![
                ("day", "2026-11-25".into()),
                ("slot", "night".into()),
                ("member", c.to_string()),
                ("doctor", "佐藤".into()),
            ]),
        )
        .await;
    assert_eq!(double.status, StatusCode::SEE_OTHER);
    let month = doctor_a.get(&page).await;
    assert_eq!(problems(&month.body), (0, 1));
    assert!(month.body.contains("重なり 1 枠"));
    // Taking A off that night leaves C alone; taking C off too leaves a gap.
    let shifts = w
        .store
        .rota_shifts(
            group,
            chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
            chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(shifts.len(), 2);
    let on_a = shifts
        .iter()
        .find(|s| s.shift.institution_id == a.id)
        .unwrap()
        .id;
    let removed = doctor_a
        .post(
            &page,
            &format!("/rota/{group}/shifts/{on_a}/remove"),
            vec![("month", "2026-11".into())],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert_eq!(problems(&doctor_a.get(&page).await.body), (0, 0));

    // Who is on call: Wednesday 25 Nov 10:00 JST is a weekday daytime; at 19:00 it is C (佐藤).
    let now = doctor_a.get(&page).await;
    assert!(now.body.contains("平日の日中"), "{}", now.body);
    // (Hours pass: the session has ended, so log in again.)
    w.clock.advance(chrono::Duration::hours(9));
    let mut doctor_a = w.login("a@rota.example.jp").await;
    let now = doctor_a.get(&page).await;
    let banner = now
        .body
        .split("data-testid=\"on-call-now\"")
        .nth(1)
        .unwrap();
    let banner = banner.split("</section>").next().unwrap();
    assert!(banner.contains("佐藤"), "{banner}");
    // Saturday 28 Nov 10:00 JST: C's daytime.
    w.clock
        .advance(chrono::Duration::days(3) - chrono::Duration::hours(9));
    let mut doctor_a = w.login("a@rota.example.jp").await;
    let list = doctor_a.get("/rota").await;
    assert!(list.body.contains("休日日中"), "{}", list.body);
    let c_name = w
        .store
        .rota_group(group)
        .await
        .unwrap()
        .unwrap()
        .members
        .into_iter()
        .find(|m| m.id == c)
        .unwrap()
        .name;
    assert!(
        list.body.contains(&format!("<strong>{c_name}</strong>")),
        "C is on call on Saturday"
    );

    // iCalendar: one event per shift, in UTC, CRLF lines.
    let ics = doctor_a
        .get(&format!("/rota/{group}/calendar.ics?month=2026-11"))
        .await;
    assert_eq!(ics.status, StatusCode::OK);
    assert!(ics.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/calendar"));
    assert_eq!(ics.body.matches("BEGIN:VEVENT").count(), 41);
    assert!(
        ics.body.contains("DTSTART:20261123T000000Z\r\n"),
        "勤労感謝の日 09:00 JST"
    );
    assert!(ics.body.contains("METHOD:PUBLISH\r\n"));
    // The year-end break: 12/29–12/31 have daytime slots; the night of 12/31 ends in 2027.
    let december = format!("/rota/{group}?month=2026-12");
    let night = doctor_a
        .post(
            &december,
            &format!("/rota/{group}/shifts"),
            vec![
                ("month", "2026-12".to_owned()),
                ("day", "2026-12-31".into()),
                ("slot", "night".into()),
                ("member", a.id.to_string()),
            ],
        )
        .await;
    assert_eq!(night.status, StatusCode::SEE_OTHER, "{}", night.body);
    let shown = doctor_a.get(&december).await;
    assert!(shown.body.contains("年末年始"));
    // 31 nights and 11 daytimes (4 Saturdays, 4 Sundays, 29–31), one night covered.
    assert_eq!(problems(&shown.body), (41, 0));
    let ics = doctor_a
        .get(&format!("/rota/{group}/calendar.ics?month=2026-12"))
        .await;
    assert!(ics
        .body
        .contains("DTSTART:20261231T090000Z\r\nDTEND:20270101T000000Z\r\n"));

    // The hub of 八尾 and the prefecture read; a stranger gets 404 and cannot plan.
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let read = coordinator.get(&page).await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(!read.body.contains("data-testid=\"rota-assign\""));
    assert!(coordinator
        .get("/rota")
        .await
        .body
        .contains("八尾東部在宅当番"));
    let mut prefecture = w.login(&email_of(AccountRole::PrefectureViewer)).await;
    assert_eq!(prefecture.get(&page).await.status, StatusCode::OK);
    let mut stranger = w.login(&email_of(AccountRole::InstitutionStaff)).await;
    assert_eq!(stranger.get(&page).await.status, StatusCode::NOT_FOUND);
    let forged = stranger
        .post(
            "/rota",
            &format!("/rota/{group}/shifts"),
            assign(vec![
                ("day", "2026-11-26".into()),
                ("slot", "night".into()),
                ("member", a.id.to_string()),
            ]),
        )
        .await;
    assert_eq!(forged.status, StatusCode::NOT_FOUND);

    // C leaves on Saturday 28: its shifts from tomorrow go, today's (running now) and earlier
    // stay. There is no way to take another member out.
    let mut staff_c = w.login("m2@rota.example.jp").await;
    let left = staff_c
        .post(&page, &format!("/rota/{group}/leave"), vec![])
        .await;
    assert_eq!(left.status, StatusCode::SEE_OTHER, "{}", left.body);
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let kept = w.store.rota_shifts(group, day(1), day(30)).await.unwrap();
    assert!(kept
        .iter()
        .any(|s| s.shift.institution_id == c && s.shift.day == day(28)));
    assert!(!kept
        .iter()
        .any(|s| s.shift.institution_id == c && s.shift.day == day(29)));
    assert_eq!(
        staff_c.get(&page).await.status,
        StatusCode::NOT_FOUND,
        "no longer a member"
    );
    // Two left: neither can leave the other alone in a group.
    let last = doctor_a
        .post(&page, &format!("/rota/{group}/leave"), vec![])
        .await;
    assert_eq!(last.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(last.body.contains("2か所以上"));
}

both_backends!(a_group_plans_a_holiday_aware_month_and_knows_who_is_on_call);
