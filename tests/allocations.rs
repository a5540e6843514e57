//! Allocation and memory accounting with a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::Context;

use cancel_token::{CancelSource, CancelToken};

struct Counting;

// Per thread, so the test harness's own allocations on other threads do not
// count; every measured test allocates and frees on its own thread.
std::thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator, counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.with(|l| l.set(l.get() + layout.size() as isize));
        ALLOCS.with(|a| a.set(a.get() + 1));
        // SAFETY: same contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.with(|l| l.set(l.get() - layout.size() as isize));
        // SAFETY: same contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn measure<R>(f: impl FnOnce() -> R) -> (R, usize, isize) {
    let a0 = ALLOCS.with(Cell::get);
    let l0 = LIVE.with(Cell::get);
    let r = f();
    (r, ALLOCS.with(Cell::get) - a0, LIVE.with(Cell::get) - l0)
}

/// Runs `round` once to warm up (one-time runtime allocations are not
/// counted), then `rounds` times, with the panic hook silenced (the default
/// one captures and caches backtraces); returns the live bytes they left.
///
/// One test at a time: the hook is the process's, and a test that put the
/// default one back while another's rounds ran would have them cache
/// backtraces on their thread (tens of megabytes, counted as a leak).
fn live_after_panicking_rounds(rounds: usize, round: impl Fn()) -> isize {
    static HOOK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = HOOK.lock().unwrap_or_else(|e| e.into_inner());
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    round();
    let ((), _, live) = measure(|| {
        for _ in 0..rounds {
            round();
        }
    });
    std::panic::set_hook(hook);
    live
}

#[test]
fn child_is_one_allocation_of_at_most_64_bytes() {
    let root = CancelSource::new();
    let token = root.token();
    let (child, allocs, live) = measure(|| token.child());
    assert_eq!(allocs, 1);
    assert!(live <= 64, "a child node takes {live} bytes");
    drop(child);
}

/// A linked source is two allocations, its node and its registrations, for
/// any number of parents; dropping it frees both.
#[test]
fn a_linked_source_is_two_allocations() {
    let parents: Vec<CancelSource> = (0..3).map(|_| CancelSource::new()).collect();
    let tokens: Vec<CancelToken> = parents.iter().map(CancelSource::token).collect();
    let (linked, allocs, _) = measure(|| CancelSource::linked(tokens.iter()));
    assert_eq!(allocs, 2);
    let ((), _, live) = measure(|| drop(linked));
    assert!(live < 0, "the linked source's memory was not freed");
    assert!(parents.iter().all(|p| !p.is_cancelled()));
}

#[test]
fn waiting_allocates_nothing() {
    let root = CancelSource::new();
    let token = root.token();
    let waker = futures_util::task::noop_waker();
    let ((), allocs, _) = measure(|| {
        let mut cx = Context::from_waker(&waker);
        {
            // Registered, re-polled, then dropped (unlinked).
            let mut fut = pin!(token.cancelled());
            assert!(fut.as_mut().poll(&mut cx).is_pending());
            assert!(fut.as_mut().poll(&mut cx).is_pending());
        }
        let mut fut = pin!(token.cancelled());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        root.cancel();
        assert!(fut.as_mut().poll(&mut cx).is_ready());
    });
    assert_eq!(allocs, 0);
}

#[test]
fn never_token_and_clones_allocate_nothing() {
    let root = CancelSource::new();
    let ((), allocs, _) = measure(|| {
        let n = CancelToken::never();
        let _n2 = n.clone();
        let _t = root.token().clone();
    });
    assert_eq!(allocs, 0);
}

#[test]
fn ten_million_children_of_an_immortal_parent_keep_memory_flat() {
    // Miri: 10M iterations would take hours; 1k shows the same invariant.
    let n = if cfg!(miri) { 1_000 } else { 10_000_000 };
    let ((), _, after_drop) = measure(|| {
        let root = CancelSource::new();
        let token = root.token();
        let ((), _, live) = measure(|| {
            for i in 0..n {
                let child = token.child();
                if i % 2 == 0 {
                    child.cancel();
                }
            }
        });
        // At most the one spare node the parent keeps for its next child.
        assert!((0..=64).contains(&live), "live bytes grew by {live}");
    });
    assert_eq!(after_drop, 0, "{after_drop} bytes outlive the tree");
}

#[test]
fn a_child_made_after_one_was_dropped_reuses_its_node() {
    let root = CancelSource::new();
    let token = root.token();
    drop(token.child());
    let (child, allocs, _) = measure(|| token.child());
    assert_eq!(allocs, 0, "the parent's spare node was not reused");
    assert!(!child.is_cancelled());
    root.cancel();
    assert!(
        child.is_cancelled(),
        "a reused node is linked under its parent"
    );
    // A cancelled parent keeps no spare: dropping the child frees its node.
    let ((), _, live) = measure(|| drop(child));
    assert!(live < 0, "the child's node was not freed");
}

/// A child cancelled by its own source and then dropped, with no token
/// left, goes back to its parent's spare as an unobserved one does: a loop
/// of `child()`, `cancel()`, drop allocates nothing after the first child.
#[test]
fn a_child_cancelled_then_dropped_is_kept_as_the_spare() {
    for with_deadline in [false, true] {
        // A parent keeps one spare, of one kind: one parent per kind.
        let root = CancelSource::new();
        let token = root.token();
        let driver = cancel_token::ManualDriver::new();
        let make = || {
            if with_deadline {
                token.child_with_timeout_on(&driver, std::time::Duration::from_secs(60))
            } else {
                token.child()
            }
        };
        let first = make();
        first.cancel();
        drop(first);
        let ((), allocs, live) = measure(|| {
            for _ in 0..100 {
                let child = make();
                assert!(!child.is_cancelled());
                child.cancel();
                assert!(child.is_cancelled());
            }
        });
        assert_eq!(allocs, 0, "deadline: {with_deadline}");
        assert_eq!(live, 0);
        assert_eq!(driver.pending(), 0);
        assert!(!root.is_cancelled());
    }
}

#[test]
fn an_observed_child_is_not_kept_as_a_spare() {
    let root = CancelSource::new();
    let token = root.token();
    let child = token.child();
    let observer = child.token();
    drop(child);
    assert!(observer.is_cancelled());
    let (_next, allocs, _) = measure(|| token.child());
    assert_eq!(allocs, 1, "a node a token still refers to was reused");
    drop(observer);
}

#[test]
fn cancel_storms_and_panicking_callbacks_return_to_baseline() {
    let rounds = if cfg!(miri) { 10 } else { 1_000 };
    let live = live_after_panicking_rounds(rounds, || {
        let root = CancelSource::new();
        let kids: Vec<_> = (0..16).map(|_| root.token().child()).collect();
        let guards: Vec<_> = kids
            .iter()
            .map(|k| k.token().on_cancel(|_| panic!("boom")))
            .collect();
        let linked =
            CancelSource::linked(kids.iter().map(|k| k.token()).collect::<Vec<_>>().iter());
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| root.cancel()));
        assert!(r.is_err());
        assert!(linked.is_cancelled());
        drop((guards, kids, linked));
    });
    assert_eq!(live, 0, "live bytes grew by {live}");
}

#[test]
fn a_million_ten_minute_timeouts_created_and_cancelled_leave_nothing() {
    use cancel_token::ManualDriver;
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let token = root.token();
    let ten_minutes = std::time::Duration::from_secs(600);
    let n = if cfg!(miri) { 500 } else { 1_000_000 };
    let ((), _, live) = measure(|| {
        for i in 0..n {
            let job = token.child_with_timeout_on(&driver, ten_minutes);
            if i % 2 == 0 {
                job.cancel();
            }
            if i % 1000 == 0 {
                driver.advance_by(std::time::Duration::from_millis(1));
            }
        }
    });
    assert_eq!(driver.pending(), 0);
    // At most the one spare node the parent keeps for its next child.
    let spare = cancel_token::__private::TIMED_NODE_SIZE as isize;
    assert!((0..=spare).contains(&live), "live bytes grew by {live}");
    let ((), _, freed) = measure(|| drop((root, token)));
    assert!(freed < -live, "the spare was not freed with its parent");
}

#[test]
fn a_deadline_child_reuses_a_dropped_one_and_is_armed() {
    use cancel_token::{ManualDriver, Reason};
    use std::time::Duration;
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let token = root.token();
    drop(token.child_with_timeout_on(&driver, Duration::from_secs(1)));
    assert_eq!(driver.pending(), 0);
    // A child without a deadline does not take a spare with one.
    let (plain, allocs, _) = measure(|| token.child());
    assert_eq!(allocs, 1);
    let (job, allocs, _) = measure(|| token.child_with_timeout_on(&driver, Duration::from_secs(1)));
    assert_eq!(allocs, 0, "the parent's spare node was not reused");
    assert_eq!(driver.pending(), 1);
    assert_eq!(job.token().deadline().map(|d| d.ticks()), Some(1_000_000));
    driver.advance_by(Duration::from_secs(1));
    assert_eq!(job.reason(), Some(Reason::DeadlineExceeded));
    assert!(!plain.is_cancelled());
}

#[test]
fn a_deadline_child_is_one_allocation() {
    use cancel_token::ManualDriver;
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let token = root.token();
    let (job, allocs, live) =
        measure(|| token.child_with_timeout_on(&driver, std::time::Duration::from_secs(1)));
    assert_eq!(allocs, 1);
    assert!(live <= 128, "a deadline node takes {live} bytes");
    drop(job);
}

#[test]
fn a_panicking_callback_fired_by_a_deadline_leaks_nothing() {
    use cancel_token::ManualDriver;
    let round = || {
        let driver = ManualDriver::new();
        let root = CancelSource::new();
        let job = root
            .token()
            .child_with_timeout_on(&driver, std::time::Duration::from_micros(5));
        let guard = job.token().on_cancel(|_| panic!("callback"));
        let fired = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            driver.advance_by(std::time::Duration::from_micros(5))
        }));
        assert!(fired.is_err());
        assert!(job.is_cancelled());
        assert_eq!(driver.pending(), 0);
        drop((guard, job, root, driver));
    };
    let live = live_after_panicking_rounds(if cfg!(miri) { 3 } else { 100 }, round);
    assert_eq!(live, 0, "live bytes grew by {live}");
}

/// Panics when dropped.
struct PanicOnDrop;
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("drop");
    }
}

#[test]
fn a_panicking_drop_inside_or_instead_of_a_callback_leaks_nothing() {
    let round = || {
        let root = CancelSource::new();
        let token = root.token();
        // Run: the closure's capture is dropped, panicking, inside the callback.
        let p = PanicOnDrop;
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let r = ran.clone();
        let guard = token.on_cancel(move |_| {
            let _p = p;
            r.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        // Disarmed: the closure is dropped, panicking, in `disarm`.
        let q = PanicOnDrop;
        let other = token.on_cancel(move |_| drop(q));
        let disarm = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| other.disarm()));
        assert!(disarm.is_err());
        let mut fut = Box::pin(token.cancelled());
        let waker = futures_util::task::noop_waker();
        assert!(fut
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        let cancel = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| root.cancel()));
        assert!(cancel.is_err());
        assert!(ran.load(std::sync::atomic::Ordering::SeqCst));
        assert!(token.is_cancelled());
        assert!(fut
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_ready());
        assert!(!guard.disarm());
        drop(fut);
        drop((token, root));
    };
    let live = live_after_panicking_rounds(if cfg!(miri) { 3 } else { 100 }, round);
    assert_eq!(live, 0, "live bytes grew by {live}");
}

#[test]
fn a_pinned_callback_allocates_nothing() {
    use cancel_token::PinnedOnCancel;
    let root = CancelSource::new();
    let token = root.token();
    let ((), allocs, _) = measure(|| {
        let mut cb = pin!(PinnedOnCancel::new(token.as_token_ref(), |_| {}));
        cb.as_mut().arm();
        root.cancel();
        assert!(!cb.as_mut().disarm());
    });
    assert_eq!(allocs, 0);
}

/// A root bound to a clock is two allocations (its node and the driver it
/// keeps), a timeout below it one more, and every one of them, with the
/// driver's timers, is given back however the tree goes: dropped, cancelled,
/// or detached.
#[test]
fn a_clock_root_and_its_timeouts_give_everything_back() {
    use cancel_token::ManualDriver;
    use std::time::Duration;

    let ((), allocs, live) = measure(|| {
        let driver = ManualDriver::new();
        let root = CancelSource::with_clock(driver.clone());
        drop(driver);
        drop(root); // unobserved: its timers go with it
    });
    assert_eq!(live, 0, "{allocs} allocations");
    let driver = ManualDriver::new();
    let (root, allocs, _) = measure(|| CancelSource::with_clock(driver.clone()));
    assert_eq!(allocs, 2, "the node and the driver it keeps");
    let (call, allocs, _) = measure(|| root.child_with_timeout(Duration::from_secs(1)));
    assert_eq!(allocs, 1);
    drop((call, root, driver));

    let ((), _, live) = measure(|| {
        let driver = ManualDriver::new();
        let root = CancelSource::with_clock(driver.clone());
        let token = root.token();
        let call = root.child_with_timeout(Duration::from_secs(1));
        let detached = call.detached();
        let late = detached.child_with_timeout(Duration::from_secs(9));
        root.cancel();
        drop((root, driver, call));
        drop(token);
        drop(detached);
        drop(late);
    });
    assert_eq!(live, 0);
}

/// Children of a root bound to a clock name it (72 bytes, one pointer more
/// than a plain child), and reuse the parent's spare as plain children do: a
/// loop of `child()` and drop allocates nothing after its first child.
#[test]
fn children_below_a_clock_root_reuse_the_spare() {
    use cancel_token::ManualDriver;
    let root = CancelSource::with_clock(ManualDriver::new());
    drop(root.child()); // leaves the spare
    let ((), allocs, live) = measure(|| {
        for _ in 0..1000 {
            drop(std::hint::black_box(root.child()));
        }
    });
    assert_eq!((allocs, live), (0, 0));
    let (child, allocs, live) = measure(|| root.child());
    assert_eq!((allocs, live), (0, 0), "in the spare");
    drop(child);
}

#[derive(Debug)]
struct Stop(#[allow(dead_code)] u64);
impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stop")
    }
}
impl std::error::Error for Stop {}

/// A tree of `n` children under a fresh root, with a grandchild under each.
fn tree(n: usize) -> (CancelSource, Vec<CancelSource>) {
    let root = CancelSource::new();
    let mut nodes = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let child = root.token().child();
        nodes.push(child.token().child());
        nodes.push(child);
    }
    (root, nodes)
}

#[test]
fn a_static_cause_allocates_nothing() {
    static STOP: Stop = Stop(0);
    let (root, nodes) = tree(10);
    let ((), allocs, live) = measure(|| {
        root.cancel_with(&STOP);
        for n in &nodes {
            let cause = n.token().cause().unwrap();
            assert!(cause.clone().is::<Stop>());
        }
    });
    assert_eq!((allocs, live), (0, 0));
}

/// An owned cause is one allocation, shared by every node the cancel
/// reaches and freed with the last of them: a tree cancelled with one and
/// dropped leaves nothing behind.
#[test]
fn an_owned_cause_is_one_allocation_freed_with_the_last_node() {
    let (root, nodes) = tree(10);
    let (cause, allocs, _) = measure(|| cancel_token::Cause::new(Stop(1)));
    assert_eq!(allocs, 1);
    let ((), allocs, _) = measure(|| {
        root.cancel_with(cause);
        for n in &nodes {
            assert!(n.token().cause().unwrap().is::<Stop>());
        }
    });
    assert_eq!(
        allocs, 0,
        "cancelling and reading clone the cause, not copy it"
    );
    let ((), _, live) = measure(|| {
        let kept = nodes[3].token().cause().unwrap();
        drop(root);
        drop(nodes);
        assert!(kept.is::<Stop>());
    });
    // The tree's nodes and the cause, all freed.
    assert!(live < 0);
    let ((), _, live) = measure(|| {
        let (root, nodes) = tree(10);
        root.cancel_with(cancel_token::Cause::new(Stop(2)));
        drop(nodes);
        drop(root);
    });
    assert_eq!(live, 0, "an owned cause leaked");
}

/// A timeout with a static cause for its expiry (a server's "caller's
/// deadline", made for every request) reuses its parent's spare as one
/// without does; one with an owned cause is freed instead (its cause is
/// dropped out of any lock).
#[test]
fn a_timeout_with_a_static_cause_reuses_the_spare() {
    use cancel_token::{Cause, ManualDriver};
    use std::time::Duration;

    #[derive(Debug)]
    struct CallerDeadline;
    impl std::fmt::Display for CallerDeadline {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("the caller's deadline")
        }
    }
    impl std::error::Error for CallerDeadline {}

    let server = CancelSource::with_clock(ManualDriver::new());
    let d = Duration::from_secs(30);
    drop(server.child_with_timeout_cause(d, &CallerDeadline)); // leaves the spare
    let ((), allocs, live) = measure(|| {
        for _ in 0..1000 {
            drop(std::hint::black_box(
                server.child_with_timeout_cause(d, &CallerDeadline),
            ));
        }
    });
    assert_eq!((allocs, live), (0, 0));
    let ((), allocs, live) = measure(|| {
        for _ in 0..10 {
            let cause = Cause::new(CallerDeadline);
            drop(server.child_with_timeout_cause(d, cause));
        }
    });
    // Nothing grows; the first took the spare, which none gave back.
    assert!(live <= 0, "{live} bytes left");
    assert!(allocs >= 10, "{allocs}: an owned cause is an allocation");
}

/// A callback registered on a token already cancelled runs at once, with the
/// reason, and is never boxed: registering it allocates nothing.
#[test]
fn a_callback_on_a_cancelled_token_runs_at_once_unboxed() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let root = CancelSource::new();
    root.cancel();
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let token = root.token();
    let (guard, allocs, _) = measure(move || {
        token.on_cancel(move |reason| {
            assert_eq!(reason, cancel_token::Reason::Cancelled);
            flag.store(true, Ordering::Relaxed);
        })
    });
    assert!(ran.load(Ordering::Relaxed));
    assert_eq!(allocs, 0, "the callback was boxed");
    assert!(!guard.disarm());
}

/// A cancel takes out the spare node its parent kept and frees it once the
/// parent is unlocked: the memory comes back at the cancel, not at the
/// parent's drop.
#[test]
fn a_cancel_frees_the_spare_it_takes_out() {
    let root = CancelSource::new();
    let token = root.token();
    drop(token.child()); // kept as the root's spare
    let ((), _, live) = measure(|| root.cancel());
    assert!(
        live < 0,
        "the spare was not freed by the cancel: {live} bytes"
    );
}
