//! Planning an import against the directory: which rows are new, which update an entry (matched
//! by 医療機関コード first, then by normalised name and address), which change nothing, and which
//! repeat an earlier row of the same file. The plan is shown (dry run) or applied as it is, so
//! what people confirm is exactly what gets written.

use crate::{Store, StoreError};
use renkei_domain::import::{identity_key, ImportRow};
use renkei_domain::institution::{NewInstitution, PublicFields};
use std::collections::HashMap;

/// Why a row was left out as a repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DuplicateOf {
    /// The same 医療機関コード as an earlier row.
    MedicalCode(String),
    /// The same name and address as an earlier row.
    NameAndAddress,
}

/// A row that repeats an earlier one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// Its line.
    pub line: usize,
    /// The earlier row's line.
    pub first_line: usize,
    /// What they share.
    pub by: DuplicateOf,
}

/// What an import will do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportPlan {
    /// New entries with their lines.
    pub new: Vec<(usize, NewInstitution)>,
    /// Entries that change: line, id, new fields.
    pub updates: Vec<(usize, i64, PublicFields)>,
    /// Rows identical to their entry.
    pub unchanged: usize,
    /// Rows left out as repeats.
    pub duplicates: Vec<Duplicate>,
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
        let mut plan = ImportPlan::default();
        let mut seen_keys: HashMap<String, usize> = HashMap::new();
        let mut seen_codes: HashMap<String, usize> = HashMap::new();
        let mut matched: Vec<(usize, i64, PublicFields)> = Vec::new();
        for row in rows {
            let key = identity_key(&row.institution.name, &row.institution.address);
            let code = row.institution.details.medical_code.clone();
            if let Some(code) = &code {
                if let Some(&first) = seen_codes.get(code) {
                    plan.duplicates.push(Duplicate {
                        line: row.line,
                        first_line: first,
                        by: DuplicateOf::MedicalCode(code.clone()),
                    });
                    continue;
                }
            }
            if let Some(&first) = seen_keys.get(&key) {
                plan.duplicates.push(Duplicate {
                    line: row.line,
                    first_line: first,
                    by: DuplicateOf::NameAndAddress,
                });
                continue;
            }
            seen_keys.insert(key.clone(), row.line);
            if let Some(code) = &code {
                seen_codes.insert(code.clone(), row.line);
            }
            let existing = code
                .as_ref()
                .and_then(|c| by_code.get(c))
                .or_else(|| by_key.get(&key));
            match existing {
                Some(&id) => matched.push((row.line, id, row.institution.public_fields())),
                None => plan.new.push((row.line, row.institution)),
            }
        }
        let ids: Vec<i64> = matched.iter().map(|(_, id, _)| *id).collect();
        let current = self.public_fields_of(&ids).await?;
        for (line, id, fields) in matched {
            if current.get(&id) == Some(&fields) {
                plan.unchanged += 1;
            } else {
                plan.updates.push((line, id, fields));
            }
        }
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
