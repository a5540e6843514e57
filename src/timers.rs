//! The deadline bookkeeping every driver shares: `Timers` (a timer wheel whose
//! entries live inside token nodes) and the `TimerDriver` trait.

use core::fmt;
use core::ptr::NonNull;
use core::time::Duration;

use crate::lock::Lock;
use crate::node::Node;
use crate::sync::{AtomicPtr, Ordering::*};
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
    /// The earliest tick the driver was asked to wake at, or 0 for none (a
    /// wake-up is never asked for tick 0, which is always due). Zero, so timers
    /// in a `static` are all zeros and cost no flash.
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
    /// A `fn(u64)` called when a deadline earlier than any requested wake-up is
    /// armed (`TickDriver::set_alarm_hook`), or null.
    hook: AtomicPtr<()>,
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
                scheduled: 0,
            }),
            shared: false,
            hook: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    #[cfg(cancel_token_loom)]
    fn new() -> Self {
        Timers {
            state: Lock::new(State {
                wheel: Wheel::new(),
                now: 0,
                scheduled: 0,
            }),
            shared: false,
            hook: AtomicPtr::new(core::ptr::null_mut()),
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
        self.advance_with(|_| now)
    }

    /// Moves the clock forward by `ticks` (added under the lock, so concurrent
    /// calls add up) and fires what is due, as [`advance`](Self::advance) does.
    pub fn advance_by(&self, ticks: u64) -> Option<u64> {
        self.advance_with(|now| now.saturating_add(ticks))
    }

    /// `advance` to the tick `target` computes from the current one.
    fn advance_with(&self, target: impl FnOnce(u64) -> u64) -> Option<u64> {
        let mut target = Some(target);
        let mut now = 0;
        loop {
            let due = self.state.with(|s| {
                if let Some(target) = target.take() {
                    now = target(s.now);
                }
                s.now = s.now.max(now);
                let Some(e) = s.wheel.pop_expired(s.now) else {
                    // Return the very tick recorded in `scheduled`, read under
                    // the same lock: a later read could see a removal and
                    // return a later tick than `scheduled`, and an insert
                    // between the two (not earlier than `scheduled`, so not
                    // reported through `wake_at`) would then fire late.
                    let next = s.wheel.next_expiration();
                    s.scheduled = next.unwrap_or(0);
                    return Err(next);
                };
                // SAFETY: an entry in the wheel belongs to a live timed node
                // (a node takes its entry out before it can be freed, under
                // this lock), so taking a reference here is sound.
                let this = unsafe { crate::deadline::node_of(e) };
                // SAFETY: as above.
                unsafe { this.as_ref() }.inc_ref();
                Ok(this)
            });
            let this = match due {
                Ok(this) => this,
                Err(next) => return next,
            };
            // Gives back the reference taken above, even if a callback panics.
            struct Release(NonNull<Node>);
            impl Drop for Release {
                fn drop(&mut self) {
                    // SAFETY: we own the reference taken under the lock.
                    unsafe { crate::release::release(self.0) };
                }
            }
            let _release = Release(this);
            Node::cancel(this, Reason::DeadlineExceeded, None);
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
    /// `entry` belongs to a live timed node that no canceller can reach
    /// concurrently (the caller holds its lock, or it is not yet linked), and is
    /// not inserted.
    pub(crate) unsafe fn insert(
        &self,
        entry: NonNull<WheelEntry>,
        at: u64,
    ) -> Result<Option<u64>, ()> {
        self.state.with(|s| {
            // SAFETY: by the caller's guarantee.
            unsafe { s.wheel.insert(entry, at) }?;
            if s.scheduled == 0 || at < s.scheduled {
                s.scheduled = at;
                Ok(Some(at))
            } else {
                Ok(None)
            }
        })
    }

    /// Sets the function called with the tick of a deadline armed earlier than
    /// any wake-up requested so far.
    pub(crate) fn set_hook(&self, hook: fn(u64)) {
        // Release: pairs with the Acquire load in `call_hook`.
        self.hook.store(hook as *mut (), Release);
    }

    /// Calls the hook, if one is set, with `tick`.
    pub(crate) fn call_hook(&self, tick: u64) {
        // Acquire: pairs with the Release store in `set_hook`.
        let hook = self.hook.load(Acquire);
        if !hook.is_null() {
            // SAFETY: only `set_hook` stores, and only `fn(u64)` pointers.
            let hook = unsafe { core::mem::transmute::<*mut (), fn(u64)>(hook) };
            hook(tick);
        }
    }

    /// Forgets the tick the driver was last asked to wake at, so the next insert
    /// asks again. For a `wake_at` that failed: the driver took no request, and
    /// a later deadline must still reach `wake_at` (and fail there too).
    pub(crate) fn forget_wake(&self) {
        self.state.with(|s| s.scheduled = 0)
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
        assert!(
            timers.shared,
            "Arc'd timers must come from Timers::new_shared"
        );
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
