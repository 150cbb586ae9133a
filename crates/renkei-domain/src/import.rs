//! Reading a directory file as people and Excel write it: UTF-8 (with or without BOM) or
//! Shift_JIS/CP932, Japanese headers in any order, kinds and areas by label or code, capabilities
//! as a 「、」-separated list. Every problem is reported with its row, column and a reason in
//! Japanese; nothing is guessed.

use crate::capability::Capability;
use crate::institution::{GeoPoint, InstitutionKind, NewInstitution};
use crate::region::RegionDefinition;
use crate::text::{normalize, search_key};

/// The encoding a file was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceEncoding {
    /// UTF-8 (a BOM, if any, removed).
    Utf8,
    /// Shift_JIS as Excel on Windows writes it (CP932).
    ShiftJis,
}

/// Decodes a file: UTF-8 when it is valid UTF-8, otherwise Shift_JIS; `None` when neither fits.
pub fn decode(bytes: &[u8]) -> Option<(String, SourceEncoding)> {
    let without_bom = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(without_bom) {
        return Some((text.to_owned(), SourceEncoding::Utf8));
    }
    let (text, _, had_errors) = encoding_rs::SHIFT_JIS.decode(bytes);
    (!had_errors).then(|| (text.into_owned(), SourceEncoding::ShiftJis))
}

/// One row that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// Line in the file (the header is line 1).
    pub line: usize,
    /// Column name.
    pub column: String,
    /// What is wrong, in Japanese.
    pub reason: String,
}

/// A readable row.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    /// Line in the file.
    pub line: usize,
    /// The entry.
    pub institution: NewInstitution,
}

const REQUIRED: [&str; 4] = ["名称", "種別", "地域", "所在地"];

/// Parses a directory CSV (the columns `renkei export` writes; only 名称, 種別, 地域 and 所在地 are
/// required). Returns the good rows and every problem.
pub fn parse_directory_csv(
    text: &str,
    region: &RegionDefinition,
) -> Result<(Vec<ImportRow>, Vec<RowError>), RowError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| RowError {
            line: 1,
            column: String::new(),
            reason: format!("見出し行を読めません（{e}）"),
        })?
        .iter()
        .map(normalize)
        .collect();
    for required in REQUIRED {
        if !headers.iter().any(|h| h == required) {
            return Err(RowError {
                line: 1,
                column: required.to_owned(),
                reason: format!("必須の列「{required}」がありません"),
            });
        }
    }
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    line,
                    column: String::new(),
                    reason: format!(
                        "行の形式が正しくありません（引用符や列の数を確認してください: {e}）"
                    ),
                });
                continue;
            }
        };
        // Names keep their typography (「［デモ］」); every other cell is normalised.
        let get = |name: &str| {
            let cell = col(name).and_then(|c| record.get(c)).unwrap_or_default();
            if name == "名称" {
                cell.split_whitespace().collect::<Vec<_>>().join(" ")
            } else {
                normalize(cell)
            }
        };
        match parse_row(line, &get, region) {
            Ok(institution) => rows.push(ImportRow { line, institution }),
            Err(mut e) => errors.append(&mut e),
        }
    }
    Ok((rows, errors))
}

fn parse_row(
    line: usize,
    get: &dyn Fn(&str) -> String,
    region: &RegionDefinition,
) -> Result<NewInstitution, Vec<RowError>> {
    let mut errors = Vec::new();
    let mut fail = |column: &str, reason: String| {
        errors.push(RowError {
            line,
            column: column.to_owned(),
            reason,
        })
    };
    let name = get("名称");
    if name.is_empty() {
        fail("名称", "名称が空です".into());
    }
    let kind_text = get("種別");
    let kind = InstitutionKind::ALL
        .into_iter()
        .find(|k| k.label_ja() == kind_text || k.code() == kind_text);
    if kind.is_none() {
        fail(
            "種別",
            format!(
                "種別「{kind_text}」はありません（病院、診療所、薬局、訪問看護ステーション など）"
            ),
        );
    }
    let area_text = get("地域");
    let area = region
        .areas
        .iter()
        .find(|a| a.code.as_str() == area_text || normalize(&a.name) == area_text);
    if area.is_none() {
        fail(
            "地域",
            format!("地域「{area_text}」はありません（例: yao または 八尾市）"),
        );
    }
    let address = get("所在地");
    if address.is_empty() {
        fail("所在地", "所在地が空です".into());
    }
    let postcode: String = get("郵便番号")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    if !postcode.is_empty() && postcode.len() != 7 {
        fail(
            "郵便番号",
            format!("郵便番号「{}」は7桁ではありません", get("郵便番号")),
        );
    }
    let number = |column: &str| -> Result<Option<f64>, String> {
        let v = get(column);
        if v.is_empty() {
            return Ok(None);
        }
        v.parse::<f64>()
            .map(Some)
            .map_err(|_| format!("「{v}」は数値ではありません"))
    };
    let location = match (number("緯度"), number("経度")) {
        (Ok(Some(lat)), Ok(Some(lng))) => match GeoPoint::new(lat, lng) {
            Ok(p) if (20.0..=46.0).contains(&lat) && (122.0..=154.0).contains(&lng) => Some(p),
            _ => {
                fail("緯度", format!("座標（{lat}, {lng}）は日本の範囲外です"));
                None
            }
        },
        (Ok(None), Ok(None)) => None,
        (Err(e), _) => {
            fail("緯度", e);
            None
        }
        (_, Err(e)) => {
            fail("経度", e);
            None
        }
        _ => {
            fail(
                "緯度",
                "緯度と経度は両方入力するか、両方空にしてください".into(),
            );
            None
        }
    };
    let mut capabilities = Vec::new();
    for part in get("できること")
        .split(['、', ',', '/', '・'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        match Capability::from_term(part).or_else(|| Capability::from_code(part)) {
            Some(c) => capabilities.push(c),
            None => fail(
                "できること",
                format!(
                    "「{part}」は登録できる項目ではありません（往診、訪問診療、24時間対応 など）"
                ),
            ),
        }
    }
    capabilities.sort();
    capabilities.dedup();
    let flag = |column: &str| matches!(get(column).as_str(), "1" | "はい" | "true" | "○");
    if !errors.is_empty() {
        return Err(errors);
    }
    let (Some(kind), Some(area)) = (kind, area) else {
        return Err(errors);
    };
    let phone = get("電話");
    Ok(NewInstitution {
        kind,
        name_kana: crate::text::to_katakana(&get("よみがな")),
        name,
        area: area.code.clone(),
        municipality: area.municipality.clone(),
        town: None,
        postcode: (!postcode.is_empty()).then_some(postcode),
        address,
        location,
        phone: (!phone.is_empty()).then_some(phone),
        has_beds: kind == InstitutionKind::Hospital,
        is_demo: flag("デモ"),
        is_active: false,
        roles: Vec::new(),
        capabilities,
        contact_email: None,
        confirmed_days_ago: Some(0),
    })
}

/// The key that identifies an entry across imports: its name and address, normalised.
pub fn identity_key(name: &str, address: &str) -> String {
    format!("{}|{}", search_key(name), search_key(address))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "ID,名称,よみがな,種別,地域,郵便番号,所在地,電話,緯度,経度,できること,積極的医療機関,デモ\n";

    #[test]
    fn shift_jis_and_utf8_are_both_read() {
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("名称,種別\n八尾診療所,診療所\n");
        assert_eq!(decode(&sjis).unwrap().1, SourceEncoding::ShiftJis);
        assert!(decode(&sjis).unwrap().0.contains("八尾診療所"));
        let bom = [b"\xEF\xBB\xBF".as_slice(), "名称".as_bytes()].concat();
        assert_eq!(
            decode(&bom).unwrap(),
            ("名称".to_owned(), SourceEncoding::Utf8)
        );
        assert!(decode(&[0x82, 0xff, 0xff]).is_none());
    }

    #[test]
    fn good_rows_are_read_and_every_problem_is_named() {
        let region = RegionDefinition::nakakawachi();
        let text = format!(
            "{HEADER}\
             ,さくら診療所,さくらしんりょうじょ,診療所,八尾市,581-0003,八尾市本町1-1,072-000-0000,34.62,135.60,往診、訪問診療、24時間,0,1\n\
             ,,,歯医者,どこか,123,,,,135.6,ワープ,,\n\
             ,あおば薬局,,pharmacy,yao,,八尾市本町2-2,,91,135,,0,0\n"
        );
        let (rows, errors) = parse_directory_csv(&text, &region).unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0].institution;
        assert_eq!(
            (r.name.as_str(), r.name_kana.as_str(), r.area.as_str()),
            ("さくら診療所", "サクラシンリョウジョ", "yao")
        );
        assert_eq!(
            r.capabilities,
            [
                Capability::HouseCall,
                Capability::HomeVisit,
                Capability::AlwaysAvailable
            ]
        );
        assert!(r.is_demo);
        let at =
            |line: usize, column: &str| errors.iter().any(|e| e.line == line && e.column == column);
        for column in [
            "名称",
            "種別",
            "地域",
            "郵便番号",
            "所在地",
            "緯度",
            "できること",
        ] {
            assert!(at(3, column), "line 3 {column}: {errors:?}");
        }
        assert!(at(4, "緯度"), "latitude 91 is outside Japan");
        let missing = parse_directory_csv("名称,種別\nx,y\n", &region).unwrap_err();
        assert!(missing.reason.contains("地域"));
        let (_, broken) =
            parse_directory_csv(&format!("{HEADER},\"unterminated,診療所\n"), &region).unwrap();
        assert_eq!(broken.len(), 1);
    }
}
