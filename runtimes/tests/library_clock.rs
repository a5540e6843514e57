//! A library written once, with no runtime named in it, takes its timeouts
//! on the clock of the smol or async-std app that bound its tree's root to
//! async-io's driver (the same library on tokio, threads and a manual clock
//! is in the core's `tests/clock.rs`).

use std::future::Future;
use std::time::Duration;

use cancel_token::{AsyncIoDriver, CancelSource, CancelToken, Reason};

/// The library: one attempt with its own 200 ms budget, under whatever its
/// caller handed it. No driver, no runtime.
async fn attempt<F: Future>(caller: &CancelToken, work: F) -> Result<F::Output, Reason> {
    caller.timeout(Duration::from_millis(200), work).await
}

#[test]
fn a_library_follows_smols_clock() {
    let app = CancelSource::with_clock(AsyncIoDriver::global());
    smol::block_on(async {
        let slow = attempt(&app, smol::Timer::after(Duration::from_secs(30))).await;
        assert_eq!(slow, Err(Reason::DeadlineExceeded));
        assert_eq!(attempt(&app, async { 7 }).await, Ok(7));
    });
}

#[test]
fn a_library_follows_async_stds_clock() {
    let app = CancelSource::with_clock(AsyncIoDriver::new());
    async_std::task::block_on(async {
        let slow = attempt(&app, async_std::task::sleep(Duration::from_secs(30))).await;
        assert_eq!(slow, Err(Reason::DeadlineExceeded));
        assert_eq!(attempt(&app, async { 7 }).await, Ok(7));
    });
}
