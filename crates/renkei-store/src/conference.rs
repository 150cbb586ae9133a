//! Discharge conferences (migration 15): the proposal and its slots, the invitees and their
//! answers, the slot fixed. Every change to a conference bumps its `sequence`, which the
//! iCalendar invitation carries so calendars replace the older one.

use crate::connect::Store;
use crate::error::StoreError;
use crate::time_text;
use chrono::{DateTime, Utc};
use renkei_domain::accounts::UserId;
use renkei_domain::conference::{Availability, ConferenceStatus, InviteeRole, Proposal};
use renkei_domain::institution::InstitutionKind;
use sqlx::Row;

/// A proposed time.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotRow {
    /// Its id.
    pub id: i64,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
}

/// An invitee.
#[derive(Debug, Clone, PartialEq)]
pub struct InviteeRow {
    /// Its id.
    pub id: i64,
    /// The institution.
    pub institution_id: i64,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: InstitutionKind,
    /// Its phone.
    pub phone: Option<String>,
    /// Its mail address for notices.
    pub email: Option<String>,
    /// Who it is for the patient.
    pub role: InviteeRole,
}

/// A conference with everything about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConferenceRow {
    /// Its id.
    pub id: i64,
    /// The hospital that proposes it.
    pub hospital_id: i64,
    /// Its name.
    pub hospital_name: String,
    /// Its phone.
    pub hospital_phone: Option<String>,
    /// Its mail address for notices.
    pub hospital_email: Option<String>,
    /// Its area code.
    pub area_code: String,
    /// What it is about, where and how long.
    pub subject: String,
    /// Where.
    pub place: String,
    /// Minutes.
    pub minutes: u32,
    /// Where it stands.
    pub status: ConferenceStatus,
    /// The slot fixed.
    pub fixed_slot: Option<i64>,
    /// Its revision (for the invitation).
    pub sequence: u32,
    /// When it was proposed (UTC text).
    pub created_at: String,
    /// The slots, earliest first.
    pub slots: Vec<SlotRow>,
    /// The invitees.
    pub invitees: Vec<InviteeRow>,
    /// (invitee, slot, answer).
    pub answers: Vec<(i64, i64, Availability)>,
}

fn bad(what: &str, code: &str) -> StoreError {
    StoreError::Invalid(format!("{what} {code}"))
}

impl Store {
    /// Proposes a conference of `hospital` with `invitees`; returns its id.
    pub async fn create_conference(
        &self,
        hospital: i64,
        proposal: &Proposal,
        invitees: &[(i64, InviteeRole)],
        by: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let at = time_text(now);
        let mut tx = self.pool().begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO conferences (hospital_id, subject, place, minutes, status, sequence,
                 created_at, created_by, updated_at)
             VALUES ($1, $2, $3, $4, 'proposed', 0, $5, $6, $7) RETURNING id",
        )
        .bind(hospital)
        .bind(proposal.subject.trim())
        .bind(proposal.place.trim())
        .bind(i64::from(proposal.minutes))
        .bind(&at)
        .bind(by.map(|u| u.0))
        .bind(&at)
        .fetch_one(&mut *tx)
        .await?;
        let mut slots = proposal.slots.clone();
        slots.sort();
        for s in slots {
            sqlx::query("INSERT INTO conference_slots (conference_id, starts_at) VALUES ($1, $2)")
                .bind(id)
                .bind(time_text(s))
                .execute(&mut *tx)
                .await?;
        }
        for (institution, role) in invitees {
            sqlx::query(
                "INSERT INTO conference_invitees (conference_id, institution_id, role) VALUES ($1, $2, $3)
                 ON CONFLICT (conference_id, institution_id, role) DO NOTHING",
            )
            .bind(id)
            .bind(*institution)
            .bind(role.code())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// A conference with its slots, invitees and answers.
    pub async fn conference(&self, id: i64) -> Result<Option<ConferenceRow>, StoreError> {
        let Some(r) = sqlx::query(
            "SELECT c.id, c.hospital_id, h.name, h.phone, h.contact_email, a.code, c.subject, c.place,
                    c.minutes, c.status, c.fixed_slot, c.sequence, c.created_at
             FROM conferences c JOIN institutions h ON h.id = c.hospital_id
             JOIN areas a ON a.id = h.area_id WHERE c.id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let status: String = r.try_get("status")?;
        let slots = sqlx::query(
            "SELECT id, starts_at FROM conference_slots WHERE conference_id = $1 ORDER BY starts_at, id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|s| {
            let at: String = s.try_get("starts_at")?;
            Ok(SlotRow {
                id: s.try_get("id")?,
                starts_at: DateTime::parse_from_rfc3339(&at)
                    .map_err(|_| bad("time", &at))?
                    .with_timezone(&Utc),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        let invitees = sqlx::query(
            "SELECT v.id, v.institution_id, i.name, i.kind, i.phone, i.contact_email, v.role
             FROM conference_invitees v JOIN institutions i ON i.id = v.institution_id
             WHERE v.conference_id = $1 ORDER BY v.id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|v| {
            let kind: String = v.try_get("kind")?;
            let role: String = v.try_get("role")?;
            Ok(InviteeRow {
                id: v.try_get("id")?,
                institution_id: v.try_get("institution_id")?,
                name: v.try_get("name")?,
                kind: InstitutionKind::from_code(&kind).ok_or_else(|| bad("kind", &kind))?,
                phone: v.try_get("phone")?,
                email: v.try_get("contact_email")?,
                role: InviteeRole::from_code(&role).ok_or_else(|| bad("role", &role))?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        let answers = sqlx::query(
            "SELECT x.invitee_id, x.slot_id, x.answer FROM conference_answers x
             JOIN conference_invitees v ON v.id = x.invitee_id WHERE v.conference_id = $1",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|x| {
            let answer: String = x.try_get("answer")?;
            Ok((
                x.try_get("invitee_id")?,
                x.try_get("slot_id")?,
                Availability::from_code(&answer).ok_or_else(|| bad("answer", &answer))?,
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(ConferenceRow {
            id,
            hospital_id: r.try_get("hospital_id")?,
            hospital_name: r.try_get("name")?,
            hospital_phone: r.try_get("phone")?,
            hospital_email: r.try_get("contact_email")?,
            area_code: r.try_get("code")?,
            subject: r.try_get("subject")?,
            place: r.try_get("place")?,
            minutes: u32::try_from(r.try_get::<i64, _>("minutes")?).unwrap_or(0),
            status: ConferenceStatus::from_code(&status).ok_or_else(|| bad("status", &status))?,
            fixed_slot: r.try_get("fixed_slot")?,
            sequence: u32::try_from(r.try_get::<i64, _>("sequence")?).unwrap_or(0),
            created_at: r.try_get("created_at")?,
            slots,
            invitees,
            answers,
        }))
    }

    /// The conferences an institution proposed or is invited to, newest first (at most `limit`).
    pub async fn conferences_of(
        &self,
        institution: i64,
        limit: i64,
    ) -> Result<Vec<ConferenceRow>, StoreError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM conferences
             WHERE hospital_id = $1
                OR id IN (SELECT conference_id FROM conference_invitees WHERE institution_id = $1)
             ORDER BY id DESC LIMIT $2",
        )
        .bind(institution)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(c) = self.conference(id).await? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// An invitee's answers to the slots of a conference still being arranged; `Conflict` once
    /// it is fixed or cancelled.
    pub async fn answer_conference(
        &self,
        conference: i64,
        invitee: i64,
        answers: &[(i64, Availability)],
        by: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at = time_text(now);
        let mut tx = self.pool().begin().await?;
        let open = sqlx::query(
            "UPDATE conferences SET updated_at = $1 WHERE id = $2 AND status = 'proposed'
               AND EXISTS (SELECT 1 FROM conference_invitees WHERE id = $3 AND conference_id = $2)",
        )
        .bind(&at)
        .bind(conference)
        .bind(invitee)
        .execute(&mut *tx)
        .await?;
        if open.rows_affected() != 1 {
            return Err(StoreError::Conflict(
                "日程はもう決まっているか、カンファレンスは中止されました".into(),
            ));
        }
        for (slot, answer) in answers {
            sqlx::query(
                "INSERT INTO conference_answers (invitee_id, slot_id, answer, answered_at, answered_by)
                 SELECT $1, $2, $3, $4, $5
                 WHERE EXISTS (SELECT 1 FROM conference_slots WHERE id = $2 AND conference_id = $6)
                 ON CONFLICT (invitee_id, slot_id) DO UPDATE SET answer = excluded.answer,
                     answered_at = excluded.answered_at, answered_by = excluded.answered_by",
            )
            .bind(invitee)
            .bind(*slot)
            .bind(answer.code())
            .bind(&at)
            .bind(by.map(|u| u.0))
            .bind(conference)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The hospital fixes a slot (again, to move it: the invitation's sequence goes up).
    pub async fn fix_conference(
        &self,
        conference: i64,
        hospital: i64,
        slot: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE conferences SET status = 'fixed', fixed_slot = $1, updated_at = $2,
                 sequence = CASE WHEN status = 'fixed' THEN sequence + 1 ELSE sequence END
             WHERE id = $3 AND hospital_id = $4 AND status IN ('proposed', 'fixed')
               AND EXISTS (SELECT 1 FROM conference_slots WHERE id = $1 AND conference_id = $3)",
        )
        .bind(slot)
        .bind(time_text(now))
        .bind(conference)
        .bind(hospital)
        .execute(self.pool())
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(
                "この日時には決められません（中止されたか、候補にない日時です）".into(),
            ));
        }
        Ok(())
    }

    /// The hospital cancels the conference.
    pub async fn cancel_conference(
        &self,
        conference: i64,
        hospital: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE conferences SET status = 'cancelled', sequence = sequence + 1, updated_at = $1
             WHERE id = $2 AND hospital_id = $3 AND status <> 'cancelled'",
        )
        .bind(time_text(now))
        .bind(conference)
        .bind(hospital)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
