//! `/hub/import`: the coordinator imports a directory file in the browser, in two steps. The
//! upload is checked and planned — every bad row with its row, column and reason, repeats, new
//! entries and changes — and nothing is written; the plan waits in the database (30 minutes)
//! until the coordinator applies it as shown, so any instance may take the go-ahead. Applying
//! runs in the background, in one transaction, while a progress page (refreshing itself, no
//! JavaScript needed, served by any instance) shows how far it got; a failure writes nothing and
//! keeps the plan for another try. A coordinator imports only their own areas' rows.

use crate::auth::access::client_of;
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::pages::freshness::areas_of;
use crate::pages::home::render;
use crate::pages::message::message;
use crate::AppState;
use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use renkei_domain::audit::Outcome;
use renkei_domain::import::{read_directory_file, RowError};
use renkei_domain::region::RegionDefinition;
use renkei_store::audit::AuditEvent;
use renkei_store::import::ImportPlan;
use renkei_store::pending_imports::{Claim, ImportState, PendingImport};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Largest file accepted (the request may be a little larger for the form around it).
pub const MAX_FILE_BYTES: usize = 100 * 1024 * 1024;
/// Most rows of each list shown on the report.
const SHOWN: usize = 300;
/// How often the applying instance records its progress (and that it is alive).
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// One line of the report.
pub struct ReportRow {
    /// Row number in the file.
    pub line: usize,
    /// Column.
    pub column: String,
    /// What is wrong, or what will happen.
    pub text: String,
}

/// The report of a checked upload.
pub struct Report {
    /// The key to apply it with.
    pub key: String,
    /// File name and format.
    pub file: String,
    /// Counts.
    pub new: usize,
    /// Entries that change.
    pub updated: usize,
    /// Rows identical to their entry.
    pub unchanged: usize,
    /// Repeated rows left out.
    pub duplicates: usize,
    /// Bad rows.
    pub bad: usize,
    /// Bad rows, then repeats, with reasons.
    pub problems: Vec<ReportRow>,
    /// Doubts about rows that are imported all the same (a 医療機関コード to check).
    pub notices: Vec<ReportRow>,
    /// New and changed entries.
    pub changes: Vec<ReportRow>,
    /// Whether the lists were cut.
    pub cut: bool,
}

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    chrome: Chrome,
    areas: String,
    /// (code, name) of the areas this coordinator imports, for the per-area template links.
    own_areas: Vec<(String, String)>,
    report: Option<Report>,
    done: Option<[usize; 4]>,
    max_mb: usize,
}

fn page(
    ctx: &Ctx,
    areas: &[(String, String)],
    report: Option<Report>,
    done: Option<[usize; 4]>,
) -> ImportPage {
    ImportPage {
        chrome: Chrome::new(ctx, "nav.hub", false),
        areas: areas
            .iter()
            .map(|(_, n)| n.as_str())
            .collect::<Vec<_>>()
            .join("・"),
        own_areas: areas.to_vec(),
        report,
        done,
        max_mb: MAX_FILE_BYTES / 1024 / 1024,
    }
}

/// `GET /hub/import`.
pub async fn form(
    State(app): State<AppState>,
    ctx: Ctx,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, PageError> {
    let areas = areas_of(&app, &ctx).await?;
    // After an import: `?done=new,updated,unchanged,left_out`.
    let done = serde_urlencoded::from_str::<Vec<(String, String)>>(raw.as_deref().unwrap_or(""))
        .ok()
        .and_then(|p| p.into_iter().find(|(k, _)| k == "done").map(|(_, v)| v))
        .and_then(|v| {
            let n: Vec<usize> = v.split(',').filter_map(|x| x.parse().ok()).collect();
            (n.len() == 4).then(|| [n[0], n[1], n[2], n[3]])
        });
    Ok(render(&ctx, &page(&ctx, &areas, None, done))?.into_response())
}

fn refuse(
    ctx: &Ctx,
    status: StatusCode,
    body: &str,
    extra: Vec<String>,
) -> Result<Response, PageError> {
    message(
        ctx,
        status,
        "import.refused_title",
        &[body],
        &extra,
        "/hub/import",
        "import.back",
    )
}

/// `POST /hub/import` (multipart: `file`): checks and plans; writes nothing.
pub async fn check(
    State(app): State<AppState>,
    ctx: Ctx,
    mut multipart: Multipart,
) -> Result<Response, PageError> {
    let Some(user) = ctx.viewer.signed_in().cloned() else {
        return Err(PageError::not_found(&ctx));
    };
    let mut file: Option<(String, axum::body::Bytes)> = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => {
                return refuse(
                    &ctx,
                    StatusCode::BAD_REQUEST,
                    "import.unreadable_upload",
                    vec![],
                )
            }
        };
        if field.name() == Some("file") {
            let name = field.file_name().unwrap_or("").to_owned();
            let bytes = match field.bytes().await {
                Ok(b) => b,
                Err(_) => {
                    return refuse(
                        &ctx,
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "import.too_large",
                        vec![],
                    )
                }
            };
            // Kept as received: a copy of a 100 MB file would double the memory the check takes.
            file = Some((name, bytes));
        }
    }
    let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return refuse(&ctx, StatusCode::BAD_REQUEST, "import.no_file", vec![]);
    };
    if bytes.len() > MAX_FILE_BYTES {
        return refuse(
            &ctx,
            StatusCode::PAYLOAD_TOO_LARGE,
            "import.too_large",
            vec![],
        );
    }
    let region = RegionDefinition::nakakawachi();
    let area_names: HashMap<String, String> = region
        .areas
        .iter()
        .map(|a| (a.code.as_str().to_owned(), a.name.clone()))
        .collect();
    let parsed =
        match tokio::task::spawn_blocking(move || read_directory_file(&bytes, &region)).await {
            Ok(Ok(parsed)) => parsed,
            Ok(Err(e)) => {
                return refuse(
                    &ctx,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "import.unreadable_file",
                    vec![format!("{}行目「{}」: {}", e.line, e.column, e.reason)],
                )
            }
            Err(_) => {
                return refuse(
                    &ctx,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "import.unreadable_file",
                    vec![],
                )
            }
        };
    // Only the coordinator's own areas.
    let areas = areas_of(&app, &ctx).await?;
    let own = |code: &str| areas.iter().any(|(c, _)| c == code);
    let mut errors = parsed.errors;
    let warnings = parsed.warnings;
    let mut rows = Vec::with_capacity(parsed.rows.len());
    for row in parsed.rows {
        if own(row.institution.area.as_str()) {
            rows.push(row);
        } else {
            errors.push(RowError {
                line: row.line,
                column: "地域".into(),
                reason: format!(
                    "地域「{}」はあなたの担当ではないため取り込めません",
                    area_names
                        .get(row.institution.area.as_str())
                        .map(String::as_str)
                        .unwrap_or(row.institution.area.as_str())
                ),
            });
        }
    }
    // A row of the coordinator's area that matches an entry of another area is refused by the
    // plan (an import never moves an entry between areas).
    let mut plan = app
        .store
        .plan_import(rows)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    errors.append(&mut plan.errors);
    errors.sort_by_key(|e| e.line);
    let mut bad_lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    bad_lines.dedup();
    let key = crate::auth::secrets::random_hex(16);
    let report = report_of(
        &key,
        &name,
        parsed.format.label(),
        &plan,
        &errors,
        &warnings,
        bad_lines.len(),
    );
    app.store
        .put_pending_import(
            &key,
            &PendingImport {
                user_id: user.id.0,
                bad_rows: bad_lines.len(),
                plan,
                file_name: name,
            },
            app.clock.now(),
        )
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    Ok(render(&ctx, &page(&ctx, &areas, Some(report), None))?.into_response())
}

fn report_of(
    key: &str,
    name: &str,
    format: &str,
    plan: &ImportPlan,
    errors: &[RowError],
    warnings: &[RowError],
    bad_rows: usize,
) -> Report {
    let notices: Vec<ReportRow> = warnings
        .iter()
        .map(|w| ReportRow {
            line: w.line,
            column: w.column.clone(),
            text: w.reason.clone(),
        })
        .collect();
    let mut problems: Vec<ReportRow> = errors
        .iter()
        .map(|e| ReportRow {
            line: e.line,
            column: e.column.clone(),
            text: e.reason.clone(),
        })
        .collect();
    problems.extend(plan.duplicates.iter().map(|d| ReportRow {
        line: d.line,
        column: d.column().into(),
        text: d.reason_ja(),
    }));
    let mut changes: Vec<ReportRow> = plan
        .new
        .iter()
        .map(|(line, i)| ReportRow {
            line: *line,
            column: "新規".into(),
            text: i.name.clone(),
        })
        .collect();
    changes.extend(plan.updates.iter().map(|(line, _, f)| ReportRow {
        line: *line,
        column: "更新".into(),
        text: f.name.clone(),
    }));
    changes.sort_by_key(|r| r.line);
    let cut = problems.len() > SHOWN || changes.len() > SHOWN;
    problems.truncate(SHOWN);
    changes.truncate(SHOWN);
    Report {
        key: key.to_owned(),
        file: format!("{name}（{format}）"),
        new: plan.new.len(),
        updated: plan.updates.len(),
        unchanged: plan.unchanged,
        duplicates: plan.duplicates.len(),
        bad: bad_rows,
        problems,
        notices: notices.into_iter().take(SHOWN).collect(),
        changes,
        cut,
    }
}

/// `POST /hub/import/{key}/apply`: starts writing the checked plan (one transaction, in the
/// background) and sends the coordinator to its progress page. Pressing the button twice shows
/// the same progress.
pub async fn apply(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(key): Path<String>,
    axum::extract::RawForm(form): axum::extract::RawForm,
) -> Result<Response, PageError> {
    let Some(user) = ctx.viewer.signed_in().cloned() else {
        return Err(PageError::not_found(&ctx));
    };
    let progress_page = format!("/hub/import/{key}");
    let skip = crate::auth::session::form_field(&form, "skip_bad_rows").is_some_and(|v| v == "1");
    let claim = app
        .store
        .claim_pending_import(&key, user.id.0, skip, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let pending = match claim {
        Claim::Taken(pending) => pending,
        // A second press, or the go-ahead already given on another instance.
        Claim::AlreadyTaken => return Ok(see_other(&progress_page)),
        // The checked file stays: the coordinator may still choose to leave the bad rows out.
        Claim::HasBadRows => {
            return refuse(&ctx, StatusCode::BAD_REQUEST, "import.has_bad_rows", vec![])
        }
        Claim::Gone => return refuse(&ctx, StatusCode::GONE, "import.expired", vec![]),
    };
    let client = client_of(&extensions);
    tokio::spawn(async move {
        let written = Arc::new(AtomicU64::new(0));
        let heartbeat = tokio::spawn({
            let (app, key, written) = (app.clone(), key.clone(), written.clone());
            async move {
                loop {
                    tokio::time::sleep(HEARTBEAT_EVERY).await;
                    let n = written.load(Ordering::Relaxed);
                    if let Err(e) = app.store.import_heartbeat(&key, n, app.clock.now()).await {
                        tracing::warn!(error = %e, "could not record the import's progress");
                    }
                }
            }
        });
        let result = app
            .store
            .apply_import(&pending.plan, &|n| {
                written.fetch_add(n, Ordering::Relaxed);
            })
            .await;
        heartbeat.abort();
        let plan = &pending.plan;
        let outcome = match result {
            Err(e) => {
                // Nothing was written (one transaction); the plan stays for another try.
                tracing::error!(error = %e, "directory import failed; nothing written");
                ImportState::Failed
            }
            Ok(_) => {
                app.directory_changed().await;
                let event = AuditEvent::new(
                    Some(user.id),
                    "directory.import",
                    Outcome::Ok,
                    format!(
                        "file:{} new:{} updated:{} skipped_bad:{}",
                        pending.file_name.replace(char::is_whitespace, "_"),
                        plan.new.len(),
                        plan.updates.len(),
                        pending.bad_rows
                    ),
                    client,
                );
                let _ = app.store.append_audit(&event).await;
                ImportState::Done([
                    plan.new.len(),
                    plan.updates.len(),
                    plan.unchanged,
                    plan.duplicates.len() + pending.bad_rows,
                ])
            }
        };
        if let Err(e) = app
            .store
            .finish_pending_import(&key, outcome, app.clock.now())
            .await
        {
            tracing::error!(error = %e, "could not record the end of an import");
        }
    });
    Ok(see_other(&progress_page))
}

/// `GET /hub/import/{key}`: how far applying a plan got. While it runs the page refreshes itself
/// every two seconds; when done it leads to the form with the counts; when it failed it offers
/// another try of the same plan.
pub async fn progress(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(key): Path<String>,
) -> Result<Response, PageError> {
    let Some(user) = ctx.viewer.signed_in().cloned() else {
        return Err(PageError::not_found(&ctx));
    };
    let Some(progress) = app
        .store
        .import_progress(&key, user.id.0, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    else {
        return refuse(&ctx, StatusCode::GONE, "import.expired", vec![]);
    };
    if progress.state == ImportState::Checked {
        // Not applied yet: back to the form (the report is shown where it was checked).
        return Ok(see_other("/hub/import"));
    }
    if let ImportState::Done(n) = progress.state {
        let done = n.map(|v| v.to_string()).join(",");
        return Ok(see_other(&format!(
            "/hub/import?{}",
            serde_urlencoded::to_string([("done", done)]).unwrap_or_default()
        )));
    }
    let percent = (progress.written * 100)
        .checked_div(progress.total)
        .unwrap_or(100);
    let page = ProgressPage {
        chrome: Chrome::new(&ctx, "nav.hub", false),
        key,
        file_name: progress.file_name,
        total: progress.total,
        written: progress.written,
        percent,
        failed: progress.state == ImportState::Failed,
    };
    Ok(render(&ctx, &page)?.into_response())
}

#[derive(Template)]
#[template(path = "import_progress.html")]
struct ProgressPage {
    chrome: Chrome,
    key: String,
    file_name: String,
    total: u64,
    written: u64,
    percent: u64,
    failed: bool,
}

fn see_other(location: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_owned())],
    )
        .into_response()
}
