//! Events of a hub (研修・講座): trainings and case conferences for professionals
//! (多職種研修, 緩和ケア事例検討会, 小児在宅医療講習会), lectures for citizens (ACP 人生会議講習会,
//! 市民公開講座, まちの保健室), drills; where and when, who organises, how many may come.
//! Citizens' events are on a public calendar; people register by a public form and are checked
//! in on the day. What an event needs and what a registration needs are checked here.

use crate::safety::coded;
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

coded! {
    /// What kind of event.
    EventKind {
        /// 多職種研修.
        Training = "training", "研修（多職種）", "Training";
        /// 事例検討会.
        CaseConference = "case_conference", "事例検討会", "Case conference";
        /// 市民向け講座・講演会.
        Lecture = "lecture", "市民向け講座", "Public lecture";
        /// 訓練.
        Drill = "drill", "訓練", "Drill";
    }
}

coded! {
    /// Who it is for.
    Audience {
        /// 医療・介護の専門職.
        Professionals = "professionals", "医療・介護の専門職", "Professionals";
        /// 市民.
        Citizens = "citizens", "市民", "Citizens";
    }
}

impl EventKind {
    /// The duty of the hub it fulfils (④ training, ⑤ public awareness, ③ drills).
    pub fn duty(self, audience: Audience) -> u8 {
        match (self, audience) {
            (EventKind::Drill, _) => 3,
            (_, Audience::Citizens) => 5,
            _ => 4,
        }
    }
}

/// The longest title and place, characters.
pub const MAX_TEXT: usize = 200;

/// An event as a coordinator describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The hub area that holds it.
    pub area: String,
    /// What kind.
    pub kind: EventKind,
    /// For whom.
    pub audience: Audience,
    /// Its title.
    pub title: String,
    /// Starts (JST).
    pub starts_at: NaiveDateTime,
    /// Ends (JST).
    pub ends_at: NaiveDateTime,
    /// Where (a hall, or the online meeting's name).
    pub place: String,
    /// Held online.
    pub online: bool,
    /// Who organises it (「三医師会合同」).
    pub organiser: String,
    /// How many may register; `None` for no limit.
    pub capacity: Option<u32>,
    /// On the public calendar, open to registration by anyone.
    pub public: bool,
    /// What it is about.
    pub description: String,
}

impl Event {
    /// Checks the event; the error names the field.
    pub fn check(&self) -> Result<(), String> {
        if self.title.trim().is_empty() {
            return Err("題名を入れてください".into());
        }
        if self.title.chars().count() > MAX_TEXT || self.place.chars().count() > MAX_TEXT {
            return Err(format!("題名と場所は{MAX_TEXT}文字までにしてください"));
        }
        if self.place.trim().is_empty() {
            return Err("場所（オンラインのときは会議の名前）を入れてください".into());
        }
        if self.ends_at <= self.starts_at {
            return Err("終わりの時刻を始まりより後にしてください".into());
        }
        if self.capacity == Some(0) {
            return Err("定員は1人以上にしてください（制限しないときは空欄）".into());
        }
        if self.description.chars().count() > 4000 {
            return Err("内容は4000文字までにしてください".into());
        }
        Ok(())
    }

    /// Whether people may still register at `now` (JST): before it starts.
    pub fn open_at(&self, now: NaiveDateTime) -> bool {
        now < self.starts_at
    }
}

/// A registration as a person sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Name.
    pub name: String,
    /// Organisation (optional for citizens).
    pub organisation: String,
    /// Profession (optional for citizens).
    pub profession: String,
    /// Where the confirmation goes.
    pub email: String,
}

impl Registration {
    /// Checks the registration: a name, a mail address that can be one, no more than needed.
    pub fn check(&self, audience: Audience) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("お名前を入れてください".into());
        }
        if self.name.chars().count() > 60
            || self.organisation.chars().count() > 100
            || self.profession.chars().count() > 40
        {
            return Err("お名前は60文字、所属は100文字、職種は40文字までにしてください".into());
        }
        if crate::accounts::Email::parse(self.email.trim()).is_err() {
            return Err("確認のメールを送るアドレスを正しく入れてください".into());
        }
        if audience == Audience::Professionals && self.organisation.trim().is_empty() {
            return Err("所属（医療機関・事業所の名前）を入れてください".into());
        }
        Ok(())
    }
}

/// The key two registrations of one person share: the address, case and width folded.
pub fn email_key(email: &str) -> String {
    crate::text::normalize(email.trim()).to_lowercase()
}

/// 「令和8年12月5日（土）14:00〜16:00」 / "2026-12-05 (Sat) 14:00–16:00".
pub fn when_ja(starts: NaiveDateTime, ends: NaiveDateTime) -> String {
    use chrono::Datelike;
    let weekday = ["月", "火", "水", "木", "金", "土", "日"]
        [starts.weekday().num_days_from_monday() as usize];
    let end = if ends.date() == starts.date() {
        ends.format("%H:%M").to_string()
    } else {
        format!(
            "{} {}",
            crate::fiscal_year::format_wareki_date(ends.date()),
            ends.format("%H:%M")
        )
    };
    format!(
        "{}（{weekday}）{}〜{end}",
        crate::fiscal_year::format_wareki_date(starts.date()),
        starts.format("%H:%M")
    )
}

/// The first day of the month a day is in.
pub fn month_of(day: NaiveDate) -> NaiveDate {
    use chrono::Datelike;
    day.with_day(1).unwrap_or(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    }

    fn lecture() -> Event {
        Event {
            area: "yao".into(),
            kind: EventKind::Lecture,
            audience: Audience::Citizens,
            title: "人生会議（ACP）講習会".into(),
            starts_at: at(2026, 12, 12, 14),
            ends_at: at(2026, 12, 12, 16),
            place: "八尾市文化会館".into(),
            online: false,
            organiser: "八尾市医師会".into(),
            capacity: Some(80),
            public: true,
            description: String::new(),
        }
    }

    #[test]
    fn events_are_checked_field_by_field() {
        assert_eq!(lecture().check(), Ok(()));
        let mut e = lecture();
        e.ends_at = e.starts_at;
        assert!(e.check().unwrap_err().contains("終わり"));
        let mut e = lecture();
        e.capacity = Some(0);
        assert!(e.check().unwrap_err().contains("定員"));
        let mut e = lecture();
        e.title = " ".into();
        assert!(e.check().unwrap_err().contains("題名"));
        assert!(lecture().open_at(at(2026, 12, 12, 13)));
        assert!(!lecture().open_at(at(2026, 12, 12, 14)));
        assert_eq!(EventKind::Lecture.duty(Audience::Citizens), 5);
        assert_eq!(EventKind::Training.duty(Audience::Professionals), 4);
        assert_eq!(EventKind::Drill.duty(Audience::Professionals), 3);
    }

    #[test]
    fn registrations_need_a_name_and_an_address() {
        let r = Registration {
            name: "河内 太郎".into(),
            organisation: String::new(),
            profession: String::new(),
            email: "taro@example.jp".into(),
        };
        assert_eq!(r.check(Audience::Citizens), Ok(()));
        assert!(r
            .check(Audience::Professionals)
            .unwrap_err()
            .contains("所属"));
        let mut bad = r.clone();
        bad.email = "taro-at-example".into();
        assert!(bad
            .check(Audience::Citizens)
            .unwrap_err()
            .contains("アドレス"));
        assert_eq!(email_key(" Ｔａｒｏ@Example.JP "), "taro@example.jp");
        assert_eq!(
            when_ja(at(2026, 12, 12, 14), at(2026, 12, 12, 16)),
            "令和8年12月12日（土）14:00〜16:00"
        );
    }
}
