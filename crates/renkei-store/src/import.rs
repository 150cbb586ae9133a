//! Planning an import against the directory: which rows are new, which update an entry (matched
//! by the exported 「ID」 column, then 医療機関コード, then normalised name and address), which
//! change nothing, which repeat an earlier row of the same file, and which cannot be applied
//! (an unknown ID, a code that belongs to another entry, a change of kind, area or designation,
//! which go through the coordinator and not through a file). The plan is shown (dry run) or
//! applied as it is, so what people confirm is exactly what gets written.

use crate::{Store, StoreError};
use renkei_domain::import::{identity_key, ImportRow, RowError};
use renkei_domain::institution::{NewInstitution, PublicFields};
use std::collections::HashMap;

/// Why a row was left out as a repeat.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DuplicateOf {
    /// The same 医療機関コード as an earlier row.
    MedicalCode(String),
    /// The same name and address as an earlier row.
    NameAndAddress,
    /// The same directory entry as an earlier row (by ID, code or name and address).
    Entry(i64),
}

/// A row that repeats an earlier one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Duplicate {
    /// Its line.
    pub line: usize,
    /// The earlier row's line.
    pub first_line: usize,
    /// What they share.
    pub by: DuplicateOf,
}

impl Duplicate {
    /// The column it is about.
    pub fn column(&self) -> &'static str {
        match self.by {
            DuplicateOf::MedicalCode(_) => "医療機関コード",
            DuplicateOf::NameAndAddress => "名称・所在地",
            DuplicateOf::Entry(_) => "ID",
        }
    }

    /// Why it was left out, in Japanese.
    pub fn reason_ja(&self) -> String {
        let first = self.first_line;
        match &self.by {
            DuplicateOf::MedicalCode(code) => {
                format!("{first}行目と同じ医療機関コード（{code}）のため取り込みません")
            }
            DuplicateOf::NameAndAddress => {
                format!("{first}行目と同じ名称・所在地のため取り込みません")
            }
            DuplicateOf::Entry(id) => {
                format!("{first}行目と同じ掲載（ID {id}）に当たるため取り込みません")
            }
        }
    }

    /// Why it was left out, in English.
    pub fn reason_en(&self) -> String {
        let first = self.first_line;
        match &self.by {
            DuplicateOf::MedicalCode(code) => {
                format!("same 医療機関コード ({code}) as line {first}; skipped")
            }
            DuplicateOf::NameAndAddress => {
                format!("same name and address as line {first}; skipped")
            }
            DuplicateOf::Entry(id) => format!("same entry (ID {id}) as line {first}; skipped"),
        }
    }
}

/// What an import will do.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImportPlan {
    /// New entries with their lines.
    pub new: Vec<(usize, NewInstitution)>,
    /// Entries that change: line, id, new fields.
    pub updates: Vec<(usize, i64, PublicFields)>,
    /// Rows identical to their entry.
    pub unchanged: usize,
    /// Rows left out as repeats.
    pub duplicates: Vec<Duplicate>,
    /// Rows that cannot be applied, with the reason (in line order); they are left out.
    pub errors: Vec<RowError>,
}

impl ImportPlan {
    /// Whether applying it writes anything.
    pub fn changes_anything(&self) -> bool {
        !self.new.is_empty() || !self.updates.is_empty()
    }

    /// How many rows it writes (for a progress bar).
    pub fn writes(&self) -> u64 {
        (self.new.len() + self.updates.len()) as u64
    }
}

impl Store {
    /// Matches readable rows against the directory.
    pub async fn plan_import(&self, rows: Vec<ImportRow>) -> Result<ImportPlan, StoreError> {
        let by_key: HashMap<String, i64> = self.identity_keys().await?.into_iter().collect();
        let by_code: HashMap<String, i64> = self.medical_codes().await?.into_iter().collect();
        let code_of: HashMap<i64, &str> = by_code.iter().map(|(c, id)| (*id, c.as_str())).collect();
        let mut plan = ImportPlan::default();
        let mut seen_keys: HashMap<String, usize> = HashMap::new();
        let mut seen_codes: HashMap<String, usize> = HashMap::new();
        let mut seen_entries: HashMap<i64, usize> = HashMap::new();
        let mut matched: Vec<(usize, i64, NewInstitution)> = Vec::new();
        let error = |line: usize, column: &str, reason: String| RowError {
            line,
            column: column.to_owned(),
            reason,
        };
        for row in rows {
            let key = identity_key(&row.institution.name, &row.institution.address);
            let code = row.institution.details.medical_code.clone();
            let repeat = code
                .as_ref()
                .and_then(|c| {
                    seen_codes
                        .get(c)
                        .map(|&l| (l, DuplicateOf::MedicalCode(c.clone())))
                })
                .or_else(|| {
                    seen_keys
                        .get(&key)
                        .map(|&l| (l, DuplicateOf::NameAndAddress))
                });
            if let Some((first_line, by)) = repeat {
                plan.duplicates.push(Duplicate {
                    line: row.line,
                    first_line,
                    by,
                });
                continue;
            }
            seen_keys.insert(key.clone(), row.line);
            if let Some(code) = &code {
                seen_codes.insert(code.clone(), row.line);
            }
            let holder_of_code = code.as_ref().and_then(|c| by_code.get(c)).copied();
            let target = match (row.id, holder_of_code, by_key.get(&key).copied()) {
                (Some(id), Some(holder), _) if holder != id => Err(error(
                    row.line,
                    "医療機関コード",
                    format!(
                        "医療機関コード {} は別の掲載（ID {holder}）のものです",
                        code.as_deref().unwrap_or_default()
                    ),
                )),
                (Some(id), _, _) | (None, Some(id), _) => Ok(Some(id)),
                (None, None, Some(id)) => match (code.as_deref(), code_of.get(&id)) {
                    (Some(ours), Some(theirs)) => Err(error(
                        row.line,
                        "医療機関コード",
                        format!(
                            "同じ名称・所在地の掲載（ID {id}）は医療機関コードが {theirs} で、この行の {ours} と違います。同じ施設なら ID 列に {id} を書いてください"
                        ),
                    )),
                    _ => Ok(Some(id)),
                },
                (None, None, None) => Ok(None),
            };
            match target {
                Err(e) => plan.errors.push(e),
                Ok(None) => plan.new.push((row.line, row.institution)),
                Ok(Some(id)) => {
                    if let Some(&first_line) = seen_entries.get(&id) {
                        plan.duplicates.push(Duplicate {
                            line: row.line,
                            first_line,
                            by: DuplicateOf::Entry(id),
                        });
                        continue;
                    }
                    seen_entries.insert(id, row.line);
                    matched.push((row.line, id, row.institution));
                }
            }
        }
        let ids: Vec<i64> = matched.iter().map(|(_, id, _)| *id).collect();
        let standing = self.standing_of(&ids).await?;
        let current = self.public_fields_of(&ids).await?;
        for (line, id, institution) in matched {
            let Some(now) = standing.get(&id) else {
                plan.errors.push(error(
                    line,
                    "ID",
                    format!("ID {id} の掲載はありません。新しい施設なら ID 列を空にしてください"),
                ));
                continue;
            };
            let kept = "は取り込みでは変えられません。変える必要があれば拠点のコーディネーターに連絡してください";
            if institution.kind != now.kind {
                plan.errors.push(error(
                    line,
                    "種別",
                    format!("種別{kept}（この掲載は「{}」）", now.kind.label_ja()),
                ));
            } else if institution.area.as_str() != now.area_code {
                plan.errors.push(error(
                    line,
                    "地域",
                    format!("地域{kept}（この掲載は「{}」）", now.area_name),
                ));
            } else if institution.is_active != now.is_active {
                let label = if now.is_active {
                    "積極的医療機関"
                } else {
                    "積極的医療機関ではない"
                };
                plan.errors.push(error(
                    line,
                    "積極的医療機関",
                    format!("積極的医療機関の指定{kept}（この掲載は{label}）"),
                ));
            } else {
                let fields = institution.public_fields();
                if current.get(&id) == Some(&fields) {
                    plan.unchanged += 1;
                } else {
                    plan.updates.push((line, id, fields));
                }
            }
        }
        plan.errors.sort_by_key(|e| e.line);
        Ok(plan)
    }

    /// Writes a plan in one transaction (all or nothing); `progress` hears how many rows were
    /// written since it was last called.
    pub async fn apply_import(
        &self,
        plan: &ImportPlan,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(), StoreError> {
        let new: Vec<NewInstitution> = plan.new.iter().map(|(_, i)| i.clone()).collect();
        let updates: Vec<(i64, PublicFields)> = plan
            .updates
            .iter()
            .map(|(_, id, f)| (*id, f.clone()))
            .collect();
        self.import_directory(&new, &updates, progress).await
    }
}
