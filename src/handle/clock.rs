//! A tree's clock: roots bound to a driver, the deadline children that name
//! no driver, a token's remaining time, and detached roots.
//!
//! A clock root (`kind::ClockNode`) keeps its driver; every descendant finds
//! it in one step (`kind::clock_root`). A tree with no clock root uses
//! [`ThreadDriver::global`](crate::ThreadDriver::global) with `std`, and
//! panics at the call that needs a clock without.

use core::ptr::NonNull;
use core::time::Duration;

use crate::node::kind::{clock_of, clock_root, new_clock_root, TimedNode};
use crate::node::Node;
use crate::time::deadline::{deadline_and_clock, effective, reset, Refused};
use crate::wheel::clock::Clock;
use crate::{CancelSource, CancelToken, Cause, TimerDriver};

/// The clock of `node`'s tree: its clock root's driver; with no clock root,
/// `ThreadDriver::global()` with `std`, and `None` without.
///
/// # Safety
/// `node` is alive for `'a` (the caller borrows a handle on it).
unsafe fn tree_clock<'a>(node: NonNull<Node>) -> Option<&'a dyn Clock> {
    // SAFETY: by the caller's guarantee.
    unsafe { clock_or_fallback(clock_root(node)) }
}

/// The clock kept by clock root `root`; with none, `ThreadDriver::global()`
/// with `std`, and `None` without.
///
/// # Safety
/// `root` is the clock root of a node alive for `'a`, or `None`.
unsafe fn clock_or_fallback<'a>(root: Option<NonNull<Node>>) -> Option<&'a dyn Clock> {
    match root {
        // SAFETY: by the caller's guarantee; its clock lives as long.
        Some(root) => Some(unsafe { clock_of(root) }),
        #[cfg(feature = "std")]
        None => Some(crate::ThreadDriver::global() as &dyn Clock),
        #[cfg(not(feature = "std"))]
        None => None,
    }
}

/// [`clock_or_fallback`], for a call that cannot go on without a clock: a
/// panic that names the fix.
///
/// # Safety
/// As for `clock_or_fallback`.
#[track_caller]
unsafe fn needed_clock<'a>(root: Option<NonNull<Node>>) -> &'a dyn Clock {
    // SAFETY: by the caller's guarantee.
    match unsafe { clock_or_fallback(root) } {
        Some(clock) => clock,
        None => panic!(
            "the token's tree has no clock: make its root with `CancelSource::with_clock(driver)`, \
             or name the driver (`child_with_timeout_on`)"
        ),
    }
}

/// The tick of `clock` at `std`'s instant `at`, rounded up: through the
/// clock's epoch, or, on a clock with none, as a timeout of
/// `at - Instant::now()` from its current tick.
#[cfg(feature = "std")]
fn tick_at_std(clock: &dyn Clock, at: std::time::Instant) -> u64 {
    match clock.epoch() {
        Some(epoch) => Clock::duration_ticks(clock, at.saturating_duration_since(epoch)),
        None => {
            let after = at.saturating_duration_since(std::time::Instant::now());
            clock
                .now_ticks()
                .saturating_add(Clock::duration_ticks(clock, after))
        }
    }
}

/// The time left before `node` expires, on its tree's clock; see
/// [`CancelToken::remaining`].
///
/// # Safety
/// `node` is alive until this returns.
pub(crate) unsafe fn remaining(node: NonNull<Node>) -> Option<Duration> {
    let deadline = effective(node)?;
    // SAFETY: by the caller's guarantee; the clock is not kept.
    let clock = unsafe { tree_clock(node) }?;
    left(deadline, clock)
}

/// [`remaining`] on a clock root's clock only: `None` in a tree without
/// one, where `remaining` falls back on `ThreadDriver::global()`, which
/// `Debug` must not make.
///
/// # Safety
/// `node` is alive until this returns.
pub(crate) unsafe fn remaining_on_its_root(node: NonNull<Node>) -> Option<Duration> {
    let root = clock_root(node)?;
    let deadline = effective(node)?;
    // SAFETY: the clock root of a live node; the clock is not kept.
    left(deadline, unsafe { clock_of(root) })
}

/// The time from `clock`'s now to `deadline`, if it is on that clock.
fn left(deadline: crate::Deadline, clock: &dyn Clock) -> Option<Duration> {
    let now = clock.now_ticks();
    deadline
        .is_on(clock.timers())
        .then(|| clock.ticks_duration(deadline.ticks().saturating_sub(now)))
}

/// The instant `node` expires at, on its tree's clock; see
/// [`CancelToken::deadline_instant`].
///
/// # Safety
/// `node` is alive until this returns.
#[cfg(feature = "std")]
pub(crate) unsafe fn deadline_instant(node: NonNull<Node>) -> Option<std::time::Instant> {
    let deadline = effective(node)?;
    // SAFETY: by the caller's guarantee; the clock is not kept.
    let clock = unsafe { tree_clock(node) }?;
    if !deadline.is_on(clock.timers()) {
        return None;
    }
    clock
        .epoch()?
        .checked_add(clock.ticks_duration(deadline.ticks()))
}

/// Why [`CancelSource::reset_timeout`] (or `reset_deadline`) left a
/// deadline where it was.
///
/// ```
/// use std::time::Duration;
/// use cancel_token::{CancelSource, ManualDriver, ResetError};
///
/// let root = CancelSource::with_clock(ManualDriver::new());
/// let plain = root.child();
/// assert_eq!(plain.reset_timeout(Duration::from_secs(1)), Err(ResetError::NoDeadline));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetError {
    /// The source is cancelled, or its deadline has passed on the clock
    /// (the driver is about to fire it): there is no deadline left to move.
    Cancelled,
    /// The move is later, and a child took this deadline as its own (a
    /// child whose timeout was no earlier arms no timer, as in Go): moving
    /// it would give that child more time than it asked for.
    Covered,
    /// The source has no deadline on its tree's clock to move: it was made
    /// by `child()` or `new()`, by an `_on` form on another driver, or in a
    /// tree with no clock root ([`CancelSource::with_clock`]).
    NoDeadline,
}

impl core::fmt::Display for ResetError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ResetError::Cancelled => "the source is cancelled",
            ResetError::Covered => "a child took this deadline as its own",
            ResetError::NoDeadline => "the source has no deadline on its tree's clock",
        })
    }
}

impl core::error::Error for ResetError {}

#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
impl CancelSource {
    /// Moves this source's deadline to `after` from now on its tree's clock,
    /// earlier or later, in O(1) (.NET's `CancelAfter`, Trio's mutable
    /// `deadline`): a watchdog fed as work makes progress, an idle timeout
    /// pushed back by each message. `Duration::ZERO` expires it at once, and
    /// `Duration::MAX` takes it out of the clock (it then never expires).
    ///
    /// The source is one with a deadline on its tree's clock: made by
    /// [`child_with_timeout`](CancelToken::child_with_timeout) or
    /// [`child_with_deadline`](CancelToken::child_with_deadline) (or their
    /// `_cause` forms), or a clock root ([`with_clock`](Self::with_clock),
    /// [`child_with_clock`](CancelToken::child_with_clock)), which starts
    /// with none. Its deadline stays within its parent's: a later one is
    /// capped at the parent's. Tokens below follow the move: those without
    /// a deadline of their own expire at the new one, and `deadline()` and
    /// `remaining()` report it. A move later is refused
    /// ([`ResetError::Covered`]) once a child has taken this deadline as its
    /// own, as a child whose timeout was no earlier does instead of arming a
    /// timer of its own. A deadline the clock has reached is not brought
    /// back: the move is refused ([`ResetError::Cancelled`]) even before the
    /// driver fires it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ManualDriver, Reason};
    ///
    /// let driver = ManualDriver::new();
    /// let conn = CancelSource::with_clock(driver.clone());
    /// let idle = conn.child_with_timeout(Duration::from_secs(30));
    /// for _ in 0..3 {
    ///     driver.advance_by(Duration::from_secs(20));
    ///     idle.reset_timeout(Duration::from_secs(30)).unwrap(); // a message came
    /// }
    /// assert!(!idle.is_cancelled());
    /// assert_eq!(driver.pending(), 1); // moved, not added
    /// driver.advance_by(Duration::from_secs(30));
    /// assert_eq!(idle.reason(), Some(Reason::DeadlineExceeded));
    /// ```
    pub fn reset_timeout(&self, after: Duration) -> Result<(), ResetError> {
        let (node, clock) = self.deadline_on_clock()?;
        let now = clock.now_ticks();
        let at = now.saturating_add(Clock::duration_ticks(clock, after));
        self.reset_to(node, clock, at, now)
    }

    /// Moves this source's deadline to `at` on its tree's clock, as
    /// [`reset_timeout`](Self::reset_timeout) does, with `at` taken as
    /// [`child_with_deadline`](CancelToken::child_with_deadline) takes it.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use cancel_token::{CancelSource, ManualDriver};
    ///
    /// let driver = ManualDriver::new();
    /// let root = CancelSource::with_clock(driver.clone());
    /// let job = root.child_with_timeout(Duration::from_secs(60));
    /// let sooner = job.deadline_instant().unwrap() - Duration::from_secs(50);
    /// job.reset_deadline(sooner).unwrap();
    /// assert_eq!(job.remaining(), Some(Duration::from_secs(10)));
    /// # let _ = Instant::now();
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn reset_deadline(&self, at: std::time::Instant) -> Result<(), ResetError> {
        let (node, clock) = self.deadline_on_clock()?;
        let now = clock.now_ticks();
        self.reset_to(node, clock, tick_at_std(clock, at), now)
    }

    /// This source's timed node and its tree's clock, if its deadline is on it.
    fn deadline_on_clock(&self) -> Result<(NonNull<Node>, &dyn Clock), ResetError> {
        let node = self.raw();
        // SAFETY: we own the source.
        if !unsafe { node.as_ref() }.is_timed() {
            return Err(ResetError::NoDeadline);
        }
        // SAFETY: a timed node, alive while we own its source.
        let timed = unsafe { node.cast::<TimedNode>().as_ref() };
        let root = timed.clock().ok_or(ResetError::NoDeadline)?;
        // SAFETY: the clock root of the node's tree, alive while it is.
        let clock = unsafe { clock_of(root) };
        if clock.timers().id() != timed.timers_id() {
            return Err(ResetError::NoDeadline);
        }
        Ok((node, clock))
    }

    /// Moves the deadline of `node` (this source's) to tick `at` of `clock`,
    /// whose time was `now` before.
    fn reset_to(
        &self,
        node: NonNull<Node>,
        clock: &dyn Clock,
        at: u64,
        now: u64,
    ) -> Result<(), ResetError> {
        let wake_at = |t| Clock::wake_at(clock, t).map_err(|()| crate::DriverStopped);
        // SAFETY: our timed node, on `clock`'s timers (`deadline_on_clock`).
        let moved = unsafe { reset(node, at, now, wake_at) };
        moved.map_err(|refused| match refused {
            Refused::Cancelled => ResetError::Cancelled,
            Refused::Covered => ResetError::Covered,
        })
    }

    /// A root whose tree keeps `driver`'s clock: every descendant's
    /// [`child_with_timeout`](CancelToken::child_with_timeout) and
    /// [`remaining`](CancelToken::remaining) use it, with no driver named.
    /// Bind the root once, where the runtime is chosen; a library deep
    /// inside then follows the app's clock (tokio's paused one in tests).
    ///
    /// `driver` is kept by the root, as one more handle on the driver, until
    /// the tree is gone: any driver that is `Clone` and owns what it uses
    /// (`TokioDriver::current()`, `ThreadDriver::global()`, a
    /// `ManualDriver`, `&TICKS` of a `static` `TickDriver`). The root costs
    /// one allocation more than [`new`](Self::new), once; its heap children
    /// are one pointer larger than a plain child (72 bytes), as children
    /// below a deadline are.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, CancelToken, ManualDriver, Reason};
    ///
    /// /// A library's call with its own budget: no runtime, no driver named.
    /// fn attempt(parent: &CancelToken) -> CancelSource {
    ///     parent.child_with_timeout(Duration::from_millis(200))
    /// }
    ///
    /// let driver = ManualDriver::new();
    /// let app = CancelSource::with_clock(driver.clone());
    /// let part = app.child(); // any depth below the root
    /// let call = attempt(&part);
    /// assert_eq!(call.remaining(), Some(Duration::from_millis(200)));
    /// driver.advance_by(Duration::from_millis(200));
    /// assert_eq!(call.reason(), Some(Reason::DeadlineExceeded));
    /// ```
    pub fn with_clock<D: TimerDriver + Clone + Send + Sync + 'static>(driver: D) -> CancelSource {
        CancelSource::from_node(new_clock_root(None, alloc::boxed::Box::new(driver), true))
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
impl CancelToken {
    /// A child whose subtree keeps `driver`'s clock instead of this tree's:
    /// cancelled with this token, as any child, and the root of a clock of
    /// its own (see [`CancelSource::with_clock`]). Its deadline is this
    /// token's.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ManualDriver};
    ///
    /// let app = ManualDriver::new();
    /// let test = ManualDriver::new();
    /// let root = CancelSource::with_clock(app.clone());
    /// let part = root.child_with_clock(test.clone());
    /// let call = part.child_with_timeout(Duration::from_secs(1));
    /// assert_eq!((app.pending(), test.pending()), (0, 1));
    /// root.cancel();
    /// assert!(call.is_cancelled());
    /// ```
    pub fn child_with_clock<D: TimerDriver + Clone + Send + Sync + 'static>(
        &self,
        driver: D,
    ) -> CancelSource {
        let node = new_clock_root(Some(self.raw()), alloc::boxed::Box::new(driver), true);
        CancelSource::from_node(node)
    }

    /// A token on this token's clock that no cancellation reaches (Go's
    /// `context.WithoutCancel`): for work that must outlive the request that
    /// started it (an audit write, a cache fill), and that can still take a
    /// timeout on the same clock. It has no deadline and is never cancelled,
    /// as [`CancelToken::never`], but its children's deadlines follow the
    /// tree's clock. It is a new root, freed with its last handle.
    ///
    /// In a tree with no clock, the new root has none either (see
    /// [`child_with_timeout`](Self::child_with_timeout) for what that
    /// means).
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ManualDriver, Reason};
    ///
    /// let driver = ManualDriver::new();
    /// let server = CancelSource::with_clock(driver.clone());
    /// let request = server.child_with_timeout(Duration::from_millis(100));
    /// let audit = request.detached().child_with_timeout(Duration::from_secs(5));
    /// request.cancel(); // the client went away
    /// assert!(!audit.is_cancelled());
    /// assert_eq!(audit.remaining(), Some(Duration::from_secs(5)));
    /// driver.advance_by(Duration::from_secs(5)); // the server's clock
    /// assert_eq!(audit.reason(), Some(Reason::DeadlineExceeded));
    /// ```
    pub fn detached(&self) -> CancelToken {
        match clock_root(self.raw()) {
            Some(root) => {
                // SAFETY: a clock root above this token, alive while it is.
                let clock = unsafe { clock_of(root) }.clone_box();
                CancelToken::from_ref(new_clock_root(None, clock, false))
            }
            None => CancelToken::never(),
        }
    }

    /// A child cancelled with [`Reason::DeadlineExceeded`](crate::Reason::DeadlineExceeded)
    /// once `after` has passed on this tree's clock (Go's
    /// `context.WithTimeout`); the forms that name a driver are the `_on`
    /// ones ([`child_with_timeout_on`](Self::child_with_timeout_on)), whose
    /// rules this follows: dropping the source frees the timer at once,
    /// `Duration::ZERO` cancels the child before this returns, and a parent
    /// expiring no later on the same clock arms no timer.
    ///
    /// The clock is the one the tree's root was bound to
    /// ([`CancelSource::with_clock`]). A tree with no clock uses
    /// [`ThreadDriver::global()`](crate::ThreadDriver::global) with `std`:
    /// real time, on a thread of its own, whatever runtime the caller runs
    /// (so it does not follow tokio's paused clock). Without `std` there is
    /// no such default.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ThreadDriver, TimerDriver};
    ///
    /// // No clock bound: the process-wide thread driver, said out loud.
    /// let root = CancelSource::new();
    /// let call = root.child_with_timeout(Duration::from_secs(30));
    /// let deadline = call.deadline().unwrap();
    /// assert!(deadline.instant(ThreadDriver::global()).is_some());
    /// ```
    ///
    /// # Panics
    ///
    /// Without `std`, if the tree has no clock: bind its root
    /// ([`CancelSource::with_clock`]) or name the driver.
    #[track_caller]
    pub fn child_with_timeout(&self, after: Duration) -> CancelSource {
        let near = deadline_and_clock(self.raw());
        // SAFETY: the clock root of this token, which we borrow; the clock is
        // not kept past it.
        let clock = unsafe { needed_clock(near.1) };
        self.child_after_near(clock, after, None, near)
    }

    /// Like [`child_with_timeout`](Self::child_with_timeout), and when its
    /// deadline fires its [`cause`](Self::cause) is `cause` (Go's
    /// `context.WithTimeoutCause`); see
    /// [`child_with_deadline_cause_on`](Self::child_with_deadline_cause_on)
    /// for the rules.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ManualDriver};
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
    /// let request = CancelSource::with_clock(driver.clone());
    /// let call = request.child_with_timeout_cause(Duration::from_millis(250), &SlowUpstream);
    /// driver.advance_by(Duration::from_millis(250));
    /// assert!(call.cause().is_some_and(|c| c.is::<SlowUpstream>()));
    /// ```
    ///
    /// # Panics
    ///
    /// As [`child_with_timeout`](Self::child_with_timeout).
    #[track_caller]
    pub fn child_with_timeout_cause(
        &self,
        after: Duration,
        cause: impl Into<Cause>,
    ) -> CancelSource {
        let near = deadline_and_clock(self.raw());
        // SAFETY: as in `child_with_timeout`.
        let clock = unsafe { needed_clock(near.1) };
        self.child_after_near(clock, after, Some(cause.into()), near)
    }

    /// A child cancelled with [`Reason::DeadlineExceeded`](crate::Reason::DeadlineExceeded)
    /// at `at` on this tree's clock (Go's `context.WithDeadline`); see
    /// [`child_with_timeout`](Self::child_with_timeout) for the clock and
    /// the rules.
    ///
    /// `at` becomes a tick of the clock through its
    /// [`epoch`](TimerDriver::epoch), rounded up (a deadline never fires
    /// early); an `at` at or before the clock's current tick cancels the
    /// child before this returns. On a clock with no epoch (a firmware tick
    /// counter), `at` is taken as a timeout of `at - Instant::now()`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use cancel_token::{CancelSource, ManualDriver, Reason};
    ///
    /// let driver = ManualDriver::new();
    /// let root = CancelSource::with_clock(driver.clone());
    /// let budget = root.child_with_timeout(Duration::from_secs(2));
    /// // Pass the caller's deadline on, as an instant.
    /// let at: Instant = budget.deadline_instant().unwrap();
    /// let call = root.child_with_deadline(at);
    /// assert_eq!(call.remaining(), Some(Duration::from_secs(2)));
    /// driver.advance_by(Duration::from_secs(2));
    /// assert_eq!(call.reason(), Some(Reason::DeadlineExceeded));
    /// ```
    ///
    /// # Panics
    ///
    /// As [`child_with_timeout`](Self::child_with_timeout).
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[track_caller]
    pub fn child_with_deadline(&self, at: std::time::Instant) -> CancelSource {
        self.child_at_std(at, None)
    }

    /// Like [`child_with_deadline`](Self::child_with_deadline), and when its
    /// deadline fires its [`cause`](Self::cause) is `cause` (Go's
    /// `context.WithDeadlineCause`).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use cancel_token::{CancelSource, ManualDriver};
    ///
    /// #[derive(Debug)]
    /// struct Closing;
    /// impl core::fmt::Display for Closing {
    ///     fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    ///         f.write_str("the store closes")
    ///     }
    /// }
    /// impl core::error::Error for Closing {}
    ///
    /// let driver = ManualDriver::new();
    /// let root = CancelSource::with_clock(driver.clone());
    /// let at = Instant::now() + Duration::from_secs(60);
    /// let job = root.child_with_deadline_cause(at, &Closing);
    /// driver.advance_by(Duration::from_secs(61));
    /// assert_eq!(job.cause().unwrap().to_string(), "the store closes");
    /// ```
    ///
    /// # Panics
    ///
    /// As [`child_with_timeout`](Self::child_with_timeout).
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[track_caller]
    pub fn child_with_deadline_cause(
        &self,
        at: std::time::Instant,
        cause: impl Into<Cause>,
    ) -> CancelSource {
        self.child_at_std(at, Some(cause.into()))
    }

    /// A child expiring at `std`'s instant `at` on the tree's clock.
    #[cfg(feature = "std")]
    #[track_caller]
    fn child_at_std(&self, at: std::time::Instant, cause: Option<Cause>) -> CancelSource {
        let near = deadline_and_clock(self.raw());
        // SAFETY: as in `child_with_timeout`.
        let clock = unsafe { needed_clock(near.1) };
        let tick = tick_at_std(clock, at);
        let due = tick <= clock.now_ticks();
        self.child_at_tick_near(clock, tick, due, cause, near)
    }

    /// The time left before this token expires, on its tree's clock: its
    /// caller's budget, for a library to pass on (a `grpc-timeout` header,
    /// a socket timeout). `Duration::ZERO` once its deadline has passed;
    /// `None` if it has no deadline, or its deadline is on a driver other
    /// than the tree's clock (one named with an `_on` form: ask
    /// [`deadline`](Self::deadline) with that driver).
    ///
    /// One step to the deadline and one to the clock at any depth, then one
    /// reading of the clock.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ManualDriver};
    ///
    /// let driver = ManualDriver::new();
    /// let root = CancelSource::with_clock(driver.clone());
    /// assert_eq!(root.remaining(), None);
    /// let request = root.child_with_timeout(Duration::from_secs(10));
    /// let step = request.child().child(); // deep inside
    /// driver.advance_by(Duration::from_secs(4));
    /// assert_eq!(step.remaining(), Some(Duration::from_secs(6)));
    /// driver.advance_by(Duration::from_secs(6));
    /// assert_eq!(step.remaining(), Some(Duration::ZERO));
    /// ```
    pub fn remaining(&self) -> Option<Duration> {
        // SAFETY: we borrow the token.
        unsafe { remaining(self.raw()) }
    }

    /// When this token expires, as a `std` instant (Go's `ctx.Deadline()`),
    /// on its tree's clock: the [`deadline`](Self::deadline) through the
    /// clock's [`epoch`](TimerDriver::epoch). `None` if it has no deadline,
    /// its deadline is on a driver other than the tree's clock, or the clock
    /// has no epoch (a firmware tick counter: use
    /// [`remaining`](Self::remaining)).
    ///
    /// On a tokio clock this is tokio's instant as `std`'s, so
    /// `tokio::time::Instant::from_std` gives it back, paused clock and all.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ThreadDriver, TimerDriver};
    ///
    /// let driver = ThreadDriver::new();
    /// let root = CancelSource::with_clock(driver.clone());
    /// let call = root.child_with_timeout(Duration::from_secs(5));
    /// let at = call.deadline_instant().unwrap();
    /// assert_eq!(Some(at), call.deadline().unwrap().instant(&driver));
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn deadline_instant(&self) -> Option<std::time::Instant> {
        // SAFETY: we borrow the token.
        unsafe { deadline_instant(self.raw()) }
    }
}
