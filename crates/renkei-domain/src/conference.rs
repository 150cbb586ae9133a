//! Discharge conferences (退院前カンファレンス): the hospital proposes time slots, the people who
//! will care for the patient at home — the clinic doctor, the visiting nurse, the care manager,
//! the pharmacist — say which slots they can make, the hospital fixes one and it goes out as an
//! iCalendar invitation. The conference names the patient no more than an urgent request does.

use crate::institution::InstitutionKind;
use crate::safety::coded;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

coded! {
    /// Who an invitee is for the patient.
    InviteeRole {
        /// 在宅医（かかりつけ医）.
        ClinicDoctor = "clinic_doctor", "在宅医（かかりつけ医）", "Home-care doctor";
        /// 訪問看護師.
        VisitingNurse = "visiting_nurse", "訪問看護師", "Visiting nurse";
        /// ケアマネジャー.
        CareManager = "care_manager", "ケアマネジャー", "Care manager";
        /// 薬剤師（薬局）.
        Pharmacist = "pharmacist", "薬剤師（薬局）", "Pharmacist";
    }
}

impl InviteeRole {
    /// The kind of institution that person works at.
    pub fn kind(self) -> InstitutionKind {
        match self {
            InviteeRole::ClinicDoctor => InstitutionKind::Clinic,
            InviteeRole::VisitingNurse => InstitutionKind::VisitingNurseStation,
            InviteeRole::CareManager => InstitutionKind::CareSupportOffice,
            InviteeRole::Pharmacist => InstitutionKind::Pharmacy,
        }
    }
}

coded! {
    /// Whether an invitee can make a slot.
    Availability {
        /// 参加できる.
        Yes = "yes", "参加できる", "Can attend";
        /// 調整すれば参加できる.
        Maybe = "maybe", "調整すれば可", "Possibly";
        /// 参加できない.
        No = "no", "参加できない", "Cannot attend";
    }
}

coded! {
    /// Where a conference stands.
    ConferenceStatus {
        /// 日程調整中.
        Proposed = "proposed", "日程調整中", "Finding a time";
        /// 日程決定.
        Fixed = "fixed", "日程決定", "Fixed";
        /// 中止.
        Cancelled = "cancelled", "中止", "Cancelled";
    }
}

/// Upper bounds of the form.
pub mod limits {
    /// Slots proposed.
    pub const SLOTS: usize = 5;
    /// Invitees.
    pub const INVITEES: usize = 8;
    /// Length in minutes (least, most).
    pub const MINUTES: (u32, u32) = (15, 180);
    /// Texts, characters.
    pub const TEXT_CHARS: usize = 200;
}

/// A proposed conference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// What it is about, naming nobody (「80代男性・誤嚥性肺炎、在宅酸素導入」).
    pub subject: String,
    /// Where (a room, or 「オンライン」 with the way in).
    pub place: String,
    /// Minutes it takes.
    pub minutes: u32,
    /// The times it could start.
    pub slots: Vec<DateTime<Utc>>,
}

impl Proposal {
    /// Whether it can be proposed at `now`; the reason if not.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), String> {
        if self.subject.trim().is_empty() {
            return Err(
                "カンファレンスの内容を書いてください（例：80代男性・誤嚥性肺炎、在宅酸素導入）"
                    .into(),
            );
        }
        for (text, field) in [(&self.subject, "内容"), (&self.place, "場所")] {
            if text.chars().count() > limits::TEXT_CHARS {
                return Err(format!(
                    "「{field}」は{}文字までにしてください",
                    limits::TEXT_CHARS
                ));
            }
            if let Some(what) = crate::urgent::identifying(text) {
                return Err(format!(
                    "「{field}」に{what}のようなものがあります。患者を特定できる情報は書かないでください"
                ));
            }
        }
        if self.place.trim().is_empty() {
            return Err("場所を書いてください（例：3階カンファレンス室、オンライン）".into());
        }
        let (least, most) = limits::MINUTES;
        if !(least..=most).contains(&self.minutes) {
            return Err(format!("時間は{least}〜{most}分にしてください"));
        }
        if self.slots.is_empty() {
            return Err("候補の日時を1つ以上入れてください".into());
        }
        if self.slots.len() > limits::SLOTS {
            return Err(format!("候補の日時は{}つまでにしてください", limits::SLOTS));
        }
        if self.slots.iter().any(|s| *s <= now) {
            return Err("候補の日時に過ぎた時刻があります".into());
        }
        let mut sorted = self.slots.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != self.slots.len() {
            return Err("同じ候補の日時が2つあります".into());
        }
        Ok(())
    }

    /// When a slot ends.
    pub fn end_of(&self, start: DateTime<Utc>) -> DateTime<Utc> {
        start + Duration::minutes(i64::from(self.minutes))
    }
}

/// How well a slot suits the invitees: those who can attend, those who might, those who cannot,
/// those who have not said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    /// 参加できる.
    pub yes: usize,
    /// 調整すれば可.
    pub maybe: usize,
    /// 参加できない.
    pub no: usize,
    /// 未回答.
    pub unanswered: usize,
}

/// The tally of one slot from the invitees' answers to it (`None`: not answered).
pub fn tally(answers: &[Option<Availability>]) -> Tally {
    let mut t = Tally::default();
    for a in answers {
        match a {
            Some(Availability::Yes) => t.yes += 1,
            Some(Availability::Maybe) => t.maybe += 1,
            Some(Availability::No) => t.no += 1,
            None => t.unanswered += 1,
        }
    }
    t
}

/// The index of the slot that suits best: fewest who cannot, then most who can, then the
/// earliest; `None` when there are no slots.
pub fn best(tallies: &[Tally]) -> Option<usize> {
    (0..tallies.len()).min_by_key(|&i| {
        let t = tallies[i];
        (
            t.no,
            std::cmp::Reverse(t.yes),
            std::cmp::Reverse(t.maybe),
            i,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn proposal(slots: Vec<DateTime<Utc>>) -> Proposal {
        Proposal {
            subject: "80代男性・誤嚥性肺炎、在宅酸素導入".into(),
            place: "3階カンファレンス室".into(),
            minutes: 45,
            slots,
        }
    }

    #[test]
    fn proposals_are_checked() {
        let now = Utc.with_ymd_and_hms(2026, 12, 2, 0, 0, 0).unwrap();
        let later = |h| now + Duration::hours(h);
        assert_eq!(proposal(vec![later(30), later(54)]).check(now), Ok(()));
        assert!(proposal(vec![]).check(now).unwrap_err().contains("1つ以上"));
        assert!(proposal(vec![later(-1)])
            .check(now)
            .unwrap_err()
            .contains("過ぎた"));
        assert!(proposal(vec![later(5), later(5)])
            .check(now)
            .unwrap_err()
            .contains("同じ"));
        let mut named = proposal(vec![later(30)]);
        named.subject = "山田様 072-999-1234".into();
        assert!(named.check(now).unwrap_err().contains("電話番号"));
        let mut long = proposal(vec![later(30)]);
        long.minutes = 600;
        assert!(long.check(now).unwrap_err().contains("15〜180"));
    }

    #[test]
    fn the_best_slot_loses_fewest() {
        use Availability::*;
        let slots = [
            tally(&[Some(Yes), Some(No), Some(Yes)]),
            tally(&[Some(Yes), Some(Maybe), Some(Yes)]),
            tally(&[Some(Yes), Some(Yes), None]),
        ];
        assert_eq!(
            slots[1],
            Tally {
                yes: 2,
                maybe: 1,
                no: 0,
                unanswered: 0
            }
        );
        assert_eq!(
            best(&slots),
            Some(1),
            "nobody cannot; two can and one might"
        );
        assert_eq!(best(&[]), None);
    }

    #[test]
    fn roles_name_their_kind() {
        assert_eq!(
            InviteeRole::CareManager.kind(),
            InstitutionKind::CareSupportOffice
        );
    }
}
