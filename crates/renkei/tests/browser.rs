//! The pages in a real browser (Debian's headless Chromium): the home page and an area page on a
//! desktop and a phone-sized screen. Screenshots are kept in `test-artifacts/` at the workspace
//! root. The pages work without JavaScript; the only script is the map's enhancement (Leaflet
//! over the server-drawn SVG map), tested here with a tile server that cannot be reached.
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
    if renkei_testkit::skip::allowed(
        "browser test",
        "RENKEI_TEST_SKIP_BROWSER",
        "Chromium not found",
    ) {
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
    .arg(url)
    // On Japan's time, as the WebDriver sessions and our users' phones are.
    .env("TZ", "Asia/Tokyo");
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

    // The printable medical map prints to A4 (here to PDF, as "save as PDF" does): the map
    // page and the numbered list over several pages, with the Japanese text embedded.
    let pdf = out.join("print-map-kashiwara.pdf");
    let _ = std::fs::remove_file(&pdf);
    browse(
        &chrome,
        "1000,1400",
        &format!("--print-to-pdf={}", pdf.display()),
        &format!("{base}/areas/kashiwara/map"),
    );
    let bytes = std::fs::read(&pdf).unwrap_or_default();
    assert!(bytes.starts_with(b"%PDF"), "a PDF was written");
    let text = String::from_utf8_lossy(&bytes);
    let pages = text.matches("/Type /Page").count() - text.matches("/Type /Pages").count();
    assert!(
        pages >= 2,
        "the map and the list on A4 pages ({pages} pages)"
    );
    assert!(
        text.contains("/MediaBox [0 0 594.9"),
        "A4 paper (595 × 842 pt)"
    );
    assert!(
        text.contains("NotoSansCJK") || text.contains("NotoSerifCJK"),
        "the Japanese (CJK) font is embedded, not only a Latin Noto"
    );
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
    // The list's URL does not change: wait until the decided proposal has left it.
    browser.wait_for_url("the approval", |u| {
        u.ends_with("/hub/changes") && !browser.source().contains("/approve\"")
    });
    browser.goto(&entry_url);
    assert!(
        browser.source().contains("000-999-1234"),
        "the public page changed after approval"
    );
    browser.screenshot(&out.join("journey-3-public.png"));
    drop(browser);
    server.terminate();
}

#[test]
fn the_directory_map_shows_every_result_without_tiles_and_the_entry_form_picks_a_point() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = renkei();
    // A tile server that refuses every connection: the map must still show outlines and
    // markers, and say that the background is missing.
    cmd.current_dir(dir.path())
        .env("RENKEI_MAP_TILE_URL", "http://127.0.0.1:9/{z}/{x}/{y}.png");
    let server = Server::start(cmd);
    let base = format!("http://127.0.0.1:{}", server.port);
    let out = artifacts();
    let browser = common::webdriver::Browser::start(&chrome, 1280, 1000);

    browser.goto(&format!("{base}/directory?area=yao"));
    browser.wait_for("[data-testid=directory-map][data-map-ready=true]");
    let state = browser.execute(
        "var root = document.querySelector('[data-testid=directory-map]');
         return {
           markers: Number(root.getAttribute('data-markers')),
           drawn: root.querySelectorAll('path.leaflet-interactive').length
                + root.querySelectorAll('.marker-cluster').length,
           // Outlines are the non-interactive paths; markers drawn unclustered (at some zoom
           // levels) are interactive paths in the same pane.
           outlines: root.querySelectorAll('.leaflet-overlay-pane path:not(.leaflet-interactive)').length,
           fallbackHidden: root.querySelector('.map-fallback').hidden,
           total: Number(document.querySelector('[data-testid=result-count] strong').textContent),
         };",
    );
    assert_eq!(
        state["markers"], state["total"],
        "every result of the search is on the map (not just the first page): {state}"
    );
    assert!(state["markers"].as_i64().unwrap() > 20, "{state}");
    assert!(state["drawn"].as_i64().unwrap() > 0, "{state}");
    assert_eq!(state["outlines"], 3, "東大阪市, 八尾市 and 柏原市: {state}");
    assert_eq!(state["fallbackHidden"], true, "{state}");
    browser.wait_for(".map-offline-note");
    assert!(browser.source().contains("地図画像を読み込めません"));
    browser.screenshot(&out.join("map-1-directory-without-tiles.png"));

    // A near search draws its radius and fits the map to it.
    browser.goto(&format!("{base}/directory?near=581-0003&km=2"));
    browser.wait_for("[data-testid=directory-map][data-map-ready=true]");
    let near = browser.execute(
        "var root = document.querySelector('[data-testid=directory-map]');
         return root.getAttribute('data-near') !== null
             && root.querySelectorAll('.leaflet-overlay-pane path[stroke-dasharray]').length === 1;",
    );
    assert_eq!(near, true, "the search centre and radius are drawn");
    browser.screenshot(&out.join("map-2-near.png"));

    // Clicking an institution opens a popup with its name as a link to its page.
    browser.goto(&format!("{base}/directory?area=kashiwara&kind=hospital"));
    browser.wait_for("[data-testid=directory-map][data-map-ready=true]");
    let popup = browser.execute(
        "var map = document.querySelector('[data-testid=directory-map] .map-canvas');
         var marker = map.querySelector('path.leaflet-interactive');
         if (!marker) return 'no marker';
         marker.dispatchEvent(new MouseEvent('click', { bubbles: true }));
         var link = document.querySelector('.leaflet-popup .map-popup-name');
         return link ? link.getAttribute('href') : 'no popup';",
    );
    assert!(
        popup.as_str().unwrap_or("").starts_with("/institutions/"),
        "{popup}"
    );

    // A click on an empty spot of the directory map offers a near search around it.
    browser.goto(&format!("{base}/directory?kind=pharmacy"));
    browser.wait_for("[data-testid=directory-map][data-map-ready=true]");
    let near_link = browser.execute(
        "var canvas = document.querySelector('[data-testid=directory-map] .map-canvas');
         var box = canvas.getBoundingClientRect();
         var at = { bubbles: true, clientX: box.left + box.width / 2, clientY: box.top + box.height / 2 };
         canvas.dispatchEvent(new MouseEvent('mousedown', at));
         canvas.dispatchEvent(new MouseEvent('mouseup', at));
         canvas.dispatchEvent(new MouseEvent('click', at));
         var link = document.querySelector('.leaflet-popup .map-near-here');
         return link ? link.getAttribute('href') : 'no popup';",
    );
    let near_link = near_link.as_str().unwrap_or("").to_owned();
    assert!(
        near_link.starts_with("/directory?") && near_link.contains("near=34."),
        "{near_link}"
    );
    browser.goto(&format!("{base}{near_link}"));
    assert!(
        browser.source().contains("近い順：")
            && browser.source().contains("data-testid=\"distance\""),
        "the search runs around the clicked point"
    );

    // The entry form: a click on the map fills in latitude and longitude.
    demo_login(&browser, &base, "clinic-admin@demo.renkei.example");
    browser.goto(&format!("{base}/institution"));
    browser.click("a[data-testid=edit-entry]");
    browser.wait_for_url("the edit form", |u| u.ends_with("/edit"));
    browser.wait_for(".js-directory-map[data-map-ready=true]");
    let before = browser.execute("return document.querySelector('input[name=lat]').value;");
    browser.execute("document.querySelector('input[name=lat]').value = ''; document.querySelector('input[name=lng]').value = ''; return true;");
    browser.click(".js-directory-map .map-canvas");
    let picked = browser.execute(
        "return [document.querySelector('input[name=lat]').value, document.querySelector('input[name=lng]').value];",
    );
    let lat: f64 = picked[0].as_str().unwrap().parse().unwrap();
    let lng: f64 = picked[1].as_str().unwrap().parse().unwrap();
    assert!(
        (34.3..35.0).contains(&lat) && (135.3..135.9).contains(&lng),
        "{picked} (was {before})"
    );
    browser.screenshot(&out.join("map-3-pick.png"));
    drop(browser);
    server.terminate();
}

#[test]
fn a_coordinator_sends_a_reminder_and_the_clinic_confirms_with_one_click_in_a_real_browser() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = renkei();
    cmd.current_dir(dir.path());
    let server = Server::start(cmd);
    let base = format!("http://127.0.0.1:{}", server.port);
    let out = artifacts();
    let browser = common::webdriver::Browser::start(&chrome, 390, 1200);

    // The coordinator's overdue list: remind the first entry that has a contact address.
    demo_login(&browser, &base, "coordinator@demo.renkei.example");
    browser.goto(&format!("{base}/hub/stale"));
    let first = browser.execute(
        "var form = document.querySelector('form[action$=\"/remind\"]');
         return form ? form.closest('tr').getAttribute('data-testid') : null;",
    );
    let row = first
        .as_str()
        .expect("an overdue entry with a contact")
        .to_owned();
    let id = row.trim_start_matches("stale-").to_owned();
    let confirmed_before = browser.execute(&format!(
        "return document.querySelector('tr[data-testid={row}] td:nth-child(3)').textContent;"
    ));
    browser.screenshot(&out.join("stale-1-list.png"));
    browser.click(&format!("tr[data-testid={row}] form button[type=submit]"));
    browser.wait_for_url("the reminder is sent", |u| u.contains("/hub/stale?sent="));
    assert!(browser.source().contains("確認依頼を送りました"));
    browser.click("form[action='/logout'] button[type=submit]");
    browser.wait_for_url("logged out", |u| u.trim_end_matches('/') == base);

    // Without SMTP the mail waits in the outbox, where the administrator reads it.
    demo_login(&browser, &base, "admin@demo.renkei.example");
    browser.goto(&format!("{base}/admin/outbox"));
    let link = browser.execute(
        "var bodies = document.querySelectorAll('pre.mail-body');
         for (var i = 0; i < bodies.length; i++) {
           var m = bodies[i].textContent.match(/https?:\\/\\/\\S+\\/confirm\\/[0-9a-f]+/);
           if (m) return m[0];
         }
         return null;",
    );
    let link = link
        .as_str()
        .expect("the reminder with its link")
        .to_owned();
    browser.click("form[action='/logout'] button[type=submit]");
    browser.wait_for_url("logged out", |u| u.trim_end_matches('/') == base);

    // The clinic opens the link (no login) and confirms with one click.
    let path = link.split("/confirm/").nth(1).unwrap();
    browser.goto(&format!("{base}/confirm/{path}"));
    browser.screenshot(&out.join("stale-2-confirm.png"));
    browser.click(&format!(
        "form[action='/confirm/{path}'] button[type=submit]"
    ));
    browser.wait_for_url("confirmed", |_| {
        browser.source().contains("確認ありがとうございました")
    });
    browser.screenshot(&out.join("stale-3-done.png"));

    // The public page shows the new confirmation date. (The coordinator's list is checked
    // through the router in tests/mail.rs: a second login here would reuse a TOTP code.)
    browser.goto(&format!("{base}/institutions/{id}"));
    let confirmed_after =
        browser.execute("return document.querySelector('[data-testid=confirmed]').textContent;");
    assert_ne!(
        confirmed_after, confirmed_before,
        "the confirmation date moved"
    );
    assert!(!confirmed_after.as_str().unwrap_or("").trim().is_empty());
    drop(browser);
    server.terminate();
}

#[test]
fn a_newcomer_searches_sees_list_and_map_and_opens_an_institution_in_a_real_browser() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = renkei();
    cmd.current_dir(dir.path())
        .env("RENKEI_MAP_TILE_URL", "http://127.0.0.1:9/{z}/{x}/{y}.png");
    let server = Server::start(cmd);
    let base = format!("http://127.0.0.1:{}", server.port);
    let out = artifacts();
    let browser = common::webdriver::Browser::start(&chrome, 390, 1400);

    // From the home page, the way a citizen would: type the words into the search form.
    browser.goto(&format!("{base}/directory"));
    browser.type_into("input[name=q]", "訪問診療 24時間 八尾");
    browser.click("form.search-form button[type=submit]");
    browser.wait_for_url("the results", |u| u.contains("q="));
    browser.wait_for("[data-testid=directory-map][data-map-ready=true]");
    let seen = browser.execute(
        "return {
           total: Number(document.querySelector('[data-testid=result-count] strong').textContent),
           listed: document.querySelectorAll('ol.results > li').length,
           markers: Number(document.querySelector('[data-testid=directory-map]').getAttribute('data-markers')),
           first: document.querySelector('ol.results a.inst-name').textContent,
         };",
    );
    assert_eq!(seen["total"], 14, "{seen}");
    assert_eq!(seen["listed"], 14, "{seen}");
    assert_eq!(seen["markers"], 14, "every result on the map: {seen}");
    browser.screenshot(&out.join("newcomer-1-results.png"));

    browser.click("ol.results a.inst-name");
    browser.wait_for_url("the institution's page", |u| u.contains("/institutions/"));
    browser.wait_for("[data-testid=institution-map][data-map-ready=true]");
    let first = seen["first"].as_str().unwrap().to_owned();
    let page = browser.source();
    assert!(
        page.contains(&format!("<h1>{first}</h1>")),
        "the detail page of {first}"
    );
    assert!(page.contains("訪問診療") && page.contains("24時間対応"));
    assert!(
        page.contains("data-testid=\"confirmed\""),
        "when it was last confirmed"
    );
    browser.screenshot(&out.join("newcomer-2-detail.png"));
    drop(browser);
    server.terminate();
}

#[test]
fn names_on_the_map_are_text_never_markup() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = renkei()
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["demo"]);
    std::fs::write(
        dir.path().join("evil.csv"),
        "名称,種別,地域,所在地,緯度,経度\n［デモ］<img src=x id=evil>医院,診療所,八尾市,八尾市本町1-1,34.6269,135.6009\n",
    )
    .unwrap();
    run(&["import", "evil.csv"]);
    let mut cmd = renkei();
    cmd.current_dir(dir.path())
        .env("RENKEI_MAP_TILE_URL", "none");
    let server = Server::start(cmd);
    let base = format!("http://127.0.0.1:{}", server.port);
    let browser = common::webdriver::Browser::start(&chrome, 800, 900);
    browser.goto(&format!("{base}/directory?q=%E5%8C%BB%E9%99%A2+img"));
    browser.wait_for("[data-testid=directory-map][data-map-ready=true]");
    let shown = browser.execute(
        "var marker = document.querySelector('[data-testid=directory-map] path.leaflet-interactive');
         marker.dispatchEvent(new MouseEvent('mouseover', { bubbles: true }));
         marker.dispatchEvent(new MouseEvent('click', { bubbles: true }));
         var tip = document.querySelector('.leaflet-tooltip');
         var name = document.querySelector('.leaflet-popup .map-popup-name');
         return {
           evil: document.getElementById('evil') !== null,
           tooltip: tip ? tip.textContent : null,
           popup: name ? name.textContent : null,
         };",
    );
    assert_eq!(
        shown["evil"], false,
        "no element was made from the name: {shown}"
    );
    assert!(
        shown["tooltip"].as_str().unwrap_or("").contains("<img"),
        "{shown}"
    );
    assert!(
        shown["popup"].as_str().unwrap_or("").contains("<img"),
        "{shown}"
    );
    drop(browser);
    server.terminate();
}

/// Every page of the printed report is headed by its hub's 資料 number and name, so a page on
/// its own can be attributed; the first two pages are kept as pictures for a person to look at.
fn every_printed_page_names_its_hub(pdf: &Path, pages: usize, out: &Path) {
    assert!(
        Path::new("/usr/bin/pdftotext").exists() && Path::new("/usr/bin/pdftoppm").exists(),
        "poppler not found: apt-get install poppler-utils (tools/test.sh does)"
    );
    common::assert_every_page_names_its_hub(pdf, pages);
    for page in ["1", "2"] {
        let done = Command::new("pdftoppm")
            .args(["-r", "80", "-png", "-singlefile", "-f", page, "-l", page])
            .arg(pdf)
            .arg(out.join(format!("report-fy2025-page-{page}")))
            .status()
            .unwrap();
        assert!(done.success(), "pdftoppm page {page}");
    }
}

#[test]
fn the_prefecture_report_prints_on_a4_landscape_without_cut_off_tables() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = renkei()
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["demo"]);
    run(&["report", "--fy", "令和7", "--out", "report.html"]);
    let url = format!("file://{}", dir.path().join("report.html").display());
    let out = artifacts();

    // Printed (as "save as PDF" does): A4 landscape, a page or more per hub part, the Japanese
    // font embedded.
    let pdf = out.join("report-fy2025.pdf");
    let _ = std::fs::remove_file(&pdf);
    browse(
        &chrome,
        "1123,794",
        &format!("--print-to-pdf={}", pdf.display()),
        &url,
    );
    let bytes = std::fs::read(&pdf).unwrap_or_default();
    assert!(bytes.starts_with(b"%PDF"), "a PDF was written");
    let text = String::from_utf8_lossy(&bytes);
    let pages = text.matches("/Type /Page").count() - text.matches("/Type /Pages").count();
    assert!(
        pages >= 9,
        "5 hubs and 4 active parts, each from a new page ({pages})"
    );
    assert!(
        text.contains("/MediaBox [0 0 841.9"),
        "A4 landscape (842 × 595 pt)"
    );
    assert!(
        text.contains("NotoSansCJK") || text.contains("NotoSerifCJK"),
        "the Japanese (CJK) font is embedded, not only a Latin Noto"
    );
    every_printed_page_names_its_hub(&pdf, pages, &out);

    // At the printable width of A4 landscape (277 mm ≈ 1047 px) nothing sticks out of the page
    // or out of its cell.
    let browser = common::webdriver::Browser::start(&chrome, 1047, 740);
    browser.goto(&url);
    browser.wait_for("table.hub");
    let cut = browser.execute(
        "const page = document.body.getBoundingClientRect().right + 1;
         return [...document.querySelectorAll('table, th, td, li')]
           .filter(e => e.getBoundingClientRect().right > page || e.scrollWidth > e.clientWidth + 1)
           .map(e => e.tagName + ': ' + e.textContent.slice(0, 40));",
    );
    assert_eq!(cut, serde_json::json!([]), "cut off: {cut}");
    // Lines break between words and at Japanese characters, never inside a number or a Latin
    // word (「9月1｜3日」, 「We｜b講演」 under word-break: break-all); the header's labels stay on
    // one line (「市町村医介連携事業（委託先）」 wrapped onto three).
    let split = browser.execute(
        "const bad = [];
         const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
         let node;
         while ((node = walk.nextNode())) {
           for (const m of node.data.matchAll(/[0-9０-９]{2,}|[A-Za-z]{2,}/g)) {
             const r = document.createRange();
             r.setStart(node, m.index);
             r.setEnd(node, m.index + m[0].length);
             const tops = new Set([...r.getClientRects()].map(x => Math.round(x.top)));
             if (tops.size > 1) bad.push(m[0] + ' in ' + node.data.slice(0, 30));
           }
         }
         for (const th of document.querySelectorAll('table.header th')) {
           const r = document.createRange();
           r.selectNodeContents(th);
           const tops = new Set([...r.getClientRects()].map(x => Math.round(x.top)));
           if (tops.size > 1) bad.push('label wraps: ' + th.textContent);
         }
         return bad;",
    );
    assert_eq!(split, serde_json::json!([]), "split inside a word: {split}");
    let tables = browser.execute("return document.querySelectorAll('table.duties').length;");
    assert_eq!(
        tables,
        serde_json::json!(15),
        "three sections for each of five hubs"
    );
    browser.screenshot(&out.join("report-fy2025.png"));
}

#[test]
fn a_coordinator_adds_to_the_hubs_ledger_and_the_report_shows_it_in_a_real_browser() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = renkei();
    cmd.current_dir(dir.path());
    let server = Server::start(cmd);
    let base = format!("http://127.0.0.1:{}", server.port);
    let out = artifacts();
    let browser = common::webdriver::Browser::start(&chrome, 1280, 1400);

    demo_login(&browser, &base, "coordinator@demo.renkei.example");
    browser.goto(&format!("{base}/hub"));
    browser.click("a[href='/ledger']");
    browser.wait_for("[data-testid=ledger-row-yao]");
    browser.screenshot(&out.join("ledger-1-index.png"));
    browser.click("[data-testid=ledger-row-yao] a[href='/ledger/2025/yao']");
    browser.wait_for("[data-testid=add-plan]");
    browser.click("[data-testid=add-plan]");
    browser.wait_for("input[name=title]");
    browser.click("input[name=duty][value='4']");
    browser.type_into("input[name=title]", "ICT連携ツールの操作研修会");
    // A weekday that does not match: the form says so and keeps the typing.
    browser.type_into("input[name=schedule]", "12月3日（木）");
    browser.click("[data-testid=save-item]");
    browser.wait_for("[data-testid=form-error]");
    assert!(browser
        .source()
        .contains("12月3日は木曜日ではありません（水曜日です）"));
    browser.screenshot(&out.join("ledger-2-error.png"));
    browser.clear_and_type("input[name=schedule]", "12月3日（水）");
    browser.click("[data-testid=save-item]");
    browser.wait_for("[data-testid=ledger-notice]");
    assert!(browser
        .source()
        .contains("ICT連携ツールの操作研修会（12月3日（水））"));
    browser.screenshot(&out.join("ledger-3-saved.png"));

    browser.goto(&format!("{base}/ledger/2025/report?area=yao"));
    browser.wait_for("table.hub");
    let cell = browser.execute(
        "return document.querySelector('table[data-section=plan] td[data-duty=\"4\"]').textContent;",
    );
    assert!(
        cell.as_str()
            .unwrap_or("")
            .contains("ICT連携ツールの操作研修会"),
        "the report's ④ column of the plan: {cell}"
    );
    browser.screenshot(&out.join("ledger-4-report.png"));
    browser.goto(&format!("{base}/ledger/2025/compare"));
    browser.wait_for("[data-testid=coverage-chart] svg");
    browser.screenshot(&out.join("ledger-5-compare.png"));

    // 八尾 reported no 対応状況; the coordinator records the counts the hub reported, with
    // their date, and the report prints them as （2）, with their source.
    browser.goto(&format!("{base}/ledger/2025/yao"));
    browser.click("a[href='/ledger/2025/yao/texts']");
    browser.wait_for("[data-testid=coverage-fields]");
    assert!(browser
        .source()
        .contains("役割を登録した積極的医療機関がありません"));
    browser.click("input[name=coverage][value=hub]");
    for (name, value) in [
        ("coverage_institutions", "６"),
        ("coverage_1", "3"),
        ("coverage_2", "2"),
        ("coverage_3", "1"),
        ("coverage_4", "0"),
        ("coverage_5", "4"),
        ("coverage_6", "1"),
    ] {
        browser.clear_and_type(&format!("input[name={name}]"), value);
    }
    browser.screenshot(&out.join("ledger-6-coverage.png"));
    browser.click("form.stack button[type=submit]");
    browser.wait_for("[data-testid=ledger-notice]");
    assert!(browser
        .source()
        .contains("積極的医療機関 6件：①3 ②2 ③1 ④0 ⑤4 ⑥1（出典：拠点の報告）"));
    browser.goto(&format!("{base}/ledger/2025/report?area=yao"));
    browser.wait_for("[data-testid=coverage]");
    let coverage =
        browser.execute("return document.querySelector('[data-testid=coverage]').textContent;");
    assert!(
        coverage
            .as_str()
            .unwrap_or("")
            .contains("④災害時における医療提供のための計画策定 現状対応可 0件"),
        "{coverage}"
    );
    browser.screenshot(&out.join("ledger-7-report-coverage.png"));
    drop(browser);
    server.terminate();
}

#[test]
fn an_institution_answers_on_a_phone_and_the_coordinators_dashboard_updates_live() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = renkei();
    cmd.current_dir(dir.path());
    let server = Server::start(cmd);
    let base = format!("http://127.0.0.1:{}", server.port);
    let out = artifacts();
    let desk = common::webdriver::Browser::start(&chrome, 1280, 1400);

    // The coordinator sends a drill to 八尾's hospitals and clinics (the form's defaults).
    demo_login(&desk, &base, "coordinator@demo.renkei.example");
    desk.goto(&format!("{base}/hub"));
    desk.click("a[href='/hub/safety']");
    desk.wait_for("[data-testid=new-safety-check]");
    desk.click("[data-testid=new-safety-check]");
    desk.wait_for("input[name=title]");
    desk.type_into("input[name=title]", "大阪880万人訓練 安否確認");
    desk.screenshot(&out.join("safety-1-new.png"));
    desk.click("[data-testid=create-check]");
    desk.wait_for("[data-testid=response-rate]");
    let dashboard = desk.url().split('?').next().unwrap().to_owned();
    let rate = |b: &common::webdriver::Browser| {
        b.execute("return document.querySelector('[data-testid=response-rate]').textContent;")
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    assert!(rate(&desk).starts_with("0／"), "{}", rate(&desk));

    // The links page gives each institution its own link (for fax); take the first.
    desk.goto(&format!("{dashboard}/links"));
    desk.wait_for("[data-testid=links] .link-cell");
    let link = desk
        .execute("return document.querySelector('[data-testid=links] .link-cell').textContent;")
        .as_str()
        .unwrap()
        .trim()
        .to_owned();
    // Links name the configured public address; this test server listens on its own port.
    let at = link.find("/r/").expect("a response link");
    let link = format!("{base}{}", &link[at..]);
    desk.screenshot(&out.join("safety-2-links.png"));

    // Back to the dashboard, which listens for updates; mark the page to prove it never reloads.
    desk.goto(&dashboard);
    desk.wait_for("#safety-live[data-live=on]");
    desk.execute("window.renkeiNotReloaded = true; return true;");

    // On a phone: the quick answer, then the details.
    let phone = common::webdriver::Browser::start(&chrome, 390, 844);
    phone.goto(&link);
    phone.wait_for("input[name=people]");
    phone.screenshot(&out.join("safety-3-phone-quick.png"));
    phone.click("input[name=people][value=safe]");
    phone.click("input[name=building][value=intact]");
    phone.click("input[name=power][value=generator]");
    phone.type_into("input[name=fuel_hours]", "48");
    phone.click("input[name=water][value=available]");
    phone.type_into("input[name=can_accept]", "2");
    phone.click("button[type=submit]");
    phone.wait_for("[data-testid=respond-notice]");
    phone.type_into("input[name=ventilator]", "1");
    phone.type_into("textarea[name=needs]", "発電機の燃料");
    phone.screenshot(&out.join("safety-4-phone-details.png"));
    phone.click("button[type=submit]");
    phone.wait_for("[data-testid=respond-done]");
    phone.screenshot(&out.join("safety-5-phone-done.png"));

    // The dashboard shows it without a reload.
    let wait_until = |what: &str, ok: &dyn Fn(&str) -> bool| {
        renkei_testkit::wait::for_condition(what, || ok(&rate(&desk)));
    };
    wait_until("the answer shows live", &|r| r.starts_with("1／"));
    assert_eq!(
        desk.execute("return window.renkeiNotReloaded === true;"),
        serde_json::Value::Bool(true),
        "updated in place, not reloaded"
    );
    assert!(desk.source().contains("支援が必要"));
    desk.screenshot(&out.join("safety-6-dashboard-live.png"));

    // The institution changes its answer: still one institution answered, the new content shows.
    phone.goto(&link);
    phone.wait_for("input[name=can_accept]");
    phone.clear_and_type("input[name=can_accept]", "5");
    phone.click("button[type=submit]");
    phone.wait_for("[data-testid=respond-notice]");
    renkei_testkit::wait::for_condition("the changed answer to show live", || {
        desk.source().contains("受入可能な患者数：5人")
    });
    assert!(rate(&desk).starts_with("1／"));
    desk.screenshot(&out.join("safety-7-dashboard-changed.png"));
    desk.goto(&format!("{dashboard}/summary"));
    desk.wait_for("[data-testid=response-curve] svg polyline");
    desk.screenshot(&out.join("safety-8-summary.png"));
    drop(phone);
    drop(desk);
    server.terminate();
}

/// `renkei serve --demo` in a fresh directory whose mail goes to a real SMTP server on loopback.
struct MailingServer {
    runtime: tokio::runtime::Runtime,
    smtp: renkei_testkit::smtp::TestSmtpServer,
    _dir: tempfile::TempDir,
    server: Server,
}

impl MailingServer {
    fn start() -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let smtp = runtime.block_on(renkei_testkit::smtp::TestSmtpServer::start());
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = renkei();
        cmd.current_dir(dir.path())
            .env("RENKEI_SMTP_URL", smtp.url());
        let server = Server::start(cmd);
        MailingServer {
            runtime,
            smtp,
            _dir: dir,
            server,
        }
    }
}

/// The first mail `smtp` received that `wanted` accepts, once it has come.
fn wait_for_mail(
    smtp: &renkei_testkit::smtp::TestSmtpServer,
    what: &str,
    wanted: impl Fn(&renkei_testkit::smtp::ReceivedMail) -> bool,
) -> renkei_testkit::smtp::ReceivedMail {
    renkei_testkit::wait::until(
        &format!("the mail: {what}"),
        renkei_testkit::wait::HANG_GUARD,
        std::time::Duration::from_millis(200),
        || smtp.mails().into_iter().find(|m| wanted(m)),
    )
}

/// Whether the page is no wider than the screen (nothing to scroll sideways on a phone).
/// Today's date in Japan, where the server counts days: the browser's own clock zone (UTC on
/// CI) is a day behind from 15:00 UTC.
fn japan_today() -> chrono::NaiveDate {
    renkei_domain::japan::today(chrono::Utc::now())
}

fn fits_the_screen(browser: &common::webdriver::Browser) -> (i64, i64) {
    let widths =
        browser.execute("return [document.documentElement.scrollWidth, window.innerWidth];");
    (
        widths[0].as_i64().unwrap_or(0),
        widths[1].as_i64().unwrap_or(0),
    )
}

#[test]
fn a_clinic_posts_a_respite_request_on_a_phone_and_sees_the_hospitals_acceptance_live() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = renkei();
    cmd.current_dir(dir.path());
    let server = Server::start(cmd);
    let base = format!("http://127.0.0.1:{}", server.port);
    let out = artifacts();

    // The clinic's nurse, on a phone: the nav's 急変時連携 leads to the clinic's list.
    let phone = common::webdriver::Browser::start(&chrome, 390, 844);
    demo_login(&phone, &base, "nurse@demo.renkei.example");
    phone.goto(&base);
    phone.click("a[href='/urgent']");
    phone.wait_for("[data-testid=new-request]");
    let inbox = phone.url();
    phone.click("[data-testid=new-request]");
    phone.wait_for("[data-testid=request-form]");
    phone.click("input[name=kind][value=respite_admission]");
    // Showing the candidates keeps what was typed (a GET of the same form).
    // (Sent by POST, so the case never travels in an address: wait for the new page.)
    phone.execute("window.renkeiOldPage = true; return true;");
    phone.click("[data-testid=show-candidates]");
    renkei_testkit::wait::for_condition("the form to come back with candidates", || {
        phone.execute("return window.renkeiOldPage === true;") != serde_json::Value::Bool(true)
    });
    phone.wait_for("[data-testid=candidates]");
    assert!(phone
        .source()
        .contains("value=\"respite_admission\" checked"));
    phone.click("input[name=age_band][value='85_94']");
    phone.click("input[name=sex][value=female]");
    phone.type_into(
        "textarea[name=condition]",
        "ALS。介護者（夫）の入院のため在宅療養が続けられない",
    );
    phone.type_into("textarea[name=needs]", "喀痰吸引、胃ろう。2週間程度");
    phone.type_into("input[name=contact]", "訪問看護 柏原 072-000-0000");
    let (wide, screen) = fits_the_screen(&phone);
    assert!(wide <= screen, "the form fits the phone: {wide} > {screen}");
    phone.screenshot(&out.join("urgent-1-phone-new.png"));
    // A phone number slipped into the condition: refused, saying which field and why, the
    // typing kept.
    phone.type_into("textarea[name=condition]", " 家族 090-1234-5678");
    phone.click("[data-testid=send-request]");
    phone.wait_for("[data-testid=form-error]");
    let refusal = phone.source();
    assert!(
        refusal.contains("「病状」に電話番号のようなもの"),
        "the reason is named"
    );
    phone.screenshot(&out.join("urgent-1b-phone-refused.png"));
    phone.clear_and_type(
        "textarea[name=condition]",
        "ALS。介護者（夫）の入院のため在宅療養が続けられない",
    );
    phone.click("[data-testid=send-request]");
    phone.wait_for("[data-testid=urgent-status][data-status=open]");
    phone.wait_for("#urgent-live[data-live=on]");
    phone.execute("window.renkeiNotReloaded = true; return true;");
    let request = phone.url().split('?').next().unwrap().to_owned();
    assert!(phone.source().contains("レスパイト入院の受入れ"));
    let (wide, screen) = fits_the_screen(&phone);
    assert!(
        wide <= screen,
        "the request fits the phone: {wide} > {screen}"
    );
    phone.screenshot(&out.join("urgent-2-phone-waiting.png"));

    // The hospital's liaison office, at a desk: the request waits in its list.
    let desk = common::webdriver::Browser::start(&chrome, 1280, 1000);
    demo_login(&desk, &base, "ward@demo.renkei.example");
    desk.goto(&format!("{base}/urgent"));
    desk.wait_for("[data-testid=waiting] a.button");
    desk.screenshot(&out.join("urgent-3-hospital-inbox.png"));
    desk.click("[data-testid=waiting] a.button");
    desk.wait_for("[data-testid=accept]");
    assert!(desk.source().contains("ALS"));
    desk.click("[data-testid=accept]");
    desk.wait_for("[data-testid=urgent-status][data-status=accepted]");
    desk.screenshot(&out.join("urgent-4-hospital-accepted.png"));

    // The clinic's phone shows the acceptance without a reload.
    phone.wait_for("[data-testid=urgent-status][data-status=accepted]");
    assert_eq!(
        phone.execute("return window.renkeiNotReloaded === true;"),
        serde_json::Value::Bool(true),
        "updated in place, not reloaded"
    );
    assert!(phone.source().contains("受入先："));
    phone.screenshot(&out.join("urgent-5-phone-accepted.png"));
    // The clinic's list says so too.
    phone.goto(&inbox);
    phone.wait_for("[data-testid=sent] tr[data-status=accepted]");
    assert!(phone.url().starts_with(&base) && request.contains("/urgent/"));

    // The coordinator sees it in the hub's view with the ③ figures.
    drop(desk);
    let hub = common::webdriver::Browser::start(&chrome, 1280, 1000);
    demo_login(&hub, &base, "coordinator@demo.renkei.example");
    hub.goto(&format!("{base}/hub/urgent"));
    hub.wait_for("[data-testid=urgent-figures]");
    assert!(hub.source().contains("100%"));
    hub.screenshot(&out.join("urgent-6-hub.png"));
    drop(hub);
    drop(phone);
    server.terminate();
}

#[test]
fn the_power_bcp_readiness_and_rota_pages_fit_a_phone() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = renkei();
    cmd.current_dir(dir.path());
    let server = Server::start(cmd);
    let base = format!("http://127.0.0.1:{}", server.port);
    let out = artifacts();
    let phone = common::webdriver::Browser::start(&chrome, 390, 844);
    demo_login(&phone, &base, "nurse@demo.renkei.example");
    phone.goto(&format!("{base}/urgent"));
    phone.wait_for("[data-testid=new-request]");
    let clinic = phone
        .url()
        .split("/institutions/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    for (path, ready, shot) in [
        ("power", "[data-testid=unit-form]", "power-1-phone.png"),
        (
            "power/borrow?device=ventilator&watts=300&starts_on=2026-12-10&ends_on=2026-12-12",
            "[data-testid=need-form]",
            "power-2-phone-borrow.png",
        ),
        ("bcp", "main h1", "bcp-1-phone.png"),
        ("readiness", "main h1", "readiness-1-phone.png"),
        ("backup", "[data-testid=absence-form]", "backup-1-phone.png"),
        ("conferences", "main h1", "conference-1-phone.png"),
        (
            "urgent",
            "[data-testid=new-request]",
            "urgent-0-phone-list.png",
        ),
    ] {
        phone.goto(&format!("{base}/institutions/{clinic}/{path}"));
        phone.wait_for(ready);
        let (wide, screen) = fits_the_screen(&phone);
        phone.screenshot(&out.join(shot));
        assert!(wide <= screen, "{path} fits the phone: {wide} > {screen}");
    }
    // The bed board from the clinic's town.
    phone.goto(&format!("{base}/beds"));
    phone.wait_for("[data-testid=beds-search]");
    let (wide, screen) = fits_the_screen(&phone);
    phone.screenshot(&out.join("beds-1-phone-board.png"));
    assert!(
        wide <= screen,
        "the bed board fits the phone: {wide} > {screen}"
    );
    // An on-call group with two nearby clinics, its month filled by weekday.
    phone.goto(&format!("{base}/rota"));
    phone.wait_for("[data-testid=rota-nearby]");
    phone.type_into("input[name=name]", "八尾東部在宅当番");
    phone.click("[data-testid=rota-nearby] li:nth-child(1) input");
    phone.click("[data-testid=rota-nearby] li:nth-child(2) input");
    phone.click("[data-testid=rota-create]");
    phone.wait_for("[data-testid=rota-month]");
    phone.click("[data-testid=rota-assign-pattern]");
    phone.wait_for("[data-testid=rota-notice]");
    let (wide, screen) = fits_the_screen(&phone);
    phone.screenshot(&out.join("rota-1-phone-month.png"));
    assert!(wide <= screen, "the rota fits the phone: {wide} > {screen}");
    drop(phone);
    server.terminate();
}

#[test]
fn a_doctor_registers_a_patient_a_hospital_nurse_posts_vitals_and_the_doctor_sees_the_chart() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = renkei();
    cmd.current_dir(dir.path());
    let server = Server::start(cmd);
    let base = format!("http://127.0.0.1:{}", server.port);
    let out = artifacts();

    // The clinic's administrator (a doctor) registers a patient.
    let doctor = common::webdriver::Browser::start(&chrome, 1280, 1000);
    demo_login(&doctor, &base, "clinic-admin@demo.renkei.example");
    doctor.goto(&format!("{base}/patients"));
    doctor.click("[data-testid=register-patient]");
    doctor.wait_for("[data-testid=patient-form]");
    doctor.click("input[name=profession][value=doctor]");
    doctor.type_into("input[name=name]", "河内 花子");
    doctor.type_into("input[name=kana]", "カワチ ハナコ");
    doctor.type_into("input[name=birth_date]", "昭和13年4月2日");
    doctor.click("input[name=sex][value=female]");
    doctor.type_into("input[name=address]", "八尾市本町1丁目");
    doctor.click("input[name=needs][value=oxygen]");
    doctor.click("[data-testid=save-patient]");
    doctor.wait_for("[data-testid=consent-form]");
    let patient = doctor.url().split('?').next().unwrap().to_owned();
    // Consent, recorded as given today.
    // Today as the server counts it (in Japan), not the browser's clock zone: from 15:00 UTC
    // the two differ by a day, and a next visit "yesterday" is rightly refused.
    let today = japan_today().to_string();
    assert_eq!(
        doctor.execute("return new Date().getTimezoneOffset();"),
        serde_json::json!(-540),
        "the browser runs on Japan's time, as our users' do"
    );
    doctor.execute(&format!(
        "document.querySelector('input[name=given_on]').value = '{today}'; return true;"
    ));
    doctor.click("[data-testid=record-consent]");
    doctor.wait_for("[data-in-force=true]");
    // Invites the hospital's liaison nurse.
    doctor.execute("document.querySelector('[data-testid=invite-institutions]').closest('details').open = true; return true;");
    doctor.type_into("input[name=find]", "ほほえみ記念病院");
    doctor.click("[data-testid=find-institution]");
    // The list of nearby institutions is there before the search too: wait for the new page.
    doctor.wait_for_url("the search's page", |u| u.contains("find="));
    doctor.wait_for("[data-testid=invite-institutions] a");
    doctor.click("[data-testid=invite-institutions] a");
    doctor.wait_for("[data-testid=invite-form]");
    doctor.execute("var s = document.querySelector('[data-testid=invite-form] select[name=profession]'); s.value = 'nurse'; return true;");
    doctor.click("[data-testid=invite]");
    doctor.wait_for("[data-testid=careteam-notice]");
    assert!(
        doctor.source().contains("生駒 みどり"),
        "the nurse is on the team"
    );
    doctor.screenshot(&out.join("careteam-1-doctor-team.png"));

    // The nurse, on her phone, posts vitals.
    let phone = common::webdriver::Browser::start(&chrome, 390, 844);
    demo_login(&phone, &base, "ward@demo.renkei.example");
    phone.goto(&format!("{base}/patients"));
    phone.wait_for("[data-testid=patients] a");
    phone.click("[data-testid=patients] a");
    phone.wait_for("[data-testid=post-form]");
    phone.type_into("textarea[name=body]", "訪問。呼吸苦なし、食事半量");
    phone.type_into("input[name=systolic]", "128");
    phone.type_into("input[name=diastolic]", "76");
    phone.type_into("input[name=pulse]", "88");
    phone.type_into("input[name=spo2]", "93");
    phone.type_into("input[name=temperature]", "37.2");
    phone.screenshot(&out.join("careteam-2-phone-vitals.png"));
    // With a photo (a real PNG: the screenshot just taken), for the doctor's attention.
    let photo = out
        .join("careteam-2-phone-vitals.png")
        .canonicalize()
        .unwrap();
    phone.type_into("[data-testid=post-file]", photo.to_str().unwrap());
    phone.click("input[name=mention]");
    phone.click("[data-testid=send-post]");
    phone.wait_for("[data-testid=post-vitals]");
    phone.wait_for("[data-testid=post-files] img");
    // The photo loads lazily: bring it into view, then wait for it to be decoded.
    phone.execute(
        "document.querySelector('[data-testid=post-files] img').scrollIntoView(); return true;",
    );
    renkei_testkit::wait::for_condition("the photo to open for the team", || {
        phone.execute(
            "var i = document.querySelector('[data-testid=post-files] img'); \
             return i.complete && i.naturalWidth > 100;",
        ) == serde_json::Value::Bool(true)
    });
    let (wide, screen) = fits_the_screen(&phone);
    assert!(
        wide <= screen,
        "the timeline fits the phone: {wide} > {screen}"
    );

    // The doctor is told (a badge, no name in it) and sees the chart and the photo.
    doctor.goto(&format!("{base}/patients"));
    doctor.wait_for("[data-testid=mention-count]");
    doctor.goto(&patient);
    doctor.wait_for("[data-testid=chart-spo2]");
    assert!(doctor.source().contains("SpO2 93%"));
    assert!(doctor.source().contains("data-testid=\"post-files\""));
    doctor.screenshot(&out.join("careteam-3-doctor-chart.png"));
    // The doctor's visit record (what 在宅医療情報連携加算 asks to be written down).
    doctor.execute("document.querySelector('[data-testid=post-form]').closest('details').open = true; return true;");
    doctor.execute(&format!(
        "document.querySelector('input[name=next_visit_on]').value = '{today}'; return true;"
    ));
    doctor.click("input[name=plan_changed][value=no]");
    doctor.type_into("textarea[name=care_points]", "体位変換時のSpO2低下に注意");
    doctor.click("[data-testid=send-post]");
    doctor.wait_for("[data-testid=post-visit]");
    // The printable summary.
    doctor.goto(&format!("{patient}/summary"));
    doctor.wait_for("[data-testid=patient-summary]");
    assert!(doctor.source().contains("SpO2 93%"));
    doctor.screenshot(&out.join("careteam-4-summary.png"));
    // The month's evidence: the hospital is a partner, the patient's month is complete.
    doctor.goto(&format!("{base}/patients"));
    doctor.click("[data-testid=evidence-link]");
    doctor.wait_for("[data-testid=evidence-patients]");
    assert!(doctor.source().contains("data-counted=\"1\""));
    doctor.wait_for("[data-complete=true]");
    doctor.screenshot(&out.join("careteam-5-evidence.png"));

    // The hospital nurse proposes the discharge conference with the team's clinic chosen.
    phone.goto(&patient);
    phone.click("[data-testid=conference-link]");
    phone.wait_for("[data-testid=conference-form]");
    let chosen =
        phone.execute("return document.querySelector('select[name=clinic_doctor]').value;");
    assert_ne!(
        chosen,
        serde_json::Value::String(String::new()),
        "the team's clinic is chosen"
    );
    let (wide, screen) = fits_the_screen(&phone);
    phone.screenshot(&out.join("careteam-6-phone-conference.png"));
    assert!(
        wide <= screen,
        "the conference form fits the phone: {wide} > {screen}"
    );
    drop(phone);
    drop(doctor);
    server.terminate();
}

#[test]
fn a_coordinator_notes_a_phone_consultation_on_a_phone_and_sees_the_figures() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = renkei();
    cmd.current_dir(dir.path());
    let server = Server::start(cmd);
    let base = format!("http://127.0.0.1:{}", server.port);
    let out = artifacts();
    let phone = common::webdriver::Browser::start(&chrome, 390, 844);
    demo_login(&phone, &base, "coordinator@demo.renkei.example");
    phone.goto(&format!("{base}/hub/consultations"));
    phone.wait_for("[data-testid=consultation-form]");
    // A family asks for a home-visit doctor; the coordinator finds a clinic to refer them to.
    phone.execute("document.querySelector('select[name=caller]').value = 'family'; return true;");
    phone.click("input[name=topic][value=finding_doctor]");
    phone.type_into("textarea[name=summary]", "退院後の訪問診療医を探している");
    phone.type_into("input[name=find]", "クリニック");
    phone.click("[data-testid=find-referral]");
    phone.wait_for("input[name=referral]");
    // The form kept what was typed while finding.
    assert!(phone.source().contains("退院後の訪問診療医を探している"));
    phone.click("input[name=referral]");
    phone.click("input[name=action][value=referral]");
    phone.type_into("input[name=minutes]", "１５");
    let (wide, screen) = fits_the_screen(&phone);
    phone.screenshot(&out.join("consultation-1-phone-form.png"));
    assert!(wide <= screen, "the form fits the phone: {wide} > {screen}");
    phone.click("[data-testid=save-consultation]");
    phone.wait_for("[data-testid=consultation-notice]");
    assert!(phone.source().contains("data-note="), "the note is listed");
    // The year's figures with their charts.
    phone.click("[data-testid=stats-link]");
    phone.wait_for("[data-testid=chart-consultations-by-topic]");
    assert!(phone.source().contains("data-total=\"1\""));
    let (wide, screen) = fits_the_screen(&phone);
    phone.screenshot(&out.join("consultation-2-phone-stats.png"));
    assert!(
        wide <= screen,
        "the figures fit the phone: {wide} > {screen}"
    );
    drop(phone);
    server.terminate();
}

#[test]
fn a_citizen_registers_for_an_acp_lecture_from_the_public_calendar_on_a_phone_and_gets_the_mail() {
    let Some(chrome) = chromium() else { return };
    let MailingServer {
        runtime,
        smtp,
        _dir,
        server,
    } = MailingServer::start();
    let base = format!("http://127.0.0.1:{}", server.port);
    let out = artifacts();

    // The coordinator announces the lecture at her desk, for tomorrow afternoon.
    let desk = common::webdriver::Browser::start(&chrome, 1280, 1000);
    demo_login(&desk, &base, "coordinator@demo.renkei.example");
    desk.goto(&format!("{base}/hub/events"));
    desk.wait_for("[data-testid=event-form]");
    desk.type_into("input[name=title]", "人生会議（ACP）講習会");
    desk.execute(&format!(
        "document.querySelector('select[name=kind]').value = 'lecture'; \
         document.querySelector('select[name=audience]').value = 'citizens'; \
         document.querySelector('input[name=starts_at]').value = '{tomorrow}T14:00'; \
         document.querySelector('input[name=ends_time]').value = '16:00'; return true;",
        tomorrow = japan_today() + chrono::Duration::days(1)
    ));
    desk.type_into("input[name=place]", "八尾市文化会館 小ホール");
    desk.type_into("input[name=organiser]", "八尾市医師会");
    desk.type_into("input[name=capacity]", "50");
    desk.click("[data-testid=create-event]");
    desk.wait_for("[data-testid=event-counts]");

    // A citizen finds it on the public calendar on her phone and registers.
    let phone = common::webdriver::Browser::start(&chrome, 390, 844);
    phone.goto(&format!("{base}/events"));
    phone.wait_for("[data-testid=public-events] a");
    let (wide, screen) = fits_the_screen(&phone);
    phone.screenshot(&out.join("events-1-phone-calendar.png"));
    assert!(
        wide <= screen,
        "the calendar fits the phone: {wide} > {screen}"
    );
    phone.click("[data-testid=public-events] a");
    phone.wait_for("[data-testid=registration-form]");
    phone.type_into("input[name=name]", "河内 花子");
    phone.type_into("input[name=email]", "hanako@example.jp");
    phone.screenshot(&out.join("events-2-phone-form.png"));
    phone.click("[data-testid=register]");
    phone.wait_for("[data-testid=registered]");
    let (wide, screen) = fits_the_screen(&phone);
    phone.screenshot(&out.join("events-3-phone-registered.png"));
    assert!(
        wide <= screen,
        "the confirmation fits the phone: {wide} > {screen}"
    );

    // The confirmation mail arrives over SMTP with the link to cancel.
    let mail = wait_for_mail(&smtp, "the confirmation", |m| {
        m.to.iter().any(|t| t.contains("hanako@example.jp"))
    });
    let text = mail.text();
    assert!(
        text.contains("河内 花子 様") && text.contains("人生会議（ACP）講習会"),
        "{text}"
    );
    assert!(text.contains("/events/registration/"), "{text}");
    // The coordinator sees her registration.
    desk.goto(&desk.url());
    desk.wait_for("[data-testid=registrations]");
    assert!(desk.source().contains("河内 花子"));
    drop(phone);
    drop(desk);
    server.terminate();
    drop(runtime);
}

#[test]
fn a_clinic_answers_the_hubs_survey_on_a_phone_and_the_coordinator_sees_the_charts() {
    let Some(chrome) = chromium() else { return };
    let MailingServer {
        runtime,
        smtp,
        _dir,
        server,
    } = MailingServer::start();
    let base = format!("http://127.0.0.1:{}", server.port);
    let out = artifacts();

    // The coordinator starts from the 24-hour template and sends it to the active
    // institutions (ticked for her).
    let desk = common::webdriver::Browser::start(&chrome, 1280, 1000);
    demo_login(&desk, &base, "coordinator@demo.renkei.example");
    desk.goto(&format!("{base}/hub/surveys"));
    desk.wait_for("[data-testid=survey-form]");
    desk.type_into("input[name=title]", "24時間体制に関する調査");
    desk.click("input[name=template][value=twenty_four_hour]");
    desk.click("[data-testid=create-survey]");
    desk.wait_for("[data-testid=questions]");
    desk.screenshot(&out.join("surveys-1-desk-builder.png"));
    desk.click("[data-testid=send]");
    desk.wait_for("[data-testid=survey-counts]");
    // (without the "#follow-up" fragment, so that going there again reloads the page)
    let survey_page = desk.url().split('#').next().unwrap().to_owned();

    // A clinic opens the mailed link on a phone.
    let text = wait_for_mail(&smtp, "the survey's link", |m| {
        m.text().contains("/surveys/answer/")
    })
    .text();
    let link = text
        .lines()
        .find(|l| l.contains("/surveys/answer/"))
        .unwrap()
        .trim()
        .to_owned();
    let path = link.split("/surveys/answer/").nth(1).unwrap();
    let phone = common::webdriver::Browser::start(&chrome, 390, 844);
    phone.goto(&format!("{base}/surveys/answer/{path}"));
    phone.wait_for("[data-testid=answer-form]");
    // Sent with nothing chosen: each required question says so, nothing is lost.
    phone.type_into("input[name=q1]", "三");
    phone.click("[data-testid=submit-answers]");
    phone.wait_for(".field-error");
    assert!(phone.source().contains("数字で入れてください"));
    let (wide, screen) = fits_the_screen(&phone);
    phone.screenshot(&out.join("surveys-2-phone-errors.png"));
    assert!(wide <= screen, "the form fits the phone: {wide} > {screen}");
    phone.click("input[name=q0][value='1']");
    phone.clear_and_type("input[name=q1]", "３");
    phone.click("input[name=q2][value='0']");
    phone.click("input[name=q3][value='0']");
    phone.type_into("textarea[name=q4]", "夜間の連携先を紹介してほしい");
    phone.click("[data-testid=submit-answers]");
    phone.wait_for("[data-testid=survey-thanks]");
    let (wide, screen) = fits_the_screen(&phone);
    phone.screenshot(&out.join("surveys-3-phone-thanks.png"));
    assert!(
        wide <= screen,
        "the thanks fit the phone: {wide} > {screen}"
    );
    assert!(phone.source().contains("3 人"));

    // The coordinator sees the answer counted and charted.
    desk.goto(&survey_page);
    desk.wait_for("[data-testid=chart-survey-q1]");
    assert!(desk.source().contains("data-answered=\"1\""));
    assert!(desk.source().contains("夜間の連携先を紹介してほしい"));
    desk.screenshot(&out.join("surveys-4-desk-results.png"));
    drop(phone);
    drop(desk);
    server.terminate();
    drop(runtime);
}

/// nginx from Debian; `None` only outside CI with `RENKEI_TEST_SKIP_NGINX=1` (a missing nginx
/// fails the test otherwise).
fn nginx() -> Option<PathBuf> {
    for candidate in ["/usr/sbin/nginx", "/usr/bin/nginx"] {
        if Path::new(candidate).exists() {
            return Some(PathBuf::from(candidate));
        }
    }
    if renkei_testkit::skip::allowed(
        "scale-out test",
        "RENKEI_TEST_SKIP_NGINX",
        "nginx not found",
    ) {
        return None;
    }
    panic!(
        "nginx not found: apt-get install nginx-light (or, outside CI, RENKEI_TEST_SKIP_NGINX=1)"
    );
}

/// nginx on loopback in front of `ports`, round robin, without buffering (for server-sent
/// events); returns the process and its port.
fn load_balancer(nginx: &Path, dir: &Path, ports: &[u16]) -> (std::process::Child, u16) {
    let port = common::free_port();
    let servers: String = ports
        .iter()
        .map(|p| format!("server 127.0.0.1:{p};"))
        .collect();
    let d = dir.display();
    let conf = format!(
        "daemon off; user root; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log;
         events {{ worker_connections 256; }}
         http {{
           access_log off;
           client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
           fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
           upstream renkei {{ {servers} }}
           server {{
             listen 127.0.0.1:{port};
             location / {{
               proxy_pass http://renkei;
               proxy_http_version 1.1;
               proxy_set_header Host $http_host;
               proxy_set_header Connection \"\";
               proxy_buffering off;
               proxy_read_timeout 1h;
             }}
           }}
         }}"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = std::process::Command::new(nginx)
        .args(["-p", &d.to_string(), "-c", &format!("{d}/nginx.conf")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    renkei_testkit::wait::for_condition("nginx to come up", || {
        common::http_get(port, "/healthz").map(|r| r.0) == Some(200)
    });
    (child, port)
}

#[test]
fn two_instances_behind_nginx_share_sessions_live_dashboards_and_the_directory() {
    let Some(chrome) = chromium() else { return };
    let Some(nginx) = nginx() else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = runtime.block_on(renkei_testkit::create_postgres_database()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let start = |name: &str| {
        let work = dir.path().join(name);
        std::fs::create_dir_all(&work).unwrap();
        let mut cmd = renkei();
        cmd.current_dir(&work).env("DATABASE_URL", &db.url).env(
            "RENKEI_AUDIT_KEY",
            "scale-out-test-key-shared-by-every-instance",
        );
        Server::start(cmd)
    };
    // One after the other: the first loads the demo, the second finds it there.
    let a = start("a");
    let b = start("b");
    let lb_dir = dir.path().join("nginx");
    std::fs::create_dir_all(&lb_dir).unwrap();
    let (mut lb, lb_port) = load_balancer(&nginx, &lb_dir, &[a.port, b.port]);
    let base = format!("http://127.0.0.1:{lb_port}");
    let (on_a, on_b) = (
        format!("http://127.0.0.1:{}", a.port),
        format!("http://127.0.0.1:{}", b.port),
    );
    let out = artifacts();

    // Sessions and forms cross instances: each request of the login may land on either.
    let desk = common::webdriver::Browser::start(&chrome, 1280, 1400);
    demo_login(&desk, &base, "coordinator@demo.renkei.example");
    for _ in 0..4 {
        desk.goto(&format!("{base}/hub"));
        assert!(
            desk.source().contains("/logout"),
            "signed in on whichever instance answers"
        );
    }

    // A drill sent through the balancer; its dashboard served by B, an answer taken by A.
    desk.goto(&format!("{base}/hub/safety/new"));
    desk.wait_for("input[name=title]");
    desk.type_into("input[name=title]", "スケールアウト訓練");
    desk.click("[data-testid=create-check]");
    desk.wait_for("[data-testid=response-rate]");
    let dashboard = desk.url().split('?').next().unwrap().to_owned();
    let path = dashboard.trim_start_matches(&base).to_owned();
    desk.goto(&format!("{on_a}{path}/links"));
    desk.wait_for("[data-testid=links] .link-cell");
    let link = desk
        .execute("return document.querySelector('[data-testid=links] .link-cell').textContent;")
        .as_str()
        .unwrap()
        .trim()
        .to_owned();
    let link = format!("{on_a}{}", &link[link.find("/r/").unwrap()..]);
    desk.goto(&format!("{on_b}{path}"));
    desk.wait_for("#safety-live[data-live=on]");
    let rate = || {
        desk.execute("return document.querySelector('[data-testid=response-rate]').textContent;")
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    assert!(rate().starts_with("0／"));
    let phone = common::webdriver::Browser::start(&chrome, 390, 844);
    phone.goto(&link);
    phone.wait_for("input[name=people]");
    phone.click("input[name=people][value=safe]");
    phone.click("input[name=building][value=intact]");
    phone.click("input[name=power][value=generator]");
    phone.type_into("input[name=fuel_hours]", "48");
    phone.click("input[name=water][value=available]");
    phone.type_into("input[name=can_accept]", "2");
    phone.click("button[type=submit]");
    phone.wait_for("[data-testid=respond-notice]");
    // How soon is measured by `renkei-bench surge` (BENCHMARKS.md); here: that it shows.
    renkei_testkit::wait::for_condition("the answer taken by A to show on B's dashboard", || {
        rate().starts_with("1／")
    });
    desk.screenshot(&out.join("scale-out-1-dashboard-on-b.png"));

    // A clinic renames its entry through the balancer; the coordinator approves; both
    // instances find the new name by a near search within 2 s.
    demo_login(&phone, &base, "clinic-admin@demo.renkei.example");
    phone.goto(&format!("{base}/institution"));
    phone.click("a[data-testid=edit-entry]");
    phone.wait_for_url("the edit form", |u| u.ends_with("/edit"));
    let old_name = phone
        .execute("return document.querySelector('input[name=name]').value;")
        .as_str()
        .unwrap()
        .to_owned();
    let new_name = format!("{old_name}（拡張確認）");
    phone.clear_and_type("input[name=name]", &new_name);
    phone.click("form button[type=submit].button");
    phone.wait_for_url("the confirmation", |u| {
        !u.ends_with("/edit") || phone.source().contains("変更を申請しました")
    });
    desk.goto(&format!("{base}/hub/changes"));
    desk.wait_for("form[action$='/approve'] button[type=submit]");
    desk.click("form[action$='/approve'] button[type=submit]");
    desk.wait_for_url("the approval", |u| {
        u.ends_with("/hub/changes") && !desk.source().contains("/approve\"")
    });
    let near = "/api/v1/directory/near?lat=34.6265&lng=135.6010&km=50&limit=500";
    for port in [a.port, b.port] {
        renkei_testkit::wait::for_condition(
            &format!("the approved name to be found by a near search on :{port}"),
            || common::http_get(port, near).is_some_and(|(_, body)| body.contains(&new_name)),
        );
    }
    drop(phone);
    drop(desk);
    let _ = lb.kill();
    let _ = lb.wait();
    a.terminate();
    b.terminate();
    runtime.block_on(renkei_testkit::drop_database(&db.name));
}
