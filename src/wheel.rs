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

use core::ptr::{addr_of, NonNull};

use crate::sync::{loom_const_fn, UnsafeCell};

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
/// `WheelEntry::loc` of an entry that is in no list.
const NOT_INSERTED: u16 = u16::MAX;

/// Intrusive link and deadline, embedded in a larger struct. Must not move while inserted.
pub(crate) struct WheelEntry {
    next: UnsafeCell<Option<NonNull<WheelEntry>>>,
    prev: UnsafeCell<Option<NonNull<WheelEntry>>>,
    when: UnsafeCell<u64>,
    /// Index in `Wheel::heads` of the list holding the entry, or `NOT_INSERTED`.
    loc: UnsafeCell<u16>,
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
        /// An entry in no wheel.
        pub(crate) fn new() -> Self {
            Self {
                next: UnsafeCell::new(None),
                prev: UnsafeCell::new(None),
                when: UnsafeCell::new(0),
                loc: UnsafeCell::new(NOT_INSERTED),
            }
        }
    }

    /// The deadline: valid while inserted, otherwise the last one inserted with (0 if never).
    ///
    /// The caller holds the lock of the wheel the entry may be in.
    #[cfg(test)]
    pub(crate) fn when(&self) -> u64 {
        // SAFETY: the wheel writes the cell only under its lock, which the caller holds; and
        // `WheelEntry` is `!Sync`, so the embedding node's `Sync` impl must uphold that.
        unsafe { get(&self.when) }
    }

    /// Whether the entry is in a wheel (from `insert` until `remove` or `pop_expired`).
    ///
    /// The caller holds the lock of the wheel the entry may be in.
    pub(crate) fn is_inserted(&self) -> bool {
        // SAFETY: as in `when`.
        unsafe { get(&self.loc) != NOT_INSERTED }
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
            debug_assert_eq!(
                get(field!(entry, loc)),
                NOT_INSERTED,
                "entry already inserted"
            );
            set(field!(entry, when), when);
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
            debug_assert_ne!(get(field!(entry, loc)), NOT_INSERTED, "entry not inserted");
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
        let when = unsafe { get(field!(entry, when)) };
        let loc = self.loc_for(when);
        let head = self.heads[loc].replace(entry);
        // SAFETY: `entry` is ours (caller), and so is `head`, an entry inserted in this wheel.
        unsafe {
            if let Some(head) = head {
                set(field!(head, prev), Some(entry));
            }
            set(field!(entry, next), head);
            set(field!(entry, prev), None);
            set(field!(entry, loc), loc as u16);
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
        // under the lock, which `&mut self` holds (`insert`'s contract).
        let loc = unsafe {
            let (prev, next) = (get(field!(entry, prev)), get(field!(entry, next)));
            let loc = usize::from(get(field!(entry, loc)));
            match prev {
                Some(prev) => set(field!(prev, next), next),
                None => self.heads[loc] = next,
            }
            if let Some(next) = next {
                set(field!(next, prev), prev);
            }
            set(field!(entry, loc), NOT_INSERTED);
            loc
        };
        if loc != OVERFLOW && self.heads[loc].is_none() {
            self.occupied[loc / SLOTS] &= !(1 << (loc % SLOTS));
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
mod tests {
    use super::*;
    use std::{boxed::Box, vec::Vec};

    const MAX: u64 = u64::MAX - 1;

    // Both constructors are usable in statics.
    const _: Wheel = Wheel::new();
    const _: WheelEntry = WheelEntry::new();

    /// A wheel and entries that never move.
    struct Bench {
        wheel: Wheel,
        entries: Box<[WheelEntry]>,
    }

    impl Bench {
        fn new(n: usize) -> Self {
            let entries = (0..n).map(|_| WheelEntry::new()).collect();
            Self {
                wheel: Wheel::new(),
                entries,
            }
        }

        fn ptr(&self, i: usize) -> NonNull<WheelEntry> {
            NonNull::from(&self.entries[i])
        }

        fn insert(&mut self, i: usize, when: u64) -> Result<(), ()> {
            let entry = self.ptr(i);
            // SAFETY: the boxed entries never move and outlive their use; the test is the lock.
            unsafe { self.wheel.insert(entry, when) }
        }

        fn remove(&mut self, i: usize) {
            let entry = self.ptr(i);
            // SAFETY: callers only remove inserted entries.
            unsafe { self.wheel.remove(entry) }
        }

        /// Pops one entry: its index and deadline.
        fn pop(&mut self, now: u64) -> Option<(usize, u64)> {
            let popped = self.wheel.pop_expired(now)?;
            let i = self
                .entries
                .iter()
                .position(|e| core::ptr::eq(e, popped.as_ptr()))
                .unwrap();
            assert!(!self.entries[i].is_inserted());
            Some((i, self.entries[i].when()))
        }

        /// Pops until `None`, checking each deadline is due and no earlier than the previous one.
        fn drain(&mut self, now: u64) -> Vec<(usize, u64)> {
            let mut out: Vec<(usize, u64)> = Vec::new();
            while let Some((i, when)) = self.pop(now) {
                assert!(when <= now, "popped {when} before it was due (now {now})");
                assert!(out.last().map_or(true, |&(_, last)| last <= when));
                out.push((i, when));
            }
            assert_eq!(
                self.wheel.elapsed(),
                now.max(out.last().map_or(0, |&(_, w)| w))
            );
            out
        }

        /// Advances the empty wheel to `now`.
        fn advance(&mut self, now: u64) {
            assert!(self.drain(now).is_empty());
        }
    }

    /// Deadlines at the edges of every level, of the wheel's span and of `u64`.
    const DELTAS: [u64; 20] = [
        1,
        2,
        63,
        64,
        65,
        4095,
        4096,
        4097,
        (1 << 18) + 3,
        (1 << 24) - 1,
        (1 << 30) + 7,
        12_345_678_901,
        (1 << 36) - 1,
        1 << 36,
        (1 << 36) + 1,
        (1 << 37) + 5,
        1 << 40,
        1 << 50,
        1 << 62,
        u64::MAX,
    ];

    /// Wheel positions to start from: epoch edges and the top of the range.
    const BASES: [u64; 5] = [0, 1000, (1 << 36) - 3, (5 << 36) - 70, MAX - (1 << 41)];

    fn deadline(base: u64, delta: u64) -> u64 {
        base.saturating_add(delta).min(MAX)
    }

    #[test]
    fn fires_exactly_at_its_tick_and_never_before() {
        for base in BASES {
            for delta in DELTAS {
                let when = deadline(base, delta);
                let mut b = Bench::new(1);
                b.advance(base);
                b.insert(0, when).unwrap();
                for now in [base, base + (when - base) / 2, when - 1] {
                    assert_eq!(b.pop(now), None, "base {base} when {when} now {now}");
                    assert_eq!(b.wheel.elapsed(), now);
                    let next = b.wheel.next_expiration().unwrap();
                    assert!(
                        now < next && next <= when,
                        "next {next} now {now} when {when}"
                    );
                }
                assert_eq!(b.pop(when), Some((0, when)));
                assert_eq!(b.pop(when), None);
                assert_eq!((b.wheel.pending(), b.wheel.next_expiration()), (0, None));
            }
        }
    }

    #[test]
    fn pops_in_deadline_order_across_levels() {
        for base in BASES {
            let mut b = Bench::new(DELTAS.len());
            b.advance(base);
            // Insert out of order: odd indices first, then even ones.
            let order = (0..DELTAS.len())
                .filter(|i| i % 2 == 1)
                .chain((0..DELTAS.len()).step_by(2));
            for i in order {
                b.insert(i, deadline(base, DELTAS[i])).unwrap();
            }
            assert_eq!(b.wheel.pending(), DELTAS.len());
            let popped = b.drain(MAX);
            // Deltas are increasing, so index order is deadline order (ties only at `MAX`).
            let indices: Vec<usize> = popped.iter().map(|&(i, _)| i).collect();
            let mut sorted = indices.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..DELTAS.len()).collect::<Vec<_>>());
            let whens: Vec<u64> = popped.iter().map(|&(_, w)| w).collect();
            let expected: Vec<u64> = DELTAS.iter().map(|&d| deadline(base, d)).collect();
            assert_eq!(whens, expected);
            assert_eq!(b.wheel.pending(), 0);
        }
    }

    #[test]
    fn removes_from_every_level_and_list_position() {
        // Three entries sharing one list in each level and in the overflow list.
        let lists: Vec<[u64; 3]> = (0..LEVELS as u32)
            .map(|l| {
                let at = 5u64 << (BITS * l);
                if l == 0 {
                    [at; 3]
                } else {
                    [at, at + 1, at + 2]
                }
            })
            .chain([[1 << 40, (1 << 40) + 9, u64::MAX - 1]])
            .collect();
        for gone in 0..3 {
            let mut b = Bench::new(3 * lists.len());
            for (l, whens) in lists.iter().enumerate() {
                for (k, &when) in whens.iter().enumerate() {
                    b.insert(3 * l + k, when).unwrap();
                }
            }
            for l in 0..lists.len() {
                b.remove(3 * l + gone);
                assert!(!b.entries[3 * l + gone].is_inserted());
            }
            assert_eq!(b.wheel.pending(), 2 * lists.len());
            let popped = b.drain(MAX);
            assert_eq!(popped.len(), 2 * lists.len());
            assert!(popped
                .iter()
                .all(|&(i, when)| i % 3 != gone && lists[i / 3][i % 3] == when));
        }
    }

    #[test]
    fn remove_then_reinsert() {
        let mut b = Bench::new(2);
        b.insert(0, 1000).unwrap();
        b.insert(1, 1 << 40).unwrap();
        b.remove(0);
        b.remove(1);
        assert_eq!((b.wheel.pending(), b.wheel.next_expiration()), (0, None));
        b.insert(0, 10).unwrap();
        assert_eq!(b.pop(9), None);
        assert_eq!(b.pop(10), Some((0, 10)));
        b.insert(0, 1 << 40).unwrap();
        b.remove(0);
        b.insert(0, 20).unwrap();
        b.insert(1, 1 << 37).unwrap();
        b.remove(1);
        b.insert(1, 1000).unwrap();
        assert_eq!(b.drain(1 << 41), [(0, 20), (1, 1000)]);
    }

    #[test]
    fn refuses_deadlines_already_reached() {
        let mut b = Bench::new(1);
        assert_eq!(b.insert(0, 0), Err(()));
        b.advance(100);
        assert_eq!(b.insert(0, 100), Err(()));
        assert_eq!(b.insert(0, 3), Err(()));
        assert!(!b.entries[0].is_inserted());
        assert_eq!(b.wheel.pending(), 0);
        b.insert(0, 101).unwrap();
        assert!(b.entries[0].is_inserted());
        assert_eq!(b.entries[0].when(), 101);
    }

    #[test]
    fn large_jumps_and_stale_now() {
        let mut b = Bench::new(4);
        for (i, when) in [5, (1 << 35) + 3, (1 << 36) + 1, 1 << 50]
            .into_iter()
            .enumerate()
        {
            b.insert(i, when).unwrap();
        }
        assert_eq!(b.drain(1 << 36), [(0, 5), (1, (1 << 35) + 3)]);
        // `now` behind `elapsed` changes nothing.
        assert_eq!(b.pop(7), None);
        assert_eq!(b.wheel.elapsed(), 1 << 36);
        assert_eq!(b.drain(1 << 60), [(2, (1 << 36) + 1), (3, 1 << 50)]);
        assert_eq!(b.wheel.next_expiration(), None);
    }

    #[test]
    fn deadline_near_u64_max() {
        for base in [0, 1 << 40, MAX - 5] {
            let mut b = Bench::new(1);
            b.advance(base);
            b.insert(0, MAX).unwrap();
            for now in [
                base + 1,
                1 << 36,
                1 << 63,
                MAX - (1 << 36),
                MAX - 64,
                MAX - 1,
            ] {
                if now > base {
                    assert_eq!(b.pop(now), None);
                    let next = b.wheel.next_expiration().unwrap();
                    assert!(now < next && next <= MAX);
                }
            }
            assert_eq!(b.pop(u64::MAX), Some((0, MAX)));
            assert_eq!(b.pop(u64::MAX), None);
            assert_eq!(b.wheel.elapsed(), u64::MAX);
        }
    }

    #[test]
    fn next_expiration_is_a_slot_start_bound() {
        let mut b = Bench::new(2);
        assert_eq!(b.wheel.next_expiration(), None);
        b.insert(0, 5000).unwrap();
        b.insert(1, 5000 + (1 << 36)).unwrap();
        // Level 1, slot 1: starts at 4096.
        assert_eq!(b.wheel.next_expiration(), Some(4096));
        assert_eq!(b.pop(4096), None);
        assert_eq!(b.wheel.next_expiration(), Some(4992));
        assert_eq!(b.pop(4992), None);
        assert_eq!(b.wheel.next_expiration(), Some(5000));
        assert_eq!(b.pop(5000), Some((0, 5000)));
        // Only the overflow list is left: its exact minimum.
        assert_eq!(b.wheel.next_expiration(), Some(5000 + (1 << 36)));
    }

    #[test]
    fn sizes() {
        let (wheel, entry) = (
            core::mem::size_of::<Wheel>(),
            core::mem::size_of::<WheelEntry>(),
        );
        std::println!("size_of::<Wheel>() = {wheel}, size_of::<WheelEntry>() = {entry}");
        // The list heads and the count, then `occupied`, `elapsed` and `overflow_min`.
        let words = (OVERFLOW + 2) * core::mem::size_of::<usize>();
        assert_eq!(wheel, (words + (LEVELS + 2) * 8).next_multiple_of(8));
    }

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// A span of a random scale: within a slot, a level, the wheel, or beyond it.
        fn span(&mut self) -> u64 {
            let bits = [1, 6, 12, 20, 30, 37, 44][(self.next() % 7) as usize];
            self.next() & ((1 << bits) - 1)
        }
    }

    /// Random inserts, removals and advances (also between the pops of a drain), checked against
    /// a sorted list of `(deadline, index)`.
    fn randomized(seed: u64, base: u64) {
        let ops = if cfg!(miri) { 1500 } else { 30_000 };
        let mut rng = XorShift(seed);
        let mut b = Bench::new(48);
        let mut model: Vec<(u64, usize)> = Vec::new();
        b.advance(base);
        let (mut fired, mut refused) = (0, 0);
        for _ in 0..ops {
            let i = (rng.next() % 48) as usize;
            let elapsed = b.wheel.elapsed();
            match rng.next() % 8 {
                0..=3 if !b.entries[i].is_inserted() => {
                    let when = match rng.next() % 50 {
                        0 => MAX - rng.span(),
                        1..=5 => elapsed.saturating_sub(rng.span()),
                        _ => deadline(elapsed, rng.span()),
                    };
                    if when <= elapsed {
                        assert_eq!(b.insert(i, when), Err(()));
                        refused += 1;
                    } else {
                        b.insert(i, when).unwrap();
                        let at = model.partition_point(|&entry| entry < (when, i));
                        model.insert(at, (when, i));
                    }
                }
                0..=4 if b.entries[i].is_inserted() => {
                    b.remove(i);
                    model.retain(|&(_, j)| j != i);
                }
                5 if rng.next() % 8 == 0 => {
                    // A stale `now` changes nothing.
                    assert_eq!(b.pop(elapsed.saturating_sub(1 + rng.span())), None);
                    assert_eq!(b.wheel.elapsed(), elapsed);
                }
                _ => {
                    let now = deadline(elapsed, rng.span());
                    while let Some((j, when)) = b.pop(now) {
                        // The earliest deadline pops first (ties in any order), never early.
                        assert!(when <= now && model[0].0 == when);
                        let at = model.iter().position(|&entry| entry == (when, j)).unwrap();
                        model.remove(at);
                        fired += 1;
                        if rng.next() % 4 == 0 {
                            let k = (rng.next() % 48) as usize;
                            let when = deadline(b.wheel.elapsed(), 1 + rng.span());
                            if b.entries[k].is_inserted() {
                                b.remove(k);
                                model.retain(|&(_, x)| x != k);
                            } else if when > b.wheel.elapsed() {
                                b.insert(k, when).unwrap();
                                let at = model.partition_point(|&entry| entry < (when, k));
                                model.insert(at, (when, k));
                            }
                        }
                    }
                    assert_eq!(b.wheel.elapsed(), now);
                    assert!(model.first().map_or(true, |&(when, _)| when > now));
                }
            }
            assert_eq!(b.wheel.pending(), model.len());
            let next = b.wheel.next_expiration();
            match model.first() {
                None => assert_eq!(next, None),
                Some(&(first, _)) => {
                    let next = next.unwrap();
                    assert!(
                        b.wheel.elapsed() < next && next <= first,
                        "{next} vs {first}"
                    );
                }
            }
        }
        std::println!("seed {seed:#x}: {ops} ops, {fired} fired, {refused} refused");
        assert!(fired > ops / 20);
    }

    #[test]
    fn randomized_against_sorted_model() {
        randomized(0x9E37_79B9_7F4A_7C15, 0);
        randomized(0xD1B5_4A32_D192_ED03, (1 << 36) - 500);
        randomized(0x2545_F491_4F6C_DD1D, MAX - (1 << 56));
    }
}
