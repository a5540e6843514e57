//! `TickDriver`: deadlines on bare metal, advanced from an interrupt handler.

use core::fmt;
use core::time::Duration;

use crate::time::{ticks_ceil, DriverStopped, StaticDriver, TimerDriver};
use crate::wheel::timers::{Timers, TimersHandle};

/// A timer driver whose clock is a tick count advanced by the firmware, from a
/// periodic interrupt (SysTick, an RTC) or, in a tickless design, from the alarm
/// it programs for [`next_expiration`](Self::next_expiration). `HZ` is the tick
/// rate (1000 by default: 1 ms ticks). No allocator, no CAS beyond what the
/// critical-section implementation provides; all zeros, so a `static` one costs
/// RAM but no flash.
///
/// Put it in a `static` and pass `&TICKS` as the driver: a
/// `&'static TickDriver` is the [`TimerDriver`] (and [`StaticDriver`]), for a
/// [`PinnedDeadline`](crate::PinnedDeadline) and, with `alloc`, for heap
/// children. A driver in a local variable is refused, as a deadline could
/// outlive it.
///
/// ```
/// use core::time::Duration;
/// use cancel_token::{CancelSource, TickDriver};
///
/// static TICKS: TickDriver = TickDriver::new();
///
/// // In the SysTick handler: `TICKS.advance_by(1);`
/// let root = CancelSource::new();
/// let job = root.token().child_with_timeout_on(&TICKS, Duration::from_millis(5));
/// assert_eq!(TICKS.next_expiration(), Some(5));
/// TICKS.advance_by(5);
/// assert!(job.is_cancelled());
/// ```
///
/// Its deadlines fire only in [`advance_by`](Self::advance_by) and
/// [`advance_to`](Self::advance_to), by design: the firmware's interrupt
/// handler calls them, and a deadline stays armed until it does.
///
/// # Tickless designs
///
/// Program the alarm for [`next_expiration`](Self::next_expiration), call
/// [`advance_to`](Self::advance_to) from its interrupt, and reprogram it for the
/// tick that returns. [`set_alarm_hook`](Self::set_alarm_hook) tells the
/// firmware when a deadline earlier than every wake-up asked for so far is armed
/// (for a [`PinnedDeadline`](crate::PinnedDeadline), when it is first used
/// pinned), so a stopped or later alarm can be moved.
pub struct TickDriver<const HZ: u32 = 1000> {
    timers: Timers,
}

impl<const HZ: u32> TickDriver<HZ> {
    /// A driver at tick 0 with no deadlines, for a `static`.
    ///
    /// ```
    /// use core::time::Duration;
    /// use cancel_token::TickDriver;
    ///
    /// static TICKS: TickDriver = TickDriver::new(); // 1 ms ticks
    /// static RTC: TickDriver<32_768> = TickDriver::new(); // a 32.768 kHz RTC
    /// assert_eq!((TICKS.now(), TICKS.pending()), (0, 0));
    /// assert_eq!(RTC.duration_ticks(Duration::from_secs(2)), 65_536);
    /// ```
    ///
    /// # Panics
    ///
    /// If `HZ` is 0; in a `static`, that is a compile error:
    ///
    /// ```compile_fail,E0080
    /// use cancel_token::TickDriver;
    ///
    /// static NEVER: TickDriver<0> = TickDriver::new();
    /// ```
    #[cfg(not(cancel_token_loom))]
    pub const fn new() -> Self {
        assert!(HZ > 0, "a tick rate of zero");
        TickDriver {
            timers: Timers::new(),
        }
    }

    /// Advances the clock by `ticks` and fires every deadline now due: the
    /// call a periodic tick interrupt makes. Returns the next tick at which
    /// something may be due (for a tickless alarm), `None` if nothing is armed.
    ///
    /// ```
    /// use core::time::Duration;
    /// use cancel_token::{CancelSource, TickDriver};
    ///
    /// static TICKS: TickDriver = TickDriver::new();
    ///
    /// let root = CancelSource::new();
    /// let job = root.token().child_with_timeout_on(&TICKS, Duration::from_millis(3));
    /// assert_eq!(TICKS.advance_by(2), Some(3)); // not due yet
    /// assert!(!job.is_cancelled());
    /// assert_eq!(TICKS.advance_by(1), None); // fired; nothing left armed
    /// assert!(job.is_cancelled());
    /// assert_eq!(TICKS.now(), 3);
    /// ```
    pub fn advance_by(&self, ticks: u64) -> Option<u64> {
        self.timers.advance_by(ticks)
    }

    /// Sets the clock to `now` (if later) and fires every deadline now due:
    /// the call a tickless alarm's interrupt makes, with the hardware
    /// counter's value. Returns what [`advance_by`](Self::advance_by) does.
    ///
    /// ```
    /// use core::time::Duration;
    /// use cancel_token::{CancelSource, Reason, TickDriver};
    ///
    /// static TICKS: TickDriver = TickDriver::new();
    ///
    /// let root = CancelSource::new();
    /// let job = root.token().child_with_timeout_on(&TICKS, Duration::from_millis(10));
    /// assert_eq!(TICKS.advance_to(10), None);
    /// assert_eq!(job.reason(), Some(Reason::DeadlineExceeded));
    /// TICKS.advance_to(4); // earlier: the clock does not go back
    /// assert_eq!(TICKS.now(), 10);
    /// ```
    pub fn advance_to(&self, now: u64) -> Option<u64> {
        self.timers.advance_to(now)
    }

    /// The current tick: the latest the clock was advanced to.
    ///
    /// ```
    /// use cancel_token::TickDriver;
    ///
    /// static TICKS: TickDriver = TickDriver::new();
    /// TICKS.advance_by(3);
    /// TICKS.advance_to(5);
    /// assert_eq!(TICKS.now(), 5);
    /// ```
    pub fn now(&self) -> u64 {
        self.timers.now()
    }

    /// A tick at or before the earliest armed deadline: when a tickless design
    /// should wake next; `None` if no deadline is armed.
    ///
    /// ```
    /// use core::time::Duration;
    /// use cancel_token::{CancelSource, TickDriver};
    ///
    /// static TICKS: TickDriver = TickDriver::new();
    ///
    /// assert_eq!(TICKS.next_expiration(), None);
    /// let root = CancelSource::new();
    /// let job = root.token().child_with_timeout_on(&TICKS, Duration::from_millis(40));
    /// assert!(TICKS.next_expiration().is_some_and(|tick| tick <= 40));
    /// drop(job); // disarmed
    /// assert_eq!(TICKS.next_expiration(), None);
    /// ```
    pub fn next_expiration(&self) -> Option<u64> {
        self.timers.next_expiration()
    }

    /// How many deadlines are armed: a count for tests and diagnostics.
    ///
    /// ```
    /// use core::time::Duration;
    /// use cancel_token::{CancelSource, TickDriver};
    ///
    /// static TICKS: TickDriver = TickDriver::new();
    ///
    /// let root = CancelSource::new();
    /// let a = root.token().child_with_timeout_on(&TICKS, Duration::from_millis(5));
    /// let b = root.token().child_with_timeout_on(&TICKS, Duration::from_millis(50));
    /// assert_eq!(TICKS.pending(), 2);
    /// TICKS.advance_by(5); // `a` fires
    /// b.cancel(); // `b` is disarmed
    /// assert_eq!(TICKS.pending(), 0);
    /// ```
    pub fn pending(&self) -> usize {
        self.timers.pending()
    }

    /// Whole ticks in `d`, rounded up, saturating (64-bit arithmetic only):
    /// how far ahead a timeout of `d` is armed.
    ///
    /// ```
    /// use core::time::Duration;
    /// use cancel_token::TickDriver;
    ///
    /// static RTC: TickDriver<32_768> = TickDriver::new();
    /// assert_eq!(RTC.duration_ticks(Duration::from_millis(1)), 33); // 32.768, rounded up
    /// assert_eq!(RTC.duration_ticks(Duration::ZERO), 0);
    /// assert_eq!(RTC.duration_ticks(Duration::MAX), u64::MAX);
    /// ```
    pub fn duration_ticks(&self, d: Duration) -> u64 {
        ticks_ceil(d, HZ as u64)
    }

    /// Calls `hook` with the tick of each deadline armed earlier than every
    /// wake-up asked for so far, from the context that arms it (thread mode,
    /// usually). A tickless firmware moves its alarm there.
    ///
    /// ```
    /// use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
    /// use core::time::Duration;
    /// use cancel_token::{CancelSource, TickDriver};
    ///
    /// static TICKS: TickDriver = TickDriver::new();
    /// static ALARM: AtomicU64 = AtomicU64::new(u64::MAX);
    ///
    /// // On a chip: program the RTC's compare register.
    /// TICKS.set_alarm_hook(|tick| ALARM.store(tick, SeqCst));
    /// let root = CancelSource::new();
    /// let _slow = root.token().child_with_timeout_on(&TICKS, Duration::from_millis(50));
    /// assert_eq!(ALARM.load(SeqCst), 50);
    /// let fast = root.token().child_with_timeout_on(&TICKS, Duration::from_millis(20));
    /// assert_eq!(ALARM.load(SeqCst), 20); // earlier: the alarm moves
    /// let _other = root.token().child_with_timeout_on(&TICKS, Duration::from_millis(30));
    /// assert_eq!(ALARM.load(SeqCst), 20); // not earlier: no call
    ///
    /// // The alarm's interrupt fires what is due and reprograms the alarm.
    /// let next = TICKS.advance_to(ALARM.load(SeqCst));
    /// assert!(fast.is_cancelled());
    /// assert_eq!(next, Some(30));
    /// ```
    pub fn set_alarm_hook(&self, hook: fn(u64)) {
        self.timers.set_hook(hook);
    }
}

#[cfg(not(cancel_token_loom))]
impl<const HZ: u32> Default for TickDriver<HZ> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const HZ: u32> TimerDriver for &'static TickDriver<HZ> {
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
        TickDriver::duration_ticks(self, d)
    }

    fn ticks_duration(&self, ticks: u64) -> Duration {
        crate::time::ticks_as_duration(ticks, HZ as u64)
    }

    fn timers(&self) -> TimersHandle<'_> {
        TimersHandle::from_static(&self.timers)
    }

    fn wake_at(&self, tick: u64) -> Result<(), DriverStopped> {
        self.timers.call_hook(tick);
        Ok(())
    }
}

// SAFETY: `timers` is always `from_static` of this driver's own timers, made
// by `Timers::new`.
unsafe impl<const HZ: u32> StaticDriver for &'static TickDriver<HZ> {}

impl<const HZ: u32> fmt::Debug for TickDriver<HZ> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TickDriver")
            .field("hz", &HZ)
            .field("now", &self.now())
            .field("pending", &self.pending())
            .finish()
    }
}
