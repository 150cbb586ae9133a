//! The hub's consultation window (電話相談窓口): what a coordinator notes about each call or
//! visit — when, who asked (the kind of caller, never a name), the area, what it was about,
//! what was done (information, a referral to directory institutions, a follow-up by a date),
//! how long it took — and the month's and the year's figures by topic and caller that go into
//! the hub's ledger (②) and the report to the prefecture. The summary is screened like an
//! urgent request's: a phone number, a postcode, a house number or a date of birth is refused.

use crate::fiscal_year::FiscalYear;
use crate::safety::coded;
use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

coded! {
    /// Who called (the kind of caller).
    Caller {
        /// 本人.
        Patient = "patient", "本人", "The person";
        /// 家族.
        Family = "family", "家族", "Family";
        /// ケアマネジャー.
        CareManager = "care_manager", "ケアマネジャー", "Care manager";
        /// 病院の医療ソーシャルワーカー・退院調整.
        HospitalMsw = "hospital_msw", "病院（MSW・退院調整）", "Hospital (MSW, discharge)";
        /// 診療所.
        Clinic = "clinic", "診療所", "Clinic";
        /// 訪問看護.
        VisitingNurse = "visiting_nurse", "訪問看護", "Visiting nurse";
        /// 薬局.
        Pharmacy = "pharmacy", "薬局", "Pharmacy";
        /// 地域包括支援センター.
        CommunityCenter = "community_center", "地域包括支援センター", "Community care centre";
        /// 介護サービス事業所.
        CareService = "care_service", "介護サービス事業所", "Care service";
        /// 行政.
        Administration = "administration", "行政", "Administration";
        /// その他.
        Other = "other", "その他", "Other";
    }
}

coded! {
    /// What a consultation was about (one or more).
    Topic {
        /// 訪問診療医を探したい.
        FindingDoctor = "finding_doctor", "訪問診療医を探す", "Finding a home-visit doctor";
        /// 退院・入院の調整.
        Discharge = "discharge", "退院・入院の調整", "Discharge and admission";
        /// 看取り・終末期.
        EndOfLife = "end_of_life", "看取り・終末期", "End of life";
        /// 認知症.
        Dementia = "dementia", "認知症", "Dementia";
        /// 医療的ケア児・小児.
        Children = "children", "医療的ケア児・小児", "Children with medical care";
        /// 費用.
        Cost = "cost", "費用", "Cost";
        /// 訪問看護.
        VisitingNursing = "visiting_nursing", "訪問看護", "Visiting nursing";
        /// 訪問歯科・口腔ケア.
        Dental = "dental", "訪問歯科・口腔ケア", "Home dental care";
        /// 薬・服薬.
        Medication = "medication", "薬・服薬", "Medication";
        /// 介護サービス.
        CareServices = "care_services", "介護サービス", "Care services";
        /// ACP（人生会議）.
        Acp = "acp", "ACP（人生会議）", "Advance care planning";
        /// 災害への備え.
        Disaster = "disaster", "災害への備え", "Disaster preparedness";
        /// その他.
        Other = "other", "その他", "Other";
    }
}

coded! {
    /// How the consultation came in.
    Channel {
        /// 電話.
        Phone = "phone", "電話", "Phone";
        /// 来所.
        Visit = "visit", "来所", "In person";
        /// メール・FAX.
        Written = "written", "メール・FAX", "Mail or fax";
    }
}

coded! {
    /// What the coordinator did (one or more).
    Action {
        /// 情報提供.
        Information = "information", "情報提供", "Information";
        /// 医療機関・事業所の紹介.
        Referral = "referral", "医療機関・事業所の紹介", "Referral";
        /// 関係機関との調整.
        Coordination = "coordination", "関係機関との調整", "Coordination";
        /// フォローアップが必要.
        FollowUp = "follow_up", "フォローアップ", "Follow-up";
    }
}

/// The longest consultation, minutes.
pub const MAX_MINUTES: u32 = 600;
/// The longest summary, characters.
pub const MAX_SUMMARY: usize = 1000;

/// One consultation as the coordinator notes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consultation {
    /// When it came in (JST).
    pub received_at: NaiveDateTime,
    /// The hub area it belongs to.
    pub area: String,
    /// How it came in.
    pub channel: Channel,
    /// Who asked.
    pub caller: Caller,
    /// What about.
    pub topics: Vec<Topic>,
    /// What was done.
    pub actions: Vec<Action>,
    /// Directory institutions it was referred to.
    pub referrals: Vec<i64>,
    /// What was asked and answered, without names or contact details.
    pub summary: String,
    /// How long it took, minutes.
    pub minutes: u32,
    /// When to follow up, if a follow-up is needed.
    pub follow_up_on: Option<NaiveDate>,
}

impl Consultation {
    /// Checks the note; the error names the field and says what to do.
    pub fn check(&self, today: NaiveDate) -> Result<(), String> {
        if self.received_at.date() > today {
            return Err("受付日時が今日より後になっています".into());
        }
        if self.topics.is_empty() {
            return Err("相談の内容（分類）を1つ以上選んでください".into());
        }
        if self.actions.is_empty() {
            return Err("対応を1つ以上選んでください".into());
        }
        if self.actions.contains(&Action::Referral) && self.referrals.is_empty() {
            return Err("紹介した医療機関・事業所を選んでください（名前で探せます）".into());
        }
        if self.actions.contains(&Action::FollowUp) != self.follow_up_on.is_some() {
            return Err(if self.follow_up_on.is_none() {
                "フォローアップの予定日を入れてください".into()
            } else {
                "フォローアップの予定日を入れたときは、対応で「フォローアップ」を選んでください"
                    .into()
            });
        }
        if self.minutes == 0 || self.minutes > MAX_MINUTES {
            return Err(format!("対応時間は1〜{MAX_MINUTES}分で入れてください"));
        }
        if self.summary.chars().count() > MAX_SUMMARY {
            return Err(format!("概要は{MAX_SUMMARY}文字までにしてください"));
        }
        if let Some(what) = crate::urgent::identifying(&self.summary) {
            return Err(format!(
                "概要に{what}のようなものがあります。相談者が特定できる情報（氏名・住所・電話番号・生年月日）は書かないでください"
            ));
        }
        Ok(())
    }
}

/// Reads minutes as typed (「１５」「15分」).
pub fn read_minutes(text: &str) -> Result<u32, String> {
    let folded = crate::text::normalize(text);
    let digits = folded.trim().trim_end_matches('分').trim();
    digits.parse::<u32>().map_err(|_| {
        format!(
            "対応時間は分の数で入れてください（例：15）（入力：「{}」）",
            text.trim()
        )
    })
}

/// What the figures are made of: one consultation's month, caller, topics and minutes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    /// When it came in (JST).
    pub received_on: NaiveDate,
    /// Who asked.
    pub caller: Caller,
    /// What about.
    pub topics: Vec<Topic>,
    /// How long, minutes.
    pub minutes: u32,
    /// Referred to an institution.
    pub referred: bool,
}

/// A fiscal year's figures.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct YearFigures {
    /// Consultations in all.
    pub total: usize,
    /// Minutes in all.
    pub minutes: u64,
    /// Consultations with a referral.
    pub referred: usize,
    /// By month, April first: (first day of the month, consultations).
    pub by_month: Vec<(NaiveDate, usize)>,
    /// By month and topic (a consultation counts once under each of its topics).
    pub by_month_topic: BTreeMap<(NaiveDate, Topic), usize>,
    /// By topic, most first.
    pub by_topic: Vec<(Topic, usize)>,
    /// By caller, most first.
    pub by_caller: Vec<(Caller, usize)>,
}

/// The figures of `year` from its consultations (those outside the year are left out).
pub fn year_figures<'a>(
    year: FiscalYear,
    items: impl IntoIterator<Item = &'a Counted>,
) -> YearFigures {
    let months: Vec<NaiveDate> = (0..12)
        .filter_map(|k| year.start().checked_add_months(chrono::Months::new(k)))
        .collect();
    let mut out = YearFigures {
        by_month: months.iter().map(|m| (*m, 0)).collect(),
        ..YearFigures::default()
    };
    let mut topics: BTreeMap<Topic, usize> = BTreeMap::new();
    let mut callers: BTreeMap<Caller, usize> = BTreeMap::new();
    for c in items.into_iter().filter(|c| year.contains(c.received_on)) {
        out.total += 1;
        out.minutes += u64::from(c.minutes);
        out.referred += usize::from(c.referred);
        let month = c.received_on.with_day(1).unwrap_or(c.received_on);
        if let Some(slot) = out.by_month.iter_mut().find(|(m, _)| *m == month) {
            slot.1 += 1;
        }
        for t in &c.topics {
            *out.by_month_topic.entry((month, *t)).or_default() += 1;
            *topics.entry(*t).or_default() += 1;
        }
        *callers.entry(c.caller).or_default() += 1;
    }
    out.by_topic = most_first(topics);
    out.by_caller = most_first(callers);
    out
}

/// Counts as a list, the largest first (ties in the order of the keys).
fn most_first<K: Ord>(counts: BTreeMap<K, usize>) -> Vec<(K, usize)> {
    let mut v: Vec<(K, usize)> = counts.into_iter().collect();
    v.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    v
}

impl PartialOrd for Topic {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Topic {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let at = |t: &Topic| Topic::ALL.iter().position(|x| x == t);
        at(self).cmp(&at(other))
    }
}

impl PartialOrd for Caller {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Caller {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let at = |t: &Caller| Caller::ALL.iter().position(|x| x == t);
        at(self).cmp(&at(other))
    }
}

/// The ledger's line for a year's figures: 「電話相談窓口（Renkeiの記録から）：相談 120 件（…）」.
pub fn ledger_title(f: &YearFigures) -> String {
    let top: Vec<String> = f
        .by_topic
        .iter()
        .take(3)
        .map(|(t, n)| format!("{} {n}件", t.label_ja()))
        .collect();
    format!(
        "電話相談窓口（Renkeiの記録から）：相談 {} 件・紹介 {} 件（多い内容：{}）",
        f.total,
        f.referred,
        if top.is_empty() {
            "なし".to_owned()
        } else {
            top.join("、")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn note() -> Consultation {
        Consultation {
            received_at: d(2026, 11, 20).and_hms_opt(10, 30, 0).unwrap(),
            area: "yao".into(),
            channel: Channel::Phone,
            caller: Caller::Family,
            topics: vec![Topic::FindingDoctor],
            actions: vec![Action::Information],
            referrals: Vec::new(),
            summary: "退院後の訪問診療医を探している。近くの在宅療養支援診療所を案内".into(),
            minutes: 15,
            follow_up_on: None,
        }
    }

    #[test]
    fn a_note_is_checked_field_by_field() {
        let today = d(2026, 12, 2);
        assert_eq!(note().check(today), Ok(()));
        let mut n = note();
        n.topics.clear();
        assert!(n.check(today).unwrap_err().contains("分類"));
        let mut n = note();
        n.actions = vec![Action::Referral];
        assert!(n.check(today).unwrap_err().contains("紹介した"));
        n.referrals = vec![12];
        assert_eq!(n.check(today), Ok(()));
        let mut n = note();
        n.actions.push(Action::FollowUp);
        assert!(n.check(today).unwrap_err().contains("予定日"));
        n.follow_up_on = Some(d(2026, 12, 9));
        assert_eq!(n.check(today), Ok(()));
        let mut n = note();
        n.follow_up_on = Some(d(2026, 12, 9));
        assert!(n
            .check(today)
            .unwrap_err()
            .contains("フォローアップ」を選んで"));
        let mut n = note();
        n.summary = "長男 090-1234-5678 から".into();
        assert!(n.check(today).unwrap_err().contains("電話番号"));
        let mut n = note();
        n.minutes = 0;
        assert!(n.check(today).unwrap_err().contains("対応時間"));
        let mut n = note();
        n.received_at = d(2026, 12, 3).and_hms_opt(9, 0, 0).unwrap();
        assert!(n.check(today).unwrap_err().contains("今日より後"));
    }

    #[test]
    fn minutes_are_read_as_typed() {
        assert_eq!(read_minutes("１５"), Ok(15));
        assert_eq!(read_minutes("15分"), Ok(15));
        assert!(read_minutes("少し").unwrap_err().contains("例：15"));
    }

    #[test]
    fn the_years_figures_count_by_month_topic_and_caller() {
        let year = FiscalYear::new(2026).unwrap();
        let c = |m: NaiveDate, caller, topics: Vec<Topic>, referred| Counted {
            received_on: m,
            caller,
            topics,
            minutes: 10,
            referred,
        };
        let items = vec![
            c(
                d(2026, 4, 1),
                Caller::Family,
                vec![Topic::FindingDoctor, Topic::Cost],
                true,
            ),
            c(
                d(2026, 4, 30),
                Caller::Family,
                vec![Topic::FindingDoctor],
                false,
            ),
            c(
                d(2026, 11, 20),
                Caller::CareManager,
                vec![Topic::Discharge],
                false,
            ),
            c(
                d(2027, 3, 31),
                Caller::HospitalMsw,
                vec![Topic::Discharge],
                true,
            ),
            // Outside the year.
            c(d(2026, 3, 31), Caller::Family, vec![Topic::Cost], false),
            c(d(2027, 4, 1), Caller::Family, vec![Topic::Cost], false),
        ];
        let f = year_figures(year, &items);
        assert_eq!(f.total, 4);
        assert_eq!(f.minutes, 40);
        assert_eq!(f.referred, 2);
        assert_eq!(f.by_month.len(), 12);
        assert_eq!(f.by_month[0], (d(2026, 4, 1), 2));
        assert_eq!(f.by_month[11], (d(2027, 3, 1), 1));
        assert_eq!(f.by_month_topic[&(d(2026, 4, 1), Topic::FindingDoctor)], 2);
        assert_eq!(f.by_topic[0], (Topic::FindingDoctor, 2));
        assert_eq!(f.by_caller[0], (Caller::Family, 2));
        assert!(ledger_title(&f).contains("相談 4 件・紹介 2 件"));
    }
}
