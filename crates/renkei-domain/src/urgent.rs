//! Urgent requests between institutions (急変時の依頼): a clinic whose home patient deteriorates
//! asks for an urgent visit, a consultation, an emergency or respite admission, or services for a
//! patient leaving hospital. The request carries a short case summary that names nobody (age
//! band, sex, condition, needs, the area), goes to chosen institutions or to rings of the nearest
//! capable ones, and the first acceptance closes it. Unanswered rings escalate to the next ring
//! after a set time. This module holds the rules; the store keeps the timeline.

use crate::capability::Capability;
use crate::institution::InstitutionKind;
use crate::safety::coded;
use crate::spatial::{CapabilitySet, SpatialIndex};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

coded! {
    /// What is asked for.
    RequestKind {
        /// 急変時の往診・診療支援 (role ①).
        UrgentVisit = "urgent_visit", "急変時の往診・診療支援", "Urgent visit support";
        /// 急変時の相談 (a doctor's advice by phone).
        Consultation = "consultation", "急変時の相談", "Urgent consultation";
        /// 緊急入院 (role ⑥).
        EmergencyAdmission = "emergency_admission", "緊急入院の受入れ", "Emergency admission";
        /// レスパイト入院.
        RespiteAdmission = "respite_admission", "レスパイト入院の受入れ", "Respite admission";
        /// 在宅療養移行のサービス確保 (role ②: visits and services for a patient leaving hospital).
        DischargeServices = "discharge_services", "退院後の在宅サービスの確保", "Services after discharge";
    }
}

impl RequestKind {
    /// The kinds of institution a request of this kind goes to.
    pub fn target_kinds(self) -> &'static [InstitutionKind] {
        match self {
            RequestKind::UrgentVisit | RequestKind::Consultation => {
                &[InstitutionKind::Clinic, InstitutionKind::Hospital]
            }
            RequestKind::EmergencyAdmission | RequestKind::RespiteAdmission => {
                &[InstitutionKind::Hospital]
            }
            RequestKind::DischargeServices => &[
                InstitutionKind::Clinic,
                InstitutionKind::VisitingNurseStation,
            ],
        }
    }

    /// The capability every recipient must have (from the directory), if any.
    pub fn capability(self) -> Option<Capability> {
        match self {
            RequestKind::UrgentVisit => Some(Capability::HouseCall),
            RequestKind::Consultation | RequestKind::DischargeServices => None,
            RequestKind::EmergencyAdmission => Some(Capability::EmergencyAdmission),
            RequestKind::RespiteAdmission => Some(Capability::RespiteAdmission),
        }
    }

    /// Whether it asks for a bed (so the bed board is worth a look).
    pub fn is_admission(self) -> bool {
        matches!(
            self,
            RequestKind::EmergencyAdmission | RequestKind::RespiteAdmission
        )
    }
}

coded! {
    /// The patient's age band: enough to decide, too coarse to identify.
    AgeBand {
        /// 15歳未満.
        Child = "child", "小児（15歳未満）", "Child (under 15)";
        /// 15〜64歳.
        Adult = "15_64", "15〜64歳", "15–64";
        /// 65〜74歳.
        Senior65 = "65_74", "65〜74歳", "65–74";
        /// 75〜84歳.
        Senior75 = "75_84", "75〜84歳", "75–84";
        /// 85〜94歳.
        Senior85 = "85_94", "85〜94歳", "85–94";
        /// 95歳以上.
        Senior95 = "95_plus", "95歳以上", "95 and over";
    }
}

coded! {
    /// The patient's sex as the receiving side needs it (rooms, care).
    Sex {
        /// 女性.
        Female = "female", "女性", "Female";
        /// 男性.
        Male = "male", "男性", "Male";
        /// その他・回答しない.
        Other = "other", "その他・記載しない", "Other / not stated";
    }
}

coded! {
    /// Where a request stands.
    RequestStatus {
        /// 依頼中: waiting for an acceptance.
        Open = "open", "依頼中", "Open";
        /// 受入決定: one institution accepted; closed for the others.
        Accepted = "accepted", "受入決定", "Accepted";
        /// 取り下げ: the requester withdrew it.
        Cancelled = "cancelled", "取り下げ", "Withdrawn";
    }
}

coded! {
    /// Why a recipient cannot take it.
    DeclineReason {
        /// 満床・空床なし.
        NoBeds = "no_beds", "満床・空床なし", "No bed available";
        /// 対応できる医師・職員がいない.
        NoStaff = "no_staff", "対応できる医師・職員がいない", "No doctor or staff available";
        /// 対応できない病状・処置.
        OutOfScope = "out_of_scope", "対応できない病状・処置", "Condition or care we cannot provide";
        /// 距離・対応地域外.
        TooFar = "too_far", "距離・対応地域外", "Too far / outside our area";
        /// その他.
        Other = "other", "その他", "Other";
    }
}

coded! {
    /// One line of a request's timeline.
    EventKind {
        /// 依頼.
        Created = "created", "依頼しました", "Request sent";
        /// 次の範囲へ.
        RingOpened = "ring_opened", "依頼先を広げました", "Sent to the next ring";
        /// 受入.
        Accepted = "accepted", "受け入れました", "Accepted";
        /// お断り.
        Declined = "declined", "お断りしました", "Declined";
        /// 取り下げ.
        Cancelled = "cancelled", "取り下げました", "Withdrawn";
        /// 受け手なし: every ring has been asked and nobody accepted in time.
        Exhausted = "exhausted", "受け手が見つかっていません", "Nobody has accepted yet";
        /// 遅れた受入の申し出 (after another accepted).
        Late = "late", "受入の申し出（決定済みのため無効）", "Offer after another accepted (not taken)";
    }
}

/// Upper bounds of the form (beyond them a value is a mistake).
pub mod limits {
    /// The condition and the needs, characters each.
    pub const TEXT_CHARS: usize = 400;
    /// The area, characters.
    pub const AREA_CHARS: usize = 60;
    /// The contact line, characters.
    pub const CONTACT_CHARS: usize = 200;
    /// Recipients in one ring.
    pub const RING_SIZE: u32 = 10;
    /// Rings in all.
    pub const RINGS: u32 = 5;
    /// Chosen recipients.
    pub const CHOSEN: usize = 20;
    /// Minutes before the next ring (least, most).
    pub const ESCALATE_MINUTES: (u32, u32) = (5, 240);
}

/// The case as the recipients see it. It names nobody: no name, no address, no phone number,
/// no date of birth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseSummary {
    /// Age band.
    pub age_band: AgeBand,
    /// Sex.
    pub sex: Sex,
    /// The condition now (「誤嚥性肺炎疑い、SpO2 88%」).
    pub condition: String,
    /// What the patient needs (「酸素 3L、喀痰吸引」).
    pub needs: String,
    /// Capabilities every recipient must have besides the kind's own (人工呼吸器, 在宅酸素 …).
    pub needed: Vec<Capability>,
    /// Where the patient is, no finer than a town (「八尾市本町」).
    pub area: String,
}

impl CaseSummary {
    /// Whether the summary can be sent; the reason (in Japanese, naming the field) if not.
    pub fn check(&self) -> Result<(), String> {
        let condition = self.condition.trim();
        if condition.is_empty() {
            return Err("「病状」を書いてください（例：発熱38.5℃、SpO2 90%）".into());
        }
        for (text, field) in [(condition, "病状"), (self.needs.trim(), "必要なこと")] {
            if text.chars().count() > limits::TEXT_CHARS {
                return Err(format!(
                    "「{field}」は{}文字までにしてください",
                    limits::TEXT_CHARS
                ));
            }
        }
        if self.area.trim().is_empty() {
            return Err("「患者のいる地域」を町名まで書いてください（例：八尾市本町）".into());
        }
        if self.area.chars().count() > limits::AREA_CHARS {
            return Err(format!(
                "「患者のいる地域」は{}文字までにしてください",
                limits::AREA_CHARS
            ));
        }
        for (text, field) in [
            (self.condition.as_str(), "病状"),
            (self.needs.as_str(), "必要なこと"),
            (self.area.as_str(), "患者のいる地域"),
        ] {
            if let Some(what) = identifying(text) {
                return Err(format!(
                    "「{field}」に{what}のようなものがあります。依頼には患者を特定できる情報を書かないでください（受入が決まってから電話で伝えます）"
                ));
            }
        }
        Ok(())
    }
}

/// What in a text looks like it identifies a person or a home: a phone number, a postcode, a
/// house number, a date of birth. A guard against slips, not a guarantee: the form says why.
pub fn identifying(text: &str) -> Option<&'static str> {
    let folded = crate::text::normalize(text);
    if folded.contains('〒') || folded.contains("生年月日") {
        return Some(if folded.contains('〒') {
            "郵便番号"
        } else {
            "生年月日"
        });
    }
    // Runs of digits joined by hyphens: 072-999-1234, 581-0003, 1-2-3 (a house number).
    let verdict = |groups: &[usize]| -> Option<&'static str> {
        let total: usize = groups.iter().sum();
        match groups.len() {
            0 => None,
            1 => (total >= 10).then_some("電話番号"),
            2 if groups == [3, 4] => Some("郵便番号"),
            2 => (total >= 10).then_some("電話番号"),
            _ if total >= 9 => Some("電話番号"),
            _ => Some("番地"),
        }
    };
    let mut groups: Vec<usize> = Vec::new();
    let mut digits = 0usize;
    for c in folded.chars() {
        if c.is_ascii_digit() {
            digits += 1;
        } else if matches!(c, '-' | '‐' | '−' | 'ー') && digits > 0 {
            groups.push(digits);
            digits = 0;
        } else {
            if digits > 0 {
                groups.push(digits);
            }
            if let Some(v) = verdict(&groups) {
                return Some(v);
            }
            groups.clear();
            digits = 0;
        }
    }
    if digits > 0 {
        groups.push(digits);
    }
    verdict(&groups)
}

/// How a request finds its recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// The nearest capable institutions, `ring_size` at a time: when nobody accepts within
    /// `escalate_minutes`, the next ring is asked too, up to `rings` rings.
    Nearest {
        /// Institutions per ring.
        ring_size: u32,
        /// Minutes before the next ring is asked.
        escalate_minutes: u32,
        /// Rings in all.
        rings: u32,
    },
    /// Institutions the requester chose, all at once; when nobody has accepted within
    /// `wait_minutes`, the requester and the hub are told.
    Chosen {
        /// Minutes before "nobody has accepted" is said.
        wait_minutes: u32,
    },
}

impl Routing {
    /// The default: the nearest three, the next three after 15 minutes, three rings.
    pub const DEFAULT: Routing = Routing::Nearest {
        ring_size: 3,
        escalate_minutes: 15,
        rings: 3,
    };

    /// Whether the numbers are within bounds; the reason if not.
    pub fn check(&self) -> Result<(), String> {
        let (least, most) = limits::ESCALATE_MINUTES;
        let minutes = self.escalate_minutes();
        if !(least..=most).contains(&minutes) {
            return Err(format!(
                "次の依頼先に広げる（受け手なしを知らせる）までの時間は{least}〜{most}分にしてください"
            ));
        }
        if let Routing::Nearest {
            ring_size, rings, ..
        } = *self
        {
            if !(1..=limits::RING_SIZE).contains(&ring_size) {
                return Err(format!(
                    "一度に依頼する数は1〜{}にしてください",
                    limits::RING_SIZE
                ));
            }
            if !(1..=limits::RINGS).contains(&rings) {
                return Err(format!("広げる回数は1〜{}回にしてください", limits::RINGS));
            }
        }
        Ok(())
    }

    /// How many candidates the routing needs, nearest first.
    pub fn wanted(&self, chosen: usize) -> usize {
        match *self {
            Routing::Nearest {
                ring_size, rings, ..
            } => (ring_size * rings) as usize,
            Routing::Chosen { .. } => chosen,
        }
    }

    /// Minutes a ring waits for an acceptance before the next ring is asked (or, after the
    /// last, before "nobody has accepted" is said).
    pub fn escalate_minutes(&self) -> u32 {
        match *self {
            Routing::Nearest {
                escalate_minutes, ..
            } => escalate_minutes,
            Routing::Chosen { wait_minutes } => wait_minutes,
        }
    }
}

/// One recipient and the ring it is asked in (1 = at once).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recipient {
    /// The institution.
    pub institution_id: i64,
    /// Distance from the patient's area, km.
    pub distance_km: f64,
    /// The ring it is asked in.
    pub ring: u32,
}

/// The recipients of a request: `candidates` (institution, km) nearest first, the requester left
/// out, cut into rings. `Chosen` keeps all in ring 1.
pub fn rings(routing: &Routing, requester: i64, candidates: &[(i64, f64)]) -> Vec<Recipient> {
    let mut seen = std::collections::HashSet::new();
    let kept = candidates
        .iter()
        .filter(|(id, _)| *id != requester && seen.insert(*id));
    match *routing {
        Routing::Nearest {
            ring_size, rings, ..
        } => kept
            .take((ring_size * rings) as usize)
            .enumerate()
            .map(|(i, &(id, km))| Recipient {
                institution_id: id,
                distance_km: km,
                ring: i as u32 / ring_size + 1,
            })
            .collect(),
        Routing::Chosen { .. } => kept
            .map(|&(id, km)| Recipient {
                institution_id: id,
                distance_km: km,
                ring: 1,
            })
            .collect(),
    }
}

/// How far a request looks for recipients, km (beyond it a home-care partner is not realistic).
pub const ROUTING_KM: f64 = 30.0;

/// The nearest institutions that can take a request of `kind` needing `needed`, within
/// [`ROUTING_KM`] of the point, leaving out `requester`: (institution, km), nearest first, at
/// most `limit`. This is what the benchmark times on 300,000 entries.
pub fn route(
    index: &SpatialIndex,
    kind: RequestKind,
    needed: &[Capability],
    (lat, lng): (f64, f64),
    requester: i64,
    limit: usize,
) -> Vec<(i64, f64)> {
    let wanted = CapabilitySet::of(kind.capability().into_iter().chain(needed.iter().copied()));
    let kinds = kind.target_kinds();
    index
        .nearest_where(lat, lng, ROUTING_KM, limit, |e| {
            e.id != requester && kinds.contains(&e.kind) && e.capabilities.contains_all(wanted)
        })
        .into_iter()
        .map(|(e, km)| (e.id, km))
        .collect()
}

/// What escalation should do to an open request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escalation {
    /// Nothing yet (its time has not come, or it does not escalate).
    Wait,
    /// Ask the next ring.
    NextRing(u32),
    /// Every ring has been asked and the last one's time is up: say so to the requester and hub.
    Exhausted,
}

/// The escalation due for an open request whose current ring `ring` (of `rings_total`) was
/// asked at `opened`, `escalate_minutes` apart, at `now`. `exhausted` is whether it was already
/// said to be exhausted.
pub fn escalation(
    ring: u32,
    rings_total: u32,
    opened: DateTime<Utc>,
    minutes: u32,
    exhausted: bool,
    now: DateTime<Utc>,
) -> Escalation {
    if now < opened + Duration::minutes(i64::from(minutes)) {
        return Escalation::Wait;
    }
    if ring < rings_total {
        Escalation::NextRing(ring + 1)
    } else if exhausted {
        Escalation::Wait
    } else {
        Escalation::Exhausted
    }
}

/// One request as the ledger counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Its kind.
    pub kind: RequestKind,
    /// When it was sent.
    pub created: DateTime<Utc>,
    /// When it was accepted, if it was.
    pub accepted: Option<DateTime<Utc>>,
    /// Whether it was withdrawn.
    pub cancelled: bool,
}

/// The ③ figures of a period: requests, accepted, the acceptance rate and the median minutes
/// from request to acceptance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Requests sent.
    pub requests: usize,
    /// Accepted.
    pub accepted: usize,
    /// Withdrawn.
    pub cancelled: usize,
    /// Accepted among those not withdrawn, 0–100.
    pub acceptance_rate: Option<f64>,
    /// Median minutes to acceptance.
    pub median_minutes: Option<f64>,
}

/// The figures of `outcomes`.
pub fn figures<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> Figures {
    let mut f = Figures::default();
    let mut minutes: Vec<f64> = Vec::new();
    for o in outcomes {
        f.requests += 1;
        if o.cancelled {
            f.cancelled += 1;
        }
        if let Some(at) = o.accepted {
            f.accepted += 1;
            minutes.push((at - o.created).num_seconds().max(0) as f64 / 60.0);
        }
    }
    let decided = f.requests - f.cancelled;
    if decided > 0 {
        f.acceptance_rate = Some(f.accepted as f64 * 100.0 / decided as f64);
    }
    minutes.sort_by(f64::total_cmp);
    let n = minutes.len();
    if n > 0 {
        f.median_minutes = Some(if n % 2 == 1 {
            minutes[n / 2]
        } else {
            (minutes[n / 2 - 1] + minutes[n / 2]) / 2.0
        });
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn summary(condition: &str) -> CaseSummary {
        CaseSummary {
            age_band: AgeBand::Senior85,
            sex: Sex::Female,
            condition: condition.into(),
            needs: "酸素3L、喀痰吸引".into(),
            needed: vec![],
            area: "八尾市本町".into(),
        }
    }

    #[test]
    fn a_plain_summary_passes() {
        assert_eq!(
            summary("誤嚥性肺炎疑い、SpO2 88%、38.5℃、90/60mmHg").check(),
            Ok(())
        );
    }

    #[test]
    fn identifying_details_are_refused_with_the_field() {
        for (text, what) in [
            ("連絡は072-999-1234へ", "電話番号"),
            ("０９０１２３４５６７８", "電話番号"),
            ("〒581-0003", "郵便番号"),
            ("581-0003 付近", "郵便番号"),
            ("本町1-2-3の自宅", "番地"),
            ("生年月日 昭和10年", "生年月日"),
        ] {
            let e = summary(text).check().unwrap_err();
            assert!(e.contains("病状") && e.contains(what), "{text}: {e}");
        }
        // Numbers a condition needs are not mistaken for identifiers.
        for ok in [
            "SpO2 88%、血圧 160/90",
            "酸素 3L/分、2024-25年に入院歴",
            "NYHA 3度",
        ] {
            assert_eq!(identifying(ok), None, "{ok}");
        }
    }

    #[test]
    fn empty_and_long_fields_are_named() {
        assert!(summary(" ").check().unwrap_err().contains("病状"));
        let long = "あ".repeat(limits::TEXT_CHARS + 1);
        assert!(summary(&long).check().unwrap_err().contains("400"));
        let mut s = summary("発熱");
        s.area = String::new();
        assert!(s.check().unwrap_err().contains("地域"));
    }

    #[test]
    fn rings_leave_out_the_requester_and_repeats() {
        let routing = Routing::Nearest {
            ring_size: 2,
            escalate_minutes: 10,
            rings: 2,
        };
        let candidates = [(1, 0.0), (2, 0.5), (2, 0.5), (3, 1.0), (4, 2.0), (5, 3.0)];
        let r = rings(&routing, 1, &candidates);
        let got: Vec<(i64, u32)> = r.iter().map(|r| (r.institution_id, r.ring)).collect();
        assert_eq!(got, vec![(2, 1), (3, 1), (4, 2), (5, 2)]);
        let chosen = rings(&Routing::Chosen { wait_minutes: 30 }, 1, &candidates);
        assert!(chosen.iter().all(|r| r.ring == 1) && chosen.len() == 4);
    }

    #[test]
    fn routing_bounds() {
        assert_eq!(Routing::DEFAULT.check(), Ok(()));
        let bad = Routing::Nearest {
            ring_size: 0,
            escalate_minutes: 15,
            rings: 3,
        };
        assert!(bad.check().is_err());
        let slow = Routing::Nearest {
            ring_size: 3,
            escalate_minutes: 1,
            rings: 3,
        };
        assert!(slow.check().unwrap_err().contains("5〜240"));
        assert_eq!(Routing::DEFAULT.wanted(0), 9);
        assert_eq!(Routing::Chosen { wait_minutes: 30 }.escalate_minutes(), 30);
        assert!(Routing::Chosen { wait_minutes: 0 }.check().is_err());
    }

    #[test]
    fn escalation_follows_the_clock() {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 1, 13, 0, 0).unwrap();
        let at = |m: i64| t0 + Duration::minutes(m);
        assert_eq!(escalation(1, 3, t0, 15, false, at(14)), Escalation::Wait);
        assert_eq!(
            escalation(1, 3, t0, 15, false, at(15)),
            Escalation::NextRing(2)
        );
        assert_eq!(
            escalation(3, 3, t0, 15, false, at(15)),
            Escalation::Exhausted
        );
        assert_eq!(escalation(3, 3, t0, 15, true, at(60)), Escalation::Wait);
        // One ring (or chosen recipients): nobody accepted in time is said too.
        assert_eq!(
            escalation(1, 1, t0, 30, false, at(30)),
            Escalation::Exhausted
        );
    }

    #[test]
    fn figures_count_rate_and_median() {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 1, 13, 0, 0).unwrap();
        let o = |accepted: Option<i64>, cancelled: bool| Outcome {
            kind: RequestKind::RespiteAdmission,
            created: t0,
            accepted: accepted.map(|m| t0 + Duration::minutes(m)),
            cancelled,
        };
        let f = figures(&[
            o(Some(10), false),
            o(Some(30), false),
            o(None, false),
            o(None, true),
        ]);
        assert_eq!((f.requests, f.accepted, f.cancelled), (4, 2, 1));
        assert!((f.acceptance_rate.unwrap() - 66.666).abs() < 0.01);
        assert_eq!(f.median_minutes, Some(20.0));
        assert_eq!(figures(&[]), Figures::default());
    }

    #[test]
    fn route_keeps_capable_kinds_nearest_first() {
        use crate::spatial::IndexedEntry;
        let entry = |id: i64, kind: InstitutionKind, caps: &[Capability], lat: f64| IndexedEntry {
            id,
            kind,
            capabilities: CapabilitySet::of(caps.iter().copied()),
            active: false,
            lat,
            lng: 135.6,
            name: "".into(),
            address: "".into(),
        };
        use Capability::*;
        use InstitutionKind::*;
        let index = SpatialIndex::build(vec![
            entry(1, Hospital, &[RespiteAdmission], 34.60),
            entry(2, Hospital, &[EmergencyAdmission], 34.601),
            entry(3, Clinic, &[RespiteAdmission], 34.602),
            entry(4, Hospital, &[RespiteAdmission, Ventilator], 34.603),
            entry(5, Hospital, &[RespiteAdmission], 34.62),
            entry(6, Hospital, &[RespiteAdmission], 35.60),
        ]);
        let ids = |v: Vec<(i64, f64)>| v.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
        let at = (34.60, 135.6);
        let respite = RequestKind::RespiteAdmission;
        assert_eq!(ids(route(&index, respite, &[], at, 0, 10)), vec![1, 4, 5]);
        assert_eq!(ids(route(&index, respite, &[], at, 1, 10)), vec![4, 5]);
        assert_eq!(
            ids(route(&index, respite, &[Ventilator], at, 0, 10)),
            vec![4]
        );
        assert_eq!(ids(route(&index, respite, &[], at, 0, 1)), vec![1]);
        let visit = ids(route(&index, RequestKind::Consultation, &[], at, 0, 10));
        assert_eq!(visit, vec![1, 2, 3, 4, 5], "clinics and hospitals, 30 km");
    }

    #[test]
    fn kinds_route_to_capable_institutions() {
        assert_eq!(
            RequestKind::RespiteAdmission.target_kinds(),
            &[InstitutionKind::Hospital]
        );
        assert_eq!(
            RequestKind::RespiteAdmission.capability(),
            Some(Capability::RespiteAdmission)
        );
        assert!(RequestKind::EmergencyAdmission.is_admission());
        assert!(!RequestKind::UrgentVisit.is_admission());
    }
}
