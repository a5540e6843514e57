//! The deadline bookkeeping every driver shares: `Timers` (a timer wheel whose
//! entries live inside token nodes) and the `TimerDriver` trait.

use core::fmt;
use core::ptr::NonNull;
use core::time::Duration;

use crate::lock::Lock;
use crate::node::{self, Node};
use crate::wheel::{Wheel, WheelEntry};
use crate::Reason;

/// The clock and the one runtime timer behind deadlines.
///
/// The crate keeps every deadline in a [`Timers`] (a hierarchical timer wheel
/// whose entries live inside the token nodes, so arming allocates nothing and
/// arming or disarming is O(1)). A driver only tells time and arranges for
/// [`Timers::advance`] to be called when the earliest deadline is due: one
/// runtime timer, not one per deadline.
///
/// Time is counted in `u64` *ticks* since the driver's epoch; the tick length is
/// the driver's choice (1 ms for the runtime drivers, 1 µs for
/// [`ManualDriver`](crate::ManualDriver)).
///
/// # Contract
///
/// - `now` MUST be monotonic: it never goes backwards.
/// - `now` MUST NOT fail or panic, even before the driver's runtime has
///   started; tick counts MUST NOT overflow in practice (extend hardware
///   counters to 64 bits).
/// - `ticks_at` MUST round up (a deadline never fires early) and saturate:
///   an instant before the epoch is tick 0, one beyond `u64::MAX` ticks is
///   `u64::MAX`, which means never. `duration_ticks` likewise.
/// - `timers` MUST return the same `Timers` every time.
/// - After `wake_at(t)`, the driver MUST call `timers().advance(now)` at some
///   moment with `now >= t` (later is allowed; earlier calls are harmless),
///   and then again at the tick `advance` returns, if any. A deadline at or
///   before the current tick may fire at once.
/// - `wake_at` is called with no lock of this crate held, from whichever
///   thread, task or interrupt arms a deadline. It returns `Err` if the driver
///   can no longer fire deadlines (its runtime has shut down); the token being
///   armed is then cancelled at once with [`Reason::DeadlineExceeded`].
/// - `advance` may be called from a thread, a task or an interrupt handler; it
///   runs the cancellation (wakers, callbacks) of every due token.
pub trait TimerDriver {
    /// The driver's notion of a point in time.
    type Instant: Copy;

    /// The current time.
    fn now(&self) -> Self::Instant;

    /// Ticks since the epoch at `at`, rounded up, saturating.
    fn ticks_at(&self, at: Self::Instant) -> u64;

    /// The instant of tick `ticks`.
    fn instant_at(&self, ticks: u64) -> Self::Instant;

    /// Ticks in `d`, rounded up, saturating at `u64::MAX`.
    fn duration_ticks(&self, d: Duration) -> u64;

    /// The shared timer state this driver advances.
    fn timers(&self) -> TimersHandle;

    /// Asks for `Timers::advance` to be called once tick `tick` is reached.
    fn wake_at(&self, tick: u64) -> Result<(), DriverStopped>;
}

/// A driver can no longer fire deadlines (its runtime has shut down).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DriverStopped;

impl fmt::Display for DriverStopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timer driver stopped")
    }
}

impl core::error::Error for DriverStopped {}

struct State {
    wheel: Wheel,
    /// The latest tick `advance` was called with.
    now: u64,
    /// The earliest tick the driver was asked to wake at, or `u64::MAX`.
    scheduled: u64,
}

/// Deadlines of one driver: a timer wheel under a short lock (a spin lock with
/// `std`, a critical section otherwise, so an interrupt handler may advance it).
///
/// Driver authors hold one and call [`advance`](Self::advance); users see it
/// through [`pending`](Self::pending).
pub struct Timers {
    state: Lock<State>,
    /// Lives in an `Arc` (counted by handles) rather than a `static`.
    shared: bool,
}

// SAFETY: the wheel's raw entry pointers are only touched under the lock.
unsafe impl Send for State {}

impl Timers {
    /// Timers for a `static` driver (see [`TimersHandle::from_static`]).
    #[cfg(not(cancel_token_loom))]
    pub const fn new() -> Self {
        Timers {
            state: Lock::new(State {
                wheel: Wheel::new(),
                now: 0,
                scheduled: u64::MAX,
            }),
            shared: false,
        }
    }

    #[cfg(cancel_token_loom)]
    fn new() -> Self {
        Timers {
            state: Lock::new(State {
                wheel: Wheel::new(),
                now: 0,
                scheduled: u64::MAX,
            }),
            shared: false,
        }
    }

    /// Timers in an `Arc`, for drivers that are created and dropped at run time.
    /// Every armed deadline keeps them alive, so dropping the driver is safe.
    #[cfg(feature = "alloc")]
    pub fn new_shared() -> alloc::sync::Arc<Timers> {
        let mut t = Timers::new();
        t.shared = true;
        alloc::sync::Arc::new(t)
    }

    /// Fires every deadline at or before `now` (cancelling those tokens with
    /// [`Reason::DeadlineExceeded`], with no lock held), and returns the tick at
    /// which to call again, if any deadline is left.
    ///
    /// A `now` earlier than a previous call's is treated as that call's.
    pub fn advance(&self, now: u64) -> Option<u64> {
        loop {
            let due = self.state.with(|s| {
                s.now = s.now.max(now);
                let popped = s.wheel.pop_expired(s.now);
                if popped.is_none() {
                    s.scheduled = s.wheel.next_expiration().unwrap_or(u64::MAX);
                }
                popped.map(|e| {
                    // SAFETY: an entry in the wheel belongs to a live timed node
                    // (a node takes its entry out before it can be freed, under
                    // this lock), so taking a reference here is sound.
                    let this = unsafe { crate::deadline::node_of(e) };
                    // SAFETY: as above.
                    unsafe { this.as_ref() }.inc_ref();
                    this
                })
            });
            let Some(this) = due else {
                return self.next_expiration();
            };
            Node::cancel(this, Reason::DeadlineExceeded, None);
            // SAFETY: gives back the reference taken above.
            unsafe { node::release(this) };
        }
    }

    /// The tick `advance` was last called with.
    pub fn now(&self) -> u64 {
        self.state.with(|s| s.now)
    }

    /// How many deadlines are armed.
    pub fn pending(&self) -> usize {
        self.state.with(|s| s.wheel.pending())
    }

    /// A tick at or before the earliest armed deadline, or `None` if none is
    /// armed. For tickless designs: program the alarm for it.
    pub fn next_expiration(&self) -> Option<u64> {
        self.state.with(|s| s.wheel.next_expiration())
    }

    /// Inserts `entry` due at `at`. `Ok(Some(at))` if the driver must be asked
    /// to wake earlier than it was, `Ok(None)` if not, `Err` if already due.
    ///
    /// # Safety
    /// `entry` belongs to a live timed node whose lock the caller holds, and
    /// is not inserted.
    pub(crate) unsafe fn insert(&self, entry: NonNull<WheelEntry>, at: u64) -> Result<Option<u64>, ()> {
        self.state.with(|s| {
            // SAFETY: by the caller's guarantee.
            unsafe { s.wheel.insert(entry, at) }?;
            if at < s.scheduled {
                s.scheduled = at;
                Ok(Some(at))
            } else {
                Ok(None)
            }
        })
    }

    /// Removes `entry` if it is inserted.
    ///
    /// # Safety
    /// `entry` belongs to a timed node of these timers.
    pub(crate) unsafe fn remove(&self, entry: NonNull<WheelEntry>) {
        self.state.with(|s| {
            // SAFETY: under the lock; the entry is in this wheel if inserted.
            if unsafe { entry.as_ref() }.is_inserted() {
                // SAFETY: as above.
                unsafe { s.wheel.remove(entry) };
            }
        })
    }
}

#[cfg(not(cancel_token_loom))]
impl Default for Timers {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Timers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timers")
            .field("pending", &self.pending())
            .field("now", &self.now())
            .finish()
    }
}

/// An owned reference to a driver's [`Timers`]: `'static`, or counted in an `Arc`.
pub struct TimersHandle {
    ptr: NonNull<Timers>,
}

// SAFETY: `Timers` is `Sync`; counting goes through `Arc`'s atomics.
unsafe impl Send for TimersHandle {}
// SAFETY: as above.
unsafe impl Sync for TimersHandle {}

impl TimersHandle {
    /// A handle to timers in a `static`.
    pub fn from_static(timers: &'static Timers) -> Self {
        TimersHandle {
            ptr: NonNull::from(timers),
        }
    }

    /// A handle to shared timers (made by [`Timers::new_shared`]).
    #[cfg(feature = "alloc")]
    pub fn from_arc(timers: &alloc::sync::Arc<Timers>) -> Self {
        assert!(timers.shared, "Arc'd timers must come from Timers::new_shared");
        let ptr = alloc::sync::Arc::into_raw(timers.clone());
        // SAFETY: `into_raw` is never null.
        let ptr = unsafe { NonNull::new_unchecked(ptr.cast_mut()) };
        TimersHandle { ptr }
    }

    /// A handle that does not keep `timers` alive.
    ///
    /// # Safety
    /// It must not outlive `timers`, and must not be cloned into anything that does.
    pub(crate) unsafe fn borrowed(timers: &Timers) -> Self {
        if timers.shared {
            // SAFETY: shared timers live in an `Arc`; keep the count balanced.
            #[cfg(feature = "alloc")]
            unsafe {
                alloc::sync::Arc::increment_strong_count(timers)
            };
        }
        TimersHandle {
            ptr: NonNull::from(timers),
        }
    }

    /// The timers.
    pub fn get(&self) -> &Timers {
        // SAFETY: static, counted, or borrowed for our lifetime.
        unsafe { self.ptr.as_ref() }
    }

    pub(crate) fn ptr(&self) -> NonNull<Timers> {
        self.ptr
    }
}

impl Clone for TimersHandle {
    fn clone(&self) -> Self {
        // SAFETY: counted when shared; static otherwise.
        unsafe { TimersHandle::borrowed(self.get()) }
    }
}

impl Drop for TimersHandle {
    fn drop(&mut self) {
        #[cfg(feature = "alloc")]
        if self.get().shared {
            // SAFETY: we own one count of the `Arc`.
            unsafe { alloc::sync::Arc::decrement_strong_count(self.ptr.as_ptr()) };
        }
    }
}

impl fmt::Debug for TimersHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}
