//! The region overview (areas, hubs and how many entries of each kind each area has) kept for a
//! short while, so that the public pages that show it — home, areas, the directory — do not
//! recount every row of the directory on every view: at 300,000 entries that count alone took
//! over a second, and anonymous visitors could keep the database busy with it. One count runs
//! at a time, in the background once there is a copy (the pages keep showing the last count
//! meanwhile, so no visitor waits for a recount); a local change to the directory drops the
//! kept copy at once, and changes made on another instance show within [`KEEP`] and a count.

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
    counting: Arc<tokio::sync::Mutex<()>>,
}

impl OverviewCache {
    /// The overview: the kept one while it is fresh; a stale one is served while one
    /// background task counts again; with none kept (at start, or after a local change) the
    /// first request counts and the others wait for it.
    pub async fn get(
        self: &Arc<Self>,
        store: &Store,
    ) -> Result<Arc<Option<RegionOverview>>, StoreError> {
        let kept = self.kept();
        match kept {
            Some((at, overview)) if at.elapsed() < KEEP => return Ok(overview),
            Some((_, stale)) => {
                if let Ok(counting) = self.counting.clone().try_lock_owned() {
                    let (cache, store) = (self.clone(), store.clone());
                    tokio::spawn(async move {
                        let _counting = counting;
                        match store.region_overview().await {
                            Ok(counted) => cache.keep(Arc::new(counted)),
                            Err(e) => {
                                tracing::warn!(error = %e, "recounting the region overview failed")
                            }
                        }
                    });
                }
                return Ok(stale);
            }
            None => {}
        }
        let _counting = self.counting.lock().await;
        if let Some((at, fresh)) = self.kept().filter(|(at, _)| at.elapsed() < KEEP) {
            let _ = at;
            return Ok(fresh);
        }
        let counted = Arc::new(store.region_overview().await?);
        self.keep(counted.clone());
        Ok(counted)
    }

    fn keep(&self, overview: Arc<Option<RegionOverview>>) {
        *self.kept.write().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), overview));
    }

    /// Drops the kept overview (after a local change to the directory).
    pub fn invalidate(&self) {
        *self.kept.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn kept(&self) -> Option<(Instant, Arc<Option<RegionOverview>>)> {
        self.kept.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
