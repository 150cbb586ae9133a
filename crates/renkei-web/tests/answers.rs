//! Answers committed in groups (`record_safety_answers`, what the answer writer calls in a
//! surge) on SQLite and PostgreSQL: a batch gives each answer the next version of its target,
//! several answers of one target in a batch get consecutive versions and the target shows the
//! last one's condition, and batches written at the same time never give one target the same
//! version twice.

mod common;

use common::*;
use renkei_domain::accounts::AccountRole;
use renkei_domain::safety::{Answer, Building, Condition, People, Power, QuickAnswer, Water};
use renkei_testkit::{both_backends, TestDb};

fn answer(people: People, accept: u32) -> Answer {
    Answer {
        quick: QuickAnswer {
            people,
            building: Building::Intact,
            power: Power::Grid,
            fuel_hours: None,
            water: Water::Available,
            can_accept: accept,
        },
        details: None,
    }
}

/// A drill for 八尾's clinics; returns its target ids.
async fn targets(w: &World) -> Vec<i64> {
    let mut coordinator = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let targeting = vec![("area", "yao".to_owned()), ("kind", "clinic".to_owned())];
    let id = create_drill(w, &mut coordinator, "一括書き込み", targeting).await;
    w.store
        .safety_targets(id)
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect()
}

async fn a_batch_gives_every_answer_its_targets_next_version(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let ids = targets(&w).await;
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    w.store
        .record_safety_answer(a, &answer(People::Safe, 0), None)
        .await
        .unwrap();
    let versions = w
        .store
        .record_safety_answers(&[
            (a, answer(People::Safe, 1), None),
            (b, answer(People::Safe, 0), None),
            (b, answer(People::Safe, 3), None),
            (c, answer(People::Safe, 2), None),
            (b, answer(People::Injured, 0), None),
        ])
        .await
        .unwrap();
    assert_eq!(versions, [2, 1, 2, 1, 3]);
    let kept = w.store.safety_answer_versions(b).await.unwrap();
    assert_eq!(kept.len(), 3);
    assert_eq!(kept[1].answer.quick.can_accept, 3);
    assert_eq!(kept[2].answer.quick.people, People::Injured);
    // The target shows its last answer's condition; the others theirs.
    let check = w.store.safety_checks().await.unwrap()[0].id;
    let rows = w.store.safety_targets(check).await.unwrap();
    let row = |id: i64| rows.iter().find(|t| t.id == id).unwrap();
    assert!(row(b).answered_at.is_some());
    assert_eq!(row(b).condition, Condition::Critical);
    assert_eq!(row(c).condition, Condition::Normal);
    assert_eq!(
        w.store.record_safety_answers(&[]).await.unwrap(),
        Vec::<i64>::new()
    );
}

async fn batches_at_the_same_time_never_repeat_a_version(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let ids = targets(&w).await;
    let shared = ids[0];
    let mut tasks = Vec::new();
    for round in 0..8u32 {
        let store = w.store.clone();
        let other = ids[1 + (round as usize % (ids.len() - 1))];
        tasks.push(tokio::spawn(async move {
            store
                .record_safety_answers(&[
                    (shared, answer(People::Safe, round), None),
                    (other, answer(People::Safe, round), None),
                ])
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let mut versions: Vec<i64> = w
        .store
        .safety_answer_versions(shared)
        .await
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    versions.sort();
    assert_eq!(versions, (1..=8).collect::<Vec<i64>>());
}

async fn quick_answers_by_token_keep_the_details_and_refuse_closed_checks(db: TestDb) {
    use renkei_store::answers::QuickOutcome;
    let w = world_with_demo_directory(&db).await;
    let ids = targets(&w).await;
    let check = w.store.safety_checks().await.unwrap()[0].clone();
    let rows = w.store.safety_targets(check.id).await.unwrap();
    let hash_of = |id: i64| {
        let t = rows.iter().find(|t| t.id == id).unwrap();
        renkei_domain::audit::token_hash(&w.store.safety_link_token(t.id, &t.link_salt).unwrap())
    };
    let (a, b) = (ids[0], ids[1]);
    // `a` answered before with details: a new quick answer keeps them.
    let mut with_details = answer(People::Safe, 0);
    with_details.details = Some(renkei_domain::safety::Details {
        needs: "水が足りない".into(),
        ..Default::default()
    });
    w.store
        .record_safety_answer(a, &with_details, None)
        .await
        .unwrap();
    let open = "2000-01-01T00:00:00.000000Z".to_owned();
    assert!(open < check.deadline);
    let late = "2999-01-01T00:00:00.000000Z".to_owned();
    let (_, outcomes) = w
        .store
        .record_safety_batch(
            &[],
            &[
                (hash_of(a), answer(People::Injured, 0).quick, open.clone()),
                (hash_of(b), answer(People::Safe, 0).quick, open.clone()),
                (hash_of(b), answer(People::Safe, 0).quick, open.clone()),
                ("0".repeat(64), answer(People::Safe, 0).quick, open.clone()),
                (hash_of(b), answer(People::Safe, 9).quick, late),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            QuickOutcome::Saved(2),
            QuickOutcome::Saved(1),
            QuickOutcome::Same,
            QuickOutcome::Unknown,
            QuickOutcome::Closed,
        ]
    );
    let kept = w.store.safety_answer_versions(a).await.unwrap();
    assert_eq!(kept[1].answer.quick.people, People::Injured);
    assert_eq!(
        kept[1].answer.details.as_ref().unwrap().needs,
        "水が足りない"
    );
    assert_eq!(w.store.safety_answer_versions(b).await.unwrap().len(), 1);
    let rows = w.store.safety_targets(check.id).await.unwrap();
    assert_eq!(
        rows.iter().find(|t| t.id == a).unwrap().condition,
        Condition::Critical
    );
}

both_backends!(
    quick_answers_by_token_keep_the_details_and_refuse_closed_checks,
    a_batch_gives_every_answer_its_targets_next_version,
    batches_at_the_same_time_never_repeat_a_version,
);
