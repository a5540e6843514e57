//! The life cycles users write, one at a time, for counting instructions:
//! run one workload under callgrind and divide its total by the count.
//!
//! ```sh
//! cargo build --release --example lifecycles
//! valgrind --tool=callgrind target/release/examples/lifecycles timeout 1000000
//! ```
//!
//! Each workload runs `count` times (default 1 000 000) after a warm-up of
//! one, so that a parent's spare node is in place as it is in a server; the
//! instructions of making the parents and the driver are a few thousand in
//! all. `scripts/examples.sh` runs every workload once, small.

use std::hint::black_box;
use std::time::Duration;

use cancel_token::{CancelSource, ManualDriver};

/// `f`, `n` times and once more.
fn repeat(n: u64, mut f: impl FnMut()) {
    for _ in 0..=n {
        f();
    }
}

/// What one workload does, `n` times.
fn run(workload: &str, n: u64) {
    let driver = ManualDriver::new();
    let parent = CancelSource::new();
    let clock_root = CancelSource::with_clock(driver.clone());
    let minute = Duration::from_secs(60);
    match workload {
        // A child of a long-lived parent, dropped unobserved.
        "child" => repeat(n, || drop(black_box(parent.child()))),
        // A child cancelled by its own source, then dropped.
        "cancel" => repeat(n, || {
            let child = black_box(parent.child());
            child.cancel();
        }),
        // A child whose token is held past its source.
        "held" => repeat(n, || {
            let child = black_box(parent.child());
            let token = child.token();
            drop(child);
            drop(black_box(token));
        }),
        // A timeout naming its driver, dropped before it fires.
        "timeout" => repeat(n, || {
            drop(black_box(parent.child_with_timeout_on(&driver, minute)))
        }),
        // The same, cancelled first.
        "timeout-cancel" => repeat(n, || {
            let call = black_box(parent.child_with_timeout_on(&driver, minute));
            call.cancel();
        }),
        // A timeout on the tree's clock (no driver named).
        "clock-timeout" => repeat(n, || drop(black_box(clock_root.child_with_timeout(minute)))),
        // A plain child under a clock root.
        "clock-child" => repeat(n, || drop(black_box(clock_root.child()))),
        // 1000 children alive at once, then dropped: `n` counts children.
        "live-1000" => {
            let mut alive = Vec::with_capacity(1000);
            for _ in 0..=n / 1000 {
                alive.extend((0..1000).map(|_| parent.child()));
                alive.clear();
            }
        }
        other => panic!("no workload {other:?}; see the match in examples/lifecycles.rs"),
    }
    assert_eq!(driver.pending(), 0, "every timeout was disarmed");
}

fn main() {
    let mut args = std::env::args().skip(1);
    match args.next() {
        Some(workload) => {
            let n = args
                .next()
                .map_or(1_000_000, |n| n.parse().expect("a count"));
            run(&workload, n);
        }
        None => {
            // A smoke run of every workload, as `scripts/examples.sh` makes.
            for w in [
                "child",
                "cancel",
                "held",
                "timeout",
                "timeout-cancel",
                "clock-timeout",
                "clock-child",
                "live-1000",
            ] {
                run(w, 2000);
                println!("{w}: ran 2000 times");
            }
        }
    }
}
