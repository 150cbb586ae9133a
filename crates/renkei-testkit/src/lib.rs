//! Test helpers: run the same test against a fresh SQLite file and a freshly created PostgreSQL
//! database.
//!
//! PostgreSQL is found at `RENKEI_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). When it cannot be reached the test fails —
//! always in CI (`CI` set to any value), and locally too unless `RENKEI_TEST_SKIP_POSTGRES=1`
//! is set (see [`skip`]).

pub mod skip;
pub mod smtp;
pub mod wait;

use renkei_store::Store;
use sqlx::Connection;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::OnceCell;

/// A fresh database for one test.
#[derive(Debug, Clone)]
pub struct TestDb {
    /// The store over it.
    pub store: Store,
    /// Its URL.
    pub url: String,
}

/// The audit-chain key of test stores.
pub const TEST_AUDIT_KEY: &[u8] = b"renkei test audit key";

/// Default administrative URL of the test PostgreSQL.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn admin_url() -> String {
    std::env::var("RENKEI_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// Runs `test` against a migrated database in a fresh temporary SQLite file.
pub async fn run_sqlite<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("renkei.db");
    let store = Store::open_sqlite(&path)
        .await
        .expect("open SQLite")
        .with_audit_key(TEST_AUDIT_KEY);
    store.migrate().await.expect("migrate SQLite");
    let url = renkei_store::sqlite_url(&path);
    test(TestDb {
        store: store.clone(),
        url,
    })
    .await;
    store.close().await;
}

/// Runs `test` against a migrated, freshly created PostgreSQL database, dropped afterwards.
pub async fn run_postgres<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(db) = create_postgres_database().await else {
        return;
    };
    let store = Store::open(&db.url)
        .await
        .expect("open PostgreSQL test database")
        .with_audit_key(TEST_AUDIT_KEY);
    store.migrate().await.expect("migrate PostgreSQL");
    test(TestDb {
        store: store.clone(),
        url: db.url.clone(),
    })
    .await;
    store.close().await;
    drop_database(&db.name).await;
}

/// An empty PostgreSQL database made for one test.
#[derive(Debug)]
pub struct PgTestDatabase {
    /// Database name.
    pub name: String,
    /// URL to reach it.
    pub url: String,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);
static SWEPT: OnceCell<()> = OnceCell::const_new();

/// Creates an empty database (without migrations); `None` only when PostgreSQL is unreachable
/// and skipping was explicitly allowed.
pub async fn create_postgres_database() -> Option<PgTestDatabase> {
    sqlx::any::install_default_drivers();
    let admin = admin_url();
    let mut conn = match sqlx::AnyConnection::connect(&admin).await {
        Ok(conn) => conn,
        Err(e) => {
            if skip::allowed(
                "PostgreSQL test",
                "RENKEI_TEST_SKIP_POSTGRES",
                &format!("{admin} is unreachable: {e}"),
            ) {
                return None;
            }
            panic!("PostgreSQL at {admin} is unreachable: {e}. Start it (tools/test.sh starts the machine's cluster), set RENKEI_TEST_POSTGRES_URL, or (outside CI) RENKEI_TEST_SKIP_POSTGRES=1");
        }
    };
    SWEPT.get_or_init(|| sweep_stale(&admin)).await;
    let name = format!(
        "renkei_t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let _ = conn.close().await;
    Some(PgTestDatabase {
        url: replace_database(&admin, &name),
        name,
    })
}

/// Drops a test database, closing its connections.
pub async fn drop_database(name: &str) {
    if let Ok(mut conn) = sqlx::AnyConnection::connect(&admin_url()).await {
        let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
    }
}

/// Drops databases left behind by test processes that no longer run (a panicking test skips its
/// clean-up).
async fn sweep_stale(admin: &str) {
    let Ok(mut conn) = sqlx::AnyConnection::connect(admin).await else {
        return;
    };
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'renkei_t_%'")
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
    for name in names {
        let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        }
    }
    let _ = conn.close().await;
}

/// The URL with its database name replaced.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Decodes standard Base64 (padding and line breaks ignored), as mail bodies and WebDriver
/// screenshots carry it.
pub fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let Some(v) = ALPHABET.iter().position(|a| *a == c) else {
            continue;
        };
        buffer = (buffer << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            out.push(((buffer >> (bits - 8)) & 0xff) as u8);
            bits -= 8;
        }
    }
    out
}

/// Declares tests that run once on SQLite and once on PostgreSQL. Each named function must be an
/// `async fn(TestDb)`; the macro makes a module of the same name with tests `sqlite` and
/// `postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    $crate::run_sqlite(super::$name).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    $crate::run_postgres(super::$name).await;
                }
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced_in_urls() {
        assert_eq!(
            replace_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            replace_database("postgres://u@h:5432", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            replace_database("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
