//! The `alloc` tier on a tree's clock: heap `CancelSource`s on a global
//! allocator (embedded-alloc's linked-list heap on a 4 KiB static array), a
//! root bound to a `static` `TickDriver` with
//! `CancelSource::with_clock(&TICKS)`, and every deadline below it taken with
//! no driver named.
//!
//! - A request child with a 100 ms timeout; a library's call (`fetch`, which
//!   takes a `&CancelToken` and names no driver) declines when its caller's
//!   `remaining()` is below what it needs, and otherwise takes its own
//!   `child_with_timeout`, capped by its caller's budget: a shorter one arms
//!   a timer of its own, a longer one takes the request's deadline and arms
//!   none.
//! - `reset_timeout` moves the request's deadline earlier (the call that took
//!   it follows), and another source's later; each fires at exactly its new
//!   tick, not at its old one, and a later move is capped at the parent's
//!   deadline. The refusals: `Covered` (moving later a deadline a child
//!   took), `NoDeadline` (a plain child), `Cancelled` (once fired).
//! - A detached token (`detached()`) survives its parent's cancel, and its
//!   own timeout child fires on the same clock.
//! - With SysTick advancing the clock from its handler, a deadline moved
//!   later from thread mode fires from the handler at the new tick while
//!   thread mode sleeps in `block_on` on a grandchild.
//! - Every allocation is returned: the heap's `used()` is back to 0 once the
//!   tree is gone.
//!
//! Up to the SysTick part, thread mode advances the clock itself
//! (`advance_to`), so every tick is exact.
//!
//! qemu-test: features = alloc
#![no_std]
#![no_main]

extern crate alloc;

use core::sync::atomic::AtomicBool;
use core::time::Duration;

use cancel_token::{CancelSource, CancelToken, Reason, ResetError, TickDriver};
use cortex_m::peripheral::syst::SystClkSource;
use embedded_alloc::LlffHeap as Heap;
use harness::atomic::{AtomicUsize, Ordering};
use harness::exec::{block_on, flag_waker, poll_once};
use harness::{check, entry, exception, hprintln};

/// The global allocator, on a static heap of `HEAP_SIZE` bytes.
#[global_allocator]
static HEAP: Heap = Heap::empty();
const HEAP_SIZE: usize = 4096;

/// SysTick reload, as in `deadline.rs`: one tick per 12 000 core cycles.
const CYCLES_PER_TICK: u32 = 12_000;

/// The tree's clock, at 1 kHz: one tick is 1 ms.
static TICKS: TickDriver = TickDriver::new();

#[exception]
fn SysTick() {
    TICKS.advance_by(1); // fires every deadline now due, from the handler

    // Note the tick whose `advance` woke the waiter on the grandchild.
    if WOKEN.load(Ordering::Relaxed) && WOKEN_AT.load(Ordering::Relaxed) == 0 {
        WOKEN_AT.store(TICKS.now() as usize, Ordering::Relaxed);
    }
}

/// Set by the waker of a waiter on the grandchild of the SysTick part.
static WOKEN: AtomicBool = AtomicBool::new(false);
/// The tick whose `advance` woke that waiter (0: not yet).
static WOKEN_AT: AtomicUsize = AtomicUsize::new(0);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// What `fetch` needs of its caller's budget to be worth starting.
const MIN_BUDGET: Duration = Duration::from_millis(5);

/// A library's call: it is handed its caller's token and names no driver.
/// It declines (with the time left) when its caller's budget is below
/// `MIN_BUDGET`, and otherwise bounds itself by `own`, within that budget.
fn fetch(parent: &CancelToken, own: Duration) -> Result<CancelSource, Duration> {
    let budget = parent.remaining();
    if let Some(left) = budget.filter(|left| *left < MIN_BUDGET) {
        return Err(left);
    }
    let call = parent.child_with_timeout(own);
    let want = budget.map_or(own, |left| left.min(own));
    check!(
        call.remaining() == Some(want),
        "call has {:?}, caller {:?}, own {:?}",
        call.remaining(),
        budget,
        own
    );
    Ok(call)
}

/// Heap bytes in use.
fn used() -> usize {
    HEAP.used()
}

/// Advances the clock to `tick - 1` and checks `token` is live, then to
/// `tick` and checks its deadline fired there.
fn fires_at(token: &CancelToken, tick: u64) {
    TICKS.advance_to(tick - 1);
    check!(
        !token.is_cancelled(),
        "fired before tick {}: {:?}",
        tick,
        token.reason()
    );
    TICKS.advance_to(tick);
    check!(
        token.reason() == Some(Reason::DeadlineExceeded),
        "not fired at tick {}: {:?}",
        tick,
        token.reason()
    );
}

/// With SysTick advancing the clock from its handler: a 20 ms child of
/// `root` with a grandchild, its deadline moved 10 ticks in to 30 ms from
/// then; thread mode sleeps on the grandchild until the handler fires it.
/// Returns the old and the new due tick and the tick that fired it.
fn moved_under_systick(root: &CancelToken) -> (u64, u64, u64) {
    let mut cp = cortex_m::Peripherals::take().unwrap();
    let syst = &mut cp.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(CYCLES_PER_TICK - 1);
    syst.clear_current();
    syst.enable_counter();
    // `child_with_timeout` counts from `TICKS.now()`: both in one critical
    // section, so no tick lands between them.
    let (start, live) =
        cortex_m::interrupt::free(|_| (TICKS.now(), root.child_with_timeout(ms(20))));
    let old_due = start + 20;
    let step = live.child();
    let sub = step.child();
    let mut wait = core::pin::pin!(sub.cancelled());
    check!(poll_once(wait.as_mut(), &flag_waker(&WOKEN)).is_pending());
    syst.enable_interrupt();
    while TICKS.now() < start + 10 {
        cortex_m::asm::wfi();
    }
    // The move and the tick it counts from, in one critical section too.
    let due = cortex_m::interrupt::free(|_| {
        check!(live.reset_timeout(ms(30)) == Ok(()));
        TICKS.now() + 30
    });
    check!(due > old_due);
    let (reason, polls) = block_on(sub.cancelled());
    let woke_at = TICKS.now();
    syst.disable_interrupt();
    syst.disable_counter();
    let fired_at = WOKEN_AT.load(Ordering::Relaxed) as u64;
    check!(reason == Reason::DeadlineExceeded, "woke with {:?}", reason);
    check!(
        fired_at == due,
        "fired by the advance to tick {}, due {} (was {})",
        fired_at,
        due,
        old_due
    );
    check!(
        woke_at >= due && polls >= 2,
        "woke at {} after {} polls",
        woke_at,
        polls
    );
    check!(TICKS.pending() == 0, "pending = {}", TICKS.pending());
    (old_due, due, fired_at)
}

#[entry]
fn main() -> ! {
    // SAFETY: called once, before the first allocation.
    unsafe {
        embedded_alloc::init!(HEAP, HEAP_SIZE);
    }
    check!(used() == 0 && TICKS.now() == 0);
    let mut peak = 0;

    // ---- a clock root and a request with a timeout ----
    let root = CancelSource::with_clock(&TICKS);
    let root_bytes = used();
    check!(root.remaining().is_none() && TICKS.pending() == 0);
    let request = root.child_with_timeout(ms(100)); // tick 100
    let timed_bytes = used() - root_bytes;
    check!(request.remaining() == Some(ms(100)));
    check!(TICKS.pending() == 1, "pending = {}", TICKS.pending());
    let plain = request.child();
    let plain_bytes = used() - root_bytes - timed_bytes;
    check!(plain.remaining() == Some(ms(100)), "a plain child inherits");
    check!(plain.reset_timeout(ms(10)) == Err(ResetError::NoDeadline));

    // ---- a library's calls, within the request's budget ----
    TICKS.advance_to(10);
    check!(plain.remaining() == Some(ms(90)));
    let before = used();
    let short = fetch(&plain, ms(30)).unwrap_or_else(|_| harness::fail(format_args!("declined")));
    let call_bytes = used() - before; // tick 40, a timer of its own
    check!(TICKS.pending() == 2, "pending = {}", TICKS.pending());
    let before = used();
    let long = fetch(&plain, ms(500)).unwrap_or_else(|_| harness::fail(format_args!("declined")));
    let covered_bytes = used() - before; // the request's tick 100, no timer
    check!(TICKS.pending() == 2, "a covered call armed a timer");
    check!(request.reset_timeout(ms(200)) == Err(ResetError::Covered));
    check!(request.remaining() == Some(ms(90)), "a refused move moved");

    // ---- reset earlier: the request to tick 60; the covered call follows ----
    check!(request.reset_timeout(ms(50)) == Ok(()));
    check!(
        long.remaining() == Some(ms(50)),
        "long has {:?}",
        long.remaining()
    );
    check!(short.remaining() == Some(ms(30)));
    check!(TICKS.pending() == 2, "moved, not added");
    peak = peak.max(used());
    fires_at(&short, 40);
    check!(!request.is_cancelled() && !long.is_cancelled());
    TICKS.advance_to(57);
    let before = used();
    let declined = fetch(&plain, ms(30));
    check!(
        declined.as_ref().err() == Some(&ms(3)),
        "3 ms left, not declined"
    );
    check!(used() == before, "a declined call allocated");
    fires_at(&request, 60); // the new tick, not 100
    check!(long.reason() == Some(Reason::DeadlineExceeded));
    check!(plain.reason() == Some(Reason::DeadlineExceeded));
    check!(TICKS.pending() == 0, "pending = {}", TICKS.pending());
    check!(request.reset_timeout(ms(10)) == Err(ResetError::Cancelled));
    TICKS.advance_to(100); // the old tick: nothing left to fire
    check!(!root.is_cancelled(), "a child's deadline reached the root");
    drop((short, long, plain, request));

    // ---- reset later: a job due at tick 120 moved to 160; a child's move capped ----
    let job = root.child_with_timeout(ms(20)); // tick 120
    TICKS.advance_to(110);
    check!(job.reset_timeout(ms(50)) == Ok(())); // tick 160
    check!(job.remaining() == Some(ms(50)));
    let inner = job.child_with_timeout(ms(10)); // tick 120, its own timer
    check!(TICKS.pending() == 2, "pending = {}", TICKS.pending());
    check!(inner.reset_timeout(ms(1000)) == Ok(())); // capped at tick 160
    check!(
        inner.remaining() == Some(ms(50)),
        "inner has {:?}",
        inner.remaining()
    );
    fires_at(&job, 160); // not 120
    check!(inner.reason() == Some(Reason::DeadlineExceeded));
    check!(TICKS.pending() == 0, "pending = {}", TICKS.pending());
    drop((inner, job));

    // ---- a detached token survives its parent's cancel ----
    let request = root.child_with_timeout(ms(50)); // tick 210
    let before = used();
    let detached = request.detached();
    let detached_bytes = used() - before;
    check!(
        detached.remaining().is_none(),
        "a detached token has no deadline"
    );
    let audit = detached.child_with_timeout(ms(200)); // tick 360
    check!(audit.remaining() == Some(ms(200)));
    peak = peak.max(used());
    request.cancel();
    check!(request.reason() == Some(Reason::Cancelled));
    check!(!detached.is_cancelled() && !audit.is_cancelled());
    TICKS.advance_to(210); // the request's old deadline
    check!(!audit.is_cancelled());
    fires_at(&audit, 360);
    check!(
        !detached.is_cancelled(),
        "a child's deadline reached the detached root"
    );
    drop((audit, request));

    // ---- SysTick drives the clock; a deadline moved later fires at its new tick ----
    let (old_due, due, fired_at) = moved_under_systick(&root);

    // ---- the tree goes: every allocation is returned ----
    root.cancel();
    check!(
        !detached.is_cancelled(),
        "the root's cancel reached a detached token"
    );
    drop(root);
    // What is left: the detached root, and the node of its dropped child
    // `audit`, which it keeps as its spare for its next child.
    check!(
        used() == detached_bytes + timed_bytes,
        "used {} with the detached token left (itself {}, a timed child {})",
        used(),
        detached_bytes,
        timed_bytes
    );
    drop(detached);
    check!(used() == 0, "{} bytes left on the heap", used());
    check!(TICKS.pending() == 0);

    hprintln!(
        "note: heap bytes: clock root {}, timeout child {} (arming a timer of its own; {} when it \
         takes its parent's deadline and arms none), plain child {}, detached token {}; \
         peak {} of a {}-byte heap",
        root_bytes,
        timed_bytes,
        covered_bytes,
        plain_bytes,
        detached_bytes,
        peak,
        HEAP_SIZE
    );
    check!(
        call_bytes == timed_bytes,
        "a call's timeout child took {}",
        call_bytes
    );
    harness::pass(format_args!(
        "clock_tree: request moved earlier fired at tick 60 (was 100), job moved later at 160 \
         (was 120), detached audit outlived its request to tick 360; under SysTick a deadline moved \
         from tick {} to {} fired at {}; heap back to 0",
        old_due, due, fired_at
    ))
}
