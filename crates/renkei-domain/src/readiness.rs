//! Disaster readiness an institution declares in its entry: emergency power (非常用電源) and its
//! business-continuity plan (BCP). The 中河内 report names both as things "nobody can see".

use serde::{Deserialize, Serialize};

/// The kind of emergency power an institution has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerKind {
    /// Not reported (未回答).
    #[default]
    Unknown,
    /// None (なし).
    None,
    /// A generator (発電機).
    Generator,
    /// Batteries or an uninterruptible supply (蓄電池・UPS).
    Battery,
    /// Both a generator and batteries.
    GeneratorAndBattery,
}

impl PowerKind {
    /// All kinds, in form order.
    pub const ALL: [PowerKind; 5] = [
        PowerKind::Unknown,
        PowerKind::None,
        PowerKind::Generator,
        PowerKind::Battery,
        PowerKind::GeneratorAndBattery,
    ];

    /// Code stored in the database.
    pub fn code(self) -> &'static str {
        match self {
            PowerKind::Unknown => "unknown",
            PowerKind::None => "none",
            PowerKind::Generator => "generator",
            PowerKind::Battery => "battery",
            PowerKind::GeneratorAndBattery => "generator_and_battery",
        }
    }

    /// Parses a code or a Japanese label (as a spreadsheet holds it).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() {
            return Some(PowerKind::Unknown);
        }
        Self::ALL
            .into_iter()
            .find(|k| k.code() == text || k.label_ja() == text)
    }

    /// Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            PowerKind::Unknown => "未回答",
            PowerKind::None => "なし",
            PowerKind::Generator => "発電機",
            PowerKind::Battery => "蓄電池・UPS",
            PowerKind::GeneratorAndBattery => "発電機と蓄電池",
        }
    }

    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            PowerKind::Unknown => "Not reported",
            PowerKind::None => "None",
            PowerKind::Generator => "Generator",
            PowerKind::Battery => "Battery / UPS",
            PowerKind::GeneratorAndBattery => "Generator and battery",
        }
    }
}

/// An institution's emergency power.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EmergencyPower {
    /// What it has.
    pub kind: PowerKind,
    /// Capacity as the institution describes it (「5kVA・72時間」).
    #[serde(default)]
    pub capacity: Option<String>,
    /// Whether it can lend power or equipment to patients (在宅の人工呼吸器等への貸出).
    #[serde(default)]
    pub lendable: bool,
}

/// Where an institution stands with its business-continuity plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BcpStatus {
    /// Not reported (未回答).
    #[default]
    Unknown,
    /// No plan (未策定).
    None,
    /// Being written (策定中).
    Drafting,
    /// In place (策定済).
    Done,
}

impl BcpStatus {
    /// All statuses, in form order.
    pub const ALL: [BcpStatus; 4] = [
        BcpStatus::Unknown,
        BcpStatus::None,
        BcpStatus::Drafting,
        BcpStatus::Done,
    ];

    /// Code stored in the database.
    pub fn code(self) -> &'static str {
        match self {
            BcpStatus::Unknown => "unknown",
            BcpStatus::None => "none",
            BcpStatus::Drafting => "drafting",
            BcpStatus::Done => "done",
        }
    }

    /// Parses a code or a Japanese label.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() {
            return Some(BcpStatus::Unknown);
        }
        Self::ALL
            .into_iter()
            .find(|s| s.code() == text || s.label_ja() == text)
    }

    /// Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            BcpStatus::Unknown => "未回答",
            BcpStatus::None => "未策定",
            BcpStatus::Drafting => "策定中",
            BcpStatus::Done => "策定済",
        }
    }

    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            BcpStatus::Unknown => "Not reported",
            BcpStatus::None => "No plan",
            BcpStatus::Drafting => "Being written",
            BcpStatus::Done => "In place",
        }
    }
}

/// The largest BCP document accepted (a scanned plan of a hundred pages fits).
pub const MAX_BCP_BYTES: usize = 20 * 1024 * 1024;

/// Checks that an uploaded BCP document is a PDF by its content, not its name: it must start
/// with the `%PDF-` header and carry an `%%EOF` marker near its end (a truncated upload has
/// none), and fit in `MAX_BCP_BYTES`.
pub fn check_bcp_document(bytes: &[u8]) -> Result<(), String> {
    if bytes.is_empty() {
        return Err("ファイルが選ばれていないか、空のファイルです".into());
    }
    if bytes.len() > MAX_BCP_BYTES {
        return Err(format!(
            "ファイルが大きすぎます（{} MB まで）",
            MAX_BCP_BYTES / 1024 / 1024
        ));
    }
    // PDF readers accept the header within the first kilobyte.
    let head = &bytes[..bytes.len().min(1024)];
    if !head.windows(5).any(|w| w == b"%PDF-") {
        return Err("PDF ファイルではありません。BCP を PDF で保存してから選んでください".into());
    }
    if !ends_like_pdf(bytes) {
        return Err("PDF ファイルが途中で切れています。もう一度保存してから選んでください".into());
    }
    if let Some(why) = crate::files::active_content(bytes) {
        return Err(format!(
            "この PDF は受け付けられません: {why}。印刷機能で PDF に保存し直してから選んでください"
        ));
    }
    Ok(())
}

/// Whether a file ends as a whole PDF does: an `%%EOF` marker in its last 2 KB (a truncated
/// upload has none).
pub fn ends_like_pdf(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(2048)..];
    tail.windows(5).any(|w| w == b"%%EOF")
}

/// A file name safe to show and to offer for download, ending in `.pdf` (see
/// [`crate::files::download_name`]).
pub fn bcp_file_name(name: &str) -> String {
    crate::files::download_name(name, "pdf", "BCP")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcp_documents_are_checked_by_content() {
        let pdf = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
        assert!(check_bcp_document(&pdf).is_ok());
        assert!(check_bcp_document(b"").is_err());
        let faked = b"MZ\x90\x00 this is an exe named plan.pdf %%EOF";
        assert!(check_bcp_document(faked).unwrap_err().contains("PDF"));
        let truncated = &pdf[..20];
        assert!(check_bcp_document(truncated).unwrap_err().contains("途中"));
        let mut huge = pdf.clone();
        huge.resize(MAX_BCP_BYTES + 1, b' ');
        assert!(check_bcp_document(&huge).unwrap_err().contains("大きすぎ"));
    }

    #[test]
    fn bcp_file_names_are_made_safe() {
        assert_eq!(bcp_file_name("C:\\Users\\a\\BCP 2026.pdf"), "BCP 2026.pdf");
        assert_eq!(bcp_file_name("../../etc/passwd"), "passwd.pdf");
        assert_eq!(bcp_file_name("a\"b;\r\n.PDF"), "ab.pdf");
        assert_eq!(bcp_file_name(""), "BCP.pdf");
    }

    #[test]
    fn codes_and_labels_parse_back() {
        for kind in PowerKind::ALL {
            assert_eq!(PowerKind::parse(kind.code()), Some(kind));
            assert_eq!(PowerKind::parse(kind.label_ja()), Some(kind));
        }
        for status in BcpStatus::ALL {
            assert_eq!(BcpStatus::parse(status.code()), Some(status));
            assert_eq!(BcpStatus::parse(status.label_ja()), Some(status));
        }
        assert_eq!(PowerKind::parse(""), Some(PowerKind::Unknown));
        assert_eq!(PowerKind::parse("原子炉"), None);
        assert_eq!(BcpStatus::parse("たぶん"), None);
    }
}
