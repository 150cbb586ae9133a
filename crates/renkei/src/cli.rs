//! The command line: `renkei serve | migrate | backup | restore | demo | export | import | report | safety-check |
//! admin | audit | towns`.

use crate::config::{Config, ConfigArgs};
use crate::database::{open_database, OpenedDatabase};
use crate::failure::Failure;
use clap::{Parser, Subcommand};
use renkei_store::StoreError;

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
        /// Append the audit chain's signed head to this file every --audit-anchor-minutes
        /// (keep it on other storage, e.g. a mounted share); `renkei audit verify --anchor`
        /// checks the log against it [default: none].
        #[arg(long, env = "RENKEI_AUDIT_ANCHOR", value_name = "FILE")]
        audit_anchor: Option<std::path::PathBuf>,
        /// Minutes between two anchors [default: 10].
        #[arg(
            long,
            env = "RENKEI_AUDIT_ANCHOR_MINUTES",
            value_name = "MINUTES",
            default_value_t = 10
        )]
        audit_anchor_minutes: u64,
    },
    /// Apply pending database migrations and report the schema version.
    Migrate,
    /// Make a consistent backup of the database while Renkei runs.
    ///
    /// SQLite: one file, copied from a single snapshot (VACUUM INTO) while the server goes on
    /// serving, then checked (integrity, schema, row counts) before it gets its name.
    /// PostgreSQL: pg_dump's custom format (the PostgreSQL client must be installed). The
    /// server's secret (audit.key / RENKEI_AUDIT_KEY) is not in the backup: keep it apart.
    ///
    /// Example (cron, daily at 02:30): 30 2 * * * cd /srv/renkei && renkei backup --out /backup/renkei-$(date +\%F).db
    Backup {
        /// The backup file (never overwritten); renkei-backup-<date>-<time>.db by default.
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
    /// Replace the database with a backup. Stop every server first.
    ///
    /// The backup is checked and brought to the current schema before anything is replaced;
    /// with SQLite the replaced database is kept beside it (renkei.db.before-restore-<time>).
    /// A database holding data is replaced only with --force. Use the same audit key as the
    /// source, or the care team's sealed files do not open.
    Restore {
        /// The backup file to restore.
        #[arg(long, value_name = "FILE")]
        from: std::path::PathBuf,
        /// Replace a database that holds data.
        #[arg(long)]
        force: bool,
    },
    /// Load the demo data into an empty database without serving.
    Demo {
        /// Print the current two-factor code of a demo account instead.
        #[arg(long, value_name = "EMAIL")]
        code: Option<String>,
    },
    /// Export the directory of institutions.
    ///
    /// CSV is UTF-8 with a BOM and Japanese headers (Excel opens it directly); GeoJSON is a
    /// FeatureCollection of points (longitude first). A progress bar shows on the terminal.
    Export {
        /// csv, xlsx or geojson.
        #[arg(long, value_parser = ["csv", "xlsx", "geojson"], default_value = "csv")]
        format: String,
        /// Output file; standard output when omitted.
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
    /// Import a directory file: Excel (.xlsx, first sheet) or CSV in UTF-8 or Shift_JIS, with
    /// the columns `renkei export` writes (名称, 種別, 地域 and 所在地 are required). Every bad
    /// row is listed with its line, column and reason; nothing is written while any row is bad
    /// unless --skip-bad-rows is given. Rows repeating an earlier 医療機関コード or name and
    /// address are reported and left out. Importing the same file again changes nothing.
    Import {
        /// The .xlsx or .csv file (at most 100 MB).
        file: std::path::PathBuf,
        /// Check and report only; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Import the good rows even when some rows are bad.
        #[arg(long)]
        skip_bad_rows: bool,
    },
    /// Write the prefecture report (資料2: 連携の拠点の取組について) of a fiscal year from the
    /// hubs' ledgers, laid out like the hubs' own report: per hub the header, （１）results of
    /// the previous year, （２）challenges, （３）plan, （４）progress by duty ①〜⑤, then the
    /// active institutions' part with the 対応状況 the hub recorded for that year (with its
    /// source; a hub that reported none gets none, never 0件). An entry of several duties is
    /// printed once, under its first duty. Every printed page names its hub. Parts nobody
    /// entered say 「未入力」.
    ///
    /// Example: renkei report --fy 令和7 --format xlsx --out 資料2.xlsx
    Report {
        /// The fiscal year (年度): 2025, 令和7, R7 or FY2025.
        #[arg(long, value_name = "YEAR")]
        fy: String,
        /// Only these areas (codes such as yao or higashiosaka-west; repeat for several).
        #[arg(long = "area", value_name = "CODE")]
        areas: Vec<String>,
        /// html (prints on A4 landscape), xlsx (a sheet per hub) or md (Markdown).
        #[arg(long, value_parser = ["html", "xlsx", "md"], default_value = "html")]
        format: String,
        /// Output file; standard output when omitted (required for xlsx).
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
    /// Safety checks (安否確認): create a drill or a real alert, follow it, export it.
    #[command(subcommand, name = "safety-check")]
    SafetyCheck(SafetyCommand),
    /// Manage user accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Check the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// List towns (町丁目) with their area, or correct a town's area.
    #[command(subcommand)]
    Towns(TownsCommand),
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create a user with a role in an organisation, and print a one-time password.
    ///
    /// Roles: system_admin, hub_coordinator, institution_admin, institution_staff,
    /// prefecture_viewer. A hub coordinator needs --area, institution roles --institution.
    CreateUser {
        /// E-mail address (the login name).
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Role code.
        #[arg(long)]
        role: String,
        /// Organisation name (e.g. 八尾市医師会, 大阪府).
        #[arg(long)]
        organisation: String,
        /// Area code of a hub organisation (e.g. yao).
        #[arg(long)]
        area: Option<String>,
        /// Institution id of an institution organisation.
        #[arg(long)]
        institution: Option<i64>,
    },
    /// Set a new random password, end the user's sessions and print the password.
    ResetPassword {
        /// E-mail address.
        #[arg(long)]
        email: String,
    },
    /// Disable a user: their sessions end at once.
    DisableUser {
        /// E-mail address.
        #[arg(long)]
        email: String,
    },
    /// List users with their roles.
    ListUsers,
}

#[derive(Debug, Subcommand)]
enum SafetyCommand {
    /// Create a check for the institutions of some areas and queue each one's notice mail with
    /// its own response link (the running server delivers and retries the mail).
    ///
    /// Example: renkei safety-check create --title "880万人訓練" --deadline 2026-12-01T18:00
    /// --area yao --kind hospital --kind clinic
    Create {
        /// Title shown in the mail and on the response page.
        #[arg(long)]
        title: String,
        /// Answers are taken until (Japan time): 2026-12-01T18:00.
        #[arg(long, value_name = "JST")]
        deadline: String,
        /// A real alert (実災害) instead of a drill (訓練).
        #[arg(long)]
        actual: bool,
        /// Area codes (repeat for several), e.g. yao, higashiosaka-west.
        #[arg(long = "area", value_name = "CODE", required = true)]
        areas: Vec<String>,
        /// Institution kinds (repeat; none: every kind), e.g. hospital, clinic.
        #[arg(long = "kind", value_name = "CODE")]
        kinds: Vec<String>,
        /// Only active institutions (積極的医療機関).
        #[arg(long)]
        active_only: bool,
        /// A message to the institutions.
        #[arg(long, default_value = "")]
        message: String,
        /// Remind those who have not answered this many minutes before the deadline (repeat
        /// for several; the running server sends them).
        #[arg(long = "remind-before", value_name = "MINUTES")]
        reminders_before: Vec<u32>,
    },
    /// Every check; or, given an id, one check's answers by state and area.
    Status {
        /// The check's id.
        id: Option<i64>,
    },
    /// A check's answers (or, with --links, each target's response link for fax and phone) as
    /// CSV (Excel-ready) or xlsx.
    Export {
        /// The check's id.
        id: i64,
        /// The links instead of the answers.
        #[arg(long)]
        links: bool,
        /// csv or xlsx.
        #[arg(long, value_parser = ["csv", "xlsx"], default_value = "csv")]
        format: String,
        /// Output file; standard output when omitted (required for xlsx).
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verify the hash chain; reports the first broken link and exits 1 if there is one.
    ///
    /// With --anchor, the log must also still hold every entry the anchor file names, with the
    /// same hash: a log cut at the end, or rewritten, fails even when its head was restored.
    Verify {
        /// An anchor file written by `renkei audit anchor` or `serve --audit-anchor`.
        #[arg(long, value_name = "FILE")]
        anchor: Option<std::path::PathBuf>,
    },
    /// Append the chain's head, signed with the audit key, to an anchor file kept outside the
    /// database. Run it from cron and keep the file on another machine; `audit verify
    /// --anchor FILE` then finds entries cut from the end of the log.
    Anchor {
        /// The anchor file (created if missing; one line is appended).
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum TownsCommand {
    /// List towns as CSV (municipality, town, area, assignment, lat, lng).
    ///
    /// The assignment is `municipality` (the city has one area), `approximation` (東大阪市's
    /// districts, approximated by longitude) or `coordinator` (corrected by hand).
    List {
        /// Only the towns of this area code (e.g. higashiosaka-west).
        #[arg(long)]
        area: Option<String>,
        /// Only towns still assigned by approximation.
        #[arg(long)]
        approximated: bool,
    },
    /// Put a town into another area of its city (a coordinator's correction); the town's
    /// institutions move with it.
    SetArea {
        /// Municipality name, e.g. 東大阪市.
        #[arg(long)]
        city: String,
        /// Town name, e.g. 荒本北一丁目 (全角/半角 and spaces do not matter).
        #[arg(long)]
        town: String,
        /// Area code, e.g. higashiosaka-central.
        #[arg(long)]
        area: String,
    },
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let config = Config::load(&cli.config)?;
    crate::serve::init_logging(&config.log);
    match cli.command {
        Command::Serve {
            demo,
            audit_anchor,
            audit_anchor_minutes,
        } => {
            let demo = demo || config.demo;
            let anchor = audit_anchor.map(|file| crate::serve::AnchorSettings {
                file,
                every: std::time::Duration::from_secs(audit_anchor_minutes.max(1) * 60),
            });
            crate::serve::serve(config, demo, anchor).await
        }
        Command::Migrate => migrate(config).await,
        Command::Backup { out } => crate::backup::backup(config, out).await,
        Command::Restore { from, force } => crate::backup::restore(config, from, force).await,
        Command::Demo { code: Some(email) } => demo_code(&email),
        Command::Demo { code: None } => demo(config).await,
        Command::Admin(command) => crate::admin::run(config, command_into(command)).await,
        Command::Audit(AuditCommand::Verify { anchor }) => {
            crate::admin::verify_audit(config, anchor).await
        }
        Command::Audit(AuditCommand::Anchor { out }) => {
            crate::admin::write_audit_anchor(config, &out).await
        }
        Command::Towns(command) => towns(config, command).await,
        Command::Import {
            file,
            dry_run,
            skip_bad_rows,
        } => crate::import::run(config, &file, dry_run, skip_bad_rows).await,
        Command::Report {
            fy,
            areas,
            format,
            out,
        } => crate::report::run(config, &fy, &areas, &format, out.as_deref()).await,
        Command::SafetyCheck(SafetyCommand::Create {
            title,
            deadline,
            actual,
            areas,
            kinds,
            active_only,
            message,
            reminders_before,
        }) => {
            crate::safety::create(
                config,
                crate::safety::CreateArgs {
                    title,
                    deadline,
                    actual,
                    areas,
                    kinds,
                    active_only,
                    message,
                    reminders_before,
                },
            )
            .await
        }
        Command::SafetyCheck(SafetyCommand::Status { id }) => {
            crate::safety::status(config, id).await
        }
        Command::SafetyCheck(SafetyCommand::Export {
            id,
            links,
            format,
            out,
        }) => crate::safety::export(config, id, links, &format, out.as_deref()).await,
        Command::Export { format, out } => {
            crate::export::run(config, &format, out.as_deref()).await
        }
    }
}

async fn towns(config: Config, command: TownsCommand) -> Result<(), Failure> {
    let OpenedDatabase { store, target } = open_database(&config).await?;
    let result = match command {
        TownsCommand::List { area, approximated } => {
            let rows = store
                .towns(area.as_deref())
                .await
                .map_err(|e| Failure::database(&target, &e))?;
            println!("municipality,town,area,assignment,lat,lng");
            for t in rows
                .iter()
                .filter(|t| !approximated || t.assignment == "approximation")
            {
                println!(
                    "{},{},{},{},{},{}",
                    t.municipality,
                    t.name,
                    t.area.as_deref().unwrap_or(""),
                    t.assignment,
                    t.lat,
                    t.lng
                );
            }
            Ok(())
        }
        TownsCommand::SetArea { city, town, area } => {
            match store.set_town_area(&city, &town, &area).await {
                Ok(row) => {
                    println!(
                        "{}{} を {} に設定しました / set {}{} to area {}",
                        row.municipality, row.name, area, row.municipality, row.name, area
                    );
                    Ok(())
                }
                Err(e @ (StoreError::NotFound(_) | StoreError::Invalid(_))) => Err(Failure::new(
                    2,
                    format!("{e}。`renkei towns list` で町丁目名と地域コードを確認してください"),
                    format!("{e}; check the town name and area code with `renkei towns list`"),
                )),
                Err(e) => Err(Failure::database(&target, &e)),
            }
        }
    };
    store.close().await;
    result
}

async fn migrate(config: Config) -> Result<(), Failure> {
    let OpenedDatabase { store, target } = open_database(&config).await?;
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

fn command_into(command: AdminCommand) -> crate::admin::AdminAction {
    use crate::admin::AdminAction;
    match command {
        AdminCommand::CreateUser {
            email,
            name,
            role,
            organisation,
            area,
            institution,
        } => AdminAction::CreateUser {
            email,
            name,
            role,
            organisation,
            area,
            institution,
        },
        AdminCommand::ResetPassword { email } => AdminAction::ResetPassword { email },
        AdminCommand::DisableUser { email } => AdminAction::DisableUser { email },
        AdminCommand::ListUsers => AdminAction::ListUsers,
    }
}

fn demo_code(email: &str) -> Result<(), Failure> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    match crate::demo_accounts::current_code(email.trim(), now) {
        Some(code) => {
            println!("{code}");
            Ok(())
        }
        None => Err(Failure::new(
            2,
            format!("{email} は二要素認証のあるデモ用アカウントではありません"),
            format!("{email} is not a demo account with a second factor"),
        )),
    }
}

async fn demo(config: Config) -> Result<(), Failure> {
    let OpenedDatabase { store, target } = open_database(&config).await?;
    let loaded = crate::database::load_demo(&store, &target).await?;
    if loaded == 0 {
        println!("{target} にはすでに医療機関が登録されているため、デモデータは読み込みませんでした / the database already has institutions; demo data not loaded");
    } else {
        println!("{target} にデモデータ（架空の医療機関 {loaded} 件）を読み込みました / loaded {loaded} fictional demo institutions");
    }
    store.close().await;
    Ok(())
}
