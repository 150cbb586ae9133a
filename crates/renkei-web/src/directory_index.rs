//! The spatial index of the directory held in memory by each server: loaded in full at start,
//! then kept current from the change feed (entries updated since the last load) — every few
//! seconds by a background task, and at once after this server's own writes. A full reload
//! every ten minutes bounds what a clock difference between servers could hide.

use renkei_domain::spatial::{IndexedEntry, NearQuery, SpatialIndex};
use renkei_store::directory::NearRanking;
use renkei_store::records::{EntryRecord, RecordQuery};
use renkei_store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// Most changed entries read in one incremental refresh; more means a full reload.
const INCREMENT: usize = 10_000;
/// How far before the watermark an incremental refresh reads again.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(30);

fn overlap(watermark: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(watermark)
        .map(|t| renkei_store::time_text(t.with_timezone(&chrono::Utc) - OVERLAP))
        .unwrap_or_else(|_| watermark.to_owned())
}

/// Entries per page of a full load.
const PAGE: usize = 20_000;
/// A full reload at least this often.
const FULL_EVERY: Duration = Duration::from_secs(600);

#[derive(Debug, Default)]
struct Loaded {
    index: SpatialIndex,
    watermark: Option<String>,
    /// When the last successful read began (UTC text, the clock that stamps `updated_at`).
    read_at: Option<String>,
    last_full: Option<Instant>,
    /// Entries the last incremental refresh read (`None` after a full load).
    last_increment: Option<usize>,
}

/// The index and how current it is.
#[derive(Debug, Default)]
pub struct DirectoryIndex {
    inner: RwLock<Loaded>,
    /// Serialises refreshes (two at once would only do the work twice).
    refreshing: tokio::sync::Mutex<()>,
    /// Entries recently read whole, as current as the index (its refresh forgets them).
    records: crate::record_cache::RecordCache,
}

/// One answer of a near query.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NearHit {
    /// Entry id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Kind code.
    pub kind: &'static str,
    /// Active institution.
    pub active: bool,
    /// Address.
    pub address: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lng: f64,
    /// Great-circle distance from the point, km.
    pub distance_km: f64,
}

impl DirectoryIndex {
    /// Whether a full load has happened.
    pub fn is_loaded(&self) -> bool {
        self.read().last_full.is_some()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Brings the index up to date: a full load the first time and every ten minutes, otherwise
    /// only the entries changed since the last refresh.
    pub async fn refresh(&self, store: &Store) -> Result<(), StoreError> {
        self.refresh_at(store, chrono::Utc::now()).await
    }

    /// [`refresh`](Self::refresh) as if it were `now` (tests move time forward).
    pub async fn refresh_at(
        &self,
        store: &Store,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let reading = renkei_store::time_text(now);
        let (watermark, read_at, full_due) = {
            let loaded = self.read();
            (
                loaded.watermark.clone(),
                loaded.read_at.clone(),
                loaded.last_full.is_none_or(|t| t.elapsed() >= FULL_EVERY),
            )
        };
        if let (false, Some(since)) = (full_due, watermark.as_deref()) {
            // Times are taken when a transaction starts but seen when it commits: a row stamped
            // before the watermark may still appear if its transaction was open during the last
            // read. Such a transaction began before that read, so reading back a margin before
            // the last read's start is enough (re-reading an entry is harmless); longer
            // transactions (a large import) are caught by the full reload every ten minutes.
            // The margin is taken from the read, not the watermark: after a large import the
            // rows stamped in its last seconds would otherwise be read again on every refresh.
            let since = match read_at.as_deref() {
                Some(read) => overlap(read).min(since.to_owned()),
                None => overlap(since),
            };
            let load = store.index_changes(&since, INCREMENT).await?;
            if load.rows < INCREMENT {
                self.records.forget(
                    load.unlocated
                        .iter()
                        .copied()
                        .chain(load.entries.iter().map(|e| e.id)),
                );
                let mut loaded = self.inner.write().unwrap_or_else(|e| e.into_inner());
                for id in load.unlocated {
                    loaded.index.remove(id);
                }
                for entry in load.entries {
                    loaded.index.upsert(entry);
                }
                if load.watermark.as_deref() > watermark.as_deref() {
                    loaded.watermark = load.watermark;
                }
                loaded.read_at = Some(reading);
                loaded.last_increment = Some(load.rows);
                return Ok(());
            }
        }
        // A full load, in pages; the watermark is read first so nothing written meanwhile is
        // missed by the next refresh.
        let watermark = store.latest_update().await?;
        let mut entries = Vec::new();
        let mut after = 0;
        loop {
            let page = store.index_page(after, PAGE).await?;
            let Some(last) = page.last_id else { break };
            after = last;
            entries.extend(page.entries);
        }
        let index = SpatialIndex::build(entries);
        self.records.clear();
        let mut loaded = self.inner.write().unwrap_or_else(|e| e.into_inner());
        *loaded = Loaded {
            index,
            watermark,
            read_at: Some(reading),
            last_full: Some(Instant::now()),
            last_increment: None,
        };
        Ok(())
    }

    /// The entries `ids` whole (as the FHIR API publishes them), from the copies kept since
    /// the index last saw them change, the others read from the database and kept; `None`
    /// when one of them is no longer in the database (the caller then asks the database).
    pub async fn records(
        &self,
        store: &Store,
        ids: &[i64],
    ) -> Result<Option<HashMap<i64, Arc<EntryRecord>>>, StoreError> {
        let (mut found, missing) = self.records.get(ids);
        if !missing.is_empty() {
            let generation = self.records.generation();
            let read: Vec<Arc<EntryRecord>> = store
                .entry_records(&RecordQuery {
                    ids: Some(missing.clone()),
                    limit: missing.len(),
                    ..RecordQuery::default()
                })
                .await?
                .into_iter()
                .map(Arc::new)
                .collect();
            self.records.keep(generation, read.iter().cloned());
            for r in read {
                found.insert(r.id, r);
            }
        }
        Ok(ids.iter().all(|id| found.contains_key(id)).then_some(found))
    }

    /// Loads the index if it never was (the first query of a server without the refresh task).
    pub async fn ensure_loaded(&self, store: &Store) -> Result<(), StoreError> {
        if self.is_loaded() {
            Ok(())
        } else {
            self.refresh(store).await
        }
    }

    /// How many entries the last incremental refresh read (`None` after a full load): what a
    /// refresh costs.
    pub fn last_increment(&self) -> Option<usize> {
        self.read().last_increment
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.read().index.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The nearest institutions that can take an urgent request: (id, km), nearest first (see
    /// [`renkei_domain::urgent::route`]).
    pub fn route(
        &self,
        kind: renkei_domain::urgent::RequestKind,
        needed: &[renkei_domain::capability::Capability],
        point: (f64, f64),
        requester: i64,
        limit: usize,
    ) -> Vec<(i64, f64)> {
        renkei_domain::urgent::route(&self.read().index, kind, needed, point, requester, limit)
    }

    /// The entries of `kinds` within `km` of a point, nearest first (at most `limit`).
    pub fn nearest_of_kinds(
        &self,
        point: (f64, f64),
        kinds: &[renkei_domain::institution::InstitutionKind],
        km: f64,
        limit: usize,
    ) -> Vec<NearHit> {
        self.nearest_capable(point, kinds, &[], km, limit)
    }

    /// The entries of `kinds` with every capability of `needed` within `km` of a point,
    /// nearest first (at most `limit`).
    pub fn nearest_capable(
        &self,
        (lat, lng): (f64, f64),
        kinds: &[renkei_domain::institution::InstitutionKind],
        needed: &[renkei_domain::capability::Capability],
        km: f64,
        limit: usize,
    ) -> Vec<NearHit> {
        let wanted = renkei_domain::spatial::CapabilitySet::of(needed.iter().copied());
        let loaded = self.read();
        loaded
            .index
            .nearest_where(lat, lng, km, limit, |e| {
                kinds.contains(&e.kind) && e.capabilities.contains_all(wanted)
            })
            .into_iter()
            .map(|(e, d)| hit_of(e, d))
            .collect()
    }

    /// The entries within `km` of a point for which `keep` holds, ranked in (distance, id)
    /// order and read lazily: the ranking every near search of the FHIR API, the directory page
    /// and its exports pages through (uncapped, so nothing within the radius is dropped, and a
    /// page walks the index only as far as it reaches).
    pub fn ranked(
        self: &std::sync::Arc<Self>,
        point: (f64, f64),
        km: f64,
        keep: impl Fn(&IndexedEntry) -> bool + Send + Sync + 'static,
    ) -> std::sync::Arc<dyn NearRanking> {
        std::sync::Arc::new(IndexRanking {
            index: std::sync::Arc::clone(self),
            point,
            km,
            keep: Box::new(keep),
        })
    }

    /// The matching entries near a point, nearest first.
    pub fn near(&self, q: &NearQuery) -> Vec<NearHit> {
        let loaded = self.read();
        loaded
            .index
            .near(q)
            .into_iter()
            .map(|(e, d): (&IndexedEntry, f64)| hit_of(e, d))
            .collect()
    }
}

/// A near search's ranking read from the live index a window at a time (see [`NearRanking`]).
struct IndexRanking {
    index: std::sync::Arc<DirectoryIndex>,
    point: (f64, f64),
    km: f64,
    keep: Box<dyn Fn(&IndexedEntry) -> bool + Send + Sync>,
}

impl std::fmt::Debug for IndexRanking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexRanking")
            .field("point", &self.point)
            .field("km", &self.km)
            .finish_non_exhaustive()
    }
}

impl NearRanking for IndexRanking {
    fn window(&self, after: Option<(f64, i64)>, n: usize) -> Vec<(i64, f64)> {
        let (lat, lng) = self.point;
        self.index
            .read()
            .index
            .ranked_after(lat, lng, self.km, after, n, &self.keep)
    }

    fn count(&self) -> usize {
        let (lat, lng) = self.point;
        self.index
            .read()
            .index
            .count_within(lat, lng, self.km, &self.keep)
    }
}

/// An entry as a near query answers it.
fn hit_of(e: &IndexedEntry, km: f64) -> NearHit {
    NearHit {
        id: e.id,
        name: e.name.to_string(),
        kind: e.kind.code(),
        active: e.active,
        address: e.address.to_string(),
        lat: e.lat,
        lng: e.lng,
        distance_km: (km * 1000.0).round() / 1000.0,
    }
}
