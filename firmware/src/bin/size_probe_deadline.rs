//! Size probe for deadlines: a minimal user of the no-allocator tier with a
//! tick wheel. A `static` `TickDriver` advanced by one from the SysTick
//! handler, a `StaticSource` root, a `PinnedDeadline` of it 3 ticks ahead, and
//! a `Cancelled` waiter on it that thread mode sleeps on in `block_on`.
//! `scripts/firmware-size.sh --crate` compares it with `size_base` (the same
//! program with a tick counter and a static flag: the handler ends the wait on
//! tick 3) to report what the library adds with deadlines.
//! Also a test: it must run and pass like any other.
#![no_std]
#![no_main]

use core::pin::pin;
use core::time::Duration;

use cancel_token::{PinnedDeadline, Reason, StaticSource, TickDriver};
use cortex_m::peripheral::syst::SystClkSource;
use harness::{check, entry, exception};

static TICKS: TickDriver = TickDriver::new();
static ROOT: StaticSource = StaticSource::new();

#[exception]
fn SysTick() {
    TICKS.advance_by(1);
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

    let job = pin!(PinnedDeadline::with_timeout(
        ROOT.token_ref(),
        &TICKS,
        Duration::from_millis(3)
    ));
    let token = job.as_ref().token();
    let (reason, polls) = harness::exec::block_on(token.cancelled());
    syst.disable_interrupt();
    check!(reason == Reason::DeadlineExceeded && TICKS.now() >= 3 && TICKS.pending() == 0);
    harness::pass(format_args!(
        "size_probe_deadline: expired after {} polls",
        polls
    ))
}
