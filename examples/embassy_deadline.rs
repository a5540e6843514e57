//! Deadlines on embassy, run on the host (embassy-executor's `std` platform and
//! embassy-time's `std` time driver): a request whose work outlasts its
//! timeout is cancelled with `DeadlineExceeded`; one that finishes early
//! releases its timer.
//!
//! `cargo run --example embassy_deadline --features embassy`

use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;

use cancel_token::{CancelSource, CancelToken, EmbassyDriver};
use embassy_executor::Executor;
use embassy_time::Timer;

/// The driver lives in a `static`; `&'static EmbassyDriver` is the `TimerDriver`.
static DEADLINES: EmbassyDriver = EmbassyDriver::new();
static DONE: AtomicBool = AtomicBool::new(false);

/// The driver's run task: deadlines fire only while it runs.
#[embassy_executor::task]
async fn deadlines() -> ! {
    DEADLINES.run().await
}

#[embassy_executor::task]
async fn requests(server: CancelToken) {
    // A request with a 50 ms timeout whose work takes 5 s.
    let request = server.child_with_timeout_on(&DEADLINES, Duration::from_millis(50));
    let work = Timer::after_secs(5);
    match request.token().run_until_cancelled(work).await {
        Ok(()) => println!("slow request: finished"),
        Err(reason) => println!("slow request: {reason:?} ({reason})"),
    }

    // A request with a 200 ms timeout whose work takes 10 ms.
    let request = server.child_with_timeout_on(&DEADLINES, Duration::from_millis(200));
    println!(
        "fast request: armed, pending timers = {}",
        DEADLINES.pending()
    );
    let work = async {
        Timer::after_millis(10).await;
        "done"
    };
    let outcome = request.token().run_until_cancelled(work).await;
    drop(request); // the work is over: dropping the source frees its timer
    println!(
        "fast request: {outcome:?}, timer released, pending timers = {}",
        DEADLINES.pending()
    );
    DONE.store(true, Ordering::Release);
}

fn main() {
    let server = CancelSource::new();
    let executor: &'static mut Executor = Box::leak(Box::new(Executor::new()));
    // `run_until` returns once `DONE` is set; the run task is simply left behind.
    executor.run_until(
        |spawner| {
            spawner.spawn(deadlines().expect("task pool of one"));
            spawner.spawn(requests(server.token()).expect("task pool of one"));
        },
        || DONE.load(Ordering::Acquire),
    );
}
