//! The directory of institutions (医療機関・事業所): storing and listing entries.
//!
//! This is the foundation's slice of the directory: bulk insertion (the demo) and per-area
//! listing. Search, versioning and approval come with the directory feature.

use crate::connect::Store;
use crate::error::StoreError;
use renkei_domain::institution::{InstitutionId, InstitutionKind, NewInstitution};
use renkei_domain::region::{Role, RoleStatus};
use renkei_domain::text::search_key;
use sqlx::Row;

/// One institution as listed on an area page.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InstitutionSummary {
    /// Identifier.
    pub id: InstitutionId,
    /// Kind code.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Reading.
    pub name_kana: String,
    /// Address.
    pub address: String,
    /// Town name.
    pub town: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Demo record.
    pub is_demo: bool,
    /// Active institution.
    pub is_active: bool,
    /// Role statuses (empty when not reported), in role order.
    pub roles: Vec<(String, String)>,
}

impl InstitutionSummary {
    /// The kind, parsed.
    pub fn kind(&self) -> Option<InstitutionKind> {
        InstitutionKind::from_code(&self.kind)
    }
}

impl Store {
    /// Whether the directory holds no institution at all.
    pub async fn directory_is_empty(&self) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM institutions")
            .fetch_one(self.pool())
            .await?;
        Ok(n == 0)
    }

    /// Inserts institutions in one transaction: all or nothing.
    pub async fn insert_institutions(
        &self,
        institutions: &[NewInstitution],
    ) -> Result<Vec<InstitutionId>, StoreError> {
        for (n, institution) in institutions.iter().enumerate() {
            institution.validate().map_err(|e| {
                StoreError::Invalid(format!("{}件目（{}）: {e}", n + 1, institution.name))
            })?;
        }
        let areas: Vec<(String, i64)> = sqlx::query("SELECT code, id FROM areas")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("code")?, r.try_get("id")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let now = crate::now_text();
        let mut tx = self.pool().begin().await?;
        let mut ids = Vec::with_capacity(institutions.len());
        for institution in institutions {
            let area_id = areas
                .iter()
                .find(|(code, _)| code == institution.area.as_str())
                .map(|(_, id)| *id)
                .ok_or_else(|| {
                    StoreError::Invalid(format!("地域「{}」がありません", institution.area))
                })?;
            let town_id: Option<i64> = match &institution.town {
                Some(town) => {
                    sqlx::query_scalar(
                        "SELECT id FROM towns WHERE municipality_code = $1 AND name = $2",
                    )
                    .bind(&institution.municipality)
                    .bind(town)
                    .fetch_optional(&mut *tx)
                    .await?
                }
                None => None,
            };
            let key = search_key(&format!(
                "{} {} {}",
                institution.name, institution.name_kana, institution.address
            ));
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO institutions (kind, name, name_kana, search_key, area_id, municipality_code, town_id,
                     postcode, address, lat, lng, phone, has_beds, is_demo, is_active, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id",
            )
            .bind(institution.kind.code())
            .bind(&institution.name)
            .bind(&institution.name_kana)
            .bind(key)
            .bind(area_id)
            .bind(&institution.municipality)
            .bind(town_id)
            .bind(&institution.postcode)
            .bind(&institution.address)
            .bind(institution.location.map(|p| p.lat))
            .bind(institution.location.map(|p| p.lng))
            .bind(&institution.phone)
            .bind(i64::from(institution.has_beds))
            .bind(i64::from(institution.is_demo))
            .bind(i64::from(institution.is_active))
            .bind(&now)
            .bind(&now)
            .fetch_one(&mut *tx)
            .await?;
            for (role, status) in &institution.roles {
                sqlx::query("INSERT INTO institution_roles (institution_id, role, status) VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(role.code())
                    .bind(status.code())
                    .execute(&mut *tx)
                    .await?;
            }
            ids.push(InstitutionId(id));
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// The institutions of an area, active institutions first, then by kind and reading.
    pub async fn institutions_in_area(
        &self,
        area_code: &str,
    ) -> Result<Vec<InstitutionSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT i.id, i.kind, i.name, i.name_kana, i.address, t.name AS town, i.phone, i.is_demo, i.is_active
             FROM institutions i
             JOIN areas a ON a.id = i.area_id
             LEFT JOIN towns t ON t.id = i.town_id
             WHERE a.code = $1
             ORDER BY i.is_active DESC, i.kind, i.name_kana, i.id",
        )
        .bind(area_code)
        .fetch_all(self.pool())
        .await?;
        let roles = sqlx::query(
            "SELECT r.institution_id, r.role, r.status FROM institution_roles r
             JOIN institutions i ON i.id = r.institution_id
             JOIN areas a ON a.id = i.area_id
             WHERE a.code = $1",
        )
        .bind(area_code)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            let mut own: Vec<(Role, RoleStatus)> = Vec::new();
            for r in roles
                .iter()
                .filter(|r| r.try_get::<i64, _>("institution_id").ok() == Some(id))
            {
                let role = Role::from_code(&r.try_get::<String, _>("role")?);
                let status = RoleStatus::from_code(&r.try_get::<String, _>("status")?);
                if let (Some(role), Some(status)) = (role, status) {
                    own.push((role, status));
                }
            }
            own.sort_by_key(|(role, _)| *role);
            out.push(InstitutionSummary {
                id: InstitutionId(id),
                kind: row.try_get("kind")?,
                name: row.try_get("name")?,
                name_kana: row.try_get("name_kana")?,
                address: row.try_get("address")?,
                town: row.try_get("town")?,
                phone: row.try_get("phone")?,
                is_demo: row.try_get::<i64, _>("is_demo")? != 0,
                is_active: row.try_get::<i64, _>("is_active")? != 0,
                roles: own
                    .into_iter()
                    .map(|(r, s)| (r.code().to_owned(), s.code().to_owned()))
                    .collect(),
            });
        }
        Ok(out)
    }

    /// Counts of active institutions whose role is 現状対応可, per area code and role code.
    pub async fn role_availability(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.code AS area, r.role, COUNT(*) AS n
             FROM institution_roles r
             JOIN institutions i ON i.id = r.institution_id
             JOIN areas a ON a.id = i.area_id
             WHERE i.is_active = 1 AND r.status = 'available'
             GROUP BY a.code, r.role
             ORDER BY a.code, r.role",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("area")?, r.try_get("role")?, r.try_get("n")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

/// An institution's name and area, for invitations and permissions.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InstitutionBrief {
    /// Identifier.
    pub id: InstitutionId,
    /// Name.
    pub name: String,
    /// Kind code.
    pub kind: String,
    /// Area code.
    pub area_code: String,
}

impl Store {
    /// An institution's name and area.
    pub async fn institution_brief(&self, id: i64) -> Result<Option<InstitutionBrief>, StoreError> {
        let row = sqlx::query(
            "SELECT i.id, i.name, i.kind, a.code AS area_code FROM institutions i JOIN areas a ON a.id = i.area_id WHERE i.id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(InstitutionBrief {
                id: InstitutionId(r.try_get("id")?),
                name: r.try_get("name")?,
                kind: r.try_get("kind")?,
                area_code: r.try_get("area_code")?,
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| StoreError::from(e))
    }
}
