//! The intrusive waiter inside `Cancelled` futures, and the wake batch.

use core::marker::PhantomPinned;
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use core::task::{Context, Poll, Waker};

use crate::node::kind::Ownership;
use crate::node::list::{Entry, Kind, Status};
use crate::node::Node;
use crate::sync::{Ordering::*, WakerSlot};
use crate::Reason;

/// A waiting future's list entry and waker. `#[repr(C)]` with the entry first:
/// the canceller turns an entry pointer back into a waiter pointer.
#[repr(C)]
pub(crate) struct Waiter {
    entry: Entry,
    waker: WakerSlot,
    _pin: PhantomPinned,
}

// SAFETY: the raw links are touched only under the node's lock; the waker slot is
// thread-safe.
unsafe impl Send for Waiter {}
// SAFETY: as above.
unsafe impl Sync for Waiter {}

impl Waiter {
    pub(crate) fn new() -> Self {
        Waiter {
            entry: Entry::new(Kind::Waiter, 0),
            waker: WakerSlot::new(),
            _pin: PhantomPinned,
        }
    }

    /// Polls for the cancellation of `node`. Callers may race (through a
    /// shared `poll_cancelled`): the waiter is linked once, and the last
    /// waker registered is the one woken.
    ///
    /// The waiter must stay pinned and used with the same `node` until `unlink`.
    pub(crate) fn poll(&self, node: &Node, cx: &mut Context<'_>) -> Poll<Reason> {
        // Acquire: pairs with the Release store of `Notified` (and `Done`),
        // made after `CANCELLED` was set, so the reason read then is set.
        match self.entry.status.load(Acquire) {
            Status::Idle => {
                if let Some(reason) = node.reason() {
                    return Poll::Ready(reason);
                }
                if node.ownership() == Ownership::Never {
                    return Poll::Pending;
                }
                self.waker.register(cx.waker());
                let guard = node.lock();
                let state = guard.state();
                if state.is_cancelled() {
                    drop(guard);
                    return Poll::Ready(state.cancelled_reason());
                }
                // Another poller of a shared waiter (`poll_cancelled`) may have
                // linked it since the load above; links change under this lock.
                if self.entry.status_locked() == Status::Idle {
                    // SAFETY: under the lock; the waiter is pinned and unlinks in `unlink`.
                    unsafe { node.list.push_front(NonNull::from(self).cast()) };
                }
                Poll::Pending
            }
            Status::Queued => {
                // Register first, then check: a canceller sets `Notified` before
                // taking the waker, so either it takes this waker or we see
                // `Notified` (or `Done`). Acquire: as above, so the reason is set.
                self.waker.register(cx.waker());
                if self.entry.status.load(Acquire) != Status::Queued {
                    return Poll::Ready(node.cancelled_reason());
                }
                Poll::Pending
            }
            Status::Notified | Status::Done => Poll::Ready(node.cancelled_reason()),
            Status::Running => unreachable!("only callbacks run"),
        }
    }

    /// Leaves `node`'s list. Called from the future's drop.
    pub(crate) fn unlink(&self, node: &Node) {
        // Idle: only this waiter moves itself out of it. Done: the canceller
        // has taken the waker and will not touch the waiter again; Acquire
        // pairs with its Release store, so the take happens-before our drop.
        if matches!(self.entry.status.load(Acquire), Status::Idle | Status::Done) {
            return;
        }
        // Notified: the canceller may still be taking our waker, under the lock.
        let _guard = node.lock();
        match self.entry.status_locked() {
            Status::Queued => {
                // SAFETY: under the lock, and we are in this node's list.
                unsafe { node.list.unlink(NonNull::from(self).cast()) };
                self.entry.status.store(Status::Idle, Relaxed); // Relaxed: under the lock
            }
            // The canceller went from `Notified` to `Done` under the lock.
            Status::Done => {}
            s => unreachable!("a waiter is {s:?} under the lock"),
        }
    }
}

/// Marks a waiter notified and moves its waker into `batch`. Returns whether the
/// batch is full.
///
/// # Safety
/// The caller holds the lock of the node whose list `e` was just popped from, and
/// `e` is a `Kind::Waiter` entry.
pub(crate) unsafe fn notify(e: NonNull<Entry>, batch: &mut WakeBatch) -> bool {
    // SAFETY: the entry is the first field of a `#[repr(C)]` waiter, alive while we
    // hold the lock (its future unlinks under the lock before it goes away).
    let waiter = unsafe { e.cast::<Waiter>().as_ref() };
    debug_assert_eq!(waiter.entry.status_locked(), Status::Queued);
    // Release: the future that sees `Notified` (Acquire) also sees `CANCELLED`.
    waiter.entry.status.store(Status::Notified, Release);
    if let Some(w) = waiter.waker.take() {
        batch.push(w);
    }
    // Release: done with the waiter; its future may go without the lock.
    waiter.entry.status.store(Status::Done, Release);
    batch.is_full()
}

const BATCH: usize = 32;

/// Wakers taken under a lock, woken after it is released. Only the used slots
/// are ever touched, so an empty batch costs nothing.
pub(crate) struct WakeBatch {
    wakers: [MaybeUninit<Waker>; BATCH],
    /// `wakers[..len]` are initialised.
    len: usize,
}

impl WakeBatch {
    pub(crate) fn new() -> Self {
        WakeBatch {
            wakers: [const { MaybeUninit::uninit() }; BATCH],
            len: 0,
        }
    }

    fn push(&mut self, waker: Waker) {
        debug_assert!(self.len < BATCH);
        self.wakers[self.len].write(waker);
        self.len += 1;
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len == BATCH
    }

    /// How many more wakers fit.
    pub(crate) fn room(&self) -> usize {
        BATCH - self.len
    }

    pub(crate) fn wake_all(&mut self, panic: &mut crate::util::panic::PanicSlot) {
        while self.len > 0 {
            self.len -= 1;
            // SAFETY: slots below the old `len` are initialised; lowering `len`
            // first hands this one over to us.
            let w = unsafe { self.wakers[self.len].assume_init_read() };
            panic.guard(|| w.wake());
        }
    }
}

impl Drop for WakeBatch {
    fn drop(&mut self) {
        for w in &mut self.wakers[..self.len] {
            // SAFETY: slots below `len` are initialised and not yet read.
            unsafe { w.assume_init_drop() };
        }
    }
}
