//! Export formats of the directory, shared by the download links and `renkei export`.

use renkei_domain::institution::InstitutionKind;
use renkei_domain::table::{self, TableEntry, COLUMNS};
use renkei_store::directory::DirectoryHit;

/// The CSV header line (UTF-8 with a BOM so Excel reads the Japanese correctly).
pub fn csv_header() -> String {
    format!("\u{feff}{}\r\n", COLUMNS.join(","))
}

/// One CSV line per entry, after the header.
pub fn directory_csv_rows(entries: &[TableEntry]) -> String {
    let mut out = String::new();
    for entry in entries {
        out.push_str(
            &table::row(entry)
                .iter()
                .map(|f| crate::pages::csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    out
}

/// The whole CSV document.
pub fn directory_csv(entries: &[TableEntry]) -> String {
    format!("{}{}", csv_header(), directory_csv_rows(entries))
}

/// A GeoJSON Feature per institution with a location (RFC 7946: longitude first).
pub fn directory_features(hits: &[DirectoryHit]) -> Vec<serde_json::Value> {
    hits.iter()
        .filter_map(|h| {
            let (lat, lng) = (h.lat?, h.lng?);
            Some(serde_json::json!({
                "type": "Feature",
                "id": h.id.0,
                "geometry": { "type": "Point", "coordinates": [lng, lat] },
                "properties": {
                    "name": h.name,
                    "kind": h.kind,
                    "kind_label": InstitutionKind::from_code(&h.kind).map(|k| k.label_ja()),
                    "kind_label_en": InstitutionKind::from_code(&h.kind).map(|k| k.label_en()),
                    "marker-color": InstitutionKind::from_code(&h.kind).map(crate::map::kind_colour),
                    "distance_km": h.distance_km,
                    "area": h.area_code,
                    "address": h.address,
                    "phone": h.phone,
                    "capabilities": h.capabilities,
                    "active": h.is_active,
                    "demo": h.is_demo,
                    "url": format!("/institutions/{}", h.id.0),
                }
            }))
        })
        .collect()
}

/// The whole GeoJSON FeatureCollection.
pub fn directory_geojson(hits: &[DirectoryHit]) -> String {
    serde_json::json!({ "type": "FeatureCollection", "features": directory_features(hits) })
        .to_string()
}

/// The directory as an Excel workbook: one sheet, bold frozen header, filters, sensible widths.
pub fn directory_xlsx(entries: &[TableEntry]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("医療・介護資源")?;
    let bold = Format::new().set_bold();
    for (c, title) in COLUMNS.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *title, &bold)?;
    }
    for (c, width) in table::WIDTHS.iter().enumerate() {
        sheet.set_column_width(c as u16, *width)?;
    }
    for (i, entry) in entries.iter().enumerate() {
        let r = i as u32 + 1;
        for (c, cell) in table::row(entry).iter().enumerate() {
            let number = table::is_numeric(c)
                .then(|| cell.parse::<f64>().ok())
                .flatten();
            match number {
                Some(n) => sheet.write_number(r, c as u16, n)?,
                None if cell.is_empty() => sheet,
                None => sheet.write_string(r, c as u16, cell)?,
            };
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(0, 0, entries.len() as u32, COLUMNS.len() as u16 - 1)?;
    workbook.save_to_buffer()
}

/// Any table as CSV for Excel: a BOM, a header line, CRLF lines, fields quoted as needed.
pub fn table_csv(headers: &[&str], rows: &[Vec<String>]) -> String {
    let line = |fields: &mut dyn Iterator<Item = &str>| {
        fields
            .map(crate::pages::csv_field)
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut out = format!("\u{feff}{}\r\n", line(&mut headers.iter().copied()));
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
        out.push_str("\r\n");
    }
    out
}

/// Any table as one Excel sheet: bold header, frozen, filtered, whole numbers as numbers.
pub fn table_xlsx(
    sheet_name: &str,
    headers: &[&str],
    rows: &[Vec<String>],
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(sheet_name)?;
    let bold = Format::new().set_bold();
    for (c, title) in headers.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *title, &bold)?;
        sheet.set_column_width(c as u16, 14)?;
    }
    for (i, row) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            match cell.parse::<u32>() {
                Ok(n) if !cell.starts_with('0') || cell == "0" => {
                    sheet.write_number(r, c as u16, f64::from(n))?
                }
                _ if cell.is_empty() => sheet,
                _ => sheet.write_string(r, c as u16, cell)?,
            };
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(0, 0, rows.len() as u32, headers.len().max(1) as u16 - 1)?;
    workbook.save_to_buffer()
}
