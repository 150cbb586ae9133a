//! Events through the router on SQLite and PostgreSQL: a coordinator announces a public ACP
//! lecture; anyone registers from the public calendar and gets the confirmation mail with a
//! link to cancel; a second registration of the same address (however written), one past the
//! capacity, racing registrations for the last seat and one after the start are refused with a
//! clear message; the coordinator checks people in and writes the held event into the ledger
//! (⑤) so the report says it.

mod common;

use axum::http::StatusCode;
use common::*;
use renkei_domain::accounts::AccountRole;
use renkei_testkit::{both_backends, TestDb};

fn lecture(capacity: &str) -> Vec<(&'static str, String)> {
    vec![
        ("title", "人生会議（ACP）講習会".to_owned()),
        ("area", "yao".into()),
        ("kind", "lecture".into()),
        ("audience", "citizens".into()),
        ("starts_at", "2026-12-12T14:00".into()),
        ("ends_time", "16:00".into()),
        ("place", "八尾市文化会館".into()),
        ("organiser", "八尾市医師会".into()),
        ("capacity", capacity.into()),
        ("public", "1".into()),
        (
            "description",
            "もしものときに備えて、話し合っておきましょう。".into(),
        ),
    ]
}

fn person(name: &str, email: &str) -> Vec<(&'static str, String)> {
    vec![
        ("name", name.to_owned()),
        ("organisation", String::new()),
        ("profession", String::new()),
        ("email", email.to_owned()),
    ]
}

async fn citizens_register_for_a_lecture_and_the_hub_counts_them(db: TestDb) {
    let w = world(&db).await;
    let mut hub = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let mut bad = lecture("3");
    bad[5] = ("ends_time", "13:00".into());
    let refused = hub.post("/hub/events", "/hub/events", bad).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("終わりの時刻"), "{}", refused.body);
    let created = hub.post("/hub/events", "/hub/events", lecture("3")).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let hub_url = created.location().to_owned();
    let id: i64 = hub_url.rsplit('/').next().unwrap().parse().unwrap();
    let url = format!("/events/{id}");

    // Anyone finds it on the calendar and registers.
    let mut citizen = Browser::new(&w.app);
    let calendar = citizen.get("/events").await;
    assert_eq!(calendar.status, StatusCode::OK);
    assert!(calendar.body.contains("人生会議（ACP）講習会") && calendar.body.contains("残り 3 席"));
    let page = citizen.get(&url).await;
    assert!(page.body.contains("data-testid=\"registration-form\""));
    let bad = citizen
        .post(
            &url,
            &format!("{url}/register"),
            person("河内 太郎", "taro-at-example"),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("アドレス") && bad.body.contains("河内 太郎"),
        "typed text kept"
    );
    let done = citizen
        .post(
            &url,
            &format!("{url}/register"),
            person("河内 太郎", "taro@example.jp"),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("data-testid=\"registered\""));
    let mails = w.store.recent_mails(10).await.unwrap();
    let mail = mails
        .iter()
        .find(|m| m.to_address == "taro@example.jp")
        .unwrap();
    assert!(
        mail.subject.contains("人生会議")
            && mail.body.contains("令和8年12月12日（土）14:00〜16:00")
    );
    let link = mail
        .body
        .lines()
        .find(|l| l.contains("/events/registration/"))
        .unwrap()
        .split("/events/registration/")
        .nth(1)
        .unwrap()
        .trim()
        .to_owned();

    // The same address again, however written: nothing added (two seats stay, below), and the
    // page looks like any registration — it must not tell a stranger that this person signed
    // up (L9 of the security probe); the mail tells the owner.
    let again = citizen
        .post(
            &url,
            &format!("{url}/register"),
            person("河内 太郎", " ＴＡＲＯ@Example.jp "),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert!(!again.body.contains("すでに"), "{}", again.body);
    let to_taro: Vec<_> = w
        .store
        .recent_mails(10)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.to_address.eq_ignore_ascii_case("taro@example.jp"))
        .collect();
    assert_eq!(
        to_taro.len(),
        2,
        "{:?}",
        to_taro.iter().map(|m| &m.to_address).collect::<Vec<_>>()
    );
    assert!(
        to_taro[0].body.contains("すでに参加登録をいただいています")
            && !to_taro[0].body.contains("/events/registration/"),
        "{}",
        to_taro[0].body
    );

    // Four people race for the two seats left: exactly two get them.
    let mut racers = Vec::new();
    for k in 0..4 {
        let mut b = Browser::new(&w.app);
        let token = csrf_in(&b.get(&url).await.body).unwrap();
        racers.push((b, token, k));
    }
    let results = futures_util::future::join_all(racers.into_iter().map(|(mut b, token, k)| {
        let url = url.clone();
        async move {
            let mut fields = person(&format!("参加者{k}"), &format!("p{k}@example.jp"));
            fields.push(("csrf_token", token));
            b.send("POST", &format!("{url}/register"), Some(fields))
                .await
                .status
        }
    }))
    .await;
    assert_eq!(
        results.iter().filter(|s| **s == StatusCode::OK).count(),
        2,
        "{results:?}"
    );
    assert_eq!(
        results
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        2
    );
    let full = citizen.get(&url).await.body;
    assert!(full.contains("data-testid=\"closed\"") && full.contains("定員に達した"));

    // Cancelling by the mailed link frees the seat.
    let mine = citizen.get(&format!("/events/registration/{link}")).await;
    assert!(mine.body.contains("data-testid=\"cancel-registration\""));
    let cancelled = citizen
        .post(
            &format!("/events/registration/{link}"),
            &format!("/events/registration/{link}"),
            Vec::new(),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::SEE_OTHER);
    assert!(citizen
        .get(&format!("/events/registration/{link}"))
        .await
        .body
        .contains("data-testid=\"registration-cancelled\""));
    assert!(citizen.get(&url).await.body.contains("残り 1 席"));
    assert_eq!(
        citizen.get("/events/registration/0000").await.status,
        StatusCode::NOT_FOUND
    );

    // On the day: check-in; after the start nobody registers any more.
    let list = hub.get(&hub_url).await.body;
    assert!(list.contains("data-registered=\"2\""), "{list}");
    let reg = list
        .split(&format!("/hub/events/{id}/attendance/"))
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let checked = hub
        .post(
            &hub_url,
            &format!("/hub/events/{id}/attendance/{reg}"),
            vec![("attended", "1".into())],
        )
        .await;
    assert_eq!(checked.status, StatusCode::SEE_OTHER);
    assert!(hub.get(&hub_url).await.body.contains("data-attended=\"1\""));
    // Someone opened the form before the start and sends it after.
    let mut late_comer = Browser::new(&w.app);
    let token = csrf_in(&late_comer.get(&url).await.body).unwrap();
    w.clock.advance(chrono::Duration::days(18));
    let mut fields = person("遅れ 花子", "late@example.jp");
    fields.push(("csrf_token", token));
    let late = late_comer
        .send("POST", &format!("{url}/register"), Some(fields))
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert!(late.body.contains("受付は終了"), "{}", late.body);

    // Into the ledger as ⑤ with the attendance; the report says it.
    let mut hub = w.login(&email_of(AccountRole::HubCoordinator)).await;
    for _ in 0..2 {
        let recorded = hub
            .post(
                "/hub/events",
                "/hub/events/ledger",
                vec![("fy", "2026".into())],
            )
            .await;
        assert_eq!(recorded.location(), "/hub/events?done=recorded");
    }
    let ledger = w.store.ledger("yao", 2026).await.unwrap().unwrap().ledger;
    let items: Vec<_> = ledger
        .items
        .iter()
        .filter(|i| i.title.starts_with("人生会議（ACP）講習会"))
        .collect();
    assert_eq!(items.len(), 1, "one item per event, replaced");
    assert_eq!(items[0].duties, vec![5]);
    assert!(items[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("参加 1 人（申込 2 人）"));
    assert!(hub
        .get("/ledger/2026/report")
        .await
        .body
        .contains("人生会議（ACP）講習会"));

    // The hub's pages are the coordinator's; a closed event is not shown to the public.
    let mut staff = w.login(&email_of(AccountRole::InstitutionStaff)).await;
    assert_eq!(staff.get("/hub/events").await.status, StatusCode::FORBIDDEN);
    let mut private = lecture("");
    private[0] = ("title", "事例検討会（会員限定）".into());
    private[9] = ("public", "0".into());
    private[4] = ("starts_at", "2027-01-20T19:00".into());
    private[5] = ("ends_time", "20:30".into());
    let made = hub.post("/hub/events", "/hub/events", private).await;
    let private_id = made.location().rsplit('/').next().unwrap().to_owned();
    assert_eq!(
        citizen.get(&format!("/events/{private_id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(!citizen.get("/events").await.body.contains("会員限定"));
}

both_backends!(citizens_register_for_a_lecture_and_the_hub_counts_them);
