//! Backups and restores through the command line. SQLite: a backup taken while the server
//! serves restores into another data directory with the same directory export; a restore
//! refuses while a server uses the directory, refuses to replace data without --force, keeps
//! what it replaced, and refuses a damaged file without touching anything. PostgreSQL: the same
//! round trip through pg_dump and pg_restore.

mod common;

use common::{http_get, renkei, Server};
use std::path::Path;
use std::process::Output;

fn run(dir: &Path, args: &[&str]) -> Output {
    renkei().current_dir(dir).args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn export(dir: &Path) -> Vec<u8> {
    let out = run(dir, &["export", "--format", "csv"]);
    assert!(out.status.success(), "{}", text(&out));
    out.stdout
}

#[test]
fn a_sqlite_backup_taken_while_serving_restores_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = renkei();
    cmd.current_dir(dir.path());
    let server = Server::start(cmd);
    // Requests keep coming while the copy is taken.
    let port = server.port;
    let load = std::thread::spawn(move || {
        for _ in 0..40 {
            assert_eq!(http_get(port, "/directory?q=クリニック").unwrap().0, 200);
        }
    });
    // Something in the audit chain, to verify after the restore.
    let created = run(
        dir.path(),
        &[
            "admin",
            "create-user",
            "--email",
            "coord@example.jp",
            "--name",
            "八尾 花子",
            "--role",
            "hub_coordinator",
            "--organisation",
            "八尾市医師会",
            "--area",
            "yao",
        ],
    );
    assert!(created.status.success(), "{}", text(&created));
    let out = run(dir.path(), &["backup", "--out", "nightly.db"]);
    load.join().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("バックアップを作成しました") && said.contains("整合性 ok"),
        "{said}"
    );
    let institutions: i64 = said
        .split("institutions ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(
        institutions > 500,
        "the demo's institutions are in it: {said}"
    );
    assert!(said.contains("audit.key"), "the key is named as kept apart");
    // Never overwritten.
    let again = run(dir.path(), &["backup", "--out", "nightly.db"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    // Not under a running server.
    let busy = run(dir.path(), &["restore", "--from", "nightly.db", "--force"]);
    assert_eq!(busy.status.code(), Some(1));
    assert!(text(&busy).contains("サーバーを止めて"), "{}", text(&busy));
    let before = export(dir.path());
    assert!(server.terminate().status.success());

    // Into another machine's data directory, with the same key.
    let other = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(other.path().join("renkei-data")).unwrap();
    std::fs::copy(
        dir.path().join("renkei-data/audit.key"),
        other.path().join("renkei-data/audit.key"),
    )
    .unwrap();
    let backup = dir.path().join("nightly.db");
    let backup = backup.to_str().unwrap();
    let restored = run(other.path(), &["restore", "--from", backup]);
    assert!(restored.status.success(), "{}", text(&restored));
    assert!(
        text(&restored).contains("監査ログの連鎖を確認しました"),
        "{}",
        text(&restored)
    );
    assert_eq!(export(other.path()), before, "the same directory");
    assert!(
        !text(&restored).contains("（0 件）"),
        "the chain has entries"
    );

    // Under another key the data comes back, with a warning that the chain does not verify.
    let stranger = tempfile::tempdir().unwrap();
    let warned = run(stranger.path(), &["restore", "--from", backup]);
    assert!(warned.status.success(), "{}", text(&warned));
    assert!(
        text(&warned).contains("同じ audit.key"),
        "{}",
        text(&warned)
    );

    // Data is replaced only with --force, and what was replaced is kept.
    let refused = run(dir.path(), &["restore", "--from", backup]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused).contains("--force"));
    let forced = run(dir.path(), &["restore", "--from", backup, "--force"]);
    assert!(forced.status.success(), "{}", text(&forced));
    let kept: Vec<String> = std::fs::read_dir(dir.path().join("renkei-data"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("renkei.db.before-restore-"))
        .collect();
    assert_eq!(kept.len(), 1, "the replaced database is kept");

    // A damaged file is refused and nothing is replaced.
    let mut bytes = std::fs::read(dir.path().join("nightly.db")).unwrap();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 4096] {
        *b = 0x5a;
    }
    std::fs::write(dir.path().join("damaged.db"), &bytes).unwrap();
    std::fs::write(dir.path().join("not-a-db.db"), b"hello").unwrap();
    for bad in ["damaged.db", "not-a-db.db"] {
        let path = dir.path().join(bad);
        let out = run(
            other.path(),
            &["restore", "--from", path.to_str().unwrap(), "--force"],
        );
        assert!(!out.status.success(), "{bad} was taken: {}", text(&out));
    }
    assert_eq!(export(other.path()), before, "nothing was replaced");
    assert!(!other
        .path()
        .join("renkei-data/renkei.db.restoring")
        .exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_backup_restores_through_pg_dump() {
    let Some(source) = renkei_testkit::create_postgres_database().await else {
        return;
    };
    let Some(target) = renkei_testkit::create_postgres_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let with = |url: &str, args: &[&str]| {
        renkei()
            .current_dir(dir.path())
            .env("DATABASE_URL", url)
            .args(args)
            .output()
            .unwrap()
    };
    let loaded = with(&source.url, &["demo"]);
    assert!(loaded.status.success(), "{}", text(&loaded));
    let before = with(&source.url, &["export", "--format", "csv"]).stdout;
    let dump = dir.path().join("renkei.dump");
    let out = with(&source.url, &["backup", "--out", dump.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    // A database with data is not replaced without --force.
    let refused = with(&source.url, &["restore", "--from", dump.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    let restored = with(&target.url, &["restore", "--from", dump.to_str().unwrap()]);
    assert!(restored.status.success(), "{}", text(&restored));
    assert!(
        text(&restored).contains("監査ログの連鎖を確認しました"),
        "{}",
        text(&restored)
    );
    let after = with(&target.url, &["export", "--format", "csv"]).stdout;
    assert_eq!(after, before, "the same directory");
    renkei_testkit::drop_database(&source.name).await;
    renkei_testkit::drop_database(&target.name).await;
}
