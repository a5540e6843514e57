//! `SharedTimers`: a driver's `Timers` on the heap, owned by the driver's
//! handles and held by its armed deadlines.

use core::fmt;
use core::ptr::NonNull;

use super::Timers;
use crate::sync::Ordering::*;

/// A generation for new shared timers: unique short of wrapping, after
/// 2^32 shared timers (a `Deadline` of timers gone is told from later ones at
/// the same address unless that many were made between).
pub(super) fn next_generation() -> u32 {
    // Not a modelled atomic under loom: only uniqueness matters.
    #[cfg(not(cancel_token_loom))]
    use crate::sync::AtomicUsize as Counter;
    #[cfg(cancel_token_loom)]
    use core::sync::atomic::AtomicUsize as Counter;
    static NEXT: Counter = Counter::new(1);
    // Relaxed: only uniqueness matters.
    NEXT.fetch_add(1, Relaxed) as u32
}

/// Shared ownership of a driver's [`Timers`] (made by [`Timers::new_shared`]),
/// for drivers created and dropped at run time. Clones share the timers.
///
/// Each armed deadline also holds the timers, counted under their lock as it
/// is armed and disarmed (no atomic operation of its own): they are freed
/// once the last `SharedTimers` is gone and no deadline holds them. So
/// dropping a driver while tokens hold deadlines is safe; whether those
/// deadlines still fire is up to whoever still calls
/// [`advance_to`](Timers::advance_to) (the runtime drivers' sleepers do, while a
/// deadline is armed).
///
/// ```
/// use cancel_token::{Timers, TimersHandle};
///
/// // A driver keeps one, and hands deadlines `TimersHandle::from_shared`.
/// let timers = Timers::new_shared();
/// let task = timers.clone(); // e.g. for the task that calls `advance_to`
/// drop(timers);
/// assert_eq!(task.advance_to(5), None); // nothing armed
/// assert_eq!(TimersHandle::from_shared(&task).get().now(), 5);
/// ```
pub struct SharedTimers {
    pub(super) ptr: NonNull<Timers>,
}

// SAFETY: `Timers` is `Sync`; ownership is counted atomically.
unsafe impl Send for SharedTimers {}
// SAFETY: as above.
unsafe impl Sync for SharedTimers {}

impl core::ops::Deref for SharedTimers {
    type Target = Timers;

    fn deref(&self) -> &Timers {
        // SAFETY: we own the timers.
        unsafe { self.ptr.as_ref() }
    }
}

impl Clone for SharedTimers {
    fn clone(&self) -> Self {
        // Relaxed: a new owner is made from an existing one, as `Arc::clone`.
        self.owners.fetch_add(1, Relaxed);
        SharedTimers { ptr: self.ptr }
    }
}

impl Drop for SharedTimers {
    fn drop(&mut self) {
        // Release: our uses of the timers happen-before whoever frees them.
        if self.owners.fetch_sub(1, Release) != 1 {
            return;
        }
        // Acquire: pairs with the other owners' Release decrements (one
        // release sequence); a load rather than a fence, as in `drop_ref`.
        self.owners.load(Acquire);
        let free = self.with_state(|s| {
            s.orphaned = true;
            s.holders == 0
        });
        if free {
            // SAFETY: the last owner, and no deadline holds them.
            unsafe { free_shared(self.ptr) };
        }
    }
}

impl fmt::Debug for SharedTimers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

#[cfg(cancel_token_loom)]
std::thread_local! {
    /// Shared timers marked freed (see `__private::timers_freed`).
    pub(crate) static FREED: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

/// Frees shared timers (under loom, marks them freed).
///
/// # Safety
/// Shared timers that no owner or deadline holds any more.
pub(super) unsafe fn free_shared(timers: NonNull<Timers>) {
    #[cfg(cancel_token_loom)]
    {
        // SAFETY: not freed yet (asserted), so alive.
        let t = unsafe { timers.as_ref() };
        assert!(!t.freed.swap(true, SeqCst), "timers freed twice");
        FREED.with(|n| n.set(n.get() + 1));
    }
    #[cfg(not(cancel_token_loom))]
    // SAFETY: made by `Box::new` in `new_shared`; ours alone now.
    drop(unsafe { alloc::boxed::Box::from_raw(timers.as_ptr()) });
}
