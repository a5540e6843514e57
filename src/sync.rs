//! The one place that imports atomics, `UnsafeCell` and spin hints.
//!
//! Under `--cfg cancel_token_loom` every primitive comes from loom so its models
//! explore the interleavings; otherwise from `core` (or `portable-atomic` when
//! that feature is on). The `UnsafeCell` here mirrors loom's `with`/`with_mut`
//! API so the same code compiles against both.

#[cfg(cancel_token_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize};

#[cfg(all(not(cancel_token_loom), feature = "portable-atomic"))]
pub(crate) use portable_atomic::{AtomicPtr, AtomicU8, AtomicUsize};

#[cfg(all(not(cancel_token_loom), not(feature = "portable-atomic")))]
pub(crate) use core::sync::atomic::{AtomicPtr, AtomicU8, AtomicUsize};

/// For the `std` drivers' sleepers, whose targets all have 64-bit atomics.
#[cfg(all(not(cancel_token_loom), feature = "std", feature = "portable-atomic"))]
pub(crate) use portable_atomic::{AtomicBool, AtomicU64};

/// For the `std` drivers' sleepers, whose targets all have 64-bit atomics.
#[cfg(all(
    not(cancel_token_loom),
    feature = "std",
    not(feature = "portable-atomic")
))]
pub(crate) use core::sync::atomic::{AtomicBool, AtomicU64};

pub(crate) use core::sync::atomic::Ordering;

#[cfg(cancel_token_loom)]
pub(crate) use loom::cell::UnsafeCell;

/// `core::cell::UnsafeCell` with loom's closure-based access API.
#[cfg(not(cancel_token_loom))]
#[derive(Debug)]
#[repr(transparent)]
pub(crate) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

#[cfg(not(cancel_token_loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(core::cell::UnsafeCell::new(value))
    }

    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Declares a `const fn` outside loom and a plain `fn` under it (loom's
/// primitives cannot be built in const context).
macro_rules! loom_const_fn {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident: $t:ty),*) -> $ret:ty $body:block) => {
        $(#[$m])*
        #[cfg(not(cancel_token_loom))]
        $vis const fn $name($($arg: $t),*) -> $ret $body

        $(#[$m])*
        #[cfg(cancel_token_loom)]
        $vis fn $name($($arg: $t),*) -> $ret $body
    };
}
pub(crate) use loom_const_fn;

/// Spins politely while another thread holds a short lock or finishes a callback.
///
/// Under loom this yields so the model can schedule the other thread; with `std`
/// it yields the time slice after a short burst of spin hints.
#[inline]
pub(crate) fn relax(spins: &mut u32) {
    #[cfg(cancel_token_loom)]
    {
        let _ = spins;
        loom::thread::yield_now();
    }
    #[cfg(not(cancel_token_loom))]
    {
        if *spins < 64 {
            *spins += 1;
            for _ in 0..(1u32 << (*spins).min(6)) {
                core::hint::spin_loop();
            }
        } else {
            #[cfg(feature = "std")]
            std::thread::yield_now();
            #[cfg(not(feature = "std"))]
            core::hint::spin_loop();
        }
    }
}

/// The single-waiter slot of a waiting future.
///
/// `atomic-waker` outside loom: re-polling a waiting future replaces its waker
/// without taking the node's lock. Under loom, a loom mutex with the same API,
/// so the models see every access.
#[cfg(not(cancel_token_loom))]
pub(crate) use atomic_waker::AtomicWaker as WakerSlot;

#[cfg(cancel_token_loom)]
#[derive(Debug, Default)]
pub(crate) struct WakerSlot(loom::sync::Mutex<Option<core::task::Waker>>);

#[cfg(cancel_token_loom)]
impl WakerSlot {
    pub(crate) fn new() -> Self {
        Self::default()
    }
    pub(crate) fn register(&self, waker: &core::task::Waker) {
        let mut slot = self.0.lock().unwrap();
        match &*slot {
            Some(w) if w.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }
    pub(crate) fn take(&self) -> Option<core::task::Waker> {
        self.0.lock().unwrap().take()
    }
}

/// A `u64` read without a lock and written under one: a wheel entry's tick.
/// A 64-bit atomic where the target has one; without (Cortex-M0 to M4), a
/// `u64` behind a critical section, which there masks interrupts for two
/// loads or stores.
#[cfg(cancel_token_loom)]
pub(crate) struct AtomicTick(loom::sync::atomic::AtomicU64);

/// A `u64` read without a lock and written under one: a wheel entry's tick.
/// A 64-bit atomic where the target has one; without (Cortex-M0 to M4), a
/// `u64` behind a critical section, which there masks interrupts for two
/// loads or stores.
#[cfg(all(not(cancel_token_loom), target_has_atomic = "64"))]
pub(crate) struct AtomicTick(core::sync::atomic::AtomicU64);

/// A `u64` read without a lock and written under one: a wheel entry's tick.
/// A 64-bit atomic where the target has one; without (Cortex-M0 to M4), a
/// `u64` behind a critical section, which there masks interrupts for two
/// loads or stores.
#[cfg(all(not(cancel_token_loom), not(target_has_atomic = "64")))]
pub(crate) struct AtomicTick(critical_section::Mutex<core::cell::Cell<u64>>);

impl AtomicTick {
    loom_const_fn! {
        pub(crate) fn new(tick: u64) -> AtomicTick {
            #[cfg(cancel_token_loom)]
            return AtomicTick(loom::sync::atomic::AtomicU64::new(tick));
            #[cfg(all(not(cancel_token_loom), target_has_atomic = "64"))]
            return AtomicTick(core::sync::atomic::AtomicU64::new(tick));
            #[cfg(all(not(cancel_token_loom), not(target_has_atomic = "64")))]
            return AtomicTick(critical_section::Mutex::new(core::cell::Cell::new(tick)));
        }
    }

    /// The tick. Relaxed: a tick is a value on its own; no other memory is
    /// read on the strength of it.
    #[inline(always)]
    pub(crate) fn load(&self) -> u64 {
        #[cfg(any(cancel_token_loom, target_has_atomic = "64"))]
        return self.0.load(Ordering::Relaxed);
        #[cfg(all(not(cancel_token_loom), not(target_has_atomic = "64")))]
        critical_section::with(|cs| self.0.borrow(cs).get())
    }

    /// Sets the tick. Relaxed: as in `load`.
    #[inline(always)]
    pub(crate) fn store(&self, tick: u64) {
        #[cfg(any(cancel_token_loom, target_has_atomic = "64"))]
        self.0.store(tick, Ordering::Relaxed);
        #[cfg(all(not(cancel_token_loom), not(target_has_atomic = "64")))]
        critical_section::with(|cs| self.0.borrow(cs).set(tick));
    }
}
