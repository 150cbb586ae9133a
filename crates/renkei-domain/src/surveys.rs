//! Surveys (アンケート): a coordinator builds a questionnaire — single and multiple choice, a
//! five-point scale, a number, free text, each required or optional — and sends it by link to
//! a set of institutions (河内医師会's survey of the 24-hour system) or to the people who came
//! to an event (the post-event questionnaire). Here: what a question and a survey need, how a
//! submitted form becomes answers (with a message per question), and how answers are tallied
//! for the charts.

use crate::safety::coded;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

coded! {
    /// What kind of answer a question takes.
    QuestionKind {
        /// One of the options.
        Single = "single", "単一選択", "Single choice";
        /// Any of the options.
        Multiple = "multiple", "複数選択", "Multiple choice";
        /// 1 to 5.
        Scale = "scale", "5段階評価", "Scale (1–5)";
        /// A number.
        Number = "number", "数値", "Number";
        /// Free text.
        Text = "text", "自由記述", "Free text";
    }
}

/// The most questions in one survey.
pub const MAX_QUESTIONS: usize = 40;
/// The most options of one question.
pub const MAX_OPTIONS: usize = 20;
/// The longest free-text answer, characters.
pub const MAX_TEXT_ANSWER: usize = 2000;
/// The largest number answer, in absolute value.
const MAX_NUMBER: f64 = 1e12;

/// One question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// What kind of answer it takes.
    pub kind: QuestionKind,
    /// The question.
    pub text: String,
    /// Whether it must be answered.
    pub required: bool,
    /// The options (choice questions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// What 1 means (scale), e.g. 「不満」.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub low: String,
    /// What 5 means (scale), e.g. 「満足」.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub high: String,
    /// The unit (number), e.g. 「床」.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unit: String,
}

impl Question {
    /// A question of `kind` with no options or labels.
    pub fn new(kind: QuestionKind, text: &str, required: bool) -> Self {
        Question {
            kind,
            text: text.to_owned(),
            required,
            options: Vec::new(),
            low: String::new(),
            high: String::new(),
            unit: String::new(),
        }
    }

    /// The same question with these options.
    pub fn with_options(mut self, options: &[&str]) -> Self {
        self.options = options.iter().map(|o| (*o).to_owned()).collect();
        self
    }

    /// Checks the question; the error says what to fix.
    pub fn check(&self) -> Result<(), String> {
        if self.text.trim().is_empty() {
            return Err("質問の文を入れてください".into());
        }
        if self.text.chars().count() > 500 {
            return Err("質問の文は500文字までにしてください".into());
        }
        match self.kind {
            QuestionKind::Single | QuestionKind::Multiple => {
                if self.options.len() < 2 {
                    return Err("選択肢を2つ以上、1行に1つずつ入れてください".into());
                }
                if self.options.len() > MAX_OPTIONS {
                    return Err(format!("選択肢は{MAX_OPTIONS}個までにしてください"));
                }
                if self.options.iter().any(|o| o.chars().count() > 100) {
                    return Err("選択肢はそれぞれ100文字までにしてください".into());
                }
                let mut seen: Vec<String> = Vec::new();
                for o in &self.options {
                    let key = crate::text::search_key(o);
                    if seen.contains(&key) {
                        return Err(format!("選択肢「{o}」が重なっています"));
                    }
                    seen.push(key);
                }
            }
            QuestionKind::Scale | QuestionKind::Number | QuestionKind::Text => {
                if !self.options.is_empty() {
                    return Err("選択肢は単一選択・複数選択の質問にだけ付けられます".into());
                }
            }
        }
        if self.low.chars().count() > 30
            || self.high.chars().count() > 30
            || self.unit.chars().count() > 20
        {
            return Err("目盛りの言葉は30文字、単位は20文字までにしてください".into());
        }
        Ok(())
    }
}

/// Options typed one per line: trimmed, blank lines dropped.
pub fn options_from_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A survey as the coordinator writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survey {
    /// The hub area that sends it.
    pub area: String,
    /// Its title.
    pub title: String,
    /// The words above the questions (why, by when, who to ask).
    pub intro: String,
    /// The last day answers are taken; `None` until closed by hand.
    pub closes_on: Option<NaiveDate>,
    /// The questions, in order.
    pub questions: Vec<Question>,
}

impl Survey {
    /// Checks the title and the words above the questions.
    pub fn check(&self) -> Result<(), String> {
        if self.title.trim().is_empty() {
            return Err("題名を入れてください".into());
        }
        if self.title.chars().count() > 200 {
            return Err("題名は200文字までにしてください".into());
        }
        if self.intro.chars().count() > 4000 {
            return Err("説明は4000文字までにしてください".into());
        }
        if self.questions.len() > MAX_QUESTIONS {
            return Err(format!("質問は{MAX_QUESTIONS}問までにしてください"));
        }
        for (i, q) in self.questions.iter().enumerate() {
            q.check().map_err(|m| format!("問{}：{m}", i + 1))?;
        }
        Ok(())
    }

    /// Checks that it can be sent on `today`: at least one question, a closing day not past.
    pub fn check_sendable(&self, today: NaiveDate) -> Result<(), String> {
        self.check()?;
        if self.questions.is_empty() {
            return Err("質問を1つ以上作ってから送ってください".into());
        }
        if self.closes_on.is_some_and(|d| d < today) {
            return Err("締切日が過ぎています。締切日を今日以降にしてください".into());
        }
        Ok(())
    }

    /// Whether answers are still taken on `today`, when it was not closed by hand.
    pub fn open_on(&self, today: NaiveDate) -> bool {
        self.closes_on.is_none_or(|d| today <= d)
    }
}

/// One answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// Not answered (an optional question).
    Skipped,
    /// The option chosen (its index).
    Choice(usize),
    /// The options chosen (their indexes, in order).
    Choices(Vec<usize>),
    /// 1 to 5.
    Scale(u8),
    /// A number.
    Number(f64),
    /// Free text.
    Text(String),
}

/// Reads a submitted form into answers. `values(i)` gives the values sent for question `i`
/// (several for a multiple choice). On error, one message per question (`None` where the
/// answer was fine), so the form can be shown again with each message at its question.
pub fn read_answers(
    questions: &[Question],
    values: impl Fn(usize) -> Vec<String>,
) -> Result<Vec<Answer>, Vec<Option<String>>> {
    let mut answers = Vec::with_capacity(questions.len());
    let mut errors = Vec::with_capacity(questions.len());
    for (i, q) in questions.iter().enumerate() {
        let sent: Vec<String> = values(i)
            .into_iter()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        match read_one(q, &sent) {
            Ok(a) => {
                answers.push(a);
                errors.push(None);
            }
            Err(m) => {
                answers.push(Answer::Skipped);
                errors.push(Some(m));
            }
        }
    }
    if errors.iter().any(Option::is_some) {
        Err(errors)
    } else {
        Ok(answers)
    }
}

fn read_one(q: &Question, sent: &[String]) -> Result<Answer, String> {
    if sent.is_empty() {
        return if q.required {
            Err(match q.kind {
                QuestionKind::Single | QuestionKind::Scale => "どれか1つを選んでください".into(),
                QuestionKind::Multiple => "1つ以上選んでください".into(),
                QuestionKind::Number => "数を入れてください".into(),
                QuestionKind::Text => "ご記入ください".into(),
            })
        } else {
            Ok(Answer::Skipped)
        };
    }
    let option = |v: &str| {
        v.parse::<usize>()
            .ok()
            .filter(|i| *i < q.options.len())
            .ok_or_else(|| "選択肢から選んでください".to_owned())
    };
    match q.kind {
        QuestionKind::Single => {
            if sent.len() > 1 {
                return Err("1つだけ選んでください".into());
            }
            Ok(Answer::Choice(option(&sent[0])?))
        }
        QuestionKind::Multiple => {
            let mut chosen = sent
                .iter()
                .map(|v| option(v))
                .collect::<Result<Vec<_>, _>>()?;
            chosen.sort_unstable();
            chosen.dedup();
            Ok(Answer::Choices(chosen))
        }
        QuestionKind::Scale => match sent[0].parse::<u8>() {
            Ok(n @ 1..=5) if sent.len() == 1 => Ok(Answer::Scale(n)),
            _ => Err("1から5のどれかを選んでください".into()),
        },
        QuestionKind::Number => {
            let typed = crate::text::normalize(&sent[0]).replace([',', '，'], "");
            match typed.parse::<f64>() {
                Ok(n) if n.is_finite() && n.abs() < MAX_NUMBER && sent.len() == 1 => {
                    Ok(Answer::Number(n))
                }
                _ => Err(format!(
                    "数字で入れてください（例：12）。いただいた値：「{}」",
                    sent[0].chars().take(20).collect::<String>()
                )),
            }
        }
        QuestionKind::Text => {
            let text = sent.join("\n");
            if text.chars().count() > MAX_TEXT_ANSWER {
                Err(format!("{MAX_TEXT_ANSWER}文字までにしてください"))
            } else {
                Ok(Answer::Text(text))
            }
        }
    }
}

/// An answer as a cell of the export or a line of the results: the option's words, 「3」,
/// 「12 床」, the text; empty when skipped.
pub fn answer_text(q: &Question, a: &Answer) -> String {
    let option = |i: &usize| q.options.get(*i).cloned().unwrap_or_default();
    match a {
        Answer::Skipped => String::new(),
        Answer::Choice(i) => option(i),
        Answer::Choices(is) => is.iter().map(option).collect::<Vec<_>>().join("、"),
        Answer::Scale(n) => n.to_string(),
        Answer::Number(n) => {
            let n = number_text(*n);
            if q.unit.is_empty() {
                n
            } else {
                format!("{n} {}", q.unit)
            }
        }
        Answer::Text(t) => t.clone(),
    }
}

/// A number without a needless 「.0」.
pub fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{:.2}", n)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    }
}

/// What the answers to one question add up to.
#[derive(Debug, Clone, PartialEq)]
pub enum Tally {
    /// Choice questions: how many chose each option (a multiple choice counts each).
    Counts {
        /// Per option, in order.
        counts: Vec<usize>,
        /// How many answered the question.
        answered: usize,
    },
    /// The scale: how many chose 1…5, and the mean.
    Scale {
        /// Index 0 is 1.
        counts: [usize; 5],
        /// The mean of those who answered.
        mean: Option<f64>,
        /// How many answered.
        answered: usize,
    },
    /// Numbers: how many, and their spread.
    Numbers {
        /// How many answered.
        answered: usize,
        /// Sum.
        sum: f64,
        /// Mean.
        mean: Option<f64>,
        /// Median.
        median: Option<f64>,
        /// Smallest.
        min: Option<f64>,
        /// Largest.
        max: Option<f64>,
    },
    /// Free text: the answers, in the order they came (empty ones left out).
    Texts(Vec<String>),
}

/// Tallies each question over `responses` (each a list of answers in question order).
pub fn tally(questions: &[Question], responses: &[Vec<Answer>]) -> Vec<Tally> {
    questions
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let answers = responses.iter().filter_map(|r| r.get(i));
            match q.kind {
                QuestionKind::Single | QuestionKind::Multiple => {
                    let mut counts = vec![0; q.options.len()];
                    let mut answered = 0;
                    for a in answers {
                        let chosen: &[usize] = match a {
                            Answer::Choice(c) => std::slice::from_ref(c),
                            Answer::Choices(cs) => cs,
                            _ => continue,
                        };
                        answered += 1;
                        for c in chosen {
                            if let Some(n) = counts.get_mut(*c) {
                                *n += 1;
                            }
                        }
                    }
                    Tally::Counts { counts, answered }
                }
                QuestionKind::Scale => {
                    let mut counts = [0; 5];
                    for a in answers {
                        if let Answer::Scale(n @ 1..=5) = a {
                            counts[usize::from(*n) - 1] += 1;
                        }
                    }
                    let answered: usize = counts.iter().sum();
                    let total: usize = counts.iter().enumerate().map(|(i, n)| (i + 1) * n).sum();
                    Tally::Scale {
                        counts,
                        mean: (answered > 0).then(|| total as f64 / answered as f64),
                        answered,
                    }
                }
                QuestionKind::Number => {
                    let mut ns: Vec<f64> = answers
                        .filter_map(|a| match a {
                            Answer::Number(n) => Some(*n),
                            _ => None,
                        })
                        .collect();
                    ns.sort_by(f64::total_cmp);
                    let sum: f64 = ns.iter().sum();
                    let median = match ns.len() {
                        0 => None,
                        n if n % 2 == 1 => Some(ns[n / 2]),
                        n => Some((ns[n / 2 - 1] + ns[n / 2]) / 2.0),
                    };
                    Tally::Numbers {
                        answered: ns.len(),
                        sum,
                        mean: (!ns.is_empty()).then(|| sum / ns.len() as f64),
                        median,
                        min: ns.first().copied(),
                        max: ns.last().copied(),
                    }
                }
                QuestionKind::Text => Tally::Texts(
                    answers
                        .filter_map(|a| match a {
                            Answer::Text(t) if !t.trim().is_empty() => Some(t.clone()),
                            _ => None,
                        })
                        .collect(),
                ),
            }
        })
        .collect()
}

/// The post-event questionnaire a coordinator starts from (and may change before sending).
pub fn event_questions() -> Vec<Question> {
    let mut satisfaction = Question::new(
        QuestionKind::Scale,
        "本日の研修・講座の満足度を教えてください",
        true,
    );
    satisfaction.low = "不満".into();
    satisfaction.high = "満足".into();
    vec![
        satisfaction,
        Question::new(
            QuestionKind::Single,
            "内容は、これからのお仕事や暮らしに役立ちそうですか",
            true,
        )
        .with_options(&["とても役立つ", "役立つ", "あまり役立たない", "役立たない"]),
        Question::new(
            QuestionKind::Multiple,
            "今後、取り上げてほしいテーマ（いくつでも）",
            false,
        )
        .with_options(&[
            "人生会議（ACP）",
            "在宅での看取り",
            "認知症",
            "医療的ケア児",
            "災害への備え",
            "介護保険・費用",
        ]),
        Question::new(
            QuestionKind::Text,
            "ご意見・ご感想をお聞かせください",
            false,
        ),
    ]
}

/// A survey of active institutions' 24-hour system, after 河内医師会's questionnaire, for a
/// coordinator to start from.
pub fn twenty_four_hour_questions() -> Vec<Question> {
    let mut doctors = Question::new(QuestionKind::Number, "在宅医療に携わる常勤の医師の数", true);
    doctors.unit = "人".into();
    vec![
        Question::new(
            QuestionKind::Single,
            "夜間・休日の往診の体制はどれにあたりますか",
            true,
        )
        .with_options(&[
            "自院だけで24時間対応している",
            "他の医療機関と連携して対応している",
            "対応していない",
        ]),
        doctors,
        Question::new(
            QuestionKind::Multiple,
            "24時間体制を続けるうえでの課題（いくつでも）",
            false,
        )
        .with_options(&[
            "医師の負担",
            "看護師の確保",
            "急変時の入院先",
            "連携先の医療機関",
            "情報共有の手段",
        ]),
        Question::new(
            QuestionKind::Single,
            "地域の当番制（輪番）に参加できますか",
            true,
        )
        .with_options(&["参加できる", "条件によっては参加できる", "参加できない"]),
        Question::new(QuestionKind::Text, "拠点へのご意見・ご要望", false),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<'a>(map: &'a [(usize, &'a str)]) -> impl Fn(usize) -> Vec<String> + 'a {
        move |i| {
            map.iter()
                .filter(|(j, _)| *j == i)
                .map(|(_, v)| (*v).to_owned())
                .collect()
        }
    }

    #[test]
    fn the_templates_are_valid_surveys() {
        for questions in [event_questions(), twenty_four_hour_questions()] {
            let s = Survey {
                area: "yao".into(),
                title: "アンケート".into(),
                intro: String::new(),
                closes_on: None,
                questions,
            };
            assert_eq!(s.check(), Ok(()));
        }
    }

    #[test]
    fn questions_say_what_is_wrong_with_them() {
        let q = Question::new(QuestionKind::Single, "体制", true).with_options(&["あり"]);
        assert!(q.check().unwrap_err().contains("2つ以上"));
        let q = Question::new(QuestionKind::Single, "体制", true).with_options(&["あり", "ｱﾘ"]);
        assert!(
            q.check().unwrap_err().contains("重なって"),
            "{:?}",
            q.check()
        );
        let q = Question::new(QuestionKind::Text, " ", true);
        assert!(q.check().unwrap_err().contains("質問の文"));
        let q = Question::new(QuestionKind::Number, "数", true).with_options(&["a", "b"]);
        assert!(q.check().is_err());
        assert_eq!(
            options_from_lines(" あり \n\nなし\r\n"),
            vec!["あり", "なし"]
        );
        let s = Survey {
            area: "yao".into(),
            title: "調査".into(),
            intro: String::new(),
            closes_on: NaiveDate::from_ymd_opt(2026, 12, 1),
            questions: Vec::new(),
        };
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        assert!(s
            .check_sendable(today)
            .unwrap_err()
            .contains("質問を1つ以上"));
        let s = Survey {
            questions: event_questions(),
            ..s
        };
        assert!(s.check_sendable(today).unwrap_err().contains("締切日"));
        assert!(!s.open_on(today));
        assert!(s.open_on(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()));
    }

    #[test]
    fn forms_become_answers_or_a_message_per_question() {
        let qs = twenty_four_hour_questions();
        let ok = read_answers(
            &qs,
            values(&[(0, "1"), (1, "３"), (2, "0"), (2, "4"), (2, "0"), (3, "2")]),
        )
        .unwrap();
        assert_eq!(
            ok,
            vec![
                Answer::Choice(1),
                Answer::Number(3.0),
                Answer::Choices(vec![0, 4]),
                Answer::Choice(2),
                Answer::Skipped
            ]
        );
        assert_eq!(answer_text(&qs[1], &ok[1]), "3 人");
        assert_eq!(answer_text(&qs[2], &ok[2]), "医師の負担、情報共有の手段");
        let errors = read_answers(&qs, values(&[(0, "9"), (1, "三人")])).unwrap_err();
        assert!(errors[0].as_deref().unwrap().contains("選択肢"));
        assert!(errors[1].as_deref().unwrap().contains("数字"));
        assert_eq!(errors[2], None, "optional");
        assert!(errors[3].as_deref().unwrap().contains("1つ"));
        let scale = event_questions();
        let errors = read_answers(&scale, values(&[(0, "6"), (1, "0")])).unwrap_err();
        assert!(errors[0].as_deref().unwrap().contains("1から5"));
        let long = "あ".repeat(MAX_TEXT_ANSWER + 1);
        let errors =
            read_answers(&scale, values(&[(0, "5"), (1, "0"), (3, long.as_str())])).unwrap_err();
        assert!(errors[3].is_some());
        assert_eq!(number_text(1.5), "1.5");
        assert_eq!(number_text(12.0), "12");
        assert_eq!(number_text(1.0 / 3.0), "0.33");
        let big = "1e13";
        assert!(read_answers(&qs, values(&[(0, "0"), (1, big), (3, "0")])).is_err());
    }

    #[test]
    fn answers_are_tallied_per_question() {
        let qs = event_questions();
        let responses = vec![
            vec![
                Answer::Scale(5),
                Answer::Choice(0),
                Answer::Choices(vec![0, 3]),
                Answer::Text("よかった".into()),
            ],
            vec![
                Answer::Scale(4),
                Answer::Choice(0),
                Answer::Skipped,
                Answer::Text(" ".into()),
            ],
            vec![
                Answer::Scale(3),
                Answer::Choice(1),
                Answer::Choices(vec![0]),
                Answer::Skipped,
            ],
        ];
        let t = tally(&qs, &responses);
        assert_eq!(
            t[0],
            Tally::Scale {
                counts: [0, 0, 1, 1, 1],
                mean: Some(4.0),
                answered: 3
            }
        );
        assert_eq!(
            t[1],
            Tally::Counts {
                counts: vec![2, 1, 0, 0],
                answered: 3
            }
        );
        assert_eq!(
            t[2],
            Tally::Counts {
                counts: vec![2, 0, 0, 1, 0, 0],
                answered: 2
            }
        );
        assert_eq!(t[3], Tally::Texts(vec!["よかった".into()]));
        let numbers = tally(
            &twenty_four_hour_questions()[1..2],
            &[
                vec![Answer::Number(1.0)],
                vec![Answer::Number(4.0)],
                vec![Answer::Number(2.0)],
                vec![Answer::Number(3.0)],
            ],
        );
        assert_eq!(
            numbers[0],
            Tally::Numbers {
                answered: 4,
                sum: 10.0,
                mean: Some(2.5),
                median: Some(2.5),
                min: Some(1.0),
                max: Some(4.0)
            }
        );
    }
}
