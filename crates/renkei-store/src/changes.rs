//! Changes to directory entries proposed by the institutions and decided by the hub
//! coordinators; approved versions are kept so "who changed what, when" is always answerable.

use crate::connect::Store;
use crate::error::StoreError;
use renkei_domain::accounts::UserId;
use renkei_domain::capability::Capability;
use renkei_domain::institution::{
    Details, LocationPrecision, PlacedPoint, PublicFields, RoleEntry,
};
use renkei_domain::readiness::{BcpStatus, EmergencyPower, PowerKind};
use renkei_domain::region::{Role, RoleStatus};
use renkei_domain::text::search_key;
use sqlx::Row;
use std::collections::HashMap;

/// A proposed change with what the reviewer needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Identifier.
    pub id: i64,
    /// The institution.
    pub institution_id: i64,
    /// Its current name.
    pub institution_name: String,
    /// Its area code.
    pub area_code: String,
    /// Who proposed it (e-mail).
    pub proposed_by: Option<String>,
    /// When (UTC text).
    pub proposed_at: String,
    /// pending, approved, rejected or withdrawn.
    pub status: String,
    /// The proposed fields.
    pub fields: PublicFields,
    /// The fields when it was proposed.
    pub previous: PublicFields,
    /// The reason of a rejection.
    pub reason: Option<String>,
}

/// One approved version of an entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    /// The fields of that version.
    pub fields: PublicFields,
    /// Who approved it (e-mail).
    pub approved_by: Option<String>,
    /// When (UTC text).
    pub approved_at: String,
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn fields_of(text: &str) -> Result<PublicFields, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Invalid(e.to_string()))
}

/// The columns `fields_from_row` reads.
const FIELD_COLUMNS: &str = "id, name, name_kana, postcode, address, phone, medical_code, fax, website, hours,
    contact_person, lat, lng, location_precision, power_kind, power_capacity, power_lendable, bcp_status";

/// An entry's public fields from its row (capabilities and roles are added by the caller).
pub(crate) fn fields_from_row(row: &sqlx::any::AnyRow) -> Result<PublicFields, sqlx::Error> {
    let lat: Option<f64> = row.try_get("lat")?;
    let lng: Option<f64> = row.try_get("lng")?;
    let precision: Option<String> = row.try_get("location_precision")?;
    let location = lat.zip(lng).map(|(lat, lng)| PlacedPoint {
        lat,
        lng,
        precision: precision
            .as_deref()
            .and_then(LocationPrecision::parse)
            .unwrap_or(LocationPrecision::Given),
    });
    Ok(PublicFields {
        name: row.try_get("name")?,
        name_kana: row.try_get("name_kana")?,
        postcode: row.try_get("postcode")?,
        address: row.try_get("address")?,
        phone: row.try_get("phone")?,
        capabilities: Vec::new(),
        details: Details {
            medical_code: row.try_get("medical_code")?,
            fax: row.try_get("fax")?,
            website: row.try_get("website")?,
            hours: row.try_get("hours")?,
            contact_person: row.try_get("contact_person")?,
            power: EmergencyPower {
                kind: PowerKind::parse(&row.try_get::<String, _>("power_kind")?)
                    .unwrap_or_default(),
                capacity: row.try_get("power_capacity")?,
                lendable: row.try_get::<i64, _>("power_lendable")? != 0,
            },
            bcp: BcpStatus::parse(&row.try_get::<String, _>("bcp_status")?).unwrap_or_default(),
        },
        location,
        roles: Vec::new(),
    })
}

impl Store {
    /// The public fields of an entry as they are now.
    pub async fn public_fields(
        &self,
        institution_id: i64,
    ) -> Result<Option<PublicFields>, StoreError> {
        Ok(self
            .public_fields_of(&[institution_id])
            .await?
            .remove(&institution_id))
    }

    /// The public fields of several entries (missing ids are left out), read in chunks so any
    /// number of ids works on both databases.
    pub async fn public_fields_of(
        &self,
        ids: &[i64],
    ) -> Result<HashMap<i64, PublicFields>, StoreError> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let list = chunk
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let rows = sqlx::query(&format!(
                "SELECT {FIELD_COLUMNS} FROM institutions WHERE id IN ({list})"
            ))
            .fetch_all(self.pool())
            .await?;
            for row in &rows {
                let id: i64 = row.try_get("id")?;
                out.insert(id, fields_from_row(row)?);
            }
            let caps = sqlx::query(&format!(
                "SELECT institution_id, capability FROM institution_capabilities WHERE institution_id IN ({list})"
            ))
            .fetch_all(self.pool())
            .await?;
            for row in &caps {
                let id: i64 = row.try_get("institution_id")?;
                if let Some(f) = out.get_mut(&id) {
                    f.capabilities.push(row.try_get("capability")?);
                }
            }
            let roles = sqlx::query(&format!(
                "SELECT institution_id, role, status, plan FROM institution_roles WHERE institution_id IN ({list})"
            ))
            .fetch_all(self.pool())
            .await?;
            for row in &roles {
                let id: i64 = row.try_get("institution_id")?;
                let (Some(role), Some(status)) = (
                    Role::from_code(&row.try_get::<String, _>("role")?),
                    RoleStatus::from_code(&row.try_get::<String, _>("status")?),
                ) else {
                    continue;
                };
                if let Some(f) = out.get_mut(&id) {
                    f.roles.push(RoleEntry {
                        role,
                        status,
                        plan: row.try_get("plan")?,
                    });
                }
            }
        }
        for f in out.values_mut() {
            let mut ordered: Vec<Capability> = f
                .capabilities
                .iter()
                .filter_map(|c| Capability::from_code(c))
                .collect();
            ordered.sort();
            f.capabilities = ordered.iter().map(|c| c.code().to_owned()).collect();
            f.roles.sort_by_key(|r| r.role);
        }
        Ok(out)
    }

    /// Proposes new public fields for an entry; an earlier pending proposal is withdrawn, so
    /// one stays pending however many are sent at once.
    pub async fn propose_change(
        &self,
        institution_id: i64,
        by: UserId,
        fields: &PublicFields,
    ) -> Result<i64, StoreError> {
        let previous = self
            .public_fields(institution_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("institution {institution_id}")))?;
        let now = crate::now_text();
        let mut tx = self.pool().begin().await?;
        // A write on the entry's row first: it serialises proposals for one entry (a row lock
        // on PostgreSQL, the write lock on SQLite). Without it two proposals at once could
        // each withdraw the pending one they saw and both stay pending.
        sqlx::query("UPDATE institutions SET confirmed_at = confirmed_at WHERE id = $1")
            .bind(institution_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE institution_changes SET status = 'withdrawn', decided_at = $1 WHERE institution_id = $2 AND status = 'pending'")
            .bind(&now)
            .bind(institution_id)
            .execute(&mut *tx)
            .await?;
        let id = sqlx::query_scalar(
            "INSERT INTO institution_changes (institution_id, proposed_by, proposed_at, status, fields, previous)
             VALUES ($1, $2, $3, 'pending', $4, $5) RETURNING id",
        )
        .bind(institution_id)
        .bind(by.0)
        .bind(&now)
        .bind(json(fields)?)
        .bind(json(&previous)?)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Changes with a status (e.g. `pending`), oldest first; `institution` narrows to one entry.
    pub async fn changes(
        &self,
        status: &str,
        institution: Option<i64>,
    ) -> Result<Vec<Change>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.id, c.institution_id, i.name AS institution_name, a.code AS area_code, u.email AS proposed_by,
                    c.proposed_at, c.status, c.fields, c.previous, c.reason
             FROM institution_changes c
             JOIN institutions i ON i.id = c.institution_id
             JOIN areas a ON a.id = i.area_id
             LEFT JOIN users u ON u.id = c.proposed_by
             WHERE c.status = $1 AND ($2 = 0 OR c.institution_id = $2)
             ORDER BY c.id",
        )
        .bind(status)
        .bind(institution.unwrap_or(0))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(change_from).collect()
    }

    /// One change.
    pub async fn change(&self, id: i64) -> Result<Option<Change>, StoreError> {
        let row = sqlx::query(
            "SELECT c.id, c.institution_id, i.name AS institution_name, a.code AS area_code, u.email AS proposed_by,
                    c.proposed_at, c.status, c.fields, c.previous, c.reason
             FROM institution_changes c
             JOIN institutions i ON i.id = c.institution_id
             JOIN areas a ON a.id = i.area_id
             LEFT JOIN users u ON u.id = c.proposed_by
             WHERE c.id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(change_from).transpose()
    }

    /// Approves a pending change: the entry takes the proposed fields (and counts as confirmed),
    /// the version is kept — all in one transaction. False when the change is no longer pending.
    pub async fn approve_change(&self, id: i64, by: UserId) -> Result<bool, StoreError> {
        let Some(change) = self.change(id).await? else {
            return Ok(false);
        };
        let now = crate::now_text();
        let mut tx = self.pool().begin().await?;
        let claimed = sqlx::query("UPDATE institution_changes SET status = 'approved', decided_by = $1, decided_at = $2 WHERE id = $3 AND status = 'pending'")
            .bind(by.0)
            .bind(&now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if claimed != 1 {
            return Ok(false);
        }
        let f = &change.fields;
        write_public_fields(&mut tx, change.institution_id, f, &now).await?;
        sqlx::query("INSERT INTO institution_versions (institution_id, fields, change_id, approved_by, approved_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(change.institution_id)
            .bind(json(f)?)
            .bind(id)
            .bind(by.0)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Rejects a pending change with a reason. False when it is no longer pending.
    pub async fn reject_change(
        &self,
        id: i64,
        by: UserId,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE institution_changes SET status = 'rejected', decided_by = $1, decided_at = $2, reason = $3 WHERE id = $4 AND status = 'pending'",
        )
        .bind(by.0)
        .bind(crate::now_text())
        .bind(reason)
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    /// The approved versions of an entry, newest first.
    pub async fn versions(&self, institution_id: i64) -> Result<Vec<Version>, StoreError> {
        let rows = sqlx::query(
            "SELECT v.fields, u.email AS approved_by, v.approved_at FROM institution_versions v
             LEFT JOIN users u ON u.id = v.approved_by WHERE v.institution_id = $1 ORDER BY v.id DESC",
        )
        .bind(institution_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Version {
                    fields: fields_of(&r.try_get::<String, _>("fields")?)?,
                    approved_by: r.try_get("approved_by")?,
                    approved_at: r.try_get("approved_at")?,
                })
            })
            .collect()
    }
}

fn change_from(r: &sqlx::any::AnyRow) -> Result<Change, StoreError> {
    Ok(Change {
        id: r.try_get("id")?,
        institution_id: r.try_get("institution_id")?,
        institution_name: r.try_get("institution_name")?,
        area_code: r.try_get("area_code")?,
        proposed_by: r.try_get("proposed_by")?,
        proposed_at: r.try_get("proposed_at")?,
        status: r.try_get("status")?,
        fields: fields_of(&r.try_get::<String, _>("fields")?)?,
        previous: fields_of(&r.try_get::<String, _>("previous")?)?,
        reason: r.try_get("reason")?,
    })
}

/// Writes an entry's public fields (and its capabilities and search key) inside a transaction;
/// the entry counts as confirmed now.
pub(crate) async fn write_public_fields(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    institution_id: i64,
    f: &PublicFields,
    now: &str,
) -> Result<(), StoreError> {
    let key = search_key(&format!("{} {} {}", f.name, f.name_kana, f.address));
    let d = &f.details;
    sqlx::query(
        "UPDATE institutions SET name = $1, name_kana = $2, postcode = $3, address = $4, phone = $5, search_key = $6,
                updated_at = $7, confirmed_at = $7, medical_code = $8, fax = $9, website = $10, hours = $11,
                contact_person = $12, lat = $13, lng = $14, location_precision = $15, power_kind = $16,
                power_capacity = $17, power_lendable = $18, bcp_status = $19
         WHERE id = $20",
    )
    .bind(&f.name)
    .bind(&f.name_kana)
    .bind(&f.postcode)
    .bind(&f.address)
    .bind(&f.phone)
    .bind(key)
    .bind(now)
    .bind(&d.medical_code)
    .bind(&d.fax)
    .bind(&d.website)
    .bind(&d.hours)
    .bind(&d.contact_person)
    .bind(f.location.map(|p| p.lat))
    .bind(f.location.map(|p| p.lng))
    .bind(f.location.map(|p| p.precision.code()))
    .bind(d.power.kind.code())
    .bind(&d.power.capacity)
    .bind(i64::from(d.power.lendable))
    .bind(d.bcp.code())
    .bind(institution_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM institution_roles WHERE institution_id = $1")
        .bind(institution_id)
        .execute(&mut **tx)
        .await?;
    insert_roles(tx, institution_id, &f.roles).await?;
    sqlx::query("DELETE FROM institution_capabilities WHERE institution_id = $1")
        .bind(institution_id)
        .execute(&mut **tx)
        .await?;
    for code in &f.capabilities {
        sqlx::query(
            "INSERT INTO institution_capabilities (institution_id, capability) VALUES ($1, $2)",
        )
        .bind(institution_id)
        .bind(code)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Inserts an entry's role statuses and plans.
pub(crate) async fn insert_roles(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    institution_id: i64,
    roles: &[RoleEntry],
) -> Result<(), StoreError> {
    for entry in roles {
        sqlx::query(
            "INSERT INTO institution_roles (institution_id, role, status, plan) VALUES ($1, $2, $3, $4)",
        )
        .bind(institution_id)
        .bind(entry.role.code())
        .bind(entry.status.code())
        .bind(&entry.plan)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
