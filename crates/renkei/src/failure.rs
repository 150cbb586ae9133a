//! Start-up and command failures: one line in Japanese and English that names the problem and
//! the fix, and the exit code.

use renkei_store::{DbProblem, StoreError};
use std::path::Path;
use std::process::ExitCode;

/// A failure a person can act on.
#[derive(Debug)]
pub struct Failure {
    /// Japanese message.
    pub ja: String,
    /// English message.
    pub en: String,
    /// Exit code: 2 for bad configuration or input, 1 for everything else.
    pub code: u8,
}

impl Failure {
    /// A failure with both messages.
    pub fn new(code: u8, ja: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            ja: ja.into(),
            en: en.into(),
            code,
        }
    }

    /// The async runtime could not start.
    pub fn runtime(e: std::io::Error) -> Self {
        Self::new(
            1,
            format!("実行環境を起動できません（{e}）"),
            format!("cannot start the runtime ({e})"),
        )
    }

    /// The configuration file is unreadable or invalid.
    pub fn config(path: &Path, reason: impl std::fmt::Display) -> Self {
        Self::new(
            2,
            format!("設定ファイル {} を読めません: {reason}。ファイルを直すか --config を外してください", path.display()),
            format!("cannot read config file {}: {reason}; fix it or drop --config", path.display()),
        )
    }

    /// The listen address cannot be bound.
    pub fn listen(addr: &str, e: &std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::AddrInUse => Self::new(
                1,
                format!("ポート {addr} は他のプログラムが使用中です。そのプログラムを止めるか、--listen 127.0.0.1:8081 のように別のポートを指定してください"),
                format!("address {addr} is already in use; stop the other program or choose another port with --listen 127.0.0.1:8081"),
            ),
            std::io::ErrorKind::PermissionDenied => Self::new(
                1,
                format!("{addr} で待ち受ける権限がありません。1024 以上のポートを --listen で指定してください"),
                format!("no permission to listen on {addr}; use a port of 1024 or above with --listen"),
            ),
            _ => Self::new(
                1,
                format!("{addr} で待ち受けできません（{e}）。--listen の値を確認してください"),
                format!("cannot listen on {addr} ({e}); check --listen"),
            ),
        }
    }

    /// The listen address does not parse.
    pub fn listen_syntax(addr: &str) -> Self {
        Self::new(
            2,
            format!(
                "待ち受けアドレス「{addr}」が不正です。127.0.0.1:8080 の形式で指定してください"
            ),
            format!("invalid listen address \"{addr}\"; use the form 127.0.0.1:8080"),
        )
    }

    /// The data directory cannot be created or written.
    pub fn data_dir(dir: &Path, e: &std::io::Error) -> Self {
        Self::new(
            1,
            format!("データディレクトリ {} に書き込めません（{e}）。書き込み可能なディレクトリを --data-dir で指定するか、権限を確認してください", dir.display()),
            format!("cannot write to data directory {} ({e}); choose a writable directory with --data-dir or fix its permissions", dir.display()),
        )
    }

    /// The database could not be opened, migrated or used.
    pub fn database(target: &str, e: &StoreError) -> Self {
        let (ja, en) = match e.problem() {
            DbProblem::NotADatabase => (
                format!("{target} はデータベースファイルではないか、壊れています。バックアップから戻すか、ファイルを移動して新しく作り直してください"),
                format!("{target} is not a database or is corrupt; restore it from a backup, or move it away to start afresh"),
            ),
            DbProblem::FileAccess => (
                format!("データベースファイル {target} を開けません（{e}）。ファイルとディレクトリの権限を確認してください"),
                format!("cannot open database file {target} ({e}); check the permissions of the file and its directory"),
            ),
            DbProblem::ConnectionRefused => (
                format!("データベース {target} に接続できません（{e}）。サーバーが起動しているか、DATABASE_URL のホストとポートを確認してください"),
                format!("cannot connect to database {target} ({e}); check that the server runs and the host and port in DATABASE_URL"),
            ),
            DbProblem::DatabaseMissing => (
                format!("データベース {target} が存在しません。createdb で作成するか、DATABASE_URL のデータベース名を確認してください"),
                format!("database {target} does not exist; create it with createdb or fix the database name in DATABASE_URL"),
            ),
            DbProblem::AuthFailed => (
                format!("データベース {target} へのログインが拒否されました。DATABASE_URL のユーザー名とパスワードを確認してください"),
                format!("the database {target} refused the login; check the user and password in DATABASE_URL"),
            ),
            DbProblem::BadUrl => (
                format!("DATABASE_URL「{target}」は使えません。sqlite://パス または postgres://ユーザー@ホスト:ポート/データベース の形式で指定してください"),
                format!("DATABASE_URL \"{target}\" is not usable; use sqlite://PATH or postgres://USER@HOST:PORT/DATABASE"),
            ),
            DbProblem::Schema => (
                format!("データベース {target} のスキーマがこの Renkei と合いません（{e}）。新しい版の Renkei を使うか、バックアップから戻してください"),
                format!("the schema of {target} does not match this Renkei ({e}); use the newer Renkei or restore a backup"),
            ),
            DbProblem::Other => (
                format!("データベース {target} でエラーが発生しました（{e}）"),
                format!("database {target} failed ({e})"),
            ),
        };
        let code = if e.problem() == DbProblem::BadUrl {
            2
        } else {
            1
        };
        Self::new(code, ja, en)
    }
}

/// Prints the failure as one line on standard error and returns its exit code.
pub fn report(failure: &Failure) -> ExitCode {
    let line = format!("エラー: {} / Error: {}", failure.ja, failure.en);
    eprintln!("{}", line.replace(['\n', '\r'], " "));
    ExitCode::from(failure.code)
}
