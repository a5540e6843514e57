//! Size probe: a minimal user of the no-allocator tier. A `StaticSource`
//! cancelled from the SysTick handler, a `PinnedChild` of it, and a
//! `Cancelled` waiter on the child that thread mode sleeps on in `block_on`.
//! `scripts/firmware-size.sh --crate` compares it with `size_base` (the same
//! program with a static flag instead) to report what the library adds.
//! Also a test: it must run and pass like any other.
#![no_std]
#![no_main]

use core::pin::pin;

use cancel_token::{PinnedChild, Reason, StaticSource};
use cortex_m::peripheral::syst::SystClkSource;
use harness::atomic::{AtomicUsize, Ordering};
use harness::{check, entry, exception};

const STOP_AT_TICK: usize = 3;
static TICKS: AtomicUsize = AtomicUsize::new(0);
static STOP: StaticSource = StaticSource::new();

#[exception]
fn SysTick() {
    if TICKS.fetch_add(1, Ordering::Relaxed) + 1 == STOP_AT_TICK {
        STOP.cancel();
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

    let child = pin!(PinnedChild::new(STOP.token_ref()));
    let token = child.as_ref().token();
    let (reason, polls) = harness::exec::block_on(token.cancelled());
    syst.disable_interrupt();
    check!(reason == Reason::Cancelled && token.is_cancelled());
    harness::pass(format_args!("size_probe: stopped after {} polls", polls))
}
