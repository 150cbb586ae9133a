//! `renkei`: the command-line entry point. Parses the command, loads the configuration and runs
//! it; every failure ends with one line that names the problem and the fix, in Japanese and
//! English, and a non-zero exit code.

mod admin;
mod backup;
mod cli;
mod config;
mod connections;
mod database;
mod demo_accounts;
mod export;
mod failure;
mod import;
mod report;
mod safety;
mod serve;

use clap::Parser;

/// mimalloc instead of the system allocator: a surge of safety-check answers spends a quarter
/// of its time in glibc's malloc and free (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return failure::report(&failure::Failure::runtime(e)),
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure::report(&failure),
    }
}
