//! Opening the database: SQLite by file path or PostgreSQL by URL, behind one pool type.

use crate::error::StoreError;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Connection, Executor};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// Settings of every SQLite connection: WAL lets readers run beside the writer; FULL makes every
/// commit durable before it is acknowledged (see ARCHITECTURE.md).
/// The write-ahead log grows to about 40 MB (10,000 pages) before a commit has to copy it into
/// the database itself; a server checkpoints in the background long before that
/// ([`Store::spawn_checkpoints`]), so requests do not pay for it.
const SQLITE_PRAGMAS: &str =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA wal_autocheckpoint = 10000;";

/// Which database engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: a SQLite file in WAL mode.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Name for logs and the health check.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The database handle every query goes through. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    audit_key: Option<std::sync::Arc<[u8]>>,
    /// Set when this process's migration run added the audit head's seal (migration 26): only
    /// then is an unsealed head sealed, once the key is known — never an unsealed head found
    /// later, which is a forgery.
    pub(crate) head_awaits_seal: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Store {
    /// Opens (and creates when missing) the SQLite file at `path`.
    pub async fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
        Self::open(&sqlite_url(path)).await
    }

    /// Opens a database by URL: `sqlite://PATH` or `postgres://…` / `postgresql://…`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let options = AnyConnectOptions::from_str(url)
            .map_err(|_| StoreError::UnsupportedUrl(redact(url)))?;
        // One direct connection first: the pool would retry a refused connection or a corrupt
        // file until its timeout, while a person starting Renkei needs the exact error at once.
        let mut probe = AnyConnection::connect_with(&options).await?;
        if backend == Backend::Sqlite {
            probe.execute(SQLITE_PRAGMAS).await?;
        }
        probe.close().await?;
        let pool = match backend {
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(10))
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            conn.execute(SQLITE_PRAGMAS).await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?
            }
        };
        let store = Store {
            pool,
            backend,
            audit_key: None,
            head_awaits_seal: Default::default(),
        };
        // Touch the database now so a corrupt file or a refused login is reported at start.
        store.health().await?;
        Ok(store)
    }

    /// The same store with the key that signs the audit chain (kept outside the database).
    pub fn with_audit_key(mut self, key: &[u8]) -> Self {
        self.audit_key = Some(key.into());
        self
    }

    /// The audit key, for the store's audit module.
    pub(crate) fn audit_key(&self) -> Result<&[u8], StoreError> {
        self.audit_key
            .as_deref()
            .ok_or_else(|| StoreError::Invalid("audit key not configured".into()))
    }

    /// The engine behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool, for the store's own modules.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Checks that the database answers a query.
    pub async fn health(&self) -> Result<(), StoreError> {
        let one: i64 = sqlx::query_scalar("SELECT CAST(1 AS BIGINT)")
            .fetch_one(&self.pool)
            .await?;
        if one == 1 {
            Ok(())
        } else {
            Err(StoreError::Invalid(
                "health check returned an unexpected value".into(),
            ))
        }
    }

    /// Open and idle connections of the pool, for `/metrics`.
    pub fn pool_stats(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    /// Copies the SQLite write-ahead log into the database without waiting for readers or
    /// blocking writers (a PASSIVE checkpoint); nothing to do on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_all(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Checkpoints every `period` in the background for as long as the process runs, so that
    /// no request's commit has to do it.
    pub fn spawn_checkpoints(&self, period: std::time::Duration) {
        let store = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                if let Err(e) = store.checkpoint().await {
                    tracing::warn!(error = %e, "background checkpoint failed");
                }
            }
        });
    }

    /// Closes every connection, waiting for running queries.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The `sqlite://` URL of a file path, with the characters URLs reserve percent-encoded.
pub fn sqlite_url(path: &Path) -> String {
    let mut encoded = String::new();
    for ch in path.to_string_lossy().chars() {
        match ch {
            ' ' | '"' | '#' | '<' | '>' | '?' | '`' | '{' | '}' | '%' => {
                let mut buf = [0u8; 4];
                for b in ch.encode_utf8(&mut buf).bytes() {
                    encoded.push_str(&format!("%{b:02X}"));
                }
            }
            c => encoded.push(c),
        }
    }
    format!("sqlite://{encoded}?mode=rwc")
}

fn backend_of(url: &str) -> Result<Backend, StoreError> {
    let scheme = url
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match scheme.as_str() {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" | "postgresql" => Ok(Backend::Postgres),
        _ => Err(StoreError::UnsupportedUrl(redact(url))),
    }
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_classified_and_redacted() {
        assert_eq!(backend_of("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("postgresql://h/db").unwrap(), Backend::Postgres);
        assert!(backend_of("mysql://h/db").is_err());
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }

    #[test]
    fn sqlite_paths_with_reserved_characters_are_encoded() {
        assert_eq!(
            sqlite_url(Path::new("/tmp/a b?.db")),
            "sqlite:///tmp/a%20b%3F.db?mode=rwc"
        );
        assert_eq!(
            sqlite_url(Path::new("データ/renkei.db")),
            "sqlite://データ/renkei.db?mode=rwc"
        );
    }
}
