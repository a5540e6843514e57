//! The cancel walk: how `cancel` reaches every descendant, waiter and
//! callback of a node.
//!
//! `cancel` marks a node under its lock, then drains its list in rounds: each
//! round takes entries out under the lock (waiters' wakers into a batch of up to
//! 32, children onto a work list, or one callback), drops the lock, and wakes or
//! runs them. Children on the work list are cancelled the same way in a loop, so a
//! chain of any depth uses constant stack. A node on the work list is held by a
//! reference (heap) or a borrow count its owner waits for (pinned), so its owner
//! may drop it at any time.
//!
//! A child with nothing in its list is cancelled on the spot, under its
//! parent's lock and its own, which saves the work list's reference. That is the
//! only place two node locks are held, always parent then child (see `# Lock
//! order` in the `node` module docs). With `std`, where the lock lives in the
//! state word, such a child (unlocked, no cause to write, no deadline to take
//! out) is cancelled by one compare-and-swap of its state instead: `NONEMPTY`,
//! kept by every unlock, says whether its list is empty.
//!
//! # Races
//!
//! Gathered in the `node` module docs: R1 (cancel vs registration), R2 (two
//! cancels), R3 (cancel vs an owner's unlink) and R8 (the lock-free cancel vs
//! a locker) are this walk's.

use core::mem::ManuallyDrop;
use core::ptr::NonNull;

use crate::node::kind::{self, Ownership};
use crate::node::list::{Entry, Kind, Status};
use crate::node::refs::drop_ref;
use crate::node::state::{Delta, State};
use crate::node::{Guard, Node, Slot};
use crate::sync::{Ordering::*, UnsafeCell};
use crate::{Cause, Reason};

impl Node {
    /// Cancels this node and every live descendant, waking waiters and running
    /// callbacks. Returns whether this call did it (false if already cancelled).
    pub(crate) fn cancel(this: NonNull<Node>, reason: Reason, cause: Option<Cause>) -> bool {
        // Once set, CANCELLED never clears and its setter drains the list.
        // SAFETY: the caller keeps the node alive.
        let node = unsafe { this.as_ref() };
        if node.is_cancelled() {
            return false;
        }
        // Each node cancelled takes its own clone; the caller's is dropped last.
        let cause = cause.as_ref();
        // `cancel_one`'s first step, before a work list or a wake batch is
        // set up: a node with nothing to drain takes one compare-and-swap.
        if let Some(did) = node.cancel_without_lock(reason, cause) {
            return did;
        }
        let mut work = WorkList(None);
        let mut wakers = crate::node::waiter::WakeBatch::new();
        let mut panic = crate::util::panic::PanicSlot::new();
        let did = Node::cancel_locked(this, reason, cause, &mut work, &mut wakers, &mut panic);
        while let Some(child) = work.pop() {
            // The work list holds a reference (or borrow) on each node in it.
            Node::cancel_one(child, reason, cause, &mut work, &mut wakers, &mut panic);
            // SAFETY: gives back the work list's reference.
            unsafe { drop_ref(child) };
        }
        panic.resume();
        did
    }

    fn cancel_one(
        this: NonNull<Node>,
        reason: Reason,
        cause: Option<&Cause>,
        work: &mut WorkList,
        wakers: &mut crate::node::waiter::WakeBatch,
        panic: &mut crate::util::panic::PanicSlot,
    ) -> bool {
        // SAFETY: the caller keeps the node alive.
        if let Some(did) = unsafe { this.as_ref() }.cancel_without_lock(reason, cause) {
            return did;
        }
        Node::cancel_locked(this, reason, cause, work, wakers, panic)
    }

    /// Whether this node was cancelled here, if that needs no lock: never
    /// for a `Never` node, and by one compare-and-swap (or not, found
    /// cancelled) for a node with nothing to drain. `None`: take the lock.
    #[inline(always)]
    fn cancel_without_lock(&self, reason: Reason, cause: Option<&Cause>) -> Option<bool> {
        if self.ownership() == Ownership::Never {
            return Some(false);
        }
        match self.cancel_if_idle_lock_free(reason, cause) {
            Idle::Cancelled => Some(true),
            Idle::Already => Some(false),
            Idle::Busy => None,
        }
    }

    /// [`cancel_one`](Self::cancel_one) past its lock-free attempt: under the
    /// node's lock, drains its list.
    fn cancel_locked(
        this: NonNull<Node>,
        reason: Reason,
        cause: Option<&Cause>,
        work: &mut WorkList,
        wakers: &mut crate::node::waiter::WakeBatch,
        panic: &mut crate::util::panic::PanicSlot,
    ) -> bool {
        // SAFETY: the caller keeps the node alive.
        let node = unsafe { this.as_ref() };
        let guard = node.lock();
        if guard.is_cancelled() {
            return false;
        }
        let Err(mut guard) = guard.cancel_if_idle(this, reason, cause) else {
            return true;
        };
        // Freed when this function returns, after the lock is released.
        let _stale = guard.mark_cancelled(this, reason, cause);
        loop {
            let mut callback = None;
            let destroyed = UnsafeCell::new(false);
            while let Some(e) = {
                // SAFETY: we hold the lock, so the list and the popped entries'
                // statuses are ours to change.
                unsafe { node.list.pop_front() }
            } {
                // SAFETY: a linked entry is valid until it is unlinked under the lock.
                let entry = unsafe { e.as_ref() };
                match entry.kind {
                    Kind::Child => {
                        // SAFETY: a linked child is alive (its owner unlinks it under
                        // this lock before letting go of it); `e` came from `entry_ptr`.
                        let child = unsafe { Node::from_entry(e) };
                        // SAFETY: the linked child is alive, as just said.
                        let c = unsafe { child.as_ref() };
                        // A child with nothing but waiters that fit in the batch
                        // is cancelled here, under both locks (always parent, then
                        // child); others go on the work list. Either way the
                        // child's lock is released, and a reference taken, before
                        // `Notified` lets its owner free it.
                        let done = match c.cancel_if_idle_lock_free(reason, cause) {
                            Idle::Cancelled | Idle::Already => true,
                            Idle::Busy => {
                                let child_guard = c.lock();
                                if child_guard.is_cancelled() {
                                    drop(child_guard);
                                    true
                                } else {
                                    child_guard
                                        .cancel_in_place(child, reason, cause, wakers)
                                        .is_ok()
                                }
                            }
                        };
                        if !done {
                            c.inc_ref();
                        }
                        // Release: pairs with the Acquire checks in `unlink_child`
                        // and `refs::free_alone`, so an owner that sees it also
                        // sees the child cancelled (or our reference taken).
                        entry.status.store(Status::Notified, Release);
                        if !done {
                            work.push(child);
                        } else if wakers.is_full() {
                            break;
                        }
                    }
                    Kind::Waiter => {
                        // SAFETY: the waiter is linked, so its future is pinned and alive.
                        let full = unsafe { crate::node::waiter::notify(e, wakers) };
                        if full {
                            break;
                        }
                    }
                    Kind::Callback => {
                        // SAFETY: under the lock; `destroyed` outlives the `run` below.
                        unsafe { crate::node::callback::claim(e, &destroyed) };
                        callback = Some(e);
                        break;
                    }
                }
            }
            let more = callback.is_some() || wakers.is_full();
            drop(guard);
            wakers.wake_all(panic);
            if let Some(cb) = callback {
                // SAFETY: `cb` is a callback we marked `Running`; its owner frees it only
                // after `Done` or after flagging it destroyed, both under this node's lock.
                unsafe { crate::node::callback::run(node, cb, &destroyed, reason, cause, panic) };
            }
            if !more {
                return true;
            }
            guard = node.lock();
        }
    }

    /// Cancels the node with one compare-and-swap if it is live and idle:
    /// unlocked, with an empty list, no spare, no deadline, and no cause to
    /// write (its slot holds `None` then). `Busy` leaves it to the locked path.
    #[cfg(any(feature = "std", cancel_token_loom))]
    fn cancel_if_idle_lock_free(&self, reason: Reason, cause: Option<&Cause>) -> Idle {
        if cause.is_some() || self.is_timed() {
            return Idle::Busy;
        }
        // Relaxed: only a guess for the CAS below, which fails and reloads
        // if it is stale. `Already` on this load acquires nothing either:
        // the caller (`cancel`, or a canceller of the parent) only returns.
        let mut state = self.state.load(Relaxed);
        loop {
            if state.is_cancelled() {
                return Idle::Already;
            }
            // Only with `LOCKED` clear: so a lock holder sees `CANCELLED`
            // change only under its own lock (see `Guard::is_cancelled`).
            if state.intersects(State::LOCKED | State::NONEMPTY | State::SPARE) {
                return Idle::Busy;
            }
            // Release: publishes what the canceller did before, as unlocking
            // with `CANCELLED` does. A locker that comes next sees it set.
            // Relaxed on failure: nothing is read through the value, which
            // only feeds the next attempt.
            match self.state.compare_exchange_weak(
                state,
                state.cancelled_with(reason),
                Release,
                Relaxed,
            ) {
                Ok(_) => return Idle::Cancelled,
                Err(now) => state = now,
            }
        }
    }

    /// Without `std` the lock is a critical section, as cheap as this path.
    #[cfg(not(any(feature = "std", cancel_token_loom)))]
    fn cancel_if_idle_lock_free(&self, _: Reason, _: Option<&Cause>) -> Idle {
        Idle::Busy
    }
}

/// What a cancel took out of a node's slot, freed when dropped: hold it until
/// the node's lock is released (a user's error may run code as it drops).
struct Stale {
    spare: Option<NonNull<Node>>,
    expiry: ManuallyDrop<Option<Cause>>,
}

impl Drop for Stale {
    /// In line to the check that there is nothing to free: most cancels.
    #[inline(always)]
    fn drop(&mut self) {
        if self.spare.is_some() || self.expiry.is_some() {
            self.free();
        }
    }
}

impl Stale {
    #[cold]
    #[inline(never)]
    fn free(&mut self) {
        drop(crate::node::spare::Spare(self.spare.take()));
        // SAFETY: taken once: `drop` is the only caller, once.
        drop(unsafe { ManuallyDrop::take(&mut self.expiry) });
    }
}

/// What `cancel_if_idle_lock_free` did.
#[cfg_attr(not(any(feature = "std", cancel_token_loom)), allow(dead_code))]
enum Idle {
    /// Cancelled it.
    Cancelled,
    /// It was cancelled already.
    Already,
    /// Not idle, or not on this path: take the lock.
    Busy,
}

impl Guard<'_> {
    /// Takes out the spare (or an expiry cause), writes a clone of the cause
    /// before `CANCELLED` is published, and takes a timed node's deadline out
    /// of its timer wheel (still under the node's lock, which arming also
    /// holds, so a deadline is never armed on a cancelled node). Returns what
    /// to add to the state to mark it cancelled, and what the slot held, to
    /// free once unlocked.
    #[inline]
    fn set_cause(
        &self,
        this: NonNull<Node>,
        reason: Reason,
        cause: Option<&Cause>,
    ) -> (Delta, Stale) {
        let spare = self.take_spare();
        let expiry = if spare.is_none() && self.node.class().has_expiry_cause() {
            // SAFETY: under the lock of a live node made with an expiry
            // cause and keeping no spare: the slot holds that cause
            // (invariant 9), overwritten below.
            self.node
                .slot
                .with_mut(|s| unsafe { ManuallyDrop::take(&mut (*s).cause) })
        } else {
            None
        };
        // SAFETY: under the lock and before `CANCELLED` is set: no reader
        // yet. The old value (`None`, or taken above) needs no drop.
        self.node
            .slot
            .with_mut(|s| unsafe { *s = Slot::cause(cause.cloned()) });
        // SAFETY: `this` is live, with its whole provenance, and cancelled
        // here, under its lock.
        unsafe { kind::disarm_on_cancel(this) };
        (
            Delta::cancel(self.state(), reason),
            Stale {
                spare,
                expiry: ManuallyDrop::new(expiry),
            },
        )
    }

    /// Marks a live node cancelled, keeping the lock to drain its list.
    /// Returns what its slot held, to free once unlocked.
    fn mark_cancelled(&self, this: NonNull<Node>, reason: Reason, cause: Option<&Cause>) -> Stale {
        let (delta, spare) = self.set_cause(this, reason, cause);
        // Release: publishes `cause` (and all the canceller did before) to Acquire readers.
        let old = self.node.state.fetch_add(delta, Release);
        debug_assert!(!old.is_cancelled(), "cancelled twice: {old:?}");
        spare
    }

    /// If the live node's list is empty and it keeps no spare, marks it
    /// cancelled and unlocks in one step (there is nothing to drain); an
    /// expiry cause it held is dropped once unlocked. Otherwise gives the
    /// guard back.
    // Inlined into the walk: out of line, cancelling a 1 000-child tree with
    // a cause ran 101 instructions a child instead of 71 (callgrind).
    #[inline(always)]
    fn cancel_if_idle(
        self,
        this: NonNull<Node>,
        reason: Reason,
        cause: Option<&Cause>,
    ) -> Result<(), Self> {
        if !self.node.list.is_empty_locked() || self.state().contains(State::SPARE) {
            return Err(self);
        }
        // Declared before the unlock below, so dropped after it.
        let (delta, _stale) = self.set_cause(this, reason, cause);
        let old = self.unlock_adding(delta);
        debug_assert!(!old.is_cancelled(), "cancelled twice: {old:?}");
        Ok(())
    }

    /// Like `cancel_if_idle`, and also when the list holds only waiters that
    /// fit in `wakers`: marks the node cancelled, moves their wakers into the
    /// batch (woken by the caller once its locks are released) and unlocks.
    /// Saves a child the work list: its reference, and a second lock. Not
    /// for a node made with an expiry cause, whose cause is dropped only
    /// once both locks are released.
    fn cancel_in_place(
        self,
        this: NonNull<Node>,
        reason: Reason,
        cause: Option<&Cause>,
        wakers: &mut crate::node::waiter::WakeBatch,
    ) -> Result<(), Self> {
        if self.node.class().has_expiry_cause() {
            return Err(self);
        }
        let guard = match self.cancel_if_idle(this, reason, cause) {
            Ok(()) => return Ok(()),
            Err(guard) => guard,
        };
        if guard.state().contains(State::SPARE)
            || !guard.node.list.only_waiters_within(wakers.room())
        {
            return Err(guard);
        }
        // No spare and no expiry cause: nothing to free.
        let _none = guard.mark_cancelled(this, reason, cause);
        // SAFETY: we hold the lock; every entry is a waiter (checked above),
        // linked, so its future is pinned and alive.
        while let Some(e) = unsafe { guard.node.list.pop_front() } {
            // SAFETY: `e` is a waiter (checked above), just popped under the lock.
            unsafe { crate::node::waiter::notify(e, wakers) };
        }
        Ok(())
    }
}

/// Nodes taken from lists by a canceller, chained through their entries' `next`.
struct WorkList(Option<NonNull<Entry>>);

impl WorkList {
    fn push(&mut self, node: NonNull<Node>) {
        // SAFETY: the node is `Notified` and held by our reference (or
        // borrow), so alive; its `next` link belongs to this canceller.
        let entry = unsafe { &node.as_ref().entry };
        entry.next.with_mut(|n| {
            // SAFETY: the link is ours, as above: no one else touches it.
            unsafe { *n = self.0 };
        });
        self.0 = Some(Node::entry_ptr(node));
    }

    fn pop(&mut self) -> Option<NonNull<Node>> {
        let e = self.0?;
        // SAFETY: `e` was pushed by `push`, so it is a held node's entry, and
        // its `next` link, read in the closure, is this canceller's.
        self.0 = unsafe { e.as_ref() }.next.with(|n| unsafe { *n });
        // SAFETY: `e` came from `entry_ptr` of that held node.
        Some(unsafe { Node::from_entry(e) })
    }
}
