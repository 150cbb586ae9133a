//! Emergency power and the BCP registry through the router on SQLite and PostgreSQL: an
//! institution registers units and its lending rules, another asks for the nearest suitable
//! unit, the owner agrees (once: overlapping agreements are refused, also when they race),
//! declines or records the return; plans are uploaded as PDF (checked by content) and opened
//! only by those they are shared with, every opening audited.

mod common;

use axum::http::StatusCode;
use common::*;
use renkei_domain::accounts::AccountRole;
use renkei_domain::power::{Device, Need, PowerUnit, UnitKind};
use renkei_store::safety::Reachable;
use renkei_testkit::{both_backends, TestDb};

/// Located clinics of 八尾 (the demo directory), nearest to the first one first.
async fn yao_clinics(w: &World) -> Vec<Reachable> {
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
    assert!(all.len() >= 4, "the demo has located clinics in 八尾");
    all
}

/// Staff accounts for the first three clinics: (clinic, browser).
async fn three_clinics(w: &World) -> Vec<(Reachable, Browser)> {
    let clinics = yao_clinics(w).await;
    let mut out = Vec::new();
    for (i, c) in clinics.into_iter().take(3).enumerate() {
        let email = format!("staff{i}@power.example.jp");
        member_of(
            w,
            c.id,
            &c.name,
            &email,
            "職員",
            AccountRole::InstitutionStaff,
        )
        .await;
        let b = w.login(&email).await;
        out.push((c, b));
    }
    out
}

fn unit_form(kind: &str, label: &str, watts: &str, lendable: bool) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("kind", kind.to_owned()),
        ("label", label.to_owned()),
        ("output_watts", watts.to_owned()),
        ("runtime_hours", "8".to_owned()),
        ("fuel", "gasoline".to_owned()),
        ("note", "1階倉庫".to_owned()),
    ];
    if lendable {
        f.push(("lendable", "1".to_owned()));
    }
    f
}

fn need(device: &str, watts: &str, from: &str, until: &str) -> Vec<(&'static str, String)> {
    vec![
        ("device", device.to_owned()),
        ("watts", watts.to_owned()),
        ("starts_on", from.to_owned()),
        ("ends_on", until.to_owned()),
    ]
}

fn query(fields: &[(&str, String)]) -> String {
    serde_urlencoded::to_string(fields).unwrap()
}

/// The id in `data-unit="…"` of the first offer on a borrow page.
fn first_offer(html: &str) -> i64 {
    let at = html.find("data-unit=\"").expect("an offer") + "data-unit=\"".len();
    html[at..].split('"').next().unwrap().parse().unwrap()
}

async fn lending_ids(w: &World, owner: i64) -> Vec<i64> {
    let (received, _) = w.store.lendings_of(owner).await.unwrap();
    received.iter().map(|l| l.id).collect()
}

async fn units_are_registered_and_lent_to_the_nearest_asker(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let mut clinics = three_clinics(&w).await;
    let (owner, mut a) = clinics.remove(0);
    let (borrower, mut b) = clinics.remove(0);
    let (third, mut c) = clinics.remove(0);
    let page = format!("/institutions/{}/power", owner.id);

    // A fixed generator cannot be lent; absurd output is refused with the typing kept.
    let fixed = a
        .post(
            &page,
            &format!("{page}/units"),
            unit_form("fixed_generator", "屋上発電機", "50000", true),
        )
        .await;
    assert_eq!(fixed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(fixed.body.contains("据置型"), "{}", fixed.body);
    assert!(fixed.body.contains("屋上発電機"));
    let absurd = a
        .post(
            &page,
            &format!("{page}/units"),
            unit_form("portable_generator", "1号機", "-5", true),
        )
        .await;
    assert_eq!(absurd.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(absurd.body.contains("0以上の整数"), "{}", absurd.body);

    // Units in full-width digits, with a W, as typed on a phone.
    for form in [
        unit_form(
            "portable_generator",
            "可搬型発電機 1号機",
            "１６００W",
            true,
        ),
        unit_form("portable_battery", "蓄電池（自院用）", "1500", false),
    ] {
        let saved = a.post(&page, &format!("{page}/units"), form).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    }
    let rules = a
        .post(
            &page,
            &format!("{page}/rules"),
            vec![(
                "rules",
                "平日9時〜17時に電話で依頼。燃料は借りる側の負担。".into(),
            )],
        )
        .await;
    assert_eq!(rules.status, StatusCode::SEE_OTHER);
    let shown = a.get(&page).await;
    assert!(shown.body.contains("可搬型発電機 1号機"));
    assert!(shown.body.contains("1600 W"));

    // Staff of another clinic cannot see the owner's page nor edit its units.
    assert_eq!(b.get(&page).await.status, StatusCode::FORBIDDEN);
    let meddling = b
        .post(
            &format!("/institutions/{}/power", borrower.id),
            &format!("{page}/units"),
            unit_form("portable_generator", "x", "100", true),
        )
        .await;
    assert_eq!(meddling.status, StatusCode::FORBIDDEN);

    // The borrower asks: only the lendable unit with enough output is offered, with the rules.
    let borrow = format!("/institutions/{}/power/borrow", borrower.id);
    let wanted = need("ventilator", "300", "2026-11-25", "2026-11-27");
    let offers = b.get(&format!("{borrow}?{}", query(&wanted))).await;
    assert_eq!(offers.status, StatusCode::OK, "{}", offers.body);
    assert!(offers.body.contains(&owner.name));
    assert!(offers.body.contains("km"));
    assert!(offers.body.contains("借りる側の負担"));
    assert!(!offers.body.contains("蓄電池（自院用）"));
    let unit = first_offer(&offers.body);
    // Too much power for any unit: a clear message, not an empty page.
    let huge = b
        .get(&format!(
            "{borrow}?{}",
            query(&need("other", "5000", "2026-11-25", "2026-11-26"))
        ))
        .await;
    assert!(huge.body.contains("no-offers"), "{}", huge.body);
    // A period that ended before it began.
    let backwards = b
        .get(&format!(
            "{borrow}?{}",
            query(&need("oxygen", "", "2026-11-28", "2026-11-26"))
        ))
        .await;
    assert_eq!(backwards.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(backwards.body.contains("終了日が開始日より前"));

    let mut ask = wanted.clone();
    ask.push(("unit", unit.to_string()));
    ask.push(("contact", "訪問看護 山田 072-000-0000".into()));
    let asked = b.post(&borrow, &borrow, ask.clone()).await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.body);
    let mails = w.store.recent_mails(10).await.unwrap();
    assert!(
        mails
            .iter()
            .any(|m| m.subject.contains("非常用電源の貸出依頼") && m.body.contains("人工呼吸器")),
        "the owner is told by mail"
    );
    // A third clinic asks for the same unit on overlapping days.
    let third_borrow = format!("/institutions/{}/power/borrow", third.id);
    let mut ask3 = need("suction", "200", "2026-11-26", "2026-11-28");
    ask3.push(("unit", unit.to_string()));
    ask3.push(("contact", "事務 佐藤".into()));
    assert_eq!(
        c.post(&third_borrow, &third_borrow, ask3).await.status,
        StatusCode::SEE_OTHER
    );

    let ids = lending_ids(&w, owner.id).await;
    assert_eq!(ids.len(), 2);
    let (second, first) = (ids[0], ids[1]);
    // Only the owner decides; a decline needs a reason.
    let decide = |id: i64| format!("/power/lendings/{id}/decide");
    let stranger = c
        .post(
            &format!("/institutions/{}/power", third.id),
            &decide(first),
            vec![("decision", "agree".into())],
        )
        .await;
    assert_eq!(stranger.status, StatusCode::FORBIDDEN);
    let bare = a
        .post(&page, &decide(second), vec![("decision", "decline".into())])
        .await;
    assert_eq!(bare.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bare.body.contains("理由"));

    let agreed = a
        .post(&page, &decide(first), vec![("decision", "agree".into())])
        .await;
    assert_eq!(agreed.status, StatusCode::SEE_OTHER, "{}", agreed.body);
    // The overlapping request cannot be agreed too.
    let clash = a
        .post(&page, &decide(second), vec![("decision", "agree".into())])
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT);
    assert!(
        clash.body.contains("同じ期間に別の医療機関等へ貸出"),
        "{}",
        clash.body
    );
    // Deciding twice is refused, not repeated.
    let again = a
        .post(
            &page,
            &decide(first),
            vec![("decision", "decline".into()), ("reason", "x".into())],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    // The asker sees it agreed (and was mailed); the unit shows as lent out and is busy.
    assert!(b
        .get(&format!("/institutions/{}/power", borrower.id))
        .await
        .body
        .contains("data-status=\"agreed\""));
    assert!(w
        .store
        .recent_mails(10)
        .await
        .unwrap()
        .iter()
        .any(|m| m.subject.contains("貸出決定")));
    assert!(a.get(&page).await.body.contains("貸出中"));
    let busy = c
        .get(&format!(
            "{third_borrow}?{}",
            query(&need("suction", "200", "2026-11-26", "2026-11-28"))
        ))
        .await;
    assert!(busy.body.contains("この期間は貸出が決まっています"));
    // A lent unit cannot be removed; the withdrawn or decided cannot be withdrawn.
    let retire = a
        .post(&page, &format!("{page}/units/{unit}/retire"), vec![])
        .await;
    assert_eq!(retire.status, StatusCode::CONFLICT);
    let late = b
        .post(
            &format!("/institutions/{}/power", borrower.id),
            &format!("/power/lendings/{first}/withdraw"),
            vec![],
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT);

    // The hub sees units, requests and rules of its area; the prefecture reads too.
    let mut hub = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let view = hub.get("/hub/power").await;
    assert_eq!(view.status, StatusCode::OK);
    assert!(view.body.contains("可搬型発電機 1号機"));
    assert!(view.body.contains(&borrower.name));
    assert!(view.body.contains("燃料は借りる側の負担"));
    assert_eq!(b.get("/hub/power").await.status, StatusCode::FORBIDDEN);

    // The return frees the unit; the other request can then be agreed.
    let back = a
        .post(&page, &format!("/power/lendings/{first}/return"), vec![])
        .await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    let now_ok = a
        .post(&page, &decide(second), vec![("decision", "agree".into())])
        .await;
    assert_eq!(now_ok.status, StatusCode::SEE_OTHER);
    let actions: Vec<String> = w
        .store
        .audit_entries(&renkei_store::audit::AuditFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for a in [
        "power.unit_saved",
        "power.rules_saved",
        "power.requested",
        "power.agreed",
        "power.returned",
    ] {
        assert!(actions.iter().any(|x| x == a), "audited: {a}");
    }
}

async fn two_agreements_at_the_same_instant_lend_the_unit_once(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let clinics = yao_clinics(&w).await;
    let owner = clinics[0].id;
    let unit = w
        .store
        .add_power_unit(
            owner,
            &PowerUnit {
                kind: UnitKind::PortableGenerator,
                label: "1号機".into(),
                output_watts: 1600,
                capacity_wh: None,
                runtime_hours: Some(8),
                fuel: None,
                lendable: true,
                note: String::new(),
            },
            None,
        )
        .await
        .unwrap();
    let need = Need {
        device: Device::Oxygen,
        watts: 500,
        starts_on: "2026-11-25".parse().unwrap(),
        ends_on: "2026-11-30".parse().unwrap(),
    };
    for round in 0..5 {
        let mut requests = Vec::new();
        for c in &clinics[1..4] {
            requests.push(
                w.store
                    .request_lending(unit, c.id, &need, "電話", "", None)
                    .await
                    .unwrap(),
            );
        }
        let mut tasks = Vec::new();
        for id in requests.clone() {
            let store = w.store.clone();
            tasks.push(tokio::spawn(async move {
                store.decide_lending(id, owner, true, "", None).await
            }));
        }
        let mut agreed = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => agreed += 1,
                Err(renkei_store::StoreError::Conflict(_)) => {}
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        assert_eq!(agreed, 1, "round {round}: exactly one agreement wins");
        let (received, _) = w.store.lendings_of(owner).await.unwrap();
        let out: Vec<_> = received
            .iter()
            .filter(|l| l.status == renkei_domain::power::LendingStatus::Agreed)
            .collect();
        assert_eq!(out.len(), 1);
        w.store
            .return_lending(out[0].id, owner, None)
            .await
            .unwrap();
        for id in requests {
            let _ = w.store.decide_lending(id, owner, false, "次回", None).await;
        }
    }
}

/// A small PDF as a word processor writes one.
fn pdf(text: &str) -> Vec<u8> {
    format!(
        "%PDF-1.7\n1 0 obj <</Type /Catalog>> endobj\n% {text}\ntrailer <</Root 1 0 R>>\n%%EOF\n"
    )
    .into_bytes()
}

async fn plans_are_opened_only_by_those_they_are_shared_with(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let mut clinics = three_clinics(&w).await;
    let (owner, mut a) = clinics.remove(0);
    let (partner, mut b) = clinics.remove(0);
    let page = format!("/institutions/{}/bcp", owner.id);

    // Faked types, empty and truncated files are refused by content (and audited).
    let faked = a
        .upload(
            &page,
            &format!("{page}/document"),
            "plan.pdf",
            b"MZ\x90\x00 not a pdf",
        )
        .await;
    assert_eq!(faked.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        faked.body.contains("PDF ファイルではありません"),
        "{}",
        faked.body
    );
    let cut = a
        .upload(
            &page,
            &format!("{page}/document"),
            "plan.pdf",
            &pdf("x")[..30],
        )
        .await;
    assert_eq!(cut.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Too large: refused before it is read, with a page.
    let mut huge = pdf("big");
    huge.resize(renkei_domain::readiness::MAX_BCP_BYTES + 200 * 1024, b' ');
    let big = a
        .upload(&page, &format!("{page}/document"), "plan.pdf", &huge)
        .await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);

    let up = a
        .upload(
            &page,
            &format!("{page}/document"),
            "../BCP 令和8年版.pdf",
            &pdf("v1"),
        )
        .await;
    assert_eq!(up.status, StatusCode::SEE_OTHER, "{}", up.body);
    let shown = a.get(&page).await;
    assert!(shown.body.contains("BCP 令和8年版.pdf"), "{}", shown.body);
    let doc = w.store.bcp_documents(owner.id, 1).await.unwrap()[0].id;
    let url = format!("/bcp/documents/{doc}");
    let own = a.get(&url).await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.headers["content-type"], "application/pdf");
    assert!(own.headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains("filename*=UTF-8''BCP%20"));
    assert!(own.body.starts_with("%PDF-1.7"));

    // Not shared: the partner, the hub and the prefecture learn nothing (404, as if absent).
    assert_eq!(b.get(&url).await.status, StatusCode::NOT_FOUND);
    let mut hub = w.login(&email_of(AccountRole::HubCoordinator)).await;
    assert_eq!(hub.get(&url).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        hub.get(&page).await.status,
        StatusCode::OK,
        "the hub sees the registry"
    );

    // Shared with a partner found by name, then with the hub.
    let found = a.get(&format!("{page}?find={}", &partner.name)).await;
    assert!(found.body.contains("bcp-found"), "{}", found.body);
    let added = a
        .post(
            &page,
            &format!("{page}/partners"),
            vec![
                ("partner", partner.id.to_string()),
                ("action", "add".into()),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER);
    assert_eq!(b.get(&url).await.status, StatusCode::OK);
    let mine = b.get(&format!("/institutions/{}/bcp", partner.id)).await;
    assert!(mine.body.contains("bcp-shared-with-me") && mine.body.contains(&owner.name));
    let future = a
        .post(
            &page,
            &page,
            vec![
                ("last_drill_on", "2027-01-10".into()),
                ("shared_with_hub", "1".into()),
            ],
        )
        .await;
    assert_eq!(future.status, StatusCode::UNPROCESSABLE_ENTITY);
    let saved = a
        .post(
            &page,
            &page,
            vec![
                ("last_drill_on", "令和8年10月15日".into()),
                ("shared_with_hub", "1".into()),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(hub.get(&url).await.status, StatusCode::OK);
    let overview = hub.get("/hub/readiness").await;
    assert!(overview.body.contains("令和8年10月15日"));
    assert!(overview.body.contains("登録あり・拠点と共有"));

    // Removing the partner ends its access at once; every opening and refusal was audited.
    let removed = a
        .post(
            &page,
            &format!("{page}/partners"),
            vec![
                ("partner", partner.id.to_string()),
                ("action", "remove".into()),
            ],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert_eq!(b.get(&url).await.status, StatusCode::NOT_FOUND);
    let entries = w
        .store
        .audit_entries(&renkei_store::audit::AuditFilter {
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    let reads = entries
        .iter()
        .filter(|e| e.action == "bcp.document_read")
        .count();
    assert_eq!(reads, 6, "every opening and refusal audited");
    assert!(entries.iter().any(|e| e.action == "bcp.upload_refused"));
    // Partners cannot edit the owner's registry.
    let meddle = b
        .post(
            &format!("/institutions/{}/bcp", partner.id),
            &page,
            vec![("shared_with_hub", "0".into())],
        )
        .await;
    assert_eq!(meddle.status, StatusCode::FORBIDDEN);
}

both_backends!(
    units_are_registered_and_lent_to_the_nearest_asker,
    two_agreements_at_the_same_instant_lend_the_unit_once,
    plans_are_opened_only_by_those_they_are_shared_with,
);
