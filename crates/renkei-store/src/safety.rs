//! Safety checks: the check, one target per institution with its own response link, and every
//! version of every answer. An answer is committed (durably: SQLite runs with
//! `synchronous=FULL`) before the responder is told it arrived.

use crate::connect::Store;
use crate::error::StoreError;
use crate::{now_text, time_text};
use renkei_domain::accounts::UserId;
use renkei_domain::institution::InstitutionKind;
use renkei_domain::safety::{Answer, Baseline, CheckKind, Condition, NewCheck, Targeting};
use sqlx::Row;

/// The purpose string of response-link tokens.
const LINK_PURPOSE: &str = "renkei safety-check response link v1";

/// A stored check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRecord {
    /// Identifier.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Drill or actual.
    pub kind: CheckKind,
    /// The message to the targets.
    pub message: String,
    /// How targets were chosen.
    pub targeting: Targeting,
    /// Created (UTC text).
    pub created_at: String,
    /// Deadline (UTC text).
    pub deadline: String,
    /// Closed early or at the deadline by a coordinator (UTC text).
    pub closed_at: Option<String>,
    /// Reminders sent on their own, in minutes before the deadline.
    pub reminders_before: Vec<u32>,
    /// Targets (0 when read for a response link, which has no need to count them).
    pub targets: i64,
    /// Targets that answered (0 when read for a response link).
    pub answered: i64,
}

impl CheckRecord {
    /// Whether answers are still taken at `now` (UTC text compares in time order).
    pub fn is_open(&self, now: &str) -> bool {
        self.closed_at.is_none() && now < self.deadline.as_str()
    }
}

/// An institution a check can reach, with what the coordinator needs to call it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reachable {
    /// Institution id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: InstitutionKind,
    /// Area code.
    pub area: String,
    /// 積極的医療機関.
    pub active: bool,
    /// Phone.
    pub phone: Option<String>,
    /// Fax.
    pub fax: Option<String>,
    /// Mail address for notices.
    pub email: Option<String>,
    /// Coordinates.
    pub point: Option<(f64, f64)>,
}

/// One target of a check with its institution and its state.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRow {
    /// Target id.
    pub id: i64,
    /// The institution.
    pub institution: Reachable,
    /// The link's salt (the token is derived from it).
    pub link_salt: String,
    /// The notice mail, if one was queued.
    pub mail: Option<MailState>,
    /// Reminders sent.
    pub reminders: i64,
    /// When the link was first opened.
    pub opened_at: Option<String>,
    /// When the last answer came.
    pub answered_at: Option<String>,
    /// The state from the last answer.
    pub condition: Condition,
    /// The last answer.
    pub answer: Option<Answer>,
    /// The last answer was taken by phone.
    pub by_phone: bool,
    /// What the institution registered in normal times, if it did.
    pub baseline: Option<Baseline>,
}

/// Delivery of a notice mail.
#[derive(Debug, Clone, PartialEq)]
pub struct MailState {
    /// Outbox id.
    pub id: i64,
    /// Handed to the SMTP server (UTC text).
    pub sent_at: Option<String>,
    /// Attempts so far.
    pub attempts: i64,
    /// The last error.
    pub last_error: Option<String>,
    /// Refused for good by the receiving server (UTC text).
    pub bounced_at: Option<String>,
}

/// What a response link opens.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkTarget {
    /// Target id.
    pub target_id: i64,
    /// The check.
    pub check: CheckRecord,
    /// The institution's name.
    pub institution_name: String,
    /// Its kind (hospitals answer the EDXL-HAVE part).
    pub kind: InstitutionKind,
    /// The last answer, to start from.
    pub answer: Option<Answer>,
    /// Versions so far.
    pub versions: i64,
}

/// One kept version of an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerVersion {
    /// Version, from 1.
    pub version: i64,
    /// When (UTC text).
    pub answered_at: String,
    /// Taken by phone by this user, if so.
    pub entered_by: Option<i64>,
    /// The answer.
    pub answer: Answer,
}

const CHECK_SELECT: &str = "SELECT c.id, c.title, c.kind, c.message, c.targeting, c.created_at, c.deadline, c.closed_at, c.reminder_plan,
    (SELECT COUNT(*) FROM safety_targets t WHERE t.check_id = c.id) AS targets,
    (SELECT COUNT(*) FROM safety_targets t WHERE t.check_id = c.id AND t.answered_at IS NOT NULL) AS answered
    FROM safety_checks c";

const REACHABLE_COLUMNS: &str = "i.id AS institution_id, i.name, i.kind, a.code AS area_code, i.is_active, i.phone, i.fax, i.contact_email, i.lat, i.lng";

fn check_of(row: &sqlx::any::AnyRow) -> Result<CheckRecord, StoreError> {
    let kind: String = row.try_get("kind")?;
    let targeting: String = row.try_get("targeting")?;
    Ok(CheckRecord {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        kind: CheckKind::from_code(&kind)
            .ok_or_else(|| StoreError::Invalid(format!("check kind {kind}")))?,
        message: row.try_get("message")?,
        targeting: serde_json::from_str(&targeting)
            .map_err(|e| StoreError::Invalid(format!("targeting: {e}")))?,
        created_at: row.try_get("created_at")?,
        deadline: row.try_get("deadline")?,
        closed_at: row.try_get("closed_at")?,
        reminders_before: serde_json::from_str(&row.try_get::<String, _>("reminder_plan")?)
            .map_err(|e| StoreError::Invalid(format!("reminder plan: {e}")))?,
        targets: row.try_get("targets")?,
        answered: row.try_get("answered")?,
    })
}

fn reachable_of(row: &sqlx::any::AnyRow) -> Result<Reachable, StoreError> {
    let kind: String = row.try_get("kind")?;
    let lat: Option<f64> = row.try_get("lat")?;
    let lng: Option<f64> = row.try_get("lng")?;
    Ok(Reachable {
        id: row.try_get("institution_id")?,
        name: row.try_get("name")?,
        kind: InstitutionKind::from_code(&kind)
            .ok_or_else(|| StoreError::Invalid(format!("institution kind {kind}")))?,
        area: row.try_get("area_code")?,
        active: row.try_get::<i64, _>("is_active")? != 0,
        phone: row.try_get("phone")?,
        fax: row.try_get("fax")?,
        email: row.try_get("contact_email")?,
        point: lat.zip(lng),
    })
}

fn baseline_of(text: Option<String>) -> Result<Option<Baseline>, StoreError> {
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| StoreError::Invalid(format!("baseline: {e}")))
    })
    .transpose()
}

fn answer_of(text: Option<String>) -> Result<Option<Answer>, StoreError> {
    text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Invalid(format!("answer: {e}"))))
        .transpose()
}

impl Store {
    /// The response-link token of a target: derived from the server's key, never stored.
    pub fn safety_link_token(&self, target_id: i64, salt: &str) -> Result<String, StoreError> {
        let key = self.audit_key()?;
        Ok(renkei_domain::audit::derived_token(
            key,
            LINK_PURPOSE,
            &[&target_id.to_string(), salt],
        ))
    }

    /// The institutions a targeting reaches among `areas` (the coordinator's reach): by area,
    /// kind and designation, or the hand-picked ids among them.
    pub async fn safety_reachable(
        &self,
        targeting: &Targeting,
        areas: &[String],
    ) -> Result<Vec<Reachable>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {REACHABLE_COLUMNS} FROM institutions i JOIN areas a ON a.id = i.area_id ORDER BY a.sort_order, i.kind, i.name_kana, i.id"
        ))
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        for row in &rows {
            let r = reachable_of(row)?;
            if !areas.contains(&r.area) {
                continue;
            }
            let chosen = if targeting.institutions.is_empty() {
                targeting.admits(&r.area, r.kind, r.active)
            } else {
                targeting.institutions.contains(&r.id)
            };
            if chosen {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Creates a check and its targets in one transaction; returns the check's id. Each
    /// target's link token comes from [`Store::safety_link_token`].
    pub async fn create_safety_check(
        &self,
        check: &NewCheck,
        institutions: &[i64],
        by: Option<UserId>,
        salts: &mut (dyn FnMut() -> String + Send),
    ) -> Result<i64, StoreError> {
        if institutions.is_empty() {
            return Err(StoreError::Invalid("対象の医療機関等がありません".into()));
        }
        let targeting = serde_json::to_string(&check.targeting)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut tx = self.pool().begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO safety_checks (title, kind, message, targeting, created_by, created_at, deadline, reminder_plan) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(check.title.trim())
        .bind(check.kind.code())
        .bind(check.message.trim())
        .bind(targeting)
        .bind(by.map(|u| u.0))
        .bind(now_text())
        .bind(time_text(check.deadline))
        .bind(
            serde_json::to_string(&check.reminders_before)
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
        )
        .fetch_one(&mut *tx)
        .await?;
        for institution in institutions {
            let salt = salts();
            let target: i64 = sqlx::query_scalar(
                "INSERT INTO safety_targets (check_id, institution_id, link_salt, token_hash) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(id)
            .bind(institution)
            .bind(&salt)
            // A placeholder unique per target until the id is known.
            .bind(format!("pending:{id}:{institution}"))
            .fetch_one(&mut *tx)
            .await?;
            let token = self.safety_link_token(target, &salt)?;
            sqlx::query("UPDATE safety_targets SET token_hash = $1 WHERE id = $2")
                .bind(renkei_domain::audit::token_hash(&token))
                .bind(target)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Every check, newest first.
    pub async fn safety_checks(&self) -> Result<Vec<CheckRecord>, StoreError> {
        let rows = sqlx::query(&format!("{CHECK_SELECT} ORDER BY c.id DESC"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(check_of).collect()
    }

    /// One check.
    pub async fn safety_check(&self, id: i64) -> Result<Option<CheckRecord>, StoreError> {
        let row = sqlx::query(&format!("{CHECK_SELECT} WHERE c.id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(check_of).transpose()
    }

    /// Closes a check: links stop taking answers. False when it was closed already.
    pub async fn close_safety_check(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE safety_checks SET closed_at = $1 WHERE id = $2 AND closed_at IS NULL",
        )
        .bind(now_text())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The targets of a check with their institutions, mail and last answers, in area and
    /// kind order.
    pub async fn safety_targets(&self, check_id: i64) -> Result<Vec<TargetRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT t.id, t.link_salt, t.reminders, t.opened_at, t.answered_at, t.condition, t.mail_id,
                    o.sent_at AS mail_sent_at, o.attempts AS mail_attempts, o.last_error AS mail_error, o.bounced_at AS mail_bounced_at,
                    (SELECT s.answer FROM safety_answers s WHERE s.target_id = t.id ORDER BY s.version DESC LIMIT 1) AS answer,
                    (SELECT s.entered_by FROM safety_answers s WHERE s.target_id = t.id ORDER BY s.version DESC LIMIT 1) AS entered_by,
                    b.document AS baseline,
                    {REACHABLE_COLUMNS}
             FROM safety_targets t
             JOIN institutions i ON i.id = t.institution_id
             JOIN areas a ON a.id = i.area_id
             LEFT JOIN outbox o ON o.id = t.mail_id
             LEFT JOIN readiness_baselines b ON b.institution_id = i.id
             WHERE t.check_id = $1
             ORDER BY a.sort_order, i.kind, i.name_kana, i.id"
        ))
        .bind(check_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let condition: String = row.try_get("condition")?;
                let mail_id: Option<i64> = row.try_get("mail_id")?;
                let entered_by: Option<i64> = row.try_get("entered_by")?;
                Ok(TargetRow {
                    id: row.try_get("id")?,
                    institution: reachable_of(row)?,
                    link_salt: row.try_get("link_salt")?,
                    mail: match mail_id {
                        Some(id) => Some(MailState {
                            id,
                            sent_at: row.try_get("mail_sent_at")?,
                            attempts: row.try_get("mail_attempts")?,
                            last_error: row.try_get("mail_error")?,
                            bounced_at: row.try_get("mail_bounced_at")?,
                        }),
                        None => None,
                    },
                    reminders: row.try_get("reminders")?,
                    opened_at: row.try_get("opened_at")?,
                    answered_at: row.try_get("answered_at")?,
                    condition: Condition::from_code(&condition).unwrap_or(Condition::NoAnswer),
                    answer: answer_of(row.try_get("answer")?)?,
                    by_phone: entered_by.is_some(),
                    baseline: baseline_of(row.try_get("baseline")?)?,
                })
            })
            .collect()
    }

    /// What a response link opens, by its token; `None` for an unknown (forged) token. One
    /// indexed query: this is what every answer in a surge reads.
    pub async fn safety_link(&self, token: &str) -> Result<Option<LinkTarget>, StoreError> {
        let row = sqlx::query(
            "SELECT t.id AS target_id, i.name AS institution_name, i.kind AS institution_kind,
                    c.id, c.title, c.kind, c.message, c.targeting, c.created_at, c.deadline, c.closed_at, c.reminder_plan,
                    0 AS targets, 0 AS answered,
                    (SELECT s.answer FROM safety_answers s WHERE s.target_id = t.id ORDER BY s.version DESC LIMIT 1) AS answer,
                    (SELECT COUNT(*) FROM safety_answers s WHERE s.target_id = t.id) AS versions
             FROM safety_targets t
             JOIN institutions i ON i.id = t.institution_id
             JOIN safety_checks c ON c.id = t.check_id
             WHERE t.token_hash = $1",
        )
        .bind(renkei_domain::audit::token_hash(token))
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let kind: String = row.try_get("institution_kind")?;
        Ok(Some(LinkTarget {
            target_id: row.try_get("target_id")?,
            check: check_of(&row)?,
            institution_name: row.try_get("institution_name")?,
            kind: InstitutionKind::from_code(&kind)
                .ok_or_else(|| StoreError::Invalid(format!("institution kind {kind}")))?,
            answer: answer_of(row.try_get("answer")?)?,
            versions: row.try_get("versions")?,
        }))
    }

    /// Notes the first opening of a link.
    pub async fn note_safety_opened(&self, target_id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE safety_targets SET opened_at = $1 WHERE id = $2 AND opened_at IS NULL")
            .bind(now_text())
            .bind(target_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Every version of a target's answer, oldest first.
    pub async fn safety_answer_versions(
        &self,
        target_id: i64,
    ) -> Result<Vec<AnswerVersion>, StoreError> {
        let rows = sqlx::query(
            "SELECT version, answered_at, entered_by, answer FROM safety_answers WHERE target_id = $1 ORDER BY version",
        )
        .bind(target_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AnswerVersion {
                    version: row.try_get("version")?,
                    answered_at: row.try_get("answered_at")?,
                    entered_by: row.try_get("entered_by")?,
                    answer: answer_of(Some(row.try_get("answer")?))?.expect("an answer was given"),
                })
            })
            .collect()
    }

    /// Records the notice mail of a target.
    pub async fn set_safety_mail(&self, target_id: i64, mail_id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE safety_targets SET mail_id = $1 WHERE id = $2")
            .bind(mail_id)
            .bind(target_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records a reminder sent to a target (its mail becomes the one tracked).
    pub async fn note_safety_reminder(
        &self,
        target_id: i64,
        mail_id: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE safety_targets SET reminders = reminders + 1, last_reminded_at = $1, mail_id = $2 WHERE id = $3",
        )
        .bind(now_text())
        .bind(mail_id)
        .bind(target_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A fingerprint of a check's answers and mail: changes whenever an answer, an opening, a
    /// reminder or a delivery does (the live dashboard polls it, on any instance).
    pub async fn safety_fingerprint(&self, check_id: i64) -> Result<String, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(s.id) AS answers, COALESCE(MAX(s.id), 0) AS last_answer,
                    (SELECT COUNT(*) FROM safety_targets t WHERE t.check_id = $1 AND t.opened_at IS NOT NULL) AS opened,
                    (SELECT CAST(COALESCE(SUM(t.reminders), 0) AS BIGINT) FROM safety_targets t WHERE t.check_id = $1) AS reminders,
                    (SELECT COUNT(*) FROM safety_targets t JOIN outbox o ON o.id = t.mail_id WHERE t.check_id = $1 AND o.sent_at IS NOT NULL) AS delivered,
                    (SELECT closed_at FROM safety_checks WHERE id = $1) AS closed_at
             FROM safety_answers s JOIN safety_targets t ON t.id = s.target_id WHERE t.check_id = $1",
        )
        .bind(check_id)
        .fetch_one(self.pool())
        .await?;
        let closed: Option<String> = row.try_get("closed_at")?;
        Ok(format!(
            "{}:{}:{}:{}:{}:{}",
            row.try_get::<i64, _>("answers")?,
            row.try_get::<i64, _>("last_answer")?,
            row.try_get::<i64, _>("opened")?,
            row.try_get::<i64, _>("reminders")?,
            row.try_get::<i64, _>("delivered")?,
            closed.unwrap_or_default()
        ))
    }
}

/// One reminder round.
#[derive(Debug, Clone, PartialEq)]
pub struct ReminderRound {
    /// When (UTC text).
    pub sent_at: String,
    /// A scheduled round's minutes before the deadline; `None` when a coordinator sent it.
    pub planned: Option<i64>,
    /// To one target, or to all who had not answered.
    pub target_id: Option<i64>,
    /// Mails queued.
    pub mails: i64,
}

/// When a target first answered, and whether that answer was taken by phone.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstAnswer {
    /// Target id.
    pub target_id: i64,
    /// First answer's time (UTC text).
    pub at: String,
    /// Taken by phone.
    pub by_phone: bool,
}

impl Store {
    /// Notes a reminder round.
    pub async fn note_reminder_round(
        &self,
        check_id: i64,
        target_id: Option<i64>,
        mails: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO safety_reminders (check_id, target_id, mails, sent_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(check_id)
        .bind(target_id)
        .bind(mails)
        .bind(now_text())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The scheduled reminders due at `now` (UTC text) and not yet claimed: (check, minutes
    /// before its deadline), of checks still open.
    pub async fn due_scheduled_reminders(&self, now: &str) -> Result<Vec<(i64, u32)>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.id, c.deadline, c.reminder_plan,
                    (SELECT COUNT(*) FROM safety_reminders r WHERE r.check_id = c.id AND r.planned IS NOT NULL) AS claimed
             FROM safety_checks c
             WHERE c.closed_at IS NULL AND c.deadline > $1 AND c.reminder_plan <> '[]'",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        let now = chrono::DateTime::parse_from_rfc3339(now)
            .map_err(|e| StoreError::Invalid(format!("time {now}: {e}")))?;
        let mut due = Vec::new();
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            let plan: Vec<u32> = serde_json::from_str(&row.try_get::<String, _>("reminder_plan")?)
                .map_err(|e| StoreError::Invalid(format!("reminder plan: {e}")))?;
            let deadline =
                chrono::DateTime::parse_from_rfc3339(&row.try_get::<String, _>("deadline")?)
                    .map_err(|e| StoreError::Invalid(format!("deadline: {e}")))?;
            let claimed: Vec<i64> = if row.try_get::<i64, _>("claimed")? > 0 {
                sqlx::query_scalar(
                    "SELECT planned FROM safety_reminders WHERE check_id = $1 AND planned IS NOT NULL",
                )
                .bind(id)
                .fetch_all(self.pool())
                .await?
            } else {
                Vec::new()
            };
            for minutes in plan {
                let at = deadline - chrono::Duration::minutes(i64::from(minutes));
                if at <= now && !claimed.contains(&i64::from(minutes)) {
                    due.push((id, minutes));
                }
            }
        }
        Ok(due)
    }

    /// Claims a scheduled reminder round before sending it, so that of several instances only
    /// one sends it; returns the round's id, or `None` when another claimed it first.
    pub async fn claim_scheduled_reminder(
        &self,
        check_id: i64,
        minutes: u32,
    ) -> Result<Option<i64>, StoreError> {
        let claimed: Option<i64> = sqlx::query_scalar(
            "INSERT INTO safety_reminders (check_id, target_id, mails, sent_at, planned) VALUES ($1, NULL, 0, $2, $3)
             ON CONFLICT (check_id, planned) DO NOTHING RETURNING id",
        )
        .bind(check_id)
        .bind(now_text())
        .bind(i64::from(minutes))
        .fetch_optional(self.pool())
        .await?;
        Ok(claimed)
    }

    /// Records how many mails a claimed round sent.
    pub async fn set_round_mails(&self, round_id: i64, mails: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE safety_reminders SET mails = $1 WHERE id = $2")
            .bind(mails)
            .bind(round_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// A check's reminder rounds, oldest first.
    pub async fn reminder_rounds(&self, check_id: i64) -> Result<Vec<ReminderRound>, StoreError> {
        let rows = sqlx::query(
            "SELECT sent_at, target_id, mails, planned FROM safety_reminders WHERE check_id = $1 ORDER BY id",
        )
        .bind(check_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReminderRound {
                    sent_at: r.try_get("sent_at")?,
                    planned: r.try_get("planned")?,
                    target_id: r.try_get("target_id")?,
                    mails: r.try_get("mails")?,
                })
            })
            .collect()
    }

    /// Each answering target's first answer, in time order.
    pub async fn first_answers(&self, check_id: i64) -> Result<Vec<FirstAnswer>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.target_id, s.answered_at, s.entered_by FROM safety_answers s
             JOIN safety_targets t ON t.id = s.target_id
             WHERE t.check_id = $1 AND s.version = 1 ORDER BY s.answered_at, s.target_id",
        )
        .bind(check_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FirstAnswer {
                    target_id: r.try_get("target_id")?,
                    at: r.try_get("answered_at")?,
                    by_phone: r.try_get::<Option<i64>, _>("entered_by")?.is_some(),
                })
            })
            .collect()
    }
}

impl Store {
    /// An institution's baseline and when it was last saved.
    pub async fn baseline(
        &self,
        institution_id: i64,
    ) -> Result<Option<(Baseline, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT document, updated_at FROM readiness_baselines WHERE institution_id = $1",
        )
        .bind(institution_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            let document: String = r.try_get("document")?;
            Ok((
                baseline_of(Some(document))?.expect("a document was read"),
                r.try_get("updated_at")?,
            ))
        })
        .transpose()
    }

    /// Saves an institution's baseline (replacing the last).
    pub async fn save_baseline(
        &self,
        institution_id: i64,
        baseline: &Baseline,
        by: Option<UserId>,
    ) -> Result<(), StoreError> {
        let document =
            serde_json::to_string(baseline).map_err(|e| StoreError::Invalid(e.to_string()))?;
        sqlx::query(
            "INSERT INTO readiness_baselines (institution_id, document, updated_at, updated_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT (institution_id) DO UPDATE SET document = $2, updated_at = $3, updated_by = $4",
        )
        .bind(institution_id)
        .bind(document)
        .bind(now_text())
        .bind(by.map(|u| u.0))
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

/// One institution's readiness as the hub sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadinessRow {
    /// Institution id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: InstitutionKind,
    /// Area code.
    pub area: String,
    /// 積極的医療機関.
    pub active: bool,
    /// Phone.
    pub phone: Option<String>,
    /// BCP status code.
    pub bcp: String,
    /// Emergency power kind code.
    pub power: String,
    /// Power can be lent.
    pub lendable: bool,
    /// Role ④ (災害時計画) status code, for active institutions.
    pub disaster_plan: Option<String>,
    /// The baseline, if registered.
    pub baseline: Option<Baseline>,
    /// The day of the last BCP drill (ISO text).
    pub last_bcp_drill: Option<String>,
    /// Whether a BCP document is uploaded.
    pub bcp_document: bool,
    /// Whether the hub may read it.
    pub bcp_shared_with_hub: bool,
    /// Power units in service.
    pub power_units: i64,
    /// Of those, lendable.
    pub lendable_units: i64,
}

impl Store {
    /// Every institution of `areas` with its BCP, emergency power, role ④ and baseline, in area,
    /// kind and reading order.
    pub async fn readiness_overview(
        &self,
        areas: &[String],
    ) -> Result<Vec<ReadinessRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT i.id, i.name, i.kind, a.code AS area_code, i.is_active, i.phone, i.bcp_status,
                    i.power_kind, i.power_lendable, r.status AS plan_status, b.document AS baseline,
                    g.last_drill_on, COALESCE(g.shared_with_hub, 0) AS shared_with_hub,
                    (SELECT COUNT(*) FROM bcp_documents d WHERE d.institution_id = i.id) AS documents,
                    (SELECT COUNT(*) FROM power_units u WHERE u.institution_id = i.id AND u.retired_at IS NULL) AS units,
                    (SELECT COUNT(*) FROM power_units u WHERE u.institution_id = i.id AND u.retired_at IS NULL
                        AND u.lendable = 1) AS lendable_units
             FROM institutions i
             JOIN areas a ON a.id = i.area_id
             LEFT JOIN institution_roles r ON r.institution_id = i.id AND r.role = 'disaster_plan'
             LEFT JOIN readiness_baselines b ON b.institution_id = i.id
             LEFT JOIN bcp_registry g ON g.institution_id = i.id
             ORDER BY a.sort_order, i.kind, i.name_kana, i.id",
        )
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        for row in &rows {
            let area: String = row.try_get("area_code")?;
            if !areas.contains(&area) {
                continue;
            }
            let kind: String = row.try_get("kind")?;
            out.push(ReadinessRow {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                kind: InstitutionKind::from_code(&kind)
                    .ok_or_else(|| StoreError::Invalid(format!("institution kind {kind}")))?,
                area,
                active: row.try_get::<i64, _>("is_active")? != 0,
                phone: row.try_get("phone")?,
                bcp: row.try_get("bcp_status")?,
                power: row.try_get("power_kind")?,
                lendable: row.try_get::<i64, _>("power_lendable")? != 0,
                disaster_plan: row.try_get("plan_status")?,
                baseline: baseline_of(row.try_get("baseline")?)?,
                last_bcp_drill: row.try_get("last_drill_on")?,
                bcp_document: row.try_get::<i64, _>("documents")? > 0,
                bcp_shared_with_hub: row.try_get::<i64, _>("shared_with_hub")? != 0,
                power_units: row.try_get("units")?,
                lendable_units: row.try_get("lendable_units")?,
            });
        }
        Ok(out)
    }
}
