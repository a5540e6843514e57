//! Loom models of every race on one node. Run with
//! `RUSTFLAGS="--cfg cancel_token_loom" cargo test --release --test loom`.
#![cfg(cancel_token_loom)]

use std::future::Future;
use std::pin::pin;
use std::task::Context;
use std::time::Duration;

use cancel_token::{CancelSource, CancelToken, ManualDriver, Reason};
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;

#[derive(Debug)]
struct CauseA;
#[derive(Debug)]
struct CauseB;
impl core::fmt::Display for CauseA {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("a")
    }
}
impl core::fmt::Display for CauseB {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("b")
    }
}
impl core::error::Error for CauseA {}
impl core::error::Error for CauseB {}

/// Runs `f` under every interleaving loom explores (preemptions bounded by
/// `LOOM_MAX_PREEMPTIONS`, 3 if unset) and prints how many it ran.
fn model(f: impl Fn() + Sync + Send + 'static) {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    let before = RUNS.load(std::sync::atomic::Ordering::Relaxed);
    builder.check(move || {
        RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f()
    });
    let name = std::thread::current().name().unwrap_or("?").to_owned();
    let runs = RUNS.load(std::sync::atomic::Ordering::Relaxed) - before;
    println!(
        "loom: {name}: {runs} interleavings (preemption bound {:?})",
        builder.preemption_bound
    );
}

/// A waiter registering while the token is cancelled is always woken
/// (`block_on` would deadlock, which loom reports, on a lost wake-up).
///
/// Checks race R1 and invariant 3 of `src/node/mod.rs`.
#[test]
fn cancel_vs_waiter_registration() {
    model(|| {
        let source = CancelSource::new();
        let token = source.token();
        let waiter = thread::spawn(move || loom::future::block_on(token.cancelled()));
        source.cancel();
        assert_eq!(waiter.join().unwrap(), Reason::Cancelled);
    });
}

/// A waiter on a child, woken by cancelling the parent, while it re-polls.
///
/// Checks races R1 and R8 (the parent's canceller may cancel the child with one CAS) of `src/node/mod.rs`.
#[test]
fn cancel_parent_vs_child_waiter() {
    model(|| {
        let root = CancelSource::new();
        let child = root.token().child();
        let token = child.token();
        let waiter = thread::spawn(move || {
            let r = loom::future::block_on(token.cancelled());
            drop(child);
            r
        });
        root.cancel();
        assert_eq!(waiter.join().unwrap(), Reason::Cancelled);
    });
}

/// A waiter on a child dropped (unlinking itself) while the parent's cancel
/// drains the child in place; a woken poll sees the parent's cause.
///
/// Checks race R3 and invariant 4 of `src/node/mod.rs`.
#[test]
fn cancel_parent_vs_child_waiter_drop() {
    model(|| {
        let root = CancelSource::new();
        let child = root.token().child();
        let token = child.token();
        let t = thread::spawn(move || {
            let waker = futures_util::task::noop_waker();
            let mut cx = Context::from_waker(&waker);
            let mut fut = pin!(token.cancelled());
            let first = fut.as_mut().poll(&mut cx);
            let second = fut.as_mut().poll(&mut cx);
            if second.is_ready() {
                assert!(token.cause().is_some_and(|c| c.is::<CauseA>()));
            }
            drop(fut);
            drop(child);
            first
        });
        root.cancel_with(&CauseA);
        let _ = t.join().unwrap();
    });
}

/// A waiter dropped (unlinking itself) while a canceller drains the list.
///
/// Checks race R3 and invariant 4 of `src/node/mod.rs`.
#[test]
fn cancel_vs_waiter_drop() {
    model(|| {
        let source = CancelSource::new();
        let token = source.token();
        let t = thread::spawn(move || {
            let waker = futures_util::task::noop_waker();
            let mut cx = Context::from_waker(&waker);
            let mut fut = pin!(token.cancelled());
            let first = fut.as_mut().poll(&mut cx);
            drop(fut);
            first
        });
        source.cancel();
        let _ = t.join().unwrap();
    });
}

/// A child source dropped while its parent is cancelled: the child is either
/// unlinked by its owner or held by the canceller until it is done.
///
/// Checks race R3 and invariant 4 of `src/node/mod.rs`.
#[test]
fn cancel_vs_child_drop() {
    model(|| {
        let root = CancelSource::new();
        let child = root.token().child();
        let grandchild = child.token().child();
        let gt = grandchild.token();
        let t = thread::spawn(move || drop(child));
        root.cancel();
        t.join().unwrap();
        assert!(gt.is_cancelled());
        drop(grandchild);
    });
}

/// A child created while its parent is cancelled is either linked and then
/// cancelled, or born cancelled.
///
/// Checks races R1 and R8 and invariant 3 of `src/node/mod.rs`.
#[test]
fn cancel_vs_child_create() {
    model(|| {
        let root = CancelSource::new();
        let token = root.token();
        let t = thread::spawn(move || token.child());
        root.cancel();
        let child = t.join().unwrap();
        assert!(child.is_cancelled());
    });
}

/// Disarming a callback while it is being run: it runs at most once, disarm
/// says which happened, and a `false` disarm returns after the callback did.
///
/// Checks race R4 of `src/node/mod.rs` (the cases in `src/node/callback.rs`).
#[test]
fn cancel_vs_callback_disarm() {
    model(|| {
        let source = CancelSource::new();
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let guard = source.token().on_cancel(move |_| {
            r.fetch_add(1, SeqCst);
        });
        disarm_while_cancelled(source, &ran, || guard.disarm());
    });
}

/// The same with a callback stored in place (`PinnedOnCancel`).
///
/// Checks race R4 of `src/node/mod.rs` (the cases in `src/node/callback.rs`).
#[test]
fn cancel_vs_pinned_callback_disarm() {
    model(|| {
        let source = CancelSource::new();
        let token = source.token();
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let mut callback = pin!(cancel_token::PinnedOnCancel::new(
            token.as_token_ref(),
            move |_| {
                r.fetch_add(1, SeqCst);
            }
        ));
        callback.as_mut().arm();
        disarm_while_cancelled(source, &ran, || callback.as_mut().disarm());
    });
}

/// Cancels `source` on another thread while `disarm` removes a callback that
/// counts its runs in `ran`, and checks the outcome.
fn disarm_while_cancelled(source: CancelSource, ran: &AtomicUsize, disarm: impl FnOnce() -> bool) {
    let t = thread::spawn(move || source.cancel());
    let removed = disarm();
    let seen = ran.load(SeqCst);
    t.join().unwrap();
    assert_eq!(ran.load(SeqCst) + usize::from(removed), 1);
    if !removed {
        assert_eq!(seen, 1, "disarm returned before the callback finished");
    }
}

/// A linked source stored in place (`PinnedLinked`) dropped while its
/// parent is cancelled: the registration is removed or has finished
/// cancelling it before the drop returns (loom reports any access after).
///
/// Checks race R4 and invariant 4 of `src/node/mod.rs`.
#[test]
fn pinned_linked_drop_vs_parent_cancel() {
    model(|| {
        let parent = CancelSource::new();
        let token = parent.token();
        let linked = Box::pin(cancel_token::PinnedLinked::new([token.as_token_ref()]));
        assert!(!linked.as_ref().is_cancelled());
        let t = thread::spawn(move || parent.cancel());
        drop(linked);
        t.join().unwrap();
        assert!(token.is_cancelled());
    });
}

/// Registering a callback while the token is cancelled: it runs exactly once,
/// inline or on the canceller.
///
/// Checks race R1 and invariant 3 of `src/node/mod.rs`.
#[test]
fn cancel_vs_callback_register() {
    model(|| {
        let source = CancelSource::new();
        let token = source.token();
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let t = thread::spawn(move || {
            token.on_cancel(move |_| {
                r.fetch_add(1, SeqCst);
            })
        });
        source.cancel();
        let guard = t.join().unwrap();
        assert_eq!(ran.load(SeqCst), 1);
        assert!(!guard.disarm());
    });
}

/// Two cancels with different causes: one wins everywhere.
///
/// Checks race R2 and invariant 1 of `src/node/mod.rs`.
#[test]
fn two_cancels_with_different_causes() {
    model(|| {
        let root = CancelSource::new();
        let child = root.token().child();
        let child_token = child.token();
        let root_token = root.token();
        let t = thread::spawn(move || {
            child.cancel_with(&CauseB);
            child
        });
        root.cancel_with(&CauseA);
        let child = t.join().unwrap();
        assert_eq!(root_token.cause().unwrap().to_string(), "a");
        let c = child_token.cause().unwrap().to_string();
        assert!(c == "a" || c == "b");
        drop(child);
    });
}

/// Two threads cancelling the same source with different causes.
///
/// Checks race R2 and invariant 1 of `src/node/mod.rs`.
#[test]
fn two_cancels_of_one_node() {
    model(|| {
        let source = Arc::new(CancelSource::new());
        let token = source.token();
        let child = token.child();
        let s2 = source.clone();
        let t = thread::spawn(move || s2.cancel_with(&CauseB));
        source.cancel_with(&CauseA);
        t.join().unwrap();
        let root_cause = token.cause().unwrap().to_string();
        assert_eq!(child.token().cause().unwrap().to_string(), root_cause);
    });
}

/// A linked source whose two parents are cancelled at once.
///
/// Checks race R2 of `src/node/mod.rs`.
#[test]
fn linked_parents_cancel_concurrently() {
    model(|| {
        let a = CancelSource::new();
        let b = CancelSource::new();
        let linked = CancelSource::linked([&a.token(), &b.token()]);
        let t = thread::spawn(move || a.cancel_with(&CauseA));
        b.cancel_with(&CauseB);
        t.join().unwrap();
        assert!(linked.is_cancelled());
    });
}

/// A linked source dropped while a parent cancels.
///
/// Checks race R4 of `src/node/mod.rs` (a linked source's registrations are callbacks).
#[test]
fn linked_drop_vs_parent_cancel() {
    model(|| {
        let a = CancelSource::new();
        let linked = CancelSource::linked([&a.token()]);
        let t = thread::spawn(move || drop(linked));
        a.cancel();
        t.join().unwrap();
    });
}

/// Re-polling with a new waker races the canceller: if the last poll was
/// pending, the last registered waker is woken.
///
/// Checks race R1 of `src/node/mod.rs` (register, then check).
#[test]
fn repoll_vs_cancel() {
    struct Count(AtomicUsize);
    impl std::task::Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    model(|| {
        let source = CancelSource::new();
        let token = source.token();
        let t = thread::spawn(move || {
            let first = std::sync::Arc::new(Count(AtomicUsize::new(0)));
            let second = std::sync::Arc::new(Count(AtomicUsize::new(0)));
            // Boxed and handed back, so it stays registered until after cancel.
            let mut fut = Box::pin(token.cancelled_owned());
            let w1 = std::task::Waker::from(first.clone());
            if fut.as_mut().poll(&mut Context::from_waker(&w1)).is_ready() {
                return None;
            }
            let w2 = std::task::Waker::from(second.clone());
            let last = fut.as_mut().poll(&mut Context::from_waker(&w2));
            Some((last.is_pending(), second, fut))
        });
        source.cancel();
        if let Some((pending, second, fut)) = t.join().unwrap() {
            if pending {
                assert_eq!(second.0.load(SeqCst), 1, "lost wake-up");
            }
            drop(fut);
        }
    });
}

/// A deadline firing races its source's cancel: one reason wins, the callback
/// runs once, and the wheel entry is gone either way.
///
/// Checks race R6 and invariant 7 of `src/node/mod.rs`.
#[test]
fn deadline_fire_vs_cancel() {
    model(|| {
        let driver = ManualDriver::new();
        let root = CancelSource::new();
        let job = root
            .token()
            .child_with_timeout_on(&driver, Duration::from_micros(1));
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let _guard = job.token().on_cancel(move |_| {
            r.fetch_add(1, SeqCst);
        });
        let d = driver.clone();
        let t = thread::spawn(move || d.advance_by(Duration::from_micros(1)));
        job.cancel();
        t.join().unwrap();
        let reason = job.reason().unwrap();
        assert!(reason == Reason::Cancelled || reason == Reason::DeadlineExceeded);
        assert_eq!(ran.load(SeqCst), 1);
        assert_eq!(driver.pending(), 0);
    });
}

/// A deadline moves (`reset_timeout`) while its driver fires it: the move
/// either lands first, and the deadline fires at its new tick (counted from
/// the clock before the firing), or finds it passed or firing and is
/// refused; the token expires once, and no timer is left.
///
/// Checks race R10 and invariants 7 and 10 of `src/node/mod.rs`.
#[test]
fn deadline_reset_vs_fire() {
    use cancel_token::ResetError;
    model(|| {
        let driver = ManualDriver::new();
        let root = CancelSource::with_clock(driver.clone());
        let job = root.child_with_timeout(Duration::from_micros(1));
        // Due at the same tick and fired first: the clock has moved while
        // the job's entry is still in the wheel.
        let first = root.child_with_timeout(Duration::from_micros(1));
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let _guard = job.on_cancel(move |_| {
            r.fetch_add(1, SeqCst);
        });
        let d = driver.clone();
        let t = thread::spawn(move || d.advance_by(Duration::from_micros(1)));
        let moved = job.reset_timeout(Duration::from_micros(3));
        t.join().unwrap();
        assert_eq!(first.reason(), Some(Reason::DeadlineExceeded));
        match moved {
            // Moved before the firing, from the clock's tick before it:
            // live until its new tick, 3.
            Ok(()) => {
                assert!(!job.is_cancelled());
                assert_eq!(driver.pending(), 1);
                assert_eq!(job.remaining(), Some(Duration::from_micros(2)));
                driver.advance_by(Duration::from_micros(2));
            }
            Err(e) => assert_eq!(e, ResetError::Cancelled),
        }
        assert_eq!(job.reason(), Some(Reason::DeadlineExceeded));
        assert_eq!(ran.load(SeqCst), 1);
        assert_eq!(driver.pending(), 0);
    });
}

/// A deadline moves later while a child asking for a later timeout is made
/// under it: either the child sees the later deadline and arms a timer of
/// its own, or it takes the deadline as its own first and the move is
/// refused; the child never outlives the timeout it asked for.
///
/// Checks race R11 and invariant 10 of `src/node/mod.rs`.
#[test]
fn deadline_reset_later_vs_covered_child() {
    use cancel_token::ResetError;
    model(|| {
        let driver = ManualDriver::new();
        let root = CancelSource::with_clock(driver.clone());
        let request = Arc::new(root.child_with_timeout(Duration::from_micros(2)));
        let r = request.clone();
        let t = thread::spawn(move || r.child_with_timeout(Duration::from_micros(4)));
        let moved = request.reset_timeout(Duration::from_micros(9));
        let call = t.join().unwrap();
        match moved {
            Ok(()) => assert_eq!(call.remaining(), Some(Duration::from_micros(4))),
            Err(e) => {
                assert_eq!(e, ResetError::Covered);
                assert_eq!(call.remaining(), Some(Duration::from_micros(2)));
            }
        }
        driver.advance_by(Duration::from_micros(4));
        assert_eq!(call.reason(), Some(Reason::DeadlineExceeded));
        drop(call);
        drop(request);
        assert_eq!(driver.pending(), 0);
    });
}

/// A deadline made with a cause fires while its source cancels with
/// another: the cause that wins is the one of the cancel that wins, on the
/// child and on its child, and the wheel entry is gone either way.
///
/// Checks race R9 and invariants 1 and 9 of `src/node/mod.rs`.
#[test]
fn deadline_fire_with_cause_vs_cancel_with() {
    model(|| {
        let driver = ManualDriver::new();
        let root = CancelSource::new();
        let job =
            root.token()
                .child_with_timeout_cause_on(&driver, Duration::from_micros(1), &CauseA);
        let step = job.child();
        let d = driver.clone();
        let t = thread::spawn(move || d.advance_by(Duration::from_micros(1)));
        job.cancel_with(&CauseB);
        t.join().unwrap();
        let expected = match job.reason().unwrap() {
            Reason::DeadlineExceeded => "a",
            Reason::Cancelled => "b",
            r => panic!("{r:?}"),
        };
        assert_eq!(job.cause().unwrap().to_string(), expected);
        assert_eq!(step.cause().unwrap().to_string(), expected);
        assert_eq!(step.reason(), job.reason());
        assert_eq!(driver.pending(), 0);
    });
}

/// A deadline source dropped while the deadline fires.
///
/// Checks race R6 and invariant 7 of `src/node/mod.rs`.
#[test]
fn deadline_fire_vs_drop() {
    model(|| {
        let driver = ManualDriver::new();
        let root = CancelSource::new();
        let job = root
            .token()
            .child_with_timeout_on(&driver, Duration::from_micros(1));
        let token = job.token();
        let d = driver.clone();
        let t = thread::spawn(move || d.advance_by(Duration::from_micros(1)));
        drop(job);
        t.join().unwrap();
        assert!(token.is_cancelled());
        assert_eq!(driver.pending(), 0);
    });
}

/// A deadline child created while its parent is cancelled: never left armed.
///
/// Checks race R1 and invariants 3 and 7 of `src/node/mod.rs`.
#[test]
fn deadline_arm_vs_parent_cancel() {
    model(|| {
        let driver = ManualDriver::new();
        let root = CancelSource::new();
        let token = root.token();
        let d = driver.clone();
        let t = thread::spawn(move || token.child_with_timeout_on(&d, Duration::from_secs(1)));
        root.cancel();
        let job = t.join().unwrap();
        assert!(job.is_cancelled());
        assert_eq!(driver.pending(), 0);
    });
}

/// A child source with no token left is dropped (freed without being marked)
/// while its parent's cancel takes it from the list.
///
/// Checks race R5 and invariant 5 of `src/node/mod.rs`.
#[test]
fn cancel_vs_unobserved_child_drop() {
    model(|| {
        let root = CancelSource::new();
        let child = root.token().child();
        let t = thread::spawn(move || drop(child));
        root.cancel();
        t.join().unwrap();
    });
}

/// Race: a child cancelled by its own source, with no token left, is dropped
/// (freed, or kept as the parent's spare, under the parent's lock with no
/// read-modify-write of its own) while its parent's cancel takes it from the
/// list. Invariant: exactly one of them lets go of it (loom reports a node
/// touched after it was freed), and a child made afterwards is born
/// cancelled.
///
/// Checks race R5 and invariant 5 of `src/node/mod.rs`.
#[test]
fn cancelled_child_drop_vs_parent_cancel() {
    model(|| {
        let root = CancelSource::new();
        let child = root.child();
        child.cancel();
        let t = thread::spawn(move || drop(child));
        root.cancel();
        t.join().unwrap();
        assert!(root.child().is_cancelled());
    });
}

/// Race: a deadline child cancelled by its own source (which disarmed it and
/// so freed its orphaned timers) is dropped alone while its parent cancels.
/// Invariant: the drop does not touch the timers again (their second use or
/// free fails the model), whichever goes first.
///
/// Checks race R5 and invariant 7 of `src/node/mod.rs`.
#[test]
fn cancelled_deadline_drop_vs_parent_cancel_on_orphaned_timers() {
    orphaned_deadline_drop_vs_parent_cancel(true);
}

/// A deadline source with no token left is dropped (its deadline taken out
/// under its parent's lock, unless it is being popped) while the deadline
/// fires.
///
/// Checks races R5 and R6 and invariant 7 of `src/node/mod.rs`.
#[test]
fn deadline_fire_vs_unobserved_drop() {
    model(|| {
        let root = CancelSource::new();
        fire_vs_unobserved_drop(&root.token());
    });
}

/// A deadline child of `never` (linked nowhere, so taken out of its timers
/// without a parent's lock) is dropped unobserved while its deadline fires.
///
/// Checks race R6 and invariant 7 of `src/node/mod.rs`.
#[test]
fn deadline_fire_vs_unobserved_drop_under_never() {
    model(|| fire_vs_unobserved_drop(&CancelToken::never()));
}

/// Drops a deadline child of `parent`, unobserved, while its deadline fires.
fn fire_vs_unobserved_drop(parent: &CancelToken) {
    let driver = ManualDriver::new();
    let job = parent.child_with_timeout_on(&driver, Duration::from_micros(1));
    let d = driver.clone();
    let t = thread::spawn(move || d.advance_by(Duration::from_micros(1)));
    drop(job);
    t.join().unwrap();
    assert_eq!(driver.pending(), 0);
}

/// A driver dropped while the last deadline on it is dropped: its timers
/// are freed exactly once, by whichever goes last, and never used after.
///
/// Checks invariant 7 of `src/node/mod.rs` (a deadline's hold on its timers).
#[test]
fn driver_drop_vs_deadline_drop() {
    model(|| {
        let freed = cancel_token::__private::timers_freed();
        let driver = ManualDriver::new();
        let root = CancelSource::new();
        let job = root
            .token()
            .child_with_timeout_on(&driver, Duration::from_secs(1));
        let t = thread::spawn(move || drop(driver));
        drop(job);
        t.join().unwrap();
        assert_eq!(cancel_token::__private::timers_freed(), freed + 1);
    });
}

/// The last deadline on a dropped driver's timers is dropped unobserved while
/// its parent's cancel reaches it: of the drop (which takes the deadline out
/// only while the node is still in its parent's list) and the cancel, only
/// one gives up its hold (and frees the timers); the other must not touch
/// them.
///
/// Checks race R5 and invariant 7 of `src/node/mod.rs`.
#[test]
fn parent_cancel_vs_unobserved_deadline_drop_on_orphaned_timers() {
    orphaned_deadline_drop_vs_parent_cancel(false);
}

/// Drops the last deadline child of a dropped driver's timers, cancelled by
/// its own source first or not, while its parent cancels; the timers are
/// freed exactly once, and never used after.
fn orphaned_deadline_drop_vs_parent_cancel(cancel_first: bool) {
    model(move || {
        let freed = cancel_token::__private::timers_freed();
        let driver = ManualDriver::new();
        let root = CancelSource::new();
        let job = root
            .token()
            .child_with_timeout_on(&driver, Duration::from_secs(1));
        drop(driver);
        if cancel_first {
            job.cancel();
            assert_eq!(cancel_token::__private::timers_freed(), freed + 1);
        }
        let t = thread::spawn(move || drop(job));
        root.cancel();
        t.join().unwrap();
        assert_eq!(cancel_token::__private::timers_freed(), freed + 1);
    });
}

/// An unobserved child dropped (its node kept as the parent's spare) and a
/// new child made, perhaps in that spare, while the parent is cancelled: the
/// new child ends cancelled, whichever happened first.
///
/// Checks race R7 and invariant 6 of `src/node/mod.rs`.
#[test]
fn spare_reuse_vs_parent_cancel() {
    model(|| {
        let root = CancelSource::new();
        let token = root.token();
        let first = token.child();
        let t = thread::spawn(move || {
            drop(first);
            token.child()
        });
        root.cancel();
        let second = t.join().unwrap();
        assert!(second.is_cancelled());
    });
}

/// A spare kept by one thread and reused by another: the reused node is a
/// live, linked child that its parent's cancel reaches.
///
/// Checks race R7 and invariant 6 of `src/node/mod.rs`.
#[test]
fn spare_handoff_between_threads() {
    model(|| {
        let root = CancelSource::new();
        let token = root.token();
        let first = token.child();
        let t = thread::spawn(move || drop(first));
        let second = token.child();
        t.join().unwrap();
        assert!(!second.is_cancelled());
        root.cancel();
        assert!(second.is_cancelled());
    });
}

/// A deadline child dropped into the parent's spare and a new one made in
/// it, while the parent is cancelled: the new child ends cancelled and no
/// deadline is left armed.
///
/// Checks race R7 and invariants 6 and 7 of `src/node/mod.rs`.
#[test]
fn timed_spare_reuse_vs_parent_cancel() {
    model(|| {
        let driver = ManualDriver::new();
        let root = CancelSource::new();
        let token = root.token();
        let first = token.child_with_timeout_on(&driver, Duration::from_secs(1));
        let d = driver.clone();
        let t = thread::spawn(move || {
            drop(first);
            token.child_with_timeout_on(&d, Duration::from_secs(1))
        });
        root.cancel();
        let second = t.join().unwrap();
        assert!(second.is_cancelled());
        assert_eq!(driver.pending(), 0);
    });
}

/// A timed child armed in its parent's spare (under the parent's lock, before
/// it is linked) while its deadline is reached on another thread: it expires
/// once, either as it is armed or from the wheel, and leaves nothing armed.
///
/// Checks race R7 and invariant 7 of `src/node/mod.rs`.
#[test]
fn timed_spare_reuse_vs_fire() {
    model(|| {
        let driver = ManualDriver::new();
        let root = CancelSource::new();
        let token = root.token();
        drop(token.child_with_timeout_on(&driver, Duration::from_secs(5)));
        let d = driver.clone();
        let t = thread::spawn(move || d.advance_by(Duration::from_secs(1)));
        let second = token.child_with_deadline_on(&driver, Duration::from_secs(1));
        t.join().unwrap();
        assert_eq!(second.reason(), Some(Reason::DeadlineExceeded));
        assert!(!root.is_cancelled());
        assert_eq!(driver.pending(), 0);
        drop(second);
        assert_eq!(driver.pending(), 0);
    });
}

/// The operations on one node `N` that may race. `N` is a deadline child of a
/// linked source `L = linked([P])`, so a firing deadline and a cancel of the
/// linked parent `P` both reach it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Cancel,
    ChildCreate,
    ChildDrop,
    WaiterRegister,
    WaiterPoll,
    WaiterDrop,
    CallbackRegister,
    CallbackDisarm,
    DeadlineFire,
    LinkedParentCancel,
}

const OPS: [Op; 10] = [
    Op::Cancel,
    Op::ChildCreate,
    Op::ChildDrop,
    Op::WaiterRegister,
    Op::WaiterPoll,
    Op::WaiterDrop,
    Op::CallbackRegister,
    Op::CallbackDisarm,
    Op::DeadlineFire,
    Op::LinkedParentCancel,
];

/// What one thread's op leaves for the final checks.
#[derive(Default)]
struct Left {
    child: Option<CancelSource>,
    waiter: Option<(
        std::pin::Pin<Box<cancel_token::CancelledOwned>>,
        std::sync::Arc<Wakes>,
    )>,
    guard: Option<cancel_token::OnCancel>,
    /// Whether a disarm removed its callback before it ran.
    disarmed: bool,
}

#[derive(Default)]
struct Wakes(AtomicUsize);
impl std::task::Wake for Wakes {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn poll_once(
    fut: &mut std::pin::Pin<Box<cancel_token::CancelledOwned>>,
    wakes: &std::sync::Arc<Wakes>,
) -> bool {
    let waker = std::task::Waker::from(wakes.clone());
    fut.as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_ready()
}

/// Every pair of operations on one node, each as its own model: after both
/// threads finish and the linked parent is cancelled, every waiter is ready
/// and was woken at most once, every callback ran once or was removed before
/// it ran (never both), and the deadline is out of the wheel.
///
/// Checks races R1 to R8 pairwise, and invariants 3, 4 and 7, of `src/node/mod.rs`.
#[test]
fn every_pair_of_operations_on_one_node() {
    for (i, &a) in OPS.iter().enumerate() {
        for &b in &OPS[i..] {
            let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let r = runs.clone();
            let mut builder = loom::model::Builder::new();
            // 45 + 10 models: bound 3 keeps them to about a minute (5 takes ~8).
            builder.preemption_bound = Some(builder.preemption_bound.unwrap_or(3).min(3));
            builder.check(move || {
                r.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let driver = ManualDriver::new();
                let p = Arc::new(CancelSource::new());
                let l = CancelSource::linked([&p.token()]);
                let n = Arc::new(
                    l.token()
                        .child_with_timeout_on(&driver, Duration::from_micros(1)),
                );
                let ran = Arc::new(AtomicUsize::new(0));
                let run = |op: Op| -> thread::JoinHandle<Left> {
                    let (n, p, driver, ran) = (n.clone(), p.clone(), driver.clone(), ran.clone());
                    // Pre-existing entries for the drop/poll/disarm ops.
                    let mut left = Left::default();
                    match op {
                        Op::ChildDrop => left.child = Some(n.token().child()),
                        Op::WaiterPoll | Op::WaiterDrop => {
                            let w = std::sync::Arc::new(Wakes::default());
                            let mut f = Box::pin(n.token().cancelled_owned());
                            let _ = poll_once(&mut f, &w);
                            left.waiter = Some((f, w));
                        }
                        Op::CallbackDisarm => {
                            let ran = ran.clone();
                            left.guard = Some(n.token().on_cancel(move |_| {
                                ran.fetch_add(1, SeqCst);
                            }));
                        }
                        _ => {}
                    }
                    thread::spawn(move || {
                        match op {
                            Op::Cancel => n.cancel(),
                            Op::ChildCreate => left.child = Some(n.token().child()),
                            Op::ChildDrop => left.child = None,
                            Op::WaiterRegister => {
                                let w = std::sync::Arc::new(Wakes::default());
                                let mut f = Box::pin(n.token().cancelled_owned());
                                let _ = poll_once(&mut f, &w);
                                left.waiter = Some((f, w));
                            }
                            Op::WaiterPoll => {
                                let (f, w) = left.waiter.as_mut().unwrap();
                                let _ = poll_once(f, w);
                            }
                            Op::WaiterDrop => left.waiter = None,
                            Op::CallbackRegister => {
                                left.guard = Some(n.token().on_cancel(move |_| {
                                    ran.fetch_add(1, SeqCst);
                                }));
                            }
                            Op::CallbackDisarm => {
                                left.disarmed = left.guard.take().unwrap().disarm();
                            }
                            Op::DeadlineFire => driver.advance_by(Duration::from_micros(1)),
                            Op::LinkedParentCancel => p.cancel(),
                        }
                        left
                    })
                };
                let ha = run(a);
                let hb = run(b);
                let la = ha.join().unwrap();
                let lb = hb.join().unwrap();
                p.cancel();
                assert!(n.is_cancelled());
                assert_eq!(driver.pending(), 0);
                let mut disarmed = 0;
                for mut left in [la, lb] {
                    if let Some(child) = &left.child {
                        assert!(child.is_cancelled());
                    }
                    if let Some((f, w)) = left.waiter.as_mut() {
                        assert!(poll_once(f, w), "a waiter is not ready after cancel");
                        assert!(w.0.load(SeqCst) <= 1);
                    }
                    disarmed += usize::from(left.disarmed);
                    if let Some(g) = left.guard.take() {
                        assert!(!g.disarm(), "a callback still armed after cancel");
                    }
                }
                // Each callback either ran once or was disarmed before it ran.
                let callbacks = [a, b]
                    .iter()
                    .filter(|&&op| op == Op::CallbackDisarm || op == Op::CallbackRegister)
                    .count();
                assert_eq!(ran.load(SeqCst) + disarmed, callbacks);
            });
            println!(
                "loom: pair {a:?} / {b:?}: {} interleavings",
                runs.load(SeqCst)
            );
        }
    }
}

/// Race: two threads poll one shared waiter (`CancelledOwned::poll_cancelled`
/// through a shared pin, as a runtime polls a task header) for the first
/// time while the token is cancelled. Invariant: the waiter is linked once
/// (a second link would loop the list, which loom reports as a hang), and
/// if either poll was pending, exactly one wake-up reaches a registered
/// waker.
///
/// Checks race R1 and invariant 4 (linked once) of `src/node/mod.rs`.
#[test]
fn shared_waiter_first_polls_vs_cancel() {
    struct Count(AtomicUsize);
    impl std::task::Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    model(|| {
        let source = CancelSource::new();
        let shared = Arc::new(Box::pin(source.token().cancelled_owned()));
        let woken = std::sync::Arc::new(Count(AtomicUsize::new(0)));
        type Shared = Arc<std::pin::Pin<Box<cancel_token::CancelledOwned>>>;
        let poll = |shared: &Shared, woken: &std::sync::Arc<Count>| {
            let waker = std::task::Waker::from(woken.clone());
            (**shared)
                .as_ref()
                .poll_cancelled(&mut Context::from_waker(&waker))
                .is_pending()
        };
        let other = {
            let (shared, woken) = (shared.clone(), woken.clone());
            thread::spawn(move || poll(&shared, &woken))
        };
        let here = poll(&shared, &woken);
        let there = other.join().unwrap();
        source.cancel();
        if here || there {
            assert_eq!(woken.0.load(SeqCst), 1, "lost or doubled wake-up");
        }
        assert!(!poll(&shared, &woken), "cancelled for good");
    });
}

/// Wakes a model's sleeper (a loom `Notify`, which keeps a permit as the
/// drivers' event listener and tokio `Notify` do).
struct NotifyWaker(Arc<loom::sync::Notify>);

impl std::task::Wake for NotifyWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.notify();
    }
}

/// A deadline armed while the sleeper computes the tick it sleeps until: the
/// sleeper either sleeps until a tick no later than the deadline or is woken
/// by the arm's `wake_at` (a lost request leaves it asleep, which loom reports
/// as a deadlock), and its next turn finds the deadline due at that tick.
///
/// Checks "Why no request is lost" in `src/driver/ms/mod.rs`.
#[test]
fn deadline_arm_vs_sleeper_target() {
    use cancel_token::__private::LoomSleeper;
    model(|| {
        let driver = LoomSleeper::new();
        let sleeper = {
            let driver = driver.clone();
            thread::spawn(move || loop {
                let due = driver.fire(0);
                let until = driver.target(due);
                if until <= 5 {
                    return until;
                }
                driver.wait_woken();
            })
        };
        let root = CancelSource::new();
        let job = root.token().child_with_deadline_on(&driver, 5);
        let until = sleeper.join().unwrap();
        assert_eq!(until, 5, "the sleeper wakes for the deadline, not earlier");
        assert_eq!(driver.fire(5), u64::MAX, "fired at its tick");
        assert_eq!(job.reason(), Some(Reason::DeadlineExceeded));
    });
}

/// A driver's last handle dropped while its last deadline is disarmed, with
/// its sleeper running: the sleeper, which ends once no handle is left and
/// no deadline is armed, neither ends while the deadline is armed nor sleeps
/// on after both (loom reports a sleeper never woken as a deadlock), and the
/// timers are freed once.
///
/// Checks "Why the sleeper neither ends early nor lingers" in `src/driver/ms/mod.rs`.
#[test]
fn last_handle_drop_vs_last_deadline_disarm() {
    use cancel_token::__private::LoomSleeper;
    model(|| {
        let freed = cancel_token::__private::timers_freed();
        let driver = LoomSleeper::new();
        let root = CancelSource::new();
        let job = root
            .token()
            .child_with_timeout_on(&driver, Duration::from_secs(1));
        let wake = Arc::new(loom::sync::Notify::new());
        let sleeper = {
            let (driver, wake) = (driver.clone(), wake.clone());
            thread::spawn(move || {
                let waker = std::task::Waker::from(std::sync::Arc::new(NotifyWaker(wake.clone())));
                loop {
                    driver.fire(0);
                    if driver.should_end(&waker) {
                        break;
                    }
                    wake.wait();
                }
                assert_eq!(driver.pending(), 0, "ended with a deadline armed");
            })
        };
        let last_handle = thread::spawn(move || {
            driver.close();
            wake.notify();
        });
        drop(job);
        last_handle.join().unwrap();
        sleeper.join().unwrap();
        assert_eq!(cancel_token::__private::timers_freed(), freed + 1);
    });
}

/// Race: a descendant of a `with_clock` root is detached, and the detached
/// root takes a timeout on the tree's clock, while the root is cancelled.
/// Invariant: the detached root and its child, linked nowhere, are never
/// cancelled; the child is armed on the same timers (and fires there); and
/// once everything is dropped the timers are freed exactly once, with no
/// deadline left armed.
///
/// Checks races R12 and R13 of `src/node/mod.rs`.
#[test]
fn detach_vs_ancestor_cancel() {
    model(|| {
        let freed = cancel_token::__private::timers_freed();
        let driver = ManualDriver::new();
        let root = CancelSource::with_clock(driver.clone());
        let part = root.child();
        let t = thread::spawn(move || {
            let detached = part.detached();
            let audit = detached.child_with_timeout(Duration::from_secs(1));
            (detached, audit)
        });
        root.cancel();
        let (detached, audit) = t.join().unwrap();
        assert!(!detached.is_cancelled());
        assert!(!audit.is_cancelled());
        assert_eq!(driver.pending(), 1, "armed on the tree's clock");
        drop(root);
        driver.advance_by(Duration::from_secs(1));
        assert_eq!(audit.reason(), Some(Reason::DeadlineExceeded));
        assert_eq!(driver.pending(), 0);
        drop(audit);
        drop(driver);
        assert_eq!(
            cancel_token::__private::timers_freed(),
            freed,
            "the detached root keeps them"
        );
        drop(detached);
        assert_eq!(cancel_token::__private::timers_freed(), freed + 1);
    });
}

/// Race: a child bound to another clock (`child_with_clock(driver2)`), with
/// no token left, is dropped (taken out under its parent's lock) while its
/// parent's cancel reaches it (and disarms it). Invariant: its hold on
/// `driver2`'s timers is given back exactly once, whichever wins, so they
/// are freed once, after `driver2`'s last handle goes, and not before.
///
/// Checks races R5 and R13 of `src/node/mod.rs`.
#[test]
fn clock_child_unobserved_drop_vs_parent_cancel() {
    model(|| {
        let freed = cancel_token::__private::timers_freed();
        let driver2 = ManualDriver::new();
        let root = CancelSource::new();
        let part = root.child_with_clock(driver2.clone());
        let t = thread::spawn(move || drop(part));
        root.cancel();
        t.join().unwrap();
        assert_eq!(
            cancel_token::__private::timers_freed(),
            freed,
            "a handle is left"
        );
        drop(driver2);
        assert_eq!(cancel_token::__private::timers_freed(), freed + 1);
    });
}

/// Race: a `with_clock` root is cancelled while a timeout child made from
/// it is dropped. Invariant: each of the two gives back its own hold on the
/// timers once (the root's disarm, the child's disarm or take-out; a second
/// disarm of either fails the model), nothing is left armed, and the timers
/// are freed once.
///
/// Checks races R5 and R13 of `src/node/mod.rs`.
#[test]
fn clock_root_cancel_vs_timed_child_drop() {
    clock_root_end_vs_timed_child_drop(true);
}

/// Race: a `with_clock` root's source is dropped while a timeout child made
/// from it is dropped: whichever goes last finds the root unobserved or
/// cancels it. Invariant: as in `clock_root_cancel_vs_timed_child_drop`.
///
/// Checks races R5 and R10 of `src/node/mod.rs`.
#[test]
fn clock_root_drop_vs_timed_child_drop() {
    clock_root_end_vs_timed_child_drop(false);
}

/// Cancels (`cancel`) or drops a `with_clock` root while a timeout child
/// of it is dropped on another thread; the timers are freed once after.
fn clock_root_end_vs_timed_child_drop(cancel: bool) {
    model(move || {
        let freed = cancel_token::__private::timers_freed();
        let driver = ManualDriver::new();
        let root = CancelSource::with_clock(driver.clone());
        let call = root.child_with_timeout(Duration::from_secs(1));
        let t = thread::spawn(move || drop(call));
        if cancel {
            root.cancel();
            t.join().unwrap();
            drop(root);
        } else {
            drop(root);
            t.join().unwrap();
        }
        assert_eq!(driver.pending(), 0);
        drop(driver);
        assert_eq!(cancel_token::__private::timers_freed(), freed + 1);
    });
}

/// An owned cause that counts its drops (in the model's own atomics).
#[derive(Debug)]
struct Counted(Arc<AtomicUsize>);
impl core::fmt::Display for Counted {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("counted")
    }
}
impl core::error::Error for Counted {}
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// An owned cause whose last other holder, the source's node, is freed on
/// one thread while another thread reads it on a child and clones it: the
/// reader holds its own reference, so the error is dropped exactly once,
/// after every use (loom reports a use after free or a leaked `Arc`).
///
/// Checks race R14 and invariant 11 of `src/node/mod.rs`.
#[test]
fn owned_cause_last_drop_vs_descendant_read() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let root = CancelSource::new();
        let child = root.token().child();
        let cause = cancel_token::Cause::new(Counted(drops.clone()));
        let t = thread::spawn(move || {
            root.cancel_with(cause);
            drop(root);
        });
        let seen = child.token().cause().map(|c| {
            let copy = c.clone();
            drop(c);
            copy.to_string()
        });
        t.join().unwrap();
        assert!(seen.is_none() || seen.as_deref() == Some("counted"));
        assert!(child.token().cause().is_some());
        assert_eq!(drops.load(SeqCst), 0, "the child still holds it");
        drop(child);
        assert_eq!(drops.load(SeqCst), 1);
    });
}

/// A deadline made with an owned cause fires while its source cancels with
/// another owned cause: the winner's is reported, and each is dropped
/// exactly once, the loser's (the expiry cause replaced, or the cancel's
/// discarded) no later than the node.
///
/// Checks races R9 and R14 and invariants 9 and 11 of `src/node/mod.rs`.
#[test]
fn owned_expiry_cause_fire_vs_owned_cancel_with() {
    model(|| {
        let (expiry, cancel) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let driver = ManualDriver::new();
        let root = CancelSource::new();
        let job = root.token().child_with_timeout_cause_on(
            &driver,
            Duration::from_micros(1),
            cancel_token::Cause::new(Counted(expiry.clone())),
        );
        let d = driver.clone();
        let t = thread::spawn(move || d.advance_by(Duration::from_micros(1)));
        job.cancel_with(cancel_token::Cause::new(Counted(cancel.clone())));
        t.join().unwrap();
        let (won, lost) = match job.reason().unwrap() {
            Reason::DeadlineExceeded => (&expiry, &cancel),
            Reason::Cancelled => (&cancel, &expiry),
            r => panic!("{r:?}"),
        };
        assert!(job.cause().unwrap().is::<Counted>());
        assert_eq!((won.load(SeqCst), lost.load(SeqCst)), (0, 1));
        drop(job);
        assert_eq!((won.load(SeqCst), lost.load(SeqCst)), (1, 1));
        assert_eq!(driver.pending(), 0);
    });
}
