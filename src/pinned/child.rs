//! `PinnedChild` and `PinnedDeadline`: child nodes that live in their owner's
//! frame, for the no-allocator tier.

use core::fmt;
use core::marker::{PhantomData, PhantomPinned};
use core::pin::Pin;
use core::ptr::NonNull;
use core::time::Duration;

use crate::node::kind::{Class, Ownership, TimedNode};
use crate::node::state::State;
use crate::node::Node;
use crate::sync::{loom_const_fn, Ordering::*};
use crate::time::StaticDriver;
use crate::{Cause, Reason, TokenRef};

/// Links a pinned node into its parent on first use; returns whether this call
/// did (the caller then arms a deadline, if any).
///
/// # Safety
/// `this` is a pinned node with its whole provenance, whose parent outlives it.
unsafe fn ensure_attached<'n>(this: NonNull<Node>) -> (&'n Node, bool) {
    // SAFETY: by the caller's guarantee.
    let node = unsafe { this.as_ref() };
    // Acquire: pairs with the Release half of the `fetch_or` that set
    // `ATTACHED` in `Node::link_child`, so a caller that sees it also sees the
    // child cancelled if it was born cancelled. Under a `never` parent that
    // `fetch_or` is Relaxed: nothing was done to the child before it.
    if node.state.load(Acquire).contains(State::ATTACHED) {
        return (node, false);
    }
    // SAFETY: the parent outlives the child.
    let parent = unsafe { node.parent.unwrap_unchecked().as_ref() };
    // SAFETY: pinned; `drop_pinned` unlinks it and waits for cancellers.
    let linked = unsafe { parent.link_child(this, State::ATTACHED) };
    (node, linked)
}

/// The source methods of a pinned source type with an `attach` method, in an
/// `impl` with the generic parameters in brackets. `$make` is the doc
/// examples' code that pins one as `source`, a child of the static `ROOT`.
macro_rules! pinned_source_methods {
    (impl[$($g:tt)*] $ty:ty, $make:literal) => {
        impl $($g)* $ty {
            /// A borrowed token for this source, to hand to the work.
            ///
            /// ```
            #[doc = $make]
            /// let token = source.token();
            /// assert!(!token.is_cancelled());
            /// source.cancel();
            /// assert!(token.is_cancelled());
            /// ```
            pub fn token(self: Pin<&Self>) -> TokenRef<'_> {
                // The pointer with the whole pinned node's provenance.
                TokenRef::from_ptr(self.attach().1)
            }

            /// Cancels this source and its descendants, not its parents.
            ///
            /// ```
            #[doc = $make]
            /// source.cancel();
            /// assert_eq!(source.reason(), Some(Reason::Cancelled));
            /// assert!(!ROOT.is_cancelled());
            /// ```
            pub fn cancel(self: Pin<&Self>) {
                Node::cancel(self.attach().1, Reason::Cancelled, None);
            }

            /// Cancels with a cause, which this source's tokens and
            /// descendants report from `cause()`: a `&'static` error, or
            /// with `alloc` an owned one ([`Cause::new`]), dropped with the
            /// last node that reports it; see [`Cause`].
            ///
            /// ```
            #[doc = $make]
            /// # #[derive(Debug)]
            /// # struct Fault;
            /// # impl core::fmt::Display for Fault {
            /// #     fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            /// #         f.write_str("fault")
            /// #     }
            /// # }
            /// # impl core::error::Error for Fault {}
            /// source.cancel_with(&Fault);
            /// assert_eq!(source.token().cause().unwrap().to_string(), "fault");
            /// ```
            pub fn cancel_with(self: Pin<&Self>, cause: impl Into<Cause>) {
                Node::cancel(self.attach().1, Reason::Cancelled, Some(cause.into()));
            }

            /// Whether this source is cancelled, by itself or by a parent.
            ///
            /// ```
            #[doc = $make]
            /// assert!(!source.is_cancelled());
            /// ROOT.cancel();
            /// assert!(source.is_cancelled());
            /// ```
            pub fn is_cancelled(self: Pin<&Self>) -> bool {
                self.attach().0.is_cancelled()
            }

            /// Why this source was cancelled, or `None` while it is live; see
            /// [`CancelToken::reason`](crate::CancelToken::reason).
            ///
            /// ```
            #[doc = $make]
            /// assert_eq!(source.reason(), None);
            /// ROOT.cancel();
            /// assert_eq!(source.reason(), Some(Reason::Cancelled));
            /// ```
            pub fn reason(self: Pin<&Self>) -> Option<Reason> {
                self.attach().0.reason()
            }

            /// The cause of the cancellation that reached this source, if it
            /// had one; see [`CancelToken::cause`](crate::CancelToken::cause).
            ///
            /// ```
            #[doc = $make]
            /// # #[derive(Debug)]
            /// # struct Shutdown;
            /// # impl core::fmt::Display for Shutdown {
            /// #     fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            /// #         f.write_str("shutdown")
            /// #     }
            /// # }
            /// # impl core::error::Error for Shutdown {}
            /// ROOT.cancel_with(&Shutdown);
            /// assert_eq!(source.cause().unwrap().to_string(), "shutdown");
            /// ```
            pub fn cause(self: Pin<&Self>) -> Option<Cause> {
                self.attach().0.cause()
            }
        }
    };
}

pub(crate) use pinned_source_methods;
pinned_source_methods!(
    impl[] PinnedChild<'_>,
    "use core::pin::pin;\n\
     use cancel_token::{PinnedChild, Reason, StaticSource};\n\
     \n\
     static ROOT: StaticSource = StaticSource::new();\n\
     let source = pin!(PinnedChild::new(ROOT.token_ref()));\n\
     let source = source.into_ref();"
);
pinned_source_methods!(
    impl[<D: StaticDriver>] PinnedDeadline<'_, D>,
    "use core::pin::pin;\n\
     use cancel_token::{PinnedDeadline, Reason, StaticSource, TickDriver};\n\
     \n\
     static ROOT: StaticSource = StaticSource::new();\n\
     static TICKS: TickDriver = TickDriver::new();\n\
     let source = pin!(PinnedDeadline::new(ROOT.token_ref(), &TICKS, 100));\n\
     let source = source.into_ref();"
);

/// Cancels, unlinks, and waits until no canceller or timer borrows the node.
///
/// # Safety
/// `this` is a pinned node with its whole provenance, being dropped.
unsafe fn drop_pinned(this: NonNull<Node>) {
    // SAFETY: by the caller's guarantee.
    let node = unsafe { this.as_ref() };
    // Relaxed: dropping takes exclusive access, so every use through a shared
    // pin, and the `ATTACHED` it set, happens-before this (whatever ended
    // those borrows, such as a thread join, synchronised with this thread).
    if !node.state.load(Relaxed).contains(State::ATTACHED) {
        return;
    }
    // SAFETY: the parent outlives the child.
    let parent = unsafe { node.parent.unwrap_unchecked().as_ref() };
    // Also when a callback's panic continues out of `cancel`: the memory goes.
    let _leave = crate::util::panic::Finally::new(|| {
        parent.unlink_child(this);
        node.wait_unborrowed();
    });
    Node::cancel(this, Reason::Cancelled, None);
}

/// A child source whose node is stored in place (a stack frame, an async task, a
/// `static` cell) rather than on the heap. It is the no-allocator tier's
/// [`CancelToken::child`](crate::CancelToken::child).
///
/// It links into its parent on first use through a pinned reference, and on drop
/// cancels itself and unlinks, as [`CancelSource`](crate::CancelSource) does.
///
/// # Examples
///
/// ```
/// use core::pin::pin;
/// use cancel_token::{PinnedChild, StaticSource};
///
/// static ROOT: StaticSource = StaticSource::new();
///
/// let child = pin!(PinnedChild::new(ROOT.token_ref()));
/// let token = child.as_ref().token();
/// assert!(!token.is_cancelled());
/// ROOT.cancel();
/// assert!(token.is_cancelled());
/// ```
///
/// # In a `static`
///
/// [`new`](Self::new) and [`StaticSource::token_ref`](crate::StaticSource::token_ref)
/// are `const`, so a child of a static root can be a `static` itself (no
/// `LazyLock`, no allocator), pinned where it is used by [`Pin::static_ref`]:
///
/// ```
/// use core::pin::Pin;
/// use cancel_token::{PinnedChild, StaticSource};
///
/// static SHUTDOWN: StaticSource = StaticSource::new();
/// static MOTOR: PinnedChild<'static> = PinnedChild::new(SHUTDOWN.token_ref());
///
/// let motor = Pin::static_ref(&MOTOR);
/// let token = motor.token(); // a `TokenRef<'static>`
/// SHUTDOWN.cancel();
/// assert!(token.is_cancelled());
/// ```
///
/// # Pinning with `pin!`
///
/// Its methods take `Pin<&Self>`, which is `Copy`: a token borrowed from the
/// child, a second token and a `cancel` through the same pin can all coexist,
/// and a static child's `Pin<&'static Self>` has them too. With
/// `Pin<&mut Self>` receivers, each token would hold the child mutably
/// borrowed and block every other call while it lives. `pin!` gives
/// `Pin<&mut Self>`, and a method call on it never reaches a `Pin<&Self>`
/// receiver (no implicit reborrow; one inherent method has one receiver
/// type), so turn it into a shared pin once, with [`Pin::into_ref`] (or
/// `as_ref()` per call):
///
/// ```
/// use core::pin::pin;
/// use cancel_token::{PinnedChild, StaticSource};
///
/// static ROOT: StaticSource = StaticSource::new();
///
/// let child = pin!(PinnedChild::new(ROOT.token_ref()));
/// let child = child.into_ref(); // Pin<&PinnedChild>, `Copy`
/// let token = child.token();
/// child.cancel();
/// assert!(token.is_cancelled());
/// ```
///
/// Without it, the call does not compile:
///
/// ```compile_fail
/// use core::pin::pin;
/// use cancel_token::{PinnedChild, StaticSource};
///
/// static ROOT: StaticSource = StaticSource::new();
///
/// let child = pin!(PinnedChild::new(ROOT.token_ref())); // Pin<&mut PinnedChild>
/// let token = child.token(); // error: `token` needs `Pin<&PinnedChild>`
/// ```
///
/// Dropping a pinned child from an interrupt handler that preempted a `cancel` of
/// one of its ancestors would wait for that cancel forever; drop pinned children
/// in the context that owns them.
///
/// It is `!Unpin`: its parent's list of children points into it, so it must
/// not move once pinned, and no safe code can move it:
///
/// ```compile_fail
/// fn assert_unpin<T: Unpin>() {}
/// assert_unpin::<cancel_token::PinnedChild<'static>>();
/// ```
pub struct PinnedChild<'a> {
    node: Node,
    _parent: PhantomData<&'a Node>,
    _pin: PhantomPinned,
}

impl<'a> PinnedChild<'a> {
    loom_const_fn! {
        /// A child of `parent`, not yet linked (it links when first used pinned).
        ///
        /// A `const fn`: with a [`StaticSource`](crate::StaticSource)'s
        /// [`token_ref`](crate::StaticSource::token_ref) as the parent, the
        /// child can live in a `static`; see the type's docs.
        ///
        /// ```
        /// use core::pin::pin;
        /// use cancel_token::{PinnedChild, StaticSource};
        ///
        /// static ROOT: StaticSource = StaticSource::new();
        /// ROOT.cancel();
        /// let child = pin!(PinnedChild::new(ROOT.token_ref()));
        /// assert!(child.as_ref().is_cancelled()); // born cancelled, as it links
        /// ```
        pub fn new(parent: TokenRef<'a>) -> Self {
            PinnedChild {
                node: Node::with_parent(Class::plain(Ownership::Pinned), parent.ptr),
                _parent: PhantomData,
                _pin: PhantomPinned,
            }
        }
    }

    fn attach(self: Pin<&Self>) -> (&Node, NonNull<Node>) {
        let this = NonNull::from(&self.get_ref().node);
        // SAFETY: pinned, and the parent outlives 'a.
        (unsafe { ensure_attached(this) }.0, this)
    }
}

impl Drop for PinnedChild<'_> {
    fn drop(&mut self) {
        // SAFETY: pinned until now (it is `!Unpin`), and its parent outlives it.
        unsafe { drop_pinned(NonNull::from(&self.node)) };
    }
}

impl fmt::Debug for PinnedChild<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedChild")
            .field("reason", &self.node.reason())
            .finish()
    }
}

/// A [`PinnedChild`] with a deadline on a driver: cancelled with
/// [`Reason::DeadlineExceeded`] when the driver's clock reaches the deadline.
/// Needs no allocator; the timer entry lives in the node. The driver `D` is
/// any [`StaticDriver`] (one whose timers are in a `static`): a
/// [`TickDriver`](crate::TickDriver) on bare metal, or `EmbassyDriver` under
/// embassy, passed as `&TICKS` (so `D` is `&'static TickDriver`).
///
/// The deadline is armed when the child is first used pinned; dropping or
/// cancelling it takes the deadline out of the driver at once.
///
/// ```
/// use core::pin::pin;
/// use cancel_token::{PinnedDeadline, Reason, StaticSource, TickDriver};
/// use core::time::Duration;
///
/// static ROOT: StaticSource = StaticSource::new();
/// static TICKS: TickDriver = TickDriver::new(); // 1 ms ticks
///
/// let job = pin!(PinnedDeadline::with_timeout(ROOT.token_ref(), &TICKS, Duration::from_millis(3)));
/// let token = job.as_ref().token();
/// TICKS.advance_by(2); // e.g. from the SysTick handler
/// assert!(!token.is_cancelled());
/// TICKS.advance_by(1);
/// assert_eq!(token.reason(), Some(Reason::DeadlineExceeded));
/// ```
///
/// Like [`PinnedChild`], it is `Send` and `Sync` (with a `Send` and `Sync`
/// driver), so a future that holds one across an `.await` can be spawned on a
/// multi-threaded executor. Its methods take `Pin<&Self>`, as
/// [`PinnedChild`]'s do ([why](PinnedChild#pinning-with-pin)): turn the
/// `Pin<&mut Self>` that `pin!` gives into one with [`Pin::into_ref`] or
/// `as_ref()`, as above.
///
/// # In a `static`
///
/// Its constructors are not `const` (they ask the driver for its timers and
/// its clock, through trait methods), so it cannot be a `static` itself, as a
/// [`PinnedChild`] can. Put it in a `static` cell initialised at run time,
/// such as [`static_cell`](https://docs.rs/static_cell)'s `StaticCell`, and
/// pin the `&'static mut` it gives with [`Pin::static_mut`]:
///
/// ```
/// use core::pin::Pin;
/// use cancel_token::{PinnedDeadline, StaticSource, TickDriver};
/// use static_cell::StaticCell;
///
/// static ROOT: StaticSource = StaticSource::new();
/// static TICKS: TickDriver = TickDriver::new();
/// static WATCHDOG: StaticCell<PinnedDeadline<'static, &'static TickDriver>> = StaticCell::new();
///
/// let watchdog = Pin::static_mut(WATCHDOG.init(PinnedDeadline::new(ROOT.token_ref(), &TICKS, 100)));
/// let watchdog = watchdog.into_ref(); // Pin<&'static PinnedDeadline>
/// let token = watchdog.token(); // a `TokenRef<'static>`
/// TICKS.advance_by(100);
/// assert!(token.is_cancelled());
/// ```
///
/// A [`TickDriver`](crate::TickDriver) is a driver only as a `&'static` reference: one in a local
/// variable, which a leaked deadline could outlive, is refused.
///
/// ```compile_fail
/// use core::pin::pin;
/// use cancel_token::{PinnedDeadline, StaticSource, TickDriver};
///
/// static ROOT: StaticSource = StaticSource::new();
/// let ticks = TickDriver::<1000>::new();
/// let job = pin!(PinnedDeadline::new(ROOT.token_ref(), &ticks, 5));
/// ```
///
/// It is `!Unpin`: its parent's list of children and its driver's timer
/// wheel point into it, so it must not move once pinned, and no safe code
/// can move it:
///
/// ```compile_fail
/// fn assert_unpin<T: Unpin>() {}
/// assert_unpin::<cancel_token::PinnedDeadline<'static, &'static cancel_token::TickDriver>>();
/// ```
pub struct PinnedDeadline<'a, D> {
    /// The driver, asked to wake for the deadline as it is armed, is the
    /// node's `extra` (in its trailing padding on 32-bit targets).
    timed: TimedNode<D>,
    _parent: PhantomData<&'a Node>,
    _pin: PhantomPinned,
}

// SAFETY: the node is `Send` and `Sync`; the wheel entry is only touched under
// its timers' lock, and the timers it names are `Sync` (as for a heap node with
// a deadline, which a `CancelSource` sends between threads). The driver is
// moved with it. No bound names a lifetime (`StaticDriver` does), so a future
// holding one is `Send` however its lifetimes are erased.
unsafe impl<D: Send> Send for PinnedDeadline<'_, D> {}
// SAFETY: as above; shared, it calls the driver through `&D`.
unsafe impl<D: Sync> Sync for PinnedDeadline<'_, D> {}

impl<'a, D: StaticDriver> PinnedDeadline<'a, D> {
    /// A child of `parent` that expires at `at` on `driver` (for a
    /// [`TickDriver`](crate::TickDriver), `at` is a tick).
    ///
    /// ```
    /// use core::pin::pin;
    /// use cancel_token::{PinnedDeadline, Reason, StaticSource, TickDriver};
    ///
    /// static ROOT: StaticSource = StaticSource::new();
    /// static TICKS: TickDriver = TickDriver::new();
    ///
    /// let job = pin!(PinnedDeadline::new(ROOT.token_ref(), &TICKS, 10));
    /// let job = job.into_ref();
    /// TICKS.advance_to(9);
    /// assert!(!job.is_cancelled());
    /// TICKS.advance_to(10);
    /// assert_eq!(job.reason(), Some(Reason::DeadlineExceeded));
    /// ```
    pub fn new(parent: TokenRef<'a>, driver: D, at: D::Instant) -> Self {
        let due = at <= driver.now();
        let at = driver.ticks_at(at);
        Self::at_tick(parent, driver, at, due)
    }

    /// A child of `parent` that expires `after` from `driver`'s current time;
    /// with `Duration::ZERO`, cancelled as it is first used.
    ///
    /// ```
    /// use core::pin::pin;
    /// use core::time::Duration;
    /// use cancel_token::{PinnedDeadline, Reason, StaticSource, TickDriver};
    ///
    /// static ROOT: StaticSource = StaticSource::new();
    /// static TICKS: TickDriver = TickDriver::new(); // 1 ms ticks
    ///
    /// TICKS.advance_by(5);
    /// let job = pin!(PinnedDeadline::with_timeout(ROOT.token_ref(), &TICKS, Duration::from_millis(2)));
    /// let job = job.into_ref();
    /// TICKS.advance_by(1);
    /// assert!(!job.is_cancelled());
    /// TICKS.advance_by(1);
    /// assert_eq!(job.reason(), Some(Reason::DeadlineExceeded));
    ///
    /// let spent = pin!(PinnedDeadline::with_timeout(ROOT.token_ref(), &TICKS, Duration::ZERO));
    /// assert!(spent.as_ref().is_cancelled());
    /// ```
    pub fn with_timeout(parent: TokenRef<'a>, driver: D, after: Duration) -> Self {
        let now = driver.ticks_at(driver.now());
        let at = now.saturating_add(driver.duration_ticks(after));
        Self::at_tick(parent, driver, at, after.is_zero())
    }

    /// This child, whose deadline reports `cause` as it fires, for
    /// [`cause`](Self::cause) on it and its descendants (Go's
    /// `context.WithDeadlineCause`); see
    /// [`CancelToken::child_with_deadline_cause_on`](crate::CancelToken::child_with_deadline_cause_on).
    /// Called before it is pinned; a cancel that reaches it first reports
    /// its own cause. Its deadline is capped at its parent's, when that is
    /// earlier on the same driver: the first of the two to fire decides.
    ///
    /// ```
    /// use core::pin::pin;
    /// use cancel_token::{PinnedDeadline, Reason, StaticSource, TickDriver};
    ///
    /// #[derive(Debug)]
    /// struct Watchdog;
    /// impl core::fmt::Display for Watchdog {
    ///     fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    ///         f.write_str("sensor read took over 5 ticks")
    ///     }
    /// }
    /// impl core::error::Error for Watchdog {}
    ///
    /// static ROOT: StaticSource = StaticSource::new();
    /// static TICKS: TickDriver = TickDriver::new();
    ///
    /// let read = pin!(PinnedDeadline::new(ROOT.token_ref(), &TICKS, 5).with_cause(&Watchdog));
    /// let read = read.into_ref();
    /// assert!(read.cause().is_none());
    /// TICKS.advance_to(5);
    /// assert_eq!(read.reason(), Some(Reason::DeadlineExceeded));
    /// assert!(read.cause().is_some_and(|c| c.is::<Watchdog>()));
    /// ```
    pub fn with_cause(mut self, cause: impl Into<Cause>) -> Self {
        self.timed.set_expiry_cause(cause.into());
        self
    }

    /// A child expiring at tick `at`, or, if `due`, at the first use.
    fn at_tick(parent: TokenRef<'a>, driver: D, at: u64, due: bool) -> Self {
        // Static timers (`StaticDriver`): the node may name them for ever.
        let handle = driver.timers();
        let timers = handle.id();
        // A timed node's own deadline is its effective one.
        let mut at = crate::time::deadline::capped(parent.ptr, at, timers);
        if due {
            // Due already, whatever tick the timers were last advanced to
            // (a driver's run task may lag behind its clock): the arming finds
            // it due and cancels it.
            at = at.min(handle.get().now());
        }
        let clock = crate::node::kind::clock_root(parent.ptr);
        // SAFETY: the clock root of the parent's tree, which outlives 'a.
        let mut timed =
            unsafe { TimedNode::with_extra(Ownership::Pinned, 0, at, timers, clock, driver) };
        timed.node.parent = Some(parent.ptr);
        PinnedDeadline {
            timed,
            _parent: PhantomData,
            _pin: PhantomPinned,
        }
    }

    fn attach(self: Pin<&Self>) -> (&Node, NonNull<Node>) {
        let this = self.get_ref();
        let node = NonNull::from(&this.timed).cast::<Node>();
        // SAFETY: pinned, and the parent outlives 'a.
        let (linked, first) = unsafe { ensure_attached(node) };
        if first {
            // SAFETY: a live timed node with its whole provenance, armed once.
            unsafe { crate::time::deadline::arm(node, |t| this.timed.extra.wake_at(t)) };
        }
        (linked, node)
    }
}

impl<D> Drop for PinnedDeadline<'_, D> {
    fn drop(&mut self) {
        // SAFETY: pinned until now, and its parent outlives it. Cancelling takes
        // the entry out of the wheel; waiting covers a timer firing right now.
        unsafe { drop_pinned(NonNull::from(&self.timed).cast()) };
    }
}

impl<D> fmt::Debug for PinnedDeadline<'_, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedDeadline")
            .field("reason", &self.timed.node.reason())
            .finish()
    }
}
