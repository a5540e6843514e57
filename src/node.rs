//! The node behind every token: its state word, lock, list and the cancel walk.
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
//! # Cancelling
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
//! only place two locks are held, always parent then child, so there is no
//! cycle. With `std`, where the lock lives in the state word, such a child
//! (unlocked, no cause to write, no deadline to take out) is cancelled by one
//! compare-and-swap of its state instead: `NONEMPTY`, kept by every unlock,
//! says whether its list is empty.
//!
//! # Races
//!
//! - *Cancel vs registration*: registration takes the lock and links only if
//!   `CANCELLED` is clear; cancel sets it under the same lock before draining, so
//!   an entry is either drained or sees the token cancelled.
//! - *Two cancels*: the first to set `CANCELLED` under the lock wins and does the
//!   draining; the other returns. Its reason and cause are discarded.
//! - *Cancel vs child drop*: a dropping child takes its parent's lock and unlinks
//!   itself if `LINKED`; if a canceller took it first (`NOTIFIED`), the canceller's
//!   reference keeps it alive until it is done.

use core::ptr::NonNull;

use crate::entry::{Entry, Kind, List, LINKED, NOTIFIED};
use crate::sync::{loom_const_fn, AtomicUsize, Ordering::*, UnsafeCell};
use crate::{Cause, Reason};

pub(crate) const CANCELLED: usize = 1 << 0;
const REASON_SHIFT: u32 = 1;
const REASON_MASK: usize = 0b11 << REASON_SHIFT;
#[cfg(any(feature = "std", cancel_token_loom))]
const LOCKED: usize = 1 << 3;
pub(crate) const SPARE: usize = 1 << 5;
pub(crate) const SPARE_TIMED: usize = 1 << 6;
#[cfg(any(feature = "std", cancel_token_loom))]
const NONEMPTY: usize = 1 << 7;
const REF_SHIFT: u32 = 8;
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

    /// How the node's memory is owned (`class::*`).
    pub(crate) fn class(&self) -> u8 {
        self.entry.class & !class::TIMED
    }

    /// Whether the node is the head of a `deadline::TimedNode`.
    pub(crate) fn is_timed(&self) -> bool {
        self.entry.class & class::TIMED != 0
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
    /// its list is empty and only a canceller or its timers can still reach it.
    #[cfg(feature = "alloc")]
    pub(crate) fn is_unobserved(&self) -> bool {
        // Acquire: pairs with the Release decrements of the other references,
        // so what their holders did (e.g. unlinking waiters) is visible.
        let state = State(self.state.load(Acquire));
        state.refs() == 1 && !state.is_cancelled() && self.class() == class::HEAP
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

    // ---- cancelling ----------------------------------------------------------

    /// Cancels this node and every live descendant, waking waiters and running
    /// callbacks. Returns whether this call did it (false if already cancelled).
    pub(crate) fn cancel(this: NonNull<Node>, reason: Reason, cause: Option<Cause>) -> bool {
        // Once set, CANCELLED never clears and its setter drains the list.
        // SAFETY: the caller keeps the node alive.
        if unsafe { this.as_ref() }.is_cancelled() {
            return false;
        }
        let mut work = WorkList(None);
        let mut wakers = crate::waiter::WakeBatch::new();
        let mut panic = crate::panic::PanicSlot::new();
        let did = Node::cancel_one(this, reason, cause, &mut work, &mut wakers, &mut panic);
        while let Some(child) = work.pop() {
            // The work list holds a reference (or borrow) on each node in it.
            Node::cancel_one(child, reason, cause, &mut work, &mut wakers, &mut panic);
            // SAFETY: gives back the work list's reference.
            unsafe { release(child) };
        }
        panic.resume();
        did
    }

    fn cancel_one(
        this: NonNull<Node>,
        reason: Reason,
        cause: Option<Cause>,
        work: &mut WorkList,
        wakers: &mut crate::waiter::WakeBatch,
        panic: &mut crate::panic::PanicSlot,
    ) -> bool {
        // SAFETY: the caller keeps the node alive.
        let node = unsafe { this.as_ref() };
        if node.class() == class::NEVER {
            return false;
        }
        match node.cancel_if_idle_lock_free(reason, cause) {
            Idle::Cancelled => return true,
            Idle::Already => return false,
            Idle::Busy => {}
        }
        let guard = node.lock();
        if guard.is_cancelled() {
            return false;
        }
        let Err(mut guard) = guard.cancel_if_idle(this, reason, cause) else {
            return true;
        };
        // Freed when this function returns, after the lock is released.
        let _spare = guard.mark_cancelled(this, reason, cause);
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
                        // SAFETY: as above.
                        let c = unsafe { child.as_ref() };
                        // A child with an empty list is cancelled here, under both
                        // locks (always parent, then child); others go on the work list.
                        // Either way the child's lock is released, and a reference
                        // taken, before NOTIFIED lets its owner free it.
                        let done = match c.cancel_if_idle_lock_free(reason, cause) {
                            Idle::Cancelled | Idle::Already => true,
                            Idle::Busy => {
                                let child_guard = c.lock();
                                if child_guard.is_cancelled() {
                                    drop(child_guard);
                                    true
                                } else {
                                    child_guard.cancel_if_idle(child, reason, cause).is_ok()
                                }
                            }
                        };
                        if !done {
                            c.inc_ref();
                        }
                        // Release: pairs with the lock-free check in `unlink_child`.
                        entry.status.store(NOTIFIED, Release);
                        if !done {
                            work.push(child);
                        }
                    }
                    Kind::Waiter => {
                        // SAFETY: the waiter is linked, so its future is pinned and alive.
                        let full = unsafe { crate::waiter::notify(e, wakers) };
                        if full {
                            break;
                        }
                    }
                    Kind::Callback => {
                        // SAFETY: under the lock; `destroyed` outlives the `run` below.
                        unsafe { crate::callback::claim(e, &destroyed) };
                        callback = Some(e);
                        break;
                    }
                }
            }
            let more = callback.is_some() || wakers.is_full();
            drop(guard);
            wakers.wake_all(panic);
            if let Some(cb) = callback {
                // SAFETY: `cb` is a callback we marked RUNNING; its owner frees it only
                // after DONE or after flagging it destroyed, both under this node's lock.
                unsafe { crate::callback::run(node, cb, &destroyed, reason, cause, panic) };
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
    fn cancel_if_idle_lock_free(&self, reason: Reason, cause: Option<Cause>) -> Idle {
        if cause.is_some() || self.is_timed() {
            return Idle::Busy;
        }
        let mut state = self.state.load(Relaxed);
        loop {
            if state & CANCELLED != 0 {
                return Idle::Already;
            }
            if state & (LOCKED | NONEMPTY | SPARE) != 0 {
                return Idle::Busy;
            }
            // Release: publishes what the canceller did before, as unlocking
            // with `CANCELLED` does. A locker that comes next sees it set.
            match self.state.compare_exchange_weak(
                state,
                state | CANCELLED | (reason.to_bits() << REASON_SHIFT),
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
    fn cancel_if_idle_lock_free(&self, _: Reason, _: Option<Cause>) -> Idle {
        Idle::Busy
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
            child.entry.status.store(crate::entry::IDLE, Relaxed); // Relaxed: under the lock
        }
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

    /// Takes out the spare, writes the cause before `CANCELLED` is published,
    /// and takes a timed node's deadline out of its timer wheel (still under
    /// the node's lock, which arming also holds, so a deadline is never armed
    /// on a cancelled node). Returns what to add to the state to mark it
    /// cancelled, and the spare, to free once unlocked.
    fn set_cause(
        &self,
        this: NonNull<Node>,
        reason: Reason,
        cause: Option<Cause>,
    ) -> (usize, crate::spare::Spare) {
        let spare = self.take_spare();
        // SAFETY: under the lock and before `CANCELLED` is set: no reader yet.
        self.node.slot.with_mut(|s| unsafe { *s = Slot { cause } });
        if self.node.is_timed() {
            // SAFETY: `this` is a live timed node, with its whole provenance.
            unsafe { crate::deadline::disarm(this) };
        }
        let spare_bits = self.state() & (SPARE | SPARE_TIMED);
        let bits = (CANCELLED | (reason.to_bits() << REASON_SHIFT)).wrapping_sub(spare_bits);
        (bits, crate::spare::Spare(spare))
    }

    /// Marks a live node cancelled, keeping the lock to drain its list.
    /// Returns its spare, to free once unlocked.
    fn mark_cancelled(
        &self,
        this: NonNull<Node>,
        reason: Reason,
        cause: Option<Cause>,
    ) -> crate::spare::Spare {
        let (bits, spare) = self.set_cause(this, reason, cause);
        // Release: publishes `cause` (and all the canceller did before) to Acquire readers.
        self.node.state.fetch_add(bits, Release);
        spare
    }

    /// If the live node's list is empty and it keeps no spare, marks it
    /// cancelled and unlocks in one step (there is nothing to drain or free);
    /// otherwise gives the guard back.
    fn cancel_if_idle(
        self,
        this: NonNull<Node>,
        reason: Reason,
        cause: Option<Cause>,
    ) -> Result<(), Self> {
        if !self.node.list.is_empty_locked() || self.state() & SPARE != 0 {
            return Err(self);
        }
        let (bits, _none) = self.set_cause(this, reason, cause);
        let _ = self.unlock_adding(bits);
        Ok(())
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

/// Nodes taken from lists by a canceller, chained through their entries' `next`.
struct WorkList(Option<NonNull<Entry>>);

impl WorkList {
    fn push(&mut self, node: NonNull<Node>) {
        // SAFETY: the node is `NOTIFIED`: its `next` link belongs to this canceller.
        let entry = unsafe { &node.as_ref().entry };
        entry.next.with_mut(|n| {
            // SAFETY: as above, no one else touches it.
            unsafe { *n = self.0 };
        });
        // SAFETY: as above.
        self.0 = Some(Node::entry_ptr(node));
    }

    fn pop(&mut self) -> Option<NonNull<Node>> {
        let e = self.0?;
        // SAFETY: `e` was pushed by `push`, so it is a held node's entry.
        self.0 = unsafe { e.as_ref() }.next.with(|n| unsafe { *n });
        // SAFETY: as above.
        Some(unsafe { Node::from_entry(e) })
    }
}

/// Gives back one reference; frees heap nodes that reach zero, then their parents'
/// references, in a loop (a chain of any length uses constant stack).
///
/// # Safety
/// The caller owns one reference on `node`.
pub(crate) unsafe fn release(mut node: NonNull<Node>) {
    loop {
        // SAFETY: we own a reference, so the node is alive.
        let n = unsafe { node.as_ref() };
        let class = n.class();
        if matches!(class, class::STATIC | class::NEVER) {
            return;
        }
        // Release: our uses of the node happen-before whoever frees it.
        let old = n.state.fetch_sub(REF_ONE, Release);
        // SAFETY: that was our reference, and `class` was read before.
        match unsafe { released(node, class, old) } {
            Some(parent) => node = parent,
            None => return,
        }
    }
}

/// After a reference to `node`, of class `class`, was given back by a
/// Release read-modify-write that saw `old`: frees the node if that was the
/// last reference to a heap node, and returns its parent, whose reference the
/// caller then releases. It touches the node only then: otherwise another
/// owner may be freeing it already.
///
/// # Safety
/// `node` was alive with the reference just given back; `class` was read
/// before that.
unsafe fn released(node: NonNull<Node>, class: u8, old: usize) -> Option<NonNull<Node>> {
    if old >> REF_SHIFT != 1 || class != class::HEAP {
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

/// Frees an unobserved heap node (see [`Node::is_unobserved`]) whose one
/// reference the caller owns, its deadline (if any) disarmed: unlinks it
/// from its parent, giving back its reference on the parent in the same
/// unlock, and frees it, with no read-modify-write on the node itself.
///
/// Returns false, having done nothing, if a canceller of the parent took the
/// node first; the caller then lets go of it as usual.
///
/// # Safety
/// As above: the caller's reference is the only one, the node is live, out
/// of its timers if timed, and no handle can make another reference (the
/// caller is dropping the last).
#[cfg(feature = "alloc")]
pub(crate) unsafe fn free_unobserved(this: NonNull<Node>) -> bool {
    // SAFETY: the caller owns a reference.
    let node = unsafe { this.as_ref() };
    let Some(parent) = node.parent else {
        // A root with no handles left: nothing else can reach it.
        // SAFETY: the only reference, to a heap node.
        unsafe { free(this) };
        return true;
    };
    // SAFETY: a child holds a reference on its parent until it is freed.
    let p = unsafe { parent.as_ref() };
    // Acquire: pairs with a canceller's store of NOTIFIED under the parent's
    // lock. IDLE means never linked (a child of `never`).
    if node.entry.status.load(Acquire) != LINKED {
        return false;
    }
    let guard = p.lock();
    if node.entry.status_locked() != LINKED {
        return false;
    }
    // SAFETY: under the parent's lock and the entry is in its list.
    unsafe { p.list.unlink(Node::entry_ptr(this)) };
    // Only a heap child of a non-static parent holds a reference on it.
    let parent_class = p.class();
    let counted = parent_class != class::STATIC;
    // SAFETY: out of every list, and the reference was the only one.
    let kept = unsafe { guard.keep_spare(this) };
    let unref = if counted { REF_ONE.wrapping_neg() } else { 0 };
    let old = guard.unlock_adding(unref.wrapping_add(kept));
    if kept == 0 {
        // SAFETY: as above.
        unsafe { free(this) };
    }
    if counted {
        // SAFETY: that was the child's reference on the parent, whose class
        // was read before.
        if let Some(grandparent) = unsafe { released(parent, parent_class, old) } {
            // SAFETY: the parent's reference on its own parent, now ours.
            unsafe { release(grandparent) };
        }
    }
    true
}

#[cfg(feature = "alloc")]
unsafe fn free(node: NonNull<Node>) {
    // SAFETY: the caller owns the last reference.
    let n = unsafe { node.as_ref() };
    // Relaxed: the caller acquired every earlier use of the node.
    if n.state.load(Relaxed) & SPARE != 0 {
        // SAFETY: `SPARE` says the slot holds a spare, now no one else's.
        drop(crate::spare::Spare(Some(
            n.slot.with(|s| unsafe { (*s).spare }),
        )));
    }
    if n.is_timed() {
        // SAFETY: timed heap nodes are boxed `TimedNode`s (node first, `repr(C)`).
        unsafe { crate::deadline::free(node) };
        return;
    }
    // SAFETY: heap nodes are made by `Box::new` in `Node::new_heap`.
    drop(unsafe { alloc::boxed::Box::from_raw(node.as_ptr()) });
}

#[cfg(not(feature = "alloc"))]
unsafe fn free(_: NonNull<Node>) {
    unreachable!("no heap nodes without `alloc`")
}

#[cfg(feature = "alloc")]
impl Node {
    /// A heap node with one reference, child of `parent` (which gains a reference)
    /// and linked into it.
    pub(crate) fn new_heap(parent: Option<NonNull<Node>>) -> NonNull<Node> {
        let mut node = Node::new(class::HEAP, 1);
        node.parent = parent;
        if let Some(p) = parent {
            // SAFETY: the caller keeps the parent alive.
            match unsafe { p.as_ref() }.link_in_spare(node) {
                Ok(linked) => return linked,
                Err(unused) => node = unused,
            }
        }
        let node = NonNull::from(alloc::boxed::Box::leak(alloc::boxed::Box::new(node)));
        if let Some(p) = parent {
            // SAFETY: the new node is pinned in its box and unlinks itself before
            // its owner releases it (`CancelSource::drop`). Linking takes the
            // node's reference on its parent.
            unsafe { p.as_ref().link_child(node, 0) };
        }
        node
    }
}

#[cold]
fn abort() -> ! {
    #[cfg(feature = "std")]
    std::process::abort();
    #[cfg(not(feature = "std"))]
    panic!("cancel-token: reference count overflow");
}
