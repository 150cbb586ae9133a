//! Where a figure comes from: every command's output starts with the date (UTC), the commit the
//! bench ran at (`-dirty` when the working tree had changes) and the machine, so a figure can be
//! recorded with them.

use std::process::Command;

/// `renkei-bench surge — 2026-12-03 10:42 UTC, commit ba57fa8-dirty, Intel Xeon … (2 cores)`.
pub fn stamp(command: &str) -> String {
    format!(
        "renkei-bench {command} — {}, commit {}, {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        commit(),
        machine()
    )
}

/// `git rev-parse --short HEAD`, with `-dirty` when `git status --porcelain` lists anything
/// (tracked changes or untracked files that are not ignored); `unknown` outside a checkout.
fn commit() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(head) if !head.is_empty() => match git(&["status", "--porcelain"]) {
            Some(changes) if changes.is_empty() => head,
            Some(_) => format!("{head}-dirty"),
            None => format!("{head} (status unknown)"),
        },
        _ => "unknown (not a git checkout)".to_owned(),
    }
}

/// The CPU's model name and the cores this process may use.
fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{model} ({cores} cores)")
}
