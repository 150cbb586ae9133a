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

/// Validates FHIR XML documents (each a whole answer: a resource or a Bundle) and returns them
/// read back into the JSON form by the validator — which checks on the way the namespace, the
/// element names and their definition order, attributes and repeats — so that a test can
/// compare them with the JSON answers. Without the validator (skipped outside CI): `None`.
pub fn validate_xml(documents: &[String]) -> Result<Option<Vec<Value>>, String> {
    let Some(python) = validator_python() else {
        return Ok(None);
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("answers.xml");
    let mut all = String::from("<documents>");
    for d in documents {
        let body = d
            .trim_start()
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
            .expect("every answer starts with the XML declaration");
        all.push_str(body);
    }
    all.push_str("</documents>");
    std::fs::write(&file, all).unwrap();
    let out = std::process::Command::new(python)
        .arg(workspace().join("tools/fhir-validate/validate.py"))
        .arg("--print-json")
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let report = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    match out.status.code() {
        Some(0) => {
            let line = stdout
                .lines()
                .find(|l| l.starts_with('['))
                .expect("the documents as JSON");
            Ok(Some(serde_json::from_str(line).unwrap()))
        }
        Some(1) => Err(report),
        other => panic!("the FHIR validator could not run (exit {other:?}): {report}"),
    }
}
