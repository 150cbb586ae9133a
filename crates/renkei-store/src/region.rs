//! The region as reference data: prefecture, medical region, municipalities, areas with their
//! hubs, and the town table; and the overview the home page shows.

use crate::connect::Store;
use crate::error::StoreError;
use renkei_domain::institution::InstitutionKind;
use renkei_domain::region::{RegionDefinition, TownAssignment};
use renkei_domain::text::search_key;
use renkei_domain::towns::Town;
use sqlx::Row;
use std::collections::BTreeMap;

/// An area with its hub and the counts of its institutions, for the region overview.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AreaOverview {
    /// Area code.
    pub code: String,
    /// Japanese name.
    pub name: String,
    /// English name.
    pub name_en: String,
    /// The report's document number, e.g. 資料2-1.
    pub document: String,
    /// Municipality name.
    pub municipality: String,
    /// The hub's operating organisations.
    pub hub_operators: Vec<String>,
    /// Contractor of the municipal 医介連携事業.
    pub contractor: String,
    /// Number of institutions by kind code (every kind present, zero when none).
    pub institutions_by_kind: BTreeMap<String, i64>,
    /// All institutions.
    pub institutions: i64,
    /// Active institutions (積極的医療機関).
    pub active_institutions: i64,
    /// Towns assigned to the area.
    pub towns: i64,
    /// Of those, towns assigned by approximation and not yet confirmed by a coordinator.
    pub approximated_towns: i64,
}

/// Summary of the whole region for the home page.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RegionOverview {
    /// Prefecture name.
    pub prefecture: String,
    /// English prefecture name.
    pub prefecture_en: String,
    /// Region name, e.g. 中河内.
    pub region: String,
    /// English region name.
    pub region_en: String,
    /// Areas in report order.
    pub areas: Vec<AreaOverview>,
    /// Whether the directory holds demo records.
    pub has_demo_data: bool,
}

impl Store {
    /// Loads the region definition and town table unless the region is already present.
    /// Returns whether anything was written.
    pub async fn ensure_region(
        &self,
        region: &RegionDefinition,
        towns: &[Town],
    ) -> Result<bool, StoreError> {
        let present: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM medical_regions WHERE code = $1")
                .bind(&region.region.code)
                .fetch_one(self.pool())
                .await?;
        if present > 0 {
            return Ok(false);
        }
        let mut tx = self.pool().begin().await?;
        let prefecture_exists: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM prefectures WHERE code = $1")
                .bind(&region.prefecture.code)
                .fetch_one(&mut *tx)
                .await?;
        if prefecture_exists == 0 {
            sqlx::query("INSERT INTO prefectures (code, name, name_en) VALUES ($1, $2, $3)")
                .bind(&region.prefecture.code)
                .bind(&region.prefecture.name)
                .bind(&region.prefecture.name_en)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO medical_regions (code, prefecture_code, name, name_en) VALUES ($1, $2, $3, $4)")
            .bind(&region.region.code)
            .bind(&region.prefecture.code)
            .bind(&region.region.name)
            .bind(&region.region.name_en)
            .execute(&mut *tx)
            .await?;
        for m in &region.municipalities {
            sqlx::query("INSERT INTO municipalities (code, prefecture_code, region_code, name, name_en) VALUES ($1, $2, $3, $4, $5)")
                .bind(&m.code)
                .bind(&region.prefecture.code)
                .bind(&region.region.code)
                .bind(&m.name)
                .bind(&m.name_en)
                .execute(&mut *tx)
                .await?;
        }
        let mut area_ids = BTreeMap::new();
        for (order, area) in region.areas.iter().enumerate() {
            let area_id: i64 = sqlx::query_scalar(
                "INSERT INTO areas (code, region_code, municipality_code, name, name_en, document, sort_order)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(area.code.as_str())
            .bind(&region.region.code)
            .bind(&area.municipality)
            .bind(&area.name)
            .bind(&area.name_en)
            .bind(&area.document)
            .bind(order as i64)
            .fetch_one(&mut *tx)
            .await?;
            area_ids.insert(area.code.clone(), area_id);
            let hub_id: i64 = sqlx::query_scalar(
                "INSERT INTO hubs (area_id, contractor) VALUES ($1, $2) RETURNING id",
            )
            .bind(area_id)
            .bind(&area.contractor)
            .fetch_one(&mut *tx)
            .await?;
            for (position, operator) in area.hub_operators.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO hub_operators (hub_id, position, name) VALUES ($1, $2, $3)",
                )
                .bind(hub_id)
                .bind(position as i64)
                .bind(operator)
                .execute(&mut *tx)
                .await?;
            }
        }
        for town in towns {
            let Some(municipality) = region.municipality_by_name(&town.municipality) else {
                continue;
            };
            let (area_id, assignment) = match region.area_of_town(&municipality.code, town.lng) {
                Some((code, how)) => (area_ids.get(code).copied(), how),
                None => (None, TownAssignment::Approximation),
            };
            sqlx::query(
                "INSERT INTO towns (municipality_code, name, search_key, lat, lng, area_id, area_assignment)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&municipality.code)
            .bind(&town.name)
            .bind(search_key(&town.name))
            .bind(town.lat)
            .bind(town.lng)
            .bind(area_id)
            .bind(assignment.code())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The region overview: every area with its hub and institution counts.
    pub async fn region_overview(&self) -> Result<Option<RegionOverview>, StoreError> {
        let Some(head) = sqlx::query(
            "SELECT p.name AS prefecture, p.name_en AS prefecture_en, r.name AS region, r.name_en AS region_en
             FROM medical_regions r JOIN prefectures p ON p.code = r.prefecture_code
             ORDER BY r.code LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let area_rows = sqlx::query(
            "SELECT a.id, a.code, a.name, a.name_en, a.document, m.name AS municipality, h.id AS hub_id, h.contractor
             FROM areas a
             JOIN municipalities m ON m.code = a.municipality_code
             JOIN hubs h ON h.area_id = a.id
             ORDER BY a.sort_order",
        )
        .fetch_all(self.pool())
        .await?;
        let operators =
            sqlx::query("SELECT hub_id, name FROM hub_operators ORDER BY hub_id, position")
                .fetch_all(self.pool())
                .await?;
        let counts = sqlx::query(
            "SELECT area_id, kind, COUNT(*) AS total,
                    CAST(SUM(CASE WHEN is_active = 1 THEN 1 ELSE 0 END) AS BIGINT) AS active
             FROM institutions GROUP BY area_id, kind",
        )
        .fetch_all(self.pool())
        .await?;
        let towns = sqlx::query(
            "SELECT area_id, COUNT(*) AS total,
                    CAST(SUM(CASE WHEN area_assignment = 'approximation' THEN 1 ELSE 0 END) AS BIGINT) AS approximated
             FROM towns WHERE area_id IS NOT NULL GROUP BY area_id",
        )
        .fetch_all(self.pool())
        .await?;
        let demo: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM institutions WHERE is_demo = 1")
            .fetch_one(self.pool())
            .await?;

        let mut areas = Vec::with_capacity(area_rows.len());
        for row in &area_rows {
            let area_id: i64 = row.try_get("id")?;
            let hub_id: i64 = row.try_get("hub_id")?;
            let mut by_kind: BTreeMap<String, i64> = InstitutionKind::ALL
                .iter()
                .map(|k| (k.code().to_owned(), 0))
                .collect();
            let (mut total, mut active) = (0, 0);
            for c in counts
                .iter()
                .filter(|c| c.try_get::<i64, _>("area_id").ok() == Some(area_id))
            {
                let kind: String = c.try_get("kind")?;
                let n: i64 = c.try_get("total")?;
                total += n;
                active += c.try_get::<i64, _>("active")?;
                *by_kind.entry(kind).or_default() += n;
            }
            let town_row = towns
                .iter()
                .find(|t| t.try_get::<i64, _>("area_id").ok() == Some(area_id));
            let (town_count, approximated) = match town_row {
                Some(t) => (t.try_get("total")?, t.try_get("approximated")?),
                None => (0, 0),
            };
            areas.push(AreaOverview {
                code: row.try_get("code")?,
                name: row.try_get("name")?,
                name_en: row.try_get("name_en")?,
                document: row.try_get("document")?,
                municipality: row.try_get("municipality")?,
                hub_operators: operators
                    .iter()
                    .filter(|o| o.try_get::<i64, _>("hub_id").ok() == Some(hub_id))
                    .map(|o| o.try_get("name"))
                    .collect::<Result<_, _>>()?,
                contractor: row.try_get("contractor")?,
                institutions_by_kind: by_kind,
                institutions: total,
                active_institutions: active,
                towns: town_count,
                approximated_towns: approximated,
            });
        }
        Ok(Some(RegionOverview {
            prefecture: head.try_get("prefecture")?,
            prefecture_en: head.try_get("prefecture_en")?,
            region: head.try_get("region")?,
            region_en: head.try_get("region_en")?,
            areas,
            has_demo_data: demo > 0,
        }))
    }
}

/// A town with its area, for listing and correcting district assignments.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TownRow {
    /// Municipality name.
    pub municipality: String,
    /// Town name.
    pub name: String,
    /// Area code, when assigned.
    pub area: Option<String>,
    /// How it was assigned: municipality, approximation or coordinator.
    pub assignment: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lng: f64,
}

impl Store {
    /// Towns of an area (or of every area when `None`), by municipality and name.
    pub async fn towns(&self, area_code: Option<&str>) -> Result<Vec<TownRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.name AS municipality, t.name, a.code AS area, t.area_assignment, t.lat, t.lng
             FROM towns t
             JOIN municipalities m ON m.code = t.municipality_code
             LEFT JOIN areas a ON a.id = t.area_id
             WHERE ($1 = '' OR a.code = $1)
             ORDER BY m.code, t.search_key",
        )
        .bind(area_code.unwrap_or(""))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(town_row)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// A coordinator's correction: puts a town (found by its name, insensitive to 全角/半角 and
    /// spacing) into `area_code`, marks the assignment as the coordinator's, and moves the
    /// institutions of that town with it — all in one transaction.
    pub async fn set_town_area(
        &self,
        municipality: &str,
        town: &str,
        area_code: &str,
    ) -> Result<TownRow, StoreError> {
        let municipality_key = search_key(municipality);
        let town_key = search_key(town);
        let mut tx = self.pool().begin().await?;
        let found = sqlx::query(
            "SELECT t.id, t.municipality_code FROM towns t JOIN municipalities m ON m.code = t.municipality_code
             WHERE t.search_key = $1",
        )
        .bind(&town_key)
        .fetch_all(&mut *tx)
        .await?;
        let names = sqlx::query("SELECT code, name FROM municipalities")
            .fetch_all(&mut *tx)
            .await?;
        let municipality_code = names
            .iter()
            .find(|r| {
                r.try_get::<String, _>("name")
                    .is_ok_and(|n| search_key(&n) == municipality_key)
            })
            .map(|r| r.try_get::<String, _>("code"))
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("市町村「{municipality}」")))?;
        let town_id: i64 = found
            .iter()
            .find(|r| {
                r.try_get::<String, _>("municipality_code")
                    .is_ok_and(|c| c == municipality_code)
            })
            .map(|r| r.try_get("id"))
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("町丁目「{municipality}{town}」")))?;
        let area = sqlx::query("SELECT id, municipality_code FROM areas WHERE code = $1")
            .bind(area_code)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("地域「{area_code}」")))?;
        let area_id: i64 = area.try_get("id")?;
        if area.try_get::<String, _>("municipality_code")? != municipality_code {
            return Err(StoreError::Invalid(format!(
                "地域「{area_code}」は{municipality}の地域ではありません"
            )));
        }
        sqlx::query("UPDATE towns SET area_id = $1, area_assignment = $2 WHERE id = $3")
            .bind(area_id)
            .bind(TownAssignment::Coordinator.code())
            .bind(town_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE institutions SET area_id = $1, updated_at = $2 WHERE town_id = $3")
            .bind(area_id)
            .bind(crate::now_text())
            .bind(town_id)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(
            "SELECT m.name AS municipality, t.name, a.code AS area, t.area_assignment, t.lat, t.lng
             FROM towns t JOIN municipalities m ON m.code = t.municipality_code LEFT JOIN areas a ON a.id = t.area_id
             WHERE t.id = $1",
        )
        .bind(town_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(town_row(&row)?)
    }
}

fn town_row(r: &sqlx::any::AnyRow) -> Result<TownRow, sqlx::Error> {
    Ok(TownRow {
        municipality: r.try_get("municipality")?,
        name: r.try_get("name")?,
        area: r.try_get("area")?,
        assignment: r.try_get("area_assignment")?,
        lat: r.try_get("lat")?,
        lng: r.try_get("lng")?,
    })
}
