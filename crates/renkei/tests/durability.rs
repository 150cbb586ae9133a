//! An answer acknowledged to the responder is never lost: answers pour in from several
//! clients, the server is killed with SIGKILL in the middle, restarted, and every answer it had
//! acknowledged (a 303 to the next step) is found — on SQLite and on PostgreSQL. The same holds
//! for directory proposals and for care-team posts.

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
        .with_timezone(&renkei_domain::japan::jst())
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
    let counted = acknowledged.clone();
    kill_while_writing(
        &mut server,
        clients,
        || counted.lock().unwrap().values().map(Vec::len).sum(),
        40,
    );
    let acknowledged = acknowledged.lock().unwrap().clone();

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
    on_sqlite(acknowledged_answers_survive_sigkill);
}

#[test]
fn acknowledged_answers_survive_sigkill_on_postgres() {
    on_postgres(acknowledged_answers_survive_sigkill);
}

/// Percent-encodes a form value (UTF-8, every byte but the unreserved ones).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A client that keeps its cookies, over raw HTTP/1.1.
struct Client {
    port: u16,
    cookies: HashMap<String, String>,
}

impl Client {
    fn new(port: u16) -> Self {
        Client {
            port,
            cookies: HashMap::new(),
        }
    }

    /// One request; `form` is sent urlencoded. `None` when the server did not answer.
    fn send(
        &mut self,
        method: &str,
        path: &str,
        form: Option<&[(&str, String)]>,
    ) -> Option<(u16, Headers, String)> {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let body = form
            .map(|f| {
                f.iter()
                    .map(|(k, v)| format!("{k}={}", encode(v)))
                    .collect::<Vec<_>>()
                    .join("&")
            })
            .unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let reply = exchange(self.port, &request)?;
        for (k, v) in &reply.1 {
            if k == "set-cookie" {
                if let Some((name, value)) = v.split(';').next().and_then(|c| c.split_once('=')) {
                    self.cookies
                        .insert(name.trim().to_owned(), value.trim().to_owned());
                }
            }
        }
        Some(reply)
    }

    /// Posts `form` to `path` with the CSRF token of the page at `page`.
    fn post(
        &mut self,
        page: &str,
        path: &str,
        mut form: Vec<(&str, String)>,
    ) -> Option<(u16, Headers, String)> {
        let (_, _, html) = self.send("GET", page, None)?;
        let marker = "name=\"csrf_token\" value=\"";
        let at = html.find(marker)? + marker.len();
        form.push(("csrf_token", html[at..].split('"').next()?.to_owned()));
        self.send("POST", path, Some(&form))
    }

    /// The id and edit link of the signed-in staff member's institution.
    fn own_institution(&mut self) -> (i64, String) {
        let (_, _, own) = self.send("GET", "/institution", None).unwrap();
        let edit = own
            .split("href=\"")
            .filter_map(|s| s.split('"').next())
            .find(|h| h.starts_with("/institutions/") && h.ends_with("/edit"))
            .expect("the institution's edit link")
            .to_owned();
        (edit.split('/').nth(2).unwrap().parse().unwrap(), edit)
    }

    /// Signs in a demo account with its password and current second-factor code.
    fn sign_in(port: u16, dir: &Path, email: &str) -> Client {
        let mut c = Client::new(port);
        let (status, _, _) = c
            .post(
                "/login",
                "/login",
                vec![
                    ("email", email.to_owned()),
                    ("password", "renkei-demo-2026".to_owned()),
                ],
            )
            .unwrap();
        assert_eq!(status, 303, "password accepted");
        let code = run(dir, None, &["demo", "--code", email]);
        let code = String::from_utf8(code.stdout).unwrap().trim().to_owned();
        let (status, headers, _) = c
            .post(
                "/login/two-factor",
                "/login/two-factor",
                vec![("code", code)],
            )
            .unwrap();
        assert_eq!(status, 303, "second factor accepted: {headers:?}");
        c
    }
}

/// A scenario on the embedded SQLite database in a fresh directory; prints what it saw.
fn on_sqlite(scenario: fn(&Path, Option<&str>) -> String) {
    let dir = tempfile::tempdir().unwrap();
    eprintln!("SQLite: {}", scenario(dir.path(), None));
}

/// A scenario on a fresh PostgreSQL database (skipped outside CI when none is reachable).
fn on_postgres(scenario: fn(&Path, Option<&str>) -> String) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(renkei_testkit::create_postgres_database()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    eprintln!("PostgreSQL: {}", scenario(dir.path(), Some(&db.url)));
    rt.block_on(renkei_testkit::drop_database(&db.name));
}

/// Opens the server's database directly (SQLite in `dir` when `database_url` is `None`).
fn open_store(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    database_url: Option<&str>,
) -> renkei_store::Store {
    rt.block_on(async {
        match database_url {
            Some(url) => renkei_store::Store::open(url).await.unwrap(),
            None => renkei_store::Store::open_sqlite(&dir.join("renkei-data/renkei.db"))
                .await
                .unwrap(),
        }
    })
}

/// Lets the writers run until `acknowledged()` reaches `enough` (however slow the machine),
/// kills the server with SIGKILL in the middle of their writes, and waits for every writer to
/// notice.
fn kill_while_writing(
    server: &mut Server,
    workers: Vec<std::thread::JoinHandle<()>>,
    acknowledged: impl Fn() -> usize,
    enough: usize,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while acknowledged() < enough && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // And a moment more, so the kill lands among writes in flight.
    std::thread::sleep(Duration::from_millis(200));
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    for w in workers {
        w.join().unwrap();
    }
    let seen = acknowledged();
    assert!(
        seen >= enough,
        "writes were pouring in when the server died: {seen} acknowledged"
    );
}

/// The whole scenario for directory edits: two staff of one clinic send proposals again and
/// again, each with another phone number, until the server dies; after the restart every
/// acknowledged proposal is there and exactly one is pending (never two, never none).
fn acknowledged_proposals_survive_sigkill(dir: &Path, database_url: Option<&str>) -> String {
    let mut server = start(dir, database_url);
    let port = server.port;
    let mut first = Client::sign_in(port, dir, "clinic-admin@demo.renkei.example");
    let (institution, edit) = first.own_institution();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let open = || open_store(&rt, dir, database_url);
    let store = open();
    let fields = rt
        .block_on(store.public_fields(institution))
        .unwrap()
        .unwrap();
    rt.block_on(store.close());
    // Its nurse too (another account: a second-factor code is taken once).
    let clients = vec![
        first,
        Client::sign_in(port, dir, "nurse@demo.renkei.example"),
    ];
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let workers: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(k, mut client)| {
            let acknowledged = acknowledged.clone();
            let edit = edit.clone();
            let fields = fields.clone();
            std::thread::spawn(move || {
                for n in 0..10_000 {
                    let phone = format!("06-{k}{:03}-{:04}", n / 10_000, n % 10_000);
                    let form = vec![
                        ("name", fields.name.clone()),
                        ("name_kana", fields.name_kana.clone()),
                        ("postcode", fields.postcode.clone().unwrap_or_default()),
                        ("address", fields.address.clone()),
                        ("phone", phone.clone()),
                        ("cap", "home_visit".to_owned()),
                    ];
                    match client.post(&edit, &edit, form) {
                        Some((200, _, body)) if body.contains("変更を申請しました") => {
                            acknowledged.lock().unwrap().push(phone)
                        }
                        Some((status, _, body)) => {
                            panic!("a proposal was refused: {status} {body}")
                        }
                        None => return,
                    }
                }
            })
        })
        .collect();
    let counted = acknowledged.clone();
    kill_while_writing(&mut server, workers, || counted.lock().unwrap().len(), 20);
    let acknowledged = acknowledged.lock().unwrap().clone();

    let restarted = start(dir, database_url);
    let store = open();
    let pending = rt
        .block_on(store.changes("pending", Some(institution)))
        .unwrap();
    let withdrawn = rt
        .block_on(store.changes("withdrawn", Some(institution)))
        .unwrap();
    rt.block_on(store.close());
    assert_eq!(
        pending.len(),
        1,
        "exactly one proposal pending: {pending:?}"
    );
    let kept: Vec<Option<String>> = pending
        .iter()
        .chain(&withdrawn)
        .map(|c| c.fields.phone.clone())
        .collect();
    for phone in &acknowledged {
        assert!(
            kept.contains(&Some(phone.clone())),
            "acknowledged proposal {phone} was lost"
        );
    }
    restarted.terminate();
    format!(
        "{} acknowledged proposals, all found after SIGKILL, one pending",
        acknowledged.len()
    )
}

#[test]
fn acknowledged_directory_proposals_survive_sigkill_on_sqlite() {
    on_sqlite(acknowledged_proposals_survive_sigkill);
}

#[test]
fn acknowledged_directory_proposals_survive_sigkill_on_postgres() {
    on_postgres(acknowledged_proposals_survive_sigkill);
}

/// The whole scenario for care-team posts: a clinic's doctor registers a patient over HTTP,
/// records consent and invites the clinic's nurse; both post records with vitals again and
/// again until the server dies; after the restart every acknowledged post is there whole (its
/// text with its own vitals), none is there twice, and the audit log's chain still holds.
fn acknowledged_posts_survive_sigkill(dir: &Path, database_url: Option<&str>) -> String {
    let mut server = start(dir, database_url);
    let port = server.port;
    let mut doctor = Client::sign_in(port, dir, "clinic-admin@demo.renkei.example");
    let (institution, _) = doctor.own_institution();
    let patient_form = vec![
        ("profession", "doctor".to_owned()),
        ("name", "河内 花子".to_owned()),
        ("kana", "カワチ ハナコ".to_owned()),
        ("birth_date", "昭和13年4月2日".to_owned()),
        ("sex", "female".to_owned()),
        ("address", "八尾市本町1-2-3".to_owned()),
    ];
    let (status, headers, body) = doctor
        .post("/patients/new", "/patients/new", patient_form)
        .unwrap();
    assert_eq!(status, 303, "registered: {body}");
    let location = headers
        .iter()
        .find(|(k, _)| k == "location")
        .map(|(_, v)| v.clone())
        .unwrap();
    let patient: i64 = location
        .trim_start_matches("/patients/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let url = format!("/patients/{patient}");
    let consent = vec![
        ("consenter", "patient".to_owned()),
        ("given_on", "2026-11-25".to_owned()),
    ];
    let (status, _, body) = doctor
        .post(&url, &format!("{url}/consent"), consent)
        .unwrap();
    assert_eq!(status, 303, "consent: {body}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let open = || open_store(&rt, dir, database_url);
    let store = open();
    let nurse = renkei_domain::accounts::Email::parse("nurse@demo.renkei.example").unwrap();
    let nurse_id = rt
        .block_on(store.user_by_email(&nurse))
        .unwrap()
        .expect("the clinic's nurse")
        .id
        .0;
    rt.block_on(store.close());
    let (status, _, body) = doctor
        .post(
            &url,
            &format!("{url}/team"),
            vec![
                ("institution", institution.to_string()),
                ("user", nurse_id.to_string()),
                ("profession", "nurse".to_owned()),
            ],
        )
        .unwrap();
    assert_eq!(status, 303, "invited: {body}");
    let clients = vec![
        doctor,
        Client::sign_in(port, dir, "nurse@demo.renkei.example"),
    ];
    // (text, pulse) of every post the server acknowledged.
    let acknowledged: Arc<Mutex<Vec<(String, u32)>>> = Arc::default();
    let workers: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(k, mut client)| {
            let acknowledged = acknowledged.clone();
            let url = url.clone();
            std::thread::spawn(move || {
                for n in 0..10_000u32 {
                    let text = format!("訪問記録 {k}-{n}");
                    let pulse = 50 + (n * 7 + k as u32) % 80;
                    let form = vec![
                        ("body", text.clone()),
                        ("systolic", "128".to_owned()),
                        ("diastolic", "76".to_owned()),
                        ("pulse", pulse.to_string()),
                    ];
                    match client.post(&url, &format!("{url}/posts"), form) {
                        Some((303, _, _)) => acknowledged.lock().unwrap().push((text, pulse)),
                        Some((status, _, body)) => panic!("a post was refused: {status} {body}"),
                        None => return,
                    }
                }
            })
        })
        .collect();
    let counted = acknowledged.clone();
    kill_while_writing(&mut server, workers, || counted.lock().unwrap().len(), 20);
    let acknowledged = acknowledged.lock().unwrap().clone();

    let restarted = start(dir, database_url);
    let store = open();
    let posts = rt
        .block_on(store.posts(patient, None, "", 100_000))
        .unwrap();
    rt.block_on(store.close());
    let mut found: HashMap<String, Option<u32>> = HashMap::new();
    for p in &posts {
        let pulse = p.vitals.as_ref().and_then(|v| v.pulse);
        assert!(
            found.insert(p.body.clone(), pulse).is_none(),
            "{} is there twice",
            p.body
        );
    }
    for (text, pulse) in &acknowledged {
        assert_eq!(
            found.get(text),
            Some(&Some(*pulse)),
            "acknowledged post {text} was lost or half-written"
        );
    }
    let verified = run(dir, database_url, &["audit", "verify"]);
    assert!(
        verified.status.success(),
        "the audit chain holds after the crash: {}",
        String::from_utf8_lossy(&verified.stdout)
    );
    restarted.terminate();
    format!(
        "{} acknowledged posts, all found whole after SIGKILL ({} stored), audit chain intact",
        acknowledged.len(),
        posts.len()
    )
}

#[test]
fn acknowledged_care_team_posts_survive_sigkill_on_sqlite() {
    on_sqlite(acknowledged_posts_survive_sigkill);
}

#[test]
fn acknowledged_care_team_posts_survive_sigkill_on_postgres() {
    on_postgres(acknowledged_posts_survive_sigkill);
}
