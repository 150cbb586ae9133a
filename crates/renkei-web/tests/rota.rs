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

    // A member leaves with its shifts from today; a group of two keeps its two.
    let left = doctor_a
        .post(&page, &format!("/rota/{group}/members/{c}/remove"), vec![])
        .await;
    assert_eq!(left.status, StatusCode::SEE_OTHER);
    let after = doctor_a
        .get(
            "/rota/{group}?month=2026-11"
                .replace("{group}", &group.to_string())
                .as_str(),
        )
        .await;
    let (gaps, _) = problems(&after.body);
    assert!(gaps > 0, "C's shifts from 28 Nov are gone");
    let kept = w
        .store
        .rota_shifts(
            group,
            chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
        )
        .await
        .unwrap();
    assert!(
        kept.iter().any(|s| s.shift.institution_id == c),
        "past shifts stay"
    );
    let last = doctor_a
        .post(&page, &format!("/rota/{group}/members/{b}/remove"), vec![])
        .await;
    assert_eq!(last.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(last.body.contains("2か所以上"));
}

both_backends!(a_group_plans_a_holiday_aware_month_and_knows_who_is_on_call);
