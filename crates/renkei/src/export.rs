//! `renkei export`: the whole directory as CSV or GeoJSON, page by page, with a progress bar.

use crate::config::Config;
use crate::database::{open_database, OpenedDatabase};
use crate::failure::Failure;
use indicatif::{ProgressBar, ProgressStyle};
use renkei_store::directory::DirectoryQuery;
use renkei_web::export;
use std::io::Write;
use std::path::Path;

/// Institutions read per database round trip.
const PAGE: i64 = 500;

/// Runs the export.
pub async fn run(config: Config, format: &str, out: Option<&Path>) -> Result<(), Failure> {
    let OpenedDatabase { store, target } = open_database(&config).await?;
    let fail = |e| Failure::database(&target, &e);
    let (total, _) = store
        .search_directory(&DirectoryQuery {
            limit: 1,
            ..Default::default()
        })
        .await
        .map_err(fail)?;
    let bar = match out {
        Some(_) => ProgressBar::new(u64::try_from(total).unwrap_or(0)),
        None => ProgressBar::hidden(),
    };
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message("書き出し中 / exporting");
    let mut csv = export::csv_header();
    let mut features = Vec::new();
    let mut all_entries = Vec::new();
    let mut offset = 0;
    while offset < total {
        let query = DirectoryQuery {
            limit: PAGE,
            offset,
            ..Default::default()
        };
        let (_, hits) = store.search_directory(&query).await.map_err(fail)?;
        if hits.is_empty() {
            break;
        }
        offset += hits.len() as i64;
        if format == "geojson" {
            features.extend(export::directory_features(&hits));
        } else {
            let ids: Vec<i64> = hits.iter().map(|h| h.id.0).collect();
            let entries = store.table_entries(&ids).await.map_err(fail)?;
            match format {
                "xlsx" => all_entries.extend(entries),
                _ => csv.push_str(&export::directory_csv_rows(&entries)),
            }
        }
        bar.set_position(u64::try_from(offset).unwrap_or(0));
    }
    bar.finish_and_clear();
    store.close().await;
    let bytes: Vec<u8> = match format {
        "geojson" => serde_json::json!({ "type": "FeatureCollection", "features": features })
            .to_string()
            .into_bytes(),
        "xlsx" => export::directory_xlsx(&all_entries).map_err(|e| {
            Failure::new(
                1,
                format!("Excel ファイルを作れません（{e}）"),
                format!("cannot build the workbook ({e})"),
            )
        })?,
        _ => csv.into_bytes(),
    };
    write_output(out, &bytes)?;
    if let Some(path) = out {
        eprintln!(
            "{total} 件を {} に書き出しました / exported {total} institutions to {}",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

/// Writes a command's output to `out`, atomically, or to stdout when no file is named; a
/// failure names the file.
pub(crate) fn write_output(out: Option<&Path>, bytes: &[u8]) -> Result<(), Failure> {
    let written = match out {
        Some(path) => write_atomically(path, bytes),
        None => std::io::stdout().write_all(bytes),
    };
    written.map_err(|e| {
        let name = out
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "stdout".into());
        Failure::new(
            1,
            format!("{name} に書き込めません（{e}）"),
            format!("cannot write {name} ({e})"),
        )
    })
}

/// Writes to a temporary file beside the target and renames it, so a failed export never leaves
/// a half-written file where the old one was.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
