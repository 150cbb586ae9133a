//! Figures Renkei writes into the hubs' activity ledgers: one item per area and year, marked
//! by a note so that a later press replaces it instead of adding another, and saved as a new
//! revision like any edit — so the report to the prefecture says them without retyping.

use crate::AppState;
use renkei_domain::accounts::UserId;
use renkei_domain::fiscal_year::FiscalYear;
use renkei_domain::ledger::{HubLedger, LedgerItem};
use renkei_domain::region::{Area, RegionDefinition};
use renkei_store::StoreError;

/// For each of `areas` (codes), builds the marked item from the area's ledger of `year` (and
/// the item already there, if any) with `item_for`, and saves it; an area for which `item_for`
/// gives nothing is left as it is. Returns how many ledgers were written.
pub(crate) async fn record_marked(
    app: &AppState,
    areas: &[String],
    year: FiscalYear,
    marker: &str,
    by: Option<UserId>,
    item_for: impl Fn(&Area, &HubLedger, Option<&LedgerItem>) -> Option<LedgerItem>,
) -> Result<usize, StoreError> {
    let mut recorded = 0;
    for area in RegionDefinition::nakakawachi()
        .areas
        .iter()
        .filter(|a| areas.iter().any(|c| c == a.code.as_str()))
    {
        let (mut ledger, based_on) = super::safety_summary::ledger_of(app, area, year).await?;
        let at = ledger
            .items
            .iter()
            .position(|i| i.note.as_deref() == Some(marker));
        let Some(mut item) = item_for(area, &ledger, at.map(|i| &ledger.items[i])) else {
            continue;
        };
        item.note = Some(marker.to_owned());
        match at {
            Some(i) => ledger.items[i] = item,
            None => ledger.items.push(item),
        }
        app.store
            .save_ledger(area.code.as_str(), year.year(), &ledger, based_on, by)
            .await?;
        recorded += 1;
    }
    Ok(recorded)
}

/// What Renkei writes as a progress item of one duty from its own records: the kind, a title,
/// the figures in words and how often it was done. The item keeps the id and the marks of what
/// it fulfils from the item already there, so a later press replaces it in place.
pub(crate) struct FedItem {
    /// The duty, 1 to 5 (①〜⑤).
    pub duty: u8,
    /// What kind of work.
    pub kind: renkei_domain::ledger::ItemKind,
    /// The title.
    pub title: String,
    /// The figures, written after the title (starting with 「。」).
    pub detail: String,
    /// How often it was done.
    pub held: u32,
    /// For whom.
    pub audience: Vec<String>,
    /// Who organised it.
    pub organisers: Vec<String>,
}

impl FedItem {
    /// The ledger item, replacing `existing` when there is one.
    pub(crate) fn into_item(self, ledger: &HubLedger, existing: Option<&LedgerItem>) -> LedgerItem {
        use renkei_domain::ledger::Section;
        let duty = self.duty.clamp(1, 5);
        LedgerItem {
            id: existing
                .map(|x| x.id.clone())
                .unwrap_or_else(|| ledger.new_item_id(Section::Progress)),
            section: Section::Progress,
            number: ["①", "②", "③", "④", "⑤"][usize::from(duty) - 1].into(),
            duties: vec![duty],
            kind: self.kind,
            title: self.title,
            schedule: None,
            schedule_inline: false,
            detail: Some(self.detail),
            planned: None,
            held: Some(self.held),
            audience: self.audience,
            organisers: self.organisers,
            fulfils: existing.map(|x| x.fulfils.clone()).unwrap_or_default(),
            note: None,
            draft: false,
        }
    }
}
