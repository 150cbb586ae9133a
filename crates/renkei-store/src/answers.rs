//! Writing safety-check answers in groups (what the answer writer calls in a surge): one
//! transaction, so one durable commit, for everything that queued up, in a handful of
//! statements rather than two per answer.
//!
//! Every batch writes first — it updates the targets it touches — so SQLite takes its write lock
//! at once (a read first could not be upgraded under a concurrent writer) and PostgreSQL locks
//! the targets' rows, so concurrent writers give one target distinct versions. Quick answers
//! arrive by their link's token: the batch resolves the tokens, refuses closed checks and keeps
//! the details given before, all in the same transaction, so a surge costs no read per request.

use crate::connect::Store;
use crate::error::StoreError;
use crate::now_text;
use renkei_domain::accounts::UserId;
use renkei_domain::safety::{Answer, Condition, QuickAnswer};
use sqlx::any::Any;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};

/// Rows per statement: well under SQLite's and PostgreSQL's parameter limits.
const CHUNK: usize = 200;

/// What became of a quick answer sent by its link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuickOutcome {
    /// Kept as this version.
    Saved(i64),
    /// The same as the last answer: nothing kept.
    Same,
    /// No target has this token (a forged or mistyped link).
    Unknown,
    /// The check is closed or past its deadline.
    Closed,
}

/// A version to insert.
struct NewVersion {
    target_id: i64,
    version: i64,
    text: String,
    entered_by: Option<i64>,
    condition: Condition,
}

type Tx<'c> = sqlx::Transaction<'c, Any>;

impl Store {
    /// Keeps an answer as the target's next version, in one transaction, and returns the
    /// version. `entered_by` marks an answer a coordinator took by phone.
    pub async fn record_safety_answer(
        &self,
        target_id: i64,
        answer: &Answer,
        entered_by: Option<UserId>,
    ) -> Result<i64, StoreError> {
        let versions = self
            .record_safety_answers(&[(target_id, answer.clone(), entered_by)])
            .await?;
        Ok(versions[0])
    }

    /// Keeps several answers in one transaction, returning each one's version in order. A
    /// target answered twice in the batch gets two versions, in order.
    pub async fn record_safety_answers(
        &self,
        answers: &[(i64, Answer, Option<UserId>)],
    ) -> Result<Vec<i64>, StoreError> {
        Ok(self.record_safety_batch(answers, &[]).await?.0)
    }

    /// One group: whole answers by target (phone entries, details), then quick answers by
    /// their link's token hash, each with the time it was sent (UTC text, the application's
    /// clock) to tell a closed check. Returns the versions of the first and the outcomes of
    /// the second.
    pub async fn record_safety_batch(
        &self,
        answers: &[(i64, Answer, Option<UserId>)],
        quick: &[(String, QuickAnswer, String)],
    ) -> Result<(Vec<i64>, Vec<QuickOutcome>), StoreError> {
        self.record_safety_group(answers, quick, &[]).await
    }

    /// [`Store::record_safety_batch`] with the first openings of links (`opened`: target ids)
    /// noted in the same transaction: in a surge, opening the form costs no commit of its own.
    pub async fn record_safety_group(
        &self,
        answers: &[(i64, Answer, Option<UserId>)],
        quick: &[(String, QuickAnswer, String)],
        opened: &[i64],
    ) -> Result<(Vec<i64>, Vec<QuickOutcome>), StoreError> {
        if answers.is_empty() && quick.is_empty() && opened.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let stamp = now_text();
        let mut tx = self.pool().begin().await?;
        let versions = whole_answers(&mut tx, &stamp, answers).await?;
        let outcomes = quick_answers(&mut tx, &stamp, quick).await?;
        for chunk in opened.chunks(500) {
            let marks = (0..chunk.len())
                .map(|i| format!("${}", i + 2))
                .collect::<Vec<_>>()
                .join(",");
            let sql = format!(
                "UPDATE safety_targets SET opened_at = $1 WHERE opened_at IS NULL AND id IN ({marks})"
            );
            let mut query = sqlx::query(&sql).bind(&stamp);
            for id in chunk {
                query = query.bind(*id);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok((versions, outcomes))
    }
}

/// Whole answers by target: lock, read the last versions, write.
async fn whole_answers(
    tx: &mut Tx<'_>,
    stamp: &str,
    answers: &[(i64, Answer, Option<UserId>)],
) -> Result<Vec<i64>, StoreError> {
    if answers.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = answers.iter().map(|(id, _, _)| *id).collect();
    lock_targets(tx, "id", &ids).await?;
    let mut latest: HashMap<i64, i64> = HashMap::new();
    let unique: Vec<i64> = {
        let mut u = ids.clone();
        u.sort_unstable();
        u.dedup();
        u
    };
    for chunk in unique.chunks(CHUNK) {
        let sql = format!(
            "SELECT target_id, MAX(version) AS version FROM safety_answers WHERE target_id IN ({}) GROUP BY target_id",
            placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(*id);
        }
        for row in q.fetch_all(&mut **tx).await? {
            latest.insert(row.try_get("target_id")?, row.try_get("version")?);
        }
    }
    let mut rows = Vec::with_capacity(answers.len());
    for (target_id, answer, entered_by) in answers {
        let v = latest.entry(*target_id).or_insert(0);
        *v += 1;
        rows.push(NewVersion {
            target_id: *target_id,
            version: *v,
            text: serde_json::to_string(answer).map_err(|e| StoreError::Invalid(e.to_string()))?,
            entered_by: entered_by.map(|u| u.0),
            condition: answer.condition(),
        });
    }
    write_versions(tx, stamp, &rows).await?;
    Ok(rows.iter().map(|r| r.version).collect())
}

/// Quick answers by token: lock, resolve the tokens with their checks and last answers, keep
/// each answer with the details given before unless it changes nothing.
async fn quick_answers(
    tx: &mut Tx<'_>,
    stamp: &str,
    quick: &[(String, QuickAnswer, String)],
) -> Result<Vec<QuickOutcome>, StoreError> {
    if quick.is_empty() {
        return Ok(Vec::new());
    }
    let mut hashes: Vec<String> = quick.iter().map(|(h, _, _)| h.clone()).collect();
    hashes.sort_unstable();
    hashes.dedup();
    lock_targets(tx, "token_hash", &hashes).await?;
    // token hash → (target, closed at, deadline, last version, last answer)
    type Known = (i64, Option<String>, String, i64, Option<Answer>);
    let mut known: HashMap<String, Known> = HashMap::new();
    for chunk in hashes.chunks(CHUNK) {
        let sql = format!(
            "SELECT t.id, t.token_hash, c.closed_at, c.deadline,
                    (SELECT MAX(s.version) FROM safety_answers s WHERE s.target_id = t.id) AS version,
                    (SELECT s.answer FROM safety_answers s WHERE s.target_id = t.id ORDER BY s.version DESC LIMIT 1) AS answer
             FROM safety_targets t JOIN safety_checks c ON c.id = t.check_id
             WHERE t.token_hash IN ({})",
            placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for h in chunk {
            q = q.bind(h.as_str());
        }
        for row in q.fetch_all(&mut **tx).await? {
            let answer: Option<String> = row.try_get("answer")?;
            let answer = answer
                .map(|t| serde_json::from_str(&t))
                .transpose()
                .map_err(|e| StoreError::Invalid(format!("answer: {e}")))?;
            known.insert(
                row.try_get("token_hash")?,
                (
                    row.try_get("id")?,
                    row.try_get("closed_at")?,
                    row.try_get("deadline")?,
                    row.try_get::<Option<i64>, _>("version")?.unwrap_or(0),
                    answer,
                ),
            );
        }
    }
    let mut outcomes = Vec::with_capacity(quick.len());
    let mut rows = Vec::new();
    for (hash, q, now) in quick {
        let Some((target_id, closed, deadline, version, last)) = known.get_mut(hash) else {
            outcomes.push(QuickOutcome::Unknown);
            continue;
        };
        if closed.is_some() || now.as_str() >= deadline.as_str() {
            outcomes.push(QuickOutcome::Closed);
            continue;
        }
        let answer = Answer {
            quick: q.clone(),
            details: last.as_ref().and_then(|a| a.details.clone()),
        };
        if last.as_ref() == Some(&answer) {
            outcomes.push(QuickOutcome::Same);
            continue;
        }
        *version += 1;
        rows.push(NewVersion {
            target_id: *target_id,
            version: *version,
            text: serde_json::to_string(&answer).map_err(|e| StoreError::Invalid(e.to_string()))?,
            entered_by: None,
            condition: answer.condition(),
        });
        outcomes.push(QuickOutcome::Saved(*version));
        *last = Some(answer);
    }
    write_versions(tx, stamp, &rows).await?;
    Ok(outcomes)
}

/// Touches the targets (`column` = `id` or `token_hash`) so the transaction writes first.
async fn lock_targets<T>(tx: &mut Tx<'_>, column: &str, keys: &[T]) -> Result<(), StoreError>
where
    T: for<'q> sqlx::Encode<'q, Any> + sqlx::Type<Any> + Clone + Send + Sync,
{
    for chunk in keys.chunks(CHUNK) {
        let sql = format!(
            "UPDATE safety_targets SET condition = condition WHERE {column} IN ({})",
            placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for k in chunk {
            q = q.bind(k.clone());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Sets each written target's answer time and its last version's condition, then inserts the
/// versions in multi-row inserts.
async fn write_versions(
    tx: &mut Tx<'_>,
    stamp: &str,
    rows: &[NewVersion],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut last: BTreeMap<i64, Condition> = BTreeMap::new();
    for r in rows {
        last.insert(r.target_id, r.condition);
    }
    let mut by_condition: BTreeMap<&'static str, Vec<i64>> = BTreeMap::new();
    for (target_id, condition) in &last {
        by_condition
            .entry(condition.code())
            .or_default()
            .push(*target_id);
    }
    for (condition, ids) in &by_condition {
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "UPDATE safety_targets SET answered_at = $1, condition = $2 WHERE id IN ({})",
                placeholders(3, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(stamp).bind(*condition);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut **tx).await?;
        }
    }
    for chunk in rows.chunks(CHUNK) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("({})", placeholders(1 + i * 5, 5)))
            .collect();
        let sql = format!(
            "INSERT INTO safety_answers (target_id, version, answer, answered_at, entered_by) VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(r.target_id)
                .bind(r.version)
                .bind(r.text.as_str())
                .bind(stamp)
                .bind(r.entered_by);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// `$from, $from+1, …` (`count` placeholders) for an `IN` list or a `VALUES` row.
fn placeholders(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
