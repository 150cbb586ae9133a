//! The synthetic national directory: rows in the columns `renkei import` reads, and the same
//! rows in memory for the in-process and PostgreSQL measurements.

use crate::population::{Sampler, PREFECTURES};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use renkei_domain::capability::Capability;
use renkei_domain::institution::InstitutionKind;
use renkei_domain::spatial::{CapabilitySet, IndexedEntry};

/// The region's areas (every synthetic row belongs to one; the benchmark is about distance).
const AREAS: [&str; 5] = [
    "higashiosaka-west",
    "higashiosaka-central",
    "higashiosaka-east",
    "yao",
    "kashiwara",
];

/// Kinds with their share of rows (per mille), close to the national mix of clinics, dental
/// clinics, pharmacies, offices and hospitals.
const KINDS: [(InstitutionKind, u32); 7] = [
    (InstitutionKind::Clinic, 330),
    (InstitutionKind::DentalClinic, 220),
    (InstitutionKind::Pharmacy, 240),
    (InstitutionKind::CareSupportOffice, 110),
    (InstitutionKind::VisitingNurseStation, 55),
    (InstitutionKind::Hospital, 30),
    (InstitutionKind::CommunityCareCenter, 15),
];

/// How likely each capability is (per mille) for a clinic or hospital; others get a third.
fn capability_odds(c: Capability) -> u32 {
    match c {
        Capability::HomeVisit => 350,
        Capability::HouseCall => 400,
        Capability::AlwaysAvailable => 250,
        Capability::EndOfLife => 200,
        Capability::Palliative => 150,
        Capability::Dementia => 250,
        _ => 80,
    }
}

/// One synthetic row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Id (1-based, the row number).
    pub id: i64,
    /// Kind.
    pub kind: InstitutionKind,
    /// Capabilities.
    pub capabilities: Vec<Capability>,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lng: f64,
    /// Prefecture index.
    pub prefecture: usize,
}

impl Row {
    /// As the index keeps it.
    pub fn indexed(&self) -> IndexedEntry {
        IndexedEntry {
            id: self.id,
            kind: self.kind,
            capabilities: CapabilitySet::of(self.capabilities.iter().copied()),
            active: false,
            lat: self.lat,
            lng: self.lng,
            name: self.name().into(),
            address: self.address().into(),
        }
    }

    /// 「［ベンチ］第123号診療所」: plainly synthetic.
    pub fn name(&self) -> String {
        format!("［ベンチ］第{}号{}", self.id, self.kind.label_ja())
    }

    /// A plainly synthetic address in its prefecture.
    pub fn address(&self) -> String {
        format!("{}架空町{}番地", PREFECTURES[self.prefecture].0, self.id)
    }
}

/// `n` rows, the same for the same seed.
pub fn rows(n: usize, seed: u64) -> Vec<Row> {
    let mut rng = StdRng::seed_from_u64(seed);
    let sampler = Sampler::default();
    (0..n)
        .map(|i| {
            let (prefecture, lat, lng) = sampler.point(&mut rng);
            let mut pick = rng.gen_range(0..1000);
            let kind = KINDS
                .iter()
                .find(|(_, share)| {
                    if pick < *share {
                        true
                    } else {
                        pick -= share;
                        false
                    }
                })
                .map(|(k, _)| *k)
                .unwrap_or(InstitutionKind::Other);
            let medical = matches!(kind, InstitutionKind::Clinic | InstitutionKind::Hospital);
            let capabilities = Capability::ALL
                .iter()
                .copied()
                .filter(|c| {
                    let odds = capability_odds(*c) / if medical { 1 } else { 3 };
                    rng.gen_range(0..1000) < odds
                })
                .collect();
            // Six decimals, as the CSV carries them, so every measurement sees the same points.
            let round = |x: f64| (x * 1e6).round() / 1e6;
            Row {
                id: i as i64 + 1,
                kind,
                capabilities,
                lat: round(lat),
                lng: round(lng),
                prefecture,
            }
        })
        .collect()
}

/// Writes the rows as a directory CSV that `renkei import` reads.
pub fn write_csv(
    rows: &[Row],
    out: &std::path::Path,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(out)?;
    w.write_record([
        "名称",
        "種別",
        "地域",
        "所在地",
        "緯度",
        "経度",
        "できること",
        "デモ",
    ])?;
    for r in rows {
        let caps: Vec<&str> = r.capabilities.iter().map(|c| c.label_ja()).collect();
        w.write_record([
            r.name(),
            r.kind.label_ja().to_owned(),
            AREAS[(r.id as usize) % AREAS.len()].to_owned(),
            r.address(),
            format!("{:.6}", r.lat),
            format!("{:.6}", r.lng),
            caps.join("、"),
            "1".to_owned(),
        ])?;
        bar.inc(1);
    }
    w.flush()?;
    Ok(())
}

/// Query points drawn like the rows (people search where people live).
pub fn query_points(n: usize, seed: u64) -> Vec<(f64, f64)> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let sampler = Sampler::default();
    (0..n)
        .map(|_| {
            let (_, lat, lng) = sampler.point(&mut rng);
            (lat, lng)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_follow_the_population_and_stay_in_japan() {
        let all = rows(20_000, 7);
        assert_eq!(all, rows(20_000, 7), "the same seed gives the same rows");
        let tokyo = all.iter().filter(|r| r.prefecture == 12).count() as f64 / 20_000.0;
        assert!(
            (0.09..0.13).contains(&tokyo),
            "Tokyo holds about 11 %: {tokyo}"
        );
        let tottori = all.iter().filter(|r| r.prefecture == 30).count() as f64 / 20_000.0;
        assert!(tottori < 0.01, "{tottori}");
        assert!(all
            .iter()
            .all(|r| (20.0..=46.0).contains(&r.lat) && (122.0..=154.0).contains(&r.lng)));
        let clinics = all
            .iter()
            .filter(|r| r.kind == InstitutionKind::Clinic)
            .count();
        assert!((6_000..7_300).contains(&clinics), "{clinics}");
    }
}
