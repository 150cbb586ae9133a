//! On-call rotas of groups of institutions (migration 12): groups, members and shifts. The
//! rules (slots of a day, gaps, double bookings, who is on call now) are in
//! `renkei_domain::rota`; this module stores and reads.

use crate::connect::Store;
use crate::error::StoreError;
use crate::time_text;
use chrono::{DateTime, NaiveDate, Utc};
use renkei_domain::accounts::UserId;
use renkei_domain::institution::InstitutionKind;
use renkei_domain::rota::{Shift, Slot};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A member of a group.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRow {
    /// The institution.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: InstitutionKind,
    /// Its phone.
    pub phone: Option<String>,
    /// Whether its staff accepted the invitation (the creator's institution has).
    pub accepted: bool,
}

/// A group with its members.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    /// Its id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The area of the institution that created it (its hub reads it).
    pub area_code: String,
    /// What the group agreed (how to hand over, whom to call).
    pub note: String,
    /// Members by name.
    pub members: Vec<MemberRow>,
}

/// A stored shift.
#[derive(Debug, Clone, PartialEq)]
pub struct ShiftRow {
    /// Its id.
    pub id: i64,
    /// The shift.
    pub shift: Shift,
    /// The member's name.
    pub name: String,
    /// The member's phone.
    pub phone: Option<String>,
}

/// Which groups to read.
#[derive(Clone, Copy)]
enum Which<'a> {
    /// One group.
    Id(i64),
    /// The groups of a member.
    Member(i64),
    /// The groups of areas.
    Areas(&'a [String]),
}

fn member_of(r: &AnyRow) -> Result<MemberRow, StoreError> {
    let kind: String = r.try_get("kind")?;
    Ok(MemberRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind: InstitutionKind::from_code(&kind)
            .ok_or_else(|| StoreError::Invalid(format!("institution kind {kind}")))?,
        phone: r.try_get("phone")?,
        accepted: r.try_get::<Option<String>, _>("accepted_at")?.is_some(),
    })
}

fn shift_of(r: &AnyRow) -> Result<ShiftRow, StoreError> {
    let day: String = r.try_get("day")?;
    let slot: String = r.try_get("slot")?;
    Ok(ShiftRow {
        id: r.try_get("id")?,
        shift: Shift {
            day: day
                .parse()
                .map_err(|_| StoreError::Invalid(format!("day {day}")))?,
            slot: Slot::from_code(&slot)
                .ok_or_else(|| StoreError::Invalid(format!("slot {slot}")))?,
            institution_id: r.try_get("institution_id")?,
            doctor: r.try_get("doctor")?,
        },
        name: r.try_get("name")?,
        phone: r.try_get("phone")?,
    })
}

impl Store {
    /// Creates a group of `creator` (a member at once) inviting `invited`; returns its id.
    pub async fn create_rota_group(
        &self,
        name: &str,
        note: &str,
        creator: i64,
        invited: &[i64],
        by: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let first = creator;
        let at = time_text(now);
        // Read before the transaction (SQLite: a transaction that reads first cannot write
        // once another connection has committed meanwhile).
        let area: String = sqlx::query_scalar(
            "SELECT a.code FROM institutions i JOIN areas a ON a.id = i.area_id WHERE i.id = $1",
        )
        .bind(first)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::NotFound("institution".into()))?;
        let mut tx = self.pool().begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO rota_groups (name, area_code, note, created_at, created_by)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(name.trim())
        .bind(&area)
        .bind(note.trim())
        .bind(&at)
        .bind(by.map(|u| u.0))
        .fetch_one(&mut *tx)
        .await?;
        let mut seen = std::collections::HashSet::new();
        let members = std::iter::once(creator).chain(invited.iter().copied());
        for m in members.filter(|m| seen.insert(*m)) {
            sqlx::query(
                "INSERT INTO rota_members (group_id, institution_id, added_at, accepted_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(m)
            .bind(&at)
            .bind((m == creator).then_some(at.as_str()))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    async fn groups_where(&self, which: Which<'_>) -> Result<Vec<GroupRow>, StoreError> {
        let condition = match which {
            Which::Id(_) => "g.id = $1".to_owned(),
            Which::Member(_) => {
                "g.id IN (SELECT group_id FROM rota_members WHERE institution_id = $1)".to_owned()
            }
            Which::Areas(areas) => {
                let marks: Vec<String> = (1..=areas.len()).map(|n| format!("${n}")).collect();
                format!("g.area_code IN ({})", marks.join(", "))
            }
        };
        let sql = format!(
            "SELECT g.id, g.name, g.area_code, g.note FROM rota_groups g WHERE {condition} ORDER BY g.name, g.id"
        );
        let q = sqlx::query(&sql);
        let q = match which {
            Which::Id(n) | Which::Member(n) => q.bind(n),
            Which::Areas(areas) => areas.iter().fold(q, |q, a| q.bind(a.as_str())),
        };
        let rows = q.fetch_all(self.pool()).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.try_get("id")?;
            let members = sqlx::query(
                "SELECT i.id, i.name, i.kind, i.phone, m.accepted_at FROM rota_members m
                 JOIN institutions i ON i.id = m.institution_id
                 WHERE m.group_id = $1 ORDER BY i.name_kana, i.id",
            )
            .bind(id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(member_of)
            .collect::<Result<_, _>>()?;
            out.push(GroupRow {
                id,
                name: r.try_get("name")?,
                area_code: r.try_get("area_code")?,
                note: r.try_get("note")?,
                members,
            });
        }
        Ok(out)
    }

    /// A group.
    pub async fn rota_group(&self, id: i64) -> Result<Option<GroupRow>, StoreError> {
        Ok(self.groups_where(Which::Id(id)).await?.into_iter().next())
    }

    /// The groups an institution belongs to.
    pub async fn rota_groups_of(&self, institution: i64) -> Result<Vec<GroupRow>, StoreError> {
        self.groups_where(Which::Member(institution)).await
    }

    /// The groups created in `areas`.
    pub async fn rota_groups_in(&self, areas: &[String]) -> Result<Vec<GroupRow>, StoreError> {
        if areas.is_empty() {
            return Ok(Vec::new());
        }
        self.groups_where(Which::Areas(areas)).await
    }

    /// A member accepts the invitation; false when it was not invited (or accepted already).
    pub async fn accept_rota_invitation(
        &self,
        group: i64,
        institution: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE rota_members SET accepted_at = $1
             WHERE group_id = $2 AND institution_id = $3 AND accepted_at IS NULL",
        )
        .bind(time_text(now))
        .bind(group)
        .bind(institution)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Invites an institution (nothing when it is a member or invited already).
    pub async fn add_rota_member(
        &self,
        group: i64,
        institution: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO rota_members (group_id, institution_id, added_at) VALUES ($1, $2, $3)
             ON CONFLICT (group_id, institution_id) DO NOTHING",
        )
        .bind(group)
        .bind(institution)
        .bind(time_text(now))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Removes a member and its shifts from `from` on (earlier shifts are kept as they were).
    pub async fn remove_rota_member(
        &self,
        group: i64,
        institution: i64,
        from: NaiveDate,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let gone =
            sqlx::query("DELETE FROM rota_members WHERE group_id = $1 AND institution_id = $2")
                .bind(group)
                .bind(institution)
                .execute(&mut *tx)
                .await?;
        sqlx::query(
            "DELETE FROM rota_shifts WHERE group_id = $1 AND institution_id = $2 AND day >= $3",
        )
        .bind(group)
        .bind(institution)
        .bind(from.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(gone.rows_affected() == 1)
    }

    /// The shifts of the days `from..=until`, by day, slot and name.
    pub async fn rota_shifts(
        &self,
        group: i64,
        from: NaiveDate,
        until: NaiveDate,
    ) -> Result<Vec<ShiftRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.id, s.day, s.slot, s.institution_id, s.doctor, i.name, i.phone
             FROM rota_shifts s JOIN institutions i ON i.id = s.institution_id
             WHERE s.group_id = $1 AND s.day >= $2 AND s.day <= $3
             ORDER BY s.day, s.slot, i.name_kana, s.id",
        )
        .bind(group)
        .bind(from.to_string())
        .bind(until.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(shift_of).collect()
    }

    /// Puts a member on a slot (or changes the doctor named when it is on it already). The
    /// member must have accepted the group's invitation.
    pub async fn assign_rota_shift(
        &self,
        group: i64,
        shift: &Shift,
        by: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO rota_shifts (group_id, day, slot, institution_id, doctor, updated_at, updated_by)
             SELECT $1, $2, $3, $4, $5, $6, $7
             WHERE EXISTS (SELECT 1 FROM rota_members
                           WHERE group_id = $1 AND institution_id = $4 AND accepted_at IS NOT NULL)
             ON CONFLICT (group_id, day, slot, institution_id)
             DO UPDATE SET doctor = excluded.doctor, updated_at = excluded.updated_at,
                           updated_by = excluded.updated_by",
        )
        .bind(group)
        .bind(shift.day.to_string())
        .bind(shift.slot.code())
        .bind(shift.institution_id)
        .bind(shift.doctor.trim())
        .bind(time_text(now))
        .bind(by.map(|u| u.0))
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("rota member".into()));
        }
        Ok(())
    }

    /// Takes a shift off the rota.
    pub async fn remove_rota_shift(&self, group: i64, shift: i64) -> Result<bool, StoreError> {
        let gone = sqlx::query("DELETE FROM rota_shifts WHERE group_id = $1 AND id = $2")
            .bind(group)
            .bind(shift)
            .execute(self.pool())
            .await?;
        Ok(gone.rows_affected() == 1)
    }
}
