//! The patient list and registration (`/patients`, `/patients/new`).

use super::*;

/// A patient as the list shows them.
pub struct PatientItem {
    id: i64,
    name: String,
    kana: String,
    age: String,
    registered: String,
    needs: String,
    /// Posts addressed to the viewer not yet seen.
    mentions: i64,
}

#[derive(Template)]
#[template(path = "patients.html")]
struct ListPage {
    chrome: Chrome,
    q: String,
    items: Vec<PatientItem>,
    /// More patients matched than are listed.
    more: bool,
    can_register: bool,
    /// The viewer's institutions, for their 在宅医療情報連携加算 evidence.
    evidence: Vec<(i64, String)>,
}

/// Patients listed at most (narrow with the search).
const LISTED: usize = 200;
/// Memberships read at a time while filling the list.
const CHUNK: i64 = 256;

/// `GET /patients`: the patients on whose care team the viewer is (nobody else's, not even a
/// count), newest first, with a search by name or reading.
pub async fn list(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let lang = ctx.lang;
    let user = user_with_second_factor(&ctx)?;
    let q = form(query.unwrap_or_default().as_bytes(), "q");
    let today = crate::clock::today(&app);
    // On the team is not enough: without consent (or when excluded) a member from another
    // institution must not even see the name in the list. Rows come a chunk at a time, newest
    // first, and are decided in memory until the page is full.
    let asker = asker_of(&app, &ctx, user, None).await?;
    let mut visible: Vec<PatientRow> = Vec::new();
    let mut offset = 0;
    loop {
        let chunk = app
            .store
            .member_records(user.id, &q, (offset, CHUNK))
            .await
            .map_err(|e| PageError::store(&ctx, e))?;
        let last = (chunk.len() as i64) < CHUNK;
        offset += chunk.len() as i64;
        visible.extend(
            chunk
                .into_iter()
                .filter(|(_, record)| decide(&asker, record).is_ok())
                .map(|(row, _)| row),
        );
        if last || visible.len() > LISTED {
            break;
        }
    }
    let more = visible.len() > LISTED;
    visible.truncate(LISTED);
    let rows = visible;
    // The list shows names, ages and care needs: on record like every read of patient data
    // (which patients were shown and whether by a name search; never the search words).
    let shown: Vec<String> = rows.iter().map(|p| p.id.to_string()).collect();
    let how = if q.is_empty() { "list" } else { "search" };
    audit(
        &app,
        &ctx,
        &ext,
        "careteam.list",
        Outcome::Ok,
        format!("{how}:patients:{}", shown.join(",")),
    )
    .await;
    let mentions = app
        .store
        .unseen_mentions(user.id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let mut evidence = Vec::new();
    for id in own_institutions(user) {
        let name = crate::pages::shared::entry(&app, &ctx, id)
            .await?
            .fields
            .name;
        evidence.push((id, name));
    }
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
                needs: needs_text(lang, &p.patient.needs),
                mentions: mentions
                    .iter()
                    .find(|(patient, _)| *patient == p.id)
                    .map_or(0, |(_, n)| *n),
            })
            .collect(),
        more,
        can_register: !own_institutions(user).is_empty(),
        evidence,
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
        let e = crate::pages::shared::entry(app, ctx, id).await?;
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
    let today = crate::clock::today(&app);
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
