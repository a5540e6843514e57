//! A cancellation tree with no allocator: a `static` root, pinned children
//! two levels deep on the stack, and waiters; the root is cancelled from the
//! SysTick handler while thread mode sleeps in `block_on` on a grandchild.
//!
//! Before the interrupt: cancelling a child (or a grandchild) reaches its own
//! descendants and waiters only, never its siblings, its parent or the root,
//! and the first cancel's cause wins. After it: every node of the tree reports
//! the root's reason and cause, the sleeping waiter was woken from the handler,
//! a pinned callback ran once, in the handler, and a disarmed one never did,
//! a source linked to a child and to another root took the root's cause,
//! so did a child and a linked source kept in `static`s, and nodes made
//! later are born cancelled.
#![no_std]
#![no_main]

use core::fmt;
use core::pin::{pin, Pin};
use core::sync::atomic::AtomicBool;
use core::task::Poll;

use cancel_token::{
    Cause, PinnedChild, PinnedLinked, PinnedOnCancel, Reason, StaticSource, TokenRef,
};
use cortex_m::peripheral::syst::SystClkSource;
use harness::atomic::{AtomicUsize, Ordering};
use harness::exec::{block_on, flag_waker, poll_once, wakes};
use harness::{check, entry, exception};

static ROOT: StaticSource = StaticSource::new();
/// A second root, never cancelled: the linked source's other parent.
static OTHER: StaticSource = StaticSource::new();
/// A child and a linked source in `static`s (their constructors are `const`).
static MOTOR: PinnedChild<'static> = PinnedChild::new(ROOT.token_ref());
static ALARM: PinnedLinked<'static, 2> = PinnedLinked::new([OTHER.token_ref(), ROOT.token_ref()]);

/// The root is cancelled on this SysTick interrupt.
const CANCEL_AT_TICK: usize = 5;
/// SysTick reload: ~1 ms at 12 MHz (lm3s6965evb), 0.5 ms at 25 MHz (mps2).
const RELOAD: u32 = 12_000 - 1;

static TICKS: AtomicUsize = AtomicUsize::new(0);
/// Set by the handler right after `ROOT.cancel_with` returned.
static ROOT_CANCELLED_IN_ISR: AtomicBool = AtomicBool::new(false);

#[exception]
fn SysTick() {
    let t = TICKS.fetch_add(1, Ordering::Relaxed) + 1;
    if t == CANCEL_AT_TICK {
        ROOT.cancel_with(&SHUTDOWN);
        ROOT_CANCELLED_IN_ISR.store(true, Ordering::Release);
    }
}

macro_rules! cause_type {
    ($name:ident, $text:literal) => {
        #[derive(Debug)]
        struct $name;
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($text)
            }
        }
        impl core::error::Error for $name {}
    };
}
cause_type!(Shutdown, "shutdown");
cause_type!(ChildStop, "child stopped");
cause_type!(LocalStop, "grandchild stopped");
static SHUTDOWN: Shutdown = Shutdown;
static CHILD_STOP: ChildStop = ChildStop;
static LOCAL_STOP: LocalStop = LocalStop;

fn cause_is<T: core::error::Error + 'static>(c: Option<Cause>) -> bool {
    c.is_some_and(|c| c.downcast_ref::<T>().is_some())
}

/// Live: no reason, no cause.
fn live(t: TokenRef<'_>) -> bool {
    !t.is_cancelled() && t.reason().is_none() && t.cause().is_none()
}

/// Cancelled by a source (not a deadline) with a cause of type `T`.
fn cancelled_by<T: core::error::Error + 'static>(t: TokenRef<'_>) -> bool {
    t.is_cancelled() && t.reason() == Some(Reason::Cancelled) && cause_is::<T>(t.cause())
}

/// Runs of the pinned callbacks; the disarmed one adds 100.
static CALLBACK_RUNS: AtomicUsize = AtomicUsize::new(0);
/// Set by the armed callback if it ran in handler mode with `Cancelled`.
static CALLBACK_IN_HANDLER: AtomicBool = AtomicBool::new(false);

fn in_handler_mode() -> bool {
    !matches!(
        cortex_m::peripheral::SCB::vect_active(),
        cortex_m::peripheral::scb::VectActive::ThreadMode
    )
}

static X1_WOKEN: AtomicBool = AtomicBool::new(false);
static C1_WOKEN: AtomicBool = AtomicBool::new(false);
static ROOT_WOKEN: AtomicBool = AtomicBool::new(false);

#[entry]
fn main() -> ! {
    let mut cp = cortex_m::Peripherals::take().unwrap();

    // ---- the tree: ROOT -> c0..c2 -> g[i][0..2], pinned in this frame ----
    let c0 = pin!(PinnedChild::new(ROOT.token_ref()));
    let c1 = pin!(PinnedChild::new(ROOT.token_ref()));
    let c2 = pin!(PinnedChild::new(ROOT.token_ref()));
    let (c0, c1, c2) = (c0.into_ref(), c1.into_ref(), c2.into_ref());
    let g00 = pin!(PinnedChild::new(c0.token()));
    let g01 = pin!(PinnedChild::new(c0.token()));
    let g10 = pin!(PinnedChild::new(c1.token()));
    let g11 = pin!(PinnedChild::new(c1.token()));
    let g20 = pin!(PinnedChild::new(c2.token()));
    let g21 = pin!(PinnedChild::new(c2.token()));
    let children: [Pin<&PinnedChild>; 3] = [c0, c1, c2];
    let grandchildren: [Pin<&PinnedChild>; 6] = [
        g00.into_ref(),
        g01.into_ref(),
        g10.into_ref(),
        g11.into_ref(),
        g20.into_ref(),
        g21.into_ref(),
    ];
    let nodes = || {
        children
            .iter()
            .chain(grandchildren.iter())
            .map(|n| n.token())
    };

    let root = ROOT.token_ref();
    let root_owned = ROOT.token(); // the owned handle of a `&'static` source
    check!(live(root) && !root_owned.is_cancelled() && !ROOT.is_cancelled());
    let (motor, alarm) = (Pin::static_ref(&MOTOR), Pin::static_ref(&ALARM));
    check!(live(motor.token()) && live(alarm.token()));
    for (i, t) in nodes().enumerate() {
        check!(live(t), "node {} not live at start", i);
    }

    // ---- cancelling below the root stays local (before the interrupt) ----
    {
        let x = pin!(PinnedChild::new(ROOT.token_ref()));
        let x = x.into_ref();
        let x0 = pin!(PinnedChild::new(x.token()));
        let x0 = x0.into_ref();
        let x1 = pin!(PinnedChild::new(x.token()));
        let x1 = x1.into_ref();
        let x1_waker = flag_waker(&X1_WOKEN);
        let mut x1_wait = pin!(x1.token().cancelled());
        check!(poll_once(x1_wait.as_mut(), &x1_waker).is_pending());

        // A grandchild: its sibling, its parent and the rest stay live.
        x0.cancel_with(&LOCAL_STOP);
        check!(cancelled_by::<LocalStop>(x0.token()));
        check!(live(x1.token()) && live(x.token()) && live(root));
        check!(!X1_WOKEN.load(Ordering::Acquire));
        check!(poll_once(x1_wait.as_mut(), &x1_waker).is_pending());

        // A child: reaches its live grandchild and that one's waiter; the
        // already cancelled grandchild keeps its own cause; siblings (the
        // three children above and theirs) and the root stay live.
        x.cancel_with(&CHILD_STOP);
        check!(cancelled_by::<ChildStop>(x.token()));
        check!(cancelled_by::<ChildStop>(x1.token()));
        check!(
            cancelled_by::<LocalStop>(x0.token()),
            "first cause must win"
        );
        check!(X1_WOKEN.load(Ordering::Acquire), "waiter on x1 not woken");
        check!(poll_once(x1_wait.as_mut(), &x1_waker) == Poll::Ready(Reason::Cancelled));
        check!(live(root) && !root_owned.is_cancelled());
        for (i, t) in nodes().enumerate() {
            check!(live(t), "node {} affected by a sibling's cancel", i);
        }
        // x1_wait, x1, x0 and x drop here: each unlinks from its parent.
    }
    for (i, t) in nodes().enumerate() {
        check!(live(t), "node {} affected by a sibling's drop", i);
    }

    // ---- callbacks stored in place: one armed, one disarmed ----
    let mut on_c1 = pin!(PinnedOnCancel::new(c1.token(), |reason| {
        CALLBACK_RUNS.fetch_add(1, Ordering::Relaxed);
        let handler = in_handler_mode() && reason == Reason::Cancelled;
        CALLBACK_IN_HANDLER.store(handler, Ordering::Release);
    }));
    on_c1.as_mut().arm();
    let mut disarmed = pin!(PinnedOnCancel::new(c2.token(), |_| {
        CALLBACK_RUNS.fetch_add(100, Ordering::Relaxed);
    }));
    disarmed.as_mut().arm();
    check!(
        disarmed.as_mut().disarm(),
        "disarm before any cancel must remove it"
    );
    check!(CALLBACK_RUNS.load(Ordering::Relaxed) == 0);

    // ---- a source linked to c1 and to another root ----
    let linked = pin!(PinnedLinked::new([c1.token(), OTHER.token_ref()]));
    let linked = linked.into_ref();
    check!(live(linked.token()));

    // ---- waiters that sleep through the interrupt ----
    let root_waker = flag_waker(&ROOT_WOKEN);
    let c1_waker = flag_waker(&C1_WOKEN);
    let mut root_wait = pin!(root.cancelled());
    let mut c1_wait = pin!(c1.token().cancelled());
    check!(poll_once(root_wait.as_mut(), &root_waker).is_pending());
    check!(poll_once(c1_wait.as_mut(), &c1_waker).is_pending());
    let wakes_before = wakes();

    let syst = &mut cp.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_counter();
    syst.enable_interrupt();

    // Thread mode sleeps on the last grandchild; the handler cancels the root.
    let (reason, polls) = block_on(grandchildren[5].token().cancelled());

    syst.disable_interrupt();
    syst.disable_counter();
    let ticks = TICKS.load(Ordering::Relaxed);

    check!(reason == Reason::Cancelled, "block_on gave {:?}", reason);
    check!(ROOT_CANCELLED_IN_ISR.load(Ordering::Acquire));
    check!(polls >= 2, "the waiter never slept (polls = {})", polls);
    check!(ticks >= CANCEL_AT_TICK, "ticks = {}", ticks);

    let runs = CALLBACK_RUNS.load(Ordering::Relaxed);
    check!(
        runs == 1,
        "pinned callbacks ran {} (1 = only the armed one, once)",
        runs
    );
    check!(
        CALLBACK_IN_HANDLER.load(Ordering::Acquire),
        "the armed callback did not run in the handler"
    );
    check!(!on_c1.as_mut().disarm(), "it ran, so disarm says false");
    check!(
        cancelled_by::<Shutdown>(linked.token()),
        "the linked source missed its parent's cancel"
    );
    check!(
        live(OTHER.token_ref()),
        "a linked source reached its other parent"
    );

    // ---- everything below the root carries the root's reason and cause ----
    check!(cancelled_by::<Shutdown>(root) && root_owned.is_cancelled());
    check!(
        cancelled_by::<Shutdown>(motor.token()) && cancelled_by::<Shutdown>(alarm.token()),
        "a static child or linked source missed the root's cancel"
    );
    check!(ROOT.reason() == Some(Reason::Cancelled));
    check!(cause_is::<Shutdown>(root_owned.cause()));
    for (i, t) in nodes().enumerate() {
        check!(
            cancelled_by::<Shutdown>(t),
            "node {} missed the root's cancel",
            i
        );
    }
    for (i, n) in children.iter().chain(grandchildren.iter()).enumerate() {
        check!(n.is_cancelled(), "PinnedChild {} not cancelled", i);
    }
    check!(ROOT_WOKEN.load(Ordering::Acquire) && C1_WOKEN.load(Ordering::Acquire));
    check!(poll_once(root_wait.as_mut(), &root_waker) == Poll::Ready(Reason::Cancelled));
    check!(poll_once(c1_wait.as_mut(), &c1_waker) == Poll::Ready(Reason::Cancelled));
    let woken = wakes() - wakes_before;
    check!(woken >= 3, "{} wakes for 3 sleeping waiters", woken);

    // Late arrivals: a new waiter completes at once, a new child is born
    // cancelled with the root's cause.
    let mut late_wait = pin!(grandchildren[0].token().cancelled());
    check!(poll_once(late_wait.as_mut(), &root_waker) == Poll::Ready(Reason::Cancelled));
    let late = pin!(PinnedChild::new(c0.token()));
    check!(cancelled_by::<Shutdown>(late.into_ref().token()));
    // A second cancel changes nothing.
    ROOT.cancel_with(&CHILD_STOP);
    check!(cancelled_by::<Shutdown>(grandchildren[3].token()));

    harness::pass(format_args!(
        "tree: 1 root, 3 children, 6 grandchildren cancelled from SysTick tick {} \
         (cause \"{}\"); waiter woke after {} polls, {} wakes",
        CANCEL_AT_TICK,
        root.cause().unwrap(),
        polls,
        woken
    ))
}
