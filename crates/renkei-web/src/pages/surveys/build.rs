//! Writing and sending a survey: its heading (at any time), its questions (while a draft),
//! the preview of the form as recipients will see it, sending by mail to the institutions
//! chosen or to the event's participants, and an event's post-event questionnaire.

use super::{own_survey, read_closes_on, survey_page, LINK_PURPOSE};
use crate::error::{Ctx, PageError};
use crate::pages::safety::{audit, see_other};
use crate::pages::shared::{form, form_all};
use crate::AppState;
use axum::extract::{Path, RawForm, State};
use axum::http::Extensions;
use axum::response::Response;
use renkei_domain::surveys::{event_questions, options_from_lines, Question, QuestionKind, Survey};
use renkei_store::surveys::{SurveyRow, Target};

/// `POST /hub/surveys/{id}/heading` (`title`, `intro`, `closes_on`): changes them; the closing
/// day may be moved after sending too.
pub async fn heading(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (s, _) = own_survey(&app, &ctx, id).await?;
    let changed = read_closes_on(&body).and_then(|closes_on| {
        let changed = Survey {
            title: form(&body, "title").trim().to_owned(),
            intro: form(&body, "intro").trim().to_owned(),
            closes_on,
            ..s.survey.clone()
        };
        changed.check()?;
        Ok(changed)
    });
    let changed = match changed {
        Ok(c) => c,
        Err(m) => return survey_page(&app, &ctx, id, b"", Some(m)).await,
    };
    app.store
        .set_survey_heading(id, &changed, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "survey.changed",
        format!("survey:{id}"),
    )
    .await;
    Ok(see_other(format!("/hub/surveys/{id}?done=heading")))
}

/// A question from the builder's form (`kind`, `text`, `required`, `options` one per line,
/// `low`, `high`, `unit`).
fn read_question(body: &[u8]) -> Result<Question, String> {
    let kind = QuestionKind::from_code(&form(body, "kind")).ok_or("質問の種類を選んでください")?;
    let choice = matches!(kind, QuestionKind::Single | QuestionKind::Multiple);
    let q = Question {
        kind,
        text: form(body, "text").trim().to_owned(),
        required: form(body, "required") == "1",
        options: if choice {
            options_from_lines(&form(body, "options"))
        } else {
            Vec::new()
        },
        low: if kind == QuestionKind::Scale {
            form(body, "low").trim().to_owned()
        } else {
            String::new()
        },
        high: if kind == QuestionKind::Scale {
            form(body, "high").trim().to_owned()
        } else {
            String::new()
        },
        unit: if kind == QuestionKind::Number {
            form(body, "unit").trim().to_owned()
        } else {
            String::new()
        },
    };
    q.check()?;
    Ok(q)
}

/// Why a sent survey's questions cannot change.
const FROZEN: &str = "送ったあとのアンケートの質問は変えられません（回答の集計が合わなくなるため）";

/// The draft's questions, or the page's error when it was sent already.
fn draft_questions(s: &SurveyRow) -> Result<Vec<Question>, String> {
    if s.sent_at.is_some() {
        return Err(FROZEN.into());
    }
    Ok(s.survey.questions.clone())
}

async fn save_questions(
    app: &AppState,
    ctx: &Ctx,
    extensions: &Extensions,
    s: &SurveyRow,
    questions: Vec<Question>,
    done: &str,
) -> Result<Response, PageError> {
    let checked = Survey {
        questions,
        ..s.survey.clone()
    };
    if let Err(m) = checked.check() {
        return survey_page(app, ctx, s.id, b"", Some(m)).await;
    }
    if !app
        .store
        .set_survey_questions(s.id, &checked.questions, app.clock.now())
        .await
        .map_err(|e| PageError::store(ctx, e))?
    {
        // Sent meanwhile (another tab): the questions stay as they were.
        return survey_page(app, ctx, s.id, b"", Some(FROZEN.into())).await;
    }
    audit(
        app,
        ctx,
        extensions,
        "survey.questions_changed",
        format!("survey:{}", s.id),
    )
    .await;
    Ok(see_other(format!(
        "/hub/surveys/{}?done={done}#questions",
        s.id
    )))
}

/// `POST /hub/surveys/{id}/questions`: adds a question at the end.
pub async fn add_question(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (s, _) = own_survey(&app, &ctx, id).await?;
    let mut questions = match draft_questions(&s) {
        Ok(q) => q,
        Err(m) => return survey_page(&app, &ctx, id, b"", Some(m)).await,
    };
    match read_question(&body) {
        Ok(q) => questions.push(q),
        Err(m) => {
            return survey_page(
                &app,
                &ctx,
                id,
                b"",
                Some(format!("問{}：{m}", questions.len() + 1)),
            )
            .await
        }
    }
    save_questions(&app, &ctx, &extensions, &s, questions, "added").await
}

/// `POST /hub/surveys/{id}/questions/change` (`n` = the question's number, `action` = up |
/// down | delete): reorders or removes a question.
pub async fn change_question(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (s, _) = own_survey(&app, &ctx, id).await?;
    let mut questions = match draft_questions(&s) {
        Ok(q) => q,
        Err(m) => return survey_page(&app, &ctx, id, b"", Some(m)).await,
    };
    let Some(i) = form(&body, "n")
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .filter(|i| *i < questions.len())
    else {
        return survey_page(
            &app,
            &ctx,
            id,
            b"",
            Some("その質問はもうありません。ページを開き直してください".into()),
        )
        .await;
    };
    match form(&body, "action").as_str() {
        "up" if i > 0 => questions.swap(i, i - 1),
        "down" if i + 1 < questions.len() => questions.swap(i, i + 1),
        "delete" => {
            questions.remove(i);
        }
        _ => return Ok(see_other(format!("/hub/surveys/{id}#questions"))),
    }
    save_questions(&app, &ctx, &extensions, &s, questions, "changed").await
}

/// The registrations an event's questionnaire goes to: those checked in, or, when nobody was
/// checked in, everyone registered and not cancelled.
pub(crate) async fn event_targets(
    app: &AppState,
    ctx: &Ctx,
    event: i64,
) -> Result<Vec<i64>, PageError> {
    let regs = app
        .store
        .registrations(event)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let live: Vec<_> = regs.iter().filter(|r| r.cancelled_at.is_none()).collect();
    let attended: Vec<i64> = live
        .iter()
        .filter(|r| r.attended_at.is_some())
        .map(|r| r.id)
        .collect();
    Ok(if attended.is_empty() {
        live.iter().map(|r| r.id).collect()
    } else {
        attended
    })
}

/// `POST /hub/surveys/{id}/send` (`institution` repeated; ignored for an event's
/// questionnaire): sends the survey to those not sent to yet and mails each its own link.
pub async fn send(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (s, areas) = own_survey(&app, &ctx, id).await?;
    let today = crate::clock::today(&app);
    if s.closed_at.is_some() {
        return survey_page(
            &app,
            &ctx,
            id,
            b"",
            Some("締め切ったアンケートは送れません。先に受付を再開してください".into()),
        )
        .await;
    }
    if let Err(m) = s.survey.check_sendable(today) {
        return survey_page(&app, &ctx, id, b"", Some(m)).await;
    }
    let targets: Vec<Target> = match s.event_id {
        Some(event) => event_targets(&app, &ctx, event)
            .await?
            .into_iter()
            .map(Target::Registration)
            .collect(),
        None => {
            let in_area: Vec<i64> = app
                .store
                .institutions_in_area(&s.survey.area)
                .await
                .map_err(|e| PageError::store(&ctx, e))?
                .iter()
                .map(|i| i.id.0)
                .collect();
            form_all(&body, "institution")
                .iter()
                .filter_map(|v| v.parse::<i64>().ok())
                .filter(|i| in_area.contains(i))
                .map(Target::Institution)
                .collect()
        }
    };
    if targets.is_empty() {
        let m = if s.event_id.is_some() {
            "この催しには送る相手（申し込んだ人）がいません"
        } else {
            "送る医療機関等を1つ以上選んでください"
        };
        return survey_page(&app, &ctx, id, b"", Some(m.into())).await;
    }
    let added = app
        .store
        .add_survey_recipients(id, &targets, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let hub = super::area_name(&areas, &s.survey.area);
    let mut mailed = 0;
    for r in &added {
        if mail_link(&app, &s, &hub, *r, false).await {
            mailed += 1;
        }
    }
    audit(
        &app,
        &ctx,
        &extensions,
        "survey.sent",
        format!("survey:{id} recipients:{} mailed:{mailed}", added.len()),
    )
    .await;
    Ok(see_other(format!(
        "/hub/surveys/{id}?done=sent&n={}#follow-up",
        added.len()
    )))
}

/// Mails recipient `recipient` its link (a reminder when `reminder`); false when it has no
/// address or the mail could not be queued.
pub(crate) async fn mail_link(
    app: &AppState,
    s: &SurveyRow,
    hub: &str,
    recipient: i64,
    reminder: bool,
) -> bool {
    let Ok(Some(r)) = app.store.survey_recipient(recipient).await else {
        return false;
    };
    let Some(to) = r.email.clone() else {
        return false;
    };
    let Ok(token) = app.store.signed_link(LINK_PURPOSE, recipient) else {
        return false;
    };
    let base = app.config.public_url.trim_end_matches('/');
    let closes = s
        .survey
        .closes_on
        .map(|d| {
            format!(
                "回答の締切：{}\n",
                renkei_domain::fiscal_year::format_wareki_date(d)
            )
        })
        .unwrap_or_default();
    let (greeting, lead) = if s.event_id.is_some() {
        (
            format!("{} 様", r.name),
            format!("先日は、{hub}の催しにご参加いただき、ありがとうございました。今後の催しをよりよくするため、アンケートへのご協力をお願いします（数分で終わります。お名前は回答と結びつけずに集計します）。"),
        )
    } else {
        (
            format!("{} 御中", r.name),
            format!("{hub}（在宅医療・介護連携の拠点）から、アンケートのお願いです。"),
        )
    };
    let subject = format!(
        "【{}】{}",
        if reminder {
            "再送・アンケートのお願い"
        } else {
            "アンケートのお願い"
        },
        s.survey.title
    );
    let intro = if s.survey.intro.is_empty() {
        String::new()
    } else {
        format!("{}\n\n", s.survey.intro)
    };
    let again = if reminder {
        "まだご回答をいただいていないため、もう一度お送りします。行き違いでご回答済みのときは、ご容赦ください。\n\n"
    } else {
        ""
    };
    let body = format!(
        "{greeting}\n\n{again}{lead}\n\n「{}」\n{intro}{closes}\n次のページから回答してください（ログインは不要です。このリンクはあなた専用ですので、ほかの方に転送しないでください）。\n{base}/surveys/answer/{token}\n",
        s.survey.title
    );
    match app.mailer.send(&app.store, &to, &subject, &body).await {
        Ok(_) => true,
        Err(e) => {
            tracing::error!(error = %e, "survey mail could not be queued");
            false
        }
    }
}

/// `POST /hub/events/{id}/survey`: the event's post-event questionnaire — made from the
/// template the first time, then opened.
pub async fn for_event(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(event): Path<i64>,
) -> Result<Response, PageError> {
    let areas = crate::pages::shared::coordinated_areas(&app, &ctx).await?;
    let e = match app
        .store
        .event(event)
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    {
        Some(e) if areas.iter().any(|(c, _)| *c == e.event.area) => e,
        _ => return Err(PageError::not_found(&ctx)),
    };
    if let Some(s) = app
        .store
        .survey_of_event(event)
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    {
        return Ok(see_other(format!("/hub/surveys/{}", s.id)));
    }
    let user = ctx
        .viewer
        .signed_in()
        .ok_or_else(|| PageError::forbidden(&ctx))?;
    let today = crate::clock::today(&app);
    let s = Survey {
        area: e.event.area.clone(),
        title: format!("「{}」参加者アンケート", e.event.title),
        intro: String::new(),
        closes_on: Some(e.event.ends_at.date().max(today) + chrono::Days::new(14)),
        questions: event_questions(),
    };
    let id = match app
        .store
        .add_survey(&s, Some(event), user.id, app.clock.now())
        .await
    {
        Ok(id) => id,
        // Two presses at once: the database keeps one questionnaire per event.
        Err(_) => match app
            .store
            .survey_of_event(event)
            .await
            .map_err(|e| PageError::store(&ctx, e))?
        {
            Some(s) => return Ok(see_other(format!("/hub/surveys/{}", s.id))),
            None => return Err(PageError::not_found(&ctx)),
        },
    };
    audit(
        &app,
        &ctx,
        &extensions,
        "survey.created",
        format!("survey:{id} event:{event}"),
    )
    .await;
    Ok(see_other(format!("/hub/surveys/{id}")))
}
