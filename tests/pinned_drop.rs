//! Dropping a pinned node waits for a canceller that still borrows it: the
//! node's memory is its owner's frame, gone once the drop returns.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use cancel_token::{
    CancelSource, Cancelled, PinnedChild, PinnedDeadline, Reason, StaticSource, TickDriver,
};

/// Waits until `flag` is set, for at most 30 s.
fn wait_for(flag: &AtomicBool, what: &str) {
    let start = Instant::now();
    while !flag.load(SeqCst) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

#[derive(Default)]
struct Steps {
    /// The owner has made the child and its waiters.
    ready: AtomicBool,
    /// The canceller is inside the child's first waker.
    in_wake: AtomicBool,
    /// The owner is about to drop the child.
    dropping: AtomicBool,
    /// The owner's drop of the child returned.
    dropped: AtomicBool,
    /// The canceller saw the drop return while it was still waking.
    dropped_while_borrowed: AtomicBool,
    /// The canceller's `cancel` returned.
    cancelled: AtomicBool,
    wakes: AtomicUsize,
}

/// Its first wake, on the canceller's thread, holds the canceller inside the
/// child's cancel until the owner has started dropping the child, then gives
/// the drop time to return (which it must not yet).
struct HoldingWaker(Arc<Steps>);

impl Wake for HoldingWaker {
    fn wake(self: Arc<Self>) {
        let s = &self.0;
        if s.wakes.fetch_add(1, SeqCst) != 0 {
            return;
        }
        s.in_wake.store(true, SeqCst);
        wait_for(&s.dropping, "the owner to drop the child");
        thread::sleep(Duration::from_millis(if cfg!(miri) { 20 } else { 100 }));
        if s.dropped.load(SeqCst) {
            s.dropped_while_borrowed.store(true, SeqCst);
        }
    }
}

/// More waiters than one wake batch holds, so a cancel cannot cancel the
/// node in place: it borrows the node and wakes them in rounds, the first of
/// them with no lock held.
const WAITERS: usize = 33;

/// On a thread of its own, the owner makes the pinned node `$make`, with
/// `WAITERS` waiters on it, and drops it once the canceller (this thread,
/// running `$cancel`) is inside the first wake; the drop must not return
/// before the canceller is done with the node.
macro_rules! drop_while_borrowed {
    ($make:expr, $cancel:expr, $reason:expr) => {{
        let steps = Arc::new(Steps::default());
        thread::scope(|scope| {
            let owner = scope.spawn(|| {
                {
                    let node = pin!($make);
                    let token = node.as_ref().token();
                    let waker = Waker::from(Arc::new(HoldingWaker(steps.clone())));
                    let mut cx = Context::from_waker(&waker);
                    let futs: Vec<Pin<Box<Cancelled<'_>>>> = (0..WAITERS)
                        .map(|_| {
                            let mut f = Box::pin(token.cancelled());
                            assert!(f.as_mut().poll(&mut cx).is_pending());
                            f
                        })
                        .collect();
                    steps.ready.store(true, SeqCst);
                    wait_for(&steps.in_wake, "the canceller to wake the first waiter");
                    assert_eq!(token.reason(), Some($reason));
                    // The waiters not woken yet leave the list, under the
                    // node's lock, which the canceller does not hold as it wakes.
                    drop(futs);
                    steps.dropping.store(true, SeqCst);
                } // the node is dropped here
                steps.dropped.store(true, SeqCst);
                // Keep this frame until the canceller is done, whatever happened.
                wait_for(&steps.cancelled, "the canceller to return");
            });
            wait_for(&steps.ready, "the owner to make the node");
            $cancel;
            steps.cancelled.store(true, SeqCst);
            owner.join().unwrap();
        });
        assert!(
            !steps.dropped_while_borrowed.load(SeqCst),
            "a pinned node's drop returned while a canceller was still waking its waiters"
        );
    }};
}

#[test]
fn dropping_a_pinned_child_waits_for_a_canceller_that_borrows_it() {
    let parent = CancelSource::new();
    let token = parent.token();
    drop_while_borrowed!(
        PinnedChild::new(token.as_token_ref()),
        parent.cancel(),
        Reason::Cancelled
    );
}

#[test]
fn dropping_a_pinned_deadline_waits_for_a_canceller_of_its_parent() {
    static TICKS: TickDriver = TickDriver::new();
    let parent = CancelSource::new();
    let token = parent.token();
    drop_while_borrowed!(
        PinnedDeadline::new(token.as_token_ref(), &TICKS, 1_000_000),
        parent.cancel(),
        Reason::Cancelled
    );
    assert_eq!(TICKS.pending(), 0);
}

#[test]
fn dropping_a_pinned_deadline_waits_for_its_deadline_firing() {
    static ROOT: StaticSource = StaticSource::new();
    static TICKS: TickDriver = TickDriver::new();
    drop_while_borrowed!(
        PinnedDeadline::new(ROOT.token_ref(), &TICKS, 10),
        TICKS.advance_by(10),
        Reason::DeadlineExceeded
    );
    assert_eq!(TICKS.pending(), 0);
    assert!(!ROOT.is_cancelled());
}
