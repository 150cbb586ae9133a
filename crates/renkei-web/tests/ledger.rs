//! The ledgers and the prefecture report through the router: who may read them, the printable
//! page (styles linked, as the site's CSP requires), the downloads, a year without data.

mod common;

use axum::http::{header, StatusCode};
use common::*;
use renkei_domain::accounts::AccountRole;
use renkei_domain::ledger::{LedgerFile, NAKAKAWACHI_FY2025_TOML};
use renkei_domain::region::RegionDefinition;
use renkei_domain::{demo, towns};
use renkei_testkit::{both_backends, TestDb};

async fn with_ledgers(db: &TestDb) -> World {
    let w = world(db).await;
    let region = RegionDefinition::nakakawachi();
    let all = demo::institutions(
        &region,
        &towns::towns().unwrap(),
        &towns::postcodes().unwrap(),
    )
    .unwrap();
    db.store.insert_institutions(&all).await.unwrap();
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
        "（２）令和6年度の取組を通じた課題",
        "（３）令和7年度の取組計画",
        "（４）令和7年度の進捗状況",
        "三医師会合同災害対策会議（令和6年6月から10回開催）",
        "積極的医療機関 7件における対応状況",
        "④災害時における医療提供のための計画策定 現状対応可 2件",
        "②・③なし",
    ] {
        assert!(b.contains(text), "{text}");
    }
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
    for cell in [
        "2/7（29%）",
        "1/6（17%）",
        "1/3（33%）",
        "積極的医療機関なし",
    ] {
        assert!(b.contains(cell), "{cell}");
    }
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
    assert_eq!(deleted.location(), "/ledger/2025/yao?done=deleted");
    let now = db.store.ledger("yao", 2025).await.unwrap().unwrap();
    assert!(now
        .ledger
        .items
        .iter()
        .all(|i| i.id != linked && !i.fulfils.contains(&linked)));

    // The header, challenges and active part; an empty header field is refused.
    let texts = coordinator.get("/ledger/2025/yao/texts").await;
    assert!(texts.body.contains("八尾市医師会"));
    let mut fields = vec![
        ("revision", "3".to_owned()),
        ("document", "資料2-7".into()),
        ("area_label", "八尾市".into()),
        ("hub", "".into()),
        ("contractor", "八尾市".into()),
        ("challenges", "連携ツールの統一\n\n人材の確保".into()),
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
    let saved = coordinator
        .post("/ledger/2025/yao/texts", "/ledger/2025/yao/texts", fields)
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let now = db.store.ledger("yao", 2025).await.unwrap().unwrap();
    assert_eq!(now.ledger.challenges.len(), 2, "one per non-empty line");
    assert_eq!(now.ledger.active.unwrap().plans, ["非常用電源の貸出ルール"]);

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

both_backends!(
    a_coordinator_edits_only_their_hubs_ledger_with_nothing_lost,
    the_comparison_shows_each_hubs_activities_and_the_role_gaps,
    the_prefecture_reads_every_hubs_report_in_each_format,
    institution_staff_and_strangers_do_not_read_ledgers,
);
