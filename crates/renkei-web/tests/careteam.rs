//! Care-team sharing through the router on SQLite and PostgreSQL: the access matrix (the
//! registering doctor, a nurse of another institution before and after consent, a colleague of
//! hers not on the team, a stranger, a removed member, one who left her institution, a hub
//! coordinator without and with break-glass), consent exclusions and withdrawal, every read in
//! the audit chain, script in a post escaped.

mod common;

use axum::http::StatusCode;
use common::*;
use renkei_domain::accounts::AccountRole;
use renkei_store::audit::AuditFilter;
use renkei_testkit::{both_backends, TestDb};

fn patient_form() -> Vec<(&'static str, String)> {
    vec![
        ("profession", "doctor".into()),
        ("name", "河内 花子".into()),
        ("kana", "カワチ ハナコ".into()),
        ("birth_date", "昭和13年4月2日".into()),
        ("sex", "female".into()),
        ("address", "八尾市本町1-2-3".into()),
        ("needs", "oxygen".into()),
        ("contact_name", "河内 一郎".into()),
        ("contact_relation", "長男".into()),
        ("contact_phone", "090-0000-0000".into()),
    ]
}

async fn audit_of(w: &World, patient: i64, outcome: &str) -> usize {
    w.store
        .audit_entries(&AuditFilter {
            action_prefix: Some("careteam.read".into()),
            outcome: Some(outcome.into()),
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .iter()
        .filter(|e| e.target.starts_with(&format!("patient:{patient} ")))
        .count()
}

async fn only_the_team_sees_a_patient_and_every_read_is_audited(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let clinic = located(&w, "clinic", &["yao"]).await.remove(0);
    let station = located(&w, "visiting_nurse_station", &["yao"])
        .await
        .remove(0);
    let elsewhere = located(&w, "pharmacy", &["yao"]).await.remove(0);
    for (who, institution, name) in [
        ("doc@ct.example.jp", clinic.id, clinic.name.as_str()),
        ("nurse@ct.example.jp", station.id, station.name.as_str()),
        ("colleague@ct.example.jp", station.id, station.name.as_str()),
        (
            "stranger@ct.example.jp",
            elsewhere.id,
            elsewhere.name.as_str(),
        ),
    ] {
        member_of(
            &w,
            institution,
            name,
            who,
            who,
            AccountRole::InstitutionStaff,
        )
        .await;
    }
    let mut doc = w.login("doc@ct.example.jp").await;

    // Registration: bad input named, then the patient.
    let mut bad = patient_form();
    bad[2] = ("kana", "かわち はなこ".into());
    let refused = doc.post("/patients/new", "/patients/new", bad).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("カタカナ"));
    let registered = doc
        .post("/patients/new", "/patients/new", patient_form())
        .await;
    assert_eq!(
        registered.status,
        StatusCode::SEE_OTHER,
        "{}",
        registered.body
    );
    let id: i64 = registered
        .location()
        .trim_start_matches("/patients/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let url = format!("/patients/{id}");
    let page = doc.get(&url).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("河内 花子") && page.body.contains("data-in-force=\"false\""));
    assert!(doc.get("/patients").await.body.contains("河内 花子"));
    // The disaster baseline counts her among the power-dependent patients (oxygen).
    let baseline = doc
        .get(&format!("/institutions/{}/readiness", clinic.id))
        .await;
    assert!(
        baseline
            .body
            .contains("data-testid=\"registered-dependent\""),
        "{}",
        baseline.body
    );

    // The doctor invites the nurse from the station.
    let staff = doc.get(&format!("{url}?invite={}", station.id)).await;
    assert!(
        staff.body.contains("data-testid=\"invite-form\""),
        "{}",
        staff.body
    );
    let nurse_id = w
        .store
        .institution_staff(station.id)
        .await
        .unwrap()
        .into_iter()
        .find(|(_, n)| n == "nurse@ct.example.jp")
        .unwrap()
        .0;
    let invited = doc
        .post(
            &url,
            &format!("{url}/team"),
            vec![
                ("institution", station.id.to_string()),
                ("user", nurse_id.to_string()),
                ("profession", "nurse".into()),
            ],
        )
        .await;
    assert_eq!(invited.status, StatusCode::SEE_OTHER, "{}", invited.body);

    // Before consent the nurse sees nothing: the same 404 as for no patient at all.
    let mut nurse = w.login("nurse@ct.example.jp").await;
    assert_eq!(nurse.get(&url).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        nurse.get("/patients/999999").await.status,
        StatusCode::NOT_FOUND
    );
    assert!(!nurse.get("/patients?q=カワチ").await.body.contains("河内"));

    // Consent recorded: she sees the patient and posts vitals; the doctor sees the chart.
    let consent = vec![
        ("consenter", "patient".to_owned()),
        ("given_on", "2026-11-25".into()),
    ];
    let recorded = doc
        .post(&url, &format!("{url}/consent"), consent.clone())
        .await;
    assert_eq!(recorded.status, StatusCode::SEE_OTHER, "{}", recorded.body);
    assert_eq!(nurse.get(&url).await.status, StatusCode::OK);
    let posted = nurse
        .post(
            &url,
            &format!("{url}/posts"),
            vec![
                ("body", "訪問。<script>alert(1)</script> 呼吸苦なし".into()),
                ("systolic", "１２８".into()),
                ("diastolic", "76".into()),
                ("pulse", "88".into()),
                ("spo2", "93%".into()),
                ("temperature", "37.2".into()),
                ("urgent", "1".into()),
            ],
        )
        .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.body);
    let impossible = nurse
        .post(&url, &format!("{url}/posts"), vec![("spo2", "120".into())])
        .await;
    assert_eq!(impossible.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(impossible.body.contains("SpO2"));
    // The record as FHIR R4, valid to an independent validator, with the vitals as LOINC.
    let exported = doc.get(&format!("{url}/fhir.json")).await;
    assert_eq!(exported.status, StatusCode::OK);
    let bundle: serde_json::Value = serde_json::from_str(&exported.body).unwrap();
    let kinds: Vec<&str> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["resourceType"].as_str().unwrap())
        .collect();
    for kind in [
        "Patient",
        "CareTeam",
        "Consent",
        "Communication",
        "Observation",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert!(exported.body.contains("\"59408-5\"") && exported.body.contains("\"8480-6\""));
    common::fhir_validator::validate(&[bundle])
        .unwrap_or_else(|report| panic!("invalid FHIR R4:\n{report}"));
    // The printable summary carries the vitals and the notes.
    let sheet = doc.get(&format!("{url}/summary")).await;
    assert_eq!(sheet.status, StatusCode::OK);
    assert!(sheet.body.contains("data-testid=\"patient-summary\""));
    assert!(sheet.body.contains("SpO2 93%") && sheet.body.contains("呼吸苦なし"));
    let seen = doc.get(&url).await;
    assert!(seen.body.contains("data-testid=\"chart-spo2\""));
    assert!(seen.body.contains("SpO2 93%"));
    // Script in a post is text: escaped, never markup.
    assert!(seen.body.contains("script&#62;alert(1)"), "escaped");
    assert!(!seen.body.contains("<script>alert"));
    assert!(seen.body.contains("既読"));

    // Not on the team: her colleague, a stranger, the hub coordinator (without breaking glass).
    let mut colleague = w.login("colleague@ct.example.jp").await;
    assert_eq!(colleague.get(&url).await.status, StatusCode::NOT_FOUND);
    let mut stranger = w.login("stranger@ct.example.jp").await;
    assert_eq!(stranger.get(&url).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        stranger
            .post(
                "/patients",
                &format!("{url}/posts"),
                vec![("body", "x".into())]
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    assert_eq!(coordinator.get(&url).await.status, StatusCode::NOT_FOUND);

    // Exclusion of nurses: she loses access; consent without it: she has it again.
    let mut excluding = consent.clone();
    excluding.push(("exclude_profession", "nurse".into()));
    doc.post(&url, &format!("{url}/consent"), excluding).await;
    assert_eq!(nurse.get(&url).await.status, StatusCode::NOT_FOUND);
    doc.post(&url, &format!("{url}/consent"), consent.clone())
        .await;
    assert_eq!(nurse.get(&url).await.status, StatusCode::OK);
    // Withdrawal ends it at once; the registering doctor keeps it.
    let withdrawn = doc
        .post(&url, &format!("{url}/consent/withdraw"), vec![])
        .await;
    assert_eq!(withdrawn.status, StatusCode::SEE_OTHER);
    assert_eq!(nurse.get(&url).await.status, StatusCode::NOT_FOUND);
    assert_eq!(doc.get(&url).await.status, StatusCode::OK);
    doc.post(&url, &format!("{url}/consent"), consent.clone())
        .await;
    assert_eq!(nurse.get(&url).await.status, StatusCode::OK);

    // She leaves the station: her old session sees nothing more.
    let org = w
        .store
        .ensure_organisation(
            renkei_domain::accounts::OrganisationKind::Institution,
            &station.name,
            None,
            Some(station.id),
        )
        .await
        .unwrap();
    let nurse_user = renkei_domain::accounts::UserId(nurse_id);
    w.store
        .remove_membership(nurse_user, org, AccountRole::InstitutionStaff)
        .await
        .unwrap();
    assert_ne!(nurse.get(&url).await.status, StatusCode::OK);
    w.store
        .add_membership(nurse_user, org, AccountRole::InstitutionStaff)
        .await
        .unwrap();
    let mut nurse = w.login("nurse@ct.example.jp").await;
    assert_eq!(
        nurse.get(&url).await.status,
        StatusCode::OK,
        "back at the station"
    );
    // Removed from the team: no access, at once.
    let member = w
        .store
        .team(id)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.user_id == nurse_id)
        .unwrap()
        .id;
    let removed = doc
        .post(&url, &format!("{url}/team/{member}/remove"), vec![])
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert_eq!(nurse.get(&url).await.status, StatusCode::NOT_FOUND);
    // Only the registering institution manages the team.
    assert_eq!(
        nurse
            .post(&url, &format!("{url}/consent/withdraw"), vec![])
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Break-glass: a reason is required; with one, the coordinator reads, flagged for review.
    let search = coordinator
        .post(
            "/hub/patients",
            "/hub/patients",
            vec![
                ("reason", "".into()),
                ("name", "河内".into()),
                ("born", "1938-04-02".into()),
            ],
        )
        .await;
    assert_eq!(search.status, StatusCode::UNPROCESSABLE_ENTITY);
    let search = coordinator
        .post(
            "/hub/patients",
            "/hub/patients",
            vec![
                ("reason", "地震で安否と電源の確認が必要".into()),
                ("name", "河内".into()),
                ("born", "1938-04-02".into()),
            ],
        )
        .await;
    assert!(
        search.body.contains("data-testid=\"glass-results\""),
        "{}",
        search.body
    );
    let wrong_birthday = coordinator
        .post(
            "/hub/patients",
            "/hub/patients",
            vec![
                ("reason", "地震で安否と電源の確認が必要".into()),
                ("name", "河内".into()),
                ("born", "1938-04-03".into()),
            ],
        )
        .await;
    assert!(
        !wrong_birthday.body.contains("glass-results"),
        "name alone finds nobody"
    );
    // M2 of the security probe: opening by id alone with 「aaaa」 worked. Now the patient must
    // be the one found by name and date of birth, the reason a sentence, and an id that does
    // not match, an unknown id and a short reason all answer the same "not found".
    let glass_form = |reason: &str, name: &str, born: &str| {
        vec![
            ("reason", reason.to_owned()),
            ("name", name.to_owned()),
            ("born", born.to_owned()),
        ]
    };
    for (target, fields) in [
        (url.clone(), glass_form("aaaa", "", "")),
        (
            url.clone(),
            glass_form("地震で安否と電源の確認が必要", "", ""),
        ),
        (url.clone(), glass_form("aaaa", "河内", "1938-04-02")),
        (
            url.clone(),
            glass_form("地震で安否と電源の確認が必要", "河内", "1938-04-03"),
        ),
        (
            "/patients/999999".to_owned(),
            glass_form("地震で安否と電源の確認が必要", "河内", "1938-04-02"),
        ),
    ] {
        let refused = coordinator
            .post("/hub/patients", &format!("{target}/break-glass"), fields)
            .await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{target}");
    }
    assert_eq!(coordinator.get(&url).await.status, StatusCode::NOT_FOUND);
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE institutions SET contact_email = 'clinic@ct.example.jp' WHERE id = $1")
        .bind(clinic.id)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let opened = coordinator
        .post(
            "/hub/patients",
            &format!("{url}/break-glass"),
            glass_form("地震で安否と電源の確認が必要", "河内", "1938-04-02"),
        )
        .await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER);
    let notice = w
        .store
        .recent_mails(20)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.to_address == "clinic@ct.example.jp")
        .expect("the registering institution is told at once");
    assert!(
        notice.body.contains("緊急に閲覧") && notice.body.contains("地震で安否と電源の確認が必要"),
        "{}",
        notice.body
    );
    assert!(
        !notice.body.contains("河内"),
        "the mail does not name the patient"
    );
    let glass = coordinator.get(&url).await;
    assert_eq!(glass.status, StatusCode::OK);
    assert!(glass.body.contains("data-testid=\"break-glass-banner\""));
    assert!(
        !glass.body.contains("data-testid=\"post-form\""),
        "reads only"
    );
    assert!(coordinator
        .get("/hub/patients")
        .await
        .body
        .contains("地震で安否と電源の確認が必要"));
    // Another coordinator of the area marks it reviewed (never the one who opened it); it
    // leaves the list.
    let review = w
        .store
        .break_glass_to_review(&["yao".to_owned()])
        .await
        .unwrap();
    assert_eq!(review.len(), 1);
    let own = coordinator
        .post(
            "/hub/patients",
            &format!("/hub/patients/review/{}", review[0].0),
            vec![],
        )
        .await;
    assert_eq!(
        own.status,
        StatusCode::NOT_FOUND,
        "no review of one's own access"
    );
    assert!(coordinator
        .get("/hub/patients")
        .await
        .body
        .contains("data-testid=\"own-glass\""));
    let hub = w
        .store
        .ensure_organisation(
            renkei_domain::accounts::OrganisationKind::Hub,
            "八尾市医師会",
            Some("yao"),
            None,
        )
        .await
        .unwrap();
    let colleague = w
        .store
        .create_user(
            &renkei_domain::accounts::Email::parse("colleague-hub@ct.example.jp").unwrap(),
            "八尾 次郎",
            Some(&renkei_web::auth::secrets::hash_password(PASSWORD).unwrap()),
        )
        .await
        .unwrap();
    w.store
        .add_membership(colleague, hub, AccountRole::HubCoordinator)
        .await
        .unwrap();
    w.store
        .set_pending_totp(colleague, &renkei_domain::totp::base32_encode(SECRET))
        .await
        .unwrap();
    w.store.confirm_totp(colleague, 0, &[]).await.unwrap();
    let mut other_coordinator = w.login("colleague-hub@ct.example.jp").await;
    let reviewed = other_coordinator
        .post(
            "/hub/patients",
            &format!("/hub/patients/review/{}", review[0].0),
            vec![],
        )
        .await;
    assert_eq!(reviewed.status, StatusCode::SEE_OTHER);
    assert!(w
        .store
        .break_glass_to_review(&["yao".to_owned()])
        .await
        .unwrap()
        .is_empty());
    // An hour later it is closed again.
    w.clock.advance(chrono::Duration::minutes(61));
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    assert_eq!(coordinator.get(&url).await.status, StatusCode::NOT_FOUND);

    // Every read went to the audit chain, allowed or refused.
    assert!(audit_of(&w, id, "ok").await >= 8);
    assert!(audit_of(&w, id, "denied").await >= 8);
    let glass_reads = w
        .store
        .audit_entries(&AuditFilter {
            action_prefix: Some("careteam.read".into()),
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .iter()
        .filter(|e| e.target == format!("patient:{id} break_glass"))
        .count();
    assert_eq!(glass_reads, 1);
    assert!(w.store.verify_audit().await.unwrap().first_broken.is_none());
    // The registering doctor downloads the reads as IHE BALP AuditEvents (valid FHIR R4): the
    // break-glass read says BTG; the nurse cannot download them.
    let mut doc = w.login("doc@ct.example.jp").await;
    let evidence = doc.get(&format!("{url}/audit.json")).await;
    assert_eq!(evidence.status, StatusCode::OK);
    let events: serde_json::Value = serde_json::from_str(&evidence.body).unwrap();
    let entries = events["entry"].as_array().unwrap();
    assert!(entries.len() >= 16, "{}", entries.len());
    assert!(evidence.body.contains("\"BTG\"") && evidence.body.contains("\"TREAT\""));
    common::fhir_validator::validate(&[events])
        .unwrap_or_else(|report| panic!("invalid FHIR R4:\n{report}"));
    let mut nurse = w.login("nurse@ct.example.jp").await;
    assert_eq!(
        nurse.get(&format!("{url}/audit.json")).await.status,
        StatusCode::NOT_FOUND,
        "removed from the team"
    );
}

both_backends!(only_the_team_sees_a_patient_and_every_read_is_audited);
