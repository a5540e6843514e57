//! `MsCore`: what `ThreadDriver`, `TokioDriver` and `AsyncIoDriver` are,
//! short of their sleeper's loop: the millisecond clock, the state the
//! handles share with the sleeper, the last handle's drop, and the one
//! `TimerDriver` body ([`timer_driver!`]). Each driver file adds its
//! [`Runtime`] (the clock and the way to wake its sleeper), its sleeper and
//! its docs.

use core::fmt;
use core::time::Duration;
use std::sync::Arc;
use std::task::Wake;
use std::time::Instant;

use crate::driver::ms::Sleeper;
use crate::time::{ticks_ceil, DriverStopped};

/// Ticks per second of the runtime drivers: their ticks are milliseconds.
pub(crate) const MS_HZ: u64 = 1000;

/// What a `std` runtime gives its driver: a clock and a way to wake the
/// driver's sleeper. Implemented by the runtime's wake-up primitive, kept in
/// [`MsCore::runtime`].
pub(crate) trait Runtime: Sized + Send + Sync + 'static {
    /// The driver's instants: `std`'s, or tokio's (which follow a paused
    /// clock), converted to `std`'s at the edge.
    type Instant: Clock;

    /// Wakes the sleeper: for a tick earlier than the one it sleeps until,
    /// at the last handle's drop, or at the disarm that leaves no deadline
    /// armed once no handle is left (see `driver::ms`).
    fn wake(core: &Arc<MsCore<Self>>);
}

/// A runtime's instant and clock.
pub(crate) trait Clock: Copy + Ord + From<Instant> + Into<Instant> {
    /// The current time.
    fn now() -> Self;
}

impl Clock for Instant {
    fn now() -> Self {
        Instant::now()
    }
}

/// What a runtime driver's handles and its sleeper share.
pub(crate) struct MsCore<R> {
    /// The deadlines, the next wake, and whether the sleeper is to end or
    /// has ended.
    pub(crate) sleeper: Sleeper,
    /// Tick 0.
    pub(crate) start: Instant,
    /// Wakes the sleeper (a notify, an event, a reactor timer).
    pub(crate) runtime: R,
}

impl<R: Runtime> MsCore<R> {
    /// The state of a driver whose tick 0 is `start`.
    pub(crate) fn new(start: R::Instant, runtime: R) -> Arc<Self> {
        Arc::new(MsCore {
            sleeper: Sleeper::new(),
            start: start.into(),
            runtime,
        })
    }

    /// The runtime's clock.
    pub(crate) fn now(&self) -> R::Instant {
        R::Instant::now()
    }

    /// The tick the clock is at (whole milliseconds since `start`).
    pub(crate) fn tick_now(&self) -> u64 {
        let d = self.now().into().saturating_duration_since(self.start);
        d.as_secs()
            .saturating_mul(MS_HZ)
            .saturating_add(u64::from(d.subsec_millis()))
    }

    /// The first tick at or after `at`.
    pub(crate) fn ticks_at(&self, at: R::Instant) -> u64 {
        ticks_ceil(at.into().saturating_duration_since(self.start), MS_HZ)
    }

    /// The instant of tick `ticks`; past what `Instant` can represent, about
    /// 30 years after `start` (never, in practice).
    pub(crate) fn instant_at(&self, ticks: u64) -> R::Instant {
        let at = self
            .start
            .checked_add(Duration::from_millis(ticks))
            .or_else(|| {
                self.start
                    .checked_add(Duration::from_secs(86_400 * 365 * 30))
            })
            .unwrap_or(self.start);
        at.into()
    }

    /// The instant the sleeper sleeps until for `target`, as `NextWake::target`
    /// returned it: `None` for `u64::MAX`, until woken.
    pub(crate) fn wake_instant(&self, target: u64) -> Option<R::Instant> {
        (target != u64::MAX).then(|| self.instant_at(target))
    }

    /// `TimerDriver::wake_at`: wakes the sleeper if `tick` is earlier than the
    /// one it sleeps until. Wait-free unless it wakes it.
    pub(crate) fn wake_at(self: &Arc<Self>, tick: u64) -> Result<(), DriverStopped> {
        if self.sleeper.request(tick)? {
            R::wake(self);
        }
        Ok(())
    }
}

/// The sleeper's waker, left in the timers for the disarm that leaves no
/// deadline armed.
impl<R: Runtime> Wake for MsCore<R> {
    fn wake(self: Arc<Self>) {
        R::wake(&self);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        R::wake(self);
    }
}

/// Shared by every clone of a driver; its drop, with the last clone, ends the
/// sleeper once no deadline is armed.
pub(crate) struct Owner<R: Runtime>(pub(crate) Arc<MsCore<R>>);

impl<R: Runtime> Owner<R> {
    /// A handle on `core`.
    pub(crate) fn new(core: Arc<MsCore<R>>) -> Arc<Self> {
        Arc::new(Owner(core))
    }

    /// How many deadlines are armed.
    pub(crate) fn pending(&self) -> usize {
        self.0.sleeper.timers.pending()
    }

    /// See `__private::SleeperProbe`.
    pub(crate) fn probe(&self) -> crate::__private::SleeperProbe {
        let weak: std::sync::Weak<MsCore<R>> = Arc::downgrade(&self.0);
        crate::__private::SleeperProbe(weak)
    }

    /// The driver's `Debug`: its clock and how many deadlines are armed.
    pub(crate) fn debug<'a, 'b>(
        &self,
        f: &'a mut fmt::Formatter<'b>,
        name: &str,
    ) -> fmt::DebugStruct<'a, 'b> {
        let mut d = f.debug_struct(name);
        d.field("now", &self.0.tick_now())
            .field("pending", &self.pending());
        d
    }
}

impl<R: Runtime> Drop for Owner<R> {
    fn drop(&mut self) {
        self.0.sleeper.close();
        R::wake(&self.0);
    }
}

/// Held by a sleeper that is a thread or a task, and dropped as it goes away
/// (also with a task its runtime drops unpolled). Under live handles it does
/// not end, short of its runtime shutting down (or a bug); if it does, its
/// deadlines expire rather than wait forever.
pub(crate) struct StopGuard<R>(pub(crate) Arc<MsCore<R>>);

impl<R> Drop for StopGuard<R> {
    fn drop(&mut self) {
        self.0.sleeper.stopped();
    }
}

/// The `TimerDriver` impl of runtime driver `$driver`, whose `owner` field is
/// an `Arc<Owner<R>>` with `R::Instant` = `$instant`, with the docs of its
/// `wake_at`; and its `pending` and `Debug`, which shows the clock, `pending`
/// and each `$name` as its `$method` returns it.
macro_rules! timer_driver {
    ($driver:ident, $instant:ty, [$($name:literal: $method:ident),*], $(#[$wake_doc:meta])*) => {
        impl $driver {
            /// How many deadlines are armed: a count for tests and
            /// diagnostics (shown for `ThreadDriver`; `TokioDriver` and
            /// `AsyncIoDriver` count alike).
            ///
            /// ```
            /// use std::time::Duration;
            /// use cancel_token::{CancelSource, ThreadDriver};
            ///
            /// let driver = ThreadDriver::new();
            /// let root = CancelSource::new();
            /// let call = root.token().child_with_timeout_on(&driver, Duration::from_secs(60));
            /// assert_eq!(driver.pending(), 1);
            /// call.cancel(); // disarmed at once
            /// assert_eq!(driver.pending(), 0);
            /// ```
            pub fn pending(&self) -> usize {
                self.owner.pending()
            }
        }

        impl core::fmt::Debug for $driver {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                self.owner
                    .debug(f, stringify!($driver))
                    $(.field($name, &self.$method()))*
                    .finish()
            }
        }

        impl $crate::time::TimerDriver for $driver {
            type Instant = $instant;

            fn now(&self) -> $instant {
                self.owner.0.now()
            }

            fn ticks_at(&self, at: $instant) -> u64 {
                self.owner.0.ticks_at(at)
            }

            /// The instant of tick `ticks`, or, past what `Instant` can
            /// represent, about 30 years after the driver's start.
            fn instant_at(&self, ticks: u64) -> $instant {
                self.owner.0.instant_at(ticks)
            }

            fn duration_ticks(&self, d: core::time::Duration) -> u64 {
                $crate::time::ticks_ceil(d, $crate::driver::ms::runtime::MS_HZ)
            }

            fn ticks_duration(&self, ticks: u64) -> core::time::Duration {
                core::time::Duration::from_millis(ticks)
            }

            /// The instant the driver was made at, as `std`'s: its tick 0.
            fn epoch(&self) -> Option<std::time::Instant> {
                Some(self.owner.0.start)
            }

            fn timers(&self) -> $crate::TimersHandle<'_> {
                $crate::TimersHandle::from_shared(&self.owner.0.sleeper.timers)
            }

            $(#[$wake_doc])*
            fn wake_at(&self, tick: u64) -> Result<(), $crate::DriverStopped> {
                self.owner.0.wake_at(tick)
            }
        }
    };
}
pub(crate) use timer_driver;
