//! Size probe for the `defmt` feature: `size_probe_deadline`'s program
//! (a `PinnedDeadline` on a `TickDriver` advanced from SysTick) that
//! logs whether the deadline expired as a `bool`, over defmt-semihosting.
//! `size_defmt_probe` over `size_defmt_base` is what the library's
//! `Format` impls add; also a test (its `ok:` line comes through defmt).
//!
//! qemu-test: defmt
//! qemu-test: features = defmt
#![no_std]
#![no_main]

use core::pin::pin;
use core::time::Duration;

use cancel_token::{PinnedDeadline, Reason, StaticSource, TickDriver};
use cortex_m::peripheral::syst::SystClkSource;
use defmt_semihosting as _;
use harness::{entry, exception};

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
    let (reason, _polls) = harness::exec::block_on(token.cancelled());
    syst.disable_interrupt();
    defmt::println!("ok: {=str} size_defmt_base: expired: {=bool}", harness::core_name(), reason == Reason::DeadlineExceeded);
    harness::exit(reason == Reason::DeadlineExceeded)
}
