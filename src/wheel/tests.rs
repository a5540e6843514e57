//! Tests of the timer wheel against a sorted model.

use super::*;
use std::{boxed::Box, vec::Vec};

const MAX: u64 = u64::MAX - 1;

// Both constructors are usable in statics.
const _: Wheel = Wheel::new();
const _: WheelEntry = WheelEntry::new(0);

/// A wheel and entries that never move.
struct Bench {
    wheel: Wheel,
    entries: Box<[WheelEntry]>,
}

impl Bench {
    fn new(n: usize) -> Self {
        let entries = (0..n).map(|_| WheelEntry::new(0)).collect();
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
    // Two links and the tick: no field says which list holds the entry.
    assert_eq!(entry, 2 * core::mem::size_of::<usize>() + 8);
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
