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
