//! Recently read directory entries, kept in memory so that a FHIR near page (50 entries the
//! index ranked) is answered without reading the database again. Bounded (two generations of
//! at most [`KEPT`] entries: the older is dropped when the newer fills, so what is in use stays)
//! and exactly as current as the spatial index: its refresh forgets every entry it read as
//! changed and a full reload forgets everything. A read that began before a change is not kept
//! (the generation counter), so an old copy cannot outlive the refresh that announced the new.

use renkei_store::records::EntryRecord;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Entries per generation (about 1 KB each; both generations together at most twice this).
pub const KEPT: usize = 40_000;

#[derive(Debug, Default)]
struct Generations {
    current: HashMap<i64, Arc<EntryRecord>>,
    previous: HashMap<i64, Arc<EntryRecord>>,
}

/// The cache.
#[derive(Debug, Default)]
pub struct RecordCache {
    kept: Mutex<Generations>,
    /// Bumped by every forgetting; a fill started under an older value is dropped.
    generation: AtomicU64,
}

impl RecordCache {
    /// The generation to pass to [`keep`](Self::keep) after reading from the database.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The kept entries of `ids`, and the ids not kept.
    pub fn get(&self, ids: &[i64]) -> (HashMap<i64, Arc<EntryRecord>>, Vec<i64>) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            if let Some(r) = kept.current.get(id) {
                found.insert(*id, Arc::clone(r));
            } else if let Some(r) = kept.previous.remove(id) {
                // In use again: into the current generation.
                found.insert(*id, Arc::clone(&r));
                Self::insert(&mut kept, r);
            } else {
                missing.push(*id);
            }
        }
        (found, missing)
    }

    /// Keeps entries read from the database — unless something was forgotten since
    /// `generation` was taken (the read may predate that change).
    pub fn keep(&self, generation: u64, records: impl IntoIterator<Item = Arc<EntryRecord>>) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation() != generation {
            return;
        }
        for r in records {
            Self::insert(&mut kept, r);
        }
    }

    fn insert(kept: &mut Generations, record: Arc<EntryRecord>) {
        if kept.current.len() >= KEPT {
            kept.previous = std::mem::take(&mut kept.current);
        }
        kept.current.insert(record.id, record);
    }

    /// Forgets these entries (they changed).
    pub fn forget(&self, ids: impl IntoIterator<Item = i64>) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        for id in ids {
            kept.current.remove(&id);
            kept.previous.remove(&id);
        }
    }

    /// Forgets everything (a full reload of the index).
    pub fn clear(&self) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        *kept = Generations::default();
    }

    /// How many entries are kept.
    pub fn len(&self) -> usize {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.current.len() + kept.previous.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use renkei_domain::institution::{InstitutionKind, PublicFields};

    fn record(id: i64, name: &str) -> Arc<EntryRecord> {
        Arc::new(EntryRecord {
            id,
            kind: InstitutionKind::ALL[0],
            fields: PublicFields {
                name: name.to_owned(),
                name_kana: String::new(),
                postcode: None,
                address: String::new(),
                phone: None,
                capabilities: Vec::new(),
                details: Default::default(),
                location: None,
                roles: Vec::new(),
            },
            area_code: String::new(),
            municipality: String::new(),
            prefecture: String::new(),
            is_active: false,
            has_beds: false,
            is_demo: false,
            created_at: String::new(),
            updated_at: String::new(),
            distance_km: None,
        })
    }

    #[test]
    fn a_read_that_began_before_a_change_is_not_kept() {
        let cache = RecordCache::default();
        let before = cache.generation();
        cache.forget([1]);
        cache.keep(before, [record(1, "old")]);
        assert!(cache.get(&[1]).0.is_empty(), "the old copy was dropped");
        let now = cache.generation();
        cache.keep(now, [record(1, "new")]);
        assert_eq!(cache.get(&[1]).0[&1].fields.name, "new");
        cache.forget([1]);
        assert_eq!(cache.get(&[1, 2]).1, vec![1, 2]);
        cache.keep(cache.generation(), [record(3, "x")]);
        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn it_stays_bounded_and_keeps_what_is_in_use() {
        let cache = RecordCache::default();
        let g = cache.generation();
        cache.keep(g, [record(0, "hot")]);
        for id in 1..(3 * KEPT as i64) {
            cache.keep(g, [record(id, "")]);
            if id % 1_000 == 0 {
                assert!(cache.get(&[0]).1.is_empty(), "the entry in use stays");
            }
        }
        assert!(cache.len() <= 2 * KEPT);
    }
}
