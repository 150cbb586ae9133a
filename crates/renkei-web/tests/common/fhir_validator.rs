//! The independent FHIR R4 check of the tests: Python's `fhir.resources`, installed once into
//! `target/fhir-venv` by `tools/fhir-validate/ensure.sh`.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The validator's Python, installed once into `target/fhir-venv` by `ensure.sh`; `None` when
/// skipped explicitly outside CI.
pub fn validator_python() -> Option<PathBuf> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            if renkei_testkit::skip::allowed(
                "FHIR validation",
                "RENKEI_TEST_SKIP_FHIR_VALIDATOR",
                "asked for",
            ) {
                return None;
            }
            let root = workspace();
            let out = std::process::Command::new(root.join("tools/fhir-validate/ensure.sh"))
                .arg(root.join("target/fhir-venv"))
                .output()
                .expect("tools/fhir-validate/ensure.sh runs");
            assert!(
                out.status.success(),
                "cannot install the FHIR validator (python3 with venv and pip, and PyPI, are needed; outside CI RENKEI_TEST_SKIP_FHIR_VALIDATOR=1 skips it): {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()))
        })
        .clone()
}

/// Validates the documents (resources or Bundles); the validator's report when a resource is
/// invalid (its exit status 1). A validator that cannot run (exit 2: unreadable input, 3: a
/// broken environment, or killed) fails the test here, so it can never pass for "invalid".
pub fn validate(documents: &[Value]) -> Result<(), String> {
    let Some(python) = validator_python() else {
        return Ok(());
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("resources.json");
    std::fs::write(&file, Value::Array(documents.to_vec()).to_string()).unwrap();
    let out = std::process::Command::new(python)
        .arg(workspace().join("tools/fhir-validate/validate.py"))
        .arg(&file)
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    match out.status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(report),
        other => panic!("the FHIR validator could not run (exit {other:?}): {report}"),
    }
}
