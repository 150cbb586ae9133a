//! The answer form a survey's link opens (`/surveys/answer/{token}`, no sign-in: the signed
//! link is the key) and the coordinator's preview of it. Each question says what was wrong
//! with its answer and keeps what was typed; a link answered already, or a survey closed, says
//! so plainly instead of taking the answers.

use super::{own_survey, when_in, LINK_PURPOSE};
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::pages::home::render;
use crate::pages::safety::{audit, date_in};
use crate::pages::shared::form_all;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, RawForm, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use renkei_domain::surveys::{answer_text, read_answers, Answer, Question, QuestionKind};
use renkei_store::surveys::{Answered, RecipientRow, SurveyRow};

/// An option of a choice or scale question.
pub struct OptionView {
    value: String,
    label: String,
    checked: bool,
}

/// A question of the form.
pub struct QuestionView {
    n: usize,
    field: String,
    text: String,
    kind: &'static str,
    required: bool,
    options: Vec<OptionView>,
    low: String,
    high: String,
    unit: String,
    value: String,
    error: Option<String>,
}

fn question_view(i: usize, q: &Question, typed: &[String], error: Option<String>) -> QuestionView {
    let option = |value: String, label: String| OptionView {
        checked: typed.contains(&value),
        value,
        label,
    };
    QuestionView {
        n: i + 1,
        field: format!("q{i}"),
        text: q.text.clone(),
        kind: q.kind.code(),
        required: q.required,
        options: match q.kind {
            QuestionKind::Single | QuestionKind::Multiple => q
                .options
                .iter()
                .enumerate()
                .map(|(k, o)| option(k.to_string(), o.clone()))
                .collect(),
            QuestionKind::Scale => (1..=5)
                .map(|k| option(k.to_string(), k.to_string()))
                .collect(),
            QuestionKind::Number | QuestionKind::Text => Vec::new(),
        },
        low: q.low.clone(),
        high: q.high.clone(),
        unit: q.unit.clone(),
        value: typed.first().cloned().unwrap_or_default(),
        error,
    }
}

/// What the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shows {
    /// The form.
    Form,
    /// The coordinator's preview (no sending).
    Preview,
    /// Thanks, with a copy of the answers.
    Thanks,
    /// The link was answered already.
    Already,
    /// The survey is closed.
    Closed,
}

#[derive(Template)]
#[template(path = "survey_answer.html")]
struct AnswerPage {
    chrome: Chrome,
    shows: &'static str,
    token: String,
    survey_id: i64,
    title: String,
    intro: String,
    to: String,
    closes: String,
    hub: String,
    anonymous: bool,
    answered_at: String,
    error: Option<String>,
    questions: Vec<QuestionView>,
    copy: Vec<(usize, String, String)>,
}

impl Shows {
    fn code(self) -> &'static str {
        match self {
            Shows::Form => "form",
            Shows::Preview => "preview",
            Shows::Thanks => "thanks",
            Shows::Already => "already",
            Shows::Closed => "closed",
        }
    }
}

struct Blank<'a> {
    s: &'a SurveyRow,
    to: String,
    hub: String,
    token: String,
}

fn page(ctx: &Ctx, b: Blank<'_>, shows: Shows) -> AnswerPage {
    let lang = ctx.lang;
    let s = b.s;
    AnswerPage {
        chrome: Chrome::new(ctx, "nav.consultation", false),
        shows: shows.code(),
        token: b.token,
        survey_id: s.id,
        title: s.survey.title.clone(),
        intro: s.survey.intro.clone(),
        to: b.to,
        closes: s
            .survey
            .closes_on
            .map(|d| date_in(lang, d))
            .unwrap_or_default(),
        hub: b.hub,
        anonymous: s.anonymous(),
        answered_at: String::new(),
        error: None,
        questions: s
            .survey
            .questions
            .iter()
            .enumerate()
            .map(|(i, q)| question_view(i, q, &[], None))
            .collect(),
        copy: Vec::new(),
    }
}

/// The recipient and survey a link stands for, or 404.
async fn linked(
    app: &AppState,
    ctx: &Ctx,
    token: &str,
) -> Result<(RecipientRow, SurveyRow, String), PageError> {
    let id = app
        .store
        .signed_link_target(LINK_PURPOSE, token)
        .ok_or_else(|| PageError::not_found(ctx))?;
    let r = app
        .store
        .survey_recipient(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .ok_or_else(|| PageError::not_found(ctx))?;
    let s = app
        .store
        .survey(r.survey_id)
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .ok_or_else(|| PageError::not_found(ctx))?;
    let hub = app
        .overview
        .get(&app.store)
        .await
        .map(|o| (*o).clone())
        .ok()
        .flatten()
        .and_then(|o| {
            o.areas
                .into_iter()
                .find(|a| a.code == s.survey.area)
                .map(|a| {
                    if a.hub_operators.is_empty() {
                        a.name
                    } else {
                        format!("{}（{}）", a.name, a.hub_operators.join("・"))
                    }
                })
        })
        .unwrap_or_default();
    Ok((r, s, hub))
}

fn addressed(s: &SurveyRow, r: &RecipientRow) -> String {
    if s.anonymous() {
        format!("{} 様", r.name)
    } else {
        format!("{} 御中", r.name)
    }
}

/// `GET /surveys/answer/{token}`: the form, or why it cannot be answered.
pub async fn form_page(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let (r, s, hub) = linked(&app, &ctx, &token).await?;
    let today = crate::clock::today(&app);
    let shows = if let Some(at) = &r.answered_at {
        let mut p = page(
            &ctx,
            Blank {
                s: &s,
                to: addressed(&s, &r),
                hub,
                token,
            },
            Shows::Already,
        );
        p.answered_at = when_in(ctx.lang, at);
        return Ok(render(&ctx, &p)?.into_response());
    } else if s.open_on(today) {
        Shows::Form
    } else {
        Shows::Closed
    };
    let p = page(
        &ctx,
        Blank {
            s: &s,
            to: addressed(&s, &r),
            hub,
            token,
        },
        shows,
    );
    Ok(render(&ctx, &p)?.into_response())
}

/// `POST /surveys/answer/{token}` (`q0`, `q1`, … — repeated for a multiple choice): takes the
/// answers once.
pub async fn submit(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(token): Path<String>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (r, s, hub) = linked(&app, &ctx, &token).await?;
    let blank = |hub: String, token: String| Blank {
        s: &s,
        to: addressed(&s, &r),
        hub,
        token,
    };
    let questions = &s.survey.questions;
    let answers = match read_answers(questions, |i| form_all(&body, &format!("q{i}"))) {
        Ok(a) => a,
        Err(errors) => {
            let mut p = page(&ctx, blank(hub, token), Shows::Form);
            p.error = Some(format!(
                "{}か所、直すところがあります。赤い文字の質問をご覧ください",
                errors.iter().filter(|e| e.is_some()).count()
            ));
            p.questions = questions
                .iter()
                .zip(errors)
                .enumerate()
                .map(|(i, (q, e))| question_view(i, q, &form_all(&body, &format!("q{i}")), e))
                .collect();
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&ctx, &p)?).into_response());
        }
    };
    let outcome = app
        .store
        .answer_survey(r.id, &answers, crate::clock::today(&app), app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    match outcome {
        Answered::Taken => {
            audit(
                &app,
                &ctx,
                &extensions,
                "survey.answered",
                format!("survey:{}", s.id),
            )
            .await;
            let mut p = page(&ctx, blank(hub, String::new()), Shows::Thanks);
            p.copy = copy_of(questions, &answers);
            Ok(render(&ctx, &p)?.into_response())
        }
        Answered::Already(at) => {
            let mut p = page(&ctx, blank(hub, token), Shows::Already);
            p.answered_at = when_in(ctx.lang, &at);
            Ok((StatusCode::CONFLICT, render(&ctx, &p)?).into_response())
        }
        Answered::Closed => {
            let p = page(&ctx, blank(hub, token), Shows::Closed);
            Ok((StatusCode::GONE, render(&ctx, &p)?).into_response())
        }
        Answered::Unknown => Err(PageError::not_found(&ctx)),
    }
}

fn copy_of(questions: &[Question], answers: &[Answer]) -> Vec<(usize, String, String)> {
    questions
        .iter()
        .zip(answers)
        .enumerate()
        .map(|(i, (q, a))| {
            let text = answer_text(q, a);
            (
                i + 1,
                q.text.clone(),
                if text.is_empty() {
                    "（無回答）".to_owned()
                } else {
                    text
                },
            )
        })
        .collect()
}

/// `GET /hub/surveys/{id}/preview`: the form as recipients will see it, without sending.
pub async fn preview(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (s, areas) = own_survey(&app, &ctx, id).await?;
    let hub = super::area_name(&areas, &s.survey.area);
    let to = ctx
        .lang
        .pick("（送り先の名前）御中", "(recipient)")
        .to_owned();
    let p = page(
        &ctx,
        Blank {
            s: &s,
            to,
            hub,
            token: String::new(),
        },
        Shows::Preview,
    );
    Ok(render(&ctx, &p)?.into_response())
}
