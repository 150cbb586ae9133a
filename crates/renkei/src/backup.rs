//! `renkei backup` and `renkei restore`.
//!
//! SQLite: the backup is a consistent copy taken while Renkei runs (`VACUUM INTO`), written
//! beside its destination, checked (integrity, schema, row counts) and only then given its
//! name. A restore refuses while a server uses the data directory (servers hold a shared lock
//! on `renkei.lock`), checks the copy the same way, brings it to the current schema, keeps the
//! database it replaces as `renkei.db.before-restore-…`, and swaps the files by renaming.
//!
//! PostgreSQL: `pg_dump --format=custom` and `pg_restore --single-transaction`, with the
//! password passed in the environment, never on the command line.
//!
//! Neither copies the server's secret (`audit.key` or `RENKEI_AUDIT_KEY`): without it a copy
//! does not open the care team's sealed files, so it is kept apart from the backups.

use crate::config::Config;
use crate::database::{open_database, OpenedDatabase};
use crate::failure::Failure;
use indicatif::{ProgressBar, ProgressStyle};
use renkei_store::Store;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The lock file servers hold (shared) and a restore takes (exclusive).
const LOCK_FILE: &str = "renkei.lock";

/// The data directory's lock, held shared while a SQLite server runs, so that a restore cannot
/// swap the database under it.
pub struct ServingLock {
    file: File,
    path: PathBuf,
    created_file: bool,
    created_dir: Option<PathBuf>,
}

impl ServingLock {
    /// Lets go of a lock taken by a start that failed, removing what taking it created, so the
    /// failed start leaves the data directory as it found it.
    pub fn abandon(self) {
        drop(self.file);
        if self.created_file {
            let _ = std::fs::remove_file(&self.path);
        }
        if let Some(dir) = self.created_dir {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Takes the data directory's lock shared for a SQLite server (nothing for PostgreSQL); fails
/// while a restore holds it.
pub fn hold_for_serving(config: &Config) -> Result<Option<ServingLock>, Failure> {
    if config.database_url.is_some() {
        return Ok(None);
    }
    let dir = &config.data_dir;
    let created_dir = (!dir.exists()).then(|| dir.clone());
    let path = dir.join(LOCK_FILE);
    let created_file = !path.exists();
    let file = open_lock(dir)?;
    let lock = ServingLock {
        file,
        path,
        created_file,
        created_dir,
    };
    match lock.file.try_lock_shared() {
        Ok(()) => Ok(Some(lock)),
        Err(_) => Err(Failure::new(
            1,
            format!(
                "{} は復元中です。復元が終わってから起動してください",
                dir.display()
            ),
            format!(
                "{} is being restored; start once the restore has finished",
                dir.display()
            ),
        )),
    }
}

fn open_lock(data_dir: &Path) -> Result<File, Failure> {
    std::fs::create_dir_all(data_dir).map_err(|e| Failure::data_dir(data_dir, &e))?;
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data_dir.join(LOCK_FILE))
        .map_err(|e| Failure::data_dir(data_dir, &e))
}

fn spinner(message: &str) -> ProgressBar {
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        bar.set_style(style);
    }
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn io_failure(what: &Path, e: &std::io::Error) -> Failure {
    Failure::new(
        1,
        format!("{} を書けません（{e}）", what.display()),
        format!("cannot write {} ({e})", what.display()),
    )
}

fn counts_line(counts: &[(&str, i64)]) -> String {
    counts
        .iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A backup file's name when none is given: `renkei-backup-20261202-0930.db` (`.dump` for
/// PostgreSQL).
fn default_name(backend_is_sqlite: bool) -> PathBuf {
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let ext = if backend_is_sqlite { "db" } else { "dump" };
    PathBuf::from(format!("renkei-backup-{stamp}.{ext}"))
}

/// `renkei backup [--out FILE]`.
pub async fn backup(config: Config, out: Option<PathBuf>) -> Result<(), Failure> {
    let out = out.unwrap_or_else(|| default_name(config.database_url.is_none()));
    if out.exists() {
        return Err(Failure::new(
            2,
            format!(
                "{} はすでにあります。別の名前を --out で指定してください（上書きはしません）",
                out.display()
            ),
            format!(
                "{} already exists; choose another name with --out (backups never overwrite)",
                out.display()
            ),
        ));
    }
    let partial = PathBuf::from(format!("{}.partial", out.display()));
    let _ = std::fs::remove_file(&partial);
    let started = Instant::now();
    let summary = match &config.database_url {
        None => backup_sqlite(&config, &partial).await,
        Some(url) => backup_postgres(url, &partial).map(|()| String::new()),
    };
    let summary = match summary {
        Ok(s) => s,
        Err(f) => {
            let _ = std::fs::remove_file(&partial);
            return Err(f);
        }
    };
    File::open(&partial)
        .and_then(|f| f.sync_all())
        .and_then(|()| std::fs::rename(&partial, &out))
        .map_err(|e| io_failure(&out, &e))?;
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    println!(
        "バックアップを作成しました: {}（{:.1} MB、{:.1} 秒）{summary}\n  audit.key（または RENKEI_AUDIT_KEY）はバックアップに含まれません。別の安全な場所に保管してください / backup written: {} ({:.1} MB in {:.1} s); the audit key is not in it: keep it safe elsewhere",
        out.display(),
        size as f64 / 1_048_576.0,
        started.elapsed().as_secs_f64(),
        out.display(),
        size as f64 / 1_048_576.0,
        started.elapsed().as_secs_f64(),
    );
    Ok(())
}

async fn backup_sqlite(config: &Config, partial: &Path) -> Result<String, Failure> {
    let OpenedDatabase { store, target } = open_database(config).await?;
    let bar = spinner("バックアップ中 / copying");
    let copied = store.sqlite_copy_into(partial).await;
    store.close().await;
    copied.map_err(|e| Failure::database(&target, &e))?;
    let checked = check_copy(partial, &crate::database::audit_key(config)?).await;
    bar.finish_and_clear();
    let (version, counts) = checked?;
    Ok(format!(
        "\n  スキーマ版 {version}、整合性 ok、{} / schema {version}, integrity ok",
        counts_line(&counts)
    ))
}

/// Opens a SQLite copy, checks it is a sound Renkei database and reports its schema version
/// and row counts (the copy is brought to the current schema on the way).
async fn check_copy(path: &Path, key: &[u8]) -> Result<(i64, Vec<(&'static str, i64)>), Failure> {
    let target = path.display().to_string();
    let fail = |e| Failure::database(&target, &e);
    // With the key, so a copy from before the audit head was sealed is sealed as it is brought
    // to the current schema.
    let store = Store::open_sqlite(path)
        .await
        .map_err(fail)?
        .with_audit_key(key);
    let result = async {
        let problems = store.integrity_problems().await.map_err(fail)?;
        if !problems.is_empty() {
            return Err(Failure::new(
                1,
                format!("{target} は壊れています: {}", problems.join("; ")),
                format!("{target} is damaged: {}", problems.join("; ")),
            ));
        }
        let versions = store.applied_migrations().await.map_err(fail)?;
        if versions.is_empty() {
            return Err(Failure::new(
                2,
                format!("{target} は Renkei のデータベースではありません"),
                format!("{target} is not a Renkei database"),
            ));
        }
        store.migrate().await.map_err(fail)?;
        let counts = store.row_counts().await.map_err(fail)?;
        store.checkpoint_fully().await.map_err(fail)?;
        let version = store
            .applied_migrations()
            .await
            .map_err(fail)?
            .last()
            .copied()
            .unwrap_or(0);
        Ok((version, counts))
    }
    .await;
    store.close().await;
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    result
}

/// `renkei restore --from FILE [--force]`.
pub async fn restore(config: Config, from: PathBuf, force: bool) -> Result<(), Failure> {
    if !from.is_file() {
        return Err(Failure::new(
            2,
            format!(
                "{} が見つかりません。バックアップのファイルを --from で指定してください",
                from.display()
            ),
            format!(
                "{} not found; name the backup file with --from",
                from.display()
            ),
        ));
    }
    match &config.database_url {
        None => restore_sqlite(&config, &from, force).await?,
        Some(url) => restore_postgres(&config, url, &from, force).await?,
    }
    // The restored database at the current schema, with its audit chain checked under this
    // server's key.
    let OpenedDatabase { store, target } = open_database(&config).await?;
    let counts = store
        .row_counts()
        .await
        .map_err(|e| Failure::database(&target, &e))?;
    let chain = store.verify_audit().await;
    store.close().await;
    println!(
        "復元しました: {target}\n  {} / restored into {target}",
        counts_line(&counts)
    );
    match chain {
        Ok(v) if v.first_broken.is_none() => println!(
            "  監査ログの連鎖を確認しました（{} 件） / audit chain verified ({} entries)",
            v.checked, v.checked
        ),
        _ => println!(
            "  注意: 監査ログの連鎖をこの鍵で確認できません。バックアップ元と同じ audit.key（RENKEI_AUDIT_KEY）を使ってください / warning: the audit chain does not verify under this key; use the source's audit key"
        ),
    }
    Ok(())
}

async fn has_data(store: &Store) -> Result<bool, renkei_store::StoreError> {
    Ok(store
        .row_counts()
        .await?
        .iter()
        .any(|(t, n)| matches!(*t, "institutions" | "users") && *n > 0))
}

fn refuse_without_force(target: &str) -> Failure {
    Failure::new(
        2,
        format!("{target} にはデータがあります。置き換えるときは --force を付けてください（SQLite では元のデータベースを残します）"),
        format!("{target} holds data; add --force to replace it (SQLite keeps the replaced database)"),
    )
}

async fn restore_sqlite(config: &Config, from: &Path, force: bool) -> Result<(), Failure> {
    let dir = &config.data_dir;
    let lock = open_lock(dir)?;
    if lock.try_lock().is_err() {
        return Err(Failure::new(
            1,
            format!(
                "{} を Renkei のサーバーが使っています。サーバーを止めてから復元してください",
                dir.display()
            ),
            format!(
                "a Renkei server is using {}; stop it before restoring",
                dir.display()
            ),
        ));
    }
    let file = dir.join("renkei.db");
    let restoring = dir.join("renkei.db.restoring");
    let _ = std::fs::remove_file(&restoring);
    let bar = spinner("確認中 / checking");
    std::fs::copy(from, &restoring).map_err(|e| io_failure(&restoring, &e))?;
    if let Err(f) = check_copy(&restoring, &crate::database::audit_key(config)?).await {
        bar.finish_and_clear();
        let _ = std::fs::remove_file(&restoring);
        return Err(f);
    }
    bar.finish_and_clear();
    if file.exists() {
        let target = file.display().to_string();
        let current = Store::open_sqlite(&file)
            .await
            .map_err(|e| Failure::database(&target, &e))?;
        let checked = async {
            if has_data(&current).await? && !force {
                return Ok(false);
            }
            current.checkpoint_fully().await?;
            Ok(true)
        }
        .await;
        current.close().await;
        match checked {
            Ok(true) => {}
            Ok(false) => {
                let _ = std::fs::remove_file(&restoring);
                return Err(refuse_without_force(&target));
            }
            Err(e) => {
                let _ = std::fs::remove_file(&restoring);
                return Err(Failure::database(&target, &e));
            }
        }
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
        let aside = dir.join(format!("renkei.db.before-restore-{stamp}"));
        std::fs::rename(&file, &aside).map_err(|e| io_failure(&aside, &e))?;
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
        println!(
            "元のデータベースを {} として残しました / the replaced database is kept as {}",
            aside.display(),
            aside.display()
        );
    }
    std::fs::rename(&restoring, &file).map_err(|e| io_failure(&file, &e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_failure(dir, &e))?;
    drop(lock);
    Ok(())
}

/// The URL without its password, and the password (for `PGPASSWORD`).
fn split_password(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (a, h),
        None => return (url.to_owned(), None),
    };
    match auth.split_once(':') {
        Some((user, password)) => (
            format!("{scheme}://{user}@{host}"),
            Some(percent_decode(password)),
        ),
        None => (url.to_owned(), None),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs a PostgreSQL tool with the password in its environment.
fn pg_tool(tool: &str, url: &str, args: &[&str]) -> Result<(), Failure> {
    let (bare, password) = split_password(url);
    let mut cmd = std::process::Command::new(tool);
    cmd.args(args).arg("--dbname").arg(&bare);
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let output = cmd.output().map_err(|e| {
        Failure::new(
            1,
            format!("{tool} を実行できません（{e}）。PostgreSQL のクライアント（Debian: apt-get install postgresql-client）を入れてください"),
            format!("cannot run {tool} ({e}); install the PostgreSQL client (Debian: apt-get install postgresql-client)"),
        )
    })?;
    if output.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&output.stderr)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned();
    Err(Failure::new(
        1,
        format!("{tool} が失敗しました: {err}"),
        format!("{tool} failed: {err}"),
    ))
}

fn backup_postgres(url: &str, partial: &Path) -> Result<(), Failure> {
    let bar = spinner("pg_dump 中 / dumping");
    let file = partial.to_string_lossy().into_owned();
    let dumped = pg_tool(
        "pg_dump",
        url,
        &[
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            "--file",
            &file,
        ],
    );
    bar.finish_and_clear();
    dumped?;
    // The dump reads back (its table of contents), or it is no backup.
    let listed = std::process::Command::new("pg_restore")
        .arg("--list")
        .arg(partial)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !listed {
        return Err(Failure::new(
            1,
            "pg_dump の出力を読み返せません".to_owned(),
            "the dump does not read back".to_owned(),
        ));
    }
    Ok(())
}

async fn restore_postgres(
    config: &Config,
    url: &str,
    from: &Path,
    force: bool,
) -> Result<(), Failure> {
    let OpenedDatabase { store, target } = open_database(config).await?;
    let data = has_data(&store).await;
    store.close().await;
    if data.map_err(|e| Failure::database(&target, &e))? && !force {
        return Err(refuse_without_force(&target));
    }
    let bar = spinner("pg_restore 中 / restoring");
    let file = from.to_string_lossy().into_owned();
    let restored = pg_tool(
        "pg_restore",
        url,
        &[
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            &file,
        ],
    );
    bar.finish_and_clear();
    restored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_leave_the_url_for_the_environment() {
        assert_eq!(
            split_password("postgres://renkei:s%40cret@db:5432/renkei?sslmode=require"),
            (
                "postgres://renkei@db:5432/renkei?sslmode=require".to_owned(),
                Some("s@cret".to_owned())
            )
        );
        assert_eq!(
            split_password("postgres://postgres@127.0.0.1/x"),
            ("postgres://postgres@127.0.0.1/x".to_owned(), None)
        );
    }
}
