//! The safety-check answer forms — quick answer and details — shared by the response link and
//! the coordinator's answer taken by phone: what the form shows (filled from the last answer or
//! from what was typed) and how it is read back into an [`Answer`].

use crate::auth::session::form_field;
use crate::i18n::Catalog;
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
    pub label: String,
    /// The choices.
    pub choices: Vec<Choice>,
}

/// A closed set's Japanese and English labels.
type Labels<T> = (fn(T) -> &'static str, fn(T) -> &'static str);

/// A radio group asking `label` (a catalogue key); its choices' texts are `(ja, en)`.
fn group<T: Copy + PartialEq>(
    t: &Catalog,
    name: &'static str,
    label: &str,
    all: &[T],
    code: fn(T) -> &'static str,
    (ja, en): Labels<T>,
    chosen: Option<T>,
) -> Group {
    Group {
        name,
        label: t.get(label),
        choices: all
            .iter()
            .map(|v| (code(*v), t.lang().pick(ja(*v), en(*v)), Some(*v) == chosen))
            .collect(),
    }
}

/// [`read_count`] with the field named and the reason given in the language of `t`; `field`
/// is the catalogue key of the field's name.
pub(crate) fn read_count_in(
    t: &Catalog,
    text: &str,
    field: &str,
    max: u32,
) -> Result<Option<u32>, String> {
    read_count_named(t, text, &t.get(field), max)
}

/// [`read_count_in`] with the field's name as shown.
fn read_count_named(t: &Catalog, text: &str, name: &str, max: u32) -> Result<Option<u32>, String> {
    read_count(text, name, max).map_err(|_| match read_count(text, name, u32::MAX) {
        Ok(Some(n)) => t.fill(
            "safety.err_too_large",
            &[("field", &name), ("n", &n), ("max", &max)],
        ),
        _ => t.fill(
            "safety.err_not_number",
            &[("field", &name), ("typed", &text.trim())],
        ),
    })
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
pub fn quick_fields(t: &Catalog, answer: Option<&QuickAnswer>) -> QuickFields {
    QuickFields {
        groups: vec![
            group(
                t,
                "people",
                "safety.q_people",
                People::ALL,
                People::code,
                (People::label_ja, People::label_en),
                answer.map(|a| a.people),
            ),
            group(
                t,
                "building",
                "safety.q_building",
                Building::ALL,
                Building::code,
                (Building::label_ja, Building::label_en),
                answer.map(|a| a.building),
            ),
            group(
                t,
                "power",
                "safety.q_power",
                Power::ALL,
                Power::code,
                (Power::label_ja, Power::label_en),
                answer.map(|a| a.power),
            ),
            group(
                t,
                "water",
                "safety.q_water",
                Water::ALL,
                Water::code,
                (Water::label_ja, Water::label_en),
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
pub fn quick_fields_typed(t: &Catalog, body: &[u8]) -> QuickFields {
    let field = |n: &str| form_field(body, n).unwrap_or_default();
    let mut fields = quick_fields(t, None);
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

/// The chosen value of radio group `name`, or the reason naming its question (`label`, a
/// catalogue key).
fn choice<T>(
    t: &Catalog,
    body: &[u8],
    name: &str,
    label: &str,
    from: fn(&str) -> Option<T>,
) -> Result<T, String> {
    form_field(body, name)
        .as_deref()
        .and_then(from)
        .ok_or_else(|| t.fill1("safety.err_choose", "label", t.get(label)))
}

/// Reads the quick form (the reasons it is refused in the language of `t`).
pub fn read_quick(t: &Catalog, body: &[u8]) -> Result<QuickAnswer, String> {
    let field = |n: &str| form_field(body, n).unwrap_or_default();
    let answer = QuickAnswer {
        people: choice(t, body, "people", "safety.q_people", People::from_code)?,
        building: choice(
            t,
            body,
            "building",
            "safety.q_building",
            Building::from_code,
        )?,
        power: choice(t, body, "power", "safety.q_power", Power::from_code)?,
        fuel_hours: read_count_in(
            t,
            &field("fuel_hours"),
            "safety.f_fuel_hours",
            limits::FUEL_HOURS,
        )?,
        water: choice(t, body, "water", "safety.q_water", Water::from_code)?,
        can_accept: read_count_in(
            t,
            &field("can_accept"),
            "safety.f_can_accept",
            limits::ACCEPT,
        )?
        .ok_or_else(|| t.get("safety.err_can_accept"))?,
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
pub fn detail_fields(t: &Catalog, details: Option<&Details>, hospital: bool) -> DetailFields {
    let lang = t.lang();
    let mut groups = vec![group(
        t,
        "home_visits",
        "safety.q_home_visits",
        HomeVisits::ALL,
        HomeVisits::code,
        (HomeVisits::label_ja, HomeVisits::label_en),
        details.and_then(|d| d.home_visits),
    )];
    let h = details.and_then(|d| d.hospital.as_ref());
    if hospital {
        groups.extend([
            group(
                t,
                "facility",
                "safety.q_facility",
                FacilityStatus::ALL,
                FacilityStatus::code,
                (FacilityStatus::label_ja, FacilityStatus::label_en),
                h.map(|h| h.facility),
            ),
            group(
                t,
                "emergency",
                "safety.q_emergency",
                EmergencyStatus::ALL,
                EmergencyStatus::code,
                (EmergencyStatus::label_ja, EmergencyStatus::label_en),
                h.map(|h| h.emergency),
            ),
            group(
                t,
                "operating",
                "safety.q_operating",
                OperatingStatus::ALL,
                OperatingStatus::code,
                (OperatingStatus::label_ja, OperatingStatus::label_en),
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
                .map(|bed| {
                    let count = h.and_then(|h| h.beds.iter().find(|b| b.bed_type == *bed));
                    BedRow {
                        code: bed.code(),
                        label: lang.pick(bed.label_ja(), bed.label_en()),
                        now: number(count.map(|c| c.available_now)),
                        in_24h: number(count.map(|c| c.available_24h)),
                        counted: count
                            .map(|c| crate::pages::safety::jst_time_in(lang, &c.counted_at))
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
pub fn detail_fields_typed(t: &Catalog, body: &[u8], hospital: bool) -> DetailFields {
    let field = |n: &str| form_field(body, n).unwrap_or_default();
    let mut fields = detail_fields(t, None, hospital);
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

/// Reads the details form (the reasons it is refused in the language of `t`). A bed count keeps
/// its time when it did not change from `before`.
pub fn read_details(
    t: &Catalog,
    body: &[u8],
    hospital: bool,
    before: Option<&Details>,
    now: &str,
) -> Result<Details, String> {
    let lang = t.lang();
    let field = |n: &str| form_field(body, n).unwrap_or_default();
    let dependent = |name: &str, label: &str| -> Result<u32, String> {
        Ok(read_count_in(t, &field(name), label, limits::DEPENDENT)?.unwrap_or(0))
    };
    let hospital_status = if hospital {
        let mut beds = Vec::new();
        for bed in BedType::ALL {
            let bed_label = lang.pick(bed.label_ja(), bed.label_en());
            let label_now = t.fill1("safety.bed_now_label", "type", bed_label);
            let label_24h = t.fill1("safety.bed_24h_label", "type", bed_label);
            let available_now = read_count_named(
                t,
                &field(&format!("beds_{}_now", bed.code())),
                &label_now,
                limits::BEDS,
            )?;
            let available_24h = read_count_named(
                t,
                &field(&format!("beds_{}_24h", bed.code())),
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
                .and_then(|h| h.beds.iter().find(|b| b.bed_type == *bed))
                .filter(|b| b.available_now == available_now && b.available_24h == available_24h);
            beds.push(BedCount {
                bed_type: *bed,
                available_now,
                available_24h,
                counted_at: unchanged.map_or_else(|| now.to_owned(), |b| b.counted_at.clone()),
            });
        }
        Some(HospitalStatus {
            facility: choice(
                t,
                body,
                "facility",
                "safety.q_facility",
                FacilityStatus::from_code,
            )?,
            emergency: choice(
                t,
                body,
                "emergency",
                "safety.q_emergency",
                EmergencyStatus::from_code,
            )?,
            operating: choice(
                t,
                body,
                "operating",
                "safety.q_operating",
                OperatingStatus::from_code,
            )?,
            beds,
        })
    } else {
        None
    };
    let details = Details {
        staff_available: read_count_in(t, &field("staff"), "safety.f_staff", limits::STAFF)?,
        home_visits: form_field(body, "home_visits")
            .as_deref()
            .and_then(HomeVisits::from_code),
        power_dependent: PowerDependent {
            ventilator: dependent("ventilator", "safety.f_ventilator_patients")?,
            oxygen: dependent("oxygen", "safety.f_oxygen_patients")?,
            suction: dependent("suction", "safety.f_suction_patients")?,
        },
        needs: field("needs").trim().to_owned(),
        hospital: hospital_status,
    };
    details.check()?;
    Ok(details)
}
