//! Urgent requests through the router on SQLite and PostgreSQL: a clinic asks the nearest
//! hospitals for a respite admission ring by ring; declines widen it; the first acceptance wins
//! (also when several race); rings escalate on a controllable clock; bad input and strangers are
//! refused clearly; the hub sees the ③ figures.

mod common;

use axum::http::StatusCode;
use common::*;
use renkei_domain::accounts::AccountRole;
use renkei_domain::urgent::{
    AgeBand, CaseSummary, DeclineReason, Recipient, RequestKind, Routing, Sex,
};
use renkei_store::safety::Reachable;
use renkei_store::urgent::{DeclineOutcome, NewUrgentRequest, RecipientAnswer};
use renkei_store::StoreError;
use renkei_testkit::{both_backends, TestDb};

/// A located clinic of 八尾 (the demo directory) with a signed-in member of staff.
async fn yao_clinic(w: &World) -> (Reachable, Browser) {
    let mut all = w
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
    all.retain(|c| c.point.is_some());
    let clinic = all.remove(0);
    member_of(
        w,
        clinic.id,
        &clinic.name,
        "nurse@clinic.example.jp",
        "看護師",
        AccountRole::InstitutionStaff,
    )
    .await;
    let b = w.login("nurse@clinic.example.jp").await;
    (clinic, b)
}

/// A signed-in member of staff of institution `id`.
async fn staff_of(w: &World, id: i64, n: usize) -> Browser {
    let email = format!("staff{n}@urgent.example.jp");
    member_of(
        w,
        id,
        "受け手",
        &email,
        "職員",
        AccountRole::InstitutionStaff,
    )
    .await;
    w.login(&email).await
}

fn respite(ring_size: &str, minutes: &str, rings: &str) -> Vec<(&'static str, String)> {
    vec![
        ("kind", "respite_admission".into()),
        ("age_band", "85_94".into()),
        ("sex", "female".into()),
        (
            "condition",
            "ALS、人工呼吸器なし。介護者の入院のため".into(),
        ),
        ("needs", "喀痰吸引、胃ろう。2週間程度".into()),
        ("place", "八尾市本町".into()),
        ("contact", "訪問看護 山田 072-000-0000".into()),
        ("routing", "nearest".into()),
        ("ring_size", ring_size.into()),
        ("escalate_minutes", minutes.into()),
        ("rings", rings.into()),
    ]
}

fn request_id(location: &str) -> i64 {
    location
        .trim_start_matches("/urgent/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

async fn a_respite_request_goes_ring_by_ring_and_the_first_acceptance_wins(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let (clinic, mut nurse) = yao_clinic(&w).await;
    let new = format!("/institutions/{}/urgent/new", clinic.id);

    // The form offers the nearest capable hospitals and defaults the place to the clinic's town.
    let form = nurse.get(&format!("{new}?kind=respite_admission")).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(
        form.body.contains("data-testid=\"candidates\""),
        "{}",
        form.body
    );
    assert!(form.body.contains("km"));

    let sent = nurse.post(&new, &new, respite("2", "15", "2")).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let id = request_id(sent.location());
    let recipients = w.store.urgent_recipients(id).await.unwrap();
    assert_eq!(recipients.len(), 4, "two rings of two");
    assert!(recipients.windows(2).all(|p| p[0].ring <= p[1].ring));
    assert!(recipients
        .iter()
        .all(|p| p.kind == renkei_domain::institution::InstitutionKind::Hospital));
    assert!(recipients.iter().all(|p| p.institution_id != clinic.id));
    let ring1: Vec<i64> = recipients
        .iter()
        .filter(|p| p.ring == 1)
        .map(|p| p.institution_id)
        .collect();
    let ring2: Vec<i64> = recipients
        .iter()
        .filter(|p| p.ring == 2)
        .map(|p| p.institution_id)
        .collect();
    assert!(recipients
        .iter()
        .filter(|p| p.ring == 1)
        .all(|p| p.notified_at.is_some()));
    assert!(recipients
        .iter()
        .filter(|p| p.ring == 2)
        .all(|p| p.notified_at.is_none()));

    // The first ring is told by mail, with the case and no name.
    let mails = w.store.recent_mails(20).await.unwrap();
    let asked: Vec<_> = mails
        .iter()
        .filter(|m| m.subject.contains("急変時の依頼") && m.subject.contains("レスパイト"))
        .collect();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked[0].body.contains("85〜94歳") && asked[0].body.contains(&format!("/urgent/{id}")));

    // The requester sees it waiting; the page says when it widens.
    let page = nurse.get(&format!("/urgent/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("data-status=\"open\""));
    assert!(page.body.contains("次の範囲へ広げます"), "{}", page.body);

    let mut h1 = staff_of(&w, ring1[0], 1).await;
    let mut h2 = staff_of(&w, ring1[1], 2).await;
    let mut h3 = staff_of(&w, ring2[0], 3).await;
    let mut h4 = staff_of(&w, ring2[1], 4).await;
    // The second ring does not see it yet: the same 404 as for a request that does not exist.
    assert_eq!(
        h3.get(&format!("/urgent/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let seen = h1.get(&format!("/urgent/{id}")).await;
    assert!(seen.body.contains("ALS") && seen.body.contains("data-testid=\"accept\""));
    let inbox = h1.get(&format!("/institutions/{}/urgent", ring1[0])).await;
    assert!(
        inbox.body.contains(&format!("answer-{id}")),
        "{}",
        inbox.body
    );
    // The navigation says one request waits for this hospital's answer, on every page.
    let badge = "data-testid=\"nav-waiting\" title=\"回答を待っている依頼\">1</span>";
    assert!(inbox.body.contains(badge), "{}", inbox.body);
    assert!(h1.get("/").await.body.contains(badge));

    // A decline needs a reason; with one, it is recorded.
    let url = format!("/urgent/{id}");
    let bare = h1.post(&url, &format!("{url}/decline"), vec![]).await;
    assert_eq!(bare.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bare.body.contains("理由を選んでください"));
    let no = h1
        .post(
            &url,
            &format!("{url}/decline"),
            vec![("reason", "no_beds".into()), ("note", "今週は満床".into())],
        )
        .await;
    assert_eq!(no.status, StatusCode::SEE_OTHER, "{}", no.body);
    let twice = h1
        .post(
            &url,
            &format!("{url}/decline"),
            vec![("reason", "no_beds".into())],
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    // Having declined, it cannot take it after all while the request is still open (it calls).
    let changed = h1.post(&url, &format!("{url}/accept"), vec![]).await;
    assert_eq!(changed.status, StatusCode::CONFLICT);
    assert!(changed.body.contains("お断りの回答"), "{}", changed.body);
    // The second ring is not asked yet: it cannot accept.
    assert_eq!(
        h3.post(&url, &format!("{url}/accept"), vec![]).await.status,
        StatusCode::NOT_FOUND
    );
    // A recipient sees its own line, not the other recipients' answers.
    let own_view = h1.get(&url).await;
    assert!(
        !own_view.body.contains("nav-waiting"),
        "answered: nothing waits"
    );
    assert!(own_view
        .body
        .contains(&format!("data-recipient=\"{}\"", ring1[0])));
    assert!(!own_view
        .body
        .contains(&format!("data-recipient=\"{}\"", ring1[1])));
    // A decline's note names nobody either.
    let named = h2
        .post(
            &url,
            &format!("{url}/decline"),
            vec![
                ("reason", "other".into()),
                ("note", "家族 090-1234-5678 へ".into()),
            ],
        )
        .await;
    assert_eq!(named.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(named.body.contains("電話番号"));
    // The administrator does not answer in an institution's name.
    let mut admin = w.login(&email_of(AccountRole::SystemAdmin)).await;
    assert_eq!(
        admin
            .post(&url, &format!("{url}/accept"), vec![])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // The whole first ring declined: the second is asked at once.
    let no = h2
        .post(
            &url,
            &format!("{url}/decline"),
            vec![("reason", "no_staff".into())],
        )
        .await;
    assert_eq!(no.status, StatusCode::SEE_OTHER);
    assert_eq!(
        h3.get(&url).await.status,
        StatusCode::OK,
        "ring 2 now sees it"
    );

    // Ring 2 accepts; the other of ring 2 is too late and is told who took it.
    let yes = h3.post(&url, &format!("{url}/accept"), vec![]).await;
    assert_eq!(yes.status, StatusCode::SEE_OTHER, "{}", yes.body);
    // Pressed twice by the one that won: still its acceptance, nothing more recorded.
    let again = h3.post(&url, &format!("{url}/accept"), vec![]).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    let late = h4.post(&url, &format!("{url}/accept"), vec![]).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert!(
        late.body.contains("すでに") && late.body.contains("受け入れました"),
        "{}",
        late.body
    );
    // A declined recipient cannot accept afterwards either.
    assert_eq!(
        h1.post(&url, &format!("{url}/accept"), vec![]).await.status,
        StatusCode::CONFLICT
    );
    // The refusal is outside the live part, so an update does not wipe it.
    let live_at = late.body.find("id=\"urgent-live\"").unwrap();
    assert!(late.body.find("data-testid=\"urgent-refused\"").unwrap() < live_at);

    let r = w.store.urgent_request(id).await.unwrap().unwrap();
    assert_eq!(r.accepted_by.as_ref().map(|a| a.0), Some(ring2[0]));
    let answers: Vec<_> = w
        .store
        .urgent_recipients(id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.institution_id, p.answer))
        .collect();
    assert!(answers.contains(&(
        ring1[0],
        Some(RecipientAnswer::Declined(DeclineReason::NoBeds))
    )));
    assert!(answers.contains(&(ring2[0], Some(RecipientAnswer::Accepted))));
    assert!(answers.contains(&(ring2[1], None)));
    let events: Vec<&str> = w
        .store
        .urgent_events(id)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind.code())
        .collect();
    assert_eq!(
        events,
        vec![
            "created",
            "declined",
            "declined",
            "ring_opened",
            "accepted",
            "late"
        ]
    );

    // The requester's page shows who took it and the whole timeline.
    let page = nurse.get(&url).await;
    assert!(page.body.contains("data-status=\"accepted\""));
    assert!(page.body.contains("今週は満床"));
    let mails = w.store.recent_mails(20).await.unwrap();
    assert!(
        mails.iter().any(|m| m.subject.contains("受け入れました")),
        "the requester is mailed"
    );
    assert!(
        mails
            .iter()
            .any(|m| m.subject.contains("受入先が決まりました")),
        "the waiting one is told"
    );
    // Withdrawing after acceptance is refused.
    assert_eq!(
        nurse
            .post(&url, &format!("{url}/cancel"), vec![])
            .await
            .status,
        StatusCode::CONFLICT
    );

    // The hub reads it with the ③ figures; the prefecture reads; strangers do not.
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let hub = coordinator.get("/hub/urgent").await;
    assert_eq!(hub.status, StatusCode::OK, "{}", hub.body);
    assert!(hub.body.contains("100%"), "{}", hub.body);
    assert_eq!(coordinator.get(&url).await.status, StatusCode::OK);
    // The coordinator writes the year's figures into 八尾's ledger (③), once however often.
    for _ in 0..2 {
        let recorded = coordinator
            .post(
                "/hub/urgent",
                "/hub/urgent/ledger",
                vec![("year", "2026".into())],
            )
            .await;
        assert_eq!(recorded.status, StatusCode::SEE_OTHER, "{}", recorded.body);
    }
    let ledger = w.store.ledger("yao", 2026).await.unwrap().unwrap().ledger;
    let items: Vec<_> = ledger
        .items
        .iter()
        .filter(|i| i.title.starts_with("急変時の依頼と受入"))
        .collect();
    assert_eq!(items.len(), 1, "one item, replaced");
    assert!(
        items[0]
            .title
            .contains("依頼 1 件・受入 1 件（受入率 100%）"),
        "{}",
        items[0].title
    );
    assert_eq!(items[0].duties, vec![3]);
    let report = coordinator.get("/ledger/2026/report").await;
    assert!(
        report.body.contains("急変時の依頼と受入"),
        "the report says it"
    );
    // The prefecture reads but does not write into hubs' ledgers.
    let mut prefecture_writer = w.login(&email_of(AccountRole::PrefectureViewer)).await;
    assert_eq!(
        prefecture_writer
            .post(
                "/hub/urgent",
                "/hub/urgent/ledger",
                vec![("year", "2026".into())]
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert!(coordinator
        .get(&url)
        .await
        .body
        .contains("ALS、人工呼吸器なし"));
    // The prefecture (a role that may sign in without a second factor) reads the request but
    // not its case text, which is patient data (L8 of the security probe).
    let mut prefecture = w.login(&email_of(AccountRole::PrefectureViewer)).await;
    for page in [url.as_str(), "/hub/urgent"] {
        let seen = prefecture.get(page).await;
        assert_eq!(seen.status, StatusCode::OK, "{page}");
        assert!(
            !seen.body.contains("ALS") && !seen.body.contains("喀痰吸引"),
            "{page}: {}",
            seen.body
        );
    }
    assert!(prefecture
        .get(&url)
        .await
        .body
        .contains("二要素認証でログインした利用者にだけ表示されます"));
    let mut stranger = w.login(&email_of(AccountRole::InstitutionStaff)).await;
    assert_eq!(stranger.get(&url).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        stranger.get(&format!("{url}/events")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        stranger
            .post(&url, &format!("{url}/accept"), vec![])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        stranger
            .get(&format!("/institutions/{}/urgent", clinic.id))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

async fn bad_requests_are_refused_with_the_reason(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let (clinic, mut nurse) = yao_clinic(&w).await;
    let new = format!("/institutions/{}/urgent/new", clinic.id);
    let with = |change: &[(&'static str, &str)]| {
        let mut f = respite("3", "15", "3");
        for (k, v) in change {
            f.retain(|(key, _)| key != k);
            f.push((k, (*v).to_owned()));
        }
        f
    };
    for (change, says) in [
        (vec![("condition", "田中様 072-999-1234 発熱")], "電話番号"),
        (vec![("place", "八尾市本町1-2-3")], "番地"),
        (vec![("place", "どこでもない町")], "場所が見つかりません"),
        (vec![("condition", "")], "病状"),
        (vec![("escalate_minutes", "1")], "5〜240"),
        (vec![("ring_size", "-3")], "一度に依頼する数"),
        (vec![("routing", "chosen")], "1か所以上選んで"),
    ] {
        let refused = nurse.post(&new, &new, with(&change)).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{change:?}"
        );
        assert!(refused.body.contains(says), "{change:?}: {}", refused.body);
        // What was typed is kept.
        assert!(refused.body.contains("喀痰吸引"));
    }
    // Nobody near can take it: said plainly.
    let mut nobody = with(&[("kind", "respite_admission")]);
    nobody.push(("needed", "pediatric_home".into()));
    nobody.push(("needed", "ventilator".into()));
    nobody.push(("needed", "dementia".into()));
    let refused = nurse.post(&new, &new, nobody).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .body
            .contains("対応できると登録された医療機関等がありません"),
        "{}",
        refused.body
    );
    assert!(
        w.store.urgent_sent(clinic.id, 10).await.unwrap().is_empty(),
        "nothing stored"
    );

    // Chosen recipients must be among the capable candidates.
    let mut chosen = with(&[("routing", "chosen")]);
    chosen.push(("recipient", clinic.id.to_string()));
    let refused = nurse.post(&new, &new, chosen).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("選び直して"));
    // Staff of another institution cannot send in this clinic's name.
    let mut other = w.login(&email_of(AccountRole::InstitutionStaff)).await;
    let forged = other.post("/", &new, respite("3", "15", "3")).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

async fn a_summary(w: &World, requester: i64, recipients: &[i64], routing: Routing) -> i64 {
    let summary = CaseSummary {
        age_band: AgeBand::Senior75,
        sex: Sex::Male,
        condition: "発熱、呼吸苦".into(),
        needs: String::new(),
        needed: vec![],
        area: "八尾市本町".into(),
    };
    let ring_size = match routing {
        Routing::Nearest { ring_size, .. } => ring_size as usize,
        Routing::Chosen { .. } => recipients.len(),
    };
    let recipients: Vec<Recipient> = recipients
        .iter()
        .enumerate()
        .map(|(i, id)| Recipient {
            institution_id: *id,
            distance_km: i as f64,
            ring: (i / ring_size) as u32 + 1,
        })
        .collect();
    w.store
        .create_urgent_request(
            &NewUrgentRequest {
                requester_id: requester,
                kind: RequestKind::EmergencyAdmission,
                summary: &summary,
                contact: "当直 072-000-0000",
                routing,
                recipients: &recipients,
            },
            None,
            renkei_web::clock::Clock::now(&*w.clock),
        )
        .await
        .unwrap()
}

async fn hospitals(w: &World, n: usize) -> Vec<i64> {
    let all = w
        .store
        .safety_reachable(
            &renkei_domain::safety::Targeting {
                kinds: vec!["hospital".into()],
                ..Default::default()
            },
            &[
                "yao".to_owned(),
                "kashiwara".to_owned(),
                "higashiosaka-central".to_owned(),
            ],
        )
        .await
        .unwrap();
    assert!(all.len() >= n, "the demo has {} hospitals", all.len());
    all.into_iter().take(n).map(|h| h.id).collect()
}

async fn the_first_acceptance_wins_when_they_race(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let (clinic, _) = yao_clinic(&w).await;
    let five = hospitals(&w, 5).await;
    for round in 0..5 {
        let id = a_summary(&w, clinic.id, &five, Routing::Chosen { wait_minutes: 30 }).await;
        let now = renkei_web::clock::Clock::now(&*w.clock);
        let tasks: Vec<_> = five
            .iter()
            .map(|h| {
                let store = w.store.clone();
                let h = *h;
                tokio::spawn(async move { (h, store.accept_urgent(id, h, None, now).await) })
            })
            .collect();
        let mut winners = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                (h, Ok(())) => winners.push(h),
                (_, Err(StoreError::Conflict(m))) => assert!(m.contains("すでに"), "{m}"),
                (_, Err(e)) => panic!("round {round}: {e}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one wins");
        let r = w.store.urgent_request(id).await.unwrap().unwrap();
        assert_eq!(r.accepted_by.map(|a| a.0), Some(winners[0]));
        let accepted = w
            .store
            .urgent_recipients(id)
            .await
            .unwrap()
            .iter()
            .filter(|p| p.answer == Some(RecipientAnswer::Accepted))
            .count();
        assert_eq!(accepted, 1, "round {round}: one acceptance recorded");
        let late = w
            .store
            .urgent_events(id)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.kind == renkei_domain::urgent::EventKind::Late)
            .count();
        assert_eq!(late, 4, "round {round}: the others are on the timeline");
    }
}

async fn unanswered_rings_escalate_on_the_clock(db: TestDb) {
    use renkei_web::pages::urgent::escalate_due;
    let w = world_with_demo_directory(&db).await;
    let (clinic, _) = yao_clinic(&w).await;
    let three = hospitals(&w, 3).await;
    let routing = Routing::Nearest {
        ring_size: 1,
        escalate_minutes: 10,
        rings: 3,
    };
    let id = a_summary(&w, clinic.id, &three, routing).await;
    let ring = |w: &World| {
        let store = w.store.clone();
        async move {
            store
                .urgent_request(id)
                .await
                .unwrap()
                .unwrap()
                .current_ring
        }
    };
    w.clock.advance(chrono::Duration::minutes(9));
    assert_eq!(escalate_due(&w.state).await.unwrap(), 0, "not yet");
    assert_eq!(ring(&w).await, 1);
    w.clock.advance(chrono::Duration::minutes(1));
    // Two servers run the loop at the same instant: the ring is asked once.
    let (one, two) = tokio::join!(escalate_due(&w.state), escalate_due(&w.state));
    assert_eq!(one.unwrap() + two.unwrap(), 1);
    assert_eq!(ring(&w).await, 2);
    assert_eq!(escalate_due(&w.state).await.unwrap(), 0, "once");
    w.clock.advance(chrono::Duration::minutes(10));
    escalate_due(&w.state).await.unwrap();
    assert_eq!(ring(&w).await, 3);
    let asked = w.store.urgent_recipients(id).await.unwrap();
    assert!(asked.iter().all(|p| p.notified_at.is_some()));
    // The last ring's time is up: the requester is told, once, and it stays open.
    w.clock.advance(chrono::Duration::minutes(10));
    assert_eq!(escalate_due(&w.state).await.unwrap(), 1);
    w.clock.advance(chrono::Duration::minutes(10));
    assert_eq!(escalate_due(&w.state).await.unwrap(), 0);
    let r = w.store.urgent_request(id).await.unwrap().unwrap();
    assert!(r.exhausted_at.is_some());
    assert_eq!(r.status, renkei_domain::urgent::RequestStatus::Open);
    let kinds: Vec<&str> = w
        .store
        .urgent_events(id)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind.code())
        .collect();
    assert_eq!(
        kinds,
        vec!["created", "ring_opened", "ring_opened", "exhausted"]
    );
    // A late acceptance is still welcome.
    let now = renkei_web::clock::Clock::now(&*w.clock);
    w.store
        .accept_urgent(id, three[2], None, now)
        .await
        .unwrap();

    // Declines by everyone in the last ring say so at once.
    let two = hospitals(&w, 2).await;
    let id = a_summary(&w, clinic.id, &two, Routing::Chosen { wait_minutes: 30 }).await;
    let now = renkei_web::clock::Clock::now(&*w.clock);
    let first = w
        .store
        .decline_urgent(id, two[0], DeclineReason::NoBeds, "", None, now)
        .await
        .unwrap();
    assert_eq!(first, DeclineOutcome::Recorded);
    let last = w
        .store
        .decline_urgent(id, two[1], DeclineReason::TooFar, "", None, now)
        .await
        .unwrap();
    assert_eq!(last, DeclineOutcome::Exhausted);

    // Chosen recipients who never answer: after the wait, the requester is told.
    let quiet = a_summary(&w, clinic.id, &two, Routing::Chosen { wait_minutes: 30 }).await;
    w.clock.advance(chrono::Duration::minutes(29));
    escalate_due(&w.state).await.unwrap();
    let r = w.store.urgent_request(quiet).await.unwrap().unwrap();
    assert!(r.exhausted_at.is_none());
    w.clock.advance(chrono::Duration::minutes(1));
    escalate_due(&w.state).await.unwrap();
    let r = w.store.urgent_request(quiet).await.unwrap().unwrap();
    assert!(
        r.exhausted_at.is_some(),
        "nobody answered the chosen in 30 minutes"
    );
}

async fn the_requester_widens_and_withdraws(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let (clinic, mut nurse) = yao_clinic(&w).await;
    let new = format!("/institutions/{}/urgent/new", clinic.id);
    let sent = nurse.post(&new, &new, respite("1", "30", "3")).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let id = request_id(sent.location());
    let url = format!("/urgent/{id}");
    let widened = nurse.post(&url, &format!("{url}/widen"), vec![]).await;
    assert_eq!(widened.status, StatusCode::SEE_OTHER);
    let r = w.store.urgent_request(id).await.unwrap().unwrap();
    assert_eq!(r.current_ring, 2);
    let asked: Vec<i64> = w
        .store
        .urgent_recipients(id)
        .await
        .unwrap()
        .iter()
        .filter(|p| p.notified_at.is_some())
        .map(|p| p.institution_id)
        .collect();
    assert_eq!(asked.len(), 2);
    let withdrawn = nurse.post(&url, &format!("{url}/cancel"), vec![]).await;
    assert_eq!(withdrawn.status, StatusCode::SEE_OTHER);
    let mails = w.store.recent_mails(30).await.unwrap();
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.subject.contains("取り下げられました"))
            .count(),
        2,
        "both rings asked are told"
    );
    // A recipient who opens it now can no longer accept.
    let mut h = staff_of(&w, asked[1], 9).await;
    let late = h.post(&url, &format!("{url}/accept"), vec![]).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert!(late.body.contains("取り下げ"));
    // Withdrawing twice, or widening a closed request, says why.
    assert_eq!(
        nurse
            .post(&url, &format!("{url}/widen"), vec![])
            .await
            .status,
        StatusCode::CONFLICT
    );
}

both_backends!(
    the_requester_widens_and_withdraws,
    a_respite_request_goes_ring_by_ring_and_the_first_acceptance_wins,
    bad_requests_are_refused_with_the_reason,
    the_first_acceptance_wins_when_they_race,
    unanswered_rings_escalate_on_the_clock,
);
