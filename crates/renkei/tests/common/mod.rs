//! Helpers shared by the binary's integration tests: run `renkei`, talk HTTP to it.
#![allow(dead_code)]

pub mod webdriver;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn renkei() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_renkei"));
    cmd.env_remove("DATABASE_URL")
        .env_remove("RENKEI_DATABASE_URL")
        .env_remove("RENKEI_CONFIG");
    cmd.env("RENKEI_LOG", "warn");
    cmd
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A minimal HTTP/1.1 GET, so the test needs no HTTP client crate.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

pub struct Server {
    pub child: Child,
    pub port: u16,
}

impl Server {
    pub fn start(mut cmd: Command) -> Server {
        let port = free_port();
        cmd.args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")]);
        let child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some((200, _)) = http_get(port, "/healthz") {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                let out = server.child.wait_with_output().unwrap();
                panic!(
                    "server exited {status}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = server.child.kill();
        panic!("server did not become healthy");
    }

    pub fn terminate(mut self) -> Output {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return self.child.wait_with_output().unwrap();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("server ignored SIGTERM");
    }
}

/// The hubs of the demo report as their pages print them (whitespace removed): 資料 number,
/// 対象地域 and 連携の拠点.
pub const REPORT_HUBS: [&str; 5] = [
    "資料2-1東大阪市（西地区）布施医師会",
    "資料2-3東大阪市（中地区）河内医師会",
    "資料2-5東大阪市（東地区）枚岡医師会",
    "資料2-7八尾市八尾市医師会",
    "資料2-9柏原市一社）柏原市医師会、市立柏原病院",
];

/// The text of one page of a PDF (poppler's `pdftotext`), without whitespace.
pub fn pdf_page_text(pdf: &std::path::Path, page: usize) -> String {
    let n = page.to_string();
    let out = Command::new("pdftotext")
        .args(["-f", &n, "-l", &n])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (apt-get install poppler-utils)");
    assert!(out.status.success(), "pdftotext page {page}");
    String::from_utf8_lossy(&out.stdout)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// Asserts that every page of a printed report names its hub (資料 number and name), so a page
/// on its own can be attributed, and that all five hubs are printed.
pub fn assert_every_page_names_its_hub(pdf: &std::path::Path, pages: usize) {
    let mut seen = std::collections::BTreeSet::new();
    for page in 1..=pages {
        let text = pdf_page_text(pdf, page);
        let hub = REPORT_HUBS
            .iter()
            .find(|h| text.contains(*h))
            .unwrap_or_else(|| panic!("page {page} names no hub:\n{text}"));
        seen.insert(*hub);
    }
    assert_eq!(seen.len(), REPORT_HUBS.len(), "every hub printed");
}
