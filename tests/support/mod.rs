//! Helpers shared by the driver tests (`mod support;`): how long to wait for
//! something that happens on another thread, and waiting for it.

// Each test file uses some of these.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// Long enough for any deadline of a few milliseconds to fire on a loaded
/// machine; reached only if it never does.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Calls `step` until `done` holds, for up to `PATIENCE`; returns whether it does.
pub fn wait_until(done: impl Fn() -> bool, step: impl Fn()) -> bool {
    let give_up = Instant::now() + PATIENCE;
    while !done() && Instant::now() < give_up {
        step();
    }
    done()
}

/// Waits until `done` holds, for up to `PATIENCE`, then asserts it.
pub fn eventually(what: &str, done: impl Fn() -> bool) {
    let held = wait_until(done, || std::thread::sleep(Duration::from_millis(1)));
    assert!(held, "{what}");
}
