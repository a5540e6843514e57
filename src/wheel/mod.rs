//! Deadline storage that knows nothing of tokens: the timer wheel, and
//! [`Timers`](timers::Timers), the wheel behind its lock that drivers advance.
//!
//! This layer may use `util` and `sync`.
//!
//! Intrusive hierarchical timing wheel: the deadlines of token nodes, kept without allocating.
//!
//! Time is counted in `u64` ticks. The wheel has six levels of 64 slots; a slot of level `L`
//! covers `64^L` ticks, so level `L` spans `64^(L+1)` ticks and the whole wheel an *epoch* of
//! `2^36` ticks. A slot is the head pointer of a doubly linked list threaded through the entries
//! themselves ([`WheelEntry`] is embedded in the node, so nothing is allocated), and each level
//! has an `occupied` bitmap with one bit per non-empty slot.
//!
//! An entry due at `when` is filed against `elapsed`, the tick the wheel has advanced to (as in
//! tokio's wheel): its level is the highest base-64 digit in which `when` and `elapsed` differ,
//! its slot is that digit of `when`. So every entry of level `L` lies in `elapsed`'s current block
//! of `64^(L+1)` ticks, after `elapsed`'s slot; the lowest non-empty level holds the earliest
//! entries, and its lowest `occupied` bit is the next slot to visit. `pop_expired` jumps `elapsed`
//! straight to the start of that slot, never tick by tick. A level-0 slot is a single tick, so its
//! entries are due: they are popped one per call. A higher slot is *cascaded*: its entries are
//! re-filed against the new `elapsed`, which puts each in a lower level, so an entry moves at most
//! five times before it is popped.
//!
//! Deadlines in a later epoch than `elapsed` (all those `2^36` or more ticks ahead, and nearer
//! ones across an epoch boundary) go to an unsorted overflow list, with a lower bound of its
//! deadlines. Once the levels are empty and time reaches the epoch of that bound, the list is
//! walked and the entries of that epoch are filed into the levels: one walk per epoch holding
//! deadlines. Ticks are only masked and shifted, never added to, so even a deadline of
//! `u64::MAX - 1` cannot overflow.
//!
//! `Wheel` is 386 words (385 list heads and a count) plus 64 bytes: 3152 bytes on 64-bit
//! targets, 1608 on 32-bit ones.

#[cfg(feature = "alloc")]
pub(crate) mod clock;
pub(crate) mod timers;

use core::ptr::{addr_of, NonNull};

use crate::sync::{loom_const_fn, AtomicTick, UnsafeCell};

/// Number of levels; the wheel spans `64^LEVELS = 2^36` ticks.
const LEVELS: usize = 6;
/// Slots per level, and the base of the digits that pick them.
const SLOTS: usize = 64;
/// `log2(SLOTS)`.
const BITS: u32 = 6;
/// `log2` of the span of the whole wheel, an epoch.
const EPOCH_BITS: u32 = BITS * LEVELS as u32;
/// Index of the overflow list in `Wheel::heads`; slot `s` of level `L` is at `L * SLOTS + s`.
const OVERFLOW: usize = LEVELS * SLOTS;
/// Intrusive link and deadline, embedded in a larger struct. Must not move while inserted.
///
/// Three words on 64-bit targets (24 bytes; 16 on 32-bit ones): no field says which list holds
/// the entry. The first entry of a list keeps that list's index in `prev` instead, as a tag
/// ([`Prev`]), which the entry after it inherits when it is unlinked; so unlinking any entry
/// finds its list head without computing it, and an entry is inserted exactly while `prev` is
/// `Some`.
pub(crate) struct WheelEntry {
    next: UnsafeCell<Option<NonNull<WheelEntry>>>,
    /// The entry before this one, or, for the first of its list, that list's index as a tag
    /// ([`Prev::First`]); `None` while in no wheel.
    prev: UnsafeCell<Option<NonNull<WheelEntry>>>,
    /// The deadline. Written under the wheel's lock (as the entry is made, or
    /// inserted), read without it: the deadline of a token is its node's.
    when: AtomicTick,
}

/// What an inserted entry's `prev` says: entries are at least 4-aligned (they hold a `u64`),
/// so an odd value is no entry's address, and `2 * loc + 1` names list `loc` of
/// `Wheel::heads`. The tag is made from a null pointer, so it carries no provenance and is
/// never followed (strict provenance holds).
enum Prev {
    /// The entry is the first of list `loc`.
    First(usize),
    /// The entry follows this one.
    Entry(NonNull<WheelEntry>),
}

const _: () = assert!(core::mem::align_of::<WheelEntry>() >= 2);

impl Prev {
    /// The `prev` of the first entry of list `loc`.
    fn first(loc: usize) -> NonNull<WheelEntry> {
        // SAFETY: `2 * loc + 1` is not zero.
        unsafe {
            NonNull::new_unchecked(
                core::ptr::null_mut::<WheelEntry>().wrapping_byte_add(2 * loc + 1),
            )
        }
    }

    /// What `prev`, the link of an inserted entry, says.
    fn of(prev: NonNull<WheelEntry>) -> Prev {
        let addr = prev.as_ptr() as usize;
        if addr & 1 != 0 {
            Prev::First(addr >> 1)
        } else {
            Prev::Entry(prev)
        }
    }
}

/// The cell of field `$field` of the entry behind `$entry: NonNull<WheelEntry>`, reached with
/// `addr_of!` so that no reference to the whole entry is created. Use inside `unsafe`.
macro_rules! field {
    ($entry:expr, $field:ident) => {
        addr_of!((*$entry.as_ptr()).$field)
    };
}

/// Reads a cell.
///
/// # Safety
///
/// `cell` points to a live cell that nothing writes concurrently (the wheel's lock is held).
unsafe fn get<T: Copy>(cell: *const UnsafeCell<T>) -> T {
    // SAFETY: the cell is live and not written concurrently (caller).
    unsafe { (*cell).with(|p| *p) }
}

/// Writes a cell.
///
/// # Safety
///
/// `cell` points to a live cell that nothing else accesses concurrently (the wheel's lock is held).
unsafe fn set<T>(cell: *const UnsafeCell<T>, value: T) {
    // SAFETY: the cell is live and this is its only access (caller).
    unsafe { (*cell).with_mut(|p| *p = value) }
}

impl WheelEntry {
    loom_const_fn! {
        /// An entry in no wheel, due at `when` once inserted.
        pub(crate) fn new(when: u64) -> Self {
            Self {
                next: UnsafeCell::new(None),
                prev: UnsafeCell::new(None),
                when: AtomicTick::new(when),
            }
        }
    }

    /// The deadline: the one it was made or last inserted with. Needs no lock.
    #[inline(always)]
    pub(crate) fn when(&self) -> u64 {
        self.when.load()
    }

    /// Sets the deadline of an entry in no wheel, under its wheel's lock.
    #[cfg(feature = "alloc")]
    pub(crate) fn set_when(&self, when: u64) {
        debug_assert!(!self.is_inserted(), "set_when of an inserted entry");
        self.when.store(when);
    }

    /// Whether the entry is in a wheel (from `insert` until `remove` or `pop_expired`).
    ///
    /// The caller holds the lock of the wheel the entry may be in.
    pub(crate) fn is_inserted(&self) -> bool {
        // SAFETY: the caller holds the lock that guards the link.
        unsafe { get(&self.prev).is_some() }
    }
}

/// Hierarchical timing wheel of intrusive [`WheelEntry`]s; see the module docs.
pub(crate) struct Wheel {
    /// The tick the wheel has advanced to; every inserted deadline is `>= elapsed`.
    elapsed: u64,
    /// List heads: `LEVELS * SLOTS` slots, then the overflow list.
    heads: [Option<NonNull<WheelEntry>>; OVERFLOW + 1],
    /// Per level, bit `s` is set iff slot `s` is non-empty.
    occupied: [u64; LEVELS],
    /// Lower bound of the overflow list's deadlines (exact after each walk; removals leave it low).
    overflow_min: u64,
    /// Number of inserted entries.
    len: usize,
}

// SAFETY: the wheel holds pointers to entries, no thread-bound data. `insert`'s contract makes the
// holder of `&mut Wheel` (the lock holder) the only one accessing inserted entries' fields, so
// moving the wheel to another thread moves that exclusive access along with it.
unsafe impl Send for Wheel {}

impl Wheel {
    /// An empty wheel at tick 0.
    pub(crate) const fn new() -> Self {
        Self {
            elapsed: 0,
            heads: [None; OVERFLOW + 1],
            occupied: [0; LEVELS],
            overflow_min: 0,
            len: 0,
        }
    }

    /// The tick the wheel has advanced to.
    ///
    /// While the caller drains `pop_expired(now)` this is the deadline of the entry popped last,
    /// and reaches `now` only when `pop_expired` returns `None`.
    #[cfg(test)]
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Number of inserted entries.
    pub(crate) fn pending(&self) -> usize {
        self.len
    }

    /// Files `entry` to be popped by `pop_expired` once it reaches `when`. O(1).
    ///
    /// Returns `Err(())`, leaving the entry untouched, if `when <= self.elapsed()`: the deadline
    /// has passed and the caller fires the entry itself. `when` must not be `u64::MAX` (never).
    ///
    /// # Safety
    ///
    /// `entry` points to a live `WheelEntry` that is in no wheel. Until it is removed or popped it
    /// must not move or be dropped, and its fields are accessed only while holding this wheel's
    /// lock (the holder of `&mut Wheel`).
    pub(crate) unsafe fn insert(
        &mut self,
        entry: NonNull<WheelEntry>,
        when: u64,
    ) -> Result<(), ()> {
        debug_assert_ne!(when, u64::MAX, "u64::MAX means never and is not inserted");
        if when <= self.elapsed {
            return Err(());
        }
        // SAFETY: `entry` is live, in no list, and accessed only under the lock (caller); `when`
        // is set above `elapsed` before `push` files it.
        unsafe {
            debug_assert!(get(field!(entry, prev)).is_none(), "entry already inserted");
            (*field!(entry, when)).store(when);
            self.push(entry);
        }
        self.len += 1;
        Ok(())
    }

    /// Takes `entry` out of the wheel. O(1).
    ///
    /// # Safety
    ///
    /// `entry` is inserted in this wheel.
    pub(crate) unsafe fn remove(&mut self, entry: NonNull<WheelEntry>) {
        // SAFETY: `entry` is inserted here (caller).
        unsafe {
            debug_assert!(get(field!(entry, prev)).is_some(), "entry not inserted");
            self.unlink(entry);
        }
    }

    /// Advances toward `now` and pops one entry whose deadline is `<= now`: the earliest deadline
    /// inserted (ties in no particular order). Returns `None` when nothing is due, after advancing
    /// `elapsed` to `now` (unless `now` is behind `elapsed`: then nothing changes). Call it in a
    /// loop to drain the due entries; amortised O(1) per entry, and O(1) for an empty span.
    ///
    /// `elapsed` advances to each popped deadline in turn, so after a jump of `now` a popped
    /// deadline may be well before `now` (never after it), and an entry inserted mid-drain with a
    /// deadline in `(elapsed, now]` is accepted and popped by the same drain.
    pub(crate) fn pop_expired(&mut self, now: u64) -> Option<NonNull<WheelEntry>> {
        while let Some((loc, start)) = self.next_event() {
            if start > now {
                break;
            }
            debug_assert!(
                start >= self.elapsed,
                "time went back: {start} < {}",
                self.elapsed
            );
            self.elapsed = start;
            match self.heads[loc] {
                // A level-0 slot is a single tick: its entries are due at exactly `start`.
                Some(entry) if loc < SLOTS => {
                    // SAFETY: `entry` heads one of this wheel's lists, so it is inserted here.
                    unsafe { self.unlink(entry) };
                    return Some(entry);
                }
                _ => self.cascade(loc),
            }
        }
        self.elapsed = self.elapsed.max(now);
        None
    }

    /// The earliest tick at which an entry may be due, or `None` if the wheel is empty.
    ///
    /// A lower bound, like tokio's: for an entry above level 0 it is the start of its slot, for
    /// the overflow list a lower bound of its deadlines. It is `> elapsed()` except while an
    /// entry due at `elapsed()` is still to be popped (a drain that has not reached `None`).
    /// Calling `pop_expired` at that tick may pop nothing, only move entries down.
    pub(crate) fn next_expiration(&self) -> Option<u64> {
        let (loc, start) = self.next_event()?;
        Some(if loc == OVERFLOW {
            self.overflow_min
        } else {
            start
        })
    }

    /// The next list `pop_expired` visits and the tick it does so: the first occupied slot of the
    /// lowest non-empty level (whose entries precede every higher level's), or else the start of
    /// the overflow list's earliest epoch.
    fn next_event(&self) -> Option<(usize, u64)> {
        for (level, &occupied) in self.occupied.iter().enumerate() {
            if occupied != 0 {
                let slot = occupied.trailing_zeros();
                let shift = BITS * level as u32;
                let block = self.elapsed >> (shift + BITS) << (shift + BITS);
                return Some((
                    level * SLOTS + slot as usize,
                    block | (u64::from(slot) << shift),
                ));
            }
        }
        let epoch = self.overflow_min >> EPOCH_BITS << EPOCH_BITS;
        self.heads[OVERFLOW].map(|_| (OVERFLOW, epoch))
    }

    /// The list in which a deadline `when >= elapsed` belongs.
    fn loc_for(&self, when: u64) -> usize {
        // The highest base-64 digit in which `when` and `elapsed` differ (0 if they are equal).
        let level = ((63 - ((self.elapsed ^ when) | 63).leading_zeros()) / BITS) as usize;
        if level >= LEVELS {
            OVERFLOW
        } else {
            level * SLOTS + ((when >> (BITS * level as u32)) & 63) as usize
        }
    }

    /// Links `entry` at the head of the list its deadline belongs in.
    ///
    /// # Safety
    ///
    /// `entry` is live, in no list, accessed only under the lock, and its `when` is `>= elapsed`.
    unsafe fn push(&mut self, entry: NonNull<WheelEntry>) {
        // SAFETY: `entry` is live and ours to access (caller).
        let when = unsafe { (*field!(entry, when)).load() };
        let loc = self.loc_for(when);
        let head = self.heads[loc].replace(entry);
        // SAFETY: `entry` is ours (caller), and so is `head`, an entry inserted in this wheel.
        unsafe {
            if let Some(head) = head {
                set(field!(head, prev), Some(entry));
            }
            set(field!(entry, next), head);
            set(field!(entry, prev), Some(Prev::first(loc)));
        }
        if loc == OVERFLOW {
            self.overflow_min = if head.is_some() {
                self.overflow_min.min(when)
            } else {
                when
            };
        } else {
            self.occupied[loc / SLOTS] |= 1 << (loc % SLOTS);
        }
    }

    /// Unlinks `entry` from its list.
    ///
    /// # Safety
    ///
    /// `entry` is inserted in this wheel.
    unsafe fn unlink(&mut self, entry: NonNull<WheelEntry>) {
        // SAFETY: `entry` and its neighbours are inserted here, hence live and accessed only
        // under the lock, which `&mut self` holds (`insert`'s contract); an inserted entry's
        // `prev` is `Some` (see `WheelEntry`).
        unsafe {
            let (prev, next) = (get(field!(entry, prev)), get(field!(entry, next)));
            let prev = prev.unwrap_unchecked();
            if let Some(next) = next {
                // The first entry's tag, or its predecessor: `next` takes its place.
                set(field!(next, prev), Some(prev));
            }
            set(field!(entry, prev), None);
            match Prev::of(prev) {
                Prev::Entry(prev) => set(field!(prev, next), next),
                Prev::First(loc) => {
                    self.heads[loc] = next;
                    if next.is_none() && loc != OVERFLOW {
                        self.occupied[loc / SLOTS] &= !(1 << (loc % SLOTS));
                    }
                }
            }
        }
        self.len -= 1;
    }

    /// Re-files every entry of list `loc` against `elapsed`, which has just reached the start of
    /// that slot (or of the overflow list's earliest epoch).
    fn cascade(&mut self, loc: usize) {
        let mut cursor = self.heads[loc].take();
        if loc != OVERFLOW {
            self.occupied[loc / SLOTS] &= !(1 << (loc % SLOTS));
        }
        while let Some(entry) = cursor {
            // SAFETY: `entry` was inserted in this wheel, so it is live and ours under the lock;
            // its list is detached, and its deadline is `>= elapsed`, the start of its slot/epoch.
            unsafe {
                cursor = get(field!(entry, next));
                self.push(entry);
            }
        }
    }
}

#[cfg(all(test, not(cancel_token_loom)))]
mod tests;
