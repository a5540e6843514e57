//! The node's state word: [`State`], the value, and [`AtomicState`], the word
//! itself, read and changed only through it.
//!
//! Most changes are flags set or cleared, or references counted, in one
//! `fetch_add` of a wrapping [`Delta`]: unlocking also clears `LOCKED` and
//! brings `NONEMPTY` in line with the list, cancelling also clears the spare
//! bits, and so on. A delta subtracts only bits that are set, so no
//! subtraction borrows from the bits above it. Each delta is built by a
//! constructor that `debug_assert!`s that on the state the caller read, and
//! each read-modify-write `debug_assert!`s the state it replaced (as
//! atomic-waker does). In release builds both are plain integer arithmetic.
//!
//! The bits, and who may change them, are in the `node` module docs.

use core::fmt;

use crate::sync::{loom_const_fn, AtomicUsize, Ordering};
use crate::Reason;

/// A value of a node's state word: flag bits, the reason, and a count.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct State(usize);

impl State {
    /// No bit set: a live node with no references.
    pub(crate) const EMPTY: State = State(0);
    /// Cancelled (bit 0): set once, never cleared; the reason (bits 1..3) and the
    /// cause are valid from then on.
    pub(crate) const CANCELLED: State = State(1);
    const REASON_SHIFT: u32 = 1;
    const REASON_MASK: usize = 0b11 << Self::REASON_SHIFT;
    /// The spin lock of the `std` tier (unused elsewhere).
    pub(crate) const LOCKED: State = State(1 << 3);
    /// A pinned node has attached itself to its parent(s): linked into its
    /// parent's list, or registered on its parents (`PinnedLinked`).
    pub(crate) const ATTACHED: State = State(1 << 4);
    /// The slot holds a spare child node (see `spare`); never with `CANCELLED`.
    pub(crate) const SPARE: State = State(1 << 5);
    /// With `SPARE`: the spare is a node with a deadline.
    pub(crate) const SPARE_TIMED: State = State(1 << 6);
    /// The list has entries; accurate whenever `LOCKED` is clear (`std` tier).
    pub(crate) const NONEMPTY: State = State(1 << 7);
    const REF_SHIFT: u32 = 8;
    /// One reference (heap node) or borrow (pinned node).
    const REF_ONE: usize = 1 << Self::REF_SHIFT;
    /// Past this many references something leaks handles in a loop; abort like `Arc`.
    const REF_MAX: usize = (usize::MAX >> 1) >> Self::REF_SHIFT;
    /// Every flag but `CANCELLED`, with its name, for `Debug`.
    const FLAGS: [(State, &'static str); 5] = [
        (State::LOCKED, "LOCKED"),
        (State::ATTACHED, "ATTACHED"),
        (State::SPARE, "SPARE"),
        (State::SPARE_TIMED, "SPARE_TIMED"),
        (State::NONEMPTY, "NONEMPTY"),
    ];

    /// A live node with `refs` references and no flag.
    pub(crate) const fn with_refs(refs: usize) -> State {
        State(refs << Self::REF_SHIFT)
    }

    /// Every bit of `self` and of `other` (`|`, in const context).
    #[cfg_attr(not(feature = "alloc"), allow(dead_code))]
    pub(crate) const fn union(self, other: State) -> State {
        State(self.0 | other.0)
    }

    /// Whether every bit of `flags` is set.
    #[inline(always)]
    pub(crate) const fn contains(self, flags: State) -> bool {
        self.0 & flags.0 == flags.0
    }

    /// Whether any bit of `flags` is set (false for `EMPTY`).
    #[inline(always)]
    pub(crate) const fn intersects(self, flags: State) -> bool {
        self.0 & flags.0 != 0
    }

    /// Whether `CANCELLED` is set.
    #[inline(always)]
    pub(crate) const fn is_cancelled(self) -> bool {
        self.intersects(State::CANCELLED)
    }

    /// The reason, once cancelled.
    #[inline]
    pub(crate) fn reason(self) -> Option<Reason> {
        self.is_cancelled().then(|| self.reason_bits())
    }

    /// The reason of a state known to be cancelled: one the caller saw
    /// `CANCELLED` in, or read after something stored only after it (such
    /// as a waiter's `Notified`). Debug builds check it.
    #[inline]
    #[track_caller]
    pub(crate) fn cancelled_reason(self) -> Reason {
        debug_assert!(self.is_cancelled(), "not cancelled: {self:?}");
        self.reason_bits()
    }

    fn reason_bits(self) -> Reason {
        Reason::from_bits((self.0 & Self::REASON_MASK) >> Self::REASON_SHIFT)
    }

    /// The reference (heap) or borrow (pinned) count.
    #[inline(always)]
    pub(crate) const fn refs(self) -> usize {
        self.0 >> Self::REF_SHIFT
    }

    /// `SPARE` and `SPARE_TIMED`, as set in `self`.
    #[inline(always)]
    pub(crate) const fn spare_bits(self) -> State {
        State(self.0 & (State::SPARE.0 | State::SPARE_TIMED.0))
    }

    /// `self` cancelled with `reason`, for the lock-free cancel, which needs
    /// a live, unlocked node without a spare (the spare bits stay as they are
    /// otherwise; see [`Delta::cancel`] for the locked path).
    #[inline]
    #[cfg_attr(not(any(feature = "std", cancel_token_loom)), allow(dead_code))]
    pub(crate) fn cancelled_with(self, reason: Reason) -> State {
        debug_assert!(
            !self.intersects(State::CANCELLED | State::LOCKED | State::SPARE),
            "lock-free cancel of {self:?}"
        );
        State(self.0 | State::CANCELLED.0 | (reason.to_bits() << Self::REASON_SHIFT))
    }
}

impl core::ops::BitOr for State {
    type Output = State;

    #[inline(always)]
    fn bitor(self, other: State) -> State {
        State(self.0 | other.0)
    }
}

/// `CANCELLED(DeadlineExceeded) | LOCKED | SPARE_TIMED, refs=3`. Reason bits
/// that no valid state has (any while live, or a value no `Reason` has) show
/// as `UNKNOWN(0b…)`.
impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut unknown = self.0 & Self::REASON_MASK;
        match self.reason() {
            Some(r) => {
                write!(f, "CANCELLED({r:?})")?;
                unknown ^= r.to_bits() << Self::REASON_SHIFT;
            }
            None => f.write_str("LIVE")?,
        }
        for (flag, name) in State::FLAGS {
            if self.intersects(flag) {
                write!(f, " | {name}")?;
            }
        }
        if unknown != 0 {
            write!(f, " | UNKNOWN({unknown:#b})")?;
        }
        write!(f, ", refs={}", self.refs())
    }
}

/// A wrapping change to a state word, added by one `fetch_add`. Built only
/// by the constructors below, each of which checks (in debug builds) that,
/// added to the state it is given, it subtracts no bit that is clear.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[must_use]
pub(crate) struct Delta(usize);

impl Delta {
    /// No change.
    pub(crate) const NONE: Delta = Delta(0);

    /// One reference more: the reference a heap child takes on its parent.
    pub(crate) const ADD_REF: Delta = Delta(State::REF_ONE);

    /// One reference less, given back by a caller that owns one, so the
    /// count is at least one in `held` and until this delta lands.
    #[inline]
    #[cfg_attr(not(feature = "alloc"), allow(dead_code))]
    pub(crate) fn drop_ref(held: State) -> Delta {
        debug_assert!(held.refs() >= 1, "no reference to give back: {held:?}");
        Delta(State::REF_ONE.wrapping_neg())
    }

    /// The unlock of a node whose state under its lock is `held`: clears
    /// `LOCKED` (set) and sets or clears `NONEMPTY` as the list is now.
    #[inline]
    #[cfg_attr(not(any(feature = "std", cancel_token_loom)), allow(dead_code))]
    pub(crate) fn unlock(held: State, nonempty: bool) -> Delta {
        debug_assert!(held.contains(State::LOCKED), "unlock unlocked: {held:?}");
        let was = held.0 & State::NONEMPTY.0;
        let now = if nonempty { State::NONEMPTY.0 } else { 0 };
        Delta(now.wrapping_sub(was).wrapping_sub(State::LOCKED.0))
    }

    /// Cancelling a live node whose state under its lock is `held`: sets
    /// `CANCELLED` and the reason bits (clear while live), and clears the
    /// spare bits that are set (the spare is taken out in the same step).
    #[inline]
    pub(crate) fn cancel(held: State, reason: Reason) -> Delta {
        debug_assert!(!held.is_cancelled(), "cancel cancelled: {held:?}");
        debug_assert!(
            held.0 & State::REASON_MASK == 0,
            "reason while live: {held:?}"
        );
        let set = State::CANCELLED.0 | (reason.to_bits() << State::REASON_SHIFT);
        Delta(set.wrapping_sub(held.spare_bits().0))
    }

    /// Keeping a child's memory as the spare of a live node without one
    /// (state `held` under its lock): sets `bits` (`SPARE`, with
    /// `SPARE_TIMED` for a timed child).
    #[inline]
    #[cfg_attr(not(feature = "alloc"), allow(dead_code))]
    pub(crate) fn keep_spare(held: State, bits: State) -> Delta {
        debug_assert!(
            !held.intersects(State::CANCELLED | State::SPARE | State::SPARE_TIMED),
            "keep a spare in {held:?}"
        );
        debug_assert!(bits.contains(State::SPARE) && bits == bits.spare_bits());
        Delta(bits.0)
    }

    /// Building a new child in this node's spare (state `held` under its
    /// lock, whose spare bits are `bits`): clears them and adds the child's
    /// reference on this node.
    #[inline]
    #[cfg_attr(not(feature = "alloc"), allow(dead_code))]
    pub(crate) fn adopt_spare(held: State, bits: State) -> Delta {
        debug_assert!(
            bits.contains(State::SPARE) && held.spare_bits() == bits && !held.is_cancelled(),
            "adopt spare {bits:?} of {held:?}"
        );
        Delta(State::REF_ONE.wrapping_sub(bits.0))
    }

    /// Both changes, in one `fetch_add`.
    #[inline(always)]
    #[cfg_attr(not(feature = "alloc"), allow(dead_code))]
    pub(crate) fn then(self, other: Delta) -> Delta {
        Delta(self.0.wrapping_add(other.0))
    }

    /// The state after adding this delta to `old`.
    #[cfg(test)]
    pub(crate) fn apply(self, old: State) -> State {
        State(old.0.wrapping_add(self.0))
    }
}

/// A node's state word. Every read and change goes through it, typed.
pub(crate) struct AtomicState(AtomicUsize);

impl AtomicState {
    loom_const_fn! {
        /// A word holding `state`.
        pub(crate) fn new(state: State) -> AtomicState {
            AtomicState(AtomicUsize::new(state.0))
        }
    }

    /// The state, read with `order`.
    #[inline(always)]
    pub(crate) fn load(&self, order: Ordering) -> State {
        State(self.0.load(order))
    }

    /// Adds `delta`; returns the state before.
    #[inline(always)]
    pub(crate) fn fetch_add(&self, delta: Delta, order: Ordering) -> State {
        State(self.0.fetch_add(delta.0, order))
    }

    /// Sets `flags`; returns the state before.
    #[inline(always)]
    pub(crate) fn fetch_or(&self, flags: State, order: Ordering) -> State {
        State(self.0.fetch_or(flags.0, order))
    }

    /// Takes one more reference; returns the state before. Aborts (as `Arc`
    /// does) on an overflowing count.
    #[inline]
    pub(crate) fn add_ref(&self, order: Ordering) -> State {
        let old = self.fetch_add(Delta::ADD_REF, order);
        if old.refs() > State::REF_MAX {
            abort();
        }
        old
    }

    /// Gives back one reference, which the caller owns; returns the state before.
    #[inline(always)]
    pub(crate) fn drop_ref(&self, order: Ordering) -> State {
        let old = State(self.0.fetch_sub(State::REF_ONE, order));
        debug_assert!(old.refs() >= 1, "reference given back twice: {old:?}");
        old
    }

    /// `compare_exchange_weak` of states.
    #[inline(always)]
    #[cfg_attr(not(any(feature = "std", cancel_token_loom)), allow(dead_code))]
    pub(crate) fn compare_exchange_weak(
        &self,
        current: State,
        new: State,
        success: Ordering,
        failure: Ordering,
    ) -> Result<State, State> {
        self.0
            .compare_exchange_weak(current.0, new.0, success, failure)
            .map(State)
            .map_err(State)
    }
}

impl fmt::Debug for AtomicState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Relaxed: a snapshot for printing; nothing is read through it.
        self.load(Ordering::Relaxed).fmt(f)
    }
}

#[cold]
fn abort() -> ! {
    #[cfg(feature = "std")]
    std::process::abort();
    #[cfg(not(feature = "std"))]
    panic!("cancel-token: reference count overflow");
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCKED: State = State::LOCKED;
    const NONEMPTY: State = State::NONEMPTY;
    const SPARE: State = State::SPARE;
    const TIMED: State = State::SPARE_TIMED;

    fn refs(n: usize) -> State {
        State::with_refs(n)
    }

    #[test]
    fn unlock_clears_locked_and_fixes_nonempty() {
        for was in [State::EMPTY, NONEMPTY] {
            for now in [false, true] {
                let held = refs(3) | LOCKED | was | SPARE;
                let after = Delta::unlock(held, now).apply(held);
                let want = refs(3) | SPARE | if now { NONEMPTY } else { State::EMPTY };
                assert_eq!(after, want, "was {was:?}, nonempty {now}");
            }
        }
    }

    #[test]
    fn cancel_sets_the_reason_and_clears_the_spare_bits() {
        for spare in [State::EMPTY, SPARE, SPARE | TIMED] {
            for reason in [Reason::Cancelled, Reason::DeadlineExceeded] {
                let held = refs(2) | LOCKED | NONEMPTY | spare;
                let after = Delta::cancel(held, reason).apply(held);
                assert_eq!(after.reason(), Some(reason));
                assert_eq!(after.spare_bits(), State::EMPTY);
                assert!(after.contains(LOCKED | NONEMPTY));
                assert_eq!(after.refs(), 2);
            }
        }
    }

    #[test]
    fn the_lock_free_cancel_keeps_every_other_bit() {
        let live = refs(1) | State::ATTACHED;
        let after = live.cancelled_with(Reason::DeadlineExceeded);
        assert_eq!(after.cancelled_reason(), Reason::DeadlineExceeded);
        assert_eq!(after.refs(), 1);
        assert!(after.contains(State::ATTACHED));
    }

    #[test]
    fn references_combine_with_the_unlock() {
        let held = refs(1) | LOCKED;
        let after = Delta::drop_ref(held)
            .then(Delta::unlock(held, false))
            .apply(held);
        assert_eq!(after, State::EMPTY);
        let after = Delta::ADD_REF.then(Delta::unlock(held, true)).apply(held);
        assert_eq!(after, refs(2) | NONEMPTY);
    }

    #[test]
    fn a_spare_is_kept_then_adopted() {
        for bits in [SPARE, SPARE | TIMED] {
            let held = refs(1) | LOCKED;
            let kept = Delta::keep_spare(held, bits).apply(held);
            assert_eq!(kept.spare_bits(), bits);
            let adopted = Delta::adopt_spare(kept, bits).apply(kept);
            assert_eq!(adopted, refs(2) | LOCKED);
        }
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic = "unlock unlocked"]
    fn unlocking_an_unlocked_state_is_caught() {
        let _ = Delta::unlock(refs(1), false);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic = "cancel cancelled"]
    fn cancelling_twice_is_caught() {
        let held = refs(1) | LOCKED;
        let _ = Delta::cancel(
            Delta::cancel(held, Reason::Cancelled).apply(held),
            Reason::Cancelled,
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic = "adopt spare"]
    fn adopting_a_spare_of_the_other_kind_is_caught() {
        let _ = Delta::adopt_spare(refs(1) | LOCKED | SPARE, SPARE | TIMED);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic = "no reference"]
    fn giving_back_a_reference_not_held_is_caught() {
        let _ = Delta::drop_ref(LOCKED);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic = "not cancelled"]
    fn the_reason_of_a_live_state_is_caught() {
        let _ = refs(1).cancelled_reason();
    }

    #[test]
    #[cfg(feature = "std")]
    fn debug_names_every_flag() {
        let s = Delta::cancel(refs(3) | LOCKED, Reason::DeadlineExceeded).apply(refs(3) | LOCKED);
        assert_eq!(
            format!("{:?}", s | TIMED),
            "CANCELLED(DeadlineExceeded) | LOCKED | SPARE_TIMED, refs=3"
        );
        let all = refs(1) | LOCKED | State::ATTACHED | SPARE | TIMED | NONEMPTY;
        assert_eq!(
            format!("{all:?}"),
            "LIVE | LOCKED | ATTACHED | SPARE | SPARE_TIMED | NONEMPTY, refs=1"
        );
        assert_eq!(format!("{:?}", State::EMPTY), "LIVE, refs=0");
        let node = crate::node::Node::new(
            crate::node::kind::Class::plain(crate::node::kind::Ownership::Heap),
            2,
        );
        assert_eq!(
            format!("{node:?}"),
            "Node { state: LIVE, refs=2, class: 1, status: Idle, .. }"
        );
        assert_eq!(format!("{:?}", State(0b10)), "LIVE | UNKNOWN(0b10), refs=0");
        assert_eq!(
            format!("{:?}", State(0b111)),
            "CANCELLED(DeadlineExceeded) | UNKNOWN(0b100), refs=0"
        );
    }

    /// `|` and `union` keep a bit set in both operands, as a mask built
    /// from overlapping flags needs.
    #[test]
    fn union_keeps_bits_set_in_both() {
        assert_eq!(LOCKED | LOCKED, LOCKED);
        assert_eq!((SPARE | TIMED) | SPARE, SPARE | TIMED);
        assert_eq!(SPARE.union(SPARE), SPARE);
        assert_eq!(SPARE.union(SPARE | TIMED), SPARE | TIMED);
    }

    /// Invariant 8: `NONEMPTY` matches the list once unlocked; a node
    /// locked and unlocked with an empty list has it clear.
    #[test]
    #[cfg(feature = "std")]
    fn an_unlock_with_an_empty_list_leaves_nonempty_clear() {
        let node = crate::node::Node::new(
            crate::node::kind::Class::plain(crate::node::kind::Ownership::Heap),
            1,
        );
        drop(node.lock());
        let s = node.state.load(Ordering::Relaxed);
        assert!(!s.intersects(LOCKED | NONEMPTY), "{s:?}");
    }
}
