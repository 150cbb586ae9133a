//! A file of the care team (a photo or PDF of a post, a signed consent form), opened for a
//! viewer `decide` lets in — audited like every read of the patient.

use super::*;
use axum::http::header;

/// `GET /patients/{id}/files/{file}`: the file, unsealed. Pictures show in the page; PDFs are
/// downloaded. Nothing is cached, and the type is the one found by content when it came in.
pub async fn file(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    Path((id, file)): Path<(i64, i64)>,
) -> Result<Response, PageError> {
    admitted(&app, &ctx, &ext, id, "careteam.file_read").await?;
    let Some((meta, bytes)) = app
        .store
        .attachment(id, file)
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    else {
        return Err(PageError::not_found(&ctx));
    };
    audit(
        &app,
        &ctx,
        &ext,
        "careteam.file_opened",
        Outcome::Ok,
        format!("patient:{id} file:{file}"),
    )
    .await;
    let disposition = if meta.is_image() {
        "inline"
    } else {
        "attachment"
    };
    let extension = match meta.media_type.as_str() {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        _ => "pdf",
    };
    Ok((
        [
            (header::CONTENT_TYPE, meta.media_type.clone()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "{disposition}; filename=\"file-{file}.{extension}\"; filename*=UTF-8''{}",
                    crate::chrome::encode_path(&renkei_domain::files::download_name(
                        &meta.file_name,
                        extension,
                        &format!("file-{file}")
                    ))
                    .replace('/', "%2F")
                ),
            ),
            // `nosniff` and the CSP come from the security layer, as for every response.
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        bytes,
    )
        .into_response())
}
