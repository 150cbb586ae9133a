//! `renkei import FILE`: a directory CSV (UTF-8 or Shift_JIS as Excel writes it) checked row by
//! row, then written in one transaction — or, with `--dry-run`, only reported. Entries are
//! matched by normalised name and address, so importing the same file twice changes nothing.

use crate::config::Config;
use crate::database::{open_database, OpenedDatabase};
use crate::failure::Failure;
use indicatif::{ProgressBar, ProgressStyle};
use renkei_domain::import::{decode, identity_key, parse_directory_csv, SourceEncoding};
use renkei_domain::institution::PublicFields;
use renkei_domain::region::RegionDefinition;
use std::collections::HashMap;
use std::path::Path;

/// Largest file accepted.
const MAX_BYTES: u64 = 100 * 1024 * 1024;

/// Runs the import.
pub async fn run(
    config: Config,
    file: &Path,
    dry_run: bool,
    skip_bad_rows: bool,
) -> Result<(), Failure> {
    let input = |ja: String, en: String| Failure::new(2, ja, en);
    let size = std::fs::metadata(file)
        .map_err(|e| {
            input(
                format!("{} を読めません（{e}）", file.display()),
                format!("cannot read {} ({e})", file.display()),
            )
        })?
        .len();
    if size > MAX_BYTES {
        return Err(input(
            format!(
                "{} は {} MB を超えています。ファイルを分けて取り込んでください",
                file.display(),
                MAX_BYTES / 1024 / 1024
            ),
            format!(
                "{} is larger than {} MB; split it",
                file.display(),
                MAX_BYTES / 1024 / 1024
            ),
        ));
    }
    let bytes = std::fs::read(file).map_err(|e| {
        input(
            format!("{} を読めません（{e}）", file.display()),
            format!("cannot read {} ({e})", file.display()),
        )
    })?;
    let (text, encoding) = decode(&bytes).ok_or_else(|| {
        input(
            "文字コードを判別できません。UTF-8 か Shift_JIS（Excel の CSV）で保存してください"
                .into(),
            "unknown encoding; save as UTF-8 or Shift_JIS (Excel CSV)".into(),
        )
    })?;
    let region = RegionDefinition::nakakawachi();
    let (rows, errors) = parse_directory_csv(&text, &region).map_err(|e| {
        input(
            format!("{}行目「{}」: {}", e.line, e.column, e.reason),
            format!("line {}: {}", e.line, e.reason),
        )
    })?;
    let encoding_name = match encoding {
        SourceEncoding::Utf8 => "UTF-8",
        SourceEncoding::ShiftJis => "Shift_JIS",
    };
    eprintln!("{}: {encoding_name}、{} 行を読みました（問題のある行 {} 件） / read {} rows ({} with problems)", file.display(), rows.len() + errors.len(), errors.len(), rows.len() + errors.len(), errors.len());
    for e in &errors {
        eprintln!("  {}行目「{}」: {}", e.line, e.column, e.reason);
    }
    if !errors.is_empty() && !skip_bad_rows {
        return Err(input(
            format!("問題のある行が {} 件あるため、何も書き込んでいません。直してからもう一度取り込むか、--skip-bad-rows で正しい行だけを取り込んでください", errors.len()),
            format!("{} rows have problems; nothing was written (fix them, or use --skip-bad-rows)", errors.len()),
        ));
    }

    let OpenedDatabase { store, target } = open_database(&config).await?;
    let fail = |e| Failure::database(&target, &e);
    let existing: HashMap<String, i64> = store
        .identity_keys()
        .await
        .map_err(fail)?
        .into_iter()
        .collect();
    let bar = ProgressBar::new(rows.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("照合中 / matching");
    let (mut new, mut updates, mut unchanged, mut duplicates) =
        (Vec::new(), Vec::new(), 0usize, Vec::new());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for row in rows {
        bar.inc(1);
        let key = identity_key(&row.institution.name, &row.institution.address);
        if let Some(first) = seen.insert(key.clone(), row.line) {
            duplicates.push((row.line, first));
            continue;
        }
        let fields = PublicFields {
            name: row.institution.name.clone(),
            name_kana: row.institution.name_kana.clone(),
            postcode: row.institution.postcode.clone(),
            address: row.institution.address.clone(),
            phone: row.institution.phone.clone(),
            capabilities: row
                .institution
                .capabilities
                .iter()
                .map(|c| c.code().to_owned())
                .collect(),
        };
        match existing.get(&key) {
            Some(&id) => {
                let current = store.public_fields(id).await.map_err(fail)?;
                if current.as_ref() == Some(&fields) {
                    unchanged += 1;
                } else {
                    updates.push((id, fields));
                }
            }
            None => new.push(row.institution),
        }
    }
    bar.finish_and_clear();
    for (line, first) in &duplicates {
        eprintln!("  {line}行目: {first}行目と同じ名称・所在地のため取り込みません / duplicate of line {first}, skipped");
    }
    let summary = format!(
        "新規 {} 件、更新 {} 件、変更なし {} 件、重複 {} 件 / new {}, updated {}, unchanged {}, duplicates {}",
        new.len(), updates.len(), unchanged, duplicates.len(), new.len(), updates.len(), unchanged, duplicates.len()
    );
    if dry_run {
        println!("確認のみ（書き込みなし） / dry run, nothing written: {summary}");
        store.close().await;
        return Ok(());
    }
    store.import_directory(&new, &updates).await.map_err(fail)?;
    store.close().await;
    println!("取り込みました / imported: {summary}");
    Ok(())
}
