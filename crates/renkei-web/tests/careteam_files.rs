//! Care-team files, mentions and the 在宅医療情報連携加算 evidence through the router on SQLite
//! and PostgreSQL: a photo and a signed consent form go in by multipart, are sealed at rest
//! (the database never holds the bytes as sent) and come out only to the team; a faked type, an
//! oversized body and too many files are refused and audited; a mention reaches the member by
//! badge and mail (without the patient's name); the physician's visit record and reading of a
//! nurse's post make the month's evidence, with the partner count and 特別の関係.

mod common;

use axum::http::StatusCode;
use common::*;
use renkei_domain::accounts::AccountRole;
use renkei_store::audit::AuditFilter;
use renkei_testkit::{both_backends, TestDb};
use sqlx::{AnyConnection, Connection, Row};

/// A small but real PNG (1×1).
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\0\x05\0\x01\xff\x89\x99=\x1d\0\0\0\0IEND\xaeB`\x82";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";

struct Team {
    w: World,
    url: String,
    id: i64,
    doc: Browser,
    nurse: Browser,
    clinic: i64,
    station: i64,
    doc_id: i64,
}

async fn count_audit(w: &World, action: &str) -> usize {
    w.store
        .audit_entries(&AuditFilter {
            action_prefix: Some(action.into()),
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .len()
}

/// The registering doctor invites `display` (staff of `institution`) as `profession`.
async fn invite(
    w: &World,
    doc: &mut Browser,
    url: &str,
    institution: i64,
    display: &str,
    profession: &str,
) {
    let user = w
        .store
        .institution_staff(institution)
        .await
        .unwrap()
        .into_iter()
        .find(|(_, n)| n == display)
        .expect("staff of the institution")
        .0;
    let invited = doc
        .post(
            url,
            &format!("{url}/team"),
            vec![
                ("institution", institution.to_string()),
                ("user", user.to_string()),
                ("profession", profession.into()),
            ],
        )
        .await;
    assert_eq!(invited.status, StatusCode::SEE_OTHER, "{}", invited.body);
}

/// A clinic doctor's patient with a visiting nurse of another institution on the team, and a
/// stranger (a pharmacy's staff) who is not.
async fn team(db: &TestDb) -> Team {
    let w = world_with_demo_directory(db).await;
    let clinic = located(&w, "clinic", &["yao"]).await.remove(0);
    let station = located(&w, "visiting_nurse_station", &["yao"])
        .await
        .remove(0);
    let elsewhere = located(&w, "pharmacy", &["yao"]).await.remove(0);
    for (who, institution, name) in [
        ("doc@files.example.jp", clinic.id, clinic.name.as_str()),
        ("nurse@files.example.jp", station.id, station.name.as_str()),
        (
            "stranger@files.example.jp",
            elsewhere.id,
            elsewhere.name.as_str(),
        ),
    ] {
        member_of(
            &w,
            institution,
            name,
            who,
            "訪問 太郎",
            AccountRole::InstitutionStaff,
        )
        .await;
    }
    let mut doc = w.login("doc@files.example.jp").await;
    let registered = doc
        .post(
            "/patients/new",
            "/patients/new",
            vec![
                ("profession", "doctor".into()),
                ("name", "八尾 春子".into()),
                ("kana", "ヤオ ハルコ".into()),
                ("birth_date", "1940-05-06".into()),
                ("sex", "female".into()),
                ("address", "八尾市本町2-3-4".into()),
                ("needs", "ventilator".into()),
            ],
        )
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
    invite(&w, &mut doc, &url, station.id, "訪問 太郎", "nurse").await;
    let doc_id = w
        .store
        .team(id)
        .await
        .unwrap()
        .iter()
        .find(|m| m.institution_id == clinic.id)
        .unwrap()
        .user_id;
    let nurse = w.login("nurse@files.example.jp").await;
    Team {
        w,
        url,
        id,
        doc,
        nurse,
        clinic: clinic.id,
        station: station.id,
        doc_id,
    }
}

async fn files_are_sealed_checked_by_content_and_only_for_the_team(db: TestDb) {
    let Team {
        w,
        url,
        id,
        mut doc,
        mut nurse,
        ..
    } = team(&db).await;

    // The consent with the signed form (a PDF), sent as the browser's form sends it.
    let consented = doc
        .multipart(
            &url,
            &format!("{url}/consent"),
            vec![
                ("consenter", "patient".into()),
                ("given_on", "2026-11-20".into()),
            ],
            vec![("consent_form", "同意書（署名済）.pdf", PDF)],
        )
        .await;
    assert_eq!(
        consented.status,
        StatusCode::SEE_OTHER,
        "{}",
        consented.body
    );
    let page = doc.get(&url).await.body;
    assert!(page.contains("data-in-force=\"true\""), "{page}");
    assert!(page.contains("data-testid=\"consent-form-link\""), "{page}");
    let form_href = page
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|h| h.starts_with(&format!("{url}/files/")))
        .expect("a link to the consent form")
        .to_owned();
    let (status, headers, bytes) = doc.get_bytes(&form_href).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/pdf");
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(headers["cache-control"], "private, no-store");
    assert_eq!(bytes, PDF);

    // The nurse posts a photo with a note; it shows in the timeline and opens for both.
    let posted = nurse
        .multipart(
            &url,
            &format!("{url}/posts"),
            vec![("body", "褥瘡の写真です".into())],
            vec![("file", "IMG_0001.png", PNG), ("file", "", b"")],
        )
        .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.body);
    // A NUL in a multipart text field is refused plainly (PostgreSQL cannot store it).
    let nul = nurse
        .multipart(
            &url,
            &format!("{url}/posts"),
            vec![("body", "褥瘡\0の写真".into())],
            vec![("file", "IMG_0002.png", PNG)],
        )
        .await;
    assert!(nul.status.is_client_error(), "{}", nul.status);
    assert!(nul.body.contains("NUL"), "{}", nul.body);
    let timeline = doc.get(&url).await.body;
    assert!(
        timeline.contains("data-testid=\"post-files\""),
        "{timeline}"
    );
    let photo = timeline
        .split("<img src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the photo in the timeline")
        .to_owned();
    for who in [&mut doc, &mut nurse] {
        let (status, headers, bytes) = who.get_bytes(&photo).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "image/png");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(bytes, PNG);
    }

    // The FHIR record carries both files as Attachments, valid to an independent validator.
    let exported = doc.get(&format!("{url}/fhir.json")).await;
    assert_eq!(exported.status, StatusCode::OK);
    let bundle: serde_json::Value = serde_json::from_str(&exported.body).unwrap();
    let resources: Vec<&serde_json::Value> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .collect();
    let consent = resources
        .iter()
        .find(|r| r["resourceType"] == "Consent")
        .unwrap();
    assert_eq!(
        consent["sourceAttachment"]["contentType"],
        "application/pdf"
    );
    assert!(consent["sourceAttachment"]["url"]
        .as_str()
        .unwrap()
        .ends_with(&form_href));
    assert!(resources
        .iter()
        .any(|r| r["resourceType"] == "Communication"
            && r["payload"][1]["contentAttachment"]["contentType"] == "image/png"));
    common::fhir_validator::validate(std::slice::from_ref(&bundle))
        .unwrap_or_else(|report| panic!("invalid FHIR R4:\n{report}"));

    // At rest the bytes are sealed: the database does not hold the file as it was sent.
    let mut raw = AnyConnection::connect(&db.url).await.unwrap();
    let rows = sqlx::query("SELECT sealed, size FROM care_attachments ORDER BY id")
        .fetch_all(&mut raw)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    for (row, original) in rows.iter().zip([PDF, PNG]) {
        let sealed: Vec<u8> = row.try_get("sealed").unwrap();
        assert_eq!(
            row.try_get::<i64, _>("size").unwrap(),
            original.len() as i64
        );
        assert!(
            !sealed
                .windows(8)
                .any(|w| original.windows(8).any(|o| o == w)),
            "no 8 bytes of the original appear in the sealed column"
        );
    }
    raw.close().await.unwrap();

    // L3 of the security probe: a file is offered under the name of what it really is (a PDF
    // named 「検査結果.html」 downloads as 「検査結果.pdf」), and a file carrying a page or a
    // script, a PDF that runs JavaScript, or a PNG with something after its end is refused.
    let named = nurse
        .multipart(
            &url,
            &format!("{url}/posts"),
            vec![("body", "検査結果".into())],
            vec![("file", "検査結果.html", PDF)],
        )
        .await;
    assert_eq!(named.status, StatusCode::SEE_OTHER, "{}", named.body);
    let newest = doc
        .get(&url)
        .await
        .body
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .filter(|h| h.starts_with(&format!("{url}/files/")))
        .max_by_key(|h| h.rsplit('/').next().unwrap().parse::<i64>().unwrap_or(0))
        .unwrap()
        .to_owned();
    let (_, headers, _) = doc.get_bytes(&newest).await;
    let disposition = headers["content-disposition"].to_str().unwrap().to_owned();
    assert!(
        disposition.ends_with(".pdf") && !disposition.contains("html"),
        "{disposition}"
    );
    let mut png_with_zip = PNG.to_vec();
    png_with_zip.extend_from_slice(b"PK\x03\x04 a zip after the image");
    for (name, bytes) in [
        (
            "検査結果.pdf",
            b"%PDF-1.4\n<html><body><script>alert(1)</script></body></html>\n%%EOF\n".to_vec(),
        ),
        (
            "紹介状.pdf",
            b"%PDF-1.7\n1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >> endobj\n%%EOF\n"
                .to_vec(),
        ),
        ("IMG_0003.png", png_with_zip),
    ] {
        let refused = nurse
            .multipart(
                &url,
                &format!("{url}/posts"),
                vec![("body", "添付".into())],
                vec![("file", name, &bytes)],
            )
            .await;
        assert!(refused.status.is_client_error(), "{name}: {}", refused.status);
        assert!(refused.body.contains("受け付けられません"), "{name}: {}", refused.body);
    }

    // A stranger, a guessed number, another patient's file: the same 404, on record.
    let mut stranger = w.login("stranger@files.example.jp").await;
    assert_eq!(stranger.get_bytes(&photo).await.0, StatusCode::NOT_FOUND);
    let file_id = photo.rsplit('/').next().unwrap();
    assert_eq!(
        doc.get_bytes(&format!("/patients/{}/files/{file_id}", id + 1000))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        doc.get_bytes(&format!("{url}/files/999999")).await.0,
        StatusCode::NOT_FOUND
    );
    assert!(count_audit(&w, "careteam.file_read").await >= 4);

    // A script named as a photo: refused by content, the reason shown, on record.
    let before = count_audit(&w, "careteam.upload_refused").await;
    let faked = nurse
        .multipart(
            &url,
            &format!("{url}/posts"),
            vec![("body", "見てください".into())],
            vec![("file", "写真.jpg", b"<script>alert(1)</script>")],
        )
        .await;
    assert_eq!(faked.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        faked.body.contains("中身で確かめています"),
        "{}",
        faked.body
    );
    assert_eq!(count_audit(&w, "careteam.upload_refused").await, before + 1);
    // Four files at once: refused, with the limit named.
    let four = nurse
        .multipart(
            &url,
            &format!("{url}/posts"),
            Vec::new(),
            vec![
                ("file", "1.png", PNG),
                ("file", "2.png", PNG),
                ("file", "3.png", PNG),
                ("file", "4.png", PNG),
            ],
        )
        .await;
    assert_eq!(four.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(four.body.contains("3つまで"), "{}", four.body);
    // One file over 10 MB: refused with the size named.
    let mut big = PNG.to_vec();
    big.resize(11 * 1024 * 1024, 0);
    let large = nurse
        .multipart(
            &url,
            &format!("{url}/posts"),
            Vec::new(),
            vec![("file", "big.png", &big)],
        )
        .await;
    assert_eq!(large.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(large.body.contains("10 MB"), "{}", large.body);
    // A body past every limit: cut off before it is read, on record.
    let huge = vec![0u8; 31 * 1024 * 1024];
    let cut = nurse
        .multipart(
            &url,
            &format!("{url}/posts"),
            Vec::new(),
            vec![("file", "huge.png", &huge)],
        )
        .await;
    assert_eq!(cut.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(count_audit(&w, "request.too_large").await >= 1);
    // Nothing of the refused posts was kept (the photo's post and the test result's remain).
    assert_eq!(w.store.posts(id, None, "", 50).await.unwrap().len(), 2);

    // The nurse is removed: her old session opens the photo no more.
    let member = w
        .store
        .team(id)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.profession == renkei_domain::careteam::Profession::Nurse)
        .unwrap();
    let removed = doc
        .post(
            &url,
            &format!("{url}/team/{}/remove", member.id),
            Vec::new(),
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert_eq!(nurse.get_bytes(&photo).await.0, StatusCode::NOT_FOUND);
}

async fn a_mention_reaches_the_member_by_badge_and_mail_without_the_patients_name(db: TestDb) {
    let Team {
        w,
        url,
        mut doc,
        mut nurse,
        doc_id,
        ..
    } = team(&db).await;
    doc.post(
        &url,
        &format!("{url}/consent"),
        vec![
            ("consenter", "patient".into()),
            ("given_on", "2026-11-20".into()),
        ],
    )
    .await;
    let posted = nurse
        .post(
            &url,
            &format!("{url}/posts"),
            vec![
                (
                    "body",
                    "夜間に痰が増えています。サクションの回数について指示をください".into(),
                ),
                ("mention", doc_id.to_string()),
                // Someone not on the team is ignored.
                ("mention", "999999".into()),
            ],
        )
        .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.body);
    let list = doc.get("/patients").await.body;
    assert!(list.contains("data-testid=\"mention-count\""), "{list}");
    assert!(
        list.contains("data-testid=\"nav-waiting\""),
        "the badge in the navigation"
    );
    let mails = w.store.recent_mails(10).await.unwrap();
    let mail = mails
        .iter()
        .find(|m| m.to_address == "doc@files.example.jp")
        .expect("a mail to the doctor");
    assert!(mail.body.contains(&url), "{}", mail.body);
    assert!(!mail.body.contains("八尾 春子") && !mail.subject.contains("八尾"));
    assert!(!mail.body.contains("痰"), "nothing of the post in the mail");
    assert_eq!(mails.len(), 1, "one mail: nobody outside the team");
    // The page shows whom it was for; opening it clears the badge.
    let page = doc.get(&url).await.body;
    assert!(page.contains("宛先"), "{page}");
    assert!(
        !page.contains("data-testid=\"nav-waiting\""),
        "the badge is gone on the page that showed the post"
    );
    assert!(!doc.get("/patients").await.body.contains("mention-count"));
    // Search within the patient folds width and kana: half-width and hiragana find it.
    for q in ["ｻｸｼｮﾝ", "さくしょん", "サクション"] {
        let found = doc.get(&format!("{url}?q={}", urlencode(q))).await.body;
        assert!(found.contains("痰が増えて"), "{q}: {found}");
    }
    let none = doc
        .get(&format!("{url}?q={}", urlencode("褥瘡")))
        .await
        .body;
    assert!(!none.contains("痰が増えて"));
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("q", text)]).unwrap()[2..].to_owned()
}

async fn the_evidence_for_the_ict_fee_comes_from_the_timeline(db: TestDb) {
    let Team {
        w,
        url,
        id,
        mut doc,
        mut nurse,
        clinic,
        station,
        ..
    } = team(&db).await;
    let evidence = format!("/institutions/{clinic}/ict-evidence?month=2026-11");
    // Before consent nobody shares: no partner.
    let page = doc.get(&evidence).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("data-counted=\"0\""), "{}", page.body);
    let consented = doc
        .post(
            &url,
            &format!("{url}/consent"),
            vec![
                ("consenter", "patient".into()),
                ("given_on", "2026-11-20".into()),
            ],
        )
        .await;
    assert_eq!(
        consented.status,
        StatusCode::SEE_OTHER,
        "{}",
        consented.body
    );
    // The visit record: refused without the plan answer, then kept.
    let incomplete = doc
        .post(
            &url,
            &format!("{url}/posts"),
            vec![("next_visit_on", "2026-12-01".into())],
        )
        .await;
    assert_eq!(incomplete.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(incomplete.body.contains("変更の有無"));
    let visit = doc
        .post(
            &url,
            &format!("{url}/posts"),
            vec![
                ("body", "定期訪問".into()),
                ("next_visit_on", "2026-12-01".into()),
                ("plan_changed", "yes".into()),
                ("plan_change", "在宅酸素を2Lに".into()),
                ("care_points", "体位変換時のSpO2低下に注意".into()),
            ],
        )
        .await;
    assert_eq!(visit.status, StatusCode::SEE_OTHER, "{}", visit.body);
    let page = nurse.get(&url).await.body;
    assert!(
        page.contains("data-testid=\"post-visit\"") && page.contains("在宅酸素を2Lに"),
        "{page}"
    );
    // The nurse's fields have no visit record (she is not the physician).
    assert!(!page.contains("data-testid=\"visit-fields\""));
    nurse
        .post(
            &url,
            &format!("{url}/posts"),
            vec![("body", "訪問看護。排便あり".into()), ("spo2", "95".into())],
        )
        .await;
    // Before the doctor reads the nurse's post, the month lacks the reading.
    let before = doc.get(&evidence).await.body;
    assert!(
        before.contains(&format!("data-patient=\"{id}\" data-complete=\"false\"")),
        "{before}"
    );
    assert!(before.contains("他事業所の記録の閲覧なし"));
    doc.get(&url).await;
    let after = doc.get(&evidence).await.body;
    assert!(
        after.contains(&format!("data-patient=\"{id}\" data-complete=\"true\"")),
        "{after}"
    );
    assert!(
        after.contains("data-counted=\"1\""),
        "the station is the one partner"
    );
    assert!(after.contains("あと 4 機関"), "{after}");
    // CSV and Excel for the inspector's visit.
    let csv = doc
        .get(&format!(
            "/institutions/{clinic}/ict-evidence.csv?month=2026-11"
        ))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.body.starts_with('\u{feff}'));
    assert!(
        csv.body.contains("八尾 春子") && csv.body.contains("記録・閲覧あり"),
        "{}",
        csv.body
    );
    let xlsx = doc
        .get_bytes(&format!(
            "/institutions/{clinic}/ict-evidence.xlsx?month=2026-11"
        ))
        .await;
    assert_eq!(xlsx.0, StatusCode::OK);
    assert!(xlsx.2.starts_with(b"PK"));
    // Another month has none of it.
    let october = doc
        .get(&format!(
            "/institutions/{clinic}/ict-evidence?month=2026-10"
        ))
        .await
        .body;
    assert!(october.contains("data-complete=\"false\""));
    // A 特別の関係 is not counted.
    let marked = doc
        .post(
            &evidence,
            &format!("/institutions/{clinic}/ict-evidence/special"),
            vec![
                ("partner", station.to_string()),
                ("special", "1".into()),
                ("month", "2026-11".into()),
            ],
        )
        .await;
    assert_eq!(marked.status, StatusCode::SEE_OTHER);
    assert_eq!(marked.location(), evidence);
    assert!(doc.get(&evidence).await.body.contains("data-counted=\"0\""));
    // Another institution's evidence is nobody else's business; views are on record.
    assert_eq!(nurse.get(&evidence).await.status, StatusCode::NOT_FOUND);
    assert!(count_audit(&w, "careteam.evidence_read").await >= 4);
    assert!(count_audit(&w, "careteam.evidence_export").await >= 2);
}

async fn a_hospital_on_the_team_proposes_the_discharge_conference_with_the_team(db: TestDb) {
    let Team {
        w,
        url,
        mut doc,
        clinic,
        station,
        ..
    } = team(&db).await;
    doc.post(
        &url,
        &format!("{url}/consent"),
        vec![
            ("consenter", "patient".into()),
            ("given_on", "2026-11-20".into()),
        ],
    )
    .await;
    let hospital = located(&w, "hospital", &["yao"]).await.remove(0);
    member_of(
        &w,
        hospital.id,
        &hospital.name,
        "msw@files.example.jp",
        "連携 花子",
        AccountRole::InstitutionStaff,
    )
    .await;
    invite(&w, &mut doc, &url, hospital.id, "連携 花子", "msw").await;
    // The clinic has no beds: no link for the doctor.
    assert!(!doc.get(&url).await.body.contains("conference-link"));
    let mut ward = w.login("msw@files.example.jp").await;
    let page = ward.get(&url).await.body;
    let link = page
        .split("data-testid=\"conference-link\"")
        .next()
        .and_then(|before| before.rsplit("href=\"").next())
        .and_then(|h| h.split('"').next())
        .expect("the hospital's link")
        .replace("&#38;", "&");
    assert!(link.starts_with(&format!("/institutions/{}/conferences?", hospital.id)));
    assert!(
        !link.contains("八尾%20春子") && !link.contains("春子"),
        "no name travels: {link}"
    );
    let form = ward.get(&link).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    for chosen in [clinic, station] {
        assert!(
            form.body
                .contains(&format!("<option value=\"{chosen}\" selected")),
            "{chosen} chosen from {link}: {}",
            form.body
        );
    }
}

both_backends!(a_hospital_on_the_team_proposes_the_discharge_conference_with_the_team);
both_backends!(files_are_sealed_checked_by_content_and_only_for_the_team);
both_backends!(a_mention_reaches_the_member_by_badge_and_mail_without_the_patients_name);
both_backends!(the_evidence_for_the_ict_fee_comes_from_the_timeline);
