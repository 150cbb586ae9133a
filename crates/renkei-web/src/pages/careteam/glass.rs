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
    review: Vec<(i64, String, String, String)>,
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
    let areas = coordinated_area_codes(user);
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
