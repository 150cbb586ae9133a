//! Care-team information sharing (多職種情報共有) — the rules, without storage: the patient as
//! the team needs them, consent in the patterns of IHE PCF (opt-in to sharing with exclusions by
//! institution or profession, withdrawal ending access at once, break-glass), and the one
//! decision every read goes through: may this person see this patient, and why.
//!
//! Nothing outside the registering institution sees a patient before consent is recorded; a
//! team member who leaves their institution or the team loses access at once; a hub coordinator
//! may break the glass in an emergency only with a reason, and such access is flagged for
//! review. The decision is a pure function so the whole access matrix is tested here.

use crate::safety::coded;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

coded! {
    /// A team member's profession.
    Profession {
        /// 医師.
        Doctor = "doctor", "医師", "Doctor";
        /// 看護師.
        Nurse = "nurse", "看護師", "Nurse";
        /// 薬剤師.
        Pharmacist = "pharmacist", "薬剤師", "Pharmacist";
        /// 歯科医師.
        Dentist = "dentist", "歯科医師", "Dentist";
        /// ケアマネジャー（介護支援専門員）.
        CareManager = "care_manager", "ケアマネジャー", "Care manager";
        /// リハビリ職（PT・OT・ST）.
        Therapist = "therapist", "リハビリ職（PT・OT・ST）", "Therapist (PT/OT/ST)";
        /// 医療ソーシャルワーカー.
        SocialWorker = "msw", "医療ソーシャルワーカー", "Medical social worker";
        /// 連携拠点のコーディネーター.
        HubCoordinator = "hub_coordinator", "連携拠点コーディネーター", "Hub coordinator";
    }
}

coded! {
    /// Care a patient depends on, as the team and the disaster module need to know it.
    CareNeed {
        /// 人工呼吸器.
        Ventilator = "ventilator", "人工呼吸器", "Ventilator";
        /// 在宅酸素.
        Oxygen = "oxygen", "在宅酸素", "Home oxygen";
        /// 吸引.
        Suction = "suction", "喀痰吸引", "Suction";
        /// 経管栄養・胃ろう.
        TubeFeeding = "tube_feeding", "経管栄養・胃ろう", "Tube feeding";
        /// 中心静脈栄養.
        Parenteral = "parenteral", "中心静脈栄養", "Parenteral nutrition";
        /// 在宅透析.
        Dialysis = "dialysis", "在宅透析", "Home dialysis";
        /// 褥瘡.
        PressureUlcer = "pressure_ulcer", "褥瘡", "Pressure ulcer";
        /// 認知症.
        Dementia = "dementia", "認知症", "Dementia";
    }
}

impl CareNeed {
    /// Whether the patient's life depends on electric power (the disaster module counts them).
    pub fn power_dependent(self) -> bool {
        matches!(
            self,
            CareNeed::Ventilator | CareNeed::Oxygen | CareNeed::Suction
        )
    }
}

coded! {
    /// The patient's sex as the record keeps it.
    PatientSex {
        /// 女性.
        Female = "female", "女性", "Female";
        /// 男性.
        Male = "male", "男性", "Male";
        /// その他.
        Other = "other", "その他", "Other";
        /// 不明.
        Unknown = "unknown", "不明", "Unknown";
    }
}

/// Bounds of the patient form.
pub mod limits {
    /// Names and readings, characters.
    pub const NAME_CHARS: usize = 40;
    /// The address, characters.
    pub const ADDRESS_CHARS: usize = 120;
    /// Emergency contacts.
    pub const CONTACTS: usize = 5;
    /// The oldest a person is taken to be, years.
    pub const AGE_YEARS: i32 = 125;
}

/// Someone to call about the patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyContact {
    /// Name.
    pub name: String,
    /// Relation (「長女」「夫」).
    pub relation: String,
    /// Phone.
    pub phone: String,
}

/// A patient as the care team needs them — no more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Patient {
    /// Family and given name (「河内 花子」).
    pub name: String,
    /// Reading in katakana (「カワチ ハナコ」).
    pub kana: String,
    /// Date of birth.
    pub birth_date: NaiveDate,
    /// Sex.
    pub sex: PatientSex,
    /// Where they live (visits go there).
    pub address: String,
    /// Care they depend on.
    pub needs: Vec<CareNeed>,
    /// Whom to call.
    pub contacts: Vec<EmergencyContact>,
}

impl Patient {
    /// Whether the record can be kept on `today`; the reason, naming the field, if not.
    pub fn check(&self, today: NaiveDate) -> Result<(), String> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err("「氏名」を書いてください".into());
        }
        let kana = crate::text::normalize(self.kana.trim());
        if kana.is_empty() {
            return Err("「ふりがな」を書いてください（カタカナ）".into());
        }
        if !kana
            .chars()
            .all(|c| ('\u{30A1}'..='\u{30FC}').contains(&c) || c == ' ' || c == '　')
        {
            return Err("「ふりがな」はカタカナで書いてください".into());
        }
        for (text, field) in [(name, "氏名"), (kana.as_str(), "ふりがな")] {
            if text.chars().count() > limits::NAME_CHARS {
                return Err(format!(
                    "「{field}」は{}文字までにしてください",
                    limits::NAME_CHARS
                ));
            }
        }
        if self.birth_date > today {
            return Err("「生年月日」が今日より後になっています".into());
        }
        if today.years_since(self.birth_date).unwrap_or(0) > limits::AGE_YEARS as u32 {
            return Err("「生年月日」が古すぎます（和暦の元号を確かめてください）".into());
        }
        if self.address.trim().is_empty() {
            return Err("「住所」を書いてください（訪問先）".into());
        }
        if self.address.chars().count() > limits::ADDRESS_CHARS {
            return Err(format!(
                "「住所」は{}文字までにしてください",
                limits::ADDRESS_CHARS
            ));
        }
        if self.contacts.len() > limits::CONTACTS {
            return Err(format!(
                "緊急連絡先は{}件までにしてください",
                limits::CONTACTS
            ));
        }
        for c in &self.contacts {
            if c.name.trim().is_empty() || c.phone.trim().is_empty() {
                return Err("緊急連絡先には名前と電話番号を書いてください".into());
            }
        }
        Ok(())
    }

    /// Whether the patient's life depends on electric power.
    pub fn power_dependent(&self) -> bool {
        self.needs.iter().any(|n| n.power_dependent())
    }
}

/// Who gave consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Consenter {
    /// The patient.
    Patient,
    /// A family member or representative, with their name and relation.
    Representative {
        /// Name.
        name: String,
        /// Relation to the patient.
        relation: String,
    },
}

/// The patient's consent to sharing (IHE PCF "explicit intermediate": opt-in with exclusions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// Who consented.
    pub consenter: Consenter,
    /// When it was given.
    pub given_on: NaiveDate,
    /// Institutions that must not see the record, even in the team.
    pub excluded_institutions: Vec<i64>,
    /// Professions that must not see the record.
    pub excluded_professions: Vec<Profession>,
    /// When it was withdrawn (access outside the registering institution ends then).
    pub withdrawn: bool,
}

/// A member of a patient's care team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// The user.
    pub user_id: i64,
    /// The institution they take part for.
    pub institution_id: i64,
    /// Their profession.
    pub profession: Profession,
    /// Whether they were removed from the team.
    pub removed: bool,
}

/// What is known about the person asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asker {
    /// The user.
    pub user_id: i64,
    /// The institutions they work at now (a membership ended elsewhere is gone from here).
    pub institutions: Vec<i64>,
    /// The areas whose hub they coordinate.
    pub coordinates: Vec<String>,
    /// A reason given to break the glass for this request, if any.
    pub break_glass: Option<String>,
}

/// What is known about the patient asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The institution that registered the patient.
    pub registered_by: i64,
    /// The area the patient lives in (whose hub may break the glass).
    pub area: String,
    /// The consent, if one was recorded.
    pub consent: Option<Consent>,
    /// The care team.
    pub team: Vec<Member>,
}

/// Why access was allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Staff of the registering institution who are on the team.
    Registering,
    /// A team member from another institution, under the consent.
    Member,
    /// A hub coordinator's emergency access, with a reason, flagged for review.
    BreakGlass,
}

/// Why access was refused (the page says "not found" for all of them, so that nobody learns a
/// patient exists; the audit log keeps the reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not on the team (or removed from it).
    NotMember,
    /// On the team, but no longer working at the institution they take part for.
    LeftInstitution,
    /// From another institution, and no consent (or it was withdrawn).
    NoConsent,
    /// Excluded by the consent (their institution or their profession).
    Excluded,
    /// A coordinator asked to break the glass without a reason.
    NoReason,
}

/// The reason given to break the glass, if it is one (at least a few words).
fn real_reason(reason: &str) -> bool {
    reason.trim().chars().count() >= 4
}

/// May `asker` see `record`? The one decision every read of patient data goes through.
pub fn decide(asker: &Asker, record: &Record) -> Result<Grant, Refusal> {
    let membership = record
        .team
        .iter()
        .find(|m| m.user_id == asker.user_id && !m.removed);
    if let Some(m) = membership {
        if !asker.institutions.contains(&m.institution_id) {
            return Err(Refusal::LeftInstitution);
        }
        if m.institution_id == record.registered_by {
            return Ok(Grant::Registering);
        }
        return match &record.consent {
            Some(c) if !c.withdrawn => {
                if c.excluded_institutions.contains(&m.institution_id)
                    || c.excluded_professions.contains(&m.profession)
                {
                    Err(Refusal::Excluded)
                } else {
                    Ok(Grant::Member)
                }
            }
            _ => Err(Refusal::NoConsent),
        };
    }
    if asker.coordinates.contains(&record.area) {
        return match &asker.break_glass {
            Some(reason) if real_reason(reason) => Ok(Grant::BreakGlass),
            Some(_) => Err(Refusal::NoReason),
            None => Err(Refusal::NotMember),
        };
    }
    Err(Refusal::NotMember)
}

/// Vital signs taken at a visit; each may be missing.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Vitals {
    /// Systolic blood pressure, mmHg.
    pub systolic: Option<u32>,
    /// Diastolic blood pressure, mmHg.
    pub diastolic: Option<u32>,
    /// Pulse, per minute.
    pub pulse: Option<u32>,
    /// SpO2, %.
    pub spo2: Option<u32>,
    /// Body temperature, tenths of °C (365 = 36.5 °C).
    pub temperature_tenths: Option<u32>,
}

impl Vitals {
    /// Reads the form as typed on a phone (全角, 「℃」「%」「mmHg」 allowed); the reason, naming
    /// the field, if a value is impossible.
    pub fn read(
        systolic: &str,
        diastolic: &str,
        pulse: &str,
        spo2: &str,
        temperature: &str,
    ) -> Result<Vitals, String> {
        let strip = |s: &str| {
            crate::text::normalize(s)
                .replace("mmHg", "")
                .replace(['%', '℃', '°', 'C', '回', '/', '分'], "")
                .trim()
                .to_owned()
        };
        let count = |s: &str, field: &str, range: std::ops::RangeInclusive<u32>| {
            let s = strip(s);
            if s.is_empty() {
                return Ok(None);
            }
            let n: u32 = s
                .parse()
                .map_err(|_| format!("「{field}」は数字で書いてください"))?;
            if !range.contains(&n) {
                return Err(format!(
                    "「{field}」の{n}はありえない値です（{}〜{}）",
                    range.start(),
                    range.end()
                ));
            }
            Ok(Some(n))
        };
        let temperature = {
            let s = strip(temperature);
            if s.is_empty() {
                None
            } else {
                let t: f64 = s
                    .parse()
                    .map_err(|_| "「体温」は数字で書いてください（例：36.8）".to_owned())?;
                if !(30.0..=43.0).contains(&t) {
                    return Err(format!("「体温」の{t}はありえない値です（30〜43℃）"));
                }
                Some((t * 10.0).round() as u32)
            }
        };
        let v = Vitals {
            systolic: count(systolic, "血圧（上）", 40..=300)?,
            diastolic: count(diastolic, "血圧（下）", 20..=200)?,
            pulse: count(pulse, "脈拍", 20..=250)?,
            spo2: count(spo2, "SpO2", 50..=100)?,
            temperature_tenths: temperature,
        };
        if let (Some(s), Some(d)) = (v.systolic, v.diastolic) {
            if d >= s {
                return Err("血圧の下が上以上になっています".into());
            }
        }
        if v == Vitals::default() {
            return Err("バイタルを1つ以上書いてください".into());
        }
        Ok(v)
    }
}

/// A file type the timeline accepts, recognised by its content, never by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentType {
    /// PNG image.
    Png,
    /// JPEG image.
    Jpeg,
    /// PDF document.
    Pdf,
}

impl AttachmentType {
    /// Its media type.
    pub fn media_type(self) -> &'static str {
        match self {
            AttachmentType::Png => "image/png",
            AttachmentType::Jpeg => "image/jpeg",
            AttachmentType::Pdf => "application/pdf",
        }
    }
}

/// The fewest characters of a break-glass reason: a sentence that says what happened, not
/// 「あああ」.
pub const MIN_GLASS_REASON_CHARS: usize = 10;

/// Checks the reason a coordinator gives for opening a patient's record in an emergency: at
/// least [`MIN_GLASS_REASON_CHARS`] characters, not one character repeated.
pub fn check_glass_reason(reason: &str) -> Result<(), String> {
    let reason = reason.trim();
    let chars: Vec<char> = reason.chars().filter(|c| !c.is_whitespace()).collect();
    let mut distinct = chars.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if chars.len() < MIN_GLASS_REASON_CHARS || distinct.len() < 4 {
        return Err(format!(
            "緊急に閲覧する理由を、何が起きているか分かる文で書いてください（{MIN_GLASS_REASON_CHARS}文字以上。例：夜間に意識レベル低下、家族から相談。主治医に連絡つかず）。あとで他の人が確認します"
        ));
    }
    Ok(())
}

/// The largest attachment, bytes.
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;

/// What a file is, by its first bytes (and, for a PDF, its end); `None` for anything else — a
/// script or a program named 「写真.jpg」 is refused.
pub fn sniff(bytes: &[u8]) -> Option<AttachmentType> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(AttachmentType::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF])
        && bytes.windows(2).skip(3).any(|w| w == [0xFF, 0xD9])
    {
        // Phones append data after the end-of-image marker (motion photos), so the marker is
        // looked for, not required last.

        Some(AttachmentType::Jpeg)
    } else if bytes.starts_with(b"%PDF-") && crate::readiness::ends_like_pdf(bytes) {
        Some(AttachmentType::Pdf)
    } else {
        None
    }
}

/// At most this many files go with one post.
pub const MAX_ATTACHMENTS: usize = 3;

/// The file, if the timeline takes it: a PNG, JPEG or PDF by its content, not empty and no
/// larger than [`MAX_ATTACHMENT_BYTES`]; otherwise what to tell the user.
pub fn check_attachment(file_name: &str, bytes: &[u8]) -> Result<AttachmentType, String> {
    if bytes.is_empty() {
        return Err(format!("「{file_name}」は空のファイルです"));
    }
    if bytes.len() > MAX_ATTACHMENT_BYTES {
        return Err(format!(
            "「{file_name}」は大きすぎます（{:.1} MB）。1ファイル10 MBまでです。写真は縮小してから添付してください",
            bytes.len() as f64 / 1_048_576.0
        ));
    }
    let kind = sniff(bytes).ok_or_else(|| {
        format!("「{file_name}」は写真（JPEG・PNG）かPDFではありません。名前ではなく中身で確かめています")
    })?;
    if let Some(why) = crate::files::active_content(bytes) {
        return Err(format!(
            "「{file_name}」は受け付けられません: {why}。写真は撮り直すか、PDF は印刷機能で PDF に保存し直してから添付してください"
        ));
    }
    Ok(kind)
}

/// What a physician records after a home visit so that the team can see it — the items the
/// 2024 fee schedule asks for under 在宅医療情報連携加算: ① the next visit and whether the
/// treatment plan changed, ② what changed, ③ points to heed in care.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VisitRecord {
    /// ① The next planned visit.
    pub next_visit_on: Option<NaiveDate>,
    /// ① Whether the treatment plan changed.
    pub plan_changed: bool,
    /// ② What changed (required when it changed).
    pub plan_change: String,
    /// ③ Points to heed in medical and care work.
    pub care_points: String,
}

impl VisitRecord {
    /// Reads the form: `None` when nothing of it was filled in; an error names the field.
    pub fn read(
        next_visit_on: &str,
        plan_changed: &str,
        plan_change: &str,
        care_points: &str,
        today: NaiveDate,
    ) -> Result<Option<VisitRecord>, String> {
        let filled = [next_visit_on, plan_changed, plan_change, care_points]
            .iter()
            .any(|v| !v.trim().is_empty());
        if !filled {
            return Ok(None);
        }
        let next = match next_visit_on.trim() {
            "" => None,
            text => {
                let day = crate::power::read_day(text, "次回訪問予定日")?;
                if day < today {
                    return Err("次回訪問予定日が今日より前になっています".into());
                }
                Some(day)
            }
        };
        let changed = match plan_changed.trim() {
            "yes" => true,
            "no" => false,
            _ => return Err("治療方針の変更の有無を選んでください".into()),
        };
        let change = plan_change.trim().to_owned();
        if changed && change.is_empty() {
            return Err("治療方針を変更したときは、変更の概要を書いてください".into());
        }
        if change.chars().count() > 1000 || care_points.trim().chars().count() > 1000 {
            return Err("変更の概要と留意点は、それぞれ1000文字までにしてください".into());
        }
        Ok(Some(VisitRecord {
            next_visit_on: next,
            plan_changed: changed,
            plan_change: change,
            care_points: care_points.trim().to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn patient() -> Patient {
        Patient {
            name: "河内 花子".into(),
            kana: "カワチ ハナコ".into(),
            birth_date: d(1938, 4, 2),
            sex: PatientSex::Female,
            address: "八尾市本町1-2-3".into(),
            needs: vec![CareNeed::Oxygen],
            contacts: vec![EmergencyContact {
                name: "河内 一郎".into(),
                relation: "長男".into(),
                phone: "090-0000-0000".into(),
            }],
        }
    }

    #[test]
    fn patients_are_checked_field_by_field() {
        let today = d(2026, 12, 2);
        assert_eq!(patient().check(today), Ok(()));
        let mut p = patient();
        p.kana = "かわち はなこ".into();
        assert!(p.check(today).unwrap_err().contains("カタカナ"));
        let mut p = patient();
        p.kana = "ｶﾜﾁ ﾊﾅｺ".into();
        assert_eq!(p.check(today), Ok(()), "half-width kana is folded");
        let mut p = patient();
        p.birth_date = d(2027, 1, 1);
        assert!(p.check(today).unwrap_err().contains("生年月日"));
        let mut p = patient();
        p.birth_date = d(1890, 1, 1);
        assert!(p.check(today).unwrap_err().contains("古すぎ"));
        let mut p = patient();
        p.contacts[0].phone = String::new();
        assert!(p.check(today).is_err());
        assert!(patient().power_dependent());
    }

    const REG: i64 = 1;
    const OTHER: i64 = 2;
    const THIRD: i64 = 3;

    fn member(user: i64, institution: i64, profession: Profession) -> Member {
        Member {
            user_id: user,
            institution_id: institution,
            profession,
            removed: false,
        }
    }

    fn record(consent: Option<Consent>) -> Record {
        Record {
            registered_by: REG,
            area: "yao".into(),
            consent,
            team: vec![
                member(10, REG, Profession::Doctor),
                member(20, OTHER, Profession::Nurse),
                member(30, THIRD, Profession::CareManager),
            ],
        }
    }

    fn consent() -> Consent {
        Consent {
            consenter: Consenter::Patient,
            given_on: d(2026, 12, 1),
            excluded_institutions: Vec::new(),
            excluded_professions: Vec::new(),
            withdrawn: false,
        }
    }

    fn asker(user: i64, institutions: &[i64]) -> Asker {
        Asker {
            user_id: user,
            institutions: institutions.to_vec(),
            coordinates: Vec::new(),
            break_glass: None,
        }
    }

    #[test]
    fn the_access_matrix() {
        let with = record(Some(consent()));
        let without = record(None);
        // The registering institution's member: always.
        assert_eq!(decide(&asker(10, &[REG]), &without), Ok(Grant::Registering));
        // Another institution's member: only with consent.
        assert_eq!(decide(&asker(20, &[OTHER]), &with), Ok(Grant::Member));
        assert_eq!(
            decide(&asker(20, &[OTHER]), &without),
            Err(Refusal::NoConsent)
        );
        // Staff of a team institution who are not on the team themselves: no.
        assert_eq!(decide(&asker(21, &[OTHER]), &with), Err(Refusal::NotMember));
        // Staff of the registering institution not on the team: no either.
        assert_eq!(decide(&asker(11, &[REG]), &with), Err(Refusal::NotMember));
        // A removed member.
        let mut removed = record(Some(consent()));
        removed.team[1].removed = true;
        assert_eq!(
            decide(&asker(20, &[OTHER]), &removed),
            Err(Refusal::NotMember)
        );
        // A member who left the institution they took part for.
        assert_eq!(
            decide(&asker(20, &[THIRD]), &with),
            Err(Refusal::LeftInstitution)
        );
        // Withdrawn consent ends access outside the registering institution at once.
        let mut withdrawn = consent();
        withdrawn.withdrawn = true;
        let w = record(Some(withdrawn));
        assert_eq!(decide(&asker(20, &[OTHER]), &w), Err(Refusal::NoConsent));
        assert_eq!(decide(&asker(10, &[REG]), &w), Ok(Grant::Registering));
        // Exclusions by institution and by profession.
        let mut c = consent();
        c.excluded_institutions = vec![OTHER];
        c.excluded_professions = vec![Profession::CareManager];
        let x = record(Some(c));
        assert_eq!(decide(&asker(20, &[OTHER]), &x), Err(Refusal::Excluded));
        assert_eq!(decide(&asker(30, &[THIRD]), &x), Err(Refusal::Excluded));
        // A coordinator of the patient's area: only by breaking the glass, with a reason.
        let mut coordinator = asker(99, &[]);
        coordinator.coordinates = vec!["yao".into()];
        assert_eq!(decide(&coordinator, &with), Err(Refusal::NotMember));
        coordinator.break_glass = Some("  ".into());
        assert_eq!(decide(&coordinator, &with), Err(Refusal::NoReason));
        coordinator.break_glass = Some("災害時の安否確認で所在が必要".into());
        assert_eq!(decide(&coordinator, &without), Ok(Grant::BreakGlass));
        // A coordinator of another area cannot.
        let mut elsewhere = coordinator.clone();
        elsewhere.coordinates = vec!["kashiwara".into()];
        assert_eq!(decide(&elsewhere, &with), Err(Refusal::NotMember));
    }

    #[test]
    fn vitals_are_read_as_typed_on_a_phone() {
        let v = Vitals::read("１２８", "76mmHg", "88回/分", "95%", "36.8℃").unwrap();
        assert_eq!(
            v,
            Vitals {
                systolic: Some(128),
                diastolic: Some(76),
                pulse: Some(88),
                spo2: Some(95),
                temperature_tenths: Some(368),
            }
        );
        assert!(Vitals::read("", "", "", "101", "")
            .unwrap_err()
            .contains("SpO2"));
        assert!(Vitals::read("80", "90", "", "", "")
            .unwrap_err()
            .contains("下が上"));
        assert!(Vitals::read("", "", "", "", "45")
            .unwrap_err()
            .contains("体温"));
        assert!(Vitals::read("", "", "", "", "").is_err());
        assert!(Vitals::read("abc", "", "", "", "")
            .unwrap_err()
            .contains("数字"));
    }

    #[test]
    fn files_are_known_by_their_content() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some(AttachmentType::Png));
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 0xFF, 0xD9]),
            Some(AttachmentType::Jpeg)
        );
        assert_eq!(sniff(b"%PDF-1.7\n...\n%%EOF\n"), Some(AttachmentType::Pdf));
        assert_eq!(sniff(b"<script>alert(1)</script>"), None);
        assert_eq!(sniff(b"MZ\x90\x00 a program named photo.jpg"), None);
        assert_eq!(sniff(b"%PDF-1.7 but cut off"), None);
        // A motion photo: the JPEG ends, a video follows.
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE1, 7, 0xFF, 0xD9, 0, 0, 0, 0x18, b'f', b't', b'y', b'p']),
            Some(AttachmentType::Jpeg)
        );
        // The start of a JPEG and nothing of its end.
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xD9]), None);
    }

    #[test]
    fn a_break_glass_reason_is_a_sentence() {
        assert!(check_glass_reason("aaaa").is_err());
        assert!(check_glass_reason("ああああああああああああ").is_err());
        assert!(check_glass_reason("夜間に意識レベル低下、家族から相談").is_ok());
    }

    #[test]
    fn attachments_are_refused_with_what_to_do() {
        assert_eq!(
            check_attachment("a.png", b"\x89PNG\r\n\x1a\nrest"),
            Ok(AttachmentType::Png)
        );
        assert!(check_attachment("空.pdf", b"")
            .unwrap_err()
            .contains("空のファイル"));
        let big = vec![0u8; MAX_ATTACHMENT_BYTES + 1];
        let e = check_attachment("大.jpg", &big).unwrap_err();
        assert!(e.contains("10 MB") && e.contains("大.jpg"), "{e}");
        let e = check_attachment("写真.jpg", b"<script>alert(1)</script>").unwrap_err();
        assert!(e.contains("中身で確かめています"), "{e}");
    }

    #[test]
    fn visit_records_need_the_plan_answer_and_what_changed() {
        let today = d(2026, 12, 2);
        assert_eq!(VisitRecord::read("", "", "", "", today), Ok(None));
        assert_eq!(
            VisitRecord::read("2026-12-09", "no", "", "転倒に注意", today),
            Ok(Some(VisitRecord {
                next_visit_on: Some(d(2026, 12, 9)),
                plan_changed: false,
                plan_change: String::new(),
                care_points: "転倒に注意".into(),
            }))
        );
        assert_eq!(
            VisitRecord::read("令和8年12月9日", "yes", "利尿薬を増量", "", today)
                .unwrap()
                .unwrap()
                .next_visit_on,
            Some(d(2026, 12, 9))
        );
        assert!(VisitRecord::read("2026-12-09", "", "", "", today)
            .unwrap_err()
            .contains("変更の有無"));
        assert!(VisitRecord::read("", "yes", " ", "", today)
            .unwrap_err()
            .contains("変更の概要"));
        assert!(VisitRecord::read("2026-11-30", "no", "", "", today)
            .unwrap_err()
            .contains("今日より前"));
        assert!(VisitRecord::read("来週", "no", "", "", today)
            .unwrap_err()
            .contains("次回訪問予定日"));
    }
}
