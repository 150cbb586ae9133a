//! FHIR XML (R4 §2.6.2) written from the very JSON resources the API builds, so the two formats
//! cannot drift apart: primitives as `value` attributes, repeats as repeated elements, embedded
//! resources wrapped in their element, `Extension.url` as an attribute, and every element in the
//! order its StructureDefinition gives (XML, unlike JSON, is ordered). The order tables cover
//! the resources and datatypes this server writes; `tools/fhir-validate` checks the order and
//! the content of every XML answer independently (against the R4 models' own element order).

use serde_json::{Map, Value};

/// The FHIR XML media type.
pub const FHIR_XML: &str = "application/fhir+xml; charset=utf-8";

/// The namespace of every FHIR element.
const NAMESPACE: &str = "http://hl7.org/fhir";

/// A resource (or Bundle) as a FHIR XML document.
pub fn to_xml(resource: &Value) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    write_resource(&mut out, resource);
    out.push('\n');
    out
}

fn write_resource(out: &mut String, resource: &Value) {
    let Some(fields) = resource.as_object() else {
        return;
    };
    let kind = fields
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("Basic");
    out.push('<');
    out.push_str(kind);
    // Every resource, root or embedded, states the FHIR namespace (as the specification's own
    // examples write it).
    out.push_str(" xmlns=\"");
    out.push_str(NAMESPACE);
    out.push('"');
    out.push('>');
    for key in ordered_keys(RESOURCE_START, resource_order(kind), fields) {
        if key == "resourceType" {
            continue;
        }
        write_element(out, kind, key, &fields[key]);
    }
    out.push_str("</");
    out.push_str(kind);
    out.push('>');
}

/// One element (each item of an array as its own element).
fn write_element(out: &mut String, resource: &str, name: &str, value: &Value) {
    match value {
        Value::Array(items) => {
            for item in items {
                write_element(out, resource, name, item);
            }
        }
        Value::Null => {}
        Value::Object(fields) if fields.contains_key("resourceType") => {
            open(out, name, None, None);
            write_resource(out, value);
            close(out, name);
        }
        Value::Object(fields) => {
            let url = fields
                .get("url")
                .and_then(Value::as_str)
                .filter(|_| matches!(name, "extension" | "modifierExtension"));
            let id = fields.get("id").and_then(Value::as_str);
            open(out, name, id, url);
            for key in ordered_keys(ELEMENT_START, element_order(resource, name), fields) {
                if key == "id" || (key == "url" && url.is_some()) {
                    continue;
                }
                write_element(out, resource, key, &fields[key]);
            }
            close(out, name);
        }
        Value::String(s) => primitive(out, name, s),
        Value::Number(n) => primitive(out, name, &n.to_string()),
        Value::Bool(b) => primitive(out, name, if *b { "true" } else { "false" }),
    }
}

fn open(out: &mut String, name: &str, id: Option<&str>, url: Option<&str>) {
    out.push('<');
    out.push_str(name);
    for (attribute, value) in [("id", id), ("url", url)] {
        if let Some(v) = value {
            out.push(' ');
            out.push_str(attribute);
            out.push_str("=\"");
            escape_into(out, v);
            out.push('"');
        }
    }
    out.push('>');
}

fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn primitive(out: &mut String, name: &str, value: &str) {
    out.push('<');
    out.push_str(name);
    out.push_str(" value=\"");
    escape_into(out, value);
    out.push_str("\"/>");
}

/// XML attribute text: markup characters escaped, and line breaks and tabs as character
/// references so that attribute-value normalisation keeps them.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

/// The keys of `fields` in XML order: `start` (the elements every resource or element begins
/// with), then `order`, then any other key (none is expected; kept rather than lost).
fn ordered_keys<'a>(
    start: &[&'static str],
    order: &[&'static str],
    fields: &'a Map<String, Value>,
) -> Vec<&'a str> {
    let mut keys: Vec<&'a str> = Vec::with_capacity(fields.len());
    for name in start.iter().chain(order) {
        if let Some((k, _)) = fields.get_key_value(*name) {
            if !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
    }
    for k in fields.keys() {
        if !keys.contains(&k.as_str()) {
            keys.push(k);
        }
    }
    keys
}

/// Resource and DomainResource elements, before a resource's own.
const RESOURCE_START: &[&str] = &[
    "resourceType",
    "id",
    "meta",
    "implicitRules",
    "language",
    "text",
    "contained",
    "extension",
    "modifierExtension",
];
/// Element and BackboneElement, before an element's own.
const ELEMENT_START: &[&str] = &["id", "extension", "modifierExtension"];

/// The elements of each resource this server writes, in StructureDefinition order.
fn resource_order(kind: &str) -> &'static [&'static str] {
    match kind {
        "Bundle" => &[
            "identifier",
            "type",
            "timestamp",
            "total",
            "link",
            "entry",
            "signature",
        ],
        "Organization" => &[
            "identifier",
            "active",
            "type",
            "name",
            "alias",
            "telecom",
            "address",
            "partOf",
            "contact",
            "endpoint",
        ],
        "Location" => &[
            "identifier",
            "status",
            "operationalStatus",
            "name",
            "alias",
            "description",
            "mode",
            "type",
            "telecom",
            "address",
            "physicalType",
            "position",
            "managingOrganization",
            "partOf",
            "hoursOfOperation",
            "availabilityExceptions",
            "endpoint",
        ],
        "HealthcareService" => &[
            "identifier",
            "active",
            "providedBy",
            "category",
            "type",
            "specialty",
            "location",
            "name",
            "comment",
            "extraDetails",
            "photo",
            "telecom",
            "coverageArea",
            "serviceProvisionCode",
            "eligibility",
            "program",
            "characteristic",
            "communication",
            "referralMethod",
            "appointmentRequired",
            "availableTime",
            "notAvailable",
            "availabilityExceptions",
            "endpoint",
        ],
        "PractitionerRole" => &[
            "identifier",
            "active",
            "period",
            "practitioner",
            "organization",
            "code",
            "specialty",
            "location",
            "healthcareService",
            "telecom",
            "availableTime",
            "notAvailable",
            "availabilityExceptions",
            "endpoint",
        ],
        "Provenance" => &[
            "target",
            "occurredPeriod",
            "occurredDateTime",
            "recorded",
            "policy",
            "location",
            "reason",
            "activity",
            "agent",
            "entity",
            "signature",
        ],
        "OperationOutcome" => &["issue"],
        "CodeSystem" => &[
            "url",
            "identifier",
            "version",
            "name",
            "title",
            "status",
            "experimental",
            "date",
            "publisher",
            "contact",
            "description",
            "useContext",
            "jurisdiction",
            "purpose",
            "copyright",
            "caseSensitive",
            "valueSet",
            "hierarchyMeaning",
            "compositional",
            "versionNeeded",
            "content",
            "supplements",
            "count",
            "filter",
            "property",
            "concept",
        ],
        "CapabilityStatement" => &[
            "url",
            "version",
            "name",
            "title",
            "status",
            "experimental",
            "date",
            "publisher",
            "contact",
            "description",
            "useContext",
            "jurisdiction",
            "purpose",
            "copyright",
            "kind",
            "instantiates",
            "imports",
            "software",
            "implementation",
            "fhirVersion",
            "format",
            "patchFormat",
            "implementationGuide",
            "rest",
            "messaging",
            "document",
        ],
        "MeasureReport" => &[
            "identifier",
            "status",
            "type",
            "measure",
            "subject",
            "date",
            "reporter",
            "period",
            "improvementNotation",
            "group",
            "evaluatedResource",
        ],
        "Measure" => &[
            "url",
            "identifier",
            "version",
            "name",
            "title",
            "subtitle",
            "status",
            "experimental",
            "subjectCodeableConcept",
            "subjectReference",
            "date",
            "publisher",
            "contact",
            "description",
            "useContext",
            "jurisdiction",
            "purpose",
            "usage",
            "copyright",
            "approvalDate",
            "lastReviewDate",
            "effectivePeriod",
            "topic",
            "author",
            "editor",
            "reviewer",
            "endorser",
            "relatedArtifact",
            "library",
            "disclaimer",
            "scoring",
            "compositeScoring",
            "type",
            "riskAdjustment",
            "rateAggregation",
            "rationale",
            "clinicalRecommendationStatement",
            "improvementNotation",
            "definition",
            "guidance",
            "group",
            "supplementalData",
        ],
        _ => &[],
    }
}

/// The elements of an object-valued element `name` inside a resource of type `resource`: its
/// backbone element where the resource defines one, otherwise its datatype.
fn element_order(resource: &str, name: &str) -> &'static [&'static str] {
    const CODEABLE_CONCEPT: &[&str] = &["coding", "text"];
    const REFERENCE: &[&str] = &["reference", "type", "identifier", "display"];
    const QUANTITY: &[&str] = &["value", "comparator", "unit", "system", "code"];
    match (resource, name) {
        ("Bundle", "link") => &["relation", "url"],
        ("Bundle", "entry") => &[
            "link", "fullUrl", "resource", "search", "request", "response",
        ],
        ("Bundle", "search") => &["mode", "score"],
        ("Bundle", "request") => &[
            "method",
            "url",
            "ifNoneMatch",
            "ifModifiedSince",
            "ifMatch",
            "ifNoneExist",
        ],
        ("Bundle", "response") => &["status", "location", "etag", "lastModified", "outcome"],
        ("Location", "position") => &["longitude", "latitude", "altitude"],
        ("Provenance", "agent") => &["type", "role", "who", "onBehalfOf"],
        ("OperationOutcome", "issue") => &[
            "severity",
            "code",
            "details",
            "diagnostics",
            "location",
            "expression",
        ],
        ("CodeSystem", "concept") => &[
            "code",
            "display",
            "definition",
            "designation",
            "property",
            "concept",
        ],
        ("CodeSystem", "designation") => &["language", "use", "value"],
        ("CapabilityStatement", "software") => &["name", "version", "releaseDate"],
        ("CapabilityStatement", "implementation") => &["description", "url", "custodian"],
        ("CapabilityStatement", "rest") => &[
            "mode",
            "documentation",
            "security",
            "resource",
            "interaction",
            "searchParam",
            "operation",
            "compartment",
        ],
        ("CapabilityStatement", "resource") => &[
            "type",
            "profile",
            "supportedProfile",
            "documentation",
            "interaction",
            "versioning",
            "readHistory",
            "updateCreate",
            "conditionalCreate",
            "conditionalRead",
            "conditionalUpdate",
            "conditionalDelete",
            "referencePolicy",
            "searchInclude",
            "searchRevInclude",
            "searchParam",
            "operation",
        ],
        ("CapabilityStatement", "interaction") => &["code", "documentation"],
        ("CapabilityStatement", "searchParam") => &["name", "definition", "type", "documentation"],
        ("MeasureReport", "group") => &["code", "population", "measureScore", "stratifier"],
        ("MeasureReport", "population") => &["code", "count", "subjectResults"],
        ("MeasureReport", "stratifier") => &["code", "stratum"],
        ("MeasureReport", "stratum") => &["value", "component", "population", "measureScore"],
        ("Measure", "group") => &["code", "description", "population", "stratifier"],
        ("Measure", "population") => &["code", "description", "criteria"],
        ("Measure", "stratifier") => &["code", "description", "criteria", "component"],
        ("Measure", "criteria") => &["description", "name", "language", "expression", "reference"],
        (_, "meta") => &[
            "versionId",
            "lastUpdated",
            "source",
            "profile",
            "security",
            "tag",
        ],
        (_, "identifier") => &["use", "type", "system", "value", "period", "assigner"],
        (_, "coding" | "tag" | "security") => {
            &["system", "version", "code", "display", "userSelected"]
        }
        (_, "telecom") => &["system", "value", "use", "rank", "period"],
        (_, "address") => &[
            "use",
            "type",
            "text",
            "line",
            "city",
            "district",
            "state",
            "postalCode",
            "country",
            "period",
        ],
        (_, "period" | "effectivePeriod" | "occurredPeriod") => &["start", "end"],
        (_, "extension" | "modifierExtension") => &["url"],
        (_, "valueDistance" | "valueQuantity" | "measureScore") => QUANTITY,
        (
            _,
            "managingOrganization"
            | "providedBy"
            | "organization"
            | "location"
            | "healthcareService"
            | "target"
            | "who"
            | "onBehalfOf"
            | "subject"
            | "reporter"
            | "partOf"
            | "practitioner"
            | "endpoint"
            | "assigner",
        ) => REFERENCE,
        _ => CODEABLE_CONCEPT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn elements_follow_the_definition_order_and_primitives_are_attributes() {
        let bundle = json!({
            "resourceType": "Bundle",
            "type": "searchset",
            "total": 1,
            "id": "b1",
            "link": [{ "url": "https://x/fhir/Location?a=1&b=<2>", "relation": "self" }],
            "entry": [{
                "search": { "mode": "match", "extension": [{ "valueDistance": { "value": 1.5, "unit": "km" }, "url": "http://hl7.org/fhir/StructureDefinition/location-distance" }] },
                "fullUrl": "https://x/fhir/Location/1",
                "resource": { "resourceType": "Location", "name": "医院 \"A\"", "status": "active", "id": "1",
                    "position": { "latitude": 34.6, "longitude": 135.6 } }
            }]
        });
        let xml = to_xml(&bundle);
        let order = |needles: &[&str]| {
            let at: Vec<usize> = needles
                .iter()
                .map(|n| xml.find(n).unwrap_or_else(|| panic!("{n} in {xml}")))
                .collect();
            assert!(at.windows(2).all(|w| w[0] < w[1]), "{needles:?} in {xml}");
        };
        order(&[
            "<Bundle xmlns=\"http://hl7.org/fhir\">",
            "<id value=\"b1\"/>",
            "<type value=\"searchset\"/>",
            "<total value=\"1\"/>",
            "<link>",
            "<entry>",
        ]);
        order(&[
            "<relation value=\"self\"/>",
            "<url value=\"https://x/fhir/Location?a=1&amp;b=&lt;2&gt;\"/>",
        ]);
        order(&[
            "<fullUrl",
            "<resource><Location xmlns=\"http://hl7.org/fhir\">",
            "<search>",
        ]);
        order(&[
            "<extension url=\"http://hl7.org/fhir/StructureDefinition/location-distance\">",
            "<valueDistance><value value=\"1.5\"/><unit value=\"km\"/></valueDistance>",
            "<mode value=\"match\"/>",
        ]);
        order(&[
            "<id value=\"1\"/>",
            "<status value=\"active\"/>",
            "<name value=\"医院 &quot;A&quot;\"/>",
            "<position><longitude value=\"135.6\"/><latitude value=\"34.6\"/></position>",
        ]);
        assert!(!xml.contains("resourceType"));
    }
}
