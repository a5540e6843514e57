//! `ManualDriver`: a deterministic clock for tests.

use core::fmt;
use core::time::Duration;

use crate::time::{ticks_ceil, DriverStopped, TimerDriver};
use crate::wheel::timers::{SharedTimers, Timers, TimersHandle};

/// A clock that moves only when told to, for tests: deterministic, no thread,
/// no runtime. Ticks are microseconds; instants are the time since the driver
/// was made. Clones share the clock.
///
/// Its deadlines fire only in [`advance_by`](Self::advance_by), by design: nothing
/// else moves its clock, so a deadline whose driver is never advanced again
/// (every clone dropped, say) stays armed until its token is cancelled or
/// dropped.
///
/// ```
/// use std::time::Duration;
/// use cancel_token::{CancelSource, ManualDriver, Reason};
///
/// let driver = ManualDriver::new();
/// let root = CancelSource::new();
/// let call = root.token().child_with_timeout_on(&driver, Duration::from_millis(250));
/// driver.advance_by(Duration::from_millis(250));
/// assert_eq!(call.reason(), Some(Reason::DeadlineExceeded));
/// ```
#[derive(Clone)]
pub struct ManualDriver {
    timers: SharedTimers,
    /// When it was made: what its tick 0 is in `std` time.
    #[cfg(feature = "std")]
    epoch: std::time::Instant,
}

impl ManualDriver {
    /// A clock at zero with no deadlines; clone it to share the clock.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{ManualDriver, TimerDriver};
    ///
    /// let driver = ManualDriver::new();
    /// assert_eq!((driver.now(), driver.pending()), (Duration::ZERO, 0));
    /// let clone = driver.clone();
    /// clone.advance_by(Duration::from_millis(5));
    /// assert_eq!(driver.now(), Duration::from_millis(5)); // one clock
    /// ```
    pub fn new() -> Self {
        ManualDriver {
            timers: Timers::new_shared(),
            #[cfg(feature = "std")]
            epoch: std::time::Instant::now(),
        }
    }

    /// Moves the clock forward by `by` (whole microseconds) and fires every
    /// deadline now due before returning: a test's way to let time pass.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ManualDriver, Reason, TimerDriver};
    ///
    /// let driver = ManualDriver::new();
    /// let root = CancelSource::new();
    /// let call = root.token().child_with_timeout_on(&driver, Duration::from_millis(10));
    /// driver.advance_by(Duration::from_millis(9));
    /// driver.advance_by(Duration::from_nanos(999)); // under a microsecond: dropped
    /// assert!(!call.is_cancelled());
    /// assert_eq!(driver.now(), Duration::from_millis(9));
    /// driver.advance_by(Duration::from_millis(1));
    /// assert_eq!(call.reason(), Some(Reason::DeadlineExceeded));
    /// assert_eq!(driver.now(), Duration::from_millis(10));
    /// ```
    pub fn advance_by(&self, by: Duration) {
        let us = u64::try_from(by.as_micros()).unwrap_or(u64::MAX);
        self.timers.advance_by(us);
    }

    /// How many deadlines are armed: for a test to check that its timeouts
    /// were released.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ManualDriver};
    ///
    /// let driver = ManualDriver::new();
    /// let root = CancelSource::new();
    /// let call = root.token().child_with_timeout_on(&driver, Duration::from_secs(1));
    /// assert_eq!(driver.pending(), 1);
    /// drop(call); // the call ended in time: its timer is freed
    /// assert_eq!(driver.pending(), 0);
    /// ```
    pub fn pending(&self) -> usize {
        self.timers.pending()
    }
}

impl Default for ManualDriver {
    fn default() -> Self {
        Self::new()
    }
}

impl TimerDriver for ManualDriver {
    type Instant = Duration;

    fn now(&self) -> Duration {
        Duration::from_micros(self.timers.now())
    }

    fn ticks_at(&self, at: Duration) -> u64 {
        self.duration_ticks(at)
    }

    fn instant_at(&self, ticks: u64) -> Duration {
        Duration::from_micros(ticks)
    }

    /// Whole microseconds in `d`, rounded up, saturating.
    fn duration_ticks(&self, d: Duration) -> u64 {
        ticks_ceil(d, 1_000_000)
    }

    fn ticks_duration(&self, ticks: u64) -> Duration {
        Duration::from_micros(ticks)
    }

    /// The instant the driver was made at: its tick 0.
    #[cfg(feature = "std")]
    fn epoch(&self) -> Option<std::time::Instant> {
        Some(self.epoch)
    }

    fn timers(&self) -> TimersHandle<'_> {
        TimersHandle::from_shared(&self.timers)
    }

    fn wake_at(&self, _tick: u64) -> Result<(), DriverStopped> {
        Ok(())
    }
}

impl fmt::Debug for ManualDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualDriver")
            .field("now", &TimerDriver::now(self))
            .field("pending", &self.pending())
            .finish()
    }
}
