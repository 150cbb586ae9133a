//! Opening the configured database for a command: prepare the data directory, open, migrate and
//! load the region — or fail without leaving anything half-created.

use crate::config::Config;
use crate::failure::Failure;
use renkei_domain::region::RegionDefinition;
use renkei_domain::{demo, towns};
use renkei_store::{redact, Backend, Store};
use std::path::{Path, PathBuf};

/// An open, migrated database.
pub struct OpenedDatabase {
    /// The store.
    pub store: Store,
    /// What to call the database in messages (file path or redacted URL).
    pub target: String,
}

/// Opens the configured database, applies migrations, loads the region reference data and
/// sets the audit key.
pub async fn open_database(config: &Config) -> Result<OpenedDatabase, Failure> {
    let opened = match &config.database_url {
        Some(url) => {
            let target = redact(url);
            let store = Store::open(url)
                .await
                .map_err(|e| Failure::database(&target, &e))?;
            prepare(store, target).await?
        }
        None => open_sqlite_in(&config.data_dir).await?,
    };
    let key = audit_key(config)?;
    let store = opened.store.with_audit_key(&key);
    // The migrations ran before the key was known: if they just added the audit head's seal
    // (an upgrade), seal the head now, so the chain verifies from the start.
    store
        .seal_unsealed_audit_head()
        .await
        .map_err(|e| Failure::database(&opened.target, &e))?;
    Ok(OpenedDatabase {
        store,
        target: opened.target,
    })
}

/// The audit key: from the settings, or the key file in the data directory (created with 32
/// random bytes, readable by the owner only, the first time).
pub(crate) fn audit_key(config: &Config) -> Result<Vec<u8>, Failure> {
    if let Some(key) = &config.audit_key {
        return Ok(key.as_bytes().to_vec());
    }
    let path = config.data_dir.join("audit.key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return Ok(text.trim().as_bytes().to_vec());
    }
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| Failure::data_dir(&config.data_dir, &e))?;
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let key = renkei_domain::audit::hex(&bytes);
    write_private(&path, &key).map_err(|e| Failure::data_dir(&config.data_dir, &e))?;
    Ok(key.into_bytes())
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

async fn open_sqlite_in(data_dir: &Path) -> Result<OpenedDatabase, Failure> {
    let created_dir = !data_dir.exists();
    std::fs::create_dir_all(data_dir).map_err(|e| Failure::data_dir(data_dir, &e))?;
    let dir = std::fs::canonicalize(data_dir).map_err(|e| Failure::data_dir(data_dir, &e))?;
    check_writable(&dir).map_err(|e| {
        remove_if_created(created_dir, &dir);
        Failure::data_dir(&dir, &e)
    })?;
    let file = dir.join("renkei.db");
    let created_file = !file.exists();
    let target = file.display().to_string();
    let result = async {
        let store = Store::open_sqlite(&file)
            .await
            .map_err(|e| Failure::database(&target, &e))?;
        prepare(store, target.clone()).await
    }
    .await;
    if result.is_err() && created_file {
        // Nothing half-created: a database that this start created and could not finish goes.
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(PathBuf::from(format!("{}{suffix}", file.display())));
        }
        remove_if_created(created_dir, &dir);
    }
    result
}

fn remove_if_created(created: bool, dir: &Path) {
    if created {
        let _ = std::fs::remove_dir(dir);
    }
}

/// Proves the directory is writable by creating and removing a probe file (permission bits
/// alone do not tell: ACLs, read-only mounts and root all change the answer).
fn check_writable(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".renkei-write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"probe")?;
    std::fs::remove_file(&probe)
}

async fn prepare(store: Store, target: String) -> Result<OpenedDatabase, Failure> {
    let fail = |e| Failure::database(&target, &e);
    let report = store.migrate().await.map_err(fail)?;
    if !report.applied.is_empty() {
        tracing::info!(applied = ?report.applied, backend = store.backend().name(), "database migrated");
    }
    let region = RegionDefinition::nakakawachi();
    let towns = towns::towns().map_err(|e| Failure::new(1, e.to_string(), e.to_string()))?;
    store.ensure_region(&region, &towns).await.map_err(fail)?;
    if store.backend() == Backend::Sqlite {
        tracing::debug!("SQLite in WAL mode with synchronous=FULL");
    }
    Ok(OpenedDatabase { store, target })
}

/// Loads the demo institutions when the directory is empty; returns how many were loaded.
pub async fn load_demo(store: &Store, target: &str) -> Result<usize, Failure> {
    let fail = |e| Failure::database(target, &e);
    let region = RegionDefinition::nakakawachi();
    // The region's real report (令和7年度) is the demo's ledger; loading it again changes nothing.
    let ledger = renkei_domain::ledger::LedgerFile::parse(
        renkei_domain::ledger::NAKAKAWACHI_FY2025_TOML,
        &region,
    )
    .map_err(|e| Failure::new(1, e.to_string(), e.to_string()))?;
    store.load_ledger_file(&ledger).await.map_err(fail)?;
    if !store.directory_is_empty().await.map_err(fail)? {
        return Ok(0);
    }
    let table_failure = |e: towns::TableError| Failure::new(1, e.to_string(), e.to_string());
    let towns = towns::towns().map_err(table_failure)?;
    let postcodes = towns::postcodes().map_err(table_failure)?;
    let institutions = demo::institutions(&region, &towns, &postcodes).map_err(table_failure)?;
    let ids = store
        .insert_institutions(&institutions)
        .await
        .map_err(fail)?;
    // The demo's clinic accounts belong to the first active clinic of 八尾市.
    use renkei_domain::institution::InstitutionKind;
    let clinic = institutions.iter().zip(&ids).find(|(i, _)| {
        i.is_active && i.area.as_str() == "yao" && i.kind == InstitutionKind::Clinic
    });
    // The demo hospital's account: the hospital taking respite admissions nearest to that
    // clinic, so the clinic's urgent request reaches it first.
    let at = clinic.and_then(|(c, _)| c.location.as_ref());
    let hospital = institutions
        .iter()
        .zip(&ids)
        .filter(|(i, _)| {
            i.kind == InstitutionKind::Hospital
                && i.capabilities
                    .contains(&renkei_domain::capability::Capability::RespiteAdmission)
        })
        .filter_map(|(i, id)| {
            let (from, to) = (at?, i.location.as_ref()?);
            let km = towns::distance_km(from.lat, from.lng, to.lat, to.lng);
            Some((km, i, id))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, i, id)| (i.name.clone(), id.0));
    let clinic = clinic.map(|(i, id)| (i.name.clone(), id.0));
    let hospital_id = hospital.as_ref().map(|(_, id)| *id);
    crate::demo_accounts::create(store, clinic, hospital)
        .await
        .map_err(fail)?;
    if let Some(id) = hospital_id {
        crate::demo_accounts::approved_edit(store, id)
            .await
            .map_err(fail)?;
    }
    // The demo hospitals publish beds (fictional counts, as of the load), so the bed board
    // and admission requests show something; they go stale after a day, as real ones do.
    for (institution, id) in institutions.iter().zip(&ids) {
        let counts = renkei_domain::demo::bed_counts(institution, id.0);
        if !counts.is_empty() {
            store
                .save_bed_counts(id.0, &counts, false, None, chrono::Utc::now())
                .await
                .map_err(fail)?;
        }
    }
    Ok(institutions.len())
}
