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
    assert_eq!(db.store.applied_migrations().await.unwrap(), vec![1, 2]);
    let again = db.store.migrate().await.unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(again.already, vec![1, 2]);
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
    let town = west
        .iter()
        .find(|t| t.name.ends_with("一丁目"))
        .unwrap()
        .clone();
    assert_eq!(town.assignment, "approximation");
    let in_town_before = db
        .store
        .institutions_in_area("higashiosaka-west")
        .await
        .unwrap()
        .iter()
        .filter(|i| i.town.as_deref() == Some(town.name.as_str()))
        .count();
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
