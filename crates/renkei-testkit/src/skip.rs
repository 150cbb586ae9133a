//! Skipping a test whose outside tool (PostgreSQL, Chromium, LibreOffice, nginx, the FHIR
//! validator) is missing: allowed only outside CI, only when asked for by name, and never
//! silent.
//!
//! A skip is written straight to the process's standard error (libtest captures `eprintln!`,
//! so a skipped test would otherwise read "ok"), and appended to the file named by
//! `RENKEI_TEST_SKIP_LOG`, which `tools/test.sh` prints in its summary at the end.

use std::io::Write;

/// Whether the tests run in CI: `CI` set to any value. In CI nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// Whether `what` may be skipped because `why`: only outside CI and only when the variable
/// `opt_in` is `1`. A skip that is allowed is reported (see the module's documentation); the
/// caller fails the test when this answers `false`.
pub fn allowed(what: &str, opt_in: &str, why: &str) -> bool {
    if in_ci() || std::env::var(opt_in).as_deref() != Ok("1") {
        return false;
    }
    report(&format!("SKIPPED {what} ({opt_in}=1): {why}"));
    true
}

/// Writes `line` to standard error past libtest's capture and to the skip log, if one is set.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
    if let Some(path) = std::env::var_os("RENKEI_TEST_SKIP_LOG") {
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(file, "{line}");
        }
    }
}
