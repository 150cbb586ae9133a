//! Reading a directory file as people and Excel write it: UTF-8 (with or without BOM) or
//! Shift_JIS/CP932, Japanese headers in any order, kinds and areas by label or code, capabilities
//! as a 「、」-separated list. Every problem is reported with its row, column and a reason in
//! Japanese; nothing is guessed.

use crate::capability::Capability;
use crate::institution::{
    clean_medical_code, Details, GeoPoint, InstitutionError, InstitutionKind, LocationPrecision,
    NewInstitution, PlacedPoint, RoleEntry,
};
use crate::readiness::{BcpStatus, EmergencyPower, PowerKind};
use crate::region::{RegionDefinition, Role, RoleStatus};
use crate::table::{role_plan_column, role_status_column};
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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// Renkei's id from the file's 「ID」 column (an export read back), when it has one.
    pub id: Option<i64>,
    /// The entry.
    pub institution: NewInstitution,
}

const REQUIRED: [&str; 4] = ["名称", "種別", "地域", "所在地"];

/// The kind of file a directory was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// CSV in this encoding.
    Csv(SourceEncoding),
    /// An Excel workbook (.xlsx), its first sheet.
    Xlsx,
}

impl FileFormat {
    /// How people name it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Csv(SourceEncoding::Utf8) => "CSV（UTF-8）",
            Self::Csv(SourceEncoding::ShiftJis) => "CSV（Shift_JIS）",
            Self::Xlsx => "Excel（.xlsx）",
        }
    }
}

/// A directory file read row by row.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFile {
    /// What it was.
    pub format: FileFormat,
    /// The readable rows.
    pub rows: Vec<ImportRow>,
    /// Every problem, by row and column.
    pub errors: Vec<RowError>,
    /// What the readable rows may have wrong — shown, not refused (a 医療機関コード whose check
    /// digit or prefecture does not agree, see [`medical_code_warnings`]).
    pub warnings: Vec<RowError>,
}

/// The doubts about the readable rows' 医療機関コード ([`crate::institution::medical_code_doubts`]),
/// one per row and doubt.
pub fn medical_code_warnings(rows: &[ImportRow]) -> Vec<RowError> {
    rows.iter()
        .flat_map(|row| {
            let i = &row.institution;
            i.details
                .medical_code
                .as_deref()
                .map(|code| {
                    crate::institution::medical_code_doubts(code, Some(i.municipality.as_str()))
                })
                .unwrap_or_default()
                .into_iter()
                .map(|reason| RowError {
                    line: row.line,
                    column: "医療機関コード".to_owned(),
                    reason,
                })
        })
        .collect()
}

/// Reads a directory file as people send it: an Excel workbook (recognised by its content, not
/// its name) or a CSV in UTF-8 or Shift_JIS. An error means nothing could be read at all (wrong
/// file, missing required column); problems of single rows are in [`ParsedFile::errors`].
pub fn read_directory_file(
    bytes: &[u8],
    region: &RegionDefinition,
) -> Result<ParsedFile, RowError> {
    if bytes.starts_with(b"PK\x03\x04") {
        let (rows, errors) = parse_directory_xlsx(bytes, region)?;
        return Ok(ParsedFile {
            format: FileFormat::Xlsx,
            warnings: medical_code_warnings(&rows),
            rows,
            errors,
        });
    }
    let (text, encoding) = decode(bytes).ok_or_else(|| RowError {
        line: 1,
        column: String::new(),
        reason: "文字コードを判別できません。UTF-8 か Shift_JIS（Excel の「CSV」）で保存するか、Excel ブック（.xlsx）のまま送ってください".into(),
    })?;
    let (rows, errors) = parse_directory_csv(&text, region)?;
    Ok(ParsedFile {
        format: FileFormat::Csv(encoding),
        warnings: medical_code_warnings(&rows),
        rows,
        errors,
    })
}

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
        .map(str::to_owned)
        .collect();
    let records = reader.records().enumerate().map(|(i, record)| {
        (
            i + 2,
            record
                .map(|r| r.iter().map(str::to_owned).collect::<Vec<_>>())
                .map_err(|e| {
                    format!("行の形式が正しくありません（引用符や列の数を確認してください: {e}）")
                }),
        )
    });
    parse_table(headers, records, region)
}

/// One non-empty cell of a sheet: its column, and its text or why it has none (an error value).
type SheetCell = (u32, Result<String, String>);

/// Parses the first sheet of an Excel workbook with the same columns as the CSV. Numbers come
/// back as people typed them (「5810003」, not 「5810003.0」); a cell with an error value (#N/A
/// and the like) makes its row bad.
pub fn parse_directory_xlsx(
    bytes: &[u8],
    region: &RegionDefinition,
) -> Result<(Vec<ImportRow>, Vec<RowError>), RowError> {
    use calamine::{Data, Reader};
    let unreadable = |e: String| RowError {
        line: 1,
        column: String::new(),
        reason: format!("Excel ファイルを読めません（{e}）。.xlsx 形式で保存し直してください"),
    };
    check_workbook_size(bytes).map_err(|e| RowError {
        line: 1,
        column: String::new(),
        reason: e,
    })?;
    let mut book =
        calamine::Xlsx::new(std::io::Cursor::new(bytes)).map_err(|e| unreadable(e.to_string()))?;
    let first_sheet = book
        .sheet_names()
        .into_iter()
        .next()
        .ok_or_else(|| unreadable("シートがありません".into()))?;
    // Cell by cell, keeping only the cells that exist: a sheet's declared size (a stray value
    // in XFD1048576) never turns into a grid in memory.
    let mut reader = book
        .worksheet_cells_reader(&first_sheet)
        .map_err(|e| unreadable(e.to_string()))?;
    let mut cells: std::collections::BTreeMap<u32, Vec<SheetCell>> =
        std::collections::BTreeMap::new();
    let mut kept = 0usize;
    while let Some(cell) = reader.next_cell().map_err(|e| unreadable(e.to_string()))? {
        let (row, col) = cell.get_position();
        if col >= MAX_COLUMNS {
            continue;
        }
        let text = cell_text(&Data::from(cell.get_value().clone()));
        if matches!(&text, Ok(t) if t.is_empty()) {
            continue;
        }
        kept += 1;
        if kept > MAX_CELLS {
            return Err(too_big(format!(
                "値の入ったセルが多すぎます（{MAX_CELLS} 個まで） / more than {MAX_CELLS} cells with values"
            )));
        }
        cells.entry(row).or_default().push((col, text));
        if cells.len() > MAX_ROWS {
            return Err(too_big(format!(
                "行が多すぎます（{MAX_ROWS} 行まで） / more than {MAX_ROWS} rows"
            )));
        }
    }
    let mut rows = cells.into_iter();
    // The first row with anything in it names the columns.
    let (_, header_cells) = rows
        .next()
        .ok_or_else(|| unreadable("空のシートです".into()))?;
    let width = header_cells.iter().map(|(c, _)| *c + 1).max().unwrap_or(0) as usize;
    let mut headers = vec![String::new(); width];
    for (col, text) in header_cells {
        headers[col as usize] = text.unwrap_or_default();
    }
    let records: Vec<(usize, Result<Vec<String>, String>)> = rows
        .map(|(row, row_cells)| {
            let mut texts = vec![String::new(); width];
            let mut problem = None;
            for (col, text) in row_cells {
                if (col as usize) < width {
                    match text {
                        Ok(t) => texts[col as usize] = t,
                        Err(e) => problem = Some(e),
                    }
                }
            }
            // Excel numbers rows from 1.
            (row as usize + 1, problem.map_or(Ok(texts), Err))
        })
        .collect();
    parse_table(headers, records.into_iter(), region)
}

/// Columns read from a sheet (ours has 37; the rest of a very wide sheet is ignored).
const MAX_COLUMNS: u32 = 200;

/// Rows with a value read from a sheet: a national directory (about 300,000 entries) with
/// room to spare.
pub const MAX_ROWS: usize = 400_000;

/// Cells with a value read from a sheet (the rows above with 40 values each).
pub const MAX_CELLS: usize = 16_000_000;

/// The most a workbook may unpack to (all its parts together). A compressed workbook of a
/// realistic directory unpacks to some hundred megabytes; a decompression bomb of a few
/// megabytes would unpack to gigabytes and is refused before anything is parsed.
pub const MAX_UNPACKED_BYTES: u64 = 512 * 1024 * 1024;

/// One part of a workbook (the shared strings, a sheet) may unpack to at most this.
pub const MAX_PART_BYTES: u64 = 384 * 1024 * 1024;

fn too_big(detail: String) -> RowError {
    RowError {
        line: 1,
        column: String::new(),
        reason: format!(
            "Excel ファイルが大きすぎます: {detail}。ファイルを分けて取り込んでください / the workbook is too large to import; split it"
        ),
    }
}

/// Checks how far a workbook unpacks before it is parsed: every part is decompressed as a
/// stream (nothing kept) and counted, so a part that claims to be small but unpacks to
/// gigabytes is caught as well as one that says so. Memory stays constant.
pub fn check_workbook_size(bytes: &[u8]) -> Result<(), String> {
    use std::io::Read;
    let refuse = |detail: String| {
        format!(
            "Excel ファイルが大きすぎます: {detail}。ファイルを分けて取り込んでください / the workbook unpacks to too much data ({detail}); split it"
        )
    };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| {
        format!("Excel ファイルを読めません（{e}）。.xlsx 形式で保存し直してください")
    })?;
    let mut total: u64 = 0;
    let mut buffer = vec![0u8; 64 * 1024];
    for index in 0..archive.len() {
        let mut part = archive.by_index(index).map_err(|e| {
            format!("Excel ファイルを読めません（{e}）。.xlsx 形式で保存し直してください")
        })?;
        let declared = part.size();
        if declared > MAX_PART_BYTES || total.saturating_add(declared) > MAX_UNPACKED_BYTES {
            return Err(refuse(format!(
                "展開後 {} MB 超 / over {} MB unpacked",
                MAX_UNPACKED_BYTES / (1024 * 1024),
                MAX_UNPACKED_BYTES / (1024 * 1024)
            )));
        }
        let mut unpacked: u64 = 0;
        loop {
            let n = match part.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    return Err(format!(
                        "Excel ファイルが壊れています（{e}）。.xlsx 形式で保存し直してください"
                    ))
                }
            };
            unpacked += n as u64;
            total += n as u64;
            if unpacked > MAX_PART_BYTES || total > MAX_UNPACKED_BYTES {
                return Err(refuse(format!(
                    "展開後 {} MB 超 / over {} MB unpacked",
                    MAX_UNPACKED_BYTES / (1024 * 1024),
                    MAX_UNPACKED_BYTES / (1024 * 1024)
                )));
            }
        }
    }
    Ok(())
}

/// A cell's text as the person typed it; an error value (#N/A, #DIV/0! …) is a problem.
fn cell_text(cell: &calamine::Data) -> Result<String, String> {
    use calamine::Data;
    Ok(match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        // Excel's date serial counts days from 1899-12-30.
        Data::DateTime(d) => chrono::NaiveDate::from_ymd_opt(1899, 12, 30)
            .and_then(|epoch| {
                epoch.checked_add_signed(chrono::Duration::days(d.as_f64().floor() as i64))
            })
            .map(|day| day.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| d.to_string()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => return Err(format!("セルにエラー値（{e}）があります")),
    })
}

/// The rows of a table whose first row named the columns.
fn parse_table(
    raw_headers: Vec<String>,
    records: impl Iterator<Item = (usize, Result<Vec<String>, String>)>,
    region: &RegionDefinition,
) -> Result<(Vec<ImportRow>, Vec<RowError>), RowError> {
    let headers: Vec<String> = raw_headers.iter().map(|h| normalize(h)).collect();
    for required in REQUIRED {
        if !headers.iter().any(|h| h == required) {
            return Err(RowError {
                line: 1,
                column: required.to_owned(),
                reason: format!("必須の列「{required}」がありません"),
            });
        }
    }
    // Headers are compared normalised (NFKC turns 「役割①」 into 「役割1」 on both sides).
    let col = |name: &str| {
        let name = normalize(name);
        headers.iter().position(|h| *h == name)
    };
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    for (line, record) in records {
        let record = match record {
            Ok(r) => r,
            Err(reason) => {
                errors.push(RowError {
                    line,
                    column: String::new(),
                    reason,
                });
                continue;
            }
        };
        // Names keep their typography (「［デモ］」); every other cell is normalised. A leading
        // 「'」 before = + - @ is the guard our CSV export adds against spreadsheet formulas.
        let get = |name: &str| {
            let raw = col(name)
                .and_then(|c| record.get(c))
                .map(String::as_str)
                .unwrap_or_default();
            let cell = match raw.strip_prefix('\'') {
                Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
                _ => raw,
            };
            if name == "名称" {
                cell.split_whitespace().collect::<Vec<_>>().join(" ")
            } else {
                normalize(cell)
            }
        };
        let id = parse_id(&get("ID")).map_err(|reason| RowError {
            line,
            column: "ID".into(),
            reason,
        });
        match (id, parse_row(line, &get, region)) {
            (Ok(id), Ok(institution)) => rows.push(ImportRow {
                line,
                id,
                institution,
            }),
            (Ok(_), Err(mut e)) => errors.append(&mut e),
            (Err(e), Ok(_)) => errors.push(e),
            (Err(e), Err(mut more)) => {
                errors.push(e);
                errors.append(&mut more);
            }
        }
    }
    Ok((rows, errors))
}

/// The 「ID」 cell: empty for a new entry, or Renkei's positive id.
fn parse_id(cell: &str) -> Result<Option<i64>, String> {
    if cell.is_empty() {
        return Ok(None);
    }
    match cell.parse::<i64>() {
        Ok(id) if id > 0 => Ok(Some(id)),
        _ => Err(format!(
            "「{cell}」は ID ではありません（Renkei の書き出した番号か、新規なら空欄にしてください）"
        )),
    }
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
    let medical_code = clean_medical_code(&get("医療機関コード")).unwrap_or_else(|e| {
        fail("医療機関コード", e.to_string());
        None
    });
    let precision_text = get("位置の精度");
    let precision = if precision_text.is_empty() {
        LocationPrecision::Given
    } else {
        LocationPrecision::parse(&precision_text).unwrap_or_else(|| {
            fail(
                "位置の精度",
                format!(
                    "「{precision_text}」は位置の精度ではありません（指定、町丁目の代表点 など）"
                ),
            );
            LocationPrecision::Given
        })
    };
    let mut roles = Vec::new();
    for role in Role::ALL {
        let column = role_status_column(role);
        let text = get(column);
        let plan = get(role_plan_column(role));
        if text.is_empty() {
            if !plan.is_empty() {
                fail(column, "計画を書くときは対応状況も入力してください".into());
            }
            continue;
        }
        match RoleStatus::ALL
            .into_iter()
            .find(|s| s.label_ja() == text || s.code() == text)
        {
            Some(status) => roles.push(RoleEntry {
                role,
                status,
                plan: (!plan.is_empty()).then_some(plan),
            }),
            None => fail(
                column,
                format!("「{text}」は対応状況ではありません（現状対応可、対応予定、未対応）"),
            ),
        }
    }
    let power_text = get("非常用電源");
    let power_kind = PowerKind::parse(&power_text).unwrap_or_else(|| {
        fail(
            "非常用電源",
            format!("「{power_text}」は選べる項目ではありません（なし、発電機、蓄電池・UPS、発電機と蓄電池）"),
        );
        PowerKind::Unknown
    });
    let bcp_text = get("BCP");
    let bcp = BcpStatus::parse(&bcp_text).unwrap_or_else(|| {
        fail(
            "BCP",
            format!("「{bcp_text}」は選べる項目ではありません（未策定、策定中、策定済）"),
        );
        BcpStatus::Unknown
    });
    let text = |column: &str| Some(get(column)).filter(|v| !v.is_empty());
    if !errors.is_empty() {
        return Err(errors);
    }
    let (Some(kind), Some(area)) = (kind, area) else {
        return Err(errors);
    };
    let is_active = flag("積極的医療機関");
    let mut institution = NewInstitution {
        kind,
        name_kana: crate::text::to_katakana(&get("よみがな")),
        name,
        area: area.code.clone(),
        municipality: area.municipality.clone(),
        town: None,
        postcode: (!postcode.is_empty()).then_some(postcode),
        address,
        location: location.map(|p| PlacedPoint {
            lat: p.lat,
            lng: p.lng,
            precision,
        }),
        phone: text("電話"),
        has_beds: kind == InstitutionKind::Hospital,
        is_demo: flag("デモ"),
        is_active,
        roles,
        details: Details {
            medical_code,
            fax: text("FAX"),
            website: text("ウェブサイト"),
            hours: text("診療・営業時間"),
            contact_person: text("担当者・窓口"),
            power: EmergencyPower {
                kind: power_kind,
                capacity: text("非常用電源の容量"),
                lendable: flag("電源の貸出"),
            },
            bcp,
        },
        capabilities,
        contact_email: None,
        confirmed_days_ago: Some(0),
    };
    // The same rules as an edit in the browser, and the same tidied values.
    let checked = institution
        .public_fields()
        .cleaned()
        .and_then(|f| institution.validate().map(|()| f));
    match checked {
        Ok(clean) => {
            institution.name_kana = clean.name_kana;
            institution.phone = clean.phone;
            institution.details = clean.details;
            institution.roles = clean.roles;
            institution.location = clean.location;
            institution.postcode = clean.postcode;
            institution.capabilities = clean
                .capabilities
                .iter()
                .filter_map(|c| Capability::from_code(c))
                .collect();
            Ok(institution)
        }
        Err(e) => {
            errors.push(RowError {
                line,
                column: column_of(&e).to_owned(),
                reason: e.to_string(),
            });
            Err(errors)
        }
    }
}

/// The column an entry-level problem belongs to.
fn column_of(error: &InstitutionError) -> &'static str {
    match error {
        InstitutionError::Missing(field) => field,
        InstitutionError::Coordinates { .. } => "緯度",
        InstitutionError::NotActivatable(_) => "積極的医療機関",
        InstitutionError::RolesWithoutDesignation => "積極的医療機関",
        InstitutionError::Postcode => "郵便番号",
        InstitutionError::Phone => "電話",
        InstitutionError::MedicalCode => "医療機関コード",
        InstitutionError::Fax => "FAX",
        InstitutionError::Website => "ウェブサイト",
        InstitutionError::TooLong(field, _) => match *field {
            "診療・営業時間" => "診療・営業時間",
            "担当者・窓口" => "担当者・窓口",
            "非常用電源の容量" => "非常用電源の容量",
            _ => "役割① 計画",
        },
        InstitutionError::AdmissionWithoutBeds => "役割⑥ 急変時の入院受入れ",
    }
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

    fn sample_entry() -> crate::table::TableEntry {
        use crate::institution::{PublicFields, RoleEntry};
        let fields = PublicFields {
            name: "［デモ］みどり在宅クリニック".into(),
            name_kana: "ミドリザイタククリニック".into(),
            postcode: Some("5810003".into()),
            address: "大阪府八尾市本町1-1".into(),
            phone: Some("000-111-2222".into()),
            capabilities: vec!["house_call".into(), "end_of_life".into()],
            details: Details {
                medical_code: Some("2712345678".into()),
                fax: Some("000-111-2223".into()),
                website: Some("https://demo.renkei.example/midori".into()),
                hours: Some("月〜金 9:00〜18:00, \"土\" 午前".into()),
                contact_person: Some("地域連携室 山田".into()),
                power: EmergencyPower {
                    kind: PowerKind::Generator,
                    capacity: Some("5kVA・72時間".into()),
                    lendable: true,
                },
                bcp: BcpStatus::Drafting,
            },
            location: Some(PlacedPoint {
                lat: 34.626_789,
                lng: 135.601_234,
                precision: LocationPrecision::Town,
            }),
            roles: vec![
                RoleEntry {
                    role: Role::AcuteSupport,
                    status: RoleStatus::Available,
                    plan: None,
                },
                RoleEntry {
                    role: Role::Training,
                    status: RoleStatus::Planned,
                    plan: Some("令和9年度から研修を受け入れる\n（複数行）".into()),
                },
            ],
        };
        crate::table::TableEntry {
            id: Some(7),
            kind: InstitutionKind::Clinic,
            area_code: "yao".into(),
            fields: fields.clone().cleaned().unwrap(),
            is_active: true,
            is_demo: true,
            confirmed_on: Some("2026-11-01".into()),
            updated_at: "2026-11-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn the_exports_formula_guard_is_taken_off_and_coordinates_are_rounded() {
        let text = "名称,種別,地域,所在地,緯度,経度\n'=1+1医院,診療所,八尾市,八尾市本町1-1,34.62690049,135.60090051\n'クリニック,診療所,八尾市,八尾市本町1-2,,\n";
        let (rows, errors) = parse_directory_csv(text, &RegionDefinition::nakakawachi()).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows[0].institution.name, "=1+1医院");
        assert_eq!(
            rows[1].institution.name, "'クリニック",
            "only before = + - @"
        );
        let p = rows[0].institution.location.unwrap();
        assert_eq!((p.lat, p.lng), (34.6269, 135.600901), "rounded as stored");
    }

    #[test]
    fn every_column_of_a_written_row_reads_back() {
        use crate::table::{row, COLUMNS};
        let entry = sample_entry();
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(COLUMNS).unwrap();
        writer.write_record(row(&entry)).unwrap();
        let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        let (rows, errors) = parse_directory_csv(&text, &RegionDefinition::nakakawachi()).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        let read = &rows[0].institution;
        assert_eq!(read.public_fields(), entry.fields);
        assert!(read.is_active && read.is_demo);
        assert_eq!(read.kind, InstitutionKind::Clinic);
    }

    /// Writes a workbook as Excel users leave it: numbers as numbers (also the postcode and
    /// the 医療機関コード, which Excel turns into numbers), a blank row, the rest as text.
    fn workbook(rows: &[Vec<String>]) -> Vec<u8> {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (r, cells) in rows.iter().enumerate() {
            let r = if r == 0 { 0 } else { r as u32 + 1 }; // row 2 stays blank
            for (c, cell) in cells.iter().enumerate() {
                match cell.parse::<f64>() {
                    Ok(n) if r > 0 => sheet.write_number(r, c as u16, n).unwrap(),
                    _ => sheet.write_string(r, c as u16, cell).unwrap(),
                };
            }
        }
        book.save_to_buffer().unwrap()
    }

    #[test]
    fn an_excel_workbook_reads_like_the_csv() {
        use crate::table::{row, COLUMNS};
        let entry = sample_entry();
        let header: Vec<String> = COLUMNS.iter().map(|c| (*c).to_owned()).collect();
        let bytes = workbook(&[header, row(&entry)]);
        let parsed = read_directory_file(&bytes, &RegionDefinition::nakakawachi()).unwrap();
        assert_eq!(parsed.format, FileFormat::Xlsx);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        assert_eq!(parsed.rows.len(), 1);
        assert_eq!(parsed.rows[0].line, 3, "the row's number as Excel shows it");
        assert_eq!(parsed.rows[0].institution.public_fields(), entry.fields);

        // A cell with an error value makes its row bad.
        let error = cell_text(&calamine::Data::Error(calamine::CellErrorType::NA));
        assert!(error.unwrap_err().contains("エラー値"));
        assert_eq!(
            cell_text(&calamine::Data::Float(5810003.0)).unwrap(),
            "5810003"
        );
        assert_eq!(
            cell_text(&calamine::Data::Float(34.6269)).unwrap(),
            "34.6269"
        );

        // A stray value in the sheet's last cell: read as it is, no grid of 17 billion cells.
        let mut far = rust_xlsxwriter::Workbook::new();
        let sheet = far.add_worksheet();
        for (c, h) in COLUMNS.iter().enumerate() {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        for (c, cell) in row(&entry).iter().enumerate() {
            sheet.write_string(1, c as u16, cell).unwrap();
        }
        sheet.write_string(1_048_575, 16_383, "x").unwrap();
        let far = far.save_to_buffer().unwrap();
        let parsed = read_directory_file(&far, &RegionDefinition::nakakawachi()).unwrap();
        assert_eq!(parsed.rows.len(), 1, "{:?}", parsed.errors);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);

        // Not a workbook after all: a clear error, no panic.
        let mut broken = bytes.clone();
        broken.truncate(200);
        let e = read_directory_file(&broken, &RegionDefinition::nakakawachi()).unwrap_err();
        assert!(e.reason.contains("Excel ファイルを読めません"), "{e:?}");
    }
}
