//! The ledgers and the prefecture report through the router: who may read them, the printable
//! page (styles linked, as the site's CSP requires), the downloads, a year without data.

mod common;

use axum::http::{header, StatusCode};
use common::*;
use renkei_domain::accounts::AccountRole;
use renkei_domain::institution::RoleEntry;
use renkei_domain::ledger::{CoverageSource, LedgerFile, NAKAKAWACHI_FY2025_TOML};
use renkei_domain::region::{RegionDefinition, Role, RoleStatus};
use renkei_testkit::{both_backends, TestDb};

async fn with_ledgers(db: &TestDb) -> World {
    let w = world_with_demo_directory(db).await;
    let region = RegionDefinition::nakakawachi();
    let file = LedgerFile::parse(NAKAKAWACHI_FY2025_TOML, &region).unwrap();
    db.store.load_ledger_file(&file).await.unwrap();
    w
}

async fn the_prefecture_reads_every_hubs_report_in_each_format(db: TestDb) {
    let w = with_ledgers(&db).await;
    let mut prefecture = w.login(&email_of(AccountRole::PrefectureViewer)).await;
    let index = prefecture.get("/ledger").await;
    assert_eq!(index.status, StatusCode::OK, "{}", index.body);
    assert!(index.body.contains("令和7年度"));
    for area in [
        "higashiosaka-west",
        "higashiosaka-central",
        "higashiosaka-east",
        "yao",
        "kashiwara",
    ] {
        assert!(
            index
                .body
                .contains(&format!("data-testid=\"ledger-row-{area}\"")),
            "{area}"
        );
    }

    let page = prefecture.get("/ledger/2025/report").await;
    assert_eq!(page.status, StatusCode::OK);
    let b = &page.body;
    assert!(
        b.contains("href=\"/static/ledger-report.css\""),
        "linked styles"
    );
    assert!(
        !b.contains("<style>"),
        "no inline styles under the site's CSP"
    );
    for text in [
        "資料2-1",
        "資料2-9",
        "（１）令和6年度の取組実績",
        "（２）令和6年度の取組みを通じた課題",
        "（２）令和6年度の取り組みを通じた課題",
        "（３）令和7年度の取組計画",
        "（３）令和7年度取組計画",
        "（４）令和7年度の進捗状況",
        "三医師会合同災害対策会議（令和6年6月から10回開催）",
        "積極的医療機関 7件における対応状況",
        "④災害時における医療提供のための計画策定 現状対応可 2件",
        "出典：拠点の報告",
        "■ 積極的医療機関の取組について（任意）",
        "②・③なし",
        "②-1 ICTの活用について",
        // Every printed page of a hub part is headed by its 資料 number and name.
        "data-testid=\"running\">資料2-7 八尾市 八尾市医師会<",
        "data-testid=\"running\">資料2-9 柏原市 一社）柏原市医師会、市立柏原病院<",
    ] {
        assert!(b.contains(text), "{text}");
    }
    // 八尾 reported no 対応状況: none is printed (an invented block of 0件 was), and its
    // progress keeps the seed's number (2).
    let yao_part = b.split("data-area=\"yao\"").skip(1).collect::<String>();
    let yao_part = yao_part.split("data-area=\"kashiwara\"").next().unwrap();
    assert!(!yao_part.contains("対応状況"), "{yao_part}");
    assert!(!yao_part.contains("0件"));
    assert!(yao_part.contains("（2）進捗状況") && yao_part.contains("（3）課題"));
    // A multi-duty entry is printed once (it was printed under ②, ④ and ⑤).
    assert_eq!(
        b.matches("がん診療拠点病院における連携会議（年10回）")
            .count(),
        1
    );
    assert_eq!(b.matches("積極的医療機関との個別面談（6回）").count(), 1);
    assert!(
        !b.contains("未入力"),
        "every part of the demo year is filled in"
    );
    let css = prefecture.get("/static/ledger-report.css").await;
    assert!(css.body.contains("size: A4 landscape"));

    // 令和7 and R7 name the same year; one hub alone.
    let yao = prefecture.get("/ledger/R7/report?area=yao").await;
    assert!(yao.body.contains("資料2-7") && !yao.body.contains("資料2-1"));

    let html = prefecture.get("/ledger/2025/report.html").await;
    assert!(html.body.contains("<style>") && html.body.contains("size: A4 landscape"));
    assert!(html
        .headers
        .get(header::CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("renkei-report-2025.html")));
    let xlsx = prefecture.get("/ledger/2025/report.xlsx?area=yao").await;
    assert_eq!(xlsx.status, StatusCode::OK);
    assert_eq!(
        xlsx.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(xlsx.body.starts_with("PK"), "a zip (xlsx) file");
    let md = prefecture.get("/ledger/2025/report.md").await;
    assert!(md
        .body
        .starts_with("# 連携の拠点の取組について（令和7年度）中河内"));
    assert!(md.body.contains("## 資料2-5 東大阪市（東地区）"));

    // A year without ledgers: the report says so and invents nothing.
    let empty = prefecture.get("/ledger/2030/report").await;
    assert_eq!(empty.status, StatusCode::NOT_FOUND);
    assert!(empty.body.contains("未入力") && !empty.body.contains("資料2-1"));
    assert_eq!(
        prefecture.get("/ledger/not-a-year/report").await.status,
        StatusCode::NOT_FOUND
    );
}

async fn institution_staff_and_strangers_do_not_read_ledgers(db: TestDb) {
    let w = with_ledgers(&db).await;
    let mut staff = w.login(&email_of(AccountRole::InstitutionStaff)).await;
    assert_eq!(staff.get("/ledger").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        staff.get("/ledger/2025/report.xlsx").await.status,
        StatusCode::FORBIDDEN
    );
    let mut stranger = Browser::new(&w.app);
    let reply = stranger.get("/ledger/2025/report").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(reply.location().starts_with("/login"));
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    assert_eq!(coordinator.get("/ledger").await.status, StatusCode::OK);
    assert!(coordinator
        .get("/hub")
        .await
        .body
        .contains("href=\"/ledger\""));
}

async fn the_comparison_shows_each_hubs_activities_and_the_role_gaps(db: TestDb) {
    let w = with_ledgers(&db).await;
    let mut prefecture = w.login(&email_of(AccountRole::PrefectureViewer)).await;
    let page = prefecture.get("/ledger/2025/compare").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let b = &page.body;
    assert!(b.contains("data-testid=\"compare-table\""));
    assert!(
        b.contains("<svg") && b.contains("role=\"img\""),
        "the chart"
    );
    // 災害時計画 (④): 西 2/7, 中 1/6, 東 1/3, as the seed reports and the directory counts.
    for cell in ["2/7（29%）", "1/6（17%）", "1/3（33%）"] {
        assert!(b.contains(cell), "{cell}");
    }
    // 八尾 and 柏原 recorded no 対応状況 for the year: "not reported", never 0.
    assert_eq!(
        b.matches("<td class=\"num\">報告なし</td>").count(),
        12,
        "two areas × six roles"
    );
    assert!(!b.contains("0/6") && !b.contains("0/0"));
    assert!(
        b.contains("data-testid=\"coverage-not-reported\">報告なし：八尾市、柏原市<"),
        "the chart says whom it leaves out"
    );
    // 八尾's 令和6年度 results: 連携の拠点会議 (7回), ネットワーク会議 (4回), 打ち合わせ (16回)
    // are three meeting items of 27 sessions.
    let yao = b.split("八尾市医師会").nth(1).unwrap();
    assert!(yao.contains("3<small>（27回）</small>"), "{yao}");
    assert_eq!(
        prefecture.get("/ledger/2031/compare").await.status,
        StatusCode::NOT_FOUND
    );
}

fn item_fields(revision: i64, title: &str, schedule: &str) -> Vec<(&'static str, String)> {
    vec![
        ("id", String::new()),
        ("revision", revision.to_string()),
        ("section", "plan".into()),
        ("duty", "1".into()),
        ("duty", "4".into()),
        ("kind", "training".into()),
        ("title", title.into()),
        ("schedule", schedule.into()),
        ("audience", "多職種、介護支援専門員".into()),
        ("planned", "２".into()),
    ]
}

async fn a_coordinator_edits_only_their_hubs_ledger_with_nothing_lost(db: TestDb) {
    let w = with_ledgers(&db).await;
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let own = coordinator.get("/ledger/2025/yao").await;
    assert_eq!(own.status, StatusCode::OK);
    assert!(own.body.contains("data-testid=\"add-plan\""), "editable");
    let other = coordinator.get("/ledger/2025/kashiwara").await;
    assert_eq!(other.status, StatusCode::OK);
    assert!(!other.body.contains("data-testid=\"add-plan\"") && other.body.contains("閲覧のみ"));
    let refused = coordinator
        .post(
            "/ledger/2025/yao",
            "/ledger/2025/kashiwara/item",
            item_fields(1, "よその拠点の研修", ""),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // A day that does not exist: the form comes back with what was typed; nothing is saved.
    let bad = coordinator
        .post(
            "/ledger/2025/yao/item",
            "/ledger/2025/yao/item",
            item_fields(1, "多職種連携研修会", "2月30日"),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("「2月30日」という日はありません"),
        "{}",
        bad.body
    );
    assert!(
        bad.body.contains("value=\"多職種連携研修会\""),
        "typed text kept"
    );
    // A count that is not a number, and a duty that does not exist: refused the same way.
    let mut not_a_count = item_fields(1, "多職種連携研修会", "");
    not_a_count.retain(|(k, _)| *k != "planned");
    not_a_count.push(("planned", "数回".into()));
    let mut sixth_duty = item_fields(1, "多職種連携研修会", "");
    sixth_duty.push(("duty", "6".into()));
    sixth_duty.push(("number", "①・④・⑥".into()));
    for (fields, reason) in [
        (
            not_a_count,
            "「計画回数」は回数（0以上の整数）で入力してください：「数回」",
        ),
        (sixth_duty, "取組 6 はありません"),
    ] {
        let refused = coordinator
            .post("/ledger/2025/yao/item", "/ledger/2025/yao/item", fields)
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{reason}");
        assert!(refused.body.contains(reason), "{reason}: {}", refused.body);
    }
    assert_eq!(
        db.store
            .ledger("yao", 2025)
            .await
            .unwrap()
            .unwrap()
            .revision,
        1
    );

    let saved = coordinator
        .post(
            "/ledger/2025/yao/item",
            "/ledger/2025/yao/item",
            item_fields(1, "多職種連携研修会", "11月5日（水）"),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let now = db.store.ledger("yao", 2025).await.unwrap().unwrap();
    assert_eq!(now.revision, 2);
    let item = now
        .ledger
        .items
        .iter()
        .find(|i| i.title == "多職種連携研修会")
        .unwrap();
    assert_eq!(item.id, "yao-plan-9", "after the eight plan items");
    assert_eq!((item.number.as_str(), item.planned), ("①・④", Some(2)));
    assert_eq!(item.audience, ["多職種", "介護支援専門員"]);
    let report = coordinator.get("/ledger/2025/report?area=yao").await;
    assert!(report.body.contains("多職種連携研修会（11月5日（水））"));

    // A save based on revision 1 comes after revision 2: refused, the typing kept.
    let stale = coordinator
        .post(
            "/ledger/2025/yao/item",
            "/ledger/2025/yao/item",
            item_fields(1, "古い画面からの追加", ""),
        )
        .await;
    assert_eq!(stale.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        stale.body.contains("別の人が保存しました") && stale.body.contains("古い画面からの追加")
    );
    assert_eq!(
        db.store
            .ledger("yao", 2025)
            .await
            .unwrap()
            .unwrap()
            .revision,
        2
    );

    // Deleting a plan item also removes the links of the progress that fulfilled it.
    let linked = now
        .ledger
        .items
        .iter()
        .find(|i| !i.fulfils.is_empty())
        .map(|i| i.fulfils[0].clone())
        .expect("a progress item that fulfils a plan item");
    let deleted = coordinator
        .post(
            "/ledger/2025/yao",
            &format!("/ledger/2025/yao/item/{linked}/delete"),
            vec![("revision", "2".into())],
        )
        .await;
    assert_eq!(
        deleted.location(),
        format!("/ledger/2025/yao?done=deleted#item-{linked}")
    );
    let now = db.store.ledger("yao", 2025).await.unwrap().unwrap();
    assert!(now
        .ledger
        .items
        .iter()
        .all(|i| i.id != linked && !i.fulfils.contains(&linked)));

    // The header, challenges and active part; an empty header field is refused.
    let texts = coordinator.get("/ledger/2025/yao/texts").await;
    assert!(texts.body.contains("八尾市医師会"));
    assert!(
        texts
            .body
            .contains("name=\"empty_results\" value=\"②・③ ⑤\""),
        "the 「なし」 markers as written"
    );
    let mut fields = vec![
        ("revision", "3".to_owned()),
        ("document", "資料2-7".into()),
        ("area_label", "八尾市".into()),
        ("hub", "".into()),
        ("contractor", "八尾市".into()),
        ("empty_results", "②・③ ⑤".into()),
        ("empty_plan", "⑤".into()),
        ("empty_progress", String::new()),
        ("challenges", "①連携ツールの統一\n\n②-1 人材の確保".into()),
        ("active_plans", "非常用電源の貸出ルール".into()),
    ];
    let refused = coordinator
        .post(
            "/ledger/2025/yao/texts",
            "/ledger/2025/yao/texts",
            fields.clone(),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    fields[3].1 = "八尾市医師会".into();
    // 「なし」 for a duty that has plan items, or a marker that is not one: refused, typing kept.
    for (bad, message) in [("①", "①には項目があります"), ("⑤と⑥", "読めません")]
    {
        let mut with_bad = fields.clone();
        with_bad[6].1 = bad.into();
        let refused = coordinator
            .post("/ledger/2025/yao/texts", "/ledger/2025/yao/texts", with_bad)
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(refused.body.contains(message), "{bad}: {}", refused.body);
        assert!(refused.body.contains("②-1 人材の確保"), "typing kept");
    }
    assert_eq!(
        db.store
            .ledger("yao", 2025)
            .await
            .unwrap()
            .unwrap()
            .revision,
        3,
        "nothing saved"
    );
    let saved = coordinator
        .post("/ledger/2025/yao/texts", "/ledger/2025/yao/texts", fields)
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let now = db.store.ledger("yao", 2025).await.unwrap().unwrap();
    let challenges: Vec<(Option<&str>, &str)> = now
        .ledger
        .challenges
        .iter()
        .map(|c| (c.number.as_deref(), c.text.as_str()))
        .collect();
    assert_eq!(
        challenges,
        [(Some("①"), "連携ツールの統一"), (Some("②-1"), "人材の確保")],
        "one per non-empty line, numbers kept"
    );
    assert_eq!(now.ledger.empty.len(), 3, "the 「なし」 markers kept");
    assert_eq!(
        now.ledger.active.as_ref().unwrap().plans,
        ["非常用電源の貸出ルール"]
    );
    let report = coordinator.get("/ledger/2025/report?area=yao").await;
    assert!(report.body.contains("②・③なし") && report.body.contains("① 連携ツールの統一"));

    // Reordering: the second plan item under ① moves up; a stale page changes nothing and
    // says so.
    let now = db.store.ledger("yao", 2025).await.unwrap().unwrap();
    let firsts = |l: &renkei_domain::ledger::HubLedger| -> Vec<String> {
        l.items_of(
            renkei_domain::ledger::Section::Plan,
            renkei_domain::region::Duty::Meetings,
        )
        .iter()
        .map(|i| i.id.clone())
        .collect()
    };
    let before = firsts(&now.ledger);
    assert!(before.len() >= 2, "{before:?}");
    let page = coordinator.get("/ledger/2025/yao").await;
    assert!(page
        .body
        .contains(&format!("data-testid=\"up-{}\"", before[1])));
    let moved = coordinator
        .post(
            "/ledger/2025/yao",
            &format!("/ledger/2025/yao/item/{}/move", before[1]),
            vec![
                ("revision", now.revision.to_string()),
                ("direction", "up".into()),
            ],
        )
        .await;
    assert_eq!(
        moved.location(),
        format!("/ledger/2025/yao?done=moved#item-{}", before[1])
    );
    let after = firsts(&db.store.ledger("yao", 2025).await.unwrap().unwrap().ledger);
    assert_eq!((&after[0], &after[1]), (&before[1], &before[0]));
    let stale = coordinator
        .post(
            "/ledger/2025/yao",
            &format!("/ledger/2025/yao/item/{}/move", before[1]),
            vec![
                ("revision", now.revision.to_string()),
                ("direction", "down".into()),
            ],
        )
        .await;
    assert_eq!(stale.location(), "/ledger/2025/yao?done=conflict");
    let told = coordinator.get(stale.location()).await;
    assert!(told.body.contains("操作は行いませんでした") && told.body.contains("role=\"alert\""));
    assert_eq!(
        firsts(&db.store.ledger("yao", 2025).await.unwrap().unwrap().ledger),
        after
    );

    // Next year starts from this year's plan, as drafts that the report leaves out.
    let next = coordinator
        .post("/ledger/2025/yao", "/ledger/2025/yao/next-year", vec![])
        .await;
    assert_eq!(next.location(), "/ledger/2026/yao?done=created");
    let next = db.store.ledger("yao", 2026).await.unwrap().unwrap().ledger;
    assert!(
        !next.items.is_empty()
            && next
                .items
                .iter()
                .all(|i| i.draft && i.section == renkei_domain::ledger::Section::Plan)
    );
    let page = coordinator.get("/ledger/2026/yao?done=created").await;
    assert!(page.body.contains("下書き"));
    // Pressed again: next year's ledger is there already; it is opened unchanged, and the
    // page says so instead of claiming to have made it.
    let again = coordinator
        .post("/ledger/2025/yao", "/ledger/2025/yao/next-year", vec![])
        .await;
    assert_eq!(again.location(), "/ledger/2026/yao?done=exists");
    assert!(coordinator
        .get(again.location())
        .await
        .body
        .contains("次年度の台帳はすでにあります"));
    assert_eq!(
        db.store.ledger("yao", 2026).await.unwrap().unwrap().ledger,
        next,
        "unchanged"
    );
    let report = coordinator.get("/ledger/2026/report?area=yao").await;
    assert!(report.body.contains("未入力") && !report.body.contains("多職種連携研修会"));

    let audit = db
        .store
        .audit_entries(&renkei_store::audit::AuditFilter {
            action_prefix: Some("ledger.".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(audit.len() >= 4, "saves are audited: {}", audit.len());

    // The prefecture reads it; it edits nothing.
    let mut prefecture = w.login(&email_of(AccountRole::PrefectureViewer)).await;
    assert_eq!(
        prefecture.get("/ledger/2025/yao").await.status,
        StatusCode::OK
    );
    assert_eq!(
        prefecture.get("/ledger/2025/yao/item").await.status,
        StatusCode::FORBIDDEN
    );
}

/// A bearer token of the signed-in user, made on the account page.
async fn read_token(b: &mut Browser) -> String {
    let created = b
        .post(
            "/account",
            "/account/api-tokens",
            vec![("name", "府の集計".into()), ("read", "1".into())],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    created
        .body
        .split("data-testid=\"new-token\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned()
}

/// GET with a bearer token (or none): status and JSON.
async fn fhir_get(w: &World, uri: &str, token: Option<&str>) -> (StatusCode, serde_json::Value) {
    use tower::ServiceExt;
    let mut request = axum::http::Request::builder().uri(uri);
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {t}"));
    }
    let response = w
        .app
        .clone()
        .oneshot(request.body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/fhir+json; charset=utf-8",
        "{uri}"
    );
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn group<'a>(report: &'a serde_json::Value, code: &str) -> &'a serde_json::Value {
    report["group"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["code"]["coding"][0]["code"] == code)
        .unwrap_or_else(|| panic!("group {code}"))
}

fn count(group: &serde_json::Value, population: &str) -> u64 {
    group["population"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"]["coding"][0]["code"] == population)
        .and_then(|p| p["count"].as_u64())
        .unwrap_or_else(|| panic!("{population} in {group}"))
}

async fn measure_reports_give_the_prefecture_the_counts_by_machine(db: TestDb) {
    use renkei_domain::ledger::Section;
    let w = with_ledgers(&db).await;
    let mut seen = Vec::new();

    // Not public: an OperationOutcome for a stranger and for institution staff.
    let (status, outcome) = fhir_get(&w, "/fhir/MeasureReport", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    seen.push(outcome);
    let mut staff = w.login(&email_of(AccountRole::InstitutionStaff)).await;
    let refused = staff.get("/fhir/MeasureReport/2025-yao").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("OperationOutcome"));
    let (status, outcome) = fhir_get(&w, "/fhir/MeasureReport", Some("rk_forged")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    seen.push(outcome);

    // The prefecture's program, with a read token: 令和7年度 is one report per hub.
    let mut prefecture = w.login(&email_of(AccountRole::PrefectureViewer)).await;
    let token = read_token(&mut prefecture).await;
    let (status, bundle) = fhir_get(
        &w,
        "/fhir/MeasureReport?period=ge2025-04-01&period=le2026-03-31",
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{bundle}");
    assert_eq!(bundle["total"], 5);
    let ids: Vec<&str> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "2025-higashiosaka-west",
            "2025-higashiosaka-central",
            "2025-higashiosaka-east",
            "2025-yao",
            "2025-kashiwara"
        ]
    );
    seen.push(bundle);

    let (status, west) = fhir_get(
        &w,
        "/fhir/MeasureReport/2025-higashiosaka-west",
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(west["resourceType"], "MeasureReport");
    assert_eq!(west["type"], "summary");
    assert_eq!(west["status"], "complete");
    assert_eq!(west["subject"]["identifier"]["value"], "higashiosaka-west");
    assert_eq!(west["reporter"]["display"], "布施医師会");
    assert_eq!(west["period"]["start"], "2025-04-01");
    assert_eq!(west["period"]["end"], "2026-03-31");
    // The 対応状況 of 西地区 as the seed gives it (①5 ②6 ③5 ④2 ⑤7 ⑥1 of 7), from the directory.
    for (role, available) in [
        ("acute_support", 5),
        ("transition_services", 6),
        ("disaster_plan", 2),
        ("community_center", 7),
        ("emergency_admission", 1),
    ] {
        let g = group(&west, role);
        assert_eq!(count(g, "denominator"), 7, "{role}");
        assert_eq!(count(g, "numerator"), available, "{role}");
    }
    // The activities are the ledger's, counted.
    let file =
        LedgerFile::parse(NAKAKAWACHI_FY2025_TOML, &RegionDefinition::nakakawachi()).unwrap();
    let ledger = file.hub_of("higashiosaka-west").unwrap();
    let results = ledger
        .items
        .iter()
        .filter(|i| i.section == Section::Results)
        .count() as u64;
    assert_eq!(
        count(group(&west, "results-activities"), "initial-population"),
        results
    );
    assert_eq!(
        count(group(&west, "active-institutions"), "initial-population"),
        7
    );
    seen.push(west);

    // By area; a year without ledgers finds nothing; a bad date is refused.
    let (_, yao) = fhir_get(
        &w,
        "/fhir/MeasureReport?subject:identifier=yao",
        Some(&token),
    )
    .await;
    assert_eq!(yao["total"], 1);
    seen.push(yao);
    let (_, none) = fhir_get(&w, "/fhir/MeasureReport?period=ge2030-04-01", Some(&token)).await;
    assert_eq!(none["total"], 0);
    assert!(none.get("entry").is_none());
    seen.push(none);
    let (status, bad) = fhir_get(&w, "/fhir/MeasureReport?period=ge2025-13-01", Some(&token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad.to_string().contains("period=ge2025-04-01"));
    seen.push(bad);
    let (status, missing) = fhir_get(&w, "/fhir/MeasureReport/2030-yao", Some(&token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    seen.push(missing);

    // What the counts mean is public, and so are the codes.
    let (status, measure) = fhir_get(&w, "/fhir/Measure/renkei-hub-report", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(measure["resourceType"], "Measure");
    seen.push(measure);
    for id in [
        "renkei-report-measure",
        "renkei-activity-kind",
        "renkei-hub-duty",
        "renkei-active-role",
        "renkei-role-status",
    ] {
        let (status, cs) = fhir_get(&w, &format!("/fhir/CodeSystem/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "{id}");
        seen.push(cs);
    }

    // A coordinator's session reads them too (the same data as the report pages).
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let page = coordinator.get("/fhir/MeasureReport/2025-yao").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);

    common::fhir_validator::validate(&seen)
        .unwrap_or_else(|report| panic!("invalid FHIR R4:\n{report}"));
}

/// Gives one active institution of `area` the status of a role, as an approved change would.
async fn set_role(db: &TestDb, area: &str, role: Role, status: RoleStatus) {
    let by = user_id(&db.store, AccountRole::HubCoordinator).await;
    let active = db
        .store
        .institutions_in_area(area)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.is_active)
        .expect("an active institution");
    let mut fields = db.store.public_fields(active.id.0).await.unwrap().unwrap();
    fields.roles.retain(|r| r.role != role);
    fields.roles.push(RoleEntry {
        role,
        status,
        plan: None,
    });
    let change = db
        .store
        .propose_change(active.id.0, by, &fields)
        .await
        .unwrap();
    assert!(db.store.approve_change(change, by).await.unwrap());
}

async fn yao_report(c: &mut Browser) -> String {
    c.get("/ledger/2025/report.md?area=yao").await.body
}

async fn yao_revision(db: &TestDb) -> i64 {
    db.store
        .ledger("yao", 2025)
        .await
        .unwrap()
        .unwrap()
        .revision
}

async fn post_texts(
    c: &mut Browser,
    revision: i64,
    mut fields: Vec<(&'static str, String)>,
) -> Reply {
    fields.push(("revision", revision.to_string()));
    let url = "/ledger/2025/yao/texts";
    c.post(url, url, fields).await
}

fn coverage_fields(choice: &str, counts: [&str; 7], as_of: &str) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("document", "資料2-7".to_owned()),
        ("area_label", "八尾市".into()),
        ("hub", "八尾市医師会".into()),
        ("contractor", "八尾市".into()),
        ("empty_results", "②・③ ⑤".into()),
        ("empty_plan", "⑤".into()),
        (
            "heading_challenges",
            "（２）令和6年度の取り組みを通じた課題".into(),
        ),
        ("active_plans", "非常用電源の貸出ルール".into()),
        ("active_progress", "救急受入体制を整えている。".into()),
        ("active_challenges", "人材確保".into()),
        ("coverage", choice.into()),
        ("coverage_as_of", as_of.into()),
    ];
    let names = [
        "coverage_institutions",
        "coverage_1",
        "coverage_2",
        "coverage_3",
        "coverage_4",
        "coverage_5",
        "coverage_6",
    ];
    fields.extend(names.iter().zip(counts).map(|(n, c)| (*n, c.to_owned())));
    fields
}

/// The 対応状況 is recorded in the ledger — "not reported", the hub's counts with their date,
/// or the directory's counts of one day — and a year's report does not change when the
/// directory's active institutions do.
async fn the_recorded_coverage_stays_when_the_directory_changes(db: TestDb) {
    let w = with_ledgers(&db).await;
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let texts_url = "/ledger/2025/yao/texts";
    let before = yao_report(&mut coordinator).await;
    assert!(
        !before.contains("対応状況"),
        "八尾 reported none:\n{before}"
    );

    // Nothing in the directory to count: the choice is off and a forced post is refused.
    let page = coordinator.get(texts_url).await;
    assert!(
        page.body.contains("value=\"none\" checked"),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains("役割を登録した積極的医療機関がありません"));
    assert!(page
        .body
        .contains("value=\"令和6年度の取り組みを通じた課題\""));
    let r = yao_revision(&db).await;
    let refused = post_texts(
        &mut coordinator,
        r,
        coverage_fields("directory", [""; 7], ""),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused
        .body
        .contains("役割を登録した積極的医療機関がありません"));

    // Typed counts are checked: more than the institutions, not a number, a future date.
    for (counts, as_of, message) in [
        (
            ["6", "3", "2", "1", "0", "4", "7"],
            "",
            "⑥ の件数（7）が積極的医療機関の件数（6）を超えています",
        ),
        (
            ["6", "3", "二", "1", "0", "4", "1"],
            "",
            "②の件数を 0 以上の数字で",
        ),
        (
            ["", "3", "2", "1", "0", "4", "1"],
            "",
            "積極的医療機関の件数が空です",
        ),
        (
            ["6", "3", "", "1", "0", "4", "1"],
            "",
            "②の件数が空です。対応できる機関がなければ 0 と",
        ),
        (["0", "0", "0", "0", "0", "0", "0"], "", "1 以上です"),
        (
            ["6", "3", "2", "1", "0", "4", "1"],
            "2099-04-01",
            "未来の日付",
        ),
        (
            ["6", "3", "2", "1", "0", "4", "1"],
            "令和7年",
            "日付として読めません",
        ),
    ] {
        let refused = post_texts(&mut coordinator, r, coverage_fields("hub", counts, as_of)).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{message}"
        );
        assert!(
            refused.body.contains(message),
            "{message}: {}",
            refused.body
        );
        assert!(
            refused.body.contains("非常用電源の貸出ルール"),
            "typing kept"
        );
    }
    assert_eq!(yao_revision(&db).await, r, "nothing saved");

    // The hub's counts (full-width digits read as digits), with their date.
    let saved = post_texts(
        &mut coordinator,
        r,
        coverage_fields("hub", ["６", "3", "2", "1", "0", "4", "1"], "2025-10-01"),
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let reported = yao_report(&mut coordinator).await;
    for line in [
        "#### （2）対応状況",
        "積極的医療機関 6件における対応状況",
        "- ④災害時における医療提供のための計画策定 現状対応可 0件",
        "出典：拠点の報告（令和7年10月1日時点）",
        "#### （3）進捗状況",
        "#### （4）課題",
        "### （２）令和6年度の取り組みを通じた課題",
    ] {
        assert!(reported.contains(line), "{line}:\n{reported}");
    }
    let stored = db.store.ledger("yao", 2025).await.unwrap().unwrap();
    let recorded = stored.ledger.active.unwrap().coverage.unwrap();
    assert_eq!(
        (recorded.source, recorded.institutions, recorded.available),
        (CoverageSource::Hub, 6, [3, 2, 1, 0, 4, 1])
    );
    assert_eq!(
        stored.ledger.headings.challenges.as_deref(),
        Some("令和6年度の取り組みを通じた課題"),
        "the typed number is dropped; the report numbers the sections"
    );

    // The directory changes: the recorded year does not.
    set_role(&db, "yao", Role::DisasterPlan, RoleStatus::Available).await;
    assert_eq!(yao_report(&mut coordinator).await, reported);
    let page = coordinator.get(texts_url).await;
    assert!(page.body.contains("value=\"hub\" checked"));
    assert!(
        page.body.contains("name=\"coverage_4\" value=\"0\""),
        "the recorded counts"
    );
    assert!(
        page.body.contains("積極的医療機関 6件：①0 ②0 ③0 ④1 ⑤0 ⑥0"),
        "today's directory, offered: {}",
        page.body
    );

    // Counted from the directory once, kept with its day; later changes leave it as it was.
    let r = yao_revision(&db).await;
    let saved = post_texts(
        &mut coordinator,
        r,
        coverage_fields("directory", [""; 7], ""),
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let counted = yao_report(&mut coordinator).await;
    assert!(counted.contains("- ④災害時における医療提供のための計画策定 現状対応可 1件"));
    let day = renkei_domain::fiscal_year::format_wareki_date(renkei_domain::japan::today(
        renkei_web::clock::Clock::now(&*w.clock),
    ));
    assert!(
        counted.contains(&format!("出典：Renkei の医療機関情報（{day}時点で集計）")),
        "{counted}"
    );
    set_role(&db, "yao", Role::AcuteSupport, RoleStatus::Available).await;
    // A seventh active institution joins 八尾 with its roles: the recorded year stays at six.
    let region = RegionDefinition::nakakawachi();
    let mut joining = renkei_domain::demo::institutions(
        &region,
        &renkei_domain::towns::towns().unwrap(),
        &renkei_domain::towns::postcodes().unwrap(),
    )
    .unwrap()
    .into_iter()
    .find(|i| i.is_active && i.area.as_str() == "yao")
    .unwrap();
    joining.name = "［デモ］新しく加わった在宅療養支援診療所".into();
    joining.name_kana = "デモアタラシククワワッタザイタクリョウヨウシエンシンリョウジョ".into();
    joining.details = Default::default();
    joining.roles = Role::ALL
        .iter()
        .map(|role| RoleEntry {
            role: *role,
            status: RoleStatus::Available,
            plan: None,
        })
        .collect();
    db.store.insert_institutions(&[joining]).await.unwrap();
    assert_eq!(
        db.store.role_coverage().await.unwrap()["yao"].institutions,
        7
    );
    assert_eq!(yao_report(&mut coordinator).await, counted);
    let page = coordinator.get(texts_url).await;
    assert!(page.body.contains("value=\"keep\" checked"));
    let r = yao_revision(&db).await;
    let kept = post_texts(&mut coordinator, r, coverage_fields("keep", [""; 7], "")).await;
    assert_eq!(kept.status, StatusCode::SEE_OTHER);
    assert_eq!(
        yao_report(&mut coordinator).await,
        counted,
        "kept as counted"
    );
    let fhir = coordinator.get("/fhir/MeasureReport/2025-yao").await;
    assert!(
        fhir.body.contains("\"active-institutions\""),
        "{}",
        fhir.body
    );

    // Back to "not reported": the report prints no 対応状況, and FHIR has no role groups.
    let r = yao_revision(&db).await;
    let none = post_texts(&mut coordinator, r, coverage_fields("none", [""; 7], "")).await;
    assert_eq!(none.status, StatusCode::SEE_OTHER);
    let after = yao_report(&mut coordinator).await;
    assert!(
        !after.contains("対応状況") && after.contains("#### （2）進捗状況"),
        "{after}"
    );
    let fhir = coordinator.get("/fhir/MeasureReport/2025-yao").await;
    assert!(
        !fhir.body.contains("\"active-institutions\""),
        "{}",
        fhir.body
    );
}

both_backends!(
    the_recorded_coverage_stays_when_the_directory_changes,
    measure_reports_give_the_prefecture_the_counts_by_machine,
    a_coordinator_edits_only_their_hubs_ledger_with_nothing_lost,
    the_comparison_shows_each_hubs_activities_and_the_role_gaps,
    the_prefecture_reads_every_hubs_report_in_each_format,
    institution_staff_and_strangers_do_not_read_ledgers,
);
