//! Following a sent survey: reminding those who have not answered, closing it (or opening it
//! again), its results per question as charts and figures, and the answers as an Excel file.
//! An event's questionnaire shows no names anywhere: its answers are kept without them.

use super::{own_survey, survey_page, when_in};
use crate::error::{Ctx, PageError};
use crate::i18n::Lang;
use crate::pages::safety::{audit, see_other};
use crate::pages::shared::form;
use crate::AppState;
use axum::extract::{Path, RawForm, State};
use axum::http::Extensions;
use axum::response::Response;
use renkei_domain::surveys::{answer_text, number_text, tally, QuestionKind, Tally};
use renkei_store::surveys::SurveyRow;

/// `POST /hub/surveys/{id}/remind`: mails the link again to each recipient that has not
/// answered and has an address.
pub async fn remind(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (s, areas) = own_survey(&app, &ctx, id).await?;
    if !s.open_on(crate::clock::today(&app)) {
        return survey_page(
            &app,
            &ctx,
            id,
            b"",
            Some("受付中でないアンケートの再送はできません".into()),
        )
        .await;
    }
    let waiting: Vec<i64> = app
        .store
        .survey_recipients(id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?
        .into_iter()
        .filter(|r| r.answered_at.is_none() && r.email.is_some())
        .map(|r| r.id)
        .collect();
    let hub = super::area_name(&areas, &s.survey.area);
    let mut reminded = Vec::new();
    for r in waiting {
        if super::build::mail_link(&app, &s, &hub, r, true).await {
            reminded.push(r);
        }
    }
    app.store
        .mark_survey_reminded(&reminded, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "survey.reminded",
        format!("survey:{id} recipients:{}", reminded.len()),
    )
    .await;
    let done = if reminded.is_empty() {
        "nobody"
    } else {
        "reminded"
    };
    Ok(see_other(format!(
        "/hub/surveys/{id}?done={done}&n={}#follow-up",
        reminded.len()
    )))
}

/// `POST /hub/surveys/{id}/close` (`closed` = 1 | 0): closes it to answers, or opens it again.
pub async fn close(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (s, _) = own_survey(&app, &ctx, id).await?;
    if s.sent_at.is_none() {
        return survey_page(
            &app,
            &ctx,
            id,
            b"",
            Some("まだ送っていないアンケートです".into()),
        )
        .await;
    }
    let closed = form(&body, "closed") == "1";
    if !closed && !s.survey.open_on(crate::clock::today(&app)) {
        return survey_page(
            &app,
            &ctx,
            id,
            b"",
            Some("締切日が過ぎています。受付を再開するには、先に締切日を延ばしてください".into()),
        )
        .await;
    }
    app.store
        .set_survey_closed(id, closed, app.clock.now())
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        if closed {
            "survey.closed"
        } else {
            "survey.reopened"
        },
        format!("survey:{id}"),
    )
    .await;
    let done = if closed { "closed" } else { "reopened" };
    Ok(see_other(format!("/hub/surveys/{id}?done={done}")))
}

/// One question's results as the page shows them.
pub struct ResultView {
    pub(super) n: usize,
    pub(super) text: String,
    pub(super) kind: &'static str,
    pub(super) answered: usize,
    /// A bar chart (choices and the scale), SVG.
    pub(super) chart: Option<String>,
    /// Figures in words (the scale's mean; numbers' spread).
    pub(super) figures: Vec<String>,
    /// Free-text answers, with who wrote them when the survey keeps it.
    pub(super) texts: Vec<(String, String)>,
}

/// The results of survey `s`, one per question.
pub(crate) async fn results(
    app: &AppState,
    ctx: &Ctx,
    s: &SurveyRow,
) -> Result<Vec<ResultView>, PageError> {
    let lang = ctx.lang;
    let responses = app
        .store
        .survey_responses(s.id)
        .await
        .map_err(|e| PageError::store(ctx, e))?;
    let answers: Vec<Vec<_>> = responses.iter().map(|r| r.answers.clone()).collect();
    let tallies = tally(&s.survey.questions, &answers);
    let title = |n: usize| format!("{}{n}", lang.pick("問", "Q"));
    Ok(s.survey
        .questions
        .iter()
        .zip(tallies)
        .enumerate()
        .map(|(i, (q, t))| {
            let n = i + 1;
            let id = format!("survey-q{n}");
            let mut v = ResultView {
                n,
                text: q.text.clone(),
                kind: lang.pick(q.kind.label_ja(), q.kind.label_en()),
                answered: 0,
                chart: None,
                figures: Vec::new(),
                texts: Vec::new(),
            };
            match t {
                Tally::Counts { counts, answered } => {
                    v.answered = answered;
                    let rows: Vec<(String, usize)> =
                        q.options.iter().cloned().zip(counts).collect();
                    v.chart = Some(crate::chart::count_bars_svg(&id, &title(n), &rows));
                    if q.kind == QuestionKind::Multiple {
                        v.figures
                            .push(lang.pick("複数回答", "Several answers allowed").to_owned());
                    }
                }
                Tally::Scale {
                    counts,
                    mean,
                    answered,
                } => {
                    v.answered = answered;
                    let rows: Vec<(String, usize)> = (1..=5)
                        .map(|k| {
                            let word = match k {
                                1 => &q.low,
                                5 => &q.high,
                                _ => "",
                            };
                            if word.is_empty() {
                                k.to_string()
                            } else {
                                format!("{k}（{word}）")
                            }
                        })
                        .zip(counts)
                        .collect();
                    v.chart = Some(crate::chart::count_bars_svg(&id, &title(n), &rows));
                    if let Some(m) = mean {
                        v.figures
                            .push(format!("{} {:.1}", lang.pick("平均", "Mean"), m));
                    }
                }
                Tally::Numbers {
                    answered,
                    sum,
                    mean,
                    median,
                    min,
                    max,
                } => {
                    v.answered = answered;
                    let unit = |x: f64| {
                        if q.unit.is_empty() {
                            number_text(x)
                        } else {
                            format!("{} {}", number_text(x), q.unit)
                        }
                    };
                    if let (Some(mean), Some(median), Some(min), Some(max)) =
                        (mean, median, min, max)
                    {
                        v.figures = vec![
                            format!("{} {}", lang.pick("合計", "Total"), unit(sum)),
                            format!("{} {}", lang.pick("平均", "Mean"), unit(mean)),
                            format!("{} {}", lang.pick("中央値", "Median"), unit(median)),
                            format!(
                                "{} {} 〜 {}",
                                lang.pick("範囲", "Range"),
                                unit(min),
                                unit(max)
                            ),
                        ];
                    }
                }
                Tally::Texts(_) => {
                    v.texts = responses
                        .iter()
                        .filter_map(|r| {
                            let a = r.answers.get(i)?;
                            let text = answer_text(q, a);
                            (!text.trim().is_empty())
                                .then(|| (r.name.clone().unwrap_or_default(), text))
                        })
                        .collect();
                    v.answered = v.texts.len();
                }
            }
            v
        })
        .collect())
}

/// `GET /hub/surveys/{id}/results.xlsx`: one row per answer, one column per question (the
/// institution's name first when the survey keeps it).
pub async fn xlsx(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (s, _) = own_survey(&app, &ctx, id).await?;
    let responses = app
        .store
        .survey_responses(id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "survey.exported",
        format!("survey:{id}"),
    )
    .await;
    let mut heads: Vec<String> = vec![
        if s.anonymous() {
            "回答番号"
        } else {
            "回答者"
        }
        .to_owned(),
        "回答日".to_owned(),
    ];
    for (i, q) in s.survey.questions.iter().enumerate() {
        let short: String = q.text.chars().take(40).collect();
        heads.push(format!("問{} {short}", i + 1));
    }
    let rows: Vec<Vec<String>> = responses
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let mut row = vec![
                r.name.clone().unwrap_or_else(|| (k + 1).to_string()),
                when_in(Lang::Ja, &r.submitted_at),
            ];
            for (q, a) in s.survey.questions.iter().zip(&r.answers) {
                row.push(answer_text(q, a));
            }
            row
        })
        .collect();
    let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
    crate::pages::shared::table_download(
        &ctx,
        true,
        &format!("survey-{id}-results"),
        "回答",
        &heads,
        &rows,
    )
}

/// `POST /hub/surveys/{id}/ledger`: writes a survey of institutions into its area's ledger
/// of the year it was sent, as a ② result (knowing the region's resources) with how many were
/// asked and answered — one item per survey, replaced by later presses.
pub async fn record_in_ledger(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    use renkei_domain::fiscal_year::FiscalYear;
    use renkei_domain::ledger::ItemKind;
    let (s, _) = own_survey(&app, &ctx, id).await?;
    let sent = s
        .sent_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&renkei_domain::japan::jst()).date_naive());
    let (Some(sent), None) = (sent, s.event_id) else {
        return survey_page(
            &app,
            &ctx,
            id,
            b"",
            Some("活動記録に書き込めるのは、医療機関等に送ったアンケートです".into()),
        )
        .await;
    };
    let year = FiscalYear::of_date(sent);
    let marker = format!("Renkei アンケートの記録から #{id}");
    let rate = if s.recipients > 0 {
        s.answered * 100 / s.recipients
    } else {
        0
    };
    use chrono::Datelike;
    crate::pages::ledger_feed::record_marked(
        &app,
        std::slice::from_ref(&s.survey.area),
        year,
        &marker,
        ctx.viewer.signed_in().map(|u| u.id),
        |_, ledger, existing| {
            Some(
                crate::pages::ledger_feed::FedItem {
                    duty: 2,
                    kind: ItemKind::Resources,
                    title: format!(
                        "{}（{}月{}日送付）",
                        s.survey.title,
                        sent.month(),
                        sent.day()
                    ),
                    detail: format!(
                        "。{}機関に送付し、{}機関から回答（回答率 {rate}%）",
                        s.recipients, s.answered
                    ),
                    held: 1,
                    audience: vec!["医療機関・事業所".to_owned()],
                    organisers: Vec::new(),
                }
                .into_item(ledger, existing),
            )
        },
    )
    .await
    .map_err(|e| PageError::store(&ctx, e))?;
    audit(
        &app,
        &ctx,
        &extensions,
        "survey.recorded_in_ledger",
        format!("survey:{id} year:{}", year.year()),
    )
    .await;
    Ok(see_other(format!("/hub/surveys/{id}?done=recorded")))
}
