//! The node behind every token: its state word, lock and list. The cancel
//! walk is in `cancel`, references and freeing in `release`.
//!
//! # State
//!
//! One word, read by `is_cancelled` with a single Acquire load:
//!
//! | bits  | meaning |
//! |-------|---------|
//! | 0     | `CANCELLED`: set once, under the lock, with Release, after `cause` is written |
//! | 1..3  | the `Reason`, valid once `CANCELLED` is set |
//! | 3     | `LOCKED`: the spin lock of the `std` tier (unused elsewhere) |
//! | 4     | `LINKED_ONCE`: a pinned node has linked into its parent(s) |
//! | 5     | `SPARE`: `slot` holds a spare child node (see `spare`); never with `CANCELLED` |
//! | 6     | `SPARE_TIMED`: with `SPARE`, the spare is a node with a deadline |
//! | 7     | `NONEMPTY`: the list has entries; accurate whenever `LOCKED` is clear (`std` tier) |
//! | 8..   | reference count of heap nodes; borrow count of pinned nodes |
//!

#[cfg_attr(not(feature = "alloc"), allow(dead_code))]
pub(crate) mod callback;
pub(crate) mod cancel;
pub(crate) mod list;
pub(crate) mod refs;
pub(crate) mod spare;
pub(crate) mod state;
pub(crate) mod waiter;

use core::ptr::NonNull;

use crate::node::list::{Entry, Kind, List, Status};
use crate::node::state::{AtomicState, Delta, State};
use crate::sync::{loom_const_fn, Ordering::*, UnsafeCell};
use crate::{Cause, Reason};

/// How a node's memory is owned. Stored in its own entry's `class` byte: fixed at
/// construction, so reading it needs no atomic.
pub(crate) mod class {
    /// In a `static`: never freed, not counted. Zero, so a `StaticSource` is
    /// all zeros and goes in `.bss` rather than `.data`.
    pub(crate) const STATIC: u8 = 0;
    /// A `Box<Node>`, freed when its count reaches zero.
    #[cfg_attr(not(feature = "alloc"), allow(dead_code))]
    pub(crate) const HEAP: u8 = 1;
    /// The `static` behind `CancelToken::never`: never cancelled either.
    pub(crate) const NEVER: u8 = 2;
    /// Pinned by its owner, who waits for the borrow count to reach zero.
    pub(crate) const PINNED: u8 = 3;
    /// Flag: the node is the head of a `deadline::TimedNode` (with a deadline).
    pub(crate) const TIMED: u8 = 0x10;
    /// Flag: the node is the head of a `linked::LinkedNode` (a linked source).
    #[cfg_attr(not(feature = "alloc"), allow(dead_code))]
    pub(crate) const LINKED: u8 = 0x20;
    /// Flag: the node is the head of a `deadline::ScopedNode`: a heap child
    /// without a deadline of its own below one that has one, which it names.
    #[cfg_attr(not(feature = "alloc"), allow(dead_code))]
    pub(crate) const SCOPED: u8 = 0x40;
    /// The flags above: the bits of `entry.class` that are not the ownership.
    pub(crate) const SHAPE: u8 = TIMED | LINKED | SCOPED;
}

/// A token's shared state.
#[repr(C)]
pub(crate) struct Node {
    /// The state word; see the module docs.
    pub(crate) state: AtomicState,
    /// The cause: written once, under the lock, before `CANCELLED` is published
    /// with Release; read only after `CANCELLED` was seen with Acquire. While
    /// live, with `SPARE` set, a spare child node, used under the lock.
    pub(crate) slot: UnsafeCell<Slot>,
    /// Fixed at construction. A heap or pinned child holds a reference on a heap parent.
    pub(crate) parent: Option<NonNull<Node>>,
    /// This node's link in its parent's list (`Kind::Child`); `class` says who owns it.
    pub(crate) entry: Entry,
    /// Children, waiters and callbacks; guarded by the lock.
    pub(crate) list: List,
}

/// What a node's `slot` holds: the state's `CANCELLED` and `SPARE` bits say which.
#[derive(Clone, Copy)]
pub(crate) union Slot {
    /// Once cancelled.
    pub(crate) cause: Option<Cause>,
    /// While `SPARE` is set.
    pub(crate) spare: NonNull<Node>,
}

// SAFETY: all shared mutation goes through atomics or through cells guarded by the
// lock (links, list, spare) or by the publish protocol of `CANCELLED` (cause).
unsafe impl Send for Node {}
// SAFETY: as above.
unsafe impl Sync for Node {}

impl Node {
    loom_const_fn! {
        /// A live node of `class` with `refs` references and no parent.
        pub(crate) fn new(class: u8, refs: usize) -> Node {
            Node {
                state: AtomicState::new(State::with_refs(refs)),
                slot: UnsafeCell::new(Slot { cause: None }),
                parent: None,
                entry: Entry::new(Kind::Child, class),
                list: List::new(),
            }
        }
    }

    loom_const_fn! {
        /// A live pinned or static node of `class`, with no references, whose
        /// parent is `parent`.
        pub(crate) fn with_parent(class: u8, parent: NonNull<Node>) -> Node {
            let mut node = Node::new(class, 0);
            node.parent = Some(parent);
            node
        }
    }

    /// How the node's memory is owned (`class::*`).
    pub(crate) fn class(&self) -> u8 {
        self.entry.class & !class::SHAPE
    }

    /// Whether the node is the head of a `deadline::TimedNode`.
    pub(crate) fn is_timed(&self) -> bool {
        self.entry.class & class::TIMED != 0
    }

    /// Whether the node is the head of a `linked::LinkedNode`.
    #[cfg(feature = "alloc")]
    pub(crate) fn is_linked(&self) -> bool {
        self.entry.class & class::LINKED != 0
    }

    /// Whether the node is the head of a `deadline::ScopedNode`.
    #[cfg(feature = "alloc")]
    pub(crate) fn is_scoped(&self) -> bool {
        self.entry.class & class::SCOPED != 0
    }

    /// One Acquire load: pairs with the Release that publishes `CANCELLED`, so a
    /// caller that sees it also sees the cause and whatever the canceller did first.
    #[inline(always)]
    pub(crate) fn is_cancelled(&self) -> bool {
        self.state.load(Acquire).is_cancelled()
    }

    /// The reason, once cancelled. Acquire: as in `is_cancelled`.
    pub(crate) fn reason(&self) -> Option<Reason> {
        self.state.load(Acquire).reason()
    }

    /// The reason of a node known to be cancelled (one whose waiter's status
    /// was stored after `CANCELLED`, and read with Acquire); debug builds
    /// check it. Acquire: as in `is_cancelled`.
    #[track_caller]
    pub(crate) fn cancelled_reason(&self) -> Reason {
        self.state.load(Acquire).cancelled_reason()
    }

    pub(crate) fn cause(&self) -> Option<Cause> {
        if !self.is_cancelled() {
            return None;
        }
        // SAFETY: the slot holds the cause once `CANCELLED` is set and is never
        // written after; the Acquire load above made the write visible.
        self.slot.with(|s| unsafe { (*s).cause })
    }

    /// Reason and cause of a cancelled node (`None` while live), each read
    /// after an Acquire load that saw `CANCELLED`, with or without the lock.
    #[cfg(feature = "alloc")]
    pub(crate) fn reason_and_cause(&self) -> Option<(Reason, Option<Cause>)> {
        let reason = self.reason()?;
        Some((reason, self.cause()))
    }

    // ---- references ----------------------------------------------------------

    /// Takes a reference on a heap node (a borrow on a pinned one).
    pub(crate) fn inc_ref(&self) {
        if matches!(self.class(), class::STATIC | class::NEVER) {
            return;
        }
        // Relaxed: a new reference is made from an existing one, which already
        // keeps the node alive (Arc's argument).
        self.state.add_ref(Relaxed);
    }

    /// Whether the caller's reference is the only one to a live heap node, so
    /// its list is empty (every waiter, callback and child holds a reference)
    /// and only a canceller of its parent or its timers can still reach it.
    #[cfg(feature = "alloc")]
    pub(crate) fn is_unobserved(&self) -> bool {
        // Acquire: pairs with the Release decrements of the other references,
        // so what their holders did (e.g. unlinking waiters) is visible.
        let state = self.state.load(Acquire);
        state.refs() == 1 && !state.is_cancelled() && self.class() == class::HEAP
    }

    /// Whether the caller's reference is the only one to a cancelled heap
    /// node: its list is empty, and only a canceller of its parent can still
    /// reach it (its cancel disarmed its deadline).
    #[cfg(feature = "alloc")]
    pub(crate) fn is_alone_cancelled(&self) -> bool {
        // Acquire: as in `is_unobserved`.
        let state = self.state.load(Acquire);
        state.refs() == 1 && state.is_cancelled() && self.class() == class::HEAP
    }

    /// Waits until no canceller borrows this pinned node.
    pub(crate) fn wait_unborrowed(&self) {
        let mut spins = 0;
        // Acquire: pairs with the Release decrement of the canceller.
        while self.state.load(Acquire).refs() != 0 {
            crate::sync::relax(&mut spins);
        }
    }

    // ---- lock ----------------------------------------------------------------

    /// Takes this node's lock: a spin lock on the state word with `std`, a
    /// critical section otherwise (safe against interrupt handlers on one core).
    #[inline]
    pub(crate) fn lock(&self) -> Guard<'_> {
        #[cfg(any(feature = "std", cancel_token_loom))]
        {
            let mut spins = 0;
            loop {
                // Acquire: pairs with the Release of every unlock (and of the
                // lock-free cancel, whose CAS heads a release sequence that
                // this read-modify-write continues).
                if !self
                    .state
                    .fetch_or(State::LOCKED, Acquire)
                    .contains(State::LOCKED)
                {
                    return Guard { node: self };
                }
                // Relaxed: only waits for the bit to clear; the `fetch_or`
                // above, retried, is what acquires.
                while self.state.load(Relaxed).contains(State::LOCKED) {
                    crate::sync::relax(&mut spins);
                }
            }
        }
        #[cfg(not(any(feature = "std", cancel_token_loom)))]
        {
            // SAFETY: released exactly once, in `Guard::drop`, in nesting order
            // (guards are never held across another guard's release).
            let restore = unsafe { critical_section::acquire() };
            Guard {
                node: self,
                restore,
            }
        }
    }

    /// A pointer to `node`'s entry with the provenance of `node` itself (for a
    /// heap node, the one that may free it), so `from_entry` gets it back.
    pub(crate) fn entry_ptr(node: NonNull<Node>) -> NonNull<Entry> {
        // SAFETY: in bounds of the node; no reference is created.
        unsafe { NonNull::new_unchecked(core::ptr::addr_of_mut!((*node.as_ptr()).entry)) }
    }

    /// The node whose `entry` field is `e`.
    ///
    /// # Safety
    /// `e` came from `entry_ptr` of a live node.
    pub(crate) unsafe fn from_entry(e: NonNull<Entry>) -> NonNull<Node> {
        let offset = core::mem::offset_of!(Node, entry);
        // SAFETY: `e` points `offset` bytes into a `Node`, so the subtraction stays
        // within that allocation and keeps its provenance.
        unsafe { NonNull::new_unchecked(e.as_ptr().byte_sub(offset).cast::<Node>()) }
    }

    /// Links `child` (not yet linked) into this node, unless this node is already
    /// cancelled, in which case the child is cancelled with the same reason and
    /// cause. With `once` nonempty (`State::ATTACHED`), only the first caller
    /// that sets it in the child's state links (lazily linked pinned children).
    /// A heap child takes its reference on this node in the same step as the
    /// unlock.
    ///
    /// Returns whether this call linked the child (false if it was born
    /// cancelled, or another caller linked it).
    ///
    /// # Safety
    /// `child` stays valid and pinned until it calls `unlink_child`.
    pub(crate) unsafe fn link_child(&self, child_ptr: NonNull<Node>, once: State) -> bool {
        // SAFETY: the caller keeps the child alive.
        let child = unsafe { child_ptr.as_ref() };
        if self.class() == class::NEVER {
            // Relaxed: nothing is published with the bit here, since nothing
            // was done to the child (`never` neither links nor cancels it);
            // the read-modify-write alone elects one caller.
            return !child.state.fetch_or(once, Relaxed).intersects(once);
        }
        let counted = child.class() == class::HEAP && self.class() != class::STATIC;
        let refs = if counted { Delta::ADD_REF } else { Delta::NONE };
        let guard = self.lock();
        if guard.is_cancelled() {
            let old = guard.unlock_adding(refs);
            // CANCELLED, seen under the lock, never clears, so `old` has it;
            // and the lock acquired the cause's publication.
            Node::cancel(child_ptr, old.cancelled_reason(), self.cause());
            // Release: whoever sees the bit (the Acquire in
            // `pinned::child::ensure_linked`) also sees the child cancelled.
            child.state.fetch_or(once, Release);
            return false;
        }
        // AcqRel: the read-modify-write elects one caller, under the parent's
        // lock. The Release half pairs with the Acquire in
        // `pinned::child::ensure_linked`, so a caller that sees the bit also
        // sees what the winner did before; the Acquire half buys nothing under
        // the lock (every winner linked under it too).
        if once != State::EMPTY && child.state.fetch_or(once, AcqRel).intersects(once) {
            return false;
        }
        // SAFETY: under our lock; the caller keeps `child` pinned until unlinked.
        unsafe { self.list.push_front(Node::entry_ptr(child_ptr)) };
        let _ = guard.unlock_adding(refs);
        true
    }

    /// Removes `child` from this node's list if a canceller has not taken it.
    pub(crate) fn unlink_child(&self, child_ptr: NonNull<Node>) {
        // SAFETY: the caller, the child's owner, keeps it alive.
        let child = unsafe { child_ptr.as_ref() };
        // Acquire: pairs with the canceller's Release store of `Notified`
        // under our lock. `Idle` (never linked) cannot be stale: only the child
        // itself links it; once `Notified`, the child is out of the list for good.
        if child.entry.status.load(Acquire) != Status::Queued {
            return;
        }
        let _guard = self.lock();
        match child.entry.status_locked() {
            Status::Queued => {
                // SAFETY: under our lock and the entry is in our list.
                unsafe { self.list.unlink(Node::entry_ptr(child_ptr)) };
                child.entry.status.store(Status::Idle, Relaxed); // Relaxed: under the lock
            }
            // A canceller took it after the check above.
            Status::Notified => {}
            s => unreachable!("a queued child became {s:?}"),
        }
    }
}

/// Holding a node's lock.
pub(crate) struct Guard<'a> {
    pub(crate) node: &'a Node,
    #[cfg(not(any(feature = "std", cancel_token_loom)))]
    restore: critical_section::RestoreState,
}

impl Guard<'_> {
    /// Whether the node is cancelled. Relaxed is enough: every writer of
    /// `CANCELLED` either holds this lock (a locked cancel, whose Release
    /// unlock the lock acquired) or sets it lock-free with a CAS that requires
    /// `LOCKED` clear (`cancel_if_idle_lock_free`, `std` only), which cannot
    /// succeed while we hold the lock and, if it came before, the lock acquired.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.state().is_cancelled()
    }

    /// The state word, read under the lock. Relaxed is enough for the bits
    /// that change only under the lock or with `LOCKED` clear (all but the
    /// count and `ATTACHED`, which the caller must not rely on here).
    pub(crate) fn state(&self) -> State {
        self.node.state.load(Relaxed)
    }

    /// Unlocks, adding `delta` to the state in the same read-modify-write,
    /// and returns the state before. Release: publishes what was done under
    /// the lock, including `cause`.
    pub(crate) fn unlock_adding(self, delta: Delta) -> State {
        let this = core::mem::ManuallyDrop::new(self);
        #[cfg(any(feature = "std", cancel_token_loom))]
        {
            let old = this
                .node
                .state
                .fetch_add(delta.then(this.unlock_delta()), Release);
            debug_assert!(old.contains(State::LOCKED), "unlocked twice: {old:?}");
            old
        }
        #[cfg(not(any(feature = "std", cancel_token_loom)))]
        {
            let old = this.node.state.fetch_add(delta, Release);
            // SAFETY: pairs with the `acquire` in `Node::lock`, in nesting order.
            unsafe { critical_section::release(this.restore) };
            old
        }
    }

    /// What unlocking adds to the state: clears `LOCKED` and brings
    /// `NONEMPTY` in line with the list.
    #[cfg(any(feature = "std", cancel_token_loom))]
    #[inline]
    fn unlock_delta(&self) -> Delta {
        Delta::unlock(self.state(), !self.node.list.is_empty_locked())
    }
}

impl Drop for Guard<'_> {
    #[inline]
    fn drop(&mut self) {
        #[cfg(any(feature = "std", cancel_token_loom))]
        {
            // Release: what we did under the lock happens-before the next holder.
            let old = self.node.state.fetch_add(self.unlock_delta(), Release);
            debug_assert!(old.contains(State::LOCKED), "unlocked twice: {old:?}");
        }
        #[cfg(not(any(feature = "std", cancel_token_loom)))]
        // SAFETY: pairs with the `acquire` in `Node::lock`, in nesting order.
        unsafe {
            critical_section::release(self.restore)
        };
    }
}
