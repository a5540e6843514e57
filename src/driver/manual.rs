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
/// let call = root.token().child_with_timeout(&driver, Duration::from_millis(250));
/// driver.advance_by(Duration::from_millis(250));
/// assert_eq!(call.reason(), Some(Reason::DeadlineExceeded));
/// ```
#[derive(Clone)]
pub struct ManualDriver {
    timers: SharedTimers,
}

impl ManualDriver {
    /// A clock at zero with no deadlines.
    pub fn new() -> Self {
        ManualDriver {
            timers: Timers::new_shared(),
        }
    }

    /// Moves the clock forward by `by` (whole microseconds) and fires every
    /// deadline now due before returning.
    pub fn advance_by(&self, by: Duration) {
        let us = u64::try_from(by.as_micros()).unwrap_or(u64::MAX);
        self.timers.advance_by(us);
    }

    /// How many deadlines are armed.
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
