//! The audit chain on both engines: appends, filters, and tampering found by verification.

use renkei_domain::accounts::UserId;
use renkei_domain::audit::Outcome;
use renkei_store::audit::{AnchorProblem, AuditEvent, AuditFilter, BreakReason};
use renkei_testkit::{both_backends, TestDb};

async fn five_events(db: &TestDb) {
    for n in 1..=5 {
        let action = if n % 2 == 0 {
            "login.failure"
        } else {
            "login.success"
        };
        let outcome = if n % 2 == 0 {
            Outcome::Failed
        } else {
            Outcome::Ok
        };
        let event = AuditEvent::new(
            Some(UserId(n)),
            action,
            outcome,
            format!("user:{n}"),
            "127.0.0.1",
        )
        .with_details(format!("{{\"n\":{n}}}"));
        assert_eq!(db.store.append_audit(&event).await.unwrap(), n);
    }
}

async fn exec(db: &TestDb, sql: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::raw_sql(sql).execute(&pool).await.unwrap();
    pool.close().await;
}

async fn broken_at(db: &TestDb) -> Option<(i64, BreakReason)> {
    db.store
        .verify_audit()
        .await
        .unwrap()
        .first_broken
        .map(|b| (b.seq, b.reason))
}

async fn an_intact_chain_verifies_and_filters_work(db: TestDb) {
    assert_eq!(db.store.verify_audit().await.unwrap().checked, 0);
    five_events(&db).await;
    let v = db.store.verify_audit().await.unwrap();
    assert_eq!((v.checked, v.first_broken), (5, None));
    let all = db
        .store
        .audit_entries(&AuditFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [5, 4, 3, 2, 1]
    );
    let failures = db
        .store
        .audit_entries(&AuditFilter {
            action_prefix: Some("login.f".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(failures.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 2]);
    let by_actor = db
        .store
        .audit_entries(&AuditFilter {
            actor: Some(3),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_actor.len(), 1);
    let page = db
        .store
        .audit_entries(&AuditFilter {
            before_seq: Some(3),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page[0].seq, 2);
}

async fn an_edited_entry_is_found(db: TestDb) {
    five_events(&db).await;
    exec(
        &db,
        "UPDATE audit_log SET details = '{\"n\":99}' WHERE seq = 3",
    )
    .await;
    assert_eq!(broken_at(&db).await, Some((3, BreakReason::ContentChanged)));
}

async fn a_deleted_entry_is_found(db: TestDb) {
    five_events(&db).await;
    exec(&db, "DELETE FROM audit_log WHERE seq = 3").await;
    assert_eq!(broken_at(&db).await, Some((3, BreakReason::Missing)));
}

async fn a_deleted_last_entry_is_found(db: TestDb) {
    five_events(&db).await;
    exec(&db, "DELETE FROM audit_log WHERE seq = 5").await;
    assert_eq!(broken_at(&db).await, Some((5, BreakReason::TailMissing)));
}

async fn an_inserted_entry_is_found(db: TestDb) {
    five_events(&db).await;
    // Renumber 3..5 to 4..6 and slip a forged entry in as 3, copying a real entry's hashes.
    exec(&db, "UPDATE audit_log SET seq = seq + 100 WHERE seq >= 3").await;
    exec(&db, "UPDATE audit_log SET seq = seq - 99 WHERE seq >= 100").await;
    exec(&db, "INSERT INTO audit_log (seq, at, actor_user_id, action, outcome, target, client, details, prev_hash, hash)
               SELECT 3, at, actor_user_id, 'login.success', 'ok', 'user:1', client, '{}', hash, hash FROM audit_log WHERE seq = 2").await;
    assert_eq!(broken_at(&db).await, Some((3, BreakReason::ContentChanged)));
}

async fn an_entry_appended_outside_renkei_is_found(db: TestDb) {
    five_events(&db).await;
    exec(&db, "INSERT INTO audit_log (seq, at, actor_user_id, action, outcome, target, client, details, prev_hash, hash)
               SELECT 6, at, actor_user_id, action, outcome, target, client, details, hash, hash FROM audit_log WHERE seq = 5").await;
    assert_eq!(broken_at(&db).await, Some((6, BreakReason::ContentChanged)));
}

async fn concurrent_appends_keep_one_chain(db: TestDb) {
    let mut tasks = Vec::new();
    for n in 0..40 {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .append_audit(&AuditEvent::new(
                    None,
                    "test.concurrent",
                    Outcome::Ok,
                    format!("n:{n}"),
                    "-",
                ))
                .await
                .unwrap()
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, (1..=40).collect::<Vec<i64>>());
    assert_eq!(db.store.verify_audit().await.unwrap().first_broken, None);
}

async fn head_row(db: &TestDb) -> (i64, String, String) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let row: (i64, String, String) =
        sqlx::query_as("SELECT seq, hash, seal FROM audit_head WHERE id = 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    row
}

/// M1 of the security probe: the last entries deleted and the head rewound to the last one
/// kept (`UPDATE audit_head SET seq = …, hash = …`) passed verification. The head is sealed
/// with the key now, so the rewound head is found.
async fn a_tail_cut_with_the_head_rewound_is_found(db: TestDb) {
    five_events(&db).await;
    assert_eq!(broken_at(&db).await, None);
    exec(&db, "DELETE FROM audit_log WHERE seq > 2").await;
    exec(
        &db,
        "UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit_log WHERE seq = 2) WHERE id = 1",
    )
    .await;
    assert_eq!(broken_at(&db).await, Some((2, BreakReason::HeadForged)));
    exec(&db, "UPDATE audit_head SET seal = NULL WHERE id = 1").await;
    // An unsealed head found later is a forgery: starting again does not seal it.
    db.store.migrate().await.unwrap();
    db.store.seal_unsealed_audit_head().await.unwrap();
    assert_eq!(
        broken_at(&db).await,
        Some((2, BreakReason::HeadForged)),
        "an unsealed head is not taken on trust"
    );
}

/// Someone who kept an old head row (with its seal) can restore it after cutting the tail; the
/// chain then verifies on its own, but not against an anchor taken outside the database.
async fn an_anchor_catches_a_cut_even_with_an_old_sealed_head_restored(db: TestDb) {
    for n in 1..=2 {
        db.store
            .append_audit(&AuditEvent::new(
                Some(UserId(n)),
                "login.success",
                Outcome::Ok,
                "x",
                "-",
            ))
            .await
            .unwrap();
    }
    let (old_seq, old_hash, old_seal) = head_row(&db).await;
    five_events_after(&db, 2).await;
    let anchor = db.store.audit_anchor().await.unwrap();
    assert_eq!(anchor.seq, 7);
    assert_eq!(db.store.check_audit_anchor(&anchor).await.unwrap(), None);
    exec(&db, "DELETE FROM audit_log WHERE seq > 2").await;
    exec(
        &db,
        &format!("UPDATE audit_head SET seq = {old_seq}, hash = '{old_hash}', seal = '{old_seal}' WHERE id = 1"),
    )
    .await;
    assert_eq!(broken_at(&db).await, None, "the chain alone cannot tell");
    assert_eq!(
        db.store.check_audit_anchor(&anchor).await.unwrap(),
        Some(AnchorProblem::Shorter)
    );
    let mut forged = anchor.clone();
    forged.seq = 2;
    assert_eq!(
        db.store.check_audit_anchor(&forged).await.unwrap(),
        Some(AnchorProblem::NotSigned)
    );
}

async fn five_events_after(db: &TestDb, before: i64) {
    for n in 1..=5 {
        let seq = db
            .store
            .append_audit(&AuditEvent::new(
                Some(UserId(n)),
                "careteam.read",
                Outcome::Ok,
                "patient:1",
                "-",
            ))
            .await
            .unwrap();
        assert_eq!(seq, before + n);
    }
}

/// A chain written before heads were sealed (schema 25) is sealed by the upgrade, as it stands
/// then, and verifies afterwards. On PostgreSQL, where the test can take the column away again
/// (SQLite's copy kept seeing it through the store's open connections).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgraded_chain_is_sealed_at_the_upgrade_on_postgres() {
    renkei_testkit::run_postgres(an_upgraded_chain_is_sealed_at_the_upgrade).await;
}

async fn an_upgraded_chain_is_sealed_at_the_upgrade(db: TestDb) {
    five_events(&db).await;
    exec(&db, "ALTER TABLE audit_head DROP COLUMN seal").await;
    exec(&db, "DELETE FROM renkei_migrations WHERE version = 26").await;
    let report = db.store.migrate().await.unwrap();
    assert_eq!(report.applied, vec![26]);
    assert_eq!(broken_at(&db).await, None);
}

both_backends!(
    a_tail_cut_with_the_head_rewound_is_found,
    an_anchor_catches_a_cut_even_with_an_old_sealed_head_restored,
    an_intact_chain_verifies_and_filters_work,
    an_edited_entry_is_found,
    a_deleted_entry_is_found,
    a_deleted_last_entry_is_found,
    an_inserted_entry_is_found,
    an_entry_appended_outside_renkei_is_found,
    concurrent_appends_keep_one_chain,
);
