//! A small lock around data, of the same kind as a node's lock: a spin lock
//! with `std`, a critical section otherwise (safe against interrupt handlers).

use crate::sync::UnsafeCell;
#[cfg(any(feature = "std", cancel_token_loom))]
use crate::sync::{AtomicU8, Ordering::*};

pub(crate) struct Lock<T> {
    #[cfg(any(feature = "std", cancel_token_loom))]
    locked: AtomicU8,
    data: UnsafeCell<T>,
}

// SAFETY: the data is only reached under the lock.
unsafe impl<T: Send> Sync for Lock<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Lock<T> {}

impl<T> Lock<T> {
    #[cfg(not(cancel_token_loom))]
    pub(crate) const fn new(data: T) -> Self {
        Lock {
            #[cfg(feature = "std")]
            locked: AtomicU8::new(0),
            data: UnsafeCell::new(data),
        }
    }

    #[cfg(cancel_token_loom)]
    pub(crate) fn new(data: T) -> Self {
        Lock {
            locked: AtomicU8::new(0),
            data: UnsafeCell::new(data),
        }
    }

    /// Runs `f` with the data, under the lock. `f` must not call back into code
    /// that takes this lock.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        #[cfg(any(feature = "std", cancel_token_loom))]
        {
            let mut spins = 0;
            // Acquire: pairs with the Release store below. Relaxed on failure:
            // a failed attempt reads nothing the lock guards; only the attempt
            // that takes it must see the last holder's writes.
            while self
                .locked
                .compare_exchange_weak(0, 1, Acquire, Relaxed)
                .is_err()
            {
                crate::sync::relax(&mut spins);
            }
            struct Unlock<'a>(&'a AtomicU8);
            impl Drop for Unlock<'_> {
                fn drop(&mut self) {
                    // Release: what `f` did happens-before the next holder.
                    self.0.store(0, Release);
                }
            }
            let _unlock = Unlock(&self.locked);
            // SAFETY: we hold the lock.
            self.data.with_mut(|d| f(unsafe { &mut *d }))
        }
        #[cfg(not(any(feature = "std", cancel_token_loom)))]
        critical_section::with(|_| {
            // SAFETY: the critical section excludes every other holder.
            self.data.with_mut(|d| f(unsafe { &mut *d }))
        })
    }
}
