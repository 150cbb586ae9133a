//! The directory as whole records for machine interfaces (the FHIR API): filtered searches with
//! keyset paging, the change feed ordered by update time, and the approved changes that carry
//! provenance. Every read is bounded by a page size; nothing counts the whole table.

use crate::directory::Near;
use crate::{Store, StoreError};
use renkei_domain::capability::Capability;
use renkei_domain::institution::{InstitutionKind, PublicFields};
use renkei_domain::text::search_key;
use sqlx::Row;

/// One entry with everything a resource needs.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryRecord {
    /// Identifier.
    pub id: i64,
    /// Kind.
    pub kind: InstitutionKind,
    /// The public fields.
    pub fields: PublicFields,
    /// Area code.
    pub area_code: String,
    /// Municipality name (市区町村).
    pub municipality: String,
    /// Prefecture name.
    pub prefecture: String,
    /// Active institution (積極的医療機関).
    pub is_active: bool,
    /// Has inpatient beds.
    pub has_beds: bool,
    /// Demo record.
    pub is_demo: bool,
    /// Created (UTC text).
    pub created_at: String,
    /// Last changed (UTC text).
    pub updated_at: String,
    /// Distance from the point of a "near" search, in kilometres.
    pub distance_km: Option<f64>,
}

/// Which text a [`TextFilter`] looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    /// Name or reading.
    Name,
    /// Address (with postcode).
    Address,
    /// The municipality (市区町村) of the address, as the town table names it.
    City,
    /// The prefecture (都道府県) of the address.
    State,
}

/// How a [`TextFilter`] matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextMatch {
    /// Starts with (FHIR's default), ignoring width, case and hiragana/katakana.
    StartsWith,
    /// Contains, ignoring width, case and hiragana/katakana.
    Contains,
    /// Exactly the same text.
    Exact,
}

/// A text condition; several values in one filter are alternatives (OR).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextFilter {
    /// Which text.
    pub field: TextField,
    /// How.
    pub mode: TextMatch,
    /// The values as given.
    pub values: Vec<String>,
}

/// A bound on the update time: the stored UTC text compared with `>=` or `<`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeBound {
    /// Updated at or after.
    AtOrAfter(String),
    /// Updated before.
    Before(String),
    /// Updated before the first or at or after the second (FHIR `ne`).
    Outside(String, String),
}

/// A record search. Empty lists do not filter; filters combine with AND.
#[derive(Debug, Clone, Default)]
pub struct RecordQuery {
    /// Only these ids.
    pub ids: Option<Vec<i64>>,
    /// Only these kinds.
    pub kinds: Option<Vec<InstitutionKind>>,
    /// Only these 医療機関コード.
    pub medical_codes: Option<Vec<String>>,
    /// Capability conditions: an entry offers at least one capability of every list (FHIR:
    /// commas are OR, repeated parameters AND). An empty list matches nothing.
    pub capabilities: Vec<Vec<Capability>>,
    /// Only entries that offer at least one capability (a HealthcareService has a type).
    pub with_capability: bool,
    /// Only entries with a contact person (PractitionerRole).
    pub with_contact: bool,
    /// Text conditions.
    pub text: Vec<TextFilter>,
    /// Postcode starts with (digits only).
    pub postcode_prefixes: Option<Vec<String>>,
    /// Update-time bounds.
    pub updated: Vec<TimeBound>,
    /// Within a radius, nearest first, each with its distance.
    pub near: Option<Near>,
    /// Keyset: only ids above this one (ignored by a near search).
    pub after_id: Option<i64>,
    /// Keyset of a near search: only entries farther than (distance, id).
    pub after_distance: Option<(f64, i64)>,
    /// The candidates of a near search as the spatial index ranks them — the entries within
    /// the radius in (distance, id) order, read a window at a time. When given, the near search
    /// reads these ids (in batches, the other conditions applied) instead of a bounding box.
    pub ranked: Option<std::sync::Arc<dyn crate::directory::NearRanking>>,
    /// Page size (at most 1,000).
    pub limit: usize,
}

/// The position in the change feed: the last entry's update time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedCursor {
    /// Update time (UTC text).
    pub at: String,
    /// Identifier.
    pub id: i64,
}

/// An approved change, for provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovedChange {
    /// The change's id.
    pub id: i64,
    /// The institution.
    pub institution_id: i64,
    /// Its name now.
    pub institution_name: String,
    /// When it was proposed (UTC text).
    pub proposed_at: String,
    /// When it was approved (UTC text).
    pub approved_at: String,
    /// The hubs (operators) of the institution's area, who approve its changes.
    pub approvers: Vec<String>,
    /// The diff keys of the fields that changed.
    pub changed: Vec<String>,
}

/// Most candidates one batch reads before the text filters run in Rust.
const BATCH: i64 = 500;

const RECORD_COLUMNS: &str = "i.id, i.kind, i.search_key, i.area_id, a.code AS area_code, m.name AS municipality, p.name AS prefecture,
     i.is_active, i.has_beds, i.is_demo, i.created_at, i.updated_at, i.lat, i.lng";
const RECORD_FROM: &str = "FROM institutions i JOIN areas a ON a.id = i.area_id
     JOIN municipalities m ON m.code = i.municipality_code
     JOIN prefectures p ON p.code = m.prefecture_code";

/// A candidate row before its fields are read.
struct Candidate {
    id: i64,
    kind: String,
    area_code: String,
    municipality: String,
    prefecture: String,
    is_active: bool,
    has_beds: bool,
    is_demo: bool,
    created_at: String,
    updated_at: String,
    distance_km: Option<f64>,
}

fn candidate_from(row: &sqlx::any::AnyRow) -> Result<Candidate, sqlx::Error> {
    Ok(Candidate {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        area_code: row.try_get("area_code")?,
        municipality: row.try_get("municipality")?,
        prefecture: row.try_get("prefecture")?,
        is_active: row.try_get::<i64, _>("is_active")? != 0,
        has_beds: row.try_get::<i64, _>("has_beds")? != 0,
        is_demo: row.try_get::<i64, _>("is_demo")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        distance_km: None,
    })
}

fn escape_like(key: &str) -> String {
    key.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// SQL conditions and their text binds.
#[derive(Default)]
struct Conditions {
    clauses: Vec<String>,
    binds: Vec<String>,
}

impl Conditions {
    fn bind(&mut self, value: String) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }
}

/// The coarse SQL filter of a query; the text filters are checked exactly in [`text_matches`].
fn conditions(q: &RecordQuery) -> Conditions {
    let mut c = Conditions::default();
    if let Some(ids) = &q.ids {
        c.clauses.push(if ids.is_empty() {
            "1 = 0".to_owned()
        } else {
            format!("i.id IN ({})", id_list(ids))
        });
    }
    if let Some(kinds) = &q.kinds {
        let list: Vec<String> = kinds.iter().map(|k| format!("'{}'", k.code())).collect();
        c.clauses.push(if list.is_empty() {
            "1 = 0".to_owned()
        } else {
            format!("i.kind IN ({})", list.join(","))
        });
    }
    for caps in &q.capabilities {
        let list: Vec<String> = caps.iter().map(|k| format!("'{}'", k.code())).collect();
        c.clauses.push(if list.is_empty() {
            "1 = 0".to_owned()
        } else {
            format!(
                "EXISTS (SELECT 1 FROM institution_capabilities x WHERE x.institution_id = i.id AND x.capability IN ({}))",
                list.join(",")
            )
        });
    }
    if let Some(codes) = &q.medical_codes {
        let mut any = Vec::new();
        for code in codes {
            any.push(c.bind(code.clone()));
        }
        c.clauses.push(if any.is_empty() {
            "1 = 0".to_owned()
        } else {
            format!("i.medical_code IN ({})", any.join(","))
        });
    }
    if q.with_capability {
        c.clauses.push(
            "EXISTS (SELECT 1 FROM institution_capabilities x WHERE x.institution_id = i.id)"
                .to_owned(),
        );
    }
    if q.with_contact {
        c.clauses
            .push("i.contact_person IS NOT NULL AND i.contact_person <> ''".to_owned());
    }
    for filter in &q.text {
        if let Some(column) = match filter.field {
            TextField::City => Some("m.name"),
            TextField::State => Some("p.name"),
            TextField::Name | TextField::Address => None,
        } {
            // The town table's names: matched in SQL, exactly as FHIR string search asks of
            // the field (starts-with by default), not anywhere in the address.
            let mut any = Vec::new();
            for value in &filter.values {
                let value = renkei_domain::text::normalize(value);
                let pattern = match filter.mode {
                    TextMatch::Exact => value,
                    TextMatch::StartsWith => format!("{}%", escape_like(&value)),
                    TextMatch::Contains => format!("%{}%", escape_like(&value)),
                };
                let p = c.bind(pattern);
                any.push(match filter.mode {
                    TextMatch::Exact => format!("{column} = {p}"),
                    _ => format!("{column} LIKE {p} ESCAPE '\\'"),
                });
            }
            c.clauses.push(if any.is_empty() {
                "1 = 0".to_owned()
            } else {
                format!("({})", any.join(" OR "))
            });
            continue;
        }
        // Every value must appear somewhere in the folded name, reading and address; the exact
        // field and mode are checked afterwards.
        let mut any = Vec::new();
        for value in &filter.values {
            let key = search_key(value);
            if key.is_empty() {
                continue;
            }
            let p = c.bind(format!("%{}%", escape_like(&key)));
            any.push(format!("i.search_key LIKE {p} ESCAPE '\\'"));
        }
        if any.is_empty() {
            c.clauses.push("1 = 0".to_owned());
        } else {
            c.clauses.push(format!("({})", any.join(" OR ")));
        }
    }
    if let Some(prefixes) = &q.postcode_prefixes {
        let mut any = Vec::new();
        for prefix in prefixes {
            let p = c.bind(format!("{}%", escape_like(prefix)));
            any.push(format!("i.postcode LIKE {p} ESCAPE '\\'"));
        }
        c.clauses.push(if any.is_empty() {
            "1 = 0".to_owned()
        } else {
            format!("({})", any.join(" OR "))
        });
    }
    for bound in &q.updated {
        match bound {
            TimeBound::AtOrAfter(t) => {
                let p = c.bind(t.clone());
                c.clauses.push(format!("i.updated_at >= {p}"));
            }
            TimeBound::Before(t) => {
                let p = c.bind(t.clone());
                c.clauses.push(format!("i.updated_at < {p}"));
            }
            TimeBound::Outside(lo, hi) => {
                let lo = c.bind(lo.clone());
                let hi = c.bind(hi.clone());
                c.clauses
                    .push(format!("(i.updated_at < {lo} OR i.updated_at >= {hi})"));
            }
        }
    }
    if let Some(near) = q.near {
        let dlat = near.km / 111.0;
        let dlng = near.km / (111.0 * near.lat.to_radians().cos().max(0.01));
        for (column, lo, hi) in [
            ("i.lat", near.lat - dlat, near.lat + dlat),
            ("i.lng", near.lng - dlng, near.lng + dlng),
        ] {
            let lo = c.bind(format!("{lo:.7}"));
            let hi = c.bind(format!("{hi:.7}"));
            c.clauses.push(format!(
                "{column} BETWEEN CAST({lo} AS DOUBLE PRECISION) AND CAST({hi} AS DOUBLE PRECISION)"
            ));
        }
    } else if let Some(after) = q.after_id {
        c.clauses.push(format!("i.id > {after}"));
    }
    c
}

/// Whether an entry's fields satisfy every text filter exactly.
fn text_matches(filters: &[TextFilter], fields: &PublicFields) -> bool {
    filters.iter().all(|f| {
        // City and state are matched in SQL on the town table's names.
        matches!(f.field, TextField::City | TextField::State)
            || f.values.iter().any(|value| {
                let key = search_key(value);
                match (f.field, f.mode) {
                    (TextField::Name, TextMatch::Exact) => {
                        fields.name == *value || fields.name_kana == *value
                    }
                    (TextField::Address, TextMatch::Exact) => fields.address == *value,
                    (TextField::Name, TextMatch::StartsWith) => {
                        search_key(&fields.name).starts_with(&key)
                            || search_key(&fields.name_kana).starts_with(&key)
                    }
                    (TextField::Name, TextMatch::Contains) => {
                        search_key(&fields.name).contains(&key)
                            || search_key(&fields.name_kana).contains(&key)
                    }
                    (TextField::Address, TextMatch::StartsWith | TextMatch::Contains) => {
                        // Japanese addresses have no word boundaries: any part may start the
                        // match, so starts-with on "any part" is contains.
                        search_key(&format!(
                            "{} {}",
                            fields.postcode.clone().unwrap_or_default(),
                            fields.address
                        ))
                        .contains(&key)
                    }
                    (TextField::City | TextField::State, _) => true,
                }
            })
    })
}

impl Store {
    /// How many entries match `q` in all (its paging ignored): FHIR `Bundle.total`. Counted in
    /// SQL where every condition is SQL's; text conditions, which are checked exactly here,
    /// are counted by reading the candidates' fields in batches.
    pub async fn count_records(&self, q: &RecordQuery) -> Result<u64, StoreError> {
        let whole = RecordQuery {
            after_id: None,
            after_distance: None,
            ..q.clone()
        };
        let exact_text = whole
            .text
            .iter()
            .any(|f| matches!(f.field, TextField::Name | TextField::Address));
        let plain = RecordQuery {
            near: None,
            ranked: None,
            ..whole.clone()
        };
        if let (Some(_), Some(ranked)) = (whole.near, &whole.ranked) {
            let unconditioned = conditions(&plain).clauses.is_empty();
            if unconditioned {
                return Ok(ranked.count() as u64);
            }
            let mut n = 0u64;
            let mut after = None;
            loop {
                let chunk = ranked.window(after, BATCH as usize);
                let Some(&(last_id, last_d)) = chunk.last() else {
                    break;
                };
                after = Some((last_d, last_id));
                let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
                let within = RecordQuery {
                    ids: Some(match &plain.ids {
                        Some(only) => ids.into_iter().filter(|i| only.contains(i)).collect(),
                        None => ids,
                    }),
                    ..plain.clone()
                };
                n += self.count_plain(&within, exact_text).await?;
                if chunk.len() < BATCH as usize {
                    break;
                }
            }
            return Ok(n);
        }
        if whole.near.is_some() {
            // No index ranking: the bounding-box search, read whole.
            let all = RecordQuery {
                limit: usize::MAX,
                ..whole
            };
            return Ok(self.entry_records_uncapped(&all).await? as u64);
        }
        self.count_plain(&plain, exact_text).await
    }

    /// One batch of candidate rows in id order, past `after`: the coarse SQL conditions only.
    async fn batch_after(
        &self,
        q: &RecordQuery,
        after: Option<i64>,
    ) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
        let mut keyed = q.clone();
        keyed.after_id = after;
        let c = conditions(&keyed);
        let sql = format!(
            "SELECT {RECORD_COLUMNS} {RECORD_FROM} {} ORDER BY i.id LIMIT {BATCH}",
            c.sql()
        );
        let mut query = sqlx::query(&sql);
        for b in &c.binds {
            query = query.bind(b);
        }
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// Counts a query without a near condition.
    async fn count_plain(&self, q: &RecordQuery, exact_text: bool) -> Result<u64, StoreError> {
        if !exact_text {
            let c = conditions(q);
            let sql = format!("SELECT COUNT(*) {RECORD_FROM} {}", c.sql());
            let mut query = sqlx::query_scalar::<_, i64>(&sql);
            for b in &c.binds {
                query = query.bind(b);
            }
            return Ok(query.fetch_one(self.pool()).await?.max(0) as u64);
        }
        let mut n = 0u64;
        let mut after = None;
        loop {
            let rows = self.batch_after(q, after).await?;
            let Some(last) = rows.last() else { break };
            after = Some(last.try_get("id")?);
            let ids: Vec<i64> = rows
                .iter()
                .map(|r| r.try_get("id"))
                .collect::<Result<_, _>>()?;
            let fields = self.public_fields_of(&ids).await?;
            n += fields.values().filter(|f| text_matches(&q.text, f)).count() as u64;
            if (rows.len() as i64) < BATCH {
                break;
            }
        }
        Ok(n)
    }

    /// The number of matches of a near search without the index's ranking.
    async fn entry_records_uncapped(&self, q: &RecordQuery) -> Result<usize, StoreError> {
        let mut n = 0;
        let mut page = RecordQuery {
            limit: 1_000,
            ..q.clone()
        };
        loop {
            let found = self.entry_records(&page).await?;
            n += found.len();
            match found.last() {
                Some(last) if found.len() == 1_000 => {
                    page.after_distance = last.distance_km.map(|d| (d, last.id));
                }
                _ => break,
            }
        }
        Ok(n)
    }

    /// Entries matching `q`, in id order (or nearest first for a near search), at most
    /// `q.limit` of them.
    pub async fn entry_records(&self, q: &RecordQuery) -> Result<Vec<EntryRecord>, StoreError> {
        let limit = q.limit.clamp(1, 1_000);
        let mut out = Vec::new();
        if let Some(ranked) = q.near.and(q.ranked.as_ref()) {
            self.ranked_records(q, ranked.as_ref(), limit, &mut out)
                .await?;
            return Ok(out);
        }
        let c = conditions(q);
        if let Some(near) = q.near {
            // Without the index's ranking: every entry of the bounding box, sorted here by true
            // distance (exact at any size; the web layer passes the index's ranking instead).
            let sql = format!("SELECT {RECORD_COLUMNS} {RECORD_FROM} {}", c.sql());
            let mut query = sqlx::query(&sql);
            for b in &c.binds {
                query = query.bind(b);
            }
            let rows = query.fetch_all(self.pool()).await?;
            let mut candidates = Vec::new();
            for row in &rows {
                let (lat, lng): (Option<f64>, Option<f64>) =
                    (row.try_get("lat")?, row.try_get("lng")?);
                let Some(d) = lat.zip(lng).map(|(lat, lng)| {
                    renkei_domain::towns::distance_km(near.lat, near.lng, lat, lng)
                }) else {
                    continue;
                };
                if d > near.km {
                    continue;
                }
                if let Some((after_d, after_id)) = q.after_distance {
                    if (d, row.try_get::<i64, _>("id")?) <= (after_d, after_id) {
                        continue;
                    }
                }
                let mut candidate = candidate_from(row)?;
                candidate.distance_km = Some(d);
                candidates.push(candidate);
            }
            candidates.sort_by(|a, b| {
                (a.distance_km, a.id)
                    .partial_cmp(&(b.distance_km, b.id))
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            for chunk in candidates.chunks(BATCH as usize) {
                self.complete(chunk, &q.text, limit, &mut out).await?;
                if out.len() >= limit {
                    break;
                }
            }
            return Ok(out);
        }
        let mut after = q.after_id;
        loop {
            let rows = self.batch_after(q, after).await?;
            let candidates = rows
                .iter()
                .map(candidate_from)
                .collect::<Result<Vec<_>, _>>()?;
            let Some(last) = candidates.last().map(|c| c.id) else {
                break;
            };
            self.complete(&candidates, &q.text, limit, &mut out).await?;
            if out.len() >= limit || (rows.len() as i64) < BATCH {
                break;
            }
            after = Some(last);
        }
        Ok(out)
    }

    /// A near search over the spatial index's ranking: past the keyset, in windows of ids in
    /// (distance, id) order, the other conditions applied in SQL and the text ones here, until
    /// `limit` entries are found or the ranking ends. Nothing within the radius is skipped.
    async fn ranked_records(
        &self,
        q: &RecordQuery,
        ranked: &dyn crate::directory::NearRanking,
        limit: usize,
        out: &mut Vec<EntryRecord>,
    ) -> Result<(), StoreError> {
        let plain = RecordQuery {
            near: None,
            after_id: None,
            after_distance: None,
            ranked: None,
            ..q.clone()
        };
        // Windows grow from the page's size: a page of 50 without other conditions reads 50
        // rows, not 500 (reading every candidate's fields is what costs).
        let mut after = q.after_distance;
        let mut batch = limit.saturating_sub(out.len()).clamp(1, BATCH as usize);
        loop {
            let chunk = ranked.window(after, batch);
            let Some(&(last_id, last_d)) = chunk.last() else {
                break;
            };
            after = Some((last_d, last_id));
            let mut c = conditions(&plain);
            let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
            c.clauses.push(format!("i.id IN ({})", id_list(&ids)));
            let sql = format!("SELECT {RECORD_COLUMNS} {RECORD_FROM} {}", c.sql());
            let mut query = sqlx::query(&sql);
            for b in &c.binds {
                query = query.bind(b);
            }
            let mut found: std::collections::HashMap<i64, Candidate> = query
                .fetch_all(self.pool())
                .await?
                .iter()
                .map(|row| candidate_from(row).map(|c| (c.id, c)))
                .collect::<Result<_, _>>()?;
            let candidates: Vec<Candidate> = chunk
                .iter()
                .filter_map(|(id, d)| {
                    found.remove(id).map(|mut c| {
                        c.distance_km = Some(*d);
                        c
                    })
                })
                .collect();
            self.complete(&candidates, &q.text, limit, out).await?;
            if out.len() >= limit || chunk.len() < batch {
                break;
            }
            batch = (batch * 2).min(BATCH as usize);
        }
        Ok(())
    }

    /// Reads the fields of `candidates`, keeps those matching `text`, up to `limit` in `out`.
    async fn complete(
        &self,
        candidates: &[Candidate],
        text: &[TextFilter],
        limit: usize,
        out: &mut Vec<EntryRecord>,
    ) -> Result<(), StoreError> {
        let ids: Vec<i64> = candidates.iter().map(|c| c.id).collect();
        let mut fields = self.public_fields_of(&ids).await?;
        for c in candidates {
            if out.len() >= limit {
                break;
            }
            let (Some(f), Some(kind)) = (fields.remove(&c.id), InstitutionKind::from_code(&c.kind))
            else {
                continue;
            };
            if !text_matches(text, &f) {
                continue;
            }
            out.push(EntryRecord {
                id: c.id,
                kind,
                fields: f,
                area_code: c.area_code.clone(),
                municipality: c.municipality.clone(),
                prefecture: c.prefecture.clone(),
                is_active: c.is_active,
                has_beds: c.has_beds,
                is_demo: c.is_demo,
                created_at: c.created_at.clone(),
                updated_at: c.updated_at.clone(),
                distance_km: c.distance_km,
            });
        }
        Ok(())
    }

    /// The change feed: entries updated at or after `since`, after `cursor`, in (update time,
    /// id) order, at most `limit` (1–1,000).
    pub async fn entry_feed(
        &self,
        since: Option<&str>,
        cursor: Option<&FeedCursor>,
        limit: usize,
    ) -> Result<Vec<EntryRecord>, StoreError> {
        let limit = limit.clamp(1, 1_000);
        let mut c = Conditions::default();
        if let Some(since) = since {
            let p = c.bind(since.to_owned());
            c.clauses.push(format!("i.updated_at >= {p}"));
        }
        if let Some(cursor) = cursor {
            let p = c.bind(cursor.at.clone());
            let q = c.bind(cursor.at.clone());
            c.clauses.push(format!(
                "(i.updated_at > {p} OR (i.updated_at = {q} AND i.id > {}))",
                cursor.id
            ));
        }
        let sql = format!(
            "SELECT {RECORD_COLUMNS} {RECORD_FROM} {} ORDER BY i.updated_at, i.id LIMIT {limit}",
            c.sql()
        );
        let mut query = sqlx::query(&sql);
        for b in &c.binds {
            query = query.bind(b);
        }
        let rows = query.fetch_all(self.pool()).await?;
        let candidates = rows
            .iter()
            .map(candidate_from)
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::with_capacity(candidates.len());
        self.complete(&candidates, &[], limit, &mut out).await?;
        Ok(out)
    }

    /// Approved changes, in (approval time, id) order: all of them after `cursor` and at or
    /// after `since`, or only those of `institution_ids`, or only `ids`; at most `limit`.
    pub async fn approved_changes(
        &self,
        ids: Option<&[i64]>,
        institution_ids: Option<&[i64]>,
        since: Option<&str>,
        cursor: Option<&FeedCursor>,
        limit: usize,
    ) -> Result<Vec<ApprovedChange>, StoreError> {
        let limit = limit.clamp(1, 1_000);
        let mut c = Conditions::default();
        c.clauses.push("ch.status = 'approved'".to_owned());
        if let Some(ids) = ids {
            c.clauses.push(if ids.is_empty() {
                "1 = 0".to_owned()
            } else {
                format!("ch.id IN ({})", id_list(ids))
            });
        }
        if let Some(ids) = institution_ids {
            c.clauses.push(if ids.is_empty() {
                "1 = 0".to_owned()
            } else {
                format!("ch.institution_id IN ({})", id_list(ids))
            });
        }
        if let Some(since) = since {
            let p = c.bind(since.to_owned());
            c.clauses.push(format!("ch.decided_at >= {p}"));
        }
        if let Some(cursor) = cursor {
            let p = c.bind(cursor.at.clone());
            let q = c.bind(cursor.at.clone());
            c.clauses.push(format!(
                "(ch.decided_at > {p} OR (ch.decided_at = {q} AND ch.id > {}))",
                cursor.id
            ));
        }
        let sql = format!(
            "SELECT ch.id, ch.institution_id, i.name, i.area_id, ch.proposed_at, ch.decided_at, ch.fields, ch.previous
             FROM institution_changes ch JOIN institutions i ON i.id = ch.institution_id
             {} ORDER BY ch.decided_at, ch.id LIMIT {limit}",
            c.sql()
        );
        let mut query = sqlx::query(&sql);
        for b in &c.binds {
            query = query.bind(b);
        }
        let rows = query.fetch_all(self.pool()).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let area_id: i64 = row.try_get("area_id")?;
            let approvers: Vec<String> = sqlx::query_scalar(
                "SELECT o.name FROM hub_operators o JOIN hubs h ON h.id = o.hub_id WHERE h.area_id = $1 ORDER BY o.position",
            )
            .bind(area_id)
            .fetch_all(self.pool())
            .await?;
            let parse = |column: &str| -> Result<PublicFields, StoreError> {
                serde_json::from_str(&row.try_get::<String, _>(column)?)
                    .map_err(|e| StoreError::Invalid(e.to_string()))
            };
            let changed = parse("fields")?
                .diff(&parse("previous")?)
                .into_iter()
                .map(|(key, ..)| key.to_owned())
                .collect();
            out.push(ApprovedChange {
                id: row.try_get("id")?,
                institution_id: row.try_get("institution_id")?,
                institution_name: row.try_get("name")?,
                proposed_at: row.try_get("proposed_at")?,
                approved_at: row.try_get("decided_at")?,
                approvers,
                changed,
            });
        }
        Ok(out)
    }
}

/// A page of entries for the spatial index.
#[derive(Debug, Default)]
pub struct IndexLoad {
    /// Entries with a location.
    pub entries: Vec<renkei_domain::spatial::IndexedEntry>,
    /// Ids read that have no location (so they can leave the index).
    pub unlocated: Vec<i64>,
    /// The latest update time read (UTC text).
    pub watermark: Option<String>,
    /// The highest id read.
    pub last_id: Option<i64>,
    /// Rows read.
    pub rows: usize,
}

const INDEX_COLUMNS: &str =
    "i.id, i.kind, i.name, i.address, i.lat, i.lng, i.is_active, i.updated_at";

impl Store {
    /// The latest update time of any entry (the watermark before a full load).
    pub async fn latest_update(&self) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar::<_, Option<String>>("SELECT MAX(updated_at) FROM institutions")
                .fetch_one(self.pool())
                .await?,
        )
    }

    /// A full load, page by page in id order: the entries with an id above `after_id`, at most
    /// `limit`. Pages keep the memory of a load small at any directory size.
    pub async fn index_page(&self, after_id: i64, limit: usize) -> Result<IndexLoad, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {INDEX_COLUMNS} FROM institutions i WHERE i.id > $1 ORDER BY i.id LIMIT {}",
            limit.max(1)
        ))
        .bind(after_id)
        .fetch_all(self.pool())
        .await?;
        let Some(last) = rows.last() else {
            return Ok(IndexLoad::default());
        };
        let last_id: i64 = last.try_get("id")?;
        let caps = sqlx::query(
            "SELECT institution_id, capability FROM institution_capabilities WHERE institution_id > $1 AND institution_id <= $2",
        )
        .bind(after_id)
        .bind(last_id)
        .fetch_all(self.pool())
        .await?;
        index_load(&rows, &caps)
    }

    /// The entries updated after `since`, at most `limit`, in update order (an incremental
    /// refresh; when it returns `limit` rows, reload in full instead).
    pub async fn index_changes(&self, since: &str, limit: usize) -> Result<IndexLoad, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {INDEX_COLUMNS} FROM institutions i WHERE i.updated_at > $1 ORDER BY i.updated_at, i.id LIMIT {}",
            limit.max(1)
        ))
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        let ids: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get::<i64, _>("id"))
            .collect::<Result<_, _>>()?;
        let mut caps = Vec::new();
        for chunk in ids.chunks(500) {
            caps.extend(
                sqlx::query(&format!(
                    "SELECT institution_id, capability FROM institution_capabilities WHERE institution_id IN ({})",
                    id_list(chunk)
                ))
                .fetch_all(self.pool())
                .await?,
            );
        }
        index_load(&rows, &caps)
    }
}

/// Index entries from entry rows and their capability rows.
fn index_load(
    rows: &[sqlx::any::AnyRow],
    cap_rows: &[sqlx::any::AnyRow],
) -> Result<IndexLoad, StoreError> {
    use renkei_domain::spatial::{CapabilitySet, IndexedEntry};
    let mut caps: std::collections::HashMap<i64, CapabilitySet> =
        std::collections::HashMap::with_capacity(rows.len());
    for r in cap_rows {
        let id: i64 = r.try_get("institution_id")?;
        if let Some(c) = Capability::from_code(&r.try_get::<String, _>("capability")?) {
            caps.entry(id).or_default().0 |= CapabilitySet::of([c]).0;
        }
    }
    let mut load = IndexLoad {
        rows: rows.len(),
        ..IndexLoad::default()
    };
    for r in rows {
        let id: i64 = r.try_get("id")?;
        let updated: String = r.try_get("updated_at")?;
        if load.watermark.as_ref().is_none_or(|w| *w < updated) {
            load.watermark = Some(updated);
        }
        load.last_id = Some(load.last_id.map_or(id, |l: i64| l.max(id)));
        let (lat, lng): (Option<f64>, Option<f64>) = (r.try_get("lat")?, r.try_get("lng")?);
        let kind = InstitutionKind::from_code(&r.try_get::<String, _>("kind")?);
        match (lat, lng, kind) {
            (Some(lat), Some(lng), Some(kind)) => load.entries.push(IndexedEntry {
                id,
                kind,
                capabilities: caps.get(&id).copied().unwrap_or_default(),
                active: r.try_get::<i64, _>("is_active")? != 0,
                lat,
                lng,
                name: r.try_get::<String, _>("name")?.into(),
                address: r.try_get::<String, _>("address")?.into(),
            }),
            _ => load.unlocated.push(id),
        }
    }
    Ok(load)
}
