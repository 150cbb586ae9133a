//! Surveys (`/hub/surveys…` for coordinators, `/surveys/answer/{token}` for whoever got the
//! link): a coordinator writes a questionnaire — from nothing, from the 24-hour-system
//! template, or an event's post-event questionnaire — sends it to institutions of the area or
//! to the people who came to the event, follows who answered, reminds those who did not, and
//! reads the results as charts and an Excel file.
//!
//! - `mod.rs`: the list, a new survey, the survey's page and what the pages share;
//! - [`build`]: the heading, the questions, the preview, sending;
//! - [`track`]: reminders, closing, the results and their export;
//! - [`answer`]: the public answer form.

pub mod answer;
pub mod build;
pub mod track;

use super::safety::{audit, date_in, jst_time_in, see_other};
use super::shared::form;
use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::i18n::Lang;
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use renkei_domain::surveys::{twenty_four_hour_questions, Question, QuestionKind, Survey};
use renkei_store::surveys::{RecipientRow, SurveyRow};

/// Surveys listed at most.
const LISTED: i64 = 200;
/// The purpose the answer links are signed for.
pub(crate) const LINK_PURPOSE: &str = "survey-answer";

/// Where a survey stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Being written; not sent.
    Draft,
    /// Sent; answers taken.
    Open,
    /// Closed by hand or past its closing day.
    Closed,
}

impl Stage {
    /// The stage of `s` on `today`.
    pub fn of(s: &SurveyRow, today: NaiveDate) -> Self {
        if s.sent_at.is_none() {
            Stage::Draft
        } else if s.open_on(today) {
            Stage::Open
        } else {
            Stage::Closed
        }
    }

    /// Its code (CSS, tests).
    pub fn code(self) -> &'static str {
        match self {
            Stage::Draft => "draft",
            Stage::Open => "open",
            Stage::Closed => "closed",
        }
    }

    /// Its label.
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Stage::Draft => lang.pick("下書き", "Draft"),
            Stage::Open => lang.pick("回答受付中", "Open"),
            Stage::Closed => lang.pick("締切", "Closed"),
        }
    }
}

/// A survey as the list and its page show it.
pub struct SurveyView {
    id: i64,
    title: String,
    intro: String,
    area: String,
    stage: Stage,
    stage_label: &'static str,
    closes: String,
    closes_value: String,
    recipients: i64,
    answered: i64,
    /// Answered, per cent of those sent to.
    percent: i64,
    event: Option<i64>,
    questions: usize,
}

fn view(lang: Lang, s: &SurveyRow, areas: &[(String, String)], today: NaiveDate) -> SurveyView {
    let stage = Stage::of(s, today);
    SurveyView {
        id: s.id,
        title: s.survey.title.clone(),
        intro: s.survey.intro.clone(),
        area: area_name(areas, &s.survey.area),
        stage,
        stage_label: stage.label(lang),
        closes: s
            .survey
            .closes_on
            .map(|d| date_in(lang, d))
            .unwrap_or_else(|| lang.pick("締切日なし", "No closing day").to_owned()),
        closes_value: s
            .survey
            .closes_on
            .map(|d| d.to_string())
            .unwrap_or_default(),
        recipients: s.recipients,
        answered: s.answered,
        percent: if s.recipients > 0 {
            s.answered * 100 / s.recipients
        } else {
            0
        },
        event: s.event_id,
        questions: s.survey.questions.len(),
    }
}

/// The name of area `code` among `areas` (its code when it is not there).
pub(crate) fn area_name(areas: &[(String, String)], code: &str) -> String {
    areas
        .iter()
        .find(|(c, _)| c == code)
        .map(|(_, n)| n.clone())
        .unwrap_or_else(|| code.to_owned())
}

/// A stored time or day in the page's language.
pub(crate) fn when_in(lang: Lang, stored: &str) -> String {
    match NaiveDate::parse_from_str(stored, "%Y-%m-%d") {
        Ok(day) => date_in(lang, day),
        Err(_) => jst_time_in(lang, stored),
    }
}

/// The survey if it is of one of the coordinator's areas (404 otherwise), with those areas.
pub(crate) async fn own_survey(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
) -> Result<(SurveyRow, Vec<(String, String)>), PageError> {
    let areas = super::shared::coordinated_areas(app, ctx).await?;
    match app
        .store
        .survey(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?
    {
        Some(s) if areas.iter().any(|(c, _)| *c == s.survey.area) => Ok((s, areas)),
        _ => Err(PageError::not_found(ctx)),
    }
}

// ---------------------------------------------------------------------------------------------
// The list and a new survey.

#[derive(Template)]
#[template(path = "surveys.html")]
struct ListPage {
    chrome: Chrome,
    error: Option<String>,
    areas: Vec<(String, String)>,
    surveys: Vec<SurveyView>,
    title: String,
    intro: String,
}

async fn list_page(
    app: &AppState,
    ctx: &Ctx,
    typed: &[u8],
    error: Option<String>,
) -> Result<ListPage, PageError> {
    let areas = super::shared::coordinated_areas(app, ctx).await?;
    let rows = app
        .store
        .surveys_of_areas(
            &areas.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>(),
            LISTED,
        )
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let today = crate::clock::today(app);
    Ok(ListPage {
        chrome: Chrome::new(ctx, "nav.consultation", false),
        error,
        surveys: rows
            .iter()
            .map(|s| view(ctx.lang, s, &areas, today))
            .collect(),
        areas,
        title: form(typed, "title"),
        intro: form(typed, "intro"),
    })
}

/// `GET /hub/surveys`: the coordinator's surveys, newest first, and the form for a new one.
pub async fn list(State(app): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    let page = list_page(&app, &ctx, b"", None).await?;
    Ok(render(&ctx, &page)?.into_response())
}

/// The closing day of a form (`closes_on`, empty for none).
pub(crate) fn read_closes_on(body: &[u8]) -> Result<Option<NaiveDate>, String> {
    match renkei_domain::text::normalize(form(body, "closes_on").trim()).as_str() {
        "" => Ok(None),
        d => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| "締切日は日付で入れてください（例：2026-12-25）".to_owned()),
    }
}

/// `POST /hub/surveys` (`area`, `title`, `intro`, `closes_on`, `template` = blank |
/// twenty_four_hour): a new draft.
pub async fn create(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let areas = super::shared::coordinated_areas(&app, &ctx).await?;
    let area = form(&body, "area");
    let questions: Vec<Question> = match form(&body, "template").as_str() {
        "twenty_four_hour" => twenty_four_hour_questions(),
        _ => Vec::new(),
    };
    let survey = read_closes_on(&body).and_then(|closes_on| {
        if !areas.iter().any(|(c, _)| *c == area) {
            return Err("地域を選んでください".to_owned());
        }
        let s = Survey {
            area,
            title: form(&body, "title").trim().to_owned(),
            intro: form(&body, "intro").trim().to_owned(),
            closes_on,
            questions,
        };
        s.check()?;
        Ok(s)
    });
    let s = match survey {
        Ok(s) => s,
        Err(m) => {
            let page = list_page(&app, &ctx, &body, Some(m)).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&ctx, &page)?).into_response());
        }
    };
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::forbidden(&ctx))?;
    let id = app
        .store
        .add_survey(&s, None, user.id, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "survey.created",
        format!("survey:{id}"),
    )
    .await;
    Ok(see_other(format!("/hub/surveys/{id}")))
}

// ---------------------------------------------------------------------------------------------
// A survey's page.

/// A question as the builder lists it.
pub struct QuestionLine {
    n: usize,
    text: String,
    kind: &'static str,
    required: bool,
    details: String,
}

fn question_line(lang: Lang, i: usize, q: &Question) -> QuestionLine {
    let details = match q.kind {
        QuestionKind::Single | QuestionKind::Multiple => q.options.join(" / "),
        QuestionKind::Scale if !q.low.is_empty() || !q.high.is_empty() => {
            format!("1＝{} … 5＝{}", q.low, q.high)
        }
        QuestionKind::Number if !q.unit.is_empty() => {
            format!("{}：{}", lang.pick("単位", "Unit"), q.unit)
        }
        _ => String::new(),
    };
    QuestionLine {
        n: i + 1,
        text: q.text.clone(),
        kind: lang.pick(q.kind.label_ja(), q.kind.label_en()),
        required: q.required,
        details,
    }
}

/// An institution the survey can be sent to.
pub struct Candidate {
    id: i64,
    name: String,
    kind: String,
    active: bool,
    has_mail: bool,
}

/// A recipient as the follow-up table shows it.
pub struct RecipientLine {
    name: String,
    sent: String,
    reminded: String,
    answered: String,
    has_mail: bool,
    /// The link to hand over by other means (no mail address), for those not answered yet.
    link: Option<String>,
}

#[derive(Template)]
#[template(path = "survey.html")]
struct SurveyPage {
    chrome: Chrome,
    s: SurveyView,
    notice: Option<String>,
    error: Option<String>,
    questions: Vec<QuestionLine>,
    kinds: Vec<(&'static str, &'static str)>,
    candidates: Vec<Candidate>,
    /// For an event's questionnaire: how many people it goes to when sent now.
    event_people: Option<usize>,
    event_title: String,
    recipients: Vec<RecipientLine>,
    unanswered_with_mail: usize,
    results: Vec<track::ResultView>,
    anonymous: bool,
}

/// The page of survey `id`, with a notice (`done=`) or an error.
pub(crate) async fn survey_page(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    query: &[u8],
    error: Option<String>,
) -> Result<Response, PageError> {
    let (s, areas) = own_survey(app, ctx, id).await?;
    let lang = ctx.lang;
    let today = crate::clock::today(app);
    let stage = Stage::of(&s, today);
    let recipients = app
        .store
        .survey_recipients(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let candidates = if s.event_id.is_none() && stage != Stage::Closed {
        candidates(app, ctx, &s, &recipients).await?
    } else {
        Vec::new()
    };
    let (event_people, event_title) = match s.event_id {
        Some(event) => {
            let people = build::event_targets(app, ctx, event).await?.len();
            let title = app
                .store
                .event(event)
                .await
                .map_err(|e| PageError::store(ctx, e))?
                .map(|e| e.event.title)
                .unwrap_or_default();
            (Some(people), title)
        }
        None => (None, String::new()),
    };
    let base = app.config.public_url.trim_end_matches('/');
    let lines = recipients
        .iter()
        .map(|r| recipient_line(app, lang, base, r))
        .collect::<Vec<_>>();
    let results = if stage == Stage::Draft {
        Vec::new()
    } else {
        track::results(app, ctx, &s).await?
    };
    let t = crate::i18n::catalog(lang);
    let done = form(query, "done");
    let page = SurveyPage {
        chrome: Chrome::new(ctx, "nav.consultation", false),
        notice: [
            "heading", "added", "changed", "sent", "reminded", "closed", "reopened", "nobody",
            "recorded",
        ]
        .contains(&done.as_str())
        .then(|| {
            t.fill1(
                &format!("surveys.done_{done}"),
                "n",
                form(query, "n").parse::<usize>().unwrap_or(0),
            )
        }),
        error,
        questions: s
            .survey
            .questions
            .iter()
            .enumerate()
            .map(|(i, q)| question_line(lang, i, q))
            .collect(),
        kinds: QuestionKind::ALL
            .iter()
            .map(|k| (k.code(), lang.pick(k.label_ja(), k.label_en())))
            .collect(),
        candidates,
        event_people,
        event_title,
        unanswered_with_mail: recipients
            .iter()
            .filter(|r| r.answered_at.is_none() && r.email.is_some())
            .count(),
        recipients: lines,
        results,
        anonymous: s.anonymous(),
        s: view(lang, &s, &areas, today),
    };
    let status = if page.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, render(ctx, &page)?).into_response())
}

fn recipient_line(app: &AppState, lang: Lang, base: &str, r: &RecipientRow) -> RecipientLine {
    RecipientLine {
        name: r.name.clone(),
        sent: jst_time_in(lang, &r.sent_at),
        reminded: r
            .reminded_at
            .as_deref()
            .map(|t| jst_time_in(lang, t))
            .unwrap_or_default(),
        answered: r
            .answered_at
            .as_deref()
            .map(|t| when_in(lang, t))
            .unwrap_or_default(),
        has_mail: r.email.is_some(),
        link: (r.answered_at.is_none() && r.email.is_none())
            .then(|| app.store.signed_link(LINK_PURPOSE, r.id).ok())
            .flatten()
            .map(|token| format!("{base}/surveys/answer/{token}")),
    }
}

/// The area's institutions not sent to yet: active institutions first.
async fn candidates(
    app: &AppState,
    ctx: &Ctx,
    s: &SurveyRow,
    recipients: &[RecipientRow],
) -> Result<Vec<Candidate>, PageError> {
    let sent: Vec<i64> = recipients.iter().filter_map(|r| r.institution_id).collect();
    let institutions = app
        .store
        .institutions_in_area(&s.survey.area)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let with_mail: std::collections::HashSet<i64> = app
        .store
        .institutions_with_mail(&s.survey.area)
        .await
        .map_err(|e| PageError::store(ctx, e))?
        .into_iter()
        .collect();
    let mut out = Vec::new();
    for i in institutions.into_iter().filter(|i| !sent.contains(&i.id.0)) {
        let has_mail = with_mail.contains(&i.id.0);
        out.push(Candidate {
            id: i.id.0,
            kind: renkei_domain::institution::InstitutionKind::from_code(&i.kind)
                .map(|k| ctx.lang.pick(k.label_ja(), k.label_en()).to_owned())
                .unwrap_or(i.kind),
            name: i.name,
            active: i.is_active,
            has_mail,
        });
    }
    Ok(out)
}

/// `GET /hub/surveys/{id}`: the survey — its questions while a draft, then who answered and the
/// results.
pub async fn show(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    survey_page(&app, &ctx, id, query.unwrap_or_default().as_bytes(), None).await
}
