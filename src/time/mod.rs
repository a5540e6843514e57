//! Time for deadlines: the [`TimerDriver`] trait every clock implements, and
//! deadlines, the nodes that carry one.
//!
//! This layer may use `node`, `wheel`, `util` and `sync`.

use core::fmt;
use core::time::Duration;

use crate::wheel::timers::TimersHandle;

#[cfg(feature = "alloc")]
pub(crate) mod clock;
pub(crate) mod deadline;

/// The clock and the one runtime timer behind deadlines.
///
/// The crate keeps every deadline in a [`Timers`] (a hierarchical timer wheel
/// whose entries live inside the token nodes, so arming allocates nothing and
/// arming or disarming is O(1)). A driver only tells time and arranges for
/// [`Timers::advance_to`] to be called when the earliest deadline is due: one
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
/// - `timers` MUST return the same `Timers` every time: timers in a `static`
///   ([`TimersHandle::from_static`]) or [`SharedTimers`] the driver owns
///   ([`TimersHandle::from_shared`]). Armed deadlines hold shared timers
///   without counting an owner each, so a driver may be dropped while
///   deadlines are armed.
/// - After `wake_at(t)`, the driver MUST call `timers().advance_to(now)` at some
///   moment with `now >= t` (later is allowed; earlier calls are harmless),
///   and then again at the tick `advance_to` returns, if any. A deadline at or
///   before the current tick may fire at once.
/// - `wake_at` is called with no lock of this crate held, from whichever
///   thread, task or interrupt arms a deadline. It returns `Err` if the driver
///   can no longer fire deadlines (its runtime has shut down); the token being
///   armed is then cancelled at once with [`Reason::DeadlineExceeded`].
/// - `advance_to` may be called from a thread, a task or an interrupt handler; it
///   runs the cancellation (wakers, callbacks) of every due token.
///
/// # Implementing a driver
///
/// A driver is a clock, a [`Timers`] and one alarm. Below, a millisecond
/// clock that its owner moves (as a timer interrupt would) and one alarm,
/// kept as the earliest tick `wake_at` asked for: each time the clock
/// reaches it, the owner advances the timers and sets the alarm for the tick
/// `advance_to` returns.
///
/// ```
/// use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
/// use core::time::Duration;
/// use cancel_token::{
///     CancelSource, DriverStopped, Reason, SharedTimers, TimerDriver, Timers, TimersHandle,
/// };
///
/// struct Alarm {
///     /// Milliseconds since the driver was made.
///     now: AtomicU64,
///     /// The tick to advance the timers at; `u64::MAX` for none.
///     alarm: AtomicU64,
///     timers: SharedTimers,
/// }
///
/// impl TimerDriver for Alarm {
///     type Instant = u64; // instants are ticks
///
///     fn now(&self) -> u64 {
///         self.now.load(SeqCst)
///     }
///
///     fn ticks_at(&self, at: u64) -> u64 {
///         at
///     }
///
///     fn instant_at(&self, ticks: u64) -> u64 {
///         ticks
///     }
///
///     fn duration_ticks(&self, d: Duration) -> u64 {
///         // Rounded up and saturating, as the contract asks.
///         u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
///     }
///
///     fn ticks_duration(&self, ticks: u64) -> Duration {
///         Duration::from_millis(ticks)
///     }
///
///     fn timers(&self) -> TimersHandle<'_> {
///         TimersHandle::from_shared(&self.timers)
///     }
///
///     fn wake_at(&self, tick: u64) -> Result<(), DriverStopped> {
///         self.alarm.fetch_min(tick, SeqCst);
///         Ok(())
///     }
/// }
///
/// impl Alarm {
///     /// The timer interrupt: the clock is at `now`.
///     fn tick(&self, now: u64) {
///         self.now.store(now, SeqCst);
///         if self.alarm.load(SeqCst) <= now {
///             // Cleared before `advance_to`, so a `wake_at` during it is kept.
///             self.alarm.store(u64::MAX, SeqCst);
///             let next = self.timers.advance_to(now).unwrap_or(u64::MAX);
///             self.alarm.fetch_min(next, SeqCst);
///         }
///     }
/// }
///
/// let driver = Alarm {
///     now: AtomicU64::new(0),
///     alarm: AtomicU64::new(u64::MAX),
///     timers: Timers::new_shared(),
/// };
/// let root = CancelSource::new();
/// let call = root.token().child_with_timeout_on(&driver, Duration::from_millis(20));
/// assert_eq!(driver.alarm.load(SeqCst), 20);
/// driver.tick(19);
/// assert!(!call.is_cancelled());
/// driver.tick(20);
/// assert_eq!(call.reason(), Some(Reason::DeadlineExceeded));
/// ```
///
/// [`Timers`]: crate::Timers
/// [`Timers::advance_to`]: crate::Timers::advance_to
/// [`SharedTimers`]: crate::SharedTimers
/// [`Reason::DeadlineExceeded`]: crate::Reason::DeadlineExceeded
#[diagnostic::on_unimplemented(
    note = "a driver in a `static` (`TickDriver`, `EmbassyDriver`) is a `TimerDriver` as its `&'static` reference: pass `&TICKS`"
)]
pub trait TimerDriver {
    /// The driver's notion of a point in time: what [`now`](Self::now)
    /// returns and a [`Deadline`](crate::Deadline) converts to (`u64` ticks
    /// for a [`TickDriver`](crate::TickDriver), the time since it was made for
    /// a [`ManualDriver`](crate::ManualDriver), `std`'s or tokio's `Instant`
    /// for the runtime drivers). Instants are compared, never subtracted.
    ///
    /// ```
    /// use cancel_token::{TickDriver, TimerDriver};
    ///
    /// /// Ticks since `start`, on any driver.
    /// fn since<D: TimerDriver>(driver: D, start: D::Instant) -> u64 {
    ///     assert!(driver.now() >= start); // `Ord`, and the clock is monotonic
    ///     driver.ticks_at(driver.now()) - driver.ticks_at(start)
    /// }
    ///
    /// static TICKS: TickDriver = TickDriver::new();
    /// let start: u64 = TICKS.now(); // a `TickDriver`'s instants are its ticks
    /// TICKS.advance_by(7);
    /// assert_eq!(since(&TICKS, start), 7);
    /// ```
    type Instant: Copy + Ord;

    /// The current time: where a timeout starts from, and what a deadline
    /// is compared with.
    ///
    /// ```
    /// use core::time::Duration;
    /// use cancel_token::{ManualDriver, TimerDriver};
    ///
    /// /// Whether `at` has passed on `driver`'s clock.
    /// fn has_passed<D: TimerDriver>(driver: D, at: D::Instant) -> bool {
    ///     driver.now() >= at
    /// }
    ///
    /// let driver = ManualDriver::new();
    /// let at = Duration::from_millis(3);
    /// assert!(!has_passed(&driver, at));
    /// driver.advance_by(Duration::from_millis(3));
    /// assert!(has_passed(&driver, at));
    /// ```
    fn now(&self) -> Self::Instant;

    /// Ticks since the epoch at `at`, rounded up, saturating: where a deadline
    /// at `at` goes in the timer wheel.
    ///
    /// ```
    /// use core::time::Duration;
    /// use cancel_token::{ManualDriver, TimerDriver};
    ///
    /// let driver = ManualDriver::new(); // 1 µs ticks
    /// assert_eq!(driver.ticks_at(Duration::from_micros(3)), 3);
    /// // Rounded up, so a deadline never fires early.
    /// assert_eq!(driver.ticks_at(Duration::from_nanos(1_500)), 2);
    /// assert_eq!(driver.ticks_at(Duration::MAX), u64::MAX); // never
    /// ```
    fn ticks_at(&self, at: Self::Instant) -> u64;

    /// The instant of tick `ticks`: how a [`Deadline`](crate::Deadline),
    /// kept in ticks, is given back as an instant.
    ///
    /// ```
    /// use core::time::Duration;
    /// use cancel_token::{CancelSource, ManualDriver, TimerDriver};
    ///
    /// let driver = ManualDriver::new(); // 1 µs ticks
    /// assert_eq!(driver.instant_at(1_500), Duration::from_micros(1_500));
    /// assert_eq!(driver.ticks_at(driver.instant_at(42)), 42);
    ///
    /// let root = CancelSource::new();
    /// let call = root.token().child_with_timeout_on(&driver, Duration::from_millis(2));
    /// let ticks = call.deadline().unwrap().ticks();
    /// assert_eq!(driver.instant_at(ticks), Duration::from_millis(2));
    /// ```
    fn instant_at(&self, ticks: u64) -> Self::Instant;

    /// Ticks in `d`, rounded up, saturating at `u64::MAX`: how far ahead of
    /// [`now`](Self::now) a timeout of `d` is armed.
    ///
    /// ```
    /// use core::time::Duration;
    /// use cancel_token::{ManualDriver, TimerDriver};
    ///
    /// let driver = ManualDriver::new(); // 1 µs ticks
    /// assert_eq!(driver.duration_ticks(Duration::from_millis(2)), 2_000);
    /// assert_eq!(driver.duration_ticks(Duration::from_nanos(1)), 1); // rounded up
    /// assert_eq!(driver.duration_ticks(Duration::MAX), u64::MAX);
    /// ```
    fn duration_ticks(&self, d: Duration) -> u64;

    /// The time `ticks` ticks take, saturating at `Duration::MAX`: how a
    /// token's [`remaining`](crate::CancelToken::remaining) time is told in
    /// real time. The inverse of [`duration_ticks`](Self::duration_ticks) on
    /// whole ticks.
    ///
    /// ```
    /// use core::time::Duration;
    /// use cancel_token::{ManualDriver, TimerDriver};
    ///
    /// let driver = ManualDriver::new(); // 1 µs ticks
    /// assert_eq!(driver.ticks_duration(2_000), Duration::from_millis(2));
    /// assert_eq!(driver.duration_ticks(driver.ticks_duration(7)), 7);
    /// ```
    fn ticks_duration(&self, ticks: u64) -> Duration;

    /// The `std` instant of tick 0, if the driver's ticks count from one: how
    /// a token's [`deadline_instant`](crate::CancelToken::deadline_instant)
    /// is found without naming the driver. `None` (the default) for a clock
    /// with no relation to `std`'s, such as a firmware tick counter.
    ///
    /// The runtime drivers give the `std::time::Instant` they were made at
    /// (under a paused tokio clock, tokio's instant as `std`'s), and a
    /// [`ManualDriver`](crate::ManualDriver) the instant it was made at,
    /// from which its clock moves only when told.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use cancel_token::{ThreadDriver, TimerDriver};
    ///
    /// let driver = ThreadDriver::new();
    /// let epoch = driver.epoch().unwrap();
    /// assert!(epoch <= Instant::now());
    /// assert_eq!(driver.instant_at(1_500), epoch + Duration::from_millis(1_500));
    /// ```
    #[cfg(feature = "std")]
    fn epoch(&self) -> Option<std::time::Instant> {
        None
    }

    /// The timer state this driver advances: the wheel its deadlines are
    /// armed in, the same one every time.
    ///
    /// ```
    /// use core::time::Duration;
    /// use cancel_token::{CancelSource, TickDriver, TimerDriver};
    ///
    /// static TICKS: TickDriver = TickDriver::new();
    /// let driver = &TICKS;
    /// let timers = driver.timers().get();
    /// assert!(core::ptr::eq(driver.timers().get(), timers));
    ///
    /// let root = CancelSource::new();
    /// let _call = root.token().child_with_timeout_on(driver, Duration::from_millis(5));
    /// assert_eq!(timers.pending(), 1);
    /// TICKS.advance_by(5);
    /// assert_eq!((timers.now(), timers.pending()), (5, 0));
    /// ```
    fn timers(&self) -> TimersHandle<'_>;

    /// Asks for `Timers::advance_to` to be called once tick `tick` is reached:
    /// called by the crate as it arms a deadline earlier than every wake-up
    /// asked for so far; `Err` if the driver has stopped (see the contract).
    ///
    /// A [`TickDriver`](crate::TickDriver) passes `tick` to its alarm hook:
    ///
    /// ```
    /// use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
    /// use core::time::Duration;
    /// use cancel_token::{CancelSource, TickDriver, TimerDriver};
    ///
    /// static TICKS: TickDriver = TickDriver::new();
    /// static ASKED: AtomicU64 = AtomicU64::new(0);
    /// TICKS.set_alarm_hook(|tick| ASKED.store(tick, SeqCst));
    ///
    /// let root = CancelSource::new();
    /// let _call = root.token().child_with_timeout_on(&TICKS, Duration::from_millis(8));
    /// assert_eq!(ASKED.load(SeqCst), 8); // the crate called `wake_at(8)`
    /// assert_eq!((&TICKS).wake_at(3), Ok(()));
    /// assert_eq!(ASKED.load(SeqCst), 3);
    /// ```
    fn wake_at(&self, tick: u64) -> Result<(), DriverStopped>;
}

/// A reference to a driver is a driver: the methods that take one by value
/// ([`CancelToken::child_with_timeout_on`](crate::CancelToken::child_with_timeout_on),
/// [`PinnedDeadline::new`](crate::PinnedDeadline::new), ...) take `&driver`.
/// A driver in a `static` ([`TickDriver`](crate::TickDriver), `EmbassyDriver`)
/// is one as its `&'static` reference, so `&TICKS` is a driver there too.
impl<D: TimerDriver + ?Sized> TimerDriver for &D {
    type Instant = D::Instant;

    fn now(&self) -> D::Instant {
        (**self).now()
    }

    fn ticks_at(&self, at: D::Instant) -> u64 {
        (**self).ticks_at(at)
    }

    fn instant_at(&self, ticks: u64) -> D::Instant {
        (**self).instant_at(ticks)
    }

    fn duration_ticks(&self, d: Duration) -> u64 {
        (**self).duration_ticks(d)
    }

    fn ticks_duration(&self, ticks: u64) -> Duration {
        (**self).ticks_duration(ticks)
    }

    #[cfg(feature = "std")]
    fn epoch(&self) -> Option<std::time::Instant> {
        (**self).epoch()
    }

    fn timers(&self) -> TimersHandle<'_> {
        (**self).timers()
    }

    fn wake_at(&self, tick: u64) -> Result<(), DriverStopped> {
        (**self).wake_at(tick)
    }
}

/// A [`TimerDriver`] whose deadlines are kept in [`Timers`] in a `static`:
/// the drivers a [`PinnedDeadline`](crate::PinnedDeadline) takes.
/// [`TickDriver`](crate::TickDriver) and `EmbassyDriver` are, as their
/// `&'static` references (`&TICKS`).
///
/// ```
/// use core::pin::pin;
/// use cancel_token::{PinnedDeadline, StaticDriver, StaticSource, TickDriver};
///
/// fn arm<D: StaticDriver>(root: &'static StaticSource, driver: D, at: D::Instant) -> bool {
///     let job = pin!(PinnedDeadline::new(root.token_ref(), driver, at));
///     job.as_ref().is_cancelled()
/// }
///
/// static ROOT: StaticSource = StaticSource::new();
/// static TICKS: TickDriver = TickDriver::new();
/// assert!(!arm(&ROOT, &TICKS, 5));
/// ```
///
/// # Safety
///
/// [`timers`](TimerDriver::timers) returns, every time, the handle
/// ([`TimersHandle::from_static`]) of the same timers made by
/// [`Timers::new`] in a `static`, never [shared] ones: a
/// pinned deadline may be cancelled before it is armed, which shared timers'
/// count of the deadlines holding them does not allow for.
///
/// [`Timers`]: crate::Timers
/// [`Timers::new`]: crate::Timers::new
/// [shared]: crate::Timers::new_shared
#[diagnostic::on_unimplemented(
    note = "a `PinnedDeadline` needs a driver whose timers are in a `static`: `&TICKS` of a `static` `TickDriver` or `EmbassyDriver`; on other drivers, deadlines are heap children (`CancelToken::child_with_timeout_on`)"
)]
pub unsafe trait StaticDriver: TimerDriver {}

/// Whole ticks of `hz` per second in `d`, rounded up and saturating at
/// `u64::MAX`: the `duration_ticks` of the crate's drivers.
///
/// In 64-bit arithmetic only (no 128-bit division on the firmware), exact for
/// every `hz` up to `u64::MAX / 1_000_000_000` (18.4 GHz), which the callers'
/// tick rates are.
pub(crate) const fn ticks_ceil(d: Duration, hz: u64) -> u64 {
    let whole = d.as_secs().saturating_mul(hz);
    let part = (d.subsec_nanos() as u64 * hz).div_ceil(1_000_000_000);
    whole.saturating_add(part)
}

/// The time `ticks` ticks of `hz` per second take, saturating: the
/// `ticks_duration` of the crate's drivers.
///
/// In 64-bit arithmetic, exact (to the nanosecond, rounded down) for the
/// same `hz` as [`ticks_ceil`].
pub(crate) const fn ticks_as_duration(ticks: u64, hz: u64) -> Duration {
    let nanos = (ticks % hz) * 1_000_000_000 / hz;
    Duration::new(ticks / hz, nanos as u32)
}

/// A driver can no longer fire deadlines (its runtime has shut down): the
/// error of [`TimerDriver::wake_at`], after which the token being armed is
/// cancelled at once with [`Reason::DeadlineExceeded`](crate::Reason::DeadlineExceeded).
///
/// A `TokioDriver` whose runtime is gone (with the `tokio` feature):
///
/// ```
/// # #[cfg(feature = "tokio")] {
/// use std::time::Duration;
/// use cancel_token::{CancelSource, DriverStopped, Reason, TimerDriver, TokioDriver};
///
/// let runtime = tokio::runtime::Builder::new_current_thread()
///     .enable_time()
///     .build()
///     .unwrap();
/// let driver = TokioDriver::with_handle(runtime.handle());
/// drop(runtime);
/// assert_eq!(driver.wake_at(1), Err(DriverStopped));
/// assert_eq!(DriverStopped.to_string(), "timer driver stopped");
///
/// let root = CancelSource::new();
/// let call = root.token().child_with_timeout_on(&driver, Duration::from_secs(1));
/// assert_eq!(call.reason(), Some(Reason::DeadlineExceeded));
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DriverStopped;

impl fmt::Display for DriverStopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timer driver stopped")
    }
}

impl core::error::Error for DriverStopped {}
