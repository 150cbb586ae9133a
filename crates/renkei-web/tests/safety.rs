//! Safety checks through the router on SQLite and PostgreSQL: a coordinator sends a drill to
//! the institutions of their area, institutions answer by their own links (no login, two
//! steps, versions kept, resubmissions and absurd numbers handled), the dashboard counts and
//! streams updates, answers are taken by phone, reminders go out, exports download, and forged,
//! closed or crawled links record nothing.

mod common;

use axum::http::StatusCode;
use common::*;
use renkei_domain::accounts::AccountRole;
use renkei_domain::safety::Condition;
use renkei_testkit::{both_backends, TestDb};

fn deadline_in(w: &World, hours: i64) -> String {
    (renkei_web::clock::Clock::now(&*w.clock) + chrono::Duration::hours(hours))
        .with_timezone(&renkei_domain::japan::jst())
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// Creates a drill for 八尾's hospitals and clinics; returns the check's id.
async fn drill(w: &World, coordinator: &mut Browser) -> i64 {
    let created = coordinator
        .post(
            "/hub/safety/new",
            "/hub/safety",
            vec![
                ("check_kind", "drill".into()),
                ("title", "880万人訓練 安否確認".into()),
                ("deadline", deadline_in(w, 2)),
                ("message", "訓練です。".into()),
                ("area", "yao".into()),
                ("kind", "hospital".into()),
                ("kind", "clinic".into()),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let location = created.location().to_owned();
    assert!(location.ends_with("?done=created"), "{location}");
    check_id_of(&location)
}

/// The check's id in the location after creating it (`/hub/safety/7?done=created`).
fn check_id_of(location: &str) -> i64 {
    location
        .trim_start_matches("/hub/safety/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The link path (`/r/…`) of a target.
fn link_path(w: &World, target: &renkei_store::safety::TargetRow) -> String {
    let token = w
        .store
        .safety_link_token(target.id, &target.link_salt)
        .unwrap();
    format!("/r/{token}")
}

fn quick(people: &str, power: &str, fuel: &str, accept: &str) -> Vec<(&'static str, String)> {
    vec![
        ("people", people.into()),
        ("building", "intact".into()),
        ("power", power.into()),
        ("fuel_hours", fuel.into()),
        ("water", "available".into()),
        ("can_accept", accept.into()),
    ]
}

async fn wait_for_mails(w: &World, at_least: usize) -> Vec<renkei_store::mail::OutboxMail> {
    for _ in 0..100 {
        let mails = w.store.recent_mails(1000).await.unwrap();
        if mails.len() >= at_least {
            return mails;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("fewer than {at_least} mails were queued");
}

async fn a_drill_goes_out_and_answers_come_back_by_link(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;

    // Bad input on the form: the typing comes back with the reason.
    let refused = coordinator
        .post(
            "/hub/safety/new",
            "/hub/safety",
            vec![
                ("check_kind", "drill".into()),
                ("title", "期限切れの訓練".into()),
                ("deadline", deadline_in(&w, -1)),
                ("area", "yao".into()),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("回答期限は今より後") && refused.body.contains("期限切れの訓練"));

    let id = drill(&w, &mut coordinator).await;
    let targets = w.store.safety_targets(id).await.unwrap();
    assert!(targets.len() > 10, "{}", targets.len());
    assert!(targets.iter().all(|t| t.institution.area == "yao"));
    assert!(targets.iter().all(|t| matches!(
        t.institution.kind,
        renkei_domain::institution::InstitutionKind::Hospital
            | renkei_domain::institution::InstitutionKind::Clinic
    )));
    // Every target with an address gets its own link by mail, kept in the outbox.
    let with_mail = targets
        .iter()
        .filter(|t| t.institution.email.is_some())
        .count();
    let mails = wait_for_mails(&w, with_mail).await;
    let first = &targets[0];
    let link = link_path(&w, first);
    assert!(
        mails
            .iter()
            .any(|m| m.body.contains(&link) && m.body.contains(&first.institution.name)),
        "the mail carries the institution's own link"
    );
    assert!(mails.iter().all(|m| m.subject.contains("安否確認（訓練）")));

    // The dashboard: nobody has answered yet.
    let page = coordinator.get(&format!("/hub/safety/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page
        .body
        .contains(&format!("<strong>0</strong>／{} 件が回答", targets.len())));
    assert!(page.body.contains("data-events=\"/hub/safety/"));

    // Opening the link (as a mail scanner would) records an opening, never an answer.
    let mut clinic = Browser::new(&w.app);
    let opened = clinic.get(&link).await;
    assert_eq!(opened.status, StatusCode::OK);
    assert!(opened.body.contains(&first.institution.name) && opened.body.contains("1／2"));
    assert_eq!(
        opened.headers.get("cache-control").unwrap(),
        "no-store",
        "the link's page is not cached"
    );
    // The opening is noted with the next group of answers, without holding the page.
    let mut looked = 0;
    let row = loop {
        let row = w.store.safety_targets(id).await.unwrap().remove(0);
        if row.opened_at.is_some() {
            break row;
        }
        looked += 1;
        assert!(
            looked < 1200,
            "the opening was never noted (a 60-s hang guard)"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(row.answered_at.is_none());

    // An absurd number: refused with the reason, the choices kept, nothing recorded.
    let bad = clinic
        .post(&link, &link, quick("safe", "grid", "", "-3"))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("0以上の整数"), "{}", bad.body);
    assert!(bad.body.contains("value=\"safe\" required checked"));
    let too_many = clinic
        .post(&link, &link, quick("safe", "grid", "", "10000"))
        .await;
    assert!(too_many.body.contains("多すぎます"));
    assert!(w
        .store
        .safety_answer_versions(first.id)
        .await
        .unwrap()
        .is_empty());

    // The quick answer, then the details.
    let sent = clinic
        .post(&link, &link, quick("safe", "generator", "４８時間", "2"))
        .await;
    assert_eq!(sent.location(), format!("{link}/details?saved=1"));
    let again = clinic
        .post(&link, &link, quick("safe", "generator", "48", "2"))
        .await;
    assert_eq!(
        again.location(),
        format!("{link}/details?same=1"),
        "a resubmission keeps no second copy"
    );
    assert_eq!(
        w.store
            .safety_answer_versions(first.id)
            .await
            .unwrap()
            .len(),
        1
    );
    let details = clinic
        .post(
            &format!("{link}/details"),
            &format!("{link}/details"),
            vec![
                ("staff", "１２".into()),
                ("home_visits", "limited".into()),
                ("ventilator", "1".into()),
                ("oxygen", "2".into()),
                ("suction", "".into()),
                ("needs", "発電機の燃料".into()),
            ],
        )
        .await;
    assert_eq!(details.location(), format!("{link}/done"));
    let done = clinic.get(&format!("{link}/done")).await;
    assert!(done.body.contains("回答を受け付けました") && done.body.contains("人工呼吸器 1人"));

    // A change later is another version; every version is kept with its time.
    clinic
        .post(&link, &link, quick("safe", "grid", "", "5"))
        .await;
    let versions = w.store.safety_answer_versions(first.id).await.unwrap();
    assert_eq!(versions.len(), 3);
    assert_eq!(versions[0].answer.quick.fuel_hours, Some(48));
    assert_eq!(
        versions[1]
            .answer
            .details
            .as_ref()
            .unwrap()
            .power_dependent
            .oxygen,
        2
    );
    assert_eq!(versions[2].answer.quick.can_accept, 5);
    assert!(
        versions[2].answer.details.is_some(),
        "the details stay with a new quick answer"
    );
    let row = &w.store.safety_targets(id).await.unwrap()[0];
    assert_eq!(
        row.condition,
        Condition::Critical,
        "power-dependent patients need help"
    );

    // The dashboard counts it; the prefecture reads it; institution staff do not.
    let live = coordinator
        .get(&format!("/hub/safety/{id}?part=live"))
        .await;
    assert!(live
        .body
        .contains(&format!("<strong>1</strong>／{} 件が回答", targets.len())));
    assert!(live.body.contains("支援が必要") && !live.body.contains("<html"));
    let mut prefecture = w.login(&email_of(AccountRole::PrefectureViewer)).await;
    assert_eq!(
        prefecture.get(&format!("/hub/safety/{id}")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        prefecture
            .get(&format!("/hub/safety/{id}/links"))
            .await
            .status,
        StatusCode::FORBIDDEN,
        "links are for those who act"
    );
    let mut staff = w.login(&email_of(AccountRole::InstitutionStaff)).await;
    assert_eq!(
        staff.get(&format!("/hub/safety/{id}")).await.status,
        StatusCode::FORBIDDEN
    );

    // An answer taken by phone is marked and names who entered it.
    let second = &targets[1];
    let phone_page = format!("/hub/safety/{id}/targets/{}/phone", second.id);
    let mut fields = quick("injured", "out", "", "0");
    fields.push(("needs", "けが人2名".into()));
    let taken = coordinator.post(&phone_page, &phone_page, fields).await;
    assert_eq!(taken.location(), format!("/hub/safety/{id}?done=phone"));
    let versions = w.store.safety_answer_versions(second.id).await.unwrap();
    assert!(versions[0].entered_by.is_some());
    let page = coordinator.get(&format!("/hub/safety/{id}")).await;
    assert!(page.body.contains("電話で聴取"));

    // Reminders go to those who have not answered, and are counted.
    let before = w.store.recent_mails(1000).await.unwrap().len();
    let reminded = coordinator
        .post(
            &format!("/hub/safety/{id}"),
            &format!("/hub/safety/{id}/remind"),
            vec![],
        )
        .await;
    let waiting_with_mail = w
        .store
        .safety_targets(id)
        .await
        .unwrap()
        .iter()
        .filter(|t| t.answered_at.is_none() && t.institution.email.is_some())
        .count();
    assert_eq!(
        reminded.location(),
        format!("/hub/safety/{id}?done=reminded&sent={waiting_with_mail}")
    );
    let mails = wait_for_mails(&w, before + waiting_with_mail).await;
    assert!(mails.iter().any(|m| m.subject.starts_with("【再送")));
    assert!(
        !mails[..mails.len() - before]
            .iter()
            .any(|m| m.body.contains(&link)),
        "no reminder to one who answered"
    );

    // Exports.
    let csv = coordinator
        .get(&format!("/hub/safety/{id}/export.csv"))
        .await;
    assert!(csv.body.starts_with('\u{feff}') && csv.body.contains("電話で聴取"));
    assert!(csv.body.contains(&first.institution.name));
    let xlsx = coordinator
        .get(&format!("/hub/safety/{id}/export.xlsx"))
        .await;
    assert!(xlsx.body.starts_with("PK"));
    let cap = coordinator.get(&format!("/hub/safety/{id}/cap.xml")).await;
    assert!(cap.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/cap+xml"));
    assert!(
        cap.body.contains("<status>Exercise</status>") && cap.body.contains("<value>27212</value>")
    );
    // The after-action summary: the curve, the reminder's effect; recorded in the ledger once.
    let summary = coordinator.get(&format!("/hub/safety/{id}/summary")).await;
    assert_eq!(summary.status, StatusCode::OK);
    assert!(
        summary.body.contains(&format!("2／{} 件", targets.len())),
        "{}",
        summary.body
    );
    assert!(summary.body.contains("<polyline") && summary.body.contains("一斉再送"));
    assert!(summary.body.contains("未回答の全体"));
    let recorded = coordinator
        .post(
            &format!("/hub/safety/{id}/summary"),
            &format!("/hub/safety/{id}/ledger"),
            vec![],
        )
        .await;
    assert_eq!(
        recorded.location(),
        format!("/hub/safety/{id}/summary?done=recorded")
    );
    let year = renkei_domain::fiscal_year::FiscalYear::of_date(
        chrono::Utc::now()
            .with_timezone(&renkei_domain::japan::jst())
            .date_naive(),
    );
    let ledger = w
        .store
        .ledger("yao", year.year())
        .await
        .unwrap()
        .unwrap()
        .ledger;
    let item = ledger
        .items
        .iter()
        .find(|i| i.note.as_deref() == Some(&format!("Renkei 安否確認 #{id} から")))
        .expect("the drill in the ledger");
    assert_eq!(item.section, renkei_domain::ledger::Section::Progress);
    assert_eq!(item.duties, [3]);
    assert!(item.title.contains("回答 2 件"), "{}", item.title);
    let again = coordinator
        .post(
            &format!("/hub/safety/{id}/summary"),
            &format!("/hub/safety/{id}/ledger"),
            vec![],
        )
        .await;
    assert_eq!(
        again.location(),
        format!("/hub/safety/{id}/summary?done=already")
    );
    let links = coordinator.get(&format!("/hub/safety/{id}/links")).await;
    assert!(links.body.contains(&link) && links.body.contains("<svg"));

    // Closed: the link says so and takes nothing, even from a form opened before.
    let open_form = clinic.get(&link).await;
    let csrf = csrf_in(&open_form.body).unwrap();
    coordinator
        .post(
            &format!("/hub/safety/{id}"),
            &format!("/hub/safety/{id}/close"),
            vec![],
        )
        .await;
    let mut late = quick("safe", "grid", "", "9");
    late.push(("csrf_token", csrf));
    let closed = clinic.send("POST", &link, Some(late)).await;
    assert_eq!(closed.status, StatusCode::GONE);
    assert!(closed.body.contains("締め切られました"));
    assert_eq!(
        w.store
            .safety_answer_versions(first.id)
            .await
            .unwrap()
            .len(),
        3
    );
}

async fn forged_and_expired_links_record_nothing(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let id = drill(&w, &mut coordinator).await;
    let mut stranger = Browser::new(&w.app);
    for forged in ["/r/0123456789abcdef0123456789abcdef", "/r/not-a-token"] {
        let r = stranger.get(forged).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{forged}");
        assert!(r.body.contains("このリンクは正しくありません"));
    }
    // After the deadline the link is closed even if nobody closed the check.
    let target = &w.store.safety_targets(id).await.unwrap()[0];
    let link = link_path(&w, target);
    w.clock.advance(chrono::Duration::hours(3));
    let late = stranger.get(&link).await;
    assert_eq!(late.status, StatusCode::GONE);
    assert!(late.body.contains("締め切られました"));
    let row = &w.store.safety_targets(id).await.unwrap()[0];
    assert!(row.opened_at.is_none() && row.answered_at.is_none());
}

async fn hospitals_give_beds_each_with_its_time(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let id = drill(&w, &mut coordinator).await;
    let hospital = w
        .store
        .safety_targets(id)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.institution.kind == renkei_domain::institution::InstitutionKind::Hospital)
        .expect("a hospital in 八尾");
    let link = link_path(&w, &hospital);
    let mut b = Browser::new(&w.app);
    b.post(&link, &link, quick("safe", "grid", "", "10")).await;
    let form = b.get(&format!("{link}/details")).await;
    assert!(form.body.contains("beds_medical_surgical_now") && form.body.contains("救急外来"));
    let details = |now: &str| {
        vec![
            ("facility", "normal".to_owned()),
            ("emergency", "advisory".to_owned()),
            ("operating", "available".to_owned()),
            ("beds_medical_surgical_now", now.to_owned()),
            ("beds_medical_surgical_24h", "8".to_owned()),
            ("beds_adult_icu_now", "1".to_owned()),
        ]
    };
    let absurd = b
        .post(
            &format!("{link}/details"),
            &format!("{link}/details"),
            details("10000"),
        )
        .await;
    assert_eq!(absurd.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(absurd.body.contains("多すぎます"), "{}", absurd.body);
    b.post(
        &format!("{link}/details"),
        &format!("{link}/details"),
        details("5"),
    )
    .await;
    w.clock.advance(chrono::Duration::minutes(30));
    b.post(
        &format!("{link}/details"),
        &format!("{link}/details"),
        details("3"),
    )
    .await;
    let versions = w.store.safety_answer_versions(hospital.id).await.unwrap();
    let beds = |v: usize| {
        versions[v]
            .answer
            .details
            .as_ref()
            .unwrap()
            .hospital
            .as_ref()
            .unwrap()
            .beds
            .clone()
    };
    let (before, after) = (beds(1), beds(2));
    assert_eq!(after[0].available_now, 3);
    assert_ne!(
        after[0].counted_at, before[0].counted_at,
        "a changed count gets a new time"
    );
    assert_eq!(
        after[1].counted_at, before[1].counted_at,
        "an unchanged count keeps its time"
    );
}

async fn the_dashboard_streams_an_update_when_an_answer_arrives(db: TestDb) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let w = world_with_demo_directory(&db).await;
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let id = drill(&w, &mut coordinator).await;
    let cookies: Vec<String> = coordinator
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let request = axum::http::Request::builder()
        .uri(format!("/hub/safety/{id}/events"))
        .header("cookie", cookies.join("; "))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = w.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    // Read the stream as a browser does, from the start.
    let (frames, mut received) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut body = response.into_body();
    tokio::spawn(async move {
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                if frames
                    .send(String::from_utf8_lossy(&data).into_owned())
                    .is_err()
                {
                    break;
                }
            }
        }
    });
    // On connecting: one update, so the page catches up.
    let first = next_update(&mut received).await;
    let target = &w.store.safety_targets(id).await.unwrap()[0];
    let answer = renkei_domain::safety::Answer {
        quick: renkei_domain::safety::QuickAnswer {
            people: renkei_domain::safety::People::Safe,
            building: renkei_domain::safety::Building::Intact,
            power: renkei_domain::safety::Power::Grid,
            fuel_hours: None,
            water: renkei_domain::safety::Water::Available,
            can_accept: 1,
        },
        details: None,
    };
    // An answer stored (as by another instance) brings the next update, with the check's new
    // state. (How soon is measured by `renkei-bench surge`, see BENCHMARKS.md.)
    w.store
        .record_safety_answer(target.id, &answer, None)
        .await
        .unwrap();
    let second = next_update(&mut received).await;
    assert_ne!(first, second, "the update carries the changed state");
}

async fn scheduled_reminders_go_out_once_when_due(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let form = coordinator.get("/hub/safety/new").await;
    assert!(form
        .body
        .contains("name=\"remind_before\" value=\"30\" checked"));
    let created = coordinator
        .post(
            "/hub/safety/new",
            "/hub/safety",
            vec![
                ("check_kind", "drill".into()),
                ("title", "自動再送の訓練".into()),
                ("deadline", deadline_in(&w, 2)),
                ("area", "kashiwara".into()),
                ("remind_before", "30".into()),
            ],
        )
        .await;
    assert_eq!(
        created.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "another hub's area is not offered, and not taken"
    );
    assert!(created.body.contains("対象の地域を1つ以上選んでください"));
    let created = coordinator
        .post(
            "/hub/safety/new",
            "/hub/safety",
            vec![
                ("check_kind", "drill".into()),
                ("title", "自動再送の訓練".into()),
                ("deadline", deadline_in(&w, 2)),
                ("area", "yao".into()),
                ("kind", "clinic".into()),
                ("remind_before", "30".into()),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let id: i64 = check_id_of(created.location());
    let targets = w.store.safety_targets(id).await.unwrap();
    let with_mail = targets
        .iter()
        .filter(|t| t.institution.email.is_some())
        .count();
    let notices = wait_for_mails(&w, with_mail).await.len();
    use renkei_web::pages::safety::send_due_reminders;
    assert_eq!(
        send_due_reminders(&w.state).await.unwrap(),
        0,
        "not due yet"
    );
    w.clock.advance(chrono::Duration::minutes(91));
    let sent = send_due_reminders(&w.state).await.unwrap();
    assert_eq!(sent, with_mail, "to every one who has not answered");
    assert_eq!(send_due_reminders(&w.state).await.unwrap(), 0, "once");
    let rounds = w.store.reminder_rounds(id).await.unwrap();
    assert_eq!(rounds.len(), 1);
    assert_eq!(
        (rounds[0].planned, rounds[0].mails),
        (Some(30), sent as i64)
    );
    let mails = wait_for_mails(&w, notices + sent).await;
    assert!(
        mails
            .iter()
            .filter(|m| m.subject.starts_with("【再送"))
            .count()
            >= sent
    );
    // (The session went idle while the clock moved on: sign in again.)
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let summary = coordinator.get(&format!("/hub/safety/{id}/summary")).await;
    assert!(
        summary.body.contains("自動再送（30分前）"),
        "{}",
        summary.body
    );
}

async fn a_coordinator_picks_the_targets_by_hand(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let conditions = |step: &str| {
        vec![
            ("check_kind", "drill".to_owned()),
            ("title", "病院だけの訓練".to_owned()),
            ("deadline", deadline_in(&w, 2)),
            ("area", "yao".to_owned()),
            ("kind", "hospital".to_owned()),
            ("step", step.to_owned()),
        ]
    };
    let preview = coordinator
        .post("/hub/safety/new", "/hub/safety", conditions("preview"))
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    let ids: Vec<i64> = preview
        .body
        .split("name=\"institution\" value=\"")
        .skip(1)
        .map(|t| t.split('"').next().unwrap().parse().unwrap())
        .collect();
    assert!(ids.len() >= 3, "{ids:?}");
    for id in &ids {
        assert!(
            preview
                .body
                .contains(&format!("name=\"institution\" value=\"{id}\" checked")),
            "all ticked at first"
        );
    }
    // Two ticked, and an institution of another area slipped into the form: only the two.
    let other_area = w
        .store
        .safety_reachable(
            &renkei_domain::safety::Targeting::default(),
            &["kashiwara".to_owned()],
        )
        .await
        .unwrap()[0]
        .id;
    let mut fields = conditions("create");
    fields.push(("picking", "1".into()));
    for id in [ids[0], ids[2], other_area] {
        fields.push(("institution", id.to_string()));
    }
    let created = coordinator
        .post("/hub/safety/new", "/hub/safety", fields)
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let check: i64 = check_id_of(created.location());
    let mut targets: Vec<i64> = w
        .store
        .safety_targets(check)
        .await
        .unwrap()
        .iter()
        .map(|t| t.institution.id)
        .collect();
    targets.sort();
    let mut expected = vec![ids[0], ids[2]];
    expected.sort();
    assert_eq!(targets, expected);
    // Nothing ticked: refused with the reason.
    let mut none = conditions("create");
    none.push(("picking", "1".into()));
    let refused = coordinator
        .post("/hub/safety/new", "/hub/safety", none)
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("1件以上選んでください"));
    // Only an institution of another area ticked (L6 of the security probe: a 500 before).
    let mut outside = conditions("create");
    outside.push(("picking", "1".into()));
    outside.push(("institution", other_area.to_string()));
    let refused = coordinator
        .post("/hub/safety/new", "/hub/safety", outside)
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(refused.body.contains("1件以上選んでください"));
}

async fn an_institution_keeps_its_baseline_and_the_hub_sees_it(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let clinic = w
        .store
        .safety_reachable(
            &renkei_domain::safety::Targeting {
                kinds: vec!["clinic".into()],
                ..Default::default()
            },
            &["yao".to_owned()],
        )
        .await
        .unwrap()[0]
        .clone();
    member_of(
        &w,
        clinic.id,
        &clinic.name,
        "staff@clinic.example.jp",
        "受付 一郎",
        AccountRole::InstitutionStaff,
    )
    .await;
    let mut staff = w.login("staff@clinic.example.jp").await;
    let page = format!("/institutions/{}/readiness", clinic.id);
    let form = staff.get(&page).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("data-testid=\"save-readiness\""));
    let fields = |drug_days: &str| {
        vec![
            ("generator_kva", "２０".to_owned()),
            ("fuel", "diesel".to_owned()),
            ("fuel_litres", "200".to_owned()),
            ("runtime_hours", "48時間".to_owned()),
            ("drug_days", drug_days.to_owned()),
            ("satellite_phone", "1".to_owned()),
            ("ventilator", "2".to_owned()),
        ]
    };
    let absurd = staff.post(&page, &page, fields("3650")).await;
    assert_eq!(absurd.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(absurd.body.contains("医薬品の備蓄") && absurd.body.contains("value=\"3650\""));
    let saved = staff.post(&page, &page, fields("7")).await;
    assert_eq!(saved.location(), format!("{page}?done=saved"));
    let (baseline, _) = w.store.baseline(clinic.id).await.unwrap().unwrap();
    assert_eq!(baseline.runtime_hours, Some(48));
    assert_eq!(baseline.dependent_patients.ventilator, 2);
    assert!(baseline.satellite_phone);

    // Not public, and not for another institution's staff; the area's hub and the prefecture read.
    let mut other = w.login(&email_of(AccountRole::InstitutionStaff)).await;
    assert_eq!(other.get(&page).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        Browser::new(&w.app).get(&page).await.location(),
        format!("/login?next={page}")
    );
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let read = coordinator.get(&page).await;
    assert!(read.body.contains("readiness-facts") && read.body.contains("48 時間"));
    let mut prefecture = w.login(&email_of(AccountRole::PrefectureViewer)).await;
    assert_eq!(prefecture.get(&page).await.status, StatusCode::OK);

    // The hub's view of the area: the baseline counted, the clinic listed.
    let hub = coordinator.get("/hub/readiness").await;
    assert_eq!(hub.status, StatusCode::OK);
    assert!(hub.body.contains("<td>八尾市</td>") && !hub.body.contains("<td>柏原市</td>"));
    assert!(
        hub.body.contains("<td>1</td><td>2人</td>"),
        "one baseline, two patients"
    );
    let csv = coordinator.get("/hub/readiness.csv").await;
    assert!(csv.body.contains(&clinic.name) && csv.body.contains("発電機 20kVA"));
    // The prefecture sees every area, with 災害時計画 as the report counts it (西 2/7).
    let all = prefecture.get("/hub/readiness").await;
    assert!(all.body.contains("<td>2／7</td>"), "{}", all.body);

    // In a check the dashboard uses it: the satellite phone and the patients at risk while
    // waiting, and the registered runtime when the answer gives no hours.
    let id = drill(&w, &mut coordinator).await;
    let target = w
        .store
        .safety_targets(id)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.institution.id == clinic.id)
        .unwrap();
    let live = coordinator
        .get(&format!("/hub/safety/{id}?part=live"))
        .await;
    assert!(live.body.contains("衛星電話あり") && live.body.contains("電源が必要な在宅患者 2人"));
    let link = link_path(&w, &target);
    let mut responder = Browser::new(&w.app);
    responder
        .post(&link, &link, quick("safe", "generator", "", "0"))
        .await;
    let live = coordinator
        .get(&format!("/hub/safety/{id}?part=live"))
        .await;
    assert!(
        live.body.contains("燃料は登録上 満タンで約48時間"),
        "{}",
        live.body
    );
}

/// The Japanese texts of the catalogue's safety and readiness sections that must not show on
/// an English page (those without a place for a value, not the same in English and not part of
/// the site's English name 「Renkei 連携」).
fn japanese_labels() -> Vec<String> {
    let section = |source: &str, name: &str| -> toml::Table {
        source.parse::<toml::Table>().unwrap()[name]
            .as_table()
            .unwrap()
            .clone()
    };
    let ja = include_str!("../locales/ja.toml");
    let en = include_str!("../locales/en.toml");
    let site = section(en, "site")["name"].as_str().unwrap().to_owned();
    let mut labels = Vec::new();
    for name in ["safety", "readiness"] {
        let english = section(en, name);
        for (key, text) in section(ja, name) {
            let text = text.as_str().unwrap().to_owned();
            if !text.contains('{')
                && text.chars().count() >= 2
                && english[&key].as_str() != Some(text.as_str())
                && !site.contains(&text)
                && !text.chars().all(|c| "：　・／、（）【】".contains(c))
            {
                labels.push(text);
            }
        }
    }
    labels
}

/// What an English page must not show: the Japanese labels, once the directory's names (data,
/// not labels) are taken out.
struct English {
    labels: Vec<String>,
    names: Vec<String>,
}

impl English {
    /// The page is in English, with no missing text and no Japanese label of the safety pages.
    fn check(&self, page: &Reply, what: &str, expected: &[&str]) {
        assert!(
            !page.status.is_server_error() && !page.status.is_redirection(),
            "{what}: {}",
            page.status
        );
        assert!(
            !page.body.contains('⟦'),
            "{what}: a missing text\n{}",
            page.body
        );
        for text in expected {
            assert!(
                page.body.contains(text),
                "{what}: no {text:?}\n{}",
                page.body
            );
        }
        let mut body = page.body.clone();
        for name in &self.names {
            body = body.replace(name.as_str(), "");
        }
        for label in &self.labels {
            assert!(
                !body.contains(label.as_str()),
                "{what}: Japanese {label:?} on the English page\n{}",
                page.body
            );
        }
    }
}

async fn the_safety_pages_are_in_english_too(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let names = w
        .store
        .safety_reachable(
            &renkei_domain::safety::Targeting::default(),
            &["yao".to_owned()],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    let english = English {
        labels: japanese_labels(),
        names,
    };
    assert!(english.labels.len() > 150, "{}", english.labels.len());
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;

    // Japanese stays the default.
    let list = coordinator.get("/hub/safety").await;
    assert!(
        list.body.contains("<html lang=\"ja\">")
            && list.body.contains("まだ安否確認はありません。")
    );
    let form = coordinator.get("/hub/safety/new").await;
    assert!(form.body.contains("未回答への自動の再送") && form.body.contains("作成して送信する"));

    // The list and the new-check form, its refusals in English.
    let list = coordinator.get("/hub/safety?lang=en").await;
    assert!(list.body.contains("<html lang=\"en\">"));
    english.check(&list, "list", &["Safety checks", "No safety check yet."]);
    let form = coordinator.get("/hub/safety/new?lang=en").await;
    english.check(
        &form,
        "new",
        &[
            "New safety check",
            "Automatic reminders",
            "30 minutes before",
            "Active institutions only",
            "Create and send",
            "<label><input type=\"checkbox\" name=\"area\" value=\"yao\" checked> Yao</label>",
            "name=\"check_kind\" value=\"drill\" checked> Drill",
        ],
    );
    let english_drill = |extra: Vec<(&'static str, String)>| {
        let mut fields = vec![
            ("check_kind", "drill".into()),
            ("title", "Autumn drill".into()),
            ("deadline", deadline_in(&w, 2)),
            ("message", "This is a drill.".into()),
            ("kind", "hospital".into()),
            ("kind", "clinic".into()),
        ];
        fields.extend(extra);
        fields
    };
    let refused = coordinator
        .post(
            "/hub/safety/new?lang=en",
            "/hub/safety?lang=en",
            english_drill(vec![]),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    english.check(&refused, "refused", &["Choose at least one area"]);
    let preview = coordinator
        .post(
            "/hub/safety/new?lang=en",
            "/hub/safety?lang=en",
            english_drill(vec![("area", "yao".into()), ("step", "preview".into())]),
        )
        .await;
    english.check(
        &preview,
        "preview",
        &["Institutions to send to (", "Yao, Clinic"],
    );
    let created = coordinator
        .post(
            "/hub/safety/new?lang=en",
            "/hub/safety?lang=en",
            english_drill(vec![("area", "yao".into())]),
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let id = check_id_of(created.location());
    let targets = w.store.safety_targets(id).await.unwrap();

    // A clinic answers by its link in English; the page stays small and without JavaScript.
    let clinic_target = targets
        .iter()
        .find(|t| t.institution.kind == renkei_domain::institution::InstitutionKind::Clinic)
        .unwrap();
    let link = link_path(&w, clinic_target);
    let english_link = format!("{link}?lang=en");
    let mut clinic = Browser::new(&w.app);
    let quick_page = clinic.get(&english_link).await;
    english.check(
        &quick_page,
        "response link",
        &[
            "<html lang=\"en\">",
            "1 of 2",
            "Are staff and patients safe?",
            "All safe",
            "Answer by",
            &format!("action=\"{english_link}\""),
        ],
    );
    assert!(!quick_page.body.contains("<script"));
    let bad = clinic
        .post(
            &english_link,
            &english_link,
            quick("safe", "grid", "", "-3"),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    english.check(
        &bad,
        "refused answer",
        &["“Patients you can accept” must be a whole number"],
    );
    let sent = clinic
        .post(
            &english_link,
            &english_link,
            quick("safe", "generator", "48", "2"),
        )
        .await;
    // The next step stays in English without a cookie.
    assert_eq!(sent.location(), format!("{link}/details?saved=1&lang=en"));
    let details = clinic.get(&format!("{link}/details?saved=1&lang=en")).await;
    english.check(
        &details,
        "details",
        &[
            "2 of 2",
            "Staff able to work",
            "Your answer is received.",
            "Your answer now",
            "Power",
            "Emergency power (fuel for 48 more hours)",
        ],
    );
    let done = clinic.get(&format!("{link}/done?lang=en")).await;
    english.check(&done, "done", &["Thank you."]);
    let forged = clinic
        .get("/r/0123456789abcdef0123456789abcdef?lang=en")
        .await;
    assert_eq!(forged.status, StatusCode::NOT_FOUND);
    english.check(&forged, "forged", &["This link is not right."]);
    // Japanese by default.
    let japanese = clinic.get(&link).await;
    assert!(japanese
        .body
        .contains("1／2　まずこの画面だけ答えてください"));

    // The dashboard and its live part.
    let dashboard = coordinator
        .get(&format!("/hub/safety/{id}?done=created&lang=en"))
        .await;
    english.check(
        &dashboard,
        "dashboard",
        &[
            "The safety check is created",
            "Answers so far",
            &format!("<strong>1</strong> of {} answered", targets.len()),
            "Not answered: ",
            "Remind everyone who has not answered",
            "Enter an answer taken by phone",
            "Links (for fax and phone)",
            "<td>Yao</td>",
            "Staff and patients: All safe",
            "?part=live&#38;lang=en",
        ],
    );
    let live = coordinator
        .get(&format!("/hub/safety/{id}?part=live&lang=en"))
        .await;
    english.check(&live, "live", &["Answered: 1"]);
    // Texts with a number in them, which the label check leaves out.
    for text in [
        "件が回答",
        "時点",
        "未回答 ",
        "電源が必要な在宅患者",
        "燃料 あと",
    ] {
        assert!(!live.body.contains(text), "live: {text:?}");
    }
    let japanese = coordinator.get(&format!("/hub/safety/{id}")).await;
    assert!(japanese
        .body
        .contains(&format!("<strong>1</strong>／{} 件が回答", targets.len())));

    // An answer taken by phone, refused with the reason in English.
    let other = targets.iter().find(|t| t.id != clinic_target.id).unwrap();
    let phone_page = format!("/hub/safety/{id}/targets/{}/phone?lang=en", other.id);
    let phone_form = coordinator.get(&phone_page).await;
    english.check(
        &phone_form,
        "phone",
        &["Answer taken by phone", "Hours of fuel left", "Ventilator"],
    );
    let mut missing = quick("safe", "grid", "", "1");
    missing.retain(|(name, _)| *name != "people");
    let refused = coordinator.post(&phone_page, &phone_page, missing).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    english.check(
        &refused,
        "phone refused",
        &["Choose an answer to “Are staff and patients safe?”"],
    );

    // The summary and the links to print.
    let summary = coordinator
        .get(&format!("/hub/safety/{id}/summary?lang=en"))
        .await;
    english.check(
        &summary,
        "summary",
        &[
            "Review",
            &format!("1 of {} (", targets.len()),
            "Until half had answered",
            "No reminder was sent.",
            "Record in the activity ledger",
        ],
    );
    assert!(!summary.body.contains("うち電話で聴取") && !summary.body.contains("時間<"));
    let links = coordinator
        .get(&format!("/hub/safety/{id}/links?lang=en"))
        .await;
    english.check(
        &links,
        "links",
        &["[Drill] Autumn drill", "Link to answer", "Print"],
    );

    // Disaster readiness: an institution's and the hub's.
    let readiness = coordinator
        .get(&format!(
            "/institutions/{}/readiness?lang=en",
            clinic_target.institution.id
        ))
        .await;
    english.check(
        &readiness,
        "readiness",
        &[
            "Disaster readiness (registered in normal times)",
            "Generator output",
            "Not registered",
            "No, or not registered",
        ],
    );
    let hub = coordinator.get("/hub/readiness?lang=en").await;
    english.check(
        &hub,
        "hub readiness",
        &[
            "Disaster readiness by area",
            "BCP in place (being written)",
            "<td>Yao</td>",
        ],
    );
    let japanese = coordinator.get("/hub/readiness").await;
    assert!(
        japanese.body.contains("災害への備え（地域の一覧）")
            && japanese.body.contains("<td>八尾市</td>")
    );
}

/// Waits for the next `update` event of a stream being read into `received`.
/// The data of the stream's next `update` event (a hang guard of 60 s, not a latency target).
async fn next_update(received: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> String {
    let mut seen = String::new();
    loop {
        if let Some(at) = seen.find("event: update") {
            let rest = &seen[at..];
            if let Some(end) = rest.find("\n\n") {
                return rest[..end]
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .collect::<Vec<_>>()
                    .join("\n");
            }
        }
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(60), received.recv())
            .await
            .unwrap_or_else(|_| panic!("no update event came (waited 60 s): {seen}"))
            .expect("the stream stays open");
        seen.push_str(&chunk);
    }
}

both_backends!(
    the_safety_pages_are_in_english_too,
    an_institution_keeps_its_baseline_and_the_hub_sees_it,
    a_coordinator_picks_the_targets_by_hand,
    scheduled_reminders_go_out_once_when_due,
    a_drill_goes_out_and_answers_come_back_by_link,
    forged_and_expired_links_record_nothing,
    hospitals_give_beds_each_with_its_time,
    the_dashboard_streams_an_update_when_an_answer_arrives,
);
