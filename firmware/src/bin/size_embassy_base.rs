//! Size probe base for embassy: the embassy thread executor and embassy-time
//! on `harness::SysTickTime`, one task awaiting a 3 ms `Timer`. Compared with
//! `size_embassy_probe` (the same with a deadline on `EmbassyDriver`) to
//! report what the embassy integration adds; also a test.
#![no_std]
#![no_main]

use embassy_executor::Spawner;
use embassy_time::Timer;
use harness::exception;

embassy_time_driver::time_driver_impl!(static TIME: harness::SysTickTime = harness::SysTickTime::new());

#[exception]
fn SysTick() {
    TIME.on_tick();
}

#[embassy_executor::main]
async fn main(_spawner: Spawner) {
    TIME.start(cortex_m::Peripherals::take().unwrap().SYST);
    Timer::after_millis(3).await;
    harness::pass(format_args!("size_embassy_base: timer fired"))
}
