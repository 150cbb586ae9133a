//! The consultation window's notes (migration 18): stored per hub area, listed by month and
//! follow-up, counted for the year's figures, and the follow-ups whose reminder is due.

use crate::connect::Store;
use crate::error::StoreError;
use crate::time_text;
use chrono::{DateTime, NaiveDate, Utc};
use renkei_domain::accounts::UserId;
use renkei_domain::consultation::{Action, Caller, Channel, Consultation, Counted, Topic};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A stored consultation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsultationRow {
    /// Its id.
    pub id: i64,
    /// The note.
    pub consultation: Consultation,
    /// The referred institutions' names, in the order of `consultation.referrals`.
    pub referral_names: Vec<String>,
    /// When the follow-up was marked done (UTC text).
    pub follow_up_done_at: Option<String>,
    /// Who noted it.
    pub created_by: Option<i64>,
    /// Their name.
    pub created_by_name: String,
}

/// Which consultations to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsultationQuery {
    /// Areas (required: a coordinator's own).
    pub areas: Vec<String>,
    /// From this day (JST), inclusive.
    pub from: Option<NaiveDate>,
    /// Before this day (JST).
    pub until: Option<NaiveDate>,
    /// Only with this topic.
    pub topic: Option<Topic>,
    /// Only those whose follow-up is open.
    pub open_follow_ups: bool,
    /// At most.
    pub limit: i64,
}

fn bad(what: &str, code: &str) -> StoreError {
    StoreError::Invalid(format!("{what} {code}"))
}

fn codes<T>(text: &str, parse: fn(&str) -> Option<T>) -> Vec<T> {
    text.split(',').filter_map(parse).collect()
}

fn row_of(r: &AnyRow) -> Result<ConsultationRow, StoreError> {
    let at: String = r.try_get("received_at")?;
    let channel: String = r.try_get("channel")?;
    let caller: String = r.try_get("caller")?;
    let follow: Option<String> = r.try_get("follow_up_on")?;
    Ok(ConsultationRow {
        id: r.try_get("id")?,
        consultation: Consultation {
            received_at: chrono::NaiveDateTime::parse_from_str(&at, "%Y-%m-%dT%H:%M")
                .map_err(|_| bad("time", &at))?,
            area: r.try_get("area_code")?,
            channel: Channel::from_code(&channel).ok_or_else(|| bad("channel", &channel))?,
            caller: Caller::from_code(&caller).ok_or_else(|| bad("caller", &caller))?,
            topics: codes(&r.try_get::<String, _>("topics")?, Topic::from_code),
            actions: codes(&r.try_get::<String, _>("actions")?, Action::from_code),
            referrals: Vec::new(),
            summary: r.try_get("summary")?,
            minutes: u32::try_from(r.try_get::<i64, _>("minutes")?).unwrap_or(0),
            follow_up_on: follow
                .as_deref()
                .map(|d| d.parse().map_err(|_| bad("date", d)))
                .transpose()?,
        },
        referral_names: Vec::new(),
        follow_up_done_at: r.try_get("follow_up_done_at")?,
        created_by: r.try_get("created_by")?,
        created_by_name: r
            .try_get::<Option<String>, _>("created_by_name")?
            .unwrap_or_default(),
    })
}

const SELECT: &str = "SELECT c.id, c.area_code, c.received_at, c.channel, c.caller, c.topics,
        c.actions, c.summary, c.minutes, c.follow_up_on, c.follow_up_done_at, c.created_by,
        u.display_name AS created_by_name
     FROM consultations c LEFT JOIN users u ON u.id = c.created_by";

fn joined<T: Copy>(items: &[T], code: fn(T) -> &'static str) -> String {
    items.iter().map(|i| code(*i)).collect::<Vec<_>>().join(",")
}

impl Store {
    /// Stores a new consultation with its referrals; returns its id.
    pub async fn add_consultation(
        &self,
        c: &Consultation,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let at = time_text(now);
        let mut tx = self.pool().begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO consultations (area_code, received_at, received_on, channel, caller,
                 topics, actions, summary, minutes, follow_up_on, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
        )
        .bind(&c.area)
        .bind(c.received_at.format("%Y-%m-%dT%H:%M").to_string())
        .bind(c.received_at.date().to_string())
        .bind(c.channel.code())
        .bind(c.caller.code())
        .bind(joined(&c.topics, Topic::code))
        .bind(joined(&c.actions, Action::code))
        .bind(c.summary.trim())
        .bind(i64::from(c.minutes))
        .bind(c.follow_up_on.map(|d| d.to_string()))
        .bind(by.0)
        .bind(&at)
        .fetch_one(&mut *tx)
        .await?;
        for institution in &c.referrals {
            sqlx::query(
                "INSERT INTO consultation_referrals (consultation_id, institution_id)
                 VALUES ($1, $2)",
            )
            .bind(id)
            .bind(institution)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// The consultations matching `q`, newest first, with their referrals.
    pub async fn consultations(
        &self,
        q: &ConsultationQuery,
    ) -> Result<Vec<ConsultationRow>, StoreError> {
        if q.areas.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = format!("{SELECT} WHERE c.area_code IN (");
        let mut n = 0;
        for _ in &q.areas {
            n += 1;
            sql.push_str(&format!("{}${n}", if n > 1 { ", " } else { "" }));
        }
        sql.push(')');
        // Bounds on the time itself (「2026-12-01」 sorts before 「2026-12-01T09:30」), so the
        // index in list order (area, time, id) serves both the range and the order.
        if q.from.is_some() {
            n += 1;
            sql.push_str(&format!(" AND c.received_at >= ${n}"));
        }
        if q.until.is_some() {
            n += 1;
            sql.push_str(&format!(" AND c.received_at < ${n}"));
        }
        if q.topic.is_some() {
            n += 1;
            sql.push_str(&format!(" AND (',' || c.topics || ',') LIKE ${n}"));
        }
        if q.open_follow_ups {
            sql.push_str(" AND c.follow_up_on IS NOT NULL AND c.follow_up_done_at IS NULL");
        }
        n += 1;
        sql.push_str(&format!(
            " ORDER BY c.received_at DESC, c.id DESC LIMIT ${n}"
        ));
        let mut query = sqlx::query(&sql);
        for a in &q.areas {
            query = query.bind(a);
        }
        if let Some(d) = q.from {
            query = query.bind(d.to_string());
        }
        if let Some(d) = q.until {
            query = query.bind(d.to_string());
        }
        if let Some(t) = q.topic {
            query = query.bind(format!("%,{},%", t.code()));
        }
        let rows = query.bind(q.limit).fetch_all(self.pool()).await?;
        let mut out = rows.iter().map(row_of).collect::<Result<Vec<_>, _>>()?;
        self.fill_referrals(&mut out).await?;
        Ok(out)
    }

    /// Adds each row's referrals, in one query for the whole list (an export of a year's notes
    /// is one query more, not one per note).
    async fn fill_referrals(&self, rows: &mut [ConsultationRow]) -> Result<(), StoreError> {
        let (Some(low), Some(high)) = (
            rows.iter().map(|r| r.id).min(),
            rows.iter().map(|r| r.id).max(),
        ) else {
            return Ok(());
        };
        let at: std::collections::HashMap<i64, usize> =
            rows.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        let refs = sqlx::query(
            "SELECT r.consultation_id, r.institution_id, i.name FROM consultation_referrals r
             JOIN institutions i ON i.id = r.institution_id
             WHERE r.consultation_id BETWEEN $1 AND $2 ORDER BY r.consultation_id, i.name",
        )
        .bind(low)
        .bind(high)
        .fetch_all(self.pool())
        .await?;
        for r in refs {
            let Some(&i) = at.get(&r.try_get::<i64, _>("consultation_id")?) else {
                continue;
            };
            rows[i]
                .consultation
                .referrals
                .push(r.try_get("institution_id")?);
            rows[i].referral_names.push(r.try_get("name")?);
        }
        Ok(())
    }

    /// One consultation, if it is of one of `areas`.
    pub async fn consultation(
        &self,
        id: i64,
        areas: &[String],
    ) -> Result<Option<ConsultationRow>, StoreError> {
        let sql = format!("{SELECT} WHERE c.id = $1");
        let Some(row) = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
        else {
            return Ok(None);
        };
        let mut row = row_of(&row)?;
        if !areas.contains(&row.consultation.area) {
            return Ok(None);
        }
        self.fill_referrals(std::slice::from_mut(&mut row)).await?;
        Ok(Some(row))
    }

    /// Marks a consultation's follow-up done; false when it is not one of `areas`' open ones.
    pub async fn finish_follow_up(
        &self,
        id: i64,
        areas: &[String],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if self.consultation(id, areas).await?.is_none() {
            return Ok(false);
        }
        let done = sqlx::query(
            "UPDATE consultations SET follow_up_done_at = $1, updated_at = $1
             WHERE id = $2 AND follow_up_on IS NOT NULL AND follow_up_done_at IS NULL",
        )
        .bind(time_text(now))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// What the year's figures are made of, for `areas`, between two days (JST, `until`
    /// excluded).
    pub async fn consultation_counts(
        &self,
        areas: &[String],
        (from, until): (NaiveDate, NaiveDate),
    ) -> Result<Vec<Counted>, StoreError> {
        let mut out = Vec::new();
        for area in areas {
            let rows = sqlx::query(
                "SELECT c.received_on, c.caller, c.topics, c.minutes,
                        (SELECT COUNT(*) FROM consultation_referrals r
                         WHERE r.consultation_id = c.id) AS referrals
                 FROM consultations c
                 WHERE c.area_code = $1 AND c.received_on >= $2 AND c.received_on < $3",
            )
            .bind(area)
            .bind(from.to_string())
            .bind(until.to_string())
            .fetch_all(self.pool())
            .await?;
            for r in rows {
                let day: String = r.try_get("received_on")?;
                let caller: String = r.try_get("caller")?;
                out.push(Counted {
                    received_on: day.parse().map_err(|_| bad("date", &day))?,
                    caller: Caller::from_code(&caller).ok_or_else(|| bad("caller", &caller))?,
                    topics: codes(&r.try_get::<String, _>("topics")?, Topic::from_code),
                    minutes: u32::try_from(r.try_get::<i64, _>("minutes")?).unwrap_or(0),
                    referred: r.try_get::<i64, _>("referrals")? > 0,
                });
            }
        }
        Ok(out)
    }

    /// Open follow-ups due by `today` whose reminder has not gone out, with the coordinator's
    /// address: (consultation, area, follow-up day, email). Each is marked reminded here, in
    /// one conditional update, so two servers never remind twice.
    pub async fn due_follow_ups(
        &self,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Vec<(i64, String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.id, c.area_code, c.follow_up_on, u.email FROM consultations c
             JOIN users u ON u.id = c.created_by
             WHERE c.follow_up_on <= $1 AND c.follow_up_done_at IS NULL AND c.reminded_at IS NULL
             ORDER BY c.follow_up_on, c.id LIMIT 200",
        )
        .bind(today.to_string())
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let id: i64 = r.try_get("id")?;
            let claimed = sqlx::query(
                "UPDATE consultations SET reminded_at = $1 WHERE id = $2 AND reminded_at IS NULL",
            )
            .bind(time_text(now))
            .bind(id)
            .execute(self.pool())
            .await?;
            if claimed.rows_affected() > 0 {
                out.push((
                    id,
                    r.try_get("area_code")?,
                    r.try_get("follow_up_on")?,
                    r.try_get("email")?,
                ));
            }
        }
        Ok(out)
    }
}
