//! A library function written once, naming no runtime, run by six apps:
//! tokio (real and paused clocks), smol, async-std, a plain thread and a test
//! clock. Each app binds its tree's root to its own clock; the library's
//! timeout follows it.
//!
//! ```sh
//! cargo run -p cancel-token-runtimes --example library_timeout
//! ```

use std::future::Future;
use std::time::{Duration, Instant};

use cancel_token::{
    AsyncIoDriver, CancelSource, CancelToken, ManualDriver, Reason, ThreadDriver, TokioDriver,
};

/// The library: a lookup with a budget of its own, never more than its
/// caller has left. It takes a token, and nothing else about time.
mod library {
    use super::*;

    pub const BUDGET: Duration = Duration::from_millis(200);

    pub async fn lookup<F: Future>(caller: &CancelToken, work: F) -> Result<F::Output, Reason> {
        caller.timeout(BUDGET, work).await
    }

    /// The blocking form, for callers on threads.
    pub fn lookup_blocking(
        caller: &CancelToken,
        wait: impl FnOnce(&CancelToken),
    ) -> Option<Reason> {
        let call = caller.child_with_timeout(BUDGET);
        wait(&call);
        call.reason()
    }
}

fn report(app: &str, outcome: &str, took: Duration) {
    println!("{app:<22} {outcome:<28} after {took:>6.1?}");
}

fn main() {
    let slow = Duration::from_secs(3600); // work that would take an hour

    // tokio, real clock: the app binds its root to the runtime's driver.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let app = CancelSource::with_clock(TokioDriver::current());
        let start = tokio::time::Instant::now();
        let r = library::lookup(&app, tokio::time::sleep(slow)).await;
        assert_eq!(r, Err(Reason::DeadlineExceeded));
        report("tokio", "deadline exceeded", start.elapsed());
    });

    // tokio, paused clock (as in `#[tokio::test(start_paused = true)]`): the
    // library's 200 ms pass on tokio's virtual clock, at once in real time.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let app = CancelSource::with_clock(TokioDriver::current());
        let (start, real) = (tokio::time::Instant::now(), Instant::now());
        let r = library::lookup(&app, tokio::time::sleep(slow)).await;
        assert_eq!(r, Err(Reason::DeadlineExceeded));
        assert_eq!(start.elapsed(), library::BUDGET);
        report("tokio (paused clock)", "deadline exceeded", start.elapsed());
        println!(
            "{:<22} {:<28} after {:>6.1?} of real time",
            "",
            "",
            real.elapsed()
        );
    });

    // smol and async-std: async-io's reactor.
    let app = CancelSource::with_clock(AsyncIoDriver::global());
    let start = Instant::now();
    let r = smol::block_on(library::lookup(&app, smol::Timer::after(slow)));
    assert_eq!(r, Err(Reason::DeadlineExceeded));
    report("smol", "deadline exceeded", start.elapsed());

    let start = Instant::now();
    let r = async_std::task::block_on(library::lookup(&app, async_std::task::sleep(slow)));
    assert_eq!(r, Err(Reason::DeadlineExceeded));
    report("async-std", "deadline exceeded", start.elapsed());

    // A plain thread: the blocking form, on a thread driver.
    let app = CancelSource::with_clock(ThreadDriver::global());
    let start = Instant::now();
    let r = library::lookup_blocking(&app, |call| {
        call.wait();
    });
    assert_eq!(r, Some(Reason::DeadlineExceeded));
    report("thread", "deadline exceeded", start.elapsed());

    // A test: the clock moves when the test says.
    let clock = ManualDriver::new();
    let app = CancelSource::with_clock(clock.clone());
    let r = library::lookup_blocking(&app, |call| {
        clock.advance_by(Duration::from_millis(199));
        assert!(!call.is_cancelled());
        clock.advance_by(Duration::from_millis(1));
    });
    assert_eq!(r, Some(Reason::DeadlineExceeded));
    report(
        "test (ManualDriver)",
        "deadline exceeded",
        Duration::from_millis(200),
    );

    // The caller's budget wins when it is shorter, and the library can read it.
    let request = app.child_with_timeout(Duration::from_millis(50));
    let call = request.child_with_timeout(library::BUDGET);
    assert_eq!(call.remaining(), Some(Duration::from_millis(50)));
    println!(
        "a caller with 50 ms left: the library's call has {:?}",
        call.remaining().unwrap()
    );
}
