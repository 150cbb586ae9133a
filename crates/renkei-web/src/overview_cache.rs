//! The region overview (areas, hubs and how many entries of each kind each area has) kept for a
//! short while, so that the public pages that show it — home, areas, the directory — do not
//! recount every row of the directory on every view: at 300,000 entries that count alone took
//! over a second, and anonymous visitors could keep the database busy with it. One count runs
//! at a time; a local change to the directory drops the kept copy at once, and changes made on
//! another instance show within [`KEEP`].

use renkei_store::region::RegionOverview;
use renkei_store::{Store, StoreError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a counted overview is served before it is counted again.
pub const KEEP: Duration = Duration::from_secs(30);

/// The kept overview.
#[derive(Debug, Default)]
pub struct OverviewCache {
    kept: std::sync::RwLock<Option<(Instant, Arc<Option<RegionOverview>>)>>,
    counting: tokio::sync::Mutex<()>,
}

impl OverviewCache {
    /// The overview: the kept one while it is fresh, else counted again (by one request while
    /// the others wait for it).
    pub async fn get(&self, store: &Store) -> Result<Arc<Option<RegionOverview>>, StoreError> {
        if let Some(fresh) = self.fresh() {
            return Ok(fresh);
        }
        let _counting = self.counting.lock().await;
        if let Some(fresh) = self.fresh() {
            return Ok(fresh);
        }
        let counted = Arc::new(store.region_overview().await?);
        *self.kept.write().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), counted.clone()));
        Ok(counted)
    }

    /// Drops the kept overview (after a local change to the directory).
    pub fn invalidate(&self) {
        *self.kept.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn fresh(&self) -> Option<Arc<Option<RegionOverview>>> {
        self.kept
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|(at, _)| at.elapsed() < KEEP)
            .map(|(_, overview)| overview.clone())
    }
}
