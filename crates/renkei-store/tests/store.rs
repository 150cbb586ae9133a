//! The storage layer against real SQLite and PostgreSQL databases.

use renkei_domain::institution::InstitutionKind;
use renkei_domain::region::{AreaCode, RegionDefinition};
use renkei_domain::{demo, towns};
use renkei_store::{Store, StoreError};
use renkei_testkit::{both_backends, TestDb};

async fn with_region(store: &Store) {
    let region = RegionDefinition::nakakawachi();
    assert!(store
        .ensure_region(&region, &towns::towns().unwrap())
        .await
        .unwrap());
}

async fn with_demo(store: &Store) -> usize {
    with_region(store).await;
    let region = RegionDefinition::nakakawachi();
    let all = demo::institutions(
        &region,
        &towns::towns().unwrap(),
        &towns::postcodes().unwrap(),
    )
    .unwrap();
    store.insert_institutions(&all).await.unwrap();
    all.len()
}

async fn migrations_are_idempotent(db: TestDb) {
    assert_eq!(
        db.store.applied_migrations().await.unwrap(),
        vec![
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
            25, 26, 27, 28
        ]
    );
    let again = db.store.migrate().await.unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(
        again.already,
        vec![
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
            25, 26, 27, 28
        ]
    );
}

async fn an_edited_migration_stops_the_start(db: TestDb) {
    sqlx_exec(
        &db,
        "UPDATE renkei_migrations SET checksum = 'edited' WHERE version = 1",
    )
    .await;
    match db.store.migrate().await {
        Err(StoreError::MigrationChanged { version: 1, .. }) => {}
        other => panic!("expected MigrationChanged, got {other:?}"),
    }
}

async fn a_newer_schema_is_refused(db: TestDb) {
    sqlx_exec(&db, "INSERT INTO renkei_migrations (version, name, checksum, applied_at) VALUES (999, 'future', 'x', '2030-01-01T00:00:00Z')").await;
    assert!(matches!(
        db.store.migrate().await,
        Err(StoreError::NewerSchema(999))
    ));
}

async fn the_region_is_loaded_once_with_every_town(db: TestDb) {
    with_region(&db.store).await;
    let region = RegionDefinition::nakakawachi();
    assert!(
        !db.store
            .ensure_region(&region, &towns::towns().unwrap())
            .await
            .unwrap(),
        "second load writes nothing"
    );
    let overview = db
        .store
        .region_overview()
        .await
        .unwrap()
        .expect("region present");
    assert_eq!(overview.region, "中河内");
    let names: Vec<_> = overview.areas.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "東大阪市（西地区）",
            "東大阪市（中地区）",
            "東大阪市（東地区）",
            "八尾市",
            "柏原市"
        ]
    );
    assert_eq!(
        overview.areas[4].hub_operators,
        ["柏原市医師会", "市立柏原病院"]
    );
    let towns: i64 = overview.areas.iter().map(|a| a.towns).sum();
    assert_eq!(towns, 1197);
    // Only 東大阪市's towns are approximated; 八尾市 and 柏原市 follow their city.
    assert_eq!(
        overview.areas[0].approximated_towns,
        overview.areas[0].towns
    );
    assert_eq!(overview.areas[3].approximated_towns, 0);
    assert_eq!(overview.areas[3].towns, 631);
    assert!(!overview.has_demo_data);
}

async fn the_demo_reproduces_the_reports_counts(db: TestDb) {
    let loaded = with_demo(&db.store).await;
    let overview = db.store.region_overview().await.unwrap().unwrap();
    assert!(overview.has_demo_data);
    let active: Vec<i64> = overview
        .areas
        .iter()
        .map(|a| a.active_institutions)
        .collect();
    assert_eq!(active, [7, 6, 3, 6, 0]);
    let total: i64 = overview.areas.iter().map(|a| a.institutions).sum();
    assert_eq!(total as usize, loaded);
    for area in &overview.areas {
        for kind in InstitutionKind::ALL {
            assert!(
                area.institutions_by_kind[kind.code()] > 0,
                "{} has no {:?}",
                area.name,
                kind
            );
        }
    }
    let availability = db.store.role_availability().await.unwrap();
    let count = |area: &str, role: &str| {
        availability
            .iter()
            .find(|(a, r, _)| a == area && r == role)
            .map(|(_, _, n)| *n)
            .unwrap_or(0)
    };
    let roles = [
        "acute_support",
        "transition_services",
        "training",
        "disaster_plan",
        "community_center",
        "emergency_admission",
    ];
    let west: Vec<i64> = roles
        .iter()
        .map(|r| count("higashiosaka-west", r))
        .collect();
    let central: Vec<i64> = roles
        .iter()
        .map(|r| count("higashiosaka-central", r))
        .collect();
    let east: Vec<i64> = roles
        .iter()
        .map(|r| count("higashiosaka-east", r))
        .collect();
    assert_eq!(west, [5, 6, 5, 2, 7, 1]);
    assert_eq!(central, [1, 4, 2, 1, 4, 1]);
    assert_eq!(east, [2, 3, 3, 1, 3, 1]);

    let yao = db.store.institutions_in_area("yao").await.unwrap();
    assert_eq!(yao.iter().filter(|i| i.is_active).count(), 6);
    assert!(yao[0].is_active, "active institutions are listed first");
    assert!(yao
        .iter()
        .all(|i| i.is_demo && i.name.starts_with(demo::DEMO_MARK)));
    assert!(
        yao.iter().filter(|i| i.town.is_some()).count() == yao.len(),
        "every demo institution sits on a town"
    );
}

async fn a_batch_with_one_bad_institution_writes_nothing(db: TestDb) {
    with_region(&db.store).await;
    let region = RegionDefinition::nakakawachi();
    let mut batch = demo::institutions(
        &region,
        &towns::towns().unwrap(),
        &towns::postcodes().unwrap(),
    )
    .unwrap();
    batch.truncate(20);
    batch[10].area = AreaCode::parse("nowhere").unwrap();
    let err = db.store.insert_institutions(&batch).await.unwrap_err();
    assert!(err.to_string().contains("nowhere"), "{err}");
    batch[10].area = AreaCode::parse("yao").unwrap();
    batch[15].name = String::new();
    let err = db.store.insert_institutions(&batch).await.unwrap_err();
    assert!(err.to_string().contains("16件目"), "{err}");
    assert!(db.store.directory_is_empty().await.unwrap());
}

async fn sqlx_exec(db: &TestDb, sql: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::raw_sql(sql).execute(&pool).await.unwrap();
    pool.close().await;
}

both_backends!(
    migrations_are_idempotent,
    an_edited_migration_stops_the_start,
    a_newer_schema_is_refused,
    the_region_is_loaded_once_with_every_town,
    the_demo_reproduces_the_reports_counts,
    a_batch_with_one_bad_institution_writes_nothing,
);

async fn a_coordinator_corrects_a_towns_district(db: TestDb) {
    with_demo(&db.store).await;
    let west = db.store.towns(Some("higashiosaka-west")).await.unwrap();
    let in_west = db
        .store
        .institutions_in_area("higashiosaka-west")
        .await
        .unwrap();
    let in_town = |name: &str| {
        in_west
            .iter()
            .filter(|i| i.town.as_deref() == Some(name))
            .count()
    };
    // A town placed by approximation that has demo institutions, so moving them is seen.
    let town = west
        .iter()
        .find(|t| t.assignment == "approximation" && in_town(&t.name) > 0)
        .expect("a town of the west area with institutions")
        .clone();
    let in_town_before = in_town(&town.name);
    assert!(in_town_before > 0);
    // Typed with full-width spaces around it, as people do: found by its normalised key.
    let typed = format!("　{}　", town.name);
    let moved = db
        .store
        .set_town_area("東大阪市", &typed, "higashiosaka-central")
        .await
        .unwrap();
    assert_eq!(
        (moved.area.as_deref(), moved.assignment.as_str()),
        (Some("higashiosaka-central"), "coordinator")
    );
    let central = db
        .store
        .institutions_in_area("higashiosaka-central")
        .await
        .unwrap();
    let in_town_after = central
        .iter()
        .filter(|i| i.town.as_deref() == Some(town.name.as_str()))
        .count();
    assert_eq!(
        in_town_after, in_town_before,
        "the town's institutions moved with it"
    );
    let overview = db.store.region_overview().await.unwrap().unwrap();
    assert_eq!(overview.areas[0].towns, west.len() as i64 - 1);

    let wrong_city = db
        .store
        .set_town_area("東大阪市", &town.name, "yao")
        .await
        .unwrap_err();
    assert!(
        wrong_city
            .to_string()
            .contains("東大阪市の地域ではありません"),
        "{wrong_city}"
    );
    let unknown = db
        .store
        .set_town_area("東大阪市", "存在しない町", "higashiosaka-east")
        .await
        .unwrap_err();
    assert!(matches!(unknown, StoreError::NotFound(_)));
}

both_backends!(a_coordinator_corrects_a_towns_district);

async fn the_directory_is_searched_by_capability_text_area_and_kind(db: TestDb) {
    use renkei_domain::capability::Capability;
    use renkei_domain::text::search_terms;
    use renkei_store::directory::DirectoryQuery;
    with_demo(&db.store).await;
    // 「訪問診療 24時間 八尾」: two capability terms and one text term.
    let terms = search_terms("訪問診療　２４時間 八尾");
    let (caps, text): (Vec<_>, Vec<_>) = terms
        .iter()
        .partition(|t| Capability::from_term(t).is_some());
    let query = DirectoryQuery {
        text: text.into_iter().cloned().collect(),
        capabilities: caps
            .iter()
            .filter_map(|t| Capability::from_term(t))
            .collect(),
        limit: 50,
        ..Default::default()
    };
    let (total, hits) = db.store.search_directory(&query).await.unwrap();
    assert!(total >= 4, "{total}");
    assert_eq!(hits.len() as i64, total.min(50));
    for hit in &hits {
        assert!(hit.address.contains("八尾市"), "{}", hit.address);
        assert!(
            hit.capabilities.contains(&"home_visit".to_owned())
                && hit.capabilities.contains(&"always_available".to_owned())
        );
    }
    assert!(hits[0].is_active, "active institutions first");
    let first_inactive = hits.iter().position(|h| !h.is_active).unwrap_or(hits.len());
    assert!(
        hits[first_inactive..].iter().all(|h| !h.is_active),
        "every active institution comes before every other"
    );

    // Name search is insensitive to 半角/全角 and to hiragana/katakana.
    let name = hits[0].name.replace("［デモ］", "");
    let half: String = renkei_domain::text::to_hiragana(&hits[0].name_kana);
    for typed in [name.as_str(), half.as_str()] {
        let q = DirectoryQuery {
            text: search_terms(typed),
            limit: 10,
            ..Default::default()
        };
        let (n, found) = db.store.search_directory(&q).await.unwrap();
        assert!(
            n >= 1 && found.iter().any(|h| h.id == hits[0].id),
            "「{typed}」 finds it"
        );
    }
    // Area and kind filters, paging, and LIKE wildcards taken literally.
    let q = DirectoryQuery {
        area: Some("kashiwara".into()),
        kind: Some(InstitutionKind::Pharmacy),
        limit: 3,
        offset: 3,
        ..Default::default()
    };
    let (n, page) = db.store.search_directory(&q).await.unwrap();
    assert_eq!(n, 9);
    assert_eq!(page.len(), 3);
    assert!(page
        .iter()
        .all(|h| h.kind == "pharmacy" && h.area_code == "kashiwara"));
    let q = DirectoryQuery {
        text: vec!["%".into()],
        limit: 10,
        ..Default::default()
    };
    assert_eq!(db.store.search_directory(&q).await.unwrap().0, 0);

    let detail = db
        .store
        .institution_detail(hits[0].id.0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.area_name, "八尾市");
    assert_eq!(detail.hub_operators, ["八尾市医師会"]);
    assert!(detail.lat.is_some() && detail.town.is_some());
    assert!(db
        .store
        .institution_detail(999_999)
        .await
        .unwrap()
        .is_none());
}

async fn a_near_search_sorts_by_true_distance(db: TestDb) {
    use renkei_store::directory::{DirectoryQuery, Near};
    with_demo(&db.store).await;
    // Around 八尾市役所, 2 km, clinics only.
    let near = Near {
        lat: 34.6265,
        lng: 135.6010,
        km: 2.0,
    };
    let q = DirectoryQuery {
        near: Some(near),
        kind: Some(InstitutionKind::Clinic),
        limit: 100,
        ..Default::default()
    };
    let (total, hits) = db.store.search_directory(&q).await.unwrap();
    assert!(total >= 3, "{total}");
    assert_eq!(hits.len() as i64, total.min(100));
    let distances: Vec<f64> = hits.iter().map(|h| h.distance_km.unwrap()).collect();
    assert!(
        distances.windows(2).all(|w| w[0] <= w[1]),
        "nearest first: {distances:?}"
    );
    assert!(distances.iter().all(|d| *d <= 2.0));
    let page = DirectoryQuery {
        offset: 2,
        limit: 1,
        ..q.clone()
    };
    let (_, second_page) = db.store.search_directory(&page).await.unwrap();
    assert_eq!(second_page[0].id, hits[2].id, "paging over the sorted list");
}

/// Plans an import of a CSV text (every row must read).
async fn plan_csv(store: &Store, csv: &str) -> renkei_store::import::ImportPlan {
    let parsed = renkei_domain::import::read_directory_file(
        csv.as_bytes(),
        &RegionDefinition::nakakawachi(),
    )
    .unwrap();
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    store.plan_import(parsed.rows).await.unwrap()
}

async fn an_import_matches_by_id_and_refuses_what_only_a_coordinator_changes(db: TestDb) {
    use renkei_store::import::DuplicateOf;
    with_demo(&db.store).await;
    let setup = "名称,種別,地域,所在地,医療機関コード\n\
        ［デモ］甲医院,診療所,八尾市,八尾市本町1-1,2712340101\n\
        ［デモ］乙医院,診療所,八尾市,八尾市本町2-2,2712340102\n\
        ［デモ］丙医院,診療所,八尾市,八尾市本町3-3,\n\
        ［デモ］丁医院,診療所,八尾市,八尾市本町4-4,2712340104\n";
    let plan = plan_csv(&db.store, setup).await;
    assert_eq!((plan.new.len(), plan.errors.len()), (4, 0));
    db.store.apply_import(&plan, &|_| {}).await.unwrap();
    let codes: std::collections::HashMap<String, i64> = db
        .store
        .medical_codes()
        .await
        .unwrap()
        .into_iter()
        .collect();
    let keys: std::collections::HashMap<String, i64> = db
        .store
        .identity_keys()
        .await
        .unwrap()
        .into_iter()
        .collect();
    let (kou, tei) = (codes["2712340101"], codes["2712340104"]);
    let hei = keys[&renkei_domain::import::identity_key("［デモ］丙医院", "八尾市本町3-3")];

    let csv = format!(
        "ID,名称,種別,地域,所在地,医療機関コード,積極的医療機関\n\
        {kou},［デモ］甲医院（本院）,診療所,八尾市,八尾市本町1-1,2712340101,\n\
        {kou},［デモ］甲医院分室,診療所,八尾市,八尾市本町1-2,,\n\
        ,［デモ］乙医院,病院,八尾市,八尾市本町2-2,2712340102,\n\
        999999999,［デモ］どこにもない医院,診療所,八尾市,八尾市本町5-5,,\n\
        {hei},［デモ］丙医院,診療所,八尾市,八尾市本町3-3,2712340104,\n\
        ,［デモ］丁医院,診療所,八尾市,八尾市本町4-4,2712349999,\n\
        {hei},［デモ］丙医院,診療所,八尾市,八尾市本町3-9,,はい\n\
        {tei},［デモ］丁医院,診療所,柏原市,柏原市本郷4-4,,\n"
    );
    let plan = plan_csv(&db.store, &csv).await;
    // Line 2 renames 甲 through its ID: the only write.
    assert_eq!(plan.new.len(), 0);
    assert_eq!(plan.updates.len(), 1);
    assert_eq!((plan.updates[0].0, plan.updates[0].1), (2, kou));
    assert_eq!(plan.updates[0].2.name, "［デモ］甲医院（本院）");
    // Line 3 names 甲 again.
    assert_eq!(plan.duplicates.len(), 1);
    assert_eq!(plan.duplicates[0].line, 3);
    assert_eq!(plan.duplicates[0].by, DuplicateOf::Entry(kou));
    let errors: Vec<(usize, &str)> = plan
        .errors
        .iter()
        .map(|e| (e.line, e.column.as_str()))
        .collect();
    assert_eq!(
        errors,
        vec![
            (4, "種別"),
            (5, "ID"),
            (6, "医療機関コード"),
            (7, "医療機関コード"),
            (8, "積極的医療機関"),
            (9, "地域"),
        ],
        "{:?}",
        plan.errors
    );
    assert!(
        plan.errors[0].reason.contains("「診療所」"),
        "{:?}",
        plan.errors[0]
    );
    assert!(plan.errors[2].reason.contains(&format!("ID {tei}")));
    assert!(plan.errors[3].reason.contains(&format!("ID 列に {tei}")));
    assert!(plan.errors[5].reason.contains("八尾市"));
}

async fn ledgers_are_saved_whole_under_a_revision_check_and_kept(db: TestDb) {
    use renkei_domain::ledger::{LedgerFile, NAKAKAWACHI_FY2025_TOML};
    with_demo(&db.store).await;
    let region = RegionDefinition::nakakawachi();
    let file = LedgerFile::parse(NAKAKAWACHI_FY2025_TOML, &region).unwrap();
    assert_eq!(db.store.load_ledger_file(&file).await.unwrap(), 5);
    assert_eq!(db.store.load_ledger_file(&file).await.unwrap(), 0, "once");
    // A corrected transcription reaches a ledger nobody has saved since it was loaded (as
    // revision 2); a ledger a person or feature has saved is left alone.
    let mut corrected = file.clone();
    corrected.hubs[0].contractor.push_str("（訂正）");
    corrected.hubs[1].contractor.push_str("（訂正）");
    db.store
        .save_ledger("higashiosaka-central", 2025, &file.hubs[1], Some(1), None)
        .await
        .unwrap();
    assert_eq!(db.store.load_ledger_file(&corrected).await.unwrap(), 1);
    let west = db
        .store
        .ledger("higashiosaka-west", 2025)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((west.revision, &west.ledger), (2, &corrected.hubs[0]));
    let central = db
        .store
        .ledger("higashiosaka-central", 2025)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((central.revision, &central.ledger), (2, &file.hubs[1]));
    assert_eq!(
        db.store.load_ledger_file(&file).await.unwrap(),
        0,
        "revision 2 stays"
    );
    assert_eq!(db.store.ledger_years().await.unwrap(), vec![2025]);
    let all = db.store.ledgers_of_year(2025).await.unwrap();
    let areas: Vec<&str> = all.iter().map(|l| l.area_code.as_str()).collect();
    assert_eq!(
        areas,
        [
            "higashiosaka-west",
            "higashiosaka-central",
            "higashiosaka-east",
            "yao",
            "kashiwara"
        ]
    );
    assert_eq!(all[3].ledger, file.hubs[3], "stored as given");

    // Two editors start from revision 1; the second save is refused, nothing is lost.
    let mut first = all[3].ledger.clone();
    first.items[0].title.push_str("（改）");
    let mut second = all[3].ledger.clone();
    second.items[1].title.push_str("（別）");
    assert_eq!(
        db.store
            .save_ledger("yao", 2025, &first, Some(1), None)
            .await
            .unwrap(),
        2
    );
    let refused = db
        .store
        .save_ledger("yao", 2025, &second, Some(1), None)
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    let now = db.store.ledger("yao", 2025).await.unwrap().unwrap();
    assert_eq!((now.revision, &now.ledger), (2, &first));
    let created_twice = db.store.save_ledger("yao", 2025, &first, None, None).await;
    assert!(matches!(created_twice, Err(StoreError::Conflict(_))));
    let wrong_area = db
        .store
        .save_ledger("kashiwara", 2025, &first, Some(1), None)
        .await;
    assert!(matches!(wrong_area, Err(StoreError::Invalid(_))));
    let revisions = db.store.ledger_revisions("yao", 2025).await.unwrap();
    assert_eq!(
        revisions.iter().map(|r| r.revision).collect::<Vec<_>>(),
        [2, 1]
    );
    assert!(db.store.ledger("yao", 2024).await.unwrap().is_none());

    // The 対応状況 is counted from the directory, as the domain counts the demo.
    let coverage = db.store.role_coverage().await.unwrap();
    let all_institutions = demo::institutions(
        &region,
        &towns::towns().unwrap(),
        &towns::postcodes().unwrap(),
    )
    .unwrap();
    assert_eq!(
        coverage,
        renkei_domain::report::coverage_of(&all_institutions)
    );
    assert_eq!(coverage["higashiosaka-west"].institutions, 7);
    assert_eq!(coverage["higashiosaka-west"].available, [5, 6, 5, 2, 7, 1]);
}

both_backends!(
    ledgers_are_saved_whole_under_a_revision_check_and_kept,
    an_import_matches_by_id_and_refuses_what_only_a_coordinator_changes,
    the_directory_is_searched_by_capability_text_area_and_kind,
    a_near_search_sorts_by_true_distance
);

/// A mail being delivered is claimed: a retry (of any server) skips it, two claims at once
/// give it to one, and a failed attempt lets go so the next retry takes it.
async fn mail_is_claimed_by_one_delivery_at_a_time(db: TestDb) {
    let lease = std::time::Duration::from_secs(300);
    let s = &db.store;
    let queued = s
        .enqueue_mail("a@example.jp", "件名", "本文")
        .await
        .unwrap();
    let delivering = s
        .enqueue_claimed_mail("b@example.jp", "件名", "本文", None, lease)
        .await
        .unwrap();
    let pending: Vec<i64> = s
        .pending_mails(5, 10)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(
        pending,
        vec![queued],
        "the one being delivered is not retried"
    );
    let (one, two) = tokio::join!(s.claim_mail(queued, lease), s.claim_mail(queued, lease));
    assert!(one.unwrap() ^ two.unwrap(), "exactly one claim wins");
    assert!(s.pending_mails(5, 10).await.unwrap().is_empty());
    s.mark_mail_failed(queued, "421 try later").await.unwrap();
    assert!(
        s.claim_mail(queued, lease).await.unwrap(),
        "free again after a failure"
    );
    s.mark_mail_sent(delivering).await.unwrap();
    assert!(
        !s.claim_mail(delivering, lease).await.unwrap(),
        "delivered mail stays delivered"
    );
}

both_backends!(mail_is_claimed_by_one_delivery_at_a_time);

/// Proposals for one entry sent at the same moment leave exactly one pending: each withdraws
/// the one before it, and none slips past another (on PostgreSQL two transactions could each
/// withdraw what they saw and both insert, without the per-entry lock).
async fn racing_proposals_leave_one_pending(db: TestDb) {
    with_demo(&db.store).await;
    let s = &db.store;
    let id = s.institutions_in_area("yao").await.unwrap()[0].id.0;
    let email = renkei_domain::accounts::Email::parse("staff@example.jp").unwrap();
    let user = s.create_user(&email, "職員", None).await.unwrap();
    let fields = s.public_fields(id).await.unwrap().unwrap();
    for round in 0..5 {
        let sends = (0..8).map(|k| {
            let mut f = fields.clone();
            f.phone = Some(format!("06-{round}{k}00-0000"));
            async move { s.propose_change(id, user, &f).await.unwrap() }
        });
        futures_util::future::join_all(sends).await;
        let pending = s.changes("pending", Some(id)).await.unwrap();
        assert_eq!(pending.len(), 1, "round {round}: {} pending", pending.len());
    }
}

both_backends!(racing_proposals_leave_one_pending);

both_backends!(a_checked_plan_is_kept_deflated_and_one_checked_by_an_earlier_version_still_applies);
async fn a_checked_plan_is_kept_deflated_and_one_checked_by_an_earlier_version_still_applies(
    db: TestDb,
) {
    use renkei_store::pending_imports::{Claim, PendingImport};
    with_demo(&db.store).await;
    let email = renkei_domain::accounts::Email::parse("coord@example.jp").unwrap();
    let user = db.store.create_user(&email, "拠点", None).await.unwrap();
    let mut csv = String::from("名称,種別,地域,所在地\n");
    for n in 0..200 {
        csv.push_str(&format!(
            "在宅クリニック{n},診療所,八尾市,八尾市本町{n}-1\n"
        ));
    }
    let plan = plan_csv(&db.store, &csv).await;
    assert_eq!(plan.new.len(), 200);
    let pending = PendingImport {
        user_id: user.0,
        file_name: "new.csv".into(),
        bad_rows: 0,
        plan: plan.clone(),
    };
    let now = chrono::Utc::now();
    db.store
        .put_pending_import("deflated", &pending, now)
        .await
        .unwrap();
    // Stored deflated, much smaller than its JSON, and no JSON text beside it.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let (text, deflated): (String, Vec<u8>) = sqlx::query_as(
        "SELECT plan, plan_deflated FROM pending_imports WHERE import_key = 'deflated'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let json = serde_json::to_string(&plan).unwrap();
    assert_eq!(text, "");
    assert!(
        deflated.len() * 4 < json.len(),
        "{} bytes deflated, {} of JSON",
        deflated.len(),
        json.len()
    );
    match db
        .store
        .claim_pending_import("deflated", user.0, false, now)
        .await
        .unwrap()
    {
        Claim::Taken(taken) => assert_eq!(*taken, pending),
        other => panic!("not taken: {other:?}"),
    }
    // A plan checked before 0025 (JSON text) is read as before.
    sqlx::query(
        "INSERT INTO pending_imports (import_key, user_id, file_name, bad_rows, plan, created_at,
             state, total, written)
         VALUES ('earlier', $1, 'old.csv', 0, $2, $3, 'checked', 200, 0)",
    )
    .bind(user.0)
    .bind(&json)
    .bind(renkei_store::time_text(now))
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    match db
        .store
        .claim_pending_import("earlier", user.0, false, now)
        .await
        .unwrap()
    {
        Claim::Taken(taken) => assert_eq!(taken.plan, plan),
        other => panic!("not taken: {other:?}"),
    }
}

/// Every commit is durable before it is acknowledged, read back from the database (a SIGKILL
/// test cannot see a lost fsync); and the check is not blind: a lossy setting is reported.
async fn every_commit_is_durable_and_a_lossy_setting_is_reported(db: TestDb) {
    let durability = db.store.durability().await.unwrap();
    assert!(durability.is_durable(), "{durability:?}");
    match db.store.backend() {
        renkei_store::Backend::Sqlite => {
            assert_eq!(durability.settings, vec!["synchronous=FULL".to_owned()]);
            // A connection of the same file turned lossy reads back as lossy, and a pool with
            // one such connection among others is not durable.
            use sqlx::Connection;
            let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
            sqlx::raw_sql("PRAGMA synchronous = OFF")
                .execute(&mut conn)
                .await
                .unwrap();
            let level = renkei_store::durability::sqlite_synchronous(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
            assert_eq!(level, 0);
            let lossy = renkei_store::durability::Durability::of_sqlite(&[2, level, 2]);
            assert!(!lossy.is_durable());
            assert!(
                lossy.problems[0].contains("synchronous が OFF"),
                "{lossy:?}"
            );
        }
        renkei_store::Backend::Postgres => {
            assert!(
                durability.settings.contains(&"fsync=on".to_owned()),
                "{durability:?}"
            );
            let lossy = Store::open(&format!("{}?options=-c%20synchronous_commit%3Doff", db.url))
                .await
                .unwrap();
            let found = lossy.durability().await.unwrap();
            lossy.close().await;
            assert!(!found.is_durable());
            assert!(
                found.problems[0].contains("synchronous_commit is off"),
                "{found:?}"
            );
        }
    }
}

both_backends!(every_commit_is_durable_and_a_lossy_setting_is_reported);

/// README: "several instances starting at once take turns (an advisory lock)": four stores
/// migrate one empty PostgreSQL database at the same moment; every one succeeds, and each
/// migration is applied exactly once.
#[tokio::test]
async fn instances_starting_at_once_take_turns_on_the_migrations() {
    let Some(db) = renkei_testkit::create_postgres_database().await else {
        return;
    };
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(
            Store::open(&db.url)
                .await
                .unwrap()
                .with_audit_key(renkei_testkit::TEST_AUDIT_KEY),
        );
    }
    let runs = futures_util::future::join_all(stores.iter().map(|s| s.migrate())).await;
    let mut applied: Vec<i64> = Vec::new();
    for run in runs {
        let report = run.expect("every instance starts");
        applied.extend(report.applied);
    }
    applied.sort_unstable();
    let all: Vec<i64> = renkei_store::migrate::MIGRATIONS
        .iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(applied, all, "each migration applied once, by one of them");
    for store in stores {
        store.close().await;
    }
    renkei_testkit::drop_database(&db.name).await;
}
