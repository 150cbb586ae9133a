//! Waiting for something to happen, with a generous hang guard: a test asserts *what*
//! happened, never how fast (latency targets are measured by `renkei-bench`, see
//! BENCHMARKS.md).

use std::time::{Duration, Instant};

/// The default hang guard: long enough that a loaded 2-core machine never trips it when the
/// awaited thing happens at all.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// Calls `check` every `every` until it gives `Some`, and returns that; panics naming `what`
/// (and the last state `check` described, if any) when `guard` passes first.
pub fn until<T>(
    what: &str,
    guard: Duration,
    every: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let give_up = Instant::now() + guard;
    loop {
        if let Some(done) = check() {
            return done;
        }
        if Instant::now() >= give_up {
            panic!(
                "gave up waiting for {what} after {guard:?} (a hang guard, not a latency target)"
            );
        }
        std::thread::sleep(every);
    }
}

/// [`until`] for a condition, with the default hang guard, checked every 50 ms.
pub fn for_condition(what: &str, mut check: impl FnMut() -> bool) {
    until(what, HANG_GUARD, Duration::from_millis(50), || {
        check().then_some(())
    })
}
