//! `/hub/import`: the coordinator imports a directory file in the browser, in two steps. The
//! upload is checked and planned — every bad row with its row, column and reason, repeats, new
//! entries and changes — and nothing is written; the plan waits (30 minutes, on this server)
//! until the coordinator applies it as shown. A coordinator imports only their own areas' rows.

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
use renkei_store::import::{DuplicateOf, ImportPlan};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Largest file accepted (the request may be a little larger for the form around it).
pub const MAX_FILE_BYTES: usize = 100 * 1024 * 1024;
/// How long a checked upload waits.
const PENDING_FOR: Duration = Duration::from_secs(30 * 60);
/// Most checked uploads kept at once (the oldest go first).
const MAX_PENDING: usize = 16;
/// Most rows of each list shown on the report.
const SHOWN: usize = 300;

/// A checked upload.
pub struct PendingImport {
    user_id: i64,
    plan: ImportPlan,
    bad_rows: usize,
    file_name: String,
    created: Instant,
}

/// Checked uploads by their random key.
#[derive(Default)]
pub struct PendingImports(Mutex<HashMap<String, PendingImport>>);

impl std::fmt::Debug for PendingImports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.lock().map(|m| m.len()).unwrap_or(0);
        write!(f, "PendingImports({n})")
    }
}

impl PendingImports {
    fn put(&self, key: String, pending: PendingImport) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, p| p.created.elapsed() < PENDING_FOR);
        while map.len() >= MAX_PENDING {
            let Some(oldest) = map
                .iter()
                .min_by_key(|(_, p)| p.created)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            map.remove(&oldest);
        }
        map.insert(key, pending);
    }

    fn take(&self, key: &str, user_id: i64) -> Option<PendingImport> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = map
            .get(key)
            .is_some_and(|p| p.user_id == user_id && p.created.elapsed() < PENDING_FOR);
        if fresh {
            map.remove(key)
        } else {
            None
        }
    }
}

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
    let mut file: Option<(String, Vec<u8>)> = None;
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
            file = Some((name, bytes.to_vec()));
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
    let mut plan = app
        .store
        .plan_import(rows)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    // An update must also be to an entry of the coordinator's areas (a code may match another).
    let ids: Vec<i64> = plan.updates.iter().map(|(_, id, _)| *id).collect();
    let existing_areas = app
        .store
        .area_codes_of(&ids)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    plan.updates.retain(|(line, id, _)| {
        let theirs = existing_areas.get(id).map(String::as_str).unwrap_or("");
        if own(theirs) {
            true
        } else {
            errors.push(RowError {
                line: *line,
                column: "医療機関コード".into(),
                reason: "同じ医療機関コードの掲載が担当外の地域にあるため更新できません".into(),
            });
            false
        }
    });
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
        bad_lines.len(),
    );
    app.pending_imports.put(
        key,
        PendingImport {
            user_id: user.id.0,
            bad_rows: bad_lines.len(),
            plan,
            file_name: name,
            created: Instant::now(),
        },
    );
    Ok(render(&ctx, &page(&ctx, &areas, Some(report), None))?.into_response())
}

fn report_of(
    key: &str,
    name: &str,
    format: &str,
    plan: &ImportPlan,
    errors: &[RowError],
    bad_rows: usize,
) -> Report {
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
        column: match &d.by {
            DuplicateOf::MedicalCode(_) => "医療機関コード".into(),
            DuplicateOf::NameAndAddress => "名称・所在地".into(),
        },
        text: match &d.by {
            DuplicateOf::MedicalCode(code) => {
                format!(
                    "{}行目と同じ医療機関コード（{code}）のため取り込みません",
                    d.first_line
                )
            }
            DuplicateOf::NameAndAddress => {
                format!("{}行目と同じ名称・所在地のため取り込みません", d.first_line)
            }
        },
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
        changes,
        cut,
    }
}

/// `POST /hub/import/{key}/apply`: writes the checked plan in one transaction.
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
    let Some(pending) = app.pending_imports.take(&key, user.id.0) else {
        return refuse(&ctx, StatusCode::GONE, "import.expired", vec![]);
    };
    let skip = crate::auth::session::form_field(&form, "skip_bad_rows").is_some_and(|v| v == "1");
    if pending.bad_rows > 0 && !skip {
        // Keep the checked upload: the coordinator may still choose to skip the bad rows.
        app.pending_imports.put(key, pending);
        return refuse(&ctx, StatusCode::BAD_REQUEST, "import.has_bad_rows", vec![]);
    }
    if let Err(e) = app.store.apply_import(&pending.plan, &|_| {}).await {
        // Nothing was written (one transaction); keep the checked upload for another try.
        app.pending_imports.put(key, pending);
        return Err(PageError::store(&ctx, e));
    }
    let plan = &pending.plan;
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
        client_of(&extensions),
    );
    let _ = app.store.append_audit(&event).await;
    let done = format!(
        "{},{},{},{}",
        plan.new.len(),
        plan.updates.len(),
        plan.unchanged,
        plan.duplicates.len() + pending.bad_rows
    );
    let location = format!(
        "/hub/import?{}",
        serde_urlencoded::to_string([("done", done)]).unwrap_or_default()
    );
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response())
}
