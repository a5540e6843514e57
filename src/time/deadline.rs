//! Tokens with a deadline: arming a timed node (`kind::TimedNode`), firing
//! the due ones, and a token's effective deadline.

use core::fmt;
use core::ptr::NonNull;

#[cfg(feature = "alloc")]
use crate::node::kind::Ownership;
use crate::node::kind::{expiry_cause, holder, node_of, TimedNode};
#[cfg(feature = "alloc")]
use crate::node::state::State;
use crate::node::Node;
use crate::wheel::timers::{Timers, TimersHandle, TimersId};
use crate::Reason;

impl Timers {
    /// Fires every deadline at or before `now` (cancelling those tokens with
    /// [`Reason::DeadlineExceeded`], with no lock held), and returns the tick at
    /// which to call again, if any deadline is left.
    ///
    /// A `now` earlier than a previous call's is treated as that call's.
    ///
    /// ```
    /// use cancel_token::Timers;
    ///
    /// static TIMERS: Timers = Timers::new();
    /// assert_eq!(TIMERS.advance_to(10), None); // nothing armed
    /// TIMERS.advance_to(4); // the clock does not go back
    /// assert_eq!(TIMERS.now(), 10);
    /// ```
    pub fn advance_to(&self, now: u64) -> Option<u64> {
        self.advance_with(|_| now)
    }

    /// Moves the clock forward by `ticks` (added under the lock, so concurrent
    /// calls add up) and fires what is due, as [`advance_to`](Self::advance_to) does.
    ///
    /// ```
    /// use cancel_token::Timers;
    ///
    /// static TIMERS: Timers = Timers::new();
    /// std::thread::scope(|s| {
    ///     for _ in 0..4 {
    ///         s.spawn(|| TIMERS.advance_by(5));
    ///     }
    /// });
    /// assert_eq!(TIMERS.now(), 20);
    /// ```
    pub fn advance_by(&self, ticks: u64) -> Option<u64> {
        self.advance_with(|now| now.saturating_add(ticks))
    }

    /// `advance_to` the tick `target` computes from the current one.
    fn advance_with(&self, target: impl FnOnce(u64) -> u64) -> Option<u64> {
        let mut target = Some(target);
        loop {
            let due = self.pop_due(
                |now| target.take().map_or(now, |target| target(now)),
                |e| {
                    // SAFETY: an entry in the wheel belongs to a live timed node
                    // (a node takes its entry out before it can be freed, under
                    // the wheel's lock, which `pop_due` holds), so taking a
                    // reference here is sound.
                    let this = unsafe { node_of(e) };
                    // SAFETY: as above.
                    unsafe { this.as_ref() }.inc_ref();
                    this
                },
            );
            let this = match due {
                Ok(this) => this,
                Err(next) => return next,
            };
            // Gives back the reference taken above, even if a callback panics.
            struct DropRef(NonNull<Node>);
            impl Drop for DropRef {
                fn drop(&mut self) {
                    // SAFETY: we own the reference taken under the lock.
                    unsafe { crate::node::refs::drop_ref(self.0) };
                }
            }
            let _drop_ref = DropRef(this);
            expire(this);
        }
    }
}

/// Arms the deadline of a linked timed node, unless the node is cancelled; cancels
/// it at once if the deadline is already due or the driver has stopped.
///
/// # Safety
/// `this` is a live timed node, not armed before, with its whole provenance.
pub(crate) unsafe fn arm(
    this: NonNull<Node>,
    wake_at: impl FnOnce(u64) -> Result<(), crate::DriverStopped>,
) {
    let t = this.cast::<TimedNode>();
    // SAFETY: live, by the caller's guarantee.
    let timed = unsafe { t.as_ref() };
    let guard = timed.node.lock();
    if guard.is_cancelled() {
        return;
    }
    // SAFETY: we hold the node's lock and it is live, so not disarmed (cancel
    // disarms under it); the entry is not inserted, and the node stays put
    // until it is removed.
    let armed = unsafe { timed.timers().insert(TimedNode::entry_ptr(t), timed.at()) };
    drop(guard);
    finish_arm(this, armed, wake_at);
}

/// Asks the driver to wake if the new deadline is its earliest; cancels the
/// node if the deadline was already due or the driver has stopped.
fn finish_arm(
    this: NonNull<Node>,
    armed: Result<Option<u64>, ()>,
    wake_at: impl FnOnce(u64) -> Result<(), crate::DriverStopped>,
) {
    let stopped = match armed {
        Ok(None) => false,
        Ok(Some(tick)) => wake_at(tick).is_err(),
        Err(()) => true,
    };
    if stopped {
        if armed.is_ok() {
            // SAFETY: live (the caller holds it) and not cancelled yet, so not
            // disarmed; the driver took no request.
            unsafe { this.cast::<TimedNode>().as_ref().timers() }.forget_wake();
        }
        expire(this);
    }
}

/// Cancels a timed node as its deadline fires: with `DeadlineExceeded`, and
/// the cause it was made with, if any.
fn expire(this: NonNull<Node>) {
    // SAFETY: the caller holds the node (a reference, or its owner's borrow).
    let cause = expiry_cause(unsafe { this.as_ref() });
    Node::cancel(this, Reason::DeadlineExceeded, cause);
}

/// A new heap timed child of `parent`, linked and armed; cancelled before
/// this returns if `due` (its deadline is not later than the driver's clock,
/// whatever tick the timers were last advanced to). Its expiry reports
/// `cause`, if given; `clock` is its tree's clock root.
#[cfg(feature = "alloc")]
pub(crate) fn new_timed_child(
    parent: NonNull<Node>,
    at: u64,
    timers: TimersHandle<'_>,
    due: bool,
    cause: Option<crate::Cause>,
    clock: Option<NonNull<Node>>,
    wake_at: impl FnOnce(u64) -> Result<(), crate::DriverStopped>,
) -> NonNull<Node> {
    let make = move || {
        let mut timed = TimedNode::new(Ownership::Heap, 1, at, timers, clock);
        timed.node.parent = Some(parent);
        if let Some(cause) = cause {
            timed.set_expiry_cause(cause);
        }
        timed
    };
    // Armed before it is linked (under the parent's lock when in its spare):
    // until then no canceller but the timers can reach it, so the node's lock
    // is not needed. If the timers fire it first, it is linked already
    // cancelled, which is harmless.
    let insert = move |this: NonNull<Node>| {
        let t = this.cast::<TimedNode>();
        // SAFETY: live, not disarmed yet.
        let timers = unsafe { t.as_ref().timers() };
        if due {
            return timers.hold_due();
        }
        // SAFETY: live and in place (a spare we hold, or a box we own), not
        // inserted, reachable by no canceller but the timers; cancelling (on
        // drop at the latest) takes it out before the node is freed.
        unsafe { timers.insert(TimedNode::entry_ptr(t), at) }
    };
    // SAFETY: the parent is alive (the caller borrows its token).
    let make = match unsafe { parent.as_ref() }.link_in_spare(make, insert) {
        Ok((this, armed)) => {
            finish_arm(this, armed, wake_at);
            return this;
        }
        Err(unused) => unused,
    };
    let this = NonNull::from(alloc::boxed::Box::leak(alloc::boxed::Box::new(make()))).cast();
    let armed = insert(this);
    // SAFETY: the parent is alive (the caller borrows its token); the child is
    // pinned in its box and unlinks itself before its owner lets go.
    unsafe { parent.as_ref().link_child(this, State::EMPTY) };
    finish_arm(this, armed, wake_at);
    this
}

/// The effective deadline of `node`; see [`holder`](crate::node::kind::holder).
/// A clock root's deadline is never: below one, the deadline is its parent's
/// (a child bound to another clock), or none (a root).
pub(crate) fn effective(node: NonNull<Node>) -> Option<Deadline> {
    effective_from(holder(node)?)
}

/// The effective deadline of `node` and the clock root of its tree (see
/// [`clock_root`](crate::node::kind::clock_root)), from one [`holder`] step.
#[cfg(feature = "alloc")]
pub(crate) fn deadline_and_clock(node: NonNull<Node>) -> (Option<Deadline>, Option<NonNull<Node>>) {
    let Some(holder) = holder(node) else {
        return (None, None);
    };
    // SAFETY: holders are timed nodes, alive while `node` is.
    let clock = unsafe { holder.cast::<TimedNode>().as_ref() }.clock;
    (effective_from(holder), clock)
}

/// The effective deadline below `holder`, a node's holder.
fn effective_from(mut holder: NonNull<Node>) -> Option<Deadline> {
    loop {
        // SAFETY: holders are timed nodes, alive while the node below is.
        let t = unsafe { holder.cast::<TimedNode>().as_ref() };
        let ticks = t.at();
        if ticks != u64::MAX {
            return Some(Deadline {
                ticks,
                timers: t.timers,
            });
        }
        holder = crate::node::kind::holder(t.node.parent?)?;
    }
}

/// The cause the effective deadline of `node` expires with (see
/// [`expiry_cause`]), `None` if it has none or is cancelled already.
#[cfg(feature = "alloc")]
pub(crate) fn cause_of_effective(node: NonNull<Node>) -> Option<crate::Cause> {
    // SAFETY: holders are timed nodes, alive while `node` is.
    holder(node).and_then(|h| expiry_cause(unsafe { h.as_ref() }))
}

/// `at`, or the effective deadline of `parent` if that is earlier on the same
/// timers: the deadline a pinned child of `parent` takes, so that a timed
/// node's own deadline is always its effective one.
pub(crate) fn capped(parent: NonNull<Node>, at: u64, timers: TimersId) -> u64 {
    match effective(parent) {
        Some(d) if d.timers == timers => d.ticks.min(at),
        _ => at,
    }
}

/// When a token expires: the earliest deadline of the token and its
/// ancestors, on the driver of the nearest one that has a deadline.
///
/// Finding it takes the same time at any depth. Along one driver it is the
/// earliest of every ancestor's. Deadlines of another driver further up are
/// not compared, as the clocks differ: a tree that mixes drivers reports the
/// nearest deadline.
///
/// ```
/// use std::time::Duration;
/// use cancel_token::{CancelSource, ManualDriver};
///
/// let driver = ManualDriver::new();
/// let root = CancelSource::new();
/// let request = root.token().child_with_timeout_on(&driver, Duration::from_secs(10));
/// let step = request.token().child_with_timeout_on(&driver, Duration::from_secs(60));
/// // The step cannot outlive its request.
/// let d = step.token().deadline().unwrap();
/// assert_eq!(d.instant(&driver), Some(Duration::from_secs(10)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    ticks: u64,
    timers: TimersId,
}

// SAFETY: the pointer is only compared, never followed.
unsafe impl Send for Deadline {}
// SAFETY: as above.
unsafe impl Sync for Deadline {}

impl Deadline {
    /// The deadline in its driver's ticks.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ManualDriver};
    ///
    /// let driver = ManualDriver::new(); // 1 µs ticks
    /// let root = CancelSource::new();
    /// let job = root.child_with_timeout_on(&driver, Duration::from_secs(2));
    /// assert_eq!(job.deadline().unwrap().ticks(), 2_000_000);
    /// ```
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// The deadline as `driver`'s instant, if it is on that driver; `None`
    /// on another one.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancel_token::{CancelSource, ManualDriver};
    ///
    /// let driver = ManualDriver::new();
    /// let other = ManualDriver::new();
    /// let root = CancelSource::new();
    /// let job = root.child_with_timeout_on(&driver, Duration::from_secs(2));
    /// let deadline = job.deadline().unwrap();
    /// assert_eq!(deadline.instant(&driver), Some(Duration::from_secs(2)));
    /// assert_eq!(deadline.instant(&other), None);
    /// ```
    pub fn instant<D: crate::TimerDriver>(&self, driver: D) -> Option<D::Instant> {
        self.is_on(driver.timers())
            .then(|| driver.instant_at(self.ticks))
    }

    /// Whether the deadline is kept in `timers`.
    pub(crate) fn is_on(&self, timers: TimersHandle<'_>) -> bool {
        timers.id() == self.timers
    }
}

impl fmt::Debug for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deadline")
            .field("ticks", &self.ticks)
            .finish()
    }
}
