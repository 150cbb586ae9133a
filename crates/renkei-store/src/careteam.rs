//! Care-team information sharing (migration 16): patients, their consents (every one kept, the
//! newest not withdrawn in force), team members and the timeline. This module stores and reads;
//! who may read is `renkei_domain::careteam::decide`, fed by [`Store::access_record`] (one patient) or [`Store::member_records`] (a list). Lists
//! only ever start from the asking user's own team memberships, so no count, page or search
//! reveals a patient to someone outside the team.

use crate::care_files::{AttachmentMeta, NewAttachment};
use crate::connect::Store;
use crate::error::StoreError;
use crate::time_text;
use chrono::{DateTime, NaiveDate, Utc};
use renkei_domain::accounts::UserId;
use renkei_domain::careteam::{
    CareNeed, Consent, Consenter, EmergencyContact, Member, Patient, PatientSex, Profession,
    Record, VisitRecord, Vitals,
};
use renkei_domain::text::search_key;
use sqlx::any::AnyRow;
use sqlx::Row;

/// A stored patient.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientRow {
    /// Its id.
    pub id: i64,
    /// The registering institution.
    pub registered_by: i64,
    /// Its name.
    pub registered_name: String,
    /// The area the registering institution is in.
    pub area_code: String,
    /// The patient.
    pub patient: Patient,
    /// Registered (UTC text).
    pub created_at: String,
}

/// A recorded consent.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentRow {
    /// Its id.
    pub id: i64,
    /// The consent.
    pub consent: Consent,
    /// Recorded (UTC text).
    pub recorded_at: String,
    /// Withdrawn (UTC text).
    pub withdrawn_at: Option<String>,
}

/// A team member as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRow {
    /// The membership's id.
    pub id: i64,
    /// The user.
    pub user_id: i64,
    /// Their name.
    pub user_name: String,
    /// The institution they take part for.
    pub institution_id: i64,
    /// Its name.
    pub institution_name: String,
    /// Their profession.
    pub profession: Profession,
    /// Added (UTC text).
    pub added_at: String,
    /// Removed (UTC text).
    pub removed_at: Option<String>,
}

/// A post of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct PostRow {
    /// Its id.
    pub id: i64,
    /// The author.
    pub author_id: i64,
    /// Their name.
    pub author_name: String,
    /// Their institution's name.
    pub institution_name: String,
    /// Their profession.
    pub profession: Profession,
    /// The text.
    pub body: String,
    /// Marked urgent.
    pub urgent: bool,
    /// Vitals taken.
    pub vitals: Option<Vitals>,
    /// The physician's visit record, if the post carries one.
    pub visit: Option<VisitRecord>,
    /// Posted (UTC text).
    pub created_at: String,
    /// How many team members have read it.
    pub read_by: i64,
    /// Its files.
    pub attachments: Vec<AttachmentMeta>,
    /// The names of the members it was addressed to.
    pub mentions: Vec<String>,
}

/// A new post.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPost<'a> {
    /// The author.
    pub author: UserId,
    /// The institution they post for.
    pub institution_id: i64,
    /// Their profession.
    pub profession: Profession,
    /// The text.
    pub body: &'a str,
    /// Urgent.
    pub urgent: bool,
    /// Vitals, if taken.
    pub vitals: Option<Vitals>,
    /// The physician's visit record, if written.
    pub visit: Option<VisitRecord>,
    /// Team members it is addressed to (users; those not on the team are ignored).
    pub mentions: &'a [i64],
    /// Files, already checked.
    pub attachments: &'a [NewAttachment<'a>],
}

/// A LIKE pattern matching text that contains `text` (wildcards in it escaped; `ESCAPE '\\'`).
fn like_contains(text: &str) -> String {
    format!(
        "%{}%",
        text.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

/// What a post is found by: its text, the visit record and the files' names, folded by
/// [`search_key`] (「ＳｐＯ２」 finds 「spo2」, 「たん」 finds 「タン」).
fn post_search_text(post: &NewPost<'_>) -> String {
    let mut text = post.body.to_owned();
    if let Some(v) = &post.visit {
        text.push('\n');
        text.push_str(&v.plan_change);
        text.push('\n');
        text.push_str(&v.care_points);
    }
    for a in post.attachments {
        text.push('\n');
        text.push_str(a.file_name);
    }
    search_key(&text)
}

fn bad(what: &str, code: &str) -> StoreError {
    StoreError::Invalid(format!("{what} {code}"))
}

fn patient_of(r: &AnyRow) -> Result<PatientRow, StoreError> {
    let sex: String = r.try_get("sex")?;
    let birth: String = r.try_get("birth_date")?;
    let needs: String = r.try_get("needs")?;
    let contacts: String = r.try_get("contacts")?;
    Ok(PatientRow {
        id: r.try_get("id")?,
        registered_by: r.try_get("registered_by")?,
        registered_name: r.try_get("registered_name")?,
        area_code: r.try_get("area_code")?,
        patient: Patient {
            name: r.try_get("name")?,
            kana: r.try_get("kana")?,
            birth_date: birth.parse().map_err(|_| bad("date", &birth))?,
            sex: PatientSex::from_code(&sex).ok_or_else(|| bad("sex", &sex))?,
            address: r.try_get("address")?,
            needs: needs.split(',').filter_map(CareNeed::from_code).collect(),
            contacts: serde_json::from_str::<Vec<EmergencyContact>>(&contacts)
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
        },
        created_at: r.try_get("created_at")?,
    })
}

const PATIENT_SELECT: &str = "SELECT p.id, p.registered_by, i.name AS registered_name, p.area_code,
        p.name, p.kana, p.birth_date, p.sex, p.address, p.needs, p.contacts, p.created_at
     FROM patients p JOIN institutions i ON i.id = p.registered_by";

/// A consent from a row whose consent id is `consent_id` (joined queries).
fn consent_of_columns(r: &AnyRow) -> Result<ConsentRow, StoreError> {
    consent_from(r, "consent_id")
}

fn consent_of(r: &AnyRow) -> Result<ConsentRow, StoreError> {
    consent_from(r, "id")
}

fn consent_from(r: &AnyRow, id_column: &str) -> Result<ConsentRow, StoreError> {
    let consenter: String = r.try_get("consenter")?;
    let institutions: String = r.try_get("excluded_institutions")?;
    let professions: String = r.try_get("excluded_professions")?;
    let given: String = r.try_get("given_on")?;
    let withdrawn_at: Option<String> = r.try_get("withdrawn_at")?;
    let json = |e: serde_json::Error| StoreError::Invalid(e.to_string());
    Ok(ConsentRow {
        id: r.try_get(id_column)?,
        consent: Consent {
            consenter: serde_json::from_str::<Consenter>(&consenter).map_err(json)?,
            given_on: given.parse().map_err(|_| bad("date", &given))?,
            excluded_institutions: serde_json::from_str(&institutions).map_err(json)?,
            excluded_professions: professions
                .split(',')
                .filter_map(Profession::from_code)
                .collect(),
            withdrawn: withdrawn_at.is_some(),
        },
        recorded_at: r.try_get("recorded_at")?,
        withdrawn_at,
    })
}

fn profession_of(r: &AnyRow) -> Result<Profession, StoreError> {
    let code: String = r.try_get("profession")?;
    Profession::from_code(&code).ok_or_else(|| bad("profession", &code))
}

fn post_of(r: &AnyRow) -> Result<PostRow, StoreError> {
    let n = |name: &str| -> Result<Option<u32>, StoreError> {
        Ok(r.try_get::<Option<i64>, _>(name)?
            .map(|v| u32::try_from(v.max(0)).unwrap_or(u32::MAX)))
    };
    let vitals = Vitals {
        systolic: n("systolic")?,
        diastolic: n("diastolic")?,
        pulse: n("pulse")?,
        spo2: n("spo2")?,
        temperature_tenths: n("temperature_tenths")?,
    };
    let next: Option<String> = r.try_get("next_visit_on")?;
    let visit = match r.try_get::<Option<i64>, _>("plan_changed")? {
        None => None,
        Some(changed) => Some(VisitRecord {
            next_visit_on: next
                .as_deref()
                .map(|d| d.parse().map_err(|_| bad("date", d)))
                .transpose()?,
            plan_changed: changed != 0,
            plan_change: r
                .try_get::<Option<String>, _>("plan_change")?
                .unwrap_or_default(),
            care_points: r
                .try_get::<Option<String>, _>("care_points")?
                .unwrap_or_default(),
        }),
    };
    Ok(PostRow {
        id: r.try_get("id")?,
        author_id: r.try_get("author_id")?,
        author_name: r.try_get("author_name")?,
        institution_name: r.try_get("institution_name")?,
        profession: profession_of(r)?,
        body: r.try_get("body")?,
        urgent: r.try_get::<i64, _>("urgent")? != 0,
        vitals: (vitals != Vitals::default()).then_some(vitals),
        visit,
        created_at: r.try_get("created_at")?,
        read_by: r.try_get("read_by")?,
        attachments: Vec::new(),
        mentions: Vec::new(),
    })
}

impl Store {
    /// Registers a patient of `institution`; the registering user becomes the first member of
    /// the team with `profession`. Returns the patient's id.
    pub async fn register_patient(
        &self,
        institution: i64,
        patient: &Patient,
        by: UserId,
        profession: Profession,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let at = time_text(now);
        let area: String = sqlx::query_scalar(
            "SELECT a.code FROM institutions i JOIN areas a ON a.id = i.area_id WHERE i.id = $1",
        )
        .bind(institution)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::NotFound("institution".into()))?;
        let needs: Vec<&str> = patient.needs.iter().map(|n| n.code()).collect();
        let contacts = serde_json::to_string(&patient.contacts)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut tx = self.pool().begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO patients (registered_by, area_code, name, kana, search_key, birth_date, sex,
                 address, needs, contacts, created_at, created_by, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(institution)
        .bind(&area)
        .bind(patient.name.trim())
        .bind(renkei_domain::text::normalize(patient.kana.trim()))
        .bind(search_key(&format!("{} {}", patient.name, patient.kana)))
        .bind(patient.birth_date.to_string())
        .bind(patient.sex.code())
        .bind(patient.address.trim())
        .bind(needs.join(","))
        .bind(contacts)
        .bind(&at)
        .bind(by.0)
        .bind(&at)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO care_team_members (patient_id, user_id, institution_id, profession, added_at, added_by)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(by.0)
        .bind(institution)
        .bind(profession.code())
        .bind(&at)
        .bind(by.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A patient (for those `decide` has let in).
    pub async fn patient(&self, id: i64) -> Result<Option<PatientRow>, StoreError> {
        let sql = format!("{PATIENT_SELECT} WHERE p.id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(patient_of).transpose()
    }

    /// What `decide` needs about a patient: the registering institution, the area, the consent
    /// in force, the team. `None` when there is no such patient.
    pub async fn access_record(&self, id: i64) -> Result<Option<Record>, StoreError> {
        let Some(row) = sqlx::query("SELECT registered_by, area_code FROM patients WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
        else {
            return Ok(None);
        };
        let consent = self
            .consents(id)
            .await?
            .into_iter()
            .rev()
            .find(|c| c.withdrawn_at.is_none())
            .map(|c| c.consent);
        let team = sqlx::query(
            "SELECT user_id, institution_id, profession, removed_at FROM care_team_members
             WHERE patient_id = $1",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|m| {
            Ok(Member {
                user_id: m.try_get("user_id")?,
                institution_id: m.try_get("institution_id")?,
                profession: profession_of(m)?,
                removed: m.try_get::<Option<String>, _>("removed_at")?.is_some(),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(Record {
            registered_by: row.try_get("registered_by")?,
            area: row.try_get("area_code")?,
            consent,
            team,
        }))
    }

    /// The patients on whose team `user` is (not removed), newest first, `limit` of them from
    /// `offset`, each with what `decide` needs about the user's own membership and the consent
    /// in force, in one query that walks the user's memberships by index (so a doctor on 10,000
    /// teams pays for a page, not for all). `text` narrows by name or reading.
    pub async fn member_records(
        &self,
        user: UserId,
        text: &str,
        (offset, limit): (i64, i64),
    ) -> Result<Vec<(PatientRow, Record)>, StoreError> {
        let pattern = like_contains(&search_key(text));
        let sql =
            "SELECT p.id, p.registered_by, i.name AS registered_name, p.area_code,
                    p.name, p.kana, p.birth_date, p.sex, p.address, p.needs, p.contacts, p.created_at,
                    m.institution_id AS member_institution, m.profession,
                    c.id AS consent_id, c.consenter, c.given_on, c.excluded_institutions,
                    c.excluded_professions, c.recorded_at, c.withdrawn_at
             FROM care_team_members m
             JOIN patients p ON p.id = m.patient_id
             JOIN institutions i ON i.id = p.registered_by
             LEFT JOIN patient_consents c ON c.id = (
                 SELECT MAX(c2.id) FROM patient_consents c2
                 WHERE c2.patient_id = m.patient_id AND c2.withdrawn_at IS NULL)
             WHERE m.user_id = $1 AND m.removed_at IS NULL AND p.search_key LIKE $2 ESCAPE '\\'
             ORDER BY m.user_id DESC, m.patient_id DESC LIMIT $3 OFFSET $4";
        let rows = sqlx::query(sql)
            .bind(user.0)
            .bind(&pattern)
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let row = patient_of(r)?;
                let consent = match r.try_get::<Option<i64>, _>("consent_id")? {
                    Some(_) => Some(consent_of_columns(r)?.consent),
                    None => None,
                };
                let record = Record {
                    registered_by: row.registered_by,
                    area: row.area_code.clone(),
                    consent,
                    team: vec![Member {
                        user_id: user.0,
                        institution_id: r.try_get("member_institution")?,
                        profession: profession_of(r)?,
                        removed: false,
                    }],
                };
                Ok((row, record))
            })
            .collect()
    }

    /// How many posts addressed to `user` they have not seen, by patient (only patients whose
    /// team they are on now); the caller still decides which of those the user may open.
    pub async fn unseen_mentions(&self, user: UserId) -> Result<Vec<(i64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.patient_id, COUNT(*) AS n FROM care_mentions c
             JOIN care_team_members m ON m.patient_id = c.patient_id AND m.user_id = c.user_id
             WHERE c.user_id = $1 AND c.seen_at IS NULL AND m.removed_at IS NULL
             GROUP BY c.patient_id",
        )
        .bind(user.0)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("patient_id")?, r.try_get("n")?)))
            .collect()
    }

    /// Marks the posts of a patient addressed to `user` as seen.
    pub async fn mark_mentions_seen(
        &self,
        patient: i64,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE care_mentions SET seen_at = $1
             WHERE patient_id = $2 AND user_id = $3 AND seen_at IS NULL",
        )
        .bind(time_text(now))
        .bind(patient)
        .bind(user.0)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every consent of a patient, oldest first.
    pub async fn consents(&self, patient: i64) -> Result<Vec<ConsentRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, consenter, given_on, excluded_institutions, excluded_professions,
                    recorded_at, withdrawn_at
             FROM patient_consents WHERE patient_id = $1 ORDER BY id",
        )
        .bind(patient)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(consent_of).collect()
    }

    /// Records a consent (the one in force from now on); an earlier one still in force is
    /// withdrawn by it.
    pub async fn record_consent(
        &self,
        patient: i64,
        consent: &Consent,
        form: Option<&NewAttachment<'_>>,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let at = time_text(now);
        let json = |e: serde_json::Error| StoreError::Invalid(e.to_string());
        let professions: Vec<&str> = consent
            .excluded_professions
            .iter()
            .map(|p| p.code())
            .collect();
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE patient_consents SET withdrawn_at = $1, withdrawn_by = $2
             WHERE patient_id = $3 AND withdrawn_at IS NULL",
        )
        .bind(&at)
        .bind(by.0)
        .bind(patient)
        .execute(&mut *tx)
        .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO patient_consents (patient_id, consenter, given_on, excluded_institutions,
                 excluded_professions, recorded_at, recorded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(patient)
        .bind(serde_json::to_string(&consent.consenter).map_err(json)?)
        .bind(consent.given_on.to_string())
        .bind(serde_json::to_string(&consent.excluded_institutions).map_err(json)?)
        .bind(professions.join(","))
        .bind(&at)
        .bind(by.0)
        .fetch_one(&mut *tx)
        .await?;
        if let Some(file) = form {
            let files = std::slice::from_ref(file);
            self.insert_attachments(&mut tx, patient, (None, Some(id)), files, by, now)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Withdraws the consent in force: access outside the registering institution ends at
    /// once. False when none was in force.
    pub async fn withdraw_consent(
        &self,
        patient: i64,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE patient_consents SET withdrawn_at = $1, withdrawn_by = $2
             WHERE patient_id = $3 AND withdrawn_at IS NULL",
        )
        .bind(time_text(now))
        .bind(by.0)
        .bind(patient)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The team, members first by when they joined, removed ones last.
    pub async fn team(&self, patient: i64) -> Result<Vec<MemberRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.id, m.user_id, u.display_name, m.institution_id, i.name AS institution_name,
                    m.profession, m.added_at, m.removed_at
             FROM care_team_members m JOIN users u ON u.id = m.user_id
             JOIN institutions i ON i.id = m.institution_id
             WHERE m.patient_id = $1
             ORDER BY CASE WHEN m.removed_at IS NULL THEN 0 ELSE 1 END, m.id",
        )
        .bind(patient)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MemberRow {
                    id: r.try_get("id")?,
                    user_id: r.try_get("user_id")?,
                    user_name: r.try_get("display_name")?,
                    institution_id: r.try_get("institution_id")?,
                    institution_name: r.try_get("institution_name")?,
                    profession: profession_of(r)?,
                    added_at: r.try_get("added_at")?,
                    removed_at: r.try_get("removed_at")?,
                })
            })
            .collect()
    }

    /// Adds a user to the team for `institution` (again, when they were removed).
    pub async fn add_team_member(
        &self,
        patient: i64,
        user: i64,
        institution: i64,
        profession: Profession,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO care_team_members (patient_id, user_id, institution_id, profession, added_at, added_by)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (patient_id, user_id) DO UPDATE SET institution_id = excluded.institution_id,
                 profession = excluded.profession, added_at = excluded.added_at,
                 added_by = excluded.added_by, removed_at = NULL",
        )
        .bind(patient)
        .bind(user)
        .bind(institution)
        .bind(profession.code())
        .bind(time_text(now))
        .bind(by.0)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Removes a member: their access ends at once.
    pub async fn remove_team_member(
        &self,
        patient: i64,
        member: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE care_team_members SET removed_at = $1
             WHERE patient_id = $2 AND id = $3 AND removed_at IS NULL",
        )
        .bind(time_text(now))
        .bind(patient)
        .bind(member)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The staff of an institution who could join a team: (user, name).
    pub async fn institution_staff(
        &self,
        institution: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT u.id, u.display_name FROM users u
             JOIN memberships m ON m.user_id = u.id
             JOIN organisations o ON o.id = m.organisation_id
             WHERE o.institution_id = $1 AND m.role IN ('institution_admin', 'institution_staff')
               AND u.disabled = 0
             ORDER BY u.display_name, u.id",
        )
        .bind(institution)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("display_name")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Adds a post to a patient's timeline with its files (sealed) and mentions, in one
    /// transaction; returns its id.
    pub async fn add_post(
        &self,
        patient: i64,
        post: &NewPost<'_>,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let v = post.vitals.unwrap_or_default();
        let n = |x: Option<u32>| x.map(i64::from);
        let visit = post.visit.as_ref();
        let at = time_text(now);
        let mut tx = self.pool().begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO care_posts (patient_id, author_id, institution_id, profession, body, urgent,
                 systolic, diastolic, pulse, spo2, temperature_tenths, created_at,
                 next_visit_on, plan_changed, plan_change, care_points, search_text)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
             RETURNING id",
        )
        .bind(patient)
        .bind(post.author.0)
        .bind(post.institution_id)
        .bind(post.profession.code())
        .bind(post.body.trim())
        .bind(i64::from(post.urgent))
        .bind(n(v.systolic))
        .bind(n(v.diastolic))
        .bind(n(v.pulse))
        .bind(n(v.spo2))
        .bind(n(v.temperature_tenths))
        .bind(&at)
        .bind(visit.and_then(|v| v.next_visit_on).map(|d| d.to_string()))
        .bind(visit.map(|v| i64::from(v.plan_changed)))
        .bind(visit.map(|v| v.plan_change.clone()))
        .bind(visit.map(|v| v.care_points.clone()))
        .bind(post_search_text(post))
        .fetch_one(&mut *tx)
        .await?;
        for user in post.mentions {
            if *user == post.author.0 {
                continue;
            }
            sqlx::query(
                "INSERT INTO care_mentions (post_id, user_id, patient_id)
                 SELECT $1, m.user_id, m.patient_id FROM care_team_members m
                 WHERE m.patient_id = $2 AND m.user_id = $3 AND m.removed_at IS NULL",
            )
            .bind(id)
            .bind(patient)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        }
        self.insert_attachments(
            &mut tx,
            patient,
            (Some(id), None),
            post.attachments,
            post.author,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The newest posts before `before` (all when `None`), newest first, at most `limit`;
    /// `text` narrows to posts containing it.
    pub async fn posts(
        &self,
        patient: i64,
        before: Option<i64>,
        text: &str,
        limit: i64,
    ) -> Result<Vec<PostRow>, StoreError> {
        let pattern = like_contains(&search_key(text));
        let written = like_contains(text.trim());
        let rows = sqlx::query(
            "SELECT p.id, p.author_id, u.display_name AS author_name, i.name AS institution_name,
                    p.profession, p.body, p.urgent, p.systolic, p.diastolic, p.pulse, p.spo2,
                    p.temperature_tenths, p.created_at, p.next_visit_on, p.plan_changed,
                    p.plan_change, p.care_points,
                    (SELECT COUNT(*) FROM care_reads r WHERE r.post_id = p.id) AS read_by
             FROM care_posts p JOIN users u ON u.id = p.author_id
             JOIN institutions i ON i.id = p.institution_id
             WHERE p.patient_id = $1 AND p.id < $2
               AND (p.search_text LIKE $3 ESCAPE '\\'
                    OR (p.search_text IS NULL AND p.body LIKE $5 ESCAPE '\\'))
             ORDER BY p.id DESC LIMIT $4",
        )
        .bind(patient)
        .bind(before.unwrap_or(i64::MAX))
        .bind(pattern)
        .bind(limit)
        .bind(written)
        .fetch_all(self.pool())
        .await?;
        let mut posts = rows.iter().map(post_of).collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<i64> = posts.iter().map(|p| p.id).collect();
        for a in self.attachments_of_posts(patient, &ids).await? {
            if let Some(p) = posts.iter_mut().find(|p| Some(p.id) == a.post_id) {
                p.attachments.push(a);
            }
        }
        if let (Some(low), Some(high)) = (ids.iter().min(), ids.iter().max()) {
            let rows = sqlx::query(
                "SELECT c.post_id, u.display_name FROM care_mentions c
                 JOIN users u ON u.id = c.user_id
                 WHERE c.patient_id = $1 AND c.post_id BETWEEN $2 AND $3 ORDER BY u.display_name",
            )
            .bind(patient)
            .bind(low)
            .bind(high)
            .fetch_all(self.pool())
            .await?;
            for r in rows {
                let post: i64 = r.try_get("post_id")?;
                if let Some(p) = posts.iter_mut().find(|p| p.id == post) {
                    p.mentions.push(r.try_get("display_name")?);
                }
            }
        }
        Ok(posts)
    }

    /// Marks the posts of a patient shown to `user`, ids `from..=upto`, as read (read receipts:
    /// what was on the screen, not the whole history).
    pub async fn mark_read(
        &self,
        patient: i64,
        user: UserId,
        (from, upto): (i64, i64),
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO care_reads (post_id, user_id, read_at)
             SELECT p.id, $1, $2 FROM care_posts p
             WHERE p.patient_id = $3 AND p.id BETWEEN $5 AND $4
               AND NOT EXISTS (SELECT 1 FROM care_reads r WHERE r.post_id = p.id AND r.user_id = $1)",
        )
        .bind(user.0)
        .bind(time_text(now))
        .bind(patient)
        .bind(upto)
        .bind(from)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The newest `limit` vitals of a patient's posts since `since`, oldest first: (posted,
    /// vitals). A chart on a phone needs no more than a few readings a day.
    pub async fn vitals_since(
        &self,
        patient: i64,
        since: NaiveDate,
        limit: i64,
    ) -> Result<Vec<(String, Vitals)>, StoreError> {
        let mut rows = sqlx::query(
            "SELECT created_at, systolic, diastolic, pulse, spo2, temperature_tenths FROM care_posts
             WHERE patient_id = $1 AND created_at >= $2
               AND (systolic IS NOT NULL OR pulse IS NOT NULL OR spo2 IS NOT NULL
                    OR temperature_tenths IS NOT NULL OR diastolic IS NOT NULL)
             ORDER BY id DESC LIMIT $3",
        )
        .bind(patient)
        .bind(since.to_string())
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.reverse();
        rows.iter()
            .map(|r| {
                let n = |name: &str| -> Result<Option<u32>, StoreError> {
                    Ok(r.try_get::<Option<i64>, _>(name)?
                        .map(|v| u32::try_from(v.max(0)).unwrap_or(u32::MAX)))
                };
                Ok((
                    r.try_get("created_at")?,
                    Vitals {
                        systolic: n("systolic")?,
                        diastolic: n("diastolic")?,
                        pulse: n("pulse")?,
                        spo2: n("spo2")?,
                        temperature_tenths: n("temperature_tenths")?,
                    },
                ))
            })
            .collect()
    }

    /// Opens a coordinator's emergency access to a patient for `minutes`, with the reason.
    pub async fn open_break_glass(
        &self,
        patient: i64,
        user: UserId,
        reason: &str,
        minutes: i64,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO break_glass (patient_id, user_id, reason, opened_at, expires_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(patient)
        .bind(user.0)
        .bind(reason.trim())
        .bind(time_text(now))
        .bind(time_text(now + chrono::Duration::minutes(minutes)))
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    /// The reason of `user`'s emergency access to a patient open at `now`, if any.
    pub async fn break_glass_reason(
        &self,
        patient: i64,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT reason FROM break_glass
             WHERE patient_id = $1 AND user_id = $2 AND expires_at > $3
             ORDER BY id DESC LIMIT 1",
        )
        .bind(patient)
        .bind(user.0)
        .bind(time_text(now))
        .fetch_optional(self.pool())
        .await?)
    }

    /// Emergency accesses not yet reviewed in `areas`: (id, patient, coordinator's name,
    /// reason, opened).
    pub async fn break_glass_to_review(
        &self,
        areas: &[String],
    ) -> Result<Vec<(i64, i64, String, String, String, i64)>, StoreError> {
        if areas.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=areas.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT b.id, b.patient_id, u.display_name, b.reason, b.opened_at, b.user_id FROM break_glass b
             JOIN users u ON u.id = b.user_id JOIN patients p ON p.id = b.patient_id
             WHERE b.reviewed_at IS NULL AND p.area_code IN ({}) ORDER BY b.id",
            marks.join(", ")
        );
        let q = areas
            .iter()
            .fold(sqlx::query(&sql), |q, a| q.bind(a.as_str()));
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("patient_id")?,
                    r.try_get("display_name")?,
                    r.try_get("reason")?,
                    r.try_get("opened_at")?,
                    r.try_get("user_id")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Patients of `areas` whose name or reading contains `text` and who were born on `born`:
    /// what a coordinator breaking the glass searches (both must match, so a name alone finds
    /// nobody). At most `limit`.
    pub async fn patients_for_break_glass(
        &self,
        areas: &[String],
        text: &str,
        born: NaiveDate,
        limit: i64,
    ) -> Result<Vec<PatientRow>, StoreError> {
        let key = search_key(text);
        if areas.is_empty() || key.chars().count() < 2 {
            return Ok(Vec::new());
        }
        let pattern = like_contains(&key);
        let marks: Vec<String> = (3..areas.len() + 3).map(|n| format!("${n}")).collect();
        let sql = format!(
            "{PATIENT_SELECT} WHERE p.search_key LIKE $1 ESCAPE '\\' AND p.birth_date = $2
               AND p.area_code IN ({})
             ORDER BY p.kana, p.id",
            marks.join(", ")
        );
        let q = sqlx::query(&sql).bind(pattern).bind(born.to_string());
        let q = areas.iter().fold(q, |q, a| q.bind(a.as_str()));
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter()
            .take(limit.max(0) as usize)
            .map(patient_of)
            .collect()
    }

    /// A coordinator of the patient's area marks an emergency access as reviewed; false when
    /// there is no such access in `areas` still to review, or `by` opened it (a review is
    /// someone else's).
    pub async fn review_break_glass(
        &self,
        id: i64,
        areas: &[String],
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if areas.is_empty() {
            return Ok(false);
        }
        let marks: Vec<String> = (4..areas.len() + 4).map(|n| format!("${n}")).collect();
        let sql = format!(
            "UPDATE break_glass SET reviewed_at = $1, reviewed_by = $2
             WHERE id = $3 AND reviewed_at IS NULL AND user_id <> $2
               AND patient_id IN (SELECT id FROM patients WHERE area_code IN ({}))",
            marks.join(", ")
        );
        let q = sqlx::query(&sql).bind(time_text(now)).bind(by.0).bind(id);
        let q = areas.iter().fold(q, |q, a| q.bind(a.as_str()));
        Ok(q.execute(self.pool()).await?.rows_affected() == 1)
    }

    /// How many patients an institution registered depend on a ventilator, on oxygen and on
    /// suction (the disaster baseline shows them beside the counts typed by hand).
    pub async fn power_dependent_counts(&self, institution: i64) -> Result<[u32; 3], StoreError> {
        let needs: Vec<String> =
            sqlx::query_scalar("SELECT needs FROM patients WHERE registered_by = $1")
                .bind(institution)
                .fetch_all(self.pool())
                .await?;
        let mut counts = [0u32; 3];
        for line in &needs {
            for (i, need) in [CareNeed::Ventilator, CareNeed::Oxygen, CareNeed::Suction]
                .iter()
                .enumerate()
            {
                if line.split(',').any(|c| c == need.code()) {
                    counts[i] += 1;
                }
            }
        }
        Ok(counts)
    }
}
