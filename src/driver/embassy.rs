//! `EmbassyDriver`: deadlines on embassy-time, from an embassy task.

use core::convert::Infallible;
use core::fmt;
use core::future::{poll_fn, Future};
use core::pin::Pin;
use core::task::Poll;
use core::time::Duration;

use embassy_time::{Instant, Timer, TICK_HZ};

use crate::sync::WakerSlot;
use crate::time::{ticks_ceil, DriverStopped, StaticDriver, TimerDriver};
use crate::wheel::timers::{Timers, TimersHandle};

// `ticks_ceil` is exact for every tick rate embassy-time offers (up to
// 5.24 GHz; its bound is 18.4 GHz).
const _: () = assert!(TICK_HZ <= u64::MAX / 1_000_000_000);

/// A timer driver on [`embassy-time`](https://docs.rs/embassy-time): its
/// clock is embassy's [`Instant`], its ticks are embassy's ticks
/// ([`Instant::as_ticks`], `TICK_HZ` per second), and one embassy
/// [`Timer`] in one task, [`run`](Self::run), fires every deadline.
///
/// No allocator and no `std`: put it in a `static`, spawn `run` as a task, and
/// arm deadlines with `&DEADLINES` (a `&'static EmbassyDriver`) as the driver:
/// heap children with `alloc`, and [`PinnedDeadline`](crate::PinnedDeadline)s
/// without.
///
/// Here on the host, with embassy's `std` executor and time driver:
///
/// ```
/// use core::sync::atomic::{AtomicBool, Ordering::SeqCst};
/// use core::time::Duration;
/// use cancel_token::{CancelSource, EmbassyDriver, Reason};
/// use embassy_executor::Executor;
///
/// static DEADLINES: EmbassyDriver = EmbassyDriver::new();
/// static DONE: AtomicBool = AtomicBool::new(false);
///
/// #[embassy_executor::task]
/// async fn deadlines() -> ! {
///     DEADLINES.run().await
/// }
///
/// #[embassy_executor::task]
/// async fn request(root: CancelSource) {
///     let call = root.token().child_with_timeout_on(&DEADLINES, Duration::from_millis(100));
///     let work = embassy_time::Timer::after_secs(5);
///     let outcome = call.token().run_until_cancelled(work).await;
///     assert_eq!(outcome, Err(Reason::DeadlineExceeded));
///     DONE.store(true, SeqCst);
/// }
///
/// let executor: &'static mut Executor = Box::leak(Box::new(Executor::new()));
/// executor.run_until(
///     |spawner| {
///         spawner.spawn(deadlines().unwrap());
///         spawner.spawn(request(CancelSource::new()).unwrap());
///     },
///     || DONE.load(SeqCst),
/// );
/// ```
///
/// # Lifetime
///
/// The driver lives in a `static`, so it is never dropped and no deadline is
/// lost to a drop. **Deadlines fire only from `run`, while it is polled:**
/// spawn it once, at start-up. A deadline armed before `run` starts, even
/// one whose instant has passed, stays armed (`wake_at` never fails here) and
/// fires as soon as `run` is first polled, which computes the earliest armed
/// deadline. There is no way to stop the driver, so it never reports
/// [`DriverStopped`].
///
/// `run` is a task, not a waker of the driver's own woken by embassy-time at
/// a tick, because embassy-time 0.5 offers no sound way to do the latter:
/// with its default, integrated timer queue,
/// [`schedule_wake`](https://docs.rs/embassy-time-driver/0.2/embassy_time_driver/fn.schedule_wake.html) stores the timer in
/// the embassy task its waker belongs to and accepts only embassy task
/// wakers; the generic queues (`generic-queue-*`) and embassy-time's `std`
/// driver wake expired wakers while holding the queue's lock, so a waker
/// that arms its next wake-up from `wake` would re-enter that lock.
///
/// A panic in a callback run by an expiring deadline (with `std`, where
/// callbacks are panic-safe) propagates out of `run` once the token's other
/// callbacks have run; on targets that abort on panic, it aborts.
///
/// embassy-time 0.5 is an edition-2024 crate: this feature needs Rust 1.85.
pub struct EmbassyDriver {
    timers: Timers,
    /// The `run` task's waker: `wake_at` wakes it to re-arm its timer.
    waker: WakerSlot,
}

impl EmbassyDriver {
    /// A driver with no deadlines, for a `static`. Deadlines may be armed
    /// before [`run`](Self::run) starts; they fire once it does.
    ///
    /// ```
    /// use core::time::Duration;
    /// use cancel_token::{CancelSource, EmbassyDriver};
    ///
    /// static DEADLINES: EmbassyDriver = EmbassyDriver::new();
    ///
    /// let root = CancelSource::new();
    /// let call = root.token().child_with_timeout_on(&DEADLINES, Duration::from_secs(1));
    /// assert_eq!(DEADLINES.pending(), 1); // armed, waiting for `run`
    /// assert!(!call.is_cancelled());
    /// ```
    pub const fn new() -> Self {
        EmbassyDriver {
            timers: Timers::new(),
            waker: WakerSlot::new(),
        }
    }

    /// Fires this driver's deadlines, forever: spawn it as an embassy task.
    ///
    /// It sleeps with an [`embassy_time::Timer`] until the earliest deadline,
    /// fires every due deadline (cancelling those tokens and running their
    /// callbacks in this task), and sleeps again; a token that arms an earlier
    /// deadline wakes it to re-arm its timer. Run it once per driver.
    ///
    /// On the host, with embassy's `std` executor on a thread of its own (on
    /// a chip, spawn it from `main` on the one executor):
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, EmbassyDriver, Reason};
    /// use embassy_executor::Executor;
    ///
    /// static DEADLINES: EmbassyDriver = EmbassyDriver::new();
    ///
    /// #[embassy_executor::task]
    /// async fn deadlines() -> ! {
    ///     DEADLINES.run().await
    /// }
    ///
    /// std::thread::spawn(|| {
    ///     let executor: &'static mut Executor = Box::leak(Box::new(Executor::new()));
    ///     executor.run(|spawner| spawner.spawn(deadlines().unwrap()))
    /// });
    ///
    /// let root = CancelSource::new();
    /// let call = root.token().child_with_timeout_on(&DEADLINES, Duration::from_millis(20));
    /// assert_eq!(call.token().wait(), Reason::DeadlineExceeded); // fired by `run`
    /// assert_eq!(DEADLINES.pending(), 0);
    /// ```
    pub async fn run(&'static self) -> ! {
        // The embassy timer for the earliest deadline, and its tick.
        let mut armed: Option<(u64, Timer)> = None;
        let never: Infallible = poll_fn(|cx| {
            // Registered before reading the deadlines: a `wake_at` that comes
            // after that read wakes this waker.
            self.waker.register(cx.waker());
            loop {
                let now = Instant::now().as_ticks();
                let next = self.timers.advance_to(now).unwrap_or(u64::MAX);
                if next <= now {
                    continue;
                }
                if next == u64::MAX {
                    armed = None;
                    return Poll::Pending;
                }
                let timer = match &mut armed {
                    Some((tick, timer)) if *tick == next => timer,
                    slot => &mut slot.insert((next, Timer::at(Instant::from_ticks(next)))).1,
                };
                if Pin::new(timer).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                armed = None;
            }
        })
        .await;
        match never {}
    }

    /// How many deadlines are armed: a count for tests and diagnostics.
    ///
    /// ```
    /// use core::time::Duration;
    /// use cancel_token::{CancelSource, EmbassyDriver};
    ///
    /// static DEADLINES: EmbassyDriver = EmbassyDriver::new();
    ///
    /// let root = CancelSource::new();
    /// let a = root.token().child_with_timeout_on(&DEADLINES, Duration::from_secs(60));
    /// let b = root.token().child_with_timeout_on(&DEADLINES, Duration::from_secs(60));
    /// assert_eq!(DEADLINES.pending(), 2);
    /// a.cancel(); // disarmed at once, `run` or not
    /// drop(b);
    /// assert_eq!(DEADLINES.pending(), 0);
    /// ```
    pub fn pending(&self) -> usize {
        self.timers.pending()
    }
}

impl Default for EmbassyDriver {
    fn default() -> Self {
        Self::new()
    }
}

impl TimerDriver for &'static EmbassyDriver {
    type Instant = Instant;

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn ticks_at(&self, at: Instant) -> u64 {
        at.as_ticks()
    }

    fn instant_at(&self, ticks: u64) -> Instant {
        Instant::from_ticks(ticks)
    }

    /// Ticks in `d`, rounded up, saturating. Computed from `TICK_HZ` rather
    /// than through `embassy_time::Duration`'s conversion, which truncates to
    /// whole microseconds and can overflow; in 64 bits, with no 128-bit
    /// division on the firmware (a compile-time check bounds `TICK_HZ`).
    fn duration_ticks(&self, d: Duration) -> u64 {
        ticks_ceil(d, TICK_HZ)
    }

    fn ticks_duration(&self, ticks: u64) -> Duration {
        crate::time::ticks_as_duration(ticks, TICK_HZ)
    }

    fn timers(&self) -> TimersHandle<'_> {
        TimersHandle::from_static(&self.timers)
    }

    /// Wakes the `run` task to re-arm its timer; before `run` has started
    /// there is no one to wake, and `run` finds the deadline when it starts.
    fn wake_at(&self, _tick: u64) -> Result<(), DriverStopped> {
        self.waker.wake();
        Ok(())
    }
}

// SAFETY: `timers` is always `from_static` of this driver's own timers, made
// by `Timers::new`.
unsafe impl StaticDriver for &'static EmbassyDriver {}

impl fmt::Debug for EmbassyDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbassyDriver")
            .field("pending", &self.pending())
            .finish()
    }
}
