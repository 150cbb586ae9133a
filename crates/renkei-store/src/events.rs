//! Events and registrations (migration 19). A registration is taken in one transaction that
//! first locks the event's row, so two people racing for the last seat, or one person pressing
//! twice, never make more registrations than the capacity or two for one address.

use crate::connect::Store;
use crate::error::StoreError;
use crate::time_text;
use chrono::{DateTime, NaiveDateTime, Utc};
use renkei_domain::accounts::UserId;
use renkei_domain::events::{email_key, Audience, Event, EventKind, Registration};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A stored event with its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// Its id.
    pub id: i64,
    /// The event.
    pub event: Event,
    /// Registrations not cancelled.
    pub registered: i64,
    /// Of those, checked in.
    pub attended: i64,
    /// Whether the event was cancelled.
    pub cancelled: bool,
}

/// A stored registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRow {
    /// Its id.
    pub id: i64,
    /// The event.
    pub event_id: i64,
    /// What the person sent.
    pub registration: Registration,
    /// When (UTC text).
    pub registered_at: String,
    /// Cancelled (UTC text).
    pub cancelled_at: Option<String>,
    /// Checked in (UTC text).
    pub attended_at: Option<String>,
}

/// What became of a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    /// Taken; its id.
    Taken(i64),
    /// The address already has a registration for this event.
    Already,
    /// No seat is left.
    Full,
    /// The event was cancelled, has begun, or does not take registrations from the public.
    Closed,
}

const TIME: &str = "%Y-%m-%dT%H:%M";

fn bad(what: &str, code: &str) -> StoreError {
    StoreError::Invalid(format!("{what} {code}"))
}

fn time_of(text: &str) -> Result<NaiveDateTime, StoreError> {
    NaiveDateTime::parse_from_str(text, TIME).map_err(|_| bad("time", text))
}

const SELECT: &str = "SELECT e.id, e.area_code, e.kind, e.audience, e.title, e.starts_at, e.ends_at,
        e.place, e.online, e.organiser, e.capacity, e.public, e.description, e.cancelled_at,
        (SELECT COUNT(*) FROM event_registrations r
         WHERE r.event_id = e.id AND r.cancelled_at IS NULL) AS registered,
        (SELECT COUNT(*) FROM event_registrations r
         WHERE r.event_id = e.id AND r.cancelled_at IS NULL AND r.attended_at IS NOT NULL) AS attended
     FROM events e";

fn event_of(r: &AnyRow) -> Result<EventRow, StoreError> {
    let kind: String = r.try_get("kind")?;
    let audience: String = r.try_get("audience")?;
    Ok(EventRow {
        id: r.try_get("id")?,
        event: Event {
            area: r.try_get("area_code")?,
            kind: EventKind::from_code(&kind).ok_or_else(|| bad("kind", &kind))?,
            audience: Audience::from_code(&audience).ok_or_else(|| bad("audience", &audience))?,
            title: r.try_get("title")?,
            starts_at: time_of(&r.try_get::<String, _>("starts_at")?)?,
            ends_at: time_of(&r.try_get::<String, _>("ends_at")?)?,
            place: r.try_get("place")?,
            online: r.try_get::<i64, _>("online")? != 0,
            organiser: r.try_get("organiser")?,
            capacity: r
                .try_get::<Option<i64>, _>("capacity")?
                .map(|c| u32::try_from(c).unwrap_or(u32::MAX)),
            public: r.try_get::<i64, _>("public")? != 0,
            description: r.try_get("description")?,
        },
        registered: r.try_get("registered")?,
        attended: r.try_get("attended")?,
        cancelled: r.try_get::<Option<String>, _>("cancelled_at")?.is_some(),
    })
}

fn registration_of(r: &AnyRow) -> Result<RegistrationRow, StoreError> {
    Ok(RegistrationRow {
        id: r.try_get("id")?,
        event_id: r.try_get("event_id")?,
        registration: Registration {
            name: r.try_get("name")?,
            organisation: r.try_get("organisation")?,
            profession: r.try_get("profession")?,
            email: r.try_get("email")?,
        },
        registered_at: r.try_get("registered_at")?,
        cancelled_at: r.try_get("cancelled_at")?,
        attended_at: r.try_get("attended_at")?,
    })
}

const REGISTRATION: &str = "SELECT id, event_id, name, organisation, profession, email,
        registered_at, cancelled_at, attended_at FROM event_registrations";

impl Store {
    /// Stores a new event; returns its id.
    pub async fn add_event(
        &self,
        e: &Event,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let at = time_text(now);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO events (area_code, kind, audience, title, starts_at, ends_at, place,
                 online, organiser, capacity, public, description, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id",
        )
        .bind(&e.area)
        .bind(e.kind.code())
        .bind(e.audience.code())
        .bind(e.title.trim())
        .bind(e.starts_at.format(TIME).to_string())
        .bind(e.ends_at.format(TIME).to_string())
        .bind(e.place.trim())
        .bind(i64::from(e.online))
        .bind(e.organiser.trim())
        .bind(e.capacity.map(i64::from))
        .bind(i64::from(e.public))
        .bind(e.description.trim())
        .bind(by.0)
        .bind(&at)
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    /// One event.
    pub async fn event(&self, id: i64) -> Result<Option<EventRow>, StoreError> {
        let sql = format!("{SELECT} WHERE e.id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(event_of).transpose()
    }

    /// Public events not cancelled that end after `now` (JST), soonest first.
    pub async fn public_events(
        &self,
        now: NaiveDateTime,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        let sql = format!(
            "{SELECT} WHERE e.public = 1 AND e.cancelled_at IS NULL AND e.ends_at > $1
             ORDER BY e.starts_at, e.id LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(now.format(TIME).to_string())
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(event_of).collect()
    }

    /// The events of `areas` starting from `from` (JST), soonest first.
    pub async fn events_of_areas(
        &self,
        areas: &[String],
        from: NaiveDateTime,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        let mut out = Vec::new();
        for area in areas {
            let sql = format!(
                "{SELECT} WHERE e.area_code = $1 AND e.starts_at >= $2 ORDER BY e.starts_at, e.id LIMIT $3"
            );
            let rows = sqlx::query(&sql)
                .bind(area)
                .bind(from.format(TIME).to_string())
                .bind(limit)
                .fetch_all(self.pool())
                .await?;
            for r in &rows {
                out.push(event_of(r)?);
            }
        }
        out.sort_by_key(|e| (e.event.starts_at, e.id));
        Ok(out)
    }

    /// Takes a registration if the event is open at `now_jst`, has a seat, and the address has
    /// none yet. `token_hash` is the hash of the link that lets the person cancel it.
    pub async fn register_for_event(
        &self,
        event: i64,
        r: &Registration,
        token_hash: &str,
        now_jst: NaiveDateTime,
        now: DateTime<Utc>,
    ) -> Result<Registered, StoreError> {
        let mut tx = self.pool().begin().await?;
        // A write first: it locks the event's row (PostgreSQL) or the database (SQLite), so the
        // count below cannot change before the insert.
        let locked = sqlx::query(
            "UPDATE events SET updated_at = updated_at
             WHERE id = $1 AND cancelled_at IS NULL AND public = 1 AND starts_at > $2",
        )
        .bind(event)
        .bind(now_jst.format(TIME).to_string())
        .execute(&mut *tx)
        .await?;
        if locked.rows_affected() == 0 {
            return Ok(Registered::Closed);
        }
        let key = email_key(&r.email);
        let already: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM event_registrations
             WHERE event_id = $1 AND email_key = $2 AND cancelled_at IS NULL",
        )
        .bind(event)
        .bind(&key)
        .fetch_one(&mut *tx)
        .await?;
        if already > 0 {
            return Ok(Registered::Already);
        }
        let (taken, capacity): (i64, Option<i64>) = {
            let row = sqlx::query(
                "SELECT (SELECT COUNT(*) FROM event_registrations
                         WHERE event_id = $1 AND cancelled_at IS NULL) AS taken, capacity
                 FROM events WHERE id = $1",
            )
            .bind(event)
            .fetch_one(&mut *tx)
            .await?;
            (row.try_get("taken")?, row.try_get("capacity")?)
        };
        if capacity.is_some_and(|c| taken >= c) {
            return Ok(Registered::Full);
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO event_registrations (event_id, name, organisation, profession, email,
                 email_key, token_hash, registered_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(event)
        .bind(r.name.trim())
        .bind(r.organisation.trim())
        .bind(r.profession.trim())
        .bind(r.email.trim())
        .bind(&key)
        .bind(token_hash)
        .bind(time_text(now))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Registered::Taken(id))
    }

    /// The registration a cancel link stands for, with its event.
    pub async fn registration_by_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RegistrationRow, EventRow)>, StoreError> {
        let sql = format!("{REGISTRATION} WHERE token_hash = $1");
        let Some(row) = sqlx::query(&sql)
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?
        else {
            return Ok(None);
        };
        let reg = registration_of(&row)?;
        let Some(event) = self.event(reg.event_id).await? else {
            return Ok(None);
        };
        Ok(Some((reg, event)))
    }

    /// Cancels the registration of a link; false when it was already cancelled.
    pub async fn cancel_registration(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE event_registrations SET cancelled_at = $1
             WHERE token_hash = $2 AND cancelled_at IS NULL",
        )
        .bind(time_text(now))
        .bind(token_hash)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The registrations of an event, in the order they came.
    pub async fn registrations(&self, event: i64) -> Result<Vec<RegistrationRow>, StoreError> {
        let sql = format!("{REGISTRATION} WHERE event_id = $1 ORDER BY id");
        let rows = sqlx::query(&sql).bind(event).fetch_all(self.pool()).await?;
        rows.iter().map(registration_of).collect()
    }

    /// Checks a registration in (or out, `attended` false); false when it is not the event's
    /// or was cancelled.
    pub async fn check_in(
        &self,
        event: i64,
        registration: i64,
        attended: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE event_registrations SET attended_at = $1
             WHERE id = $2 AND event_id = $3 AND cancelled_at IS NULL",
        )
        .bind(attended.then(|| time_text(now)))
        .bind(registration)
        .bind(event)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
