//! Children with a deadline: `child_with_deadline_on`, `child_with_timeout_on`
//! and their forms with a cause for the expiry.

use crate::node::Node;
use crate::{CancelToken, Cause, Reason};

/// A token's effective deadline (with the node it is the deadline of) and
/// the clock root of its tree: what making a deadline child below it needs.
pub(super) type Near = (
    Option<crate::time::deadline::Provided>,
    Option<core::ptr::NonNull<Node>>,
);

#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
impl CancelToken {
    /// A child that is also cancelled, with [`Reason::DeadlineExceeded`], when
    /// `driver`'s clock reaches `at` (Go's `context.WithDeadline`).
    ///
    /// Dropping or cancelling the returned source takes the deadline out of the
    /// driver at once. A deadline at or before the driver's `now` cancels the
    /// child before this returns, on every driver; an instant too
    /// far to count in ticks never fires. If this token already expires no later
    /// on the same driver, no timer is armed. If the driver has stopped, the
    /// child is cancelled at once with `DeadlineExceeded`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ManualDriver, Reason};
    ///
    /// let driver = ManualDriver::new();
    /// let root = CancelSource::new();
    /// let job = root.token().child_with_deadline_on(&driver, Duration::from_secs(5));
    /// driver.advance_by(Duration::from_secs(4));
    /// assert!(!job.is_cancelled());
    /// driver.advance_by(Duration::from_secs(1));
    /// assert_eq!(job.reason(), Some(Reason::DeadlineExceeded));
    /// ```
    pub fn child_with_deadline_on<D: crate::TimerDriver>(
        &self,
        driver: D,
        at: D::Instant,
    ) -> crate::CancelSource {
        self.child_at_instant(driver, at, None)
    }

    /// Like [`child_with_deadline_on`](Self::child_with_deadline_on), and when its
    /// deadline fires, its [`cause`](Self::cause) (and its descendants') is
    /// `cause` (Go's `context.WithDeadlineCause`), so a log can say which
    /// deadline it was.
    ///
    /// Only the child's own deadline reports it: a cancel that reaches the
    /// child first (its source's, an ancestor's, or an earlier deadline's)
    /// reports that cancel's cause. If this token already expires no later
    /// on the same driver, the child arms no timer, as without a cause, and
    /// its expiry is this token's, with this token's cause (as in Go).
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ManualDriver, Reason};
    ///
    /// #[derive(Debug)]
    /// struct DbBudget;
    /// impl core::fmt::Display for DbBudget {
    ///     fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    ///         f.write_str("database budget spent")
    ///     }
    /// }
    /// impl core::error::Error for DbBudget {}
    ///
    /// let driver = ManualDriver::new();
    /// let request = CancelSource::new();
    /// let query = request.child_with_deadline_cause_on(&driver, Duration::from_secs(2), &DbBudget);
    /// assert!(query.cause().is_none()); // live
    /// driver.advance_by(Duration::from_secs(2));
    /// assert_eq!(query.reason(), Some(Reason::DeadlineExceeded));
    /// assert_eq!(query.cause().unwrap().to_string(), "database budget spent");
    /// ```
    pub fn child_with_deadline_cause_on<D: crate::TimerDriver>(
        &self,
        driver: D,
        at: D::Instant,
        cause: impl Into<Cause>,
    ) -> crate::CancelSource {
        self.child_at_instant(driver, at, Some(cause.into()))
    }

    /// A child expiring at `driver`'s instant `at`, with `cause`.
    fn child_at_instant<D: crate::TimerDriver>(
        &self,
        driver: D,
        at: D::Instant,
        cause: Option<Cause>,
    ) -> crate::CancelSource {
        let due = at <= driver.now();
        self.child_at_tick(&driver, driver.ticks_at(at), due, cause)
    }

    /// A child cancelled with [`Reason::DeadlineExceeded`] once `after` has
    /// passed on `driver` (Go's `context.WithTimeout`); see
    /// [`child_with_deadline_on`](Self::child_with_deadline_on). With
    /// `Duration::ZERO` the child is cancelled before this returns.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ManualDriver, Reason};
    ///
    /// let driver = ManualDriver::new();
    /// let root = CancelSource::new();
    /// {
    ///     let request = root.token().child_with_timeout_on(&driver, Duration::from_secs(600));
    ///     assert_eq!(driver.pending(), 1);
    ///     // ... the work ends early: dropping the source frees the timer.
    /// }
    /// assert_eq!(driver.pending(), 0);
    ///
    /// let spent = root.token().child_with_timeout_on(&driver, Duration::ZERO);
    /// assert_eq!(spent.reason(), Some(Reason::DeadlineExceeded));
    /// ```
    pub fn child_with_timeout_on<D: crate::TimerDriver>(
        &self,
        driver: D,
        after: core::time::Duration,
    ) -> crate::CancelSource {
        self.child_after(driver, after, None)
    }

    /// Like [`child_with_timeout_on`](Self::child_with_timeout_on), and when its
    /// deadline fires, its [`cause`](Self::cause) is `cause` (Go's
    /// `context.WithTimeoutCause`); see
    /// [`child_with_deadline_cause_on`](Self::child_with_deadline_cause_on).
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ManualDriver, Reason};
    ///
    /// #[derive(Debug)]
    /// struct SlowUpstream;
    /// impl core::fmt::Display for SlowUpstream {
    ///     fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    ///         f.write_str("upstream took over 250 ms")
    ///     }
    /// }
    /// impl core::error::Error for SlowUpstream {}
    ///
    /// let driver = ManualDriver::new();
    /// let request = CancelSource::new();
    /// let call = request.child_with_timeout_cause_on(&driver, Duration::from_millis(250), &SlowUpstream);
    /// let step = call.child(); // its descendants report the cause too
    /// driver.advance_by(Duration::from_millis(250));
    /// assert!(step.cause().is_some_and(|c| c.is::<SlowUpstream>()));
    ///
    /// // Cancelled otherwise, the child reports that cancel's cause.
    /// let call = request.child_with_timeout_cause_on(&driver, Duration::from_millis(250), &SlowUpstream);
    /// call.cancel();
    /// assert_eq!((call.reason(), call.cause().is_none()), (Some(Reason::Cancelled), true));
    /// ```
    pub fn child_with_timeout_cause_on<D: crate::TimerDriver>(
        &self,
        driver: D,
        after: core::time::Duration,
        cause: impl Into<Cause>,
    ) -> crate::CancelSource {
        self.child_after(driver, after, Some(cause.into()))
    }

    /// A child expiring once `after` has passed on `driver`, with `cause`.
    fn child_after<D: crate::TimerDriver>(
        &self,
        driver: D,
        after: core::time::Duration,
        cause: Option<Cause>,
    ) -> crate::CancelSource {
        let now = driver.ticks_at(driver.now());
        let at = now.saturating_add(driver.duration_ticks(after));
        self.child_at_tick(&driver, at, after.is_zero(), cause)
    }

    /// [`child_after`](Self::child_after), with this token's deadline and
    /// clock root (`deadline_and_clock`) already found.
    pub(super) fn child_after_near<D: crate::TimerDriver>(
        &self,
        driver: D,
        after: core::time::Duration,
        cause: Option<Cause>,
        near: Near,
    ) -> crate::CancelSource {
        let now = driver.ticks_at(driver.now());
        let at = now.saturating_add(driver.duration_ticks(after));
        self.child_at_tick_near(&driver, at, after.is_zero(), cause, near)
    }

    /// A child expiring at tick `at`, or at once if `due`, with `cause`.
    fn child_at_tick<D: crate::TimerDriver + ?Sized>(
        &self,
        driver: &D,
        at: u64,
        due: bool,
        cause: Option<Cause>,
    ) -> crate::CancelSource {
        let near = crate::time::deadline::deadline_and_clock(self.raw());
        self.child_at_tick_near(driver, at, due, cause, near)
    }

    /// [`child_at_tick`](Self::child_at_tick), with this token's deadline
    /// and clock root already found.
    pub(super) fn child_at_tick_near<D: crate::TimerDriver + ?Sized>(
        &self,
        driver: &D,
        at: u64,
        due: bool,
        cause: Option<Cause>,
        (deadline, clock): Near,
    ) -> crate::CancelSource {
        if at == u64::MAX && !due {
            return self.child();
        }
        let timers = driver.timers();
        // As Go's `WithDeadline`: a parent expiring no later on the same
        // driver gives the child its deadline, and no timer is armed.
        let covered = deadline.is_some_and(|(d, holder)| {
            d.is_on(timers) && d.ticks() <= at && crate::time::deadline::cover(holder, at).is_some()
        });
        if covered {
            let child = self.child();
            if due {
                // The parent is due too, whatever its driver has fired so
                // far: the child expires as the parent's deadline would.
                let cause = crate::time::deadline::cause_of_effective(self.raw());
                Node::cancel(child.raw(), Reason::DeadlineExceeded, cause);
            }
            return child;
        }
        let node = crate::time::deadline::new_timed_child(
            self.raw(),
            at,
            timers,
            due,
            cause,
            clock,
            |t| driver.wake_at(t),
        );
        crate::CancelSource::from_node(node)
    }
}
