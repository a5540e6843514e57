//! Request deadlines on a tokio runtime with `TokioDriver`: one request whose
//! work takes longer than its timeout (it gets `DeadlineExceeded`), one that
//! finishes early (its timer is released at once).
//!
//! Run with `cargo run --example tokio_deadline --features tokio`.

use std::time::{Duration, Instant};

use cancel_token::{CancelSource, CancelToken, TokioDriver};

/// A request handler: `work` of the given length, bounded by `timeout`.
async fn handle(
    name: &str,
    server: &CancelToken,
    driver: &TokioDriver,
    timeout: Duration,
    work: Duration,
) {
    let started = Instant::now();
    let request = server.child_with_timeout_on(driver, timeout);
    println!(
        "{name}: timeout {timeout:?}, work {work:?}; deadlines pending: {}",
        driver.pending()
    );
    let outcome = request
        .token()
        .run_until_cancelled(tokio::time::sleep(work))
        .await;
    match outcome {
        Ok(()) => println!("{name}: finished after {:?}", started.elapsed()),
        Err(reason) => println!("{name}: gave up after {:?}: {reason:?}", started.elapsed()),
    }
    drop(request);
    println!(
        "{name}: request over; deadlines pending: {}",
        driver.pending()
    );
}

#[tokio::main]
async fn main() {
    let driver = TokioDriver::new();
    let server = CancelSource::new();
    let token = server.token();

    handle(
        "slow request",
        &token,
        &driver,
        Duration::from_millis(100),
        Duration::from_secs(2),
    )
    .await;
    handle(
        "fast request",
        &token,
        &driver,
        Duration::from_secs(5),
        Duration::from_millis(20),
    )
    .await;
    assert_eq!(driver.pending(), 0);
}
