//! The engine: the node behind every token, its state word, lock and list.
//!
//! `Node` is one type spread over this folder's files, which therefore call
//! each other (an import circle inside `node/`, and only here): the state word
//! in `state`, the list and its entries in `list`, the cancel walk in
//! `cancel`, references and freeing in `refs`, the spare child in `spare`,
//! the shapes a node can be the head of in `kind`, and the two other kinds
//! of list entry in `waiter` and `callback`. This layer may use `wheel` (a
//! timed node's wheel entry and timers), `util` and `sync`, and nothing above.
//!
//! # Glossary
//!
//! - *node*: a token's shared state (`Node`), first field of the larger
//!   shapes (`kind::TimedNode`, `LinkedNode`, `ScopedNode`) its `class` byte
//!   names.
//! - *class*: a node's ownership and shape in one byte (`kind::Class`). The
//!   ownership: `Static`, `Never` (neither is counted), `Heap` (freed at the
//!   last *reference*) or `Pinned` (its owner waits until no canceller
//!   *borrows* it); the count is one field for both. Its top bit marks a
//!   timed node made with an *expiry cause* (invariant 9).
//! - *entry*: the intrusive link (`list::Entry`) of a child node, a waiter or
//!   a callback in its node's *list*; its *status* (`list::Status`) says
//!   where it is in its life: `Idle`, `Queued` (in the list), `Notified`,
//!   `Running`, `Done`.
//! - *canceller*: whoever runs `Node::cancel` (a source's `cancel`, a firing
//!   deadline, a parent's canceller); the node's *owner* is the handle that
//!   links and unlinks it (a source, a `Cancelled` future, an `OnCancel`).
//! - *attached*: a pinned node linked into its parent (or registered on its
//!   parents) on first use; the `ATTACHED` bit. Not to be confused with a
//!   *linked source* (`LinkedNode`, several parents) or `Queued`.
//! - *spare*: the memory of a dropped child a heap parent keeps for its next
//!   child (see `spare`).
//! - *unobserved*: a live heap node whose one reference is its source's,
//!   being dropped: freed under its parent's lock with no read-modify-write
//!   of its own (`refs::free_alone`).
//! - *disarm*, *take out*: a timed node's deadline removed from its wheel,
//!   by its cancel or by an unobserved drop.
//! - *home*: the one word of a timed node that names its timers, or its
//!   tree's clock root when its timers are the clock's (`kind::Home`).
//!
//! # State
//!
//! One word (`state::State`), read by `is_cancelled` with a single Acquire load:
//!
//! | bits  | meaning |
//! |-------|---------|
//! | 0     | `CANCELLED`: set once, with Release, after `cause` is written; under the lock, or (`std`) by a lock-free CAS that requires `LOCKED` clear (invariant 2) |
//! | 1..3  | the `Reason`, valid once `CANCELLED` is set |
//! | 3     | `LOCKED`: the spin lock of the `std` tier (unused elsewhere) |
//! | 4     | `ATTACHED`: a pinned node has attached to its parent(s) |
//! | 5     | `SPARE`: `slot` holds a spare child node (see `spare`); never with `CANCELLED` |
//! | 6     | `SPARE_TIMED`: with `SPARE`, the spare is a node with a deadline |
//! | 7     | `NONEMPTY`: the list has entries; accurate whenever `LOCKED` is clear (`std` tier) |
//! | 8..   | reference count of heap nodes; borrow count of pinned nodes |
//!
//! Who changes which bits, and how ("lock-free" means with no lock held, by
//! an atomic read-modify-write):
//!
//! | operation | where | changes | how |
//! |-----------|-------|---------|-----|
//! | lock | `Node::lock` | sets `LOCKED` | lock-free `fetch_or` (Acquire), won only with `LOCKED` clear |
//! | unlock | `Guard::drop`, `Guard::unlock_adding` | clears `LOCKED`, sets `NONEMPTY` as the list is, plus the caller's delta | under the lock, released by the same RMW (Release) |
//! | link | `link_child`, `Waiter::poll`, `callback::register` | the parent's `NONEMPTY` (at unlock); `+1` ref for a heap child of a counted parent | under the parent's lock, only with `CANCELLED` clear |
//! | attach | `link_child` | the child's `ATTACHED` | lock-free `fetch_or` on the child's word (under the parent's lock, not the child's) |
//! | unlink | `unlink_child`, `Waiter::unlink`, `callback::unregister`, `refs::free_alone` | `NONEMPTY` (at unlock); `-1` ref on the parent in `free_alone` | under the lock |
//! | cancel, locked | `cancel::mark_cancelled`, `cancel_if_idle` | sets `CANCELLED` and the reason, clears `SPARE`/`SPARE_TIMED` | under the lock, only with `CANCELLED` clear |
//! | cancel, CAS (`std`) | `cancel_if_idle_lock_free` | sets `CANCELLED` and the reason | lock-free CAS (Release), only with `LOCKED`, `NONEMPTY`, `SPARE` clear, no cause, no deadline |
//! | keep spare | `Guard::keep_spare` (from `free_alone`) | sets `SPARE` (and `SPARE_TIMED`) | under the lock of a live heap node without a spare |
//! | take spare | `link_in_spare`; the locked cancel | clears `SPARE`/`SPARE_TIMED` (`+1` ref in `link_in_spare`) | under the lock |
//! | inc ref | `Node::inc_ref` | `+1` ref | lock-free (Relaxed), from a reference already held (a firing deadline: under the wheel's lock) |
//! | dec ref | `refs::drop_ref` | `-1` ref | lock-free (Release; Acquire before freeing) |
//!
//! # Invariants
//!
//! These hold at all times, for every node.
//!
//! 1. `CANCELLED` is set once and never cleared, and whoever sets it drains
//!    the list. The cause is written before it is published (with Release)
//!    and never after, so a reader that saw it with Acquire may read the cause.
//! 2. Every writer of `CANCELLED` either holds the node's lock or (`std`) sets
//!    it with a CAS that requires `LOCKED` clear. So `CANCELLED` does not
//!    change under a lock holder, who may read it Relaxed (`Guard::is_cancelled`).
//! 3. No entry is linked into a cancelled node: linking takes the lock and
//!    requires `CANCELLED` clear; a cancel sets it under the same lock before
//!    draining (or, lock-free, only while the list is empty and unlocked). So
//!    every entry is either drained by the canceller or sees the node cancelled.
//! 4. An entry follows its kind's path (`list::Status`). A `Queued` entry is
//!    alive: its owner unlinks it under the node's lock before letting it go.
//!    Once a canceller takes it (`Notified`, `Running`), the canceller owns its
//!    links, and the owner waits (`Done`, a borrow count) or the canceller's
//!    reference keeps it alive, so exactly one of them lets go of it.
//! 5. Every child, waiter and callback in a heap node's list holds a reference
//!    on it, so a count of one means an empty list (`is_unobserved`). A node
//!    is freed exactly once: by whoever takes its count to zero, or, alone, by
//!    `free_alone` under its parent's lock while still `Queued` (so no
//!    canceller of the parent can take it meanwhile).
//! 6. `SPARE` is set only on a live heap node, under its lock, never with
//!    `CANCELLED`; the slot holds a spare exactly while `SPARE` is set, `None`
//!    (or an expiry cause, invariant 9) while live without one, and the
//!    cause once cancelled. A spare is in no list and no wheel.
//! 7. A deadline is armed only on a live node under its lock (or, in a spare,
//!    under its parent's, before it is linked), and a cancel takes it out
//!    under that lock, so a cancelled node holds no timer. An armed deadline
//!    leaves its wheel exactly once: fired, disarmed by a cancel, or taken out
//!    by an unobserved drop.
//! 8. `NONEMPTY` matches the list whenever `LOCKED` is clear (`std`): every
//!    unlock sets it from the list in the same RMW.
//! 9. A timed node made with a cause for its expiry (the class byte's top
//!    bit, fixed at construction) holds that cause in its slot from its
//!    construction until it is cancelled, and keeps no spare, so nothing
//!    writes its slot while it is live. Its deadline's firing reads the
//!    cause under the node's lock, then cancels with it; any cancel
//!    overwrites the slot with its own cause under that lock.
//! 10. A timed node's deadline (its wheel entry's tick) moves only under its
//!     lock and its wheel's (`time::deadline::reset`), and only while live;
//!     it moves later only while its entry's `covers` mark is clear, which a
//!     child taking the deadline as its own sets under the same node lock.
//!     Until some deadline of a tree moves earlier (its clock root's
//!     `moved_earlier` mark), a timed node's own deadline is its effective
//!     one.
//! 11. A cause in a slot is the node's own: each node a cancel reaches
//!     stores a clone (one reference, for an owned `Cause`), and every
//!     `cause()` returns a clone of it. A node gives its reference back when
//!     it is dropped (`Drop for Node`: freed heap nodes, dropped pinned ones)
//!     or when a cancel replaces its expiry cause (after the lock is
//!     released, as the error's drop may run any code). A cancelled child
//!     whose slot holds a cause is not kept as a spare, so a spare's slot is
//!     empty and building a node over it leaks nothing.
//!
//! # Lock order
//!
//! A node's lock is the spin lock in its state word (`std`) or a critical
//! section. Two node locks are held together only by a canceller cancelling a
//! child in place, always parent then child, and a child is made after its
//! parent, so there is no cycle. A timer wheel's lock is a leaf: taken last,
//! under a node's lock (arming, disarming, taking out) or alone (firing, which
//! takes a reference under it and cancels after releasing it). Wakers are
//! woken and callbacks run with no lock held; a wait for another thread
//! (`callback::unregister`, `wait_unborrowed`) holds none either.
//!
//! # Races
//!
//! Each is checked by the loom models in `tests/loom.rs` that name it.
//!
//! - **R1, cancel vs registration** (a waiter, callback, child or deadline
//!   child): by invariant 3. A waiter registers its waker before it checks,
//!   and a canceller marks it `Notified` before it takes the waker, so either
//!   the canceller takes this waker or the poll sees `Notified` (`waiter`).
//! - **R2, two cancels**: the first to set `CANCELLED` wins (invariant 1)
//!   and drains; the other returns, its reason and cause discarded.
//! - **R3, cancel vs an owner's unlink** (a child or waiter dropped): the
//!   owner unlinks under the lock if still `Queued`; otherwise the canceller
//!   has it, and its reference or the owner's wait covers the rest (invariant 4).
//! - **R4, cancel vs callback disarm**: the case analysis in `callback`.
//! - **R5, cancel vs an unobserved drop**: `free_alone` acts only while the
//!   node is `Queued`, under the parent's lock, where a canceller of the
//!   parent would take it; one of the two lets go of it (invariant 5).
//! - **R6, a firing deadline vs cancel or drop**: the wheel's lock decides
//!   who takes the deadline out (invariant 7); firing holds a reference.
//! - **R7, spare reuse vs cancel or fire**: a spare is kept and taken only
//!   under its parent's lock, and a child built in it is armed before it is
//!   linked (invariants 6 and 7).
//! - **R8, the lock-free cancel vs a locker**: the CAS needs `LOCKED`,
//!   `NONEMPTY` and `SPARE` clear, so it fails while anyone holds the lock or
//!   anything is linked (invariants 2 and 8).
//! - **R9, a firing deadline with an expiry cause vs another cancel**: the
//!   firing reads the cause under the node's lock and finds it live, or
//!   finds it cancelled and does nothing; either way the cancel that sets
//!   `CANCELLED` first writes its own reason and cause (invariants 1 and 9),
//!   so `DeadlineExceeded` comes with the expiry cause, and a cancel that
//!   wins with its own.
//! - **R10, a deadline moving vs its firing, or a cancel**: the move holds
//!   the node's lock (no cancel or disarm meanwhile) and, under the wheel's
//!   lock, finds the entry inserted (it moves it) or popped (it is firing:
//!   the move is refused, and the firing's cancel wins); invariants 7 and 10.
//!   A move that reads the clock at or past the deadline is refused too: a
//!   driver's clock moves before it fires, and the deadline has passed.
//! - **R11, a deadline moving later vs a child taking it**: both hold the
//!   node's lock; the child either sees the later deadline (and arms its
//!   own) or marks `covers` first (and the move is refused); invariant 10.
//! - **R12, detaching vs an ancestor's cancel**: a detached root is linked
//!   to nothing; it copies the clock of a clock root that the detaching
//!   token keeps alive, whatever the cancel does meanwhile.
//! - **R13, a clock root's hold vs its cancel or drop**: a cancellable clock
//!   root (`kind::ClockNode`, whose deadline never fires) holds its clock's
//!   timers from its making, as an armed deadline does; its cancel's disarm
//!   or its unobserved drop's take-out gives the hold back, once, as R5
//!   decides between them (a root, linked nowhere, is taken out by its drop
//!   alone). A detached root holds none and no canceller reaches it; its
//!   clock keeps the timers alive until it is freed (invariant 7).
//! - **R14, the last holder of an owned cause vs a reader**: a reader of
//!   `cause()` holds a handle to its node, whose slot holds a reference
//!   (invariant 11), so the clone it takes is made from a live reference,
//!   and the count's last decrement (Release, then an Acquire load before
//!   the free) orders every holder's use before the error is dropped.
//!
//! The driver's wake-request protocol has its own races, in `driver::ms`.

#[cfg_attr(not(feature = "alloc"), allow(dead_code))]
pub(crate) mod callback;
pub(crate) mod cancel;
pub(crate) mod kind;
pub(crate) mod list;
pub(crate) mod refs;
pub(crate) mod spare;
pub(crate) mod state;
pub(crate) mod waiter;

use core::mem::ManuallyDrop;
use core::ptr::NonNull;

use crate::node::kind::{Class, Ownership, Shape};
use crate::node::list::{Entry, Kind, List, Status};
use crate::node::state::{AtomicState, Delta, State};
use crate::sync::{loom_const_fn, Ordering::*, UnsafeCell};
use crate::{Cause, Reason};

/// A token's shared state.
#[repr(C)]
pub(crate) struct Node {
    /// The state word; see the module docs.
    pub(crate) state: AtomicState,
    /// The cause: written once, under the lock, before `CANCELLED` is published
    /// with Release; read only after `CANCELLED` was seen with Acquire. While
    /// live, with `SPARE` set, a spare child node, used under the lock; in a
    /// timed node made with one, the cause of its expiry (invariant 9).
    pub(crate) slot: UnsafeCell<Slot>,
    /// Fixed at construction. A heap or pinned child holds a reference on a heap parent.
    pub(crate) parent: Option<NonNull<Node>>,
    /// This node's link in its parent's list (`Kind::Child`); its `class` is the
    /// node's (`kind::Class`).
    pub(crate) entry: Entry,
    /// Children, waiters and callbacks; guarded by the lock.
    pub(crate) list: List,
}

/// What a node's `slot` holds: the state's `SPARE` bit says which. The node
/// owns the cause (one reference, for an owned one), given back when it is
/// overwritten by a cancel (an expiry cause) or when the node is dropped.
pub(crate) union Slot {
    /// Without `SPARE`: once cancelled, its cause; while live, `None` or an
    /// expiry cause.
    pub(crate) cause: ManuallyDrop<Option<Cause>>,
    /// While `SPARE` is set.
    pub(crate) spare: NonNull<Node>,
}

impl Slot {
    /// No cause and no spare.
    pub(crate) const EMPTY: Slot = Slot::cause(None);

    /// A slot holding `cause`.
    pub(crate) const fn cause(cause: Option<Cause>) -> Slot {
        Slot {
            cause: ManuallyDrop::new(cause),
        }
    }
}

/// Gives back the cause the slot holds (the spare, if it holds one, is
/// `refs::free`'s to free). The owner of a node has acquired every
/// canceller's use of it (`refs::free`, `wait_unborrowed`), so no one else
/// reads the slot.
impl Drop for Node {
    fn drop(&mut self) {
        // Relaxed: `&mut`, so every other use of the node happened before.
        if self.state.load(Relaxed).contains(State::SPARE) {
            return;
        }
        // SAFETY: without `SPARE` the slot holds a cause (or `None`), which
        // the node owns and which is not read again.
        drop(
            self.slot
                .with_mut(|s| unsafe { ManuallyDrop::take(&mut (*s).cause) }),
        );
    }
}

// SAFETY: all shared mutation goes through atomics or through cells guarded by the
// lock (links, list, spare) or by the publish protocol of `CANCELLED` (cause).
unsafe impl Send for Node {}
// SAFETY: as above.
unsafe impl Sync for Node {}

/// `Node { state: LIVE | NONEMPTY, refs=2, class: 1, status: Queued, .. }`:
/// a snapshot, for debugging the engine.
impl core::fmt::Debug for Node {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Node")
            .field("state", &self.state)
            .field("class", &self.entry.class)
            .field("status", &self.entry.status)
            .finish_non_exhaustive()
    }
}

impl Node {
    loom_const_fn! {
        /// A live node of `class` with `refs` references and no parent.
        pub(crate) fn new(class: Class, refs: usize) -> Node {
            Node {
                state: AtomicState::new(State::with_refs(refs)),
                slot: UnsafeCell::new(Slot::EMPTY),
                parent: None,
                entry: Entry::new(Kind::Child, class.byte()),
                list: List::new(),
            }
        }
    }

    loom_const_fn! {
        /// A live pinned or static node of `class`, with no references, whose
        /// parent is `parent`.
        pub(crate) fn with_parent(class: Class, parent: NonNull<Node>) -> Node {
            let mut node = Node::new(class, 0);
            node.parent = Some(parent);
            node
        }
    }

    /// How the node's memory is owned and what it is the head of.
    pub(crate) fn class(&self) -> Class {
        Class::from_byte(self.entry.class)
    }

    /// How the node's memory is owned.
    pub(crate) fn ownership(&self) -> Ownership {
        self.class().ownership()
    }

    /// Whether the node is the head of a `kind::TimedNode`.
    pub(crate) fn is_timed(&self) -> bool {
        self.class().is(Shape::Timed)
    }

    /// Whether the node is the head of a `kind::LinkedNode`.
    #[cfg(feature = "alloc")]
    pub(crate) fn is_any_of(&self) -> bool {
        self.class().is(Shape::AnyOf)
    }

    /// Whether the node is the head of a `kind::ScopedNode`.
    #[cfg(feature = "alloc")]
    pub(crate) fn is_scoped(&self) -> bool {
        self.class().is(Shape::Scoped)
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
        // written after (the node keeps its reference until it is dropped);
        // the Acquire load above made the write visible.
        self.slot.with(|s| unsafe { Option::clone(&(*s).cause) })
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
        if matches!(self.ownership(), Ownership::Static | Ownership::Never) {
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
        state.refs() == 1 && !state.is_cancelled() && self.ownership() == Ownership::Heap
    }

    /// Whether the caller's reference is the only one to a cancelled heap
    /// node: its list is empty, and only a canceller of its parent can still
    /// reach it (its cancel disarmed its deadline).
    #[cfg(feature = "alloc")]
    pub(crate) fn is_alone_cancelled(&self) -> bool {
        // Acquire: as in `is_unobserved`.
        let state = self.state.load(Acquire);
        state.refs() == 1 && state.is_cancelled() && self.ownership() == Ownership::Heap
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
        if self.ownership() == Ownership::Never {
            // Relaxed: nothing is published with the bit here, since nothing
            // was done to the child (`never` neither links nor cancels it);
            // the read-modify-write alone elects one caller.
            return !child.state.fetch_or(once, Relaxed).intersects(once);
        }
        let counted = child.ownership() == Ownership::Heap && self.ownership() != Ownership::Static;
        let refs = if counted { Delta::ADD_REF } else { Delta::NONE };
        let guard = self.lock();
        if guard.is_cancelled() {
            let old = guard.unlock_adding(refs);
            // CANCELLED, seen under the lock, never clears, so `old` has it;
            // and the lock acquired the cause's publication.
            Node::cancel(child_ptr, old.cancelled_reason(), self.cause());
            // Release: whoever sees the bit (the Acquire in
            // `pinned::child::ensure_attached`) also sees the child cancelled.
            child.state.fetch_or(once, Release);
            return false;
        }
        // AcqRel: the read-modify-write elects one caller, under the parent's
        // lock. The Release half pairs with the Acquire in
        // `pinned::child::ensure_attached`, so a caller that sees the bit also
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
