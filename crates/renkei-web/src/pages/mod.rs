//! Server-rendered pages.

pub mod account;
pub mod admin;
pub mod area;
pub mod area_map;
pub mod backup;
pub mod bcp;
pub mod beds;
pub mod careteam;
pub mod changes;
pub mod conference;
pub mod consultation;
pub mod directory;
pub mod events;
pub mod freshness;
pub mod home;
pub mod hub;
pub mod import;
pub mod institution;
pub mod invitations;
pub mod lang;
pub mod ledger;
pub mod ledger_edit;
pub(crate) mod ledger_feed;
pub mod ledger_texts;
pub mod login;
pub mod message;
pub mod password;
pub mod power;
pub mod readiness;
pub mod rota;
pub mod safety;
pub mod safety_dashboard;
pub mod safety_exports;
pub mod safety_form;
pub mod safety_phone;
pub mod safety_response;
pub mod safety_summary;
pub(crate) mod shared;
pub mod surveys;
pub mod urgent;

use crate::i18n::Lang;
use renkei_store::accounts::Membership;

/// 「拠点コーディネーター（八尾市医師会）」: a role and where it is held, in the page's language.
pub fn membership_label(m: &Membership, lang: Lang) -> String {
    let label = if lang == Lang::En {
        m.role.label_en()
    } else {
        m.role.label_ja()
    };
    format!("{label}（{}）", m.organisation.name)
}

/// A CSV field, quoted when needed; a leading = + - @ is neutralised so spreadsheets do not run
/// it as a formula.
pub fn csv_field(value: &str) -> String {
    let safe = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if safe.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", safe.replace('"', "\"\""))
    } else {
        safe
    }
}

/// The one-time token a mailed link carries, while it is unused and unexpired (invitations,
/// password resets, confirmations all check their links this way).
pub async fn live_token(
    app: &crate::AppState,
    ctx: &crate::error::Ctx,
    purpose: renkei_store::accounts::TokenPurpose,
    token: &str,
) -> Result<Option<renkei_store::accounts::OneTimeToken>, crate::error::PageError> {
    let now = crate::clock::db_text(app.clock.now());
    app.store
        .peek_token(purpose, &renkei_domain::audit::token_hash(token), &now)
        .await
        .map_err(|e| crate::error::PageError::store(ctx, e))
}
