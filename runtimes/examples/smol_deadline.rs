//! Deadlines on smol: a request whose work outlasts its timeout is cancelled
//! with `DeadlineExceeded`; one that finishes early releases its timer.
//!
//! `cargo run -p cancel-token-runtimes --example smol_deadline`

use std::time::Duration;

use cancel_token::{AsyncIoDriver, CancelSource};

fn main() {
    // Nothing to spawn: async-io's reactor wakes the driver's one timer.
    let driver = AsyncIoDriver::new();

    smol::block_on(async {
        let server = CancelSource::new();

        // A request with a 50 ms timeout whose work takes 5 s.
        let request = server
            .token()
            .child_with_timeout_on(&driver, Duration::from_millis(50));
        let work = smol::Timer::after(Duration::from_secs(5));
        match request.token().run_until_cancelled(work).await {
            Ok(_) => println!("slow request: finished"),
            Err(reason) => println!("slow request: {reason:?} ({reason})"),
        }

        // A request with a 200 ms timeout whose work takes 10 ms.
        let request = server
            .token()
            .child_with_timeout_on(&driver, Duration::from_millis(200));
        println!("fast request: armed, pending timers = {}", driver.pending());
        let work = async {
            smol::Timer::after(Duration::from_millis(10)).await;
            "done"
        };
        let outcome = request.token().run_until_cancelled(work).await;
        drop(request); // the work is over: dropping the source frees its timer
        println!(
            "fast request: {outcome:?}, timer released, pending timers = {}",
            driver.pending()
        );
    });
}
