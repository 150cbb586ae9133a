//! A patient's page: the record, the consent, the team and the timeline of posts.

use super::*;

/// A post as the timeline shows it.
pub struct PostView {
    id: i64,
    author: String,
    institution: String,
    profession: &'static str,
    body: String,
    urgent: bool,
    vitals: String,
    at: String,
    read_by: i64,
    /// The physician's visit record: (label, text) lines.
    visit: Vec<(&'static str, String)>,
    files: Vec<FileView>,
    /// Whom it was addressed to.
    mentions: String,
}

/// A file of a post or of a consent.
pub struct FileView {
    id: i64,
    name: String,
    size: String,
    image: bool,
}

impl FileView {
    pub(super) fn of(a: &renkei_store::care_files::AttachmentMeta) -> Self {
        let size = if a.size >= 1_048_576 {
            format!("{:.1} MB", a.size as f64 / 1_048_576.0)
        } else {
            format!("{} KB", (a.size + 1023) / 1024)
        };
        FileView {
            id: a.id,
            name: a.file_name.clone(),
            size,
            image: a.is_image(),
        }
    }
}

/// A member as listed.
pub struct MemberView {
    id: i64,
    name: String,
    institution: String,
    profession: &'static str,
    removed: bool,
}

#[derive(Template)]
#[template(path = "patient.html")]
struct PatientPage {
    chrome: Chrome,
    id: i64,
    notice: Option<String>,
    error: Option<String>,
    break_glass: bool,
    name: String,
    kana: String,
    born: String,
    age: String,
    sex: &'static str,
    address: String,
    needs: String,
    power_dependent: bool,
    contacts: Vec<(String, String, String)>,
    registered: String,
    /// The viewer is on the team from the registering institution (manages consent and team).
    owner: bool,
    /// The viewer may post (a team member).
    can_post: bool,
    consent: String,
    consent_in_force: bool,
    consent_history: Vec<(String, Option<FileView>)>,
    team: Vec<MemberView>,
    /// Team members a post can be addressed to (everyone on it now but the viewer).
    mentionable: Vec<(i64, String)>,
    /// The viewer posts as a physician (the visit record is offered).
    physician: bool,
    /// A hospital member's link to propose the discharge conference with the team's
    /// institutions invited.
    conference_link: Option<String>,
    posts: Vec<PostView>,
    older: Option<i64>,
    q: String,
    charts: Vec<String>,
    professions: Vec<(&'static str, &'static str)>,
    invite_institutions: Vec<(i64, String, String)>,
    invite_from: Option<i64>,
    invite_staff: Vec<(i64, String)>,
    find: String,
    excluded_institutions: Vec<(i64, String)>,
}

pub(super) fn vitals_text(lang: Lang, v: &Vitals) -> String {
    let mut parts = Vec::new();
    if let (Some(s), Some(d)) = (v.systolic, v.diastolic) {
        parts.push(format!("{} {s}/{d}", lang.pick("血圧", "BP")));
    } else if let Some(s) = v.systolic {
        parts.push(format!("{} {s}/—", lang.pick("血圧", "BP")));
    }
    if let Some(p) = v.pulse {
        parts.push(format!("{} {p}", lang.pick("脈拍", "Pulse")));
    }
    if let Some(o) = v.spo2 {
        parts.push(format!("SpO2 {o}%"));
    }
    if let Some(t) = v.temperature_tenths {
        parts.push(format!(
            "{} {:.1}℃",
            lang.pick("体温", "Temp"),
            f64::from(t) / 10.0
        ));
    }
    parts.join(" · ")
}

/// A physician's visit record as lines of the timeline.
fn visit_lines(lang: Lang, v: &VisitRecord) -> Vec<(&'static str, String)> {
    let mut lines = vec![(
        lang.pick("次回訪問予定", "Next visit"),
        v.next_visit_on
            .map(|d| date_in(lang, d))
            .unwrap_or_else(|| lang.pick("未定", "not set").to_owned()),
    )];
    lines.push((
        lang.pick("治療方針の変更", "Plan changed"),
        if v.plan_changed {
            format!("{}：{}", lang.pick("あり", "yes"), v.plan_change)
        } else {
            lang.pick("なし", "no").to_owned()
        },
    ));
    if !v.care_points.is_empty() {
        lines.push((lang.pick("留意点", "Points to heed"), v.care_points.clone()));
    }
    lines
}

/// For a hospital on the team, the link that opens its discharge-conference form with the
/// patient's town and the team's clinic, visiting nurse, care manager and pharmacy chosen (no
/// name of the patient travels in it).
async fn conference_link(
    app: &AppState,
    ctx: &Ctx,
    mine: i64,
    team: &[renkei_store::careteam::MemberRow],
    address: &str,
) -> Result<Option<String>, PageError> {
    use renkei_domain::conference::InviteeRole;
    use renkei_store::records::RecordQuery;
    let mut ids: Vec<i64> = team
        .iter()
        .filter(|m| m.removed_at.is_none())
        .map(|m| m.institution_id)
        .collect();
    ids.push(mine);
    ids.sort_unstable();
    ids.dedup();
    let records = app
        .store
        .entry_records(&RecordQuery {
            ids: Some(ids),
            limit: 100,
            ..RecordQuery::default()
        })
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let Some(own) = records.iter().find(|r| r.id == mine) else {
        return Ok(None);
    };
    if !(own.kind == InstitutionKind::Hospital || own.has_beds) {
        return Ok(None);
    }
    let mut query = vec![
        ("near".to_owned(), crate::pages::urgent::town_of(address)),
        (
            "subject".to_owned(),
            ctx.lang
                .pick(
                    "退院前カンファレンス（ケアチーム）",
                    "Discharge conference (care team)",
                )
                .to_owned(),
        ),
    ];
    for role in InviteeRole::ALL {
        if let Some(r) = records.iter().find(|r| r.kind == role.kind()) {
            query.push((role.code().to_owned(), r.id.to_string()));
        }
    }
    let encoded = serde_urlencoded::to_string(&query).unwrap_or_default();
    Ok(Some(format!("/institutions/{mine}/conferences?{encoded}")))
}

/// The query of a patient's page.
fn query_value(query: &Option<String>, name: &str) -> String {
    form(query.as_deref().unwrap_or_default().as_bytes(), name)
}

#[allow(clippy::too_many_arguments)]
async fn patient_page(
    app: &AppState,
    ctx: &Ctx,
    ext: &Extensions,
    id: i64,
    query: &Option<String>,
    error: Option<String>,
) -> Result<PatientPage, PageError> {
    let lang = ctx.lang;
    let (row, grant) = admitted(app, ctx, ext, id, "careteam.read").await?;
    let user = user_with_second_factor(ctx)?;
    let today = crate::clock::today(app);
    let q = query_value(query, "q");
    let before: Option<i64> = query_value(query, "before").parse().ok();
    let posts = app
        .store
        .posts(id, before, &q, PAGE)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let mut seen_now = 0;
    if grant != Grant::BreakGlass {
        if let (Some(newest), Some(oldest)) = (posts.first(), posts.last()) {
            app.store
                .mark_read(id, user.id, (oldest.id, newest.id), app.clock.now())
                .await
                .map_err(|e| PageError::store(ctx, e))?;
        }
        seen_now = app
            .store
            .unseen_mentions(user.id)
            .await
            .map_err(|e| PageError::store(ctx, e))?
            .iter()
            .find(|(patient, _)| *patient == id)
            .map_or(0, |(_, n)| usize::try_from(*n).unwrap_or(0));
        app.store
            .mark_mentions_seen(id, user.id, app.clock.now())
            .await
            .map_err(|e| PageError::store(ctx, e))?;
    }
    // The badge was counted before this view saw them.
    let mut ctx_after = ctx.clone();
    ctx_after.mentions = ctx.mentions.saturating_sub(seen_now);
    let team = app
        .store
        .team(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let consents = app
        .store
        .consents(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let in_force = consents.iter().rev().find(|c| c.withdrawn_at.is_none());
    let owner = grant == Grant::Registering;
    let consent = match in_force {
        Some(c) => {
            let who = match &c.consent.consenter {
                Consenter::Patient => lang.pick("本人", "the patient").to_owned(),
                Consenter::Representative { name, relation } => format!("{name}（{relation}）"),
            };
            let mut text = format!(
                "{}{}（{}）",
                lang.pick("同意あり：", "Consent given by "),
                who,
                date_in(lang, c.consent.given_on)
            );
            if !c.consent.excluded_professions.is_empty()
                || !c.consent.excluded_institutions.is_empty()
            {
                text.push_str(lang.pick("・除外あり", " · with exclusions"));
            }
            text
        }
        None => lang
            .pick(
                "同意がありません。登録した医療機関の外の人は、この患者を見られません。",
                "No consent: nobody outside the registering institution can see this patient.",
            )
            .to_owned(),
    };
    // Vitals of the last 30 days, as small charts.
    let series = app
        .store
        .vitals_since(id, today - chrono::Duration::days(30), CHART_READINGS)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let chart = |key: &str,
                 title: &str,
                 unit: &str,
                 range: (f64, f64),
                 pick: &dyn Fn(&Vitals) -> Option<f64>| {
        let values: Vec<(String, f64)> = series
            .iter()
            .filter_map(|(at, v)| pick(v).map(|x| (jst_time_in(lang, at), x)))
            .collect();
        (!values.is_empty()).then(|| crate::chart::sparkline_svg(key, title, unit, &values, range))
    };
    let charts: Vec<String> = [
        chart("spo2", "SpO2", "%", (80.0, 100.0), &|v| {
            v.spo2.map(f64::from)
        }),
        chart(
            "temperature",
            lang.pick("体温", "Temperature"),
            "℃",
            (35.0, 40.0),
            &|v| v.temperature_tenths.map(|t| f64::from(t) / 10.0),
        ),
        chart(
            "pulse",
            lang.pick("脈拍", "Pulse"),
            "",
            (40.0, 140.0),
            &|v| v.pulse.map(f64::from),
        ),
        chart(
            "systolic",
            lang.pick("血圧（上）", "Systolic BP"),
            "",
            (80.0, 200.0),
            &|v| v.systolic.map(f64::from),
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    // Inviting: directory institutions found by name (or those near the registering one),
    // then the chosen one's staff.
    let invite_from: Option<i64> = query_value(query, "invite").parse().ok();
    let find = query_value(query, "find");
    let (mut invite_institutions, mut invite_staff) = (Vec::new(), Vec::new());
    if owner {
        invite_institutions = invite_candidates(app, ctx, row.registered_by, &find).await?;
        if let Some(from) = invite_from {
            // Only an institution of the directory.
            crate::pages::shared::entry(app, ctx, from).await?;
            invite_staff = app
                .store
                .institution_staff(from)
                .await
                .map_err(|e| PageError::store(ctx, e))?;
        }
    }
    let excluded_institutions = team
        .iter()
        .filter(|m| m.institution_id != row.registered_by)
        .map(|m| (m.institution_id, m.institution_name.clone()))
        .fold(Vec::new(), |mut acc: Vec<(i64, String)>, x| {
            if !acc.iter().any(|(i, _)| *i == x.0) {
                acc.push(x);
            }
            acc
        });
    let me = team
        .iter()
        .find(|m| m.user_id == user.id.0 && m.removed_at.is_none());
    let conference_link = match me {
        Some(m) if grant != Grant::BreakGlass => {
            conference_link(app, ctx, m.institution_id, &team, &row.patient.address).await?
        }
        _ => None,
    };
    let forms = app
        .store
        .consent_forms(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let p = &row.patient;
    let done = query_value(query, "done");
    let t = crate::i18n::catalog(lang);
    Ok(PatientPage {
        chrome: Chrome::new(&ctx_after, "nav.careteam", false),
        id,
        notice: [
            "registered",
            "posted",
            "consented",
            "withdrawn",
            "invited",
            "removed",
        ]
        .contains(&done.as_str())
        .then(|| t.get(&format!("careteam.done_{done}"))),
        error,
        break_glass: grant == Grant::BreakGlass,
        name: p.name.clone(),
        kana: p.kana.clone(),
        born: date_in(lang, p.birth_date),
        age: age(lang, p.birth_date, today),
        sex: lang.pick(p.sex.label_ja(), p.sex.label_en()),
        address: p.address.clone(),
        needs: needs_text(lang, &p.needs),
        power_dependent: p.power_dependent(),
        contacts: p
            .contacts
            .iter()
            .map(|c| (c.name.clone(), c.relation.clone(), c.phone.clone()))
            .collect(),
        registered: row.registered_name.clone(),
        owner,
        can_post: grant != Grant::BreakGlass,
        consent,
        consent_in_force: in_force.is_some(),
        consent_history: consents
            .iter()
            .map(|c| {
                let text = format!(
                    "{} {}{}",
                    jst_time_in(lang, &c.recorded_at),
                    lang.pick("記録", "recorded"),
                    c.withdrawn_at
                        .as_deref()
                        .map(|w| format!(
                            "・{} {}",
                            jst_time_in(lang, w),
                            lang.pick("撤回", "withdrawn")
                        ))
                        .unwrap_or_default()
                );
                let form = forms
                    .iter()
                    .find(|f| f.consent_id == Some(c.id))
                    .map(FileView::of);
                (text, form)
            })
            .collect(),
        mentionable: team
            .iter()
            .filter(|m| m.removed_at.is_none() && m.user_id != user.id.0)
            .map(|m| {
                (
                    m.user_id,
                    format!(
                        "{}（{}・{}）",
                        m.user_name,
                        lang.pick(m.profession.label_ja(), m.profession.label_en()),
                        m.institution_name
                    ),
                )
            })
            .collect(),
        physician: me.is_some_and(|m| m.profession == Profession::Doctor),
        conference_link,
        team: team
            .iter()
            .map(|m| MemberView {
                id: m.id,
                name: m.user_name.clone(),
                institution: m.institution_name.clone(),
                profession: lang.pick(m.profession.label_ja(), m.profession.label_en()),
                removed: m.removed_at.is_some(),
            })
            .collect(),
        older: (posts.len() as i64 == PAGE)
            .then(|| posts.last().map(|p| p.id))
            .flatten(),
        posts: posts
            .iter()
            .map(|p| PostView {
                id: p.id,
                author: p.author_name.clone(),
                institution: p.institution_name.clone(),
                profession: lang.pick(p.profession.label_ja(), p.profession.label_en()),
                body: p.body.clone(),
                urgent: p.urgent,
                vitals: p
                    .vitals
                    .as_ref()
                    .map(|v| vitals_text(lang, v))
                    .unwrap_or_default(),
                at: jst_time_in(lang, &p.created_at),
                read_by: p.read_by,
                visit: p
                    .visit
                    .as_ref()
                    .map(|v| visit_lines(lang, v))
                    .unwrap_or_default(),
                files: p.attachments.iter().map(FileView::of).collect(),
                mentions: p.mentions.join("、"),
            })
            .collect(),
        q,
        charts,
        professions: Profession::ALL
            .iter()
            .filter(|p| **p != Profession::HubCoordinator)
            .map(|p| (p.code(), lang.pick(p.label_ja(), p.label_en())))
            .collect(),
        invite_institutions,
        invite_from,
        invite_staff,
        find,
        excluded_institutions,
    })
}

/// Directory institutions to invite from: those whose name contains `find`, or (with nothing
/// typed) the registering institution and those nearest to it: (id, name, distance or kind).
async fn invite_candidates(
    app: &AppState,
    ctx: &Ctx,
    registered_by: i64,
    find: &str,
) -> Result<Vec<(i64, String, String)>, PageError> {
    use renkei_store::records::{RecordQuery, TextField, TextFilter, TextMatch};
    let lang = ctx.lang;
    if !find.trim().is_empty() {
        let found = app
            .store
            .entry_records(&RecordQuery {
                text: vec![TextFilter {
                    field: TextField::Name,
                    mode: TextMatch::Contains,
                    values: vec![find.trim().to_owned()],
                }],
                limit: 30,
                ..RecordQuery::default()
            })
            .await
            .map_err(|e| PageError::store(ctx, e))?;
        return Ok(found
            .into_iter()
            .map(|r| {
                (
                    r.id,
                    r.fields.name,
                    lang.pick(r.kind.label_ja(), r.kind.label_en()).to_owned(),
                )
            })
            .collect());
    }
    let reg = crate::pages::shared::entry(app, ctx, registered_by).await?;
    let mut out = vec![(registered_by, reg.fields.name.clone(), String::new())];
    if let Some(point) = reg.fields.location.as_ref().map(|p| (p.lat, p.lng)) {
        app.directory_index
            .ensure_loaded(&app.store)
            .await
            .map_err(|e| PageError::store(ctx, e))?;
        out.extend(
            app.directory_index
                .nearest_of_kinds(
                    point,
                    &[
                        InstitutionKind::Clinic,
                        InstitutionKind::Hospital,
                        InstitutionKind::VisitingNurseStation,
                        InstitutionKind::Pharmacy,
                        InstitutionKind::CareSupportOffice,
                        InstitutionKind::DentalClinic,
                    ],
                    NEARBY_KM,
                    31,
                )
                .into_iter()
                .filter(|h| h.id != registered_by)
                .take(30)
                .map(|h| (h.id, h.name, format!("{:.1} km", h.distance_km))),
        );
    }
    Ok(out)
}

/// `GET /patients/{id}`: the patient, the consent, the team and the timeline (`?q=` searches
/// it, `?before=` pages back, `?invite=` lists an institution's staff to invite). Audited.
pub async fn show(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    Path(id): Path<i64>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let page = patient_page(&app, &ctx, &ext, id, &query, None).await?;
    Ok(render(&ctx, &page)?.into_response())
}

pub(super) async fn refused(
    app: &AppState,
    ctx: &Ctx,
    ext: &Extensions,
    id: i64,
    message: String,
) -> Result<Response, PageError> {
    let page = patient_page(app, ctx, ext, id, &None, Some(message)).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(ctx, &page)?).into_response())
}

/// The viewer's own membership of the team (the institution and profession they post for).
pub(super) async fn membership(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
) -> Result<renkei_store::careteam::MemberRow, PageError> {
    let user = user_with_second_factor(ctx)?;
    app.store
        .team(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .into_iter()
        .find(|m| m.user_id == user.id.0 && m.removed_at.is_none())
        .ok_or_else(|| PageError::not_found(ctx))
}

/// `POST /patients/{id}/posts` (urlencoded, or multipart with up to three `file`s): a post
/// by a team member — text, urgent flag, vitals, the physician's visit record, members it is
/// addressed to (`mention`), photos and PDFs (checked by content, sealed at rest).
pub async fn post(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    Path(id): Path<i64>,
    request: axum::extract::Request,
) -> Result<Response, PageError> {
    // Who may post is settled before the body is read.
    let (_, grant) = admitted(&app, &ctx, &ext, id, "careteam.post").await?;
    if grant == Grant::BreakGlass {
        return Err(PageError::forbidden(&ctx));
    }
    let me = membership(&app, &ctx, id).await?;
    let sent = match Submitted::read(request, &app).await {
        Ok(s) => s,
        Err(m) => return refused(&app, &ctx, &ext, id, m).await,
    };
    let text = sent.get("body");
    let any_vitals = ["systolic", "diastolic", "pulse", "spo2", "temperature"]
        .iter()
        .any(|f| !sent.get(f).trim().is_empty());
    let vitals = if any_vitals {
        match Vitals::read(
            &sent.get("systolic"),
            &sent.get("diastolic"),
            &sent.get("pulse"),
            &sent.get("spo2"),
            &sent.get("temperature"),
        ) {
            Ok(v) => Some(v),
            Err(m) => return refused(&app, &ctx, &ext, id, m).await,
        }
    } else {
        None
    };
    let today = crate::clock::today(&app);
    let visit = if me.profession == Profession::Doctor {
        match VisitRecord::read(
            &sent.get("next_visit_on"),
            &sent.get("plan_changed"),
            &sent.get("plan_change"),
            &sent.get("care_points"),
            today,
        ) {
            Ok(v) => v,
            Err(m) => return refused(&app, &ctx, &ext, id, m).await,
        }
    } else {
        None
    };
    let files = sent.files_of("file");
    let attachments = match checked_files(&app, &ctx, &ext, id, &files).await {
        Ok(a) => a,
        Err(m) => return refused(&app, &ctx, &ext, id, m).await,
    };
    if text.trim().is_empty() && vitals.is_none() && visit.is_none() && attachments.is_empty() {
        let m = "本文・バイタル・訪問診療の記録・ファイルのどれかを入れてください".to_owned();
        return refused(&app, &ctx, &ext, id, m).await;
    }
    if text.chars().count() > 4000 {
        let m = "本文は4000文字までにしてください".to_owned();
        return refused(&app, &ctx, &ext, id, m).await;
    }
    let mentions: Vec<i64> = sent
        .all("mention")
        .iter()
        .filter_map(|v| v.parse().ok())
        .collect();
    let user = user_with_second_factor(&ctx)?;
    // Only those on the team now, never the author.
    let team = app
        .store
        .team(id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let mentions: Vec<i64> = mentions
        .into_iter()
        .filter(|u| {
            *u != user.id.0
                && team
                    .iter()
                    .any(|m| m.user_id == *u && m.removed_at.is_none())
        })
        .collect();
    let post = app
        .store
        .add_post(
            id,
            &NewPost {
                author: user.id,
                institution_id: me.institution_id,
                profession: me.profession,
                body: &text,
                urgent: sent.get("urgent") == "1",
                vitals,
                visit,
                mentions: &mentions,
                attachments: &attachments,
            },
            app.clock.now(),
        )
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    if !attachments.is_empty() {
        audit(
            &app,
            &ctx,
            &ext,
            "careteam.files_attached",
            Outcome::Ok,
            format!("patient:{id} post:{post} files:{}", attachments.len()),
        )
        .await;
    }
    if !mentions.is_empty() {
        super::notify_mentions(&app, &ctx, id, post, &mentions).await;
    }
    Ok(see_other(format!("/patients/{id}?done=posted")))
}

/// Only the registering institution's team members manage consent and the team.
pub(super) async fn owner(
    app: &AppState,
    ctx: &Ctx,
    ext: &Extensions,
    id: i64,
    action: &str,
) -> Result<(), PageError> {
    let (_, grant) = admitted(app, ctx, ext, id, action).await?;
    if grant != Grant::Registering {
        return Err(PageError::forbidden(ctx));
    }
    Ok(())
}
