//! Small pieces the pages share: reading form fields, the institutions a user works at, an
//! entry by id, a file to download.

use crate::error::{Ctx, PageError};
use crate::AppState;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use renkei_domain::accounts::AccountRole;
use renkei_store::accounts::User;
use renkei_store::records::{EntryRecord, RecordQuery};

/// A form field (urlencoded body or query), empty when absent.
pub(crate) fn form(body: &[u8], name: &str) -> String {
    crate::auth::session::form_field(body, name).unwrap_or_default()
}

/// Every value of a repeated form field (checkboxes), in order.
pub(crate) fn form_all(body: &[u8], name: &str) -> Vec<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v)
        .collect()
}

/// The institutions the user works at as staff or institution administrator (not the system
/// administrator's reach over all): those it acts for.
pub(crate) fn own_institutions(user: &User) -> Vec<i64> {
    user.memberships
        .iter()
        .filter(|m| {
            matches!(
                m.role,
                AccountRole::InstitutionAdmin | AccountRole::InstitutionStaff
            )
        })
        .filter_map(|m| m.organisation.institution_id)
        .collect()
}

/// The directory entry `id`, or the page's 404.
pub(crate) async fn entry(app: &AppState, ctx: &Ctx, id: i64) -> Result<EntryRecord, PageError> {
    app.store
        .entry_records(&RecordQuery {
            ids: Some(vec![id]),
            limit: 1,
            ..RecordQuery::default()
        })
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .into_iter()
        .next()
        .ok_or_else(|| PageError::not_found(ctx))
}

/// A file to download: its type, its name, its body.
pub(crate) fn download(content_type: &str, file_name: &str, body: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        body,
    )
        .into_response()
}
