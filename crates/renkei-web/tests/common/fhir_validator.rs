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
            let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            if !in_ci && std::env::var("RENKEI_TEST_SKIP_FHIR_VALIDATOR").is_ok_and(|v| v == "1") {
                eprintln!("FHIR validation SKIPPED (RENKEI_TEST_SKIP_FHIR_VALIDATOR=1)");
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

/// Validates the documents (resources or Bundles); the validator's report on failure.
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
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
