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
#[inline]
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
        // SAFETY: `clock` is the clock root of the parent's tree, which
        // outlives the node (the caller's guarantee).
        let mut timed = unsafe { TimedNode::new(Ownership::Heap, 1, at, timers, clock) };
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
        // The node's timers (it was made with them), from the handle rather
        // than read back from the node.
        let timers = timers.get();
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
    effective_from(holder(node)?).map(|(d, _)| d)
}

/// The effective deadline of `node`, the timed node whose deadline it is,
/// and the clock root of `node`'s tree (see
/// [`clock_root`](crate::node::kind::clock_root)), from one [`holder`] step.
///
/// In line to the one-byte check that most parents have no holder.
#[cfg(feature = "alloc")]
#[inline(always)]
pub(crate) fn deadline_and_clock(node: NonNull<Node>) -> (Option<Provided>, Option<NonNull<Node>>) {
    match holder(node) {
        None => (None, None),
        Some(holder) => deadline_and_clock_below(holder),
    }
}

/// [`deadline_and_clock`] of a node whose holder is `holder`.
#[cfg(feature = "alloc")]
#[inline(never)]
fn deadline_and_clock_below(holder: NonNull<Node>) -> (Option<Provided>, Option<NonNull<Node>>) {
    // SAFETY: holders are timed nodes, alive while the node below is.
    let clock = unsafe { holder.cast::<TimedNode>().as_ref() }.clock();
    (effective_from(holder), clock)
}

/// A deadline, and the timed node whose deadline it is.
pub(crate) type Provided = (Deadline, NonNull<Node>);

/// The effective deadline below `holder`, a node's holder, and the timed
/// node whose deadline it is.
///
/// The nearest deadline is the earliest (a child is made under an earlier
/// deadline without one of its own, or capped to it), unless a deadline
/// above it was moved earlier ([`reset`]): in a tree marked so, the
/// deadlines above are compared too, one step each.
#[inline]
fn effective_from(holder: NonNull<Node>) -> Option<Provided> {
    // SAFETY: holders are timed nodes, alive while the node below is.
    let t = unsafe { holder.cast::<TimedNode>().as_ref() };
    let ticks = t.at();
    if ticks == u64::MAX {
        // A clock root: a root's tree has no deadline above it.
        t.node.parent?;
    } else if !walks(t) {
        let d = Deadline {
            ticks,
            timers: t.timers_id(),
        };
        return Some((d, holder));
    }
    walk_from(holder)
}

/// [`effective_from`] in a tree marked by a move earlier, or below a clock
/// root: every deadline above is compared.
#[inline(never)]
fn walk_from(mut holder: NonNull<Node>) -> Option<Provided> {
    let mut best: Option<Provided> = None;
    loop {
        // SAFETY: holders are timed nodes, alive while the node below is.
        let t = unsafe { holder.cast::<TimedNode>().as_ref() };
        let ticks = t.at();
        if ticks != u64::MAX {
            let d = Deadline {
                ticks,
                timers: t.timers_id(),
            };
            match best {
                None => best = Some((d, holder)),
                Some((b, _)) if b.timers == d.timers && d.ticks < b.ticks => {
                    best = Some((d, holder))
                }
                Some(_) => {}
            }
            if !walks(t) {
                return best;
            }
        }
        let Some(parent) = t.node.parent else {
            return best;
        };
        match crate::node::kind::holder(parent) {
            Some(above) => holder = above,
            None => return best,
        }
    }
}

/// Whether finding an effective deadline goes on past `t`'s: only in a tree
/// where a deadline was moved earlier.
fn walks(t: &TimedNode) -> bool {
    #[cfg(feature = "alloc")]
    if let Some(root) = t.clock() {
        // SAFETY: the clock root of `t`'s tree, alive while `t` is.
        return unsafe { crate::node::kind::moved_earlier(root) };
    }
    let _ = t;
    false
}

/// The cause the effective deadline of `node` expires with (see
/// [`expiry_cause`]), `None` if it has none or is cancelled already.
#[cfg(feature = "alloc")]
pub(crate) fn cause_of_effective(node: NonNull<Node>) -> Option<crate::Cause> {
    let (_, holder) = effective_from(holder(node)?)?;
    // SAFETY: a timed node at or above `node`, alive while it is.
    expiry_cause(unsafe { holder.as_ref() })
}

/// `at`, or the effective deadline of `parent` if that is earlier on the same
/// timers: the deadline a pinned child of `parent` takes, so that a timed
/// node's own deadline is always its effective one. The deadline taken is
/// marked as covering a child ([`cover`]), so it cannot move later.
pub(crate) fn capped(parent: NonNull<Node>, at: u64, timers: TimersId) -> u64 {
    let Some((d, holder)) = holder(parent).and_then(effective_from) else {
        return at;
    };
    if d.timers != timers || d.ticks >= at {
        return at;
    }
    // Moved later meanwhile: then it no longer caps this deadline.
    cover(holder, at).unwrap_or(at)
}

/// `holder`'s deadline, if it is at or before `at`: a child whose own
/// deadline would be `at` takes it instead, and `holder` is marked so that
/// its deadline cannot move later ([`reset`]), which would give the child
/// more time than it asked for. `None` if it has moved past `at`.
///
/// Under the holder's lock, as `reset` is, in a tree with a clock root
/// (only there can a deadline move); with no lock otherwise.
pub(crate) fn cover(holder: NonNull<Node>, at: u64) -> Option<u64> {
    // SAFETY: a timed node, alive while the caller's node below it is.
    let t = unsafe { holder.cast::<TimedNode>().as_ref() };
    if !t.has_clock() {
        return Some(t.at()).filter(|&d| d <= at);
    }
    let _guard = t.node.lock();
    let d = t.at();
    if d > at {
        return None;
    }
    // Relaxed: read under this lock.
    t.node.entry.covers.store(1, crate::sync::Ordering::Relaxed);
    Some(d)
}

/// Why [`reset`] did not move a deadline.
#[cfg(feature = "alloc")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The node is cancelled, or its deadline has passed.
    Cancelled,
    /// It would move later, and a child took this deadline as its own.
    Covered,
}

/// Moves the deadline of heap timed node `this` to tick `at` (`u64::MAX`:
/// never), capped at its parent's deadline on the same timers, in O(1): out
/// of the wheel and back in, under its lock (so no cancel, disarm or other
/// move runs meanwhile) and the wheel's. Expires it at once if `at` is due,
/// or the driver has stopped (as arming does). Refused as cancelled if its
/// deadline is at or before `now` (the clock's, read before the call): it
/// has expired, and the driver is about to fire it.
///
/// A move earlier marks the tree ([`walks`]): timed nodes below may hold
/// later deadlines of their own. A move later is refused if a child took
/// this deadline as its own ([`cover`]).
///
/// # Safety
/// `this` is a live heap timed node, with its provenance, whose timers are
/// `clock`'s and whose source the caller borrows.
#[cfg(feature = "alloc")]
pub(crate) unsafe fn reset(
    this: NonNull<Node>,
    at: u64,
    now: u64,
    wake_at: impl FnOnce(u64) -> Result<(), crate::DriverStopped>,
) -> Result<(), Refused> {
    let t = this.cast::<TimedNode>();
    // SAFETY: live, by the caller's guarantee.
    let timed = unsafe { t.as_ref() };
    let at = match timed.node.parent {
        Some(parent) => capped(parent, at, timed.timers_id()),
        None => at,
    };
    let guard = timed.node.lock();
    if guard.is_cancelled() {
        return Err(Refused::Cancelled);
    }
    let old = timed.at();
    if old <= now {
        return Err(Refused::Cancelled);
    }
    // Relaxed: written under this lock.
    if at > old && timed.node.entry.covers.load(crate::sync::Ordering::Relaxed) != 0 {
        return Err(Refused::Covered);
    }
    if at < old {
        if let Some(root) = timed.clock() {
            // SAFETY: the clock root of the node's tree, alive while it is.
            unsafe { crate::node::kind::mark_moved_earlier(root) };
        }
    }
    // SAFETY: under the node's lock, live and not cancelled, so not
    // disarmed: it holds its timers, and its entry is theirs.
    let moved = unsafe { timed.timers().rearm(TimedNode::entry_ptr(t), at) };
    drop(guard);
    match moved {
        Some(armed) => {
            finish_arm(this, armed, wake_at);
            Ok(())
        }
        None => Err(Refused::Cancelled),
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
