//! The audit log: append-only, every row chained to the previous one by an HMAC, and the
//! verification that finds the first broken link.

use crate::connect::Store;
use crate::error::StoreError;
use renkei_domain::accounts::UserId;
use renkei_domain::audit::{entry_hash, head_seal, Anchor, ChainedFields, Outcome, GENESIS};
use sqlx::Row;

/// An event to record.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// Who acted, when known.
    pub actor: Option<UserId>,
    /// Action code, e.g. `login.success`, `admin.user.disable`, `access.denied`.
    pub action: String,
    /// What came of it.
    pub outcome: Outcome,
    /// What it was about, e.g. `user:12`, `route:/admin/audit`.
    pub target: String,
    /// Client address.
    pub client: String,
    /// Further details as JSON text (never a password, token or patient content).
    pub details: String,
}

impl AuditEvent {
    /// An event with empty details.
    pub fn new(
        actor: Option<UserId>,
        action: &str,
        outcome: Outcome,
        target: impl Into<String>,
        client: impl Into<String>,
    ) -> Self {
        Self {
            actor,
            action: action.to_owned(),
            outcome,
            target: target.into(),
            client: client.into(),
            details: "{}".to_owned(),
        }
    }

    /// The same event with details.
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    /// Sequence number.
    pub seq: i64,
    /// UTC time.
    pub at: String,
    /// Acting user.
    pub actor_user_id: Option<i64>,
    /// Actor's e-mail, when the user still exists.
    pub actor_email: Option<String>,
    /// Action code.
    pub action: String,
    /// Outcome code.
    pub outcome: String,
    /// Target.
    pub target: String,
    /// Client address.
    pub client: String,
    /// Details JSON.
    pub details: String,
}

/// Which entries to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only actions starting with this, e.g. `login.`.
    pub action_prefix: Option<String>,
    /// Only this actor.
    pub actor: Option<i64>,
    /// Only this outcome code.
    pub outcome: Option<String>,
    /// From this UTC time (inclusive, text).
    pub from: Option<String>,
    /// Before this UTC time (exclusive, text).
    pub until: Option<String>,
    /// Only entries older than this sequence number (keyset paging).
    pub before_seq: Option<i64>,
    /// At most this many (newest first).
    pub limit: i64,
}

/// The result of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerification {
    /// Entries read.
    pub checked: i64,
    /// The first broken link, if any.
    pub first_broken: Option<BrokenLink>,
}

/// Where and how the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// Sequence number of the first entry that does not verify (or where one is missing).
    pub seq: i64,
    /// What is wrong.
    pub reason: BreakReason,
}

/// What is wrong at a broken link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakReason {
    /// The entry's content does not match its hash: edited.
    ContentChanged,
    /// This entry is missing: deleted.
    Missing,
    /// The entry does not follow the previous one's hash: inserted or reordered.
    NotLinked,
    /// The log ends before the recorded head: entries at the end were deleted.
    TailMissing,
    /// The log goes beyond the recorded head: entries were added behind Renkei's back.
    BeyondHead,
    /// The head is not sealed with the key: it was rewound or written outside Renkei (entries
    /// at the end may have been cut).
    HeadForged,
}

/// Why a chain does not match an anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorProblem {
    /// The anchor is not signed with this installation's key (altered, or another's).
    NotSigned,
    /// The chain is shorter than the anchor: entries at the end were cut.
    Shorter,
    /// The chain holds another entry where the anchor's was: it was rewritten.
    Differs,
}

impl AnchorProblem {
    /// The description in one language (Japanese, or English when `english`).
    pub fn describe_in(self, english: bool) -> &'static str {
        half(self.describe(), english)
    }

    /// A Japanese and English description.
    pub fn describe(self) -> &'static str {
        match self {
            AnchorProblem::NotSigned => "アンカーがこの監査鍵で署名されていません（改変されたか、別の環境のものです） / the anchor is not signed with this audit key (altered, or from another installation)",
            AnchorProblem::Shorter => "監査ログがアンカーより短くなっています（末尾の記録が削除されています） / the log is shorter than the anchor: entries at the end were deleted",
            AnchorProblem::Differs => "アンカーの記録が書き換えられています / the anchored entry was rewritten",
        }
    }
}

/// One language of a "日本語 / English" description: the Japanese half, or the English one.
fn half(both: &'static str, english: bool) -> &'static str {
    match both.split_once(" / ") {
        Some((ja, en)) => {
            if english {
                en
            } else {
                ja
            }
        }
        None => both,
    }
}

impl BreakReason {
    /// The description in one language (Japanese, or English when `english`).
    pub fn describe_in(self, english: bool) -> &'static str {
        half(self.describe(), english)
    }

    /// A Japanese and English description.
    pub fn describe(self) -> &'static str {
        match self {
            BreakReason::ContentChanged => "内容が改ざんされています / content was edited",
            BreakReason::Missing => "この記録が削除されています / this entry was deleted",
            BreakReason::NotLinked => "前の記録とつながっていません（挿入または並べ替え） / not linked to the previous entry (inserted or reordered)",
            BreakReason::TailMissing => "末尾の記録が削除されています / entries at the end were deleted",
            BreakReason::BeyondHead => "記録されていない行が追加されています / rows were added outside Renkei",
            BreakReason::HeadForged => "末尾の位置（head）が鍵で封印されていません（巻き戻しまたは外部からの書き換え） / the head is not sealed with the key: rewound or written outside Renkei",
        }
    }
}

impl Store {
    /// Appends an event to the chain, returning its sequence number.
    pub async fn append_audit(&self, event: &AuditEvent) -> Result<i64, StoreError> {
        let key = self.audit_key()?.to_vec();
        let mut tx = self.pool().begin().await?;
        // Writing the head first takes the write lock (SQLite) or the row lock (PostgreSQL), so
        // appends are serialised across connections and instances.
        let head =
            sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
                .fetch_one(&mut *tx)
                .await?;
        let seq: i64 = head.try_get("seq")?;
        let previous: String = head.try_get("hash")?;
        let at = crate::now_text();
        let actor = event.actor.map(|a| a.0);
        let fields = ChainedFields {
            seq,
            at: &at,
            actor,
            action: &event.action,
            outcome: event.outcome.code(),
            target: &event.target,
            client: &event.client,
            details: &event.details,
        };
        let hash = entry_hash(&key, &previous, &fields);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor_user_id, action, outcome, target, client, details, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(seq)
        .bind(&at)
        .bind(actor)
        .bind(&event.action)
        .bind(event.outcome.code())
        .bind(&event.target)
        .bind(&event.client)
        .bind(&event.details)
        .bind(&previous)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE audit_head SET hash = $1, seal = $2 WHERE id = 1")
            .bind(&hash)
            .bind(head_seal(&key, seq, &hash))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Seals the head of a chain written before heads were sealed, trusting it as it stands at
    /// the upgrade — only when this process's migration run just added the seal (migration 26),
    /// so an unsealed head found later (a forgery) is never sealed. A store that migrated
    /// without the key seals when the key is attached and this is called again.
    pub async fn seal_unsealed_audit_head(&self) -> Result<(), StoreError> {
        if !self
            .head_awaits_seal
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Ok(());
        }
        let Ok(key) = self.audit_key().map(<[u8]>::to_vec) else {
            return Ok(());
        };
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1 AND seal IS NULL")
            .fetch_optional(self.pool())
            .await?;
        if let Some(head) = head {
            let seq: i64 = head.try_get("seq")?;
            let hash: String = head.try_get("hash")?;
            sqlx::query(
                "UPDATE audit_head SET seal = $1 WHERE id = 1 AND seal IS NULL AND seq = $2",
            )
            .bind(head_seal(&key, seq, &hash))
            .bind(seq)
            .execute(self.pool())
            .await?;
        }
        self.head_awaits_seal
            .store(false, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// The chain's head now, as an anchor signed with the audit key, to be kept outside the
    /// database (`renkei audit anchor`, or the server's periodic anchor file).
    pub async fn audit_anchor(&self) -> Result<Anchor, StoreError> {
        let key = self.audit_key()?.to_vec();
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(self.pool())
            .await?;
        let seq: i64 = head.try_get("seq")?;
        let hash: String = head.try_get("hash")?;
        Ok(Anchor::sign(&key, seq, &hash, &crate::now_text()))
    }

    /// Checks the chain against an anchor taken earlier: the anchor must be signed with this
    /// installation's key, and the chain must still hold the anchored entry with the anchored
    /// hash. `None` when it does; otherwise why not.
    pub async fn check_audit_anchor(
        &self,
        anchor: &Anchor,
    ) -> Result<Option<AnchorProblem>, StoreError> {
        let key = self.audit_key()?.to_vec();
        if !anchor.is_signed_by(&key) {
            return Ok(Some(AnchorProblem::NotSigned));
        }
        if anchor.seq == 0 {
            return Ok(None);
        }
        let stored: Option<String> =
            sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
                .bind(anchor.seq)
                .fetch_optional(self.pool())
                .await?;
        Ok(match stored {
            None => Some(AnchorProblem::Shorter),
            Some(hash) if hash != anchor.hash => Some(AnchorProblem::Differs),
            Some(_) => None,
        })
    }

    /// Entries matching the filter, newest first.
    pub async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT l.seq, l.at, l.actor_user_id, u.email AS actor_email, l.action, l.outcome, l.target, l.client, l.details
             FROM audit_log l LEFT JOIN users u ON u.id = l.actor_user_id
             WHERE ($1 = '' OR substr(l.action, 1, CAST($2 AS INTEGER)) = $1)
               AND ($3 = 0 OR l.actor_user_id = $3)
               AND ($4 = '' OR l.outcome = $4)
               AND ($5 = '' OR l.at >= $5)
               AND ($6 = '' OR l.at < $6)
               AND ($7 = 0 OR l.seq < $7)
             ORDER BY l.seq DESC
             LIMIT $8",
        )
        .bind(filter.action_prefix.clone().unwrap_or_default())
        .bind(filter.action_prefix.as_deref().map(|p| p.chars().count() as i64).unwrap_or(0))
        .bind(filter.actor.unwrap_or(0))
        .bind(filter.outcome.clone().unwrap_or_default())
        .bind(filter.from.clone().unwrap_or_default())
        .bind(filter.until.clone().unwrap_or_default())
        .bind(filter.before_seq.unwrap_or(0))
        .bind(filter.limit.clamp(1, 10_000))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    seq: r.try_get("seq")?,
                    at: r.try_get("at")?,
                    actor_user_id: r.try_get("actor_user_id")?,
                    actor_email: r.try_get("actor_email")?,
                    action: r.try_get("action")?,
                    outcome: r.try_get("outcome")?,
                    target: r.try_get("target")?,
                    client: r.try_get("client")?,
                    details: r.try_get("details")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Walks the whole chain in order and reports the first broken link.
    pub async fn verify_audit(&self) -> Result<AuditVerification, StoreError> {
        let key = self.audit_key()?.to_vec();
        let mut previous_hash = GENESIS.to_owned();
        let mut expected_seq = 1;
        let mut checked = 0;
        let page = 5_000;
        loop {
            let rows = sqlx::query(
                "SELECT seq, at, actor_user_id, action, outcome, target, client, details, prev_hash, hash
                 FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2",
            )
            .bind(expected_seq)
            .bind(page)
            .fetch_all(self.pool())
            .await?;
            for row in &rows {
                let seq: i64 = row.try_get("seq")?;
                let broken = |reason| {
                    Ok(AuditVerification {
                        checked,
                        first_broken: Some(BrokenLink { seq, reason }),
                    })
                };
                if seq != expected_seq {
                    let missing = BrokenLink {
                        seq: expected_seq,
                        reason: BreakReason::Missing,
                    };
                    return Ok(AuditVerification {
                        checked,
                        first_broken: Some(missing),
                    });
                }
                let prev: String = row.try_get("prev_hash")?;
                if prev != previous_hash {
                    return broken(BreakReason::NotLinked);
                }
                let (at, action, outcome, target, client, details): (
                    String,
                    String,
                    String,
                    String,
                    String,
                    String,
                ) = (
                    row.try_get("at")?,
                    row.try_get("action")?,
                    row.try_get("outcome")?,
                    row.try_get("target")?,
                    row.try_get("client")?,
                    row.try_get("details")?,
                );
                let fields = ChainedFields {
                    seq,
                    at: &at,
                    actor: row.try_get("actor_user_id")?,
                    action: &action,
                    outcome: &outcome,
                    target: &target,
                    client: &client,
                    details: &details,
                };
                let stored: String = row.try_get("hash")?;
                if entry_hash(&key, &prev, &fields) != stored {
                    return broken(BreakReason::ContentChanged);
                }
                previous_hash = stored;
                expected_seq += 1;
                checked += 1;
            }
            if (rows.len() as i64) < page {
                break;
            }
        }
        let head = sqlx::query("SELECT seq, hash, seal FROM audit_head WHERE id = 1")
            .fetch_one(self.pool())
            .await?;
        let head_seq: i64 = head.try_get("seq")?;
        let head_hash: String = head.try_get("hash")?;
        let seal: Option<String> = head.try_get("seal")?;
        let last_seq = expected_seq - 1;
        let sealed = seal.is_some_and(|s| {
            renkei_domain::totp::constant_time_eq(
                s.as_bytes(),
                head_seal(&key, head_seq, &head_hash).as_bytes(),
            )
        });
        let first_broken = if !sealed {
            Some(BrokenLink {
                seq: head_seq,
                reason: BreakReason::HeadForged,
            })
        } else if head_seq > last_seq {
            Some(BrokenLink {
                seq: last_seq + 1,
                reason: BreakReason::TailMissing,
            })
        } else if head_seq < last_seq || head_hash != previous_hash {
            Some(BrokenLink {
                seq: head_seq + 1,
                reason: BreakReason::BeyondHead,
            })
        } else {
            None
        };
        Ok(AuditVerification {
            checked,
            first_broken,
        })
    }
}
