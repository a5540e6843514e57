//! The no-allocator tier: static sources, pinned children, borrowed tokens.

use std::future::Future;
use std::pin::{pin, Pin};
use std::task::Context;

use cancel_token::{PinnedChild, Reason, StaticSource};

#[derive(Debug)]
struct Halt;
impl core::fmt::Display for Halt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("halt")
    }
}
impl core::error::Error for Halt {}

#[test]
fn static_root_reaches_pinned_children_and_waiters() {
    static ROOT: StaticSource = StaticSource::new();
    let a = pin!(PinnedChild::new(ROOT.token_ref()));
    let a = a.into_ref();
    let b = pin!(PinnedChild::new(a.token()));
    let b = b.into_ref();
    let tb = b.token();
    let waker = futures_util::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(tb.cancelled());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    ROOT.cancel_with(&Halt);
    assert!(a.is_cancelled());
    assert_eq!(tb.reason(), Some(Reason::Cancelled));
    assert_eq!(tb.cause().unwrap().to_string(), "halt");
    assert!(fut.as_mut().poll(&mut cx).is_ready());
}

#[test]
fn pinned_child_cancel_stays_local() {
    static ROOT: StaticSource = StaticSource::new();
    let a = pin!(PinnedChild::new(ROOT.token_ref()));
    let a = a.into_ref();
    let sibling = pin!(PinnedChild::new(ROOT.token_ref()));
    let sibling = sibling.into_ref();
    assert!(!sibling.is_cancelled());
    a.cancel();
    assert!(a.token().is_cancelled());
    assert!(!ROOT.is_cancelled());
    assert!(!sibling.is_cancelled());
}

#[test]
fn pinned_child_of_cancelled_parent_is_born_cancelled() {
    static ROOT: StaticSource = StaticSource::new();
    ROOT.cancel();
    let a = pin!(PinnedChild::new(ROOT.token_ref()));
    assert!(a.as_ref().is_cancelled());
}

#[test]
fn dropped_pinned_children_leave_the_parent_list() {
    static ROOT: StaticSource = StaticSource::new();
    for _ in 0..1000 {
        let c = pin!(PinnedChild::new(ROOT.token_ref()));
        let _ = c.as_ref().token();
    }
    // Cancelling must not touch any of the dropped frames.
    ROOT.cancel();
}

#[test]
fn pinned_child_of_a_heap_token() {
    let root = cancel_token::CancelSource::new();
    let token = root.token();
    let c = pin!(PinnedChild::new(token.as_token_ref()));
    let c = c.into_ref();
    let t = c.token();
    drop(root);
    assert!(t.is_cancelled());
}

#[test]
fn static_token_clones_count_nothing() {
    static ROOT: StaticSource = StaticSource::new();
    let t = ROOT.token();
    let clones: Vec<_> = (0..10).map(|_| t.clone()).collect();
    drop(clones);
    ROOT.cancel();
    assert!(t.is_cancelled());
}

#[test]
fn concurrent_cancel_and_pinned_drop() {
    // A canceller may hold a pinned child on its work list while its owner
    // drops it: the drop waits for the canceller.
    let iterations = if cfg!(miri) { 20 } else { 2_000 };
    for _ in 0..iterations {
        let root = cancel_token::CancelSource::new();
        let token = root.token();
        std::thread::scope(|s| {
            s.spawn(|| {
                let c = pin!(PinnedChild::new(token.as_token_ref()));
                let g = pin!(PinnedChild::new(c.as_ref().token()));
                let _ = g.as_ref().token();
            });
            s.spawn(|| root.cancel());
        });
    }
}

mod pinned_on_cancel {
    use std::pin::pin;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    use std::time::Duration;

    use cancel_token::{CancelSource, CancelToken, PinnedOnCancel, Reason, StaticSource};

    #[test]
    fn runs_once_on_cancel_with_the_reason() {
        static ROOT: StaticSource = StaticSource::new();
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let mut cb = pin!(PinnedOnCancel::new(ROOT.token_ref(), |reason| {
            assert_eq!(reason, Reason::Cancelled);
            RUNS.fetch_add(1, SeqCst);
        }));
        cb.as_mut().arm();
        cb.as_mut().arm(); // a second arm registers nothing more
        assert_eq!(RUNS.load(SeqCst), 0);
        ROOT.cancel();
        ROOT.cancel();
        assert_eq!(RUNS.load(SeqCst), 1);
        assert!(!cb.as_mut().disarm(), "it ran, so disarm says false");
    }

    #[test]
    fn arming_on_a_cancelled_token_runs_it_at_once() {
        let source = CancelSource::new();
        source.cancel();
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let token = source.token();
        let mut cb = pin!(PinnedOnCancel::new(token.as_token_ref(), move |_| {
            r.store(true, SeqCst)
        }));
        assert!(!ran.load(SeqCst), "it runs when armed, not when made");
        cb.as_mut().arm();
        assert!(ran.load(SeqCst));
        assert!(!cb.as_mut().disarm());
    }

    #[test]
    fn disarmed_or_never_armed_it_never_runs_and_its_closure_is_dropped() {
        let source = CancelSource::new();
        let token = source.token();
        let captured = Arc::new(());
        let c = captured.clone();
        let mut armed = pin!(PinnedOnCancel::new(token.as_token_ref(), move |_| {
            let _c = &c;
            unreachable!()
        }));
        armed.as_mut().arm();
        assert_eq!(Arc::strong_count(&captured), 2);
        assert!(armed.as_mut().disarm());
        assert!(
            armed.as_mut().disarm(),
            "a second disarm gives the same answer"
        );
        assert_eq!(Arc::strong_count(&captured), 1);
        armed.as_mut().arm(); // after disarm: nothing
        let mut never_armed = pin!(PinnedOnCancel::new(
            token.as_token_ref(),
            |_| unreachable!()
        ));
        assert!(never_armed.as_mut().disarm());
        source.cancel();
    }

    #[test]
    fn dropped_armed_it_leaves_the_list_and_never_runs() {
        let source = CancelSource::new();
        let token = source.token();
        {
            let mut cb = pin!(PinnedOnCancel::new(
                token.as_token_ref(),
                |_| unreachable!()
            ));
            cb.as_mut().arm();
        }
        source.cancel();
        assert!(token.is_cancelled());
    }

    #[test]
    fn on_a_never_token_it_never_runs() {
        let never = CancelToken::never();
        let mut cb = pin!(PinnedOnCancel::new(
            never.as_token_ref(),
            |_| unreachable!()
        ));
        cb.as_mut().arm();
        assert!(cb.as_mut().disarm());
    }

    #[test]
    fn disarm_waits_for_a_run_on_another_thread() {
        let source = CancelSource::new();
        let token = source.token();
        let started = Arc::new(AtomicBool::new(false));
        let finished = Arc::new(AtomicBool::new(false));
        let (st, fi) = (started.clone(), finished.clone());
        let mut cb = pin!(PinnedOnCancel::new(token.as_token_ref(), move |_| {
            st.store(true, SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            fi.store(true, SeqCst);
        }));
        cb.as_mut().arm();
        let canceller = std::thread::spawn(move || source.cancel());
        while !started.load(SeqCst) {
            std::thread::yield_now();
        }
        assert!(!cb.as_mut().disarm());
        assert!(
            finished.load(SeqCst),
            "disarm returned before the callback did"
        );
        canceller.join().unwrap();
    }
}

mod pinned_linked {
    use std::future::Future;
    use std::pin::pin;
    use std::task::Context;

    use cancel_token::{
        CancelSource, CancelToken, PinnedChild, PinnedLinked, Reason, StaticSource,
    };

    use super::Halt;

    #[test]
    fn cancelled_by_whichever_parent_with_its_cause_and_not_the_others() {
        let a = CancelSource::new();
        let b = CancelSource::new();
        let (ta, tb) = (a.token(), b.token());
        let linked = pin!(PinnedLinked::new([ta.as_token_ref(), tb.as_token_ref()]));
        let linked = linked.into_ref();
        let child = pin!(PinnedChild::new(linked.token()));
        let child = child.into_ref();
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut wait = pin!(child.token().cancelled());
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        assert!(!linked.is_cancelled());
        b.cancel_with(&Halt);
        assert!(linked.is_cancelled());
        assert!(linked.token().cause().is_some_and(|c| c.is::<Halt>()));
        assert!(child.token().cause().is_some_and(|c| c.is::<Halt>()));
        assert_eq!(
            wait.as_mut().poll(&mut cx),
            std::task::Poll::Ready(Reason::Cancelled)
        );
        assert!(
            !a.is_cancelled(),
            "a linked source never reaches its parents"
        );
        a.cancel();
    }

    #[test]
    fn a_parent_cancelled_before_first_use_cancels_it_on_first_use() {
        static CANCELLED: StaticSource = StaticSource::new();
        CANCELLED.cancel_with(&Halt);
        let live = CancelSource::new();
        let lt = live.token();
        let linked = pin!(PinnedLinked::new([
            lt.as_token_ref(),
            CANCELLED.token_ref()
        ]));
        let linked = linked.into_ref();
        assert!(linked.is_cancelled());
        assert!(linked.token().cause().is_some_and(|c| c.is::<Halt>()));
        assert!(!live.is_cancelled());
    }

    #[test]
    fn its_own_cancel_stays_local_and_a_never_parent_never_fires() {
        let parent = CancelSource::new();
        let pt = parent.token();
        let never = CancelToken::never();
        let linked = pin!(PinnedLinked::new([pt.as_token_ref(), never.as_token_ref()]));
        let linked = linked.into_ref();
        linked.cancel();
        assert_eq!(linked.token().reason(), Some(Reason::Cancelled));
        assert!(!parent.is_cancelled());
    }

    #[test]
    fn dropped_it_leaves_every_parent_and_cancels_its_children() {
        let a = CancelSource::new();
        let b = CancelSource::new();
        let (ta, tb) = (a.token(), b.token());
        {
            let linked = pin!(PinnedLinked::new([ta.as_token_ref(), tb.as_token_ref()]));
            let linked = linked.into_ref();
            assert!(!linked.is_cancelled());
        }
        {
            // Never used pinned: registered nowhere, nothing to undo.
            let _unused = PinnedLinked::new([ta.as_token_ref()]);
        }
        // Cancelling the parents afterwards reaches no dropped registration
        // (Miri would report a use after free).
        a.cancel();
        b.cancel();
    }

    #[test]
    fn a_parent_cancelled_on_another_thread_while_it_is_dropped() {
        for _ in 0..if cfg!(miri) { 5 } else { 200 } {
            let parent = CancelSource::new();
            let token = parent.token();
            let linked = Box::pin(PinnedLinked::new([token.as_token_ref()]));
            assert!(!linked.as_ref().is_cancelled());
            let canceller = std::thread::spawn(move || parent.cancel());
            drop(linked);
            canceller.join().unwrap();
        }
    }
}

/// Firmware keeps long-lived children in `static`s: `PinnedChild::new` and
/// `StaticSource::token_ref` are `const`, and `Pin::static_ref` pins it.
#[test]
fn a_pinned_child_in_a_static() {
    static ROOT: StaticSource = StaticSource::new();
    static MOTOR: PinnedChild<'static> = PinnedChild::new(ROOT.token_ref());
    static PUMP: PinnedChild<'static> = PinnedChild::new(ROOT.token_ref());
    let motor = Pin::static_ref(&MOTOR);
    let step = pin!(PinnedChild::new(motor.token()));
    let step = step.into_ref();
    let token = step.token();
    assert!(!token.is_cancelled());
    motor.cancel();
    assert_eq!(token.reason(), Some(Reason::Cancelled));
    assert!(!ROOT.is_cancelled());
    let pump = Pin::static_ref(&PUMP);
    assert!(!pump.is_cancelled());
    ROOT.cancel();
    assert!(pump.is_cancelled());
}

/// `PinnedLinked::new` is `const` too: a linked source of static roots can be
/// a `static`.
#[test]
fn a_pinned_linked_source_in_a_static() {
    static SHUTDOWN: StaticSource = StaticSource::new();
    static FAULT: StaticSource = StaticSource::new();
    static STOP: cancel_token::PinnedLinked<'static, 2> =
        cancel_token::PinnedLinked::new([SHUTDOWN.token_ref(), FAULT.token_ref()]);
    let stop = Pin::static_ref(&STOP);
    assert!(!stop.is_cancelled());
    FAULT.cancel();
    assert_eq!(stop.token().reason(), Some(Reason::Cancelled));
    assert!(!SHUTDOWN.is_cancelled());
}

/// Every pinned type is `Send` and `Sync`, so a future holding one (or a pin of
/// one) across an `.await` is `Send`: a `PinnedDeadline` as a `PinnedChild`.
const _: fn() = || {
    use cancel_token::{PinnedDeadline, PinnedLinked, PinnedOnCancel, TickDriver};
    fn is_send_sync<T: Send + Sync>() {}
    fn is_send<F: Future + Send>(_: F) {}
    static ROOT: StaticSource = StaticSource::new();
    static TICKS: TickDriver = TickDriver::new();
    is_send_sync::<PinnedChild<'static>>();
    is_send_sync::<PinnedDeadline<'static, &'static TickDriver>>();
    is_send_sync::<PinnedLinked<'static, 2>>();
    is_send_sync::<PinnedOnCancel<'static, fn(Reason)>>();
    is_send_sync::<cancel_token::TokenRef<'static>>();
    is_send(async {
        let child = pin!(PinnedChild::new(ROOT.token_ref()));
        child.as_ref().token().cancelled().await
    });
    is_send(async {
        let job = pin!(PinnedDeadline::new(ROOT.token_ref(), &TICKS, 5));
        job.as_ref().token().cancelled().await
    });
};

/// A `PinnedDeadline` and a `PinnedOnCancel` (whose constructors are not
/// `const`) live in `static` cells initialised at run time, pinned with
/// `Pin::static_mut`.
#[test]
fn a_pinned_deadline_and_callback_in_static_cells() {
    use cancel_token::{PinnedDeadline, PinnedOnCancel, TickDriver};
    use static_cell::StaticCell;
    use std::sync::atomic::{AtomicBool, Ordering};
    static ROOT: StaticSource = StaticSource::new();
    static TICKS: TickDriver = TickDriver::new();
    static STOPPED: AtomicBool = AtomicBool::new(false);
    static WATCHDOG: StaticCell<PinnedDeadline<'static, &'static TickDriver>> = StaticCell::new();
    static ON_STOP: StaticCell<PinnedOnCancel<'static, fn(Reason)>> = StaticCell::new();
    fn stop(reason: Reason) {
        STOPPED.store(reason == Reason::DeadlineExceeded, Ordering::Relaxed);
    }
    let watchdog = WATCHDOG.init(PinnedDeadline::new(ROOT.token_ref(), &TICKS, 10));
    let watchdog = Pin::static_mut(watchdog).into_ref();
    let token = watchdog.token();
    let mut on_stop = Pin::static_mut(ON_STOP.init(PinnedOnCancel::new(token, stop)));
    on_stop.as_mut().arm();
    assert_eq!(TICKS.pending(), 1);
    TICKS.advance_by(10);
    assert_eq!(token.reason(), Some(Reason::DeadlineExceeded));
    assert!(STOPPED.load(Ordering::Relaxed));
    assert!(!on_stop.as_mut().disarm());
}

/// Every pinned source reports its reason and cause itself, as
/// `CancelSource` and `StaticSource` do, without a detour through a token.
#[test]
fn pinned_sources_report_their_reason_and_cause() {
    use cancel_token::{PinnedDeadline, PinnedLinked, TickDriver};

    static ROOT: StaticSource = StaticSource::new();
    static OTHER: StaticSource = StaticSource::new();
    static TICKS: TickDriver = TickDriver::new();
    let child = pin!(PinnedChild::new(ROOT.token_ref()));
    let child = child.into_ref();
    let timed = pin!(PinnedDeadline::new(ROOT.token_ref(), &TICKS, 5));
    let timed = timed.into_ref();
    let linked = pin!(PinnedLinked::new([ROOT.token_ref(), OTHER.token_ref()]));
    let linked = linked.into_ref();
    assert_eq!(
        (child.reason(), timed.reason(), linked.reason()),
        (None, None, None)
    );
    assert!(child.cause().is_none() && timed.cause().is_none() && linked.cause().is_none());
    assert!(ROOT.cause().is_none());

    TICKS.advance_to(5);
    assert_eq!(timed.reason(), Some(Reason::DeadlineExceeded));
    assert!(timed.cause().is_none());

    ROOT.cancel_with(&Halt);
    assert!(ROOT.cause().is_some_and(|c| c.is::<Halt>()));
    for (reason, cause) in [
        (child.reason(), child.cause()),
        (linked.reason(), linked.cause()),
    ] {
        assert_eq!(reason, Some(Reason::Cancelled));
        assert!(cause.is_some_and(|c| c.is::<Halt>()));
    }
    assert!(!OTHER.is_cancelled());
}

/// A borrowed token blocks a thread as an owned one does.
#[test]
fn a_token_ref_waits_on_a_thread() {
    static ROOT: StaticSource = StaticSource::new();
    let child = pin!(PinnedChild::new(ROOT.token_ref()));
    let token = child.into_ref().token();
    assert_eq!(
        token.wait_timeout(std::time::Duration::from_millis(1)),
        None
    );
    std::thread::scope(|s| {
        let waiter = s.spawn(|| token.wait());
        ROOT.cancel_with(&Halt);
        assert_eq!(waiter.join().unwrap(), Reason::Cancelled);
    });
    assert_eq!(
        token.wait_timeout(std::time::Duration::from_secs(60)),
        Some(Reason::Cancelled)
    );
}

/// A pinned deadline below a deadline on another driver keeps its own tick:
/// a parent's deadline caps only the deadlines on its own timers.
#[test]
fn a_pinned_deadline_below_another_drivers_keeps_its_own() {
    use cancel_token::{PinnedDeadline, TickDriver};
    static ROOT: StaticSource = StaticSource::new();
    static FIRST: TickDriver = TickDriver::new();
    static SECOND: TickDriver = TickDriver::new();
    let outer = pin!(PinnedDeadline::new(ROOT.token_ref(), &FIRST, 10));
    let outer = outer.into_ref();
    let inner = pin!(PinnedDeadline::new(outer.token(), &SECOND, 50));
    let inner = inner.into_ref();
    assert_eq!(inner.token().deadline().map(|d| d.ticks()), Some(50));
    SECOND.advance_to(10);
    assert!(!inner.is_cancelled());
    SECOND.advance_to(50);
    assert_eq!(inner.reason(), Some(Reason::DeadlineExceeded));
    assert!(!outer.is_cancelled());
}
