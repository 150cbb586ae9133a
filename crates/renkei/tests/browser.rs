//! The pages in a real browser (Debian's headless Chromium): the home page and an area page on a
//! desktop and a phone-sized screen. Screenshots are kept in `test-artifacts/` at the workspace
//! root. (The pages ship no JavaScript at all; the router tests check that.)
//!
//! Chromium must be installed (`apt-get install chromium fonts-noto-cjk`); without it the test
//! fails, in CI always, locally unless `RENKEI_TEST_SKIP_BROWSER=1` is set.

mod common;

use common::{renkei, Server};
use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    for candidate in [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ] {
        if Path::new(candidate).exists() {
            return Some(PathBuf::from(candidate));
        }
    }
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    if !in_ci && std::env::var("RENKEI_TEST_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        eprintln!("browser test SKIPPED (RENKEI_TEST_SKIP_BROWSER=1)");
        return None;
    }
    panic!("Chromium not found: apt-get install chromium fonts-noto-cjk (or, outside CI, RENKEI_TEST_SKIP_BROWSER=1)");
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless Chromium on `url` with a fresh profile; returns its standard output.
fn browse(chrome: &Path, size: &str, action: &str, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(chrome);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(format!("--window-size={size}"))
    .arg(action)
    .arg(url);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn home_and_area_pages_render_in_a_real_browser_on_desktop_and_phone() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = renkei();
    cmd.current_dir(dir.path());
    let server = Server::start(cmd);
    let base = format!("http://127.0.0.1:{}", server.port);

    // The DOM as the browser built it on a phone-sized screen.
    let dom = browse(&chrome, "390,844", "--dump-dom", &format!("{base}/"));
    for text in [
        "布施医師会",
        "河内医師会",
        "枚岡医師会",
        "八尾市医師会",
        "柏原市医師会",
        "市立柏原病院",
        "デモ版",
    ] {
        assert!(
            dom.contains(text),
            "{text} missing from the rendered home page"
        );
    }
    assert!(dom.contains("data-testid=\"active-higashiosaka-central\">6<"));
    let area = browse(
        &chrome,
        "390,844",
        "--dump-dom",
        &format!("{base}/areas/yao?lang=en"),
    );
    assert!(area.contains("All institutions") && area.contains("八尾市医師会"));

    let out = artifacts();
    for (name, size, path) in [
        ("home-desktop.png", "1280,1600", "/"),
        ("home-phone.png", "390,2400", "/"),
        ("area-phone.png", "390,2400", "/areas/higashiosaka-west"),
        ("home-phone-en.png", "390,1200", "/?lang=en"),
        (
            "directory-near-phone.png",
            "390,1600",
            "/directory?near=581-0003&km=2&cap=home_visit",
        ),
        (
            "directory-search-phone.png",
            "390,2000",
            "/directory?q=%E8%A8%AA%E5%95%8F%E8%A8%BA%E7%99%82+24%E6%99%82%E9%96%93+%E5%85%AB%E5%B0%BE",
        ),
    ] {
        let file = out.join(name);
        let _ = std::fs::remove_file(&file);
        browse(
            &chrome,
            size,
            &format!("--screenshot={}", file.display()),
            &format!("{base}{path}"),
        );
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "{name} was not written"
        );
    }
    server.terminate();
}

#[test]
fn a_coordinator_logs_in_with_password_and_totp_in_a_real_browser() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = renkei();
    cmd.current_dir(dir.path());
    let server = Server::start(cmd);
    let base = format!("http://127.0.0.1:{}", server.port);
    let out = artifacts();
    let browser = common::webdriver::Browser::start(&chrome, 390, 844);

    browser.goto(&format!("{base}/hub"));
    assert!(
        browser.url().contains("/login?next=/hub"),
        "{}",
        browser.url()
    );
    browser.type_into("input[name=email]", "coordinator@demo.renkei.example");
    browser.type_into("input[name=password]", "renkei-demo-2026");
    browser.screenshot(&out.join("login-1-password.png"));
    browser.click("form[action='/login'] button[type=submit]");
    browser.wait_for_url("the second-factor page", |u| {
        u.contains("/login/two-factor")
    });

    // The current code of the demo account, as a newcomer would get it.
    let code = renkei()
        .args(["demo", "--code", "coordinator@demo.renkei.example"])
        .output()
        .unwrap();
    let code = String::from_utf8(code.stdout).unwrap().trim().to_owned();
    assert_eq!(code.len(), 6, "{code}");
    browser.type_into("input[name=code]", &code);
    browser.screenshot(&out.join("login-2-totp.png"));
    browser.click("form[action='/login/two-factor'] button[type=submit]");
    browser.wait_for_url("the hub page", |u| u.ends_with("/hub"));
    let page = browser.source();
    assert!(page.contains("拠点コーディネーターのページ"));
    assert!(page.contains("data-testid=\"hub-row-yao\""));
    assert!(
        page.contains("八尾 花子（デモ）"),
        "the header names the logged-in user"
    );
    browser.screenshot(&out.join("login-3-hub.png"));

    browser.click("form[action='/logout'] button[type=submit]");
    browser.wait_for_url("the home page after logout", |u| {
        u.trim_end_matches('/') == base
    });
    browser.goto(&format!("{base}/hub"));
    assert!(
        browser.url().contains("/login"),
        "logged out: {}",
        browser.url()
    );
    drop(browser);
    server.terminate();
}

/// Logs a demo account in through the pages (password, then the code `renkei demo --code`
/// prints, as a newcomer would get it).
fn demo_login(browser: &common::webdriver::Browser, base: &str, email: &str) {
    browser.goto(&format!("{base}/login"));
    browser.type_into("input[name=email]", email);
    browser.type_into("input[name=password]", "renkei-demo-2026");
    browser.click("form[action='/login'] button[type=submit]");
    browser.wait_for_url("the second-factor page", |u| {
        u.contains("/login/two-factor")
    });
    let code = renkei().args(["demo", "--code", email]).output().unwrap();
    browser.type_into(
        "input[name=code]",
        String::from_utf8(code.stdout).unwrap().trim(),
    );
    browser.click("form[action='/login/two-factor'] button[type=submit]");
    browser.wait_for_url("the page after login", |u| !u.contains("/login"));
}

#[test]
fn a_clinic_edits_its_entry_and_the_coordinator_approves_it_in_a_real_browser() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = renkei();
    cmd.current_dir(dir.path());
    let server = Server::start(cmd);
    let base = format!("http://127.0.0.1:{}", server.port);
    let out = artifacts();
    let browser = common::webdriver::Browser::start(&chrome, 390, 1200);

    demo_login(&browser, &base, "clinic-admin@demo.renkei.example");
    browser.goto(&format!("{base}/institution"));
    browser.click("a[data-testid=edit-entry]");
    browser.wait_for_url("the edit form", |u| u.ends_with("/edit"));
    let edit_url = browser.url();
    let entry_url = edit_url.trim_end_matches("/edit").to_owned();
    browser.clear_and_type("input[name=phone]", "000-999-1234");
    browser.screenshot(&out.join("journey-1-edit.png"));
    browser.click("form button[type=submit].button");
    browser.wait_for_url("the confirmation", |u| {
        !u.ends_with("/edit") || browser.source().contains("変更を申請しました")
    });
    assert!(
        browser.source().contains("変更を申請しました"),
        "the proposal is sent"
    );
    browser.goto(&entry_url);
    assert!(
        !browser.source().contains("000-999-1234"),
        "nothing public before approval"
    );
    browser.click("form[action='/logout'] button[type=submit]");
    browser.wait_for_url("logged out", |u| u.trim_end_matches('/') == base);

    demo_login(&browser, &base, "coordinator@demo.renkei.example");
    browser.goto(&format!("{base}/hub/changes"));
    assert!(
        browser.source().contains("000-999-1234"),
        "the coordinator sees the proposal"
    );
    browser.screenshot(&out.join("journey-2-review.png"));
    browser.click("form[action$='/approve'] button[type=submit]");
    browser.wait_for_url("back on the list", |u| u.ends_with("/hub/changes"));
    browser.goto(&entry_url);
    assert!(
        browser.source().contains("000-999-1234"),
        "the public page changed after approval"
    );
    browser.screenshot(&out.join("journey-3-public.png"));
    drop(browser);
    server.terminate();
}
