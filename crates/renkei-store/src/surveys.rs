//! Surveys, their recipients and their answers (migration 20). The questions are kept as JSON
//! and frozen once the survey is sent. An answer is taken in one transaction that first marks
//! the recipient answered, so a link pressed twice or two tabs racing give one answer and a
//! clear "already answered". The answers to an event's questionnaire are stored without the
//! recipient, and both times only as a day, so nothing in the database ties an answer to a
//! person.

use crate::connect::Store;
use crate::error::StoreError;
use crate::time_text;
use chrono::{DateTime, NaiveDate, Utc};
use renkei_domain::accounts::UserId;
use renkei_domain::surveys::{Answer, Question, Survey};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A stored survey with its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyRow {
    /// Its id.
    pub id: i64,
    /// The survey.
    pub survey: Survey,
    /// The event it asks about (the post-event questionnaire).
    pub event_id: Option<i64>,
    /// When it was first sent (UTC text); `None` while it is a draft.
    pub sent_at: Option<String>,
    /// When it was closed by hand (UTC text).
    pub closed_at: Option<String>,
    /// How many it was sent to.
    pub recipients: i64,
    /// Of those, how many answered.
    pub answered: i64,
}

impl SurveyRow {
    /// Whether answers are taken on `today` (JST): sent, not closed, the closing day not past.
    pub fn open_on(&self, today: NaiveDate) -> bool {
        self.sent_at.is_some() && self.closed_at.is_none() && self.survey.open_on(today)
    }

    /// Whether answers are kept without who gave them (an event's questionnaire).
    pub fn anonymous(&self) -> bool {
        self.event_id.is_some()
    }
}

/// Who a survey goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// An institution of the directory (mailed at its contact address).
    Institution(i64),
    /// A registration for the survey's event (mailed at the address registered).
    Registration(i64),
}

/// A recipient of a survey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientRow {
    /// Its id (the link names it).
    pub id: i64,
    /// The survey.
    pub survey_id: i64,
    /// The institution, when sent to one.
    pub institution_id: Option<i64>,
    /// The registration, when sent to one.
    pub registration_id: Option<i64>,
    /// The institution's or the person's name.
    pub name: String,
    /// Where the link is mailed; `None` when the institution has no contact address.
    pub email: Option<String>,
    /// Sent (UTC text).
    pub sent_at: String,
    /// Last reminded (UTC text).
    pub reminded_at: Option<String>,
    /// Answered (UTC text, or only the day for an event's questionnaire).
    pub answered_at: Option<String>,
}

/// A stored answer to a whole survey.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseRow {
    /// Its id.
    pub id: i64,
    /// Who answered, when the survey keeps it.
    pub name: Option<String>,
    /// The answers, in question order.
    pub answers: Vec<Answer>,
    /// When (UTC text, or only the day for an event's questionnaire).
    pub submitted_at: String,
}

/// What became of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answered {
    /// Taken.
    Taken,
    /// The link was answered already, at this time.
    Already(String),
    /// The survey is closed.
    Closed,
    /// No such recipient.
    Unknown,
}

fn bad(what: &str, code: &str) -> StoreError {
    StoreError::Invalid(format!("{what} {code}"))
}

fn day_of(text: Option<String>) -> Result<Option<NaiveDate>, StoreError> {
    text.map(|t| NaiveDate::parse_from_str(&t, "%Y-%m-%d").map_err(|_| bad("day", &t)))
        .transpose()
}

const SELECT: &str = "SELECT s.id, s.area_code, s.event_id, s.title, s.intro, s.questions,
        s.closes_on, s.sent_at, s.closed_at,
        (SELECT COUNT(*) FROM survey_recipients r WHERE r.survey_id = s.id) AS recipients,
        (SELECT COUNT(*) FROM survey_recipients r
         WHERE r.survey_id = s.id AND r.answered_at IS NOT NULL) AS answered
     FROM surveys s";

fn survey_of(r: &AnyRow) -> Result<SurveyRow, StoreError> {
    let questions: String = r.try_get("questions")?;
    Ok(SurveyRow {
        id: r.try_get("id")?,
        survey: Survey {
            area: r.try_get("area_code")?,
            title: r.try_get("title")?,
            intro: r.try_get("intro")?,
            closes_on: day_of(r.try_get("closes_on")?)?,
            questions: serde_json::from_str(&questions)
                .map_err(|e| bad("questions", &e.to_string()))?,
        },
        event_id: r.try_get("event_id")?,
        sent_at: r.try_get("sent_at")?,
        closed_at: r.try_get("closed_at")?,
        recipients: r.try_get("recipients")?,
        answered: r.try_get("answered")?,
    })
}

const RECIPIENT: &str = "SELECT r.id, r.survey_id, r.institution_id, r.registration_id,
        r.sent_at, r.reminded_at, r.answered_at,
        COALESCE(i.name, g.name, '') AS name,
        CASE WHEN g.cancelled_at IS NULL THEN COALESCE(i.contact_email, g.email) END AS email
     FROM survey_recipients r
     LEFT JOIN institutions i ON i.id = r.institution_id
     LEFT JOIN event_registrations g ON g.id = r.registration_id";

fn recipient_of(r: &AnyRow) -> Result<RecipientRow, StoreError> {
    Ok(RecipientRow {
        id: r.try_get("id")?,
        survey_id: r.try_get("survey_id")?,
        institution_id: r.try_get("institution_id")?,
        registration_id: r.try_get("registration_id")?,
        name: r.try_get("name")?,
        email: r
            .try_get::<Option<String>, _>("email")?
            .filter(|e| !e.trim().is_empty()),
        sent_at: r.try_get("sent_at")?,
        reminded_at: r.try_get("reminded_at")?,
        answered_at: r.try_get("answered_at")?,
    })
}

fn questions_json(questions: &[Question]) -> Result<String, StoreError> {
    serde_json::to_string(questions).map_err(|e| bad("questions", &e.to_string()))
}

impl Store {
    /// Stores a new survey (a draft); returns its id. `event` makes it that event's
    /// questionnaire (one per event: a second one is refused by the database).
    pub async fn add_survey(
        &self,
        s: &Survey,
        event: Option<i64>,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let at = time_text(now);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO surveys (area_code, event_id, title, intro, questions, closes_on,
                 created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        )
        .bind(&s.area)
        .bind(event)
        .bind(s.title.trim())
        .bind(s.intro.trim())
        .bind(questions_json(&s.questions)?)
        .bind(s.closes_on.map(|d| d.to_string()))
        .bind(by.0)
        .bind(&at)
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    /// One survey.
    pub async fn survey(&self, id: i64) -> Result<Option<SurveyRow>, StoreError> {
        let sql = format!("{SELECT} WHERE s.id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(survey_of).transpose()
    }

    /// The questionnaire of an event, if it has one.
    pub async fn survey_of_event(&self, event: i64) -> Result<Option<SurveyRow>, StoreError> {
        let sql = format!("{SELECT} WHERE s.event_id = $1");
        let row = sqlx::query(&sql)
            .bind(event)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(survey_of).transpose()
    }

    /// The institutions of an area that have a contact address (where a survey can be mailed).
    pub async fn institutions_with_mail(&self, area_code: &str) -> Result<Vec<i64>, StoreError> {
        let ids = sqlx::query_scalar(
            "SELECT i.id FROM institutions i JOIN areas a ON a.id = i.area_id
             WHERE a.code = $1 AND i.contact_email IS NOT NULL AND i.contact_email <> ''",
        )
        .bind(area_code)
        .fetch_all(self.pool())
        .await?;
        Ok(ids)
    }

    /// The surveys of `areas`, newest first.
    pub async fn surveys_of_areas(
        &self,
        areas: &[String],
        limit: i64,
    ) -> Result<Vec<SurveyRow>, StoreError> {
        let mut out = Vec::new();
        for area in areas {
            let sql = format!("{SELECT} WHERE s.area_code = $1 ORDER BY s.id DESC LIMIT $2");
            let rows = sqlx::query(&sql)
                .bind(area)
                .bind(limit)
                .fetch_all(self.pool())
                .await?;
            for r in &rows {
                out.push(survey_of(r)?);
            }
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.id));
        out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(out)
    }

    /// Changes the title, the words above the questions and the closing day (at any time).
    pub async fn set_survey_heading(
        &self,
        id: i64,
        s: &Survey,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE surveys SET title = $1, intro = $2, closes_on = $3, updated_at = $4
             WHERE id = $5",
        )
        .bind(s.title.trim())
        .bind(s.intro.trim())
        .bind(s.closes_on.map(|d| d.to_string()))
        .bind(time_text(now))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Replaces the questions; false when the survey was sent already (they are frozen).
    pub async fn set_survey_questions(
        &self,
        id: i64,
        questions: &[Question],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE surveys SET questions = $1, updated_at = $2 WHERE id = $3 AND sent_at IS NULL",
        )
        .bind(questions_json(questions)?)
        .bind(time_text(now))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Sends the survey to `targets` (those it was sent to already are left as they are) and
    /// marks it sent; returns the new recipients' ids.
    pub async fn add_survey_recipients(
        &self,
        survey: i64,
        targets: &[Target],
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        let at = time_text(now);
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE surveys SET sent_at = COALESCE(sent_at, $1), updated_at = $1 WHERE id = $2",
        )
        .bind(&at)
        .bind(survey)
        .execute(&mut *tx)
        .await?;
        let mut added = Vec::new();
        for t in targets {
            let (institution, registration) = match *t {
                Target::Institution(i) => (Some(i), None),
                Target::Registration(r) => (None, Some(r)),
            };
            let there: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM survey_recipients WHERE survey_id = $1
                 AND (institution_id = $2 OR registration_id = $3)",
            )
            .bind(survey)
            .bind(institution)
            .bind(registration)
            .fetch_one(&mut *tx)
            .await?;
            if there > 0 {
                continue;
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO survey_recipients (survey_id, institution_id, registration_id, sent_at)
                 VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(survey)
            .bind(institution)
            .bind(registration)
            .bind(&at)
            .fetch_one(&mut *tx)
            .await?;
            added.push(id);
        }
        tx.commit().await?;
        Ok(added)
    }

    /// The recipients of a survey, in the order they were added.
    pub async fn survey_recipients(&self, survey: i64) -> Result<Vec<RecipientRow>, StoreError> {
        let sql = format!("{RECIPIENT} WHERE r.survey_id = $1 ORDER BY r.id");
        let rows = sqlx::query(&sql)
            .bind(survey)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(recipient_of).collect()
    }

    /// One recipient.
    pub async fn survey_recipient(&self, id: i64) -> Result<Option<RecipientRow>, StoreError> {
        let sql = format!("{RECIPIENT} WHERE r.id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(recipient_of).transpose()
    }

    /// Records that these recipients were reminded.
    pub async fn mark_survey_reminded(
        &self,
        recipients: &[i64],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at = time_text(now);
        for id in recipients {
            sqlx::query("UPDATE survey_recipients SET reminded_at = $1 WHERE id = $2")
                .bind(&at)
                .bind(id)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    /// Closes the survey to answers (`closed`), or opens it again.
    pub async fn set_survey_closed(
        &self,
        id: i64,
        closed: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at = time_text(now);
        sqlx::query("UPDATE surveys SET closed_at = $1, updated_at = $2 WHERE id = $3")
            .bind(closed.then_some(at.clone()))
            .bind(&at)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Takes the answers of `recipient` if its survey is open on `today` (JST) and the link was
    /// not answered yet. For an event's questionnaire the answer is stored without the
    /// recipient and both times as the day only.
    pub async fn answer_survey(
        &self,
        recipient: i64,
        answers: &[Answer],
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Answered, StoreError> {
        let Some(r) = self.survey_recipient(recipient).await? else {
            return Ok(Answered::Unknown);
        };
        let Some(s) = self.survey(r.survey_id).await? else {
            return Ok(Answered::Unknown);
        };
        if !s.open_on(today) {
            return Ok(Answered::Closed);
        }
        let at = if s.anonymous() {
            today.to_string()
        } else {
            time_text(now)
        };
        let json = serde_json::to_string(answers).map_err(|e| bad("answers", &e.to_string()))?;
        let mut tx = self.pool().begin().await?;
        let marked = sqlx::query(
            "UPDATE survey_recipients SET answered_at = $1 WHERE id = $2 AND answered_at IS NULL",
        )
        .bind(&at)
        .bind(recipient)
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() == 0 {
            drop(tx);
            let when = self
                .survey_recipient(recipient)
                .await?
                .and_then(|r| r.answered_at)
                .unwrap_or_default();
            return Ok(Answered::Already(when));
        }
        let still_open: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM surveys WHERE id = $1 AND closed_at IS NULL")
                .bind(s.id)
                .fetch_one(&mut *tx)
                .await?;
        if still_open == 0 {
            return Ok(Answered::Closed);
        }
        sqlx::query(
            "INSERT INTO survey_responses (survey_id, recipient_id, answers, submitted_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(s.id)
        .bind((!s.anonymous()).then_some(recipient))
        .bind(&json)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Answered::Taken)
    }

    /// The answers to a survey, in the order they came, with who gave them when it is kept.
    pub async fn survey_responses(&self, survey: i64) -> Result<Vec<ResponseRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.id, p.answers, p.submitted_at, COALESCE(i.name, g.name) AS name
             FROM survey_responses p
             LEFT JOIN survey_recipients r ON r.id = p.recipient_id
             LEFT JOIN institutions i ON i.id = r.institution_id
             LEFT JOIN event_registrations g ON g.id = r.registration_id
             WHERE p.survey_id = $1 ORDER BY p.id",
        )
        .bind(survey)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let answers: String = r.try_get("answers")?;
                Ok(ResponseRow {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    answers: serde_json::from_str(&answers)
                        .map_err(|e| bad("answers", &e.to_string()))?,
                    submitted_at: r.try_get("submitted_at")?,
                })
            })
            .collect()
    }
}
