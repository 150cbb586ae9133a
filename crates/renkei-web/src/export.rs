//! Export formats of the directory, shared by the download links and `renkei export`.

use renkei_domain::capability::Capability;
use renkei_domain::institution::InstitutionKind;
use renkei_store::directory::DirectoryHit;

/// The CSV header line (UTF-8 with a BOM so Excel reads the Japanese correctly).
pub const CSV_HEADER: &str = "\u{feff}ID,名称,よみがな,種別,地域,郵便番号,所在地,電話,緯度,経度,できること,積極的医療機関,デモ\r\n";

/// One CSV line per institution, after the header.
pub fn directory_csv_rows(hits: &[DirectoryHit]) -> String {
    let mut out = String::new();
    for h in hits {
        let caps: Vec<&str> = h
            .capabilities
            .iter()
            .filter_map(|c| Capability::from_code(c))
            .map(|c| c.label_ja())
            .collect();
        let fields = [
            h.id.0.to_string(),
            h.name.clone(),
            h.name_kana.clone(),
            InstitutionKind::from_code(&h.kind)
                .map(|k| k.label_ja())
                .unwrap_or("")
                .to_owned(),
            h.area_code.clone(),
            h.postcode.clone().unwrap_or_default(),
            h.address.clone(),
            h.phone.clone().unwrap_or_default(),
            h.lat.map(|v| format!("{v:.6}")).unwrap_or_default(),
            h.lng.map(|v| format!("{v:.6}")).unwrap_or_default(),
            caps.join("、"),
            if h.is_active { "1" } else { "0" }.to_owned(),
            if h.is_demo { "1" } else { "0" }.to_owned(),
        ];
        out.push_str(
            &fields
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
pub fn directory_csv(hits: &[DirectoryHit]) -> String {
    format!("{CSV_HEADER}{}", directory_csv_rows(hits))
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

/// The column titles of the spreadsheet and CSV.
const COLUMNS: [&str; 13] = [
    "ID",
    "名称",
    "よみがな",
    "種別",
    "地域",
    "郵便番号",
    "所在地",
    "電話",
    "緯度",
    "経度",
    "できること",
    "積極的医療機関",
    "デモ",
];

/// The directory as an Excel workbook: one sheet, bold frozen header, filters, sensible widths.
pub fn directory_xlsx(hits: &[DirectoryHit]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("医療・介護資源")?;
    let bold = Format::new().set_bold();
    for (c, title) in COLUMNS.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *title, &bold)?;
    }
    for (c, width) in [
        8.0, 36.0, 30.0, 18.0, 20.0, 10.0, 40.0, 14.0, 11.0, 11.0, 40.0, 8.0, 6.0,
    ]
    .iter()
    .enumerate()
    {
        sheet.set_column_width(c as u16, *width)?;
    }
    for (i, h) in hits.iter().enumerate() {
        let r = i as u32 + 1;
        let caps: Vec<&str> = h
            .capabilities
            .iter()
            .filter_map(|c| Capability::from_code(c))
            .map(|c| c.label_ja())
            .collect();
        sheet.write_number(r, 0, h.id.0 as f64)?;
        sheet.write_string(r, 1, &h.name)?;
        sheet.write_string(r, 2, &h.name_kana)?;
        sheet.write_string(
            r,
            3,
            InstitutionKind::from_code(&h.kind)
                .map(|k| k.label_ja())
                .unwrap_or(""),
        )?;
        sheet.write_string(r, 4, &h.area_code)?;
        sheet.write_string(r, 5, h.postcode.as_deref().unwrap_or(""))?;
        sheet.write_string(r, 6, &h.address)?;
        sheet.write_string(r, 7, h.phone.as_deref().unwrap_or(""))?;
        if let (Some(lat), Some(lng)) = (h.lat, h.lng) {
            sheet.write_number(r, 8, lat)?;
            sheet.write_number(r, 9, lng)?;
        }
        sheet.write_string(r, 10, caps.join("、"))?;
        sheet.write_number(r, 11, if h.is_active { 1.0 } else { 0.0 })?;
        sheet.write_number(r, 12, if h.is_demo { 1.0 } else { 0.0 })?;
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(0, 0, hits.len() as u32, COLUMNS.len() as u16 - 1)?;
    workbook.save_to_buffer()
}
