//! Storage errors, and their classification into problems a person can fix.

/// An error of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `DATABASE_URL` names a database Renkei does not support.
    #[error("unsupported database URL (use sqlite://… or postgres://…): {0}")]
    UnsupportedUrl(String),
    /// Any error reported by the database driver.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// An applied migration's text differs from the one in this build.
    #[error("migration {version} ({name}) was changed after it was applied")]
    MigrationChanged {
        /// Migration number.
        version: i64,
        /// Migration name.
        name: String,
    },
    /// The database has migrations this build does not know: it was written by a newer Renkei.
    #[error(
        "the database was migrated by a newer Renkei (migration {0} is unknown to this build)"
    )]
    NewerSchema(i64),
    /// Data that breaks a domain rule.
    #[error("{0}")]
    Invalid(String),
    /// A row that should exist does not.
    #[error("not found: {0}")]
    NotFound(String),
    /// Someone else saved first: the write was based on an older revision.
    #[error("{0}")]
    Conflict(String),
}

/// What kind of problem stopped the database from opening, for a message that names the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbProblem {
    /// The SQLite file exists but is not a database (corrupt or another file).
    NotADatabase,
    /// The SQLite file or its directory cannot be read or written.
    FileAccess,
    /// No server answers at the address.
    ConnectionRefused,
    /// The server answers but the named database does not exist.
    DatabaseMissing,
    /// The server refused the credentials.
    AuthFailed,
    /// The URL is not a supported database URL.
    BadUrl,
    /// The schema belongs to a newer Renkei or was edited.
    Schema,
    /// Anything else.
    Other,
}

impl StoreError {
    /// Whether the database is temporarily out of reach (pool exhausted or closed, connection
    /// lost), so the request may succeed later: 503 rather than 500.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
            )
        )
    }

    /// Classifies the error for a start-up message.
    pub fn problem(&self) -> DbProblem {
        match self {
            StoreError::UnsupportedUrl(_) => DbProblem::BadUrl,
            StoreError::MigrationChanged { .. } | StoreError::NewerSchema(_) => DbProblem::Schema,
            StoreError::Database(e) => classify_sqlx(e),
            StoreError::Invalid(_) | StoreError::NotFound(_) | StoreError::Conflict(_) => {
                DbProblem::Other
            }
        }
    }
}

fn classify_sqlx(e: &sqlx::Error) -> DbProblem {
    match e {
        sqlx::Error::Configuration(_) => DbProblem::BadUrl,
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            DbProblem::ConnectionRefused
        }
        sqlx::Error::Io(_) => DbProblem::ConnectionRefused,
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            if db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some()
            {
                return match code.as_str() {
                    "3D000" => DbProblem::DatabaseMissing,
                    "28P01" | "28000" => DbProblem::AuthFailed,
                    _ => DbProblem::Other,
                };
            }
            // SQLite reports extended result codes; the primary code is the low byte.
            match code.parse::<i32>().map(|c| c & 0xff) {
                // SQLITE_NOTADB, SQLITE_CORRUPT
                Ok(26) | Ok(11) => DbProblem::NotADatabase,
                // SQLITE_CANTOPEN, SQLITE_READONLY, SQLITE_PERM, SQLITE_IOERR
                Ok(14) | Ok(8) | Ok(3) | Ok(10) => DbProblem::FileAccess,
                _ => DbProblem::Other,
            }
        }
        _ => DbProblem::Other,
    }
}
