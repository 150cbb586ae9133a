//! `/fhir/metadata`: the CapabilityStatement, built from the same lists the search uses.

use super::resources::{Base, ResourceType};
use serde_json::{json, Value};

/// (name, type, documentation) of each search parameter of a type.
fn search_params(kind: ResourceType) -> Vec<(&'static str, &'static str, &'static str)> {
    use ResourceType as T;
    let mut p = vec![("_id", "token", "Renkei's id (the same for an institution's Organization, Location, HealthcareService and PractitionerRole).")];
    if kind.is_entry() {
        p.push((
            "_lastUpdated",
            "date",
            "eq, ne, gt, lt, ge, le, sa, eb, ap; a value stands for the range of its precision (a date is the whole day in JST, …:15.734Z that millisecond); ap is within a tenth of the gap to now.",
        ));
    }
    match kind {
        T::Organization | T::Location => {
            p.extend([
                ("name", "string", "Name or reading (kana); starts-with by default, :contains and :exact; insensitive to full/half width and hiragana/katakana."),
                ("address", "string", "Address and postcode; Japanese addresses have no word boundaries, so any part may match."),
                ("address-city", "string", "Address.city, the municipality (市区町村): starts-with, :contains, :exact."),
                ("address-state", "string", "Address.state, the prefecture (都道府県): starts-with, :contains, :exact."),
                ("address-country", "string", "Every address is in Japan (JP)."),
                ("address-use", "token", "Every address is the site's (work)."),
                ("partof", "reference", "The directory keeps no hierarchy: nothing is part of another, so none match."),
                ("address-postalcode", "string", "Postcode prefix, with or without the hyphen."),
                ("type", "token", "Kind of institution (CodeSystem/renkei-institution-kind)."),
            ]);
            p.push(if kind == T::Organization {
                ("identifier", "token", "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no|医療機関コード (10 digits), or Renkei's id ({base}/sid/institution).")
            } else {
                ("identifier", "token", "Renkei's id ({base}/sid/location). The 医療機関コード identifies the Organization, not its site.")
            });
            if kind == T::Organization {
                p.push(("active", "token", "Every published entry is active."));
            } else {
                p.extend([
                    ("near", "special", "lat|lng|distance|units (km or m, at most 50 km; 5 km by default). Sorted by true distance; each entry carries the location-distance extension."),
                    ("near-distance", "quantity", "The radius of near as R4 4.0.0 gives it (e.g. 2|http://unitsofmeasure.org|km), as mCSD's LocationDistance option lists it."),
                    ("organization", "reference", "The managing Organization."),
                    ("status", "token", "Every published Location is active."),
                ]);
            }
        }
        T::HealthcareService => p.extend([
            ("name", "string", "Name or reading; starts-with, :contains, :exact."),
            ("service-type", "token", "What it offers (CodeSystem/renkei-capability); comma-separated values are alternatives, repeated parameters must all hold. Every HealthcareService has at least one type; an entry that recorded no offer publishes none."),
            ("identifier", "token", "Renkei's id ({base}/sid/healthcare-service)."),
            ("service-category", "token", "Kind of institution (CodeSystem/renkei-institution-kind)."),
            ("organization", "reference", "The providing Organization."),
            ("location", "reference", "The Location."),
            ("active", "token", "Every published service is active."),
        ]),
        T::PractitionerRole => p.extend([
            ("organization", "reference", "The Organization."),
            ("location", "reference", "The Location."),
            ("service", "reference", "The HealthcareService."),
            ("active", "token", "Every published role is active."),
        ]),
        T::Provenance => p.push(("target", "reference", "The changed Organization, Location or HealthcareService.")),
        T::CodeSystem => {}
    }
    p
}

fn includes(kind: ResourceType) -> Vec<&'static str> {
    match kind {
        ResourceType::Location => vec!["Location:organization"],
        ResourceType::HealthcareService => {
            vec![
                "HealthcareService:organization",
                "HealthcareService:location",
            ]
        }
        ResourceType::PractitionerRole => vec![
            "PractitionerRole:organization",
            "PractitionerRole:location",
            "PractitionerRole:service",
        ],
        _ => Vec::new(),
    }
}

fn revincludes(kind: ResourceType) -> Vec<&'static str> {
    match kind {
        ResourceType::Organization => vec![
            "Location:organization",
            "HealthcareService:organization",
            "PractitionerRole:organization",
        ],
        ResourceType::Location => {
            vec!["HealthcareService:location", "PractitionerRole:location"]
        }
        ResourceType::HealthcareService => vec!["PractitionerRole:service"],
        _ => Vec::new(),
    }
}

/// The CapabilityStatement of this server.
pub fn statement(base: &Base, date: &str) -> Value {
    let resources: Vec<Value> = ResourceType::ALL
        .iter()
        .map(|kind| {
            let mut interactions =
                vec![json!({ "code": "read" }), json!({ "code": "search-type" })];
            if *kind != ResourceType::CodeSystem {
                interactions.push(json!({ "code": "history-type" }));
            }
            let params: Vec<Value> = search_params(*kind)
                .into_iter()
                .map(|(name, kind, doc)| {
                    json!({ "name": name, "type": kind, "documentation": doc.replace("{base}", &base.canonical) })
                })
                .collect();
            let mut r = json!({
                "type": kind.name(),
                "interaction": interactions,
                "versioning": "versioned",
                "readHistory": false,
                "updateCreate": false,
                "searchParam": params,
            });
            let inc = includes(*kind);
            if !inc.is_empty() {
                r["searchInclude"] = json!(inc);
            }
            let rev = revincludes(*kind);
            if !rev.is_empty() {
                r["searchRevInclude"] = json!(rev);
            }
            r
        })
        .collect();
    let mut resources = resources;
    resources.push(json!({
        "type": "Measure",
        "documentation": "One Measure, renkei-hub-report: what the hubs' MeasureReports count. Public.",
        "interaction": [{ "code": "read" }],
    }));
    resources.push(json!({
        "type": "MeasureReport",
        "documentation": "The prefecture report's counts, one summary per hub and report year (HL7 SANER shape: subject = the area, reporter = the hub, period = the fiscal year, April–March). Not public: a hub coordinator, the prefecture viewer or the administrator, signed in or with an API token (Authorization: Bearer, scope read). Role counts are the directory's current statuses.",
        "interaction": [{ "code": "read" }, { "code": "search-type" }],
        "versioning": "versioned",
        "readHistory": false,
        "updateCreate": false,
        "searchParam": [
            { "name": "_id", "type": "token", "documentation": "{report year}-{area code}, e.g. 2025-yao; comma-separated alternatives." },
            { "name": "period", "type": "date", "documentation": "eq, ne, gt, lt, ge, le, sa, eb over the fiscal year (JST days); 令和7年度 is period=ge2025-04-01&period=le2026-03-31. Repeats are all applied." },
            { "name": "subject", "type": "reference", "documentation": "With :identifier only — the area code, e.g. subject:identifier=yao or {base}/area|yao." },
        ],
    }));
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "Renkei",
        "kind": "instance",
        "software": { "name": "Renkei", "version": env!("CARGO_PKG_VERSION") },
        "implementation": {
            "description": "Renkei care-services directory (read-only), following the IHE mCSD search conventions (ITI-90 Find Matching Care Services, ITI-91 Request Care Services Updates).",
            "url": base.served,
        },
        "fhirVersion": "4.0.1",
        "format": ["json", "application/fhir+json"],
        "rest": [{
            "mode": "server",
            "documentation": "Read-only; public except MeasureReport. Search by GET or by POST [type]/_search with a form body. Pages are keyset-paged (Bundle.link next; _count up to 500). Bundle.total is given for _summary=count or _count=0 (no entries) and for _total=accurate|estimate. _history takes _since and returns each changed resource once, in its current version, ordered by update time. Unknown parameters are ignored (and left out of the self link) unless Prefer: handling=strict; a parameter with an empty value is ignored. CORS: any origin; answers are compressed (br, gzip) when the client accepts it.",
            "resource": resources,
        }],
    })
}
