//! The directory's spatial index: every located entry in an R-tree (rstar) over points on the unit
//! sphere, so that "nearest first" by straight-line (chord) distance is exactly "nearest first"
//! by great-circle distance, anywhere in Japan. A query walks entries outward from the point,
//! keeps those of the wanted kind with every wanted capability, and stops at the radius or when
//! it has enough — a few hundred microseconds for a city, without touching the database.

use crate::capability::Capability;
use crate::institution::InstitutionKind;
use rstar::{PointDistance, RTree, RTreeObject, AABB};

/// Mean Earth radius in kilometres (the one `towns::distance_km` uses).
pub const EARTH_RADIUS_KM: f64 = 6_371.0;

/// The capabilities of an entry as bits (bit n = `Capability::ALL[n]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapabilitySet(pub u32);

impl CapabilitySet {
    /// The set of these capabilities.
    pub fn of(capabilities: impl IntoIterator<Item = Capability>) -> Self {
        Self(
            capabilities
                .into_iter()
                .fold(0, |bits, c| bits | Self::bit(c)),
        )
    }

    fn bit(c: Capability) -> u32 {
        let n = Capability::ALL.iter().position(|x| *x == c).unwrap_or(31);
        1 << n
    }

    /// Whether every capability of `wanted` is in this set.
    pub fn contains_all(self, wanted: CapabilitySet) -> bool {
        self.0 & wanted.0 == wanted.0
    }

    /// Whether at least one capability of `other` is in this set.
    pub fn intersects(self, other: CapabilitySet) -> bool {
        self.0 & other.0 != 0
    }
}

/// What the index keeps of an entry.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedEntry {
    /// The entry's id.
    pub id: i64,
    /// Kind.
    pub kind: InstitutionKind,
    /// Capabilities.
    pub capabilities: CapabilitySet,
    /// Active institution.
    pub active: bool,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lng: f64,
    /// Name, for answers that need no database round trip.
    pub name: Box<str>,
    /// Address.
    pub address: Box<str>,
}

/// A point of the tree: the entry on the unit sphere.
#[derive(Debug, Clone, PartialEq)]
struct Node {
    xyz: [f64; 3],
    entry: IndexedEntry,
}

impl RTreeObject for Node {
    type Envelope = AABB<[f64; 3]>;
    fn envelope(&self) -> Self::Envelope {
        AABB::from_point(self.xyz)
    }
}

impl PointDistance for Node {
    fn distance_2(&self, point: &[f64; 3]) -> f64 {
        let d = [
            self.xyz[0] - point[0],
            self.xyz[1] - point[1],
            self.xyz[2] - point[2],
        ];
        d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
    }
}

/// The point of (lat, lng) on the unit sphere.
fn unit(lat: f64, lng: f64) -> [f64; 3] {
    let (lat, lng) = (lat.to_radians(), lng.to_radians());
    [lat.cos() * lng.cos(), lat.cos() * lng.sin(), lat.sin()]
}

/// The great-circle distance (km) of a chord length on the unit sphere.
fn chord_to_km(chord: f64) -> f64 {
    2.0 * (chord / 2.0).clamp(-1.0, 1.0).asin() * EARTH_RADIUS_KM
}

/// The chord length on the unit sphere of a great-circle distance (km).
fn km_to_chord(km: f64) -> f64 {
    2.0 * (km / EARTH_RADIUS_KM / 2.0)
        .min(std::f64::consts::FRAC_PI_2)
        .sin()
}

/// A near query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NearQuery {
    /// Latitude of the point.
    pub lat: f64,
    /// Longitude of the point.
    pub lng: f64,
    /// Radius in kilometres.
    pub km: f64,
    /// Only this kind.
    pub kind: Option<InstitutionKind>,
    /// Every one of these.
    pub capabilities: CapabilitySet,
    /// At most this many, nearest first.
    pub limit: usize,
}

/// The index.
#[derive(Debug, Default)]
pub struct SpatialIndex {
    tree: RTree<Node>,
    /// Where each entry is, to find it again when it changes.
    positions: std::collections::HashMap<i64, [f64; 3]>,
}

impl SpatialIndex {
    /// Builds the index in one go (bulk loading: much faster than inserting one by one).
    pub fn build(entries: impl IntoIterator<Item = IndexedEntry>) -> Self {
        let nodes: Vec<Node> = entries
            .into_iter()
            .filter(|e| e.lat.is_finite() && e.lng.is_finite())
            .map(|entry| Node {
                xyz: unit(entry.lat, entry.lng),
                entry,
            })
            .collect();
        let positions = nodes.iter().map(|n| (n.entry.id, n.xyz)).collect();
        Self {
            tree: RTree::bulk_load(nodes),
            positions,
        }
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.tree.size()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.tree.size() == 0
    }

    /// Adds an entry, or replaces the one with its id.
    pub fn upsert(&mut self, entry: IndexedEntry) {
        self.remove(entry.id);
        if entry.lat.is_finite() && entry.lng.is_finite() {
            let xyz = unit(entry.lat, entry.lng);
            self.positions.insert(entry.id, xyz);
            self.tree.insert(Node { xyz, entry });
        }
    }

    /// Removes the entry `id` (no-op when absent).
    pub fn remove(&mut self, id: i64) {
        if let Some(at) = self.positions.remove(&id) {
            let found = self
                .tree
                .locate_all_at_point(at)
                .find(|n| n.entry.id == id)
                .cloned();
            if let Some(node) = found {
                self.tree.remove(&node);
            }
        }
    }

    /// The matching entries within the radius, nearest first, each with its distance in km.
    pub fn near(&self, q: &NearQuery) -> Vec<(&IndexedEntry, f64)> {
        self.nearest_where(q.lat, q.lng, q.km, q.limit, |e| {
            q.kind.is_none_or(|k| k == e.kind) && e.capabilities.contains_all(q.capabilities)
        })
    }

    /// Every entry within `km` of the point for which `keep` holds, as (id, distance in km), in
    /// (distance, id) order — the order every near search pages in, so that a page boundary
    /// falls at the same place whichever page asks. Nothing is capped.
    pub fn ranked_within(
        &self,
        lat: f64,
        lng: f64,
        km: f64,
        keep: impl Fn(&IndexedEntry) -> bool,
    ) -> Vec<(i64, f64)> {
        self.ranked_after(lat, lng, km, None, usize::MAX, keep)
    }

    /// At most `n` entries within `km` of the point for which `keep` holds, strictly after
    /// `after` in (distance, id) order, as (id, distance in km) in that order. The tree is
    /// walked nearest first and only as far as the answer needs (past the cursor, then `n`
    /// entries and any others at the same distance as the last, whose ties go by id), so a page
    /// of 50 costs about 50 steps however many entries lie within the radius.
    pub fn ranked_after(
        &self,
        lat: f64,
        lng: f64,
        km: f64,
        after: Option<(f64, i64)>,
        n: usize,
        keep: impl Fn(&IndexedEntry) -> bool,
    ) -> Vec<(i64, f64)> {
        let centre = unit(lat, lng);
        let max_chord_2 = km_to_chord(km).powi(2);
        let past = |d: f64, id: i64| {
            after.is_none_or(|(ad, aid)| d.total_cmp(&ad).then(id.cmp(&aid)).is_gt())
        };
        let mut out: Vec<(i64, f64)> = Vec::with_capacity(n.min(1_024));
        for (node, chord_2) in self.tree.nearest_neighbor_iter_with_distance_2(centre) {
            if chord_2 > max_chord_2 {
                break;
            }
            let d = chord_to_km(chord_2.sqrt());
            // Distances never decrease along the walk: once `n` are held, only entries at the
            // very distance of the last can still belong (a tie the id decides).
            if out.len() >= n && out.last().is_some_and(|&(_, last)| d > last) {
                break;
            }
            if past(d, node.entry.id) && keep(&node.entry) {
                out.push((node.entry.id, d));
            }
        }
        out.sort_unstable_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        out.truncate(n);
        out
    }

    /// How many entries within `km` of the point `keep` holds for (no sorting, no copies).
    pub fn count_within(
        &self,
        lat: f64,
        lng: f64,
        km: f64,
        keep: impl Fn(&IndexedEntry) -> bool,
    ) -> usize {
        self.tree
            .locate_within_distance(unit(lat, lng), km_to_chord(km).powi(2))
            .filter(|node| keep(&node.entry))
            .count()
    }

    /// At most `limit` entries within `km` of the point for which `keep` holds, nearest first,
    /// each with its distance in km.
    pub fn nearest_where(
        &self,
        lat: f64,
        lng: f64,
        km: f64,
        limit: usize,
        keep: impl Fn(&IndexedEntry) -> bool,
    ) -> Vec<(&IndexedEntry, f64)> {
        let centre = unit(lat, lng);
        let max_chord_2 = km_to_chord(km).powi(2);
        let mut out = Vec::with_capacity(limit.min(256));
        for (node, chord_2) in self.tree.nearest_neighbor_iter_with_distance_2(centre) {
            if chord_2 > max_chord_2 || out.len() >= limit {
                break;
            }
            if keep(&node.entry) {
                out.push((&node.entry, chord_to_km(chord_2.sqrt())));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::towns::distance_km;
    use proptest::prelude::*;

    fn entry(id: i64, lat: f64, lng: f64, kind: usize, caps: u32) -> IndexedEntry {
        IndexedEntry {
            id,
            kind: InstitutionKind::ALL[kind % InstitutionKind::ALL.len()],
            capabilities: CapabilitySet(caps),
            active: id % 7 == 0,
            lat,
            lng,
            name: format!("施設{id}").into(),
            address: "".into(),
        }
    }

    proptest! {
        /// Every entry within the radius, against brute force, in (distance, id) order — with
        /// many entries at the very same place (a building of clinics), whose ties go by id.
        #[test]
        fn ranked_within_is_every_match_in_distance_then_id_order(
            points in prop::collection::vec((33.0f64..36.0, 134.0f64..137.0, 0usize..9, 0u32..16, 1usize..4), 1..300),
            lat in 33.5f64..35.5,
            lng in 134.5f64..136.5,
            km in 1.0f64..80.0,
            caps in 0u32..4,
        ) {
            let mut entries = Vec::new();
            for (la, ln, k, c, copies) in &points {
                for _ in 0..*copies {
                    let id = entries.len() as i64 * 7 % 1009;
                    entries.push(entry(id, *la, *ln, *k, *c));
                }
            }
            entries.sort_by_key(|e| e.id);
            entries.dedup_by_key(|e| e.id);
            let index = SpatialIndex::build(entries.clone());
            let keep = |e: &IndexedEntry| e.capabilities.contains_all(CapabilitySet(caps));
            let got = index.ranked_within(lat, lng, km, keep);
            let mut want: Vec<(i64, f64)> = entries
                .iter()
                .filter(|e| keep(e))
                .map(|e| (e.id, distance_km(lat, lng, e.lat, e.lng)))
                .filter(|(_, d)| (d - km).abs() > 1e-9 && *d <= km)
                .collect();
            want.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then(a.0.cmp(&b.0)));
            let got_clear: Vec<i64> = got.iter().filter(|(_, d)| (d - km).abs() > 1e-9).map(|(i, _)| *i).collect();
            let want_ids: Vec<i64> = want.iter().map(|(i, _)| *i).collect();
            // The same entries; equal places in id order; otherwise nearest first.
            let mut a = got_clear.clone();
            let mut b = want_ids.clone();
            a.sort_unstable();
            b.sort_unstable();
            prop_assert_eq!(a, b);
            prop_assert!(got.windows(2).all(|w| w[0].1 < w[1].1 || (w[0].1 == w[1].1 && w[0].0 < w[1].0)));
        }

        /// Paging with `ranked_after` — any page size, each page after the last one's final
        /// (distance, id) — gives exactly the whole ranking, in order, each entry once; and
        /// `count_within` counts it. Many entries share places, so ties cross page boundaries.
        #[test]
        fn pages_of_ranked_after_are_the_whole_ranking(
            points in prop::collection::vec((34.5f64..34.8, 135.4f64..135.7, 0usize..9, 0u32..16, 1usize..6), 1..200),
            lat in 34.5f64..34.8,
            lng in 135.4f64..135.7,
            km in 0.5f64..30.0,
            caps in 0u32..4,
            page in 1usize..9,
        ) {
            let mut entries = Vec::new();
            for (la, ln, k, c, copies) in &points {
                for _ in 0..*copies {
                    let id = entries.len() as i64 * 13 % 2003;
                    entries.push(entry(id, *la, *ln, *k, *c));
                }
            }
            entries.sort_by_key(|e| e.id);
            entries.dedup_by_key(|e| e.id);
            let index = SpatialIndex::build(entries);
            let keep = |e: &IndexedEntry| e.capabilities.contains_all(CapabilitySet(caps));
            let whole = index.ranked_within(lat, lng, km, keep);
            let mut paged = Vec::new();
            let mut after = None;
            loop {
                let got = index.ranked_after(lat, lng, km, after, page, keep);
                prop_assert!(got.len() <= page);
                let Some(&(id, d)) = got.last() else { break };
                paged.extend(got);
                after = Some((d, id));
            }
            prop_assert_eq!(&paged, &whole);
            prop_assert_eq!(index.count_within(lat, lng, km, keep), whole.len());
        }

        /// Against brute force: the same entries, in the same order, with the true distance.
        #[test]
        fn near_is_the_brute_force_answer(
            points in prop::collection::vec((33.0f64..36.0, 134.0f64..137.0, 0usize..9, 0u32..16), 1..400),
            lat in 33.5f64..35.5,
            lng in 134.5f64..136.5,
            km in 1.0f64..60.0,
            kind in prop::option::of(0usize..9),
            caps in 0u32..4,
            limit in 1usize..60,
        ) {
            let entries: Vec<IndexedEntry> = points
                .iter()
                .enumerate()
                .map(|(i, (la, ln, k, c))| entry(i as i64, *la, *ln, *k, *c))
                .collect();
            let index = SpatialIndex::build(entries.clone());
            let q = NearQuery {
                lat, lng, km,
                kind: kind.map(|k| InstitutionKind::ALL[k]),
                capabilities: CapabilitySet(caps),
                limit,
            };
            let got: Vec<(i64, f64)> = index.near(&q).iter().map(|(e, d)| (e.id, *d)).collect();
            let mut want: Vec<(i64, f64)> = entries
                .iter()
                .filter(|e| q.kind.is_none_or(|k| k == e.kind) && e.capabilities.contains_all(q.capabilities))
                .map(|e| (e.id, distance_km(lat, lng, e.lat, e.lng)))
                .filter(|(_, d)| *d <= km)
                .collect();
            want.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then(a.0.cmp(&b.0)));
            want.truncate(limit);
            prop_assert_eq!(got.len(), want.len());
            for ((gi, gd), (wi, wd)) in got.iter().zip(&want) {
                prop_assert!((gd - wd).abs() < 1e-6, "{} vs {}", gd, wd);
                // The same entry at each place (two entries at exactly the same distance may
                // come in either order; random coordinates practically never tie).
                if (gd - wd).abs() > 1e-12 || gi == wi {
                    prop_assert_eq!(gi, wi, "entry at {} km", gd);
                } else {
                    prop_assert!(want.iter().any(|(i, d)| i == gi && (d - gd).abs() <= 1e-12));
                }
            }
            // Distances never decrease.
            prop_assert!(got.windows(2).all(|w| w[0].1 <= w[1].1 + 1e-12));
        }
    }

    #[test]
    fn entries_move_and_leave() {
        let mut index = SpatialIndex::build(vec![
            entry(1, 34.6, 135.6, 1, 0),
            entry(2, 34.7, 135.6, 1, 0),
        ]);
        let q = NearQuery {
            lat: 34.6,
            lng: 135.6,
            km: 5.0,
            kind: None,
            capabilities: CapabilitySet(0),
            limit: 10,
        };
        assert_eq!(index.near(&q).len(), 1);
        index.upsert(entry(2, 34.601, 135.6, 1, 0));
        assert_eq!(index.near(&q).len(), 2);
        assert_eq!(index.len(), 2, "moved, not copied");
        index.remove(1);
        index.remove(99);
        assert_eq!(index.len(), 1);
        assert_eq!(index.near(&q)[0].0.id, 2);
        let set = CapabilitySet::of([Capability::HomeVisit, Capability::AlwaysAvailable]);
        assert!(set.contains_all(CapabilitySet::of([Capability::HomeVisit])));
        assert!(!CapabilitySet::of([Capability::HomeVisit]).contains_all(set));
    }
}
