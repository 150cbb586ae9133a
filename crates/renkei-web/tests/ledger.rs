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

both_backends!(
    the_comparison_shows_each_hubs_activities_and_the_role_gaps,
    the_prefecture_reads_every_hubs_report_in_each_format,
    institution_staff_and_strangers_do_not_read_ledgers,
);
