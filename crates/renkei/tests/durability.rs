//! An answer acknowledged to the responder is never lost: answers pour in from several
//! clients, the server is killed with SIGKILL in the middle, restarted, and every answer it had
//! acknowledged (a 303 to the next step) is found — on SQLite and on PostgreSQL.

mod common;

use common::{renkei, Server};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Header names (lowercase) and values.
type Headers = Vec<(String, String)>;

/// One HTTP/1.1 exchange: status, headers, body.
fn exchange(port: u16, request: &str) -> Option<(u16, Headers, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some((status, headers, body.to_owned()))
}

/// Answers the quick form at `path` with `can_accept`; true when the server acknowledged it.
fn answer(port: u16, path: &str, can_accept: u32) -> Option<bool> {
    let get = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let (status, headers, body) = exchange(port, &get)?;
    if status != 200 {
        return Some(false);
    }
    let cookie = headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.split(';').next().unwrap_or("").to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    let marker = "name=\"csrf_token\" value=\"";
    let at = body.find(marker)? + marker.len();
    let csrf = body[at..].split('"').next()?;
    let form = format!(
        "people=safe&building=intact&power=grid&water=available&can_accept={can_accept}&csrf_token={csrf}"
    );
    let post = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    );
    let (status, headers, _) = exchange(port, &post)?;
    Some(
        status == 303
            && headers
                .iter()
                .any(|(k, v)| k == "location" && v.contains("/details?saved=1")),
    )
}

fn run(dir: &Path, database_url: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut cmd = renkei();
    cmd.current_dir(dir).args(args);
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    cmd.output().unwrap()
}

fn start(dir: &Path, database_url: Option<&str>) -> Server {
    let mut cmd = renkei();
    cmd.current_dir(dir);
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    Server::start(cmd)
}

/// The whole scenario on the database at `database_url` (SQLite in `dir` when `None`).
fn acknowledged_answers_survive_sigkill(dir: &Path, database_url: Option<&str>) -> String {
    let mut server = start(dir, database_url);
    let deadline = (chrono::Utc::now() + chrono::Duration::hours(2))
        .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).unwrap())
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let created = run(
        dir,
        database_url,
        &[
            "safety-check",
            "create",
            "--title",
            "停電訓練",
            "--deadline",
            &deadline,
            "--area",
            "yao",
        ],
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let links = run(
        dir,
        database_url,
        &["safety-check", "export", "1", "--links"],
    );
    let paths: Vec<String> = String::from_utf8(links.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| l.find("/r/").map(|at| l[at..].trim().to_owned()))
        .collect();
    assert!(paths.len() > 50, "{}", paths.len());

    // Four clients answer again and again, each answer with a higher count, until the server
    // dies; every acknowledged (link, count) is noted.
    let acknowledged: Arc<Mutex<HashMap<String, Vec<u32>>>> = Arc::default();
    let port = server.port;
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let mine: Vec<String> = paths.iter().skip(c).step_by(4).cloned().collect();
            let acknowledged = acknowledged.clone();
            std::thread::spawn(move || {
                // Counts stay under the form's limit of 1,000 and never repeat for a link (an
                // answer equal to the last one would not be kept again).
                for (count, path) in (1..990).zip(mine.iter().cycle()) {
                    match answer(port, path, count) {
                        Some(true) => acknowledged
                            .lock()
                            .unwrap()
                            .entry(path.clone())
                            .or_default()
                            .push(count),
                        Some(false) => panic!("an answer was refused: {path}"),
                        None => return,
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    for c in clients {
        c.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let total: usize = acknowledged.values().map(Vec::len).sum();
    assert!(
        total > 20,
        "answers were pouring in when the server died: {total}"
    );

    // Restarted, the server is healthy and every acknowledged answer is there.
    let restarted = start(dir, database_url);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt.block_on(async {
        match database_url {
            Some(url) => renkei_store::Store::open(url).await.unwrap(),
            None => renkei_store::Store::open_sqlite(&dir.join("renkei-data/renkei.db"))
                .await
                .unwrap(),
        }
    });
    let mut found = 0;
    for (path, counts) in &acknowledged {
        let token = path.trim_start_matches("/r/");
        let versions = rt.block_on(async {
            let link = store
                .safety_link(token)
                .await
                .unwrap()
                .expect("a known link");
            store.safety_answer_versions(link.target_id).await.unwrap()
        });
        let kept: Vec<u32> = versions.iter().map(|v| v.answer.quick.can_accept).collect();
        for count in counts {
            assert!(
                kept.contains(count),
                "acknowledged {count} for {path} was lost: {kept:?}"
            );
            found += 1;
        }
    }
    rt.block_on(store.close());
    drop(rt);
    restarted.terminate();
    format!("{found} acknowledged answers, all found after SIGKILL")
}

#[test]
fn acknowledged_answers_survive_sigkill_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let said = acknowledged_answers_survive_sigkill(dir.path(), None);
    eprintln!("SQLite: {said}");
}

#[test]
fn acknowledged_answers_survive_sigkill_on_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(renkei_testkit::create_postgres_database()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let said = acknowledged_answers_survive_sigkill(dir.path(), Some(&db.url));
    eprintln!("PostgreSQL: {said}");
    rt.block_on(renkei_testkit::drop_database(&db.name));
}
