//! One spare child node per heap parent, so that children made and dropped
//! again and again under a long-lived parent (requests under a server's root)
//! reuse a node rather than call the allocator each time.
//!
//! When an unobserved child is dropped (see `refs::free_alone`), its
//! heap parent keeps its memory if it has none yet; the next child of the
//! same kind (with a deadline or without) takes it. The spare lives in the
//! parent's `slot`, which holds the cause only once the parent is cancelled;
//! the state's `SPARE` bit says the slot holds one, and `SPARE_TIMED` that it
//! is a node with a deadline or a scoped one (a child below a deadline or a
//! clock root), which the spare's own class byte tells apart. A timed parent made with a cause for its
//! expiry keeps that cause in its slot while live, so it keeps no spare. These change only under the parent's lock.
//! Cancelling the parent frees its spare once the lock is released; freeing
//! the parent frees it too. So a parent holds at most one node (64 bytes on
//! 64-bit targets, 96 with a deadline) more than its live children. A timed
//! spare was disarmed first, so it holds no timers.

use core::ptr::NonNull;

#[cfg(feature = "alloc")]
use crate::node::kind::{Memory, Ownership, Shape};
#[cfg(feature = "alloc")]
use crate::node::state::Delta;
use crate::node::state::State;
#[cfg(feature = "alloc")]
use crate::node::Slot;
use crate::node::{Guard, Node};
#[cfg(feature = "alloc")]
use crate::sync::Ordering::Relaxed;

/// A spare taken out of its parent, freed when dropped: hold it until the
/// parent's lock is released.
#[cfg_attr(not(feature = "alloc"), allow(dead_code))] // never `Some` without `alloc`
pub(crate) struct Spare(pub(crate) Option<NonNull<Node>>);

impl Drop for Spare {
    fn drop(&mut self) {
        #[cfg(feature = "alloc")]
        if let Some(spare) = self.0 {
            // SAFETY: a spare is a `Box` allocation that no one else refers
            // to; its stale value is a valid node (timed or not, out of its
            // wheel) to drop.
            unsafe { crate::node::kind::drop_box(spare) };
        }
    }
}

impl Guard<'_> {
    /// Takes the spare out of the slot; the caller clears `SPARE` in its next
    /// write of the state, still under the lock.
    pub(crate) fn take_spare(&self) -> Option<NonNull<Node>> {
        if !self.state().contains(State::SPARE) {
            return None;
        }
        // SAFETY: `SPARE` says the slot holds a spare, and we hold the lock.
        Some(self.node.slot.with(|s| unsafe { (*s).spare }))
    }

    /// Keeps `child`'s memory as this node's spare if this is a live heap
    /// node without one, returning the delta the caller then adds in the
    /// unlock (`Delta::NONE` if not kept). A child that keeps a spare itself is not
    /// kept (its own would leak), nor a clock root (its box is larger, and
    /// holds its driver), nor one whose slot holds a cause (its reference
    /// would leak); and a timed node made with an expiry cause keeps none
    /// (its slot holds that cause).
    ///
    /// # Safety
    /// `child` is a heap node, out of its timers if timed, that no one else
    /// refers to.
    #[cfg(feature = "alloc")]
    pub(crate) unsafe fn keep_spare(&self, child: NonNull<Node>) -> Delta {
        // SAFETY: by the caller's guarantee, the child is ours alone.
        let c = unsafe { child.as_ref() };
        let held = self.state();
        // Relaxed (the child's state): its `SPARE` changes only under its own
        // lock, and every other thread that held that lock did so through a
        // reference it has given back (Release) before the caller's Acquire
        // load found its own reference the only one (`is_unobserved`).
        let keep = self.node.ownership() == Ownership::Heap
            && !self.node.class().has_expiry_cause()
            && !held.intersects(State::SPARE | State::CANCELLED)
            && !c.state.load(Relaxed).contains(State::SPARE)
            && !c.class().is_clock_root()
            // SAFETY: the child is ours alone and keeps no spare (checked
            // just before), so its slot holds a cause or `None`. One that
            // holds an owned cause is not kept (dropping it may run a user's
            // code, not to be run under this lock), so a spare's stale slot
            // is `None` or a static cause, which needs no drop when the
            // spare is overwritten. A timeout with a static expiry cause (a
            // server's "caller's deadline") is kept as one without.
            && c.slot.with(|s| unsafe { (*s).cause.as_ref().map_or(true, crate::Cause::is_static) });
        if !keep {
            return Delta::NONE;
        }
        // SAFETY: under the lock; the slot of a live node without a spare or
        // an expiry cause holds `None`, nothing to keep.
        self.node
            .slot
            .with_mut(|s| unsafe { *s = Slot { spare: child } });
        let bits = if c.is_timed() || c.is_scoped() {
            State::SPARE | State::SPARE_TIMED
        } else {
            State::SPARE
        };
        Delta::keep_spare(held, bits)
    }
}

#[cfg(feature = "alloc")]
impl Node {
    /// Writes `make()`, a new heap child of this node, in this node's spare
    /// if it keeps one of the same kind, runs `prepare` on it while it is
    /// still unreachable (a timed child is armed there), links it and
    /// returns where it lives with what `prepare` returned; gives `make`
    /// back, not called, otherwise. Built in place, the node is never moved.
    #[inline]
    pub(crate) fn link_in_spare<T: Memory, F: FnOnce() -> T, R>(
        &self,
        make: F,
        prepare: impl FnOnce(NonNull<Node>) -> R,
    ) -> Result<(NonNull<Node>, R), F> {
        // Relaxed: a hint only, read again under the lock.
        if self.state.load(Relaxed).spare_bits() != T::BITS {
            return Err(make);
        }
        let guard = self.lock();
        let held = guard.state();
        if held.spare_bits() != T::BITS {
            return Err(make);
        }
        // SAFETY: `SPARE` says the slot holds a spare, and we hold the lock.
        let spare = self.slot.with(|s| unsafe { (*s).spare });
        // A timed and a scoped spare share their bits: the spare's stale
        // class byte says which it is.
        // SAFETY: the spare is ours under the lock, and holds a valid node.
        if T::SHAPE != Shape::Plain && unsafe { spare.as_ref() }.class().shape() != T::SHAPE {
            return Err(make);
        }
        // A live node that kept a spare has no expiry cause, so once the
        // spare is taken its slot holds `None` (see `cancel_if_idle_lock_free`).
        // SAFETY: under the lock; the slot is not published while live.
        self.slot.with_mut(|s| unsafe { *s = Slot::EMPTY });
        // SAFETY: the spare is a `Box<T>` allocation (its bits say which kind)
        // no one refers to. Its stale value's one field with a drop is its
        // node's slot, which holds `None` (see `keep_spare`), so overwriting
        // it leaks nothing.
        unsafe { spare.cast::<T>().as_ptr().write(make()) };
        let prepared = prepare(spare);
        // SAFETY: under our lock; the new child unlinks itself before it is freed.
        unsafe { self.list.push_front(Node::entry_ptr(spare)) };
        // The child's reference on this node, and the spare gone, in one step.
        let _ = guard.unlock_adding(Delta::adopt_spare(held, T::BITS));
        Ok((spare, prepared))
    }
}
