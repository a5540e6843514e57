//! The intrusive link every list member embeds: child nodes, waiters, callbacks.
//!
//! A node's list holds all three kinds, so a node needs one head pointer. Links
//! are touched only under the owning node's lock; `status` is also read without
//! it (see [`Status`] for who may do so).

use core::ptr::NonNull;

use crate::sync::{loom_const_fn, AtomicU8, Ordering, Ordering::Relaxed, UnsafeCell};

/// What an entry is embedded in; fixed at construction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// `Node::entry` of a child node.
    Child,
    /// `Waiter::entry` of a waiting future.
    Waiter,
    /// `CallbackHeader::entry` of a registered callback.
    Callback,
}

/// Where an entry is in its life. Changes only under the owning node's lock;
/// some statuses are also read without it (see each for who may, and with
/// which ordering).
///
/// The legal paths, per [`Kind`] (every other change is a bug):
///
/// - `Child`: `Idle → Queued → (Idle | Notified)`. `Idle` again when its owner
///   unlinks it; `Notified` when a canceller takes it, for good.
/// - `Waiter`: `Idle → Queued → (Idle | Notified → Done)`. `Notified → Done`
///   happens in one step of the canceller under the lock (`waiter::notify`),
///   so no one that takes the lock sees `Notified`.
/// - `Callback`: `Idle → Queued → (Idle | Running → Done)`. `Running → Done`
///   happens after the function returns, under the lock again, unless the
///   owner flagged the callback destroyed meanwhile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Status {
    /// Not in any list, and never taken by a canceller. It is LOAD BEARING
    /// that this is zero: `Entry::new` builds idle entries in const context,
    /// and a `StaticSource` is all zeros, in `.bss`.
    Idle = 0,
    /// In its node's list.
    Queued = 1,
    /// Taken out of the list by a canceller: a waiter was woken (its future
    /// may read this without the lock, with Acquire, to complete), or a child
    /// was moved to a canceller's work list (its `next` link belongs to the
    /// canceller). Stored with Release, after `CANCELLED` was set.
    Notified = 2,
    /// A callback taken out of the list whose function a canceller is running.
    Running = 3,
    /// A callback whose function has returned, or a waiter whose waker a
    /// canceller has taken; stored with Release, so an owner that sees it with
    /// Acquire sees everything the callback (or canceller) did with the entry.
    Done = 4,
}

/// An entry's [`Status`], as one atomic byte.
pub(crate) struct AtomicStatus(AtomicU8);

impl core::fmt::Debug for AtomicStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Relaxed: a snapshot for printing; nothing is read through it.
        self.load(Relaxed).fmt(f)
    }
}

impl AtomicStatus {
    loom_const_fn! {
        /// `Idle`.
        pub(crate) fn new() -> AtomicStatus {
            AtomicStatus(AtomicU8::new(Status::Idle as u8))
        }
    }

    /// The status, read with `order`.
    #[inline(always)]
    pub(crate) fn load(&self, order: Ordering) -> Status {
        let byte = self.0.load(order);
        debug_assert!(byte <= Status::Done as u8, "status byte {byte}");
        // SAFETY: only `new` and `store` write the byte, always a `Status`'s.
        unsafe { core::mem::transmute::<u8, Status>(byte) }
    }

    /// Sets the status with `order`.
    #[inline(always)]
    pub(crate) fn store(&self, status: Status, order: Ordering) {
        self.0.store(status as u8, order);
    }
}

/// A doubly linked list member.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Entry {
    pub(crate) next: UnsafeCell<Option<NonNull<Entry>>>,
    pub(crate) prev: UnsafeCell<Option<NonNull<Entry>>>,
    /// Where the entry is in its life.
    pub(crate) status: AtomicStatus,
    /// What this entry is embedded in.
    pub(crate) kind: Kind,
    /// For a node's own entry: how the node's memory is owned (`node::class`).
    pub(crate) class: u8,
    /// For a timed node's own entry: 1 once a child took its deadline as the
    /// child's own (`time::deadline::cover`), after which the deadline may
    /// not move later. Written and read under the node's lock; an atomic
    /// only to need no cell. In the entry's padding, so it costs no byte.
    pub(crate) covers: AtomicU8,
    /// For a timed node's own entry on 64-bit targets: the generation of
    /// the node's timers, if they are shared and not its clock root's
    /// (`kind::TimedNode`, which keeps it itself on 32-bit targets); fixed
    /// as the node is made. In the rest of the entry's padding: an entry
    /// stays 24 bytes.
    #[cfg(all(feature = "alloc", target_pointer_width = "64"))]
    pub(crate) generation: u32,
}

impl Entry {
    loom_const_fn! {
        pub(crate) fn new(kind: Kind, class: u8) -> Entry {
            Entry {
                next: UnsafeCell::new(None),
                prev: UnsafeCell::new(None),
                status: AtomicStatus::new(),
                kind,
                class,
                covers: AtomicU8::new(0),
                #[cfg(all(feature = "alloc", target_pointer_width = "64"))]
                generation: 0,
            }
        }
    }

    /// The status. Relaxed is enough for callers that hold the node's lock (every
    /// change is made under it); others use their own ordering.
    pub(crate) fn status_locked(&self) -> Status {
        self.status.load(Relaxed)
    }
}

/// The head of a node's list. Every method requires the node's lock.
#[derive(Debug)]
pub(crate) struct List {
    head: UnsafeCell<Option<NonNull<Entry>>>,
}

impl List {
    loom_const_fn! {
        pub(crate) fn new() -> List {
            List { head: UnsafeCell::new(None) }
        }
    }

    /// Whether the list is empty. The caller holds the owning node's lock.
    pub(crate) fn is_empty_locked(&self) -> bool {
        self.head.with(|h| {
            // SAFETY: the caller holds the owning node's lock.
            unsafe { (*h).is_none() }
        })
    }

    /// Whether the list holds only waiters, at most `room` of them. The caller
    /// holds the owning node's lock.
    pub(crate) fn only_waiters_within(&self, mut room: usize) -> bool {
        // SAFETY: the caller holds the lock; linked entries are valid until unlinked.
        let mut next = self.head.with(|h| unsafe { *h });
        while let Some(e) = next {
            // SAFETY: `e` is in the list, so valid until unlinked under the lock.
            let entry = unsafe { e.as_ref() };
            if entry.kind != Kind::Waiter || room == 0 {
                return false;
            }
            room -= 1;
            // SAFETY: links change only under the lock, which the caller holds.
            next = entry.next.with(|n| unsafe { *n });
        }
        true
    }

    /// Links `entry` at the front and marks it `Queued`.
    ///
    /// # Safety
    /// The caller holds the owning node's lock, and `entry` is valid, idle and
    /// pinned until it is unlinked.
    pub(crate) unsafe fn push_front(&self, entry: NonNull<Entry>) {
        // SAFETY: the caller holds the lock, so no one else touches the links.
        unsafe {
            let old = self.head.with_mut(|h| (*h).replace(entry));
            let e = entry.as_ref();
            e.next.with_mut(|n| *n = old);
            e.prev.with_mut(|p| *p = None);
            if let Some(old) = old {
                old.as_ref().prev.with_mut(|p| *p = Some(entry));
            }
            debug_assert_eq!(e.status_locked(), Status::Idle, "linked twice");
            e.status.store(Status::Queued, Relaxed); // Relaxed: under the lock
        }
    }

    /// Removes the first entry, leaving its status for the caller to set.
    ///
    /// # Safety
    /// The caller holds the owning node's lock.
    pub(crate) unsafe fn pop_front(&self) -> Option<NonNull<Entry>> {
        // SAFETY: under the lock; linked entries are valid until unlinked.
        unsafe {
            let first = self.head.with(|h| *h)?;
            self.unlink(first);
            Some(first)
        }
    }

    /// Removes `entry` from the list, leaving its status for the caller to set.
    ///
    /// # Safety
    /// The caller holds the owning node's lock and `entry` is `Queued` in this list.
    pub(crate) unsafe fn unlink(&self, entry: NonNull<Entry>) {
        // SAFETY: under the lock; `entry` and its neighbours are linked, so valid.
        unsafe {
            let e = entry.as_ref();
            let next = e.next.with_mut(|n| (*n).take());
            let prev = e.prev.with_mut(|p| (*p).take());
            match prev {
                Some(prev) => prev.as_ref().next.with_mut(|n| *n = next),
                None => self.head.with_mut(|h| *h = next),
            }
            if let Some(next) = next {
                next.as_ref().prev.with_mut(|p| *p = prev);
            }
        }
    }
}
