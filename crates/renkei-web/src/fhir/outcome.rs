//! Errors as FHIR `OperationOutcome`s with the right HTTP status; the diagnostics say in
//! Japanese and English what was wrong and how to fix it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A request the FHIR API cannot answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// HTTP status.
    pub status: StatusCode,
    /// FHIR issue type (`invalid`, `not-found`, `not-supported`, `exception`).
    pub code: &'static str,
    /// What went wrong, for people.
    pub diagnostics: String,
}

impl Problem {
    /// A malformed parameter value (400).
    pub fn invalid(diagnostics: &str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid",
            diagnostics: diagnostics.to_owned(),
        }
    }

    /// Something we do not do (400).
    pub fn not_supported(diagnostics: &str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "not-supported",
            diagnostics: diagnostics.to_owned(),
        }
    }

    /// A format other than JSON and XML (406).
    pub fn not_acceptable(format: &str) -> Self {
        Self {
            status: StatusCode::NOT_ACCEPTABLE,
            code: "not-supported",
            diagnostics: format!(
                "形式「{format}」には対応していません。JSON（application/fhir+json）と XML（application/fhir+xml）だけです / format {format} is not supported; only JSON (application/fhir+json) and XML (application/fhir+xml)"
            ),
        }
    }

    /// No such resource (404).
    pub fn not_found(kind: &str, id: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "not-found",
            diagnostics: format!("{kind}/{id} はありません / {kind}/{id} is not known"),
        }
    }

    /// No such resource type (404).
    pub fn unknown_type(kind: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "not-supported",
            diagnostics: format!(
                "リソース型「{kind}」はありません。/fhir/metadata に一覧があります / resource type {kind} is not served; see /fhir/metadata"
            ),
        }
    }

    /// The database failed (500; details go to the log, not to the client).
    pub fn internal() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "exception",
            diagnostics: "内部エラーが発生しました。時間をおいて再度お試しください / internal error; please try again later".to_owned(),
        }
    }

    /// The OperationOutcome resource.
    pub fn outcome(&self) -> serde_json::Value {
        let severity = if self.status.is_server_error() {
            "fatal"
        } else {
            "error"
        };
        json!({
            "resourceType": "OperationOutcome",
            "issue": [{ "severity": severity, "code": self.code, "diagnostics": self.diagnostics }]
        })
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        super::fhir_json(self.status, &self.outcome())
    }
}
