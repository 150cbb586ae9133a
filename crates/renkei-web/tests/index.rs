//! The directory's in-memory index through its refreshes on SQLite and PostgreSQL: a full
//! load, then increments that read only what changed — also right after a bulk insert, whose
//! rows all carry nearly the same time (the refresh must not read them again and again).

mod common;

use chrono::{Duration, Utc};
use common::*;
use renkei_testkit::{both_backends, TestDb};

async fn refreshes_read_only_what_changed_after_a_bulk_insert(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let index = &w.state.directory_index;
    let start = Utc::now();
    index.refresh_at(&w.store, start).await.unwrap();
    assert!(index.is_loaded());
    assert!(index.len() > 100, "{} entries", index.len());
    assert_eq!(
        index.last_increment(),
        None,
        "the first refresh is a full load"
    );
    // Soon after the bulk insert the margin before the last read covers its rows: read again.
    index
        .refresh_at(&w.store, start + Duration::seconds(5))
        .await
        .unwrap();
    assert!(index.last_increment().unwrap() > 100);
    // Once the last read began well after the insert (60 s), nothing is read again (before, every
    // refresh re-read the bulk insert's last 30 seconds — or reloaded everything every 5 s).
    index
        .refresh_at(&w.store, start + Duration::seconds(60))
        .await
        .unwrap();
    for later in [65, 70] {
        index
            .refresh_at(&w.store, start + Duration::seconds(later))
            .await
            .unwrap();
        assert_eq!(index.last_increment(), Some(0), "{later} s later");
    }
    // A change is still picked up.
    let before = index.len();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE institutions SET lat = NULL, lng = NULL, updated_at = $1 WHERE id = (SELECT MIN(id) FROM institutions WHERE lat IS NOT NULL)")
        .bind(renkei_store::time_text(start + Duration::seconds(72)))
        .execute(&pool)
        .await
        .unwrap();
    index
        .refresh_at(&w.store, start + Duration::seconds(75))
        .await
        .unwrap();
    assert_eq!(index.last_increment(), Some(1));
    assert_eq!(
        index.len(),
        before - 1,
        "an entry without a location leaves the index"
    );
}

both_backends!(refreshes_read_only_what_changed_after_a_bulk_insert);
