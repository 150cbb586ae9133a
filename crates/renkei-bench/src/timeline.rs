//! `timeline`: how fast a care team's view opens in a large region — one patient's timeline of
//! 5,000 posts (the newest page, a page deep in the past, a search) among `institutions` ×
//! `patients` patients and `other_posts` posts of other patients, plus a doctor's patient list
//! and the month's 在宅医療情報連携加算 evidence over all of their institution's patients.
//! Requests go through the real router in process (session, access decision, audit chain,
//! templates): the server's time, without a network.

use crate::measure::{ms, pct};
use anyhow::Context;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use indicatif::{ProgressBar, ProgressStyle};
use renkei_domain::accounts::{AccountRole, Email, OrganisationKind, UserId};
use renkei_domain::careteam::{Consent, Consenter, Profession, VisitRecord, Vitals};
use renkei_domain::region::RegionDefinition;
use renkei_domain::{demo, towns};
use renkei_store::care_files::NewAttachment;
use renkei_store::careteam::NewPost;
use renkei_store::Store;
use sqlx::{AnyConnection, Connection, Executor};
use std::time::{Duration, Instant};
use tower::ServiceExt;

/// What to build and how often to ask.
pub struct Shape {
    /// Institutions (the demo region's, repeated as needed).
    pub institutions: usize,
    /// Patients registered by each institution.
    pub patients: usize,
    /// Posts on the measured patient's timeline.
    pub posts: usize,
    /// Posts spread over other patients.
    pub other_posts: usize,
    /// Requests per measurement.
    pub requests: usize,
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len} ({eta})")
            .expect("template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

/// Builds the region and measures; returns a Markdown section.
pub async fn measure(shape: &Shape) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("renkei.db");
    let store = Store::open_sqlite(&path)
        .await?
        .with_audit_key(b"renkei bench audit key");
    store.migrate().await?;
    let region = RegionDefinition::nakakawachi();
    let town_table = towns::towns()?;
    store.ensure_region(&region, &town_table).await?;

    // Institutions: the demo region's, repeated with a suffix until there are enough.
    let base = demo::institutions(&region, &town_table, &towns::postcodes()?)?;
    let mut ids = Vec::with_capacity(shape.institutions);
    let mut copy = 0;
    while ids.len() < shape.institutions {
        let batch: Vec<_> = base
            .iter()
            .take(shape.institutions - ids.len())
            .map(|i| {
                let mut i = i.clone();
                if copy > 0 {
                    i.name = format!("{}（複製{copy}）", i.name);
                }
                i
            })
            .collect();
        ids.extend(
            store
                .insert_institutions(&batch)
                .await?
                .into_iter()
                .map(|i| i.0),
        );
        copy += 1;
    }

    // One staff doctor per institution, who registered its patients.
    let mut users = Vec::with_capacity(ids.len());
    let setup = bar(ids.len() as u64, "staff");
    for (n, institution) in ids.iter().enumerate() {
        let org = store
            .ensure_organisation(
                OrganisationKind::Institution,
                &format!("bench-{n}"),
                None,
                Some(*institution),
            )
            .await?;
        let email = Email::parse(&format!("doctor{n}@bench.example.jp"))?;
        let user = store.create_user(&email, &format!("医師{n}"), None).await?;
        store
            .add_membership(user, org, AccountRole::InstitutionStaff)
            .await?;
        store.set_pending_totp(user, "JBSWY3DPEHPK3PXP").await?;
        store.confirm_totp(user, 0, &[]).await?;
        users.push(user);
        setup.inc(1);
    }
    setup.finish();

    // Patients and their registering doctor, in bulk.
    let mut raw = AnyConnection::connect(&format!("sqlite://{}", path.display())).await?;
    raw.execute("PRAGMA synchronous = OFF").await?;
    let total = (shape.institutions * shape.patients) as u64;
    let progress = bar(total, "patients");
    // Written now, so the other patients' posts fall in the month whose evidence is measured.
    let now = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    const CHUNK: usize = 400;
    let mut next_patient: i64 = 1;
    for (n, institution) in ids.iter().enumerate() {
        let mut left = shape.patients;
        let mut tx = raw.begin().await?;
        while left > 0 {
            let take = left.min(CHUNK);
            let mut patients = String::from(
                "INSERT INTO patients (id, registered_by, area_code, name, kana, search_key, birth_date, sex, address, needs, contacts, created_at, updated_at) VALUES ",
            );
            let mut members = String::from(
                "INSERT INTO care_team_members (patient_id, user_id, institution_id, profession, added_at) VALUES ",
            );
            for k in 0..take {
                let id = next_patient + k as i64;
                if k > 0 {
                    patients.push(',');
                    members.push(',');
                }
                patients.push_str(&format!(
                    "({id},{institution},'yao','患者 {id}','カンジャ {id}','カンジャ{id}','1940-01-01','female','八尾市本町1-1-1','','[]','{now}','{now}')"
                ));
                members.push_str(&format!(
                    "({id},{},{institution},'doctor','{now}')",
                    users[n].0
                ));
            }
            sqlx::query(&patients).execute(&mut *tx).await?;
            sqlx::query(&members).execute(&mut *tx).await?;
            next_patient += take as i64;
            left -= take;
            progress.inc(take as u64);
        }
        tx.commit().await?;
    }
    progress.finish();

    // Other patients' posts, spread over the first institutions' patients.
    let progress = bar(shape.other_posts as u64, "other posts");
    let mut written = 0;
    let spread = (next_patient - 1).max(1);
    while written < shape.other_posts {
        let mut tx = raw.begin().await?;
        for _ in 0..25 {
            if written >= shape.other_posts {
                break;
            }
            let take = (shape.other_posts - written).min(CHUNK);
            let mut sql = String::from(
                "INSERT INTO care_posts (patient_id, author_id, institution_id, profession, body, urgent, created_at, search_text) VALUES ",
            );
            for k in 0..take {
                let patient = 2 + ((written + k) as i64 * 7919) % (spread - 1).max(1);
                let owner = ((patient - 1) as usize) / shape.patients.max(1);
                if k > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "({patient},{},{},'doctor','定期訪問。著変なし',0,'{now}','定期訪問。著変ナシ')",
                    users[owner.min(users.len() - 1)].0,
                    ids[owner.min(ids.len() - 1)]
                ));
            }
            sqlx::query(&sql).execute(&mut *tx).await?;
            written += take;
            progress.inc(take as u64);
        }
        tx.commit().await?;
    }
    progress.finish();
    raw.close().await?;

    // The measured patient (the first of the first institution): a team of five institutions,
    // consent, 5,000 posts through the store as the pages write them.
    let patient = 1;
    let doctor = users[0];
    let mut team: Vec<(UserId, i64, Profession)> = vec![(doctor, ids[0], Profession::Doctor)];
    for (k, profession) in [
        Profession::Nurse,
        Profession::Pharmacist,
        Profession::CareManager,
        Profession::Therapist,
    ]
    .into_iter()
    .enumerate()
    {
        let at = (k + 1).min(ids.len() - 1);
        store
            .add_team_member(
                patient,
                users[at].0,
                ids[at],
                profession,
                doctor,
                chrono::Utc::now(),
            )
            .await?;
        team.push((users[at], ids[at], profession));
    }
    store
        .record_consent(
            patient,
            &Consent {
                consenter: Consenter::Patient,
                given_on: "2026-10-01".parse()?,
                excluded_institutions: Vec::new(),
                excluded_professions: Vec::new(),
                withdrawn: false,
            },
            None,
            doctor,
            chrono::Utc::now(),
        )
        .await?;
    // A phone photo's size (about 300 KB; sealed and stored like any attachment), not a token
    // few bytes: the PNG signature, then bytes that do not compress.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    png.extend((0..300_000).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 24) as u8
    }));
    let png = png.as_slice();
    let progress = bar(shape.posts as u64, "timeline");
    let start = chrono::Utc::now() - chrono::Duration::days(60);
    for k in 0..shape.posts {
        let (author, institution, profession) = team[k % team.len()];
        let body = format!("訪問{k}回目。サクション3回、排痰良好。家族の介護負担に注意。");
        let files = [NewAttachment {
            file_name: "photo.png",
            media_type: "image/png",
            bytes: png,
        }];
        store
            .add_post(
                patient,
                &NewPost {
                    author,
                    institution_id: institution,
                    profession,
                    body: &body,
                    urgent: k % 50 == 0,
                    vitals: (k % 3 == 0).then_some(Vitals {
                        systolic: Some(120 + (k % 20) as u32),
                        diastolic: Some(70),
                        pulse: Some(80),
                        spo2: Some(95),
                        temperature_tenths: Some(366),
                    }),
                    visit: (profession == Profession::Doctor).then(|| VisitRecord {
                        next_visit_on: None,
                        plan_changed: false,
                        plan_change: String::new(),
                        care_points: String::new(),
                    }),
                    mentions: &[],
                    attachments: if k % 20 == 0 { &files } else { &[] },
                },
                start + chrono::Duration::minutes(17 * k as i64),
            )
            .await?;
        progress.inc(1);
    }
    progress.finish();

    // The server, with a signed-in doctor (second factor done), checkpointing in the background
    // as `renkei serve` does.
    store.spawn_checkpoints(Duration::from_secs(10));
    let state = renkei_web::AppState::new(store.clone(), renkei_web::WebConfig::default());
    let app = renkei_web::router(state.clone());
    let user = store.user(doctor).await?.context("the bench doctor")?;
    let cookie = crate::measure::session_cookie(&state, &user).await?;
    let middle = store
        .posts(patient, None, "", (shape.posts / 2).max(1) as i64)
        .await?
        .last()
        .map_or(0, |p| p.id);
    let month = chrono::Utc::now().format("%Y-%m");
    let cases = [
        (
            "the newest 50 of the timeline",
            format!("/patients/{patient}"),
        ),
        (
            "a page in the middle",
            format!("/patients/{patient}?before={middle}"),
        ),
        (
            "search within the patient",
            format!("/patients/{patient}?q=%EF%BD%BB%EF%BD%B8%EF%BD%BC%EF%BD%AE%EF%BE%9D"),
        ),
        ("the doctor's patient list", "/patients".to_owned()),
        (
            "the month's evidence (all patients)",
            format!("/institutions/{}/ict-evidence?month={month}", ids[0]),
        ),
    ];
    let mut rows = Vec::new();
    for (what, uri) in &cases {
        let mut times = Vec::with_capacity(shape.requests);
        let mut size = 0;
        let runs = if what.contains("evidence") || what.contains("list") {
            shape.requests.min(50)
        } else {
            shape.requests
        };
        // A few requests first, so that the figures are of the steady state (the page cache
        // warm); the maximum below still shows any stall.
        for _ in 0..3 {
            let request = Request::builder()
                .uri(uri.as_str())
                .header(header::COOKIE, &cookie)
                .body(Body::empty())?;
            app.clone().oneshot(request).await?;
        }
        for _ in 0..runs {
            let request = Request::builder()
                .uri(uri.as_str())
                .header(header::COOKIE, &cookie)
                .body(Body::empty())?;
            let began = Instant::now();
            let response = app.clone().oneshot(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            times.push(began.elapsed());
            anyhow::ensure!(status == StatusCode::OK, "{uri}: {status}");
            size = body.len();
        }
        times.sort();
        rows.push(format!(
            "| {what} | `{uri}` | {runs} | {} | {} | {} | {} KB |",
            ms(pct(&times, 0.5)),
            ms(pct(&times, 0.99)),
            ms(*times.last().unwrap_or(&Duration::ZERO)),
            size / 1024
        ));
    }
    let posts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM care_posts")
        .fetch_one(&mut AnyConnection::connect(&format!("sqlite://{}", path.display())).await?)
        .await?;
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    store.close().await;
    Ok(format!(
        "### A care team's view in a large region (SQLite, in-process router)\n\n\
         {} institutions × {} patients = {} patients; {} posts in all, {} on the measured \
         patient's timeline (every 3rd with vitals, every 20th with a photo, sealed); \
         database {:.1} GB. Each request: session, access decision, audit append, template.\n\n\
         | view | request | runs | p50 | p99 | max | page |\n|---|---|---|---|---|---|---|\n{}\n",
        shape.institutions,
        shape.patients,
        shape.institutions * shape.patients,
        posts,
        shape.posts,
        bytes as f64 / 1e9,
        rows.join("\n")
    ))
}
