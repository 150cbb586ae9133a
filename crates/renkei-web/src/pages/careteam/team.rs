//! Consent (record, withdraw) and the care team (invite, remove), by the registering institution.

use super::*;

/// `POST /patients/{id}/consent` (urlencoded, or multipart with the signed form as
/// `consent_form`, a PDF or photo): records the consent in force (who, when, exclusions).
pub async fn consent(
    State(app): State<AppState>,
    ctx: Ctx,
    ext: Extensions,
    Path(id): Path<i64>,
    request: axum::extract::Request,
) -> Result<Response, PageError> {
    owner(&app, &ctx, &ext, id, "careteam.consent").await?;
    let sent = match Submitted::read(request, &app).await {
        Ok(s) => s,
        Err(m) => return refused(&app, &ctx, &ext, id, m).await,
    };
    let signed = sent.files_of("consent_form");
    let form_file = match checked_files(&app, &ctx, &ext, id, &signed[..signed.len().min(1)]).await
    {
        Ok(mut files) => files.pop(),
        Err(m) => return refused(&app, &ctx, &ext, id, m).await,
    };
    let today = crate::clock::today(&app);
    let given = match renkei_domain::power::read_day(&sent.get("given_on"), "同意した日") {
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
    let consenter = if sent.get("consenter") == "representative" {
        let name = sent.get("representative_name").trim().to_owned();
        let relation = sent.get("representative_relation").trim().to_owned();
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
        excluded_institutions: sent
            .all("exclude_institution")
            .iter()
            .filter_map(|v| v.parse().ok())
            .collect(),
        excluded_professions: sent
            .all("exclude_profession")
            .iter()
            .filter_map(|c| Profession::from_code(c))
            .collect(),
        withdrawn: false,
    };
    let user = user_with_second_factor(&ctx)?;
    app.store
        .record_consent(id, &consent, form_file.as_ref(), user.id, app.clock.now())
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
    crate::pages::shared::entry(&app, &ctx, institution).await?;
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
