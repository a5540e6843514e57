//! Size baseline: `size_probe` without the library. The same program (SysTick
//! handler ends a wait that thread mode sleeps through in `block_on`) with a
//! hand-rolled static flag in place of the cancellation tree, so
//! `scripts/firmware-size.sh --crate` can report what the library adds.
//! Also a test: it must run and pass like any other.
#![no_std]
#![no_main]

use core::future::poll_fn;
use core::sync::atomic::AtomicBool;
use core::task::Poll;

use cortex_m::peripheral::syst::SystClkSource;
use harness::atomic::{AtomicUsize, Ordering};
use harness::{check, entry, exception};

const STOP_AT_TICK: usize = 3;
static TICKS: AtomicUsize = AtomicUsize::new(0);
static STOP: AtomicBool = AtomicBool::new(false);

#[exception]
fn SysTick() {
    if TICKS.fetch_add(1, Ordering::Relaxed) + 1 == STOP_AT_TICK {
        STOP.store(true, Ordering::Release);
        // What the probe's `cancel` does for its waiter: wake the executor.
        harness::exec::flag_waker(harness::exec::main_flag()).wake();
    }
}

#[entry]
fn main() -> ! {
    let mut cp = cortex_m::Peripherals::take().unwrap();
    let syst = &mut cp.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(12_000 - 1);
    syst.clear_current();
    syst.enable_counter();
    syst.enable_interrupt();

    let wait = poll_fn(|_| match STOP.load(Ordering::Acquire) {
        true => Poll::Ready(()),
        false => Poll::Pending,
    });
    let ((), polls) = harness::exec::block_on(wait);
    syst.disable_interrupt();
    check!(STOP.load(Ordering::Acquire));
    harness::pass(format_args!("size_base: stopped after {} polls", polls))
}
