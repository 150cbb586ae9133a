//! The command line: `renkei serve | migrate | demo`.

use crate::config::{Config, ConfigArgs};
use crate::database::{open_database, OpenedDatabase};
use crate::failure::Failure;
use clap::{Parser, Subcommand};

/// Renkei (連携): the information system of a region's home-medical-care collaboration.
///
/// Settings come from, in rising priority: built-in defaults, a TOML file (`--config`, or
/// `renkei.toml` in the working directory when present), `RENKEI_*` environment variables
/// (and `DATABASE_URL`), then flags.
#[derive(Debug, Parser)]
#[command(name = "renkei", version, about, long_about)]
pub struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web server (applies migrations and loads the region first).
    ///
    /// With no settings: a SQLite database under ./renkei-data/, listening on
    /// http://127.0.0.1:8080/. Stop it with Ctrl-C or SIGTERM; running requests finish first.
    Serve {
        /// Load the demo data (fictional institutions of the 中河内 region) into an empty database.
        #[arg(long, env = "RENKEI_DEMO")]
        demo: bool,
    },
    /// Apply pending database migrations and report the schema version.
    Migrate,
    /// Load the demo data into an empty database without serving.
    Demo,
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let config = Config::load(&cli.config)?;
    crate::serve::init_logging(&config.log);
    match cli.command {
        Command::Serve { demo } => {
            let demo = demo || config.demo;
            crate::serve::serve(config, demo).await
        }
        Command::Migrate => migrate(config).await,
        Command::Demo => demo(config).await,
    }
}

async fn migrate(config: Config) -> Result<(), Failure> {
    let OpenedDatabase { store, target, .. } = open_database(&config).await?;
    let versions = store
        .applied_migrations()
        .await
        .map_err(|e| Failure::database(&target, &e))?;
    println!(
        "データベース {target}: スキーマ版 {} / schema version {}",
        versions.last().copied().unwrap_or(0),
        versions.last().copied().unwrap_or(0)
    );
    store.close().await;
    Ok(())
}

async fn demo(config: Config) -> Result<(), Failure> {
    let OpenedDatabase { store, target, .. } = open_database(&config).await?;
    let loaded = crate::database::load_demo(&store, &target).await?;
    if loaded == 0 {
        println!("{target} にはすでに医療機関が登録されているため、デモデータは読み込みませんでした / the database already has institutions; demo data not loaded");
    } else {
        println!("{target} にデモデータ（架空の医療機関 {loaded} 件）を読み込みました / loaded {loaded} fictional demo institutions");
    }
    store.close().await;
    Ok(())
}
