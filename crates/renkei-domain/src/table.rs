//! The directory as a table: its Japanese column titles and one row of text per entry. The
//! exports (CSV, XLSX) write these rows and the import reads them back, so a file that Renkei
//! wrote imports unchanged.

use crate::capability::Capability;
use crate::institution::{InstitutionKind, PublicFields};
use crate::region::Role;

/// Column titles, in order. Role columns follow the six roles; see [`role_status_column`] and
/// [`role_plan_column`].
pub const COLUMNS: [&str; 37] = [
    "ID",
    "名称",
    "よみがな",
    "種別",
    "地域",
    "医療機関コード",
    "郵便番号",
    "所在地",
    "電話",
    "FAX",
    "ウェブサイト",
    "診療・営業時間",
    "担当者・窓口",
    "緯度",
    "経度",
    "位置の精度",
    "できること",
    "積極的医療機関",
    "役割① 急変時の診療支援",
    "役割② 在宅療養移行のサービス確保",
    "役割③ 地域医療研修",
    "役割④ 災害時計画",
    "役割⑤ 地域包括支援センター等との協働",
    "役割⑥ 急変時の入院受入れ",
    "役割① 計画",
    "役割② 計画",
    "役割③ 計画",
    "役割④ 計画",
    "役割⑤ 計画",
    "役割⑥ 計画",
    "非常用電源",
    "非常用電源の容量",
    "電源の貸出",
    "BCP",
    "デモ",
    "最終確認日",
    "更新日時",
];

/// The status column of a role.
pub fn role_status_column(role: Role) -> &'static str {
    COLUMNS[18 + usize::from(role.number()) - 1]
}

/// The plan column of a role.
pub fn role_plan_column(role: Role) -> &'static str {
    COLUMNS[24 + usize::from(role.number()) - 1]
}

/// Widths of the columns in a spreadsheet, in characters.
pub const WIDTHS: [f64; 37] = [
    8.0, 36.0, 30.0, 18.0, 10.0, 14.0, 10.0, 40.0, 14.0, 14.0, 28.0, 36.0, 16.0, 11.0, 11.0, 14.0,
    40.0, 8.0, 12.0, 12.0, 12.0, 12.0, 12.0, 12.0, 24.0, 24.0, 24.0, 24.0, 24.0, 24.0, 14.0, 18.0,
    8.0, 8.0, 6.0, 12.0, 20.0,
];

/// One entry as the table shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableEntry {
    /// Database id (empty for a new entry in a file).
    pub id: Option<i64>,
    /// Kind.
    pub kind: InstitutionKind,
    /// Area code.
    pub area_code: String,
    /// The public fields.
    pub fields: PublicFields,
    /// Active institution.
    pub is_active: bool,
    /// Demo record.
    pub is_demo: bool,
    /// Last confirmed, as a date (YYYY-MM-DD), if ever.
    pub confirmed_on: Option<String>,
    /// Last updated (UTC text).
    pub updated_at: String,
}

/// Whether a column holds a number (for spreadsheets).
pub fn is_numeric(column: usize) -> bool {
    matches!(column, 0 | 13 | 14)
}

/// The cells of one entry, in [`COLUMNS`] order.
pub fn row(entry: &TableEntry) -> Vec<String> {
    let f = &entry.fields;
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let flag = |b: bool| if b { "1" } else { "0" }.to_owned();
    let caps: Vec<&str> = f
        .capabilities
        .iter()
        .filter_map(|c| Capability::from_code(c))
        .map(|c| c.label_ja())
        .collect();
    let mut cells = vec![
        entry.id.map(|id| id.to_string()).unwrap_or_default(),
        f.name.clone(),
        f.name_kana.clone(),
        entry.kind.label_ja().to_owned(),
        entry.area_code.clone(),
        opt(&f.details.medical_code),
        opt(&f.postcode),
        f.address.clone(),
        opt(&f.phone),
        opt(&f.details.fax),
        opt(&f.details.website),
        opt(&f.details.hours),
        opt(&f.details.contact_person),
        f.location
            .map(|p| format!("{:.6}", p.lat))
            .unwrap_or_default(),
        f.location
            .map(|p| format!("{:.6}", p.lng))
            .unwrap_or_default(),
        f.location
            .map(|p| p.precision.label_ja().to_owned())
            .unwrap_or_default(),
        caps.join("、"),
        flag(entry.is_active),
    ];
    for role in Role::ALL {
        cells.push(
            f.roles
                .iter()
                .find(|r| r.role == role)
                .map(|r| r.status.label_ja().to_owned())
                .unwrap_or_default(),
        );
    }
    for role in Role::ALL {
        cells.push(
            f.roles
                .iter()
                .find(|r| r.role == role)
                .and_then(|r| r.plan.clone())
                .unwrap_or_default(),
        );
    }
    cells.extend([
        f.details.power.kind.label_ja().to_owned(),
        opt(&f.details.power.capacity),
        flag(f.details.power.lendable),
        f.details.bcp.label_ja().to_owned(),
        flag(entry.is_demo),
        opt(&entry.confirmed_on),
        entry.updated_at.clone(),
    ]);
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_columns_line_up_with_the_roles() {
        for role in Role::ALL {
            assert!(role_status_column(role).starts_with(&format!("役割{}", role.circled())));
            assert!(role_plan_column(role).starts_with(&format!("役割{}", role.circled())));
            assert!(role_plan_column(role).ends_with("計画"));
        }
        assert_eq!(COLUMNS[13], "緯度");
        assert_eq!(COLUMNS[14], "経度");
        assert_eq!(COLUMNS.len(), WIDTHS.len());
    }
}
