//! Configuration: defaults, then a TOML file, then `RENKEI_*` environment variables, then flags.

use crate::failure::Failure;
use clap::Args;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Settings shared by every subcommand (flags or environment variables).
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// TOML configuration file [default: ./renkei.toml when it exists].
    #[arg(long, global = true, env = "RENKEI_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory for the embedded SQLite database and other files [default: ./renkei-data].
    #[arg(long, global = true, env = "RENKEI_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL: postgres://USER@HOST:PORT/DB for PostgreSQL, or sqlite://PATH.
    /// Without it, SQLite at DATA_DIR/renkei.db.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, global = true, env = "RENKEI_LISTEN", value_name = "ADDR")]
    listen: Option<String>,
    /// Log filter, e.g. info, debug, renkei=debug [default: info].
    #[arg(long, global = true, env = "RENKEI_LOG", value_name = "FILTER")]
    log: Option<String>,
    /// Largest accepted request body in bytes [default: 2097152].
    #[arg(long, global = true, env = "RENKEI_BODY_LIMIT", value_name = "BYTES")]
    body_limit: Option<usize>,
    /// Seconds after which a request is cut off [default: 30].
    #[arg(
        long,
        global = true,
        env = "RENKEI_REQUEST_TIMEOUT",
        value_name = "SECONDS"
    )]
    request_timeout: Option<u64>,
    /// Most connections served at once; more are refused at once with 503 and Retry-After
    /// [default: 1024].
    #[arg(long, global = true, env = "RENKEI_MAX_CONNECTIONS", value_name = "N")]
    max_connections: Option<usize>,
    /// Seconds a client has to send a request's headers before the connection is closed
    /// (slow clients must not hold connections) [default: 10].
    #[arg(
        long,
        global = true,
        env = "RENKEI_HEADER_TIMEOUT",
        value_name = "SECONDS"
    )]
    header_timeout: Option<u64>,
    /// Most connections served at once from one client address (an IPv6 client by its /64;
    /// trusted proxies are exempt) [default: 128].
    #[arg(
        long,
        global = true,
        env = "RENKEI_MAX_CONNECTIONS_PER_CLIENT",
        value_name = "N"
    )]
    max_connections_per_client: Option<usize>,
    /// Reverse proxies in front of Renkei (comma-separated addresses or ranges, e.g.
    /// 127.0.0.1,10.0.0.0/8). Only from these is the client's address read from
    /// X-Forwarded-For / Forwarded (for login throttling and the audit log); without it every
    /// user behind a proxy would share the proxy's address [default: none].
    #[arg(
        long,
        global = true,
        env = "RENKEI_TRUSTED_PROXY",
        value_name = "RANGES"
    )]
    trusted_proxy: Option<String>,
    /// The address people use to reach Renkei, e.g. https://renkei.example.jp/ [default:
    /// http://LISTEN/]. With https, cookies are marked Secure.
    #[arg(long, global = true, env = "RENKEI_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
    /// The canonical base of the FHIR identifier systems and code systems, e.g.
    /// https://renkei.example.jp/fhir: it names, and must not change with the address the
    /// server is reached at, so integrators' stored codes keep their meaning [default:
    /// https://renkei.example/fhir; set it once, before publishing, to a URL of your own].
    #[arg(long, global = true, env = "RENKEI_FHIR_CANONICAL", value_name = "URL")]
    fhir_canonical: Option<String>,
    /// Minutes without activity after which a session ends [default: 30].
    #[arg(
        long,
        global = true,
        env = "RENKEI_SESSION_IDLE_MINUTES",
        value_name = "MINUTES"
    )]
    session_idle_minutes: Option<i64>,
    /// Hours after login after which a session ends however active [default: 12].
    #[arg(
        long,
        global = true,
        env = "RENKEI_SESSION_LIFETIME_HOURS",
        value_name = "HOURS"
    )]
    session_lifetime_hours: Option<i64>,
    /// Key that signs the audit log's hash chain [default: read from, or created in,
    /// DATA_DIR/audit.key]. Every instance serving one database needs the same key.
    #[arg(
        long,
        global = true,
        env = "RENKEI_AUDIT_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    audit_key: Option<String>,
    /// SMTP server for invitations and password resets: smtp://USER:PASS@HOST:587 (STARTTLS),
    /// smtps://… (TLS), or smtp://HOST:25?tls=none. Without it, mail waits in the outbox that
    /// administrators read in the UI.
    #[arg(
        long,
        global = true,
        env = "RENKEI_SMTP_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    smtp_url: Option<String>,
    /// Sender address of Renkei's mail [default: Renkei <noreply@localhost.localdomain>].
    #[arg(long, global = true, env = "RENKEI_MAIL_FROM", value_name = "ADDRESS")]
    mail_from: Option<String>,
    /// Map background tiles, a URL template with {z}/{x}/{y} [default: 国土地理院 standard map,
    /// https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png]. Give "none" for no tiles (a
    /// closed network): the area outlines and markers still show.
    #[arg(long, global = true, env = "RENKEI_MAP_TILE_URL", value_name = "URL")]
    map_tile_url: Option<String>,
    /// The tiles' credit as their provider requires [default: 地理院タイル].
    #[arg(
        long,
        global = true,
        env = "RENKEI_MAP_ATTRIBUTION",
        value_name = "TEXT"
    )]
    map_attribution: Option<String>,
}

/// The same settings as they may appear in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    listen: Option<String>,
    log: Option<String>,
    demo: Option<bool>,
    body_limit: Option<usize>,
    request_timeout: Option<u64>,
    max_connections: Option<usize>,
    header_timeout: Option<u64>,
    max_connections_per_client: Option<usize>,
    trusted_proxy: Option<String>,
    public_url: Option<String>,
    fhir_canonical: Option<String>,
    session_idle_minutes: Option<i64>,
    session_lifetime_hours: Option<i64>,
    audit_key: Option<String>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    map_tile_url: Option<String>,
    map_attribution: Option<String>,
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Data directory.
    pub data_dir: PathBuf,
    /// PostgreSQL or SQLite URL; `None` means SQLite in the data directory.
    pub database_url: Option<String>,
    /// Listen address.
    pub listen: String,
    /// Log filter.
    pub log: String,
    /// Load demo data into an empty database at start.
    pub demo: bool,
    /// Request body limit.
    pub body_limit: usize,
    /// Request timeout.
    pub request_timeout: Duration,
    /// Most connections served at once.
    pub max_connections: usize,
    /// Time allowed for a request's headers.
    pub header_timeout: Duration,
    /// Most connections served at once for one client.
    pub max_connections_per_client: usize,
    /// Reverse proxies whose forwarding headers are believed.
    pub trusted_proxies: Vec<renkei_web::auth::client::Cidr>,
    /// The public address.
    pub public_url: String,
    /// The canonical base of FHIR identifier and code systems.
    pub fhir_canonical: String,
    /// Session idle limit.
    pub session_idle: chrono::Duration,
    /// Session absolute lifetime.
    pub session_lifetime: chrono::Duration,
    /// Audit key given in the settings (otherwise the key file).
    pub audit_key: Option<String>,
    /// SMTP URL.
    pub smtp_url: Option<String>,
    /// Sender address.
    pub mail_from: String,
    /// Map tiles (empty URL: none).
    pub map: renkei_web::MapSettings,
}

impl Config {
    /// Merges defaults, the file and the arguments.
    pub fn load(args: &ConfigArgs) -> Result<Config, Failure> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None if Path::new("renkei.toml").exists() => read_file(Path::new("renkei.toml"))?,
            None => FileConfig::default(),
        };
        let listen = args
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let positive = |v: Option<i64>, default: i64| v.filter(|n| *n > 0).unwrap_or(default);
        Ok(Config {
            public_url: args
                .public_url
                .clone()
                .or(file.public_url)
                .unwrap_or_else(|| format!("http://{listen}/")),
            fhir_canonical: args
                .fhir_canonical
                .clone()
                .or(file.fhir_canonical)
                .filter(|u| !u.trim().is_empty())
                .unwrap_or_else(|| renkei_web::DEFAULT_FHIR_CANONICAL.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            session_idle: chrono::Duration::minutes(positive(
                args.session_idle_minutes.or(file.session_idle_minutes),
                30,
            )),
            session_lifetime: chrono::Duration::hours(positive(
                args.session_lifetime_hours.or(file.session_lifetime_hours),
                12,
            )),
            smtp_url: args
                .smtp_url
                .clone()
                .or(file.smtp_url)
                .filter(|u| !u.is_empty()),
            mail_from: args
                .mail_from
                .clone()
                .or(file.mail_from)
                .unwrap_or_else(|| "Renkei <noreply@localhost.localdomain>".to_owned()),
            map: map_settings(
                args.map_tile_url.clone().or(file.map_tile_url),
                args.map_attribution.clone().or(file.map_attribution),
            )?,
            audit_key: args
                .audit_key
                .clone()
                .or(file.audit_key)
                .filter(|k| !k.is_empty()),
            data_dir: args
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("renkei-data")),
            database_url: args
                .database_url
                .clone()
                .or_else(|| std::env::var("RENKEI_DATABASE_URL").ok())
                .or(file.database_url)
                .filter(|u| !u.trim().is_empty()),
            listen,
            log: args
                .log
                .clone()
                .or(file.log)
                .unwrap_or_else(|| "info".to_owned()),
            demo: file.demo.unwrap_or(false),
            body_limit: args
                .body_limit
                .or(file.body_limit)
                .unwrap_or(2 * 1024 * 1024),
            request_timeout: Duration::from_secs(
                args.request_timeout.or(file.request_timeout).unwrap_or(30),
            ),
            max_connections: args
                .max_connections
                .or(file.max_connections)
                .filter(|n| *n > 0)
                .unwrap_or(1024),
            max_connections_per_client: args
                .max_connections_per_client
                .or(file.max_connections_per_client)
                .filter(|n| *n > 0)
                .unwrap_or(128),
            trusted_proxies: renkei_web::auth::client::parse_list(
                args.trusted_proxy
                    .as_deref()
                    .or(file.trusted_proxy.as_deref())
                    .unwrap_or(""),
            )
            .map_err(|e| Failure::new(2, e.to_string(), e.to_string()))?,
            header_timeout: Duration::from_secs(
                args.header_timeout
                    .or(file.header_timeout)
                    .filter(|n| *n > 0)
                    .unwrap_or(10),
            ),
        })
    }
}

/// The map settings from the tile URL and credit given, defaults for what is not given;
/// "none" (or an empty URL) turns the tiles off.
fn map_settings(
    tile_url: Option<String>,
    attribution: Option<String>,
) -> Result<renkei_web::MapSettings, Failure> {
    let default = renkei_web::MapSettings::default();
    let tile_url = match tile_url.map(|u| u.trim().to_owned()) {
        Some(u) if u.is_empty() || u.eq_ignore_ascii_case("none") => String::new(),
        Some(u) => u,
        None => default.tile_url,
    };
    let attribution = match attribution.filter(|a| !a.trim().is_empty()) {
        Some(a) => a,
        None if tile_url.is_empty() => String::new(),
        None => default.attribution,
    };
    let map = renkei_web::MapSettings {
        tile_url,
        attribution,
    };
    if !map.tile_url.is_empty() && map.tile_origin().is_none() {
        return Err(Failure::new(
            2,
            format!(
                "地図タイルの URL「{}」が不正です。https://サーバー/{{z}}/{{x}}/{{y}}.png の形式か、タイルを使わないなら none を指定してください",
                map.tile_url
            ),
            format!(
                "invalid map tile URL \"{}\"; use https://host/{{z}}/{{x}}/{{y}}.png, or none for no tiles",
                map.tile_url
            ),
        ));
    }
    Ok(map)
}

fn read_file(path: &Path) -> Result<FileConfig, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| Failure::config(path, e))?;
    toml::from_str(&text).map_err(|e| Failure::config(path, e.message()))
}
