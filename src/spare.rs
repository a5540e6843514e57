//! One spare child node per heap parent, so that children made and dropped
//! again and again under a long-lived parent (requests under a server's root)
//! reuse a node rather than call the allocator each time.
//!
//! When an unobserved child without a deadline is dropped (see
//! `node::free_unobserved`), its heap parent keeps its memory if it has none
//! yet; the next `child()` takes it. The spare lives in the parent's `slot`,
//! which holds the cause only once the parent is cancelled, and the state's
//! `SPARE` bit says the slot holds one. Both change only under the parent's
//! lock. Cancelling the parent frees its spare once the lock is released;
//! freeing the parent frees it too. So a parent holds at most one node (64
//! bytes on 64-bit targets) more than its live children.

use core::ptr::NonNull;

use crate::node::{Guard, Node, SPARE};
#[cfg(feature = "alloc")]
use crate::node::{class, Slot, REF_ONE};
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
            // SAFETY: a spare is a `Box<Node>` allocation that no one else
            // refers to; its stale value is a valid `Node` to drop.
            drop(unsafe { alloc::boxed::Box::from_raw(spare.as_ptr()) });
        }
    }
}

impl Guard<'_> {
    /// Takes the spare out of the slot; the caller clears `SPARE` in its next
    /// write of the state, still under the lock.
    pub(crate) fn take_spare(&self) -> Option<NonNull<Node>> {
        if self.state() & SPARE == 0 {
            return None;
        }
        // SAFETY: `SPARE` says the slot holds a spare, and we hold the lock.
        Some(self.node.slot.with(|s| unsafe { (*s).spare }))
    }

    /// Keeps `child`'s memory as this node's spare if this is a live heap
    /// node without one; the caller then sets `SPARE` in the unlock. A child
    /// that keeps a spare itself is not kept (its own would leak).
    ///
    /// # Safety
    /// `child` is a heap node without a deadline that no one else refers to.
    #[cfg(feature = "alloc")]
    pub(crate) unsafe fn keep_spare(&self, child: NonNull<Node>) -> bool {
        // SAFETY: by the caller's guarantee, the child is ours alone.
        let child_state = unsafe { child.as_ref() }.state.load(Relaxed);
        let keep = self.node.class() == class::HEAP
            && self.state() & (SPARE | crate::node::CANCELLED) == 0
            && child_state & SPARE == 0;
        if keep {
            // SAFETY: under the lock; a live node's slot holds no cause.
            self.node.slot.with_mut(|s| unsafe { *s = Slot { spare: child } });
        }
        keep
    }
}

#[cfg(feature = "alloc")]
impl Node {
    /// Links `node`, a new heap child of this node, in this node's spare if it
    /// keeps one, and returns where it now lives; gives it back otherwise.
    pub(crate) fn link_in_spare(&self, node: Node) -> Result<NonNull<Node>, Node> {
        // Relaxed: a hint only, read again under the lock.
        if self.state.load(Relaxed) & SPARE == 0 {
            return Err(node);
        }
        let guard = self.lock();
        let Some(spare) = guard.take_spare() else {
            return Err(node);
        };
        // SAFETY: the spare is a `Box<Node>` allocation no one refers to;
        // assigning drops its stale value.
        unsafe { *spare.as_ptr() = node };
        // SAFETY: under our lock; the new child unlinks itself before it is freed.
        unsafe { self.list.push_front(Node::entry_ptr(spare)) };
        // The child's reference on this node, and the spare gone, in one step.
        let _ = guard.unlock_adding(REF_ONE.wrapping_sub(SPARE));
        Ok(spare)
    }
}
