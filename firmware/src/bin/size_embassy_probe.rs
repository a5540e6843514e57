//! Size probe for the embassy integration: `size_embassy_base` with a
//! `StaticSource`, a static `EmbassyDriver` and its `run` task, and a 3 ms
//! `PinnedDeadline` on it awaited instead of the timer. Over
//! `size_embassy_base`, what a token with embassy deadlines adds (compare
//! `size_probe_deadline`, the same on a `TickDriver`); also a test.
#![no_std]
#![no_main]

use core::pin::pin;
use core::time::Duration;

use cancel_token::{EmbassyDriver, PinnedDeadline, Reason, StaticSource};
use embassy_executor::Spawner;
use harness::{check, exception};

embassy_time_driver::time_driver_impl!(static TIME: harness::SysTickTime = harness::SysTickTime::new());

#[exception]
fn SysTick() {
    TIME.on_tick();
}

static DEADLINES: EmbassyDriver = EmbassyDriver::new();
static ROOT: StaticSource = StaticSource::new();

#[embassy_executor::task]
async fn deadlines() -> ! {
    DEADLINES.run().await
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    TIME.start(cortex_m::Peripherals::take().unwrap().SYST);
    spawner.spawn(deadlines().unwrap());
    let job = pin!(PinnedDeadline::with_timeout(
        ROOT.token_ref(),
        &DEADLINES,
        Duration::from_millis(3)
    ));
    let reason = job.as_ref().token().cancelled().await;
    check!(reason == Reason::DeadlineExceeded && DEADLINES.pending() == 0);
    harness::pass(format_args!("size_embassy_probe: deadline fired"))
}
