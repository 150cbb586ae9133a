//! A patient's care-team record as FHIR R4: a collection Bundle of the Patient, the CareTeam,
//! the Consents (IHE PCF shapes: permit with deny sub-provisions for exclusions), the posts as
//! Communications and their vitals as vital-signs Observations (LOINC, UCUM); and the reads of
//! the record as AuditEvents in the shape of IHE BALP (RESTful read, the user as requestor
//! with the purpose of use — TREAT, or BTG for break-glass — and the patient as entity).

use super::resources::{instant, Base};
use renkei_domain::careteam::{Consenter, PatientSex, Vitals};
use renkei_store::audit::AuditEntry;
use renkei_store::care_files::AttachmentMeta;
use renkei_store::careteam::{ConsentRow, MemberRow, PatientRow, PostRow};
use serde_json::{json, Value};

/// Our code system of professions.
pub const PROFESSION_CODES: &str = "renkei-profession";

const LOINC: &str = "http://loinc.org";
const UCUM: &str = "http://unitsofmeasure.org";

fn patient_ref(p: &PatientRow) -> Value {
    json!({ "reference": format!("Patient/renkei-patient-{}", p.id) })
}

fn entry(base: &Base, kind: &str, id: &str, resource: Value) -> Value {
    json!({ "fullUrl": format!("{}/{kind}/{id}", base.served), "resource": resource })
}

/// The Patient resource.
pub fn patient(base: &Base, p: &PatientRow) -> Value {
    let gender = match p.patient.sex {
        PatientSex::Female => "female",
        PatientSex::Male => "male",
        PatientSex::Other => "other",
        PatientSex::Unknown => "unknown",
    };
    let (family, given) = p
        .patient
        .name
        .split_once([' ', '　'])
        .map(|(f, g)| (f.trim().to_owned(), g.trim().to_owned()))
        .unwrap_or_else(|| (p.patient.name.clone(), String::new()));
    let mut official = json!({ "use": "official", "text": p.patient.name, "family": family });
    if !given.is_empty() {
        official["given"] = json!([given]);
    }
    let mut resource = json!({
        "resourceType": "Patient",
        "id": format!("renkei-patient-{}", p.id),
        "identifier": [{ "system": format!("{}/NamingSystem/renkei-patient", base.canonical), "value": p.id.to_string() }],
        "name": [
            official,
            {
                "extension": [{
                    "url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation",
                    "valueCode": "SYL"
                }],
                "use": "official",
                "text": p.patient.kana
            }
        ],
        "gender": gender,
        "birthDate": p.patient.birth_date.to_string(),
        "address": [{ "text": p.patient.address }],
        "managingOrganization": {
            "reference": format!("Organization/{}", p.registered_by),
            "display": p.registered_name
        }
    });
    // FHIR allows no empty arrays: a patient without emergency contacts has no `contact`.
    if !p.patient.contacts.is_empty() {
        resource["contact"] = json!(p
            .patient
            .contacts
            .iter()
            .map(|c| json!({
                "relationship": [{ "text": c.relation }],
                "name": { "text": c.name },
                "telecom": [{ "system": "phone", "value": c.phone }]
            }))
            .collect::<Vec<_>>());
    }
    resource
}

/// The CareTeam resource: every member, with the period they were on it.
pub fn care_team(base: &Base, p: &PatientRow, team: &[MemberRow]) -> Value {
    json!({
        "resourceType": "CareTeam",
        "id": format!("renkei-care-team-{}", p.id),
        "status": "active",
        "subject": patient_ref(p),
        "participant": team.iter().map(|m| {
            let mut period = json!({ "start": instant(&m.added_at) });
            if let Some(end) = &m.removed_at {
                period["end"] = json!(instant(end));
            }
            json!({
                "role": [{ "coding": [{
                    "system": base.code_system(PROFESSION_CODES),
                    "code": m.profession.code(),
                    "display": m.profession.label_ja()
                }] }],
                "member": { "display": m.user_name },
                "onBehalfOf": {
                    "reference": format!("Organization/{}", m.institution_id),
                    "display": m.institution_name
                },
                "period": period
            })
        }).collect::<Vec<_>>()
    })
}

/// A file as a FHIR Attachment: its type, where the team opens it, its size and name.
fn attachment(base: &Base, a: &AttachmentMeta) -> Value {
    json!({
        "contentType": a.media_type,
        "url": format!("{}/patients/{}/files/{}", base.served, a.patient_id, a.id),
        "size": a.size,
        "title": a.file_name
    })
}

/// A Consent resource (IHE PCF: opt-in permit; exclusions as deny sub-provisions; the signed
/// form, when uploaded, as the source attachment).
pub fn consent(
    base: &Base,
    p: &PatientRow,
    c: &ConsentRow,
    form: Option<&AttachmentMeta>,
) -> Value {
    let ircp = json!({ "coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
        "code": "IRCP"
    }] });
    let mut denials: Vec<Value> = c
        .consent
        .excluded_institutions
        .iter()
        .map(|i| {
            json!({ "type": "deny", "actor": [{
                "role": ircp, "reference": { "reference": format!("Organization/{i}") }
            }] })
        })
        .collect();
    denials.extend(c.consent.excluded_professions.iter().map(|p| {
        json!({ "type": "deny", "actor": [{
            "role": ircp, "reference": { "display": p.label_ja() }
        }] })
    }));
    let performer = match &c.consent.consenter {
        Consenter::Patient => patient_ref(p),
        Consenter::Representative { name, relation } => {
            json!({ "display": format!("{name}（{relation}）") })
        }
    };
    let mut provision = json!({
        "type": "permit",
        "period": { "start": c.consent.given_on.to_string() }
    });
    if let Some(end) = &c.withdrawn_at {
        provision["period"]["end"] = json!(instant(end));
    }
    if !denials.is_empty() {
        provision["provision"] = json!(denials);
    }
    let mut resource = json!({
        "resourceType": "Consent",
        "id": format!("renkei-consent-{}", c.id),
        "status": if c.withdrawn_at.is_some() { "inactive" } else { "active" },
        "scope": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/consentscope",
            "code": "patient-privacy"
        }] },
        "category": [{ "coding": [{ "system": LOINC, "code": "59284-0", "display": "Consent Document" }] }],
        "patient": patient_ref(p),
        "dateTime": instant(&c.recorded_at),
        "performer": [performer],
        "organization": [{ "reference": format!("Organization/{}", p.registered_by) }],
        "policy": [{ "uri": format!("{}/policy/renkei-care-team-sharing", base.canonical) }],
        "provision": provision
    });
    if let Some(f) = form {
        resource["sourceAttachment"] = attachment(base, f);
    }
    resource
}

/// A post as a Communication: the text, the physician's visit record and the files as its
/// payloads, the members it was addressed to as recipients.
pub fn communication(base: &Base, p: &PatientRow, post: &PostRow) -> Value {
    let mut c = json!({
        "resourceType": "Communication",
        "id": format!("renkei-post-{}", post.id),
        "status": "completed",
        "priority": if post.urgent { "urgent" } else { "routine" },
        "subject": patient_ref(p),
        "sent": instant(&post.created_at),
        "sender": { "display": format!("{}（{}・{}）", post.author_name, post.profession.label_ja(), post.institution_name) }
    });
    let mut payload = Vec::new();
    if !post.body.is_empty() {
        payload.push(json!({ "contentString": post.body }));
    }
    if let Some(v) = &post.visit {
        let mut text = format!(
            "次回訪問予定：{}／治療方針の変更：{}",
            v.next_visit_on
                .map(|d| d.to_string())
                .unwrap_or_else(|| "未定".into()),
            if v.plan_changed {
                format!("あり（{}）", v.plan_change)
            } else {
                "なし".into()
            }
        );
        if !v.care_points.is_empty() {
            text.push_str(&format!("／留意点：{}", v.care_points));
        }
        payload.push(json!({ "contentString": text }));
    }
    for a in &post.attachments {
        payload.push(json!({ "contentAttachment": attachment(base, a) }));
    }
    if !payload.is_empty() {
        c["payload"] = json!(payload);
    }
    if !post.mentions.is_empty() {
        c["recipient"] = json!(post
            .mentions
            .iter()
            .map(|m| json!({ "display": m }))
            .collect::<Vec<_>>());
    }
    c
}

fn quantity(value: f64, unit: &str, code: &str) -> Value {
    json!({ "value": value, "unit": unit, "system": UCUM, "code": code })
}

fn vital(id: String, p: &PatientRow, post: &PostRow, code: (&str, &str)) -> Value {
    json!({
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "category": [{ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs", "display": "Vital Signs"
        }] }],
        "code": { "coding": [{ "system": LOINC, "code": code.0, "display": code.1 }] },
        "subject": patient_ref(p),
        "effectiveDateTime": instant(&post.created_at),
        "performer": [{ "display": post.author_name }]
    })
}

/// The vitals of a post as vital-signs Observations (blood pressure as a panel).
pub fn observations(p: &PatientRow, post: &PostRow, v: &Vitals) -> Vec<Value> {
    let mut out = Vec::new();
    if v.systolic.is_some() || v.diastolic.is_some() {
        let mut bp = vital(
            format!("renkei-bp-{}", post.id),
            p,
            post,
            ("85354-9", "Blood pressure panel with all children optional"),
        );
        let mut components = Vec::new();
        if let Some(s) = v.systolic {
            components.push(json!({
                "code": { "coding": [{ "system": LOINC, "code": "8480-6", "display": "Systolic blood pressure" }] },
                "valueQuantity": quantity(f64::from(s), "mmHg", "mm[Hg]")
            }));
        }
        if let Some(d) = v.diastolic {
            components.push(json!({
                "code": { "coding": [{ "system": LOINC, "code": "8462-4", "display": "Diastolic blood pressure" }] },
                "valueQuantity": quantity(f64::from(d), "mmHg", "mm[Hg]")
            }));
        }
        bp["component"] = json!(components);
        out.push(bp);
    }
    if let Some(n) = v.pulse {
        let mut o = vital(
            format!("renkei-pulse-{}", post.id),
            p,
            post,
            ("8867-4", "Heart rate"),
        );
        o["valueQuantity"] = quantity(f64::from(n), "/min", "/min");
        out.push(o);
    }
    if let Some(n) = v.spo2 {
        let mut o = vital(
            format!("renkei-spo2-{}", post.id),
            p,
            post,
            (
                "59408-5",
                "Oxygen saturation in Arterial blood by Pulse oximetry",
            ),
        );
        o["valueQuantity"] = quantity(f64::from(n), "%", "%");
        out.push(o);
    }
    if let Some(t) = v.temperature_tenths {
        let mut o = vital(
            format!("renkei-temp-{}", post.id),
            p,
            post,
            ("8310-5", "Body temperature"),
        );
        o["valueQuantity"] = quantity(f64::from(t) / 10.0, "Cel", "Cel");
        out.push(o);
    }
    out
}

/// The whole record as a collection Bundle.
pub fn bundle(
    base: &Base,
    p: &PatientRow,
    team: &[MemberRow],
    consents: &[ConsentRow],
    forms: &[AttachmentMeta],
    posts: &[PostRow],
    now: &str,
) -> Value {
    let mut entries = vec![
        entry(
            base,
            "Patient",
            &format!("renkei-patient-{}", p.id),
            patient(base, p),
        ),
        entry(
            base,
            "CareTeam",
            &format!("renkei-care-team-{}", p.id),
            care_team(base, p, team),
        ),
    ];
    for c in consents {
        entries.push(entry(
            base,
            "Consent",
            &format!("renkei-consent-{}", c.id),
            consent(
                base,
                p,
                c,
                forms.iter().find(|f| f.consent_id == Some(c.id)),
            ),
        ));
    }
    for post in posts {
        entries.push(entry(
            base,
            "Communication",
            &format!("renkei-post-{}", post.id),
            communication(base, p, post),
        ));
        if let Some(v) = &post.vitals {
            for o in observations(p, post, v) {
                let id = o["id"].as_str().unwrap_or_default().to_owned();
                entries.push(entry(base, "Observation", &id, o));
            }
        }
    }
    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": instant(now),
        "entry": entries
    })
}

/// One read (or export, or refusal) of the patient's record as a BALP-shaped AuditEvent.
pub fn audit_event(patient: i64, e: &AuditEntry) -> Value {
    let export = e.action.ends_with(".export");
    let glass = e.target.ends_with(" break_glass");
    let (type_coding, subtype) = if export {
        (
            json!({ "system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110106", "display": "Export" }),
            json!([]),
        )
    } else {
        (
            json!({ "system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest", "display": "RESTful Operation" }),
            json!([{ "system": "http://hl7.org/fhir/restful-interaction", "code": "read", "display": "read" }]),
        )
    };
    let mut event = json!({
        "resourceType": "AuditEvent",
        "id": format!("renkei-audit-{}", e.seq),
        "type": type_coding,
        "action": "R",
        "recorded": instant(&e.at),
        "outcome": if e.outcome == "ok" { "0" } else { "4" },
        "outcomeDesc": e.target,
        "agent": [
            {
                "type": { "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                    "code": "IRCP", "display": "information recipient"
                }] },
                "who": {
                    "identifier": { "value": format!("user:{}", e.actor_user_id.unwrap_or(0)) },
                    "display": e.actor_email.clone().unwrap_or_default()
                },
                "requestor": true,
                "network": { "address": e.client, "type": "2" },
                "purposeOfUse": [{ "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                    "code": if glass { "BTG" } else { "TREAT" }
                }] }]
            },
            {
                "type": { "coding": [{
                    "system": "http://dicom.nema.org/resources/ontology/DCM",
                    "code": "110153", "display": "Source Role ID"
                }] },
                "who": { "display": "Renkei" },
                "requestor": false
            }
        ],
        "source": {
            "observer": { "display": "Renkei" },
            "type": [{
                "system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                "code": "4", "display": "Application Server"
            }]
        },
        "entity": [{
            "what": { "reference": format!("Patient/renkei-patient-{patient}") },
            "type": {
                "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                "code": "1", "display": "Person"
            },
            "role": {
                "system": "http://terminology.hl7.org/CodeSystem/object-role",
                "code": "1", "display": "Patient"
            }
        }]
    });
    if !export {
        event["subtype"] = subtype;
    }
    event
}

/// The reads of a patient's record as a collection Bundle of AuditEvents.
pub fn audit_bundle(base: &Base, patient: i64, entries: &[AuditEntry], now: &str) -> Value {
    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": instant(now),
        "entry": entries.iter().map(|e| json!({
            "fullUrl": format!("{}/AuditEvent/renkei-audit-{}", base.served, e.seq),
            "resource": audit_event(patient, e)
        })).collect::<Vec<_>>()
    })
}
