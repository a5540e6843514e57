//! Smoke test of the plumbing: boot, SysTick interrupt, atomics, semihosting
//! output and exit status (and the FPU on hard-float targets).
#![no_std]
#![no_main]

use cortex_m::peripheral::syst::SystClkSource;
use harness::atomic::{AtomicUsize, Ordering};
use harness::{check, entry, exception};

/// Ticks wanted before passing.
const TICKS: usize = 10;
/// SysTick reload: ~1 ms at 12 MHz (lm3s6965evb default), 0.5 ms at 25 MHz (mps2).
const RELOAD: u32 = 12_000 - 1;

/// Incremented by the SysTick handler; read-modify-write, so on thumbv6m this
/// is portable-atomic's fetch_add over critical-section.
static TICKED: AtomicUsize = AtomicUsize::new(0);

#[exception]
fn SysTick() {
    TICKED.fetch_add(1, Ordering::Relaxed);
}

#[entry]
fn main() -> ! {
    let mut cp = cortex_m::Peripherals::take().unwrap();

    #[cfg(target_abi = "eabihf")]
    {
        // Hard-float code uses VFP instructions: faults unless the FPU is on.
        let x = core::hint::black_box(1.5f32) * core::hint::black_box(2.0f32);
        check!(x == 3.0);
    }

    let syst = &mut cp.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_counter();
    syst.enable_interrupt();

    // Sleep until TICKS interrupts arrived. A tick landing between the load
    // and the wfi only costs one period. If none ever comes, the script's
    // timeout fails the run.
    let mut wakeups = 0usize;
    while TICKED.load(Ordering::Relaxed) < TICKS {
        cortex_m::asm::wfi();
        wakeups += 1;
    }
    syst.disable_interrupt();
    syst.disable_counter();

    let ticks = TICKED.load(Ordering::Relaxed);
    check!(ticks >= TICKS, "ticks = {}", ticks);
    harness::pass(format_args!(
        "smoke: {} SysTick interrupts, {} wakeups",
        ticks, wakeups
    ))
}
