//! Answers taken by phone (`/hub/safety/{id}/targets/{target}/phone`): the coordinator enters
//! the whole answer on one form; it is kept marked as taken by phone, with who entered it.

use super::safety::{audit, now_text, see_other, store_error, visible_check};
use super::safety_form::{self, DetailFields, QuickFields};
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::i18n::catalog;
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, RawForm, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use renkei_domain::institution::InstitutionKind;
use renkei_domain::safety::Answer;
use renkei_store::safety::{CheckRecord, TargetRow};

#[derive(Template)]
#[template(path = "safety_phone.html")]
struct PhonePage {
    chrome: Chrome,
    id: i64,
    target: i64,
    title: String,
    institution: String,
    phone: String,
    quick: QuickFields,
    details: DetailFields,
    error: Option<String>,
}

async fn phone_target(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    target: i64,
) -> Result<(CheckRecord, TargetRow), PageError> {
    let check = visible_check(app, ctx, id, true).await?;
    let row = app
        .store
        .safety_targets(id)
        .await
        .map_err(store_error(ctx))?
        .into_iter()
        .find(|t| t.id == target)
        .ok_or_else(|| PageError::not_found(ctx))?;
    Ok((check, row))
}

impl PhonePage {
    /// The form for one target with the given fields.
    fn new(
        ctx: &Ctx,
        check: CheckRecord,
        row: &TargetRow,
        (quick, details): (QuickFields, DetailFields),
        error: Option<String>,
    ) -> Self {
        PhonePage {
            chrome: Chrome::new(ctx, "nav.disaster", false),
            id: check.id,
            target: row.id,
            title: check.title,
            institution: row.institution.name.clone(),
            phone: row.institution.phone.clone().unwrap_or_default(),
            quick,
            details,
            error,
        }
    }
}

/// `GET /hub/safety/{id}/targets/{target}/phone`: the whole answer on one form, filled with
/// the last answer.
pub async fn phone_form(
    State(app): State<AppState>,
    ctx: Ctx,
    Path((id, target)): Path<(i64, i64)>,
) -> Result<Response, PageError> {
    let (check, row) = phone_target(&app, &ctx, id, target).await?;
    let hospital = row.institution.kind == InstitutionKind::Hospital;
    let t = catalog(ctx.lang);
    let fields = (
        safety_form::quick_fields(&t, row.answer.as_ref().map(|a| &a.quick)),
        safety_form::detail_fields(
            &t,
            row.answer.as_ref().and_then(|a| a.details.as_ref()),
            hospital,
        ),
    );
    let page = PhonePage::new(&ctx, check, &row, fields, None);
    Ok(render(&ctx, &page)?.into_response())
}

/// `POST /hub/safety/{id}/targets/{target}/phone`: keeps the answer, marked as taken by phone
/// by this coordinator.
pub async fn save_phone(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path((id, target)): Path<(i64, i64)>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (check, row) = phone_target(&app, &ctx, id, target).await?;
    let hospital = row.institution.kind == InstitutionKind::Hospital;
    let before = row.answer.as_ref().and_then(|a| a.details.as_ref());
    let t = catalog(ctx.lang);
    let read = safety_form::read_quick(&t, &body).and_then(|quick| {
        safety_form::read_details(&t, &body, hospital, before, &now_text(&app)).map(|details| {
            Answer {
                quick,
                details: Some(details),
            }
        })
    });
    let closed = !check.is_open(&now_text(&app));
    let answer = match read {
        Ok(a) if !closed => a,
        result => {
            let fields = (
                safety_form::quick_fields_typed(&t, &body),
                safety_form::detail_fields_typed(&t, &body, hospital),
            );
            let error = match result {
                Err(e) => e,
                Ok(_) => t.get("safety.err_closed"),
            };
            let page = PhonePage::new(&ctx, check, &row, fields, Some(error));
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&ctx, &page)?).into_response());
        }
    };
    let user = ctx.viewer.signed_in().map(|u| u.id);
    app.answers
        .record(&app.store, target, answer, user)
        .await
        .map_err(store_error(&ctx))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "safety.answer_by_phone",
        format!("safety_check:{id} target:{target}"),
    )
    .await;
    Ok(see_other(format!("/hub/safety/{id}?done=phone")))
}
