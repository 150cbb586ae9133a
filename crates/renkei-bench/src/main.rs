//! `renkei-bench`: the national-scale benchmarks of issue 4, recorded in BENCHMARKS.md.
//!
//! ```sh
//! cargo build --release -p renkei -p renkei-bench
//! target/release/renkei-bench all --rows 300000
//! ```
//!
//! `all` generates the synthetic directory, measures the near search in process and the same
//! query in PostgreSQL (earthdistance + GiST) and checks that both return the same entries,
//! times `renkei import` of the CSV on SQLite, then serves it and measures the near API over
//! HTTP (closed loop with `wrk`, open loop with the bench's own generator) and the server's
//! memory. `surge` answers a safety check for every institution as phones do and times the
//! dashboard's live updates; `report` times the prefecture report of issue 5; `web-import` a
//! directory file through the browser's two steps. Every command's output starts with the date,
//! the commit and the machine.

mod dashboard;
mod data;
mod load;
mod measure;
mod phone;
mod population;
mod provenance;
mod public;
mod report;
mod surge;
mod timeline;
mod web_import;

use clap::{Parser, Subcommand};

/// The server's allocator, so that what is measured in process allocates as `renkei serve` does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "renkei-bench",
    about = "Renkei's national-scale benchmarks (see BENCHMARKS.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes the synthetic directory as a CSV `renkei import` reads.
    Generate {
        /// Rows.
        #[arg(long, default_value_t = 300_000)]
        rows: usize,
        /// Output file.
        #[arg(long, default_value = "target/bench/national.csv")]
        out: PathBuf,
        /// Seed (the same seed gives the same rows).
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// The near search in process, and the same query in PostgreSQL; the two results of every
    /// query PostgreSQL runs (up to 2,000) are compared id by id, in distance order, and any
    /// difference beyond ties within 1 m (at the 5 km edge, at the 50th place, equidistant
    /// entries) is printed and makes the command fail.
    Search {
        /// Rows.
        #[arg(long, default_value_t = 300_000)]
        rows: usize,
        /// Queries per measurement.
        #[arg(long, default_value_t = 20_000)]
        queries: usize,
        /// PostgreSQL server (a database `renkei_bench` is created and dropped there).
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
        postgres: String,
        /// Seed.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Routing urgent requests to the nearest capable institutions, in process.
    Route {
        /// Rows.
        #[arg(long, default_value_t = 300_000)]
        rows: usize,
        /// Queries per kind of request.
        #[arg(long, default_value_t = 20_000)]
        queries: usize,
        /// Seed.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Times `renkei import` of the generated CSV into a fresh SQLite database.
    Import {
        /// The CSV (from `generate`).
        #[arg(long, default_value = "target/bench/national.csv")]
        data: PathBuf,
        /// Data directory to import into (emptied first).
        #[arg(long, default_value = "target/bench/data")]
        data_dir: PathBuf,
        /// The renkei binary.
        #[arg(long, default_value = "target/release/renkei")]
        renkei: PathBuf,
    },
    /// Serves an imported directory and measures the near API over HTTP — closed loop with
    /// wrk (when installed: the most it takes, latency hiding queueing) and open loop at
    /// `--rate` (latency from each request's due time) — and the server's memory.
    Http {
        /// Data directory (from `import`).
        #[arg(long, default_value = "target/bench/data")]
        data_dir: PathBuf,
        /// The renkei binary.
        #[arg(long, default_value = "target/release/renkei")]
        renkei: PathBuf,
        /// Seconds of load.
        #[arg(long, default_value_t = 20)]
        seconds: u32,
        /// Open connections (of wrk, and of the open loop).
        #[arg(long, default_value_t = 32)]
        connections: u32,
        /// Requests per second of the open-loop measurement.
        #[arg(long, default_value_t = 5_000)]
        rate: u32,
        /// Seed of the query points.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// The public searches through the router in process on an imported directory: the JSON
    /// near API, FHIR `Location?near` (first and second pages), the directory page's near and
    /// the directory page — p50, p90, p99 of requests timed one at a time.
    Public {
        /// Data directory (from `import`).
        #[arg(long, default_value = "target/bench/data")]
        data_dir: PathBuf,
        /// Requests per endpoint.
        #[arg(long, default_value_t = 2_000)]
        requests: usize,
        /// Seed of the query points.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// The whole region's prefecture report: database to HTML, Excel and Markdown.
    Report {
        /// Reports per format.
        #[arg(long, default_value_t = 200)]
        runs: usize,
    },
    /// A care team's view in a large region: a 5,000-post timeline (newest page, a page in the
    /// middle, a search), a doctor's patient list and the month's 在宅医療情報連携加算 evidence,
    /// among institutions × patients patients, through the router in process.
    Timeline {
        /// Institutions (the demo region's, repeated).
        #[arg(long, default_value_t = 1000)]
        institutions: usize,
        /// Patients registered by each institution.
        #[arg(long, default_value_t = 10_000)]
        patients: usize,
        /// Posts on the measured patient's timeline.
        #[arg(long, default_value_t = 5_000)]
        posts: usize,
        /// Posts of other patients.
        #[arg(long, default_value_t = 1_000_000)]
        other_posts: usize,
        /// Requests per measurement.
        #[arg(long, default_value_t = 500)]
        requests: usize,
    },
    /// A safety check for every institution of the imported directory, answered from many
    /// connections: answers stored per second, their latency, and how soon the dashboard's own
    /// live endpoint shows a new answer.
    ///
    /// An answer is what a phone sends: GET /r/{token} (the form, which sets the CSRF cookie
    /// and holds the token), POST of the quick answer with that cookie and token, GET of the
    /// 303's Location. It counts only when the three returned 200, 303 and 200; failures are
    /// counted by reason. Meanwhile a hub coordinator, signed in over HTTP with a second
    /// factor, holds the check's event stream (/hub/safety/{id}/events) open, and probe
    /// answers are timed from their 303 to the first event that includes them.
    ///
    /// With --rate: open loop (answers due at that rate; latency from each one's due time).
    /// Without: closed loop (each connection starts its next answer when the last is done: the
    /// most the server takes). With --post-only: the earlier, easier measure, the POST alone
    /// with a made-up CSRF value (by wrk in the closed loop) — for comparison only.
    Surge {
        /// Data directory (from `import`); copied, never changed.
        #[arg(long, default_value = "target/bench/data")]
        data_dir: PathBuf,
        /// The renkei binary.
        #[arg(long, default_value = "target/release/renkei")]
        renkei: PathBuf,
        /// Seconds of load.
        #[arg(long, default_value_t = 20)]
        seconds: u32,
        /// Open connections of the load.
        #[arg(long, default_value_t = 1000)]
        connections: u32,
        /// Answers due per second, sent open-loop (latency counted from when each was due);
        /// without it, a closed loop (every connection waiting for its reply).
        #[arg(long)]
        rate: Option<u32>,
        /// Send only the POST of each answer, with a made-up double-submit CSRF value, no form
        /// and no redirect (the earlier measure: one request of a real answer's three). The
        /// closed loop then runs wrk. The dashboard probes still answer as phones do.
        #[arg(long)]
        post_only: bool,
        /// Run against PostgreSQL instead: a database `renkei_surge` is created on this server
        /// and the CSV imported into it first.
        #[arg(long)]
        postgres: Option<String>,
        /// The CSV (from `generate`), for the PostgreSQL import.
        #[arg(long, default_value = "target/bench/national.csv")]
        data: PathBuf,
    },
    /// A coordinator's directory file through the browser's two steps (check, go-ahead), in
    /// process: time to the report, the stored plan's size, time until applied, peak memory.
    WebImport {
        /// Rows of the file (new entries of 八尾市).
        #[arg(long, default_value_t = 20_000)]
        rows: usize,
        /// Run on PostgreSQL instead of SQLite: a database `renkei_bench_import` is created on
        /// this server, and dropped afterwards.
        #[arg(long)]
        postgres: Option<String>,
    },
    /// Everything above, in order, with one summary.
    All {
        /// Rows.
        #[arg(long, default_value_t = 300_000)]
        rows: usize,
        /// PostgreSQL server.
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
        postgres: String,
        /// The renkei binary.
        #[arg(long, default_value = "target/release/renkei")]
        renkei: PathBuf,
    },
}

impl Command {
    /// The subcommand's name, as typed.
    fn name(&self) -> &'static str {
        match self {
            Command::Generate { .. } => "generate",
            Command::Search { .. } => "search",
            Command::Route { .. } => "route",
            Command::Import { .. } => "import",
            Command::Http { .. } => "http",
            Command::Report { .. } => "report",
            Command::Timeline { .. } => "timeline",
            Command::Public { .. } => "public",
            Command::Surge { .. } => "surge",
            Command::WebImport { .. } => "web-import",
            Command::All { .. } => "all",
        }
    }
}

/// Fails after the report was printed when the near searches disagreed.
fn check_agreement(differing: usize) -> anyhow::Result<()> {
    if differing > 0 {
        anyhow::bail!(
            "the in-process and PostgreSQL near searches returned different results for \
             {differing} queries (see above)"
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    println!("{}\n", provenance::stamp(cli.command.name()));
    match cli.command {
        Command::Generate { rows, out, seed } => {
            measure::generate(rows, &out, seed)?;
        }
        Command::Search {
            rows,
            queries,
            postgres,
            seed,
        } => {
            let (report, differing) = measure::search(rows, queries, &postgres, seed).await?;
            println!("{report}");
            check_agreement(differing)?;
        }
        Command::Route {
            rows,
            queries,
            seed,
        } => {
            println!("{}", measure::route(rows, queries, seed)?);
        }
        Command::Import {
            data,
            data_dir,
            renkei,
        } => {
            println!("{}", measure::import(&data, &data_dir, &renkei)?);
        }
        Command::Http {
            data_dir,
            renkei,
            seconds,
            connections,
            rate,
            seed,
        } => {
            println!(
                "{}",
                measure::http(&data_dir, &renkei, seconds, connections, rate, seed).await?
            );
        }
        Command::Surge {
            data_dir,
            renkei,
            seconds,
            connections,
            rate,
            post_only,
            postgres,
            data,
        } => {
            let url = match &postgres {
                Some(server) => {
                    Some(measure::postgres_with_directory(server, &data, &renkei).await?)
                }
                None => None,
            };
            let options = surge::Options {
                seconds,
                connections,
                rate,
                post_only,
            };
            println!(
                "{}",
                surge::measure(&data_dir, &renkei, options, url.as_deref()).await?
            );
        }
        Command::Public {
            data_dir,
            requests,
            seed,
        } => {
            println!("{}", public::measure(&data_dir, requests, seed).await?);
        }
        Command::Timeline {
            institutions,
            patients,
            posts,
            other_posts,
            requests,
        } => {
            let shape = timeline::Shape {
                institutions,
                patients,
                posts,
                other_posts,
                requests,
            };
            println!("{}", timeline::measure(&shape).await?);
        }
        Command::WebImport { rows, postgres } => {
            println!("{}", web_import::measure(rows, postgres.as_deref()).await?);
        }
        Command::Report { runs } => {
            println!("{}", report::measure(runs).await?);
        }
        Command::All {
            rows,
            postgres,
            renkei,
        } => {
            let csv = PathBuf::from("target/bench/national.csv");
            let dir = PathBuf::from("target/bench/data");
            measure::generate(rows, &csv, 2026)?;
            let (search, differing) = measure::search(rows, 20_000, &postgres, 2026).await?;
            println!("{search}");
            let route = measure::route(rows, 20_000, 2026)?;
            let import = measure::import(&csv, &dir, &renkei)?;
            let http = measure::http(&dir, &renkei, 20, 32, 5_000, 2026).await?;
            let public = public::measure(&dir, 2_000, 2026).await?;
            println!("{route}\n{import}\n{http}\n{public}");
            check_agreement(differing)?;
        }
    }
    Ok(())
}
