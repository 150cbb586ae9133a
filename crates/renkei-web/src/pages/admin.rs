//! Administration: users (disable, enable), the two-factor policy, and the audit log with its
//! verification and CSV export.

use crate::auth::access::client_of;
use crate::auth::policy::{TwoFactorPolicy, SETTING};
use crate::chrome::Chrome;
use crate::clock::jst_text;
use crate::error::{Ctx, PageError};
use crate::i18n::Lang;
use crate::pages::home::render;
use crate::pages::login::audit as record_audit;
use crate::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use renkei_domain::accounts::{AccountRole, UserId};
use renkei_domain::audit::Outcome;
use renkei_store::audit::AuditFilter;
use serde::Deserialize;

/// A user row.
#[derive(Debug)]
pub struct UserRow {
    id: i64,
    name: String,
    email: String,
    roles: String,
    totp: bool,
    disabled: bool,
    is_self: bool,
}

/// A role in the policy form.
#[derive(Debug)]
pub struct PolicyRow {
    code: &'static str,
    label: &'static str,
    required: bool,
    locked: bool,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    chrome: Chrome,
    users: Vec<UserRow>,
    policy: Vec<PolicyRow>,
    error: Option<String>,
}

async fn users_page(
    app: &AppState,
    ctx: &Ctx,
    error: Option<String>,
) -> Result<UsersPage, PageError> {
    let me = ctx.viewer.user().map(|u| u.id);
    let users = app
        .store
        .users()
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .into_iter()
        .map(|u| UserRow {
            id: u.id.0,
            roles: u
                .memberships
                .iter()
                .map(|m| crate::pages::membership_label(m, ctx.lang))
                .collect::<Vec<_>>()
                .join("、"),
            is_self: Some(u.id) == me,
            name: u.display_name,
            email: u.email,
            totp: u.totp_enabled,
            disabled: u.disabled,
        })
        .collect();
    let policy = app.two_factor_policy();
    let rows = AccountRole::ALL
        .iter()
        .map(|r| PolicyRow {
            code: r.code(),
            label: if ctx.lang == Lang::En {
                r.label_en()
            } else {
                r.label_ja()
            },
            required: policy.requires(*r),
            locked: r.can_see_patient_data(),
        })
        .collect();
    Ok(UsersPage {
        chrome: Chrome::new(ctx, "nav.admin", false),
        users,
        policy: rows,
        error,
    })
}

/// `GET /admin/users`.
pub async fn users(State(app): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    let page = users_page(&app, &ctx, None).await?;
    Ok(render(&ctx, &page)?.into_response())
}

async fn set_disabled(
    app: AppState,
    ctx: Ctx,
    extensions: Extensions,
    id: i64,
    disabled: bool,
) -> Result<Response, PageError> {
    let actor = ctx.viewer.user().cloned();
    if actor.as_ref().map(|u| u.id.0) == Some(id) {
        let message = crate::i18n::catalog(ctx.lang).get("admin.cannot_disable_self");
        let page = users_page(&app, &ctx, Some(message)).await?;
        return Ok((StatusCode::BAD_REQUEST, render(&ctx, &page)?).into_response());
    }
    let changed = app
        .store
        .set_disabled(UserId(id), disabled)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    if !changed {
        return Err(PageError::not_found(&ctx));
    }
    let action = if disabled {
        "admin.user.disable"
    } else {
        "admin.user.enable"
    };
    record_audit(
        &app,
        actor.as_ref(),
        action,
        Outcome::Ok,
        &format!("user:{id}"),
        &client_of(&extensions),
    )
    .await;
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, "/admin/users")]).into_response())
}

/// `POST /admin/users/{id}/disable`: the user's sessions end at once.
pub async fn disable_user(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    set_disabled(app, ctx, extensions, id, true).await
}

/// `POST /admin/users/{id}/enable`.
pub async fn enable_user(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    set_disabled(app, ctx, extensions, id, false).await
}

/// `POST /admin/users/{id}/reset-two-factor`: for a user who lost the phone and every recovery
/// code. The factor and codes are removed, every session and API token ends, the user is mailed
/// and enrols a new factor at the next login. Never the administrator's own (that goes through
/// the account page, with the password and a code).
pub async fn reset_two_factor(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let actor = ctx.viewer.user().cloned();
    if actor.as_ref().map(|u| u.id.0) == Some(id) {
        let message = crate::i18n::catalog(ctx.lang).get("admin.cannot_reset_self");
        let page = users_page(&app, &ctx, Some(message)).await?;
        return Ok((StatusCode::BAD_REQUEST, render(&ctx, &page)?).into_response());
    }
    let Some(user) = app
        .store
        .user(UserId(id))
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    else {
        return Err(PageError::not_found(&ctx));
    };
    let notice = crate::pages::account::owner_notice(
        &app,
        &user,
        crate::pages::account::FactorChange::Reset,
    );
    let queued = app
        .store
        .reset_second_factor(user.id, &[notice])
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    app.mailer
        .deliver_now(&app.store, &queued)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    record_audit(
        &app,
        actor.as_ref(),
        "admin.two_factor.reset",
        Outcome::Ok,
        &format!("user:{id}"),
        &client_of(&extensions),
    )
    .await;
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, "/admin/users")]).into_response())
}

/// `POST /admin/policy` (form fields `role`, repeated).
pub async fn set_policy(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    body: Bytes,
) -> Result<Response, PageError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let roles: Vec<AccountRole> = pairs
        .iter()
        .filter(|(k, _)| k == "role")
        .filter_map(|(_, v)| AccountRole::from_code(v))
        .collect();
    let policy = TwoFactorPolicy::with_required(&roles);
    app.store
        .set_setting(SETTING, &policy.to_setting())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    app.set_policy(policy.clone());
    let event = renkei_store::audit::AuditEvent::new(
        ctx.viewer.user().map(|u| u.id),
        "admin.policy",
        Outcome::Ok,
        "setting:two_factor",
        client_of(&extensions),
    )
    .with_details(serde_json::json!({ "required": policy.to_setting() }).to_string());
    let _ = app.store.append_audit(&event).await;
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, "/admin/users")]).into_response())
}

/// Filters of the audit page (dates in Japan time, `YYYY-MM-DD`).
#[derive(Debug, Deserialize, Default, Clone)]
pub struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    before: Option<i64>,
}

impl AuditQuery {
    fn filter(&self, limit: i64) -> AuditFilter {
        AuditFilter {
            action_prefix: Some(self.action.trim().to_owned()).filter(|a| !a.is_empty()),
            actor: None,
            outcome: Some(self.outcome.clone())
                .filter(|o| ["ok", "denied", "failed"].contains(&o.as_str())),
            from: jst_day_start(&self.from, 0),
            until: jst_day_start(&self.until, 1),
            before_seq: self.before,
            limit,
        }
    }

    fn query_string(&self) -> String {
        serde_urlencoded::to_string([
            ("action", self.action.as_str()),
            ("outcome", self.outcome.as_str()),
            ("from", self.from.as_str()),
            ("until", self.until.as_str()),
        ])
        .unwrap_or_default()
    }
}

/// The UTC text of 00:00 Japan time on `day` plus `add_days`.
fn jst_day_start(day: &str, add_days: u64) -> Option<String> {
    let date = chrono::NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d").ok()?
        + chrono::Days::new(add_days);
    Some(crate::clock::db_text(renkei_domain::japan::day_start(date)))
}

/// An entry as shown.
#[derive(Debug)]
pub struct EntryRow {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    outcome: String,
    target: String,
    client: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    chrome: Chrome,
    entries: Vec<EntryRow>,
    checked: i64,
    broken_at: Option<i64>,
    broken_reason: &'static str,
    filter_action: String,
    filter_outcome: String,
    outcomes: Vec<(&'static str, bool)>,
    filter_from: String,
    filter_until: String,
    query: String,
    older: Option<String>,
}

const PAGE: i64 = 100;

/// The audit page: verification result, filters, newest first, keyset paging.
async fn audit_log(app: &AppState, ctx: &Ctx, q: &AuditQuery) -> Result<AuditPage, PageError> {
    let verification = app
        .store
        .verify_audit()
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let entries = app
        .store
        .audit_entries(&q.filter(PAGE))
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let older = (entries.len() as i64 == PAGE)
        .then(|| {
            entries
                .last()
                .map(|e| format!("/admin/audit?{}&before={}", q.query_string(), e.seq))
        })
        .flatten();
    Ok(AuditPage {
        chrome: Chrome::new(ctx, "nav.admin", false),
        entries: entries
            .into_iter()
            .map(|e| EntryRow {
                seq: e.seq,
                at: jst_text(&e.at),
                actor: e
                    .actor_email
                    .or(e.actor_user_id.map(|id| format!("user:{id}")))
                    .unwrap_or_else(|| "—".into()),
                action: e.action,
                outcome: e.outcome,
                target: e.target,
                client: e.client,
            })
            .collect(),
        checked: verification.checked,
        broken_at: verification.first_broken.as_ref().map(|b| b.seq),
        broken_reason: verification
            .first_broken
            .map(|b| b.reason.describe())
            .unwrap_or(""),
        filter_action: q.action.clone(),
        filter_outcome: q.outcome.clone(),
        outcomes: ["ok", "denied", "failed"]
            .iter()
            .map(|o| (*o, q.outcome == *o))
            .collect(),
        filter_from: q.from.clone(),
        filter_until: q.until.clone(),
        query: q.query_string(),
        older,
    })
}

/// `GET /admin/audit`.
pub async fn audit_page(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let page = audit_log(&app, &ctx, &q).await?;
    Ok(render(&ctx, &page)?.into_response())
}

/// `GET /admin/audit.csv`: the filtered entries (up to 10,000) as CSV with a BOM, so Excel opens
/// the Japanese text correctly. The export itself is audited.
pub async fn audit_csv(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Query(q): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let entries = app
        .store
        .audit_entries(&q.filter(10_000))
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let mut out =
        String::from("\u{feff}番号,日時(JST),日時(UTC),操作者,操作,結果,対象,接続元,詳細\r\n");
    for e in &entries {
        let actor = e
            .actor_email
            .clone()
            .or(e.actor_user_id.map(|id| format!("user:{id}")))
            .unwrap_or_default();
        let fields = [
            e.seq.to_string(),
            jst_text(&e.at),
            e.at.clone(),
            actor,
            e.action.clone(),
            e.outcome.clone(),
            e.target.clone(),
            e.client.clone(),
            e.details.clone(),
        ];
        out.push_str(
            &fields
                .iter()
                .map(|f| crate::pages::csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    let event = renkei_store::audit::AuditEvent::new(
        ctx.viewer.user().map(|u| u.id),
        "audit.export",
        Outcome::Ok,
        "audit_log",
        client_of(&extensions),
    )
    .with_details(
        serde_json::json!({ "rows": entries.len(), "filter": q.query_string() }).to_string(),
    );
    let _ = app.store.append_audit(&event).await;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"renkei-audit.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::pages::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }

    #[test]
    fn japan_days_become_utc_bounds() {
        assert_eq!(
            jst_day_start("2026-11-25", 0).as_deref(),
            Some("2026-11-24T15:00:00.000000Z")
        );
        assert_eq!(
            jst_day_start("2026-11-25", 1).as_deref(),
            Some("2026-11-25T15:00:00.000000Z")
        );
        assert_eq!(jst_day_start("yesterday", 0), None);
    }
}

/// A mail as listed.
#[derive(Debug)]
pub struct MailRow {
    id: i64,
    to: String,
    subject: String,
    created: String,
    status: String,
    body: String,
}

#[derive(Template)]
#[template(path = "admin_outbox.html")]
struct OutboxPage {
    chrome: Chrome,
    delivers: bool,
    mails: Vec<MailRow>,
}

/// `GET /admin/outbox`: the newest 100 mails with their delivery state. Without an SMTP server
/// this is where invitations and reset links wait to be passed on.
pub async fn outbox(State(app): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    let t = crate::i18n::catalog(ctx.lang);
    let mails = app
        .store
        .recent_mails(100)
        .await
        .map_err(|e| PageError::store(&ctx, e))?
        .into_iter()
        .map(|m| MailRow {
            status: match (&m.sent_at, &m.last_error) {
                (Some(at), _) => format!("{} {}", t.get("outbox.sent"), jst_text(at)),
                (None, Some(e)) if m.bounced_at.is_some() => {
                    format!("{}: {e}", t.get("outbox.bounced"))
                }
                (None, Some(e)) => format!("{} ({}): {e}", t.get("outbox.failed"), m.attempts),
                (None, None) => t.get("outbox.waiting"),
            },
            id: m.id,
            to: m.to_address,
            subject: m.subject,
            created: jst_text(&m.created_at),
            body: m.body,
        })
        .collect();
    let page = OutboxPage {
        chrome: Chrome::new(&ctx, "nav.admin", false),
        delivers: app.mailer.delivers(),
        mails,
    };
    Ok(render(&ctx, &page)?.into_response())
}
