//! The FHIR test client shared by the FHIR tests: requests through the real router, every
//! document received kept for the independent R4 validator, and the demo directory loaded.

#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use renkei_domain::accounts::Email;
use renkei_domain::region::RegionDefinition;
use renkei_domain::{demo, towns};
use renkei_testkit::TestDb;
use renkei_web::{router, AppState, WebConfig};
use serde_json::Value;
use std::sync::Mutex;
use tower::ServiceExt;

use super::fhir_validator::validate;

pub const BASE: &str = "http://127.0.0.1:8080/fhir";
/// The canonical base of identifier and code systems (the default: none configured).
pub const CANONICAL: &str = "https://renkei.example/fhir";

/// Every FHIR document received, validated together at the end of each test.
pub struct Client {
    pub app: Router,
    pub state: AppState,
    pub seen: Mutex<Vec<Value>>,
}

impl Client {
    pub async fn get_with(&self, uri: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
        let mut request = Request::builder().uri(uri);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let media = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(media, "application/fhir+json; charset=utf-8", "{uri}");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json: Value = serde_json::from_slice(&bytes).unwrap();
        self.seen.lock().unwrap().push(json.clone());
        (status, json)
    }

    pub async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.get_with(uri, &[]).await
    }

    /// A search that must succeed: the Bundle.
    pub async fn bundle(&self, uri: &str) -> Value {
        let (status, json) = self.get(uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {json}");
        assert_eq!(json["resourceType"], "Bundle", "{uri}");
        json
    }

    /// Follows `next` links from `uri`; every entry of every page.
    pub async fn all_pages(&self, uri: &str) -> Vec<Value> {
        let mut entries = Vec::new();
        let mut next = Some(uri.to_owned());
        let mut pages = 0;
        while let Some(url) = next {
            pages += 1;
            assert!(pages < 200, "paging does not end");
            let b = self.bundle(&url).await;
            entries.extend(b["entry"].as_array().cloned().unwrap_or_default());
            next = b["link"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["relation"] == "next")
                .map(|l| {
                    l["url"]
                        .as_str()
                        .unwrap()
                        .strip_prefix("http://127.0.0.1:8080")
                        .unwrap()
                        .to_owned()
                });
        }
        entries
    }

    /// Hands everything received to the independent validator.
    pub fn validate_all(&self) {
        let seen = self.seen.lock().unwrap().clone();
        validate(&seen).unwrap_or_else(|report| panic!("invalid FHIR R4:\n{report}"));
    }
}

pub fn ids(entries: &[Value], mode: &str) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e["search"]["mode"] == mode)
        .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
        .collect()
}

pub async fn demo_client(db: &TestDb) -> Client {
    let region = RegionDefinition::nakakawachi();
    db.store
        .ensure_region(&region, &towns::towns().unwrap())
        .await
        .unwrap();
    let all = demo::institutions(
        &region,
        &towns::towns().unwrap(),
        &towns::postcodes().unwrap(),
    )
    .unwrap();
    db.store.insert_institutions(&all).await.unwrap();
    let state = AppState::new(db.store.clone(), WebConfig::default());
    Client {
        app: router(state.clone()),
        state,
        seen: Mutex::new(Vec::new()),
    }
}

/// Approves a change of `id` that gives it a 医療機関コード and a contact desk; returns the
/// approval's change id.
pub async fn approve_code(db: &TestDb, id: i64, code: &str) -> i64 {
    let email = Email::parse(&format!("coordinator-{code}@example.jp")).unwrap();
    let user = db
        .store
        .create_user(&email, "調整 花子", None)
        .await
        .unwrap();
    let mut fields = db.store.public_fields(id).await.unwrap().unwrap();
    fields.details.medical_code = Some(code.to_owned());
    fields.details.contact_person = Some("地域連携室".to_owned());
    let change = db.store.propose_change(id, user, &fields).await.unwrap();
    assert!(db.store.approve_change(change, user).await.unwrap());
    change
}
