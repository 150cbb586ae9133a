//! The prefecture report's workbook opened by LibreOffice (headless), as the prefecture's staff
//! would open it: it converts to PDF on A4 landscape, each hub's sheet on its own page(s), with
//! the Japanese text intact. The PDF is kept in `test-artifacts/` for a person to look at.
//!
//! LibreOffice and poppler must be installed (`apt-get install libreoffice-calc-nogui
//! poppler-utils`; `.ci/run` does it); without them the test fails, in CI always, locally
//! unless `RENKEI_TEST_SKIP_OFFICE=1` is set.

mod common;

use common::renkei;
use std::path::Path;
use std::process::Command;

fn office_available() -> bool {
    // soffice without Calc (libsclo) exits 0 having converted a workbook into nothing.
    let found = [
        "/usr/bin/soffice",
        "/usr/lib/libreoffice/program/libsclo.so",
        "/usr/bin/pdftotext",
        "/usr/bin/pdfinfo",
    ]
    .iter()
    .all(|p| Path::new(p).exists());
    if found {
        return true;
    }
    if renkei_testkit::skip::allowed(
        "office test",
        "RENKEI_TEST_SKIP_OFFICE",
        "LibreOffice or poppler not found",
    ) {
        return false;
    }
    panic!("LibreOffice or poppler not found: apt-get install libreoffice-calc-nogui poppler-utils (or, outside CI, RENKEI_TEST_SKIP_OFFICE=1)");
}

fn text_of(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_report_workbook_opens_in_libreoffice_and_prints_on_a4_landscape() {
    if !office_available() {
        return;
    }
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
    run(&[
        "report",
        "--fy",
        "2025",
        "--format",
        "xlsx",
        "--out",
        "report.xlsx",
    ]);
    let profile = dir.path().join("lo-profile");
    let converted = Command::new("soffice")
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.display()
        ))
        .args(["--headless", "--convert-to", "pdf", "--outdir"])
        .arg(dir.path())
        .arg(dir.path().join("report.xlsx"))
        .output()
        .unwrap();
    assert!(
        converted.status.success(),
        "{}",
        String::from_utf8_lossy(&converted.stderr)
    );
    let pdf = dir.path().join("report.pdf");
    assert!(
        pdf.exists(),
        "LibreOffice made no PDF (is Calc installed? apt-get install libreoffice-calc-nogui): {}",
        String::from_utf8_lossy(&converted.stdout)
    );
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::copy(&pdf, artifacts.join("report-fy2025-libreoffice.pdf")).unwrap();

    let info = text_of(Command::new("pdfinfo").arg(&pdf).output().unwrap());
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap();
    assert!((5..=15).contains(&pages), "a page or two per hub: {pages}");
    assert!(
        info.contains("841.8") && info.contains("x 595.3"),
        "A4 landscape: {info}"
    );
    let text: String = text_of(
        Command::new("pdftotext")
            .arg("-raw")
            .arg(&pdf)
            .arg("-")
            .output()
            .unwrap(),
    )
    .chars()
    .filter(|c| !c.is_whitespace())
    .collect();
    for expected in [
        "資料2-1",
        "資料2-3",
        "資料2-5",
        "資料2-7",
        "資料2-9",
        "三医師会合同災害対策会議（令和6年6月から10回開催）",
        "積極的医療機関7件における対応状況",
        "④災害時における医療提供のための計画策定現状対応可2件",
        "一社）柏原市医師会、市立柏原病院",
        "■積極的医療機関の取組について（任意）",
    ] {
        assert!(text.contains(expected), "「{expected}」 not in the PDF");
    }
    assert!(!text.contains("未入力"));
    // Every printed page is headed by its hub's 資料 number and name (the sheet's header), so
    // a page on its own can be told apart.
    common::assert_every_page_names_its_hub(&pdf, pages);
}
