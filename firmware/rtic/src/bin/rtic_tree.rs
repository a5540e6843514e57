//! An RTIC v2 app: a hardware task cancels, software tasks await.
//!
//! - SysTick (a hardware task, priority 2) advances a `static` `TickDriver`
//!   by one per tick and, at tick 30, pends GPIOA;
//! - GPIOA (a hardware task, priority 3) cancels `MOTORS`, a `static` pinned
//!   child of the `static` root;
//! - `motor` (a software task, priority 1) awaits a pinned grandchild of
//!   `MOTORS`: `Cancelled`, at tick 30;
//! - `timed` (a software task, priority 2) awaits a pinned child of a 20 ms
//!   `PinnedDeadline` on the `TickDriver`: `DeadlineExceeded`, not before
//!   tick 20, with `MOTORS` and the root live;
//! - `idle` cancels the root once both are done: `MOTORS` keeps its reason,
//!   no deadline is left armed.
//!
//! On mps2-an386 (M4F) the lm3s6965 vector table stands in for the board's:
//! the interrupts used (GPIOA, UART0/1 as dispatchers) are only pended by
//! software, so their numbers need not match a device there.
#![no_std]
#![no_main]

use harness as _; // panic and HardFault handlers

#[rtic::app(device = lm3s6965, dispatchers = [UART0, UART1])]
mod app {
    use core::pin::{pin, Pin};
    use core::time::Duration;

    use cancel_token::{PinnedChild, PinnedDeadline, Reason, StaticSource, TickDriver};
    use cortex_m::peripheral::syst::SystClkSource;
    use harness::atomic::{AtomicU32, AtomicUsize, Ordering};
    use harness::check;
    use lm3s6965::Interrupt;

    /// SysTick reload: 1 ms at 12 MHz.
    const CYCLES_PER_TICK: u32 = 12_000;
    /// The tick at which GPIOA cancels `MOTORS`.
    const STOP_AT: u64 = 30;

    static TICKS: TickDriver = TickDriver::new();
    static ROOT: StaticSource = StaticSource::new();
    static MOTORS: PinnedChild<'static> = PinnedChild::new(ROOT.token_ref());

    /// Tick at which GPIOA ran (0: not yet).
    static STOPPED_AT: AtomicU32 = AtomicU32::new(0);
    /// Ticks at which the software tasks woke.
    static MOTOR_WOKE: AtomicU32 = AtomicU32::new(0);
    static TIMED_WOKE: AtomicU32 = AtomicU32::new(0);
    /// Software tasks that finished their checks.
    static DONE: AtomicUsize = AtomicUsize::new(0);

    #[shared]
    struct Shared {}

    #[local]
    struct Local {}

    #[init]
    fn init(cx: init::Context) -> (Shared, Local) {
        let mut syst = cx.core.SYST;
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(CYCLES_PER_TICK - 1);
        syst.clear_current();
        syst.enable_counter();
        syst.enable_interrupt();
        motor::spawn().unwrap();
        timed::spawn().unwrap();
        (Shared {}, Local {})
    }

    #[task(binds = SysTick, priority = 2)]
    fn tick(_: tick::Context) {
        TICKS.advance_by(1); // fires every deadline now due
        if TICKS.now() == STOP_AT {
            rtic::pend(Interrupt::GPIOA);
        }
    }

    #[task(binds = GPIOA, priority = 3)]
    fn stop(_: stop::Context) {
        Pin::static_ref(&MOTORS).cancel();
        STOPPED_AT.store(TICKS.now() as u32, Ordering::Relaxed);
    }

    #[task(priority = 1)]
    async fn motor(_: motor::Context) {
        let motors = Pin::static_ref(&MOTORS);
        let step = pin!(PinnedChild::new(motors.token()));
        let step = step.into_ref();
        let reason = step.token().cancelled().await;
        let at = TICKS.now() as u32;
        check!(reason == Reason::Cancelled, "motor woke with {:?}", reason);
        check!(u64::from(STOPPED_AT.load(Ordering::Relaxed)) == STOP_AT);
        check!(!ROOT.is_cancelled());
        MOTOR_WOKE.store(at, Ordering::Relaxed);
        DONE.fetch_add(1, Ordering::Release);
    }

    #[task(priority = 2)]
    async fn timed(_: timed::Context) {
        let (start, job) = cortex_m::interrupt::free(|_| {
            let job = PinnedDeadline::with_timeout(ROOT.token_ref(), &TICKS, Duration::from_millis(20));
            (TICKS.now(), job)
        });
        let job = pin!(job);
        let job = job.into_ref();
        let step = pin!(PinnedChild::new(job.token())); // arms the deadline
        let step = step.into_ref();
        check!(TICKS.pending() == 1);
        let reason = step.token().cancelled().await;
        let at = TICKS.now();
        check!(reason == Reason::DeadlineExceeded, "timed woke with {:?}", reason);
        check!(at >= start + 20, "20 ms deadline from tick {} fired at {}", start, at);
        check!(!ROOT.is_cancelled() && !Pin::static_ref(&MOTORS).is_cancelled());
        check!(TICKS.pending() == 0);
        TIMED_WOKE.store(at as u32, Ordering::Relaxed);
        DONE.fetch_add(1, Ordering::Release);
    }

    #[idle]
    fn idle(_: idle::Context) -> ! {
        while DONE.load(Ordering::Acquire) < 2 {
            check!(TICKS.now() < 500, "{} of 2 tasks done by tick 500", DONE.load(Ordering::Relaxed));
            cortex_m::asm::wfi(); // the next tick wakes it at the latest
        }
        ROOT.cancel();
        check!(Pin::static_ref(&MOTORS).token().reason() == Some(Reason::Cancelled));
        check!(TICKS.pending() == 0);
        harness::pass(format_args!(
            "rtic: timed task woke by its deadline at tick {}, motor task by GPIOA's cancel at tick {}",
            TIMED_WOKE.load(Ordering::Relaxed),
            MOTOR_WOKE.load(Ordering::Relaxed)
        ))
    }
}
