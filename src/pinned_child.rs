//! `PinnedChild` and `PinnedDeadline`: child nodes that live in their owner's
//! frame, for the no-allocator tier.

use core::fmt;
use core::marker::{PhantomData, PhantomPinned};
use core::pin::Pin;
use core::ptr::NonNull;
use core::time::Duration;

use crate::deadline::TimedNode;
use crate::node::{class, Node};
use crate::sync::{loom_const_fn, Ordering::*};
use crate::timers::TimersHandle;
use crate::{Cause, Reason, TickDriver, TokenRef};

/// Set in a pinned node's state once it has been linked into its parent (or,
/// for a `PinnedLinked`, registered on its parents).
pub(crate) const LINKED_ONCE: usize = 1 << 4;

/// Links a pinned node into its parent on first use; returns whether this call
/// did (the caller then arms a deadline, if any).
///
/// # Safety
/// `this` is a pinned node with its whole provenance, whose parent outlives it.
unsafe fn ensure_linked<'n>(this: NonNull<Node>) -> (&'n Node, bool) {
    // SAFETY: by the caller's guarantee.
    let node = unsafe { this.as_ref() };
    // Acquire: pairs with the fetch_or of the linking caller.
    if node.state.load(Acquire) & LINKED_ONCE != 0 {
        return (node, false);
    }
    // SAFETY: the parent outlives the child.
    let parent = unsafe { node.parent.unwrap_unchecked().as_ref() };
    // SAFETY: pinned; `drop_pinned` unlinks it and waits for cancellers.
    let linked = unsafe { parent.link_child(this, LINKED_ONCE) };
    (node, linked)
}

/// The source methods of a pinned source type with a `linked` method (and,
/// optionally, one `const` generic parameter).
macro_rules! pinned_source_methods {
    ($ty:ident $(, const $n:ident)?) => {
        impl$(<const $n: usize>)? $ty<'_ $(, $n)?> {
            /// A borrowed token for this source.
            pub fn token(self: Pin<&Self>) -> TokenRef<'_> {
                TokenRef {
                    node: self.linked().0,
                }
            }

            /// Cancels this source and its descendants, not its parents.
            pub fn cancel(self: Pin<&Self>) {
                Node::cancel(self.linked().1, Reason::Cancelled, None);
            }

            /// Cancels with a cause.
            pub fn cancel_with(self: Pin<&Self>, cause: Cause) {
                Node::cancel(self.linked().1, Reason::Cancelled, Some(cause));
            }

            /// Whether this source is cancelled.
            pub fn is_cancelled(self: Pin<&Self>) -> bool {
                self.linked().0.is_cancelled()
            }
        }
    };
}

pub(crate) use pinned_source_methods;
pinned_source_methods!(PinnedChild);
pinned_source_methods!(PinnedDeadline);

/// Cancels, unlinks, and waits until no canceller or timer borrows the node.
///
/// # Safety
/// `this` is a pinned node with its whole provenance, being dropped.
unsafe fn drop_pinned(this: NonNull<Node>) {
    // SAFETY: by the caller's guarantee.
    let node = unsafe { this.as_ref() };
    // Relaxed: set by this thread, or published by the parent's lock.
    if node.state.load(Relaxed) & LINKED_ONCE == 0 {
        return;
    }
    // SAFETY: the parent outlives the child.
    let parent = unsafe { node.parent.unwrap_unchecked().as_ref() };
    // Also when a callback's panic continues out of `cancel`: the memory goes.
    let _leave = crate::panic::Finally::new(|| {
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
/// Dropping a pinned child from an interrupt handler that preempted a `cancel` of
/// one of its ancestors would wait for that cancel forever; drop pinned children
/// in the context that owns them.
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
        pub fn new(parent: TokenRef<'a>) -> Self {
            PinnedChild {
                node: Node::with_parent(class::PINNED, parent.node),
                _parent: PhantomData,
                _pin: PhantomPinned,
            }
        }
    }

    fn linked(self: Pin<&Self>) -> (&Node, NonNull<Node>) {
        let this = NonNull::from(&self.get_ref().node);
        // SAFETY: pinned, and the parent outlives 'a.
        (unsafe { ensure_linked(this) }.0, this)
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

/// A [`PinnedChild`] with a deadline on a [`TickDriver`]: cancelled with
/// [`Reason::DeadlineExceeded`] when the driver's tick count reaches the
/// deadline. Needs no allocator; the timer entry lives in the node.
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
/// TICKS.advance(2); // e.g. from the SysTick handler
/// assert!(!token.is_cancelled());
/// TICKS.advance(1);
/// assert_eq!(token.reason(), Some(Reason::DeadlineExceeded));
/// ```
///
/// Like [`PinnedChild`], it is `Send` and `Sync`, so a future that holds one
/// across an `.await` can be spawned on a multi-threaded executor.
pub struct PinnedDeadline<'a> {
    timed: TimedNode,
    _parent: PhantomData<&'a Node>,
    _pin: PhantomPinned,
}

// SAFETY: the node is `Send` and `Sync`; the wheel entry is only touched under
// its timers' lock, and the timers it names are `Sync` (as for a heap node with
// a deadline, which a `CancelSource` sends between threads).
unsafe impl Send for PinnedDeadline<'_> {}
// SAFETY: as above.
unsafe impl Sync for PinnedDeadline<'_> {}

impl<'a> PinnedDeadline<'a> {
    /// A child of `parent` that expires at tick `at` of `driver`.
    pub fn new<const HZ: u32>(parent: TokenRef<'a>, driver: &'a TickDriver<HZ>, at: u64) -> Self {
        // SAFETY: the handle lives in the node, which `'a` keeps within the
        // driver's lifetime; it is never cloned out.
        let timers = unsafe { TimersHandle::borrowed(driver.timers()) };
        let mut timed = TimedNode::new(class::PINNED, 0, at, timers);
        timed.node.parent = Some(NonNull::from(parent.node));
        PinnedDeadline {
            timed,
            _parent: PhantomData,
            _pin: PhantomPinned,
        }
    }

    /// A child of `parent` that expires `after` from `driver`'s current tick.
    pub fn with_timeout<const HZ: u32>(
        parent: TokenRef<'a>,
        driver: &'a TickDriver<HZ>,
        after: Duration,
    ) -> Self {
        let at = driver.now().saturating_add(driver.ticks_in(after));
        Self::new(parent, driver, at)
    }

    fn linked(self: Pin<&Self>) -> (&Node, NonNull<Node>) {
        let this = NonNull::from(&self.get_ref().timed).cast::<Node>();
        // SAFETY: pinned, and the parent outlives 'a.
        let (node, first) = unsafe { ensure_linked(this) };
        if first {
            // SAFETY: the driver outlives `'a`, and so this node.
            let timers = unsafe { self.timed.timers() };
            // SAFETY: a live timed node with its whole provenance, armed once.
            unsafe {
                crate::deadline::arm(this, |t| {
                    timers.call_hook(t);
                    Ok(())
                })
            };
        }
        (node, this)
    }
}

impl Drop for PinnedDeadline<'_> {
    fn drop(&mut self) {
        // SAFETY: pinned until now, and its parent outlives it. Cancelling takes
        // the entry out of the wheel; waiting covers a timer firing right now.
        unsafe { drop_pinned(NonNull::from(&self.timed).cast()) };
    }
}

impl fmt::Debug for PinnedDeadline<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedDeadline")
            .field("reason", &self.timed.node.reason())
            .finish()
    }
}
