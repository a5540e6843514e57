//! Dropping a pinned node waits for a canceller that still borrows it: the
//! node's memory is its owner's frame, gone once the drop returns.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use cancel_token::{CancelSource, Cancelled, PinnedChild, Reason};

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

#[test]
fn dropping_a_pinned_child_waits_for_a_canceller_that_borrows_it() {
    // More waiters than one wake batch holds, so the parent's cancel cannot
    // cancel the child in place: it borrows the child and wakes them in
    // rounds, the first of them with no lock held.
    const WAITERS: usize = 33;
    let steps = Arc::new(Steps::default());
    let parent = CancelSource::new();
    let token = parent.token();
    thread::scope(|scope| {
        let owner = scope.spawn(|| {
            {
                let child = pin!(PinnedChild::new(token.as_token_ref()));
                let child_token = child.as_ref().token();
                let waker = Waker::from(Arc::new(HoldingWaker(steps.clone())));
                let mut cx = Context::from_waker(&waker);
                let futs: Vec<Pin<Box<Cancelled<'_>>>> = (0..WAITERS)
                    .map(|_| {
                        let mut f = Box::pin(child_token.cancelled());
                        assert!(f.as_mut().poll(&mut cx).is_pending());
                        f
                    })
                    .collect();
                steps.ready.store(true, SeqCst);
                wait_for(&steps.in_wake, "the canceller to wake the first waiter");
                assert_eq!(child_token.reason(), Some(Reason::Cancelled));
                // The waiters not woken yet leave the child's list, under its
                // lock, which the canceller does not hold while it wakes.
                drop(futs);
                steps.dropping.store(true, SeqCst);
            } // the child is dropped here
            steps.dropped.store(true, SeqCst);
            // Keep this frame until the canceller is done, whatever happened.
            wait_for(&steps.cancelled, "the canceller to return");
        });
        wait_for(&steps.ready, "the owner to make the child");
        parent.cancel();
        steps.cancelled.store(true, SeqCst);
        owner.join().unwrap();
    });
    assert!(
        !steps.dropped_while_borrowed.load(SeqCst),
        "the pinned child's drop returned while a canceller was still waking its waiters"
    );
}
