//! Tokens with a deadline: nodes that carry a timer-wheel entry.

use core::fmt;
use core::ptr::NonNull;

#[cfg(feature = "alloc")]
use crate::node::state::State;
use crate::node::{class, Node};
use crate::wheel::timers::{Timers, TimersHandle, TimersId};
use crate::wheel::WheelEntry;
use crate::Reason;

/// A node with a deadline. `#[repr(C)]` with the node first, so a node pointer
/// of a timed node is also a pointer to this (the `TIMED` class flag says so).
///
/// `extra` is its owner's, last, so every `TimedNode<X>` starts as a
/// `TimedNode` (`X = ()`) and is used through one: a `PinnedDeadline` keeps
/// its driver there, in what would be the trailing padding on 32-bit targets.
/// It is written only as the node is made.
#[repr(C)]
pub(crate) struct TimedNode<X = ()> {
    pub(crate) node: Node,
    entry: WheelEntry,
    /// The deadline's tick; fixed.
    at: u64,
    /// Static, or shared and held by this node from its arming until it is
    /// disarmed (by its cancel) or taken out (by its unobserved drop); not
    /// touched after.
    timers: TimersId,
    pub(crate) extra: X,
}

impl TimedNode {
    #[cfg(feature = "alloc")]
    pub(crate) fn new(ownership: u8, refs: usize, at: u64, timers: TimersHandle<'_>) -> Self {
        TimedNode::with_extra(ownership, refs, at, timers.id(), ())
    }
}

impl<X> TimedNode<X> {
    pub(crate) fn with_extra(
        ownership: u8,
        refs: usize,
        at: u64,
        timers: TimersId,
        extra: X,
    ) -> Self {
        TimedNode {
            node: Node::new(ownership | class::TIMED, refs),
            entry: WheelEntry::new(),
            at,
            timers,
            extra,
        }
    }
}

impl TimedNode {
    /// The timers this node's deadline is kept in, until it is disarmed.
    ///
    /// # Safety
    /// The node is not disarmed yet, or its timers are static.
    pub(crate) unsafe fn timers(&self) -> &Timers {
        // SAFETY: by the caller's guarantee.
        unsafe { self.timers.ptr.as_ref() }
    }

    fn entry_ptr(this: NonNull<TimedNode>) -> NonNull<WheelEntry> {
        // SAFETY: in bounds; no reference is created.
        unsafe { NonNull::new_unchecked(core::ptr::addr_of_mut!((*this.as_ptr()).entry)) }
    }
}

/// The timed node whose wheel entry is `e`.
///
/// # Safety
/// `e` is the entry of a live `TimedNode`, derived from that node's pointer.
pub(crate) unsafe fn node_of(e: NonNull<WheelEntry>) -> NonNull<Node> {
    let offset = core::mem::offset_of!(TimedNode, entry);
    // SAFETY: `e` points `offset` bytes into a `TimedNode`.
    unsafe { NonNull::new_unchecked(e.as_ptr().byte_sub(offset).cast::<Node>()) }
}

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
                    unsafe { crate::node::refs::release(self.0) };
                }
            }
            let _drop_ref = DropRef(this);
            Node::cancel(this, Reason::DeadlineExceeded, None);
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
    let armed = unsafe { timed.timers().insert(TimedNode::entry_ptr(t), timed.at) };
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
        Node::cancel(this, Reason::DeadlineExceeded, None);
    }
}

/// Takes a timed node's entry out of its wheel, if it is there, and gives up
/// its hold on its timers: the node is being cancelled, under its lock.
///
/// # Safety
/// `this` is a live timed node with its whole provenance, cancelled by the
/// caller (so this runs once); if its timers are shared, it was inserted
/// (armed, or found due), which is when the node took its hold.
pub(crate) unsafe fn disarm(this: NonNull<Node>) {
    let t = this.cast::<TimedNode>();
    // SAFETY: live.
    let timed = unsafe { t.as_ref() };
    // SAFETY: the entry belongs to these timers, and a node is cancelled once.
    unsafe { Timers::disarm(timed.timers.ptr, TimedNode::entry_ptr(t)) };
}

/// Takes the entry of an unobserved timed node out of its wheel and gives up
/// its hold on its timers, as it is freed; false, touching nothing, if its
/// deadline is firing (that cancel then disarms it).
///
/// # Safety
/// `this` is a live, armed, uncancelled timed node with its whole provenance
/// that no canceller but its timers can reach (the caller holds its parent's
/// lock and found it still linked).
#[cfg(feature = "alloc")]
#[inline(never)] // keeps `free_alone`, inlined in every child's drop, small
pub(crate) unsafe fn take_out(this: NonNull<Node>) -> bool {
    let t = this.cast::<TimedNode>();
    // SAFETY: live.
    let timed = unsafe { t.as_ref() };
    // SAFETY: the node holds its timers (armed, not cancelled) and only
    // they can still reach it.
    unsafe { Timers::take_out(timed.timers.ptr, TimedNode::entry_ptr(t)) }
}

/// Frees a heap timed node.
///
/// # Safety
/// The last reference to a `Box<TimedNode>`, disarmed.
#[cfg(feature = "alloc")]
pub(crate) unsafe fn free(this: NonNull<Node>) {
    // SAFETY: by the caller's guarantee.
    drop(unsafe { alloc::boxed::Box::from_raw(this.cast::<TimedNode>().as_ptr()) });
}

/// A new heap timed child of `parent`, linked and armed; cancelled before
/// this returns if `due` (its deadline is not later than the driver's clock,
/// whatever tick the timers were last advanced to).
#[cfg(feature = "alloc")]
pub(crate) fn new_heap(
    parent: NonNull<Node>,
    at: u64,
    timers: TimersHandle<'_>,
    due: bool,
    wake_at: impl FnOnce(u64) -> Result<(), crate::DriverStopped>,
) -> NonNull<Node> {
    let make = move || {
        let mut timed = TimedNode::new(class::HEAP, 1, at, timers);
        timed.node.parent = Some(parent);
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

/// A heap child with no deadline of its own whose parent has one, at or
/// above it: it names the node whose deadline is its own effective deadline
/// (its *holder*), so that finding it takes one step at any depth. The
/// `SCOPED` class flag says a node is one. 72 bytes on 64-bit targets, one
/// pointer more than a plain node (`tests/sizes.rs`).
#[cfg(feature = "alloc")]
#[repr(C)]
pub(crate) struct ScopedNode {
    pub(crate) node: Node,
    /// The nearest timed ancestor; fixed. Alive while this node is: a child
    /// keeps its ancestors alive (a reference, or a borrow).
    holder: NonNull<Node>,
}

/// The node whose deadline is `node`'s effective deadline: the nearest
/// timed node at or above it, or `None` if there is none.
///
/// One step for heap nodes, which name their holder (`ScopedNode`) or know
/// they have none; a pinned node without a deadline asks its parent, as
/// pinned nodes cannot grow a field (their sizes are budgets).
///
/// A timed node's own deadline is its effective one: a heap child whose
/// parent expires no later on the same driver is made without a deadline,
/// and a pinned one takes its parent's when that is earlier (`capped`).
#[inline(always)] // on every child's creation: one byte compared
pub(crate) fn holder(node: NonNull<Node>) -> Option<NonNull<Node>> {
    #[cfg(all(debug_assertions, feature = "std", not(cancel_token_loom)))]
    crate::__private::count_deadline_step();
    // SAFETY: the caller keeps the node alive.
    if unsafe { node.as_ref() }.entry.class == class::HEAP {
        // A plain heap node without a holder: most parents.
        return None;
    }
    holder_of_other(node)
}

/// [`holder`] for nodes other than plain heap ones without a holder.
#[inline(never)]
fn holder_of_other(mut node: NonNull<Node>) -> Option<NonNull<Node>> {
    loop {
        // SAFETY: a node keeps its ancestors alive (reference or borrow).
        let n = unsafe { node.as_ref() };
        if n.is_timed() {
            return Some(node);
        }
        #[cfg(feature = "alloc")]
        if n.is_scoped() {
            // SAFETY: scoped nodes are `ScopedNode`s, and `node` has their provenance.
            return Some(unsafe { node.cast::<ScopedNode>().as_ref() }.holder);
        }
        if n.class() != class::PINNED {
            // Heap nodes were made scoped if they had a holder; static ones
            // and `never` are roots.
            return None;
        }
        node = n.parent?;
        #[cfg(all(debug_assertions, feature = "std", not(cancel_token_loom)))]
        crate::__private::count_deadline_step();
    }
}

/// The effective deadline of `node`; see [`holder`].
pub(crate) fn effective(node: NonNull<Node>) -> Option<Deadline> {
    let holder = holder(node)?;
    // SAFETY: holders are timed nodes, alive while `node` is.
    let t = unsafe { holder.cast::<TimedNode>().as_ref() };
    Some(Deadline {
        ticks: t.at,
        timers: t.timers,
    })
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

/// A new heap child of `parent` without a deadline of its own, under
/// `holder`, the node whose deadline it inherits; linked.
#[cfg(feature = "alloc")]
#[cold]
pub(crate) fn new_scoped(parent: NonNull<Node>, holder: NonNull<Node>) -> NonNull<Node> {
    let mut node = Node::new(class::HEAP | class::SCOPED, 1);
    node.parent = Some(parent);
    let scoped = ScopedNode { node, holder };
    let this = NonNull::from(alloc::boxed::Box::leak(alloc::boxed::Box::new(scoped))).cast();
    // SAFETY: the parent is alive (the caller borrows its token); the child is
    // pinned in its box and unlinks itself before its owner lets go.
    unsafe { parent.as_ref().link_child(this, State::EMPTY) };
    this
}

/// Frees a heap scoped node.
///
/// # Safety
/// The last reference to a `Box<ScopedNode>`.
#[cfg(feature = "alloc")]
pub(crate) unsafe fn free_scoped(this: NonNull<Node>) {
    // SAFETY: by the caller's guarantee.
    drop(unsafe { alloc::boxed::Box::from_raw(this.cast::<ScopedNode>().as_ptr()) });
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
/// let request = root.token().child_with_timeout(&driver, Duration::from_secs(10));
/// let step = request.token().child_with_timeout(&driver, Duration::from_secs(60));
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
    /// let job = root.child_with_timeout(&driver, Duration::from_secs(2));
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
    /// let job = root.child_with_timeout(&driver, Duration::from_secs(2));
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
