//! The deadline bookkeeping every driver shares: `Timers`, a timer wheel whose
//! entries live inside token nodes (firing them is `time::deadline`'s).

use core::fmt;
use core::ptr::NonNull;

#[cfg(feature = "alloc")]
use crate::sync::AtomicUsize;
use crate::sync::{AtomicPtr, Ordering::*};
use crate::util::lock::Lock;
use crate::wheel::{Wheel, WheelEntry};

#[cfg(feature = "alloc")]
mod shared;
#[cfg(feature = "alloc")]
pub use shared::SharedTimers;
#[cfg(cancel_token_loom)]
pub(crate) use shared::FREED;
#[cfg(feature = "alloc")]
use shared::{free_shared, next_generation};

impl State {
    /// Files `entry` at `at` in the wheel: `Ok(Some(at))` if the driver must
    /// be asked to wake earlier than it was, `Ok(None)` if not, `Err` if
    /// already due (the entry is left out).
    ///
    /// # Safety
    /// As for `Wheel::insert`.
    unsafe fn file(&mut self, entry: NonNull<WheelEntry>, at: u64) -> Result<Option<u64>, ()> {
        // SAFETY: by the caller's guarantee.
        unsafe { self.wheel.insert(entry, at) }?;
        if self.scheduled == 0 || at < self.scheduled {
            self.scheduled = at;
            Ok(Some(at))
        } else {
            Ok(None)
        }
    }
}

struct State {
    wheel: Wheel,
    /// The latest tick the clock was advanced to.
    now: u64,
    /// The earliest tick the driver was asked to wake at, or 0 for none (a
    /// wake-up is never asked for tick 0, which is always due). Zero, so timers
    /// in a `static` are all zeros and cost no flash.
    scheduled: u64,
    /// Shared timers: deadlines armed and not yet disarmed, each of which
    /// keeps the timers alive (see [`SharedTimers`]).
    #[cfg(feature = "alloc")]
    holders: usize,
    /// Shared timers: the last `SharedTimers` is gone, so the last holder
    /// frees them.
    #[cfg(feature = "alloc")]
    orphaned: bool,
    /// Shared timers of a `std` driver: woken by the disarm that leaves no
    /// deadline armed (see [`Timers::wake_when_empty`]).
    #[cfg(feature = "std")]
    idle: Option<core::task::Waker>,
}

/// Deadlines of one driver: a timer wheel under a short lock (a spin lock with
/// `std`, a critical section otherwise, so an interrupt handler may advance it).
///
/// Driver authors hold one and call [`advance_to`](Self::advance_to); users see it
/// through [`pending`](Self::pending).
///
/// # Examples
///
/// A [`TickDriver`](crate::TickDriver) is a `Timers` in a `static`; through
/// [`TimerDriver::timers`](crate::TimerDriver::timers) a driver's owner
/// reaches them, and advancing them fires what is due:
///
/// ```
/// use core::pin::pin;
/// use cancel_token::{PinnedDeadline, Reason, StaticSource, TickDriver, TimerDriver};
///
/// static ROOT: StaticSource = StaticSource::new();
/// static TICKS: TickDriver = TickDriver::new();
///
/// let job = pin!(PinnedDeadline::new(ROOT.token_ref(), &TICKS, 10));
/// let token = job.into_ref().token(); // armed as it is first used
/// let driver = &TICKS;
/// let timers = driver.timers().get();
/// assert_eq!(timers.pending(), 1);
/// assert!(timers.advance_to(9).is_some()); // not due: call again later
/// assert!(!token.is_cancelled());
/// assert_eq!(timers.advance_to(10), None); // fired; nothing left
/// assert_eq!(token.reason(), Some(Reason::DeadlineExceeded));
/// ```
pub struct Timers {
    state: Lock<State>,
    /// Lives in a box owned by `SharedTimers` and the armed deadlines, rather
    /// than in a `static`.
    #[cfg(feature = "alloc")]
    shared: bool,
    /// Shared timers: tells them apart from earlier timers freed at the same
    /// address (0 for static ones, which are never freed). 32 bits on every
    /// target, so that a timed node keeps it in its entry's padding.
    #[cfg(feature = "alloc")]
    generation: u32,
    /// Shared timers: how many `SharedTimers` own them.
    #[cfg(feature = "alloc")]
    owners: AtomicUsize,
    /// Under loom, shared timers are marked freed rather than freed, so that
    /// a use after the free fails the model.
    #[cfg(cancel_token_loom)]
    freed: crate::sync::AtomicBool,
    /// A `fn(u64)` called when a deadline earlier than any requested wake-up is
    /// armed (`TickDriver::set_alarm_hook`), or null.
    hook: AtomicPtr<()>,
}

// SAFETY: the wheel's raw entry pointers are only touched under the lock.
unsafe impl Send for State {}

impl Timers {
    /// Timers for a `static` driver (see [`TimersHandle::from_static`]).
    ///
    /// ```
    /// use cancel_token::Timers;
    ///
    /// static TIMERS: Timers = Timers::new();
    /// assert_eq!((TIMERS.now(), TIMERS.pending()), (0, 0));
    /// ```
    #[cfg(not(cancel_token_loom))]
    pub const fn new() -> Self {
        Timers {
            state: Lock::new(State {
                wheel: Wheel::new(),
                now: 0,
                scheduled: 0,
                #[cfg(feature = "alloc")]
                holders: 0,
                #[cfg(feature = "alloc")]
                orphaned: false,
                #[cfg(feature = "std")]
                idle: None,
            }),
            #[cfg(feature = "alloc")]
            shared: false,
            #[cfg(feature = "alloc")]
            generation: 0,
            #[cfg(feature = "alloc")]
            owners: AtomicUsize::new(0),
            hook: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    /// Loom builds have `std`, so `alloc`.
    #[cfg(cancel_token_loom)]
    fn new() -> Self {
        Timers {
            state: Lock::new(State {
                wheel: Wheel::new(),
                now: 0,
                scheduled: 0,
                holders: 0,
                orphaned: false,
                idle: None,
            }),
            shared: false,
            generation: 0,
            owners: AtomicUsize::new(0),
            freed: crate::sync::AtomicBool::new(false),
            hook: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    /// Timers for drivers that are created and dropped at run time; see
    /// [`SharedTimers`].
    ///
    /// ```
    /// let timers = cancel_token::Timers::new_shared();
    /// let handle = cancel_token::TimersHandle::from_shared(&timers);
    /// assert_eq!(handle.get().pending(), 0);
    /// ```
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn new_shared() -> SharedTimers {
        let mut t = Timers::new();
        t.shared = true;
        t.generation = next_generation();
        t.owners = AtomicUsize::new(1);
        let ptr = NonNull::from(alloc::boxed::Box::leak(alloc::boxed::Box::new(t)));
        SharedTimers { ptr }
    }

    /// Runs `f` on the state, under the lock.
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        #[cfg(cancel_token_loom)]
        assert!(
            !self.freed.load(SeqCst),
            "timers used after they were freed"
        );
        self.state.with(f)
    }

    /// Moves the clock to `to(now)` (computed under the lock, so concurrent
    /// calls of a relative `to` add up), unless that is earlier, then pops
    /// the earliest entry due by the clock and runs `hold` on it, still under
    /// the lock: while an entry is in the wheel, its owner cannot free it, so
    /// `hold` may take what keeps it alive after. `Err` with the tick at which
    /// to call again, if any entry is left, once none is due.
    pub(crate) fn pop_due<R>(
        &self,
        to: impl FnOnce(u64) -> u64,
        hold: impl FnOnce(NonNull<WheelEntry>) -> R,
    ) -> Result<R, Option<u64>> {
        self.with_state(|s| {
            s.now = s.now.max(to(s.now));
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
            Ok(hold(e))
        })
    }

    /// The tick the clock was last advanced to (the latest, if calls went
    /// back).
    ///
    /// ```
    /// use cancel_token::Timers;
    ///
    /// static TIMERS: Timers = Timers::new();
    /// TIMERS.advance_to(7);
    /// TIMERS.advance_by(1);
    /// assert_eq!(TIMERS.now(), 8);
    /// ```
    pub fn now(&self) -> u64 {
        self.with_state(|s| s.now)
    }

    /// How many deadlines are armed.
    ///
    /// ```
    /// use core::pin::pin;
    /// use cancel_token::{PinnedDeadline, StaticSource, TickDriver, TimerDriver};
    ///
    /// static ROOT: StaticSource = StaticSource::new();
    /// static TICKS: TickDriver = TickDriver::new();
    /// let driver = &TICKS;
    /// let timers = driver.timers().get();
    /// {
    ///     let job = pin!(PinnedDeadline::new(ROOT.token_ref(), &TICKS, 50));
    ///     job.into_ref().token(); // armed as it is first used
    ///     assert_eq!(timers.pending(), 1);
    /// } // dropped: disarmed
    /// assert_eq!(timers.pending(), 0);
    /// ```
    pub fn pending(&self) -> usize {
        self.with_state(|s| s.wheel.pending())
    }

    /// A tick at or before the earliest armed deadline, or `None` if none is
    /// armed. For tickless designs: program the alarm for it.
    ///
    /// ```
    /// use core::pin::pin;
    /// use cancel_token::{PinnedDeadline, StaticSource, TickDriver, TimerDriver};
    ///
    /// static ROOT: StaticSource = StaticSource::new();
    /// static TICKS: TickDriver = TickDriver::new();
    /// let driver = &TICKS;
    /// let timers = driver.timers().get();
    /// assert_eq!(timers.next_expiration(), None);
    /// let job = pin!(PinnedDeadline::new(ROOT.token_ref(), &TICKS, 300));
    /// job.into_ref().token();
    /// assert!(timers.next_expiration().is_some_and(|tick| tick <= 300));
    /// ```
    pub fn next_expiration(&self) -> Option<u64> {
        self.with_state(|s| s.wheel.next_expiration())
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
        self.with_state(|s| {
            // The node holds shared timers from here until it disarms
            // (`disarm`), already due or not.
            #[cfg(feature = "alloc")]
            {
                s.holders += usize::from(self.shared);
            }
            // SAFETY: by the caller's guarantee.
            unsafe { s.file(entry, at) }
        })
    }

    /// Moves `entry` to `at` (`u64::MAX`: out of the wheel, due never), as
    /// [`insert`](Self::insert) files it: `Some` of what `insert` returns,
    /// or `None`, touching nothing, if the entry was popped (its deadline is
    /// firing). Its node's hold does not change.
    ///
    /// # Safety
    /// `entry` belongs to a live timed node of these timers that holds them,
    /// whose lock the caller holds.
    #[cfg(feature = "alloc")]
    pub(crate) unsafe fn rearm(
        &self,
        entry: NonNull<WheelEntry>,
        at: u64,
    ) -> Option<Result<Option<u64>, ()>> {
        self.with_state(|s| {
            // SAFETY: under the lock; the entry is in this wheel if inserted.
            let e = unsafe { entry.as_ref() };
            if e.is_inserted() {
                // SAFETY: as above.
                unsafe { s.wheel.remove(entry) };
            } else if e.when() != u64::MAX {
                // Popped, or held as due: firing.
                return None;
            }
            if at == u64::MAX {
                e.set_when(at);
                return Some(Ok(None));
            }
            // SAFETY: out of the wheel, and the node stays put while it holds
            // the timers (by the caller's guarantee).
            let filed = unsafe { s.file(entry, at) };
            if filed.is_err() {
                // Due: kept out, and the node expires; its deadline is `at`.
                e.set_when(at);
            }
            Some(filed)
        })
    }

    /// For a deadline due as it is made: takes the node's hold on these
    /// timers, as [`insert`](Self::insert) does, without inserting it, and
    /// returns `Err` (already due), so the node is cancelled at once and its
    /// disarm gives the hold back.
    #[cfg(feature = "alloc")]
    pub(crate) fn hold_due(&self) -> Result<Option<u64>, ()> {
        self.hold();
        Err(())
    }

    /// Takes a node's hold on these timers without inserting it: for a
    /// deadline due as it is made, and for a clock root, whose deadline never
    /// fires. Its disarm, or its take-out, gives it back.
    #[cfg(feature = "alloc")]
    pub(crate) fn hold(&self) {
        if self.shared {
            self.with_state(|s| s.holders += 1);
        }
    }

    /// For a sleeper whose driver has no handle left, so that no deadline can
    /// be armed any more: if a deadline is armed, keeps `waker` for the disarm
    /// that leaves none (which wakes it, outside the lock) and returns true;
    /// if none is, forgets the waker kept before and returns false.
    #[cfg(feature = "std")]
    pub(crate) fn wake_when_empty(&self, waker: &core::task::Waker) -> bool {
        let (armed, old) = self.with_state(|s| match &s.idle {
            _ if s.wheel.pending() == 0 => (false, s.idle.take()),
            Some(w) if w.will_wake(waker) => (true, None),
            _ => (true, s.idle.replace(waker.clone())),
        });
        // Dropped outside the lock: the last reference to a sleeper may go
        // with it, and that drops the timers' owner, which takes the lock.
        drop(old);
        armed
    }

    /// Forgets the waker [`wake_when_empty`](Self::wake_when_empty) kept: for
    /// a sleeper that ends.
    #[cfg(feature = "std")]
    pub(crate) fn forget_idle(&self) {
        let old = self.with_state(|s| s.idle.take());
        drop(old);
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
        self.with_state(|s| s.scheduled = 0)
    }

    /// Removes `entry` if it is inserted, and gives up its node's hold on
    /// `timers`: the disarm of a node being cancelled (under its lock, so
    /// once). `timers` must not be used after.
    ///
    /// # Safety
    /// `entry` belongs to a timed node of `timers` that holds them (inserted,
    /// or found due, and not taken out by [`take_out`](Self::take_out)), and
    /// this is that node's one disarm.
    pub(crate) unsafe fn disarm(timers: NonNull<Timers>, entry: NonNull<WheelEntry>) {
        // SAFETY: by the caller's guarantee.
        unsafe { Self::give_up(timers, entry, false) };
    }

    /// Removes `entry` if it is still inserted, giving up its node's hold on
    /// `timers`, and returns true; returns false, touching nothing, if it was
    /// popped (its deadline is firing, and that cancel will disarm it). For a
    /// node that no canceller but its timers can reach. `timers` must not be
    /// used after.
    ///
    /// # Safety
    /// `entry` belongs to a timed node of `timers`, armed and not cancelled
    /// (so it holds them), that no canceller but the timers can reach.
    #[cfg(feature = "alloc")]
    pub(crate) unsafe fn take_out(timers: NonNull<Timers>, entry: NonNull<WheelEntry>) -> bool {
        // SAFETY: by the caller's guarantee.
        unsafe { Self::give_up(timers, entry, true) }
    }

    /// `take_out` if `only_if_inserted`, else `disarm` (returning true).
    ///
    /// # Safety
    /// As for those.
    unsafe fn give_up(
        timers: NonNull<Timers>,
        entry: NonNull<WheelEntry>,
        only_if_inserted: bool,
    ) -> bool {
        // SAFETY: the node's hold keeps the timers alive until the unlock below.
        let t = unsafe { timers.as_ref() };
        let (held, free, idle) = t.with_state(|s| {
            // SAFETY: under the lock; the entry is in this wheel if inserted.
            let e = unsafe { entry.as_ref() };
            let inserted = e.is_inserted();
            if inserted {
                // SAFETY: as above.
                unsafe { s.wheel.remove(entry) };
            } else if only_if_inserted && e.when() != u64::MAX {
                // Popped: firing. (A clock root's entry, due never, is never
                // inserted, and is taken out at once.)
                return (false, false, None);
            }
            // A sleeper waits for the wheel to empty only once its driver's
            // handles are gone: the branch is almost never taken. (A deadline
            // popped as due is being fired by its sleeper, which checks the
            // wheel after.)
            #[cfg(feature = "std")]
            let idle = match s.idle {
                Some(_) if inserted && s.wheel.pending() == 0 => s.idle.take(),
                _ => None,
            };
            #[cfg(not(feature = "std"))]
            let idle = None::<core::convert::Infallible>;
            #[cfg(feature = "alloc")]
            {
                s.holders -= usize::from(t.shared);
                (true, t.shared && s.holders == 0 && s.orphaned, idle)
            }
            #[cfg(not(feature = "alloc"))]
            (true, false, idle)
        });
        #[cfg(feature = "alloc")]
        if free {
            // SAFETY: shared, orphaned and with no holder: no one else can
            // reach them any more.
            unsafe { free_shared(timers) };
        }
        #[cfg(not(feature = "alloc"))]
        let _ = free;
        // Last, with `timers` no longer used: the sleeper this wakes may end
        // and free them at once.
        #[cfg(feature = "std")]
        if let Some(waker) = idle {
            waker.wake();
        }
        #[cfg(not(feature = "std"))]
        let _ = idle;
        held
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

/// Which timers a deadline is kept in: their address, and the generation
/// that tells shared timers apart from earlier ones freed at that address.
/// Only compared, never followed, once the deadline is disarmed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimersId {
    pub(crate) ptr: NonNull<Timers>,
    #[cfg(feature = "alloc")]
    pub(crate) generation: u32,
}

impl TimersId {
    /// The generation of the timers (0 for static ones).
    #[cfg(feature = "alloc")]
    pub(crate) fn generation(self) -> u32 {
        self.generation
    }
}

/// A driver's [`Timers`], as
/// [`TimerDriver::timers`](crate::TimerDriver::timers) gives them: in a
/// `static`, or shared ([`SharedTimers`]). Either way, a deadline may keep
/// the pointer past `'a`: static timers live forever, and shared ones until
/// the last deadline holding them is disarmed.
///
/// # Examples
///
/// ```
/// use cancel_token::{Timers, TimersHandle};
///
/// static TIMERS: Timers = Timers::new();
/// let handle = TimersHandle::from_static(&TIMERS);
/// let copy = handle; // `Copy`
/// TIMERS.advance_to(3);
/// assert_eq!((handle.get().now(), copy.get().now()), (3, 3));
/// ```
#[derive(Clone, Copy)]
pub struct TimersHandle<'a> {
    ptr: NonNull<Timers>,
    _timers: core::marker::PhantomData<&'a Timers>,
}

// SAFETY: a shared reference to `Timers`, which is `Sync`.
unsafe impl Send for TimersHandle<'_> {}
// SAFETY: as above.
unsafe impl Sync for TimersHandle<'_> {}

impl TimersHandle<'static> {
    /// The handle of timers in a `static`, for a driver's
    /// [`TimerDriver::timers`](crate::TimerDriver::timers).
    ///
    /// ```
    /// use cancel_token::{Timers, TimersHandle};
    ///
    /// static TIMERS: Timers = Timers::new();
    /// let handle = TimersHandle::from_static(&TIMERS);
    /// assert!(core::ptr::eq(handle.get(), &TIMERS));
    /// ```
    pub fn from_static(timers: &'static Timers) -> Self {
        TimersHandle {
            ptr: NonNull::from(timers),
            _timers: core::marker::PhantomData,
        }
    }
}

impl<'a> TimersHandle<'a> {
    /// The handle of shared timers, for a driver's
    /// [`TimerDriver::timers`](crate::TimerDriver::timers); it borrows the
    /// `SharedTimers`.
    ///
    /// ```
    /// use cancel_token::{Timers, TimersHandle};
    ///
    /// let timers = Timers::new_shared();
    /// let handle = TimersHandle::from_shared(&timers);
    /// timers.advance_to(2);
    /// assert_eq!(handle.get().now(), 2);
    /// ```
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn from_shared(timers: &'a SharedTimers) -> Self {
        TimersHandle {
            ptr: timers.ptr,
            _timers: core::marker::PhantomData,
        }
    }

    /// The timers, borrowed for as long as the handle's own borrow.
    ///
    /// ```
    /// use cancel_token::{Timers, TimersHandle};
    ///
    /// static TIMERS: Timers = Timers::new();
    /// let timers: &'static Timers = TimersHandle::from_static(&TIMERS).get();
    /// assert_eq!(timers.pending(), 0);
    /// ```
    pub fn get(self) -> &'a Timers {
        // SAFETY: static, or owned by the `SharedTimers` borrowed for `'a`.
        unsafe { self.ptr.as_ref() }
    }

    pub(crate) fn id(self) -> TimersId {
        TimersId {
            ptr: self.ptr,
            #[cfg(feature = "alloc")]
            generation: self.get().generation,
        }
    }
}

impl fmt::Debug for TimersHandle<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}
