//! The mail outbox: every mail Renkei sends is first stored here, then delivered by SMTP when a
//! server is configured. Failed deliveries stay with their error and are retried; without a
//! server the administrators read the outbox in the UI.

use crate::connect::Store;
use crate::error::StoreError;
use sqlx::Row;

/// A stored mail.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OutboxMail {
    /// Identifier.
    pub id: i64,
    /// Recipient.
    pub to_address: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// When queued (UTC text).
    pub created_at: String,
    /// When delivered, if it was.
    pub sent_at: Option<String>,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// The last delivery error.
    pub last_error: Option<String>,
    /// When the receiving server refused it for good (5xx): never retried.
    pub bounced_at: Option<String>,
    /// An iCalendar invitation sent with it (a text/calendar part).
    pub calendar: Option<String>,
}

impl Store {
    /// Queues a mail; returns its id.
    pub async fn enqueue_mail(
        &self,
        to: &str,
        subject: &str,
        body: &str,
    ) -> Result<i64, StoreError> {
        self.enqueue_mail_with(to, subject, body, None).await
    }

    /// Queues a mail carrying an iCalendar invitation (or none); returns its id.
    pub async fn enqueue_mail_with(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        calendar: Option<&str>,
    ) -> Result<i64, StoreError> {
        self.insert_mail(to, subject, body, calendar, None).await
    }

    /// Queues a mail that the caller delivers at once: it is claimed for `lease`, so no retry
    /// (of this server or another) sends it meanwhile.
    pub async fn enqueue_claimed_mail(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        calendar: Option<&str>,
        lease: std::time::Duration,
    ) -> Result<i64, StoreError> {
        self.insert_mail(to, subject, body, calendar, Some(lease_end(lease)))
            .await
    }

    /// Claims a queued mail for delivery for `lease`; false when it was delivered, refused, or
    /// is claimed by someone else.
    pub async fn claim_mail(
        &self,
        id: i64,
        lease: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE outbox SET claimed_until = $1
             WHERE id = $2 AND sent_at IS NULL AND bounced_at IS NULL
               AND (claimed_until IS NULL OR claimed_until < $3)",
        )
        .bind(lease_end(lease))
        .bind(id)
        .bind(crate::now_text())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// One mail of the outbox by id.
    pub async fn mail(&self, id: i64) -> Result<Option<OutboxMail>, StoreError> {
        let row = sqlx::query(
            "SELECT id, to_address, subject, body, created_at, sent_at, attempts, last_error, bounced_at, calendar FROM outbox WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref()
            .map(mail_from)
            .transpose()
            .map_err(StoreError::from)
    }

    async fn insert_mail(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        calendar: Option<&str>,
        claimed_until: Option<String>,
    ) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar(
            "INSERT INTO outbox (to_address, subject, body, created_at, calendar, claimed_until)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(to)
        .bind(subject)
        .bind(body)
        .bind(crate::now_text())
        .bind(calendar)
        .bind(claimed_until)
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    /// Mails not yet delivered nor refused for good, with fewer than `max_attempts` attempts and
    /// not claimed by a delivery in progress, oldest first.
    pub async fn pending_mails(
        &self,
        max_attempts: i64,
        limit: i64,
    ) -> Result<Vec<OutboxMail>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, to_address, subject, body, created_at, sent_at, attempts, last_error, bounced_at, calendar FROM outbox
             WHERE sent_at IS NULL AND bounced_at IS NULL AND attempts < $1
               AND (claimed_until IS NULL OR claimed_until < $3)
             ORDER BY id LIMIT $2",
        )
        .bind(max_attempts)
        .bind(limit)
        .bind(crate::now_text())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(mail_from)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// The newest mails, for the administrators' outbox page.
    pub async fn recent_mails(&self, limit: i64) -> Result<Vec<OutboxMail>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, to_address, subject, body, created_at, sent_at, attempts, last_error, bounced_at, calendar FROM outbox ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(mail_from)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Records a delivery.
    pub async fn mark_mail_sent(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET sent_at = $1, attempts = attempts + 1, last_error = NULL WHERE id = $2")
            .bind(crate::now_text())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records a permanent refusal (the address does not exist, the domain refuses): the mail
    /// is not retried and shows as bounced (不達).
    pub async fn mark_mail_bounced(&self, id: i64, error: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $1, bounced_at = $2 WHERE id = $3",
        )
        .bind(error.chars().take(500).collect::<String>())
        .bind(crate::now_text())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records a failed delivery attempt and lets go of the claim, so the next retry takes it.
    pub async fn mark_mail_failed(&self, id: i64, error: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $1, claimed_until = NULL
             WHERE id = $2",
        )
        .bind(error.chars().take(500).collect::<String>())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

/// The end of a claim taken now for `lease` (UTC text, comparable as text).
fn lease_end(lease: std::time::Duration) -> String {
    crate::time_text(
        chrono::Utc::now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX),
    )
}

fn mail_from(r: &sqlx::any::AnyRow) -> Result<OutboxMail, sqlx::Error> {
    Ok(OutboxMail {
        id: r.try_get("id")?,
        to_address: r.try_get("to_address")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        created_at: r.try_get("created_at")?,
        sent_at: r.try_get("sent_at")?,
        attempts: r.try_get("attempts")?,
        last_error: r.try_get("last_error")?,
        bounced_at: r.try_get("bounced_at")?,
        calendar: r.try_get("calendar")?,
    })
}

/// A mail that belongs to a change (a notice that the password changed, an invitation's link):
/// written into the outbox in the change's own transaction, so a crash cannot keep the one and
/// lose the other. The caller delivers it after the commit (or the retry loop does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    /// Recipient.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// Writes `mails` into the outbox inside `tx`; returns their ids.
pub(crate) async fn queue_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    mails: &[NewMail],
) -> Result<Vec<i64>, StoreError> {
    let mut ids = Vec::with_capacity(mails.len());
    for mail in mails {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO outbox (to_address, subject, body, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(&mail.to)
        .bind(&mail.subject)
        .bind(&mail.body)
        .bind(crate::now_text())
        .fetch_one(&mut **tx)
        .await?;
        ids.push(id);
    }
    Ok(ids)
}
