//! Importing a directory file in the browser: check first (every bad row, repeats, other
//! areas refused, nothing written), then apply as shown; Excel and Shift_JIS CSV alike; the
//! limits hold.

mod common;

use axum::http::StatusCode;
use common::*;
use renkei_domain::accounts::AccountRole;
use renkei_domain::region::RegionDefinition;
use renkei_domain::{demo, towns};
use renkei_testkit::{both_backends, TestDb};

async fn with_demo(db: &TestDb) -> World {
    let w = world(db).await;
    let all = demo::institutions(
        &RegionDefinition::nakakawachi(),
        &towns::towns().unwrap(),
        &towns::postcodes().unwrap(),
    )
    .unwrap();
    db.store.insert_institutions(&all).await.unwrap();
    w
}

async fn count(w: &World) -> usize {
    w.store.identity_keys().await.unwrap().len()
}

fn key_in(html: &str) -> String {
    let at = html.find("/hub/import/").expect("an apply form") + "/hub/import/".len();
    html[at..].split('/').next().unwrap().to_owned()
}

/// Follows an applied plan through its progress page (which refreshes itself while the plan is
/// written in the background) to the form with the counts.
async fn finished(coordinator: &mut Browser, applied: &Reply) -> Reply {
    assert_eq!(applied.status, StatusCode::SEE_OTHER, "{}", applied.body);
    let progress = applied.location().to_owned();
    assert!(progress.starts_with("/hub/import/"), "{progress}");
    for _ in 0..600 {
        let page = coordinator.get(&progress).await;
        if page.status == StatusCode::SEE_OTHER {
            assert!(page.location().starts_with("/hub/import?done="));
            return coordinator.get(page.location()).await;
        }
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("data-testid=\"import-writing\""));
        assert!(page.body.contains("http-equiv=\"refresh\""));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the import did not finish");
}

async fn a_coordinator_checks_then_imports_only_their_area(db: TestDb) {
    let w = with_demo(&db).await;
    let before = count(&w).await;
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let form = coordinator.get("/hub/import").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("enctype=\"multipart/form-data\""));
    assert!(form.body.contains("八尾市"), "the areas they may import");

    let csv = "名称,種別,地域,所在地,できること,医療機関コード\r\n\
        ［デモ］新しい在宅クリニック,診療所,八尾市,八尾市本町9-9,訪問診療、看取り,2712340001\r\n\
        ［デモ］柏原の診療所,診療所,柏原市,柏原市本郷1-1,,\r\n\
        ,歯医者,八尾市,,,\r\n\
        ［デモ］同じコードの分院,診療所,八尾市,八尾市本町8-8,,2712340001\r\n";
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(csv);
    let report = coordinator
        .upload("/hub/import", "/hub/import", "一覧.csv", &sjis)
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    let b = &report.body;
    assert!(b.contains("CSV（Shift_JIS）"));
    for (id, n) in [("new", 1), ("updated", 0), ("duplicates", 1), ("bad", 2)] {
        assert!(
            b.contains(&format!("data-testid=\"count-{id}\">{n}<")),
            "{id} = {n}: {b}"
        );
    }
    assert!(
        b.contains("あなたの担当ではない"),
        "another area's row is refused"
    );
    assert!(
        b.contains("「種別」") || b.contains("<td>種別</td>"),
        "the bad row's column"
    );
    assert!(b.contains("2行目と同じ医療機関コード"));
    assert_eq!(count(&w).await, before, "checking writes nothing");

    // With bad rows, applying needs the explicit choice to leave them out.
    let key = key_in(b);
    let refused = coordinator
        .post("/hub/import", &format!("/hub/import/{key}/apply"), vec![])
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(count(&w).await, before);
    let applied = coordinator
        .post(
            "/hub/import",
            &format!("/hub/import/{key}/apply"),
            vec![("skip_bad_rows", "1".to_owned())],
        )
        .await;
    let done = finished(&mut coordinator, &applied).await;
    assert!(done.body.contains("取り込みました"), "{}", done.body);
    assert!(done.body.contains("data-testid=\"import-done\""));
    assert_eq!(count(&w).await, before + 1);
    // Pressing the button again shows the same result and writes nothing more.
    let again = coordinator
        .post(
            "/hub/import",
            &format!("/hub/import/{key}/apply"),
            vec![("skip_bad_rows", "1".to_owned())],
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "a plan applies once");
    assert_eq!(again.location(), applied.location());
    assert_eq!(count(&w).await, before + 1);
    // Nobody else sees the progress; an unknown key is gone.
    let mut other = w.login(&email_of(AccountRole::SystemAdmin)).await;
    assert_eq!(other.get(applied.location()).await.status, StatusCode::GONE);
    assert_eq!(
        coordinator
            .get("/hub/import/0123456789abcdef0123456789abcdef")
            .await
            .status,
        StatusCode::GONE
    );
}

/// README: a checked file is applied "within 30 minutes" of its check: at 29 minutes the
/// go-ahead applies it; at 31 minutes it is gone (410, with what to do) and nothing is written.
async fn a_checked_plan_expires_after_30_minutes(db: TestDb) {
    let w = with_demo(&db).await;
    let before = count(&w).await;
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let check = |name: &str| {
        format!(
            "名称,種別,地域,所在地,できること,医療機関コード\r\n［デモ］{name},診療所,八尾市,八尾市本町9-9,訪問診療,\r\n"
        )
    };
    let first = coordinator
        .upload(
            "/hub/import",
            "/hub/import",
            "a.csv",
            check("期限内の診療所").as_bytes(),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let first = key_in(&first.body);
    w.clock.advance(chrono::Duration::minutes(29));
    let applied = coordinator
        .post("/hub/import", &format!("/hub/import/{first}/apply"), vec![])
        .await;
    let done = finished(&mut coordinator, &applied).await;
    assert!(done.body.contains("data-testid=\"import-done\""));
    assert_eq!(count(&w).await, before + 1);

    let second = coordinator
        .upload(
            "/hub/import",
            "/hub/import",
            "b.csv",
            check("期限切れの診療所").as_bytes(),
        )
        .await;
    let second = key_in(&second.body);
    // 31 minutes, with a page opened in between so the session (30 minutes idle) stays.
    w.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(coordinator.get("/hub").await.status, StatusCode::OK);
    w.clock.advance(chrono::Duration::minutes(15));
    let late = coordinator
        .post(
            "/hub/import",
            &format!("/hub/import/{second}/apply"),
            vec![],
        )
        .await;
    assert_eq!(late.status, StatusCode::GONE, "{}", late.body);
    assert!(
        late.body.contains("30分"),
        "says why and what to do: {}",
        late.body
    );
    assert_eq!(count(&w).await, before + 1, "the late plan wrote nothing");
}

async fn an_excel_workbook_updates_an_entry_by_its_code(db: TestDb) {
    let w = with_demo(&db).await;
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let header = ["名称", "種別", "地域", "所在地", "医療機関コード", "電話"];
    let book = |address: &str, phone: &str| {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let sheet = wb.add_worksheet();
        for (c, h) in header.iter().enumerate() {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        for (c, v) in ["［デモ］エクセル医院", "診療所", "八尾市", address]
            .iter()
            .enumerate()
        {
            sheet.write_string(1, c as u16, *v).unwrap();
        }
        sheet.write_number(1, 4, 2712340002.0).unwrap();
        sheet.write_string(1, 5, phone).unwrap();
        wb.save_to_buffer().unwrap()
    };
    let first = coordinator
        .upload(
            "/hub/import",
            "/hub/import",
            "a.xlsx",
            &book("八尾市本町7-7", "000-111-0001"),
        )
        .await;
    assert!(first.body.contains("Excel（.xlsx）"), "{}", first.body);
    assert!(first.body.contains("data-testid=\"count-new\">1<"));
    let key = key_in(&first.body);
    let applied = coordinator
        .post("/hub/import", &format!("/hub/import/{key}/apply"), vec![])
        .await;
    finished(&mut coordinator, &applied).await;

    // The same code at a new address is the same institution: an update, not a new entry.
    let moved = coordinator
        .upload(
            "/hub/import",
            "/hub/import",
            "b.xlsx",
            &book("八尾市本町6-6", "000-111-0002"),
        )
        .await;
    assert!(moved.body.contains("data-testid=\"count-new\">0<"));
    assert!(
        moved.body.contains("data-testid=\"count-updated\">1<"),
        "{}",
        moved.body
    );
    // The same file again: nothing to do.
    let key = key_in(&moved.body);
    let applied = coordinator
        .post("/hub/import", &format!("/hub/import/{key}/apply"), vec![])
        .await;
    finished(&mut coordinator, &applied).await;
    let same = coordinator
        .upload(
            "/hub/import",
            "/hub/import",
            "b.xlsx",
            &book("八尾市本町6-6", "000-111-0002"),
        )
        .await;
    assert!(same.body.contains("data-testid=\"count-unchanged\">1<"));
    assert!(same.body.contains("取り込む変更はありません"));
}

async fn bad_uploads_are_explained_and_limited(db: TestDb) {
    let w = with_demo(&db).await;
    let before = count(&w).await;
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let cases: [(&str, Vec<u8>, StatusCode, &str); 4] = [
        (
            "empty.csv",
            Vec::new(),
            StatusCode::BAD_REQUEST,
            "ファイルが選ばれていません",
        ),
        (
            "binary.csv",
            vec![0x82, 0xff, 0xff, 0x00],
            StatusCode::UNPROCESSABLE_ENTITY,
            "文字コードを判別できません",
        ),
        (
            "broken.xlsx",
            b"PK\x03\x04 not really a workbook".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Excel ファイルを読めません",
        ),
        (
            "columns.csv",
            "名前,住所\n山田,八尾\n".as_bytes().to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "必須の列「名称」がありません",
        ),
    ];
    for (name, bytes, status, text) in cases {
        let reply = coordinator
            .upload("/hub/import", "/hub/import", name, &bytes)
            .await;
        assert_eq!(reply.status, status, "{name}: {}", reply.body);
        assert!(reply.body.contains(text), "{name}: {}", reply.body);
    }
    // Broken quoting: the row is named, the rest is read.
    let quoting = "名称,種別,地域,所在地\n\"壊れた,診療所,八尾市,八尾市本町1-1\n";
    let reply = coordinator
        .upload("/hub/import", "/hub/import", "q.csv", quoting.as_bytes())
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.contains("引用符"), "{}", reply.body);

    // Over 100 MB: refused before anything is read, answered with a page (no 500).
    let huge = vec![b'a'; 100 * 1024 * 1024 + 10];
    let reply = coordinator
        .upload("/hub/import", "/hub/import", "huge.csv", &huge)
        .await;
    assert!(
        reply.status == StatusCode::PAYLOAD_TOO_LARGE,
        "{}: {}",
        reply.status,
        &reply.body[..reply.body.len().min(300)]
    );
    assert_eq!(count(&w).await, before);

    // Someone not signed in is held to the ordinary body limit before anything else.
    let mut stranger = Browser::new(&w.app);
    let big = vec![b'a'; 3 * 1024 * 1024];
    let reply = stranger
        .upload("/login", "/hub/import", "big.csv", &big)
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);

    // Staff of an institution may not import.
    let mut staff = w.login(&email_of(AccountRole::InstitutionStaff)).await;
    assert_eq!(staff.get("/hub/import").await.status, StatusCode::FORBIDDEN);
}

/// A workbook of a few megabytes whose sheet unpacks to 600 MB (a decompression bomb,
/// as in M5 of the security probe), made once per test binary.
fn workbook_bomb() -> &'static [u8] {
    static BOMB: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BOMB.get_or_init(|| {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(1))
            .large_file(true);
        zip.start_file("xl/worksheets/sheet1.xml", options).unwrap();
        let row = "<c t=\"inlineStr\"><is><t>八尾</t></is></c>".repeat(1024);
        for _ in 0..(600 * 1024 * 1024 / row.len()) {
            zip.write_all(row.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    })
}

/// Resident memory at its peak so far (Linux), in megabytes.
fn peak_memory_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

/// M5: a decompression bomb is refused with a clear message before it is parsed, and the
/// server's memory does not grow with what it would unpack to.
async fn a_workbook_bomb_is_refused_without_unpacking_it(db: TestDb) {
    let w = with_demo(&db).await;
    let bomb = workbook_bomb();
    assert!(bomb.len() < 10 * 1024 * 1024, "{} bytes", bomb.len());
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let before = peak_memory_mb();
    let reply = coordinator
        .upload("/hub/import", "/hub/import", "爆弾.xlsx", bomb)
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    assert!(
        reply.body.contains("Excel ファイルが大きすぎます") && reply.body.contains("split"),
        "{}",
        reply.body
    );
    let grown = peak_memory_mb().saturating_sub(before);
    assert!(grown < 300, "memory grew by {grown} MB");
}

/// Another instance of Renkei on the same database (its own memory, the same clock).
fn second_instance(w: &World, db: &TestDb) -> axum::Router {
    renkei_web::router(
        renkei_web::AppState::new(db.store.clone(), renkei_web::WebConfig::default())
            .with_clock(w.clock.clone()),
    )
}

async fn the_go_ahead_and_the_progress_may_land_on_another_instance(db: TestDb) {
    let w = with_demo(&db).await;
    let before = count(&w).await;
    let other = second_instance(&w, &db);
    let mut on_a = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let csv = "名称,種別,地域,所在地\r\n［デモ］二台目のクリニック,診療所,八尾市,八尾市本町7-7\r\n";
    let report = on_a
        .upload("/hub/import", "/hub/import", "一覧.csv", csv.as_bytes())
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    let key = key_in(&report.body);
    // The same signed-in browser, its requests now sent to instance B.
    let mut on_b = Browser::new(&other);
    on_b.cookies = on_a.cookies.clone();
    let apply = format!("/hub/import/{key}/apply");
    // Both instances are pressed at once: exactly one applies the plan.
    let (from_b, from_a) = tokio::join!(
        on_b.post("/hub/import", &apply, vec![]),
        on_a.post("/hub/import", &apply, vec![])
    );
    assert_eq!(from_b.status, StatusCode::SEE_OTHER, "{}", from_b.body);
    assert_eq!(from_a.status, StatusCode::SEE_OTHER, "{}", from_a.body);
    assert_eq!(from_a.location(), from_b.location());
    // The progress, followed on A, of what B (or A) writes.
    let done = finished(&mut on_a, &from_b).await;
    assert!(
        done.body.contains("data-testid=\"import-done\""),
        "{}",
        done.body
    );
    assert_eq!(count(&w).await, before + 1, "written once");
    let progress_on_b = on_b.get(from_b.location()).await;
    assert_eq!(progress_on_b.status, StatusCode::SEE_OTHER);
    assert!(progress_on_b
        .location()
        .starts_with("/hub/import?done=1%2C0%2C0%2C0"));
}

async fn an_import_whose_instance_died_shows_failed_and_may_be_applied_again(db: TestDb) {
    use renkei_store::pending_imports::{Claim, ImportState};
    let w = with_demo(&db).await;
    let before = count(&w).await;
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let csv = "名称,種別,地域,所在地\r\n［デモ］再開のクリニック,診療所,八尾市,八尾市本町6-6\r\n";
    let report = coordinator
        .upload("/hub/import", "/hub/import", "一覧.csv", csv.as_bytes())
        .await;
    let key = key_in(&report.body);
    let user = user_id(&w.store, AccountRole::HubCoordinator).await.0;
    // An instance takes the plan and is killed before writing (no heartbeat after this).
    let claim = w
        .store
        .claim_pending_import(&key, user, false, renkei_web::clock::Clock::now(&*w.clock))
        .await
        .unwrap();
    assert!(matches!(claim, Claim::Taken(_)), "{claim:?}");
    let progress = format!("/hub/import/{key}");
    let page = coordinator.get(&progress).await;
    assert!(
        page.body.contains("data-testid=\"import-writing\""),
        "still alive for a while"
    );
    assert_eq!(
        w.store
            .claim_pending_import(&key, user, false, renkei_web::clock::Clock::now(&*w.clock))
            .await
            .unwrap(),
        Claim::AlreadyTaken,
        "not taken twice while its instance may be alive"
    );
    // A minute and more without a sign of life: the page says it failed, and it may be retried.
    w.clock.advance(chrono::Duration::seconds(90));
    let state = w
        .store
        .import_progress(&key, user, renkei_web::clock::Clock::now(&*w.clock))
        .await
        .unwrap()
        .unwrap()
        .state;
    assert_eq!(state, ImportState::Failed);
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let failed = coordinator.get(&progress).await;
    assert_eq!(failed.status, StatusCode::OK);
    assert!(
        !failed.body.contains("http-equiv=\"refresh\""),
        "no longer refreshing"
    );
    assert_eq!(count(&w).await, before);
    let again = coordinator
        .post(&progress, &format!("/hub/import/{key}/apply"), vec![])
        .await;
    let done = finished(&mut coordinator, &again).await;
    assert!(done.body.contains("data-testid=\"import-done\""));
    assert_eq!(count(&w).await, before + 1);
}

/// A 医療機関コード whose check digit or prefecture does not agree (FORMATS.md §4) is shown to
/// the coordinator to check, and the row is imported all the same (the rule is not official).
async fn a_medical_code_that_does_not_check_is_shown_and_still_imported(db: TestDb) {
    let w = with_demo(&db).await;
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let csv = "名称,種別,地域,所在地,医療機関コード\r\n\
        ［デモ］検証番号の合う医院,診療所,八尾市,八尾市本町7-1,2712340005\r\n\
        ［デモ］検証番号の違う医院,診療所,八尾市,八尾市本町7-2,2712340001\r\n\
        ［デモ］東京の番号の医院,診療所,八尾市,八尾市本町7-3,1312340005\r\n";
    let report = coordinator
        .upload("/hub/import", "/hub/import", "codes.csv", csv.as_bytes())
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    let b = &report.body;
    for (id, n) in [("new", 3), ("bad", 0)] {
        assert!(
            b.contains(&format!("data-testid=\"count-{id}\">{n}<")),
            "{id} = {n}: {b}"
        );
    }
    let notices = &b[b
        .find("data-testid=\"import-notices\"")
        .expect("the notices")..];
    let notices = &notices[..notices.find("</table>").unwrap()];
    assert!(
        notices.contains("<td>3</td>") && notices.contains("検証番号"),
        "{notices}"
    );
    assert!(
        notices.contains("<td>4</td>") && notices.contains("所在地の都道府県"),
        "{notices}"
    );
    assert!(!notices.contains("<td>2</td>"), "the good code: {notices}");
}

both_backends!(
    a_medical_code_that_does_not_check_is_shown_and_still_imported,
    a_checked_plan_expires_after_30_minutes,
    a_coordinator_checks_then_imports_only_their_area,
    an_excel_workbook_updates_an_entry_by_its_code,
    bad_uploads_are_explained_and_limited,
    a_workbook_bomb_is_refused_without_unpacking_it,
    the_go_ahead_and_the_progress_may_land_on_another_instance,
    an_import_whose_instance_died_shows_failed_and_may_be_applied_again,
);
