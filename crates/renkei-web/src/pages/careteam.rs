//! Care-team information sharing (`/patients…`, `/hub/patients`): an institution registers a
//! patient, records the patient's consent, invites professionals of directory institutions into
//! the care team, and the team writes one timeline (posts, vitals with small charts, urgent
//! flags, read receipts, search). Every read of a patient goes through
//! `renkei_domain::careteam::decide` and into the audit chain (allowed or refused); anyone
//! refused gets the same 404 as for a patient that does not exist. A hub coordinator reaches a
//! patient only by breaking the glass with a reason, for an hour, flagged for review. Two-factor
//! login is required on every page here, whatever the policy says for the role.

use super::safety::{date_in, jst_time_in, see_other};
use super::shared::{form, form_all, own_institutions};
use crate::auth::access::client_of;
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::i18n::Lang;
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use renkei_domain::accounts::AccountRole;
use renkei_domain::audit::Outcome;
use renkei_domain::careteam::{
    decide, Asker, CareNeed, Consent, Consenter, EmergencyContact, Grant, Patient, PatientSex,
    Profession, Vitals,
};
use renkei_domain::institution::InstitutionKind;
use renkei_store::accounts::User;
use renkei_store::audit::AuditEvent;
use renkei_store::careteam::{NewPost, PatientRow};

/// Posts shown per page of the timeline.
const PAGE: i64 = 50;
/// How long a break-glass access lasts, minutes.
const GLASS_MINUTES: i64 = 60;
/// How far from the registering institution others are offered for the team, km.
const NEARBY_KM: f64 = 15.0;

/// Appends one event to the audit chain (a failure is logged, never shown).
async fn audit(
    app: &AppState,
    ctx: &Ctx,
    ext: &Extensions,
    action: &str,
    outcome: Outcome,
    target: String,
) {
    let event = AuditEvent::new(
        ctx.viewer.user().map(|u| u.id),
        action,
        outcome,
        target,
        client_of(ext),
    );
    if let Err(e) = app.store.append_audit(&event).await {
        tracing::error!(error = %e, "could not audit a patient access");
    }
}

/// The signed-in user, who must have a second factor here.
fn user_with_second_factor(ctx: &Ctx) -> Result<&User, PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::not_found(ctx))?;
    if !user.totp_enabled {
        return Err(PageError::forbidden(ctx));
    }
    Ok(user)
}

/// What `decide` needs about the viewer; with `patient`, their open break-glass reason for it.
async fn asker_of(
    app: &AppState,
    ctx: &Ctx,
    user: &User,
    patient: Option<i64>,
) -> Result<Asker, PageError> {
    let break_glass = match patient {
        Some(id) => app
            .store
            .break_glass_reason(id, user.id, app.clock.now())
            .await
            .map_err(|e| PageError::store(ctx, e))?,
        None => None,
    };
    Ok(Asker {
        user_id: user.id.0,
        institutions: own_institutions(user),
        coordinates: coordinated_areas(user),
        break_glass,
    })
}

/// The patient, if `decide` lets the viewer in, and how; every decision is audited. Refused:
/// the same 404 as for no patient.
async fn admitted(
    app: &AppState,
    ctx: &Ctx,
    ext: &Extensions,
    id: i64,
    action: &str,
) -> Result<(PatientRow, Grant), PageError> {
    let user = user_with_second_factor(ctx)?;
    let target = format!("patient:{id}");
    let Some(record) = app
        .store
        .access_record(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?
    else {
        audit(
            app,
            ctx,
            ext,
            action,
            Outcome::Denied,
            format!("{target} absent"),
        )
        .await;
        return Err(PageError::not_found(ctx));
    };
    let asker = asker_of(app, ctx, user, Some(id)).await?;
    match decide(&asker, &record) {
        Ok(grant) => {
            let how = match grant {
                Grant::Registering => "registering",
                Grant::Member => "member",
                Grant::BreakGlass => "break_glass",
            };
            audit(
                app,
                ctx,
                ext,
                action,
                Outcome::Ok,
                format!("{target} {how}"),
            )
            .await;
            let patient = app
                .store
                .patient(id)
                .await
                .map_err(|e| PageError::store(ctx, e))?
                .ok_or_else(|| PageError::not_found(ctx))?;
            Ok((patient, grant))
        }
        Err(refusal) => {
            audit(
                app,
                ctx,
                ext,
                action,
                Outcome::Denied,
                format!("{target} {refusal:?}"),
            )
            .await;
            Err(PageError::not_found(ctx))
        }
    }
}

fn age(lang: Lang, born: chrono::NaiveDate, today: chrono::NaiveDate) -> String {
    let years = today.years_since(born).unwrap_or(0);
    match lang {
        Lang::Ja => format!("{years}歳"),
        Lang::En => format!("{years} y"),
    }
}

// ---------------------------------------------------------------------------------------------
// The list and registration.

/// A patient as the list shows them.
pub struct PatientItem {
    id: i64,
    name: String,
    kana: String,
    age: String,
    registered: String,
    needs: String,
}

#[derive(Template)]
#[template(path = "patients.html")]
struct ListPage {
    chrome: Chrome,
    q: String,
    items: Vec<PatientItem>,
    can_register: bool,
}

/// `GET /patients`: the patients on whose care team the viewer is (nobody else's, not even a
/// count), with a search by name or reading.
pub async fn list(
    State(app): State<AppState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let user = user_with_second_factor(&ctx)?;
    let q = form(query.unwrap_or_default().as_bytes(), "q");
    let today = super::power::today(&app);
    let rows = app
        .store
        .patients_of_member(user.id, &q, 200)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    // On the team is not enough: without consent (or when excluded) a member from another
    // institution must not even see the name in the list.
    let asker = asker_of(&app, &ctx, user, None).await?;
    let mut visible = Vec::with_capacity(rows.len());
    for row in rows {
        let record = app
            .store
            .access_record(row.id)
            .await
            .map_err(|e| PageError::store(&ctx, e))?;
        if record.is_some_and(|r| decide(&asker, &r).is_ok()) {
            visible.push(row);
        }
    }
    let rows = visible;
    let page = ListPage {
        chrome: Chrome::new(&ctx, "nav.careteam", false),
        items: rows
            .iter()
            .map(|p| PatientItem {
                id: p.id,
                name: p.patient.name.clone(),
                kana: p.patient.kana.clone(),
                age: age(lang, p.patient.birth_date, today),
                registered: p.registered_name.clone(),
                needs: p
                    .patient
                    .needs
                    .iter()
                    .map(|n| lang.pick(n.label_ja(), n.label_en()))
                    .collect::<Vec<_>>()
                    .join("・"),
            })
            .collect(),
        can_register: !own_institutions(user).is_empty(),
        q,
    };
    Ok(render(&ctx, &page)?.into_response())
}

#[derive(Template)]
#[template(path = "patient_new.html")]
struct NewPage {
    chrome: Chrome,
    error: Option<String>,
    institutions: Vec<(i64, String)>,
    professions: Vec<(&'static str, &'static str, bool)>,
    sexes: Vec<(&'static str, &'static str, bool)>,
    needs: Vec<(&'static str, &'static str, bool)>,
    name: String,
    kana: String,
    birth_date: String,
    address: String,
    contact_name: String,
    contact_relation: String,
    contact_phone: String,
}

async fn new_page(
    app: &AppState,
    ctx: &Ctx,
    body: &[u8],
    error: Option<String>,
) -> Result<NewPage, PageError> {
    let lang = ctx.lang;
    let user = user_with_second_factor(ctx)?;
    let mut institutions = Vec::new();
    for id in own_institutions(user) {
        let e = super::shared::entry(app, ctx, id).await?;
        institutions.push((id, e.fields.name));
    }
    let chosen_profession = form(body, "profession");
    let chosen_sex = form(body, "sex");
    let chosen_needs = form_all(body, "needs");
    Ok(NewPage {
        chrome: Chrome::new(ctx, "nav.careteam", false),
        error,
        institutions,
        professions: Profession::ALL
            .iter()
            .filter(|p| **p != Profession::HubCoordinator)
            .map(|p| {
                (
                    p.code(),
                    lang.pick(p.label_ja(), p.label_en()),
                    p.code() == chosen_profession,
                )
            })
            .collect(),
        sexes: PatientSex::ALL
            .iter()
            .map(|s| {
                (
                    s.code(),
                    lang.pick(s.label_ja(), s.label_en()),
                    s.code() == chosen_sex,
                )
            })
            .collect(),
        needs: CareNeed::ALL
            .iter()
            .map(|n| {
                (
                    n.code(),
                    lang.pick(n.label_ja(), n.label_en()),
                    chosen_needs.iter().any(|c| c == n.code()),
                )
            })
            .collect(),
        name: form(body, "name"),
        kana: form(body, "kana"),
        birth_date: form(body, "birth_date"),
        address: form(body, "address"),
        contact_name: form(body, "contact_name"),
        contact_relation: form(body, "contact_relation"),
        contact_phone: form(body, "contact_phone"),
    })
}

/// `GET /patients/new`.
pub async fn new_form(State(app): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    let page = new_page(&app, &ctx, b"", None).await?;
    if page.institutions.is_empty() {
        return Err(PageError::forbidden(&ctx));
    }
    Ok(render(&ctx, &page)?.into_response())
}

/// `POST /patients/new`: registers a patient of one of the viewer's institutions; the viewer
/// joins the team with their profession. Nobody outside sees the patient before consent.
pub async fn register(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let user = user_with_second_factor(&ctx)?;
    let own = own_institutions(user);
    let institution: i64 = form(&body, "institution")
        .parse()
        .ok()
        .filter(|i| own.contains(i))
        .or(own.first().copied())
        .ok_or_else(|| PageError::forbidden(&ctx))?;
    let today = super::power::today(&app);
    let read = || -> Result<(Patient, Profession), String> {
        let profession = Profession::from_code(&form(&body, "profession"))
            .filter(|p| *p != Profession::HubCoordinator)
            .ok_or("あなたの職種を選んでください")?;
        let birth = renkei_domain::power::read_day(&form(&body, "birth_date"), "生年月日")?;
        let contact_name = form(&body, "contact_name");
        let contacts =
            if contact_name.trim().is_empty() && form(&body, "contact_phone").trim().is_empty() {
                Vec::new()
            } else {
                vec![EmergencyContact {
                    name: contact_name.trim().to_owned(),
                    relation: form(&body, "contact_relation").trim().to_owned(),
                    phone: form(&body, "contact_phone").trim().to_owned(),
                }]
            };
        let patient = Patient {
            name: form(&body, "name").trim().to_owned(),
            kana: form(&body, "kana").trim().to_owned(),
            birth_date: birth,
            sex: PatientSex::from_code(&form(&body, "sex")).ok_or("性別を選んでください")?,
            address: form(&body, "address").trim().to_owned(),
            needs: form_all(&body, "needs")
                .iter()
                .filter_map(|c| CareNeed::from_code(c))
                .collect(),
            contacts,
        };
        patient.check(today)?;
        Ok((patient, profession))
    };
    let (patient, profession) = match read() {
        Ok(x) => x,
        Err(m) => {
            let page = new_page(&app, &ctx, &body, Some(m)).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&ctx, &page)?).into_response());
        }
    };
    let id = app
        .store
        .register_patient(institution, &patient, user.id, profession, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &ext,
        "careteam.registered",
        Outcome::Ok,
        format!("patient:{id}"),
    )
    .await;
    Ok(see_other(format!("/patients/{id}?done=registered")))
}

// ---------------------------------------------------------------------------------------------
// A patient.

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
    consent_history: Vec<String>,
    team: Vec<MemberView>,
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

fn vitals_text(lang: Lang, v: &Vitals) -> String {
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
    let today = super::power::today(app);
    let q = query_value(query, "q");
    let before: Option<i64> = query_value(query, "before").parse().ok();
    let posts = app
        .store
        .posts(id, before, &q, PAGE)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    if grant != Grant::BreakGlass {
        if let Some(newest) = posts.first() {
            app.store
                .mark_read(id, user.id, newest.id, app.clock.now())
                .await
                .map_err(|e| PageError::store(ctx, e))?;
        }
    }
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
        .vitals_since(id, today - chrono::Duration::days(30))
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
            super::shared::entry(app, ctx, from).await?;
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
    let p = &row.patient;
    let done = query_value(query, "done");
    let t = crate::i18n::catalog(lang);
    Ok(PatientPage {
        chrome: Chrome::new(ctx, "nav.careteam", false),
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
        needs: p
            .needs
            .iter()
            .map(|n| lang.pick(n.label_ja(), n.label_en()))
            .collect::<Vec<_>>()
            .join("・"),
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
                format!(
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
                )
            })
            .collect(),
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
    let reg = super::shared::entry(app, ctx, registered_by).await?;
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

async fn refused(
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
async fn membership(
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

/// `POST /patients/{id}/posts`: a post (text, urgent flag, vitals) by a team member.
pub async fn post(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (_, grant) = admitted(&app, &ctx, &ext, id, "careteam.post").await?;
    if grant == Grant::BreakGlass {
        return Err(PageError::forbidden(&ctx));
    }
    let me = membership(&app, &ctx, id).await?;
    let text = form(&body, "body");
    let any_vitals = ["systolic", "diastolic", "pulse", "spo2", "temperature"]
        .iter()
        .any(|f| !form(&body, f).trim().is_empty());
    let vitals = if any_vitals {
        match Vitals::read(
            &form(&body, "systolic"),
            &form(&body, "diastolic"),
            &form(&body, "pulse"),
            &form(&body, "spo2"),
            &form(&body, "temperature"),
        ) {
            Ok(v) => Some(v),
            Err(m) => return refused(&app, &ctx, &ext, id, m).await,
        }
    } else {
        None
    };
    if text.trim().is_empty() && vitals.is_none() {
        return refused(
            &app,
            &ctx,
            &ext,
            id,
            "本文かバイタルを書いてください".into(),
        )
        .await;
    }
    if text.chars().count() > 4000 {
        return refused(
            &app,
            &ctx,
            &ext,
            id,
            "本文は4000文字までにしてください".into(),
        )
        .await;
    }
    let user = user_with_second_factor(&ctx)?;
    app.store
        .add_post(
            id,
            &NewPost {
                author: user.id,
                institution_id: me.institution_id,
                profession: me.profession,
                body: &text,
                urgent: form(&body, "urgent") == "1",
                vitals,
            },
            app.clock.now(),
        )
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    Ok(see_other(format!("/patients/{id}?done=posted")))
}

/// Only the registering institution's team members manage consent and the team.
async fn owner(
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

/// `POST /patients/{id}/consent`: records the consent in force (who, when, exclusions).
pub async fn consent(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    owner(&app, &ctx, &ext, id, "careteam.consent").await?;
    let today = super::power::today(&app);
    let given = match renkei_domain::power::read_day(&form(&body, "given_on"), "同意した日") {
        Ok(d) if d <= today => d,
        Ok(_) => {
            return refused(
                &app,
                &ctx,
                &ext,
                id,
                "同意した日が今日より後になっています".into(),
            )
            .await
        }
        Err(m) => return refused(&app, &ctx, &ext, id, m).await,
    };
    let consenter = if form(&body, "consenter") == "representative" {
        let name = form(&body, "representative_name").trim().to_owned();
        let relation = form(&body, "representative_relation").trim().to_owned();
        if name.is_empty() || relation.is_empty() {
            return refused(
                &app,
                &ctx,
                &ext,
                id,
                "代理で同意した人の名前と続柄を書いてください".into(),
            )
            .await;
        }
        Consenter::Representative { name, relation }
    } else {
        Consenter::Patient
    };
    let consent = Consent {
        consenter,
        given_on: given,
        excluded_institutions: form_all(&body, "exclude_institution")
            .iter()
            .filter_map(|v| v.parse().ok())
            .collect(),
        excluded_professions: form_all(&body, "exclude_profession")
            .iter()
            .filter_map(|c| Profession::from_code(c))
            .collect(),
        withdrawn: false,
    };
    let user = user_with_second_factor(&ctx)?;
    app.store
        .record_consent(id, &consent, user.id, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &ext,
        "careteam.consent_recorded",
        Outcome::Ok,
        format!("patient:{id}"),
    )
    .await;
    Ok(see_other(format!("/patients/{id}?done=consented")))
}

/// `POST /patients/{id}/consent/withdraw`: access outside the registering institution ends now.
pub async fn withdraw(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    owner(&app, &ctx, &ext, id, "careteam.consent").await?;
    let user = user_with_second_factor(&ctx)?;
    app.store
        .withdraw_consent(id, user.id, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &ext,
        "careteam.consent_withdrawn",
        Outcome::Ok,
        format!("patient:{id}"),
    )
    .await;
    Ok(see_other(format!("/patients/{id}?done=withdrawn")))
}

/// `POST /patients/{id}/team`: invites a staff member of a directory institution with their
/// profession.
pub async fn invite(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    owner(&app, &ctx, &ext, id, "careteam.invite").await?;
    let institution: Option<i64> = form(&body, "institution").parse().ok();
    let user: Option<i64> = form(&body, "user").parse().ok();
    let profession = Profession::from_code(&form(&body, "profession"))
        .filter(|p| *p != Profession::HubCoordinator);
    let (Some(institution), Some(invitee), Some(profession)) = (institution, user, profession)
    else {
        return refused(
            &app,
            &ctx,
            &ext,
            id,
            "医療機関・職員・職種を選んでください".into(),
        )
        .await;
    };
    // The invitee must work at that institution, and it must be in the directory.
    super::shared::entry(&app, &ctx, institution).await?;
    let staff = app
        .store
        .institution_staff(institution)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    if !staff.iter().any(|(u, _)| *u == invitee) {
        return refused(
            &app,
            &ctx,
            &ext,
            id,
            "その職員はこの医療機関に所属していません".into(),
        )
        .await;
    }
    let by = user_with_second_factor(&ctx)?.id;
    app.store
        .add_team_member(id, invitee, institution, profession, by, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &ext,
        "careteam.member_added",
        Outcome::Ok,
        format!("patient:{id} user:{invitee}"),
    )
    .await;
    Ok(see_other(format!("/patients/{id}?done=invited")))
}

/// `POST /patients/{id}/team/{member}/remove`: the member's access ends at once.
pub async fn remove(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    Path((id, member)): Path<(i64, i64)>,
) -> Result<Response, PageError> {
    owner(&app, &ctx, &ext, id, "careteam.remove").await?;
    if !app
        .store
        .remove_team_member(id, member, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    {
        return Err(PageError::not_found(&ctx));
    }
    audit(
        &app,
        &ctx,
        &ext,
        "careteam.member_removed",
        Outcome::Ok,
        format!("patient:{id} member:{member}"),
    )
    .await;
    Ok(see_other(format!("/patients/{id}?done=removed")))
}

// ---------------------------------------------------------------------------------------------
// Break-glass for hub coordinators.

#[derive(Template)]
#[template(path = "hub_patients.html")]
struct GlassPage {
    chrome: Chrome,
    error: Option<String>,
    results: Vec<(i64, String, String, String)>,
    reason: String,
    name: String,
    born: String,
    review: Vec<(i64, String, String, String)>,
}

fn coordinated_areas(user: &User) -> Vec<String> {
    user.memberships
        .iter()
        .filter(|m| m.role == AccountRole::HubCoordinator)
        .filter_map(|m| m.organisation.area_code.clone())
        .collect()
}

async fn glass_page(
    app: &AppState,
    ctx: &Ctx,
    error: Option<String>,
    body: &[u8],
    results: Vec<PatientRow>,
) -> Result<GlassPage, PageError> {
    let lang = ctx.lang;
    let user = user_with_second_factor(ctx)?;
    let areas = coordinated_areas(user);
    let review = app
        .store
        .break_glass_to_review(&areas)
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .into_iter()
        .map(|(id, patient, who, reason, at)| {
            (
                id,
                format!("#{patient}"),
                who,
                format!("{}：{reason}", jst_time_in(lang, &at)),
            )
        })
        .collect();
    Ok(GlassPage {
        chrome: Chrome::new(ctx, "nav.careteam", false),
        error,
        results: results
            .iter()
            .map(|p| {
                (
                    p.id,
                    p.patient.name.clone(),
                    p.patient.kana.clone(),
                    p.registered_name.clone(),
                )
            })
            .collect(),
        reason: form(body, "reason"),
        name: form(body, "name"),
        born: form(body, "born"),
        review,
    })
}

/// `GET /hub/patients`: a coordinator's emergency search (name and date of birth, with a
/// reason) and the emergency accesses of their areas awaiting review.
pub async fn glass(State(app): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    let page = glass_page(&app, &ctx, None, b"", Vec::new()).await?;
    Ok(render(&ctx, &page)?.into_response())
}

/// `POST /hub/patients`: searches with a reason; every search is audited and flagged.
pub async fn glass_search(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let user = user_with_second_factor(&ctx)?;
    let areas = coordinated_areas(user);
    let reason = form(&body, "reason");
    let again = |m: String| {
        let app = app.clone();
        let ctx = ctx.clone();
        let body = body.clone();
        async move {
            let page = glass_page(&app, &ctx, Some(m), &body, Vec::new()).await?;
            Ok::<Response, PageError>(
                (StatusCode::UNPROCESSABLE_ENTITY, render(&ctx, &page)?).into_response(),
            )
        }
    };
    if reason.trim().chars().count() < 4 {
        return again("緊急に閲覧する理由を書いてください（あとで確認されます）".into()).await;
    }
    let Ok(born) = renkei_domain::power::read_day(&form(&body, "born"), "生年月日") else {
        return again(
            "生年月日を入れてください（氏名と生年月日の両方が合う患者だけが見つかります）".into(),
        )
        .await;
    };
    let found = app
        .store
        .patients_for_break_glass(&areas, &form(&body, "name"), born, 20)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &ext,
        "careteam.break_glass_search",
        Outcome::Ok,
        format!(
            "found:{} reason:{}",
            found.len(),
            reason.trim().chars().take(100).collect::<String>()
        ),
    )
    .await;
    let page = glass_page(&app, &ctx, None, &body, found).await?;
    Ok(render(&ctx, &page)?.into_response())
}

/// `POST /patients/{id}/break-glass`: a coordinator of the patient's area opens emergency
/// access for an hour, with the reason; flagged for review.
pub async fn break_glass(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let user = user_with_second_factor(&ctx)?;
    let reason = form(&body, "reason");
    let areas = coordinated_areas(user);
    let record = app
        .store
        .access_record(id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let allowed =
        record.is_some_and(|r| areas.contains(&r.area)) && reason.trim().chars().count() >= 4;
    if !allowed {
        audit(
            &app,
            &ctx,
            &ext,
            "careteam.break_glass",
            Outcome::Denied,
            format!("patient:{id}"),
        )
        .await;
        return Err(PageError::not_found(&ctx));
    }
    app.store
        .open_break_glass(id, user.id, &reason, GLASS_MINUTES, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &ext,
        "careteam.break_glass",
        Outcome::Ok,
        format!(
            "patient:{id} reason:{}",
            reason.trim().chars().take(100).collect::<String>()
        ),
    )
    .await;
    Ok(see_other(format!("/patients/{id}")))
}

// ---------------------------------------------------------------------------------------------
// Exports: the FHIR record, the audit evidence, the printable summary.

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
    let mut r = super::shared::download(
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
    let now = renkei_store::time_text(app.clock.now());
    let bundle = crate::fhir::careteam::bundle(
        &crate::fhir::base(&app),
        &row,
        &team,
        &consents,
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

/// `POST /hub/patients/review/{id}`: a coordinator of the patient's area marks an emergency
/// access reviewed (a colleague's, or their own after the fact).
pub async fn review_glass(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let user = user_with_second_factor(&ctx)?;
    if !app
        .store
        .review_break_glass(id, &coordinated_areas(user), user.id, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    {
        return Err(PageError::not_found(&ctx));
    }
    audit(
        &app,
        &ctx,
        &ext,
        "careteam.break_glass_reviewed",
        Outcome::Ok,
        format!("break_glass:{id}"),
    )
    .await;
    Ok(see_other("/hub/patients".to_owned()))
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
    let today = super::power::today(&app);
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
        .vitals_since(id, today - chrono::Duration::days(30))
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
        needs: p
            .needs
            .iter()
            .map(|n| lang.pick(n.label_ja(), n.label_en()))
            .collect::<Vec<_>>()
            .join("・"),
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
