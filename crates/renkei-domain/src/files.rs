//! Uploaded files that are served back to other people: what makes one dangerous to open, and
//! the name it is offered under. Shared by the care team's attachments and the BCP registry.

/// Why a file that passed its type check must still be refused, if it must: an HTML page or
/// script hidden in it (a polyglot that a browser or a mail program might render), data after
/// a PNG's last chunk, or a PDF that would run code or other programs when opened (JavaScript,
/// launch actions, embedded files, rich media, XFA forms). Names in a PDF may be written with
/// `#xx` escapes (`/J#61vaScript`); they are decoded before the check. Dictionaries inside
/// compressed object streams are not seen: such files are still only offered for download.
pub fn active_content(bytes: &[u8]) -> Option<&'static str> {
    if contains_html(bytes) {
        return Some("ファイルの中に HTML やスクリプトが含まれています");
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") && data_after_png_end(bytes) {
        return Some("画像の後ろに別のデータが付いています");
    }
    if bytes.starts_with(b"%PDF-")
        || bytes[..bytes.len().min(1024)]
            .windows(5)
            .any(|w| w == b"%PDF-")
    {
        let names = pdf_names(bytes);
        for (name, why) in [
            ("/JavaScript", "PDF に JavaScript が含まれています"),
            ("/JS", "PDF に JavaScript が含まれています"),
            (
                "/Launch",
                "PDF に他のプログラムを起動する動作が含まれています",
            ),
            ("/EmbeddedFile", "PDF に別のファイルが埋め込まれています"),
            ("/RichMedia", "PDF に動画などの埋め込みが含まれています"),
            (
                "/XFA",
                "PDF に XFA フォーム（スクリプトを含みうる）が含まれています",
            ),
        ] {
            if names.iter().any(|n| n == name) {
                return Some(why);
            }
        }
    }
    None
}

fn contains_html(bytes: &[u8]) -> bool {
    const MARKERS: [&[u8]; 4] = [b"<script", b"<html", b"<iframe", b"<svg"];
    bytes.windows(7).any(|w| {
        let lower: Vec<u8> = w.iter().map(u8::to_ascii_lowercase).collect();
        MARKERS.iter().any(|m| lower.starts_with(m))
    })
}

/// Whether bytes follow a PNG's IEND chunk (its four-byte CRC after the type). A PNG cut
/// short (no IEND) has nothing after it.
fn data_after_png_end(bytes: &[u8]) -> bool {
    bytes
        .windows(4)
        .rposition(|w| w == b"IEND")
        .is_some_and(|at| bytes.len() > at + 4 + 4)
}

/// The PDF names (`/Name`) in the file, with `#xx` escapes decoded.
fn pdf_names(bytes: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'/' {
            i += 1;
            continue;
        }
        let mut name = vec![b'/'];
        i += 1;
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii_whitespace() || b"/[]<>(){}%".contains(&b) {
                break;
            }
            if b == b'#' && i + 2 < bytes.len() {
                if let Ok(v) =
                    u8::from_str_radix(&String::from_utf8_lossy(&bytes[i + 1..i + 3]), 16)
                {
                    name.push(v);
                    i += 3;
                    continue;
                }
            }
            name.push(b);
            i += 1;
        }
        if name.len() > 1 && name.len() < 64 {
            names.push(String::from_utf8_lossy(&name).into_owned());
        }
    }
    names
}

/// The name a file is offered under: the uploader's name without any path, control
/// characters or quotes, at most 100 characters, with the extension of what the file really is
/// (`extension`, without the dot) in place of whatever it claimed — so 「検査結果.html」 that
/// is a PDF downloads as 「検査結果.pdf」. `fallback` when nothing is left.
pub fn download_name(name: &str, extension: &str, fallback: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\'' | ';'))
        .take(100)
        .collect();
    let clean = clean.trim();
    let stem = match clean.rsplit_once('.') {
        Some((stem, _)) if !stem.trim().is_empty() => stem.trim(),
        _ => clean,
    };
    let stem = if stem.is_empty() { fallback } else { stem };
    format!("{stem}.{extension}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_take_the_real_type() {
        assert_eq!(
            download_name("検査結果.html", "pdf", "file"),
            "検査結果.pdf"
        );
        assert_eq!(download_name("../x/写真.PNG", "png", "file"), "写真.png");
        assert_eq!(download_name("\"a;b\".pdf", "pdf", "file"), "ab.pdf");
        assert_eq!(download_name("", "pdf", "BCP"), "BCP.pdf");
        assert_eq!(download_name("noext", "jpg", "f"), "noext.jpg");
    }

    #[test]
    fn active_content_is_found() {
        let plain = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";
        assert_eq!(active_content(plain), None);
        let js =
            b"%PDF-1.7\n1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>\n%%EOF";
        assert!(active_content(js).is_some());
        let escaped = b"%PDF-1.7\n1 0 obj << /S /J#61vaScript >>\n%%EOF";
        assert!(active_content(escaped).is_some());
        let polyglot = b"%PDF-1.4\n<html><body><script>alert(1)</script></body></html>\n%%EOF";
        assert!(active_content(polyglot).is_some());
        let mut png = b"\x89PNG\r\n\x1a\n....IEND\xaeB`\x82".to_vec();
        assert_eq!(active_content(&png), None);
        png.extend_from_slice(b"PK\x03\x04zip");
        assert!(active_content(&png).is_some());
    }
}
