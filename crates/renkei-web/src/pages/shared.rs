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

/// The hub areas the user coordinates (codes): not the administrator's or the prefecture's
/// reach, only their own hubs'.
pub(crate) fn coordinated_area_codes(user: &User) -> Vec<String> {
    user.memberships
        .iter()
        .filter(|m| m.role == AccountRole::HubCoordinator)
        .filter_map(|m| m.organisation.area_code.clone())
        .collect()
}

/// The areas the viewer coordinates as (code, name), or 403 for anyone who coordinates none:
/// what is a hub's own (its consultation notes, its events) is for its coordinators only.
pub(crate) async fn coordinated_areas(
    app: &AppState,
    ctx: &Ctx,
) -> Result<Vec<(String, String)>, PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::forbidden(ctx))?;
    let codes = coordinated_area_codes(user);
    let areas: Vec<(String, String)> = super::safety::reach(app, ctx)
        .await?
        .visible
        .into_iter()
        .filter(|(code, _)| codes.contains(code))
        .collect();
    if areas.is_empty() {
        return Err(PageError::forbidden(ctx));
    }
    Ok(areas)
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

/// The media type of an Excel workbook.
pub(crate) const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A table as a download: `name.xlsx` (one sheet named `sheet`) when `xlsx`, else `name.csv`
/// (UTF-8 with a BOM, as Excel in Japan opens it).
pub(crate) fn table_download(
    ctx: &Ctx,
    xlsx: bool,
    name: &str,
    sheet: &str,
    heads: &[&str],
    rows: &[Vec<String>],
) -> Result<Response, PageError> {
    if xlsx {
        let bytes = crate::export::table_xlsx(sheet, heads, rows)
            .map_err(|e| PageError::store(ctx, renkei_store::StoreError::Invalid(e.to_string())))?;
        Ok(download(XLSX, &format!("{name}.xlsx"), bytes))
    } else {
        Ok(download(
            "text/csv; charset=utf-8",
            &format!("{name}.csv"),
            crate::export::table_csv(heads, rows),
        ))
    }
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

/// A file sent with a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SentFile {
    /// The form field it came in.
    pub field: String,
    /// The name it came with.
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A submitted form, urlencoded or multipart (then with its files): the same fields either way,
/// so a form that may carry files reads like any other.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Submitted {
    fields: Vec<(String, String)>,
    /// The files, in the order sent (empty file inputs left out).
    pub files: Vec<SentFile>,
}

impl Submitted {
    /// Reads the request's body; an error says what to do (in Japanese, as the forms are).
    pub(crate) async fn read(
        request: axum::extract::Request,
        app: &AppState,
    ) -> Result<Submitted, String> {
        use axum::extract::{FromRequest, Multipart};
        let multipart = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if !multipart {
            let body = axum::body::to_bytes(request.into_body(), usize::MAX)
                .await
                .map_err(|_| "送られたフォームを読めませんでした。もう一度送ってください")?;
            let fields = serde_urlencoded::from_bytes(&body)
                .map_err(|_| "送られたフォームを読めませんでした。もう一度送ってください")?;
            return Ok(Submitted {
                fields,
                files: Vec::new(),
            });
        }
        let unreadable = "送られたフォームを読めませんでした。もう一度送ってください".to_owned();
        let mut form = Multipart::from_request(request, app)
            .await
            .map_err(|_| unreadable.clone())?;
        let mut out = Submitted::default();
        // NUL never belongs in text (and PostgreSQL cannot store it); the URL and urlencoded
        // forms are checked in `crate::input`, multipart text here.
        let nul = "使えない文字（NUL）が含まれています。入力をご確認のうえ、もう一度送ってください"
            .to_owned();
        while let Some(field) = form.next_field().await.map_err(|_| unreadable.clone())? {
            let name = field.name().unwrap_or("").to_owned();
            if name.contains('\0') || field.file_name().is_some_and(|f| f.contains('\0')) {
                return Err(nul);
            }
            match field.file_name().map(str::to_owned) {
                Some(file_name) => {
                    let bytes = field.bytes().await.map_err(|_| {
                        "ファイルを最後まで受け取れませんでした。大きすぎないか確かめて、もう一度選んでください"
                            .to_owned()
                    })?;
                    // A file input left empty still sends a part with no name and no bytes.
                    if !(file_name.is_empty() && bytes.is_empty()) {
                        out.files.push(SentFile {
                            field: name,
                            name: file_name,
                            bytes: bytes.to_vec(),
                        });
                    }
                }
                None => {
                    let text = field.text().await.map_err(|_| unreadable.clone())?;
                    if text.contains('\0') {
                        return Err(nul);
                    }
                    out.fields.push((name, text));
                }
            }
        }
        Ok(out)
    }

    /// A field, empty when absent.
    pub(crate) fn get(&self, name: &str) -> String {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Every value of a repeated field (checkboxes), in order.
    pub(crate) fn all(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The files sent in field `name`.
    pub(crate) fn files_of(&self, name: &str) -> Vec<&SentFile> {
        self.files.iter().filter(|f| f.field == name).collect()
    }
}
