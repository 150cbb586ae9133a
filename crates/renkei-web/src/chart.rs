//! Charts drawn on the server as SVG (no script, readable by screen readers through their title
//! and text): the six roles' coverage of each area, so the prefecture sees where the gaps are;
//! a safety check's response-rate curve with its reminders.

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

/// A safety check's response curve: the share of targets that had answered (0–100 %) against
/// minutes since the check was sent, as steps, with a dashed line at each reminder. `answers` are
/// the minutes of each first answer in order; `span` the minutes shown; `axis` the time axis's
/// labels for whole hours and for minutes, with `{n}` in place of the number (「{n}時間」「{n}分」).
pub fn response_curve_svg(
    answers: &[f64],
    targets: usize,
    reminders: &[(f64, String)],
    span: f64,
    title: &str,
    axis: (&str, &str),
) -> String {
    const W: f64 = 720.0;
    const H: f64 = 260.0;
    const LEFT: f64 = 44.0;
    const BOTTOM: f64 = 30.0;
    const TOP: f64 = 12.0;
    let span = span.max(1.0);
    let plot_w = W - LEFT - 12.0;
    let plot_h = H - TOP - BOTTOM;
    let x = |m: f64| LEFT + (m.clamp(0.0, span) / span) * plot_w;
    let y = |pct: f64| TOP + plot_h - pct / 100.0 * plot_h;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" role="img" aria-labelledby="curve-title" class="response-curve" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(svg, r#"<title id="curve-title">{}</title>"#, escape(title));
    for pct in [0.0, 25.0, 50.0, 75.0, 100.0] {
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#ddd"/><text x="{2:.1}" y="{3:.1}" text-anchor="end">{pct:.0}%</text>"##,
            y(pct),
            LEFT + plot_w,
            LEFT - 4.0,
            y(pct) + 4.0
        );
    }
    let step = [5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 240.0, 720.0, 1440.0]
        .into_iter()
        .find(|s| span / s <= 8.0)
        .unwrap_or(2880.0);
    let mut m = 0.0;
    while m <= span + 0.01 {
        let label = if m >= 60.0 && m % 60.0 == 0.0 {
            axis.0.replace("{n}", &format!("{:.0}", m / 60.0))
        } else {
            axis.1.replace("{n}", &format!("{m:.0}"))
        };
        let label = escape(&label);
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#,
            x(m),
            H - 10.0
        );
        m += step;
    }
    for (minute, label) in reminders {
        let _ = write!(
            svg,
            r##"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{1:.1}" stroke="#e0a100" stroke-dasharray="4 3"/><text x="{2:.1}" y="{3:.1}" fill="#8a6100">{4}</text>"##,
            x(*minute),
            TOP + plot_h,
            x(*minute) + 3.0,
            TOP + 10.0,
            escape(label)
        );
    }
    let total = targets.max(1) as f64;
    let mut points = format!("{:.1},{:.1}", x(0.0), y(0.0));
    for (i, minute) in answers.iter().enumerate() {
        let before = i as f64 / total * 100.0;
        let after = (i + 1) as f64 / total * 100.0;
        let _ = write!(
            points,
            " {0:.1},{1:.1} {0:.1},{2:.1}",
            x(*minute),
            y(before),
            y(after)
        );
    }
    let last = answers.len() as f64 / total * 100.0;
    let _ = write!(points, " {:.1},{:.1}", x(span), y(last));
    let _ = write!(
        svg,
        r##"<polyline points="{points}" fill="none" stroke="#0b5e7a" stroke-width="2"/><line x1="{LEFT}" y1="{0:.1}" x2="{LEFT}" y2="{1:.1}" stroke="#555"/><line x1="{LEFT}" y1="{1:.1}" x2="{2:.1}" y2="{1:.1}" stroke="#555"/>"##,
        TOP,
        TOP + plot_h,
        LEFT + plot_w
    );
    svg.push_str("</svg>");
    svg
}

/// A small line chart of one measurement over time (a patient's SpO2, temperature …): the
/// values in order with their labels, the y axis from `low` to `high`, the last value written
/// large. `id` makes the title's id unique on the page.
pub fn sparkline_svg(
    id: &str,
    title: &str,
    unit: &str,
    values: &[(String, f64)],
    (low, high): (f64, f64),
) -> String {
    const W: f64 = 300.0;
    const H: f64 = 90.0;
    const PAD: f64 = 8.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" role="img" aria-labelledby="{id}-title" class="sparkline" font-family="sans-serif" font-size="11" data-testid="chart-{id}">"#
    );
    let last = values
        .last()
        .map(|(_, v)| format!("{v}{unit}"))
        .unwrap_or_else(|| "—".into());
    let _ = write!(
        svg,
        r#"<title id="{id}-title">{}: {}</title>"#,
        escape(title),
        escape(&last)
    );
    let _ = write!(
        svg,
        r##"<text x="{PAD}" y="14" fill="#5b6670">{}</text><text x="{}" y="16" text-anchor="end" font-size="15" font-weight="700">{}</text>"##,
        escape(title),
        W - PAD,
        escape(&last)
    );
    let span = (high - low).max(1e-9);
    let n = values.len();
    let x = |i: usize| {
        if n <= 1 {
            W / 2.0
        } else {
            PAD + (W - 2.0 * PAD) * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| H - PAD - (H - 30.0 - PAD) * ((v.clamp(low, high) - low) / span);
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, (_, v))| format!("{:.1},{:.1}", x(i), y(*v)))
        .collect();
    if n > 1 {
        let _ = write!(
            svg,
            r##"<polyline fill="none" stroke="#0b5e7a" stroke-width="2" points="{}"/>"##,
            points.join(" ")
        );
    }
    for (i, (label, v)) in values.iter().enumerate() {
        let _ = write!(
            svg,
            r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="#0b5e7a"><title>{}: {v}{}</title></circle>"##,
            x(i),
            y(*v),
            escape(label),
            escape(unit)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A horizontal bar chart of counts: one labelled bar per row, the count at its end, the
/// longest bar the largest count. `id` keys the title for screen readers.
pub fn count_bars_svg(id: &str, title: &str, rows: &[(String, usize)]) -> String {
    const LABEL_W: f64 = 210.0;
    const BAR_W: f64 = 480.0;
    let height = HEADING + ROW * rows.len().max(1) as f64 + 8.0;
    let most = rows.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.1}" width="100%" role="img" aria-labelledby="{id}-title" class="count-chart" data-testid="chart-{id}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        svg,
        r#"<title id="{id}-title">{}</title><text x="0" y="16" font-weight="bold" font-size="13">{}</text>"#,
        escape(title),
        escape(title)
    );
    for (i, (label, n)) in rows.iter().enumerate() {
        let y = HEADING + i as f64 * ROW;
        let w = BAR_W * (*n as f64) / most;
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect x="{LABEL_W}" y="{:.1}" width="{w:.1}" height="14" fill="#0b5394"/><text x="{:.1}" y="{:.1}">{n}</text>"##,
            LABEL_W - 8.0,
            y + 13.0,
            escape(label),
            y + 2.0,
            LABEL_W + w + 6.0,
            y + 13.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A column chart of counts by period (months of a fiscal year): one column each, its count
/// above it, its label below.
pub fn count_columns_svg(id: &str, title: &str, columns: &[(String, usize)]) -> String {
    const TOP: f64 = 40.0;
    const PLOT: f64 = 160.0;
    let height = TOP + PLOT + 30.0;
    let most = columns.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1) as f64;
    let slot = (WIDTH - 20.0) / columns.len().max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.1}" width="100%" role="img" aria-labelledby="{id}-title" class="count-chart" data-testid="chart-{id}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        svg,
        r#"<title id="{id}-title">{}</title><text x="0" y="16" font-weight="bold" font-size="13">{}</text>"#,
        escape(title),
        escape(title)
    );
    let _ = write!(
        svg,
        r##"<line x1="10" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999"/>"##,
        TOP + PLOT,
        WIDTH - 10.0,
        TOP + PLOT
    );
    for (i, (label, n)) in columns.iter().enumerate() {
        let h = PLOT * (*n as f64) / most;
        let x = 10.0 + i as f64 * slot + slot * 0.15;
        let w = slot * 0.7;
        let _ = write!(
            svg,
            r##"<rect x="{x:.1}" y="{:.1}" width="{w:.1}" height="{h:.1}" fill="#0b5394"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{n}</text><text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + PLOT - h,
            x + w / 2.0,
            TOP + PLOT - h - 4.0,
            x + w / 2.0,
            TOP + PLOT + 18.0,
            escape(label)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_area_shows_available_of_active_with_the_gaps_marked() {
        let west = RoleCoverage {
            institutions: 7,
            answered: 7,
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

    #[test]
    fn a_sparkline_marks_every_value_and_names_the_last() {
        let svg = super::sparkline_svg(
            "spo2",
            "SpO2",
            "%",
            &[("12/1".into(), 95.0), ("12/2".into(), 91.0)],
            (80.0, 100.0),
        );
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("<polyline"));
        assert!(svg.contains("SpO2: 91%"));
        let one = super::sparkline_svg("t", "<体温>", "℃", &[("x".into(), 36.8)], (35.0, 40.0));
        assert!(!one.contains("<polyline") && one.contains("&lt;体温&gt;"));
    }

    #[test]
    fn count_charts_scale_to_the_largest_and_escape_labels() {
        let bars = count_bars_svg(
            "t",
            "内容別",
            &[("<訪問診療>".to_owned(), 4), ("費用".to_owned(), 2)],
        );
        assert!(bars.contains("&lt;訪問診療&gt;") && !bars.contains("<訪問診療>"));
        assert!(bars.contains(r#"width="480.0""#) && bars.contains(r#"width="240.0""#));
        assert!(bars.contains("data-testid=\"chart-t\""));
        let columns =
            count_columns_svg("m", "月別", &[("4月".to_owned(), 0), ("5月".to_owned(), 3)]);
        assert!(columns.contains(r#"height="160.0""#) && columns.contains(r#"height="0.0""#));
        // Nothing counted yet: no division by zero, empty bars.
        assert!(count_bars_svg("e", "空", &[]).ends_with("</svg>"));
    }
}
