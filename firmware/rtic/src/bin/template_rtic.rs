//! A minimal RTIC v2 app with cancel-token: a shutdown root cancelled by a
//! hardware task, SysTick driving a `TickDriver`, and a software task whose
//! wait is bounded by a deadline. No allocator. firmware/README.md shows this
//! file; copy it as your `main.rs`, put your device crate in `device =` and
//! replace the `harness` parts (the panic handler and the QEMU exit).
#![no_std]
#![no_main]

use harness as _; // the panic handler

#[rtic::app(device = lm3s6965, dispatchers = [UART0])]
mod app {
    use core::pin::pin;
    use core::time::Duration;

    use cancel_token::{PinnedDeadline, Reason, StaticSource, TickDriver};
    use cortex_m::peripheral::syst::SystClkSource;

    /// 1 ms ticks at 12 MHz.
    const CYCLES_PER_TICK: u32 = 12_000;

    /// Deadlines, advanced by SysTick.
    static TICKS: TickDriver = TickDriver::new();
    /// Cancelled at shutdown: every token in the app descends from it.
    static SHUTDOWN: StaticSource = StaticSource::new();

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
        worker::spawn().unwrap();
        (Shared {}, Local {})
    }

    #[task(binds = SysTick, priority = 2)]
    fn tick(_: tick::Context) {
        TICKS.advance_by(1); // fires the deadlines now due
    }

    /// A button, say: shuts everything down.
    #[task(binds = GPIOA, priority = 3)]
    fn button(_: button::Context) {
        SHUTDOWN.cancel();
    }

    #[task(priority = 1)]
    async fn worker(_: worker::Context) {
        // Wait for shutdown, 20 ms at most.
        let wait = pin!(PinnedDeadline::with_timeout(
            SHUTDOWN.token_ref(),
            &TICKS,
            Duration::from_millis(20)
        ));
        let reason = wait.into_ref().token().cancelled().await;
        assert_eq!(reason, Reason::DeadlineExceeded);

        rtic::pend(lm3s6965::Interrupt::GPIOA); // press the button
        let reason = SHUTDOWN.token_ref().cancelled().await;
        assert_eq!(reason, Reason::Cancelled);
        harness::pass(format_args!("template_rtic: deadline, then shutdown"))
    }
}
