//! The safety-check answer forms — quick answer and details — shared by the response link and
//! the coordinator's answer taken by phone: what the form shows (filled from the last answer or
//! from what was typed) and how it is read back into an [`Answer`].

use crate::auth::session::form_field;
use renkei_domain::safety::{
    limits, read_count, BedCount, BedType, Building, Details, EmergencyStatus, FacilityStatus,
    HomeVisits, HospitalStatus, OperatingStatus, People, Power, PowerDependent, QuickAnswer, Water,
};

/// One choice of a radio group: code, label, checked.
pub type Choice = (&'static str, &'static str, bool);

/// A radio group.
pub struct Group {
    /// Field name.
    pub name: &'static str,
    /// Its question.
    pub label: &'static str,
    /// The choices.
    pub choices: Vec<Choice>,
}

fn group<T: Copy + PartialEq>(
    name: &'static str,
    label: &'static str,
    all: &[T],
    code: fn(T) -> &'static str,
    text: fn(T) -> &'static str,
    chosen: Option<T>,
) -> Group {
    Group {
        name,
        label,
        choices: all
            .iter()
            .map(|v| (code(*v), text(*v), Some(*v) == chosen))
            .collect(),
    }
}

/// The quick form's fields as shown.
pub struct QuickFields {
    /// People, building, power, water.
    pub groups: Vec<Group>,
    /// Hours of fuel (text as typed).
    pub fuel_hours: String,
    /// Patients it can accept (text as typed).
    pub can_accept: String,
}

/// The quick form filled from an answer (or empty).
pub fn quick_fields(answer: Option<&QuickAnswer>) -> QuickFields {
    QuickFields {
        groups: vec![
            group(
                "people",
                "職員・患者さんは無事ですか",
                People::ALL,
                People::code,
                People::label_ja,
                answer.map(|a| a.people),
            ),
            group(
                "building",
                "建物の被害",
                Building::ALL,
                Building::code,
                Building::label_ja,
                answer.map(|a| a.building),
            ),
            group(
                "power",
                "電気",
                Power::ALL,
                Power::code,
                Power::label_ja,
                answer.map(|a| a.power),
            ),
            group(
                "water",
                "水",
                Water::ALL,
                Water::code,
                Water::label_ja,
                answer.map(|a| a.water),
            ),
        ],
        fuel_hours: answer
            .and_then(|a| a.fuel_hours)
            .map(|h| h.to_string())
            .unwrap_or_default(),
        can_accept: answer.map(|a| a.can_accept.to_string()).unwrap_or_default(),
    }
}

/// The quick form as typed, to show again with an error.
pub fn quick_fields_typed(body: &[u8]) -> QuickFields {
    let field = |n: &str| form_field(body, n).unwrap_or_default();
    let mut fields = quick_fields(None);
    for g in &mut fields.groups {
        let chosen = field(g.name);
        for c in &mut g.choices {
            c.2 = c.0 == chosen;
        }
    }
    fields.fuel_hours = field("fuel_hours");
    fields.can_accept = field("can_accept");
    fields
}

fn choice<T>(
    body: &[u8],
    name: &str,
    label: &str,
    from: fn(&str) -> Option<T>,
) -> Result<T, String> {
    form_field(body, name)
        .as_deref()
        .and_then(from)
        .ok_or_else(|| format!("「{label}」を選んでください"))
}

/// Reads the quick form.
pub fn read_quick(body: &[u8]) -> Result<QuickAnswer, String> {
    let field = |n: &str| form_field(body, n).unwrap_or_default();
    let answer = QuickAnswer {
        people: choice(
            body,
            "people",
            "職員・患者さんは無事ですか",
            People::from_code,
        )?,
        building: choice(body, "building", "建物の被害", Building::from_code)?,
        power: choice(body, "power", "電気", Power::from_code)?,
        fuel_hours: read_count(&field("fuel_hours"), "燃料の残り時間", limits::FUEL_HOURS)?,
        water: choice(body, "water", "水", Water::from_code)?,
        can_accept: read_count(&field("can_accept"), "受け入れられる患者数", limits::ACCEPT)?
            .ok_or("「受け入れられる患者数」を入力してください（できなければ 0）")?,
    };
    // Hours of fuel typed while on the grid are not an error worth a round trip: dropped.
    let answer = QuickAnswer {
        fuel_hours: answer
            .fuel_hours
            .filter(|_| answer.power == Power::Generator),
        ..answer
    };
    answer.check()?;
    Ok(answer)
}

/// One bed type's row as shown.
pub struct BedRow {
    /// Code.
    pub code: &'static str,
    /// Label.
    pub label: &'static str,
    /// Available now (as typed).
    pub now: String,
    /// Available within 24 h (as typed).
    pub in_24h: String,
    /// When the count was given, as shown.
    pub counted: String,
}

/// The details form as shown.
pub struct DetailFields {
    /// Home visits, and for hospitals facility, emergency department and operating rooms.
    pub groups: Vec<Group>,
    /// Staff able to work.
    pub staff: String,
    /// Ventilator, oxygen, suction.
    pub dependent: [String; 3],
    /// What they need.
    pub needs: String,
    /// Beds by type (hospitals).
    pub beds: Vec<BedRow>,
}

fn number(n: Option<u32>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

/// The details form filled from an answer (or empty); `hospital` adds the EDXL-HAVE part.
pub fn detail_fields(details: Option<&Details>, hospital: bool) -> DetailFields {
    let mut groups = vec![group(
        "home_visits",
        "訪問診療・訪問看護を続けられますか",
        HomeVisits::ALL,
        HomeVisits::code,
        HomeVisits::label_ja,
        details.and_then(|d| d.home_visits),
    )];
    let h = details.and_then(|d| d.hospital.as_ref());
    if hospital {
        groups.extend([
            group(
                "facility",
                "病院の状態",
                FacilityStatus::ALL,
                FacilityStatus::code,
                FacilityStatus::label_ja,
                h.map(|h| h.facility),
            ),
            group(
                "emergency",
                "救急外来",
                EmergencyStatus::ALL,
                EmergencyStatus::code,
                EmergencyStatus::label_ja,
                h.map(|h| h.emergency),
            ),
            group(
                "operating",
                "手術室",
                OperatingStatus::ALL,
                OperatingStatus::code,
                OperatingStatus::label_ja,
                h.map(|h| h.operating),
            ),
        ]);
    }
    let p = details
        .map(|d| d.power_dependent.clone())
        .unwrap_or_default();
    let given = |n: u32| {
        if details.is_some() {
            n.to_string()
        } else {
            String::new()
        }
    };
    DetailFields {
        groups,
        staff: number(details.and_then(|d| d.staff_available)),
        dependent: [given(p.ventilator), given(p.oxygen), given(p.suction)],
        needs: details.map(|d| d.needs.clone()).unwrap_or_default(),
        beds: if hospital {
            BedType::ALL
                .iter()
                .map(|t| {
                    let count = h.and_then(|h| h.beds.iter().find(|b| b.bed_type == *t));
                    BedRow {
                        code: t.code(),
                        label: t.label_ja(),
                        now: number(count.map(|c| c.available_now)),
                        in_24h: number(count.map(|c| c.available_24h)),
                        counted: count
                            .map(|c| crate::pages::safety::jst_time(&c.counted_at))
                            .unwrap_or_default(),
                    }
                })
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// The details form as typed, to show again with an error.
pub fn detail_fields_typed(body: &[u8], hospital: bool) -> DetailFields {
    let field = |n: &str| form_field(body, n).unwrap_or_default();
    let mut fields = detail_fields(None, hospital);
    for g in &mut fields.groups {
        let chosen = field(g.name);
        for c in &mut g.choices {
            c.2 = c.0 == chosen;
        }
    }
    fields.staff = field("staff");
    fields.dependent = ["ventilator", "oxygen", "suction"].map(field);
    fields.needs = field("needs");
    for b in &mut fields.beds {
        b.now = field(&format!("beds_{}_now", b.code));
        b.in_24h = field(&format!("beds_{}_24h", b.code));
    }
    fields
}

/// Reads the details form. A bed count keeps its time when it did not change from `before`.
pub fn read_details(
    body: &[u8],
    hospital: bool,
    before: Option<&Details>,
    now: &str,
) -> Result<Details, String> {
    let field = |n: &str| form_field(body, n).unwrap_or_default();
    let dependent = |name: &str, label: &str| -> Result<u32, String> {
        Ok(read_count(&field(name), label, limits::DEPENDENT)?.unwrap_or(0))
    };
    let hospital_status = if hospital {
        let mut beds = Vec::new();
        for t in BedType::ALL {
            let label_now = format!("{}の空床（今）", t.label_ja());
            let label_24h = format!("{}の空床（24時間以内）", t.label_ja());
            let available_now = read_count(
                &field(&format!("beds_{}_now", t.code())),
                &label_now,
                limits::BEDS,
            )?;
            let available_24h = read_count(
                &field(&format!("beds_{}_24h", t.code())),
                &label_24h,
                limits::BEDS,
            )?;
            if available_now.is_none() && available_24h.is_none() {
                continue;
            }
            let (available_now, available_24h) =
                (available_now.unwrap_or(0), available_24h.unwrap_or(0));
            let unchanged = before
                .and_then(|d| d.hospital.as_ref())
                .and_then(|h| h.beds.iter().find(|b| b.bed_type == *t))
                .filter(|b| b.available_now == available_now && b.available_24h == available_24h);
            beds.push(BedCount {
                bed_type: *t,
                available_now,
                available_24h,
                counted_at: unchanged.map_or_else(|| now.to_owned(), |b| b.counted_at.clone()),
            });
        }
        Some(HospitalStatus {
            facility: choice(body, "facility", "病院の状態", FacilityStatus::from_code)?,
            emergency: choice(body, "emergency", "救急外来", EmergencyStatus::from_code)?,
            operating: choice(body, "operating", "手術室", OperatingStatus::from_code)?,
            beds,
        })
    } else {
        None
    };
    let details = Details {
        staff_available: read_count(&field("staff"), "勤務できる職員数", limits::STAFF)?,
        home_visits: form_field(body, "home_visits")
            .as_deref()
            .and_then(HomeVisits::from_code),
        power_dependent: PowerDependent {
            ventilator: dependent("ventilator", "人工呼吸器の患者")?,
            oxygen: dependent("oxygen", "在宅酸素の患者")?,
            suction: dependent("suction", "吸引器の患者")?,
        },
        needs: field("needs").trim().to_owned(),
        hospital: hospital_status,
    };
    details.check()?;
    Ok(details)
}
