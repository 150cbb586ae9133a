//! The `renkei` binary as a person runs it: start with the demo, stop on SIGTERM, and fail
//! clearly (one line, non-zero exit, nothing half-created) on bad settings.

mod common;

use common::{free_port, http_get, renkei, Server};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;

fn assert_one_line_failure(out: &Output, ja: &str) {
    assert!(!out.status.success(), "should fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {stderr}");
    assert!(
        lines[0].starts_with("エラー: ") && lines[0].contains(" / Error: "),
        "{stderr}"
    );
    assert!(lines[0].contains(ja), "expected 「{ja}」 in: {stderr}");
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn serve_demo_on_sqlite_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = renkei();
    cmd.current_dir(dir.path());
    let server = Server::start(cmd);
    let (status, home) = http_get(server.port, "/").unwrap();
    assert_eq!(status, 200);
    for hub in [
        "布施医師会",
        "河内医師会",
        "枚岡医師会",
        "八尾市医師会",
        "柏原市医師会",
        "市立柏原病院",
    ] {
        assert!(home.contains(hub), "{hub}");
    }
    assert!(
        dir.path().join("renkei-data/renkei.db").exists(),
        "default data directory is ./renkei-data"
    );
    the_demo_has_one_approved_edit(server.port);
    let out = server.terminate();
    assert!(
        out.status.success(),
        "graceful exit: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("http://127.0.0.1:"),
        "says where to open it: {stdout}"
    );
    for account in [
        "admin@demo.renkei.example",
        "coordinator@demo.renkei.example",
        "clinic-admin@demo.renkei.example",
        "nurse@demo.renkei.example",
        "prefecture@demo.renkei.example",
        "renkei-demo-2026",
    ] {
        assert!(
            stdout.contains(account),
            "the demo accounts are printed at start: {account}"
        );
    }

    // A second start keeps the data and does not load the demo twice.
    let mut cmd = renkei();
    cmd.current_dir(dir.path());
    let server = Server::start(cmd);
    let out = server.terminate();
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("デモデータ（"),
        "demo loaded only into an empty database"
    );
}

/// The demo hospital's approved edit is in its history and in FHIR Provenance, readable by id.
fn the_demo_has_one_approved_edit(port: u16) {
    let (status, bundle) = http_get(port, "/fhir/Provenance").unwrap();
    assert_eq!(status, 200);
    let bundle: serde_json::Value = serde_json::from_str(&bundle).unwrap();
    let entries = bundle["entry"].as_array().expect("a searchset");
    assert_eq!(entries.len(), 1, "one approved change: {bundle}");
    let id = entries[0]["resource"]["id"].as_str().unwrap();
    let (status, provenance) = http_get(port, &format!("/fhir/Provenance/{id}")).unwrap();
    assert_eq!(status, 200, "{provenance}");
    let target = entries[0]["resource"]["target"][0]["reference"]
        .as_str()
        .unwrap();
    let hospital = target.rsplit('/').next().unwrap();
    let (_, entry) = http_get(port, &format!("/institutions/{hospital}")).unwrap();
    assert!(
        entry.contains("地域医療連携室(退院調整・レスパイト入院のご相談)"),
        "the approved desk shows on {target}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_on_postgres_behaves_the_same() {
    let Some(db) = renkei_testkit::create_postgres_database().await else {
        return;
    };
    let mut cmd = renkei();
    let dir = tempfile::tempdir().unwrap();
    cmd.current_dir(dir.path()).env("DATABASE_URL", &db.url);
    let server = tokio::task::spawn_blocking(move || Server::start(cmd))
        .await
        .unwrap();
    let (status, home) = http_get(server.port, "/").unwrap();
    assert_eq!(status, 200);
    assert!(home.contains("市立柏原病院"));
    assert!(home.contains("data-testid=\"active-higashiosaka-west\">7<"));
    let (_, health) = http_get(server.port, "/healthz").unwrap();
    assert!(health.contains("\"database\":\"postgres\""), "{health}");
    the_demo_has_one_approved_edit(server.port);
    let out = server.terminate();
    assert!(out.status.success());
    let data: Vec<String> = std::fs::read_dir(dir.path().join("renkei-data"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        data,
        ["audit.key"],
        "with PostgreSQL the data directory holds only the audit key"
    );
    renkei_testkit::drop_database(&db.name).await;
}

#[test]
fn a_port_in_use_fails_before_creating_anything() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = renkei()
        .current_dir(dir.path())
        .args(["serve", "--demo", "--listen", &addr])
        .output()
        .unwrap();
    assert_one_line_failure(&out, "使用中");
    assert!(
        entries(dir.path()).is_empty(),
        "nothing created: {:?}",
        entries(dir.path())
    );
}

#[test]
fn a_corrupt_database_file_is_named_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let garbage =
        b"this is not a SQLite database, just some text that happens to be here.".repeat(100);
    std::fs::write(data.join("renkei.db"), &garbage).unwrap();
    let out = renkei()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert_one_line_failure(&out, "壊れています");
    assert_eq!(std::fs::read(data.join("renkei.db")).unwrap(), garbage);
    assert_eq!(entries(&data), ["renkei.db"]);
}

#[test]
fn an_unwritable_data_directory_is_named() {
    let out = renkei()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--data-dir",
            "/proc/renkei-cannot-be-here",
        ])
        .output()
        .unwrap();
    assert_one_line_failure(
        &out,
        "データディレクトリ /proc/renkei-cannot-be-here に書き込めません",
    );

    // A directory that exists but refuses writes (a read-only bind is not available here, so a
    // file in place of the directory stands in for it).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let out = renkei()
        .args(["migrate", "--data-dir"])
        .arg(&file)
        .output()
        .unwrap();
    assert_one_line_failure(&out, "データディレクトリ");
}

#[test]
fn wrong_database_urls_are_explained() {
    let out = renkei()
        .env("DATABASE_URL", "mysql://root@127.0.0.1/renkei")
        .arg("migrate")
        .output()
        .unwrap();
    assert_one_line_failure(&out, "DATABASE_URL");
    assert_eq!(out.status.code(), Some(2));

    let closed = free_port();
    let out = renkei()
        .env(
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:{closed}/renkei"),
        )
        .arg("migrate")
        .output()
        .unwrap();
    assert_one_line_failure(&out, "接続できません");

    let out = renkei()
        .env(
            "DATABASE_URL",
            format!(
                "{}/renkei_no_such_database_here",
                renkei_testkit::DEFAULT_POSTGRES_URL.trim_end_matches("/postgres")
            ),
        )
        .arg("migrate")
        .output()
        .unwrap();
    assert_one_line_failure(&out, "存在しません");

    let out = renkei()
        .env(
            "DATABASE_URL",
            "postgres://secretuser:hunter2@127.0.0.1:1/x",
        )
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("hunter2"),
        "passwords are never printed"
    );
}

#[test]
fn migrate_and_demo_commands_report_what_they_did() {
    let dir = tempfile::tempdir().unwrap();
    let out = renkei()
        .current_dir(dir.path())
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("スキーマ版 28"));
    let out = renkei()
        .current_dir(dir.path())
        .arg("demo")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("架空の医療機関"));
    let out = renkei()
        .current_dir(dir.path())
        .arg("demo")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("すでに医療機関が登録"));
}

#[test]
fn a_config_file_is_read_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("renkei.toml"), "data_dir = \"from-file\"\n").unwrap();
    let out = renkei()
        .current_dir(dir.path())
        .arg("migrate")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(dir.path().join("from-file/renkei.db").exists());
    let out = renkei()
        .current_dir(dir.path())
        .args(["migrate", "--data-dir", "from-flag"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(dir.path().join("from-flag/renkei.db").exists());

    std::fs::write(dir.path().join("renkei.toml"), "data_dri = \"typo\"\n").unwrap();
    let out = renkei()
        .current_dir(dir.path())
        .arg("migrate")
        .output()
        .unwrap();
    assert_one_line_failure(&out, "設定ファイル");
}

#[test]
fn a_bad_smtp_url_fails_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let out = renkei()
        .current_dir(dir.path())
        .env("RENKEI_SMTP_URL", "http://not-smtp")
        .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    assert_one_line_failure(&out, "SMTP");
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn a_bad_map_tile_url_fails_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let out = renkei()
        .current_dir(dir.path())
        .args([
            "serve",
            "--map-tile-url",
            "javascript:alert(1)",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
        ])
        .output()
        .unwrap();
    assert_one_line_failure(&out, "地図タイル");
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn the_admin_commands_manage_users_and_verify_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        renkei()
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let created = run(&[
        "admin",
        "create-user",
        "--email",
        "Coord@Example.jp",
        "--name",
        "八尾 花子",
        "--role",
        "hub_coordinator",
        "--organisation",
        "八尾市医師会",
        "--area",
        "yao",
    ]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(String::from_utf8_lossy(&created.stdout).contains("coord@example.jp"));
    let missing_area = run(&[
        "admin",
        "create-user",
        "--email",
        "x@example.jp",
        "--name",
        "x",
        "--role",
        "hub_coordinator",
        "--organisation",
        "八尾市医師会",
    ]);
    assert_one_line_failure(&missing_area, "--area");
    let list = run(&["admin", "list-users"]);
    assert!(String::from_utf8_lossy(&list.stdout)
        .contains("coord@example.jp,八尾 花子,hub_coordinator@八尾市医師会,off,active"));
    assert!(
        run(&["admin", "reset-password", "--email", "coord@example.jp"])
            .status
            .success()
    );
    assert!(
        run(&["admin", "disable-user", "--email", "coord@example.jp"])
            .status
            .success()
    );
    assert!(String::from_utf8_lossy(&run(&["admin", "list-users"]).stdout).contains(",disabled"));
    let verified = run(&["audit", "verify"]);
    assert!(verified.status.success());
    assert!(
        String::from_utf8_lossy(&verified.stdout).contains("改ざんされていません（3 件を確認）"),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
}

/// README: `renkei audit verify` "exits 1 and names the first broken entry": after a rewritten
/// row, a deleted row and a cut tail (each on its own data directory of five entries), the exit
/// status is 1 and the one-line error names the entry and what happened to it.
#[test]
fn audit_verify_exits_1_and_names_the_first_broken_entry() {
    let cases = [
        (
            "UPDATE audit_log SET details = '{\"forged\":true}' WHERE seq = 3",
            "記録 3 で連鎖が壊れています: 内容が改ざんされています",
            "entry 3: content was edited",
        ),
        (
            "DELETE FROM audit_log WHERE seq = 2",
            "記録 2 で連鎖が壊れています: この記録が削除されています",
            "entry 2: this entry was deleted",
        ),
        (
            "DELETE FROM audit_log WHERE seq >= 4",
            "記録 4 で連鎖が壊れています: 末尾の記録が削除されています",
            "entry 4: entries at the end were deleted",
        ),
    ];
    for (sql, ja, en) in cases {
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| {
            renkei()
                .current_dir(dir.path())
                .args(args)
                .output()
                .unwrap()
        };
        for n in 1..=5 {
            let email = format!("user{n}@example.jp");
            let created = run(&[
                "admin",
                "create-user",
                "--email",
                &email,
                "--name",
                "監査 太郎",
                "--role",
                "hub_coordinator",
                "--organisation",
                "八尾市医師会",
                "--area",
                "yao",
            ]);
            assert!(
                created.status.success(),
                "{}",
                String::from_utf8_lossy(&created.stderr)
            );
        }
        let intact = run(&["audit", "verify"]);
        assert!(
            String::from_utf8_lossy(&intact.stdout).contains("（5 件を確認）"),
            "{}",
            String::from_utf8_lossy(&intact.stdout)
        );
        tamper(dir.path(), sql);
        let broken = run(&["audit", "verify"]);
        assert_eq!(broken.status.code(), Some(1), "{sql}");
        assert_one_line_failure(&broken, ja);
        assert!(
            String::from_utf8_lossy(&broken.stderr).contains(en),
            "{}",
            String::from_utf8_lossy(&broken.stderr)
        );
    }
}

/// Runs SQL on the SQLite database of a data directory, as an insider with the file would.
fn tamper(dir: &Path, sql: &str) {
    let url = format!(
        "sqlite://{}",
        dir.join("renkei-data").join("renkei.db").display()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        pool.close().await;
    });
}

/// M1 of the security probe: entries cut from the end of the audit log with the head rewound
/// passed `renkei audit verify`. The head is sealed with the key now, and an anchor file kept
/// outside the database catches a cut even when an old sealed head is put back.
#[test]
fn an_audit_log_cut_at_the_end_fails_verification_and_the_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        renkei()
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let text = |o: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    for n in 0..3 {
        let email = format!("staff{n}@example.jp");
        let created = run(&[
            "admin",
            "create-user",
            "--email",
            &email,
            "--name",
            "八尾 花子",
            "--role",
            "system_admin",
            "--organisation",
            "運用",
        ]);
        assert!(created.status.success(), "{}", text(&created));
    }
    let anchors = dir.path().join("anchors.txt");
    let anchored = run(&["audit", "anchor", "--out", anchors.to_str().unwrap()]);
    assert!(anchored.status.success(), "{}", text(&anchored));
    assert_eq!(
        std::fs::read_to_string(&anchors).unwrap().lines().count(),
        1
    );
    let verified = run(&["audit", "verify", "--anchor", anchors.to_str().unwrap()]);
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(
        text(&verified).contains("アンカー 1 件と一致"),
        "{}",
        text(&verified)
    );
    // An altered anchor (moved back to an earlier entry) is refused.
    let altered = dir.path().join("altered.txt");
    let line = std::fs::read_to_string(&anchors).unwrap();
    std::fs::write(&altered, line.replacen("seq=", "seq=1", 1)).unwrap();
    let refused = run(&["audit", "verify", "--anchor", altered.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("署名されていません"),
        "{}",
        text(&refused)
    );

    // The probe's reproduction: the last entries deleted, the head rewound.
    tamper(
        dir.path(),
        "DELETE FROM audit_log WHERE seq > 1; UPDATE audit_head SET seq = 1, hash = (SELECT hash FROM audit_log WHERE seq = 1) WHERE id = 1;",
    );
    let plain = run(&["audit", "verify"]);
    assert_eq!(plain.status.code(), Some(1), "{}", text(&plain));
    assert!(text(&plain).contains("封印"), "{}", text(&plain));
    let with_anchor = run(&["audit", "verify", "--anchor", anchors.to_str().unwrap()]);
    assert_eq!(with_anchor.status.code(), Some(1), "{}", text(&with_anchor));
}

#[test]
fn the_directory_exports_as_csv_and_geojson() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        renkei()
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["demo"]).status.success());
    let out = run(&["export", "--format", "csv", "--out", "directory.csv"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(dir.path().join("directory.csv")).unwrap();
    assert!(csv.starts_with("\u{feff}ID,名称"));
    assert_eq!(
        csv.lines().count(),
        617,
        "a header and the 616 demo institutions"
    );
    assert!(!dir.path().join("directory.partial").exists());
    let out = run(&["export", "--format", "geojson"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["features"].as_array().unwrap().len(), 616);
    assert!(
        run(&["export", "--format", "xlsx", "--out", "directory.xlsx"])
            .status
            .success()
    );
    assert!(std::fs::read(dir.path().join("directory.xlsx"))
        .unwrap()
        .starts_with(b"PK"));
    let bad = run(&["export", "--format", "xml"]);
    assert!(!bad.status.success());
}

#[test]
fn an_export_imports_back_unchanged_and_bad_files_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        renkei()
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["demo"]).status.success());
    assert!(run(&["export", "--out", "before.csv"]).status.success());
    // Round trip: the same file changes nothing.
    let again = run(&["import", "before.csv"]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("新規 0 件、更新 0 件、変更なし 616 件"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    assert!(run(&["export", "--out", "after.csv"]).status.success());
    assert_eq!(
        std::fs::read(dir.path().join("before.csv")).unwrap(),
        std::fs::read(dir.path().join("after.csv")).unwrap()
    );

    // A Shift_JIS file as Excel writes it, with one new and one bad row.
    let csv = "名称,種別,地域,所在地,できること\r\n新しい在宅クリニック,診療所,八尾市,八尾市本町9-9,訪問診療、看取り\r\n,歯医者,どこか,,\r\n";
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(csv);
    std::fs::write(dir.path().join("new.csv"), &sjis).unwrap();
    let refused = run(&["import", "new.csv"]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("Shift_JIS")
            && stderr.contains("3行目「種別」")
            && stderr.contains("何も書き込んでいません"),
        "{stderr}"
    );
    let dry = run(&["import", "new.csv", "--dry-run", "--skip-bad-rows"]);
    assert!(
        String::from_utf8_lossy(&dry.stdout).contains("書き込みなし")
            && String::from_utf8_lossy(&dry.stdout).contains("新規 1 件")
    );
    assert!(
        String::from_utf8_lossy(&run(&["import", "before.csv"]).stdout).contains("新規 0 件"),
        "dry run wrote nothing"
    );
    let partial = run(&["import", "new.csv", "--skip-bad-rows"]);
    assert!(partial.status.success());
    let once_more = run(&["import", "new.csv", "--skip-bad-rows"]);
    assert!(
        String::from_utf8_lossy(&once_more.stdout).contains("新規 0 件、更新 0 件、変更なし 1 件")
    );
    let exported = run(&["export"]);
    assert!(String::from_utf8_lossy(&exported.stdout).contains("新しい在宅クリニック"));

    std::fs::write(dir.path().join("binary.csv"), [0x82u8, 0xff, 0xff, 0x00]).unwrap();
    assert_one_line_failure(&run(&["import", "binary.csv"]), "文字コード");

    // Excel: the workbook `export` writes imports back unchanged.
    assert!(run(&["export", "--format", "xlsx", "--out", "all.xlsx"])
        .status
        .success());
    let xlsx = run(&["import", "all.xlsx", "--dry-run"]);
    let stderr = String::from_utf8_lossy(&xlsx.stderr);
    assert!(stderr.contains("Excel（.xlsx）"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&xlsx.stdout).contains("新規 0 件、更新 0 件、変更なし 617 件"),
        "{}{stderr}",
        String::from_utf8_lossy(&xlsx.stdout)
    );
    let mut truncated = std::fs::read(dir.path().join("all.xlsx")).unwrap();
    truncated.truncate(300);
    std::fs::write(dir.path().join("broken.xlsx"), truncated).unwrap();
    assert_one_line_failure(
        &run(&["import", "broken.xlsx"]),
        "Excel ファイルを読めません",
    );

    // Repeats in one file: by 医療機関コード and by name and address, each reported.
    let repeats = "名称,種別,地域,所在地,医療機関コード\n\
        コード医院,診療所,八尾市,八尾市本町1-1,2712345678\n\
        コード医院 分院,診療所,八尾市,八尾市本町2-2,2712345678\n\
        同名医院,診療所,八尾市,八尾市本町3-3,\n\
        同名医院,診療所,八尾市,八尾市本町3-3,\n";
    std::fs::write(dir.path().join("repeats.csv"), repeats).unwrap();
    let out = run(&["import", "repeats.csv"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("3行目: 2行目と同じ医療機関コード（2712345678）")
            && stderr.contains("5行目: 4行目と同じ名称・所在地"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("新規 2 件、更新 0 件、変更なし 0 件、重複 2 件"));
    // The code identifies the entry: a new address under the same code is an update.
    let moved =
        "名称,種別,地域,所在地,医療機関コード\nコード医院,診療所,八尾市,八尾市本町5-5,2712345678\n";
    std::fs::write(dir.path().join("moved.csv"), moved).unwrap();
    assert!(
        String::from_utf8_lossy(&run(&["import", "moved.csv"]).stdout)
            .contains("新規 0 件、更新 1 件")
    );
}

#[test]
fn help_explains_every_setting() {
    let out = renkei().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for setting in [
        "--demo",
        "--listen",
        "--data-dir",
        "--database-url",
        "--config",
        "RENKEI_LISTEN",
        "DATABASE_URL",
        "--map-tile-url",
        "RENKEI_MAP_TILE_URL",
        "127.0.0.1:8080",
        "--max-connections",
        "--header-timeout",
    ] {
        assert!(
            help.contains(setting),
            "{setting} missing from serve --help:\n{help}"
        );
    }
}

#[test]
fn a_coordinator_lists_and_corrects_town_districts_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let list = renkei()
        .current_dir(dir.path())
        .args([
            "towns",
            "list",
            "--area",
            "higashiosaka-east",
            "--approximated",
        ])
        .output()
        .unwrap();
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let csv = String::from_utf8_lossy(&list.stdout).into_owned();
    let first = csv.lines().nth(1).expect("east has approximated towns");
    let town = first.split(',').nth(1).unwrap().to_owned();
    let out = renkei()
        .current_dir(dir.path())
        .args([
            "towns",
            "set-area",
            "--city",
            "東大阪市",
            "--town",
            &format!(" {town}　"),
            "--area",
            "higashiosaka-central",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = renkei()
        .current_dir(dir.path())
        .args(["towns", "list", "--area", "higashiosaka-central"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&list.stdout)
        .contains(&format!("東大阪市,{town},higashiosaka-central,coordinator")));

    let out = renkei()
        .current_dir(dir.path())
        .args([
            "towns",
            "set-area",
            "--city",
            "東大阪市",
            "--town",
            "ない町",
            "--area",
            "higashiosaka-east",
        ])
        .output()
        .unwrap();
    assert_one_line_failure(&out, "renkei towns list");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_prefecture_report_is_written_in_each_format_and_refuses_unknown_years() {
    use calamine::Reader;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        renkei()
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["demo"]).status.success());
    let md = run(&["report", "--fy", "令和7", "--format", "md"]);
    assert!(
        md.status.success(),
        "{}",
        String::from_utf8_lossy(&md.stderr)
    );
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(md.contains("## 資料2-3 東大阪市（中地区）"));
    assert!(
        md.contains("- ①急変時の診療支援 現状対応可 1件"),
        "the count 中 reported, kept in its ledger"
    );

    let xlsx = run(&[
        "report", "--fy", "2025", "--format", "xlsx", "--out", "r.xlsx",
    ]);
    assert!(
        xlsx.status.success(),
        "{}",
        String::from_utf8_lossy(&xlsx.stderr)
    );
    assert!(String::from_utf8_lossy(&xlsx.stderr).contains("5 拠点"));
    let mut book = calamine::open_workbook_auto(dir.path().join("r.xlsx")).unwrap();
    assert_eq!(
        book.sheet_names(),
        ["資料2-1", "資料2-3", "資料2-5", "資料2-7", "資料2-9"]
    );
    let sheet = book.worksheet_range("資料2-7").unwrap();
    let cells: Vec<String> = sheet.cells().map(|(_, _, v)| v.to_string()).collect();
    for text in [
        "八尾市医師会",
        "（１）令和6年度の取組実績",
        "②・③なし",
        "・連携の拠点会議（7回）",
    ] {
        assert!(
            cells.iter().any(|c| c.contains(text)),
            "{text} in {cells:?}"
        );
    }
    assert!(
        !cells
            .iter()
            .any(|c| c.contains("対応状況") || c.contains("0件")),
        "八尾 reported no 対応状況, so its sheet has none: {cells:?}"
    );

    let html = run(&[
        "report",
        "--fy",
        "R7",
        "--area",
        "kashiwara",
        "--out",
        "k.html",
    ]);
    assert!(html.status.success());
    let html = std::fs::read_to_string(dir.path().join("k.html")).unwrap();
    assert!(html.contains("size: A4 landscape") && html.contains("資料2-9"));
    assert!(!html.contains("資料2-1"));

    assert_one_line_failure(
        &run(&["report", "--fy", "2031"]),
        "令和13年度の台帳はありません",
    );
    assert_one_line_failure(&run(&["report", "--fy", "来年"]), "年度として読めません");
    assert_one_line_failure(
        &run(&["report", "--fy", "2025", "--area", "nara"]),
        "地域 nara の令和7年度の台帳はありません",
    );
    assert_one_line_failure(
        &run(&["report", "--fy", "2025", "--format", "xlsx"]),
        "--out",
    );
}

#[test]
fn a_safety_check_is_created_followed_and_exported_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        renkei()
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["demo"]).status.success());
    let deadline = (chrono::Utc::now() + chrono::Duration::hours(2))
        .with_timezone(&renkei_domain::japan::jst())
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let created = run(&[
        "safety-check",
        "create",
        "--title",
        "880万人訓練",
        "--deadline",
        &deadline,
        "--area",
        "kashiwara",
        "--kind",
        "hospital",
        "--kind",
        "clinic",
    ]);
    let said = String::from_utf8_lossy(&created.stdout);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(
        said.contains("安否確認 #1「880万人訓練」を作成しました"),
        "{said}"
    );

    let status = run(&["safety-check", "status", "1"]);
    let said = String::from_utf8_lossy(&status.stdout);
    assert!(
        said.contains("回答 0/") && said.contains("柏原市") && said.contains("未回答"),
        "{said}"
    );
    let list = run(&["safety-check", "status"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("#1 [訓練] 880万人訓練"));

    let links = run(&["safety-check", "export", "1", "--links"]);
    let csv = String::from_utf8(links.stdout).unwrap();
    assert!(csv.starts_with("\u{feff}名称,電話,FAX,回答用リンク"));
    assert!(csv.contains("http://127.0.0.1:8080/r/"), "{csv}");
    assert!(run(&[
        "safety-check",
        "export",
        "1",
        "--format",
        "xlsx",
        "--out",
        "a.xlsx"
    ])
    .status
    .success());
    assert!(std::fs::read(dir.path().join("a.xlsx"))
        .unwrap()
        .starts_with(b"PK"));

    // Bad input: one line that says what to do, exit code 2, nothing created.
    for (args, expected) in [
        (
            vec![
                "safety-check",
                "create",
                "--title",
                "x",
                "--deadline",
                "明日",
                "--area",
                "yao",
            ],
            "回答期限「明日」を読めません",
        ),
        (
            vec![
                "safety-check",
                "create",
                "--title",
                "x",
                "--deadline",
                &deadline,
                "--area",
                "nara",
            ],
            "地域コード「nara」はありません",
        ),
        (
            vec!["safety-check", "status", "9"],
            "安否確認 #9 はありません",
        ),
    ] {
        let out = run(&args);
        assert_one_line_failure(&out, expected);
        assert_eq!(out.status.code(), Some(2));
    }
    let list = run(&["safety-check", "status"]);
    assert_eq!(
        String::from_utf8_lossy(&list.stdout)
            .matches("880万人訓練")
            .count(),
        1
    );
}

/// Sends `signal` (e.g. `-TERM`) to the server without waiting for it.
fn signal(server: &Server, signal: &str) {
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap()
        .success());
}

/// README: "Stop with Ctrl-C (running requests finish first)". A request is in flight (its
/// body half sent) when SIGINT or SIGTERM arrives; the server waits for it: the rest of the
/// body is sent afterwards, the request is answered in full, and only then does the server
/// exit, cleanly.
#[test]
fn ctrl_c_and_sigterm_let_running_requests_finish() {
    use std::io::{Read, Write};
    for sig in ["-INT", "-TERM"] {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = renkei();
        cmd.current_dir(dir.path());
        let mut server = Server::start(cmd);
        let body = "email=someone%40example.jp&password=not-the-password";
        let mut running = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        write!(
            running,
            "POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            body.len(),
            &body[..10]
        )
        .unwrap();
        // The request has reached the server (it is reading the body) before the signal.
        std::thread::sleep(std::time::Duration::from_millis(300));
        signal(&server, sig);
        std::thread::sleep(std::time::Duration::from_millis(500));
        assert!(
            server.child.try_wait().unwrap().is_none(),
            "{sig}: the server waits for the running request"
        );
        running.write_all(&body.as_bytes()[10..]).unwrap();
        running
            .set_read_timeout(Some(renkei_testkit::wait::HANG_GUARD))
            .unwrap();
        let mut answer = String::new();
        running.read_to_string(&mut answer).unwrap();
        let status = answer.split(' ').nth(1).unwrap_or("");
        assert!(
            answer.starts_with("HTTP/1.1 ") && ["200", "303", "403"].contains(&status),
            "{sig}: the running request is answered in full: {answer}"
        );
        assert!(answer.contains("\r\n\r\n"), "{answer}");
        let out = renkei_testkit::wait::until(
            "the server to exit after the running request",
            renkei_testkit::wait::HANG_GUARD,
            std::time::Duration::from_millis(50),
            || server.child.try_wait().unwrap(),
        );
        assert!(out.success(), "{sig}: a clean exit, not a kill: {out:?}");
    }
}

/// README: logs hold "one line per request with its route pattern, status, time and request
/// id; never the concrete path, query string or any personal data". A session of requests
/// carrying known markers (in paths, query strings, form fields, a login's e-mail address and
/// password) is sent to a server logging at its default level; the log shows the requests by
/// route pattern and none of the markers.
#[test]
fn the_log_never_holds_paths_query_strings_or_personal_data() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = renkei();
    cmd.current_dir(dir.path()).env_remove("RENKEI_LOG");
    let server = Server::start(cmd);
    let port = server.port;
    let markers = [
        "MarkerQueryQ7",
        "MarkerPathP7",
        "marker-person7@example.jp",
        "MarkerPassword7",
        "MarkerNameN7",
        "09011117777",
    ];
    for path in [
        "/directory?q=MarkerQueryQ7",
        "/directory?q=%E8%A8%AA%E5%95%8F&near=MarkerQueryQ7",
        "/institutions/MarkerPathP7",
        "/api/v1/directory/near?lat=34.6&lng=135.6&q=MarkerQueryQ7",
        "/fhir/Organization?name=MarkerNameN7",
        "/no-such-page-MarkerPathP7",
    ] {
        assert!(http_get(port, path).is_some(), "{path}");
    }
    // A login attempt with a real form (its CSRF cookie and token), so it reaches the handler.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut page = String::new();
    stream.read_to_string(&mut page).unwrap();
    let cookie = page
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: renkei_csrf=")
                .then(|| {
                    l["set-cookie: ".len()..]
                        .split(';')
                        .next()
                        .unwrap()
                        .to_owned()
                })
        })
        .expect("a CSRF cookie");
    let field = "name=\"csrf_token\" value=\"";
    let at = page.find(field).expect("the form's CSRF token") + field.len();
    let token = page[at..].split('"').next().unwrap().to_owned();
    for (email, password) in [
        ("marker-person7@example.jp", "MarkerPassword7"),
        ("admin@demo.renkei.example", "MarkerPassword7"),
    ] {
        let form = format!(
            "csrf_token={token}&email={}&password={password}&name=MarkerNameN7&phone=09011117777",
            email.replace('@', "%40")
        );
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            stream,
            "POST /login?from=MarkerQueryQ7 HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    }
    let out = server.terminate();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("/directory") && log.contains("answered"),
        "the requests are logged, by route: {log}"
    );
    for marker in markers {
        assert!(!log.contains(marker), "「{marker}」 in the log:\n{log}");
    }
}

/// The durability settings are read back at start: PostgreSQL acknowledging commits before
/// they are flushed (`synchronous_commit = off`) is warned about in both languages; the
/// machine's default (durable) settings start without a warning.
#[test]
fn a_lossy_postgresql_setting_is_warned_about_at_start() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = runtime.block_on(renkei_testkit::create_postgres_database()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let start = |url: &str| {
        let mut cmd = renkei();
        cmd.current_dir(dir.path()).env("DATABASE_URL", url);
        Server::start(cmd).terminate()
    };
    let lossy = start(&format!("{}?options=-c%20synchronous_commit%3Doff", db.url));
    let log = String::from_utf8_lossy(&lossy.stderr);
    assert!(
        log.contains("警告 / Warning: PostgreSQL の synchronous_commit が off です")
            && log.contains("synchronous_commit is off"),
        "{log}"
    );
    let durable = start(&db.url);
    let log = String::from_utf8_lossy(&durable.stderr);
    assert!(!log.contains("Warning"), "{log}");
    runtime.block_on(renkei_testkit::drop_database(&db.name));
}
