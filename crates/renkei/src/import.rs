//! `renkei import FILE`: a directory file — Excel (.xlsx), or CSV in UTF-8 or Shift_JIS as Excel
//! writes it — checked row by row, then written in one transaction — or, with `--dry-run`, only
//! reported. Entries are matched by 医療機関コード, then by normalised name and address, so
//! importing the same file twice changes nothing; repeated rows are reported and left out.

use crate::config::Config;
use crate::database::{open_database, OpenedDatabase};
use crate::failure::Failure;
use indicatif::{ProgressBar, ProgressStyle};
use renkei_domain::import::read_directory_file;
use renkei_domain::region::RegionDefinition;
use renkei_store::import::DuplicateOf;
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
    let (rows, errors) = (parsed.rows, parsed.errors);
    eprintln!(
        "{}: {}、{} 行を読みました（問題のある行 {} 件） / read {} rows ({} with problems)",
        file.display(),
        parsed.format.label(),
        rows.len() + errors.len(),
        errors.len(),
        rows.len() + errors.len(),
        errors.len()
    );
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
    let plan = store.plan_import(rows).await.map_err(fail)?;
    for d in &plan.duplicates {
        match &d.by {
            DuplicateOf::MedicalCode(code) => eprintln!(
                "  {}行目: {}行目と同じ医療機関コード（{code}）のため取り込みません / same 医療機関コード as line {}, skipped",
                d.line, d.first_line, d.first_line
            ),
            DuplicateOf::NameAndAddress => eprintln!(
                "  {}行目: {}行目と同じ名称・所在地のため取り込みません / same name and address as line {}, skipped",
                d.line, d.first_line, d.first_line
            ),
        }
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
