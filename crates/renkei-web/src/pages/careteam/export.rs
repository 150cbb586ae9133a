//! Exports: the FHIR record, the audit evidence (IHE BALP), the printable summary.

use super::*;

/// Every post of a patient (exports take all of them), newest first.
async fn all_posts(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
) -> Result<Vec<renkei_store::careteam::PostRow>, PageError> {
    let mut out = Vec::new();
    let mut before = None;
    loop {
        let page = app
            .store
            .posts(id, before, "", 1000)
            .await
            .map_err(|e| PageError::store(ctx, e))?;
        let last = page.last().map(|p| p.id);
        let full = page.len() == 1000;
        out.extend(page);
        match (full, last) {
            (true, Some(l)) => before = Some(l),
            _ => return Ok(out),
        }
    }
}

fn fhir_download(name: &str, value: &serde_json::Value) -> Response {
    let mut r = crate::pages::shared::download(
        "application/fhir+json; charset=utf-8",
        name,
        value.to_string(),
    );
    r.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    r
}

/// `GET /patients/{id}/fhir.json`: the record as a FHIR R4 collection Bundle (Patient,
/// CareTeam, Consent, Communication, Observation), for team members; audited as an export.
pub async fn fhir_export(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (row, grant) = admitted(&app, &ctx, &ext, id, "careteam.export").await?;
    if grant == Grant::BreakGlass {
        return Err(PageError::forbidden(&ctx));
    }
    let team = app
        .store
        .team(id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let consents = app
        .store
        .consents(id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let posts = all_posts(&app, &ctx, id).await?;
    let forms = app
        .store
        .consent_forms(id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let now = renkei_store::time_text(app.clock.now());
    let bundle = crate::fhir::careteam::bundle(
        &crate::fhir::base(&app),
        &row,
        &team,
        &consents,
        &forms,
        &posts,
        &now,
    );
    Ok(fhir_download(&format!("patient-{id}.json"), &bundle))
}

/// `GET /patients/{id}/audit.json`: every read, export and refusal of the record as IHE BALP
/// AuditEvents — the registering institution's evidence of who looked at what, when (在宅医療
/// 情報連携加算). Only for the registering institution's team members; audited too.
pub async fn audit_export(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (_, grant) = admitted(&app, &ctx, &ext, id, "careteam.export").await?;
    if grant != Grant::Registering {
        return Err(PageError::forbidden(&ctx));
    }
    let marker = format!("patient:{id}");
    let entries: Vec<_> = app
        .store
        .audit_entries(&renkei_store::audit::AuditFilter {
            action_prefix: Some("careteam.".into()),
            limit: 100_000,
            ..renkei_store::audit::AuditFilter::default()
        })
        .await
        .map_err(|e| PageError::store(&ctx, e))?
        .into_iter()
        .filter(|e| {
            (e.action == "careteam.read" || e.action == "careteam.export")
                && (e.target == marker || e.target.starts_with(&format!("{marker} ")))
        })
        .collect();
    let now = renkei_store::time_text(app.clock.now());
    let bundle = crate::fhir::careteam::audit_bundle(&crate::fhir::base(&app), id, &entries, &now);
    Ok(fhir_download(&format!("patient-{id}-audit.json"), &bundle))
}

/// How many of the newest posts the printable summary carries.
const SUMMARY_POSTS: i64 = 20;

#[derive(Template)]
#[template(path = "patient_summary.html")]
struct SummaryPage {
    chrome: Chrome,
    id: i64,
    printed: String,
    name: String,
    kana: String,
    born: String,
    age: String,
    sex: &'static str,
    address: String,
    needs: String,
    contacts: Vec<(String, String, String)>,
    registered: String,
    consent: String,
    team: Vec<(String, &'static str, String)>,
    vitals: Vec<(String, String)>,
    posts: Vec<(String, String, String)>,
}

/// `GET /patients/{id}/summary`: the patient on one printable sheet (A4; the browser prints
/// it or saves it as PDF) — the facts, consent, team, the last 30 days' vitals and the newest
/// posts. For team members; audited as an export.
pub async fn summary(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let (row, grant) = admitted(&app, &ctx, &ext, id, "careteam.export").await?;
    if grant == Grant::BreakGlass {
        return Err(PageError::forbidden(&ctx));
    }
    let today = crate::clock::today(&app);
    let team = app
        .store
        .team(id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let consents = app
        .store
        .consents(id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let series = app
        .store
        .vitals_since(id, today - chrono::Duration::days(30), CHART_READINGS)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let posts = app
        .store
        .posts(id, None, "", SUMMARY_POSTS)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let p = &row.patient;
    let consent = match consents.iter().rev().find(|c| c.withdrawn_at.is_none()) {
        Some(c) => format!(
            "{}（{}）",
            lang.pick("同意あり", "Consent given"),
            date_in(lang, c.consent.given_on)
        ),
        None => lang.pick("同意なし", "No consent").to_owned(),
    };
    let page = SummaryPage {
        chrome: Chrome::new(&ctx, "nav.careteam", false),
        id,
        printed: date_in(lang, today),
        name: p.name.clone(),
        kana: p.kana.clone(),
        born: date_in(lang, p.birth_date),
        age: age(lang, p.birth_date, today),
        sex: lang.pick(p.sex.label_ja(), p.sex.label_en()),
        address: p.address.clone(),
        needs: needs_text(lang, &p.needs),
        contacts: p
            .contacts
            .iter()
            .map(|c| (c.name.clone(), c.relation.clone(), c.phone.clone()))
            .collect(),
        registered: row.registered_name.clone(),
        consent,
        team: team
            .iter()
            .filter(|m| m.removed_at.is_none())
            .map(|m| {
                (
                    m.user_name.clone(),
                    lang.pick(m.profession.label_ja(), m.profession.label_en()),
                    m.institution_name.clone(),
                )
            })
            .collect(),
        vitals: series
            .iter()
            .map(|(at, v)| (jst_time_in(lang, at), vitals_text(lang, v)))
            .collect(),
        posts: posts
            .iter()
            .map(|post| {
                (
                    jst_time_in(lang, &post.created_at),
                    format!(
                        "{}（{}）",
                        post.author_name,
                        lang.pick(post.profession.label_ja(), post.profession.label_en())
                    ),
                    post.body.clone(),
                )
            })
            .collect(),
    };
    let mut response = render(&ctx, &page)?.into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}
