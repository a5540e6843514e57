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
pub(crate) mod waiter;

use core::ptr::NonNull;

use crate::node::list::{Entry, Kind, List, LINKED};
use crate::sync::{loom_const_fn, AtomicUsize, Ordering::*, UnsafeCell};
use crate::{Cause, Reason};

pub(crate) const CANCELLED: usize = 1 << 0;
pub(crate) const REASON_SHIFT: u32 = 1;
const REASON_MASK: usize = 0b11 << REASON_SHIFT;
#[cfg(any(feature = "std", cancel_token_loom))]
pub(crate) const LOCKED: usize = 1 << 3;
pub(crate) const SPARE: usize = 1 << 5;
pub(crate) const SPARE_TIMED: usize = 1 << 6;
#[cfg(any(feature = "std", cancel_token_loom))]
pub(crate) const NONEMPTY: usize = 1 << 7;
pub(crate) const REF_SHIFT: u32 = 8;
pub(crate) const REF_ONE: usize = 1 << REF_SHIFT;
/// Past this many references something leaks handles in a loop; abort like `Arc`.
const REF_MAX: usize = usize::MAX >> 1;

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

/// A readable view of a state word, for `Debug`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct State(pub(crate) usize);

impl State {
    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }

    pub(crate) fn reason(self) -> Option<Reason> {
        self.is_cancelled()
            .then(|| Reason::from_bits((self.0 & REASON_MASK) >> REASON_SHIFT))
    }

    pub(crate) fn refs(self) -> usize {
        self.0 >> REF_SHIFT
    }
}

impl core::fmt::Debug for State {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.reason() {
            Some(r) => write!(f, "CANCELLED({r:?})")?,
            None => f.write_str("LIVE")?,
        }
        #[cfg(any(feature = "std", cancel_token_loom))]
        if self.0 & LOCKED != 0 {
            f.write_str(" | LOCKED")?;
        }
        write!(f, " refs={}", self.refs())
    }
}

/// A token's shared state.
#[repr(C)]
pub(crate) struct Node {
    /// See the module docs.
    pub(crate) state: AtomicUsize,
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
                state: AtomicUsize::new(refs << REF_SHIFT),
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
        self.state.load(Acquire) & CANCELLED != 0
    }

    pub(crate) fn reason(&self) -> Option<Reason> {
        State(self.state.load(Acquire)).reason()
    }

    pub(crate) fn cause(&self) -> Option<Cause> {
        if !self.is_cancelled() {
            return None;
        }
        // SAFETY: the slot holds the cause once `CANCELLED` is set and is never
        // written after; the Acquire load above made the write visible.
        self.slot.with(|s| unsafe { (*s).cause })
    }

    /// Reason and cause of a cancelled node, read under its lock.
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
        let old = self.state.fetch_add(REF_ONE, Relaxed);
        if old >> REF_SHIFT > REF_MAX >> REF_SHIFT {
            abort();
        }
    }

    /// Whether the caller's reference is the only one to a live heap node, so
    /// its list is empty (every waiter, callback and child holds a reference)
    /// and only a canceller of its parent or its timers can still reach it.
    #[cfg(feature = "alloc")]
    pub(crate) fn is_unobserved(&self) -> bool {
        // Acquire: pairs with the Release decrements of the other references,
        // so what their holders did (e.g. unlinking waiters) is visible.
        let state = State(self.state.load(Acquire));
        state.refs() == 1 && !state.is_cancelled() && self.class() == class::HEAP
    }

    /// Whether the caller's reference is the only one to a cancelled heap
    /// node: its list is empty, and only a canceller of its parent can still
    /// reach it (its cancel disarmed its deadline).
    #[cfg(feature = "alloc")]
    pub(crate) fn is_alone_cancelled(&self) -> bool {
        // Acquire: as in `is_unobserved`.
        let state = State(self.state.load(Acquire));
        state.refs() == 1 && state.is_cancelled() && self.class() == class::HEAP
    }

    /// Waits until no canceller borrows this pinned node.
    pub(crate) fn wait_unborrowed(&self) {
        let mut spins = 0;
        // Acquire: pairs with the Release decrement of the canceller.
        while State(self.state.load(Acquire)).refs() != 0 {
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
                // Acquire: pairs with the Release in `unlock`.
                if self.state.fetch_or(LOCKED, Acquire) & LOCKED == 0 {
                    return Guard { node: self };
                }
                while self.state.load(Relaxed) & LOCKED != 0 {
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
    /// cause. With a nonzero `once` bit, only the first caller that sets it in the
    /// child's state links (lazily linked pinned children). A heap child takes
    /// its reference on this node in the same step as the unlock.
    ///
    /// Returns whether this call linked the child (false if it was born
    /// cancelled, or another caller linked it).
    ///
    /// # Safety
    /// `child` stays valid and pinned until it calls `unlink_child`.
    pub(crate) unsafe fn link_child(&self, child_ptr: NonNull<Node>, once: usize) -> bool {
        // SAFETY: the caller keeps the child alive.
        let child = unsafe { child_ptr.as_ref() };
        if self.class() == class::NEVER {
            // Relaxed: nothing is published with this bit when the parent is `never`.
            return child.state.fetch_or(once, Relaxed) & once == 0;
        }
        let counted = child.class() == class::HEAP && self.class() != class::STATIC;
        let refs = if counted { REF_ONE } else { 0 };
        let guard = self.lock();
        if guard.is_cancelled() {
            let _ = guard.unlock_adding(refs);
            let (reason, cause) = self.reason_and_cause().unwrap_or((Reason::Cancelled, None));
            Node::cancel(child_ptr, reason, cause);
            // Release: whoever sees the bit also sees the child cancelled.
            child.state.fetch_or(once, Release);
            return false;
        }
        // AcqRel: under the parent's lock; one caller links, the others see it done.
        if once != 0 && child.state.fetch_or(once, AcqRel) & once != 0 {
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
        // Acquire: pairs with the canceller's store of NOTIFIED under our lock. IDLE
        // (never linked) cannot be stale: only the child itself links it; once
        // NOTIFIED, the child is out of the list for good.
        if child.entry.status.load(Acquire) != LINKED {
            return;
        }
        let _guard = self.lock();
        if child.entry.status_locked() == LINKED {
            // SAFETY: under our lock and the entry is in our list.
            unsafe { self.list.unlink(Node::entry_ptr(child_ptr)) };
            child.entry.status.store(crate::node::list::IDLE, Relaxed); // Relaxed: under the lock
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
    /// Whether the node is cancelled; Relaxed is enough, `CANCELLED` changes only under the lock.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.node.state.load(Relaxed) & CANCELLED != 0
    }

    /// The state word; Relaxed is enough for the bits that change only under the lock.
    pub(crate) fn state(&self) -> usize {
        self.node.state.load(Relaxed)
    }

    /// Unlocks, adding `bits` (wrapping: flag bits, or plus or minus `REF_ONE`)
    /// to the state in the same read-modify-write, and returns the state before.
    /// Release: publishes what was done under the lock, including `cause`.
    pub(crate) fn unlock_adding(self, bits: usize) -> usize {
        let this = core::mem::ManuallyDrop::new(self);
        #[cfg(any(feature = "std", cancel_token_loom))]
        return this
            .node
            .state
            .fetch_add(bits.wrapping_add(this.unlock_bits()), Release);
        #[cfg(not(any(feature = "std", cancel_token_loom)))]
        {
            let old = this.node.state.fetch_add(bits, Release);
            // SAFETY: pairs with the `acquire` in `Node::lock`, in nesting order.
            unsafe { critical_section::release(this.restore) };
            old
        }
    }
}

impl Guard<'_> {
    /// What unlocking adds to the state: clears `LOCKED` (set, so subtracting
    /// it borrows nothing) and brings `NONEMPTY` in line with the list.
    #[cfg(any(feature = "std", cancel_token_loom))]
    fn unlock_bits(&self) -> usize {
        let was = self.state() & NONEMPTY;
        let now = if self.node.list.is_empty_locked() {
            0
        } else {
            NONEMPTY
        };
        now.wrapping_sub(was).wrapping_sub(LOCKED)
    }
}

impl Drop for Guard<'_> {
    #[inline]
    fn drop(&mut self) {
        #[cfg(any(feature = "std", cancel_token_loom))]
        // Release: what we did under the lock happens-before the next holder.
        self.node.state.fetch_add(self.unlock_bits(), Release);
        #[cfg(not(any(feature = "std", cancel_token_loom)))]
        // SAFETY: pairs with the `acquire` in `Node::lock`, in nesting order.
        unsafe {
            critical_section::release(self.restore)
        };
    }
}

#[cold]
fn abort() -> ! {
    #[cfg(feature = "std")]
    std::process::abort();
    #[cfg(not(feature = "std"))]
    panic!("cancel-token: reference count overflow");
}
