//! Sending mail: every message is stored in the outbox first (nothing is lost), then delivered
//! through the configured SMTP server; failures are kept with their error and retried. Without a
//! server, administrators read the outbox in the UI.

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use renkei_store::{Store, StoreError};
use std::time::Duration;

/// Attempts after which a mail is given up (it stays in the outbox, marked with its error).
pub const MAX_ATTEMPTS: i64 = 8;

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection (a relay on this machine, or tests).
    None,
    /// STARTTLS after connecting (usually port 587).
    StartTls,
    /// TLS from the start (usually port 465).
    Tls,
}

/// Where and how to send mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Login, when the server wants one.
    pub username: Option<String>,
    /// Password for the login.
    pub password: Option<String>,
    /// Protection.
    pub security: SmtpSecurity,
    /// Sender address.
    pub from: String,
}

/// Why SMTP settings were refused.
#[derive(Debug, thiserror::Error)]
#[error("SMTP の設定が正しくありません: {0}（例: smtp://user:pass@mail.example.jp:587 、smtps://… 、smtp://127.0.0.1:25?tls=none）")]
pub struct SmtpSettingsError(String);

impl SmtpSettings {
    /// Parses `smtp://[user:pass@]host[:port][?tls=none]` (STARTTLS by default) or
    /// `smtps://…` (TLS), with the sender address given separately.
    pub fn from_url(url: &str, from: &str) -> Result<Self, SmtpSettingsError> {
        let bad = |why: &str| SmtpSettingsError(why.to_owned());
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("scheme"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (auth, hostport) = match rest.rsplit_once('@') {
            Some((a, h)) => (Some(a), h),
            None => (None, rest),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h,
                Some(
                    p.trim_end_matches('/')
                        .parse::<u16>()
                        .map_err(|_| bad("port"))?,
                ),
            ),
            None => (hostport.trim_end_matches('/'), None),
        };
        if host.is_empty() {
            return Err(bad("host"));
        }
        let mut security = match scheme {
            "smtp" => SmtpSecurity::StartTls,
            "smtps" => SmtpSecurity::Tls,
            _ => return Err(bad("scheme")),
        };
        if query.split('&').any(|p| p == "tls=none") {
            security = SmtpSecurity::None;
        }
        let (username, password) = match auth.map(|a| a.split_once(':').unwrap_or((a, ""))) {
            Some((u, p)) => (Some(decode(u)), Some(decode(p))),
            None => (None, None),
        };
        from.parse::<Mailbox>().map_err(|_| bad("from"))?;
        Ok(Self {
            host: host.to_owned(),
            port: port.unwrap_or(match security {
                SmtpSecurity::Tls => 465,
                SmtpSecurity::StartTls => 587,
                SmtpSecurity::None => 25,
            }),
            username,
            password,
            security,
            from: from.to_owned(),
        })
    }
}

fn decode(s: &str) -> String {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
        .ok()
        .and_then(|mut v| v.pop())
        .map(|(_, v)| v)
        .unwrap_or_else(|| s.to_owned())
}

/// How long a delivery holds its mail against retries (longer than an SMTP exchange's
/// timeouts).
const DELIVERY_LEASE: std::time::Duration = std::time::Duration::from_secs(300);

/// Queues and delivers mail.
#[derive(Debug, Clone)]
pub struct Mailer {
    smtp: Option<SmtpSettings>,
}

impl Mailer {
    /// A mailer; `None` keeps mail in the outbox only.
    pub fn new(smtp: Option<SmtpSettings>) -> Self {
        Self { smtp }
    }

    /// Whether an SMTP server is configured.
    pub fn delivers(&self) -> bool {
        self.smtp.is_some()
    }

    /// Stores the mail, then tries to deliver it at once. A delivery failure is recorded, not
    /// returned: the mail waits in the outbox for the retry.
    pub async fn send(
        &self,
        store: &Store,
        to: &str,
        subject: &str,
        body: &str,
    ) -> Result<i64, StoreError> {
        self.send_with(store, to, subject, body, None).await
    }

    /// [`send`](Self::send) with an iCalendar invitation (METHOD:REQUEST or CANCEL) as a
    /// text/calendar part, which mail programs offer to add to the calendar.
    pub async fn send_with(
        &self,
        store: &Store,
        to: &str,
        subject: &str,
        body: &str,
        calendar: Option<&str>,
    ) -> Result<i64, StoreError> {
        let Some(settings) = &self.smtp else {
            return store.enqueue_mail_with(to, subject, body, calendar).await;
        };
        // Claimed while this server delivers it, so no retry sends it a second time.
        let id = store
            .enqueue_claimed_mail(to, subject, body, calendar, DELIVERY_LEASE)
            .await?;
        match deliver(settings, to, subject, body, calendar).await {
            Ok(()) => store.mark_mail_sent(id).await?,
            Err(failure) => record_failure(store, id, &failure).await?,
        }
        Ok(id)
    }

    /// Delivers, now, mails a change already wrote into the outbox in its own transaction
    /// (`renkei_store::mail::NewMail`). A failure is recorded and left to the retry; without an
    /// SMTP server they wait in the outbox.
    pub async fn deliver_now(&self, store: &Store, ids: &[i64]) -> Result<(), StoreError> {
        let Some(settings) = &self.smtp else {
            return Ok(());
        };
        for id in ids {
            if !store.claim_mail(*id, DELIVERY_LEASE).await? {
                continue;
            }
            let Some(mail) = store.mail(*id).await? else {
                continue;
            };
            match deliver(
                settings,
                &mail.to_address,
                &mail.subject,
                &mail.body,
                mail.calendar.as_deref(),
            )
            .await
            {
                Ok(()) => store.mark_mail_sent(*id).await?,
                Err(failure) => record_failure(store, *id, &failure).await?,
            }
        }
        Ok(())
    }

    /// Retries undelivered mail; returns how many were delivered.
    pub async fn deliver_pending(&self, store: &Store) -> Result<usize, StoreError> {
        let Some(settings) = &self.smtp else {
            return Ok(0);
        };
        let mut delivered = 0;
        for mail in store.pending_mails(MAX_ATTEMPTS, 50).await? {
            // Another server (or this one's immediate delivery) may have taken it meanwhile.
            if !store.claim_mail(mail.id, DELIVERY_LEASE).await? {
                continue;
            }
            match deliver(
                settings,
                &mail.to_address,
                &mail.subject,
                &mail.body,
                mail.calendar.as_deref(),
            )
            .await
            {
                Ok(()) => {
                    store.mark_mail_sent(mail.id).await?;
                    delivered += 1;
                }
                Err(failure) => record_failure(store, mail.id, &failure).await?,
            }
        }
        Ok(delivered)
    }
}

/// Why a delivery failed, and whether trying again could help.
#[derive(Debug)]
struct Failure {
    text: String,
    /// The receiving server refused for good (SMTP 5xx) or the address cannot be a mailbox.
    permanent: bool,
}

impl Failure {
    fn transient(text: impl ToString) -> Self {
        Failure {
            text: text.to_string(),
            permanent: false,
        }
    }
}

/// Records a failure: a permanent one as bounced (never retried), any other for the retry.
async fn record_failure(store: &Store, id: i64, failure: &Failure) -> Result<(), StoreError> {
    if failure.permanent {
        tracing::warn!(mail = id, error = %failure.text, "mail refused for good (bounced)");
        store.mark_mail_bounced(id, &failure.text).await
    } else {
        tracing::warn!(mail = id, error = %failure.text, "mail delivery failed; will retry");
        store.mark_mail_failed(id, &failure.text).await
    }
}

async fn deliver(
    settings: &SmtpSettings,
    to: &str,
    subject: &str,
    body: &str,
    calendar: Option<&str>,
) -> Result<(), Failure> {
    let from: Mailbox = settings
        .from
        .parse()
        .map_err(|e| Failure::transient(format!("from: {e}")))?;
    let to: Mailbox = to.parse().map_err(|e| Failure {
        text: format!("to: {e}"),
        permanent: true,
    })?;
    let part = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .header(ContentTransferEncoding::Base64)
        .body(body.to_owned());
    let builder = Message::builder().from(from).to(to).subject(subject);
    let message = match calendar {
        None => builder.singlepart(part),
        Some(ics) => {
            let method = if ics.contains("\r\nMETHOD:CANCEL\r\n") {
                "CANCEL"
            } else {
                "REQUEST"
            };
            let invitation = SinglePart::builder()
                .header(
                    ContentType::parse(&format!("text/calendar; charset=utf-8; method={method}"))
                        .map_err(Failure::transient)?,
                )
                .header(ContentTransferEncoding::Base64)
                .body(ics.to_owned());
            builder.multipart(
                lettre::message::MultiPart::mixed()
                    .singlepart(part)
                    .singlepart(invitation),
            )
        }
    }
    .map_err(Failure::transient)?;
    let builder = match settings.security {
        SmtpSecurity::None => {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
        }
        SmtpSecurity::StartTls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)
                .map_err(Failure::transient)?
        }
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host)
            .map_err(Failure::transient)?,
    };
    let mut builder = builder
        .port(settings.port)
        .timeout(Some(Duration::from_secs(20)));
    if let (Some(user), Some(pass)) = (&settings.username, &settings.password) {
        builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
    }
    builder
        .build()
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| Failure {
            permanent: refuses_mailbox(&e),
            text: e.to_string(),
        })
}

/// Whether the receiving server refused the recipient for good: 550 (no such mailbox), 551 (not
/// local), 553 (mailbox name not allowed). Other permanent replies (authentication, policy on the
/// sender) are our configuration's fault and are retried once it is fixed, not called bounces.
fn refuses_mailbox(error: &lettre::transport::smtp::Error) -> bool {
    error.is_permanent()
        && error
            .status()
            .is_some_and(|code| matches!(u16::from(code), 550 | 551 | 553))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_are_parsed() {
        let s = SmtpSettings::from_url(
            "smtp://user%40x:p%3Ass@mail.example.jp",
            "Renkei <noreply@example.jp>",
        )
        .unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.security),
            ("mail.example.jp", 587, SmtpSecurity::StartTls)
        );
        assert_eq!(
            (s.username.as_deref(), s.password.as_deref()),
            (Some("user@x"), Some("p:ss"))
        );
        let s = SmtpSettings::from_url("smtps://mail.example.jp", "noreply@example.jp").unwrap();
        assert_eq!((s.port, s.security), (465, SmtpSecurity::Tls));
        let s =
            SmtpSettings::from_url("smtp://127.0.0.1:2525?tls=none", "noreply@example.jp").unwrap();
        assert_eq!(
            (s.port, s.security, s.username),
            (2525, SmtpSecurity::None, None)
        );
        assert!(SmtpSettings::from_url("http://x", "noreply@example.jp").is_err());
        assert!(SmtpSettings::from_url("smtp://x:notaport", "noreply@example.jp").is_err());
        assert!(SmtpSettings::from_url("smtp://x", "not an address").is_err());
    }
}
