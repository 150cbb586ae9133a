//! `/institutions/{id}/ict-evidence`: what an institution shows for 在宅医療情報連携加算 —
//! its partner institutions on the care teams (five or more, 特別の関係 excluded) and, for a
//! month, each patient's consent, the physicians' visit records and their reading of other
//! organisations' records. Made from the timeline and the read receipts; nothing is typed for
//! it. Patient names are on it, so it is for the institution's own staff with a second factor,
//! and every view and download is audited.

use super::*;
use chrono::{Datelike, NaiveDate};
use renkei_store::care_evidence::{Partner, PatientMonth};

/// The facility standard: partners sharing by ICT, special relationships excluded.
const PARTNERS_NEEDED: usize = 5;

/// A partner as the page lists it.
pub struct PartnerView {
    id: i64,
    name: String,
    kind: &'static str,
    since: String,
    patients: i64,
    special: bool,
}

/// A patient's month as the page lists it.
pub struct MonthView {
    id: i64,
    name: String,
    consent: String,
    visits: String,
    next: String,
    others: i64,
    read: String,
    /// What is missing, empty when all is there.
    missing: Vec<String>,
}

#[derive(Template)]
#[template(path = "ict_evidence.html")]
struct EvidencePage {
    chrome: Chrome,
    id: i64,
    institution: String,
    month: String,
    month_label: String,
    partners: Vec<PartnerView>,
    counted: usize,
    short: usize,
    patients: Vec<MonthView>,
}

/// The month asked for (`?month=2026-11`), this month (JST) when absent or unreadable.
fn month_of(query: &Option<String>, today: NaiveDate) -> NaiveDate {
    let typed = form(query.as_deref().unwrap_or_default().as_bytes(), "month");
    NaiveDate::parse_from_str(&format!("{}-01", typed.trim()), "%Y-%m-%d")
        .unwrap_or_else(|_| today.with_day(1).unwrap_or(today))
}

/// The month's bounds as stored UTC texts: JST midnight of the 1st to that of the next 1st.
fn bounds(first: NaiveDate) -> (String, String) {
    let at = |d: NaiveDate| renkei_store::time_text(renkei_domain::japan::day_start(d));
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first);
    (at(first), at(next))
}

/// The viewer's own institution `id`, with a second factor; others get the 404.
async fn own(app: &AppState, ctx: &Ctx, id: i64) -> Result<String, PageError> {
    let user = user_with_second_factor(ctx)?;
    if !own_institutions(user).contains(&id) {
        return Err(PageError::not_found(ctx));
    }
    Ok(crate::pages::shared::entry(app, ctx, id).await?.fields.name)
}

/// What the page and the downloads show.
async fn gather(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    first: NaiveDate,
) -> Result<(Vec<Partner>, Vec<PatientMonth>), PageError> {
    let partners = app
        .store
        .ict_partners(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let (from, to) = bounds(first);
    let months = app
        .store
        .ict_patient_months(id, (&from, &to))
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    Ok((partners, months))
}

fn missing(lang: Lang, m: &PatientMonth) -> Vec<String> {
    let t = crate::i18n::catalog(lang);
    let mut out = Vec::new();
    if m.consent_given_on.is_none() {
        out.push(t.get("careteam.evidence_no_consent"));
    }
    if m.visit_records == 0 {
        out.push(t.get("careteam.evidence_no_visit"));
    }
    if m.others_read == 0 {
        out.push(t.get("careteam.evidence_no_read"));
    }
    out
}

fn day_text(lang: Lang, text: &Option<String>) -> String {
    text.as_deref()
        .and_then(|d| d.get(..10))
        .and_then(|d| d.parse::<NaiveDate>().ok())
        .map(|d| date_in(lang, d))
        .unwrap_or_default()
}

fn month_view(lang: Lang, m: &PatientMonth) -> MonthView {
    // Whether the newest reading was of a record written within 90 days before it: shown as
    // information (a rule some guidance names, not yet checked against the notice itself).
    let recent = if m.read_recent {
        lang.pick("・90日以内の記録", " · a record of the last 90 days")
    } else {
        ""
    };
    let read = match (&m.last_read, &m.last_reader) {
        (Some(at), Some(who)) => format!(
            "{}（{} {}{recent}）",
            m.others_read,
            jst_time_in(lang, at),
            who
        ),
        _ => "0".to_owned(),
    };
    MonthView {
        id: m.patient_id,
        name: m.name.clone(),
        consent: m
            .consent_given_on
            .as_deref()
            .and_then(|d| d.parse().ok())
            .map(|d| date_in(lang, d))
            .unwrap_or_else(|| "—".to_owned()),
        visits: match &m.last_visit_record {
            Some(at) => format!("{}（{}）", m.visit_records, jst_time_in(lang, at)),
            None => "0".to_owned(),
        },
        next: day_text(lang, &m.next_visit_on),
        others: m.others_posts,
        read,
        missing: missing(lang, m),
    }
}

/// `GET /institutions/{id}/ict-evidence` (`?month=YYYY-MM`): the evidence page. Audited.
pub async fn evidence(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    Path(id): Path<i64>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let institution = own(&app, &ctx, id).await?;
    let first = month_of(&query, crate::clock::today(&app));
    let (partners, months) = gather(&app, &ctx, id, first).await?;
    audit(
        &app,
        &ctx,
        &ext,
        "careteam.evidence_read",
        Outcome::Ok,
        format!("institution:{id} month:{}", first.format("%Y-%m")),
    )
    .await;
    let counted = partners.iter().filter(|p| !p.special).count();
    let page = EvidencePage {
        chrome: Chrome::new(&ctx, "nav.careteam", false),
        id,
        institution,
        month: first.format("%Y-%m").to_string(),
        month_label: match lang {
            Lang::Ja => {
                renkei_domain::fiscal_year::format_wareki_year_month(first.year(), first.month())
            }
            Lang::En => first.format("%B %Y").to_string(),
        },
        partners: partners
            .iter()
            .map(|p| PartnerView {
                id: p.id,
                name: p.name.clone(),
                kind: InstitutionKind::from_code(&p.kind)
                    .map(|k| lang.pick(k.label_ja(), k.label_en()))
                    .unwrap_or(""),
                since: day_text(lang, &Some(p.since.clone())),
                patients: p.patients,
                special: p.special,
            })
            .collect(),
        counted,
        short: PARTNERS_NEEDED.saturating_sub(counted),
        patients: months.iter().map(|m| month_view(lang, m)).collect(),
    };
    Ok(render(&ctx, &page)?.into_response())
}

/// `GET /institutions/{id}/ict-evidence.csv` (`?month=`): the two tables for Excel.
pub async fn evidence_csv(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    Path(id): Path<i64>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    evidence_download(&app, &ctx, &ext, id, &query, false).await
}

/// `GET /institutions/{id}/ict-evidence.xlsx` (`?month=`): the same as an Excel book.
pub async fn evidence_xlsx(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    Path(id): Path<i64>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    evidence_download(&app, &ctx, &ext, id, &query, true).await
}

/// The month's patients, then the partners under their own heading row, so one sheet carries
/// both. Audited as an export.
async fn evidence_download(
    app: &AppState,
    ctx: &Ctx,
    ext: &Extensions,
    id: i64,
    query: &Option<String>,
    xlsx: bool,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    own(app, ctx, id).await?;
    let format = if xlsx { "xlsx" } else { "csv" };
    let first = month_of(query, crate::clock::today(app));
    let (partners, months) = gather(app, ctx, id, first).await?;
    audit(
        app,
        ctx,
        ext,
        "careteam.evidence_export",
        Outcome::Ok,
        format!("institution:{id} month:{} {format}", first.format("%Y-%m")),
    )
    .await;
    let t = crate::i18n::catalog(lang);
    let heads = [
        t.get("careteam.evidence_month"),
        t.get("careteam.evidence_patient"),
        t.get("careteam.evidence_consent"),
        t.get("careteam.evidence_visits"),
        t.get("careteam.evidence_next"),
        t.get("careteam.evidence_others"),
        t.get("careteam.evidence_read"),
        t.get("careteam.evidence_state"),
    ];
    let month = first.format("%Y-%m").to_string();
    let mut rows: Vec<Vec<String>> = months
        .iter()
        .map(|m| {
            let v = month_view(lang, m);
            vec![
                month.clone(),
                v.name,
                v.consent,
                v.visits,
                v.next,
                v.others.to_string(),
                v.read,
                if v.missing.is_empty() {
                    t.get("careteam.evidence_ok")
                } else {
                    v.missing.join("・")
                },
            ]
        })
        .collect();
    // The partners follow, under their own heading row, so one sheet carries both.
    rows.push(Vec::new());
    rows.push(vec![
        t.get("careteam.evidence_partner"),
        t.get("careteam.evidence_kind"),
        t.get("careteam.evidence_since"),
        t.get("careteam.evidence_shared"),
        t.get("careteam.evidence_special"),
    ]);
    for p in &partners {
        rows.push(vec![
            p.name.clone(),
            InstitutionKind::from_code(&p.kind)
                .map(|k| lang.pick(k.label_ja(), k.label_en()).to_owned())
                .unwrap_or_default(),
            day_text(lang, &Some(p.since.clone())),
            p.patients.to_string(),
            if p.special { "○" } else { "" }.to_owned(),
        ]);
    }
    let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
    let name = format!("ict-evidence-{id}-{month}");
    crate::pages::shared::table_download(ctx, xlsx, &name, "evidence", &heads, &rows)
}

/// `POST /institutions/{id}/ict-evidence/special` (`partner`, `special` = 1 | 0): marks a
/// partner as in a 特別の関係 (not counted) or unmarks it.
pub async fn special_relation(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    own(&app, &ctx, id).await?;
    let user = user_with_second_factor(&ctx)?;
    let Ok(partner) = form(&body, "partner").parse::<i64>() else {
        return Err(PageError::not_found(&ctx));
    };
    let special = form(&body, "special") == "1";
    app.store
        .set_special_relation(id, partner, special, user.id, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &ext,
        "careteam.special_relation",
        Outcome::Ok,
        format!("institution:{id} partner:{partner} special:{special}"),
    )
    .await;
    // Back to the month shown (only a real month travels in the address).
    let month =
        NaiveDate::parse_from_str(&format!("{}-01", form(&body, "month").trim()), "%Y-%m-%d")
            .map(|d| d.format("%Y-%m").to_string())
            .unwrap_or_default();
    Ok(see_other(format!(
        "/institutions/{id}/ict-evidence?month={month}"
    )))
}
