//! `renkei import FILE`: a directory file — Excel (.xlsx), or CSV in UTF-8 or Shift_JIS as Excel
//! writes it — checked row by row, then written in one transaction — or, with `--dry-run`, only
//! reported. Entries are matched by the exported 「ID」 column, then 医療機関コード, then normalised
//! name and address, so importing the same file twice changes nothing; repeated rows and rows that
//! would change an entry's kind, area or designation are reported and left out.

use crate::config::Config;
use crate::database::{open_database, OpenedDatabase};
use crate::failure::Failure;
use indicatif::{ProgressBar, ProgressStyle};
use renkei_domain::import::read_directory_file;
use renkei_domain::region::RegionDefinition;
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
    let region = RegionDefinition::nakakawachi();
    let parsed = read_directory_file(&bytes, &region).map_err(|e| {
        input(
            format!("{}行目「{}」: {}", e.line, e.column, e.reason),
            format!("line {}: {}", e.line, e.reason),
        )
    })?;
    let (rows, mut errors) = (parsed.rows, parsed.errors);
    let read = rows.len() + errors.len();
    let OpenedDatabase { store, target } = open_database(&config).await?;
    let fail = |e| Failure::database(&target, &e);
    let mut plan = store.plan_import(rows).await.map_err(fail)?;
    errors.append(&mut plan.errors);
    errors.sort_by_key(|e| e.line);
    let mut bad_lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    bad_lines.dedup();
    eprintln!(
        "{}: {}、{read} 行を読みました（問題のある行 {} 件） / read {read} rows ({} with problems)",
        file.display(),
        parsed.format.label(),
        bad_lines.len(),
        bad_lines.len()
    );
    for e in &errors {
        eprintln!("  {}行目「{}」: {}", e.line, e.column, e.reason);
    }
    // Doubts are shown and the rows still taken: a code may be right where the rule is not.
    for w in &parsed.warnings {
        eprintln!(
            "  {}行目「{}」（確認してください / please check）: {}",
            w.line, w.column, w.reason
        );
    }
    if !bad_lines.is_empty() && !skip_bad_rows {
        store.close().await;
        return Err(input(
            format!("問題のある行が {} 件あるため、何も書き込んでいません。直してからもう一度取り込むか、--skip-bad-rows で正しい行だけを取り込んでください", bad_lines.len()),
            format!("{} rows have problems; nothing was written (fix them, or use --skip-bad-rows)", bad_lines.len()),
        ));
    }
    for d in &plan.duplicates {
        eprintln!(
            "  {}行目: {} / line {}: {}",
            d.line,
            d.reason_ja(),
            d.line,
            d.reason_en()
        );
    }
    let summary = format!(
        "新規 {} 件、更新 {} 件、変更なし {} 件、重複 {} 件 / new {}, updated {}, unchanged {}, duplicates {}",
        plan.new.len(), plan.updates.len(), plan.unchanged, plan.duplicates.len(), plan.new.len(), plan.updates.len(), plan.unchanged, plan.duplicates.len()
    );
    if dry_run {
        println!("確認のみ（書き込みなし） / dry run, nothing written: {summary}");
        store.close().await;
        return Ok(());
    }
    let bar = ProgressBar::new(plan.writes());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("書き込み中 / writing");
    let result = store.apply_import(&plan, &|n| bar.inc(n)).await;
    bar.finish_and_clear();
    result.map_err(fail)?;
    store.close().await;
    println!("取り込みました / imported: {summary}");
    Ok(())
}
