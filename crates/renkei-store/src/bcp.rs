//! The BCP registry (migration 10): the date of an institution's last BCP drill, every uploaded
//! version of its plan (PDF, kept in the database so a backup holds it), and who may read it —
//! partner institutions it chose and, if it says so, its hub.

use crate::connect::Store;
use crate::error::StoreError;
use crate::now_text;
use chrono::NaiveDate;
use renkei_domain::accounts::UserId;
use renkei_domain::audit::content_hash;
use sqlx::any::AnyRow;
use sqlx::Row;

/// An uploaded BCP document, without its content.
#[derive(Debug, Clone, PartialEq)]
pub struct BcpDocument {
    /// Its id.
    pub id: i64,
    /// The institution whose plan it is.
    pub institution_id: i64,
    /// File name as shown and downloaded.
    pub file_name: String,
    /// Size in bytes.
    pub size: i64,
    /// SHA-256 of the content.
    pub sha256: String,
    /// When it was uploaded (UTC text).
    pub uploaded_at: String,
}

/// An institution's BCP registry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BcpRecord {
    /// The day of the last BCP drill.
    pub last_drill_on: Option<NaiveDate>,
    /// Whether the hub (its area's coordinators) may read the document.
    pub shared_with_hub: bool,
    /// When the registry was last saved (UTC text).
    pub updated_at: Option<String>,
    /// The current document.
    pub document: Option<BcpDocument>,
    /// Partner institutions that may read it: (id, name).
    pub partners: Vec<(i64, String)>,
}

/// A plan another institution shares with the reader.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedBcp {
    /// The institution.
    pub institution_id: i64,
    /// Its name.
    pub name: String,
    /// Its current document, if uploaded.
    pub document: Option<BcpDocument>,
    /// Its last BCP drill.
    pub last_drill_on: Option<NaiveDate>,
}

const DOCUMENT_COLUMNS: &str =
    "d.id, d.institution_id, d.file_name, d.size, d.sha256, d.uploaded_at";

fn document_of(r: &AnyRow) -> Result<BcpDocument, StoreError> {
    Ok(BcpDocument {
        id: r.try_get("id")?,
        institution_id: r.try_get("institution_id")?,
        file_name: r.try_get("file_name")?,
        size: r.try_get("size")?,
        sha256: r.try_get("sha256")?,
        uploaded_at: r.try_get("uploaded_at")?,
    })
}

fn day(text: Option<String>) -> Option<NaiveDate> {
    text.and_then(|t| t.parse().ok())
}

impl Store {
    /// An institution's registry, current document and partners.
    pub async fn bcp_record(&self, institution_id: i64) -> Result<BcpRecord, StoreError> {
        let mut record = BcpRecord::default();
        if let Some(r) = sqlx::query(
            "SELECT last_drill_on, shared_with_hub, updated_at FROM bcp_registry WHERE institution_id = $1",
        )
        .bind(institution_id)
        .fetch_optional(self.pool())
        .await?
        {
            record.last_drill_on = day(r.try_get("last_drill_on")?);
            record.shared_with_hub = r.try_get::<i64, _>("shared_with_hub")? != 0;
            record.updated_at = r.try_get("updated_at")?;
        }
        record.document = self
            .bcp_documents(institution_id, 1)
            .await?
            .into_iter()
            .next();
        let partners = sqlx::query(
            "SELECT i.id, i.name FROM bcp_partners p JOIN institutions i ON i.id = p.partner_id
             WHERE p.institution_id = $1 ORDER BY i.name_kana, i.id",
        )
        .bind(institution_id)
        .fetch_all(self.pool())
        .await?;
        record.partners = partners
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(record)
    }

    /// Saves the date of the last BCP drill and whether the hub may read the plan.
    pub async fn save_bcp_record(
        &self,
        institution_id: i64,
        last_drill_on: Option<NaiveDate>,
        shared_with_hub: bool,
        by: Option<UserId>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO bcp_registry (institution_id, last_drill_on, shared_with_hub, updated_at, updated_by)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (institution_id) DO UPDATE SET last_drill_on = $2, shared_with_hub = $3,
                 updated_at = $4, updated_by = $5",
        )
        .bind(institution_id)
        .bind(last_drill_on.map(|d| d.to_string()))
        .bind(i64::from(shared_with_hub))
        .bind(now_text())
        .bind(by.map(|u| u.0))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Stores a new version of the plan (the caller has checked it is a PDF); returns its id.
    pub async fn add_bcp_document(
        &self,
        institution_id: i64,
        file_name: &str,
        content: &[u8],
        by: Option<UserId>,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO bcp_documents (institution_id, file_name, content, size, sha256, uploaded_at, uploaded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(institution_id)
        .bind(file_name)
        .bind(content.to_vec())
        .bind(i64::try_from(content.len()).unwrap_or(i64::MAX))
        .bind(content_hash(content))
        .bind(now_text())
        .bind(by.map(|u| u.0))
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("id")?)
    }

    /// The newest `limit` versions of an institution's plan, newest first.
    pub async fn bcp_documents(
        &self,
        institution_id: i64,
        limit: i64,
    ) -> Result<Vec<BcpDocument>, StoreError> {
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM bcp_documents d WHERE d.institution_id = $1 ORDER BY d.id DESC LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(institution_id)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(document_of).collect()
    }

    /// One version with its content.
    pub async fn bcp_document(
        &self,
        id: i64,
    ) -> Result<Option<(BcpDocument, Vec<u8>)>, StoreError> {
        let sql =
            format!("SELECT {DOCUMENT_COLUMNS}, d.content FROM bcp_documents d WHERE d.id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| Ok((document_of(&r)?, r.try_get::<Vec<u8>, _>("content")?)))
            .transpose()
    }

    /// Shares the plan with a partner institution (once).
    pub async fn add_bcp_partner(
        &self,
        institution_id: i64,
        partner_id: i64,
    ) -> Result<(), StoreError> {
        if institution_id == partner_id {
            return Err(StoreError::Conflict(
                "自分の医療機関等は共有先に選べません".into(),
            ));
        }
        sqlx::query(
            "INSERT INTO bcp_partners (institution_id, partner_id, added_at)
             SELECT $1, id, $2 FROM institutions WHERE id = $3
             ON CONFLICT (institution_id, partner_id) DO NOTHING",
        )
        .bind(institution_id)
        .bind(now_text())
        .bind(partner_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Stops sharing with a partner (their access ends at once).
    pub async fn remove_bcp_partner(
        &self,
        institution_id: i64,
        partner_id: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM bcp_partners WHERE institution_id = $1 AND partner_id = $2")
            .bind(institution_id)
            .bind(partner_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Whether `partner_id` is one of the institutions `institution_id` shares its plan with.
    pub async fn is_bcp_partner(
        &self,
        institution_id: i64,
        partner_id: i64,
    ) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM bcp_partners WHERE institution_id = $1 AND partner_id = $2",
        )
        .bind(institution_id)
        .bind(partner_id)
        .fetch_one(self.pool())
        .await?;
        Ok(n > 0)
    }

    /// The plans other institutions share with `partner_id`, by name.
    pub async fn bcps_shared_with(&self, partner_id: i64) -> Result<Vec<SharedBcp>, StoreError> {
        let rows = sqlx::query(
            "SELECT i.id, i.name, g.last_drill_on FROM bcp_partners p
             JOIN institutions i ON i.id = p.institution_id
             LEFT JOIN bcp_registry g ON g.institution_id = i.id
             WHERE p.partner_id = $1 ORDER BY i.name_kana, i.id",
        )
        .bind(partner_id)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            out.push(SharedBcp {
                institution_id: id,
                name: r.try_get("name")?,
                document: self.bcp_documents(id, 1).await?.into_iter().next(),
                last_drill_on: day(r.try_get("last_drill_on")?),
            });
        }
        Ok(out)
    }
}
