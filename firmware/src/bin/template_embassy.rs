//! A minimal embassy app with cancel-token: a shutdown root, a service that
//! stops on it, and a job bounded by a deadline on `EmbassyDriver`. No
//! allocator. firmware/README.md shows this file; copy it as your `main.rs`
//! and replace the two `harness` parts: the time driver (your HAL's) and the
//! QEMU exit.
#![no_std]
#![no_main]

use core::pin::pin;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;

use cancel_token::{EmbassyDriver, PinnedDeadline, Reason, StaticSource};
use embassy_executor::Spawner;
use embassy_time::Timer;

// The embassy-time driver. A HAL provides one (embassy-stm32, embassy-nrf and
// embassy-rp with their `time-driver-*` features); under QEMU, the harness's
// on SysTick.
embassy_time_driver::time_driver_impl!(static TIME: harness::SysTickTime = harness::SysTickTime::new());

#[cortex_m_rt::exception]
fn SysTick() {
    TIME.on_tick();
}

/// Cancelled at shutdown: every token in the app descends from it.
static SHUTDOWN: StaticSource = StaticSource::new();
/// Fires the deadlines armed on it, from its `run` task.
static DEADLINES: EmbassyDriver = EmbassyDriver::new();
/// Set by `service` as it stops.
static STOPPED: AtomicBool = AtomicBool::new(false);

#[embassy_executor::task]
async fn deadlines() -> ! {
    DEADLINES.run().await
}

/// Works until shutdown, then cleans up.
#[embassy_executor::task]
async fn service() {
    let shutdown = SHUTDOWN.token_ref();
    while shutdown.run_until_cancelled(Timer::after_millis(5)).await.is_ok() {
        // one round of work
    }
    STOPPED.store(true, Ordering::Release);
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    TIME.start(cortex_m::Peripherals::take().unwrap().SYST);
    spawner.spawn(deadlines().unwrap());
    spawner.spawn(service().unwrap());

    // A job given 20 ms, which would take a second.
    let job = pin!(PinnedDeadline::with_timeout(
        SHUTDOWN.token_ref(),
        &DEADLINES,
        Duration::from_millis(20)
    ));
    let job = job.into_ref();
    let out = job.token().run_until_cancelled(Timer::after_secs(1)).await;
    assert_eq!(out, Err(Reason::DeadlineExceeded));

    SHUTDOWN.cancel();
    while !STOPPED.load(Ordering::Acquire) {
        Timer::after_millis(1).await;
    }
    harness::pass(format_args!("template_embassy: job timed out, service stopped"))
}
