//! FHIR search parameters → a store query. Repeated parameters combine with AND, comma-separated
//! values with OR (FHIR R4 §3.1.1.5). Unknown parameters are ignored (and left out of the self
//! link) unless the client sends `Prefer: handling=strict`, as FHIR recommends.

use super::outcome::Problem;
use super::resources::{Base, ResourceType, CAPABILITY_CODES, KIND_CODES, MEDICAL_CODE_SYSTEM};
use renkei_domain::capability::Capability;
use renkei_domain::institution::InstitutionKind;
use renkei_store::directory::Near;
use renkei_store::records::{RecordQuery, TextField, TextFilter, TextMatch, TimeBound};

/// Most comma-separated values in one parameter.
pub const MAX_VALUES: usize = 20;
/// Parameters a search may carry (a thousand repeats of one made SQLite's expression too deep
/// for it: a 500, L6 of the security probe).
pub const MAX_PARAMETERS: usize = 50;
/// Default page size.
pub const DEFAULT_COUNT: usize = 50;
/// Largest page size.
pub const MAX_COUNT: usize = 500;
/// Largest radius of a near search, in kilometres.
pub const MAX_NEAR_KM: f64 = 50.0;
/// Radius of a near search that gives none.
pub const DEFAULT_NEAR_KM: f64 = 5.0;

/// A resource referenced with `_include`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Include {
    /// The managing or providing Organization.
    Organization,
    /// The Location.
    Location,
    /// The HealthcareService.
    Service,
    /// The PractitionerRole (reverse: the roles that refer to the match).
    Role,
}

/// A parsed search.
#[derive(Debug, Clone)]
pub struct Search {
    /// The store query (without paging).
    pub query: RecordQuery,
    /// Provenance targets (`target=Organization/1`): institution ids.
    pub targets: Option<Vec<i64>>,
    /// Resources to include.
    pub includes: Vec<(Include, String)>,
    /// Page size.
    pub count: usize,
    /// The parameters understood, for the self and next links.
    pub used: Vec<(String, String)>,
    /// The keyset position given with `_cursor`.
    pub cursor: Option<String>,
    /// The radius given with `near-distance` (km).
    pub near_distance: Option<f64>,
    /// Only the number of matches (`_summary=count`, `_count=0`).
    pub count_only: bool,
    /// `Bundle.total` asked for (`_total=accurate|estimate`, `_totalMethod`).
    pub total: bool,
}

/// Parses the query string of a search of `kind`.
pub fn parse(
    base: &Base,
    kind: ResourceType,
    pairs: &[(String, String)],
    strict: bool,
) -> Result<Search, Problem> {
    let mut s = Search {
        query: RecordQuery::default(),
        targets: None,
        includes: Vec::new(),
        count: DEFAULT_COUNT,
        used: Vec::new(),
        cursor: None,
        near_distance: None,
        count_only: false,
        total: false,
    };
    if pairs.len() > MAX_PARAMETERS {
        return Err(Problem::invalid(&format!(
            "検索パラメータは {MAX_PARAMETERS} 個までです / at most {MAX_PARAMETERS} search parameters"
        )));
    }
    for (raw_name, value) in pairs {
        let (name, modifier) = match raw_name.split_once(':') {
            Some((n, m)) => (n, Some(m)),
            None => (raw_name.as_str(), None),
        };
        let values: Vec<String> = value
            .split(',')
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        if values.len() > MAX_VALUES {
            return Err(Problem::invalid(&format!(
                "「{raw_name}」の値は {MAX_VALUES} 個までです / at most {MAX_VALUES} values in {raw_name}"
            )));
        }
        let known = apply(base, kind, &mut s, name, modifier, value, &values)?;
        if known {
            if !matches!(name, "_cursor" | "_format") {
                s.used.push((raw_name.clone(), value.clone()));
            }
        } else if strict {
            return Err(Problem::not_supported(&format!(
                "検索パラメータ「{raw_name}」には対応していません / unsupported search parameter {raw_name}"
            )));
        }
    }
    if let Some(km) = s.near_distance {
        let Some(near) = s.query.near.as_mut() else {
            return Err(Problem::invalid(
                "near-distance は near と一緒に指定してください / near-distance needs near",
            ));
        };
        near.km = km;
    }
    Ok(s)
}

/// The formats this server writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/fhir+json`.
    Json,
    /// `application/fhir+xml`.
    Xml,
}

/// A `_format` value (R4 §3.1.0.1.8: the short names and the media types); anything else is 406.
pub fn format_of(value: &str) -> Result<Format, Problem> {
    let media = value.split(';').next().unwrap_or("").trim();
    match media {
        "json" | "application/json" | "application/fhir+json" => Ok(Format::Json),
        "xml" | "text/xml" | "application/xml" | "application/fhir+xml" => Ok(Format::Xml),
        _ => Err(Problem::not_acceptable(value)),
    }
}

/// `_format`: JSON or XML; anything else is 406.
pub fn check_format(value: &str) -> Result<(), Problem> {
    format_of(value).map(|_| ())
}

/// The format an `Accept` header asks for: the acceptable type of highest quality (the first
/// of equal quality); JSON when it names neither (`*/*`, none at all) and for a browser (whose
/// list names HTML first and `application/xml` after it).
pub fn format_accepted(accept: &str) -> Format {
    if accept.contains("text/html") {
        return Format::Json;
    }
    let mut best: Option<(f32, Format)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let format = match media.as_str() {
            "application/fhir+xml" | "application/xml" | "text/xml" => Format::Xml,
            "application/fhir+json" | "application/json" => Format::Json,
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, format));
        }
    }
    best.map_or(Format::Json, |(_, f)| f)
}

/// Applies one parameter; false when it is not one of `kind`'s.
fn apply(
    base: &Base,
    kind: ResourceType,
    s: &mut Search,
    name: &str,
    modifier: Option<&str>,
    value: &str,
    values: &[String],
) -> Result<bool, Problem> {
    use ResourceType as T;
    let entry = kind.is_entry();
    let place = matches!(kind, T::Organization | T::Location);
    match (name, modifier) {
        ("_count", None) => {
            let n: usize = value.parse().map_err(|_| {
                Problem::invalid(&format!(
                    "_count は 1〜{MAX_COUNT} の整数で指定してください / _count must be a whole number from 1 to {MAX_COUNT}"
                ))
            })?;
            if n == 0 {
                // No entries, only the number of matches (as `_summary=count`).
                s.count_only = true;
            } else {
                s.count = n.min(MAX_COUNT);
            }
        }
        ("_summary", None) => match value {
            "count" => s.count_only = true,
            "false" => {}
            // The other summaries (`true`, `text`, `data`) would leave elements out; this
            // server sends whole resources, and says so rather than send more than asked.
            other => {
                return Err(Problem::not_supported(&format!(
                    "_summary={other} には対応していません（count と false のみ） / _summary={other} is not supported (count and false only)"
                )))
            }
        },
        ("_total" | "_totalMethod", None) => match value {
            "none" => {}
            "estimate" | "accurate" | "count" => s.total = true,
            _ => {
                return Err(Problem::invalid(&format!(
                    "{name} は none, estimate, accurate のいずれかです / {name} must be none, estimate or accurate"
                )))
            }
        },
        ("_cursor", None) => s.cursor = Some(value.to_owned()),
        ("_format", None) => check_format(value)?,
        ("_id", None) => {
            let ids = values
                .iter()
                .map(|v| v.parse::<i64>().ok())
                .collect::<Option<Vec<_>>>()
                .unwrap_or_default();
            if kind == T::Provenance || kind == T::CodeSystem {
                // Handled by the caller from `used`.
                return Ok(true);
            }
            intersect_ids(&mut s.query.ids, ids);
        }
        ("_lastUpdated", None) if entry => {
            for v in values {
                s.query.updated.extend(time_bounds(v)?);
            }
        }
        ("name", None | Some("contains") | Some("exact"))
            if entry && kind != T::PractitionerRole =>
        {
            s.query.text.push(TextFilter {
                field: TextField::Name,
                mode: text_mode(modifier),
                values: values.to_vec(),
            });
        }
        ("address", None | Some("contains") | Some("exact")) if place => {
            s.query.text.push(TextFilter {
                field: TextField::Address,
                mode: text_mode(modifier),
                values: values.to_vec(),
            });
        }
        ("address-city" | "address-state", None | Some("contains") | Some("exact")) if place => {
            s.query.text.push(TextFilter {
                field: if name == "address-city" {
                    TextField::City
                } else {
                    TextField::State
                },
                mode: text_mode(modifier),
                values: values.to_vec(),
            });
        }
        ("address-country", None | Some("contains") | Some("exact")) if place => {
            // Every entry of the directory is in Japan.
            let japan = values.iter().any(|v| {
                let v = v.to_lowercase();
                v == "jp" || v == "jpn" || v == "japan" || v == "日本"
            });
            if !japan {
                intersect_ids(&mut s.query.ids, Vec::new());
            }
        }
        ("address-use", None) if place => {
            // Every address is the site's, `work`.
            if !values.iter().any(|v| token(v).1 == "work") {
                intersect_ids(&mut s.query.ids, Vec::new());
            }
        }
        ("partof", None) if place => {
            // The directory keeps no hierarchy of organizations or sites: nothing is part of
            // another, so a `partof` condition matches none.
            intersect_ids(&mut s.query.ids, Vec::new());
        }
        ("address-postalcode", None) if place => {
            let digits: Vec<String> = values
                .iter()
                .map(|v| {
                    renkei_domain::text::normalize(v)
                        .chars()
                        .filter(char::is_ascii_digit)
                        .collect()
                })
                .collect();
            s.query.postcode_prefixes = Some(digits);
        }
        ("type", None) if place => {
            let kinds = kinds_of(base, values);
            intersect(&mut s.query.kinds, kinds);
        }
        ("service-category", None) if kind == T::HealthcareService => {
            let kinds = kinds_of(base, values);
            intersect(&mut s.query.kinds, kinds);
        }
        ("service-type", None) if kind == T::HealthcareService => {
            let capability_system = base.code_system(CAPABILITY_CODES);
            let caps = values
                .iter()
                .filter_map(|v| {
                    let (system, code) = token(v);
                    (system.is_none_or(|s| s == capability_system))
                        .then(|| Capability::from_code(code))
                        .flatten()
                })
                .collect::<Vec<_>>();
            // Commas are OR within this list; a repeated parameter is another list, AND.
            s.query.capabilities.push(caps);
        }
        ("identifier", None) if place || kind == T::HealthcareService => {
            // Renkei's own id under the type's system; the 医療機関コード identifies the
            // institution, so only an Organization carries (and matches) it.
            let own = base.identifier_system(kind);
            let coded = kind == T::Organization;
            let mut ids = Vec::new();
            let mut codes = Vec::new();
            for v in values {
                match token(v) {
                    (Some(system), code) if coded && system == MEDICAL_CODE_SYSTEM => {
                        codes.push(code.to_owned())
                    }
                    (Some(system), code) if system == own => ids.extend(code.parse::<i64>().ok()),
                    (Some(_), _) => {}
                    (None, code)
                        if coded
                            && code.len() == 10
                            && code.chars().all(|c| c.is_ascii_digit()) =>
                    {
                        codes.push(code.to_owned())
                    }
                    (None, code) => ids.extend(code.parse::<i64>().ok()),
                }
            }
            if codes.is_empty() {
                intersect_ids(&mut s.query.ids, ids);
            } else if ids.is_empty() {
                s.query.medical_codes = Some(codes);
            } else {
                return Err(Problem::invalid(
                    "identifier には医療機関コードか Renkei の ID のどちらかを指定してください / give either 医療機関コード or Renkei ids in one identifier parameter",
                ));
            }
        }
        ("active", None) if entry => match value {
            "true" => {}
            "false" => intersect_ids(&mut s.query.ids, Vec::new()),
            _ => {
                return Err(Problem::invalid(
                    "active は true か false です / active must be true or false",
                ))
            }
        },
        ("status", None) if kind == T::Location => {
            if !values.iter().any(|v| v == "active") {
                intersect_ids(&mut s.query.ids, Vec::new());
            }
        }
        ("organization", None)
            if matches!(
                kind,
                T::Location | T::HealthcareService | T::PractitionerRole
            ) =>
        {
            intersect_ids(&mut s.query.ids, references(values, "Organization"));
        }
        ("location", None) if matches!(kind, T::HealthcareService | T::PractitionerRole) => {
            intersect_ids(&mut s.query.ids, references(values, "Location"));
        }
        ("service", None) if kind == T::PractitionerRole => {
            intersect_ids(&mut s.query.ids, references(values, "HealthcareService"));
        }
        ("target", None) if kind == T::Provenance => {
            let mut ids = Vec::new();
            for t in ["Organization", "Location", "HealthcareService"] {
                ids.extend(references(values, t));
            }
            ids.sort_unstable();
            ids.dedup();
            s.targets = Some(ids);
        }
        ("near", None) if kind == T::Location => {
            s.query.near = Some(near(value)?);
        }
        ("near-distance", None) if kind == T::Location => {
            // R4 4.0.0's separate radius (folded into `near` in 4.0.1), as mCSD's
            // LocationDistance option lists it; applied once every parameter is read.
            s.near_distance = Some(quantity_km(value)?);
        }
        ("_include", None) => {
            let include = match (kind, value) {
                (T::Location, "Location:organization") => Include::Organization,
                (T::HealthcareService, "HealthcareService:organization") => Include::Organization,
                (T::HealthcareService, "HealthcareService:location") => Include::Location,
                (T::PractitionerRole, "PractitionerRole:organization") => Include::Organization,
                (T::PractitionerRole, "PractitionerRole:location") => Include::Location,
                (T::PractitionerRole, "PractitionerRole:service") => Include::Service,
                _ => return Ok(false),
            };
            s.includes.push((include, value.to_owned()));
        }
        ("_revinclude", None) => {
            // The resources that refer to a match. Every resource of an entry shares its id,
            // so the Location of Organization/5 is Location/5, and so on.
            let include = match (kind, value) {
                (T::Organization, "Location:organization") => Include::Location,
                (T::Organization, "HealthcareService:organization") => Include::Service,
                (T::Organization, "PractitionerRole:organization") => Include::Role,
                (T::Location, "HealthcareService:location") => Include::Service,
                (T::Location, "PractitionerRole:location") => Include::Role,
                (T::HealthcareService, "PractitionerRole:service") => Include::Role,
                _ => return Ok(false),
            };
            s.includes.push((include, value.to_owned()));
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn text_mode(modifier: Option<&str>) -> TextMatch {
    match modifier {
        Some("contains") => TextMatch::Contains,
        Some("exact") => TextMatch::Exact,
        _ => TextMatch::StartsWith,
    }
}

/// `system|code` (that system), `|code` (no system: `Some("")`) or `code` (any system).
fn token(v: &str) -> (Option<&str>, &str) {
    match v.split_once('|') {
        // `|code`: an identifier or code with no system (R4 §3.1.1.4.10).
        Some(("", code)) => (Some(""), code),
        Some((system, code)) => (Some(system), code),
        None => (None, v),
    }
}

fn kinds_of(base: &Base, values: &[String]) -> Option<Vec<InstitutionKind>> {
    let kind_system = base.code_system(KIND_CODES);
    let mut kinds = Vec::new();
    for v in values {
        match token(v) {
            (Some("http://terminology.hl7.org/CodeSystem/organization-type"), "prov") => {
                return None
            }
            (system, code) if system.is_none_or(|s| s == kind_system) => {
                kinds.extend(InstitutionKind::from_code(code))
            }
            _ => {}
        }
    }
    Some(kinds)
}

fn intersect(slot: &mut Option<Vec<InstitutionKind>>, kinds: Option<Vec<InstitutionKind>>) {
    let Some(kinds) = kinds else { return };
    match slot {
        Some(existing) => existing.retain(|k| kinds.contains(k)),
        None => *slot = Some(kinds),
    }
}

fn intersect_ids(slot: &mut Option<Vec<i64>>, ids: Vec<i64>) {
    match slot {
        Some(existing) => existing.retain(|i| ids.contains(i)),
        None => *slot = Some(ids),
    }
}

/// Ids from references to `target`: `Type/12`, `12`, or an absolute URL ending so.
fn references(values: &[String], target: &str) -> Vec<i64> {
    values
        .iter()
        .filter_map(|v| {
            let mut parts = v.rsplit('/');
            let id = parts.next()?.parse::<i64>().ok()?;
            match parts.next() {
                None => Some(id),
                Some(t) if t == target => Some(id),
                Some(_) => None,
            }
        })
        .collect()
}

/// `near=lat|lng|distance|units` (units `km` or `m`; distance defaults to 5 km).
fn near(value: &str) -> Result<Near, Problem> {
    let bad = || {
        Problem::invalid(&format!(
            "near は「緯度|経度|距離|単位」で指定してください（例: 34.6269|135.6009|5|km、距離は{MAX_NEAR_KM} km まで） / near must be lat|lng|distance|units, e.g. 34.6269|135.6009|5|km, at most {MAX_NEAR_KM} km"
        ))
    };
    let parts: Vec<&str> = value.split('|').collect();
    if parts.len() < 2 || parts.len() > 4 {
        return Err(bad());
    }
    let lat: f64 = parts[0].trim().parse().map_err(|_| bad())?;
    let lng: f64 = parts[1].trim().parse().map_err(|_| bad())?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lng) {
        return Err(bad());
    }
    let distance = match parts.get(2).map(|d| d.trim()).filter(|d| !d.is_empty()) {
        Some(d) => d.parse::<f64>().map_err(|_| bad())?,
        None => DEFAULT_NEAR_KM,
    };
    let km = match parts.get(3).map(|u| u.trim()) {
        None | Some("") | Some("km") | Some("http://unitsofmeasure.org|km") => distance,
        Some("m") | Some("http://unitsofmeasure.org|m") => distance / 1000.0,
        Some(_) => return Err(bad()),
    };
    if !(km > 0.0 && km <= MAX_NEAR_KM) {
        return Err(bad());
    }
    Ok(Near { lat, lng, km })
}

/// A distance quantity of `near-distance` in km: `2`, `2km`, `500m`, `2||km` or
/// `2|http://unitsofmeasure.org|km` (units km or m; km when none).
fn quantity_km(value: &str) -> Result<f64, Problem> {
    let bad = || {
        Problem::invalid(&format!(
            "near-distance は「距離|http://unitsofmeasure.org|km」で指定してください（{MAX_NEAR_KM} km まで） / near-distance must be a distance such as 2|http://unitsofmeasure.org|km, at most {MAX_NEAR_KM} km"
        ))
    };
    let parts: Vec<&str> = value.split('|').map(str::trim).collect();
    let (number, unit) = match parts.as_slice() {
        [one] => {
            let split = one
                .find(|c: char| c.is_ascii_alphabetic())
                .unwrap_or(one.len());
            (&one[..split], &one[split..])
        }
        [number, "" | "http://unitsofmeasure.org", unit] => (*number, *unit),
        _ => return Err(bad()),
    };
    let distance: f64 = number.trim().parse().map_err(|_| bad())?;
    let km = match unit.trim() {
        "" | "km" => distance,
        "m" => distance / 1000.0,
        _ => return Err(bad()),
    };
    if !(km > 0.0 && km <= MAX_NEAR_KM) {
        return Err(bad());
    }
    Ok(km)
}

/// The time bounds of one `_lastUpdated` value: an optional prefix (eq, gt, lt, ge, le) and a
/// date or date-time of any precision, which stands for the whole range it names.
pub fn time_bounds(value: &str) -> Result<Vec<TimeBound>, Problem> {
    let (prefix, rest) = match value.get(..2) {
        Some(p @ ("eq" | "gt" | "lt" | "ge" | "le" | "ne" | "sa" | "eb" | "ap")) => {
            (p, &value[2..])
        }
        _ => ("eq", value),
    };
    let (lo, hi) = instant_range(rest).ok_or_else(|| {
        Problem::invalid(&format!(
            "日時「{rest}」を読めません。2026-04-01 や 2026-04-01T09:00:00+09:00 の形式で指定してください / cannot read the date \"{rest}\"; use 2026-04-01 or 2026-04-01T09:00:00+09:00"
        ))
    })?;
    let (lo_t, hi_t) = (lo, hi);
    let (lo, hi) = (renkei_store::time_text(lo), renkei_store::time_text(hi));
    Ok(match prefix {
        "eq" => vec![TimeBound::AtOrAfter(lo), TimeBound::Before(hi)],
        "ge" => vec![TimeBound::AtOrAfter(lo)],
        "gt" => vec![TimeBound::AtOrAfter(hi)],
        "lt" => vec![TimeBound::Before(lo)],
        "le" => vec![TimeBound::Before(hi)],
        // An update time is an instant: it starts after the range exactly when it is after
        // it, and ends before it exactly when it is before it.
        "sa" => vec![TimeBound::AtOrAfter(hi)],
        "eb" => vec![TimeBound::Before(lo)],
        "ne" => vec![TimeBound::Outside(lo, hi)],
        // Approximately: within a tenth of the gap between now and the value (R4 §3.1.1.4.7),
        // and at least the range the value names.
        _ => {
            let (from, to) = (lo_t, hi_t);
            let gap = (chrono::Utc::now() - from).abs() / 10;
            vec![
                TimeBound::AtOrAfter(renkei_store::time_text(from - gap)),
                TimeBound::Before(renkei_store::time_text(to + gap)),
            ]
        }
    })
}

/// The half-open UTC range `[lo, hi)` a FHIR date or dateTime names: `2026`, `2026-04`,
/// `2026-04-01` (days in JST, the users' day), or a full date-time with a time zone.
pub fn instant_range(
    text: &str,
) -> Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> {
    use chrono::{Duration, NaiveDate, TimeZone};
    // An unencoded 「+09:00」 in a query string arrives as 「 09:00」.
    let repaired;
    let text = if text.len() > 19 && text.as_bytes().get(text.len() - 6) == Some(&b' ') {
        repaired = format!("{}+{}", &text[..text.len() - 6], &text[text.len() - 5..]);
        repaired.as_str()
    } else {
        text
    };
    let jst = renkei_domain::japan::jst();
    let day = |d: NaiveDate| jst.from_local_datetime(&d.and_hms_opt(0, 0, 0)?).single();
    let utc = |t: chrono::DateTime<chrono::FixedOffset>| t.with_timezone(&chrono::Utc);
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        // The value's precision is its range: `…:15.734Z` is that millisecond (R4 §3.1.1.4.7),
        // though the stored time has microseconds.
        let digits = text
            .split_once('.')
            .map_or(0, |(_, f)| {
                f.chars().take_while(char::is_ascii_digit).count()
            })
            .min(6);
        let width = Duration::microseconds(10i64.pow(6 - digits as u32));
        return Some((utc(t), utc(t) + width));
    }
    match text.len() {
        4 => {
            let y: i32 = text.parse().ok()?;
            Some((
                utc(day(NaiveDate::from_ymd_opt(y, 1, 1)?)?),
                utc(day(NaiveDate::from_ymd_opt(y + 1, 1, 1)?)?),
            ))
        }
        7 => {
            let start = NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d").ok()?;
            let next = start.checked_add_months(chrono::Months::new(1))?;
            Some((utc(day(start)?), utc(day(next)?)))
        }
        10 => {
            let d = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
            Some((utc(day(d)?), utc(day(d.succ_opt()?)?)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_a_japanese_day_and_prefixes_bound_it() {
        let (lo, hi) = instant_range("2026-04-01").unwrap();
        assert_eq!(renkei_store::time_text(lo), "2026-03-31T15:00:00.000000Z");
        assert_eq!(renkei_store::time_text(hi), "2026-04-01T15:00:00.000000Z");
        assert!(instant_range("2026-02").is_some());
        assert_eq!(
            instant_range("2026-04-01T09:00:00 09:00"),
            instant_range("2026-04-01T09:00:00+09:00"),
            "an unencoded + arrives as a space"
        );
        assert!(instant_range("2026-13").is_none());
        assert!(instant_range("yesterday").is_none());
        let gt = time_bounds("gt2026-04-01").unwrap();
        assert_eq!(
            gt,
            vec![TimeBound::AtOrAfter("2026-04-01T15:00:00.000000Z".into())]
        );
        assert_eq!(
            time_bounds("ne2026").unwrap(),
            vec![TimeBound::Outside(
                "2025-12-31T15:00:00.000000Z".into(),
                "2026-12-31T15:00:00.000000Z".into()
            )]
        );
        assert_eq!(time_bounds("sa2026-04-01").unwrap(), gt);
        assert_eq!(
            time_bounds("eb2026-04-01").unwrap(),
            vec![TimeBound::Before("2026-03-31T15:00:00.000000Z".into())]
        );
        let ap = time_bounds("ap2026-04-01").unwrap();
        assert!(
            matches!(&ap[..], [TimeBound::AtOrAfter(a), TimeBound::Before(b)]
                if a.as_str() < "2026-03-31T15:00:00" && b.as_str() > "2026-04-01T15:00:00"),
            "{ap:?}"
        );
        let exact = time_bounds("2026-04-01T09:00:00+09:00").unwrap();
        assert_eq!(
            exact,
            vec![
                TimeBound::AtOrAfter("2026-04-01T00:00:00.000000Z".into()),
                TimeBound::Before("2026-04-01T00:00:01.000000Z".into())
            ]
        );
    }

    #[test]
    fn an_instant_stands_for_the_range_of_its_precision() {
        let (lo, hi) = instant_range("2026-04-01T09:00:00.734+09:00").unwrap();
        assert_eq!(renkei_store::time_text(lo), "2026-04-01T00:00:00.734000Z");
        assert_eq!(renkei_store::time_text(hi), "2026-04-01T00:00:00.735000Z");
        let (_, hi) = instant_range("2026-04-01T00:00:00.123456Z").unwrap();
        assert_eq!(renkei_store::time_text(hi), "2026-04-01T00:00:00.123457Z");
    }

    #[test]
    fn formats_are_negotiated() {
        assert_eq!(format_of("xml").unwrap(), Format::Xml);
        assert_eq!(format_of("application/fhir+xml").unwrap(), Format::Xml);
        assert_eq!(
            format_of("application/fhir+json; fhirVersion=4.0").unwrap(),
            Format::Json
        );
        assert!(format_of("html").is_err());
        assert_eq!(format_accepted("application/fhir+xml"), Format::Xml);
        assert_eq!(
            format_accepted("application/fhir+json, application/fhir+xml;q=0.9"),
            Format::Json
        );
        assert_eq!(
            format_accepted("application/fhir+json;q=0.5, application/xml"),
            Format::Xml
        );
        assert_eq!(
            format_accepted("text/html,application/xhtml+xml,*/*;q=0.8"),
            Format::Json
        );
        assert_eq!(
            format_accepted("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            Format::Json,
            "a browser reads JSON"
        );
        assert_eq!(format_accepted(""), Format::Json);
    }

    #[test]
    fn near_distance_reads_quantities() {
        for (text, km) in [
            ("2", 2.0),
            ("2km", 2.0),
            ("500m", 0.5),
            ("2||km", 2.0),
            ("3|http://unitsofmeasure.org|km", 3.0),
        ] {
            assert!((quantity_km(text).unwrap() - km).abs() < 1e-9, "{text}");
        }
        for bad in ["", "x", "2|mi", "2mi", "0", "80km", "2|http://x|km"] {
            assert!(quantity_km(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn near_takes_units_and_refuses_nonsense() {
        let n = near("34.6|135.6|500|m").unwrap();
        assert!((n.km - 0.5).abs() < 1e-9);
        assert_eq!(near("34.6|135.6").unwrap().km, DEFAULT_NEAR_KM);
        for bad in [
            "34.6",
            "x|135.6|1|km",
            "91|135|1|km",
            "34|135|0|km",
            "34|135|80|km",
            "34|135|1|mi",
        ] {
            assert!(near(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn references_accept_relative_absolute_and_bare_ids() {
        let v = vec![
            "Organization/3".to_owned(),
            "https://x.example/fhir/Organization/4".to_owned(),
            "5".to_owned(),
            "Location/6".to_owned(),
        ];
        assert_eq!(references(&v, "Organization"), vec![3, 4, 5]);
    }
}
