//! `TickDriver`: deadlines on bare metal, advanced from an interrupt handler.

use core::fmt;
use core::time::Duration;

use crate::timers::{DriverStopped, TimerDriver, Timers, TimersHandle};

/// A timer driver whose clock is a tick count advanced by the firmware, from a
/// periodic interrupt (SysTick, an RTC) or, in a tickless design, from the alarm
/// it programs for [`next_deadline`](Self::next_deadline). No allocator, no CAS
/// beyond what the critical-section implementation provides.
///
/// Put it in a `static`. [`PinnedDeadline`](crate::PinnedDeadline) borrows it;
/// with `alloc`, heap children use `&'static TickDriver` as their driver.
///
/// ```
/// use core::time::Duration;
/// use cancel_token::{CancelSource, TickDriver};
///
/// static TICKS: TickDriver = TickDriver::new(Duration::from_millis(1));
///
/// // In the SysTick handler: `TICKS.advance(1);`
/// let root = CancelSource::new();
/// let ticks: &'static TickDriver = &TICKS;
/// let job = root.token().child_with_timeout(&ticks, Duration::from_millis(5));
/// assert_eq!(TICKS.next_deadline(), Some(5));
/// TICKS.advance(5);
/// assert!(job.is_cancelled());
/// ```
pub struct TickDriver {
    timers: Timers,
    /// Length of one tick in nanoseconds (at least 1).
    tick_ns: u64,
}

impl TickDriver {
    /// A driver whose tick lasts `tick` (rounded to whole nanoseconds, at least 1).
    #[cfg(not(cancel_token_loom))]
    pub const fn new(tick: Duration) -> Self {
        let ns = tick.as_nanos();
        TickDriver {
            timers: Timers::new(),
            tick_ns: if ns == 0 {
                1
            } else if ns > u64::MAX as u128 {
                u64::MAX
            } else {
                ns as u64
            },
        }
    }

    /// Advances the clock by `ticks` and fires every deadline now due.
    /// Returns the next tick at which something may be due (for a tickless alarm).
    ///
    /// Call it from one context at a time (e.g. only the timer interrupt).
    pub fn advance(&self, ticks: u64) -> Option<u64> {
        self.advance_to(self.now().saturating_add(ticks))
    }

    /// Sets the clock to `now` (if later) and fires every deadline now due.
    pub fn advance_to(&self, now: u64) -> Option<u64> {
        self.timers.advance(now)
    }

    /// The current tick.
    pub fn now(&self) -> u64 {
        self.timers.now()
    }

    /// A tick at or before the earliest armed deadline: when a tickless design
    /// should wake next.
    pub fn next_deadline(&self) -> Option<u64> {
        self.timers.next_expiration()
    }

    /// How many deadlines are armed.
    pub fn pending(&self) -> usize {
        self.timers.pending()
    }

    /// Whole ticks in `d`, rounded up.
    pub fn ticks_in(&self, d: Duration) -> u64 {
        let ticks = d.as_nanos().div_ceil(self.tick_ns as u128);
        u64::try_from(ticks).unwrap_or(u64::MAX)
    }

    pub(crate) fn timers(&self) -> &Timers {
        &self.timers
    }

    /// A periodic tick needs no wake-up request.
    pub(crate) fn wake_at_tick(&self, _tick: u64) -> Result<(), DriverStopped> {
        Ok(())
    }
}

impl TimerDriver for &'static TickDriver {
    type Instant = u64;

    fn now(&self) -> u64 {
        TickDriver::now(self)
    }

    fn ticks_at(&self, at: u64) -> u64 {
        at
    }

    fn instant_at(&self, ticks: u64) -> u64 {
        ticks
    }

    fn duration_ticks(&self, d: Duration) -> u64 {
        self.ticks_in(d)
    }

    fn timers(&self) -> TimersHandle {
        TimersHandle::from_static(&self.timers)
    }

    fn wake_at(&self, tick: u64) -> Result<(), DriverStopped> {
        self.wake_at_tick(tick)
    }
}

impl fmt::Debug for TickDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TickDriver")
            .field("now", &self.now())
            .field("pending", &self.pending())
            .finish()
    }
}
