//! Deadlines with no allocator, on a periodic tick: a `static` `TickDriver`
//! advanced by one from the SysTick handler, and `PinnedDeadline`s in thread
//! mode's frame.
//!
//! - A deadline already due (tick 0) is cancelled with `DeadlineExceeded` on its
//!   first use, and never stays in the wheel.
//! - A 20 ms deadline with a pinned child and grandchild: thread mode sleeps in
//!   `block_on` on the grandchild's `Cancelled`, the SysTick handler's
//!   `advance_by(1)` fires the deadline, and the grandchild completes with
//!   `DeadlineExceeded` no earlier than tick 20; the wheel is empty afterwards
//!   and the static root is untouched.
//! - A 1000 ms deadline cancelled early from thread mode (and another one
//!   dropped) leaves the wheel at once: `pending()` is back to 0.
//!
//! The wiring (static driver, handler, a task awaiting a deadline) is copied
//! into firmware/README.md, "Wiring SysTick to the tick wheel".
#![no_std]
#![no_main]

use core::pin::pin;
use core::sync::atomic::AtomicBool;
use core::time::Duration;

use cancel_token::{PinnedChild, PinnedDeadline, Reason, StaticSource, TickDriver};
use cortex_m::peripheral::syst::SystClkSource;
use harness::atomic::{AtomicUsize, Ordering};
use harness::exec::{block_on, flag_waker, poll_once};
use harness::{check, entry, exception};

/// SysTick reload: one tick per 12 000 core cycles, 1 ms on lm3s6965evb
/// (12 MHz), 0.48 ms on mps2-an386 (25 MHz). The driver counts it as 1 ms.
const CYCLES_PER_TICK: u32 = 12_000;

// ---- wiring (copied into firmware/README.md) ----
static TICKS: TickDriver = TickDriver::new();
static ROOT: StaticSource = StaticSource::new();

#[exception]
fn SysTick() {
    TICKS.advance_by(1); // fires every deadline now due, from the handler
    after_tick(); // (test bookkeeping, not part of the wiring)
}
// ---- end of wiring ----

/// SysTick interrupts taken.
static IRQS: AtomicUsize = AtomicUsize::new(0);
/// Set by the waker of a waiter on the grandchild.
static SUB_WOKEN: AtomicBool = AtomicBool::new(false);
/// The tick whose `advance` woke that waiter (0: not yet).
static SUB_WOKEN_AT: AtomicUsize = AtomicUsize::new(0);

/// In the handler, after `advance`: counts, and notes the tick of the wake-up.
fn after_tick() {
    IRQS.fetch_add(1, Ordering::Relaxed);
    if SUB_WOKEN.load(Ordering::Relaxed) && SUB_WOKEN_AT.load(Ordering::Relaxed) == 0 {
        SUB_WOKEN_AT.store(TICKS.now() as usize, Ordering::Relaxed);
    }
}
static LONG_WOKEN: AtomicBool = AtomicBool::new(false);

#[entry]
fn main() -> ! {
    let mut cp = cortex_m::Peripherals::take().unwrap();

    // ---- a deadline already in the past: cancelled at once on first use ----
    check!(TICKS.now() == 0 && TICKS.pending() == 0);
    {
        let past = pin!(PinnedDeadline::new(ROOT.token_ref(), &TICKS, 0));
        let past = past.into_ref();
        check!(TICKS.pending() == 0, "armed before first use");
        check!(
            past.is_cancelled(),
            "a deadline at tick 0 is live at tick 0"
        );
        check!(past.token().reason() == Some(Reason::DeadlineExceeded));
        let mut wait = pin!(past.token().cancelled());
        let waker = flag_waker(&LONG_WOKEN);
        check!(poll_once(wait.as_mut(), &waker).is_ready());
        check!(TICKS.pending() == 0, "a due deadline was left in the wheel");
        check!(TICKS.next_expiration().is_none());
    }
    check!(!ROOT.is_cancelled());

    let syst = &mut cp.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(CYCLES_PER_TICK - 1);
    syst.clear_current();
    syst.enable_counter();
    syst.enable_interrupt();

    // ---- 20 ms deadline, awaited through a pinned grandchild ----
    // `with_timeout` counts from `TICKS.now()`: read it in the same critical
    // section, so a tick in between cannot make `due` differ from the deadline.
    let (start, job) = cortex_m::interrupt::free(|_| {
        let start = TICKS.now();
        let job = PinnedDeadline::with_timeout(ROOT.token_ref(), &TICKS, Duration::from_millis(20));
        (start, job)
    });
    let job = pin!(job);
    let job = job.into_ref();
    let step = pin!(PinnedChild::new(job.token())); // arms the deadline
    let step = step.into_ref();
    let sub = pin!(PinnedChild::new(step.token()));
    let sub = sub.into_ref();
    let due = start + 20;
    check!(TICKS.pending() == 1, "pending = {}", TICKS.pending());
    let next = TICKS.next_expiration();
    check!(
        next.is_some_and(|t| t > start && t <= due),
        "next_expiration {:?}, due {}",
        next,
        due
    );

    // A second deadline, 1000 ms, cancelled early: out of the wheel at once.
    {
        let long = pin!(PinnedDeadline::with_timeout(
            ROOT.token_ref(),
            &TICKS,
            Duration::from_millis(1000)
        ));
        let long = long.into_ref();
        let mut long_wait = pin!(long.token().cancelled());
        LONG_WOKEN.store(false, Ordering::Relaxed);
        let waker = flag_waker(&LONG_WOKEN);
        check!(poll_once(long_wait.as_mut(), &waker).is_pending());
        check!(TICKS.pending() == 2, "pending = {}", TICKS.pending());
        long.cancel();
        check!(
            TICKS.pending() == 1,
            "cancel left {} armed",
            TICKS.pending()
        );
        check!(long.token().reason() == Some(Reason::Cancelled));
        check!(LONG_WOKEN.load(Ordering::Acquire));
        check!(poll_once(long_wait.as_mut(), &waker) == core::task::Poll::Ready(Reason::Cancelled));
        check!(!job.is_cancelled() && !sub.token().is_cancelled());
    }
    // And one that is only dropped: dropping disarms too.
    {
        let dropped = pin!(PinnedDeadline::with_timeout(
            ROOT.token_ref(),
            &TICKS,
            Duration::from_millis(1000)
        ));
        check!(!dropped.into_ref().is_cancelled());
        check!(TICKS.pending() == 2);
    }
    check!(TICKS.pending() == 1, "drop left {} armed", TICKS.pending());

    // A second waiter on the grandchild, for the handler to note when it woke.
    let mut sub_wait = pin!(sub.token().cancelled());
    check!(poll_once(sub_wait.as_mut(), &flag_waker(&SUB_WOKEN)).is_pending());

    // Thread mode sleeps; the handler's `advance_by(1)` fires the deadline.
    let (reason, polls) = block_on(sub.token().cancelled());
    let woke_at = TICKS.now();
    let pending_after = TICKS.pending();
    syst.disable_interrupt();
    syst.disable_counter();
    let fired_at = SUB_WOKEN_AT.load(Ordering::Relaxed) as u64;

    check!(reason == Reason::DeadlineExceeded, "woke with {:?}", reason);
    check!(woke_at >= due, "woke at tick {}, deadline {}", woke_at, due);
    // Exactly: the `advance` that reached tick `due` fired it, not an earlier
    // or a later one.
    check!(
        fired_at == due,
        "fired by the advance to tick {}, deadline {}",
        fired_at,
        due
    );
    check!(polls >= 2, "never slept (polls = {})", polls);
    check!(
        IRQS.load(Ordering::Relaxed) as u64 >= due,
        "{} interrupts",
        IRQS.load(Ordering::Relaxed)
    );
    check!(
        pending_after == 0,
        "{} left armed after firing",
        pending_after
    );
    check!(TICKS.next_expiration().is_none());
    check!(job.token().reason() == Some(Reason::DeadlineExceeded));
    check!(step.token().reason() == Some(Reason::DeadlineExceeded));
    check!(!ROOT.is_cancelled(), "a child's deadline reached the root");

    // ---- after the fact: a new child is born expired, and nothing re-arms ----
    let late = pin!(PinnedChild::new(job.token()));
    check!(late.into_ref().token().reason() == Some(Reason::DeadlineExceeded));
    let past = pin!(PinnedDeadline::new(ROOT.token_ref(), &TICKS, woke_at));
    check!(past.into_ref().token().reason() == Some(Reason::DeadlineExceeded));
    check!(TICKS.pending() == 0);

    harness::pass(format_args!(
        "deadline: 20 ms deadline (tick {}) fired by SysTick's advance to tick {}, \
         grandchild's block_on returned at tick {} after {} polls; early cancel and drop \
         disarmed at once; tick-0 deadline born expired",
        due, fired_at, woke_at, polls
    ))
}
