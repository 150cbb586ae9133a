//! Directory entries as FHIR R4 resources. One entry is four resources sharing its id:
//! `Organization` (the institution), `Location` (its site, with coordinates),
//! `HealthcareService` (what it offers, coded with our capability CodeSystem) and, when the
//! entry names a contact person or desk, `PractitionerRole` (that contact point). Approved
//! changes are `Provenance`. No person's account data is ever published: provenance names the
//! institution and the approving hub, not users.

use renkei_domain::capability::Capability;
use renkei_domain::institution::InstitutionKind;
use renkei_store::records::{ApprovedChange, EntryRecord};
use serde_json::{json, Map, Value};

/// JP Core's identifier system of the 10-digit 医療機関コード (JP_Organization).
pub const MEDICAL_CODE_SYSTEM: &str =
    "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no";
/// The extension carrying a near search's distance on `Bundle.entry.search`.
pub const DISTANCE_EXTENSION: &str = "http://hl7.org/fhir/StructureDefinition/location-distance";
/// Our CodeSystem ids.
pub const CAPABILITY_CODES: &str = "renkei-capability";
/// Our CodeSystem of institution kinds.
pub const KIND_CODES: &str = "renkei-institution-kind";
/// Every CodeSystem served, by id.
pub const CODE_SYSTEMS: [&str; 7] = [
    CAPABILITY_CODES,
    KIND_CODES,
    super::measure::GROUP_CODES,
    super::measure::ACTIVITY_CODES,
    super::measure::DUTY_CODES,
    super::measure::ROLE_CODES,
    super::measure::ROLE_STATUS_CODES,
];

/// The four resource types an entry is published as, and Provenance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceType {
    /// The institution.
    Organization,
    /// Its site.
    Location,
    /// What it offers.
    HealthcareService,
    /// Its contact person or desk.
    PractitionerRole,
    /// An approved change.
    Provenance,
    /// Our code systems.
    CodeSystem,
}

impl ResourceType {
    /// Every type served.
    pub const ALL: [ResourceType; 6] = [
        Self::Organization,
        Self::Location,
        Self::HealthcareService,
        Self::PractitionerRole,
        Self::Provenance,
        Self::CodeSystem,
    ];

    /// The FHIR name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Organization => "Organization",
            Self::Location => "Location",
            Self::HealthcareService => "HealthcareService",
            Self::PractitionerRole => "PractitionerRole",
            Self::Provenance => "Provenance",
            Self::CodeSystem => "CodeSystem",
        }
    }

    /// Parses a FHIR name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether this type is one of an entry's resources.
    pub fn is_entry(self) -> bool {
        matches!(
            self,
            Self::Organization | Self::Location | Self::HealthcareService | Self::PractitionerRole
        )
    }
}

/// Where the resources live, and what names them.
#[derive(Debug, Clone)]
pub struct Base {
    /// Where they are served: `{public_url}/fhir` (full URLs, links).
    pub served: String,
    /// The canonical base of identifier systems, code systems and other canonical URLs, which
    /// must not change with the address (`WebConfig::fhir_canonical`).
    pub canonical: String,
}

impl Base {
    /// The canonical URL of one of our code systems.
    pub fn code_system(&self, id: &str) -> String {
        format!("{}/CodeSystem/{id}", self.canonical)
    }

    /// The identifier system of Renkei's own ids for a resource type: `…/sid/institution`
    /// (Organization), `…/sid/location`, `…/sid/healthcare-service`.
    pub fn identifier_system(&self, kind: ResourceType) -> String {
        let what = match kind {
            ResourceType::Location => "location",
            ResourceType::HealthcareService => "healthcare-service",
            _ => "institution",
        };
        format!("{}/sid/{what}", self.canonical)
    }

    /// A resource's full URL.
    pub fn full_url(&self, kind: ResourceType, id: i64) -> String {
        format!("{}/{}/{id}", self.served, kind.name())
    }
}

/// FHIR instants are `YYYY-MM-DDThh:mm:ss.sss+zz:zz`; our stored text has microseconds.
pub fn instant(stored: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(stored) {
        Ok(t) => t
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string(),
        Err(_) => stored.to_owned(),
    }
}

/// A version id that changes whenever the resource does: the update time in microseconds.
fn version_id(stored: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(stored)
        .map(|t| t.timestamp_micros().to_string())
        .unwrap_or_else(|_| "1".to_owned())
}

fn meta(e: &EntryRecord) -> Value {
    json!({ "versionId": version_id(&e.updated_at), "lastUpdated": instant(&e.updated_at) })
}

fn kind_coding(base: &Base, kind: InstitutionKind) -> Value {
    json!({ "system": base.code_system(KIND_CODES), "code": kind.code(), "display": kind.label_ja() })
}

fn telecom(e: &EntryRecord, with_web: bool) -> Vec<Value> {
    let f = &e.fields;
    let mut out = Vec::new();
    if let Some(phone) = &f.phone {
        out.push(json!({ "system": "phone", "value": phone, "use": "work" }));
    }
    if let Some(fax) = &f.details.fax {
        out.push(json!({ "system": "fax", "value": fax, "use": "work" }));
    }
    if with_web {
        if let Some(web) = &f.details.website {
            out.push(json!({ "system": "url", "value": web, "use": "work" }));
        }
    }
    out
}

/// The address split as JP Core expects: prefecture in `state`, municipality in `city`, the
/// rest in `line`, the postcode in `postalCode`, the address as written in `text`.
fn address(e: &EntryRecord) -> Value {
    let f = &e.fields;
    let full = f.address.trim();
    let after_pref = full.strip_prefix(e.prefecture.as_str()).unwrap_or(full);
    let line = after_pref
        .strip_prefix(e.municipality.as_str())
        .unwrap_or(after_pref)
        .trim();
    let mut a = Map::new();
    a.insert("use".into(), json!("work"));
    a.insert("type".into(), json!("physical"));
    // JP Core: the text is the address as written, without 〒 and the postcode (which has its
    // own element).
    a.insert("text".into(), json!(full));
    if !line.is_empty() {
        a.insert("line".into(), json!([line]));
    }
    a.insert("city".into(), json!(e.municipality));
    a.insert("state".into(), json!(e.prefecture));
    if let Some(p) = &f.postcode {
        a.insert("postalCode".into(), json!(postcode_text(p)));
    }
    a.insert("country".into(), json!("JP"));
    Value::Object(a)
}

fn postcode_text(p: &str) -> String {
    if p.len() == 7 && p.is_ascii() {
        format!("{}-{}", &p[..3], &p[3..])
    } else {
        p.to_owned()
    }
}

fn reference(base_kind: ResourceType, e: &EntryRecord) -> Value {
    json!({ "reference": format!("{}/{}", base_kind.name(), e.id), "display": e.fields.name })
}

/// The institution as an `Organization`.
pub fn organization(base: &Base, e: &EntryRecord) -> Value {
    let f = &e.fields;
    let mut identifier = Vec::new();
    if let Some(code) = &f.details.medical_code {
        identifier.push(json!({ "use": "official", "system": MEDICAL_CODE_SYSTEM, "value": code }));
    }
    identifier.push(json!({ "use": "secondary", "system": base.identifier_system(ResourceType::Organization), "value": e.id.to_string() }));
    let mut o = Map::new();
    o.insert("resourceType".into(), json!("Organization"));
    o.insert("id".into(), json!(e.id.to_string()));
    o.insert("meta".into(), meta(e));
    o.insert("identifier".into(), json!(identifier));
    o.insert("active".into(), json!(true));
    o.insert(
        "type".into(),
        json!([
            { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "prov", "display": "Healthcare Provider" }] },
            { "coding": [kind_coding(base, e.kind)], "text": e.kind.label_ja() }
        ]),
    );
    o.insert("name".into(), json!(f.name));
    if !f.name_kana.is_empty() {
        o.insert("alias".into(), json!([f.name_kana]));
    }
    let t = telecom(e, true);
    if !t.is_empty() {
        o.insert("telecom".into(), json!(t));
    }
    o.insert("address".into(), json!([address(e)]));
    Value::Object(o)
}

/// The institution's site as a `Location`.
pub fn location(base: &Base, e: &EntryRecord) -> Value {
    let f = &e.fields;
    let mut l = Map::new();
    l.insert("resourceType".into(), json!("Location"));
    l.insert("id".into(), json!(e.id.to_string()));
    l.insert("meta".into(), meta(e));
    l.insert(
        "identifier".into(),
        json!([{ "use": "secondary", "system": base.identifier_system(ResourceType::Location), "value": e.id.to_string() }]),
    );
    l.insert("status".into(), json!("active"));
    l.insert("name".into(), json!(f.name));
    if !f.name_kana.is_empty() {
        l.insert("alias".into(), json!([f.name_kana]));
    }
    l.insert("mode".into(), json!("instance"));
    l.insert(
        "type".into(),
        json!([{ "coding": [kind_coding(base, e.kind)], "text": e.kind.label_ja() }]),
    );
    let t = telecom(e, true);
    if !t.is_empty() {
        l.insert("telecom".into(), json!(t));
    }
    l.insert("address".into(), address(e));
    l.insert(
        "physicalType".into(),
        json!({ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": "bu", "display": "Building" }] }),
    );
    if let Some(p) = &f.location {
        l.insert(
            "position".into(),
            json!({ "longitude": p.lng, "latitude": p.lat }),
        );
    }
    l.insert(
        "managingOrganization".into(),
        reference(ResourceType::Organization, e),
    );
    if let Some(hours) = &f.details.hours {
        l.insert("availabilityExceptions".into(), json!(hours));
    }
    Value::Object(l)
}

/// What the institution offers as a `HealthcareService`, typed with our capability codes, or
/// `None` when it has recorded no capability (mCSD requires at least one `type`, and a
/// service with no known offer would tell a reader nothing).
pub fn healthcare_service(base: &Base, e: &EntryRecord) -> Option<Value> {
    let f = &e.fields;
    let types: Vec<Value> = f
        .capabilities
        .iter()
        .filter_map(|c| Capability::from_code(c))
        .map(|c| {
            json!({ "coding": [{ "system": base.code_system(CAPABILITY_CODES), "code": c.code(), "display": c.label_ja() }], "text": c.label_ja() })
        })
        .collect();
    if types.is_empty() {
        return None;
    }
    let mut h = Map::new();
    h.insert("resourceType".into(), json!("HealthcareService"));
    h.insert("id".into(), json!(e.id.to_string()));
    h.insert("meta".into(), meta(e));
    h.insert(
        "identifier".into(),
        json!([{ "use": "secondary", "system": base.identifier_system(ResourceType::HealthcareService), "value": e.id.to_string() }]),
    );
    h.insert("active".into(), json!(true));
    h.insert(
        "providedBy".into(),
        reference(ResourceType::Organization, e),
    );
    h.insert(
        "category".into(),
        json!([{ "coding": [kind_coding(base, e.kind)], "text": e.kind.label_ja() }]),
    );
    h.insert("type".into(), json!(types));
    h.insert(
        "location".into(),
        json!([reference(ResourceType::Location, e)]),
    );
    h.insert("name".into(), json!(f.name));
    let t = telecom(e, true);
    if !t.is_empty() {
        h.insert("telecom".into(), json!(t));
    }
    if let Some(hours) = &f.details.hours {
        h.insert("availabilityExceptions".into(), json!(hours));
    }
    Some(Value::Object(h))
}

/// The entry's contact person or desk as a `PractitionerRole` (no `Practitioner`: we publish
/// no personal records), or `None` when the entry names none.
pub fn practitioner_role(e: &EntryRecord) -> Option<Value> {
    let contact = e
        .fields
        .details
        .contact_person
        .as_deref()
        .filter(|c| !c.is_empty())?;
    let mut r = Map::new();
    r.insert("resourceType".into(), json!("PractitionerRole"));
    r.insert("id".into(), json!(e.id.to_string()));
    r.insert("meta".into(), meta(e));
    r.insert("active".into(), json!(true));
    r.insert(
        "organization".into(),
        reference(ResourceType::Organization, e),
    );
    r.insert(
        "code".into(),
        json!([{ "text": format!("担当者・窓口: {contact}") }]),
    );
    r.insert(
        "location".into(),
        json!([reference(ResourceType::Location, e)]),
    );
    if e.fields
        .capabilities
        .iter()
        .any(|c| Capability::from_code(c).is_some())
    {
        r.insert(
            "healthcareService".into(),
            json!([reference(ResourceType::HealthcareService, e)]),
        );
    }
    let t = telecom(e, false);
    if !t.is_empty() {
        r.insert("telecom".into(), json!(t));
    }
    Some(Value::Object(r))
}

/// The resource of `kind` for an entry (`None`: the entry has no such resource).
pub fn entry_resource(base: &Base, kind: ResourceType, e: &EntryRecord) -> Option<Value> {
    match kind {
        ResourceType::Organization => Some(organization(base, e)),
        ResourceType::Location => Some(location(base, e)),
        ResourceType::HealthcareService => healthcare_service(base, e),
        ResourceType::PractitionerRole => practitioner_role(e),
        ResourceType::Provenance | ResourceType::CodeSystem => None,
    }
}

/// An approved change as a `Provenance`: the institution authored it, its area's hub approved
/// it; the reason lists the changed fields.
pub fn provenance(c: &ApprovedChange) -> Value {
    let targets: Vec<Value> = [
        ResourceType::Organization,
        ResourceType::Location,
        ResourceType::HealthcareService,
    ]
    .iter()
    .map(|t| json!({ "reference": format!("{}/{}", t.name(), c.institution_id), "display": c.institution_name }))
    .collect();
    let approver = if c.approvers.is_empty() {
        "連携の拠点".to_owned()
    } else {
        format!("{}（連携の拠点）", c.approvers.join("・"))
    };
    let mut p = Map::new();
    p.insert("resourceType".into(), json!("Provenance"));
    p.insert("id".into(), json!(c.id.to_string()));
    p.insert(
        "meta".into(),
        json!({ "versionId": "1", "lastUpdated": instant(&c.approved_at) }),
    );
    p.insert("target".into(), json!(targets));
    p.insert("occurredDateTime".into(), json!(instant(&c.proposed_at)));
    p.insert("recorded".into(), json!(instant(&c.approved_at)));
    if !c.changed.is_empty() {
        p.insert(
            "reason".into(),
            json!([{ "text": format!("変更した項目: {}", c.changed.join("、")) }]),
        );
    }
    p.insert(
        "activity".into(),
        json!({ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation", "code": "UPDATE", "display": "revise" }] }),
    );
    p.insert(
        "agent".into(),
        json!([
            {
                "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": "author", "display": "Author" }] },
                "who": { "reference": format!("Organization/{}", c.institution_id), "display": c.institution_name }
            },
            {
                "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": "verifier", "display": "Verifier" }] },
                "who": { "display": approver }
            }
        ]),
    );
    Value::Object(p)
}

/// Our code systems: capabilities and institution kinds, Japanese displays with English
/// designations.
pub fn code_system(base: &Base, id: &str) -> Option<Value> {
    use super::measure::Concept;
    let owned = |items: Vec<(&str, &str, &str)>| -> Vec<Concept> {
        items
            .into_iter()
            .map(|(c, j, e)| (c.to_owned(), j.to_owned(), e.to_owned()))
            .collect()
    };
    let (title, description, concepts): (&str, &str, Vec<Concept>) = match id {
        CAPABILITY_CODES => (
            "Renkei 在宅医療・介護の対応項目",
            "What an institution offers for home medical care (HealthcareService.type). JP Core defines no HealthcareService profile; these codes are Renkei's.",
            owned(
                Capability::ALL
                    .iter()
                    .map(|c| (c.code(), c.label_ja(), c.label_en()))
                    .collect(),
            ),
        ),
        KIND_CODES => (
            "Renkei 医療機関・事業所の種別",
            "Kinds of institutions and offices in the home-medical-care directory.",
            owned(
                InstitutionKind::ALL
                    .iter()
                    .map(|k| (k.code(), k.label_ja(), k.label_en()))
                    .collect(),
            ),
        ),
        other => super::measure::code_system_concepts(other)?,
    };
    let concept: Vec<Value> = concepts
        .iter()
        .map(|(code, ja, en)| {
            json!({ "code": code, "display": ja, "designation": [{ "language": "en", "value": en }] })
        })
        .collect();
    Some(json!({
        "resourceType": "CodeSystem",
        "id": id,
        "url": base.code_system(id),
        "version": env!("CARGO_PKG_VERSION"),
        "name": id.replace('-', "_"),
        "title": title,
        "status": "active",
        "experimental": false,
        "publisher": "Renkei",
        "description": description,
        "language": "ja",
        "caseSensitive": true,
        "content": "complete",
        "count": concept.len(),
        "concept": concept,
    }))
}
