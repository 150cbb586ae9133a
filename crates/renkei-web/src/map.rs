//! A map drawn on the server as SVG: municipal outlines and numbered markers. It needs no
//! JavaScript, no tile server and no network, so it shows in a disaster, on any phone, and in
//! print; the interactive tile map builds on top of it.

use renkei_domain::institution::InstitutionKind;
use std::fmt::Write;
use std::sync::OnceLock;

/// The embedded municipal outlines (国土数値情報, simplified; see `data/README.md`).
const BOUNDARIES: &str = include_str!("../../../data/boundaries.geojson");

/// One outline: a name and a ring of (lng, lat).
#[derive(Debug, Clone)]
pub struct Outline {
    /// Municipality name.
    pub name: String,
    /// Closed ring, longitude first.
    pub ring: Vec<(f64, f64)>,
}

/// The outlines of the region's municipalities, parsed once.
pub fn outlines() -> &'static [Outline] {
    static OUTLINES: OnceLock<Vec<Outline>> = OnceLock::new();
    OUTLINES.get_or_init(|| parse_outlines(BOUNDARIES))
}

fn parse_outlines(text: &str) -> Vec<Outline> {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let features = json["features"].as_array().cloned().unwrap_or_default();
    features
        .iter()
        .filter_map(|f| {
            let ring = f["geometry"]["coordinates"][0].as_array()?;
            let points = ring
                .iter()
                .filter_map(|p| Some((p[0].as_f64()?, p[1].as_f64()?)))
                .collect::<Vec<_>>();
            Some(Outline {
                name: f["properties"]["N03_004"].as_str().unwrap_or("").to_owned(),
                ring: points,
            })
        })
        .collect()
}

/// A marker.
#[derive(Debug, Clone)]
pub struct Marker {
    /// The number shown, matching the list.
    pub number: i64,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lng: f64,
    /// Kind, for the colour.
    pub kind: InstitutionKind,
    /// Active institutions are drawn larger.
    pub active: bool,
    /// Tooltip (the name).
    pub label: String,
    /// Link.
    pub href: String,
    /// A colour that says more than the kind (a safety check's state); the kind's otherwise.
    pub colour: Option<&'static str>,
}

/// The colour of a kind (also used in the legend).
pub fn kind_colour(kind: InstitutionKind) -> &'static str {
    match kind {
        InstitutionKind::Hospital => "#c0392b",
        InstitutionKind::Clinic => "#0b5e7a",
        InstitutionKind::DentalClinic => "#7d5ba6",
        InstitutionKind::Pharmacy => "#2e8b57",
        InstitutionKind::VisitingNurseStation => "#d35400",
        InstitutionKind::CareSupportOffice => "#8a6d3b",
        InstitutionKind::CommunityCareCenter => "#b03a82",
        InstitutionKind::DisabilityWelfareService => "#4a6fa5",
        InstitutionKind::Other => "#555555",
    }
}

/// Sizes of a drawn map.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MapStyle {
    /// Width of the drawing in SVG units.
    pub width: f64,
    /// Marker radius of ordinary entries.
    pub radius: f64,
    /// Marker radius of active institutions.
    pub active_radius: f64,
}

impl MapStyle {
    /// On screen: large markers that a finger can hit.
    pub const SCREEN: MapStyle = MapStyle {
        width: 640.0,
        radius: 12.0,
        active_radius: 14.0,
    };
    /// On A4 paper: a wider drawing with small markers, so a whole area's numbers can be read.
    pub const PRINT: MapStyle = MapStyle {
        width: 1000.0,
        radius: 7.5,
        active_radius: 9.0,
    };
}

/// Draws the outlines and markers; the view fits the markers (or the outlines when there are no
/// markers). `title` is the accessible name of the map.
pub fn render(title: &str, outlines: &[Outline], markers: &[Marker]) -> String {
    render_styled(title, outlines, markers, MapStyle::SCREEN)
}

/// [`render`] with the given sizes.
pub fn render_styled(
    title: &str,
    outlines: &[Outline],
    markers: &[Marker],
    style: MapStyle,
) -> String {
    const WIDTH_MIN: f64 = 120.0;
    let width = style.width;
    // Fit the markers (with a margin, and never closer than about 2 km) so they can be told
    // apart on a phone; without markers, fit the outlines. Outlines outside the view are clipped.
    let points: Vec<(f64, f64)> = if markers.is_empty() {
        outlines
            .iter()
            .flat_map(|o| o.ring.iter().copied())
            .collect()
    } else {
        markers.iter().map(|m| (m.lng, m.lat)).collect()
    };
    if points.is_empty() {
        return String::new();
    }
    let fit = if markers.is_empty() {
        (0.0, 0.0)
    } else {
        (0.025, 0.02)
    };
    let (min_lng, max_lng) = widen(bounds(points.iter().map(|p| p.0)), fit.0);
    let (min_lat, max_lat) = widen(bounds(points.iter().map(|p| p.1)), fit.1);
    // Equirectangular with the longitude shrunk by cos(latitude): true enough for a few cities.
    let mid_lat = ((min_lat + max_lat) / 2.0).to_radians();
    let span_x = ((max_lng - min_lng) * mid_lat.cos()).max(1e-6);
    let span_y = (max_lat - min_lat).max(1e-6);
    let scale = (width - 20.0) / span_x;
    let height = (span_y * scale + 20.0).clamp(WIDTH_MIN, width * 1.4);
    let project = |lng: f64, lat: f64| {
        (
            10.0 + (lng - min_lng) * mid_lat.cos() * scale,
            10.0 + (max_lat - lat) * scale,
        )
    };
    let mut svg = format!(
        "<svg class=\"map\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        escape(title)
    );
    for outline in outlines {
        let path: Vec<String> = outline
            .ring
            .iter()
            .map(|(lng, lat)| {
                let (x, y) = project(*lng, *lat);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let _ = write!(
            svg,
            "<polygon class=\"outline\" points=\"{}\"><title>{}</title></polygon>",
            path.join(" "),
            escape(&outline.name)
        );
        if let Some((x, y)) = centroid(&outline.ring).map(|(lng, lat)| project(lng, lat)) {
            let _ = write!(
                svg,
                "<text class=\"outline-name\" x=\"{x:.1}\" y=\"{y:.1}\">{}</text>",
                escape(&outline.name)
            );
        }
    }
    for m in markers {
        let (x, y) = project(m.lng, m.lat);
        let r = if m.active {
            style.active_radius
        } else {
            style.radius
        };
        let _ = write!(
            svg,
            "<a href=\"{}\"><title>{}. {}</title><circle class=\"marker\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r}\" fill=\"{}\"/><text class=\"marker-no\" x=\"{x:.1}\" y=\"{:.1}\" font-size=\"{:.1}\">{}</text></a>",
            escape(&m.href),
            m.number,
            escape(&m.label),
            m.colour.unwrap_or_else(|| kind_colour(m.kind)),
            y + r * 0.37,
            r * 1.05,
            m.number
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The range grown by 15 % on each side and to at least `min_span` (unchanged for 0).
fn widen((lo, hi): (f64, f64), min_span: f64) -> (f64, f64) {
    if min_span == 0.0 {
        return (lo, hi);
    }
    let margin = ((hi - lo) * 0.15).max((min_span - (hi - lo)).max(0.0) / 2.0);
    (lo - margin, hi + margin)
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

fn centroid(ring: &[(f64, f64)]) -> Option<(f64, f64)> {
    if ring.is_empty() {
        return None;
    }
    let n = ring.len() as f64;
    Some((
        ring.iter().map(|p| p.0).sum::<f64>() / n,
        ring.iter().map(|p| p.1).sum::<f64>() / n,
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_cities_are_outlined_and_markers_link_to_their_pages() {
        let outlines = outlines();
        let names: Vec<&str> = outlines.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["八尾市", "柏原市", "東大阪市"]);
        let marker = Marker {
            number: 1,
            lat: 34.62,
            lng: 135.60,
            kind: InstitutionKind::Clinic,
            active: true,
            label: "<script>".into(),
            href: "/institutions/1".into(),
            colour: None,
        };
        let svg = render("地図", outlines, &[marker]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<polygon").count(), 3);
        assert!(svg.contains("href=\"/institutions/1\"") && svg.contains("&lt;script&gt;"));
        assert!(!svg.contains("<script>"), "labels are escaped");
        assert_eq!(render("空", &[], &[]), "");
    }

    #[test]
    fn the_stylesheet_colours_each_kind_as_the_map_does() {
        let css = include_str!("../static/app.css");
        for kind in InstitutionKind::ALL {
            let rule = format!(
                ".kind-{} {{ background: {}; }}",
                kind.code(),
                kind_colour(kind)
            );
            assert!(css.contains(&rule), "app.css lacks {rule}");
        }
    }
}
