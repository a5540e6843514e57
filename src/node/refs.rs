//! References to heap nodes: giving them back, and freeing a node (and its
//! parent's reference) when the last one goes.

use core::ptr::NonNull;

use crate::node::kind::Ownership;
#[cfg(feature = "alloc")]
use crate::node::kind::{self, Class};
#[cfg(feature = "alloc")]
use crate::node::list::Status;
#[cfg(feature = "alloc")]
use crate::node::state::Delta;
use crate::node::state::State;
use crate::node::Node;
use crate::sync::Ordering::*;

/// Gives back one reference; frees heap nodes that reach zero, then their parents'
/// references, in a loop (a chain of any length uses constant stack).
///
/// # Safety
/// The caller owns one reference on `node`.
#[inline] // on every token's drop
pub(crate) unsafe fn drop_ref(mut node: NonNull<Node>) {
    loop {
        // SAFETY: we own a reference, so the node is alive.
        let n = unsafe { node.as_ref() };
        let ownership = n.ownership();
        if matches!(ownership, Ownership::Static | Ownership::Never) {
            return;
        }
        // Release: our uses of the node happen-before whoever frees it.
        let old = n.state.drop_ref(Release);
        // SAFETY: that was our reference, and `ownership` was read before.
        match unsafe { free_if_last(node, ownership, old) } {
            Some(parent) => node = parent,
            None => return,
        }
    }
}

/// After a reference to `node`, owned as `ownership`, was given back by a
/// Release read-modify-write that saw `old`: frees the node if that was the
/// last reference to a heap node, and returns its parent, whose reference the
/// caller then drops. It touches the node only then: otherwise another
/// owner may be freeing it already.
///
/// # Safety
/// `node` was alive with the reference just given back; `ownership` was
/// read before that.
#[inline] // on every child's drop
unsafe fn free_if_last(
    node: NonNull<Node>,
    ownership: Ownership,
    old: State,
) -> Option<NonNull<Node>> {
    if old.refs() != 1 || ownership != Ownership::Heap {
        return None;
    }
    // SAFETY: the last reference to a heap node: ours alone until freed below.
    let n = unsafe { node.as_ref() };
    // Acquire: pairs with every other owner's Release decrement (they form
    // one release sequence). A load rather than a fence, which
    // ThreadSanitizer cannot see, as `Arc` does under it.
    n.state.load(Acquire);
    let parent = n.parent;
    // SAFETY: last reference to a heap node.
    unsafe { free(node) };
    parent
}

/// Frees a heap node whose one reference the caller owns, cancelled already
/// (`cancelled`, see [`Node::is_alone_cancelled`]) or not (unobserved, see
/// [`Node::is_unobserved`]):
/// takes a live node's deadline (if any) out of its timers and unlinks the
/// node from its parent, both under the parent's lock, giving back its
/// reference on the parent in the same unlock, and frees it (or keeps it as
/// the parent's spare), with no read-modify-write on the node itself. A
/// cancelled node's deadline was disarmed by its cancel.
///
/// Returns false, having done nothing, if a canceller of the parent or a
/// firing deadline took the node first; the caller then lets go of it as
/// usual, and that canceller cancels (and disarms) it.
///
/// # Safety
/// As above: the caller's reference is the only one, and no handle can make
/// another reference (the caller is dropping the last).
#[cfg(feature = "alloc")]
#[inline(always)] // its one caller, `CancelSource::drop`, runs for every child
pub(crate) unsafe fn free_alone(this: NonNull<Node>, cancelled: bool) -> bool {
    // SAFETY: the caller owns a reference.
    let node = unsafe { this.as_ref() };
    let Some(parent) = node.parent else {
        // A root with no handles left: nothing else can reach it but, for a
        // clock root (the only timed root), its timers, which it leaves.
        // SAFETY: live and uncancelled if so; a root, so no canceller but its
        // timers can reach it.
        if !cancelled && node.is_timed() && !unsafe { kind::take_out_unobserved(this) } {
            return false;
        }
        // SAFETY: the only reference, to a heap node.
        unsafe { free(this) };
        return true;
    };
    // SAFETY: a child holds a reference on its parent until it is freed.
    let p = unsafe { parent.as_ref() };
    if p.ownership() == Ownership::Never {
        // SAFETY: as the caller guarantees.
        return unsafe { free_alone_under_never(this, cancelled) };
    }
    // Acquire: pairs with a canceller's Release store of `Notified` under the
    // parent's lock.
    if node.entry.status.load(Acquire) != Status::Queued {
        return false;
    }
    let guard = p.lock();
    if node.entry.status_locked() != Status::Queued {
        return false;
    }
    // Still linked, so no canceller of the parent has taken it, and none can
    // once it is unlinked below: only its timers, while it is live, can
    // still reach it.
    // SAFETY: live, so armed, and reachable by no other canceller, as above.
    if !cancelled && node.is_timed() && !unsafe { kind::take_out_unobserved(this) } {
        return false;
    }
    // SAFETY: under the parent's lock and the entry is in its list.
    unsafe { p.list.unlink(Node::entry_ptr(this)) };
    // Only a heap child of a non-static parent holds a reference on it.
    let parent_ownership = p.ownership();
    let counted = parent_ownership != Ownership::Static;
    // SAFETY: out of every list, and the reference was the only one.
    let kept = unsafe { guard.keep_spare(this) };
    let unref = if counted {
        Delta::drop_ref(guard.state())
    } else {
        Delta::NONE
    };
    let old = guard.unlock_adding(unref.then(kept));
    if kept == Delta::NONE {
        // SAFETY: out of every list and not kept: the only reference, to a
        // heap node that nothing else can reach, is ours to free.
        unsafe { free(this) };
    }
    if counted {
        // SAFETY: that was the child's reference on the parent, whose
        // ownership was read before.
        if let Some(grandparent) = unsafe { free_if_last(parent, parent_ownership, old) } {
            // SAFETY: the parent's reference on its own parent, now ours.
            unsafe { drop_ref(grandparent) };
        }
    }
    true
}

/// `free_alone` of a node the caller's reference is the only one to, if it
/// is cancelled (see [`Node::is_alone_cancelled`]); false, having done
/// nothing, if not or if a canceller of its parent took it. Out of line, so
/// that the drop of a live child stays as small as it was.
///
/// # Safety
/// The caller owns a reference to a heap node and no handle can make another
/// (the caller is dropping the last).
#[cfg(feature = "alloc")]
#[inline(never)]
pub(crate) unsafe fn free_if_alone_cancelled(this: NonNull<Node>) -> bool {
    // SAFETY: the caller owns a reference.
    unsafe { this.as_ref() }.is_alone_cancelled()
        // SAFETY: alone and cancelled, by the check.
        && unsafe { free_alone(this, true) }
}

/// `free_alone` for a child of `never`, which is linked nowhere (`never`
/// cancels nothing, and is not counted): only its timers, while it is live,
/// can still reach it.
///
/// # Safety
/// As for `free_alone`.
#[cfg(feature = "alloc")]
#[cold]
unsafe fn free_alone_under_never(this: NonNull<Node>, cancelled: bool) -> bool {
    // SAFETY: the caller owns a reference.
    let timed = unsafe { this.as_ref() }.is_timed();
    // SAFETY: live, so armed, if timed; only its timers can reach it.
    if !cancelled && timed && !unsafe { kind::take_out_unobserved(this) } {
        return false;
    }
    // SAFETY: the only reference, to a heap node, out of its timers.
    unsafe { free(this) };
    true
}

/// Frees a heap node of any shape (`Node`, `TimedNode`, `LinkedNode` or
/// `ScopedNode`, told apart by its class), and its spare if it keeps one.
/// Its reference on its parent, if any, is the caller's to give back.
///
/// # Safety
/// `node` is a heap node (`Ownership::Heap`) that no one else can reach any
/// more: the caller owns its last reference, and has acquired every earlier
/// use of it (an Acquire load after the last Release decrement, or the lock
/// that took it out of every list). A timed node is out of its timers.
#[cfg(feature = "alloc")]
#[inline(never)] // in line, it grows the cancelled child's free (`free_if_alone_cancelled`)
unsafe fn free(node: NonNull<Node>) {
    // SAFETY: the caller owns the last reference.
    let n = unsafe { node.as_ref() };
    // Relaxed: the caller acquired every earlier use of the node.
    if n.state.load(Relaxed).contains(State::SPARE) {
        // SAFETY: `SPARE` says the slot holds a spare, now no one else's.
        drop(crate::node::spare::Spare(Some(
            n.slot.with(|s| unsafe { (*s).spare }),
        )));
    }
    // SAFETY: the last reference to a heap node, made by `Box::new` of its
    // shape (`Node::new_child`, or a constructor in `kind` or `deadline`).
    unsafe { kind::drop_box(node) };
}

/// Without `alloc` there are no heap nodes, so `free_if_last` never calls this.
///
/// # Safety
/// None needed: it is never called.
#[cfg(not(feature = "alloc"))]
unsafe fn free(_: NonNull<Node>) {
    unreachable!("no heap nodes without `alloc`")
}

#[cfg(feature = "alloc")]
impl Node {
    /// A heap node with one reference, child of `parent` (which gains a reference)
    /// and linked into it.
    pub(crate) fn new_child(parent: Option<NonNull<Node>>) -> NonNull<Node> {
        if let Some(p) = parent {
            if let Some(holder) = kind::holder(p) {
                // Below a deadline: a node that names it.
                return kind::new_scoped(p, holder);
            }
        }
        let mut make = || {
            let mut node = Node::new(Class::plain(Ownership::Heap), 1);
            node.parent = parent;
            node
        };
        if let Some(p) = parent {
            // SAFETY: the caller keeps the parent alive.
            match unsafe { p.as_ref() }.link_in_spare(make, |_| ()) {
                Ok((linked, ())) => return linked,
                Err(unused) => make = unused,
            }
        }
        let node = NonNull::from(alloc::boxed::Box::leak(alloc::boxed::Box::new(make())));
        if let Some(p) = parent {
            // SAFETY: the new node is pinned in its box and unlinks itself before
            // its owner releases it (`CancelSource::drop`). Linking takes the
            // node's reference on its parent.
            unsafe { p.as_ref().link_child(node, State::EMPTY) };
        }
        node
    }
}
