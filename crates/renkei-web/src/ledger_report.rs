//! The prefecture report (資料2) written as a printable HTML document (A4 landscape, a page per
//! hub part, styles inline so the file stands alone) and as an Excel workbook (a sheet per hub,
//! laid out like the hubs' own table). Shared by the downloads and `renkei report`.

use askama::Template;
use renkei_domain::ledger::Section;
use renkei_domain::region::Duty;
use renkei_domain::report::{ActiveBody, Cell, HubReport, Report, ACTIVE_TITLE, MISSING};

#[derive(Template)]
#[template(path = "ledger_report.html")]
struct ReportDocument<'a> {
    report: &'a Report,
    /// The styles inlined (a downloaded file), or `None` to link them (a page of the site,
    /// whose Content-Security-Policy allows no inline styles).
    inline_css: Option<&'static str>,
    year: String,
    region: &'a str,
    generated: &'a str,
    active_title: &'static str,
}

/// The report's styles.
const CSS: &str = include_str!("../static/ledger-report.css");

/// The report as one HTML document that stands alone (styles inlined); `generated` is the 和暦
/// date shown at its foot.
pub fn report_html(report: &Report, generated: &str) -> Result<String, askama::Error> {
    document(report, generated, Some(CSS))
}

/// The report as a page of the site (styles linked from /static).
pub fn report_page(report: &Report, generated: &str) -> Result<String, askama::Error> {
    document(report, generated, None)
}

fn document(
    report: &Report,
    generated: &str,
    inline_css: Option<&'static str>,
) -> Result<String, askama::Error> {
    ReportDocument {
        report,
        inline_css,
        year: report.year.to_string(),
        region: &report.region_name,
        generated,
        active_title: ACTIVE_TITLE,
    }
    .render()
}

/// Characters of Japanese text per line in a duty column of the workbook.
const COLUMN_CHARS: f64 = 14.0;
/// Width of a duty column (Excel character units; a Japanese character takes about two).
const COLUMN_WIDTH: f64 = 30.0;

/// The report as an Excel workbook: one sheet per hub (named by its document number), A4
/// landscape, one page wide, wrapped text and row heights that fit the text; every printed
/// page is headed by the hub's 資料 number and name, and the active institutions' part starts
/// a page of its own.
pub fn report_xlsx(report: &Report) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook};
    let mut workbook = Workbook::new();
    let text = Format::new()
        .set_text_wrap()
        .set_align(FormatAlign::Top)
        .set_border(FormatBorder::Thin)
        .set_font_size(9);
    let head = text.clone().set_bold().set_background_color("#E8EEF7");
    let title = Format::new().set_bold().set_font_size(13);
    if report.hubs.is_empty() {
        let sheet = workbook.add_worksheet();
        sheet.set_name(report.year.to_string())?;
        sheet.write_string_with_format(
            0,
            0,
            format!("連携の拠点の取組について（{}）", report.year),
            &title,
        )?;
        sheet.write_string(2, 0, format!("{MISSING}：この年度の台帳はまだありません"))?;
    }
    for hub in &report.hubs {
        let sheet = workbook.add_worksheet();
        sheet.set_name(sheet_name(&hub.document))?;
        sheet.set_landscape();
        sheet.set_paper_size(9);
        sheet.set_print_fit_to_pages(1, 0);
        sheet.set_margins(0.4, 0.4, 0.6, 0.5, 0.25, 0.2);
        sheet.set_header(format!(
            "&L&9{}&R&9&P / &N",
            hub.running_title().replace('&', "&&")
        ));
        for c in 0..5u16 {
            sheet.set_column_width(c, COLUMN_WIDTH)?;
        }
        let mut row = 0u32;
        sheet.write_string_with_format(row, 0, "■ 連携の拠点の取組について", &title)?;
        sheet.write_string_with_format(row, 4, &hub.document, &title)?;
        row += 1;
        row = write_header(sheet, row, hub, &head, &text)?;
        for section in &hub.sections {
            if section.section == Section::Plan {
                sheet.merge_range(row, 0, row, 4, &hub.challenges_heading, &head)?;
                row += 1;
                let body = if hub.challenges.is_empty() {
                    MISSING.to_owned()
                } else {
                    hub.challenges.join("\n")
                };
                sheet.merge_range(row, 0, row, 4, &body, &text)?;
                sheet.set_row_height(row, height_of(&body, COLUMN_CHARS * 5.0))?;
                row += 1;
            }
            sheet.merge_range(row, 0, row, 4, &section.heading, &head)?;
            row += 1;
            for (c, (duty, _)) in section.cells.iter().enumerate() {
                sheet.write_string_with_format(row, c as u16, duty_title(*duty), &head)?;
            }
            row += 1;
            let mut tallest = 15.0f64;
            for (c, (_, cell)) in section.cells.iter().enumerate() {
                let body = cell_text(cell);
                tallest = tallest.max(height_of(&body, COLUMN_CHARS));
                sheet.write_string_with_format(row, c as u16, &body, &text)?;
            }
            sheet.set_row_height(row, tallest)?;
            row += 1;
        }
        if let Some(active) = &hub.active {
            sheet.set_page_breaks(&[row])?;
            sheet.write_string_with_format(row, 0, ACTIVE_TITLE, &title)?;
            row += 1;
            row = write_header(sheet, row, hub, &head, &text)?;
            for part in &active.parts {
                let (label, body) = match &part.body {
                    ActiveBody::Bullets(lines) => {
                        let label = match &part.subheading {
                            Some(sub) => format!("{}\n{sub}", part.heading),
                            None => part.heading.clone(),
                        };
                        (label, bulleted(lines))
                    }
                    ActiveBody::Coverage { lines, source } => {
                        let mut body: Vec<String> = part.subheading.iter().cloned().collect();
                        body.extend(lines.iter().cloned());
                        body.push(source.clone());
                        (part.heading.clone(), body.join("\n"))
                    }
                };
                sheet.write_string_with_format(row, 0, &label, &head)?;
                sheet.merge_range(row, 1, row, 4, &body, &text)?;
                sheet.set_row_height(
                    row,
                    height_of(&body, COLUMN_CHARS * 4.0).max(height_of(&label, COLUMN_CHARS)),
                )?;
                row += 1;
            }
            if let Some(note) = &active.footnote {
                let note = format!("※ {note}");
                sheet.merge_range(row, 0, row, 4, &note, &text)?;
                sheet.set_row_height(row, height_of(&note, COLUMN_CHARS * 5.0))?;
            }
        }
    }
    workbook.save_to_buffer()
}

fn write_header(
    sheet: &mut rust_xlsxwriter::Worksheet,
    row: u32,
    hub: &HubReport,
    head: &rust_xlsxwriter::Format,
    text: &rust_xlsxwriter::Format,
) -> Result<u32, rust_xlsxwriter::XlsxError> {
    sheet.write_string_with_format(row, 0, "対象地域", head)?;
    sheet.merge_range(row, 1, row, 4, &hub.area_label, text)?;
    sheet.write_string_with_format(row + 1, 0, "実施主体：連携の拠点", head)?;
    sheet.merge_range(row + 1, 1, row + 1, 4, &hub.hub, text)?;
    sheet.write_string_with_format(row + 2, 0, "市町村医介連携事業（委託先）", head)?;
    sheet.merge_range(row + 2, 1, row + 2, 4, &hub.contractor, text)?;
    Ok(row + 3)
}

fn duty_title(duty: Duty) -> String {
    format!("{}{}", duty.circled(), duty.label_ja())
}

/// A duty cell's text: its lines as bullets, 「②・③なし」, nothing, or 「未入力」.
fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Lines(lines) => bulleted(lines),
        Cell::Nothing(marker) => format!("{marker}なし"),
        Cell::Blank => String::new(),
        Cell::Missing => MISSING.to_owned(),
    }
}

fn bulleted(lines: &[String]) -> String {
    if lines.is_empty() {
        return MISSING.to_owned();
    }
    lines
        .iter()
        .map(|l| format!("・{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A row height (points) that shows all of the text wrapped at `chars` full-width characters.
fn height_of(text: &str, chars: f64) -> f64 {
    let lines: f64 = text
        .lines()
        .map(|line| {
            let width: f64 = line
                .chars()
                .map(|c| if c.is_ascii() { 0.5 } else { 1.0 })
                .sum();
            (width / chars).ceil().max(1.0)
        })
        .sum();
    (lines.max(1.0) * 12.0 + 4.0).min(409.0)
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(document: &str) -> String {
    document
        .chars()
        .filter(|c| !"[]:*?/\\".contains(*c))
        .take(31)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_tall_enough_for_wrapped_japanese() {
        assert_eq!(height_of("", 22.0), 16.0);
        assert_eq!(height_of(&"あ".repeat(22), 22.0), 16.0);
        assert_eq!(height_of(&"あ".repeat(23), 22.0), 28.0);
        assert_eq!(height_of(&"a".repeat(44), 22.0), 16.0);
        assert_eq!(height_of("一\n二\n三", 22.0), 40.0);
        assert_eq!(height_of(&"あ\n".repeat(100), 22.0), 409.0, "Excel's limit");
        assert_eq!(sheet_name("資料2-1"), "資料2-1");
        assert_eq!(sheet_name("a/b:c"), "abc");
    }
}
