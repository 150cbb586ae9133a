//! The directory of institutions (医療機関・事業所): storing and listing entries.
//!
//! This is the foundation's slice of the directory: bulk insertion (the demo) and per-area
//! listing. Search, versioning and approval come with the directory feature.

use crate::connect::Store;
use crate::error::StoreError;
use renkei_domain::capability::Capability;
use renkei_domain::institution::{InstitutionId, InstitutionKind, NewInstitution};
use renkei_domain::region::{Role, RoleStatus};
use renkei_domain::table::TableEntry;
use renkei_domain::text::search_key;
use renkei_domain::towns::distance_km;
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
        let mut tx = self.pool().begin().await?;
        let ids = insert_in_tx(&mut tx, institutions).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// An import in one transaction: new entries inserted, existing ones given new public fields
    /// (each update kept as a version). All or nothing.
    pub async fn import_directory(
        &self,
        new: &[NewInstitution],
        updates: &[(i64, renkei_domain::institution::PublicFields)],
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(), StoreError> {
        for (n, institution) in new.iter().enumerate() {
            institution.validate().map_err(|e| {
                StoreError::Invalid(format!("{}件目（{}）: {e}", n + 1, institution.name))
            })?;
        }
        let now = crate::now_text();
        let mut tx = self.pool().begin().await?;
        for chunk in new.chunks(1_000) {
            insert_in_tx(&mut tx, chunk).await?;
            progress(chunk.len() as u64);
        }
        for (id, fields) in updates {
            progress(1);
            crate::changes::write_public_fields(&mut tx, *id, fields, &now).await?;
            sqlx::query("INSERT INTO institution_versions (institution_id, fields, approved_at) VALUES ($1, $2, $3)")
                .bind(*id)
                .bind(serde_json::to_string(fields).map_err(|e| StoreError::Invalid(e.to_string()))?)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// What an import may not change about entries, by id: kind, area and designation.
    /// Ids that do not exist are absent.
    pub async fn standing_of(
        &self,
        ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, EntryStanding>, StoreError> {
        let mut out = std::collections::HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let list = chunk
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let rows = sqlx::query(&format!(
                "SELECT i.id, i.kind, a.code, a.name, i.is_active
                 FROM institutions i JOIN areas a ON a.id = i.area_id WHERE i.id IN ({list})"
            ))
            .fetch_all(self.pool())
            .await?;
            for r in &rows {
                let kind: String = r.try_get("kind")?;
                let Some(kind) = InstitutionKind::from_code(&kind) else {
                    continue;
                };
                out.insert(
                    r.try_get("id")?,
                    EntryStanding {
                        kind,
                        area_code: r.try_get("code")?,
                        is_active: r.try_get::<i64, _>("is_active")? != 0,
                        area_name: r.try_get("name")?,
                    },
                );
            }
        }
        Ok(out)
    }

    /// Every entry's id with its 医療機関コード, for matching an import against the directory.
    pub async fn medical_codes(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, medical_code FROM institutions WHERE medical_code IS NOT NULL AND medical_code <> ''",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("medical_code")?, r.try_get("id")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Every entry's id with its identity key (normalised name and address), for matching an
    /// import against the directory.
    pub async fn identity_keys(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT id, name, address FROM institutions")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get("name")?;
                let address: String = r.try_get("address")?;
                Ok((
                    renkei_domain::import::identity_key(&name, &address),
                    r.try_get("id")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
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

/// What an import may not change about an entry (it changes through the coordinator, not a file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryStanding {
    /// Its kind.
    pub kind: InstitutionKind,
    /// Its area's code.
    pub area_code: String,
    /// Designated an active institution.
    pub is_active: bool,
    /// Its area's name.
    pub area_name: String,
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

/// A directory search: every term must match (capability terms as capabilities, the rest in
/// name, reading or address), within the optional area and kind.
#[derive(Debug, Clone, Default)]
pub struct DirectoryQuery {
    /// Search keys (already normalised with `search_key`) to find in name, reading or address.
    pub text: Vec<String>,
    /// Capabilities every result must offer.
    pub capabilities: Vec<Capability>,
    /// Only this area code.
    pub area: Option<String>,
    /// Only this kind.
    pub kind: Option<InstitutionKind>,
    /// Only entries within `km` of (`lat`, `lng`), nearest first, each with its distance.
    pub near: Option<Near>,
    /// The candidates of the near search as the spatial index ranks them — the entries within
    /// the radius in (distance, id) order, read lazily. When given, the search reads these ids
    /// (no bounding box, no cap); without it a near search reads its whole bounding box.
    pub ranked: Option<std::sync::Arc<dyn NearRanking>>,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
    /// The number of matches when the caller already knows it (an unfiltered listing counted
    /// in the kept region overview): the search then does not count again.
    pub known_total: Option<i64>,
}

/// The candidates of a near search as a spatial index ranks them: the entries within the
/// radius (and of the kinds and capabilities asked for) in (distance, id) order, each with its
/// distance in km. The store reads them a window at a time, so a page of 50 walks the index
/// about 50 steps however many entries lie within the radius.
pub trait NearRanking: Send + Sync + std::fmt::Debug {
    /// At most `n` candidates strictly after `after` (distance, id), as (id, km) in order.
    fn window(&self, after: Option<(f64, i64)>, n: usize) -> Vec<(i64, f64)>;
    /// How many candidates there are in all.
    fn count(&self) -> usize;
}

/// A ranking already in hand (tests, and callers that ranked for another purpose).
impl NearRanking for Vec<(i64, f64)> {
    fn window(&self, after: Option<(f64, i64)>, n: usize) -> Vec<(i64, f64)> {
        let start = after.map_or(0, |(ad, aid)| {
            self.partition_point(|&(id, d)| d.total_cmp(&ad).then(id.cmp(&aid)).is_le())
        });
        self[start..].iter().take(n).copied().collect()
    }
    fn count(&self) -> usize {
        self.len()
    }
}

/// A point and a radius for a "near" search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Near {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lng: f64,
    /// Radius in kilometres.
    pub km: f64,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DirectoryHit {
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
    /// Phone.
    pub phone: Option<String>,
    /// Area code.
    pub area_code: String,
    /// Active institution.
    pub is_active: bool,
    /// Demo record.
    pub is_demo: bool,
    /// Capability codes.
    pub capabilities: Vec<String>,
    /// Latitude.
    pub lat: Option<f64>,
    /// Longitude.
    pub lng: Option<f64>,
    /// Postcode.
    pub postcode: Option<String>,
    /// Distance from the point of a "near" search, in kilometres.
    pub distance_km: Option<f64>,
}

/// An institution's public detail.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InstitutionDetail {
    /// The listing fields.
    pub hit: DirectoryHit,
    /// Postcode.
    pub postcode: Option<String>,
    /// Town.
    pub town: Option<String>,
    /// Latitude.
    pub lat: Option<f64>,
    /// Longitude.
    pub lng: Option<f64>,
    /// Area name.
    pub area_name: String,
    /// The area's hub operators.
    pub hub_operators: Vec<String>,
    /// Every public field, including details, location precision and role plans.
    pub fields: renkei_domain::institution::PublicFields,
    /// Whether it has inpatient beds (入院機能).
    pub has_beds: bool,
    /// Last update (UTC text).
    pub updated_at: String,
}

fn escape_like(key: &str) -> String {
    key.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

impl Store {
    /// Searches the directory; returns the total number of matches and one page of them
    /// (active institutions first, then by reading).
    pub async fn search_directory(
        &self,
        q: &DirectoryQuery,
    ) -> Result<(i64, Vec<DirectoryHit>), StoreError> {
        if let Some(ranked) = q.near.and(q.ranked.as_ref()) {
            return self.search_ranked(q, ranked.as_ref()).await;
        }
        let (mut clauses, mut binds) = directory_clauses(q);
        if let Some(near) = q.near {
            // A bounding box narrows the candidates in SQL; the true distance sorts them below.
            let dlat = near.km / 111.0;
            let dlng = near.km / (111.0 * near.lat.to_radians().cos().max(0.01));
            for (column, lo, hi) in [
                ("i.lat", near.lat - dlat, near.lat + dlat),
                ("i.lng", near.lng - dlng, near.lng + dlng),
            ] {
                binds.push(format!("{lo:.7}"));
                binds.push(format!("{hi:.7}"));
                clauses.push(format!(
                    "{column} BETWEEN CAST(${} AS DOUBLE PRECISION) AND CAST(${} AS DOUBLE PRECISION)",
                    binds.len() - 1,
                    binds.len()
                ));
            }
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let from = format!("FROM institutions i JOIN areas a ON a.id = i.area_id {filter}");
        let total = match q.known_total.filter(|_| clauses.is_empty()) {
            Some(known) => known,
            None => {
                let count_sql = format!("SELECT COUNT(*) {from}");
                let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
                for b in &binds {
                    count = count.bind(b);
                }
                count.fetch_one(self.pool()).await?
            }
        };
        let page_sql = format!(
            "SELECT i.id, i.kind, i.name, i.name_kana, i.address, i.phone, a.code AS area_code, i.is_active, i.is_demo,
                    i.lat, i.lng, i.postcode
             {from} ORDER BY i.is_active DESC, i.name_kana, i.id LIMIT ${} OFFSET ${}",
            binds.len() + 1,
            binds.len() + 2
        );
        let mut page = sqlx::query(&page_sql);
        for b in &binds {
            page = page.bind(b);
        }
        // A near search without the index's ranking reads its whole bounding box (exact at any
        // size) and sorts it below by true distance.
        let (limit, offset) = match q.near {
            Some(_) => (i64::MAX, 0),
            None => (q.limit.clamp(1, 500), q.offset.max(0)),
        };
        let rows = page.bind(limit).bind(offset).fetch_all(self.pool()).await?;
        let mut hits = Vec::with_capacity(rows.len());
        for row in &rows {
            hits.push(hit_from(row)?);
        }
        let total = match q.near {
            Some(near) => {
                for hit in hits.iter_mut() {
                    hit.distance_km = hit
                        .lat
                        .zip(hit.lng)
                        .map(|(lat, lng)| distance_km(near.lat, near.lng, lat, lng));
                }
                hits.retain(|h| h.distance_km.is_some_and(|d| d <= near.km));
                hits.sort_by(|a, b| {
                    a.distance_km
                        .partial_cmp(&b.distance_km)
                        .unwrap_or(std::cmp::Ordering::Equal)
                        .then(a.id.0.cmp(&b.id.0))
                });
                let total = hits.len() as i64;
                let start = usize::try_from(q.offset.max(0))
                    .unwrap_or(0)
                    .min(hits.len());
                let end = (start + usize::try_from(q.limit.clamp(1, 5_000)).unwrap_or(30))
                    .min(hits.len());
                hits = hits[start..end].to_vec();
                total
            }
            None => total,
        };
        self.attach_capabilities(&mut hits).await?;
        Ok((total, hits))
    }

    /// A near search over the spatial index's ranking. With no other condition the count is
    /// the ranking's and the page is walked to directly (offset + page entries of the index);
    /// with words or an area, the ranked ids that pass them are found in SQL (500 ids at a
    /// time), counted whole, and the page's slice read — in (distance, id) order either way.
    async fn search_ranked(
        &self,
        q: &DirectoryQuery,
        ranked: &dyn NearRanking,
    ) -> Result<(i64, Vec<DirectoryHit>), StoreError> {
        let (clauses, binds) = directory_clauses(q);
        let offset = usize::try_from(q.offset.max(0)).unwrap_or(0);
        let limit = usize::try_from(q.limit.clamp(1, 5_000)).unwrap_or(30);
        let (total, page): (i64, Vec<(i64, f64)>) = if clauses.is_empty() {
            let first = ranked.window(None, offset.saturating_add(limit));
            let page = first.get(offset..).map(<[_]>::to_vec).unwrap_or_default();
            (ranked.count() as i64, page)
        } else {
            let mut kept = Vec::new();
            for chunk in ranked.window(None, usize::MAX).chunks(500) {
                let ids: Vec<String> = chunk.iter().map(|(id, _)| id.to_string()).collect();
                let sql = format!(
                    "SELECT i.id FROM institutions i JOIN areas a ON a.id = i.area_id
                     WHERE {} AND i.id IN ({})",
                    clauses.join(" AND "),
                    ids.join(",")
                );
                let mut query = sqlx::query_scalar::<_, i64>(&sql);
                for b in &binds {
                    query = query.bind(b);
                }
                let found: std::collections::HashSet<i64> =
                    query.fetch_all(self.pool()).await?.into_iter().collect();
                kept.extend(chunk.iter().filter(|(id, _)| found.contains(id)));
            }
            let start = offset.min(kept.len());
            let end = start.saturating_add(limit).min(kept.len());
            (kept.len() as i64, kept[start..end].to_vec())
        };
        if page.is_empty() {
            return Ok((total, Vec::new()));
        }
        let ids: Vec<String> = page.iter().map(|(id, _)| id.to_string()).collect();
        let sql = format!(
            "SELECT i.id, i.kind, i.name, i.name_kana, i.address, i.phone, a.code AS area_code, i.is_active, i.is_demo,
                    i.lat, i.lng, i.postcode
             FROM institutions i JOIN areas a ON a.id = i.area_id WHERE i.id IN ({})",
            ids.join(",")
        );
        let mut by_id: std::collections::HashMap<i64, DirectoryHit> =
            std::collections::HashMap::new();
        for row in sqlx::query(&sql).fetch_all(self.pool()).await? {
            let hit = hit_from(&row)?;
            by_id.insert(hit.id.0, hit);
        }
        let mut hits: Vec<DirectoryHit> = page
            .iter()
            .filter_map(|(id, d)| {
                by_id.remove(id).map(|mut hit| {
                    hit.distance_km = Some(*d);
                    hit
                })
            })
            .collect();
        self.attach_capabilities(&mut hits).await?;
        Ok((total, hits))
    }

    /// Reads the capabilities of the hits in bulk (a query per 500, not per hit).
    async fn attach_capabilities(&self, hits: &mut [DirectoryHit]) -> Result<(), StoreError> {
        let mut by_id: std::collections::HashMap<i64, Vec<Capability>> =
            std::collections::HashMap::with_capacity(hits.len());
        let ids: Vec<i64> = hits.iter().map(|h| h.id.0).collect();
        for chunk in ids.chunks(500) {
            let list = chunk
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let rows = sqlx::query(&format!(
                "SELECT institution_id, capability FROM institution_capabilities WHERE institution_id IN ({list})"
            ))
            .fetch_all(self.pool())
            .await?;
            for r in &rows {
                let id: i64 = r.try_get("institution_id")?;
                if let Some(c) = Capability::from_code(&r.try_get::<String, _>("capability")?) {
                    by_id.entry(id).or_default().push(c);
                }
            }
        }
        for hit in hits.iter_mut() {
            let mut ordered = by_id.remove(&hit.id.0).unwrap_or_default();
            ordered.sort();
            hit.capabilities = ordered.iter().map(|c| c.code().to_owned()).collect();
        }
        Ok(())
    }

    /// An institution's public detail.
    pub async fn institution_detail(
        &self,
        id: i64,
    ) -> Result<Option<InstitutionDetail>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT i.id, i.kind, i.name, i.name_kana, i.address, i.phone, a.code AS area_code, i.is_active, i.is_demo,
                    i.postcode, t.name AS town, i.lat, i.lng, a.name AS area_name, h.id AS hub_id, i.updated_at,
                    i.has_beds
             FROM institutions i JOIN areas a ON a.id = i.area_id JOIN hubs h ON h.area_id = a.id
             LEFT JOIN towns t ON t.id = i.town_id WHERE i.id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let mut hits = vec![hit_from(&row)?];
        self.attach_capabilities(&mut hits).await?;
        let hub_id: i64 = row.try_get("hub_id")?;
        let hub_operators = sqlx::query_scalar(
            "SELECT name FROM hub_operators WHERE hub_id = $1 ORDER BY position",
        )
        .bind(hub_id)
        .fetch_all(self.pool())
        .await?;
        let fields = self
            .public_fields(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("institution {id}")))?;
        Ok(Some(InstitutionDetail {
            hit: hits.remove(0),
            postcode: row.try_get("postcode")?,
            town: row.try_get("town")?,
            lat: row.try_get("lat")?,
            lng: row.try_get("lng")?,
            area_name: row.try_get("area_name")?,
            hub_operators,
            fields,
            has_beds: row.try_get::<i64, _>("has_beds")? != 0,
            updated_at: row.try_get("updated_at")?,
        }))
    }
}

impl Store {
    /// Entries as the directory table shows them (exports), in the order of `ids`; ids that do
    /// not exist are left out.
    pub async fn table_entries(&self, ids: &[i64]) -> Result<Vec<TableEntry>, StoreError> {
        let mut fields = self.public_fields_of(ids).await?;
        let mut rest = std::collections::HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let list = chunk
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let rows = sqlx::query(&format!(
                "SELECT i.id, i.kind, a.code AS area_code, i.is_active, i.is_demo, i.confirmed_at, i.updated_at
                 FROM institutions i JOIN areas a ON a.id = i.area_id WHERE i.id IN ({list})"
            ))
            .fetch_all(self.pool())
            .await?;
            for row in &rows {
                let id: i64 = row.try_get("id")?;
                rest.insert(id, row.clone());
            }
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let (Some(row), Some(f)) = (rest.get(id), fields.remove(id)) else {
                continue;
            };
            let Some(kind) = InstitutionKind::from_code(&row.try_get::<String, _>("kind")?) else {
                continue;
            };
            out.push(TableEntry {
                id: Some(*id),
                kind,
                area_code: row.try_get("area_code")?,
                fields: f,
                is_active: row.try_get::<i64, _>("is_active")? != 0,
                is_demo: row.try_get::<i64, _>("is_demo")? != 0,
                confirmed_on: row
                    .try_get::<Option<String>, _>("confirmed_at")?
                    .map(|t| t.chars().take(10).collect()),
                updated_at: row.try_get("updated_at")?,
            });
        }
        Ok(out)
    }
}

fn hit_from(row: &sqlx::any::AnyRow) -> Result<DirectoryHit, sqlx::Error> {
    Ok(DirectoryHit {
        id: InstitutionId(row.try_get("id")?),
        kind: row.try_get("kind")?,
        name: row.try_get("name")?,
        name_kana: row.try_get("name_kana")?,
        address: row.try_get("address")?,
        phone: row.try_get("phone")?,
        area_code: row.try_get("area_code")?,
        is_active: row.try_get::<i64, _>("is_active")? != 0,
        is_demo: row.try_get::<i64, _>("is_demo")? != 0,
        capabilities: Vec::new(),
        lat: row.try_get("lat")?,
        lng: row.try_get("lng")?,
        postcode: row.try_get("postcode")?,
        distance_km: None,
    })
}

fn days_ago(now: &chrono::DateTime<chrono::Utc>, days: u32) -> String {
    crate::time_text(*now - chrono::Duration::days(i64::from(days)))
}

/// An entry overdue for confirmation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StaleEntry {
    /// Identifier.
    pub id: InstitutionId,
    /// Name.
    pub name: String,
    /// Kind code.
    pub kind: String,
    /// Last confirmation (UTC text), `None` when never confirmed.
    pub confirmed_at: Option<String>,
    /// Where reminders go.
    pub contact_email: Option<String>,
}

impl Store {
    /// Entries of an area not confirmed since `before` (or never), oldest first.
    pub async fn stale_entries(
        &self,
        area_code: &str,
        before: &str,
    ) -> Result<Vec<StaleEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT i.id, i.name, i.kind, i.confirmed_at, i.contact_email FROM institutions i JOIN areas a ON a.id = i.area_id
             WHERE a.code = $1 AND (i.confirmed_at IS NULL OR i.confirmed_at < $2)
             ORDER BY i.confirmed_at IS NOT NULL, i.confirmed_at, i.name_kana",
        )
        .bind(area_code)
        .bind(before)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StaleEntry {
                    id: InstitutionId(r.try_get("id")?),
                    name: r.try_get("name")?,
                    kind: r.try_get("kind")?,
                    confirmed_at: r.try_get("confirmed_at")?,
                    contact_email: r.try_get("contact_email")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Records that the entry was confirmed as correct at `now`.
    pub async fn confirm_institution(&self, id: i64, now: &str) -> Result<bool, StoreError> {
        let changed = sqlx::query("UPDATE institutions SET confirmed_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(changed == 1)
    }

    /// When the entry was last confirmed, and its contact address.
    pub async fn confirmation_of(
        &self,
        id: i64,
    ) -> Result<Option<(Option<String>, Option<String>)>, StoreError> {
        let row = sqlx::query("SELECT confirmed_at, contact_email FROM institutions WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| Ok((r.try_get("confirmed_at")?, r.try_get("contact_email")?)))
            .transpose()
            .map_err(|e: sqlx::Error| StoreError::from(e))
    }
}

/// Inserts institutions inside a transaction.
async fn insert_in_tx(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    institutions: &[NewInstitution],
) -> Result<Vec<InstitutionId>, StoreError> {
    let areas: Vec<(String, i64)> = sqlx::query("SELECT code, id FROM areas")
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("code")?, r.try_get("id")?)))
        .collect::<Result<_, sqlx::Error>>()?;
    // Towns once, not a query per row.
    let towns: std::collections::HashMap<(String, String), i64> =
        sqlx::query("SELECT id, municipality_code, name FROM towns")
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    (r.try_get("municipality_code")?, r.try_get("name")?),
                    r.try_get("id")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()?;
    let now_time = chrono::Utc::now();
    let now = crate::now_text();
    let mut ids = Vec::with_capacity(institutions.len());
    let mut capabilities: Vec<(i64, &'static str)> = Vec::new();
    let mut roles: Vec<(i64, &renkei_domain::institution::RoleEntry)> = Vec::new();
    for institution in institutions {
        let area_id = areas
            .iter()
            .find(|(code, _)| code == institution.area.as_str())
            .map(|(_, id)| *id)
            .ok_or_else(|| {
                StoreError::Invalid(format!("地域「{}」がありません", institution.area))
            })?;
        let town_id: Option<i64> = institution.town.as_ref().and_then(|town| {
            towns
                .get(&(institution.municipality.clone(), town.clone()))
                .copied()
        });
        let key = search_key(&format!(
            "{} {} {}",
            institution.name, institution.name_kana, institution.address
        ));
        let d = &institution.details;
        let id: i64 = sqlx::query_scalar(
                "INSERT INTO institutions (kind, name, name_kana, search_key, area_id, municipality_code, town_id,
                     postcode, address, lat, lng, phone, has_beds, is_demo, is_active, created_at, updated_at,
                     contact_email, confirmed_at, medical_code, fax, website, hours, contact_person,
                     location_precision, power_kind, power_capacity, power_lendable, bcp_status)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                     $20, $21, $22, $23, $24, $25, $26, $27, $28, $29) RETURNING id",
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
            .bind(&institution.contact_email)
            .bind(institution.confirmed_days_ago.map(|days| days_ago(&now_time, days)))
            .bind(&d.medical_code)
            .bind(&d.fax)
            .bind(&d.website)
            .bind(&d.hours)
            .bind(&d.contact_person)
            .bind(institution.location.map(|p| p.precision.code()))
            .bind(d.power.kind.code())
            .bind(&d.power.capacity)
            .bind(i64::from(d.power.lendable))
            .bind(d.bcp.code())
            .fetch_one(&mut **tx)
            .await?;
        capabilities.extend(institution.capabilities.iter().map(|c| (id, c.code())));
        roles.extend(institution.roles.iter().map(|r| (id, r)));
        ids.push(InstitutionId(id));
    }
    // Capabilities and roles in multi-row statements (a few hundred rows each).
    for chunk in capabilities.chunks(400) {
        let values: Vec<String> = (0..chunk.len())
            .map(|n| format!("(${}, ${})", 2 * n + 1, 2 * n + 2))
            .collect();
        let sql = format!(
            "INSERT INTO institution_capabilities (institution_id, capability) VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for (id, code) in chunk {
            q = q.bind(*id).bind(*code);
        }
        q.execute(&mut **tx).await?;
    }
    for chunk in roles.chunks(200) {
        let values: Vec<String> = (0..chunk.len())
            .map(|n| {
                format!(
                    "(${}, ${}, ${}, ${})",
                    4 * n + 1,
                    4 * n + 2,
                    4 * n + 3,
                    4 * n + 4
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO institution_roles (institution_id, role, status, plan) VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for (id, entry) in chunk {
            q = q
                .bind(*id)
                .bind(entry.role.code())
                .bind(entry.status.code())
                .bind(&entry.plan);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(ids)
}

/// The SQL conditions of a directory search besides its radius — every term, capability, the
/// area and the kind — and their bound values (`$1`…).
fn directory_clauses(q: &DirectoryQuery) -> (Vec<String>, Vec<String>) {
    let mut clauses = Vec::new();
    let mut binds: Vec<String> = Vec::new();
    for term in &q.text {
        binds.push(format!("%{}%", escape_like(term)));
        clauses.push(format!("i.search_key LIKE ${} ESCAPE '\\'", binds.len()));
    }
    for capability in &q.capabilities {
        binds.push(capability.code().to_owned());
        clauses.push(format!(
                "EXISTS (SELECT 1 FROM institution_capabilities c WHERE c.institution_id = i.id AND c.capability = ${})",
                binds.len()
            ));
    }
    if let Some(area) = &q.area {
        binds.push(area.clone());
        clauses.push(format!("a.code = ${}", binds.len()));
    }
    if let Some(kind) = q.kind {
        binds.push(kind.code().to_owned());
        clauses.push(format!("i.kind = ${}", binds.len()));
    }
    (clauses, binds)
}
