//! A minimal W3C WebDriver client over plain HTTP, enough to drive Debian's chromedriver: open
//! pages, type, click, read the page and take screenshots. No extra crates needed.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running chromedriver with one browser session.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// Starts chromedriver and a headless Chromium, on Japan's time, with a window of
    /// `width`×`height`.
    pub fn start(chromium: &Path, width: u32, height: u32) -> Browser {
        let port = super::free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            // The browser of a user in Japan (Chromium inherits the zone): its dates agree with
            // the server's days at any hour the suite runs.
            .env("TZ", "Asia/Tokyo")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (apt-get install chromium-driver)");
        renkei_testkit::wait::for_condition("chromedriver to start", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        let profile = tempfile::tempdir().unwrap();
        let args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium.display().to_string(), "args": args }
        }}});
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
            _profile: profile,
        };
        let reply = browser.call("POST", "/session", Some(caps));
        browser.session = reply["value"]["sessionId"]
            .as_str()
            .expect("a WebDriver session")
            .to_owned();
        browser
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut reader = BufReader::new(stream);
        let mut length = None;
        let mut line = String::new();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse::<usize>().ok();
            }
        }
        let mut raw = Vec::new();
        match length {
            Some(n) => {
                raw.resize(n, 0);
                reader.read_exact(&mut raw).unwrap();
            }
            None => {
                reader.read_to_end(&mut raw).unwrap();
            }
        }
        let value: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        if let Some(error) = value["value"]["error"].as_str() {
            panic!(
                "WebDriver {method} {path}: {error}: {}",
                value["value"]["message"]
            );
        }
        value
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Opens a URL.
    pub fn goto(&self, url: &str) {
        self.call(
            "POST",
            &self.session_path("/url"),
            Some(json!({ "url": url })),
        );
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.call("GET", &self.session_path("/url"), None)["value"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// Waits until the URL satisfies `done`, e.g. after a click that submits a form.
    pub fn wait_for_url(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        renkei_testkit::wait::until(
            what,
            renkei_testkit::wait::HANG_GUARD,
            Duration::from_millis(50),
            || {
                let url = self.url();
                // The address changes when the new page commits, before it is parsed: wait for
                // the whole of it, or what the caller reads next may be half a page.
                let ready =
                    done(&url) && self.execute("return document.readyState;") == json!("complete");
                ready.then_some(url)
            },
        )
    }

    /// The page's HTML.
    pub fn source(&self) -> String {
        self.call("GET", &self.session_path("/source"), None)["value"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    fn find(&self, css: &str) -> String {
        let reply = self.call(
            "POST",
            &self.session_path("/element"),
            Some(json!({ "using": "css selector", "value": css })),
        );
        reply["value"][ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}"))
            .to_owned()
    }

    /// Runs `script` (a function body; `return` gives the value) in the page and returns its
    /// result.
    pub fn execute(&self, script: &str) -> Value {
        self.call(
            "POST",
            &self.session_path("/execute/sync"),
            Some(json!({ "script": script, "args": [] })),
        )["value"]
            .clone()
    }

    /// Waits until an element matches `css`, e.g. a map a script draws.
    pub fn wait_for(&self, css: &str) {
        let probe = format!(
            "return document.querySelector({}) !== null;",
            serde_json::to_string(css).unwrap()
        );
        renkei_testkit::wait::for_condition(&format!("an element {css}"), || {
            self.execute(&probe) == Value::Bool(true)
        });
    }

    /// Types into the element matching `css`.
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.call(
            "POST",
            &self.session_path(&format!("/element/{id}/value")),
            Some(json!({ "text": text })),
        );
    }

    /// Empties the input matching `css` and types into it.
    pub fn clear_and_type(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.call(
            "POST",
            &self.session_path(&format!("/element/{id}/clear")),
            Some(json!({})),
        );
        self.call(
            "POST",
            &self.session_path(&format!("/element/{id}/value")),
            Some(json!({ "text": text })),
        );
    }

    /// Clicks the element matching `css` (and waits for the next page to load).
    pub fn click(&self, css: &str) {
        let id = self.find(css);
        self.call(
            "POST",
            &self.session_path(&format!("/element/{id}/click")),
            Some(json!({})),
        );
    }

    /// Saves a PNG screenshot.
    pub fn screenshot(&self, file: &Path) {
        let reply = self.call("GET", &self.session_path("/screenshot"), None);
        let png = renkei_testkit::base64_decode(reply["value"].as_str().unwrap_or(""));
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::write(file, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.call("DELETE", &self.session_path(""), None)
            }));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
