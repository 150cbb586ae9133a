//! Files of the care team (migration 17): photos and PDFs on the timeline and the signed consent
//! form. The bytes are sealed at rest ([`crate::sealed`]) under a key for this purpose only,
//! bound to the patient; the table keeps the name, the type found by content, the size and the
//! SHA-256 of the original so a download can be checked. Who may read a file is decided by the
//! caller from the patient, as for every other patient read.

use crate::connect::Store;
use crate::error::StoreError;
use crate::sealed::Sealer;
use crate::time_text;
use chrono::{DateTime, Utc};
use renkei_domain::accounts::UserId;
use renkei_domain::audit::content_hash;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

/// The HKDF purpose of the attachments' key.
const PURPOSE: &str = "care-attachment";

/// A file to attach, already checked (type by content, size).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment<'a> {
    /// The name it came with (shown, never trusted for the type).
    pub file_name: &'a str,
    /// Its media type, as found by content.
    pub media_type: &'static str,
    /// Its bytes.
    pub bytes: &'a [u8],
}

/// What is known of a stored file without opening it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentMeta {
    /// Its id.
    pub id: i64,
    /// The patient it belongs to.
    pub patient_id: i64,
    /// The post it came with.
    pub post_id: Option<i64>,
    /// The consent whose signed form it is.
    pub consent_id: Option<i64>,
    /// The name it came with.
    pub file_name: String,
    /// Its media type.
    pub media_type: String,
    /// Its size, bytes.
    pub size: i64,
    /// SHA-256 of the original bytes, hex.
    pub sha256: String,
}

impl AttachmentMeta {
    /// Whether it is shown as a picture.
    pub fn is_image(&self) -> bool {
        self.media_type.starts_with("image/")
    }
}

const COLUMNS: &str = "id, patient_id, post_id, consent_id, file_name, media_type, size, sha256";

fn meta_of(r: &AnyRow) -> Result<AttachmentMeta, StoreError> {
    Ok(AttachmentMeta {
        id: r.try_get("id")?,
        patient_id: r.try_get("patient_id")?,
        post_id: r.try_get("post_id")?,
        consent_id: r.try_get("consent_id")?,
        file_name: r.try_get("file_name")?,
        media_type: r.try_get("media_type")?,
        size: r.try_get("size")?,
        sha256: r.try_get("sha256")?,
    })
}

fn owner(patient: i64) -> String {
    format!("patient:{patient}")
}

/// A file name as kept: no path, no control characters, at most 120 characters.
fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(120)
        .collect();
    if cleaned.trim().is_empty() {
        "file".to_owned()
    } else {
        cleaned
    }
}

impl Store {
    fn sealer(&self) -> Result<Sealer, StoreError> {
        Sealer::derive(self.audit_key()?, PURPOSE)
    }

    /// Seals and stores files of a post or of a consent, inside the caller's transaction.
    pub(crate) async fn insert_attachments(
        &self,
        tx: &mut Transaction<'_, Any>,
        patient: i64,
        (post, consent): (Option<i64>, Option<i64>),
        files: &[NewAttachment<'_>],
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if files.is_empty() {
            return Ok(());
        }
        let sealer = self.sealer()?;
        for f in files {
            let sealed = sealer.seal(&owner(patient), f.bytes)?;
            sqlx::query(
                "INSERT INTO care_attachments (patient_id, post_id, consent_id, file_name,
                     media_type, size, sha256, nonce, sealed, uploaded_at, uploaded_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(patient)
            .bind(post)
            .bind(consent)
            .bind(clean_name(f.file_name))
            .bind(f.media_type)
            .bind(i64::try_from(f.bytes.len()).unwrap_or(i64::MAX))
            .bind(content_hash(f.bytes))
            .bind(sealed.nonce)
            .bind(sealed.bytes)
            .bind(time_text(now))
            .bind(by.0)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// The files of the given posts of a patient, in the order they were attached.
    pub async fn attachments_of_posts(
        &self,
        patient: i64,
        posts: &[i64],
    ) -> Result<Vec<AttachmentMeta>, StoreError> {
        let (Some(low), Some(high)) = (posts.iter().min(), posts.iter().max()) else {
            return Ok(Vec::new());
        };
        // The posts of one page are a contiguous id range of the patient: one indexed query.
        let sql = format!(
            "SELECT {COLUMNS} FROM care_attachments
             WHERE patient_id = $1 AND post_id BETWEEN $2 AND $3 ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(patient)
            .bind(low)
            .bind(high)
            .fetch_all(self.pool())
            .await?;
        let wanted: std::collections::HashSet<i64> = posts.iter().copied().collect();
        let mut out = rows.iter().map(meta_of).collect::<Result<Vec<_>, _>>()?;
        out.retain(|a| a.post_id.is_some_and(|p| wanted.contains(&p)));
        Ok(out)
    }

    /// The signed consent forms of a patient.
    pub async fn consent_forms(&self, patient: i64) -> Result<Vec<AttachmentMeta>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM care_attachments
             WHERE patient_id = $1 AND consent_id IS NOT NULL ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(patient)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(meta_of).collect()
    }

    /// A file of `patient`, opened and checked against its SHA-256; `None` when the patient has
    /// no such file.
    pub async fn attachment(
        &self,
        patient: i64,
        id: i64,
    ) -> Result<Option<(AttachmentMeta, Vec<u8>)>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS}, nonce, sealed FROM care_attachments
             WHERE id = $1 AND patient_id = $2"
        );
        let Some(row) = sqlx::query(&sql)
            .bind(id)
            .bind(patient)
            .fetch_optional(self.pool())
            .await?
        else {
            return Ok(None);
        };
        let meta = meta_of(&row)?;
        let nonce: Vec<u8> = row.try_get("nonce")?;
        let sealed: Vec<u8> = row.try_get("sealed")?;
        let bytes = self.sealer()?.open(&owner(patient), &nonce, &sealed)?;
        if content_hash(&bytes) != meta.sha256 {
            return Err(StoreError::Invalid(format!(
                "attachment {id} does not match its hash"
            )));
        }
        Ok(Some((meta, bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::clean_name;

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(clean_name("C:\\Users\\看護\\褥瘡.jpg"), "褥瘡.jpg");
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("a\"b\r\n.pdf"), "ab.pdf");
        assert_eq!(clean_name(""), "file");
    }
}
