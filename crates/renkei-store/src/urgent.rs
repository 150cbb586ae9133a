//! Urgent requests between institutions (migration 11): the request with its case summary, its
//! recipients ring by ring, and the timeline. The first acceptance is one conditional UPDATE of
//! the request (`status = 'open'` → `'accepted'`), so of two acceptances at the same instant
//! exactly one finds the request open, on both engines; every other change to a request first
//! touches its row, so declines, escalation and withdrawal of one request are serialised too.

use crate::connect::Store;
use crate::error::StoreError;
use crate::time_text;
use chrono::{DateTime, Utc};
use renkei_domain::accounts::UserId;
use renkei_domain::capability::Capability;
use renkei_domain::institution::InstitutionKind;
use renkei_domain::urgent::{
    escalation, AgeBand, CaseSummary, DeclineReason, Escalation, EventKind, Outcome, Recipient,
    RequestKind, RequestStatus, Routing, Sex,
};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A request to store: who asks, what, how it is routed and to whom.
#[derive(Debug, Clone)]
pub struct NewUrgentRequest<'a> {
    /// The requesting institution.
    pub requester_id: i64,
    /// What is asked for.
    pub kind: RequestKind,
    /// The case, naming nobody.
    pub summary: &'a CaseSummary,
    /// Whom the recipients call at the requester.
    pub contact: &'a str,
    /// How the recipients were found.
    pub routing: Routing,
    /// The recipients with their rings.
    pub recipients: &'a [Recipient],
}

/// A stored request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRow {
    /// Its id.
    pub id: i64,
    /// The requesting institution.
    pub requester_id: i64,
    /// Its name.
    pub requester_name: String,
    /// Its phone.
    pub requester_phone: Option<String>,
    /// Its area code.
    pub area_code: String,
    /// What is asked for.
    pub kind: RequestKind,
    /// The case.
    pub summary: CaseSummary,
    /// Whom to call at the requester.
    pub contact: String,
    /// Whether the recipients were chosen by hand (else the nearest, in rings).
    pub chosen: bool,
    /// Minutes between rings, if it escalates.
    pub escalate_minutes: Option<u32>,
    /// Rings in all.
    pub rings_total: u32,
    /// The last ring asked.
    pub current_ring: u32,
    /// When that ring was asked (UTC text).
    pub ring_opened_at: String,
    /// When every ring had been asked without an acceptance in time (UTC text).
    pub exhausted_at: Option<String>,
    /// Where it stands.
    pub status: RequestStatus,
    /// When it was sent (UTC text).
    pub created_at: String,
    /// The accepting institution's id and name.
    pub accepted_by: Option<(i64, String)>,
    /// When it was accepted (UTC text).
    pub accepted_at: Option<String>,
    /// When it was accepted or withdrawn (UTC text).
    pub closed_at: Option<String>,
}

/// A recipient's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientAnswer {
    /// Accepted (and was first).
    Accepted,
    /// Declined, with a reason.
    Declined(DeclineReason),
}

/// One recipient of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipientRow {
    /// The institution.
    pub institution_id: i64,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: InstitutionKind,
    /// Its phone.
    pub phone: Option<String>,
    /// The ring it is asked in.
    pub ring: u32,
    /// Distance from the patient's area, km.
    pub distance_km: f64,
    /// When its ring was asked (UTC text); `None` while it is not asked yet.
    pub notified_at: Option<String>,
    /// Its answer.
    pub answer: Option<RecipientAnswer>,
    /// What it added to a decline.
    pub note: Option<String>,
    /// When it answered (UTC text).
    pub answered_at: Option<String>,
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// Its id (increasing).
    pub id: i64,
    /// When (UTC text).
    pub at: String,
    /// What happened.
    pub kind: EventKind,
    /// The institution it concerns, with its name.
    pub institution: Option<(i64, String)>,
    /// The ring it concerns.
    pub ring: Option<u32>,
    /// The reason code or note.
    pub detail: String,
}

/// A request as one of its recipients sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedRow {
    /// The request.
    pub request: RequestRow,
    /// The recipient's own line.
    pub mine: RecipientRow,
}

/// What a decline led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeclineOutcome {
    /// Recorded; others asked are still to answer.
    Recorded,
    /// Everyone asked has declined, so the next ring was asked at once: (ring, institutions).
    NextRing(u32, Vec<i64>),
    /// Everyone asked in every ring has declined.
    Exhausted,
}

/// What one escalation run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EscalationRun {
    /// Requests whose next ring was asked: (request, ring, institutions now asked).
    pub rings: Vec<(i64, u32, Vec<i64>)>,
    /// Requests whose every ring has now been asked without an acceptance.
    pub exhausted: Vec<i64>,
}

/// A timestamp stored as text, read back.
fn time_of(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Invalid(format!("time {text}")))
}

fn small(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

fn coded<T>(code: &str, what: &str, of: impl Fn(&str) -> Option<T>) -> Result<T, StoreError> {
    of(code).ok_or_else(|| StoreError::Invalid(format!("{what} {code}")))
}

const REQUEST_SELECT: &str = "SELECT q.id, q.requester_id, r.name AS requester_name, r.phone AS requester_phone,
        q.area_code, q.kind, q.age_band, q.sex, q.condition_text, q.needs, q.needed, q.place, q.contact,
        q.routing, q.escalate_minutes, q.rings_total, q.current_ring, q.ring_opened_at, q.exhausted_at,
        q.status, q.created_at, q.accepted_institution, a.name AS accepted_name, q.accepted_at, q.closed_at
     FROM urgent_requests q
     JOIN institutions r ON r.id = q.requester_id
     LEFT JOIN institutions a ON a.id = q.accepted_institution";

fn request_of(r: &AnyRow) -> Result<RequestRow, StoreError> {
    let needed: String = r.try_get("needed")?;
    let accepted: Option<i64> = r.try_get("accepted_institution")?;
    let accepted_name: Option<String> = r.try_get("accepted_name")?;
    Ok(RequestRow {
        id: r.try_get("id")?,
        requester_id: r.try_get("requester_id")?,
        requester_name: r.try_get("requester_name")?,
        requester_phone: r.try_get("requester_phone")?,
        area_code: r.try_get("area_code")?,
        kind: coded(
            &r.try_get::<String, _>("kind")?,
            "request kind",
            RequestKind::from_code,
        )?,
        summary: CaseSummary {
            age_band: coded(
                &r.try_get::<String, _>("age_band")?,
                "age band",
                AgeBand::from_code,
            )?,
            sex: coded(&r.try_get::<String, _>("sex")?, "sex", Sex::from_code)?,
            condition: r.try_get("condition_text")?,
            needs: r.try_get("needs")?,
            needed: needed
                .split(',')
                .filter_map(Capability::from_code)
                .collect(),
            area: r.try_get("place")?,
        },
        contact: r.try_get("contact")?,
        chosen: r.try_get::<String, _>("routing")? == "chosen",
        escalate_minutes: r.try_get::<Option<i64>, _>("escalate_minutes")?.map(small),
        rings_total: small(r.try_get("rings_total")?),
        current_ring: small(r.try_get("current_ring")?),
        ring_opened_at: r.try_get("ring_opened_at")?,
        exhausted_at: r.try_get("exhausted_at")?,
        status: coded(
            &r.try_get::<String, _>("status")?,
            "request status",
            RequestStatus::from_code,
        )?,
        created_at: r.try_get("created_at")?,
        accepted_by: accepted.zip(accepted_name),
        accepted_at: r.try_get("accepted_at")?,
        closed_at: r.try_get("closed_at")?,
    })
}

const RECIPIENT_SELECT: &str =
    "SELECT p.request_id, p.institution_id, i.name, i.kind, i.phone, p.ring, p.distance_m,
        p.notified_at, p.answer, p.reason, p.note, p.answered_at
     FROM urgent_recipients p JOIN institutions i ON i.id = p.institution_id";

fn recipient_of(r: &AnyRow) -> Result<RecipientRow, StoreError> {
    let answer: Option<String> = r.try_get("answer")?;
    let reason: Option<String> = r.try_get("reason")?;
    let answer = match answer.as_deref() {
        None => None,
        Some("accepted") => Some(RecipientAnswer::Accepted),
        Some(_) => Some(RecipientAnswer::Declined(
            reason
                .as_deref()
                .and_then(DeclineReason::from_code)
                .unwrap_or(DeclineReason::Other),
        )),
    };
    Ok(RecipientRow {
        institution_id: r.try_get("institution_id")?,
        name: r.try_get("name")?,
        kind: coded(
            &r.try_get::<String, _>("kind")?,
            "institution kind",
            InstitutionKind::from_code,
        )?,
        phone: r.try_get("phone")?,
        ring: small(r.try_get("ring")?),
        distance_km: r.try_get::<i64, _>("distance_m")? as f64 / 1000.0,
        notified_at: r.try_get("notified_at")?,
        answer,
        note: r.try_get("note")?,
        answered_at: r.try_get("answered_at")?,
    })
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

async fn add_event(
    tx: &mut Tx,
    request: i64,
    at: &str,
    kind: EventKind,
    institution: Option<i64>,
    ring: Option<u32>,
    detail: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO urgent_events (request_id, at, kind, institution_id, ring, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(request)
    .bind(at)
    .bind(kind.code())
    .bind(institution)
    .bind(ring.map(i64::from))
    .bind(detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Asks ring `ring` of `request` (whose last ring asked is `ring - 1`); the institutions asked,
/// or `None` when someone else moved it first or it is no longer open.
async fn open_ring(
    tx: &mut Tx,
    request: i64,
    ring: u32,
    at: &str,
) -> Result<Option<Vec<i64>>, StoreError> {
    let moved = sqlx::query(
        "UPDATE urgent_requests SET current_ring = $1, ring_opened_at = $2
         WHERE id = $3 AND current_ring = $4 AND status = 'open'",
    )
    .bind(i64::from(ring))
    .bind(at)
    .bind(request)
    .bind(i64::from(ring) - 1)
    .execute(&mut **tx)
    .await?;
    if moved.rows_affected() != 1 {
        return Ok(None);
    }
    sqlx::query(
        "UPDATE urgent_recipients SET notified_at = $1 WHERE request_id = $2 AND ring = $3",
    )
    .bind(at)
    .bind(request)
    .bind(i64::from(ring))
    .execute(&mut **tx)
    .await?;
    let asked: Vec<i64> = sqlx::query_scalar(
        "SELECT institution_id FROM urgent_recipients WHERE request_id = $1 AND ring = $2
         ORDER BY distance_m, institution_id",
    )
    .bind(request)
    .bind(i64::from(ring))
    .fetch_all(&mut **tx)
    .await?;
    add_event(
        tx,
        request,
        at,
        EventKind::RingOpened,
        None,
        Some(ring),
        &asked.len().to_string(),
    )
    .await?;
    Ok(Some(asked))
}

/// Marks a request whose every ring has been asked as exhausted (once).
async fn mark_exhausted(tx: &mut Tx, request: i64, at: &str) -> Result<bool, StoreError> {
    let marked = sqlx::query(
        "UPDATE urgent_requests SET exhausted_at = $1
         WHERE id = $2 AND status = 'open' AND exhausted_at IS NULL",
    )
    .bind(at)
    .bind(request)
    .execute(&mut **tx)
    .await?;
    if marked.rows_affected() == 1 {
        add_event(tx, request, at, EventKind::Exhausted, None, None, "").await?;
    }
    Ok(marked.rows_affected() == 1)
}

/// Why a request could not be changed: gone, already accepted (by whom) or withdrawn.
async fn why_closed(store: &Store, request: i64) -> StoreError {
    match store.urgent_request(request).await {
        Ok(Some(r)) => match (r.status, r.accepted_by) {
            (RequestStatus::Accepted, Some((_, name))) => StoreError::Conflict(format!(
                "この依頼はすでに{name}が受け入れました（先着で決まります）"
            )),
            (RequestStatus::Cancelled, _) => {
                StoreError::Conflict("この依頼は依頼元が取り下げました".into())
            }
            _ => StoreError::Conflict("この依頼はもう受け付けていません".into()),
        },
        Ok(None) => StoreError::NotFound("urgent request".into()),
        Err(e) => e,
    }
}

impl Store {
    /// Stores a request and asks its first ring; returns its id.
    pub async fn create_urgent_request(
        &self,
        new: &NewUrgentRequest<'_>,
        by: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        if new.recipients.is_empty() {
            return Err(StoreError::Invalid("no recipients".into()));
        }
        let at = time_text(now);
        let rings_total = new.recipients.iter().map(|r| r.ring).max().unwrap_or(1);
        let needed: Vec<&str> = new.summary.needed.iter().map(|c| c.code()).collect();
        // Read before the transaction: in SQLite a transaction that reads first cannot write
        // once another connection has committed meanwhile.
        let area: String = sqlx::query_scalar(
            "SELECT a.code FROM institutions i JOIN areas a ON a.id = i.area_id WHERE i.id = $1",
        )
        .bind(new.requester_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::NotFound("institution".into()))?;
        let mut tx = self.pool().begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO urgent_requests (requester_id, area_code, kind, age_band, sex, condition_text,
                 needs, needed, place, contact, routing, escalate_minutes, rings_total, current_ring,
                 ring_opened_at, status, created_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, 'open', $15, $16)
             RETURNING id",
        )
        .bind(new.requester_id)
        .bind(&area)
        .bind(new.kind.code())
        .bind(new.summary.age_band.code())
        .bind(new.summary.sex.code())
        .bind(new.summary.condition.trim())
        .bind(new.summary.needs.trim())
        .bind(needed.join(","))
        .bind(new.summary.area.trim())
        .bind(new.contact.trim())
        .bind(match new.routing {
            Routing::Chosen { .. } => "chosen",
            Routing::Nearest { .. } => "nearest",
        })
        .bind(i64::from(new.routing.escalate_minutes()))
        .bind(i64::from(rings_total))
        .bind(&at)
        .bind(&at)
        .bind(by.map(|u| u.0))
        .fetch_one(&mut *tx)
        .await?;
        for r in new.recipients {
            sqlx::query(
                "INSERT INTO urgent_recipients (request_id, institution_id, ring, distance_m, notified_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(r.institution_id)
            .bind(i64::from(r.ring))
            .bind((r.distance_km * 1000.0).round() as i64)
            .bind((r.ring == 1).then_some(at.as_str()))
            .execute(&mut *tx)
            .await?;
        }
        let first = new.recipients.iter().filter(|r| r.ring == 1).count();
        add_event(
            &mut tx,
            id,
            &at,
            EventKind::Created,
            Some(new.requester_id),
            Some(1),
            &first.to_string(),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A request.
    pub async fn urgent_request(&self, id: i64) -> Result<Option<RequestRow>, StoreError> {
        let sql = format!("{REQUEST_SELECT} WHERE q.id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(request_of).transpose()
    }

    /// A request's recipients, ring by ring, nearest first.
    pub async fn urgent_recipients(&self, id: i64) -> Result<Vec<RecipientRow>, StoreError> {
        let sql = format!(
            "{RECIPIENT_SELECT} WHERE p.request_id = $1 ORDER BY p.ring, p.distance_m, p.institution_id"
        );
        let rows = sqlx::query(&sql).bind(id).fetch_all(self.pool()).await?;
        rows.iter().map(recipient_of).collect()
    }

    /// A request's timeline, oldest first.
    pub async fn urgent_events(&self, id: i64) -> Result<Vec<EventRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.id, e.at, e.kind, e.institution_id, i.name, e.ring, e.detail
             FROM urgent_events e LEFT JOIN institutions i ON i.id = e.institution_id
             WHERE e.request_id = $1 ORDER BY e.id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let institution: Option<i64> = r.try_get("institution_id")?;
                let name: Option<String> = r.try_get("name")?;
                Ok(EventRow {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    kind: coded(
                        &r.try_get::<String, _>("kind")?,
                        "event",
                        EventKind::from_code,
                    )?,
                    institution: institution.zip(name),
                    ring: r.try_get::<Option<i64>, _>("ring")?.map(small),
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }

    /// `institution` accepts the request. The first acceptance wins: when the request is no
    /// longer open, `Conflict` says who accepted it (and the late offer goes on the timeline);
    /// an institution not (yet) asked gets `NotFound`.
    pub async fn accept_urgent(
        &self,
        request: i64,
        institution: i64,
        by: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at = time_text(now);
        let mut tx = self.pool().begin().await?;
        let won = sqlx::query(
            "UPDATE urgent_requests SET status = 'accepted', accepted_institution = $1, accepted_at = $2,
                 accepted_by = $3, closed_at = $2
             WHERE id = $4 AND status = 'open' AND EXISTS (
                 SELECT 1 FROM urgent_recipients p WHERE p.request_id = $4 AND p.institution_id = $1
                   AND p.notified_at IS NOT NULL AND p.answer IS NULL)",
        )
        .bind(institution)
        .bind(&at)
        .bind(by.map(|u| u.0))
        .bind(request)
        .execute(&mut *tx)
        .await?;
        if won.rows_affected() != 1 {
            drop(tx);
            let mine = sqlx::query(
                "SELECT notified_at, answer FROM urgent_recipients WHERE request_id = $1 AND institution_id = $2",
            )
            .bind(request)
            .bind(institution)
            .fetch_optional(self.pool())
            .await?;
            let Some(mine) = mine else {
                return Err(StoreError::NotFound("urgent request".into()));
            };
            if mine.try_get::<Option<String>, _>("notified_at")?.is_none() {
                return Err(StoreError::NotFound("urgent request".into()));
            }
            match mine.try_get::<Option<String>, _>("answer")?.as_deref() {
                // Pressed twice: the first press won, and that is what the second wanted.
                Some("accepted") => return Ok(()),
                Some(_) => {
                    return Err(StoreError::Conflict(
                        "この依頼にはお断りの回答をしています。受け入れられるようになったときは、依頼元に電話してください"
                            .into(),
                    ))
                }
                None => {}
            }
            let why = why_closed(self, request).await;
            if matches!(
                self.urgent_request(request).await?.map(|r| r.status),
                Some(RequestStatus::Accepted)
            ) {
                let mut tx = self.pool().begin().await?;
                add_event(
                    &mut tx,
                    request,
                    &at,
                    EventKind::Late,
                    Some(institution),
                    None,
                    "",
                )
                .await?;
                tx.commit().await?;
            }
            return Err(why);
        }
        sqlx::query(
            "UPDATE urgent_recipients SET answer = 'accepted', answered_at = $1, answered_by = $2
             WHERE request_id = $3 AND institution_id = $4",
        )
        .bind(&at)
        .bind(by.map(|u| u.0))
        .bind(request)
        .bind(institution)
        .execute(&mut *tx)
        .await?;
        add_event(
            &mut tx,
            request,
            &at,
            EventKind::Accepted,
            Some(institution),
            None,
            "",
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `institution` declines with a reason. When everyone asked so far has declined, the next
    /// ring is asked at once, or — with no ring left — the request is marked exhausted.
    pub async fn decline_urgent(
        &self,
        request: i64,
        institution: i64,
        reason: DeclineReason,
        note: &str,
        by: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<DeclineOutcome, StoreError> {
        let at = time_text(now);
        let mut tx = self.pool().begin().await?;
        // Write first: the request's row serialises the answers to one request.
        let open = sqlx::query(
            "UPDATE urgent_requests SET current_ring = current_ring WHERE id = $1 AND status = 'open'",
        )
        .bind(request)
        .execute(&mut *tx)
        .await?;
        if open.rows_affected() != 1 {
            drop(tx);
            return Err(why_closed(self, request).await);
        }
        let note = note.trim();
        let answered = sqlx::query(
            "UPDATE urgent_recipients SET answer = 'declined', reason = $1, note = $2, answered_at = $3,
                 answered_by = $4
             WHERE request_id = $5 AND institution_id = $6 AND notified_at IS NOT NULL AND answer IS NULL",
        )
        .bind(reason.code())
        .bind(Some(note).filter(|n| !n.is_empty()))
        .bind(&at)
        .bind(by.map(|u| u.0))
        .bind(request)
        .bind(institution)
        .execute(&mut *tx)
        .await?;
        if answered.rows_affected() != 1 {
            let asked: Option<Option<String>> = sqlx::query_scalar(
                "SELECT notified_at FROM urgent_recipients WHERE request_id = $1 AND institution_id = $2",
            )
            .bind(request)
            .bind(institution)
            .fetch_optional(&mut *tx)
            .await?;
            return Err(match asked {
                Some(Some(_)) => StoreError::Conflict("この依頼にはすでに回答しています".into()),
                _ => StoreError::NotFound("urgent request".into()),
            });
        }
        let detail = if note.is_empty() {
            reason.code().to_owned()
        } else {
            format!("{}: {note}", reason.code())
        };
        add_event(
            &mut tx,
            request,
            &at,
            EventKind::Declined,
            Some(institution),
            None,
            &detail,
        )
        .await?;
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM urgent_recipients
             WHERE request_id = $1 AND notified_at IS NOT NULL AND answer IS NULL",
        )
        .bind(request)
        .fetch_one(&mut *tx)
        .await?;
        let mut outcome = DeclineOutcome::Recorded;
        if waiting == 0 {
            let row =
                sqlx::query("SELECT current_ring, rings_total FROM urgent_requests WHERE id = $1")
                    .bind(request)
                    .fetch_one(&mut *tx)
                    .await?;
            let (ring, total) = (
                small(row.try_get("current_ring")?),
                small(row.try_get("rings_total")?),
            );
            outcome = if ring < total {
                match open_ring(&mut tx, request, ring + 1, &at).await? {
                    Some(asked) => DeclineOutcome::NextRing(ring + 1, asked),
                    None => DeclineOutcome::Recorded,
                }
            } else if mark_exhausted(&mut tx, request, &at).await? {
                DeclineOutcome::Exhausted
            } else {
                DeclineOutcome::Recorded
            };
        }
        tx.commit().await?;
        Ok(outcome)
    }

    /// The requester withdraws an open request.
    pub async fn cancel_urgent(
        &self,
        request: i64,
        requester: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at = time_text(now);
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE urgent_requests SET status = 'cancelled', closed_at = $1
             WHERE id = $2 AND requester_id = $3 AND status = 'open'",
        )
        .bind(&at)
        .bind(request)
        .bind(requester)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            drop(tx);
            return Err(why_closed(self, request).await);
        }
        add_event(
            &mut tx,
            request,
            &at,
            EventKind::Cancelled,
            Some(requester),
            None,
            "",
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The requester asks the next ring now instead of waiting: (ring, institutions asked), or
    /// `None` when every ring is already asked.
    pub async fn widen_urgent(
        &self,
        request: i64,
        requester: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<(u32, Vec<i64>)>, StoreError> {
        let at = time_text(now);
        let Some(r) = self.urgent_request(request).await? else {
            return Err(StoreError::NotFound("urgent request".into()));
        };
        if r.requester_id != requester {
            return Err(StoreError::NotFound("urgent request".into()));
        }
        if r.status != RequestStatus::Open {
            return Err(why_closed(self, request).await);
        }
        if r.current_ring >= r.rings_total {
            return Ok(None);
        }
        let mut tx = self.pool().begin().await?;
        let asked = open_ring(&mut tx, request, r.current_ring + 1, &at).await?;
        tx.commit().await?;
        Ok(asked.map(|a| (r.current_ring + 1, a)))
    }

    /// Asks the next ring of every open request whose ring has waited its time, and marks
    /// those with no ring left as exhausted. Each step is claimed by a conditional UPDATE, so
    /// several servers running this at once do each step once.
    pub async fn escalate_urgent(&self, now: DateTime<Utc>) -> Result<EscalationRun, StoreError> {
        let rows = sqlx::query(
            "SELECT id, current_ring, rings_total, ring_opened_at, escalate_minutes, exhausted_at
             FROM urgent_requests
             WHERE status = 'open' AND escalate_minutes IS NOT NULL AND exhausted_at IS NULL
             ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        let at = time_text(now);
        let mut run = EscalationRun::default();
        for r in rows {
            // One request that cannot be read or moved must not hold up the others: its
            // failure is logged (with its id only) and the run goes on.
            let id: i64 = r.try_get("id")?;
            if let Err(e) = self.escalate_one(&r, now, &at, &mut run).await {
                tracing::warn!(request = id, error = %e, "urgent request not escalated");
            }
        }
        Ok(run)
    }

    async fn escalate_one(
        &self,
        r: &AnyRow,
        now: DateTime<Utc>,
        at: &str,
        run: &mut EscalationRun,
    ) -> Result<(), StoreError> {
        let id: i64 = r.try_get("id")?;
        let due = escalation(
            small(r.try_get("current_ring")?),
            small(r.try_get("rings_total")?),
            time_of(&r.try_get::<String, _>("ring_opened_at")?)?,
            r.try_get::<Option<i64>, _>("escalate_minutes")?
                .map(small)
                .unwrap_or(u32::MAX),
            r.try_get::<Option<String>, _>("exhausted_at")?.is_some(),
            now,
        );
        if due == Escalation::Wait {
            return Ok(());
        }
        let mut tx = self.pool().begin().await?;
        match due {
            Escalation::Wait => {}
            Escalation::NextRing(next) => {
                if let Some(asked) = open_ring(&mut tx, id, next, at).await? {
                    tx.commit().await?;
                    run.rings.push((id, next, asked));
                    return Ok(());
                }
            }
            Escalation::Exhausted => {
                if mark_exhausted(&mut tx, id, at).await? {
                    tx.commit().await?;
                    run.exhausted.push(id);
                    return Ok(());
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The requests an institution has been asked, newest first (at most `limit`).
    pub async fn urgent_received(
        &self,
        institution: i64,
        limit: i64,
    ) -> Result<Vec<ReceivedRow>, StoreError> {
        let sql = format!(
            "{REQUEST_SELECT}
             JOIN urgent_recipients p ON p.request_id = q.id
             WHERE p.institution_id = $1 AND p.notified_at IS NOT NULL
             ORDER BY q.id DESC LIMIT $2"
        );
        let requests = sqlx::query(&sql)
            .bind(institution)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        let mut out = Vec::with_capacity(requests.len());
        for r in &requests {
            let request = request_of(r)?;
            let sql =
                format!("{RECIPIENT_SELECT} WHERE p.request_id = $1 AND p.institution_id = $2");
            let mine = sqlx::query(&sql)
                .bind(request.id)
                .bind(institution)
                .fetch_one(self.pool())
                .await?;
            out.push(ReceivedRow {
                request,
                mine: recipient_of(&mine)?,
            });
        }
        Ok(out)
    }

    /// The requests an institution has sent, newest first (at most `limit`).
    pub async fn urgent_sent(
        &self,
        institution: i64,
        limit: i64,
    ) -> Result<Vec<RequestRow>, StoreError> {
        let sql = format!("{REQUEST_SELECT} WHERE q.requester_id = $1 ORDER BY q.id DESC LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(institution)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(request_of).collect()
    }

    /// The requests sent from `areas` between `from` and `until` (UTC), newest first.
    pub async fn urgent_in_areas(
        &self,
        areas: &[String],
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<RequestRow>, StoreError> {
        if areas.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (3..areas.len() + 3).map(|n| format!("${n}")).collect();
        let sql = format!(
            "{REQUEST_SELECT} WHERE q.created_at >= $1 AND q.created_at < $2 AND q.area_code IN ({})
             ORDER BY q.id DESC",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql)
            .bind(time_text(from))
            .bind(time_text(until));
        for a in areas {
            q = q.bind(a);
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(request_of).collect()
    }

    /// The outcomes of the requests sent from `areas` between `from` and `until`, for the ③
    /// figures of the ledger.
    pub async fn urgent_outcomes(
        &self,
        areas: &[String],
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<Outcome>, StoreError> {
        self.urgent_in_areas(areas, from, until)
            .await?
            .iter()
            .map(|r| {
                Ok(Outcome {
                    kind: r.kind,
                    created: time_of(&r.created_at)?,
                    accepted: r.accepted_at.as_deref().map(time_of).transpose()?,
                    cancelled: r.status == RequestStatus::Cancelled,
                })
            })
            .collect()
    }

    /// How many things wait for an answer from `institutions`: open urgent requests they were
    /// asked and have not answered, and requests to cover an absence (the navigation's badge).
    pub async fn waiting_for(&self, institutions: &[i64]) -> Result<i64, StoreError> {
        let mut total = 0;
        for institution in institutions {
            let n: i64 = sqlx::query_scalar(
                "SELECT
                   (SELECT COUNT(*) FROM urgent_recipients p JOIN urgent_requests q ON q.id = p.request_id
                    WHERE p.institution_id = $1 AND p.notified_at IS NOT NULL AND p.answer IS NULL
                      AND q.status = 'open')
                 + (SELECT COUNT(*) FROM coverages c JOIN absences a ON a.id = c.absence_id
                    WHERE c.backup_id = $1 AND c.status = 'requested' AND a.cancelled_at IS NULL)",
            )
            .bind(*institution)
            .fetch_one(self.pool())
            .await?;
            total += n;
        }
        Ok(total)
    }

    /// What changes whenever a request changes (its newest timeline line): what the live
    /// pages poll.
    pub async fn urgent_fingerprint(&self, request: i64) -> Result<String, StoreError> {
        let last: Option<i64> =
            sqlx::query_scalar("SELECT MAX(id) FROM urgent_events WHERE request_id = $1")
                .bind(request)
                .fetch_one(self.pool())
                .await?;
        Ok(last.unwrap_or(0).to_string())
    }

    /// What changes whenever a request an institution sent or was asked changes.
    pub async fn urgent_institution_fingerprint(
        &self,
        institution: i64,
    ) -> Result<String, StoreError> {
        let last: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(e.id) FROM urgent_events e
             WHERE e.request_id IN (SELECT id FROM urgent_requests WHERE requester_id = $1)
                OR e.request_id IN (SELECT request_id FROM urgent_recipients
                                    WHERE institution_id = $1 AND notified_at IS NOT NULL)",
        )
        .bind(institution)
        .fetch_one(self.pool())
        .await?;
        Ok(last.unwrap_or(0).to_string())
    }
}
