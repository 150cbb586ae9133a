//! `renkei safety-check create | status | export`: safety checks from the command line — the
//! same checks the hub's pages make, for coordinators and operators who script drills.

use crate::config::Config;
use crate::database::{open_database, OpenedDatabase};
use crate::failure::Failure;
use renkei_domain::institution::InstitutionKind;
use renkei_domain::region::RegionDefinition;
use renkei_domain::safety::{CheckKind, Condition, NewCheck, Targeting};
use renkei_web::pages::safety::{jst_time, notice_mail, response_link};
use renkei_web::pages::safety_exports::{export_rows, EXPORT_COLUMNS};
use std::collections::BTreeMap;
use std::path::Path;

/// What to create.
pub struct CreateArgs {
    /// Title.
    pub title: String,
    /// Deadline in JST, `2026-12-01T18:00` or `2026-12-01 18:00`.
    pub deadline: String,
    /// A real alert instead of a drill.
    pub actual: bool,
    /// Area codes.
    pub areas: Vec<String>,
    /// Kind codes (none: every kind).
    pub kinds: Vec<String>,
    /// Only active institutions.
    pub active_only: bool,
    /// The message.
    pub message: String,
    /// Reminders to non-responders, in minutes before the deadline.
    pub reminders_before: Vec<u32>,
}

fn input(ja: String, en: String) -> Failure {
    Failure::new(2, ja, en)
}

fn area_names() -> BTreeMap<String, String> {
    RegionDefinition::nakakawachi()
        .areas
        .into_iter()
        .map(|a| (a.code.as_str().to_owned(), a.name))
        .collect()
}

/// `renkei safety-check create`: the check, its targets' links, and a notice mail for each
/// target with an address, queued in the outbox (the server delivers and retries them).
pub async fn create(config: Config, args: CreateArgs) -> Result<(), Failure> {
    let names = area_names();
    if args.areas.is_empty() {
        return Err(input(
            "--area で対象の地域を1つ以上指定してください".into(),
            "name at least one --area".into(),
        ));
    }
    if let Some(bad) = args.areas.iter().find(|a| !names.contains_key(*a)) {
        return Err(input(
            format!(
                "地域コード「{bad}」はありません（{}）",
                names.keys().cloned().collect::<Vec<_>>().join("、")
            ),
            format!("no area {bad:?}"),
        ));
    }
    if let Some(bad) = args
        .kinds
        .iter()
        .find(|k| InstitutionKind::from_code(k).is_none())
    {
        return Err(input(
            format!(
                "種別コード「{bad}」はありません（{}）",
                InstitutionKind::ALL
                    .iter()
                    .map(|k| k.code())
                    .collect::<Vec<_>>()
                    .join("、")
            ),
            format!("no institution kind {bad:?}"),
        ));
    }
    let deadline = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(args.deadline.trim(), f).ok())
        .map(renkei_domain::japan::instant)
        .ok_or_else(|| {
            input(
                format!(
                    "回答期限「{}」を読めません。日本時間で 2026-12-01T18:00 の形で指定してください",
                    args.deadline
                ),
                format!("cannot read the deadline {:?}; use 2026-12-01T18:00 (JST)", args.deadline),
            )
        })?;
    let check = NewCheck {
        title: args.title.clone(),
        kind: if args.actual {
            CheckKind::Actual
        } else {
            CheckKind::Drill
        },
        message: args.message.clone(),
        deadline,
        targeting: Targeting {
            areas: args.areas.clone(),
            kinds: args.kinds.clone(),
            active_only: args.active_only,
            institutions: Vec::new(),
        },
        reminders_before: args.reminders_before.clone(),
    };
    check
        .check(chrono::Utc::now())
        .map_err(|e| input(e.clone(), e))?;
    let OpenedDatabase { store, target } = open_database(&config).await?;
    let fail = |e| Failure::database(&target, &e);
    let reachable = store
        .safety_reachable(&check.targeting, &args.areas)
        .await
        .map_err(fail)?;
    if reachable.is_empty() {
        store.close().await;
        return Err(input(
            "条件に当てはまる医療機関等がありません".into(),
            "no institution matches".into(),
        ));
    }
    let ids: Vec<i64> = reachable.iter().map(|r| r.id).collect();
    let id = store
        .create_safety_check(&check, &ids, None, &mut || {
            renkei_web::auth::secrets::random_hex(16)
        })
        .await
        .map_err(fail)?;
    let record = store
        .safety_check(id)
        .await
        .map_err(fail)?
        .expect("just created");
    let targets = store.safety_targets(id).await.map_err(fail)?;
    let mut queued = 0;
    for t in &targets {
        let Some(to) = t
            .institution
            .email
            .as_deref()
            .filter(|e| !e.trim().is_empty())
        else {
            continue;
        };
        let link = response_link(&store, &config.public_url, t).map_err(fail)?;
        let (subject, body) = notice_mail(&record, &t.institution.name, &link, false);
        let mail = store
            .enqueue_mail(to, &subject, &body)
            .await
            .map_err(fail)?;
        store.set_safety_mail(t.id, mail).await.map_err(fail)?;
        queued += 1;
    }
    store.close().await;
    println!(
        "安否確認 #{id}「{}」を作成しました：対象 {} 件、通知メール {queued} 件を送信待ちにしました（メールのない {} 件には `renkei safety-check export {id} --links` のリンクを FAX・電話で）",
        record.title,
        targets.len(),
        targets.len() - queued
    );
    println!(
        "created safety check #{id}: {} targets, {queued} notices queued",
        targets.len()
    );
    Ok(())
}

/// `renkei safety-check status [ID]`: every check, or one check's answers by area and state.
pub async fn status(config: Config, id: Option<i64>) -> Result<(), Failure> {
    let OpenedDatabase { store, target } = open_database(&config).await?;
    let fail = |e| Failure::database(&target, &e);
    let now = renkei_store::time_text(chrono::Utc::now());
    let result = match id {
        None => {
            let checks = store.safety_checks().await.map_err(fail)?;
            if checks.is_empty() {
                println!("安否確認はまだありません / no safety checks yet");
            }
            for c in checks {
                println!(
                    "#{} [{}] {} 回答 {}/{} 期限 {} {}",
                    c.id,
                    c.kind.label_ja(),
                    c.title,
                    c.answered,
                    c.targets,
                    jst_time(&c.deadline),
                    if c.is_open(&now) {
                        "受付中"
                    } else {
                        "締切"
                    }
                );
            }
            Ok(())
        }
        Some(id) => match store.safety_check(id).await.map_err(fail)? {
            None => Err(input(
                format!("安否確認 #{id} はありません（`renkei safety-check status` で一覧）"),
                format!("no safety check #{id}"),
            )),
            Some(c) => {
                let targets = store.safety_targets(id).await.map_err(fail)?;
                let percent = |a: usize, t: usize| (a * 100).checked_div(t).unwrap_or(0);
                println!(
                    "#{} [{}] {}（期限 {}、{}）",
                    c.id,
                    c.kind.label_ja(),
                    c.title,
                    jst_time(&c.deadline),
                    if c.is_open(&now) {
                        "受付中"
                    } else {
                        "締切"
                    }
                );
                let answered = targets.iter().filter(|t| t.answered_at.is_some()).count();
                println!(
                    "回答 {answered}/{} 件（{}%） / answered {answered} of {}",
                    targets.len(),
                    percent(answered, targets.len()),
                    targets.len()
                );
                for condition in Condition::ALL {
                    let n = targets.iter().filter(|t| t.condition == *condition).count();
                    println!("  {} {n}", condition.label_ja());
                }
                let names = area_names();
                let mut by_area: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
                for t in &targets {
                    let e = by_area.entry(&t.institution.area).or_default();
                    e.1 += 1;
                    e.0 += usize::from(t.answered_at.is_some());
                }
                for (area, (a, n)) in by_area {
                    println!(
                        "  {} {a}/{n}（{}%）",
                        names.get(area).map(String::as_str).unwrap_or(area),
                        percent(a, n)
                    );
                }
                Ok(())
            }
        },
    };
    store.close().await;
    result
}

/// `renkei safety-check export ID`: the answers (or, with `links`, every target's link for fax
/// and phone) as CSV or Excel.
pub async fn export(
    config: Config,
    id: i64,
    links: bool,
    format: &str,
    out: Option<&Path>,
) -> Result<(), Failure> {
    if format == "xlsx" && out.is_none() {
        return Err(input(
            "Excel 形式は --out でファイル名を指定してください".into(),
            "the xlsx format needs --out FILE".into(),
        ));
    }
    let OpenedDatabase { store, target } = open_database(&config).await?;
    let fail = |e| Failure::database(&target, &e);
    if store.safety_check(id).await.map_err(fail)?.is_none() {
        store.close().await;
        return Err(input(
            format!("安否確認 #{id} はありません（`renkei safety-check status` で一覧）"),
            format!("no safety check #{id}"),
        ));
    }
    let targets = store.safety_targets(id).await.map_err(fail)?;
    let (headers, rows): (Vec<&str>, Vec<Vec<String>>) = if links {
        let mut rows = Vec::new();
        for t in &targets {
            rows.push(vec![
                t.institution.name.clone(),
                t.institution.phone.clone().unwrap_or_default(),
                t.institution.fax.clone().unwrap_or_default(),
                response_link(&store, &config.public_url, t).map_err(fail)?,
            ]);
        }
        (vec!["名称", "電話", "FAX", "回答用リンク"], rows)
    } else {
        (
            EXPORT_COLUMNS.to_vec(),
            export_rows(&targets, &area_names()),
        )
    };
    store.close().await;
    let bytes = if format == "xlsx" {
        renkei_web::export::table_xlsx("安否確認", &headers, &rows).map_err(|e| {
            Failure::new(
                1,
                format!("Excel ファイルを作れません（{e}）"),
                format!("cannot build the workbook ({e})"),
            )
        })?
    } else {
        renkei_web::export::table_csv(&headers, &rows).into_bytes()
    };
    crate::export::write_output(out, &bytes)?;
    if let Some(path) = out {
        eprintln!(
            "{} 件を {} に書き出しました / wrote {} rows to {}",
            rows.len(),
            path.display(),
            rows.len(),
            path.display()
        );
    }
    Ok(())
}
