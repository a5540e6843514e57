//! Deadlines with no executor: `ThreadDriver` and blocking waits on plain
//! threads. One job outlives its timeout (it gets `DeadlineExceeded`), one
//! finishes early (its timer is released at once).
//!
//! Run with `cargo run --example thread_deadline`.

use std::thread;
use std::time::{Duration, Instant};

use cancel_token::{CancelSource, CancelToken, Reason, ThreadDriver};

/// Work in steps of 10 ms until `steps` are done or the token is cancelled.
fn work(token: &CancelToken, steps: u32) -> Result<u32, Reason> {
    for done in 0..steps {
        // Sleeps 10 ms, or returns at once if the token is cancelled meanwhile.
        if let Some(reason) = token.wait_timeout(Duration::from_millis(10)) {
            println!("  worker: stopping after {done} of {steps} steps");
            return Err(reason);
        }
    }
    Ok(steps)
}

fn run(name: &str, root: &CancelToken, driver: &ThreadDriver, timeout: Duration, steps: u32) {
    let started = Instant::now();
    let job = root.child_with_timeout_on(driver, timeout);
    println!(
        "{name}: timeout {timeout:?}, {steps} steps of 10 ms; deadlines pending: {}",
        driver.pending()
    );
    let token = job.token();
    let worker = thread::spawn(move || work(&token, steps));
    match worker.join().expect("the worker panicked") {
        Ok(steps) => println!(
            "{name}: finished {steps} steps after {:?}",
            started.elapsed()
        ),
        Err(reason) => println!("{name}: gave up after {:?}: {reason:?}", started.elapsed()),
    }
    drop(job);
    println!("{name}: job over; deadlines pending: {}", driver.pending());
}

fn main() {
    let driver = ThreadDriver::new();
    let root = CancelSource::new();
    let token = root.token();

    run("slow job", &token, &driver, Duration::from_millis(100), 200);
    run("fast job", &token, &driver, Duration::from_secs(5), 3);

    // A plain blocking wait for the deadline itself.
    let call = token.child_with_timeout_on(&driver, Duration::from_millis(30));
    let waited = call.token();
    let waiter = thread::spawn(move || waited.wait());
    println!(
        "blocking call: waited -> {:?}",
        waiter.join().expect("the waiter panicked")
    );
    assert_eq!(driver.pending(), 0);
}
