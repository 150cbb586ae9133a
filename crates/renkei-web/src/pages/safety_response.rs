//! The response link of a safety check (`/r/{token}`): no login, no JavaScript, one small page
//! per step. Opening it records nothing but the first opening (a mail scanner or crawler that
//! follows it answers nothing); answering is a POST, redirected to the next step so a reload
//! does not send it again; an answer the same as the last one is not kept twice.

use super::safety_form::{self, DetailFields, QuickFields};
use crate::error::{Ctx, PageError};
use crate::i18n::{catalog, Catalog, Lang};
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, RawForm, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use renkei_domain::audit::token_hash;
use renkei_domain::institution::InstitutionKind;
use renkei_domain::safety::Answer;
use renkei_store::answers::QuickOutcome;
use renkei_store::safety::LinkTarget;
use std::sync::Arc;

/// What the response page shows.
pub enum Step {
    /// The quick answer.
    Quick(QuickFields),
    /// The details.
    Details(DetailFields),
    /// Thanks, with the answer as kept.
    Done,
    /// A link that cannot take answers: why, and what to do.
    Message(String),
}

#[derive(Template)]
#[template(path = "safety_respond.html")]
struct RespondPage {
    /// The page's language and its texts.
    lang: Lang,
    t: Arc<Catalog>,
    /// `?lang=en` when the page is in English, so its forms and links stay in English.
    lang_query: &'static str,
    csrf: String,
    token: String,
    title: String,
    drill: bool,
    institution: String,
    deadline: String,
    message: String,
    notice: Option<String>,
    error: Option<String>,
    step: Step,
    summary: Vec<(String, String)>,
}

/// `?saved=1` and the like after a step.
#[derive(Debug, serde::Deserialize, Default)]
pub struct After {
    /// The previous step was kept.
    pub saved: Option<String>,
    /// Nothing had changed.
    pub same: Option<String>,
}

fn page(ctx: &Ctx, token: &str, link: Option<&LinkTarget>, step: Step) -> RespondPage {
    let t = catalog(ctx.lang);
    RespondPage {
        lang: ctx.lang,
        lang_query: match ctx.lang {
            Lang::Ja => "",
            Lang::En => "?lang=en",
        },
        csrf: ctx.viewer.csrf_token().to_owned(),
        token: token.to_owned(),
        title: link.map(|l| l.check.title.clone()).unwrap_or_default(),
        drill: link.is_some_and(|l| l.check.kind == renkei_domain::safety::CheckKind::Drill),
        institution: link.map(|l| l.institution_name.clone()).unwrap_or_default(),
        deadline: link
            .map(|l| super::safety::jst_time_in(ctx.lang, &l.check.deadline))
            .unwrap_or_default(),
        message: link.map(|l| l.check.message.clone()).unwrap_or_default(),
        notice: None,
        error: None,
        step,
        summary: link
            .and_then(|l| l.answer.as_ref())
            .map(|a| super::safety::answer_summary(&t, a))
            .unwrap_or_default(),
        t,
    }
}

fn reply(ctx: &Ctx, status: StatusCode, page: &RespondPage) -> Result<Response, PageError> {
    let mut response = (status, render(ctx, page)?).into_response();
    // The link is a secret: keep it out of shared caches and referrers.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    Ok(response)
}

fn see_other(location: String) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// The link's target when it takes answers now; otherwise the page that says why.
async fn open_link(
    app: &AppState,
    ctx: &Ctx,
    token: &str,
) -> Result<Result<LinkTarget, Response>, PageError> {
    let link = if well_formed(token) {
        app.store
            .safety_link(token)
            .await
            .map_err(|e| PageError::store(ctx, e))?
    } else {
        None
    };
    let Some(link) = link else {
        let p = page(
            ctx,
            token,
            None,
            Step::Message(catalog(ctx.lang).get("safety.link_invalid")),
        );
        return Ok(Err(reply(ctx, StatusCode::NOT_FOUND, &p)?));
    };
    let now = renkei_store::time_text(app.clock.now());
    if !link.check.is_open(&now) {
        let p = page(
            ctx,
            token,
            Some(&link),
            Step::Message(catalog(ctx.lang).fill1(
                "safety.link_closed",
                "deadline",
                super::safety::jst_time_in(ctx.lang, &link.check.deadline),
            )),
        );
        return Ok(Err(reply(ctx, StatusCode::GONE, &p)?));
    }
    Ok(Ok(link))
}

fn hospital(link: &LinkTarget) -> bool {
    link.kind == InstitutionKind::Hospital
}

/// `GET /r/{token}`: the quick answer, filled with the last answer when there is one.
pub async fn quick(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
    Query(after): Query<After>,
) -> Result<Response, PageError> {
    let link = match open_link(&app, &ctx, &token).await? {
        Ok(link) => link,
        Err(response) => return Ok(response),
    };
    // Noted with the next group of answers; the form does not wait for a commit.
    app.answers.note_opened(&app.store, link.target_id);
    let t = catalog(ctx.lang);
    let fields = safety_form::quick_fields(&t, link.answer.as_ref().map(|a| &a.quick));
    let mut p = page(&ctx, &token, Some(&link), Step::Quick(fields));
    if after.same.is_some() {
        p.notice = Some(t.get("safety.notice_same"));
    }
    reply(&ctx, StatusCode::OK, &p)
}

/// `POST /r/{token}`: keeps the quick answer (the details given before stay), then the details.
pub async fn save_quick(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let t = catalog(ctx.lang);
    // In a surge this is the request that counts: it reads nothing itself. The answer goes to
    // the writer with the token's hash, and the batch resolves the link, refuses a closed
    // check and keeps the details given before.
    let quick = match safety_form::read_quick(&t, &body) {
        Ok(q) if well_formed(&token) => q,
        result => {
            let link = match open_link(&app, &ctx, &token).await? {
                Ok(link) => link,
                Err(response) => return Ok(response),
            };
            let mut p = page(
                &ctx,
                &token,
                Some(&link),
                Step::Quick(safety_form::quick_fields_typed(&t, &body)),
            );
            // The token is well formed here (open_link refuses others): the form was refused.
            p.error = result.err();
            return reply(&ctx, StatusCode::UNPROCESSABLE_ENTITY, &p);
        }
    };
    let now = renkei_store::time_text(app.clock.now());
    let outcome = app
        .answers
        .record_quick(&app.store, token_hash(&token), quick, now)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let next = match outcome {
        QuickOutcome::Saved(_) => "saved=1",
        QuickOutcome::Same => "same=1",
        // A forged link or a closed check: the page that says so.
        QuickOutcome::Unknown | QuickOutcome::Closed => {
            return Ok(match open_link(&app, &ctx, &token).await? {
                Err(response) => response,
                Ok(_) => see_other(format!("/r/{token}")),
            });
        }
    };
    Ok(see_other(format!(
        "/r/{token}/details?{next}{}",
        lang_suffix(&ctx)
    )))
}

/// Whether a token has the form of a link's token (32 hex digits).
fn well_formed(token: &str) -> bool {
    token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `&lang=en` on English pages, so the next step stays in the responder's language without a
/// cookie.
fn lang_suffix(ctx: &Ctx) -> &'static str {
    match ctx.lang {
        crate::i18n::Lang::En => "&lang=en",
        crate::i18n::Lang::Ja => "",
    }
}

/// `GET /r/{token}/details`.
pub async fn details(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
    Query(after): Query<After>,
) -> Result<Response, PageError> {
    let link = match open_link(&app, &ctx, &token).await? {
        Ok(link) => link,
        Err(response) => return Ok(response),
    };
    let Some(answer) = &link.answer else {
        return Ok(see_other(format!("/r/{token}")));
    };
    let t = catalog(ctx.lang);
    let fields = safety_form::detail_fields(&t, answer.details.as_ref(), hospital(&link));
    let mut p = page(&ctx, &token, Some(&link), Step::Details(fields));
    p.notice = if after.saved.is_some() {
        Some(t.get("safety.notice_saved"))
    } else if after.same.is_some() {
        Some(t.get("safety.notice_same"))
    } else {
        None
    };
    reply(&ctx, StatusCode::OK, &p)
}

/// `POST /r/{token}/details`.
pub async fn save_details(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let link = match open_link(&app, &ctx, &token).await? {
        Ok(link) => link,
        Err(response) => return Ok(response),
    };
    let Some(before) = link.answer.clone() else {
        return Ok(see_other(format!("/r/{token}")));
    };
    let now = renkei_store::time_text(app.clock.now());
    let t = catalog(ctx.lang);
    let details = match safety_form::read_details(
        &t,
        &body,
        hospital(&link),
        before.details.as_ref(),
        &now,
    ) {
        Ok(d) => d,
        Err(e) => {
            let mut p = page(
                &ctx,
                &token,
                Some(&link),
                Step::Details(safety_form::detail_fields_typed(&t, &body, hospital(&link))),
            );
            p.error = Some(e);
            return reply(&ctx, StatusCode::UNPROCESSABLE_ENTITY, &p);
        }
    };
    let answer = Answer {
        quick: before.quick.clone(),
        details: Some(details),
    };
    if answer != before {
        app.answers
            .record(&app.store, link.target_id, answer.clone(), None)
            .await
            .map_err(|e| PageError::store(&ctx, e))?;
    }
    let lang = lang_suffix(&ctx).replacen('&', "?", 1);
    Ok(see_other(format!("/r/{token}/done{lang}")))
}

/// `GET /r/{token}/done`: thanks, and the answer as kept.
pub async fn done(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let link = match open_link(&app, &ctx, &token).await? {
        Ok(link) => link,
        Err(response) => return Ok(response),
    };
    let p = page(&ctx, &token, Some(&link), Step::Done);
    reply(&ctx, StatusCode::OK, &p)
}
