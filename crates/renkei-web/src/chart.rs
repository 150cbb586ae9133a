//! Charts drawn on the server as SVG (no script, readable by screen readers through their title
//! and text): the six roles' coverage of each area, so the prefecture sees where the gaps are.

use renkei_domain::ledger::RoleCoverage;
use renkei_domain::region::Role;
use std::fmt::Write;

const WIDTH: f64 = 760.0;
const LABEL: f64 = 150.0;
const BAR: f64 = 430.0;
const ROW: f64 = 20.0;
const HEADING: f64 = 26.0;

/// A horizontal bar chart: for each role ①〜⑥, one bar per area with 「現状対応可 / 積極的医療機関」
/// (「2/7」) and the share. `areas` are (name, coverage) in report order.
pub fn role_coverage_svg(areas: &[(String, RoleCoverage)], title: &str) -> String {
    let block = HEADING + ROW * areas.len() as f64 + 8.0;
    let height = block * Role::ALL.len() as f64 + 10.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-labelledby="coverage-title" class="coverage-chart" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        svg,
        r#"<title id="coverage-title">{}</title>"#,
        escape(title)
    );
    for (r, role) in Role::ALL.iter().enumerate() {
        let top = r as f64 * block + 4.0;
        let _ = write!(
            svg,
            r#"<text x="0" y="{:.1}" font-weight="bold" font-size="13">{}{}</text>"#,
            top + 16.0,
            role.circled(),
            escape(role.short_ja())
        );
        for (a, (name, coverage)) in areas.iter().enumerate() {
            let y = top + HEADING + a as f64 * ROW;
            let available = coverage.available[usize::from(role.number()) - 1];
            let of = coverage.institutions;
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                LABEL - 8.0,
                y + 13.0,
                escape(name)
            );
            let _ = write!(
                svg,
                r##"<rect x="{LABEL}" y="{:.1}" width="{BAR}" height="14" fill="#e5e9f0"/>"##,
                y + 2.0
            );
            let (label, share) = if of == 0 {
                ("積極的医療機関なし".to_owned(), 0.0)
            } else {
                let share = available as f64 / of as f64;
                (format!("{available}/{of}（{:.0}%）", share * 100.0), share)
            };
            if share > 0.0 {
                let colour = if share < 0.5 { "#c05621" } else { "#2b6cb0" };
                let _ = write!(
                    svg,
                    r#"<rect x="{LABEL}" y="{:.1}" width="{:.1}" height="14" fill="{colour}"><title>{} {}: {}</title></rect>"#,
                    y + 2.0,
                    BAR * share,
                    escape(name),
                    escape(role.short_ja()),
                    escape(&label)
                );
            }
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" data-area-role="{}">{}</text>"#,
                LABEL + BAR + 8.0,
                y + 13.0,
                role.number(),
                escape(&label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
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
    fn each_area_shows_available_of_active_with_the_gaps_marked() {
        let west = RoleCoverage {
            institutions: 7,
            available: [5, 6, 5, 2, 7, 1],
            planned: [0; 6],
        };
        let none = RoleCoverage::default();
        let svg = role_coverage_svg(
            &[("西<地区>".to_owned(), west), ("柏原市".to_owned(), none)],
            "対応状況",
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("2/7（29%）"), "災害時計画 of 西");
        assert!(svg.contains("7/7（100%）"));
        assert!(svg.contains("積極的医療機関なし"));
        assert!(svg.contains("西&lt;地区&gt;") && !svg.contains("西<地区>"));
        assert_eq!(
            svg.matches("#c05621").count(),
            2,
            "④ 2/7 and ⑥ 1/7 are gaps"
        );
    }
}
