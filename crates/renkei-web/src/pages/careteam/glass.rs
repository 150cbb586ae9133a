//! Break-glass: a hub coordinator's emergency access with a reason, and its review.

use super::*;

#[derive(Template)]
#[template(path = "hub_patients.html")]
struct GlassPage {
    chrome: Chrome,
    error: Option<String>,
    results: Vec<(i64, String, String, String)>,
    reason: String,
    name: String,
    born: String,
    review: Vec<(i64, String, String, String, bool)>,
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
    let areas = coordinated_area_codes(user);
    let review = app
        .store
        .break_glass_to_review(&areas)
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .into_iter()
        .map(|(id, patient, who, reason, at, opener)| {
            (
                id,
                format!("#{patient}"),
                who,
                format!("{}：{reason}", jst_time_in(lang, &at)),
                opener == user.id.0,
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
    let areas = coordinated_area_codes(user);
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
    if let Err(m) = renkei_domain::careteam::check_glass_reason(&reason) {
        return again(m).await;
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
/// access for an hour. The form carries the name and date of birth the patient was found by
/// (no opening by id alone: an id that does not match them, an unknown id and a patient of
/// another area all answer "not found" alike) and the reason; the registering institution is
/// mailed at once, and the opening waits for another coordinator's review.
pub async fn break_glass(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let user = user_with_second_factor(&ctx)?;
    let reason = form(&body, "reason");
    let areas = coordinated_area_codes(user);
    let record = app
        .store
        .access_record(id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let identified = match renkei_domain::power::read_day(&form(&body, "born"), "生年月日") {
        Ok(born) => app
            .store
            .patients_for_break_glass(&areas, &form(&body, "name"), born, 20)
            .await
            .map_err(|e| PageError::store(&ctx, e))?
            .iter()
            .any(|p| p.id == id),
        Err(_) => false,
    };
    let record = record.filter(|r| areas.contains(&r.area) && identified);
    let allowed = record.is_some() && renkei_domain::careteam::check_glass_reason(&reason).is_ok();
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
    if let Some(record) = &record {
        tell_the_registering_institution(&app, record.registered_by, id, user, &reason).await;
    }
    Ok(see_other(format!("/patients/{id}")))
}

/// Mails the registering institution that its patient's record was opened in an emergency (by
/// whom, why, until when); the patient is named by number only.
async fn tell_the_registering_institution(
    app: &AppState,
    institution: i64,
    patient: i64,
    user: &User,
    reason: &str,
) {
    let Ok(Some((_, Some(to)))) = app.store.confirmation_of(institution).await else {
        return;
    };
    let until = crate::clock::jst_text(&crate::clock::db_text(
        app.clock.now() + chrono::Duration::minutes(GLASS_MINUTES),
    ));
    let body = format!(
        "貴院が登録した患者（Renkei の患者番号 {patient}）の記録を、拠点のコーディネーター {who} が緊急に閲覧しました。\n\n理由：{reason}\n閲覧できる期限：{until}\n\n\
         この閲覧は監査ログに記録され、他のコーディネーターが確認します。心当たりがない場合は、拠点に連絡してください。\n\n---\n\
         A hub coordinator ({who}) opened the record of patient no. {patient}, registered by your institution, in an emergency (until {until} JST). \
         It is on record and will be reviewed by another coordinator.\n",
        who = user.display_name,
        reason = reason.trim(),
    );
    if let Err(e) = app
        .mailer
        .send(
            &app.store,
            &to,
            "【Renkei】患者記録の緊急閲覧 / Emergency access to a patient's record",
            &body,
        )
        .await
    {
        tracing::error!(error = %e, "break-glass notice could not be queued");
    }
}

/// `POST /hub/patients/review/{id}`: another coordinator of the patient's area marks an
/// emergency access reviewed (never the one who opened it).
pub async fn review_glass(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let user = user_with_second_factor(&ctx)?;
    if !app
        .store
        .review_break_glass(id, &coordinated_area_codes(user), user.id, app.clock.now())
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
